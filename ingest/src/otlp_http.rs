//! OTLP/HTTP receiver: `POST /v1/traces` (default port 4318), protobuf or JSON.
//!
//! Answers, as Jaeger's collector unless noted:
//! - wrong method: 405, text `405 method not allowed, supported: [POST]`;
//! - wrong or missing `Content-Type`: 415, text
//!   `415 unsupported media type, supported: [application/json, application/x-protobuf]`;
//! - `Content-Encoding` other than none/`identity`, `gzip`, `deflate`/`zlib` (zlib
//!   streams, as Go), `zstd`: 400 `unsupported Content-Encoding: <value>` (Jaeger also
//!   takes snappy and lz4);
//! - body over `max_request_body_bytes`, raw or decompressed: **413** (Jaeger answers
//!   400 "http: request body too large"; the OTLP spec recommends 413);
//! - undecodable body: 400 with a `google.rpc.Status` `{code: 3, message}` in the
//!   request's encoding, the message naming what was wrong (and where, for JSON);
//! - spans with bad id lengths: dropped, the rest written, and the 200 answer carries
//!   `partialSuccess { rejectedSpans, errorMessage }`; when every span is bad: 400
//!   (Jaeger fails the whole request);
//! - queue full, shutting down, storage failure: 503 with `Retry-After` and a Status
//!   `{code: 14}`;
//! - success: 200 with an `ExportTraceServiceResponse` in the request's encoding
//!   (`{"partialSuccess":{}}` or the bytes `0A 00`).
//!
//! Decompressing and decoding a large body is CPU work, so it runs on the blocking pool.

use std::future::Future;
use std::io::Read;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use jaeger_model::otlp::ResourceSpans;
use jaeger_model::otlp::collector::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use prost::Message;
use tokio::net::TcpListener;

use crate::error::IngestError;
use crate::metrics;
use crate::otlp_grpc::RECEIVER;
use crate::queue::SpanQueue;
use crate::validate::{self, Rejected};

const TRANSPORT: &str = "http";
/// The default traces path.
pub const TRACES_PATH: &str = "/v1/traces";
/// Bodies larger than this (raw) are decompressed and decoded on the blocking pool.
const DECODE_INLINE_LIMIT: usize = 64 * 1024;
/// Compressed bodies larger than this go to the blocking pool too: they inflate.
const COMPRESSED_INLINE_LIMIT: usize = 8 * 1024;

const METHOD_NOT_ALLOWED_TEXT: &str = "405 method not allowed, supported: [POST]";
const UNSUPPORTED_MEDIA_TEXT: &str =
    "415 unsupported media type, supported: [application/json, application/x-protobuf]";

#[derive(Clone)]
struct HttpState {
    queue: SpanQueue,
    max_body: usize,
}

/// The router serving `POST /v1/traces`; other paths answer 404 `404 page not found`
/// as Go's mux does. `max_request_body_bytes` bounds the raw and the decompressed body
/// (Jaeger's default: 20 MiB).
pub fn otlp_http_router(queue: SpanQueue, max_request_body_bytes: usize) -> Router {
    Router::new()
        .route(TRACES_PATH, any(export))
        .fallback(|| async { text(StatusCode::NOT_FOUND, "404 page not found") })
        .with_state(HttpState {
            queue,
            max_body: max_request_body_bytes,
        })
}

/// Serves [`otlp_http_router`] on `listener` until `shutdown` resolves, then waits for
/// in-flight requests.
pub async fn serve_otlp_http(
    listener: TcpListener,
    queue: SpanQueue,
    max_request_body_bytes: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), IngestError> {
    axum::serve(listener, otlp_http_router(queue, max_request_body_bytes))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| IngestError::Server {
            transport: "otlp http",
            source: Box::new(e),
        })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zlib,
    Zstd,
}

/// Why a request failed.
enum Failure {
    BadRequest(String),
    TooLarge(String),
    Internal(String),
    Ingest(IngestError),
}

impl Failure {
    fn into_response(self, encoding: Encoding) -> Response {
        use tonic::Code;
        let (status, code, msg, retry_after) = match self {
            Failure::BadRequest(m) => (StatusCode::BAD_REQUEST, Code::InvalidArgument, m, None),
            Failure::TooLarge(m) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::InvalidArgument,
                m,
                None,
            ),
            Failure::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, Code::Internal, m, None),
            Failure::Ingest(e) => (
                e.http_status(),
                e.rpc_code(),
                e.to_string(),
                e.retry_after(),
            ),
        };
        status_response(encoding, status, code, &msg, retry_after)
    }
}

