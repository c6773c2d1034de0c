//! The decoded Zipkin v2 span every Zipkin format converts to, and its OTLP mapping
//! (ingest spec §2.6, contrib `zipkinv2.ToTranslator`).

use std::collections::BTreeMap;

use jaeger_model::otlp::trace::span::SpanKind;
use jaeger_model::otlp::trace::status::StatusCode;
use jaeger_model::otlp::{
    AnyValue, Event, InstrumentationScope, KeyValue, Resource, ResourceSpans, ScopeSpans, Span,
    Status, Value,
};

use crate::jaeger_thrift::kv;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZipkinKind {
    Client,
    Server,
    Producer,
    Consumer,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Endpoint {
    pub service_name: String,
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
    pub port: i32,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZipkinSpan {
    /// 16 bytes (a 64-bit id is left-padded with zeros).
    pub trace_id: Vec<u8>,
    pub id: [u8; 8],
    pub parent_id: Option<[u8; 8]>,
    pub kind: Option<ZipkinKind>,
    pub name: String,
    /// µs since epoch.
    pub timestamp: Option<u64>,
    /// µs.
    pub duration: Option<u64>,
    pub local: Option<Endpoint>,
    pub remote: Option<Endpoint>,
    /// (µs, value)
    pub annotations: Vec<(u64, String)>,
    pub tags: BTreeMap<String, String>,
}

/// Parses a hex trace id of 16 or 32 characters; all-zero is invalid.
pub fn parse_trace_id(field: &str, s: &str) -> Result<Vec<u8>, String> {
    if s.len() != 16 && s.len() != 32 {
        return Err(format!(
            "{field}: invalid trace id {s:?}: expected 16 or 32 hex characters"
        ));
    }
    let raw = hex::decode(s).map_err(|e| format!("{field}: invalid trace id {s:?}: {e}"))?;
    trace_id_from_bytes(field, &raw)
}

/// A trace id of 8 or 16 bytes as 16 bytes; all-zero is invalid.
pub fn trace_id_from_bytes(field: &str, raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut id = match raw.len() {
        8 => vec![0; 8],
        16 => Vec::with_capacity(16),
        n => {
            return Err(format!(
                "{field}: invalid trace id length {n} bytes, expected 8 or 16"
            ));
        }
    };
    id.extend_from_slice(raw);
    if id.iter().all(|b| *b == 0) {
        return Err(format!("{field}: trace id is all zeros"));
    }
    Ok(id)
}

/// Parses a 16-hex-character span id; all-zero is invalid.
pub fn parse_span_id(field: &str, s: &str) -> Result<[u8; 8], String> {
    if s.len() != 16 {
        return Err(format!(
            "{field}: invalid span id {s:?}: expected 16 hex characters"
        ));
    }
    let raw = hex::decode(s).map_err(|e| format!("{field}: invalid span id {s:?}: {e}"))?;
    span_id_from_bytes(field, &raw)
}

pub fn span_id_from_bytes(field: &str, raw: &[u8]) -> Result<[u8; 8], String> {
    let id: [u8; 8] = raw.try_into().map_err(|_| {
        format!(
            "{field}: invalid span id length {} bytes, expected 8",
            raw.len()
        )
    })?;
    if id == [0; 8] {
        return Err(format!("{field}: span id is all zeros"));
    }
    Ok(id)
}

/// µs → ns without overflow.
fn nanos(us: u64) -> u64 {
    us.saturating_mul(1000)
}

/// Tags naming OTel resource attributes; Zipkin exporters put resource attributes in
/// tags, the translator moves them back.
fn is_resource_key(key: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "service.",
        "host.",
        "telemetry.sdk.",
        "telemetry.auto.",
        "process.",
        "k8s.",
        "container.",
        "cloud.",
        "os.",
        "device.",
        "deployment.",
        "faas.",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p))
        || matches!(
            key,
            "opencensus.exporterversion" | "opencensus.starttime" | "opencensus.resourcetype"
        )
}

fn str_kv(key: impl Into<String>, v: impl Into<String>) -> KeyValue {
    kv(key, Value::StringValue(v.into()))
}

