//! Ingest throughput per protocol, into the memory store and the embedded store, through
//! the real receiver servers the binary runs (`serve_otlp_grpc`, `serve_otlp_http`,
//! `serve_jaeger_grpc`, `serve_jaeger_http`, `serve_zipkin`) and the real `SpanQueue`.
//!
//! Run: `cargo run --release -p jaeger-ingest --example protocol_bench`
//! Env: `SPANS` per run (default 200000), `BATCH` spans per request (default 100),
//! `CLIENTS` concurrent connections (default 4), `CLIENT_THREADS` (default 1),
//! `STORES` (default `memory,embedded`), `PROTOCOLS` (default all six:
//! `otlp-grpc,otlp-http,otlp-json,jaeger-grpc,jaeger-thrift,zipkin-json`).
//!
//! The servers run on a Tokio runtime with ONE worker thread (plus Tokio's blocking pool,
//! which the stores use for their CPU work, and the embedded store's own threads). The
//! load comes from a separate client runtime whose threads are named `bench-client`;
//! requests are encoded before the clock starts. "Server CPU" is the CPU time of the
//! whole process (`/proc/self/stat`, which also counts threads that already exited)
//! minus the CPU time of the client threads (`/proc/self/task/*/stat`), so
//! spans/s per server core = spans / server CPU seconds. Every request is acknowledged
//! only after the store wrote it (the queue's contract); after each run the store is
//! scanned and must hold every span that was sent.
//!
//! It runs on mimalloc, the global allocator of the `jaeger` binary.
//!
//! `DECODE_ONLY=1`: no servers; decodes the OTLP protobuf requests with prost and with
//! the receivers' decoder (`jaeger_ingest::otlp_proto`) in alternating rounds on the
//! main thread and prints CPU ns per span of each (`ROUNDS`, default 10).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use jaeger_config::QueueConfig;
use jaeger_ingest::jaeger_thrift::{self, ThriftProtocol};
use jaeger_ingest::{
    SpanQueue, serve_jaeger_grpc, serve_jaeger_http, serve_otlp_grpc, serve_otlp_http, serve_zipkin,
};
use jaeger_model::otlp::collector::ExportTraceServiceRequest;
use jaeger_model::otlp::{
    AnyValue, KeyValue, Resource, ResourceSpans, ScopeSpans, Span, Status, Value,
};
use jaeger_storage::Storage;
use jaeger_storage::embedded::{EmbeddedStore, EmbeddedStoreConfig};
use jaeger_storage::memory::MemoryStore;
use prost::Message;
use tokio::runtime::Runtime;

const PROTOCOLS: [&str; 6] = [
    "otlp-grpc",
    "otlp-http",
    "otlp-json",
    "jaeger-grpc",
    "jaeger-thrift",
    "zipkin-json",
];
const MAX_BODY: usize = 64 << 20;
const SERVICES: u64 = 10;
const OPERATIONS: u64 = 20;
/// Spans per trace; a request holds whole traces.
const TRACE_SPANS: u64 = 10;
const BASE_NANOS: u64 = 1_764_000_000_000_000_000;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn list(name: &str, default: &[&str]) -> Vec<String> {
    std::env::var(name)
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_else(|_| default.iter().map(|s| s.to_string()).collect())
}

