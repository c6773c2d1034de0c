//! Kafka message encodings of spans (ingest spec §4): what the collector's exporter
//! writes and the ingester's receiver reads.
//!
//! - `otlp_proto` (default) / `otlp_json`: one `ExportTraceServiceRequest` per message;
//!   the exporter writes one message per trace, keyed by the trace id in hex.
//! - `jaeger_proto` (v1 name `protobuf`) / `jaeger_json` (v1 `json`): one
//!   `jaeger.api_v2.Span` with its `process` per message, keyed by the trace id as
//!   Jaeger's `TraceID.String()` writes it (16 hex chars when the high half is zero).
//! - `zipkin_proto`, `zipkin_json`, `zipkin_thrift` (v1 `zipkin-thrift`): read only.
//!
//! Pure functions with no I/O, built without the `server` feature so they can be fuzzed.

use std::collections::HashMap;

use jaeger_model::otlp::ResourceSpans;
use jaeger_model::otlp::collector::ExportTraceServiceRequest;
use jaeger_proto::api_v2::{Batch, Span as JaegerSpan};
use prost::Message as _;

/// Why a message could not be encoded or decoded.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CodecError {
    #[error(
        "unknown Kafka encoding {0:?}: expected otlp_proto, otlp_json, jaeger_proto (protobuf), jaeger_json (json), zipkin_proto, zipkin_json or zipkin_thrift"
    )]
    UnknownEncoding(String),
    #[error("the {0} encoding can be read but not written")]
    ReadOnly(&'static str),
    #[error("cannot decode a {encoding} message: {reason}")]
    Decode {
        encoding: &'static str,
        reason: String,
    },
    #[error("cannot encode spans as {encoding}: {reason}")]
    Encode {
        encoding: &'static str,
        reason: String,
    },
}

/// A span encoding of Kafka messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    OtlpProto,
    OtlpJson,
    JaegerProto,
    JaegerJson,
    ZipkinProto,
    ZipkinJson,
    ZipkinThrift,
}

impl Encoding {
    /// Every encoding, in declaration order (the `kafka_codec` fuzz target's seeds pick
    /// one by their first byte modulo this length).
    pub const ALL: [Encoding; 7] = [
        Self::OtlpProto,
        Self::OtlpJson,
        Self::JaegerProto,
        Self::JaegerJson,
        Self::ZipkinProto,
        Self::ZipkinJson,
        Self::ZipkinThrift,
    ];

    /// Jaeger v2's names and Jaeger v1's (`protobuf`, `json`, `zipkin-thrift`).
    pub fn parse(s: &str) -> Result<Self, CodecError> {
        Ok(match s.trim() {
            "otlp_proto" | "" => Self::OtlpProto,
            "otlp_json" => Self::OtlpJson,
            "jaeger_proto" | "protobuf" => Self::JaegerProto,
            "jaeger_json" | "json" => Self::JaegerJson,
            "zipkin_proto" => Self::ZipkinProto,
            "zipkin_json" => Self::ZipkinJson,
            "zipkin_thrift" | "zipkin-thrift" => Self::ZipkinThrift,
            other => return Err(CodecError::UnknownEncoding(other.to_string())),
        })
    }

    /// The v2 name (metric label, messages).
    pub fn name(self) -> &'static str {
        match self {
            Self::OtlpProto => "otlp_proto",
            Self::OtlpJson => "otlp_json",
            Self::JaegerProto => "jaeger_proto",
            Self::JaegerJson => "jaeger_json",
            Self::ZipkinProto => "zipkin_proto",
            Self::ZipkinJson => "zipkin_json",
            Self::ZipkinThrift => "zipkin_thrift",
        }
    }

    /// Whether [`encode`] can write it (the Zipkin encodings are read only).
    pub fn can_encode(self) -> bool {
        !matches!(
            self,
            Self::ZipkinProto | Self::ZipkinJson | Self::ZipkinThrift
        )
    }
}

/// One Kafka message: key (a trace id) and payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub key: Vec<u8>,
    pub payload: Vec<u8>,
    /// Spans in the payload.
    pub spans: usize,
}

