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
    // Health and expvar are extensions: not listed in service.extensions, not run.
    assert_eq!(c.runtime.admin.metrics_endpoint, d.admin.metrics_endpoint);
    assert_eq!(c.runtime.admin.http_endpoint, d.admin.http_endpoint);
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
    assert_eq!(o.grpc_endpoint, Some(addr("0.0.0.0:5317")));
    assert_eq!(o.max_grpc_message_bytes, 16 * 1024 * 1024);
    assert_eq!(o.http_endpoint, Some(addr("[::1]:5318")));
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
    assert_eq!(
        c.runtime.admin.health_endpoint,
        Some(addr("127.0.0.1:14133"))
    );
    assert_eq!(c.runtime.admin.metrics_endpoint, addr("127.0.0.1:9999"));

    // Legacy healthcheck form.
    let yaml = config(MEMORY, "  healthcheckv2:\n    endpoint: :13134").replace(
        "  extensions: [jaeger_storage, jaeger_query]",
        "  extensions: [jaeger_storage, jaeger_query, healthcheckv2]",
    );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert_eq!(c.runtime.admin.health_endpoint, Some(addr("0.0.0.0:13134")));

    // Listed without an endpoint: the default port.
    let yaml = config(MEMORY, "  healthcheckv2:").replace(
        "  extensions: [jaeger_storage, jaeger_query]",
        "  extensions: [jaeger_storage, jaeger_query, healthcheckv2]",
    );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert_eq!(
        c.runtime.admin.health_endpoint,
        Config::default().admin.health_endpoint
    );

    // An extension that is defined but not listed does not run.
    let yaml = config(MEMORY, "  healthcheckv2:\n    endpoint: :13134");
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert_eq!(c.runtime.admin.health_endpoint, None);
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
fn grpc_backend_maps_with_and_without_tls() {
    let body = "        grpc:\n          endpoint: remote:17271\n          tls: {insecure: true}\n          timeout: 2s";
    let c = load_str_with_env(&config(body, ""), &no_env).expect("loads");
    assert_eq!(c.runtime.storage.kind, StorageKind::Grpc);
    let g = c.runtime.storage.grpc.as_ref().expect("grpc section");
    assert_eq!(g.endpoint, "remote:17271");
    assert_eq!(g.timeout.0, std::time::Duration::from_secs(2));

    assert!(g.tls.insecure, "insecure: true is plain text");

    // TLS is on unless `insecure: true`, as in Jaeger v2; the CA file is kept.
    let body =
        "        grpc:\n          endpoint: remote:17271\n          tls: {ca_file: /etc/ca.pem}";
    let c = load_str_with_env(&config(body, ""), &no_env).expect("TLS loads");
    let g = c.runtime.storage.grpc.as_ref().expect("grpc section");
    assert!(!g.tls.insecure, "TLS by default");
    assert_eq!(g.tls.ca_file.as_deref(), Some("/etc/ca.pem"));
}

/// `config` with other receivers in the traces pipeline.
fn with_receivers(receivers: &str, in_pipeline: &str) -> String {
    config(MEMORY, "")
        .replace(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n      http:\n",
            &format!("receivers:\n{receivers}"),
        )
        .replace(
            "      receivers: [otlp]",
            &format!("      receivers: [{in_pipeline}]"),
        )
}

#[test]
fn jaeger_receiver_protocols_present_listen_absent_do_not() {
    let yaml = with_receivers(
        "  jaeger:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:24250\n      thrift_compact:\n",
        "jaeger",
    );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    let j = &c.runtime.jaeger;
    assert_eq!(j.grpc_endpoint, Some(addr("127.0.0.1:24250")));
    // Present without an endpoint: the default port.
    assert_eq!(j.thrift_compact_endpoint, Some(addr("0.0.0.0:6831")));
    assert_eq!(j.thrift_http_endpoint, None);
    assert_eq!(j.thrift_binary_endpoint, None);
    // No otlp or zipkin receiver: those do not listen either.
    assert_eq!(c.runtime.otlp.grpc_endpoint, None);
    assert_eq!(c.runtime.otlp.http_endpoint, None);
    assert_eq!(c.runtime.zipkin.endpoint, None);

    let yaml = with_receivers(
        "  jaeger:\n    protocols:\n      thrift_http:\n        endpoint: :24268\n      thrift_binary:\n        endpoint: localhost:26832\n",
        "jaeger",
    );
    let j = load_str_with_env(&yaml, &no_env)
        .expect("loads")
        .runtime
        .jaeger;
    assert_eq!(j.grpc_endpoint, None);
    assert_eq!(j.thrift_http_endpoint, Some(addr("0.0.0.0:24268")));
    assert_eq!(j.thrift_binary_endpoint, Some(addr("127.0.0.1:26832")));
    assert_eq!(j.thrift_compact_endpoint, None);

    let yaml = with_receivers(
        "  jaeger:\n    protocols:\n      grpc:\n        endpoint: 14250\n",
        "jaeger",
    );
    let e = load_str_with_env(&yaml, &no_env).unwrap_err();
    assert_eq!(
        e.to_string(),
        "receivers.jaeger.protocols.grpc.endpoint: invalid endpoint \"14250\": expected host:port or :port"
    );
}

