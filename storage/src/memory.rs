//! In-memory storage, with the semantics of Jaeger's memory store
//! (`internal/storage/v2/memory`, storage spec §3.2).
//!
//! - Whole traces are kept as OTLP, the spans of one trace id merged into one entry.
//! - At most `max_traces` traces: a new trace beyond the bound evicts the trace that was
//!   first inserted longest ago (a ring buffer by first insertion, as in Jaeger).
//! - Writes are idempotent: a span already stored with the same id, content, resource and
//!   scope is skipped. Two different spans sharing an id (Zipkin-style shared client/server
//!   spans) are both kept.
//! - A trace matches a search when ONE of its spans matches every condition (Jaeger's memory
//!   store semantics). Results are ordered by the latest start time among the trace's
//!   matching spans, newest first (ties by trace id), which is the order an index scanned
//!   newest-first yields in the indexed backends.
//! - Services and operations are never pruned on eviction (as in Jaeger).
//! - Dependencies are the links written per window by the dependencies job.
//!
//! Searches and writes run on the blocking pool; the trace map lock is held only to
//! snapshot or merge, never while matching spans or building results.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use jaeger_model::kind::kind_name;
use jaeger_model::otlp::trace::status::StatusCode;
use jaeger_model::otlp::{
    InstrumentationScope, KeyValue, Resource, ResourceSpans, ScopeSpans, Span, Value,
};
use jaeger_model::trace::{group_by_trace_owned, service_name, sort_collections, value_to_string};
use jaeger_model::{SpanId, Trace, TraceId};

use crate::{
    DependencyLink, DependencyStore, GetTraceParams, Operation, OperationQuery, Result,
    SharedTrace, SpanReader, SpanWriter, StorageError, StorageHealth, TraceQuery, UnixNanos,
};

/// Jaeger's default `source` of a dependency link.
const DEFAULT_LINK_SOURCE: &str = "jaeger";

/// The in-memory backend. Cheap to share: every handle is an `Arc`.
pub struct MemoryStore {
    state: Arc<State>,
}

struct State {
    max_traces: usize,
    traces: RwLock<Traces>,
    catalog: RwLock<BTreeMap<String, BTreeSet<Operation>>>,
    dependencies: RwLock<BTreeMap<UnixNanos, DependencyWindow>>,
}

#[derive(Default)]
struct Traces {
    map: HashMap<TraceId, Slot>,
    /// Trace ids by first insertion, oldest first: the eviction order.
    order: VecDeque<TraceId>,
}

/// One trace and the span start range used to skip it cheaply in searches.
struct Slot {
    min_start: UnixNanos,
    max_start: UnixNanos,
    /// Shared with searches in flight; a write clones it only if a search holds it.
    data: Arc<StoredTrace>,
}

#[derive(Clone, Default)]
struct StoredTrace {
    resource_spans: Vec<ResourceSpans>,
    /// Where each span id is stored (resource, scope, span index), for idempotent writes.
    positions: HashMap<SpanId, Positions>,
}

/// A span's (resource, scope, span index) in a [`StoredTrace`].
type Position = (usize, usize, usize);

/// Where one span id is stored. Almost every id is stored once (no allocation); ids
/// shared by a Zipkin client and server span, or reused, are stored more than once.
#[derive(Clone)]
enum Positions {
    One(Position),
    Many(Vec<Position>),
}

impl Positions {
    fn as_slice(&self) -> &[Position] {
        match self {
            Positions::One(p) => std::slice::from_ref(p),
            Positions::Many(v) => v,
        }
    }

    fn push(&mut self, p: Position) {
        match self {
            Positions::One(first) => *self = Positions::Many(vec![*first, p]),
            Positions::Many(v) => v.push(p),
        }
    }
}

struct DependencyWindow {
    end: UnixNanos,
    links: Vec<DependencyLink>,
}

impl MemoryStore {
    /// A store bounded to `max_traces` traces (at least 1: Jaeger rejects 0).
    pub fn new(max_traces: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Arc::new(State {
                max_traces: max_traces.max(1),
                traces: RwLock::default(),
                catalog: RwLock::default(),
                dependencies: RwLock::default(),
            }),
        })
    }

    /// Number of traces currently held.
    pub fn trace_count(&self) -> usize {
        read(&self.state.traces).map.len()
    }

    /// Runs CPU work off the async workers.
    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&State) -> Result<T> + Send + 'static,
    {
        let state = self.state.clone();
        crate::offload::run(move || f(&state))
            .await
            .map_err(|e| StorageError::Unavailable(format!("memory store task failed: {e}")))?
    }
}

