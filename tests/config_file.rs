//! End-to-end: `jaeger --config` with Jaeger v2 YAML files.

mod common;

use std::process::Command;

use common::{JaegerBuilder, free_port, now_nanos};

fn example(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn memory_example_config_runs_and_flags_override_its_ports() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The harness passes every port as a flag: flags win over the file.
    let j = JaegerBuilder::new(&data)
        .arg("--config")
        .arg(example("config-memory.yaml"))
        .start();
    let start = now_nanos() - 1_000_000_000;
    let body = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "from-yaml"}}]},
        "scopeSpans": [{"spans": [{"traceId": "000000000000000000000000000000f1", "spanId": "00000000000000f1",
          "name": "op", "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 1000).to_string()}]}]
    }]});
    let r = reqwest::blocking::Client::new()
        .post(j.otlp_http_url())
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        j.get_json("/api/services", 200)["data"],
        serde_json::json!(["from-yaml"])
    );
    // The file chose the memory backend: nothing was written to the data dir.
    assert!(!data.exists());
}

#[test]
fn a_bad_key_names_its_path_and_exits_before_opening_ports() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "extensions:\n  jaeger_storage:\n    backends:\n      some_storage:\n        cassandra:\n          conection: {}\n",
    )
    .unwrap();
    let health = free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_jaeger"))
        .arg("--config")
        .arg(&file)
        .arg("--health.host-port")
        .arg(health.to_string())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "extensions.jaeger_storage.backends.some_storage.cassandra.conection: unknown field, did you mean connection?"
        ),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("listening"),
        "no port was opened: {stdout}"
    );
}

#[test]
fn print_config_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret.yaml");
    let text = std::fs::read_to_string(example("config-memory.yaml")).unwrap().replace(
        "        memory:\n          max_traces: 100000",
        "        memory:\n          max_traces: 100000\n      cass:\n        cassandra:\n          connection:\n            auth:\n              basic:\n                username: jaeger\n                password: hunter2",
    );
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_jaeger"))
        .arg("--config")
        .arg(&file)
        .arg("print-config")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("kind: memory"), "{stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(stdout.contains("[REDACTED]"), "{stdout}");
}

/// `jaeger print-config`'s effective settings (the first YAML document).
fn effective(file: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> jaeger_config::Config {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jaeger"));
    cmd.arg("--config").arg(file).args(args).arg("print-config");
    for k in [
        "QUERY_BASE_PATH",
        "QUERY_MAX_CLOCK_SKEW_ADJUSTMENT",
        "COLLECTOR_ZIPKIN_HOST_PORT",
        "SPAN_STORAGE_TYPE",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = stdout.split("\n---\n").next().unwrap_or_default();
    serde_yaml::from_str(first).unwrap_or_else(|e| panic!("{e}: {first}"))
}

#[test]
fn env_vars_override_yaml_and_flags_override_env() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    let text = std::fs::read_to_string(example("config-memory.yaml"))
        .unwrap()
        .replace(
            "  jaeger_query:\n",
            "  jaeger_query:\n    base_path: /from-yaml\n    max_clock_skew_adjust: 5s\n",
        );
    std::fs::write(&file, text).unwrap();

    // The file alone.
    let c = effective(&file, &[], &[]);
    assert_eq!(c.query.base_path, "/from-yaml");
    assert_eq!(c.query.max_clock_skew_adjust.as_secs(), 5);
    assert_eq!(c.storage.kind, jaeger_config::StorageKind::Memory);
    assert_eq!(c.zipkin.endpoint, Some("127.0.0.1:9411".parse().unwrap()));

    // Jaeger v1's env vars win over the file.
    let env = [
        ("QUERY_BASE_PATH", "/from-env"),
        ("QUERY_MAX_CLOCK_SKEW_ADJUSTMENT", "1s"),
        ("COLLECTOR_ZIPKIN_HOST_PORT", ":19411"),
        ("SPAN_STORAGE_TYPE", "badger"),
    ];
    let c = effective(&file, &[], &env);
    assert_eq!(c.query.base_path, "/from-env");
    assert_eq!(c.query.max_clock_skew_adjust.as_secs(), 1);
    assert_eq!(c.zipkin.endpoint, Some("0.0.0.0:19411".parse().unwrap()));
    assert_eq!(c.storage.kind, jaeger_config::StorageKind::Embedded);

    // Flags win over env vars.
    let c = effective(
        &file,
        &[
            "--query.base-path=/from-flag",
            "--query.max-clock-skew-adjustment=0s",
            "--collector.zipkin.host-port=off",
            "--storage=memory",
        ],
        &env,
    );
    assert_eq!(c.query.base_path, "/from-flag");
    assert!(c.query.max_clock_skew_adjust.is_zero());
    assert_eq!(c.zipkin.endpoint, None);
    assert_eq!(c.storage.kind, jaeger_config::StorageKind::Memory);
}

#[test]
fn query_base_path_env_var_beats_the_file_in_a_running_process() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    let text = std::fs::read_to_string(example("config-memory.yaml"))
        .unwrap()
        .replace(
            "  jaeger_query:\n",
            "  jaeger_query:\n    base_path: /from-yaml\n",
        );
    std::fs::write(&file, text).unwrap();
    let j = JaegerBuilder::new(&dir.path().join("data"))
        .arg("--config")
        .arg(file.to_string_lossy())
        .env("QUERY_BASE_PATH", "/from-env")
        .start();
    assert_eq!(
        j.get_json("/from-env/api/services", 200)["data"],
        serde_json::json!([])
    );
    let r = reqwest::blocking::get(j.query_url("/from-yaml/api/services")).unwrap();
    assert_ne!(r.status().as_u16(), 200);
}
