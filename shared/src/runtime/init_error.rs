//! A cold start that cannot start: the configuration error, reported to the Runtime API.

use super::diagnostic_of;
use crate::error::WardenError;

/// Tells Lambda why the function cannot start (`POST /runtime/init/error`), so that the
/// failed invocation carries the configuration error (`NonRetryable.Config`, with the
/// policy's file, line and column) rather than a bare `Runtime.ExitError`. Best effort: the
/// error is also logged, and the process exits either way.
pub(super) async fn report_init_error(error: &WardenError) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let Ok(base) = format!("http://{api}").parse::<http::Uri>() else {
        tracing::warn!(api = %api, "AWS_LAMBDA_RUNTIME_API is not host:port; init error not reported");
        return;
    };
    if base.authority().is_none() {
        return;
    }
    let diagnostic = diagnostic_of(error);
    let body = serde_json::json!({
        "errorType": diagnostic.error_type,
        "errorMessage": diagnostic.error_message,
    });
    let request = lambda_runtime_api_client::build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", "Runtime.InitError")
        .header("content-type", "application/json")
        .body(lambda_runtime_api_client::body::Body::from(
            body.to_string(),
        ));
    let client = lambda_runtime_api_client::PooledClient::builder()
        .with_endpoint(base)
        .build();
    match request {
        Ok(request) => {
            if let Err(e) = client.call(request).await {
                tracing::warn!(error = %e, "init error not reported to the Runtime API");
            }
        }
        Err(e) => tracing::warn!(error = %e, "init error request not built"),
    }
}
