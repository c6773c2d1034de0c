//! End-to-end: the real `jaeger` binary, spans in through OTLP (the OpenTelemetry Rust
//! SDK and raw OTLP/JSON), traces out through the Jaeger query API.

mod common;

use std::time::Duration;

use common::{Jaeger, JaegerBuilder, now_micros, now_nanos};
use serde_json::{Value, json};

/// An OTLP/JSON request with one trace: a server span and a client child with an event.
fn otlp_json_trace(service: &str, trace_id: &str, start_ns: u64) -> Value {
    json!({
      "resourceSpans": [{
        "resource": {"attributes": [
          {"key": "service.name", "value": {"stringValue": service}},
          {"key": "host.name", "value": {"stringValue": "box-1"}}
        ]},
        "scopeSpans": [{
          "scope": {"name": "e2e-json", "version": "1.2.3"},
          "spans": [
            {
              "traceId": trace_id, "spanId": "00000000000000a1",
              "name": "GET /checkout", "kind": 2,
              "startTimeUnixNano": start_ns.to_string(),
              "endTimeUnixNano": (start_ns + 5_000_000).to_string(),
              "attributes": [
                {"key": "http.method", "value": {"stringValue": "GET"}},
                {"key": "http.status_code", "value": {"intValue": "200"}},
                {"key": "cached", "value": {"boolValue": false}},
                {"key": "ratio", "value": {"doubleValue": 0.25}}
              ],
              "status": {}
            },
            {
              "traceId": trace_id, "spanId": "00000000000000b2", "parentSpanId": "00000000000000a1",
              "name": "SELECT orders", "kind": 3,
              "startTimeUnixNano": (start_ns + 1_000_000).to_string(),
              "endTimeUnixNano": (start_ns + 3_000_000).to_string(),
              "attributes": [{"key": "db.system", "value": {"stringValue": "postgresql"}}],
              "events": [{"timeUnixNano": (start_ns + 2_000_000).to_string(), "name": "rows fetched",
                          "attributes": [{"key": "rows", "value": {"intValue": "42"}}]}],
              "status": {"code": 2, "message": "deadlock"}
            }
          ]
        }]
      }]
    })
}

fn post_json(j: &Jaeger, body: &Value) -> reqwest::blocking::Response {
    reqwest::blocking::Client::new()
        .post(j.otlp_http_url())
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("POST /v1/traces")
}

/// The exact UI-model trace the JSON request above must read back as.
fn expected_ui_trace(service: &str, trace_id: &str, start_ns: u64) -> Value {
    let us = start_ns / 1000;
    json!({
      "traceID": trace_id,
      "spans": [
        {
          "traceID": trace_id, "spanID": "00000000000000a1", "operationName": "GET /checkout",
          "references": [], "startTime": us, "duration": 5000,
          "tags": [
            {"key": "otel.scope.name", "type": "string", "value": "e2e-json"},
            {"key": "otel.scope.version", "type": "string", "value": "1.2.3"},
            {"key": "cached", "type": "bool", "value": false},
            {"key": "http.method", "type": "string", "value": "GET"},
            {"key": "http.status_code", "type": "int64", "value": 200},
            {"key": "ratio", "type": "float64", "value": 0.25},
            {"key": "span.kind", "type": "string", "value": "server"}
          ],
          "logs": [], "processID": "p1", "warnings": null
        },
        {
          "traceID": trace_id, "spanID": "00000000000000b2", "operationName": "SELECT orders",
          "references": [{"refType": "CHILD_OF", "traceID": trace_id, "spanID": "00000000000000a1"}],
          "startTime": us + 1000, "duration": 2000,
          "tags": [
            {"key": "otel.scope.name", "type": "string", "value": "e2e-json"},
            {"key": "otel.scope.version", "type": "string", "value": "1.2.3"},
            {"key": "db.system", "type": "string", "value": "postgresql"},
            {"key": "span.kind", "type": "string", "value": "client"},
            {"key": "otel.status_code", "type": "string", "value": "ERROR"},
            {"key": "error", "type": "bool", "value": true},
            {"key": "otel.status_description", "type": "string", "value": "deadlock"}
          ],
          "logs": [{"timestamp": us + 2000, "fields": [
            {"key": "event", "type": "string", "value": "rows fetched"},
            {"key": "rows", "type": "int64", "value": 42}
          ]}],
          "processID": "p1", "warnings": null
        }
      ],
      "processes": {"p1": {"serviceName": service, "tags": [
        {"key": "host.name", "type": "string", "value": "box-1"}
      ]}},
      "warnings": null
    })
}

