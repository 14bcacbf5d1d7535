//! The fan-out port over SQS (the work queue) and the DynamoDB ledger (stored items, the
//! domains' results).

use aws_sdk_sqs::Client;

use super::{DynamoLedger, aws_error};
use crate::error::Result;
use crate::fanout::{DomainResult, FanOut, Limits, OutMessage, StoredRef};
use crate::model::Epoch;

/// [`FanOut`] over `aws_sdk_sqs::Client` and the ledger. Without a queue (`queue: None`),
/// sweeps run in one invocation; work items are still done (a worker needs only the ledger).
#[derive(Debug, Clone)]
pub struct SqsFanOut {
    queue: Option<(Client, String)>,
    ledger: DynamoLedger,
    limits: Limits,
}

impl SqsFanOut {
    /// `queue`: the SQS client and the work queue's URL (`WARDEN_WORK_QUEUE_URL`), if set.
    pub fn new(queue: Option<(Client, String)>, ledger: DynamoLedger) -> Self {
        Self {
            queue,
            ledger,
            limits: Limits::default(),
        }
    }

    /// Other limits (the tests send small items through the ledger).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

impl FanOut for SqsFanOut {
    fn enabled(&self) -> bool {
        self.queue.is_some()
    }

    fn limits(&self) -> Limits {
        self.limits
    }

    async fn enqueue(&self, message: &OutMessage) -> Result<()> {
        let Some((client, url)) = &self.queue else {
            return Err(crate::WardenError::Config(
                "WARDEN_WORK_QUEUE_URL is not set: no work queue to send to".into(),
            ));
        };
        client
            .send_message()
            .queue_url(url)
            .message_body(&message.body)
            .message_group_id(&message.group)
            .message_deduplication_id(&message.dedup)
            .send()
            .await
            .map_err(|e| aws_error("sqs", "SendMessage", e))?;
        Ok(())
    }

    async fn put_chunks(
        &self,
        reference: &StoredRef,
        chunks: &[Vec<u8>],
        expires_at: Epoch,
    ) -> Result<()> {
        self.ledger
            .put_work_chunks(reference, chunks, expires_at)
            .await
    }

    async fn chunks(&self, reference: &StoredRef) -> Result<Vec<Vec<u8>>> {
        self.ledger.work_chunks(reference).await
    }

    async fn record_domain(&self, sweep_id: &str, result: &DomainResult) -> Result<()> {
        self.ledger.record_domain_result(sweep_id, result).await
    }

    async fn redeliver_in(&self, receipt_handle: &str, after: std::time::Duration) -> Result<bool> {
        let Some((client, url)) = &self.queue else {
            return Ok(false);
        };
        // SQS takes whole seconds, 0 to 43,200 (botocore's model: `VisibilityTimeout`, an
        // Integer; the API reference: at most 12 hours).
        let seconds = i32::try_from(after.as_secs().min(43_200)).unwrap_or(43_200);
        client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| aws_error("sqs", "ChangeMessageVisibility", e))?;
        Ok(true)
    }
}