async fn export(
    State(state): State<HttpState>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, METHOD_NOT_ALLOWED_TEXT);
    }
    let Some(encoding) = request_encoding(&headers) else {
        return text(StatusCode::UNSUPPORTED_MEDIA_TYPE, UNSUPPORTED_MEDIA_TEXT);
    };
    match handle(&state, encoding, &headers, body).await {
        Ok(rejected) => success(encoding, &rejected),
        Err(failure) => failure.into_response(encoding),
    }
}

/// Reads, decodes, validates and queues the request; returns the spans rejected for
/// bad ids.
async fn handle(
    state: &HttpState,
    encoding: Encoding,
    headers: &HeaderMap,
    body: Body,
) -> Result<Rejected, Failure> {
    let compression = request_compression(headers)?;
    let max = state.max_body;
    let too_large =
        || Failure::TooLarge(format!("request body too large: the limit is {max} bytes"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let raw = match Limited::new(body, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
        Err(e) => {
            return Err(Failure::BadRequest(format!(
                "failed to read the request body: {e}"
            )));
        }
    };

    let offload = raw.len() > DECODE_INLINE_LIMIT
        || (compression != Compression::None && raw.len() > COMPRESSED_INLINE_LIMIT);
    let decode = move || decode_body(raw, compression, encoding, max);
    let (batch, decoded_len, rejected) = if offload {
        tokio::task::spawn_blocking(decode)
            .await
            .map_err(|e| Failure::Internal(format!("decoding task failed: {e}")))??
    } else {
        decode()?
    };

    metrics::refused(RECEIVER, TRANSPORT, rejected.spans);
    if rejected.spans > 0 && jaeger_model::trace::span_count(&batch) == 0 {
        return Err(Failure::BadRequest(rejected.message()));
    }
    state
        .queue
        .submit(batch, decoded_len, RECEIVER, TRANSPORT)
        .await
        .map_err(Failure::Ingest)?;
    Ok(rejected)
}

type Decoded = (Vec<ResourceSpans>, usize, Rejected);

fn decode_body(
    raw: Bytes,
    compression: Compression,
    encoding: Encoding,
    max: usize,
) -> Result<Decoded, Failure> {
    let body = decompress(raw, compression, max)?;
    let len = body.len();
    let mut req = match encoding {
        Encoding::Protobuf => crate::otlp_proto::decode_request(&body)
            .map_err(|e| Failure::BadRequest(format!("failed to decode OTLP protobuf: {e}")))?,
        Encoding::Json => crate::otlp_json::decode_request(&body).map_err(Failure::BadRequest)?,
    };
    let rejected = validate::retain_valid_spans(&mut req.resource_spans);
    Ok((req.resource_spans, len, rejected))
}

fn decompress(raw: Bytes, compression: Compression, max: usize) -> Result<Bytes, Failure> {
    let name = match compression {
        Compression::None => return Ok(raw),
        Compression::Gzip => "gzip",
        Compression::Zlib => "zlib",
        Compression::Zstd => "zstd",
    };
    let reader: Box<dyn Read> =
        match compression {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(&raw[..])),
            Compression::Zlib => Box::new(flate2::read::ZlibDecoder::new(&raw[..])),
            _ => Box::new(zstd::stream::read::Decoder::new(&raw[..]).map_err(|e| {
                Failure::BadRequest(format!("failed to decompress {name} body: {e}"))
            })?),
        };
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(max));
    // Read one byte past the limit to tell "exactly the limit" from "over it".
    reader
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Failure::BadRequest(format!("failed to decompress {name} body: {e}")))?;
    if out.len() > max {
        return Err(Failure::TooLarge(format!(
            "request body too large: the limit is {max} bytes after decompression"
        )));
    }
    Ok(Bytes::from(out))
}

/// The media type, parameters (`; charset=utf-8`) ignored.
fn request_encoding(headers: &HeaderMap) -> Option<Encoding> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media = value.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/x-protobuf") {
        Some(Encoding::Protobuf)
    } else if media.eq_ignore_ascii_case("application/json") {
        Some(Encoding::Json)
    } else {
        None
    }
}

fn request_compression(headers: &HeaderMap) -> Result<Compression, Failure> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(Compression::None);
    };
    let raw = String::from_utf8_lossy(value.as_bytes());
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "identity" => Ok(Compression::None),
        "gzip" | "x-gzip" => Ok(Compression::Gzip),
        // Go's collector reads "deflate" as a zlib stream, as browsers send it.
        "deflate" | "zlib" => Ok(Compression::Zlib),
        "zstd" => Ok(Compression::Zstd),
        _ => Err(Failure::BadRequest(format!(
            "unsupported Content-Encoding: {raw}"
        ))),
    }
}

