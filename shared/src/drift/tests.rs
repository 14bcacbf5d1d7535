use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;

use super::findings::{AlertKind, SUBJECT_MAX, alert_message, transitions};
use super::model::*;
use super::rules::{self, Evaluation, cidr_within, evaluate, parse_cidr};
use crate::ids::{DomainId, ResourceName, SecurityGroupId, UserId};
use crate::model::DomainDescription;
use crate::model::ProfileStatus;
use crate::policy::{Baseline, Exemption, RuleSetting};

fn domain_id() -> DomainId {
    DomainId::parse("d-abc123def456").expect("id")
}

fn sg(id: &str) -> SecurityGroupId {
    SecurityGroupId::parse(id).expect("sg")
}

const SG_OK: &str = "sg-0a1b2c3d4e5f60001";
const SG_BAD: &str = "sg-0a1b2c3d4e5f60009";

fn compliant() -> Snapshot {
    let d = DomainDescription {
        id: domain_id(),
        name: "research".into(),
        status: "InService".into(),
        auth_mode: "IAM".into(),
        sso_application_arn: None,
        app_network_access_type: "VpcOnly".into(),
        vpc_id: Some("vpc-0a1b2c3d".into()),
        subnet_ids: vec!["subnet-0a1b2c3d".into()],
        security_group_ids: vec![],
        default_user_security_groups: vec![SG_OK.into()],
        default_user_execution_role: Some("arn:aws:iam::111122223333:role/r".into()),
        default_space_security_groups: vec![],
        kms_key_id: Some("arn:aws:kms:us-east-1:111122223333:key/k-1".into()),
        docker_access: Some("DISABLED".into()),
        vpc_only_trusted_accounts: vec![],
    };
    let endpoint = |svc: &str| EndpointInfo {
        id: format!("vpce-{svc}"),
        vpc_id: "vpc-0a1b2c3d".into(),
        service_name: format!("com.amazonaws.us-east-1.{svc}"),
        endpoint_type: "Interface".into(),
        state: "available".into(),
        private_dns_enabled: true,
    };
    let name = ResourceName::parse("jane-1a2b3c4d").expect("name");
    Snapshot {
        domain: Some(d),
        profiles: BTreeMap::from([(
            name.clone(),
            Some(ProfileDetail {
                name: name.clone(),
                status: ProfileStatus::InService,
                execution_role: Some("arn:aws:iam::111122223333:role/r".into()),
                security_groups: vec![SG_OK.into()],
            }),
        )]),
        security_groups: BTreeMap::from([(
            SG_OK.to_owned(),
            Some(SecurityGroupInfo {
                id: SG_OK.into(),
                vpc_id: Some("vpc-0a1b2c3d".into()),
                ingress: vec![SgRule {
                    protocol: "tcp".into(),
                    from_port: Some(443),
                    to_port: Some(443),
                    peer: "10.0.0.0/16".into(),
                }],
                egress: vec![SgRule {
                    protocol: "tcp".into(),
                    from_port: Some(443),
                    to_port: Some(443),
                    peer: "10.0.4.0/24".into(),
                }],
            }),
        )]),
        subnets: BTreeMap::from([(
            "subnet-0a1b2c3d".to_owned(),
            Some(SubnetInfo {
                id: "subnet-0a1b2c3d".into(),
                vpc_id: Some("vpc-0a1b2c3d".into()),
                route_table: Some("rtb-1".into()),
                internet_routes: vec![],
            }),
        )]),
        endpoints: Some(
            ["sagemaker.api", "sagemaker.runtime", "sts"]
                .into_iter()
                .map(endpoint)
                .collect(),
        ),
        region: "us-east-1".into(),
        managed: BTreeMap::from([(
            name,
            ManagedProfile {
                phase: "Active".into(),
                template: Some(ExpectedTemplate {
                    mapping: 0,
                    execution_role: "arn:aws:iam::111122223333:role/r".into(),
                    security_groups: vec![SG_OK.into()],
                }),
                user: UserId::parse("9067c0ffee-1111aaaa-0000-4000-8000-000000000001")
                    .expect("user"),
                attention: None,
            },
        )]),
        approved_security_groups: BTreeSet::from([sg(SG_OK)]),
        full: true,
    }
}

