//! Zipkin `/api/v2/spans` protobuf (zipkin.proto3 ListOfSpans), through the Zipkin→OTLP conversion.
#![no_main]
use jaeger_ingest::zipkin::{model, v2};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(spans) = v2::decode_proto(data) {
        let _ = model::to_otlp(spans);
    }
});
