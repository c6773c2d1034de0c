//! The remote storage server: serves one opened [`Storage`] over Jaeger's remote storage
//! gRPC API, as `jaeger-remote-storage` does (idl spec §3.3).
//!
//! - Trace ids must be 16 bytes (`INVALID_ARGUMENT` otherwise).
//! - GetTraces/FindTraces stream one trace per chunk run; a trace larger than
//!   [`RemoteStorageOptions::max_chunk_bytes`] is split into consecutive chunks.
//! - FindTraceSummaries answers `UNIMPLEMENTED` (allowed: callers fall back).
//! - A structured `filter` answers `INVALID_ARGUMENT`: Capabilities lists none.
//! - Export writes synchronously: `OK` means the backend acknowledged the spans (for the
//!   embedded store: they survive a crash).

use std::pin::Pin;

use futures::Stream;
use jaeger_model::TraceId;
use jaeger_model::otlp::collector::trace_service_server::{TraceService, TraceServiceServer};
use jaeger_model::otlp::collector::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use jaeger_model::otlp::trace::TracesData;
use jaeger_proto::convert::{duration_to_nanos, opt_timestamp_to_nanos};
use jaeger_proto::storage::v2 as pb;
use pb::capabilities_server::{Capabilities, CapabilitiesServer};
use pb::dependency_reader_server::{DependencyReader, DependencyReaderServer};
use pb::trace_reader_server::{TraceReader, TraceReaderServer};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;
use tonic::{Request, Response, Status};

use super::{HEALTH_SERVICE_NAMES, attribute_to_tag, chunk_trace};
use crate::{GetTraceParams, OperationQuery, Storage, StorageError, TraceQuery};

/// Jaeger's default search depth when a request leaves it at 0.
const DEFAULT_SEARCH_DEPTH: usize = 100;

#[derive(Clone, Debug)]
pub struct RemoteStorageOptions {
    /// Whether searches without a service name work on this backend (memory, embedded:
    /// yes; Cassandra: no). Reported in Capabilities.
    pub search_without_service: bool,
    /// Spans of one trace per streamed chunk, in encoded bytes (the client's receive
    /// limit is 4 MiB by default, as grpc-go's).
    pub max_chunk_bytes: usize,
    /// Largest accepted request (an Export batch), in bytes.
    pub max_recv_bytes: usize,
}

impl Default for RemoteStorageOptions {
    fn default() -> Self {
        Self {
            search_without_service: true,
            max_chunk_bytes: 1024 * 1024,
            max_recv_bytes: 64 * 1024 * 1024,
        }
    }
}

#[derive(Clone)]
struct Handler {
    storage: Storage,
    options: RemoteStorageOptions,
}

/// The error a seam failure becomes on the wire; the client maps it back.
pub(crate) fn status_from(e: StorageError) -> Status {
    match e {
        StorageError::InvalidQuery(m) => Status::invalid_argument(m),
        StorageError::Unavailable(m) => Status::unavailable(m),
        StorageError::Unsupported(what) => Status::unimplemented(what),
        other => Status::internal(other.to_string()),
    }
}

fn trace_id(bytes: &[u8], what: &str) -> Result<TraceId, Status> {
    if bytes.len() != 16 {
        return Err(Status::invalid_argument(format!(
            "{what}: trace_id must be 16 bytes, got {}",
            bytes.len()
        )));
    }
    TraceId::from_slice(bytes).map_err(|e| Status::invalid_argument(format!("{what}: {e}")))
}

/// The API's query as the seam's.
pub(crate) fn query_from_pb(q: Option<pb::TraceQueryParameters>) -> Result<TraceQuery, Status> {
    let q = q.ok_or_else(|| Status::invalid_argument("query is required"))?;
    if q.filter.is_some() {
        return Err(Status::invalid_argument(
            "structured filters are not supported by this server (see GetCapabilities)",
        ));
    }
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    let duration = |d: Option<prost_types::Duration>| {
        d.map(|d| duration_to_nanos(&d))
            .filter(|n| *n > 0)
            .map(|n| n as u64)
    };
    Ok(TraceQuery {
        service_name: non_empty(q.service_name),
        operation_name: non_empty(q.operation_name),
        tags: q.attributes.iter().map(attribute_to_tag).collect(),
        start_time_min: opt_timestamp_to_nanos(q.start_time_min.as_ref()).unwrap_or(0),
        // 0: no upper bound.
        start_time_max: opt_timestamp_to_nanos(q.start_time_max.as_ref()).unwrap_or(0),
        duration_min: duration(q.duration_min),
        duration_max: duration(q.duration_max),
        num_traces: usize::try_from(q.search_depth)
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_SEARCH_DEPTH),
    })
}

