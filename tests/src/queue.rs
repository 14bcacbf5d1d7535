//! The work queue as the SQS event source mapping works it, for tests and benchmarks: the
//! messages received, handed to the real compliance-sweep handler as an SQS event
//! (`Records`), and the ones it did not report failed deleted.

use aws_sdk_sqs::types::MessageSystemAttributeName;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use warden::fanout::Limits;
use warden::service::Function;

use crate::fixture::{World, now};

/// compliance-sweep as deployed with `WARDEN_WORK_QUEUE_URL`: the world's engine and drift
/// checks, and the fan-out over the queue and the ledger.
pub fn fan_out(world: &World, queue: &str, limits: Limits) -> warden::adapters::SqsFanOut {
    warden::adapters::SqsFanOut::new(
        Some((world.sqs.clone(), queue.to_owned())),
        world.engine.ledger.clone(),
    )
    .with_limits(limits)
}

pub async fn invoke(
    world: &World,
    fanout: &warden::adapters::SqsFanOut,
    payload: Value,
) -> Result<Value, warden::runtime::HandlerError> {
    let mut context = Context::default();
    context.request_id = format!("req-{}", now());
    warden::runtime::handle_fanned(
        Function::ComplianceSweep,
        &world.engine,
        &world.guard,
        fanout,
        LambdaEvent::new(payload, context),
    )
    .await
}

/// As [`invoke`], with Lambda's deadline `time_left` from now.
pub async fn invoke_within(
    world: &World,
    fanout: &warden::adapters::SqsFanOut,
    payload: Value,
    time_left: std::time::Duration,
) -> Result<Value, warden::runtime::HandlerError> {
    let mut context = Context::default();
    context.request_id = format!("req-{}", now());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    context.deadline = now_ms + time_left.as_millis() as u64;
    warden::runtime::handle_fanned(
        Function::ComplianceSweep,
        &world.engine,
        &world.guard,
        fanout,
        LambdaEvent::new(payload, context),
    )
    .await
}

/// A received message, as the event source mapping hands it on.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub receipt: String,
    pub body: String,
    pub group: String,
}

/// Every message waiting in the queue (FIFO: in order), received once.
pub async fn receive(world: &World, queue: &str) -> Vec<Received> {
    let mut out = Vec::new();
    for _ in 0..5 {
        let got = world
            .sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("ReceiveMessage");
        if got.messages().is_empty() {
            break;
        }
        for m in got.messages() {
            out.push(Received {
                id: m.message_id().unwrap_or_default().to_owned(),
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                group: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                    .cloned()
                    .unwrap_or_default(),
            });
        }
    }
    out
}

/// The SQS event of a batch (Lambda developer guide, "Using Lambda with Amazon SQS").
pub fn sqs_event(batch: &[Received]) -> Value {
    let records: Vec<Value> = batch
        .iter()
        .map(|m| {
            json!({
                "messageId": m.id,
                "receiptHandle": m.receipt,
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1790000000000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1790000000001",
                    "MessageGroupId": m.group,
                    "MessageDeduplicationId": "dedup",
                    "SequenceNumber": "18849496460467696128"
                },
                "messageAttributes": {},
                "md5OfBody": "0",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:studio-warden-work.fifo",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The message ids the handler reported failed.
pub fn failed(answer: &Value) -> Vec<String> {
    answer["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("no batchItemFailures in {answer:#}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Feeds a batch to the worker and deletes what it did not report failed.
pub async fn work(
    world: &World,
    fanout: &warden::adapters::SqsFanOut,
    queue: &str,
    batch: &[Received],
) -> Vec<String> {
    let answer = invoke(world, fanout, sqs_event(batch))
        .await
        .expect("a batch is answered, not failed");
    assert_eq!(
        answer
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["batchItemFailures".to_owned()]),
        "{answer:#}"
    );
    let failed = failed(&answer);
    for m in batch.iter().filter(|m| !failed.contains(&m.id)) {
        world
            .sqs
            .delete_message()
            .queue_url(queue)
            .receipt_handle(&m.receipt)
            .send()
            .await
            .expect("DeleteMessage");
    }
    failed
}
