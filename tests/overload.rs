//! Overload: storage made slow (the test-only `JAEGER_TEST_STORAGE_DELAY_MS` knob) with a
//! small queue bound, and more load than it can take over OTLP HTTP, OTLP gRPC and Jaeger
//! gRPC. Clients must get retry answers (HTTP 503 + `Retry-After`, gRPC UNAVAILABLE or
//! RESOURCE_EXHAUSTED), the process's memory must stay bounded, and every span that was
//! acknowledged must be readable afterwards.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::JaegerBuilder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

const SPANS_PER_REQUEST: usize = 40;
/// Each span carries this much attribute text: ~20 KB per request.
const PAYLOAD: usize = 400;
const QUEUE_BYTES: usize = 256 * 1024;
const DELAY_MS: &str = "300";
const LOAD_FOR: Duration = Duration::from_secs(4);
/// How much the resident set may grow under load. The queue holds 256 KiB of encoded
/// spans; the rest is decoded copies in flight, HTTP/2 buffers and allocator slack.
const RSS_GROWTH_BOUND_KIB: u64 = 64 * 1024;

fn request(trace_no: u64) -> (ExportTraceServiceRequest, String) {
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&0x0ee1_0ad0_u64.to_be_bytes());
    trace_id[8..].copy_from_slice(&trace_no.to_be_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as u64;
    let spans = (0..SPANS_PER_REQUEST as u64)
        .map(|i| Span {
            trace_id: trace_id.to_vec(),
            span_id: (i + 1).to_be_bytes().to_vec(),
            name: format!("op-{i}"),
            start_time_unix_nano: now,
            end_time_unix_nano: now + 1_000,
            attributes: vec![KeyValue {
                key: "payload".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("x".repeat(PAYLOAD))),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("overload".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    (req, hex(&trace_id))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[derive(Default)]
struct Tally {
    acked: Vec<String>,
    http_503: u64,
    grpc_retry: u64,
    other: Vec<String>,
}

#[test]
fn slow_storage_gets_retry_answers_bounded_memory_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = JaegerBuilder::new(&dir.path().join("data"))
        .arg("--storage")
        .arg("memory")
        .arg("--collector.queue-size-bytes")
        .arg(QUEUE_BYTES.to_string())
        .env("JAEGER_TEST_STORAGE_DELAY_MS", DELAY_MS)
        .start();
    let pid = j.child.id();
    let baseline = rss_kib(pid);
    let next = Arc::new(AtomicU64::new(1));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(baseline));

    std::thread::scope(|s| {
        // Memory sampler.
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        // OTLP HTTP protobuf senders.
        for _ in 0..16 {
            s.spawn(|| {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("client");
                let deadline = Instant::now() + LOAD_FOR;
                while Instant::now() < deadline {
                    let (req, id) = request(next.fetch_add(1, Ordering::Relaxed));
                    let r = client
                        .post(j.otlp_http_url())
                        .header("content-type", "application/x-protobuf")
                        .body(req.encode_to_vec())
                        .send();
                    let mut t = tally.lock().expect("tally");
                    match r {
                        Ok(r) if r.status() == 200 => t.acked.push(id),
                        Ok(r) if r.status() == 503 => match r.headers().get("retry-after") {
                            Some(_) => t.http_503 += 1,
                            None => t.other.push("503 without Retry-After".into()),
                        },
                        Ok(r) => t.other.push(format!("HTTP {}", r.status())),
                        Err(e) => t.other.push(format!("HTTP error {e}")),
                    }
                }
            });
        }
        // OTLP gRPC senders, on one runtime.
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let client = TraceServiceClient::connect(j.otlp_grpc_url())
                    .await
                    .expect("connect OTLP gRPC");
                let mut tasks = Vec::new();
                for _ in 0..16 {
                    let mut c = client.clone();
                    let (next, tally) = (next.clone(), tally.clone());
                    tasks.push(tokio::spawn(async move {
                        let deadline = Instant::now() + LOAD_FOR;
                        while Instant::now() < deadline {
                            let (req, id) = request(next.fetch_add(1, Ordering::Relaxed));
                            let r = c.export(req).await;
                            let mut t = tally.lock().expect("tally");
                            match r {
                                Ok(_) => t.acked.push(id),
                                Err(st)
                                    if matches!(
                                        st.code(),
                                        tonic::Code::Unavailable | tonic::Code::ResourceExhausted
                                    ) =>
                                {
                                    t.grpc_retry += 1
                                }
                                Err(st) => t.other.push(format!("gRPC {st:?}")),
                            }
                        }
                    }));
                }
                for t in tasks {
                    t.await.expect("sender task");
                }
            });
        });
        std::thread::sleep(LOAD_FOR + Duration::from_secs(2));
        // Senders finish their last request (bounded by the storage delay) on their own;
        // the sampler stops here so the scope can end.
        stop.store(true, Ordering::Relaxed);
    });
    let t = Arc::try_unwrap(tally)
        .ok()
        .expect("senders done")
        .into_inner()
        .expect("tally");
    let peak = peak.load(Ordering::Relaxed);
    eprintln!(
        "acknowledged {} requests, HTTP 503 {}, gRPC retry {}, RSS {} KiB -> peak {} KiB",
        t.acked.len(),
        t.http_503,
        t.grpc_retry,
        baseline,
        peak
    );
    assert!(t.other.is_empty(), "unexpected answers: {:?}", t.other);
    assert!(t.http_503 > 0, "no HTTP 503 under overload");
    assert!(t.grpc_retry > 0, "no gRPC retry answer under overload");
    assert!(!t.acked.is_empty(), "nothing was accepted");
    assert!(
        peak.saturating_sub(baseline) < RSS_GROWTH_BOUND_KIB,
        "RSS grew from {baseline} KiB to {peak} KiB"
    );

    // Every acknowledged request is readable in full.
    let client = reqwest::blocking::Client::new();
    for id in &t.acked {
        let v: serde_json::Value = client
            .get(j.query_url(&format!("/api/traces/{id}")))
            .send()
            .expect("query")
            .json()
            .expect("json");
        assert_eq!(
            v["data"][0]["spans"].as_array().map(Vec::len),
            Some(SPANS_PER_REQUEST),
            "acknowledged trace {id} is not fully readable: {v}"
        );
    }
}
