//! `CorrectClockSkew`: spans recorded on different hosts can disagree about time, so a
//! child may appear to start before its parent. Walking the span tree from the roots,
//! each span on another host than its parent is shifted so that it fits in its parent
//! (query spec §4.3). Shifts larger than the maximum are not applied but reported; a
//! maximum of zero disables shifting altogether (Jaeger's default) while still warning.

use std::sync::Arc;
use std::time::Duration;

use jaeger_config::format_go_duration;
use jaeger_model::cow::{CowSpan, shift_time};
use jaeger_model::otlp::{Resource, Value};
use jaeger_model::trace::{find_attr, value_to_string};
use jaeger_model::{CowTrace, SpanId};

use crate::adjust::Adjuster;

pub const WARNING_DUPLICATE_SPAN_ID: &str = "duplicate span IDs; skipping clock skew adjustment";

fn warning_invalid_parent(parent: SpanId) -> String {
    format!(
        "parent span ID={} is not in the trace; skipping clock skew adjustment",
        parent.to_hex()
    )
}

fn warning_disabled(delta: i64) -> String {
    format!(
        "clock skew adjustment disabled; not applying calculated delta of {}",
        format_go_duration(delta)
    )
}

fn warning_max_exceeded(max: i64, delta: i64) -> String {
    format!(
        "max clock skew adjustment delta of {} exceeded; not applying calculated delta of {}",
        format_go_duration(max),
        format_go_duration(delta)
    )
}

fn warning_adjusted(delta: i64) -> String {
    format!(
        "This span's timestamps were adjusted by {}",
        format_go_duration(delta)
    )
}

#[derive(Debug, Clone, Copy)]
pub struct CorrectClockSkew {
    /// Nanoseconds; zero disables shifting.
    max_delta: i64,
}

impl CorrectClockSkew {
    pub fn new(max_delta: Duration) -> Self {
        CorrectClockSkew {
            max_delta: i64::try_from(max_delta.as_nanos()).unwrap_or(i64::MAX),
        }
    }
}

/// Which clock a resource's spans were timed with (Jaeger v2's `hostKey`): `host.id`,
/// else `host.ip` (a string, or the first element of an array), else `host.name`, else
/// `""` (unknown: never the same host as anything).
pub fn host_key(resource: Option<&Resource>) -> String {
    let Some(r) = resource else {
        return String::new();
    };
    // pdata's `Str()` of a non-string value is "".
    let as_str = |v: &Value| match v {
        Value::StringValue(s) => s.clone(),
        _ => String::new(),
    };
    if let Some(v) = find_attr(&r.attributes, "host.id") {
        return as_str(v);
    }
    if let Some(v) = find_attr(&r.attributes, "host.ip") {
        match v {
            Value::StringValue(s) => return s.clone(),
            Value::ArrayValue(a) => {
                if let Some(first) = a.values.first() {
                    return first
                        .value
                        .as_ref()
                        .map(value_to_string)
                        .unwrap_or_default();
                }
            }
            _ => {}
        }
    }
    if let Some(v) = find_attr(&r.attributes, "host.name") {
        return as_str(v);
    }
    String::new()
}

/// A span's place in the trace and its host; the tree is kept beside it as
/// first-child / next-sibling lists (no allocation per span).
struct Node {
    at: (u32, u32, u32),
    host: u32,
    parent: SpanId,
    /// The span's times, kept here as they become final: the walk reads them without
    /// chasing pointers into the spans (the cache misses were most of its cost).
    start: u64,
    end: u64,
}

const NONE: u32 = u32::MAX;

/// The skew of a subtree: the host it was computed for and the shift.
#[derive(Clone, Copy)]
struct Skew {
    host: u32,
    delta: i64,
}

