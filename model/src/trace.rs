//! A trace as a list of OTLP `ResourceSpans`, with the helpers every role needs.

use crate::SERVICE_NAME;
use crate::cow::{ScopeGroup, SpanGroup, SpanSource};
use crate::ids::{SpanId, TraceId};
use crate::otlp::{AnyValue, InstrumentationScope, KeyValue, Resource, ResourceSpans, Span, Value};

/// All spans of one trace (or of one batch), grouped by resource and scope as in OTLP.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    pub resource_spans: Vec<ResourceSpans>,
}

/// A trace lent as its resources (see `jaeger_storage::SharedTrace`).
impl AsRef<[ResourceSpans]> for Trace {
    fn as_ref(&self) -> &[ResourceSpans] {
        &self.resource_spans
    }
}

/// A span together with the resource and scope it belongs to.
#[derive(Clone, Copy, Debug)]
pub struct SpanRef<'a> {
    pub resource: Option<&'a Resource>,
    pub scope: Option<&'a InstrumentationScope>,
    pub span: &'a Span,
}

impl<'a> SpanRef<'a> {
    pub fn service_name(&self) -> &'a str {
        self.resource.map(service_name).unwrap_or("")
    }
    pub fn trace_id(&self) -> TraceId {
        TraceId::from_slice(&self.span.trace_id).unwrap_or_default()
    }
    pub fn span_id(&self) -> SpanId {
        SpanId::from_slice(&self.span.span_id).unwrap_or_default()
    }
    pub fn parent_span_id(&self) -> SpanId {
        SpanId::from_slice(&self.span.parent_span_id).unwrap_or_default()
    }
    pub fn duration_nanos(&self) -> u64 {
        self.span
            .end_time_unix_nano
            .saturating_sub(self.span.start_time_unix_nano)
    }
}

impl Trace {
    pub fn new(resource_spans: Vec<ResourceSpans>) -> Self {
        Self { resource_spans }
    }

    /// Every span with its resource and scope, in resource/scope/span order.
    pub fn spans(&self) -> impl Iterator<Item = SpanRef<'_>> {
        spans_of(&self.resource_spans)
    }

    pub fn span_count(&self) -> usize {
        span_count(&self.resource_spans)
    }

    pub fn is_empty(&self) -> bool {
        self.span_count() == 0
    }

    /// The trace id of the first span (all spans of a trace share it).
    pub fn trace_id(&self) -> Option<TraceId> {
        self.spans().next().map(|s| s.trace_id())
    }
}

/// Iterates the spans of OTLP resource spans (owned or a `CowTrace`'s) with their
/// resource and scope; a `CowSpan` as stored, without its pending change.
pub fn spans_of<G: SpanGroup>(rs: &[G]) -> impl Iterator<Item = SpanRef<'_>> {
    rs.iter().flat_map(|r| {
        r.scopes().iter().flat_map(move |ss| {
            ss.spans().iter().map(move |span| SpanRef {
                resource: r.resource(),
                scope: ss.scope(),
                span: span.span(),
            })
        })
    })
}

pub fn span_count<G: SpanGroup>(rs: &[G]) -> usize {
    rs.iter().map(SpanGroup::span_count).sum()
}

/// Puts attributes in key order, stably (equal keys keep their order).
fn sort_attributes_stable(attrs: &mut [KeyValue]) {
    if !attrs.is_sorted_by(|a, b| a.key <= b.key) {
        attrs.sort_by(|a, b| a.key.cmp(&b.key));
    }
}

/// Puts every attribute list of the group (the resource's, each scope's, each span's and
/// its events' and links') in key order and events in name order, all stably: how the
/// memory and embedded stores keep spans, so that the query's `SortCollections` finds
/// them sorted.
pub fn sort_collections(rs: &mut ResourceSpans) {
    if let Some(resource) = rs.resource.as_mut() {
        sort_attributes_stable(&mut resource.attributes);
    }
    for ss in rs.scope_spans.iter_mut() {
        if let Some(scope) = ss.scope.as_mut() {
            sort_attributes_stable(&mut scope.attributes);
        }
        ss.spans.iter_mut().for_each(sort_span_collections);
    }
}

/// Puts the span's attribute lists (its own, its events' and its links') in key order
/// and its events in name order, all stably: the order the query's `SortCollections`
/// gives, less its dropping of repeated keys. The memory store keeps spans so.
fn sort_span_collections(span: &mut Span) {
    sort_attributes_stable(&mut span.attributes);
    if !span.events.is_sorted_by(|a, b| a.name <= b.name) {
        span.events.sort_by(|a, b| a.name.cmp(&b.name));
    }
    for e in span.events.iter_mut() {
        sort_attributes_stable(&mut e.attributes);
    }
    for l in span.links.iter_mut() {
        sort_attributes_stable(&mut l.attributes);
    }
}

