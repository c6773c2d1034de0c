//! OTLP → Jaeger `api_v2` (contrib `ProtoFromTraces` and Jaeger v2's v1adapter; ingest
//! spec §2.2). The same mapping as the UI JSON of the HTTP API (`jaeger_model::ui`).

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue as OtlpKv};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span as OtlpSpan};

use super::{
    NO_SERVICE_NAME, REF_TYPE_ATTRIBUTE, SERVICE_NAME, WARNINGS_ATTRIBUTE, duration_from_nanos,
    gojson, span_id_from_otlp, timestamp_from_nanos, trace_id_from_otlp,
};
use crate::api_v2::{Batch, KeyValue, Log, Process, Span, SpanRef, SpanRefType, ValueType};

/// One batch per `ResourceSpans`, its spans in scope order; a resource with neither
/// attributes nor scopes is skipped.
pub fn batches_from_otlp(resource_spans: &[ResourceSpans]) -> Vec<Batch> {
    resource_spans
        .iter()
        .filter(|rs| {
            !rs.scope_spans.is_empty()
                || rs
                    .resource
                    .as_ref()
                    .is_some_and(|r| !r.attributes.is_empty())
        })
        .map(|rs| Batch {
            process: Some(process_from_resource(rs.resource.as_ref())),
            spans: rs
                .scope_spans
                .iter()
                .flat_map(|ss| {
                    ss.spans
                        .iter()
                        .map(|s| span_from_otlp(s, ss.scope.as_ref()))
                })
                .collect(),
        })
        .collect()
}

/// Every span, each carrying its own process, as Jaeger's query service streams them.
pub fn spans_from_otlp(resource_spans: &[ResourceSpans]) -> Vec<Span> {
    let mut out = Vec::with_capacity(
        resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum(),
    );
    for batch in batches_from_otlp(resource_spans) {
        for mut span in batch.spans {
            if span.process.is_none() {
                span.process.clone_from(&batch.process);
            }
            out.push(span);
        }
    }
    out
}

/// The process of a resource: `service.name` (if a string) and every other attribute
/// as a tag; no attributes at all gives [`NO_SERVICE_NAME`].
pub fn process_from_resource(resource: Option<&Resource>) -> Process {
    let attrs = resource
        .map(|r| r.attributes.as_slice())
        .unwrap_or_default();
    if attrs.is_empty() {
        return Process {
            service_name: NO_SERVICE_NAME.into(),
            tags: Vec::new(),
        };
    }
    // contrib takes the first `service.name` and only a string value.
    let service_name = match attrs.iter().find(|kv| kv.key == SERVICE_NAME) {
        Some(kv) => match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) => s.clone(),
            _ => String::new(),
        },
        None => String::new(),
    };
    Process {
        service_name,
        tags: attrs
            .iter()
            .filter(|kv| kv.key != SERVICE_NAME)
            .map(|kv| tag(&kv.key, kv.value.as_ref()))
            .collect(),
    }
}

/// One span, without its process.
pub fn span_from_otlp(span: &OtlpSpan, scope: Option<&InstrumentationScope>) -> Span {
    let trace_id = trace_id_from_otlp(&span.trace_id);
    let parent = span_id_from_otlp(&span.parent_span_id);
    let start = span.start_time_unix_nano;
    // Go: end.Sub(start), saturating; a negative duration stays negative.
    let duration = (span.end_time_unix_nano as i64 as i128 - start as i64 as i128)
        .clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id_from_otlp(&span.span_id).to_vec(),
        operation_name: span.name.clone(),
        references: references(span, trace_id, parent),
        // Newest contrib maps the W3C sampled bit, and only it.
        flags: span.flags & 1,
        start_time: Some(timestamp_from_nanos(start)),
        duration: Some(duration_from_nanos(duration)),
        tags: span_tags(span, scope),
        logs: span.events.iter().map(log_from_event).collect(),
        process: None,
        process_id: String::new(),
        warnings: warnings(&span.attributes),
    }
}

