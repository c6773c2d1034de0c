//! The storage conformance suite: every backend must pass it.
//!
//! Each `case_*` function takes a freshly opened, EMPTY [`Storage`] and panics on the
//! first wrong answer. [`conformance_tests!`](crate::conformance_tests) turns them into
//! one `#[tokio::test]` per case for a backend:
//!
//! ```ignore
//! async fn open() -> (Storage, jaeger_storage::conformance::Guard) {
//!     let dir = tempfile::tempdir().unwrap();
//!     let storage = open_embedded(dir.path()).await;
//!     (storage, Box::new(dir)) // the guard keeps the temp dir alive for the test
//! }
//! jaeger_storage::conformance_tests!(open);
//! // or only some cases, for a backend that cannot answer every query form:
//! jaeger_storage::conformance_tests!(open; case_find_by_service, case_large_trace);
//! ```
//!
//! The contract the cases pin down (beyond the trait docs):
//! - A trace matches a search when ONE span matches the service, the operation, every
//!   tag, the duration bounds (inclusive) and the start window (inclusive), as in
//!   Jaeger's memory store. Tags match span, resource or event attributes by their
//!   string form (`value_to_string`), and `error=true` matches a span with ERROR status.
//! - Results are most recent first: traces are laid out so that every reasonable
//!   "recent" (latest matching span start, trace start) gives the same order.
//! - A search returns whole traces, including spans outside the search window.
//! - Times are whole microseconds, attribute values are scalars, and links carry no
//!   attributes, so that backends storing Jaeger's v1 span model round-trip exactly.
//! - All times are within the last two hours (inside any retention window).
//! - `scan_spans` (the dependencies job's read path) hands out every span starting in
//!   `[start, end)` with its resource, in chunks of any traces; a span written twice may
//!   be handed out twice (the job deduplicates), no span outside the window may appear.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use jaeger_model::otlp::trace::span::SpanKind;
use jaeger_model::otlp::trace::status::StatusCode;
use jaeger_model::otlp::{
    Event, InstrumentationScope, KeyValue, Link, Resource, ResourceSpans, ScopeSpans, Span, Status,
    Value,
};
use jaeger_model::trace::{kv, service_name, value_to_string};
use jaeger_model::{SERVICE_NAME, SpanId, Trace, TraceId};

use crate::{
    DependencyLink, GetTraceParams, Operation, OperationQuery, Storage, TraceQuery, UnixNanos,
};

/// Keeps whatever a backend needs alive for the duration of a test (a temp dir, a server).
pub type Guard = Box<dyn std::any::Any + Send>;

pub const MICROSECOND: u64 = 1_000;
pub const MILLISECOND: u64 = 1_000_000;
pub const SECOND: u64 = 1_000_000_000;
pub const MINUTE: u64 = 60 * SECOND;
pub const HOUR: u64 = 60 * MINUTE;

/// Generates one `#[tokio::test]` per conformance case. The factory is called as
/// `($factory)().await` and must yield `(Storage, Guard)` for an empty store; the guard
/// is dropped when the test ends. The crate using it needs `tokio` (with `macros`).
///
/// A backend with Jaeger's own query limits declares them, and the cases then expect
/// such queries to fail with `StorageError::InvalidQuery` (see [`Limits`]):
///
/// ```ignore
/// jaeger_storage::conformance_tests!(open, limits = Limits::JAEGER_CASSANDRA);
/// ```
///
/// The factory may also return `Option<(Storage, Guard)>`; `None` skips the test (for
/// backends that need an external server which is not configured).
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::conformance_tests!($factory, limits = $crate::conformance::Limits::NONE);
    };
    ($factory:expr; $($case:ident),+ $(,)?) => {
        $crate::conformance_tests!(
            $factory, limits = $crate::conformance::Limits::NONE; $($case),+
        );
    };
    ($factory:expr, limits = $limits:expr) => {
        $crate::conformance_tests!(
            $factory, limits = $limits;
            case_write_then_get_trace,
            case_get_unknown_trace,
            case_rewrite_is_idempotent,
            case_trace_written_in_two_batches,
            case_services_and_operations,
            case_find_by_service,
            case_find_by_service_and_operation,
            case_find_by_span_tag,
            case_find_by_resource_tag,
            case_find_by_event_tag,
            case_tag_value_types,
            case_tags_must_match_on_one_span,
            case_find_by_error_tag,
            case_find_by_duration,
            case_duration_bounds_inclusive,
            case_start_time_window,
            case_limit_returns_most_recent,
            case_no_match_is_empty,
            case_find_trace_ids_agrees_with_find_traces,
            case_search_without_service,
            case_get_trace_with_time_window,
            case_dependencies,
            case_large_trace,
            case_concurrent_writes,
            case_health,
            case_scan_spans_window,
            case_scan_spans_many_chunks,
            case_scan_span_links_agrees_with_scan_spans,
        );
    };
    ($factory:expr, limits = $limits:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some((storage, guard)): Option<($crate::Storage, $crate::conformance::Guard)> =
                    $crate::conformance::Opened::opened(($factory)().await)
                else {
                    return;
                };
                $crate::conformance::LIMITS
                    .scope($limits, $crate::conformance::$case(&storage))
                    .await;
                drop(storage);
                drop(guard);
            }
        )+
    };
}

/// What a factory returns: an opened store, or `None` to skip the test.
pub trait Opened {
    fn opened(self) -> Option<(Storage, Guard)>;
}

impl Opened for (Storage, Guard) {
    fn opened(self) -> Option<(Storage, Guard)> {
        Some(self)
    }
}

impl Opened for Option<(Storage, Guard)> {
    fn opened(self) -> Option<(Storage, Guard)> {
        self
    }
}

/// Query forms a backend rejects by design, as the Jaeger backend it mirrors does.
/// Searches of those forms must fail with `StorageError::InvalidQuery`; every other
/// search must give the normal answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Every search needs a service name (Jaeger's Cassandra: all indexes are keyed
    /// by service).
    pub requires_service: bool,
    /// Duration bounds cannot be combined with tags (Jaeger's Cassandra).
    pub no_duration_with_tags: bool,
}

impl Limits {
    /// Answers every query form.
    pub const NONE: Limits = Limits {
        requires_service: false,
        no_duration_with_tags: false,
    };
    /// Jaeger's Cassandra reader (storage spec §1.7).
    pub const JAEGER_CASSANDRA: Limits = Limits {
        requires_service: true,
        no_duration_with_tags: true,
    };

    /// True when the backend must reject this query.
    pub fn rejects(&self, q: &TraceQuery) -> bool {
        let no_service = q.service_name.as_deref().unwrap_or("").is_empty();
        let duration = q.duration_min.is_some() || q.duration_max.is_some();
        (self.requires_service && no_service)
            || (self.no_duration_with_tags && duration && !q.tags.is_empty())
    }
}

tokio::task_local! {
    /// The limits of the backend under test (set by [`conformance_tests!`](crate::conformance_tests)).
    pub static LIMITS: Limits;
}

/// The limits of the backend under test ([`Limits::NONE`] outside the macro).
pub fn limits() -> Limits {
    LIMITS.try_with(|l| *l).unwrap_or_default()
}