/// Zipkin spans → OTLP, grouped by local service name (resource) and
/// `otel.library.name` (scope). Fails only on malformed annotation attributes.
pub fn to_otlp(spans: Vec<ZipkinSpan>) -> Result<Vec<ResourceSpans>, String> {
    // (service, resource attrs) → (scope name, version) → spans
    type Scopes = BTreeMap<(String, String), Vec<Span>>;
    let mut groups: BTreeMap<(String, Vec<(String, String)>), Scopes> = BTreeMap::new();
    for (i, z) in spans.into_iter().enumerate() {
        let service = z
            .local
            .as_ref()
            .map(|e| e.service_name.clone())
            .unwrap_or_default();
        let (span, resource_tags, scope) =
            span_to_otlp(z).map_err(|e| format!("spans[{i}]: {e}"))?;
        groups
            .entry((service, resource_tags))
            .or_default()
            .entry(scope)
            .or_default()
            .push(span);
    }
    Ok(groups
        .into_iter()
        .map(|((service, resource_tags), scopes)| {
            let mut attributes = Vec::with_capacity(resource_tags.len() + 1);
            if !service.is_empty() {
                attributes.push(str_kv("service.name", service));
            }
            attributes.extend(resource_tags.into_iter().map(|(k, v)| str_kv(k, v)));
            ResourceSpans {
                resource: Some(Resource {
                    attributes,
                    ..Default::default()
                }),
                scope_spans: scopes
                    .into_iter()
                    .map(|((name, version), spans)| ScopeSpans {
                        scope: (!name.is_empty()).then(|| InstrumentationScope {
                            name,
                            version,
                            ..Default::default()
                        }),
                        spans,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        })
        .collect())
}

type Converted = (Span, Vec<(String, String)>, (String, String));

fn span_to_otlp(mut z: ZipkinSpan) -> Result<Converted, String> {
    let mut resource_tags = Vec::new();
    let scope_name = z.tags.remove("otel.library.name").unwrap_or_default();
    let scope_version = z.tags.remove("otel.library.version").unwrap_or_default();
    let kind = match z.kind {
        Some(ZipkinKind::Client) => SpanKind::Client,
        Some(ZipkinKind::Server) => SpanKind::Server,
        Some(ZipkinKind::Producer) => SpanKind::Producer,
        Some(ZipkinKind::Consumer) => SpanKind::Consumer,
        None if z.tags.get("span.kind").map(String::as_str) == Some("internal") => {
            z.tags.remove("span.kind");
            SpanKind::Internal
        }
        None => SpanKind::Unspecified,
    };

    let mut status = None;
    if let Some(code) = z.tags.remove("otel.status_code") {
        let code = match code.as_str() {
            "STATUS_CODE_OK" | "Ok" | "OK" => StatusCode::Ok,
            "STATUS_CODE_ERROR" | "Error" | "ERROR" => StatusCode::Error,
            _ => StatusCode::Unset,
        };
        status = Some(Status {
            code: code as i32,
            message: z.tags.remove("otel.status_description").unwrap_or_default(),
        });
    }
    if let Some(err) = z.tags.get("error") {
        if err == "true" {
            z.tags.remove("error");
        }
        let message = status.take().map(|s| s.message).unwrap_or_default();
        status = Some(Status {
            code: StatusCode::Error as i32,
            message,
        });
    }
    let trace_state = z.tags.remove("w3c.tracestate").unwrap_or_default();

    let mut attributes = Vec::with_capacity(z.tags.len() + 4);
    if let Some(local) = &z.local {
        if let Some(ip) = local.ipv4.as_ref().or(local.ipv6.as_ref()) {
            attributes.push(str_kv("net.host.ip", ip.clone()));
        }
        if local.port != 0 {
            attributes.push(kv("net.host.port", Value::IntValue(local.port.into())));
        }
    }
    if let Some(remote) = &z.remote {
        if !remote.service_name.is_empty() {
            attributes.push(str_kv("peer.service", remote.service_name.clone()));
        }
        if let Some(ip) = remote.ipv4.as_ref().or(remote.ipv6.as_ref()) {
            attributes.push(str_kv("net.peer.ip", ip.clone()));
        }
        if remote.port != 0 {
            attributes.push(kv("net.peer.port", Value::IntValue(remote.port.into())));
        }
    }
    let (start, end) = match z.timestamp {
        Some(ts) => (
            nanos(ts),
            nanos(ts).saturating_add(nanos(z.duration.unwrap_or(0))),
        ),
        None => {
            attributes.push(kv(
                "otel.zipkin.absentField.startTime",
                Value::BoolValue(true),
            ));
            (0, nanos(z.duration.unwrap_or(0)))
        }
    };
    for (k, v) in z.tags {
        if is_resource_key(&k) {
            resource_tags.push((k, v));
        } else {
            attributes.push(str_kv(k, v));
        }
    }
    let events = z
        .annotations
        .into_iter()
        .enumerate()
        .map(|(i, (ts, value))| {
            annotation_to_event(ts, &value).map_err(|e| format!("annotations[{i}]: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let span = Span {
        trace_id: z.trace_id,
        span_id: z.id.to_vec(),
        // A parent equal to the span's own id is ignored.
        parent_span_id: z
            .parent_id
            .filter(|p| *p != z.id)
            .map(|p| p.to_vec())
            .unwrap_or_default(),
        trace_state,
        name: z.name,
        kind: kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes,
        events,
        status,
        ..Default::default()
    };
    Ok((span, resource_tags, (scope_name, scope_version)))
}

/// `name`, or `name|{json attributes}|droppedCount` as the OTel Zipkin exporter writes.
fn annotation_to_event(ts: u64, value: &str) -> Result<Event, String> {
    let parts: Vec<&str> = value.split('|').collect();
    let mut event = Event {
        time_unix_nano: nanos(ts),
        name: parts[0].to_owned(),
        ..Default::default()
    };
    if parts.len() >= 3 {
        let json = parts[1..parts.len() - 1].join("|");
        let attrs: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&json)
            .map_err(|e| format!("invalid attributes JSON in {value:?}: {e}"))?;
        event.attributes = attrs
            .into_iter()
            .map(|(k, v)| {
                let value = match v {
                    serde_json::Value::String(s) => Value::StringValue(s),
                    serde_json::Value::Bool(b) => Value::BoolValue(b),
                    serde_json::Value::Number(n) => match n.as_i64() {
                        Some(i) => Value::IntValue(i),
                        None => Value::DoubleValue(n.as_f64().unwrap_or_default()),
                    },
                    other => Value::StringValue(other.to_string()),
                };
                KeyValue {
                    key: k,
                    value: Some(AnyValue { value: Some(value) }),
                    ..Default::default()
                }
            })
            .collect();
        event.dropped_attributes_count = parts[parts.len() - 1]
            .parse()
            .map_err(|e| format!("invalid dropped attributes count in {value:?}: {e}"))?;
    }
    Ok(event)
}
