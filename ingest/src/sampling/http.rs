//! Remote sampling over HTTP (ingest spec §3.1): the sampling port (default `:5778`,
//! any path, any method) and `GET /api/sampling` on the Jaeger collector port (14268).
//!
//! `service` must appear exactly once in the query, else 400
//! `'service' parameter must be provided once`. An empty value is one value: it gets the
//! default strategy, as in Jaeger. The body is Jaeger's JSON (`strategyType` by name);
//! on the sampling port the bare path `/` answers the legacy form with `strategyType` as
//! a number, as Jaeger's agent did for Thrift-0.9.2-era clients.

use std::future::Future;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{StatusCode, Uri, header};
use tokio::net::TcpListener;

use super::provider::StrategyProvider;
use super::strategies::to_json;
use crate::error::IngestError;

/// The path the Jaeger collector port serves sampling on.
pub const COLLECTOR_SAMPLING_PATH: &str = "/api/sampling";

const BAD_SERVICE: &str = "'service' parameter must be provided once";

/// The sampling port's router: every path and method.
pub fn sampling_http_router(provider: StrategyProvider) -> Router {
    Router::new()
        .fallback(|State(p): State<StrategyProvider>, uri: Uri, q: Query<Vec<(String, String)>>| async move {
            let legacy = uri.path() == "/";
            answer(&p, &q.0, legacy)
        })
        .with_state(provider)
}

/// `GET /api/sampling` alone, to merge into the Jaeger Thrift HTTP router.
pub fn collector_sampling_router(provider: StrategyProvider) -> Router {
    Router::new()
        .route(
            COLLECTOR_SAMPLING_PATH,
            get(
                |State(p): State<StrategyProvider>, q: Query<Vec<(String, String)>>| async move {
                    answer(&p, &q.0, false)
                },
            ),
        )
        .with_state(provider)
}

fn answer(p: &StrategyProvider, query: &[(String, String)], legacy: bool) -> Response {
    let mut services = query.iter().filter(|(k, _)| k == "service");
    let (Some((_, service)), None) = (services.next(), services.next()) else {
        // Go's http.Error: text/plain with a trailing newline.
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{BAD_SERVICE}\n"),
        )
            .into_response();
    };
    super::sampling_request(if legacy { "http_legacy" } else { "http" });
    let body = to_json(&p.strategy(service), legacy);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Serves [`sampling_http_router`] on `listener` until `shutdown` resolves.
pub async fn serve_sampling_http(
    listener: TcpListener,
    provider: StrategyProvider,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), IngestError> {
    axum::serve(listener, sampling_http_router(provider))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| IngestError::Server {
            transport: "sampling http",
            source: Box::new(e),
        })
}
