//! Phase 2 of the job: the DataFusion plan that turns one run's rows into link counts.
//!
//! Two SQL stages (see `docs/dependencies-job.md` for the rules):
//! 1. `node`: one row per (trace, span id) from every row that names a span — the span
//!    itself, its parent, its links — with what its halves are (server side, client side:
//!    a Zipkin shared span has both) and how often it is referenced. Duplicated spans and
//!    a parent named twice collapse here. The result is materialized for stage 2.
//! 2. `node JOIN node` on the parent id, and the deduplicated links `JOIN node`: each row
//!    gets an outcome code; plus one row per node for shared spans and `peer.service`
//!    leaves. A final aggregate counts them per (outcome, parent, child, clock skew).
//!
//! The plan never follows reference chains, so no input can make it loop, and no join
//! can fan out: `node` has one row per key.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::catalog::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::JobError;
use super::rows::{CLIENT_SIDE, LINKS_SCHEMA, SPANS_SCHEMA};

/// Outcome codes of the plan.
pub(crate) mod outcome {
    /// Nothing to count: an ordinary span, or a same-service in-process parent.
    pub const NONE: i64 = 0;
    /// Parent → child across services (child-of, follows-from, messaging link).
    pub const EDGE: i64 = 1;
    /// Zipkin shared span: client half's service → server half's service.
    pub const SHARED: i64 = 2;
    /// Client/producer leaf with `peer.service`: service → peer service.
    pub const PEER: i64 = 3;
    /// A call from a service to itself (crosses a process boundary).
    pub const SELF_CALL: i64 = 4;
    /// A child-of or follows-from reference to a span not in the window.
    pub const MISSING_PARENT: i64 = 5;
    /// A plain span link to a span not in the window.
    pub const UNRESOLVED_LINK: i64 = 6;
    /// The parent span is there but has no service name.
    pub const ORPHANED: i64 = 7;
    /// A span referencing itself, or two spans that are each other's parent.
    pub const CYCLE: i64 = 8;
    /// A plain span link that is not consumer → producer.
    pub const IGNORED_LINK: i64 = 9;
    /// The referencing span has no service name (already counted per span).
    pub const NO_SERVICE: i64 = 10;
    /// Same service, no process boundary: an in-process child, not a call.
    pub const IN_PROCESS: i64 = 11;
}

/// What the plan needs besides the rows.
#[derive(Clone, Debug)]
pub(crate) struct PlanOptions {
    pub peer_service: bool,
    pub large_trace_spans: u64,
    pub batch_size: usize,
    pub memory_limit: Option<usize>,
}

/// One row of the plan's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OutcomeRow {
    pub outcome: i64,
    pub parent: u32,
    pub child: u32,
    pub skewed: bool,
    pub count: u64,
}

/// Result of one run.
#[derive(Debug, Default)]
pub(crate) struct RunResult {
    pub rows: Vec<OutcomeRow>,
    pub traces: u64,
    pub large_traces: u64,
    /// Times the rows were halved because the plan ran out of memory.
    pub splits: u64,
    /// Pieces the spilling sort-merge plan finished after the hash-join plan ran out of memory.
    pub sort_merge_runs: u64,
}

/// Stage 1: one row per span id (`node`), from the spans and every reference to them.
///
/// - The server half (server, consumer, internal, unspecified) and the client half
///   (client, producer) come from `min(v)` and `max(v)` (see `rows::pack_half`): a Zipkin
///   shared span has both. As a parent a node is its server half; as a child its client
///   half, whose parent is the caller (the server half names the same parent and is not
///   counted twice).
/// - `refd` counts the references that make a node not a leaf.
///
/// Plain aggregates over plain columns (no `CASE`): this is the widest step of the job.
const NODE_SQL: &str = r#"
SELECT t, s, count(v) AS n_spans, min(v) AS vmin, max(v) AS vmax, max(peer) AS peer,
    min(start) AS n_start, min(p) AS pp, count(w) AS refd
FROM (
    SELECT t, s, v, peer, start, p, arrow_cast(NULL, 'UInt8') AS w FROM spans
    UNION ALL
    SELECT t, p AS s, arrow_cast(NULL, 'UInt64') AS v, arrow_cast(NULL, 'UInt32') AS peer,
        arrow_cast(NULL, 'UInt64') AS start, arrow_cast(NULL, 'UInt64') AS p,
        arrow_cast(1, 'UInt8') AS w
    FROM spans WHERE p IS NOT NULL
    UNION ALL
    SELECT t, s, arrow_cast(NULL, 'UInt64') AS v, arrow_cast(NULL, 'UInt32') AS peer,
        arrow_cast(NULL, 'UInt64') AS start, arrow_cast(NULL, 'UInt64') AS p,
        CASE WHEN rt IN (1, 2) OR (rt = 3 AND kind = 5) THEN arrow_cast(1, 'UInt8') END AS w
    FROM links
)
GROUP BY t, s
"#;

