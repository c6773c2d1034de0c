//! The Jaeger UI JSON model (query spec §1.8) and the OTLP → UI conversion.
//!
//! The conversion follows Jaeger v2's read path: contrib's `ProtoFromTraces` (OTLP →
//! Jaeger model), v1adapter (`@jaeger@warnings` → span warnings), then `FromDomain`
//! (Jaeger model → UI JSON). The structs serialize to exactly the JSON Jaeger writes
//! (key order, `null` vs `[]`); use [`crate::gojson::to_vec`] to also get Go's HTML
//! escaping and indentation.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use base64::Engine;
use serde::ser::{Error as _, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::cow::{ScopeGroup, SpanGroup, SpanSource, shift_time};
use crate::gojson;
use crate::ids::{SpanId, TraceId};
use crate::otlp::{self, AnyValue, InstrumentationScope, ResourceSpans, Value};
use crate::{SERVICE_NAME, WARNINGS_ATTRIBUTE};

/// Service name contrib gives a resource without any attribute.
pub const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";
/// Largest integer a JavaScript number holds exactly (2^53 − 1).
const MAX_SAFE_INT: i64 = (1 << 53) - 1;

/// One trace as the UI reads it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trace {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    pub spans: Vec<Span>,
    /// Sorted keys when emitted, as Go does for maps: `p1`, `p10`, `p2`.
    pub processes: BTreeMap<String, Process>,
    /// Always `null` on the v2 path.
    pub warnings: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
    /// Deprecated; never set on this path.
    #[serde(rename = "parentSpanID", skip_serializing_if = "String::is_empty")]
    pub parent_span_id: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub flags: u32,
    pub operation_name: String,
    pub references: Vec<Reference>,
    /// Microseconds since the epoch.
    pub start_time: u64,
    /// Microseconds.
    pub duration: u64,
    pub tags: Vec<KeyValue>,
    pub logs: Vec<Log>,
    #[serde(rename = "processID", skip_serializing_if = "String::is_empty")]
    pub process_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
    pub warnings: Option<Vec<String>>,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RefType {
    #[serde(rename = "CHILD_OF")]
    ChildOf,
    #[serde(rename = "FOLLOWS_FROM")]
    FollowsFrom,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    pub ref_type: RefType,
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    pub service_name: String,
    pub tags: Vec<KeyValue>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Log {
    /// Microseconds since the epoch.
    pub timestamp: u64,
    pub fields: Vec<KeyValue>,
}

/// A tag: `{"key", "type", "value"}`.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    pub key: String,
    pub value: TagValue,
}

/// The typed value of a tag, as in Jaeger's model.
#[derive(Clone, Debug, PartialEq)]
pub enum TagValue {
    String(String),
    Bool(bool),
    Int64(i64),
    Float64(f64),
    Binary(Vec<u8>),
}

impl TagValue {
    pub fn type_name(&self) -> &'static str {
        match self {
            TagValue::String(_) => "string",
            TagValue::Bool(_) => "bool",
            TagValue::Int64(_) => "int64",
            TagValue::Float64(_) => "float64",
            TagValue::Binary(_) => "binary",
        }
    }
}

// Processes are compared by value to share ids; floats compare by bits.
impl Eq for KeyValue {}
impl Hash for KeyValue {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.key.hash(h);
        match &self.value {
            TagValue::String(s) => (0u8, s).hash(h),
            TagValue::Bool(b) => (1u8, b).hash(h),
            TagValue::Int64(i) => (2u8, i).hash(h),
            TagValue::Float64(f) => (3u8, f.to_bits()).hash(h),
            TagValue::Binary(b) => (4u8, b).hash(h),
        }
    }
}

impl Serialize for KeyValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("KeyValue", 3)?;
        st.serialize_field("key", &self.key)?;
        st.serialize_field("type", self.value.type_name())?;
        match &self.value {
            TagValue::String(v) => st.serialize_field("value", v)?,
            TagValue::Bool(v) => st.serialize_field("value", v)?,
            // Beyond 2^53 − 1 a JS number loses precision, so Jaeger sends a string.
            TagValue::Int64(v) if *v > MAX_SAFE_INT || *v < -MAX_SAFE_INT => {
                st.serialize_field("value", &v.to_string())?
            }
            TagValue::Int64(v) => st.serialize_field("value", v)?,
            TagValue::Float64(v) => {
                let text = gojson::float(*v)
                    .ok_or_else(|| S::Error::custom(gojson::unsupported_float(*v)))?;
                let raw =
                    serde_json::value::RawValue::from_string(text).map_err(S::Error::custom)?;
                st.serialize_field("value", &raw)?
            }
            // Go encodes a nil []byte (what pdata gives for empty bytes) as null.
            TagValue::Binary(v) if v.is_empty() => st.serialize_field("value", &())?,
            TagValue::Binary(v) => st.serialize_field(
                "value",
                &base64::engine::general_purpose::STANDARD.encode(v),
            )?,
        }
        st.end()
    }
}

/// An operation of `GET /api/operations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub name: String,
    pub span_kind: String,
}

/// A link of `GET /api/dependencies` (the storage `source` field is not sent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DependencyLink {
    pub parent: String,
    pub child: String,
    pub call_count: u64,
}

/// Converts OTLP spans to UI traces, one per trace id, in first-seen order, keeping
/// every span (no deduplication), as `POST /api/transform` does.
pub fn traces_from_otlp(batch: &[ResourceSpans]) -> Vec<Trace> {
    crate::trace::group_by_trace(batch)
        .into_iter()
        .map(|(_, rs)| trace_from_otlp(&rs))
        .collect()
}

/// Converts the spans of one trace. The trace id is the first span's.
pub fn trace_from_otlp<G: SpanGroup>(resource_spans: &[G]) -> Trace {
    let mut processes = ProcessTable::default();
    let mut spans = Vec::with_capacity(crate::trace::span_count(resource_spans));
    for rs in resource_spans {
        let process = convert_process(rs.resource());
        // Ids are given when a process is first met through a span, so a resource
        // without spans gets none.
        let mut process_id: Option<String> = None;
        for ss in rs.scopes() {
            for span in ss.spans() {
                let id = process_id
                    .get_or_insert_with(|| processes.key(&process))
                    .clone();
                spans.push(convert_span(&crate::cow::applied(span), ss.scope(), id));
            }
        }
    }
    Trace {
        trace_id: spans
            .first()
            .map(|s| s.trace_id.clone())
            .unwrap_or_default(),
        spans,
        processes: processes.into_map(),
        warnings: None,
    }
}

