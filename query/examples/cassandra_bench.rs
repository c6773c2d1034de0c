//! Cassandra backend under load (issue #8): spans/s written to a real Cassandra through
//! the collector's storage writer, the CPU that costs our process versus Cassandra's
//! (which of the two is the bottleneck), the writes per span the server counted
//! against Jaeger's layout, then trace-by-id and search latency through the query
//! service's HTTP router (in-process, `tower::oneshot`) on the loaded keyspace.
//!
//! ```text
//! eval "$(tests/servers/cassandra/start.sh)"
//! CARGO_TARGET_DIR=/var/cache/jaeger-rs/fuzz-target cargo run --release -p jaeger-query \
//!   --example cassandra_bench -- [SPANS] [MAX_WRITE_SECONDS]
//! ```
//!
//! Defaults: 1,000,000 spans, stopping early after 900 s of writing (the figures say how
//! many were written). Spans: 7 attributes, 2 process tags besides the service name and
//! a span kind, so Jaeger's writer indexes 10 tags per span; traces of 10 spans over
//! 3-4 of 8 services, batches of
//! 1000 spans written by `CONCURRENCY` (default 2, the queue's default writers)
//! concurrent `write_spans` calls. Cassandra's CPU is read from `/proc/<pid>/stat` of
//! `$JAEGER_TEST_CASSANDRA_DIR/pid`; per-table writes from its
//! `system_views.local_write_latency` counters.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use jaeger_model::otlp::trace::span::SpanKind;
use jaeger_model::otlp::{KeyValue, Resource, ResourceSpans, ScopeSpans, Span, Value};
use jaeger_model::testing::Rng;
use jaeger_model::trace::kv;
use jaeger_query::{QueryState, router, standard_adjusters};
use jaeger_storage::SpanWriter;
use jaeger_storage::cassandra::{CassandraConfig, CassandraStore, SchemaOptions};
use tower::ServiceExt;

const BATCH_TRACES: usize = 100;
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

fn resource(service: &str) -> Resource {
    Resource {
        attributes: vec![
            s("service.name", service),
            s("host.name", format!("{service}-1")),
            s("service.version", "1.4.2"),
        ],
        ..Default::default()
    }
}

