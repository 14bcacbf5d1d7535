//! Fan-out: an apply sweep split into one work item per domain on an SQS FIFO queue.
//!
//! The coordinator (compliance-sweep given a sweep while `WARDEN_WORK_QUEUE_URL` is set) reads
//! the directory once, plans every domain and passes the plans through the central safety
//! gate exactly as a sweep does; then, instead of applying, it sends each domain's desired
//! state as a [`WorkItem`]. A worker (compliance-sweep given the queue's SQS event) re-observes
//! that one domain, plans from the item, carries out what the gate allowed, runs the domain's
//! drift checks and adds its result to the sweep's summary in the ledger.
//!
//! This module is the pure part: the item and its encoding (inline, or through the ledger
//! when it is too big for a message, never truncated), the message group and deduplication
//! ids, which starts a worker may make, and which records of a batch to report failed.
//! [`FanOut`] is the port the queue and the ledger's fan-out items sit behind.

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::desired::MappingStatus;
use crate::error::{Result, WardenError};
use crate::ids::{GroupId, UserId};
use crate::model::Epoch;
use crate::planner::Action;
use crate::policy::{self, Policy};

/// SQS's largest message body: "The maximum size is 1 MiB or 1,048,576 bytes" (botocore's
/// SQS model, `SendMessageRequest.MessageBody`).
pub const SQS_MESSAGE_MAX_BYTES: usize = 1_048_576;
/// Room kept below [`SQS_MESSAGE_MAX_BYTES`]: a body is sent as is, but the limit is AWS's
/// and a body near it leaves no room for a mistake in counting.
pub const INLINE_MARGIN_BYTES: usize = 64 * 1024;
/// DynamoDB's largest item: 400 KB, attribute names and values together (DynamoDB developer
/// guide, "Service, account, and table quotas").
pub const DYNAMODB_ITEM_MAX_BYTES: usize = 400 * 1024;
/// The bytes of a stored item per ledger chunk: well below [`DYNAMODB_ITEM_MAX_BYTES`], with
/// room for the keys and the other attributes.
pub const CHUNK_BYTES: usize = 300 * 1024;
/// How long a stored item is kept (DynamoDB TTL on `expires_at`): SQS keeps a message at
/// most 14 days (`MessageRetentionPeriod`, botocore's SQS model), so no message can refer
/// to a chunk after that.
pub const STORED_TTL_SECS: i64 = 14 * 24 * 3600;
/// An item older than this is dropped by the worker, unworked: later sweeps have covered its
/// domain since (a redelivered or redriven message must not apply a desired state hours old).
pub const MAX_ITEM_AGE_SECS: i64 = 6 * 3600;
/// The item's format; a worker refuses any other.
pub const ITEM_FORMAT: u32 = 1;

/// When an item goes through the ledger, and in pieces of what size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest body sent inline.
    pub inline_bytes: usize,
    /// The bytes per ledger chunk of an item sent by reference.
    pub chunk_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            inline_bytes: SQS_MESSAGE_MAX_BYTES - INLINE_MARGIN_BYTES,
            chunk_bytes: CHUNK_BYTES,
        }
    }
}

/// What one user should have in the item's domain: the winning mapping (by index in the
/// policy) and the group that brought it. The worker rebuilds the entitlement from its own
/// policy, which the item's [`WorkItem::policy`] fingerprint says is the coordinator's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wanted {
    pub user_name: String,
    pub mapping: usize,
    pub group: GroupId,
}

/// One domain's share of a sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkItem {
    /// [`ITEM_FORMAT`].
    pub format: u32,
    pub sweep_id: String,
    /// The domain's policy `name` (unique and stable; the worker looks it up in its policy).
    pub domain: String,
    /// When the coordinator read the directory.
    pub now: Epoch,
    /// [`fingerprint`] of the coordinator's policy.
    pub policy: String,
    /// The coordinator's resolution of the policy's groups, by mapping index.
    pub mappings: BTreeMap<usize, MappingStatus>,
    /// Every user entitled to the domain.
    pub desired: BTreeMap<UserId, Wanted>,
    /// The users whose leaving may start (a grace period, a suspension, a deletion): those the
    /// central gate let through, each with the approved hold that released it, if one did. A
    /// worker starts no other.
    pub released: BTreeMap<UserId, Option<String>>,
}

/// A stored item, as the message that refers to it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredRef {
    pub sweep_id: String,
    pub domain: String,
    pub chunks: u32,
    pub bytes: u64,
    /// SHA-256 of the item's JSON, hex.
    pub sha256: String,
}

