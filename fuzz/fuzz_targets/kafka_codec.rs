//! Kafka message payloads (`jaeger_ingest::kafka::codec`): the first byte picks one of
//! the seven encodings the ingester reads, the rest is the payload. A decoded batch is
//! re-encoded in the encodings the exporter writes (as a collector → Kafka → ingester
//! chain would) and read back.
#![no_main]
use jaeger_ingest::kafka::codec::{self, Encoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let encoding = Encoding::ALL[usize::from(selector) % Encoding::ALL.len()];
    let Ok(batch) = codec::decode(encoding, payload) else {
        return;
    };
    for out in Encoding::ALL.into_iter().filter(|e| e.can_encode()) {
        if let Ok(messages) = codec::encode(out, &batch, 1 << 20) {
            for m in messages {
                let _ = codec::decode(out, &m.payload);
            }
        }
    }
});