fn success(encoding: Encoding, rejected: &Rejected) -> Response {
    let partial = if rejected.spans > 0 {
        ExportTracePartialSuccess {
            rejected_spans: rejected.spans as i64,
            error_message: rejected.message(),
        }
    } else {
        ExportTracePartialSuccess::default()
    };
    let body = match encoding {
        Encoding::Protobuf => ExportTraceServiceResponse {
            partial_success: Some(partial),
        }
        .encode_to_vec(),
        Encoding::Json => {
            let mut p = serde_json::Map::new();
            if partial.rejected_spans != 0 {
                // protojson writes int64 as a string.
                p.insert(
                    "rejectedSpans".into(),
                    partial.rejected_spans.to_string().into(),
                );
            }
            if !partial.error_message.is_empty() {
                p.insert("errorMessage".into(), partial.error_message.into());
            }
            serde_json::to_vec(&serde_json::json!({ "partialSuccess": p }))
                .expect("a JSON map always serializes")
        }
    };
    with_content_type(StatusCode::OK, encoding.content_type(), body)
}

/// A `google.rpc.Status` body in the request's encoding.
fn status_response(
    encoding: Encoding,
    status: StatusCode,
    code: tonic::Code,
    message: &str,
    retry_after: Option<Duration>,
) -> Response {
    let body = match encoding {
        Encoding::Protobuf => tonic_types::Status {
            code: code as i32,
            message: message.to_owned(),
            details: Vec::new(),
        }
        .encode_to_vec(),
        Encoding::Json => serde_json::to_vec(&serde_json::json!({
            "code": code as i32,
            "message": message,
        }))
        .expect("a JSON object always serializes"),
    };
    let mut resp = with_content_type(status, encoding.content_type(), body);
    if let Some(after) = retry_after {
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(after.as_secs().max(1)),
        );
    }
    resp
}