// A panic while holding a lock cannot leave the maps half-updated in a way readers
// could misread (every update is a single insert/push), so poisoning is ignored.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    fn write_spans(&self, batch: Vec<ResourceSpans>) {
        let operations = new_operations(&batch, &read(&self.catalog));
        let mut groups = Vec::new();
        // The batch is ours: its spans are moved into the store, not copied.
        for (trace_id, mut rs) in group_by_trace_owned(batch) {
            if trace_id.is_zero() {
                // A span without a valid trace id can never be read back; drop it.
                tracing::warn!(
                    spans = jaeger_model::trace::span_count(&rs),
                    "memory store: dropping spans with an invalid trace id"
                );
                continue;
            }
            let (mut min_start, mut max_start) = (u64::MAX, 0);
            // Kept in key order (outside the lock): the query's `SortCollections` then
            // finds nothing to change and reads the stored spans without copying them.
            for r in rs.iter_mut() {
                sort_collections(r);
                for span in r.scope_spans.iter().flat_map(|ss| &ss.spans) {
                    min_start = min_start.min(span.start_time_unix_nano);
                    max_start = max_start.max(span.start_time_unix_nano);
                }
            }
            groups.push((trace_id, min_start, max_start, rs));
        }

        {
            let mut traces = write(&self.traces);
            for (trace_id, min_start, max_start, rs) in groups {
                let traces = &mut *traces;
                let slot = traces.map.entry(trace_id).or_insert_with(|| {
                    traces.order.push_back(trace_id);
                    Slot {
                        min_start,
                        max_start,
                        data: Arc::default(),
                    }
                });
                slot.min_start = slot.min_start.min(min_start);
                slot.max_start = slot.max_start.max(max_start);
                Arc::make_mut(&mut slot.data).merge(rs);
            }
            while traces.map.len() > self.max_traces {
                let Some(oldest) = traces.order.pop_front() else {
                    break;
                };
                traces.map.remove(&oldest);
            }
        }

        if !operations.is_empty() {
            let mut catalog = write(&self.catalog);
            for (service, op) in operations {
                catalog.entry(service).or_default().insert(op);
            }
        }
    }

    /// Snapshots the traces whose span start range overlaps the query window.
    fn candidates(&self, min: UnixNanos, max: UnixNanos) -> Vec<(TraceId, Arc<StoredTrace>)> {
        let traces = read(&self.traces);
        traces
            .map
            .iter()
            .filter(|(_, s)| s.max_start >= min && s.min_start <= max)
            .map(|(id, s)| (*id, s.data.clone()))
            .collect()
    }

    /// Matching traces, newest first, at most `num_traces` (0 = no limit).
    fn search(&self, query: &TraceQuery) -> Vec<(TraceId, Arc<StoredTrace>)> {
        let q = Prepared::new(query);
        let mut found: Vec<(UnixNanos, TraceId, Arc<StoredTrace>)> = self
            .candidates(q.start_min, q.start_max)
            .into_iter()
            .filter_map(|(id, trace)| {
                let newest = trace.latest_match(&q)?;
                Some((newest, id, trace))
            })
            .collect();
        found.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        if query.num_traces > 0 {
            found.truncate(query.num_traces);
        }
        found.into_iter().map(|(_, id, t)| (id, t)).collect()
    }
}

impl StoredTrace {
    /// Appends the spans not already stored, reusing resource and scope groups that
    /// are equal to the incoming ones.
    fn merge(&mut self, incoming: Vec<ResourceSpans>) {
        for rs in incoming {
            let ResourceSpans {
                resource,
                scope_spans,
                schema_url,
            } = rs;
            for ss in scope_spans {
                let ScopeSpans {
                    scope,
                    spans,
                    schema_url: scope_schema,
                } = ss;
                // Resolved on the first new span of this scope group.
                let mut target: Option<(usize, usize)> = None;
                for span in spans {
                    let span_id = SpanId::from_slice(&span.span_id).unwrap_or_default();
                    if self.contains(span_id, &resource, &scope, &span) {
                        continue;
                    }
                    let (ri, si) = *target.get_or_insert_with(|| {
                        self.group_for(&resource, &schema_url, &scope, &scope_schema)
                    });
                    let spans = &mut self.resource_spans[ri].scope_spans[si].spans;
                    let position = (ri, si, spans.len());
                    self.positions
                        .entry(span_id)
                        .and_modify(|p| p.push(position))
                        .or_insert(Positions::One(position));
                    spans.push(span);
                }
            }
        }
    }

