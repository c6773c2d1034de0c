//! Where the time of a 10,000-span trace read goes: storage read, each standard
//! adjuster, UI JSON writing, freeing (development aid). Prints the fastest and the
//! median of each phase over the rounds: on a shared machine the minimum is the
//! figure least disturbed by other processes.
//!
//! ```text
//! cargo run --release -p jaeger-query --example phase_timing [-- <rounds> [memory|embedded]]
//! ```

use std::time::{Duration, Instant};

use jaeger_model::{CowTrace, TraceId, ui};
use jaeger_query::Adjuster;
use jaeger_query::adjuster::*;
use jaeger_storage::embedded::{EmbeddedStore, EmbeddedStoreConfig};
use jaeger_storage::memory::MemoryStore;
use jaeger_storage::{GetTraceParams, SpanReader, SpanWriter};
use std::sync::Arc;

#[path = "trace_by_id_bench.rs"]
#[allow(dead_code)]
mod bench;

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let id = TraceId::from_u64s(0, 1);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store: Arc<dyn SpanReader> = match std::env::args().nth(2).as_deref() {
        Some("embedded") => {
            let s = EmbeddedStore::open(EmbeddedStoreConfig::new(dir.path())).expect("open");
            s.write_spans(bench::trace(id, 10_000))
                .await
                .expect("write");
            s
        }
        _ => {
            let s = MemoryStore::new(10);
            s.write_spans(bench::trace(id, 10_000))
                .await
                .expect("write");
            s
        }
    };
    let steps: Vec<Box<dyn Adjuster>> = vec![
        Box::new(DeduplicateClientServerSpanIDs),
        Box::new(SortCollections),
        Box::new(DeduplicateSpans),
        Box::new(CorrectClockSkew::new(Duration::from_secs(1))),
        Box::new(SpanAttributeFixups),
    ];
    let mut phases: Vec<(String, Vec<Duration>)> = Vec::new();
    let mut record = |i: usize, name: &str, d: Duration| {
        if phases.len() <= i {
            phases.push((name.to_string(), Vec::new()));
        }
        phases[i].1.push(d);
    };
    let mut len = 0;
    for _ in 0..rounds {
        // As `QueryService::write_adjusted` serves it: the stored trace lent (or
        // handed over), adjusted through a copy-on-write view, written, then freed.
        let t = Instant::now();
        let stored = store
            .get_trace_shared(GetTraceParams {
                trace_id: id,
                ..Default::default()
            })
            .await
            .expect("read")
            .expect("found");
        record(0, "storage read", t.elapsed());
        let mut view = CowTrace::borrowed(stored.resource_spans());
        let mut adjust = Duration::ZERO;
        for (i, s) in steps.iter().enumerate() {
            let t = Instant::now();
            s.adjust_cow(&mut view);
            let d = t.elapsed();
            adjust += d;
            record(i + 1, s.name(), d);
        }
        record(steps.len() + 1, "adjusters (all)", adjust);
        let t = Instant::now();
        let mut body = Vec::new();
        ui::write_trace_json(&mut body, &view.resource_spans).expect("encodable");
        record(steps.len() + 2, "UI JSON", t.elapsed());
        len = body.len();
        let t = Instant::now();
        drop(body);
        drop(view);
        drop(stored);
        record(steps.len() + 3, "free", t.elapsed());
    }
    println!("{rounds} rounds, 10,000 spans, {len} bytes of JSON");
    println!("{:<68} {:>9} {:>9}", "phase", "min ms", "median ms");
    for (name, mut ds) in phases {
        ds.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{name:<68} {:>9.2} {:>9.2}",
            ms(ds[0]),
            ms(ds[ds.len() / 2])
        );
    }
}
