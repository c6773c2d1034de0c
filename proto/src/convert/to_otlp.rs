//! Jaeger `api_v2` → OTLP (contrib `ProtoToTraces` and Jaeger v2's v1adapter; ingest
//! spec §2.3), for spans received over Jaeger's gRPC collector API.

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue as OtlpKv,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as OtlpSpan, Status};

use super::from_otlp::unknown_type_text;
use super::{
    ConvertError, NO_SERVICE_NAME, REF_TYPE_ATTRIBUTE, SERVICE_NAME, WARNINGS_ATTRIBUTE,
    duration_to_nanos, gojson, span_id_from_jaeger, trace_id_from_jaeger,
};
use crate::api_v2::{Batch, KeyValue, Log, Process, Span, SpanRef, SpanRefType, ValueType};

/// Converts every batch; see [`batch_to_otlp`].
pub fn batches_to_otlp(batches: &[Batch]) -> Result<Vec<ResourceSpans>, ConvertError> {
    let mut out = Vec::new();
    for b in batches {
        out.extend(batch_to_otlp(b)?);
    }
    Ok(out)
}

/// One `ResourceSpans` per distinct process (a span's own process wins over the
/// batch's), in first-seen order; inside it one `ScopeSpans` per distinct
/// `otel.scope.name`/`otel.scope.version` pair. Blank spans are skipped. A wrongly
/// sized id fails the whole batch, as Jaeger's decoder does.
pub fn batch_to_otlp(batch: &Batch) -> Result<Vec<ResourceSpans>, ConvertError> {
    let blank = Span::default();
    let mut groups: Vec<(Option<&Process>, Vec<&Span>)> = Vec::new();
    for span in &batch.spans {
        if *span == blank {
            continue;
        }
        let process = span.process.as_ref().or(batch.process.as_ref());
        match groups.iter_mut().find(|(p, _)| *p == process) {
            Some((_, spans)) => spans.push(span),
            None => groups.push((process, vec![span])),
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for (process, spans) in groups {
        let mut scopes: Vec<ScopeSpans> = Vec::new();
        for span in spans {
            let mut tags: Vec<&KeyValue> = span.tags.iter().collect();
            let scope = take_scope(&mut tags);
            let converted = span_to_otlp(span, &tags)?;
            let found = scopes.iter_mut().find(|ss| {
                let s = ss.scope.as_ref();
                s.map(|s| (s.name.as_str(), s.version.as_str()))
                    .unwrap_or_default()
                    == (scope.0.as_str(), scope.1.as_str())
            });
            match found {
                Some(ss) => ss.spans.push(converted),
                None => scopes.push(ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: scope.0,
                        version: scope.1,
                        ..Default::default()
                    }),
                    spans: vec![converted],
                    schema_url: String::new(),
                }),
            }
        }
        out.push(ResourceSpans {
            resource: resource_from_process(process),
            scope_spans: scopes,
            schema_url: String::new(),
        });
    }
    Ok(out)
}

/// The resource of a process: `service.name` then every tag (last duplicate wins);
/// `hostname` becomes `host.name` and `jaeger.version` becomes
/// `opencensus.exporterversion` = `Jaeger-<v>`, unless those are already there.
/// No process, [`NO_SERVICE_NAME`] (its tags dropped too) or an empty one: no resource.
pub fn resource_from_process(process: Option<&Process>) -> Option<Resource> {
    let p = process?;
    if p.service_name == NO_SERVICE_NAME || (p.service_name.is_empty() && p.tags.is_empty()) {
        return None;
    }
    let mut attrs = Attrs::default();
    if !p.service_name.is_empty() {
        attrs.put(SERVICE_NAME, Value::StringValue(p.service_name.clone()));
    }
    for t in &p.tags {
        attrs.put(&t.key, attr_value(t));
    }
    if attrs.get("host.name").is_none()
        && let Some(v) = attrs.remove("hostname")
    {
        attrs.put("host.name", Value::StringValue(value_str(&v)));
    }
    if attrs.get("opencensus.exporterversion").is_none()
        && let Some(v) = attrs.remove("jaeger.version")
    {
        attrs.put(
            "opencensus.exporterversion",
            Value::StringValue(format!("Jaeger-{}", value_str(&v))),
        );
    }
    Some(Resource {
        attributes: attrs.0,
        ..Default::default()
    })
}

