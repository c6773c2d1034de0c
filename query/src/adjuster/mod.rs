//! The standard adjusters of Jaeger v2 (query spec §4.1), on OTLP-shaped traces, one
//! module per step. [`standard_adjusters`] builds the pipeline in Jaeger's order; the
//! pipeline type itself is [`crate::adjust::Adjusters`].
//!
//! Every step mutates the trace in place, never fails and never panics; a problem with
//! a span becomes a warning in its `@jaeger@warnings` attribute.

mod clock_skew;
mod hash;
mod ip_attribute;
mod library_attributes;
mod sort;
mod span_id_uniquifier;
mod span_links;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

pub use clock_skew::{CorrectClockSkew, host_key};
pub use hash::DeduplicateSpans;
pub use ip_attribute::NormalizeIPAttributes;
pub use library_attributes::MoveLibraryAttributes;
pub use sort::SortCollections;
pub use span_id_uniquifier::DeduplicateClientServerSpanIDs;
pub use span_links::RemoveEmptySpanLinks;

use crate::adjust::{Adjuster, Adjusters};
use jaeger_model::CowTrace;
use jaeger_model::cow::CowSpan;
use jaeger_model::otlp::Resource;

/// Jaeger's `StandardAdjusters(maxClockSkewAdjust)`, in its order. A zero
/// `max_clock_skew_adjust` disables clock-skew correction but still warns on spans that
/// would need it.
pub fn standard_adjusters(max_clock_skew_adjust: Duration) -> Adjusters {
    let steps: Vec<Arc<dyn Adjuster>> = vec![
        Arc::new(DeduplicateClientServerSpanIDs),
        Arc::new(SortCollections),
        // Hashing depends on the collections being sorted first.
        Arc::new(DeduplicateSpans),
        Arc::new(CorrectClockSkew::new(max_clock_skew_adjust)),
        // NormalizeIPAttributes, MoveLibraryAttributes, RemoveEmptySpanLinks.
        Arc::new(SpanAttributeFixups),
    ];
    Adjusters::new(steps)
}

/// Jaeger's last three steps, `NormalizeIPAttributes`, `MoveLibraryAttributes` and
/// `RemoveEmptySpanLinks`, in one walk over the spans: each touches only its own span
/// (and library keys of the resource, never an IP key), so running them span by span
/// gives what three walks give, without missing the cache on every span three times.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanAttributeFixups;

impl Adjuster for SpanAttributeFixups {
    fn name(&self) -> &'static str {
        "NormalizeIPAttributes+MoveLibraryAttributes+RemoveEmptySpanLinks"
    }

    fn adjust_cow(&self, trace: &mut CowTrace<'_>) {
        for rs in trace.resource_spans.iter_mut() {
            ip_attribute::normalize_resource(&mut rs.resource);
            for ss in rs.scope_spans.iter_mut() {
                for span in ss.spans.iter_mut() {
                    let stored = span.span();
                    let library = library_attributes::has_library_attributes(stored);
                    if !library
                        && !ip_attribute::needs_normalizing(&stored.attributes)
                        && !span_links::has_empty_links(stored)
                    {
                        continue;
                    }
                    let span = span.to_mut();
                    ip_attribute::normalize(&mut span.attributes);
                    if library {
                        library_attributes::move_library_attributes(rs.resource.to_mut(), span);
                    }
                    span_links::remove_empty_links(span);
                }
            }
        }
    }
}

