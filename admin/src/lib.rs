//! The admin endpoints: Prometheus metrics (`GET /metrics`, default port 8888), the
//! health check (`GET /status` in Jaeger v2's style, `GET /` in v1's, default port 13133),
//! expvar-style JSON (default port 2777) and Jaeger v1's admin port (`GET /` and
//! `GET /metrics`, default port 14269).
//!
//! ```ignore
//! let handle = jaeger_admin::install_metrics()?;          // once, early in main
//! jaeger_ingest::metrics::describe();
//! let health = HealthState::with_check(move || { let s = storage.health.clone(); Box::pin(async move { s.is_healthy().await }) });
//! axum::serve(metrics_listener, metrics_router(handle));
//! axum::serve(health_listener, health_router(health.clone()));
//! health.set_ready();      // once every role listens
//! health.set_stopping();   // at the start of shutdown
//! ```

pub mod expvar;
pub mod health;
pub mod metrics;
pub mod time;

pub use expvar::expvar_router;
pub use health::{HealthCheck, HealthState, health_router};
pub use metrics::{install_metrics, metrics_router};

/// Jaeger v1's admin port (14269 on the collector): `GET /` answers the health check in
/// v1's JSON, `GET /metrics` the Prometheus scrape.
pub fn legacy_admin_router(
    health: HealthState,
    handle: metrics_exporter_prometheus::PrometheusHandle,
) -> axum::Router {
    axum::Router::new()
        .route("/", axum::routing::get(health::status_v1))
        .with_state(health)
        .merge(metrics_router(handle))
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("installing the metrics recorder: {0}")]
    Recorder(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get(router: &axum::Router, path: &str) -> (u16, String) {
        let resp = router
            .clone()
            .oneshot(
                axum::http::Request::get(path)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn legacy_admin_port_serves_v1_health_and_metrics() {
        let health = HealthState::new();
        let router = legacy_admin_router(health.clone(), install_metrics().expect("recorder"));
        let (status, body) = get(&router, "/").await;
        assert_eq!(status, 503);
        assert!(body.contains("\"Server not available\""), "{body}");
        health.set_ready();
        let (status, body) = get(&router, "/").await;
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["status"], "Server available");
        let (status, body) = get(&router, "/metrics").await;
        assert_eq!(status, 200);
        assert!(body.contains("process_resident_memory_bytes"), "{body}");
        // v2's /status is not part of the v1 admin port.
        assert_eq!(get(&router, "/status").await.0, 404);
    }
}
