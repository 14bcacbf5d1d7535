//! The fan-out sweep (see [`crate::fanout`]): the coordinator observes and plans every domain
//! as a sweep does, passes the plans through the central gate, and enqueues one work item per
//! domain with work to do; a worker ([`super::worker`]) reconciles the one domain an item
//! names. A domain whose plan writes nothing is settled: the coordinator hands its
//! observation to the drift checks itself instead of having a worker read it all again.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::holds::is_start;
use super::run::finish;
use super::{Engine, Report, Run, Store};
use crate::error::{Result, WardenError};
use crate::fanout::{self, Encoded, FanOut, OutMessage, Queued, Wanted, WorkItem};
use crate::ids::UserId;
use crate::model::{DomainView, Epoch, Mode};
use crate::planner::Action;
use crate::ports::{Directory, Studio, SweepSummary};

/// A domain the coordinator found settled: its plan writes nothing (at most it reports
/// unmanaged profiles), and it observed the domain whole. Its drift checks can start from the
/// coordinator's observation; `item` is the work item to enqueue instead when they cannot be
/// done in this invocation (the deadline, a failure a retry can fix).
#[derive(Debug, Clone)]
pub struct Settled {
    pub item: WorkItem,
    /// The domain's own report: its plan carried out (unmanaged profiles reported), one
    /// action each.
    pub report: Report,
    /// The domain as the coordinator observed it, for the drift checks.
    pub view: DomainView,
}

impl<D: Directory, S: Studio, L: Store> Engine<D, S, L> {
    /// The coordinator of a fanned-out apply sweep: reads the directory once, observes and
    /// plans every domain, passes the plans through the safety net (the threshold and the
    /// holds, raised here, centrally), raises the safety findings, then enqueues one work item
    /// per domain with work to do instead of applying, and answers the settled domains in
    /// [`Report::settled`] for the caller to drift-check. Records the sweep's summary with the
    /// number of domains it covers; the workers and the settled domains' checks add their
    /// results to it.
    pub async fn fan_out<F: FanOut>(
        &self,
        trigger: &str,
        now: Epoch,
        deadline: Option<Instant>,
        queue: &F,
    ) -> Result<Report> {
        let report = match self.start(trigger, Mode::Apply, now, deadline).await {
            Ok(mut run) => {
                // The settled domains' drift checks start from this run's observation.
                run.hand_on = true;
                let mut report = Report::new(trigger, Mode::Apply);
                let done = self.fan_out_into(&run, queue, &mut report).await;
                finish(&run, report, done)?
            }
            Err(WardenError::DeadlineExceeded(why)) => {
                tracing::warn!(sweep_id = trigger, %why, "sweep cut by the deadline before it could plan");
                let mut report = Report::new(trigger, Mode::Apply);
                report.complete = false;
                report
            }
            Err(e) => return Err(e),
        };
        let domains = report.queued.len() + report.settled.len();
        tracing::info!(
            sweep_id = trigger,
            queued = report.queued.len(),
            settled = report.settled.len(),
            complete = report.complete,
            "sweep fanned out"
        );
        let summary = SweepSummary {
            sweep_id: trigger.to_owned(),
            mode: "apply".into(),
            started_at: now,
            finished_at: time::OffsetDateTime::now_utc().unix_timestamp(),
            complete: report.complete,
            actions: BTreeMap::new(),
            failures: report.failures.len() as u64,
            unmanaged: 0,
            fanned_out: Some(fanout::Progress {
                domains: domains as u64,
                ..fanout::Progress::default()
            }),
        };
        self.ledger.record_sweep(&summary).await?;
        Ok(report)
    }

