//! OTLP protobuf `ExportTraceServiceRequest`: the receivers' hand-written decoder
//! (`jaeger_ingest::otlp_proto`) must yield exactly what prost yields and fail where it
//! fails (a difference is a crash); then id validation and the OTLP→Jaeger model
//! conversion the query side applies.
#![no_main]
use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let ours = jaeger_ingest::otlp_proto::decode_request(data);
    let theirs = ExportTraceServiceRequest::decode(data);
    match (ours, theirs) {
        (Ok(a), Ok(b)) => {
            // Compared through the encoding, which keeps NaN payloads.
            assert!(
                a.encode_to_vec() == b.encode_to_vec(),
                "decoders differ:\nours {a:?}\nprost {b:?}"
            );
            let mut req = a;
            let _ = jaeger_ingest::validate::retain_valid_spans(&mut req.resource_spans);
            let _ = jaeger_proto::convert::batches_from_otlp(&req.resource_spans);
        }
        (Err(_), Err(_)) => {}
        (ours, theirs) => panic!("outcomes differ: ours {ours:?}, prost {theirs:?}"),
    }
});
