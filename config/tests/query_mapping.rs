//! `extensions.jaeger_query` keys of a Jaeger v2 file that the query service acts on.

use jaeger_config::StorageKind;
use jaeger_config::v2::load_str;

const FILE: &str = r#"
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
extensions:
  jaeger_query:
    base_path: /jaeger
    max_trace_size: 5000
    bearer_token_propagation: true
    storage:
      traces: main
      traces_archive: archive
    ui:
      assets_path: /srv/jaeger-ui
      config_file: /etc/jaeger/ui.json
    multi_tenancy:
      enabled: true
      header: x-org
      tenants: [acme, globex]
    grpc:
      endpoint: 127.0.0.1:26685
    http:
      endpoint: 127.0.0.1:26686
      cors:
        allowed_origins: ["https://*.example.com"]
        allowed_headers: [x-org]
      response_headers:
        X-Frame-Options: DENY
  jaeger_storage:
    backends:
      main:
        memory:
          max_traces: 1000
      archive:
        badger:
          ephemeral: false
          directories:
            keys: /var/lib/jaeger/archive
            values: /var/lib/jaeger/archive
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  jaeger_storage_exporter:
    trace_storage: main
"#;

#[test]
fn query_keys_reach_the_runtime_config() {
    let loaded = load_str(FILE).unwrap();
    let q = &loaded.runtime.query;
    assert_eq!(q.base_path, "/jaeger");
    assert_eq!(q.grpc_endpoint, Some("127.0.0.1:26685".parse().unwrap()));
    assert_eq!(q.http_endpoint, "127.0.0.1:26686".parse().unwrap());
    assert_eq!(q.max_trace_size, 5000);
    assert!(q.bearer_token_propagation);
    assert_eq!(q.static_files.as_deref(), Some("/srv/jaeger-ui".as_ref()));
    assert_eq!(q.ui_config.as_deref(), Some("/etc/jaeger/ui.json".as_ref()));
    assert!(q.multi_tenancy.enabled);
    assert_eq!(q.multi_tenancy.header, "x-org");
    assert_eq!(q.multi_tenancy.tenants, ["acme", "globex"]);
    assert_eq!(q.cors.allowed_origins, ["https://*.example.com"]);
    assert_eq!(q.cors.allowed_headers, ["x-org"]);
    assert_eq!(q.additional_headers, ["X-Frame-Options: DENY"]);
    let a = q.archive.as_ref().expect("archive storage");
    assert_eq!(a.kind, StorageKind::Embedded);
    assert_eq!(
        a.data_dir.as_deref(),
        Some("/var/lib/jaeger/archive".as_ref())
    );
}

#[test]
fn a_memory_archive_and_the_defaults() {
    let file = FILE
        .replace(
            "        badger:\n          ephemeral: false\n          directories:\n            keys: /var/lib/jaeger/archive\n            values: /var/lib/jaeger/archive\n",
            "        memory:\n          max_traces: 50\n",
        )
        .replace("      endpoint: 127.0.0.1:26685\n", "");
    let loaded = load_str(&file).unwrap();
    let q = &loaded.runtime.query;
    let a = q.archive.as_ref().expect("archive storage");
    assert_eq!((a.kind.clone(), a.max_traces), (StorageKind::Memory, 50));
    assert_eq!(q.grpc_endpoint.unwrap().port(), 16685);

    let err = load_str(&FILE.replace("traces_archive: archive", "traces_archive: nope"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("traces_archive"), "{err}");
}
