//! End-to-end on a real Cassandra (tests/servers/cassandra): the binary configured with
//! Jaeger v2 YAML (`jaeger_storage.backends.X.cassandra`) takes spans over OTLP and
//! answers /api/traces from the keyspace it created; then a separate collector and query
//! process share one keyspace. Needs `JAEGER_TEST_CASSANDRA=host:port` (scripts/test
//! starts the server); fails without it under `JAEGER_TEST_REQUIRE_SERVERS=1`, skips
//! otherwise.

mod common;

use common::{
    JaegerBuilder, now_nanos, post_two_span_trace, search_last_hour, shop_trace_round_trip,
};
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
    shop_trace_round_trip(&j);
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
            search_last_hour("shop")
        ),
        200,
    );
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1), "{v}");
    // Jaeger's Cassandra limits surface as a 400 with its message.
    let r = reqwest::blocking::get(j.query_url(&format!(
        "{}&minDuration=1ms&tags=%7B%22a%22%3A%22b%22%7D",
        search_last_hour("shop")
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
    post_two_span_trace(&collector.otlp_http_url(), "split-svc", trace);
    let v = query.wait_for_traces(&search_last_hour("split-svc"), 1);
    assert_eq!(v["data"][0]["traceID"], trace);
    assert_eq!(v["data"][0]["spans"].as_array().map(Vec::len), Some(2));
    let by_id = query.get_json(&format!("/api/traces/{trace}"), 200);
    assert_eq!(by_id["data"][0]["spans"].as_array().map(Vec::len), Some(2));
}

fn post_status(url: &str, service: &str, trace: &str) -> (u16, Option<String>) {
    let start = now_nanos() - 1_000_000_000;
    let body = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": [{"traceId": trace, "spanId": "00000000000000b1", "name": "op",
            "startTimeUnixNano": start.to_string(),
            "endTimeUnixNano": (start + 1_000_000).to_string()}]}]
    }]});
    match reqwest::blocking::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .timeout(std::time::Duration::from_secs(60))
        .body(body.to_string())
        .send()
    {
        Ok(r) => (
            r.status().as_u16(),
            r.headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(String::from),
        ),
        Err(_) => (0, None),
    }
}

fn health_status(j: &common::Jaeger) -> u16 {
    reqwest::blocking::get(format!("http://{}/", j.ports.health))
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn wait_until(what: &str, timeout_s: u64, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout_s);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

#[test]
fn cassandra_outage_is_retry_later_and_recovers_without_restart() {
    let Some(addr) = cassandra_addr() else { return };
    // A node that goes away, while the shared test server keeps serving the other tests.
    let proxy = common::CutProxy::start("127.0.0.1:0", &addr);
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = config_file(dir.path(), &proxy.addr.to_string(), "outage");
    let j = JaegerBuilder::new(&dir.path().join("c"))
        .arg("--config")
        .arg(file.to_str().unwrap())
        .start();
    let url = j.otlp_http_url();
    assert_eq!(post_status(&url, "outage", &format!("{:032x}", 1)).0, 200);
    assert_eq!(health_status(&j), 200);

    proxy.cut();
    // Writes are refused with "retry later" (never acknowledged and dropped), and the
    // health check turns red.
    let mut n = 2u32;
    wait_until("a write during the outage answers 503", 60, || {
        n += 1;
        let (status, retry_after) = post_status(&url, "outage", &format!("{n:032x}"));
        assert_ne!(
            status, 200,
            "a write was acknowledged while Cassandra was away"
        );
        status == 503 && retry_after.is_some()
    });
    wait_until("health reports the storage down", 30, || {
        health_status(&j) == 503
    });

    proxy.restore();
    wait_until("writes succeed again", 90, || {
        n += 1;
        post_status(&url, "outage", &format!("{n:032x}")).0 == 200
    });
    wait_until("health is green again", 30, || health_status(&j) == 200);
    let v = j.get_json(&format!("/api/traces/{n:032x}"), 200);
    assert_eq!(v["data"][0]["spans"].as_array().map(Vec::len), Some(1));
}

#[test]
fn cassandra_schema_subcommand_prints_and_creates_the_keyspace() {
    let bin = env!("CARGO_BIN_EXE_jaeger");
    let out = std::process::Command::new(bin)
        .args(["cassandra-schema", "--dry-run", "--mode", "test"])
        .args(["--keyspace", "jaeger_v1_test", "--trace-ttl", "172800"])
        .output()
        .expect("run jaeger cassandra-schema --dry-run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cql = String::from_utf8_lossy(&out.stdout);
    assert!(cql.starts_with("CREATE KEYSPACE IF NOT EXISTS jaeger_v1_test WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'};"), "{cql}");
    // create.sh's default window for a 2-day TTL.
    assert!(cql.contains("'compaction_window_size': '96'"), "{cql}");
    assert!(cql.contains("CREATE TABLE IF NOT EXISTS jaeger_v1_test.sampling_probabilities"));

    let Some(addr) = cassandra_addr() else { return };
    let ks = format!(
        "schema_cmd_{}_{}",
        std::process::id(),
        now_nanos() % 1_000_000_000
    );
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(bin)
            .args([
                "cassandra-schema",
                "--servers",
                &addr,
                "--username",
                "cassandra",
            ])
            .args([
                "--password",
                "cassandra",
                "--mode",
                "test",
                "--keyspace",
                &ks,
            ])
            .args(extra)
            .output()
            .expect("run jaeger cassandra-schema");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let first = run(&["--trace-ttl", "3600"]);
    assert!(
        first.contains(&format!("keyspace {ks}: created")),
        "{first}"
    );
    let again = run(&["--trace-ttl", "7200", "--alter"]);
    assert!(
        again.contains("up to date") && again.contains("tables altered"),
        "{again}"
    );
    // The binary then runs on the keyspace it created, without schema.create.
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = config_file(dir.path(), &addr, "schema_cmd");
    let yaml = std::fs::read_to_string(&file).expect("config");
    let yaml = yaml
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("keyspace:") {
                format!("            keyspace: \"{ks}\"")
            } else if l.trim_start().starts_with("create:") {
                "            create: false".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&file, yaml).expect("config");
    let j = JaegerBuilder::new(&dir.path().join("d"))
        .arg("--config")
        .arg(file.to_str().unwrap())
        .start();
    let trace = "000000000000000000000000000005c1";
    post_two_span_trace(&j.otlp_http_url(), "schema-cmd", trace);
    let v = j.wait_for_traces(&search_last_hour("schema-cmd"), 1);
    assert_eq!(v["data"][0]["spans"].as_array().map(Vec::len), Some(2));
}

/// Root spans tagged as Jaeger SDKs tag probabilistically sampled roots.
fn tagged_roots(service: &str, operation: &str, n: usize) -> String {
    let start = now_nanos();
    let spans: Vec<_> = (0..n)
        .map(|i| {
            serde_json::json!({
                "traceId": format!("{:032x}", 0xcafe_0000u64 + i as u64),
                "spanId": format!("{:016x}", 1 + i as u64),
                "name": operation,
                "kind": 2,
                "startTimeUnixNano": start.to_string(),
                "endTimeUnixNano": (start + 1_000_000).to_string(),
                "attributes": [
                    {"key": "sampler.type", "value": {"stringValue": "probabilistic"}},
                    {"key": "sampler.param", "value": {"doubleValue": 0.001}}
                ]
            })
        })
        .collect();
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": spans}]
    }]})
    .to_string()
}

