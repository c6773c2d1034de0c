//! The `grpc` storage backend: a client of Jaeger's remote storage API (a
//! `jaeger remote-storage` process, or Jaeger's own `jaeger-remote-storage`).
//!
//! - Writes are OTLP `TraceService/Export` (to `writer_endpoint` when set), split into
//!   requests of at most [`WRITE_REQUEST_BYTES`] so a 4 MiB server limit is never hit.
//! - The connection is lazy: a process using this backend starts while the remote store
//!   is still down; calls fail with `Unavailable` until it is up.
//! - `write_dependencies` is `Unsupported`: the API has no dependency writer.
//! - TLS (and mTLS) per connection with [`ClientTls`]; plain text without.
//! - Every call carries the caller's tenant (the [`RequestContext`] the query service
//!   set) in the tenant header (`x-tenant` by default), and its bearer token as
//!   `bearer.token` (Jaeger's key, which Jaeger's remote storage reads) and as
//!   `authorization: Bearer <token>` (for proxies and other servers).
//! - `scan_spans` (the dependencies job's read path) walks the window in time slices:
//!   FindTraceIDs per slice, bisecting a slice whose answer hit the search depth, then
//!   GetTraces of the ids, keeping only the spans that start in the slice. It needs a
//!   backend that searches without a service name (memory, embedded; not Cassandra).

use std::time::Duration;

use async_trait::async_trait;
use jaeger_model::otlp::collector::ExportTraceServiceRequest;
use jaeger_model::otlp::collector::trace_service_client::TraceServiceClient;
use jaeger_model::otlp::{ResourceSpans, ScopeSpans};
use jaeger_model::{Trace, TraceId};
use jaeger_proto::convert::{duration_from_nanos, timestamp_from_nanos};
use jaeger_proto::storage::v2 as pb;
use pb::dependency_reader_client::DependencyReaderClient;
use pb::trace_reader_client::TraceReaderClient;
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use super::tls::ClientTls;
use super::{BEARER_TOKEN_KEY, split_batch, tag_to_attribute};
use crate::context::RequestContext;
use crate::{
    DependencyLink, DependencyStore, GetTraceParams, Operation, OperationQuery, Result, SpanReader,
    SpanWriter, StorageError, StorageHealth, TraceQuery, UnixNanos,
};

/// Largest Export request the client sends.
pub const WRITE_REQUEST_BYTES: usize = 3 * 1024 * 1024;
/// Traces asked for per scan slice; a full answer splits the slice.
const SCAN_DEPTH: usize = 1000;
/// Width of the first scan slices.
const SCAN_SLICE: u64 = 5 * 60 * 1_000_000_000;
/// Below this width a full slice is re-asked with a larger depth instead of split.
const SCAN_MIN_SLICE: u64 = 1_000;

/// Settings of a `grpc` backend (Jaeger v2 `backends.<name>.grpc`).
#[derive(Clone, Debug)]
pub struct GrpcClientConfig {
    /// `host:port` (or `http://host:port`) of the remote storage server.
    pub endpoint: String,
    /// A separate OTLP endpoint for writes (`writer.endpoint`); `None`: `endpoint`.
    pub writer_endpoint: Option<String>,
    /// Connect and per-call timeout (Jaeger: 5s).
    pub timeout: Duration,
    /// Largest message accepted from the server (Jaeger: `max_recv_msg_size_mib`, 4 MiB).
    pub max_recv_bytes: usize,
    /// TLS to `endpoint`; `None`: plain text.
    pub tls: Option<ClientTls>,
    /// TLS to `writer_endpoint`; `None`: plain text.
    pub writer_tls: Option<ClientTls>,
    /// The metadata key the caller's tenant is sent in (`multi_tenancy.header`).
    pub tenant_header: String,
}

impl GrpcClientConfig {
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            writer_endpoint: None,
            timeout: Duration::from_secs(5),
            max_recv_bytes: 4 * 1024 * 1024,
            tls: None,
            writer_tls: None,
            tenant_header: "x-tenant".into(),
        }
    }
}

