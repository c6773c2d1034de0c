//! `RemoveEmptySpanLinks`: a link without a trace id points nowhere (some SDKs emit
//! them); it is removed and the span says so.

use jaeger_model::otlp::Span;
use jaeger_model::sanitize::add_warning;
use jaeger_model::{CowTrace, TraceId};

use crate::adjust::Adjuster;

pub const WARNING_INVALID_LINK: &str = "Invalid span link removed";

#[derive(Debug, Clone, Copy, Default)]
pub struct RemoveEmptySpanLinks;

impl Adjuster for RemoveEmptySpanLinks {
    fn name(&self) -> &'static str {
        "RemoveEmptySpanLinks"
    }

    fn adjust_cow(&self, trace: &mut CowTrace<'_>) {
        super::for_each_span_mut(trace, |_, span| {
            if has_empty_links(span.span()) {
                remove_empty_links(span.to_mut());
            }
        });
    }
}

fn is_empty_link(l: &jaeger_model::otlp::Link) -> bool {
    TraceId::from_slice(&l.trace_id)
        .unwrap_or_default()
        .is_zero()
}

/// Whether [`remove_empty_links`] would change the span (checked before copying it).
pub(crate) fn has_empty_links(span: &Span) -> bool {
    span.links.iter().any(is_empty_link)
}

pub(crate) fn remove_empty_links(span: &mut Span) {
    let before = span.links.len();
    span.links.retain(|l| !is_empty_link(l));
    for _ in span.links.len()..before {
        add_warning(&mut span.attributes, WARNING_INVALID_LINK.into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use jaeger_model::otlp::Link;

    #[test]
    fn removes_links_without_trace_id() {
        let mut a = span(1, 0);
        a.links = vec![
            Link {
                trace_id: vec![0; 16],
                span_id: sid(5),
                ..Default::default()
            },
            Link {
                trace_id: trace_id(),
                span_id: sid(6),
                ..Default::default()
            },
            Link::default(),
        ];
        let mut t = trace(vec![resource(vec![], vec![a, span(2, 1)])]);
        RemoveEmptySpanLinks.adjust(&mut t);
        let s = spans(&t);
        assert_eq!(s[0].links.len(), 1);
        assert_eq!(s[0].links[0].span_id, sid(6));
        assert_eq!(
            warnings(s[0]),
            ["Invalid span link removed", "Invalid span link removed"]
        );
        assert!(warnings(s[1]).is_empty());
    }
}
