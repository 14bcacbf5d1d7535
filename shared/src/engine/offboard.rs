//! Offboard: one pass of the offboarding state machine. Apps, private spaces, the SSO
//! assignment, the profile, the record: each step is idempotent, and whatever is still being
//! deleted is waited for by the next sweep or event.

use std::collections::BTreeSet;

use super::apply::next;
use super::run::InDomain;
use super::{Engine, Outcome, Progress, TAG_USER_ID};
use crate::desired::entitlements;
use crate::error::Result;
use crate::ids::{GroupId, ResourceName, UserId};
use crate::model::{OffboardStep, Phase, ProfileStatus, UserRecord};
use crate::planner::Action;
use crate::policy::Removal;
use crate::ports::{Directory, Ledger, Studio};

impl<D: Directory, S: Studio, L: Ledger> Engine<D, S, L> {
    pub(super) async fn offboard(
        &self,
        at: InDomain<'_>,
        action: &Action,
        user: &UserId,
        profile: &ResourceName,
        r: &UserRecord,
    ) -> Result<Outcome> {
        let InDomain { run, domain, info } = at;
        // Never touch a profile that is not ours.
        // (A profile that no longer exists has nothing left to protect.)
        let tags = self.studio.profile_tags(domain, profile).await?;
        if tags.is_some_and(|t| t.get(TAG_USER_ID).map(String::as_str) != Some(user.as_str())) {
            let outcome = Outcome::Refused;
            self.note(run, domain, action, &outcome).await?;
            return Ok(outcome);
        }
        // A last look at the truth: never delete an entitled user's profile.
        if let Some(u) = self.directory.user(user).await?
            && u.enabled
        {
            let groups: BTreeSet<GroupId> =
                self.directory.groups_of(user).await?.into_iter().collect();
            if entitlements(&self.policy, &run.resolved, &u, &groups).contains_key(domain) {
                return Ok(Outcome::Halted);
            }
        }
        let since = match r.phase {
            Phase::Offboarding { since, .. } => since,
            _ => run.now,
        };
        // Records a step reached, once: a pass that finds the same step again writes nothing.
        let progress = |step: OffboardStep, outcome: Outcome| async move {
            if r.phase == (Phase::Offboarding { since, step }) {
                return Ok(outcome);
            }
            let rec = UserRecord {
                phase: Phase::Offboarding { since, step },
                ..next(r, run)
            };
            self.transition(run, rec, action, outcome).await
        };
        run.touched(domain, profile);

        // 1. The profile's own apps.
        let apps: Vec<_> = self
            .studio
            .profile_apps(domain, profile)
            .await?
            .into_iter()
            .filter(|a| a.status != "Deleted")
            .collect();
        for app in apps.iter().filter(|a| a.status != "Deleting") {
            self.studio.delete_app(domain, app).await?;
        }
        if !apps.is_empty() {
            return progress(
                OffboardStep::DeletingApps,
                Outcome::InProgress(Progress::AppsDeleting(apps.len())),
            )
            .await;
        }
        // 2. The private spaces the profile owns: their apps, then (when the policy removes
        //    profiles) the spaces themselves.
        let remove_profile = self.policy.offboarding.remove == Removal::Profile;
        let spaces: Vec<_> = self
            .studio
            .list_spaces(domain)
            .await?
            .into_iter()
            .filter(|s| s.private && s.owner.as_deref() == Some(profile.as_str()))
            .collect();
        let mut busy_spaces = 0;
        for space in &spaces {
            let space_apps: Vec<_> = self
                .studio
                .space_apps(domain, &space.name)
                .await?
                .into_iter()
                .filter(|a| a.status != "Deleted")
                .collect();
            for app in space_apps.iter().filter(|a| a.status != "Deleting") {
                self.studio.delete_app(domain, app).await?;
            }
            if remove_profile {
                if space_apps.is_empty() && space.status != "Deleting" {
                    self.studio.delete_space(domain, &space.name).await?;
                }
                busy_spaces += 1;
            } else if !space_apps.is_empty() {
                busy_spaces += 1;
            }
        }
        if busy_spaces > 0 {
            let waiting = if remove_profile {
                Progress::SpacesDeleting(busy_spaces)
            } else {
                Progress::SpaceAppsDeleting(busy_spaces)
            };
            return progress(OffboardStep::DeletingSpaces, Outcome::InProgress(waiting)).await;
        }
        // 3. The Identity Center application assignment (SSO-mode domains).
        if let Some(app) = info.and_then(|i| i.sso_application_arn.as_deref()) {
            self.studio.unassign(app, user).await?;
        }
        // 4. The profile, unless the policy keeps it (suspension).
        if !remove_profile {
            let rec = UserRecord {
                phase: Phase::Suspended { at: run.now },
                ..next(r, run)
            };
            return self.transition(run, rec, action, Outcome::Suspended).await;
        }
        match self.studio.describe_profile(domain, profile).await? {
            Some(p) if p.status == ProfileStatus::Deleting => {
                return progress(
                    OffboardStep::DeletingProfile,
                    Outcome::InProgress(Progress::ProfileDeleting),
                )
                .await;
            }
            Some(_) => {
                let outcome = if self.studio.delete_profile(domain, profile).await? {
                    Outcome::InProgress(Progress::ProfileDeleting)
                } else {
                    Outcome::Waiting
                };
                return progress(OffboardStep::DeletingProfile, outcome).await;
            }
            None => {}
        }
        // 5. Done.
        let rec = UserRecord {
            phase: Phase::Offboarded { at: run.now },
            profile_status: None,
            ..next(r, run)
        };
        self.transition(run, rec, action, Outcome::Offboarded).await
    }
}