fn baseline() -> Baseline {
    Baseline {
        vpc_id: Some("vpc-0a1b2c3d".into()),
        subnets: vec!["subnet-0a1b2c3d".into()],
        kms_key_id: Some("k-1".into()),
        auth_mode: Some("IAM".into()),
        execution_role: Some("arn:aws:iam::111122223333:role/r".into()),
        allowed_egress: Some(vec!["10.0.0.0/16".into()]),
        ..Baseline::default()
    }
}

fn fired(snap: &Snapshot) -> BTreeSet<String> {
    evaluate(&baseline(), snap)
        .findings
        .iter()
        .map(|f| f.rule.clone())
        .collect()
}

#[test]
fn a_compliant_snapshot_breaks_no_rule_and_checks_every_one() {
    let snap = compliant();
    let eval = evaluate(&baseline(), &snap);
    assert!(eval.findings.is_empty(), "{:#?}", eval.findings);
    let checked: BTreeSet<&str> = eval
        .checked
        .iter()
        .filter_map(|k| k.split_once('#').map(|(r, _)| r))
        .collect();
    let all: BTreeSet<&str> = rules::RULES.iter().map(|r| r.id).collect();
    assert_eq!(checked, all);
}

#[test]
fn each_rule_fires_on_its_drift() {
    type Mutation = fn(&mut Snapshot);
    let cases: Vec<(&str, Mutation)> = vec![
        ("domain.network-access", |s| {
            s.domain.as_mut().expect("d").app_network_access_type = "PublicInternetOnly".into()
        }),
        ("domain.vpc", |s| {
            s.domain.as_mut().expect("d").vpc_id = Some("vpc-99999999".into())
        }),
        ("domain.subnets", |s| {
            s.domain
                .as_mut()
                .expect("d")
                .subnet_ids
                .push("subnet-99999999".into())
        }),
        ("domain.security-groups", |s| {
            s.domain.as_mut().expect("d").security_group_ids = vec![SG_BAD.into()]
        }),
        ("domain.kms-key", |s| {
            s.domain.as_mut().expect("d").kms_key_id = None
        }),
        ("domain.auth-mode", |s| {
            s.domain.as_mut().expect("d").auth_mode = "SSO".into()
        }),
        ("domain.docker", |s| {
            s.domain.as_mut().expect("d").docker_access = Some("ENABLED".into())
        }),
        ("domain.trusted-accounts", |s| {
            s.domain.as_mut().expect("d").vpc_only_trusted_accounts = vec!["444455556666".into()]
        }),
        ("domain.execution-role", |s| {
            s.domain.as_mut().expect("d").default_user_execution_role = None
        }),
        ("net.sg.open-ingress", |s| {
            if let Some(Some(g)) = s.security_groups.get_mut(SG_OK) {
                g.ingress[0].peer = "::/0".into();
            }
        }),
        ("net.sg.egress", |s| {
            if let Some(Some(g)) = s.security_groups.get_mut(SG_OK) {
                g.egress[0].peer = "10.1.0.0/24".into();
            }
        }),
        ("net.subnet.public", |s| {
            if let Some(Some(n)) = s.subnets.values_mut().next() {
                n.internet_routes = vec!["0.0.0.0/0 -> igw-1".into()];
            }
        }),
        ("net.endpoints", |s| {
            if let Some(e) = s.endpoints.as_mut() {
                e[2].private_dns_enabled = false;
            }
        }),
        ("profile.template", |s| {
            if let Some(m) = s.managed.values_mut().next()
                && let Some(t) = m.template.as_mut()
            {
                t.execution_role = "arn:aws:iam::111122223333:role/other".into();
            }
        }),
        ("profile.security-groups", |s| {
            s.approved_security_groups.clear();
            s.domain
                .as_mut()
                .expect("d")
                .default_user_security_groups
                .clear();
        }),
        ("profile.status", |s| {
            if let Some(Some(p)) = s.profiles.values_mut().next() {
                p.status = ProfileStatus::DeleteFailed;
            }
        }),
        ("profile.unmanaged", |s| s.managed.clear()),
        ("profile.orphan", |s| {
            if let Some(m) = s.managed.values_mut().next() {
                m.phase = "Grace".into();
            }
        }),
        ("profile.offboarding-blocked", |s| {
            if let Some(m) = s.managed.values_mut().next() {
                m.phase = "Offboarding".into();
                m.attention = Some(crate::model::Attention::SharedSpaces {
                    spaces: vec!["team-notebooks".into()],
                });
            }
        }),
        ("profile.settings-rejected", |s| {
            if let Some(m) = s.managed.values_mut().next() {
                m.attention = Some(crate::model::Attention::SettingsRejected {
                    template_hash: "0123456789abcdef".into(),
                    message: "ValidationException".into(),
                });
            }
        }),
    ];
    assert_eq!(cases.len(), rules::RULES.len());
    for (rule, mutate) in cases {
        let mut snap = compliant();
        mutate(&mut snap);
        let got = fired(&snap);
        assert!(got.contains(rule), "{rule}: {got:?}");
    }
}

