//! Worker mode: a batch of a fanned-out sweep's work items (the work queue's SQS event), each
//! read, reconciled by the engine, drift-checked and recorded, in order, with AWS's rule for
//! reporting the failures of a FIFO batch.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::{DriftCheck, InvocationReport};
use crate::engine::{Engine, Report, WorkError, Worked};
use crate::events::{WorkBatch, WorkRecord};
use crate::fanout::{self, Body, DomainResult, FanOut, Redeliver};
use crate::model::{DomainView, Epoch, Mode};
use crate::ports::{Directory, Studio};

/// What became of one work item.
struct ItemDone {
    report: Option<Report>,
    /// Why the item is to be reported failed (redelivered, then the dead-letter queue), and
    /// when it is to come back.
    failed: Option<(String, Redeliver)>,
}

impl ItemDone {
    /// Failed, back when `redeliver` says.
    fn failed(why: String, redeliver: Redeliver) -> Self {
        Self {
            report: None,
            failed: Some((why, redeliver)),
        }
    }

    /// A poison message: no retry fixes it; back after the queue's timeout until SQS moves it
    /// to the dead-letter queue.
    fn poison(why: String) -> Self {
        Self::failed(why, Redeliver::QueueTimeout)
    }
}

/// When an item that failed with `e` comes back: at once when the deadline cut it, after a
/// backoff when a retry can fix it, else after the queue's timeout.
fn redeliver_after(e: &crate::WardenError, record: &WorkRecord) -> Redeliver {
    match e {
        crate::WardenError::DeadlineExceeded(_) => Redeliver::Now,
        e if e.is_retryable() => Redeliver::After(fanout::retry_backoff(record.receive_count)),
        _ => Redeliver::QueueTimeout,
    }
}