impl Adjuster for CorrectClockSkew {
    fn name(&self) -> &'static str {
        "CorrectClockSkew"
    }

    fn adjust_cow(&self, trace: &mut CowTrace<'_>) {
        let count = trace.span_count();
        // Positions are stored as u32: a larger trace is left alone rather than mangled.
        if count >= NONE as usize {
            return;
        }
        // Host keys, interned: index 0 is always the unknown host "".
        let mut hosts: Vec<String> = vec![String::new()];
        let mut nodes: Vec<Node> = Vec::with_capacity(count);
        // Span id → node, as a sorted list of (id as u64, position): several times
        // faster than a SipHash map at ten thousand spans, immune to crafted
        // collisions, and u64 comparisons rather than byte-array ones.
        let mut all: Vec<Node> = Vec::with_capacity(count);
        let mut keys: Vec<(u64, u32)> = Vec::with_capacity(count);
        let mut duplicates: Vec<(u32, u32, u32)> = Vec::new();
        for (ri, rs) in trace.resource_spans.iter().enumerate() {
            let key = host_key(rs.resource.as_ref().as_ref());
            let host = match hosts.iter().position(|h| *h == key) {
                Some(i) => i as u32,
                None => {
                    hosts.push(key);
                    (hosts.len() - 1) as u32
                }
            };
            for (si, ss) in rs.scope_spans.iter().enumerate() {
                for (ki, span) in ss.spans.iter().enumerate() {
                    // Times as stored: no step before this one shifts them.
                    let span = span.span();
                    let at = (ri as u32, si as u32, ki as u32);
                    let id = SpanId::from_slice(&span.span_id).unwrap_or_default();
                    keys.push((id.as_u64(), all.len() as u32));
                    all.push(Node {
                        at,
                        host,
                        parent: SpanId::from_slice(&span.parent_span_id).unwrap_or_default(),
                        start: span.start_time_unix_nano,
                        end: span.end_time_unix_nano,
                    });
                }
            }
        }
        // The first span with an id (in trace order) is its node: sorting by (id,
        // position) puts it first among equal ids. Nodes keep trace order.
        keys.sort_unstable();
        let mut is_node = vec![true; all.len()];
        for w in keys.windows(2) {
            if w[0].0 == w[1].0 {
                is_node[w[1].1 as usize] = false;
            }
        }
        let mut node_of: Vec<u32> = vec![NONE; all.len()];
        for (i, node) in all.into_iter().enumerate() {
            if is_node[i] {
                node_of[i] = nodes.len() as u32;
                nodes.push(node);
            } else {
                duplicates.push(node.at);
            }
        }
        let by_id: Vec<(u64, u32)> = keys
            .iter()
            .filter(|&&(_, i)| is_node[i as usize])
            .map(|&(k, i)| (k, node_of[i as usize]))
            .collect();
        drop((keys, is_node, node_of));
        let find = |id: &SpanId| -> Option<u32> {
            let k = id.as_u64();
            by_id
                .binary_search_by(|(x, _)| x.cmp(&k))
                .ok()
                .map(|i| by_id[i].1)
        };
        for at in duplicates {
            span_mut(trace, at).add_warning(WARNING_DUPLICATE_SPAN_ID);
        }

        // The tree: parentless spans and spans whose parent is missing are roots.
        let mut first_child: Vec<u32> = vec![NONE; nodes.len()];
        let mut next_sibling: Vec<u32> = vec![NONE; nodes.len()];
        let mut roots: Vec<u32> = Vec::new();
        for n in 0..nodes.len() as u32 {
            let parent = nodes[n as usize].parent;
            if parent.is_zero() {
                roots.push(n);
                continue;
            }
            match find(&parent) {
                Some(p) => {
                    next_sibling[n as usize] = first_child[p as usize];
                    first_child[p as usize] = n;
                }
                None => {
                    span_mut(trace, nodes[n as usize].at)
                        .add_warning(warning_invalid_parent(parent));
                    roots.push(n);
                }
            }
        }

        // Depth-first from each root, with an explicit stack: a trace can be one long
        // chain of spans. A parent is final before its children are looked at.
        let unknown_host = 0;
        let mut texts = WarningTexts::default();
        let mut stack: Vec<(u32, u32, Skew)> = Vec::new();
        for root in roots {
            let skew = Skew {
                host: nodes[root as usize].host,
                delta: 0,
            };
            stack.push((root, NONE, skew));
            while let Some((n, parent, mut skew)) = stack.pop() {
                let node = &nodes[n as usize];
                if parent != NONE && (node.host != skew.host || node.host == unknown_host) {
                    let p = &nodes[parent as usize];
                    skew = Skew {
                        host: node.host,
                        delta: calculate_skew((node.start, node.end), (p.start, p.end)),
                    };
                }
                if skew.delta != 0 && self.apply(span_mut(trace, node.at), skew.delta, &mut texts) {
                    let node = &mut nodes[n as usize];
                    node.start = shift_time(node.start, skew.delta);
                    node.end = shift_time(node.end, skew.delta);
                }
                let mut c = first_child[n as usize];
                while c != NONE {
                    stack.push((c, n, skew));
                    c = next_sibling[c as usize];
                }
            }
        }
    }
}

