//! OTLP/JSON `/v1/traces` bodies, then the id validation every receiver applies.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut req) = jaeger_ingest::otlp_json::decode_request(data) {
        let _ = jaeger_ingest::validate::retain_valid_spans(&mut req.resource_spans);
    }
});
