//! The Lambda edge: configuration from the environment, clients built once per cold start from
//! one `SdkConfig`, and the handler that both functions share.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tracing::Instrument;

use crate::adapters::{
    CallRate, DynamoLedger, Ec2Network, IdentityStoreDirectory, SageMakerStudio, SnsAlerts,
};
use crate::drift::{DriftReport, Guard};
use crate::engine::{Engine, EngineOptions};
use crate::error::{Result, WardenError};
use crate::events::{self, Change, Inbound, Subject};
use crate::policy::Policy;

/// The engine over the real AWS adapters.
pub type AwsEngine = Engine<IdentityStoreDirectory, SageMakerStudio, DynamoLedger>;

/// Runtime configuration, from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: Arc<Policy>,
    pub table: String,
    pub concurrency: usize,
    /// Calls per second to Identity Center (Identity Store and SSO admin share a quota of
    /// about 20 TPS per account; default 10 leaves room for everything else).
    pub identity_tps: u32,
    /// Calls per second to SageMaker (its List APIs throttle at a few calls per second).
    pub sagemaker_tps: u32,
    /// `WARDEN_TOPIC_ARN`: the SNS topic drift alerts go to. Without it, drift findings are
    /// recorded in the ledger and logged, and no alert is published.
    pub topic_arn: Option<String>,
}

/// Default client-side rate limits; see [`Settings`].
pub const DEFAULT_IDENTITY_TPS: u32 = 10;
pub const DEFAULT_SAGEMAKER_TPS: u32 = 8;

fn tps(env: &impl Fn(&str) -> Option<String>, key: &str, default: u32) -> Result<u32> {
    match env(key) {
        None => Ok(default),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| {
                WardenError::Config(format!("{key}={v:?}: expected calls per second, 1-10000"))
            }),
    }
}

impl Settings {
    /// Reads `WARDEN_POLICY_FILE` (default `policy.toml` beside the binary, i.e. in
    /// `LAMBDA_TASK_ROOT`) or the inline `WARDEN_POLICY`, `WARDEN_DOMAIN_IDS` and `WARDEN_TABLE`.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// As [`Settings::from_env`], with the environment given as a function (for tests).
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let domain_ids: BTreeMap<String, String> = match env("WARDEN_DOMAIN_IDS") {
            None => BTreeMap::new(),
            Some(s) if s.trim().is_empty() => BTreeMap::new(),
            Some(s) => serde_json::from_str(&s).map_err(|e| {
                WardenError::Config(format!(
                    "WARDEN_DOMAIN_IDS must be a JSON object of domain name to id: {e}"
                ))
            })?,
        };
        let (source, origin) = match (env("WARDEN_POLICY"), env("WARDEN_POLICY_FILE")) {
            (Some(inline), _) => (inline, "WARDEN_POLICY".to_owned()),
            (None, file) => {
                let file = file.unwrap_or_else(|| "policy.toml".into());
                let path = match env("LAMBDA_TASK_ROOT") {
                    Some(root) if !file.starts_with('/') => format!("{root}/{file}"),
                    _ => file,
                };
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    WardenError::Config(format!("cannot read the policy file {path}: {e}"))
                })?;
                (text, path)
            }
        };
        let policy = Policy::parse(&source, &origin, &domain_ids)?;
        let table = env("WARDEN_TABLE")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                WardenError::Config("WARDEN_TABLE (the ledger table name) is not set".into())
            })?;
        let concurrency = match env("WARDEN_CONCURRENCY") {
            None => EngineOptions::default().concurrency,
            Some(c) => c
                .parse::<usize>()
                .ok()
                .filter(|c| (1..=64).contains(c))
                .ok_or_else(|| {
                    WardenError::Config(format!("WARDEN_CONCURRENCY={c:?}: expected 1-64"))
                })?,
        };
        Ok(Self {
            policy: Arc::new(policy),
            table,
            concurrency,
            identity_tps: tps(&env, "WARDEN_IDENTITY_TPS", DEFAULT_IDENTITY_TPS)?,
            sagemaker_tps: tps(&env, "WARDEN_SAGEMAKER_TPS", DEFAULT_SAGEMAKER_TPS)?,
            topic_arn: env("WARDEN_TOPIC_ARN").filter(|t| !t.trim().is_empty()),
        })
    }
}

/// Loads the shared SDK configuration from the standard environment (credentials, region,
/// `AWS_ENDPOINT_URL`), with adaptive retries: throttling backs the client off.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            RetryConfig::adaptive()
                .with_max_attempts(6)
                .with_initial_backoff(Duration::from_millis(200)),
        )
        .load()
        .await
}

