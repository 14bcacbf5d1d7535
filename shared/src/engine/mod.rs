//! The engine: subjects -> observe -> plan -> apply -> record.
//!
//! Level-triggered: an event only names the subjects to look at. The engine re-reads the
//! Identity Store, SageMaker and the ledger, asks the pure planner what to do, and does it.
//! The event handler, the sweep and the dry-run plan share this one code path, phase by phase:
//!
//! - [`observe`](self::observe): resolve the mappings, read the directory, the profiles and the
//!   ledger for the subjects;
//! - [`apply`](self::apply): plan each domain and carry the plan out, recording each outcome;
//! - [`create`](self::create), [`suspend`](self::suspend) and [`offboard`](self::offboard): the
//!   multi-step actions (offboarding's two stages: access now, data after the retention);
//! - [`outcome`]: what became of each action and of the run.

mod apply;
mod create;
mod fanout;
mod holds;
mod observe;
mod offboard;
mod outcome;
mod resolve;
mod run;
mod safety;
mod suspend;
mod tags;
mod worker;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

pub use fanout::Settled;
pub use outcome::{ActionReport, Outcome, Progress, Report};
pub(crate) use run::Run;
pub use worker::{PASS_PAUSE, WORK_PASSES, WorkError, Worked, entitlements};

/// How many times a run re-reads the users whose ledger record another invocation changed
/// under it (see `Engine::settle_conflicts`).
pub const SETTLE_PASSES: u32 = 3;

use crate::deadline::within;
use crate::drift::ports::FindingStore;
use crate::error::{Result, WardenError};
use crate::events::{Change, Inbound, Subject};
use crate::model::{Epoch, Mode};
use crate::policy::Policy;
use crate::ports::{Directory, Ledger, Studio, SweepSummary};

/// The tag that marks a profile as studio-warden's.
/// What the engine keeps: the ledger, and the finding states (with their alert outbox) its
/// safety net raises.
pub trait Store: Ledger + FindingStore {}

impl<T: Ledger + FindingStore> Store for T {}

pub const TAG_MANAGED: &str = "studio-warden:managed";
/// The tag that names the Identity Store user a managed profile belongs to.
pub const TAG_USER_ID: &str = "studio-warden:user-id";
/// The tag a suspended profile carries, with the time the suspension began (RFC 3339): the
/// only studio-warden key added and removed after creation.
pub const TAG_SUSPENDED: &str = "studio-warden:suspended";

/// How long a handled event id is remembered.
pub const EVENT_TTL_SECS: i64 = 7 * 24 * 3600;

/// The default time a run keeps in hand before the Lambda deadline: no new user (reconcile)
/// or domain (drift) is started with less left.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(20);

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
            deadline_margin: DEFAULT_DEADLINE_MARGIN,
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

