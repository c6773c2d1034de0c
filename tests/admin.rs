//! End-to-end: the admin ports (health, Prometheus, expvar, Jaeger v1's admin port) and
//! the roles, each of which opens its own ports and not the others.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{JaegerBuilder, free_port, now_nanos};

fn get(url: &str) -> (u16, String) {
    let r = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
        .get(url)
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    (status, r.text().expect("body"))
}

fn json(url: &str) -> serde_json::Value {
    let (status, body) = get(url);
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
}

fn listening(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

fn post_span(url: &str, service: &str) -> u16 {
    let start = now_nanos() - 1_000_000_000;
    let body = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": [{"traceId": "000000000000000000000000000000a1", "spanId": "00000000000000a1",
          "name": "op", "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 1000).to_string()}]}]
    }]});
    reqwest::blocking::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("OTLP post")
        .status()
        .as_u16()
}

#[test]
fn every_admin_port_answers() {
    let dir = tempfile::tempdir().unwrap();
    let j = JaegerBuilder::new(&dir.path().join("data"))
        .arg("--storage")
        .arg("memory")
        .start();
    let p = j.ports.clone();
    assert_eq!(post_span(&j.otlp_http_url(), "admin-test"), 200);

    // v2 health (13133).
    let v = json(&format!("http://{}/status", p.health));
    assert_eq!(v["status"], "StatusOK");

    // Prometheus (8888).
    let (status, text) = get(&format!("http://{}/metrics", p.metrics));
    assert_eq!(status, 200);
    assert!(
        text.contains(
            "otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"http\"} 1"
        ),
        "{text}"
    );

    // Jaeger v1's admin port (14269): `/` health in v1's JSON, and `/metrics`.
    let v = json(&format!("http://{}/", p.admin_http));
    assert_eq!(v["status"], "Server available");
    assert!(
        v["upSince"].as_str().is_some_and(|s| s.ends_with('Z')),
        "{v}"
    );
    assert!(
        v["uptime"].as_str().is_some_and(|s| s.ends_with('s')),
        "{v}"
    );
    let (status, text) = get(&format!("http://{}/metrics", p.admin_http));
    assert_eq!(status, 200);
    assert!(
        text.contains("otelcol_receiver_accepted_spans_total"),
        "{text}"
    );

    // expvar (2777): command line, process memory, our counters.
    let v = json(&format!("http://{}/debug/vars", p.expvar));
    let cmdline: Vec<&str> = v["cmdline"]
        .as_array()
        .expect("cmdline")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(cmdline.contains(&"--expvar.host-port"), "{v}");
    assert!(
        v["memstats"]["rss_bytes"]
            .as_u64()
            .is_some_and(|n| n > 1_000_000),
        "{v}"
    );
    assert!(v["process"]["pid"].as_u64().is_some(), "{v}");
    assert_eq!(
        v["metrics"]["otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"http\"}"],
        1,
        "{v}"
    );
}

#[test]
fn admin_ports_can_be_switched_off() {
    let dir = tempfile::tempdir().unwrap();
    let (health, metrics, query, otlp, expvar, admin) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    // A file that runs expvar; the flag switches it off again.
    let file = dir.path().join("c.yaml");
    std::fs::write(
        &file,
        format!(
            "\
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2, expvar]
  pipelines:
    traces: {{receivers: [otlp], exporters: [jaeger_storage_exporter]}}
  telemetry:
    metrics: {{address: \"{metrics}\"}}
extensions:
  healthcheckv2: {{use_v2: true, http: {{endpoint: \"{health}\"}}}}
  expvar: {{endpoint: \"{expvar}\"}}
  jaeger_storage: {{backends: {{main: {{memory: {{}}}}}}}}
  jaeger_query:
    storage: {{traces: main}}
    http: {{endpoint: \"{query}\"}}
    grpc: {{endpoint: \"{}\"}}
receivers:
  otlp: {{protocols: {{http: {{endpoint: \"{otlp}\"}}}}}}
exporters:
  jaeger_storage_exporter: {{trace_storage: main}}
",
            free_port()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jaeger"))
        .arg("--config")
        .arg(&file)
        .arg("--expvar.host-port=off")
        .arg("--admin.http.host-port=off")
        .env_remove("EXPVAR_HOST_PORT")
        .env_remove("ADMIN_HTTP_HOST_PORT")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !get_ok(&format!("http://{health}/status")) {
        assert!(child.try_wait().unwrap().is_none(), "jaeger exited");
        assert!(std::time::Instant::now() < deadline, "not healthy");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!listening(expvar), "expvar switched off by the flag");
    assert!(!listening(admin));
    assert!(listening(metrics) && listening(query) && listening(otlp));
    let _ = child.kill();
    let _ = child.wait();
}

fn get_ok(url: &str) -> bool {
    reqwest::blocking::get(url).is_ok_and(|r| r.status().is_success())
}

#[test]
fn collector_role_receives_and_serves_no_query() {
    let dir = tempfile::tempdir().unwrap();
    let j = JaegerBuilder::new(&dir.path().join("data"))
        .arg("--storage=memory")
        .arg("collector")
        .start();
    let p = j.ports.clone();
    assert_eq!(post_span(&j.otlp_http_url(), "collector-test"), 200);
    for (what, addr) in [
        ("OTLP gRPC", p.otlp_grpc),
        ("Jaeger gRPC", p.jaeger_grpc),
        ("Jaeger Thrift HTTP", p.jaeger_http),
        ("Zipkin", p.zipkin),
        ("metrics", p.metrics),
        ("v1 admin", p.admin_http),
    ] {
        assert!(listening(addr), "{what} on {addr}");
    }
    for (what, addr) in [("query HTTP", p.query), ("query gRPC", p.query_grpc)] {
        assert!(!listening(addr), "{what} must not listen on {addr}");
    }
    assert!(j.logs().contains("jaeger is ready"), "{}", j.logs());
}

#[test]
fn query_role_serves_queries_and_receives_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let j = JaegerBuilder::new(&dir.path().join("data"))
        .arg("--storage=memory")
        .arg("query")
        .start();
    let p = j.ports.clone();
    assert_eq!(
        j.get_json("/api/services", 200)["data"],
        serde_json::json!([])
    );
    assert!(listening(p.query_grpc), "query gRPC");
    for (what, addr) in [
        ("OTLP gRPC", p.otlp_grpc),
        ("OTLP HTTP", p.otlp_http),
        ("Jaeger gRPC", p.jaeger_grpc),
        ("Jaeger Thrift HTTP", p.jaeger_http),
        ("Zipkin", p.zipkin),
    ] {
        assert!(!listening(addr), "{what} must not listen on {addr}");
    }
    // UDP: the agent ports are free to bind, so nobody holds them.
    for addr in [p.jaeger_compact, p.jaeger_binary] {
        assert!(
            std::net::UdpSocket::bind(addr).is_ok(),
            "UDP {addr} is taken"
        );
    }
    assert!(listening(p.admin_http) && listening(p.health));
}
