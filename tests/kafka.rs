//! Kafka between collector and ingester, against the real broker of tests/servers/kafka
//! (`JAEGER_TEST_KAFKA`; skipped when unset unless `JAEGER_TEST_REQUIRE_SERVERS=1`).
//! Each test uses topics and a consumer group of its own.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Jaeger, JaegerBuilder, kafka_create_topic, kafka_test_broker, post_two_span_trace};
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos()
    )
}

/// A collector that writes to `topic` in `encoding`.
fn collector(dir: &std::path::Path, broker: &str, topic: &str, encoding: &str) -> Jaeger {
    JaegerBuilder::new(dir)
        .arg("collector")
        .arg("--storage=kafka")
        .arg(format!("--kafka.producer.brokers={broker}"))
        .arg(format!("--kafka.producer.topic={topic}"))
        .arg(format!("--kafka.producer.encoding={encoding}"))
        .arg("--kafka.producer.batch-linger=5ms")
        .start()
}

/// `jaeger ingester` reading `topic` into the embedded store in `dir`.
fn ingester(dir: &std::path::Path, broker: &str, topic: &str, group: &str) -> Jaeger {
    JaegerBuilder::new(dir)
        .arg("ingester")
        .arg(format!("--kafka.consumer.brokers={broker}"))
        .arg(format!("--kafka.consumer.topic={topic}"))
        .arg(format!("--kafka.consumer.group-id={group}"))
        .start()
}

/// An all-in-one that also consumes `topic` (the v2 `receivers: [kafka]` shape) and
/// serves the query API over what it stored.
fn all_in_one_consuming(
    dir: &std::path::Path,
    broker: &str,
    topic: &str,
    encoding: &str,
) -> Jaeger {
    JaegerBuilder::new(dir)
        .arg(format!("--kafka.consumer.brokers={broker}"))
        .arg(format!("--kafka.consumer.topic={topic}"))
        .arg(format!("--kafka.consumer.group-id={}", unique("g")))
        .arg(format!("--kafka.consumer.encoding={encoding}"))
        .start()
}

fn metrics(j: &Jaeger) -> String {
    reqwest::blocking::get(format!("http://{}/metrics", j.ports.metrics))
        .and_then(|r| r.text())
        .unwrap_or_default()
}