/// Jaeger's `processHashtable`: equal processes share a key `p<n>`, numbered in the
/// order they are first met.
#[derive(Default)]
struct ProcessTable {
    keys: HashMap<Process, String>,
}

impl ProcessTable {
    fn key(&mut self, p: &Process) -> String {
        if let Some(k) = self.keys.get(p) {
            return k.clone();
        }
        let k = format!("p{}", self.keys.len() + 1);
        self.keys.insert(p.clone(), k.clone());
        k
    }

    fn into_map(self) -> BTreeMap<String, Process> {
        self.keys.into_iter().map(|(p, k)| (k, p)).collect()
    }
}

fn convert_process(resource: Option<&otlp::Resource>) -> Process {
    let attrs = resource
        .map(|r| r.attributes.as_slice())
        .unwrap_or_default();
    if attrs.is_empty() {
        return Process {
            service_name: NO_SERVICE_NAME.into(),
            tags: Vec::new(),
        };
    }
    // contrib takes the first `service.name` (pcommon Map.Get) and only a string value.
    let service_name = match attrs.iter().find(|kv| kv.key == SERVICE_NAME) {
        Some(kv) => match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) => s.clone(),
            _ => String::new(),
        },
        None => String::new(),
    };
    let tags = attrs
        .iter()
        .filter(|kv| kv.key != SERVICE_NAME)
        .map(|kv| convert_kv(&kv.key, kv.value.as_ref()))
        .collect();
    Process { service_name, tags }
}

fn convert_span(
    span: &otlp::Span,
    scope: Option<&InstrumentationScope>,
    process_id: String,
) -> Span {
    let trace_id = TraceId::from_slice(&span.trace_id).unwrap_or_default();
    let parent = SpanId::from_slice(&span.parent_span_id).unwrap_or_default();
    Span {
        trace_id: trace_id.to_jaeger_string(),
        span_id: SpanId::from_slice(&span.span_id)
            .unwrap_or_default()
            .to_hex(),
        parent_span_id: String::new(),
        // Not mapped on the v2 OTLP path (query spec §1.8).
        flags: 0,
        operation_name: span.name.clone(),
        references: convert_references(span, trace_id, parent),
        start_time: micros(span.start_time_unix_nano),
        duration: duration_micros(span.start_time_unix_nano, span.end_time_unix_nano),
        tags: span_tags(span, scope),
        logs: span.events.iter().map(convert_event).collect(),
        process_id,
        process: None,
        warnings: span_warnings(&span.attributes),
    }
}

/// Go: `uint64(time.Unix(0, int64(ns)).UnixNano() / 1000)`.
fn micros(ns: u64) -> u64 {
    ((ns as i64) / 1000) as u64
}

/// Go: `uint64(end.Sub(start).Nanoseconds() / 1000)`; `Sub` saturates and a negative
/// duration wraps.
fn duration_micros(start: u64, end: u64) -> u64 {
    let d = (end as i64 as i128 - start as i64 as i128).clamp(i64::MIN as i128, i64::MAX as i128);
    ((d as i64) / 1000) as u64
}

fn convert_references(span: &otlp::Span, trace_id: TraceId, parent: SpanId) -> Vec<Reference> {
    let mut refs = Vec::with_capacity(span.links.len() + 1);
    // The parent goes first: readers look for it as the first CHILD_OF.
    if !parent.is_zero() {
        refs.push((trace_id, parent, RefType::ChildOf));
    }
    for link in &span.links {
        let lt = TraceId::from_slice(&link.trace_id).unwrap_or_default();
        let ls = SpanId::from_slice(&link.span_id).unwrap_or_default();
        let ref_type = match link
            .attributes
            .iter()
            .find(|kv| kv.key == "opentracing.ref_type")
        {
            None => RefType::FollowsFrom,
            Some(kv) => match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) if s == "child_of" => RefType::ChildOf,
                _ => RefType::FollowsFrom,
            },
        };
        if !parent.is_zero() && lt == trace_id && ls == parent {
            // A link to the parent only corrects the parent reference's type.
            refs[0].2 = ref_type;
            continue;
        }
        refs.push((lt, ls, ref_type));
    }
    refs.into_iter()
        .map(|(t, s, ref_type)| Reference {
            ref_type,
            trace_id: t.to_jaeger_string(),
            span_id: s.to_hex(),
        })
        .collect()
}

fn span_tags(span: &otlp::Span, scope: Option<&InstrumentationScope>) -> Vec<KeyValue> {
    let string = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: TagValue::String(v.into()),
    };
    let mut tags = Vec::with_capacity(span.attributes.len() + 6);
    if let Some(scope) = scope {
        if !scope.name.is_empty() {
            tags.push(string("otel.scope.name", &scope.name));
        }
        if !scope.version.is_empty() {
            tags.push(string("otel.scope.version", &scope.version));
        }
    }
    // v1adapter moves the warnings attribute out of the tags into span warnings.
    tags.extend(
        span.attributes
            .iter()
            .filter(|kv| kv.key != WARNINGS_ATTRIBUTE)
            .map(|kv| convert_kv(&kv.key, kv.value.as_ref())),
    );
    let kind = crate::kind::kind_name(span.kind);
    if !kind.is_empty() {
        tags.push(string("span.kind", kind));
    }
    let (code, message) = span
        .status
        .as_ref()
        .map(|s| (s.code, s.message.as_str()))
        .unwrap_or((0, ""));
    use otlp::trace::status::StatusCode;
    match StatusCode::try_from(code) {
        Ok(StatusCode::Ok) => tags.push(string("otel.status_code", "OK")),
        Ok(StatusCode::Error) => {
            tags.push(string("otel.status_code", "ERROR"));
            tags.push(KeyValue {
                key: "error".into(),
                value: TagValue::Bool(true),
            });
        }
        _ => {}
    }
    if !message.is_empty() {
        tags.push(string("otel.status_description", message));
    }
    if !span.trace_state.is_empty() {
        tags.push(string("w3c.tracestate", &span.trace_state));
    }
    tags
}

