//! `extensions.remote_sampling` of a Jaeger v2 file: the sampling ports and the
//! strategies file reach the runtime config; without the extension, no sampling ports.

use std::time::Duration;

use jaeger_config::v2::load_str;

const PIPELINE: &str = r#"
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  jaeger_storage_exporter:
    trace_storage: main
"#;

const STORAGE: &str = r#"
  jaeger_storage:
    backends:
      main:
        memory:
          max_traces: 1000
"#;

#[test]
fn remote_sampling_file_keys_reach_the_runtime_config() {
    let file = format!(
        r#"
service:
  extensions: [jaeger_storage, remote_sampling]
{PIPELINE}
extensions:
{STORAGE}
  remote_sampling:
    file:
      path: /etc/jaeger/sampling.json
      reload_interval: 30s
      default_sampling_probability: 0.2
    http:
      endpoint: 127.0.0.1:25778
    grpc:
      endpoint: 127.0.0.1:25779
"#
    );
    let loaded = load_str(&file).unwrap();
    let s = &loaded.runtime.sampling;
    assert_eq!(s.http_endpoint, Some("127.0.0.1:25778".parse().unwrap()));
    assert_eq!(s.grpc_endpoint, Some("127.0.0.1:25779".parse().unwrap()));
    assert_eq!(
        s.strategies_file.as_deref(),
        Some("/etc/jaeger/sampling.json".as_ref())
    );
    assert_eq!(s.reload_interval, Duration::from_secs(30));
    assert_eq!(s.default_sampling_probability, 0.2);
}

#[test]
fn without_the_extension_no_sampling_ports() {
    let file = format!(
        r#"
service:
  extensions: [jaeger_storage]
{PIPELINE}
extensions:
{STORAGE}
"#
    );
    let loaded = load_str(&file).unwrap();
    assert_eq!(loaded.runtime.sampling.http_endpoint, None);
    assert_eq!(loaded.runtime.sampling.grpc_endpoint, None);
}

#[test]
fn remote_sampling_adaptive_keys_reach_the_runtime_config() {
    let file = format!(
        r#"
service:
  extensions: [jaeger_storage, remote_sampling]
{PIPELINE}
extensions:
{STORAGE}
  remote_sampling:
    adaptive:
      sampling_store: main
      target_samples_per_second: 2.5
      delta_tolerance: 0.1
      calculation_interval: 30s
      aggregation_buckets: 5
      calculation_buckets: 3
      calculation_delay: 1m
      initial_sampling_probability: 0.01
      min_sampling_probability: 0.0001
      min_samples_per_second: 0.5
"#
    );
    let loaded = load_str(&file).unwrap();
    assert!(
        !loaded.warnings.iter().any(|w| w.contains("adaptive")),
        "{:?}",
        loaded.warnings
    );
    let s = &loaded.runtime.sampling;
    assert_eq!(s.strategies_file, None);
    assert_eq!(
        s.adaptive,
        Some(jaeger_config::AdaptiveSamplingConfig {
            target_samples_per_second: 2.5,
            delta_tolerance: 0.1,
            calculation_interval: Duration::from_secs(30),
            aggregation_buckets: 5,
            calculation_buckets: 3,
            calculation_delay: Duration::from_secs(60),
            initial_sampling_probability: 0.01,
            min_sampling_probability: 0.0001,
            min_samples_per_second: 0.5,
            ..Default::default()
        })
    );
}

#[test]
fn remote_sampling_adaptive_defaults_are_jaegers() {
    let file = format!(
        r#"
service:
  extensions: [jaeger_storage, remote_sampling]
{PIPELINE}
extensions:
{STORAGE}
  remote_sampling:
    adaptive:
      sampling_store: main
"#
    );
    let loaded = load_str(&file).unwrap();
    let a = loaded.runtime.sampling.adaptive.expect("adaptive on");
    assert_eq!(a, jaeger_config::AdaptiveSamplingConfig::default());
    assert_eq!(a.calculation_interval, Duration::from_secs(60));
    assert_eq!(a.calculation_delay, Duration::from_secs(120));
    assert_eq!(a.target_samples_per_second, 1.0);
    assert_eq!(a.initial_sampling_probability, 0.001);
    assert_eq!(a.min_samples_per_second, 1.0 / 60.0);
    // The file provider's config is left alone; without `adaptive` it stays off.
    assert_eq!(jaeger_config::Config::default().sampling.adaptive, None);
}
