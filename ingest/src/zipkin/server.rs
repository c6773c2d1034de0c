//! The Zipkin HTTP receiver (routes, body handling, queue submission).

use super::{model, v1, v2};
use std::future::Future;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http::{HeaderMap, Method, StatusCode};
use tokio::net::TcpListener;

use crate::error::IngestError;
use crate::http_body::{self, text};
use crate::jaeger_http::ingest_error;
use crate::queue::SpanQueue;

pub const RECEIVER: &str = "zipkin";
pub const V2_PATH: &str = "/api/v2/spans";
pub const V1_PATH: &str = "/api/v1/spans";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    V1Json,
    V1Thrift,
    V2Json,
    V2Proto,
}

impl Format {
    fn transport(self) -> &'static str {
        match self {
            Format::V1Json => "http_v1_json",
            Format::V1Thrift => "http_v1_thrift",
            Format::V2Json => "http_v2_json",
            Format::V2Proto => "http_v2_proto",
        }
    }
}

#[derive(Clone)]
struct ZipkinState {
    queue: SpanQueue,
    max_body: usize,
}

/// The router serving `POST /api/v2/spans` and `POST /api/v1/spans`. `max_body` bounds the raw and the
/// decompressed body.
pub fn zipkin_router(queue: SpanQueue, max_body: usize) -> Router {
    Router::new()
        .route(V2_PATH, any(post_v2))
        .route(V1_PATH, any(post_v1))
        .fallback(|| async { text(StatusCode::NOT_FOUND, "404 page not found") })
        .with_state(ZipkinState { queue, max_body })
}

/// Serves [`zipkin_router`] on `listener` (default `:9411`) until `shutdown` resolves,
/// then waits for in-flight requests.
pub async fn serve_zipkin(
    listener: TcpListener,
    queue: SpanQueue,
    max_body: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), IngestError> {
    axum::serve(listener, zipkin_router(queue, max_body))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| IngestError::Server {
            transport: "zipkin http",
            source: Box::new(e),
        })
}

async fn post_v2(
    State(state): State<ZipkinState>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed");
    }
    let format = match http_body::media_type(&headers).as_deref() {
        Some("application/x-protobuf") => Format::V2Proto,
        _ => Format::V2Json,
    };
    handle(state, format, headers, body).await
}

async fn post_v1(
    State(state): State<ZipkinState>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed");
    }
    let format = match http_body::media_type(&headers).as_deref() {
        Some("application/x-thrift") => Format::V1Thrift,
        _ => Format::V1Json,
    };
    handle(state, format, headers, body).await
}

async fn handle(state: ZipkinState, format: Format, headers: HeaderMap, body: Body) -> Response {
    let compression = match http_body::compression(&headers) {
        Ok(c) => c,
        Err(e) => return text(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let raw = match http_body::read_raw(body, state.max_body).await {
        Ok(raw) => raw,
        Err(e) => return text(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let max = state.max_body;
    let offload = raw.len() > http_body::DECODE_INLINE_LIMIT;
    let decode = move || -> Result<_, String> {
        let body = http_body::decompress(raw, compression, max).map_err(|e| e.to_string())?;
        let spans = match format {
            Format::V2Json => v2::decode_json(&body)?,
            Format::V2Proto => v2::decode_proto(&body)?,
            Format::V1Json => v1::to_v2(v1::decode_json(&body)?),
            Format::V1Thrift => v1::to_v2(v1::decode_thrift(&body)?),
        };
        Ok((model::to_otlp(spans)?, body.len()))
    };
    let decoded = if offload {
        match tokio::task::spawn_blocking(decode).await {
            Ok(r) => r,
            Err(e) => Err(format!("decoding task failed: {e}")),
        }
    } else {
        decode()
    };
    let (batch, len) = match decoded {
        Ok(d) => d,
        Err(msg) => return text(StatusCode::BAD_REQUEST, &msg),
    };
    match state
        .queue
        .submit(batch, len, RECEIVER, format.transport())
        .await
    {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => ingest_error(&e, "Cannot submit Zipkin batch"),
    }
}
