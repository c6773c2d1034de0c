//! The compiled IDL against the IDL spec (idl.md): every field number, enum value and
//! gRPC method path, checked through the descriptor set and the generated clients,
//! plus encode/decode round trips.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as OtlpKv, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span as OtlpSpan, TracesData,
};
use prost::Message;
use prost_types::{FileDescriptorSet, field_descriptor_proto::Label};

use crate::{api_v2, api_v3, storage};

fn descriptors() -> FileDescriptorSet {
    FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET).expect("the build wrote a valid set")
}

/// `package.Message[.Nested]` → field name → (number, repeated).
fn message_fields() -> BTreeMap<String, BTreeMap<String, (i32, bool)>> {
    fn walk(
        prefix: &str,
        msgs: &[prost_types::DescriptorProto],
        out: &mut BTreeMap<String, BTreeMap<String, (i32, bool)>>,
    ) {
        for m in msgs {
            let name = format!("{prefix}.{}", m.name());
            // Map entries are synthetic.
            if m.options.as_ref().is_some_and(|o| o.map_entry()) {
                continue;
            }
            let fields = m
                .field
                .iter()
                .map(|f| {
                    (
                        f.name().to_string(),
                        (f.number(), f.label() == Label::Repeated),
                    )
                })
                .collect();
            out.insert(name.clone(), fields);
            walk(&name, &m.nested_type, out);
        }
    }
    let mut out = BTreeMap::new();
    for f in descriptors().file {
        if f.package().starts_with("jaeger.") {
            walk(f.package(), &f.message_type, &mut out);
        }
    }
    out
}