/// Encodes a batch as messages, each holding spans of one trace only (so that keying by
/// trace id keeps a trace on one partition). An OTLP message over `max_bytes` is split
/// by spans while it holds more than one.
pub fn encode(
    encoding: Encoding,
    batch: &[ResourceSpans],
    max_bytes: usize,
) -> Result<Vec<Message>, CodecError> {
    match encoding {
        Encoding::OtlpProto | Encoding::OtlpJson => {
            let mut out = Vec::new();
            for (trace_id, rs) in split_by_trace(batch) {
                encode_otlp(encoding, &trace_id, rs, max_bytes, &mut out);
            }
            Ok(out)
        }
        Encoding::JaegerProto | Encoding::JaegerJson => {
            let spans = jaeger_proto::convert::spans_from_otlp(batch);
            let mut out = Vec::with_capacity(spans.len());
            for span in spans {
                let key = jaeger_trace_id_string(&span.trace_id).into_bytes();
                let payload = if encoding == Encoding::JaegerProto {
                    span.encode_to_vec()
                } else {
                    jaeger_json::encode(&span).map_err(|reason| CodecError::Encode {
                        encoding: encoding.name(),
                        reason,
                    })?
                };
                out.push(Message {
                    key,
                    payload,
                    spans: 1,
                });
            }
            Ok(out)
        }
        other => Err(CodecError::ReadOnly(other.name())),
    }
}

/// Decodes one message into OTLP resource spans.
pub fn decode(encoding: Encoding, payload: &[u8]) -> Result<Vec<ResourceSpans>, CodecError> {
    let err = |reason: String| CodecError::Decode {
        encoding: encoding.name(),
        reason,
    };
    match encoding {
        // The receivers' decoder: prost's result with fewer instructions.
        Encoding::OtlpProto => crate::otlp_proto::decode_request(payload)
            .map(|r| r.resource_spans)
            .map_err(|e| err(e.to_string())),
        Encoding::OtlpJson => jaeger_model::otlp_json_decode::decode_request(payload)
            .map(|r| r.resource_spans)
            .map_err(err),
        Encoding::JaegerProto | Encoding::JaegerJson => {
            let span = if encoding == Encoding::JaegerProto {
                JaegerSpan::decode(payload).map_err(|e| err(e.to_string()))?
            } else {
                jaeger_json::decode(payload).map_err(err)?
            };
            let batch = Batch {
                spans: vec![span],
                process: None,
            };
            jaeger_proto::convert::batch_to_otlp(&batch).map_err(|e| err(e.to_string()))
        }
        Encoding::ZipkinProto => crate::zipkin::v2::decode_proto(payload)
            .and_then(crate::zipkin::model::to_otlp)
            .map_err(err),
        Encoding::ZipkinJson => crate::zipkin::v2::decode_json(payload)
            .and_then(crate::zipkin::model::to_otlp)
            .map_err(err),
        Encoding::ZipkinThrift => crate::zipkin::v1::decode_thrift(payload)
            .map(crate::zipkin::v1::to_v2)
            .and_then(crate::zipkin::model::to_otlp)
            .map_err(err),
    }
}

/// Jaeger's `TraceID.String()`: 16 hex digits when the high half is zero, else 32.
pub fn jaeger_trace_id_string(id: &[u8]) -> String {
    match id.len() {
        16 if id[..8].iter().all(|b| *b == 0) => hex::encode(&id[8..]),
        _ => hex::encode(id),
    }
}