/// Asserts that the backend rejects `q` as an invalid query, in both search calls.
async fn expect_rejected(storage: &Storage, q: &TraceQuery, what: &str) {
    match storage.reader.find_traces(q).await {
        Err(crate::StorageError::InvalidQuery(_)) => {}
        other => panic!(
            "{what}: find_traces must reject {q:?} (backend limits), got {:?}",
            other.map(|t| t.len())
        ),
    }
    match storage.reader.find_trace_ids(q).await {
        Err(crate::StorageError::InvalidQuery(_)) => {}
        other => panic!("{what}: find_trace_ids must reject {q:?} (backend limits), got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Building test data

/// A whole hour between one and two hours ago: deterministic offsets, inside retention.
pub fn reference_time() -> UnixNanos {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    (now.saturating_sub(HOUR) / HOUR) * HOUR
}

/// A 128-bit trace id with both halves set, derived from `n`.
pub fn trace_id(n: u64) -> TraceId {
    TraceId::from_u64s(0x5EED_0000_0000_0000 | n.wrapping_mul(0x9E37), n)
}

pub fn str_val(s: &str) -> Value {
    Value::StringValue(s.to_string())
}
pub fn int_val(i: i64) -> Value {
    Value::IntValue(i)
}
pub fn bool_val(b: bool) -> Value {
    Value::BoolValue(b)
}
pub fn double_val(d: f64) -> Value {
    Value::DoubleValue(d)
}
pub fn bytes_val(b: &[u8]) -> Value {
    Value::BytesValue(b.to_vec())
}

/// A span description with a builder; [`batch`] turns spans into OTLP.
#[derive(Clone, Debug)]
pub struct TestSpan {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: SpanId,
    pub service: String,
    /// Resource attributes besides `service.name`.
    pub resource_attributes: Vec<KeyValue>,
    pub scope: InstrumentationScope,
    pub name: String,
    pub kind: SpanKind,
    pub start: UnixNanos,
    pub duration: u64,
    pub attributes: Vec<KeyValue>,
    pub events: Vec<Event>,
    pub links: Vec<Link>,
    pub status: Option<Status>,
}

impl TestSpan {
    pub fn new(
        trace_id: TraceId,
        span_id: u64,
        service: &str,
        name: &str,
        start: UnixNanos,
        duration: u64,
    ) -> Self {
        Self {
            trace_id,
            span_id: SpanId::from_u64(span_id),
            parent_span_id: SpanId::ZERO,
            service: service.to_string(),
            resource_attributes: Vec::new(),
            scope: InstrumentationScope {
                name: "conformance".into(),
                version: "1.0.0".into(),
                ..Default::default()
            },
            name: name.to_string(),
            kind: SpanKind::Unspecified,
            start,
            duration,
            attributes: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            status: None,
        }
    }

    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn parent(mut self, span_id: u64) -> Self {
        self.parent_span_id = SpanId::from_u64(span_id);
        self
    }

    pub fn attr(mut self, key: &str, value: Value) -> Self {
        self.attributes.push(kv(key, value));
        self
    }

    pub fn resource_attr(mut self, key: &str, value: Value) -> Self {
        self.resource_attributes.push(kv(key, value));
        self
    }

    pub fn scope(mut self, name: &str, version: &str) -> Self {
        self.scope.name = name.to_string();
        self.scope.version = version.to_string();
        self
    }

    pub fn event(mut self, name: &str, time: UnixNanos, attributes: Vec<KeyValue>) -> Self {
        self.events.push(Event {
            time_unix_nano: time,
            name: name.to_string(),
            attributes,
            ..Default::default()
        });
        self
    }

    pub fn link(mut self, trace_id: TraceId, span_id: u64) -> Self {
        self.links.push(Link {
            trace_id: trace_id.0.to_vec(),
            span_id: SpanId::from_u64(span_id).0.to_vec(),
            ..Default::default()
        });
        self
    }

    pub fn status(mut self, code: StatusCode, message: &str) -> Self {
        self.status = Some(Status {
            code: code as i32,
            message: message.to_string(),
        });
        self
    }

    pub fn error(self, message: &str) -> Self {
        self.status(StatusCode::Error, message)
    }

    fn resource(&self) -> Resource {
        let mut attributes = vec![kv(SERVICE_NAME, str_val(&self.service))];
        attributes.extend(self.resource_attributes.iter().cloned());
        Resource {
            attributes,
            ..Default::default()
        }
    }

    pub fn to_otlp(&self) -> Span {
        Span {
            trace_id: self.trace_id.0.to_vec(),
            span_id: self.span_id.0.to_vec(),
            parent_span_id: if self.parent_span_id.is_zero() {
                Vec::new()
            } else {
                self.parent_span_id.0.to_vec()
            },
            name: self.name.clone(),
            kind: self.kind as i32,
            start_time_unix_nano: self.start,
            end_time_unix_nano: self.start + self.duration,
            attributes: self.attributes.clone(),
            events: self.events.clone(),
            links: self.links.clone(),
            status: self.status.clone(),
            ..Default::default()
        }
    }
}

/// OTLP for the spans, grouped by resource and scope in order of first appearance.
pub fn batch(spans: &[TestSpan]) -> Vec<ResourceSpans> {
    let mut out: Vec<ResourceSpans> = Vec::new();
    for s in spans {
        let resource = Some(s.resource());
        let ri = match out.iter().position(|r| r.resource == resource) {
            Some(i) => i,
            None => {
                out.push(ResourceSpans {
                    resource,
                    ..Default::default()
                });
                out.len() - 1
            }
        };
        let scopes = &mut out[ri].scope_spans;
        let scope = Some(s.scope.clone());
        let si = match scopes.iter().position(|ss| ss.scope == scope) {
            Some(i) => i,
            None => {
                scopes.push(ScopeSpans {
                    scope,
                    ..Default::default()
                });
                scopes.len() - 1
            }
        };
        scopes[si].spans.push(s.to_otlp());
    }
    out
}

// ---------------------------------------------------------------------------------------
// Comparing read-back data, independent of grouping and attribute order

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AttrView {
    pub key: String,
    pub kind: &'static str,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventView {
    pub time: UnixNanos,
    pub name: String,
    pub attributes: Vec<AttrView>,
}

/// What a user sees of a span: compared instead of raw OTLP, so backends may regroup
/// resources and scopes and reorder attributes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpanView {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: SpanId,
    pub service: String,
    pub resource: Vec<AttrView>,
    pub scope: (String, String),
    pub name: String,
    pub kind: i32,
    pub start: UnixNanos,
    pub end: UnixNanos,
    pub attributes: Vec<AttrView>,
    pub events: Vec<EventView>,
    pub links: Vec<(TraceId, SpanId)>,
    pub status: (i32, String),
}

fn attr_views(attrs: &[KeyValue]) -> Vec<AttrView> {
    let mut out: Vec<AttrView> = attrs
        .iter()
        .map(|a| {
            let value = a.value.as_ref().and_then(|v| v.value.as_ref());
            AttrView {
                key: a.key.clone(),
                kind: match value {
                    Some(Value::StringValue(_)) => "string",
                    Some(Value::BoolValue(_)) => "bool",
                    Some(Value::IntValue(_)) => "int",
                    Some(Value::DoubleValue(_)) => "double",
                    Some(Value::BytesValue(_)) => "bytes",
                    Some(Value::ArrayValue(_)) => "array",
                    Some(Value::KvlistValue(_)) => "map",
                    Some(Value::StringValueStrindex(_)) => "string index",
                    None => "empty",
                },
                value: value.map(value_to_string).unwrap_or_default(),
            }
        })
        .collect();
    out.sort();
    out
}

/// Every span of the OTLP data as a [`SpanView`], sorted.
pub fn span_views(resource_spans: &[ResourceSpans]) -> Vec<SpanView> {
    let mut out = Vec::new();
    for rs in resource_spans {
        let service = rs.resource.as_ref().map(service_name).unwrap_or("");
        let resource = attr_views(
            rs.resource
                .as_ref()
                .map(|r| &r.attributes[..])
                .unwrap_or(&[]),
        );
        for ss in &rs.scope_spans {
            let scope = ss
                .scope
                .as_ref()
                .map(|s| (s.name.clone(), s.version.clone()))
                .unwrap_or_default();
            for span in &ss.spans {
                let mut events: Vec<EventView> = span
                    .events
                    .iter()
                    .map(|e| EventView {
                        time: e.time_unix_nano,
                        name: e.name.clone(),
                        attributes: attr_views(&e.attributes),
                    })
                    .collect();
                events.sort();
                let mut links: Vec<(TraceId, SpanId)> = span
                    .links
                    .iter()
                    .map(|l| {
                        (
                            TraceId::from_slice(&l.trace_id).unwrap_or_default(),
                            SpanId::from_slice(&l.span_id).unwrap_or_default(),
                        )
                    })
                    .collect();
                links.sort();
                out.push(SpanView {
                    trace_id: TraceId::from_slice(&span.trace_id).unwrap_or_default(),
                    span_id: SpanId::from_slice(&span.span_id).unwrap_or_default(),
                    parent_span_id: SpanId::from_slice(&span.parent_span_id).unwrap_or_default(),
                    service: service.to_string(),
                    resource: resource.clone(),
                    scope: scope.clone(),
                    name: span.name.clone(),
                    kind: span.kind,
                    start: span.start_time_unix_nano,
                    end: span.end_time_unix_nano,
                    attributes: attr_views(&span.attributes),
                    events,
                    links,
                    status: span
                        .status
                        .as_ref()
                        .map(|s| (s.code, s.message.clone()))
                        .unwrap_or_default(),
                });
            }
        }
    }
    out.sort();
    out
}

/// Asserts that `got` holds exactly the spans of `want`.
pub fn assert_same_spans(got: &Trace, want: &[TestSpan], what: &str) {
    let got = span_views(&got.resource_spans);
    let want = span_views(&batch(want));
    if got != want {
        assert_eq!(got.len(), want.len(), "{what}: span count");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{what}: first differing span");
        }
    }
}

async fn write(storage: &Storage, spans: &[TestSpan]) {
    storage
        .writer
        .write_spans(batch(spans))
        .await
        .expect("write_spans failed");
}

async fn get(storage: &Storage, id: TraceId) -> Option<Trace> {
    storage
        .reader
        .get_trace(GetTraceParams {
            trace_id: id,
            start: None,
            end: None,
        })
        .await
        .expect("get_trace failed")
}

async fn must_get(storage: &Storage, id: TraceId, what: &str) -> Trace {
    get(storage, id)
        .await
        .unwrap_or_else(|| panic!("{what}: trace {id} not found"))
}

// ---------------------------------------------------------------------------------------
// The search dataset: five traces with known properties
//
// | trace | start | spans: service op kind duration (offset, host)  | notes                    |
// |-------|-------|-------------------------------------------------|--------------------------|
// | T1    | t0+1m | frontend "GET /" server 100ms (host-a)          | GET, status 200, retry=  |
// |       |       | + frontend call-backend client 50ms (+10ms)     |   false; peer.service    |
// |       |       | + frontend "GET /" internal 10ms (+20ms)        |                          |
// | T2    | t0+2m | backend query server 300ms (host-b)             | postgres, ratio 0.25,    |
// |       |       |                                                 |   event cache.key        |
// | T3    | t0+3m | frontend "GET /" server 1s (host-c), ERROR      | GET, status 500          |
// |       |       | + backend query server 800ms (+100ms, host-b)   | db.system=mysql          |
// | T4    | t0+4m | worker process consumer 2s (host-a)             | queue=jobs               |
// | T5    | t0+5m | frontend "POST /login" server 20ms (host-c)     | POST                     |
// |       |       | + auth check internal 5ms (+2ms, host-d)        |                          |
// |       |       | + frontend helper unspecified 1ms (+10ms)       |                          |

pub struct Dataset {
    pub t0: UnixNanos,
    pub t1: TraceId,
    pub t2: TraceId,
    pub t3: TraceId,
    pub t4: TraceId,
    pub t5: TraceId,
    span_counts: HashMap<TraceId, usize>,
}

impl Dataset {
    fn name(&self, id: &TraceId) -> String {
        [
            (self.t1, "T1"),
            (self.t2, "T2"),
            (self.t3, "T3"),
            (self.t4, "T4"),
            (self.t5, "T5"),
        ]
        .iter()
        .find(|(t, _)| t == id)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| id.to_string())
    }

    /// Everything in `[t0, t0 + 10m]`, up to 100 traces.
    pub fn query(&self) -> TraceQuery {
        TraceQuery {
            start_time_min: self.t0,
            start_time_max: self.t0 + 10 * MINUTE,
            num_traces: 100,
            ..Default::default()
        }
    }
}

