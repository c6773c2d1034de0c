//! Phase 2 of the job: the DataFusion plan that turns one run's rows into link counts.
//!
//! Two SQL stages (see `docs/dependencies-job.md` for the rules):
//! 1. `node`: one row per span key (trace, span id): its halves (server side, client
//!    side: a Zipkin shared span has both), its parent key, its start. Duplicated spans
//!    collapse here. The result is decoded ([`decode_node`]) and materialized for stage 2.
//! 2. `node LEFT JOIN node` on the parent key, the deduplicated links `LEFT JOIN node`, the
//!    shared spans, and the `peer.service` candidates `LEFT ANTI JOIN` every reference:
//!    each row becomes one packed `Int64` (what the rules need to know about the pair),
//!    and the rows are counted per distinct value. The few thousand distinct values are
//!    then given their outcome by [`classify`].
//!
//! Keys: a span is keyed by one `Decimal128` holding `trace key << 64 | span id` (trace
//! keys have 62 bits, so the value stays inside precision 38). One primitive column is
//! DataFusion's fast path for both the group-by and the join, where two `UInt64` columns
//! take the generic multi-column one.
//!
//! The plan never follows reference chains, so no input can make it loop, and no join
//! can fan out: `node` has one row per key.

use std::sync::Arc;

use std::sync::LazyLock;

use datafusion::arrow::array::{
    Array, AsArray, Decimal128Array, Int64Array, RecordBatch, UInt64Array,
};
use datafusion::arrow::buffer::{NullBuffer, ScalarBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Field, Int64Type, Schema, SchemaRef, UInt32Type, UInt64Type,
};
use datafusion::catalog::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::JobError;
use super::rows::{CLIENT_SIDE, KIND_CONSUMER, KIND_PRODUCER, SPANS_SCHEMA};

/// Outcome codes of the plan (0: nothing to count, never produced).
pub(crate) mod outcome {
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

/// Service ids must fit the 24 bits the packed keys give them.
pub(crate) const MAX_SERVICE_IDS: usize = 1 << SVC_BITS;

const SVC_BITS: u32 = 24;
const SVC_MASK: i64 = (1 << SVC_BITS) - 1;

/// The `Decimal128` type of span keys: `trace key << 64 | span id` with a 62-bit trace key
/// is below 2^126 < 10^38, a valid value of this type.
const KEY_TYPE: DataType = DataType::Decimal128(38, 0);

/// Packed edge key, low bit first: clock skew (1), the parent names the child as its own
/// parent (1), the child is its parent (1), reference type (2), the parent's bits or
/// [`MISSING`] (30), the child's bits (27). The top bit of `Int64` stays clear, and bit
/// [`NODE_ROW`] marks the per-node rows (shared spans, `peer.service` leaves).
const EDGE_PARENT_SHIFT: u32 = 5;
const EDGE_CHILD_SHIFT: u32 = 35;
/// A reference whose target is not in the run (the `LEFT JOIN` found no parent).
const MISSING: i64 = 1 << 29;
/// Per-node rows: `NODE_ROW | outcome << 48 | parent << 24 | child`, plus [`PEER_ROW`]
/// for `peer.service` candidates (shared spans are below it).
const NODE_ROW: i64 = 1 << 62;
const PEER_ROW: i64 = NODE_ROW | (1 << 61);

/// Stage 1: one row per span key. The server half (server, consumer, internal,
/// unspecified) and the client half (client, producer) come from `min(v)` and `max(v)`
/// (see `rows::pack_half`). Plain aggregates over one input: DataFusion runs it as one
/// single-stage hash aggregate keyed by one primitive column.
const NODE_SQL: &str = "SELECT k, min(v) AS vmin, max(v) AS vmax, max(peer) AS peer, \
     min(start) AS n_start, min(pk) AS pk FROM spans GROUP BY k";

/// The run's rows as the plan reads them: span keys instead of (trace, span id) pairs.
static PLAN_SPANS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("k", KEY_TYPE, false),
        Field::new("pk", KEY_TYPE, true),
        Field::new("v", DataType::UInt64, false),
        Field::new("peer", DataType::UInt32, false),
        Field::new("start", DataType::UInt64, false),
    ]))
});

