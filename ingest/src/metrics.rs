//! The metrics ingest emits, through the `metrics` facade (the binary installs the
//! Prometheus recorder). Names follow the OTel Collector (`otelcol_receiver_*`) where
//! Jaeger v2 users have dashboards for them, and `jaeger_*` for our own queue.

use std::time::Duration;

/// Spans a receiver accepted: they were written to storage before the client was
/// answered. Labels `receiver`, `transport`.
pub const ACCEPTED_SPANS: &str = "otelcol_receiver_accepted_spans_total";
/// Spans a receiver refused: invalid, queue full, shutting down or storage failure.
/// Labels `receiver`, `transport`.
pub const REFUSED_SPANS: &str = "otelcol_receiver_refused_spans_total";
/// Duration of one storage write (one group-committed batch), in seconds.
pub const STORAGE_WRITE_LATENCY: &str = "jaeger_storage_write_latency_seconds";
/// Storage writes that failed.
pub const STORAGE_WRITE_ERRORS: &str = "jaeger_storage_write_errors_total";
/// Spans accepted into the queue and not yet acknowledged (waiting or being written).
pub const QUEUE_LENGTH: &str = "jaeger_queue_length";
/// Encoded bytes of the spans counted by [`QUEUE_LENGTH`].
pub const QUEUE_BYTES: &str = "jaeger_queue_bytes";
/// Spans the queue turned away. Label `reason`: `full` or `shutting_down`.
pub const QUEUE_REFUSED_SPANS: &str = "jaeger_queue_refused_spans_total";

/// Registers the help texts. Call once after the recorder is installed.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        ACCEPTED_SPANS,
        Unit::Count,
        "Spans successfully pushed into the pipeline and written to storage."
    );
    describe_counter!(
        REFUSED_SPANS,
        Unit::Count,
        "Spans that could not be pushed into the pipeline."
    );
    describe_histogram!(
        STORAGE_WRITE_LATENCY,
        Unit::Seconds,
        "Latency of one storage write of a batch of spans."
    );
    describe_counter!(
        STORAGE_WRITE_ERRORS,
        Unit::Count,
        "Storage writes that failed."
    );
    describe_gauge!(
        QUEUE_LENGTH,
        Unit::Count,
        "Spans accepted into the queue and not yet written."
    );
    describe_gauge!(
        QUEUE_BYTES,
        Unit::Bytes,
        "Encoded bytes of the spans in the queue."
    );
    describe_counter!(
        QUEUE_REFUSED_SPANS,
        Unit::Count,
        "Spans refused because the queue was full or shutting down."
    );
}

pub(crate) fn accepted(receiver: &'static str, transport: &'static str, spans: usize) {
    metrics::counter!(ACCEPTED_SPANS, "receiver" => receiver, "transport" => transport)
        .increment(spans as u64);
}

pub(crate) fn refused(receiver: &'static str, transport: &'static str, spans: usize) {
    if spans > 0 {
        metrics::counter!(REFUSED_SPANS, "receiver" => receiver, "transport" => transport)
            .increment(spans as u64);
    }
}

pub(crate) fn queue_refused(reason: &'static str, spans: usize) {
    metrics::counter!(QUEUE_REFUSED_SPANS, "reason" => reason).increment(spans as u64);
}

pub(crate) fn queue_level(spans: usize, bytes: usize) {
    metrics::gauge!(QUEUE_LENGTH).set(spans as f64);
    metrics::gauge!(QUEUE_BYTES).set(bytes as f64);
}

pub(crate) fn storage_write(elapsed: Duration, ok: bool) {
    metrics::histogram!(STORAGE_WRITE_LATENCY).record(elapsed.as_secs_f64());
    if !ok {
        metrics::counter!(STORAGE_WRITE_ERRORS).increment(1);
    }
}

/// Agent UDP datagrams dropped because the decode channel was full. Label `transport`.
pub const UDP_DROPPED_PACKETS: &str = "jaeger_udp_dropped_packets_total";
/// Agent UDP spans decoded but dropped because the span queue refused them. Label
/// `transport`.
pub const UDP_DROPPED_SPANS: &str = "jaeger_udp_dropped_spans_total";
/// Agent UDP datagrams that could not be used. Labels `transport`, `reason`
/// (`decode_error`, `emit_zipkin_batch`).
pub const UDP_INVALID_PACKETS: &str = "jaeger_udp_invalid_packets_total";

pub(crate) fn udp_dropped_packets(transport: &'static str) {
    metrics::counter!(UDP_DROPPED_PACKETS, "transport" => transport).increment(1);
}

pub(crate) fn udp_dropped_spans(transport: &'static str, spans: usize) {
    metrics::counter!(UDP_DROPPED_SPANS, "transport" => transport).increment(spans as u64);
}

pub(crate) fn udp_invalid_packet(transport: &'static str, reason: &'static str) {
    metrics::counter!(UDP_INVALID_PACKETS, "transport" => transport, "reason" => reason)
        .increment(1);
}
