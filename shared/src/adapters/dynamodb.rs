//! The DynamoDB ledger: one table, `pk`/`sk` string keys, TTL on `expires_at`.
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | current state of a user in a domain | `DOMAIN#<domain id>` | `USER#<user id>` | conditional on `version` |
//! | history row | `USER#<user id>` | `HIST#<ulid>` | append-only (`attribute_not_exists`) |
//! | handled event | `EVENT#<event id>` | `EVENT` | `expires_at` TTL |
//! | membership id seen in an event | `MEMBERSHIP#<membership id>` | `MEMBERSHIP` | `expires_at` TTL |
//! | sweep run | `SWEEP` | `RUN#<sweep id>` | summary of one run (listed by `started_at`) |
//! | hold (deletions waiting for an operator) | `HOLD` | `HOLD#<ulid>` | conditional on `version` |
//! | pinned group of a display-name mapping | `PIN` | `GROUP#<display name>` | written once (`attribute_not_exists`) |
//!
//! The fan-out's items (work item chunks, each domain's result in a sweep) are in
//! `dynamodb_fanout.rs`.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{aws_error, code_of};
use crate::error::{Result, WardenError};
use crate::ids::{DomainId, GroupId, MembershipId, UserId};
use crate::model::{Epoch, UserRecord};
use crate::ports::{HistoryEntry, Ledger, Pin, SweepSummary};
use crate::safety::Hold;

const SERVICE: &str = "dynamodb";

/// TransactWriteItems cancellation reasons that a retry can get past: another transaction held
/// one of the items (`TransactionConflict`), or DynamoDB throttled inside the transaction
/// (`ThrottlingError` on on-demand tables, `ProvisionedThroughputExceeded` on provisioned
/// ones). Only `ConditionalCheckFailed` means another writer won (see [`DynamoLedger::transact`]).
const RETRYABLE_CANCELLATIONS: &[&str] = &[
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];
/// Membership ids are remembered for a little over a year.
const MEMBERSHIP_TTL_SECS: i64 = 400 * 24 * 3600;

type Item = HashMap<String, AttributeValue>;

/// [`Ledger`] over `aws_sdk_dynamodb::Client`.
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    pub(crate) client: Client,
    pub(crate) table: String,
}

fn record_key(domain: &DomainId, user: &UserId) -> (String, String) {
    (format!("DOMAIN#{domain}"), format!("USER#{user}"))
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// One conditional write: an item and the condition that keeps it from overwriting a
/// concurrent writer's.
pub(crate) struct Write {
    item: Item,
    condition: &'static str,
    previous: Option<AttributeValue>,
}

impl Write {
    /// Version `version` of a versioned item: created if it is 1, else written only over
    /// version `version - 1`.
    pub(crate) fn versioned(item: Item, version: u64) -> Self {
        if version <= 1 {
            Self::new_only(item)
        } else {
            Self {
                item,
                condition: "version = :previous",
                previous: Some(AttributeValue::N((version - 1).to_string())),
            }
        }
    }

    /// An item that must not exist yet (append-only rows).
    pub(crate) fn new_only(item: Item) -> Self {
        Self {
            item,
            condition: "attribute_not_exists(pk)",
            previous: None,
        }
    }

    fn values(&mut self) -> Option<HashMap<String, AttributeValue>> {
        self.previous
            .take()
            .map(|p| HashMap::from([(":previous".to_owned(), p)]))
    }
}

pub(crate) fn to_item<T: Serialize>(key: &str, value: &T, pk: String, sk: String) -> Result<Item> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(|e| WardenError::LedgerCorrupt {
        key: key.to_owned(),
        detail: format!("cannot encode: {e}"),
    })?;
    item.insert("pk".into(), s(pk));
    item.insert("sk".into(), s(sk));
    Ok(item)
}

pub(crate) fn from_item<T: DeserializeOwned>(mut item: Item) -> Result<T> {
    let key = match (item.remove("pk"), item.remove("sk")) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => format!("{pk}/{sk}"),
        _ => "(no key)".to_owned(),
    };
    item.remove("expires_at");
    serde_dynamo::from_item(item).map_err(|e| WardenError::LedgerCorrupt {
        key,
        detail: e.to_string(),
    })
}

