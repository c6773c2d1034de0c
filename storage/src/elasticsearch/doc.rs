//! Jaeger's Elasticsearch span, service and dependencies documents (storage spec §2.3,
//! §2.4, §2.9): the conversion of `api_v2` spans (which `jaeger_proto::convert` derives
//! from OTLP, §0) to span documents and back, tolerant of every writer generation.

use jaeger_proto::api_v2::{KeyValue, Log, Process, Span, SpanRef, SpanRefType, ValueType};
use serde_json::{Map, Value, json};

use crate::{DependencyLink, Result, StorageError};

/// Which tags are stored as fields (`tag.<key>`) instead of the nested `tags` array.
#[derive(Clone, Debug, PartialEq)]
pub struct TagsAsFields {
    pub all: bool,
    /// Keys elevated besides `all`. Jaeger v2 always adds `span.kind` and `error`.
    pub include: Vec<String>,
    /// Replaces `.` in field names (default `@`).
    pub dot_replacement: String,
}

impl Default for TagsAsFields {
    fn default() -> Self {
        Self {
            all: false,
            include: vec!["span.kind".into(), "error".into()],
            dot_replacement: "@".into(),
        }
    }
}

impl TagsAsFields {
    fn elevated(&self, kv: &KeyValue) -> bool {
        kv.v_type != ValueType::Binary as i32 && (self.all || self.include.contains(&kv.key))
    }

    /// The field name of an elevated tag key.
    pub fn field(&self, key: &str) -> String {
        key.replace('.', &self.dot_replacement)
    }

    fn key_of(&self, field: &str) -> String {
        if self.dot_replacement.is_empty() {
            field.to_string()
        } else {
            field.replace(&self.dot_replacement, ".")
        }
    }
}

/// Lowercase hex of FNV-1a 64 (the service document id, span id suffix).
pub fn fnv1a64_hex(parts: &[&[u8]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn trace_id_16(b: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    match b.len() {
        16 => out.copy_from_slice(b),
        8 => out[8..].copy_from_slice(b),
        _ => {}
    }
    out
}

/// The 32-char form current Jaeger writes.
pub fn trace_id_hex(b: &[u8]) -> String {
    hex(&trace_id_16(b))
}

/// Every stored form of a trace id (storage spec §2.3): 32 chars, 16 chars when the high
/// half is zero (Jaeger ≥ 1.16), and without leading zeros (Jaeger < 1.16).
pub fn trace_id_forms(id32: &str) -> Vec<String> {
    let mut out = vec![id32.to_string()];
    if let Some(low) = id32.strip_prefix("0000000000000000") {
        out.push(low.to_string());
    }
    let stripped = id32.trim_start_matches('0');
    let stripped = if stripped.is_empty() { "0" } else { stripped };
    if !out.iter().any(|s| s == stripped) {
        out.push(stripped.to_string());
    }
    out
}

fn parse_hex_id<const N: usize>(s: &str, what: &str) -> Result<[u8; N]> {
    let s = s.trim();
    if s.is_empty() || s.len() > N * 2 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(StorageError::Corrupt(format!(
            "elasticsearch: {what} {s:?} is not hex"
        )));
    }
    let padded = format!("{s:0>width$}", width = N * 2);
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&padded[i * 2..i * 2 + 2], 16)
            .map_err(|e| StorageError::Corrupt(format!("elasticsearch: {what} {s:?}: {e}")))?;
    }
    Ok(out)
}

fn nanos_of(t: Option<&prost_types::Timestamp>) -> i128 {
    t.map(|t| t.seconds as i128 * 1_000_000_000 + t.nanos as i128)
        .unwrap_or(0)
}

fn micros(ns: i128) -> i64 {
    (ns / 1_000).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

fn type_name(v_type: i32) -> &'static str {
    match ValueType::try_from(v_type) {
        Ok(ValueType::Bool) => "bool",
        Ok(ValueType::Int64) => "int64",
        Ok(ValueType::Float64) => "float64",
        Ok(ValueType::Binary) => "binary",
        _ => "string",
    }
}

/// The native JSON value of a tag (current v2 writers; binary as lowercase hex).
fn native_value(kv: &KeyValue) -> Value {
    match type_name(kv.v_type) {
        "bool" => Value::Bool(kv.v_bool),
        "int64" => Value::from(kv.v_int64),
        "float64" => serde_json::Number::from_f64(kv.v_float64)
            .map(Value::Number)
            // NaN / ±Inf have no JSON number: stored as Go prints them.
            .unwrap_or_else(|| Value::String(jaeger_model::trace::format_float(kv.v_float64))),
        "binary" => Value::String(hex(&kv.v_binary)),
        _ => Value::String(kv.v_str.clone()),
    }
}