/// Links keyed by their target (`lk`) and by the linking span (`ck`).
static PLAN_LINKS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("lk", KEY_TYPE, false),
        Field::new("ck", KEY_TYPE, false),
        Field::new("rt", DataType::UInt8, false),
        Field::new("kind", DataType::UInt8, false),
        Field::new("svc", DataType::UInt32, false),
        Field::new("start", DataType::UInt64, false),
    ]))
});

/// `node`, decoded: `cbits` the node as a child (service << 3 | kind, its client half
/// when it has one), `pbits` the node as a parent (service << 5 | kind << 2 | what its
/// client half is: 0 none, 1 producer, 2 other; its server half when it has one),
/// `node_key` its per-node row when it is a shared span (below [`PEER_ROW`]) or could be
/// a `peer.service` leaf (from it on).
static NODE_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("k", KEY_TYPE, false),
        Field::new("pk", KEY_TYPE, true),
        Field::new("cbits", DataType::Int64, false),
        Field::new("pbits", DataType::Int64, false),
        Field::new("n_start", DataType::UInt64, false),
        Field::new("node_key", DataType::Int64, true),
    ]))
});

/// `trace key << 64 | span id` for every row; `None` ids give null keys.
fn keys(t: &UInt64Array, id: &UInt64Array) -> Result<Decimal128Array, JobError> {
    let values: ScalarBuffer<i128> = t
        .values()
        .iter()
        .zip(id.values().iter())
        .map(|(&t, &s)| (i128::from(t) << 64) | i128::from(s))
        .collect();
    let nulls: Option<NullBuffer> = id.nulls().cloned();
    Ok(Decimal128Array::new(values, nulls).with_precision_and_scale(38, 0)?)
}

fn column<T: datafusion::arrow::datatypes::ArrowPrimitiveType>(
    batch: &RecordBatch,
    idx: usize,
) -> Result<&datafusion::arrow::array::PrimitiveArray<T>, JobError> {
    batch.column(idx).as_primitive_opt::<T>().ok_or_else(|| {
        DataFusionError::Internal(format!(
            "column {idx} is {}, not {}",
            batch.column(idx).data_type(),
            T::DATA_TYPE
        ))
        .into()
    })
}

/// Phase-1 span rows (`t, s, p, v, peer, start`) as the plan's (`k, pk, v, peer, start`).
fn plan_spans(batch: &RecordBatch) -> Result<RecordBatch, JobError> {
    let (t, s, p) = (
        column::<UInt64Type>(batch, 0)?,
        column::<UInt64Type>(batch, 1)?,
        column::<UInt64Type>(batch, 2)?,
    );
    Ok(RecordBatch::try_new(
        PLAN_SPANS_SCHEMA.clone(),
        vec![
            Arc::new(keys(t, s)?),
            Arc::new(keys(t, p)?),
            batch.column(3).clone(),
            batch.column(4).clone(),
            batch.column(5).clone(),
        ],
    )?)
}

/// Phase-1 link rows (`t, s, c, ct, rt, kind, svc, start`) as the plan's.
fn plan_links(batch: &RecordBatch) -> Result<RecordBatch, JobError> {
    let (t, s, c, ct) = (
        column::<UInt64Type>(batch, 0)?,
        column::<UInt64Type>(batch, 1)?,
        column::<UInt64Type>(batch, 2)?,
        column::<UInt64Type>(batch, 3)?,
    );
    Ok(RecordBatch::try_new(
        PLAN_LINKS_SCHEMA.clone(),
        vec![
            Arc::new(keys(t, s)?),
            Arc::new(keys(ct, c)?),
            batch.column(4).clone(),
            batch.column(5).clone(),
            batch.column(6).clone(),
            batch.column(7).clone(),
        ],
    )?)
}

/// A node's per-node row key.
fn node_row(outcome: i64, parent: u32, child: u32) -> i64 {
    let (parent, child) = if matches!(
        outcome,
        outcome::SHARED | outcome::PEER | outcome::SELF_CALL
    ) {
        (i64::from(parent), i64::from(child))
    } else {
        (0, 0)
    };
    NODE_ROW | (outcome << 48) | ((parent & SVC_MASK) << SVC_BITS) | (child & SVC_MASK)
}

