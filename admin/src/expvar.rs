//! expvar-style JSON, as Go's `expvar` handler serves it (Jaeger v2's `expvar`
//! extension, default port 2777 here): `cmdline`, memory figures of the process, and
//! every counter and gauge of our Prometheus registry, on any path (`/debug/vars` is the
//! usual one).
//!
//! ```json
//! {"cmdline": ["jaeger", "--config", "c.yaml"],
//!  "memstats": {"rss_bytes": 31457280, "peak_rss_bytes": 33554432, "virtual_bytes": 1288490188, "threads": 9},
//!  "process": {"pid": 4242, "uptime_seconds": 12.5, "open_fds": 37},
//!  "metrics": {"otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"grpc\"}": 7}}
//! ```
//!
//! Go's `memstats` describes its garbage-collected heap; ours describes the process as
//! the kernel sees it (`/proc/self/status`), since Rust has no collector to report on.
//! Off Linux the memory figures are absent.

use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{Map, Value, json};

#[derive(Clone)]
struct ExpvarState {
    handle: PrometheusHandle,
    started: Instant,
}

/// Answers every `GET` with the expvar JSON.
pub fn expvar_router(handle: PrometheusHandle) -> Router {
    Router::new().fallback(vars).with_state(ExpvarState {
        handle,
        started: Instant::now(),
    })
}

async fn vars(State(state): State<ExpvarState>, method: axum::http::Method) -> Response {
    if method != axum::http::Method::GET && method != axum::http::Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    // Reading /proc and rendering the registry: short, but not async work.
    match tokio::task::spawn_blocking(move || snapshot(&state)).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn snapshot(state: &ExpvarState) -> Value {
    let cmdline: Vec<String> = std::env::args().collect();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mut memstats = Map::new();
    for (key, name, kb) in [
        ("VmRSS:", "rss_bytes", true),
        ("VmHWM:", "peak_rss_bytes", true),
        ("VmSize:", "virtual_bytes", true),
        ("Threads:", "threads", false),
    ] {
        if let Some(v) = proc_status_field(&status, key) {
            memstats.insert(name.into(), json!(if kb { v * 1024 } else { v }));
        }
    }
    let open_fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count()).ok();
    let mut process = Map::new();
    process.insert("pid".into(), json!(std::process::id()));
    process.insert(
        "uptime_seconds".into(),
        json!(state.started.elapsed().as_secs_f64()),
    );
    if let Some(n) = open_fds {
        process.insert("open_fds".into(), json!(n));
    }
    json!({
        "cmdline": cmdline,
        "memstats": memstats,
        "process": process,
        "metrics": prometheus_to_vars(&state.handle.render()),
    })
}

/// A numeric field of `/proc/self/status` (`VmRSS:\t 1234 kB` → 1234).
fn proc_status_field(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The samples of a Prometheus text exposition as `"name{labels}": value`. Histogram
/// buckets are left out (their `_sum` and `_count` stay); values JSON cannot hold
/// (NaN, ±Inf) are written as strings.
pub fn prometheus_to_vars(text: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let name = name.trim();
        if name
            .split('{')
            .next()
            .is_some_and(|n| n.ends_with("_bucket"))
        {
            continue;
        }
        let v = match value.parse::<f64>() {
            Ok(x) if x.is_finite() => {
                if x.fract() == 0.0 && x.abs() < 9.0e15 {
                    json!(x as i64)
                } else {
                    json!(x)
                }
            }
            _ => json!(value),
        };
        out.insert(name.to_string(), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[test]
    fn prometheus_samples_become_vars() {
        let text = "# HELP a_total x\n# TYPE a_total counter\na_total{r=\"otlp\"} 7\ng 1.5\nh_bucket{le=\"1\"} 3\nh_sum 0.25\nh_count 3\nn NaN\n";
        let v = prometheus_to_vars(text);
        assert_eq!(v["a_total{r=\"otlp\"}"], json!(7));
        assert_eq!(v["g"], json!(1.5));
        assert_eq!(v["h_count"], json!(3));
        assert_eq!(v["n"], json!("NaN"));
        assert!(!v.contains_key("h_bucket{le=\"1\"}"));
    }

    #[tokio::test]
    async fn debug_vars_has_cmdline_memstats_and_counters() {
        let handle = crate::install_metrics().expect("recorder installs");
        metrics::counter!("jaeger_expvar_test_total").increment(3);
        let router = expvar_router(handle);
        for path in ["/debug/vars", "/"] {
            let resp = router
                .clone()
                .oneshot(
                    axum::http::Request::get(path)
                        .body(Body::empty())
                        .expect("request"),
                )
                .await
                .expect("response");
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["content-type"], "application/json");
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            let v: Value = serde_json::from_slice(&body).expect("json");
            assert!(
                v["cmdline"].as_array().is_some_and(|a| !a.is_empty()),
                "{v}"
            );
            assert!(
                v["memstats"]["rss_bytes"]
                    .as_u64()
                    .is_some_and(|n| n > 1_000_000),
                "{v}"
            );
            assert_eq!(v["process"]["pid"], json!(std::process::id()));
            assert_eq!(v["metrics"]["jaeger_expvar_test_total"], json!(3), "{v}");
        }
        let resp = router
            .oneshot(
                axum::http::Request::post("/debug/vars")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(resp.status(), 405);
    }
}
