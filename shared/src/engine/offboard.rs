//! Offboard: the second stage of offboarding, one pass of deleting a suspended user's data
//! once the retention has passed. Apps (again: SageMaker deletes no space or profile with
//! apps), owned spaces, the SSO assignment (again, idempotent), the profile, the record: each
//! step is idempotent, and whatever is still being deleted is waited for by the next sweep or
//! event. The first stage, the suspension, is in [`super::suspend`].

use std::collections::{BTreeMap, BTreeSet};

use super::apply::next;
use super::run::InDomain;
use super::{Engine, Outcome, Progress, Store, TAG_USER_ID};
use crate::desired::entitlements;
use crate::error::Result;
use crate::ids::{DomainId, GroupId, ResourceName, UserId};
use crate::model::{Attention, OffboardStep, Phase, ProfileStatus, UserRecord};
use crate::planner::Action;
use crate::policy::{Removal, SharedSpaces};
use crate::ports::{AppSummary, Directory, Studio};

/// Whether an offboarding stage may touch the profile, after its two guards.
pub(super) enum Guard {
    /// It may: the profile's tags (`None`: the profile no longer exists).
    Proceed(Option<BTreeMap<String, String>>),
    /// It may not; the outcome says why (and the record was closed if need be).
    Stop(Outcome),
}

impl<D: Directory, S: Studio, L: Store> Engine<D, S, L> {
    /// The guards of both offboarding stages. Never touch a profile that is not ours (a
    /// profile that no longer exists has nothing left to protect): the record is closed once,
    /// so that no later run refuses again. And a last look at the truth: never suspend an
    /// entitled user nor delete an entitled user's profile.
    pub(super) async fn offboarding_guard(
        &self,
        at: InDomain<'_>,
        action: &Action,
        user: &UserId,
        profile: &ResourceName,
        r: &UserRecord,
    ) -> Result<Guard> {
        let InDomain { run, domain, .. } = at;
        let tags = self.studio.profile_tags(domain, profile).await?;
        if tags
            .as_ref()
            .is_some_and(|t| t.get(TAG_USER_ID).map(String::as_str) != Some(user.as_str()))
        {
            let rec = UserRecord {
                phase: Phase::Offboarded { at: run.now },
                profile_status: None,
                attention: None,
                ..next(r, run)
            };
            let outcome = self.transition(run, rec, action, Outcome::Refused).await?;
            return Ok(Guard::Stop(outcome));
        }
        if self.entitled_now(at, user).await? {
            return Ok(Guard::Stop(Outcome::Halted));
        }
        Ok(Guard::Proceed(tags))
    }

    /// A last look at the directory before access or data goes (two Identity Store calls):
    /// whether the user is entitled to this domain now, whatever the run's plan read earlier.
    pub(super) async fn entitled_now(&self, at: InDomain<'_>, user: &UserId) -> Result<bool> {
        let InDomain { run, domain, .. } = at;
        let Some(u) = self.directory.user(user).await?.filter(|u| u.enabled) else {
            return Ok(false);
        };
        let groups: BTreeSet<GroupId> = self.directory.groups_of(user).await?.into_iter().collect();
        Ok(entitlements(&self.policy, &run.resolved, &u, &groups).contains_key(domain))
    }

