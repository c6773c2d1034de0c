//! Adaptive sampling (ingest spec §3.4): per service and operation, the probability that
//! makes each service send about `target_samples_per_second` sampled root spans.
//!
//! - [`Aggregator`] counts root spans carrying `sampler.type` / `sampler.param` tags
//!   (Jaeger SDKs and the OTel Jaeger-remote sampler set them) as they are written
//!   ([`ThroughputRecorder`] wraps the storage writer), and every
//!   `calculation_interval` the counts go to the [`SamplingStore`].
//! - [`Calculator`] turns the stored throughput into probabilities: QPS per bucket,
//!   weighted average of the newest `calculation_buckets` (weights ∝ i⁴, newest
//!   heaviest), `new = old × target / qps`, increases capped at +100% per step,
//!   `qps == 0` doubles, within `delta_tolerance` or "not using adaptive sampling"
//!   keeps the old value, clamped to `[min_sampling_probability, 1]`.
//! - [`start`] runs both on timers and hands every result to the [`StrategyProvider`].
//!   Only the holder of the store's `sampling_store_leader` lease calculates (Jaeger's
//!   election: renewed every `leader_lease_refresh_interval`, tried by followers every
//!   `follower_lease_refresh_interval`, which is also its TTL); followers serve the
//!   latest stored probabilities. A memory/embedded store belongs to one process, which
//!   always leads; on Cassandra collectors share the lease. Unlike Jaeger (issue
//!   jaegertracing/jaeger#6550), the leader serves what it just computed.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use jaeger_model::otlp::{KeyValue, ResourceSpans, Value};
use jaeger_proto::api_v2::{
    OperationSamplingStrategy, PerOperationSamplingStrategies, ProbabilisticSamplingStrategy,
    SamplingStrategyResponse, SamplingStrategyType,
};
use jaeger_storage::sampling::{SamplingStore, ServiceOperationValues, Throughput};
use jaeger_storage::{SpanWriter, StorageError};

use super::provider::StrategyProvider;
use super::strategies::Strategies;

/// Jaeger's `remote_sampling.adaptive` options (same names and defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveOptions {
    pub target_samples_per_second: f64,
    pub delta_tolerance: f64,
    pub calculation_interval: Duration,
    pub aggregation_buckets: usize,
    pub calculation_buckets: usize,
    pub calculation_delay: Duration,
    pub initial_sampling_probability: f64,
    pub min_sampling_probability: f64,
    pub min_samples_per_second: f64,
    /// Recorded with each calculation (`InsertProbabilitiesAndQPS`).
    pub hostname: String,
    /// How often the leader renews its lease.
    pub leader_lease_refresh_interval: Duration,
    /// How often a follower tries to take the lease; also the lease's TTL.
    pub follower_lease_refresh_interval: Duration,
}

impl Default for AdaptiveOptions {
    fn default() -> Self {
        Self {
            target_samples_per_second: 1.0,
            delta_tolerance: 0.3,
            calculation_interval: Duration::from_secs(60),
            aggregation_buckets: 10,
            calculation_buckets: 1,
            calculation_delay: Duration::from_secs(120),
            initial_sampling_probability: 0.001,
            min_sampling_probability: 1e-5,
            min_samples_per_second: 1.0 / 60.0,
            hostname: "localhost".into(),
            leader_lease_refresh_interval: Duration::from_secs(5),
            follower_lease_refresh_interval: Duration::from_secs(60),
        }
    }
}

/// The lease that elects the collector computing probabilities (Jaeger's name).
pub const LEADER_LEASE: &str = "sampling_store_leader";

/// Increases are capped at this fraction of the old probability per calculation.
const PERCENTAGE_INCREASE_CAP: f64 = 1.0;
/// At most this many distinct probabilities are kept per operation and interval.
const MAX_PROBABILITIES: usize = 10;

/// A probability as the throughput records it: 6 decimals (Go `FormatFloat(v,'f',6)`).
pub fn truncate_probability(p: f64) -> String {
    format!("{p:.6}")
}

/// Counts sampled root spans per (service, operation) between two flushes.
#[derive(Default)]
pub struct Aggregator {
    current: Mutex<HashMap<(String, String), Throughput>>,
}

