//! Jaeger's remote storage gRPC API (`jaeger.storage.v2`, idl spec §3): a [`server`]
//! that serves any opened [`Storage`](crate::Storage) the way `jaeger-remote-storage`
//! does, and a [`client`] backend (`grpc` in Jaeger's YAML) implementing the seam traits
//! on top of it.
//!
//! On the wire:
//! - reads: `TraceReader` (GetTraces, GetServices, GetOperations, FindTraces,
//!   FindTraceIDs; FindTraceSummaries answers `UNIMPLEMENTED`, which makes callers fall
//!   back), `DependencyReader.GetDependencies`, `Capabilities.GetCapabilities`;
//! - writes: OTLP `TraceService/Export` on the same server;
//! - `grpc.health.v1.Health` (SERVING for the four names Jaeger reports) and reflection.
//!
//! What the API cannot carry: dependency links are read-only (there is no writer
//! service), so the dependencies job has to run next to the store (in the
//! remote-storage process) rather than through a `grpc` backend. `scan_spans` is
//! emulated with FindTraces over adaptive time slices (see [`client`]).

pub mod client;
pub mod server;
pub mod tls;

#[cfg(test)]
mod tests;

use jaeger_model::otlp::trace::TracesData;
use jaeger_model::otlp::{KeyValue as OtlpKeyValue, ResourceSpans, ScopeSpans, Value};
use jaeger_proto::storage::v2 as pb;
use prost::Message;

pub use client::{GrpcClientConfig, GrpcStore};
pub use server::{RemoteStorageOptions, ServerTenancy, TenantOpener, serve_remote_storage};

/// The names `grpc.health.v1.Health` reports as SERVING (Jaeger's list; `TraceWriter` is
/// a name only, the write service is OTLP's).
pub const HEALTH_SERVICE_NAMES: &[&str] = &[
    "jaeger.storage.v2.TraceReader",
    "jaeger.storage.v2.DependencyReader",
    "jaeger.storage.v2.TraceWriter",
    "jaeger.storage.v2.Capabilities",
];

/// The metadata key of a propagated bearer token (Jaeger's `bearertoken.Key`).
pub const BEARER_TOKEN_KEY: &str = "bearer.token";

/// The default remote storage port.
pub const DEFAULT_PORT: u16 = 17271;

/// Splits the spans of ONE trace into `TracesData` chunks of about `max_bytes` encoded
/// span bytes each (a single larger span gets a chunk of its own). Resource and scope
/// headers are repeated in every chunk that holds their spans. No chunk is empty.
pub fn chunk_trace(resource_spans: Vec<ResourceSpans>, max_bytes: usize) -> Vec<TracesData> {
    let mut out = Vec::new();
    let mut current: Vec<ResourceSpans> = Vec::new();
    let mut bytes = 0usize;
    for rs in resource_spans {
        let mut rs_started = false;
        for ss in rs.scope_spans {
            let mut ss_started = false;
            for span in ss.spans {
                let len = span.encoded_len();
                if bytes > 0 && bytes + len > max_bytes {
                    out.push(TracesData {
                        resource_spans: std::mem::take(&mut current),
                    });
                    bytes = 0;
                    rs_started = false;
                    ss_started = false;
                }
                if !rs_started {
                    current.push(ResourceSpans {
                        resource: rs.resource.clone(),
                        scope_spans: Vec::new(),
                        schema_url: rs.schema_url.clone(),
                    });
                    rs_started = true;
                }
                let r = current.last_mut().expect("a resource group was pushed");
                if !ss_started {
                    r.scope_spans.push(ScopeSpans {
                        scope: ss.scope.clone(),
                        spans: Vec::new(),
                        schema_url: ss.schema_url.clone(),
                    });
                    ss_started = true;
                }
                r.scope_spans
                    .last_mut()
                    .expect("a scope group was pushed")
                    .spans
                    .push(span);
                bytes += len;
            }
        }
    }
    if bytes > 0 {
        out.push(TracesData {
            resource_spans: current,
        });
    }
    out
}

/// Splits a write batch into batches of about `max_bytes` encoded bytes, so that no
/// Export request exceeds a server's message limit (grpc-go's default is 4 MiB).
pub fn split_batch(batch: Vec<ResourceSpans>, max_bytes: usize) -> Vec<Vec<ResourceSpans>> {
    let total: usize = batch.iter().map(|rs| rs.encoded_len()).sum();
    if total <= max_bytes {
        return vec![batch];
    }
    // The chunker keeps resource/scope headers, which is all a write needs.
    chunk_trace(batch, max_bytes)
        .into_iter()
        .map(|t| t.resource_spans)
        .collect()
}

/// The API's local attribute value as an OTLP value.
pub fn value_from_pb(v: &pb::AnyValue) -> Option<Value> {
    use jaeger_model::otlp::common::{AnyValue, ArrayValue, KeyValueList};
    use pb::any_value::Value as P;
    Some(match v.value.as_ref()? {
        P::StringValue(s) => Value::StringValue(s.clone()),
        P::BoolValue(b) => Value::BoolValue(*b),
        P::IntValue(i) => Value::IntValue(*i),
        P::DoubleValue(d) => Value::DoubleValue(*d),
        P::BytesValue(b) => Value::BytesValue(b.clone()),
        P::ArrayValue(a) => Value::ArrayValue(ArrayValue {
            values: a
                .values
                .iter()
                .map(|v| AnyValue {
                    value: value_from_pb(v),
                })
                .collect(),
        }),
        P::KvlistValue(l) => Value::KvlistValue(KeyValueList {
            values: l
                .values
                .iter()
                .map(|kv| OtlpKeyValue {
                    key: kv.key.clone(),
                    value: kv.value.as_ref().map(|v| jaeger_model::otlp::AnyValue {
                        value: value_from_pb(v),
                    }),
                    ..Default::default()
                })
                .collect(),
        }),
    })
}

/// A search attribute as the string the seam compares (`value_to_string` of the value).
pub fn attribute_to_tag(kv: &pb::KeyValue) -> (String, String) {
    let value = kv
        .value
        .as_ref()
        .and_then(value_from_pb)
        .map(|v| jaeger_model::trace::value_to_string(&v))
        .unwrap_or_default();
    (kv.key.clone(), value)
}

/// A seam tag as a search attribute (string-typed, as the seam compares strings).
pub fn tag_to_attribute(key: &str, value: &str) -> pb::KeyValue {
    pb::KeyValue {
        key: key.to_string(),
        value: Some(pb::AnyValue {
            value: Some(pb::any_value::Value::StringValue(value.to_string())),
        }),
    }
}
