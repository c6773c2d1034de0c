//! The embedded persistent store: the default backend, on the fjall LSM engine.
//!
//! Layout (see `keys` and docs/embedded-store.md): spans are stored per trace and write
//! batch as one compressed chunk; each chunk gets one index posting per service it
//! contains. Data and postings live in time partitions of *ingest* time (one pair of
//! fjall keyspaces per bucket of `partition_width`), so retention drops whole keyspaces.
//! Every write is one fjall batch, flushed to the OS (or synced) before `write_spans`
//! returns, so an acknowledged span survives `kill -9`.

mod chunk;
mod keys;
mod scan;
mod search;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use fjall::config::{BlockSizePolicy, CompressionPolicy, FilterPolicy};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use jaeger_model::otlp::ResourceSpans;
use jaeger_model::{SpanId, Trace, TraceId};
use serde::{Deserialize, Serialize};

use crate::{
    DependencyLink, DependencyStore, GetTraceParams, Operation, OperationQuery, Result,
    SharedTrace, SpanReader, SpanWriter, StorageError, StorageHealth, TraceQuery, UnixNanos,
};
use keys::{ChunkRef, be_u64, block_key, posting_key, ref_key, ref_prefix};

/// Settings of the embedded store (mirrors `jaeger_config::EmbeddedStorageConfig`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddedStoreConfig {
    pub data_dir: PathBuf,
    /// How long spans are kept, counted from when they were written.
    pub retention: Duration,
    /// Width of one time partition (of ingest time); retention drops whole partitions.
    pub partition_width: Duration,
    /// fsync the journal on every write instead of flushing it to the OS.
    pub sync_writes: bool,
    /// Block cache size.
    pub cache_mib: u64,
}

impl EmbeddedStoreConfig {
    /// The defaults of `jaeger_config::EmbeddedStorageConfig` for a directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            retention: Duration::from_secs(72 * 3600),
            partition_width: Duration::from_secs(6 * 3600),
            sync_writes: false,
            cache_mib: 32,
        }
    }
}

/// How often the background retention task runs by default.
pub const DEFAULT_RETENTION_INTERVAL: Duration = Duration::from_secs(300);

const META_KEYSPACE: &str = "meta";
const OPS_KEYSPACE: &str = "ops";
const DEPS_KEYSPACE: &str = "deps";
const DATA_PREFIX: &str = "d_";
const INDEX_PREFIX: &str = "i_";
/// Meta key prefix of partition statistics: `'p' | id(8)`.
const META_PARTITION: u8 = b'p';
const NANOS_PER_DAY: u64 = 86_400 * 1_000_000_000;

impl From<fjall::Error> for StorageError {
    fn from(e: fjall::Error) -> Self {
        StorageError::Engine(e.to_string())
    }
}

/// The embedded store. Cheap to share: clone the `Arc` that `open` returns.
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    cfg: EmbeddedStoreConfig,
    db: Database,
    meta: Keyspace,
    ops_ks: Keyspace,
    deps: Keyspace,
    partitions: RwLock<BTreeMap<u64, Arc<Partition>>>,
    /// `service\0operation\0kind` → last day (since the epoch) it was written.
    ops: RwLock<HashMap<String, u32>>,
    /// Serializes sequence numbers and partition statistics with their commit.
    write_state: Mutex<WriteState>,
    healthy: AtomicBool,
}

struct WriteState {
    next_seq: u64,
}

/// One time bucket of ingest time: chunks and their postings.
pub(crate) struct Partition {
    id: u64,
    data: Keyspace,
    index: Keyspace,
    stats: Mutex<PartitionStats>,
}

/// What a partition holds, so queries only open partitions that can match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PartitionStats {
    pub min_start_us: u64,
    pub max_start_us: u64,
    pub max_width_us: u64,
    pub max_seq: u64,
    pub first_ingest_ns: u64,
    pub last_ingest_ns: u64,
}

