//! The storage seam of adaptive sampling (ingest spec §3.4): per-interval throughput
//! written by every collector, and the probabilities the leader computed from it.
//!
//! Jaeger's `samplingstore.Store`: `InsertThroughput`, `InsertProbabilitiesAndQPS`,
//! `GetThroughput(start, end)`, `GetLatestProbabilities`. Implemented here in memory
//! ([`MemorySamplingStore`]) and on disk ([`EmbeddedSamplingStore`], a small fjall
//! database of its own beside the span store's).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Result, StorageError};

/// Root spans seen for one service and operation during one aggregation interval.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throughput {
    pub service: String,
    pub operation: String,
    /// Root spans sampled by a probabilistic sampler.
    pub count: i64,
    /// The sampler probabilities those spans reported, as 6-decimal strings.
    pub probabilities: BTreeSet<String>,
}

/// service → operation → value.
pub type ServiceOperationValues = HashMap<String, HashMap<String, f64>>;

/// Throughput written at `timestamp` (Unix nanoseconds) by one collector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThroughputBucket {
    pub timestamp: u64,
    pub throughput: Vec<Throughput>,
}

#[async_trait]
pub trait SamplingStore: Send + Sync {
    /// Stores one interval's throughput, stamped `timestamp` (Unix nanoseconds).
    async fn insert_throughput(&self, timestamp: u64, throughput: Vec<Throughput>) -> Result<()>;
    /// Every throughput stamped in `(start, end]`, oldest first.
    async fn get_throughput(&self, start: u64, end: u64) -> Result<Vec<ThroughputBucket>>;
    /// Stores the probabilities (and the QPS they were computed from) of one calculation.
    async fn insert_probabilities_and_qps(
        &self,
        hostname: &str,
        probabilities: ServiceOperationValues,
        qps: ServiceOperationValues,
    ) -> Result<()>;
    /// The newest probabilities, empty when none were stored.
    async fn get_latest_probabilities(&self) -> Result<ServiceOperationValues>;
}

/// How many calculations a store keeps; only the newest is ever read.
const KEPT_PROBABILITIES: usize = 10;
/// Throughput older than this many buckets is of no use to any reader (the
/// calculation reads `aggregation_buckets`, default 10, plus its delay).
const KEPT_THROUGHPUT: usize = 1000;

#[derive(Default)]
struct MemoryState {
    throughput: BTreeMap<u64, Vec<Throughput>>,
    probabilities: Vec<(String, ServiceOperationValues, ServiceOperationValues)>,
}

/// The in-memory sampling store (one process; lost on restart, as Jaeger's).
#[derive(Default)]
pub struct MemorySamplingStore {
    state: Mutex<MemoryState>,
}

impl MemorySamplingStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // A poisoned lock only means a holder panicked; the maps are whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl SamplingStore for MemorySamplingStore {
    async fn insert_throughput(&self, timestamp: u64, throughput: Vec<Throughput>) -> Result<()> {
        let mut s = self.lock();
        s.throughput
            .entry(timestamp)
            .or_default()
            .extend(throughput);
        while s.throughput.len() > KEPT_THROUGHPUT {
            s.throughput.pop_first();
        }
        Ok(())
    }

    async fn get_throughput(&self, start: u64, end: u64) -> Result<Vec<ThroughputBucket>> {
        if start >= end {
            return Ok(Vec::new());
        }
        let s = self.lock();
        Ok(s.throughput
            .range(start.saturating_add(1)..=end)
            .map(|(t, v)| ThroughputBucket {
                timestamp: *t,
                throughput: v.clone(),
            })
            .collect())
    }

    async fn insert_probabilities_and_qps(
        &self,
        hostname: &str,
        probabilities: ServiceOperationValues,
        qps: ServiceOperationValues,
    ) -> Result<()> {
        let mut s = self.lock();
        s.probabilities
            .push((hostname.to_string(), probabilities, qps));
        if s.probabilities.len() > KEPT_PROBABILITIES {
            s.probabilities.remove(0);
        }
        Ok(())
    }

    async fn get_latest_probabilities(&self) -> Result<ServiceOperationValues> {
        Ok(self
            .lock()
            .probabilities
            .last()
            .map(|(_, p, _)| p.clone())
            .unwrap_or_default())
    }
}

/// The sampling store on disk: a fjall database in its own directory (by default
/// `<embedded data dir>/sampling`), so it needs nothing of the span store's layout.
/// Keys are big-endian timestamps, values JSON.
pub struct EmbeddedSamplingStore {
    db: fjall::Database,
    throughput: fjall::Keyspace,
    probabilities: fjall::Keyspace,
    /// Orders timestamps of probabilities written within one nanosecond.
    seq: Mutex<u64>,
}

fn engine(e: impl std::fmt::Display) -> StorageError {
    StorageError::Engine(e.to_string())
}

impl EmbeddedSamplingStore {
    /// Opens (or creates) the store in `dir`. Blocking: call it off the async workers.
    pub fn open(dir: &Path) -> Result<Arc<Self>> {
        let db = fjall::Database::builder(dir).open().map_err(engine)?;
        let throughput = db
            .keyspace("throughput", fjall::KeyspaceCreateOptions::default)
            .map_err(engine)?;
        let probabilities = db
            .keyspace("probabilities", fjall::KeyspaceCreateOptions::default)
            .map_err(engine)?;
        Ok(Arc::new(Self {
            db,
            throughput,
            probabilities,
            seq: Mutex::new(0),
        }))
    }

