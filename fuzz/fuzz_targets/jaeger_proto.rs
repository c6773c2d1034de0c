//! Jaeger gRPC `PostSpansRequest` (model.proto), through the Jaeger→OTLP conversion.
#![no_main]
use jaeger_proto::api_v2::PostSpansRequest;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = PostSpansRequest::decode(data)
        && let Some(batch) = req.batch
    {
        let _ = jaeger_proto::convert::batch_to_otlp(&batch);
    }
});
