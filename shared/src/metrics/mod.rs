//! Metrics: one CloudWatch embedded metric format (EMF) record per invocation, written to
//! stdout, which Lambda ships to CloudWatch Logs, which extracts the metrics. No API call, no
//! permission beyond the logs the functions already write.
//!
//! - [`catalogue`]: the metric names, units and when each is emitted, from
//!   `shared/metrics.json`, the one list the stack's dashboard and alarms are built from too;
//! - [`measure`]: the numbers, a pure function of what the invocation answered (its typed
//!   report or error), how long it took, and the AWS calls it made ([`AwsCalls`]);
//! - [`emf`]: the record, typed after the EMF specification, and its one builder;
//! - [`spec`]: the specification's rules, as a validator of any JSON line (for tests);
//! - [`Telemetry`]: what the Lambda edge holds: the namespace, the function's name, the call
//!   registry its clients count into, and where the line goes.

mod aws_calls;
pub mod emf;
pub mod spec;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use serde::Deserialize;

pub use aws_calls::{
    AwsCalls, CallCounter, CallCounts, Metered, MeteredClient, Service, ServiceCalls,
};
pub use emf::{EmfDocument, Unit};

use crate::catalogue::Severity;
use crate::engine::Outcome;
use crate::error::WardenError;
use crate::events::Inbound;
use crate::model::Mode;
use crate::service::InvocationReport;

static SOURCE: &str = include_str!("../../metrics.json");

static CATALOGUE: LazyLock<Result<Catalogue, String>> =
    LazyLock::new(|| serde_json::from_str(SOURCE).map_err(|e| format!("shared/metrics.json: {e}")));

/// The metric catalogue (`shared/metrics.json`), parsed at first use.
pub fn catalogue() -> Result<&'static Catalogue, &'static str> {
    CATALOGUE.as_ref().map_err(String::as_str)
}

/// When a metric is in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Emitted {
    /// In every record.
    Always,
    /// In the records of apply-mode sweeps (scheduled or after an operator's decision).
    Sweep,
    /// When its value is not zero (a counter by kind: no data point means none).
    Nonzero,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MetricInfo {
    pub name: String,
    pub unit: Unit,
    pub emitted: Emitted,
    pub meaning: String,
}

/// One metric per key, named `<family>.<key>`.
#[derive(Debug, Clone, Deserialize)]
pub struct FamilyInfo {
    pub family: String,
    pub unit: Unit,
    pub emitted: Emitted,
    pub by: String,
    pub keys: Vec<String>,
    pub meaning: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Catalogue {
    /// The default namespace (`WARDEN_METRICS_NAMESPACE` overrides it).
    pub namespace: String,
    /// The one dimension: the function's name.
    pub dimension: String,
    pub metrics: Vec<MetricInfo>,
    pub families: Vec<FamilyInfo>,
}

impl Catalogue {
    /// Every metric name with its unit and when it is emitted.
    pub fn all(&self) -> BTreeMap<String, (Unit, Emitted)> {
        let mut out: BTreeMap<String, (Unit, Emitted)> = self
            .metrics
            .iter()
            .map(|m| (m.name.clone(), (m.unit, m.emitted)))
            .collect();
        for f in &self.families {
            for k in &f.keys {
                out.insert(family_name(&f.family, k), (f.unit, f.emitted));
            }
        }
        out
    }

    pub fn family(&self, family: &str) -> Option<&FamilyInfo> {
        self.families.iter().find(|f| f.family == family)
    }
}

/// `<family>.<key>`: `Actions.Create`, `OpenFindings.critical`, `AwsThrottles.sagemaker`.
pub fn family_name(family: &str, key: &str) -> String {
    format!("{family}.{key}")
}

/// What kind of input the invocation had: sweeps get the sweep metrics, and a drift event's
/// report repeats its drift failures in the reconcile part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Sweep(Mode),
    Membership,
    Drift,
    Skip,
    /// A batch of a fanned-out sweep's work items (worker mode).
    Work,
    /// Refused before it was classified (not JSON, malformed).
    Unclassified,
}

impl InputKind {
    pub fn of(inbound: &Inbound) -> Self {
        match inbound {
            Inbound::Sweep(req) => InputKind::Sweep(req.mode),
            Inbound::Membership(_) => InputKind::Membership,
            Inbound::Drift(_) => InputKind::Drift,
            Inbound::Skip(_) => InputKind::Skip,
            Inbound::Work(_) => InputKind::Work,
        }
    }

