//! The query gRPC port on a real 127.0.0.1:0 socket with the generated tonic clients,
//! over memory stores: the exact api_v2 spans of a fixture trace, gRPC and HTTP giving
//! the same traces, streaming chunk sizes, every error status, archive fallback and
//! archiving, health and reflection.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use base64::Engine;
use http::Request;
use http_body_util::BodyExt;
use jaeger_model::otlp::common::ArrayValue;
use jaeger_model::otlp::trace::TracesData;
use jaeger_model::otlp::{
    AnyValue, Event, InstrumentationScope, KeyValue as OtlpKv, Link, Resource, ResourceSpans,
    ScopeSpans, Span as OtlpSpan, Status as OtlpStatus, Value,
};
use jaeger_model::{SpanId, TraceId};
use jaeger_proto::api_v2::query_service_client::QueryServiceClient as V2Client;
use jaeger_proto::api_v2::{self as v2, KeyValue, ValueType};
use jaeger_proto::api_v3 as v3;
use jaeger_proto::api_v3::query_service_client::QueryServiceClient as V3Client;
use jaeger_query::grpc::{GrpcQueryState, serve_query_grpc};
use jaeger_query::{QueryState, router, standard_adjusters};
use jaeger_storage::memory::MemoryStore;
use jaeger_storage::{
    DependencyLink, DependencyStore, GetTraceParams, Operation, OperationQuery, SpanReader,
    SpanWriter, StorageError, TraceQuery, UnixNanos,
};
use prost_types::Timestamp;
use serde_json::{Value as J, json};
use tokio::sync::oneshot;
use tonic::Code;
use tonic::transport::Channel;
use tower::ServiceExt;

const T0: u64 = 1_706_678_909_209_712_123;
const MS: u64 = 1_000_000;
const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const SECOND: &str = "0000000000000000000000000000beef";
const ARCHIVED: &str = "000000000000000000000000000a4c1d";
const ROOT: &str = "b7ad6b7169203331";

fn tid(hex: &str) -> Vec<u8> {
    TraceId::parse_hex(hex).unwrap().0.to_vec()
}

fn sid(n: u64) -> Vec<u8> {
    SpanId::from_u64(n).0.to_vec()
}

fn root_id() -> Vec<u8> {
    SpanId::parse_hex(ROOT).unwrap().0.to_vec()
}

fn kv(k: &str, v: Value) -> OtlpKv {
    OtlpKv {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

fn resource(service: &str, host: &str, scope: Option<&str>, spans: Vec<OtlpSpan>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", s(service)), kv("host.name", s(host))],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: scope.map(|n| InstrumentationScope {
                name: n.into(),
                version: "1.2".into(),
                ..Default::default()
            }),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

/// One trace of 12 spans over two services, a one-span trace, and one for the archive.
fn fixture() -> (Vec<ResourceSpans>, Vec<ResourceSpans>) {
    let root = OtlpSpan {
        trace_id: tid(TRACE),
        span_id: root_id(),
        trace_state: "k=v".into(),
        name: "GET /dispatch".into(),
        kind: 2,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 100 * MS,
        attributes: vec![
            kv("http.method", s("GET")),
            kv("http.status_code", Value::IntValue(503)),
            kv("big", Value::IntValue(9_007_199_254_740_993)),
            kv("ratio", Value::DoubleValue(0.25)),
            kv("ok", Value::BoolValue(false)),
            kv("bin", Value::BytesValue(vec![0, 0, 0x30, 0x39])),
            kv(
                "list",
                Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(s("a<b")),
                        },
                        AnyValue {
                            value: Some(Value::DoubleValue(1e21)),
                        },
                    ],
                }),
            ),
        ],
        events: vec![Event {
            time_unix_nano: T0 + 5 * MS,
            name: "cache miss".into(),
            attributes: vec![kv("key", s("user:1"))],
            ..Default::default()
        }],
        status: Some(OtlpStatus {
            code: 2,
            message: "boom".into(),
        }),
        ..Default::default()
    };
    let children = (1..=11u64)
        .map(|i| OtlpSpan {
            trace_id: tid(TRACE),
            span_id: sid(i),
            parent_span_id: root_id(),
            name: format!("SELECT {i}"),
            kind: 3,
            start_time_unix_nano: T0 + i * MS,
            end_time_unix_nano: T0 + (i + 1) * MS,
            attributes: vec![kv("db.system", s("mysql"))],
            links: if i == 1 {
                vec![Link {
                    trace_id: tid(SECOND),
                    span_id: sid(99),
                    attributes: vec![kv("opentracing.ref_type", s("child_of"))],
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        })
        .collect();
    let second = OtlpSpan {
        trace_id: tid(SECOND),
        span_id: sid(99),
        name: "GET /health".into(),
        kind: 2,
        start_time_unix_nano: T0 + 500 * MS,
        end_time_unix_nano: T0 + 501 * MS,
        ..Default::default()
    };
    let archived = OtlpSpan {
        trace_id: tid(ARCHIVED),
        span_id: sid(7),
        name: "old".into(),
        start_time_unix_nano: T0 - 3_600_000 * MS,
        end_time_unix_nano: T0 - 3_600_000 * MS + MS,
        ..Default::default()
    };
    (
        vec![
            resource("frontend", "h1", Some("lib"), vec![root]),
            resource("mysql", "h2", None, children),
            resource("frontend", "h1", Some("lib"), vec![second]),
        ],
        vec![resource("frontend", "h1", None, vec![archived])],
    )
}

struct Env {
    state: QueryState,
    archive: Arc<MemoryStore>,
}

async fn env() -> Env {
    let (main, archived) = fixture();
    let store = MemoryStore::new(100);
    store.write_spans(main).await.unwrap();
    store
        .write_dependencies(
            T0 - 60_000 * MS,
            T0,
            vec![DependencyLink {
                parent: "frontend".into(),
                child: "mysql".into(),
                call_count: 11,
                source: "jaeger".into(),
            }],
        )
        .await
        .unwrap();
    let archive = MemoryStore::new(100);
    archive.write_spans(archived).await.unwrap();
    let mut state = QueryState::new(store.clone(), store);
    state.archive_reader = Some(archive.clone());
    state.archive_writer = Some(archive.clone());
    state.adjusters = standard_adjusters(Duration::ZERO);
    Env { state, archive }
}

struct Server {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(state: GrpcQueryState) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            serve_query_grpc(listener, state, async {
                let _ = rx.await;
            })
            .await
            .expect("the server runs until shutdown");
        });
        Server {
            url,
            stop: Some(stop),
            task,
        }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    async fn v2(&self) -> V2Client<Channel> {
        V2Client::new(self.channel().await)
    }

    async fn v3(&self) -> V3Client<Channel> {
        V3Client::new(self.channel().await)
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("graceful shutdown")
            .unwrap();
    }
}

