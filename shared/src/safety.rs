//! The safety net, pure: which planned deletions wait for an operator, and what the run found
//! about the policy's groups, as findings. No I/O; the engine applies it after the planner.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalogue::{
    MAPPING_CONFLICT, MAPPING_MISSING, MAPPING_RENAMED, MAPPING_UNRESOLVED, OFFBOARDING_HOLD,
};
use crate::desired::{MappingStatus, ResolvedMappings};
use crate::drift::model::Finding;
use crate::ids::{DomainId, UserId};
use crate::model::Epoch;
use crate::planner::Action;
use crate::policy::{Baseline, GroupRef, MIN_PERCENT_COUNT, Policy};

/// A user whose offboarding waits for an operator, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    pub domain: DomainId,
    pub user: UserId,
    /// The action held back (`StartGrace` or `Offboard`).
    pub action: &'static str,
    pub reason: String,
}

/// Splits a domain's plan into what may run and what is held back: no grace period starts, no
/// suspension and no deletion runs for a user `held` has a reason for. Every other action passes.
pub fn hold_back(
    domain: &DomainId,
    actions: Vec<Action>,
    held: impl Fn(&UserId) -> Option<String>,
) -> (Vec<Action>, Vec<Held>) {
    let mut run = Vec::with_capacity(actions.len());
    let mut out = Vec::new();
    for action in actions {
        let destructive = matches!(
            action,
            Action::StartGrace { .. } | Action::Suspend { .. } | Action::Offboard { .. }
        );
        match action
            .user()
            .filter(|_| destructive)
            .and_then(|u| held(u).map(|r| (u.clone(), r)))
        {
            Some((user, reason)) => out.push(Held {
                domain: domain.clone(),
                user,
                action: action.kind(),
                reason,
            }),
            None => run.push(action),
        }
    }
    (run, out)
}

/// The resource a mapping's findings are about: the group as the policy names it.
pub fn mapping_resource(group: &GroupRef) -> String {
    match group {
        GroupRef::DisplayName(name) => name.clone(),
        GroupRef::Id(id) => id.to_string(),
    }
}

/// The findings about the groups of the mappings of one domain (by name): renamed, missing,
/// unresolved or conflicting groups. Every mapping of the domain is looked at.
pub fn mapping_findings(
    policy: &Policy,
    resolved: &ResolvedMappings,
    domain: &str,
    baseline: &Baseline,
) -> Vec<Finding> {
    let mut out: BTreeMap<String, Finding> = BTreeMap::new();
    for (i, m) in policy.mappings.iter().enumerate() {
        if m.domain != domain {
            continue;
        }
        let Some(status) = resolved.status.get(&i) else {
            continue;
        };
        let resource = mapping_resource(&m.group);
        let named = match &m.group {
            GroupRef::DisplayName(name) => format!("{name:?}"),
            GroupRef::Id(id) => format!("id {id}"),
        };
        let (rule, expected, actual, message) = match status {
            MappingStatus::Resolved { .. } => continue,
            MappingStatus::Renamed { group, now } => (
                MAPPING_RENAMED,
                format!("group {group} named {named}"),
                format!("named {now:?}"),
                format!(
                    "group renamed: mapping {i} names group {named}, pinned to {group}, which is now named {now:?}; studio-warden keeps using it by id: update the policy"
                ),
            ),
            MappingStatus::Missing { group } => (
                MAPPING_MISSING,
                format!("group {group} exists"),
                "deleted".to_owned(),
                format!(
                    "group deleted: mapping {i} ({named}) means group {group}, which no longer exists; its members are held (no grace period, no offboarding) until the policy changes"
                ),
            ),
            MappingStatus::Unresolved => (
                MAPPING_UNRESOLVED,
                format!("a group named {named}"),
                "no such group".to_owned(),
                format!(
                    "mapping {i} names group {named}, which does not exist and was never pinned; it grants nothing, and leavers of the domain whose group is unknown are held"
                ),
            ),
            MappingStatus::Conflict { pinned, other } => (
                MAPPING_CONFLICT,
                format!("{named} is group {pinned}"),
                format!("{named} is group {other}"),
                format!(
                    "group conflict: mapping {i}'s name {named} was pinned to group {pinned} but now belongs to group {other}; the members of neither are offboarded until an operator decides (delete the pin or fix the policy)"
                ),
            ),
        };
        if !baseline.enabled(rule) {
            continue;
        }
        let f = Finding {
            rule: rule.to_owned(),
            resource,
            severity: baseline.severity(rule),
            expected,
            actual,
            message,
        };
        out.entry(f.key()).or_insert(f);
    }
    out.into_values().collect()
}

