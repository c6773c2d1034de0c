//! End-to-end on a real OpenSearch (tests/servers/opensearch): the binary configured with
//! Jaeger v2 YAML (`jaeger_storage.backends.X.opensearch`, primary and archive prefixes as
//! in the deployment guide) takes spans over OTLP and answers /api/traces from Jaeger's
//! indices; a separate collector and query process share the indices; a trace archived
//! with `POST /api/archive/{id}` lands in the archive prefix. Needs
//! `JAEGER_TEST_OPENSEARCH=http://host:port` (scripts/test starts the server); fails
//! without it under `JAEGER_TEST_REQUIRE_SERVERS=1`, skips otherwise.

mod common;

use common::{
    JaegerBuilder, now_nanos, post_two_span_trace, search_last_hour, shop_trace_round_trip,
};
use jaeger_storage::conformance::{opensearch_test_server, unique_name};

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
    let trace = shop_trace_round_trip(&j);
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
            search_last_hour("shop")
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
    post_two_span_trace(&collector.otlp_http_url(), "split-svc", trace);
    let v = query.wait_for_traces(&search_last_hour("split-svc"), 1);
    assert_eq!(v["data"][0]["traceID"], trace);
    assert_eq!(v["data"][0]["spans"].as_array().map(Vec::len), Some(2));
    let by_id = query.get_json(&format!("/api/traces/{trace}"), 200);
    assert_eq!(by_id["data"][0]["spans"].as_array().map(Vec::len), Some(2));
    delete_indices(&url, &prefix);
}