impl CorrectClockSkew {
    /// Shifts the span by `delta` and warns, or only warns when `delta` is beyond the
    /// maximum; a borrowed span is not copied for either (see `CowSpan`). Returns
    /// whether the span was shifted.
    fn apply(&self, span: &mut CowSpan<'_>, delta: i64, texts: &mut WarningTexts) -> bool {
        if delta == 0 {
            return false;
        }
        if i128::from(delta).abs() > i128::from(self.max_delta) {
            let max = self.max_delta;
            let warning = texts.get(delta, false, || {
                if max == 0 {
                    warning_disabled(delta)
                } else {
                    warning_max_exceeded(max, delta)
                }
            });
            span.add_warning(warning);
            return false;
        }
        span.shift_by(delta);
        span.add_warning(texts.get(delta, true, || warning_adjusted(delta)));
        true
    }
}

/// Warning texts by delta: a subtree shares one delta, so thousands of spans usually
/// need only a few distinct texts, and formatting a duration is not free. Siblings on
/// different hosts alternate between deltas, so every text met is kept (a trace has
/// at most one per span, and a linear scan of a handful beats hashing).
#[derive(Default)]
struct WarningTexts {
    seen: Vec<(i64, bool, Arc<str>)>,
}

impl WarningTexts {
    fn get(&mut self, delta: i64, applied: bool, make: impl FnOnce() -> String) -> Arc<str> {
        // Most recent first: the walk tends to revisit the delta it just used.
        if let Some((_, _, text)) = self
            .seen
            .iter()
            .rev()
            .take(SCAN)
            .find(|(d, a, _)| *d == delta && *a == applied)
        {
            return text.clone();
        }
        let text: Arc<str> = make().into();
        self.seen.push((delta, applied, text.clone()));
        text
    }
}

/// How many cached texts a lookup scans: beyond it (a trace where nearly every span
/// has its own delta) formatting again is as cheap as scanning further.
const SCAN: usize = 16;

/// A timestamp as Go's `time.Time` sees it (`time.Unix(0, int64(ts))`).
fn time(ts: u64) -> i128 {
    i128::from(ts as i64)
}