fn kv_json(kv: &KeyValue) -> Value {
    json!({"key": kv.key, "type": type_name(kv.v_type), "value": native_value(kv)})
}

fn kv_list(tags: &[KeyValue]) -> Value {
    Value::Array(tags.iter().map(kv_json).collect())
}

/// Splits tags into the nested list and the elevated `tag` map.
fn split_tags(tags: &[KeyValue], taf: &TagsAsFields) -> (Value, Map<String, Value>) {
    let mut nested = Vec::new();
    let mut fields = Map::new();
    for kv in tags {
        if taf.elevated(kv) {
            fields.insert(taf.field(&kv.key), native_value(kv));
        } else {
            nested.push(kv_json(kv));
        }
    }
    (Value::Array(nested), fields)
}

fn ref_type_name(t: i32) -> &'static str {
    if t == SpanRefType::FollowsFrom as i32 {
        "FOLLOWS_FROM"
    } else {
        "CHILD_OF"
    }
}

/// A span document with its fields in the Go writer's order, plus the span's start time
/// in µs (for the index name).
pub fn span_to_doc(span: &Span, taf: &TagsAsFields) -> (Value, i64) {
    let trace_id = trace_id_16(&span.trace_id);
    let parent = span.references.iter().find(|r| {
        r.ref_type == SpanRefType::ChildOf as i32 && trace_id_16(&r.trace_id) == trace_id
    });
    let start = micros(nanos_of(span.start_time.as_ref()));
    let duration = micros(
        span.duration
            .as_ref()
            .map(|d| d.seconds as i128 * 1_000_000_000 + d.nanos as i128)
            .unwrap_or(0),
    );
    let mut doc = Map::new();
    doc.insert("traceID".into(), Value::String(hex(&trace_id)));
    doc.insert("spanID".into(), Value::String(hex(&span.span_id)));
    if let Some(p) = parent {
        doc.insert("parentSpanID".into(), Value::String(hex(&p.span_id)));
    }
    if span.flags != 0 {
        doc.insert("flags".into(), Value::from(span.flags));
    }
    doc.insert(
        "operationName".into(),
        Value::String(span.operation_name.clone()),
    );
    doc.insert(
        "references".into(),
        Value::Array(
            span.references
                .iter()
                .map(|r| {
                    json!({
                        "refType": ref_type_name(r.ref_type),
                        "traceID": trace_id_hex(&r.trace_id),
                        "spanID": hex(&r.span_id),
                    })
                })
                .collect(),
        ),
    );
    doc.insert("startTime".into(), Value::from(start));
    doc.insert(
        "startTimeMillis".into(),
        Value::from(start.div_euclid(1000)),
    );
    doc.insert("duration".into(), Value::from(duration));
    let (tags, tag) = split_tags(&span.tags, taf);
    doc.insert("tags".into(), tags);
    if !tag.is_empty() {
        doc.insert("tag".into(), Value::Object(tag));
    }
    doc.insert(
        "logs".into(),
        Value::Array(
            span.logs
                .iter()
                .map(|l| {
                    json!({
                        "timestamp": micros(nanos_of(l.timestamp.as_ref())),
                        // Log fields are never elevated.
                        "fields": kv_list(&l.fields),
                    })
                })
                .collect(),
        ),
    );
    let process = span.process.clone().unwrap_or_default();
    let (ptags, ptag) = split_tags(&process.tags, taf);
    let mut p = Map::new();
    p.insert("serviceName".into(), Value::String(process.service_name));
    p.insert("tags".into(), ptags);
    if !ptag.is_empty() {
        p.insert("tag".into(), Value::Object(ptag));
    }
    doc.insert("process".into(), Value::Object(p));
    (Value::Object(doc), start)
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn int_of(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

fn from_hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok())
        .collect()
}

