use std::time::Duration;

use ::http::{Request, StatusCode};
use axum::body::Body;
use http_body_util::BodyExt;
use jaeger_proto::api_v2::SamplingStrategyType;
use tower::ServiceExt;

use super::strategies::{go_float, to_json};
use super::{
    DEFAULT_SAMPLING_PROBABILITY, FileProviderOptions, Strategies, StrategyProvider,
    collector_sampling_router, sampling_http_router, serve_sampling_grpc,
};

const P: f64 = DEFAULT_SAMPLING_PROBABILITY;

fn json_of(s: &Strategies, service: &str) -> String {
    to_json(s.lookup(service), false)
}

#[test]
fn default_strategy_without_a_file() {
    let s = Strategies::defaults(P);
    assert_eq!(
        json_of(&s, "any"),
        r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.001}}"#
    );
    assert_eq!(
        to_json(s.lookup("any"), true),
        r#"{"strategyType":0,"probabilisticSampling":{"samplingRate":0.001}}"#
    );
    // JSON null: defaults as well.
    assert_eq!(Strategies::parse(b"null", P).unwrap(), s);
}

#[test]
fn service_and_default_strategies_are_selected_by_exact_name() {
    let s = Strategies::parse(
        br#"{
          "service_strategies": [
            {"service": "foo", "type": "probabilistic", "param": 0.8},
            {"service": "bar", "type": "ratelimiting", "param": 5.9}
          ],
          "default_strategy": {"type": "probabilistic", "param": 0.5},
          "some_unknown_field": true
        }"#,
        P,
    )
    .unwrap();
    assert_eq!(
        json_of(&s, "foo"),
        r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.8}}"#
    );
    // int32(param): truncated.
    assert_eq!(
        json_of(&s, "bar"),
        r#"{"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":5}}"#
    );
    assert_eq!(
        to_json(s.lookup("bar"), true),
        r#"{"strategyType":1,"rateLimitingSampling":{"maxTracesPerSecond":5}}"#
    );
    assert_eq!(
        json_of(&s, "Foo"),
        r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.5}}"#
    );
}

#[test]
fn unknown_type_falls_back_to_the_default_probability() {
    let s = Strategies::parse(
        br#"{"default_strategy": {"type": "adaptive", "param": 0.3},
             "service_strategies": [{"service": "x", "type": "", "param": 9}]}"#,
        0.25,
    )
    .unwrap();
    let want = r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.25}}"#;
    assert_eq!(json_of(&s, "x"), want);
    assert_eq!(json_of(&s, "other"), want);
}

#[test]
fn per_operation_strategies_and_default_operations() {
    let s = Strategies::parse(
        br#"{
          "service_strategies": [
            {"service": "foo", "type": "probabilistic", "param": 0.8,
             "operation_strategies": [
               {"operation": "op1", "type": "probabilistic", "param": 0.2},
               {"operation": "op2", "type": "ratelimiting", "param": 10}
             ]},
            {"service": "bar", "type": "ratelimiting", "param": 7,
             "operation_strategies": [
               {"operation": "op3", "type": "probabilistic", "param": 0.3}
             ]},
            {"service": "baz", "type": "probabilistic", "param": 0.4},
            {"service": "qux", "type": "ratelimiting", "param": 3}
          ],
          "default_strategy": {
            "type": "probabilistic", "param": 0.5,
            "operation_strategies": [
              {"operation": "/health", "type": "probabilistic", "param": 0.0},
              {"operation": "op1", "type": "probabilistic", "param": 0.9}
            ]
          }
        }"#,
        P,
    )
    .unwrap();
    // Own operations first (op2 skipped: rate-limited), then the default's not already
    // named (op1 is the service's).
    assert_eq!(
        json_of(&s, "foo"),
        concat!(
            r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.8},"#,
            r#""operationSampling":{"defaultSamplingProbability":0.8,"defaultLowerBoundTracesPerSecond":0,"#,
            r#""perOperationStrategies":[{"operation":"op1","probabilisticSampling":{"samplingRate":0.2}},"#,
            r#"{"operation":"/health","probabilisticSampling":{"samplingRate":0}}],"#,
            r#""defaultUpperBoundTracesPerSecond":0}}"#
        )
    );
    // Rate-limited service: the block's default is the configured probability.
    let bar = s.lookup("bar");
    assert_eq!(bar.strategy_type, SamplingStrategyType::RateLimiting as i32);
    let ops = bar.operation_sampling.as_ref().unwrap();
    assert_eq!(ops.default_sampling_probability, P);
    let names: Vec<_> = ops
        .per_operation_strategies
        .iter()
        .map(|o| o.operation.as_str())
        .collect();
    assert_eq!(names, ["op3", "/health", "op1"]);
    // No own operations: a copy of the default's, at the service's own rate.
    let baz = s.lookup("baz").operation_sampling.as_ref().unwrap();
    assert_eq!(baz.default_sampling_probability, 0.4);
    assert_eq!(baz.per_operation_strategies.len(), 2);
    // Rate-limited without operations: no per-operation block.
    assert!(s.lookup("qux").operation_sampling.is_none());
    // The default strategy itself.
    let d = s.lookup("nobody").operation_sampling.as_ref().unwrap();
    assert_eq!(d.default_sampling_probability, 0.5);
}

