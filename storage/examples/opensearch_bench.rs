//! Load test of the Elasticsearch / OpenSearch backend against a real node: bulk-write
//! rate through our writer, then search and trace-by-id latency.
//!
//! ```text
//! JAEGER_TEST_OPENSEARCH=http://127.0.0.1:9200 \
//!   cargo run --release -p jaeger-storage --example opensearch_bench -- [SPANS]
//! ```
//!
//! Synthetic traces of 10 spans over 3-5 of 20 services (each service has 10 of 50
//! operation names), 11-12 attributes per span (http.*, user.id, request.id, ...), a log
//! on one span in five, spread evenly over the last `BENCH_WINDOW_SECS` (7200). Batches
//! of 1000 spans (whole traces) go through `EsStore::write_spans`, `BENCH_CONCURRENCY`
//! (4) batches in flight, Jaeger's default index settings except `BENCH_SHARDS` (5) and
//! no replica (one node). Generating spans is not timed; "per core" divides by this
//! process's CPU time spent while writing (and, with `BENCH_SERVER_PID`, the server's).
//!
//! Searches ask for 20 traces (the UI's default) over the whole window, ending at the
//! moment of the query so that no two request bodies are equal (OpenSearch's request cache
//! would otherwise answer repeats); the request cache is also cleared before each kind.
//! Each search is timed twice: trace ids only (the `_search` aggregation) and the full
//! `find_traces` (aggregation + `_msearch` of the 20 traces) as the UI waits for it.
//!
//! Other settings: `BENCH_PREFIX` (index prefix, default `bench`), `BENCH_QUERIES` (200
//! per kind), `BENCH_SKIP_WRITE=1` with `BENCH_BASE_NS` (printed by a previous run) to
//! query indices written before, `BENCH_KEEP=1` to keep the indices afterwards.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use jaeger_model::TraceId;
use jaeger_model::otlp::trace::span::SpanKind;
use jaeger_model::otlp::trace::status::StatusCode;
use jaeger_model::otlp::{
    Event, KeyValue, Resource, ResourceSpans, ScopeSpans, Span, Status, Value,
};
use jaeger_model::testing::Rng;
use jaeger_model::trace::kv;
use jaeger_storage::elasticsearch::{EsConfig, EsStore, IndexSettings, Method};
use jaeger_storage::{GetTraceParams, SpanReader, SpanWriter, TraceQuery};

const BATCH: usize = 1000;
const SPANS_PER_TRACE: usize = 10;
const SERVICES: usize = 20;
const OPS: usize = 50;
const OPS_PER_SERVICE: u64 = 10;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn s(k: &str, v: impl Into<String>) -> KeyValue {
    kv(k, Value::StringValue(v.into()))
}

fn service(i: usize) -> String {
    format!("service-{i:02}")
}

fn operation(svc: usize, r: &mut Rng) -> String {
    let i = (svc as u64 * 7 + r.below(OPS_PER_SERVICE)) % OPS as u64;
    let verb = ["GET", "POST", "PUT", "DELETE", "PATCH"][(i % 5) as usize];
    format!("{verb} /api/v1/resource-{:02}", i / 5)
}

/// A sampled (service, operation, user.id) of a generated span, for the searches.
struct Sample {
    service: String,
    operation: String,
    user: String,
}

struct Generator {
    rng: Rng,
    next_trace: u64,
    base_ns: u64,
    step_ns: u64,
}

impl Generator {
    fn trace(&mut self, samples: &mut Vec<Sample>) -> (TraceId, Vec<ResourceSpans>) {
        let r = &mut self.rng;
        self.next_trace += 1;
        let id = TraceId::from_u64s(r.next_u64(), r.next_u64());
        let start = self.base_ns + self.next_trace * self.step_ns;
        let mut services = vec![r.below(4) as usize];
        while services.len() < 3 + r.below(3) as usize {
            let s = r.below(SERVICES as u64) as usize;
            if !services.contains(&s) {
                services.push(s);
            }
        }
        let request_id = format!("{:016x}", r.next_u64());
        let user = format!("user-{}", r.below(10_000));
        let mut by_service: Vec<(usize, Vec<Span>)> = Vec::new();
        let mut ids: Vec<Vec<u8>> = Vec::new();
        for i in 0..SPANS_PER_TRACE {
            let svc = if i == 0 {
                services[0]
            } else {
                services[r.below(services.len() as u64) as usize]
            };
            let op = operation(svc, r);
            let span_id = r.next_u64().to_be_bytes().to_vec();
            let parent = if i == 0 {
                Vec::new()
            } else {
                ids[r.below(ids.len() as u64) as usize].clone()
            };
            ids.push(span_id.clone());
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
                s("http.method", op.split(' ').next().unwrap_or("GET")),
                s("http.route", op.split(' ').nth(1).unwrap_or("/")),
                kv("http.status_code", Value::IntValue(status)),
                s(
                    "http.url",
                    format!(
                        "https://shop.example.com{}/{}",
                        op.split(' ').nth(1).unwrap_or("/"),
                        r.below(1_000_000)
                    ),
                ),
                s(
                    "peer.service",
                    service(services[r.below(services.len() as u64) as usize]),
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
                name: op.clone(),
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
            if i == SPANS_PER_TRACE - 1 && id.low().is_multiple_of(41) {
                samples.push(Sample {
                    service: service(svc),
                    operation: op,
                    user: user.clone(),
                });
            }
            match by_service.iter_mut().find(|(s, _)| *s == svc) {
                Some((_, v)) => v.push(span),
                None => by_service.push((svc, vec![span])),
            }
        }
        let rs = by_service
            .into_iter()
            .map(|(svc, spans)| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        s("service.name", service(svc)),
                        s("host.name", format!("{}-{}", service(svc), r.below(3))),
                        s("service.version", "1.4.2"),
                        s("telemetry.sdk.language", "go"),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                schema_url: String::new(),
            })
            .collect();
        (id, rs)
    }
}