/// Removes the first `otel.scope.name` tag (and then the first `otel.scope.version`)
/// and returns their string values.
fn take_scope(tags: &mut Vec<&KeyValue>) -> (String, String) {
    let mut take = |key: &str| {
        let i = tags.iter().position(|t| t.key == key)?;
        Some(tags.remove(i).v_str.clone())
    };
    match take("otel.scope.name") {
        Some(name) => (name, take("otel.scope.version").unwrap_or_default()),
        None => (String::new(), String::new()),
    }
}

fn span_to_otlp(span: &Span, tags: &[&KeyValue]) -> Result<OtlpSpan, ConvertError> {
    let trace_id = trace_id_from_jaeger(&span.trace_id)?;
    let span_id = span_id_from_jaeger(&span.span_id)?;
    let mut refs = Vec::with_capacity(span.references.len());
    for r in &span.references {
        refs.push(Ref::parse(r)?);
    }
    let parent = parent_of(trace_id, &refs);

    let mut attrs = Attrs::default();
    for t in tags {
        attrs.put(&t.key, attr_value(t));
    }
    // Kind first: the HTTP status rule depends on it.
    let kind = match attrs.remove("span.kind") {
        Some(v) => match value_str(&v).as_str() {
            "client" => SpanKind::Client,
            "server" => SpanKind::Server,
            "producer" => SpanKind::Producer,
            "consumer" => SpanKind::Consumer,
            "internal" => SpanKind::Internal,
            _ => SpanKind::Unspecified,
        },
        None => SpanKind::Unspecified,
    };
    let status = status_from_attrs(&mut attrs, kind);
    let trace_state = attrs
        .remove("w3c.tracestate")
        .map(|v| value_str(&v))
        .unwrap_or_default();
    if !span.warnings.is_empty() {
        add_warnings(&mut attrs, &span.warnings);
    }

    let start = span
        .start_time
        .as_ref()
        .map(|t| t.seconds as i128 * 1_000_000_000 + t.nanos as i128)
        .unwrap_or(0);
    let duration = span.duration.as_ref().map(duration_to_nanos).unwrap_or(0);
    let clamp = |ns: i128| ns.clamp(0, u64::MAX as i128) as u64;

    Ok(OtlpSpan {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        trace_state,
        parent_span_id: if parent == [0; 8] {
            Vec::new()
        } else {
            parent.to_vec()
        },
        flags: span.flags & 1,
        name: span.operation_name.clone(),
        kind: kind as i32,
        start_time_unix_nano: clamp(start),
        end_time_unix_nano: clamp(start + duration as i128),
        attributes: attrs.0,
        events: span.logs.iter().map(event_from_log).collect(),
        links: links(&refs, parent),
        status,
        ..Default::default()
    })
}

/// A reference with parsed ids.
struct Ref {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    ref_type: i32,
}

impl Ref {
    fn parse(r: &SpanRef) -> Result<Self, ConvertError> {
        Ok(Ref {
            trace_id: trace_id_from_jaeger(&r.trace_id)?,
            span_id: span_id_from_jaeger(&r.span_id)?,
            ref_type: r.ref_type,
        })
    }
}

/// Jaeger's `ParentSpanID`: the first CHILD_OF of the same trace, else the first
/// FOLLOWS_FROM of the same trace, else none.
fn parent_of(trace_id: [u8; 16], refs: &[Ref]) -> [u8; 8] {
    let mut follows = None;
    for r in refs.iter().filter(|r| r.trace_id == trace_id) {
        if r.ref_type == SpanRefType::ChildOf as i32 {
            return r.span_id;
        }
        if follows.is_none() && r.ref_type == SpanRefType::FollowsFrom as i32 {
            follows = Some(r.span_id);
        }
    }
    follows.unwrap_or_default()
}

/// Every reference but the CHILD_OF that is the parent, typed by an attribute.
fn links(refs: &[Ref], parent: [u8; 8]) -> Vec<Link> {
    refs.iter()
        .filter(|r| !(r.span_id == parent && r.ref_type == SpanRefType::ChildOf as i32))
        .map(|r| Link {
            trace_id: r.trace_id.to_vec(),
            span_id: r.span_id.to_vec(),
            attributes: vec![kv(
                REF_TYPE_ATTRIBUTE,
                Value::StringValue(
                    if r.ref_type == SpanRefType::ChildOf as i32 {
                        "child_of"
                    } else {
                        "follows_from"
                    }
                    .into(),
                ),
            )],
            ..Default::default()
        })
        .collect()
}

