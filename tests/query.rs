//! End-to-end: query-side behaviour of the real binary (adjusters, raw toggle, base path).

mod common;

use common::{Jaeger, JaegerBuilder, now_nanos};
use serde_json::{Value, json};

/// A parent on host a and a child on host b whose clock runs 20 ms behind, so the
/// child seems to start before its parent (spec case 11 shape).
fn skewed_trace(start: u64) -> Value {
    let ms = 1_000_000u64;
    let span = |id: &str, parent: &str, s: u64, d: u64| {
        json!({"traceId": "000000000000000000000000000000d1", "spanId": id, "parentSpanId": parent,
               "name": format!("op-{id}"), "kind": 2,
               "startTimeUnixNano": s.to_string(), "endTimeUnixNano": (s + d).to_string()})
    };
    let resource = |host: &str| {
        json!({"attributes": [
            {"key": "service.name", "value": {"stringValue": format!("svc-{host}")}},
            {"key": "host.name", "value": {"stringValue": host}}]})
    };
    json!({"resourceSpans": [
        {"resource": resource("a"), "scopeSpans": [{"spans": [span("00000000000000a1", "", start + 10 * ms, 100 * ms)]}]},
        {"resource": resource("b"), "scopeSpans": [{"spans": [span("00000000000000b2", "00000000000000a1", start, 50 * ms)]}]}
    ]})
}

fn child(v: &Value) -> &Value {
    v["data"][0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["spanID"] == "00000000000000b2")
        .expect("child span")
}

fn post(j: &Jaeger, body: &Value) {
    let r = reqwest::blocking::Client::new()
        .post(j.otlp_http_url())
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[test]
fn clock_skew_is_corrected_and_raw_shows_the_stored_times() {
    let dir = tempfile::tempdir().unwrap();
    let j = JaegerBuilder::new(&dir.path().join("data"))
        .arg("--query.max-clock-skew-adjustment")
        .arg("1s")
        .start();
    let start = (now_nanos() - 60_000_000_000) / 1000 * 1000;
    post(&j, &skewed_trace(start));
    let start_us = start / 1000;

    let adjusted = j.get_json("/api/traces/d1", 200);
    let c = child(&adjusted);
    // Centred in the parent: latency (100-50)/2 = 25 ms after the parent's start (10 ms).
    assert_eq!(c["startTime"], start_us + 35_000);
    assert_eq!(
        c["warnings"],
        json!(["This span's timestamps were adjusted by 35ms"])
    );

    let raw = j.get_json("/api/traces/d1?raw=true", 200);
    let c = child(&raw);
    assert_eq!(c["startTime"], start_us);
    assert_eq!(c["warnings"], Value::Null);
}

#[test]
fn clock_skew_correction_is_off_by_default_but_warns() {
    let dir = tempfile::tempdir().unwrap();
    let j = Jaeger::start(&dir.path().join("data"));
    let start = (now_nanos() - 60_000_000_000) / 1000 * 1000;
    post(&j, &skewed_trace(start));
    let v = j.get_json("/api/traces/d1", 200);
    let c = child(&v);
    assert_eq!(c["startTime"], start / 1000);
    assert_eq!(
        c["warnings"],
        json!(["clock skew adjustment disabled; not applying calculated delta of 35ms"])
    );
}

#[test]
fn base_path_prefixes_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let j = JaegerBuilder::new(&dir.path().join("data"))
        .env("QUERY_BASE_PATH", "/jaeger")
        .start();
    j.get_json("/jaeger/api/services", 200);
    // Unknown API paths are 404 text, never the UI page.
    let r = reqwest::blocking::get(j.query_url("/jaeger/api/nope")).unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(r.text().unwrap(), "404 page not found\n");
    // Everything else under the base path is the UI.
    let r = reqwest::blocking::get(j.query_url("/jaeger/search")).unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().unwrap().contains("<html"));
    // Outside the base path nothing is served.
    let r = reqwest::blocking::get(j.query_url("/api/services")).unwrap();
    assert_eq!(r.status().as_u16(), 404);
}
