//! [`FindingStore`] for [`DynamoLedger`]: drift finding states and the alert outbox.
//!
//! | item | pk | sk | written |
//! |---|---|---|---|
//! | finding state | `FINDING#<domain id>` | `<rule>#<resource>` | conditionally on `version`, in one transaction with its alert |
//! | queued alert | `OUTBOX` | `<ulid>` | with the finding's transition; deleted once SNS accepted it |

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::{DynamoLedger, aws_error, code_of};
use crate::drift::model::{AlertMessage, FindingState};
use crate::drift::ports::FindingStore;
use crate::error::{Result, WardenError};
use crate::ids::DomainId;

const SERVICE: &str = "dynamodb";
const OUTBOX: &str = "OUTBOX";

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn encode<T: serde::Serialize>(key: &str, value: &T, pk: String, sk: String) -> Result<Item> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(|e| WardenError::LedgerCorrupt {
        key: key.to_owned(),
        detail: format!("cannot encode: {e}"),
    })?;
    item.insert("pk".into(), s(pk));
    item.insert("sk".into(), s(sk));
    Ok(item)
}

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

impl DynamoLedger {
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
        let item = encode(&key, state, pk, sk)?;
        let (condition, previous) = if state.version <= 1 {
            ("attribute_not_exists(pk)", None)
        } else {
            (
                "version = :previous",
                Some(AttributeValue::N((state.version - 1).to_string())),
            )
        };
        let Some(alert) = alert else {
            let mut request = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(condition);
            if let Some(p) = previous {
                request = request.expression_attribute_values(":previous", p);
            }
            return match request.send().await {
                Ok(_) => Ok(()),
                Err(e) if code_of(&e) == Some("ConditionalCheckFailedException") => {
                    Err(WardenError::LedgerConflict { key })
                }
                Err(e) => Err(aws_error(SERVICE, "PutItem", e)),
            };
        };
        let outbox_id = ulid::Ulid::generate().to_string();
        let mut queued = encode(
            &format!("{OUTBOX}/{outbox_id}"),
            alert,
            OUTBOX.to_owned(),
            outbox_id,
        )?;
        queued.insert(
            "queued_at".into(),
            AttributeValue::N(state.last_seen.to_string()),
        );
        let put = |item: Item, condition: &str, previous: Option<AttributeValue>| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(condition)
                .set_expression_attribute_values(
                    previous.map(|p| HashMap::from([(":previous".to_owned(), p)])),
                )
                .build()
                .map_err(|e| WardenError::UnexpectedResponse {
                    service: SERVICE,
                    operation: "TransactWriteItems",
                    detail: e.to_string(),
                })
        };
        let finding = put(item, condition, previous)?;
        let outbox = put(queued, "attribute_not_exists(pk)", None)?;
        match self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(finding).build())
            .transact_items(TransactWriteItem::builder().put(outbox).build())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code_of(&e) == Some("TransactionCanceledException") => {
                // The only condition that can fail is the finding's version: another
                // invocation recorded this transition first (and queued its alert).
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                let conflict = match e.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(tc)) => tc
                        .cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed")),
                    _ => false,
                };
                if conflict {
                    Err(WardenError::LedgerConflict { key })
                } else {
                    Err(aws_error(SERVICE, "TransactWriteItems", e))
                }
            }
            Err(e) => Err(aws_error(SERVICE, "TransactWriteItems", e)),
        }
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
}
