//! Latency and throughput of `GET /api/traces/{id}` (and friends) for 1,000- and
//! 10,000-span traces, through the whole router in-process: storage read (MemoryStore,
//! then the embedded store on a temporary directory), the standard adjusters (clock
//! skew on, so spans really move), UI-model conversion and JSON encoding. Target: a
//! 10,000-span trace under 50 ms at p99. `req/s/core` is requests per CPU-second of
//! this process (1000 / cpu ms), the throughput one core would give.
//!
//! ```text
//! cargo run --release -p jaeger-query --example trace_by_id_bench [-- <requests> [memory|embedded]]
//! ```
//!
//! It runs on mimalloc, the global allocator of the `jaeger` binary (glibc's malloc
//! spent a third of a 10,000-span request allocating, freeing and consolidating).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use jaeger_model::otlp::{Event, Resource, ResourceSpans, ScopeSpans, Span, Value};
use jaeger_model::trace::kv;
use jaeger_model::{SpanId, TraceId};
use jaeger_query::{QueryState, router, standard_adjusters};
use jaeger_storage::embedded::{EmbeddedStore, EmbeddedStoreConfig};
use jaeger_storage::memory::MemoryStore;
use jaeger_storage::{DependencyStore, SpanReader, SpanWriter};
use std::sync::Arc;
use tower::ServiceExt;

const T0: u64 = 1_706_678_909_000_000_000;
const SERVICES: u64 = 20;

/// A trace of `n` spans over 20 services (one resource each, its own host), a binary
/// tree of calls; every fifth service's clock runs 3 ms early, so clock skew adjusts.
pub fn trace(id: TraceId, n: u64) -> Vec<ResourceSpans> {
    let mut by_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES as usize];
    for i in 1..=n {
        let svc = i % SERVICES;
        let depth = 64 - i.leading_zeros() as u64;
        let skew = if svc.is_multiple_of(5) { 3_000_000 } else { 0 };
        let start = T0 + depth * 100_000 - skew;
        by_service[svc as usize].push(Span {
            trace_id: id.0.to_vec(),
            span_id: SpanId::from_u64(i).0.to_vec(),
            parent_span_id: if i > 1 {
                SpanId::from_u64(i / 2).0.to_vec()
            } else {
                vec![]
            },
            name: format!("op-{}", i % 50),
            kind: if i.is_multiple_of(2) { 2 } else { 3 },
            start_time_unix_nano: start,
            end_time_unix_nano: start + 50_000_000 / depth,
            attributes: (0..10)
                .rev()
                .map(|k| {
                    kv(
                        format!("attr.{k}"),
                        if k % 2 == 0 {
                            Value::StringValue(format!("value {i} {k}"))
                        } else {
                            Value::IntValue((i * k) as i64)
                        },
                    )
                })
                .collect(),
            events: vec![Event {
                time_unix_nano: start + 10,
                name: "log".into(),
                attributes: vec![kv("message", Value::StringValue("hello".into()))],
                dropped_attributes_count: 0,
            }],
            ..Default::default()
        });
    }
    by_service
        .into_iter()
        .enumerate()
        .map(|(svc, spans)| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", Value::StringValue(format!("service-{svc}"))),
                    kv("host.name", Value::StringValue(format!("host-{svc}"))),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            schema_url: String::new(),
        })
        .collect()
}

struct Stats {
    /// Process CPU time per request: what a request costs on an idle machine, robust to
    /// other processes competing for the cores (wall-clock figures are not).
    cpu: Duration,
    p50: Duration,
    p99: Duration,
    mean: Duration,
    rps: f64,
    bytes: usize,
}

async fn one(r: &Router, uri: &str, encoding: Option<&'static str>) -> (Duration, usize) {
    let mut req = Request::builder().uri(uri);
    if let Some(e) = encoding {
        req = req.header("accept-encoding", e);
    }
    let req = req.body(Body::empty()).expect("a valid request");
    let t = Instant::now();
    let resp = r.clone().oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK, "{uri}");
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (t.elapsed(), body.len())
}

