use super::*;
use crate::queue::SpanQueue;
use crate::test_support::RecordingWriter;
use axum::Router;
use axum::body::Body;
use http::StatusCode;
use http_body_util::BodyExt;
use jaeger_config::QueueConfig;
use jaeger_model::otlp::{KeyValue, ResourceSpans, Value};
use serde_json::json;
use std::io::Write;
use std::sync::Arc;
use tower::ServiceExt;

fn queue(writer: Arc<RecordingWriter>) -> SpanQueue {
    SpanQueue::new(
        &QueueConfig {
            max_bytes: 1 << 20,
            max_batch_spans: 1000,
            writers: 1,
        },
        writer,
    )
}

async fn post(
    router: Router,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, String) {
    let mut req = http::Request::builder().method("POST").uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = router
        .oneshot(req.body(Body::from(body)).expect("request"))
        .await
        .expect("infallible");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
}

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

fn v2_spans() -> serde_json::Value {
    json!([
        {
            "traceId": "0102030405060708090a0b0c0d0e0f10",
            "id": "0000000000000002",
            "parentId": "0000000000000001",
            "kind": "CLIENT",
            "name": "get /users",
            "timestamp": 1_700_000_000_000_000u64,
            "duration": 250,
            "shared": true,
            "localEndpoint": {"serviceName": "frontend", "ipv4": "10.0.0.1", "port": 8080},
            "remoteEndpoint": {"serviceName": "users", "ipv4": "10.0.0.2", "port": 9000},
            "annotations": [
                {"timestamp": 1_700_000_000_000_010u64, "value": "ws"},
                {"timestamp": 1_700_000_000_000_020u64, "value": "retry|{\"attempt\":2}|1"}
            ],
            "tags": {
                "http.method": "GET",
                "error": "true",
                "otel.library.name": "my-lib",
                "host.name": "box-1"
            }
        },
        {
            "traceId": "0a0b0c0d0e0f1011",
            "id": "0000000000000003",
            "name": "local",
            "timestamp": 1_700_000_000_000_000u64,
            "duration": 5,
            "localEndpoint": {"serviceName": "backend"},
            "tags": {"span.kind": "internal"}
        }
    ])
}

fn by_service<'a>(batch: &'a [ResourceSpans], service: &str) -> &'a ResourceSpans {
    batch
        .iter()
        .find(|rs| {
            rs.resource
                .as_ref()
                .and_then(|r| attr(&r.attributes, "service.name"))
                == Some(&s(service))
        })
        .expect("resource of the service")
}

fn check_v2_mapping(batch: &[ResourceSpans]) {
    assert_eq!(batch.len(), 2);
    let front = by_service(batch, "frontend");
    let res = front.resource.as_ref().expect("resource");
    assert_eq!(attr(&res.attributes, "host.name"), Some(&s("box-1")));
    let scope = &front.scope_spans[0];
    assert_eq!(
        scope.scope.as_ref().map(|s| s.name.as_str()),
        Some("my-lib")
    );
    let span = &scope.spans[0];
    assert_eq!(span.trace_id, (1..=16).collect::<Vec<u8>>());
    assert_eq!(span.span_id, 2u64.to_be_bytes());
    assert_eq!(span.parent_span_id, 1u64.to_be_bytes());
    assert_eq!(span.kind, 3, "CLIENT");
    assert_eq!(span.name, "get /users");
    assert_eq!(span.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_700_000_000_000_250_000);
    assert_eq!(span.status.as_ref().map(|s| s.code), Some(2));
    assert!(attr(&span.attributes, "error").is_none());
    assert_eq!(attr(&span.attributes, "http.method"), Some(&s("GET")));
    assert_eq!(attr(&span.attributes, "net.host.ip"), Some(&s("10.0.0.1")));
    assert_eq!(
        attr(&span.attributes, "net.host.port"),
        Some(&Value::IntValue(8080))
    );
    assert_eq!(attr(&span.attributes, "peer.service"), Some(&s("users")));
    assert_eq!(attr(&span.attributes, "net.peer.ip"), Some(&s("10.0.0.2")));
    assert_eq!(
        attr(&span.attributes, "net.peer.port"),
        Some(&Value::IntValue(9000))
    );
    assert_eq!(span.events.len(), 2);
    assert_eq!(span.events[0].name, "ws");
    assert_eq!(span.events[0].time_unix_nano, 1_700_000_000_000_010_000);
    assert_eq!(span.events[1].name, "retry");
    assert_eq!(
        attr(&span.events[1].attributes, "attempt"),
        Some(&Value::IntValue(2))
    );
    assert_eq!(span.events[1].dropped_attributes_count, 1);

    let back = by_service(batch, "backend");
    let span = &back.scope_spans[0].spans[0];
    // A 64-bit trace id is the low half of the 128-bit one.
    assert_eq!(
        span.trace_id,
        [0, 0, 0, 0, 0, 0, 0, 0, 10, 11, 12, 13, 14, 15, 16, 17]
    );
    assert_eq!(span.kind, 1, "INTERNAL");
    assert!(span.parent_span_id.is_empty());
}