#[test]
fn broken_files_are_errors() {
    assert!(Strategies::parse(b"{", P).is_err());
    let e = Strategies::parse(br#"{"default_strategy": {"type": 1}}"#, P).unwrap_err();
    assert!(e.to_string().contains("failed to unmarshal"), "{e}");
}

#[test]
fn floats_are_written_as_go_does() {
    assert_eq!(go_float(1.0), "1");
    assert_eq!(go_float(0.0), "0");
    assert_eq!(go_float(0.001), "0.001");
    assert_eq!(go_float(0.00001), "0.00001");
    assert_eq!(go_float(1e-7), "1e-7");
    assert_eq!(go_float(1.5e-7), "1.5e-7");
    assert_eq!(go_float(1e21), "1e21");
    assert_eq!(go_float(123456.5), "123456.5");
}

#[tokio::test]
async fn reload_picks_up_changes_and_keeps_the_last_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strategies.json");
    std::fs::write(
        &path,
        r#"{"default_strategy": {"type": "probabilistic", "param": 0.1}}"#,
    )
    .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let provider = StrategyProvider::from_file(
        FileProviderOptions {
            path: Some(path.clone()),
            reload_interval: Duration::from_millis(20),
            default_sampling_probability: P,
        },
        async {
            let _ = stop_rx.await;
        },
    )
    .await
    .unwrap();
    let rate = |p: &StrategyProvider| {
        p.strategy("svc")
            .probabilistic_sampling
            .map(|s| s.sampling_rate)
    };
    assert_eq!(rate(&provider), Some(0.1));

    std::fs::write(
        &path,
        r#"{"default_strategy": {"type": "probabilistic", "param": 0.7}}"#,
    )
    .unwrap();
    wait_until(|| rate(&provider) == Some(0.7)).await;

    // Broken, then missing: the last good strategies stay.
    std::fs::write(&path, "{ not json").unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rate(&provider), Some(0.7));
    std::fs::remove_file(&path).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rate(&provider), Some(0.7));

    std::fs::write(
        &path,
        r#"{"default_strategy": {"type": "ratelimiting", "param": 3}}"#,
    )
    .unwrap();
    wait_until(|| rate(&provider).is_none()).await;
    assert_eq!(
        provider
            .strategy("svc")
            .rate_limiting_sampling
            .map(|r| r.max_traces_per_second),
        Some(3)
    );
    stop_tx.send(()).unwrap();
}

async fn wait_until(mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 2s");
}

#[tokio::test]
async fn broken_file_at_start_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(&path, "[1,2]").unwrap();
    let opts = |path| FileProviderOptions {
        path: Some(path),
        reload_interval: Duration::ZERO,
        default_sampling_probability: P,
    };
    let e = StrategyProvider::from_file(opts(path), async {})
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("unmarshal"), "{e}");
    let e = StrategyProvider::from_file(opts(dir.path().join("missing.json")), async {})
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("missing.json"), "{e}");
}

async fn call(router: axum::Router, method: &str, uri: &str) -> (StatusCode, String, String) {
    let r = router
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get(::http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    (status, ct, String::from_utf8(body.to_vec()).unwrap())
}

fn sample_provider() -> StrategyProvider {
    StrategyProvider::fixed(
        Strategies::parse(
            br#"{"service_strategies": [{"service": "foo", "type": "ratelimiting", "param": 2}]}"#,
            P,
        )
        .unwrap(),
    )
}

#[tokio::test]
async fn sampling_port_serves_any_path_and_checks_service() {
    let r = sampling_http_router(sample_provider());
    let (s, ct, b) = call(r.clone(), "GET", "/sampling?service=foo").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct, "application/json");
    assert_eq!(
        b,
        r#"{"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":2}}"#
    );
    let (s, _, b) = call(r.clone(), "GET", "/?service=foo").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b,
        r#"{"strategyType":1,"rateLimitingSampling":{"maxTracesPerSecond":2}}"#
    );
    let (_, _, b) = call(r.clone(), "POST", "/api/sampling?service=other").await;
    assert_eq!(
        b,
        r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.001}}"#
    );
    for bad in ["/sampling", "/sampling?service=a&service=b", "/?x=1"] {
        let (s, ct, b) = call(r.clone(), "GET", bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert!(ct.starts_with("text/plain"), "{ct}");
        assert_eq!(b, "'service' parameter must be provided once\n");
    }
    // Present but empty: one value, the default strategy (as Jaeger).
    let (s, _, _) = call(r, "GET", "/sampling?service=").await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn collector_port_serves_get_api_sampling() {
    let r = collector_sampling_router(sample_provider());
    let (s, _, b) = call(r.clone(), "GET", "/api/sampling?service=foo").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b,
        r#"{"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":2}}"#
    );
    let (s, _, _) = call(r.clone(), "GET", "/api/sampling").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = call(r, "POST", "/api/sampling?service=foo").await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn grpc_sampling_manager_and_health() {
    use jaeger_proto::api_v2::SamplingStrategyParameters;
    use jaeger_proto::api_v2::sampling_manager_client::SamplingManagerClient;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_sampling_grpc(listener, sample_provider(), async {
        let _ = stopped.await;
    }));
    let url = format!("http://{addr}");
    let mut client = SamplingManagerClient::connect(url.clone()).await.unwrap();
    let r = client
        .get_sampling_strategy(SamplingStrategyParameters {
            service_name: "foo".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.strategy_type, SamplingStrategyType::RateLimiting as i32);
    assert_eq!(r.rate_limiting_sampling.unwrap().max_traces_per_second, 2);
    let channel = tonic::transport::Endpoint::from_shared(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let h = health
        .check(HealthCheckRequest {
            service: "jaeger.api_v2.SamplingManager".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(h.status, 1); // SERVING
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
