//! Kafka between collector and ingester, against the real broker of tests/servers/kafka
//! (`JAEGER_TEST_KAFKA`; skipped when unset unless `JAEGER_TEST_REQUIRE_SERVERS=1`).
//! Each test uses topics and a consumer group of its own.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Jaeger, JaegerBuilder, kafka_create_topic, kafka_test_broker, post_two_span_trace};
use jaeger_storage::conformance::unique_name;
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

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
        // Offset stores and commits in the log a failed test prints.
        .arg("--log-level=info,jaeger_ingest::kafka=debug")
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
        .arg(format!("--kafka.consumer.group-id={}", unique_name("g")))
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
/// written and committed), `partitions` of them, or until this process alone has
/// stored `all` messages (the whole topic: nothing can be left, whatever the gauge
/// says; twice in fresh-clone runs one partition's lag stayed at its message count
/// after every message had been stored). Generous: after a SIGKILL the group waits for
/// the dead member's session to expire before it reassigns its partitions, and the lag
/// gauge is refreshed every 5 s.
fn wait_until_consumed(j: &Jaeger, topic: &str, partitions: usize, all: Option<f64>) {
    let deadline = Instant::now() + Duration::from_secs(120);
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
        let consumed = metric_sum(&text, "jaeger_kafka_consumer_messages_total", &[&label]);
        if all.is_some_and(|all| consumed >= all) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{topic} not consumed: lags {lags:?}, messages consumed {consumed}\n{}",
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
    let topic = unique_name("spans");
    kafka_create_topic(&broker, &topic, 2);
    let group = unique_name("ingester");
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
    // One message per trace.
    wait_until_consumed(&second, &topic, 2, Some(traces.len() as f64));
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
    let topic = unique_name("poison");
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
    wait_until_consumed(&j, &topic, 1, None);
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
        let topic = unique_name(&format!("enc-{encoding}"));
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
    let topic = unique_name("zipkin");
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

/// A setting of the test broker from start.sh: the environment first, else the `env`
/// file start.sh leaves in `JAEGER_TEST_KAFKA_DIR` (for runs with only the first two set).
fn broker_setting(name: &str) -> Option<String> {
    if let Ok(v) = std::env::var(name)
        && !v.is_empty()
    {
        return Some(v);
    }
    let dir = std::env::var("JAEGER_TEST_KAFKA_DIR").ok()?;
    let text = std::fs::read_to_string(std::path::Path::new(&dir).join("env")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_string))
}

/// The TLS and SASL listeners of the test broker and its throwaway certificates.
struct Secured {
    plain: String,
    ssl: String,
    sasl: String,
    tls_dir: std::path::PathBuf,
}

/// User and password start.sh creates (SCRAM) and accepts (PLAIN) on the SASL listener.
const SASL_USER: &str = "jaeger";
const SASL_PASSWORD: &str = "jaeger-secret";

fn secured_broker() -> Option<Secured> {
    let plain = kafka_test_broker()?;
    let (Some(ssl), Some(sasl), Some(tls_dir)) = (
        broker_setting("JAEGER_TEST_KAFKA_SSL"),
        broker_setting("JAEGER_TEST_KAFKA_SASL"),
        broker_setting("JAEGER_TEST_KAFKA_TLS_DIR"),
    ) else {
        panic!(
            "the Kafka test broker has no TLS/SASL listeners: restart tests/servers/kafka/start.sh"
        );
    };
    Some(Secured {
        plain,
        ssl,
        sasl,
        tls_dir: tls_dir.into(),
    })
}

impl Secured {
    fn file(&self, name: &str) -> String {
        self.tls_dir.join(name).display().to_string()
    }
}