/// Field tables transcribed from idl.md §1–§3 and §7: `name=number`, `*` for repeated.
const MESSAGES: &[(&str, &str)] = &[
    (
        "jaeger.api_v2.KeyValue",
        "key=1 v_type=2 v_str=3 v_bool=4 v_int64=5 v_float64=6 v_binary=7",
    ),
    ("jaeger.api_v2.Log", "timestamp=1 fields=2*"),
    ("jaeger.api_v2.SpanRef", "trace_id=1 span_id=2 ref_type=3"),
    ("jaeger.api_v2.Process", "service_name=1 tags=2*"),
    (
        "jaeger.api_v2.Span",
        "trace_id=1 span_id=2 operation_name=3 references=4* flags=5 start_time=6 duration=7 \
         tags=8* logs=9* process=10 process_id=11 warnings=12*",
    ),
    ("jaeger.api_v2.Trace", "spans=1* process_map=2* warnings=3*"),
    (
        "jaeger.api_v2.Trace.ProcessMapping",
        "process_id=1 process=2",
    ),
    ("jaeger.api_v2.Batch", "spans=1* process=2"),
    (
        "jaeger.api_v2.DependencyLink",
        "parent=1 child=2 call_count=3 source=4",
    ),
    ("jaeger.api_v2.PostSpansRequest", "batch=1"),
    ("jaeger.api_v2.PostSpansResponse", ""),
    (
        "jaeger.api_v2.GetTraceRequest",
        "trace_id=1 start_time=2 end_time=3 raw_traces=4",
    ),
    ("jaeger.api_v2.SpansResponseChunk", "spans=1*"),
    (
        "jaeger.api_v2.ArchiveTraceRequest",
        "trace_id=1 start_time=2 end_time=3",
    ),
    ("jaeger.api_v2.ArchiveTraceResponse", ""),
    (
        "jaeger.api_v2.TraceQueryParameters",
        "service_name=1 operation_name=2 tags=3* start_time_min=4 start_time_max=5 \
         duration_min=6 duration_max=7 search_depth=8 raw_traces=9",
    ),
    ("jaeger.api_v2.FindTracesRequest", "query=1"),
    ("jaeger.api_v2.GetServicesRequest", ""),
    ("jaeger.api_v2.GetServicesResponse", "services=1*"),
    (
        "jaeger.api_v2.GetOperationsRequest",
        "service=1 span_kind=2",
    ),
    ("jaeger.api_v2.Operation", "name=1 span_kind=2"),
    (
        "jaeger.api_v2.GetOperationsResponse",
        "operationNames=1* operations=2*",
    ),
    (
        "jaeger.api_v2.GetDependenciesRequest",
        "start_time=1 end_time=2",
    ),
    ("jaeger.api_v2.GetDependenciesResponse", "dependencies=1*"),
    (
        "jaeger.api_v2.ProbabilisticSamplingStrategy",
        "samplingRate=1",
    ),
    (
        "jaeger.api_v2.RateLimitingSamplingStrategy",
        "maxTracesPerSecond=1",
    ),
    (
        "jaeger.api_v2.OperationSamplingStrategy",
        "operation=1 probabilisticSampling=2",
    ),
    (
        "jaeger.api_v2.PerOperationSamplingStrategies",
        "defaultSamplingProbability=1 defaultLowerBoundTracesPerSecond=2 \
         perOperationStrategies=3* defaultUpperBoundTracesPerSecond=4",
    ),
    (
        "jaeger.api_v2.SamplingStrategyResponse",
        "strategyType=1 probabilisticSampling=2 rateLimitingSampling=3 operationSampling=4",
    ),
    ("jaeger.api_v2.SamplingStrategyParameters", "serviceName=1"),
    (
        "jaeger.api_v3.GetTraceRequest",
        "trace_id=1 start_time=2 end_time=3 raw_traces=4",
    ),
    (
        "jaeger.api_v3.TraceQueryParameters",
        "service_name=1 operation_name=2 attributes=3* start_time_min=4 start_time_max=5 \
         duration_min=6 duration_max=7 search_depth=8 raw_traces=9 filter=10",
    ),
    ("jaeger.api_v3.FindTracesRequest", "query=1"),
    ("jaeger.api_v3.GetServicesRequest", ""),
    ("jaeger.api_v3.GetServicesResponse", "services=1*"),
    (
        "jaeger.api_v3.GetOperationsRequest",
        "service=1 span_kind=2",
    ),
    ("jaeger.api_v3.Operation", "name=1 span_kind=2"),
    ("jaeger.api_v3.GetOperationsResponse", "operations=1*"),
    (
        "jaeger.api_v3.GetDependenciesRequest",
        "start_time=1 end_time=2",
    ),
    ("jaeger.api_v3.DependenciesResponse", "dependencies=1*"),
    ("jaeger.api_v3.Dependency", "parent=1 child=2 call_count=3"),
    (
        "jaeger.api_v3.ServiceSummary",
        "name=1 span_count=2 error_span_count=3",
    ),
    (
        "jaeger.api_v3.TraceSummary",
        "trace_id=1 root_service_name=2 root_operation_name=3 min_start_time_unix_nano=4 \
         max_end_time_unix_nano=5 span_count=6 error_span_count=7 orphan_span_count=8 services=9*",
    ),
    ("jaeger.api_v3.FindTraceSummariesRequest", "query=1"),
    ("jaeger.api_v3.FindTraceSummariesResponse", "summaries=1*"),
    ("jaeger.api_v3.GRPCGatewayError", "error=1"),
    (
        "jaeger.api_v3.GRPCGatewayError.GRPCGatewayErrorDetails",
        "grpcCode=1 httpCode=2 message=3 httpStatus=4",
    ),
    ("jaeger.api_v3.GRPCGatewayWrapper", "result=1"),
    (
        "jaeger.expression.v1.Expression",
        "attr=1 field=2 nested=3 scalar=4 list=5 call=6",
    ),
    ("jaeger.expression.v1.AttributeReference", "key=1 level=2"),
    ("jaeger.expression.v1.FieldReference", "name=1 level=2"),
    ("jaeger.expression.v1.NestedReference", "level=1"),
    ("jaeger.expression.v1.Scalar", "value=1 type=2"),
    ("jaeger.expression.v1.List", "values=1* type=2"),
    ("jaeger.expression.v1.Call", "op=1 args=2*"),
    (
        "jaeger.storage.v2.GetTraceParams",
        "trace_id=1 start_time=2 end_time=3",
    ),
    ("jaeger.storage.v2.GetTracesRequest", "query=1*"),
    ("jaeger.storage.v2.GetServicesRequest", ""),
    ("jaeger.storage.v2.GetServicesResponse", "services=1*"),
    (
        "jaeger.storage.v2.GetOperationsRequest",
        "service=1 span_kind=2",
    ),
    ("jaeger.storage.v2.Operation", "name=1 span_kind=2"),
    ("jaeger.storage.v2.GetOperationsResponse", "operations=1*"),
    ("jaeger.storage.v2.KeyValue", "key=1 value=2"),
    (
        "jaeger.storage.v2.AnyValue",
        "string_value=1 bool_value=2 int_value=3 double_value=4 array_value=5 kvlist_value=6 \
         bytes_value=7",
    ),
    ("jaeger.storage.v2.KeyValueList", "values=1*"),
    ("jaeger.storage.v2.ArrayValue", "values=1*"),
    (
        "jaeger.storage.v2.TraceQueryParameters",
        "service_name=1 operation_name=2 attributes=3* start_time_min=4 start_time_max=5 \
         duration_min=6 duration_max=7 search_depth=8 filter=9",
    ),
    ("jaeger.storage.v2.FindTracesRequest", "query=1"),
    ("jaeger.storage.v2.FindTraceIDsRequest", "query=1"),
    ("jaeger.storage.v2.FoundTraceID", "trace_id=1 start=2 end=3"),
    ("jaeger.storage.v2.FindTraceIDsResponse", "trace_ids=1*"),
    (
        "jaeger.storage.v2.ServiceSummary",
        "name=1 span_count=2 error_span_count=3",
    ),
    (
        "jaeger.storage.v2.TraceSummary",
        "trace_id=1 root_service_name=2 root_operation_name=3 min_start_time_unix_nano=4 \
         max_end_time_unix_nano=5 span_count=6 error_span_count=7 orphan_span_count=8 services=9*",
    ),
    ("jaeger.storage.v2.FindTraceSummariesRequest", "query=1"),
    (
        "jaeger.storage.v2.FindTraceSummariesResponse",
        "summaries=1*",
    ),
    (
        "jaeger.storage.v2.GetDependenciesRequest",
        "start_time=1 end_time=2",
    ),
    (
        "jaeger.storage.v2.Dependency",
        "parent=1 child=2 call_count=3 source=4",
    ),
    (
        "jaeger.storage.v2.GetDependenciesResponse",
        "dependencies=1*",
    ),
    (
        "jaeger.storage.v2.SearchCapabilities",
        "without_service_name=1 same_span_conjunction=2 filter=3",
    ),
    (
        "jaeger.storage.v2.FilterCapabilities",
        "levels=1* operators=2*",
    ),
    ("jaeger.storage.v2.GetCapabilitiesRequest", ""),
    ("jaeger.storage.v2.GetCapabilitiesResponse", "search=1"),
    ("jaeger.api_v2.metrics.MetricSet", "metric_families=1*"),
    (
        "jaeger.api_v2.metrics.MetricFamily",
        "name=1 type=2 unit=3 help=4 metrics=5*",
    ),
    ("jaeger.api_v2.metrics.Metric", "labels=1* metric_points=2*"),
    ("jaeger.api_v2.metrics.Label", "name=1 value=2"),
    (
        "jaeger.api_v2.metrics.MetricPoint",
        "unknown_value=1 gauge_value=2 counter_value=3 histogram_value=4 state_set_value=5 \
         info_value=6 summary_value=7 timestamp=8",
    ),
    (
        "jaeger.api_v2.metrics.GaugeValue",
        "double_value=1 int_value=2",
    ),
    (
        "jaeger.api_v2.metrics.UnknownValue",
        "double_value=1 int_value=2",
    ),
];

