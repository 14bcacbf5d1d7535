//! What the operator CLI reads, gathered over the ports the functions use: a user's story
//! (`explain`, `history`), holds and findings. Reads only; the answers are plain data that
//! [`super::render`] turns into tables and `--json` prints as they are.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::desired::{self, MappingStatus, ResolvedMappings};
use crate::drift::model::{FindingState, FindingStatus};
use crate::drift::ports::{DomainInspector, FindingStore};
use crate::engine::{Engine, Store, TAG_SUSPENDED};
use crate::error::Result;
use crate::ids::{DomainId, GroupId, ResourceName, UserId};
use crate::model::{Epoch, Phase, User, UserRecord, rfc3339};
use crate::policy::{Domain, Offboarding, Policy};
use crate::ports::{Directory, HistoryEntry, Studio};
use crate::safety::{Hold, HoldStatus, mapping_resource};

/// What the Identity Store says about the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryStatus {
    Enabled,
    /// `UserStatus` DISABLED: entitled to nothing.
    Disabled,
    /// Not in the Identity Store (deleted); known from the ledger only.
    Deleted,
}

/// A user the CLI was asked about, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub id: UserId,
    /// `None` when the Identity Store no longer has the user (the ledger still does).
    pub user: Option<User>,
    /// The user name: the Identity Store's, else the ledger's.
    pub user_name: String,
}

/// One mapping of a domain whose group the user is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappingMatch {
    /// The mapping's index in the policy.
    pub mapping: usize,
    /// The group as the policy names it (`group "ml-researchers"`, `group id ...`).
    pub group: String,
    pub group_id: GroupId,
    pub priority: i64,
    /// The winning mapping (highest priority); the others lost to it.
    pub wins: bool,
    pub template_hash: String,
}

/// The user's profile as SageMaker has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileView {
    pub name: ResourceName,
    pub status: String,
    pub execution_role: Option<String>,
    pub security_groups: Vec<String>,
    /// The `studio-warden:suspended` tag (the time the suspension began), if the profile has it.
    pub suspended: Option<String>,
}

/// The user in one domain of the policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainStory {
    pub domain: String,
    pub domain_id: DomainId,
    /// The domain's mappings whose group the user is in, the winner first.
    pub mappings: Vec<MappingMatch>,
    /// The domain's mappings whose group is in doubt (renamed, missing, unresolved, in conflict).
    pub doubts: Vec<String>,
    /// One sentence: why the user has, has not, or is losing a profile here.
    pub verdict: String,
    /// The ledger's record.
    pub record: Option<UserRecord>,
    /// The profile the record names, as SageMaker has it (`None`: no record, or no such profile).
    pub profile: Option<ProfileView>,
    /// Findings about the user's profile, the user's holds or the user's mappings' groups.
    pub findings: Vec<FindingState>,
}

/// `explain`: the answer to "why".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub user: UserId,
    pub user_name: String,
    pub directory: DirectoryStatus,
    pub domains: Vec<DomainStory>,
    /// Holds that name the user, any status.
    pub holds: Vec<Hold>,
    /// The latest history rows, oldest first.
    pub history: Vec<HistoryEntry>,
    /// How many rows the whole history has.
    pub history_total: usize,
}

/// A hold, with the user names of its users (from the ledger's records).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HoldView {
    #[serde(flatten)]
    pub hold: Hold,
    /// User id -> user name, for the users the ledger knows.
    pub user_names: BTreeMap<UserId, String>,
}

/// A finding, with the policy's name of its domain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingView {
    pub domain_name: String,
    #[serde(flatten)]
    pub state: FindingState,
}

/// Finds a user by id or user name: the Identity Store first (`DescribeUser`, `GetUserId`),
/// then the ledger's records (a deleted user is known there by the name they had). `None`
/// when neither knows the user.
pub async fn find_user<D: Directory, S: Studio, L: Store>(
    engine: &Engine<D, S, L>,
    who: &str,
) -> Result<Option<Found>> {
    let by_id = UserId::parse(who).ok();
    let id = match &by_id {
        Some(id) => Some(id.clone()),
        None => engine.directory.user_id(who).await?,
    };
    if let Some(id) = &id
        && let Some(user) = engine.directory.user(id).await?
    {
        return Ok(Some(Found {
            id: id.clone(),
            user_name: user.user_name.clone(),
            user: Some(user),
        }));
    }
    // Not in the Identity Store: the ledger may remember the user.
    for domain in &engine.policy.domains {
        let known = match &id {
            Some(id) => engine.ledger.record(&domain.id, id).await?,
            None => engine
                .ledger
                .records(&domain.id)
                .await?
                .into_iter()
                .find(|r| r.user_name == who),
        };
        if let Some(r) = known {
            return Ok(Some(Found {
                id: r.user,
                user: None,
                user_name: r.user_name,
            }));
        }
    }
    if let Some(id) = by_id
        && !engine.ledger.history(&id).await?.is_empty()
    {
        return Ok(Some(Found {
            id,
            user: None,
            user_name: String::new(),
        }));
    }
    Ok(None)
}

