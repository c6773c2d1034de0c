//! Load test of the OTLP receivers and the queue, in process, with a storage writer that
//! stores nothing: the ceiling of the ingest path in front of storage.
//!
//! Run: `cargo run --release -p jaeger-ingest --example otlp_receiver_load`
//! (env `BATCHES`, default 400, of 1000 spans of ~370 B; `CONCURRENCY`, default 4).
//! Client and server share the machine's cores, as in the design's measurement.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use jaeger_config::QueueConfig;
use jaeger_ingest::otlp_grpc::EXPORT_PATH;
use jaeger_ingest::{SpanQueue, otlp_http_router, serve_otlp_grpc};
use jaeger_model::otlp::collector::ExportTraceServiceRequest;
use jaeger_model::otlp::collector::ExportTraceServiceResponse;
use jaeger_model::otlp::{AnyValue, KeyValue, Resource, ResourceSpans, ScopeSpans, Span, Value};
use jaeger_storage::{SpanWriter, StorageError};
use prost::Message;

struct NullWriter {
    spans: AtomicUsize,
    writes: AtomicUsize,
}

#[async_trait]
impl SpanWriter for NullWriter {
    async fn write_spans(&self, batch: Vec<ResourceSpans>) -> Result<(), StorageError> {
        self.spans
            .fetch_add(jaeger_model::trace::span_count(&batch), Ordering::Relaxed);
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn request(seed: u64) -> ExportTraceServiceRequest {
    let spans = (0..1000u64)
        .map(|i| {
            let n = seed * 1000 + i;
            Span {
                trace_id: (n / 10).to_be_bytes().repeat(2),
                span_id: (n + 1).to_be_bytes().to_vec(),
                parent_span_id: if i % 10 == 0 {
                    vec![]
                } else {
                    n.to_be_bytes().to_vec()
                },
                name: format!("operation-{}", i % 20),
                kind: 2,
                start_time_unix_nano: 1_700_000_000_000_000_000 + n * 1000,
                end_time_unix_nano: 1_700_000_000_000_000_000 + n * 1000 + 50_000,
                attributes: (0..8)
                    .map(|a| kv(&format!("attr.key{a}"), "some-value-12"))
                    .collect(),
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", &format!("service-{}", seed % 10))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let batches = env("BATCHES", 400);
    let concurrency = env("CONCURRENCY", 4);
    let writer = Arc::new(NullWriter {
        spans: AtomicUsize::new(0),
        writes: AtomicUsize::new(0),
    });
    let queue = SpanQueue::new(&QueueConfig::default(), writer.clone());
    let reqs: Arc<Vec<ExportTraceServiceRequest>> = Arc::new((0..16).map(request).collect());
    println!(
        "request: 1000 spans, {} bytes protobuf ({} B/span)",
        reqs[0].encoded_len(),
        reqs[0].encoded_len() / 1000
    );

    // gRPC
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve_otlp_grpc(
        listener,
        queue.clone(),
        64 << 20,
        std::future::pending(),
    ));
    let started = Instant::now();
    let encoded: Arc<Vec<bytes::Bytes>> =
        Arc::new(reqs.iter().map(|r| r.encode_to_vec().into()).collect());
    let tasks: Vec<_> = (0..concurrency)
        .map(|c| {
            let encoded = encoded.clone();
            tokio::spawn(async move {
                // Pre-encoded messages, so the client's encoding does not eat the
                // server's CPU.
                let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
                    .expect("uri")
                    .connect()
                    .await
                    .expect("connect");
                let mut grpc = tonic::client::Grpc::new(channel);
                for b in (c..batches).step_by(concurrency) {
                    grpc.ready().await.expect("ready");
                    grpc.unary::<_, ExportTraceServiceResponse, _>(
                        tonic::Request::new(encoded[b % encoded.len()].clone()),
                        http::uri::PathAndQuery::from_static(EXPORT_PATH),
                        BytesCodec,
                    )
                    .await
                    .expect("export");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("join");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "grpc: {:.0} spans/s ({} spans in {secs:.2}s, {} storage writes)",
        (batches * 1000) as f64 / secs,
        writer.spans.load(Ordering::Relaxed),
        writer.writes.load(Ordering::Relaxed),
    );

    // HTTP protobuf
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = otlp_http_router(queue.clone(), 64 << 20);
    tokio::spawn(async move { axum::serve(listener, router).await });
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(reqs.iter().map(|r| r.encode_to_vec()).collect());
    writer.spans.store(0, Ordering::Relaxed);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|c| {
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
                for b in (c..batches).step_by(concurrency) {
                    post(&mut stream, &bodies[b % bodies.len()]).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("join");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "http protobuf: {:.0} spans/s ({} spans in {secs:.2}s)",
        (batches * 1000) as f64 / secs,
        writer.spans.load(Ordering::Relaxed),
    );
    queue.shutdown().await;
}

/// A minimal HTTP/1.1 keep-alive client, so the client's own cost stays small.
async fn post(stream: &mut tokio::net::TcpStream, body: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write");
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    loop {
        let n = stream.read(&mut buf).await.expect("read");
        assert!(n > 0, "connection closed");
        got.extend_from_slice(&buf[..n]);
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
            assert!(head.starts_with("http/1.1 200"), "{head}");
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + len {
                return;
            }
        }
    }
}

/// Sends pre-encoded request bytes.
struct BytesCodec;
struct BytesEncoder;
struct ResponseDecoder;

impl tonic::codec::Codec for BytesCodec {
    type Encode = bytes::Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = BytesEncoder;
    type Decoder = ResponseDecoder;
    fn encoder(&mut self) -> BytesEncoder {
        BytesEncoder
    }
    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

impl tonic::codec::Encoder for BytesEncoder {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: bytes::Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for ResponseDecoder {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Self::Item>, tonic::Status> {
        ExportTraceServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}
