//! The query router in-process (`tower::ServiceExt::oneshot`) over a small fixture
//! store: golden JSON for every route, Jaeger's status codes and error bodies, and a
//! 400 (never a 500) with Jaeger's message for every bad parameter.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use jaeger_model::otlp::common::{ArrayValue, KeyValueList};
use jaeger_model::otlp::{
    AnyValue, Event, InstrumentationScope, KeyValue, Link, Resource, ResourceSpans, ScopeSpans,
    Span, Status, Value,
};
use jaeger_model::trace::{group_by_trace, kv, service_name, value_to_string};
use jaeger_model::{SpanId, Trace, TraceId};
use jaeger_query::{QueryState, UiOptions, VersionInfo, router};
use jaeger_storage::{
    DependencyLink, DependencyStore, GetTraceParams, Operation, OperationQuery, Result, SpanReader,
    StorageError, TraceQuery, UnixNanos,
};
use tower::ServiceExt;

// ---------------------------------------------------------------------------------
// Fixture store

#[derive(Default)]
struct Fixture {
    batch: Vec<ResourceSpans>,
    operations: Vec<(String, Operation)>,
    links: Vec<DependencyLink>,
    /// When set, every call fails with this error.
    fail: Option<fn() -> StorageError>,
    last_query: Mutex<Option<TraceQuery>>,
    last_get: Mutex<Vec<GetTraceParams>>,
    last_operations: Mutex<Option<OperationQuery>>,
    last_dependencies: Mutex<Option<(UnixNanos, u64)>>,
}

impl Fixture {
    fn check(&self) -> Result<()> {
        match self.fail {
            Some(f) => Err(f()),
            None => Ok(()),
        }
    }

    fn traces(&self) -> Vec<Trace> {
        group_by_trace(&self.batch)
            .into_iter()
            .map(|(_, rs)| Trace::new(rs))
            .collect()
    }
}

#[async_trait]
impl SpanReader for Fixture {
    async fn get_trace(&self, params: GetTraceParams) -> Result<Option<Trace>> {
        self.check()?;
        self.last_get.lock().unwrap().push(params.clone());
        Ok(self
            .traces()
            .into_iter()
            .find(|t| t.trace_id() == Some(params.trace_id)))
    }

    async fn find_traces(&self, q: &TraceQuery) -> Result<Vec<Trace>> {
        self.check()?;
        *self.last_query.lock().unwrap() = Some(q.clone());
        let matches = |t: &Trace| {
            t.spans().any(|s| {
                q.service_name
                    .as_deref()
                    .is_none_or(|n| s.service_name() == n)
                    && q.operation_name.as_deref().is_none_or(|n| s.span.name == n)
                    && q.tags.iter().all(|(k, v)| {
                        s.span.attributes.iter().any(|a| {
                            &a.key == k
                                && a.value
                                    .as_ref()
                                    .and_then(|x| x.value.as_ref())
                                    .is_some_and(|x| &value_to_string(x) == v)
                        })
                    })
                    && s.span.start_time_unix_nano >= q.start_time_min
                    && s.span.start_time_unix_nano <= q.start_time_max
            })
        };
        Ok(self
            .traces()
            .into_iter()
            .filter(matches)
            .take(q.num_traces)
            .collect())
    }

    async fn find_trace_ids(&self, q: &TraceQuery) -> Result<Vec<TraceId>> {
        Ok(self
            .find_traces(q)
            .await?
            .iter()
            .filter_map(Trace::trace_id)
            .collect())
    }

    async fn get_services(&self) -> Result<Vec<String>> {
        self.check()?;
        let mut s: Vec<String> = self
            .batch
            .iter()
            .filter_map(|rs| rs.resource.as_ref())
            .map(|r| service_name(r).to_string())
            .collect();
        s.sort();
        s.dedup();
        Ok(s)
    }

    async fn get_operations(&self, q: &OperationQuery) -> Result<Vec<Operation>> {
        self.check()?;
        *self.last_operations.lock().unwrap() = Some(q.clone());
        Ok(self
            .operations
            .iter()
            .filter(|(svc, op)| {
                *svc == q.service_name && q.span_kind.as_ref().is_none_or(|k| *k == op.span_kind)
            })
            .map(|(_, op)| op.clone())
            .collect())
    }
}

#[async_trait]
impl DependencyStore for Fixture {
    async fn get_dependencies(&self, end: UnixNanos, lookback: u64) -> Result<Vec<DependencyLink>> {
        self.check()?;
        *self.last_dependencies.lock().unwrap() = Some((end, lookback));
        Ok(self.links.clone())
    }

    async fn write_dependencies(
        &self,
        _start: UnixNanos,
        _end: UnixNanos,
        _links: Vec<DependencyLink>,
    ) -> Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// Fixture data: our equivalent of Jaeger's otlp2jaeger-in.json.

const TRACE_A: &str = "83a9efd15c1c98a977e0711cc93ee28b";
const TRACE_B: &str = "0000000000000000000000000000abcd";
const TRACE_NAN: &str = "00000000000000000000000000000bad";
const T0: u64 = 1_706_678_909_209_712_000;

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

fn tid(h: &str) -> Vec<u8> {
    TraceId::parse_hex(h).unwrap().0.to_vec()
}

fn sid(h: &str) -> Vec<u8> {
    SpanId::parse_hex(h).unwrap().0.to_vec()
}

fn resource(
    attrs: Vec<KeyValue>,
    scope: Option<InstrumentationScope>,
    spans: Vec<Span>,
) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: attrs,
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope,
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

fn frontend_attrs() -> Vec<KeyValue> {
    vec![
        kv("service.name", s("frontend")),
        kv("host.name", s("web-1")),
        kv("telemetry.sdk.language", s("go")),
    ]
}

fn batch() -> Vec<ResourceSpans> {
    let root = Span {
        trace_id: tid(TRACE_A),
        span_id: sid("e127af99e3b3e074"),
        trace_state: "rojo=00f067aa0ba902b7".into(),
        name: "GET /dispatch".into(),
        kind: 2,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 123_456_789,
        attributes: vec![
            kv("http.method", s("GET")),
            kv("http.status_code", Value::IntValue(200)),
            kv("ratio", Value::DoubleValue(0.25)),
            kv("big", Value::IntValue(9_223_372_036_854_775_222)),
            kv("html", s("<b>&</b>")),
        ],
        events: vec![Event {
            time_unix_nano: T0 + 100_000,
            name: "cache miss".into(),
            attributes: vec![kv("key", s("user:1"))],
            dropped_attributes_count: 0,
        }],
        status: Some(Status {
            message: String::new(),
            code: 1,
        }),
        ..Default::default()
    };
    let child = Span {
        trace_id: tid(TRACE_A),
        span_id: sid("909541b92cf05311"),
        parent_span_id: sid("e127af99e3b3e074"),
        name: "SELECT users".into(),
        kind: 3,
        start_time_unix_nano: T0 + 10_000_000,
        end_time_unix_nano: T0 + 30_000_000,
        attributes: vec![
            kv("db.system", s("mysql")),
            kv("payload", Value::BytesValue(vec![0, 0, 0x30, 0x39])),
            kv(
                "rows",
                Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(s("a")),
                        },
                        AnyValue {
                            value: Some(Value::IntValue(2)),
                        },
                    ],
                }),
            ),
            kv(
                "conn",
                Value::KvlistValue(KeyValueList {
                    values: vec![kv("pool", s("main")), kv("idle", Value::BoolValue(true))],
                }),
            ),
            kv(
                "@jaeger@warnings",
                Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(s("clock skew")),
                    }],
                }),
            ),
        ],
        links: vec![Link {
            trace_id: tid(TRACE_B),
            span_id: sid("0000000000000001"),
            attributes: vec![kv("opentracing.ref_type", s("child_of"))],
            ..Default::default()
        }],
        status: Some(Status {
            message: "timeout".into(),
            code: 2,
        }),
        ..Default::default()
    };
    let health = Span {
        trace_id: tid(TRACE_B),
        span_id: sid("0000000000000001"),
        name: "GET /health".into(),
        kind: 2,
        start_time_unix_nano: T0 + 1_000_000_000,
        end_time_unix_nano: T0 + 1_000_500_000,
        ..Default::default()
    };
    let nan = Span {
        trace_id: tid(TRACE_NAN),
        span_id: sid("0000000000000002"),
        name: "nan".into(),
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 1000,
        attributes: vec![kv("x", Value::DoubleValue(f64::NAN))],
        ..Default::default()
    };
    vec![
        resource(
            frontend_attrs(),
            Some(InstrumentationScope {
                name: "http-lib".into(),
                version: "1.0.0".into(),
                ..Default::default()
            }),
            vec![root],
        ),
        resource(vec![kv("service.name", s("backend"))], None, vec![child]),
        resource(frontend_attrs(), None, vec![health]),
        resource(vec![kv("service.name", s("nan-svc"))], None, vec![nan]),
    ]
}