/// contrib `setInternalSpanStatus`: a bool `error=true` tag, else `otel.status_code`,
/// else `http.status_code`.
fn status_from_attrs(attrs: &mut Attrs, kind: SpanKind) -> Option<Status> {
    let mut code = StatusCode::Unset;
    let mut message = String::new();
    let mut found = false;
    if let Some(Value::BoolValue(true)) = attrs.get("error") {
        attrs.remove("error");
        code = StatusCode::Error;
        found = true;
        message = match attrs.remove("otel.status_description") {
            Some(v) => value_str(&v),
            None => attrs
                .get("http.status_message")
                .map(value_str)
                .unwrap_or_default(),
        };
    }
    // Removed in every case; used only when no `error` tag decided.
    let otel_code = attrs.remove("otel.status_code");
    if !found && let Some(v) = otel_code {
        found = true;
        code = match value_str(&v).to_ascii_uppercase().as_str() {
            "OK" => StatusCode::Ok,
            "ERROR" => StatusCode::Error,
            _ => StatusCode::Unset,
        };
        if let Some(d) = attrs.remove("otel.status_description") {
            message = value_str(&d);
        }
    }
    if !found && let Some(http) = attrs.get("http.status_code").and_then(http_status) {
        found = true;
        code = match http {
            400..=499 if kind == SpanKind::Client => StatusCode::Error,
            400..=499 if kind == SpanKind::Server => StatusCode::Unset,
            100..=399 => StatusCode::Unset,
            _ => StatusCode::Error,
        };
        message = attrs
            .get("http.status_message")
            .map(value_str)
            .unwrap_or_default();
    }
    (found && (code != StatusCode::Unset || !message.is_empty())).then_some(Status {
        code: code as i32,
        message,
    })
}

/// An HTTP status attribute: an int, or a string holding one.
fn http_status(v: &Value) -> Option<i64> {
    match v {
        Value::IntValue(i) => Some(*i),
        Value::StringValue(s) => s.parse().ok(),
        _ => None,
    }
}

/// v1adapter: warnings join the `@jaeger@warnings` string array.
fn add_warnings(attrs: &mut Attrs, warnings: &[String]) {
    let mut values = match attrs.remove(WARNINGS_ATTRIBUTE) {
        Some(Value::ArrayValue(a)) => a.values,
        Some(other) => vec![AnyValue { value: Some(other) }],
        None => Vec::new(),
    };
    values.extend(warnings.iter().map(|w| AnyValue {
        value: Some(Value::StringValue(w.clone())),
    }));
    attrs.put(WARNINGS_ATTRIBUTE, Value::ArrayValue(ArrayValue { values }));
}

fn event_from_log(log: &Log) -> Event {
    let mut attrs = Attrs::default();
    for f in &log.fields {
        attrs.put(&f.key, attr_value(f));
    }
    // The `event` field names the event.
    let name = attrs
        .remove("event")
        .map(|v| value_as_string(&v))
        .unwrap_or_default();
    let time = log
        .timestamp
        .as_ref()
        .map(|t| (t.seconds as i128 * 1_000_000_000 + t.nanos as i128).clamp(0, u64::MAX as i128))
        .unwrap_or(0) as u64;
    Event {
        time_unix_nano: time,
        name,
        attributes: attrs.0,
        dropped_attributes_count: 0,
    }
}

/// The attribute value of a tag; an unknown type becomes a descriptive string.
fn attr_value(t: &KeyValue) -> Value {
    match ValueType::try_from(t.v_type) {
        Ok(ValueType::String) => Value::StringValue(t.v_str.clone()),
        Ok(ValueType::Bool) => Value::BoolValue(t.v_bool),
        Ok(ValueType::Int64) => Value::IntValue(t.v_int64),
        Ok(ValueType::Float64) => Value::DoubleValue(t.v_float64),
        Ok(ValueType::Binary) => Value::BytesValue(t.v_binary.clone()),
        Err(_) => Value::StringValue(unknown_type_text(t.v_type)),
    }
}