/// The batch's spans grouped by trace id (first-seen order), each group keeping the
/// resource and scope of its spans.
pub fn split_by_trace(batch: &[ResourceSpans]) -> Vec<(Vec<u8>, Vec<ResourceSpans>)> {
    let mut order: Vec<(Vec<u8>, Vec<ResourceSpans>)> = Vec::new();
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    for rs in batch {
        for ss in &rs.scope_spans {
            for span in &ss.spans {
                let i = *index.entry(span.trace_id.clone()).or_insert_with(|| {
                    order.push((span.trace_id.clone(), Vec::new()));
                    order.len() - 1
                });
                let group = &mut order[i].1;
                // A new ResourceSpans when the resource changes, a new ScopeSpans when
                // the scope does.
                let same_resource = group.last().is_some_and(|last: &ResourceSpans| {
                    last.resource == rs.resource && last.schema_url == rs.schema_url
                });
                if !same_resource {
                    group.push(ResourceSpans {
                        resource: rs.resource.clone(),
                        scope_spans: Vec::new(),
                        schema_url: rs.schema_url.clone(),
                    });
                }
                let target = group.last_mut().expect("pushed above");
                let same_scope = target
                    .scope_spans
                    .last()
                    .is_some_and(|l| l.scope == ss.scope && l.schema_url == ss.schema_url);
                if !same_scope {
                    target.scope_spans.push(jaeger_model::otlp::ScopeSpans {
                        scope: ss.scope.clone(),
                        spans: Vec::new(),
                        schema_url: ss.schema_url.clone(),
                    });
                }
                target
                    .scope_spans
                    .last_mut()
                    .expect("pushed above")
                    .spans
                    .push(span.clone());
            }
        }
    }
    order
}

fn encode_otlp(
    encoding: Encoding,
    trace_id: &[u8],
    rs: Vec<ResourceSpans>,
    max_bytes: usize,
    out: &mut Vec<Message>,
) {
    let spans = jaeger_model::trace::span_count(&rs);
    let payload = encode_otlp_request(encoding, &rs);
    if payload.len() > max_bytes && spans > 1 {
        let (a, b) = split_half(rs);
        encode_otlp(encoding, trace_id, a, max_bytes, out);
        encode_otlp(encoding, trace_id, b, max_bytes, out);
        return;
    }
    out.push(Message {
        key: hex::encode(trace_id).into_bytes(),
        payload,
        spans,
    });
}

fn encode_otlp_request(encoding: Encoding, rs: &[ResourceSpans]) -> Vec<u8> {
    if encoding == Encoding::OtlpJson {
        jaeger_model::otlp_json::traces_data(rs).into_bytes()
    } else {
        ExportTraceServiceRequest {
            resource_spans: rs.to_vec(),
        }
        .encode_to_vec()
    }
}

/// Splits the spans of `rs` into two halves, each keeping resource and scope.
fn split_half(rs: Vec<ResourceSpans>) -> (Vec<ResourceSpans>, Vec<ResourceSpans>) {
    let total = jaeger_model::trace::span_count(&rs);
    let mut first_left = total / 2;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for r in rs {
        let mut ra = ResourceSpans {
            resource: r.resource.clone(),
            scope_spans: Vec::new(),
            schema_url: r.schema_url.clone(),
        };
        let mut rb = ra.clone();
        for mut ss in r.scope_spans {
            let take = first_left.min(ss.spans.len());
            first_left -= take;
            let rest = ss.spans.split_off(take);
            if !ss.spans.is_empty() {
                let mut left = ss.clone();
                left.spans = std::mem::take(&mut ss.spans);
                ra.scope_spans.push(left);
            }
            if !rest.is_empty() {
                ss.spans = rest;
                rb.scope_spans.push(ss);
            }
        }
        if !ra.scope_spans.is_empty() {
            a.push(ra);
        }
        if !rb.scope_spans.is_empty() {
            b.push(rb);
        }
    }
    (a, b)
}

/// Jaeger v1's `json` Kafka encoding: gogo `jsonpb` of one `model.Span` (camelCase
/// names, ids and binary values in base64, enums by name, int64 as strings, RFC 3339
/// timestamps, `"1.5s"` durations, zero values omitted).
pub mod jaeger_json {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;
    use jaeger_proto::api_v2::{KeyValue, Log, Process, Span, SpanRef, SpanRefType, ValueType};
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct JSpan {
        #[serde(alias = "trace_id", skip_serializing_if = "String::is_empty")]
        trace_id: String,
        #[serde(alias = "span_id", skip_serializing_if = "String::is_empty")]
        span_id: String,
        #[serde(alias = "operation_name", skip_serializing_if = "String::is_empty")]
        operation_name: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        references: Vec<JRef>,
        #[serde(skip_serializing_if = "is_zero")]
        flags: u32,
        #[serde(alias = "start_time", skip_serializing_if = "Option::is_none")]
        start_time: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        duration: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tags: Vec<JKv>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        logs: Vec<JLog>,
        #[serde(skip_serializing_if = "Option::is_none")]
        process: Option<JProcess>,
        #[serde(alias = "process_id", skip_serializing_if = "String::is_empty")]
        process_id: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    }