    fn is_apply_sweep(self) -> bool {
        self == InputKind::Sweep(Mode::Apply)
    }
}

/// The numbers of one invocation, by metric name, before the catalogue's `emitted` rule
/// drops what does not belong in the record.
pub type Measurements = BTreeMap<String, f64>;

/// Everything [`measure`] reads.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    pub input: InputKind,
    pub answer: std::result::Result<&'a InvocationReport, &'a WardenError>,
    pub duration: Duration,
    pub calls: &'a CallCounts,
}

fn add(m: &mut Measurements, name: String, n: usize) {
    *m.entry(name).or_insert(0.0) += n as f64;
}

/// The invocation's numbers, from its typed answer alone (no counter is kept anywhere else
/// but the AWS calls'). Every family key the catalogue lists is present (zero if nothing
/// happened); [`emf::document`] then applies the `emitted` rules.
pub fn measure(inv: &Invocation<'_>) -> Measurements {
    let mut m = Measurements::new();
    let zero = |m: &mut Measurements, name: &str| {
        m.insert(name.to_owned(), 0.0);
    };
    m.insert("Invocations".into(), 1.0);
    for name in [
        "Errors",
        "Failures",
        "DeferredUsers",
        "BlockedUsers",
        "HeldUsers",
    ] {
        zero(&mut m, name);
    }
    let sweep = inv.input.is_apply_sweep();
    if sweep {
        // Milliseconds, to the microsecond.
        let ms = (inv.duration.as_secs_f64() * 1_000_000.0).round() / 1000.0;
        m.insert("SweepDuration".into(), ms);
    }
    match inv.answer {
        Ok(report) => {
            let reconcile = &report.reconcile;
            // A drift event's reconcile part is its drift failures again (Report::drift_only).
            let drift_failures = match (&report.drift, inv.input) {
                (_, InputKind::Drift) | (None, _) => 0,
                (Some(d), _) => d.failures.len(),
            };
            add(
                &mut m,
                "Failures".into(),
                reconcile.failures.len() + drift_failures,
            );
            for a in &reconcile.actions {
                let kind = a.action.kind();
                match &a.outcome {
                    o if o.is_ok() => add(&mut m, family_name("Actions", kind), 1),
                    Outcome::Failed(_) | Outcome::Rejected(_) => {
                        add(&mut m, family_name("FailedActions", kind), 1);
                    }
                    Outcome::Deferred(_) | Outcome::NotStarted | Outcome::NameTaken { .. } => {
                        add(&mut m, "DeferredUsers".into(), 1);
                    }
                    Outcome::Blocked(_) => add(&mut m, "BlockedUsers".into(), 1),
                    _ => {}
                }
            }
            // Held back in this run (groups in doubt) or waiting in the pending hold (the
            // deletion threshold): each user once.
            let held: std::collections::BTreeSet<_> = reconcile
                .held
                .iter()
                .map(|h| (&h.domain, &h.user))
                .chain(
                    reconcile
                        .hold
                        .iter()
                        .flat_map(|h| h.users.iter().map(|u| (&u.domain, &u.user))),
                )
                .collect();
            add(&mut m, "HeldUsers".into(), held.len());
            if sweep {
                let drift_incomplete = report.drift.as_ref().is_some_and(|d| d.incomplete);
                let complete = reconcile.complete && !drift_incomplete;
                m.insert("SweepIncomplete".into(), if complete { 0.0 } else { 1.0 });
                m.insert(
                    "HoldsPending".into(),
                    if reconcile.hold.is_some() { 1.0 } else { 0.0 },
                );
                for severity in [
                    Severity::Info,
                    Severity::Low,
                    Severity::Medium,
                    Severity::High,
                    Severity::Critical,
                ] {
                    let safety = reconcile.open_by_severity.get(&severity).copied();
                    let drift = report
                        .drift
                        .as_ref()
                        .and_then(|d| d.open_by_severity.get(&severity).copied());
                    let open = safety.unwrap_or(0) + drift.unwrap_or(0);
                    m.insert(family_name("OpenFindings", severity.as_str()), open as f64);
                }
            }
        }
        Err(e) => {
            m.insert("Errors".into(), 1.0);
            add(&mut m, family_name("Errors", e.kind()), 1);
            let failures = match e {
                WardenError::PartialFailure { failures, .. } => failures.len().max(1),
                _ => 1,
            };
            add(&mut m, "Failures".into(), failures);
            if sweep {
                // A sweep that failed outright left everything to the next one.
                m.insert("SweepIncomplete".into(), 1.0);
            }
        }
    }
    for (service, seen) in inv.calls {
        let key = service.as_str();
        add(&mut m, family_name("AwsCalls", key), seen.calls as usize);
        add(
            &mut m,
            family_name("AwsRetries", key),
            seen.retries as usize,
        );
        add(
            &mut m,
            family_name("AwsThrottles", key),
            seen.throttles as usize,
        );
    }
    m
}

