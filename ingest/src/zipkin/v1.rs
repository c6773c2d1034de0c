//! Zipkin v1: JSON and Thrift (`list<zipkincore.Span>`, TBinaryProtocol) decoding, and
//! the v1 → v2 conversion (core annotations give kind and timing; a span carrying both
//! client and server annotations is a shared RPC span and becomes two spans).

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;
use thrift::protocol::{TInputProtocol, TType};

use super::model::{
    Endpoint, ZipkinKind, ZipkinSpan, parse_span_id, parse_trace_id, span_id_from_bytes,
    trace_id_from_bytes,
};
use crate::jaeger_thrift::{ThriftError, ThriftProtocol, read_list, read_struct};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct V1Annotation {
    pub timestamp: u64,
    pub value: String,
    pub host: Option<Endpoint>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct V1BinaryAnnotation {
    pub key: String,
    /// The value as text (typed Thrift values are rendered).
    pub value: String,
    pub host: Option<Endpoint>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct V1Span {
    pub trace_id: Vec<u8>,
    pub id: [u8; 8],
    pub parent_id: Option<[u8; 8]>,
    pub name: String,
    pub timestamp: Option<u64>,
    pub duration: Option<u64>,
    pub annotations: Vec<V1Annotation>,
    pub binary_annotations: Vec<V1BinaryAnnotation>,
}

// ---------------------------------------------------------------- JSON

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan {
    trace_id: String,
    id: String,
    parent_id: Option<String>,
    name: Option<String>,
    timestamp: Option<u64>,
    duration: Option<u64>,
    annotations: Option<Vec<JsonAnnotation>>,
    binary_annotations: Option<Vec<JsonBinaryAnnotation>>,
}

#[derive(Deserialize)]
struct JsonAnnotation {
    timestamp: u64,
    value: String,
    endpoint: Option<super::v2::JsonEndpoint>,
}

#[derive(Deserialize)]
struct JsonBinaryAnnotation {
    key: String,
    value: serde_json::Value,
    endpoint: Option<super::v2::JsonEndpoint>,
}

pub fn decode_json(body: &[u8]) -> Result<Vec<V1Span>, String> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let spans: Vec<JsonSpan> = serde_path_to_error::deserialize(de)
        .map_err(|e| format!("invalid Zipkin v1 JSON at {}: {}", e.path(), e.inner()))?;
    spans
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            Ok(V1Span {
                trace_id: parse_trace_id(&format!("[{i}].traceId"), &s.trace_id)?,
                id: parse_span_id(&format!("[{i}].id"), &s.id)?,
                parent_id: match s.parent_id.as_deref() {
                    None | Some("") => None,
                    Some(p) => Some(parse_span_id(&format!("[{i}].parentId"), p)?),
                },
                name: s.name.unwrap_or_default(),
                timestamp: s.timestamp.filter(|t| *t != 0),
                duration: s.duration.filter(|d| *d != 0),
                annotations: s
                    .annotations
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| V1Annotation {
                        timestamp: a.timestamp,
                        value: a.value,
                        host: a.endpoint.map(Endpoint::from),
                    })
                    .collect(),
                binary_annotations: s
                    .binary_annotations
                    .unwrap_or_default()
                    .into_iter()
                    .map(|b| V1BinaryAnnotation {
                        key: b.key,
                        value: match b.value {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        },
                        host: b.endpoint.map(Endpoint::from),
                    })
                    .collect(),
            })
        })
        .collect()
}

// ---------------------------------------------------------------- Thrift

/// Decodes a TBinaryProtocol `list<zipkincore.Span>`.
pub fn decode_thrift(body: &[u8]) -> Result<Vec<V1Span>, String> {
    let raw = crate::jaeger_thrift::with_protocol(body, ThriftProtocol::Binary, |p| {
        read_list(p, read_span)
    })
    .map_err(|e| format!("invalid Zipkin v1 Thrift: {e}"))?;
    raw.into_iter()
        .enumerate()
        .map(|(i, s)| {
            let mut trace = Vec::with_capacity(16);
            trace.extend_from_slice(&(s.trace_id_high as u64).to_be_bytes());
            trace.extend_from_slice(&(s.trace_id as u64).to_be_bytes());
            Ok(V1Span {
                trace_id: trace_id_from_bytes(&format!("[{i}].trace_id"), &trace)?,
                id: span_id_from_bytes(&format!("[{i}].id"), &(s.id as u64).to_be_bytes())?,
                parent_id: s
                    .parent_id
                    .filter(|p| *p != 0)
                    .map(|p| (p as u64).to_be_bytes()),
                name: s.name,
                timestamp: s.timestamp.filter(|t| *t > 0).map(|t| t as u64),
                duration: s.duration.filter(|d| *d > 0).map(|d| d as u64),
                annotations: s.annotations,
                binary_annotations: s.binary_annotations,
            })
        })
        .collect()
}

