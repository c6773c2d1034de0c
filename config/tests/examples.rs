//! Every file in examples/ loads, validates and maps as documented.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use jaeger_config::StorageKind;
use jaeger_config::v2::{
    BackendKind, Exporter, Extension, JaegerV2Config, LoadedConfig, Receiver, load_file_with_env,
    parse_str_with_env,
};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn load(name: &str) -> LoadedConfig {
    load_file_with_env(example(name), &no_env).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse(name: &str) -> JaegerV2Config {
    let text = std::fs::read_to_string(example(name)).expect("example exists");
    parse_str_with_env(&text, &no_env)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .0
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

#[test]
fn every_example_parses_and_validates() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("examples dir") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).expect("readable");
            parse_str_with_env(&text, &no_env)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 6, "expected at least 6 examples, found {n}");
}

#[test]
fn memory_example_maps_to_the_memory_store_on_localhost() {
    let c = load("config-memory.yaml");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.trace_storage.as_deref(), Some("some_storage"));
    let r = &c.runtime;
    assert_eq!(r.storage.kind, StorageKind::Memory);
    assert_eq!(r.storage.memory.max_traces, 100_000);
    assert_eq!(r.otlp.grpc_endpoint, Some(addr("127.0.0.1:4317")));
    assert_eq!(r.otlp.http_endpoint, Some(addr("127.0.0.1:4318")));
    assert_eq!(r.query.http_endpoint, addr("127.0.0.1:16686"));
    assert_eq!(r.admin.health_endpoint, Some(addr("127.0.0.1:13133")));
    assert_eq!(r.admin.metrics_endpoint, addr("127.0.0.1:8888"));
    assert_eq!(r.admin.expvar_endpoint, Some(addr("127.0.0.1:2777")));
    assert_eq!(
        r.jaeger.thrift_compact_endpoint,
        Some(addr("127.0.0.1:6831"))
    );
    assert_eq!(r.zipkin.endpoint, Some(addr("127.0.0.1:9411")));
    assert!(r.query.enabled);
    // Untouched knobs keep their defaults.
    assert_eq!(r.otlp.max_request_body_bytes, 20 * 1024 * 1024);
    assert_eq!(r.query.base_path, "/");

    // The rest of the model is there for the roles that need it.
    let v2 = &c.v2;
    assert_eq!(
        v2.trace_receivers()
            .iter()
            .map(|(id, _)| *id)
            .collect::<Vec<_>>(),
        ["otlp", "jaeger", "zipkin"]
    );
    let Some(Receiver::Jaeger(j)) = v2.receivers.get("jaeger") else {
        panic!("jaeger receiver")
    };
    assert_eq!(
        j.protocols
            .thrift_compact
            .as_ref()
            .and_then(|u| u.endpoint.as_deref()),
        Some("localhost:6831")
    );
    let Some(Extension::RemoteSampling(rs)) = v2.extensions.get("remote_sampling") else {
        panic!("remote_sampling")
    };
    let file = rs.file.as_ref().expect("file provider");
    assert_eq!(file.default_sampling_probability, 1.0);
    assert_eq!(file.reload_interval.0, Duration::from_secs(1));
    assert_eq!(rs.http.endpoint.as_deref(), Some("localhost:5778"));
}

#[test]
fn listen_host_from_the_environment() {
    let env = |n: &str| (n == "JAEGER_LISTEN_HOST").then(|| "0.0.0.0".to_string());
    let c = load_file_with_env(example("config-memory.yaml"), &env).expect("loads");
    assert_eq!(c.runtime.otlp.grpc_endpoint, Some(addr("0.0.0.0:4317")));
    assert_eq!(c.runtime.query.http_endpoint, addr("0.0.0.0:16686"));
    assert_eq!(c.runtime.admin.metrics_endpoint, addr("0.0.0.0:8888"));
}

