//! Zipkin v2 decoding: the JSON array of spans and `zipkin.proto3.ListOfSpans`.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::model::{
    Endpoint, ZipkinKind, ZipkinSpan, parse_span_id, parse_trace_id, span_id_from_bytes,
    trace_id_from_bytes,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan {
    trace_id: String,
    id: String,
    parent_id: Option<String>,
    name: Option<String>,
    kind: Option<String>,
    timestamp: Option<u64>,
    duration: Option<u64>,
    #[allow(dead_code)]
    debug: Option<bool>,
    #[allow(dead_code)]
    shared: Option<bool>,
    local_endpoint: Option<JsonEndpoint>,
    remote_endpoint: Option<JsonEndpoint>,
    annotations: Option<Vec<JsonAnnotation>>,
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JsonEndpoint {
    service_name: Option<String>,
    ipv4: Option<String>,
    ipv6: Option<String>,
    port: Option<i32>,
}

impl From<JsonEndpoint> for Endpoint {
    fn from(e: JsonEndpoint) -> Self {
        Endpoint {
            service_name: e.service_name.unwrap_or_default(),
            ipv4: e.ipv4.filter(|s| !s.is_empty()),
            ipv6: e.ipv6.filter(|s| !s.is_empty()),
            port: e.port.unwrap_or(0),
        }
    }
}

#[derive(Deserialize)]
struct JsonAnnotation {
    timestamp: u64,
    value: String,
}

/// Decodes a v2 JSON body; errors name the JSON path.
pub fn decode_json(body: &[u8]) -> Result<Vec<ZipkinSpan>, String> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let spans: Vec<JsonSpan> = serde_path_to_error::deserialize(de)
        .map_err(|e| format!("invalid Zipkin v2 JSON at {}: {}", e.path(), e.inner()))?;
    spans
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let kind = match s.kind.as_deref() {
                None | Some("") => None,
                Some(k) => {
                    Some(parse_kind(k).ok_or_else(|| format!("[{i}].kind: unknown kind {k:?}"))?)
                }
            };
            Ok(ZipkinSpan {
                trace_id: parse_trace_id(&format!("[{i}].traceId"), &s.trace_id)?,
                id: parse_span_id(&format!("[{i}].id"), &s.id)?,
                parent_id: match s.parent_id.as_deref() {
                    None | Some("") => None,
                    Some(p) => Some(parse_span_id(&format!("[{i}].parentId"), p)?),
                },
                kind,
                name: s.name.unwrap_or_default(),
                timestamp: s.timestamp.filter(|t| *t != 0),
                duration: s.duration,
                local: s.local_endpoint.map(Endpoint::from),
                remote: s.remote_endpoint.map(Endpoint::from),
                annotations: s
                    .annotations
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| (a.timestamp, a.value))
                    .collect(),
                tags: s.tags.unwrap_or_default(),
            })
        })
        .collect()
}

fn parse_kind(k: &str) -> Option<ZipkinKind> {
    match k.to_ascii_uppercase().as_str() {
        "CLIENT" => Some(ZipkinKind::Client),
        "SERVER" => Some(ZipkinKind::Server),
        "PRODUCER" => Some(ZipkinKind::Producer),
        "CONSUMER" => Some(ZipkinKind::Consumer),
        _ => None,
    }
}

/// zipkin.proto (package `zipkin.proto3`), hand-written from the IDL.
pub mod proto {
    use std::collections::HashMap;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListOfSpans {
        #[prost(message, repeated, tag = "1")]
        pub spans: Vec<Span>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Span {
        #[prost(bytes = "vec", tag = "1")]
        pub trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub parent_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "3")]
        pub id: Vec<u8>,
        #[prost(int32, tag = "4")]
        pub kind: i32,
        #[prost(string, tag = "5")]
        pub name: String,
        #[prost(fixed64, tag = "6")]
        pub timestamp: u64,
        #[prost(uint64, tag = "7")]
        pub duration: u64,
        #[prost(message, optional, tag = "8")]
        pub local_endpoint: Option<Endpoint>,
        #[prost(message, optional, tag = "9")]
        pub remote_endpoint: Option<Endpoint>,
        #[prost(message, repeated, tag = "10")]
        pub annotations: Vec<Annotation>,
        #[prost(map = "string, string", tag = "11")]
        pub tags: HashMap<String, String>,
        #[prost(bool, tag = "12")]
        pub debug: bool,
        #[prost(bool, tag = "13")]
        pub shared: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Endpoint {
        #[prost(string, tag = "1")]
        pub service_name: String,
        #[prost(bytes = "vec", tag = "2")]
        pub ipv4: Vec<u8>,
        #[prost(bytes = "vec", tag = "3")]
        pub ipv6: Vec<u8>,
        #[prost(int32, tag = "4")]
        pub port: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Annotation {
        #[prost(fixed64, tag = "1")]
        pub timestamp: u64,
        #[prost(string, tag = "2")]
        pub value: String,
    }
}

fn proto_endpoint(e: proto::Endpoint) -> Endpoint {
    let ipv4 = <[u8; 4]>::try_from(e.ipv4.as_slice())
        .ok()
        .map(|b| std::net::Ipv4Addr::from(b).to_string());
    let ipv6 = <[u8; 16]>::try_from(e.ipv6.as_slice())
        .ok()
        .map(|b| std::net::Ipv6Addr::from(b).to_string());
    Endpoint {
        service_name: e.service_name,
        ipv4,
        ipv6,
        port: e.port,
    }
}

/// Decodes a `ListOfSpans` protobuf body.
pub fn decode_proto(body: &[u8]) -> Result<Vec<ZipkinSpan>, String> {
    use prost::Message;
    let list =
        proto::ListOfSpans::decode(body).map_err(|e| format!("invalid Zipkin v2 protobuf: {e}"))?;
    list.spans
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let kind = match s.kind {
                0 => None,
                1 => Some(ZipkinKind::Client),
                2 => Some(ZipkinKind::Server),
                3 => Some(ZipkinKind::Producer),
                4 => Some(ZipkinKind::Consumer),
                k => return Err(format!("spans[{i}].kind: unknown kind {k}")),
            };
            let tags: HashMap<String, String> = s.tags;
            Ok(ZipkinSpan {
                trace_id: trace_id_from_bytes(&format!("spans[{i}].trace_id"), &s.trace_id)?,
                id: span_id_from_bytes(&format!("spans[{i}].id"), &s.id)?,
                parent_id: if s.parent_id.is_empty() {
                    None
                } else {
                    Some(span_id_from_bytes(
                        &format!("spans[{i}].parent_id"),
                        &s.parent_id,
                    )?)
                },
                kind,
                name: s.name,
                timestamp: (s.timestamp != 0).then_some(s.timestamp),
                duration: (s.duration != 0).then_some(s.duration),
                local: s.local_endpoint.map(proto_endpoint),
                remote: s.remote_endpoint.map(proto_endpoint),
                annotations: s
                    .annotations
                    .into_iter()
                    .map(|a| (a.timestamp, a.value))
                    .collect(),
                tags: tags.into_iter().collect(),
            })
        })
        .collect()
}
