//! The `grpc` backend against a remote storage server over loopback TCP (both in this
//! process), serving an embedded store: write rate and trace-by-id latency, next to the
//! same operations on the embedded store directly.
//!
//! ```text
//! cargo run --release -p jaeger-storage --example grpc_bench -- [SPANS] [WRITERS]
//! ```
//!
//! Traces of 10 spans (~300 B/span OTLP protobuf, 6 attributes), batches of 1000 spans,
//! WRITERS concurrent writers (default 4). CPU time is the whole process's: client,
//! server and the store.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jaeger_model::TraceId;
use jaeger_model::otlp::{KeyValue, Resource, ResourceSpans, ScopeSpans, Span, Value};
use jaeger_model::trace::kv;
use jaeger_storage::embedded::{EmbeddedStore, EmbeddedStoreConfig};
use jaeger_storage::grpc::{GrpcClientConfig, GrpcStore, RemoteStorageOptions};
use jaeger_storage::{GetTraceParams, SpanReader, SpanWriter, Storage, TraceQuery};

const BATCH: usize = 1000;
const SPANS_PER_TRACE: usize = 10;

fn s(k: &str, v: impl Into<String>) -> KeyValue {
    kv(k, Value::StringValue(v.into()))
}

fn trace_id(n: u64) -> TraceId {
    TraceId::from_u64s(0xbe7c_0000_0000_0000 | n.wrapping_mul(0x9E37_79B9), n)
}

/// Batch `b`: 100 whole traces.
fn batch(b: u64, t0: u64) -> Vec<ResourceSpans> {
    let services = ["frontend", "cart", "checkout", "payment"];
    let mut out: Vec<ResourceSpans> = services
        .iter()
        .map(|svc| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", *svc), s("host.name", "bench-1")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans::default()],
            ..Default::default()
        })
        .collect();
    let traces = (BATCH / SPANS_PER_TRACE) as u64;
    for t in 0..traces {
        let n = b * traces + t;
        let id = trace_id(n);
        let start = t0 + n * 1_000_000;
        for i in 0..SPANS_PER_TRACE as u64 {
            let span = Span {
                trace_id: id.0.to_vec(),
                span_id: (n * 16 + i + 1).to_be_bytes().to_vec(),
                parent_span_id: if i == 0 {
                    Vec::new()
                } else {
                    (n * 16 + 1).to_be_bytes().to_vec()
                },
                name: format!("op-{}", i % 8),
                kind: 2,
                start_time_unix_nano: start + i * 10_000,
                end_time_unix_nano: start + i * 10_000 + 50_000,
                attributes: vec![
                    s("http.method", "GET"),
                    s("http.route", format!("/api/items/{}", i % 8)),
                    kv("http.status_code", Value::IntValue(200)),
                    s("user.id", format!("user-{}", n % 1000)),
                    kv("retry", Value::BoolValue(false)),
                    s("component", "bench"),
                ],
                ..Default::default()
            };
            out[(i as usize) % services.len()].scope_spans[0]
                .spans
                .push(span);
        }
    }
    out
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 (1-based), 11 and 12 after the ")".
    (ticks(11) + ticks(12)) / 100.0
}

async fn write_all(writer: Arc<dyn SpanWriter>, batches: u64, writers: u64, t0: u64) -> (f64, f64) {
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let writer = writer.clone();
            tokio::spawn(async move {
                let mut b = w;
                while b < batches {
                    writer.write_spans(batch(b, t0)).await.expect("write");
                    b += writers;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer task");
    }
    (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu)
}

async fn lookups(reader: Arc<dyn SpanReader>, traces: u64, n: u64) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(n as usize);
    for i in 0..n {
        let id = trace_id((i * 7919) % traces);
        let t = Instant::now();
        let trace = reader
            .get_trace(GetTraceParams {
                trace_id: id,
                ..Default::default()
            })
            .await
            .expect("get_trace")
            .expect("trace exists");
        times.push(t.elapsed());
        assert_eq!(trace.span_count(), SPANS_PER_TRACE);
    }
    times.sort();
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

/// FindTraces of one service, 20 traces, over the written window: p50 and p99.
async fn searches(reader: Arc<dyn SpanReader>, t0: u64, n: u64) -> (Duration, Duration) {
    let services = ["frontend", "cart", "checkout", "payment"];
    let mut times = Vec::with_capacity(n as usize);
    for i in 0..n {
        let q = TraceQuery {
            service_name: Some(services[(i % 4) as usize].to_string()),
            start_time_min: t0,
            start_time_max: t0 + 7_200_000_000_000,
            num_traces: 20,
            ..Default::default()
        };
        let t = Instant::now();
        let found = reader.find_traces(&q).await.expect("find_traces");
        times.push(t.elapsed());
        assert_eq!(found.len(), 20, "a search finds 20 traces");
    }
    times.sort();
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let spans: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let writers: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(4);
    let batches = spans / BATCH as u64;
    let traces = batches * (BATCH / SPANS_PER_TRACE) as u64;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    let t0 = now - 3_600_000_000_000;

    // Direct: the embedded store alone.
    let dir = tempfile::tempdir().expect("temp dir");
    let direct = Storage::from_backend(
        EmbeddedStore::open(EmbeddedStoreConfig::new(dir.path().join("direct"))).expect("open"),
    );
    let (wall, cpu) = write_all(direct.writer.clone(), batches, writers, t0).await;
    println!(
        "direct  write: {spans} spans in {wall:.2}s = {:.0} spans/s, {:.0} spans per CPU-second",
        spans as f64 / wall,
        spans as f64 / cpu
    );
    let (p50, p99) = lookups(direct.reader.clone(), traces, 2000).await;
    println!("direct  trace by id: p50 {p50:?}, p99 {p99:?}");
    let (p50, p99) = searches(direct.reader.clone(), t0, 200).await;
    println!("direct  search (20 traces): p50 {p50:?}, p99 {p99:?}");

    // Through gRPC: a remote storage server over a second embedded store.
    let served = Storage::from_backend(
        EmbeddedStore::open(EmbeddedStoreConfig::new(dir.path().join("served"))).expect("open"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(jaeger_storage::grpc::serve_remote_storage(
        listener,
        served,
        RemoteStorageOptions::default(),
        std::future::pending(),
    ));
    let client =
        Arc::new(GrpcStore::connect(&GrpcClientConfig::new(addr.to_string())).expect("client"));
    let (wall, cpu) = write_all(client.clone(), batches, writers, t0).await;
    println!(
        "grpc    write: {spans} spans in {wall:.2}s = {:.0} spans/s, {:.0} spans per CPU-second (client+server+store)",
        spans as f64 / wall,
        spans as f64 / cpu
    );
    let (p50, p99) = lookups(client.clone(), traces, 2000).await;
    println!("grpc    trace by id: p50 {p50:?}, p99 {p99:?}");
    let (p50, p99) = searches(client, t0, 200).await;
    println!("grpc    search (20 traces): p50 {p50:?}, p99 {p99:?}");
}