type TracesStream = Pin<Box<dyn Stream<Item = Result<TracesData, Status>> + Send>>;
type SummariesStream =
    Pin<Box<dyn Stream<Item = Result<pb::FindTraceSummariesResponse, Status>> + Send>>;

fn stream_of(chunks: Vec<TracesData>) -> TracesStream {
    Box::pin(futures::stream::iter(chunks.into_iter().map(Ok)))
}

#[tonic::async_trait]
impl TraceReader for Handler {
    type GetTracesStream = TracesStream;
    type FindTracesStream = TracesStream;
    type FindTraceSummariesStream = SummariesStream;

    async fn get_traces(
        &self,
        request: Request<pb::GetTracesRequest>,
    ) -> Result<Response<TracesStream>, Status> {
        let query = request.into_inner().query;
        let mut params = Vec::with_capacity(query.len());
        for p in query {
            params.push(GetTraceParams {
                trace_id: trace_id(&p.trace_id, "GetTraces")?,
                start: opt_timestamp_to_nanos(p.start_time.as_ref()),
                end: opt_timestamp_to_nanos(p.end_time.as_ref()),
            });
        }
        let mut chunks = Vec::new();
        for p in params {
            // Unknown ids are skipped, as Jaeger's handler does.
            if let Some(trace) = self
                .storage
                .reader
                .get_trace(p)
                .await
                .map_err(status_from)?
            {
                chunks.extend(chunk_trace(
                    trace.resource_spans,
                    self.options.max_chunk_bytes,
                ));
            }
        }
        Ok(Response::new(stream_of(chunks)))
    }

    async fn get_services(
        &self,
        _request: Request<pb::GetServicesRequest>,
    ) -> Result<Response<pb::GetServicesResponse>, Status> {
        let services = self
            .storage
            .reader
            .get_services()
            .await
            .map_err(status_from)?;
        Ok(Response::new(pb::GetServicesResponse { services }))
    }

    async fn get_operations(
        &self,
        request: Request<pb::GetOperationsRequest>,
    ) -> Result<Response<pb::GetOperationsResponse>, Status> {
        let r = request.into_inner();
        let ops = self
            .storage
            .reader
            .get_operations(&OperationQuery {
                service_name: r.service,
                span_kind: (!r.span_kind.is_empty()).then_some(r.span_kind),
            })
            .await
            .map_err(status_from)?;
        Ok(Response::new(pb::GetOperationsResponse {
            operations: ops
                .into_iter()
                .map(|o| pb::Operation {
                    name: o.name,
                    span_kind: o.span_kind,
                })
                .collect(),
        }))
    }

    async fn find_traces(
        &self,
        request: Request<pb::FindTracesRequest>,
    ) -> Result<Response<TracesStream>, Status> {
        let q = query_from_pb(request.into_inner().query)?;
        let traces = self
            .storage
            .reader
            .find_traces(&q)
            .await
            .map_err(status_from)?;
        let chunks = traces
            .into_iter()
            .flat_map(|t| chunk_trace(t.resource_spans, self.options.max_chunk_bytes))
            .collect();
        Ok(Response::new(stream_of(chunks)))
    }

    async fn find_trace_i_ds(
        &self,
        request: Request<pb::FindTraceIDsRequest>,
    ) -> Result<Response<pb::FindTraceIDsResponse>, Status> {
        let q = query_from_pb(request.into_inner().query)?;
        let ids = self
            .storage
            .reader
            .find_trace_ids(&q)
            .await
            .map_err(status_from)?;
        Ok(Response::new(pb::FindTraceIDsResponse {
            trace_ids: ids
                .into_iter()
                .map(|id| pb::FoundTraceId {
                    trace_id: id.0.to_vec(),
                    // The seam gives no time hints; they are optional.
                    start: None,
                    end: None,
                })
                .collect(),
        }))
    }

