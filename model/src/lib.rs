//! The span model shared by every role.
//!
//! Internally a trace is OTLP-shaped (`ResourceSpans` → `ScopeSpans` → `Span`), as in
//! Jaeger v2: every receiver converts to it at the edge and every API converts from it.
//! This crate does no I/O.

pub mod cow;
pub mod gojson;
pub mod ids;
pub mod kind;
pub mod otlp_json;
pub mod otlp_json_decode;
pub mod otlp_proto;
pub mod parallel;
pub mod sanitize;
pub mod testing;
pub mod trace;
pub mod ui;

pub use cow::CowTrace;
pub use ids::{IdError, SpanId, TraceId};
pub use kind::SpanKindName;
pub use trace::{SpanRef, Trace};

/// The OTLP protobuf types, re-exported so that other crates name one version.
pub mod otlp {
    pub use opentelemetry_proto::tonic::collector::trace::v1 as collector;
    pub use opentelemetry_proto::tonic::common::v1 as common;
    pub use opentelemetry_proto::tonic::resource::v1 as resource;
    pub use opentelemetry_proto::tonic::trace::v1 as trace;

    pub use common::{AnyValue, InstrumentationScope, KeyValue, any_value::Value};
    pub use resource::Resource;
    pub use trace::{ResourceSpans, ScopeSpans, Span, Status, span::Event, span::Link};
}

/// Resource attribute holding the service name.
pub const SERVICE_NAME: &str = "service.name";
/// Span attribute carrying adjuster and sanitizer warnings (a string array).
pub const WARNINGS_ATTRIBUTE: &str = "@jaeger@warnings";
