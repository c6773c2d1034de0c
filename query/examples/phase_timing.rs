//! Where the time of a 10,000-span trace read goes: storage read, each standard
//! adjuster, UI JSON writing, freeing (development aid).
//!
//! ```text
//! cargo run --release -p jaeger-query --example phase_timing
//! ```

use std::time::{Duration, Instant};

use jaeger_model::{Trace, TraceId, ui};
use jaeger_query::Adjuster;
use jaeger_query::adjuster::*;
use jaeger_storage::memory::MemoryStore;
use jaeger_storage::{GetTraceParams, SpanReader, SpanWriter};

#[path = "trace_by_id_bench.rs"]
#[allow(dead_code)]
mod bench;

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let id = TraceId::from_u64s(0, 1);
    let store = MemoryStore::new(10);
    store
        .write_spans(bench::trace(id, 10_000))
        .await
        .expect("memory write");
    let steps: Vec<Box<dyn Adjuster>> = vec![
        Box::new(DeduplicateClientServerSpanIDs),
        Box::new(SortCollections),
        Box::new(DeduplicateSpans),
        Box::new(CorrectClockSkew::new(Duration::from_secs(1))),
        Box::new(SpanAttributeFixups),
    ];
    for round in 0..5 {
        let t = Instant::now();
        let mut tr: Trace = store
            .get_trace(GetTraceParams {
                trace_id: id,
                ..Default::default()
            })
            .await
            .expect("read")
            .expect("found");
        let read = t.elapsed();
        let mut per_step = Vec::new();
        for s in &steps {
            let t = Instant::now();
            s.adjust(&mut tr);
            per_step.push((s.name(), t.elapsed()));
        }
        let t = Instant::now();
        let mut body = Vec::new();
        ui::write_trace_json(&mut body, &tr.resource_spans).expect("encodable");
        let write = t.elapsed();
        let len = body.len();
        let t = Instant::now();
        drop(body);
        drop(tr);
        let free = t.elapsed();
        let adjust: Duration = per_step.iter().map(|(_, d)| *d).sum();
        println!(
            "round {round}: read {} | adjust {} | UI JSON {} ({} bytes) | free {}",
            ms(read),
            ms(adjust),
            ms(write),
            len,
            ms(free)
        );
        for (name, d) in per_step {
            println!("    {name:<32} {}", ms(d));
        }
    }
}