fn convert_event(e: &otlp::Event) -> Log {
    let mut fields = Vec::with_capacity(e.attributes.len() + 1);
    if !e.name.is_empty() && !e.attributes.iter().any(|kv| kv.key == "event") {
        fields.push(KeyValue {
            key: "event".into(),
            value: TagValue::String(e.name.clone()),
        });
    }
    fields.extend(
        e.attributes
            .iter()
            .map(|kv| convert_kv(&kv.key, kv.value.as_ref())),
    );
    Log {
        timestamp: micros(e.time_unix_nano),
        fields,
    }
}

/// jptrace `GetWarnings`: a string, or a slice whose non-string items read as `""`.
fn span_warnings(attrs: &[otlp::KeyValue]) -> Option<Vec<String>> {
    let v = attrs
        .iter()
        .find(|kv| kv.key == WARNINGS_ATTRIBUTE)?
        .value
        .as_ref()?
        .value
        .as_ref()?;
    let w = match v {
        Value::StringValue(s) => vec![s.clone()],
        Value::ArrayValue(a) => a
            .values
            .iter()
            .map(|x| match &x.value {
                Some(Value::StringValue(s)) => s.clone(),
                _ => String::new(),
            })
            .collect(),
        _ => Vec::new(),
    };
    (!w.is_empty()).then_some(w)
}

/// contrib `attributeToJaegerProtoTag`.
fn convert_kv(key: &str, value: Option<&AnyValue>) -> KeyValue {
    let value = match value.and_then(|v| v.value.as_ref()) {
        None | Some(Value::StringValueStrindex(_)) => TagValue::String(String::new()),
        Some(Value::StringValue(s)) => TagValue::String(s.clone()),
        Some(Value::BoolValue(b)) => TagValue::Bool(*b),
        Some(Value::IntValue(i)) => TagValue::Int64(*i),
        Some(Value::DoubleValue(d)) => TagValue::Float64(*d),
        Some(Value::BytesValue(b)) => TagValue::Binary(b.clone()),
        Some(v @ (Value::ArrayValue(_) | Value::KvlistValue(_))) => {
            TagValue::String(as_string_json(v))
        }
    };
    KeyValue {
        key: key.into(),
        value,
    }
}

/// pdata `AsString` of a map or slice: `json.Marshal(v.AsRaw())`, so map keys sorted,
/// Go floats and escaping; an unencodable float makes the whole text empty.
fn as_string_json(v: &Value) -> String {
    let mut out = String::new();
    if write_go_json(v, &mut out) {
        out
    } else {
        String::new()
    }
}

fn write_go_json(v: &Value, out: &mut String) -> bool {
    match v {
        Value::StringValue(s) => out.push_str(&gojson::string(s)),
        Value::BoolValue(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::IntValue(i) => out.push_str(&i.to_string()),
        Value::DoubleValue(d) => match gojson::float(*d) {
            Some(s) => out.push_str(&s),
            None => return false,
        },
        Value::BytesValue(b) if b.is_empty() => out.push_str("null"),
        Value::StringValueStrindex(_) => out.push_str("null"),
        Value::BytesValue(b) => {
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push('"');
        }
        Value::ArrayValue(a) => {
            out.push('[');
            for (i, x) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match &x.value {
                    Some(x) => {
                        if !write_go_json(x, out) {
                            return false;
                        }
                    }
                    None => out.push_str("null"),
                }
            }
            out.push(']');
        }
        Value::KvlistValue(kvs) => {
            // A Go map: last duplicate wins, keys sorted.
            let map: BTreeMap<&str, Option<&Value>> = kvs
                .values
                .iter()
                .map(|kv| {
                    (
                        kv.key.as_str(),
                        kv.value.as_ref().and_then(|v| v.value.as_ref()),
                    )
                })
                .collect();
            out.push('{');
            for (i, (k, x)) in map.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&gojson::string(k));
                out.push(':');
                match x {
                    Some(x) => {
                        if !write_go_json(x, out) {
                            return false;
                        }
                    }
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
    }
    true
}

// ---------------------------------------------------------------------------------
// Streaming JSON: the same bytes as `gojson::to_vec(&trace_from_otlp(..), false)`,
// written straight from the OTLP spans into one buffer. No UI structs, no per-tag
// `String`s: a 10,000-span trace is ~10 MB of JSON, and building then serializing an
// intermediate tree cost several times the writing itself.

/// A value Go's encoder refuses (NaN or an infinite float); the text is Go's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnsupportedValue(pub String);

/// Appends the compact JSON of the UI trace of `resource_spans` (one trace) to `out`,
/// byte for byte what serializing [`trace_from_otlp`] with [`gojson::to_vec`] gives.
/// On an unencodable value `out` holds a partial document and must be discarded.
pub fn write_trace_json<G: SpanGroup>(
    out: &mut Vec<u8>,
    resource_spans: &[G],
) -> Result<(), UnsupportedValue> {
    // Processes first: spans name them by key. Ids go to processes as they are first
    // met through a span, so a resource without spans gets none.
    let mut processes = ProcessIndex::default();
    let mut keys: Vec<Option<u32>> = Vec::with_capacity(resource_spans.len());
    let mut estimate = 256usize;
    let mut spans = 0;
    for rs in resource_spans {
        let mut n = 0;
        for span in rs.scopes().iter().flat_map(|ss| ss.spans()) {
            n += 1;
            estimate += span_size_estimate(span.span());
        }
        spans += n;
        keys.push((n > 0).then(|| processes.index(convert_process(rs.resource()))));
    }
    // Sized from the counts of tags, logs and references, so the buffer is allocated
    // once: growing a 10 MB buffer copies it. Pages never written cost nothing.
    out.reserve(estimate);

    out.extend_from_slice(b"{\"traceID\":");
    match crate::trace::spans_of(resource_spans).next() {
        Some(s) => write_trace_id(out, &s.span.trace_id),
        None => out.extend_from_slice(b"\"\""),
    }
    out.extend_from_slice(b",\"spans\":[");
    // Every span is written: resources without a process key have none.
    let workers = crate::parallel::workers_for(spans);
    if workers <= 1 {
        write_spans(out, resource_spans, &keys, 0..spans)?;
    } else {
        // A large trace is written on several cores: each worker writes a contiguous
        // run of spans into its own buffer (the first writes straight on into `out`),
        // and the runs are appended in order.
        let per = spans.div_ceil(workers);
        let size = estimate / workers;
        let keys = &keys;
        let tasks: Vec<_> = (0..workers)
            .map(|w| {
                let range = (w * per).min(spans)..((w + 1) * per).min(spans);
                let mut buf = if w == 0 {
                    std::mem::take(&mut *out)
                } else {
                    Vec::with_capacity(size)
                };
                move || {
                    let written = write_spans(&mut buf, resource_spans, keys, range);
                    (buf, written)
                }
            })
            .collect();
        for (w, (buf, written)) in crate::parallel::run_all(tasks).into_iter().enumerate() {
            if w == 0 {
                *out = buf;
            } else {
                out.extend_from_slice(&buf);
            }
            written?;
        }
    }
    out.extend_from_slice(b"],\"processes\":{");
    // Go sorts map keys as strings: p1, p10, p2.
    let mut order: Vec<(String, usize)> = (0..processes.list.len())
        .map(|i| (format!("p{}", i + 1), i))
        .collect();
    order.sort_unstable();
    for (n, (key, i)) in order.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        gojson::write_str(out, key);
        out.extend_from_slice(b":{\"serviceName\":");
        let p = &processes.list[*i];
        gojson::write_str(out, &p.service_name);
        out.extend_from_slice(b",\"tags\":[");
        for (j, kv) in p.tags.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            write_ui_kv(out, kv)?;
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"},\"warnings\":null}");
    Ok(())
}

