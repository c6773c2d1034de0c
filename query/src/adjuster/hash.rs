//! `DeduplicateSpans`: drops spans that are exact copies of an earlier span of the trace
//! (same content, same resource attributes, same scope attributes), as happens when a
//! span is delivered twice. Runs after `SortCollections`, so attribute order does not
//! make copies look different.

use std::collections::HashSet;

use jaeger_model::CowTrace;
use jaeger_model::otlp::{InstrumentationScope, KeyValue, Resource, Span};
use prost::Message;

use crate::adjust::Adjuster;

#[derive(Debug, Clone, Copy, Default)]
pub struct DeduplicateSpans;

impl Adjuster for DeduplicateSpans {
    fn name(&self) -> &'static str {
        "DeduplicateSpans"
    }

    fn adjust_cow(&self, trace: &mut CowTrace<'_>) {
        // Equal encodings imply equal span ids, so only spans whose id occurs more than
        // once can be copies: the others need no hashing (most traces have none). A
        // sorted list finds repeats several times faster than a hash map, and ids of
        // the usual eight bytes sort as integers rather than through `memcmp`.
        let mut ids: Vec<u64> = Vec::with_capacity(trace.span_count());
        let mut other_ids: Vec<&[u8]> = Vec::new();
        for s in trace.spans() {
            match <[u8; 8]>::try_from(s.span.span_id.as_slice()) {
                Ok(id) => ids.push(u64::from_be_bytes(id)),
                Err(_) => other_ids.push(&s.span.span_id),
            }
        }
        ids.sort_unstable();
        other_ids.sort_unstable();
        let shared: HashSet<Vec<u8>> = ids
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0].to_be_bytes().to_vec())
            .chain(
                other_ids
                    .windows(2)
                    .filter(|w| w[0] == w[1])
                    .map(|w| w[0].to_vec()),
            )
            .collect();
        drop((ids, other_ids));
        if shared.is_empty() {
            return;
        }
        let mut seen: HashSet<u64> = HashSet::new();
        let mut buf: Vec<u8> = Vec::with_capacity(1024);
        for rs in trace.resource_spans.iter_mut() {
            // Only the attributes of resource and scope count, as in Jaeger.
            let resource = Resource {
                attributes: attrs_of(rs.resource.as_ref().as_ref().map(|r| &r.attributes)),
                ..Default::default()
            }
            .encode_to_vec();
            for ss in rs.scope_spans.iter_mut() {
                if !ss.spans.iter().any(|s| shared.contains(&s.span().span_id)) {
                    continue;
                }
                let scope = InstrumentationScope {
                    attributes: attrs_of(ss.scope.as_ref().as_ref().map(|s| &s.attributes)),
                    ..Default::default()
                }
                .encode_to_vec();
                // Before clock skew: no span has a pending change yet.
                ss.spans.retain(|span| {
                    let span = span.span();
                    if !shared.contains(&span.span_id) {
                        return true;
                    }
                    seen.insert(span_hash(&mut buf, &resource, &scope, span))
                });
            }
        }
    }
}

fn attrs_of(a: Option<&Vec<KeyValue>>) -> Vec<KeyValue> {
    a.cloned().unwrap_or_default()
}

/// FNV-1a (64-bit) of the length-prefixed protobuf encodings of the resource
/// attributes, the scope attributes and the span: stable across runs and builds.
fn span_hash(buf: &mut Vec<u8>, resource: &[u8], scope: &[u8], span: &Span) -> u64 {
    buf.clear();
    for part in [resource, scope] {
        buf.extend_from_slice(&(part.len() as u64).to_le_bytes());
        buf.extend_from_slice(part);
    }
    // Encoding into a Vec cannot fail: a Vec grows as needed.
    span.encode(buf).expect("a Vec has room for any message");
    fnv1a64(buf)
}

pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use jaeger_model::otlp::Value;
    use jaeger_model::trace::kv;

    #[test]
    fn fnv_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn removes_exact_copies_across_resources() {
        let a = span(1, 0);
        let mut b = span(2, 0);
        b.attributes = vec![kv("k", Value::IntValue(1))];
        let mut t = trace(vec![
            resource(
                vec![("service.name", str("s"))],
                vec![a.clone(), b.clone(), a.clone()],
            ),
            // Same resource attributes in another ResourceSpans: still copies.
            resource(vec![("service.name", str("s"))], vec![b.clone()]),
        ]);
        DeduplicateSpans.adjust(&mut t);
        assert_eq!(t.span_count(), 2);
        let s = spans(&t);
        assert_eq!(s[0].span_id, sid(1));
        assert_eq!(s[1].span_id, sid(2));
    }

    #[test]
    fn keeps_spans_that_differ_in_resource_scope_or_content() {
        let a = span(1, 0);
        let mut a_later = a.clone();
        a_later.end_time_unix_nano += 1;
        let mut other_scope = resource(vec![("service.name", str("s"))], vec![a.clone()]);
        other_scope.scope_spans[0].scope = Some(InstrumentationScope {
            attributes: vec![kv("scope.attr", str("x"))],
            ..Default::default()
        });
        let mut t = trace(vec![
            resource(vec![("service.name", str("s"))], vec![a.clone(), a_later]),
            resource(vec![("service.name", str("other"))], vec![a.clone()]),
            other_scope,
        ]);
        DeduplicateSpans.adjust(&mut t);
        assert_eq!(t.span_count(), 4);
    }

    #[test]
    fn scope_name_alone_does_not_distinguish() {
        let a = span(1, 0);
        let mut named = resource(vec![], vec![a.clone()]);
        named.scope_spans[0].scope = Some(InstrumentationScope {
            name: "lib".into(),
            ..Default::default()
        });
        let mut t = trace(vec![resource(vec![], vec![a]), named]);
        DeduplicateSpans.adjust(&mut t);
        assert_eq!(t.span_count(), 1);
    }

    #[test]
    fn copies_with_ids_of_other_lengths_are_removed_too() {
        let mut odd = span(1, 0);
        odd.span_id = vec![1, 2, 3, 4];
        let mut empty = span(2, 0);
        empty.span_id = vec![];
        let mut t = trace(vec![resource(
            vec![],
            vec![odd.clone(), empty.clone(), odd, span(3, 0), empty],
        )]);
        DeduplicateSpans.adjust(&mut t);
        assert_eq!(t.span_count(), 3);
    }
}
