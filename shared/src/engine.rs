//! The engine: subjects -> observe -> plan -> apply -> record.
//!
//! Level-triggered: an event only names the subjects to look at. The engine re-reads the
//! Identity Store, SageMaker and the ledger, asks the pure planner what to do, and does it.
//! The event handler, the sweep and the dry-run plan share this one code path.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use tokio::time::Instant;

use crate::desired::{ResolvedMappings, entitlements};
use crate::error::{Result, WardenError};
use crate::events::{Change, Inbound, Subject, SweepMode};
use crate::ids::{DomainId, GroupId, ResourceName, UserId};
use crate::model::{
    Entitlement, Epoch, OffboardStep, Phase, ProfileStatus, ProfileSummary, Scope, User, UserRecord,
};
use crate::planner::{self, Action, DomainState};
use crate::policy::{GroupRef, Policy, Removal};
use crate::ports::{
    CreateOutcome, Directory, DomainInfo, HistoryEntry, Ledger, ProfileSpec, Studio, SweepSummary,
    UpdateOutcome,
};

/// The tag that marks a profile as studio-warden's.
pub const TAG_MANAGED: &str = "studio-warden:managed";
/// The tag that names the Identity Store user a managed profile belongs to.
pub const TAG_USER_ID: &str = "studio-warden:user-id";

/// How long a handled event id is remembered.
pub const EVENT_TTL_SECS: i64 = 7 * 24 * 3600;

/// Tunables of a run.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Users worked on at once. SageMaker's and Identity Center's rate limits are low; the SDK's
    /// adaptive retry backs off on throttling, this bounds the burst.
    pub concurrency: usize,
    /// Stop starting new work when less than this is left before the deadline.
    pub deadline_margin: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            deadline_margin: Duration::from_secs(20),
        }
    }
}

/// Everything a run needs: the policy and one adapter per port.
pub struct Engine<D, S, L> {
    pub policy: Arc<Policy>,
    pub directory: D,
    pub studio: S,
    pub ledger: L,
    pub options: EngineOptions,
}

/// Whether a run acts or only plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Apply,
    /// Compute the plan; write nothing anywhere.
    Plan,
}

/// One planned action and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct ActionReport {
    pub domain: DomainId,
    #[serde(flatten)]
    pub action: Action,
    pub outcome: String,
}

/// What a run did (or, in plan mode, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub trigger: String,
    pub mode: Mode,
    /// False when the run stopped before the deadline with work left for the next run.
    pub complete: bool,
    pub actions: Vec<ActionReport>,
    /// Why nothing was done, for skipped and duplicate events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Failures, one line each; the run went on past them.
    pub failures: Vec<String>,
    /// Whether some failure may go away if the same input is tried again.
    #[serde(skip)]
    pub retryable_failure: bool,
    /// Users whose record another invocation changed between this run's read and its write:
    /// re-read and reconciled once more before the run ends.
    #[serde(skip)]
    conflicted: BTreeSet<UserId>,
}

impl Report {
    fn new(trigger: &str, mode: Mode) -> Self {
        Self {
            trigger: trigger.to_owned(),
            mode,
            complete: true,
            actions: Vec::new(),
            skipped: None,
            failures: Vec::new(),
            retryable_failure: false,
            conflicted: BTreeSet::new(),
        }
    }

    fn skipped(trigger: &str, why: String) -> Self {
        let mut r = Self::new(trigger, Mode::Apply);
        r.skipped = Some(why);
        r
    }

    /// Counts of actions by kind.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for a in &self.actions {
            *out.entry(a.action.kind().to_owned()).or_insert(0) += 1;
        }
        out
    }
}

/// What one domain looks like to the planner.
struct DomainObservation {
    desired: BTreeMap<UserId, Entitlement>,
    profiles: BTreeMap<ResourceName, ProfileSummary>,
    records: BTreeMap<UserId, UserRecord>,
    scope: Scope,
}

/// What the engine observed about the users it looks at.
struct Observed {
    resolved: ResolvedMappings,
    /// Entitlements per domain, per user.
    desired: BTreeMap<DomainId, BTreeMap<UserId, Entitlement>>,
}