/// Decodes stage 1's packed halves into the columns stage 2 reads.
fn decode_node(batch: &RecordBatch) -> Result<RecordBatch, JobError> {
    use datafusion::arrow::array::{UInt8Array, UInt32Array, UInt64Array};
    use datafusion::arrow::datatypes::{Field, Schema, UInt64Type};

    let u64_col = |name: &str| -> Result<UInt64Array, JobError> {
        let col = batch
            .column_by_name(name)
            .ok_or_else(|| DataFusionError::Internal(format!("stage 1 lost column {name}")))?;
        Ok(cast(col, &DataType::UInt64)?
            .as_primitive::<UInt64Type>()
            .clone())
    };
    let (t, s, n_spans, vmin, vmax) = (
        u64_col("t")?,
        u64_col("s")?,
        u64_col("n_spans")?,
        u64_col("vmin")?,
        u64_col("vmax")?,
    );
    let (peer, n_start, pp, refd) = (
        u64_col("peer")?,
        u64_col("n_start")?,
        u64_col("pp")?,
        u64_col("refd")?,
    );
    let rows = batch.num_rows();
    let (mut srv_svc, mut srv_kind, mut cli_svc, mut cli_kind) = (
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
    );
    let half = |v: u64| (((v & !CLIENT_SIDE) >> 8) as u32, (v & 0xff) as u8);
    for i in 0..rows {
        let server =
            (!vmin.is_null(i) && vmin.value(i) & CLIENT_SIDE == 0).then(|| half(vmin.value(i)));
        let client =
            (!vmax.is_null(i) && vmax.value(i) & CLIENT_SIDE != 0).then(|| half(vmax.value(i)));
        srv_svc.push(server.map(|h| h.0));
        srv_kind.push(server.map(|h| h.1));
        cli_svc.push(client.map(|h| h.0));
        cli_kind.push(client.map(|h| h.1));
    }
    let u32_of =
        |a: &UInt64Array| -> UInt32Array { a.iter().map(|v| v.map(|v| v as u32)).collect() };
    let schema = Arc::new(Schema::new(vec![
        Field::new("t", DataType::UInt64, false),
        Field::new("s", DataType::UInt64, false),
        Field::new("n_spans", DataType::UInt32, false),
        Field::new("srv_svc", DataType::UInt32, true),
        Field::new("srv_kind", DataType::UInt8, true),
        Field::new("cli_svc", DataType::UInt32, true),
        Field::new("cli_kind", DataType::UInt8, true),
        Field::new("cli_peer", DataType::UInt32, true),
        Field::new("n_start", DataType::UInt64, true),
        Field::new("pp", DataType::UInt64, true),
        Field::new("refd", DataType::UInt32, false),
    ]));
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(t),
            Arc::new(s),
            Arc::new(u32_of(&n_spans)),
            Arc::new(UInt32Array::from(srv_svc)),
            Arc::new(UInt8Array::from(srv_kind)),
            Arc::new(UInt32Array::from(cli_svc)),
            Arc::new(UInt8Array::from(cli_kind)),
            Arc::new(u32_of(&peer)),
            Arc::new(n_start),
            Arc::new(pp),
            Arc::new(u32_of(&refd)),
        ],
    )?)
}

/// Service ids must fit the 29 bits [`outcomes_sql`] packs them in.
pub(crate) const MAX_SERVICE_IDS: usize = 1 << 29;