/// A nested `{key, type, value}`; values may be native JSON (current v2) or strings
/// (Jaeger 1.x and v2 before Apr 2025).
fn kv_from_json(v: &Value) -> KeyValue {
    let mut kv = KeyValue {
        key: str_field(v, "key").to_string(),
        ..Default::default()
    };
    let value = v.get("value").unwrap_or(&Value::Null);
    let text = || match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    match str_field(v, "type") {
        "bool" => {
            kv.v_type = ValueType::Bool as i32;
            kv.v_bool = match value {
                Value::Bool(b) => *b,
                _ => text() == "true",
            };
        }
        "int64" => {
            kv.v_type = ValueType::Int64 as i32;
            kv.v_int64 = match value {
                Value::Number(n) => n
                    .as_i64()
                    .or_else(|| n.as_f64().map(|f| f as i64))
                    .unwrap_or(0),
                _ => text().parse().unwrap_or(0),
            };
        }
        "float64" => {
            kv.v_type = ValueType::Float64 as i32;
            kv.v_float64 = match value {
                Value::Number(n) => n.as_f64().unwrap_or(0.0),
                _ => parse_go_float(&text()),
            };
        }
        "binary" => {
            kv.v_type = ValueType::Binary as i32;
            kv.v_binary = from_hex(&text());
        }
        _ => kv.v_str = text(),
    }
    kv
}

fn parse_go_float(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or(0.0),
    }
}

/// An elevated tag back as a tag; the type follows the JSON value.
fn kv_from_field(key: String, v: &Value) -> KeyValue {
    let mut kv = KeyValue {
        key,
        ..Default::default()
    };
    match v {
        Value::Bool(b) => {
            kv.v_type = ValueType::Bool as i32;
            kv.v_bool = *b;
        }
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            kv.v_type = ValueType::Int64 as i32;
            kv.v_int64 = n.as_i64().unwrap_or(i64::MAX);
        }
        Value::Number(n) => {
            kv.v_type = ValueType::Float64 as i32;
            kv.v_float64 = n.as_f64().unwrap_or(0.0);
        }
        Value::String(s) => kv.v_str = s.clone(),
        other => kv.v_str = other.to_string(),
    }
    kv
}

fn tags_of(obj: &Value, taf: &TagsAsFields) -> Vec<KeyValue> {
    let mut out: Vec<KeyValue> = obj
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(kv_from_json).collect())
        .unwrap_or_default();
    if let Some(m) = obj.get("tag").and_then(Value::as_object) {
        let mut fields: Vec<(&String, &Value)> = m.iter().collect();
        fields.sort_by(|a, b| a.0.cmp(b.0));
        out.extend(
            fields
                .into_iter()
                .map(|(k, v)| kv_from_field(taf.key_of(k), v)),
        );
    }
    out
}

fn timestamp_from_micros(us: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: us.div_euclid(1_000_000),
        nanos: (us.rem_euclid(1_000_000) * 1_000) as i32,
    }
}

/// The `api_v2` span (with its process) of a span document.
pub fn doc_to_span(doc: &Value, taf: &TagsAsFields) -> Result<Span> {
    let trace_id = parse_hex_id::<16>(str_field(doc, "traceID"), "traceID")?;
    let span_id = parse_hex_id::<8>(str_field(doc, "spanID"), "spanID")?;
    let mut references: Vec<SpanRef> = Vec::new();
    for r in doc
        .get("references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let tid = parse_hex_id::<16>(str_field(r, "traceID"), "references.traceID")?;
        let sid = parse_hex_id::<8>(str_field(r, "spanID"), "references.spanID")?;
        references.push(SpanRef {
            trace_id: tid.to_vec(),
            span_id: sid.to_vec(),
            ref_type: if str_field(r, "refType") == "FOLLOWS_FROM" {
                SpanRefType::FollowsFrom as i32
            } else {
                SpanRefType::ChildOf as i32
            },
        });
    }
    // Parent: parentSpanID, else the first same-trace CHILD_OF, else FOLLOWS_FROM ref;
    // it goes first as a CHILD_OF reference (the form jaeger_proto turns into a parent).
    let parent = match str_field(doc, "parentSpanID") {
        "" => None,
        p => Some(parse_hex_id::<8>(p, "parentSpanID")?),
    };
    let same_trace = |r: &SpanRef, t: SpanRefType| r.ref_type == t as i32 && r.trace_id == trace_id;
    let pos = match parent {
        Some(p) => references
            .iter()
            .position(|r| r.trace_id == trace_id && r.span_id == p),
        None => references
            .iter()
            .position(|r| same_trace(r, SpanRefType::ChildOf))
            .or_else(|| {
                references
                    .iter()
                    .position(|r| same_trace(r, SpanRefType::FollowsFrom))
            }),
    };
    match (pos, parent) {
        (Some(i), _) => {
            let mut r = references.remove(i);
            r.ref_type = SpanRefType::ChildOf as i32;
            references.insert(0, r);
        }
        (None, Some(p)) => references.insert(
            0,
            SpanRef {
                trace_id: trace_id.to_vec(),
                span_id: p.to_vec(),
                ref_type: SpanRefType::ChildOf as i32,
            },
        ),
        (None, None) => {}
    }
    let start = int_of(doc.get("startTime"));
    let duration = int_of(doc.get("duration"));
    let logs = doc
        .get("logs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|l| Log {
            timestamp: Some(timestamp_from_micros(int_of(l.get("timestamp")))),
            fields: l
                .get("fields")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(kv_from_json).collect())
                .unwrap_or_default(),
        })
        .collect();
    let process = doc.get("process").unwrap_or(&Value::Null);
    Ok(Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        operation_name: str_field(doc, "operationName").to_string(),
        references,
        flags: u32::try_from(int_of(doc.get("flags"))).unwrap_or(0),
        start_time: Some(timestamp_from_micros(start)),
        duration: Some(prost_types::Duration {
            seconds: duration.div_euclid(1_000_000),
            nanos: (duration.rem_euclid(1_000_000) * 1_000) as i32,
        }),
        tags: tags_of(doc, taf),
        logs,
        process: Some(Process {
            service_name: str_field(process, "serviceName").to_string(),
            tags: tags_of(process, taf),
        }),
        process_id: String::new(),
        warnings: Vec::new(),
    })
}