/// Where a record goes: a line of text, written whole.
pub trait MetricsSink: Send + Sync {
    fn write_line(&self, line: &str);
}

/// Lambda's stdout, which Lambda sends to CloudWatch Logs. The line is written with one
/// `write_all` under stdout's lock, so it never interleaves with the JSON log lines tracing
/// writes there.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdout;

impl MetricsSink for Stdout {
    fn write_line(&self, line: &str) {
        let mut text = String::with_capacity(line.len() + 1);
        text.push_str(line);
        text.push('\n');
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            tracing::warn!(error = %e, "metrics record not written");
        }
    }
}

/// Keeps every line, for tests and the demo.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    lines: Arc<Mutex<Vec<String>>>,
}

impl Captured {
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl MetricsSink for Captured {
    fn write_line(&self, line: &str) {
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line.to_owned());
        }
    }
}

/// `WARDEN_METRICS_NAMESPACE`: overrides the catalogue's namespace.
pub const NAMESPACE_ENV: &str = "WARDEN_METRICS_NAMESPACE";

/// What a function holds to emit its metrics.
#[derive(Clone)]
pub struct Telemetry {
    pub namespace: String,
    /// The value of the `FunctionName` dimension: Lambda's `AWS_LAMBDA_FUNCTION_NAME` (the
    /// deployed name the stack's alarms use), else the function's own name.
    pub function_name: String,
    /// The registry the clients' interceptors count into.
    pub calls: AwsCalls,
    pub sink: Arc<dyn MetricsSink>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("namespace", &self.namespace)
            .field("function_name", &self.function_name)
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// From the environment (a function given as a lookup, for tests): the namespace from
    /// `WARDEN_METRICS_NAMESPACE` or the catalogue, the dimension from
    /// `AWS_LAMBDA_FUNCTION_NAME` or `default_name`.
    pub fn from_lookup(
        env: impl Fn(&str) -> Option<String>,
        default_name: &str,
        sink: Arc<dyn MetricsSink>,
    ) -> Self {
        let non_empty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let namespace = non_empty(NAMESPACE_ENV).unwrap_or_else(|| {
            catalogue().map_or_else(|_| "StudioWarden".to_owned(), |c| c.namespace.clone())
        });
        Self {
            namespace,
            function_name: non_empty("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|| default_name.to_owned()),
            calls: AwsCalls::new(),
            sink,
        }
    }

    /// Builds the invocation's record and writes it. `request_id` and `trigger` are extra
    /// root members (not metrics) that tie the record to the logs and the ledger. Never fails
    /// the invocation: a record that cannot be built is logged instead.
    pub fn emit(
        &self,
        input: InputKind,
        answer: std::result::Result<&InvocationReport, &WardenError>,
        duration: Duration,
        request_id: &str,
    ) {
        let calls = self.calls.take();
        let measured = measure(&Invocation {
            input,
            answer,
            duration,
            calls: &calls,
        });
        let catalogue = match catalogue() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = e, "metrics catalogue unreadable: no metrics record");
                return;
            }
        };
        let mut context = BTreeMap::new();
        context.insert("requestId".to_owned(), request_id.to_owned());
        if let Ok(report) = answer {
            context.insert("trigger".to_owned(), report.reconcile.trigger.clone());
        }
        let doc = emf::document(
            catalogue,
            &self.namespace,
            &self.function_name,
            now_ms(),
            input.is_apply_sweep(),
            &measured,
            &context,
        );
        match serde_json::to_string(&doc) {
            Ok(line) => self.sink.write_line(&line),
            Err(e) => tracing::error!(error = %e, "metrics record not serialised"),
        }
    }
}

fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

#[cfg(test)]
mod tests;