fn fixture() -> Fixture {
    let op = |svc: &str, name: &str, kind: &str| {
        (
            svc.to_string(),
            Operation {
                name: name.into(),
                span_kind: kind.into(),
            },
        )
    };
    let link = |p: &str, c: &str, n: u64| DependencyLink {
        parent: p.into(),
        child: c.into(),
        call_count: n,
        source: "jaeger".into(),
    };
    Fixture {
        batch: batch(),
        operations: vec![
            op("frontend", "GET /dispatch", "server"),
            op("frontend", "GET /health", "server"),
            op("frontend", "GET /dispatch", "client"),
            op("backend", "SELECT users", "client"),
            op("backend", "pool.acquire", ""),
            op("my svc", "spaced", "internal"),
        ],
        links: vec![
            link("frontend", "backend", 5),
            link("backend", "mysql", 3),
            link("frontend", "backend", 7),
            link("a", "b", 1),
        ],
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------
// Helpers

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Resp {
    fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn app_with(f: Fixture, base: &str) -> (Router, Arc<Fixture>) {
    let f = Arc::new(f);
    let mut state = QueryState::new(f.clone(), f.clone());
    state.base_path = base.into();
    state.ui = UiOptions {
        version: VersionInfo {
            git_commit: "abc123".into(),
            git_version: "v2.20.0".into(),
            build_date: "2026-01-01".into(),
        },
        ..Default::default()
    };
    (router(state), f)
}

fn app() -> (Router, Arc<Fixture>) {
    app_with(fixture(), "/")
}

async fn call(router: &Router, method: Method, uri: &str) -> Resp {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn get(router: &Router, uri: &str) -> Resp {
    call(router, Method::GET, uri).await
}

/// Compares with `tests/golden/<name>`; `UPDATE_GOLDEN=1` rewrites the file.
fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(actual, want.trim_end_matches('\n'), "golden {name}");
}

fn assert_ok_json(r: &Resp) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.content_type(), "application/json");
    assert!(!r.body.ends_with('\n'));
}

/// Go's `http.Error`: text/plain, nosniff, trailing newline.
fn assert_http_error(r: &Resp, status: StatusCode) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.content_type(), "text/plain; charset=utf-8");
    assert_eq!(r.headers.get("x-content-type-options").unwrap(), "nosniff");
    assert!(r.body.ends_with('\n'));
}

fn v1_error_body(code: u16, msg: &str) -> String {
    format!(
        r#"{{"data":null,"total":0,"limit":0,"offset":0,"errors":[{{"code":{code},"msg":{}}}]}}"#,
        serde_json::to_string(msg).unwrap()
    ) + "\n"
}

fn v3_error_body(code: u16, msg: &str) -> String {
    format!(
        "{}\n",
        serde_json::json!({"error": {"httpCode": code, "message": msg}})
    )
}

// ---------------------------------------------------------------------------------
// /api

#[tokio::test]
async fn services() {
    let (r, _) = app();
    let resp = get(&r, "/api/services").await;
    assert_ok_json(&resp);
    assert_eq!(
        resp.body,
        r#"{"data":["backend","frontend","nan-svc"],"total":3,"limit":0,"offset":0,"errors":null}"#
    );
    // Empty is [], not null.
    let (r, _) = app_with(Fixture::default(), "/");
    assert_eq!(
        get(&r, "/api/services").await.body,
        r#"{"data":[],"total":0,"limit":0,"offset":0,"errors":null}"#
    );
}

#[tokio::test]
async fn head_answers_like_get_without_body() {
    let (r, _) = app();
    let resp = call(&r, Method::HEAD, "/api/services").await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.content_type(), "application/json");
    assert_eq!(resp.body, "");
}

#[tokio::test]
async fn legacy_service_operations() {
    let (r, f) = app();
    let resp = get(&r, "/api/services/frontend/operations").await;
    assert_ok_json(&resp);
    assert_eq!(
        resp.body,
        r#"{"data":["GET /dispatch","GET /health"],"total":2,"limit":0,"offset":0,"errors":null}"#
    );
    // Every kind is asked for.
    assert_eq!(
        f.last_operations
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .span_kind,
        None
    );
    // The path value is unescaped twice: `+` and `%2B` read as a space.
    let resp = get(&r, "/api/services/my+svc/operations").await;
    assert_eq!(resp.json()["data"], serde_json::json!(["spaced"]));
    let resp = get(&r, "/api/services/my%2Bsvc/operations").await;
    assert_eq!(resp.json()["data"], serde_json::json!(["spaced"]));
    // No operations: data is null.
    let resp = get(&r, "/api/services/nobody/operations").await;
    assert_eq!(
        resp.body,
        r#"{"data":null,"total":0,"limit":0,"offset":0,"errors":null}"#
    );
}

#[tokio::test]
async fn operations_with_kind() {
    let (r, f) = app();
    let resp = get(&r, "/api/operations?service=frontend&spanKind=server").await;
    assert_ok_json(&resp);
    golden("operations.json", &resp.body);
    assert_eq!(
        f.last_operations.lock().unwrap().clone().unwrap(),
        OperationQuery {
            service_name: "frontend".into(),
            span_kind: Some("server".into()),
        }
    );
    // No kind: all kinds; an empty kind stays "".
    let resp = get(&r, "/api/operations?service=backend").await;
    assert_eq!(
        resp.json()["data"],
        serde_json::json!([{"name":"SELECT users","spanKind":"client"},{"name":"pool.acquire","spanKind":""}])
    );
    assert_eq!(resp.json()["total"], 2);
}

#[tokio::test]
async fn get_trace_golden() {
    let (r, f) = app();
    let resp = get(&r, &format!("/api/traces/{TRACE_A}")).await;
    assert_ok_json(&resp);
    golden("trace.json", &resp.body);
    // No window given: none passed to storage.
    assert_eq!(
        f.last_get.lock().unwrap().last().unwrap(),
        &GetTraceParams {
            trace_id: TraceId::parse_hex(TRACE_A).unwrap(),
            start: None,
            end: None
        }
    );
}

#[tokio::test]
async fn get_trace_pretty_and_window() {
    let (r, f) = app();
    let resp = get(
        &r,
        &format!("/api/traces/{TRACE_B}?prettyPrint=true&start=1000&end=2000&raw=true"),
    )
    .await;
    assert_ok_json(&resp);
    golden("trace-pretty.json", &resp.body);
    let p = f.last_get.lock().unwrap().last().unwrap().clone();
    assert_eq!((p.start, p.end), (Some(1_000_000), Some(2_000_000)));
    // A 128-bit id whose high half is zero comes back as 16 hex digits.
    assert_eq!(resp.json()["data"][0]["traceID"], "000000000000abcd");
}

#[tokio::test]
async fn get_trace_ids_hex_short_and_base64() {
    let (r, _) = app();
    for id in [
        "abcd",
        "000000000000abcd",
        // base64 of the 16 bytes (standard, padded, URL-escaped), and of the 8 low bytes.
        "AAAAAAAAAAAAAAAAAACrzQ%3D%3D",
        "AAAAAAAAq80",
    ] {
        let resp = get(&r, &format!("/api/traces/{id}")).await;
        assert_eq!(resp.status, StatusCode::OK, "{id}: {}", resp.body);
        assert_eq!(
            resp.json()["data"][0]["traceID"],
            "000000000000abcd",
            "{id}"
        );
    }
}

