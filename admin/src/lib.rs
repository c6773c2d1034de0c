//! The admin endpoints: Prometheus metrics (`GET /metrics`, default port 8888) and the
//! health check (`GET /status` in Jaeger v2's style, `GET /` in v1's, default port 13133).
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

pub mod health;
pub mod metrics;
pub mod time;

pub use health::{HealthCheck, HealthState, health_router};
pub use metrics::{install_metrics, metrics_router};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("installing the metrics recorder: {0}")]
    Recorder(String),
}