#[test]
fn every_message_has_the_idl_fields() {
    let got = message_fields();
    for (msg, spec) in MESSAGES {
        let want: BTreeMap<String, (i32, bool)> = spec
            .split_whitespace()
            .map(|f| {
                let (name, num) = f.split_once('=').expect("name=number");
                let (num, rep) = match num.strip_suffix('*') {
                    Some(n) => (n, true),
                    None => (num, false),
                };
                (name.to_string(), (num.parse().expect("a number"), rep))
            })
            .collect();
        assert_eq!(got.get(*msg), Some(&want), "{msg}");
    }
    // Every message of api_v2/api_v3/storage v2/expression is in the table above.
    for name in got.keys() {
        let listed = MESSAGES.iter().any(|(m, _)| m == name);
        let metrics_detail = name.starts_with("jaeger.api_v2.metrics.");
        assert!(listed || metrics_detail, "{name} is not checked");
    }
}

#[test]
fn enums_have_the_idl_values() {
    let mut got: BTreeMap<String, Vec<(String, i32)>> = BTreeMap::new();
    for f in descriptors().file {
        for e in &f.enum_type {
            got.insert(
                format!("{}.{}", f.package(), e.name()),
                e.value
                    .iter()
                    .map(|v| (v.name().to_string(), v.number()))
                    .collect(),
            );
        }
    }
    let want: &[(&str, &[(&str, i32)])] = &[
        (
            "jaeger.api_v2.ValueType",
            &[
                ("STRING", 0),
                ("BOOL", 1),
                ("INT64", 2),
                ("FLOAT64", 3),
                ("BINARY", 4),
            ],
        ),
        (
            "jaeger.api_v2.SpanRefType",
            &[("CHILD_OF", 0), ("FOLLOWS_FROM", 1)],
        ),
        (
            "jaeger.api_v2.SamplingStrategyType",
            &[("PROBABILISTIC", 0), ("RATE_LIMITING", 1)],
        ),
        (
            "jaeger.api_v2.metrics.MetricType",
            &[
                ("UNKNOWN", 0),
                ("GAUGE", 1),
                ("COUNTER", 2),
                ("STATE_SET", 3),
                ("INFO", 4),
                ("HISTOGRAM", 5),
                ("GAUGE_HISTOGRAM", 6),
                ("SUMMARY", 7),
            ],
        ),
        (
            "jaeger.api_v2.metrics.SpanKind",
            &[
                ("SPAN_KIND_UNSPECIFIED", 0),
                ("SPAN_KIND_INTERNAL", 1),
                ("SPAN_KIND_SERVER", 2),
                ("SPAN_KIND_CLIENT", 3),
                ("SPAN_KIND_PRODUCER", 4),
                ("SPAN_KIND_CONSUMER", 5),
            ],
        ),
    ];
    for (name, values) in want {
        let values: Vec<(String, i32)> = values.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        assert_eq!(got.get(*name), Some(&values), "{name}");
    }
}

