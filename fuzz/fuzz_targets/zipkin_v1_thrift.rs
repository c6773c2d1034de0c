//! Zipkin `/api/v1/spans` Thrift (a list of zipkincore Spans), through the v1→v2 and Zipkin→OTLP conversions.
#![no_main]
use jaeger_ingest::zipkin::{model, v1};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(spans) = v1::decode_thrift(data) {
        let _ = model::to_otlp(v1::to_v2(spans));
    }
});