/// The `grpc` backend. Cheap to clone (the channels are shared).
#[derive(Clone)]
pub struct GrpcStore {
    endpoint: String,
    reader: TraceReaderClient<Channel>,
    deps: DependencyReaderClient<Channel>,
    writer: TraceServiceClient<Channel>,
    health: tonic_health::pb::health_client::HealthClient<Channel>,
    timeout: Duration,
    tenant_header: MetadataKey<tonic::metadata::Ascii>,
    /// TLS without a client certificate: a server that requires one (mTLS) closes the
    /// connection after the TLS 1.3 handshake, which only says "broken pipe" here.
    tls_without_client_cert: bool,
}

/// `host:port` as a URI tonic accepts; Go's `:port` means localhost.
fn endpoint_uri(endpoint: &str) -> Result<Endpoint> {
    let e = endpoint.trim();
    // The scheme only says how to reach the host; TLS is the `tls` setting's.
    let uri = if let Some(rest) = e.strip_prefix("https://") {
        format!("http://{rest}")
    } else if e.starts_with("http://") {
        e.to_string()
    } else if let Some(port) = e.strip_prefix(':') {
        format!("http://localhost:{port}")
    } else {
        format!("http://{e}")
    };
    Endpoint::from_shared(uri)
        .map_err(|err| StorageError::InvalidQuery(format!("remote storage endpoint {e}: {err}")))
}

impl GrpcStore {
    /// Builds the clients; the connection is made on first use. Must be called inside a
    /// tokio runtime.
    pub fn connect(cfg: &GrpcClientConfig) -> Result<Self> {
        let channel = |endpoint: &str, tls: Option<&ClientTls>| -> Result<Channel> {
            let e = endpoint_uri(endpoint)?
                .connect_timeout(cfg.timeout)
                .timeout(cfg.timeout)
                .tcp_nodelay(true);
            match tls {
                Some(tls) => tls.channel(e, cfg.timeout),
                None => Ok(e.connect_lazy()),
            }
        };
        let read = channel(&cfg.endpoint, cfg.tls.as_ref())?;
        let write = match &cfg.writer_endpoint {
            Some(w) => channel(w, cfg.writer_tls.as_ref())?,
            None => read.clone(),
        };
        let tenant_header =
            MetadataKey::from_bytes(cfg.tenant_header.as_bytes()).map_err(|_| {
                StorageError::InvalidQuery(format!(
                    "multi_tenancy.header {:?} is not a valid gRPC metadata key",
                    cfg.tenant_header
                ))
            })?;
        Ok(Self {
            endpoint: cfg.endpoint.clone(),
            reader: TraceReaderClient::new(read.clone())
                .max_decoding_message_size(cfg.max_recv_bytes),
            deps: DependencyReaderClient::new(read.clone())
                .max_decoding_message_size(cfg.max_recv_bytes),
            writer: TraceServiceClient::new(write),
            health: tonic_health::pb::health_client::HealthClient::new(read),
            timeout: cfg.timeout,
            tenant_header,
            tls_without_client_cert: cfg.tls.as_ref().is_some_and(|t| !t.has_client_cert()),
        })
    }

    /// The server this backend talks to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `msg` as a call carrying the current request's tenant and bearer token.
    fn request<T>(&self, msg: T) -> Request<T> {
        let mut req = Request::new(msg);
        let Some(ctx) = RequestContext::current() else {
            return req;
        };
        let md = req.metadata_mut();
        // Values that cannot be metadata (not visible ASCII) are not sent: the server
        // then answers as for a missing tenant or token.
        if let Some(v) = ctx
            .tenant
            .as_deref()
            .and_then(|t| MetadataValue::try_from(t).ok())
        {
            md.insert(self.tenant_header.clone(), v);
        }
        if let Some(t) = ctx.bearer_token.as_deref() {
            if let Ok(v) = MetadataValue::try_from(t) {
                md.insert(BEARER_TOKEN_KEY, v);
            }
            if let Ok(v) = MetadataValue::try_from(format!("Bearer {t}")) {
                md.insert("authorization", v);
            }
        }
        req
    }

