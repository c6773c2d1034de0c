//! `${env:...}` expansion through the loader, and the mapping onto the runtime config.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use jaeger_config::v2::{ConfigError, load_str_with_env, parse_str_with_env};
use jaeger_config::{Config, StorageKind};

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// A minimal all-in-one around the given storage backend body and extra extension keys.
fn config(backend: &str, query_extra: &str) -> String {
    format!(
        "\
extensions:
  jaeger_storage:
    backends:
      main:
{backend}
  jaeger_query:
    storage:
      traces: main
{query_extra}
receivers:
  otlp:
    protocols:
      grpc:
      http:
exporters:
  jaeger_storage_exporter:
    trace_storage: main
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
"
    )
}

const MEMORY: &str = "        memory:\n          max_traces: 50";

#[test]
fn env_forms_expand_before_parsing() {
    let yaml = config(
        MEMORY,
        "    base_path: ${env:BASE_PATH}\n    max_clock_skew_adjust: \"${SKEW:-0s}\"\n    http:\n      endpoint: ${env:HOST:-localhost}:${env:PORT:-16686}",
    );
    let env = |n: &str| match n {
        "BASE_PATH" => Some("/jaeger".to_string()),
        "PORT" => Some("9999".to_string()),
        _ => None,
    };
    let c = load_str_with_env(&yaml, &env).expect("loads");
    assert_eq!(c.runtime.query.base_path, "/jaeger");
    assert_eq!(c.runtime.query.http_endpoint, addr("127.0.0.1:9999"));
    assert_eq!(c.runtime.query.max_clock_skew_adjust, Duration::ZERO);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);

    let env = |n: &str| (n == "SKEW").then(|| "30s".to_string());
    let c = load_str_with_env(&yaml, &env).expect("loads");
    assert_eq!(
        c.runtime.query.max_clock_skew_adjust,
        Duration::from_secs(30)
    );
    // BASE_PATH unset: an empty value (base path "/"), and a warning.
    assert_eq!(c.runtime.query.base_path, "/");
    assert_eq!(
        c.warnings,
        ["environment variable BASE_PATH is not set; it was replaced by an empty string"]
    );
}

#[test]
fn dollar_dollar_escapes_and_typed_quoted_values() {
    let yaml = config(
        "        memory:\n          max_traces: \"${env:MAX:-7}\"",
        "    ui:\n      config_file: \"/etc/$${env:NOT_EXPANDED}.json\"",
    );
    let (cfg, unset) = parse_str_with_env(&yaml, &no_env).expect("parses");
    assert!(unset.is_empty());
    assert_eq!(
        cfg.jaeger_query().unwrap().ui.config_file.as_deref(),
        Some("/etc/${env:NOT_EXPANDED}.json")
    );
    assert_eq!(
        cfg.backend("main")
            .unwrap()
            .memory
            .as_ref()
            .unwrap()
            .max_traces,
        7
    );
}

