//! The safety net, pure: which planned deletions wait for an operator, and what the run found
//! about the policy's groups, as findings. No I/O; the engine applies it after the planner.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::catalogue::{
    MAPPING_CONFLICT, MAPPING_MISSING, MAPPING_RENAMED, MAPPING_UNRESOLVED, OFFBOARDING_HOLD,
};
use crate::desired::{MappingStatus, ResolvedMappings};
use crate::drift::model::Finding;
use crate::ids::{DomainId, UserId};
use crate::model::{Epoch, UserRecord};
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
    /// The version of the user's ledger record when the start was held: an approval covers
    /// the record as the operator saw it. 0 in holds written before versions were kept, which
    /// an approval then never releases (held again, never let through unseen).
    #[serde(default)]
    pub version: u64,
}

/// What the operator's approved holds let through the deletion threshold. A start is released
/// when an approved hold names the user's record at the version the record still has (the
/// operator approved what they saw), or when the user's current leaving began under an
/// approved hold ([`UserRecord::released_by`]): one approval carries a leaver through grace,
/// suspension and deletion. It never covers a later leaving: by then the record's version has
/// moved on, and being Active again cleared `released_by`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Approvals {
    /// (domain, user, record version) -> the approved hold naming them.
    entries: BTreeMap<(DomainId, UserId, u64), String>,
    approved: BTreeSet<String>,
}

impl Approvals {
    pub fn new(holds: &[Hold]) -> Self {
        let mut out = Self::default();
        for h in holds.iter().filter(|h| h.status == HoldStatus::Approved) {
            out.approved.insert(h.id.clone());
            for u in &h.users {
                out.entries
                    .entry((u.domain.clone(), u.user.clone(), u.version))
                    .or_insert_with(|| h.id.clone());
            }
        }
        out
    }

