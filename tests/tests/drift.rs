//! Drift detection on the emulator: every rule made to fire and kept quiet, alerts read back
//! from an SQS queue subscribed to the topic, the outbox surviving a failed publish, and every
//! drift sample in `events/` fed to the real handler.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_ec2::types::VpcEndpointType;
use aws_sdk_sagemaker::types::{
    AppNetworkAccessType, AuthMode, DockerSettings, DomainSettingsForUpdate, FeatureStatus,
    UserSettings,
};
use serde_json::{Value, json};
use warden::service::Function;
use warden_tests::FaultRule;
use warden_tests::fixture::*;

async fn world_with(options: WorldOptions) -> World {
    World::with(options).await.expect("world")
}

fn options(extra: &str) -> WorldOptions {
    WorldOptions {
        baseline: Some(extra.to_owned()),
        ..WorldOptions::default()
    }
}

async fn guarded() -> World {
    world_with(options("")).await
}

async fn sweep(world: &World) -> Value {
    world
        .invoke(json!({"mode": "apply"}))
        .await
        .expect("sweep succeeds")
}

fn keys(report: &Value, field: &str) -> BTreeSet<String> {
    report["drift"][field]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn rules_of(keys: &BTreeSet<String>) -> BTreeSet<String> {
    keys.iter()
        .filter_map(|k| k.split_once('#').map(|(r, _)| r.to_owned()))
        .collect()
}

async fn update_domain(
    world: &World,
) -> aws_sdk_sagemaker::operation::update_domain::builders::UpdateDomainFluentBuilder {
    world
        .sagemaker
        .update_domain()
        .domain_id(world.domain.as_str())
}

async fn docker(world: &World, docker: DockerSettings) {
    update_domain(world)
        .await
        .domain_settings_for_update(
            DomainSettingsForUpdate::builder()
                .docker_settings(docker)
                .build(),
        )
        .send()
        .await
        .expect("UpdateDomain docker");
}

async fn default_user(world: &World, settings: UserSettings) {
    update_domain(world)
        .await
        .default_user_settings(settings)
        .send()
        .await
        .expect("UpdateDomain default user");
}

async fn set_subnets(world: &World, subnets: Vec<String>) {
    update_domain(world)
        .await
        .set_subnet_ids(Some(subnets))
        .send()
        .await
        .expect("UpdateDomain subnets");
}

async fn new_subnet(world: &World, vpc: &str, cidr: &str) -> String {
    world
        .ec2
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .send()
        .await
        .expect("CreateSubnet")
        .subnet()
        .and_then(|s| s.subnet_id())
        .expect("subnet id")
        .to_owned()
}

/// A route table associated with the first subnet; with `igw`, a default route to an
/// internet gateway.
async fn route_first_subnet(world: &World, igw: bool) {
    let table = world
        .ec2
        .create_route_table()
        .vpc_id(&world.vpc)
        .send()
        .await
        .expect("CreateRouteTable")
        .route_table()
        .and_then(|t| t.route_table_id())
        .expect("id")
        .to_owned();
    if igw {
        let gw = world
            .ec2
            .create_internet_gateway()
            .send()
            .await
            .expect("CreateInternetGateway")
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .expect("id")
            .to_owned();
        world
            .ec2
            .attach_internet_gateway()
            .internet_gateway_id(&gw)
            .vpc_id(&world.vpc)
            .send()
            .await
            .expect("AttachInternetGateway");
        world
            .ec2
            .create_route()
            .route_table_id(&table)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&gw)
            .send()
            .await
            .expect("CreateRoute");
    }
    world
        .ec2
        .associate_route_table()
        .route_table_id(&table)
        .subnet_id(&world.subnets[0])
        .send()
        .await
        .expect("AssociateRouteTable");
}

/// Jane joins ml-researchers and gets a managed profile; returns (user id, membership, profile).
async fn managed_jane(world: &World) -> (String, String, String) {
    let jane = world.add_user("jane.doe@example.com").await.expect("user");
    let membership = world.join(&jane, &world.researchers).await.expect("join");
    sweep(world).await;
    world.settle().await.expect("settle");
    let profile = world
        .record(&jane)
        .await
        .expect("ledger")
        .expect("record")
        .profile
        .to_string();
    (jane, membership, profile)
}

async fn set_profile_sgs(world: &World, profile: &str, groups: &[&str]) {
    world
        .sagemaker
        .update_user_profile()
        .domain_id(world.domain.as_str())
        .user_profile_name(profile)
        .user_settings(
            UserSettings::builder()
                .set_security_groups(Some(groups.iter().map(|g| (*g).to_owned()).collect()))
                .build(),
        )
        .send()
        .await
        .expect("UpdateUserProfile");
}

async fn hand_made(world: &World, name: &str, groups: &[&str]) {
    world
        .sagemaker
        .create_user_profile()
        .domain_id(world.domain.as_str())
        .user_profile_name(name)
        .user_settings(
            UserSettings::builder()
                .set_security_groups(Some(groups.iter().map(|g| (*g).to_owned()).collect()))
                .build(),
        )
        .send()
        .await
        .expect("CreateUserProfile");
    world.settle().await.expect("settle");
}

