//! The query service's gRPC side (port 16685): `jaeger.api_v2.QueryService` and
//! `jaeger.api_v3.QueryService`, plus `grpc.health.v1.Health` and server reflection.
//!
//! Both services read through the same [`QueryService`] as the HTTP API (archive
//! fallback, `max_trace_size`, adjusters), so gRPC and HTTP return the same traces.
//! Errors map once, in [`status`]: bad parameters → INVALID_ARGUMENT, missing traces →
//! NOT_FOUND, storage failures → INTERNAL (UNAVAILABLE when storage asks to retry).

mod api_v2;
mod api_v3;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use jaeger_model::{Trace, TraceId};
use jaeger_proto::api_v2::query_service_server::QueryServiceServer as V2Server;
use jaeger_proto::api_v3::query_service_server::QueryServiceServer as V3Server;
use jaeger_storage::{DependencyStore, StorageError};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;

use crate::QueryState;
use crate::service::{QueryError, QueryService};

pub use api_v2::QueryV2;
pub use api_v3::QueryV3;

/// What the gRPC handlers share.
#[derive(Clone)]
pub struct GrpcQueryState {
    pub service: QueryService,
    pub dependencies: Arc<dyn DependencyStore>,
}

impl GrpcQueryState {
    pub fn new(service: QueryService, dependencies: Arc<dyn DependencyStore>) -> Self {
        GrpcQueryState {
            service,
            dependencies,
        }
    }

    /// The same storage, archive and adjusters as the HTTP router of `state`.
    pub fn from_query_state(state: &QueryState) -> Self {
        Self::new(state.query_service(), state.dependencies.clone())
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