impl<D: Directory, S: Studio, L: Ledger> Engine<D, S, L> {
    /// Handles one classified input: an event, a sweep request, or a skip.
    pub async fn handle(
        &self,
        inbound: Inbound,
        now: Epoch,
        deadline: Option<Instant>,
    ) -> Result<Report> {
        match inbound {
            Inbound::Skip(skip) => {
                let trigger = skip.event_id.clone().unwrap_or_else(|| "-".into());
                tracing::info!(reason = ?skip.reason, "event skipped");
                Ok(Report::skipped(&trigger, format!("{:?}", skip.reason)))
            }
            Inbound::Sweep(req) => {
                let mode = match req.mode {
                    SweepMode::Apply => Mode::Apply,
                    SweepMode::Plan => Mode::Plan,
                };
                let trigger = req
                    .trigger_id
                    .unwrap_or_else(|| format!("sweep-{}", ulid::Ulid::generate()));
                self.sweep(&trigger, mode, now, deadline).await
            }
            Inbound::Change(change) => self.on_change(change, now, deadline).await,
        }
    }

    async fn on_change(
        &self,
        change: Change,
        now: Epoch,
        deadline: Option<Instant>,
    ) -> Result<Report> {
        let trigger = change.event_id.clone();
        if self.ledger.event_seen(&trigger).await? {
            tracing::info!(event_id = %trigger, "event already handled: redelivery ignored");
            return Ok(Report::skipped(
                &trigger,
                "already handled (redelivery)".into(),
            ));
        }
        let mut users = BTreeSet::new();
        let mut groups = BTreeSet::new();
        let mut unresolved = false;
        for subject in &change.subjects {
            match subject {
                Subject::User(u) => {
                    users.insert(u.clone());
                }
                Subject::Group(g) => {
                    groups.insert(g.clone());
                }
                Subject::NewMembership {
                    membership,
                    group,
                    user,
                } => {
                    self.ledger
                        .remember_membership(membership, group, user)
                        .await?;
                    users.insert(user.clone());
                }
                Subject::Membership(m) => match self.ledger.membership(m).await? {
                    Some((_, user)) => {
                        users.insert(user);
                    }
                    None => {
                        tracing::info!(membership = %m, "membership id unknown to the ledger: re-reading every mapped group");
                        unresolved = true;
                    }
                },
                Subject::Domain(_) | Subject::Profile { .. } | Subject::SecurityGroup(_) => {
                    tracing::info!(?subject, "drift subject: not a membership change");
                }
            }
        }
        let report = if unresolved {
            self.reconcile_all(&trigger, Mode::Apply, now, deadline, None)
                .await?
        } else if !groups.is_empty() {
            self.reconcile_all(&trigger, Mode::Apply, now, deadline, Some((groups, users)))
                .await?
        } else if !users.is_empty() {
            self.reconcile_users(&trigger, Mode::Apply, &users, now, deadline)
                .await?
        } else {
            Report::skipped(&trigger, "no identity subject in the event".into())
        };
        let report = self.settle_conflicts(report, now, deadline).await?;
        if report.complete && report.failures.is_empty() {
            self.ledger
                .mark_event(&trigger, now, EVENT_TTL_SECS)
                .await?;
        }
        Ok(report)
    }

    /// The sweep: every mapped group, every domain.
    pub async fn sweep(
        &self,
        trigger: &str,
        mode: Mode,
        now: Epoch,
        deadline: Option<Instant>,
    ) -> Result<Report> {
        let started = now;
        let report = self
            .reconcile_all(trigger, mode, now, deadline, None)
            .await?;
        let report = self.settle_conflicts(report, now, deadline).await?;
        let counts = report.counts();
        tracing::info!(
            sweep_id = trigger,
            mode = ?mode,
            complete = report.complete,
            failures = report.failures.len(),
            actions = ?counts,
            "sweep finished"
        );
        if mode == Mode::Apply {
            let summary = SweepSummary {
                sweep_id: trigger.to_owned(),
                mode: "apply".into(),
                started_at: started,
                finished_at: time::OffsetDateTime::now_utc().unix_timestamp(),
                complete: report.complete,
                unmanaged: counts.get("ReportUnmanaged").copied().unwrap_or(0),
                actions: counts,
                failures: report.failures.len() as u64,
            };
            self.ledger.record_sweep(&summary).await?;
        }
        Ok(report)
    }

