//! OTLP/JSON output as pdata's `ptrace.JSONMarshaler` writes it (api_v3 responses):
//! lowercase hex ids, 64-bit integers as decimal strings, enums as numbers, zero and
//! empty fields omitted, but `resource`, `scope` and `status` always present (`{}` when
//! empty).
//!
//! opentelemetry-proto's `with-serde` derive is not used: it writes every default field
//! (`"droppedAttributesCount":0`, `"traceState":""`, ...) and int values as numbers.

use std::fmt::Write as _;

use base64::Engine;

use crate::WARNINGS_ATTRIBUTE;
use crate::cow::{ScopeGroup, SpanGroup, SpanSource, shift_time};
use crate::otlp::common::EntityRef;
use crate::otlp::{
    AnyValue, Event, InstrumentationScope, KeyValue, Link, Resource, ResourceSpans, Status, Value,
};
use crate::sanitize::add_warning;

/// `{"resourceSpans":[...]}` for the given resource spans.
pub fn traces_data(resource_spans: &[ResourceSpans]) -> String {
    let mut out = String::with_capacity(512 * resource_spans.len().max(1));
    write_traces_data(&mut out, resource_spans);
    out
}

/// Appends `{"resourceSpans":[...]}` to `out`; the resource spans may come from several
/// traces (api_v3 search concatenates them into one `TracesData`).
pub fn write_traces_data<'a, G: SpanGroup + 'a>(
    out: &mut String,
    resource_spans: impl IntoIterator<Item = &'a G>,
) {
    let mut o = Obj::new(out);
    let mut first = true;
    for rs in resource_spans {
        if first {
            o.key("resourceSpans");
            o.out.push('[');
            first = false;
        } else {
            o.out.push(',');
        }
        resource_spans_json(o.out, rs);
    }
    if !first {
        o.out.push(']');
    }
    o.end();
}

/// A JSON object under construction: writes commas between fields.
struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut String) -> Self {
        out.push('{');
        Obj { out, first: true }
    }
    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(k);
        self.out.push_str("\":");
    }
    fn str(&mut self, k: &str, v: &str) {
        if !v.is_empty() {
            self.key(k);
            string(self.out, v);
        }
    }
    fn hex(&mut self, k: &str, v: &[u8]) {
        if v.iter().any(|b| *b != 0) {
            self.key(k);
            self.out.push('"');
            self.out.push_str(&hex::encode(v));
            self.out.push('"');
        }
    }
    fn num(&mut self, k: &str, v: u64) {
        if v != 0 {
            self.key(k);
            let _ = write!(self.out, "{v}");
        }
    }
    /// fixed64 / int64: a quoted decimal.
    fn num_str(&mut self, k: &str, v: u64) {
        if v != 0 {
            self.key(k);
            let _ = write!(self.out, "\"{v}\"");
        }
    }
    fn attrs(&mut self, k: &str, v: &[KeyValue]) {
        if !v.is_empty() {
            self.key(k);
            list(self.out, v, key_value);
        }
    }
    fn end(self) {
        self.out.push('}');
    }
}

fn list<T>(out: &mut String, items: &[T], f: fn(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        f(out, item);
    }
    out.push(']');
}

fn string(out: &mut String, s: &str) {
    // Most values need no escaping: skip serde's allocation for them.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(s).expect("serializing a str cannot fail"));
    }
}

fn resource_spans_json<G: SpanGroup>(out: &mut String, rs: &G) {
    let mut o = Obj::new(out);
    o.key("resource");
    resource(o.out, rs.resource());
    if !rs.scopes().is_empty() {
        o.key("scopeSpans");
        list(o.out, rs.scopes(), scope_spans);
    }
    o.str("schemaUrl", rs.schema_url());
    o.end();
}

fn resource(out: &mut String, r: Option<&Resource>) {
    let mut o = Obj::new(out);
    if let Some(r) = r {
        o.attrs("attributes", &r.attributes);
        o.num("droppedAttributesCount", r.dropped_attributes_count.into());
        if !r.entity_refs.is_empty() {
            o.key("entityRefs");
            list(o.out, &r.entity_refs, entity_ref);
        }
    }
    o.end();
}