fn sort_spans(trace: &mut Value) {
    if let Some(spans) = trace["spans"].as_array_mut() {
        spans.sort_by(|a, b| a["spanID"].as_str().cmp(&b["spanID"].as_str()));
    }
}

#[test]
fn otlp_json_reads_back_exactly_through_every_query_route() {
    let dir = tempfile::tempdir().unwrap();
    let j = Jaeger::start(&dir.path().join("data"));
    let start = now_nanos() - 60_000_000_000;
    let tid = "5b8efff798038103d269b633813fc60c";
    let r = post_json(&j, &otlp_json_trace("shop", tid, start));
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().unwrap(), r#"{"partialSuccess":{}}"#);

    // Trace by id: the exact UI model.
    let mut v = j.get_json(&format!("/api/traces/{tid}"), 200);
    assert_eq!(v["errors"], Value::Null);
    sort_spans(&mut v["data"][0]);
    assert_eq!(v["data"][0], expected_ui_trace("shop", tid, start));

    // Search by service + operation + tag.
    let s = format!(
        "/api/traces?service=shop&operation=SELECT%20orders&tags=%7B%22db.system%22%3A%22postgresql%22%7D&start={}&end={}&limit=20",
        now_micros() - 3_600_000_000,
        now_micros()
    );
    let v = j.wait_for_traces(&s, 1);
    assert_eq!(v["data"][0]["traceID"], tid);
    // A tag that does not match finds nothing.
    let none = j.get_json("/api/traces?service=shop&tag=db.system:mysql", 200);
    assert_eq!(none["data"], json!([]));

    // Services and operations.
    let v = j.get_json("/api/services", 200);
    assert_eq!(v["data"], json!(["shop"]));
    assert_eq!(v["total"], 1);
    let v = j.get_json("/api/operations?service=shop", 200);
    let mut ops: Vec<(String, String)> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_string(),
                o["spanKind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    ops.sort();
    assert_eq!(
        ops,
        vec![
            ("GET /checkout".to_string(), "server".to_string()),
            ("SELECT orders".to_string(), "client".to_string())
        ]
    );
    let v = j.get_json("/api/operations?service=shop&spanKind=client", 200);
    assert_eq!(
        v["data"],
        json!([{"name": "SELECT orders", "spanKind": "client"}])
    );

    // api_v3: services, operations, trace by id, search, summaries.
    assert_eq!(
        j.get_json("/api/v3/services", 200),
        json!({"services": ["shop"]})
    );
    let v = j.get_json(&format!("/api/v3/traces/{tid}"), 200);
    let spans = &v["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"];
    assert_eq!(spans.as_array().unwrap().len(), 2);
    assert_eq!(spans[0]["traceId"], tid);
    let window = "query.startTimeMin=2000-01-01T00:00:00Z&query.startTimeMax=2100-01-01T00:00:00Z";
    let v = j.get_json(
        &format!("/api/v3/trace-summaries?query.serviceName=shop&{window}"),
        200,
    );
    assert_eq!(v["summaries"][0]["traceId"], tid);
    assert_eq!(v["summaries"][0]["spanCount"], 2);
    assert_eq!(v["summaries"][0]["errorSpanCount"], 1);
    assert_eq!(v["summaries"][0]["rootOperationName"], "GET /checkout");
}

#[test]
fn traces_survive_restart_and_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let start = now_nanos() - 10_000_000_000;
    let t1 = "0000000000000000000000000000a001";
    let t2 = "0000000000000000000000000000a002";

    // Graceful restart.
    let j = Jaeger::start(&data);
    assert_eq!(
        post_json(&j, &otlp_json_trace("restart", t1, start)).status(),
        200
    );
    assert!(j.terminate().success(), "clean exit on SIGTERM");
    let j = Jaeger::start(&data);
    // Jaeger prints 16 hex digits when the high half of the id is zero.
    let v = j.get_json("/api/traces/a001", 200);
    assert_eq!(v["data"][0]["traceID"], "000000000000a001");
    assert_eq!(v["data"][0]["spans"].as_array().unwrap().len(), 2);

    // kill -9 right after the write was acknowledged.
    assert_eq!(
        post_json(&j, &otlp_json_trace("restart", t2, start)).status(),
        200
    );
    j.kill9();
    let j = Jaeger::start(&data);
    for id in ["a001", "a002"] {
        let v = j.get_json(&format!("/api/traces/{id}"), 200);
        assert_eq!(v["data"][0]["spans"].as_array().unwrap().len(), 2, "{id}");
    }
    assert!(
        j.logs().contains(&data.display().to_string()),
        "the data directory is printed at start-up"
    );
}

