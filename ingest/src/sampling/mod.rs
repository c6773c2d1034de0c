//! Remote sampling: the strategies file, the provider that reloads it, and the HTTP and
//! gRPC endpoints SDKs poll (ingest spec §3), and adaptive sampling (off by default).

pub mod adaptive;
pub mod grpc;
pub mod http;
pub mod provider;
pub mod strategies;

#[cfg(test)]
mod adaptive_tests;
#[cfg(test)]
mod tests;

pub use grpc::{SamplingGrpcService, serve_sampling_grpc};
pub use http::{collector_sampling_router, sampling_http_router, serve_sampling_http};
pub use provider::{FileProviderOptions, StrategyProvider};
pub use strategies::{DEFAULT_SAMPLING_PROBABILITY, Strategies, StrategiesError};

/// Sampling strategy requests served. Label `transport`: `http`, `http_legacy`, `grpc`.
pub const SAMPLING_REQUESTS: &str = "jaeger_sampling_requests_total";

fn sampling_request(transport: &'static str) {
    metrics::counter!(SAMPLING_REQUESTS, "transport" => transport).increment(1);
}
