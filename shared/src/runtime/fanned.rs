//! The Lambda edge with the fan-out: compliance-sweep's handler given the work queue (see
//! [`crate::fanout`]).

use aws_types::SdkConfig;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

use super::{AwsEngine, HandlerError, Payload, Settings, handle_inner};
use crate::adapters::SqsFanOut;
use crate::engine::Engine;
use crate::fanout::FanOut;
use crate::ports::{Directory, Studio};
use crate::service::{DriftCheck, Function};

/// As [`handle_as`](super::handle_as), with the fan-out (the work queue and the ledger's
/// work items): apply sweeps fan out when it has a queue, and the queue's SQS events are
/// worked.
pub async fn handle_fanned<D, S, L, G, F, P>(
    function: Function,
    engine: &Engine<D, S, L>,
    guard: &G,
    fanout: &F,
    event: LambdaEvent<P>,
) -> std::result::Result<Value, HandlerError>
where
    P: Into<Payload>,
    D: Directory,
    S: Studio,
    L: crate::engine::Store,
    G: DriftCheck,
    F: FanOut,
{
    handle_inner(Some(function), engine, guard, fanout, event, None).await
}

/// The fan-out over the real AWS clients: the work queue if `settings` names one (an apply
/// sweep then fans out), and the engine's ledger for the work items (a worker needs only it).
pub fn build_fanout(settings: &Settings, sdk: &SdkConfig, engine: &AwsEngine) -> SqsFanOut {
    let queue = settings
        .work_queue
        .as_ref()
        .map(|url| (aws_sdk_sqs::Client::new(sdk), url.clone()));
    if queue.is_some() {
        tracing::info!(
            "WARDEN_WORK_QUEUE_URL is set: apply sweeps fan out, one work item per domain"
        );
    }
    SqsFanOut::new(queue, engine.ledger.clone())
}