    /// The approved hold that releases the next start of this record, if any.
    pub fn release<'a>(&'a self, record: Option<&'a UserRecord>) -> Option<&'a str> {
        let r = record?;
        if let Some(hold) = r.released_by.as_deref()
            && self.approved.contains(hold)
        {
            return Some(hold);
        }
        self.entries
            .get(&(r.domain.clone(), r.user.clone(), r.version))
            .map(String::as_str)
    }
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
/// approved hold releases (`release`, see [`Approvals`]); when there are more than
/// `max_per_run` in total or in one domain, or more than `max_percent` of a domain's managed
/// profiles (and at least [`MIN_PERCENT_COUNT`]), none of them runs: they are taken out of the
/// plans and answered as held. Starts an approved hold releases always run, carrying the
/// hold's id and their reason naming it.
pub fn gate(
    plans: &mut [DomainPlan],
    is_start: impl Fn(&DomainId, &Action) -> bool,
    release: impl Fn(&DomainId, &Action) -> Option<String>,
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
            match release(&plan.domain, action) {
                Some(hold) => {
                    mark_released(action, &hold);
                    out.released.push((
                        HoldEntry {
                            domain: plan.domain.clone(),
                            user,
                            action: action.kind().to_owned(),
                            version: 0,
                        },
                        hold,
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
                    && action.user().is_some()
                    && action.released_by().is_none();
                if held && let Some(user) = action.user() {
                    out.held.push(HoldEntry {
                        domain: domain.clone(),
                        user: user.clone(),
                        action: action.kind().to_owned(),
                        version: 0,
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

/// Marks a start of a leaving as released by `hold` (its reason says so, and the record will
/// remember it), unless a hold released it already.
pub(crate) fn mark_released(action: &mut Action, hold: &str) {
    if let Action::StartGrace {
        reason,
        released_by,
        ..
    }
    | Action::Suspend {
        reason,
        released_by,
        ..
    }
    | Action::Offboard {
        reason,
        released_by,
        ..
    } = action
        && released_by.is_none()
    {
        reason.push_str(&format!(" (released by hold {hold})"));
        *released_by = Some(hold.to_owned());
    }
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
                released_by: None,
            },
            "Offboard" => Action::Offboard {
                user,
                profile,
                reason,
                released_by: None,
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

    /// A `release` for the gate: the approved (domain, user) pairs, whatever the record.
    fn by_user(
        approved: &BTreeMap<(DomainId, UserId), String>,
    ) -> impl Fn(&DomainId, &Action) -> Option<String> + '_ {
        |d, a| {
            a.user()
                .and_then(|u| approved.get(&(d.clone(), u.clone())).cloned())
        }
    }

    fn record(n: u8, version: u64, released_by: Option<&str>) -> UserRecord {
        UserRecord {
            domain: domain(),
            user: uid(n),
            user_name: format!("user-{n}"),
            profile: ResourceName::parse(&format!("user-{n}")).expect("name"),
            phase: crate::model::Phase::Active,
            group: None,
            template_hash: None,
            profile_status: None,
            attention: None,
            released_by: released_by.map(str::to_owned),
            version,
            updated_at: 0,
        }
    }

    fn hold(id: &str, status: HoldStatus, users: &[(u8, u64)]) -> Hold {
        Hold {
            id: id.to_owned(),
            status,
            reason: String::new(),
            users: users
                .iter()
                .map(|(n, version)| HoldEntry {
                    domain: domain(),
                    user: uid(*n),
                    action: "StartGrace".to_owned(),
                    version: *version,
                })
                .collect(),
            found_by: "sweep-1".to_owned(),
            created_at: 0,
            decided_at: None,
            decided_by: None,
            version: 1,
        }
    }

    /// An approval covers the record as the operator saw it, and the rest of the leaving it
    /// began; not a pending or discarded hold, not a record that has moved on since, not a
    /// later leaving.
    #[test]
    fn an_approval_covers_what_the_operator_saw_and_that_leaving_only() {
        let approvals = Approvals::new(&[
            hold("01APPROVED", HoldStatus::Approved, &[(1, 4), (2, 7)]),
            hold("01PENDING", HoldStatus::Pending, &[(3, 1)]),
            hold("01DISCARDED", HoldStatus::Discarded, &[(4, 1)]),
        ]);
        assert_eq!(
            approvals.release(Some(&record(1, 4, None))),
            Some("01APPROVED")
        );
        assert_eq!(
            approvals.release(Some(&record(2, 8, None))),
            None,
            "moved on"
        );
        assert_eq!(
            approvals.release(Some(&record(3, 1, None))),
            None,
            "pending"
        );
        assert_eq!(
            approvals.release(Some(&record(4, 1, None))),
            None,
            "discarded"
        );
        assert_eq!(approvals.release(None), None);
        // Later stages of a leaving the approval began: released whatever the version.
        assert_eq!(
            approvals.release(Some(&record(2, 12, Some("01APPROVED")))),
            Some("01APPROVED")
        );
        assert_eq!(
            approvals.release(Some(&record(5, 3, Some("01DISCARDED")))),
            None
        );
        // Holds written before versions were kept (version 0) release nothing.
        let old = Approvals::new(&[hold("01OLD", HoldStatus::Approved, &[(6, 0)])]);
        assert_eq!(old.release(Some(&record(6, 3, None))), None);
    }

    #[test]
    fn a_released_start_carries_its_hold() {
        let mut plans = vec![plan(&domain(), 1000, &[1, 2])];
        let approved = BTreeMap::from([((domain(), uid(2)), "01HOLD".to_owned())]);
        let g = gate(
            &mut plans,
            |_, a| a.kind() == "StartGrace",
            by_user(&approved),
            T,
        );
        assert_eq!(g.tripped, None);
        let carried: Vec<_> = plans[0].actions.iter().map(Action::released_by).collect();
        assert_eq!(carried, vec![None, Some("01HOLD")]);
    }

    const T: Threshold = Threshold {
        max_per_run: 10,
        max_percent: 25,
    };

    #[test]
    fn below_the_threshold_nothing_changes() {
        let mut plans = vec![plan(&domain(), 100, &[1, 2, 3])];
        let g = gate(&mut plans, |_, a| a.kind() == "StartGrace", |_, _| None, T);
        assert_eq!(g, Gate::default());
        assert_eq!(plans[0].actions.len(), 3);
    }

    #[test]
    fn above_the_count_every_start_waits_and_approved_ones_pass() {
        let starts: Vec<u8> = (1..=12).collect();
        let mut plans = vec![plan(&domain(), 1000, &starts)];
        let approved = BTreeMap::from([((domain(), uid(1)), "01HOLD".to_owned())]);
        let g = gate(
            &mut plans,
            |_, a| a.kind() == "StartGrace",
            by_user(&approved),
            T,
        );
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
        let g = gate(&mut plans, |_, a| a.kind() == "StartGrace", |_, _| None, T);
        assert!(g.tripped.is_some_and(|r| r.contains("max_percent")));
        assert!(plans[0].actions.is_empty());
        // Two of four is half the domain, but too few to count as a mass deletion.
        let mut plans = vec![plan(&domain(), 4, &[1, 2])];
        let g = gate(&mut plans, |_, a| a.kind() == "StartGrace", |_, _| None, T);
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
            let g = gate(&mut plans, |_, a| a.kind() == "StartGrace", by_user(&approved),
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
                            proptest::prop_assert_eq!(a.released_by(), Some("h"));
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