/// Go's `Time.Sub`, which saturates at the range of a `Duration`.
fn sub(a: i128, b: i128) -> i64 {
    (a - b).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// How much to shift `child` so it sits inside `parent` (whose times are final).
/// Times are (start, end) in OTLP nanoseconds.
fn calculate_skew(child: (u64, u64), parent: (u64, u64)) -> i64 {
    let (ps, pe) = (time(parent.0), time(parent.1));
    let (cs, ce) = (time(child.0), time(child.1));
    let parent_duration = sub(pe, ps);
    let child_duration = sub(ce, cs);
    if child_duration > parent_duration {
        // Cannot fit (an async child): only make sure it does not start before the parent.
        return if cs < ps { sub(ps, cs) } else { 0 };
    }
    if cs >= ps && ce <= pe {
        return 0;
    }
    // Assume the network latency is split evenly between request and response.
    let latency = (i128::from(parent_duration) - i128::from(child_duration)) / 2;
    sub(ps + latency, cs)
}

/// The span at a position of the walk.
fn span_mut<'t, 'a>(t: &'t mut CowTrace<'a>, (ri, si, ki): (u32, u32, u32)) -> &'t mut CowSpan<'a> {
    t.span_mut((ri as usize, si as usize, ki as usize))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use jaeger_model::otlp::common::ArrayValue;
    use jaeger_model::otlp::{AnyValue, Event};

    const MS: u64 = 1_000_000;

    /// One span of a case: times in ms; `adjusted` is the expected start.
    struct S {
        id: u64,
        parent: u64,
        start: u64,
        dur: u64,
        host: &'static str,
        logs: &'static [u64],
        adjusted: u64,
        adjusted_logs: &'static [u64],
    }

    fn s(id: u64, parent: u64, start: u64, dur: u64, host: &'static str, adjusted: u64) -> S {
        S {
            id,
            parent,
            start,
            dur,
            host,
            logs: &[],
            adjusted,
            adjusted_logs: &[],
        }
    }

    /// Builds the trace (each span in its own resource), adjusts it, checks every start,
    /// end and event time, and returns the last warning seen.
    fn run(case: &str, spans_in: Vec<S>, max_ms: u64, want: &str) {
        let rs = spans_in
            .iter()
            .map(|x| {
                let mut sp = span(x.id, x.parent);
                sp.start_time_unix_nano = x.start * MS;
                sp.end_time_unix_nano = (x.start + x.dur) * MS;
                sp.events = x
                    .logs
                    .iter()
                    .map(|t| Event {
                        time_unix_nano: t * MS,
                        ..Default::default()
                    })
                    .collect();
                let attrs = if x.host.is_empty() {
                    vec![]
                } else {
                    vec![("host.name", str(x.host))]
                };
                resource(attrs, vec![sp])
            })
            .collect();
        let mut t = trace(rs);
        CorrectClockSkew::new(Duration::from_millis(max_ms)).adjust(&mut t);
        let mut last_warning = String::new();
        for (got, x) in spans(&t).into_iter().zip(&spans_in) {
            let w = warnings(got);
            if let Some(l) = w.last() {
                last_warning = l.clone();
            }
            assert_eq!(
                got.start_time_unix_nano,
                x.adjusted * MS,
                "{case}: start of span {}",
                x.id
            );
            assert_eq!(
                got.end_time_unix_nano,
                (x.adjusted + x.dur) * MS,
                "{case}: end of span {}",
                x.id
            );
            let logs: Vec<u64> = got.events.iter().map(|e| e.time_unix_nano / MS).collect();
            let want_logs = if x.adjusted_logs.is_empty() {
                x.logs
            } else {
                x.adjusted_logs
            };
            assert_eq!(logs, want_logs, "{case}: events of span {}", x.id);
            if want.is_empty() {
                // An unchanged span has no warning; an adjusted one exactly one.
                let n = if x.adjusted == x.start { 0 } else { 1 };
                assert_eq!(w.len(), n, "{case}: warnings of span {}: {w:?}", x.id);
            }
        }
        if !want.is_empty() {
            assert_eq!(last_warning, want, "{case}");
        }
    }

    #[test]
    fn case_01_single_span_bad_parent() {
        run(
            "bad parent",
            vec![s(1, 99, 0, 100, "a", 0)],
            0,
            "parent span ID=0000000000000063 is not in the trace; skipping clock skew adjustment",
        );
    }

    #[test]
    fn case_02_single_span_empty_host_key() {
        run("empty host", vec![s(1, 0, 0, 100, "", 0)], 0, "");
    }

    #[test]
    fn case_03_two_spans_same_id() {
        run(
            "duplicate ids",
            vec![s(1, 0, 0, 100, "a", 0), s(1, 0, 0, 100, "a", 0)],
            0,
            "duplicate span IDs; skipping clock skew adjustment",
        );
    }

    #[test]
    fn case_04_parent_child_same_host() {
        run(
            "same host",
            vec![s(1, 0, 0, 100, "a", 0), s(2, 1, 10, 50, "a", 10)],
            0,
            "",
        );
    }

    #[test]
    fn case_05_same_host_child_before_parent_is_left() {
        run(
            "same host, child first",
            vec![s(1, 0, 10, 100, "a", 10), s(2, 1, 0, 50, "a", 0)],
            0,
            "",
        );
    }

    #[test]
    fn case_06_child_fits_in_parent() {
        run(
            "fits",
            vec![s(1, 0, 10, 100, "a", 10), s(2, 1, 20, 50, "b", 20)],
            0,
            "",
        );
    }

    #[test]
    fn case_07_child_longer_than_parent_starting_after_it() {
        run(
            "longer, after",
            vec![s(1, 0, 10, 100, "a", 10), s(2, 1, 20, 150, "b", 20)],
            0,
            "",
        );
    }

    #[test]
    fn case_08_positive_delta_over_max() {
        run(
            "over max +",
            vec![s(1, 0, 10, 100, "a", 10), s(2, 1, 0, 50, "b", 0)],
            10,
            "max clock skew adjustment delta of 10ms exceeded; not applying calculated delta of 35ms",
        );
    }

    #[test]
    fn case_09_negative_delta_over_max() {
        run(
            "over max -",
            vec![s(1, 0, 10, 100, "a", 10), s(2, 1, 80, 50, "b", 80)],
            10,
            "max clock skew adjustment delta of 10ms exceeded; not applying calculated delta of -45ms",
        );
    }

    #[test]
    fn case_10_adjustment_disabled() {
        run(
            "disabled",
            vec![s(1, 0, 10, 100, "a", 10), s(2, 1, 0, 50, "b", 0)],
            0,
            "clock skew adjustment disabled; not applying calculated delta of 35ms",
        );
    }

    #[test]
    fn case_11_child_starts_before_parent() {
        run(
            "child first",
            vec![
                s(1, 0, 10, 100, "a", 10),
                S {
                    logs: &[5, 10],
                    adjusted_logs: &[40, 45],
                    ..s(2, 1, 0, 50, "b", 35)
                },
            ],
            1000,
            "",
        );
    }

    #[test]
    fn case_12_child_starts_before_parent_and_is_longer() {
        run(
            "child first, longer",
            vec![s(1, 0, 10, 100, "a", 10), s(2, 1, 0, 150, "b", 10)],
            1000,
            "",
        );
    }

    #[test]
    fn case_13_child_ends_after_parent_grandchild_same_host() {
        run(
            "child ends late, grandchild inherits",
            vec![
                s(1, 0, 10, 100, "a", 10),
                s(2, 1, 50, 70, "b", 25),
                S {
                    logs: &[65, 70],
                    adjusted_logs: &[40, 45],
                    ..s(3, 2, 60, 20, "b", 35)
                },
            ],
            1000,
            "",
        );
    }

    #[test]
    fn adjusted_warning_text() {
        let mut t = trace(vec![
            resource(
                vec![("host.name", str("a"))],
                vec![{
                    let mut p = span(1, 0);
                    p.start_time_unix_nano = 10 * MS;
                    p.end_time_unix_nano = 110 * MS;
                    p
                }],
            ),
            resource(
                vec![("host.name", str("b"))],
                vec![{
                    let mut c = span(2, 1);
                    c.start_time_unix_nano = 0;
                    c.end_time_unix_nano = 50 * MS;
                    c
                }],
            ),
        ]);
        CorrectClockSkew::new(Duration::from_secs(1)).adjust(&mut t);
        assert_eq!(
            warnings(spans(&t)[1]),
            ["This span's timestamps were adjusted by 35ms"]
        );
        assert!(warnings(spans(&t)[0]).is_empty());
    }

    #[test]
    fn deep_chain_does_not_overflow_the_stack() {
        let n = 200_000u64;
        let chain: Vec<_> = (1..=n).map(|i| span(i, i - 1)).collect();
        let mut t = trace(vec![resource(vec![], chain)]);
        CorrectClockSkew::new(Duration::ZERO).adjust(&mut t);
        assert_eq!(t.span_count(), n as usize);
    }

    #[test]
    fn parent_cycles_are_left_alone() {
        let mut t = trace(vec![resource(
            vec![],
            vec![span(1, 2), span(2, 1), span(3, 3)],
        )]);
        CorrectClockSkew::new(Duration::from_secs(1)).adjust(&mut t);
        assert!(spans(&t).iter().all(|s| warnings(s).is_empty()));
    }

    fn host_of(attrs: Vec<(&str, Value)>) -> String {
        host_key(resource(attrs, vec![]).resource.as_ref())
    }

    fn array(items: &[&str]) -> Value {
        Value::ArrayValue(ArrayValue {
            values: items
                .iter()
                .map(|s| AnyValue {
                    value: Some(str(s)),
                })
                .collect(),
        })
    }

    #[test]
    fn host_keys() {
        assert_eq!(host_of(vec![("host.id", str("host-123"))]), "host-123");
        assert_eq!(
            host_of(vec![("host.ip", str("192.168.1.1"))]),
            "192.168.1.1"
        );
        assert_eq!(
            host_of(vec![("host.ip", array(&["192.168.1.1", "192.168.1.2"]))]),
            "192.168.1.1"
        );
        assert_eq!(host_of(vec![("host.ip", array(&[]))]), "");
        assert_eq!(host_of(vec![("host.name", str("hostname"))]), "hostname");
        assert_eq!(host_of(vec![("service.name", str("svc"))]), "");
        // Precedence: id, then ip, then name.
        assert_eq!(
            host_of(vec![
                ("host.name", str("n")),
                ("host.ip", str("1.2.3.4")),
                ("host.id", str("i")),
            ]),
            "i"
        );
        assert_eq!(
            host_of(vec![("host.name", str("n")), ("host.ip", str("1.2.3.4"))]),
            "1.2.3.4"
        );
        // A legacy Jaeger `ip` process tag is not a host key in v2.
        assert_eq!(host_of(vec![("ip", str("1.2.3.4"))]), "");
        assert_eq!(host_key(None), "");
    }
}