/// The user's story in every domain of the policy, with the latest `rows` history rows.
pub async fn explain<D, S, L>(
    engine: &Engine<D, S, L>,
    found: Found,
    now: Epoch,
    rows: usize,
) -> Result<Explanation>
where
    D: Directory,
    S: Studio + DomainInspector,
    L: Store,
{
    let policy = &engine.policy;
    let resolved = engine.resolved_mappings(now).await?;
    let (directory, groups, entitled) = match &found.user {
        None => (DirectoryStatus::Deleted, BTreeSet::new(), BTreeMap::new()),
        Some(user) => {
            let groups: BTreeSet<GroupId> = engine
                .directory
                .groups_of(&user.id)
                .await?
                .into_iter()
                .collect();
            let entitled = desired::entitlements(policy, &resolved, user, &groups);
            let status = if user.enabled {
                DirectoryStatus::Enabled
            } else {
                DirectoryStatus::Disabled
            };
            (status, groups, entitled)
        }
    };
    let holds: Vec<Hold> = engine
        .ledger
        .holds()
        .await?
        .into_iter()
        .filter(|h| h.users.iter().any(|u| u.user == found.id))
        .collect();
    let mut domains = Vec::with_capacity(policy.domains.len());
    for domain in &policy.domains {
        let mappings = matches(
            policy,
            &resolved,
            domain,
            &groups,
            entitled.get(&domain.id).map(|e| e.mapping),
        );
        let record = engine.ledger.record(&domain.id, &found.id).await?;
        let profile = match &record {
            Some(r) => profile_view(&engine.studio, &domain.id, &r.profile).await?,
            None => None,
        };
        let pending = holds
            .iter()
            .find(|h| {
                h.status == HoldStatus::Pending
                    && h.users
                        .iter()
                        .any(|u| u.user == found.id && u.domain == domain.id)
            })
            .map(|h| h.id.as_str());
        let held = match (&record, mappings.iter().any(|m| m.wins)) {
            (Some(r), false) if !matches!(r.phase, Phase::Offboarded { .. }) => {
                resolved.held(policy, &domain.name, r.group.as_ref())
            }
            _ => None,
        };
        let verdict = verdict(&Situation {
            offboarding: &policy.offboarding,
            directory,
            winner: mappings.iter().find(|m| m.wins),
            record: record.as_ref(),
            profile_found: profile.is_some(),
            held: held.as_deref(),
            pending_hold: pending,
        });
        let resources = concerning(
            policy,
            &resolved,
            domain,
            &mappings,
            record.as_ref(),
            &holds,
        );
        let findings = engine
            .ledger
            .findings(&domain.id)
            .await?
            .into_iter()
            .filter(|f| resources.contains(&f.resource))
            .collect();
        domains.push(DomainStory {
            domain: domain.name.clone(),
            domain_id: domain.id.clone(),
            doubts: doubts(policy, &resolved, &domain.name),
            mappings,
            verdict,
            record,
            profile,
            findings,
        });
    }
    let history = engine.ledger.history(&found.id).await?;
    let history_total = history.len();
    let history = history
        .into_iter()
        .skip(history_total.saturating_sub(rows))
        .collect();
    Ok(Explanation {
        user: found.id,
        user_name: found.user_name,
        directory,
        domains,
        holds,
        history,
        history_total,
    })
}

/// The profile as SageMaker has it: `DescribeUserProfile` and, if it exists, its tags.
async fn profile_view<S: Studio + DomainInspector>(
    studio: &S,
    domain: &DomainId,
    name: &ResourceName,
) -> Result<Option<ProfileView>> {
    let Some(detail) = studio.profile_detail(domain, name).await? else {
        return Ok(None);
    };
    let suspended = studio
        .profile_tags(domain, name)
        .await?
        .and_then(|tags| tags.get(TAG_SUSPENDED).cloned());
    Ok(Some(ProfileView {
        name: detail.name,
        status: detail.status.to_string(),
        execution_role: detail.execution_role,
        security_groups: detail.security_groups,
        suspended,
    }))
}

