//! The Lambda edge: configuration from the environment, clients built once per cold start from
//! one `SdkConfig`, and the handler that both functions share.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_types::SdkConfig;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tracing::Instrument;

use crate::adapters::{DynamoLedger, IdentityStoreDirectory, SageMakerStudio};
use crate::engine::{Engine, EngineOptions};
use crate::error::{Result, WardenError};
use crate::events;
use crate::fanout::{FanOut, NoFanOut};
use crate::metrics::{InputKind, Telemetry};
use crate::policy::Policy;
use crate::ports::{Directory, Studio};
use crate::service::{self, DriftCheck, Function};

mod build;
mod fanned;
mod init_error;
mod metered;
mod payload;
pub use build::{AwsGuard, build_engine, build_engine_with, build_guard, build_guard_with};
pub use fanned::{build_fanout, handle_fanned};
pub use metered::handle_with_metrics;
pub use payload::Payload;

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
    /// Calls per second to SageMaker (its List APIs throttle at a few calls per second), per
    /// account and region: each place a domain lives in has a limiter of its own.
    pub sagemaker_tps: u32,
    /// `WARDEN_TOPIC_ARN`: the SNS topic drift alerts go to. Without it, drift findings are
    /// recorded in the ledger and logged, and no alert is published.
    pub topic_arn: Option<String>,
    /// `WARDEN_WORK_QUEUE_URL`: the FIFO work queue; when set, an apply sweep fans out (see
    /// [`crate::fanout`]), else it runs in one invocation, as it always did.
    pub work_queue: Option<String>,
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
        let home = crate::policy::Home::from_lookup(&env).map_err(WardenError::Config)?;
        let policy = Policy::parse_at(&source, &origin, &domain_ids, &home)?;
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
            work_queue: env("WARDEN_WORK_QUEUE_URL").filter(|t| !t.trim().is_empty()),
        })
    }
}

/// The functions' retry configuration: adaptive retries (throttling backs the client off),
/// six attempts. The SDK's retries do not know the run's deadline; the engine bounds every call
/// it waits on (see `Run::bounded` in the engine).
pub fn retry_config() -> RetryConfig {
    RetryConfig::adaptive()
        .with_max_attempts(6)
        .with_initial_backoff(Duration::from_millis(200))
}

/// Loads the shared SDK configuration from the standard environment (credentials, region,
/// `AWS_ENDPOINT_URL`), with [`retry_config`].
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .load()
        .await
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
/// runs the drift checks ([`NoDrift`](crate::service::NoDrift) for none).
pub async fn handle<D, S, L, G, P>(
    engine: &Engine<D, S, L>,
    guard: &G,
    event: LambdaEvent<P>,
) -> std::result::Result<Value, HandlerError>
where
    P: Into<Payload>,
    D: Directory,
    S: Studio,
    L: crate::engine::Store,
    G: DriftCheck,
{
    handle_inner(None, engine, guard, &NoFanOut, event, None).await
}

/// Handles one invocation as the given function: inputs meant for the other are refused.
pub async fn handle_as<D, S, L, G, P>(
    function: Function,
    engine: &Engine<D, S, L>,
    guard: &G,
    event: LambdaEvent<P>,
) -> std::result::Result<Value, HandlerError>
where
    P: Into<Payload>,
    D: Directory,
    S: Studio,
    L: crate::engine::Store,
    G: DriftCheck,
{
    handle_inner(Some(function), engine, guard, &NoFanOut, event, None).await
}

