//! The service: routes a classified input to the part that handles it and answers one typed
//! report. Membership changes go to the engine; drift changes to the drift checks; a sweep to
//! the engine, then to the drift checks with the engine's observation of each domain. The
//! Lambda edge ([`crate::runtime`]) only classifies, calls [`route`] and serialises the answer.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::drift::{DriftReport, Guard};
use crate::engine::{Engine, Report};
use crate::error::{Result, WardenError};
use crate::events::{Change, Inbound};
use crate::fanout::FanOut;

mod work;
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
            // drift-check each domain with work to do; the coordinator drift-checks the
            // settled ones from its own observation. A plan still answers in one call.
            if req.mode == Mode::Apply && fanout.enabled() {
                let mut report = Box::pin(engine.fan_out(&trigger, now, deadline, fanout)).await?;
                Box::pin(work::settle_in_place(
                    engine,
                    guard,
                    fanout,
                    &mut report,
                    now,
                    deadline,
                ))
                .await;
                return Ok(InvocationReport::reconciled(report, None));
            }
            let report = Box::pin(engine.sweep(&trigger, req.mode, now, deadline)).await?;
            let drift =
                Box::pin(guard.sweep(&trigger, req.mode, now, deadline, &report.observed)).await;
            Ok(InvocationReport::reconciled(report, Some(drift)))
        }
        Inbound::Work(batch) => {
            Ok(Box::pin(work::batch(engine, guard, fanout, batch, deadline)).await)
        }
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