/// Builds the engine's adapters from one `SdkConfig`.
pub fn build_engine(settings: &Settings, sdk: &SdkConfig) -> AwsEngine {
    let policy = settings.policy.clone();
    // The Identity Store lives in the Identity Center home region, which may differ.
    let identity_config = {
        let mut b = aws_sdk_identitystore::config::Builder::from(sdk);
        if let Some(region) = &policy.identity_store.region {
            b = b.region(Region::new(region.clone()));
        }
        b.build()
    };
    let sso_config = {
        let mut b = aws_sdk_ssoadmin::config::Builder::from(sdk);
        if let Some(region) = &policy.identity_store.region {
            b = b.region(Region::new(region.clone()));
        }
        b.build()
    };
    // One limiter for all of Identity Center (Identity Store and SSO admin share the quota).
    let identity_rate = CallRate::per_second(settings.identity_tps);
    Engine {
        directory: IdentityStoreDirectory::new(
            aws_sdk_identitystore::Client::from_conf(identity_config),
            policy.identity_store.id.clone(),
        )
        .with_rate(identity_rate.clone()),
        studio: SageMakerStudio::new(
            aws_sdk_sagemaker::Client::new(sdk),
            aws_sdk_ssoadmin::Client::from_conf(sso_config),
        )
        .with_rates(CallRate::per_second(settings.sagemaker_tps), identity_rate),
        ledger: DynamoLedger::new(aws_sdk_dynamodb::Client::new(sdk), settings.table.clone()),
        options: EngineOptions {
            concurrency: settings.concurrency,
            ..EngineOptions::default()
        },
        policy,
    }
}

/// The error a handler returns to Lambda: its type says whether a retry can help.
#[derive(Debug)]
pub struct HandlerError(pub WardenError);

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for HandlerError {}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Diagnostic {
        diagnostic_of(&e.0)
    }
}

/// `Retryable.<Kind>` or `NonRetryable.<Kind>`, and the message.
fn diagnostic_of(e: &WardenError) -> Diagnostic {
    let class = if e.is_retryable() {
        "Retryable"
    } else {
        "NonRetryable"
    };
    Diagnostic {
        error_type: format!("{class}.{}", e.kind()),
        error_message: e.to_string(),
    }
}

fn now_epoch() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Handles one invocation of any kind (the scenario tests and the demo use this). `guard`
/// runs the drift checks ([`NoDrift`] for none).
pub async fn handle<D, S, L, G>(
    engine: &Engine<D, S, L>,
    guard: &G,
    event: LambdaEvent<Value>,
) -> std::result::Result<Value, HandlerError>
where
    D: crate::ports::Directory,
    S: crate::ports::Studio,
    L: crate::ports::Ledger,
    G: DriftCheck,
{
    handle_inner(None, engine, guard, event).await
}

/// Handles one invocation as the given function: inputs meant for the other are refused.
pub async fn handle_as<D, S, L, G>(
    function: Function,
    engine: &Engine<D, S, L>,
    guard: &G,
    event: LambdaEvent<Value>,
) -> std::result::Result<Value, HandlerError>
where
    D: crate::ports::Directory,
    S: crate::ports::Studio,
    L: crate::ports::Ledger,
    G: DriftCheck,
{
    handle_inner(Some(function), engine, guard, event).await
}