    fn next_key(&self, timestamp: u64) -> [u8; 16] {
        let mut seq = self.seq.lock().unwrap_or_else(|e| e.into_inner());
        *seq += 1;
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&timestamp.to_be_bytes());
        key[8..].copy_from_slice(&seq.to_be_bytes());
        key
    }
}

#[derive(Serialize, Deserialize)]
struct StoredProbabilities {
    hostname: String,
    probabilities: ServiceOperationValues,
    qps: ServiceOperationValues,
}

#[async_trait]
impl SamplingStore for EmbeddedSamplingStore {
    async fn insert_throughput(&self, timestamp: u64, throughput: Vec<Throughput>) -> Result<()> {
        let value = serde_json::to_vec(&throughput).map_err(engine)?;
        let key = self.next_key(timestamp);
        self.throughput.insert(key, value).map_err(engine)?;
        self.db.persist(fjall::PersistMode::Buffer).map_err(engine)
    }

    async fn get_throughput(&self, start: u64, end: u64) -> Result<Vec<ThroughputBucket>> {
        if start >= end {
            return Ok(Vec::new());
        }
        let lo = (start + 1).to_be_bytes();
        let hi = end.saturating_add(1).to_be_bytes();
        let mut out: Vec<ThroughputBucket> = Vec::new();
        for kv in self.throughput.range(lo..hi) {
            let (k, v) = kv.into_inner().map_err(engine)?;
            let ts = u64::from_be_bytes(k[..8].try_into().map_err(engine)?);
            let throughput: Vec<Throughput> = serde_json::from_slice(&v).map_err(engine)?;
            match out.last_mut() {
                Some(b) if b.timestamp == ts => b.throughput.extend(throughput),
                _ => out.push(ThroughputBucket {
                    timestamp: ts,
                    throughput,
                }),
            }
        }
        Ok(out)
    }

    async fn insert_probabilities_and_qps(
        &self,
        hostname: &str,
        probabilities: ServiceOperationValues,
        qps: ServiceOperationValues,
    ) -> Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let value = serde_json::to_vec(&StoredProbabilities {
            hostname: hostname.to_string(),
            probabilities,
            qps,
        })
        .map_err(engine)?;
        let key = self.next_key(now);
        self.probabilities.insert(key, value).map_err(engine)?;
        self.db.persist(fjall::PersistMode::Buffer).map_err(engine)
    }

    async fn get_latest_probabilities(&self) -> Result<ServiceOperationValues> {
        match self.probabilities.last_key_value() {
            None => Ok(HashMap::new()),
            Some(kv) => {
                let (_, v) = kv.into_inner().map_err(engine)?;
                let stored: StoredProbabilities = serde_json::from_slice(&v).map_err(engine)?;
                Ok(stored.probabilities)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(service: &str, count: i64) -> Throughput {
        Throughput {
            service: service.into(),
            operation: "op".into(),
            count,
            probabilities: ["0.001000".to_string()].into(),
        }
    }

    async fn conformance(store: &dyn SamplingStore) {
        assert!(
            store
                .get_latest_probabilities()
                .await
                .expect("get")
                .is_empty()
        );
        store
            .insert_throughput(10, vec![tp("a", 1)])
            .await
            .expect("insert");
        store
            .insert_throughput(20, vec![tp("b", 2)])
            .await
            .expect("insert");
        store
            .insert_throughput(20, vec![tp("c", 3)])
            .await
            .expect("insert");
        store
            .insert_throughput(30, vec![tp("d", 4)])
            .await
            .expect("insert");
        // (start, end]: 10 is excluded, 30 included.
        let got = store.get_throughput(10, 30).await.expect("get");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].timestamp, 20);
        assert_eq!(got[0].throughput, vec![tp("b", 2), tp("c", 3)]);
        assert_eq!(got[1].throughput, vec![tp("d", 4)]);
        assert!(store.get_throughput(30, 30).await.expect("get").is_empty());

        for p in [0.5, 0.25] {
            let probs: ServiceOperationValues =
                [("a".to_string(), [("op".to_string(), p)].into())].into();
            store
                .insert_probabilities_and_qps("host", probs, HashMap::new())
                .await
                .expect("insert");
        }
        assert_eq!(
            store.get_latest_probabilities().await.expect("get")["a"]["op"],
            0.25
        );
    }

    #[tokio::test]
    async fn memory_store_keeps_throughput_by_time_and_the_latest_probabilities() {
        conformance(MemorySamplingStore::new().as_ref()).await;
    }

    #[tokio::test]
    async fn embedded_store_keeps_throughput_by_time_and_the_latest_probabilities() {
        let dir = tempfile::tempdir().expect("tempdir");
        conformance(
            EmbeddedSamplingStore::open(dir.path())
                .expect("open")
                .as_ref(),
        )
        .await;
        // And it survives a reopen.
        let store = EmbeddedSamplingStore::open(dir.path()).expect("reopen");
        assert_eq!(
            store.get_latest_probabilities().await.expect("get")["a"]["op"],
            0.25
        );
        assert_eq!(store.get_throughput(0, 100).await.expect("get").len(), 3);
    }
}
