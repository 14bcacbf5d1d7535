//! The safety net, pure: which planned deletions wait for an operator, and what the run found
//! about the policy's groups, as findings. No I/O; the engine applies it after the planner.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalogue::{MAPPING_CONFLICT, MAPPING_MISSING, MAPPING_RENAMED, MAPPING_UNRESOLVED};
use crate::desired::{MappingStatus, ResolvedMappings};
use crate::drift::model::Finding;
use crate::ids::{DomainId, UserId};
use crate::planner::Action;
use crate::policy::{Baseline, GroupRef, Policy};

/// A user whose offboarding waits for an operator, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    pub domain: DomainId,
    pub user: UserId,
    /// The action held back (`StartGrace` or `Offboard`).
    pub action: &'static str,
    pub reason: String,
}

/// Splits a domain's plan into what may run and what is held back: no grace period starts and
/// no offboarding step runs for a user `held` has a reason for. Every other action passes.
pub fn hold_back(
    domain: &DomainId,
    actions: Vec<Action>,
    held: impl Fn(&UserId) -> Option<String>,
) -> (Vec<Action>, Vec<Held>) {
    let mut run = Vec::with_capacity(actions.len());
    let mut out = Vec::new();
    for action in actions {
        let destructive = matches!(action, Action::StartGrace { .. } | Action::Offboard { .. });
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
}
