//! `DeduplicateClientServerSpanIDs`: Zipkin-style instrumentation gives the client and
//! the server side of one RPC the same span id. The server span gets a fresh id and the
//! client span becomes its parent; the server's children are re-pointed to the new id.

use std::collections::{HashMap, HashSet};

use jaeger_model::otlp::trace::span::SpanKind;
use jaeger_model::sanitize::add_warning;
use jaeger_model::{CowTrace, SpanId};

use super::for_each_span_mut;
use crate::adjust::Adjuster;

pub const WARNING_TOO_MANY_SPANS: &str =
    "cannot assign unique span ID, too many spans in the trace";

#[derive(Debug, Clone, Copy, Default)]
pub struct DeduplicateClientServerSpanIDs;

impl Adjuster for DeduplicateClientServerSpanIDs {
    fn name(&self) -> &'static str {
        "DeduplicateClientServerSpanIDs"
    }

    fn adjust_cow(&self, trace: &mut CowTrace<'_>) {
        let client = SpanKind::Client as i32;
        let server = SpanKind::Server as i32;
        // Cheap exit first, without hashing every span: only a server span whose id a
        // client span also has needs work (sorted lists, then a merge).
        let mut clients: Vec<SpanId> = Vec::new();
        let mut servers: Vec<SpanId> = Vec::new();
        for s in trace.spans() {
            if s.span.kind == client {
                clients.push(s.span_id());
            } else if s.span.kind == server {
                servers.push(s.span_id());
            }
        }
        clients.sort_unstable();
        if !servers.iter().any(|id| clients.binary_search(id).is_ok()) {
            return;
        }
        let shared_with_client: HashSet<SpanId> = clients.into_iter().collect();
        let used: HashSet<SpanId> = trace.spans().map(|s| s.span_id()).collect();

        let mut max_used: u64 = 0;
        let mut old_to_new: HashMap<SpanId, SpanId> = HashMap::new();
        for_each_span_mut(trace, |_, span| {
            let stored = span.span();
            let id = SpanId::from_slice(&stored.span_id).unwrap_or_default();
            if stored.kind != server || !shared_with_client.contains(&id) {
                return;
            }
            let span = span.to_mut();
            match next_unused(&used, &mut max_used) {
                Some(new) => {
                    old_to_new.insert(id, new);
                    // The previously shared id (the client span) is the new parent.
                    span.parent_span_id = span.span_id.clone();
                    span.span_id = new.0.to_vec();
                }
                None => add_warning(&mut span.attributes, WARNING_TOO_MANY_SPANS.into()),
            }
        });
        if old_to_new.is_empty() {
            return;
        }
        for_each_span_mut(trace, |_, span| {
            let parent = SpanId::from_slice(&span.span().parent_span_id).unwrap_or_default();
            if let Some(new) = old_to_new.get(&parent)
                && span.span().span_id.as_slice() != new.0.as_slice()
            {
                span.to_mut().parent_span_id = new.0.to_vec();
            }
        });
    }
}

/// The next id above `max_used` that the trace does not use; `None` once the id space
/// wraps around.
fn next_unused(used: &HashSet<SpanId>, max_used: &mut u64) -> Option<SpanId> {
    let mut id = max_used.wrapping_add(1);
    while id != 0 {
        let candidate = SpanId::from_u64(id);
        if !used.contains(&candidate) {
            *max_used = id;
            return Some(candidate);
        }
        id = id.wrapping_add(1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn kind(mut s: jaeger_model::otlp::Span, k: SpanKind) -> jaeger_model::otlp::Span {
        s.kind = k as i32;
        s
    }

    #[test]
    fn server_span_gets_new_id_and_client_parent() {
        let client = kind(span(1, 0), SpanKind::Client);
        let server = kind(span(1, 0), SpanKind::Server);
        // A child of the shared id, logged by the server side.
        let child = span(3, 1);
        let mut t = trace(vec![resource(vec![], vec![client, server, child])]);
        DeduplicateClientServerSpanIDs.adjust(&mut t);
        let s = spans(&t);
        assert_eq!(s[0].span_id, sid(1));
        assert!(s[0].parent_span_id.is_empty());
        // Ids 1 is taken, so the first free one is 2.
        assert_eq!(s[1].span_id, sid(2));
        assert_eq!(s[1].parent_span_id, sid(1));
        assert_eq!(s[2].parent_span_id, sid(2));
        assert!(warnings(s[1]).is_empty());
    }

    #[test]
    fn skips_ids_in_use_and_leaves_unshared_spans() {
        let client = kind(span(5, 0), SpanKind::Client);
        let server = kind(span(5, 0), SpanKind::Server);
        let lone_server = kind(span(9, 0), SpanKind::Server);
        let mut t = trace(vec![resource(
            vec![],
            vec![span(1, 0), span(2, 0), client, server, lone_server],
        )]);
        DeduplicateClientServerSpanIDs.adjust(&mut t);
        let s = spans(&t);
        assert_eq!(s[3].span_id, sid(3), "1 and 2 are in use");
        assert_eq!(s[3].parent_span_id, sid(5));
        assert_eq!(
            s[4].span_id,
            sid(9),
            "a server span sharing with no client stays"
        );
    }

    #[test]
    fn two_servers_sharing_a_client_id_get_distinct_ids() {
        let client = kind(span(4, 0), SpanKind::Client);
        let a = kind(span(4, 0), SpanKind::Server);
        let b = kind(span(4, 0), SpanKind::Server);
        let mut t = trace(vec![resource(vec![], vec![client, a, b])]);
        DeduplicateClientServerSpanIDs.adjust(&mut t);
        let s = spans(&t);
        assert_eq!(s[1].span_id, sid(1));
        assert_eq!(s[2].span_id, sid(2));
        // As in Jaeger, the old id maps to the last new id, and every span whose parent
        // was the old id (the first server span included) is re-pointed to it.
        assert_eq!(s[1].parent_span_id, sid(2));
        assert_eq!(s[2].parent_span_id, sid(4));
    }

    #[test]
    fn exhausted_id_space_warns() {
        let mut used = HashSet::new();
        used.insert(SpanId::from_u64(u64::MAX));
        let mut max = u64::MAX - 1;
        assert_eq!(next_unused(&used, &mut max), None);
        let mut max = u64::MAX - 2;
        assert_eq!(
            next_unused(&used, &mut max),
            Some(SpanId::from_u64(u64::MAX - 1))
        );
    }
}