impl<D: Directory, S: Studio, L: Store> Engine<D, S, L> {
    /// Reconciles what one classified input names: a sweep request or a membership change.
    /// Drift changes belong to the drift checks and skips to nobody: both answer a skipped
    /// report here (the service routes them before they reach the engine).
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
            Inbound::Drift(change) => Ok(Report::skipped(
                &change.event_id,
                "drift change: not a membership change".into(),
            )),
            Inbound::Work(_) => Ok(Report::skipped(
                "-",
                "work items: the service hands each to Engine::work".into(),
            )),
            Inbound::Sweep(req) => {
                let trigger = req
                    .trigger_id
                    .unwrap_or_else(|| format!("sweep-{}", ulid::Ulid::generate()));
                self.sweep(&trigger, req.mode, now, deadline).await
            }
            Inbound::Membership(change) => self.membership(change, now, deadline).await,
        }
    }

    async fn start(
        &self,
        trigger: &str,
        mode: Mode,
        now: Epoch,
        deadline: Option<Instant>,
    ) -> Result<Run> {
        let resolved = within(
            self.calls_by(deadline),
            "resolving the mapped groups",
            self.resolve_mappings(trigger, mode, now),
        )
        .await?;
        Ok(Run::new(
            trigger,
            mode,
            now,
            deadline,
            self.options.deadline_margin,
            resolved,
        ))
    }

    /// The policy's groups resolved as a plan resolves them (pinned ids checked, nothing
    /// written): read-only, for the operator CLI's explanations.
    pub async fn resolved_mappings(&self, now: Epoch) -> Result<crate::desired::ResolvedMappings> {
        self.resolve_mappings("operator", Mode::Plan, now).await
    }

    /// The instant after which no AWS call is waited on (see [`crate::deadline`]).
    fn calls_by(&self, deadline: Option<Instant>) -> Option<Instant> {
        crate::deadline::calls_by(deadline, self.options.deadline_margin)
    }

    /// An Identity Center change: reconcile the users and groups it names. A run the deadline
    /// cut answers an incomplete report (and the event is not marked handled).
    pub async fn membership(
        &self,
        change: Change,
        now: Epoch,
        deadline: Option<Instant>,
    ) -> Result<Report> {
        let trigger = change.event_id.clone();
        let calls_by = self.calls_by(deadline);
        if within(
            calls_by,
            "reading the ledger",
            self.ledger.event_seen(&trigger),
        )
        .await?
        {
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
                    within(
                        calls_by,
                        "writing the ledger",
                        self.ledger.remember_membership(membership, group, user),
                    )
                    .await?;
                    users.insert(user.clone());
                }
                Subject::Membership(m) => {
                    match within(calls_by, "reading the ledger", self.ledger.membership(m)).await? {
                        Some((_, user)) => {
                            users.insert(user);
                        }
                        None => {
                            tracing::info!(membership = %m, "membership id unknown to the ledger: re-reading every mapped group");
                            unresolved = true;
                        }
                    }
                }
                Subject::Domain(_) | Subject::Profile { .. } | Subject::SecurityGroup(_) => {
                    tracing::info!(?subject, "drift subject: not a membership change");
                }
            }
        }
        let report = if !unresolved && groups.is_empty() && users.is_empty() {
            Report::skipped(&trigger, "no identity subject in the event".into())
        } else {
            let run = self.start(&trigger, Mode::Apply, now, deadline).await?;
            let report = if unresolved {
                self.reconcile_all(&run, None).await?
            } else if !groups.is_empty() {
                self.reconcile_all(&run, Some((groups, users))).await?
            } else {
                self.reconcile_users(&run, &users).await?
            };
            self.settle_conflicts(&run, report).await?
        };
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
        let report = match self.start(trigger, mode, now, deadline).await {
            Ok(mut run) => {
                run.hand_on = true;
                let report = self.reconcile_all(&run, None).await?;
                self.settle_conflicts(&run, report).await?
            }
            // Not even the mapped groups could be resolved in the time left: nothing was
            // planned (never from an empty entitlement), the next sweep does it all.
            Err(WardenError::DeadlineExceeded(why)) => {
                tracing::warn!(sweep_id = trigger, %why, "sweep cut by the deadline before it could plan");
                let mut report = Report::new(trigger, mode);
                report.complete = false;
                report
            }
            Err(e) => return Err(e),
        };
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
                started_at: now,
                finished_at: time::OffsetDateTime::now_utc().unix_timestamp(),
                complete: report.complete,
                unmanaged: counts.get("ReportUnmanaged").copied().unwrap_or(0),
                actions: counts,
                failures: report.failures.len() as u64,
                fanned_out: None,
            };
            self.ledger.record_sweep(&summary).await?;
        }
        Ok(report)
    }

    /// Optimistic concurrency's second half: the users whose record another invocation
    /// changed under this run are re-read (directory, profile, record) and reconciled once
    /// more, from the truth as it is now, up to [`SETTLE_PASSES`] times: each conflict means
    /// another invocation wrote that record, and with several at once (an event and two
    /// sweeps) one re-read can meet the next of their writes. A user still conflicting after
    /// that is a (retryable) failure of this run; the next run or the redelivered event
    /// settles it.
    async fn settle_conflicts(&self, run: &Run, mut report: Report) -> Result<Report> {
        let mut users = std::mem::take(&mut report.conflicted);
        for pass in 1..=SETTLE_PASSES {
            if users.is_empty() {
                break;
            }
            tracing::info!(
                users = users.len(),
                pass,
                "re-reading users another invocation changed under this run"
            );
            let mut again = self.reconcile_users(run, &users).await?;
            users = std::mem::take(&mut again.conflicted);
            report.complete &= again.complete;
            report.retryable_failure |= again.retryable_failure;
            report.failures.extend(again.failures);
            report.actions.extend(again.actions);
            report.held.extend(again.held);
        }
        for user in users {
            report.retryable_failure = true;
            report.failures.push(format!(
                "{}: the ledger record changed under each of this run's {} reads; left to the next run",
                user.as_str(),
                SETTLE_PASSES + 1
            ));
        }
        Ok(report)
    }
}
