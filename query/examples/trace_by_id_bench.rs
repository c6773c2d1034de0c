//! Latency and throughput of `GET /api/traces/{id}` (and friends) for 1,000- and
//! 10,000-span traces, through the whole router in-process: MemoryStore read, the
//! standard adjusters (clock skew on, so spans really move), UI-model conversion and
//! JSON encoding. Target: a 10,000-span trace under 50 ms at p99.
//!
//! ```text
//! cargo run --release -p jaeger-query --example trace_by_id_bench [-- <requests>]
//! cargo run --release -p jaeger-query --features mimalloc --example trace_by_id_bench
//! ```
//!
//! The second form swaps the system allocator for mimalloc, to show how much of the
//! time is allocation (the binary decides its allocator, not this crate).

#[cfg(feature = "mimalloc")]
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
use jaeger_storage::SpanWriter;
use jaeger_storage::memory::MemoryStore;
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
    p50: Duration,
    p99: Duration,
    mean: Duration,
    rps: f64,
    bytes: usize,
}

async fn one(r: &Router, uri: &str, gzip: bool) -> (Duration, usize) {
    let mut req = Request::builder().uri(uri);
    if gzip {
        req = req.header("accept-encoding", "gzip");
    }
    let req = req.body(Body::empty()).expect("a valid request");
    let t = Instant::now();
    let resp = r.clone().oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK, "{uri}");
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (t.elapsed(), body.len())
}

/// `n` requests by `concurrency` clients; latency per request, rate over the wall clock.
async fn measure(r: &Router, uri: &str, n: usize, concurrency: usize, gzip: bool) -> Stats {
    for _ in 0..3 {
        one(r, uri, gzip).await;
    }
    let wall = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let r = r.clone();
        let uri = uri.to_string();
        let count = n / concurrency + usize::from(c < n % concurrency);
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                out.push(one(&r, &uri, gzip).await);
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
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
    Stats {
        p50: pct(0.50),
        p99: pct(0.99),
        mean: lat.iter().sum::<Duration>() / lat.len() as u32,
        rps: lat.len() as f64 / elapsed.as_secs_f64(),
        bytes,
    }
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
    let store = MemoryStore::new(100);
    let small = TraceId::from_u64s(0, 0x1000);
    let large = TraceId::from_u64s(0, 0x10000);
    store
        .write_spans(trace(small, 1_000))
        .await
        .expect("memory write");
    store
        .write_spans(trace(large, 10_000))
        .await
        .expect("memory write");
    let mut state = QueryState::new(store.clone(), store.clone());
    state.adjusters = standard_adjusters(Duration::from_secs(1));
    let r = router(state);

    // Sanity: the adjusters ran (skewed spans carry a warning).
    let (_, _) = one(&r, &format!("/api/traces/{}", small.to_hex()), false).await;
    println!(
        "{} cores; {n} requests per row; standard adjusters, max clock skew 1s; allocator: {}",
        std::thread::available_parallelism().map_or(1, |p| p.get()),
        if cfg!(feature = "mimalloc") {
            "mimalloc"
        } else {
            "system"
        }
    );
    println!(
        "{:<44} {:>6} {:>9} {:>9} {:>9} {:>9} {:>11}",
        "route", "spans", "p50 ms", "p99 ms", "mean ms", "req/s", "body bytes"
    );
    for (id, spans) in [(small, 1_000), (large, 10_000)] {
        let hex = id.to_hex();
        let rows: [(String, usize, bool); 5] = [
            (format!("/api/traces/{hex}"), 1, false),
            (format!("/api/traces/{hex}"), 2, false),
            (format!("/api/traces/{hex}?raw=true"), 1, false),
            (format!("/api/v3/traces/{hex}"), 1, false),
            (format!("/api/traces/{hex}"), 1, true),
        ];
        for (uri, conc, gzip) in rows {
            let count = if spans > 1_000 { n.max(100) } else { n * 5 };
            let s = measure(&r, &uri, count, conc, gzip).await;
            let label = format!(
                "{}{}{}",
                uri.replace(&hex, "{id}"),
                if conc > 1 { " (2 clients)" } else { "" },
                if gzip { " (gzip)" } else { "" }
            );
            println!(
                "{label:<44} {spans:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.1} {:>11}",
                ms(s.p50),
                ms(s.p99),
                ms(s.mean),
                s.rps,
                s.bytes
            );
        }
    }
}
