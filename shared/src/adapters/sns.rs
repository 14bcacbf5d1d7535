//! [`Alerts`] over SNS: one Publish per alert, with message attributes (`severity`, `domain`,
//! `rule`, `event`) that subscription filter policies can match.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use super::aws_error;
use crate::drift::model::AlertMessage;
use crate::drift::ports::Alerts;
use crate::error::{Result, WardenError};

/// [`Alerts`] over `aws_sdk_sns::Client`, publishing to one topic.
#[derive(Debug, Clone)]
pub struct SnsAlerts {
    client: Client,
    topic_arn: String,
}

impl SnsAlerts {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }
}

impl Alerts for SnsAlerts {
    async fn publish(&self, alert: &AlertMessage) -> Result<()> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&alert.subject)
            .message(&alert.body);
        for (k, v) in &alert.attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| WardenError::UnexpectedResponse {
                    service: "sns",
                    operation: "Publish",
                    detail: format!("message attribute {k}: {e}"),
                })?;
            request = request.message_attributes(k, value);
        }
        request
            .send()
            .await
            .map_err(|e| aws_error("sns", "Publish", e))?;
        Ok(())
    }
}
