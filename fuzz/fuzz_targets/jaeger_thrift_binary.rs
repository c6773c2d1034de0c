//! Agent UDP datagrams (binary Thrift `emitBatch`, and the 14268 HTTP body) and their conversion to OTLP.
#![no_main]
use jaeger_ingest::jaeger_thrift::{
    ThriftProtocol, batch_to_otlp, decode_agent_message, decode_batch,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_agent_message(data, ThriftProtocol::Binary);
    if let Ok(b) = decode_batch(data, ThriftProtocol::Binary) {
        let _ = batch_to_otlp(b);
    }
});
