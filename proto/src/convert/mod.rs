//! Conversions between OTLP (the internal model) and Jaeger's `api_v2` model.
//!
//! - [`from_otlp`]: OTLP → `api_v2` (contrib `ProtoFromTraces` plus Jaeger v2's
//!   v1adapter; ingest spec §2.2), for the api_v2 query service and Jaeger encodings.
//! - [`to_otlp`]: `api_v2` → OTLP (contrib `ProtoToTraces`; ingest spec §2.3), for the
//!   Jaeger gRPC collector receiver.
//!
//! Plus the id and time rules both directions share (ingest spec §2.1, IDL spec §1.4
//! and §1.5).

mod from_otlp;
pub mod gojson;
mod to_otlp;

pub use from_otlp::{batches_from_otlp, process_from_resource, span_from_otlp, spans_from_otlp};
pub use to_otlp::{batch_to_otlp, batches_to_otlp, resource_from_process};

use prost_types::{Duration, Timestamp};

/// Service name contrib gives a resource without any attribute, and reads back as "no
/// resource".
pub const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";
/// Span attribute that carries Jaeger span warnings (a string array) in OTLP.
pub const WARNINGS_ATTRIBUTE: &str = "@jaeger@warnings";
/// Resource attribute holding the service name.
pub const SERVICE_NAME: &str = "service.name";
/// Link attribute carrying the Jaeger reference type.
pub const REF_TYPE_ATTRIBUTE: &str = "opentracing.ref_type";

/// Seconds of Go's zero `time.Time` (0001-01-01T00:00:00Z), which Jaeger's Go peers
/// send for an unset Timestamp.
pub const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// A Jaeger id of the wrong size: Jaeger's decoder fails the whole message on these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("invalid length for TraceID: {0} bytes, expected 16 (or 8)")]
    TraceIdLength(usize),
    #[error("invalid length for SpanID: {0} bytes, expected 8")]
    SpanIdLength(usize),
}

/// A Jaeger proto trace id as 16 bytes: 16 bytes (High then Low) as they are, 8 bytes
/// as the Low half, none as zero.
pub fn trace_id_from_jaeger(b: &[u8]) -> Result<[u8; 16], ConvertError> {
    let mut out = [0u8; 16];
    match b.len() {
        0 => {}
        8 => out[8..].copy_from_slice(b),
        16 => out.copy_from_slice(b),
        n => return Err(ConvertError::TraceIdLength(n)),
    }
    Ok(out)
}

/// A Jaeger proto span id: 8 bytes, or none as zero.
pub fn span_id_from_jaeger(b: &[u8]) -> Result<[u8; 8], ConvertError> {
    match b.len() {
        0 => Ok([0; 8]),
        8 => Ok(b.try_into().expect("length checked")),
        n => Err(ConvertError::SpanIdLength(n)),
    }
}

/// An OTLP trace id as Jaeger always writes it: 16 bytes. A malformed stored id reads
/// as zero (pdata ids are fixed arrays, so Jaeger never sees one).
pub(crate) fn trace_id_from_otlp(b: &[u8]) -> [u8; 16] {
    trace_id_from_jaeger(b).unwrap_or_default()
}

pub(crate) fn span_id_from_otlp(b: &[u8]) -> [u8; 8] {
    span_id_from_jaeger(b).unwrap_or_default()
}

/// Nanoseconds since the epoch as a Timestamp.
pub fn timestamp_from_nanos(ns: u64) -> Timestamp {
    Timestamp {
        seconds: (ns / 1_000_000_000) as i64,
        nanos: (ns % 1_000_000_000) as i32,
    }
}

/// A received Timestamp as nanoseconds since the epoch; `None` for Go's zero time
/// (Jaeger's "unset"). Times before 1970 clamp to 0, after 2554 to `u64::MAX`.
pub fn timestamp_to_nanos(t: &Timestamp) -> Option<u64> {
    if t.seconds == GO_ZERO_TIME_SECONDS && t.nanos == 0 {
        return None;
    }
    let ns = t.seconds as i128 * NANOS_PER_SECOND + t.nanos as i128;
    Some(ns.clamp(0, u64::MAX as i128) as u64)
}

/// An optional received Timestamp: absent or Go's zero time is `None`.
pub fn opt_timestamp_to_nanos(t: Option<&Timestamp>) -> Option<u64> {
    t.and_then(timestamp_to_nanos)
}

/// Signed nanoseconds as a normalized Duration (seconds and nanos share the sign).
pub fn duration_from_nanos(ns: i64) -> Duration {
    Duration {
        seconds: ns / 1_000_000_000,
        nanos: (ns % 1_000_000_000) as i32,
    }
}

/// A received Duration as signed nanoseconds, saturating.
pub fn duration_to_nanos(d: &Duration) -> i64 {
    let ns = d.seconds as i128 * NANOS_PER_SECOND + d.nanos as i128;
    ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_jaeger_lengths() {
        assert_eq!(
            trace_id_from_jaeger(&[0, 0, 0, 0, 0, 0, 0, 7]).unwrap(),
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]
        );
        assert_eq!(trace_id_from_jaeger(&[]).unwrap(), [0; 16]);
        assert_eq!(
            trace_id_from_jaeger(&[1; 12]).unwrap_err(),
            ConvertError::TraceIdLength(12)
        );
        assert_eq!(
            span_id_from_jaeger(&[1; 9]).unwrap_err().to_string(),
            "invalid length for SpanID: 9 bytes, expected 8"
        );
        assert_eq!(trace_id_from_otlp(&[1; 3]), [0; 16]);
    }

    #[test]
    fn times_round_trip_and_go_zero_is_unset() {
        let ns = 1_706_678_909_209_712_123;
        assert_eq!(timestamp_to_nanos(&timestamp_from_nanos(ns)), Some(ns));
        let go_zero = Timestamp {
            seconds: GO_ZERO_TIME_SECONDS,
            nanos: 0,
        };
        assert_eq!(timestamp_to_nanos(&go_zero), None);
        assert_eq!(opt_timestamp_to_nanos(None), None);
        // Epoch 0 is a real time (1970), not "unset".
        assert_eq!(timestamp_to_nanos(&Timestamp::default()), Some(0));
        assert_eq!(
            timestamp_to_nanos(&Timestamp {
                seconds: -5,
                nanos: 0
            }),
            Some(0)
        );
    }

    #[test]
    fn durations_keep_sign() {
        let d = duration_from_nanos(-1_500_000_001);
        assert_eq!((d.seconds, d.nanos), (-1, -500_000_001));
        assert_eq!(duration_to_nanos(&d), -1_500_000_001);
        assert_eq!(duration_to_nanos(&duration_from_nanos(123)), 123);
    }
}
