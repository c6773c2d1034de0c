//! Load test of the embedded store: ingest rate, trace-by-id and search latency, bytes
//! on disk per span.
//!
//! ```text
//! cargo run --release -p jaeger-storage --example embedded_bench -- [SPANS] [trace|service|both]
//! ```
//!
//! Synthetic spans of ~400 bytes (OTLP protobuf) with 10 attributes, traces of 10 spans
//! over 3-4 of 8 services, batches of 1000 spans. Two batch layouts:
//! - `trace`: each batch holds 100 whole traces (a collector batching after tail sampling);
//! - `service`: each batch holds the spans of one service only (SDKs exporting directly),
//!   so the spans of one trace arrive in 3-4 batches and chunks are small.
//!
//! Only the `write_spans` calls are timed for ingest; generating spans is not. CPU time is
//! the process's (writer and fjall's background threads) over the same intervals.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jaeger_model::TraceId;
use jaeger_model::otlp::trace::span::SpanKind;
use jaeger_model::otlp::trace::status::StatusCode;
use jaeger_model::otlp::{
    Event, KeyValue, Resource, ResourceSpans, ScopeSpans, Span, Status, Value,
};
use jaeger_model::testing::Rng;
use jaeger_model::trace::kv;
use jaeger_storage::embedded::{EmbeddedStore, EmbeddedStoreConfig};
use jaeger_storage::{GetTraceParams, SpanReader, SpanWriter, TraceQuery};
use prost::Message;

const BATCH: usize = 1000;
const SPANS_PER_TRACE: usize = 10;
const SERVICES: [&str; 8] = [
    "frontend", "cart", "checkout", "payment", "shipping", "catalog", "users", "email",
];
const OPS: [&str; 8] = [
    "list", "get", "create", "update", "delete", "search", "render", "notify",
];

fn s(k: &str, v: impl Into<String>) -> KeyValue {
    kv(k, Value::StringValue(v.into()))
}

fn resource(service: &str, host: u64) -> Resource {
    Resource {
        attributes: vec![
            s("service.name", service),
            s("host.name", format!("{service}-{host}")),
            s("service.version", "1.4.2"),
            s("telemetry.sdk.language", "go"),
            kv("process.pid", Value::IntValue(1000 + host as i64)),
        ],
        ..Default::default()
    }
}

struct Generator {
    rng: Rng,
    next_trace: u64,
    base_ns: u64,
}

struct GenTrace {
    id: TraceId,
    /// (service index, span)
    spans: Vec<(usize, Span)>,
}

impl Generator {
    fn trace(&mut self) -> GenTrace {
        let r = &mut self.rng;
        self.next_trace += 1;
        let id = TraceId::from_u64s(r.next_u64(), r.next_u64());
        // Traces start 1 ms apart: 1M spans cover 100 s of span time.
        let start = self.base_ns + self.next_trace * 1_000_000;
        let mut services = vec![0usize];
        while services.len() < 3 + r.below(2) as usize {
            let s = 1 + r.below(SERVICES.len() as u64 - 1) as usize;
            if !services.contains(&s) {
                services.push(s);
            }
        }
        let request_id = format!("{:016x}", r.next_u64());
        let user = format!("user-{}", r.below(10_000));
        let mut spans = Vec::with_capacity(SPANS_PER_TRACE);
        let mut ids: Vec<Vec<u8>> = Vec::new();
        for i in 0..SPANS_PER_TRACE {
            let svc = if i == 0 {
                0
            } else {
                services[r.below(services.len() as u64) as usize]
            };
            let op = OPS[r.below(OPS.len() as u64) as usize];
            let span_id = r.next_u64().to_be_bytes().to_vec();
            let parent = if i == 0 {
                Vec::new()
            } else {
                ids[r.below(ids.len() as u64) as usize].clone()
            };
            ids.push(span_id.clone());
            let method = ["GET", "GET", "GET", "POST", "PUT", "DELETE"][r.below(6) as usize];
            let status = if r.below(50) == 0 {
                500
            } else if r.below(20) == 0 {
                404
            } else {
                200
            };
            let st = start + i as u64 * 100_000 + r.below(50_000);
            let dur = 50_000 + r.below(20_000_000);
            let mut attrs = vec![
                s("http.method", method),
                s("http.route", format!("/api/v1/{op}")),
                kv("http.status_code", Value::IntValue(status)),
                s(
                    "http.url",
                    format!(
                        "https://shop.example.com/api/v1/{op}/{}",
                        r.below(1_000_000)
                    ),
                ),
                s(
                    "net.peer.name",
                    SERVICES[services[r.below(services.len() as u64) as usize]],
                ),
                s("user.id", user.clone()),
                s("request.id", request_id.clone()),
                kv("thread.id", Value::IntValue(1 + r.below(64) as i64)),
                s("component", ["http", "grpc", "db"][r.below(3) as usize]),
            ];
            if r.below(3) == 0 {
                attrs.push(s("db.statement", "SELECT * FROM items WHERE id = ?"));
            } else {
                attrs.push(s("rpc.system", "grpc"));
            }
            let mut span = Span {
                trace_id: id.0.to_vec(),
                span_id,
                parent_span_id: parent,
                name: format!("{} {op}", SERVICES[svc]),
                kind: if i % 2 == 0 {
                    SpanKind::Server
                } else {
                    SpanKind::Client
                } as i32,
                start_time_unix_nano: st,
                end_time_unix_nano: st + dur,
                attributes: attrs,
                ..Default::default()
            };
            if status == 500 {
                span.status = Some(Status {
                    code: StatusCode::Error as i32,
                    message: "internal error".into(),
                });
            }
            if r.below(5) == 0 {
                span.events.push(Event {
                    time_unix_nano: st + 1000,
                    name: "cache miss".into(),
                    attributes: vec![s("cache.key", format!("item:{}", r.below(100_000)))],
                    ..Default::default()
                });
            }
            spans.push((svc, span));
        }
        GenTrace { id, spans }
    }
}

