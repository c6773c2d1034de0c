//! End-to-end with published client libraries, each through its own protocol, read back
//! through the query API: the OpenTelemetry Python SDK (OTLP gRPC, OTLP HTTP, Zipkin JSON
//! exporters), the Python `jaeger-client` (UDP compact Thrift; HTTP binary Thrift), and the
//! OpenTelemetry Rust SDK mixed with Zipkin in one trace.
//!
//! The Python packages live in a venv that `scripts/test` creates (pinned versions); set
//! `JAEGER_TEST_PYTHON` to use another interpreter. A missing venv or package fails the
//! test with the reason: it never passes silently.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Jaeger, JaegerBuilder};
use serde_json::Value;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("JAEGER_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let p = target.join("pyvenv/bin/python");
    assert!(
        p.exists(),
        "the Python client venv is missing ({}): run scripts/test, which creates it with \
         the pinned OpenTelemetry and jaeger-client packages, or set JAEGER_TEST_PYTHON",
        p.display()
    );
    p
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

/// Runs a client script; its stdout's words (ids) on success, else a panic with stderr.
fn run_py(name: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new(python())
        .arg(script(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python().display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} {args:?} failed ({}); a ModuleNotFoundError means the venv lacks the \
         package (scripts/test installs it):\n{stderr}",
        out.status
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn start() -> (tempfile::TempDir, Jaeger) {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = JaegerBuilder::new(&dir.path().join("data"))
        .arg("--storage")
        .arg("memory")
        .start();
    (dir, j)
}

/// Polls `GET /api/traces/{id}` until the trace has `spans` spans.
fn wait_trace(j: &Jaeger, trace_id: &str, spans: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = j.query_url(&format!("/api/traces/{trace_id}"));
    loop {
        let r = reqwest::blocking::get(&url).expect("query");
        if r.status().is_success() {
            let v: Value = r.json().expect("json");
            if v["data"][0]["spans"].as_array().map(Vec::len) == Some(spans) {
                return v["data"][0].clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "trace {trace_id} did not reach {spans} spans; log:\n{}",
            j.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn op_names(trace: &Value) -> Vec<String> {
    let mut v: Vec<String> = trace["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .map(|s| s["operationName"].as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

fn services(trace: &Value) -> Vec<String> {
    let mut v: Vec<String> = trace["processes"]
        .as_object()
        .expect("processes")
        .values()
        .map(|p| p["serviceName"].as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The child's CHILD_OF reference points at the parent.
fn assert_parent_child(trace: &Value, parent_op: &str, child_op: &str) {
    let spans = trace["spans"].as_array().expect("spans");
    let find = |op: &str| {
        spans
            .iter()
            .find(|s| s["operationName"] == op)
            .unwrap_or_else(|| panic!("no span {op} in {trace}"))
    };
    let (p, c) = (find(parent_op), find(child_op));
    assert_eq!(c["references"][0]["refType"], "CHILD_OF", "{c}");
    assert_eq!(c["references"][0]["spanID"], p["spanID"], "{trace}");
}

fn tag<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["tags"]
        .as_array()?
        .iter()
        .find(|t| t["key"] == key)
        .map(|t| &t["value"])
}

#[test]
fn python_otel_sdk_otlp_grpc() {
    python_otel_with("otlp-grpc", |j| j.otlp_grpc_url());
}

#[test]
fn python_otel_sdk_otlp_http() {
    python_otel_with("otlp-http", |j| j.otlp_http_url());
}

#[test]
fn python_otel_sdk_zipkin_json() {
    python_otel_with("zipkin-json", |j| {
        format!("http://{}/api/v2/spans", j.ports.zipkin)
    });
}

fn python_otel_with(kind: &str, endpoint: impl Fn(&Jaeger) -> String) {
    let (_d, j) = start();
    let service = format!("py-{kind}");
    let ids = run_py("otel_sdk.py", &[kind, &endpoint(&j), &service]);
    let trace = wait_trace(&j, &ids[0], 2);
    assert_eq!(trace["traceID"], ids[0]);
    assert_eq!(
        op_names(&trace),
        [format!("{kind}-child"), format!("{kind}-parent")]
    );
    assert_eq!(services(&trace), std::slice::from_ref(&service));
    assert_parent_child(&trace, &format!("{kind}-parent"), &format!("{kind}-child"));
    let parent = trace["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .find(|s| s["operationName"] == format!("{kind}-parent"))
        .expect("parent");
    assert_eq!(tag(parent, "client"), Some(&Value::from(kind)));
    let v = j.get_json("/api/services", 200);
    assert!(
        v["data"]
            .as_array()
            .expect("services")
            .iter()
            .any(|s| s == &Value::from(service.as_str())),
        "{v}"
    );
}

fn jaeger_client(mode: &str, args: impl Fn(&Jaeger) -> Vec<String>) {
    let (_d, j) = start();
    let args = args(&j);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ids = run_py("jaeger_client_send.py", &args);
    // jaeger-client makes 64-bit trace ids; Jaeger prints them as 16 hex digits.
    let id = format!("{:0>16}", ids[0]);
    let trace = wait_trace(&j, &id, 2);
    assert_eq!(trace["traceID"], id);
    let parent = format!("jaeger-{mode}-parent");
    let child = format!("jaeger-{mode}-child");
    assert_eq!(op_names(&trace), [child.clone(), parent.clone()]);
    assert_eq!(services(&trace), [format!("py-jaeger-{mode}")]);
    assert_parent_child(&trace, &parent, &child);
    let p = trace["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .find(|s| s["operationName"] == parent)
        .expect("parent");
    assert_eq!(
        tag(p, "client"),
        Some(&Value::from(format!("jaeger-client-{mode}")))
    );
    // The client's process tags arrive; `jaeger.version` is renamed on the way to OTLP
    // (ingest spec §2.4), as in Jaeger v2.
    let process = &trace["processes"][p["processID"].as_str().expect("processID")];
    assert!(
        process["tags"]
            .as_array()
            .expect("process tags")
            .iter()
            .any(|t| t["key"] == "opencensus.exporterversion"
                && t["value"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("Jaeger-Python-"))),
        "{process}"
    );
}

#[test]
fn python_jaeger_client_udp_compact_thrift() {
    jaeger_client("udp", |j| {
        vec![
            "udp".into(),
            j.ports.jaeger_compact.ip().to_string(),
            j.ports.jaeger_compact.port().to_string(),
            "py-jaeger-udp".into(),
        ]
    });
}

#[test]
fn python_jaeger_client_http_binary_thrift() {
    jaeger_client("http", |j| {
        vec![
            "http".into(),
            format!("http://{}/api/traces", j.ports.jaeger_http),
            "py-jaeger-http".into(),
        ]
    });
}

/// Half a trace from the Rust OTel SDK over OTLP gRPC, the other half from the Python
/// Zipkin exporter as its children: one trace with both services.
#[test]
fn rust_otlp_and_python_zipkin_halves_read_back_as_one_trace() {
    use opentelemetry::trace::{Span, TraceContextExt, Tracer, TracerProvider};
    use opentelemetry_otlp::{SpanExporter, WithExportConfig};
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::SdkTracerProvider;

    let (_d, j) = start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let provider = rt.block_on(async {
        let exporter = SpanExporter::builder()
            .with_tonic()
            .with_endpoint(j.otlp_grpc_url())
            .with_timeout(Duration::from_secs(10))
            .build()
            .expect("grpc exporter");
        SdkTracerProvider::builder()
            .with_simple_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("rust-otlp").build())
            .build()
    });
    let tracer = provider.tracer("clients-e2e");
    let mut root = tracer.start("rust-root");
    let sc = root.span_context().clone();
    let cx = opentelemetry::Context::current().with_remote_span_context(sc.clone());
    let mut child = tracer.start_with_context("rust-child", &cx);
    child.end();
    root.end();
    provider.force_flush().expect("flush");
    provider.shutdown().expect("shutdown");
    drop(rt);

    let trace_id = format!("{:032x}", sc.trace_id());
    let span_id = format!("{:016x}", sc.span_id());
    let ids = run_py(
        "otel_sdk.py",
        &[
            "zipkin-json",
            &format!("http://{}/api/v2/spans", j.ports.zipkin),
            "py-zipkin",
            &trace_id,
            &span_id,
        ],
    );
    assert_eq!(ids[0], trace_id, "the Zipkin half joined the same trace");
    let trace = wait_trace(&j, &trace_id, 4);
    assert_eq!(
        op_names(&trace),
        [
            "rust-child",
            "rust-root",
            "zipkin-json-child",
            "zipkin-json-parent"
        ]
    );
    assert_eq!(services(&trace), ["py-zipkin", "rust-otlp"]);
    assert_parent_child(&trace, "rust-root", "zipkin-json-parent");
    assert_parent_child(&trace, "rust-root", "rust-child");
    assert_parent_child(&trace, "zipkin-json-parent", "zipkin-json-child");
    // And the search finds one trace from either service.
    for svc in ["rust-otlp", "py-zipkin"] {
        let v = j.wait_for_traces(&format!("/api/traces?service={svc}"), 1);
        assert_eq!(v["data"][0]["traceID"], trace_id);
        assert_eq!(v["data"][0]["spans"].as_array().map(Vec::len), Some(4));
    }
}