/// A message body: the item, or where the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Body {
    Item(Box<WorkItem>),
    Stored(StoredRef),
}

/// An item ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoded {
    /// The body holds the item.
    Inline { body: String },
    /// The item goes into the ledger in `chunks` first; the body refers to them.
    Stored {
        body: String,
        reference: StoredRef,
        chunks: Vec<Vec<u8>>,
    },
}

impl Encoded {
    pub fn body(&self) -> &str {
        match self {
            Encoded::Inline { body } | Encoded::Stored { body, .. } => body,
        }
    }
}

/// Why a message is not a work item this worker can do. None of these is retryable: the
/// message fails until SQS moves it to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    #[error("the message is not a work item: {0}")]
    Malformed(String),
    #[error("work item format {0} is not {ITEM_FORMAT}")]
    Format(u32),
    #[error("the policy names no domain {0:?}")]
    UnknownDomain(String),
    #[error("the stored item {domain:?} of sweep {sweep_id} is not whole in the ledger: {why}")]
    Stored {
        sweep_id: String,
        domain: String,
        why: String,
    },
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The item as a message body: inline when its JSON fits `limits.inline_bytes`, else stored in
/// chunks of `limits.chunk_bytes` with a reference as the body. Never truncated.
pub fn encode(item: &WorkItem, limits: Limits) -> Result<Encoded> {
    let json = serde_json::to_string(&Body::Item(Box::new(item.clone()))).map_err(|e| {
        WardenError::UnexpectedResponse {
            service: "studio-warden",
            operation: "work item",
            detail: e.to_string(),
        }
    })?;
    if json.len() <= limits.inline_bytes {
        return Ok(Encoded::Inline { body: json });
    }
    let bytes = json.into_bytes();
    let chunks: Vec<Vec<u8>> = bytes
        .chunks(limits.chunk_bytes.max(1))
        .map(<[u8]>::to_vec)
        .collect();
    let reference = StoredRef {
        sweep_id: item.sweep_id.clone(),
        domain: item.domain.clone(),
        chunks: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
    };
    let body = serde_json::to_string(&Body::Stored(reference.clone())).map_err(|e| {
        WardenError::UnexpectedResponse {
            service: "studio-warden",
            operation: "work item",
            detail: e.to_string(),
        }
    })?;
    Ok(Encoded::Stored {
        body,
        reference,
        chunks,
    })
}

/// A message body, read.
pub fn decode(body: &str) -> std::result::Result<Body, ItemError> {
    let parsed: Body = serde_json::from_str(body).map_err(|e| {
        ItemError::Malformed(
            e.to_string()
                .chars()
                .filter(|c| !c.is_control())
                .take(300)
                .collect(),
        )
    })?;
    if let Body::Item(item) = &parsed
        && item.format != ITEM_FORMAT
    {
        return Err(ItemError::Format(item.format));
    }
    Ok(parsed)
}

/// A stored item put together again from its chunks, in order: every chunk there, the bytes
/// and their hash as the reference says, and the item the one it names.
pub fn reassemble(
    reference: &StoredRef,
    chunks: Vec<Vec<u8>>,
) -> std::result::Result<WorkItem, ItemError> {
    let fail = |why: String| ItemError::Stored {
        sweep_id: reference.sweep_id.clone(),
        domain: reference.domain.clone(),
        why,
    };
    if chunks.len() != reference.chunks as usize {
        return Err(fail(format!(
            "{} chunk(s) of {} found (expired, or never written)",
            chunks.len(),
            reference.chunks
        )));
    }
    let bytes: Vec<u8> = chunks.concat();
    if bytes.len() as u64 != reference.bytes || sha256_hex(&bytes) != reference.sha256 {
        return Err(fail("the chunks do not add up to the item sent".to_owned()));
    }
    let text = String::from_utf8(bytes).map_err(|e| fail(e.to_string()))?;
    match decode(&text)? {
        Body::Item(item)
            if item.sweep_id == reference.sweep_id && item.domain == reference.domain =>
        {
            Ok(*item)
        }
        Body::Item(_) => Err(fail(
            "the stored item is another domain's or sweep's".to_owned(),
        )),
        Body::Stored(_) => Err(fail("a reference to a reference".to_owned())),
    }
}

/// The message group of a domain's work: its place (account and region), so that the work of
/// one account and region runs one item at a time (SageMaker throttles per account and region)
/// and different places run in parallel.
pub fn message_group(policy: &Policy, domain: &policy::Domain) -> String {
    domain.message_group(&policy.home)
}

