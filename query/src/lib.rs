//! The query service's HTTP side: Jaeger's `/api` (UI JSON), `/api/v3` (OTLP JSON),
//! and the UI (SPA fallback and static files), under an optional base path.
//!
//! Layout: [`params`] parses requests, [`service`] reads storage and runs the
//! [`adjust`] pipeline, `jaeger_model::ui` / `otlp_json` convert, and [`error`] maps
//! every outcome to a response. Routing mimics Go's `http.ServeMux` as Jaeger uses it.

pub mod adjust;
pub mod adjuster;
pub mod error;
pub mod grpc;
pub mod middleware;
pub mod params;
pub mod samples;
pub mod service;
pub mod summary;
pub mod web;

mod api_metrics;
mod api_v1;
mod api_v3;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use http::{HeaderValue, Method, StatusCode, Uri, header};
use jaeger_storage::{DependencyStore, SpanReader, SpanWriter};
use tower::ServiceExt;

pub use adjust::{Adjuster, Adjusters};
pub use adjuster::standard_adjusters;
pub use error::{ApiError, V3Error};
pub use middleware::{
    BearerToken, CorsOptions, HttpOptions, RequestContext, TenancyOptions, Tenant,
};
pub use service::QueryService;
pub use web::{Capabilities, UiAssets, UiConfig, UiConfigFile, UiError, UiOptions, VersionInfo};

use crate::error::not_found_text;

/// Everything the router needs.
#[derive(Clone)]
pub struct QueryState {
    pub reader: Arc<dyn SpanReader>,
    pub dependencies: Arc<dyn DependencyStore>,
    /// Route prefix; `""` or `"/"` for none. A trailing slash is ignored.
    pub base_path: String,
    /// Read when a trace is not in primary storage.
    pub archive_reader: Option<Arc<dyn SpanReader>>,
    /// Written by `POST /api/archive/{traceID}`.
    pub archive_writer: Option<Arc<dyn SpanWriter>>,
    /// Run on every trace returned, unless the client asks for raw traces. Empty by
    /// default; the binary sets [`standard_adjusters`].
    pub adjusters: Adjusters,
    /// Spans kept per trace returned; 0 keeps all (`max_trace_size`).
    pub max_trace_size: usize,
    pub ui: UiOptions,
    pub http: HttpOptions,
}

impl QueryState {
    pub fn new(reader: Arc<dyn SpanReader>, dependencies: Arc<dyn DependencyStore>) -> Self {
        QueryState {
            reader,
            dependencies,
            base_path: "/".into(),
            archive_reader: None,
            archive_writer: None,
            adjusters: Adjusters::default(),
            max_trace_size: 0,
            ui: UiOptions::default(),
            http: HttpOptions::default(),
        }
    }

    /// The query service these options describe (for other front ends, such as gRPC).
    pub fn query_service(&self) -> QueryService {
        QueryService::new(
            self.reader.clone(),
            self.archive_reader.clone(),
            self.adjusters.clone(),
        )
        .with_archive_writer(self.archive_writer.clone())
        .with_max_trace_size(self.max_trace_size)
    }
}

/// What handlers share.
pub(crate) struct App {
    pub service: QueryService,
    pub dependencies: Arc<dyn DependencyStore>,
    /// Normalized base path: `""` or `/prefix` without a trailing slash.
    pub base: String,
    /// The derived index.html.
    pub index: web::IndexPage,
    pub assets: UiAssets,
}

/// `""` for the root, else `/prefix` without a trailing slash.
pub fn normalize_base_path(p: &str) -> String {
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}

/// The HTTP router of the query service.
pub fn router(state: QueryState) -> Router {
    let base = normalize_base_path(&state.base_path);
    let service = state.query_service();
    let mut ui = state.ui;
    // The UI shows its Archive button only when archiving can work.
    ui.capabilities.archive_storage = service.archive_enabled();
    let app = Arc::new(App {
        service,
        dependencies: state.dependencies,
        base: base.clone(),
        index: web::IndexPage::new(ui.clone(), &base),
        assets: ui.assets,
    });

    // A known path with another method falls to the `/api/` catch-all: 404, not 405.
    fn route<H, T>(h: H) -> MethodRouter<Arc<App>>
    where
        H: axum::handler::Handler<T, Arc<App>>,
        T: 'static,
    {
        get(h).fallback(|| async { not_found_text() })
    }
    fn post_route<H, T>(h: H) -> MethodRouter<Arc<App>>
    where
        H: axum::handler::Handler<T, Arc<App>>,
        T: 'static,
    {
        post(h).fallback(|| async { not_found_text() })
    }

    let inner = Router::new()
        .route("/api/services", route(api_v1::services))
        .route(
            "/api/services/{service}/operations",
            route(api_v1::service_operations),
        )
        .route("/api/operations", route(api_v1::operations))
        .route("/api/traces", route(api_v1::search))
        .route("/api/traces/{trace_id}", route(api_v1::get_trace))
        .route("/api/dependencies", route(api_v1::dependencies))
        .route("/api/archive/{trace_id}", post_route(api_v1::archive))
        .route(
            "/api/transform",
            post_route(api_v1::transform)
                .layer(tower_http::decompression::RequestDecompressionLayer::new()),
        )
        .route("/api/metrics/latencies", route(api_metrics::latencies))
        .route("/api/metrics/calls", route(api_metrics::calls))
        .route("/api/metrics/errors", route(api_metrics::errors))
        .route("/api/quality-metrics", route(samples::quality_metrics))
        .route("/api/deep-dependencies", route(samples::deep_dependencies))
        .route("/api/v3/services", route(api_v3::services))
        .route("/api/v3/operations", route(api_v3::operations))
        .route("/api/v3/traces", route(api_v3::find_traces))
        .route("/api/v3/traces/{trace_id}", route(api_v3::get_trace))
        .route("/api/v3/trace-summaries", route(api_v3::trace_summaries))
        .fallback(fallback)
        .with_state(app);

    let outer = Router::new().fallback(move |req: Request| {
        let inner = inner.clone();
        let base = base.clone();
        async move { dispatch(&base, inner, req).await }
    });
    middleware::apply(outer, &state.http)
}