fn with_content_type(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

/// A plain-text answer as Go's `http.Error` writes it.
fn text(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        format!("{msg}\n"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{RecordingWriter, spans_batch};
    use jaeger_config::QueueConfig;
    use jaeger_model::otlp::collector::ExportTraceServiceRequest;
    use std::io::Write;
    use std::sync::Arc;
    use tower::ServiceExt;

    const MAX_BODY: usize = 256 * 1024;

    fn setup(max_bytes: usize) -> (Router, Arc<RecordingWriter>) {
        let writer = RecordingWriter::new();
        let queue = SpanQueue::new(
            &QueueConfig {
                max_bytes,
                max_batch_spans: 10_000,
                writers: 1,
            },
            writer.clone(),
        );
        (otlp_http_router(queue, MAX_BODY), writer)
    }

    struct Answer {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    }

    impl Answer {
        fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap_or_else(|e| {
                panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body))
            })
        }
        fn content_type(&self) -> &str {
            self.headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        }
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }
    }

    async fn send(
        router: &Router,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let mut req = http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = router
            .clone()
            .oneshot(req.body(Body::from(body)).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn post(router: &Router, content_type: &str, body: Vec<u8>) -> Answer {
        send(
            router,
            Method::POST,
            TRACES_PATH,
            &[("content-type", content_type)],
            body,
        )
        .await
    }

    fn proto_body(batch: Vec<ResourceSpans>) -> Vec<u8> {
        ExportTraceServiceRequest {
            resource_spans: batch,
        }
        .encode_to_vec()
    }

    fn json_body(batch: Vec<ResourceSpans>) -> Vec<u8> {
        serde_json::to_vec(&ExportTraceServiceRequest {
            resource_spans: batch,
        })
        .expect("serialize")
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).expect("gzip");
        enc.finish().expect("gzip")
    }

    #[tokio::test]
    async fn protobuf_success() {
        let (router, writer) = setup(1 << 20);
        let a = post(
            &router,
            "application/x-protobuf",
            proto_body(spans_batch("svc", 3)),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.content_type(), "application/x-protobuf");
        // Jaeger's exact bytes: an empty partial_success.
        assert_eq!(&a.body[..], &[0x0a, 0x00]);
        assert_eq!(writer.span_count(), 3);
    }

    #[tokio::test]
    async fn json_success_with_charset() {
        let (router, writer) = setup(1 << 20);
        let a = post(
            &router,
            "application/json; charset=utf-8",
            json_body(spans_batch("svc", 2)),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        assert_eq!(a.content_type(), "application/json");
        assert_eq!(a.json(), serde_json::json!({"partialSuccess": {}}));
        assert_eq!(writer.span_count(), 2);
        let span = &writer.batches()[0][0].scope_spans[0].spans[1];
        assert_eq!(span.trace_id, vec![0xab; 16]);
    }

    #[tokio::test]
    async fn compressed_bodies() {
        let (router, writer) = setup(1 << 20);
        let proto = proto_body(spans_batch("gz", 1));
        let a = send(
            &router,
            Method::POST,
            TRACES_PATH,
            &[
                ("content-type", "application/x-protobuf"),
                ("content-encoding", "gzip"),
            ],
            gzip(&proto),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());

        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&json_body(spans_batch("zlib", 1)))
            .expect("zlib");
        let a = send(
            &router,
            Method::POST,
            TRACES_PATH,
            &[
                ("content-type", "application/json"),
                ("content-encoding", "deflate"),
            ],
            z.finish().expect("zlib"),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());

        let zst = zstd::encode_all(&proto_body(spans_batch("zstd", 1))[..], 3).expect("zstd");
        let a = send(
            &router,
            Method::POST,
            TRACES_PATH,
            &[
                ("content-type", "application/x-protobuf"),
                ("content-encoding", "zstd"),
            ],
            zst,
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        assert_eq!(writer.span_count(), 3);

        let a = send(
            &router,
            Method::POST,
            TRACES_PATH,
            &[
                ("content-type", "application/x-protobuf"),
                ("content-encoding", "gzip"),
            ],
            b"not gzip at all".to_vec(),
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        let status = tonic_types::Status::decode(a.body.clone()).expect("rpc status");
        assert!(
            status.message.contains("failed to decompress gzip body"),
            "{}",
            status.message
        );
    }

    #[tokio::test]
    async fn large_body_is_decoded_off_the_async_workers() {
        let (router, writer) = setup(8 << 20);
        let body = proto_body(spans_batch("big", 2000));
        assert!(body.len() > DECODE_INLINE_LIMIT);
        let a = post(&router, "application/x-protobuf", body.clone()).await;
        assert_eq!(a.status, StatusCode::OK);
        let a = send(
            &router,
            Method::POST,
            TRACES_PATH,
            &[
                ("content-type", "application/x-protobuf"),
                ("content-encoding", "gzip"),
            ],
            gzip(&body),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(writer.span_count(), 4000);
    }

    #[tokio::test]
    async fn bodies_over_axums_default_limit_are_read() {
        // axum's 2 MiB DefaultBodyLimit must not apply: the receiver has its own.
        let writer = RecordingWriter::new();
        let queue = SpanQueue::new(&QueueConfig::default(), writer.clone());
        let router = otlp_http_router(queue, 20 * 1024 * 1024);
        let body = proto_body(spans_batch("huge", 50_000));
        assert!(body.len() > 2 * 1024 * 1024);
        let a = post(&router, "application/x-protobuf", body).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        assert_eq!(writer.span_count(), 50_000);
    }

    #[tokio::test]
    async fn unsupported_content_encoding_is_400_in_request_encoding() {
        let (router, _) = setup(1 << 20);
        let a = send(
            &router,
            Method::POST,
            TRACES_PATH,
            &[
                ("content-type", "application/json"),
                ("content-encoding", "br"),
            ],
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert_eq!(a.content_type(), "application/json");
        assert_eq!(
            a.json(),
            serde_json::json!({"code": 3, "message": "unsupported Content-Encoding: br"})
        );
    }

    #[tokio::test]
    async fn wrong_method_type_and_path() {
        let (router, _) = setup(1 << 20);
        let a = send(&router, Method::GET, TRACES_PATH, &[], Vec::new()).await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(a.text(), "405 method not allowed, supported: [POST]\n");
        assert_eq!(a.content_type(), "text/plain; charset=utf-8");

        let a = post(&router, "text/plain", b"hello".to_vec()).await;
        assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            a.text(),
            "415 unsupported media type, supported: [application/json, application/x-protobuf]\n"
        );
        let a = send(&router, Method::POST, TRACES_PATH, &[], b"{}".to_vec()).await;
        assert_eq!(
            a.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "missing content type"
        );

        let a = post_path(&router, "/v1/metricz").await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        assert_eq!(a.text(), "404 page not found\n");
    }

    async fn post_path(router: &Router, path: &str) -> Answer {
        send(
            router,
            Method::POST,
            path,
            &[("content-type", "application/json")],
            b"{}".to_vec(),
        )
        .await
    }

    #[tokio::test]
    async fn body_limits_are_413() {
        let (router, writer) = setup(1 << 20);
        let a = post(&router, "application/x-protobuf", vec![0u8; MAX_BODY + 1]).await;
        assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
        let status = tonic_types::Status::decode(a.body.clone()).expect("rpc status");
        assert!(
            status.message.contains("request body too large"),
            "{}",
            status.message
        );

        // Small on the wire, too large once inflated.
        let bomb = gzip(&vec![b' '; MAX_BODY + 10]);
        assert!(bomb.len() < MAX_BODY);
        let a = send(
            &router,
            Method::POST,
            TRACES_PATH,
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            bomb,
        )
        .await;
        assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            a.json()["message"]
                .as_str()
                .is_some_and(|m| m.contains("after decompression"))
        );
        assert_eq!(writer.write_calls(), 0);
    }

    #[tokio::test]
    async fn undecodable_bodies_are_400_with_a_status() {
        let (router, _) = setup(1 << 20);
        let a = post(&router, "application/x-protobuf", vec![0x0a, 0x05, 0xff]).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert_eq!(a.content_type(), "application/x-protobuf");
        let status = tonic_types::Status::decode(a.body.clone()).expect("rpc status");
        assert_eq!(status.code, 3);
        assert!(
            status.message.starts_with("failed to decode OTLP protobuf"),
            "{}",
            status.message
        );

        let a = post(
            &router,
            "application/json",
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_NOPE"}]}]}]}"#
                .to_vec(),
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        let body = a.json();
        assert_eq!(body["code"], 3);
        let msg = body["message"].as_str().expect("message");
        assert!(
            msg.contains("resourceSpans[0].scopeSpans[0].spans[0].kind"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn bad_ids_reject_only_their_spans() {
        let (router, writer) = setup(1 << 20);
        let mut batch = spans_batch("svc", 3);
        batch[0].scope_spans[0].spans[1].span_id = vec![1, 2, 3];
        let a = post(&router, "application/json", json_body(batch)).await;
        assert_eq!(a.status, StatusCode::OK);
        let body = a.json();
        assert_eq!(body["partialSuccess"]["rejectedSpans"], "1");
        let msg = body["partialSuccess"]["errorMessage"]
            .as_str()
            .expect("message");
        assert!(
            msg.contains("spans[1].span_id: invalid length 3 bytes"),
            "{msg}"
        );
        assert_eq!(writer.span_count(), 2);

        let mut batch = spans_batch("svc", 2);
        batch[0].scope_spans[0].spans[0].trace_id = vec![1; 8];
        batch[0].scope_spans[0].spans[1].trace_id.clear();
        let a = post(&router, "application/x-protobuf", proto_body(batch)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        let status = tonic_types::Status::decode(a.body.clone()).expect("rpc status");
        assert!(status.message.contains("trace_id"), "{}", status.message);
        assert_eq!(writer.span_count(), 2);
    }

    #[tokio::test]
    async fn empty_request_is_ok_without_a_write() {
        let (router, writer) = setup(1 << 20);
        let a = post(&router, "application/json", b"{}".to_vec()).await;
        assert_eq!(a.status, StatusCode::OK);
        let a = post(&router, "application/x-protobuf", Vec::new()).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(writer.write_calls(), 0);
    }

    #[tokio::test]
    async fn queue_full_is_503_with_retry_after() {
        let (router, writer) = setup(100);
        writer.block();
        let r = router.clone();
        let first = tokio::spawn(async move {
            post(
                &r,
                "application/x-protobuf",
                proto_body(spans_batch("a", 3)),
            )
            .await
        });
        writer.wait_for_write_started().await;
        let a = post(&router, "application/json", json_body(spans_batch("b", 3))).await;
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(a.headers[header::RETRY_AFTER], "1");
        assert_eq!(a.json()["code"], 14);
        assert!(
            a.json()["message"]
                .as_str()
                .is_some_and(|m| m.contains("retry later"))
        );
        writer.unblock();
        assert_eq!(first.await.expect("join").status, StatusCode::OK);
    }

    #[tokio::test]
    async fn storage_failure_is_503() {
        let (router, writer) = setup(1 << 20);
        writer.fail_with("disk full");
        let a = post(
            &router,
            "application/x-protobuf",
            proto_body(spans_batch("a", 1)),
        )
        .await;
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(a.headers[header::RETRY_AFTER], "5");
        let status = tonic_types::Status::decode(a.body.clone()).expect("rpc status");
        assert_eq!(status.code, 14);
        assert!(status.message.contains("disk full"), "{}", status.message);
    }
}