impl PartitionStats {
    const EMPTY: Self = Self {
        min_start_us: u64::MAX,
        max_start_us: 0,
        max_width_us: 0,
        max_seq: 0,
        first_ingest_ns: u64::MAX,
        last_ingest_ns: 0,
    };
    const ENCODED_LEN: usize = 1 + 6 * 8;
    const VERSION: u8 = 1;

    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::ENCODED_LEN);
        v.push(Self::VERSION);
        for x in [
            self.min_start_us,
            self.max_start_us,
            self.max_width_us,
            self.max_seq,
            self.first_ingest_ns,
            self.last_ingest_ns,
        ] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v
    }

    fn decode(v: &[u8]) -> Result<Self> {
        if v.len() != Self::ENCODED_LEN || v[0] != Self::VERSION {
            return Err(StorageError::Corrupt("partition statistics".into()));
        }
        let f = |i: usize| be_u64(&v[1 + i * 8..9 + i * 8]);
        Ok(Self {
            min_start_us: f(0),
            max_start_us: f(1),
            max_width_us: f(2),
            max_seq: f(3),
            first_ingest_ns: f(4),
            last_ingest_ns: f(5),
        })
    }

    /// Whether spans starting in `[lo_us, hi_us]` can be held here.
    pub(crate) fn overlaps(&self, lo_us: u64, hi_us: u64) -> bool {
        self.min_start_us <= hi_us && self.max_start_us >= lo_us
    }
}

fn meta_partition_key(id: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = META_PARTITION;
    k[1..].copy_from_slice(&id.to_be_bytes());
    k
}

fn data_options() -> KeyspaceCreateOptions {
    // Blocks are zstd-compressed already. Their keys only grow, so tables never overlap
    // and a point read finds its table by key range: bloom filters would be waste.
    KeyspaceCreateOptions::default()
        .data_block_compression_policy(CompressionPolicy::disabled())
        .data_block_size_policy(BlockSizePolicy::all(64 * 1024))
        .filter_policy(FilterPolicy::disabled())
}

fn index_options() -> KeyspaceCreateOptions {
    // References and postings are only range-scanned, never point-read.
    KeyspaceCreateOptions::default().filter_policy(FilterPolicy::disabled())
}

/// Decompressed blocks for one read call: chunks of one write batch share a block.
#[derive(Default)]
pub(crate) struct BlockReader {
    cache: HashMap<(u64, u64), Arc<Vec<u8>>>,
}

impl BlockReader {
    /// Blocks kept per call, so that a long search stays bounded in memory.
    const MAX_CACHED: usize = 32;