/// Runs `jaeger <args>` to completion and returns its stdout; fails on a non-zero exit.
fn run_tool(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jaeger"))
        .args(args)
        .output()
        .expect("run jaeger");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "jaeger {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Index names matching `pattern`, sorted.
fn indices(url: &str, pattern: &str) -> Vec<String> {
    let v: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{url}/{pattern}?expand_wildcards=all"))
        .send()
        .expect("get indices")
        .json()
        .expect("json");
    let mut names: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Indices holding `alias`, sorted (empty when the alias does not exist).
fn alias_holders(url: &str, alias: &str) -> Vec<String> {
    let r = reqwest::blocking::Client::new()
        .get(format!("{url}/_alias/{alias}"))
        .send()
        .expect("get alias");
    if r.status().as_u16() == 404 {
        return Vec::new();
    }
    let v: serde_json::Value = r.json().expect("json");
    let mut names: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn es_index_cleaner_deletes_exactly_jaegers_indices_created_before_the_cutoff() {
    let Some(url) = opensearch_test_server() else {
        return;
    };
    let prefix = unique_name("clean");
    let c = reqwest::blocking::Client::new();
    // OpenSearch does not let a client set `index.creation_date`, so every index here
    // is created now: with NUM_OF_DAYS=5 none is old enough, with 0 (cutoff tomorrow
    // 00:00 UTC) all of them are.
    let create = |name: &str| {
        let body =
            serde_json::json!({"settings": {"number_of_shards": 1, "number_of_replicas": 0}});
        let r = c
            .put(format!("{url}/{name}"))
            .json(&body)
            .send()
            .expect("create index");
        assert!(
            r.status().is_success(),
            "{name}: {}",
            r.text().unwrap_or_default()
        );
    };
    let dated = [
        format!("{prefix}-jaeger-span-2020-01-01"),
        format!("{prefix}-jaeger-service-2020-01-01"),
        format!("{prefix}-jaeger-dependencies-2020-01-01"),
    ];
    // Not the dated naming, holding a write alias, or not Jaeger's: always kept.
    let rollover_named = format!("{prefix}-jaeger-span-000001");
    let written = format!("{prefix}-jaeger-service-2020-01-02");
    let foreign = format!("{prefix}-jaeger-other-2020-01-01");
    let all: Vec<String> = dated
        .iter()
        .cloned()
        .chain([rollover_named.clone(), written.clone(), foreign.clone()])
        .collect();
    for name in &all {
        create(name);
    }
    let r = c
        .post(format!("{url}/_aliases"))
        .json(&serde_json::json!({"actions": [{"add": {"index": written,
            "alias": format!("{prefix}-jaeger-service-write")}}]}))
        .send()
        .expect("alias");
    assert!(r.status().is_success());

    let mut sorted = all.clone();
    sorted.sort();
    let out = run_tool(&["es-index-cleaner", "5", &url, "--index-prefix", &prefix]);
    assert_eq!(indices(&url, &format!("{prefix}-*")), sorted, "{out}");

    let out = run_tool(&["es-index-cleaner", "0", &url, "--index-prefix", &prefix]);
    let mut expected = vec![rollover_named.clone(), written.clone(), foreign.clone()];
    expected.sort();
    assert_eq!(indices(&url, &format!("{prefix}-*")), expected, "{out}");
    for name in &dated {
        assert!(out.contains(name.as_str()), "{out}");
    }

    // --rollover matches the `-000001` naming instead.
    run_tool(&[
        "es-index-cleaner",
        "0",
        &url,
        "--index-prefix",
        &prefix,
        "--rollover",
    ]);
    let mut expected = vec![written.clone(), foreign.clone()];
    expected.sort();
    assert_eq!(indices(&url, &format!("{prefix}-*")), expected);
    delete_indices(&url, &prefix);
}

#[test]
fn es_rollover_init_rollover_and_lookback_manage_the_aliases() {
    let Some(url) = opensearch_test_server() else {
        return;
    };
    let prefix = unique_name("roll");
    let base = |kind: &str| format!("{prefix}-jaeger-{kind}");
    let common = [
        "--index-prefix",
        &prefix,
        "--shards",
        "1",
        "--replicas",
        "0",
    ];
    let with = |action: &str, extra: &[&str]| {
        let mut a = vec!["es-rollover", action, url.as_str()];
        a.extend_from_slice(&common);
        a.extend_from_slice(extra);
        run_tool(&a)
    };

    with("init", &[]);
    for kind in ["span", "service", "dependencies"] {
        let first = format!("{}-000001", base(kind));
        assert_eq!(
            alias_holders(&url, &format!("{}-read", base(kind))),
            [first.as_str()]
        );
        assert_eq!(
            alias_holders(&url, &format!("{}-write", base(kind))),
            [first.as_str()]
        );
    }
    // init is idempotent.
    with("init", &[]);
    assert_eq!(
        indices(&url, &format!("{}-*", base("span"))),
        [format!("{}-000001", base("span"))]
    );

    // A write through the alias lands in -000001.
    let c = reqwest::blocking::Client::new();
    let r = c
        .post(format!("{url}/{}-write/_doc?refresh=true", base("span")))
        .json(&serde_json::json!({"traceID": "1", "spanID": "2"}))
        .send()
        .expect("index doc");
    let v: serde_json::Value = r.json().expect("json");
    assert_eq!(v["_index"], format!("{}-000001", base("span")));

    // Rollover with a condition that always holds: -000002 becomes the write index and
    // both are readable.
    let out = with("rollover", &["--conditions", r#"{"max_docs": 0}"#]);
    assert!(out.contains("-000002"), "{out}");
    let (first, second) = (
        format!("{}-000001", base("span")),
        format!("{}-000002", base("span")),
    );
    assert_eq!(
        alias_holders(&url, &format!("{}-write", base("span"))),
        [second.as_str()]
    );
    assert_eq!(
        alias_holders(&url, &format!("{}-read", base("span"))),
        [first.clone(), second.clone()]
    );

    // Lookback of 0 minutes: everything created before now leaves the read alias,
    // except the write index.
    std::thread::sleep(std::time::Duration::from_millis(50));
    with("lookback", &["--unit", "minutes", "--unit-count", "0"]);
    assert_eq!(
        alias_holders(&url, &format!("{}-read", base("span"))),
        [second.as_str()]
    );
    // The index itself stays; only the alias moved.
    assert!(indices(&url, &format!("{}-*", base("span"))).contains(&first));
    delete_indices(&url, &prefix);
}
