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
//! - Metadata (idl spec §3.3): a bearer token in `bearer.token` (or `authorization:
//!   Bearer ...`) and the tenant are put in the [`RequestContext`] of the storage call.
//!   With [`RemoteStorageOptions::tenancy`], every data call must name one (known)
//!   tenant, answered as Jaeger's guarding interceptors do, and reads and writes go to
//!   that tenant's own store. Health and reflection stay open.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

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
use tonic::metadata::MetadataMap;
use tonic::service::Routes;
use tonic::{Request, Response, Status};

use super::{BEARER_TOKEN_KEY, HEALTH_SERVICE_NAMES, attribute_to_tag, chunk_trace};
use crate::context::RequestContext;
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
    /// Tenancy by metadata; `None`: one store for every caller.
    pub tenancy: Option<ServerTenancy>,
}

/// Opens the store of a tenant the first time the tenant is seen.
pub type TenantOpener = Arc<
    dyn Fn(String) -> futures::future::BoxFuture<'static, Result<Storage, StorageError>>
        + Send
        + Sync,
>;

/// Multi-tenancy of the remote storage server (Jaeger's `multi_tenancy`).
#[derive(Clone)]
pub struct ServerTenancy {
    /// The metadata key naming the tenant (`x-tenant`).
    pub header: String,
    /// Accepted tenants; empty accepts any non-empty value.
    pub tenants: Vec<String>,
    pub open: TenantOpener,
}

impl std::fmt::Debug for ServerTenancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTenancy")
            .field("header", &self.header)
            .field("tenants", &self.tenants)
            .finish_non_exhaustive()
    }
}

impl Default for RemoteStorageOptions {
    fn default() -> Self {
        Self {
            search_without_service: true,
            max_chunk_bytes: 1024 * 1024,
            max_recv_bytes: 64 * 1024 * 1024,
            tenancy: None,
        }
    }
}

#[derive(Clone)]
struct Handler {
    storage: Storage,
    options: RemoteStorageOptions,
    /// Stores opened per tenant (tenancy on).
    tenants: Arc<tokio::sync::Mutex<HashMap<String, Storage>>>,
}

/// The tenant named by the metadata, checked as Jaeger's `tenancy.getValidTenant`.
pub(crate) fn valid_tenant(t: &ServerTenancy, md: &MetadataMap) -> Result<String, Status> {
    let mut values = md.get_all(t.header.as_str()).iter();
    let Some(first) = values.next() else {
        return Err(Status::unauthenticated("missing tenant header"));
    };
    if values.next().is_some() {
        return Err(Status::permission_denied("extra tenant header"));
    }
    let tenant = first
        .to_str()
        .map_err(|_| Status::permission_denied("unknown tenant"))?;
    if tenant.is_empty() {
        return Err(Status::unauthenticated("missing tenant header"));
    }
    if !t.tenants.is_empty() && !t.tenants.iter().any(|k| k == tenant) {
        return Err(Status::permission_denied("unknown tenant"));
    }
    Ok(tenant.to_string())
}

/// Jaeger's `bearer.token` metadata, else a standard `authorization: Bearer` header.
fn bearer_token(md: &MetadataMap) -> Result<Option<String>, Status> {
    let mut values = md.get_all(BEARER_TOKEN_KEY).iter();
    if let Some(v) = values.next() {
        if values.next().is_some() {
            // As Jaeger's server interceptor.
            return Err(Status::permission_denied(
                "malformed token: multiple tokens found",
            ));
        }
        let t = v
            .to_str()
            .map_err(|_| Status::permission_denied("malformed token"))?;
        return Ok((!t.is_empty()).then(|| t.to_string()));
    }
    Ok(md
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty())
        .map(str::to_string))
}

impl Handler {
    /// The store of the call's tenant and the context its storage calls run in.
    async fn scope(&self, md: &MetadataMap) -> Result<(Storage, RequestContext), Status> {
        let bearer_token = bearer_token(md)?;
        let Some(t) = &self.options.tenancy else {
            return Ok((
                self.storage.clone(),
                RequestContext {
                    bearer_token,
                    tenant: None,
                },
            ));
        };
        let tenant = valid_tenant(t, md)?;
        let mut stores = self.tenants.lock().await;
        let storage = match stores.get(&tenant) {
            Some(s) => s.clone(),
            None => {
                // Opening under the lock: a tenant's store is opened once.
                let s = (t.open)(tenant.clone()).await.map_err(|e| {
                    tracing::error!("opening the store of tenant {tenant:?}: {e}");
                    status_from(e)
                })?;
                tracing::info!("opened the store of tenant {tenant:?}");
                stores.insert(tenant.clone(), s.clone());
                s
            }
        };
        Ok((
            storage,
            RequestContext {
                bearer_token,
                tenant: Some(tenant),
            },
        ))
    }
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
        let (storage, ctx) = self.scope(request.metadata()).await?;
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
            if let Some(trace) = ctx
                .clone()
                .scope(storage.reader.get_trace(p))
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
        request: Request<pb::GetServicesRequest>,
    ) -> Result<Response<pb::GetServicesResponse>, Status> {
        let (storage, ctx) = self.scope(request.metadata()).await?;
        let services = ctx
            .scope(storage.reader.get_services())
            .await
            .map_err(status_from)?;
        Ok(Response::new(pb::GetServicesResponse { services }))
    }

    async fn get_operations(
        &self,
        request: Request<pb::GetOperationsRequest>,
    ) -> Result<Response<pb::GetOperationsResponse>, Status> {
        let (storage, ctx) = self.scope(request.metadata()).await?;
        let r = request.into_inner();
        let q = OperationQuery {
            service_name: r.service,
            span_kind: (!r.span_kind.is_empty()).then_some(r.span_kind),
        };
        let ops = ctx
            .scope(storage.reader.get_operations(&q))
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
        let (storage, ctx) = self.scope(request.metadata()).await?;
        let q = query_from_pb(request.into_inner().query)?;
        let traces = ctx
            .scope(storage.reader.find_traces(&q))
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
        let (storage, ctx) = self.scope(request.metadata()).await?;
        let q = query_from_pb(request.into_inner().query)?;
        let ids = ctx
            .scope(storage.reader.find_trace_ids(&q))
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
        let (storage, ctx) = self.scope(request.metadata()).await?;
        let r = request.into_inner();
        let end = opt_timestamp_to_nanos(r.end_time.as_ref())
            .ok_or_else(|| Status::invalid_argument("end_time is required"))?;
        let start = opt_timestamp_to_nanos(r.start_time.as_ref()).unwrap_or(0);
        if start > end {
            return Err(Status::invalid_argument("start_time is after end_time"));
        }
        let links = ctx
            .scope(storage.dependencies.get_dependencies(end, end - start))
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
        let (storage, ctx) = self.scope(request.metadata()).await?;
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
            ctx.scope(storage.writer.write_spans(batch))
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
    let h = Handler {
        storage,
        options,
        tenants: Arc::default(),
    };
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