/// Waits for a process that should stop by itself; returns its exit status.
fn wait_exit(j: &mut Jaeger, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = j.child.try_wait().expect("poll child") {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "still running after {within:?}, expected it to stop:\n{}",
            j.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A Jaeger v2 config: OTLP HTTP in, the memory store, the query service, and a `kafka`
/// receiver with `receiver_extra` (TLS/SASL keys) reading `topic` from the start.
fn consuming_yaml(
    dir: &std::path::Path,
    broker: &str,
    topic: &str,
    receiver_extra: &str,
) -> String {
    let path = dir.join(format!("{}.yaml", unique_name("ingester")));
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(
        &path,
        format!(
            r#"
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [kafka]
      exporters: [jaeger_storage_exporter]
extensions:
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 1000
  jaeger_query:
    storage:
      traces: mem
receivers:
  kafka:
    brokers: ["{broker}"]
    group_id: "{group}"
    initial_offset: earliest
    traces:
      topic: "{topic}"
      encoding: otlp_proto
{receiver_extra}
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
"#,
            group = unique_name("g"),
        ),
    )
    .expect("write config");
    path.display().to_string()
}

/// Collector (v1 flags, mTLS) → the broker's TLS listener → a receiver configured in
/// YAML (`receivers.kafka.tls`) → query: the spans are readable.
#[test]
fn tls_between_collector_kafka_and_ingester() {
    let Some(k) = secured_broker() else { return };
    let topic = unique_name("tls");
    kafka_create_topic(&k.plain, &topic, 1);
    let tmp = tempfile::tempdir().expect("tempdir");
    let c = JaegerBuilder::new(&tmp.path().join("collector"))
        .arg("collector")
        .arg("--storage=kafka")
        .arg(format!("--kafka.producer.brokers={}", k.ssl))
        .arg(format!("--kafka.producer.topic={topic}"))
        .arg("--kafka.producer.batch-linger=5ms")
        .arg("--kafka.producer.authentication=tls")
        .arg(format!("--kafka.producer.tls.ca={}", k.file("ca.pem")))
        .arg(format!(
            "--kafka.producer.tls.cert={}",
            k.file("client.pem")
        ))
        .arg(format!("--kafka.producer.tls.key={}", k.file("client.key")))
        .start();
    let tls = format!(
        "    tls:\n      ca_file: \"{}\"\n      cert_file: \"{}\"\n      key_file: \"{}\"\n",
        k.file("ca.pem"),
        k.file("client.pem"),
        k.file("client.key")
    );
    let yaml = consuming_yaml(tmp.path(), &k.ssl, &topic, &tls);
    let j = JaegerBuilder::new(&tmp.path().join("store"))
        .arg("--config")
        .arg(yaml)
        .start();
    let trace = format!("{:032x}", 0x7150_0001u64);
    post_two_span_trace(&c.otlp_http_url(), "tls-shop", &trace);
    wait_for_spans(&j, &trace, 2);

    // Without the test CA the broker's certificate is not trusted: the ingester stops
    // at once and says why, instead of retrying forever.
    let mut bad = JaegerBuilder::new(&tmp.path().join("untrusted"))
        .arg("ingester")
        .arg(format!("--kafka.consumer.brokers={}", k.ssl))
        .arg(format!("--kafka.consumer.topic={topic}"))
        .arg("--kafka.consumer.authentication=tls")
        .arg(format!(
            "--kafka.consumer.tls.cert={}",
            k.file("client.pem")
        ))
        .arg(format!("--kafka.consumer.tls.key={}", k.file("client.key")))
        .spawn();
    let status = wait_exit(&mut bad, Duration::from_secs(30));
    let logs = bad.logs();
    assert!(!status.success(), "{logs}");
    assert!(
        logs.contains(&k.ssl) && logs.contains("certificate verify failed"),
        "{logs}"
    );
}

/// Collector with SCRAM-SHA-512 (YAML `exporters.kafka.auth.sasl`) → the SASL listener →
/// an all-in-one consuming with SASL PLAIN (v1 flags): spans readable.
#[test]
fn sasl_scram_and_plain_between_collector_kafka_and_ingester() {
    let Some(k) = secured_broker() else { return };
    let topic = unique_name("sasl");
    kafka_create_topic(&k.plain, &topic, 1);
    let tmp = tempfile::tempdir().expect("tempdir");
    let yaml = tmp.path().join("collector.yaml");
    std::fs::write(
        &yaml,
        format!(
            r#"
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [kafka]
receivers:
  otlp:
    protocols:
      http:
exporters:
  kafka:
    brokers: ["{broker}"]
    traces:
      topic: "{topic}"
    producer:
      linger: 5ms
    auth:
      sasl:
        mechanism: SCRAM-SHA-512
        username: {SASL_USER}
        password: "${{env:KAFKA_TEST_PASSWORD}}"
"#,
            broker = k.sasl
        ),
    )
    .expect("write config");
    let c = JaegerBuilder::new(&tmp.path().join("collector"))
        .env("KAFKA_TEST_PASSWORD", SASL_PASSWORD)
        .arg("--config")
        .arg(yaml.display().to_string())
        .start();
    let j = JaegerBuilder::new(&tmp.path().join("store"))
        .arg(format!("--kafka.consumer.brokers={}", k.sasl))
        .arg(format!("--kafka.consumer.topic={topic}"))
        .arg(format!("--kafka.consumer.group-id={}", unique_name("g")))
        .arg("--kafka.consumer.authentication=plaintext")
        .arg(format!("--kafka.consumer.plaintext.username={SASL_USER}"))
        .arg("--kafka.consumer.plaintext.mechanism=PLAIN")
        .env("KAFKA_CONSUMER_PLAINTEXT_PASSWORD", SASL_PASSWORD)
        .start();
    let trace = format!("{:032x}", 0x5a51_0001u64);
    post_two_span_trace(&c.otlp_http_url(), "sasl-shop", &trace);
    wait_for_spans(&j, &trace, 2);
    // The password is in neither process's log.
    assert!(!c.logs().contains(SASL_PASSWORD), "{}", c.logs());
    assert!(!j.logs().contains(SASL_PASSWORD), "{}", j.logs());
}

/// A wrong password stops the ingester and the collector at start-up with an error that
/// names the broker and the SASL failure; neither hangs retrying.
#[test]
fn wrong_sasl_password_is_a_clear_error() {
    let Some(k) = secured_broker() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let mut ingester = JaegerBuilder::new(&tmp.path().join("ingester"))
        .arg("ingester")
        .arg(format!("--kafka.consumer.brokers={}", k.sasl))
        .arg("--kafka.consumer.authentication=plaintext")
        .arg(format!("--kafka.consumer.plaintext.username={SASL_USER}"))
        .arg("--kafka.consumer.plaintext.password=wrong")
        .arg("--kafka.consumer.plaintext.mechanism=SCRAM-SHA-512")
        .spawn();
    let mut collector = JaegerBuilder::new(&tmp.path().join("collector"))
        .arg("collector")
        .arg("--storage=kafka")
        .arg(format!("--kafka.producer.brokers={}", k.sasl))
        .arg("--kafka.producer.authentication=plaintext")
        .arg(format!("--kafka.producer.plaintext.username={SASL_USER}"))
        .arg("--kafka.producer.plaintext.password=wrong")
        .arg("--kafka.producer.plaintext.mechanism=SCRAM-SHA-256")
        .spawn();
    for (j, mechanism) in [
        (&mut ingester, "SCRAM-SHA-512"),
        (&mut collector, "SCRAM-SHA-256"),
    ] {
        let status = wait_exit(j, Duration::from_secs(30));
        let logs = j.logs();
        assert!(!status.success(), "{logs}");
        assert!(logs.contains(&k.sasl), "the broker is named: {logs}");
        assert!(
            logs.contains("SASL authentication error") && logs.contains(mechanism),
            "{logs}"
        );
        assert!(
            logs.contains("refused the connection (sasl_plaintext)"),
            "{logs}"
        );
    }
    eprintln!("both stopped {:?} after start", started.elapsed());
}

/// Posts a two-span trace; returns the status and the `Retry-After` header.
fn try_post(url: &str, service: &str, trace: &str) -> (u16, Option<String>) {
    let start = common::now_nanos() - 2_000_000_000;
    let span = |id: &str, parent: &str, name: &str| {
        serde_json::json!({"traceId": trace, "spanId": id, "parentSpanId": parent, "name": name,
            "startTimeUnixNano": start.to_string(),
            "endTimeUnixNano": (start + 5_000_000).to_string()})
    };
    let body = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": [
            span("00000000000000a1", "", "GET /"),
            span("00000000000000a2", "00000000000000a1", "SELECT")
        ]}]
    }]});
    let r = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("OTLP post");
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (r.status().as_u16(), retry_after)
}