    /// The raw content of a block, or `None` if it is gone (dropped by retention).
    pub(crate) fn block(&mut self, p: &Partition, block: u64) -> Result<Option<Arc<Vec<u8>>>> {
        let key = (p.id, block);
        if let Some(raw) = self.cache.get(&key) {
            return Ok(Some(raw.clone()));
        }
        let Some(v) = p.data.get(block_key(block))? else {
            return Ok(None);
        };
        let raw = Arc::new(chunk::decode_block(&v)?);
        if self.cache.len() >= Self::MAX_CACHED {
            self.cache.clear();
        }
        self.cache.insert(key, raw.clone());
        Ok(Some(raw))
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn ops_key(service: &str, operation: &str, kind: &str) -> String {
    let mut k = String::with_capacity(service.len() + operation.len() + kind.len() + 2);
    k.push_str(service);
    k.push('\0');
    k.push_str(operation);
    k.push('\0');
    k.push_str(kind);
    k
}

/// The stored form of one dependency link.
#[derive(Serialize, Deserialize)]
struct StoredLink {
    parent: String,
    child: String,
    call_count: u64,
    #[serde(default)]
    source: String,
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `cfg.data_dir` and discovers its partitions.
    pub fn open(cfg: EmbeddedStoreConfig) -> Result<Arc<Self>> {
        if cfg.partition_width.is_zero() {
            return Err(StorageError::Engine(
                "partition width must be positive".into(),
            ));
        }
        std::fs::create_dir_all(&cfg.data_dir)?;
        let db = Database::builder(&cfg.data_dir)
            .cache_size(cfg.cache_mib.saturating_mul(1024 * 1024))
            .open()?;
        let meta = db.keyspace(META_KEYSPACE, KeyspaceCreateOptions::default)?;
        let ops_ks = db.keyspace(OPS_KEYSPACE, KeyspaceCreateOptions::default)?;
        let deps = db.keyspace(DEPS_KEYSPACE, KeyspaceCreateOptions::default)?;

        let mut partitions = BTreeMap::new();
        let mut next_seq = 1u64;
        for kv in meta.prefix([META_PARTITION]) {
            let (k, v) = kv.into_inner()?;
            if k.len() != 9 {
                return Err(StorageError::Corrupt("partition meta key".into()));
            }
            let id = be_u64(&k[1..]);
            let stats = PartitionStats::decode(&v)?;
            next_seq = next_seq.max(stats.max_seq.saturating_add(1));
            let p = Partition {
                id,
                data: db.keyspace(&format!("{DATA_PREFIX}{id:016x}"), data_options)?,
                index: db.keyspace(&format!("{INDEX_PREFIX}{id:016x}"), index_options)?,
                stats: Mutex::new(stats),
            };
            partitions.insert(id, Arc::new(p));
        }
        // A partition keyspace without statistics never got a committed write (its
        // first batch carries the statistics): drop it.
        for name in db.list_keyspace_names() {
            let name: &str = &name;
            let id = name
                .strip_prefix(DATA_PREFIX)
                .or_else(|| name.strip_prefix(INDEX_PREFIX))
                .and_then(|hex| u64::from_str_radix(hex, 16).ok());
            if let Some(id) = id
                && !partitions.contains_key(&id)
            {
                let ks = db.keyspace(name, KeyspaceCreateOptions::default)?;
                db.delete_keyspace(ks)?;
            }
        }

        let mut ops = HashMap::new();
        for kv in ops_ks.iter() {
            let (k, v) = kv.into_inner()?;
            let (Ok(key), Ok(day)) = (std::str::from_utf8(&k), <[u8; 4]>::try_from(&v[..])) else {
                return Err(StorageError::Corrupt("operation entry".into()));
            };
            ops.insert(key.to_string(), u32::from_be_bytes(day));
        }
        tracing::info!(
            dir = %cfg.data_dir.display(),
            partitions = partitions.len(),
            operations = ops.len(),
            "embedded store opened"
        );

        Ok(Arc::new(Self {
            inner: Arc::new(Inner {
                cfg,
                db,
                meta,
                ops_ks,
                deps,
                partitions: RwLock::new(partitions),
                ops: RwLock::new(ops),
                write_state: Mutex::new(WriteState { next_seq }),
                healthy: AtomicBool::new(true),
            }),
        }))
    }

    /// Drops partitions whose newest write is older than the retention, and operations
    /// and dependency windows older than it. Returns the number of partitions dropped.
    pub fn run_retention(&self, now: UnixNanos) -> Result<usize> {
        self.inner.run_retention(now)
    }

    /// Runs `run_retention` every `every` on the tokio blocking pool until the store is
    /// dropped. Must be called inside a tokio runtime.
    pub fn spawn_retention_task(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                match tokio::task::spawn_blocking(move || inner.run_retention(now_ns())).await {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => tracing::info!(partitions = n, "retention dropped partitions"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "retention failed"),
                    Err(e) => tracing::warn!(error = %e, "retention task failed"),
                }
            }
        })
    }

    /// Bytes the store occupies on disk (journal included).
    pub fn disk_space(&self) -> Result<u64> {
        Ok(self.inner.db.disk_space()?)
    }

    /// Writes every memtable out as a disk table, so the journal can be truncated (a
    /// clean shutdown; size measurements). Blocks: call it from a blocking context.
    pub fn flush(&self) -> Result<()> {
        let i = &self.inner;
        for p in i.partitions_snapshot() {
            p.data.rotate_memtable_and_wait()?;
            p.index.rotate_memtable_and_wait()?;
        }
        for ks in [&i.meta, &i.ops_ks, &i.deps] {
            ks.rotate_memtable_and_wait()?;
        }
        i.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    /// Number of partitions currently held.
    pub fn partition_count(&self) -> usize {
        self.inner.partitions_snapshot().len()
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        crate::offload::run(move || f(&inner))
            .await
            .map_err(|e| StorageError::Engine(format!("storage task failed: {e}")))?
    }
}