/// SQS's rule for `MessageDeduplicationId` and `MessageGroupId`: at most 128 characters,
/// alphanumeric or punctuation (botocore's SQS model).
fn sqs_token_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_graphic())
}

/// The deduplication id of a domain's item in a sweep: `{sweep_id}#{domain name}`, so that a
/// coordinator retried with the same sweep id sends nothing twice within SQS's five-minute
/// deduplication interval. When that is not a valid token, its SHA-256 (hex) stands in.
pub fn dedup_id(sweep_id: &str, domain: &str) -> String {
    let id = format!("{sweep_id}#{domain}");
    if sqs_token_ok(&id) {
        id
    } else {
        sha256_hex(id.as_bytes())
    }
}

/// A fingerprint of what a work item means under a policy: the domains and the mappings (by
/// index: their domain, group, priority and settings). A worker whose policy differs (a
/// deployment between the coordinator and the worker) drops the item: the next sweep plans
/// under the new policy.
pub fn fingerprint(policy: &Policy) -> String {
    let mut h = Sha256::new();
    for d in &policy.domains {
        h.update(format!("domain\u{1f}{}\u{1f}{}\u{1e}", d.name, d.id));
    }
    for m in &policy.mappings {
        h.update(format!(
            "mapping\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1e}",
            m.index, m.domain, m.group, m.priority, m.template_hash
        ));
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Splits a worker's plan: the starts of a leaving (`is_start`) of users the item does not
/// release are taken out (answered as deferred); a start the item releases under an approved
/// hold carries the hold, as the central gate would have marked it. Every other action stays.
pub fn keep_released(
    actions: Vec<Action>,
    is_start: impl Fn(&Action) -> bool,
    released: &BTreeMap<UserId, Option<String>>,
) -> (Vec<Action>, Vec<Action>) {
    let mut keep = Vec::with_capacity(actions.len());
    let mut deferred = Vec::new();
    for mut action in actions {
        if !is_start(&action) {
            keep.push(action);
            continue;
        }
        let Some(hold) = action.user().map(|u| released.get(u)) else {
            keep.push(action);
            continue;
        };
        match hold {
            None => deferred.push(action),
            Some(None) => keep.push(action),
            Some(Some(hold)) => {
                crate::safety::mark_released(&mut action, hold);
                keep.push(action);
            }
        }
    }
    (keep, deferred)
}

/// The records of a batch to report failed (`batchItemFailures`), given the position of the
/// first that failed or was not done. On a FIFO queue AWS asks the function to stop at the
/// first failure and report it with every message after it, done or not, so that no message
/// of a group is deleted while an earlier one of the batch is to be redelivered (AWS Lambda
/// developer guide, "Handling errors for an SQS event source in Lambda",
/// https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html, section
/// "Implementing partial batch responses": "When using FIFO queues, your function should stop
/// processing messages after the first failure and return all failed and unprocessed messages
/// in batchItemFailures").
pub fn batch_item_failures(message_ids: &[String], first_failed: Option<usize>) -> Vec<String> {
    match first_failed {
        Some(i) => message_ids.iter().skip(i).cloned().collect(),
        None => Vec::new(),
    }
}

/// When a message reported failed is to be delivered again. Left alone, SQS delivers it after
/// the queue's visibility timeout, which the hub stack sets to six times the function's
/// timeout (the Lambda developer guide's advice for an event source mapping): 90 minutes for
/// a 900 s function. A worker that knows better says so with `ChangeMessageVisibility` ("you
/// can ... make the message visible again immediately by setting VisibilityTimeout to 0",
/// SQS API reference). A FIFO group stays blocked behind a message that is not yet visible
/// again, so a later message of its group still waits its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redeliver {
    /// At once: the item was not started, or the deadline cut it (the next worker goes on).
    Now,
    /// After `Duration`: failures a retry can fix that outlasted the worker's own passes.
    After(std::time::Duration),
    /// After the queue's visibility timeout: a message no retry can fix (a poison message)
    /// or a failure of unknown kind; `maxReceiveCount` receipts take it to the dead-letter
    /// queue.
    QueueTimeout,
}

/// The first backoff of an item whose failures a retry can fix.
pub const RETRY_BACKOFF: std::time::Duration = std::time::Duration::from_secs(60);

/// The longest backoff: the longest a Lambda function runs (900 s).
pub const RETRY_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(900);

/// The backoff before the next delivery of an item that failed its `receive_count`th time:
/// [`RETRY_BACKOFF`], doubled with each receipt, at most [`RETRY_BACKOFF_MAX`]. With the hub
/// stack's `maxReceiveCount` of 5, a domain that keeps failing reaches the dead-letter queue
/// (and its alarm) after 1 + 2 + 4 + 8 minutes of backoff.
pub fn retry_backoff(receive_count: Option<u32>) -> std::time::Duration {
    let doublings = receive_count.unwrap_or(1).saturating_sub(1).min(16);
    RETRY_BACKOFF
        .saturating_mul(1 << doublings)
        .min(RETRY_BACKOFF_MAX)
}

/// One domain's result in a fanned-out sweep, as its worker records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainResult {
    pub domain: String,
    /// Actions done, by kind (`ReportUnmanaged` apart: see `unmanaged`).
    pub actions: BTreeMap<String, u64>,
    pub failures: u64,
    pub unmanaged: u64,
    pub complete: bool,
    pub finished_at: Epoch,
}

