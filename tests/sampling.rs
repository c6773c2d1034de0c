//! Remote sampling through the real binary: a strategies file served on the sampling HTTP
//! port, the sampling gRPC port and `GET /api/sampling` on the Jaeger collector port, and
//! reloaded when it changes.

mod common;

use std::time::{Duration, Instant};

use common::JaegerBuilder;
use jaeger_proto::api_v2::SamplingStrategyParameters;
use jaeger_proto::api_v2::sampling_manager_client::SamplingManagerClient;

const FOO_RATE_LIMITED: &str =
    r#"{"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":5}}"#;

fn get(url: &str) -> (u16, String) {
    let r = reqwest::blocking::get(url).expect("GET");
    (r.status().as_u16(), r.text().expect("body"))
}

fn grpc_strategy(addr: std::net::SocketAddr, service: &str) -> (i32, Option<f64>, Option<i32>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut c = SamplingManagerClient::connect(format!("http://{addr}"))
            .await
            .expect("connect to the sampling gRPC port");
        let r = c
            .get_sampling_strategy(SamplingStrategyParameters {
                service_name: service.into(),
            })
            .await
            .expect("GetSamplingStrategy")
            .into_inner();
        (
            r.strategy_type,
            r.probabilistic_sampling.map(|p| p.sampling_rate),
            r.rate_limiting_sampling.map(|l| l.max_traces_per_second),
        )
    })
}

#[test]
fn strategies_file_is_served_on_all_three_endpoints_and_reloaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("strategies.json");
    std::fs::write(
        &file,
        r#"{
          "service_strategies": [
            {"service": "foo", "type": "ratelimiting", "param": 5},
            {"service": "bar", "type": "probabilistic", "param": 0.8,
             "operation_strategies": [{"operation": "op1", "type": "probabilistic", "param": 0.2}]}
          ],
          "default_strategy": {"type": "probabilistic", "param": 0.5}
        }"#,
    )
    .expect("write strategies");
    let j = JaegerBuilder::new(&dir.path().join("data"))
        .arg("--sampling.strategies-file")
        .arg(file.to_str().expect("utf-8 path"))
        .arg("--sampling.strategies-reload-interval")
        .arg("100ms")
        .start();
    let p = j.ports.clone();

    // Sampling HTTP port: any path; `/` answers the legacy numeric form.
    assert_eq!(
        get(&format!("http://{}/sampling?service=foo", p.sampling_http)),
        (200, FOO_RATE_LIMITED.to_string())
    );
    assert_eq!(
        get(&format!("http://{}/?service=foo", p.sampling_http)),
        (
            200,
            r#"{"strategyType":1,"rateLimitingSampling":{"maxTracesPerSecond":5}}"#.to_string()
        )
    );
    assert_eq!(
        get(&format!("http://{}/sampling?service=bar", p.sampling_http)).1,
        concat!(
            r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.8},"#,
            r#""operationSampling":{"defaultSamplingProbability":0.8,"defaultLowerBoundTracesPerSecond":0,"#,
            r#""perOperationStrategies":[{"operation":"op1","probabilisticSampling":{"samplingRate":0.2}}],"#,
            r#""defaultUpperBoundTracesPerSecond":0}}"#
        )
    );
    assert_eq!(
        get(&format!(
            "http://{}/sampling?service=unknown",
            p.sampling_http
        ))
        .1,
        r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.5}}"#
    );
    assert_eq!(
        get(&format!("http://{}/sampling", p.sampling_http)),
        (
            400,
            "'service' parameter must be provided once\n".to_string()
        )
    );

    // Jaeger collector port.
    assert_eq!(
        get(&format!(
            "http://{}/api/sampling?service=foo",
            p.jaeger_http
        )),
        (200, FOO_RATE_LIMITED.to_string())
    );
    assert_eq!(
        get(&format!("http://{}/api/sampling", p.jaeger_http)).0,
        400
    );

    // gRPC.
    assert_eq!(grpc_strategy(p.sampling_grpc, "foo"), (1, None, Some(5)));
    assert_eq!(grpc_strategy(p.sampling_grpc, "x"), (0, Some(0.5), None));

    // A broken file keeps the last good strategies and says why in the log.
    std::fs::write(&file, "{ broken").expect("write");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !j.logs().contains("failed to update sampling strategies") {
        assert!(
            Instant::now() < deadline,
            "no reload error logged:\n{}",
            j.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        get(&format!("http://{}/sampling?service=foo", p.sampling_http)).1,
        FOO_RATE_LIMITED
    );

    // A fixed file is picked up.
    std::fs::write(
        &file,
        r#"{"default_strategy": {"type": "probabilistic", "param": 0.25}}"#,
    )
    .expect("write");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = get(&format!(
            "http://{}/api/sampling?service=foo",
            p.jaeger_http
        ));
        if body
            == r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.25}}"#
        {
            break;
        }
        assert!(Instant::now() < deadline, "reload not seen: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(grpc_strategy(p.sampling_grpc, "foo"), (0, Some(0.25), None));
}

#[test]
fn without_a_file_every_service_gets_jaegers_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = JaegerBuilder::new(&dir.path().join("data")).start();
    assert_eq!(
        get(&format!(
            "http://{}/sampling?service=any",
            j.ports.sampling_http
        )),
        (
            200,
            r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.001}}"#
                .to_string()
        )
    );
}

