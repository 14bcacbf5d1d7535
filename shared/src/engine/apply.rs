//! Apply: plan one domain from what was observed, carry the plan out, and record every
//! decision. Each record transition (the next version plus the history row that explains it)
//! goes through [`Engine::transition`].

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt};

use super::observe::DomainObservation;
use super::run::InDomain;
use super::{ActionReport, Engine, Outcome, Report, Run, Store, TAG_MANAGED, TAG_USER_ID};
use crate::error::{Result, WardenError};
use crate::ids::{DomainId, UserId};
use crate::model::{
    Attention, DomainDescription, Entitlement, Mode, Phase, ProfileStatus, UserRecord,
};
use crate::planner::{self, Action, DomainState};
use crate::ports::{Directory, HistoryEntry, ProfileSpec, Studio, UpdateOutcome};
use crate::safety;

impl<D: Directory, S: Studio, L: Store> Engine<D, S, L> {
    /// Plans one domain from what was observed; leavers whose group is in doubt are held
    /// back (the safety net) and answered in the report.
    pub(super) fn plan_domain(
        &self,
        run: &Run,
        report: &mut Report,
        domain: &DomainId,
        observed: &DomainObservation,
        approvals: &safety::Approvals,
    ) -> Vec<Action> {
        let state = DomainState {
            domain,
            desired: &observed.desired,
            profiles: &observed.profiles,
            records: &observed.records,
            scope: &observed.scope,
            grace_period: self.policy.offboarding.grace_period,
            retention: self.policy.offboarding.data_retention(),
            now: run.now,
        };
        let actions = planner::plan(&state);
        let domain_name = self
            .policy
            .domains
            .iter()
            .find(|d| d.id == *domain)
            .map(|d| d.name.as_str())
            .unwrap_or_default();
        let (actions, held) = safety::hold_back(domain, actions, |user| {
            let record = observed.records.get(user);
            if approvals.release(record).is_some() {
                return None;
            }
            let group = record.and_then(|r| r.group.as_ref());
            run.resolved.held(&self.policy, domain_name, group)
        });
        for h in &held {
            tracing::warn!(domain = %domain, user = %h.user, action = h.action, reason = %h.reason, "offboarding held back");
        }
        report.held.extend(held);
        actions
    }

    /// Carries out one domain's plan (as the gate left it) and records every decision.
    pub(super) async fn apply_domain(
        &self,
        run: &Run,
        report: &mut Report,
        domain: &DomainId,
        observed: &DomainObservation,
        actions: Vec<Action>,
    ) -> Result<()> {
        if actions.is_empty() {
            return Ok(());
        }
        let dry_run = run.mode == Mode::Plan || self.policy.offboarding.dry_run;
        let info = match &observed.description {
            Some(d) => Some(d.clone()),
            None if dry_run || !actions.iter().any(Action::changes_aws) => None,
            None => Some(self.studio.describe_domain(domain).await?),
        };
        let records = &observed.records;
        let results: Vec<(Action, Result<Outcome>)> = stream::iter(actions)
            .map(|action| {
                let info = info.as_ref();
                async move {
                    if dry_run {
                        return (action, Ok(Outcome::Planned));
                    }
                    if run.past_deadline() {
                        return (action, Ok(Outcome::NotStarted));
                    }
                    let record = action.user().and_then(|u| records.get(u));
                    let at = InDomain { run, domain, info };
                    let outcome = run
                        .bounded(action.kind(), self.execute(at, &action, record))
                        .await;
                    (action, outcome)
                }
            })
            .buffer_unordered(self.options.concurrency)
            .collect()
            .await;
        for (action, outcome) in results {
            let outcome = match outcome {
                Ok(o) => {
                    match &o {
                        Outcome::NotStarted => report.complete = false,
                        // The operator's policy is wrong for AWS: a failure, and not one that
                        // trying again fixes.
                        Outcome::Rejected(why) => report.failures.push(format!(
                            "{domain} {} {:?}: {why}",
                            action.kind(),
                            action.user().map(UserId::as_str)
                        )),
                        _ => {}
                    }
                    o
                }
                Err(WardenError::LedgerConflict { key }) if action.user().is_some() => {
                    // Not a failure: another invocation got there first. This run's view of
                    // the user is stale, so it is read again (see `settle_conflicts`).
                    tracing::info!(domain = %domain, action = action.kind(), key = %key, "ledger record changed by another invocation: re-reading the user");
                    report.conflicted.extend(action.user().into_iter().cloned());
                    Outcome::LedgerConflict
                }
                Err(e) => {
                    tracing::warn!(domain = %domain, action = action.kind(), user = ?action.user(), error = %e, retryable = e.is_retryable(), "action failed");
                    report.retryable_failure |= e.is_retryable();
                    report.failures.push(format!(
                        "{domain} {} {:?}: {e}",
                        action.kind(),
                        action.user().map(UserId::as_str)
                    ));
                    let outcome = Outcome::Failed(e.to_string());
                    if run.mode == Mode::Apply
                        && !self.policy.offboarding.dry_run
                        && let Err(e2) = self.note(run, domain, &action, &outcome).await
                    {
                        tracing::error!(error = %e2, "could not record a failure in the ledger");
                    }
                    outcome
                }
            };
            if dry_run && self.policy.offboarding.dry_run && run.mode == Mode::Apply {
                self.note(run, domain, &action, &Outcome::PlannedByPolicy)
                    .await?;
            }
            if let Action::ReportUnmanaged { profile, status } = &action {
                tracing::warn!(domain = %domain, profile = %profile, status = %status, "unmanaged profile: left alone");
            } else {
                tracing::info!(domain = %domain, action = action.kind(), user = ?action.user().map(UserId::as_str), outcome = %outcome, "decision");
            }
            report.actions.push(ActionReport {
                domain: domain.clone(),
                action,
                outcome,
            });
        }
        super::outcome::sort_actions(&mut report.actions);
        Ok(())
    }

