//! `SortCollections`: attribute maps (resource, scope, span, event, link) sorted by key,
//! span events sorted by name. Stable output lets equal spans hash equally (the next
//! step deduplicates by hash) and gives the UI tags in a predictable order.

use jaeger_model::CowTrace;
use jaeger_model::cow::{CowSpan, to_mut_if};
use jaeger_model::otlp::{KeyValue, Span};

use crate::adjust::Adjuster;

#[derive(Debug, Clone, Copy, Default)]
pub struct SortCollections;

impl Adjuster for SortCollections {
    fn name(&self) -> &'static str {
        "SortCollections"
    }

    fn adjust_cow(&self, trace: &mut CowTrace<'_>) {
        for rs in trace.resource_spans.iter_mut() {
            if let Some(r) = to_mut_if(&mut rs.resource, |r| !is_sorted(&r.attributes)) {
                sort_attributes(&mut r.attributes);
            }
            for ss in rs.scope_spans.iter_mut() {
                if let Some(scope) = to_mut_if(&mut ss.scope, |s| !is_sorted(&s.attributes)) {
                    sort_attributes(&mut scope.attributes);
                }
            }
        }
        let mut spans: Vec<&mut CowSpan<'_>> = trace
            .resource_spans
            .iter_mut()
            .flat_map(|rs| rs.scope_spans.iter_mut())
            .flat_map(|ss| ss.spans.iter_mut())
            .collect();
        // A span already in order (a store that keeps its attributes sorted) is only
        // checked: never copied.
        let sort = |s: &mut CowSpan<'_>| {
            if !span_is_sorted(s.span()) {
                sort_span(s.to_mut());
            }
        };
        let workers = jaeger_model::parallel::workers_for(spans.len());
        // Spans are independent: a large trace is sorted on several cores.
        let per = spans.len().div_ceil(workers).max(1);
        let tasks: Vec<_> = spans
            .chunks_mut(per)
            .map(|chunk| move || chunk.iter_mut().for_each(|s| sort(s)))
            .collect();
        jaeger_model::parallel::run_all(tasks);
    }
}

/// Whether [`sort_span`] would leave the span as it is.
fn span_is_sorted(span: &Span) -> bool {
    is_sorted(&span.attributes)
        && span.events.is_sorted_by(|a, b| a.name <= b.name)
        && span.events.iter().all(|e| is_sorted(&e.attributes))
        && span.links.iter().all(|l| is_sorted(&l.attributes))
}

/// Keys strictly ascending: what [`sort_attributes`] gives (it also drops repeats).
fn is_sorted(attrs: &[KeyValue]) -> bool {
    attrs
        .windows(2)
        .all(|w| key_cmp(&w[0].key, &w[1].key).is_lt())
}

/// Sorts the span's collections in place (the attributes of the span, its events and
/// links; events by name, stably).
fn sort_span(span: &mut Span) {
    sort_attributes(&mut span.attributes);
    span.events.sort_by(|a, b| a.name.cmp(&b.name));
    for e in span.events.iter_mut() {
        sort_attributes(&mut e.attributes);
    }
    for l in span.links.iter_mut() {
        sort_attributes(&mut l.attributes);
    }
}

pub(crate) fn sort_attributes(attrs: &mut Vec<KeyValue>) {
    if is_sorted(attrs) {
        return;
    }
    if attrs.len() <= SMALL {
        sort_small(attrs);
    } else {
        attrs.sort_by(|a, b| key_cmp(&a.key, &b.key));
    }
    // After a stable sort the last of equal keys is the last one given: move its value
    // into the entry that stays.
    attrs.dedup_by(|later, kept| {
        if later.key == kept.key {
            std::mem::swap(later, kept);
            true
        } else {
            false
        }
    });
}

/// Attribute lists up to this long are sorted through [`sort_small`].
const SMALL: usize = 32;

/// The stable sort by key of a short list, done on (key prefix, position) pairs on the
/// stack and then applied in place: a `KeyValue` is 64 bytes and an insertion sort of a
/// reversed list moves each of them many times, a pair is 16 bytes and each attribute
/// then moves once. Equal keys keep their order (position breaks ties).
fn sort_small(attrs: &mut [KeyValue]) {
    let n = attrs.len();
    debug_assert!(n <= SMALL);
    let mut order = [(0u64, 0u32); SMALL];
    for (i, kv) in attrs.iter().enumerate() {
        order[i] = (key_prefix(&kv.key), i as u32);
    }
    let order = &mut order[..n];
    order.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| attrs[a.1 as usize].key.cmp(&attrs[b.1 as usize].key))
            .then(a.1.cmp(&b.1))
    });
    // `order[i].1` is the position whose attribute goes to `i`: follow each cycle of
    // that permutation once, marking placed slots with `u32::MAX`.
    for start in 0..n {
        if order[start].1 == u32::MAX || order[start].1 as usize == start {
            continue;
        }
        let mut at = start;
        loop {
            let from = order[at].1 as usize;
            order[at].1 = u32::MAX;
            if from == start {
                break;
            }
            attrs.swap(at, from);
            at = from;
        }
    }
}

/// The first eight bytes of a key as a big-endian integer, zero padded: comparing two
/// of them orders keys as bytes wherever the prefixes differ.
fn key_prefix(s: &str) -> u64 {
    let b = s.as_bytes();
    let mut p = [0u8; 8];
    let n = b.len().min(8);
    p[..n].copy_from_slice(&b[..n]);
    u64::from_be_bytes(p)
}