    #[derive(Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct JRef {
        #[serde(alias = "trace_id", skip_serializing_if = "String::is_empty")]
        trace_id: String,
        #[serde(alias = "span_id", skip_serializing_if = "String::is_empty")]
        span_id: String,
        #[serde(alias = "ref_type", skip_serializing_if = "Option::is_none")]
        ref_type: Option<String>,
    }

    #[derive(Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct JKv {
        key: String,
        #[serde(alias = "v_type", skip_serializing_if = "Option::is_none")]
        v_type: Option<String>,
        #[serde(alias = "v_str", skip_serializing_if = "String::is_empty")]
        v_str: String,
        #[serde(alias = "v_bool", skip_serializing_if = "is_false")]
        v_bool: bool,
        #[serde(alias = "v_int64", skip_serializing_if = "Option::is_none")]
        v_int64: Option<serde_json::Value>,
        #[serde(alias = "v_float64", skip_serializing_if = "Option::is_none")]
        v_float64: Option<serde_json::Value>,
        #[serde(alias = "v_binary", skip_serializing_if = "String::is_empty")]
        v_binary: String,
    }

    #[derive(Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct JLog {
        #[serde(skip_serializing_if = "Option::is_none")]
        timestamp: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        fields: Vec<JKv>,
    }

    #[derive(Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct JProcess {
        #[serde(alias = "service_name", skip_serializing_if = "String::is_empty")]
        service_name: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tags: Vec<JKv>,
    }

    fn is_zero(n: &u32) -> bool {
        *n == 0
    }
    fn is_false(b: &bool) -> bool {
        !*b
    }

    pub fn encode(span: &Span) -> Result<Vec<u8>, String> {
        let j = JSpan {
            trace_id: b64(&span.trace_id),
            span_id: b64(&span.span_id),
            operation_name: span.operation_name.clone(),
            references: span
                .references
                .iter()
                .map(|r| JRef {
                    trace_id: b64(&r.trace_id),
                    span_id: b64(&r.span_id),
                    ref_type: (r.ref_type != 0).then(|| {
                        SpanRefType::try_from(r.ref_type)
                            .map(|t| t.as_str_name().to_string())
                            .unwrap_or_else(|_| r.ref_type.to_string())
                    }),
                })
                .collect(),
            flags: span.flags,
            start_time: span
                .start_time
                .as_ref()
                .map(|t| rfc3339(t.seconds, t.nanos)),
            duration: span
                .duration
                .as_ref()
                .map(|d| go_duration(d.seconds, d.nanos)),
            tags: span.tags.iter().map(kv_to_json).collect(),
            logs: span
                .logs
                .iter()
                .map(|l| JLog {
                    timestamp: l.timestamp.as_ref().map(|t| rfc3339(t.seconds, t.nanos)),
                    fields: l.fields.iter().map(kv_to_json).collect(),
                })
                .collect(),
            process: span.process.as_ref().map(|p| JProcess {
                service_name: p.service_name.clone(),
                tags: p.tags.iter().map(kv_to_json).collect(),
            }),
            process_id: span.process_id.clone(),
            warnings: span.warnings.clone(),
        };
        serde_json::to_vec(&j).map_err(|e| e.to_string())
    }

    pub fn decode(payload: &[u8]) -> Result<Span, String> {
        let j: JSpan = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        Ok(Span {
            trace_id: unb64("traceId", &j.trace_id)?,
            span_id: unb64("spanId", &j.span_id)?,
            operation_name: j.operation_name,
            references: j
                .references
                .into_iter()
                .map(|r| {
                    Ok(SpanRef {
                        trace_id: unb64("references.traceId", &r.trace_id)?,
                        span_id: unb64("references.spanId", &r.span_id)?,
                        ref_type: match r.ref_type.as_deref() {
                            None => 0,
                            Some(s) => SpanRefType::from_str_name(s)
                                .map(|t| t as i32)
                                .ok_or_else(|| format!("unknown refType {s:?}"))?,
                        },
                    })
                })
                .collect::<Result<_, String>>()?,
            flags: j.flags,
            start_time: j
                .start_time
                .as_deref()
                .map(parse_rfc3339)
                .transpose()?
                .map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos }),
            duration: j
                .duration
                .as_deref()
                .map(parse_go_duration)
                .transpose()?
                .map(|(seconds, nanos)| prost_types::Duration { seconds, nanos }),
            tags: j
                .tags
                .into_iter()
                .map(kv_from_json)
                .collect::<Result<_, _>>()?,
            logs: j
                .logs
                .into_iter()
                .map(|l| {
                    Ok(Log {
                        timestamp: l
                            .timestamp
                            .as_deref()
                            .map(parse_rfc3339)
                            .transpose()?
                            .map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos }),
                        fields: l
                            .fields
                            .into_iter()
                            .map(kv_from_json)
                            .collect::<Result<_, String>>()?,
                    })
                })
                .collect::<Result<_, String>>()?,
            process: j
                .process
                .map(|p| {
                    Ok::<_, String>(Process {
                        service_name: p.service_name,
                        tags: p
                            .tags
                            .into_iter()
                            .map(kv_from_json)
                            .collect::<Result<_, _>>()?,
                    })
                })
                .transpose()?,
            process_id: j.process_id,
            warnings: j.warnings,
        })
    }

    fn b64(b: &[u8]) -> String {
        if b.is_empty() {
            String::new()
        } else {
            B64.encode(b)
        }
    }

    fn unb64(field: &str, s: &str) -> Result<Vec<u8>, String> {
        B64.decode(s)
            .map_err(|e| format!("{field}: invalid base64 {s:?}: {e}"))
    }

    fn kv_to_json(kv: &KeyValue) -> JKv {
        let mut j = JKv {
            key: kv.key.clone(),
            v_type: (kv.v_type != 0).then(|| {
                ValueType::try_from(kv.v_type)
                    .map(|t| t.as_str_name().to_string())
                    .unwrap_or_else(|_| kv.v_type.to_string())
            }),
            v_str: kv.v_str.clone(),
            v_bool: kv.v_bool,
            ..JKv::default()
        };
        if kv.v_int64 != 0 {
            j.v_int64 = Some(serde_json::Value::String(kv.v_int64.to_string()));
        }
        if kv.v_float64 != 0.0 {
            j.v_float64 = Some(if kv.v_float64.is_finite() {
                serde_json::json!(kv.v_float64)
            } else if kv.v_float64.is_nan() {
                serde_json::Value::String("NaN".into())
            } else if kv.v_float64 > 0.0 {
                serde_json::Value::String("Infinity".into())
            } else {
                serde_json::Value::String("-Infinity".into())
            });
        }
        j.v_binary = b64(&kv.v_binary);
        j
    }

    fn kv_from_json(j: JKv) -> Result<KeyValue, String> {
        let v_type = match j.v_type.as_deref() {
            None => 0,
            Some(s) => ValueType::from_str_name(s)
                .map(|t| t as i32)
                .ok_or_else(|| format!("tag {:?}: unknown vType {s:?}", j.key))?,
        };
        let v_int64 = match &j.v_int64 {
            None => 0,
            Some(serde_json::Value::String(s)) => s
                .parse()
                .map_err(|_| format!("tag {:?}: invalid vInt64 {s:?}", j.key))?,
            Some(serde_json::Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| format!("tag {:?}: invalid vInt64 {n}", j.key))?,
            Some(other) => return Err(format!("tag {:?}: invalid vInt64 {other}", j.key)),
        };
        let v_float64 = match &j.v_float64 {
            None => 0.0,
            Some(serde_json::Value::Number(n)) => n.as_f64().unwrap_or_default(),
            Some(serde_json::Value::String(s)) => match s.as_str() {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                s => s
                    .parse()
                    .map_err(|_| format!("tag {:?}: invalid vFloat64 {s:?}", j.key))?,
            },
            Some(other) => return Err(format!("tag {:?}: invalid vFloat64 {other}", j.key)),
        };
        Ok(KeyValue {
            v_binary: unb64("vBinary", &j.v_binary)?,
            key: j.key,
            v_type,
            v_str: j.v_str,
            v_bool: j.v_bool,
            v_int64,
            v_float64,
        })
    }

    /// `2017-01-26T16:46:31.639875Z`: 0, 3, 6 or 9 fraction digits, as jsonpb writes.
    fn rfc3339(seconds: i64, nanos: i32) -> String {
        let days = seconds.div_euclid(86_400);
        let secs = seconds.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let frac = match nanos.max(0) {
            0 => String::new(),
            n if n % 1_000_000 == 0 => format!(".{:03}", n / 1_000_000),
            n if n % 1_000 == 0 => format!(".{:06}", n / 1_000),
            n => format!(".{n:09}"),
        };
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        )
    }

    fn parse_rfc3339(s: &str) -> Result<(i64, i32), String> {
        let bad = || format!("invalid timestamp {s:?}");
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
            s.get(r).and_then(|x| x.parse().ok()).ok_or_else(bad)
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut rest = &s[19..];
        let mut nanos = 0i64;
        if let Some(f) = rest.strip_prefix('.') {
            let digits = f.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 9 {
                return Err(bad());
            }
            nanos = f[..digits].parse::<i64>().map_err(|_| bad())? * 10i64.pow(9 - digits as u32);
            rest = &f[digits..];
        }
        let offset = match rest {
            "Z" | "z" => 0,
            o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
                let h: i64 = o[1..3].parse().map_err(|_| bad())?;
                let m: i64 = o[4..6].parse().map_err(|_| bad())?;
                let v = h * 3600 + m * 60;
                if o.starts_with('-') { -v } else { v }
            }
            _ => return Err(bad()),
        };
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
            return Err(bad());
        }
        let days = days_from_civil(y, mo, d);
        Ok((
            days * 86_400 + h * 3600 + mi * 60 + sec - offset,
            nanos as i32,
        ))
    }

    /// `1.000340s`, as jsonpb writes a Duration.
    fn go_duration(seconds: i64, nanos: i32) -> String {
        if nanos == 0 {
            return format!("{seconds}s");
        }
        let sign = if seconds < 0 || nanos < 0 { "-" } else { "" };
        let frac = format!("{:09}", nanos.unsigned_abs());
        format!(
            "{sign}{}.{}s",
            seconds.unsigned_abs(),
            frac.trim_end_matches('0')
        )
    }

    fn parse_go_duration(s: &str) -> Result<(i64, i32), String> {
        let bad = || format!("invalid duration {s:?}");
        let body = s.strip_suffix('s').ok_or_else(bad)?;
        let (neg, body) = match body.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, body),
        };
        let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
        let secs: i64 = whole.parse().map_err(|_| bad())?;
        if frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let nanos: i32 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<9}").parse().map_err(|_| bad())?
        };
        Ok(if neg { (-secs, -nanos) } else { (secs, nanos) })
    }

    // Howard Hinnant's civil calendar algorithms.
    fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    fn civil_from_days(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn timestamps_and_durations_as_jsonpb() {
            assert_eq!(
                rfc3339(1_485_449_191, 639_875_000),
                "2017-01-26T16:46:31.639875Z"
            );
            assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
            assert_eq!(
                parse_rfc3339("2017-01-26T16:46:31.639875Z"),
                Ok((1_485_449_191, 639_875_000))
            );
            assert_eq!(
                parse_rfc3339("2017-01-26T17:46:31+01:00"),
                Ok((1_485_449_191, 0))
            );
            assert!(parse_rfc3339("yesterday").is_err());
            assert_eq!(go_duration(0, 100_000), "0.0001s");
            assert_eq!(go_duration(3, 0), "3s");
            assert_eq!(parse_go_duration("0.0001s"), Ok((0, 100_000)));
            assert_eq!(parse_go_duration("1.5s"), Ok((1, 500_000_000)));
            assert!(parse_go_duration("1.5m").is_err());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jaeger_model::otlp::{InstrumentationScope, Resource, ScopeSpans, Span, Value};

    fn span(trace: u8, id: u8, name: &str) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            name: name.into(),
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_001_000_000,
            attributes: vec![jaeger_model::trace::kv(
                "http.status_code",
                Value::IntValue(200),
            )],
            ..Span::default()
        }
    }

    fn batch() -> Vec<ResourceSpans> {
        vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![jaeger_model::trace::kv(
                    "service.name",
                    Value::StringValue("frontend".into()),
                )],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1.0".into(),
                    ..InstrumentationScope::default()
                }),
                spans: vec![span(1, 1, "a"), span(2, 2, "b"), span(1, 3, "c")],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }]
    }

    /// (trace id, span id, name, service) of every span, sorted.
    fn summary(rs: &[ResourceSpans]) -> Vec<(Vec<u8>, Vec<u8>, String, String)> {
        let mut v: Vec<_> = rs
            .iter()
            .flat_map(|r| {
                let svc = r
                    .resource
                    .as_ref()
                    .map(|r| jaeger_model::trace::service_name(r).to_string())
                    .unwrap_or_default();
                r.scope_spans.iter().flat_map(move |ss| {
                    let svc = svc.clone();
                    ss.spans.iter().map(move |s| {
                        (
                            s.trace_id.clone(),
                            s.span_id.clone(),
                            s.name.clone(),
                            svc.clone(),
                        )
                    })
                })
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn encoding_names_of_v1_and_v2() {
        assert_eq!(Encoding::parse("protobuf"), Ok(Encoding::JaegerProto));
        assert_eq!(Encoding::parse("json"), Ok(Encoding::JaegerJson));
        assert_eq!(Encoding::parse("zipkin-thrift"), Ok(Encoding::ZipkinThrift));
        assert_eq!(Encoding::parse("otlp_proto"), Ok(Encoding::OtlpProto));
        assert!(matches!(
            Encoding::parse("avro"),
            Err(CodecError::UnknownEncoding(_))
        ));
        assert_eq!(
            encode(Encoding::ZipkinJson, &batch(), 1 << 20),
            Err(CodecError::ReadOnly("zipkin_json"))
        );
    }

    #[test]
    fn every_writable_encoding_round_trips() {
        for enc in [
            Encoding::OtlpProto,
            Encoding::OtlpJson,
            Encoding::JaegerProto,
            Encoding::JaegerJson,
        ] {
            let messages = encode(enc, &batch(), 1 << 20).expect("encode");
            let mut decoded = Vec::new();
            for m in &messages {
                let rs = decode(enc, &m.payload).expect("decode");
                // Every message holds one trace, and its key names it.
                let ids: std::collections::BTreeSet<_> =
                    summary(&rs).into_iter().map(|s| s.0).collect();
                assert_eq!(ids.len(), 1, "{enc:?}");
                let id = ids.into_iter().next().expect("one");
                let key = String::from_utf8(m.key.clone()).expect("utf8");
                assert_eq!(key, jaeger_trace_id_string(&id), "{enc:?}");
                decoded.extend(rs);
            }
            assert_eq!(summary(&decoded), summary(&batch()), "{enc:?}");
            let expected = if enc == Encoding::OtlpProto || enc == Encoding::OtlpJson {
                2
            } else {
                3
            };
            assert_eq!(messages.len(), expected, "{enc:?}");
        }
    }

    #[test]
    fn otlp_keeps_attributes_and_scope() {
        let m = encode(Encoding::OtlpProto, &batch(), 1 << 20).expect("encode");
        let rs = decode(Encoding::OtlpProto, &m[0].payload).expect("decode");
        let ss = &rs[0].scope_spans[0];
        assert_eq!(ss.scope.as_ref().map(|s| s.name.as_str()), Some("lib"));
        assert_eq!(ss.spans.len(), 2, "both spans of trace 1");
        assert_eq!(
            ss.spans[0].attributes,
            batch()[0].scope_spans[0].spans[0].attributes
        );
    }

    #[test]
    fn jaeger_json_is_jsonpb_shaped() {
        let m = encode(Encoding::JaegerJson, &batch(), 1 << 20).expect("encode");
        let v: serde_json::Value = serde_json::from_slice(&m[0].payload).expect("json");
        assert_eq!(v["traceId"], "AQEBAQEBAQEBAQEBAQEBAQ==");
        assert_eq!(v["operationName"], "a");
        assert_eq!(v["process"]["serviceName"], "frontend");
        assert_eq!(v["startTime"], "2023-11-14T22:13:20Z");
        assert_eq!(v["duration"], "0.001s");
        let tag = v["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .find(|t| t["key"] == "http.status_code")
            .expect("tag");
        assert_eq!(tag["vType"], "INT64");
        assert_eq!(tag["vInt64"], "200");
    }

    #[test]
    fn short_trace_ids_key_as_jaeger_does() {
        let mut id = vec![0u8; 8];
        id.extend([0xab; 8]);
        assert_eq!(jaeger_trace_id_string(&id), "abababababababab");
        assert_eq!(jaeger_trace_id_string(&[1; 16]), "01".repeat(16));
    }

    #[test]
    fn oversized_otlp_messages_are_split_by_spans() {
        let mut b = batch();
        b[0].scope_spans[0].spans = (0..10).map(|i| span(7, i + 1, "x")).collect();
        let whole = encode(Encoding::OtlpProto, &b, 1 << 20).expect("encode");
        assert_eq!(whole.len(), 1);
        let limit = whole[0].payload.len() / 3;
        let parts = encode(Encoding::OtlpProto, &b, limit).expect("encode");
        assert!(parts.len() >= 3, "{}", parts.len());
        assert!(parts.iter().all(|p| p.payload.len() <= limit));
        assert_eq!(parts.iter().map(|p| p.spans).sum::<usize>(), 10);
        let mut decoded = Vec::new();
        for p in &parts {
            decoded.extend(decode(Encoding::OtlpProto, &p.payload).expect("decode"));
        }
        assert_eq!(summary(&decoded), summary(&b));
    }

    #[test]
    fn zipkin_encodings_are_read() {
        let json = br#"[{"traceId":"0102030405060708090a0b0c0d0e0f10","id":"0102030405060708","name":"get","timestamp":1700000000000000,"duration":5,"localEndpoint":{"serviceName":"zsvc"}}]"#;
        let rs = decode(Encoding::ZipkinJson, json).expect("zipkin json");
        assert_eq!(summary(&rs)[0].2, "get");
        assert_eq!(summary(&rs)[0].3, "zsvc");
    }

    #[test]
    fn poison_messages_are_typed_errors() {
        for enc in Encoding::ALL {
            let e = decode(enc, b"\xff\xfe not a message {").expect_err("garbage");
            assert!(
                matches!(&e, CodecError::Decode { encoding, .. } if *encoding == enc.name()),
                "{enc:?}: {e:?}"
            );
        }
        // Right bytes, wrong encoding: JSON read as protobuf.
        let json = encode(Encoding::JaegerJson, &batch(), 1 << 20).expect("encode");
        assert!(decode(Encoding::OtlpProto, &json[0].payload).is_err());
        // A Jaeger span with a 5-byte trace id.
        let bad = JaegerSpan {
            trace_id: vec![1; 5],
            span_id: vec![1; 8],
            ..JaegerSpan::default()
        };
        assert!(decode(Encoding::JaegerProto, &bad.encode_to_vec()).is_err());
        assert!(decode(Encoding::JaegerJson, br#"{"traceId":"!!"}"#).is_err());
    }

    /// The `kafka_codec` fuzz target's seeds (selector byte + payload) are real messages.
    #[test]
    fn fuzz_seeds_decode() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/kafka_codec");
        let order = Encoding::ALL;
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).expect("seed corpus") {
            let data = std::fs::read(entry.expect("entry").path()).expect("seed");
            let enc = order[usize::from(data[0]) % order.len()];
            let batch = decode(enc, &data[1..]).unwrap_or_else(|e| panic!("{enc:?}: {e}"));
            assert_eq!(jaeger_model::trace::span_count(&batch), 1, "{enc:?}");
            seen |= 1 << (data[0] as usize % order.len());
        }
        assert_eq!(seen, 0b111_1111, "a seed per encoding");
    }
}
