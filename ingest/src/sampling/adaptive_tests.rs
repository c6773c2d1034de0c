//! Adaptive sampling: the calculation against the spec's formulas and defaults (§3.4),
//! and the served strategy changing after traffic.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use jaeger_config::QueueConfig;
use jaeger_model::otlp::{AnyValue, KeyValue, Resource, ResourceSpans, ScopeSpans, Span, Value};
use jaeger_storage::memory::MemoryStore;
use jaeger_storage::sampling::{MemorySamplingStore, SamplingStore, Throughput};
use tower::ServiceExt;

use super::adaptive::*;
use super::{Strategies, StrategyProvider, sampling_http_router, strategies::to_json};
use crate::queue::SpanQueue;

fn tp(op: &str, count: i64, probs: &[&str]) -> Throughput {
    Throughput {
        service: "svc".into(),
        operation: op.into(),
        count,
        probabilities: probs.iter().map(|p| p.to_string()).collect(),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn defaults_are_jaegers() {
    let o = AdaptiveOptions::default();
    assert_eq!(o.target_samples_per_second, 1.0);
    assert_eq!(o.delta_tolerance, 0.3);
    assert_eq!(o.calculation_interval, Duration::from_secs(60));
    assert_eq!(o.aggregation_buckets, 10);
    assert_eq!(o.calculation_buckets, 1);
    assert_eq!(o.calculation_delay, Duration::from_secs(120));
    assert_eq!(o.initial_sampling_probability, 0.001);
    assert_eq!(o.min_sampling_probability, 1e-5);
    assert!(close(o.min_samples_per_second, 1.0 / 60.0));
}

#[test]
fn weights_grow_with_the_fourth_power_newest_first() {
    let w = weights(3);
    assert!(close(w[0], 81.0 / 98.0) && close(w[1], 16.0 / 98.0) && close(w[2], 1.0 / 98.0));
    assert!(close(weighted_qps(&[2.0]), 2.0));
    assert!(close(weighted_qps(&[10.0, 0.0]), 10.0 * 16.0 / 17.0));
    assert_eq!(weighted_qps(&[]), 0.0);
}

#[test]
fn increases_are_capped_at_double_and_decreases_apply_at_once() {
    // qps 0.25 against target 1: ×4 wanted, ×2 allowed.
    assert!(close(capped_probability(1.0, 0.25, 0.001), 0.002));
    // qps 0.8: ×1.25 is under the cap.
    assert!(close(capped_probability(1.0, 0.8, 0.001), 0.00125));
    // qps 10: straight to a tenth.
    assert!(close(capped_probability(1.0, 10.0, 0.001), 0.0001));
}

fn calc() -> Calculator {
    Calculator::new(AdaptiveOptions::default(), HashMap::new())
}

#[test]
fn probability_follows_the_target_within_bounds() {
    let mut c = calc();
    // First sight (old = initial 0.001): 600 sampled roots in a minute = 10 qps.
    c.add_bucket(Duration::from_secs(60), vec![tp("op", 600, &["0.001000"])]);
    let (p, qps) = c.calculate();
    assert!(close(qps["svc"]["op"], 10.0));
    assert!(close(p["svc"]["op"], 0.0001));

    // Within tolerance (|1.2 − 1| / 1 < 0.3): unchanged.
    c.add_bucket(Duration::from_secs(60), vec![tp("op", 72, &["0.000100"])]);
    assert!(close(c.calculate().0["svc"]["op"], 0.0001));

    // No sampled roots at all: doubled.
    c.add_bucket(Duration::from_secs(60), vec![tp("op", 0, &["0.000100"])]);
    assert!(close(c.calculate().0["svc"]["op"], 0.0002));

    // Far over target: clamped at min_sampling_probability.
    c.add_bucket(
        Duration::from_secs(60),
        vec![tp("op", 6_000_000, &["0.000200"])],
    );
    assert!(close(c.calculate().0["svc"]["op"], 1e-5));
}

#[test]
fn probability_never_exceeds_one() {
    let mut c = Calculator::new(
        AdaptiveOptions::default(),
        [("svc".to_string(), [("op".to_string(), 0.8)].into())].into(),
    );
    c.add_bucket(Duration::from_secs(60), vec![tp("op", 6, &["0.800000"])]);
    assert_eq!(c.calculate().0["svc"]["op"], 1.0);
}

#[test]
fn operations_not_sampled_at_the_adaptive_probability_keep_theirs() {
    // The stored probability is 0.5 but the spans report 0.25 (a fixed sampler):
    // not using adaptive sampling, so the probability stays.
    let mut c = Calculator::new(
        AdaptiveOptions::default(),
        [("svc".to_string(), [("op".to_string(), 0.5)].into())].into(),
    );
    c.add_bucket(Duration::from_secs(60), vec![tp("op", 6000, &["0.250000"])]);
    assert_eq!(c.calculate().0["svc"]["op"], 0.5);
}

#[test]
fn counts_of_collectors_are_summed_and_only_the_newest_buckets_count() {
    let mut c = Calculator::new(
        AdaptiveOptions {
            calculation_buckets: 2,
            ..Default::default()
        },
        HashMap::new(),
    );
    c.add_bucket(Duration::from_secs(60), vec![tp("op", 6000, &["0.001000"])]);
    // Two collectors, 60 each in the newest minute: 2 qps.
    c.add_bucket(
        Duration::from_secs(60),
        vec![tp("op", 60, &["0.001000"]), tp("op", 60, &["0.001000"])],
    );
    c.add_bucket(Duration::from_secs(60), vec![tp("op", 120, &["0.001000"])]);
    // The oldest bucket (100 qps) is outside the two newest: qps = 2.
    let (p, qps) = c.calculate();
    assert!(close(qps["svc"]["op"], 2.0));
    assert!(close(p["svc"]["op"], 0.0005));
}

fn root(service: &str, op: &str, kind: &str, param: Value, id: u64) -> ResourceSpans {
    let kv = |k: &str, v: Value| KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    };
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", Value::StringValue(service.into()))],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: vec![Span {
                trace_id: [id.to_be_bytes(), 1u64.to_be_bytes()].concat(),
                span_id: id.to_be_bytes().to_vec(),
                name: op.into(),
                start_time_unix_nano: 1_700_000_000_000_000_000,
                end_time_unix_nano: 1_700_000_000_001_000_000,
                attributes: vec![
                    kv("sampler.type", Value::StringValue(kind.into())),
                    kv("sampler.param", param),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn aggregator_counts_probabilistic_roots_and_registers_the_others() {
    let a = Aggregator::new();
    a.record(&[
        root("svc", "a", "probabilistic", Value::DoubleValue(0.001), 1),
        root(
            "svc",
            "a",
            "probabilistic",
            Value::StringValue("0.5".into()),
            2,
        ),
        root("svc", "b", "ratelimiting", Value::IntValue(2), 3),
        root("svc", "c", "unknown", Value::IntValue(1), 4),
    ]);
    let mut got = a.take();
    got.sort_by(|x, y| x.operation.cmp(&y.operation));
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].count, 2);
    assert_eq!(
        got[0].probabilities,
        ["0.001000".to_string(), "0.500000".to_string()].into()
    );
    assert_eq!((got[1].operation.as_str(), got[1].count), ("b", 0));
    assert!(a.take().is_empty(), "take resets");
}

#[test]
fn adaptive_strategy_json_has_per_operation_rates_and_no_top_level_probability() {
    let s = strategies(
        &AdaptiveOptions::default(),
        &[("svc".to_string(), [("op".to_string(), 0.5)].into())].into(),
    );
    assert_eq!(
        to_json(s.lookup("svc"), false),
        r#"{"strategyType":"PROBABILISTIC","operationSampling":{"defaultSamplingProbability":0.001,"defaultLowerBoundTracesPerSecond":0.016666666666666666,"perOperationStrategies":[{"operation":"op","probabilisticSampling":{"samplingRate":0.5}}],"defaultUpperBoundTracesPerSecond":0}}"#
    );
    assert!(to_json(s.lookup("other"), false).contains(r#""perOperationStrategies":[]"#));
}

async fn served(provider: &StrategyProvider, service: &str) -> String {
    let resp = sampling_http_router(provider.clone())
        .oneshot(
            http::Request::get(format!("/sampling?service={service}"))
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(resp.status(), http::StatusCode::OK);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8(body.to_vec()).expect("utf-8")
}

#[tokio::test]
async fn served_strategy_changes_after_traffic() {
    // Spans go through the real queue into the memory store with the aggregator in
    // front; the strategy is read through the sampling HTTP endpoint.
    let opts = AdaptiveOptions {
        calculation_interval: Duration::from_millis(200),
        calculation_delay: Duration::ZERO,
        ..Default::default()
    };
    let sampling_store = MemorySamplingStore::new();
    let aggregator = Aggregator::new();
    let writer = ThroughputRecorder::wrap(MemoryStore::new(100_000), aggregator.clone());
    let queue = SpanQueue::new(&QueueConfig::default(), writer);
    let provider = StrategyProvider::fixed(Strategies::defaults(0.001));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    start(
        opts,
        sampling_store.clone() as Arc<dyn SamplingStore>,
        aggregator,
        provider.clone(),
        async move {
            let _ = stop_rx.await;
        },
    )
    .await;
    let before = served(&provider, "checkout").await;
    assert!(
        before.contains(r#""perOperationStrategies":[]"#),
        "{before}"
    );

    // Far more than 1 sampled root per second at the initial probability.
    for i in 0..500u64 {
        let batch = vec![root(
            "checkout",
            "pay",
            "probabilistic",
            Value::DoubleValue(0.001),
            i + 1,
        )];
        queue
            .submit(batch, 100, "test", "test")
            .await
            .expect("submit");
    }
    let mut after = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = served(&provider, "checkout").await;
        if after.contains(r#""operation":"pay""#) {
            break;
        }
    }
    assert!(after.contains(r#""operation":"pay""#), "{after}");
    let probs = sampling_store
        .get_latest_probabilities()
        .await
        .expect("stored");
    let p = probs["checkout"]["pay"];
    assert!((1e-5..0.001).contains(&p), "lowered, got {p}");
    assert!(after.contains(&format!(
        r#""samplingRate":{}"#,
        super::strategies::go_float(p)
    )));
    let _ = stop_tx.send(());
    queue.shutdown().await;
}

/// A shared store that counts the calculations written to it.
struct Counting {
    inner: Arc<MemorySamplingStore>,
    written: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl SamplingStore for Counting {
    async fn insert_throughput(
        &self,
        timestamp: u64,
        throughput: Vec<Throughput>,
    ) -> jaeger_storage::Result<()> {
        self.inner.insert_throughput(timestamp, throughput).await
    }
    async fn get_throughput(
        &self,
        start: u64,
        end: u64,
    ) -> jaeger_storage::Result<Vec<jaeger_storage::sampling::ThroughputBucket>> {
        self.inner.get_throughput(start, end).await
    }
    async fn insert_probabilities_and_qps(
        &self,
        hostname: &str,
        probabilities: jaeger_storage::sampling::ServiceOperationValues,
        qps: jaeger_storage::sampling::ServiceOperationValues,
    ) -> jaeger_storage::Result<()> {
        self.written
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner
            .insert_probabilities_and_qps(hostname, probabilities, qps)
            .await
    }
    async fn get_latest_probabilities(
        &self,
    ) -> jaeger_storage::Result<jaeger_storage::sampling::ServiceOperationValues> {
        self.inner.get_latest_probabilities().await
    }
    async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: Duration,
    ) -> jaeger_storage::Result<bool> {
        self.inner.acquire_lease(name, owner, ttl).await
    }
    async fn forfeit_lease(&self, name: &str, owner: &str) -> jaeger_storage::Result<bool> {
        self.inner.forfeit_lease(name, owner).await
    }
}

#[tokio::test]
async fn a_follower_serves_the_leaders_probabilities_and_leads_once_the_lease_is_free() {
    let inner = MemorySamplingStore::new();
    let store = Arc::new(Counting {
        inner: inner.clone(),
        written: Default::default(),
    });
    // Another collector leads.
    assert!(
        inner
            .acquire_lease(LEADER_LEASE, "other", Duration::from_secs(60))
            .await
            .expect("lease")
    );
    let opts = AdaptiveOptions {
        calculation_interval: Duration::from_millis(100),
        calculation_delay: Duration::ZERO,
        leader_lease_refresh_interval: Duration::from_millis(50),
        follower_lease_refresh_interval: Duration::from_millis(200),
        ..Default::default()
    };
    let provider = StrategyProvider::fixed(Strategies::defaults(0.001));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    start(
        opts,
        store.clone() as Arc<dyn SamplingStore>,
        Aggregator::new(),
        provider.clone(),
        async move {
            let _ = stop_rx.await;
        },
    )
    .await;
    let theirs: jaeger_storage::sampling::ServiceOperationValues = HashMap::from([(
        "checkout".to_string(),
        HashMap::from([("pay".to_string(), 0.25)]),
    )]);
    inner
        .insert_probabilities_and_qps("other", theirs.clone(), HashMap::new())
        .await
        .expect("insert");
    let mut now_served = String::new();
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        now_served = served(&provider, "checkout").await;
        if now_served.contains(r#""samplingRate":0.25"#) {
            break;
        }
    }
    assert!(
        now_served.contains(r#""samplingRate":0.25"#),
        "{now_served}"
    );
    assert_eq!(
        store.written.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "a follower does not calculate"
    );
    // The leader leaves: this process takes the lease and calculates.
    assert!(
        inner
            .forfeit_lease(LEADER_LEASE, "other")
            .await
            .expect("forfeit")
    );
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if store.written.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            break;
        }
    }
    assert!(store.written.load(std::sync::atomic::Ordering::Relaxed) > 0);
    assert!(
        !inner
            .acquire_lease(LEADER_LEASE, "other", Duration::from_secs(60))
            .await
            .expect("lease"),
        "this process holds the lease now"
    );
    // It carried on from the leader's probabilities.
    assert_eq!(store.get_latest_probabilities().await.expect("get"), theirs);
    let _ = stop_tx.send(());
    // Stopping gives the lease up.
    let mut freed = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if inner
            .acquire_lease(LEADER_LEASE, "other", Duration::from_secs(60))
            .await
            .expect("lease")
        {
            freed = true;
            break;
        }
    }
    assert!(freed, "the lease is given up on stop");
}