impl Inner {
    fn persist_mode(&self) -> PersistMode {
        if self.cfg.sync_writes {
            PersistMode::SyncData
        } else {
            PersistMode::Buffer
        }
    }

    fn partitions_snapshot(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .expect("partition map lock is never poisoned by a panic-free section")
            .values()
            .cloned()
            .collect()
    }

    fn partition_for_write(&self, now: u64) -> Result<Arc<Partition>> {
        let id = now / duration_ns(self.cfg.partition_width).max(1);
        if let Some(p) = self.partitions.read().expect("partition lock").get(&id) {
            return Ok(p.clone());
        }
        let mut map = self.partitions.write().expect("partition lock");
        if let Some(p) = map.get(&id) {
            return Ok(p.clone());
        }
        let p = Arc::new(Partition {
            id,
            data: self
                .db
                .keyspace(&format!("{DATA_PREFIX}{id:016x}"), data_options)?,
            index: self
                .db
                .keyspace(&format!("{INDEX_PREFIX}{id:016x}"), index_options)?,
            stats: Mutex::new(PartitionStats::EMPTY),
        });
        map.insert(id, p.clone());
        Ok(p)
    }

    /// Writes a batch as ingested at `now` (which picks its partition).
    fn write_at(&self, batch: Vec<ResourceSpans>, now: u64) -> Result<()> {
        let prepared = chunk::prepare(batch)?;
        if prepared.chunks.is_empty() {
            return Ok(());
        }
        let today = u32::try_from(now / NANOS_PER_DAY).unwrap_or(u32::MAX);
        let part = self.partition_for_write(now)?;

        // Operations new to the store (or last seen before today).
        let new_ops: Vec<(String, u32)> = {
            let ops = self.ops.read().expect("ops lock");
            prepared
                .operations
                .iter()
                .map(|(s, o, k)| ops_key(s, o, k))
                .filter(|key| ops.get(key).is_none_or(|d| *d < today))
                .map(|key| (key, today))
                .collect()
        };

        let entries = prepared
            .blocks
            .iter()
            .map(|b| 1 + b.postings.len())
            .sum::<usize>()
            + prepared.chunks.len()
            + 1
            + new_ops.len();
        let mut state = self.write_state.lock().expect("write lock");
        let mut b = fjall::OwnedWriteBatch::with_capacity(self.db.clone(), entries)
            .durability(Some(self.persist_mode()));
        let first_block = state.next_seq;
        let first_chunk = first_block + prepared.blocks.len() as u64;
        let mut buf = Vec::with_capacity(256);
        for (i, block) in prepared.blocks.into_iter().enumerate() {
            let seq = first_block + i as u64;
            for p in &block.postings {
                buf.clear();
                p.posting.encode(p.ts_us, &mut buf);
                b.insert(
                    &part.index,
                    &posting_key(p.service_hash, p.ts_us, seq)[..],
                    buf.as_slice(),
                );
            }
            b.insert(&part.data, &block_key(seq)[..], block.value);
        }
        for (i, c) in prepared.chunks.iter().enumerate() {
            let r = ChunkRef {
                block: first_block + c.block as u64,
                offset: c.offset,
                len: c.len,
            };
            buf.clear();
            r.encode(&mut buf);
            b.insert(
                &part.index,
                &ref_key(&c.trace_id, first_chunk + i as u64)[..],
                buf.as_slice(),
            );
        }
        state.next_seq = first_chunk + prepared.chunks.len() as u64;
        let stats = {
            let mut s = part.stats.lock().expect("stats lock");
            s.min_start_us = s.min_start_us.min(prepared.min_start_us);
            s.max_start_us = s.max_start_us.max(prepared.max_start_us);
            s.max_width_us = s.max_width_us.max(prepared.max_width_us);
            s.max_seq = state.next_seq - 1;
            s.first_ingest_ns = s.first_ingest_ns.min(now);
            s.last_ingest_ns = s.last_ingest_ns.max(now);
            *s
        };
        b.insert(&self.meta, &meta_partition_key(part.id)[..], stats.encode());
        for (key, day) in &new_ops {
            b.insert(&self.ops_ks, key.as_bytes(), &day.to_be_bytes()[..]);
        }
        if let Err(e) = b.commit() {
            if matches!(e, fjall::Error::Poisoned) {
                self.healthy.store(false, Ordering::Relaxed);
            }
            return Err(e.into());
        }
        drop(state);

        if !new_ops.is_empty() {
            let mut ops = self.ops.write().expect("ops lock");
            for (key, day) in new_ops {
                let e = ops.entry(key).or_insert(day);
                *e = (*e).max(day);
            }
        }
        metrics::counter!("jaeger_embedded_spans_written_total")
            .increment(prepared.span_count as u64);
        Ok(())
    }