/// Decodes stage 1's packed halves into the columns stage 2 reads (see [`NODE_SCHEMA`]).
fn decode_node(batch: &RecordBatch, peer_service: bool) -> Result<RecordBatch, JobError> {
    let (vmin, vmax) = (
        column::<UInt64Type>(batch, 1)?,
        column::<UInt64Type>(batch, 2)?,
    );
    let peer = column::<UInt32Type>(batch, 3)?;
    let rows = batch.num_rows();
    let mut cbits = Vec::with_capacity(rows);
    let mut pbits = Vec::with_capacity(rows);
    let mut node_key = Vec::with_capacity(rows);
    let half = |v: u64| (((v & !CLIENT_SIDE) >> 8) as u32, (v & 0xff) as u8);
    for i in 0..rows {
        // Every node comes from at least one span, so both aggregates are set.
        let server =
            (vmin.is_valid(i) && vmin.value(i) & CLIENT_SIDE == 0).then(|| half(vmin.value(i)));
        let client =
            (vmax.is_valid(i) && vmax.value(i) & CLIENT_SIDE != 0).then(|| half(vmax.value(i)));
        let (c_svc, c_kind) = client.or(server).unwrap_or((0, 0));
        let (p_svc, p_kind) = server.or(client).unwrap_or((0, 0));
        let client_class = match client {
            None => 0,
            Some((_, kind)) if kind == KIND_PRODUCER => 1,
            Some(_) => 2,
        };
        cbits.push((i64::from(c_svc) << 3) | i64::from(c_kind & 7));
        pbits.push((i64::from(p_svc) << 5) | (i64::from(p_kind & 7) << 2) | client_class);
        let peer = if peer.is_valid(i) { peer.value(i) } else { 0 };
        node_key.push(match (server, client) {
            // A Zipkin shared span: client half -> server half.
            (Some((srv, _)), Some((cli, _))) => Some(if srv == 0 || cli == 0 {
                node_row(outcome::NO_SERVICE, 0, 0)
            } else if srv == cli {
                node_row(outcome::SELF_CALL, cli, srv)
            } else {
                node_row(outcome::SHARED, cli, srv)
            }),
            // A client/producer with a peer: kept only if nothing references it (stage
            // 2's anti join).
            (None, Some((cli, _))) if peer_service && peer > 0 => Some(
                PEER_ROW
                    | if cli == 0 {
                        node_row(outcome::NO_SERVICE, 0, 0)
                    } else if cli == peer {
                        node_row(outcome::SELF_CALL, cli, peer)
                    } else {
                        node_row(outcome::PEER, cli, peer)
                    },
            ),
            _ => None,
        });
    }
    Ok(RecordBatch::try_new(
        NODE_SCHEMA.clone(),
        vec![
            batch.column(0).clone(),
            batch.column(5).clone(),
            Arc::new(Int64Array::from(cbits)),
            Arc::new(Int64Array::from(pbits)),
            batch.column(4).clone(),
            Arc::new(Int64Array::from(node_key)),
        ],
    )?)
}

/// Stage 2: packed outcome keys from `node` (materialized), `links` and `spans`, counted.
fn outcomes_sql(peer_service: bool) -> String {
    // The edge key's arithmetic (see `EDGE_CHILD_SHIFT` and the rest); `coalesce(…, 0)`
    // turns the comparisons with a missing parent into 0.
    let child = 1i64 << EDGE_CHILD_SHIFT;
    let parent = 1i64 << EDGE_PARENT_SHIFT;
    let edge = |child_bits: &str, rt: &str, child_key: &str, child_start: &str| {
        format!(
            "{child_bits} * {child} + coalesce(n.pbits, {MISSING}) * {parent} + {rt} * 8 \
             + coalesce(arrow_cast(n.k = {child_key}, 'Int64'), 0) * 4 \
             + coalesce(arrow_cast(n.pk = {child_key}, 'Int64'), 0) * 2 \
             + coalesce(arrow_cast({child_start} < n.n_start, 'Int64'), 0)"
        )
    };
    let parent_edges = edge("c.cbits", "1", "c.k", "c.n_start");
    let link_edges = edge("l.cbits", "l.rt", "l.ck", "l.start");
    let peer_rows = if peer_service {
        // A `peer.service` candidate counts only if no span names it as parent and no
        // child-of, follows-from or consumer link points at it.
        format!(
            r#"
    UNION ALL
    SELECT p.node_key AS k
    FROM (SELECT k, node_key FROM node WHERE node_key >= {PEER_ROW}) p
    LEFT ANTI JOIN (
        SELECT pk AS r FROM spans WHERE pk IS NOT NULL
        UNION ALL
        SELECT lk AS r FROM links WHERE rt IN (1, 2) OR (rt = 3 AND kind = 5)
    ) x ON p.k = x.r"#
        )
    } else {
        String::new()
    };
    format!(
        r#"
SELECT k, count(*) AS n FROM (
    -- parent ids: each child node with its parent node (or none)
    SELECT {parent_edges} AS k
    FROM node c LEFT JOIN node n ON n.k = c.pk
    WHERE c.pk IS NOT NULL
    UNION ALL
    -- span links, one per (target, linking span)
    SELECT {link_edges} AS k
    FROM (SELECT lk, ck, arrow_cast(min(rt), 'Int64') AS rt,
                 arrow_cast(min(svc), 'Int64') * 8 + arrow_cast(max(kind), 'Int64') AS cbits,
                 min(start) AS start
          FROM links GROUP BY lk, ck) l
    LEFT JOIN node n ON n.k = l.lk
    UNION ALL
    -- Zipkin shared spans
    SELECT node_key AS k FROM node WHERE node_key < {PEER_ROW}{peer_rows}
)
GROUP BY k
"#
    )
}