/// The `_id` of a span document: `<traceID>_<spanID>_<FNV-1a of the body>`, so a retried
/// write overwrites instead of duplicating (Jaeger v2 ≥ 2.20).
pub fn span_doc_id(doc: &Value, body: &[u8]) -> String {
    format!(
        "{}_{}_{}",
        str_field(doc, "traceID"),
        str_field(doc, "spanID"),
        fnv1a64_hex(&[body])
    )
}

/// The service document and its `_id`: Jaeger's (FNV-1a of service ‖ operation) when
/// the span has no kind; with a kind, the document also carries `spanKind` (which Jaeger
/// does not store and its readers ignore) and the kind joins the hash, so that one
/// operation seen with two kinds keeps both.
pub fn service_doc(service: &str, operation: &str, kind: &str) -> (String, Value) {
    if kind.is_empty() {
        return (
            fnv1a64_hex(&[service.as_bytes(), operation.as_bytes()]),
            json!({"serviceName": service, "operationName": operation}),
        );
    }
    (
        fnv1a64_hex(&[service.as_bytes(), operation.as_bytes(), kind.as_bytes()]),
        json!({"serviceName": service, "operationName": operation, "spanKind": kind}),
    )
}

/// RFC 3339 with nanoseconds trimmed as Go's `time.RFC3339Nano` does.
pub fn rfc3339(nanos: u64) -> String {
    let secs = (nanos / 1_000_000_000) as i64;
    let sub = (nanos % 1_000_000_000) as u32;
    chrono::DateTime::from_timestamp(secs, sub)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// A dependencies document (§2.9); `source` is written when set.
pub fn dependencies_doc(window_start: u64, links: &[DependencyLink]) -> Value {
    json!({
        "timestamp": rfc3339(window_start),
        "dependencies": links.iter().map(|l| {
            let mut d = json!({"parent": l.parent, "child": l.child, "callCount": l.call_count});
            if !l.source.is_empty() {
                d["source"] = Value::String(l.source.clone());
            }
            d
        }).collect::<Vec<_>>(),
    })
}

/// The links of a dependencies document (`source` defaults to `jaeger`).
pub fn links_of_doc(doc: &Value) -> Vec<DependencyLink> {
    doc.get("dependencies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| DependencyLink {
            parent: str_field(d, "parent").to_string(),
            child: str_field(d, "child").to_string(),
            call_count: u64::try_from(int_of(d.get("callCount"))).unwrap_or(0),
            source: match str_field(d, "source") {
                "" => "jaeger".to_string(),
                s => s.to_string(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv_str(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            v_str: v.into(),
            ..Default::default()
        }
    }

    fn span() -> Span {
        Span {
            trace_id: vec![0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2],
            span_id: vec![0, 0, 0, 0, 0, 0, 0, 3],
            operation_name: "GET /api".into(),
            references: vec![SpanRef {
                trace_id: vec![0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2],
                span_id: vec![0, 0, 0, 0, 0, 0, 0, 4],
                ref_type: SpanRefType::ChildOf as i32,
            }],
            flags: 1,
            start_time: Some(timestamp_from_micros(1_485_467_191_639_875)),
            duration: Some(prost_types::Duration {
                seconds: 0,
                nanos: 5_000,
            }),
            tags: vec![
                kv_str("span.kind", "server"),
                KeyValue {
                    key: "peer.port".into(),
                    v_type: ValueType::Int64 as i32,
                    v_int64: 23456,
                    ..Default::default()
                },
            ],
            logs: vec![Log {
                timestamp: Some(timestamp_from_micros(1_485_467_191_639_880)),
                fields: vec![kv_str("event", "retry")],
            }],
            process: Some(Process {
                service_name: "svc".into(),
                tags: vec![kv_str("host.name", "h1")],
            }),
            process_id: String::new(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn span_document_has_jaegers_fields() {
        let (doc, start) = span_to_doc(&span(), &TagsAsFields::default());
        assert_eq!(start, 1_485_467_191_639_875);
        assert_eq!(doc["traceID"], "00000000000000010000000000000002");
        assert_eq!(doc["spanID"], "0000000000000003");
        assert_eq!(doc["parentSpanID"], "0000000000000004");
        assert_eq!(doc["flags"], 1);
        assert_eq!(doc["startTimeMillis"], 1_485_467_191_639i64);
        assert_eq!(doc["duration"], 5);
        assert_eq!(doc["tag"]["span@kind"], "server");
        assert_eq!(
            doc["tags"],
            json!([{"key": "peer.port", "type": "int64", "value": 23456}])
        );
        assert_eq!(doc["references"][0]["refType"], "CHILD_OF");
        assert_eq!(doc["logs"][0]["fields"][0]["value"], "retry");
        assert_eq!(doc["process"]["serviceName"], "svc");
        assert!(doc.get("@timestamp").is_none());
    }

    #[test]
    fn document_round_trips() {
        let taf = TagsAsFields::default();
        let (doc, _) = span_to_doc(&span(), &taf);
        let back = doc_to_span(&doc, &taf).expect("decodes");
        let mut want = span();
        // Elevated tags come back after the nested ones.
        want.tags.rotate_left(1);
        assert_eq!(back, want);
    }

    #[test]
    fn old_writers_string_values_and_short_ids_are_read() {
        let doc = json!({
            "traceID": "2", "spanID": "3", "operationName": "op",
            "references": [{"refType": "CHILD_OF", "traceID": "2", "spanID": "4"}],
            "startTime": 10, "duration": 2,
            "tags": [{"key": "n", "type": "int64", "value": "7"},
                     {"key": "b", "type": "bool", "value": "true"},
                     {"key": "f", "type": "float64", "value": "72.5"}],
            "process": {"serviceName": "s", "tags": null}
        });
        let s = doc_to_span(&doc, &TagsAsFields::default()).expect("decodes");
        assert_eq!(s.trace_id[15], 2);
        assert_eq!(s.references[0].span_id[7], 4);
        assert_eq!(s.tags[0].v_int64, 7);
        assert!(s.tags[1].v_bool);
        assert_eq!(s.tags[2].v_float64, 72.5);
    }

    #[test]
    fn trace_id_forms_cover_old_writers() {
        assert_eq!(
            trace_id_forms("00000000000000000000000000000abc"),
            vec![
                "00000000000000000000000000000abc".to_string(),
                "0000000000000abc".to_string(),
                "abc".to_string()
            ]
        );
    }

    #[test]
    fn service_id_is_fnv1a_of_service_and_operation() {
        // FNV-1a 64 of "" is the offset basis.
        assert_eq!(fnv1a64_hex(&[]), "cbf29ce484222325");
        // FNV-1a 64 of "a" (published test vector).
        assert_eq!(fnv1a64_hex(&[b"a"]), "af63dc4c8601ec8c");
        assert_eq!(service_doc("a", "", "").0, "af63dc4c8601ec8c");
        let (id, d) = service_doc("a", "", "server");
        assert_ne!(id, "af63dc4c8601ec8c");
        assert_eq!(d["spanKind"], "server");
    }

    #[test]
    fn dependencies_document() {
        let links = vec![DependencyLink {
            parent: "a".into(),
            child: "b".into(),
            call_count: 3,
            source: String::new(),
        }];
        let d = dependencies_doc(1_000_000_000, &links);
        assert_eq!(d["timestamp"], "1970-01-01T00:00:01Z");
        assert_eq!(
            d["dependencies"][0],
            json!({"parent": "a", "child": "b", "callCount": 3})
        );
        assert_eq!(links_of_doc(&d)[0].source, "jaeger");
    }
}