fn host(h: &str) -> Value {
    str_val(h)
}

/// Writes the search dataset (T4 and T5 in one batch, the others one batch each).
pub async fn write_dataset(storage: &Storage) -> Dataset {
    let t0 = reference_time();
    let ms = MILLISECOND;
    let (t1, t2, t3, t4, t5) = (
        trace_id(101),
        trace_id(102),
        trace_id(103),
        trace_id(104),
        trace_id(105),
    );

    let s1 = t0 + MINUTE;
    let trace1 = vec![
        TestSpan::new(t1, 0x11, "frontend", "GET /", s1, 100 * ms)
            .kind(SpanKind::Server)
            .resource_attr("host.name", host("host-a"))
            .attr("http.method", str_val("GET"))
            .attr("http.status_code", int_val(200))
            .attr("retry", bool_val(false)),
        TestSpan::new(t1, 0x12, "frontend", "call-backend", s1 + 10 * ms, 50 * ms)
            .kind(SpanKind::Client)
            .parent(0x11)
            .resource_attr("host.name", host("host-a"))
            .attr("peer.service", str_val("backend")),
        TestSpan::new(t1, 0x13, "frontend", "GET /", s1 + 20 * ms, 10 * ms)
            .kind(SpanKind::Internal)
            .parent(0x11)
            .resource_attr("host.name", host("host-a")),
    ];
    let s2 = t0 + 2 * MINUTE;
    let trace2 = vec![
        TestSpan::new(t2, 0x21, "backend", "query", s2, 300 * ms)
            .kind(SpanKind::Server)
            .resource_attr("host.name", host("host-b"))
            .attr("db.system", str_val("postgres"))
            .attr("latency.ratio", double_val(0.25))
            .event(
                "cache miss",
                s2 + ms,
                vec![kv("cache.key", str_val("user:42"))],
            ),
    ];
    let s3 = t0 + 3 * MINUTE;
    let trace3 = vec![
        TestSpan::new(t3, 0x31, "frontend", "GET /", s3, SECOND)
            .kind(SpanKind::Server)
            .resource_attr("host.name", host("host-c"))
            .attr("http.method", str_val("GET"))
            .attr("http.status_code", int_val(500))
            .error("upstream failed"),
        TestSpan::new(t3, 0x32, "backend", "query", s3 + 100 * ms, 800 * ms)
            .kind(SpanKind::Server)
            .parent(0x31)
            .resource_attr("host.name", host("host-b"))
            .attr("db.system", str_val("mysql")),
    ];
    let s4 = t0 + 4 * MINUTE;
    let trace4 = vec![
        TestSpan::new(t4, 0x41, "worker", "process", s4, 2 * SECOND)
            .kind(SpanKind::Consumer)
            .resource_attr("host.name", host("host-a"))
            .attr("queue", str_val("jobs")),
    ];
    let s5 = t0 + 5 * MINUTE;
    let trace5 = vec![
        TestSpan::new(t5, 0x51, "frontend", "POST /login", s5, 20 * ms)
            .kind(SpanKind::Server)
            .resource_attr("host.name", host("host-c"))
            .attr("http.method", str_val("POST")),
        TestSpan::new(t5, 0x52, "auth", "check", s5 + 2 * ms, 5 * ms)
            .kind(SpanKind::Internal)
            .parent(0x51)
            .resource_attr("host.name", host("host-d")),
        TestSpan::new(t5, 0x53, "frontend", "helper", s5 + 10 * ms, ms)
            .parent(0x51)
            .resource_attr("host.name", host("host-c")),
    ];

    let span_counts = HashMap::from([
        (t1, trace1.len()),
        (t2, trace2.len()),
        (t3, trace3.len()),
        (t4, trace4.len()),
        (t5, trace5.len()),
    ]);
    // Written out of time order, so insertion order cannot pass for recency.
    write(storage, &trace3).await;
    write(storage, &trace1).await;
    let mut last = trace5;
    last.extend(trace4);
    write(storage, &last).await;
    write(storage, &trace2).await;

    Dataset {
        t0,
        t1,
        t2,
        t3,
        t4,
        t5,
        span_counts,
    }
}

/// Small builder methods for queries in the cases below.
pub trait QueryExt: Sized {
    fn service(self, s: &str) -> Self;
    fn operation(self, op: &str) -> Self;
    fn tag(self, k: &str, v: &str) -> Self;
    fn duration(self, min: Option<u64>, max: Option<u64>) -> Self;
    fn window(self, min: UnixNanos, max: UnixNanos) -> Self;
    fn limit(self, n: usize) -> Self;
}

impl QueryExt for TraceQuery {
    fn service(mut self, s: &str) -> Self {
        self.service_name = Some(s.to_string());
        self
    }
    fn operation(mut self, op: &str) -> Self {
        self.operation_name = Some(op.to_string());
        self
    }
    fn tag(mut self, k: &str, v: &str) -> Self {
        self.tags.push((k.to_string(), v.to_string()));
        self
    }
    fn duration(mut self, min: Option<u64>, max: Option<u64>) -> Self {
        self.duration_min = min;
        self.duration_max = max;
        self
    }
    fn window(mut self, min: UnixNanos, max: UnixNanos) -> Self {
        self.start_time_min = min;
        self.start_time_max = max;
        self
    }
    fn limit(mut self, n: usize) -> Self {
        self.num_traces = n;
        self
    }
}

