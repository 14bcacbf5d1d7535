//! Desired state: what each user is entitled to, from their groups and the policy's mappings.

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::{DomainId, GroupId};
use crate::model::{Entitlement, User};
use crate::policy::{GroupRef, Policy};

/// What became of a mapping's group in this run's resolution.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MappingStatus {
    /// The group exists and is the one the mapping means.
    Resolved { group: GroupId },
    /// The group the display name was pinned to has another display name now: it is still the
    /// group the mapping means (by id), and the policy should say its new name.
    Renamed { group: GroupId, now: String },
    /// The group the mapping means no longer exists (deleted; or a `group_id` nobody has).
    Missing { group: GroupId },
    /// No group has the display name, and none was ever pinned for it.
    Unresolved,
    /// The display name now belongs to another group than the one it was pinned to.
    Conflict { pinned: GroupId, other: GroupId },
}

impl MappingStatus {
    /// The group whose members the mapping entitles, if any.
    pub fn group(&self) -> Option<&GroupId> {
        match self {
            MappingStatus::Resolved { group } | MappingStatus::Renamed { group, .. } => Some(group),
            // A conflict changes nothing for the pinned group's members.
            MappingStatus::Conflict { pinned, .. } => Some(pinned),
            MappingStatus::Missing { .. } | MappingStatus::Unresolved => None,
        }
    }

    /// The groups whose members are held (no grace period, no offboarding) because of this
    /// mapping: an operator must decide.
    pub fn held_groups(&self) -> Vec<&GroupId> {
        match self {
            MappingStatus::Missing { group } => vec![group],
            MappingStatus::Conflict { pinned, other } => vec![pinned, other],
            MappingStatus::Resolved { .. }
            | MappingStatus::Renamed { .. }
            | MappingStatus::Unresolved => vec![],
        }
    }

    /// Whether the mapping's group is in doubt (everything but resolved or renamed).
    pub fn in_doubt(&self) -> bool {
        !matches!(
            self,
            MappingStatus::Resolved { .. } | MappingStatus::Renamed { .. }
        )
    }
}

/// The policy's mappings with every group reference resolved to a group id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedMappings {
    /// Mapping indices per group id.
    by_group: BTreeMap<GroupId, Vec<usize>>,
    /// Mappings whose group does not exist (a display name nobody has).
    pub unresolved: Vec<usize>,
    /// Each mapping's status, by mapping index.
    pub status: BTreeMap<usize, MappingStatus>,
}

impl ResolvedMappings {
    /// `resolve` answers a display name with the group's id, or `None` if no such group exists.
    pub fn new(policy: &Policy, mut resolve: impl FnMut(&GroupRef) -> Option<GroupId>) -> Self {
        Self::from_status(policy, |g| match resolve(g) {
            Some(group) => MappingStatus::Resolved { group },
            None => MappingStatus::Unresolved,
        })
    }

    /// From each group reference's status.
    pub fn from_status(
        policy: &Policy,
        mut status: impl FnMut(&GroupRef) -> MappingStatus,
    ) -> Self {
        let mut out = ResolvedMappings::default();
        for (i, mapping) in policy.mappings.iter().enumerate() {
            let st = status(&mapping.group);
            match st.group() {
                Some(id) => out.by_group.entry(id.clone()).or_default().push(i),
                None => out.unresolved.push(i),
            }
            out.status.insert(i, st);
        }
        out
    }

    /// From each mapping's status by mapping index, as another run resolved them (a fan-out
    /// sweep's work item carries the coordinator's resolution to its workers). A mapping
    /// `statuses` does not name is unresolved: it grants nothing, and holds the domain's
    /// leavers whose group is unknown.
    pub fn from_statuses(policy: &Policy, statuses: &BTreeMap<usize, MappingStatus>) -> Self {
        let mut out = ResolvedMappings::default();
        for i in 0..policy.mappings.len() {
            let st = statuses
                .get(&i)
                .cloned()
                .unwrap_or(MappingStatus::Unresolved);
            match st.group() {
                Some(id) => out.by_group.entry(id.clone()).or_default().push(i),
                None => out.unresolved.push(i),
            }
            out.status.insert(i, st);
        }
        out
    }

