//! Every kind of configuration error names the exact path and says what is wrong.

use jaeger_config::v2::{ConfigError, Location, load_file_with_env, parse_str_with_env};

const BASE: &str = "\
extensions:
  jaeger_storage:
    backends:
      some_storage:
        memory:
          max_traces: 1000
  jaeger_query:
    storage:
      traces: some_storage
receivers:
  otlp:
    protocols:
      grpc:
      http:
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: some_storage
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
";

fn no_env(_: &str) -> Option<String> {
    None
}

/// BASE with one snippet replaced.
fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no {from:?}");
    BASE.replacen(from, to, 1)
}

fn err(yaml: &str) -> ConfigError {
    match parse_str_with_env(yaml, &no_env) {
        Ok(_) => panic!("expected an error for:\n{yaml}"),
        Err(e) => e,
    }
}

#[test]
fn base_is_valid() {
    parse_str_with_env(BASE, &no_env).expect("BASE is valid");
}

#[test]
fn unknown_key_with_a_suggestion() {
    let yaml = with(
        "        memory:\n          max_traces: 1000\n",
        "        cassandra:\n          conection:\n            servers: [cassandra]\n",
    );
    let e = err(&yaml);
    assert_eq!(
        e.to_string(),
        "extensions.jaeger_storage.backends.some_storage.cassandra.conection: unknown field, \
         did you mean connection? (line 6, column 11)"
    );
    let ConfigError::UnknownField {
        field,
        suggestion,
        valid,
        location,
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(field, "conection");
    assert_eq!(suggestion.as_deref(), Some("connection"));
    assert!(valid.iter().any(|v| v == "schema"));
    assert_eq!(
        *location,
        Some(Location {
            line: 6,
            column: 11
        })
    );
}

#[test]
fn unknown_key_without_a_close_one_lists_the_valid_keys() {
    let e = err(&with(
        "          max_traces: 1000",
        "          capacity: 1000",
    ));
    assert_eq!(
        e.to_string(),
        "extensions.jaeger_storage.backends.some_storage.memory.capacity: unknown field, \
         valid keys: max_traces (line 6, column 11)"
    );
}

#[test]
fn unknown_top_level_key() {
    let e = err(&BASE.replace("receivers:\n  otlp:", "recievers:\n  otlp:"));
    assert!(
        e.to_string()
            .starts_with("recievers: unknown field, did you mean receivers?"),
        "{e}"
    );
}

#[test]
fn unknown_key_in_a_named_component() {
    let yaml = with("  otlp:\n    protocols:", "  otlp/2:\n    protocols:")
        .replace("receivers: [otlp]", "receivers: [otlp/2]")
        .replace("      http:\n", "      http:\n        endpont: :4318\n");
    let e = err(&yaml);
    assert!(
        e.to_string().starts_with(
            "receivers.otlp/2.protocols.http.endpont: unknown field, did you mean endpoint?"
        ),
        "{e}"
    );
}

#[test]
fn keys_removed_from_jaeger_say_so() {
    let yaml = with(
        "        memory:\n          max_traces: 1000\n",
        "        elasticsearch:\n          server_urls: [http://es:9200]\n          bulk_processing:\n            max_actions: 100\n",
    );
    let e = err(&yaml);
    assert!(
        e.to_string().starts_with(
            "extensions.jaeger_storage.backends.some_storage.elasticsearch.bulk_processing.max_actions: \
             unknown field, this key was removed from Jaeger; delete it"
        ),
        "{e}"
    );
}

#[test]
fn settings_on_a_component_that_takes_none() {
    let yaml = with(
        "processors:\n  batch:\n",
        "processors:\n  batch:\n  adaptive_sampling:\n    rate: 1\n",
    );
    let e = err(&yaml);
    assert!(
        e.to_string().starts_with(
            "processors.adaptive_sampling.rate: unknown field, this section takes no keys"
        ),
        "{e}"
    );
}

#[test]
fn unknown_component_type() {
    let e = err(&with("  otlp:\n    protocols:", "  otlpp:\n    protocols:"));
    assert_eq!(
        e.to_string(),
        "receivers.otlpp: unknown receiver type \"otlpp\", did you mean otlp? (line 11, column 3)"
    );
    let e = err(&with("processors:\n  batch:", "processors:\n  sampler:"));
    assert!(
        e.to_string().starts_with(
            "processors.sampler: unknown processor type \"sampler\", known types: batch, memory_limiter"
        ),
        "{e}"
    );
}

#[test]
fn bad_component_id() {
    let e = err(&with("  otlp:\n    protocols:", "  otlp/:\n    protocols:"));
    assert!(
        e.to_string()
            .starts_with("receivers.otlp/: invalid component id"),
        "{e}"
    );
}

#[test]
fn wrong_types_name_the_path_and_the_expected_type() {
    let e = err(&with("max_traces: 1000", "max_traces: lots"));
    assert_eq!(
        e.to_string(),
        "extensions.jaeger_storage.backends.some_storage.memory.max_traces: wrong type, \
         expected a non-negative integer, found string \"lots\" (line 6, column 23)"
    );
    assert!(matches!(e, ConfigError::WrongType { .. }));

    let e = err(&with("receivers: [otlp]", "receivers: otlp"));
    assert!(
        e.to_string().starts_with(
            "service.pipelines.traces.receivers: wrong type, expected a list, found string \"otlp\""
        ),
        "{e}"
    );

    let e = err(&with(
        "      grpc:\n",
        "      grpc:\n        max_recv_msg_size_mib: -4\n",
    ));
    assert!(
        e.to_string().starts_with(
            "receivers.otlp.protocols.grpc.max_recv_msg_size_mib: wrong type, expected a non-negative integer, found integer -4"
        ),
        "{e}"
    );

    let e = err(&with(
        "  jaeger_query:\n    storage:",
        "  jaeger_query:\n    base_path: [a]\n    storage:",
    ));
    assert!(
        e.to_string().starts_with(
            "extensions.jaeger_query.base_path: wrong type, expected a string, found a list"
        ),
        "{e}"
    );

    let e = err(&with(
        "  jaeger_query:\n    storage:",
        "  jaeger_query:\n    ui:\n      log_access: maybe\n    storage:",
    ));
    assert!(
        e.to_string().starts_with(
            "extensions.jaeger_query.ui.log_access: wrong type, expected a boolean (true or false), found string \"maybe\""
        ),
        "{e}"
    );
}

#[test]
fn bad_durations() {
    let e = err(&with(
        "  jaeger_query:\n    storage:",
        "  jaeger_query:\n    max_clock_skew_adjust: 3days\n    storage:",
    ));
    assert_eq!(
        e.to_string(),
        "extensions.jaeger_query.max_clock_skew_adjust: time: unknown unit \"days\" in duration \"3days\"; \
         expected a duration such as 72h, 1m30s or 200ms (line 8, column 28)"
    );
    let e = err(&with(
        "processors:\n  batch:\n",
        "processors:\n  batch:\n    timeout: -1s\n",
    ));
    assert!(
        e.to_string()
            .starts_with("processors.batch.timeout: negative duration \"-1s\" is not allowed"),
        "{e}"
    );
}

#[test]
fn pipeline_names_an_undefined_receiver() {
    let e = err(&with("receivers: [otlp]", "receivers: [otlp, otlp/2]"));
    assert_eq!(
        e.to_string(),
        "service.pipelines.traces.receivers[1]: receiver \"otlp/2\" is not defined (defined receivers: otlp)"
    );
    assert!(matches!(
        e,
        ConfigError::UndefinedComponent {
            family: "receiver",
            ..
        }
    ));

    let e = err(&with(
        "exporters: [jaeger_storage_exporter]",
        "exporters: [jaeger_storage_exporter/archive]",
    ));
    assert_eq!(
        e.to_string(),
        "service.pipelines.traces.exporters[0]: exporter \"jaeger_storage_exporter/archive\" is not defined \
         (defined exporters: jaeger_storage_exporter)"
    );

    let e = err(&with(
        "processors: [batch]",
        "processors: [batch, memory_limiter]",
    ));
    assert!(
        e.to_string().starts_with(
            "service.pipelines.traces.processors[1]: processor \"memory_limiter\" is not defined"
        ),
        "{e}"
    );

    let e = err(&with(
        "extensions: [jaeger_storage, jaeger_query]",
        "extensions: [jaeger_storage, jaeger_query, healthcheckv2]",
    ));
    assert_eq!(
        e.to_string(),
        "service.extensions[2]: extension \"healthcheckv2\" is not defined \
         (defined extensions: jaeger_query, jaeger_storage)"
    );
}

#[test]
fn named_components_are_distinct_ids() {
    let yaml = with(
        "  jaeger_storage_exporter:\n    trace_storage: some_storage\n",
        "  jaeger_storage_exporter:\n    trace_storage: some_storage\n  jaeger_storage_exporter/archive:\n    trace_storage: some_storage\n",
    )
    .replace("receivers: [otlp]", "receivers: [otlp/2]")
    .replace("  otlp:\n    protocols:", "  otlp/2:\n    protocols:")
    .replace(
        "exporters: [jaeger_storage_exporter]",
        "exporters: [jaeger_storage_exporter, jaeger_storage_exporter/archive]",
    );
    let (cfg, _) = parse_str_with_env(&yaml, &no_env).expect("valid");
    assert!(cfg.exporters.contains("jaeger_storage_exporter/archive"));
    assert!(cfg.receivers.contains("otlp/2"));
    assert!(!cfg.receivers.contains("otlp"));
}

#[test]
fn storage_names_that_do_not_exist() {
    let e = err(&with("      traces: some_storage", "      traces: main"));
    assert_eq!(
        e.to_string(),
        "extensions.jaeger_query.storage.traces: storage backend \"main\" is not defined in \
         extensions.jaeger_storage.backends (defined: some_storage)"
    );
    let e = err(&with(
        "      traces: some_storage",
        "      traces: some_storage\n      traces_archive: archive",
    ));
    assert!(
        e.to_string().starts_with(
            "extensions.jaeger_query.storage.traces_archive: storage backend \"archive\" is not defined"
        ),
        "{e}"
    );
    let e = err(&with(
        "    trace_storage: some_storage",
        "    trace_storage: somestorage",
    ));
    assert!(
        e.to_string().starts_with(
            "exporters.jaeger_storage_exporter.trace_storage: storage backend \"somestorage\" is not defined"
        ),
        "{e}"
    );
    let e = err(&with(
        "    trace_storage: some_storage",
        "    queue:\n      num_consumers: 2",
    ));
    assert_eq!(
        e.to_string(),
        "exporters.jaeger_storage_exporter.trace_storage: a storage backend name is required \
         (defined in extensions.jaeger_storage.backends: some_storage)"
    );
    let e = err(&with(
        "      traces: some_storage",
        "      traces: some_storage\n      metrics: prom",
    ));
    assert!(
        e.to_string().starts_with(
            "extensions.jaeger_query.storage.metrics: metric backend \"prom\" is not defined in \
             extensions.jaeger_storage.metric_backends (defined: none)"
        ),
        "{e}"
    );
}

#[test]
fn a_backend_needs_exactly_one_kind() {
    let e = err(&with(
        "        memory:\n          max_traces: 1000\n",
        "        {}\n",
    ));
    assert_eq!(
        e.to_string(),
        "extensions.jaeger_storage.backends.some_storage: no storage kind is set; set exactly one of \
         memory, badger, cassandra, elasticsearch, opensearch, grpc"
    );
    let e = err(&with(
        "          max_traces: 1000\n",
        "          max_traces: 1000\n        badger:\n",
    ));
    assert_eq!(
        e.to_string(),
        "extensions.jaeger_storage.backends.some_storage: several storage kinds are set (memory, badger); \
         set exactly one"
    );
    assert!(matches!(e, ConfigError::BackendKind { .. }));
}

#[test]
fn semantic_problems_are_reported_together() {
    let yaml = with("      traces: some_storage", "      traces: nope")
        .replace("receivers: [otlp]", "receivers: [zipkin]")
        .replace("max_traces: 1000", "max_traces: 0");
    let e = err(&yaml);
    let all: Vec<String> = e.flatten().iter().map(|e| e.to_string()).collect();
    assert_eq!(all.len(), 3, "{all:#?}");
    let text = e.to_string();
    assert!(
        text.starts_with("3 problems in the configuration:\n  - "),
        "{text}"
    );
    for path in [
        "service.pipelines.traces.receivers[0]: receiver \"zipkin\"",
        "extensions.jaeger_query.storage.traces: storage backend \"nope\"",
        "extensions.jaeger_storage.backends.some_storage.memory.max_traces: must be greater than 0",
    ] {
        assert!(text.contains(path), "missing {path:?} in {text}");
    }
}

#[test]
fn other_semantic_checks() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "  jaeger_query:\n    storage:",
            "  jaeger_query:\n    base_path: jaeger\n    storage:",
            "extensions.jaeger_query.base_path: invalid base path \"jaeger\": must start with '/'",
        ),
        (
            "processors:\n  batch:\n",
            "processors:\n  batch:\n    send_batch_size: 100\n    send_batch_max_size: 10\n",
            "processors.batch.send_batch_max_size: must be 0 or at least send_batch_size",
        ),
        (
            "      grpc:\n      http:\n",
            "      {}\n",
            "receivers.otlp.protocols: enable at least one of grpc and http",
        ),
        (
            "service:\n  extensions:",
            "connectors:\n  forward:\nservice:\n  extensions:",
            "",
        ),
        (
            "    traces:\n      receivers: [otlp]",
            "    spans:\n      receivers: [otlp]",
            "service.pipelines.spans: unknown pipeline type \"spans\"",
        ),
        (
            "  extensions: [jaeger_storage, jaeger_query]",
            "  extensions: [jaeger_query]",
            "service.extensions: \"jaeger_storage\" must be listed",
        ),
    ];
    for (from, to, want) in cases {
        let yaml = with(from, to);
        match parse_str_with_env(&yaml, &no_env) {
            Ok(_) if want.is_empty() => {}
            Ok(_) => panic!("expected {want:?}"),
            Err(e) => assert!(
                !want.is_empty() && e.to_string().starts_with(want),
                "want {want:?}, got {e}"
            ),
        }
    }
}