/// The `service.name` resource attribute, or `""`.
pub fn service_name(resource: &Resource) -> &str {
    match find_attr(&resource.attributes, SERVICE_NAME) {
        Some(Value::StringValue(s)) => s,
        _ => "",
    }
}

pub fn find_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

pub fn string_value(s: impl Into<String>) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(s.into())),
    })
}

pub fn kv(key: impl Into<String>, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// The value as Jaeger prints it in tag filters and as pdata's `AsString`: strings
/// verbatim, numbers and bools in decimal, bytes as base64, arrays and maps as JSON.
pub fn value_to_string(v: &Value) -> String {
    match v {
        Value::StringValue(s) => s.clone(),
        Value::BoolValue(b) => b.to_string(),
        Value::IntValue(i) => i.to_string(),
        Value::DoubleValue(d) => format_float(*d),
        Value::BytesValue(b) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        Value::ArrayValue(_) | Value::KvlistValue(_) => value_to_json(v).to_string(),
        #[allow(unreachable_patterns)]
        _ => String::new(),
    }
}

/// Float formatting as Go's `strconv.FormatFloat(f, 'g', -1, 64)` / encoding/json:
/// shortest representation, exponent outside [1e-6, 1e21).
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust `{:e}` gives e.g. `1e21` / `1.5e-7`; Go writes `1e+21` / `1.5e-07`.
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').expect("exponent form");
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        let digits = if digits.len() < 2 {
            format!("0{digits}")
        } else {
            digits.to_string()
        };
        format!("{mant}e{sign}{digits}")
    } else {
        let s = format!("{f}");
        s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
    }
}

/// JSON of an attribute value as pdata's `AsString` renders arrays and maps.
pub fn value_to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::StringValue(s) => J::String(s.clone()),
        Value::BoolValue(b) => J::Bool(*b),
        Value::IntValue(i) => J::from(*i),
        Value::DoubleValue(d) => serde_json::Number::from_f64(*d)
            .map(J::Number)
            .unwrap_or(J::Null),
        Value::BytesValue(b) => {
            use base64::Engine;
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Value::ArrayValue(a) => J::Array(
            a.values
                .iter()
                .map(|x| x.value.as_ref().map(value_to_json).unwrap_or(J::Null))
                .collect(),
        ),
        Value::KvlistValue(kvs) => J::Object(
            kvs.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        kv.value
                            .as_ref()
                            .and_then(|v| v.value.as_ref())
                            .map(value_to_json)
                            .unwrap_or(J::Null),
                    )
                })
                .collect(),
        ),
        #[allow(unreachable_patterns)]
        _ => J::Null,
    }
}

/// Splits a batch into one group per trace id, keeping resource and scope grouping.
/// Traces come out in the order their first span appears in.
pub fn group_by_trace(batch: &[ResourceSpans]) -> Vec<(TraceId, Vec<ResourceSpans>)> {
    use crate::otlp::ScopeSpans;
    use std::collections::HashMap;

    // Per trace: its groups, and the (resource, scope) position its last span came from,
    // so consecutive spans of one scope land in one ScopeSpans.
    let mut index: HashMap<TraceId, usize> = HashMap::new();
    let mut out: Vec<(TraceId, Vec<ResourceSpans>, (usize, usize))> = Vec::new();
    for (ri, rs) in batch.iter().enumerate() {
        for (si, ss) in rs.scope_spans.iter().enumerate() {
            for span in &ss.spans {
                let tid = TraceId::from_slice(&span.trace_id).unwrap_or_default();
                let slot = *index.entry(tid).or_insert_with(|| {
                    out.push((tid, Vec::new(), (usize::MAX, usize::MAX)));
                    out.len() - 1
                });
                let (_, groups, last) = &mut out[slot];
                if last.0 != ri {
                    groups.push(ResourceSpans {
                        resource: rs.resource.clone(),
                        scope_spans: Vec::new(),
                        schema_url: rs.schema_url.clone(),
                    });
                }
                let g = groups.last_mut().expect("a group exists for this resource");
                if *last != (ri, si) {
                    g.scope_spans.push(ScopeSpans {
                        scope: ss.scope.clone(),
                        spans: Vec::new(),
                        schema_url: ss.schema_url.clone(),
                    });
                }
                *last = (ri, si);
                g.scope_spans
                    .last_mut()
                    .expect("a scope group exists for this scope")
                    .spans
                    .push(span.clone());
            }
        }
    }
    out.into_iter().map(|(t, g, _)| (t, g)).collect()
}