#[test]
fn memory_backend_is_selectable_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let j = JaegerBuilder::new(&dir.path().join("unused"))
        .arg("--storage")
        .arg("memory")
        .arg("--memory.max-traces")
        .arg("2")
        .start();
    let start = now_nanos() - 10_000_000_000;
    for i in 1..=3 {
        let tid = format!("{:032x}", 0xb000 + i);
        assert_eq!(
            post_json(&j, &otlp_json_trace("mem", &tid, start)).status(),
            200
        );
    }
    // The oldest trace was evicted.
    j.get_json("/api/traces/b001", 404);
    j.get_json("/api/traces/b003", 200);
    assert!(
        !dir.path().join("unused").exists(),
        "the memory backend writes nothing to disk"
    );
}

#[test]
fn bad_input_gets_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let j = JaegerBuilder::new(&dir.path().join("data"))
        .arg("--collector.otlp.http.max-request-body-bytes")
        .arg("4096")
        .start();
    let c = reqwest::blocking::Client::new();
    let url = j.otlp_http_url();

    let r = c
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff, 0xff, 0xff])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    let r = c
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"resourceSpans\": 7}")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().unwrap();
    assert_eq!(body["code"], 3);
    assert!(
        body["message"].as_str().unwrap().contains("resourceSpans"),
        "{body}"
    );

    let r = c
        .post(&url)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);

    let r = c.get(&url).send().unwrap();
    assert_eq!(r.status().as_u16(), 405);

    let r = c
        .post(&url)
        .header("content-type", "application/json")
        .body(vec![b' '; 10_000])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);

    let v = j.get_json("/api/traces?limit=5", 400);
    assert_eq!(v["errors"][0]["msg"], "parameter 'service' is required");
    j.get_json("/api/traces/not-hex!", 400);
    // The process is still serving after all that.
    j.get_json("/api/services", 200);
}

#[test]
fn health_and_metrics_report_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let j = Jaeger::start(&dir.path().join("data"));
    let start = now_nanos() - 10_000_000_000;
    let tid = "0000000000000000000000000000c001";
    assert_eq!(
        post_json(&j, &otlp_json_trace("metrics", tid, start)).status(),
        200
    );

    let health: Value = reqwest::blocking::get(format!("http://{}/status", j.ports.health))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["healthy"], true);
    assert_eq!(health["status"], "StatusOK");

    let text = reqwest::blocking::get(format!("http://{}/metrics", j.ports.metrics))
        .unwrap()
        .text()
        .unwrap();
    let accepted = text
        .lines()
        .find(|l| {
            l.starts_with("otelcol_receiver_accepted_spans_total")
                && l.contains("transport=\"http\"")
        })
        .unwrap_or_else(|| panic!("no accepted-spans series:\n{text}"));
    assert!(accepted.ends_with(" 2"), "{accepted}");
    assert!(text.contains("process_resident_memory_bytes"), "{text}");
    assert!(
        text.contains("jaeger_storage_write_latency_seconds"),
        "{text}"
    );
}

mod sdk {
    //! Spans produced by the OpenTelemetry Rust SDK and its OTLP exporters.