fn entity_ref(out: &mut String, e: &EntityRef) {
    let strings = |out: &mut String, v: &[String]| list(out, v, |o, s| string(o, s));
    let mut o = Obj::new(out);
    o.str("schemaUrl", &e.schema_url);
    o.str("type", &e.r#type);
    if !e.id_keys.is_empty() {
        o.key("idKeys");
        strings(o.out, &e.id_keys);
    }
    if !e.description_keys.is_empty() {
        o.key("descriptionKeys");
        strings(o.out, &e.description_keys);
    }
    o.end();
}

fn scope_spans<S: ScopeGroup>(out: &mut String, ss: &S) {
    let mut o = Obj::new(out);
    o.key("scope");
    scope(o.out, ss.scope());
    if !ss.spans().is_empty() {
        o.key("spans");
        list(o.out, ss.spans(), span_source);
    }
    o.str("schemaUrl", ss.schema_url());
    o.end();
}

fn scope(out: &mut String, s: Option<&InstrumentationScope>) {
    let mut o = Obj::new(out);
    if let Some(s) = s {
        o.str("name", &s.name);
        o.str("version", &s.version);
        o.attrs("attributes", &s.attributes);
        o.num("droppedAttributesCount", s.dropped_attributes_count.into());
    }
    o.end();
}

/// A span with the pending change of a borrowed span applied on the fly (see
/// `crate::cow`): times shifted, warnings added as `add_warning` would store them.
fn span_source<S: SpanSource>(out: &mut String, src: &S) {
    let s = src.span();
    let delta = src.shift();
    let mut o = Obj::new(out);
    o.hex("traceId", &s.trace_id);
    o.hex("spanId", &s.span_id);
    o.str("traceState", &s.trace_state);
    o.hex("parentSpanId", &s.parent_span_id);
    o.num("flags", s.flags.into());
    o.str("name", &s.name);
    if s.kind != 0 {
        o.key("kind");
        let _ = write!(o.out, "{}", s.kind);
    }
    o.num_str(
        "startTimeUnixNano",
        shift_time(s.start_time_unix_nano, delta),
    );
    o.num_str("endTimeUnixNano", shift_time(s.end_time_unix_nano, delta));
    let extra = src.extra_warnings();
    if extra.is_empty() {
        o.attrs("attributes", &s.attributes);
    } else {
        // The warnings attribute as `add_warning` would leave it, in its place (or
        // last when the span had none).
        let at = s
            .attributes
            .iter()
            .position(|kv| kv.key == WARNINGS_ATTRIBUTE);
        let mut warnings: Vec<KeyValue> = at.map(|i| s.attributes[i].clone()).into_iter().collect();
        for w in extra {
            add_warning(&mut warnings, w.to_string());
        }
        o.key("attributes");
        o.out.push('[');
        for (i, kv) in s.attributes.iter().enumerate() {
            if i > 0 {
                o.out.push(',');
            }
            key_value(o.out, if Some(i) == at { &warnings[0] } else { kv });
        }
        if at.is_none() {
            if !s.attributes.is_empty() {
                o.out.push(',');
            }
            key_value(o.out, &warnings[0]);
        }
        o.out.push(']');
    }
    o.num("droppedAttributesCount", s.dropped_attributes_count.into());
    if !s.events.is_empty() {
        o.key("events");
        o.out.push('[');
        for (i, e) in s.events.iter().enumerate() {
            if i > 0 {
                o.out.push(',');
            }
            event_at(o.out, e, shift_time(e.time_unix_nano, delta));
        }
        o.out.push(']');
    }
    o.num("droppedEventsCount", s.dropped_events_count.into());
    if !s.links.is_empty() {
        o.key("links");
        list(o.out, &s.links, link);
    }
    o.num("droppedLinksCount", s.dropped_links_count.into());
    o.key("status");
    status(o.out, s.status.as_ref());
    o.end();
}

fn status(out: &mut String, s: Option<&Status>) {
    let mut o = Obj::new(out);
    if let Some(s) = s {
        o.str("message", &s.message);
        if s.code != 0 {
            o.key("code");
            let _ = write!(o.out, "{}", s.code);
        }
    }
    o.end();
}

/// An event, its time given (shifted by a pending clock-skew change).
fn event_at(out: &mut String, e: &Event, time_unix_nano: u64) {
    let mut o = Obj::new(out);
    o.num_str("timeUnixNano", time_unix_nano);
    o.str("name", &e.name);
    o.attrs("attributes", &e.attributes);
    o.num("droppedAttributesCount", e.dropped_attributes_count.into());
    o.end();
}

fn link(out: &mut String, l: &Link) {
    let mut o = Obj::new(out);
    o.hex("traceId", &l.trace_id);
    o.hex("spanId", &l.span_id);
    o.str("traceState", &l.trace_state);
    o.attrs("attributes", &l.attributes);
    o.num("droppedAttributesCount", l.dropped_attributes_count.into());
    o.num("flags", l.flags.into());
    o.end();
}

fn key_value(out: &mut String, kv: &KeyValue) {
    let mut o = Obj::new(out);
    o.str("key", &kv.key);
    o.key("value");
    any_value(o.out, kv.value.as_ref());
    o.end();
}

fn any_value(out: &mut String, v: Option<&AnyValue>) {
    let mut o = Obj::new(out);
    // A set oneof is written even when it holds the zero value.
    match v.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => {
            o.key("stringValue");
            string(o.out, s);
        }
        Some(Value::BoolValue(b)) => {
            o.key("boolValue");
            o.out.push_str(if *b { "true" } else { "false" });
        }
        Some(Value::IntValue(i)) => {
            o.key("intValue");
            let _ = write!(o.out, "\"{i}\"");
        }
        Some(Value::DoubleValue(d)) => {
            o.key("doubleValue");
            if d.is_nan() {
                o.out.push_str("\"NaN\"");
            } else if d.is_infinite() {
                o.out.push_str(if *d > 0.0 {
                    "\"Infinity\""
                } else {
                    "\"-Infinity\""
                });
            } else {
                o.out.push_str(&crate::trace::format_float(*d));
            }
        }
        Some(Value::BytesValue(b)) => {
            o.key("bytesValue");
            o.out.push('"');
            o.out
                .push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            o.out.push('"');
        }
        Some(Value::ArrayValue(a)) => {
            o.key("arrayValue");
            let mut inner = Obj::new(o.out);
            if !a.values.is_empty() {
                inner.key("values");
                list(inner.out, &a.values, |out, v| any_value(out, Some(v)));
            }
            inner.end();
        }
        Some(Value::KvlistValue(kvs)) => {
            o.key("kvlistValue");
            let mut inner = Obj::new(o.out);
            inner.attrs("values", &kvs.values);
            inner.end();
        }
        // Dictionary indexes belong to the profiles signal; nothing to show for traces.
        Some(Value::StringValueStrindex(_)) | None => {}
    }
    o.end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::common::{ArrayValue, KeyValueList};
    use crate::otlp::{ScopeSpans, Span};
    use crate::trace::kv;

    #[test]
    fn empty_resource_and_scope_are_objects() {
        let rs = ResourceSpans {
            resource: None,
            scope_spans: vec![ScopeSpans {
                scope: None,
                spans: vec![Span {
                    trace_id: vec![0; 15].into_iter().chain([1]).collect(),
                    span_id: vec![0, 0, 0, 0, 0, 0, 0, 2],
                    name: "foobar".into(),
                    kind: 2,
                    start_time_unix_nano: 1_000_000_000,
                    end_time_unix_nano: 2_000_000_000,
                    ..Default::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        };
        assert_eq!(
            traces_data(&[rs]),
            concat!(
                r#"{"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{},"spans":[{"#,
                r#""traceId":"00000000000000000000000000000001","spanId":"0000000000000002","#,
                r#""name":"foobar","kind":2,"startTimeUnixNano":"1000000000","#,
                r#""endTimeUnixNano":"2000000000","status":{}}]}]}]}"#
            )
        );
    }

    #[test]
    fn every_field_and_value_type() {
        let s = |v: &str| Value::StringValue(v.into());
        let span = Span {
            trace_id: vec![0xab; 16],
            span_id: vec![1; 8],
            parent_span_id: vec![2; 8],
            trace_state: "a=b".into(),
            flags: 257,
            name: "n".into(),
            kind: 3,
            start_time_unix_nano: 5,
            end_time_unix_nano: 6,
            attributes: vec![
                kv("s", s("")),
                kv("esc", s("a\"b\\c\n")),
                kv("b", Value::BoolValue(false)),
                kv("i", Value::IntValue(-9_223_372_036_854_775_808)),
                kv("d", Value::DoubleValue(1.0)),
                kv("nan", Value::DoubleValue(f64::NAN)),
                kv("by", Value::BytesValue(vec![0, 0, 0x30, 0x39])),
                kv(
                    "a",
                    Value::ArrayValue(ArrayValue {
                        values: vec![AnyValue {
                            value: Some(Value::IntValue(1)),
                        }],
                    }),
                ),
                kv(
                    "m",
                    Value::KvlistValue(KeyValueList {
                        values: vec![kv("k", s("v"))],
                    }),
                ),
                kv("ea", Value::ArrayValue(ArrayValue { values: vec![] })),
                KeyValue {
                    key: "none".into(),
                    value: None,
                    ..Default::default()
                },
            ],
            dropped_attributes_count: 1,
            events: vec![Event {
                time_unix_nano: 7,
                name: "e".into(),
                attributes: vec![],
                dropped_attributes_count: 0,
            }],
            dropped_events_count: 2,
            links: vec![Link {
                trace_id: vec![3; 16],
                span_id: vec![4; 8],
                flags: 1,
                ..Default::default()
            }],
            dropped_links_count: 3,
            status: Some(Status {
                message: "m".into(),
                code: 2,
            }),
        };
        let rs = ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", s("svc"))],
                dropped_attributes_count: 0,
                entity_refs: vec![],
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1".into(),
                    ..Default::default()
                }),
                spans: vec![span],
                schema_url: "https://x".into(),
            }],
            schema_url: String::new(),
        };
        let got = traces_data(&[rs]);
        let want = concat!(
            r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"#,
            r#""scopeSpans":[{"scope":{"name":"lib","version":"1"},"spans":[{"#,
            r#""traceId":"abababababababababababababababab","spanId":"0101010101010101","traceState":"a=b","#,
            r#""parentSpanId":"0202020202020202","flags":257,"name":"n","kind":3,"#,
            r#""startTimeUnixNano":"5","endTimeUnixNano":"6","attributes":["#,
            r#"{"key":"s","value":{"stringValue":""}},{"key":"esc","value":{"stringValue":"a\"b\\c\n"}},{"key":"b","value":{"boolValue":false}},"#,
            r#"{"key":"i","value":{"intValue":"-9223372036854775808"}},{"key":"d","value":{"doubleValue":1}},"#,
            r#"{"key":"nan","value":{"doubleValue":"NaN"}},{"key":"by","value":{"bytesValue":"AAAwOQ=="}},"#,
            r#"{"key":"a","value":{"arrayValue":{"values":[{"intValue":"1"}]}}},"#,
            r#"{"key":"m","value":{"kvlistValue":{"values":[{"key":"k","value":{"stringValue":"v"}}]}}},"#,
            r#"{"key":"ea","value":{"arrayValue":{}}},{"key":"none","value":{}}],"#,
            r#""droppedAttributesCount":1,"events":[{"timeUnixNano":"7","name":"e"}],"droppedEventsCount":2,"#,
            r#""links":[{"traceId":"03030303030303030303030303030303","spanId":"0404040404040404","flags":1}],"#,
            r#""droppedLinksCount":3,"status":{"message":"m","code":2}}],"schemaUrl":"https://x"}]}]}"#,
        );
        assert_eq!(got, want);
        // It is valid JSON.
        serde_json::from_str::<serde_json::Value>(&got).unwrap();
    }
}
