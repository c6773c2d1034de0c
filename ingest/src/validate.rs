//! Checks protobuf cannot make: id lengths. prost accepts a `bytes` field of any length,
//! while OTLP (and Jaeger's pdata decoder) require 16-byte trace ids and 8-byte span
//! ids. Jaeger fails the whole request on one bad id; we drop only the bad spans and
//! report them through OTLP's partial success.

use jaeger_model::otlp::{ResourceSpans, Span};

/// What [`retain_valid_spans`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Spans removed.
    pub spans: usize,
    /// The first reason, naming the field (for example
    /// `resource_spans[0].scope_spans[1].spans[2].trace_id: ...`).
    pub first_error: Option<String>,
}

impl Rejected {
    /// The partial-success message: the first error and how many more there were.
    pub fn message(&self) -> String {
        let first = self.first_error.as_deref().unwrap_or("invalid span");
        match self.spans {
            0 | 1 => format!("rejected {} span: {first}", self.spans),
            n => format!("rejected {n} spans: {first} (and {} more)", n - 1),
        }
    }
}

/// Removes spans with invalid ids from the batch, in place, keeping the others.
pub fn retain_valid_spans(batch: &mut [ResourceSpans]) -> Rejected {
    let mut rejected = Rejected::default();
    for (ri, rs) in batch.iter_mut().enumerate() {
        for (si, ss) in rs.scope_spans.iter_mut().enumerate() {
            // The common case allocates nothing: look first, rebuild only when needed.
            if ss.spans.iter().all(|s| check_span(s).is_ok()) {
                continue;
            }
            let mut index = 0;
            ss.spans.retain(|span| {
                let i = index;
                index += 1;
                match check_span(span) {
                    Ok(()) => true,
                    Err(e) => {
                        rejected.spans += 1;
                        if rejected.first_error.is_none() {
                            rejected.first_error = Some(format!(
                                "resource_spans[{ri}].scope_spans[{si}].spans[{i}].{e}"
                            ));
                        }
                        false
                    }
                }
            });
        }
    }
    rejected
}

fn check_span(span: &Span) -> Result<(), String> {
    check_len("trace_id", &span.trace_id, 16, false)?;
    check_len("span_id", &span.span_id, 8, false)?;
    check_len("parent_span_id", &span.parent_span_id, 8, true)?;
    for (li, link) in span.links.iter().enumerate() {
        check_len(&format!("links[{li}].trace_id"), &link.trace_id, 16, false)?;
        check_len(&format!("links[{li}].span_id"), &link.span_id, 8, false)?;
    }
    Ok(())
}

fn check_len(field: &str, id: &[u8], want: usize, may_be_empty: bool) -> Result<(), String> {
    if id.len() == want || (may_be_empty && id.is_empty()) {
        return Ok(());
    }
    let allowed = if may_be_empty {
        format!("empty or {want} bytes")
    } else {
        format!("{want} bytes")
    };
    Err(format!(
        "{field}: invalid length {} bytes, expected {allowed}",
        id.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::spans_batch;
    use jaeger_model::otlp::Link;

    #[test]
    fn valid_batch_is_untouched() {
        let mut batch = spans_batch("svc", 3);
        let before = batch.clone();
        assert_eq!(retain_valid_spans(&mut batch), Rejected::default());
        assert_eq!(batch, before);
    }

    #[test]
    fn bad_spans_are_removed_and_named() {
        let mut batch = spans_batch("svc", 4);
        let spans = &mut batch[0].scope_spans[0].spans;
        spans[1].trace_id = vec![1; 15];
        spans[2].parent_span_id = vec![1; 3];
        spans[3].links.push(Link {
            trace_id: vec![1; 16],
            span_id: vec![],
            ..Default::default()
        });
        let rejected = retain_valid_spans(&mut batch);
        assert_eq!(rejected.spans, 3);
        assert_eq!(
            rejected.first_error.as_deref(),
            Some(
                "resource_spans[0].scope_spans[0].spans[1].trace_id: invalid length 15 bytes, expected 16 bytes"
            )
        );
        assert_eq!(batch[0].scope_spans[0].spans.len(), 1);
        assert!(rejected.message().starts_with("rejected 3 spans: "));
        assert!(rejected.message().ends_with("(and 2 more)"));
    }

    #[test]
    fn empty_ids_are_rejected_but_empty_parent_is_a_root() {
        let mut batch = spans_batch("svc", 2);
        batch[0].scope_spans[0].spans[0].parent_span_id.clear();
        batch[0].scope_spans[0].spans[1].span_id.clear();
        let rejected = retain_valid_spans(&mut batch);
        assert_eq!(rejected.spans, 1);
        assert!(
            rejected
                .first_error
                .as_deref()
                .is_some_and(|e| e.contains("spans[1].span_id: invalid length 0 bytes"))
        );
    }
}