/// Calls `f` on every span of the trace with its resource, in resource/scope/span order.
/// Both may be borrowed: `f` copies what it changes (`to_mut()`), nothing else.
fn for_each_span_mut<'a>(
    trace: &mut CowTrace<'a>,
    mut f: impl FnMut(&mut Cow<'a, Option<Resource>>, &mut CowSpan<'a>),
) {
    for rs in trace.resource_spans.iter_mut() {
        for ss in rs.scope_spans.iter_mut() {
            for span in ss.spans.iter_mut() {
                f(&mut rs.resource, span);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders shared by the adjusters' tests.

    use jaeger_model::Trace;
    use jaeger_model::otlp::{Resource, ResourceSpans, ScopeSpans, Span, Value};
    use jaeger_model::trace::kv;
    use jaeger_model::{SpanId, TraceId};

    pub fn trace_id() -> Vec<u8> {
        TraceId::from_u64s(0, 1).0.to_vec()
    }

    pub fn sid(n: u64) -> Vec<u8> {
        SpanId::from_u64(n).0.to_vec()
    }

    pub fn span(id: u64, parent: u64) -> Span {
        Span {
            trace_id: trace_id(),
            span_id: sid(id),
            parent_span_id: if parent == 0 { vec![] } else { sid(parent) },
            name: format!("span-{id}"),
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 2_000,
            ..Default::default()
        }
    }

    /// One resource (with the given attributes) holding the spans.
    pub fn resource(attrs: Vec<(&str, Value)>, spans: Vec<Span>) -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes: attrs.into_iter().map(|(k, v)| kv(k, v)).collect(),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            schema_url: String::new(),
        }
    }

    pub fn trace(rs: Vec<ResourceSpans>) -> Trace {
        Trace::new(rs)
    }

    /// Every span, in order.
    pub fn spans(t: &Trace) -> Vec<&Span> {
        t.spans().map(|s| s.span).collect()
    }

    pub fn warnings(s: &Span) -> Vec<String> {
        jaeger_model::sanitize::warnings(&s.attributes)
    }

    pub fn str(v: &str) -> Value {
        Value::StringValue(v.into())
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use jaeger_model::otlp::trace::span::SpanKind;

    #[test]
    fn standard_order() {
        let a = standard_adjusters(Duration::ZERO);
        assert_eq!(
            format!("{a:?}"),
            "[\"DeduplicateClientServerSpanIDs\", \"SortCollections\", \"DeduplicateSpans\", \"CorrectClockSkew\", \"NormalizeIPAttributes+MoveLibraryAttributes+RemoveEmptySpanLinks\"]"
        );
    }

    #[test]
    fn fused_fixups_equal_the_three_steps() {
        use jaeger_model::otlp::{Link, Value};
        use jaeger_model::trace::kv;
        let mut a = span(1, 0);
        a.attributes = vec![
            kv("ip", Value::IntValue(0x0a00_0001)),
            kv("telemetry.sdk.name", str("custom")),
            kv("telemetry.sdk.language", str("go")),
        ];
        a.links = vec![Link::default()];
        let mut b = span(2, 1);
        b.attributes = vec![kv("telemetry.sdk.version", str("1"))];
        let t = trace(vec![
            resource(
                vec![
                    ("peer.ipv4", Value::IntValue(1)),
                    ("telemetry.sdk.name", str("otel")),
                ],
                vec![a, b],
            ),
            resource(vec![], vec![span(3, 1)]),
        ]);
        let mut three = t.clone();
        NormalizeIPAttributes.adjust(&mut three);
        MoveLibraryAttributes.adjust(&mut three);
        RemoveEmptySpanLinks.adjust(&mut three);
        let mut fused = t.clone();
        SpanAttributeFixups.adjust(&mut fused);
        assert_eq!(fused, three);
        assert_ne!(fused, t, "the case exercises every step");
        assert_eq!(warnings(spans(&fused)[0]).len(), 2);
    }

    #[test]
    fn pipeline_on_a_zipkin_style_trace() {
        // A client and a server sharing one id, plus an exact duplicate of the client.
        let mut client = span(7, 0);
        client.kind = SpanKind::Client as i32;
        client.attributes = vec![
            jaeger_model::trace::kv("z", str("1")),
            jaeger_model::trace::kv("a", str("2")),
        ];
        let mut server = span(7, 0);
        server.kind = SpanKind::Server as i32;
        let mut t = trace(vec![
            resource(vec![("host.name", str("a"))], vec![client.clone(), client]),
            resource(vec![("host.name", str("b"))], vec![server]),
        ]);
        standard_adjusters(Duration::from_secs(1)).apply(&mut t);
        let s = spans(&t);
        assert_eq!(s.len(), 2, "the duplicate client span is gone");
        assert_eq!(s[0].attributes[0].key, "a", "attributes are sorted");
        assert_eq!(s[1].span_id, sid(1), "the server got a fresh id");
        assert_eq!(s[1].parent_span_id, sid(7), "and the client as its parent");
    }

    /// A trace that gives every step something to do: a shared client/server id, an
    /// exact duplicate, unsorted and repeated keys, a child on another host that starts
    /// before its parent, a number for an IP, a library attribute, an empty link.
    fn busy_trace() -> jaeger_model::Trace {
        use jaeger_model::otlp::{Event, Link, Value};
        use jaeger_model::trace::kv;
        let mut client = span(7, 1);
        client.kind = SpanKind::Client as i32;
        client.attributes = vec![kv("z", str("1")), kv("a", str("2")), kv("a", str("3"))];
        let mut server = span(7, 1);
        server.kind = SpanKind::Server as i32;
        server.start_time_unix_nano = 500;
        server.end_time_unix_nano = 1_500;
        // A warning stored as a plain string: the clock-skew warning is added to it.
        server.attributes = vec![kv(jaeger_model::WARNINGS_ATTRIBUTE, str("stored"))];
        let mut child = span(8, 7);
        child.start_time_unix_nano = 100;
        child.end_time_unix_nano = 300;
        child.events = vec![
            Event {
                name: "b".into(),
                time_unix_nano: 150,
                ..Default::default()
            },
            Event {
                name: "a".into(),
                time_unix_nano: 200,
                attributes: vec![kv("y", str("")), kv("x", str(""))],
                ..Default::default()
            },
        ];
        child.attributes = vec![
            kv("peer.ipv4", Value::IntValue(0x0a00_0001)),
            kv("telemetry.sdk.language", str("rust")),
        ];
        child.links = vec![Link::default()];
        let mut grandchild = span(9, 8);
        grandchild.start_time_unix_nano = 120;
        grandchild.end_time_unix_nano = 130;
        grandchild.attributes = vec![kv("k", str("v"))];
        let mut root = span(1, 0);
        root.end_time_unix_nano = 5_000;
        trace(vec![
            resource(
                vec![("host.name", str("a")), ("ip", Value::IntValue(1))],
                vec![root, client.clone(), client],
            ),
            // The grandchild is shifted with its parent and touched by nothing else: it
            // stays borrowed, its shift and warning written on the fly.
            resource(
                vec![("host.name", str("b"))],
                vec![server, child, grandchild],
            ),
        ])
    }

    fn ui_json<G: jaeger_model::cow::SpanGroup>(groups: &[G]) -> String {
        let mut out = Vec::new();
        jaeger_model::ui::write_trace_json(&mut out, groups).expect("encodable");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    fn otlp_json<G: jaeger_model::cow::SpanGroup>(groups: &[G]) -> String {
        let mut out = String::new();
        jaeger_model::otlp_json::write_traces_data(&mut out, groups);
        out
    }

    #[test]
    fn borrowed_trace_adjusts_to_the_same_json_as_an_owned_copy() {
        let stored = busy_trace();
        let adjusters = standard_adjusters(Duration::from_secs(1));
        let mut owned = stored.clone();
        adjusters.apply(&mut owned);

        let mut view = CowTrace::borrowed(&stored.resource_spans);
        adjusters.apply_cow(&mut view);
        assert_eq!(
            ui_json(&view.resource_spans),
            ui_json(&owned.resource_spans)
        );
        assert_eq!(
            otlp_json(&view.resource_spans),
            otlp_json(&owned.resource_spans)
        );
        let ui = ui_json(&view.resource_spans);
        assert!(ui.contains(r#""warnings":["stored","This span's"#), "{ui}");
        let grandchild = view.spans().position(|s| s.span.span_id == sid(9));
        let grandchild = &view.resource_spans[1].scope_spans[0].spans[grandchild.unwrap() - 2];
        assert!(
            grandchild.pending().is_some(),
            "the case has a borrowed span with a pending change"
        );
        assert_eq!(view.clone().into_owned(), owned);
        assert_eq!(stored, busy_trace(), "the lent trace is left as it was");
        assert_ne!(owned, stored, "the case exercises the adjusters");
    }

    #[test]
    fn a_trace_that_needs_nothing_is_not_copied() {
        // A trace the steps have nothing left to do on, its spans kept in key order as
        // the memory store keeps them (the steps' own warnings come after the sort).
        let mut stored = busy_trace();
        standard_adjusters(Duration::from_secs(1)).apply(&mut stored);
        stored
            .resource_spans
            .iter_mut()
            .for_each(jaeger_model::trace::sort_collections);
        let mut view = CowTrace::borrowed(&stored.resource_spans);
        standard_adjusters(Duration::from_secs(1)).apply_cow(&mut view);
        let copied = view.into_owned_spans();
        assert!(copied.is_empty(), "copied: {copied:?}");
    }
}
