//! The storage seam of adaptive sampling (ingest spec §3.4): per-interval throughput
//! written by every collector, and the probabilities the leader computed from it.
//!
//! Jaeger's `samplingstore.Store`: `InsertThroughput`, `InsertProbabilitiesAndQPS`,
//! `GetThroughput(start, end)`, `GetLatestProbabilities`, plus its distributed lock
//! (`Acquire` / `Forfeit`) that elects the one collector computing probabilities.
//! Implemented here in memory ([`MemorySamplingStore`]) and on disk
//! ([`EmbeddedSamplingStore`], a small fjall database of its own beside the span
//! store's), and on Jaeger's Cassandra tables in `cassandra::sampling`.
//! [`conformance`] is the behaviour every implementation is tested against.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// Takes the lease `name` for `owner` for `ttl`, or renews it when `owner` holds it
    /// already; false when another owner holds it. The default is for stores only one
    /// process opens: that process always holds every lease.
    async fn acquire_lease(&self, _name: &str, _owner: &str, _ttl: Duration) -> Result<bool> {
        Ok(true)
    }
    /// Gives the lease up if `owner` holds it; true when it did.
    async fn forfeit_lease(&self, _name: &str, _owner: &str) -> Result<bool> {
        Ok(true)
    }
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
    /// name → (owner, expiry).
    leases: HashMap<String, (String, Instant)>,
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

    // Real leases, so that stores shared by several participants in one process (tests)
    // behave as Cassandra's.
    async fn acquire_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let mut s = self.lock();
        let now = Instant::now();
        match s.leases.get(name) {
            Some((held_by, until)) if *until > now && held_by != owner => Ok(false),
            _ => {
                s.leases
                    .insert(name.to_string(), (owner.to_string(), now + ttl));
                Ok(true)
            }
        }
    }

    async fn forfeit_lease(&self, name: &str, owner: &str) -> Result<bool> {
        let mut s = self.lock();
        match s.leases.get(name) {
            Some((held_by, until)) if held_by == owner && *until > Instant::now() => {
                s.leases.remove(name);
                Ok(true)
            }
            _ => Ok(false),
        }
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

/// The behaviour every [`SamplingStore`] is tested against (called by the unit tests
/// here and by the Cassandra tests against a real server). Panics on a mismatch.
pub mod conformance {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::{SamplingStore, ServiceOperationValues, Throughput};

    /// A realistic instant (2026-11-26T00:00:00Z) in nanoseconds: stores keep time at
    /// the precision of their layout (Cassandra's TimeUUIDs: 100 ns).
    pub const BASE: u64 = 1_795_651_200_000_000_000;
    const SEC: u64 = 1_000_000_000;

    fn tp(service: &str, count: i64) -> Throughput {
        Throughput {
            service: service.into(),
            operation: "op".into(),
            count,
            probabilities: ["0.001000".to_string()].into(),
        }
    }

    /// Throughput by time and the latest probabilities, on a store with nothing stored.
    pub async fn throughput_and_probabilities(store: &dyn SamplingStore) {
        assert!(
            store
                .get_latest_probabilities()
                .await
                .expect("get")
                .is_empty(),
            "a new store has no probabilities"
        );
        store
            .insert_throughput(BASE + 10 * SEC, vec![tp("a", 1)])
            .await
            .expect("insert");
        store
            .insert_throughput(BASE + 20 * SEC, vec![tp("b", 2)])
            .await
            .expect("insert");
        store
            .insert_throughput(BASE + 20 * SEC, vec![tp("c", 3)])
            .await
            .expect("insert");
        store
            .insert_throughput(BASE + 30 * SEC, vec![tp("d", 4)])
            .await
            .expect("insert");
        // (start, end]: 10 is excluded, 30 included.
        let got = store
            .get_throughput(BASE + 10 * SEC, BASE + 30 * SEC)
            .await
            .expect("get");
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].timestamp, BASE + 20 * SEC);
        assert_eq!(got[0].throughput, vec![tp("b", 2), tp("c", 3)]);
        assert_eq!(got[1].timestamp, BASE + 30 * SEC);
        assert_eq!(got[1].throughput, vec![tp("d", 4)]);
        // The bounds are exact to the microsecond.
        let got = store
            .get_throughput(BASE + 10 * SEC - 1_000, BASE + 30 * SEC - 1_000)
            .await
            .expect("get");
        let stamps: Vec<u64> = got.iter().map(|b| b.timestamp).collect();
        assert_eq!(stamps, vec![BASE + 10 * SEC, BASE + 20 * SEC]);
        assert!(
            store
                .get_throughput(BASE + 30 * SEC, BASE + 30 * SEC)
                .await
                .expect("get")
                .is_empty()
        );
        // Names with the separators of a text encoding survive.
        let odd = Throughput {
            service: "svc, \"quoted\"".into(),
            operation: "GET /a,b\nc".into(),
            count: 7,
            probabilities: ["0.500000".to_string(), "1.000000".to_string()].into(),
        };
        store
            .insert_throughput(BASE + 40 * SEC, vec![odd.clone(), tp("e", 0)])
            .await
            .expect("insert");
        let got = store
            .get_throughput(BASE + 30 * SEC, BASE + 40 * SEC)
            .await
            .expect("get");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].throughput, vec![odd, tp("e", 0)]);

        for p in [0.5, 0.25] {
            let probs: ServiceOperationValues =
                [("a".to_string(), [("op".to_string(), p)].into())].into();
            let qps: ServiceOperationValues =
                [("a".to_string(), [("op".to_string(), 3.5)].into())].into();
            store
                .insert_probabilities_and_qps("host", probs, qps)
                .await
                .expect("insert");
        }
        let latest = store.get_latest_probabilities().await.expect("get");
        assert_eq!(latest.len(), 1);
        assert_eq!(latest["a"], HashMap::from([("op".to_string(), 0.25)]));
        let probs: ServiceOperationValues = [
            (
                "a".to_string(),
                [("op".to_string(), 1e-5), ("op, 2".to_string(), 1.0)].into(),
            ),
            ("b".to_string(), [("x".to_string(), 0.123456789)].into()),
        ]
        .into();
        store
            .insert_probabilities_and_qps("host", probs.clone(), HashMap::new())
            .await
            .expect("insert");
        assert_eq!(store.get_latest_probabilities().await.expect("get"), probs);
    }

    /// The leader lease: one owner at a time, renewable by its owner, free after the
    /// TTL or when forfeited.
    pub async fn leases(store: &dyn SamplingStore) {
        let ttl = Duration::from_secs(2);
        let lease = "sampling_store_leader";
        assert!(
            store
                .acquire_lease(lease, "one", ttl)
                .await
                .expect("acquire")
        );
        assert!(
            !store
                .acquire_lease(lease, "two", ttl)
                .await
                .expect("acquire")
        );
        // The owner renews.
        assert!(store.acquire_lease(lease, "one", ttl).await.expect("renew"));
        // Another lease name is independent.
        assert!(
            store
                .acquire_lease("other", "two", ttl)
                .await
                .expect("acquire")
        );
        // Only the owner can forfeit.
        assert!(!store.forfeit_lease(lease, "two").await.expect("forfeit"));
        assert!(store.forfeit_lease(lease, "one").await.expect("forfeit"));
        assert!(
            store
                .acquire_lease(lease, "two", ttl)
                .await
                .expect("acquire")
        );
        // Not renewed: it expires and another owner takes it.
        tokio::time::sleep(ttl + Duration::from_millis(500)).await;
        assert!(
            store
                .acquire_lease(lease, "one", ttl)
                .await
                .expect("acquire")
        );
        assert!(
            !store
                .acquire_lease(lease, "two", ttl)
                .await
                .expect("acquire")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_keeps_throughput_by_time_and_the_latest_probabilities() {
        conformance::throughput_and_probabilities(MemorySamplingStore::new().as_ref()).await;
    }

    #[tokio::test]
    async fn memory_store_leases_have_one_owner_at_a_time() {
        conformance::leases(MemorySamplingStore::new().as_ref()).await;
    }

    #[tokio::test]
    async fn embedded_store_keeps_throughput_by_time_and_the_latest_probabilities() {
        let dir = tempfile::tempdir().expect("tempdir");
        conformance::throughput_and_probabilities(
            EmbeddedSamplingStore::open(dir.path())
                .expect("open")
                .as_ref(),
        )
        .await;
        // And it survives a reopen.
        let store = EmbeddedSamplingStore::open(dir.path()).expect("reopen");
        assert_eq!(
            store.get_latest_probabilities().await.expect("get")["b"]["x"],
            0.123456789
        );
        assert_eq!(
            store.get_throughput(0, u64::MAX).await.expect("get").len(),
            4
        );
    }
}