    /// Chunks of a trace from every partition that can hold it, merged and deduplicated.
    fn get_trace(&self, params: &GetTraceParams) -> Result<Option<Trace>> {
        self.read_trace(params, &mut BlockReader::default())
    }

    fn read_trace(
        &self,
        params: &GetTraceParams,
        blocks: &mut BlockReader,
    ) -> Result<Option<Trace>> {
        let lo = params.start.map(|s| s / 1000).unwrap_or(0);
        let hi = params.end.map(|e| e.div_ceil(1000)).unwrap_or(u64::MAX);
        let mut located = Vec::new();
        for p in self.partitions_snapshot() {
            let stats = *p.stats.lock().expect("stats lock");
            if !stats.overlaps(lo, hi) {
                continue;
            }
            for kv in p.index.prefix(ref_prefix(&params.trace_id)) {
                let (_, v) = kv.into_inner()?;
                let r = ChunkRef::decode(&mut &v[..])?;
                if let Some(raw) = blocks.block(&p, r.block)? {
                    located.push((raw, r));
                }
            }
        }
        if located.is_empty() {
            return Ok(None);
        }
        let refs: Vec<(&[u8], ChunkRef)> = located.iter().map(|(raw, r)| (&raw[..], *r)).collect();
        let chunks = chunk::decode_chunks(&refs)?;
        Ok(Some(Trace::new(merge_chunks(chunks))))
    }

    fn find_traces(&self, q: &TraceQuery) -> Result<Vec<Trace>> {
        let mut blocks = BlockReader::default();
        let ids = search::find_trace_ids(self, q, &mut blocks)?;
        let mut out = Vec::with_capacity(ids.len());
        for trace_id in ids {
            let params = GetTraceParams {
                trace_id,
                start: None,
                end: None,
            };
            if let Some(t) = self.read_trace(&params, &mut blocks)? {
                out.push(t);
            }
        }
        Ok(out)
    }

    fn services(&self) -> Vec<String> {
        let ops = self.ops.read().expect("ops lock");
        let set: HashSet<&str> = ops
            .keys()
            .filter_map(|k| k.split('\0').next())
            .filter(|s| !s.is_empty())
            .collect();
        let mut v: Vec<String> = set.into_iter().map(str::to_string).collect();
        v.sort();
        v
    }

    /// Every service name known, the empty one included (for searches without one).
    fn all_service_names(&self) -> Vec<String> {
        let ops = self.ops.read().expect("ops lock");
        let set: HashSet<&str> = ops.keys().filter_map(|k| k.split('\0').next()).collect();
        set.into_iter().map(str::to_string).collect()
    }