/// Where a sweep's fan-out stands: what the coordinator enqueued and what the workers
/// reported so far (aggregated by the ledger when the sweeps are read).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Domains enqueued.
    pub domains: u64,
    /// Domains whose worker reported a result.
    #[serde(default)]
    pub reported: u64,
    /// Domains whose worker reported its work complete.
    #[serde(default)]
    pub complete: u64,
}

/// What the coordinator enqueued for one domain (in its answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Queued {
    pub domain: String,
    pub domain_id: crate::ids::DomainId,
    /// The message group (the domain's place).
    pub group: String,
    /// Users entitled to the domain.
    pub users: usize,
    /// Actions the central plan found (the worker plans again from the domain as it is then).
    pub planned: usize,
    /// Starts of a leaving the central gate released.
    pub released: usize,
    /// Chunks in the ledger when the item was too big for a message (`None`: inline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_chunks: Option<u32>,
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMessage {
    pub body: String,
    pub group: String,
    pub dedup: String,
}

/// The work queue and the ledger's fan-out items.
pub trait FanOut: Send + Sync {
    /// Whether a work queue is configured: an apply sweep then fans out.
    fn enabled(&self) -> bool;
    /// When an item goes through the ledger.
    fn limits(&self) -> Limits;
    /// Sends one message to the work queue.
    fn enqueue(&self, message: &OutMessage) -> impl Future<Output = Result<()>> + Send;
    /// Keeps a stored item's chunks until `expires_at`.
    fn put_chunks(
        &self,
        reference: &StoredRef,
        chunks: &[Vec<u8>],
        expires_at: Epoch,
    ) -> impl Future<Output = Result<()>> + Send;
    /// A stored item's chunks, in order (those that are there).
    fn chunks(&self, reference: &StoredRef) -> impl Future<Output = Result<Vec<Vec<u8>>>> + Send;
    /// Adds one domain's result (of one attempt) to the sweep's summary: the actions are
    /// added up over attempts (a redelivered item redoes nothing done), the rest is the
    /// latest attempt's.
    fn record_domain(
        &self,
        sweep_id: &str,
        result: &DomainResult,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Makes a received message visible again `after` from now instead of after the queue's
    /// visibility timeout ([`Redeliver`]). `Ok(false)`: no work queue is configured here to
    /// change it on (the message comes back after the queue's timeout).
    fn redeliver_in(
        &self,
        receipt_handle: &str,
        after: std::time::Duration,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// No fan-out: sweeps run in one invocation, and work items are refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFanOut;

fn not_configured() -> WardenError {
    WardenError::Config(
        "this function was built without a work queue or ledger for fan-out work items".into(),
    )
}

impl FanOut for NoFanOut {
    fn enabled(&self) -> bool {
        false
    }
    fn limits(&self) -> Limits {
        Limits::default()
    }
    async fn enqueue(&self, _message: &OutMessage) -> Result<()> {
        Err(not_configured())
    }
    async fn put_chunks(&self, _r: &StoredRef, _c: &[Vec<u8>], _e: Epoch) -> Result<()> {
        Err(not_configured())
    }
    async fn chunks(&self, _reference: &StoredRef) -> Result<Vec<Vec<u8>>> {
        Err(not_configured())
    }
    async fn record_domain(&self, _sweep_id: &str, _result: &DomainResult) -> Result<()> {
        Err(not_configured())
    }
    async fn redeliver_in(&self, _receipt: &str, _after: std::time::Duration) -> Result<bool> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests;