#[test]
fn zipkin_receiver_takes_its_endpoint() {
    let yaml = with_receivers("  zipkin:\n    endpoint: 127.0.0.1:19411\n", "zipkin");
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert_eq!(c.runtime.zipkin.endpoint, Some(addr("127.0.0.1:19411")));
    assert_eq!(c.runtime.jaeger.grpc_endpoint, None);

    let yaml = with_receivers("  zipkin:\n", "zipkin");
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert_eq!(c.runtime.zipkin.endpoint, Some(addr("0.0.0.0:9411")));
}

#[test]
fn receivers_outside_every_traces_pipeline_do_not_listen() {
    let yaml = with_receivers(
        "  otlp:\n    protocols:\n      http:\n  zipkin:\n  jaeger:\n    protocols:\n      grpc:\n",
        "otlp",
    );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    let r = &c.runtime;
    // Only otlp is in the pipeline, and only its http protocol is present.
    assert_eq!(r.otlp.http_endpoint, Some(addr("0.0.0.0:4318")));
    assert_eq!(r.otlp.grpc_endpoint, None);
    assert_eq!(r.zipkin.endpoint, None);
    assert_eq!(r.jaeger.grpc_endpoint, None);

    // A second receiver of the same type: the first runs, the other is a warning.
    let yaml = with_receivers(
        "  otlp:\n    protocols:\n      grpc:\n  otlp/2:\n    protocols:\n      grpc:\n        endpoint: :5317\n",
        "otlp, otlp/2",
    );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert_eq!(c.runtime.otlp.grpc_endpoint, Some(addr("0.0.0.0:4317")));
    assert_eq!(
        c.warnings,
        ["receivers.otlp/2: only the first otlp receiver of the traces pipelines runs"]
    );
}

#[test]
fn service_extensions_decide_what_runs() {
    // Nothing but storage listed: no query service, no health check, no expvar.
    let yaml = config(
        MEMORY,
        "  healthcheckv2:\n    use_v2: true\n  expvar:\n    endpoint: 127.0.0.1:27777",
    )
    .replace(
        "  extensions: [jaeger_storage, jaeger_query]",
        "  extensions: [jaeger_storage]",
    );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert!(!c.runtime.query.enabled);
    assert_eq!(c.runtime.admin.health_endpoint, None);
    assert_eq!(c.runtime.admin.expvar_endpoint, None);
    // Jaeger v1's admin port has no v2 extension: it keeps its default.
    assert_eq!(
        c.runtime.admin.http_endpoint,
        Config::default().admin.http_endpoint
    );

    // All listed: each takes its endpoint.
    let yaml = yaml.replace(
        "  extensions: [jaeger_storage]",
        "  extensions: [jaeger_storage, jaeger_query, healthcheckv2, expvar]",
    );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert!(c.runtime.query.enabled);
    assert_eq!(c.runtime.admin.health_endpoint, Some(addr("0.0.0.0:13133")));
    assert_eq!(
        c.runtime.admin.expvar_endpoint,
        Some(addr("127.0.0.1:27777"))
    );

    // expvar listed without an endpoint: the deployment guide's port 2777.
    let yaml = config(MEMORY, "  expvar:").replace(
        "  extensions: [jaeger_storage, jaeger_query]",
        "  extensions: [jaeger_storage, jaeger_query, expvar]",
    );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert_eq!(c.runtime.admin.expvar_endpoint, Some(addr("0.0.0.0:2777")));
}