/// Classify, reconcile, report. Never panics; every failure becomes a [`HandlerError`] whose
/// type tells Lambda whether to retry.
async fn handle_inner<D, S, L, G>(
    function: Option<Function>,
    engine: &Engine<D, S, L>,
    guard: &G,
    event: LambdaEvent<Value>,
) -> std::result::Result<Value, HandlerError>
where
    D: crate::ports::Directory,
    S: crate::ports::Studio,
    L: crate::ports::Ledger,
    G: DriftCheck,
{
    let (payload, ctx) = event.into_parts();
    let event_id = payload
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("-")
        .chars()
        .take(128)
        .collect::<String>();
    let span =
        tracing::info_span!("invocation", request_id = %ctx.request_id, event_id = %event_id);
    async move {
        let inbound =
            events::classify(&payload, &engine.policy.identity_store.id).map_err(|e| {
                tracing::error!(error = %e, "malformed input: nothing done");
                HandlerError(e.into())
            })?;
        if let Some(function) = function {
            function.accepts(&inbound).map_err(|why| {
                tracing::error!(function = function.name(), "{why}");
                HandlerError(WardenError::Config(why))
            })?;
        }
        let is_change = matches!(inbound, Inbound::Change(_));
        // Drift events (SageMaker domain/profile and security-group changes) go to the drift
        // checks only; a sweep runs the reconcile, then the drift sweep.
        if let Inbound::Change(change) = &inbound
            && is_drift_change(change)
        {
            let drift = Box::pin(guard.check(change, now_epoch())).await;
            if drift.retryable_failure {
                return Err(HandlerError(WardenError::Aws {
                    service: "studio-warden",
                    operation: "drift-check",
                    code: None,
                    message: drift.failures.join("; "),
                    retryable: true,
                }));
            }
            return drift_only_report(drift);
        }
        let sweep_plan = match &inbound {
            Inbound::Sweep(req) => Some(req.mode == events::SweepMode::Plan),
            _ => None,
        };
        // Lambda's deadline is in milliseconds since the epoch.
        let now_ms =
            u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
                .unwrap_or(0);
        let deadline = (ctx.deadline > now_ms)
            .then(|| tokio::time::Instant::now() + Duration::from_millis(ctx.deadline - now_ms));
        // Boxed: the engine's future is deep, and boxing it keeps the binaries' future types
        // within the compiler's layout depth limit.
        let report = Box::pin(engine.handle(inbound, now_epoch(), deadline))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, retryable = e.is_retryable(), "invocation failed");
                HandlerError(e)
            })?;
        // An event whose work failed in a way a retry can fix is failed back to Lambda, so that
        // its retry policy (and then the dead-letter queue) takes over. A sweep is not: the next
        // scheduled run repairs what this one could not.
        if is_change && report.retryable_failure {
            return Err(HandlerError(WardenError::Aws {
                service: "studio-warden",
                operation: "reconcile",
                code: None,
                message: report.failures.join("; "),
                retryable: true,
            }));
        }
        let mut value = serde_json::to_value(&report).map_err(report_error)?;
        if let Some(plan) = sweep_plan {
            let drift = Box::pin(guard.sweep(&report.trigger, plan, now_epoch(), deadline)).await;
            if let Value::Object(map) = &mut value {
                map.insert(
                    "drift".into(),
                    serde_json::to_value(&drift).map_err(report_error)?,
                );
            }
        }
        if let Value::Object(map) = &mut value {
            map.insert(
                "counts".into(),
                serde_json::to_value(report.counts()).map_err(report_error)?,
            );
        }
        fit_response(&mut value, RESPONSE_BUDGET);
        Ok(value)
    }
    .instrument(span)
    .await
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

fn report_error(e: serde_json::Error) -> HandlerError {
    HandlerError(WardenError::UnexpectedResponse {
        service: "studio-warden",
        operation: "report",
        detail: e.to_string(),
    })
}

/// Whether every subject of a change is a drift subject (a domain, a profile, a security
/// group). Identity Center events never name those, and drift events name nothing else.
pub fn is_drift_change(change: &Change) -> bool {
    !change.subjects.is_empty()
        && change.subjects.iter().all(|s| {
            matches!(
                s,
                Subject::Domain(_) | Subject::Profile { .. } | Subject::SecurityGroup(_)
            )
        })
}

/// The answer to a drift event: the engine's report shape (nothing reconciled) plus `drift`.
fn drift_only_report(drift: DriftReport) -> std::result::Result<Value, HandlerError> {
    Ok(serde_json::json!({
        "trigger": drift.trigger,
        "mode": "apply",
        "complete": true,
        "actions": [],
        "failures": drift.failures,
        "drift": serde_json::to_value(&drift).map_err(report_error)?,
    }))
}

/// The drift checks as the handler sees them: a sweep, and a check of what an event names.
pub trait DriftCheck: Send + Sync {
    fn sweep(
        &self,
        trigger: &str,
        plan: bool,
        now: i64,
        deadline: Option<tokio::time::Instant>,
    ) -> impl std::future::Future<Output = DriftReport> + Send;
    fn check(
        &self,
        change: &Change,
        now: i64,
    ) -> impl std::future::Future<Output = DriftReport> + Send;
}

impl<I, N, A, F> DriftCheck for Guard<I, N, A, F>
where
    I: crate::drift::ports::DomainInspector + crate::ports::Studio,
    N: crate::drift::ports::Network,
    A: crate::drift::ports::Alerts,
    F: crate::drift::ports::FindingStore + crate::ports::Ledger,
{
    async fn sweep(
        &self,
        trigger: &str,
        plan: bool,
        now: i64,
        deadline: Option<tokio::time::Instant>,
    ) -> DriftReport {
        Guard::sweep(self, trigger, plan, now, deadline).await
    }

    async fn check(&self, change: &Change, now: i64) -> DriftReport {
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
        plan: bool,
        _now: i64,
        _deadline: Option<tokio::time::Instant>,
    ) -> DriftReport {
        let _ = plan;
        DriftReport {
            trigger: trigger.to_owned(),
            mode: "skipped".into(),
            ..DriftReport::default()
        }
    }

    async fn check(&self, change: &Change, _now: i64) -> DriftReport {
        tracing::info!(event_id = %change.event_id, "drift event: no drift checks configured");
        DriftReport {
            trigger: change.event_id.clone(),
            mode: "skipped".into(),
            ..DriftReport::default()
        }
    }
}

