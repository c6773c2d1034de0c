//! Test helpers: a `SpanWriter` that records batches and can block, fail or panic on
//! demand, and batch builders.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jaeger_model::otlp::{AnyValue, KeyValue, Resource, ResourceSpans, ScopeSpans, Span, Value};
use jaeger_storage::{SpanWriter, StorageError};
use tokio::sync::watch;

pub struct RecordingWriter {
    batches: Mutex<Vec<Vec<ResourceSpans>>>,
    calls: AtomicUsize,
    gate: watch::Sender<bool>,
    started: watch::Sender<usize>,
    fail: Mutex<Option<String>>,
    panic_next: AtomicBool,
}

impl RecordingWriter {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            batches: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
            gate: watch::channel(false).0,
            started: watch::channel(0).0,
            fail: Mutex::new(None),
            panic_next: AtomicBool::new(false),
        })
    }

    /// Makes writes wait until [`Self::unblock`].
    pub fn block(&self) {
        self.gate.send_replace(true);
    }

    pub fn unblock(&self) {
        self.gate.send_replace(false);
    }

    pub fn fail_with(&self, msg: &str) {
        *self.fail.lock().expect("test lock") = Some(msg.to_owned());
    }

    pub fn panic_next(&self) {
        self.panic_next.store(true, Ordering::SeqCst);
    }

    /// Waits until at least one write call began.
    pub async fn wait_for_write_started(&self) {
        let mut rx = self.started.subscribe();
        rx.wait_for(|n| *n > 0).await.expect("sender alive");
    }

    pub fn batches(&self) -> Vec<Vec<ResourceSpans>> {
        self.batches.lock().expect("test lock").clone()
    }

    pub fn span_count(&self) -> usize {
        self.batches()
            .iter()
            .map(|b| jaeger_model::trace::span_count(b))
            .sum()
    }

    pub fn write_calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SpanWriter for RecordingWriter {
    async fn write_spans(&self, batch: Vec<ResourceSpans>) -> Result<(), StorageError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.started.send_modify(|n| *n += 1);
        let mut gate = self.gate.subscribe();
        gate.wait_for(|blocked| !*blocked)
            .await
            .expect("sender alive");
        if self.panic_next.swap(false, Ordering::SeqCst) {
            panic!("test writer asked to panic");
        }
        if let Some(msg) = self.fail.lock().expect("test lock").clone() {
            return Err(StorageError::Unavailable(msg));
        }
        self.batches.lock().expect("test lock").push(batch);
        Ok(())
    }
}

/// One resource of `service` with `n` valid spans of one trace.
pub fn spans_batch(service: &str, n: usize) -> Vec<ResourceSpans> {
    let spans = (0..n)
        .map(|i| Span {
            trace_id: vec![0xab; 16],
            span_id: ((i as u64) + 1).to_be_bytes().to_vec(),
            parent_span_id: if i == 0 {
                vec![]
            } else {
                1u64.to_be_bytes().to_vec()
            },
            name: format!("op-{i}"),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            end_time_unix_nano: 1_700_000_000_001_000_000 + i as u64,
            ..Default::default()
        })
        .collect();
    vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue {
                    value: Some(Value::StringValue(service.into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }]
}

#[cfg(test)]
mod tests {
    use jaeger_model::otlp::collector::ExportTraceServiceRequest;
    use prost::Message;

    #[test]
    fn the_bench_s_requests_decode_with_our_decoder_as_with_prost() {
        let req = ExportTraceServiceRequest {
            resource_spans: super::spans_batch("svc", 50),
        };
        let bytes = req.encode_to_vec();
        let ours = crate::otlp_proto::decode_request(&bytes).expect("decodes");
        assert_eq!(
            ours,
            ExportTraceServiceRequest::decode(&bytes[..]).expect("prost")
        );
        assert_eq!(ours, req);
    }
}
