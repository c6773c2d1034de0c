//! Prometheus metrics: the process-wide recorder behind the `metrics` facade, and the
//! `GET /metrics` router.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AdminError;

/// Buckets (seconds) of every `*_seconds` histogram, so they render as Prometheus
/// histograms (not summaries): 100 µs to 30 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// The process's resident set size, refreshed on every scrape.
pub const PROCESS_RSS: &str = "process_resident_memory_bytes";

/// How often histogram samples are folded into their buckets between scrapes, so they
/// never pile up in memory.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static INSTALL: Mutex<()> = Mutex::new(());

/// Installs the Prometheus recorder as the global `metrics` recorder and returns the
/// handle that renders it. Idempotent: later calls return the same handle. Fails only
/// when some other recorder was installed first.
pub fn install_metrics() -> Result<PrometheusHandle, AdminError> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let _guard = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
        .map_err(|e| AdminError::Recorder(e.to_string()))?
        .install_recorder()
        .map_err(|e| AdminError::Recorder(e.to_string()))?;
    metrics::describe_gauge!(
        PROCESS_RSS,
        metrics::Unit::Bytes,
        "Resident memory size in bytes."
    );
    let upkeep = handle.clone();
    // A plain thread: the recorder may be installed before any Tokio runtime exists.
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep thread not started; histograms drain on scrape only");
    }
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// `GET /metrics` in the Prometheus text format.
pub fn metrics_router(handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(handle)
}

async fn scrape(State(handle): State<PrometheusHandle>) -> Response {
    if let Some(rss) = resident_memory_bytes() {
        metrics::gauge!(PROCESS_RSS).set(rss as f64);
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        handle.render(),
    )
        .into_response()
}

/// `VmRSS` from `/proc/self/status` (kB there); `None` off Linux. `status` rather than
/// `statm` because it needs no page size.
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[test]
    fn parses_vm_rss() {
        let status = "Name:\tjaeger\nVmPeak:\t  2000 kB\nVmRSS:\t    1234 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[tokio::test]
    async fn serves_counters_histograms_and_rss() {
        let handle = install_metrics().expect("recorder installs");
        assert!(
            install_metrics().is_ok(),
            "second install returns the same handle"
        );
        metrics::counter!("otelcol_receiver_accepted_spans_total", "receiver" => "otlp", "transport" => "grpc")
            .increment(7);
        metrics::histogram!("jaeger_storage_write_latency_seconds").record(0.003);

        let resp = metrics_router(handle)
            .oneshot(
                axum::http::Request::get("/metrics")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()[header::CONTENT_TYPE]
                .to_str()
                .expect("ascii")
                .starts_with("text/plain; version=0.0.4")
        );
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8(body.to_vec()).expect("utf-8");
        assert!(
            text.contains(
                "otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"grpc\"} 7"
            ),
            "{text}"
        );
        assert!(
            text.contains("# TYPE jaeger_storage_write_latency_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains("jaeger_storage_write_latency_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        let rss_line = text
            .lines()
            .find(|l| l.starts_with("process_resident_memory_bytes "))
            .unwrap_or_else(|| panic!("no rss gauge in {text}"));
        let rss: f64 = rss_line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("numeric gauge");
        assert!(rss > 1_000_000.0, "{rss_line}");
    }
}
