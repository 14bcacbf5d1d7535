//! The service: routes a classified input to the part that handles it and answers one typed
//! report. Membership changes go to the engine; drift changes to the drift checks; a sweep to
//! the engine, then to the drift checks with the engine's observation of each domain. The
//! Lambda edge ([`crate::runtime`]) only classifies, calls [`route`] and serialises the answer.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::drift::{DriftReport, Guard};
use crate::engine::{Engine, Report, WorkError, Worked};
use crate::error::{Result, WardenError};
use crate::events::{Change, Inbound, WorkBatch, WorkRecord};
use crate::fanout::{self, Body, DomainResult, FanOut};
use crate::ids::DomainId;
use crate::model::{DomainView, Epoch, Mode};
use crate::ports::{Directory, Ledger, Studio};

/// Which function a binary is. Both share the library; each accepts only its own triggers, so
/// a misrouted sweep never runs inside membership-sync's short timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// Identity Center membership events (EventBridge, from CloudTrail).
    MembershipSync,
    /// The scheduled sweep (reconcile, then drift checks), dry-run plans, and drift events.
    ComplianceSweep,
}

impl Function {
    pub fn name(self) -> &'static str {
        match self {
            Function::MembershipSync => "membership-sync",
            Function::ComplianceSweep => "compliance-sweep",
        }
    }

    /// Whether this function handles this input; `Err` explains where it belongs. Both log
    /// and answer a skip (a well-formed payload with nothing to do).
    pub fn accepts(self, inbound: &Inbound) -> std::result::Result<(), String> {
        match (self, inbound) {
            (_, Inbound::Skip(_))
            | (Function::MembershipSync, Inbound::Membership(_))
            | (
                Function::ComplianceSweep,
                Inbound::Sweep(_) | Inbound::Drift(_) | Inbound::Work(_),
            ) => Ok(()),
            (Function::MembershipSync, Inbound::Work(_)) => Err(
                "membership-sync handles Identity Center events; the work queue's items go to compliance-sweep".into(),
            ),
            (Function::MembershipSync, Inbound::Sweep(_)) => Err(
                "membership-sync handles Identity Center events; sweeps and plans go to compliance-sweep".into(),
            ),
            (Function::MembershipSync, Inbound::Drift(_)) => Err(
                "membership-sync handles Identity Center events; SageMaker and EC2 drift events go to compliance-sweep".into(),
            ),
            (Function::ComplianceSweep, Inbound::Membership(_)) => Err(
                "compliance-sweep handles sweeps, plans and drift events; Identity Center events go to membership-sync".into(),
            ),
        }
    }
}

/// What one invocation did: the reconcile (if any), the counts of its actions, and the drift
/// checks (if any). Serialised once, as the function's response.
#[derive(Debug, Clone, Serialize)]
pub struct InvocationReport {
    #[serde(flatten)]
    pub reconcile: Report,
    /// Actions by kind (every action, even when the response shortens the list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftReport>,
    /// A batch of work items: the message ids to report failed (`batchItemFailures`). The
    /// response is then that list alone, as the SQS event source mapping reads it.
    #[serde(skip)]
    pub batch_item_failures: Option<Vec<String>>,
}

impl InvocationReport {
    fn reconciled(reconcile: Report, drift: Option<DriftReport>) -> Self {
        Self {
            counts: Some(reconcile.counts()),
            reconcile,
            drift,
            batch_item_failures: None,
        }
    }

    /// The response, shortened to [`RESPONSE_BUDGET`] (see [`fit_response`]). For a batch of
    /// work items: `{"batchItemFailures":[{"itemIdentifier":"<message id>"}, ...]}`, what the
    /// event source mapping's `ReportBatchItemFailures` reads (the items' reports are logged
    /// and in the ledger).
    pub fn to_response(&self) -> Result<Value> {
        if let Some(failed) = &self.batch_item_failures {
            let items: Vec<Value> = failed
                .iter()
                .map(|id| serde_json::json!({ "itemIdentifier": id }))
                .collect();
            return Ok(serde_json::json!({ "batchItemFailures": items }));
        }
        let mut value =
            serde_json::to_value(self).map_err(|e| WardenError::UnexpectedResponse {
                service: "studio-warden",
                operation: "report",
                detail: e.to_string(),
            })?;
        fit_response(&mut value, RESPONSE_BUDGET);
        Ok(value)
    }
}