    /// Optimistic concurrency's second half: the users whose record another invocation
    /// changed under this run are re-read (directory, profile, record) and reconciled once
    /// more, from the truth as it is now. If one conflicts again, that is a (retryable)
    /// failure of this run; the next run or the redelivered event settles it.
    async fn settle_conflicts(
        &self,
        mut report: Report,
        now: Epoch,
        deadline: Option<Instant>,
    ) -> Result<Report> {
        let users = std::mem::take(&mut report.conflicted);
        if users.is_empty() {
            return Ok(report);
        }
        tracing::info!(
            users = users.len(),
            "re-reading users another invocation changed under this run"
        );
        let mut again = self
            .reconcile_users(&report.trigger, report.mode, &users, now, deadline)
            .await?;
        for user in std::mem::take(&mut again.conflicted) {
            report.retryable_failure = true;
            report.failures.push(format!(
                "{}: the ledger record changed twice under this run; left to the next run",
                user.as_str()
            ));
        }
        report.complete &= again.complete;
        report.retryable_failure |= again.retryable_failure;
        report.failures.extend(again.failures);
        report.actions.extend(again.actions);
        Ok(report)
    }

    /// Resolves the policy's group references (display names cost one call each).
    async fn resolve_mappings(&self) -> Result<ResolvedMappings> {
        let mut ids: BTreeMap<GroupRef, Option<GroupId>> = BTreeMap::new();
        for m in &self.policy.mappings {
            if ids.contains_key(&m.group) {
                continue;
            }
            let id = match &m.group {
                GroupRef::Id(id) => Some(id.clone()),
                GroupRef::DisplayName(name) => self.directory.group_id(name).await?,
            };
            if id.is_none() {
                tracing::warn!(group = %m.group, "mapped group does not exist in the Identity Store");
            }
            ids.insert(m.group.clone(), id);
        }
        Ok(ResolvedMappings::new(&self.policy, |g| {
            ids.get(g).cloned().flatten()
        }))
    }

    /// Reconciles some users, each observed on its own: the event path.
    pub async fn reconcile_users(
        &self,
        trigger: &str,
        mode: Mode,
        users: &BTreeSet<UserId>,
        now: Epoch,
        deadline: Option<Instant>,
    ) -> Result<Report> {
        let resolved = self.resolve_mappings().await?;
        let mut observed = Observed {
            resolved,
            desired: BTreeMap::new(),
        };
        for user in users {
            let found = self.directory.user(user).await?;
            let groups: BTreeSet<GroupId> = match &found {
                Some(u) if u.enabled => self.directory.groups_of(user).await?.into_iter().collect(),
                _ => BTreeSet::new(),
            };
            let u = found.unwrap_or_else(|| User {
                id: user.clone(),
                user_name: String::new(),
                enabled: false,
            });
            for (domain, e) in entitlements(&self.policy, &observed.resolved, &u, &groups) {
                observed
                    .desired
                    .entry(domain)
                    .or_default()
                    .insert(user.clone(), e);
            }
        }
        let scope = Scope::Users(users.clone());
        let mut report = Report::new(trigger, mode);
        for domain in &self.policy.domains {
            let desired = observed.desired.remove(&domain.id).unwrap_or_default();
            let mut records = BTreeMap::new();
            let mut profiles = BTreeMap::new();
            for user in users {
                let record = self.ledger.record(&domain.id, user).await?;
                let name = match (&record, desired.get(user)) {
                    (Some(r), _) => Some(r.profile.clone()),
                    (None, Some(e)) => Some(crate::naming::profile_name(&e.user_name, user)),
                    (None, None) => None,
                };
                if let Some(name) = name
                    && let Some(p) = self.studio.describe_profile(&domain.id, &name).await?
                {
                    profiles.insert(name, p);
                }
                if let Some(r) = record {
                    records.insert(user.clone(), r);
                }
            }
            let observed = DomainObservation {
                desired,
                profiles,
                records,
                scope: scope.clone(),
            };
            self.plan_and_apply(&mut report, &domain.id, &observed, mode, now, deadline)
                .await?;
        }
        Ok(report)
    }

