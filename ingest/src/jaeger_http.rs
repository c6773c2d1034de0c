//! Jaeger Thrift over HTTP: `POST /api/traces` (default port 14268), body one
//! TBinaryProtocol `jaeger.thrift` `Batch` (ingest spec §1.3).
//!
//! Answers (text/plain, Go `http.Error` style):
//! - other path 404, other method 405;
//! - `Content-Type` not `application/x-thrift` / `application/vnd.apache.thrift.binary`:
//!   400 `Unsupported content type: <type>` (missing: 400 `Cannot parse content type`);
//! - unsupported `Content-Encoding`: 400;
//! - body over the limit or a corrupt compressed stream: 500
//!   `Unable to process request body: ...` (as Jaeger);
//! - undecodable Thrift: 400 `Unable to process request body: ...`;
//! - queue full / shutting down / storage failure: 503 + `Retry-After`,
//!   `Cannot submit Jaeger batch: ...` (Jaeger answers 500; 503 tells clients to retry);
//! - success: 202, empty body.

use std::future::Future;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use tokio::net::TcpListener;

use crate::error::IngestError;
use crate::http_body::{self, BodyError, text};
use crate::jaeger_thrift::{self, ThriftProtocol};
use crate::queue::SpanQueue;

pub const RECEIVER: &str = "jaeger";
const TRANSPORT: &str = "collector_http";
/// The route.
pub const TRACES_PATH: &str = "/api/traces";

#[derive(Clone)]
struct JaegerHttpState {
    queue: SpanQueue,
    max_body: usize,
}

/// The router serving `POST /api/traces`. `max_body` bounds the raw and the
/// decompressed body (Jaeger's default 20 MiB).
pub fn jaeger_http_router(queue: SpanQueue, max_body: usize) -> Router {
    Router::new()
        .route(TRACES_PATH, any(post_traces))
        .fallback(|| async { text(StatusCode::NOT_FOUND, "404 page not found") })
        .with_state(JaegerHttpState { queue, max_body })
}

/// Serves [`jaeger_http_router`] on `listener` (default `:14268`) until `shutdown`
/// resolves, then waits for in-flight requests.
pub async fn serve_jaeger_http(
    listener: TcpListener,
    queue: SpanQueue,
    max_body: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), IngestError> {
    axum::serve(listener, jaeger_http_router(queue, max_body))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| IngestError::Server {
            transport: "jaeger http",
            source: Box::new(e),
        })
}

async fn post_traces(
    State(state): State<JaegerHttpState>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed");
    }
    match http_body::media_type(&headers).as_deref() {
        Some("application/x-thrift" | "application/vnd.apache.thrift.binary") => {}
        Some("") | None => {
            return text(
                StatusCode::BAD_REQUEST,
                "Cannot parse content type: mime: no media type",
            );
        }
        Some(other) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("Unsupported content type: {other}"),
            );
        }
    }
    let compression = match http_body::compression(&headers) {
        Ok(c) => c,
        Err(e) => return text(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let raw = match http_body::read_raw(body, state.max_body).await {
        Ok(raw) => raw,
        Err(e) => return body_error(e),
    };
    let max = state.max_body;
    let offload = raw.len() > http_body::DECODE_INLINE_LIMIT;
    let decode = move || -> Result<_, Box<Response>> {
        let body =
            http_body::decompress(raw, compression, max).map_err(|e| Box::new(body_error(e)))?;
        let batch = jaeger_thrift::decode_batch(&body, ThriftProtocol::Binary).map_err(|e| {
            Box::new(text(
                StatusCode::BAD_REQUEST,
                &format!("Unable to process request body: {e}"),
            ))
        })?;
        Ok((vec![jaeger_thrift::batch_to_otlp(batch)], body.len()))
    };
    let decoded = if offload {
        match tokio::task::spawn_blocking(decode).await {
            Ok(r) => r,
            Err(e) => {
                return text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("Unable to process request body: {e}"),
                );
            }
        }
    } else {
        decode()
    };
    let (batch, len) = match decoded {
        Ok(d) => d,
        Err(resp) => return *resp,
    };
    match state.queue.submit(batch, len, RECEIVER, TRANSPORT).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => ingest_error(&e, "Cannot submit Jaeger batch"),
    }
}

fn body_error(e: BodyError) -> Response {
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("Unable to process request body: {e}"),
    )
}