fn epoch_now() -> Epoch {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A batch of work items, in order, each within the invocation's deadline. At the first item
/// that fails (or is not started for want of time) the batch stops, and that item and every
/// later one are reported failed ([`fanout::batch_item_failures`]: AWS's rule for FIFO
/// queues). A failed item comes back when [`Redeliver`] says (at once when the deadline cut
/// it, after a backoff when a retry can fix it, else after the queue's visibility timeout);
/// the later ones, never started, at once. After `maxReceiveCount` receipts an item goes to
/// the dead-letter queue.
pub(super) async fn batch<D, S, L, G, F>(
    engine: &Engine<D, S, L>,
    guard: &G,
    fanout: &F,
    batch: WorkBatch,
    deadline: Option<Instant>,
) -> InvocationReport
where
    D: Directory,
    S: Studio,
    L: crate::engine::Store,
    G: DriftCheck,
    F: FanOut,
{
    let ids: Vec<String> = batch.records.iter().map(|r| r.message_id.clone()).collect();
    let mut merged = Report::new("work", Mode::Apply);
    let mut sweeps = std::collections::BTreeSet::new();
    let mut first_failed = None;
    for (i, record) in batch.records.iter().enumerate() {
        let near = deadline.is_some_and(|d| Instant::now() + engine.options.deadline_margin >= d);
        let done = if near {
            ItemDone::failed(
                "not started: the invocation's deadline is near; delivered again at once".into(),
                Redeliver::Now,
            )
        } else {
            Box::pin(work_item(engine, guard, fanout, record, deadline)).await
        };
        if let Some(report) = done.report {
            sweeps.insert(report.trigger.clone());
            merged.complete &= report.complete;
            merged.retryable_failure |= report.retryable_failure;
            merged.actions.extend(report.actions);
            merged.held.extend(report.held);
            merged.failures.extend(report.failures);
        }
        if let Some((why, redeliver)) = done.failed {
            tracing::error!(message_id = %record.message_id, group = ?record.group, receive_count = ?record.receive_count, ?redeliver, %why, "work item failed");
            merged
                .failures
                .push(format!("message {}: {why}", record.message_id));
            first_failed = Some((i, redeliver));
            break;
        }
    }
    let failed = fanout::batch_item_failures(&ids, first_failed.map(|(i, _)| i));
    for id in failed.iter().skip(1) {
        tracing::warn!(message_id = %id, "not processed: an earlier message of the batch failed (FIFO: reported failed too)");
    }
    if let Some((first, redeliver)) = first_failed {
        // The failed item when its failure says; the later ones, never started, at once.
        let later = batch
            .records
            .iter()
            .skip(first + 1)
            .map(|r| (r, Redeliver::Now));
        for (record, when) in std::iter::once((&batch.records[first], redeliver)).chain(later) {
            redeliver_record(fanout, record, when).await;
        }
    }
    if !sweeps.is_empty() {
        merged.trigger = sweeps.into_iter().collect::<Vec<_>>().join(",");
    }
    merged.complete &= failed.is_empty();
    InvocationReport {
        counts: Some(merged.counts()),
        reconcile: merged,
        drift: None,
        batch_item_failures: Some(failed),
    }
}

/// Makes a failed record visible again when `when` says. A refusal is logged and nothing
/// more: the message then comes back after the queue's visibility timeout, later but safely.
async fn redeliver_record<F: FanOut>(fanout: &F, record: &WorkRecord, when: Redeliver) {
    let after = match when {
        Redeliver::Now => std::time::Duration::ZERO,
        Redeliver::After(after) => after,
        Redeliver::QueueTimeout => return,
    };
    let Some(receipt) = &record.receipt_handle else {
        tracing::warn!(message_id = %record.message_id, "no receipt handle: the message comes back after the queue's visibility timeout");
        return;
    };
    match fanout.redeliver_in(receipt, after).await {
        Ok(true) => {
            tracing::info!(message_id = %record.message_id, after_secs = after.as_secs(), "failed message visible again after its backoff");
        }
        Ok(false) => {
            tracing::warn!(message_id = %record.message_id, "no work queue configured: the message comes back after the queue's visibility timeout");
        }
        Err(e) => {
            tracing::warn!(message_id = %record.message_id, error = %e, "could not shorten the message's visibility: it comes back after the queue's visibility timeout");
        }
    }
}

/// One work item: read (from the message, or from the ledger by reference), reconciled,
/// drift-checked, its result added to the sweep's summary. Never panics: a message that is
/// not a work item this worker can do is a failure with the reason (a poison message).
async fn work_item<D, S, L, G, F>(
    engine: &Engine<D, S, L>,
    guard: &G,
    fanout: &F,
    record: &WorkRecord,
    deadline: Option<Instant>,
) -> ItemDone
where
    D: Directory,
    S: Studio,
    L: crate::engine::Store,
    G: DriftCheck,
    F: FanOut,
{
    let item = match fanout::decode(&record.body) {
        Ok(Body::Item(item)) => *item,
        Ok(Body::Stored(reference)) => match fanout.chunks(&reference).await {
            Ok(chunks) => match fanout::reassemble(&reference, chunks) {
                Ok(item) => item,
                Err(e) => return ItemDone::poison(format!("poison message: {e}")),
            },
            Err(e) => {
                return ItemDone::failed(
                    format!("reading the stored item: {e}"),
                    redeliver_after(&e, record),
                );
            }
        },
        Err(e) => return ItemDone::poison(format!("poison message: {e}")),
    };
    let now = epoch_now();
    let (domain, report, view) = match Box::pin(engine.work(&item, now, deadline)).await {
        Err(WorkError::Item(e)) => return ItemDone::poison(format!("poison message: {e}")),
        Err(WorkError::Run(e)) => {
            return ItemDone::failed(
                format!("domain {}: {e}", item.domain),
                redeliver_after(&e, record),
            );
        }
        Ok(Worked::Dropped { domain, why }) => {
            tracing::warn!(sweep_id = %item.sweep_id, domain = %domain.name, %why, "work item dropped");
            let mut report = Report::new(&item.sweep_id, Mode::Apply);
            report.skipped = Some(why);
            return ItemDone {
                report: Some(report),
                failed: None,
            };
        }
        Ok(Worked::Done {
            domain,
            report,
            view,
        }) => (domain, *report, view.map(|v| *v)),
    };
    let (report, left) = Box::pin(check_and_record(
        guard,
        fanout,
        &item.sweep_id,
        &domain.name,
        report,
        view,
        (now, deadline),
    ))
    .await;
    let failed = left.map(|left| match left {
        Left::Unfinished => (
            format!(
                "domain {}: unfinished by the deadline; the next worker goes on at once",
                domain.name
            ),
            Redeliver::Now,
        ),
        Left::Retry => {
            let backoff = fanout::retry_backoff(record.receive_count);
            (
                format!(
                    "domain {}: failures a retry can fix, after {} s: {}",
                    domain.name,
                    backoff.as_secs(),
                    report.failures.join("; ")
                ),
                Redeliver::After(backoff),
            )
        }
        Left::Unrecorded(e) => (
            format!("recording the domain's result: {e}"),
            redeliver_after(&e, record),
        ),
    });
    ItemDone {
        report: Some(report),
        failed,
    }
}

/// What is left of a domain's work after [`check_and_record`].
pub(super) enum Left {
    /// The deadline cut the reconcile or the drift checks.
    Unfinished,
    /// Failures a retry can fix.
    Retry,
    /// Done, but its result could not be added to the sweep's summary.
    Unrecorded(crate::WardenError),
}

/// A domain's reconcile done (by a worker; by the coordinator for a settled domain): its drift
/// checks, from `view`, when the reconcile is whole, then its result added to the sweep's
/// summary. Answers the report with the drift failures added, and what is left to do (`None`:
/// nothing).
pub(super) async fn check_and_record<G: DriftCheck, F: FanOut>(
    guard: &G,
    fanout: &F,
    sweep_id: &str,
    domain: &str,
    mut report: Report,
    view: Option<DomainView>,
    (now, deadline): (Epoch, Option<Instant>),
) -> (Report, Option<Left>) {
    // Drift checks only after a whole reconcile: a domain checked in part would resolve
    // findings it never saw.
    let whole = view.is_some() && report.complete;
    let drift = if whole {
        Some(Box::pin(guard.sweep_domain(sweep_id, Mode::Apply, now, deadline, domain, view)).await)
    } else {
        None
    };
    let drift_done = drift.as_ref().is_some_and(|d| !d.incomplete);
    let complete = report.complete && drift_done;
    let mut actions: BTreeMap<String, u64> = BTreeMap::new();
    let mut unmanaged = 0;
    for a in &report.actions {
        match a.action {
            crate::planner::Action::ReportUnmanaged { .. } => unmanaged += 1,
            _ if a.outcome.is_ok() => *actions.entry(a.action.kind().to_owned()).or_insert(0) += 1,
            _ => {}
        }
    }
    let drift_failures = drift.as_ref().map_or(0, |d| d.failures.len());
    let result = DomainResult {
        domain: domain.to_owned(),
        actions,
        failures: (report.failures.len() + drift_failures) as u64,
        unmanaged,
        complete,
        finished_at: epoch_now(),
    };
    if let Some(d) = &drift {
        report
            .failures
            .extend(d.failures.iter().map(|f| format!("drift: {f}")));
    }
    tracing::info!(sweep_id, domain, complete, actions = ?result.actions, failures = result.failures, "domain done");
    if let Err(e) = fanout.record_domain(sweep_id, &result).await {
        return (report, Some(Left::Unrecorded(e)));
    }
    let retryable = report.retryable_failure || drift.as_ref().is_some_and(|d| d.retryable_failure);
    let left = if !complete {
        Some(Left::Unfinished)
    } else if retryable {
        Some(Left::Retry)
    } else {
        None
    };
    (report, left)
}

/// A fanned-out sweep's settled domains ([`crate::engine::Settled`]: nothing to write),
/// drift-checked here from the coordinator's observation, one after another, each result
/// added to the sweep's summary as a worker's is. A domain whose checks cannot be done whole
/// here (too little time left, the deadline, a failure a retry can fix, its result not
/// recorded) is enqueued after all, and its worker reads it afresh.
pub(super) async fn settle_in_place<D, S, L, G, F>(
    engine: &Engine<D, S, L>,
    guard: &G,
    fanout: &F,
    report: &mut Report,
    now: Epoch,
    deadline: Option<Instant>,
) where
    D: Directory,
    S: Studio,
    L: crate::engine::Store,
    G: DriftCheck,
    F: FanOut,
{
    let margin = engine.options.deadline_margin;
    for settled in std::mem::take(&mut report.settled) {
        let crate::engine::Settled {
            item,
            report: own,
            view,
        } = settled;
        // Its plan's actions, each reported in its own report.
        let planned = own.actions.len();
        // A check is started with time for it and, after it, for enqueueing the domain.
        let left = if deadline.is_some_and(|d| Instant::now() + margin * 2 >= d) {
            Some(Left::Unfinished)
        } else {
            let (own, left) = Box::pin(check_and_record(
                guard,
                fanout,
                &item.sweep_id,
                &item.domain,
                own,
                Some(view),
                (now, deadline),
            ))
            .await;
            report.actions.extend(own.actions);
            report.failures.extend(own.failures);
            left
        };
        let Some(left) = left else {
            continue;
        };
        let why = match &left {
            Left::Unfinished => "the deadline".to_owned(),
            Left::Retry => "failures a retry can fix".to_owned(),
            Left::Unrecorded(e) => format!("its result not recorded: {e}"),
        };
        tracing::warn!(sweep_id = %item.sweep_id, domain = %item.domain, %why, "settled domain not checked whole by the coordinator: enqueued for a worker");
        let calls_by = crate::deadline::calls_by(deadline, margin);
        match engine.hand_on(calls_by, &item, planned, fanout).await {
            Ok(queued) => report.queued.push(queued),
            Err(e) => {
                tracing::error!(sweep_id = %item.sweep_id, domain = %item.domain, error = %e, "settled domain neither checked nor enqueued: left to the next sweep");
                report.complete = false;
                report.retryable_failure |= e.is_retryable();
                report.failures.push(format!(
                    "domain {}: not checked ({why}) and not enqueued: {e}",
                    item.domain
                ));
            }
        }
    }
}