/// ServeMux's outer layer: clean the path, then strip the base path.
async fn dispatch(base: &str, inner: Router, mut req: Request) -> Response {
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let clean = clean_path(&path);
    if clean != path && req.method() != Method::CONNECT {
        return moved(&req, &clean, query.as_deref());
    }
    let rest = if base.is_empty() {
        path
    } else if path == base {
        return moved(&req, &format!("{base}/"), query.as_deref());
    } else {
        match path.strip_prefix(base) {
            Some(r) if r.starts_with('/') => r.to_string(),
            _ => return not_found_text(),
        }
    };
    let pq = match &query {
        Some(q) => format!("{rest}?{q}"),
        None => rest,
    };
    match pq.parse::<Uri>() {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => return not_found_text(),
    }
    match inner.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

/// Everything no route matched: the `/api/` 404, static files, or the SPA page.
async fn fallback(State(app): State<Arc<App>>, req: Request) -> Response {
    let path = req.uri().path();
    // A subtree root without its slash redirects to it, as ServeMux does.
    if path == "/api" || path == "/static" {
        return moved(&req, &format!("{}{path}/", app.base), req.uri().query());
    }
    if path.starts_with("/api/") {
        return not_found_text();
    }
    if let Some(rel) = path.strip_prefix("/static/") {
        let rel = params::path_unescape(rel).unwrap_or_else(|| rel.to_string());
        return web::static_response(&app.assets, &rel, req.headers()).await;
    }
    web::index_response(&app.index.page().await)
}

/// Go's `http.Redirect` with 301.
fn moved(req: &Request, path: &str, query: Option<&str>) -> Response {
    let location = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let Ok(loc) = HeaderValue::from_str(&location) else {
        return not_found_text();
    };
    let mut resp = if req.method() == Method::GET || req.method() == Method::HEAD {
        let body = format!(
            "<a href=\"{}\">Moved Permanently</a>.\n\n",
            location.replace('&', "&amp;").replace('"', "&#34;")
        );
        let mut r = Response::new(Body::from(body));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    } else {
        Response::new(Body::empty())
    };
    *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
    resp.headers_mut().insert(header::LOCATION, loc);
    resp.into_response()
}

/// Go's `cleanPath`: `path.Clean`, keeping a trailing slash.
fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return "/".into();
    }
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut out = String::with_capacity(p.len());
    for s in &parts {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() {
        return "/".into();
    }
    if p.ends_with('/') {
        out.push('/');
    }
    out
}

/// The `n`th `/`-separated segment of the request path, unescaped (Go's `PathValue`).
pub(crate) fn path_segment(uri: &Uri, n: usize) -> String {
    let raw = uri.path().split('/').nth(n).unwrap_or("");
    params::path_unescape(raw).unwrap_or_else(|| raw.to_string())
}

/// Runs CPU-heavy work (conversion, serialization of whole traces) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("internal error: {e}")))
}

/// Runs `work` on one blocking thread marked for store work
/// ([`jaeger_storage::offload`]): the storage read (through the runtime handle it is
/// given), the adjusters and the JSON all run there, and the garbage `work` returns (the
/// trace) is freed there after the answer is handed over. Memory allocated and freed on
/// one thread is far cheaper to free, and the client does not wait for it.
pub(crate) async fn on_query_thread<T, G>(
    work: impl FnOnce(&QueryThread) -> (T, G) + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    G: Send + 'static,
{
    let thread = QueryThread {
        handle: tokio::runtime::Handle::current(),
        context: jaeger_storage::context::RequestContext::current(),
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::task::spawn_blocking(move || {
        jaeger_storage::offload::on_marked_thread(|| {
            let (answer, garbage) = work(&thread);
            // The receiver is gone only if the client went away; nothing to do then.
            let _ = tx.send(answer);
            drop(garbage);
        })
    });
    rx.await
        .map_err(|_| ApiError::Internal("internal error: the query task failed".into()))
}

/// What [`on_query_thread`]'s work runs storage calls with: the runtime, and the
/// request's tenant and bearer token (a task-local that does not cross into the blocking
/// thread by itself).
pub(crate) struct QueryThread {
    handle: tokio::runtime::Handle,
    context: Option<jaeger_storage::context::RequestContext>,
}

impl QueryThread {
    /// Runs `f` to completion on this thread, inside the request's context.
    pub(crate) fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        match &self.context {
            Some(c) => self.handle.block_on(c.clone().scope(f)),
            None => self.handle.block_on(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_clean_like_go() {
        assert_eq!(clean_path("/a//b"), "/a/b");
        assert_eq!(clean_path("/a/./b/"), "/a/b/");
        assert_eq!(clean_path("/a/../b"), "/b");
        assert_eq!(clean_path("/.."), "/");
        assert_eq!(clean_path("/"), "/");
        assert_eq!(clean_path("/api/traces/"), "/api/traces/");
    }

    #[test]
    fn base_paths() {
        assert_eq!(normalize_base_path("/"), "");
        assert_eq!(normalize_base_path(""), "");
        assert_eq!(normalize_base_path("/jaeger/"), "/jaeger");
        assert_eq!(normalize_base_path("/jaeger"), "/jaeger");
    }
}