/// The outcome of the rows counted under one stage-2 key: the rules of
/// `docs/dependencies-job.md`, in order. `parent`/`child` are set for the outcomes that
/// make links (and self-calls), `skewed` for parent references that cross a process.
pub(crate) fn classify(key: i64, count: u64) -> OutcomeRow {
    use outcome::*;
    if key & NODE_ROW != 0 {
        // Shared spans and peer leaves (`PEER_ROW` set) alike.
        return OutcomeRow {
            outcome: (key >> 48) & 0xf,
            parent: ((key >> SVC_BITS) & SVC_MASK) as u32,
            child: (key & SVC_MASK) as u32,
            skewed: false,
            count,
        };
    }
    let skew = key & 1 != 0;
    let names_child_as_parent = key & 2 != 0;
    let is_itself = key & 4 != 0;
    let rt = ((key >> 3) & 3) as u8;
    let p = (key >> EDGE_PARENT_SHIFT) & ((MISSING << 1) - 1);
    let c = (key >> EDGE_CHILD_SHIFT) & ((1 << (SVC_BITS + 3)) - 1);
    let (c_svc, c_kind) = ((c >> 3) as u32, (c & 7) as u8);
    let missing = p & MISSING != 0;
    let (p_svc, p_kind, p_client) = (
        (p >> 5) as u32 & SVC_MASK as u32,
        ((p >> 2) & 7) as u8,
        p & 3,
    );
    use super::rows::{KIND_CLIENT, KIND_SERVER, REF_CHILD_OF, REF_LINK};
    let outcome = if missing {
        if rt == REF_LINK {
            UNRESOLVED_LINK
        } else {
            MISSING_PARENT
        }
    } else if is_itself || (rt == REF_CHILD_OF && names_child_as_parent) {
        CYCLE
    } else if rt == REF_LINK && (c_kind != KIND_CONSUMER || p_client == 2) {
        // A plain link counts only from a consumer, to a producer or to a span with no
        // client half (the internal or server span that created the message); a link to
        // a client span is not a message (docs/dependencies-job.md, rule 2).
        IGNORED_LINK
    } else if c_svc == 0 {
        NO_SERVICE
    } else if p_svc == 0 {
        ORPHANED
    } else if p_svc != c_svc {
        EDGE
    } else if matches!(c_kind, KIND_SERVER | KIND_CONSUMER)
        || matches!(p_kind, KIND_CLIENT | KIND_PRODUCER)
    {
        SELF_CALL
    } else {
        IN_PROCESS
    };
    let named = matches!(outcome, EDGE | SELF_CALL);
    OutcomeRow {
        outcome,
        parent: if named { p_svc } else { 0 },
        child: if named { c_svc } else { 0 },
        skewed: rt == REF_CHILD_OF
            && !missing
            && skew
            && matches!(outcome, EDGE | SELF_CALL | IN_PROCESS),
        count,
    }
}

