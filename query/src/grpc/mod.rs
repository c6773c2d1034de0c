//! The query service's gRPC side (port 16685): `jaeger.api_v2.QueryService` and
//! `jaeger.api_v3.QueryService`, plus `grpc.health.v1.Health` and server reflection.
//!
//! Both services read through the same [`QueryService`] as the HTTP API (archive
//! fallback, `max_trace_size`, adjusters), so gRPC and HTTP return the same traces.
//! Errors map once, in [`status`]: bad parameters → INVALID_ARGUMENT, missing traces →
//! NOT_FOUND, storage failures → INTERNAL (UNAVAILABLE when storage asks to retry).
//!
//! With multi-tenancy on, both query services require the tenant in the gRPC metadata
//! (the same header as HTTP, `x-tenant` by default), as Jaeger's guarding interceptors
//! do: none → UNAUTHENTICATED `missing tenant header`, several → PERMISSION_DENIED
//! `extra tenant header`, one not in the list → PERMISSION_DENIED `unknown tenant`.
//! Health and reflection stay open: they carry no tenant data, and probes have no tenant.
//!
//! As on HTTP, each call of the query services runs inside a [`RequestContext`] holding
//! its tenant and, with `bearer_token_propagation` on, the caller's bearer token, so
//! storage backends that forward them (the `grpc` one) see the same values as for an
//! HTTP request: metadata `authorization: Bearer <token>` (or Jaeger's own key
//! `bearer.token`, whose value is the token itself).

mod api_v2;
mod api_v3;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use jaeger_model::{Trace, TraceId};
use jaeger_proto::api_v2::query_service_server::QueryServiceServer as V2Server;
use jaeger_proto::api_v3::query_service_server::QueryServiceServer as V3Server;
use jaeger_storage::{DependencyStore, StorageError};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;

use crate::QueryState;
use crate::middleware::{RequestContext, TenancyOptions, Tenant, bearer_token};
use crate::service::{QueryError, QueryService};

pub use api_v2::QueryV2;
pub use api_v3::QueryV3;

/// What the gRPC handlers share.
#[derive(Clone)]
pub struct GrpcQueryState {
    pub service: QueryService,
    pub dependencies: Arc<dyn DependencyStore>,
    /// Multi-tenancy; `None` turns it off.
    pub tenancy: Option<TenancyOptions>,
    /// Hands the caller's bearer token to storage (`--query.bearer-token-propagation`).
    pub bearer_token_propagation: bool,
}

impl GrpcQueryState {
    pub fn new(service: QueryService, dependencies: Arc<dyn DependencyStore>) -> Self {
        GrpcQueryState {
            service,
            dependencies,
            tenancy: None,
            bearer_token_propagation: false,
        }
    }

    /// The same storage, archive, adjusters, tenancy and bearer-token propagation as
    /// the HTTP router of `state`.
    pub fn from_query_state(state: &QueryState) -> Self {
        let mut s = Self::new(state.query_service(), state.dependencies.clone());
        s.tenancy = state.http.tenancy.clone();
        s.bearer_token_propagation = state.http.bearer_token_propagation;
        s
    }
}

/// Jaeger's gRPC metadata key for a propagated bearer token (the value is the token).
const BEARER_TOKEN_KEY: &str = "bearer.token";

/// What a call carries for storage: its tenant (checked by [`TenancyGuard`], which
/// refuses the call before it gets here when it is not valid) and, when
/// propagation is on, its bearer token. Several `bearer.token` values are refused, as
/// Jaeger's interceptor does.
fn request_context(
    tenancy: Option<&TenancyOptions>,
    bearer_token_propagation: bool,
    headers: &http::HeaderMap,
) -> Result<RequestContext, Status> {
    let mut ctx = RequestContext::default();
    if let Some(t) = tenancy {
        ctx.tenant = headers
            .get(&t.header)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
    }
    if bearer_token_propagation {
        let mut own = headers.get_all(BEARER_TOKEN_KEY).iter();
        ctx.bearer_token = match (own.next(), own.next()) {
            (Some(_), Some(_)) => {
                return Err(Status::unauthenticated(
                    "malformed token: multiple tokens found",
                ));
            }
            (Some(v), None) => v
                .to_str()
                .ok()
                .filter(|t| !t.is_empty())
                .map(str::to_string),
            (None, _) => bearer_token(headers),
        };
    }
    Ok(ctx)
}

/// Runs every call of the wrapped gRPC service inside its [`RequestContext`], as the
/// HTTP middleware does for a request.
#[derive(Clone)]
pub struct WithRequestContext<S> {
    inner: S,
    tenancy: Option<Arc<TenancyOptions>>,
    bearer_token_propagation: bool,
}