    use super::*;
    use opentelemetry::trace::{Span, SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
    use opentelemetry::{Context, KeyValue};
    use opentelemetry_otlp::{SpanExporter, WithExportConfig};
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::SdkTracerProvider;

    /// Emits a two-span trace and returns its id as Jaeger prints it.
    fn emit(provider: &SdkTracerProvider) -> String {
        let tracer = provider.tracer("e2e-sdk");
        let root = tracer
            .span_builder("place order")
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("order.items", 3i64),
                KeyValue::new("order.priority", true),
            ])
            .start(&tracer);
        let trace_id = root.span_context().trace_id();
        let cx = Context::current_with_span(root);
        let mut child = tracer
            .span_builder("charge card")
            .with_kind(SpanKind::Client)
            .start_with_context(&tracer, &cx);
        child.add_event("card declined", vec![KeyValue::new("attempt", 1i64)]);
        child.set_status(Status::error("declined"));
        child.end();
        cx.span().end();
        provider.force_flush().expect("flush the exporter");
        let hex = format!("{trace_id:032x}");
        match hex.strip_prefix("0000000000000000") {
            Some(low) => low.to_string(),
            None => hex,
        }
    }

    fn check(j: &Jaeger, service: &str, trace_id: &str) {
        let v = j.wait_for_traces(&format!("/api/traces?service={service}"), 1);
        let trace = &v["data"][0];
        assert_eq!(trace["traceID"], trace_id);
        let spans = trace["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 2);
        let child = spans
            .iter()
            .find(|s| s["operationName"] == "charge card")
            .expect("child span");
        let root = spans
            .iter()
            .find(|s| s["operationName"] == "place order")
            .expect("root span");
        assert_eq!(child["references"][0]["refType"], "CHILD_OF");
        assert_eq!(child["references"][0]["spanID"], root["spanID"]);
        let tag = |s: &Value, k: &str| {
            s["tags"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["key"] == k)
                .map(|t| t["value"].clone())
        };
        assert_eq!(tag(root, "order.items"), Some(json!(3)));
        assert_eq!(tag(root, "order.priority"), Some(json!(true)));
        assert_eq!(tag(root, "span.kind"), Some(json!("server")));
        assert_eq!(tag(root, "otel.scope.name"), Some(json!("e2e-sdk")));
        assert_eq!(tag(child, "error"), Some(json!(true)));
        assert_eq!(
            tag(child, "otel.status_description"),
            Some(json!("declined"))
        );
        assert_eq!(child["logs"][0]["fields"][0]["value"], "card declined");
        let p = &trace["processes"][root["processID"].as_str().unwrap()];
        assert_eq!(p["serviceName"], service);
        assert!(
            p["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["key"] == "telemetry.sdk.language" && t["value"] == "rust"),
            "{p}"
        );
    }

    #[test]
    fn otel_rust_sdk_over_grpc() {
        let dir = tempfile::tempdir().unwrap();
        let j = Jaeger::start(&dir.path().join("data"));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        // The tonic channel spawns its worker on this runtime.
        let provider = rt.block_on(async {
            let exporter = SpanExporter::builder()
                .with_tonic()
                .with_endpoint(j.otlp_grpc_url())
                .with_timeout(Duration::from_secs(10))
                .build()
                .expect("grpc exporter");
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(Resource::builder().with_service_name("sdk-grpc").build())
                .build()
        });
        let tid = emit(&provider);
        check(&j, "sdk-grpc", &tid);
        provider.shutdown().expect("shutdown");
    }

    #[test]
    fn otel_rust_sdk_over_http_protobuf() {
        let dir = tempfile::tempdir().unwrap();
        let j = Jaeger::start(&dir.path().join("data"));
        let exporter = SpanExporter::builder()
            .with_http()
            .with_endpoint(j.otlp_http_url())
            .with_timeout(Duration::from_secs(10))
            .build()
            .expect("http exporter");
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("sdk-http").build())
            .build();
        let tid = emit(&provider);
        check(&j, "sdk-http", &tid);
        provider.shutdown().expect("shutdown");
    }
}
