//! The handler with metrics on: what the functions run in Lambda (see [`crate::metrics`]).

use lambda_runtime::LambdaEvent;
use serde_json::Value;

use super::{HandlerError, Payload, handle_inner};
use crate::engine::Engine;
use crate::fanout::FanOut;
use crate::metrics::Telemetry;
use crate::ports::{Directory, Studio};
use crate::service::{DriftCheck, Function};

/// As [`handle_as`](super::handle_as), and writes the invocation's metrics record through `telemetry` (one
/// embedded metric format line, see [`crate::metrics`]), whatever the outcome.
pub async fn handle_with_metrics<D, S, L, G, F, P>(
    function: Function,
    engine: &Engine<D, S, L>,
    guard: &G,
    fanout: &F,
    event: LambdaEvent<P>,
    telemetry: &Telemetry,
) -> std::result::Result<Value, HandlerError>
where
    P: Into<Payload>,
    D: Directory,
    S: Studio,
    L: crate::engine::Store,
    G: DriftCheck,
    F: FanOut,
{
    handle_inner(
        Some(function),
        engine,
        guard,
        fanout,
        event,
        Some(telemetry),
    )
    .await
}
