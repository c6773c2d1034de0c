//! Remote storage end to end, with the real binary: `jaeger remote-storage` serving the
//! embedded store on a loopback port, a `jaeger collector` writing through the `grpc`
//! backend, and two `jaeger query` processes reading through it. Then the remote storage
//! restarts on the same data directory and the query processes (lazy, reconnecting
//! clients) still find everything.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Jaeger, JaegerBuilder, Ports, free_port, now_nanos};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

const TRACES: u64 = 20;
const SPANS_PER_TRACE: u64 = 5;

fn str_kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn trace_id(n: u64) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&0x7e3a_0000_0000_0001_u64.to_be_bytes());
    id[8..].copy_from_slice(&n.to_be_bytes());
    id
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One request holding `TRACES` traces of `SPANS_PER_TRACE` spans of service `svc`.
fn request(svc: &str, start: u64) -> ExportTraceServiceRequest {
    let spans = (0..TRACES)
        .flat_map(|t| {
            (0..SPANS_PER_TRACE).map(move |i| Span {
                trace_id: trace_id(t).to_vec(),
                span_id: (t * 100 + i + 1).to_be_bytes().to_vec(),
                parent_span_id: if i == 0 {
                    Vec::new()
                } else {
                    (t * 100 + 1).to_be_bytes().to_vec()
                },
                name: if i == 0 {
                    "root".into()
                } else {
                    format!("child-{i}")
                },
                start_time_unix_nano: start + t * 1_000_000 + i * 1_000,
                end_time_unix_nano: start + t * 1_000_000 + i * 1_000 + 500_000,
                attributes: vec![str_kv("trace.no", &t.to_string())],
                ..Default::default()
            })
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![str_kv("service.name", svc)],
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

fn remote_storage(dir: &std::path::Path, grpc: SocketAddr) -> Jaeger {
    let ports = Ports::free();
    let health = ports.health.to_string();
    JaegerBuilder::new(dir)
        .ports(ports)
        .arg("remote-storage")
        .arg("--grpc.host-port")
        .arg(grpc.to_string())
        // The harness waits for /status on the health port.
        .arg("--remote-storage.admin.host-port")
        .arg(health)
        .start()
}

fn through_grpc(dir: &std::path::Path, role: &str, grpc: SocketAddr) -> Jaeger {
    JaegerBuilder::new(dir)
        .arg(role)
        .arg("--storage")
        .arg("grpc")
        .arg("--grpc-storage.server")
        .arg(grpc.to_string())
        .arg("--grpc-storage.connection-timeout")
        .arg("3s")
        .start()
}

/// Every query process sees the same traces, whole.
fn assert_all_visible(queries: &[&Jaeger], svc: &str) {
    for (n, q) in queries.iter().enumerate() {
        let found = q.wait_for_traces(
            &format!("/api/traces?service={svc}&lookback=1h&limit=100"),
            TRACES as usize,
        );
        for t in found["data"].as_array().expect("data") {
            assert_eq!(
                t["spans"].as_array().map(|s| s.len()),
                Some(SPANS_PER_TRACE as usize),
                "query {n}: a found trace is whole"
            );
        }
        let services = q.get_json("/api/services", 200);
        assert!(
            services["data"]
                .as_array()
                .is_some_and(|a| a.iter().any(|s| s == svc)),
            "query {n}: services {services}"
        );
        let ops = q.get_json(&format!("/api/services/{svc}/operations"), 200);
        assert_eq!(ops["total"], 1 + SPANS_PER_TRACE - 1, "query {n}: {ops}");
        let id = hex(&trace_id(7));
        let t = q.get_json(&format!("/api/traces/{id}"), 200);
        assert_eq!(
            t["data"][0]["spans"].as_array().map(|s| s.len()),
            Some(SPANS_PER_TRACE as usize),
            "query {n}: trace by id"
        );
        q.get_json(&format!("/api/traces/{}", hex(&trace_id(999))), 404);
    }
}

#[test]
fn collector_and_two_queries_share_the_embedded_store_through_remote_storage() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let store_dir = tmp.path().join("store");
    let grpc = free_port();
    let rs = remote_storage(&store_dir, grpc);

    let collector = through_grpc(&tmp.path().join("c"), "collector", grpc);
    let q1 = through_grpc(&tmp.path().join("q1"), "query", grpc);
    let q2 = through_grpc(&tmp.path().join("q2"), "query", grpc);

    let r = reqwest::blocking::Client::new()
        .post(collector.otlp_http_url())
        .header("content-type", "application/x-protobuf")
        .body(request("remote-svc", now_nanos() - 60_000_000_000).encode_to_vec())
        .send()
        .expect("OTLP export");
    assert_eq!(r.status(), 200, "collector accepted the spans");
    assert_all_visible(&[&q1, &q2], "remote-svc");

    // Restart the remote storage on the same directory: the data is in the embedded
    // store, and the query processes reconnect on their own.
    let status = rs.terminate();
    assert!(status.success(), "remote-storage exits cleanly: {status}");
    // While it is down the query processes answer with an error, not a hang or a crash.
    let r = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
        .get(q1.query_url("/api/services"))
        .send()
        .expect("query answers while storage is down");
    assert!(r.status().is_server_error(), "status {}", r.status());

    let _rs = remote_storage(&store_dir, grpc);
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::blocking::get(q2.query_url("/api/services"))
        .map(|r| !r.status().is_success())
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "query did not reconnect");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_all_visible(&[&q1, &q2], "remote-svc");
}

/// The same through a Jaeger v2 YAML file: the remote_storage extension serving a badger
/// backend, and a query process with a `grpc` backend.
#[test]
fn yaml_remote_storage_and_grpc_backend() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let grpc = free_port();
    let keys = tmp.path().join("badger");
    let rs_yaml = tmp.path().join("remote-storage.yaml");
    std::fs::write(
        &rs_yaml,
        format!(
            r#"
service:
  extensions: [jaeger_storage, remote_storage]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  jaeger_storage_exporter:
    trace_storage: local
extensions:
  jaeger_storage:
    backends:
      local:
        badger:
          ephemeral: false
          directories: {{keys: "{keys}", values: "{keys}"}}
  remote_storage:
    endpoint: "{grpc}"
    storage: local
"#,
            keys = keys.display()
        ),
    )
    .expect("write yaml");
    let ports = Ports::free();
    let health = ports.health.to_string();
    let _rs = JaegerBuilder::new(&tmp.path().join("unused"))
        .ports(ports)
        .arg("--config")
        .arg(rs_yaml.display().to_string())
        .arg("remote-storage")
        .arg("--remote-storage.admin.host-port")
        .arg(health)
        .start();

    let aio_yaml = tmp.path().join("all-in-one.yaml");
    std::fs::write(
        &aio_yaml,
        format!(
            r#"
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
extensions:
  jaeger_storage:
    backends:
      remote:
        grpc:
          endpoint: "{grpc}"
          tls: {{insecure: true}}
          timeout: 3s
  jaeger_query:
    storage:
      traces: remote
receivers:
  otlp:
    protocols:
      grpc:
      http:
exporters:
  jaeger_storage_exporter:
    trace_storage: remote
"#
        ),
    )
    .expect("write yaml");
    // Flags after --config override the file's listeners with free ports.
    let aio = JaegerBuilder::new(&tmp.path().join("aio"))
        .arg("--config")
        .arg(aio_yaml.display().to_string())
        .start();
    let r = reqwest::blocking::Client::new()
        .post(aio.otlp_http_url())
        .header("content-type", "application/x-protobuf")
        .body(request("yaml-svc", now_nanos() - 60_000_000_000).encode_to_vec())
        .send()
        .expect("OTLP export");
    assert_eq!(r.status(), 200);
    assert_all_visible(&[&aio], "yaml-svc");
    // The harness's --data-dir flag beats the file's badger directory (flags win).
    assert!(
        tmp.path().join("unused").exists(),
        "the remote storage wrote into its embedded store's directory"
    );
}
