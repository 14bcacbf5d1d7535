//! How a run spends the time before Lambda's deadline. One setting, the margin (the engine's
//! `deadline_margin`, shared by the drift checks), decides three instants:
//!
//! - with less than the margin left, no new work starts (a user in the reconcile, a domain in
//!   the drift sweep);
//! - with less than a quarter of it left, no AWS call is waited on any longer, the SDK's
//!   retries and backoff included (they do not know the deadline): the call is abandoned with
//!   [`WardenError::DeadlineExceeded`], and the run records what it did, marks itself
//!   incomplete and answers;
//! - with less than an eighth of it left, the handler answers whatever is still running (the
//!   ledger writes that record a cut run are the only calls made after the second instant).
//!
//! Abandoning a call is what Lambda's own timeout would do to the whole invocation, a little
//! earlier: every step of a run is idempotent and re-read by the next one (`tests/tests/cuts.rs`).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Result, WardenError};

/// `deadline` less `reserve`, or now if that is already past.
fn before(deadline: Option<Instant>, reserve: Duration) -> Option<Instant> {
    deadline.map(|d| d.checked_sub(reserve).unwrap_or_else(Instant::now))
}

/// The instant after which no AWS call is waited on: a quarter of the margin before the
/// deadline.
pub fn calls_by(deadline: Option<Instant>, margin: Duration) -> Option<Instant> {
    before(deadline, margin / 4)
}

/// The instant by which the handler answers, whatever is still running: an eighth of the
/// margin before the deadline.
pub fn answer_by(deadline: Option<Instant>, margin: Duration) -> Option<Instant> {
    before(deadline, margin / 8)
}

/// `work` (AWS calls, retries included), abandoned at `until` with
/// [`WardenError::DeadlineExceeded`] naming `what`. No bound without a deadline.
///
/// `work` is boxed when the bound is made: the engine's phases are deep futures, and keeping
/// each bounded one on the heap keeps the futures that hold it (and the stack that polls them,
/// in debug builds) small.
pub fn within<'a, T: 'a>(
    until: Option<Instant>,
    what: &'a str,
    work: impl Future<Output = Result<T>> + 'a,
) -> impl Future<Output = Result<T>> + 'a {
    let work = Box::pin(work);
    async move {
        let Some(until) = until else {
            return work.await;
        };
        match tokio::time::timeout_at(until, work).await {
            Ok(done) => done,
            Err(_) => {
                tracing::warn!(what, "Lambda's deadline is near: stopped waiting on AWS");
                Err(WardenError::DeadlineExceeded(format!(
                    "{what}: stopped waiting on AWS near Lambda's deadline; left to a retry"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_past_the_bound_is_abandoned_as_retryable() {
        let until = Some(Instant::now() + Duration::from_millis(20));
        let slow = async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(1)
        };
        let err = within(until, "a slow call", slow)
            .await
            .expect_err("abandoned");
        assert!(matches!(err, WardenError::DeadlineExceeded(_)), "{err}");
        assert!(err.is_retryable());
        assert_eq!(err.kind(), "DeadlineExceeded");
        let quick = within(until, "a quick call", async { Ok(2) }).await;
        assert_eq!(quick.ok(), Some(2));
        let unbounded = within(None, "no deadline", async { Ok(3) }).await;
        assert_eq!(unbounded.ok(), Some(3));
    }

    #[test]
    fn the_instants_come_in_order_and_never_before_now() {
        let now = Instant::now();
        let deadline = Some(now + Duration::from_secs(60));
        let margin = Duration::from_secs(20);
        assert_eq!(
            calls_by(deadline, margin),
            Some(now + Duration::from_secs(55))
        );
        assert_eq!(
            answer_by(deadline, margin),
            Some(now + Duration::from_millis(57_500))
        );
        assert_eq!(calls_by(None, margin), None);
    }
}