    async fn fan_out_into<F: FanOut>(
        &self,
        run: &Run,
        queue: &F,
        report: &mut Report,
    ) -> Result<()> {
        let seen = self.observe_all(run, None, report).await?;
        let plans = self.plan_all(run, report, &seen.domains, seen.full).await?;
        let policy = fanout::fingerprint(&self.policy);
        for (((domain, observed), listed), plan) in
            seen.domains.iter().zip(seen.listings).zip(plans)
        {
            self.raise_safety_into(run, domain, report).await?;
            let phase = |a: &Action| {
                a.user()
                    .and_then(|u| observed.records.get(u))
                    .map(|r| &r.phase)
            };
            let released: BTreeMap<UserId, Option<String>> = plan
                .actions
                .iter()
                .filter(|&a| is_start(phase(a), a))
                .filter_map(|a| {
                    a.user()
                        .map(|u| (u.clone(), a.released_by().map(str::to_owned)))
                })
                .collect();
            let item = WorkItem {
                format: fanout::ITEM_FORMAT,
                sweep_id: run.trigger.clone(),
                domain: domain.name.clone(),
                now: run.now,
                policy: policy.clone(),
                mappings: run.resolved.status.clone(),
                desired: observed
                    .desired
                    .iter()
                    .map(|(u, e)| {
                        (
                            u.clone(),
                            Wanted {
                                user_name: e.user_name.clone(),
                                mapping: e.mapping,
                                group: e.group.clone(),
                            },
                        )
                    })
                    .collect(),
                released,
            };
            let planned = plan.actions.len();
            let writes = plan
                .actions
                .iter()
                .any(|a| !matches!(a, Action::ReportUnmanaged { .. }));
            let whole = seen.full && (domain.baseline.is_none() || observed.description.is_some());
            if !writes && whole {
                // Settled: nothing for a worker to write, so no worker reads it all again.
                let mut own = Report::new(&run.trigger, Mode::Apply);
                self.apply_domain(run, &mut own, &domain.id, observed, plan.actions)
                    .await?;
                let view = run.view(
                    &domain.id,
                    listed,
                    &observed.records,
                    observed.description.clone(),
                );
                tracing::info!(sweep_id = %run.trigger, domain = %domain.name, unmanaged = own.actions.len(), "domain settled: drift-checked by the coordinator, not enqueued");
                report.settled.push(Settled {
                    item,
                    report: own,
                    view,
                });
                continue;
            }
            let queued = run
                .bounded(
                    "enqueueing the work item",
                    self.hand_on(None, &item, planned, queue),
                )
                .await?;
            report.queued.push(queued);
        }
        Ok(())
    }

    /// Enqueues a work item (through the ledger when it is larger than a message), its calls
    /// abandoned at `calls_by`, and answers what was enqueued.
    pub async fn hand_on<F: FanOut>(
        &self,
        calls_by: Option<Instant>,
        item: &WorkItem,
        planned: usize,
        queue: &F,
    ) -> Result<Queued> {
        let Some(domain) = self.policy.domains.iter().find(|d| d.name == item.domain) else {
            return Err(WardenError::Config(format!(
                "work item for {:?}, a domain the policy does not name",
                item.domain
            )));
        };
        let encoded = fanout::encode(item, queue.limits())?;
        let stored = match &encoded {
            Encoded::Stored {
                reference, chunks, ..
            } => {
                crate::deadline::within(
                    calls_by,
                    "storing the work item",
                    queue.put_chunks(
                        reference,
                        chunks,
                        item.now.saturating_add(fanout::STORED_TTL_SECS),
                    ),
                )
                .await?;
                Some(reference.chunks)
            }
            Encoded::Inline { .. } => None,
        };
        let message = OutMessage {
            body: encoded.body().to_owned(),
            group: fanout::message_group(&self.policy, domain),
            dedup: fanout::dedup_id(&item.sweep_id, &domain.name),
        };
        crate::deadline::within(
            calls_by,
            "enqueueing the work item",
            queue.enqueue(&message),
        )
        .await?;
        tracing::info!(sweep_id = %item.sweep_id, domain = %domain.name, group = %message.group, users = item.desired.len(), released = item.released.len(), stored = ?stored, "work item enqueued");
        Ok(Queued {
            domain: domain.name.clone(),
            domain_id: domain.id.clone(),
            group: message.group,
            users: item.desired.len(),
            planned,
            released: item.released.len(),
            stored_chunks: stored,
        })
    }
}
