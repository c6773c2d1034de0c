//! Jaeger Thrift: decoding `jaeger.thrift` `Batch` (binary or compact protocol) and
//! `agent.thrift` messages, and the Jaeger Thrift → OTLP mapping (ingest spec §2.4).
//!
//! Decoding uses Apache's `thrift` runtime with limits derived from the input length:
//! no string or container may claim more elements than there are bytes left, so a
//! header claiming a billion elements is an error, not an allocation. Truncated input
//! is an error (the transport reports end of input), never a panic.

use jaeger_model::otlp::{
    AnyValue, Event, KeyValue, Link, Resource, ResourceSpans, ScopeSpans, Span, Status, Value,
};
use thrift::TConfiguration;
use thrift::protocol::{
    TBinaryInputProtocol, TCompactInputProtocol, TInputProtocol, TMessageType, TType,
};

/// The Thrift protocol of a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThriftProtocol {
    /// TBinaryProtocol (HTTP 14268, UDP 6832).
    Binary,
    /// TCompactProtocol (UDP 6831).
    Compact,
}

#[derive(Debug, thiserror::Error)]
pub enum ThriftError {
    #[error("thrift decode error: {0}")]
    Decode(String),
    #[error("thrift: required field {0} is not set")]
    MissingField(&'static str),
    #[error("unsupported agent method {0:?}")]
    UnknownMethod(String),
    #[error("agent message {0:?} is not a oneway call or call")]
    BadMessageType(String),
}

impl From<thrift::Error> for ThriftError {
    fn from(e: thrift::Error) -> Self {
        ThriftError::Decode(e.to_string())
    }
}

type TResult<T> = Result<T, ThriftError>;

/// jaeger.thrift `TagType`.
const TAG_STRING: i32 = 0;
const TAG_DOUBLE: i32 = 1;
const TAG_BOOL: i32 = 2;
const TAG_LONG: i32 = 3;
const TAG_BINARY: i32 = 4;
const REF_CHILD_OF: i32 = 0;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tag {
    pub key: String,
    pub v_type: i32,
    pub v_str: Option<Vec<u8>>,
    pub v_double: Option<f64>,
    pub v_bool: Option<bool>,
    pub v_long: Option<i64>,
    pub v_binary: Option<Vec<u8>>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Log {
    pub timestamp: i64,
    pub fields: Vec<Tag>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpanRef {
    pub ref_type: i32,
    pub trace_id_low: i64,
    pub trace_id_high: i64,
    pub span_id: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct JaegerSpan {
    pub trace_id_low: i64,
    pub trace_id_high: i64,
    pub span_id: i64,
    pub parent_span_id: i64,
    pub operation_name: String,
    pub references: Vec<SpanRef>,
    pub flags: i32,
    pub start_time: i64,
    pub duration: i64,
    pub tags: Vec<Tag>,
    pub logs: Vec<Log>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Process {
    pub service_name: String,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub process: Process,
    pub spans: Vec<JaegerSpan>,
}

/// One decoded agent datagram.
#[derive(Debug)]
pub enum AgentMessage {
    EmitBatch(Batch),
    /// `emitZipkinBatch`: not supported (as in Jaeger v2); only the name was read.
    EmitZipkinBatch,
}

/// Runs `f` over a protocol reading `bytes`, with limits no honest payload reaches.
pub(crate) fn with_protocol<R>(
    bytes: &[u8],
    protocol: ThriftProtocol,
    f: impl FnOnce(&mut dyn TInputProtocol) -> TResult<R>,
) -> TResult<R> {
    let config = TConfiguration::builder()
        .max_container_size(Some(bytes.len()))
        .max_string_size(Some(bytes.len()))
        .max_message_size(Some(bytes.len().max(1)))
        .max_frame_size(Some(bytes.len().max(1)))
        .max_recursion_depth(Some(64))
        .build()?;
    match protocol {
        ThriftProtocol::Binary => f(&mut TBinaryInputProtocol::with_config(bytes, false, config)),
        ThriftProtocol::Compact => f(&mut TCompactInputProtocol::with_config(bytes, config)),
    }
}

/// Decodes a bare `Batch` struct (the body of `POST /api/traces`).
pub fn decode_batch(bytes: &[u8], protocol: ThriftProtocol) -> TResult<Batch> {
    with_protocol(bytes, protocol, read_batch)
}

/// Decodes one `Agent` RPC message (a UDP datagram).
pub fn decode_agent_message(bytes: &[u8], protocol: ThriftProtocol) -> TResult<AgentMessage> {
    with_protocol(bytes, protocol, |p| {
        let msg = p.read_message_begin()?;
        if !matches!(msg.message_type, TMessageType::OneWay | TMessageType::Call) {
            return Err(ThriftError::BadMessageType(msg.name));
        }
        match msg.name.as_str() {
            "emitBatch" => {
                let mut batch = None;
                read_struct(p, |p, id, t| match (id, t) {
                    (1, TType::Struct) => {
                        batch = Some(read_batch(p)?);
                        Ok(true)
                    }
                    _ => Ok(false),
                })?;
                p.read_message_end()?;
                batch
                    .map(AgentMessage::EmitBatch)
                    .ok_or(ThriftError::MissingField("emitBatch_args.batch"))
            }
            "emitZipkinBatch" => Ok(AgentMessage::EmitZipkinBatch),
            _ => Err(ThriftError::UnknownMethod(msg.name)),
        }
    })
}

/// Reads a struct, calling `field` for each field; `field` returns false for a field
/// it does not know, which is then skipped.
pub(crate) fn read_struct(
    p: &mut dyn TInputProtocol,
    mut field: impl FnMut(&mut dyn TInputProtocol, i16, TType) -> TResult<bool>,
) -> TResult<()> {
    p.read_struct_begin()?;
    loop {
        let f = p.read_field_begin()?;
        if f.field_type == TType::Stop {
            break;
        }
        let id = f.id.unwrap_or(0);
        if !field(p, id, f.field_type)? {
            p.skip(f.field_type)?;
        }
        p.read_field_end()?;
    }
    p.read_struct_end()?;
    Ok(())
}

/// Reads a list of structs with `item`; elements of another type are an error.
pub(crate) fn read_list<T>(
    p: &mut dyn TInputProtocol,
    mut item: impl FnMut(&mut dyn TInputProtocol) -> TResult<T>,
) -> TResult<Vec<T>> {
    let header = p.read_list_begin()?;
    if header.element_type != TType::Struct && header.size > 0 {
        return Err(ThriftError::Decode(format!(
            "expected a list of structs, got a list of {:?}",
            header.element_type
        )));
    }
    // The protocol checked the size against the input length; cap the reservation
    // further since a struct takes at least one byte.
    let size = usize::try_from(header.size).unwrap_or(0);
    let mut out = Vec::with_capacity(size.min(4096));
    for _ in 0..size {
        out.push(item(p)?);
    }
    p.read_list_end()?;
    Ok(out)
}

fn lossy(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

fn read_tag(p: &mut dyn TInputProtocol) -> TResult<Tag> {
    let mut tag = Tag::default();
    let (mut has_key, mut has_type) = (false, false);
    read_struct(p, |p, id, t| {
        match (id, t) {
            (1, TType::String) => {
                tag.key = lossy(p.read_bytes()?);
                has_key = true;
            }
            (2, TType::I32) => {
                tag.v_type = p.read_i32()?;
                has_type = true;
            }
            (3, TType::String) => tag.v_str = Some(p.read_bytes()?),
            (4, TType::Double) => tag.v_double = Some(p.read_double()?),
            (5, TType::Bool) => tag.v_bool = Some(p.read_bool()?),
            (6, TType::I64) => tag.v_long = Some(p.read_i64()?),
            (7, TType::String) => tag.v_binary = Some(p.read_bytes()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if !has_key {
        return Err(ThriftError::MissingField("Tag.key"));
    }
    if !has_type {
        return Err(ThriftError::MissingField("Tag.vType"));
    }
    Ok(tag)
}

fn read_log(p: &mut dyn TInputProtocol) -> TResult<Log> {
    let mut log = Log::default();
    let (mut has_ts, mut has_fields) = (false, false);
    read_struct(p, |p, id, t| {
        match (id, t) {
            (1, TType::I64) => {
                log.timestamp = p.read_i64()?;
                has_ts = true;
            }
            (2, TType::List) => {
                log.fields = read_list(p, read_tag)?;
                has_fields = true;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if !has_ts {
        return Err(ThriftError::MissingField("Log.timestamp"));
    }
    if !has_fields {
        return Err(ThriftError::MissingField("Log.fields"));
    }
    Ok(log)
}

fn read_span_ref(p: &mut dyn TInputProtocol) -> TResult<SpanRef> {
    let mut r = SpanRef::default();
    let mut seen = [false; 4];
    read_struct(p, |p, id, t| {
        match (id, t) {
            (1, TType::I32) => r.ref_type = p.read_i32()?,
            (2, TType::I64) => r.trace_id_low = p.read_i64()?,
            (3, TType::I64) => r.trace_id_high = p.read_i64()?,
            (4, TType::I64) => r.span_id = p.read_i64()?,
            _ => return Ok(false),
        }
        seen[(id - 1) as usize] = true;
        Ok(true)
    })?;
    for (i, name) in [
        "SpanRef.refType",
        "SpanRef.traceIdLow",
        "SpanRef.traceIdHigh",
        "SpanRef.spanId",
    ]
    .into_iter()
    .enumerate()
    {
        if !seen[i] {
            return Err(ThriftError::MissingField(name));
        }
    }
    Ok(r)
}

fn read_span(p: &mut dyn TInputProtocol) -> TResult<JaegerSpan> {
    let mut s = JaegerSpan::default();
    let mut seen = [false; 12];
    read_struct(p, |p, id, t| {
        match (id, t) {
            (1, TType::I64) => s.trace_id_low = p.read_i64()?,
            (2, TType::I64) => s.trace_id_high = p.read_i64()?,
            (3, TType::I64) => s.span_id = p.read_i64()?,
            (4, TType::I64) => s.parent_span_id = p.read_i64()?,
            (5, TType::String) => s.operation_name = lossy(p.read_bytes()?),
            (6, TType::List) => s.references = read_list(p, read_span_ref)?,
            (7, TType::I32) => s.flags = p.read_i32()?,
            (8, TType::I64) => s.start_time = p.read_i64()?,
            (9, TType::I64) => s.duration = p.read_i64()?,
            (10, TType::List) => s.tags = read_list(p, read_tag)?,
            (11, TType::List) => s.logs = read_list(p, read_log)?,
            _ => return Ok(false),
        }
        seen[id as usize] = true;
        Ok(true)
    })?;
    for (id, name) in [
        (1, "Span.traceIdLow"),
        (2, "Span.traceIdHigh"),
        (3, "Span.spanId"),
        (4, "Span.parentSpanId"),
        (5, "Span.operationName"),
        (7, "Span.flags"),
        (8, "Span.startTime"),
        (9, "Span.duration"),
    ] {
        if !seen[id] {
            return Err(ThriftError::MissingField(name));
        }
    }
    Ok(s)
}

fn read_process(p: &mut dyn TInputProtocol) -> TResult<Process> {
    let mut process = Process::default();
    let mut has_name = false;
    read_struct(p, |p, id, t| {
        match (id, t) {
            (1, TType::String) => {
                process.service_name = lossy(p.read_bytes()?);
                has_name = true;
            }
            (2, TType::List) => process.tags = read_list(p, read_tag)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if !has_name {
        return Err(ThriftError::MissingField("Process.serviceName"));
    }
    Ok(process)
}

fn read_batch(p: &mut dyn TInputProtocol) -> TResult<Batch> {
    let mut process = None;
    let mut spans = None;
    read_struct(p, |p, id, t| {
        match (id, t) {
            (1, TType::Struct) => process = Some(read_process(p)?),
            (2, TType::List) => spans = Some(read_list(p, read_span)?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(Batch {
        process: process.ok_or(ThriftError::MissingField("Batch.process"))?,
        spans: spans.ok_or(ThriftError::MissingField("Batch.spans"))?,
    })
}

// ---------------------------------------------------------------------------------
// Jaeger Thrift → OTLP

pub(crate) fn kv(key: impl Into<String>, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// The id bytes: High then Low, big-endian.
pub(crate) fn trace_id_bytes(high: i64, low: i64) -> Vec<u8> {
    let mut id = Vec::with_capacity(16);
    id.extend_from_slice(&(high as u64).to_be_bytes());
    id.extend_from_slice(&(low as u64).to_be_bytes());
    id
}

/// µs since epoch → ns, clamped so absurd values neither overflow nor go negative.
pub(crate) fn micros_to_nanos(us: i64) -> u64 {
    (us.max(0) as u64).saturating_mul(1000)
}

fn tag_value(tag: Tag) -> Value {
    match tag.v_type {
        TAG_STRING => {
            let raw = tag.v_str.unwrap_or_default();
            match String::from_utf8(raw) {
                Ok(s) => Value::StringValue(s),
                // Kept as bytes rather than altered (the sanitizer's rule).
                Err(e) => Value::BytesValue(e.into_bytes()),
            }
        }
        TAG_DOUBLE => Value::DoubleValue(tag.v_double.unwrap_or_default()),
        TAG_BOOL => Value::BoolValue(tag.v_bool.unwrap_or_default()),
        TAG_LONG => Value::IntValue(tag.v_long.unwrap_or_default()),
        TAG_BINARY => Value::BytesValue(tag.v_binary.unwrap_or_default()),
        other => Value::StringValue(format!("<Unknown Jaeger TagType \"{other}\">")),
    }
}

/// Tags → attributes; a later duplicate key replaces the earlier one (map semantics).
fn tags_to_attributes(tags: Vec<Tag>) -> Vec<KeyValue> {
    let mut out: Vec<KeyValue> = Vec::with_capacity(tags.len());
    for tag in tags {
        let key = tag.key.clone();
        let value = tag_value(tag);
        match out.iter_mut().find(|kv| kv.key == key) {
            Some(existing) => existing.value = Some(AnyValue { value: Some(value) }),
            None => out.push(kv(key, value)),
        }
    }
    out
}

fn take_attr(attrs: &mut Vec<KeyValue>, key: &str) -> Option<Value> {
    let i = attrs.iter().position(|kv| kv.key == key)?;
    attrs.remove(i).value.and_then(|v| v.value)
}

fn value_str(v: &Value) -> Option<String> {
    match v {
        Value::StringValue(s) => Some(s.clone()),
        Value::IntValue(i) => Some(i.to_string()),
        Value::BoolValue(b) => Some(b.to_string()),
        Value::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

fn process_to_resource(process: Process) -> Resource {
    let mut attrs = Vec::with_capacity(process.tags.len() + 1);
    if !process.service_name.is_empty() {
        attrs.push(kv("service.name", Value::StringValue(process.service_name)));
    }
    for tag in tags_to_attributes(process.tags) {
        match attrs.iter_mut().find(|a: &&mut KeyValue| a.key == tag.key) {
            Some(existing) => *existing = tag,
            None => attrs.push(tag),
        }
    }
    // Renames Jaeger clients' process tags to the OTel names (contrib translator).
    if !attrs.iter().any(|a| a.key == "host.name")
        && let Some(a) = attrs.iter_mut().find(|a| a.key == "hostname")
    {
        a.key = "host.name".into();
    }
    if !attrs.iter().any(|a| a.key == "opencensus.exporterversion")
        && let Some(v) = take_attr(&mut attrs, "jaeger.version")
    {
        let v = value_str(&v).unwrap_or_default();
        attrs.push(kv(
            "opencensus.exporterversion",
            Value::StringValue(format!("Jaeger-{v}")),
        ));
    }
    Resource {
        attributes: attrs,
        ..Default::default()
    }
}

fn kind_from_tag(v: Option<Value>) -> i32 {
    use jaeger_model::otlp::trace::span::SpanKind;
    let kind = match v {
        Some(Value::StringValue(s)) => match s.as_str() {
            "client" => SpanKind::Client,
            "server" => SpanKind::Server,
            "producer" => SpanKind::Producer,
            "consumer" => SpanKind::Consumer,
            "internal" => SpanKind::Internal,
            _ => SpanKind::Unspecified,
        },
        _ => SpanKind::Unspecified,
    };
    kind as i32
}

/// Status from the `error`, `otel.status_code` and `http.status_code` tags (§2.3).
fn status_from_tags(attrs: &mut Vec<KeyValue>, kind: i32) -> Option<Status> {
    use jaeger_model::otlp::trace::span::SpanKind;
    use jaeger_model::otlp::trace::status::StatusCode;
    let error_true = attrs.iter().any(|a| {
        a.key == "error"
            && matches!(
                a.value.as_ref().and_then(|v| v.value.as_ref()),
                Some(Value::BoolValue(true))
            )
    });
    let code_tag = take_attr(attrs, "otel.status_code");
    if error_true {
        take_attr(attrs, "error");
        let message = take_attr(attrs, "otel.status_description")
            .or_else(|| {
                attrs
                    .iter()
                    .find(|a| a.key == "http.status_message")
                    .and_then(|a| a.value.as_ref().and_then(|v| v.value.clone()))
            })
            .and_then(|v| value_str(&v))
            .unwrap_or_default();
        return Some(Status {
            code: StatusCode::Error as i32,
            message,
        });
    }
    if let Some(code) = code_tag {
        let code = match value_str(&code).map(|s| s.to_ascii_uppercase()).as_deref() {
            Some("OK") => StatusCode::Ok,
            Some("ERROR") => StatusCode::Error,
            _ => StatusCode::Unset,
        };
        let message = take_attr(attrs, "otel.status_description")
            .and_then(|v| value_str(&v))
            .unwrap_or_default();
        return Some(Status {
            code: code as i32,
            message,
        });
    }
    let http = attrs
        .iter()
        .find(|a| a.key == "http.status_code")
        .and_then(|a| a.value.as_ref().and_then(|v| v.value.as_ref()))
        .and_then(|v| match v {
            Value::IntValue(i) => Some(*i),
            Value::StringValue(s) => s.trim().parse().ok(),
            _ => None,
        })?;
    let error = match http {
        100..=399 => false,
        400..=499 => kind != SpanKind::Server as i32,
        _ => true,
    };
    if !error {
        return None;
    }
    let message = attrs
        .iter()
        .find(|a| a.key == "http.status_message")
        .and_then(|a| a.value.as_ref().and_then(|v| v.value.as_ref()))
        .and_then(value_str)
        .unwrap_or_default();
    Some(Status {
        code: StatusCode::Error as i32,
        message,
    })
}

fn log_to_event(log: Log) -> Event {
    let mut attributes = tags_to_attributes(log.fields);
    let name = take_attr(&mut attributes, "event")
        .and_then(|v| value_str(&v))
        .unwrap_or_default();
    Event {
        time_unix_nano: micros_to_nanos(log.timestamp),
        name,
        attributes,
        dropped_attributes_count: 0,
    }
}

fn span_to_otlp(s: JaegerSpan) -> Span {
    // Parent: non-zero parentSpanId, else the first CHILD_OF then FOLLOWS_FROM ref in
    // the same trace.
    let same_trace =
        |r: &&SpanRef| r.trace_id_low == s.trace_id_low && r.trace_id_high == s.trace_id_high;
    let parent = if s.parent_span_id != 0 {
        Some(s.parent_span_id)
    } else {
        s.references
            .iter()
            .filter(same_trace)
            .find(|r| r.ref_type == REF_CHILD_OF)
            .or_else(|| {
                s.references
                    .iter()
                    .filter(same_trace)
                    .find(|r| r.ref_type != REF_CHILD_OF)
            })
            .map(|r| r.span_id)
    };
    let mut skipped_parent_ref = false;
    let links = s
        .references
        .iter()
        .filter(|r| {
            let is_parent = !skipped_parent_ref
                && r.ref_type == REF_CHILD_OF
                && Some(r.span_id) == parent
                && r.trace_id_low == s.trace_id_low
                && r.trace_id_high == s.trace_id_high;
            if is_parent {
                skipped_parent_ref = true;
            }
            !is_parent
        })
        .map(|r| Link {
            trace_id: trace_id_bytes(r.trace_id_high, r.trace_id_low),
            span_id: (r.span_id as u64).to_be_bytes().to_vec(),
            attributes: vec![kv(
                "opentracing.ref_type",
                Value::StringValue(
                    if r.ref_type == REF_CHILD_OF {
                        "child_of"
                    } else {
                        "follows_from"
                    }
                    .into(),
                ),
            )],
            ..Default::default()
        })
        .collect();

    let mut attributes = tags_to_attributes(s.tags);
    let kind = kind_from_tag(take_attr(&mut attributes, "span.kind"));
    let status = status_from_tags(&mut attributes, kind);
    let trace_state = match take_attr(&mut attributes, "w3c.tracestate") {
        Some(Value::StringValue(ts)) => ts,
        _ => String::new(),
    };
    let start = micros_to_nanos(s.start_time);
    Span {
        trace_id: trace_id_bytes(s.trace_id_high, s.trace_id_low),
        span_id: (s.span_id as u64).to_be_bytes().to_vec(),
        parent_span_id: parent
            .map(|p| (p as u64).to_be_bytes().to_vec())
            .unwrap_or_default(),
        trace_state,
        // Jaeger's sampled bit maps to W3C sampled; debug/firehose are dropped.
        flags: (s.flags & 1) as u32,
        name: s.operation_name,
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: start.saturating_add(micros_to_nanos(s.duration)),
        attributes,
        events: s.logs.into_iter().map(log_to_event).collect(),
        links,
        status,
        ..Default::default()
    }
}

/// A Batch as one ResourceSpans with one unnamed ScopeSpans (§2.4). All-zero ("blank")
/// spans are skipped.
pub fn batch_to_otlp(batch: Batch) -> ResourceSpans {
    let spans = batch
        .spans
        .into_iter()
        .filter(|s| !(s.trace_id_low == 0 && s.trace_id_high == 0 && s.span_id == 0))
        .map(span_to_otlp)
        .collect();
    ResourceSpans {
        resource: Some(process_to_resource(batch.process)),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Thrift encoders of the same structs (what Jaeger clients send), for load generators,
/// fuzz seeds and tests. Writing to a `Vec` cannot fail, hence the `expect`s.
pub mod encode {
    use super::*;
    use thrift::protocol::{
        TBinaryOutputProtocol, TCompactOutputProtocol, TFieldIdentifier, TListIdentifier,
        TMessageIdentifier, TOutputProtocol, TStructIdentifier,
    };

    pub(crate) fn field(p: &mut dyn TOutputProtocol, t: TType, id: i16) {
        p.write_field_begin(&TFieldIdentifier::new::<Option<String>, String, i16>(
            None, t, id,
        ))
        .expect("write");
    }

    fn write_tag(p: &mut dyn TOutputProtocol, tag: &Tag) {
        p.write_struct_begin(&TStructIdentifier::new("Tag"))
            .expect("write");
        field(p, TType::String, 1);
        p.write_string(&tag.key).expect("write");
        field(p, TType::I32, 2);
        p.write_i32(tag.v_type).expect("write");
        if let Some(v) = &tag.v_str {
            field(p, TType::String, 3);
            p.write_bytes(v).expect("write");
        }
        if let Some(v) = tag.v_double {
            field(p, TType::Double, 4);
            p.write_double(v).expect("write");
        }
        if let Some(v) = tag.v_bool {
            field(p, TType::Bool, 5);
            p.write_bool(v).expect("write");
        }
        if let Some(v) = tag.v_long {
            field(p, TType::I64, 6);
            p.write_i64(v).expect("write");
        }
        if let Some(v) = &tag.v_binary {
            field(p, TType::String, 7);
            p.write_bytes(v).expect("write");
        }
        p.write_field_stop().expect("write");
        p.write_struct_end().expect("write");
    }

    fn write_tags(p: &mut dyn TOutputProtocol, id: i16, tags: &[Tag]) {
        field(p, TType::List, id);
        p.write_list_begin(&TListIdentifier::new(TType::Struct, tags.len() as i32))
            .expect("write");
        for t in tags {
            write_tag(p, t);
        }
        p.write_list_end().expect("write");
    }

    fn write_span(p: &mut dyn TOutputProtocol, s: &JaegerSpan) {
        p.write_struct_begin(&TStructIdentifier::new("Span"))
            .expect("write");
        for (id, v) in [
            (1, s.trace_id_low),
            (2, s.trace_id_high),
            (3, s.span_id),
            (4, s.parent_span_id),
        ] {
            field(p, TType::I64, id);
            p.write_i64(v).expect("write");
        }
        field(p, TType::String, 5);
        p.write_string(&s.operation_name).expect("write");
        if !s.references.is_empty() {
            field(p, TType::List, 6);
            p.write_list_begin(&TListIdentifier::new(
                TType::Struct,
                s.references.len() as i32,
            ))
            .expect("write");
            for r in &s.references {
                p.write_struct_begin(&TStructIdentifier::new("SpanRef"))
                    .expect("write");
                field(p, TType::I32, 1);
                p.write_i32(r.ref_type).expect("write");
                for (id, v) in [(2, r.trace_id_low), (3, r.trace_id_high), (4, r.span_id)] {
                    field(p, TType::I64, id);
                    p.write_i64(v).expect("write");
                }
                p.write_field_stop().expect("write");
                p.write_struct_end().expect("write");
            }
            p.write_list_end().expect("write");
        }
        field(p, TType::I32, 7);
        p.write_i32(s.flags).expect("write");
        field(p, TType::I64, 8);
        p.write_i64(s.start_time).expect("write");
        field(p, TType::I64, 9);
        p.write_i64(s.duration).expect("write");
        if !s.tags.is_empty() {
            write_tags(p, 10, &s.tags);
        }
        if !s.logs.is_empty() {
            field(p, TType::List, 11);
            p.write_list_begin(&TListIdentifier::new(TType::Struct, s.logs.len() as i32))
                .expect("write");
            for l in &s.logs {
                p.write_struct_begin(&TStructIdentifier::new("Log"))
                    .expect("write");
                field(p, TType::I64, 1);
                p.write_i64(l.timestamp).expect("write");
                write_tags(p, 2, &l.fields);
                p.write_field_stop().expect("write");
                p.write_struct_end().expect("write");
            }
            p.write_list_end().expect("write");
        }
        p.write_field_stop().expect("write");
        p.write_struct_end().expect("write");
    }

    pub fn write_batch(p: &mut dyn TOutputProtocol, b: &Batch) {
        p.write_struct_begin(&TStructIdentifier::new("Batch"))
            .expect("write");
        field(p, TType::Struct, 1);
        p.write_struct_begin(&TStructIdentifier::new("Process"))
            .expect("write");
        field(p, TType::String, 1);
        p.write_string(&b.process.service_name).expect("write");
        if !b.process.tags.is_empty() {
            write_tags(p, 2, &b.process.tags);
        }
        p.write_field_stop().expect("write");
        p.write_struct_end().expect("write");
        field(p, TType::List, 2);
        p.write_list_begin(&TListIdentifier::new(TType::Struct, b.spans.len() as i32))
            .expect("write");
        for s in &b.spans {
            write_span(p, s);
        }
        p.write_list_end().expect("write");
        p.write_field_stop().expect("write");
        p.write_struct_end().expect("write");
    }

    pub fn encode_batch(b: &Batch, protocol: ThriftProtocol) -> Vec<u8> {
        let mut out = Vec::new();
        match protocol {
            ThriftProtocol::Binary => {
                write_batch(&mut TBinaryOutputProtocol::new(&mut out, true), b)
            }
            ThriftProtocol::Compact => write_batch(&mut TCompactOutputProtocol::new(&mut out), b),
        }
        out
    }

    /// An agent datagram: `method` with `batch` as args field 1.
    pub fn encode_agent(method: &str, b: &Batch, protocol: ThriftProtocol) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut bin;
            let mut compact;
            let p: &mut dyn TOutputProtocol = match protocol {
                ThriftProtocol::Binary => {
                    bin = TBinaryOutputProtocol::new(&mut out, true);
                    &mut bin
                }
                ThriftProtocol::Compact => {
                    compact = TCompactOutputProtocol::new(&mut out);
                    &mut compact
                }
            };
            p.write_message_begin(&TMessageIdentifier::new(method, TMessageType::OneWay, 1))
                .expect("write");
            p.write_struct_begin(&TStructIdentifier::new("args"))
                .expect("write");
            field(p, TType::Struct, 1);
            write_batch(p, b);
            p.write_field_stop().expect("write");
            p.write_struct_end().expect("write");
            p.write_message_end().expect("write");
            p.flush().expect("write");
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    pub(crate) use super::encode::{encode_agent, encode_batch, field};
    use super::*;
    use thrift::protocol::{
        TBinaryOutputProtocol, TCompactOutputProtocol, TListIdentifier, TOutputProtocol,
        TStructIdentifier,
    };

    fn str_tag(key: &str, v: &str) -> Tag {
        Tag {
            key: key.into(),
            v_type: TAG_STRING,
            v_str: Some(v.as_bytes().to_vec()),
            ..Default::default()
        }
    }

    pub(crate) fn sample_batch() -> Batch {
        Batch {
            process: Process {
                service_name: "frontend".into(),
                tags: vec![
                    str_tag("hostname", "h1"),
                    str_tag("jaeger.version", "Go-2.30.0"),
                    Tag {
                        key: "ip".into(),
                        v_type: TAG_LONG,
                        v_long: Some(0x7f000001),
                        ..Default::default()
                    },
                ],
            },
            spans: vec![
                JaegerSpan {
                    trace_id_low: -1,
                    trace_id_high: 0x0102030405060708,
                    span_id: 0x10,
                    parent_span_id: 0,
                    operation_name: "GET /".into(),
                    flags: 3,
                    start_time: 1_700_000_000_000_000,
                    duration: 1500,
                    tags: vec![
                        str_tag("span.kind", "server"),
                        Tag {
                            key: "error".into(),
                            v_type: TAG_BOOL,
                            v_bool: Some(true),
                            ..Default::default()
                        },
                        Tag {
                            key: "ratio".into(),
                            v_type: TAG_DOUBLE,
                            v_double: Some(0.5),
                            ..Default::default()
                        },
                        Tag {
                            key: "blob".into(),
                            v_type: TAG_BINARY,
                            v_binary: Some(vec![0, 1, 2]),
                            ..Default::default()
                        },
                    ],
                    logs: vec![Log {
                        timestamp: 1_700_000_000_000_100,
                        fields: vec![str_tag("event", "retry"), str_tag("why", "timeout")],
                    }],
                    ..Default::default()
                },
                JaegerSpan {
                    trace_id_low: -1,
                    trace_id_high: 0x0102030405060708,
                    span_id: 0x11,
                    parent_span_id: 0,
                    operation_name: "db".into(),
                    references: vec![
                        SpanRef {
                            ref_type: 1,
                            trace_id_low: 5,
                            trace_id_high: 0,
                            span_id: 6,
                        },
                        SpanRef {
                            ref_type: REF_CHILD_OF,
                            trace_id_low: -1,
                            trace_id_high: 0x0102030405060708,
                            span_id: 0x10,
                        },
                    ],
                    flags: 0,
                    start_time: 1_700_000_000_000_200,
                    duration: 100,
                    ..Default::default()
                },
            ],
        }
    }

    #[test]
    fn batch_round_trips_in_both_protocols() {
        let batch = sample_batch();
        for protocol in [ThriftProtocol::Binary, ThriftProtocol::Compact] {
            let bytes = encode_batch(&batch, protocol);
            assert_eq!(decode_batch(&bytes, protocol).expect("decodes"), batch);
            let msg = encode_agent("emitBatch", &batch, protocol);
            match decode_agent_message(&msg, protocol).expect("decodes") {
                AgentMessage::EmitBatch(b) => assert_eq!(b, batch),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
        attrs
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| a.value.as_ref()?.value.as_ref())
    }

    #[test]
    fn maps_to_otlp_exactly() {
        let rs = batch_to_otlp(sample_batch());
        let res = rs.resource.expect("resource");
        assert_eq!(
            attr(&res.attributes, "service.name"),
            Some(&Value::StringValue("frontend".into()))
        );
        assert_eq!(
            attr(&res.attributes, "host.name"),
            Some(&Value::StringValue("h1".into()))
        );
        assert_eq!(
            attr(&res.attributes, "opencensus.exporterversion"),
            Some(&Value::StringValue("Jaeger-Go-2.30.0".into()))
        );
        assert_eq!(
            attr(&res.attributes, "ip"),
            Some(&Value::IntValue(0x7f000001))
        );
        let spans = &rs.scope_spans[0].spans;
        let root = &spans[0];
        assert_eq!(
            root.trace_id,
            [
                1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ]
        );
        assert_eq!(root.span_id, 0x10u64.to_be_bytes());
        assert!(root.parent_span_id.is_empty());
        assert_eq!(root.flags, 1);
        assert_eq!(root.kind, 2);
        assert_eq!(root.start_time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(root.end_time_unix_nano, 1_700_000_000_001_500_000);
        assert_eq!(root.status.as_ref().map(|s| s.code), Some(2));
        assert!(attr(&root.attributes, "error").is_none());
        assert!(attr(&root.attributes, "span.kind").is_none());
        assert_eq!(
            attr(&root.attributes, "ratio"),
            Some(&Value::DoubleValue(0.5))
        );
        assert_eq!(
            attr(&root.attributes, "blob"),
            Some(&Value::BytesValue(vec![0, 1, 2]))
        );
        assert_eq!(root.events.len(), 1);
        assert_eq!(root.events[0].name, "retry");
        assert_eq!(root.events[0].time_unix_nano, 1_700_000_000_000_100_000);
        assert_eq!(
            attr(&root.events[0].attributes, "why"),
            Some(&Value::StringValue("timeout".into()))
        );
        let child = &spans[1];
        // Parent from the CHILD_OF ref (parentSpanId is 0); the FOLLOWS_FROM ref to
        // another trace stays a link.
        assert_eq!(child.parent_span_id, 0x10u64.to_be_bytes());
        assert_eq!(child.links.len(), 1);
        assert_eq!(child.links[0].span_id, 6u64.to_be_bytes());
        assert_eq!(
            attr(&child.links[0].attributes, "opentracing.ref_type"),
            Some(&Value::StringValue("follows_from".into()))
        );
        assert_eq!(child.flags, 0);
    }

    #[test]
    fn huge_list_header_is_an_error_not_an_allocation() {
        // Batch { 1: Process{1:"s"}, 2: list<struct> of 1e9 elements } and nothing more.
        for protocol in [ThriftProtocol::Binary, ThriftProtocol::Compact] {
            let mut out = Vec::new();
            {
                let mut bin;
                let mut compact;
                let p: &mut dyn TOutputProtocol = match protocol {
                    ThriftProtocol::Binary => {
                        bin = TBinaryOutputProtocol::new(&mut out, true);
                        &mut bin
                    }
                    ThriftProtocol::Compact => {
                        compact = TCompactOutputProtocol::new(&mut out);
                        &mut compact
                    }
                };
                p.write_struct_begin(&TStructIdentifier::new("Batch"))
                    .expect("write");
                field(p, TType::Struct, 1);
                p.write_struct_begin(&TStructIdentifier::new("P"))
                    .expect("write");
                field(p, TType::String, 1);
                p.write_string("s").expect("write");
                p.write_field_stop().expect("write");
                p.write_struct_end().expect("write");
                field(p, TType::List, 2);
                p.write_list_begin(&TListIdentifier::new(TType::Struct, 1_000_000_000))
                    .expect("write");
            }
            let err = decode_batch(&out, protocol).expect_err("must fail");
            assert!(err.to_string().contains("thrift decode error"), "{err}");
        }
    }

    #[test]
    fn huge_string_header_is_an_error_not_an_allocation() {
        // Batch{1: Process{1: string of 2 GiB / -1 / 4 GiB bytes}} with no payload.
        let cases: [(&[u8], ThriftProtocol); 3] = [
            (
                &[0x0c, 0, 1, 0x0b, 0, 1, 0x7f, 0xff, 0xff, 0xff],
                ThriftProtocol::Binary,
            ),
            (
                &[0x0c, 0, 1, 0x0b, 0, 1, 0xff, 0xff, 0xff, 0xff],
                ThriftProtocol::Binary,
            ),
            (
                &[0x1c, 0x18, 0xff, 0xff, 0xff, 0xff, 0x0f],
                ThriftProtocol::Compact,
            ),
        ];
        for (bytes, protocol) in cases {
            let err = decode_batch(bytes, protocol).expect_err("must fail");
            assert!(err.to_string().contains("thrift decode error"), "{err}");
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        for protocol in [ThriftProtocol::Binary, ThriftProtocol::Compact] {
            let bytes = encode_batch(&sample_batch(), protocol);
            for len in 0..bytes.len() {
                assert!(decode_batch(&bytes[..len], protocol).is_err(), "len {len}");
            }
            let msg = encode_agent("emitBatch", &sample_batch(), protocol);
            for len in 0..msg.len() {
                assert!(decode_agent_message(&msg[..len], protocol).is_err());
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let bytes = encode_batch(&sample_batch(), ThriftProtocol::Compact);
        for _ in 0..2000 {
            let mut b = bytes.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed as usize) % b.len();
                b[i] = (seed >> 32) as u8;
            }
            let _ = decode_batch(&b, ThriftProtocol::Compact);
            let _ = decode_batch(&b, ThriftProtocol::Binary);
            let _ = decode_agent_message(&b, ThriftProtocol::Compact);
        }
    }

    #[test]
    fn missing_required_field_and_unknown_method_are_errors() {
        let mut b = sample_batch();
        b.spans.truncate(0);
        let msg = encode_agent("emitSomething", &b, ThriftProtocol::Binary);
        assert!(matches!(
            decode_agent_message(&msg, ThriftProtocol::Binary),
            Err(ThriftError::UnknownMethod(_))
        ));
        let msg = encode_agent("emitZipkinBatch", &b, ThriftProtocol::Compact);
        assert!(matches!(
            decode_agent_message(&msg, ThriftProtocol::Compact),
            Ok(AgentMessage::EmitZipkinBatch)
        ));
        // A Batch without spans (field 2).
        let mut out = Vec::new();
        {
            let p = &mut TBinaryOutputProtocol::new(&mut out, true);
            p.write_struct_begin(&TStructIdentifier::new("Batch"))
                .expect("write");
            field(p, TType::Struct, 1);
            p.write_struct_begin(&TStructIdentifier::new("P"))
                .expect("write");
            field(p, TType::String, 1);
            p.write_string("s").expect("write");
            p.write_field_stop().expect("write");
            p.write_struct_end().expect("write");
            p.write_field_stop().expect("write");
            p.write_struct_end().expect("write");
        }
        assert!(matches!(
            decode_batch(&out, ThriftProtocol::Binary),
            Err(ThriftError::MissingField("Batch.spans"))
        ));
    }

    #[test]
    fn absurd_times_are_clamped() {
        let mut b = sample_batch();
        b.spans[0].start_time = i64::MAX;
        b.spans[0].duration = i64::MAX;
        b.spans[1].start_time = -5;
        let rs = batch_to_otlp(b);
        let spans = &rs.scope_spans[0].spans;
        assert_eq!(spans[0].start_time_unix_nano, u64::MAX);
        assert_eq!(spans[0].end_time_unix_nano, u64::MAX);
        assert_eq!(spans[1].start_time_unix_nano, 0);
    }
}
