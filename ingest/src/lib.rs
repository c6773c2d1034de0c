//! Span ingest: the receivers and the bounded queue in front of storage.
//!
//! Data flows receiver → decode (off the async workers when large) → id validation →
//! [`SpanQueue::submit`] (sanitize, byte-bounded queue, group-committed storage write)
//! → answer. A client is answered only after storage returned, so an acknowledged span
//! is stored; overload and storage failure answer "retry later" (gRPC `UNAVAILABLE`,
//! HTTP 503 + `Retry-After`).
//!
//! Wiring, as the binary does it:
//!
//! ```ignore
//! let queue = SpanQueue::new(&config.queue, storage.writer.clone());
//! tokio::spawn(serve_otlp_grpc(grpc_listener, queue.clone(), config.otlp.max_grpc_message_bytes, stop.clone()));
//! tokio::spawn(serve_otlp_http(http_listener, queue.clone(), config.otlp.max_request_body_bytes, stop.clone()));
//! tokio::spawn(serve_jaeger_grpc(listener_14250, queue.clone(), max_grpc_message_bytes, stop.clone()));
//! tokio::spawn(serve_jaeger_http(listener_14268, queue.clone(), max_request_body_bytes, stop.clone()));
//! tokio::spawn(serve_zipkin(listener_9411, queue.clone(), max_request_body_bytes, stop.clone()));
//! tokio::spawn(serve_jaeger_udp(udp_6831, ThriftProtocol::Compact, queue.clone(), stop.clone()));
//! tokio::spawn(serve_jaeger_udp(udp_6832, ThriftProtocol::Binary, queue.clone(), stop));
//! // on shutdown: stop the servers first, then
//! queue.shutdown().await;
//! ```

// Without the `server` feature only the decoders and the id validation are built (no
// storage, config or HTTP server crates): what the fuzz targets (fuzz/) link.
#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
mod http_body;
#[cfg(feature = "server")]
pub mod jaeger_grpc;
#[cfg(feature = "server")]
pub mod jaeger_http;
pub mod jaeger_thrift;
#[cfg(feature = "server")]
pub mod jaeger_udp;
pub mod kafka;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod otlp_grpc;
#[cfg(feature = "server")]
pub mod otlp_http;
pub mod otlp_json;
pub use jaeger_model::otlp_proto;
#[cfg(feature = "server")]
pub mod queue;
#[cfg(feature = "server")]
pub mod sampling;
#[cfg(feature = "server")]
#[doc(hidden)]
pub mod test_delay;
pub mod validate;
pub mod zipkin;

#[cfg(test)]
pub(crate) mod test_support;

#[cfg(feature = "server")]
pub use error::IngestError;
#[cfg(feature = "server")]
pub use jaeger_grpc::{JaegerGrpcService, serve_jaeger_grpc};
#[cfg(feature = "server")]
pub use jaeger_http::{jaeger_http_router, serve_jaeger_http};
pub use jaeger_thrift::ThriftProtocol;
#[cfg(feature = "server")]
pub use jaeger_udp::{UdpOptions, UdpStats, serve_jaeger_udp, serve_jaeger_udp_with};
#[cfg(feature = "server")]
pub use otlp_grpc::{OtlpGrpcService, serve_otlp_grpc};
#[cfg(feature = "server")]
pub use otlp_http::{otlp_http_router, serve_otlp_http};
#[cfg(feature = "server")]
pub use queue::SpanQueue;
#[cfg(feature = "server")]
pub use zipkin::{serve_zipkin, zipkin_router};
