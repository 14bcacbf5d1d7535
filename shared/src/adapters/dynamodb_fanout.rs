//! The ledger's fan-out items (see [`crate::fanout`]), in the same table:
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | chunk of a work item too big for a message | `WORK#<sweep id>#<domain name>` | `CHUNK#<n, 6 digits>` | binary `data`, `expires_at` TTL |
//! | one domain's result in a fanned-out sweep | `SWEEP#<sweep id>` | `DOMAIN#<domain name>` | `UpdateItem`: `ADD` of the action counters and `attempts`, `SET` of the rest |
//!
//! The sweep's own summary stays at `SWEEP` / `RUN#<sweep id>`, with `fanned_out.domains`;
//! [`DynamoLedger::sweeps`](crate::ports::Ledger::sweeps) adds the domains' results to it.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::aws_error;
use super::dynamodb::{DynamoLedger, s};
use crate::error::{Result, WardenError};
use crate::fanout::{DomainResult, Progress, StoredRef};
use crate::model::Epoch;
use crate::ports::SweepSummary;

const SERVICE: &str = "dynamodb";
/// The prefix of a domain result's action counters (`count_Create`, ...): top-level numbers,
/// so that `ADD` can create them (it cannot add to a key of a map that does not exist yet).
const COUNT_PREFIX: &str = "count_";

fn chunk_pk(reference: &StoredRef) -> String {
    format!("WORK#{}#{}", reference.sweep_id, reference.domain)
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn number(item: &HashMap<String, AttributeValue>, key: &str) -> u64 {
    match item.get(key) {
        Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
        _ => 0,
    }
}

impl DynamoLedger {
    /// Writes a stored item's chunks (each overwritten if a retried coordinator writes it
    /// again: the same sweep's item is the same bytes).
    pub async fn put_work_chunks(
        &self,
        reference: &StoredRef,
        chunks: &[Vec<u8>],
        expires_at: Epoch,
    ) -> Result<()> {
        let pk = chunk_pk(reference);
        for (i, chunk) in chunks.iter().enumerate() {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(pk.clone()))
                .item("sk", s(format!("CHUNK#{i:06}")))
                .item("data", AttributeValue::B(Blob::new(chunk.clone())))
                .item("expires_at", n(expires_at))
                .send()
                .await
                .map_err(|e| aws_error(SERVICE, "PutItem", e))?;
        }
        Ok(())
    }

    /// A stored item's chunks, in order (those there are; the caller checks them whole).
    pub async fn work_chunks(&self, reference: &StoredRef) -> Result<Vec<Vec<u8>>> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(chunk_pk(reference)))
            .expression_attribute_values(":prefix", s("CHUNK#"))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error(SERVICE, "Query", e))?;
            for item in page.items() {
                match item.get("data") {
                    Some(AttributeValue::B(b)) => out.push(b.as_ref().to_vec()),
                    _ => {
                        return Err(WardenError::LedgerCorrupt {
                            key: chunk_pk(reference),
                            detail: "a chunk without binary data".into(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Adds one attempt's result of a domain to a fanned-out sweep, in one `UpdateItem`: the
    /// action counters and `attempts` added, the rest set to this attempt's.
    pub async fn record_domain_result(&self, sweep_id: &str, result: &DomainResult) -> Result<()> {
        let mut names = HashMap::new();
        let mut values = HashMap::from([
            (
                ":complete".to_owned(),
                AttributeValue::Bool(result.complete),
            ),
            (":finished".to_owned(), n(result.finished_at)),
            (":failures".to_owned(), n(result.failures)),
            (":unmanaged".to_owned(), n(result.unmanaged)),
            (":domain".to_owned(), s(result.domain.clone())),
            (":one".to_owned(), n(1)),
        ]);
        let mut adds = vec!["attempts :one".to_owned()];
        for (i, (kind, count)) in result.actions.iter().enumerate() {
            names.insert(format!("#a{i}"), format!("{COUNT_PREFIX}{kind}"));
            values.insert(format!(":a{i}"), n(count));
            adds.push(format!("#a{i} :a{i}"));
        }
        let expression = format!(
            "SET complete = :complete, finished_at = :finished, failures = :failures, unmanaged = :unmanaged, #d = :domain ADD {}",
            adds.join(", ")
        );
        names.insert("#d".to_owned(), "domain".to_owned());
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("SWEEP#{sweep_id}")))
            .key("sk", s(format!("DOMAIN#{}", result.domain)))
            .update_expression(expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| aws_error(SERVICE, "UpdateItem", e))?;
        Ok(())
    }

    /// The domains' results of a fanned-out sweep, added to its summary.
    pub(crate) async fn aggregate(&self, summary: &mut SweepSummary) -> Result<()> {
        let Some(progress) = summary.fanned_out.clone() else {
            return Ok(());
        };
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(format!("SWEEP#{}", summary.sweep_id)))
            .expression_attribute_values(":prefix", s("DOMAIN#"))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut reported = 0;
        let mut complete = 0;
        let mut actions: BTreeMap<String, u64> = summary.actions.clone();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error(SERVICE, "Query", e))?;
            for item in page.items() {
                reported += 1;
                if matches!(item.get("complete"), Some(AttributeValue::Bool(true))) {
                    complete += 1;
                }
                summary.failures += number(item, "failures");
                let unmanaged = number(item, "unmanaged");
                summary.unmanaged += unmanaged;
                if unmanaged > 0 {
                    *actions.entry("ReportUnmanaged".to_owned()).or_insert(0) += unmanaged;
                }
                summary.finished_at = summary
                    .finished_at
                    .max(i64::try_from(number(item, "finished_at")).unwrap_or(summary.finished_at));
                for (key, value) in item {
                    if let (Some(kind), AttributeValue::N(v)) =
                        (key.strip_prefix(COUNT_PREFIX), value)
                    {
                        *actions.entry(kind.to_owned()).or_insert(0) +=
                            v.parse::<u64>().unwrap_or(0);
                    }
                }
            }
        }
        summary.actions = actions;
        summary.complete &= complete >= progress.domains;
        summary.fanned_out = Some(Progress {
            domains: progress.domains,
            reported,
            complete,
        });
        Ok(())
    }
}