    fn contains(
        &self,
        span_id: SpanId,
        resource: &Option<Resource>,
        scope: &Option<InstrumentationScope>,
        span: &Span,
    ) -> bool {
        let Some(positions) = self.positions.get(&span_id) else {
            return false;
        };
        positions.as_slice().iter().any(|&(ri, si, i)| {
            let rs = &self.resource_spans[ri];
            let ss = &rs.scope_spans[si];
            ss.spans[i] == *span && rs.resource == *resource && ss.scope == *scope
        })
    }

    fn group_for(
        &mut self,
        resource: &Option<Resource>,
        schema_url: &str,
        scope: &Option<InstrumentationScope>,
        scope_schema: &str,
    ) -> (usize, usize) {
        let ri = match self
            .resource_spans
            .iter()
            .position(|r| r.resource == *resource && r.schema_url == schema_url)
        {
            Some(ri) => ri,
            None => {
                self.resource_spans.push(ResourceSpans {
                    resource: resource.clone(),
                    scope_spans: Vec::new(),
                    schema_url: schema_url.to_string(),
                });
                self.resource_spans.len() - 1
            }
        };
        let scopes = &mut self.resource_spans[ri].scope_spans;
        let si = match scopes
            .iter()
            .position(|s| s.scope == *scope && s.schema_url == scope_schema)
        {
            Some(si) => si,
            None => {
                scopes.push(ScopeSpans {
                    scope: scope.clone(),
                    spans: Vec::new(),
                    schema_url: scope_schema.to_string(),
                });
                scopes.len() - 1
            }
        };
        (ri, si)
    }

    /// The latest start time among the spans matching the query, if any matches.
    fn latest_match(&self, q: &Prepared<'_>) -> Option<UnixNanos> {
        let mut newest = None;
        for rs in &self.resource_spans {
            let resource = rs.resource.as_ref();
            let service = resource.map(service_name).unwrap_or("");
            if q.service.is_some_and(|s| s != service) {
                continue;
            }
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    if q.matches(resource, ss.scope.as_ref(), span) {
                        newest = newest.max(Some(span.start_time_unix_nano));
                    }
                }
            }
        }
        newest
    }

    fn to_trace(&self) -> Trace {
        Trace::new(self.resource_spans.clone())
    }
}

/// The (service, operation) pairs of the batch's readable spans (valid trace id, a
/// service name) that `catalog` does not hold yet. Collected borrowed first, so a batch
/// costs one allocation per distinct operation, not per span.
fn new_operations(
    batch: &[ResourceSpans],
    catalog: &BTreeMap<String, BTreeSet<Operation>>,
) -> Vec<(String, Operation)> {
    let mut seen: HashSet<(&str, &str, &'static str)> = HashSet::new();
    for rs in batch {
        let service = rs.resource.as_ref().map(service_name).unwrap_or("");
        if service.is_empty() {
            continue;
        }
        for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
            if TraceId::from_slice(&span.trace_id).is_ok_and(|t| !t.is_zero()) {
                seen.insert((service, &span.name, kind_name(span.kind)));
            }
        }
    }
    seen.into_iter()
        .map(|(service, name, kind)| {
            let op = Operation {
                name: name.to_string(),
                span_kind: kind.to_string(),
            };
            (service, op)
        })
        .filter(|(service, op)| !catalog.get(*service).is_some_and(|ops| ops.contains(op)))
        .map(|(service, op)| (service.to_string(), op))
        .collect()
}

/// Keeps the spans whose start is in `[start, end)` (dropping emptied groups) and returns
/// how many there are. Shared with the embedded store's scan.
pub(crate) fn retain_spans_in_window(
    groups: &mut Vec<ResourceSpans>,
    start: UnixNanos,
    end: UnixNanos,
) -> usize {
    let mut kept = 0;
    for rs in groups.iter_mut() {
        for ss in rs.scope_spans.iter_mut() {
            ss.spans
                .retain(|s| s.start_time_unix_nano >= start && s.start_time_unix_nano < end);
            kept += ss.spans.len();
        }
        rs.scope_spans.retain(|ss| !ss.spans.is_empty());
    }
    groups.retain(|rs| !rs.scope_spans.is_empty());
    kept
}

