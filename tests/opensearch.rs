//! End-to-end on a real OpenSearch (tests/servers/opensearch): the binary configured with
//! Jaeger v2 YAML (`jaeger_storage.backends.X.opensearch`, primary and archive prefixes as
//! in the deployment guide) takes spans over OTLP and answers /api/traces from Jaeger's
//! indices; a separate collector and query process share the indices; a trace archived
//! with `POST /api/archive/{id}` lands in the archive prefix. Needs
//! `JAEGER_TEST_OPENSEARCH=http://host:port` (scripts/test starts the server); fails
//! without it under `JAEGER_TEST_REQUIRE_SERVERS=1`, skips otherwise.

mod common;

use common::{JaegerBuilder, now_micros, now_nanos};
use jaeger_storage::conformance::opensearch_test_server;

/// A v2 config file on OpenSearch with fresh primary and archive prefixes.
fn config_file(dir: &std::path::Path, url: &str, tag: &str) -> (std::path::PathBuf, String) {
    let prefix = format!(
        "e2e{tag}{}x{}",
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
      traces_archive: another_storage
  jaeger_storage:
    backends:
      some_storage:
        opensearch:
          index_prefix: "{prefix}-main"
          server_urls: ["{url}"]
          indices:
            spans: {{shards: 1, replicas: 0}}
            services: {{shards: 1, replicas: 0}}
      another_storage:
        opensearch:
          index_prefix: "{prefix}-archive"
          server_urls: ["{url}"]
          indices:
            spans: {{shards: 1, replicas: 0}}
            services: {{shards: 1, replicas: 0}}
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
    (path, prefix)
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

/// Documents in `index` (after a refresh), through the REST API.
fn docs(url: &str, index: &str) -> Vec<serde_json::Value> {
    let c = reqwest::blocking::Client::new();
    let _ = c.post(format!("{url}/{index}/_refresh")).send();
    let v: serde_json::Value = c
        .get(format!("{url}/{index}/_search?size=100"))
        .send()
        .expect("search")
        .json()
        .expect("json");
    v["hits"]["hits"]
        .as_array()
        .map(|h| h.iter().map(|d| d["_source"].clone()).collect())
        .unwrap_or_default()
}

fn delete_indices(url: &str, prefix: &str) {
    let _ = reqwest::blocking::Client::new()
        .delete(format!("{url}/{prefix}-*"))
        .send();
}

#[test]
fn all_in_one_on_opensearch_otlp_in_api_out_and_archive() {
    let Some(url) = opensearch_test_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (file, prefix) = config_file(dir.path(), &url, "aio");
    let j = JaegerBuilder::new(&dir.path().join("data"))
        .arg("--config")
        .arg(file.to_str().unwrap())
        .start();
    assert!(j.logs().contains("storage: opensearch"), "{}", j.logs());
    let trace = "0000000000000000000000000000c0de";
    post_spans(&j.otlp_http_url(), "shop", trace);

    let v = j.wait_for_traces(&search("shop"), 1);
    let t = &v["data"][0];
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
        .map(|o| o["name"].as_str().unwrap_or("").to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["GET /", "SELECT"]);
    let v = j.get_json(
        &format!(
            "{}&tags=%7B%22http.method%22%3A%22GET%22%7D",
            search("shop")
        ),
        200,
    );
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1), "{v}");

    // The spans sit in Jaeger's daily index of the primary prefix.
    let spans = docs(&url, &format!("{prefix}-main-jaeger-span-*"));
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert!(
        spans.iter().all(|s| s["process"]["serviceName"] == "shop"),
        "{spans:?}"
    );

    // Archive: the trace is copied into the archive prefix's indices.
    let r = reqwest::blocking::Client::new()
        .post(j.query_url(&format!("/api/archive/{trace}")))
        .send()
        .expect("archive");
    assert!(r.status().is_success(), "{}", r.text().unwrap_or_default());
    let archived = docs(&url, &format!("{prefix}-archive-jaeger-span-*"));
    assert_eq!(archived.len(), 2, "{archived:?}");
    delete_indices(&url, &prefix);
}

#[test]
fn collector_and_query_processes_share_indices() {
    let Some(url) = opensearch_test_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (file, prefix) = config_file(dir.path(), &url, "split");
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
    delete_indices(&url, &prefix);
}
