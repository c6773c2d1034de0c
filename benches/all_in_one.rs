//! Benchmark of the real `jaeger` binary on the embedded store (issue #2):
//!
//! - OTLP gRPC ingest of ~400-byte spans with ~10 attributes: spans/s, spans per
//!   CPU-second of the jaeger process (= per core), peak RSS;
//! - bytes on disk per span;
//! - trace-by-id and search (service + operation + one tag, limit 20) latency p50/p99
//!   over HTTP with the store holding all ingested spans;
//! - idle RSS.
//!
//! Run: `cargo bench --bench all_in_one` (env `SPANS`, default 1,000,000; `CONCURRENCY`,
//! default 4; `STORAGE`, default `embedded`). Prints the figures recorded in
//! docs/benchmarks.md.
//!
//! With `BENCH_OTLP_ENDPOINT=http://host:port` it starts no jaeger and only sends the same
//! load to that OTLP gRPC endpoint, printing `load_start_unix_ms=` / `load_end_unix_ms=`
//! lines around the sending (scripts/bench-kafka-pipeline measures end to end with them).

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

const SERVICES: usize = 10;
const OPS_PER_SERVICE: usize = 20;
const SPANS_PER_TRACE: usize = 10;
const BATCH: usize = 1000;

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}
fn s(v: impl Into<String>) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

/// Deterministic pseudo-random numbers (xorshift), so every run stores the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn trace_id(n: u64) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    b[..8].copy_from_slice(&(n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1).to_be_bytes());
    b[8..].copy_from_slice(&n.to_be_bytes());
    b
}

