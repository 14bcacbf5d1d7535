//! The library's error type. Every error says whether trying again can help, so that a handler
//! can tell Lambda (and EventBridge's retry policy) the truth.

use crate::ids::InvalidId;

/// An error of studio-warden's core or of one of its adapters.
#[derive(Debug, thiserror::Error)]
pub enum WardenError {
    /// The policy file is invalid. Never retryable: a redeploy fixes it.
    #[error("policy: {0}")]
    Policy(#[from] crate::policy::PolicyError),

    /// The inbound payload is malformed. Never retryable: the same bytes fail again.
    #[error("event: {0}")]
    Event(#[from] crate::events::EventError),

    /// An identifier from outside failed validation.
    #[error(transparent)]
    InvalidId(#[from] InvalidId),

    /// The runtime configuration (environment variables) is wrong or incomplete.
    #[error("configuration: {0}")]
    Config(String),

    /// An AWS call failed. `retryable` comes from the SDK's classification (throttling, 5xx,
    /// timeouts, transient I/O) so that a redelivery can succeed.
    #[error("{service} {operation} failed: {message}")]
    Aws {
        service: &'static str,
        operation: &'static str,
        code: Option<String>,
        message: String,
        retryable: bool,
    },

    /// AWS answered with something the API reference says it cannot (a missing required field).
    #[error("{service} {operation} returned an unexpected response: {detail}")]
    UnexpectedResponse {
        service: &'static str,
        operation: &'static str,
        detail: String,
    },

    /// A conditional ledger write lost a race: another invocation wrote first. Retryable: the
    /// next attempt re-reads the truth.
    #[error("ledger conflict on {key}: another invocation changed it first")]
    LedgerConflict { key: String },

    /// Part of an event's work failed in a way a retry can fix (each failure, one line): the
    /// event is failed back to Lambda so that its retry policy (then the dead-letter queue)
    /// takes over. The rest of the work was done and recorded.
    #[error("{what}: {} failure(s): {}", failures.len(), failures.join("; "))]
    PartialFailure {
        what: &'static str,
        failures: Vec<String>,
    },

    /// An operator's decision names a hold that does not exist or is not pending. Never
    /// retryable: the same decision fails again.
    #[error("hold: {0}")]
    Hold(String),

    /// The input belongs to the other function (a misrouted rule or a manual invoke).
    #[error("{0}")]
    WrongFunction(String),

    /// The run stopped waiting on AWS because Lambda's deadline was near: a slow or throttled
    /// service (the SDK's retries and backoff included) would have outlasted the invocation.
    /// Retryable: whatever the abandoned call did or did not do, every step is idempotent and
    /// re-read by the next run (see [`crate::deadline`]).
    #[error("deadline: {0}")]
    DeadlineExceeded(String),

    /// A ledger item could not be decoded: somebody edited the table by hand, or an older
    /// version wrote it.
    #[error("ledger item {key} is malformed: {detail}")]
    LedgerCorrupt { key: String, detail: String },
}

impl WardenError {
    /// Whether trying the same thing again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            WardenError::Aws { retryable, .. } => *retryable,
            WardenError::LedgerConflict { .. }
            | WardenError::PartialFailure { .. }
            | WardenError::DeadlineExceeded(_) => true,
            WardenError::Policy(_)
            | WardenError::Event(_)
            | WardenError::InvalidId(_)
            | WardenError::Config(_)
            | WardenError::UnexpectedResponse { .. }
            | WardenError::WrongFunction(_)
            | WardenError::Hold(_)
            | WardenError::LedgerCorrupt { .. } => false,
        }
    }

    /// The AWS error code, when this is an AWS error that carried one.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            WardenError::Aws { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// A short machine-readable kind for logs, ledger rows and Lambda's error type.
    pub fn kind(&self) -> &'static str {
        match self {
            WardenError::Policy(_) => "Policy",
            WardenError::Event(_) => "Event",
            WardenError::InvalidId(_) => "InvalidId",
            WardenError::Config(_) => "Config",
            WardenError::Aws { .. } => "Aws",
            WardenError::UnexpectedResponse { .. } => "UnexpectedResponse",
            WardenError::LedgerConflict { .. } => "LedgerConflict",
            WardenError::LedgerCorrupt { .. } => "LedgerCorrupt",
            WardenError::PartialFailure { .. } => "PartialFailure",
            WardenError::WrongFunction(_) => "WrongFunction",
            WardenError::Hold(_) => "Hold",
            WardenError::DeadlineExceeded(_) => "DeadlineExceeded",
        }
    }
}

pub type Result<T, E = WardenError> = std::result::Result<T, E>;
