//! Time of each standard adjuster on a 10,000-span trace (development aid).
use std::time::{Duration, Instant};

use jaeger_model::Trace;
use jaeger_query::Adjuster;
use jaeger_query::adjuster::*;

#[path = "trace_by_id_bench.rs"]
#[allow(dead_code)]
mod bench;

fn main() {
    let t = Trace::new(bench::trace(jaeger_model::TraceId::from_u64s(0, 1), 10_000));
    let steps: Vec<Box<dyn Adjuster>> = vec![
        Box::new(DeduplicateClientServerSpanIDs),
        Box::new(SortCollections),
        Box::new(DeduplicateSpans),
        Box::new(CorrectClockSkew::new(Duration::from_secs(1))),
        Box::new(NormalizeIPAttributes),
        Box::new(MoveLibraryAttributes),
        Box::new(RemoveEmptySpanLinks),
    ];
    let mut cur = t.clone();
    for s in &steps {
        let mut best = Duration::MAX;
        for _ in 0..5 {
            let mut c = cur.clone();
            let start = Instant::now();
            s.adjust(&mut c);
            best = best.min(start.elapsed());
        }
        s.adjust(&mut cur);
        println!("{:<32} {:?}", s.name(), best);
    }
    let start = Instant::now();
    let _c = t.clone();
    println!("clone {:?}", start.elapsed());
}