/// Every phase of a user who lost the entitlement but still has a profile is an orphan, the
/// two stages of offboarding included; an entitled user's is not.
#[test]
fn a_profile_is_an_orphan_in_every_phase_of_offboarding() {
    use crate::model::{OffboardStep, Phase};
    let orphan = |phase: Phase| {
        let mut snap = compliant();
        if let Some(m) = snap.managed.values_mut().next() {
            m.phase = phase.name().into();
        }
        fired(&snap).contains("profile.orphan")
    };
    for phase in [
        Phase::Grace { since: 0 },
        Phase::Suspending { since: 0 },
        Phase::Suspended { at: 0 },
        Phase::Offboarding {
            since: 0,
            step: OffboardStep::DeletingSpaces,
        },
    ] {
        assert!(orphan(phase.clone()), "{phase:?}");
    }
    assert!(!orphan(Phase::Active));
}

#[test]
fn switched_off_rules_neither_fire_nor_count_as_checked() {
    let mut b = baseline();
    b.rules.insert(
        "domain.network-access".into(),
        RuleSetting {
            enabled: false,
            severity: None,
        },
    );
    let mut snap = compliant();
    snap.domain.as_mut().expect("d").app_network_access_type = "PublicInternetOnly".into();
    let eval = evaluate(&b, &snap);
    assert!(eval.findings.is_empty());
    assert!(
        !eval
            .checked
            .iter()
            .any(|k| k.starts_with("domain.network-access"))
    );
}

#[test]
fn cidrs_nest_by_family_and_prefix() {
    let c = |s| parse_cidr(s).expect(s);
    assert!(cidr_within(c("10.0.4.0/24"), c("10.0.0.0/16")));
    assert!(!cidr_within(c("10.1.0.0/24"), c("10.0.0.0/16")));
    assert!(!cidr_within(c("10.0.0.0/8"), c("10.0.0.0/16")));
    assert!(cidr_within(c("0.0.0.0/0"), c("0.0.0.0/0")));
    assert!(!cidr_within(c("::/0"), c("0.0.0.0/0")));
    assert!(cidr_within(c("2001:db8::/48"), c("2001:db8::/32")));
    assert!(parse_cidr("10.0.0.0/33").is_none());
    assert!(parse_cidr("nope").is_none());
}

fn finding(rule: &str, resource: &str) -> Finding {
    Finding {
        rule: rule.into(),
        resource: resource.into(),
        severity: Severity::Critical,
        expected: "e".into(),
        actual: "a".into(),
        message: "m".into(),
    }
}

fn eval(findings: Vec<Finding>, full: bool) -> Evaluation {
    let checked = findings.iter().map(Finding::key).collect();
    Evaluation {
        findings,
        checked,
        full,
    }
}

fn apply(previous: &mut Vec<FindingState>, ts: &[super::findings::Transition]) {
    for t in ts {
        previous.retain(|p| p.key() != t.state.key());
        previous.push(t.state.clone());
    }
}

#[test]
fn findings_alert_once_then_remind_then_resolve() {
    let b = Baseline {
        reminder: Duration::from_secs(3600),
        ..baseline()
    };
    let mut state = Vec::new();
    let f = finding("net.sg.open-ingress", SG_OK);
    let t = transitions(&domain_id(), &b, &state, &eval(vec![f.clone()], true), 100);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].alert, Some(AlertKind::Opened));
    assert_eq!(t[0].state.version, 1);
    apply(&mut state, &t);

    let t = transitions(&domain_id(), &b, &state, &eval(vec![f.clone()], true), 200);
    assert_eq!(t[0].alert, None, "no alert on every sweep");
    assert_eq!((t[0].state.first_seen, t[0].state.last_seen), (100, 200));
    apply(&mut state, &t);

    let t = transitions(&domain_id(), &b, &state, &eval(vec![f.clone()], true), 3700);
    assert_eq!(t[0].alert, Some(AlertKind::Reminder));
    apply(&mut state, &t);

    // A partial check that did not look at the group resolves nothing.
    let other = eval(vec![], false);
    assert!(transitions(&domain_id(), &b, &state, &other, 3800).is_empty());

    let t = transitions(&domain_id(), &b, &state, &eval(vec![], true), 3900);
    assert_eq!(t[0].alert, Some(AlertKind::Resolved));
    assert_eq!(t[0].state.status, FindingStatus::Resolved);
    apply(&mut state, &t);
    assert!(transitions(&domain_id(), &b, &state, &eval(vec![], true), 4000).is_empty());

    // Back again: a new alert.
    let t = transitions(&domain_id(), &b, &state, &eval(vec![f], true), 5000);
    assert_eq!(t[0].alert, Some(AlertKind::Opened));
    assert_eq!(t[0].state.first_seen, 5000);
}

