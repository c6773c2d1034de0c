//! Per-phase time of a 10,000-span trace read (development aid).
use std::time::{Duration, Instant};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use jaeger_model::{Trace, TraceId, ui};
use jaeger_storage::memory::MemoryStore;
use jaeger_storage::{GetTraceParams, SpanReader, SpanWriter};

#[path = "trace_by_id_bench.rs"]
#[allow(dead_code)]
mod bench;

#[tokio::main]
async fn main() {
    let id = TraceId::from_u64s(0, 1);
    let store = MemoryStore::new(10);
    store.write_spans(bench::trace(id, 10_000)).await.unwrap();
    let adj = jaeger_query::standard_adjusters(Duration::from_secs(1));
    for _ in 0..5 {
        let t = Instant::now();
        let mut tr: Trace = store
            .get_trace(GetTraceParams {
                trace_id: id,
                ..Default::default()
            })
            .await
            .unwrap()
            .unwrap();
        let read = t.elapsed();
        let t = Instant::now();
        adj.apply(&mut tr);
        let a = t.elapsed();
        let t = Instant::now();
        let u = ui::trace_from_otlp(&tr.resource_spans);
        let conv = t.elapsed();
        let t = Instant::now();
        let body = jaeger_model::gojson::to_vec(&[&u], false).unwrap();
        let ser = t.elapsed();
        let t = Instant::now();
        drop(u);
        drop(tr);
        let dr = t.elapsed();
        println!(
            "read {read:?} adjust {a:?} convert {conv:?} serialize {ser:?} drop {dr:?} ({} bytes)",
            body.len()
        );
    }
}
