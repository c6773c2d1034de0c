//! The health check.
//!
//! `GET /status` answers as Jaeger v2's `healthcheckv2` extension (`use_v2: true`):
//! `{"start_time":..,"healthy":true,"status":"StatusOK","status_time":..}`.
//!
//! | state | HTTP | status |
//! |---|---|---|
//! | starting (before [`HealthState::set_ready`]) | 503 | `StatusStarting` |
//! | ready, storage healthy | 200 | `StatusOK` |
//! | ready, storage check false or slower than the timeout (2 s) | 503 | `StatusRecoverableError`, with `"error"` |
//! | stopping (after [`HealthState::set_stopping`]) | 503 | `StatusStopping` |
//!
//! Jaeger answers 200 for `StatusRecoverableError` unless `component_health` is
//! configured; we answer 503 so load balancers and readiness probes stop sending spans
//! to an instance whose storage is down. `status_time` is when the current status began.
//!
//! `GET /` answers in the v1 style: `{"status":"Server available","upSince":..,"uptime":..}`
//! (200) when `/status` would say `StatusOK`, else
//! `{"status":"Server not available","upSince":"0001-01-01T00:00:00Z","uptime":""}` (503).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use serde::Serialize;

use crate::time::rfc3339_nano;

/// Answers whether storage is healthy. The binary builds it from its storage's
/// `StorageHealth`, so this crate does not depend on storage.
pub type HealthCheck = Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>;

/// A check that takes longer than this counts as unhealthy (default).
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Starting,
    Ok,
    RecoverableError,
    Stopping,
}

impl Status {
    /// The name Jaeger v2 writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Starting => "StatusStarting",
            Status::Ok => "StatusOK",
            Status::RecoverableError => "StatusRecoverableError",
            Status::Stopping => "StatusStopping",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Starting,
    Ready,
    Stopping,
}

/// The health of the process. Cheap to clone; all clones share the state.
#[derive(Clone)]
pub struct HealthState {
    inner: Arc<Inner>,
}

struct Inner {
    start_time: SystemTime,
    check: Option<HealthCheck>,
    check_timeout: Duration,
    current: Mutex<Current>,
}

struct Current {
    phase: Phase,
    /// When the phase was entered (`upSince` of the v1 answer when ready).
    phase_since: SystemTime,
    status: Status,
    status_since: SystemTime,
}

/// One answer of the health check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub status: Status,
    pub start_time: SystemTime,
    pub status_time: SystemTime,
    /// When the process became ready, if it is ready.
    pub up_since: Option<SystemTime>,
    pub error: Option<String>,
}

impl Default for HealthState {
    fn default() -> Self {
        Self::new()
    }
}

impl HealthState {
    /// A process that is starting, with no storage check.
    pub fn new() -> Self {
        Self::build(None, DEFAULT_CHECK_TIMEOUT)
    }

    /// A starting process whose storage check runs on every request to `/status` and
    /// `/`; a check slower than [`DEFAULT_CHECK_TIMEOUT`] counts as unhealthy.
    pub fn with_check<F>(check: F) -> Self
    where
        F: Fn() -> BoxFuture<'static, bool> + Send + Sync + 'static,
    {
        Self::build(Some(Arc::new(check)), DEFAULT_CHECK_TIMEOUT)
    }

    /// As [`Self::with_check`], with another timeout.
    pub fn with_check_timeout(check: HealthCheck, timeout: Duration) -> Self {
        Self::build(Some(check), timeout)
    }

    fn build(check: Option<HealthCheck>, check_timeout: Duration) -> Self {
        let now = SystemTime::now();
        Self {
            inner: Arc::new(Inner {
                start_time: now,
                check,
                check_timeout,
                current: Mutex::new(Current {
                    phase: Phase::Starting,
                    phase_since: now,
                    status: Status::Starting,
                    status_since: now,
                }),
            }),
        }
    }

    /// Every role is listening: the process is ready.
    pub fn set_ready(&self) {
        self.set_phase(Phase::Ready);
    }

    /// Shutdown started: load balancers should stop sending work.
    pub fn set_stopping(&self) {
        self.set_phase(Phase::Stopping);
    }

    fn set_phase(&self, phase: Phase) {
        let mut cur = self.lock();
        if cur.phase != phase {
            cur.phase = phase;
            cur.phase_since = SystemTime::now();
            let status = match phase {
                Phase::Starting => Status::Starting,
                Phase::Ready => Status::Ok,
                Phase::Stopping => Status::Stopping,
            };
            set_status(&mut cur, status);
        }
    }

    /// Runs the storage check (when ready) and answers.
    pub async fn snapshot(&self) -> Snapshot {
        let phase = self.lock().phase;
        let mut error = None;
        if phase == Phase::Ready {
            let healthy = match &self.inner.check {
                None => true,
                Some(check) => {
                    match tokio::time::timeout(self.inner.check_timeout, check()).await {
                        Ok(healthy) => healthy,
                        Err(_) => {
                            error = Some(format!(
                                "storage health check timed out after {:?}",
                                self.inner.check_timeout
                            ));
                            false
                        }
                    }
                }
            };
            if !healthy && error.is_none() {
                error = Some("storage is unavailable".to_owned());
            }
            let mut cur = self.lock();
            // The phase may have moved on while the check ran.
            if cur.phase == Phase::Ready {
                let status = if healthy {
                    Status::Ok
                } else {
                    Status::RecoverableError
                };
                set_status(&mut cur, status);
            }
        }
        let cur = self.lock();
        Snapshot {
            status: cur.status,
            start_time: self.inner.start_time,
            status_time: cur.status_since,
            up_since: (cur.phase == Phase::Ready).then_some(cur.phase_since),
            error: if cur.status == Status::RecoverableError {
                error
            } else {
                None
            },
        }
    }

