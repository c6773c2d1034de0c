//! `scan_spans` for the embedded store: a sequential read of every block of the time
//! partitions that can hold spans starting in the window.
//!
//! A block's raw content is a concatenation of OTLP `TracesData` encodings, which protobuf
//! decodes as one message holding all its chunks. Blocks are read one at a time on a
//! blocking thread and the matching spans are sent in chunks through a bounded channel, so
//! memory stays at a few blocks plus the channel's chunks whatever the window holds.

use jaeger_model::otlp::ResourceSpans;
use tokio::sync::mpsc::Sender;

use super::{Inner, chunk};
use crate::memory::retain_spans_in_window;
use crate::{Result, UnixNanos};

/// Spans per chunk sent to the sink.
const SCAN_CHUNK_SPANS: usize = 4096;

/// Runs on a blocking thread; returns when done or when the receiver hung up.
pub(crate) fn scan_spans(
    inner: &Inner,
    start: UnixNanos,
    end: UnixNanos,
    sink: &Sender<Vec<ResourceSpans>>,
) -> Result<()> {
    let (lo_us, hi_us) = (start / 1000, end.div_ceil(1000));
    let mut pending: Vec<ResourceSpans> = Vec::new();
    let mut pending_spans = 0usize;
    for p in inner.partitions_snapshot() {
        let stats = *p.stats.lock().expect("stats lock");
        if !stats.overlaps(lo_us, hi_us) {
            continue;
        }
        for kv in p.data.iter() {
            let (_, value) = kv.into_inner()?;
            let raw = chunk::decode_block(&value)?;
            let len = u32::try_from(raw.len())
                .map_err(|_| crate::StorageError::Corrupt("block over 4 GiB".into()))?;
            let mut spans = chunk::decode_range(&raw, 0, len)?;
            pending_spans += retain_spans_in_window(&mut spans, start, end);
            pending.append(&mut spans);
            if pending_spans >= SCAN_CHUNK_SPANS {
                pending_spans = 0;
                if sink.blocking_send(std::mem::take(&mut pending)).is_err() {
                    return Ok(());
                }
            }
        }
    }
    if pending_spans > 0 {
        let _ = sink.blocking_send(pending);
    }
    Ok(())
}