/// The drift checker over the real AWS adapters.
pub type AwsGuard = Guard<SageMakerStudio, Ec2Network, SnsAlerts, DynamoLedger>;

/// Builds the drift checker from the same `SdkConfig`, sharing the engine's SageMaker adapter
/// (and its call rate) and ledger.
pub fn build_guard(settings: &Settings, sdk: &SdkConfig, engine: &AwsEngine) -> AwsGuard {
    let alerts = settings
        .topic_arn
        .as_ref()
        .map(|arn| SnsAlerts::new(aws_sdk_sns::Client::new(sdk), arn.clone()));
    if alerts.is_none() {
        tracing::warn!(
            "WARDEN_TOPIC_ARN is not set: drift findings are recorded in the ledger and logged, but no alert is published"
        );
    }
    Guard {
        policy: settings.policy.clone(),
        inspector: engine.studio.clone(),
        network: Ec2Network::new(aws_sdk_ec2::Client::new(sdk)),
        alerts,
        store: engine.ledger.clone(),
        region: sdk
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string()),
        concurrency: settings.concurrency,
    }
}

/// Which function a binary is. Both share the engine; each accepts only its own triggers, so a
/// misrouted sweep never runs inside membership-sync's short timeout.
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

    /// Whether this function handles this input; `Err` explains where it belongs.
    pub fn accepts(self, inbound: &Inbound) -> std::result::Result<(), String> {
        match (self, inbound) {
            (Function::MembershipSync, Inbound::Sweep(_)) => Err(
                "membership-sync handles Identity Center events; sweeps and plans go to compliance-sweep".into(),
            ),
            (Function::MembershipSync, Inbound::Change(c)) if is_drift_change(c) => Err(
                "membership-sync handles Identity Center events; SageMaker and EC2 drift events go to compliance-sweep".into(),
            ),
            _ => Ok(()),
        }
    }
}

/// The whole `main` of a function: tracing, settings, clients, then the runtime loop.
/// Tells Lambda why the function cannot start (`POST /runtime/init/error`), so that the
/// failed invocation carries the configuration error (`NonRetryable.Config`, with the
/// policy's file, line and column) rather than a bare `Runtime.ExitError`. Best effort: the
/// error is also logged, and the process exits either way.
async fn report_init_error(error: &WardenError) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let Ok(base) = format!("http://{api}").parse::<http::Uri>() else {
        tracing::warn!(api = %api, "AWS_LAMBDA_RUNTIME_API is not host:port; init error not reported");
        return;
    };
    if base.authority().is_none() {
        return;
    }
    let diagnostic = diagnostic_of(error);
    let body = serde_json::json!({
        "errorType": diagnostic.error_type,
        "errorMessage": diagnostic.error_message,
    });
    let request = lambda_runtime_api_client::build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", "Runtime.InitError")
        .header("content-type", "application/json")
        .body(lambda_runtime_api_client::body::Body::from(
            body.to_string(),
        ));
    let client = lambda_runtime_api_client::PooledClient::builder()
        .with_endpoint(base)
        .build();
    match request {
        Ok(request) => {
            if let Err(e) = client.call(request).await {
                tracing::warn!(error = %e, "init error not reported to the Runtime API");
            }
        }
        Err(e) => tracing::warn!(error = %e, "init error request not built"),
    }
}

pub async fn run_lambda(function: Function) -> std::result::Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!(error = %e, "cold start failed");
            report_init_error(&e).await;
            return Err(e.into());
        }
    };
    let sdk = load_sdk_config().await;
    let engine = build_engine(&settings, &sdk);
    tracing::info!(
        domains = settings.policy.domains.len(),
        mappings = settings.policy.mappings.len(),
        "cold start: policy loaded, clients built"
    );
    let guard = build_guard(&settings, &sdk, &engine);
    let (engine, guard) = (&engine, &guard);
    lambda_runtime::run(lambda_runtime::service_fn(move |event| {
        handle_as(function, engine, guard, event)
    }))
    .await
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