/// Spans per chunk `scan_spans` sends.
const SCAN_CHUNK_SPANS: usize = 4096;

impl StoredTrace {
    /// Copies of the spans starting in `[start, end)`, grouped as stored.
    fn spans_in_window(&self, start: UnixNanos, end: UnixNanos) -> (Vec<ResourceSpans>, usize) {
        let mut kept = 0;
        let mut out = Vec::new();
        for rs in &self.resource_spans {
            let mut scopes = Vec::new();
            for ss in &rs.scope_spans {
                let spans: Vec<Span> = ss
                    .spans
                    .iter()
                    .filter(|s| s.start_time_unix_nano >= start && s.start_time_unix_nano < end)
                    .cloned()
                    .collect();
                if !spans.is_empty() {
                    kept += spans.len();
                    scopes.push(ScopeSpans {
                        scope: ss.scope.clone(),
                        spans,
                        schema_url: ss.schema_url.clone(),
                    });
                }
            }
            if !scopes.is_empty() {
                out.push(ResourceSpans {
                    resource: rs.resource.clone(),
                    scope_spans: scopes,
                    schema_url: rs.schema_url.clone(),
                });
            }
        }
        (out, kept)
    }
}

/// A query with its defaults resolved: empty strings and zero bounds mean "any".
struct Prepared<'a> {
    service: Option<&'a str>,
    operation: Option<&'a str>,
    tags: &'a [(String, String)],
    start_min: UnixNanos,
    start_max: UnixNanos,
    duration_min: u64,
    duration_max: u64,
}

impl<'a> Prepared<'a> {
    fn new(q: &'a TraceQuery) -> Self {
        Self {
            service: q.service_name.as_deref().filter(|s| !s.is_empty()),
            operation: q.operation_name.as_deref().filter(|s| !s.is_empty()),
            tags: &q.tags,
            start_min: q.start_time_min,
            // Zero means unset, as in Jaeger's memory store.
            start_max: if q.start_time_max == 0 {
                u64::MAX
            } else {
                q.start_time_max
            },
            duration_min: q.duration_min.unwrap_or(0),
            duration_max: q.duration_max.unwrap_or(u64::MAX),
        }
    }

    /// Everything but the service, which the caller checks once per resource.
    fn matches(
        &self,
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
        span: &Span,
    ) -> bool {
        if self.operation.is_some_and(|op| op != span.name) {
            return false;
        }
        let start = span.start_time_unix_nano;
        if start < self.start_min || start > self.start_max {
            return false;
        }
        let duration = span.end_time_unix_nano.saturating_sub(start);
        if duration < self.duration_min || duration > self.duration_max {
            return false;
        }
        self.tags
            .iter()
            .all(|(k, v)| tag_matches(k, v, resource, scope, span))
    }
}

/// A query tag matches a span attribute, a resource attribute or an event attribute of
/// the span (compared by string form), or one of the tags Jaeger's v1 span model derives
/// from OTLP fields (storage spec §0), so searches find what they find in Jaeger.
fn tag_matches(
    key: &str,
    want: &str,
    resource: Option<&Resource>,
    scope: Option<&InstrumentationScope>,
    span: &Span,
) -> bool {
    if attrs_match(&span.attributes, key, want)
        || resource.is_some_and(|r| attrs_match(&r.attributes, key, want))
        || span
            .events
            .iter()
            .any(|e| attrs_match(&e.attributes, key, want))
    {
        return true;
    }
    let code = span.status.as_ref().map(|s| s.code).unwrap_or_default();
    let message = span
        .status
        .as_ref()
        .map(|s| s.message.as_str())
        .unwrap_or("");
    match key {
        "error" => want == "true" && code == StatusCode::Error as i32,
        "span.kind" => !want.is_empty() && kind_name(span.kind) == want,
        "otel.status_code" => {
            (want == "OK" && code == StatusCode::Ok as i32)
                || (want == "ERROR" && code == StatusCode::Error as i32)
        }
        "otel.status_description" => !want.is_empty() && message == want,
        "otel.scope.name" => scope.is_some_and(|s| !s.name.is_empty() && s.name == want),
        "otel.scope.version" => scope.is_some_and(|s| !s.version.is_empty() && s.version == want),
        "w3c.tracestate" => !want.is_empty() && span.trace_state == want,
        // Jaeger logs carry the event name as the `event` field.
        "event" => span
            .events
            .iter()
            .any(|e| !e.name.is_empty() && e.name == want),
        _ => false,
    }
}

