//! Desired state: what each user is entitled to, from their groups and the policy's mappings.

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::{DomainId, GroupId};
use crate::model::{Entitlement, User};
use crate::policy::{GroupRef, Policy};

/// The policy's mappings with every group reference resolved to a group id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedMappings {
    /// Mapping indices per group id.
    by_group: BTreeMap<GroupId, Vec<usize>>,
    /// Mappings whose group does not exist (a display name nobody has): logged, never fatal.
    pub unresolved: Vec<usize>,
}

impl ResolvedMappings {
    /// `resolve` answers a display name with the group's id, or `None` if no such group exists.
    pub fn new(policy: &Policy, mut resolve: impl FnMut(&GroupRef) -> Option<GroupId>) -> Self {
        let mut out = ResolvedMappings::default();
        for (i, mapping) in policy.mappings.iter().enumerate() {
            match resolve(&mapping.group) {
                Some(id) => out.by_group.entry(id).or_default().push(i),
                None => out.unresolved.push(i),
            }
        }
        out
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