#[tokio::test]
async fn get_trace_not_found_and_bad_id() {
    let (r, _) = app();
    let resp = get(&r, "/api/traces/1234").await;
    assert_http_error(&resp, StatusCode::NOT_FOUND);
    assert_eq!(resp.body, v1_error_body(404, "trace not found"));

    let resp = get(&r, "/api/traces/xyz").await;
    assert_http_error(&resp, StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.body,
        v1_error_body(400, r#"strconv.ParseUint: parsing "xyz": invalid syntax"#)
    );
}

#[tokio::test]
async fn unencodable_float_is_a_500() {
    let (r, _) = app();
    let resp = get(&r, &format!("/api/traces/{TRACE_NAN}")).await;
    assert_http_error(&resp, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        resp.body,
        v1_error_body(
            500,
            "failed writing HTTP response: failed marshalling HTTP response to JSON: json: unsupported value: NaN"
        )
    );
}

#[tokio::test]
async fn search_golden_and_query() {
    let (r, f) = app();
    let resp = get(
        &r,
        "/api/traces?service=frontend&operation=GET%20/dispatch&start=1706678909000000&end=1706678910000000&limit=20&minDuration=1ms&maxDuration=1s&tag=http.method:GET&lookback=1h&spanKind=server",
    )
    .await;
    assert_ok_json(&resp);
    golden("search.json", &resp.body);
    let q = f.last_query.lock().unwrap().clone().unwrap();
    assert_eq!(
        q,
        TraceQuery {
            service_name: Some("frontend".into()),
            operation_name: Some("GET /dispatch".into()),
            tags: vec![("http.method".into(), "GET".into())],
            start_time_min: 1_706_678_909_000_000_000,
            start_time_max: 1_706_678_910_000_000_000,
            duration_min: Some(1_000_000),
            duration_max: Some(1_000_000_000),
            num_traces: 20,
        }
    );
}

#[tokio::test]
async fn search_defaults() {
    let (r, f) = app();
    let before = now_nanos();
    let resp = get(&r, "/api/traces?service=nobody").await;
    let after = now_nanos();
    assert_eq!(
        resp.body,
        r#"{"data":[],"total":0,"limit":0,"offset":0,"errors":null}"#
    );
    let q = f.last_query.lock().unwrap().clone().unwrap();
    let two_days = 2 * 24 * 3600 * 1_000_000_000u64;
    assert!(q.start_time_max >= before && q.start_time_max <= after);
    assert_eq!(q.start_time_max - q.start_time_min, two_days);
    assert_eq!(q.num_traces, 100);
    assert_eq!((q.duration_min, q.duration_max), (None, None));
    assert!(q.tags.is_empty());
}

#[tokio::test]
async fn search_json_tags_override_tag() {
    let (r, f) = app();
    let tags = "%7B%22http.method%22%3A%22POST%22%2C%22a%22%3A%22b%3Ac%22%7D";
    get(
        &r,
        &format!("/api/traces?service=s&tag=http.method:GET&tag=x:y:z&tags={tags}"),
    )
    .await;
    let q = f.last_query.lock().unwrap().clone().unwrap();
    assert_eq!(
        q.tags,
        vec![
            ("a".into(), "b:c".into()),
            ("http.method".into(), "POST".into()),
            ("x".into(), "y:z".into())
        ]
    );
}

#[tokio::test]
async fn multi_get_reports_missing_ids() {
    let (r, f) = app();
    let resp = get(
        &r,
        &format!(
            "/api/traces?traceID={TRACE_B}&traceID=00000000000000000000000000000777&start=5&end=6"
        ),
    )
    .await;
    assert_ok_json(&resp);
    let v = resp.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"][0]["traceID"], "000000000000abcd");
    assert_eq!(
        v["errors"],
        serde_json::json!([{"msg": "trace not found", "traceID": "0000000000000777"}])
    );
    // Each id is fetched with the search window.
    let gets = f.last_get.lock().unwrap().clone();
    assert_eq!(gets.len(), 2);
    assert_eq!((gets[0].start, gets[0].end), (Some(5000), Some(6000)));
    // No search ran.
    assert!(f.last_query.lock().unwrap().is_none());
}

#[tokio::test]
async fn dependencies_filter_and_merge() {
    let (r, f) = app();
    let resp = get(&r, "/api/dependencies?endTs=1700000000000&lookback=3600000").await;
    assert_ok_json(&resp);
    golden("dependencies.json", &resp.body);
    assert_eq!(
        f.last_dependencies.lock().unwrap().unwrap(),
        (1_700_000_000_000_000_000, 3_600_000_000_000)
    );
    let resp = get(&r, "/api/dependencies?service=backend").await;
    assert_eq!(
        resp.json()["data"],
        serde_json::json!([
            {"parent":"frontend","child":"backend","callCount":12},
            {"parent":"backend","child":"mysql","callCount":3}
        ])
    );
    // Default lookback: 24h.
    assert_eq!(
        f.last_dependencies.lock().unwrap().unwrap().1,
        24 * 3600 * 1_000_000_000
    );
}

// ---------------------------------------------------------------------------------
// Bad parameters: always 400 with Jaeger's message, never 500.

#[tokio::test]
async fn bad_v1_parameters_are_400() {
    let (r, _) = app();
    let cases: &[(&str, &str)] = &[
        ("/api/traces", "parameter 'service' is required"),
        ("/api/traces?service=", "parameter 'service' is required"),
        (
            "/api/traces?service=s&start=x",
            r#"unable to parse param 'start': strconv.ParseInt: parsing "x": invalid syntax"#,
        ),
        (
            "/api/traces?service=s&end=1.5",
            r#"unable to parse param 'end': strconv.ParseInt: parsing "1.5": invalid syntax"#,
        ),
        (
            "/api/traces?service=s&end=99999999999999999999",
            r#"unable to parse param 'end': strconv.ParseInt: parsing "99999999999999999999": value out of range"#,
        ),
        (
            "/api/traces?service=s&limit=x",
            r#"strconv.ParseInt: parsing "x": invalid syntax"#,
        ),
        (
            "/api/traces?service=s&limit=3000000000",
            r#"strconv.ParseInt: parsing "3000000000": value out of range"#,
        ),
        (
            "/api/traces?service=s&minDuration=10",
            r#"unable to parse param 'minDuration': time: missing unit in duration "10""#,
        ),
        (
            "/api/traces?service=s&maxDuration=abc",
            r#"unable to parse param 'maxDuration': time: invalid duration "abc""#,
        ),
        (
            "/api/traces?service=s&minDuration=1s&maxDuration=1ms",
            "'maxDuration' should be greater than 'minDuration'",
        ),
        (
            "/api/traces?service=s&tag=novalue",
            "malformed 'tag' parameter, expecting key:value, received: novalue",
        ),
        (
            "/api/traces?service=s&tags=%7B%22a%22%3A1%7D",
            "malformed 'tags' parameter, cannot unmarshal JSON: json: cannot unmarshal number into Go value of type string",
        ),
        (
            "/api/traces?service=s&tags=nope",
            "malformed 'tags' parameter, cannot unmarshal JSON: invalid character 'o' in literal null (expecting 'u')",
        ),
        (
            "/api/traces?traceID=xyz",
            r#"cannot parse traceID param: strconv.ParseUint: parsing "xyz": invalid syntax"#,
        ),
        (
            "/api/traces?traceID=000000000000000000000000000000001",
            "cannot parse traceID param: TraceID cannot be longer than 32 hex characters: 000000000000000000000000000000001",
        ),
        (
            "/api/traces?service=s&raw=maybe",
            r#"unable to parse param 'raw': strconv.ParseBool: parsing "maybe": invalid syntax"#,
        ),
        ("/api/operations", "parameter 'service' is required"),
        (
            "/api/traces/abc?start=x",
            r#"unable to parse param 'start': strconv.ParseInt: parsing "x": invalid syntax"#,
        ),
        (
            "/api/traces/abc?raw=2",
            r#"unable to parse param 'raw': strconv.ParseBool: parsing "2": invalid syntax"#,
        ),
        (
            "/api/traces/000000000000000000000000000000001",
            "TraceID cannot be longer than 32 hex characters: 000000000000000000000000000000001",
        ),
        (
            "/api/dependencies?endTs=x",
            r#"unable to parse param 'endTs': strconv.ParseInt: parsing "x": invalid syntax"#,
        ),
        (
            "/api/dependencies?lookback=1h",
            r#"unable to parse param 'lookback': strconv.ParseInt: parsing "1h": invalid syntax"#,
        ),
    ];
    for (uri, msg) in cases {
        let resp = get(&r, uri).await;
        if uri.contains("tags=nope") {
            // Go's scanner wording for this case is only approximated.
            assert_http_error(&resp, StatusCode::BAD_REQUEST);
            assert!(
                resp.body.contains(
                    "malformed 'tags' parameter, cannot unmarshal JSON: invalid character"
                ),
                "{uri}: {}",
                resp.body
            );
            continue;
        }
        assert_http_error(&resp, StatusCode::BAD_REQUEST);
        assert_eq!(resp.body, v1_error_body(400, msg), "{uri}");
    }
}

#[tokio::test]
async fn bad_v3_parameters_are_400() {
    let (r, _) = app();
    let window = "query.startTimeMin=2024-01-01T00:00:00Z&query.startTimeMax=2024-01-02T00:00:00Z";
    let cases: Vec<(String, String)> = vec![
        (
            "/api/v3/traces".into(),
            "query.startTimeMin and query.startTimeMax are required".into(),
        ),
        (
            "/api/v3/trace-summaries?query.startTimeMin=2024-01-01T00:00:00Z".into(),
            "query.startTimeMin and query.startTimeMax are required".into(),
        ),
        (
            "/api/v3/traces?query.startTimeMin=yesterday&query.startTimeMax=2024-01-02T00:00:00Z".into(),
            r#"malformed parameter query.startTimeMin: parsing time "yesterday" as "2006-01-02T15:04:05.999999999Z07:00": cannot parse "yesterday" as "2006""#.into(),
        ),
        (
            "/api/v3/traces?query.startTimeMin=2024-01-01T00:00:00Z&query.start_time_max=2024-01-01".into(),
            r#"malformed parameter query.startTimeMax: parsing time "2024-01-01" as "2006-01-02T15:04:05.999999999Z07:00": cannot parse "" as "T""#.into(),
        ),
        (
            "/api/v3/traces?query.startTimeMin=2024-01-02T00:00:00Z&query.startTimeMax=2024-01-01T00:00:00Z".into(),
            "query.startTimeMin must be before query.startTimeMax".into(),
        ),
        (
            format!("/api/v3/traces?{window}&query.searchDepth=ten"),
            r#"malformed parameter query.searchDepth: strconv.Atoi: parsing "ten": invalid syntax"#.into(),
        ),
        (
            format!("/api/v3/traces?{window}&query.durationMin=5"),
            r#"malformed parameter query.durationMin: time: missing unit in duration "5""#.into(),
        ),
        (
            format!("/api/v3/trace-summaries?{window}&query.duration_max=x"),
            r#"malformed parameter query.durationMax: time: invalid duration "x""#.into(),
        ),
        (
            format!("/api/v3/traces?{window}&query.rawTraces=yes"),
            r#"malformed parameter query.rawTraces: strconv.ParseBool: parsing "yes": invalid syntax"#.into(),
        ),
        (
            format!("/api/v3/traces?{window}&query.attributes=%5B%5D"),
            "malformed parameter query.attributes: json: cannot unmarshal array into Go value of type map[string]string".into(),
        ),
        (
            "/api/v3/traces/xyz".into(),
            r#"malformed parameter trace_id: strconv.ParseUint: parsing "xyz": invalid syntax"#.into(),
        ),
        (
            format!("/api/v3/traces/{TRACE_A}?startTime=2024-13-01T00:00:00Z"),
            r#"malformed parameter startTime: parsing time "2024-13-01T00:00:00Z": month out of range"#.into(),
        ),
        (
            format!("/api/v3/traces/{TRACE_A}?raw_traces=nope"),
            r#"malformed parameter rawTraces: strconv.ParseBool: parsing "nope": invalid syntax"#.into(),
        ),
    ];
    for (uri, msg) in cases {
        let resp = get(&r, &uri).await;
        assert_http_error(&resp, StatusCode::BAD_REQUEST);
        assert_eq!(resp.body, v3_error_body(400, &msg), "{uri}");
    }
}

// ---------------------------------------------------------------------------------
// Storage errors

#[tokio::test]
async fn storage_errors_are_500_or_400() {
    let mut f = fixture();
    f.fail = Some(|| StorageError::Unavailable("disk full".into()));
    let (r, _) = app_with(f, "/");
    for uri in [
        "/api/services",
        "/api/services/x/operations",
        "/api/operations?service=x",
        "/api/traces?service=x",
        "/api/traces/1",
        "/api/traces?traceID=1",
        "/api/dependencies",
    ] {
        let resp = get(&r, uri).await;
        assert_http_error(&resp, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            resp.body,
            v1_error_body(500, "storage unavailable: disk full"),
            "{uri}"
        );
    }
    let resp = get(&r, "/api/v3/services").await;
    assert_http_error(&resp, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        resp.body,
        v3_error_body(500, "storage unavailable: disk full")
    );

    let mut f = fixture();
    f.fail = Some(|| StorageError::InvalidQuery("service name is required".into()));
    let (r, _) = app_with(f, "/");
    let resp = get(&r, "/api/traces?traceID=1").await;
    assert_http_error(&resp, StatusCode::BAD_REQUEST);
    assert_eq!(resp.body, v1_error_body(400, "service name is required"));
    let resp = get(
        &r,
        "/api/v3/traces?query.startTimeMin=2024-01-01T00:00:00Z&query.startTimeMax=2024-01-02T00:00:00Z",
    )
    .await;
    assert_http_error(&resp, StatusCode::BAD_REQUEST);
    assert_eq!(resp.body, v3_error_body(400, "service name is required"));
}

// ---------------------------------------------------------------------------------
// /api/v3

#[tokio::test]
async fn v3_services_and_operations() {
    let (r, f) = app();
    let resp = get(&r, "/api/v3/services").await;
    assert_ok_json(&resp);
    assert_eq!(
        resp.body,
        r#"{"services":["backend","frontend","nan-svc"]}"#
    );
    let (empty, _) = app_with(Fixture::default(), "/");
    assert_eq!(
        get(&empty, "/api/v3/services").await.body,
        r#"{"services":[]}"#
    );
    assert_eq!(
        get(&empty, "/api/v3/operations?service=x").await.body,
        r#"{"operations":[]}"#
    );

    let resp = get(&r, "/api/v3/operations?service=backend").await;
    assert_ok_json(&resp);
    assert_eq!(
        resp.body,
        r#"{"operations":[{"name":"SELECT users","spanKind":"client"},{"name":"pool.acquire","spanKind":"internal"}]}"#
    );
    get(&r, "/api/v3/operations?service=frontend&span_kind=server").await;
    assert_eq!(
        f.last_operations
            .lock()
            .unwrap()
            .clone()
            .unwrap()
            .span_kind
            .as_deref(),
        Some("server")
    );
}

#[tokio::test]
async fn v3_get_trace_golden() {
    let (r, f) = app();
    let resp = get(
        &r,
        &format!("/api/v3/traces/{TRACE_A}?startTime=2024-01-31T05:28:29Z&end_time=2024-01-31T05:28:30.5Z"),
    )
    .await;
    assert_ok_json(&resp);
    golden("v3-trace.json", &resp.body);
    let p = f.last_get.lock().unwrap().last().unwrap().clone();
    assert_eq!(p.start, Some(1_706_678_909_000_000_000));
    assert_eq!(p.end, Some(1_706_678_910_500_000_000));

    let resp = get(&r, "/api/v3/traces/00000000000000000000000000000777").await;
    assert_http_error(&resp, StatusCode::NOT_FOUND);
    assert_eq!(resp.body, v3_error_body(404, "No traces found"));
}

#[tokio::test]
async fn v3_find_traces_concatenates() {
    let (r, f) = app();
    let resp = get(
        &r,
        "/api/v3/traces?query.serviceName=frontend&query.start_time_min=2024-01-31T05:28:00Z&query.startTimeMax=2024-01-31T05:29:00Z&query.num_traces=5&query.attributes=%7B%7D",
    )
    .await;
    assert_ok_json(&resp);
    golden("v3-search.json", &resp.body);
    let v = resp.json();
    // Trace A has two resources, trace B one: three resource spans in one TracesData.
    assert_eq!(v["result"]["resourceSpans"].as_array().unwrap().len(), 3);
    let q = f.last_query.lock().unwrap().clone().unwrap();
    assert_eq!(q.num_traces, 5);
    assert_eq!(q.service_name.as_deref(), Some("frontend"));

    // No match: 404 (not 200 with []).
    let resp = get(
        &r,
        "/api/v3/traces?query.serviceName=nobody&query.startTimeMin=2024-01-31T05:28:00Z&query.startTimeMax=2024-01-31T05:29:00Z",
    )
    .await;
    assert_http_error(&resp, StatusCode::NOT_FOUND);
    assert_eq!(resp.body, v3_error_body(404, "No traces found"));
}

#[tokio::test]
async fn v3_trace_summaries() {
    let (r, _) = app();
    let resp = get(
        &r,
        "/api/v3/trace-summaries?query.serviceName=frontend&query.startTimeMin=2024-01-31T05:28:00Z&query.startTimeMax=2024-01-31T05:29:00Z",
    )
    .await;
    assert_ok_json(&resp);
    golden("v3-summaries.json", &resp.body);
    let resp = get(
        &r,
        "/api/v3/trace-summaries?query.serviceName=nobody&query.startTimeMin=2024-01-31T05:28:00Z&query.startTimeMax=2024-01-31T05:29:00Z",
    )
    .await;
    assert_ok_json(&resp);
    assert_eq!(resp.body, r#"{"summaries":[]}"#);
}

// ---------------------------------------------------------------------------------
// Routing, UI

#[tokio::test]
async fn unknown_api_paths_are_plain_404() {
    let (r, _) = app();
    for (m, uri) in [
        (Method::GET, "/api/nope"),
        (Method::GET, "/api/"),
        (Method::GET, "/api/traces/"),
        (Method::GET, "/api/v3/dependencies"),
        (Method::GET, "/api/archive/abc"),
        (Method::POST, "/api/services"),
        (Method::DELETE, "/api/traces/abc"),
        (Method::GET, "/api/services/x/operations/extra"),
    ] {
        let resp = call(&r, m.clone(), uri).await;
        assert_http_error(&resp, StatusCode::NOT_FOUND);
        assert_eq!(resp.body, "404 page not found\n", "{m} {uri}");
    }
    let resp = get(&r, "/api?x=1").await;
    assert_eq!(resp.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(resp.headers.get("location").unwrap(), "/api/?x=1");
}

#[tokio::test]
async fn spa_fallback_serves_derived_index() {
    let (r, _) = app();
    for (m, uri) in [
        (Method::GET, "/"),
        (Method::GET, "/search"),
        (Method::GET, "/trace/abc"),
        (Method::POST, "/anything"),
        (Method::GET, "/analytics/v1/dependencies"),
        (Method::GET, "/favicon.ico"),
    ] {
        let resp = call(&r, m.clone(), uri).await;
        assert_eq!(resp.status, StatusCode::OK, "{m} {uri}");
        assert_eq!(resp.content_type(), "text/html; charset=utf-8");
        assert!(resp.body.contains(
            r#"JAEGER_VERSION = {"gitCommit":"abc123","gitVersion":"v2.20.0","buildDate":"2026-01-01"};"#
        ));
        assert!(resp.body.contains(r#"JAEGER_BACKEND_CAPABILITIES = {"archiveStorage":false,"metricsStorage":false,"searchWithoutServiceName":false,"aiAssistant":false};"#));
        assert!(resp.body.contains(r#"<base href="/""#));
    }
}

#[tokio::test]
async fn static_files() {
    let (r, _) = app();
    let resp = get(&r, "/static/missing.js").await;
    assert_http_error(&resp, StatusCode::NOT_FOUND);
    assert_eq!(resp.body, "404 page not found\n");
    let resp = get(&r, "/static").await;
    assert_eq!(resp.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(resp.headers.get("location").unwrap(), "/static/");
}

#[tokio::test]
async fn unclean_paths_redirect() {
    let (r, _) = app();
    for (uri, loc) in [
        ("//api/services", "/api/services"),
        ("/api/./services?a=b", "/api/services?a=b"),
        ("/x/../api/services", "/api/services"),
    ] {
        let resp = get(&r, uri).await;
        assert_eq!(resp.status, StatusCode::MOVED_PERMANENTLY, "{uri}");
        assert_eq!(resp.headers.get("location").unwrap(), loc);
    }
}

#[tokio::test]
async fn base_path() {
    let (r, _) = app_with(fixture(), "/jaeger/");
    let resp = get(&r, "/jaeger?a=1").await;
    assert_eq!(resp.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(resp.headers.get("location").unwrap(), "/jaeger/?a=1");

    let resp = get(&r, "/jaeger/api/services").await;
    assert_ok_json(&resp);
    assert_eq!(resp.json()["total"], 3);
    let resp = get(&r, &format!("/jaeger/api/v3/traces/{TRACE_B}")).await;
    assert_ok_json(&resp);

    // Outside the base path: the mux 404.
    for uri in ["/api/services", "/", "/jaegerx/api/services"] {
        let resp = get(&r, uri).await;
        assert_http_error(&resp, StatusCode::NOT_FOUND);
        assert_eq!(resp.body, "404 page not found\n", "{uri}");
    }
    let resp = get(&r, "/jaeger/api/nope").await;
    assert_eq!(resp.body, "404 page not found\n");
    let resp = get(&r, "/jaeger/api").await;
    assert_eq!(resp.headers.get("location").unwrap(), "/jaeger/api/");

    let resp = get(&r, "/jaeger/search").await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.body.contains(r#"<base href="/jaeger/""#));
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

// ---------------------------------------------------------------------------------
// Over a real socket, and over the real in-memory backend.

async fn raw_http(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    conn.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn real_socket() {
    let (r, _) = app();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, r).await });

    let resp = raw_http(
        addr,
        "GET /api/services?prettyPrint=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(resp.contains("content-type: application/json\r\n"));
    assert!(resp.ends_with("\r\n\r\n{\n    \"data\": [\n        \"backend\",\n        \"frontend\",\n        \"nan-svc\"\n    ],\n    \"total\": 3,\n    \"limit\": 0,\n    \"offset\": 0,\n    \"errors\": null\n}"), "{resp}");

    // HEAD: headers only.
    let resp = raw_http(
        addr,
        "HEAD /api/services HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(resp.ends_with("\r\n\r\n"), "{resp}");

    let resp = raw_http(
        addr,
        "GET /api/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 404 Not Found\r\n"), "{resp}");
    assert!(resp.ends_with("\r\n\r\n404 page not found\n"), "{resp}");
    server.abort();
}

#[tokio::test]
async fn over_memory_store() {
    use jaeger_storage::SpanWriter;
    use jaeger_storage::memory::MemoryStore;
    let store = MemoryStore::new(100);
    store.write_spans(batch()).await.unwrap();
    let r = router(QueryState::new(store.clone(), store.clone()));

    let resp = get(&r, &format!("/api/traces/{TRACE_A}")).await;
    assert_ok_json(&resp);
    let v = resp.json();
    assert_eq!(v["data"][0]["traceID"], TRACE_A);
    assert_eq!(v["data"][0]["spans"].as_array().unwrap().len(), 2);

    let resp = get(&r, "/api/services").await;
    assert_eq!(
        resp.json()["data"],
        serde_json::json!(["backend", "frontend", "nan-svc"])
    );

    let resp = get(
        &r,
        "/api/traces?service=frontend&start=1706678909000000&end=1706678911000000",
    )
    .await;
    assert_eq!(resp.json()["data"].as_array().unwrap().len(), 2);

    let resp = get(
        &r,
        "/api/v3/trace-summaries?query.serviceName=backend&query.startTimeMin=2024-01-31T05:28:00Z&query.startTimeMax=2024-01-31T05:29:00Z",
    )
    .await;
    assert_ok_json(&resp);
    assert_eq!(resp.json()["summaries"][0]["traceId"], TRACE_A);
    assert_eq!(resp.json()["summaries"][0]["rootServiceName"], "frontend");
}

/// Throughput of the trace routes on a 10k-span trace (conversion and serialization).
/// Run with `cargo test -p jaeger-query --release -- --ignored --nocapture large_trace`.
#[tokio::test]
#[ignore]
async fn large_trace_timing() {
    let spans: Vec<Span> = (1..=10_000u64)
        .map(|i| Span {
            trace_id: tid(TRACE_A),
            span_id: SpanId::from_u64(i).0.to_vec(),
            parent_span_id: if i > 1 {
                SpanId::from_u64(i / 2).0.to_vec()
            } else {
                vec![]
            },
            name: format!("op-{}", i % 50),
            kind: 2,
            start_time_unix_nano: T0 + i * 1000,
            end_time_unix_nano: T0 + i * 1000 + 500_000,
            attributes: (0..10)
                .map(|k| {
                    kv(
                        format!("attr.{k}"),
                        if k % 2 == 0 {
                            s("some value")
                        } else {
                            Value::IntValue(k)
                        },
                    )
                })
                .collect(),
            events: vec![Event {
                time_unix_nano: T0 + i * 1000 + 10,
                name: "log".into(),
                attributes: vec![kv("message", s("hello"))],
                dropped_attributes_count: 0,
            }],
            ..Default::default()
        })
        .collect();
    let f = Fixture {
        batch: vec![resource(frontend_attrs(), None, spans)],
        ..Default::default()
    };
    let (r, _) = app_with(f, "/");
    for route in [
        format!("/api/traces/{TRACE_A}"),
        format!("/api/v3/traces/{TRACE_A}"),
    ] {
        let n = 5;
        let t = std::time::Instant::now();
        let mut bytes = 0;
        for _ in 0..n {
            let resp = get(&r, &route).await;
            assert_eq!(resp.status, StatusCode::OK);
            bytes = resp.body.len();
        }
        let per = t.elapsed() / n;
        println!("{route}: {per:?} per request, {bytes} bytes (includes fixture regrouping)");
    }
}

// ---------------------------------------------------------------------------------
// POST /api/transform

/// Two traces, interleaved; a duplicated span; unsorted attributes: nothing is adjusted.
const TRANSFORM_BODY: &str = r#"{"resourceSpans":[{
  "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}},{"key":"host.name","value":{"stringValue":"box-1"}}]},
  "scopeSpans":[{"scope":{"name":"lib","version":"2.0"},"spans":[
    {"traceId":"0000000000000000000000000000aaaa","spanId":"00000000000000a1","name":"GET /","kind":2,
     "startTimeUnixNano":"1706678909209712000","endTimeUnixNano":"1706678909309712000",
     "attributes":[{"key":"z","value":{"intValue":"1"}},{"key":"a","value":{"stringValue":"x"}}],
     "events":[{"timeUnixNano":"1706678909209812000","name":"zeta"},{"timeUnixNano":"1706678909209712000","name":"alpha"}]},
    {"traceId":"0000000000000000000000000000bbbb","spanId":"00000000000000b1","name":"other","kind":"SPAN_KIND_INTERNAL",
     "startTimeUnixNano":"1706678909209712000","endTimeUnixNano":"1706678909209713000"},
    {"traceId":"0000000000000000000000000000aaaa","spanId":"00000000000000a1","name":"GET /","kind":2,
     "startTimeUnixNano":"1706678909209712000","endTimeUnixNano":"1706678909309712000",
     "attributes":[{"key":"z","value":{"intValue":"1"}},{"key":"a","value":{"stringValue":"x"}}],
     "events":[{"timeUnixNano":"1706678909209812000","name":"zeta"},{"timeUnixNano":"1706678909209712000","name":"alpha"}]}
  ]}]}]}"#;

async fn post(router: &Router, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Resp {
    let mut req = Request::builder().method(Method::POST).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = router
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

#[tokio::test]
async fn transform_golden_without_adjusters() {
    let (r, _) = app();
    let resp = post(&r, "/api/transform", &[], TRANSFORM_BODY.into()).await;
    assert_ok_json(&resp);
    golden("transform.json", &resp.body);
    let v = resp.json();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "grouped by trace id");
    assert_eq!(data[0]["traceID"], "000000000000aaaa", "first seen first");
    assert_eq!(
        data[0]["spans"].as_array().unwrap().len(),
        2,
        "duplicates kept"
    );
    // Attribute and event order as sent.
    assert_eq!(data[0]["spans"][0]["tags"][2]["key"], "z");
    assert_eq!(data[0]["spans"][0]["logs"][0]["fields"][0]["value"], "zeta");
    assert_eq!(v["errors"], serde_json::Value::Null);

    // Gzipped bodies are read too.
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(TRANSFORM_BODY.as_bytes()).unwrap();
    let zipped = gz.finish().unwrap();
    let resp = post(
        &r,
        "/api/transform?prettyPrint=true",
        &[("content-encoding", "gzip")],
        zipped,
    )
    .await;
    assert_ok_json(&resp);
    assert!(resp.body.starts_with("{\n    \"data\": ["));

    // An empty request is no trace at all.
    let resp = post(&r, "/api/transform", &[], b"{}".to_vec()).await;
    assert_eq!(
        resp.body,
        r#"{"data":[],"total":0,"limit":0,"offset":0,"errors":null}"#
    );
}

#[tokio::test]
async fn transform_errors() {
    let (r, _) = app();
    let resp = post(&r, "/api/transform", &[], b"{\"resourceSpans\": [".to_vec()).await;
    assert_http_error(&resp, StatusCode::BAD_REQUEST);
    let msg = resp.json()["errors"][0]["msg"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.starts_with("cannot unmarshal OTLP : failed to decode OTLP JSON"),
        "{msg}"
    );
    assert_eq!(resp.json()["errors"][0]["code"], 400);

    let resp = post(&r, "/api/transform", &[], b"not json".to_vec()).await;
    assert_http_error(&resp, StatusCode::BAD_REQUEST);

    let big = vec![b' '; 20 * 1024 * 1024 + 1];
    let resp = post(&r, "/api/transform", &[], big).await;
    assert_http_error(&resp, StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.body,
        v1_error_body(400, "http: request body too large")
    );

    // NaN reaches the UI model and cannot be encoded: 500, as Jaeger.
    let nan = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0000000000000000000000000000aaaa","spanId":"0000000000000001","attributes":[{"key":"x","value":{"doubleValue":"NaN"}}]}]}]}]}"#;
    let resp = post(&r, "/api/transform", &[], nan.into()).await;
    assert_http_error(&resp, StatusCode::INTERNAL_SERVER_ERROR);

    // Only POST.
    let resp = get(&r, "/api/transform").await;
    assert_http_error(&resp, StatusCode::NOT_FOUND);
    assert_eq!(resp.body, "404 page not found\n");
}

// ---------------------------------------------------------------------------------
// POST /api/archive/{traceID}

fn app_with_archive(
    primary: Fixture,
    archive: Arc<jaeger_storage::memory::MemoryStore>,
) -> (Router, Arc<Fixture>) {
    let f = Arc::new(primary);
    let mut state = QueryState::new(f.clone(), f.clone());
    state.archive_reader = Some(archive.clone());
    state.archive_writer = Some(archive);
    state.adjusters = jaeger_query::standard_adjusters(std::time::Duration::ZERO);
    (router(state), f)
}

#[tokio::test]
async fn archive_without_archive_storage_is_500() {
    let (r, _) = app();
    let resp = post(&r, &format!("/api/archive/{TRACE_A}"), &[], vec![]).await;
    assert_http_error(&resp, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        resp.body,
        v1_error_body(500, "archive span storage was not configured")
    );
    // Parameters are checked first.
    let resp = post(&r, "/api/archive/xyz", &[], vec![]).await;
    assert_http_error(&resp, StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.body,
        v1_error_body(400, r#"strconv.ParseUint: parsing "xyz": invalid syntax"#)
    );
    let resp = post(
        &r,
        &format!("/api/archive/{TRACE_A}?raw=maybe"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(
        resp.body,
        v1_error_body(
            400,
            r#"unable to parse param 'raw': strconv.ParseBool: parsing "maybe": invalid syntax"#
        )
    );
    // The UI hides its Archive button.
    let resp = get(&r, "/").await;
    assert!(resp.body.contains(r#""archiveStorage":false"#));
}

#[tokio::test]
async fn archive_copies_the_adjusted_trace_and_reads_fall_back_to_it() {
    use jaeger_storage::SpanReader as _;
    let archive = jaeger_storage::memory::MemoryStore::new(100);
    let (r, f) = app_with_archive(fixture(), archive.clone());

    let resp = post(
        &r,
        &format!("/api/archive/{TRACE_A}?start=1&end=2"),
        &[],
        vec![],
    )
    .await;
    assert_ok_json(&resp);
    golden("archive.json", &resp.body);
    assert_eq!(
        resp.body,
        r#"{"data":[],"total":0,"limit":0,"offset":0,"errors":[]}"#
    );
    // Read with the given window, then written as adjusted (sorted attributes).
    let p = f.last_get.lock().unwrap().last().unwrap().clone();
    assert_eq!((p.start, p.end), (Some(1000), Some(2000)));
    let stored = archive
        .get_trace(GetTraceParams {
            trace_id: TraceId::parse_hex(TRACE_A).unwrap(),
            ..Default::default()
        })
        .await
        .unwrap()
        .expect("archived");
    assert_eq!(stored.span_count(), 2);
    let root = stored
        .spans()
        .find(|s| s.span.name == "GET /dispatch")
        .unwrap();
    let keys: Vec<&str> = root
        .span
        .attributes
        .iter()
        .map(|k| k.key.as_str())
        .collect();
    assert_eq!(
        keys,
        ["big", "html", "http.method", "http.status_code", "ratio"]
    );

    let resp = post(
        &r,
        "/api/archive/00000000000000000000000000000777",
        &[],
        vec![],
    )
    .await;
    assert_http_error(&resp, StatusCode::NOT_FOUND);
    assert_eq!(resp.body, v1_error_body(404, "trace not found"));
    // GET /api/archive never existed.
    let resp = get(&r, &format!("/api/archive/{TRACE_A}")).await;
    assert_eq!(resp.body, "404 page not found\n");
    // Archiving is advertised to the UI.
    assert!(get(&r, "/").await.body.contains(r#""archiveStorage":true"#));

    // A primary store without the trace: GET /api/traces/{id} reads the archive.
    let (r, _) = app_with_archive(Fixture::default(), archive.clone());
    let resp = get(&r, &format!("/api/traces/{TRACE_A}")).await;
    assert_ok_json(&resp);
    assert_eq!(resp.json()["data"][0]["spans"].as_array().unwrap().len(), 2);
    let resp = get(&r, &format!("/api/v3/traces/{TRACE_A}")).await;
    assert_ok_json(&resp);
    let resp = get(&r, &format!("/api/traces?traceID={TRACE_A}")).await;
    assert_eq!(resp.json()["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn archive_write_failure_is_500() {
    struct FailingWriter;
    #[async_trait]
    impl jaeger_storage::SpanWriter for FailingWriter {
        async fn write_spans(&self, _: Vec<ResourceSpans>) -> Result<()> {
            Err(StorageError::Unavailable("archive full".into()))
        }
    }
    let f = Arc::new(fixture());
    let mut state = QueryState::new(f.clone(), f.clone());
    state.archive_reader = Some(f.clone());
    state.archive_writer = Some(Arc::new(FailingWriter));
    let r = router(state);
    let resp = post(&r, &format!("/api/archive/{TRACE_A}"), &[], vec![]).await;
    assert_http_error(&resp, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        resp.body,
        v1_error_body(500, "storage unavailable: archive full")
    );
}

// ---------------------------------------------------------------------------------
// /api/metrics, /api/quality-metrics, /api/deep-dependencies

#[tokio::test]
async fn metrics_validate_then_answer_501() {
    let (r, _) = app();
    for uri in [
        "/api/metrics/latencies?service=frontend&quantile=0.95",
        "/api/metrics/calls?service=frontend&spanKind=client&spanKind=SERVER&groupByOperation=1",
        "/api/metrics/errors?service=&endTs=1700000000000&lookback=60000&step=1000&ratePer=60000",
    ] {
        let resp = get(&r, uri).await;
        assert_http_error(&resp, StatusCode::NOT_IMPLEMENTED);
        assert_eq!(
            resp.body,
            v1_error_body(
                501,
                "trace metrics are currently disabled - no metrics backend configured"
            ),
            "{uri}"
        );
    }
    golden(
        "metrics-disabled.json",
        get(&r, "/api/metrics/calls?service=a")
            .await
            .body
            .trim_end(),
    );
    // minstep is gone from Jaeger.
    assert_eq!(
        get(&r, "/api/metrics/minstep").await.body,
        "404 page not found\n"
    );
}

#[tokio::test]
async fn bad_metrics_parameters_are_400() {
    let (r, _) = app();
    let cases = [
        (
            "/api/metrics/latencies?service=a",
            r#"unable to parse param 'quantile': strconv.ParseFloat: parsing "": invalid syntax"#,
        ),
        // quantile is checked before service.
        (
            "/api/metrics/latencies?quantile=abc",
            r#"unable to parse param 'quantile': strconv.ParseFloat: parsing "abc": invalid syntax"#,
        ),
        (
            "/api/metrics/latencies?quantile=0.5",
            "unable to parse param 'service': please provide at least one service name",
        ),
        (
            "/api/metrics/calls",
            "unable to parse param 'service': please provide at least one service name",
        ),
        (
            "/api/metrics/errors?service=a&groupByOperation=yes",
            r#"unable to parse param 'groupByOperation': strconv.ParseBool: parsing "yes": invalid syntax"#,
        ),
        (
            "/api/metrics/calls?service=a&spanKind=server&spanKind=bogus",
            "unable to parse param 'spanKind': unsupported span kind: 'bogus'",
        ),
        (
            "/api/metrics/calls?service=a&spanKind=",
            "unable to parse param 'spanKind': unsupported span kind: ''",
        ),
        (
            "/api/metrics/calls?service=a&endTs=now",
            r#"unable to parse param 'endTs': strconv.ParseInt: parsing "now": invalid syntax"#,
        ),
        (
            "/api/metrics/calls?service=a&lookback=1h",
            r#"unable to parse param 'lookback': strconv.ParseInt: parsing "1h": invalid syntax"#,
        ),
        (
            "/api/metrics/calls?service=a&step=1.5",
            r#"unable to parse param 'step': strconv.ParseInt: parsing "1.5": invalid syntax"#,
        ),
        (
            "/api/metrics/calls?service=a&ratePer=99999999999999999999",
            r#"unable to parse param 'ratePer': strconv.ParseInt: parsing "99999999999999999999": value out of range"#,
        ),
    ];
    for (uri, msg) in cases {
        let resp = get(&r, uri).await;
        assert_http_error(&resp, StatusCode::BAD_REQUEST);
        assert_eq!(resp.body, v1_error_body(400, msg), "{uri}");
    }
}

#[tokio::test]
async fn quality_metrics_sample() {
    let (r, _) = app();
    let resp = get(&r, "/api/quality-metrics?hours=24&service=frontend").await;
    assert_ok_json(&resp);
    golden("quality-metrics.json", &resp.body);
    // No envelope; the parameters change nothing.
    let v = resp.json();
    assert!(v.get("data").is_none());
    assert!(v["traceQualityDocumentationLink"].is_string());
    assert_eq!(get(&r, "/api/quality-metrics").await.body, resp.body);
}

#[tokio::test]
async fn deep_dependencies_sample() {
    let (r, _) = app();
    let resp = get(&r, "/api/deep-dependencies").await;
    assert_ok_json(&resp);
    golden("deep-dependencies.json", &resp.body);
    let v = resp.json();
    assert!(v.get("data").is_none());
    assert!(resp.body.contains(r#"{"service":"customer","operation":"#));
    let resp = get(&r, "/api/deep-dependencies?service=frontend").await;
    assert!(resp.body.contains(r#"{"service":"frontend","operation":"#));
    assert!(!resp.body.contains("customer"));
}

// ---------------------------------------------------------------------------------
// Adjusters through the routes

fn adjusted_app(max_skew: std::time::Duration, max_trace_size: usize) -> Router {
    let f = Arc::new(fixture());
    let mut state = QueryState::new(f.clone(), f.clone());
    state.adjusters = jaeger_query::standard_adjusters(max_skew);
    state.max_trace_size = max_trace_size;
    router(state)
}

/// A skewed child on another host, a Zipkin shared id, an IP as a number, and a
/// library attribute on a span.
fn skewed_fixture() -> Fixture {
    let t = "000000000000000000000000000005e3";
    let mut parent = Span {
        trace_id: tid(t),
        span_id: sid("0000000000000010"),
        name: "parent".into(),
        kind: 3,
        start_time_unix_nano: T0 + 10_000_000,
        end_time_unix_nano: T0 + 110_000_000,
        attributes: vec![
            kv("z", s("1")),
            kv("peer.ipv4", Value::IntValue(134_744_072)),
            kv("telemetry.sdk.name", s("opentelemetry")),
        ],
        ..Default::default()
    };
    parent.links = vec![Link::default()];
    let server = Span {
        trace_id: tid(t),
        span_id: sid("0000000000000010"),
        name: "server".into(),
        kind: 2,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 50_000_000,
        ..Default::default()
    };
    Fixture {
        batch: vec![
            resource(
                vec![kv("service.name", s("a")), kv("host.name", s("h1"))],
                None,
                vec![parent],
            ),
            resource(
                vec![kv("service.name", s("b")), kv("host.name", s("h2"))],
                None,
                vec![server],
            ),
        ],
        ..Default::default()
    }
}

#[tokio::test]
async fn adjusters_run_unless_raw_toggled_per_request() {
    let f = Arc::new(skewed_fixture());
    let mut state = QueryState::new(f.clone(), f.clone());
    state.adjusters = jaeger_query::standard_adjusters(std::time::Duration::from_secs(1));
    let r = router(state);
    let id = "000000000000000000000000000005e3";

    let adjusted = get(&r, &format!("/api/traces/{id}")).await;
    assert_ok_json(&adjusted);
    golden("trace-adjusted.json", &adjusted.body);
    let v = adjusted.json();
    let spans = v["data"][0]["spans"].as_array().unwrap();
    let server = spans
        .iter()
        .find(|s| s["operationName"] == "server")
        .unwrap();
    // New id, the client as parent, shifted 35ms into the parent, with a warning.
    assert_eq!(server["spanID"], "0000000000000001");
    assert_eq!(server["references"][0]["spanID"], "0000000000000010");
    assert_eq!(
        server["startTime"].as_u64().unwrap(),
        (T0 + 35_000_000) / 1000
    );
    assert_eq!(
        server["warnings"],
        serde_json::json!(["This span's timestamps were adjusted by 35ms"])
    );
    let parent = spans
        .iter()
        .find(|s| s["operationName"] == "parent")
        .unwrap();
    assert_eq!(
        parent["warnings"],
        serde_json::json!(["Invalid span link removed"])
    );

    // raw=true on the same router: as stored.
    let raw = get(&r, &format!("/api/traces/{id}?raw=true")).await;
    let v = raw.json();
    let spans = v["data"][0]["spans"].as_array().unwrap();
    assert!(spans.iter().all(|s| s["spanID"] == "0000000000000010"));
    assert!(spans.iter().all(|s| s["warnings"].is_null()));
    assert_eq!(spans[0]["tags"][0]["key"], "z");
    // And adjusted again without it.
    assert_eq!(
        get(&r, &format!("/api/traces/{id}")).await.body,
        adjusted.body
    );
    assert_eq!(
        get(&r, &format!("/api/traces/{id}?raw=false")).await.body,
        adjusted.body
    );

    // api_v3: rawTraces toggles the same way.
    let v3 = get(&r, &format!("/api/v3/traces/{id}")).await.json();
    assert!(v3.to_string().contains("@jaeger@warnings"));
    let v3_raw = get(&r, &format!("/api/v3/traces/{id}?rawTraces=true"))
        .await
        .json();
    assert!(!v3_raw.to_string().contains("@jaeger@warnings"));
    let window = "query.startTimeMin=2024-01-31T05:28:00Z&query.startTimeMax=2024-01-31T05:29:00Z";
    let found = get(&r, &format!("/api/v3/traces?{window}&query.rawTraces=true"))
        .await
        .json();
    assert!(!found.to_string().contains("@jaeger@warnings"));
    let found = get(&r, &format!("/api/v3/traces?{window}")).await.json();
    assert!(found.to_string().contains("@jaeger@warnings"));
    // Multi-get and search honour raw too.
    let m = get(&r, &format!("/api/traces?traceID={id}&raw=true")).await;
    assert!(!m.body.contains("adjusted by"));
    let m = get(&r, &format!("/api/traces?traceID={id}")).await;
    assert!(m.body.contains("adjusted by 35ms"));
}

#[tokio::test]
async fn default_max_skew_warns_without_shifting() {
    let f = Arc::new(skewed_fixture());
    let mut state = QueryState::new(f.clone(), f.clone());
    state.adjusters = jaeger_query::standard_adjusters(std::time::Duration::ZERO);
    let r = router(state);
    let v = get(&r, "/api/traces/5e3").await.json();
    let server = v["data"][0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["operationName"] == "server")
        .unwrap()
        .clone();
    assert_eq!(server["startTime"].as_u64().unwrap(), T0 / 1000);
    assert_eq!(
        server["warnings"],
        serde_json::json!([
            "clock skew adjustment disabled; not applying calculated delta of 35ms"
        ])
    );
}

#[tokio::test]
async fn adjusted_fixture_trace_sorts_tags() {
    let r = adjusted_app(std::time::Duration::ZERO, 0);
    let v = get(&r, &format!("/api/traces/{TRACE_A}")).await.json();
    let keys: Vec<&str> = v["data"][0]["spans"][0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "otel.scope.name",
            "otel.scope.version",
            "big",
            "html",
            "http.method",
            "http.status_code",
            "ratio",
            "span.kind",
            "otel.status_code",
            "w3c.tracestate"
        ]
    );
}

#[tokio::test]
async fn max_trace_size_truncates() {
    let r = adjusted_app(std::time::Duration::ZERO, 1);
    let v = get(&r, &format!("/api/traces/{TRACE_A}")).await.json();
    let spans = v["data"][0]["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(
        spans[0]["warnings"],
        serde_json::json!(["trace has more than 1 spans, showing first 1 spans only"])
    );
    // Raw traces are capped too: the cap protects the server.
    let v = get(&r, &format!("/api/traces/{TRACE_A}?raw=true"))
        .await
        .json();
    assert_eq!(v["data"][0]["spans"].as_array().unwrap().len(), 1);
    // A trace within the cap is untouched.
    let v = get(&r, &format!("/api/traces/{TRACE_B}")).await.json();
    assert!(v["data"][0]["spans"][0]["warnings"].is_null());
}

#[tokio::test]
async fn absurdly_long_trace_id_is_400() {
    let (r, _) = app();
    let id = "a".repeat(10_000);
    let resp = get(&r, &format!("/api/traces/{id}")).await;
    assert_http_error(&resp, StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.body,
        v1_error_body(
            400,
            &format!("TraceID cannot be longer than 32 hex characters: {id}")
        )
    );
    let resp = post(&r, &format!("/api/archive/{id}"), &[], vec![]).await;
    assert_http_error(&resp, StatusCode::BAD_REQUEST);
    let resp = get(&r, &format!("/api/v3/traces/{id}")).await;
    assert_http_error(&resp, StatusCode::BAD_REQUEST);
}

/// What the binary's end-to-end test (`tests/all_in_one.rs`) expects once it runs the
/// standard adjusters: span tags sorted, nothing else changed.
#[tokio::test]
async fn standard_adjusters_give_the_e2e_expected_trace() {
    use jaeger_storage::SpanWriter;
    let tid = "5b8efff798038103d269b633813fc60c";
    let start: u64 = 1_706_678_909_209_712_000;
    let body = serde_json::json!({
      "resourceSpans": [{
        "resource": {"attributes": [
          {"key": "service.name", "value": {"stringValue": "shop"}},
          {"key": "host.name", "value": {"stringValue": "box-1"}}
        ]},
        "scopeSpans": [{
          "scope": {"name": "e2e-json", "version": "1.2.3"},
          "spans": [
            {"traceId": tid, "spanId": "00000000000000a1", "name": "GET /checkout", "kind": 2,
             "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 5_000_000).to_string(),
             "attributes": [
               {"key": "http.method", "value": {"stringValue": "GET"}},
               {"key": "http.status_code", "value": {"intValue": "200"}},
               {"key": "cached", "value": {"boolValue": false}},
               {"key": "ratio", "value": {"doubleValue": 0.25}}],
             "status": {}},
            {"traceId": tid, "spanId": "00000000000000b2", "parentSpanId": "00000000000000a1",
             "name": "SELECT orders", "kind": 3,
             "startTimeUnixNano": (start + 1_000_000).to_string(), "endTimeUnixNano": (start + 3_000_000).to_string(),
             "attributes": [{"key": "db.system", "value": {"stringValue": "postgresql"}}],
             "events": [{"timeUnixNano": (start + 2_000_000).to_string(), "name": "rows fetched",
                         "attributes": [{"key": "rows", "value": {"intValue": "42"}}]}],
             "status": {"code": 2, "message": "deadlock"}}
          ]
        }]
      }]
    });
    let req = jaeger_model::otlp_json_decode::decode_request(body.to_string().as_bytes()).unwrap();
    let store = jaeger_storage::memory::MemoryStore::new(10);
    store.write_spans(req.resource_spans).await.unwrap();
    let mut state = QueryState::new(store.clone(), store.clone());
    state.adjusters = jaeger_query::standard_adjusters(std::time::Duration::ZERO);
    let r = router(state);
    let mut v = get(&r, &format!("/api/traces/{tid}")).await.json();
    let spans = v["data"][0]["spans"].as_array_mut().unwrap();
    spans.sort_by(|a, b| a["spanID"].as_str().cmp(&b["spanID"].as_str()));
    let us = start / 1000;
    let expected = serde_json::json!({
      "traceID": tid,
      "spans": [
        {
          "traceID": tid, "spanID": "00000000000000a1", "operationName": "GET /checkout",
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
          "traceID": tid, "spanID": "00000000000000b2", "operationName": "SELECT orders",
          "references": [{"refType": "CHILD_OF", "traceID": tid, "spanID": "00000000000000a1"}],
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
      "processes": {"p1": {"serviceName": "shop", "tags": [
        {"key": "host.name", "type": "string", "value": "box-1"}
      ]}},
      "warnings": null
    });
    assert_eq!(v["data"][0], expected);
}
