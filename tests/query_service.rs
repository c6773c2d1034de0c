//! End-to-end: the query service's ports and flags on the real binary: the gRPC query
//! APIs (api_v2, api_v3) answering with what HTTP answers, another UI build and its
//! config, response headers, CORS, multi-tenancy, archive storage and the trace size cap.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Jaeger, JaegerBuilder, now_nanos};
use jaeger_proto::api_v2 as v2;
use jaeger_proto::api_v2::query_service_client::QueryServiceClient as V2Client;
use jaeger_proto::api_v3 as v3;
use jaeger_proto::api_v3::query_service_client::QueryServiceClient as V3Client;
use serde_json::{Value, json};

/// A trace of `n` spans: a root on `frontend`, the others its children on `backend`.
fn trace(trace_id: &str, n: usize) -> Value {
    let start = now_nanos() - 5_000_000_000;
    let span = |i: usize| {
        let parent = if i == 0 {
            String::new()
        } else {
            format!("{:016x}", 1)
        };
        json!({"traceId": trace_id, "spanId": format!("{:016x}", i + 1), "parentSpanId": parent,
               "name": format!("op-{i}"), "kind": 2,
               "startTimeUnixNano": (start + i as u64 * 1000).to_string(),
               "endTimeUnixNano": (start + 1_000_000).to_string()})
    };
    let resource = |svc: &str, spans: Vec<Value>| {
        json!({"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
               "scopeSpans": [{"spans": spans}]})
    };
    json!({"resourceSpans": [
        resource("frontend", vec![span(0)]),
        resource("backend", (1..n).map(span).collect()),
    ]})
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

/// `GET /api/traces/{id}` once the trace is readable.
fn wait_trace(j: &Jaeger, path: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = reqwest::blocking::get(j.query_url(path)).unwrap();
        if r.status().as_u16() == 200 {
            return r.json().unwrap();
        }
        assert!(Instant::now() < deadline, "{path} never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn span_names(ui_trace: &Value) -> BTreeSet<(String, String)> {
    ui_trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["spanID"].as_str().unwrap().to_string(),
                s["operationName"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn grpc_query_port_answers_what_http_answers() {
    let dir = tempfile::tempdir().unwrap();
    let j = Jaeger::start(&dir.path().join("data"));
    let id = "5b8efff798038103d269b633813fc60c";
    post(&j, &trace(id, 3));
    let http = wait_trace(&j, &format!("/api/traces/{id}"));
    let want = span_names(&http["data"][0]);
    assert_eq!(want.len(), 3);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = format!("http://{}", j.ports.query_grpc);
    rt.block_on(async {
        let mut c2 = V2Client::connect(url.clone()).await.unwrap();
        let services = c2
            .get_services(v2::GetServicesRequest {})
            .await
            .unwrap()
            .into_inner()
            .services;
        assert_eq!(
            services.into_iter().collect::<BTreeSet<_>>(),
            BTreeSet::from(["backend".to_string(), "frontend".to_string()])
        );
        let mut stream = c2
            .get_trace(v2::GetTraceRequest {
                trace_id: (0..16)
                    .map(|i| u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap())
                    .collect(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut got = BTreeSet::new();
        while let Some(chunk) = stream.message().await.unwrap() {
            for s in chunk.spans {
                assert_eq!(hex(&s.trace_id), id);
                got.insert((hex(&s.span_id), s.operation_name));
            }
        }
        assert_eq!(got, want, "api_v2 GetTrace");

        let mut c3 = V3Client::connect(url).await.unwrap();
        let services = c3
            .get_services(v3::GetServicesRequest {})
            .await
            .unwrap()
            .into_inner()
            .services;
        assert_eq!(services.len(), 2, "{services:?}");
        let mut stream = c3
            .get_trace(v3::GetTraceRequest {
                trace_id: id.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut got = BTreeSet::new();
        while let Some(td) = stream.message().await.unwrap() {
            for s in td
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
            {
                got.insert((hex(&s.span_id), s.name.clone()));
            }
        }
        assert_eq!(got, want, "api_v3 GetTrace");

        let missing = c3
            .get_trace(v3::GetTraceRequest {
                trace_id: "00000000000000000000000000000bad".into(),
                ..Default::default()
            })
            .await;
        let code = match missing {
            Err(s) => s.code(),
            Ok(r) => match r.into_inner().message().await {
                Err(s) => s.code(),
                Ok(m) => panic!("a missing trace returned {m:?}"),
            },
        };
        assert_eq!(code, tonic::Code::NotFound);
    });
}

#[test]
fn another_ui_build_with_its_config_and_extra_headers() {
    let dir = tempfile::tempdir().unwrap();
    let ui = dir.path().join("ui");
    std::fs::create_dir_all(ui.join("static")).unwrap();
    std::fs::write(
        ui.join("index.html"),
        "<html><head><base href=\"/\"><script>const JAEGER_CONFIG = DEFAULT_CONFIG;\
         const JAEGER_VERSION = DEFAULT_VERSION;</script></head><body>official-ui</body></html>",
    )
    .unwrap();
    std::fs::write(ui.join("static/index-3f2a9c1b.js"), "console.log('ui');").unwrap();
    let cfg = dir.path().join("ui-config.json");
    std::fs::write(&cfg, r#"{"dependencies": {"menuEnabled": false}}"#).unwrap();

    let j = JaegerBuilder::new(&dir.path().join("data"))
        .arg("--query.static-files")
        .arg(ui.to_str().unwrap())
        .env("QUERY_UI_CONFIG", cfg.to_str().unwrap())
        .arg("--query.additional-headers=X-Frame-Options: DENY")
        .arg("--query.base-path=/jaeger")
        .start();
    let r = reqwest::blocking::get(j.query_url("/jaeger/search")).unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let body = r.text().unwrap();
    assert!(body.contains("official-ui"), "{body}");
    assert!(
        body.contains(r#"JAEGER_CONFIG = {"dependencies":{"menuEnabled":false}};"#),
        "{body}"
    );
    assert!(body.contains(r#"<base href="/jaeger/""#), "{body}");
    let r = reqwest::blocking::get(j.query_url("/jaeger/static/index-3f2a9c1b.js")).unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(r.text().unwrap(), "console.log('ui');");
}

#[test]
fn unreadable_ui_options_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value, says) in [
        (
            "--query.static-files",
            "/nonexistent/ui",
            "cannot open UI assets directory",
        ),
        (
            "--query.ui-config",
            "/nonexistent/ui.json",
            "cannot read UI config file",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_jaeger"))
            .args(["--storage", "memory", flag, value])
            .args(["--health.host-port", &common::free_port().to_string()])
            .args(["--metrics.host-port", &common::free_port().to_string()])
            .args([
                "--collector.otlp.grpc.host-port",
                &common::free_port().to_string(),
            ])
            .args([
                "--collector.otlp.http.host-port",
                &common::free_port().to_string(),
            ])
            .args([
                "--query.http-server.host-port",
                &common::free_port().to_string(),
            ])
            .args(["--query.grpc-server.host-port", "off"])
            .args(["--collector.grpc-server.host-port", "off"])
            .args(["--collector.http-server.host-port", "off"])
            .args(["--collector.zipkin.host-port", "off"])
            .args(["--processor.jaeger-compact.server-host-port", "off"])
            .args(["--processor.jaeger-binary.server-host-port", "off"])
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag}: {stderr}");
        assert!(stderr.contains(flag) && stderr.contains(says), "{stderr}");
    }
}

#[test]
fn cors_and_tenancy_from_env_vars() {
    let dir = tempfile::tempdir().unwrap();
    let j = JaegerBuilder::new(&dir.path().join("data"))
        .env("QUERY_CORS_ALLOWED_ORIGINS", "https://*.example.com")
        .env("QUERY_CORS_ALLOWED_HEADERS", "x-tenant")
        .env("MULTI_TENANCY_ENABLED", "true")
        .env("MULTI_TENANCY_TENANTS", "acme,globex")
        .start();
    let c = reqwest::blocking::Client::new();
    let get = |tenant: Option<&str>| {
        let mut r = c.get(j.query_url("/api/services"));
        if let Some(t) = tenant {
            r = r.header("x-tenant", t);
        }
        let r = r.send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    let (status, body) = get(None);
    assert_eq!(
        (status, body.contains("missing tenant header")),
        (401, true)
    );
    let (status, body) = get(Some("initech"));
    assert_eq!((status, body.contains("unknown tenant")), (401, true));
    assert_eq!(get(Some("acme")).0, 200);

    // A browser's preflight from an allowed origin, before any tenant is known.
    let r = c
        .request(reqwest::Method::OPTIONS, j.query_url("/api/services"))
        .header("origin", "https://ui.example.com")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-tenant")
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://ui.example.com"
    );
    assert!(
        r.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("x-tenant")
    );
    let r = c
        .get(j.query_url("/api/services"))
        .header("origin", "https://evil.org")
        .header("x-tenant", "acme")
        .send()
        .unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));
}

#[test]
fn archive_keeps_traces_the_primary_store_evicts() {
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = dir.path().join("archive");
    let start = |data: &str| {
        JaegerBuilder::new(&dir.path().join(data))
            .arg("--storage=memory")
            .arg("--memory.max-traces=1")
            .arg("--query.archive")
            .arg(archive_dir.to_str().unwrap())
            .arg("--query.max-trace-size=2")
            .start()
    };
    let j = start("data");
    let kept = "000000000000000000000000000a4c1d";
    post(&j, &trace(kept, 3));
    let t = wait_trace(&j, &format!("/api/traces/{kept}"));
    // --query.max-trace-size: two of the three spans, and a warning on the first.
    let spans = t["data"][0]["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(
        spans[0]["warnings"][0],
        "trace has more than 2 spans, showing first 2 spans only"
    );
    let index = reqwest::blocking::get(j.query_url("/"))
        .unwrap()
        .text()
        .unwrap();
    assert!(index.contains(r#""archiveStorage":true"#), "{index}");

    let r = reqwest::blocking::Client::new()
        .post(j.query_url(&format!("/api/archive/{kept}")))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // The memory store keeps one trace: a new one evicts the archived one from it.
    let other = "00000000000000000000000000000e1f";
    post(&j, &trace(other, 1));
    wait_trace(&j, &format!("/api/traces/{other}"));
    let t = wait_trace(&j, &format!("/api/traces/{kept}"));
    assert_eq!(t["data"][0]["spans"].as_array().unwrap().len(), 2);
    let search = j.get_json("/api/traces?service=frontend&limit=10", 200);
    assert_eq!(search["data"].as_array().unwrap().len(), 1, "{search}");
    drop(j);

    // The embedded archive outlives the process; the new memory store is empty.
    let j = start("data2");
    let t = j.get_json(&format!("/api/traces/{kept}"), 200);
    assert_eq!(t["data"][0]["traceID"], "00000000000a4c1d");
    j.get_json("/api/traces/00000000000000000000000000000e1f", 404);
}

#[test]
fn archiving_without_archive_storage_is_a_500() {
    let dir = tempfile::tempdir().unwrap();
    let j = Jaeger::start(&dir.path().join("data"));
    let r = reqwest::blocking::Client::new()
        .post(j.query_url("/api/archive/000000000000000000000000000a4c1d"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 500);
    assert!(
        r.text()
            .unwrap()
            .contains("archive span storage was not configured")
    );
}