/// CPU time (user + system) of a process from /proc, in seconds.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields after the command: state is 0, utime is 11, stime is 12.
    (ticks(11) + ticks(12)) / 100.0
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as u64
}

fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().take(3).collect();
            format!("load average {}", f.join(", "))
        })
        .unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let url = std::env::var("JAEGER_TEST_OPENSEARCH").expect("JAEGER_TEST_OPENSEARCH=http://…");
    let prefix: String = env("BENCH_PREFIX", "bench".to_string());
    let shards: u32 = env("BENCH_SHARDS", 5);
    let concurrency: usize = env("BENCH_CONCURRENCY", 4);
    let queries: usize = env("BENCH_QUERIES", 200);
    let window_ns: u64 = env("BENCH_WINDOW_SECS", 7200u64) * 1_000_000_000;
    let skip_write = std::env::var_os("BENCH_SKIP_WRITE").is_some();
    let server_pid: Option<String> = std::env::var("BENCH_SERVER_PID").ok();
    let self_pid = std::process::id().to_string();

    let settings = IndexSettings {
        shards,
        replicas: 0,
        priority: 0,
    };
    let store = EsStore::open(EsConfig {
        server_urls: vec![url.clone()],
        opensearch: true,
        index_prefix: prefix.clone(),
        spans: settings.clone(),
        services: settings,
        ..Default::default()
    })
    .await
    .expect("open the store");
    let client = store.client().clone();

    let traces = total / SPANS_PER_TRACE;
    // Traces spread evenly over the window, which ends a minute ago.
    let base_ns: u64 = env("BENCH_BASE_NS", now_ns() - window_ns - 60_000_000_000);
    println!("BENCH_BASE_NS={base_ns} prefix {prefix} shards {shards} concurrency {concurrency}");
    let mut g = Generator {
        rng: Rng(0x9e37_79b9_7f4a_7c15),
        next_trace: 0,
        base_ns,
        step_ns: window_ns / traces.max(1) as u64,
    };
    let mut trace_ids = Vec::with_capacity(traces);
    let mut samples = Vec::new();
    let (mut written, mut write_time, mut cpu, mut server_cpu) = (0usize, Duration::ZERO, 0.0, 0.0);
    let load_before = uptime();
    while trace_ids.len() < traces {
        // Generate a slab of batches (not timed), then write them.
        let mut slab: Vec<Vec<ResourceSpans>> = Vec::new();
        while slab.len() < 20 && trace_ids.len() < traces {
            let mut batch = Vec::new();
            for _ in 0..BATCH / SPANS_PER_TRACE {
                if trace_ids.len() >= traces {
                    break;
                }
                let (id, rs) = g.trace(&mut samples);
                trace_ids.push(id);
                batch.extend(rs);
            }
            slab.push(batch);
        }
        if skip_write {
            continue;
        }
        let n: usize = slab
            .iter()
            .flatten()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        let (c0, s0, t0) = (
            cpu_seconds(&self_pid),
            server_pid.as_deref().map(cpu_seconds).unwrap_or(0.0),
            Instant::now(),
        );
        let results: Vec<_> = futures::stream::iter(slab)
            .map(|b| store.write_spans(b))
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for r in results {
            r.expect("bulk write");
        }
        write_time += t0.elapsed();
        cpu += cpu_seconds(&self_pid) - c0;
        server_cpu += server_pid.as_deref().map(cpu_seconds).unwrap_or(0.0) - s0;
        written += n;
        if written % 100_000 < n {
            eprintln!(
                "  {written} spans written, {:.0} s",
                write_time.as_secs_f64()
            );
        }
    }
    let spans_pattern = format!("{}-jaeger-span-*", prefix);
    client
        .json(
            Method::Post,
            &format!("/{prefix}-jaeger-*/_refresh"),
            &[],
            None,
        )
        .await
        .expect("refresh");
    let count = client
        .json(Method::Get, &format!("/{spans_pattern}/_count"), &[], None)
        .await
        .expect("count");
    let stats = client
        .json(
            Method::Get,
            &format!("/{spans_pattern}/_stats/store"),
            &[],
            None,
        )
        .await
        .expect("stats");
    let docs = count["count"].as_u64().unwrap_or(0);
    let bytes = stats["_all"]["primaries"]["store"]["size_in_bytes"]
        .as_u64()
        .unwrap_or(0);
    println!(
        "{docs} span documents, {:.0} MiB on disk ({:.0} B/span); {uptime}",
        bytes as f64 / 1048576.0,
        bytes as f64 / docs.max(1) as f64,
        uptime = uptime()
    );
    if !skip_write {
        println!(
            "bulk write: {written} spans in {:.1} s = {:.0} spans/s wall; our CPU {:.1} s = {:.0} spans/s per core{}; before: {load_before}",
            write_time.as_secs_f64(),
            written as f64 / write_time.as_secs_f64(),
            cpu,
            written as f64 / cpu.max(1e-9),
            if server_pid.is_some() {
                format!(
                    "; server CPU {server_cpu:.1} s = {:.0} spans/s per server core",
                    written as f64 / server_cpu.max(1e-9)
                )
            } else {
                String::new()
            }
        );
    }

    let mut rng = Rng(42);
    let pick = |rng: &mut Rng| &samples[rng.below(samples.len() as u64) as usize];
    let query = |svc: &str| TraceQuery {
        service_name: Some(svc.to_string()),
        num_traces: 20,
        ..Default::default()
    };
    let mut kinds: Vec<(&str, Vec<TraceQuery>)> = Vec::new();
    kinds.push((
        "service",
        (0..queries)
            .map(|_| query(&pick(&mut rng).service))
            .collect(),
    ));
    kinds.push((
        "service+operation",
        (0..queries)
            .map(|_| {
                let s = pick(&mut rng);
                TraceQuery {
                    operation_name: Some(s.operation.clone()),
                    ..query(&s.service)
                }
            })
            .collect(),
    ));
    kinds.push((
        "service+tag user.id (rare)",
        (0..queries)
            .map(|_| {
                let s = pick(&mut rng);
                TraceQuery {
                    tags: vec![("user.id".into(), s.user.clone())],
                    ..query(&s.service)
                }
            })
            .collect(),
    ));
    kinds.push((
        "service+tag http.status_code=500",
        (0..queries)
            .map(|_| TraceQuery {
                tags: vec![("http.status_code".into(), "500".into())],
                ..query(&pick(&mut rng).service)
            })
            .collect(),
    ));
    kinds.push((
        "service+minDuration 15ms",
        (0..queries)
            .map(|_| TraceQuery {
                duration_min: Some(15_000_000),
                ..query(&pick(&mut rng).service)
            })
            .collect(),
    ));
    let clear_cache = || async {
        let _ = client
            .json(
                Method::Post,
                &format!("/{spans_pattern}/_cache/clear"),
                &[("request", "true".into())],
                None,
            )
            .await;
    };
    println!(
        "searches (20 traces over the last {} s):",
        window_ns / 1_000_000_000 + 60
    );
    for (label, qs) in kinds {
        clear_cache().await;
        let (mut ids_lat, mut full_lat, mut found) = (Vec::new(), Vec::new(), 0usize);
        for mut q in qs {
            let end = now_ns();
            q.start_time_max = end;
            q.start_time_min = base_ns - 60_000_000_000;
            let t0 = Instant::now();
            let ids = store.find_trace_ids(&q).await.expect("search ids");
            ids_lat.push(t0.elapsed());
            q.start_time_max = now_ns();
            let t0 = Instant::now();
            let r = store.find_traces(&q).await.expect("search");
            full_lat.push(t0.elapsed());
            assert_eq!(r.len(), ids.len(), "every found trace is fetched");
            found += r.len();
        }
        println!(
            "  {label:<34} ids p50 {:>9} p99 {:>9} | find_traces p50 {:>9} p99 {:>9} ({:.1} traces/query)",
            ms(pct(&mut ids_lat, 0.5)),
            ms(pct(&mut ids_lat, 0.99)),
            ms(pct(&mut full_lat, 0.5)),
            ms(pct(&mut full_lat, 0.99)),
            found as f64 / full_lat.len().max(1) as f64
        );
    }
    clear_cache().await;
    let mut by_id = Vec::new();
    for _ in 0..queries {
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
            .expect("the trace exists");
        by_id.push(t0.elapsed());
        assert_eq!(t.span_count(), SPANS_PER_TRACE, "trace {id} complete");
    }
    println!(
        "  trace by id (72h lookback)         p50 {:>9} p99 {:>9}; {}",
        ms(pct(&mut by_id, 0.5)),
        ms(pct(&mut by_id, 0.99)),
        uptime()
    );
    if std::env::var_os("BENCH_KEEP").is_none() {
        jaeger_storage::conformance::opensearch_cleanup(&client, &prefix).await;
    }
}