fn attrs_match(attrs: &[KeyValue], key: &str, want: &str) -> bool {
    attrs.iter().any(|kv| {
        kv.key == key
            && match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(v) => value_matches(v, want),
                None => false,
            }
    })
}

/// `value_to_string(v) == want`, without allocating for strings, bools and ints
/// (searches compare every span of every candidate trace).
fn value_matches(v: &Value, want: &str) -> bool {
    match v {
        Value::StringValue(s) => s == want,
        Value::BoolValue(b) => want == if *b { "true" } else { "false" },
        // Only the canonical decimal form: no '+', no leading zeros, no "-0".
        Value::IntValue(i) => {
            want.parse::<i64>() == Ok(*i)
                && !want.starts_with('+')
                && (want == "0" || !want.trim_start_matches('-').starts_with('0'))
        }
        v => value_to_string(v) == want,
    }
}

#[async_trait]
impl SpanWriter for MemoryStore {
    async fn write_spans(&self, batch: Vec<ResourceSpans>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.blocking(move |state| {
            state.write_spans(batch);
            Ok(())
        })
        .await
    }
}

impl AsRef<[ResourceSpans]> for StoredTrace {
    fn as_ref(&self) -> &[ResourceSpans] {
        &self.resource_spans
    }
}

#[async_trait]
impl SpanReader for MemoryStore {
    async fn get_trace_shared(&self, params: GetTraceParams) -> Result<Option<SharedTrace>> {
        // Lent, not copied: a write to this trace meanwhile copies it (`make_mut`).
        let data = read(&self.state.traces)
            .map
            .get(&params.trace_id)
            .map(|slot| slot.data.clone());
        Ok(data.map(|d| SharedTrace::Shared(d)))
    }

    async fn get_trace(&self, params: GetTraceParams) -> Result<Option<Trace>> {
        // The time window is only a hint; the whole trace is returned.
        let data = read(&self.state.traces)
            .map
            .get(&params.trace_id)
            .map(|slot| slot.data.clone());
        match data {
            None => Ok(None),
            // Cloning a large trace is CPU work: off the async workers.
            Some(data) => self.blocking(move |_| Ok(Some(data.to_trace()))).await,
        }
    }

    async fn find_traces(&self, query: &TraceQuery) -> Result<Vec<Trace>> {
        let query = query.clone();
        self.blocking(move |state| {
            Ok(state
                .search(&query)
                .into_iter()
                .map(|(_, t)| t.to_trace())
                .collect())
        })
        .await
    }

    async fn find_trace_ids(&self, query: &TraceQuery) -> Result<Vec<TraceId>> {
        let query = query.clone();
        self.blocking(move |state| Ok(state.search(&query).into_iter().map(|(id, _)| id).collect()))
            .await
    }

    async fn get_services(&self) -> Result<Vec<String>> {
        // BTreeMap keys are already sorted.
        Ok(read(&self.state.catalog).keys().cloned().collect())
    }

    async fn scan_spans(
        &self,
        start: UnixNanos,
        end: UnixNanos,
        sink: tokio::sync::mpsc::Sender<Vec<ResourceSpans>>,
    ) -> Result<()> {
        if start >= end {
            return Ok(());
        }
        // A snapshot of `Arc`s (cheap); span copies are made chunk by chunk off the async
        // workers, and the bounded sink keeps at most a few chunks in flight.
        let mut traces = self.state.candidates(start, end - 1).into_iter();
        loop {
            let batch: Vec<Arc<StoredTrace>> = traces.by_ref().take(256).map(|(_, t)| t).collect();
            if batch.is_empty() {
                return Ok(());
            }
            let chunks = self
                .blocking(move |_| {
                    let mut chunks = Vec::new();
                    let mut chunk = Vec::new();
                    let mut spans = 0;
                    for t in batch {
                        let (mut groups, n) = t.spans_in_window(start, end);
                        chunk.append(&mut groups);
                        spans += n;
                        if spans >= SCAN_CHUNK_SPANS {
                            chunks.push(std::mem::take(&mut chunk));
                            spans = 0;
                        }
                    }
                    if spans > 0 {
                        chunks.push(chunk);
                    }
                    Ok(chunks)
                })
                .await?;
            for chunk in chunks {
                if sink.send(chunk).await.is_err() {
                    return Ok(());
                }
            }
        }
    }

