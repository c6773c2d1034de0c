//! TEST-ONLY knob: `JAEGER_TEST_STORAGE_DELAY_MS=<ms>` makes every storage write wait
//! that long first, so end-to-end tests can overload the queue in front of a slow store
//! (tests/overload.rs). Not a user setting: it exists to prove the overload behaviour.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jaeger_storage::SpanWriter;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;

/// The environment variable read by [`maybe_slow`].
pub const STORAGE_DELAY_ENV: &str = "JAEGER_TEST_STORAGE_DELAY_MS";

struct SlowWriter {
    inner: Arc<dyn SpanWriter>,
    delay: Duration,
}

#[async_trait]
impl SpanWriter for SlowWriter {
    async fn write_spans(&self, batch: Vec<ResourceSpans>) -> jaeger_storage::Result<()> {
        tokio::time::sleep(self.delay).await;
        self.inner.write_spans(batch).await
    }
}

/// `writer`, slowed down when [`STORAGE_DELAY_ENV`] holds a positive number of ms.
pub fn maybe_slow(writer: Arc<dyn SpanWriter>) -> Arc<dyn SpanWriter> {
    let ms = std::env::var(STORAGE_DELAY_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if ms == 0 {
        return writer;
    }
    tracing::warn!("{STORAGE_DELAY_ENV}={ms}: every storage write is delayed (test-only knob)");
    Arc::new(SlowWriter {
        inner: writer,
        delay: Duration::from_millis(ms),
    })
}