/// Routes one classified input. An event whose work failed in a way a retry can fix answers
/// [`WardenError::PartialFailure`], and one whose run the deadline left incomplete
/// [`WardenError::DeadlineExceeded`], so that Lambda's retry policy (then the dead-letter
/// queue) takes over; a sweep does not: it answers its report (`complete: false`), and the
/// next scheduled run repairs what this one could not.
pub async fn route<D, S, L, G, F>(
    engine: &Engine<D, S, L>,
    guard: &G,
    fanout: &F,
    inbound: Inbound,
    now: Epoch,
    deadline: Option<Instant>,
) -> Result<InvocationReport>
where
    D: Directory,
    S: Studio,
    L: crate::engine::Store,
    G: DriftCheck,
    F: FanOut,
{
    match inbound {
        Inbound::Skip(_) => {
            let report = Box::pin(engine.handle(inbound, now, deadline)).await?;
            Ok(InvocationReport::reconciled(report, None))
        }
        Inbound::Membership(change) => {
            // Boxed: the engine's future is deep, and boxing it keeps the binaries' future
            // types within the compiler's layout depth limit.
            let report = Box::pin(engine.membership(change, now, deadline)).await?;
            if !report.complete {
                let done = report.actions.iter().filter(|a| a.outcome.is_ok()).count();
                let mut why = format!(
                    "reconcile: {done} of {} action(s) done before the deadline, the rest left to a retry",
                    report.actions.len()
                );
                for failure in &report.failures {
                    why.push_str("; ");
                    why.push_str(failure);
                }
                return Err(WardenError::DeadlineExceeded(why));
            }
            if report.retryable_failure {
                return Err(WardenError::PartialFailure {
                    what: "reconcile",
                    failures: report.failures,
                });
            }
            Ok(InvocationReport::reconciled(report, None))
        }
        Inbound::Drift(change) => {
            let drift = Box::pin(guard.check(&change, now)).await;
            if drift.retryable_failure {
                return Err(WardenError::PartialFailure {
                    what: "drift-check",
                    failures: drift.failures,
                });
            }
            Ok(InvocationReport {
                reconcile: Report::drift_only(&drift),
                counts: None,
                drift: Some(drift),
                batch_item_failures: None,
            })
        }
        Inbound::Sweep(req) => {
            let trigger = req
                .trigger_id
                .unwrap_or_else(|| format!("sweep-{}", ulid::Ulid::generate()));
            // An operator's decision on a hold is recorded first; the sweep then acts on it.
            if let Some(d) = &req.decision {
                engine.decide(&d.hold, d.approve, &trigger, now).await?;
            }
            // With a work queue, an apply sweep fans out: the workers reconcile and
            // drift-check each domain. A plan still answers in one call.
            if req.mode == Mode::Apply && fanout.enabled() {
                let report = Box::pin(engine.fan_out(&trigger, now, deadline, fanout)).await?;
                return Ok(InvocationReport::reconciled(report, None));
            }
            let report = Box::pin(engine.sweep(&trigger, req.mode, now, deadline)).await?;
            let drift =
                Box::pin(guard.sweep(&trigger, req.mode, now, deadline, &report.observed)).await;
            Ok(InvocationReport::reconciled(report, Some(drift)))
        }
        Inbound::Work(batch) => Ok(Box::pin(work(engine, guard, fanout, batch, deadline)).await),
    }
}

/// What became of one work item.
struct ItemDone {
    report: Option<Report>,
    /// Why the item is to be reported failed (redelivered, then the dead-letter queue).
    failed: Option<String>,
}

impl ItemDone {
    fn failed(why: String) -> Self {
        Self {
            report: None,
            failed: Some(why),
        }
    }
}