fn ts(ns: u64) -> Option<Timestamp> {
    Some(jaeger_proto::convert::timestamp_from_nanos(ns))
}

async fn v2_trace(
    c: &mut V2Client<Channel>,
    id: &str,
    raw: bool,
) -> Result<Vec<v2::SpansResponseChunk>, tonic::Status> {
    let mut stream = c
        .get_trace(v2::GetTraceRequest {
            trace_id: tid(id),
            raw_traces: raw,
            ..Default::default()
        })
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(chunk) = stream.message().await? {
        out.push(chunk);
    }
    Ok(out)
}

async fn v3_stream(
    mut stream: tonic::Streaming<TracesData>,
) -> Result<Vec<TracesData>, tonic::Status> {
    let mut out = Vec::new();
    while let Some(m) = stream.message().await? {
        out.push(m);
    }
    Ok(out)
}

/// A tag as the UI JSON writes it (`{"key","type","value"}`).
fn tag_json(t: &KeyValue) -> J {
    let (ty, v) = match ValueType::try_from(t.v_type).unwrap() {
        ValueType::String => ("string", json!(t.v_str)),
        ValueType::Bool => ("bool", json!(t.v_bool)),
        ValueType::Int64 if t.v_int64.abs() > (1 << 53) - 1 => {
            ("int64", json!(t.v_int64.to_string()))
        }
        ValueType::Int64 => ("int64", json!(t.v_int64)),
        ValueType::Float64 => ("float64", json!(t.v_float64)),
        ValueType::Binary if t.v_binary.is_empty() => ("binary", J::Null),
        ValueType::Binary => (
            "binary",
            json!(base64::engine::general_purpose::STANDARD.encode(&t.v_binary)),
        ),
    };
    json!({"key": t.key, "type": ty, "value": v})
}

fn micros(t: &Timestamp) -> u64 {
    (t.seconds as u64) * 1_000_000 + (t.nanos as u64) / 1000
}

fn id_text(trace_id: &[u8]) -> String {
    TraceId::from_slice(trace_id).unwrap().to_jaeger_string()
}

