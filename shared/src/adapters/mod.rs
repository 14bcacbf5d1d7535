//! One adapter per port, over the real aws-sdk-rust clients. They translate, they do not decide.

mod dynamodb;
mod dynamodb_fanout;
mod dynamodb_findings;
mod ec2;
mod identitystore;
mod places;
mod sagemaker;
mod sagemaker_drift;
mod sns;
mod sqs;

pub use dynamodb::DynamoLedger;
pub use ec2::{EC2_TPS, Ec2Network};
pub use identitystore::IdentityStoreDirectory;
pub use places::{At, PerDomain, Reach, paced};
pub use sagemaker::SageMakerStudio;
pub use sns::SnsAlerts;
pub use sqs::SqsFanOut;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::error::WardenError;

/// The share of a configured rate the functions use: 95 %, so that a call paced at the
/// service's refill rate never arrives early by the network's jitter (a few milliseconds;
/// 5 % is 50 ms at one call a second, 6.6 ms at eight).
pub const HEADROOM: f64 = 0.95;

/// A client-side call rate (token bucket, `governor`): every call to one service waits for a
/// token, so that a sweep stays under the service's quota instead of leaning on retries.
/// Throttling that still happens is retried by the SDK's adaptive retry mode.
#[derive(Clone, Default)]
pub struct CallRate(Option<Arc<DefaultDirectRateLimiter>>);

impl CallRate {
    /// At most `n` calls per second: evenly spaced (no burst), at [`HEADROOM`] of `n`; 0 means
    /// no limit.
    ///
    /// No burst, and a little under the quota, on purpose. The service's bucket starts full; a
    /// client that spends it at once and then sends at exactly the refill rate keeps it
    /// empty, and then the smallest jitter in the network makes a call arrive a moment early
    /// and be throttled. Each throttle costs a retry, a token of the SDK's retry quota, and
    /// (adaptive retries) a cut in the client's send rate. Sent evenly and slightly slower,
    /// the calls leave the service's burst in reserve and a one-token bucket time to refill
    /// (measured in BENCHMARKS.md, "An organisation's sweep on the emulator").
    pub fn per_second(n: u32) -> Self {
        if n == 0 {
            return Self(None);
        }
        let period = Duration::from_secs_f64(1.0 / (f64::from(n) * HEADROOM));
        match Quota::with_period(period) {
            Some(quota) => Self(Some(Arc::new(RateLimiter::direct(
                quota.allow_burst(NonZeroU32::MIN),
            )))),
            None => Self(None),
        }
    }

    /// No limit.
    pub fn unlimited() -> Self {
        Self(None)
    }

    /// Waits for a token.
    pub async fn wait(&self) {
        if let Some(limiter) = &self.0 {
            limiter.until_ready().await;
        }
    }

    /// The next page of a paginated call, fetched only once a token is had: every adapter
    /// pages through this, so that no page can skip the limiter. (`next` is the paginator's
    /// `next()`; a future does nothing until it is polled, after the wait.)
    pub async fn page<T>(&self, next: impl std::future::Future<Output = Option<T>>) -> Option<T> {
        self.wait().await;
        next.await
    }
}

impl std::fmt::Debug for CallRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "CallRate(limited)"
        } else {
            "CallRate(unlimited)"
        })
    }
}

/// Error codes that mean "slow down": retryable with backoff.
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "ProvisionedThroughputExceededException",
    "SlowDown",
];

/// Whether an AWS error code says the call was throttled.
pub fn is_throttling(code: Option<&str>) -> bool {
    code.is_some_and(|c| THROTTLING_CODES.contains(&c))
}

/// Error codes (HTTP 400) that mean "another writer holds this for a moment": retryable, though
/// the SDK does not retry them itself.
const TRANSIENT_CODES: &[&str] = &[
    // DynamoDB: a PutItem/UpdateItem/DeleteItem on an item that an ongoing TransactWriteItems
    // holds (model: "rejected because there is an ongoing transaction for the item"; developer
    // guide, "Transaction conflict handling").
    "TransactionConflictException",
];

/// The error code of an SDK error, if the service sent one.
pub(crate) fn code_of<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

/// Converts an SDK error into the library's error, classifying it as retryable or not.
pub(crate) fn aws_error<E>(
    service: &'static str,
    operation: &'static str,
    err: SdkError<E, HttpResponse>,
) -> WardenError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = code_of(&err).map(str::to_owned);
    let (retryable, message) = match &err {
        SdkError::ServiceError(e) => {
            let status = e.raw().status().as_u16();
            let retryable = status >= 500
                || status == 429
                || is_throttling(code.as_deref())
                || code
                    .as_deref()
                    .is_some_and(|c| TRANSIENT_CODES.contains(&c));
            let message = e.err().message().unwrap_or("no message").to_owned();
            (
                retryable,
                format!(
                    "{} ({status}): {message}",
                    code.as_deref().unwrap_or("unknown error")
                ),
            )
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => (
            true,
            aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
        ),
        _ => (
            false,
            aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
        ),
    };
    WardenError::Aws {
        service,
        operation,
        code,
        message,
        retryable,
    }
}

/// Seconds since the epoch of an SDK timestamp.
pub(crate) fn epoch_ms(t: Option<&aws_smithy_types::DateTime>) -> Option<i64> {
    t.and_then(|t| t.to_millis().ok())
}