/// Classify, route, report. Never panics; every failure becomes a [`HandlerError`] whose
/// type tells Lambda whether to retry.
async fn handle_inner<D, S, L, G, F, P>(
    function: Option<Function>,
    engine: &Engine<D, S, L>,
    guard: &G,
    fanout: &F,
    event: LambdaEvent<P>,
    telemetry: Option<&Telemetry>,
) -> std::result::Result<Value, HandlerError>
where
    P: Into<Payload>,
    D: Directory,
    S: Studio,
    L: crate::engine::Store,
    G: DriftCheck,
    F: FanOut,
{
    let started = tokio::time::Instant::now();
    let (payload, ctx) = event.into_parts();
    let payload = match payload.into() {
        Payload::Json(value) => value,
        Payload::Malformed(reason) => {
            tracing::error!(request_id = %ctx.request_id, %reason, "payload is not JSON: nothing done");
            let e = WardenError::from(events::EventError::NotJson { reason });
            if let Some(t) = telemetry {
                t.emit(
                    InputKind::Unclassified,
                    Err(&e),
                    started.elapsed(),
                    &ctx.request_id,
                );
            }
            return Err(HandlerError(e));
        }
    };
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
        let mut input = InputKind::Unclassified;
        let answer = async {
            let inbound =
                events::classify(&payload, &engine.policy.identity_store.id).map_err(|e| {
                    tracing::error!(error = %e, "malformed input: nothing done");
                    WardenError::from(e)
                })?;
            input = InputKind::of(&inbound);
            if let Some(function) = function {
                function.accepts(&inbound).map_err(|why| {
                    tracing::error!(function = function.name(), "{why}");
                    WardenError::WrongFunction(why)
                })?;
            }
            // Lambda's deadline is in milliseconds since the epoch.
            let now_ms =
                u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
                    .unwrap_or(0);
            let deadline = (ctx.deadline > now_ms).then(|| {
                tokio::time::Instant::now() + Duration::from_millis(ctx.deadline - now_ms)
            });
            // Boxed: the routes' futures are deep, and boxing keeps the binaries' future types
            // within the compiler's layout depth limit. The engine waits on no AWS call past its
            // time for calls; whatever still runs when the time to answer comes (the ledger
            // writes that record a cut run, the drift checks of an event) is abandoned, so that
            // Lambda gets a Retryable answer rather than a timeout (see `crate::deadline`).
            let answer_by = crate::deadline::answer_by(deadline, engine.options.deadline_margin);
            crate::deadline::within(
                answer_by,
                "the invocation",
                Box::pin(service::route(
                    engine,
                    guard,
                    fanout,
                    inbound,
                    now_epoch(),
                    deadline,
                )),
            )
            .await
            .inspect_err(|e| {
                tracing::error!(error = %e, retryable = e.is_retryable(), "invocation failed");
            })
        }
        .await;
        if let Some(t) = telemetry {
            t.emit(input, answer.as_ref(), started.elapsed(), &ctx.request_id);
        }
        answer
            .and_then(|report| report.to_response())
            .map_err(HandlerError)
    }
    .instrument(span)
    .await
}

/// The whole `main` of a function: tracing, settings, clients, then the runtime loop.
pub async fn run_lambda(function: Function) -> std::result::Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!(error = %e, "cold start failed");
            init_error::report_init_error(&e).await;
            return Err(e.into());
        }
    };
    let sdk = load_sdk_config().await;
    // One EMF line per invocation on stdout; the clients count their calls for it.
    let telemetry = Telemetry::from_lookup(
        |k| std::env::var(k).ok(),
        function.name(),
        Arc::new(crate::metrics::Stdout),
    );
    let engine = build_engine_with(&settings, &sdk, Some(&telemetry.calls));
    tracing::info!(
        domains = settings.policy.domains.len(),
        mappings = settings.policy.mappings.len(),
        "cold start: policy loaded, clients built"
    );
    let guard = build_guard_with(&settings, &sdk, &engine, Some(&telemetry.calls));
    let fanout = build_fanout(&settings, &sdk, &engine);
    let (engine, guard, fanout, telemetry) = (&engine, &guard, &fanout, &telemetry);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Payload>| {
            handle_with_metrics(function, engine, guard, fanout, event, telemetry)
        },
    ))
    .await
}