/// Whether a hold waits for an operator, and what became of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldStatus {
    /// Waiting for an operator; its users' grace periods and offboardings do not start.
    Pending,
    /// Released by an operator: its users' starts pass the threshold.
    Approved,
    /// Dropped by an operator (who fixed the cause); a run that still finds too many starts
    /// records a new hold.
    Discarded,
    /// The situation resolved itself: none of its users would start any more.
    Expired,
}

/// One held start: a user whose grace period (`StartGrace`) or offboarding (`Offboard`)
/// waits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HoldEntry {
    pub domain: DomainId,
    pub user: UserId,
    pub action: String,
}

/// Too many grace periods or offboardings in one run, held for an operator: approved with
/// `{"mode":"approve","hold":"<id>"}`, dropped with `{"mode":"discard","hold":"<id>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub id: String,
    pub status: HoldStatus,
    pub reason: String,
    pub users: Vec<HoldEntry>,
    /// The run that found it (a sweep or event id).
    pub found_by: String,
    pub created_at: Epoch,
    pub decided_at: Option<Epoch>,
    /// The invocation that approved or discarded it, or the run that found it expired.
    pub decided_by: Option<String>,
    pub version: u64,
}

/// What a run answers about the hold it recorded (or, in plan mode, would record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldReport {
    /// The pending hold's id; `None` in plan mode before any hold exists.
    pub id: Option<String>,
    pub reason: String,
    pub users: Vec<HoldEntry>,
}

/// The deletion threshold (`[offboarding] max_per_run`, `max_percent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub max_per_run: u32,
    pub max_percent: u32,
}

/// One domain's plan, for the gate.
#[derive(Debug)]
pub struct DomainPlan {
    pub domain: DomainId,
    /// Profiles the ledger manages in the domain (records not offboarded).
    pub managed: usize,
    pub actions: Vec<Action>,
}

/// What the gate decided.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Gate {
    /// Why the threshold tripped, if it did.
    pub tripped: Option<String>,
    /// The starts taken out of the plans because it tripped.
    pub held: Vec<HoldEntry>,
    /// Starts an approved hold let through, with the hold's id.
    pub released: Vec<(HoldEntry, String)>,
}