    fn operations(&self, q: &OperationQuery) -> Vec<Operation> {
        let ops = self.ops.read().expect("ops lock");
        let mut out: Vec<Operation> = ops
            .keys()
            .filter_map(|k| {
                let mut parts = k.splitn(3, '\0');
                let (s, o, kind) = (parts.next()?, parts.next()?, parts.next()?);
                if s != q.service_name {
                    return None;
                }
                if let Some(want) = &q.span_kind
                    && want != kind
                {
                    return None;
                }
                Some(Operation {
                    name: o.to_string(),
                    span_kind: kind.to_string(),
                })
            })
            .collect();
        out.sort();
        out
    }

    fn write_dependencies(&self, start: u64, end: u64, links: Vec<DependencyLink>) -> Result<()> {
        let stored: Vec<StoredLink> = links
            .into_iter()
            .map(|l| StoredLink {
                parent: l.parent,
                child: l.child,
                call_count: l.call_count,
                source: l.source,
            })
            .collect();
        let json = serde_json::to_vec(&stored)
            .map_err(|e| StorageError::Engine(format!("encoding dependencies: {e}")))?;
        let mut b = self.db.batch().durability(Some(self.persist_mode()));
        for kv in self.deps.prefix(start.to_be_bytes()) {
            b.remove(&self.deps, kv.key()?);
        }
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&start.to_be_bytes());
        key[8..].copy_from_slice(&end.to_be_bytes());
        b.insert(&self.deps, &key[..], json);
        b.commit()?;
        Ok(())
    }

    fn get_dependencies(&self, end: u64, lookback: u64) -> Result<Vec<DependencyLink>> {
        let lo = end.saturating_sub(lookback);
        let mut upper = [0xffu8; 16];
        upper[..8].copy_from_slice(&end.to_be_bytes());
        let mut out = Vec::new();
        for kv in self.deps.range(..=upper) {
            let (k, v) = kv.into_inner()?;
            if k.len() != 16 {
                return Err(StorageError::Corrupt("dependency key".into()));
            }
            if be_u64(&k[8..]) < lo {
                continue;
            }
            let links: Vec<StoredLink> = serde_json::from_slice(&v)
                .map_err(|e| StorageError::Corrupt(format!("dependency links: {e}")))?;
            out.extend(links.into_iter().map(|l| DependencyLink {
                parent: l.parent,
                child: l.child,
                call_count: l.call_count,
                source: if l.source.is_empty() {
                    "jaeger".to_string()
                } else {
                    l.source
                },
            }));
        }
        Ok(out)
    }

    fn run_retention(&self, now: u64) -> Result<usize> {
        let cutoff = now.saturating_sub(duration_ns(self.cfg.retention));
        let current = now / duration_ns(self.cfg.partition_width).max(1);
        let victims: Vec<Arc<Partition>> = self
            .partitions_snapshot()
            .into_iter()
            .filter(|p| {
                p.id != current && p.stats.lock().expect("stats lock").last_ingest_ns < cutoff
            })
            .collect();
        for p in &victims {
            // Statistics go first: a crash after this leaves orphan keyspaces, which
            // `open` deletes.
            self.meta.remove(&meta_partition_key(p.id)[..])?;
            self.partitions
                .write()
                .expect("partition lock")
                .remove(&p.id);
            self.db.delete_keyspace(p.data.clone())?;
            self.db.delete_keyspace(p.index.clone())?;
            tracing::info!(partition = p.id, "retention dropped partition");
        }

        // Operations not seen since before the cutoff day.
        let cutoff_day = cutoff / NANOS_PER_DAY;
        let stale: Vec<String> = self
            .ops
            .read()
            .expect("ops lock")
            .iter()
            .filter(|(_, day)| u64::from(**day) < cutoff_day)
            .map(|(k, _)| k.clone())
            .collect();
        if !stale.is_empty() {
            let mut b = self.db.batch();
            for k in &stale {
                b.remove(&self.ops_ks, k.as_bytes());
            }
            b.commit()?;
            let mut ops = self.ops.write().expect("ops lock");
            for k in &stale {
                ops.remove(k);
            }
        }

        // Dependency windows that ended before the cutoff.
        let mut b = self.db.batch();
        for kv in self.deps.iter() {
            let k = kv.key()?;
            if k.len() == 16 && be_u64(&k[8..]) < cutoff {
                b.remove(&self.deps, k);
            }
        }
        b.commit()?;
        self.db.persist(self.persist_mode())?;
        metrics::counter!("jaeger_embedded_partitions_dropped_total")
            .increment(victims.len() as u64);
        Ok(victims.len())
    }
}