    /// Why a user who is not entitled to `domain` (by name) any more must not be offboarded
    /// now, if they must not: the group their profile came from is in doubt (deleted,
    /// conflicting), or the domain has a mapping whose group cannot be resolved at all and
    /// the user's group is not one this run resolved (a record from before pinning, or a
    /// renamed group that was never pinned).
    pub fn held(&self, policy: &Policy, domain: &str, group: Option<&GroupId>) -> Option<String> {
        let doubtful = |i: &usize| policy.mappings.get(*i).is_some_and(|m| m.domain == domain);
        for (i, st) in self.status.iter().filter(|(i, _)| doubtful(i)) {
            let label = policy
                .mappings
                .get(*i)
                .map(|m| m.group.to_string())
                .unwrap_or_default();
            if group.is_some_and(|g| st.held_groups().contains(&g)) {
                return Some(format!("held: mapping {i} ({label}) is {}", describe(st)));
            }
        }
        let known = group.is_some_and(|g| self.by_group.contains_key(g));
        if !known
            && let Some((i, st)) =
                self.status
                    .iter()
                    .filter(|(i, _)| doubtful(i))
                    .find(|(_, st)| {
                        matches!(
                            st,
                            MappingStatus::Unresolved | MappingStatus::Missing { .. }
                        )
                    })
        {
            let label = policy
                .mappings
                .get(*i)
                .map(|m| m.group.to_string())
                .unwrap_or_default();
            return Some(format!("held: mapping {i} ({label}) is {}", describe(st)));
        }
        None
    }

    /// Every group some mapping names, in a stable order.
    pub fn groups(&self) -> impl Iterator<Item = &GroupId> {
        self.by_group.keys()
    }

    pub fn is_mapped(&self, group: &GroupId) -> bool {
        self.by_group.contains_key(group)
    }

    /// The mapped groups that send users to the given domain.
    pub fn groups_for_domain<'a>(
        &'a self,
        policy: &'a Policy,
        domain: &'a str,
    ) -> impl Iterator<Item = &'a GroupId> + 'a {
        self.by_group
            .iter()
            .filter(move |(_, idx)| idx.iter().any(|i| policy.mappings[*i].domain == domain))
            .map(|(g, _)| g)
    }
}

fn describe(st: &MappingStatus) -> String {
    match st {
        MappingStatus::Resolved { .. } => "resolved".into(),
        MappingStatus::Renamed { now, .. } => format!("renamed to {now:?}"),
        MappingStatus::Missing { group } => format!("missing: group {group} no longer exists"),
        MappingStatus::Unresolved => "unresolved: no group has its display name".into(),
        MappingStatus::Conflict { pinned, other } => format!(
            "in conflict: its display name now belongs to group {other}, not the pinned {pinned}"
        ),
    }
}

/// What `user`, member of `groups`, is entitled to: per domain id, the highest-priority
/// mapping among the user's groups. A disabled user is entitled to nothing.
pub fn entitlements(
    policy: &Policy,
    resolved: &ResolvedMappings,
    user: &User,
    groups: &BTreeSet<GroupId>,
) -> BTreeMap<DomainId, Entitlement> {
    if !user.enabled {
        return BTreeMap::new();
    }
    // First the winner per domain (mapping index and the group that brought it), then one
    // Entitlement per domain: the template is cloned once per user and domain, not once per
    // better mapping found on the way.
    let mut best: BTreeMap<&DomainId, (usize, &GroupId)> = BTreeMap::new();
    for group in groups {
        let Some(indices) = resolved.by_group.get(group) else {
            continue;
        };
        for &i in indices {
            let mapping = &policy.mappings[i];
            let Some(domain) = policy.domain(&mapping.domain) else {
                continue;
            };
            let better = best
                .get(&domain.id)
                .is_none_or(|&(current, _)| policy.mappings[current].priority < mapping.priority);
            if better {
                best.insert(&domain.id, (i, group));
            }
        }
    }
    best.into_iter()
        .map(|(domain, (i, group))| {
            let mapping = &policy.mappings[i];
            let entitlement = Entitlement {
                user: user.id.clone(),
                user_name: user.user_name.clone(),
                mapping: i,
                group: group.clone(),
                group_label: mapping.group.to_string(),
                template: mapping.template.clone(),
                template_hash: mapping.template_hash.clone(),
            };
            (domain.clone(), entitlement)
        })
        .collect()
}