    /// Reconciles from complete listings: the sweep, and events that name groups.
    /// `only` restricts the users acted on to the members of these groups (plus these users and
    /// whoever the ledger says got a profile through one of the groups).
    async fn reconcile_all(
        &self,
        trigger: &str,
        mode: Mode,
        now: Epoch,
        deadline: Option<Instant>,
        only: Option<(BTreeSet<GroupId>, BTreeSet<UserId>)>,
    ) -> Result<Report> {
        let resolved = self.resolve_mappings().await?;
        let mut report = Report::new(trigger, mode);

        // Identity side: one pass over the users, one per mapped group.
        let mut groups_of: BTreeMap<UserId, BTreeSet<GroupId>> = BTreeMap::new();
        let mut members_of_named: BTreeSet<UserId> = BTreeSet::new();
        let mut wanted_groups: Vec<GroupId> = resolved.groups().cloned().collect();
        if let Some((named, _)) = &only {
            wanted_groups.extend(named.iter().filter(|g| !resolved.is_mapped(g)).cloned());
        }
        let member_lists: Vec<(GroupId, Vec<_>)> = stream::iter(wanted_groups)
            .map(|g| async move { self.directory.members_of(&g).await.map(|m| (g, m)) })
            .buffer_unordered(self.options.concurrency)
            .try_collect()
            .await?;
        for (group, members) in member_lists {
            let named = only.as_ref().is_some_and(|(gs, _)| gs.contains(&group));
            for (_, user) in members {
                if named {
                    members_of_named.insert(user.clone());
                }
                groups_of.entry(user).or_default().insert(group.clone());
            }
        }
        // The ledger, domain by domain: a group-scoped run needs it to find who got a profile
        // through one of the named groups (SCIM hides the members an event removed).
        let mut records_by_domain: BTreeMap<DomainId, BTreeMap<UserId, UserRecord>> =
            BTreeMap::new();
        for domain in &self.policy.domains {
            let records = self.ledger.records(&domain.id).await?;
            records_by_domain.insert(
                domain.id.clone(),
                records.into_iter().map(|r| (r.user.clone(), r)).collect(),
            );
        }
        let scope_users: Option<BTreeSet<UserId>> = only.as_ref().map(|(groups, extra)| {
            let mut users = members_of_named.clone();
            users.extend(extra.iter().cloned());
            users.extend(
                records_by_domain
                    .values()
                    .flat_map(|records| records.values())
                    .filter(|r| r.group.as_ref().is_some_and(|g| groups.contains(g)))
                    .map(|r| r.user.clone()),
            );
            users
        });
        // Users: the sweep lists them all (one paginated pass, no per-user calls); a group event
        // describes only the users it concerns, so that one event never pays for the whole store.
        let mut users: BTreeMap<UserId, User> = match &scope_users {
            None => self
                .directory
                .users()
                .await?
                .into_iter()
                .map(|u| (u.id.clone(), u))
                .collect(),
            Some(_) => BTreeMap::new(),
        };
        let to_describe: Vec<UserId> = match &scope_users {
            None => groups_of
                .keys()
                .filter(|u| !users.contains_key(*u))
                .cloned()
                .collect(),
            Some(scope) => scope.iter().cloned().collect(),
        };
        let described: Vec<Option<User>> = stream::iter(to_describe)
            .map(|u| async move { self.directory.user(&u).await })
            .buffer_unordered(self.options.concurrency)
            .try_collect()
            .await?;
        users.extend(described.into_iter().flatten().map(|u| (u.id.clone(), u)));
        let mut desired: BTreeMap<DomainId, BTreeMap<UserId, Entitlement>> = BTreeMap::new();
        for (user_id, groups) in &groups_of {
            let Some(user) = users.get(user_id) else {
                continue;
            };
            for (domain, e) in entitlements(&self.policy, &resolved, user, groups) {
                desired
                    .entry(domain)
                    .or_default()
                    .insert(user_id.clone(), e);
            }
        }

        for domain in &self.policy.domains {
            if past(deadline, self.options.deadline_margin) {
                report.complete = false;
                break;
            }
            let profiles: BTreeMap<ResourceName, ProfileSummary> = self
                .studio
                .list_profiles(&domain.id)
                .await?
                .into_iter()
                .map(|p| (p.name.clone(), p))
                .collect();
            let records = records_by_domain.remove(&domain.id).unwrap_or_default();
            let desired = desired.remove(&domain.id).unwrap_or_default();
            let scope = match &scope_users {
                None => Scope::All,
                Some(users) => Scope::Users(users.clone()),
            };
            let observed = DomainObservation {
                desired,
                profiles,
                records,
                scope,
            };
            self.plan_and_apply(&mut report, &domain.id, &observed, mode, now, deadline)
                .await?;
        }
        Ok(report)
    }