/// Merges the chunks of one trace: equal resources and scopes are joined, and a span
/// written twice (same id and content) appears once.
///
/// Spans are moved a resource or scope at a time where nothing in it needs merging or
/// dropping (a large trace written in one batch is mostly that): moving ten thousand
/// spans one by one, and a map entry per span id, were a tenth of reading such a trace.
fn merge_chunks(chunks: Vec<Vec<ResourceSpans>>) -> Vec<ResourceSpans> {
    let dropped = repeated_spans(&chunks);
    let is_dropped = |range: std::ops::Range<usize>| dropped[range].contains(&true);
    let mut out: Vec<ResourceSpans> = Vec::new();
    // Flat position (over all chunks, in order) of the next span.
    let mut at = 0usize;
    for rs in chunks.into_iter().flatten() {
        let n: usize = rs.scope_spans.iter().map(|ss| ss.spans.len()).sum();
        let found = out
            .iter()
            .position(|o| o.resource == rs.resource && o.schema_url == rs.schema_url);
        let ri = match found {
            None if !is_dropped(at..at + n) && scopes_are_distinct(&rs.scope_spans) => {
                out.push(rs);
                at += n;
                continue;
            }
            Some(i) => i,
            None => {
                out.push(ResourceSpans {
                    resource: rs.resource,
                    scope_spans: Vec::new(),
                    schema_url: rs.schema_url,
                });
                out.len() - 1
            }
        };
        for ss in rs.scope_spans {
            let m = ss.spans.len();
            let scopes = &mut out[ri].scope_spans;
            let found = scopes
                .iter()
                .position(|o| o.scope == ss.scope && o.schema_url == ss.schema_url);
            match found {
                None if !is_dropped(at..at + m) => scopes.push(ss),
                _ => {
                    let si = found.unwrap_or_else(|| {
                        scopes.push(jaeger_model::otlp::ScopeSpans {
                            scope: ss.scope,
                            spans: Vec::new(),
                            schema_url: ss.schema_url,
                        });
                        scopes.len() - 1
                    });
                    let spans = &mut scopes[si].spans;
                    spans.reserve(m);
                    for (k, span) in ss.spans.into_iter().enumerate() {
                        if !dropped[at + k] {
                            spans.push(span);
                        }
                    }
                }
            }
            at += m;
        }
    }
    out
}

/// Whether no two scopes of a resource would be joined by [`merge_chunks`].
fn scopes_are_distinct(scopes: &[jaeger_model::otlp::ScopeSpans]) -> bool {
    scopes.iter().enumerate().all(|(i, a)| {
        scopes[..i]
            .iter()
            .all(|b| a.scope != b.scope || a.schema_url != b.schema_url)
    })
}