/// `n` requests by `concurrency` clients; latency per request, rate over the wall clock.
async fn measure(
    r: &Router,
    uri: &str,
    n: usize,
    concurrency: usize,
    encoding: Option<&'static str>,
) -> Stats {
    for _ in 0..3 {
        one(r, uri, encoding).await;
    }
    // `TBI_GAP_MS`: a pause after each response (a user reading the trace), so that a
    // request does not share the cores with the previous one's cleanup.
    let gap = Duration::from_millis(
        std::env::var("TBI_GAP_MS")
            .ok()
            .and_then(|g| g.parse().ok())
            .unwrap_or(0),
    );
    let cpu0 = cpu_time();
    let wall = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let r = r.clone();
        let uri = uri.to_string();
        let count = n / concurrency + usize::from(c < n % concurrency);
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                out.push(one(&r, &uri, encoding).await);
                if !gap.is_zero() {
                    tokio::time::sleep(gap).await;
                }
            }
            out
        }));
    }
    let mut lat = Vec::with_capacity(n);
    let mut bytes = 0;
    for t in tasks {
        for (d, b) in t.await.expect("client task") {
            lat.push(d);
            bytes = b;
        }
    }
    let elapsed = wall.elapsed();
    // `TBI_DUMP`: every latency in ms, in request order (to tell a slow period of the
    // machine from a periodic stall).
    if std::env::var("TBI_DUMP").is_ok() {
        eprintln!(
            "{:?}",
            lat.iter().map(|d| ms(*d) as u32).collect::<Vec<_>>()
        );
    }
    // Let deferred frees finish so they are counted.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let cpu = cpu_time().saturating_sub(cpu0) / lat.len() as u32;
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
    Stats {
        cpu,
        p50: pct(0.50),
        p99: pct(0.99),
        mean: lat.iter().sum::<Duration>() / lat.len() as u32,
        rps: lat.len() as f64 / elapsed.as_secs_f64(),
        bytes,
    }
}

/// User + system CPU time of this process (Linux `/proc/self/stat`, 100 Hz ticks).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesized command name; utime and stime are 14th and 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let only = std::env::args().nth(2);
    println!(
        "{} cores; {n} requests per row; standard adjusters, max clock skew 1s; allocator: mimalloc",
        std::thread::available_parallelism().map_or(1, |p| p.get()),
    );
    if only.as_deref().is_none_or(|o| o == "memory") {
        let store = MemoryStore::new(100);
        run("memory", store.clone(), store, n, true).await;
    }
    if only.as_deref().is_none_or(|o| o == "embedded") {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = EmbeddedStore::open(EmbeddedStoreConfig::new(dir.path())).expect("open");
        run("embedded", store.clone(), store, n, false).await;
    }
}

async fn run<S>(name: &str, writer: Arc<S>, store: Arc<S>, n: usize, all_rows: bool)
where
    S: SpanWriter + SpanReader + DependencyStore + 'static,
{
    let small = TraceId::from_u64s(0, 0x1000);
    let large = TraceId::from_u64s(0, 0x10000);
    for (id, spans) in [(small, 1_000), (large, 10_000)] {
        writer
            .write_spans(trace(id, spans))
            .await
            .expect("storage write");
    }
    let mut state = QueryState::new(store.clone(), store);
    state.adjusters = standard_adjusters(Duration::from_secs(1));
    let r = router(state);

    println!("\n{name} store");
    println!(
        "{:<44} {:>6} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8} {:>11}",
        "route",
        "spans",
        "cpu ms",
        "req/s/core",
        "p50 ms",
        "p99 ms",
        "mean ms",
        "req/s",
        "body bytes"
    );
    for (id, spans) in [(small, 1_000), (large, 10_000)] {
        let hex = id.to_hex();
        let mut rows: Vec<(String, usize, Option<&'static str>)> = vec![
            (format!("/api/traces/{hex}"), 1, None),
            (format!("/api/traces/{hex}"), 2, None),
            (format!("/api/traces/{hex}?raw=true"), 1, None),
        ];
        if all_rows {
            rows.extend([
                (format!("/api/v3/traces/{hex}"), 1, None),
                (format!("/api/traces/{hex}"), 1, Some("gzip")),
                (format!("/api/traces/{hex}"), 1, Some("br")),
            ]);
        }
        // `TBI_ROW="10000 /api/traces/{id}"` runs only that row (spans and label), e.g. to profile it.
        let filter = std::env::var("TBI_ROW").unwrap_or_default();
        for (uri, conc, encoding) in rows {
            let label = format!(
                "{}{}{}",
                uri.replace(&hex, "{id}"),
                if conc > 1 { " (2 clients)" } else { "" },
                encoding.map(|e| format!(" ({e})")).unwrap_or_default()
            );
            if !filter.is_empty() && format!("{spans} {label}") != filter {
                continue;
            }
            let count = if spans > 1_000 { n.max(100) } else { n * 5 };
            let s = measure(&r, &uri, count, conc, encoding).await;
            println!(
                "{label:<44} {spans:>6} {:>8.2} {:>10.1} {:>8.2} {:>8.2} {:>8.2} {:>8.1} {:>11}",
                ms(s.cpu),
                1000.0 / ms(s.cpu).max(0.01),
                ms(s.p50),
                ms(s.p99),
                ms(s.mean),
                s.rps,
                s.bytes
            );
        }
    }
}