/// The value of the metric line starting with `prefix` and containing every label in
/// `labels`, summed over matching lines.
fn metric_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until every partition of `topic` reports a consumer lag of 0 (everything
/// written and committed), `partitions` of them.
fn wait_until_consumed(j: &Jaeger, topic: &str, partitions: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let label = format!("topic=\"{topic}\"");
    loop {
        let text = metrics(j);
        let lags: Vec<f64> = text
            .lines()
            .filter(|l| l.starts_with("jaeger_kafka_consumer_lag{") && l.contains(&label))
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        if lags.len() == partitions && lags.iter().all(|l| *l == 0.0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{topic} not consumed: lags {lags:?}\n{}",
            j.logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Span ids of the trace, read by id.
fn span_ids(j: &Jaeger, trace: &str) -> Vec<String> {
    let r = reqwest::blocking::get(j.query_url(&format!("/api/traces/{trace}"))).expect("get");
    if r.status().as_u16() == 404 {
        return Vec::new();
    }
    let v: serde_json::Value = r.json().expect("json");
    v["data"][0]["spans"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| s["spanID"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn wait_for_spans(j: &Jaeger, trace: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ids = span_ids(j, trace);
        if ids.len() == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "trace {trace}: {ids:?}, expected {n} spans\n{}",
            j.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn producer(broker: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("acks", "all")
        .create()
        .expect("test producer")
}

fn produce(broker: &str, topic: &str, messages: &[(&str, Vec<u8>)]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let p = producer(broker);
        for (key, payload) in messages {
            p.send(
                FutureRecord::to(topic).key(*key).payload(payload),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("produce");
        }
    });
}

#[test]
fn collector_to_ingester_survives_sigkill_with_every_span_once() {
    let Some(broker) = kafka_test_broker() else {
        return;
    };
    let topic = unique("spans");
    kafka_create_topic(&broker, &topic, 2);
    let group = unique("ingester");
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let c = collector(&tmp.path().join("collector"), &broker, &topic, "otlp_proto");
    let first = ingester(&store, &broker, &topic, &group);

    let traces: Vec<String> = (1..=40u32)
        .map(|i| format!("{:032x}", 0xfeed_0000 + i))
        .collect();
    // Every trace below was acknowledged (200) by the collector, so Kafka holds it.
    for t in &traces[..20] {
        post_two_span_trace(&c.otlp_http_url(), "kafka-shop", t);
    }
    first.kill9();
    for t in &traces[20..] {
        post_two_span_trace(&c.otlp_http_url(), "kafka-shop", t);
    }
    let second = ingester(&store, &broker, &topic, &group);
    wait_until_consumed(&second, &topic, 2);
    assert!(second.terminate().success());
    drop(c);

    let q = JaegerBuilder::new(&store).arg("query").start();
    for t in &traces {
        let ids = span_ids(&q, t);
        let distinct: BTreeSet<_> = ids.iter().collect();
        assert_eq!(ids.len(), 2, "trace {t}: {ids:?}");
        assert_eq!(distinct.len(), 2, "trace {t} holds a span twice: {ids:?}");
    }
}

#[test]
fn poison_messages_are_skipped_and_counted() {
    let Some(broker) = kafka_test_broker() else {
        return;
    };
    let topic = unique("poison");
    kafka_create_topic(&broker, &topic, 1);
    use jaeger_ingest::kafka::codec::{Encoding, encode};
    let trace = |id: u8| {
        let now = common::now_nanos();
        let rs = jaeger_model::otlp::ResourceSpans {
            resource: Some(jaeger_model::otlp::Resource {
                attributes: vec![jaeger_model::trace::kv(
                    "service.name",
                    jaeger_model::otlp::Value::StringValue("poison-svc".into()),
                )],
                ..Default::default()
            }),
            scope_spans: vec![jaeger_model::otlp::ScopeSpans {
                spans: vec![jaeger_model::otlp::Span {
                    trace_id: vec![id; 16],
                    span_id: vec![id; 8],
                    name: "op".into(),
                    start_time_unix_nano: now - 1_000_000,
                    end_time_unix_nano: now,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let m = encode(Encoding::OtlpProto, &[rs], 1 << 20).expect("encode");
        m.into_iter().next().expect("one message").payload
    };
    produce(
        &broker,
        &topic,
        &[
            ("a", trace(0xa1)),
            ("x", b"\x0a\xff\xff garbage".to_vec()),
            // Right bytes, wrong encoding: Jaeger JSON in an otlp_proto topic.
            (
                "y",
                br#"{"traceId":"AAAAAAAAAAAAAAAAAAAAAQ==","spanId":"AAAAAAAAAAE="}"#.to_vec(),
            ),
            ("b", trace(0xb2)),
        ],
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let j = all_in_one_consuming(tmp.path(), &broker, &topic, "otlp_proto");
    wait_until_consumed(&j, &topic, 1);
    wait_for_spans(&j, &"a1".repeat(16), 1);
    wait_for_spans(&j, &"b2".repeat(16), 1);
    let text = metrics(&j);
    let poison = metric_sum(
        &text,
        "jaeger_kafka_consumer_poison_messages_total",
        &[&format!("topic=\"{topic}\"")],
    );
    assert_eq!(poison, 2.0, "{text}");
    assert_eq!(
        metric_sum(
            &text,
            "jaeger_kafka_consumer_messages_total",
            &[&format!("topic=\"{topic}\"")]
        ),
        2.0
    );
    assert!(
        j.logs().contains("skipping a Kafka message"),
        "{}",
        j.logs()
    );
}

#[test]
fn every_encoding_goes_from_collector_to_ingester() {
    let Some(broker) = kafka_test_broker() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    for (i, encoding) in ["otlp_proto", "otlp_json", "protobuf", "json"]
        .into_iter()
        .enumerate()
    {
        let topic = unique(&format!("enc-{encoding}"));
        kafka_create_topic(&broker, &topic, 1);
        let c = collector(&tmp.path().join(format!("c{i}")), &broker, &topic, encoding);
        let j = all_in_one_consuming(&tmp.path().join(format!("s{i}")), &broker, &topic, encoding);
        let trace = format!("{:032x}", 0xe0c0_0000u64 + i as u64);
        post_two_span_trace(&c.otlp_http_url(), &format!("enc-{encoding}"), &trace);
        wait_for_spans(&j, &trace, 2);
        let v = j.get_json(&format!("/api/traces/{trace}"), 200);
        let t = &v["data"][0];
        let names: BTreeSet<&str> = t["spans"]
            .as_array()
            .expect("spans")
            .iter()
            .filter_map(|s| s["operationName"].as_str())
            .collect();
        assert_eq!(
            names,
            BTreeSet::from(["GET /", "SELECT"]),
            "{encoding}: {t}"
        );
        let svc = t["processes"]
            .as_object()
            .and_then(|p| p.values().next())
            .and_then(|p| p["serviceName"].as_str())
            .unwrap_or_default()
            .to_string();
        assert_eq!(svc, format!("enc-{encoding}"), "{encoding}");
    }
}

#[test]
fn zipkin_messages_are_read() {
    let Some(broker) = kafka_test_broker() else {
        return;
    };
    let topic = unique("zipkin");
    kafka_create_topic(&broker, &topic, 1);
    let ts = common::now_micros() - 1_000_000;
    let body = format!(
        r#"[{{"traceId":"00000000000000000000000000005a11","id":"0000000000000001","name":"zget","timestamp":{ts},"duration":10,"localEndpoint":{{"serviceName":"zsvc"}}}}]"#
    );
    produce(&broker, &topic, &[("k", body.into_bytes())]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let j = all_in_one_consuming(tmp.path(), &broker, &topic, "zipkin_json");
    wait_for_spans(&j, "00000000000000000000000000005a11", 1);
}