/// Writes the spans numbered `range` (in resource/scope/span order, counting only
/// resources that have a process key), each preceded by a comma but the very first.
fn write_spans<G: SpanGroup>(
    out: &mut Vec<u8>,
    resource_spans: &[G],
    keys: &[Option<u32>],
    range: std::ops::Range<usize>,
) -> Result<(), UnsupportedValue> {
    let mut at = 0;
    for (rs, key) in resource_spans.iter().zip(keys) {
        let Some(key) = key else { continue };
        for ss in rs.scopes() {
            if at >= range.end {
                return Ok(());
            }
            let n = ss.spans().len();
            if at + n <= range.start {
                at += n;
                continue;
            }
            let from = range.start.saturating_sub(at);
            let to = (range.end - at).min(n);
            for (i, span) in ss.spans()[from..to].iter().enumerate() {
                if at + from + i > 0 {
                    out.push(b',');
                }
                write_span(out, span, ss.scope(), *key)?;
            }
            at += n;
        }
    }
    Ok(())
}

/// A generous guess of the JSON size of a span, from its counts alone (its tags,
/// logs and references are not read, to keep this walk cheap).
fn span_size_estimate(span: &otlp::Span) -> usize {
    let fields: usize = span.events.iter().map(|e| e.attributes.len() + 1).sum();
    480 + 80 * span.attributes.len() + 64 * span.events.len() + 80 * fields + 160 * span.links.len()
}

/// Indexes of equal processes, numbered in the order they are first met.
#[derive(Default)]
struct ProcessIndex {
    index: HashMap<Process, u32>,
    list: Vec<Process>,
}

impl ProcessIndex {
    fn index(&mut self, p: Process) -> u32 {
        if let Some(&i) = self.index.get(&p) {
            return i;
        }
        let i = self.list.len() as u32;
        self.index.insert(p.clone(), i);
        self.list.push(p);
        i
    }
}

/// `"<16 or 32 hex>"`: Jaeger's form of a trace id (OTLP bytes; malformed reads as 0).
fn write_trace_id(out: &mut Vec<u8>, raw: &[u8]) {
    let id = TraceId::from_slice(raw).unwrap_or_default();
    write_trace_id_value(out, id);
}

fn write_trace_id_value(out: &mut Vec<u8>, id: TraceId) {
    out.push(b'"');
    if id.high() == 0 {
        gojson::write_hex(out, &id.0[8..]);
    } else {
        gojson::write_hex(out, &id.0);
    }
    out.push(b'"');
}

fn write_span_id_value(out: &mut Vec<u8>, id: SpanId) {
    out.push(b'"');
    gojson::write_hex(out, &id.0);
    out.push(b'"');
}

/// One span, with the pending change of a borrowed span applied on the fly (shifted
/// times, added warnings): nothing is copied for it.
fn write_span<S: SpanSource>(
    out: &mut Vec<u8>,
    source: &S,
    scope: Option<&InstrumentationScope>,
    process: u32,
) -> Result<(), UnsupportedValue> {
    let span = source.span();
    let delta = source.shift();
    let trace_id = TraceId::from_slice(&span.trace_id).unwrap_or_default();
    let parent = SpanId::from_slice(&span.parent_span_id).unwrap_or_default();
    out.extend_from_slice(b"{\"traceID\":");
    write_trace_id_value(out, trace_id);
    out.extend_from_slice(b",\"spanID\":");
    write_span_id_value(out, SpanId::from_slice(&span.span_id).unwrap_or_default());
    out.extend_from_slice(b",\"operationName\":");
    gojson::write_str(out, &span.name);
    out.extend_from_slice(b",\"references\":[");
    write_references(out, span, trace_id, parent);
    let (start, end) = (
        shift_time(span.start_time_unix_nano, delta),
        shift_time(span.end_time_unix_nano, delta),
    );
    out.extend_from_slice(b"],\"startTime\":");
    gojson::write_u64(out, micros(start));
    out.extend_from_slice(b",\"duration\":");
    gojson::write_u64(out, duration_micros(start, end));
    out.extend_from_slice(b",\"tags\":[");
    write_span_tags(out, span, scope)?;
    out.extend_from_slice(b"],\"logs\":[");
    for (i, e) in span.events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"timestamp\":");
        gojson::write_u64(out, micros(shift_time(e.time_unix_nano, delta)));
        out.extend_from_slice(b",\"fields\":[");
        let mut first = true;
        if !e.name.is_empty() && !e.attributes.iter().any(|kv| kv.key == "event") {
            write_string_tag(out, "event", &e.name);
            first = false;
        }
        for kv in &e.attributes {
            if !first {
                out.push(b',');
            }
            first = false;
            write_otlp_kv(out, &kv.key, kv.value.as_ref())?;
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"],\"processID\":\"p");
    gojson::write_u64(out, u64::from(process) + 1);
    out.extend_from_slice(b"\",\"warnings\":");
    write_warnings(out, &span.attributes, source.extra_warnings());
    out.push(b'}');
    Ok(())
}

