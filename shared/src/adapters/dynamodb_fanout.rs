//! The ledger's fan-out items (see [`crate::fanout`]), in the same table:
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | chunk of a work item too big for a message | `WORK#<sweep id>#<domain name>` | `CHUNK#<n, 6 digits>` | binary `data`, `expires_at` TTL |
//! | one attempt's result of a domain in a fanned-out sweep | `SWEEP#<sweep id>` | `DOMAIN#<domain name>#<ulid>` | written once (`attribute_not_exists`) |
//!
//! The sweep's own summary stays at `SWEEP` / `RUN#<sweep id>`, with `fanned_out.domains`;
//! [`DynamoLedger::sweeps`](crate::ports::Ledger::sweeps) adds the domains' results to it.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::aws_error;
use super::dynamodb::{DynamoLedger, Write, from_item, s, to_item};
use crate::error::{Result, WardenError};
use crate::fanout::{DomainResult, Progress, StoredRef};
use crate::model::Epoch;
use crate::ports::SweepSummary;

const SERVICE: &str = "dynamodb";

fn chunk_pk(reference: &StoredRef) -> String {
    format!("WORK#{}#{}", reference.sweep_id, reference.domain)
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
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

    /// Records one attempt's result of a domain in a fanned-out sweep: an item of its own
    /// (`DOMAIN#<name>#<ulid>`), written once, so that no two workers (or attempts) ever
    /// write the same item and nothing is read and written back. The function's IAM policy
    /// needs nothing beyond `PutItem` and `Query`.
    pub async fn record_domain_result(&self, sweep_id: &str, result: &DomainResult) -> Result<()> {
        let pk = format!("SWEEP#{sweep_id}");
        let sk = format!("DOMAIN#{}#{}", result.domain, ulid::Ulid::generate());
        let key = format!("{pk}/{sk}");
        let item = to_item(&key, result, pk, sk)?;
        self.put(Write::new_only(item), key).await
    }

    /// The domains' results of a fanned-out sweep, added to its summary: each domain's
    /// actions summed over its attempts (an attempt redoes nothing an earlier one did), its
    /// failures, unmanaged profiles and completeness its latest attempt's (the sort keys are
    /// ULIDs: in time order).
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
        let mut actions: BTreeMap<String, u64> = summary.actions.clone();
        let mut latest: BTreeMap<String, DomainResult> = BTreeMap::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error(SERVICE, "Query", e))?;
            for item in page.items() {
                let result: DomainResult = from_item(item.clone())?;
                for (kind, n) in &result.actions {
                    *actions.entry(kind.clone()).or_insert(0) += n;
                }
                latest.insert(result.domain.clone(), result);
            }
        }
        let mut complete = 0;
        for result in latest.values() {
            complete += u64::from(result.complete);
            summary.failures += result.failures;
            summary.unmanaged += result.unmanaged;
            if result.unmanaged > 0 {
                *actions.entry("ReportUnmanaged".to_owned()).or_insert(0) += result.unmanaged;
            }
            summary.finished_at = summary.finished_at.max(result.finished_at);
        }
        summary.actions = actions;
        summary.complete &= complete >= progress.domains;
        summary.fanned_out = Some(Progress {
            domains: progress.domains,
            reported: latest.len() as u64,
            complete,
        });
        Ok(())
    }
}