/// Byte order of two keys, as `str::cmp`, deciding most pairs on their first eight
/// bytes as one integer rather than a `memcmp` call per comparison.
fn key_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    // Zero padding keeps byte order: where padded prefixes differ, either both bytes
    // are real or the shorter key is a prefix of the other, hence smaller.
    key_prefix(a).cmp(&key_prefix(b)).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use jaeger_model::otlp::{Event, InstrumentationScope, Link, Value};
    use jaeger_model::trace::kv;

    fn keys(attrs: &[KeyValue]) -> Vec<&str> {
        attrs.iter().map(|kv| kv.key.as_str()).collect()
    }

    #[test]
    fn sorts_every_attribute_map_and_events_by_name() {
        let mut s = span(1, 0);
        s.attributes = vec![kv("b", str("1")), kv("a", str("2")), kv("c", str("3"))];
        s.events = vec![
            Event {
                name: "zeta".into(),
                time_unix_nano: 1,
                attributes: vec![kv("y", str("")), kv("x", str(""))],
                ..Default::default()
            },
            Event {
                name: "alpha".into(),
                time_unix_nano: 2,
                ..Default::default()
            },
            Event {
                name: "alpha".into(),
                time_unix_nano: 0,
                ..Default::default()
            },
        ];
        s.links = vec![Link {
            attributes: vec![kv("2", str("")), kv("1", str(""))],
            ..Default::default()
        }];
        let mut rs = resource(vec![("z", str("")), ("service.name", str("svc"))], vec![s]);
        rs.scope_spans[0].scope = Some(InstrumentationScope {
            attributes: vec![kv("q", str("")), kv("p", str(""))],
            ..Default::default()
        });
        let mut t = trace(vec![rs]);
        SortCollections.adjust(&mut t);
        let rs = &t.resource_spans[0];
        assert_eq!(
            keys(&rs.resource.as_ref().unwrap().attributes),
            ["service.name", "z"]
        );
        assert_eq!(
            keys(&rs.scope_spans[0].scope.as_ref().unwrap().attributes),
            ["p", "q"]
        );
        let s = &rs.scope_spans[0].spans[0];
        assert_eq!(keys(&s.attributes), ["a", "b", "c"]);
        let names: Vec<(&str, u64)> = s
            .events
            .iter()
            .map(|e| (e.name.as_str(), e.time_unix_nano))
            .collect();
        // Stable: the two "alpha" events keep their relative order.
        assert_eq!(names, [("alpha", 2), ("alpha", 0), ("zeta", 1)]);
        assert_eq!(keys(&s.events[2].attributes), ["x", "y"]);
        assert_eq!(keys(&s.links[0].attributes), ["1", "2"]);
    }

    #[test]
    fn large_traces_sort_every_span() {
        let many = |from: u64, n: u64| -> Vec<_> {
            (from..from + n)
                .map(|i| {
                    let mut s = span(i, 0);
                    s.attributes = vec![kv("z", str("")), kv("m", str("")), kv("a", str(""))];
                    s
                })
                .collect()
        };
        let mut t = trace(vec![
            resource(vec![], many(1, 1_500)),
            resource(vec![], many(2_000, 1_001)),
        ]);
        SortCollections.adjust(&mut t);
        assert_eq!(t.span_count(), 2_501);
        for s in spans(&t) {
            assert_eq!(keys(&s.attributes), ["a", "m", "z"]);
        }
    }

    #[test]
    fn key_order_is_byte_order() {
        let keys = [
            "",
            "a",
            "a\0",
            "a\0b",
            "ab",
            "abcdefgh",
            "abcdefgh\0",
            "abcdefghi",
            "abcdefgi",
            "b",
            "é",
            "zzzzzzzzzz",
            "attr.1",
            "attr.10",
            "attr.2",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(key_cmp(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn small_sort_equals_the_stable_sort() {
        // Deterministic pseudo-random lists: lengths up to past the small-list bound,
        // few distinct keys so that equal keys are common.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let names = [
            "a",
            "b",
            "attr.1",
            "attr.10",
            "attr.2",
            "abcdefghij",
            "abcdefghi",
            "",
        ];
        for _ in 0..2_000 {
            let n = (next() % (SMALL as u64 + 3)) as usize;
            let attrs: Vec<KeyValue> = (0..n)
                .map(|i| {
                    let k = names[(next() % names.len() as u64) as usize];
                    kv(k, Value::IntValue(i as i64))
                })
                .collect();
            let mut expected = attrs.clone();
            expected.sort_by(|a, b| a.key.cmp(&b.key));
            let mut got = attrs.clone();
            if got.len() <= SMALL {
                sort_small(&mut got);
            } else {
                got.sort_by(|a, b| key_cmp(&a.key, &b.key));
            }
            assert_eq!(got, expected, "from {attrs:?}");
        }
    }

    #[test]
    fn repeated_key_keeps_the_last_value() {
        let mut attrs = vec![
            kv("k", Value::IntValue(1)),
            kv("a", Value::IntValue(0)),
            kv("k", Value::IntValue(2)),
        ];
        sort_attributes(&mut attrs);
        assert_eq!(keys(&attrs), ["a", "k"]);
        assert_eq!(
            attrs[1].value.as_ref().unwrap().value,
            Some(Value::IntValue(2))
        );
    }
}