/// As [`convert_references`], written directly.
fn write_references(out: &mut Vec<u8>, span: &otlp::Span, trace_id: TraceId, parent: SpanId) {
    let ref_type_of = |link: &otlp::Link| match link
        .attributes
        .iter()
        .find(|kv| kv.key == "opentracing.ref_type")
    {
        None => RefType::FollowsFrom,
        Some(kv) => match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) if s == "child_of" => RefType::ChildOf,
            _ => RefType::FollowsFrom,
        },
    };
    let write_ref = |out: &mut Vec<u8>, t: TraceId, s: SpanId, r: RefType| {
        out.extend_from_slice(match r {
            RefType::ChildOf => b"{\"refType\":\"CHILD_OF\",\"traceID\":",
            RefType::FollowsFrom => b"{\"refType\":\"FOLLOWS_FROM\",\"traceID\":",
        });
        write_trace_id_value(out, t);
        out.extend_from_slice(b",\"spanID\":");
        write_span_id_value(out, s);
        out.push(b'}');
    };
    let mut first = true;
    if !parent.is_zero() {
        // A link to the parent only corrects the parent reference's type; the last
        // such link wins.
        let mut ref_type = RefType::ChildOf;
        for link in &span.links {
            let lt = TraceId::from_slice(&link.trace_id).unwrap_or_default();
            let ls = SpanId::from_slice(&link.span_id).unwrap_or_default();
            if lt == trace_id && ls == parent {
                ref_type = ref_type_of(link);
            }
        }
        write_ref(out, trace_id, parent, ref_type);
        first = false;
    }
    for link in &span.links {
        let lt = TraceId::from_slice(&link.trace_id).unwrap_or_default();
        let ls = SpanId::from_slice(&link.span_id).unwrap_or_default();
        if !parent.is_zero() && lt == trace_id && ls == parent {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_ref(out, lt, ls, ref_type_of(link));
    }
}

/// As [`span_tags`], written directly.
fn write_span_tags(
    out: &mut Vec<u8>,
    span: &otlp::Span,
    scope: Option<&InstrumentationScope>,
) -> Result<(), UnsupportedValue> {
    let start = out.len();
    let sep = |out: &mut Vec<u8>| {
        if out.len() > start {
            out.push(b',');
        }
    };
    if let Some(scope) = scope {
        if !scope.name.is_empty() {
            write_string_tag(out, "otel.scope.name", &scope.name);
        }
        if !scope.version.is_empty() {
            sep(out);
            write_string_tag(out, "otel.scope.version", &scope.version);
        }
    }
    for kv in &span.attributes {
        if kv.key == WARNINGS_ATTRIBUTE {
            continue;
        }
        sep(out);
        write_otlp_kv(out, &kv.key, kv.value.as_ref())?;
    }
    let kind = crate::kind::kind_name(span.kind);
    if !kind.is_empty() {
        sep(out);
        write_string_tag(out, "span.kind", kind);
    }
    let (code, message) = span
        .status
        .as_ref()
        .map(|s| (s.code, s.message.as_str()))
        .unwrap_or((0, ""));
    use otlp::trace::status::StatusCode;
    match StatusCode::try_from(code) {
        Ok(StatusCode::Ok) => {
            sep(out);
            write_string_tag(out, "otel.status_code", "OK");
        }
        Ok(StatusCode::Error) => {
            sep(out);
            write_string_tag(out, "otel.status_code", "ERROR");
            out.extend_from_slice(b",{\"key\":\"error\",\"type\":\"bool\",\"value\":true}");
        }
        _ => {}
    }
    if !message.is_empty() {
        sep(out);
        write_string_tag(out, "otel.status_description", message);
    }
    if !span.trace_state.is_empty() {
        sep(out);
        write_string_tag(out, "w3c.tracestate", &span.trace_state);
    }
    Ok(())
}

fn write_string_tag(out: &mut Vec<u8>, key: &str, value: &str) {
    out.extend_from_slice(b"{\"key\":");
    gojson::write_str(out, key);
    out.extend_from_slice(b",\"type\":\"string\",\"value\":");
    gojson::write_str(out, value);
    out.push(b'}');
}

/// An OTLP attribute as a UI tag, as [`convert_kv`] then its `Serialize` would write it.
fn write_otlp_kv(
    out: &mut Vec<u8>,
    key: &str,
    value: Option<&AnyValue>,
) -> Result<(), UnsupportedValue> {
    match value.and_then(|v| v.value.as_ref()) {
        None | Some(Value::StringValueStrindex(_)) => write_string_tag(out, key, ""),
        Some(Value::StringValue(s)) => write_string_tag(out, key, s),
        Some(Value::IntValue(i)) => {
            out.extend_from_slice(b"{\"key\":");
            gojson::write_str(out, key);
            out.extend_from_slice(b",\"type\":\"int64\",\"value\":");
            write_int64_value(out, *i);
            out.push(b'}');
        }
        // The rare kinds go through the tag type, which is cheap enough for them.
        Some(_) => write_ui_kv(out, &convert_kv(key, value))?,
    }
    Ok(())
}

/// Beyond 2^53 − 1 a JS number loses precision, so Jaeger sends a string.
fn write_int64_value(out: &mut Vec<u8>, v: i64) {
    if !(-MAX_SAFE_INT..=MAX_SAFE_INT).contains(&v) {
        out.push(b'"');
        gojson::write_i64(out, v);
        out.push(b'"');
    } else {
        gojson::write_i64(out, v);
    }
}

/// A UI tag, as its `Serialize` writes it.
fn write_ui_kv(out: &mut Vec<u8>, kv: &KeyValue) -> Result<(), UnsupportedValue> {
    out.extend_from_slice(b"{\"key\":");
    gojson::write_str(out, &kv.key);
    out.extend_from_slice(b",\"type\":\"");
    out.extend_from_slice(kv.value.type_name().as_bytes());
    out.extend_from_slice(b"\",\"value\":");
    match &kv.value {
        TagValue::String(v) => gojson::write_str(out, v),
        TagValue::Bool(v) => out.extend_from_slice(if *v { b"true" } else { b"false" }),
        TagValue::Int64(v) => write_int64_value(out, *v),
        TagValue::Float64(v) => match gojson::float(*v) {
            Some(text) => out.extend_from_slice(text.as_bytes()),
            None => return Err(UnsupportedValue(gojson::unsupported_float(*v))),
        },
        TagValue::Binary(v) if v.is_empty() => out.extend_from_slice(b"null"),
        TagValue::Binary(v) => {
            out.push(b'"');
            out.extend_from_slice(
                base64::engine::general_purpose::STANDARD
                    .encode(v)
                    .as_bytes(),
            );
            out.push(b'"');
        }
    }
    out.push(b'}');
    Ok(())
}