#[test]
fn exempt_findings_are_silent_until_the_exemption_ends() {
    let mut b = baseline();
    b.exemptions.push(Exemption {
        rule: "net.sg.open-ingress".into(),
        resource: SG_OK.into(),
        until: 1000,
        reason: "vendor demo".into(),
    });
    let f = finding("net.sg.open-ingress", SG_OK);
    let mut state = Vec::new();
    let t = transitions(&domain_id(), &b, &state, &eval(vec![f.clone()], true), 10);
    assert_eq!(t[0].state.status, FindingStatus::Exempt);
    assert_eq!(t[0].alert, None);
    apply(&mut state, &t);
    let t = transitions(&domain_id(), &b, &state, &eval(vec![f], true), 1000);
    assert_eq!(t[0].alert, Some(AlertKind::Opened), "the exemption ended");
}

#[test]
fn alerts_carry_text_json_and_attributes() {
    let b = baseline();
    let t = transitions(
        &domain_id(),
        &b,
        &[],
        &eval(vec![finding("net.sg.open-ingress", SG_OK)], true),
        1_700_000_000,
    );
    let a = alert_message(&t[0].state, AlertKind::Opened, "research", None);
    assert!(a.subject.len() < 100);
    assert!(a.subject.contains("net.sg.open-ingress"), "{}", a.subject);
    let (text, json) = a.body.rsplit_once("\n\n").expect("text, blank line, JSON");
    assert!(text.contains("Expected:"), "{text}");
    let doc: serde_json::Value = serde_json::from_str(json).expect("json");
    assert_eq!(doc["finding"]["id"], format!("net.sg.open-ingress#{SG_OK}"));
    assert_eq!(a.attributes["severity"], "critical");
    assert_eq!(a.attributes["domain"], "d-abc123def456");
    assert_eq!(a.attributes["rule"], "net.sg.open-ingress");
    assert_eq!(a.attributes["event"], "opened");
}

proptest! {
    /// Whatever the resource and domain names, the subject is printable ASCII under 100
    /// characters, and the body ends with a JSON document.
    #[test]
    fn subjects_stay_valid_for_sns(resource in "\\PC{0,300}", name in "\\PC{0,100}") {
        let f = finding("profile.unmanaged", &resource);
        let t = transitions(&domain_id(), &baseline(), &[], &eval(vec![f], true), 0);
        for kind in [AlertKind::Opened, AlertKind::Reminder, AlertKind::Resolved] {
            let a = alert_message(&t[0].state, kind, &name, None);
            prop_assert!(a.subject.len() <= SUBJECT_MAX);
            prop_assert!(a.subject.bytes().all(|b| (0x20..0x7f).contains(&b)));
            let (_, json) = a.body.rsplit_once("\n\n").expect("json part");
            prop_assert!(serde_json::from_str::<serde_json::Value>(json).is_ok());
        }
    }

    /// Applying the transitions of the same evaluation twice changes nothing the second time
    /// and never alerts twice (until a reminder is due).
    #[test]
    fn transitions_are_idempotent(keys in proptest::collection::btree_set(0u8..20, 0..10), now in 0i64..1000) {
        let findings: Vec<Finding> = keys.iter().map(|k| finding("net.sg.open-ingress", &format!("r{k}"))).collect();
        let e = eval(findings, true);
        let mut state = Vec::new();
        let first = transitions(&domain_id(), &baseline(), &state, &e, now);
        prop_assert!(first.iter().all(|t| t.alert == Some(AlertKind::Opened)));
        apply(&mut state, &first);
        let second = transitions(&domain_id(), &baseline(), &state, &e, now + 1);
        prop_assert!(second.iter().all(|t| t.alert.is_none()));
    }
}