impl DynamoLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Every item of one partition, oldest sort key first.
    async fn query_partition(&self, pk: String, sk_prefix: &str) -> Result<Vec<Item>> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(sk_prefix))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error(SERVICE, "Query", e))?;
            out.extend(page.items().iter().cloned());
        }
        Ok(out)
    }

    /// One conditional PutItem; `Err(LedgerConflict { key })` if its condition failed. An item
    /// held by another invocation's transaction (`TransactionConflictException`) is a
    /// retryable AWS error, not a conflict: nobody has won yet.
    pub(crate) async fn put(&self, mut write: Write, key: String) -> Result<()> {
        let values = write.values();
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(write.item))
            .condition_expression(write.condition)
            .set_expression_attribute_values(values)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code_of(&e) == Some("ConditionalCheckFailedException") => {
                Err(WardenError::LedgerConflict { key })
            }
            Err(e) => Err(aws_error(SERVICE, "PutItem", e)),
        }
    }

    /// Conditional puts in one transaction: all are written or none.
    /// `Err(LedgerConflict { key })` if a condition failed (another invocation wrote first);
    /// a cancellation for a reason a retry can get past ([`RETRYABLE_CANCELLATIONS`]: an item
    /// held by another transaction, throttling) is a retryable AWS error; any other reason
    /// (a validation error, an item too large) is not.
    pub(crate) async fn transact(&self, writes: Vec<Write>, key: String) -> Result<()> {
        let mut request = self.client.transact_write_items();
        for mut write in writes {
            let values = write.values();
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(write.item))
                .condition_expression(write.condition)
                .set_expression_attribute_values(values)
                .build()
                .map_err(|e| WardenError::UnexpectedResponse {
                    service: SERVICE,
                    operation: "TransactWriteItems",
                    detail: e.to_string(),
                })?;
            request = request.transact_items(TransactWriteItem::builder().put(put).build());
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let reasons: Vec<String> = match e.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(tc)) => tc
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None").to_owned())
                        .collect(),
                    _ => Vec::new(),
                };
                if reasons.iter().any(|r| r == "ConditionalCheckFailed") {
                    return Err(WardenError::LedgerConflict { key });
                }
                let mut err = aws_error(SERVICE, "TransactWriteItems", e);
                if let WardenError::Aws {
                    retryable, message, ..
                } = &mut err
                    && !reasons.is_empty()
                {
                    *retryable |= reasons
                        .iter()
                        .any(|r| RETRYABLE_CANCELLATIONS.contains(&r.as_str()));
                    message.push_str(&format!(" (cancellation reasons: {})", reasons.join(", ")));
                }
                Err(err)
            }
        }
    }

    fn history_item(entry: &HistoryEntry) -> Result<(Item, String)> {
        // A ULID is unique and sorts by time; `attribute_not_exists` makes an append never
        // overwrite, so a row can only be added, never lost to a concurrent writer.
        let pk = format!("USER#{}", entry.user);
        let sk = format!("HIST#{}", ulid::Ulid::generate());
        let key = format!("{pk}/{sk}");
        Ok((to_item(&key, entry, pk, sk)?, key))
    }

    fn record_item(record: &UserRecord) -> Result<(Item, String)> {
        let (pk, sk) = record_key(&record.domain, &record.user);
        let key = format!("{pk}/{sk}");
        Ok((to_item(&key, record, pk, sk)?, key))
    }
}