/// Stage 2: outcome counts from `node` (materialized) and `links`.
fn outcomes_sql(peer_service: bool) -> String {
    use outcome::*;
    format!(
        r#"
WITH e AS (
    -- parent ids: each child node joined with its parent node
    SELECT c.t, c.s AS c_s, c.t AS ct, arrow_cast(1, 'UInt8') AS rt,
        coalesce(c.cli_svc, c.srv_svc) AS c_svc,
        CASE WHEN c.cli_svc IS NOT NULL THEN c.cli_kind ELSE c.srv_kind END AS c_kind,
        c.n_start AS c_start,
        n.s AS p_s, n.n_spans, n.srv_svc, n.srv_kind, n.cli_svc, n.cli_kind, n.n_start, n.pp
    FROM node c JOIN node n ON n.t = c.t AND n.s = c.pp
    UNION ALL
    -- span links, one per (target, linking span)
    SELECT l.t, l.c AS c_s, l.ct, l.rt, l.svc AS c_svc, l.kind AS c_kind, l.start AS c_start,
        n.s AS p_s, n.n_spans, n.srv_svc, n.srv_kind, n.cli_svc, n.cli_kind, n.n_start, n.pp
    FROM (SELECT t, s, c, ct, min(rt) AS rt, min(svc) AS svc, max(kind) AS kind,
                 min(start) AS start
          FROM links GROUP BY t, s, c, ct) l
    JOIN node n ON n.t = l.t AND n.s = l.s
),
o AS (
    SELECT
        CASE
            WHEN n_spans = 0 THEN CASE WHEN rt = 3 THEN {UNRESOLVED_LINK} ELSE {MISSING_PARENT} END
            WHEN c_s = p_s AND ct = t THEN {CYCLE}
            WHEN rt = 1 AND ct = t AND pp = c_s THEN {CYCLE}
            WHEN rt = 3 AND NOT (c_kind = 5 AND cli_kind = 4) THEN {IGNORED_LINK}
            WHEN c_svc = 0 THEN {NO_SERVICE}
            WHEN coalesce(srv_svc, cli_svc) = 0 THEN {ORPHANED}
            WHEN coalesce(srv_svc, cli_svc) <> c_svc THEN {EDGE}
            WHEN c_kind IN (2, 5)
                OR (CASE WHEN srv_svc IS NOT NULL THEN srv_kind ELSE cli_kind END) IN (3, 4)
                THEN {SELF_CALL}
            ELSE {IN_PROCESS}
        END AS outcome,
        coalesce(srv_svc, cli_svc) AS parent,
        c_svc AS child,
        (rt = 1 AND n_spans > 0 AND c_start < n_start) AS skewed
    FROM e
    UNION ALL
    -- per span id: Zipkin shared spans and peer.service leaves
    SELECT
        CASE
            WHEN srv_svc IS NOT NULL AND cli_svc IS NOT NULL THEN
                CASE WHEN srv_svc = 0 OR cli_svc = 0 THEN {NO_SERVICE}
                     WHEN srv_svc = cli_svc THEN {SELF_CALL}
                     ELSE {SHARED} END
            WHEN {peer_service} AND srv_svc IS NULL AND cli_peer > 0 AND refd = 0 THEN
                CASE WHEN cli_svc = 0 THEN {NO_SERVICE}
                     WHEN cli_svc = cli_peer THEN {SELF_CALL}
                     ELSE {PEER} END
            ELSE {NONE}
        END AS outcome,
        cli_svc AS parent,
        CASE WHEN srv_svc IS NOT NULL THEN srv_svc ELSE cli_peer END AS child,
        false AS skewed
    FROM node
    WHERE n_spans > 0 AND cli_svc IS NOT NULL
)
-- One UInt64 key per (outcome, skew, parent, child): a single-column group-by is the fast one.
SELECT
    arrow_cast(outcome, 'Int64') * 576460752303423488
    + (CASE WHEN skewed AND outcome IN ({EDGE}, {SELF_CALL}, {IN_PROCESS}) THEN 288230376151711744 ELSE 0 END)
    + (CASE WHEN outcome IN ({EDGE}, {SHARED}, {PEER}, {SELF_CALL})
            THEN arrow_cast(parent, 'Int64') * 536870912 + arrow_cast(child, 'Int64') ELSE 0 END)
    AS k,
    count(*) AS n
FROM o
GROUP BY 1
"#
    )
}

fn traces_sql(large: u64) -> String {
    format!(
        "SELECT count(*) AS traces, sum(CASE WHEN n >= {large} THEN 1 ELSE 0 END) AS large \
         FROM (SELECT t, count(*) AS n FROM spans GROUP BY t)"
    )
}

fn session(
    runtime: &Arc<RuntimeEnv>,
    opts: &PlanOptions,
    prefer_hash_join: bool,
) -> SessionContext {
    // One partition per plan: no `RepartitionExec`. DataFusion 55's repartition spills to a
    // shared spill pool when the memory pool refuses, and under a tight pool its reader can
    // wait on a file no writer will finish while the writers wait on it (every thread
    // parked, the run hangs). The rows are already hash partitioned by trace, so the job
    // gets its parallelism by running several runs at once instead (`run_concurrently`).
    let mut config = SessionConfig::new()
        .with_target_partitions(1)
        .with_batch_size(opts.batch_size.max(1024));
    let options = config.options_mut();
    options.optimizer.prefer_hash_join = prefer_hash_join;
    if let Some(limit) = opts.memory_limit {
        // The default (10 MiB per sort) alone overflows a small pool.
        let reserve = &mut options.execution.sort_spill_reservation_bytes;
        *reserve = (*reserve).min(limit / 16);
    }
    SessionContext::new_with_config_rt(config, runtime.clone())
}