    async fn get_operations(&self, query: &OperationQuery) -> Result<Vec<Operation>> {
        let catalog = read(&self.state.catalog);
        let Some(ops) = catalog.get(&query.service_name) else {
            return Ok(Vec::new());
        };
        // BTreeSet<Operation> iterates in (name, kind) order.
        Ok(ops
            .iter()
            .filter(|op| query.span_kind.as_ref().is_none_or(|k| *k == op.span_kind))
            .cloned()
            .collect())
    }
}

#[async_trait]
impl DependencyStore for MemoryStore {
    async fn get_dependencies(&self, end: UnixNanos, lookback: u64) -> Result<Vec<DependencyLink>> {
        let start = end.saturating_sub(lookback);
        let windows = read(&self.state.dependencies);
        Ok(windows
            .range(..=end)
            .filter(|(_, w)| w.end >= start)
            .flat_map(|(_, w)| w.links.iter().cloned())
            .map(|mut link| {
                if link.source.is_empty() {
                    link.source = DEFAULT_LINK_SOURCE.to_string();
                }
                link
            })
            .collect())
    }

    async fn write_dependencies(
        &self,
        window_start: UnixNanos,
        window_end: UnixNanos,
        links: Vec<DependencyLink>,
    ) -> Result<()> {
        if window_end < window_start {
            return Err(StorageError::InvalidQuery(format!(
                "dependency window ends ({window_end}) before it starts ({window_start})"
            )));
        }
        write(&self.state.dependencies).insert(
            window_start,
            DependencyWindow {
                end: window_end,
                links,
            },
        );
        Ok(())
    }
}

#[async_trait]
impl StorageHealth for MemoryStore {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{TestSpan, batch, reference_time, trace_id};
    use jaeger_model::otlp::trace::span::SpanKind;

    const MS: u64 = 1_000_000;

    fn simple(trace: u64, start: u64) -> Vec<ResourceSpans> {
        batch(&[TestSpan::new(
            trace_id(trace),
            1,
            "svc",
            "op",
            start,
            10 * MS,
        )])
    }

    #[tokio::test]
    async fn attributes_are_kept_in_key_order() {
        let store = MemoryStore::new(3);
        let mut written = simple(1, reference_time());
        let span = &mut written[0].scope_spans[0].spans[0];
        span.attributes = vec![
            jaeger_model::trace::kv("z", Value::IntValue(1)),
            jaeger_model::trace::kv("a", Value::IntValue(2)),
        ];
        store.write_spans(written.clone()).await.unwrap();
        let params = GetTraceParams {
            trace_id: trace_id(1),
            ..Default::default()
        };
        let read = store.get_trace(params.clone()).await.unwrap().unwrap();
        let keys: Vec<&str> = read
            .spans()
            .flat_map(|s| &s.span.attributes)
            .map(|kv| kv.key.as_str())
            .collect();
        assert_eq!(keys, ["a", "z"]);
        written.iter_mut().for_each(sort_collections);
        assert_eq!(read.resource_spans, written);
        let shared = store.get_trace_shared(params).await.unwrap().unwrap();
        assert!(matches!(shared, SharedTrace::Shared(_)), "lent, not copied");
        assert_eq!(shared.resource_spans(), &written[..]);
    }

    #[tokio::test]
    async fn evicts_oldest_by_first_insertion() {
        let store = MemoryStore::new(3);
        let t0 = reference_time();
        for i in 1..=3 {
            store.write_spans(simple(i, t0 + i * MS)).await.unwrap();
        }
        // Touching trace 1 again does not make it younger: eviction is by first insertion.
        let more = batch(&[TestSpan::new(trace_id(1), 2, "svc", "op2", t0, MS)]);
        store.write_spans(more).await.unwrap();
        store.write_spans(simple(4, t0 + 4 * MS)).await.unwrap();
        assert_eq!(store.trace_count(), 3);
        let get = |n| GetTraceParams {
            trace_id: trace_id(n),
            ..Default::default()
        };
        assert!(store.get_trace(get(1)).await.unwrap().is_none());
        for n in 2..=4 {
            assert!(
                store.get_trace(get(n)).await.unwrap().is_some(),
                "trace {n}"
            );
        }
        // Services and operations survive eviction, as in Jaeger.
        let ops = store
            .get_operations(&OperationQuery {
                service_name: "svc".into(),
                span_kind: None,
            })
            .await
            .unwrap();
        assert_eq!(ops.len(), 2);
    }