    /// Checks that the server answers (gRPC health of `TraceReader`), with the reason
    /// when it does not (refused connection, TLS handshake failure...).
    pub async fn probe(&self) -> Result<()> {
        use tonic_health::pb::HealthCheckRequest;
        use tonic_health::pb::health_check_response::ServingStatus;
        let r = self
            .health
            .clone()
            .check(HealthCheckRequest {
                service: "jaeger.storage.v2.TraceReader".into(),
            })
            .await
            .map_err(|s| self.error(s))?;
        if r.into_inner().status == ServingStatus::Serving as i32 {
            Ok(())
        } else {
            Err(StorageError::Unavailable(format!(
                "remote storage {}: not serving",
                self.endpoint
            )))
        }
    }

    fn error(&self, s: Status) -> StorageError {
        // Transport failures keep their reason (a TLS handshake error) in the source
        // chain; the message alone says "transport error".
        let mut msg = s.message().to_string();
        let mut source = std::error::Error::source(&s);
        while let Some(e) = source {
            let m = e.to_string();
            if !msg.contains(&m) {
                msg = format!("{msg}: {m}");
            }
            source = e.source();
        }
        let lower = msg.to_lowercase();
        if self.tls_without_client_cert
            && [
                "broken pipe",
                "connection reset",
                "connection closed",
                "certificaterequired",
            ]
            .iter()
            .any(|m| lower.contains(m))
        {
            msg.push_str(
                "; the server may require a client certificate (tls.cert_file and \
                 tls.key_file are not set)",
            );
        }
        match s.code() {
            Code::InvalidArgument => StorageError::InvalidQuery(msg),
            Code::Unauthenticated | Code::PermissionDenied => StorageError::InvalidQuery(format!(
                "remote storage {}: {msg} ({:?})",
                self.endpoint,
                s.code()
            )),
            Code::Unimplemented => {
                StorageError::Unsupported("an operation the remote storage does not serve")
            }
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Cancelled
            | Code::Aborted
            | Code::Unknown => StorageError::Unavailable(format!(
                "remote storage {}: {msg} ({:?})",
                self.endpoint,
                s.code()
            )),
            code => {
                StorageError::Engine(format!("remote storage {}: {code:?}: {msg}", self.endpoint))
            }
        }
    }

    /// Reads a stream of one-trace chunks into traces (consecutive chunks of the same
    /// trace are merged).
    async fn collect_traces(
        &self,
        mut stream: tonic::Streaming<jaeger_model::otlp::trace::TracesData>,
    ) -> Result<Vec<Trace>> {
        let mut out: Vec<(TraceId, Trace)> = Vec::new();
        while let Some(chunk) = stream.message().await.map_err(|s| self.error(s))? {
            let Some(id) = jaeger_model::trace::spans_of(&chunk.resource_spans)
                .next()
                .map(|s| s.trace_id())
            else {
                continue;
            };
            match out.last_mut() {
                Some((last, t)) if *last == id => t.resource_spans.extend(chunk.resource_spans),
                _ => out.push((id, Trace::new(chunk.resource_spans))),
            }
        }
        Ok(out.into_iter().map(|(_, t)| t).collect())
    }

    async fn get_traces(&self, params: Vec<pb::GetTraceParams>) -> Result<Vec<Trace>> {
        let stream = self
            .reader
            .clone()
            .get_traces(self.request(pb::GetTracesRequest { query: params }))
            .await
            .map_err(|s| self.error(s))?
            .into_inner();
        self.collect_traces(stream).await
    }
}

fn ts(ns: u64) -> prost_types::Timestamp {
    timestamp_from_nanos(ns)
}

fn query_to_pb(q: &TraceQuery) -> pb::TraceQueryParameters {
    let dur = |d: Option<u64>| d.map(|n| duration_from_nanos(i64::try_from(n).unwrap_or(i64::MAX)));
    pb::TraceQueryParameters {
        service_name: q.service_name.clone().unwrap_or_default(),
        operation_name: q.operation_name.clone().unwrap_or_default(),
        attributes: q.tags.iter().map(|(k, v)| tag_to_attribute(k, v)).collect(),
        start_time_min: Some(ts(q.start_time_min)),
        // 0 is "no upper bound" in the seam; absent on the wire.
        start_time_max: (q.start_time_max > 0).then(|| ts(q.start_time_max)),
        duration_min: dur(q.duration_min),
        duration_max: dur(q.duration_max),
        search_depth: i32::try_from(q.num_traces).unwrap_or(i32::MAX),
        filter: None,
    }
}