/// The changes that make a rule fire (`Fire`) or that come close without breaking it (`Quiet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Fire,
    Quiet,
}

/// Sets up `rule`'s case in a world and returns the world (for the options it needs).
async fn setup(rule: &str, case: Case) -> World {
    use Case::*;
    let fire = case == Fire;
    let world = match (rule, case) {
        ("domain.kms-key", Fire) => {
            world_with(WorldOptions {
                domain_kms_key: false,
                ..options("")
            })
            .await
        }
        ("domain.auth-mode", Fire) => {
            world_with(WorldOptions {
                auth_mode: AuthMode::Sso,
                ..options("")
            })
            .await
        }
        _ => guarded().await,
    };
    if rule == "profile.settings-rejected" {
        // A policy past the policy's own validation, with settings SageMaker refuses (an
        // instance type outside the model's enum); quiet: one it accepts.
        let mut world = world;
        managed_jane(&world).await;
        let mut policy = (*world.engine.policy).clone();
        for m in policy.mappings.iter_mut().filter(|m| m.priority == 10) {
            let instance = if fire {
                "ml.t3.colossal"
            } else {
                "ml.t3.large"
            };
            m.template.apps.jupyterlab_instance_type = Some(instance.into());
            m.template_hash = warden::template::template_hash(&m.template);
        }
        world.deploy(policy);
        return world;
    }
    let w = &world;
    match rule {
        "domain.network-access" => {
            let access = if fire {
                AppNetworkAccessType::PublicInternetOnly
            } else {
                AppNetworkAccessType::VpcOnly
            };
            w.set_network_access(access).await.expect("UpdateDomain");
        }
        "domain.vpc" => {
            let vpc = if fire {
                w.ec2
                    .create_vpc()
                    .cidr_block("10.9.0.0/16")
                    .send()
                    .await
                    .expect("CreateVpc")
                    .vpc()
                    .and_then(|v| v.vpc_id())
                    .expect("id")
                    .to_owned()
            } else {
                w.vpc.clone()
            };
            update_domain(w)
                .await
                .vpc_id(vpc)
                .send()
                .await
                .expect("UpdateDomain vpc");
        }
        "domain.subnets" => {
            let mut subnets = w.subnets.clone();
            if fire {
                let vpc = w.vpc.clone();
                subnets.push(new_subnet(w, &vpc, "10.0.3.0/24").await);
            } else {
                subnets.truncate(1);
            }
            set_subnets(w, subnets).await;
        }
        "domain.security-groups" => {
            let group = if fire {
                w.security_group("rogue").await.expect("sg")
            } else {
                w.lead_sg.clone()
            };
            default_user(w, UserSettings::builder().security_groups(group).build()).await;
        }
        "domain.kms-key" | "domain.auth-mode" => {}
        "domain.docker" => {
            let status = if fire {
                FeatureStatus::Enabled
            } else {
                FeatureStatus::Disabled
            };
            docker(
                w,
                DockerSettings::builder()
                    .enable_docker_access(status)
                    .build(),
            )
            .await;
        }
        "domain.trusted-accounts" => {
            let account = if fire {
                "444455556666"
            } else {
                TRUSTED_ACCOUNT
            };
            docker(
                w,
                DockerSettings::builder()
                    .vpc_only_trusted_accounts(account)
                    .build(),
            )
            .await;
        }
        "domain.execution-role" => {
            let role = if fire { LEAD_ROLE } else { RESEARCH_ROLE };
            default_user(w, UserSettings::builder().execution_role(role).build()).await;
        }
        "net.sg.open-ingress" => {
            let (port, cidr) = if fire {
                (22, "0.0.0.0/0")
            } else {
                (443, "10.0.0.0/16")
            };
            w.allow_ingress(&w.research_sg, port, cidr)
                .await
                .expect("ingress");
        }
        "net.sg.egress" => {
            let cidr = if fire { "0.0.0.0/0" } else { "10.0.5.0/24" };
            w.allow_egress(&w.research_sg, 443, cidr)
                .await
                .expect("egress");
        }
        "net.subnet.public" => route_first_subnet(w, fire).await,
        "net.endpoints" => {
            if fire {
                w.ec2
                    .delete_vpc_endpoints()
                    .vpc_endpoint_ids(&w.endpoints["sts"])
                    .send()
                    .await
                    .expect("DeleteVpcEndpoints");
            } else {
                w.ec2
                    .create_vpc_endpoint()
                    .vpc_id(&w.vpc)
                    .vpc_endpoint_type(VpcEndpointType::Gateway)
                    .service_name("com.amazonaws.us-east-1.s3")
                    .send()
                    .await
                    .expect("CreateVpcEndpoint");
            }
        }
        "profile.template" => {
            let (_, _, profile) = managed_jane(w).await;
            let groups: &[&str] = if fire {
                &[&w.lead_sg]
            } else {
                &[&w.research_sg]
            };
            set_profile_sgs(w, &profile, groups).await;
        }
        "profile.security-groups" => {
            let group = if fire {
                w.security_group("rogue").await.expect("sg")
            } else {
                w.lead_sg.clone()
            };
            hand_made(w, "made-by-hand", &[&group]).await;
        }
        "profile.status" => {
            hand_made(w, "made-by-hand", &[&w.research_sg]).await;
            if fire {
                w.emulator
                    .set_profile_status(w.domain.as_str(), "made-by-hand", "Update_Failed")
                    .await
                    .expect("status");
            }
        }
        "profile.unmanaged" => {
            if fire {
                hand_made(w, "made-by-hand", &[&w.research_sg]).await;
            } else {
                managed_jane(w).await;
            }
        }
        "profile.orphan" => {
            let (_, membership, _) = managed_jane(w).await;
            if fire {
                w.leave(&membership).await.expect("leave");
            }
        }
        "profile.offboarding-blocked" => {
            // Jane owns a shared space; she leaves (fire) or stays (quiet). Each sweep is an
            // hour on: past the grace period she is suspended, and (the world's retention is
            // 0s) the deletion that follows stops at the shared space.
            let (jane, membership, profile) = managed_jane(w).await;
            w.shared_space(&profile, "team-notebooks")
                .await
                .expect("shared space");
            if fire {
                w.leave(&membership).await.expect("leave");
                let start = now();
                for round in 0..40 {
                    w.invoke_at(json!({"mode": "apply"}), start + round * 3600)
                        .await
                        .expect("sweep");
                    let phase = w.record(&jane).await.expect("l").expect("r").phase;
                    if matches!(
                        phase,
                        warden::model::Phase::Offboarding {
                            step: warden::model::OffboardStep::Blocked,
                            ..
                        }
                    ) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
            }
        }
        other => panic!("no case for rule {other}"),
    }
    world
}

async fn check_rule(rule: &str, case: Case) {
    let world = setup(rule, case).await;
    let report = sweep(&world).await;
    assert!(
        report["drift"]["failures"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{rule}: {report:#}"
    );
    let open = rules_of(&keys(&report, "open"));
    match case {
        Case::Fire => {
            assert!(
                open.contains(rule),
                "{rule} did not fire: {:#}",
                report["drift"]
            );
            let alerts = world.read_alerts().await.expect("alerts");
            assert!(
                alerts
                    .iter()
                    .any(|a| a.attributes.get("rule").map(String::as_str) == Some(rule)),
                "{rule}: no alert: {alerts:#?}"
            );
        }
        Case::Quiet => {
            assert!(!open.contains(rule), "{rule} fired: {:#}", report["drift"]);
        }
    }
}

macro_rules! rule_tests {
    ($($fire:ident, $quiet:ident: $rule:literal;)*) => {
        $(
            #[tokio::test]
            async fn $fire() {
                check_rule($rule, Case::Fire).await;
            }

            #[tokio::test]
            async fn $quiet() {
                check_rule($rule, Case::Quiet).await;
            }
        )*

        /// Every rule of the catalogue has its pair of tests here.
        #[test]
        fn every_rule_has_a_firing_and_a_quiet_test() {
            let tested: BTreeSet<&str> = [$($rule),*].into_iter().collect();
            let all: BTreeSet<&str> = warden::drift::rules::RULES.iter().map(|r| r.id).collect();
            assert_eq!(tested, all);
        }
    };
}

rule_tests! {
    domain_network_access_fires, domain_network_access_quiet: "domain.network-access";
    domain_vpc_fires, domain_vpc_quiet: "domain.vpc";
    domain_subnets_fires, domain_subnets_quiet: "domain.subnets";
    domain_security_groups_fires, domain_security_groups_quiet: "domain.security-groups";
    domain_kms_key_fires, domain_kms_key_quiet: "domain.kms-key";
    domain_auth_mode_fires, domain_auth_mode_quiet: "domain.auth-mode";
    domain_docker_fires, domain_docker_quiet: "domain.docker";
    domain_trusted_accounts_fires, domain_trusted_accounts_quiet: "domain.trusted-accounts";
    domain_execution_role_fires, domain_execution_role_quiet: "domain.execution-role";
    net_sg_open_ingress_fires, net_sg_open_ingress_quiet: "net.sg.open-ingress";
    net_sg_egress_fires, net_sg_egress_quiet: "net.sg.egress";
    net_subnet_public_fires, net_subnet_public_quiet: "net.subnet.public";
    net_endpoints_fires, net_endpoints_quiet: "net.endpoints";
    profile_template_fires, profile_template_quiet: "profile.template";
    profile_security_groups_fires, profile_security_groups_quiet: "profile.security-groups";
    profile_status_fires, profile_status_quiet: "profile.status";
    profile_unmanaged_fires, profile_unmanaged_quiet: "profile.unmanaged";
    profile_orphan_fires, profile_orphan_quiet: "profile.orphan";
    profile_offboarding_blocked_fires, profile_offboarding_blocked_quiet: "profile.offboarding-blocked";
    profile_settings_rejected_fires, profile_settings_rejected_quiet: "profile.settings-rejected";
}

/// The world the fixture builds meets its baseline: a sweep finds nothing and alerts nothing.
#[tokio::test]
async fn a_compliant_domain_has_no_findings() {
    let world = guarded().await;
    managed_jane(&world).await;
    let report = sweep(&world).await;
    assert!(keys(&report, "open").is_empty(), "{:#}", report["drift"]);
    assert!(world.read_alerts().await.expect("alerts").is_empty());
}

fn summary(alerts: &[ReceivedAlert]) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = alerts
        .iter()
        .map(|a| {
            (
                a.attributes.get("event").cloned().unwrap_or_default(),
                a.attributes.get("rule").cloned().unwrap_or_default(),
                a.attributes.get("severity").cloned().unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The end-to-end story: a domain switched to PublicInternetOnly and a security group opened
/// to the world give exactly two alerts, once; fixing both gives exactly two resolutions.
#[tokio::test]
async fn public_domain_and_open_group_alert_once_and_resolve() {
    let world = guarded().await;
    sweep(&world).await;
    assert!(world.read_alerts().await.expect("alerts").is_empty());

    world
        .set_network_access(AppNetworkAccessType::PublicInternetOnly)
        .await
        .expect("public");
    world
        .allow_ingress(&world.research_sg, 22, "0.0.0.0/0")
        .await
        .expect("open");
    sweep(&world).await;
    let alerts = world.read_alerts().await.expect("alerts");
    for a in &alerts {
        eprintln!("--- {}\n{}\n{:?}", a.subject, a.body, a.attributes);
    }
    assert_eq!(
        summary(&alerts),
        vec![
            (
                "opened".into(),
                "domain.network-access".into(),
                "critical".into()
            ),
            (
                "opened".into(),
                "net.sg.open-ingress".into(),
                "critical".into()
            ),
        ]
    );
    for a in &alerts {
        assert!(a.subject.len() < 100, "{}", a.subject);
        assert_eq!(a.attributes.get("domain"), Some(&world.domain.to_string()));
        let doc = a.document().expect("a JSON document after the text");
        assert_eq!(doc["event"], "opened");
        assert_eq!(doc["finding"]["rule"], a.attributes["rule"].as_str());
        assert!(!a.body.starts_with('{'), "readable text first: {}", a.body);
    }
    let ingress = alerts
        .iter()
        .find(|a| a.attributes["rule"] == "net.sg.open-ingress")
        .expect("ingress alert");
    assert!(
        ingress.body.contains(&world.research_sg),
        "{}",
        ingress.body
    );
    assert!(
        ingress.body.contains("tcp/22 0.0.0.0/0"),
        "{}",
        ingress.body
    );

    // Not on every sweep.
    sweep(&world).await;
    assert!(world.read_alerts().await.expect("alerts").is_empty());

    world
        .set_network_access(AppNetworkAccessType::VpcOnly)
        .await
        .expect("private again");
    world
        .revoke_ingress(&world.research_sg, 22, "0.0.0.0/0")
        .await
        .expect("closed");
    let report = sweep(&world).await;
    assert!(keys(&report, "open").is_empty(), "{:#}", report["drift"]);
    let alerts = world.read_alerts().await.expect("alerts");
    for a in &alerts {
        eprintln!("--- {}\n{}", a.subject, a.body);
    }
    assert_eq!(
        summary(&alerts),
        vec![
            (
                "resolved".into(),
                "domain.network-access".into(),
                "critical".into()
            ),
            (
                "resolved".into(),
                "net.sg.open-ingress".into(),
                "critical".into()
            ),
        ]
    );
    // The ledger keeps the resolved findings with their history.
    let findings =
        warden::drift::ports::FindingStore::findings(&world.engine.ledger, &world.domain)
            .await
            .expect("findings");
    assert_eq!(findings.len(), 2);
    assert!(
        findings
            .iter()
            .all(|f| f.status == warden::drift::model::FindingStatus::Resolved)
    );
}

/// A failed publish stays in the outbox and is sent by the next run; nothing is dropped.
#[tokio::test]
async fn a_failed_publish_is_sent_by_the_next_run() {
    let world = guarded().await;
    world
        .emulator
        .set_faults(&[FaultRule::new("sns", "Publish").with_error(1.0)])
        .await
        .expect("faults");
    world
        .allow_ingress(&world.research_sg, 3389, "0.0.0.0/0")
        .await
        .expect("open");
    let report = sweep(&world).await;
    assert_eq!(
        report["drift"]["alerts_pending"], 1,
        "{:#}",
        report["drift"]
    );
    assert_eq!(report["drift"]["alerts_published"], 0);
    assert!(
        !report["drift"]["failures"]
            .as_array()
            .expect("failures")
            .is_empty()
    );
    assert!(world.read_alerts().await.expect("alerts").is_empty());

    world.emulator.set_faults(&[]).await.expect("no faults");
    let report = sweep(&world).await;
    assert!(keys(&report, "opened").is_empty(), "already recorded");
    assert_eq!(
        report["drift"]["alerts_published"], 1,
        "{:#}",
        report["drift"]
    );
    assert_eq!(report["drift"]["alerts_pending"], 0);
    let alerts = world.read_alerts().await.expect("alerts");
    assert_eq!(
        summary(&alerts),
        vec![(
            "opened".into(),
            "net.sg.open-ingress".into(),
            "critical".into()
        )]
    );
}

/// An open finding is alerted again after the reminder interval (1h in the world's baseline),
/// and not before.
#[tokio::test]
async fn open_findings_are_reminded_after_the_interval() {
    let world = guarded().await;
    world
        .allow_ingress(&world.research_sg, 22, "0.0.0.0/0")
        .await
        .expect("open");
    let t0 = now();
    let first = world.drift_sweep_at(t0).await;
    assert_eq!(first.opened.len(), 1, "{first:?}");
    let early = world.drift_sweep_at(t0 + 1800).await;
    assert!(early.reminded.is_empty(), "{early:?}");
    let late = world.drift_sweep_at(t0 + 3700).await;
    assert_eq!(late.reminded.len(), 1, "{late:?}");
    let alerts = world.read_alerts().await.expect("alerts");
    let events: Vec<&str> = alerts
        .iter()
        .map(|a| a.attributes["event"].as_str())
        .collect();
    assert_eq!(events, ["opened", "reminder"]);
    assert!(
        alerts[1].subject.contains("still open"),
        "{}",
        alerts[1].subject
    );
}

/// An exemption until a future date records the finding as exempt and alerts nothing; a rule
/// switched off is not checked at all.
#[tokio::test]
async fn exemptions_and_switched_off_rules_stay_silent() {
    let probe = guarded().await;
    let sg = probe.research_sg.clone();
    drop(probe);
    // Ids repeat per emulator seed, so a fresh world has the same group id.
    let extra = format!(
        "rules = {{ \"net.sg.egress\" = {{ enabled = false }}, \"domain.network-access\" = {{ severity = \"low\" }} }}\n\n[[domains.baseline.exemptions]]\nrule = \"net.sg.open-ingress\"\nresource = \"{sg}\"\nuntil = 2099-12-31\nreason = \"CHG-1: vendor demo\"\n"
    );
    let world = world_with(options(&extra)).await;
    assert_eq!(world.research_sg, sg, "moto ids are reproducible per seed");
    world
        .allow_ingress(&sg, 22, "0.0.0.0/0")
        .await
        .expect("open");
    world
        .allow_egress(&sg, 443, "0.0.0.0/0")
        .await
        .expect("egress");
    world
        .set_network_access(AppNetworkAccessType::PublicInternetOnly)
        .await
        .expect("public");
    let report = sweep(&world).await;
    let open = rules_of(&keys(&report, "open"));
    assert_eq!(
        open,
        BTreeSet::from(["domain.network-access".to_owned()]),
        "{:#}",
        report["drift"]
    );
    assert_eq!(
        keys(&report, "exempt"),
        BTreeSet::from([format!("net.sg.open-ingress#{sg}")])
    );
    let alerts = world.read_alerts().await.expect("alerts");
    assert_eq!(
        summary(&alerts),
        vec![(
            "opened".into(),
            "domain.network-access".into(),
            "low".into()
        )]
    );
}

/// Opt-in remediation restores a managed profile's security groups to its mapping's, records
/// it in the user's history, and the next sweep resolves the finding.
#[tokio::test]
async fn remediation_restores_a_managed_profile() {
    let world = world_with(options("remediate = true")).await;
    let (jane, _, profile) = managed_jane(&world).await;
    set_profile_sgs(&world, &profile, &[&world.lead_sg]).await;
    let report = sweep(&world).await;
    assert_eq!(
        keys(&report, "remediated"),
        BTreeSet::from([format!("profile.template#{profile}")]),
        "{:#}",
        report["drift"]
    );
    let described = world.describe(&profile).await.expect("describe");
    assert_eq!(
        described
            .user_settings()
            .expect("settings")
            .security_groups(),
        [world.research_sg.as_str()]
    );
    let history = world.history(&jane).await.expect("history");
    assert!(
        history
            .iter()
            .any(|h| h.action == "Remediate" && h.outcome == "ok"),
        "{history:#?}"
    );
    world.settle().await.expect("settle");
    let report = sweep(&world).await;
    assert_eq!(
        keys(&report, "resolved"),
        BTreeSet::from([format!("profile.template#{profile}")])
    );
    let alerts = world.read_alerts().await.expect("alerts");
    let opened = alerts
        .iter()
        .find(|a| a.attributes["event"] == "opened")
        .expect("opened");
    assert!(
        opened.body.contains("UpdateUserProfile restored"),
        "{}",
        opened.body
    );
}

/// Remediation is off by default: the drift is reported, the profile is left as it is.
#[tokio::test]
async fn remediation_is_off_by_default() {
    let world = guarded().await;
    let (_, _, profile) = managed_jane(&world).await;
    set_profile_sgs(&world, &profile, &[&world.lead_sg]).await;
    let report = sweep(&world).await;
    assert!(keys(&report, "remediated").is_empty());
    let described = world.describe(&profile).await.expect("describe");
    assert_eq!(
        described
            .user_settings()
            .expect("settings")
            .security_groups(),
        [world.lead_sg.as_str()]
    );
}

/// A dry-run plan shows the findings and writes nothing.
#[tokio::test]
async fn a_plan_shows_findings_and_writes_nothing() {
    let world = guarded().await;
    world
        .set_network_access(AppNetworkAccessType::PublicInternetOnly)
        .await
        .expect("public");
    let plan = world.invoke(json!({"mode": "plan"})).await.expect("plan");
    assert_eq!(plan["drift"]["mode"], "plan");
    assert_eq!(
        plan["drift"]["findings"][0]["rule"],
        "domain.network-access"
    );
    let findings =
        warden::drift::ports::FindingStore::findings(&world.engine.ledger, &world.domain)
            .await
            .expect("findings");
    assert!(findings.is_empty());
    assert!(world.read_alerts().await.expect("alerts").is_empty());
}

/// membership-sync refuses drift events: they belong to compliance-sweep.
#[tokio::test]
async fn membership_sync_refuses_drift_events() {
    let world = guarded().await;
    let event = world
        .sample("sagemaker-UpdateDomain.json", &[])
        .expect("sample");
    let refused = warden::runtime::handle_as(
        Function::MembershipSync,
        &world.engine,
        &world.guard,
        lambda_runtime::LambdaEvent::new(event.clone(), lambda_runtime::Context::default()),
    )
    .await
    .expect_err("refused");
    assert!(
        refused.to_string().contains("compliance-sweep"),
        "{refused}"
    );
    warden::runtime::handle_as(
        Function::ComplianceSweep,
        &world.engine,
        &world.guard,
        lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default()),
    )
    .await
    .expect("compliance-sweep takes it");
}

// ------------------------------------------------------------------ drift events

/// The security group ids the ec2 samples name.
const SAMPLE_SGS: &[&str] = &["sg-0a1b2c3d4e5f60718", "sg-0fedcba9876543210"];

fn sample(world: &World, file: &str) -> Value {
    let ids: Vec<(&str, &str)> = SAMPLE_SGS
        .iter()
        .map(|s| (*s, world.research_sg.as_str()))
        .collect();
    world.sample(file, &ids).expect("sample")
}

/// Feeds a sample and returns (opened, resolved) keys of the drift check it triggered.
async fn feed(world: &World, file: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let report = world
        .invoke(sample(world, file))
        .await
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(
        report["actions"].as_array().is_some_and(Vec::is_empty),
        "{report:#}"
    );
    assert!(
        report["failures"].as_array().is_some_and(Vec::is_empty),
        "{report:#}"
    );
    (keys(&report, "opened"), keys(&report, "resolved"))
}

#[tokio::test]
async fn event_update_domain_checks_the_domain() {
    let world = guarded().await;
    world
        .set_network_access(AppNetworkAccessType::PublicInternetOnly)
        .await
        .expect("public");
    let (opened, _) = feed(&world, "sagemaker-UpdateDomain.json").await;
    assert_eq!(
        opened,
        BTreeSet::from([format!("domain.network-access#{}", world.domain)])
    );
}

async fn event_on_jdoe(file: &str) {
    let world = guarded().await;
    let rogue = world.security_group("rogue").await.expect("sg");
    hand_made(&world, "jdoe", &[&rogue]).await;
    let (opened, _) = feed(&world, file).await;
    assert!(
        opened.contains("profile.security-groups#jdoe"),
        "{file}: {opened:?}"
    );
    assert!(
        opened.contains("profile.unmanaged#jdoe"),
        "{file}: {opened:?}"
    );
    // Only the profile and its groups were checked: the rogue group's open egress too.
    assert!(
        opened.contains(&format!("net.sg.egress#{rogue}")),
        "{file}: {opened:?}"
    );
    assert_eq!(opened.len(), 3, "{file}: {opened:?}");
}

#[tokio::test]
async fn event_create_user_profile_checks_the_profile() {
    event_on_jdoe("sagemaker-CreateUserProfile.json").await;
}

#[tokio::test]
async fn event_update_user_profile_checks_the_profile() {
    event_on_jdoe("sagemaker-UpdateUserProfile.json").await;
}

#[tokio::test]
async fn event_delete_user_profile_resolves_its_findings() {
    let world = guarded().await;
    hand_made(&world, "asmith", &[&world.research_sg]).await;
    let report = sweep(&world).await;
    assert!(keys(&report, "open").contains("profile.unmanaged#asmith"));
    world
        .sagemaker
        .delete_user_profile()
        .domain_id(world.domain.as_str())
        .user_profile_name("asmith")
        .send()
        .await
        .expect("DeleteUserProfile");
    for _ in 0..50 {
        if world.profiles().await.expect("profiles").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (opened, resolved) = feed(&world, "sagemaker-DeleteUserProfile.json").await;
    assert!(opened.is_empty(), "{opened:?}");
    assert_eq!(
        resolved,
        BTreeSet::from(["profile.unmanaged#asmith".to_owned()])
    );
}

async fn event_opens(file: &str, rule: &str, egress: bool) {
    let world = guarded().await;
    if egress {
        world
            .allow_egress(&world.research_sg, 443, "0.0.0.0/0")
            .await
            .expect("egress");
    } else {
        world
            .allow_ingress(&world.research_sg, 22, "0.0.0.0/0")
            .await
            .expect("ingress");
    }
    let (opened, _) = feed(&world, file).await;
    assert_eq!(
        opened,
        BTreeSet::from([format!("{rule}#{}", world.research_sg)]),
        "{file}"
    );
    let alerts = world.read_alerts().await.expect("alerts");
    assert_eq!(alerts.len(), 1, "{file}: {alerts:#?}");
}

#[tokio::test]
async fn event_authorize_ingress_checks_the_group() {
    event_opens(
        "ec2-AuthorizeSecurityGroupIngress.json",
        "net.sg.open-ingress",
        false,
    )
    .await;
}

#[tokio::test]
async fn event_authorize_ingress_by_group_name_checks_the_group() {
    event_opens(
        "ec2-AuthorizeSecurityGroupIngress-groupName-only.json",
        "net.sg.open-ingress",
        false,
    )
    .await;
}

#[tokio::test]
async fn event_modify_rules_checks_the_group() {
    event_opens(
        "ec2-ModifySecurityGroupRules.json",
        "net.sg.open-ingress",
        false,
    )
    .await;
}

#[tokio::test]
async fn event_authorize_egress_checks_the_group() {
    event_opens(
        "ec2-AuthorizeSecurityGroupEgress.json",
        "net.sg.egress",
        true,
    )
    .await;
}

async fn event_resolves(file: &str, rule: &str, egress: bool) {
    let world = guarded().await;
    let sg = world.research_sg.clone();
    if egress {
        world
            .allow_egress(&sg, 443, "0.0.0.0/0")
            .await
            .expect("egress");
    } else {
        world
            .allow_ingress(&sg, 22, "0.0.0.0/0")
            .await
            .expect("ingress");
    }
    sweep(&world).await;
    if egress {
        world
            .ec2
            .revoke_security_group_egress()
            .group_id(&sg)
            .ip_permissions(
                aws_sdk_ec2::types::IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(443)
                    .to_port(443)
                    .ip_ranges(
                        aws_sdk_ec2::types::IpRange::builder()
                            .cidr_ip("0.0.0.0/0")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("revoke egress");
    } else {
        world
            .revoke_ingress(&sg, 22, "0.0.0.0/0")
            .await
            .expect("revoke");
    }
    let (_, resolved) = feed(&world, file).await;
    assert_eq!(resolved, BTreeSet::from([format!("{rule}#{sg}")]), "{file}");
}

#[tokio::test]
async fn event_revoke_ingress_resolves() {
    event_resolves(
        "ec2-RevokeSecurityGroupIngress.json",
        "net.sg.open-ingress",
        false,
    )
    .await;
}

#[tokio::test]
async fn event_revoke_egress_resolves() {
    event_resolves("ec2-RevokeSecurityGroupEgress.json", "net.sg.egress", true).await;
}

/// An event about a group the domain neither uses nor approves checks nothing.
#[tokio::test]
async fn event_about_an_unrelated_group_checks_nothing() {
    let world = guarded().await;
    let other = world.security_group("unrelated").await.expect("sg");
    world
        .allow_ingress(&other, 22, "0.0.0.0/0")
        .await
        .expect("open");
    let event = world
        .sample(
            "ec2-AuthorizeSecurityGroupIngress.json",
            &[(SAMPLE_SGS[0], other.as_str())],
        )
        .expect("sample");
    let report = world.invoke(event).await.expect("handled");
    assert!(keys(&report, "opened").is_empty(), "{report:#}");
}

/// Every drift sample in `events/` (sagemaker-*, ec2-*) has a scenario here.
#[test]
fn every_drift_sample_has_a_scenario() {
    let source = include_str!("drift.rs");
    let dir = warden_tests::workspace_root().join("events");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("events/") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let drift = name.starts_with("sagemaker-") || name.starts_with("ec2-");
        if drift && !source.contains(&format!("\"{name}\"")) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "drift samples without a scenario: {missing:?}"
    );
}

/// A drift sweep that reaches the Lambda deadline leaves its domains to the next sweep (and
/// says so) rather than judging them in part; the next sweep finds the drift.
#[tokio::test]
async fn a_drift_sweep_at_the_deadline_leaves_the_domain_to_the_next_one() {
    let world = guarded().await;
    world
        .set_network_access(AppNetworkAccessType::PublicInternetOnly)
        .await
        .expect("drift the domain");
    let cut = world
        .drift_sweep_until(tokio::time::Instant::now() + std::time::Duration::from_secs(5))
        .await;
    assert!(cut.incomplete, "{cut:?}");
    assert!(cut.opened.is_empty() && cut.domains.is_empty(), "{cut:?}");
    let next = world
        .drift_sweep_until(tokio::time::Instant::now() + std::time::Duration::from_secs(600))
        .await;
    assert!(!next.incomplete);
    assert!(
        next.opened
            .iter()
            .any(|k| k.starts_with("domain.network-access#")),
        "{next:?}"
    );
}

fn describes(stats: &std::collections::BTreeMap<String, u64>) -> u64 {
    stats
        .get("sagemaker:DescribeUserProfile")
        .copied()
        .unwrap_or(0)
}

/// A drift sweep describes a profile only when its `LastModifiedTime` moved since the last
/// description (or the observation is over a day old): nothing changed, no DescribeUserProfile;
/// one profile changed out of band, one call, and its drift is found.
#[tokio::test]
async fn a_drift_sweep_describes_only_the_profiles_that_changed() {
    let world = guarded().await;
    let (_, _, jane) = managed_jane(&world).await;
    let rogue = world.security_group("rogue").await.expect("sg");
    hand_made(&world, "made-by-hand", &[&world.research_sg]).await;
    let first = world.drift_sweep_at(now()).await;
    assert!(first.failures.is_empty(), "{first:?}");

    let before = world.emulator.stats().await.expect("stats");
    let quiet = world.drift_sweep_at(now()).await;
    let after = world.emulator.stats().await.expect("stats");
    assert_eq!(describes(&after) - describes(&before), 0, "{quiet:?}");
    assert_eq!(
        quiet.open, first.open,
        "the cache answers as a description would"
    );
    assert!(
        quiet.opened.is_empty() && quiet.resolved.is_empty(),
        "{quiet:?}"
    );

    set_profile_sgs(&world, &jane, &[&rogue]).await;
    world.settle().await.expect("settle");
    let before = world.emulator.stats().await.expect("stats");
    let changed = world.drift_sweep_at(now()).await;
    let after = world.emulator.stats().await.expect("stats");
    assert_eq!(describes(&after) - describes(&before), 1, "{changed:?}");
    assert!(
        changed
            .opened
            .contains(&format!("profile.security-groups#{jane}")),
        "{changed:?}"
    );

    // Two days on, every observation is due again: both profiles are described.
    let before = world.emulator.stats().await.expect("stats");
    let later = world.drift_sweep_at(now() + 2 * 86_400 + 60).await;
    let after = world.emulator.stats().await.expect("stats");
    assert_eq!(describes(&after) - describes(&before), 2, "{later:?}");

    // A profile deleted out of band is forgotten and its findings resolved.
    world
        .sagemaker
        .delete_user_profile()
        .domain_id(world.domain.as_str())
        .user_profile_name(&jane)
        .send()
        .await
        .expect("DeleteUserProfile");
    world.settle().await.expect("settle");
    let gone = world.drift_sweep_at(now() + 2 * 86_400 + 120).await;
    assert!(
        gone.resolved
            .contains(&format!("profile.security-groups#{jane}")),
        "{gone:?}"
    );
}

/// A drift event while SageMaker throttles every call: the drift check's reads would outlast
/// Lambda's timeout (the SDK's retries do not know the deadline), so the handler answers
/// `Retryable.DeadlineExceeded` by its deadline and Lambda delivers the event again.
#[tokio::test]
async fn a_drift_event_answers_retryable_by_its_deadline_while_sagemaker_throttles() {
    let world = guarded().await;
    let event = sample(&world, "sagemaker-UpdateDomain.json");
    let (engine, guard) = world.lambda_like(std::time::Duration::from_secs(2));
    world
        .emulator
        .set_faults(&[warden_tests::FaultRule::new("sagemaker", "*").with_throttle(1.0)])
        .await
        .expect("faults");
    let time_left = std::time::Duration::from_secs(5);
    let started = std::time::Instant::now();
    let answer = World::invoke_within(&engine, &guard, event, time_left).await;
    let took = started.elapsed();
    eprintln!("throttled drift event answered in {took:?} (deadline {time_left:?})");
    let d: lambda_runtime::Diagnostic = answer.expect_err("nothing could be read").into();
    assert_eq!(d.error_type, "Retryable.DeadlineExceeded", "{d:?}");
    assert!(
        took < time_left + std::time::Duration::from_secs(10),
        "answered {took:?} after the start, the deadline was {time_left:?}"
    );
}