    pub(super) async fn offboard(
        &self,
        at: InDomain<'_>,
        action: &Action,
        user: &UserId,
        profile: &ResourceName,
        r: &UserRecord,
    ) -> Result<Outcome> {
        // `remove = "apps"` never deletes data: the planner plans no deletion then, and this
        // makes sure of it.
        if self.policy.offboarding.remove == Removal::Apps {
            return self.suspend(at, action, user, profile, r).await;
        }
        if let Guard::Stop(outcome) = self.offboarding_guard(at, action, user, profile, r).await? {
            return Ok(outcome);
        }
        let InDomain { run, domain, info } = at;
        let since = match r.phase {
            Phase::Offboarding { since, .. } => since,
            _ => run.now,
        };
        // Records a step reached, once: a pass that finds the same step (and the same cause
        // for attention) again writes nothing.
        // Shared spaces the policy keeps were flagged at the suspension, so that the retention
        // gives an operator time to move the work: the flag stays until this pass looks at the
        // spaces again (step 4), so that its finding does not resolve and re-open meanwhile.
        let flagged = r
            .attention
            .clone()
            .filter(|a| matches!(a, Attention::SharedSpaces { .. }));
        let progress = |step: OffboardStep, outcome: Outcome, attention: Option<Attention>| async move {
            if r.phase == (Phase::Offboarding { since, step }) && r.attention == attention {
                return Ok(outcome);
            }
            let rec = UserRecord {
                phase: Phase::Offboarding { since, step },
                attention,
                ..next(r, run)
            };
            self.transition(run, rec, action, outcome).await
        };
        run.touched(domain, profile);

        // 1. The profile's own apps (the suspension deleted them; somebody may have started
        //    one since).
        let apps = self.studio.profile_apps(domain, profile).await?;
        let left = self.delete_apps(domain, apps).await?;
        if left > 0 {
            return progress(
                OffboardStep::DeletingApps,
                Outcome::InProgress(Progress::AppsDeleting(left)),
                flagged,
            )
            .await;
        }
        // 2. The spaces the profile owns: their apps, then the spaces themselves. Shared
        //    spaces hold other people's work too: they are deleted only when the policy says
        //    so, and otherwise keep the profile (SageMaker deletes no profile that owns a
        //    space).
        let delete_shared = self.policy.offboarding.shared_spaces == SharedSpaces::Delete;
        let (private, shared): (Vec<_>, Vec<_>) = self
            .studio
            .list_spaces(domain)
            .await?
            .into_iter()
            .filter(|s| s.owner.as_deref() == Some(profile.as_str()))
            .partition(|s| s.private);
        let deleted_here = private
            .iter()
            .chain(shared.iter().filter(|_| delete_shared));
        let mut busy_spaces = 0;
        for space in deleted_here {
            let apps = self.studio.space_apps(domain, &space.name).await?;
            let left = self.delete_apps(domain, apps).await?;
            if left == 0 && space.status != "Deleting" {
                self.studio.delete_space(domain, &space.name).await?;
            }
            busy_spaces += 1;
        }
        if busy_spaces > 0 {
            return progress(
                OffboardStep::DeletingSpaces,
                Outcome::InProgress(Progress::SpacesDeleting(busy_spaces)),
                flagged,
            )
            .await;
        }
        // 3. The Identity Center application assignment (SSO-mode domains): the suspension
        //    removed it; removing it again costs one idempotent call and covers a record that
        //    an earlier version left mid-offboarding.
        if let Some(app) = info.and_then(|i| i.sso_application_arn.as_deref()) {
            self.studio.unassign(app, user).await?;
        }
        // 4. The profile, unless it owns shared spaces the policy keeps.
        if !delete_shared && !shared.is_empty() {
            let mut spaces: Vec<String> = shared.into_iter().map(|s| s.name).collect();
            spaces.sort();
            let why = Attention::SharedSpaces { spaces };
            tracing::warn!(domain = %domain, profile = %profile, why = %why, "offboarding blocked: access removed, profile kept");
            return progress(
                OffboardStep::Blocked,
                Outcome::Blocked(why.clone()),
                Some(why),
            )
            .await;
        }
        match self.studio.describe_profile(domain, profile).await? {
            Some(p) if p.status == ProfileStatus::Deleting => {
                return progress(
                    OffboardStep::DeletingProfile,
                    Outcome::InProgress(Progress::ProfileDeleting),
                    None,
                )
                .await;
            }
            Some(_) => {
                if self.studio.delete_profile(domain, profile).await? {
                    return progress(
                        OffboardStep::DeletingProfile,
                        Outcome::InProgress(Progress::ProfileDeleting),
                        None,
                    )
                    .await;
                }
                // ResourceInUse with no app and no owned space in sight: once may be a race
                // with an app starting; a second pass that sees the same says so.
                let again = matches!(
                    r.phase,
                    Phase::Offboarding {
                        step: OffboardStep::DeletingProfile | OffboardStep::Blocked,
                        ..
                    }
                );
                if !again {
                    return progress(OffboardStep::DeletingProfile, Outcome::Waiting, None).await;
                }
                tracing::warn!(domain = %domain, profile = %profile, "offboarding blocked: SageMaker keeps refusing to delete the profile");
                return progress(
                    OffboardStep::Blocked,
                    Outcome::Blocked(Attention::DeleteRefused),
                    Some(Attention::DeleteRefused),
                )
                .await;
            }
            None => {}
        }
        // 5. Done.
        let rec = UserRecord {
            phase: Phase::Offboarded { at: run.now },
            profile_status: None,
            attention: None,
            ..next(r, run)
        };
        self.transition(run, rec, action, Outcome::Offboarded).await
    }

    /// Starts deleting the apps that are not yet being deleted, and answers how many still
    /// exist. A `Deleted` app is gone, and so is a `Failed` one: SageMaker deletes a failed
    /// app by itself (and answers `DeleteApp` on it with a ValidationException).
    pub(super) async fn delete_apps(
        &self,
        domain: &DomainId,
        apps: Vec<AppSummary>,
    ) -> Result<usize> {
        let live: Vec<AppSummary> = apps
            .into_iter()
            .filter(|a| !matches!(a.status.as_str(), "Deleted" | "Failed"))
            .collect();
        for app in live.iter().filter(|a| a.status != "Deleting") {
            self.studio.delete_app(domain, app).await?;
        }
        Ok(live.len())
    }
}
