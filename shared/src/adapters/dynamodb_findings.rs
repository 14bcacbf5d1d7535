//! [`FindingStore`] for [`DynamoLedger`]: drift finding states and the alert outbox.
//!
//! | item | pk | sk | written |
//! |---|---|---|---|
//! | finding state | `FINDING#<domain id>` | `<rule>#<resource>` | conditionally on `version`, in one transaction with its alert |
//! | queued alert | `OUTBOX` | `<ulid>` | with the finding's transition; deleted once SNS accepted it |
//! | profile observation | `SEEN#<domain id>` | `<profile name>` | by a full drift sweep after it described the profile (a cache: unconditional, batched) |

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};

use super::dynamodb::{Write, s, to_item};
use super::{DynamoLedger, aws_error};
use crate::drift::model::{AlertMessage, FindingState};
use crate::drift::observed::Observation;
use crate::drift::ports::FindingStore;
use crate::error::{Result, WardenError};
use crate::ids::{DomainId, ResourceName};

const SERVICE: &str = "dynamodb";
const OUTBOX: &str = "OUTBOX";
/// BatchWriteItem's limit per call.
const BATCH: usize = 25;
/// Rounds of resending what BatchWriteItem left unprocessed (throttling) before giving up.
const BATCH_ROUNDS: u32 = 6;

type Item = HashMap<String, AttributeValue>;

fn decode<T: serde::de::DeserializeOwned>(mut item: Item) -> Result<(String, T)> {
    let (pk, sk) = match (item.remove("pk"), item.remove("sk")) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => (pk, sk),
        _ => ("(no key)".to_owned(), String::new()),
    };
    item.remove("queued_at");
    let value = serde_dynamo::from_item(item).map_err(|e| WardenError::LedgerCorrupt {
        key: format!("{pk}/{sk}"),
        detail: e.to_string(),
    })?;
    Ok((sk, value))
}

fn seen_pk(domain: &DomainId) -> String {
    format!("SEEN#{domain}")
}

impl DynamoLedger {
    /// Writes the requests 25 at a time, resending what DynamoDB leaves unprocessed with a
    /// growing pause. (The SDK retries throttled calls; unprocessed items are a partial
    /// success it does not retry.)
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<()> {
        for chunk in requests.chunks(BATCH) {
            let mut pending = chunk.to_vec();
            let mut round = 0;
            while !pending.is_empty() {
                if round == BATCH_ROUNDS {
                    return Err(WardenError::Aws {
                        service: SERVICE,
                        operation: "BatchWriteItem",
                        code: Some("UnprocessedItems".into()),
                        message: format!("{} items left unprocessed", pending.len()),
                        retryable: true,
                    });
                }
                if round > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << round)).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| aws_error(SERVICE, "BatchWriteItem", e))?;
                pending = out
                    .unprocessed_items()
                    .and_then(|m| m.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
                round += 1;
            }
        }
        Ok(())
    }

    async fn partition(&self, pk: String) -> Result<Vec<Item>> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
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
}

impl FindingStore for DynamoLedger {
    async fn findings(&self, domain: &DomainId) -> Result<Vec<FindingState>> {
        self.partition(format!("FINDING#{domain}"))
            .await?
            .into_iter()
            .map(|item| decode(item).map(|(_, f)| f))
            .collect()
    }

    async fn save_finding(&self, state: &FindingState, alert: Option<&AlertMessage>) -> Result<()> {
        let pk = format!("FINDING#{}", state.domain);
        let sk = state.key();
        let key = format!("{pk}/{sk}");
        let finding = Write::versioned(to_item(&key, state, pk, sk)?, state.version);
        let Some(alert) = alert else {
            return self.put(finding, key).await;
        };
        let outbox_id = ulid::Ulid::generate().to_string();
        let mut queued = to_item(
            &format!("{OUTBOX}/{outbox_id}"),
            alert,
            OUTBOX.to_owned(),
            outbox_id,
        )?;
        queued.insert(
            "queued_at".into(),
            AttributeValue::N(state.last_seen.to_string()),
        );
        // The only condition that can fail is the finding's version: another invocation
        // recorded this transition first (and queued its alert).
        self.transact(vec![finding, Write::new_only(queued)], key)
            .await
    }

    async fn outbox(&self) -> Result<Vec<(String, AlertMessage)>> {
        self.partition(OUTBOX.to_owned())
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    async fn outbox_done(&self, id: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(OUTBOX))
            .key("sk", s(id))
            .send()
            .await
            .map_err(|e| aws_error(SERVICE, "DeleteItem", e))?;
        Ok(())
    }

    async fn observations(&self, domain: &DomainId) -> Result<Vec<Observation>> {
        self.partition(seen_pk(domain))
            .await?
            .into_iter()
            .map(|item| decode(item).map(|(_, o)| o))
            .collect()
    }

    async fn save_observations(
        &self,
        domain: &DomainId,
        save: &[Observation],
        forget: &[ResourceName],
    ) -> Result<()> {
        let pk = seen_pk(domain);
        let mut requests = Vec::with_capacity(save.len() + forget.len());
        for o in save {
            let item = to_item(o.name.as_ref(), o, pk.clone(), o.name.to_string())?;
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| WardenError::UnexpectedResponse {
                    service: SERVICE,
                    operation: "BatchWriteItem",
                    detail: format!("PutRequest: {e}"),
                })?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        for name in forget {
            let delete = DeleteRequest::builder()
                .key("pk", s(pk.clone()))
                .key("sk", s(name.to_string()))
                .build()
                .map_err(|e| WardenError::UnexpectedResponse {
                    service: SERVICE,
                    operation: "BatchWriteItem",
                    detail: format!("DeleteRequest: {e}"),
                })?;
            requests.push(WriteRequest::builder().delete_request(delete).build());
        }
        self.batch_write(requests).await
    }
}
