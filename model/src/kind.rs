//! Span kinds by the names Jaeger uses in its APIs (`server`, `client`, ...).

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

/// Conversions between OTLP `SpanKind` numbers and Jaeger's lowercase names.
pub trait SpanKindName {
    /// `""` for UNSPECIFIED.
    fn jaeger_name(&self) -> &'static str;
}

impl SpanKindName for SpanKind {
    fn jaeger_name(&self) -> &'static str {
        match self {
            SpanKind::Unspecified => "",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }
}

/// Name for a raw OTLP kind number; unknown numbers are treated as unspecified.
pub fn kind_name(kind: i32) -> &'static str {
    SpanKind::try_from(kind)
        .unwrap_or(SpanKind::Unspecified)
        .jaeger_name()
}

/// Parses a Jaeger kind name (case-insensitive); `None` when unknown.
pub fn parse_kind(name: &str) -> Option<SpanKind> {
    Some(match name.to_ascii_lowercase().as_str() {
        "" | "unspecified" => SpanKind::Unspecified,
        "internal" => SpanKind::Internal,
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        _ => return None,
    })
}