fn main() {
    let spans = env("SPANS", 200_000);
    let batch = env("BATCH", 100).max(TRACE_SPANS as usize);
    let clients = env("CLIENTS", 4).max(1);
    let client_threads = env("CLIENT_THREADS", 1).max(1);
    let stores = list("STORES", &["memory", "embedded"]);
    let protocols = list("PROTOCOLS", &PROTOCOLS);
    let requests = spans.div_ceil(batch);
    if env("DECODE_ONLY", 0) == 1 {
        decode_only(requests, batch, env("ROUNDS", 10));
        return;
    }

    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-server")
        .enable_all()
        .build()
        .expect("server runtime");
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .expect("client runtime");

    let sample = request(0, batch);
    println!(
        "{requests} requests x {batch} spans, {clients} connections, {client_threads} client \
         thread(s), 1 server worker; OTLP protobuf {} B/span",
        sample.encoded_len() / batch
    );
    println!(
        "| store | protocol | B/span on the wire | spans/s (wall) | server CPU s | spans/s per server core |"
    );
    println!("|---|---|---|---|---|---|");
    for (run, store_kind) in stores.iter().enumerate() {
        for (p, protocol) in protocols.iter().enumerate() {
            // Distinct ids in every run, so no run rewrites another's spans.
            let first = ((run * PROTOCOLS.len() + p) * requests) as u64;
            let bodies: Vec<bytes::Bytes> = (0..requests as u64)
                .map(|i| encode(protocol, &request(first + i, batch)))
                .collect();
            let wire = bodies.iter().map(|b| b.len()).sum::<usize>() / (requests * batch);
            let data_dir = tempfile::tempdir().expect("temp dir");
            let storage = open_store(&server, store_kind, data_dir.path());
            let r = run_one(
                &server,
                &client,
                protocol,
                bodies,
                clients,
                batch,
                storage.clone(),
            );
            let stored = count_spans(&server, &storage);
            assert_eq!(
                stored,
                requests * batch,
                "{store_kind}/{protocol}: the store holds {stored} spans, {} were sent",
                requests * batch
            );
            println!(
                "| {store_kind} | {protocol} | {wire} | {:.0} | {:.2} | {:.0} |",
                r.spans as f64 / r.wall,
                r.server_cpu,
                r.spans as f64 / r.server_cpu
            );
            drop(storage);
            // Let the embedded store's background threads finish before the next run.
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

struct RunResult {
    spans: usize,
    wall: f64,
    server_cpu: f64,
}

fn open_store(server: &Runtime, kind: &str, dir: &std::path::Path) -> Storage {
    match kind {
        "memory" => Storage::from_backend(MemoryStore::new(10_000_000)),
        "embedded" => {
            let cfg = EmbeddedStoreConfig::new(dir);
            let store = server
                // Inside the runtime: spawn_blocking needs its context.
                .block_on(async move {
                    tokio::task::spawn_blocking(move || EmbeddedStore::open(cfg)).await
                })
                .expect("open task")
                .expect("open the embedded store");
            Storage::from_backend(store)
        }
        other => panic!("unknown store {other} (memory, embedded)"),
    }
}

fn count_spans(server: &Runtime, storage: &Storage) -> usize {
    let reader = storage.reader.clone();
    server.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let scan = tokio::spawn(async move { reader.scan_spans(0, u64::MAX, tx).await });
        let mut n = 0;
        while let Some(chunk) = rx.recv().await {
            n += jaeger_model::trace::span_count(&chunk);
        }
        scan.await.expect("scan task").expect("scan");
        n
    })
}

fn run_one(
    server: &Runtime,
    client: &Runtime,
    protocol: &str,
    bodies: Vec<bytes::Bytes>,
    clients: usize,
    batch: usize,
    storage: Storage,
) -> RunResult {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let protocol_owned = protocol.to_string();
    let (addr, queue, handle) = server.block_on(async move {
        let queue = SpanQueue::new(&QueueConfig::default(), storage.writer.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (q, s) = (queue.clone(), stopped());
        let handle = tokio::spawn(async move {
            let r = match protocol_owned.as_str() {
                "otlp-grpc" => serve_otlp_grpc(listener, q, MAX_BODY, s).await,
                "otlp-http" | "otlp-json" => serve_otlp_http(listener, q, MAX_BODY, s).await,
                "jaeger-grpc" => serve_jaeger_grpc(listener, q, MAX_BODY, s).await,
                "jaeger-thrift" => serve_jaeger_http(listener, q, MAX_BODY, s).await,
                "zipkin-json" => serve_zipkin(listener, q, MAX_BODY, s).await,
                other => panic!("unknown protocol {other}"),
            };
            r.expect("server");
        });
        (addr, queue, handle)
    });
    let n = bodies.len();
    let bodies = Arc::new(bodies);
    let protocol = protocol.to_string();

    let cpu0 = process_cpu() - client_cpu();
    let started = Instant::now();
    client.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let bodies = bodies.clone();
                let protocol = protocol.clone();
                tokio::spawn(async move { drive(&protocol, addr, &bodies, c, clients).await })
            })
            .collect();
        for t in tasks {
            t.await.expect("client task");
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let server_cpu = process_cpu() - client_cpu() - cpu0;

    let _ = stop_tx.send(true);
    server.block_on(async move {
        handle.await.expect("server task");
        queue.shutdown().await;
    });
    RunResult {
        spans: n * batch,
        wall,
        server_cpu,
    }
}

/// One client connection sending every `clients`-th request, one at a time.
async fn drive(
    protocol: &str,
    addr: std::net::SocketAddr,
    bodies: &[bytes::Bytes],
    c: usize,
    clients: usize,
) {
    match protocol {
        "otlp-grpc" | "jaeger-grpc" => {
            let path = if protocol == "otlp-grpc" {
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
            } else {
                "/jaeger.api_v2.CollectorService/PostSpans"
            };
            let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
                .expect("uri")
                .initial_stream_window_size(Some(2 << 20))
                .initial_connection_window_size(Some(8 << 20))
                .connect()
                .await
                .expect("connect");
            let mut grpc = tonic::client::Grpc::new(channel);
            for body in bodies.iter().skip(c).step_by(clients) {
                grpc.ready().await.expect("ready");
                grpc.unary::<_, (), _>(
                    tonic::Request::new(body.clone()),
                    http::uri::PathAndQuery::from_static(path),
                    BytesCodec,
                )
                .await
                .unwrap_or_else(|e| panic!("{protocol}: {e}"));
            }
        }
        _ => {
            let (path, content_type) = match protocol {
                "otlp-http" => ("/v1/traces", "application/x-protobuf"),
                "otlp-json" => ("/v1/traces", "application/json"),
                "jaeger-thrift" => ("/api/traces", "application/x-thrift"),
                "zipkin-json" => ("/api/v2/spans", "application/json"),
                other => panic!("unknown protocol {other}"),
            };
            let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            for body in bodies.iter().skip(c).step_by(clients) {
                post(&mut stream, path, content_type, body).await;
            }
        }
    }
}

/// A minimal HTTP/1.1 keep-alive client, so the client's own cost stays small.
async fn post(stream: &mut tokio::net::TcpStream, path: &str, content_type: &str, body: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
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
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + len {
                assert!(
                    head.starts_with("http/1.1 200") || head.starts_with("http/1.1 202"),
                    "{path}: {head} {}",
                    String::from_utf8_lossy(&got[end + 4..])
                );
                return;
            }
        }
    }
}

