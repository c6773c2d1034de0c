//! `/api/metrics/{latencies,calls,errors}`: service performance monitoring (query spec
//! §1.10). The parameters are validated exactly as Jaeger does; with no metrics backend
//! configured (ours has none yet) every valid request answers 501, as Jaeger's
//! disabled metrics store does.

use axum::response::Response;
use http::Uri;

use crate::error::ApiError;
use crate::params::{self, Metrics, Query};

/// Jaeger's message for a query service without metrics storage.
pub const METRICS_DISABLED: &str =
    "trace metrics are currently disabled - no metrics backend configured";

async fn metrics(uri: &Uri, latencies: bool) -> Result<Response, ApiError> {
    let q = Query::parse(uri.query());
    let _params = Metrics::parse(&q, latencies, params::now_nanos())?;
    Err(ApiError::NotImplemented(METRICS_DISABLED.into()))
}

/// `GET /api/metrics/latencies?service=&quantile=`.
pub async fn latencies(uri: Uri) -> Result<Response, ApiError> {
    metrics(&uri, true).await
}

/// `GET /api/metrics/calls?service=`.
pub async fn calls(uri: Uri) -> Result<Response, ApiError> {
    metrics(&uri, false).await
}

/// `GET /api/metrics/errors?service=`.
pub async fn errors(uri: Uri) -> Result<Response, ApiError> {
    metrics(&uri, false).await
}