/// A queue/storage error: its status, message prefixed, and `Retry-After` when retryable.
pub(crate) fn ingest_error(e: &IngestError, prefix: &str) -> Response {
    let mut resp = text(e.http_status(), &format!("{prefix}: {e}"));
    if let Some(after) = e.retry_after()
        && let Ok(v) = HeaderValue::from_str(&after.as_secs().max(1).to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jaeger_thrift::tests::{encode_batch, sample_batch};
    use crate::test_support::RecordingWriter;
    use http_body_util::BodyExt;
    use jaeger_config::QueueConfig;
    use std::io::Write;
    use tower::ServiceExt;

    fn queue(writer: std::sync::Arc<RecordingWriter>) -> SpanQueue {
        SpanQueue::new(
            &QueueConfig {
                max_bytes: 1 << 20,
                max_batch_spans: 1000,
                writers: 1,
            },
            writer,
        )
    }

    async fn call(
        router: Router,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, String, HeaderMap) {
        let mut req = http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = router
            .oneshot(req.body(Body::from(body)).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned(), headers)
    }

    #[tokio::test]
    async fn accepts_binary_thrift_batch_and_writes_it() {
        let writer = RecordingWriter::new();
        let router = jaeger_http_router(queue(writer.clone()), 1 << 20);
        let body = encode_batch(&sample_batch(), ThriftProtocol::Binary);
        let (status, text, _) = call(
            router.clone(),
            "POST",
            "/api/traces",
            &[("content-type", "application/x-thrift")],
            body.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(text, "");
        assert_eq!(writer.span_count(), 2);
        let written = &writer.batches()[0][0];
        assert_eq!(
            written.scope_spans[0].spans[0].name, "GET /",
            "span written as decoded"
        );

        // Gzip and the other content type.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&body).expect("gzip");
        let (status, _, _) = call(
            router,
            "POST",
            "/api/traces",
            &[
                ("content-type", "application/vnd.apache.thrift.binary"),
                ("content-encoding", "gzip"),
            ],
            gz.finish().expect("gzip"),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(writer.span_count(), 4);
    }

    #[tokio::test]
    async fn bad_requests_get_clear_errors() {
        let writer = RecordingWriter::new();
        let router = jaeger_http_router(queue(writer.clone()), 4096);
        let body = encode_batch(&sample_batch(), ThriftProtocol::Binary);
        let thrift = [("content-type", "application/x-thrift")];

        let (s, t, _) = call(router.clone(), "GET", "/api/traces", &[], vec![]).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{t}");
        let (s, _, _) = call(router.clone(), "POST", "/api/other", &thrift, vec![]).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, t, _) = call(
            router.clone(),
            "POST",
            "/api/traces",
            &[("content-type", "application/json")],
            body.clone(),
        )
        .await;
        assert_eq!(
            (s, t.as_str()),
            (
                StatusCode::BAD_REQUEST,
                "Unsupported content type: application/json\n"
            )
        );
        let (s, t, _) = call(router.clone(), "POST", "/api/traces", &[], body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(t.starts_with("Cannot parse content type"));
        let (s, t, _) = call(
            router.clone(),
            "POST",
            "/api/traces",
            &thrift,
            body[..body.len() / 2].to_vec(),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            t.starts_with("Unable to process request body: thrift decode error"),
            "{t}"
        );
        let (s, t, _) = call(
            router.clone(),
            "POST",
            "/api/traces",
            &thrift,
            vec![0; 5000],
        )
        .await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(t.contains("too large"), "{t}");
        let (s, _, _) = call(
            router,
            "POST",
            "/api/traces",
            &[
                ("content-type", "application/x-thrift"),
                ("content-encoding", "br"),
            ],
            body,
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(writer.span_count(), 0);
    }

    #[tokio::test]
    async fn storage_failure_is_retryable() {
        let writer = RecordingWriter::new();
        writer.fail_with("disk gone");
        let router = jaeger_http_router(queue(writer.clone()), 1 << 20);
        let body = encode_batch(&sample_batch(), ThriftProtocol::Binary);
        let (s, t, h) = call(
            router,
            "POST",
            "/api/traces",
            &[("content-type", "application/x-thrift")],
            body,
        )
        .await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            t.starts_with("Cannot submit Jaeger batch: storage write failed"),
            "{t}"
        );
        assert_eq!(
            h.get(header::RETRY_AFTER).map(|v| v.as_bytes()),
            Some(&b"5"[..])
        );
    }
}