/// idl.md §1.2, §1.3, §2.2, §3.2: every RPC, its types and whether it streams.
const RPCS: &[&str] = &[
    "/jaeger.api_v2.CollectorService/PostSpans PostSpansRequest PostSpansResponse unary",
    "/jaeger.api_v2.QueryService/GetTrace GetTraceRequest SpansResponseChunk stream",
    "/jaeger.api_v2.QueryService/ArchiveTrace ArchiveTraceRequest ArchiveTraceResponse unary",
    "/jaeger.api_v2.QueryService/FindTraces FindTracesRequest SpansResponseChunk stream",
    "/jaeger.api_v2.QueryService/GetServices GetServicesRequest GetServicesResponse unary",
    "/jaeger.api_v2.QueryService/GetOperations GetOperationsRequest GetOperationsResponse unary",
    "/jaeger.api_v2.QueryService/GetDependencies GetDependenciesRequest GetDependenciesResponse unary",
    "/jaeger.api_v2.SamplingManager/GetSamplingStrategy SamplingStrategyParameters SamplingStrategyResponse unary",
    "/jaeger.api_v3.QueryService/GetTrace GetTraceRequest opentelemetry.proto.trace.v1.TracesData stream",
    "/jaeger.api_v3.QueryService/FindTraces FindTracesRequest opentelemetry.proto.trace.v1.TracesData stream",
    "/jaeger.api_v3.QueryService/GetServices GetServicesRequest GetServicesResponse unary",
    "/jaeger.api_v3.QueryService/GetOperations GetOperationsRequest GetOperationsResponse unary",
    "/jaeger.api_v3.QueryService/GetDependencies GetDependenciesRequest DependenciesResponse unary",
    "/jaeger.api_v3.QueryService/FindTraceSummaries FindTraceSummariesRequest FindTraceSummariesResponse stream",
    "/jaeger.storage.v2.TraceReader/GetTraces GetTracesRequest opentelemetry.proto.trace.v1.TracesData stream",
    "/jaeger.storage.v2.TraceReader/GetServices GetServicesRequest GetServicesResponse unary",
    "/jaeger.storage.v2.TraceReader/GetOperations GetOperationsRequest GetOperationsResponse unary",
    "/jaeger.storage.v2.TraceReader/FindTraces FindTracesRequest opentelemetry.proto.trace.v1.TracesData stream",
    "/jaeger.storage.v2.TraceReader/FindTraceIDs FindTraceIDsRequest FindTraceIDsResponse unary",
    "/jaeger.storage.v2.TraceReader/FindTraceSummaries FindTraceSummariesRequest FindTraceSummariesResponse stream",
    "/jaeger.storage.v2.DependencyReader/GetDependencies GetDependenciesRequest GetDependenciesResponse unary",
    "/jaeger.storage.v2.Capabilities/GetCapabilities GetCapabilitiesRequest GetCapabilitiesResponse unary",
];

