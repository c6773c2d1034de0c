//! End-to-end: spans in through OTLP, the dependencies job (`jaeger dependencies` against
//! the embedded store, and the all-in-one's in-process schedule), links out through
//! `/api/dependencies`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Jaeger, JaegerBuilder, now_nanos};
use serde_json::{Value, json};

const HOUR_NS: u64 = 3_600 * 1_000_000_000;

/// A span of one service in OTLP/JSON.
fn span(
    trace: &str,
    id: u64,
    parent: Option<u64>,
    kind: u8,
    start: u64,
    peer: Option<&str>,
) -> Value {
    let mut s = json!({
        "traceId": trace, "spanId": format!("{id:016x}"), "name": format!("op-{id}"),
        "kind": kind,
        "startTimeUnixNano": start.to_string(),
        "endTimeUnixNano": (start + 1_000_000).to_string(),
    });
    if let Some(p) = parent {
        s["parentSpanId"] = json!(format!("{p:016x}"));
    }
    if let Some(peer) = peer {
        s["attributes"] = json!([{"key": "peer.service", "value": {"stringValue": peer}}]);
    }
    s
}

fn resource(service: &str, spans: Vec<Value>) -> Value {
    json!({
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "e2e-deps"}, "spans": spans}]
    })
}

/// Start of the spans: the middle of the previous complete UTC hour, which is the window
/// `--lookback 1h` processes. Waits past an hour boundary that is about to pass.
fn previous_hour_middle() -> u64 {
    let now = now_nanos();
    let into_hour = now % HOUR_NS;
    if into_hour > HOUR_NS - 90 * 1_000_000_000 {
        std::thread::sleep(Duration::from_nanos(HOUR_NS - into_hour + 1_000_000_000));
    }
    let now = now_nanos();
    now - now % HOUR_NS - HOUR_NS / 2
}

/// Three traces: frontend → backend twice, backend → postgres (a `peer.service` leaf),
/// orders → billing (producer → consumer).
fn ingest(j: &Jaeger, t0: u64) {
    let traces = [
        "0af7651916cd43dd8448eb211c80319c",
        "1af7651916cd43dd8448eb211c80319c",
        "2af7651916cd43dd8448eb211c80319c",
    ];
    let mut body = vec![];
    for (i, trace) in traces[..2].iter().enumerate() {
        let t = t0 + i as u64 * 1_000_000_000;
        body.push(resource(
            "frontend",
            vec![
                span(trace, 1, None, 2, t, None),
                span(trace, 2, Some(1), 3, t + 10, None),
            ],
        ));
        let mut backend = vec![span(trace, 3, Some(2), 2, t + 20, None)];
        if i == 0 {
            backend.push(span(trace, 4, Some(3), 3, t + 30, Some("postgres")));
        }
        body.push(resource("backend", backend));
    }
    body.push(resource(
        "orders",
        vec![span(traces[2], 1, None, 4, t0, None)],
    ));
    body.push(resource(
        "billing",
        vec![span(traces[2], 2, Some(1), 5, t0 + 50, None)],
    ));
    let r = reqwest::blocking::Client::new()
        .post(j.otlp_http_url())
        .header("content-type", "application/json")
        .body(json!({"resourceSpans": body}).to_string())
        .send()
        .expect("POST /v1/traces");
    assert!(r.status().is_success(), "OTLP export: {}", r.status());
    let (lo, hi) = ((t0 - HOUR_NS) / 1000, (t0 + HOUR_NS) / 1000);
    j.wait_for_traces(
        &format!("/api/traces?service=frontend&start={lo}&end={hi}&limit=10"),
        2,
    );
    j.wait_for_traces(
        &format!("/api/traces?service=billing&start={lo}&end={hi}&limit=10"),
        1,
    );
}

fn expected_links() -> Vec<(String, String, u64)> {
    vec![
        ("backend".into(), "postgres".into(), 1),
        ("frontend".into(), "backend".into(), 2),
        ("orders".into(), "billing".into(), 1),
    ]
}

fn links(j: &Jaeger) -> Vec<(String, String, u64)> {
    let end_ms = now_nanos() / 1_000_000;
    let v = j.get_json(
        &format!(
            "/api/dependencies?endTs={end_ms}&lookback={}",
            3 * 3_600_000
        ),
        200,
    );
    let mut out: Vec<(String, String, u64)> = v["data"]
        .as_array()
        .unwrap_or_else(|| panic!("dependencies response: {v}"))
        .iter()
        .map(|l| {
            (
                l["parent"].as_str().unwrap_or_default().to_string(),
                l["child"].as_str().unwrap_or_default().to_string(),
                l["callCount"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

fn dependencies_cmd(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jaeger"));
    cmd.arg("dependencies")
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SPAN_STORAGE_TYPE")
        .env_remove("DEPENDENCIES_SCHEDULE");
    cmd
}

#[test]
fn the_dependencies_command_writes_links_the_query_api_serves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let t0 = previous_hour_middle();

    let j = Jaeger::start(&data);
    ingest(&j, t0);
    assert!(links(&j).is_empty(), "no links before the job ran");
    assert!(j.terminate().success());

    let out = dependencies_cmd(&data)
        .args(["--lookback", "1h", "--memory-limit", "64MB"])
        .output()
        .expect("run jaeger dependencies");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "jaeger dependencies failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("9 spans read, 3 traces, 3 links written (4 calls)"),
        "summary line:\n{stdout}\n{stderr}"
    );

    // Re-running the window replaces its links: the counts do not double.
    let again = dependencies_cmd(&data)
        .args(["--lookback", "1h"])
        .output()
        .expect("run jaeger dependencies again");
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let j = JaegerBuilder::new(&data).start();
    assert_eq!(links(&j), expected_links());
    drop(j);

    // Bad input fails with a clear message and a non-zero status.
    let bad = dependencies_cmd(&data)
        .args(["--schedule", "every day"])
        .output()
        .expect("run jaeger dependencies with a bad schedule");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(
        stderr.contains("invalid cron schedule \"every day\""),
        "{stderr}"
    );
    let bad = dependencies_cmd(&data)
        .args(["--start", "yesterday", "--end", "today"])
        .output()
        .expect("run jaeger dependencies with a bad window");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));
}

#[test]
fn the_all_in_one_runs_the_job_on_its_schedule() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let t0 = previous_hour_middle();
    let j = JaegerBuilder::new(&data)
        .arg("--dependencies.schedule")
        .arg("*/2 * * * * *")
        .arg("--dependencies.lookback")
        .arg("1h")
        .start();
    ingest(&j, t0);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = links(&j);
        if got == expected_links() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "links never appeared: {got:?}\n{}",
            j.logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(j.logs().contains("links written"), "{}", j.logs());
}