/// [`group_by_trace`] for a batch the caller gives away: spans are moved instead of
/// copied; a resource or scope is cloned only for each further trace that uses it.
pub fn group_by_trace_owned(batch: Vec<ResourceSpans>) -> Vec<(TraceId, Vec<ResourceSpans>)> {
    use crate::otlp::ScopeSpans;
    use std::collections::HashMap;

    struct Group {
        trace_id: TraceId,
        resource_spans: Vec<ResourceSpans>,
        /// The (resource, scope) position its last span came from, so consecutive spans
        /// of one scope land in one ScopeSpans.
        last: (usize, usize),
    }
    let mut index: HashMap<TraceId, usize> = HashMap::new();
    let mut out: Vec<Group> = Vec::new();
    // Spans of one trace usually arrive together: skip the map lookup for a run of them.
    let mut current: Option<(TraceId, usize)> = None;
    for (ri, rs) in batch.into_iter().enumerate() {
        let ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        } = rs;
        for (si, ss) in scope_spans.into_iter().enumerate() {
            let ScopeSpans {
                scope,
                spans,
                schema_url: scope_schema,
            } = ss;
            for span in spans {
                let tid = TraceId::from_slice(&span.trace_id).unwrap_or_default();
                let slot = match current {
                    Some((t, slot)) if t == tid => slot,
                    _ => {
                        let slot = *index.entry(tid).or_insert_with(|| {
                            out.push(Group {
                                trace_id: tid,
                                resource_spans: Vec::new(),
                                last: (usize::MAX, usize::MAX),
                            });
                            out.len() - 1
                        });
                        current = Some((tid, slot));
                        slot
                    }
                };
                let group = &mut out[slot];
                if group.last.0 != ri {
                    group.resource_spans.push(ResourceSpans {
                        resource: resource.clone(),
                        scope_spans: Vec::new(),
                        schema_url: schema_url.clone(),
                    });
                }
                let g = group
                    .resource_spans
                    .last_mut()
                    .expect("a group exists for this resource");
                if group.last != (ri, si) {
                    g.scope_spans.push(ScopeSpans {
                        scope: scope.clone(),
                        spans: Vec::new(),
                        schema_url: scope_schema.clone(),
                    });
                }
                group.last = (ri, si);
                g.scope_spans
                    .last_mut()
                    .expect("a scope group exists for this scope")
                    .spans
                    .push(span);
            }
        }
    }
    out.into_iter()
        .map(|g| (g.trace_id, g.resource_spans))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace: u8, id: u8) -> crate::otlp::Span {
        crate::otlp::Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            name: format!("op-{id}"),
            ..Default::default()
        }
    }

    fn resource_spans(service: &str, scopes: Vec<(&str, Vec<crate::otlp::Span>)>) -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv(SERVICE_NAME, Value::StringValue(service.into()))],
                ..Default::default()
            }),
            scope_spans: scopes
                .into_iter()
                .map(|(scope, spans)| crate::otlp::ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: scope.into(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: format!("scope-schema-{scope}"),
                })
                .collect(),
            schema_url: format!("schema-{service}"),
        }
    }

    #[test]
    fn grouping_an_owned_batch_matches_grouping_a_borrowed_one() {
        // Traces interleaved across resources and scopes, runs of one trace, and a trace
        // coming back to a scope after another scope.
        let batch = vec![
            resource_spans(
                "a",
                vec![
                    ("s1", vec![span(1, 1), span(1, 2), span(2, 3), span(1, 4)]),
                    ("s2", vec![span(2, 5), span(3, 6)]),
                ],
            ),
            resource_spans("b", vec![("s1", vec![span(3, 7), span(1, 8)])]),
            resource_spans("a", vec![("s2", vec![span(2, 9)]), ("s1", vec![])]),
        ];
        let borrowed = group_by_trace(&batch);
        let owned = group_by_trace_owned(batch);
        assert_eq!(owned, borrowed);
        assert_eq!(owned.len(), 3);
        assert_eq!(owned[0].1.len(), 2, "trace 1 spans resources a and b");
        assert_eq!(owned[0].1[0].scope_spans[0].spans.len(), 3);
    }

    #[test]
    fn go_float_format() {
        assert_eq!(format_float(72.5), "72.5");
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(1e21), "1e+21");
        assert_eq!(format_float(1e-7), "1e-07");
        assert_eq!(format_float(1.5e-7), "1.5e-07");
        assert_eq!(format_float(123456.0), "123456");
        assert_eq!(format_float(0.000001), "0.000001");
    }
}