/// Traces and large traces, from the phase-1 span rows (`raw_spans`).
fn traces_sql(large: u64) -> String {
    format!(
        "SELECT count(*) AS traces, sum(CASE WHEN n >= {large} THEN 1 ELSE 0 END) AS large \
         FROM (SELECT t, count(*) AS n FROM raw_spans GROUP BY t)"
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
    // The probe sides are in-memory tables: a filter pushed into their scan from the
    // build side's keys would only repeat the join's own lookups.
    options.optimizer.enable_join_dynamic_filter_pushdown = false;
    if let Some(limit) = opts.memory_limit {
        // The default (10 MiB per sort) alone overflows a small pool.
        let reserve = &mut options.execution.sort_spill_reservation_bytes;
        *reserve = (*reserve).min(limit / 16);
    }
    SessionContext::new_with_config_rt(config, runtime.clone())
}

/// Registers a run's rows as the plan's `spans` and `links` tables (one partition each),
/// and the phase-1 span rows as `raw_spans` (the same buffers, for the trace counts).
fn register(
    ctx: &SessionContext,
    raw_spans: &[RecordBatch],
    links: &[RecordBatch],
) -> Result<(), JobError> {
    ctx.register_table(
        "raw_spans",
        Arc::new(MemTable::try_new(
            SPANS_SCHEMA.clone(),
            vec![raw_spans.to_vec()],
        )?),
    )?;
    let spans = raw_spans
        .iter()
        .map(plan_spans)
        .collect::<Result<Vec<_>, _>>()?;
    let links = links
        .iter()
        .map(plan_links)
        .collect::<Result<Vec<_>, _>>()?;
    ctx.register_table(
        "spans",
        Arc::new(MemTable::try_new(PLAN_SPANS_SCHEMA.clone(), vec![spans])?),
    )?;
    ctx.register_table(
        "links",
        Arc::new(MemTable::try_new(PLAN_LINKS_SCHEMA.clone(), vec![links])?),
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

fn external(err: JobError) -> DataFusionError {
    DataFusionError::External(Box::new(err))
}

/// Stage 1, then stage 2 and the trace counts over the materialized `node`.
async fn run_stages(
    ctx: &SessionContext,
    opts: &PlanOptions,
) -> Result<(Vec<OutcomeRow>, u64, u64), DataFusionError> {
    let node = ctx.sql(NODE_SQL).await?.collect().await?;
    let decoded = node
        .iter()
        .map(|b| decode_node(b, opts.peer_service).map_err(external))
        .collect::<Result<Vec<_>, _>>()?;
    drop(node);
    // Registered even when empty: links to spans that are not here are still counted.
    ctx.register_table(
        "node",
        Arc::new(MemTable::try_new(NODE_SCHEMA.clone(), vec![decoded])?),
    )?;
    let batches = ctx
        .sql(&outcomes_sql(opts.peer_service))
        .await?
        .collect()
        .await?;
    let mut rows = Vec::new();
    for b in &batches {
        let (k, n) = (
            i64_column(b, 0).map_err(external)?,
            i64_column(b, 1).map_err(external)?,
        );
        for (key, count) in k.into_iter().zip(n) {
            rows.push(classify(key, u64::try_from(count).unwrap_or(0)));
        }
    }
    let (traces, large) = run_traces(ctx, opts.large_trace_spans)
        .await
        .map_err(external)?;
    ctx.deregister_table("node")?;
    Ok((rows, traces, large))
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
    register(&ctx, spans, links)?;
    let (rows, traces, large_traces) = run_stages(&ctx, opts).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dependencies::rows::{REF_CHILD_OF, REF_LINK};

    /// The edge key as `outcomes_sql` computes it.
    fn edge_key(
        child: (u32, u8),
        parent: Option<(u32, u8, i64)>,
        rt: u8,
        flags: (bool, bool, bool),
    ) -> i64 {
        let cbits = (i64::from(child.0) << 3) | i64::from(child.1);
        let pbits = parent.map_or(MISSING, |(svc, kind, client)| {
            (i64::from(svc) << 5) | (i64::from(kind) << 2) | client
        });
        let (itself, names_child, skew) = flags;
        (cbits << EDGE_CHILD_SHIFT)
            + (pbits << EDGE_PARENT_SHIFT)
            + i64::from(rt) * 8
            + i64::from(itself) * 4
            + i64::from(names_child) * 2
            + i64::from(skew)
    }

    fn outcome_of(key: i64) -> (i64, u32, u32, bool) {
        let row = classify(key, 7);
        assert_eq!(row.count, 7);
        (row.outcome, row.parent, row.child, row.skewed)
    }

    #[test]
    fn edge_keys_classify_as_the_rules_say() {
        use outcome::*;
        let none = (false, false, false);
        let server = |svc| Some((svc, 2u8, 0i64));
        // Across services, with the widest service ids.
        let max = (MAX_SERVICE_IDS - 1) as u32;
        assert_eq!(
            outcome_of(edge_key((max, 2), server(max - 1), REF_CHILD_OF, none)),
            (EDGE, max - 1, max, false)
        );
        // Skew counts only for parent references that are calls or in-process.
        assert_eq!(
            outcome_of(edge_key(
                (5, 2),
                server(4),
                REF_CHILD_OF,
                (false, false, true)
            )),
            (EDGE, 4, 5, true)
        );
        assert_eq!(
            outcome_of(edge_key(
                (5, 1),
                server(5),
                REF_CHILD_OF,
                (false, false, true)
            )),
            (IN_PROCESS, 0, 0, true)
        );
        // Same service across a process boundary: a self-call.
        assert_eq!(
            outcome_of(edge_key((5, 2), Some((5, 3, 2)), REF_CHILD_OF, none)),
            (SELF_CALL, 5, 5, false)
        );
        assert_eq!(
            outcome_of(edge_key((5, 2), None, REF_CHILD_OF, none)),
            (MISSING_PARENT, 0, 0, false)
        );
        assert_eq!(
            outcome_of(edge_key((5, 5), None, REF_LINK, none)),
            (UNRESOLVED_LINK, 0, 0, false)
        );
        assert_eq!(
            outcome_of(edge_key(
                (5, 2),
                server(4),
                REF_CHILD_OF,
                (true, false, false)
            ))
            .0,
            CYCLE
        );
        assert_eq!(
            outcome_of(edge_key(
                (5, 2),
                server(4),
                REF_CHILD_OF,
                (false, true, false)
            ))
            .0,
            CYCLE
        );
        // A consumer's link to a producer is a call; from any other kind, or to a client,
        // it is ignored ...
        assert_eq!(
            outcome_of(edge_key((5, 5), Some((4, 4, 1)), REF_LINK, none)),
            (EDGE, 4, 5, false)
        );
        assert_eq!(
            outcome_of(edge_key((5, 1), Some((4, 4, 1)), REF_LINK, none)).0,
            IGNORED_LINK
        );
        assert_eq!(
            outcome_of(edge_key((5, 5), Some((4, 3, 2)), REF_LINK, none)).0,
            IGNORED_LINK
        );
        // ... and to a span with no client half (an internal span that made the message).
        assert_eq!(
            outcome_of(edge_key((5, 5), Some((4, 1, 0)), REF_LINK, none)),
            (EDGE, 4, 5, false)
        );
        assert_eq!(
            outcome_of(edge_key((0, 2), server(4), REF_CHILD_OF, none)).0,
            NO_SERVICE
        );
        assert_eq!(
            outcome_of(edge_key((5, 2), server(0), REF_CHILD_OF, none)).0,
            ORPHANED
        );
    }

    #[test]
    fn node_rows_round_trip() {
        let max = (MAX_SERVICE_IDS - 1) as u32;
        let row = classify(node_row(outcome::SHARED, max, 1), 3);
        assert_eq!(
            (row.outcome, row.parent, row.child, row.skewed, row.count),
            (outcome::SHARED, max, 1, false, 3)
        );
        // Outcomes that are not links carry no services.
        let row = classify(node_row(outcome::NO_SERVICE, 4, 5), 1);
        assert_eq!(
            (row.outcome, row.parent, row.child),
            (outcome::NO_SERVICE, 0, 0)
        );
    }

    #[test]
    fn span_keys_are_valid_decimals_and_keep_nulls() {
        let t = UInt64Array::from(vec![u64::MAX >> 2, 1]);
        let s = UInt64Array::from(vec![Some(u64::MAX), None]);
        let k = keys(&t, &s).expect("keys");
        assert_eq!(
            k.value(0),
            (i128::from(u64::MAX >> 2) << 64) | i128::from(u64::MAX)
        );
        assert!(k.is_null(1));
        k.validate_decimal_precision(38).expect("fits precision 38");
        let key = super::super::rows::trace_key(&[0xff; 16]);
        assert!(key < 1 << 62);
    }
}