#[tokio::test]
async fn v2_json_maps_and_writes() {
    let writer = RecordingWriter::new();
    let router = zipkin_router(queue(writer.clone()), 1 << 20);
    let body = serde_json::to_vec(&v2_spans()).expect("json");
    let (status, text) = post(
        router.clone(),
        V2_PATH,
        &[("content-type", "application/json")],
        body.clone(),
    )
    .await;
    assert_eq!((status, text.as_str()), (StatusCode::ACCEPTED, ""));
    check_v2_mapping(&writer.batches()[0]);

    // Gzip, and no content type at all (JSON is the default).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&body).expect("gzip");
    let (status, _) = post(
        router,
        V2_PATH,
        &[("content-encoding", "gzip")],
        gz.finish().expect("gzip"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(writer.span_count(), 4);
}

#[tokio::test]
async fn v2_proto_maps_like_json() {
    use prost::Message;
    use v2::proto;
    let list = proto::ListOfSpans {
        spans: vec![
            proto::Span {
                trace_id: (1..=16).collect(),
                parent_id: 1u64.to_be_bytes().to_vec(),
                id: 2u64.to_be_bytes().to_vec(),
                kind: 1,
                name: "get /users".into(),
                timestamp: 1_700_000_000_000_000,
                duration: 250,
                local_endpoint: Some(proto::Endpoint {
                    service_name: "frontend".into(),
                    ipv4: vec![10, 0, 0, 1],
                    ipv6: vec![],
                    port: 8080,
                }),
                remote_endpoint: Some(proto::Endpoint {
                    service_name: "users".into(),
                    ipv4: vec![10, 0, 0, 2],
                    ipv6: vec![],
                    port: 9000,
                }),
                annotations: vec![
                    proto::Annotation {
                        timestamp: 1_700_000_000_000_010,
                        value: "ws".into(),
                    },
                    proto::Annotation {
                        timestamp: 1_700_000_000_000_020,
                        value: "retry|{\"attempt\":2}|1".into(),
                    },
                ],
                tags: [
                    ("http.method", "GET"),
                    ("error", "true"),
                    ("otel.library.name", "my-lib"),
                    ("host.name", "box-1"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
                debug: false,
                shared: true,
            },
            proto::Span {
                trace_id: (10..=17).collect(),
                id: 3u64.to_be_bytes().to_vec(),
                name: "local".into(),
                timestamp: 1_700_000_000_000_000,
                duration: 5,
                local_endpoint: Some(proto::Endpoint {
                    service_name: "backend".into(),
                    ..Default::default()
                }),
                tags: [("span.kind".to_owned(), "internal".to_owned())]
                    .into_iter()
                    .collect(),
                ..Default::default()
            },
        ],
    };
    let writer = RecordingWriter::new();
    let router = zipkin_router(queue(writer.clone()), 1 << 20);
    let (status, text) = post(
        router,
        V2_PATH,
        &[("content-type", "application/x-protobuf")],
        list.encode_to_vec(),
    )
    .await;
    assert_eq!((status, text.as_str()), (StatusCode::ACCEPTED, ""));
    check_v2_mapping(&writer.batches()[0]);
}

#[tokio::test]
async fn bad_v2_input_is_a_clear_400() {
    let writer = RecordingWriter::new();
    let router = zipkin_router(queue(writer.clone()), 4 << 20);
    let json = [("content-type", "application/json")];
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!({"traceId": "x"}), "invalid Zipkin v2 JSON"),
        (
            json!([{"traceId": 5, "id": "0000000000000001"}]),
            "[0].traceId",
        ),
        (
            json!([{"traceId": "00000000000000000000000000000000", "id": "0000000000000001"}]),
            "all zeros",
        ),
        (
            json!([{"traceId": "0102", "id": "0000000000000001"}]),
            "expected 16 or 32 hex",
        ),
        (
            json!([{"traceId": "0102030405060708", "id": "0000000000000000"}]),
            "[0].id: span id is all zeros",
        ),
        (
            json!([{"traceId": "0102030405060708", "id": "zz00000000000001"}]),
            "invalid span id",
        ),
        (
            json!([{"traceId": "0102030405060708", "id": "0000000000000001", "timestamp": -1}]),
            "[0].timestamp",
        ),
        (
            json!([{"traceId": "0102030405060708", "id": "0000000000000001", "tags": {"a": 1}}]),
            "[0].tags.a",
        ),
        (
            json!([{"traceId": "0102030405060708", "id": "0000000000000001",
                    "annotations": [{"timestamp": 1, "value": "x|{bad|1"}]}]),
            "invalid attributes JSON",
        ),
    ];
    for (body, want) in cases {
        let (status, text) = post(
            router.clone(),
            V2_PATH,
            &json,
            serde_json::to_vec(&body).expect("json"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(text.contains(want), "{body}: {text}");
    }
    let (status, text) = post(
        router.clone(),
        V2_PATH,
        &[("content-type", "application/x-protobuf")],
        vec![0x0a, 0xff, 0xff, 0xff, 0x0f],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("invalid Zipkin v2 protobuf"), "{text}");
    assert_eq!(writer.span_count(), 0);

    // An absurd timestamp and a 1 MB tag are accepted, clamped / kept.
    let big = "x".repeat(1 << 20);
    let body = json!([{"traceId": "0102030405060708", "id": "0000000000000001",
        "timestamp": u64::MAX, "duration": u64::MAX, "tags": {"big": big}}]);
    let (status, text) = post(
        router,
        V2_PATH,
        &json,
        serde_json::to_vec(&body).expect("json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    let batch = writer.batches();
    let span = &batch[0][0].scope_spans[0].spans[0];
    assert_eq!(span.start_time_unix_nano, u64::MAX);
    assert_eq!(span.end_time_unix_nano, u64::MAX);
}

#[tokio::test]
async fn queue_failure_is_retryable_and_other_routes_are_refused() {
    let writer = RecordingWriter::new();
    writer.fail_with("down");
    let router = zipkin_router(queue(writer.clone()), 1 << 20);
    let body = serde_json::to_vec(&v2_spans()).expect("json");
    let (status, text) = post(router.clone(), V2_PATH, &[], body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(text.starts_with("Cannot submit Zipkin batch"), "{text}");
    let (status, _) = post(router, "/api/v3/spans", &[], vec![]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn v1_json() -> serde_json::Value {
    let client = json!({"serviceName": "frontend", "ipv4": "10.0.0.1", "port": 8080});
    let server = json!({"serviceName": "users", "ipv4": "10.0.0.2", "port": 9000});
    json!([{
        "traceId": "0102030405060708",
        "id": "0000000000000002",
        "parentId": "0000000000000001",
        "name": "get",
        "annotations": [
            {"timestamp": 1000, "value": "cs", "endpoint": client},
            {"timestamp": 1100, "value": "sr", "endpoint": server},
            {"timestamp": 1150, "value": "cache miss", "endpoint": server},
            {"timestamp": 1300, "value": "ss", "endpoint": server},
            {"timestamp": 1400, "value": "cr", "endpoint": client}
        ],
        "binaryAnnotations": [
            {"key": "http.path", "value": "/users", "endpoint": client},
            {"key": "retries", "value": 3},
            {"key": "lc", "value": "httpclient", "endpoint": client},
            {"key": "sa", "value": true, "endpoint": server},
            {"key": "ca", "value": true, "endpoint": client}
        ]
    }])
}

#[tokio::test]
async fn v1_json_shared_span_becomes_client_and_server() {
    let writer = RecordingWriter::new();
    let router = zipkin_router(queue(writer.clone()), 1 << 20);
    let (status, text) = post(
        router,
        V1_PATH,
        &[("content-type", "application/json")],
        serde_json::to_vec(&v1_json()).expect("json"),
    )
    .await;
    assert_eq!((status, text.as_str()), (StatusCode::ACCEPTED, ""));
    let batch = &writer.batches()[0];
    let client = &by_service(batch, "frontend").scope_spans[0].spans[0];
    let server = &by_service(batch, "users").scope_spans[0].spans[0];
    assert_eq!(client.span_id, server.span_id, "a shared span keeps its id");
    assert_eq!(client.kind, 3);
    assert_eq!(server.kind, 2);
    assert_eq!(client.start_time_unix_nano, 1_000_000);
    assert_eq!(client.end_time_unix_nano, 1_400_000);
    assert_eq!(server.start_time_unix_nano, 1_100_000);
    assert_eq!(server.end_time_unix_nano, 1_300_000);
    assert_eq!(attr(&client.attributes, "peer.service"), Some(&s("users")));
    assert_eq!(
        attr(&server.attributes, "peer.service"),
        Some(&s("frontend"))
    );
    assert_eq!(
        attr(&client.attributes, "component"),
        Some(&s("httpclient"))
    );
    assert_eq!(attr(&client.attributes, "http.path"), Some(&s("/users")));
    assert_eq!(attr(&client.attributes, "retries"), Some(&s("3")));
    assert_eq!(client.events.len(), 1);
    assert_eq!(client.events[0].name, "cache miss");
    assert_eq!(client.parent_span_id, 1u64.to_be_bytes());
}

mod thrift_v1 {
    use thrift::protocol::{
        TBinaryOutputProtocol, TFieldIdentifier, TListIdentifier, TOutputProtocol,
        TStructIdentifier, TType,
    };

    fn field(p: &mut dyn TOutputProtocol, t: TType, id: i16) {
        p.write_field_begin(&TFieldIdentifier::new::<Option<String>, String, i16>(
            None, t, id,
        ))
        .expect("write");
    }

    fn endpoint(p: &mut dyn TOutputProtocol, service: &str, ip: i32, port: i16) {
        p.write_struct_begin(&TStructIdentifier::new("Endpoint"))
            .expect("write");
        field(p, TType::I32, 1);
        p.write_i32(ip).expect("write");
        field(p, TType::I16, 2);
        p.write_i16(port).expect("write");
        field(p, TType::String, 3);
        p.write_string(service).expect("write");
        p.write_field_stop().expect("write");
        p.write_struct_end().expect("write");
    }

    /// One v1 server span of "users": sr/ss annotations, an I64 and a BOOL binary
    /// annotation.
    pub fn encode(list_size: Option<i32>) -> Vec<u8> {
        let mut out = Vec::new();
        let p = &mut TBinaryOutputProtocol::new(&mut out, true);
        p.write_list_begin(&TListIdentifier::new(TType::Struct, list_size.unwrap_or(1)))
            .expect("write");
        p.write_struct_begin(&TStructIdentifier::new("Span"))
            .expect("write");
        field(p, TType::I64, 1);
        p.write_i64(7).expect("write");
        field(p, TType::String, 3);
        p.write_string("get").expect("write");
        field(p, TType::I64, 4);
        p.write_i64(9).expect("write");
        field(p, TType::List, 6);
        p.write_list_begin(&TListIdentifier::new(TType::Struct, 2))
            .expect("write");
        for (ts, v) in [(2000i64, "sr"), (2500, "ss")] {
            p.write_struct_begin(&TStructIdentifier::new("Annotation"))
                .expect("write");
            field(p, TType::I64, 1);
            p.write_i64(ts).expect("write");
            field(p, TType::String, 2);
            p.write_string(v).expect("write");
            field(p, TType::Struct, 3);
            endpoint(p, "users", 0x0a000002, 9000);
            p.write_field_stop().expect("write");
            p.write_struct_end().expect("write");
        }
        p.write_list_end().expect("write");
        field(p, TType::List, 8);
        p.write_list_begin(&TListIdentifier::new(TType::Struct, 2))
            .expect("write");
        for (k, v, ty) in [
            ("rows", 42i64.to_be_bytes().to_vec(), 4),
            ("cached", vec![1], 0),
        ] {
            p.write_struct_begin(&TStructIdentifier::new("BinaryAnnotation"))
                .expect("write");
            field(p, TType::String, 1);
            p.write_string(k).expect("write");
            field(p, TType::String, 2);
            p.write_bytes(&v).expect("write");
            field(p, TType::I32, 3);
            p.write_i32(ty).expect("write");
            p.write_field_stop().expect("write");
            p.write_struct_end().expect("write");
        }
        p.write_list_end().expect("write");
        field(p, TType::I64, 12);
        p.write_i64(5).expect("write");
        p.write_field_stop().expect("write");
        p.write_struct_end().expect("write");
        p.write_list_end().expect("write");
        out
    }
}

#[tokio::test]
async fn v1_thrift_maps_and_bad_thrift_is_400() {
    let writer = RecordingWriter::new();
    let router = zipkin_router(queue(writer.clone()), 1 << 20);
    let thrift = [("content-type", "application/x-thrift")];
    let body = thrift_v1::encode(None);
    let (status, text) = post(router.clone(), V1_PATH, &thrift, body.clone()).await;
    assert_eq!((status, text.as_str()), (StatusCode::ACCEPTED, ""));
    let batch = &writer.batches()[0];
    let span = &by_service(batch, "users").scope_spans[0].spans[0];
    let mut trace = 5u64.to_be_bytes().to_vec();
    trace.extend_from_slice(&7u64.to_be_bytes());
    assert_eq!(span.trace_id, trace);
    assert_eq!(span.span_id, 9u64.to_be_bytes());
    assert_eq!(span.kind, 2);
    assert_eq!(span.start_time_unix_nano, 2_000_000);
    assert_eq!(span.end_time_unix_nano, 2_500_000);
    assert_eq!(attr(&span.attributes, "rows"), Some(&s("42")));
    assert_eq!(attr(&span.attributes, "cached"), Some(&s("true")));
    assert_eq!(attr(&span.attributes, "net.host.ip"), Some(&s("10.0.0.2")));
    assert_eq!(
        attr(&span.attributes, "net.host.port"),
        Some(&Value::IntValue(9000))
    );

    for len in [0, 1, 5, body.len() / 2, body.len() - 1] {
        let (status, text) = post(router.clone(), V1_PATH, &thrift, body[..len].to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "len {len}");
        assert!(text.contains("invalid Zipkin v1 Thrift"), "{text}");
    }
    let (status, text) = post(
        router.clone(),
        V1_PATH,
        &thrift,
        thrift_v1::encode(Some(1_000_000_000)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("invalid Zipkin v1 Thrift"), "{text}");
    let (status, text) = post(
        router,
        V1_PATH,
        &[],
        serde_json::to_vec(&json!([{"traceId": "01", "id": "0000000000000001"}])).expect("json"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("[0].traceId"), "{text}");
    assert_eq!(writer.span_count(), 1);
}

/// Half of a trace by OTLP/HTTP, a span by Zipkin and one by Jaeger Thrift, through the
/// same queue: every span carries the same 16-byte trace id, so they read back as one
/// trace.
#[tokio::test]
async fn one_trace_across_otlp_zipkin_and_jaeger() {
    use crate::jaeger_thrift::{JaegerSpan, ThriftProtocol, tests::encode_batch};
    use jaeger_model::otlp::collector::ExportTraceServiceRequest;
    use prost::Message;

    let writer = RecordingWriter::new();
    let q = queue(writer.clone());
    let trace: Vec<u8> = (1..=16).collect();

    let mut otlp = crate::test_support::spans_batch("otlp-svc", 1);
    otlp[0].scope_spans[0].spans[0].trace_id = trace.clone();
    let req = ExportTraceServiceRequest {
        resource_spans: otlp,
    };
    let (status, _) = post(
        crate::otlp_http::otlp_http_router(q.clone(), 1 << 20),
        "/v1/traces",
        &[("content-type", "application/x-protobuf")],
        req.encode_to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, _) = post(
        zipkin_router(q.clone(), 1 << 20),
        V2_PATH,
        &[],
        serde_json::to_vec(&v2_spans()).expect("json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let mut batch = crate::jaeger_thrift::tests::sample_batch();
    batch.spans = vec![JaegerSpan {
        trace_id_high: 0x0102030405060708,
        trace_id_low: 0x090a0b0c0d0e0f10,
        span_id: 0x77,
        parent_span_id: 1,
        operation_name: "jaeger-op".into(),
        start_time: 1,
        duration: 1,
        ..Default::default()
    }];
    let (status, _) = post(
        crate::jaeger_http::jaeger_http_router(q, 1 << 20),
        "/api/traces",
        &[("content-type", "application/x-thrift")],
        encode_batch(&batch, ThriftProtocol::Binary),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let all: Vec<ResourceSpans> = writer.batches().into_iter().flatten().collect();
    let in_trace: Vec<&str> = all
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .filter(|s| s.trace_id == trace)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(in_trace, ["op-0", "get /users", "jaeger-op"]);
}