/// prost vs the receivers' decoder on the same bodies, rounds alternating so that a
/// change in the machine's load hits both.
fn decode_only(requests: usize, batch: usize, rounds: usize) {
    // `Bytes`, as the receivers hand prost the body.
    let bodies: Vec<bytes::Bytes> = (0..requests as u64)
        .map(|i| request(i, batch).encode_to_vec().into())
        .collect();
    let spans = (requests * batch * rounds) as f64;
    let (mut prost_cpu, mut ours_cpu) = (0.0, 0.0);
    for _ in 0..rounds {
        let t = process_cpu();
        for b in &bodies {
            let req = ExportTraceServiceRequest::decode(b.clone()).expect("prost decodes");
            std::hint::black_box(req);
        }
        prost_cpu += process_cpu() - t;
        let t = process_cpu();
        for b in &bodies {
            let req = jaeger_ingest::otlp_proto::decode_request(b).expect("decodes");
            std::hint::black_box(req);
        }
        ours_cpu += process_cpu() - t;
    }
    println!(
        "decode of {} spans x {rounds} rounds: prost {:.0} ns/span, otlp_proto {:.0} ns/span",
        requests * batch,
        prost_cpu * 1e9 / spans,
        ours_cpu * 1e9 / spans
    );
}

/// CPU seconds of the whole process, exited threads included.
fn process_cpu() -> f64 {
    stat_cpu(&std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat"))
}

/// CPU seconds of the live client threads.
fn client_cpu() -> f64 {
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let Ok(task) = task else { continue };
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        if stat.contains("(bench-client") {
            total += stat_cpu(&stat);
        }
    }
    total
}

