//! OTLP protobuf `ExportTraceServiceRequest`, then id validation and the OTLP→Jaeger
//! model conversion the query side applies.
#![no_main]
use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut req) = ExportTraceServiceRequest::decode(data) {
        let _ = jaeger_ingest::validate::retain_valid_spans(&mut req.resource_spans);
        let _ = jaeger_proto::convert::batches_from_otlp(&req.resource_spans);
    }
});