    /// Carries out one action.
    async fn execute(
        &self,
        at: InDomain<'_>,
        action: &Action,
        record: Option<&UserRecord>,
    ) -> Result<Outcome> {
        let InDomain { run, domain, info } = at;
        if let Action::ReportUnmanaged { .. } = action {
            return Ok(Outcome::Reported);
        }
        if let Action::Create {
            user,
            profile,
            entitlement,
            ..
        } = action
        {
            return self
                .create(at, action, user, profile, entitlement, record)
                .await;
        }
        // Every other action continues a record.
        let Some(r) = record else {
            return Ok(Outcome::NoRecord);
        };
        match action {
            // Answered above, before a record was required.
            Action::Create { .. } | Action::ReportUnmanaged { .. } => Ok(Outcome::Reported),
            Action::Update {
                user,
                profile,
                entitlement,
                ..
            } => {
                let spec = self.spec(user, entitlement, info);
                match self.studio.update_profile(domain, profile, &spec).await? {
                    UpdateOutcome::Updated => {
                        run.touched(domain, profile);
                        // UpdateUserProfile takes no tags: the mapping's tags are reconciled
                        // on their own.
                        self.reconcile_tags(domain, profile, &spec).await?;
                        let next = UserRecord {
                            template_hash: Some(entitlement.template_hash.clone()),
                            group: Some(entitlement.group.clone()),
                            profile_status: Some(ProfileStatus::Updating),
                            user_name: entitlement.user_name.clone(),
                            attention: None,
                            ..next(r, run)
                        };
                        self.transition(run, next, action, Outcome::Ok).await
                    }
                    UpdateOutcome::Deferred(why) => {
                        let outcome = Outcome::Deferred(why);
                        self.note(run, domain, action, &outcome).await?;
                        Ok(outcome)
                    }
                    UpdateOutcome::Rejected(why) => {
                        tracing::error!(domain = %domain, profile = %profile, mapping = %entitlement.mapping, error = %why, "SageMaker rejected the mapping's settings: fix the policy");
                        let next = UserRecord {
                            attention: Some(Attention::SettingsRejected {
                                template_hash: entitlement.template_hash.clone(),
                                message: why.clone(),
                            }),
                            ..next(r, run)
                        };
                        self.transition(run, next, action, Outcome::Rejected(why))
                            .await
                    }
                }
            }
            Action::Record {
                status, user_name, ..
            } => {
                let next = UserRecord {
                    profile_status: status.clone().or_else(|| r.profile_status.clone()),
                    user_name: user_name.clone().unwrap_or_else(|| r.user_name.clone()),
                    ..next(r, run)
                };
                // A status change is bookkeeping, not a decision: no history row.
                self.put(run, &next).await?;
                Ok(Outcome::Ok)
            }
            Action::StartGrace { .. } => {
                let next = UserRecord {
                    phase: Phase::Grace { since: run.now },
                    attention: None,
                    ..next(r, run)
                };
                self.transition(run, next, action, Outcome::Ok).await
            }
            Action::Restore {
                user,
                profile,
                entitlement,
                ..
            } => {
                self.restore(at, action, user, profile, entitlement, r)
                    .await
            }
            Action::Forget { user, .. } => {
                // No profile is left, but an SSO-mode domain's application assignment may be
                // (SageMaker makes a new profile at the next sign-in): it goes too, after a
                // last look at the directory, as in a suspension.
                if let Some(app) = info.and_then(|i| i.sso_application_arn.as_deref()) {
                    if self.entitled_now(at, user).await? {
                        return Ok(Outcome::Halted);
                    }
                    self.studio.unassign(app, user).await?;
                }
                let next = UserRecord {
                    phase: Phase::Offboarded { at: run.now },
                    profile_status: None,
                    attention: None,
                    ..next(r, run)
                };
                self.transition(run, next, action, Outcome::Ok).await
            }
            Action::Suspend { user, profile, .. } => {
                self.suspend(at, action, user, profile, r).await
            }
            Action::Offboard { user, profile, .. } => {
                self.offboard(at, action, user, profile, r).await
            }
        }
    }