#[test]
fn telemetry_metrics_address_and_pull_reader() {
    let yaml = config(MEMORY, "").replace(
        "  extensions: [jaeger_storage, jaeger_query]",
        "  extensions: [jaeger_storage, jaeger_query]\n  telemetry:\n    metrics:\n      address: localhost:18888",
    );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert_eq!(c.runtime.admin.metrics_endpoint, addr("127.0.0.1:18888"));
    // A pull reader wins over the deprecated address.
    let yaml = yaml.replace(
        "      address: localhost:18888",
        "      address: localhost:18888\n      readers:\n        - pull:\n            exporter:\n              prometheus:\n                host: 0.0.0.0\n                port: 18889",
    );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert_eq!(c.runtime.admin.metrics_endpoint, addr("0.0.0.0:18889"));
}

#[test]
fn tls_blocks_map_to_files() {
    let yaml = with_receivers(
        "  otlp:\n    protocols:\n      grpc:\n        tls:\n          cert_file: /c.pem\n          key_file: /k.pem\n      http:\n        tls:\n          cert_file: /c2.pem\n          key_file: /k2.pem\n          min_version: \"1.3\"\n",
        "otlp",
    )
    .replace(
        "      traces: main\n",
        "      traces: main\n    http:\n      tls:\n        cert_file: /q.pem\n        key_file: /qk.pem\n",
    );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    let files = |c: &str, k: &str| {
        Some(jaeger_config::TlsFiles {
            cert_file: PathBuf::from(c),
            key_file: PathBuf::from(k),
            ..Default::default()
        })
    };
    assert_eq!(c.runtime.otlp.grpc_tls, files("/c.pem", "/k.pem"));
    assert_eq!(c.runtime.otlp.http_tls, files("/c2.pem", "/k2.pem"));
    assert_eq!(c.runtime.query.http_tls, files("/q.pem", "/qk.pem"));
    assert_eq!(
        c.warnings,
        [
            "receivers.otlp.protocols.http.tls: min_version not acted on yet (files are read once at start-up; rustls' default versions and suites)"
        ]
    );

    let yaml = with_receivers(
        "  otlp:\n    protocols:\n      grpc:\n        tls:\n          cert_file: /c.pem\n",
        "otlp",
    );
    let e = load_str_with_env(&yaml, &no_env).unwrap_err();
    assert_eq!(
        e.to_string(),
        "receivers.otlp.protocols.grpc.tls: cert_file and key_file are both required"
    );
}

#[test]
fn dependencies_extension_schedules_the_job_in_process() {
    let listed = |body: &str| {
        config(MEMORY, body).replace(
            "  extensions: [jaeger_storage, jaeger_query]",
            "  extensions: [jaeger_storage, jaeger_query, dependencies]",
        )
    };
    let yaml = listed(
        "  dependencies:\n    schedule: \"0 */15 * * * *\"\n    lookback: 15m\n    memory_limit_mib: 512",
    );
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    let d = &c.runtime.dependencies;
    assert_eq!(d.schedule.as_deref(), Some("0 */15 * * * *"));
    assert_eq!(d.lookback, Duration::from_secs(15 * 60));
    assert_eq!(d.memory_limit_bytes, Some(512 << 20));

    // Defaults: the previous UTC day, unbounded memory.
    let c = load_str_with_env(
        &listed("  dependencies:\n    schedule: \"0 5 0 * * *\""),
        &no_env,
    )
    .expect("loads");
    assert_eq!(c.runtime.dependencies.lookback, Duration::from_secs(86_400));
    assert_eq!(c.runtime.dependencies.memory_limit_bytes, None);

    // Defined but not listed: no job.
    let yaml = config(MEMORY, "  dependencies:\n    schedule: \"0 5 0 * * *\"");
    let c = load_str_with_env(&yaml, &no_env).expect("loads");
    assert_eq!(c.runtime.dependencies.schedule, None);

    // A schedule is required; unknown keys name their path.
    let e = load_str_with_env(&listed("  dependencies:\n    lookback: 1h"), &no_env)
        .expect_err("no schedule");
    assert!(
        e.to_string()
            .contains("extensions.dependencies.schedule: required"),
        "{e}"
    );
    let e = load_str_with_env(
        &listed("  dependencies:\n    schedule: \"* * * * * *\"\n    memory_limit: 5"),
        &no_env,
    )
    .expect_err("unknown key");
    assert!(e.to_string().contains("memory_limit"), "{e}");
}