fn epoch_now() -> Epoch {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A batch of work items, in order, each within the invocation's deadline. At the first item
/// that fails (or is not started for want of time) the batch stops, and that item and every
/// later one are reported failed ([`fanout::batch_item_failures`]: AWS's rule for FIFO
/// queues). A failed item comes back after the queue's visibility timeout, and after
/// `maxReceiveCount` receipts goes to the dead-letter queue.
async fn work<D, S, L, G, F>(
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
                "not started: the invocation's deadline is near; redelivered after the visibility timeout".into(),
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
        if let Some(why) = done.failed {
            tracing::error!(message_id = %record.message_id, group = ?record.group, receive_count = ?record.receive_count, %why, "work item failed");
            merged
                .failures
                .push(format!("message {}: {why}", record.message_id));
            first_failed = Some(i);
            break;
        }
    }
    let failed = fanout::batch_item_failures(&ids, first_failed);
    for id in failed.iter().skip(1) {
        tracing::warn!(message_id = %id, "not processed: an earlier message of the batch failed (FIFO: reported failed too)");
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
                Err(e) => return ItemDone::failed(format!("poison message: {e}")),
            },
            Err(e) => return ItemDone::failed(format!("reading the stored item: {e}")),
        },
        Err(e) => return ItemDone::failed(format!("poison message: {e}")),
    };
    let now = epoch_now();
    let (domain, report, view) = match Box::pin(engine.work(&item, now, deadline)).await {
        Err(WorkError::Item(e)) => return ItemDone::failed(format!("poison message: {e}")),
        Err(WorkError::Run(e)) => {
            return ItemDone::failed(format!("domain {}: {e}", item.domain));
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
    // Drift checks only after a whole reconcile: a domain checked in part would resolve
    // findings it never saw.
    let whole = view.is_some() && report.complete;
    let drift = if whole {
        Some(
            Box::pin(guard.sweep_domain(
                &item.sweep_id,
                Mode::Apply,
                now,
                deadline,
                &domain.name,
                view,
            ))
            .await,
        )
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
        domain: domain.name.clone(),
        actions,
        failures: (report.failures.len() + drift_failures) as u64,
        unmanaged,
        complete,
        finished_at: epoch_now(),
    };
    let mut report = report;
    if let Some(d) = &drift {
        report
            .failures
            .extend(d.failures.iter().map(|f| format!("drift: {f}")));
    }
    tracing::info!(sweep_id = %item.sweep_id, domain = %domain.name, complete, actions = ?result.actions, failures = result.failures, "work item done");
    if let Err(e) = fanout.record_domain(&item.sweep_id, &result).await {
        return ItemDone {
            report: Some(report),
            failed: Some(format!("recording the domain's result: {e}")),
        };
    }
    let retryable = report.retryable_failure || drift.as_ref().is_some_and(|d| d.retryable_failure);
    let failed = if !complete {
        Some(format!(
            "domain {}: unfinished by the deadline; redelivered after the visibility timeout",
            domain.name
        ))
    } else if retryable {
        Some(format!(
            "domain {}: failures a retry can fix: {}",
            domain.name,
            report.failures.join("; ")
        ))
    } else {
        None
    };
    ItemDone {
        report: Some(report),
        failed,
    }
}

/// The most a response may weigh, serialised. Lambda returns at most 6 MB from an invocation
/// (an over-size response fails the invocation, and an asynchronous one is then retried); a
/// sweep that creates 10,000 profiles reports about 10 MB of actions. 1 MiB leaves room and
/// stays readable.
pub const RESPONSE_BUDGET: usize = 1 << 20;

/// The lists a response may have to shorten, in the order they are shortened.
const TRIMMABLE: [&str; 2] = ["/actions", "/drift/findings"];

/// Keeps a response under `budget` bytes: the longest lists (the actions, a plan's drift
/// findings) keep their first entries that fit, and `<list>_omitted` says how many were left
/// out. Every decision is also logged, one line each, and recorded in the ledger's history;
/// `counts` (actions by kind) always covers them all.
pub fn fit_response(value: &mut Value, budget: usize) {
    let size = |v: &Value| serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
    for pointer in TRIMMABLE {
        let total = size(value);
        if total <= budget {
            return;
        }
        let Some(Value::Array(items)) = value.pointer_mut(pointer) else {
            continue;
        };
        let sizes: Vec<usize> = items.iter().map(|i| size(i).saturating_add(1)).collect();
        let listed: usize = sizes.iter().sum();
        // What the rest of the response weighs, plus room for the `_omitted` field.
        let room = budget.saturating_sub(total.saturating_sub(listed).saturating_add(64));
        let mut used = 0;
        let keep = sizes
            .iter()
            .take_while(|s| {
                used += **s;
                used <= room
            })
            .count();
        let omitted = items.len() - keep;
        items.truncate(keep);
        if omitted > 0 {
            let (parent, field) = pointer.rsplit_once('/').unwrap_or(("", pointer));
            let target = if parent.is_empty() {
                Some(&mut *value)
            } else {
                value.pointer_mut(parent)
            };
            if let Some(Value::Object(map)) = target {
                map.insert(format!("{field}_omitted"), Value::from(omitted));
            }
            tracing::warn!(
                list = pointer,
                omitted,
                "response over {budget} bytes: list shortened (every entry is in the log)"
            );
        }
    }
}

/// The drift checks as the service sees them: a sweep (given the reconcile's observation of
/// each domain), and a check of what an event names.
pub trait DriftCheck: Send + Sync {
    fn sweep(
        &self,
        trigger: &str,
        mode: Mode,
        now: Epoch,
        deadline: Option<Instant>,
        observed: &BTreeMap<DomainId, DomainView>,
    ) -> impl std::future::Future<Output = DriftReport> + Send;
    /// One domain's drift checks (by name), given the reconcile's view of it: a fan-out
    /// worker's.
    fn sweep_domain(
        &self,
        trigger: &str,
        mode: Mode,
        now: Epoch,
        deadline: Option<Instant>,
        domain: &str,
        observed: Option<DomainView>,
    ) -> impl std::future::Future<Output = DriftReport> + Send;
    fn check(
        &self,
        change: &Change,
        now: Epoch,
    ) -> impl std::future::Future<Output = DriftReport> + Send;
}

impl<I, N, A, F> DriftCheck for Guard<I, N, A, F>
where
    I: crate::drift::ports::DomainInspector + Studio,
    N: crate::drift::ports::Network,
    A: crate::drift::ports::Alerts,
    F: crate::drift::ports::FindingStore + Ledger,
{
    async fn sweep(
        &self,
        trigger: &str,
        mode: Mode,
        now: Epoch,
        deadline: Option<Instant>,
        observed: &BTreeMap<DomainId, DomainView>,
    ) -> DriftReport {
        Guard::sweep_observed(self, trigger, mode, now, deadline, observed).await
    }

    async fn sweep_domain(
        &self,
        trigger: &str,
        mode: Mode,
        now: Epoch,
        deadline: Option<Instant>,
        domain: &str,
        observed: Option<DomainView>,
    ) -> DriftReport {
        Guard::sweep_domain(self, trigger, mode, now, deadline, domain, observed).await
    }

    async fn check(&self, change: &Change, now: Epoch) -> DriftReport {
        Guard::check(self, change, now).await
    }
}

/// No drift checks: the sweep reports nothing and drift events are logged and skipped.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDrift;

impl DriftCheck for NoDrift {
    async fn sweep(
        &self,
        trigger: &str,
        mode: Mode,
        _now: Epoch,
        _deadline: Option<Instant>,
        _observed: &BTreeMap<DomainId, DomainView>,
    ) -> DriftReport {
        DriftReport {
            trigger: trigger.to_owned(),
            mode,
            skipped: true,
            ..DriftReport::default()
        }
    }

    async fn sweep_domain(
        &self,
        trigger: &str,
        mode: Mode,
        now: Epoch,
        deadline: Option<Instant>,
        _domain: &str,
        _observed: Option<DomainView>,
    ) -> DriftReport {
        self.sweep(trigger, mode, now, deadline, &BTreeMap::new())
            .await
    }

    async fn check(&self, change: &Change, _now: Epoch) -> DriftReport {
        tracing::info!(event_id = %change.event_id, "drift event: no drift checks configured");
        DriftReport {
            trigger: change.event_id.clone(),
            skipped: true,
            ..DriftReport::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn big_report(actions: usize) -> Value {
        let action = |i: usize| {
            json!({
                "action": "Create",
                "user": format!("user-{i:05}"),
                "profile": format!("user-{i:05}-abcdef01"),
                "reason": "member of group \"ml-researchers\" (mapping 0)",
                "entitlement": {"template": {"execution_role": "arn:aws:iam::111122223333:role/a", "tags": {"team": "x".repeat(200)}}},
                "outcome": "ok",
            })
        };
        json!({
            "trigger": "sweep-1",
            "mode": "apply",
            "complete": true,
            "actions": (0..actions).map(action).collect::<Vec<_>>(),
            "failures": [],
            "counts": {"Create": actions},
            "drift": {"findings": (0..actions).map(|i| json!({"rule": "r", "resource": format!("p{i}")})).collect::<Vec<_>>()},
        })
    }

    #[test]
    fn a_response_within_budget_is_untouched() {
        let mut value = big_report(10);
        let before = value.clone();
        fit_response(&mut value, RESPONSE_BUDGET);
        assert_eq!(value, before);
    }

    #[test]
    fn a_large_response_keeps_its_first_actions_and_says_how_many_it_left_out() {
        let mut value = big_report(10_000);
        assert!(serde_json::to_vec(&value).map(|b| b.len()).unwrap_or(0) > 3 * RESPONSE_BUDGET);
        fit_response(&mut value, RESPONSE_BUDGET);
        let size = serde_json::to_vec(&value)
            .map(|b| b.len())
            .unwrap_or(usize::MAX);
        assert!(size <= RESPONSE_BUDGET, "{size}");
        let kept = value["actions"].as_array().map_or(0, Vec::len);
        assert!(kept > 100, "{kept}");
        assert_eq!(value["actions_omitted"], json!(10_000 - kept));
        assert_eq!(value["actions"][0]["user"], json!("user-00000"));
        assert_eq!(value["counts"]["Create"], json!(10_000));
        // The actions were enough: the drift findings stay whole.
        assert!(value["drift"].get("findings_omitted").is_none());
    }

    #[test]
    fn drift_findings_are_shortened_when_actions_are_not_enough() {
        let mut value = big_report(10_000);
        fit_response(&mut value, 64 * 1024);
        let size = serde_json::to_vec(&value)
            .map(|b| b.len())
            .unwrap_or(usize::MAX);
        assert!(size <= 64 * 1024, "{size}");
        assert_eq!(value["actions"], json!([]));
        assert_eq!(value["actions_omitted"], json!(10_000));
        assert!(
            value["drift"]["findings_omitted"]
                .as_u64()
                .is_some_and(|n| n > 0)
        );
    }
}