/// The deletion threshold. Counts, per domain and in total, the starts (`is_start`) that no
/// approved hold covers; when there are more than `max_per_run` in total or in one domain,
/// or more than `max_percent` of a domain's managed profiles (and at least
/// [`MIN_PERCENT_COUNT`]), none of them runs: they are taken out of the plans and answered
/// as held. Starts an approved hold covers always run, their reason naming the hold.
pub fn gate(
    plans: &mut [DomainPlan],
    is_start: impl Fn(&DomainId, &Action) -> bool,
    approved: &BTreeMap<(DomainId, UserId), String>,
    threshold: Threshold,
) -> Gate {
    let mut out = Gate::default();
    let mut counts: Vec<(usize, usize)> = Vec::with_capacity(plans.len());
    for plan in plans.iter_mut() {
        let mut n = 0;
        for action in plan.actions.iter_mut() {
            if !is_start(&plan.domain, action) {
                continue;
            }
            let Some(user) = action.user().cloned() else {
                continue;
            };
            match approved.get(&(plan.domain.clone(), user.clone())) {
                Some(hold) => {
                    if let Action::StartGrace { reason, .. }
                    | Action::Suspend { reason, .. }
                    | Action::Offboard { reason, .. } = action
                    {
                        reason.push_str(&format!(" (released by hold {hold})"));
                    }
                    out.released.push((
                        HoldEntry {
                            domain: plan.domain.clone(),
                            user,
                            action: action.kind().to_owned(),
                        },
                        hold.clone(),
                    ));
                }
                None => n += 1,
            }
        }
        counts.push((n, plan.managed));
    }
    let total: usize = counts.iter().map(|(n, _)| n).sum();
    let max = threshold.max_per_run as usize;
    let over_percent = |(n, managed): &(usize, usize)| {
        *n >= MIN_PERCENT_COUNT
            && threshold.max_percent < 100
            && n.saturating_mul(100) > managed.saturating_mul(threshold.max_percent as usize)
    };
    out.tripped = if total > max {
        Some(format!(
            "{total} grace periods or offboardings would start in one run, more than max_per_run = {max}"
        ))
    } else {
        plans.iter().zip(&counts).find(|(_, c)| over_percent(c)).map(|(p, (n, managed))| {
            format!(
                "{n} of the {managed} managed profiles of domain {} would start a grace period or an offboarding in one run, more than max_percent = {}%",
                p.domain, threshold.max_percent
            )
        })
    };
    if out.tripped.is_some() {
        for plan in plans.iter_mut() {
            let domain = plan.domain.clone();
            plan.actions.retain(|action| {
                let held = is_start(&domain, action)
                    && action
                        .user()
                        .is_some_and(|u| !approved.contains_key(&(domain.clone(), u.clone())));
                if held && let Some(user) = action.user() {
                    out.held.push(HoldEntry {
                        domain: domain.clone(),
                        user: user.clone(),
                        action: action.kind().to_owned(),
                    });
                }
                !held
            });
        }
        out.held.sort();
    }
    out
}

