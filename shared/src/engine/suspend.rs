//! Suspend: the first stage of offboarding, when the grace period is over. Access goes at
//! once: the SSO assignment, the profile tagged `studio-warden:suspended`, the apps of the
//! profile and of the private spaces it owns. Nothing that holds data is deleted: that waits
//! for the retention (see [`super::offboard`]). And Restore, its undoing for a user entitled
//! again: access back, the tag removed, the mapping's settings applied if they changed.

use std::collections::BTreeMap;

use super::apply::next;
use super::offboard::Guard;
use super::run::InDomain;
use super::{Engine, Outcome, Progress, Store, TAG_SUSPENDED, TAG_USER_ID};
use crate::error::Result;
use crate::ids::{ResourceName, UserId};
use crate::model::{Attention, Entitlement, Phase, ProfileStatus, UserRecord, rfc3339};
use crate::planner::Action;
use crate::policy::SharedSpaces;
use crate::ports::{Directory, Studio, UpdateOutcome};

impl<D: Directory, S: Studio, L: Store> Engine<D, S, L> {
    /// One pass of the suspension: as far as SageMaker lets it go now. The record reads
    /// `Suspending` while apps are being deleted, then `Suspended` from the time the
    /// suspension began (the tag's value), from which the retention counts.
    pub(super) async fn suspend(
        &self,
        at: InDomain<'_>,
        action: &Action,
        user: &UserId,
        profile: &ResourceName,
        r: &UserRecord,
    ) -> Result<Outcome> {
        let tags = match self.offboarding_guard(at, action, user, profile, r).await? {
            Guard::Stop(outcome) => return Ok(outcome),
            Guard::Proceed(tags) => tags,
        };
        let InDomain { run, domain, info } = at;
        let since = match r.phase {
            Phase::Suspending { since } => since,
            _ => run.now,
        };
        // 1. Access first: the Identity Center application assignment (SSO-mode domains).
        //    It matters even without a profile: SageMaker makes one at the next sign-in.
        if let Some(app) = info.and_then(|i| i.sso_application_arn.as_deref()) {
            self.studio.unassign(app, user).await?;
        }
        let Some(tags) = tags else {
            // The profile is gone: nothing is left to keep or to delete.
            let rec = UserRecord {
                phase: Phase::Offboarded { at: run.now },
                profile_status: None,
                attention: None,
                ..next(r, run)
            };
            return self.transition(run, rec, action, Outcome::Offboarded).await;
        };
        run.touched(domain, profile);
        // 2. What runs: the profile's apps and the apps of the private spaces it owns. The
        //    spaces stay, and so do the shared spaces' apps (other people work there).
        let apps = self.studio.profile_apps(domain, profile).await?;
        let left = self.delete_apps(domain, apps).await?;
        let mut busy_spaces = 0;
        let mut shared = Vec::new();
        for space in self.studio.list_spaces(domain).await? {
            if space.owner.as_deref() != Some(profile.as_str()) {
                continue;
            }
            if !space.private {
                shared.push(space.name);
                continue;
            }
            let apps = self.studio.space_apps(domain, &space.name).await?;
            if self.delete_apps(domain, apps).await? > 0 {
                busy_spaces += 1;
            }
        }
        // 3. The mark, for people looking at the profile: when the suspension began. Always
        //    the record's time (a pass cut after tagging, before its record, tags again).
        //    After the access-critical steps, so that a refused tag never keeps apps running.
        //    Nothing depends on the mark (the retention counts from the record), so a refusal
        //    that trying again cannot fix (a tag policy, a full tag set, a denied AddTags)
        //    does not hold the suspension back: it is said in the history, and tried again
        //    by the next pass of a suspension still under way.
        let mark = rfc3339(since);
        let mut unmarked = None;
        if tags.get(TAG_SUSPENDED) != Some(&mark) {
            let add = BTreeMap::from([(TAG_SUSPENDED.to_owned(), mark)]);
            match self.studio.retag_profile(domain, profile, &add, &[]).await {
                Ok(()) => {}
                Err(e) if !e.is_retryable() => {
                    tracing::warn!(domain = %domain, profile = %profile, error = %e, "suspension goes on without its tag");
                    unmarked = Some(e.to_string());
                }
                Err(e) => return Err(e),
            }
        }
        let waiting = if left > 0 {
            Some(Progress::AppsDeleting(left))
        } else if busy_spaces > 0 {
            Some(Progress::SpaceAppsDeleting(busy_spaces))
        } else {
            None
        };
        if let Some(waiting) = waiting {
            // Recorded once: a pass that finds the suspension still under way writes nothing.
            if r.phase == (Phase::Suspending { since }) && r.attention.is_none() {
                return Ok(Outcome::InProgress(waiting));
            }
            let rec = UserRecord {
                phase: Phase::Suspending { since },
                attention: None,
                ..next(r, run)
            };
            return self
                .transition(run, rec, action, Outcome::InProgress(waiting))
                .await;
        }
        // 4. Suspended. The data waits for the retention (or for ever). Shared spaces the
        //    policy keeps will block the deletion: said now, so that the retention gives an
        //    operator time to move the work (the drift sweep alerts on it).
        let until =
            self.policy.offboarding.data_retention().map(|keep| {
                since.saturating_add(i64::try_from(keep.as_secs()).unwrap_or(i64::MAX))
            });
        let keeps_shared = self.policy.offboarding.shared_spaces == SharedSpaces::Keep;
        let attention = (until.is_some() && keeps_shared && !shared.is_empty()).then(|| {
            shared.sort();
            Attention::SharedSpaces { spaces: shared }
        });
        let rec = UserRecord {
            phase: Phase::Suspended { at: since },
            attention: attention.clone(),
            ..next(r, run)
        };
        let outcome = Outcome::Suspended {
            until,
            attention,
            unmarked,
        };
        self.transition(run, rec, action, outcome).await
    }