impl<S: NamedService> NamedService for WithRequestContext<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B, R> tower::Service<http::Request<B>> for WithRequestContext<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        match request_context(
            self.tenancy.as_deref(),
            self.bearer_token_propagation,
            req.headers(),
        ) {
            Ok(ctx) => Box::pin(ctx.scope(self.inner.call(req))),
            Err(status) => Box::pin(std::future::ready(Ok(status.into_http()))),
        }
    }
}

/// The tenant named by the request metadata, checked as Jaeger's
/// `tenancy.getValidTenant` does.
pub(crate) fn valid_tenant(t: &TenancyOptions, md: &MetadataMap) -> Result<String, Status> {
    let mut values = md.get_all(t.header.as_str()).iter();
    let Some(first) = values.next() else {
        return Err(Status::unauthenticated("missing tenant header"));
    };
    if values.next().is_some() {
        return Err(Status::permission_denied("extra tenant header"));
    }
    // A value that is not visible ASCII cannot name a configured tenant.
    let tenant = first
        .to_str()
        .map_err(|_| Status::permission_denied("unknown tenant"))?;
    // An empty list accepts any tenant (Jaeger's "don't care" guard).
    if !t.tenants.is_empty() && !t.tenants.iter().any(|k| k == tenant) {
        return Err(Status::permission_denied("unknown tenant"));
    }
    Ok(tenant.to_string())
}

/// The interceptor guarding the query services: with tenancy on, a call without a
/// valid tenant is refused before it reaches a handler; the tenant is left on the
/// request as a [`Tenant`] extension.
#[derive(Clone)]
pub struct TenancyGuard(Option<Arc<TenancyOptions>>);

impl tonic::service::Interceptor for TenancyGuard {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        if let Some(t) = &self.0 {
            let tenant = valid_tenant(t, req.metadata())?;
            req.extensions_mut().insert(Tenant(tenant));
        }
        Ok(req)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GrpcServeError {
    #[error("query gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("query gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// Every service of the query gRPC port, to mount on a tonic server.
pub async fn routes(state: GrpcQueryState) -> Result<Routes, GrpcServeError> {
    let tenancy = state.tenancy.clone().map(Arc::new);
    let bearer_token_propagation = state.bearer_token_propagation;
    let guard = TenancyGuard(tenancy.clone());
    let shared = Arc::new(state);
    let v2 = V2Server::new(QueryV2::new(shared.clone()))
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Zstd);
    let v3 = V3Server::new(QueryV3::new(shared))
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Zstd);
    // The guard refuses a bad tenant first; the calls it lets through run in context.
    let v2 = InterceptedService::new(
        WithRequestContext {
            inner: v2,
            tenancy: tenancy.clone(),
            bearer_token_propagation,
        },
        guard.clone(),
    );
    let v3 = InterceptedService::new(
        WithRequestContext {
            inner: v3,
            tenancy,
            bearer_token_propagation,
        },
        guard,
    );

    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<V2Server<QueryV2>>().await;
    reporter.set_serving::<V3Server<QueryV3>>().await;

