//! The planner: a pure function from (policy, desired, observed, ledger, now) to actions.
//!
//! It never performs I/O and never reads a clock. The same function serves the event handler
//! (scope: the event's users), the sweep (scope: everything) and the dry-run plan. Safety rules
//! live here, where they can be property-tested:
//! - a profile without a ledger record is never changed, only reported;
//! - an entitled user is never suspended and an entitled user's profile never deleted;
//! - offboarding has two stages: the suspension (access removed: apps, SSO assignment) only
//!   after the grace period, and the deletion of the user's data only after the retention
//!   that follows the suspension, never when the policy keeps data (`remove = "apps"`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use crate::ids::{DomainId, ResourceName, UserId};
use crate::model::{
    Attention, Entitlement, Epoch, Phase, ProfileStatus, ProfileSummary, Scope, UserRecord,
};
use crate::naming;

/// How long a `Creating` claim may belong to a running invocation: Lambda's longest run.
pub const CLAIM_LEASE_SECS: i64 = 15 * 60;

/// Everything the planner needs to know about one domain.
#[derive(Debug, Clone)]
pub struct DomainState<'a> {
    pub domain: &'a DomainId,
    /// Entitlements of the users in scope, by user.
    pub desired: &'a BTreeMap<UserId, Entitlement>,
    /// The profiles observed. With `Scope::All` this is the whole domain; with `Scope::Users`
    /// it holds at least every profile the in-scope users have or would get.
    pub profiles: &'a BTreeMap<ResourceName, ProfileSummary>,
    /// Ledger records, by user (all of the domain's, or at least the in-scope users').
    pub records: &'a BTreeMap<UserId, UserRecord>,
    pub scope: &'a Scope,
    pub grace_period: Duration,
    /// How long a suspended user's data is kept before it is deleted; `None`: for ever
    /// (`remove = "apps"`). See [`crate::policy::Offboarding::data_retention`].
    pub retention: Option<Duration>,
    pub now: Epoch,
}

/// One thing to do, with the reason it is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action")]
pub enum Action {
    /// Create (or resume creating, or re-create) the user's profile.
    Create {
        user: UserId,
        profile: ResourceName,
        entitlement: Box<Entitlement>,
        reason: String,
    },
    /// The winning mapping's settings changed: update the profile.
    Update {
        user: UserId,
        profile: ResourceName,
        entitlement: Box<Entitlement>,
        reason: String,
    },
    /// Only the ledger is behind (a status changed, a user was renamed): record what is observed.
    Record {
        user: UserId,
        profile: ResourceName,
        status: Option<ProfileStatus>,
        user_name: Option<String>,
        reason: String,
    },
    /// The user lost every entitlement to this domain: start the grace period.
    StartGrace {
        user: UserId,
        profile: ResourceName,
        reason: String,
        /// The approved hold that lets this start through the deletion threshold, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        released_by: Option<String>,
    },
    /// The user is entitled again: cancel a grace period, lift a suspension, or stop a deletion
    /// that has not reached the profile yet.
    Restore {
        user: UserId,
        profile: ResourceName,
        entitlement: Box<Entitlement>,
        reason: String,
    },
    /// The first stage of offboarding, as far as it goes now: remove the user's access (the
    /// SSO assignment, the apps of the profile and of its private spaces) and tag the profile
    /// suspended. Nothing that holds data is deleted.
    Suspend {
        user: UserId,
        profile: ResourceName,
        reason: String,
        /// The approved hold that lets this start through the deletion threshold, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        released_by: Option<String>,
    },
    /// The second stage, as far as it goes now: delete the suspended user's data (private
    /// spaces, shared ones as the policy says, then the profile).
    Offboard {
        user: UserId,
        profile: ResourceName,
        reason: String,
        /// The approved hold that lets this start through the deletion threshold, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        released_by: Option<String>,
    },
    /// Mark the record offboarded without touching SageMaker: there is no profile.
    Forget {
        user: UserId,
        profile: ResourceName,
        reason: String,
    },
    /// A profile studio-warden does not manage. Never changed; reported.
    ReportUnmanaged {
        profile: ResourceName,
        status: ProfileStatus,
    },
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Create { .. } => "Create",
            Action::Update { .. } => "Update",
            Action::Record { .. } => "Record",
            Action::StartGrace { .. } => "StartGrace",
            Action::Restore { .. } => "Restore",
            Action::Suspend { .. } => "Suspend",
            Action::Offboard { .. } => "Offboard",
            Action::Forget { .. } => "Forget",
            Action::ReportUnmanaged { .. } => "ReportUnmanaged",
        }
    }

    /// The approved hold that released this start through the deletion threshold, if any.
    pub fn released_by(&self) -> Option<&str> {
        match self {
            Action::StartGrace { released_by, .. }
            | Action::Suspend { released_by, .. }
            | Action::Offboard { released_by, .. } => released_by.as_deref(),
            _ => None,
        }
    }

    pub fn user(&self) -> Option<&UserId> {
        match self {
            Action::Create { user, .. }
            | Action::Update { user, .. }
            | Action::Record { user, .. }
            | Action::StartGrace { user, .. }
            | Action::Restore { user, .. }
            | Action::Suspend { user, .. }
            | Action::Offboard { user, .. }
            | Action::Forget { user, .. } => Some(user),
            Action::ReportUnmanaged { .. } => None,
        }
    }

    /// Whether the action changes AWS (SageMaker, or the domain's Identity Center
    /// application assignments), as opposed to only the ledger: it needs the domain's
    /// description.
    pub fn changes_aws(&self) -> bool {
        matches!(
            self,
            Action::Create { .. }
                | Action::Update { .. }
                | Action::Suspend { .. }
                | Action::Offboard { .. }
                | Action::Restore { .. }
                | Action::Forget { .. }
        )
    }
}