fn references(span: &OtlpSpan, trace_id: [u8; 16], parent: [u8; 8]) -> Vec<SpanRef> {
    let has_parent = parent != [0; 8];
    let mut refs = Vec::with_capacity(span.links.len() + usize::from(has_parent));
    // The parent goes first: readers take the first CHILD_OF as the parent.
    if has_parent {
        refs.push(SpanRef {
            trace_id: trace_id.to_vec(),
            span_id: parent.to_vec(),
            ref_type: SpanRefType::ChildOf as i32,
        });
    }
    for link in &span.links {
        let lt = trace_id_from_otlp(&link.trace_id);
        let ls = span_id_from_otlp(&link.span_id);
        let ref_type = match link
            .attributes
            .iter()
            .find(|kv| kv.key == REF_TYPE_ATTRIBUTE)
        {
            Some(kv) => match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) if s == "child_of" => SpanRefType::ChildOf,
                _ => SpanRefType::FollowsFrom,
            },
            None => SpanRefType::FollowsFrom,
        };
        if has_parent && lt == trace_id && ls == parent {
            // A link to the parent only corrects the parent reference's type.
            refs[0].ref_type = ref_type as i32;
            continue;
        }
        refs.push(SpanRef {
            trace_id: lt.to_vec(),
            span_id: ls.to_vec(),
            ref_type: ref_type as i32,
        });
    }
    refs
}

fn string_tag(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        v_type: ValueType::String as i32,
        v_str: value.into(),
        ..Default::default()
    }
}

fn span_tags(span: &OtlpSpan, scope: Option<&InstrumentationScope>) -> Vec<KeyValue> {
    let mut tags = Vec::with_capacity(span.attributes.len() + 6);
    if let Some(scope) = scope {
        if !scope.name.is_empty() {
            tags.push(string_tag("otel.scope.name", &scope.name));
        }
        if !scope.version.is_empty() {
            tags.push(string_tag("otel.scope.version", &scope.version));
        }
    }
    // v1adapter moves the warnings attribute into span warnings.
    tags.extend(
        span.attributes
            .iter()
            .filter(|kv| kv.key != WARNINGS_ATTRIBUTE)
            .map(|kv| tag(&kv.key, kv.value.as_ref())),
    );
    let kind = match SpanKind::try_from(span.kind) {
        Ok(SpanKind::Internal) => "internal",
        Ok(SpanKind::Server) => "server",
        Ok(SpanKind::Client) => "client",
        Ok(SpanKind::Producer) => "producer",
        Ok(SpanKind::Consumer) => "consumer",
        _ => "",
    };
    if !kind.is_empty() {
        tags.push(string_tag("span.kind", kind));
    }
    let (code, message) = span
        .status
        .as_ref()
        .map(|s| (s.code, s.message.as_str()))
        .unwrap_or((0, ""));
    match StatusCode::try_from(code) {
        Ok(StatusCode::Ok) => tags.push(string_tag("otel.status_code", "OK")),
        Ok(StatusCode::Error) => {
            tags.push(string_tag("otel.status_code", "ERROR"));
            tags.push(KeyValue {
                key: "error".into(),
                v_type: ValueType::Bool as i32,
                v_bool: true,
                ..Default::default()
            });
        }
        _ => {}
    }
    if !message.is_empty() {
        tags.push(string_tag("otel.status_description", message));
    }
    if !span.trace_state.is_empty() {
        tags.push(string_tag("w3c.tracestate", &span.trace_state));
    }
    tags
}

fn log_from_event(e: &Event) -> Log {
    let mut fields = Vec::with_capacity(e.attributes.len() + 1);
    if !e.name.is_empty() && !e.attributes.iter().any(|kv| kv.key == "event") {
        fields.push(string_tag("event", &e.name));
    }
    fields.extend(
        e.attributes
            .iter()
            .map(|kv| tag(&kv.key, kv.value.as_ref())),
    );
    Log {
        timestamp: Some(timestamp_from_nanos(e.time_unix_nano)),
        fields,
    }
}