/// One batch of `BATCH_TRACES` traces; returns the trace ids too.
fn batch(r: &mut Rng, start_ns: u64) -> (Vec<ResourceSpans>, Vec<[u8; 16]>) {
    let mut by_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES.len()];
    let mut ids = Vec::with_capacity(BATCH_TRACES);
    for t in 0..BATCH_TRACES {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&r.next_u64().to_be_bytes());
        id[8..].copy_from_slice(&r.next_u64().to_be_bytes());
        ids.push(id);
        let start = start_ns + t as u64 * 10_000_000;
        let mut services = vec![0usize];
        while services.len() < 3 + r.below(2) as usize {
            let x = 1 + r.below(SERVICES.len() as u64 - 1) as usize;
            if !services.contains(&x) {
                services.push(x);
            }
        }
        let user = format!("user-{}", r.below(10_000));
        let mut span_ids: Vec<Vec<u8>> = Vec::new();
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
                span_ids[r.below(span_ids.len() as u64) as usize].clone()
            };
            span_ids.push(span_id.clone());
            let st = start + i as u64 * 100_000;
            let status = if r.below(50) == 0 { 500 } else { 200 };
            by_service[svc].push(Span {
                trace_id: id.to_vec(),
                span_id,
                parent_span_id: parent,
                name: op.to_string(),
                kind: if i == 0 {
                    SpanKind::Server
                } else {
                    SpanKind::Client
                } as i32,
                start_time_unix_nano: st,
                end_time_unix_nano: st + 50_000 + r.below(20_000_000),
                attributes: vec![
                    s("http.method", ["GET", "POST", "PUT"][r.below(3) as usize]),
                    s("http.route", format!("/api/v1/{op}")),
                    kv("http.status_code", Value::IntValue(status)),
                    s(
                        "http.url",
                        format!(
                            "https://shop.example.com/api/v1/{op}/{}",
                            r.below(1_000_000)
                        ),
                    ),
                    s("user.id", user.clone()),
                    s("net.peer.name", SERVICES[services[0]]),
                    kv("retry", Value::BoolValue(false)),
                ],
                ..Default::default()
            });
        }
    }
    let batch = by_service
        .into_iter()
        .enumerate()
        .filter(|(_, spans)| !spans.is_empty())
        .map(|(i, spans)| ResourceSpans {
            resource: Some(resource(SERVICES[i])),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    (batch, ids)
}

/// utime + stime of a process, from /proc/<pid>/stat (100 Hz ticks).
fn cpu_of(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    Duration::from_millis((f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) * 10)
}

fn uptime() -> String {
    std::process::Command::new("uptime")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Writes Cassandra counted per table of `ks` (coordinator-local write latency counters).
async fn table_writes(store: &CassandraStore, ks: &str) -> HashMap<String, i64> {
    let cql = format!(
        "SELECT table_name, count FROM system_views.local_write_latency WHERE keyspace_name = '{ks}' ALLOW FILTERING"
    );
    match store.session().query_unpaged(cql, ()).await {
        Ok(r) => r
            .into_rows_result()
            .ok()
            .and_then(|r| {
                r.rows::<(String, i64)>()
                    .ok()
                    .map(|rows| rows.filter_map(|x| x.ok()).collect())
            })
            .unwrap_or_default(),
        Err(e) => {
            eprintln!("write counters unavailable: {e}");
            HashMap::new()
        }
    }
}

async fn get(r: &Router, uri: &str) -> (Duration, usize) {
    let req = Request::builder()
        .uri(uri)
        .body(Body::empty())
        .expect("a valid request");
    let t = Instant::now();
    let resp = r.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(
        status,
        StatusCode::OK,
        "{uri}: {}",
        String::from_utf8_lossy(&body)
    );
    (t.elapsed(), body.len())
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

async fn latency(r: &Router, name: &str, uris: &[String]) {
    let pid = std::process::id().to_string();
    let cpu0 = cpu_of(&pid);
    let mut lat = Vec::with_capacity(uris.len());
    let mut bytes = 0;
    for u in uris {
        let (d, b) = get(r, u).await;
        lat.push(d);
        bytes += b;
    }
    let cpu = cpu_of(&pid) - cpu0;
    println!(
        "{name}: n={} p50={:.1} ms p99={:.1} ms max={:.1} ms, mean body {} B, our cpu {:.2} ms/request | {}",
        uris.len(),
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99),
        pct(&mut lat, 1.0),
        bytes / uris.len().max(1),
        cpu.as_secs_f64() * 1000.0 / uris.len().max(1) as f64,
        uptime()
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let want: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let max_secs: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(900);
    let concurrency: usize = std::env::var("CONCURRENCY")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2);
    let addr = std::env::var("JAEGER_TEST_CASSANDRA").expect("JAEGER_TEST_CASSANDRA=host:port");
    let cass_pid = std::env::var("JAEGER_TEST_CASSANDRA_DIR")
        .ok()
        .and_then(|d| std::fs::read_to_string(format!("{d}/pid")).ok())
        .map(|p| p.trim().to_string())
        .unwrap_or_default();
    let ks = std::env::var("KEYSPACE").unwrap_or_else(|_| {
        format!(
            "bench_{}",
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        )
    });
    let store = CassandraStore::open(CassandraConfig {
        servers: vec![addr.clone()],
        username: Some("cassandra".into()),
        password: Some("cassandra".into()),
        create_schema: true,
        schema: SchemaOptions {
            keyspace: ks.clone(),
            datacenter: String::new(),
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .expect("cassandra store opens");
    println!(
        "cassandra {addr} (pid {cass_pid}), keyspace {ks}, {want} spans wanted, max {max_secs} s of writing, {concurrency} concurrent batches of {} spans",
        BATCH_TRACES * SPANS_PER_TRACE
    );
    println!("before: {}", uptime());

    // Write phase: span times within the last hour, so searches find them.
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .expect("clock");
    let batches = want.div_ceil(BATCH_TRACES * SPANS_PER_TRACE);
    let t0_ns = now_ns - 3_600_000_000_000;
    let step_ns = 3_500_000_000_000 / batches.max(1) as u64;
    let writes0 = table_writes(&store, &ks).await;
    let pid = std::process::id().to_string();
    let (ours0, theirs0, wall0) = (cpu_of(&pid), cpu_of(&cass_pid), Instant::now());
    let deadline = wall0 + Duration::from_secs(max_secs);
    let mut sample_ids: Vec<[u8; 16]> = Vec::new();
    let mut written = 0usize;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut next = 0usize;
    let mut in_flight = tokio::task::JoinSet::new();
    let mut last_report = Instant::now();
    let mut failed = 0usize;
    // `QUERY_ONLY=1 KEYSPACE=<a loaded keyspace>`: repeat the query phase on the spans an
    // earlier run wrote (within the hour, so the search window still holds them): the
    // same generator gives the same trace ids, nothing is written.
    let query_only = std::env::var_os("QUERY_ONLY").is_some();
    while query_only && next < batches {
        let (_, ids) = batch(&mut rng, t0_ns + next as u64 * step_ns);
        if next.is_multiple_of(10) {
            sample_ids.push(ids[0]);
        }
        next += 1;
    }
    loop {
        while in_flight.len() < concurrency && next < batches && Instant::now() < deadline {
            let (b, ids) = batch(&mut rng, t0_ns + next as u64 * step_ns);
            if next.is_multiple_of(10) {
                sample_ids.push(ids[0]);
            }
            next += 1;
            let st = store.clone();
            in_flight.spawn(async move { st.write_spans(b).await });
        }
        match in_flight.join_next().await {
            None => break,
            Some(Ok(Ok(()))) => written += BATCH_TRACES * SPANS_PER_TRACE,
            Some(Ok(Err(e))) => {
                failed += 1;
                eprintln!("batch failed: {e}");
            }
            Some(Err(e)) => {
                failed += 1;
                eprintln!("batch failed: {e}");
            }
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            last_report = Instant::now();
            eprintln!(
                "{written} spans in {:.0} s ({:.0}/s) | {}",
                wall0.elapsed().as_secs_f64(),
                written as f64 / wall0.elapsed().as_secs_f64(),
                uptime()
            );
        }
    }
    let wall = wall0.elapsed();
    let (ours, theirs) = (cpu_of(&pid) - ours0, cpu_of(&cass_pid) - theirs0);
    let writes1 = table_writes(&store, &ks).await;
    println!(
        "write: {written} spans in {:.1} s = {:.0} spans/s ({failed} batches failed) | {}",
        wall.as_secs_f64(),
        written as f64 / wall.as_secs_f64(),
        uptime()
    );
    println!(
        "cpu: ours {:.1} s = {:.0} spans per cpu-second ({:.0}% of a core); cassandra {:.1} s = {:.0} spans per cpu-second ({:.0}% of a core)",
        ours.as_secs_f64(),
        written as f64 / ours.as_secs_f64().max(1e-9),
        100.0 * ours.as_secs_f64() / wall.as_secs_f64(),
        theirs.as_secs_f64(),
        written as f64 / theirs.as_secs_f64().max(1e-9),
        100.0 * theirs.as_secs_f64() / wall.as_secs_f64(),
    );
    let mut per_table: Vec<(String, i64)> = writes1
        .iter()
        .map(|(t, c)| (t.clone(), c - writes0.get(t).copied().unwrap_or(0)))
        .filter(|(_, c)| *c > 0)
        .collect();
    per_table.sort();
    let total: i64 = per_table.iter().map(|(_, c)| c).sum();
    println!(
        "writes counted by cassandra: {total} = {:.2} per span; {}",
        total as f64 / written.max(1) as f64,
        per_table
            .iter()
            .map(|(t, c)| format!("{t} {:.2}", *c as f64 / written.max(1) as f64))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // Query phase, through the query service's router.
    let mut state = QueryState::new(store.clone(), store.clone());
    state.adjusters = standard_adjusters(Duration::ZERO);
    let r = router(state);
    let hex = |id: &[u8; 16]| id.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut rng = Rng(42);
    let by_id: Vec<String> = (0..200)
        .map(|_| {
            let id = sample_ids[rng.below(sample_ids.len() as u64) as usize];
            format!("/api/traces/{}", hex(&id))
        })
        .collect();
    latency(&r, "trace-by-id (10 spans)", &by_id).await;
    let end_us = (now_ns + 60_000_000_000) / 1_000;
    let start_us = end_us - 2 * 3_600_000_000;
    let search = |q: &str| -> Vec<String> {
        (0..50)
            .map(|i| {
                format!(
                    "/api/traces?service={}&start={start_us}&end={end_us}&limit=20{q}",
                    SERVICES[i % SERVICES.len()]
                )
            })
            .collect()
    };
    latency(&r, "search service, limit 20", &search("")).await;
    latency(
        &r,
        "search service+operation, limit 20",
        &search("&operation=get"),
    )
    .await;
    latency(
        &r,
        "search service+tag, limit 20",
        &search("&tags=%7B%22http.status_code%22%3A%22500%22%7D"),
    )
    .await;
    latency(
        &r,
        "search service+duration>10ms, limit 20",
        &search("&minDuration=10ms"),
    )
    .await;
    println!("after: {}", uptime());
}