/// Plans one domain. The result is ordered by user id, then unmanaged profiles by name.
pub fn plan(state: &DomainState<'_>) -> Vec<Action> {
    let mut users: BTreeSet<&UserId> = state.desired.keys().collect();
    users.extend(state.records.keys());
    let mut actions: Vec<Action> = users
        .into_iter()
        .filter(|u| state.scope.contains(u))
        .filter_map(|u| plan_user(state, u, state.desired.get(u), state.records.get(u)))
        .collect();

    if matches!(state.scope, Scope::All) {
        // An offboarded record no longer manages its profile name: a profile under that name
        // was made by someone else after studio-warden deleted the user's.
        let managed: BTreeSet<&ResourceName> = state
            .records
            .values()
            .filter(|r| !matches!(r.phase, Phase::Offboarded { .. }))
            .map(|r| &r.profile)
            .collect();
        let claimed: BTreeSet<ResourceName> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Create { profile, .. } => Some(profile.clone()),
                _ => None,
            })
            .collect();
        for (name, summary) in state.profiles {
            if !managed.contains(name) && !claimed.contains(name) {
                actions.push(Action::ReportUnmanaged {
                    profile: name.clone(),
                    status: summary.status.clone(),
                });
            }
        }
    }
    actions
}

fn plan_user(
    state: &DomainState<'_>,
    user: &UserId,
    entitlement: Option<&Entitlement>,
    record: Option<&UserRecord>,
) -> Option<Action> {
    let observed = |name: &ResourceName| state.profiles.get(name);
    match (entitlement, record) {
        (None, None) => None,
        (Some(e), None) => Some(Action::Create {
            user: user.clone(),
            profile: naming::profile_name(&e.user_name, user),
            entitlement: Box::new(e.clone()),
            reason: format!("member of {} (mapping {})", e.group_label, e.mapping),
        }),
        (Some(e), Some(r)) => plan_entitled(state, user, e, r, observed(&r.profile)),
        (None, Some(r)) => plan_not_entitled(state, user, r, observed(&r.profile)),
    }
}

fn plan_entitled(
    _state: &DomainState<'_>,
    user: &UserId,
    e: &Entitlement,
    r: &UserRecord,
    profile: Option<&ProfileSummary>,
) -> Option<Action> {
    let create = |reason: String| Action::Create {
        user: user.clone(),
        profile: r.profile.clone(),
        entitlement: Box::new(e.clone()),
        reason,
    };
    match &r.phase {
        Phase::Creating => Some(create("resume the creation the ledger had claimed".into())),
        Phase::Offboarded { .. } => match profile {
            // The old profile is still being deleted; create once it is gone.
            Some(p) if p.status == ProfileStatus::Deleting => None,
            // Gone, or re-made by hand under the same name: the create adopts it only if its
            // ownership tag names this user, and reports a conflict otherwise.
            _ => Some(create(format!("member of {} again", e.group_label))),
        },
        Phase::Grace { .. }
        | Phase::Suspending { .. }
        | Phase::Suspended { .. }
        | Phase::Offboarding { .. } => {
            let cancelled = match r.phase {
                Phase::Grace { .. } => "offboarding cancelled",
                Phase::Offboarding { .. } => "deletion stopped, what is left restored",
                _ => "suspension lifted, data intact",
            };
            match profile {
                Some(p) if p.status != ProfileStatus::Deleting => Some(Action::Restore {
                    user: user.clone(),
                    profile: r.profile.clone(),
                    entitlement: Box::new(e.clone()),
                    reason: format!("member of {} again: {cancelled}", e.group_label),
                }),
                // Too late to keep it: wait until SageMaker has deleted it, then create it anew.
                Some(_) => None,
                None => Some(create(format!(
                    "member of {} again after the profile was deleted: re-create",
                    e.group_label
                ))),
            }
        }
        Phase::Active => match profile {
            None => Some(create(
                "the ledger says active but the profile is missing: re-create".into(),
            )),
            Some(p) if p.status == ProfileStatus::Deleting => None,
            Some(p) => {
                // Settings SageMaker rejected are not sent again until the mapping changes them
                // (the record's attention raises the finding meanwhile).
                let rejected = matches!(
                    &r.attention,
                    Some(Attention::SettingsRejected { template_hash, .. })
                        if *template_hash == e.template_hash
                );
                if !rejected
                    && (r.template_hash.as_deref() != Some(e.template_hash.as_str())
                        || r.group.as_ref() != Some(&e.group))
                {
                    // SageMaker refuses updates while a profile is not settled; try again later.
                    if matches!(
                        p.status,
                        ProfileStatus::InService | ProfileStatus::UpdateFailed
                    ) {
                        return Some(Action::Update {
                            user: user.clone(),
                            profile: r.profile.clone(),
                            entitlement: Box::new(e.clone()),
                            reason: format!(
                                "settings of mapping {} ({}) differ from those last applied",
                                e.mapping, e.group_label
                            ),
                        });
                    }
                }
                let status_changed = r.profile_status.as_ref() != Some(&p.status);
                let renamed = r.user_name != e.user_name;
                (status_changed || renamed).then(|| Action::Record {
                    user: user.clone(),
                    profile: r.profile.clone(),
                    status: status_changed.then(|| p.status.clone()),
                    user_name: renamed.then(|| e.user_name.clone()),
                    reason: match (status_changed, renamed) {
                        (true, true) => format!("profile is {} and the user was renamed", p.status),
                        (true, false) => format!("profile is {}", p.status),
                        _ => format!(
                            "user renamed to {:?}; the profile keeps its name",
                            e.user_name
                        ),
                    },
                })
            }
        },
    }
}

