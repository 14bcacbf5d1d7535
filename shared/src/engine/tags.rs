//! Tags: `UpdateUserProfile` takes none, so a mapping's tags reach an existing profile through
//! `AddTags` and `DeleteTags`, on the keys the policy's mappings own.

use std::collections::{BTreeMap, BTreeSet};

use super::{Engine, Store};
use crate::error::Result;
use crate::ids::{DomainId, ResourceName};
use crate::policy::RESERVED_TAG_PREFIX;
use crate::ports::{Directory, ProfileSpec, Studio};

impl<D: Directory, S: Studio, L: Store> Engine<D, S, L> {
    /// Brings a profile's tags to the spec's: the mapping's tags are added or overwritten, and
    /// a key that some mapping of the policy sets but this user's mapping does not is removed.
    /// studio-warden's own keys are never touched after creation, nor `aws:` keys, nor keys
    /// no mapping names (somebody else's tags).
    pub(super) async fn reconcile_tags(
        &self,
        domain: &DomainId,
        profile: &ResourceName,
        spec: &ProfileSpec,
    ) -> Result<()> {
        let Some(current) = self.studio.profile_tags(domain, profile).await? else {
            return Ok(());
        };
        let owned: BTreeSet<&str> = self
            .policy
            .mappings
            .iter()
            .flat_map(|m| m.template.tags.keys().map(String::as_str))
            .collect();
        let (add, remove) = tag_changes(&current, &spec.tags, &owned);
        if !(add.is_empty() && remove.is_empty()) {
            tracing::info!(domain = %domain, profile = %profile, add = ?add.keys().collect::<Vec<_>>(), remove = ?remove, "reconciling the mapping's tags");
        }
        self.studio
            .retag_profile(domain, profile, &add, &remove)
            .await
    }
}

/// The tag changes that bring `current` to `desired`: keys to add or overwrite, and keys to
/// remove. Only keys in `owned` are removed; studio-warden's reserved keys and `aws:` keys
/// are never in either list.
pub(crate) fn tag_changes(
    current: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
    owned: &BTreeSet<&str>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let untouchable = |k: &str| {
        k.starts_with(RESERVED_TAG_PREFIX)
            || k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
    };
    let add = desired
        .iter()
        .filter(|(k, v)| !untouchable(k) && current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = current
        .keys()
        .filter(|k| !untouchable(k) && !desired.contains_key(*k) && owned.contains(k.as_str()))
        .cloned()
        .collect();
    (add, remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn tag_changes_touch_only_the_mappings_keys() {
        let current = tags(&[
            ("team", "a"),
            ("project", "x"),
            ("cost-centre", "42"),
            ("studio-warden:user-id", "u1"),
            ("aws:cloudformation:stack-name", "s"),
        ]);
        let desired = tags(&[
            ("team", "b"),
            ("studio-warden:user-id", "u1"),
            ("studio-warden:managed", "true"),
        ]);
        let owned: BTreeSet<&str> = ["team", "project", "aws:cloudformation:stack-name"].into();
        let (add, remove) = tag_changes(&current, &desired, &owned);
        assert_eq!(
            add,
            tags(&[("team", "b")]),
            "reserved keys are never re-added"
        );
        // `project` was a mapping's and is no longer this user's; `cost-centre` is somebody
        // else's; `aws:` keys are AWS's.
        assert_eq!(remove, vec!["project".to_owned()]);
    }

    #[test]
    fn tags_already_right_change_nothing() {
        let t = tags(&[("team", "a"), ("studio-warden:managed", "true")]);
        let (add, remove) = tag_changes(&t, &t, &["team"].into());
        assert!(add.is_empty() && remove.is_empty());
    }
}