    /// A user entitled again during grace, suspension or deletion: access back (the SSO
    /// assignment), the suspended mark removed, and the mapping's settings applied if they
    /// changed meanwhile. What the profile holds is left as it is.
    pub(super) async fn restore(
        &self,
        at: InDomain<'_>,
        action: &Action,
        user: &UserId,
        profile: &ResourceName,
        e: &Entitlement,
        r: &UserRecord,
    ) -> Result<Outcome> {
        let InDomain { run, domain, info } = at;
        // 1. Access: the suspension removed the assignment (assigning is idempotent).
        if let Some(app) = info.and_then(|i| i.sso_application_arn.as_deref()) {
            self.studio.assign(app, user).await?;
        }
        let mut rec = UserRecord {
            phase: Phase::Active,
            user_name: e.user_name.clone(),
            attention: None,
            ..next(r, run)
        };
        // 2. The profile, if it is this user's (the ownership tag). Looked at in every phase:
        //    a suspension cut after tagging and before its record leaves the tag on a record
        //    still in grace.
        let tags = self.studio.profile_tags(domain, profile).await?;
        if let Some(tags) =
            tags.filter(|t| t.get(TAG_USER_ID).map(String::as_str) == Some(user.as_str()))
        {
            if tags.contains_key(TAG_SUSPENDED) {
                self.studio
                    .retag_profile(
                        domain,
                        profile,
                        &BTreeMap::new(),
                        &[TAG_SUSPENDED.to_owned()],
                    )
                    .await?;
                run.touched(domain, profile);
            }
            // 3. The mapping's settings, if they are not those last applied, once SageMaker
            //    takes updates (InService or Update_Failed). A deferral or a rejection is left
            //    to the Update the next run plans, which records it.
            let stale = r.template_hash.as_deref() != Some(e.template_hash.as_str())
                || r.group.as_ref() != Some(&e.group);
            let update = stale
                && self
                    .studio
                    .describe_profile(domain, profile)
                    .await?
                    .is_some_and(|p| {
                        matches!(
                            p.status,
                            ProfileStatus::InService | ProfileStatus::UpdateFailed
                        )
                    });
            if update {
                let spec = self.spec(user, e, info);
                if self.studio.update_profile(domain, profile, &spec).await?
                    == UpdateOutcome::Updated
                {
                    run.touched(domain, profile);
                    self.reconcile_tags(domain, profile, &spec).await?;
                    rec.template_hash = Some(e.template_hash.clone());
                    rec.group = Some(e.group.clone());
                    rec.profile_status = Some(ProfileStatus::Updating);
                }
            }
        }
        self.transition(run, rec, action, Outcome::Ok).await
    }
}