#[test]
fn a_broken_file_at_start_stops_the_process_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.json");
    std::fs::write(&file, r#"{"default_strategy": {"param": "high"}}"#).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jaeger"))
        .args(["--storage", "memory", "--sampling.strategies-file"])
        .arg(&file)
        // Ephemeral ports: whatever binds before the file is read must not collide.
        .args(
            [
                "--collector.otlp.grpc.host-port",
                "--collector.otlp.http.host-port",
                "--query.http-server.host-port",
                "--query.grpc-server.host-port",
                "--health.host-port",
                "--metrics.host-port",
                "--collector.grpc-server.host-port",
                "--collector.http-server.host-port",
                "--collector.zipkin.host-port",
                "--processor.jaeger-compact.server-host-port",
                "--processor.jaeger-binary.server-host-port",
                "--sampling.http-server.host-port",
                "--sampling.grpc-server.host-port",
            ]
            .iter()
            .flat_map(|f| [*f, "127.0.0.1:0"]),
        )
        .output()
        .expect("run jaeger");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("failed to unmarshal sampling strategies"),
        "{err}"
    );
}

/// Root spans tagged the way Jaeger SDKs tag them, all from one operation.
fn tagged_roots(service: &str, operation: &str, n: usize) -> serde_json::Value {
    let start = common::now_nanos();
    let spans: Vec<_> = (0..n)
        .map(|i| {
            serde_json::json!({
                "traceId": format!("{:032x}", 0xada0_0000u64 + i as u64),
                "spanId": format!("{:016x}", 1 + i as u64),
                "name": operation,
                "kind": 2,
                "startTimeUnixNano": start.to_string(),
                "endTimeUnixNano": (start + 1_000_000).to_string(),
                "attributes": [
                    {"key": "sampler.type", "value": {"stringValue": "probabilistic"}},
                    {"key": "sampler.param", "value": {"doubleValue": 0.001}}
                ]
            })
        })
        .collect();
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": spans}]
    }]})
}

#[test]
fn adaptive_sampling_from_the_yaml_file_lowers_a_busy_operations_probability() {
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = dir.path().join("config.yaml");
    // Ports come from the harness's flags, which override the file.
    std::fs::write(
        &yaml,
        "\
service:
  extensions: [jaeger_storage, jaeger_query, remote_sampling, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp, jaeger]
      processors: [adaptive_sampling]
      exporters: [jaeger_storage_exporter]
extensions:
  healthcheckv2:
    use_v2: true
  jaeger_storage:
    backends:
      main:
        memory:
  jaeger_query:
    storage:
      traces: main
  remote_sampling:
    adaptive:
      sampling_store: main
      calculation_interval: 500ms
      calculation_delay: 0s
      target_samples_per_second: 1
receivers:
  otlp:
    protocols:
      grpc:
      http:
  jaeger:
    protocols:
      grpc:
      thrift_http:
processors:
  adaptive_sampling:
exporters:
  jaeger_storage_exporter:
    trace_storage: main
",
    )
    .expect("write config");
    let j = JaegerBuilder::new(&dir.path().join("data"))
        .arg("--config")
        .arg(yaml.to_str().expect("utf-8 path"))
        .start();
    let p = j.ports.clone();
    let url = format!("http://{}/sampling?service=checkout", p.sampling_http);

    // Before any spans: the adaptive default, the initial probability for every operation.
    assert_eq!(
        get(&url),
        (
            200,
            concat!(
                r#"{"strategyType":"PROBABILISTIC","operationSampling":{"defaultSamplingProbability":0.001,"#,
                r#""defaultLowerBoundTracesPerSecond":0.016666666666666666,"perOperationStrategies":[],"#,
                r#""defaultUpperBoundTracesPerSecond":0}}"#
            )
            .to_string()
        )
    );

    // 200 sampled roots in one interval is far above 1 per second: the probability drops.
    let r = reqwest::blocking::Client::new()
        .post(j.otlp_http_url())
        .header("content-type", "application/json")
        .body(tagged_roots("checkout", "GET /cart", 200).to_string())
        .send()
        .expect("POST /v1/traces");
    assert_eq!(r.status().as_u16(), 200);

    let deadline = Instant::now() + Duration::from_secs(20);
    let rate = loop {
        let (status, body) = get(&url);
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON strategy");
        let ops = &v["operationSampling"]["perOperationStrategies"];
        if let Some(op) = ops.as_array().and_then(|a| a.first()) {
            assert_eq!(op["operation"], "GET /cart", "{body}");
            assert!(v.get("probabilisticSampling").is_none(), "{body}");
            break op["probabilisticSampling"]["samplingRate"]
                .as_f64()
                .expect("samplingRate");
        }
        assert!(
            Instant::now() < deadline,
            "no per-operation strategy computed: {body}\n{}",
            j.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!((1e-5..0.001).contains(&rate), "rate {rate}");

    // The same strategy on the collector port and over gRPC; other services keep the default.
    let (_, collector) = get(&format!(
        "http://{}/api/sampling?service=checkout",
        p.jaeger_http
    ));
    assert!(
        collector.contains(r#""operation":"GET /cart""#),
        "{collector}"
    );
    assert!(
        get(&format!(
            "http://{}/sampling?service=other",
            p.sampling_http
        ))
        .1
        .contains(r#""perOperationStrategies":[]"#)
    );
    assert_eq!(grpc_strategy(p.sampling_grpc, "checkout").0, 0);
}