fn register(
    ctx: &SessionContext,
    spans: &[RecordBatch],
    links: &[RecordBatch],
    partitions: usize,
) -> Result<(), JobError> {
    let split = |batches: &[RecordBatch]| rebalance(vec![batches.to_vec()], partitions);
    ctx.register_table(
        "spans",
        Arc::new(MemTable::try_new(SPANS_SCHEMA.clone(), split(spans))?),
    )?;
    ctx.register_table(
        "links",
        Arc::new(MemTable::try_new(LINKS_SCHEMA.clone(), split(links))?),
    )?;
    Ok(())
}

pub(crate) fn is_out_of_memory(err: &DataFusionError) -> bool {
    matches!(err.find_root(), DataFusionError::ResourcesExhausted(_))
}

fn i64_column(batch: &RecordBatch, idx: usize) -> Result<Vec<i64>, JobError> {
    let col = cast(batch.column(idx), &DataType::Int64)?;
    let arr = col.as_primitive::<Int64Type>();
    Ok((0..arr.len())
        .map(|i| if arr.is_null(i) { 0 } else { arr.value(i) })
        .collect())
}

async fn run_links(
    ctx: &SessionContext,
    peer_service: bool,
    partitions: usize,
) -> Result<Vec<OutcomeRow>, DataFusionError> {
    let node = ctx.sql(NODE_SQL).await?.collect_partitioned().await?;
    let mut decoded = Vec::with_capacity(node.len());
    for part in node {
        let mut out = Vec::with_capacity(part.len());
        for b in &part {
            out.push(decode_node(b).map_err(|e| DataFusionError::External(Box::new(e)))?);
        }
        decoded.push(out);
    }
    let schema = match decoded.iter().flatten().next() {
        Some(b) => b.schema(),
        None => return Ok(Vec::new()),
    };
    ctx.register_table(
        "node",
        Arc::new(MemTable::try_new(schema, rebalance(decoded, partitions))?),
    )?;
    let batches = ctx
        .sql(&outcomes_sql(peer_service))
        .await?
        .collect()
        .await?;
    ctx.deregister_table("node")?;
    let mut rows = Vec::new();
    for b in &batches {
        let conv = |idx| i64_column(b, idx).map_err(|e| DataFusionError::External(Box::new(e)));
        let (k, n) = (conv(0)?, conv(1)?);
        for i in 0..b.num_rows() {
            let key = k[i];
            rows.push(OutcomeRow {
                outcome: key >> 59,
                skewed: (key >> 58) & 1 == 1,
                parent: ((key >> 29) & 0x1fff_ffff) as u32,
                child: (key & 0x1fff_ffff) as u32,
                count: u64::try_from(n[i]).unwrap_or(0),
            });
        }
    }
    Ok(rows)
}

/// Spreads batches over `partitions` lists so the next stage scans in parallel.
fn rebalance(parts: Vec<Vec<RecordBatch>>, partitions: usize) -> Vec<Vec<RecordBatch>> {
    let n = partitions.max(1);
    let mut out = vec![Vec::new(); n];
    for (i, b) in parts.into_iter().flatten().enumerate() {
        out[i % n].push(b);
    }
    out
}

async fn run_traces(ctx: &SessionContext, large: u64) -> Result<(u64, u64), JobError> {
    let batches = ctx.sql(&traces_sql(large)).await?.collect().await?;
    let mut traces = 0;
    let mut large_traces = 0;
    for b in &batches {
        traces += i64_column(b, 0)?.iter().sum::<i64>();
        large_traces += i64_column(b, 1)?.iter().sum::<i64>();
    }
    Ok((
        u64::try_from(traces).unwrap_or(0),
        u64::try_from(large_traces).unwrap_or(0),
    ))
}

fn total_rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

type Rows = (Vec<RecordBatch>, Vec<RecordBatch>);