/// utime + stime of a `stat` line, in seconds (USER_HZ is 100 on Linux).
fn stat_cpu(stat: &str) -> f64 {
    // The command name may hold spaces; fields are counted after its closing ')'.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    ticks as f64 / 100.0
}

fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(v: impl Into<String>) -> Value {
    Value::StringValue(v.into())
}

/// One request of whole traces of `TRACE_SPANS` spans, from one service, with the
/// attributes of an instrumented HTTP service (about 10 per span).
fn request(seq: u64, batch: usize) -> ExportTraceServiceRequest {
    let service = seq % SERVICES;
    let spans = (0..batch as u64)
        .map(|i| {
            let n = seq * batch as u64 + i;
            let trace = n / TRACE_SPANS;
            let root = i % TRACE_SPANS == 0;
            let start = BASE_NANOS + n * 1_000_000;
            let op = (n * 7) % OPERATIONS;
            let status = if n.is_multiple_of(50) { 500 } else { 200 };
            Span {
                trace_id: [trace.to_be_bytes(), (trace ^ 0x5bd1_e995).to_be_bytes()].concat(),
                span_id: (n + 1).to_be_bytes().to_vec(),
                parent_span_id: if root {
                    vec![]
                } else {
                    (n - (i % TRACE_SPANS) + 1).to_be_bytes().to_vec()
                },
                name: format!("GET /api/v1/resource-{op}"),
                kind: if root { 2 } else { 3 },
                start_time_unix_nano: start,
                end_time_unix_nano: start + 1_000 * (50 + n % 5_000),
                attributes: vec![
                    kv("http.method", s("GET")),
                    kv("http.status_code", Value::IntValue(status)),
                    kv("http.route", s(format!("/api/v1/resource-{op}/{{id}}"))),
                    kv(
                        "peer.service",
                        s(format!("service-{}", (service + 1) % SERVICES)),
                    ),
                    kv("user.id", s(format!("user-{}", n % 10_000))),
                    kv(
                        "request.id",
                        s(format!("{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15))),
                    ),
                    kv("component", s("http")),
                    kv("retry.count", Value::IntValue((n % 3) as i64)),
                    kv("cache.hit", Value::BoolValue(n.is_multiple_of(4))),
                    kv("payload.size", Value::IntValue((n % 65_536) as i64)),
                ],
                status: Some(Status {
                    code: if status == 500 { 2 } else { 0 },
                    ..Default::default()
                }),
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s(format!("service-{service}"))),
                    kv("host.name", s(format!("host-{}", seq % 4))),
                    kv("telemetry.sdk.language", s("rust")),
                    kv("process.pid", Value::IntValue(4242)),
                ],
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

fn encode(protocol: &str, req: &ExportTraceServiceRequest) -> bytes::Bytes {
    match protocol {
        "otlp-grpc" | "otlp-http" => req.encode_to_vec().into(),
        "otlp-json" => serde_json::to_vec(req).expect("OTLP JSON").into(),
        "jaeger-grpc" => {
            let batch = jaeger_proto::convert::batches_from_otlp(&req.resource_spans)
                .into_iter()
                .next()
                .expect("one batch");
            jaeger_proto::api_v2::PostSpansRequest { batch: Some(batch) }
                .encode_to_vec()
                .into()
        }
        "jaeger-thrift" => {
            jaeger_thrift::encode::encode_batch(&thrift_batch(req), ThriftProtocol::Binary).into()
        }
        "zipkin-json" => serde_json::to_vec(&zipkin_spans(req))
            .expect("zipkin JSON")
            .into(),
        other => panic!("unknown protocol {other}"),
    }
}

/// The request as a Jaeger client's Thrift `Batch`.
fn thrift_batch(req: &ExportTraceServiceRequest) -> jaeger_thrift::Batch {
    use jaeger_thrift::{Batch, JaegerSpan, Process, Tag};
    let tag = |k: &KeyValue| {
        let mut t = Tag {
            key: k.key.clone(),
            ..Default::default()
        };
        match k.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(v)) => t.v_str = Some(v.clone().into_bytes()),
            Some(Value::BoolValue(v)) => {
                t.v_type = 2;
                t.v_bool = Some(*v)
            }
            Some(Value::IntValue(v)) => {
                t.v_type = 3;
                t.v_long = Some(*v)
            }
            other => panic!("no thrift mapping for {other:?}"),
        }
        t
    };
    let rs = &req.resource_spans[0];
    let attrs = &rs.resource.as_ref().expect("resource").attributes;
    let id = |b: &[u8]| i64::from_be_bytes(b.try_into().expect("8 bytes"));
    Batch {
        process: Process {
            service_name: match attrs[0].value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(v)) => v.clone(),
                _ => unreachable!("service.name is first"),
            },
            tags: attrs[1..].iter().map(tag).collect(),
        },
        spans: rs.scope_spans[0]
            .spans
            .iter()
            .map(|sp| JaegerSpan {
                trace_id_high: id(&sp.trace_id[..8]),
                trace_id_low: id(&sp.trace_id[8..]),
                span_id: id(&sp.span_id),
                parent_span_id: if sp.parent_span_id.is_empty() {
                    0
                } else {
                    id(&sp.parent_span_id)
                },
                operation_name: sp.name.clone(),
                flags: 1,
                start_time: (sp.start_time_unix_nano / 1000) as i64,
                duration: ((sp.end_time_unix_nano - sp.start_time_unix_nano) / 1000) as i64,
                tags: sp
                    .attributes
                    .iter()
                    .map(tag)
                    .chain(std::iter::once(Tag {
                        key: "span.kind".into(),
                        v_str: Some(if sp.kind == 2 { "server" } else { "client" }.into()),
                        ..Default::default()
                    }))
                    .collect(),
                ..Default::default()
            })
            .collect(),
    }
}