#[test]
fn all_in_one_example_maps_badger_to_the_embedded_store() {
    let c = load("config-all-in-one.yaml");
    let s = &c.runtime.storage;
    assert_eq!(s.kind, StorageKind::Embedded);
    assert_eq!(s.embedded.data_dir, PathBuf::from("/tmp/jaeger"));
    assert_eq!(s.embedded.retention, Duration::from_secs(72 * 3600));
    assert!(!s.embedded.sync_writes);
    assert!(!c.ephemeral_storage);
    assert_eq!(c.runtime.query.max_clock_skew_adjust, Duration::ZERO);

    let env = |n: &str| (n == "JAEGER_DATA_DIR").then(|| "/var/lib/jaeger".to_string());
    let c = load_file_with_env(example("config-all-in-one.yaml"), &env).expect("loads");
    assert_eq!(
        c.runtime.storage.embedded.data_dir,
        PathBuf::from("/var/lib/jaeger")
    );
}

#[test]
fn cassandra_example_maps_primary_and_archive_keyspaces() {
    let v2 = parse("config-cassandra.yaml");
    let backends = &v2.jaeger_storage().expect("jaeger_storage").backends;
    let main = backends["some_storage"]
        .cassandra
        .as_ref()
        .expect("cassandra");
    assert_eq!(main.schema.keyspace, "jaeger_v1_dc1");
    // "${env:CASSANDRA_CREATE_SCHEMA:-true}" in quotes is still a boolean.
    assert!(main.schema.create);
    assert!(main.connection.tls.insecure);
    assert_eq!(main.connection.servers.0, ["127.0.0.1"]);
    let basic = main.connection.auth.basic.as_ref().expect("basic auth");
    assert_eq!(
        (basic.username.as_str(), basic.password.as_str()),
        ("cassandra", "cassandra")
    );
    assert_eq!(
        backends["another_storage"]
            .cassandra
            .as_ref()
            .expect("archive")
            .schema
            .keyspace,
        "jaeger_v1_dc1_archive"
    );
    let q = v2.jaeger_query().expect("jaeger_query");
    assert_eq!(q.storage.traces_archive.as_deref(), Some("another_storage"));

    let c = load_file_with_env(example("config-cassandra.yaml"), &no_env).expect("maps");
    assert_eq!(c.runtime.storage.kind, StorageKind::Cassandra);
    let primary = c
        .runtime
        .storage
        .cassandra
        .as_ref()
        .expect("cassandra section");
    assert_eq!(primary.schema.keyspace, "jaeger_v1_dc1");
    let archive = c.runtime.query.archive.as_ref().expect("archive");
    assert_eq!(archive.kind, StorageKind::Cassandra);
    assert_eq!(
        archive
            .cassandra
            .as_ref()
            .expect("archive section")
            .schema
            .keyspace,
        "jaeger_v1_dc1_archive"
    );

    let env = |n: &str| (n == "CASSANDRA_CREATE_SCHEMA").then(|| "false".to_string());
    let text = std::fs::read_to_string(example("config-cassandra.yaml")).expect("read");
    let (v2, _) = parse_str_with_env(&text, &env).expect("parses");
    assert!(
        !v2.backend("some_storage")
            .unwrap()
            .cassandra
            .as_ref()
            .unwrap()
            .schema
            .create
    );
}

#[test]
fn opensearch_example_has_primary_and_archive_prefixes() {
    let v2 = parse("config-opensearch.yaml");
    let main = v2.backend("some_storage").expect("primary");
    assert_eq!(main.kind(), Some(BackendKind::Opensearch));
    let os = main.opensearch.as_ref().expect("opensearch");
    assert_eq!(os.effective_index_prefix(), "jaeger-main");
    assert_eq!(os.server_urls.0, ["http://localhost:9200"]);
    assert_eq!(os.indices.spans.shards, 5);
    assert_eq!(os.indices.spans.rollover_frequency.as_deref(), Some("day"));
    assert_eq!(
        os.bulk_processing.flush_interval.0,
        Duration::from_millis(200)
    );
    assert!(os.effective_create_mappings());
    let archive = v2
        .backend("another_storage")
        .and_then(|b| b.opensearch.as_ref())
        .expect("archive");
    assert_eq!(archive.effective_index_prefix(), "jaeger-archive");

    let c = load_file_with_env(example("config-opensearch.yaml"), &no_env).expect("maps");
    assert_eq!(c.runtime.storage.kind, StorageKind::Elasticsearch);
    let es = c
        .runtime
        .storage
        .elasticsearch
        .as_ref()
        .expect("es section");
    assert!(es.opensearch);
    assert_eq!(es.backend.effective_index_prefix(), "jaeger-main");
}

