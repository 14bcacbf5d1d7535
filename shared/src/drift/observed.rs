//! What a full drift sweep last read of each profile, so that the next one describes only the
//! profiles that changed.
//!
//! A sweep must know every profile's execution role and security groups, which only
//! `DescribeUserProfile` gives: one call per profile, 50,000 calls for 50,000 users, on every
//! sweep. But `ListUserProfiles`, which the sweep reads anyway, gives each profile's
//! `LastModifiedTime`. So the ledger keeps, per profile, the stamp of the listing a description
//! followed and what the description said; the next sweep describes only a profile whose stamp
//! moved (or that it has not seen). A sweep where nothing changed describes no profile at all.
//!
//! This relies on the stamp moving whenever the profile is updated. The API reference only
//! calls it "the last modified time"; the emulator moves it on every update, as the name says,
//! but that is not a documented guarantee. So two safety nets bound what a stamp that did not
//! move when it should have could hide: an
//! observation older than [`RECHECK_AFTER`] (plus a per-profile spread of up to the same
//! again, so that re-descriptions do not all fall on one sweep) is described again, and a
//! CloudTrail event about a profile is always checked with a fresh description. The status
//! always comes from the listing of this sweep, never from the cache.
//!
//! Pure: the sweep in [`super`] does the I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::ProfileDetail;
use crate::ids::ResourceName;
use crate::model::{Epoch, ProfileSummary};

/// An observation this old (plus the profile's spread) is described again.
pub const RECHECK_AFTER: i64 = 24 * 3600;

/// What `DescribeUserProfile` said about a profile, and the listing stamp it followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub name: ResourceName,
    /// `LastModifiedTime` (epoch ms) in the listing that preceded the description. The
    /// description is at least that recent, so an unchanged stamp means unchanged settings.
    pub modified_ms: i64,
    /// When the profile was described.
    pub checked_at: Epoch,
    pub execution_role: Option<String>,
    pub security_groups: Vec<String>,
}

impl Observation {
    /// The detail a sweep uses for an unchanged profile: the cached settings with the
    /// listing's current status.
    pub fn detail(&self, listed: &ProfileSummary) -> ProfileDetail {
        ProfileDetail {
            name: listed.name.clone(),
            status: listed.status.clone(),
            execution_role: self.execution_role.clone(),
            security_groups: self.security_groups.clone(),
        }
    }

    /// The observation to keep after describing `detail` following a listing with `listed`'s
    /// stamp; `None` when the listing had no stamp (nothing to compare next time).
    pub fn of(listed: &ProfileSummary, detail: &ProfileDetail, now: Epoch) -> Option<Self> {
        Some(Self {
            name: listed.name.clone(),
            modified_ms: listed.modified_ms?,
            checked_at: now,
            execution_role: detail.execution_role.clone(),
            security_groups: detail.security_groups.clone(),
        })
    }

    /// Whether this observation still stands for `listed` at `now`.
    pub fn holds_for(&self, listed: &ProfileSummary, now: Epoch) -> bool {
        listed.modified_ms == Some(self.modified_ms)
            && now < self.checked_at + RECHECK_AFTER + spread(&self.name)
            && now >= self.checked_at
    }
}

/// A stable per-profile offset in `[0, RECHECK_AFTER)`, from a hash of the name.
fn spread(name: &ResourceName) -> i64 {
    let digest = Sha256::digest(name.as_str().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % RECHECK_AFTER as u64) as i64
}

/// How a sweep reads a domain's profiles, given the listing and the cache.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadPlan {
    /// Profiles whose cached observation still holds: their detail, without a call.
    pub cached: Vec<ProfileDetail>,
    /// Profiles to describe, with their listing.
    pub describe: Vec<ProfileSummary>,
    /// Cached observations of profiles the listing no longer has: to forget.
    pub gone: Vec<ResourceName>,
}

/// Splits a listing into what the cache answers and what must be described.
pub fn read_plan(
    listed: Vec<ProfileSummary>,
    cache: &BTreeMap<ResourceName, Observation>,
    now: Epoch,
) -> ReadPlan {
    let mut plan = ReadPlan::default();
    let names: BTreeSet<&ResourceName> = listed.iter().map(|p| &p.name).collect();
    plan.gone = cache
        .keys()
        .filter(|name| !names.contains(name))
        .cloned()
        .collect();
    for p in listed {
        match cache.get(&p.name) {
            Some(o) if o.holds_for(&p, now) => plan.cached.push(o.detail(&p)),
            _ => plan.describe.push(p),
        }
    }
    plan
}

