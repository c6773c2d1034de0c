//! End-to-end on a real Cassandra (tests/servers/cassandra): the binary configured with
//! Jaeger v2 YAML (`jaeger_storage.backends.X.cassandra`) takes spans over OTLP and
//! answers /api/traces from the keyspace it created; then a separate collector and query
//! process share one keyspace. Needs `JAEGER_TEST_CASSANDRA=host:port` (scripts/test
//! starts the server); fails without it under `JAEGER_TEST_REQUIRE_SERVERS=1`, skips
//! otherwise.

mod common;

use common::{JaegerBuilder, now_micros, now_nanos};
use jaeger_storage::conformance::cassandra_test_server as cassandra_addr;

/// A v2 config file on Cassandra with a fresh keyspace.
fn config_file(dir: &std::path::Path, addr: &str, tag: &str) -> (std::path::PathBuf, String) {
    let keyspace = format!(
        "e2e_{tag}_{}_{}",
        std::process::id(),
        now_nanos() % 1_000_000_000
    );
    let yaml = format!(
        r#"service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
extensions:
  jaeger_query:
    storage:
      traces: some_storage
  jaeger_storage:
    backends:
      some_storage:
        cassandra:
          schema:
            keyspace: "{keyspace}"
            create: true
            datacenter: ""
          connection:
            servers: ["{addr}"]
            auth:
              basic:
                username: "cassandra"
                password: "cassandra"
            tls:
              insecure: true
          query:
            consistency: LOCAL_ONE
receivers:
  otlp:
    protocols:
      grpc:
      http:
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: some_storage
"#
    );
    let path = dir.join(format!("{tag}.yaml"));
    std::fs::write(&path, yaml).expect("write config");
    (path, keyspace)
}

fn post_spans(url: &str, service: &str, trace: &str) {
    let start = now_nanos() - 2_000_000_000;
    let span = |id: &str, parent: &str, name: &str, offset: u64, kind: u8| {
        serde_json::json!({"traceId": trace, "spanId": id, "parentSpanId": parent, "name": name,
            "kind": kind,
            "startTimeUnixNano": (start + offset).to_string(),
            "endTimeUnixNano": (start + offset + 5_000_000).to_string(),
            "attributes": [{"key": "http.method", "value": {"stringValue": "GET"}}]})
    };
    let body = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": [
            span("00000000000000a1", "", "GET /", 0, 2),
            span("00000000000000a2", "00000000000000a1", "SELECT", 1_000_000, 3)
        ]}]
    }]});
    let r = reqwest::blocking::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("OTLP post");
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().unwrap_or_default());
}

fn search(service: &str) -> String {
    let end = now_micros() + 60_000_000;
    let start = end - 3_600_000_000;
    format!("/api/traces?service={service}&start={start}&end={end}&limit=20")
}

#[test]
fn all_in_one_on_cassandra_otlp_in_api_out() {
    let Some(addr) = cassandra_addr() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = config_file(dir.path(), &addr, "aio");
    let j = JaegerBuilder::new(&dir.path().join("data"))
        .arg("--config")
        .arg(file.to_str().unwrap())
        .start();
    assert!(j.logs().contains("storage: cassandra"), "{}", j.logs());
    let trace = "0000000000000000000000000000c0de";
    post_spans(&j.otlp_http_url(), "shop", trace);

    let v = j.wait_for_traces(&search("shop"), 1);
    let t = &v["data"][0];
    // A 64-bit trace id prints as 16 hex digits in the UI JSON.
    assert_eq!(t["traceID"], "000000000000c0de");
    assert_eq!(t["spans"].as_array().map(Vec::len), Some(2), "{t}");
    let by_id = j.get_json(&format!("/api/traces/{trace}"), 200);
    assert_eq!(by_id["data"][0]["spans"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        j.get_json("/api/services", 200)["data"],
        serde_json::json!(["shop"])
    );
    let ops = j.get_json("/api/operations?service=shop", 200);
    let mut names: Vec<String> = ops["data"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|o| {
            format!(
                "{}:{}",
                o["name"].as_str().unwrap_or(""),
                o["spanKind"].as_str().unwrap_or("")
            )
        })
        .collect();
    names.sort();
    assert_eq!(names, ["GET /:server", "SELECT:client"]);
    // Tag search through the tag index.
    let v = j.get_json(
        &format!(
            "{}&tags=%7B%22http.method%22%3A%22GET%22%7D",
            search("shop")
        ),
        200,
    );
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1), "{v}");
    // Jaeger's Cassandra limits surface as a 400 with its message.
    let r = reqwest::blocking::get(j.query_url(&format!(
        "{}&minDuration=1ms&tags=%7B%22a%22%3A%22b%22%7D",
        search("shop")
    )))
    .expect("request");
    let status = r.status().as_u16();
    let body = r.text().unwrap_or_default();
    assert!(
        status >= 400 && body.contains("cannot query for duration and tags simultaneously"),
        "{status} {body}"
    );
}

#[test]
fn collector_and_query_processes_share_a_keyspace() {
    let Some(addr) = cassandra_addr() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = config_file(dir.path(), &addr, "split");
    let collector = JaegerBuilder::new(&dir.path().join("c"))
        .arg("--config")
        .arg(file.to_str().unwrap())
        .arg("collector")
        .start();
    let query = JaegerBuilder::new(&dir.path().join("q"))
        .arg("--config")
        .arg(file.to_str().unwrap())
        .arg("query")
        .start();
    let trace = "0123456789abcdef0123456789abcdef";
    post_spans(&collector.otlp_http_url(), "split-svc", trace);
    let v = query.wait_for_traces(&search("split-svc"), 1);
    assert_eq!(v["data"][0]["traceID"], trace);
    assert_eq!(v["data"][0]["spans"].as_array().map(Vec::len), Some(2));
    let by_id = query.get_json(&format!("/api/traces/{trace}"), 200);
    assert_eq!(by_id["data"][0]["spans"].as_array().map(Vec::len), Some(2));
}