#[test]
fn services_have_the_idl_rpcs() {
    let mut got = Vec::new();
    for f in descriptors().file {
        for s in &f.service {
            for m in &s.method {
                // Types in our own package are written without it, as in the table.
                let local = |t: &str| {
                    let t = t.trim_start_matches('.');
                    t.strip_prefix(&format!("{}.", f.package()))
                        .unwrap_or(t)
                        .to_string()
                };
                assert!(!m.client_streaming(), "{}", m.name());
                got.push(format!(
                    "/{}.{}/{} {} {} {}",
                    f.package(),
                    s.name(),
                    m.name(),
                    local(m.input_type()),
                    local(m.output_type()),
                    if m.server_streaming() {
                        "stream"
                    } else {
                        "unary"
                    }
                ));
            }
        }
    }
    let mut want: Vec<String> = RPCS.iter().map(|s| s.to_string()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

/// A transport that records the path of every call and answers UNIMPLEMENTED.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Recorder {
    fn service(
        &self,
    ) -> impl tower::Service<
        http::Request<tonic::body::Body>,
        Response = http::Response<tonic::body::Body>,
        Error = std::convert::Infallible,
        Future = impl Send,
    > + Clone
    + Send {
        let paths = self.0.clone();
        tower::service_fn(move |req: http::Request<tonic::body::Body>| {
            paths
                .lock()
                .expect("no test thread panicked holding the lock")
                .push(req.uri().path().to_string());
            async move {
                let mut resp = http::Response::new(tonic::body::Body::empty());
                resp.headers_mut()
                    .insert("content-type", "application/grpc".parse().unwrap());
                resp.headers_mut()
                    .insert("grpc-status", "12".parse().unwrap());
                Ok(resp)
            }
        })
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[tokio::test]
async fn generated_clients_call_the_idl_paths() {
    let rec = Recorder::default();
    let t = rec.service();

    let mut c = api_v2::query_service_client::QueryServiceClient::new(t.clone());
    assert!(
        c.get_trace(api_v2::GetTraceRequest::default())
            .await
            .is_err()
    );
    let _ = c
        .archive_trace(api_v2::ArchiveTraceRequest::default())
        .await;
    let _ = c.find_traces(api_v2::FindTracesRequest::default()).await;
    let _ = c.get_services(api_v2::GetServicesRequest::default()).await;
    let _ = c
        .get_operations(api_v2::GetOperationsRequest::default())
        .await;
    let _ = c
        .get_dependencies(api_v2::GetDependenciesRequest::default())
        .await;
    let mut c = api_v2::collector_service_client::CollectorServiceClient::new(t.clone());
    let _ = c.post_spans(api_v2::PostSpansRequest::default()).await;
    let mut c = api_v2::sampling_manager_client::SamplingManagerClient::new(t.clone());
    let err = c
        .get_sampling_strategy(api_v2::SamplingStrategyParameters::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented);

    let mut c = api_v3::query_service_client::QueryServiceClient::new(t.clone());
    let _ = c.get_trace(api_v3::GetTraceRequest::default()).await;
    let _ = c.find_traces(api_v3::FindTracesRequest::default()).await;
    let _ = c.get_services(api_v3::GetServicesRequest::default()).await;
    let _ = c
        .get_operations(api_v3::GetOperationsRequest::default())
        .await;
    let _ = c
        .get_dependencies(api_v3::GetDependenciesRequest::default())
        .await;
    let _ = c
        .find_trace_summaries(api_v3::FindTraceSummariesRequest::default())
        .await;

    use storage::v2 as s;
    let mut c = s::trace_reader_client::TraceReaderClient::new(t.clone());
    let _ = c.get_traces(s::GetTracesRequest::default()).await;
    let _ = c.get_services(s::GetServicesRequest::default()).await;
    let _ = c.get_operations(s::GetOperationsRequest::default()).await;
    let _ = c.find_traces(s::FindTracesRequest::default()).await;
    let _ = c.find_trace_i_ds(s::FindTraceIDsRequest::default()).await;
    let _ = c
        .find_trace_summaries(s::FindTraceSummariesRequest::default())
        .await;
    let mut c = s::dependency_reader_client::DependencyReaderClient::new(t.clone());
    let _ = c
        .get_dependencies(s::GetDependenciesRequest::default())
        .await;
    let mut c = s::capabilities_client::CapabilitiesClient::new(t);
    let _ = c
        .get_capabilities(s::GetCapabilitiesRequest::default())
        .await;

    let want = [
        "/jaeger.api_v2.QueryService/GetTrace",
        "/jaeger.api_v2.QueryService/ArchiveTrace",
        "/jaeger.api_v2.QueryService/FindTraces",
        "/jaeger.api_v2.QueryService/GetServices",
        "/jaeger.api_v2.QueryService/GetOperations",
        "/jaeger.api_v2.QueryService/GetDependencies",
        "/jaeger.api_v2.CollectorService/PostSpans",
        "/jaeger.api_v2.SamplingManager/GetSamplingStrategy",
        "/jaeger.api_v3.QueryService/GetTrace",
        "/jaeger.api_v3.QueryService/FindTraces",
        "/jaeger.api_v3.QueryService/GetServices",
        "/jaeger.api_v3.QueryService/GetOperations",
        "/jaeger.api_v3.QueryService/GetDependencies",
        "/jaeger.api_v3.QueryService/FindTraceSummaries",
        "/jaeger.storage.v2.TraceReader/GetTraces",
        "/jaeger.storage.v2.TraceReader/GetServices",
        "/jaeger.storage.v2.TraceReader/GetOperations",
        "/jaeger.storage.v2.TraceReader/FindTraces",
        "/jaeger.storage.v2.TraceReader/FindTraceIDs",
        "/jaeger.storage.v2.TraceReader/FindTraceSummaries",
        "/jaeger.storage.v2.DependencyReader/GetDependencies",
        "/jaeger.storage.v2.Capabilities/GetCapabilities",
    ];
    assert_eq!(rec.take(), want);
    assert_eq!(
        api_v2::query_service_server::SERVICE_NAME,
        "jaeger.api_v2.QueryService"
    );
    assert_eq!(
        api_v3::query_service_server::SERVICE_NAME,
        "jaeger.api_v3.QueryService"
    );
}

fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(m: &M) {
    let bytes = m.encode_to_vec();
    assert_eq!(&M::decode(bytes.as_slice()).unwrap(), m);
}

fn jaeger_span() -> api_v2::Span {
    use api_v2::{KeyValue, Log, Process, Span, SpanRef, SpanRefType, ValueType};
    Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        operation_name: "GET /".into(),
        references: vec![SpanRef {
            trace_id: vec![1; 16],
            span_id: vec![3; 8],
            ref_type: SpanRefType::FollowsFrom as i32,
        }],
        flags: 1,
        start_time: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 5,
        }),
        duration: Some(prost_types::Duration {
            seconds: 0,
            nanos: 1_000,
        }),
        tags: vec![KeyValue {
            key: "f".into(),
            v_type: ValueType::Float64 as i32,
            v_float64: 1.5,
            ..Default::default()
        }],
        logs: vec![Log {
            timestamp: Some(prost_types::Timestamp::default()),
            fields: vec![KeyValue {
                key: "event".into(),
                v_str: "x".into(),
                ..Default::default()
            }],
        }],
        process: Some(Process {
            service_name: "svc".into(),
            tags: vec![],
        }),
        process_id: "p1".into(),
        warnings: vec!["w".into()],
    }
}