fn str_value(kv: &KeyValue) -> Option<&str> {
    match kv.value.as_ref()?.value.as_ref()? {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}

/// `sampler.param` as a float: double, int or numeric string.
fn float_value(kv: &KeyValue) -> Option<f64> {
    match kv.value.as_ref()?.value.as_ref()? {
        Value::DoubleValue(v) => Some(*v),
        Value::IntValue(v) => Some(*v as f64),
        Value::StringValue(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Aggregator {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Looks at the root spans of a batch.
    pub fn record(&self, batch: &[ResourceSpans]) {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        for rs in batch {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .and_then(str_value)
                .unwrap_or("");
            if service.is_empty() {
                continue;
            }
            for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
                let is_root = span.parent_span_id.iter().all(|b| *b == 0);
                if !is_root || span.name.is_empty() {
                    continue;
                }
                let attr = |k: &str| span.attributes.iter().find(|a| a.key == k);
                let (Some(kind), Some(param)) = (
                    attr("sampler.type").and_then(str_value),
                    attr("sampler.param").and_then(float_value),
                ) else {
                    continue;
                };
                if !matches!(
                    kind,
                    "probabilistic" | "lowerbound" | "ratelimiting" | "const"
                ) {
                    continue;
                }
                let entry = current
                    .entry((service.to_string(), span.name.clone()))
                    .or_insert_with(|| Throughput {
                        service: service.to_string(),
                        operation: span.name.clone(),
                        ..Default::default()
                    });
                if kind == "probabilistic" {
                    entry.count += 1;
                    if entry.probabilities.len() < MAX_PROBABILITIES {
                        entry.probabilities.insert(truncate_probability(param));
                    }
                }
            }
        }
    }

    /// The counts since the last call; resets them.
    pub fn take(&self) -> Vec<Throughput> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *current).into_values().collect()
    }
}

/// The storage writer with the aggregator in front: spans are counted once written.
pub struct ThroughputRecorder {
    inner: Arc<dyn SpanWriter>,
    aggregator: Arc<Aggregator>,
}

impl ThroughputRecorder {
    pub fn wrap(inner: Arc<dyn SpanWriter>, aggregator: Arc<Aggregator>) -> Arc<dyn SpanWriter> {
        Arc::new(Self { inner, aggregator })
    }
}

#[async_trait]
impl SpanWriter for ThroughputRecorder {
    async fn write_spans(&self, batch: Vec<ResourceSpans>) -> Result<(), StorageError> {
        self.aggregator.record(&batch);
        self.inner.write_spans(batch).await
    }
}

/// Throughput of one calculation bucket, summed over collectors.
struct Bucket {
    interval: Duration,
    throughput: HashMap<(String, String), Throughput>,
}

/// The post-aggregator's calculation, without timers or storage (unit-testable).
pub struct Calculator {
    opts: AdaptiveOptions,
    /// Newest first, at most `aggregation_buckets`.
    buckets: VecDeque<Bucket>,
    probabilities: ServiceOperationValues,
    /// (probability, using adaptive sampling) of the previous calculation.
    previous: HashMap<(String, String), (f64, bool)>,
}

/// Weights of `n` buckets, newest first: ∝ (n − i)⁴, summing to 1.
pub fn weights(n: usize) -> Vec<f64> {
    let raw: Vec<f64> = (0..n).map(|i| ((n - i) as f64).powi(4)).collect();
    let sum: f64 = raw.iter().sum();
    raw.into_iter().map(|w| w / sum).collect()
}

/// The weighted average of QPS values, newest first.
pub fn weighted_qps(qps: &[f64]) -> f64 {
    qps.iter().zip(weights(qps.len())).map(|(q, w)| q * w).sum()
}

/// `old × target / qps`, with increases capped at +100%.
pub fn capped_probability(target: f64, qps: f64, old: f64) -> f64 {
    let factor = target / qps;
    let new = old * factor;
    if factor > 1.0 && (new - old) / old > PERCENTAGE_INCREASE_CAP {
        old + old * PERCENTAGE_INCREASE_CAP
    } else {
        new
    }
}

impl Calculator {
    pub fn new(opts: AdaptiveOptions, probabilities: ServiceOperationValues) -> Self {
        Self {
            opts,
            buckets: VecDeque::new(),
            probabilities,
            previous: HashMap::new(),
        }
    }

    pub fn probabilities(&self) -> &ServiceOperationValues {
        &self.probabilities
    }

    /// Takes over probabilities another leader computed (a follower's refresh).
    pub fn set_probabilities(&mut self, probabilities: ServiceOperationValues) {
        self.probabilities = probabilities;
    }

    /// Adds the throughput of one interval (rows of every collector; counts are summed
    /// per service and operation, probabilities merged) as the newest bucket.
    pub fn add_bucket(&mut self, interval: Duration, rows: Vec<Throughput>) {
        let mut throughput: HashMap<(String, String), Throughput> = HashMap::new();
        for t in rows {
            let e = throughput
                .entry((t.service.clone(), t.operation.clone()))
                .or_insert_with(|| Throughput {
                    service: t.service.clone(),
                    operation: t.operation.clone(),
                    count: 0,
                    probabilities: BTreeSet::new(),
                });
            e.count += t.count;
            e.probabilities.extend(t.probabilities);
        }
        self.buckets.push_front(Bucket {
            interval,
            throughput,
        });
        self.buckets.truncate(self.opts.aggregation_buckets.max(1));
    }

    /// QPS per (service, operation), newest first, from the newest
    /// `calculation_buckets` buckets in which the operation appears.
    fn qps_series(&self) -> HashMap<(String, String), Vec<f64>> {
        let mut out: HashMap<(String, String), Vec<f64>> = HashMap::new();
        for b in &self.buckets {
            let secs = b.interval.as_secs_f64();
            for (key, t) in &b.throughput {
                let series = out.entry(key.clone()).or_default();
                if series.len() < self.opts.calculation_buckets.max(1) && secs > 0.0 {
                    series.push(t.count as f64 / secs);
                }
            }
        }
        out
    }

    fn using_adaptive(&self, key: &(String, String), probability: f64) -> bool {
        if (probability - self.opts.initial_sampling_probability).abs() < 1e-15 {
            // First time seen: assume it is.
            return true;
        }
        if let Some(t) = self.buckets.front().and_then(|b| b.throughput.get(key)) {
            return t.probabilities.contains(&truncate_probability(probability));
        }
        // No throughput this round: what the previous calculation said.
        match self.previous.get(key) {
            Some((p, using)) => {
                *using && (p - self.opts.initial_sampling_probability).abs() >= 1e-15
            }
            None => false,
        }
    }

    /// The new probability of one operation from its weighted QPS.
    pub fn probability(&mut self, service: &str, operation: &str, qps: f64) -> f64 {
        let o = &self.opts;
        let old = self
            .probabilities
            .get(service)
            .and_then(|ops| ops.get(operation))
            .copied()
            .unwrap_or(o.initial_sampling_probability);
        let key = (service.to_string(), operation.to_string());
        let using = self.using_adaptive(&key, old);
        self.previous.insert(key, (old, using));
        let target = o.target_samples_per_second;
        if (qps - target).abs() / target < o.delta_tolerance || !using {
            return old;
        }
        let new = if qps.abs() < 1e-15 {
            // Nothing sampled: double, so the operation gets sampled at all.
            old * 2.0
        } else {
            capped_probability(target, qps, old)
        };
        new.max(o.min_sampling_probability).min(1.0)
    }

    /// Recomputes every operation's probability from the buckets; returns the
    /// probabilities and the weighted QPS.
    pub fn calculate(&mut self) -> (ServiceOperationValues, ServiceOperationValues) {
        let mut qps_out: ServiceOperationValues = HashMap::new();
        let mut probs: ServiceOperationValues = self.probabilities.clone();
        let mut series: Vec<_> = self.qps_series().into_iter().collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        for ((service, operation), qps) in series {
            let avg = weighted_qps(&qps);
            let p = self.probability(&service, &operation, avg);
            qps_out
                .entry(service.clone())
                .or_default()
                .insert(operation.clone(), avg);
            probs.entry(service).or_default().insert(operation, p);
        }
        self.probabilities = probs.clone();
        (probs, qps_out)
    }
}

/// The responses served for `probabilities` (spec §3.2, adaptive form): per service a
/// probabilistic strategy with per-operation rates; unknown services get the default.
pub fn strategies(opts: &AdaptiveOptions, probabilities: &ServiceOperationValues) -> Strategies {
    let default = SamplingStrategyResponse {
        strategy_type: SamplingStrategyType::Probabilistic as i32,
        probabilistic_sampling: None,
        rate_limiting_sampling: None,
        operation_sampling: Some(PerOperationSamplingStrategies {
            default_sampling_probability: opts.initial_sampling_probability,
            default_lower_bound_traces_per_second: opts.min_samples_per_second,
            per_operation_strategies: Vec::new(),
            default_upper_bound_traces_per_second: 0.0,
        }),
    };
    let services = probabilities
        .iter()
        .map(|(service, ops)| {
            let mut ops: Vec<_> = ops.iter().collect();
            ops.sort_by(|a, b| a.0.cmp(b.0));
            let mut resp = default.clone();
            if let Some(o) = resp.operation_sampling.as_mut() {
                o.per_operation_strategies = ops
                    .into_iter()
                    .map(|(op, p)| OperationSamplingStrategy {
                        operation: op.clone(),
                        probabilistic_sampling: Some(ProbabilisticSamplingStrategy {
                            sampling_rate: *p,
                        }),
                    })
                    .collect();
            }
            (service.clone(), resp)
        })
        .collect();
    Strategies { default, services }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Starts adaptive sampling: loads the latest probabilities into `provider`, then every
/// `calculation_interval` writes the aggregator's counts to `store` and recomputes the
/// probabilities from the throughput stored up to `calculation_delay` ago. Both tasks
/// end when `stop` resolves. Storage errors are logged and retried next interval.
pub async fn start(
    opts: AdaptiveOptions,
    store: Arc<dyn SamplingStore>,
    aggregator: Arc<Aggregator>,
    provider: StrategyProvider,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    let latest = match store.get_latest_probabilities().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "adaptive sampling: cannot read the latest probabilities");
            HashMap::new()
        }
    };
    provider.replace(strategies(&opts, &latest));
    let mut calculator = Calculator::new(opts.clone(), latest);
    let delay = opts.calculation_delay.as_nanos() as u64;
    let mut last_checked = now_nanos().saturating_sub(delay);
    let interval = opts.calculation_interval.max(Duration::from_millis(10));
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let leader = elect(&opts, store.clone(), done_rx).await;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = tick.tick() => {}
            }
            // Aggregator: this interval's counts.
            let counts = aggregator.take();
            if let Err(e) = store.insert_throughput(now_nanos(), counts).await {
                tracing::warn!(error = %e, "adaptive sampling: cannot store throughput");
            }
            // Post-aggregator: throughput in (last checked, now − delay].
            let end = now_nanos().saturating_sub(delay);
            if end <= last_checked {
                continue;
            }
            let rows = match store.get_throughput(last_checked, end).await {
                Ok(b) => b.into_iter().flat_map(|b| b.throughput).collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "adaptive sampling: cannot read throughput");
                    continue;
                }
            };
            // Followers keep the buckets too, ready to calculate when they lead.
            calculator.add_bucket(Duration::from_nanos(end - last_checked), rows);
            last_checked = end;
            if !leader.load(Ordering::Relaxed) {
                match store.get_latest_probabilities().await {
                    Ok(latest) => {
                        provider.replace(strategies(&opts, &latest));
                        calculator.set_probabilities(latest);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "adaptive sampling: cannot read the latest probabilities");
                    }
                }
                continue;
            }
            let (probabilities, qps) = calculator.calculate();
            provider.replace(strategies(&opts, &probabilities));
            if let Err(e) = store
                .insert_probabilities_and_qps(&opts.hostname, probabilities, qps)
                .await
            {
                tracing::warn!(error = %e, "adaptive sampling: cannot store probabilities");
            }
        }
        let _ = done_tx.send(true);
    });
}