fn plan_not_entitled(
    state: &DomainState<'_>,
    user: &UserId,
    r: &UserRecord,
    profile: Option<&ProfileSummary>,
) -> Option<Action> {
    let suspend = |reason: String| Action::Suspend {
        user: user.clone(),
        profile: r.profile.clone(),
        reason,
        released_by: None,
    };
    let offboard = |reason: String| Action::Offboard {
        user: user.clone(),
        profile: r.profile.clone(),
        reason,
        released_by: None,
    };
    let forget = |reason: &str| Action::Forget {
        user: user.clone(),
        profile: r.profile.clone(),
        reason: reason.to_owned(),
    };
    match &r.phase {
        Phase::Offboarded { .. } => None,
        // A deletion under way goes on, unless the policy now keeps data: then it stops, and
        // the user stays suspended.
        Phase::Offboarding { .. } if state.retention.is_none() && profile.is_some() => Some(
            suspend("[offboarding] remove = \"apps\" keeps the data: deletion stopped".into()),
        ),
        Phase::Offboarding { .. } => Some(offboard("continue deleting the user's data".into())),
        // A fresh claim is a lease: the invocation that wrote it may be creating the profile
        // right now, and it would appear after a Forget, with no record to manage it. Only
        // once no invocation can still be running (Lambda's longest run) is a claim without a
        // profile known to be abandoned.
        Phase::Creating
            if profile.is_none() && state.now < r.updated_at.saturating_add(CLAIM_LEASE_SECS) =>
        {
            None
        }
        Phase::Creating
        | Phase::Active
        | Phase::Grace { .. }
        | Phase::Suspending { .. }
        | Phase::Suspended { .. }
            if profile.is_none() =>
        {
            Some(forget(
                "no longer entitled and there is no profile to offboard",
            ))
        }
        Phase::Creating | Phase::Active => {
            if state.grace_period.is_zero() {
                Some(suspend(
                    "no longer entitled; the grace period is zero: suspending".into(),
                ))
            } else {
                Some(Action::StartGrace {
                    user: user.clone(),
                    profile: r.profile.clone(),
                    reason: format!(
                        "no longer entitled: suspension in {}, {}",
                        humantime::format_duration(state.grace_period),
                        match state.retention {
                            Some(keep) => format!(
                                "data deleted {} after it",
                                humantime::format_duration(keep)
                            ),
                            None => "data kept (remove = \"apps\")".to_owned(),
                        }
                    ),
                    released_by: None,
                })
            }
        }
        Phase::Grace { since } => (state.now >= since.saturating_add(secs(state.grace_period)))
            .then(|| {
                suspend(format!(
                    "grace period of {} since {} has passed: suspending",
                    humantime::format_duration(state.grace_period),
                    crate::model::rfc3339(*since)
                ))
            }),
        Phase::Suspending { .. } => Some(suspend("continue suspending".into())),
        Phase::Suspended { at } => {
            let keep = state.retention?;
            (state.now >= at.saturating_add(secs(keep))).then(|| {
                offboard(format!(
                    "retention of {} since the suspension at {} has passed: deleting the user's data",
                    humantime::format_duration(keep),
                    crate::model::rfc3339(*at)
                ))
            })
        }
    }
}

/// A duration in whole seconds, saturating.
fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