/// Asserts that both `find_traces` and `find_trace_ids` return exactly `want`, in order,
/// and that every found trace is complete.
async fn expect(storage: &Storage, ds: &Dataset, q: TraceQuery, want: &[TraceId], what: &str) {
    if limits().rejects(&q) {
        expect_rejected(storage, &q, what).await;
        return;
    }
    let names = |ids: &[TraceId]| ids.iter().map(|i| ds.name(i)).collect::<Vec<_>>();
    let traces = storage
        .reader
        .find_traces(&q)
        .await
        .unwrap_or_else(|e| panic!("{what}: find_traces failed: {e}"));
    let got: Vec<TraceId> = traces
        .iter()
        .map(|t| t.trace_id().unwrap_or_default())
        .collect();
    assert_eq!(names(&got), names(want), "{what}: find_traces ({q:?})");
    for t in &traces {
        let id = t.trace_id().unwrap_or_default();
        if let Some(n) = ds.span_counts.get(&id) {
            assert_eq!(
                t.span_count(),
                *n,
                "{what}: {} is not complete",
                ds.name(&id)
            );
        }
    }
    let ids = storage
        .reader
        .find_trace_ids(&q)
        .await
        .unwrap_or_else(|e| panic!("{what}: find_trace_ids failed: {e}"));
    assert_eq!(names(&ids), names(want), "{what}: find_trace_ids ({q:?})");
}

// ---------------------------------------------------------------------------------------
// Cases: reads and writes

/// Every field a user sees survives a write and read back.
pub async fn case_write_then_get_trace(storage: &Storage) {
    let t0 = reference_time();
    let id = trace_id(1);
    let other = trace_id(2);
    let ms = MILLISECOND;
    let spans = vec![
        TestSpan::new(
            id,
            1,
            "frontend",
            "GET /dispatch",
            t0 + 7 * MICROSECOND,
            250 * ms,
        )
        .kind(SpanKind::Server)
        .resource_attr("host.name", str_val("node-1"))
        .resource_attr("process.pid", int_val(4242))
        .scope("io.opentelemetry.http", "2.3.0")
        .attr("http.method", str_val("GET"))
        .attr("http.status_code", int_val(200))
        .attr("sampled", bool_val(true))
        .attr("load", double_val(0.75))
        .attr("payload", bytes_val(&[0xde, 0xad, 0xbe, 0xef]))
        .event(
            "request received",
            t0 + ms,
            vec![kv("size", int_val(512)), kv("client", str_val("web"))],
        )
        .event("done", t0 + 240 * ms, vec![])
        .link(other, 9)
        .status(StatusCode::Ok, ""),
        TestSpan::new(id, 2, "frontend", "SELECT", t0 + 10 * ms, 30 * ms)
            .kind(SpanKind::Client)
            .parent(1)
            .resource_attr("host.name", str_val("node-1"))
            .resource_attr("process.pid", int_val(4242))
            .attr("db.statement", str_val("SELECT 1"))
            .error("timeout"),
        TestSpan::new(id, 3, "redis", "GET", t0 + 50 * ms, 2 * ms)
            .kind(SpanKind::Internal)
            .parent(1)
            .attr("ratio", double_val(1e-7)),
    ];
    write(storage, &spans).await;

    let trace = must_get(storage, id, "write then get").await;
    assert_eq!(trace.trace_id(), Some(id));
    assert_same_spans(&trace, &spans, "write then get");
}

pub async fn case_get_unknown_trace(storage: &Storage) {
    let t0 = reference_time();
    write(
        storage,
        &[TestSpan::new(trace_id(1), 1, "svc", "op", t0, MILLISECOND)],
    )
    .await;
    assert!(
        get(storage, trace_id(999)).await.is_none(),
        "unknown trace id"
    );
    // Same low half, different high half: a different trace.
    let twin = TraceId::from_u64s(0, trace_id(1).low());
    assert!(
        get(storage, twin).await.is_none(),
        "trace id differing in the high half"
    );
}

/// Retried writes, whole or overlapping, never duplicate spans.
pub async fn case_rewrite_is_idempotent(storage: &Storage) {
    let t0 = reference_time();
    let id = trace_id(7);
    let spans: Vec<TestSpan> = (1..=4)
        .map(|i| {
            TestSpan::new(id, i, "svc", "op", t0 + i * MILLISECOND, MILLISECOND)
                .attr("i", int_val(i as i64))
                .event("e", t0 + i * MILLISECOND, vec![])
        })
        .collect();
    write(storage, &spans[..3]).await;
    write(storage, &spans[..3]).await;
    // A retry that overlaps with new spans.
    write(storage, &spans[1..]).await;

    let trace = must_get(storage, id, "rewrite").await;
    assert_same_spans(&trace, &spans, "rewrite");

    let q = TraceQuery {
        start_time_min: t0,
        start_time_max: t0 + MINUTE,
        num_traces: 10,
        ..Default::default()
    }
    .service("svc");
    let found = storage.reader.find_traces(&q).await.expect("find_traces");
    assert_eq!(found.len(), 1, "one trace found after rewrites");
    assert_same_spans(&found[0], &spans, "rewrite, found by search");
    let ids = storage
        .reader
        .find_trace_ids(&q)
        .await
        .expect("find_trace_ids");
    assert_eq!(ids, vec![id]);
}

/// Spans of one trace from two services, written in two batches, read back as one trace.
pub async fn case_trace_written_in_two_batches(storage: &Storage) {
    let t0 = reference_time();
    let id = trace_id(3);
    let ms = MILLISECOND;
    let a = vec![
        TestSpan::new(id, 1, "api", "handle", t0, 100 * ms).kind(SpanKind::Server),
        TestSpan::new(id, 2, "api", "call db", t0 + ms, 50 * ms)
            .kind(SpanKind::Client)
            .parent(1),
    ];
    let b = vec![
        TestSpan::new(id, 3, "db", "query", t0 + 2 * ms, 40 * ms)
            .kind(SpanKind::Server)
            .parent(2)
            .resource_attr("db.instance", str_val("primary")),
    ];
    // An unrelated trace in the second batch too.
    let unrelated = TestSpan::new(trace_id(4), 1, "db", "vacuum", t0 + 5 * ms, ms);
    write(storage, &a).await;
    let mut second = b.clone();
    second.push(unrelated.clone());
    write(storage, &second).await;

    let all: Vec<TestSpan> = a.iter().chain(&b).cloned().collect();
    assert_same_spans(
        &must_get(storage, id, "two batches").await,
        &all,
        "two batches",
    );
    assert_same_spans(
        &must_get(storage, trace_id(4), "unrelated").await,
        &[unrelated],
        "unrelated trace in the same batch",
    );

    // Found by the second service, the whole trace comes back.
    let q = TraceQuery {
        start_time_min: t0,
        start_time_max: t0 + MINUTE,
        num_traces: 10,
        ..Default::default()
    }
    .service("db")
    .operation("query");
    let found = storage.reader.find_traces(&q).await.expect("find_traces");
    assert_eq!(found.len(), 1);
    assert_same_spans(&found[0], &all, "two batches, found by second service");
}