    /// Writes the next version of a record and the history row that explains it, atomically,
    /// and answers the outcome it recorded.
    pub(super) async fn transition(
        &self,
        run: &Run,
        next: UserRecord,
        action: &Action,
        outcome: Outcome,
    ) -> Result<Outcome> {
        let mut next = next;
        // An approval carries one leaving through the deletion threshold: set by the start it
        // released, kept through the stages after it, ended when the user is Active again.
        next.released_by = match (&next.phase, action.released_by()) {
            (Phase::Creating | Phase::Active, _) => None,
            (_, Some(hold)) => Some(hold.to_owned()),
            (_, None) => next.released_by,
        };
        let entry = self.history(run, &next.domain, &next.user, action, &outcome);
        self.ledger.commit(&next, &entry).await?;
        run.wrote(&next);
        Ok(outcome)
    }

    /// Writes a record with no history row (a claim, or bookkeeping).
    pub(super) async fn put(&self, run: &Run, record: &UserRecord) -> Result<()> {
        self.ledger.put_record(record).await?;
        run.wrote(record);
        Ok(())
    }

    /// Appends a history row for an outcome that changes no record (a deferral, a refusal, a
    /// failure).
    pub(super) async fn note(
        &self,
        run: &Run,
        domain: &DomainId,
        action: &Action,
        outcome: &Outcome,
    ) -> Result<()> {
        let Some(user) = action.user() else {
            return Ok(());
        };
        self.ledger
            .append(&self.history(run, domain, user, action, outcome))
            .await
    }

    fn history(
        &self,
        run: &Run,
        domain: &DomainId,
        user: &UserId,
        action: &Action,
        outcome: &Outcome,
    ) -> HistoryEntry {
        let (profile, reason) = match action {
            Action::Create {
                profile, reason, ..
            }
            | Action::Update {
                profile, reason, ..
            }
            | Action::Record {
                profile, reason, ..
            }
            | Action::StartGrace {
                profile, reason, ..
            }
            | Action::Restore {
                profile, reason, ..
            }
            | Action::Suspend {
                profile, reason, ..
            }
            | Action::Offboard {
                profile, reason, ..
            }
            | Action::Forget {
                profile, reason, ..
            } => (Some(profile.clone()), reason.clone()),
            Action::ReportUnmanaged { profile, .. } => (Some(profile.clone()), "unmanaged".into()),
        };
        HistoryEntry {
            user: user.clone(),
            domain: domain.clone(),
            profile,
            action: action.kind().to_owned(),
            reason,
            trigger: run.trigger.clone(),
            outcome: outcome.to_string(),
            at: run.now,
        }
    }

    /// What SageMaker is asked for: the mapping's settings and tags, the ownership tags, and
    /// for SSO-mode domains the Identity Center user name.
    pub(super) fn spec(
        &self,
        user: &UserId,
        e: &Entitlement,
        info: Option<&DomainDescription>,
    ) -> ProfileSpec {
        let mut tags: BTreeMap<String, String> = e.template.tags.clone();
        tags.insert(TAG_MANAGED.into(), "true".into());
        tags.insert(TAG_USER_ID.into(), user.as_str().to_owned());
        let sso = info.is_some_and(|i| i.auth_mode == "SSO");
        ProfileSpec {
            template: e.template.clone(),
            tags,
            sso_user_name: sso.then(|| e.user_name.clone()),
        }
    }
}

/// The next version of a record, stamped with the run's clock.
pub(super) fn next(r: &UserRecord, run: &Run) -> UserRecord {
    UserRecord {
        version: r.version + 1,
        updated_at: run.now,
        ..r.clone()
    }
}