/// The request as a Zipkin v2 JSON list (tags are strings in Zipkin).
fn zipkin_spans(req: &ExportTraceServiceRequest) -> serde_json::Value {
    let rs = &req.resource_spans[0];
    let service = match rs.resource.as_ref().expect("resource").attributes[0]
        .value
        .as_ref()
        .and_then(|v| v.value.as_ref())
    {
        Some(Value::StringValue(v)) => v.clone(),
        _ => unreachable!("service.name is first"),
    };
    let spans: Vec<serde_json::Value> = rs.scope_spans[0]
        .spans
        .iter()
        .map(|sp| {
            let tags: serde_json::Map<String, serde_json::Value> = sp
                .attributes
                .iter()
                .map(|k| {
                    let v = match k.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(Value::StringValue(v)) => v.clone(),
                        Some(Value::BoolValue(v)) => v.to_string(),
                        Some(Value::IntValue(v)) => v.to_string(),
                        other => panic!("no zipkin mapping for {other:?}"),
                    };
                    (k.key.clone(), serde_json::Value::String(v))
                })
                .collect();
            let mut span = serde_json::json!({
                "traceId": hex::encode(&sp.trace_id),
                "id": hex::encode(&sp.span_id),
                "name": sp.name,
                "kind": if sp.kind == 2 { "SERVER" } else { "CLIENT" },
                "timestamp": sp.start_time_unix_nano / 1000,
                "duration": (sp.end_time_unix_nano - sp.start_time_unix_nano) / 1000,
                "localEndpoint": {"serviceName": service, "ipv4": "10.0.0.7"},
                "tags": tags,
            });
            if !sp.parent_span_id.is_empty() {
                span["parentId"] = hex::encode(&sp.parent_span_id).into();
            }
            span
        })
        .collect();
    serde_json::Value::Array(spans)
}

/// Sends pre-encoded request bytes and ignores the answer's content (gRPC status only).
struct BytesCodec;
struct BytesEncoder;
struct IgnoreDecoder;

impl tonic::codec::Codec for BytesCodec {
    type Encode = bytes::Bytes;
    type Decode = ();
    type Encoder = BytesEncoder;
    type Decoder = IgnoreDecoder;
    fn encoder(&mut self) -> BytesEncoder {
        BytesEncoder
    }
    fn decoder(&mut self) -> IgnoreDecoder {
        IgnoreDecoder
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

impl tonic::codec::Decoder for IgnoreDecoder {
    type Item = ();
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<()>, tonic::Status> {
        use bytes::Buf;
        src.advance(src.remaining());
        Ok(Some(()))
    }
}