#[derive(Default)]
struct RawSpan {
    trace_id: i64,
    trace_id_high: i64,
    id: i64,
    parent_id: Option<i64>,
    name: String,
    timestamp: Option<i64>,
    duration: Option<i64>,
    annotations: Vec<V1Annotation>,
    binary_annotations: Vec<V1BinaryAnnotation>,
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

fn read_endpoint(p: &mut dyn TInputProtocol) -> Result<Endpoint, ThriftError> {
    let mut e = Endpoint::default();
    read_struct(p, |p, id, t| {
        match (id, t) {
            (1, TType::I32) => {
                let ip = p.read_i32()? as u32;
                if ip != 0 {
                    e.ipv4 = Some(std::net::Ipv4Addr::from(ip).to_string());
                }
            }
            (2, TType::I16) => e.port = i32::from(p.read_i16()? as u16),
            (3, TType::String) => e.service_name = text(p.read_bytes()?),
            (4, TType::String) => {
                let raw = p.read_bytes()?;
                e.ipv6 = <[u8; 16]>::try_from(raw.as_slice())
                    .ok()
                    .map(|b| std::net::Ipv6Addr::from(b).to_string());
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(e)
}

fn read_annotation(p: &mut dyn TInputProtocol) -> Result<V1Annotation, ThriftError> {
    let mut a = V1Annotation::default();
    read_struct(p, |p, id, t| {
        match (id, t) {
            (1, TType::I64) => a.timestamp = p.read_i64()?.max(0) as u64,
            (2, TType::String) => a.value = text(p.read_bytes()?),
            (3, TType::Struct) => a.host = Some(read_endpoint(p)?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(a)
}

/// Renders a binary annotation value by its `AnnotationType` (big-endian).
fn render_value(raw: &[u8], ty: i32) -> String {
    fn be<const N: usize>(raw: &[u8]) -> Option<[u8; N]> {
        raw.try_into().ok()
    }
    let rendered = match ty {
        0 => raw.first().map(|b| (*b != 0).to_string()),
        1 => Some(base64::engine::general_purpose::STANDARD.encode(raw)),
        2 => be::<2>(raw).map(|b| i16::from_be_bytes(b).to_string()),
        3 => be::<4>(raw).map(|b| i32::from_be_bytes(b).to_string()),
        4 => be::<8>(raw).map(|b| i64::from_be_bytes(b).to_string()),
        5 => be::<8>(raw).map(|b| f64::from_be_bytes(b).to_string()),
        _ => None,
    };
    rendered.unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned())
}

fn read_binary_annotation(p: &mut dyn TInputProtocol) -> Result<V1BinaryAnnotation, ThriftError> {
    let mut b = V1BinaryAnnotation::default();
    let mut raw = Vec::new();
    let mut ty = 6;
    read_struct(p, |p, id, t| {
        match (id, t) {
            (1, TType::String) => b.key = text(p.read_bytes()?),
            (2, TType::String) => raw = p.read_bytes()?,
            (3, TType::I32) => ty = p.read_i32()?,
            (4, TType::Struct) => b.host = Some(read_endpoint(p)?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    b.value = render_value(&raw, ty);
    Ok(b)
}

fn read_span(p: &mut dyn TInputProtocol) -> Result<RawSpan, ThriftError> {
    let mut s = RawSpan::default();
    read_struct(p, |p, id, t| {
        match (id, t) {
            (1, TType::I64) => s.trace_id = p.read_i64()?,
            (3, TType::String) => s.name = text(p.read_bytes()?),
            (4, TType::I64) => s.id = p.read_i64()?,
            (5, TType::I64) => s.parent_id = Some(p.read_i64()?),
            (6, TType::List) => s.annotations = read_list(p, read_annotation)?,
            (8, TType::List) => s.binary_annotations = read_list(p, read_binary_annotation)?,
            (10, TType::I64) => s.timestamp = Some(p.read_i64()?),
            (11, TType::I64) => s.duration = Some(p.read_i64()?),
            (12, TType::I64) => s.trace_id_high = p.read_i64()?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(s)
}

// ---------------------------------------------------------------- v1 → v2

const CORE: &[&str] = &["cs", "cr", "sr", "ss", "ms", "mr"];
const ADDRESSES: &[&str] = &["ca", "sa", "ma"];

/// Converts v1 spans to v2 spans (Zipkin's `V1SpanConverter`, simplified).
pub fn to_v2(spans: Vec<V1Span>) -> Vec<ZipkinSpan> {
    let mut out = Vec::with_capacity(spans.len());
    for s in spans {
        convert(s, &mut out);
    }
    out
}

fn convert(s: V1Span, out: &mut Vec<ZipkinSpan>) {
    let find = |v: &str| s.annotations.iter().find(|a| a.value == v);
    let (cs, cr, sr, ss, ms, mr) = (
        find("cs"),
        find("cr"),
        find("sr"),
        find("ss"),
        find("ms"),
        find("mr"),
    );
    let addr = |k: &str| {
        s.binary_annotations
            .iter()
            .find(|b| b.key == k)
            .and_then(|b| b.host.clone())
    };
    let lc = s.binary_annotations.iter().find(|b| b.key == "lc");
    let any_host = s
        .annotations
        .iter()
        .filter_map(|a| a.host.clone())
        .chain(lc.and_then(|b| b.host.clone()))
        .next();

    let mut tags = BTreeMap::new();
    for b in &s.binary_annotations {
        if ADDRESSES.contains(&b.key.as_str()) {
            continue;
        }
        let key = if b.key == "lc" {
            "component".to_owned()
        } else {
            b.key.clone()
        };
        tags.insert(key, b.value.clone());
    }
    let annotations: Vec<(u64, String)> = s
        .annotations
        .iter()
        .filter(|a| !CORE.contains(&a.value.as_str()))
        .map(|a| (a.timestamp, a.value.clone()))
        .collect();

    let base = ZipkinSpan {
        trace_id: s.trace_id.clone(),
        id: s.id,
        parent_id: s.parent_id,
        name: s.name.clone(),
        tags,
        ..Default::default()
    };
    let span_of = |kind, start: Option<&V1Annotation>, end: Option<&V1Annotation>, remote| {
        let host = start
            .and_then(|a| a.host.clone())
            .or_else(|| end.and_then(|a| a.host.clone()))
            .or_else(|| any_host.clone());
        let timestamp = start.map(|a| a.timestamp);
        let duration = match (start, end) {
            (Some(a), Some(b)) if b.timestamp > a.timestamp => Some(b.timestamp - a.timestamp),
            _ => None,
        };
        ZipkinSpan {
            kind,
            local: host,
            remote,
            timestamp,
            duration,
            ..base.clone()
        }
    };

    let is_client = cs.is_some() || cr.is_some();
    let is_server = sr.is_some() || ss.is_some();
    let mut produced = Vec::new();
    if is_client {
        produced.push(span_of(Some(ZipkinKind::Client), cs, cr, addr("sa")));
    }
    if is_server {
        produced.push(span_of(Some(ZipkinKind::Server), sr, ss, addr("ca")));
    }
    if !is_client && !is_server {
        if ms.is_some() {
            produced.push(span_of(Some(ZipkinKind::Producer), ms, None, addr("ma")));
        } else if mr.is_some() {
            produced.push(span_of(Some(ZipkinKind::Consumer), mr, None, addr("ma")));
        } else {
            produced.push(span_of(None, None, None, addr("sa").or_else(|| addr("ca"))));
        }
    }
    // The span's own timestamp/duration win for the first (the client side of a
    // shared span, as Zipkin reports it); annotations go with it.
    if let Some(first) = produced.first_mut() {
        if s.timestamp.is_some() {
            first.timestamp = s.timestamp;
        }
        if s.duration.is_some() {
            first.duration = s.duration;
        }
        first.annotations = annotations;
    }
    out.extend(produced);
}