    #[tokio::test]
    async fn zero_bound_is_clamped_to_one() {
        let store = MemoryStore::new(0);
        let t0 = reference_time();
        store.write_spans(simple(1, t0)).await.unwrap();
        store.write_spans(simple(2, t0)).await.unwrap();
        assert_eq!(store.trace_count(), 1);
    }

    #[tokio::test]
    async fn same_id_different_content_is_kept() {
        // Zipkin-style shared spans: client and server halves share one span id.
        let store = MemoryStore::new(10);
        let t0 = reference_time();
        let client = TestSpan::new(trace_id(1), 7, "a", "call", t0, MS).kind(SpanKind::Client);
        let server = TestSpan::new(trace_id(1), 7, "b", "call", t0, MS).kind(SpanKind::Server);
        store
            .write_spans(batch(std::slice::from_ref(&client)))
            .await
            .unwrap();
        store.write_spans(batch(&[server, client])).await.unwrap();
        let trace = store
            .get_trace(GetTraceParams {
                trace_id: trace_id(1),
                ..Default::default()
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(trace.span_count(), 2);
    }

    #[tokio::test]
    async fn spans_without_trace_id_are_dropped() {
        let store = MemoryStore::new(10);
        let mut rs = simple(1, reference_time());
        rs[0].scope_spans[0].spans[0].trace_id = vec![1, 2, 3];
        store.write_spans(rs).await.unwrap();
        assert_eq!(store.trace_count(), 0);
        // Nor do they name a service or operation no trace can be found for.
        assert!(store.get_services().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn synthetic_jaeger_tags_match() {
        let store = MemoryStore::new(10);
        let t0 = reference_time();
        let span = TestSpan::new(trace_id(1), 1, "svc", "op", t0, MS)
            .kind(SpanKind::Server)
            .scope("lib", "1.2")
            .event("retry", t0, vec![]);
        store.write_spans(batch(&[span])).await.unwrap();
        let find = |k: &str, v: &str| TraceQuery {
            tags: vec![(k.into(), v.into())],
            start_time_min: t0 - MS,
            start_time_max: t0 + MS,
            num_traces: 10,
            ..Default::default()
        };
        for (k, v, hit) in [
            ("span.kind", "server", true),
            ("span.kind", "client", false),
            ("otel.scope.name", "lib", true),
            ("otel.scope.version", "1.2", true),
            ("event", "retry", true),
            ("error", "true", false),
            ("otel.status_code", "OK", false),
        ] {
            let ids = store.find_trace_ids(&find(k, v)).await.unwrap();
            assert_eq!(ids.len(), usize::from(hit), "{k}={v}");
        }
    }

    #[tokio::test]
    async fn zero_limits_mean_unbounded() {
        let store = MemoryStore::new(10);
        let t0 = reference_time();
        for i in 1..=3 {
            store.write_spans(simple(i, t0 + i * MS)).await.unwrap();
        }
        let ids = store.find_trace_ids(&TraceQuery::default()).await.unwrap();
        assert_eq!(ids, vec![trace_id(3), trace_id(2), trace_id(1)]);
    }

    #[test]
    fn value_matching_agrees_with_string_form() {
        let values = [
            Value::IntValue(0),
            Value::IntValue(7),
            Value::IntValue(-7),
            Value::IntValue(200),
            Value::IntValue(i64::MIN),
            Value::BoolValue(true),
            Value::BoolValue(false),
            Value::DoubleValue(0.25),
            Value::StringValue("007".into()),
        ];
        let wants = [
            "0",
            "-0",
            "+0",
            "00",
            "7",
            "07",
            "+7",
            "-7",
            "-07",
            "200",
            "2e2",
            "200.0",
            " 200",
            "-9223372036854775808",
            "true",
            "false",
            "True",
            "0.25",
            "007",
            "",
        ];
        for v in &values {
            for w in wants {
                assert_eq!(
                    value_matches(v, w),
                    value_to_string(v) == w,
                    "{v:?} vs {w:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn backwards_dependency_window_is_rejected() {
        let store = MemoryStore::new(1);
        let err = store
            .write_dependencies(10, 5, Vec::new())
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::InvalidQuery(_)));
    }
}