#[test]
fn messages_round_trip() {
    round_trip(&api_v2::SpansResponseChunk {
        spans: vec![jaeger_span(), api_v2::Span::default()],
    });
    round_trip(&api_v2::PostSpansRequest {
        batch: Some(api_v2::Batch {
            spans: vec![jaeger_span()],
            process: None,
        }),
    });
    round_trip(&api_v2::SamplingStrategyResponse {
        strategy_type: api_v2::SamplingStrategyType::RateLimiting as i32,
        probabilistic_sampling: None,
        rate_limiting_sampling: Some(api_v2::RateLimitingSamplingStrategy {
            max_traces_per_second: 7,
        }),
        operation_sampling: Some(api_v2::PerOperationSamplingStrategies {
            default_sampling_probability: 0.5,
            per_operation_strategies: vec![api_v2::OperationSamplingStrategy {
                operation: "op".into(),
                probabilistic_sampling: Some(api_v2::ProbabilisticSamplingStrategy {
                    sampling_rate: 0.1,
                }),
            }],
            ..Default::default()
        }),
    });
    round_trip(&api_v2::TraceQueryParameters {
        tags: [("k".to_string(), "v".to_string())].into(),
        search_depth: 20,
        ..Default::default()
    });
    let traces = TracesData {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![OtlpKv {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("svc".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![OtlpSpan {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    name: "op".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    };
    let wrapper = api_v3::GrpcGatewayWrapper {
        result: Some(traces.clone()),
    };
    round_trip(&wrapper);
    // The wrapper embeds the very OTLP type: its field 1 is TracesData's bytes.
    let mut inner = Vec::new();
    prost::encoding::message::encode(1, &traces, &mut inner);
    assert_eq!(wrapper.encode_to_vec(), inner);
    round_trip(&storage::v2::FindTraceSummariesResponse {
        summaries: vec![storage::v2::TraceSummary {
            trace_id: vec![9; 16],
            min_start_time_unix_nano: 1,
            max_end_time_unix_nano: u64::MAX,
            services: vec![storage::v2::ServiceSummary {
                name: "a".into(),
                span_count: 2,
                error_span_count: 1,
            }],
            ..Default::default()
        }],
    });
    round_trip(&api_v2::metrics::MetricFamily {
        name: "service_latencies".into(),
        r#type: api_v2::metrics::MetricType::Gauge as i32,
        metrics: vec![api_v2::metrics::Metric {
            labels: vec![api_v2::metrics::Label {
                name: "service_name".into(),
                value: "frontend".into(),
            }],
            metric_points: vec![api_v2::metrics::MetricPoint {
                value: Some(api_v2::metrics::metric_point::Value::GaugeValue(
                    api_v2::metrics::GaugeValue {
                        value: Some(api_v2::metrics::gauge_value::Value::DoubleValue(0.9)),
                    },
                )),
                timestamp: Some(prost_types::Timestamp::default()),
            }],
        }],
        ..Default::default()
    });
    round_trip(&api_v3::FindTracesRequest {
        query: Some(api_v3::TraceQueryParameters {
            filter: Some(crate::expression::v1::Call {
                op: "eq".into(),
                args: vec![crate::expression::v1::Expression {
                    term: Some(crate::expression::v1::expression::Term::Attr(
                        crate::expression::v1::AttributeReference {
                            key: "http.status_code".into(),
                            level: String::new(),
                        },
                    )),
                }],
            }),
            ..Default::default()
        }),
    });
}

/// Bytes a Go peer would send: the field numbers and wire types of idl.md.
#[test]
fn span_wire_bytes() {
    let span = api_v2::Span {
        trace_id: vec![0xab; 16],
        span_id: vec![0xcd; 8],
        flags: 1,
        warnings: vec!["w".into()],
        ..Default::default()
    };
    let mut want = vec![0x0a, 16];
    want.extend([0xab; 16]);
    want.extend([0x12, 8]);
    want.extend([0xcd; 8]);
    want.extend([0x28, 1]); // field 5 varint
    want.extend([0x62, 1, b'w']); // field 12 length-delimited
    assert_eq!(span.encode_to_vec(), want);
}