/// Splits rows in two by one bit of the trace key. Both tables are keyed by the trace
/// whose spans a row joins with, so each half is self-contained.
fn split_by_bit(
    spans: &[RecordBatch],
    links: &[RecordBatch],
    bit: u32,
) -> Result<(Rows, Rows), JobError> {
    use datafusion::arrow::array::BooleanArray;
    use datafusion::arrow::compute::filter_record_batch;
    use datafusion::arrow::datatypes::UInt64Type;

    let halves =
        |batches: &[RecordBatch]| -> Result<(Vec<RecordBatch>, Vec<RecordBatch>), JobError> {
            let mut low = Vec::new();
            let mut high = Vec::new();
            for b in batches {
                let t = b.column(0).as_primitive::<UInt64Type>();
                let mask: BooleanArray = t
                    .values()
                    .iter()
                    .map(|k| Some((k >> bit) & 1 == 1))
                    .collect();
                let hi = filter_record_batch(b, &mask)?;
                let lo = filter_record_batch(b, &datafusion::arrow::compute::not(&mask)?)?;
                if lo.num_rows() > 0 {
                    low.push(lo);
                }
                if hi.num_rows() > 0 {
                    high.push(hi);
                }
            }
            Ok((low, high))
        };
    let (spans_lo, spans_hi) = halves(spans)?;
    let (links_lo, links_hi) = halves(links)?;
    Ok(((spans_lo, links_lo), (spans_hi, links_hi)))
}

async fn attempt(
    runtime: &Arc<RuntimeEnv>,
    spans: &[RecordBatch],
    links: &[RecordBatch],
    opts: &PlanOptions,
    prefer_hash_join: bool,
) -> Result<RunResult, JobError> {
    let ctx = session(runtime, opts, prefer_hash_join);
    register(&ctx, spans, links, 1)?;
    let rows = run_links(&ctx, opts.peer_service, 1).await?;
    drop(ctx);
    let ctx = session(runtime, opts, prefer_hash_join);
    register(&ctx, spans, &[], 1)?;
    let (traces, large_traces) = run_traces(&ctx, opts.large_trace_spans).await?;
    Ok(RunResult {
        rows,
        traces,
        large_traces,
        ..RunResult::default()
    })
}

/// Splits rows in two non-empty halves by the first trace-key bit from `bit` on that
/// separates them (the low 32 bits: the high ones chose the partition). `None` when every
/// row has the same key bits: one trace, which no split can make smaller.
fn split(
    spans: &[RecordBatch],
    links: &[RecordBatch],
    mut bit: u32,
) -> Result<Option<(Rows, Rows, u32)>, JobError> {
    while bit < 32 {
        let (a, b) = split_by_bit(spans, links, bit)?;
        let rows = |r: &Rows| total_rows(&r.0) + total_rows(&r.1);
        if rows(&a) > 0 && rows(&b) > 0 {
            return Ok(Some((a, b, bit)));
        }
        bit += 1;
    }
    Ok(None)
}

fn job_out_of_memory(err: &JobError) -> bool {
    match err {
        JobError::DataFusion(e) => is_out_of_memory(e),
        _ => false,
    }
}

/// Runs the plan over one run's rows with hash joins (fast, in memory). When the memory
/// pool says no, the rows are halved by trace hash and each half is run alone; a piece
/// that cannot be split (one huge trace) runs with sort-merge joins, which spill.
pub(crate) async fn run_plan(
    runtime: &Arc<RuntimeEnv>,
    spans: Vec<RecordBatch>,
    links: Vec<RecordBatch>,
    opts: &PlanOptions,
) -> Result<RunResult, JobError> {
    let mut total = RunResult::default();
    let mut pending = vec![(spans, links, 0u32)];
    while let Some((spans, links, next_bit)) = pending.pop() {
        let result = match attempt(runtime, &spans, &links, opts, true).await {
            Ok(result) => result,
            Err(err) if job_out_of_memory(&err) => {
                if let Some((a, b, bit)) = split(&spans, &links, next_bit)? {
                    tracing::debug!(bit, error = %err, "run exceeded the memory pool, splitting it");
                    total.splits += 1;
                    drop((spans, links));
                    pending.push((a.0, a.1, bit + 1));
                    pending.push((b.0, b.1, bit + 1));
                    continue;
                }
                tracing::info!(error = %err, "one trace exceeded the memory pool, retrying with sort-merge joins");
                total.sort_merge_runs += 1;
                attempt(runtime, &spans, &links, opts, false).await?
            }
            Err(err) => return Err(err),
        };
        total.rows.extend(result.rows);
        total.traces += result.traces;
        total.large_traces += result.large_traces;
    }
    Ok(total)
}