/// Jaeger's election participant: tries the lease once now, then keeps trying (or
/// renewing) in the background until `done`; gives it up at the end. A failed attempt
/// keeps the current role. Returns whether this process leads.
async fn elect(
    opts: &AdaptiveOptions,
    store: Arc<dyn SamplingStore>,
    mut done: tokio::sync::watch::Receiver<bool>,
) -> Arc<AtomicBool> {
    // Unique per process, so two collectors on one host do not share the lease.
    let owner = format!(
        "{}-{:08x}",
        opts.hostname,
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish() as u32
    );
    let ttl = opts.follower_lease_refresh_interval;
    let (leader_every, follower_every) = (
        opts.leader_lease_refresh_interval
            .max(Duration::from_millis(10)),
        opts.follower_lease_refresh_interval
            .max(Duration::from_millis(10)),
    );
    let leader = Arc::new(AtomicBool::new(false));
    let attempt = {
        let (store, owner, leader) = (store.clone(), owner.clone(), leader.clone());
        move || {
            let (store, owner, leader) = (store.clone(), owner.clone(), leader.clone());
            async move {
                match store.acquire_lease(LEADER_LEASE, &owner, ttl).await {
                    Ok(l) => {
                        if l != leader.swap(l, Ordering::Relaxed) {
                            tracing::info!(
                                owner,
                                leader = l,
                                "adaptive sampling: leadership changed"
                            );
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "adaptive sampling: cannot acquire the leader lease");
                    }
                }
            }
        }
    };
    attempt().await;
    let l = leader.clone();
    tokio::spawn(async move {
        loop {
            let every = if l.load(Ordering::Relaxed) {
                leader_every
            } else {
                follower_every
            };
            tokio::select! {
                _ = done.changed() => break,
                _ = tokio::time::sleep(every) => attempt().await,
            }
        }
        if l.load(Ordering::Relaxed)
            && let Err(e) = store.forfeit_lease(LEADER_LEASE, &owner).await
        {
            tracing::warn!(error = %e, "adaptive sampling: cannot give up the leader lease");
        }
    });
    leader
}