pub async fn case_services_and_operations(storage: &Storage) {
    write_dataset(storage).await;
    let services = storage.reader.get_services().await.expect("get_services");
    assert_eq!(services, vec!["auth", "backend", "frontend", "worker"]);

    let ops = |service: &str, kind: Option<&str>| OperationQuery {
        service_name: service.to_string(),
        span_kind: kind.map(str::to_string),
    };
    let op = |name: &str, kind: &str| Operation {
        name: name.to_string(),
        span_kind: kind.to_string(),
    };
    let cases = [
        (
            ops("frontend", None),
            vec![
                op("GET /", "internal"),
                op("GET /", "server"),
                op("POST /login", "server"),
                op("call-backend", "client"),
                op("helper", ""),
            ],
        ),
        (
            ops("frontend", Some("server")),
            vec![op("GET /", "server"), op("POST /login", "server")],
        ),
        (
            ops("frontend", Some("client")),
            vec![op("call-backend", "client")],
        ),
        (
            ops("frontend", Some("internal")),
            vec![op("GET /", "internal")],
        ),
        (ops("frontend", Some("")), vec![op("helper", "")]),
        (ops("frontend", Some("consumer")), vec![]),
        (ops("backend", None), vec![op("query", "server")]),
        (
            ops("worker", Some("consumer")),
            vec![op("process", "consumer")],
        ),
        (ops("auth", None), vec![op("check", "internal")]),
        (ops("nope", None), vec![]),
    ];
    for (q, want) in cases {
        let got = storage
            .reader
            .get_operations(&q)
            .await
            .expect("get_operations");
        assert_eq!(got, want, "operations for {q:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Cases: search

pub async fn case_find_by_service(storage: &Storage) {
    let ds = write_dataset(storage).await;
    let q = || ds.query();
    expect(
        storage,
        &ds,
        q().service("frontend"),
        &[ds.t5, ds.t3, ds.t1],
        "frontend",
    )
    .await;
    // T3 is found by its child span; the whole trace (both services) comes back.
    expect(
        storage,
        &ds,
        q().service("backend"),
        &[ds.t3, ds.t2],
        "backend",
    )
    .await;
    expect(storage, &ds, q().service("auth"), &[ds.t5], "auth").await;
    expect(storage, &ds, q().service("worker"), &[ds.t4], "worker").await;
}

pub async fn case_find_by_service_and_operation(storage: &Storage) {
    let ds = write_dataset(storage).await;
    let q = || ds.query();
    expect(
        storage,
        &ds,
        q().service("frontend").operation("GET /"),
        &[ds.t3, ds.t1],
        "GET /",
    )
    .await;
    expect(
        storage,
        &ds,
        q().service("backend").operation("query"),
        &[ds.t3, ds.t2],
        "query",
    )
    .await;
    expect(
        storage,
        &ds,
        q().service("frontend").operation("helper"),
        &[ds.t5],
        "helper",
    )
    .await;
    // "query" is a backend operation; T3 has it, but not on a frontend span.
    expect(
        storage,
        &ds,
        q().service("frontend").operation("query"),
        &[],
        "op of another service",
    )
    .await;
}

pub async fn case_find_by_span_tag(storage: &Storage) {
    let ds = write_dataset(storage).await;
    let q = || ds.query();
    expect(
        storage,
        &ds,
        q().tag("http.method", "GET"),
        &[ds.t3, ds.t1],
        "http.method=GET",
    )
    .await;
    expect(
        storage,
        &ds,
        q().service("frontend").tag("http.method", "POST"),
        &[ds.t5],
        "POST",
    )
    .await;
    expect(
        storage,
        &ds,
        q().tag("peer.service", "backend"),
        &[ds.t1],
        "peer.service",
    )
    .await;
    expect(
        storage,
        &ds,
        q().service("backend").tag("db.system", "postgres"),
        &[ds.t2],
        "db.system",
    )
    .await;
    // Tags and service must be on the same span.
    expect(
        storage,
        &ds,
        q().service("frontend").tag("db.system", "mysql"),
        &[],
        "service+tag on other span",
    )
    .await;
    // Values are compared exactly.
    expect(
        storage,
        &ds,
        q().tag("http.method", "get"),
        &[],
        "case-sensitive value",
    )
    .await;
}

pub async fn case_find_by_resource_tag(storage: &Storage) {
    let ds = write_dataset(storage).await;
    let q = || ds.query();
    expect(
        storage,
        &ds,
        q().tag("host.name", "host-a"),
        &[ds.t4, ds.t1],
        "host-a",
    )
    .await;
    expect(
        storage,
        &ds,
        q().tag("host.name", "host-b"),
        &[ds.t3, ds.t2],
        "host-b",
    )
    .await;
    expect(
        storage,
        &ds,
        q().service("frontend").tag("host.name", "host-c"),
        &[ds.t5, ds.t3],
        "frontend host-c",
    )
    .await;
    // The backend span of T3 runs on host-b, not host-c.
    expect(
        storage,
        &ds,
        q().service("backend").tag("host.name", "host-c"),
        &[],
        "backend host-c",
    )
    .await;
}

pub async fn case_find_by_event_tag(storage: &Storage) {
    let ds = write_dataset(storage).await;
    let q = || ds.query();
    expect(
        storage,
        &ds,
        q().tag("cache.key", "user:42"),
        &[ds.t2],
        "event attr",
    )
    .await;
    expect(
        storage,
        &ds,
        q().service("backend").tag("cache.key", "user:42"),
        &[ds.t2],
        "event attr + service",
    )
    .await;
    expect(
        storage,
        &ds,
        q().service("frontend").tag("cache.key", "user:42"),
        &[],
        "event attr, other service",
    )
    .await;
    expect(
        storage,
        &ds,
        q().tag("cache.key", "user:43"),
        &[],
        "event attr, other value",
    )
    .await;
}

/// Non-string attributes match by their string form.
pub async fn case_tag_value_types(storage: &Storage) {
    let ds = write_dataset(storage).await;
    let q = || ds.query();
    expect(
        storage,
        &ds,
        q().tag("http.status_code", "500"),
        &[ds.t3],
        "int 500",
    )
    .await;
    expect(
        storage,
        &ds,
        q().tag("http.status_code", "200"),
        &[ds.t1],
        "int 200",
    )
    .await;
    expect(
        storage,
        &ds,
        q().tag("http.status_code", "404"),
        &[],
        "int 404",
    )
    .await;
    expect(
        storage,
        &ds,
        q().tag("retry", "false"),
        &[ds.t1],
        "bool false",
    )
    .await;
    expect(storage, &ds, q().tag("retry", "true"), &[], "bool true").await;
    expect(
        storage,
        &ds,
        q().tag("latency.ratio", "0.25"),
        &[ds.t2],
        "double",
    )
    .await;
    expect(
        storage,
        &ds,
        q().tag("latency.ratio", "0.5"),
        &[],
        "double, other value",
    )
    .await;
}

/// Several tags are ANDed, and all must be on one span (Jaeger's memory store semantics).
pub async fn case_tags_must_match_on_one_span(storage: &Storage) {
    let ds = write_dataset(storage).await;
    let q = || ds.query();
    expect(
        storage,
        &ds,
        q().tag("http.method", "GET").tag("http.status_code", "500"),
        &[ds.t3],
        "GET+500",
    )
    .await;
    expect(
        storage,
        &ds,
        q().tag("http.method", "GET").tag("http.status_code", "200"),
        &[ds.t1],
        "GET+200",
    )
    .await;
    expect(
        storage,
        &ds,
        q().tag("http.method", "POST")
            .tag("http.status_code", "500"),
        &[],
        "POST+500",
    )
    .await;
    // Span tag + resource tag of the same span.
    expect(
        storage,
        &ds,
        q().tag("http.method", "GET").tag("host.name", "host-c"),
        &[ds.t3],
        "GET+host-c",
    )
    .await;
    // Both exist in T1 and T3, but on different spans.
    expect(
        storage,
        &ds,
        q().tag("http.method", "GET").tag("peer.service", "backend"),
        &[],
        "T1 split",
    )
    .await;
    expect(
        storage,
        &ds,
        q().tag("http.method", "GET").tag("db.system", "mysql"),
        &[],
        "T3 split",
    )
    .await;
}

/// `error=true` finds spans with ERROR status, as Jaeger stores them with an `error` tag.
pub async fn case_find_by_error_tag(storage: &Storage) {
    let ds = write_dataset(storage).await;
    let q = || ds.query();
    expect(
        storage,
        &ds,
        q().tag("error", "true"),
        &[ds.t3],
        "error=true",
    )
    .await;
    expect(
        storage,
        &ds,
        q().service("frontend").tag("error", "true"),
        &[ds.t3],
        "frontend error",
    )
    .await;
    expect(
        storage,
        &ds,
        q().service("backend").tag("error", "true"),
        &[],
        "backend error",
    )
    .await;
}

pub async fn case_find_by_duration(storage: &Storage) {
    let ds = write_dataset(storage).await;
    let q = || ds.query();
    let ms = MILLISECOND;
    expect(
        storage,
        &ds,
        q().duration(Some(900 * ms), None),
        &[ds.t4, ds.t3],
        "min 900ms",
    )
    .await;
    // T1 has a 10 ms span, T5 only short ones.
    expect(
        storage,
        &ds,
        q().duration(None, Some(15 * ms)),
        &[ds.t5, ds.t1],
        "max 15ms",
    )
    .await;
    // T3 matches by its 800 ms child, T2 by its 300 ms root.
    expect(
        storage,
        &ds,
        q().duration(Some(250 * ms), Some(850 * ms)),
        &[ds.t3, ds.t2],
        "250..850ms",
    )
    .await;
    expect(
        storage,
        &ds,
        q().service("frontend").duration(Some(500 * ms), None),
        &[ds.t3],
        "frontend min",
    )
    .await;
    // T3's backend span is 800 ms: only T2 has a backend span under 500 ms.
    expect(
        storage,
        &ds,
        q().service("backend").duration(None, Some(500 * ms)),
        &[ds.t2],
        "backend max",
    )
    .await;
    expect(
        storage,
        &ds,
        q().service("frontend")
            .operation("GET /")
            .duration(None, Some(60 * ms)),
        &[ds.t1],
        "op + max",
    )
    .await;
    expect(
        storage,
        &ds,
        q().duration(Some(3 * SECOND), None),
        &[],
        "min 3s",
    )
    .await;
}

pub async fn case_duration_bounds_inclusive(storage: &Storage) {
    let ds = write_dataset(storage).await;
    let q = || ds.query();
    let ms = MILLISECOND;
    expect(
        storage,
        &ds,
        q().duration(Some(300 * ms), Some(300 * ms)),
        &[ds.t2],
        "exactly 300ms",
    )
    .await;
    expect(
        storage,
        &ds,
        q().duration(Some(800 * ms), Some(800 * ms)),
        &[ds.t3],
        "exactly 800ms",
    )
    .await;
    expect(
        storage,
        &ds,
        q().duration(Some(2 * SECOND), None),
        &[ds.t4],
        "min = 2s",
    )
    .await;
    expect(
        storage,
        &ds,
        q().duration(None, Some(ms)),
        &[ds.t5],
        "max = 1ms",
    )
    .await;
}

/// The start window applies to the matching span; the trace is returned whole.
pub async fn case_start_time_window(storage: &Storage) {
    let ds = write_dataset(storage).await;
    let (t0, ms) = (ds.t0, MILLISECOND);
    let q = || ds.query();
    let mid = q().window(t0 + 90 * SECOND, t0 + 270 * SECOND);
    expect(
        storage,
        &ds,
        mid.clone(),
        &[ds.t4, ds.t3, ds.t2],
        "1.5m..4.5m",
    )
    .await;
    expect(
        storage,
        &ds,
        mid.service("frontend"),
        &[ds.t3],
        "1.5m..4.5m frontend",
    )
    .await;
    // Only T3's backend child starts in this window; its frontend root starts before.
    let child = q().window(t0 + 3 * MINUTE + 50 * ms, t0 + 3 * MINUTE + 500 * ms);
    expect(storage, &ds, child.clone(), &[ds.t3], "child window").await;
    expect(
        storage,
        &ds,
        child.clone().service("backend"),
        &[ds.t3],
        "child window backend",
    )
    .await;
    expect(
        storage,
        &ds,
        child.service("frontend"),
        &[],
        "child window frontend",
    )
    .await;
    expect(
        storage,
        &ds,
        q().window(t0 - HOUR, t0 - MINUTE),
        &[],
        "before everything",
    )
    .await;
    expect(
        storage,
        &ds,
        q().window(t0 + 6 * MINUTE, t0 + HOUR),
        &[],
        "after everything",
    )
    .await;
}

pub async fn case_limit_returns_most_recent(storage: &Storage) {
    let ds = write_dataset(storage).await;
    let q = || ds.query();
    expect(storage, &ds, q().limit(2), &[ds.t5, ds.t4], "limit 2").await;
    expect(
        storage,
        &ds,
        q().service("frontend").limit(2),
        &[ds.t5, ds.t3],
        "frontend limit 2",
    )
    .await;
    expect(
        storage,
        &ds,
        q().service("backend").limit(1),
        &[ds.t3],
        "backend limit 1",
    )
    .await;

    // Thirty more traces, one second apart, written in a scrambled order.
    let base = ds.t0 + 20 * MINUTE;
    for i in 0..30u64 {
        let n = (i * 7) % 30;
        let span = TestSpan::new(
            trace_id(1000 + n),
            1,
            "batch",
            "job",
            base + n * SECOND,
            MILLISECOND,
        );
        write(storage, &[span]).await;
    }
    let want: Vec<TraceId> = (20..30u64).rev().map(|n| trace_id(1000 + n)).collect();
    let q = q().window(base, base + MINUTE).service("batch").limit(10);
    expect(storage, &ds, q.clone(), &want, "10 most recent of 30").await;
    let want: Vec<TraceId> = (0..30u64).rev().map(|n| trace_id(1000 + n)).collect();
    expect(storage, &ds, q.limit(100), &want, "all 30, newest first").await;
}

pub async fn case_no_match_is_empty(storage: &Storage) {
    let ds = write_dataset(storage).await;
    let q = || ds.query();
    expect(storage, &ds, q().service("nope"), &[], "unknown service").await;
    expect(
        storage,
        &ds,
        q().service("frontend").operation("nope"),
        &[],
        "unknown operation",
    )
    .await;
    expect(storage, &ds, q().tag("nope", "nope"), &[], "unknown tag").await;
    expect(
        storage,
        &ds,
        q().tag("http.method", "PATCH"),
        &[],
        "unknown tag value",
    )
    .await;
    expect(
        storage,
        &ds,
        q().service("worker").tag("http.method", "GET"),
        &[],
        "tag of another service",
    )
    .await;
}

pub async fn case_find_trace_ids_agrees_with_find_traces(storage: &Storage) {
    let ds = write_dataset(storage).await;
    let queries = [
        ds.query(),
        ds.query().service("frontend"),
        ds.query().service("backend").operation("query"),
        ds.query().tag("host.name", "host-a"),
        ds.query().duration(Some(50 * MILLISECOND), None).limit(3),
        ds.query().service("nope"),
    ];
    for q in queries {
        if limits().rejects(&q) {
            expect_rejected(storage, &q, "find_trace_ids vs find_traces").await;
            continue;
        }
        let traces = storage.reader.find_traces(&q).await.expect("find_traces");
        let from_traces: Vec<TraceId> = traces.iter().filter_map(Trace::trace_id).collect();
        let ids = storage
            .reader
            .find_trace_ids(&q)
            .await
            .expect("find_trace_ids");
        assert_eq!(ids, from_traces, "find_trace_ids vs find_traces for {q:?}");
    }
}

pub async fn case_search_without_service(storage: &Storage) {
    let ds = write_dataset(storage).await;
    let q = || ds.query();
    expect(
        storage,
        &ds,
        q(),
        &[ds.t5, ds.t4, ds.t3, ds.t2, ds.t1],
        "window only",
    )
    .await;
    expect(storage, &ds, q().tag("queue", "jobs"), &[ds.t4], "tag only").await;
    expect(
        storage,
        &ds,
        q().duration(Some(SECOND), None),
        &[ds.t4, ds.t3],
        "duration only",
    )
    .await;
    expect(
        storage,
        &ds,
        q().tag("host.name", "host-a").duration(Some(SECOND), None),
        &[ds.t4],
        "tag + duration",
    )
    .await;
}

/// The time window of a lookup is a hint: it never hides the trace or any of its spans.
pub async fn case_get_trace_with_time_window(storage: &Storage) {
    let t0 = reference_time();
    let id = trace_id(11);
    let spans = vec![
        TestSpan::new(id, 1, "svc", "root", t0 + MINUTE, 3 * SECOND).kind(SpanKind::Server),
        TestSpan::new(
            id,
            2,
            "svc",
            "late child",
            t0 + MINUTE + 2 * SECOND,
            500 * MILLISECOND,
        )
        .parent(1),
    ];
    write(storage, &spans).await;
    let root_start = t0 + MINUTE;
    for (start, end) in [
        (Some(t0), Some(t0 + 2 * MINUTE)),
        (Some(root_start), Some(root_start + 3 * SECOND)),
        (Some(root_start), Some(root_start + MICROSECOND)),
        (Some(root_start), None),
        (None, Some(root_start + SECOND)),
    ] {
        let got = storage
            .reader
            .get_trace(GetTraceParams {
                trace_id: id,
                start,
                end,
            })
            .await
            .expect("get_trace with window")
            .unwrap_or_else(|| panic!("trace not found with window {start:?}..{end:?}"));
        assert_same_spans(&got, &spans, "get_trace with window");
    }
}

// ---------------------------------------------------------------------------------------
// Cases: dependencies, size, concurrency, health

fn sorted_links(mut links: Vec<DependencyLink>) -> Vec<(String, String, u64, String)> {
    let mut out: Vec<_> = links
        .drain(..)
        .map(|l| (l.parent, l.child, l.call_count, l.source))
        .collect();
    out.sort();
    out
}

pub async fn case_dependencies(storage: &Storage) {
    let t0 = reference_time();
    let deps = &storage.dependencies;
    let link = |p: &str, c: &str, n: u64, source: &str| DependencyLink {
        parent: p.into(),
        child: c.into(),
        call_count: n,
        source: source.into(),
    };
    let row = |p: &str, c: &str, n: u64| (p.to_string(), c.to_string(), n, "jaeger".to_string());
    // Two adjacent windows of 30 minutes, well apart from each other's query ranges.
    let (w1, w2) = (t0 - 2 * HOUR, t0 - HOUR);
    let len = 30 * MINUTE;
    deps.write_dependencies(w1, w1 + len, vec![link("a", "b", 3, "jaeger")])
        .await
        .expect("write w1");
    deps.write_dependencies(
        w2,
        w2 + len,
        vec![link("a", "c", 5, "jaeger"), link("c", "d", 1, "")],
    )
    .await
    .expect("write w2");

    let read = |end: UnixNanos, lookback: u64| async move {
        sorted_links(
            deps.get_dependencies(end, lookback)
                .await
                .expect("get_dependencies"),
        )
    };
    assert_eq!(
        read(w1 + 20 * MINUTE, 10 * MINUTE).await,
        vec![row("a", "b", 3)],
        "w1 only"
    );
    // An empty source reads back as Jaeger's default.
    assert_eq!(
        read(w2 + 20 * MINUTE, 10 * MINUTE).await,
        vec![row("a", "c", 5), row("c", "d", 1)],
        "w2 only"
    );
    assert_eq!(
        read(t0, 3 * HOUR).await,
        vec![row("a", "b", 3), row("a", "c", 5), row("c", "d", 1)],
        "both windows"
    );
    assert_eq!(
        read(w1 - HOUR, 10 * MINUTE).await,
        vec![],
        "before any window"
    );

    // Writing a window again replaces its links.
    deps.write_dependencies(w2, w2 + len, vec![link("x", "y", 7, "jaeger")])
        .await
        .expect("rewrite w2");
    assert_eq!(
        read(w2 + 20 * MINUTE, 10 * MINUTE).await,
        vec![row("x", "y", 7)],
        "w2 replaced"
    );
    assert_eq!(
        read(t0, 3 * HOUR).await,
        vec![row("a", "b", 3), row("x", "y", 7)],
        "w1 kept, w2 replaced"
    );
    deps.write_dependencies(w1, w1 + len, vec![])
        .await
        .expect("clear w1");
    assert_eq!(
        read(t0, 3 * HOUR).await,
        vec![row("x", "y", 7)],
        "w1 cleared"
    );
}

/// A 5,000-span trace written in five batches round-trips and is found whole.
pub async fn case_large_trace(storage: &Storage) {
    let t0 = reference_time();
    let id = trace_id(5000);
    let services = ["gateway", "orders", "payments", "inventory"];
    let spans: Vec<TestSpan> = (1..=5000u64)
        .map(|i| {
            let svc = services[(i % 4) as usize];
            let mut s = TestSpan::new(
                id,
                i,
                svc,
                &format!("op-{}", i % 25),
                t0 + i * MICROSECOND * 100,
                (i % 97 + 1) * MICROSECOND,
            )
            .kind(SpanKind::Internal)
            .attr("index", int_val(i as i64))
            .attr("label", str_val(&format!("span number {i}")));
            if i > 1 {
                s = s.parent(i / 2);
            }
            s
        })
        .collect();
    for chunk in spans.chunks(1000) {
        write(storage, chunk).await;
    }
    let trace = must_get(storage, id, "large trace").await;
    assert_eq!(trace.span_count(), 5000, "large trace span count");
    assert_same_spans(&trace, &spans, "large trace");

    let q = TraceQuery {
        start_time_min: t0,
        start_time_max: t0 + HOUR,
        num_traces: 10,
        ..Default::default()
    }
    .service("payments")
    .tag("index", "4002");
    let found = storage.reader.find_traces(&q).await.expect("find_traces");
    assert_eq!(found.len(), 1, "large trace found by a tag of one span");
    assert_eq!(found[0].span_count(), 5000, "found large trace is whole");
}

/// Writers in parallel tasks lose nothing.
pub async fn case_concurrent_writes(storage: &Storage) {
    let t0 = reference_time();
    let tasks: Vec<_> = (0..8u64)
        .map(|w| {
            let storage = storage.clone();
            tokio::spawn(async move {
                for j in 0..25u64 {
                    let n = 10_000 + w * 100 + j;
                    let id = trace_id(n);
                    let start = t0 + n * MILLISECOND;
                    let spans = [
                        TestSpan::new(id, 1, "load", "root", start, 10 * MILLISECOND),
                        TestSpan::new(id, 2, "load", "child", start + MILLISECOND, MILLISECOND)
                            .parent(1),
                        TestSpan::new(
                            id,
                            3,
                            &format!("writer-{w}"),
                            "leaf",
                            start + 2 * MILLISECOND,
                            MILLISECOND,
                        )
                        .parent(2),
                    ];
                    storage
                        .writer
                        .write_spans(batch(&spans))
                        .await
                        .expect("concurrent write");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer task panicked");
    }
    for w in 0..8u64 {
        for j in 0..25u64 {
            let id = trace_id(10_000 + w * 100 + j);
            let trace = must_get(storage, id, "concurrent").await;
            assert_eq!(trace.span_count(), 3, "trace {id} span count");
        }
    }
    let q = TraceQuery {
        start_time_min: t0,
        start_time_max: t0 + HOUR,
        num_traces: 1000,
        ..Default::default()
    }
    .service("load");
    let ids = storage
        .reader
        .find_trace_ids(&q)
        .await
        .expect("find_trace_ids");
    assert_eq!(ids.len(), 200, "all concurrently written traces found");
    let services = storage.reader.get_services().await.expect("get_services");
    assert_eq!(services.len(), 9, "services: {services:?}");
}

pub async fn case_health(storage: &Storage) {
    assert!(
        storage.health.is_healthy().await,
        "a fresh store is healthy"
    );
}

/// Runs `scan_spans` through a channel of one slot (the scan must wait for the reader)
/// and returns every span handed out, plus the number of chunks.
async fn scan_all(storage: &Storage, start: UnixNanos, end: UnixNanos) -> (Vec<SpanView>, usize) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let reader = storage.reader.clone();
    let scan = tokio::spawn(async move { reader.scan_spans(start, end, tx).await });
    let mut got = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = rx.recv().await {
        chunks += 1;
        got.extend(span_views(&chunk));
    }
    match scan.await.expect("scan task") {
        Ok(()) => {}
        Err(e) => panic!("scan_spans failed (the dependencies job needs it): {e}"),
    }
    got.sort();
    got.dedup();
    (got, chunks)
}

/// `scan_spans` returns the spans starting in `[start, end)`, start inclusive, end
/// exclusive, whole (resource, attributes, links), across traces and write batches.
pub async fn case_scan_spans_window(storage: &Storage) {
    let t0 = reference_time();
    let (a, b, c) = (trace_id(9001), trace_id(9002), trace_id(9003));
    let start = t0 + 10 * MINUTE;
    let end = t0 + 20 * MINUTE;
    let before = TestSpan::new(a, 1, "frontend", "GET /", start - MICROSECOND, MILLISECOND)
        .kind(SpanKind::Server);
    let first = TestSpan::new(a, 2, "frontend", "call", start, MILLISECOND)
        .kind(SpanKind::Client)
        .parent(1)
        .attr("peer.service", str_val("db"));
    let middle = TestSpan::new(a, 3, "backend", "serve", start + MINUTE, MILLISECOND)
        .kind(SpanKind::Server)
        .parent(2)
        .resource_attr("host.name", str_val("b1"));
    let last = TestSpan::new(b, 1, "worker", "consume", end - MICROSECOND, MILLISECOND)
        .kind(SpanKind::Consumer)
        .link(a, 3);
    let at_end = TestSpan::new(b, 2, "worker", "later", end, MILLISECOND).parent(1);
    let after = TestSpan::new(c, 1, "worker", "much later", end + HOUR / 2, MILLISECOND);
    write(storage, &[before.clone(), first.clone()]).await;
    write(storage, &[middle.clone(), last.clone(), at_end.clone()]).await;
    write(storage, std::slice::from_ref(&after)).await;
    // Written twice: may be handed out twice, never missing.
    write(storage, std::slice::from_ref(&middle)).await;

    let (got, _) = scan_all(storage, start, end).await;
    let want = span_views(&batch(&[first, middle, last]));
    assert_eq!(got, want, "scan_spans: spans starting in [start, end)");

    let (got, _) = scan_all(storage, end + HOUR, end + 2 * HOUR).await;
    assert!(got.is_empty(), "scan_spans of an empty window: {got:?}");
    let (got, _) = scan_all(storage, t0, t0 + 2 * HOUR).await;
    assert_eq!(got.len(), 6, "scan_spans of a window holding everything");
}

/// A large window comes in several chunks, and a reader that hangs up stops the scan.
pub async fn case_scan_spans_many_chunks(storage: &Storage) {
    let t0 = reference_time();
    let spans: Vec<TestSpan> = (0..20_000u64)
        .map(|i| {
            TestSpan::new(
                trace_id(10_000 + i / 10),
                i % 10 + 1,
                ["svc-a", "svc-b", "svc-c"][(i % 3) as usize],
                "op",
                t0 + i * MILLISECOND,
                MICROSECOND,
            )
        })
        .collect();
    for chunk in spans.chunks(2_000) {
        write(storage, chunk).await;
    }
    let (got, chunks) = scan_all(storage, t0, t0 + HOUR).await;
    assert_eq!(got.len(), 20_000, "scan_spans: every span of a big window");
    assert!(chunks > 1, "scan_spans sent 20000 spans in one chunk");

    // The reader takes one chunk and goes away: the scan must end, not wait forever.
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let reader = storage.reader.clone();
    let scan = tokio::spawn(async move { reader.scan_spans(t0, t0 + HOUR, tx).await });
    assert!(rx.recv().await.is_some(), "scan_spans sent nothing");
    drop(rx);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), scan)
        .await
        .expect("scan_spans kept running after the reader hung up");
    ended.expect("scan task").expect("scan_spans after hang-up");
}

/// `scan_span_links` hands out the projection of exactly what `scan_spans` hands out
/// (ids, parent, kind, start, service, `peer.service` of client/producer spans, links with
/// their reference types), whatever the backend's own decoding and parallelism.
pub async fn case_scan_span_links_agrees_with_scan_spans(storage: &Storage) {
    use crate::span_links::{REF_TYPE_ATTRIBUTE, SpanLinkChunk, SpanLinkScan};

    let t0 = reference_time();
    let (start, end) = (t0 + 10 * MINUTE, t0 + 20 * MINUTE);
    let mut spans = Vec::new();
    for i in 0..3_000u64 {
        let trace = trace_id(20_000 + i / 6);
        let at = start - MINUTE + i * 2 * MILLISECOND * 100;
        let mut s = TestSpan::new(
            trace,
            i % 6 + 1,
            ["api", "db", "queue"][(i % 3) as usize],
            "op",
            at,
            MILLISECOND,
        )
        .attr("http.method", str_val("GET"));
        s = match i % 6 {
            0 => s.kind(SpanKind::Server),
            1 => s
                .kind(SpanKind::Client)
                .parent(1)
                .attr("peer.service", str_val("redis")),
            2 => s
                .kind(SpanKind::Producer)
                .parent(1)
                .attr("peer.service", int_val(3)),
            3 => s
                .kind(SpanKind::Consumer)
                .parent(3)
                .link(trace_id(20_001 + i / 6), 3),
            4 => s
                .kind(SpanKind::Internal)
                .parent(1)
                .attr("peer.service", str_val("ignored")),
            _ => s.parent(2).link(trace, 1),
        };
        if i % 12 == 5 {
            let mut ref_link = TestSpan::new(trace, 1, "x", "x", 0, 0).link(trace, 2).links;
            ref_link[0]
                .attributes
                .push(kv(REF_TYPE_ATTRIBUTE, str_val("follows_from")));
            s.links.extend(ref_link);
        }
        if i % 50 == 7 {
            s.service = String::new();
        }
        spans.push(s);
    }
    for chunk in spans.chunks(700) {
        write(storage, chunk).await;
    }

    let scan = SpanLinkScan {
        start,
        end,
        peer_attribute: "peer.service".into(),
        parallelism: 3,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let reader = storage.reader.clone();
    let scanning = {
        let scan = scan.clone();
        tokio::spawn(async move { reader.scan_span_links(&scan, tx).await })
    };
    let mut got = Vec::new();
    while let Some(chunk) = rx.recv().await {
        got.extend(chunk.resolved());
    }
    if let Err(e) = scanning.await.expect("scan task") {
        panic!("scan_span_links failed (the dependencies job needs it): {e}");
    }
    got.sort();
    got.dedup();

    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let reader = storage.reader.clone();
    let scanning = tokio::spawn(async move { reader.scan_spans(start, end, tx).await });
    let mut want = SpanLinkChunk::default();
    while let Some(groups) = rx.recv().await {
        want.push_resource_spans(&groups, "peer.service");
    }
    scanning.await.expect("scan task").expect("scan_spans");
    let mut want = want.resolved();
    want.dedup();
    assert!(want.len() > 1_000, "the window holds spans: {}", want.len());
    assert_eq!(
        got.len(),
        want.len(),
        "scan_span_links: as many spans as scan_spans"
    );
    assert_eq!(got, want, "scan_span_links: the projection of scan_spans");
    assert!(got.iter().any(|s| s.peer == "redis"));
    assert!(got.iter().all(|s| s.peer != "ignored"));
    assert!(got.iter().any(|s| {
        s.links
            .iter()
            .any(|l| l.ref_type == crate::span_links::RefType::FollowsFrom)
    }));
}

/// The Cassandra test server's address from `JAEGER_TEST_CASSANDRA` (scripts/test starts
/// it with tests/servers/cassandra/start.sh), or `None` to skip when a test is run ad hoc
/// without one; under `JAEGER_TEST_REQUIRE_SERVERS=1` a missing server fails the test.
pub fn cassandra_test_server() -> Option<String> {
    match std::env::var("JAEGER_TEST_CASSANDRA") {
        Ok(a) if !a.is_empty() => Some(a),
        _ => {
            if std::env::var("JAEGER_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
                panic!(
                    "JAEGER_TEST_CASSANDRA is not set but JAEGER_TEST_REQUIRE_SERVERS=1: start \
                     Cassandra with tests/servers/cassandra/start.sh (scripts/test does)"
                );
            }
            eprintln!("skipped: JAEGER_TEST_CASSANDRA is not set (see tests/servers/cassandra)");
            None
        }
    }
}

/// A name no other test uses, in this process or a concurrent one:
/// `{prefix}_{pid}_{nanos}_{n}`. Valid as a Cassandra keyspace and as an OpenSearch
/// index prefix, so tests sharing one server never see each other's data.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The OpenSearch test server's URL from `JAEGER_TEST_OPENSEARCH` (scripts/test starts it
/// with tests/servers/opensearch/start.sh), or `None` to skip when a test is run ad hoc
/// without one; under `JAEGER_TEST_REQUIRE_SERVERS=1` a missing server fails the test.
pub fn opensearch_test_server() -> Option<String> {
    match std::env::var("JAEGER_TEST_OPENSEARCH") {
        Ok(a) if !a.is_empty() => Some(a),
        _ => {
            if std::env::var("JAEGER_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
                panic!(
                    "JAEGER_TEST_OPENSEARCH is not set but JAEGER_TEST_REQUIRE_SERVERS=1: start \
                     OpenSearch with tests/servers/opensearch/start.sh (scripts/test does)"
                );
            }
            eprintln!("skipped: JAEGER_TEST_OPENSEARCH is not set (see tests/servers/opensearch)");
            None
        }
    }
}

/// Deletes a test's indices and index templates under `prefix` (errors ignored: the
/// cluster may hold none of them).
pub async fn opensearch_cleanup(c: &crate::elasticsearch::EsClient, prefix: &str) {
    use crate::elasticsearch::Method;
    let _ = c
        .send(
            Method::Delete,
            &format!("/{prefix}-jaeger-*"),
            &[],
            None,
            false,
        )
        .await;
    for kind in ["span", "service"] {
        let _ = c
            .send(
                Method::Delete,
                &format!("/_template/{prefix}-jaeger-{kind}"),
                &[],
                None,
                false,
            )
            .await;
    }
}