/// The finding a pending hold raises in one of its domains (none if it holds nobody there or
/// was not recorded).
pub fn hold_finding(hold: &HoldReport, domain: &DomainId, baseline: &Baseline) -> Option<Finding> {
    let id = hold.id.as_ref()?;
    let here = hold.users.iter().filter(|u| u.domain == *domain).count();
    if here == 0 || !baseline.enabled(OFFBOARDING_HOLD) {
        return None;
    }
    Some(Finding {
        rule: OFFBOARDING_HOLD.to_owned(),
        resource: id.clone(),
        severity: baseline.severity(OFFBOARDING_HOLD),
        expected: "no deletion waiting for an operator".to_owned(),
        actual: format!("{} held ({here} in this domain)", hold.users.len()),
        message: format!(
            "{} grace period(s) or offboarding(s) held ({here} in this domain): {}. Approve with {{\"mode\":\"approve\",\"hold\":\"{id}\"}} to compliance-sweep, or fix the cause and discard with {{\"mode\":\"discard\",\"hold\":\"{id}\"}}",
            hold.users.len(),
            hold.reason
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{GroupId, ResourceName};

    fn uid(n: u8) -> UserId {
        UserId::parse(&format!("9067c0ffee-{n:08x}-0000-4000-8000-000000000001")).expect("id")
    }

    fn gid(n: u8) -> GroupId {
        GroupId::parse(&format!("9067c0ffee-{n:08x}-0000-4000-8000-0000000000aa")).expect("id")
    }

    fn domain() -> DomainId {
        DomainId::parse("d-abc123def456").expect("id")
    }

    fn action(kind: &str, n: u8) -> Action {
        let user = uid(n);
        let profile = ResourceName::parse(&format!("user-{n}")).expect("name");
        let reason = String::new();
        match kind {
            "StartGrace" => Action::StartGrace {
                user,
                profile,
                reason,
            },
            "Offboard" => Action::Offboard {
                user,
                profile,
                reason,
            },
            _ => Action::Forget {
                user,
                profile,
                reason,
            },
        }
    }

    #[test]
    fn only_destructive_actions_of_held_users_wait() {
        let actions = vec![
            action("StartGrace", 1),
            action("Offboard", 2),
            action("Forget", 1),
            action("StartGrace", 3),
        ];
        let held_users = [uid(1), uid(2)];
        let (run, held) = hold_back(&domain(), actions, |u| {
            held_users.contains(u).then(|| "held: test".to_owned())
        });
        let kinds: Vec<(&str, Option<&UserId>)> =
            run.iter().map(|a| (a.kind(), a.user())).collect();
        assert_eq!(
            kinds,
            vec![("Forget", Some(&uid(1))), ("StartGrace", Some(&uid(3)))]
        );
        assert_eq!(
            held.iter().map(|h| (h.action, &h.user)).collect::<Vec<_>>(),
            vec![("StartGrace", &uid(1)), ("Offboard", &uid(2))]
        );
    }

    const POLICY: &str = r#"
[identity_store]
id = "d-9067c0ffee"

[[domains]]
name = "research"
id = "d-abc123def456"

[[mappings]]
group = "ml-researchers"
domain = "research"
priority = 10
execution_role = "arn:aws:iam::123456789012:role/r"

[[mappings]]
group = "ml-leads"
domain = "research"
priority = 20
execution_role = "arn:aws:iam::123456789012:role/r"
"#;

    fn policy() -> Policy {
        Policy::parse(POLICY, "test", &BTreeMap::new()).expect("valid")
    }

    #[test]
    fn each_group_in_doubt_is_one_finding_and_held_users_are_named() {
        let policy = policy();
        let resolved = ResolvedMappings::from_status(&policy, |g| match g {
            GroupRef::DisplayName(n) if n == "ml-researchers" => MappingStatus::Renamed {
                group: gid(1),
                now: "ml-research".into(),
            },
            _ => MappingStatus::Missing { group: gid(2) },
        });
        let found = mapping_findings(&policy, &resolved, "research", &Baseline::default());
        let rules: Vec<(&str, &str)> = found
            .iter()
            .map(|f| (f.rule.as_str(), f.resource.as_str()))
            .collect();
        assert_eq!(
            rules,
            vec![
                ("mapping.missing", "ml-leads"),
                ("mapping.renamed", "ml-researchers")
            ]
        );
        // A renamed group still entitles; a missing one holds its members.
        assert_eq!(
            resolved.held(&policy, "research", Some(&gid(1))),
            None,
            "renamed: not held"
        );
        assert!(
            resolved
                .held(&policy, "research", Some(&gid(2)))
                .is_some_and(|r| r.contains("missing")),
        );
        // A user whose group nobody resolves, in a domain with a missing mapping: held.
        assert!(resolved.held(&policy, "research", None).is_some());
        assert!(resolved.held(&policy, "elsewhere", Some(&gid(2))).is_none());
    }

    #[test]
    fn a_resolved_policy_holds_nobody_and_finds_nothing() {
        let policy = policy();
        let resolved = ResolvedMappings::from_status(&policy, |g| match g {
            GroupRef::DisplayName(n) if n == "ml-researchers" => {
                MappingStatus::Resolved { group: gid(1) }
            }
            _ => MappingStatus::Resolved { group: gid(2) },
        });
        assert!(mapping_findings(&policy, &resolved, "research", &Baseline::default()).is_empty());
        assert_eq!(resolved.held(&policy, "research", Some(&gid(9))), None);
        assert_eq!(resolved.held(&policy, "research", None), None);
    }

    fn plan(domain: &DomainId, managed: usize, starts: &[u8]) -> DomainPlan {
        DomainPlan {
            domain: domain.clone(),
            managed,
            actions: starts.iter().map(|n| action("StartGrace", *n)).collect(),
        }
    }

    const T: Threshold = Threshold {
        max_per_run: 10,
        max_percent: 25,
    };

    #[test]
    fn below_the_threshold_nothing_changes() {
        let mut plans = vec![plan(&domain(), 100, &[1, 2, 3])];
        let g = gate(
            &mut plans,
            |_, a| a.kind() == "StartGrace",
            &BTreeMap::new(),
            T,
        );
        assert_eq!(g, Gate::default());
        assert_eq!(plans[0].actions.len(), 3);
    }

    #[test]
    fn above_the_count_every_start_waits_and_approved_ones_pass() {
        let starts: Vec<u8> = (1..=12).collect();
        let mut plans = vec![plan(&domain(), 1000, &starts)];
        let approved = BTreeMap::from([((domain(), uid(1)), "01HOLD".to_owned())]);
        let g = gate(&mut plans, |_, a| a.kind() == "StartGrace", &approved, T);
        assert!(g.tripped.is_some_and(|r| r.contains("max_per_run")));
        assert_eq!(g.held.len(), 11);
        assert_eq!(plans[0].actions.len(), 1, "only the approved start runs");
        assert!(
            matches!(&plans[0].actions[0], Action::StartGrace { reason, .. } if reason.contains("released by hold 01HOLD"))
        );
        assert_eq!(g.released.len(), 1);
    }

    #[test]
    fn a_large_share_of_a_small_domain_trips_the_percentage() {
        let mut plans = vec![plan(&domain(), 8, &[1, 2, 3])];
        let g = gate(
            &mut plans,
            |_, a| a.kind() == "StartGrace",
            &BTreeMap::new(),
            T,
        );
        assert!(g.tripped.is_some_and(|r| r.contains("max_percent")));
        assert!(plans[0].actions.is_empty());
        // Two of four is half the domain, but too few to count as a mass deletion.
        let mut plans = vec![plan(&domain(), 4, &[1, 2])];
        let g = gate(
            &mut plans,
            |_, a| a.kind() == "StartGrace",
            &BTreeMap::new(),
            T,
        );
        assert_eq!(g.tripped, None);
    }

    proptest::proptest! {
        /// Whatever the plans: when the gate trips, no unapproved start runs; when it does not,
        /// nothing is taken out; nothing but starts is ever taken out.
        #[test]
        fn the_gate_never_lets_a_mass_deletion_through(
            domains in proptest::collection::vec((0usize..40, proptest::collection::vec(0u8..60, 0..30)), 1..4),
            approved_users in proptest::collection::btree_set(0u8..60, 0..10),
            max_per_run in 0u32..20,
            max_percent in 1u32..=100,
        ) {
            let ids: Vec<DomainId> = (0..domains.len())
                .map(|i| DomainId::parse(&format!("d-abc123def45{i}")).expect("id"))
                .collect();
            let mut plans: Vec<DomainPlan> = domains.iter().zip(&ids).map(|((managed, users), d)| {
                let mut actions: Vec<Action> = users.iter().map(|n| action("StartGrace", *n)).collect();
                actions.push(action("Forget", 200));
                DomainPlan { domain: d.clone(), managed: *managed, actions }
            }).collect();
            let approved: BTreeMap<(DomainId, UserId), String> = ids.iter()
                .flat_map(|d| approved_users.iter().map(move |n| ((d.clone(), uid(*n)), "h".to_owned())))
                .collect();
            let before: usize = plans.iter().map(|p| p.actions.len()).sum();
            let g = gate(&mut plans, |_, a| a.kind() == "StartGrace", &approved,
                Threshold { max_per_run, max_percent });
            let after: usize = plans.iter().map(|p| p.actions.len()).sum();
            proptest::prop_assert_eq!(before - after, g.held.len());
            proptest::prop_assert!(plans.iter().all(|p| p.actions.iter().any(|a| a.kind() == "Forget")));
            if g.tripped.is_some() {
                for p in &plans {
                    for a in &p.actions {
                        if a.kind() == "StartGrace" {
                            let u = a.user().cloned().expect("user");
                            proptest::prop_assert!(approved.contains_key(&(p.domain.clone(), u)));
                        }
                    }
                }
            } else {
                proptest::prop_assert!(g.held.is_empty());
                let unapproved = before - plans.len() - g.released.len();
                proptest::prop_assert!(unapproved <= max_per_run as usize);
            }
        }
    }
}
