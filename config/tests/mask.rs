//! `print-config`: secrets never leave the process; everything else round-trips.

use jaeger_config::v2::{REDACTED, mask_secrets, parse_str_with_env};

const SECRETIVE: &str = "\
extensions:
  jaeger_storage:
    backends:
      cass:
        cassandra:
          connection:
            auth:
              basic:
                username: cassandra
                password: hunter2
            tls:
              key_pem: |
                -----BEGIN PRIVATE KEY-----
                abc
                -----END PRIVATE KEY-----
              key_file: /etc/tls/key.pem
      es:
        elasticsearch:
          server_urls: [\"https://elastic:changeme@es:9200\"]
          auth:
            basic:
              username: elastic
              password: changeme
          custom_headers:
            Authorization: Bearer s3cr3t
            X-Team: tracing
      remote:
        grpc:
          endpoint: remote:17271
          headers:
            authorization: Bearer abc
  jaeger_query:
    storage:
      traces: cass
receivers:
  otlp:
    protocols:
      grpc:
  kafka:
    auth:
      sasl:
        username: kafka
        password: kafkapass
        mechanism: PLAIN
exporters:
  jaeger_storage_exporter:
    trace_storage: cass
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp, kafka]
      exporters: [jaeger_storage_exporter]
";

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn secrets_are_redacted() {
    let (cfg, _) = parse_str_with_env(SECRETIVE, &no_env).expect("valid");
    let out = mask_secrets(&cfg).expect("serializes");
    for secret in [
        "hunter2",
        "changeme",
        "s3cr3t",
        "Bearer abc",
        "kafkapass",
        "BEGIN PRIVATE KEY",
    ] {
        assert!(!out.contains(secret), "{secret} leaked:\n{out}");
    }
    assert!(out.matches(REDACTED).count() >= 7, "{out}");
    // What is not secret stays readable.
    for visible in [
        "username: cassandra",
        "key_file: /etc/tls/key.pem",
        "X-Team: tracing",
        "https://elastic:[REDACTED]@es:9200",
        "mechanism: PLAIN",
        "endpoint: remote:17271",
    ] {
        assert!(out.contains(visible), "{visible} missing:\n{out}");
    }
}

#[test]
fn the_effective_config_round_trips() {
    let (cfg, _) = parse_str_with_env(SECRETIVE, &no_env).expect("valid");
    let printed = mask_secrets(&cfg).expect("serializes");
    let (again, _) = parse_str_with_env(&printed, &no_env)
        .unwrap_or_else(|e| panic!("printed config does not parse: {e}\n{printed}"));
    // Only the redacted values differ.
    assert_eq!(mask_secrets(&again).expect("serializes"), printed);

    // Defaults are spelled out, so the printout shows what runs.
    assert!(printed.contains("keyspace: jaeger_dc1"), "{printed}");
    assert!(printed.contains("trace_ttl: 48h0m0s"), "{printed}");
    assert!(printed.contains("max_doc_count: 10000"), "{printed}");
}

#[test]
fn every_example_round_trips_unchanged() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for entry in std::fs::read_dir(&dir).expect("examples dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let (cfg, _) = parse_str_with_env(&text, &no_env).expect("valid");
        // Serialize without masking, parse again: the same model.
        let yaml = serde_yaml::to_string(&cfg).expect("serializes");
        let (again, _) = parse_str_with_env(&yaml, &no_env)
            .unwrap_or_else(|e| panic!("{}: {e}\n{yaml}", path.display()));
        assert_eq!(again, cfg, "{}", path.display());
    }
}

#[test]
fn the_runtime_config_prints_too() {
    let out = mask_secrets(&jaeger_config::Config::default()).expect("serializes");
    assert!(out.contains("retention: 72h0m0s"), "{out}");
}