fn to_batch(spans: Vec<(usize, Span)>) -> Vec<ResourceSpans> {
    let mut by_service: HashMap<usize, Vec<Span>> = HashMap::new();
    for (svc, span) in spans {
        by_service.entry(svc).or_default().push(span);
    }
    let mut keys: Vec<usize> = by_service.keys().copied().collect();
    keys.sort();
    keys.into_iter()
        .map(|svc| ResourceSpans {
            resource: Some(resource(SERVICES[svc], svc as u64 % 3)),
            scope_spans: vec![ScopeSpans {
                spans: by_service.remove(&svc).unwrap_or_default(),
                ..Default::default()
            }],
            schema_url: String::new(),
        })
        .collect()
}

/// Process CPU time (user + system) from /proc, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields after the command: state is 0, utime is 11, stime is 12.
    (ticks(11) + ticks(12)) / 100.0
}

fn dir_size(p: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                total += dir_size(&e.path());
            } else {
                total += md.len();
            }
        }
    }
    total
}

/// Bytes of the fjall journal files (`*.jnl`): a bounded, fixed-size overhead.
fn journal_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "jnl"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

async fn run(total: usize, layout: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(EmbeddedStoreConfig::new(dir.path())).expect("open");
    let base_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as u64
        - 3_600_000_000_000;
    let mut g = Generator {
        rng: Rng(0x9e37_79b9_7f4a_7c15),
        next_trace: 0,
        base_ns,
    };

    let mut trace_ids = Vec::new();
    let mut samples: Vec<(String, String, String, String)> = Vec::new();
    let mut pending: HashMap<usize, Vec<(usize, Span)>> = HashMap::new();
    let mut written = 0usize;
    let mut encoded_bytes = 0usize;
    let mut write_time = Duration::ZERO;
    let mut write_cpu = 0.0;
    let mut generated = 0usize;

    while written < total {
        // Generate a slab of batches, then write them (only the writes are timed).
        let mut batches: Vec<Vec<ResourceSpans>> = Vec::new();
        while batches.len() < 50 && generated < total {
            let mut slab: Vec<(usize, Span)> = Vec::with_capacity(BATCH);
            while slab.len() < BATCH && generated < total {
                let t = g.trace();
                trace_ids.push(t.id);
                if t.id.low().is_multiple_of(97) {
                    let (svc, sp) = &t.spans[t.spans.len() - 1];
                    let user = sp
                        .attributes
                        .iter()
                        .find(|a| a.key == "user.id")
                        .and_then(|a| a.value.as_ref())
                        .and_then(|v| match &v.value {
                            Some(Value::StringValue(s)) => Some(s.clone()),
                            _ => None,
                        })
                        .unwrap_or_default();
                    samples.push((
                        SERVICES[*svc].to_string(),
                        sp.name.clone(),
                        "user.id".into(),
                        user,
                    ));
                }
                generated += t.spans.len();
                match layout {
                    "trace" => slab.extend(t.spans),
                    _ => {
                        for (svc, span) in t.spans {
                            let buf = pending.entry(svc).or_default();
                            buf.push((svc, span));
                            if buf.len() >= BATCH {
                                batches.push(to_batch(std::mem::take(buf)));
                            }
                        }
                    }
                }
            }
            if layout == "trace" {
                batches.push(to_batch(slab));
            } else if generated >= total {
                for (_, buf) in pending.drain() {
                    if !buf.is_empty() {
                        batches.push(to_batch(buf));
                    }
                }
            }
        }
        for b in batches {
            let n: usize = b
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum();
            encoded_bytes += b.iter().map(|r| r.encoded_len()).sum::<usize>();
            let c0 = cpu_seconds();
            let t0 = Instant::now();
            store.write_spans(b).await.expect("write");
            write_time += t0.elapsed();
            write_cpu += cpu_seconds() - c0;
            written += n;
        }
    }

    if std::env::var_os("BENCH_INGEST_ONLY").is_some() {
        println!(
            "{layout}: {written} spans, {:.0} spans/s wall, {:.0} spans per CPU-second",
            written as f64 / write_time.as_secs_f64(),
            written as f64 / write_cpu.max(1e-9)
        );
        return;
    }
    let flush_store = store.clone();
    tokio::task::spawn_blocking(move || flush_store.flush())
        .await
        .expect("flush task")
        .expect("flush");
    // Let background compaction settle (BENCH_SETTLE_SECS, default 2).
    let settle = std::env::var("BENCH_SETTLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    tokio::time::sleep(Duration::from_secs(settle)).await;
    let disk = dir_size(dir.path());
    let journal = journal_size(dir.path());
    if std::env::var_os("BENCH_DU").is_some() {
        let _ = std::process::Command::new("du")
            .arg("-ab")
            .arg(dir.path())
            .status();
    }

    // Trace by id.
    let mut rng = Rng(42);
    let mut by_id = Vec::new();
    for _ in 0..2000 {
        let id = trace_ids[rng.below(trace_ids.len() as u64) as usize];
        let t0 = Instant::now();
        let t = store
            .get_trace(GetTraceParams {
                trace_id: id,
                start: None,
                end: None,
            })
            .await
            .expect("get trace")
            .expect("trace exists");
        by_id.push(t0.elapsed());
        assert_eq!(t.span_count(), SPANS_PER_TRACE, "trace {id} complete");
    }

    let window = (base_ns, base_ns + 7_200_000_000_000);
    let search = |svc: &str, op: Option<&str>, tag: Option<(&str, &str)>| TraceQuery {
        service_name: Some(svc.to_string()),
        operation_name: op.map(str::to_string),
        tags: tag
            .map(|(k, v)| vec![(k.to_string(), v.to_string())])
            .unwrap_or_default(),
        start_time_min: window.0,
        start_time_max: window.1,
        num_traces: 20,
        ..Default::default()
    };
    let timed = |label: &str, queries: Vec<TraceQuery>, store: &Arc<EmbeddedStore>| {
        let store = store.clone();
        let label = label.to_string();
        async move {
            let mut lat = Vec::new();
            let mut found = 0usize;
            for q in &queries {
                let t0 = Instant::now();
                let r = store.find_traces(q).await.expect("search");
                lat.push(t0.elapsed());
                found += r.len();
            }
            println!(
                "  search {label:<38} p50 {:>10}  p99 {:>10}  ({} queries, {:.1} traces/query)",
                ms(pct(&mut lat, 0.5)),
                ms(pct(&mut lat, 0.99)),
                queries.len(),
                found as f64 / queries.len().max(1) as f64
            );
        }
    };

    println!(
        "layout `{layout}`: {written} spans, avg {} B/span as OTLP protobuf",
        encoded_bytes / written.max(1)
    );
    println!(
        "  ingest: {:.0} spans/s wall, {:.0} spans per CPU-second ({:.1} s wall, {:.1} s CPU in write_spans)",
        written as f64 / write_time.as_secs_f64(),
        written as f64 / write_cpu.max(1e-9),
        write_time.as_secs_f64(),
        write_cpu
    );
    println!(
        "  disk: {} bytes, {:.1} B/span (after flush); without the journal ({} MiB, bounded): {:.1} B/span",
        disk,
        disk as f64 / written as f64,
        journal / (1024 * 1024),
        (disk - journal) as f64 / written as f64
    );
    println!(
        "  trace by id: p50 {}  p99 {}",
        ms(pct(&mut by_id, 0.5)),
        ms(pct(&mut by_id, 0.99))
    );

    let n = samples.len().min(200);
    // Service + operation + one rare tag (a user id: ~10 traces in 100k).
    let rare: Vec<TraceQuery> = samples[..n]
        .iter()
        .map(|(svc, op, k, v)| search(svc, Some(op), Some((k, v))))
        .collect();
    timed("service+operation+user.id (rare)", rare, &store).await;
    // Service + operation + one common tag.
    let common: Vec<TraceQuery> = samples[..n]
        .iter()
        .map(|(svc, op, _, _)| search(svc, Some(op), Some(("http.method", "GET"))))
        .collect();
    timed("service+operation+http.method=GET", common, &store).await;
    // Service + operation + a tag that matches nothing (full scan of the window).
    let none: Vec<TraceQuery> = samples[..n.min(50)]
        .iter()
        .map(|(svc, op, _, _)| search(svc, Some(op), Some(("user.id", "nobody"))))
        .collect();
    timed("service+operation+tag, no match", none, &store).await;
    let svc_only: Vec<TraceQuery> = SERVICES.iter().map(|s| search(s, None, None)).collect();
    timed("service only", svc_only, &store).await;
    let mut all = search("frontend", None, Some(("http.status_code", "500")));
    all.service_name = None;
    timed("no service, http.status_code=500", vec![all; 20], &store).await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let layout = args.next().unwrap_or_else(|| "both".into());
    for l in ["trace", "service"] {
        if layout == l || layout == "both" {
            run(total, l).await;
        }
    }
}