    async fn find_trace_summaries(
        &self,
        _request: Request<pb::FindTraceSummariesRequest>,
    ) -> Result<Response<SummariesStream>, Status> {
        Err(Status::unimplemented(
            "FindTraceSummaries is not served; use FindTraces",
        ))
    }
}

#[tonic::async_trait]
impl DependencyReader for Handler {
    async fn get_dependencies(
        &self,
        request: Request<pb::GetDependenciesRequest>,
    ) -> Result<Response<pb::GetDependenciesResponse>, Status> {
        let r = request.into_inner();
        let end = opt_timestamp_to_nanos(r.end_time.as_ref())
            .ok_or_else(|| Status::invalid_argument("end_time is required"))?;
        let start = opt_timestamp_to_nanos(r.start_time.as_ref()).unwrap_or(0);
        if start > end {
            return Err(Status::invalid_argument("start_time is after end_time"));
        }
        let links = self
            .storage
            .dependencies
            .get_dependencies(end, end - start)
            .await
            .map_err(status_from)?;
        Ok(Response::new(pb::GetDependenciesResponse {
            dependencies: links
                .into_iter()
                .map(|l| pb::Dependency {
                    parent: l.parent,
                    child: l.child,
                    call_count: l.call_count,
                    source: l.source,
                })
                .collect(),
        }))
    }
}

#[tonic::async_trait]
impl Capabilities for Handler {
    async fn get_capabilities(
        &self,
        _request: Request<pb::GetCapabilitiesRequest>,
    ) -> Result<Response<pb::GetCapabilitiesResponse>, Status> {
        Ok(Response::new(pb::GetCapabilitiesResponse {
            search: Some(pb::SearchCapabilities {
                without_service_name: self.options.search_without_service,
                // Every backend matches all conditions on one span (conformance suite).
                same_span_conjunction: true,
                filter: None,
            }),
        }))
    }
}

#[tonic::async_trait]
impl TraceService for Handler {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let batch = request.into_inner().resource_spans;
        for span in batch
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
        {
            if span.trace_id.len() != 16 || span.span_id.len() != 8 {
                return Err(Status::invalid_argument(format!(
                    "span with a {}-byte trace_id and a {}-byte span_id (16 and 8 required)",
                    span.trace_id.len(),
                    span.span_id.len()
                )));
            }
        }
        if !batch.is_empty() {
            self.storage
                .writer
                .write_spans(batch)
                .await
                .map_err(status_from)?;
        }
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// Every service of the remote storage port, to mount on a tonic server.
pub async fn routes(storage: Storage, options: RemoteStorageOptions) -> Routes {
    let max = options.max_recv_bytes;
    let h = Handler { storage, options };
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in HEALTH_SERVICE_NAMES {
        reporter
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(jaeger_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .with_service_name("jaeger.storage.v2.TraceReader")
        .with_service_name("jaeger.storage.v2.DependencyReader")
        .with_service_name("jaeger.storage.v2.Capabilities")
        .with_service_name("grpc.health.v1.Health")
        .build_v1();
    let mut routes = Routes::new(
        TraceReaderServer::new(h.clone())
            .max_decoding_message_size(max)
            .max_encoding_message_size(usize::MAX)
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip),
    )
    .add_service(DependencyReaderServer::new(h.clone()))
    .add_service(CapabilitiesServer::new(h.clone()))
    .add_service(
        TraceServiceServer::new(h)
            .max_decoding_message_size(max)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd),
    )
    .add_service(health);
    match reflection {
        Ok(r) => routes = routes.add_service(r),
        // The descriptor set is compiled in; a failure here is a build problem.
        Err(e) => tracing::warn!("gRPC reflection unavailable: {e}"),
    }
    routes
}

/// Serves `storage` on `listener` until `shutdown` completes, then drains the calls in
/// flight.
pub async fn serve_remote_storage(
    listener: TcpListener,
    storage: Storage,
    options: RemoteStorageOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let routes = routes(storage, options).await;
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
