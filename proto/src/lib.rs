//! Jaeger's protobuf IDL, compiled from our own `.proto` files (see `idl/`).

/// `jaeger.api_v2`: the span model, collector, query and sampling services.
pub mod api_v2 {
    tonic::include_proto!("jaeger.api_v2");

    /// `jaeger.api_v2.metrics`: the OpenMetrics model of the SPM API.
    pub mod metrics {
        tonic::include_proto!("jaeger.api_v2.metrics");
    }
}

/// `jaeger.api_v3`: the OTLP-based query service.
pub mod api_v3 {
    tonic::include_proto!("jaeger.api_v3");
}

/// `jaeger.expression.v1`: structured search filters (experimental).
pub mod expression {
    pub mod v1 {
        tonic::include_proto!("jaeger.expression.v1");
    }
}

/// `jaeger.storage.v2`: the remote storage API.
pub mod storage {
    pub mod v2 {
        tonic::include_proto!("jaeger.storage.v2");
    }
}

/// Encoded `FileDescriptorSet` of every file above and its imports (OTLP, Google
/// well-known types), for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/jaeger_descriptor.bin"));

pub mod convert;

#[cfg(test)]
mod tests;