#[test]
fn kafka_collector_example_has_no_storage_and_writes_to_kafka() {
    let v2 = parse("config-kafka-collector.yaml");
    let exporters = v2.trace_exporters();
    let [("kafka", Exporter::Kafka(k))] = exporters.as_slice() else {
        panic!("one kafka exporter: {exporters:?}")
    };
    assert_eq!(k.brokers.0, ["localhost:9092"]);
    assert_eq!(k.trace_topic(), "jaeger-spans");
    assert_eq!(k.trace_encoding(), "otlp_proto");
    assert!(v2.jaeger_query().is_none());
    assert!(v2.jaeger_storage().is_none());

    // Spans go to Kafka: the producer settings, and no storage of its own.
    let c = load_file_with_env(example("config-kafka-collector.yaml"), &no_env).expect("loads");
    let p = c.runtime.kafka.exporter.as_ref().expect("kafka exporter");
    assert_eq!(p.brokers, ["localhost:9092"]);
    assert_eq!(p.topic, "jaeger-spans");
    assert_eq!(p.encoding, "otlp_proto");
    assert_eq!(p.compression, "none");
    assert_eq!(p.required_acks, 1, "Jaeger v2's exporter default");
    assert!(c.runtime.kafka.receiver.is_none());
    assert!(c.trace_storage.is_none());
    assert!(!c.runtime.query.enabled);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);

    let env = |n: &str| match n {
        "KAFKA_BROKER" => Some("kafka-1:9092".to_string()),
        "KAFKA_ENCODING" => Some("jaeger_proto".to_string()),
        _ => None,
    };
    let text = std::fs::read_to_string(example("config-kafka-collector.yaml")).expect("read");
    let (v2, _) = parse_str_with_env(&text, &env).expect("parses");
    let Some(Exporter::Kafka(k)) = v2.exporters.get("kafka") else {
        panic!("kafka exporter")
    };
    assert_eq!(k.brokers.0, ["kafka-1:9092"]);
    assert_eq!(k.trace_encoding(), "jaeger_proto");
}

#[test]
fn kafka_ingester_example_reads_kafka_into_the_embedded_store() {
    let c = load("config-kafka-ingester.yaml");
    assert_eq!(c.runtime.storage.kind, StorageKind::Embedded);
    assert_eq!(
        c.runtime.storage.embedded.data_dir,
        PathBuf::from("/tmp/jaeger-ingester")
    );
    assert_eq!(c.runtime.admin.health_endpoint, Some(addr("0.0.0.0:14133")));
    assert_eq!(c.runtime.admin.metrics_endpoint, addr("0.0.0.0:8889"));
    let Some(Receiver::Kafka(k)) = c.v2.receivers.get("kafka") else {
        panic!("kafka receiver")
    };
    assert_eq!(k.trace_topics(), ["jaeger-spans"]);
    assert_eq!(k.initial_offset, "earliest");
    assert!(k.autocommit.enable);
    // It reads Kafka into its store, and serves query, health and metrics.
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let r = c.runtime.kafka.receiver.as_ref().expect("kafka receiver");
    assert_eq!(r.brokers, ["localhost:9092"]);
    assert_eq!(r.topics, ["jaeger-spans"]);
    assert_eq!(r.encoding, "otlp_proto");
    assert_eq!(r.initial_offset, "earliest");
    assert_eq!(
        r.group_id, "otel-collector",
        "the contrib receiver's default"
    );
    assert_eq!(r.commit_interval, Duration::from_secs(1));
    assert!(c.runtime.kafka.exporter.is_none());
    assert_eq!(c.runtime.otlp.grpc_endpoint, None);
}