#[test]
fn connectors_must_link_two_pipelines() {
    let yaml = with(
        "service:\n  extensions:",
        "connectors:\n  forward:\nservice:\n  extensions:",
    )
    .replace(
        "exporters: [jaeger_storage_exporter]",
        "exporters: [jaeger_storage_exporter, forward]",
    );
    let e = err(&yaml);
    assert_eq!(
        e.to_string(),
        "connectors.forward: a connector must be an exporter in one pipeline and a receiver in another"
    );
}

#[test]
fn yaml_syntax_errors_have_a_location() {
    let e = err("service:\n  pipelines:\n   traces: [\n");
    assert!(
        matches!(
            e,
            ConfigError::Syntax {
                location: Some(_),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().starts_with("invalid YAML: "), "{e}");

    let e = err("service:\n  extensions: []\nservice:\n  extensions: []\n");
    assert!(e.to_string().starts_with("invalid YAML: "), "{e}");
    assert!(e.to_string().contains("duplicate"), "{e}");
}

#[test]
fn an_empty_file_needs_a_pipeline() {
    let e = err("");
    assert_eq!(
        e.to_string(),
        "service.pipelines: at least one pipeline is required"
    );
    let e = err("# nothing\n");
    assert_eq!(
        e.to_string(),
        "service.pipelines: at least one pipeline is required"
    );
}

#[test]
fn the_root_must_be_a_mapping() {
    let e = err("- a\n- b\n");
    assert!(
        e.to_string()
            .starts_with("(root): wrong type, expected a mapping"),
        "{e}"
    );
}

#[test]
fn errors_from_a_file_name_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, with("max_traces: 1000", "max_trace: 1000")).expect("write");
    let e = load_file_with_env(&path, &no_env).unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with(&format!("{}: ", path.display())), "{text}");
    assert!(
        text.contains("memory.max_trace: unknown field, did you mean max_traces?"),
        "{text}"
    );
    assert_eq!(
        e.path(),
        Some("extensions.jaeger_storage.backends.some_storage.memory.max_trace")
    );

    let e = load_file_with_env(dir.path().join("missing.yaml"), &no_env).unwrap_err();
    assert!(e.to_string().starts_with("cannot read "), "{e}");
}