/// The domain's mappings whose group is one of `groups`, the winner (`winner`, a mapping
/// index) first, then by priority.
pub fn matches(
    policy: &Policy,
    resolved: &ResolvedMappings,
    domain: &Domain,
    groups: &BTreeSet<GroupId>,
    winner: Option<usize>,
) -> Vec<MappingMatch> {
    let mut out: Vec<MappingMatch> = policy
        .mappings
        .iter()
        .enumerate()
        .filter(|(_, m)| m.domain == domain.name)
        .filter_map(|(i, m)| {
            let group = resolved.status.get(&i)?.group()?;
            groups.contains(group).then(|| MappingMatch {
                mapping: i,
                group: m.group.to_string(),
                group_id: group.clone(),
                priority: m.priority,
                wins: winner == Some(i),
                template_hash: m.template_hash.clone(),
            })
        })
        .collect();
    out.sort_by_key(|m| std::cmp::Reverse((m.wins, m.priority)));
    out
}

/// The domain's mappings whose group is not simply resolved, in words.
pub fn doubts(policy: &Policy, resolved: &ResolvedMappings, domain: &str) -> Vec<String> {
    resolved
        .status
        .iter()
        .filter(|(i, _)| policy.mappings.get(**i).is_some_and(|m| m.domain == domain))
        .filter_map(|(i, st)| {
            let label = policy.mappings.get(*i).map(|m| m.group.to_string())?;
            let what = match st {
                MappingStatus::Resolved { .. } => return None,
                MappingStatus::Renamed { now, .. } => {
                    format!("renamed to {now:?} (still used by its id; update the policy)")
                }
                MappingStatus::Missing { group } => {
                    format!("missing: group {group} was deleted; its members are held")
                }
                MappingStatus::Unresolved => {
                    "unresolved: no group has this name; it grants nothing".to_owned()
                }
                MappingStatus::Conflict { pinned, other } => format!(
                    "in conflict: the name now belongs to group {other}, not the pinned {pinned}"
                ),
            };
            Some(format!("mapping {i} ({label}): {what}"))
        })
        .collect()
}

/// The resources whose findings concern the user in a domain: the profile, the user's holds,
/// and the groups of the user's mappings (and of the mapping the profile came from).
fn concerning(
    policy: &Policy,
    resolved: &ResolvedMappings,
    domain: &Domain,
    mappings: &[MappingMatch],
    record: Option<&UserRecord>,
    holds: &[Hold],
) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = holds.iter().map(|h| h.id.clone()).collect();
    if let Some(r) = record {
        out.insert(r.profile.to_string());
    }
    let record_group = record.and_then(|r| r.group.as_ref());
    for (i, m) in policy.mappings.iter().enumerate() {
        if m.domain != domain.name {
            continue;
        }
        let mine = mappings.iter().any(|x| x.mapping == i);
        let from_record = record_group.is_some_and(|g| {
            resolved
                .status
                .get(&i)
                .is_some_and(|st| st.group() == Some(g) || st.held_groups().contains(&g))
        });
        if mine || from_record {
            out.insert(mapping_resource(&m.group));
        }
    }
    out
}

/// What [`verdict`] needs to know about the user in one domain.
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    pub offboarding: &'a Offboarding,
    pub directory: DirectoryStatus,
    pub winner: Option<&'a MappingMatch>,
    pub record: Option<&'a UserRecord>,
    /// Whether SageMaker has the profile the record names.
    pub profile_found: bool,
    /// Why the user's leaving is held because of a group in doubt, if it is.
    pub held: Option<&'a str>,
    /// A pending hold that names the user in this domain.
    pub pending_hold: Option<&'a str>,
}

fn at(t: Epoch) -> String {
    rfc3339(t)
}

