//! The drift rules: pure functions from a baseline and a snapshot to findings. One function per
//! rule; each records which (rule, resource) pairs it looked at, so that a partial check (an
//! event about one security group) resolves only the findings it could see.

use std::collections::BTreeSet;

use super::model::{Finding, Snapshot, finding_key};
use crate::model::{Attention, ProfileStatus};
use crate::policy::Baseline;

pub use crate::catalogue::*;
pub use crate::cidr::{cidr_within, parse_cidr};

/// What one evaluation found, and which (rule, resource) pairs it looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    pub findings: Vec<Finding>,
    /// Finding keys (`rule#resource`) evaluated, broken or not.
    pub checked: BTreeSet<String>,
    /// True for a sweep: every finding of the domain not found again is resolved.
    pub full: bool,
}

impl Evaluation {
    /// Whether a previous finding with this key was in view of this evaluation.
    pub fn covers(&self, key: &str) -> bool {
        self.full || self.checked.contains(key)
    }
}

struct Ctx<'a> {
    baseline: &'a Baseline,
    out: Evaluation,
}

impl Ctx<'_> {
    /// Records that `rule` was evaluated on `resource`; `broken` carries expected, actual and
    /// a sentence when the rule is broken.
    fn check(&mut self, rule: &str, resource: &str, broken: Option<(String, String, String)>) {
        if !self.baseline.enabled(rule) {
            return;
        }
        self.out.checked.insert(finding_key(rule, resource));
        if let Some((expected, actual, message)) = broken {
            self.out.findings.push(Finding {
                rule: rule.to_owned(),
                resource: resource.to_owned(),
                severity: self.baseline.severity(rule),
                expected,
                actual,
                message,
            });
        }
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

/// Evaluates every rule the snapshot has facts for.
pub fn evaluate(baseline: &Baseline, snap: &Snapshot) -> Evaluation {
    let mut ctx = Ctx {
        baseline,
        out: Evaluation {
            full: snap.full,
            ..Evaluation::default()
        },
    };
    if snap.domain.is_some() {
        domain_network_access(&mut ctx, snap);
        domain_vpc(&mut ctx, snap);
        domain_subnets(&mut ctx, snap);
        domain_security_groups(&mut ctx, snap);
        domain_kms_key(&mut ctx, snap);
        domain_auth_mode(&mut ctx, snap);
        domain_docker(&mut ctx, snap);
        domain_trusted_accounts(&mut ctx, snap);
        domain_execution_role(&mut ctx, snap);
    }
    net_sg_open_ingress(&mut ctx, snap);
    net_sg_egress(&mut ctx, snap);
    net_subnet_public(&mut ctx, snap);
    net_endpoints(&mut ctx, snap);
    profile_template(&mut ctx, snap);
    profile_security_groups(&mut ctx, snap);
    profile_status(&mut ctx, snap);
    profile_unmanaged(&mut ctx, snap);
    profile_orphan(&mut ctx, snap);
    profile_attention(&mut ctx, snap);
    ctx.out
}

fn domain_network_access(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    let Some(d) = &snap.domain else { return };
    let want = &ctx.baseline.network_access;
    let broken = (&d.app_network_access_type != want).then(|| {
        (
            want.clone(),
            d.app_network_access_type.clone(),
            format!(
                "domain {} has AppNetworkAccessType {}, not {want}",
                d.name, d.app_network_access_type
            ),
        )
    });
    ctx.check(DOMAIN_NETWORK_ACCESS, d.id.as_str(), broken);
}

fn domain_vpc(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    let (Some(d), Some(want)) = (&snap.domain, &ctx.baseline.vpc_id) else {
        return;
    };
    let actual = d.vpc_id.clone().unwrap_or_else(|| "(none)".into());
    let broken = (&actual != want).then(|| {
        (
            want.clone(),
            actual.clone(),
            format!("domain {} is in VPC {actual}, not {want}", d.name),
        )
    });
    ctx.check(DOMAIN_VPC, d.id.as_str(), broken);
}

fn domain_subnets(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    let Some(d) = &snap.domain else { return };
    let approved = &ctx.baseline.subnets;
    if approved.is_empty() {
        return;
    }
    let bad: Vec<String> = d
        .subnet_ids
        .iter()
        .filter(|s| !approved.contains(s))
        .cloned()
        .collect();
    let broken = (!bad.is_empty()).then(|| {
        (
            format!("subnets within {}", list(approved)),
            list(&d.subnet_ids),
            format!("domain {} uses unapproved subnet(s) {}", d.name, list(&bad)),
        )
    });
    ctx.check(DOMAIN_SUBNETS, d.id.as_str(), broken);
}

fn approved_list(snap: &Snapshot) -> String {
    let v: Vec<String> = snap
        .approved_security_groups
        .iter()
        .map(|s| s.to_string())
        .collect();
    list(&v)
}

fn unapproved(snap: &Snapshot, groups: &[String]) -> Vec<String> {
    groups
        .iter()
        .filter(|g| {
            !snap
                .approved_security_groups
                .iter()
                .any(|a| a.as_str() == g.as_str())
        })
        .cloned()
        .collect()
}

fn domain_security_groups(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    let Some(d) = &snap.domain else { return };
    for (place, groups) in [
        ("domain-settings", &d.security_group_ids),
        ("default-user", &d.default_user_security_groups),
        ("default-space", &d.default_space_security_groups),
    ] {
        let bad = unapproved(snap, groups);
        let broken = (!bad.is_empty()).then(|| {
            (
                format!("security groups within {}", approved_list(snap)),
                list(groups),
                format!(
                    "domain {} ({place}) uses unapproved security group(s) {}",
                    d.name,
                    list(&bad)
                ),
            )
        });
        ctx.check(DOMAIN_SECURITY_GROUPS, &format!("{}/{place}", d.id), broken);
    }
}

/// Whether a domain's KmsKeyId is the expected key: equal, or an ARN ending in `key/<id>`
/// when the policy gives the bare id (and the other way round).
fn same_key(expected: &str, actual: &str) -> bool {
    let bare = |k: &str| k.rsplit_once("key/").map_or(k, |(_, id)| id).to_owned();
    expected == actual || bare(expected) == bare(actual)
}

fn domain_kms_key(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    let Some(d) = &snap.domain else { return };
    let expected = ctx
        .baseline
        .kms_key_id
        .clone()
        .unwrap_or_else(|| "a customer-managed KMS key".into());
    let broken = match (&d.kms_key_id, &ctx.baseline.kms_key_id) {
        (None, _) => Some(format!(
            "domain {} has no customer-managed KMS key (AWS-owned key in use)",
            d.name
        )),
        (Some(actual), Some(want)) if !same_key(want, actual) => Some(format!(
            "domain {} uses KMS key {actual}, not {want}",
            d.name
        )),
        _ => None,
    }
    .map(|m| {
        (
            expected.clone(),
            d.kms_key_id.clone().unwrap_or_else(|| "(none)".into()),
            m,
        )
    });
    ctx.check(DOMAIN_KMS_KEY, d.id.as_str(), broken);
}

fn domain_auth_mode(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    let (Some(d), Some(want)) = (&snap.domain, &ctx.baseline.auth_mode) else {
        return;
    };
    let broken = (&d.auth_mode != want).then(|| {
        (
            want.clone(),
            d.auth_mode.clone(),
            format!("domain {} has AuthMode {}, not {want}", d.name, d.auth_mode),
        )
    });
    ctx.check(DOMAIN_AUTH_MODE, d.id.as_str(), broken);
}

fn domain_docker(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    let Some(d) = &snap.domain else { return };
    if ctx.baseline.docker_access {
        return;
    }
    let actual = d.docker_access.clone().unwrap_or_else(|| "DISABLED".into());
    let broken = (actual == "ENABLED").then(|| {
        (
            "DISABLED".to_owned(),
            actual.clone(),
            format!("domain {} has Docker access enabled", d.name),
        )
    });
    ctx.check(DOMAIN_DOCKER, d.id.as_str(), broken);
}

fn domain_trusted_accounts(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    let Some(d) = &snap.domain else { return };
    let allowed = &ctx.baseline.vpc_only_trusted_accounts;
    let bad: Vec<String> = d
        .vpc_only_trusted_accounts
        .iter()
        .filter(|a| !allowed.contains(a))
        .cloned()
        .collect();
    let broken = (!bad.is_empty()).then(|| {
        (
            format!("accounts within {}", list(allowed)),
            list(&d.vpc_only_trusted_accounts),
            format!(
                "domain {} trusts account(s) {} for VpcOnly Docker images",
                d.name,
                list(&bad)
            ),
        )
    });
    ctx.check(DOMAIN_TRUSTED_ACCOUNTS, d.id.as_str(), broken);
}

fn domain_execution_role(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    let (Some(d), Some(want)) = (&snap.domain, &ctx.baseline.execution_role) else {
        return;
    };
    let actual = d
        .default_user_execution_role
        .clone()
        .unwrap_or_else(|| "(none)".into());
    let broken = (&actual != want).then(|| {
        (
            want.clone(),
            actual.clone(),
            format!("domain {} has default execution role {actual}", d.name),
        )
    });
    ctx.check(DOMAIN_EXECUTION_ROLE, d.id.as_str(), broken);
}

fn net_sg_open_ingress(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    for (id, sg) in &snap.security_groups {
        let open: Vec<String> = sg
            .iter()
            .flat_map(|sg| sg.ingress.iter())
            .filter(|r| r.peer == "0.0.0.0/0" || r.peer == "::/0")
            .map(ToString::to_string)
            .collect();
        let broken = (!open.is_empty()).then(|| {
            (
                "no ingress from 0.0.0.0/0 or ::/0".to_owned(),
                open.join(", "),
                format!(
                    "security group {id} allows ingress from the internet: {}",
                    open.join(", ")
                ),
            )
        });
        ctx.check(NET_SG_OPEN_INGRESS, id, broken);
    }
}

fn net_sg_egress(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    let Some(allowed) = ctx.baseline.allowed_egress.clone() else {
        return;
    };
    let ok = |peer: &str| {
        peer.starts_with("sg-")
            || allowed.iter().any(|a| a == peer)
            || parse_cidr(peer).is_some_and(|p| {
                allowed
                    .iter()
                    .filter_map(|a| parse_cidr(a))
                    .any(|a| cidr_within(p, a))
            })
    };
    for (id, sg) in &snap.security_groups {
        let bad: Vec<String> = sg
            .iter()
            .flat_map(|sg| sg.egress.iter())
            .filter(|r| !ok(&r.peer))
            .map(ToString::to_string)
            .collect();
        let broken = (!bad.is_empty()).then(|| {
            (
                format!("egress within {}", list(&allowed)),
                bad.join(", "),
                format!(
                    "security group {id} allows egress beyond the baseline: {}",
                    bad.join(", ")
                ),
            )
        });
        ctx.check(NET_SG_EGRESS, id, broken);
    }
}

fn net_subnet_public(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    for (id, subnet) in &snap.subnets {
        let routes: Vec<String> = subnet
            .iter()
            .flat_map(|s| s.internet_routes.iter().cloned())
            .collect();
        let broken = (!routes.is_empty()).then(|| {
            (
                "no route to an internet gateway".to_owned(),
                routes.join(", "),
                format!(
                    "subnet {id} is public: its route table sends {} to an internet gateway",
                    routes.join(", ")
                ),
            )
        });
        ctx.check(NET_SUBNET_PUBLIC, id, broken);
    }
}

fn net_endpoints(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    let (Some(endpoints), Some(vpc)) = (
        &snap.endpoints,
        snap.domain.as_ref().and_then(|d| d.vpc_id.as_ref()),
    ) else {
        return;
    };
    for service in ctx.baseline.endpoints.clone() {
        let name = format!("com.amazonaws.{}.{service}", snap.region);
        let candidates: Vec<_> = endpoints
            .iter()
            .filter(|e| {
                &e.vpc_id == vpc
                    && e.service_name == name
                    && e.endpoint_type.eq_ignore_ascii_case("interface")
                    && !matches!(
                        e.state.to_ascii_lowercase().as_str(),
                        "deleted" | "deleting" | "failed" | "rejected" | "expired"
                    )
            })
            .collect();
        let broken = if candidates.is_empty() {
            Some((
                "present".to_owned(),
                "missing".to_owned(),
                format!("VPC {vpc} has no interface endpoint for {name}"),
            ))
        } else if !candidates.iter().any(|e| e.private_dns_enabled) {
            Some((
                "private DNS enabled".to_owned(),
                format!(
                    "private DNS disabled on {}",
                    candidates
                        .iter()
                        .map(|e| e.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!("the {name} endpoint of VPC {vpc} has private DNS disabled"),
            ))
        } else {
            None
        };
        ctx.check(NET_ENDPOINTS, &format!("{vpc}/{service}"), broken);
    }
}

/// Profile rules skip profiles SageMaker is deleting; a profile looked for and gone counts
/// as checked (its findings resolve).
fn profiles<'a>(
    ctx: &mut Ctx<'_>,
    snap: &'a Snapshot,
    rule: &str,
) -> Vec<&'a super::model::ProfileDetail> {
    let mut out = Vec::new();
    for (name, detail) in &snap.profiles {
        match detail {
            Some(p) if p.status != ProfileStatus::Deleting => out.push(p),
            _ => ctx.check(rule, name.as_str(), None),
        }
    }
    out
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let a: BTreeSet<&String> = a.iter().collect();
    let b: BTreeSet<&String> = b.iter().collect();
    a == b
}

fn profile_template(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    for p in profiles(ctx, snap, PROFILE_TEMPLATE) {
        let expected = snap
            .managed
            .get(&p.name)
            .filter(|m| m.phase == "Active")
            .and_then(|m| m.template.as_ref());
        let Some(t) = expected else {
            continue;
        };
        let role = p.execution_role.clone().unwrap_or_else(|| "(none)".into());
        let role_ok = role == t.execution_role;
        let sgs_ok = same_set(&p.security_groups, &t.security_groups);
        let broken = (!role_ok || !sgs_ok).then(|| {
            let mut what = Vec::new();
            if !role_ok {
                what.push("execution role");
            }
            if !sgs_ok {
                what.push("security groups");
            }
            (
                format!(
                    "role {}, security groups {}",
                    t.execution_role,
                    list(&t.security_groups)
                ),
                format!("role {role}, security groups {}", list(&p.security_groups)),
                format!(
                    "managed profile {} has a changed {} (not its mapping's)",
                    p.name,
                    what.join(" and ")
                ),
            )
        });
        ctx.check(PROFILE_TEMPLATE, p.name.as_str(), broken);
    }
}

fn profile_security_groups(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    for p in profiles(ctx, snap, PROFILE_SECURITY_GROUPS) {
        let bad = unapproved(snap, &p.security_groups);
        let broken = (!bad.is_empty()).then(|| {
            (
                format!("security groups within {}", approved_list(snap)),
                list(&p.security_groups),
                format!(
                    "profile {} uses unapproved security group(s) {}",
                    p.name,
                    list(&bad)
                ),
            )
        });
        ctx.check(PROFILE_SECURITY_GROUPS, p.name.as_str(), broken);
    }
}

fn profile_status(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    for p in profiles(ctx, snap, PROFILE_STATUS) {
        let failed = matches!(
            p.status,
            ProfileStatus::Failed | ProfileStatus::UpdateFailed | ProfileStatus::DeleteFailed
        );
        let broken = failed.then(|| {
            (
                "InService".to_owned(),
                p.status.to_string(),
                format!("profile {} is stuck in {}", p.name, p.status),
            )
        });
        ctx.check(PROFILE_STATUS, p.name.as_str(), broken);
    }
}

fn profile_unmanaged(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    for p in profiles(ctx, snap, PROFILE_UNMANAGED) {
        let broken = (!snap.managed.contains_key(&p.name)).then(|| {
            (
                "in studio-warden's ledger".to_owned(),
                "not in the ledger".to_owned(),
                format!(
                    "profile {} was not made by studio-warden; it is left alone",
                    p.name
                ),
            )
        });
        ctx.check(PROFILE_UNMANAGED, p.name.as_str(), broken);
    }
}

fn profile_orphan(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    for p in profiles(ctx, snap, PROFILE_ORPHAN) {
        let orphan = snap.managed.get(&p.name).filter(|m| {
            matches!(
                m.phase.as_str(),
                "Grace" | "Suspending" | "Suspended" | "Offboarding"
            )
        });
        let broken = orphan.map(|m| {
            (
                "an entitled user".to_owned(),
                format!("user {} not entitled (ledger phase {})", m.user, m.phase),
                format!(
                    "profile {} belongs to user {}, who is no longer entitled ({})",
                    p.name, m.user, m.phase
                ),
            )
        });
        ctx.check(PROFILE_ORPHAN, p.name.as_str(), broken);
    }
}

/// What the ledger says only an operator can resolve (see [`Attention`]): a blocked
/// offboarding, or settings SageMaker rejected.
fn profile_attention(ctx: &mut Ctx<'_>, snap: &Snapshot) {
    for rule in [PROFILE_OFFBOARDING_BLOCKED, PROFILE_SETTINGS_REJECTED] {
        for p in profiles(ctx, snap, rule) {
            let attention = snap.managed.get(&p.name).and_then(|m| {
                let a = m.attention.as_ref()?;
                let of_rule = match a {
                    Attention::SharedSpaces { .. } | Attention::DeleteRefused => {
                        PROFILE_OFFBOARDING_BLOCKED
                    }
                    Attention::SettingsRejected { .. } => PROFILE_SETTINGS_REJECTED,
                };
                (of_rule == rule).then_some((m, a))
            });
            let broken = attention.map(|(m, a)| {
                let (expected, todo) = match a {
                    Attention::SharedSpaces { .. } => (
                        "no owned shared space",
                        "move what others need out of the spaces and delete them, or set [offboarding] shared_spaces = \"delete\"",
                    ),
                    Attention::DeleteRefused => (
                        "DeleteUserProfile accepted",
                        "look for apps or spaces of the profile that studio-warden cannot see or delete",
                    ),
                    Attention::SettingsRejected { .. } => (
                        "settings SageMaker accepts",
                        "fix the mapping's settings in the policy",
                    ),
                };
                (
                    expected.to_owned(),
                    a.to_string(),
                    format!("profile {} of user {} ({}): {a}; {todo}", p.name, m.user, m.phase),
                )
            });
            ctx.check(rule, p.name.as_str(), broken);
        }
    }
}