/// By flat position over all chunks: spans equal, with equal resource and scope, to an
/// earlier span. Only spans sharing an id are compared.
fn repeated_spans(chunks: &[Vec<ResourceSpans>]) -> Vec<bool> {
    let mut at: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut ids: Vec<(u64, u32)> = Vec::new();
    for (ci, chunk) in chunks.iter().enumerate() {
        for (ri, rs) in chunk.iter().enumerate() {
            for (si, ss) in rs.scope_spans.iter().enumerate() {
                for (ki, span) in ss.spans.iter().enumerate() {
                    let id = SpanId::from_slice(&span.span_id).unwrap_or_default();
                    ids.push((id.as_u64(), at.len() as u32));
                    at.push((ci, ri, si, ki));
                }
            }
        }
    }
    // Sorting by (id, position) keeps equal ids in trace order.
    ids.sort_unstable();
    let same = |a: u32, b: u32| -> bool {
        let (a, b) = (at[a as usize], at[b as usize]);
        let (ra, rb) = (&chunks[a.0][a.1], &chunks[b.0][b.1]);
        let (sa, sb) = (&ra.scope_spans[a.2], &rb.scope_spans[b.2]);
        ra.resource == rb.resource && sa.scope == sb.scope && sa.spans[a.3] == sb.spans[b.3]
    };
    let mut dropped = vec![false; at.len()];
    let mut i = 0;
    while i < ids.len() {
        let run = ids[i..].partition_point(|&(id, _)| id == ids[i].0);
        for j in i + 1..i + run {
            let earlier = ids[i..j]
                .iter()
                .any(|&(_, e)| !dropped[e as usize] && same(e, ids[j].1));
            dropped[ids[j].1 as usize] = earlier;
        }
        i += run;
    }
    dropped
}

#[async_trait]
impl SpanWriter for EmbeddedStore {
    async fn write_spans(&self, batch: Vec<ResourceSpans>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.blocking(move |s| s.write_at(batch, now_ns())).await
    }
}

#[async_trait]
impl SpanReader for EmbeddedStore {
    async fn get_trace(&self, params: GetTraceParams) -> Result<Option<Trace>> {
        self.blocking(move |s| s.get_trace(&params)).await
    }

    /// Attribute lists are sorted at write (data written before they were reads as
    /// sorted too: `SortCollections` still checks every span and copies the few it
    /// must sort), so the adjusters read the trace in place: moving a 10,000-span
    /// trace into their view and out again was a tenth of serving it.
    async fn get_trace_shared(&self, params: GetTraceParams) -> Result<Option<SharedTrace>> {
        Ok(self.get_trace(params).await?.map(SharedTrace::Sorted))
    }

    async fn find_traces(&self, query: &TraceQuery) -> Result<Vec<Trace>> {
        let q = query.clone();
        self.blocking(move |s| s.find_traces(&q)).await
    }

    async fn find_trace_ids(&self, query: &TraceQuery) -> Result<Vec<TraceId>> {
        let q = query.clone();
        self.blocking(move |s| search::find_trace_ids(s, &q, &mut BlockReader::default()))
            .await
    }

    async fn get_services(&self) -> Result<Vec<String>> {
        // In memory: no blocking work.
        Ok(self.inner.services())
    }

    async fn get_operations(&self, query: &OperationQuery) -> Result<Vec<Operation>> {
        Ok(self.inner.operations(query))
    }

    async fn scan_spans(
        &self,
        start: UnixNanos,
        end: UnixNanos,
        sink: tokio::sync::mpsc::Sender<Vec<ResourceSpans>>,
    ) -> Result<()> {
        // Sequential reads and decompression: a blocking thread, throttled by the sink.
        self.blocking(move |s| scan::scan_spans(s, start, end, &sink))
            .await
    }

    async fn scan_span_links(
        &self,
        scan: &crate::SpanLinkScan,
        sink: tokio::sync::mpsc::Sender<crate::SpanLinkChunk>,
    ) -> Result<()> {
        // Reads on `parallelism` threads of its own, started from a blocking thread.
        let scan = scan.clone();
        self.blocking(move |s| scan::scan_span_links(s, &scan, &sink))
            .await
    }
}

#[async_trait]
impl DependencyStore for EmbeddedStore {
    async fn get_dependencies(&self, end: UnixNanos, lookback: u64) -> Result<Vec<DependencyLink>> {
        self.blocking(move |s| s.get_dependencies(end, lookback))
            .await
    }

    async fn write_dependencies(
        &self,
        window_start: UnixNanos,
        window_end: UnixNanos,
        links: Vec<DependencyLink>,
    ) -> Result<()> {
        self.blocking(move |s| s.write_dependencies(window_start, window_end, links))
            .await
    }
}

#[async_trait]
impl StorageHealth for EmbeddedStore {
    async fn is_healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Relaxed)
    }
}