/// The cache writes after describing: an observation of every profile described (its stamp
/// moved, it is new, or its observation was due again), and the names to forget (gone from
/// the listing, or gone when described).
pub fn updates(
    described: &[(ProfileSummary, Option<ProfileDetail>)],
    cache: &BTreeMap<ResourceName, Observation>,
    mut gone: Vec<ResourceName>,
    now: Epoch,
) -> (Vec<Observation>, Vec<ResourceName>) {
    let mut save = Vec::new();
    for (listed, detail) in described {
        match detail
            .as_ref()
            .and_then(|d| Observation::of(listed, d, now))
        {
            Some(o) => save.push(o),
            None if cache.contains_key(&listed.name) => gone.push(listed.name.clone()),
            None => {}
        }
    }
    (save, gone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProfileStatus;

    fn name(s: &str) -> ResourceName {
        ResourceName::parse(s).unwrap()
    }

    fn listed(n: &str, modified_ms: Option<i64>, status: ProfileStatus) -> ProfileSummary {
        ProfileSummary {
            name: name(n),
            status,
            modified_ms,
        }
    }

    fn seen(n: &str, modified_ms: i64, checked_at: Epoch) -> Observation {
        Observation {
            name: name(n),
            modified_ms,
            checked_at,
            execution_role: Some("arn:aws:iam::111122223333:role/a".into()),
            security_groups: vec!["sg-1".into()],
        }
    }

    fn cache(list: &[Observation]) -> BTreeMap<ResourceName, Observation> {
        list.iter().map(|o| (o.name.clone(), o.clone())).collect()
    }

    const NOW: Epoch = 1_800_000_000;

    #[test]
    fn an_unchanged_stamp_is_answered_from_the_cache_with_the_listed_status() {
        let plan = read_plan(
            vec![listed("a", Some(5), ProfileStatus::UpdateFailed)],
            &cache(&[seen("a", 5, NOW - 60)]),
            NOW,
        );
        assert!(plan.describe.is_empty());
        assert!(plan.gone.is_empty());
        assert_eq!(plan.cached.len(), 1);
        assert_eq!(plan.cached[0].status, ProfileStatus::UpdateFailed);
        assert_eq!(plan.cached[0].security_groups, vec!["sg-1".to_owned()]);
    }

    #[test]
    fn a_moved_stamp_a_missing_stamp_or_an_unknown_profile_is_described() {
        let plan = read_plan(
            vec![
                listed("moved", Some(6), ProfileStatus::InService),
                listed("nostamp", None, ProfileStatus::InService),
                listed("new", Some(1), ProfileStatus::InService),
            ],
            &cache(&[seen("moved", 5, NOW - 60), seen("nostamp", 5, NOW - 60)]),
            NOW,
        );
        let described: Vec<&str> = plan.describe.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(described, vec!["moved", "nostamp", "new"]);
        assert!(plan.cached.is_empty());
    }

    #[test]
    fn profiles_no_longer_listed_are_forgotten() {
        let plan = read_plan(
            vec![listed("a", Some(5), ProfileStatus::InService)],
            &cache(&[seen("a", 5, NOW), seen("b", 5, NOW)]),
            NOW,
        );
        assert_eq!(plan.gone, vec![name("b")]);
    }

    #[test]
    fn old_observations_are_described_again_spread_over_a_day() {
        let o = seen("a", 5, NOW);
        let p = listed("a", Some(5), ProfileStatus::InService);
        assert!(o.holds_for(&p, NOW + RECHECK_AFTER - 1));
        assert!(!o.holds_for(&p, NOW + 2 * RECHECK_AFTER));
        // An observation from the future (a clock step back) is not trusted.
        assert!(!o.holds_for(&p, NOW - 1));
        // The spread is stable and differs between names.
        let spreads: BTreeSet<i64> = (0..50).map(|i| spread(&name(&format!("u{i}")))).collect();
        assert!(spreads.len() > 40, "{spreads:?}");
        assert!(spreads.iter().all(|s| (0..RECHECK_AFTER).contains(s)));
        assert_eq!(spread(&name("a")), spread(&name("a")));
    }

    #[test]
    fn updates_keep_what_was_described_and_forget_what_is_gone() {
        let detail = |n: &str| ProfileDetail {
            name: name(n),
            status: ProfileStatus::InService,
            execution_role: None,
            security_groups: vec!["sg-2".into()],
        };
        let described = vec![
            (
                listed("a", Some(7), ProfileStatus::InService),
                Some(detail("a")),
            ),
            // Deleted between the listing and the description, and cached: forget it.
            (listed("b", Some(7), ProfileStatus::InService), None),
            // Deleted and never cached: nothing to do.
            (listed("c", Some(7), ProfileStatus::InService), None),
            // No stamp in the listing: nothing to keep.
            (
                listed("d", None, ProfileStatus::InService),
                Some(detail("d")),
            ),
        ];
        let (save, gone) = updates(
            &described,
            &cache(&[seen("a", 5, NOW - 9), seen("b", 5, NOW - 9)]),
            vec![name("z")],
            NOW,
        );
        assert_eq!(save.len(), 1);
        assert_eq!(save[0].name, name("a"));
        assert_eq!(save[0].modified_ms, 7);
        assert_eq!(save[0].checked_at, NOW);
        assert_eq!(save[0].security_groups, vec!["sg-2".to_owned()]);
        assert_eq!(gone, vec![name("z"), name("b")]);
    }
}