/// jptrace `GetWarnings`: a string, or a slice whose non-string items read as `""`.
fn warnings(attrs: &[OtlpKv]) -> Vec<String> {
    let Some(v) = attrs
        .iter()
        .find(|kv| kv.key == WARNINGS_ATTRIBUTE)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
    else {
        return Vec::new();
    };
    match v {
        Value::StringValue(s) => vec![s.clone()],
        Value::ArrayValue(a) => a
            .values
            .iter()
            .map(|x| match &x.value {
                Some(Value::StringValue(s)) => s.clone(),
                _ => String::new(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// contrib `attributeToJaegerProtoTag`: maps and slices become their JSON text; an
/// empty value a STRING tag with an empty value.
pub(crate) fn tag(key: &str, value: Option<&AnyValue>) -> KeyValue {
    let mut kv = KeyValue {
        key: key.into(),
        ..Default::default()
    };
    match value.and_then(|v| v.value.as_ref()) {
        None | Some(Value::StringValueStrindex(_)) => {}
        Some(Value::StringValue(s)) => kv.v_str = s.clone(),
        Some(Value::BoolValue(b)) => {
            kv.v_type = ValueType::Bool as i32;
            kv.v_bool = *b;
        }
        Some(Value::IntValue(i)) => {
            kv.v_type = ValueType::Int64 as i32;
            kv.v_int64 = *i;
        }
        Some(Value::DoubleValue(d)) => {
            kv.v_type = ValueType::Float64 as i32;
            kv.v_float64 = *d;
        }
        Some(Value::BytesValue(b)) => {
            kv.v_type = ValueType::Binary as i32;
            kv.v_binary = b.clone();
        }
        Some(v @ (Value::ArrayValue(_) | Value::KvlistValue(_))) => kv.v_str = gojson::as_json(v),
    }
    kv
}

pub(crate) fn unknown_type_text(v_type: i32) -> String {
    format!("<Unknown Jaeger TagType \"{v_type}\">")
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    use opentelemetry_proto::tonic::trace::v1::span::Link;
    use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Status};

    pub(crate) fn kv(key: &str, v: Value) -> OtlpKv {
        OtlpKv {
            key: key.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    fn s(v: &str) -> Value {
        Value::StringValue(v.into())
    }

    /// A tag as `key:type:value` text, to compare whole lists at a glance.
    fn show(t: &KeyValue) -> String {
        let v = match ValueType::try_from(t.v_type).unwrap() {
            ValueType::String => t.v_str.clone(),
            ValueType::Bool => t.v_bool.to_string(),
            ValueType::Int64 => t.v_int64.to_string(),
            ValueType::Float64 => t.v_float64.to_string(),
            ValueType::Binary => format!("{:?}", t.v_binary),
        };
        format!("{}:{}:{v}", t.key, t.v_type().as_str_name())
    }

    const TRACE: [u8; 16] = [
        0x83, 0xa9, 0xef, 0xd1, 0x5c, 0x1c, 0x98, 0xa9, 0x77, 0xe0, 0x71, 0x1c, 0xc9, 0x3e, 0xe2,
        0x8b,
    ];
    const ROOT: [u8; 8] = [0xe1, 0x27, 0xaf, 0x99, 0xe3, 0xb3, 0xe0, 0x74];
    const OTHER: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd];
    const CHILD: [u8; 8] = [0x90, 0x95, 0x41, 0xb9, 0x2c, 0xf0, 0x53, 0x11];

    /// The fixture of `jaeger_model::ui`'s golden test, so both read paths agree.
    fn fixture() -> Vec<ResourceSpans> {
        let root = OtlpSpan {
            trace_id: TRACE.to_vec(),
            span_id: ROOT.to_vec(),
            trace_state: "k=v".into(),
            name: "GET /".into(),
            kind: 2,
            flags: 0x301,
            start_time_unix_nano: 1_706_678_909_209_712_123,
            end_time_unix_nano: 1_706_678_909_209_835_999,
            attributes: vec![
                kv("http.method", s("GET")),
                kv("big", Value::IntValue(9_223_372_036_854_775_222)),
                kv("ratio", Value::DoubleValue(1.0)),
                kv("ok", Value::BoolValue(false)),
                kv("bin", Value::BytesValue(vec![0, 0, 0x30, 0x39])),
                kv(
                    "list",
                    Value::ArrayValue(ArrayValue {
                        values: vec![
                            AnyValue {
                                value: Some(s("a")),
                            },
                            AnyValue {
                                value: Some(Value::IntValue(1)),
                            },
                        ],
                    }),
                ),
                kv(
                    "map",
                    Value::KvlistValue(KeyValueList {
                        values: vec![kv("z", s("<")), kv("a", Value::BoolValue(true))],
                    }),
                ),
                OtlpKv {
                    key: "empty".into(),
                    value: None,
                    ..Default::default()
                },
                kv(
                    WARNINGS_ATTRIBUTE,
                    Value::ArrayValue(ArrayValue {
                        values: vec![AnyValue {
                            value: Some(s("w1")),
                        }],
                    }),
                ),
            ],
            events: vec![
                Event {
                    time_unix_nano: 1_706_678_909_209_800_000,
                    name: "cache miss".into(),
                    attributes: vec![kv("key", s("user:1"))],
                    ..Default::default()
                },
                Event {
                    time_unix_nano: 1_706_678_909_209_801_000,
                    name: "named".into(),
                    attributes: vec![kv("event", s("explicit"))],
                    ..Default::default()
                },
            ],
            status: Some(Status {
                code: 2,
                message: "boom".into(),
            }),
            ..Default::default()
        };
        let child = OtlpSpan {
            trace_id: TRACE.to_vec(),
            span_id: CHILD.to_vec(),
            parent_span_id: ROOT.to_vec(),
            name: "db".into(),
            kind: 3,
            start_time_unix_nano: 1_706_678_909_209_720_000,
            end_time_unix_nano: 1_706_678_909_209_710_000,
            links: vec![
                Link {
                    trace_id: TRACE.to_vec(),
                    span_id: ROOT.to_vec(),
                    ..Default::default()
                },
                Link {
                    trace_id: OTHER.to_vec(),
                    span_id: vec![0, 0, 0, 0, 0, 0, 0, 1],
                    attributes: vec![kv(REF_TYPE_ATTRIBUTE, s("child_of"))],
                    ..Default::default()
                },
            ],
            status: Some(Status {
                code: 1,
                message: String::new(),
            }),
            ..Default::default()
        };
        vec![
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", s("frontend")), kv("host.name", s("h1"))],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "lib".into(),
                        version: "1.2".into(),
                        ..Default::default()
                    }),
                    spans: vec![root],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
            ResourceSpans {
                resource: Some(Resource::default()),
                scope_spans: vec![ScopeSpans {
                    spans: vec![child],
                    ..Default::default()
                }],
                schema_url: String::new(),
            },
        ]
    }

    #[test]
    fn otlp_to_jaeger_mapping() {
        let spans = spans_from_otlp(&fixture());
        assert_eq!(spans.len(), 2);
        let root = &spans[0];
        assert_eq!(root.trace_id, TRACE);
        assert_eq!(root.span_id, ROOT);
        assert_eq!(root.operation_name, "GET /");
        assert!(root.references.is_empty());
        assert_eq!(root.flags, 1);
        assert_eq!(
            root.start_time,
            Some(prost_types::Timestamp {
                seconds: 1_706_678_909,
                nanos: 209_712_123
            })
        );
        assert_eq!(root.duration, Some(duration_from_nanos(123_876)));
        let tags: Vec<String> = root.tags.iter().map(show).collect();
        assert_eq!(
            tags,
            [
                "otel.scope.name:STRING:lib",
                "otel.scope.version:STRING:1.2",
                "http.method:STRING:GET",
                "big:INT64:9223372036854775222",
                "ratio:FLOAT64:1",
                "ok:BOOL:false",
                "bin:BINARY:[0, 0, 48, 57]",
                r#"list:STRING:["a",1]"#,
                r#"map:STRING:{"a":true,"z":"\u003c"}"#,
                "empty:STRING:",
                "span.kind:STRING:server",
                "otel.status_code:STRING:ERROR",
                "error:BOOL:true",
                "otel.status_description:STRING:boom",
                "w3c.tracestate:STRING:k=v",
            ]
        );
        assert_eq!(root.warnings, ["w1"]);
        let logs: Vec<(i64, Vec<String>)> = root
            .logs
            .iter()
            .map(|l| {
                (
                    l.timestamp.unwrap().nanos as i64,
                    l.fields.iter().map(show).collect(),
                )
            })
            .collect();
        assert_eq!(
            logs,
            [
                (
                    209_800_000,
                    vec![
                        "event:STRING:cache miss".to_string(),
                        "key:STRING:user:1".into()
                    ]
                ),
                (209_801_000, vec!["event:STRING:explicit".to_string()]),
            ]
        );
        let p = root.process.as_ref().unwrap();
        assert_eq!(p.service_name, "frontend");
        assert_eq!(
            p.tags.iter().map(show).collect::<Vec<_>>(),
            ["host.name:STRING:h1"]
        );
        assert!(root.process_id.is_empty());

        let child = &spans[1];
        // A link to the parent without a type makes the parent ref FOLLOWS_FROM.
        let refs: Vec<(Vec<u8>, Vec<u8>, i32)> = child
            .references
            .iter()
            .map(|r| (r.trace_id.clone(), r.span_id.clone(), r.ref_type))
            .collect();
        assert_eq!(
            refs,
            [
                (
                    TRACE.to_vec(),
                    ROOT.to_vec(),
                    SpanRefType::FollowsFrom as i32
                ),
                (
                    OTHER.to_vec(),
                    vec![0, 0, 0, 0, 0, 0, 0, 1],
                    SpanRefType::ChildOf as i32
                ),
            ]
        );
        // End before start: a negative duration, as Go's `Sub`.
        assert_eq!(child.duration, Some(duration_from_nanos(-10_000)));
        assert_eq!(child.flags, 0);
        assert_eq!(
            child.tags.iter().map(show).collect::<Vec<_>>(),
            ["span.kind:STRING:client", "otel.status_code:STRING:OK"]
        );
        assert!(child.warnings.is_empty());
        // A resource without attributes.
        assert_eq!(
            child.process.as_ref().unwrap().service_name,
            NO_SERVICE_NAME
        );
    }

    #[test]
    fn batches_keep_resources_and_skip_empty_ones() {
        let mut rs = fixture();
        rs.push(ResourceSpans::default());
        rs.push(ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", Value::IntValue(3)), kv("a", s("b"))],
                ..Default::default()
            }),
            ..Default::default()
        });
        let batches = batches_from_otlp(&rs);
        assert_eq!(batches.len(), 3);
        assert_eq!(batches[0].spans.len(), 1);
        assert!(batches[0].spans[0].process.is_none());
        // A non-string service name reads as empty.
        let p = batches[2].process.as_ref().unwrap();
        assert_eq!(p.service_name, "");
        assert_eq!(p.tags.iter().map(show).collect::<Vec<_>>(), ["a:STRING:b"]);
        assert!(batches[2].spans.is_empty());
    }
}