impl Ledger for DynamoLedger {
    async fn record(&self, domain: &DomainId, user: &UserId) -> Result<Option<UserRecord>> {
        let (pk, sk) = record_key(domain, user);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_error(SERVICE, "GetItem", e))?;
        out.item.map(from_item).transpose()
    }

    async fn holds(&self) -> Result<Vec<Hold>> {
        self.query_partition("HOLD".to_owned(), "HOLD#")
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn save_hold(&self, hold: &Hold) -> Result<()> {
        let pk = "HOLD".to_owned();
        let sk = format!("HOLD#{}", hold.id);
        let key = format!("{pk}/{sk}");
        let item = to_item(&key, hold, pk, sk)?;
        self.put(Write::versioned(item, hold.version), key).await
    }

    async fn pins(&self) -> Result<Vec<Pin>> {
        self.query_partition("PIN".to_owned(), "GROUP#")
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn pin(&self, pin: &Pin) -> Result<()> {
        let pk = "PIN".to_owned();
        let sk = format!("GROUP#{}", pin.display_name);
        let key = format!("{pk}/{sk}");
        let item = to_item(&key, pin, pk, sk)?;
        self.put(Write::new_only(item), key).await
    }

    async fn records(&self, domain: &DomainId) -> Result<Vec<UserRecord>> {
        self.query_partition(format!("DOMAIN#{domain}"), "USER#")
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn put_record(&self, record: &UserRecord) -> Result<()> {
        let (item, key) = Self::record_item(record)?;
        self.put(Write::versioned(item, record.version), key).await
    }

    async fn append(&self, entry: &HistoryEntry) -> Result<()> {
        let (item, key) = Self::history_item(entry)?;
        self.put(Write::new_only(item), key).await
    }

    async fn commit(&self, record: &UserRecord, entry: &HistoryEntry) -> Result<()> {
        let (record_item, key) = Self::record_item(record)?;
        let (history_item, _) = Self::history_item(entry)?;
        self.transact(
            vec![
                Write::versioned(record_item, record.version),
                Write::new_only(history_item),
            ],
            key,
        )
        .await
    }

    async fn history(&self, user: &UserId) -> Result<Vec<HistoryEntry>> {
        self.query_partition(format!("USER#{user}"), "HIST#")
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn event_seen(&self, event_id: &str) -> Result<bool> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("EVENT#{event_id}")))
            .key("sk", s("EVENT"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_error(SERVICE, "GetItem", e))?;
        Ok(out.item.is_some())
    }

    async fn mark_event(&self, event_id: &str, now: Epoch, ttl_secs: i64) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("EVENT#{event_id}")))
            .item("sk", s("EVENT"))
            .item("handled_at", AttributeValue::N(now.to_string()))
            .item(
                "expires_at",
                AttributeValue::N(now.saturating_add(ttl_secs).to_string()),
            )
            .send()
            .await
            .map_err(|e| aws_error(SERVICE, "PutItem", e))?;
        Ok(())
    }

    async fn remember_membership(
        &self,
        membership: &MembershipId,
        group: &GroupId,
        user: &UserId,
    ) -> Result<()> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("MEMBERSHIP#{membership}")))
            .item("sk", s("MEMBERSHIP"))
            .item("group", s(group.as_str()))
            .item("user", s(user.as_str()))
            .item(
                "expires_at",
                AttributeValue::N(now.saturating_add(MEMBERSHIP_TTL_SECS).to_string()),
            )
            .send()
            .await
            .map_err(|e| aws_error(SERVICE, "PutItem", e))?;
        Ok(())
    }

    async fn membership(&self, membership: &MembershipId) -> Result<Option<(GroupId, UserId)>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("MEMBERSHIP#{membership}")))
            .key("sk", s("MEMBERSHIP"))
            .send()
            .await
            .map_err(|e| aws_error(SERVICE, "GetItem", e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        match (item.get("group"), item.get("user")) {
            (Some(AttributeValue::S(g)), Some(AttributeValue::S(u))) => {
                Ok(Some((GroupId::parse(g)?, UserId::parse(u)?)))
            }
            _ => Err(WardenError::LedgerCorrupt {
                key: format!("MEMBERSHIP#{membership}"),
                detail: "group or user missing".into(),
            }),
        }
    }

    async fn record_sweep(&self, summary: &SweepSummary) -> Result<()> {
        let pk = "SWEEP".to_owned();
        let sk = format!("RUN#{}", summary.sweep_id);
        let key = format!("{pk}/{sk}");
        let item = to_item(&key, summary, pk, sk)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| aws_error(SERVICE, "PutItem", e))?;
        Ok(())
    }

    /// Reads the whole `SWEEP` partition: its sort keys are sweep ids, which are not all in
    /// time order (a Scheduler envelope's id is a UUID), so the latest are found by
    /// `started_at`. A summary is a few hundred bytes: a year of sweeps every 15 minutes is
    /// about 10 MB, read only when an operator asks.
    async fn sweeps(&self, limit: usize) -> Result<Vec<SweepSummary>> {
        let mut all: Vec<SweepSummary> = self
            .query_partition("SWEEP".to_owned(), "RUN#")
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<_>>()?;
        all.sort_by(|a, b| {
            (b.started_at, b.finished_at, &b.sweep_id).cmp(&(
                a.started_at,
                a.finished_at,
                &a.sweep_id,
            ))
        });
        all.truncate(limit);
        for summary in &mut all {
            self.aggregate(summary).await?;
        }
        Ok(all)
    }
}