fn load_str(yaml: &str) -> Result<LoadedConfig, String> {
    let dir = tempfile_dir();
    let path = dir.join(format!("kafka-{}.yaml", yaml.len()));
    std::fs::write(&path, yaml).expect("write");
    load_file_with_env(&path, &no_env).map_err(|e| e.to_string())
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("jaeger-config-kafka-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

const KAFKA_EXPORTER: &str = r#"
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [kafka]
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  kafka:
    brokers: "k1:9092,k2:9092"
    client_id: c1
    timeout: 2s
    traces:
      topic: t1
      encoding: jaeger_json
    producer:
      required_acks: -1
      compression: lz4
      compression_params:
        level: 3
      linger: 50ms
      max_message_bytes: 500000
"#;

#[test]
fn kafka_exporter_keys_map_to_the_producer() {
    let c = load_str(KAFKA_EXPORTER).expect("loads");
    let p = c.runtime.kafka.exporter.expect("exporter");
    assert_eq!(p.brokers, ["k1:9092", "k2:9092"]);
    assert_eq!(
        (p.topic.as_str(), p.encoding.as_str()),
        ("t1", "jaeger_json")
    );
    assert_eq!(p.client_id, "c1");
    assert_eq!(p.required_acks, -1);
    assert_eq!(p.compression, "lz4");
    assert_eq!(p.compression_level, Some(3));
    assert_eq!(p.linger, Duration::from_millis(50));
    assert_eq!(p.max_message_bytes, 500_000);
    assert_eq!(p.timeout, Duration::from_secs(2));
}

#[test]
fn kafka_settings_this_build_cannot_honour_are_refused() {
    let zipkin = KAFKA_EXPORTER.replace("encoding: jaeger_json", "encoding: zipkin_json");
    let e = load_str(&zipkin).expect_err("zipkin is read only");
    assert!(e.contains("exporters.kafka.traces.encoding"), "{e}");
    let kerberos = KAFKA_EXPORTER.replace(
        "    client_id: c1\n",
        "    client_id: c1\n    auth:\n      kerberos:\n        username: u\n        password: p\n",
    );
    let e = load_str(&kerberos).expect_err("no Kerberos");
    assert!(e.contains("exporters.kafka.auth.kerberos"), "{e}");
    let msk = KAFKA_EXPORTER.replace(
        "    client_id: c1\n",
        "    client_id: c1\n    auth:\n      sasl:\n        username: u\n        password: p\n        mechanism: AWS_MSK_IAM_OAUTHBEARER\n",
    );
    let e = load_str(&msk).expect_err("no AWS MSK IAM");
    assert!(e.contains("exporters.kafka.auth.sasl.mechanism"), "{e}");
    let half = KAFKA_EXPORTER.replace(
        "    client_id: c1\n",
        "    client_id: c1\n    tls:\n      cert_file: /c.pem\n",
    );
    let e = load_str(&half).expect_err("a certificate without its key");
    assert!(e.contains("exporters.kafka.tls"), "{e}");
    let codec = KAFKA_EXPORTER.replace("compression: lz4", "compression: brotli");
    let e = load_str(&codec).expect_err("unknown codec");
    assert!(e.contains("exporters.kafka.producer.compression"), "{e}");
}

#[test]
fn kafka_tls_and_sasl_map_to_the_clients() {
    // Exporter: top-level `tls` and `auth.sasl` make SASL_SSL.
    let yaml = KAFKA_EXPORTER.replace(
        "    client_id: c1\n",
        "    client_id: c1\n    tls:\n      ca_file: /ca.pem\n      cert_file: /c.pem\n      key_file: /k.pem\n    auth:\n      sasl:\n        username: u\n        password: secret-pw\n        mechanism: SCRAM-SHA-256\n",
    );
    let c = load_str(&yaml).expect("loads");
    let a = c.runtime.kafka.exporter.clone().expect("exporter").auth;
    assert_eq!(a.security_protocol(), "sasl_ssl");
    let t = a.tls.expect("tls");
    assert_eq!(t.ca_file.as_deref(), Some(std::path::Path::new("/ca.pem")));
    assert_eq!(t.key_file.as_deref(), Some(std::path::Path::new("/k.pem")));
    assert!(!t.insecure_skip_verify);
    let s = a.sasl.expect("sasl");
    assert_eq!(
        (s.mechanism.as_str(), s.username.as_str()),
        ("SCRAM-SHA-256", "u")
    );
    // The password never shows in print-config.
    let printed = jaeger_config::v2::mask_secrets(&c.runtime).expect("mask");
    assert!(!printed.contains("secret-pw"), "{printed}");
    assert!(
        printed.contains("sasl_ssl") || printed.contains("SCRAM-SHA-256"),
        "{printed}"
    );

    // Deprecated places: `auth.tls` and `auth.plain_text` (SASL PLAIN).
    let yaml = KAFKA_EXPORTER.replace(
        "    client_id: c1\n",
        "    client_id: c1\n    auth:\n      tls:\n        insecure_skip_verify: true\n      plain_text:\n        username: u\n        password: p\n",
    );
    let a = load_str(&yaml)
        .expect("loads")
        .runtime
        .kafka
        .exporter
        .expect("exporter")
        .auth;
    assert_eq!(a.security_protocol(), "sasl_ssl");
    assert!(a.tls.expect("tls").insecure_skip_verify);
    assert_eq!(a.sasl.expect("sasl").mechanism, "PLAIN");

    // `tls: {insecure: true}` without a CA is plain text, as OTel's configtls has it.
    let yaml = KAFKA_EXPORTER.replace(
        "    client_id: c1\n",
        "    client_id: c1\n    tls:\n      insecure: true\n",
    );
    let a = load_str(&yaml)
        .expect("loads")
        .runtime
        .kafka
        .exporter
        .expect("exporter")
        .auth;
    assert_eq!(a.security_protocol(), "plaintext");
}

#[test]
fn kafka_receiver_keys_map_to_the_consumer() {
    let yaml = r#"
service:
  extensions: [jaeger_storage]
  pipelines:
    traces:
      receivers: [kafka]
      exporters: [jaeger_storage_exporter]
extensions:
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 10
receivers:
  kafka:
    brokers: [k1:9092]
    group_id: g1
    client_id: c1
    initial_offset: latest
    max_fetch_size: 2000000
    autocommit:
      interval: 3s
    traces:
      topics: [a, b]
      encoding: zipkin_thrift
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
"#;
    let c = load_str(yaml).expect("loads");
    let r = c.runtime.kafka.receiver.expect("receiver");
    assert_eq!(r.brokers, ["k1:9092"]);
    assert_eq!(r.topics, ["a", "b"]);
    assert_eq!(r.encoding, "zipkin_thrift");
    assert_eq!((r.group_id.as_str(), r.client_id.as_str()), ("g1", "c1"));
    assert_eq!(r.initial_offset, "latest");
    assert_eq!(r.max_message_bytes, 2_000_000);
    assert_eq!(r.commit_interval, Duration::from_secs(3));
    let e = load_str(&yaml.replace("initial_offset: latest", "initial_offset: middle"))
        .expect_err("bad offset");
    assert!(e.contains("receivers.kafka.initial_offset"), "{e}");
    // Jaeger v2's defaults, and the keys when given.
    assert_eq!(r.session_timeout, Duration::from_secs(10));
    assert_eq!(r.heartbeat_interval, Duration::from_secs(3));
    assert!(r.auth.is_plain());
    let timed = yaml.replace(
        "    group_id: g1\n",
        "    group_id: g1\n    session_timeout: 45s\n    heartbeat_interval: 5s\n    auth:\n      sasl:\n        username: u\n        password: p\n        mechanism: SCRAM-SHA-512\n",
    );
    let r = load_str(&timed)
        .expect("loads")
        .runtime
        .kafka
        .receiver
        .expect("receiver");
    assert_eq!(r.session_timeout, Duration::from_secs(45));
    assert_eq!(r.heartbeat_interval, Duration::from_secs(5));
    assert_eq!(r.auth.security_protocol(), "sasl_plaintext");
    assert_eq!(r.auth.key, "receivers.kafka");
    let e = load_str(&timed.replace("heartbeat_interval: 5s", "heartbeat_interval: 50s"))
        .expect_err("heartbeat longer than the session");
    assert!(e.contains("receivers.kafka.heartbeat_interval"), "{e}");
}