    fn lock(&self) -> MutexGuard<'_, Current> {
        self.inner.current.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn set_status(cur: &mut Current, status: Status) {
    if cur.status != status {
        cur.status = status;
        cur.status_since = SystemTime::now();
    }
}

/// `GET /status` (v2) and `GET /` (v1).
pub fn health_router(state: HealthState) -> Router {
    Router::new()
        .route("/status", get(status_v2))
        .route("/", get(status_v1))
        .with_state(state)
}

#[derive(Serialize)]
struct V2Body {
    start_time: String,
    healthy: bool,
    status: &'static str,
    status_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

async fn status_v2(State(state): State<HealthState>) -> Response {
    let s = state.snapshot().await;
    let healthy = s.status == Status::Ok;
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = V2Body {
        start_time: rfc3339_nano(s.start_time),
        healthy,
        status: s.status.as_str(),
        status_time: rfc3339_nano(s.status_time),
        error: s.error,
    };
    (code, Json(body)).into_response()
}

#[derive(Serialize)]
struct V1Body {
    status: &'static str,
    #[serde(rename = "upSince")]
    up_since: String,
    uptime: String,
}

pub(crate) async fn status_v1(State(state): State<HealthState>) -> Response {
    let s = state.snapshot().await;
    match (s.status, s.up_since) {
        (Status::Ok, Some(up)) => {
            let uptime = SystemTime::now().duration_since(up).unwrap_or_default();
            let body = V1Body {
                status: "Server available",
                up_since: rfc3339_nano(up),
                uptime: jaeger_config::format_go_duration(
                    i64::try_from(uptime.as_nanos()).unwrap_or(i64::MAX),
                ),
            };
            (StatusCode::OK, Json(body)).into_response()
        }
        _ => {
            let body = V1Body {
                status: "Server not available",
                up_since: "0001-01-01T00:00:00Z".to_owned(),
                uptime: String::new(),
            };
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    use axum::body::Body;
    use http_body_util::BodyExt;
    use serde_json::Value;
    use tower::ServiceExt;

    async fn get_json(state: &HealthState, path: &str) -> (StatusCode, Value) {
        let resp = health_router(state.clone())
            .oneshot(
                axum::http::Request::get(path)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        let status = resp.status();
        assert_eq!(resp.headers()["content-type"], "application/json");
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&body).expect("json body"))
    }

    fn flaky(flag: Arc<AtomicBool>) -> HealthState {
        HealthState::with_check(move || {
            let flag = flag.clone();
            Box::pin(async move { flag.load(Ordering::SeqCst) })
        })
    }

    #[tokio::test]
    async fn starting_then_ok_then_stopping() {
        let state = HealthState::new();
        let (code, body) = get_json(&state, "/status").await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "StatusStarting");
        assert_eq!(body["healthy"], false);

        state.set_ready();
        let (code, body) = get_json(&state, "/status").await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(body["status"], "StatusOK");
        assert_eq!(body["healthy"], true);
        assert!(body.get("error").is_none());
        let start = body["start_time"].as_str().expect("string");
        assert!(start.ends_with('Z') && start.len() >= 20, "{start}");
        assert!(body["status_time"].as_str().expect("string") >= start);

        state.set_stopping();
        let (code, body) = get_json(&state, "/status").await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "StatusStopping");
    }

    #[tokio::test]
    async fn storage_down_is_a_recoverable_error() {
        let up = Arc::new(AtomicBool::new(false));
        let state = flaky(up.clone());
        state.set_ready();
        let (code, body) = get_json(&state, "/status").await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "StatusRecoverableError");
        assert_eq!(body["healthy"], false);
        assert_eq!(body["error"], "storage is unavailable");
        let down_since = body["status_time"].clone();

        let (code, body) = get_json(&state, "/").await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body,
            serde_json::json!({"status":"Server not available","upSince":"0001-01-01T00:00:00Z","uptime":""})
        );
        let (_, body) = get_json(&state, "/status").await;
        assert_eq!(
            body["status_time"], down_since,
            "status_time is when the status began"
        );

        up.store(true, Ordering::SeqCst);
        let (code, body) = get_json(&state, "/status").await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(body["status"], "StatusOK");
    }

    #[tokio::test]
    async fn slow_check_counts_as_down() {
        let state = HealthState::with_check_timeout(
            Arc::new(|| {
                Box::pin(async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    true
                })
            }),
            Duration::from_millis(20),
        );
        state.set_ready();
        let s = state.snapshot().await;
        assert_eq!(s.status, Status::RecoverableError);
        assert!(s.error.as_deref().is_some_and(|e| e.contains("timed out")));
    }

    #[tokio::test]
    async fn v1_root_when_available() {
        let state = HealthState::new();
        let (code, _) = get_json(&state, "/").await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        state.set_ready();
        let (code, body) = get_json(&state, "/").await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(body["status"], "Server available");
        assert!(body["upSince"].as_str().expect("string").ends_with('Z'));
        let uptime = body["uptime"].as_str().expect("string");
        assert!(
            uptime.ends_with('s') && uptime.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "{uptime}"
        );
    }
}