/// One api_v2 span in the UI JSON shape, with its process inlined.
fn span_json(s: &v2::Span) -> J {
    let p = s
        .process
        .as_ref()
        .expect("every streamed span carries its process");
    let d = s.duration.as_ref().unwrap();
    json!({
        "traceID": id_text(&s.trace_id),
        "spanID": hex::encode(&s.span_id),
        "operationName": s.operation_name,
        "references": s.references.iter().map(|r| json!({
            "refType": if r.ref_type == 0 { "CHILD_OF" } else { "FOLLOWS_FROM" },
            "traceID": id_text(&r.trace_id),
            "spanID": hex::encode(&r.span_id),
        })).collect::<Vec<_>>(),
        "startTime": micros(s.start_time.as_ref().unwrap()),
        "duration": (d.seconds * 1_000_000 + d.nanos as i64 / 1000),
        "tags": s.tags.iter().map(tag_json).collect::<Vec<_>>(),
        "logs": s.logs.iter().map(|l| json!({
            "timestamp": micros(l.timestamp.as_ref().unwrap()),
            "fields": l.fields.iter().map(tag_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "process": {"serviceName": p.service_name, "tags": p.tags.iter().map(tag_json).collect::<Vec<_>>()},
        "warnings": if s.warnings.is_empty() { J::Null } else { json!(s.warnings) },
    })
}

/// The spans of `GET /api/traces/{id}` with each span's process inlined.
async fn http_spans(state: &QueryState, path: &str) -> Vec<J> {
    let resp = router(state.clone())
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v: J = serde_json::from_slice(&body).unwrap();
    let trace = &v["data"][0];
    trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let mut s = s.clone();
            let pid = s["processID"].as_str().unwrap().to_string();
            let obj = s.as_object_mut().unwrap();
            obj.remove("processID");
            obj.remove("flags");
            obj.insert("process".into(), trace["processes"][&pid].clone());
            s
        })
        .collect()
}

#[tokio::test]
async fn api_v2_get_trace_exact_spans_in_chunks_of_ten() {
    let env = env().await;
    let server = Server::start(GrpcQueryState::from_query_state(&env.state)).await;
    let mut c = server.v2().await;

    let chunks = v2_trace(&mut c, TRACE, true).await.unwrap();
    assert_eq!(
        chunks.iter().map(|c| c.spans.len()).collect::<Vec<_>>(),
        [10, 2]
    );
    let spans: Vec<&v2::Span> = chunks.iter().flat_map(|c| &c.spans).collect();

    // The root span, field by field (raw: no adjuster touched it).
    let root = spans[0];
    assert_eq!(root.trace_id, tid(TRACE));
    assert_eq!(root.span_id, root_id());
    assert_eq!(root.operation_name, "GET /dispatch");
    assert!(root.references.is_empty());
    assert_eq!(root.start_time, ts(T0));
    assert_eq!(
        root.duration,
        Some(prost_types::Duration {
            seconds: 0,
            nanos: 100_000_000
        })
    );
    let tags: Vec<J> = root.tags.iter().map(tag_json).collect();
    assert_eq!(
        J::Array(tags),
        json!([
            {"key": "otel.scope.name", "type": "string", "value": "lib"},
            // The memory store keeps attributes in key order (docs/api.md, `raw`).
            {"key": "otel.scope.version", "type": "string", "value": "1.2"},
            {"key": "big", "type": "int64", "value": "9007199254740993"},
            {"key": "bin", "type": "binary", "value": "AAAwOQ=="},
            {"key": "http.method", "type": "string", "value": "GET"},
            {"key": "http.status_code", "type": "int64", "value": 503},
            {"key": "list", "type": "string", "value": "[\"a\\u003cb\",1e+21]"},
            {"key": "ok", "type": "bool", "value": false},
            {"key": "ratio", "type": "float64", "value": 0.25},
            {"key": "span.kind", "type": "string", "value": "server"},
            {"key": "otel.status_code", "type": "string", "value": "ERROR"},
            {"key": "error", "type": "bool", "value": true},
            {"key": "otel.status_description", "type": "string", "value": "boom"},
            {"key": "w3c.tracestate", "type": "string", "value": "k=v"},
        ])
    );
    assert_eq!(root.logs.len(), 1);
    assert_eq!(root.logs[0].timestamp, ts(T0 + 5 * MS));
    assert_eq!(
        root.logs[0].fields.iter().map(tag_json).collect::<Vec<_>>(),
        [
            json!({"key": "event", "type": "string", "value": "cache miss"}),
            json!({"key": "key", "type": "string", "value": "user:1"}),
        ]
    );
    let p = root.process.as_ref().unwrap();
    assert_eq!(p.service_name, "frontend");
    assert_eq!(
        p.tags.iter().map(tag_json).collect::<Vec<_>>(),
        [json!({"key": "host.name", "type": "string", "value": "h1"})]
    );
    assert!(root.warnings.is_empty());

    // A child: the parent as the first CHILD_OF, then its typed link.
    let child = spans[1];
    assert_eq!(child.span_id, sid(1));
    assert_eq!(child.process.as_ref().unwrap().service_name, "mysql");
    let refs: Vec<(Vec<u8>, Vec<u8>, i32)> = child
        .references
        .iter()
        .map(|r| (r.trace_id.clone(), r.span_id.clone(), r.ref_type))
        .collect();
    assert_eq!(
        refs,
        [(tid(TRACE), root_id(), 0), (tid(SECOND), sid(99), 0)]
    );
    assert_eq!(
        child.tags.iter().map(tag_json).collect::<Vec<_>>(),
        [
            json!({"key": "db.system", "type": "string", "value": "mysql"}),
            json!({"key": "span.kind", "type": "string", "value": "client"}),
        ]
    );
    assert_eq!(
        spans.iter().map(|s| s.span_id.clone()).collect::<Vec<_>>()[1..],
        (1..=11).map(sid).collect::<Vec<_>>()[..]
    );
    server.stop().await;
}

/// The spans of `GetTrace` over api_v2 gRPC, checked equal to `/api/traces/{id}`'s.
async fn same_spans_over_grpc_and_http(
    c: &mut V2Client<Channel>,
    state: &QueryState,
    trace: &str,
    raw: bool,
) -> Vec<J> {
    let chunks = v2_trace(c, trace, raw).await.unwrap();
    let grpc: Vec<J> = chunks
        .iter()
        .flat_map(|c| &c.spans)
        .map(span_json)
        .collect();
    let http = http_spans(state, &format!("/api/traces/{trace}?raw={raw}")).await;
    assert_eq!(grpc, http, "{trace} raw={raw}");
    grpc
}

#[tokio::test]
async fn grpc_and_http_return_the_same_trace() {
    let env = env().await;
    let server = Server::start(GrpcQueryState::from_query_state(&env.state)).await;
    let mut c = server.v2().await;
    for raw in [false, true] {
        let spans = same_spans_over_grpc_and_http(&mut c, &env.state, TRACE, raw).await;
        assert_eq!(spans.len(), 12);
    }
    // The adjusters run on the gRPC path too, and `raw` skips them there as well: a span
    // with a library attribute (in the archive, read through the fallback) keeps it
    // raw and has it moved to its process adjusted.
    const LIBRARY_TRACE: &str = "00000000000000000000000000000abc";
    env.archive
        .write_spans(vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", s("lib-svc"))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![OtlpSpan {
                    trace_id: tid(LIBRARY_TRACE),
                    span_id: SpanId::from_u64(7).0.to_vec(),
                    name: "op".into(),
                    start_time_unix_nano: T0,
                    end_time_unix_nano: T0 + MS,
                    attributes: vec![kv("telemetry.sdk.language", s("rust"))],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }])
        .await
        .unwrap();
    for raw in [false, true] {
        let grpc = same_spans_over_grpc_and_http(&mut c, &env.state, LIBRARY_TRACE, raw).await;
        let in_span = grpc[0]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "telemetry.sdk.language");
        assert_eq!(in_span, raw, "raw={raw}: {}", grpc[0]);
    }

    // api_v3: the very OTLP trace the query service returns, and the same span ids as
    // `/api/v3/traces/{id}`.
    let mut c3 = server.v3().await;
    let got = v3_stream(
        c3.get_trace(v3::GetTraceRequest {
            trace_id: TRACE.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner(),
    )
    .await
    .unwrap();
    assert_eq!(got.len(), 1);
    let want = env
        .state
        .query_service()
        .get_trace(
            GetTraceParams {
                trace_id: TraceId::parse_hex(TRACE).unwrap(),
                ..Default::default()
            },
            false,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got[0].resource_spans, want.resource_spans);
    let resp = router(env.state.clone())
        .oneshot(
            Request::get(format!("/api/v3/traces/{TRACE}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body: J =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let http_ids: Vec<String> = body["result"]["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["scopeSpans"].as_array().unwrap().clone())
        .flat_map(|s| s["spans"].as_array().unwrap().clone())
        .map(|s| s["spanId"].as_str().unwrap().to_string())
        .collect();
    let grpc_ids: Vec<String> = jaeger_model::trace::spans_of(&got[0].resource_spans)
        .map(|s| s.span_id().to_hex())
        .collect();
    assert_eq!(grpc_ids, http_ids);
    server.stop().await;
}

#[tokio::test]
async fn searches_services_operations_dependencies() {
    let env = env().await;
    let server = Server::start(GrpcQueryState::from_query_state(&env.state)).await;
    let mut c = server.v2().await;

    let find = |service: &str, depth: i32| v2::FindTracesRequest {
        query: Some(v2::TraceQueryParameters {
            service_name: service.into(),
            start_time_min: ts(T0 - 1000 * MS),
            start_time_max: ts(T0 + 1000 * MS),
            search_depth: depth,
            ..Default::default()
        }),
    };
    let mut stream = c
        .find_traces(find("frontend", 0))
        .await
        .unwrap()
        .into_inner();
    let mut per_trace: Vec<(String, usize)> = Vec::new();
    while let Some(chunk) = stream.message().await.unwrap() {
        let id = id_text(&chunk.spans[0].trace_id);
        // A chunk never mixes traces.
        assert!(chunk.spans.iter().all(|s| id_text(&s.trace_id) == id));
        match per_trace.last_mut() {
            Some((last, n)) if *last == id => *n += chunk.spans.len(),
            _ => per_trace.push((id, chunk.spans.len())),
        }
    }
    per_trace.sort();
    assert_eq!(
        per_trace,
        [
            ("000000000000beef".to_string(), 1),
            ("0af7651916cd43dd8448eb211c80319c".to_string(), 12)
        ]
    );
    let mut stream = c
        .find_traces(find("frontend", 1))
        .await
        .unwrap()
        .into_inner();
    let mut ids = std::collections::BTreeSet::new();
    while let Some(chunk) = stream.message().await.unwrap() {
        ids.extend(chunk.spans.iter().map(|s| s.trace_id.clone()));
    }
    assert_eq!(ids.len(), 1, "search_depth limits the traces");
    let mut stream = c.find_traces(find("nobody", 0)).await.unwrap().into_inner();
    assert!(stream.message().await.unwrap().is_none());

    let services = c
        .get_services(v2::GetServicesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(services.services, ["frontend", "mysql"]);
    let ops = c
        .get_operations(v2::GetOperationsRequest {
            service: "frontend".into(),
            span_kind: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ops.operation_names, ["GET /dispatch", "GET /health"]);
    assert_eq!(
        ops.operations,
        [
            v2::Operation {
                name: "GET /dispatch".into(),
                span_kind: "server".into()
            },
            v2::Operation {
                name: "GET /health".into(),
                span_kind: "server".into()
            },
        ]
    );
    let deps = c
        .get_dependencies(v2::GetDependenciesRequest {
            start_time: ts(T0 - 3_600_000 * MS),
            end_time: ts(T0),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        deps.dependencies,
        [v2::DependencyLink {
            parent: "frontend".into(),
            child: "mysql".into(),
            call_count: 11,
            source: "jaeger".into(),
        }]
    );

    let mut c3 = server.v3().await;
    let got = v3_stream(
        c3.find_traces(v3::FindTracesRequest {
            query: Some(v3::TraceQueryParameters {
                service_name: "mysql".into(),
                attributes: [("db.system".to_string(), "mysql".to_string())].into(),
                start_time_min: ts(T0 - 1000 * MS),
                start_time_max: ts(T0 + 1000 * MS),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner(),
    )
    .await
    .unwrap();
    assert_eq!(got.len(), 1, "one message per trace");
    assert_eq!(jaeger_model::trace::span_count(&got[0].resource_spans), 12);
    let summaries = c3
        .find_trace_summaries(v3::FindTraceSummariesRequest {
            query: Some(v3::TraceQueryParameters {
                service_name: "frontend".into(),
                start_time_min: ts(T0 - 1000 * MS),
                start_time_max: ts(T0 + 1000 * MS),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap();
    let s = summaries
        .summaries
        .iter()
        .find(|s| s.trace_id == TRACE)
        .unwrap();
    assert_eq!(
        (
            s.root_service_name.as_str(),
            s.root_operation_name.as_str(),
            s.span_count,
            s.error_span_count
        ),
        ("frontend", "GET /dispatch", 12, 1)
    );
    assert_eq!(s.min_start_time_unix_nano, T0);
    assert_eq!(s.max_end_time_unix_nano, T0 + 100 * MS);
    assert_eq!(
        s.services,
        [
            v3::ServiceSummary {
                name: "frontend".into(),
                span_count: 1,
                error_span_count: 1
            },
            v3::ServiceSummary {
                name: "mysql".into(),
                span_count: 11,
                error_span_count: 0
            },
        ]
    );
    let ops = c3
        .get_operations(v3::GetOperationsRequest {
            service: "mysql".into(),
            span_kind: "client".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ops.operations.len(), 11);
    assert!(ops.operations.iter().all(|o| o.span_kind == "client"));
    let services = c3
        .get_services(v3::GetServicesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(services.services, ["frontend", "mysql"]);
    let deps = c3
        .get_dependencies(v3::GetDependenciesRequest {
            start_time: ts(T0 - 3_600_000 * MS),
            end_time: ts(T0),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        deps.dependencies,
        [v3::Dependency {
            parent: "frontend".into(),
            child: "mysql".into(),
            call_count: 11
        }]
    );
    server.stop().await;
}

#[tokio::test]
async fn archive_fallback_and_archiving() {
    let env = env().await;
    let server = Server::start(GrpcQueryState::from_query_state(&env.state)).await;
    let mut c = server.v2().await;
    // Only in the archive: found through the fallback.
    let chunks = v2_trace(&mut c, ARCHIVED, false).await.unwrap();
    assert_eq!(chunks[0].spans[0].operation_name, "old");

    let id = TraceId::parse_hex(TRACE).unwrap();
    let params = GetTraceParams {
        trace_id: id,
        ..Default::default()
    };
    assert!(
        env.archive
            .get_trace(params.clone())
            .await
            .unwrap()
            .is_none()
    );
    c.archive_trace(v2::ArchiveTraceRequest {
        trace_id: tid(TRACE),
        ..Default::default()
    })
    .await
    .unwrap();
    let archived = env.archive.get_trace(params).await.unwrap().unwrap();
    assert_eq!(archived.span_count(), 12);

    let err = c
        .archive_trace(v2::ArchiveTraceRequest {
            trace_id: tid("123456"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;

    // Without archive storage.
    let mut state = env.state.clone();
    state.archive_writer = None;
    let server = Server::start(GrpcQueryState::from_query_state(&state)).await;
    let err = server
        .v2()
        .await
        .archive_trace(v2::ArchiveTraceRequest {
            trace_id: tid(TRACE),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    assert!(
        err.message()
            .contains("archive span storage was not configured"),
        "{}",
        err.message()
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_and_missing_traces() {
    let env = env().await;
    let server = Server::start(GrpcQueryState::from_query_state(&env.state)).await;
    let mut c = server.v2().await;
    let code = |r: Result<Vec<v2::SpansResponseChunk>, tonic::Status>| r.unwrap_err().code();
    assert_eq!(
        code(v2_trace(&mut c, "123456", false).await),
        Code::NotFound
    );
    let mut bad = c
        .get_trace(v2::GetTraceRequest {
            trace_id: vec![1; 5],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("invalid length for TraceID"));
    bad = c
        .get_trace(v2::GetTraceRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (bad.code(), bad.message()),
        (
            Code::InvalidArgument,
            "uninitialized TraceID is not allowed"
        )
    );
    // An 8-byte id is the low half.
    let chunks = c
        .get_trace(v2::GetTraceRequest {
            trace_id: tid(SECOND)[8..].to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(chunks.spans[0].operation_name, "GET /health");
    let e = c
        .find_traces(v2::FindTracesRequest { query: None })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (Code::InvalidArgument, "missing query")
    );
    // Go's zero time (what Jaeger's Go clients send for "unset") is unset.
    let go_zero = Some(Timestamp {
        seconds: -62_135_596_800,
        nanos: 0,
    });
    let e = c
        .get_dependencies(v2::GetDependenciesRequest {
            start_time: go_zero,
            end_time: ts(T0),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    let mut c3 = server.v3().await;
    let e = c3
        .get_trace(v3::GetTraceRequest {
            trace_id: "xyz".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().starts_with("malform trace ID"),
        "{}",
        e.message()
    );
    let e = c3
        .get_trace(v3::GetTraceRequest {
            trace_id: "abc".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.message()), (Code::NotFound, "trace not found"));
    let e = c3
        .find_traces(v3::FindTracesRequest {
            query: Some(v3::TraceQueryParameters {
                start_time_min: ts(T0),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (
            Code::InvalidArgument,
            "start time min and max are required parameters"
        )
    );
    let e = c3
        .find_traces(v3::FindTracesRequest {
            query: Some(v3::TraceQueryParameters {
                service_name: "nobody".into(),
                start_time_min: ts(T0 - MS),
                start_time_max: ts(T0 + MS),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.message()), (Code::NotFound, "No traces found"));
    for (start, end, msg) in [
        (None, ts(T0), "start_time is required"),
        (ts(T0), None, "end_time is required"),
        (ts(T0), ts(T0), "end_time must be after start_time"),
    ] {
        let e = c3
            .get_dependencies(v3::GetDependenciesRequest {
                start_time: start,
                end_time: end,
            })
            .await
            .unwrap_err();
        assert_eq!((e.code(), e.message()), (Code::InvalidArgument, msg));
    }
    server.stop().await;
}

/// A storage that fails every call with the given error.
struct Failing(fn() -> StorageError);

#[async_trait]
impl SpanReader for Failing {
    async fn get_trace(
        &self,
        _: GetTraceParams,
    ) -> jaeger_storage::Result<Option<jaeger_model::Trace>> {
        Err((self.0)())
    }
    async fn find_traces(
        &self,
        _: &TraceQuery,
    ) -> jaeger_storage::Result<Vec<jaeger_model::Trace>> {
        Err((self.0)())
    }
    async fn find_trace_ids(&self, _: &TraceQuery) -> jaeger_storage::Result<Vec<TraceId>> {
        Err((self.0)())
    }
    async fn get_services(&self) -> jaeger_storage::Result<Vec<String>> {
        Err((self.0)())
    }
    async fn get_operations(&self, _: &OperationQuery) -> jaeger_storage::Result<Vec<Operation>> {
        Err((self.0)())
    }
}

#[async_trait]
impl DependencyStore for Failing {
    async fn get_dependencies(
        &self,
        _: UnixNanos,
        _: u64,
    ) -> jaeger_storage::Result<Vec<DependencyLink>> {
        Err((self.0)())
    }
    async fn write_dependencies(
        &self,
        _: UnixNanos,
        _: UnixNanos,
        _: Vec<DependencyLink>,
    ) -> jaeger_storage::Result<()> {
        Err((self.0)())
    }
}

#[tokio::test]
async fn storage_errors_map_to_status_codes() {
    let cases: [(fn() -> StorageError, Code); 3] = [
        (
            || StorageError::Engine("disk on fire".into()),
            Code::Internal,
        ),
        (
            || StorageError::InvalidQuery("service name must be set".into()),
            Code::InvalidArgument,
        ),
        (
            || StorageError::Unavailable("shutting down".into()),
            Code::Unavailable,
        ),
    ];
    for (err, want) in cases {
        let failing = Arc::new(Failing(err));
        let state = QueryState::new(failing.clone(), failing);
        let server = Server::start(GrpcQueryState::from_query_state(&state)).await;
        let mut c = server.v2().await;
        let e = c.get_services(v2::GetServicesRequest {}).await.unwrap_err();
        assert_eq!(e.code(), want, "{}", e.message());
        assert_eq!(code_of(v2_trace(&mut c, TRACE, false).await), want);
        let e = c
            .get_dependencies(v2::GetDependenciesRequest {
                start_time: ts(T0 - MS),
                end_time: ts(T0),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), want);
        let e = server
            .v3()
            .await
            .get_operations(v3::GetOperationsRequest {
                service: "x".into(),
                span_kind: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), want);
        server.stop().await;
    }
}

fn code_of<T>(r: Result<T, tonic::Status>) -> Code {
    match r {
        Ok(_) => Code::Ok,
        Err(e) => e.code(),
    }
}

#[tokio::test]
async fn health_and_reflection() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let env = env().await;
    let server = Server::start(GrpcQueryState::from_query_state(&env.state)).await;
    let mut health = HealthClient::new(server.channel().await);
    for service in [
        "",
        "jaeger.api_v2.QueryService",
        "jaeger.api_v3.QueryService",
    ] {
        let r = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.status(), ServingStatus::Serving, "{service:?}");
    }

    let mut refl = ServerReflectionClient::new(server.channel().await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = refl
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        stream.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "jaeger.api_v2.QueryService",
            "jaeger.api_v3.QueryService"
        ]
    );
    server.stop().await;
}

/// With multi-tenancy on, both query services want the tenant in the metadata, with
/// Jaeger's codes; a known tenant gets the same answers as without tenancy, and health
/// stays open for probes.
#[tokio::test]
async fn tenancy_guards_both_query_services() {
    use tonic::metadata::MetadataValue;
    let mut env = env().await;
    env.state.http.tenancy = Some(jaeger_query::TenancyOptions {
        tenants: vec!["acme".into()],
        ..Default::default()
    });
    let server = Server::start(GrpcQueryState::from_query_state(&env.state)).await;
    let with = |tenants: &[&str]| {
        let mut r = tonic::Request::new(());
        for t in tenants {
            r.metadata_mut()
                .append("x-tenant", MetadataValue::try_from(*t).unwrap());
        }
        r
    };
    // (tenant values sent, expected refusal)
    type Case = (&'static [&'static str], Option<(Code, &'static str)>);
    let cases: [Case; 4] = [
        (&[], Some((Code::Unauthenticated, "missing tenant header"))),
        (
            &["initech"],
            Some((Code::PermissionDenied, "unknown tenant")),
        ),
        (
            &["acme", "acme"],
            Some((Code::PermissionDenied, "extra tenant header")),
        ),
        (&["acme"], None),
    ];
    for (tenants, want) in cases {
        let (md, ext, ()) = with(tenants).into_parts();
        let v2_req = tonic::Request::from_parts(md.clone(), ext, v2::GetServicesRequest {});
        let v2 = server.v2().await.get_services(v2_req).await;
        let v3_req = tonic::Request::from_parts(
            md.clone(),
            tonic::Extensions::default(),
            v3::GetServicesRequest {},
        );
        let v3 = server.v3().await.get_services(v3_req).await;
        // A streaming call is refused before its stream starts.
        let trace_req = tonic::Request::from_parts(
            md,
            tonic::Extensions::default(),
            v2::GetTraceRequest {
                trace_id: tid(TRACE),
                ..Default::default()
            },
        );
        let trace = server.v2().await.get_trace(trace_req).await;
        match want {
            Some((code, msg)) => {
                for s in [
                    v2.map(|_| ()).unwrap_err(),
                    v3.map(|_| ()).unwrap_err(),
                    trace.map(|_| ()).unwrap_err(),
                ] {
                    assert_eq!((s.code(), s.message()), (code, msg), "{tenants:?}");
                }
            }
            None => {
                assert_eq!(v2.unwrap().into_inner().services, ["frontend", "mysql"]);
                assert_eq!(v3.unwrap().into_inner().services, ["frontend", "mysql"]);
                let mut stream = trace.unwrap().into_inner();
                let mut spans = 0;
                while let Some(chunk) = stream.message().await.unwrap() {
                    spans += chunk.spans.len();
                }
                assert!(spans > 0);
            }
        }
    }
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    let r = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "jaeger.api_v2.QueryService".into(),
        })
        .await;
    assert!(r.is_ok(), "health needs no tenant: {r:?}");
    server.stop().await;
}

/// A store that remembers the request context each storage call ran under.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<Option<jaeger_query::RequestContext>>>);

impl Recorder {
    fn record(&self) {
        self.0
            .lock()
            .unwrap()
            .push(jaeger_query::RequestContext::current());
    }

    fn take(&self) -> Vec<Option<jaeger_query::RequestContext>> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[async_trait]
impl SpanReader for Recorder {
    async fn get_trace(
        &self,
        _: GetTraceParams,
    ) -> jaeger_storage::Result<Option<jaeger_model::Trace>> {
        self.record();
        Ok(None)
    }
    async fn find_traces(
        &self,
        _: &TraceQuery,
    ) -> jaeger_storage::Result<Vec<jaeger_model::Trace>> {
        self.record();
        Ok(vec![])
    }
    async fn find_trace_ids(&self, _: &TraceQuery) -> jaeger_storage::Result<Vec<TraceId>> {
        Ok(vec![])
    }
    async fn get_services(&self) -> jaeger_storage::Result<Vec<String>> {
        self.record();
        Ok(vec!["svc".into()])
    }
    async fn get_operations(&self, _: &OperationQuery) -> jaeger_storage::Result<Vec<Operation>> {
        Ok(vec![])
    }
}

#[async_trait]
impl DependencyStore for Recorder {
    async fn get_dependencies(
        &self,
        _: UnixNanos,
        _: u64,
    ) -> jaeger_storage::Result<Vec<DependencyLink>> {
        Ok(vec![])
    }
    async fn write_dependencies(
        &self,
        _: UnixNanos,
        _: UnixNanos,
        _: Vec<DependencyLink>,
    ) -> jaeger_storage::Result<()> {
        Ok(())
    }
}

/// As on HTTP, storage calls of a gRPC query run with the call's tenant and, with
/// `bearer_token_propagation` on, its bearer token (`authorization: Bearer <t>` or
/// Jaeger's `bearer.token` key), unary and streaming calls alike; with propagation off
/// the token stays behind, and several `bearer.token` values are refused.
#[tokio::test]
async fn grpc_calls_carry_tenant_and_bearer_token_to_storage() {
    use jaeger_query::RequestContext;
    use tonic::metadata::MetadataValue;
    let rec = Arc::new(Recorder::default());
    let mut state = QueryState::new(rec.clone(), rec.clone());
    state.http.tenancy = Some(jaeger_query::TenancyOptions::default());
    state.http.bearer_token_propagation = true;
    let server = Server::start(GrpcQueryState::from_query_state(&state)).await;
    let req = |md: &[(&'static str, &'static str)]| {
        let mut r = tonic::Request::new(());
        for (k, v) in md {
            r.metadata_mut()
                .append(*k, MetadataValue::try_from(*v).unwrap());
        }
        r.into_parts().0
    };
    let ctx = |tenant: &str, token: Option<&str>| {
        Some(RequestContext {
            bearer_token: token.map(str::to_string),
            tenant: Some(tenant.to_string()),
        })
    };

    let md = req(&[("x-tenant", "acme"), ("authorization", "Bearer s3cret")]);
    let r = server
        .v2()
        .await
        .get_services(tonic::Request::from_parts(
            md.clone(),
            Default::default(),
            v2::GetServicesRequest {},
        ))
        .await;
    assert_eq!(r.unwrap().into_inner().services, ["svc"]);
    // A streaming call reads storage inside the same context.
    let e = server
        .v3()
        .await
        .get_trace(tonic::Request::from_parts(
            md,
            Default::default(),
            v3::GetTraceRequest {
                trace_id: TRACE.into(),
                ..Default::default()
            },
        ))
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert_eq!(
        rec.take(),
        [ctx("acme", Some("s3cret")), ctx("acme", Some("s3cret"))]
    );

    // Jaeger's own metadata key holds the bare token.
    let md = req(&[("x-tenant", "globex"), ("bearer.token", "t0ken")]);
    server
        .v3()
        .await
        .get_services(tonic::Request::from_parts(
            md,
            Default::default(),
            v3::GetServicesRequest {},
        ))
        .await
        .unwrap();
    assert_eq!(rec.take(), [ctx("globex", Some("t0ken"))]);

    let md = req(&[
        ("x-tenant", "acme"),
        ("bearer.token", "a"),
        ("bearer.token", "b"),
    ]);
    let e = server
        .v2()
        .await
        .get_services(tonic::Request::from_parts(
            md,
            Default::default(),
            v2::GetServicesRequest {},
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (
            Code::Unauthenticated,
            "malformed token: multiple tokens found"
        )
    );
    assert!(rec.take().is_empty(), "a refused call reads nothing");
    server.stop().await;

    // Propagation off: the tenant still flows, the token does not.
    state.http.bearer_token_propagation = false;
    let server = Server::start(GrpcQueryState::from_query_state(&state)).await;
    let md = req(&[("x-tenant", "acme"), ("authorization", "Bearer s3cret")]);
    server
        .v2()
        .await
        .get_services(tonic::Request::from_parts(
            md,
            Default::default(),
            v2::GetServicesRequest {},
        ))
        .await
        .unwrap();
    assert_eq!(rec.take(), [ctx("acme", None)]);
    server.stop().await;
}