#[test]
fn env_errors_name_the_line() {
    let yaml = config(MEMORY, "    base_path: ${env:BASE");
    let e = parse_str_with_env(&yaml, &no_env).unwrap_err();
    assert!(matches!(e, ConfigError::Env { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "line 10, column 16: unterminated ${ reference"
    );
}

#[test]
fn runtime_defaults_stay_when_the_file_is_silent() {
    let c = load_str_with_env(&config(MEMORY, ""), &no_env).expect("loads");
    let d = Config::default();
    assert_eq!(c.runtime.otlp, d.otlp);
    assert_eq!(c.runtime.query, d.query);
    assert_eq!(c.runtime.admin, d.admin);
    assert_eq!(c.runtime.queue, d.queue);
    assert_eq!(c.runtime.storage.kind, StorageKind::Memory);
    assert_eq!(c.runtime.storage.memory.max_traces, 50);
}

#[test]
fn memory_default_is_jaegers() {
    let c = load_str_with_env(&config("        memory:", ""), &no_env).expect("loads");
    assert_eq!(c.runtime.storage.memory.max_traces, 1_000_000);
}

#[test]
fn badger_ephemeral_uses_a_temporary_directory() {
    let c = load_str_with_env(&config("        badger:", ""), &no_env).expect("loads");
    assert!(c.ephemeral_storage);
    assert_eq!(c.runtime.storage.kind, StorageKind::Embedded);
    assert!(
        c.runtime
            .storage
            .embedded
            .data_dir
            .starts_with(std::env::temp_dir())
    );
    assert_eq!(
        c.runtime.storage.embedded.retention,
        Duration::from_secs(72 * 3600)
    );
}

#[test]
fn badger_settings_map_to_the_embedded_store() {
    let backend = "        badger:\n          ephemeral: false\n          directories:\n            keys: /data/keys\n            values: /data/values\n          ttl:\n            spans: 168h\n          consistency: true";
    let c = load_str_with_env(&config(backend, ""), &no_env).expect("loads");
    let e = &c.runtime.storage.embedded;
    assert_eq!(e.data_dir, PathBuf::from("/data/keys"));
    assert_eq!(e.retention, Duration::from_secs(168 * 3600));
    assert!(e.sync_writes);
    assert!(!c.ephemeral_storage);
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(
        c.warnings[0].contains("directories.values"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn otlp_limits_and_query_settings() {
    let yaml = config(MEMORY, "    base_path: /jaeger/\n    max_clock_skew_adjust: 1m30s\n    http:\n      endpoint: :16000")
        .replace(
            "      grpc:\n      http:\n",
            "      grpc:\n        endpoint: 0.0.0.0:5317\n        max_recv_msg_size_mib: 16\n      http:\n        endpoint: '[::1]:5318'\n        max_request_body_size: 1048576\n",
        );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    let o = &c.runtime.otlp;
    assert_eq!(o.grpc_endpoint, addr("0.0.0.0:5317"));
    assert_eq!(o.max_grpc_message_bytes, 16 * 1024 * 1024);
    assert_eq!(o.http_endpoint, addr("[::1]:5318"));
    assert_eq!(o.max_request_body_bytes, 1_048_576);
    let q = &c.runtime.query;
    assert_eq!(q.base_path, "/jaeger");
    assert_eq!(q.max_clock_skew_adjust, Duration::from_secs(90));
    assert_eq!(q.http_endpoint, addr("0.0.0.0:16000"));
}

#[test]
fn bad_endpoints_name_their_path() {
    let yaml = config(MEMORY, "    http:\n      endpoint: 16686");
    let e = load_str_with_env(&yaml, &no_env).unwrap_err();
    assert_eq!(
        e.to_string(),
        "extensions.jaeger_query.http.endpoint: invalid endpoint \"16686\": expected host:port or :port"
    );
}

#[test]
fn health_and_metrics_endpoints() {
    let yaml = config(MEMORY, "  healthcheckv2:\n    use_v2: true\n    http:\n      endpoint: 127.0.0.1:14133")
        .replace(
            "  extensions: [jaeger_storage, jaeger_query]",
            "  extensions: [jaeger_storage, jaeger_query, healthcheckv2]\n  telemetry:\n    metrics:\n      address: 127.0.0.1:9999",
        );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert_eq!(c.runtime.admin.health_endpoint, addr("127.0.0.1:14133"));
    assert_eq!(c.runtime.admin.metrics_endpoint, addr("127.0.0.1:9999"));

    // Legacy healthcheck form.
    let yaml = config(MEMORY, "  healthcheckv2:\n    endpoint: :13134").replace(
        "  extensions: [jaeger_storage, jaeger_query]",
        "  extensions: [jaeger_storage, jaeger_query, healthcheckv2]",
    );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert_eq!(c.runtime.admin.health_endpoint, addr("0.0.0.0:13134"));

    // An extension that is defined but not listed does not run.
    let yaml = config(MEMORY, "  healthcheckv2:\n    endpoint: :13134");
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert_eq!(
        c.runtime.admin.health_endpoint,
        Config::default().admin.health_endpoint
    );
}

#[test]
fn storage_exporter_queue_maps_to_our_queue() {
    let yaml = config(MEMORY, "").replace(
        "    trace_storage: main\n",
        "    trace_storage: main\n    queue:\n      num_consumers: 4\n      queue_size: 10485760\n      sizer: bytes\n      batch:\n        max_size: 1000\n",
    );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert_eq!(c.runtime.queue.writers, 4);
    assert_eq!(c.runtime.queue.max_bytes, 10_485_760);
    assert_eq!(c.runtime.queue.max_batch_spans, 1000);
}

#[test]
fn one_process_serves_one_trace_storage() {
    let yaml = config(MEMORY, "")
        .replace(
            "      main:\n",
            "      other:\n        memory:\n      main:\n",
        )
        .replace("    trace_storage: main", "    trace_storage: other");
    let e = load_str_with_env(&yaml, &no_env).unwrap_err();
    assert!(
        e.to_string().starts_with(
            "extensions.jaeger_query.storage.traces: reads \"main\" while the storage exporter writes \"other\""
        ),
        "{e}"
    );
}

#[test]
fn collector_without_query_takes_the_exporters_storage() {
    let yaml = config(MEMORY, "").replace(
        "  extensions: [jaeger_storage, jaeger_query]",
        "  extensions: [jaeger_storage]",
    );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert_eq!(c.trace_storage.as_deref(), Some("main"));
    assert_eq!(c.runtime.storage.kind, StorageKind::Memory);
    assert!(c.v2.jaeger_query().is_none());
}

#[test]
fn unsupported_backends_parse_but_do_not_map() {
    for (body, kind) in [
        ("        grpc:\n          endpoint: remote:17271", "grpc"),
        (
            "        elasticsearch:\n          server_urls: http://es:9200",
            "elasticsearch",
        ),
    ] {
        let yaml = config(body, "");
        parse_str_with_env(&yaml, &no_env).expect("parses");
        let e = load_str_with_env(&yaml, &no_env).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "extensions.jaeger_storage.backends.main: storage backend {kind} is not supported yet"
            )
        );
    }
}