fn after(t: Epoch, d: std::time::Duration) -> String {
    rfc3339(t.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
}

/// One sentence: why the user has, has not, or is losing a profile in a domain. Pure.
pub fn verdict(s: &Situation<'_>) -> String {
    let mut out = match (s.winner, s.record) {
        (Some(w), record) => {
            let through = format!(
                "entitled through {} (mapping {}, priority {})",
                w.group, w.mapping, w.priority
            );
            match record.map(|r| (&r.phase, r)) {
                None => format!(
                    "{through}; no profile yet: the next membership event or sweep creates it"
                ),
                Some((Phase::Offboarded { at: when }, r)) => format!(
                    "{through}; profile {} was deleted at {}: the next event or sweep creates a new one",
                    r.profile,
                    at(*when)
                ),
                Some((Phase::Active | Phase::Creating, r)) => {
                    let mut v = format!("{through}; profile {} is {}", r.profile, r.phase.name());
                    if !s.profile_found {
                        v.push_str(
                            ", but SageMaker has no such profile: the next sweep creates it again",
                        );
                    } else if r.template_hash.as_deref() != Some(w.template_hash.as_str()) {
                        v.push_str(
                            "; its settings are not the mapping's yet: the next run updates them",
                        );
                    }
                    v
                }
                Some((phase, r)) => format!(
                    "{through} again: the next event or sweep restores profile {} (now {})",
                    r.profile,
                    phase.name()
                ),
            }
        }
        (None, record) => {
            let why = match s.directory {
                DirectoryStatus::Enabled => "member of no group mapped to this domain",
                DirectoryStatus::Disabled => "disabled in Identity Center",
                DirectoryStatus::Deleted => "not in the Identity Store (deleted)",
            };
            let o = s.offboarding;
            match record.map(|r| &r.phase) {
                None => {
                    format!("not entitled: {why}; studio-warden never gave them a profile here")
                }
                Some(Phase::Active | Phase::Creating) => format!(
                    "not entitled: {why}; the next event or sweep starts the grace period ({})",
                    humantime::format_duration(o.grace_period)
                ),
                Some(Phase::Grace { since }) => format!(
                    "not entitled since {}: {why}; suspension due at {} (grace period {})",
                    at(*since),
                    after(*since, o.grace_period),
                    humantime::format_duration(o.grace_period)
                ),
                Some(Phase::Suspending { since }) => format!(
                    "not entitled: {why}; being suspended since {} (apps deleting, access removed)",
                    at(*since)
                ),
                Some(Phase::Suspended { at: when }) => match o.data_retention() {
                    Some(keep) => format!(
                        "not entitled: {why}; suspended at {}: no access, data kept until {} (retention {})",
                        at(*when),
                        after(*when, keep),
                        humantime::format_duration(keep)
                    ),
                    None => format!(
                        "not entitled: {why}; suspended at {}: no access, data kept (remove = \"apps\")",
                        at(*when)
                    ),
                },
                Some(Phase::Offboarding { since, step }) => format!(
                    "not entitled: {why}; data being deleted since {} (step {step:?})",
                    at(*since)
                ),
                Some(Phase::Offboarded { at: when }) => format!(
                    "not entitled: {why}; offboarded at {}: profile and private spaces deleted",
                    at(*when)
                ),
            }
        }
    };
    if let Some(r) = s.record {
        if let Some(a) = &r.attention {
            out.push_str(&format!("; needs an operator: {a}"));
        }
        if let Some(h) = &r.released_by {
            out.push_str(&format!("; this leaving was released by hold {h}"));
        }
    }
    if let Some(why) = s.held {
        out.push_str(&format!(
            "; {why}: nothing starts until the policy or the group is fixed"
        ));
    }
    if let Some(id) = s.pending_hold {
        out.push_str(&format!(
            "; held by pending hold {id}: `studio-warden approve {id}` lets it start"
        ));
    }
    out
}

/// Every hold, the latest first, with its users' names from the ledger.
pub async fn holds<D: Directory, S: Studio, L: Store>(
    engine: &Engine<D, S, L>,
) -> Result<Vec<HoldView>> {
    let mut holds = engine.ledger.holds().await?;
    holds.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    let domains: BTreeSet<&DomainId> = holds
        .iter()
        .flat_map(|h| h.users.iter().map(|u| &u.domain))
        .collect();
    let mut names: BTreeMap<UserId, String> = BTreeMap::new();
    for d in domains {
        for r in engine.ledger.records(d).await? {
            names.entry(r.user).or_insert(r.user_name);
        }
    }
    Ok(holds
        .into_iter()
        .map(|hold| {
            let user_names = hold
                .users
                .iter()
                .filter_map(|u| names.get(&u.user).map(|n| (u.user.clone(), n.clone())))
                .collect();
            HoldView { hold, user_names }
        })
        .collect())
}

/// The findings of the policy's domains (or of one), by severity (highest first), optionally
/// of one status.
pub async fn findings<D: Directory, S: Studio, L: Store>(
    engine: &Engine<D, S, L>,
    domain: Option<&Domain>,
    status: Option<FindingStatus>,
) -> Result<Vec<FindingView>> {
    let mut out = Vec::new();
    for d in engine
        .policy
        .domains
        .iter()
        .filter(|d| domain.is_none_or(|x| x.id == d.id))
    {
        for state in FindingStore::findings(&engine.ledger, &d.id).await? {
            if status.is_none_or(|s| s == state.status) {
                out.push(FindingView {
                    domain_name: d.name.clone(),
                    state,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (
            b.state.severity,
            &a.domain_name,
            &a.state.rule,
            &a.state.resource,
        )
            .cmp(&(
                a.state.severity,
                &b.domain_name,
                &b.state.rule,
                &b.state.resource,
            ))
    });
    Ok(out)
}