/// One export request of `BATCH` spans: whole traces of one service each.
fn build_request(batch_no: u64, base_ns: u64, rng: &mut Rng) -> ExportTraceServiceRequest {
    let traces_per_batch = (BATCH / SPANS_PER_TRACE) as u64;
    let mut resource_spans = Vec::new();
    for t in 0..traces_per_batch {
        let n = batch_no * traces_per_batch + t;
        let svc = (n as usize) % SERVICES;
        let tid = trace_id(n);
        let start = base_ns + n * 1_000_000;
        let mut spans = Vec::with_capacity(SPANS_PER_TRACE);
        for i in 0..SPANS_PER_TRACE as u64 {
            let op = (rng.next() as usize) % OPS_PER_SERVICE;
            let status = [200i64, 200, 200, 404, 500][(rng.next() % 5) as usize];
            spans.push(Span {
                trace_id: tid.clone(),
                span_id: (n * 16 + i + 1).to_be_bytes().to_vec(),
                parent_span_id: if i == 0 {
                    vec![]
                } else {
                    (n * 16 + 1).to_be_bytes().to_vec()
                },
                name: format!("op-{op}"),
                kind: if i == 0 { 2 } else { 3 },
                start_time_unix_nano: start + i * 10_000,
                end_time_unix_nano: start + i * 10_000 + 1_000 + rng.next() % 5_000_000,
                attributes: vec![
                    kv("http.method", s(if i % 3 == 0 { "POST" } else { "GET" })),
                    kv("http.status_code", any_value::Value::IntValue(status)),
                    kv("http.route", s(format!("/api/v1/items/{{id}}/op{op}"))),
                    kv("net.peer.name", s(format!("host-{}", rng.next() % 50))),
                    kv("user.id", s(format!("user-{}", rng.next() % 10_000))),
                    kv("request.id", s(format!("{:016x}", rng.next()))),
                    kv("component", s("http")),
                    kv(
                        "retry.count",
                        any_value::Value::IntValue((rng.next() % 3) as i64),
                    ),
                    kv(
                        "cache.hit",
                        any_value::Value::BoolValue(rng.next().is_multiple_of(2)),
                    ),
                    kv(
                        "payload.size",
                        any_value::Value::IntValue((rng.next() % 100_000) as i64),
                    ),
                ],
                status: Some(Status {
                    code: if status == 500 { 2 } else { 0 },
                    message: String::new(),
                }),
                ..Default::default()
            });
        }
        resource_spans.push(ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s(format!("svc-{svc}"))),
                    kv("host.name", s(format!("node-{}", svc % 3))),
                    kv("telemetry.sdk.language", s("rust")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "bench".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    ExportTraceServiceRequest { resource_spans }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// (utime + stime) in seconds, and peak/current RSS in bytes, of a process.
fn proc_stats(pid: u32) -> (f64, u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = 100.0; // USER_HZ on Linux
    let cpu = if fields.len() > 13 {
        (fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0))
            / ticks
    } else {
        0.0
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
            * 1024
    };
    (cpu, kb("VmHWM:"), kb("VmRSS:"))
}

fn dir_size(p: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let md = match e.metadata() {
                Ok(m) => m,
                Err(_) => continue,
            };
            total += if md.is_dir() {
                dir_size(&e.path())
            } else {
                md.len()
            };
        }
    }
    total
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let total_spans: usize = std::env::var("SPANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let concurrency: usize = std::env::var("CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let storage = std::env::var("STORAGE").unwrap_or_else(|_| "embedded".into());
    let batches = total_spans / BATCH;
    if let Ok(endpoint) = std::env::var("BENCH_OTLP_ENDPOINT") {
        return load_only(endpoint, batches, concurrency);
    }

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (grpc, http, query, health, metrics) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_jaeger"))
        .args(["--storage", &storage, "--data-dir"])
        .arg(&data)
        .args([
            "--collector.otlp.grpc.host-port",
            &format!("127.0.0.1:{grpc}"),
        ])
        .args([
            "--collector.otlp.http.host-port",
            &format!("127.0.0.1:{http}"),
        ])
        .args([
            "--query.http-server.host-port",
            &format!("127.0.0.1:{query}"),
        ])
        .args(["--health.host-port", &format!("127.0.0.1:{health}")])
        .args(["--metrics.host-port", &format!("127.0.0.1:{metrics}")])
        .args(["--log-level", "warn"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start jaeger");
    let pid = child.id();
    let http_client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_client
        .get(format!("http://127.0.0.1:{health}/status"))
        .send()
        .map(|r| !r.status().is_success())
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "jaeger did not become healthy");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let (_, _, idle_rss) = proc_stats(pid);

    let (base_ns, requests) = build_requests(batches);
    let span_bytes: usize = requests.iter().map(|r| r.encoded_len()).sum::<usize>() / total_spans;

    let (cpu0, _, _) = proc_stats(pid);
    let t0 = Instant::now();
    let retries = send_all(format!("http://127.0.0.1:{grpc}"), requests, concurrency);
    let elapsed = t0.elapsed();
    let (cpu1, peak_rss, _) = proc_stats(pid);
    let jaeger_cpu = cpu1 - cpu0;

    println!("== ingest: OTLP gRPC into {storage} ==");
    println!(
        "spans: {total_spans}  batch: {BATCH}  concurrency: {concurrency}  span size: ~{span_bytes} B (protobuf)"
    );
    println!(
        "wall: {:.2}s  throughput: {:.0} spans/s  retries (503): {retries}",
        elapsed.as_secs_f64(),
        total_spans as f64 / elapsed.as_secs_f64()
    );
    println!(
        "jaeger CPU: {:.2}s  => {:.0} spans per CPU-second (per core)",
        jaeger_cpu,
        total_spans as f64 / jaeger_cpu.max(0.001)
    );
    println!(
        "peak RSS: {:.1} MB  idle RSS before load: {:.1} MB",
        peak_rss as f64 / 1e6,
        idle_rss as f64 / 1e6
    );

    // Queries over HTTP.
    let q = |path: &str| -> Duration {
        let t = Instant::now();
        let r = http_client
            .get(format!("http://127.0.0.1:{query}{path}"))
            .send()
            .expect("query");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        let _ = r.bytes();
        t.elapsed()
    };
    let traces = (total_spans / SPANS_PER_TRACE) as u64;
    let mut rng = Rng(42);
    let mut by_id: Vec<Duration> = (0..1000)
        .map(|_| {
            let n = rng.next() % traces;
            let tid = hex(&trace_id(n));
            q(&format!("/api/traces/{tid}"))
        })
        .collect();
    by_id.sort();
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    let start_us = base_ns / 1000 - 1;
    let mut found = 0usize;
    let mut search: Vec<Duration> = (0..300)
        .map(|i| {
            let path = format!(
                "/api/traces?service=svc-{}&operation=op-{}&tag=http.status_code:500&limit=20&start={start_us}&end={now_us}",
                i % SERVICES,
                i % OPS_PER_SERVICE
            );
            let t = Instant::now();
            let r = http_client
                .get(format!("http://127.0.0.1:{query}{path}"))
                .send()
                .unwrap();
            let v: serde_json::Value = r.json().unwrap();
            found += v["data"].as_array().map(|a| a.len()).unwrap_or(0);
            t.elapsed()
        })
        .collect();
    search.sort();
    println!("== queries over HTTP, {total_spans} spans stored ==");
    println!(
        "trace by id: p50 {:.2} ms  p99 {:.2} ms  (1000 lookups)",
        percentile(&by_id, 0.5).as_secs_f64() * 1e3,
        percentile(&by_id, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "search service+operation+tag limit 20: p50 {:.2} ms  p99 {:.2} ms  (300 searches, avg {:.1} traces each)",
        percentile(&search, 0.5).as_secs_f64() * 1e3,
        percentile(&search, 0.99).as_secs_f64() * 1e3,
        found as f64 / 300.0
    );

    // Disk: stop cleanly so memtables are flushed, then measure.
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    if storage == "embedded" {
        let bytes = dir_size(&data);
        println!("== disk ==");
        println!(
            "data dir: {:.1} MB  => {:.0} bytes per span",
            bytes as f64 / 1e6,
            bytes as f64 / total_spans as f64
        );
    }
}

/// Every request of the run, built up front so the load generator spends its CPU on
/// sending; and the start of the time range the spans cover.
fn build_requests(batches: usize) -> (u64, Vec<ExportTraceServiceRequest>) {
    let base_ns = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64)
        - (batches as u64 * (BATCH / SPANS_PER_TRACE) as u64 * 1_000_000)
        - 60_000_000_000;
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let requests = (0..batches as u64)
        .map(|b| build_request(b, base_ns, &mut rng))
        .collect();
    (base_ns, requests)
}

/// Sends every request over `concurrency` gRPC streams, retrying on 503 (Unavailable);
/// returns the number of retries.
fn send_all(endpoint: String, requests: Vec<ExportTraceServiceRequest>, concurrency: usize) -> u64 {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = TraceServiceClient::connect(endpoint)
            .await
            .expect("connect")
            .max_encoding_message_size(64 << 20);
        let queue = std::sync::Arc::new(std::sync::Mutex::new(requests));
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let mut c = client.clone();
            let q = queue.clone();
            tasks.push(tokio::spawn(async move {
                let mut retries = 0u64;
                loop {
                    let Some(req) = q.lock().unwrap().pop() else {
                        break;
                    };
                    loop {
                        match c.export(req.clone()).await {
                            Ok(_) => break,
                            Err(st) if st.code() == tonic::Code::Unavailable => {
                                retries += 1;
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            Err(st) => panic!("export failed: {st}"),
                        }
                    }
                }
                retries
            }));
        }
        let mut r = 0;
        for t in tasks {
            r += t.await.unwrap();
        }
        r
    })
}

/// `BENCH_OTLP_ENDPOINT` mode: the same load against a running endpoint, nothing else.
fn load_only(endpoint: String, batches: usize, concurrency: usize) {
    let (_, requests) = build_requests(batches);
    let unix_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    };
    let t0 = Instant::now();
    println!("load_start_unix_ms={}", unix_ms());
    let retries = send_all(endpoint.clone(), requests, concurrency);
    println!("load_end_unix_ms={}", unix_ms());
    let elapsed = t0.elapsed();
    let spans = batches * BATCH;
    println!(
        "sent {spans} spans to {endpoint} in {:.2}s: {:.0} spans/s  retries (503): {retries}",
        elapsed.as_secs_f64(),
        spans as f64 / elapsed.as_secs_f64()
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