#[test]
fn adaptive_sampling_keeps_its_state_in_the_cassandra_keyspace() {
    use jaeger_storage::cassandra::{CassandraConfig, CassandraSamplingStore, SchemaOptions};
    use jaeger_storage::sampling::SamplingStore;
    let Some(addr) = cassandra_addr() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (file, keyspace) = config_file(dir.path(), &addr, "adaptive");
    let yaml = std::fs::read_to_string(&file)
        .unwrap()
        .replace(
            "extensions: [jaeger_storage, jaeger_query]",
            "extensions: [jaeger_storage, jaeger_query, remote_sampling]",
        )
        .replace("processors: [batch]", "processors: [adaptive_sampling]")
        .replace(
            "extensions:\n  jaeger_query:",
            "extensions:\n  remote_sampling:\n    adaptive:\n      sampling_store: some_storage\n      calculation_interval: 500ms\n      calculation_delay: 0s\n  jaeger_query:",
        )
        .replace("processors:\n  batch:\n", "processors:\n  adaptive_sampling:\n");
    std::fs::write(&file, yaml).unwrap();
    let j = JaegerBuilder::new(&dir.path().join("data"))
        .arg("--config")
        .arg(file.to_str().unwrap())
        .start();
    assert!(
        !j.logs().contains("in memory with this storage backend"),
        "{}",
        j.logs()
    );
    let r = reqwest::blocking::Client::new()
        .post(j.otlp_http_url())
        .header("content-type", "application/json")
        .body(tagged_roots("checkout", "GET /cart", 200))
        .send()
        .expect("POST /v1/traces");
    assert_eq!(r.status().as_u16(), 200);
    let url = format!("http://{}/sampling?service=checkout", j.ports.sampling_http);
    wait_until("a per-operation strategy", 30, || {
        reqwest::blocking::get(&url)
            .and_then(|r| r.text())
            .is_ok_and(|b| b.contains(r#""operation":"GET /cart""#))
    });

    // What the binary stored, read through Jaeger's tables by another participant.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = CassandraSamplingStore::open(&CassandraConfig {
            servers: vec![addr.clone()],
            username: Some("cassandra".into()),
            password: Some("cassandra".into()),
            schema: SchemaOptions {
                keyspace: keyspace.clone(),
                datacenter: String::new(),
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .expect("open the keyspace's sampling tables");
        let p = store.get_latest_probabilities().await.expect("latest")["checkout"]["GET /cart"];
        assert!((1e-5..0.001).contains(&p), "stored probability {p}");
        let counted: i64 = store
            .get_throughput(0, now_nanos())
            .await
            .expect("throughput")
            .iter()
            .flat_map(|b| &b.throughput)
            .filter(|t| t.service == "checkout")
            .map(|t| t.count)
            .sum();
        assert_eq!(counted, 200);
        // The binary leads: the lease is taken.
        assert!(
            !store
                .acquire_lease(
                    "sampling_store_leader",
                    "test",
                    std::time::Duration::from_secs(60)
                )
                .await
                .expect("lease")
        );
    });
}