/// As [`span_warnings`]: `null`, or the strings of `@jaeger@warnings`; `extra` are
/// warnings not added to the attributes yet, written as `add_warning` would have stored
/// them (after the span's own).
fn write_warnings(out: &mut Vec<u8>, attrs: &[otlp::KeyValue], extra: &[std::sync::Arc<str>]) {
    let value = attrs
        .iter()
        .find(|kv| kv.key == WARNINGS_ATTRIBUTE)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref());
    let write_list = |out: &mut Vec<u8>, own: &[AnyValue]| {
        out.push(b'[');
        for (i, x) in own.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match &x.value {
                Some(Value::StringValue(s)) => gojson::write_str(out, s),
                _ => out.extend_from_slice(b"\"\""),
            }
        }
        for (i, w) in extra.iter().enumerate() {
            if i > 0 || !own.is_empty() {
                out.push(b',');
            }
            gojson::write_str(out, w);
        }
        out.push(b']');
    };
    match value {
        Some(Value::StringValue(s)) => {
            let own = [AnyValue {
                value: Some(Value::StringValue(s.clone())),
            }];
            write_list(out, &own);
        }
        Some(Value::ArrayValue(a)) if !a.values.is_empty() || !extra.is_empty() => {
            write_list(out, &a.values)
        }
        // `add_warning` makes an array of a value of another type: it reads as "".
        Some(other) if !extra.is_empty() && !matches!(other, Value::ArrayValue(_)) => {
            write_list(out, &[AnyValue { value: None }])
        }
        None if !extra.is_empty() => write_list(out, &[]),
        _ => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::common::{ArrayValue, KeyValueList};
    use crate::otlp::{Event, Link, Resource, ScopeSpans, Status};
    use crate::trace::kv;

    fn s(v: &str) -> Value {
        Value::StringValue(v.into())
    }

    fn tid(hex: &str) -> Vec<u8> {
        TraceId::parse_hex(hex).unwrap().0.to_vec()
    }

    fn sid(hex: &str) -> Vec<u8> {
        SpanId::parse_hex(hex).unwrap().0.to_vec()
    }

    fn json(t: &Trace) -> String {
        String::from_utf8(gojson::to_vec(t, false).unwrap()).unwrap()
    }

    /// The streaming writer against the serde path, on the same spans.
    fn assert_streamed_same(batch: &[ResourceSpans]) -> String {
        let mut out = Vec::new();
        write_trace_json(&mut out, batch).unwrap();
        let streamed = String::from_utf8(out).unwrap();
        assert_eq!(streamed, json(&trace_from_otlp(batch)));
        streamed
    }

    fn rs(
        attrs: Vec<otlp::KeyValue>,
        scope: Option<InstrumentationScope>,
        spans: Vec<otlp::Span>,
    ) -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes: attrs,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope,
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }
    }

    /// A trace large enough to be written on several threads gives the same bytes, with
    /// runs splitting inside scopes and across resources (one of them without spans),
    /// and an unencodable value in the last run still fails the whole document.
    #[test]
    fn large_trace_written_in_parallel_runs() {
        let span = |n: u64| otlp::Span {
            trace_id: tid("0af7651916cd43dd8448eb211c80319c"),
            span_id: SpanId::from_u64(n + 1).0.to_vec(),
            parent_span_id: if n > 0 {
                SpanId::from_u64(n / 2 + 1).0.to_vec()
            } else {
                vec![]
            },
            name: format!("op-{}", n % 7),
            start_time_unix_nano: 1_000_000 * n,
            end_time_unix_nano: 1_000_000 * n + 500,
            attributes: vec![kv("n", Value::IntValue(n as i64))],
            ..Default::default()
        };
        let mut batch = Vec::new();
        let mut n = 0;
        // Spans per scope, per resource.
        let layout: [&[usize]; 4] = [&[700, 1], &[], &[1_203, 0, 999], &[3]];
        for (r, sizes) in layout.iter().enumerate() {
            let mut group = rs(
                vec![kv("service.name", Value::StringValue(format!("svc-{r}")))],
                None,
                vec![],
            );
            group.scope_spans = sizes
                .iter()
                .map(|&k| ScopeSpans {
                    spans: (0..k)
                        .map(|_| {
                            n += 1;
                            span(n - 1)
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect();
            batch.push(group);
        }
        assert!(n as usize >= crate::parallel::PARALLEL_MIN_SPANS);
        let out = assert_streamed_same(&batch);
        // Each span's own id, and its parent's in every span's reference but the root's.
        assert_eq!(out.matches("\"spanID\":").count(), 2 * n as usize - 1);
        let last = batch.last_mut().unwrap().scope_spans[0]
            .spans
            .last_mut()
            .unwrap();
        last.attributes = vec![kv("bad", Value::DoubleValue(f64::NAN))];
        assert!(write_trace_json(&mut Vec::new(), &batch).is_err());
    }

    /// The full mapping on one trace: every tag rule, events, links, warnings, ids.
    #[test]
    fn otlp_to_ui_golden() {
        let trace = "83a9efd15c1c98a977e0711cc93ee28b";
        let root = otlp::Span {
            trace_id: tid(trace),
            span_id: sid("e127af99e3b3e074"),
            trace_state: "k=v".into(),
            name: "GET /".into(),
            kind: 2,
            start_time_unix_nano: 1_706_678_909_209_712_123,
            end_time_unix_nano: 1_706_678_909_209_835_999,
            attributes: vec![
                kv("http.method", s("GET")),
                kv("big", Value::IntValue(9_223_372_036_854_775_222)),
                kv("small", Value::IntValue(-42)),
                kv("ratio", Value::DoubleValue(1.0)),
                kv("tiny", Value::DoubleValue(1e-7)),
                kv("ok", Value::BoolValue(false)),
                kv("bin", Value::BytesValue(vec![0, 0, 0x30, 0x39])),
                kv(
                    "list",
                    Value::ArrayValue(ArrayValue {
                        values: vec![
                            AnyValue {
                                value: Some(s("a")),
                            },
                            AnyValue {
                                value: Some(Value::IntValue(1)),
                            },
                            AnyValue {
                                value: Some(Value::DoubleValue(2.0)),
                            },
                        ],
                    }),
                ),
                kv(
                    "map",
                    Value::KvlistValue(KeyValueList {
                        values: vec![kv("z", s("<")), kv("a", Value::BoolValue(true))],
                    }),
                ),
                otlp::KeyValue {
                    key: "empty".into(),
                    value: None,
                    ..Default::default()
                },
                kv(
                    WARNINGS_ATTRIBUTE,
                    Value::ArrayValue(ArrayValue {
                        values: vec![AnyValue {
                            value: Some(s("w1")),
                        }],
                    }),
                ),
            ],
            events: vec![
                Event {
                    time_unix_nano: 1_706_678_909_209_800_000,
                    name: "cache miss".into(),
                    attributes: vec![kv("key", s("user:1"))],
                    ..Default::default()
                },
                Event {
                    time_unix_nano: 1_706_678_909_209_801_000,
                    name: "named".into(),
                    attributes: vec![kv("event", s("explicit"))],
                    ..Default::default()
                },
            ],
            status: Some(Status {
                code: 2,
                message: "boom".into(),
            }),
            ..Default::default()
        };
        let child = otlp::Span {
            trace_id: tid(trace),
            span_id: sid("909541b92cf05311"),
            parent_span_id: sid("e127af99e3b3e074"),
            name: "db".into(),
            kind: 3,
            start_time_unix_nano: 1_706_678_909_209_720_000,
            end_time_unix_nano: 1_706_678_909_209_730_000,
            links: vec![
                // A link to the parent without a type turns the parent ref FOLLOWS_FROM.
                Link {
                    trace_id: tid(trace),
                    span_id: sid("e127af99e3b3e074"),
                    ..Default::default()
                },
                Link {
                    trace_id: tid("0000000000000000000000000000abcd"),
                    span_id: sid("0000000000000001"),
                    attributes: vec![kv("opentracing.ref_type", s("child_of"))],
                    ..Default::default()
                },
            ],
            status: Some(Status {
                code: 1,
                message: String::new(),
            }),
            ..Default::default()
        };
        let scope = InstrumentationScope {
            name: "lib".into(),
            version: "1.2".into(),
            ..Default::default()
        };
        let batch = vec![
            rs(
                vec![kv("service.name", s("frontend")), kv("host.name", s("h1"))],
                Some(scope),
                vec![root],
            ),
            rs(vec![kv("service.name", s("db"))], None, vec![child]),
        ];
        let got = assert_streamed_same(&batch);
        let want = concat!(
            r#"{"traceID":"83a9efd15c1c98a977e0711cc93ee28b","spans":["#,
            r#"{"traceID":"83a9efd15c1c98a977e0711cc93ee28b","spanID":"e127af99e3b3e074","operationName":"GET /","references":[],"#,
            r#""startTime":1706678909209712,"duration":123,"tags":["#,
            r#"{"key":"otel.scope.name","type":"string","value":"lib"},"#,
            r#"{"key":"otel.scope.version","type":"string","value":"1.2"},"#,
            r#"{"key":"http.method","type":"string","value":"GET"},"#,
            r#"{"key":"big","type":"int64","value":"9223372036854775222"},"#,
            r#"{"key":"small","type":"int64","value":-42},"#,
            r#"{"key":"ratio","type":"float64","value":1},"#,
            r#"{"key":"tiny","type":"float64","value":1e-7},"#,
            r#"{"key":"ok","type":"bool","value":false},"#,
            r#"{"key":"bin","type":"binary","value":"AAAwOQ=="},"#,
            r#"{"key":"list","type":"string","value":"[\"a\",1,2]"},"#,
            r#"{"key":"map","type":"string","value":"{\"a\":true,\"z\":\"\\u003c\"}"},"#,
            r#"{"key":"empty","type":"string","value":""},"#,
            r#"{"key":"span.kind","type":"string","value":"server"},"#,
            r#"{"key":"otel.status_code","type":"string","value":"ERROR"},"#,
            r#"{"key":"error","type":"bool","value":true},"#,
            r#"{"key":"otel.status_description","type":"string","value":"boom"},"#,
            r#"{"key":"w3c.tracestate","type":"string","value":"k=v"}],"#,
            r#""logs":[{"timestamp":1706678909209800,"fields":[{"key":"event","type":"string","value":"cache miss"},{"key":"key","type":"string","value":"user:1"}]},"#,
            r#"{"timestamp":1706678909209801,"fields":[{"key":"event","type":"string","value":"explicit"}]}],"#,
            r#""processID":"p1","warnings":["w1"]},"#,
            r#"{"traceID":"83a9efd15c1c98a977e0711cc93ee28b","spanID":"909541b92cf05311","operationName":"db","references":["#,
            r#"{"refType":"FOLLOWS_FROM","traceID":"83a9efd15c1c98a977e0711cc93ee28b","spanID":"e127af99e3b3e074"},"#,
            r#"{"refType":"CHILD_OF","traceID":"000000000000abcd","spanID":"0000000000000001"}],"#,
            r#""startTime":1706678909209720,"duration":10,"tags":[{"key":"span.kind","type":"string","value":"client"},"#,
            r#"{"key":"otel.status_code","type":"string","value":"OK"}],"logs":[],"processID":"p2","warnings":null}],"#,
            r#""processes":{"p1":{"serviceName":"frontend","tags":[{"key":"host.name","type":"string","value":"h1"}]},"#,
            r#""p2":{"serviceName":"db","tags":[]}},"warnings":null}"#,
        );
        assert_eq!(got, want);
    }

    #[test]
    fn processes_shared_and_sorted_as_go_map_keys() {
        let span = |i: u64| otlp::Span {
            trace_id: tid("1"),
            span_id: SpanId::from_u64(i).0.to_vec(),
            name: "op".into(),
            ..Default::default()
        };
        // Eleven distinct resources, then a repeat of the first one.
        let mut batch: Vec<ResourceSpans> = (0..11)
            .map(|i| {
                rs(
                    vec![kv("service.name", s(&format!("svc{i}")))],
                    None,
                    vec![span(i + 1)],
                )
            })
            .collect();
        batch.push(rs(
            vec![kv("service.name", s("svc0"))],
            None,
            vec![span(99)],
        ));
        batch.push(rs(vec![], None, vec![span(100)]));
        assert_streamed_same(&batch);
        let t = trace_from_otlp(&batch);
        assert_eq!(t.trace_id, "0000000000000001");
        let keys: Vec<&str> = t.processes.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "p1", "p10", "p11", "p12", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"
            ]
        );
        assert_eq!(t.spans[11].process_id, "p1");
        assert_eq!(t.spans[12].process_id, "p12");
        assert_eq!(t.processes["p12"].service_name, NO_SERVICE_NAME);
        assert_eq!(t.processes["p10"].service_name, "svc9");
    }

    #[test]
    fn int64_safe_range_and_nan() {
        let tag = |v: Value| json_kv(&convert_kv("k", Some(&AnyValue { value: Some(v) })));
        assert_eq!(
            tag(Value::IntValue(MAX_SAFE_INT)),
            r#"{"key":"k","type":"int64","value":9007199254740991}"#
        );
        assert_eq!(
            tag(Value::IntValue(MAX_SAFE_INT + 1)),
            r#"{"key":"k","type":"int64","value":"9007199254740992"}"#
        );
        assert_eq!(
            tag(Value::IntValue(-MAX_SAFE_INT - 1)),
            r#"{"key":"k","type":"int64","value":"-9007199254740992"}"#
        );
        assert_eq!(
            tag(Value::DoubleValue(1e21)),
            r#"{"key":"k","type":"float64","value":1e+21}"#
        );
        assert_eq!(
            tag(Value::BytesValue(vec![])),
            r#"{"key":"k","type":"binary","value":null}"#
        );
        let nan = convert_kv(
            "k",
            Some(&AnyValue {
                value: Some(Value::DoubleValue(f64::NAN)),
            }),
        );
        let err = gojson::to_vec(&nan, false).unwrap_err();
        assert_eq!(err.to_string(), "json: unsupported value: NaN");
        // Plain serde_json gives the same text: the float is a raw JSON fragment.
        let plain = convert_kv(
            "k",
            Some(&AnyValue {
                value: Some(Value::DoubleValue(3.0)),
            }),
        );
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#"{"key":"k","type":"float64","value":3}"#
        );
    }

    fn json_kv(k: &KeyValue) -> String {
        String::from_utf8(gojson::to_vec(k, false).unwrap()).unwrap()
    }

    #[test]
    fn streaming_writer_edge_cases() {
        // No spans at all; a resource without spans between two with spans; every
        // value kind; warnings as a plain string, an empty array and a non-string.
        assert_streamed_same(&[]);
        let values = [
            Value::BoolValue(true),
            Value::IntValue(MAX_SAFE_INT + 1),
            Value::IntValue(-MAX_SAFE_INT),
            Value::DoubleValue(-0.0),
            Value::DoubleValue(2.5e-9),
            Value::BytesValue(vec![]),
            Value::BytesValue(vec![255, 1]),
            Value::StringValue("\u{2028}<&>\"\n".into()),
            Value::ArrayValue(Default::default()),
            Value::StringValueStrindex(3),
        ];
        let attrs: Vec<otlp::KeyValue> = values
            .iter()
            .enumerate()
            .map(|(i, v)| kv(format!("k{i}"), v.clone()))
            .collect();
        let span = |id: u64, warn: Value| otlp::Span {
            trace_id: tid("ffffffffffffffff0000000000000001"),
            span_id: SpanId::from_u64(id).0.to_vec(),
            parent_span_id: SpanId::from_u64(id + 100).0.to_vec(),
            attributes: [attrs.clone(), vec![kv(WARNINGS_ATTRIBUTE, warn)]].concat(),
            links: vec![
                Link {
                    trace_id: tid("ffffffffffffffff0000000000000001"),
                    span_id: SpanId::from_u64(id + 100).0.to_vec(),
                    attributes: vec![kv("opentracing.ref_type", s("child_of"))],
                    ..Default::default()
                },
                Link::default(),
            ],
            events: vec![Event {
                attributes: attrs.clone(),
                ..Default::default()
            }],
            status: Some(Status {
                code: 1,
                message: "fine".into(),
            }),
            kind: 5,
            start_time_unix_nano: 5_000,
            end_time_unix_nano: 1_000,
            ..Default::default()
        };
        let batch = vec![
            rs(
                attrs.clone(),
                None,
                vec![
                    span(1, s("w")),
                    span(2, Value::ArrayValue(Default::default())),
                ],
            ),
            rs(vec![kv("service.name", s("empty"))], None, vec![]),
            rs(
                vec![kv("service.name", s("b"))],
                Some(InstrumentationScope {
                    version: "v".into(),
                    ..Default::default()
                }),
                vec![span(3, Value::IntValue(1))],
            ),
        ];
        assert_streamed_same(&batch);
        let mut nan = batch.clone();
        nan[2].scope_spans[0].spans[0]
            .attributes
            .push(kv("bad", Value::DoubleValue(f64::INFINITY)));
        let err = write_trace_json(&mut Vec::new(), &nan).unwrap_err();
        assert_eq!(err.to_string(), "json: unsupported value: +Inf");
    }

    #[test]
    fn times_truncate_and_negative_duration_wraps() {
        assert_eq!(micros(1_999), 1);
        assert_eq!(duration_micros(2_000, 1_000), (-1i64) as u64);
        assert_eq!(duration_micros(1_000, 2_999), 1);
    }

    #[test]
    fn warnings_tolerate_plain_string_and_are_removed_from_tags() {
        let span = otlp::Span {
            trace_id: tid("1"),
            span_id: sid("2"),
            attributes: vec![kv(WARNINGS_ATTRIBUTE, s("only one")), kv("a", s("b"))],
            ..Default::default()
        };
        let t = trace_from_otlp(&[rs(vec![kv("service.name", s("x"))], None, vec![span])]);
        assert_eq!(
            t.spans[0].warnings.as_deref(),
            Some(&["only one".to_string()][..])
        );
        assert_eq!(t.spans[0].tags.len(), 1);
        assert_eq!(t.spans[0].tags[0].key, "a");
    }

    #[test]
    fn transform_groups_by_trace_in_first_seen_order_without_dedup() {
        let span = |t: &str, id: &str| otlp::Span {
            trace_id: tid(t),
            span_id: sid(id),
            ..Default::default()
        };
        let batch = vec![rs(
            vec![kv("service.name", s("x"))],
            None,
            vec![span("b", "1"), span("a", "2"), span("b", "1")],
        )];
        let traces = traces_from_otlp(&batch);
        assert_eq!(traces.len(), 2);
        assert_eq!(traces[0].trace_id, "000000000000000b");
        assert_eq!(traces[0].spans.len(), 2);
        assert_eq!(traces[1].trace_id, "000000000000000a");
    }
}