fn health_status(j: &Jaeger) -> u16 {
    reqwest::blocking::get(format!("http://{}/status", j.ports.health))
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// The broker goes away while the collector is receiving: clients are told to retry
/// (503 + Retry-After), the collector's health turns red, and once the broker is back
/// every trace the collector acknowledged (and every retried one) is stored exactly once.
#[test]
fn broker_loss_answers_retry_and_loses_nothing_acknowledged() {
    let Some(plain) = kafka_test_broker() else {
        return;
    };
    let (Some(proxied), Some(proxy_addr)) = (
        broker_setting("JAEGER_TEST_KAFKA_PROXIED"),
        broker_setting("JAEGER_TEST_KAFKA_PROXY"),
    ) else {
        panic!(
            "the Kafka test broker has no proxied listener: restart tests/servers/kafka/start.sh"
        );
    };
    // On the address the broker's PROXIED listener advertises (start.sh): "the broker"
    // goes away for the clients behind it while the shared broker serves the other tests.
    let proxy = common::CutProxy::start(&proxy_addr, &proxied);
    let topic = unique_name("outage");
    kafka_create_topic(&plain, &topic, 2);
    let tmp = tempfile::tempdir().expect("tempdir");
    // The collector only knows the proxy; the consumer reads from the broker directly.
    let c = collector(
        &tmp.path().join("collector"),
        &proxy_addr,
        &topic,
        "otlp_proto",
    );
    let j = all_in_one_consuming(&tmp.path().join("store"), &plain, &topic, "otlp_proto");
    let url = c.otlp_http_url();

    let mut acknowledged = Vec::new();
    let mut refused = Vec::new();
    for i in 0..10u64 {
        let t = format!("{:032x}", 0x0a7a_0000u64 + i);
        assert_eq!(
            try_post(&url, "outage-shop", &t).0,
            200,
            "before the outage"
        );
        acknowledged.push(t);
    }
    proxy.cut();
    // The producer's timeout (5 s) passes before a batch is refused.
    let outage_start = Instant::now();
    let mut statuses = Vec::new();
    for i in 10..14u64 {
        let t = format!("{:032x}", 0x0a7a_0000u64 + i);
        let (status, retry_after) = try_post(&url, "outage-shop", &t);
        statuses.push((status, retry_after.clone()));
        match status {
            200 => acknowledged.push(t),
            503 => {
                assert!(retry_after.is_some(), "503 without Retry-After");
                refused.push(t);
            }
            other => panic!("unexpected status {other} during the outage\n{}", c.logs()),
        }
    }
    assert!(
        !refused.is_empty(),
        "no request was refused while the broker was away: {statuses:?}\n{}",
        c.logs()
    );
    assert_eq!(
        health_status(&c),
        503,
        "health while Kafka does not acknowledge"
    );
    eprintln!(
        "outage: {statuses:?} in {:?}; health 503",
        outage_start.elapsed()
    );

    proxy.restore();
    // Clients retry what was refused until it is taken.
    let deadline = Instant::now() + Duration::from_secs(60);
    for t in std::mem::take(&mut refused) {
        loop {
            let (status, _) = try_post(&url, "outage-shop", &t);
            if status == 200 {
                acknowledged.push(t);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "still refused after the broker came back\n{}",
                c.logs()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    for i in 14..20u64 {
        let t = format!("{:032x}", 0x0a7a_0000u64 + i);
        assert_eq!(try_post(&url, "outage-shop", &t).0, 200, "after the outage");
        acknowledged.push(t);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while health_status(&c) != 200 {
        assert!(
            Instant::now() < deadline,
            "health stays red after the broker came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for t in &acknowledged {
        wait_for_spans(&j, t, 2);
        let ids = span_ids(&j, t);
        let distinct: BTreeSet<_> = ids.iter().collect();
        assert_eq!(
            distinct.len(),
            ids.len(),
            "trace {t} holds a span twice: {ids:?}"
        );
    }
    assert_eq!(acknowledged.len(), 20);
}