/// pdata `Str()`: the string of a string value, `""` for anything else.
fn value_str(v: &Value) -> String {
    match v {
        Value::StringValue(s) => s.clone(),
        _ => String::new(),
    }
}

/// pdata `AsString()`.
fn value_as_string(v: &Value) -> String {
    match v {
        Value::StringValue(s) => s.clone(),
        Value::BoolValue(b) => b.to_string(),
        Value::IntValue(i) => i.to_string(),
        Value::DoubleValue(d) => gojson::float_as_string(*d),
        Value::BytesValue(b) => base64::engine::general_purpose::STANDARD.encode(b),
        Value::StringValueStrindex(_) => String::new(),
        Value::ArrayValue(_) | Value::KvlistValue(_) => gojson::as_json(v),
    }
}

fn kv(key: &str, v: Value) -> OtlpKv {
    OtlpKv {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

/// An insertion-ordered attribute map with pcommon `Map` semantics: putting an existing
/// key replaces its value in place. Spans have few tags, so a linear scan is cheapest.
#[derive(Default)]
struct Attrs(Vec<OtlpKv>);

impl Attrs {
    fn put(&mut self, key: &str, v: Value) {
        match self.0.iter_mut().find(|kv| kv.key == key) {
            Some(kv) => kv.value = Some(AnyValue { value: Some(v) }),
            None => self.0.push(kv(key, v)),
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.as_ref())
    }

    fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.0.iter().position(|kv| kv.key == key)?;
        self.0.remove(i).value.and_then(|v| v.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::{spans_from_otlp, timestamp_from_nanos};
    use prost_types::Timestamp;

    fn st(key: &str, v: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            v_str: v.into(),
            ..Default::default()
        }
    }

    fn bt(key: &str, v: bool) -> KeyValue {
        KeyValue {
            key: key.into(),
            v_type: ValueType::Bool as i32,
            v_bool: v,
            ..Default::default()
        }
    }

    fn it(key: &str, v: i64) -> KeyValue {
        KeyValue {
            key: key.into(),
            v_type: ValueType::Int64 as i32,
            v_int64: v,
            ..Default::default()
        }
    }

    fn span(tags: Vec<KeyValue>) -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            operation_name: "op".into(),
            start_time: Some(Timestamp {
                seconds: 10,
                nanos: 5,
            }),
            duration: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
            tags,
            ..Default::default()
        }
    }

    fn one(span: Span) -> OtlpSpan {
        let rs = batch_to_otlp(&Batch {
            spans: vec![span],
            process: Some(Process {
                service_name: "svc".into(),
                tags: vec![],
            }),
        })
        .unwrap();
        rs[0].scope_spans[0].spans[0].clone()
    }

    /// Attributes as `key=value` text.
    fn attrs(a: &[OtlpKv]) -> Vec<String> {
        a.iter()
            .map(|kv| {
                let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(Value::StringValue(s)) => s.clone(),
                    Some(Value::BoolValue(b)) => b.to_string(),
                    Some(Value::IntValue(i)) => i.to_string(),
                    Some(Value::DoubleValue(d)) => d.to_string(),
                    Some(Value::BytesValue(b)) => format!("{b:?}"),
                    Some(Value::ArrayValue(a)) => format!(
                        "{:?}",
                        a.values
                            .iter()
                            .map(|v| match &v.value {
                                Some(Value::StringValue(s)) => s.as_str(),
                                _ => "?",
                            })
                            .collect::<Vec<_>>()
                    ),
                    other => format!("{other:?}"),
                };
                format!("{}={v}", kv.key)
            })
            .collect()
    }

    fn status(s: &OtlpSpan) -> (i32, &str) {
        s.status
            .as_ref()
            .map(|s| (s.code, s.message.as_str()))
            .unwrap_or((0, ""))
    }

    #[test]
    fn span_fields_times_and_kind() {
        let mut sp = span(vec![st("span.kind", "server"), st("w3c.tracestate", "a=b")]);
        sp.flags = 3;
        let o = one(sp);
        assert_eq!(o.trace_id, vec![1; 16]);
        assert_eq!(o.span_id, vec![2; 8]);
        assert_eq!(o.name, "op");
        assert_eq!(o.kind, SpanKind::Server as i32);
        assert_eq!(o.trace_state, "a=b");
        assert_eq!(o.flags, 1);
        assert_eq!(o.start_time_unix_nano, 10_000_000_005);
        assert_eq!(o.end_time_unix_nano, 11_000_000_005);
        assert!(o.attributes.is_empty());
        assert!(o.parent_span_id.is_empty());
        // Kind names are exact lowercase; anything else is unspecified (and removed).
        let o = one(span(vec![st("span.kind", "Server"), st("a", "b")]));
        assert_eq!(o.kind, 0);
        assert_eq!(attrs(&o.attributes), ["a=b"]);
    }

    #[test]
    fn status_rules() {
        // (tags, kind) → (code, message, remaining attributes)
        type Case = (Vec<KeyValue>, (i32, &'static str), Vec<&'static str>);
        let cases: Vec<Case> = vec![
            (vec![bt("error", true)], (2, ""), vec![]),
            (
                vec![
                    bt("error", true),
                    st("otel.status_description", "boom"),
                    st("otel.status_code", "OK"),
                ],
                (2, "boom"),
                vec![],
            ),
            (
                vec![bt("error", true), st("http.status_message", "teapot")],
                (2, "teapot"),
                vec!["http.status_message=teapot"],
            ),
            // A false or string `error` stays an attribute.
            (vec![bt("error", false)], (0, ""), vec!["error=false"]),
            (vec![st("error", "true")], (0, ""), vec!["error=true"]),
            (
                vec![
                    st("otel.status_code", "error"),
                    st("otel.status_description", "d"),
                ],
                (2, "d"),
                vec![],
            ),
            (vec![st("otel.status_code", "ok")], (1, ""), vec![]),
            (vec![st("otel.status_code", "weird")], (0, ""), vec![]),
            (
                vec![
                    it("http.status_code", 503),
                    st("http.status_message", "down"),
                ],
                (2, "down"),
                vec!["http.status_code=503", "http.status_message=down"],
            ),
            (
                vec![st("http.status_code", "404")],
                (2, ""),
                vec!["http.status_code=404"],
            ),
            (
                vec![it("http.status_code", 200)],
                (0, ""),
                vec!["http.status_code=200"],
            ),
            (
                vec![it("http.status_code", 99)],
                (2, ""),
                vec!["http.status_code=99"],
            ),
            (
                vec![st("http.status_code", "x")],
                (0, ""),
                vec!["http.status_code=x"],
            ),
            // An explicit status wins over the HTTP code.
            (
                vec![st("otel.status_code", "OK"), it("http.status_code", 500)],
                (1, ""),
                vec!["http.status_code=500"],
            ),
        ];
        for (tags, want, rest) in cases {
            let o = one(span(tags.clone()));
            assert_eq!(status(&o), want, "{tags:?}");
            assert_eq!(attrs(&o.attributes), rest, "{tags:?}");
        }
        // 4xx depends on the kind: error for clients, unset for servers.
        let code = |kind: &str| {
            let o = one(span(vec![
                st("span.kind", kind),
                it("http.status_code", 404),
            ]));
            status(&o).0
        };
        assert_eq!(code("client"), 2);
        assert_eq!(code("server"), 0);
        assert_eq!(code("producer"), 2);
    }

    #[test]
    fn tags_map_by_type_last_duplicate_wins() {
        let o = one(span(vec![
            st("a", "1"),
            KeyValue {
                key: "f".into(),
                v_type: ValueType::Float64 as i32,
                v_float64: 2.5,
                ..Default::default()
            },
            KeyValue {
                key: "b".into(),
                v_type: ValueType::Binary as i32,
                v_binary: vec![7],
                ..Default::default()
            },
            KeyValue {
                key: "u".into(),
                v_type: 9,
                ..Default::default()
            },
            st("a", "2"),
        ]));
        assert_eq!(
            attrs(&o.attributes),
            ["a=2", "f=2.5", "b=[7]", r#"u=<Unknown Jaeger TagType "9">"#]
        );
    }

    #[test]
    fn parent_links_logs_warnings() {
        let r = |t: u8, s: u8, ty: SpanRefType| SpanRef {
            trace_id: vec![t; 16],
            span_id: vec![s; 8],
            ref_type: ty as i32,
        };
        let mut sp = span(vec![]);
        sp.references = vec![
            r(9, 8, SpanRefType::ChildOf), // another trace: never the parent
            r(1, 5, SpanRefType::FollowsFrom),
            r(1, 6, SpanRefType::ChildOf),
        ];
        sp.logs = vec![
            Log {
                timestamp: Some(timestamp_from_nanos(7)),
                fields: vec![st("event", "retry"), it("n", 2)],
            },
            Log {
                timestamp: Some(timestamp_from_nanos(8)),
                fields: vec![it("event", 3)],
            },
        ];
        sp.warnings = vec!["w1".into(), "w2".into()];
        let o = one(sp);
        assert_eq!(o.parent_span_id, vec![6; 8]);
        let links: Vec<(u8, u8, Vec<String>)> = o
            .links
            .iter()
            .map(|l| (l.trace_id[0], l.span_id[0], attrs(&l.attributes)))
            .collect();
        assert_eq!(
            links,
            [
                (9, 8, vec!["opentracing.ref_type=child_of".to_string()]),
                (1, 5, vec!["opentracing.ref_type=follows_from".to_string()]),
            ]
        );
        assert_eq!(o.events.len(), 2);
        assert_eq!(
            (o.events[0].time_unix_nano, o.events[0].name.as_str()),
            (7, "retry")
        );
        assert_eq!(attrs(&o.events[0].attributes), ["n=2"]);
        assert_eq!(o.events[1].name, "3");
        assert_eq!(attrs(&o.attributes), [r#"@jaeger@warnings=["w1", "w2"]"#]);

        // FOLLOWS_FROM of the same trace is the parent when there is no CHILD_OF.
        let mut sp = span(vec![]);
        sp.references = vec![r(1, 5, SpanRefType::FollowsFrom)];
        let o = one(sp);
        assert_eq!(o.parent_span_id, vec![5; 8]);
        assert_eq!(o.links.len(), 1);
    }

    #[test]
    fn resources_from_processes() {
        let p = |name: &str, tags: Vec<KeyValue>| Process {
            service_name: name.into(),
            tags,
        };
        let r = resource_from_process(Some(&p(
            "svc",
            vec![
                st("hostname", "h"),
                st("jaeger.version", "Go-2.30"),
                it("n", 1),
            ],
        )))
        .unwrap();
        assert_eq!(
            attrs(&r.attributes),
            [
                "service.name=svc",
                "n=1",
                "host.name=h",
                "opencensus.exporterversion=Jaeger-Go-2.30"
            ]
        );
        // Existing conventional keys win; the Jaeger ones then stay as they are.
        let r = resource_from_process(Some(&p(
            "svc",
            vec![st("host.name", "x"), st("hostname", "h")],
        )))
        .unwrap();
        assert_eq!(
            attrs(&r.attributes),
            ["service.name=svc", "host.name=x", "hostname=h"]
        );
        assert!(resource_from_process(None).is_none());
        assert!(resource_from_process(Some(&p(NO_SERVICE_NAME, vec![st("a", "b")]))).is_none());
        assert!(resource_from_process(Some(&p("", vec![]))).is_none());
        let r = resource_from_process(Some(&p("", vec![st("a", "b")]))).unwrap();
        assert_eq!(attrs(&r.attributes), ["a=b"]);
    }

    #[test]
    fn regroups_by_process_and_scope() {
        let proc_a = Process {
            service_name: "a".into(),
            tags: vec![],
        };
        let proc_b = Process {
            service_name: "b".into(),
            tags: vec![],
        };
        let scoped = |id: u8, scope: Option<(&str, &str)>, process: Option<&Process>| {
            let mut tags = vec![st("k", "v")];
            if let Some((n, v)) = scope {
                tags.insert(0, st("otel.scope.name", n));
                tags.push(st("otel.scope.version", v));
            }
            let mut s = span(tags);
            s.span_id = vec![id; 8];
            s.process = process.cloned();
            s
        };
        let batch = Batch {
            process: Some(proc_a.clone()),
            spans: vec![
                scoped(1, Some(("lib", "1")), None),
                scoped(2, None, Some(&proc_b)),
                Span::default(), // blank: skipped
                scoped(3, None, None),
                scoped(4, Some(("lib", "1")), Some(&proc_a)),
                scoped(5, Some(("lib", "2")), None),
            ],
        };
        let rs = batch_to_otlp(&batch).unwrap();
        type Scope = (String, String, Vec<u8>);
        let shape: Vec<(String, Vec<Scope>)> = rs
            .iter()
            .map(|r| {
                (
                    attrs(&r.resource.as_ref().unwrap().attributes).join(","),
                    r.scope_spans
                        .iter()
                        .map(|ss| {
                            let s = ss.scope.as_ref().unwrap();
                            (
                                s.name.clone(),
                                s.version.clone(),
                                ss.spans.iter().map(|sp| sp.span_id[0]).collect(),
                            )
                        })
                        .collect(),
                )
            })
            .collect();
        let sc = |n: &str, v: &str, ids: &[u8]| (n.to_string(), v.to_string(), ids.to_vec());
        assert_eq!(
            shape,
            [
                (
                    "service.name=a".to_string(),
                    vec![
                        sc("lib", "1", &[1, 4]),
                        sc("", "", &[3]),
                        sc("lib", "2", &[5])
                    ]
                ),
                ("service.name=b".to_string(), vec![sc("", "", &[2])]),
            ]
        );
        // The scope tags are gone, the others stay.
        assert_eq!(attrs(&rs[0].scope_spans[0].spans[0].attributes), ["k=v"]);
    }

    #[test]
    fn bad_ids_fail_the_batch() {
        let mut sp = span(vec![]);
        sp.trace_id = vec![1; 12];
        let b = Batch {
            spans: vec![sp],
            process: None,
        };
        assert_eq!(
            batch_to_otlp(&b).unwrap_err(),
            ConvertError::TraceIdLength(12)
        );
        let mut sp = span(vec![]);
        sp.references = vec![SpanRef {
            trace_id: vec![1; 16],
            span_id: vec![1; 4],
            ref_type: 0,
        }];
        let b = Batch {
            spans: vec![sp],
            process: None,
        };
        assert_eq!(
            batch_to_otlp(&b).unwrap_err(),
            ConvertError::SpanIdLength(4)
        );
        // 8-byte trace ids are the low half.
        let mut sp = span(vec![]);
        sp.trace_id = vec![3; 8];
        let o = one(sp);
        assert_eq!(o.trace_id, [[0; 8], [3; 8]].concat());
    }

    /// OTLP → api_v2 → OTLP gives back the same spans for what both models express.
    #[test]
    fn round_trip_through_jaeger() {
        use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
        let kv = |k: &str, v: Value| OtlpKv {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        };
        let original = vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", Value::StringValue("frontend".into())),
                    kv("host.name", Value::StringValue("h1".into())),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1.2".into(),
                    ..Default::default()
                }),
                spans: vec![OtlpSpan {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    parent_span_id: vec![3; 8],
                    trace_state: "k=v".into(),
                    flags: 1,
                    name: "GET /".into(),
                    kind: SpanKind::Server as i32,
                    start_time_unix_nano: 1_706_678_909_209_712_123,
                    end_time_unix_nano: 1_706_678_909_209_835_999,
                    attributes: vec![
                        kv("http.method", Value::StringValue("GET".into())),
                        kv("n", Value::IntValue(-4)),
                        kv("d", Value::DoubleValue(0.25)),
                        kv("b", Value::BytesValue(vec![1, 2])),
                        kv("ok", Value::BoolValue(true)),
                    ],
                    events: vec![Event {
                        time_unix_nano: 1_706_678_909_209_800_000,
                        name: "cache miss".into(),
                        attributes: vec![kv("key", Value::StringValue("user:1".into()))],
                        dropped_attributes_count: 0,
                    }],
                    links: vec![Link {
                        trace_id: vec![7; 16],
                        span_id: vec![8; 8],
                        attributes: vec![kv(
                            REF_TYPE_ATTRIBUTE,
                            Value::StringValue("follows_from".into()),
                        )],
                        ..Default::default()
                    }],
                    status: Some(Status {
                        code: StatusCode::Error as i32,
                        message: "boom".into(),
                    }),
                    ..Default::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }];
        let back = batch_to_otlp(&Batch {
            spans: spans_from_otlp(&original),
            process: None,
        })
        .unwrap();
        assert_eq!(back, original);
    }
}