    /// Plans one domain from what was observed, then applies the plan.
    async fn plan_and_apply(
        &self,
        report: &mut Report,
        domain: &DomainId,
        observed: &DomainObservation,
        mode: Mode,
        now: Epoch,
        deadline: Option<Instant>,
    ) -> Result<()> {
        let state = DomainState {
            domain,
            desired: &observed.desired,
            profiles: &observed.profiles,
            records: &observed.records,
            scope: &observed.scope,
            grace_period: self.policy.offboarding.grace_period,
            now,
        };
        let actions = planner::plan(&state);
        self.apply(
            report,
            domain,
            actions,
            &observed.records,
            mode,
            now,
            deadline,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply(
        &self,
        report: &mut Report,
        domain: &DomainId,
        actions: Vec<Action>,
        records: &BTreeMap<UserId, UserRecord>,
        mode: Mode,
        now: Epoch,
        deadline: Option<Instant>,
    ) -> Result<()> {
        if actions.is_empty() {
            return Ok(());
        }
        let dry_run = mode == Mode::Plan || self.policy.offboarding.dry_run;
        let info = if dry_run || !actions.iter().any(Action::changes_sagemaker) {
            None
        } else {
            Some(self.studio.describe_domain(domain).await?)
        };
        let trigger = report.trigger.clone();
        let results: Vec<(Action, std::result::Result<String, WardenError>)> =
            stream::iter(actions)
                .map(|action| {
                    let info = info.as_ref();
                    let trigger = trigger.as_str();
                    async move {
                        if dry_run {
                            return (action, Ok("planned".to_owned()));
                        }
                        if past(deadline, self.options.deadline_margin) {
                            return (action, Ok("not started: deadline".to_owned()));
                        }
                        let record = action.user().and_then(|u| records.get(u));
                        let outcome = self
                            .execute(domain, info, &action, record, trigger, now)
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
                    if o.starts_with("not started") {
                        report.complete = false;
                    }
                    o
                }
                Err(WardenError::LedgerConflict { key }) if action.user().is_some() => {
                    // Not a failure: another invocation got there first. This run's view of
                    // the user is stale, so it is read again (see `settle_conflicts`).
                    tracing::info!(domain = %domain, action = action.kind(), key = %key, "ledger record changed by another invocation: re-reading the user");
                    report.conflicted.extend(action.user().into_iter().cloned());
                    "conflict: another invocation changed the record first; re-read".to_owned()
                }
                Err(e) => {
                    tracing::warn!(domain = %domain, action = action.kind(), user = ?action.user(), error = %e, retryable = e.is_retryable(), "action failed");
                    report.retryable_failure |= e.is_retryable();
                    report.failures.push(format!(
                        "{domain} {} {:?}: {e}",
                        action.kind(),
                        action.user().map(UserId::as_str)
                    ));
                    if mode == Mode::Apply
                        && !self.policy.offboarding.dry_run
                        && let Some(user) = action.user()
                    {
                        let entry = self.history(
                            domain,
                            user,
                            &action,
                            &trigger,
                            format!("failed: {e}"),
                            now,
                        );
                        if let Err(e2) = self.ledger.append(&entry).await {
                            tracing::error!(error = %e2, "could not record a failure in the ledger");
                        }
                    }
                    format!("failed: {e}")
                }
            };
            if dry_run
                && self.policy.offboarding.dry_run
                && mode == Mode::Apply
                && let Some(user) = action.user()
            {
                let entry = self.history(
                    domain,
                    user,
                    &action,
                    &trigger,
                    "planned (policy dry_run)".into(),
                    now,
                );
                self.ledger.append(&entry).await?;
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
        report.actions.sort_by(|a, b| {
            (
                a.domain.as_str(),
                a.action.user().map(UserId::as_str),
                a.action.kind(),
            )
                .cmp(&(
                    b.domain.as_str(),
                    b.action.user().map(UserId::as_str),
                    b.action.kind(),
                ))
        });
        Ok(())
    }

    fn history(
        &self,
        domain: &DomainId,
        user: &UserId,
        action: &Action,
        trigger: &str,
        outcome: String,
        now: Epoch,
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
            trigger: trigger.to_owned(),
            outcome,
            at: now,
        }
    }

    /// Writes the next version of a record and the history row that explains it, atomically.
    async fn commit(&self, next: UserRecord, entry: HistoryEntry) -> Result<()> {
        self.ledger.commit(&next, &entry).await
    }

    fn spec(&self, user: &UserId, e: &Entitlement, info: Option<&DomainInfo>) -> ProfileSpec {
        let mut tags = e.template.tags.clone();
        tags.insert(TAG_MANAGED.into(), "true".into());
        tags.insert(TAG_USER_ID.into(), user.as_str().to_owned());
        let sso = info.is_some_and(|i| i.auth_mode == "SSO");
        ProfileSpec {
            template: e.template.clone(),
            tags,
            sso_user_name: sso.then(|| e.user_name.clone()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn execute(
        &self,
        domain: &DomainId,
        info: Option<&DomainInfo>,
        action: &Action,
        record: Option<&UserRecord>,
        trigger: &str,
        now: Epoch,
    ) -> Result<String> {
        let next = |r: &UserRecord| UserRecord {
            version: r.version + 1,
            updated_at: now,
            ..r.clone()
        };
        match action {
            Action::ReportUnmanaged { .. } => Ok("reported".into()),
            Action::Create {
                user,
                profile,
                entitlement,
                ..
            } => {
                self.create(
                    domain,
                    info,
                    user,
                    profile,
                    entitlement,
                    record,
                    action,
                    trigger,
                    now,
                )
                .await
            }
            Action::Update {
                user,
                profile,
                entitlement,
                ..
            } => {
                let Some(r) = record else {
                    return Ok("skipped: no ledger record".into());
                };
                let spec = self.spec(user, entitlement, info);
                match self.studio.update_profile(domain, profile, &spec).await? {
                    UpdateOutcome::Updated => {
                        let rec = UserRecord {
                            template_hash: Some(entitlement.template_hash.clone()),
                            group: Some(entitlement.group.clone()),
                            profile_status: Some(ProfileStatus::Updating),
                            user_name: entitlement.user_name.clone(),
                            ..next(r)
                        };
                        self.commit(
                            rec,
                            self.history(domain, user, action, trigger, "ok".into(), now),
                        )
                        .await?;
                        Ok("ok".into())
                    }
                    UpdateOutcome::Deferred(why) => {
                        let outcome = format!("deferred: {why}");
                        self.ledger
                            .append(&self.history(
                                domain,
                                user,
                                action,
                                trigger,
                                outcome.clone(),
                                now,
                            ))
                            .await?;
                        Ok(outcome)
                    }
                }
            }
            Action::Record {
                status, user_name, ..
            } => {
                let Some(r) = record else {
                    return Ok("skipped: no ledger record".into());
                };
                let rec = UserRecord {
                    profile_status: status.clone().or_else(|| r.profile_status.clone()),
                    user_name: user_name.clone().unwrap_or_else(|| r.user_name.clone()),
                    ..next(r)
                };
                // A status change is bookkeeping, not a decision: no history row.
                self.ledger.put_record(&rec).await?;
                Ok("ok".into())
            }
            Action::StartGrace { user, .. } => {
                let Some(r) = record else {
                    return Ok("skipped: no ledger record".into());
                };
                let rec = UserRecord {
                    phase: Phase::Grace { since: now },
                    ..next(r)
                };
                self.commit(
                    rec,
                    self.history(domain, user, action, trigger, "ok".into(), now),
                )
                .await?;
                Ok("ok".into())
            }
            Action::Restore {
                user, entitlement, ..
            } => {
                let Some(r) = record else {
                    return Ok("skipped: no ledger record".into());
                };
                // Offboarding may have removed the SSO assignment already (or a suspension
                // did): give it back. Assigning is idempotent.
                if let Some(app) = info.and_then(|i| i.sso_application_arn.as_deref()) {
                    self.studio.assign(app, user).await?;
                }
                let rec = UserRecord {
                    phase: Phase::Active,
                    user_name: entitlement.user_name.clone(),
                    ..next(r)
                };
                self.commit(
                    rec,
                    self.history(domain, user, action, trigger, "ok".into(), now),
                )
                .await?;
                Ok("ok".into())
            }
            Action::Forget { user, .. } => {
                let Some(r) = record else {
                    return Ok("skipped: no ledger record".into());
                };
                let rec = UserRecord {
                    phase: Phase::Offboarded { at: now },
                    profile_status: None,
                    ..next(r)
                };
                self.commit(
                    rec,
                    self.history(domain, user, action, trigger, "ok".into(), now),
                )
                .await?;
                Ok("ok".into())
            }
            Action::Offboard { user, profile, .. } => {
                let Some(r) = record else {
                    return Ok("skipped: no ledger record".into());
                };
                self.offboard(domain, info, user, profile, r, action, trigger, now)
                    .await
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn create(
        &self,
        domain: &DomainId,
        info: Option<&DomainInfo>,
        user: &UserId,
        profile: &ResourceName,
        e: &Entitlement,
        record: Option<&UserRecord>,
        action: &Action,
        trigger: &str,
        now: Epoch,
    ) -> Result<String> {
        // 1. Claim the name in the ledger, so that two invocations never create two profiles
        //    for one user (for example across a rename).
        let claimed = match record {
            Some(r) if r.phase == Phase::Creating => r.clone(),
            Some(r) => {
                let rec = UserRecord {
                    phase: Phase::Creating,
                    version: r.version + 1,
                    updated_at: now,
                    ..r.clone()
                };
                self.ledger.put_record(&rec).await?;
                rec
            }
            None => {
                let rec = UserRecord {
                    domain: domain.clone(),
                    user: user.clone(),
                    user_name: e.user_name.clone(),
                    profile: profile.clone(),
                    phase: Phase::Creating,
                    group: Some(e.group.clone()),
                    template_hash: None,
                    profile_status: None,
                    version: 1,
                    updated_at: now,
                };
                match self.ledger.put_record(&rec).await {
                    Ok(()) => rec,
                    Err(WardenError::LedgerConflict { .. }) => {
                        return Ok("skipped: another invocation claimed this user first".into());
                    }
                    Err(err) => return Err(err),
                }
            }
        };
        // 2. SSO-mode domains: the assignment comes before the profile (AWS's documented order).
        if let Some(app) = info.and_then(|i| i.sso_application_arn.as_deref()) {
            self.studio.assign(app, user).await?;
        }
        // 3. The profile. A name already taken is fine only if the profile is ours.
        let spec = self.spec(user, e, info);
        let outcome = match self.studio.create_profile(domain, profile, &spec).await? {
            CreateOutcome::Created => "ok",
            CreateOutcome::AlreadyExists => {
                let tags = self
                    .studio
                    .profile_tags(domain, profile)
                    .await?
                    .unwrap_or_default();
                if tags.get(TAG_USER_ID).map(String::as_str) != Some(user.as_str()) {
                    let outcome = format!(
                        "conflict: profile {profile} exists and is not studio-warden's profile for this user; left alone"
                    );
                    self.ledger
                        .append(&self.history(domain, user, action, trigger, outcome.clone(), now))
                        .await?;
                    return Ok(outcome);
                }
                "ok (already existed: adopted)"
            }
        };
        // 4. Record it. The profile is Pending; the sweep confirms InService later.
        let rec = UserRecord {
            phase: Phase::Active,
            user_name: e.user_name.clone(),
            group: Some(e.group.clone()),
            template_hash: Some(e.template_hash.clone()),
            profile_status: Some(ProfileStatus::Pending),
            version: claimed.version + 1,
            updated_at: now,
            ..claimed
        };
        self.commit(
            rec,
            self.history(domain, user, action, trigger, outcome.into(), now),
        )
        .await?;
        Ok(outcome.into())
    }

    /// One pass of the offboarding state machine: apps, private spaces, SSO assignment,
    /// profile, record. Each step is idempotent; whatever is still being deleted is waited for
    /// by the next sweep or event.
    #[allow(clippy::too_many_arguments)]
    async fn offboard(
        &self,
        domain: &DomainId,
        info: Option<&DomainInfo>,
        user: &UserId,
        profile: &ResourceName,
        r: &UserRecord,
        action: &Action,
        trigger: &str,
        now: Epoch,
    ) -> Result<String> {
        // Never touch a profile that is not ours.
        // (A profile that no longer exists has nothing left to protect.)
        let tags = self.studio.profile_tags(domain, profile).await?;
        if tags.is_some_and(|t| t.get(TAG_USER_ID).map(String::as_str) != Some(user.as_str())) {
            let outcome =
                "refused: the profile lacks studio-warden's ownership tag for this user".to_owned();
            self.ledger
                .append(&self.history(domain, user, action, trigger, outcome.clone(), now))
                .await?;
            return Ok(outcome);
        }
        // A last look at the truth: never delete an entitled user's profile.
        if let Some(u) = self.directory.user(user).await?
            && u.enabled
        {
            let groups: BTreeSet<GroupId> =
                self.directory.groups_of(user).await?.into_iter().collect();
            let resolved = self.resolve_mappings().await?;
            if entitlements(&self.policy, &resolved, &u, &groups).contains_key(domain) {
                return Ok("halted: the user is entitled again".into());
            }
        }
        let since = match r.phase {
            Phase::Offboarding { since, .. } => since,
            _ => now,
        };
        let step_record = |step: OffboardStep| UserRecord {
            phase: Phase::Offboarding { since, step },
            version: r.version + 1,
            updated_at: now,
            ..r.clone()
        };
        let progress = |step: OffboardStep, outcome: String| async move {
            if r.phase != (Phase::Offboarding { since, step }) {
                self.commit(
                    step_record(step),
                    self.history(domain, user, action, trigger, outcome.clone(), now),
                )
                .await?;
            }
            Ok::<String, WardenError>(outcome)
        };

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
                format!("in progress: {} app(s) deleting", apps.len()),
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
            let outcome = if remove_profile {
                format!("in progress: {busy_spaces} private space(s) deleting")
            } else {
                format!("in progress: apps of {busy_spaces} private space(s) deleting")
            };
            return progress(OffboardStep::DeletingSpaces, outcome).await;
        }
        // 3. The Identity Center application assignment (SSO-mode domains).
        if let Some(app) = info.and_then(|i| i.sso_application_arn.as_deref()) {
            self.studio.unassign(app, user).await?;
        }
        // 4. The profile, unless the policy keeps it (suspension).
        if !remove_profile {
            let rec = UserRecord {
                phase: Phase::Suspended { at: now },
                version: r.version + 1,
                updated_at: now,
                ..r.clone()
            };
            let outcome =
                "suspended: apps and access removed; profile, spaces and home kept by policy";
            self.commit(
                rec,
                self.history(domain, user, action, trigger, outcome.into(), now),
            )
            .await?;
            return Ok(outcome.into());
        }
        // 4. The profile.
        match self.studio.describe_profile(domain, profile).await? {
            Some(p) if p.status == ProfileStatus::Deleting => {
                return progress(
                    OffboardStep::DeletingProfile,
                    "in progress: profile deleting".into(),
                )
                .await;
            }
            Some(_) => {
                let started = self.studio.delete_profile(domain, profile).await?;
                let outcome = if started {
                    "in progress: profile deleting"
                } else {
                    "waiting: SageMaker still sees apps or spaces"
                };
                return progress(OffboardStep::DeletingProfile, outcome.into()).await;
            }
            None => {}
        }
        // 5. Done.
        let rec = UserRecord {
            phase: Phase::Offboarded { at: now },
            profile_status: None,
            version: r.version + 1,
            updated_at: now,
            ..r.clone()
        };
        self.commit(
            rec,
            self.history(domain, user, action, trigger, "offboarded".into(), now),
        )
        .await?;
        Ok("offboarded".into())
    }
}

fn past(deadline: Option<Instant>, margin: Duration) -> bool {
    deadline.is_some_and(|d| Instant::now() + margin >= d)
}