    // Reflection lists only what this port serves.
    let reflection = |own: &str| {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(jaeger_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("jaeger.api_v2.QueryService")
            .with_service_name("jaeger.api_v3.QueryService")
            .with_service_name("grpc.health.v1.Health")
            .with_service_name(own)
    };
    let routes = Routes::new(v2)
        .add_service(v3)
        .add_service(health)
        .add_service(reflection("grpc.reflection.v1.ServerReflection").build_v1()?)
        .add_service(reflection("grpc.reflection.v1alpha.ServerReflection").build_v1alpha()?);
    Ok(routes)
}

/// Serves the query gRPC API on `listener` until `shutdown` completes, then drains
/// the calls in flight.
pub async fn serve_query_grpc(
    listener: tokio::net::TcpListener,
    state: GrpcQueryState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GrpcServeError> {
    let routes = routes(state).await?;
    tonic::transport::Server::builder()
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await?;
    Ok(())
}

/// The message a trace id lookup without spans gets.
pub(crate) const TRACE_NOT_FOUND: &str = "trace not found";

/// Maps a query failure to a status; `what` says what was being done, for the log and
/// the message of an internal error.
pub(crate) fn status(e: QueryError, what: &str) -> Status {
    match e {
        QueryError::Storage(StorageError::InvalidQuery(m)) => Status::invalid_argument(m),
        QueryError::Storage(StorageError::Unavailable(m)) => {
            Status::unavailable(format!("{what}: storage unavailable: {m}"))
        }
        QueryError::TraceNotFound => Status::not_found(TRACE_NOT_FOUND),
        other => {
            tracing::error!(error = %other, "query gRPC: {what}");
            Status::internal(format!("{what}: {other}"))
        }
    }
}

pub(crate) fn storage_status(e: StorageError, what: &str) -> Status {
    status(QueryError::Storage(e), what)
}

/// A server stream of messages or one final error.
pub(crate) type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Streams the traces, each converted into messages off the async workers, one trace
/// at a time; stops when the client goes away.
pub(crate) fn stream_traces<T, F>(traces: Vec<Trace>, convert: F) -> ResponseStream<T>
where
    T: Send + 'static,
    F: Fn(Trace) -> Vec<T> + Send + Sync + 'static,
{
    let (tx, rx) = mpsc::channel(4);
    let convert = Arc::new(convert);
    tokio::spawn(async move {
        for trace in traces {
            let c = convert.clone();
            let chunks = match tokio::task::spawn_blocking(move || c(trace)).await {
                Ok(chunks) => chunks,
                Err(e) => {
                    tracing::error!(error = %e, "query gRPC: converting a trace failed");
                    let _ = tx
                        .send(Err(Status::internal(format!("internal error: {e}"))))
                        .await;
                    return;
                }
            };
            for chunk in chunks {
                if tx.send(Ok(chunk)).await.is_err() {
                    return;
                }
            }
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

/// Times of a request: `None` when absent or Go's zero time (Jaeger's "unset").
pub(crate) fn opt_time(t: Option<&prost_types::Timestamp>) -> Option<u64> {
    jaeger_proto::convert::opt_timestamp_to_nanos(t)
}

/// The bounds of a duration filter: zero is no bound, a negative maximum matches
/// nothing (as on the HTTP API).
pub(crate) fn duration_bounds(
    min: Option<&prost_types::Duration>,
    max: Option<&prost_types::Duration>,
) -> (Option<u64>, Option<u64>) {
    let ns = |d: Option<&prost_types::Duration>| {
        d.map(jaeger_proto::convert::duration_to_nanos).unwrap_or(0)
    };
    let (min, max) = (ns(min), ns(max));
    (
        (min > 0).then_some(min as u64),
        (max != 0).then_some(max.max(0) as u64),
    )
}

/// A trace id of 16 bytes as the storage seam's type.
pub(crate) fn trace_id(bytes: [u8; 16]) -> TraceId {
    TraceId(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_codes() {
        let code = |e: QueryError| status(e, "doing").code();
        assert_eq!(
            code(QueryError::Storage(StorageError::InvalidQuery("x".into()))),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            code(QueryError::Storage(StorageError::Unavailable("x".into()))),
            tonic::Code::Unavailable
        );
        assert_eq!(code(QueryError::TraceNotFound), tonic::Code::NotFound);
        let s = status(
            QueryError::Storage(StorageError::Corrupt("bad".into())),
            "doing",
        );
        assert_eq!(s.code(), tonic::Code::Internal);
        assert_eq!(s.message(), "doing: corrupt stored data: bad");
    }

    #[test]
    fn tenant_metadata_checked_like_jaeger() {
        let opts = |tenants: &[&str]| TenancyOptions {
            tenants: tenants.iter().map(|t| t.to_string()).collect(),
            ..TenancyOptions::default()
        };
        let md = |values: &[&str]| {
            let mut m = MetadataMap::new();
            for v in values {
                m.append("x-tenant", v.parse().unwrap());
            }
            m
        };
        let err = |r: Result<String, Status>| {
            let s = r.unwrap_err();
            (s.code(), s.message().to_string())
        };
        let listed = opts(&["acme", "globex"]);
        assert_eq!(valid_tenant(&listed, &md(&["acme"])).unwrap(), "acme");
        assert_eq!(
            err(valid_tenant(&listed, &md(&[]))),
            (tonic::Code::Unauthenticated, "missing tenant header".into())
        );
        assert_eq!(
            err(valid_tenant(&listed, &md(&["acme", "globex"]))),
            (tonic::Code::PermissionDenied, "extra tenant header".into())
        );
        assert_eq!(
            err(valid_tenant(&listed, &md(&["initech"]))),
            (tonic::Code::PermissionDenied, "unknown tenant".into())
        );
        // Without a list any tenant passes, as in Jaeger.
        assert_eq!(
            valid_tenant(&opts(&[]), &md(&["anyone"])).unwrap(),
            "anyone"
        );
        // Another header name is honoured.
        let custom = TenancyOptions {
            header: http::HeaderName::from_static("x-org"),
            tenants: vec![],
        };
        let mut m = MetadataMap::new();
        m.insert("x-org", "acme".parse().unwrap());
        assert_eq!(valid_tenant(&custom, &m).unwrap(), "acme");
        assert!(valid_tenant(&custom, &md(&["acme"])).is_err());
    }

    #[test]
    fn durations_bound_like_http() {
        let d = |ns: i64| Some(jaeger_proto::convert::duration_from_nanos(ns));
        assert_eq!(duration_bounds(None, None), (None, None));
        assert_eq!(
            duration_bounds(d(5).as_ref(), d(9).as_ref()),
            (Some(5), Some(9))
        );
        // A negative maximum matches nothing; a negative minimum is no bound.
        assert_eq!(
            duration_bounds(d(-5).as_ref(), d(-1).as_ref()),
            (None, Some(0))
        );
    }
}