/// The spans of `rs` that start in `[start, end)`, keeping resource and scope.
fn spans_in_window(rs: Vec<ResourceSpans>, start: u64, end: u64, out: &mut Vec<ResourceSpans>) {
    for r in rs {
        let scope_spans: Vec<ScopeSpans> = r
            .scope_spans
            .into_iter()
            .filter_map(|mut ss| {
                ss.spans
                    .retain(|s| s.start_time_unix_nano >= start && s.start_time_unix_nano < end);
                (!ss.spans.is_empty()).then_some(ss)
            })
            .collect();
        if !scope_spans.is_empty() {
            out.push(ResourceSpans {
                resource: r.resource,
                scope_spans,
                schema_url: r.schema_url,
            });
        }
    }
}

#[async_trait]
impl SpanWriter for GrpcStore {
    async fn write_spans(&self, batch: Vec<ResourceSpans>) -> Result<()> {
        for part in split_batch(batch, WRITE_REQUEST_BYTES) {
            let resp = self
                .writer
                .clone()
                .export(self.request(ExportTraceServiceRequest {
                    resource_spans: part,
                }))
                .await
                .map_err(|s| self.error(s))?
                .into_inner();
            if let Some(p) = resp.partial_success
                && p.rejected_spans > 0
            {
                return Err(StorageError::Engine(format!(
                    "remote storage {} rejected {} spans: {}",
                    self.endpoint, p.rejected_spans, p.error_message
                )));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl SpanReader for GrpcStore {
    async fn get_trace(&self, params: GetTraceParams) -> Result<Option<Trace>> {
        let traces = self
            .get_traces(vec![pb::GetTraceParams {
                trace_id: params.trace_id.0.to_vec(),
                start_time: params.start.map(ts),
                end_time: params.end.map(ts),
            }])
            .await?;
        // One id asked: every chunk is that trace's.
        let spans: Vec<ResourceSpans> = traces.into_iter().flat_map(|t| t.resource_spans).collect();
        Ok((!spans.is_empty()).then(|| Trace::new(spans)))
    }

    async fn find_traces(&self, query: &TraceQuery) -> Result<Vec<Trace>> {
        let stream = self
            .reader
            .clone()
            .find_traces(self.request(pb::FindTracesRequest {
                query: Some(query_to_pb(query)),
            }))
            .await
            .map_err(|s| self.error(s))?
            .into_inner();
        self.collect_traces(stream).await
    }

    async fn find_trace_ids(&self, query: &TraceQuery) -> Result<Vec<TraceId>> {
        let resp = self
            .reader
            .clone()
            .find_trace_i_ds(self.request(pb::FindTraceIDsRequest {
                query: Some(query_to_pb(query)),
            }))
            .await
            .map_err(|s| self.error(s))?
            .into_inner();
        resp.trace_ids
            .iter()
            .map(|t| {
                TraceId::from_slice(&t.trace_id).map_err(|e| {
                    StorageError::Corrupt(format!("remote storage sent a trace id: {e}"))
                })
            })
            .collect()
    }

    async fn get_services(&self) -> Result<Vec<String>> {
        let mut services = self
            .reader
            .clone()
            .get_services(self.request(pb::GetServicesRequest {}))
            .await
            .map_err(|s| self.error(s))?
            .into_inner()
            .services;
        services.sort();
        Ok(services)
    }

    async fn get_operations(&self, query: &OperationQuery) -> Result<Vec<Operation>> {
        // On the wire an empty kind means "any"; the seam's `Some("")` (operations without
        // a kind only) is asked as "any" and filtered here.
        let unspecified_only = query.span_kind.as_deref() == Some("");
        let mut ops: Vec<Operation> = self
            .reader
            .clone()
            .get_operations(self.request(pb::GetOperationsRequest {
                service: query.service_name.clone(),
                span_kind: query.span_kind.clone().unwrap_or_default(),
            }))
            .await
            .map_err(|s| self.error(s))?
            .into_inner()
            .operations
            .into_iter()
            .map(|o| Operation {
                name: o.name,
                span_kind: o.span_kind,
            })
            .collect();
        if unspecified_only {
            ops.retain(|o| o.span_kind.is_empty());
        }
        ops.sort();
        Ok(ops)
    }

    async fn scan_spans(
        &self,
        start: UnixNanos,
        end: UnixNanos,
        sink: tokio::sync::mpsc::Sender<Vec<ResourceSpans>>,
    ) -> Result<()> {
        // Slices to do, latest last so that pop() walks the window forward.
        let mut todo: Vec<(u64, u64, usize)> = Vec::new();
        let mut t = end;
        while t > start {
            let a = t.saturating_sub(SCAN_SLICE).max(start);
            todo.push((a, t, SCAN_DEPTH));
            t = a;
        }
        while let Some((a, b, depth)) = todo.pop() {
            if sink.is_closed() {
                return Ok(());
            }
            let q = TraceQuery {
                start_time_min: a,
                // Inclusive bound; spans at `b` belong to the next slice.
                start_time_max: b - 1,
                num_traces: depth,
                ..Default::default()
            };
            let ids = self.find_trace_ids(&q).await?;
            if ids.len() >= depth {
                if b - a > SCAN_MIN_SLICE {
                    let mid = a + (b - a) / 2;
                    todo.push((mid, b, depth));
                    todo.push((a, mid, depth));
                } else {
                    todo.push((a, b, depth.saturating_mul(4)));
                }
                continue;
            }
            if ids.is_empty() {
                continue;
            }
            let params = ids
                .iter()
                .map(|id| pb::GetTraceParams {
                    trace_id: id.0.to_vec(),
                    start_time: None,
                    end_time: None,
                })
                .collect();
            let mut chunk = Vec::new();
            for trace in self.get_traces(params).await? {
                spans_in_window(trace.resource_spans, a, b, &mut chunk);
            }
            if !chunk.is_empty() && sink.send(chunk).await.is_err() {
                // The reader hung up: nothing more to do.
                return Ok(());
            }
        }
        Ok(())
    }
}

#[async_trait]
impl DependencyStore for GrpcStore {
    async fn get_dependencies(&self, end: UnixNanos, lookback: u64) -> Result<Vec<DependencyLink>> {
        let resp = self
            .deps
            .clone()
            .get_dependencies(self.request(pb::GetDependenciesRequest {
                start_time: Some(ts(end.saturating_sub(lookback))),
                end_time: Some(ts(end)),
            }))
            .await
            .map_err(|s| self.error(s))?
            .into_inner();
        Ok(resp
            .dependencies
            .into_iter()
            .map(|d| DependencyLink {
                parent: d.parent,
                child: d.child,
                call_count: d.call_count,
                source: d.source,
            })
            .collect())
    }

    async fn write_dependencies(
        &self,
        _window_start: UnixNanos,
        _window_end: UnixNanos,
        _links: Vec<DependencyLink>,
    ) -> Result<()> {
        Err(StorageError::Unsupported(
            "writing dependency links through remote storage (the API has no writer; run the \
             dependencies job in the remote-storage process)",
        ))
    }
}

#[async_trait]
impl StorageHealth for GrpcStore {
    /// The server's gRPC health for `jaeger.storage.v2.TraceReader`.
    async fn is_healthy(&self) -> bool {
        use tonic_health::pb::HealthCheckRequest;
        use tonic_health::pb::health_check_response::ServingStatus;
        let mut client = self.health.clone();
        let check = client.check(HealthCheckRequest {
            service: "jaeger.storage.v2.TraceReader".into(),
        });
        match tokio::time::timeout(self.timeout, check).await {
            Ok(Ok(r)) => r.into_inner().status == ServingStatus::Serving as i32,
            _ => false,
        }
    }
}
