//! Serving options of the query router, in-process: the UI from a directory, the UI
//! config file and its reload, caching headers, compression, path tricks that must not
//! escape the static directory or the base path, tenancy, bearer tokens, CORS, extra
//! response headers and panic recovery.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use jaeger_model::{Trace, TraceId};
use jaeger_query::{
    CorsOptions, QueryState, RequestContext, TenancyOptions, UiAssets, UiConfigFile, UiError,
    UiOptions, router,
};
use jaeger_storage::{
    DependencyLink, DependencyStore, GetTraceParams, Operation, OperationQuery, Result, SpanReader,
    TraceQuery, UnixNanos,
};
use tower::ServiceExt;

/// A store that remembers the request context storage calls ran under.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Option<RequestContext>>>,
    panic: bool,
}

#[async_trait]
impl SpanReader for Recorder {
    async fn get_trace(&self, _: GetTraceParams) -> Result<Option<Trace>> {
        Ok(None)
    }
    async fn find_traces(&self, _: &TraceQuery) -> Result<Vec<Trace>> {
        Ok(vec![])
    }
    async fn find_trace_ids(&self, _: &TraceQuery) -> Result<Vec<TraceId>> {
        Ok(vec![])
    }
    async fn get_services(&self) -> Result<Vec<String>> {
        assert!(!self.panic, "storage bug");
        self.seen.lock().unwrap().push(RequestContext::current());
        Ok(vec!["svc".into()])
    }
    async fn get_operations(&self, _: &OperationQuery) -> Result<Vec<Operation>> {
        Ok(vec![])
    }
}

#[async_trait]
impl DependencyStore for Recorder {
    async fn get_dependencies(&self, _: UnixNanos, _: u64) -> Result<Vec<DependencyLink>> {
        Ok(vec![])
    }
    async fn write_dependencies(
        &self,
        _: UnixNanos,
        _: UnixNanos,
        _: Vec<DependencyLink>,
    ) -> Result<()> {
        Ok(())
    }
}

fn state() -> (QueryState, Arc<Recorder>) {
    let r = Arc::new(Recorder::default());
    (QueryState::new(r.clone(), r.clone()), r)
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn send(r: &Router, method: Method, uri: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = r
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    Resp {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    }
}

async fn get(r: &Router, uri: &str) -> Resp {
    send(r, Method::GET, uri, &[]).await
}

const INDEX: &str = "<!doctype html><html><head><base href=\"/\" data-inject-target=\"BASE_URL\"/>\n<script>\n  // JAEGER_CONFIG_JS\n  const DEFAULT = 1;\n  const JAEGER_CONFIG = DEFAULT_CONFIG;\n  const JAEGER_VERSION = DEFAULT_VERSION;\n  const JAEGER_STORAGE_CAPABILITIES = DEFAULT_STORAGE_CAPABILITIES;\n  const JAEGER_BACKEND_CAPABILITIES = DEFAULT_BACKEND_CAPABILITIES;\n</script></head><body>official UI</body></html>\n";
const SECRET: &str = "top secret, outside the static directory";

/// `<tmp>/outside.txt`, `<tmp>/ui/{index.html, secret.txt, static/...}`.
fn ui_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let ui = tmp.path().join("ui");
    std::fs::create_dir_all(ui.join("static/fonts")).unwrap();
    std::fs::write(ui.join("index.html"), INDEX).unwrap();
    std::fs::write(ui.join("secret.txt"), SECRET).unwrap();
    std::fs::write(tmp.path().join("outside.txt"), SECRET).unwrap();
    std::fs::write(
        ui.join("static/index-D2xH8Y_p.js"),
        "console.log('app');".repeat(50),
    )
    .unwrap();
    std::fs::write(ui.join("static/plain.txt"), "plain").unwrap();
    std::fs::write(ui.join("static/fonts/a.woff2"), "font").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(ui.join("secret.txt"), ui.join("static/link.txt")).unwrap();
    tmp
}

fn dir_router(dir: &Path, base: &str) -> Router {
    let (mut s, _) = state();
    s.base_path = base.into();
    s.ui = UiOptions {
        assets: UiAssets::from_dir(dir.join("ui")).unwrap(),
        ..Default::default()
    };
    router(s)
}

#[tokio::test]
async fn serves_another_ui_build_from_a_directory() {
    let tmp = ui_dir();
    let r = dir_router(tmp.path(), "/");

    let page = get(&r, "/search").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(page.header("cache-control"), "no-cache");
    let html = page.text();
    assert!(html.contains("official UI"));
    assert!(html.contains("JAEGER_VERSION = {\"gitCommit\""));
    assert!(html.contains(
        "JAEGER_STORAGE_CAPABILITIES = {\"archiveStorage\":false,\"metricsStorage\":false};"
    ));
    assert!(html.contains("JAEGER_BACKEND_CAPABILITIES = {\"archiveStorage\":false,"));
    assert!(
        html.contains("JAEGER_CONFIG = DEFAULT_CONFIG;"),
        "no config: untouched"
    );

    let js = get(&r, "/static/index-D2xH8Y_p.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.header("content-type"), "text/javascript; charset=utf-8");
    assert_eq!(
        js.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let modified = js.header("last-modified").to_string();
    assert!(modified.ends_with(" GMT"), "{modified}");
    let again = send(
        &r,
        Method::GET,
        "/static/index-D2xH8Y_p.js",
        &[("if-modified-since", &modified)],
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());

    let txt = get(&r, "/static/plain.txt").await;
    assert_eq!(txt.text(), "plain");
    assert_eq!(txt.header("cache-control"), "no-cache");

    // FileServer behaviour: listings, directory redirects, index.html redirect, 404.
    let listing = get(&r, "/static/").await;
    assert_eq!(listing.status, StatusCode::OK);
    assert!(listing.text().contains("<a href=\"fonts/\">fonts/</a>"));
    assert!(
        listing
            .text()
            .contains("<a href=\"plain.txt\">plain.txt</a>")
    );
    let dir = get(&r, "/static/fonts").await;
    assert_eq!(dir.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(dir.header("location"), "fonts/");
    assert_eq!(get(&r, "/static/index.html").await.header("location"), "./");
    let missing = get(&r, "/static/nope.js").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.text(), "404 page not found\n");
}

#[tokio::test]
async fn path_tricks_never_leave_the_static_directory() {
    let tmp = ui_dir();
    let r = dir_router(tmp.path(), "/");
    let long = "a/".repeat(3000) + "x.js";
    let long_name = "b".repeat(5000);
    for uri in [
        "/static/..%2fsecret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E%2Fsecret.txt",
        "/static/..%2f..%2foutside.txt",
        "/static/fonts/..%2f..%2f..%2foutside.txt",
        "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/static/..%5csecret.txt",
        "/static/secret.txt%00.js",
        "/static/link.txt",
        &format!("/static/{long}"),
        &format!("/static/{long_name}"),
    ] {
        let resp = get(&r, uri).await;
        assert_eq!(resp.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(!resp.text().contains("top secret"), "{uri}");
    }
    // Dot segments in the raw path are cleaned by the router first: a redirect to a
    // path that is then only the SPA page.
    let resp = get(&r, "/static/../secret.txt").await;
    assert_eq!(resp.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(resp.header("location"), "/secret.txt");
    let resp = get(&r, "/secret.txt").await;
    assert!(resp.text().contains("official UI"));
    assert!(!resp.text().contains("top secret"));
}

#[tokio::test]
async fn base_path_cannot_be_escaped() {
    let tmp = ui_dir();
    let r = dir_router(tmp.path(), "/jaeger");
    assert_eq!(get(&r, "/jaeger/static/plain.txt").await.text(), "plain");
    assert!(
        get(&r, "/jaeger/search")
            .await
            .text()
            .contains("<base href=\"/jaeger/\"")
    );
    for uri in [
        "/static/plain.txt",
        "/jaeger%2f..%2fapi/services",
        "/jaeger%2Fapi%2Fservices",
        "/jaegerx/static/plain.txt",
        "/%2e%2e/jaeger/api/services",
    ] {
        let resp = get(&r, uri).await;
        assert_eq!(resp.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(resp.text(), "404 page not found\n", "{uri}");
    }
    let resp = get(&r, "/jaeger/../api/services").await;
    assert_eq!(resp.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(resp.header("location"), "/api/services");
    assert_eq!(get(&r, "/api/services").await.status, StatusCode::NOT_FOUND);
    let resp = get(&r, "/jaeger/static/%2e%2e%2fsecret.txt").await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn absurd_ids_and_encoded_slashes_stay_in_their_route() {
    let tmp = ui_dir();
    let r = dir_router(tmp.path(), "/jaeger");
    let huge = "a".repeat(10_000);
    // A path parameter is one segment: an encoded slash or dot-dot inside it is part of
    // the id (a bad one), never a way into another route.
    for uri in [
        format!("/jaeger/api/traces/{huge}"),
        format!("/jaeger/api/v3/traces/{huge}"),
        "/jaeger/api/traces/%2e%2e".into(),
        "/jaeger/api/traces/..%2f..%2fservices".into(),
        "/jaeger/api/traces/abc%2F..%2F..%2F..%2Fstatic%2Fplain.txt".into(),
        "/jaeger/api/v3/traces/%2e%2e%2f%2e%2e%2fservices".into(),
    ] {
        let resp = get(&r, &uri).await;
        assert_eq!(
            resp.status,
            StatusCode::BAD_REQUEST,
            "{}",
            &uri[..60.min(uri.len())]
        );
        assert!(!resp.text().contains("svc"), "{uri}");
        assert!(!resp.text().contains("plain"), "{uri}");
    }
    let resp = get(&r, &format!("/jaeger/api/services/{huge}/operations")).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.header("content-type"), "application/json");
    // Long paths elsewhere: a missing asset, or the SPA page; never a 5xx.
    let resp = get(&r, &format!("/jaeger/static/{huge}.js")).await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    let resp = get(&r, &format!("/jaeger/{huge}")).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.text().contains("official UI"));
    let resp = get(&r, &format!("/{huge}/jaeger/api/services")).await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    // Dot segments that climb out of the base path redirect to a path outside it, which
    // is then a 404: nothing under the prefix is reached that way.
    let resp = get(&r, "/jaeger/static/../../api/services").await;
    assert_eq!(resp.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(resp.header("location"), "/api/services");
    let resp = get(&r, "/jaeger/api/%2e%2e/static/plain.txt").await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(resp.text(), "404 page not found\n");
}

#[tokio::test]
async fn embedded_assets_refuse_dot_dot_too() {
    let (s, _) = state();
    let r = router(s);
    for uri in ["/static/%2e%2e/index.html", "/static/..%2fCargo.toml"] {
        assert_eq!(get(&r, uri).await.status, StatusCode::NOT_FOUND, "{uri}");
    }
    assert_eq!(get(&r, "/").await.header("cache-control"), "no-cache");
}

#[test]
fn asset_directory_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let err = UiAssets::from_dir(&missing).unwrap_err();
    assert!(matches!(err, UiError::Assets(_)));
    assert!(
        err.to_string()
            .starts_with("cannot open UI assets directory"),
        "{err}"
    );
    let err = UiAssets::from_dir(tmp.path()).unwrap_err();
    assert!(
        err.to_string().starts_with("cannot load index.html: open "),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("index.html: no such file or directory"),
        "{err}"
    );
}

#[tokio::test]
async fn ui_config_file_is_injected_and_reloaded() {
    let tmp = ui_dir();
    let cfg = tmp.path().join("ui-config.json");
    std::fs::write(&cfg, r#"{"dependencies":{"menuEnabled":false}}"#).unwrap();
    let (mut s, _) = state();
    s.ui = UiOptions {
        assets: UiAssets::from_dir(tmp.path().join("ui")).unwrap(),
        config_file: Some(
            UiConfigFile::load(&cfg)
                .unwrap()
                .with_reload_interval(Duration::ZERO),
        ),
        ..Default::default()
    };
    let r = router(s);
    let page = get(&r, "/").await.text();
    assert!(page.contains(r#"const JAEGER_CONFIG = {"dependencies":{"menuEnabled":false}};"#));

    std::fs::write(&cfg, r#"{"archiveEnabled":true}"#).unwrap();
    let page = get(&r, "/").await.text();
    assert!(page.contains(r#"const JAEGER_CONFIG = {"archiveEnabled":true};"#));

    // A broken file on reload keeps the previous config.
    std::fs::write(&cfg, "{broken").unwrap();
    let page = get(&r, "/").await.text();
    assert!(page.contains(r#"const JAEGER_CONFIG = {"archiveEnabled":true};"#));
    std::fs::remove_file(&cfg).unwrap();
    assert!(
        get(&r, "/")
            .await
            .text()
            .contains(r#"{"archiveEnabled":true}"#)
    );
}

#[tokio::test]
async fn ui_config_js_and_default_reload_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("ui-config.js");
    std::fs::write(&cfg, "function UIConfig() { return { a: 1 }; }\n").unwrap();
    let file = UiConfigFile::load(&cfg).unwrap();
    assert_eq!(UiConfigFile::RELOAD_INTERVAL, Duration::from_secs(10));
    let (mut s, _) = state();
    s.ui = UiOptions {
        config_file: Some(file),
        ..Default::default()
    };
    let r = router(s);
    let page = get(&r, "/").await.text();
    assert!(page.contains("function UIConfig() { return { a: 1 }; }"));
    assert!(!page.contains("JAEGER_CONFIG_JS"));
    // Within 10 s a change is not picked up.
    std::fs::write(&cfg, "function UIConfig() { return { b: 2 }; }\n").unwrap();
    assert!(get(&r, "/").await.text().contains("a: 1"));

    let bad = tmp.path().join("c.js");
    std::fs::write(&bad, "var x;").unwrap();
    assert_eq!(
        UiConfigFile::load(&bad).unwrap_err().to_string(),
        format!(
            "UI config file must define function UIConfig(): {}",
            bad.display()
        )
    );
}

#[tokio::test]
async fn responses_are_compressed_on_request() {
    let tmp = ui_dir();
    let r = dir_router(tmp.path(), "/");
    let plain = get(&r, "/static/index-D2xH8Y_p.js").await;
    assert_eq!(plain.header("content-encoding"), "");

    let gz = send(
        &r,
        Method::GET,
        "/static/index-D2xH8Y_p.js",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(gz.header("content-encoding"), "gzip");
    assert_eq!(
        gz.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let mut out = Vec::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(gz.body.as_slice())
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain.body);
    assert!(gz.body.len() < plain.body.len());

    let br = send(&r, Method::GET, "/search", &[("accept-encoding", "br")]).await;
    assert_eq!(br.header("content-encoding"), "br");

    // Off when configured so.
    let (mut s, _) = state();
    s.http.compression = false;
    let r = router(s);
    let resp = send(&r, Method::GET, "/search", &[("accept-encoding", "gzip")]).await;
    assert_eq!(resp.header("content-encoding"), "");
}

#[tokio::test]
async fn tenancy_off_by_default_and_enforced_when_on() {
    let (s, rec) = state();
    let r = router(s);
    assert_eq!(get(&r, "/api/services").await.status, StatusCode::OK);
    assert_eq!(
        rec.seen.lock().unwrap().pop(),
        Some(Some(RequestContext::default()))
    );

    let (mut s, rec) = state();
    s.http.tenancy = Some(TenancyOptions {
        tenants: vec!["acme".into(), "globex".into()],
        ..Default::default()
    });
    let r = router(s);
    for uri in ["/api/services", "/", "/static/x.js", "/api/v3/services"] {
        let resp = get(&r, uri).await;
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(resp.text(), "missing tenant header\n");
        assert_eq!(resp.header("content-type"), "text/plain; charset=utf-8");
        assert_eq!(resp.header("x-content-type-options"), "nosniff");
    }
    let resp = send(&r, Method::GET, "/api/services", &[("x-tenant", "initech")]).await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    assert_eq!(resp.text(), "unknown tenant\n");
    let resp = send(&r, Method::GET, "/api/services", &[("x-tenant", "acme")]).await;
    assert_eq!(resp.status, StatusCode::OK);
    let seen = rec.seen.lock().unwrap().pop().unwrap().unwrap();
    assert_eq!(seen.tenant.as_deref(), Some("acme"));

    // Any tenant when none are listed; a custom header name.
    let (mut s, _) = state();
    s.http.tenancy = Some(TenancyOptions {
        header: http::HeaderName::from_static("x-org"),
        tenants: vec![],
    });
    let r = router(s);
    let resp = send(&r, Method::GET, "/api/services", &[("x-org", "anyone")]).await;
    assert_eq!(resp.status, StatusCode::OK);
    let resp = send(&r, Method::GET, "/api/services", &[("x-tenant", "anyone")]).await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bearer_token_reaches_storage_only_when_enabled() {
    let (s, rec) = state();
    let r = router(s);
    send(
        &r,
        Method::GET,
        "/api/services",
        &[("authorization", "Bearer t0k3n")],
    )
    .await;
    assert_eq!(
        rec.seen
            .lock()
            .unwrap()
            .pop()
            .unwrap()
            .unwrap()
            .bearer_token,
        None
    );

    let (mut s, rec) = state();
    s.http.bearer_token_propagation = true;
    let r = router(s);
    send(
        &r,
        Method::GET,
        "/api/services",
        &[("authorization", "Bearer t0k3n")],
    )
    .await;
    assert_eq!(
        rec.seen
            .lock()
            .unwrap()
            .pop()
            .unwrap()
            .unwrap()
            .bearer_token
            .as_deref(),
        Some("t0k3n")
    );
    send(
        &r,
        Method::GET,
        "/api/v3/services",
        &[("x-forwarded-access-token", "fwd")],
    )
    .await;
    assert_eq!(
        rec.seen
            .lock()
            .unwrap()
            .pop()
            .unwrap()
            .unwrap()
            .bearer_token
            .as_deref(),
        Some("fwd")
    );
    send(
        &r,
        Method::GET,
        "/api/services",
        &[("authorization", "Basic dTpw")],
    )
    .await;
    assert_eq!(
        rec.seen
            .lock()
            .unwrap()
            .pop()
            .unwrap()
            .unwrap()
            .bearer_token,
        None
    );
}

#[tokio::test]
async fn cors_when_configured() {
    let (s, _) = state();
    let r = router(s);
    let resp = send(
        &r,
        Method::GET,
        "/api/services",
        &[("origin", "https://ui.example.com")],
    )
    .await;
    assert_eq!(resp.header("access-control-allow-origin"), "");

    let (mut s, _) = state();
    s.http.cors = Some(CorsOptions {
        allowed_origins: vec!["https://*.example.com".into()],
        allowed_headers: vec!["X-Tenant".into()],
        max_age: Some(Duration::from_secs(600)),
    });
    let r = router(s);
    let resp = send(
        &r,
        Method::GET,
        "/api/services",
        &[("origin", "https://ui.example.com")],
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        resp.header("access-control-allow-origin"),
        "https://ui.example.com"
    );
    let resp = send(
        &r,
        Method::GET,
        "/api/services",
        &[("origin", "https://evil.org")],
    )
    .await;
    assert_eq!(resp.header("access-control-allow-origin"), "");

    let pre = send(
        &r,
        Method::OPTIONS,
        "/api/traces/abc",
        &[
            ("origin", "https://ui.example.com"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "x-tenant"),
        ],
    )
    .await;
    assert_eq!(pre.status, StatusCode::OK);
    assert_eq!(
        pre.header("access-control-allow-origin"),
        "https://ui.example.com"
    );
    assert_eq!(pre.header("access-control-allow-methods"), "GET,POST,HEAD");
    assert!(
        pre.header("access-control-allow-headers")
            .contains("x-tenant")
    );
    assert_eq!(pre.header("access-control-max-age"), "600");

    let (mut s, _) = state();
    s.http.cors = Some(CorsOptions {
        allowed_origins: vec!["*".into()],
        ..Default::default()
    });
    let r = router(s);
    let resp = send(
        &r,
        Method::GET,
        "/api/services",
        &[("origin", "https://a.b")],
    )
    .await;
    assert_eq!(resp.header("access-control-allow-origin"), "*");
}

#[tokio::test]
async fn additional_response_headers_everywhere() {
    let (mut s, _) = state();
    s.http.response_headers = vec![
        jaeger_query::middleware::parse_response_header("X-Frame-Options: DENY").unwrap(),
        jaeger_query::middleware::parse_response_header("Content-Type: text/x-ignored").unwrap(),
    ];
    let r = router(s);
    for uri in ["/api/services", "/api/nope", "/", "/api/traces/xyz"] {
        let resp = get(&r, uri).await;
        assert_eq!(resp.header("x-frame-options"), "DENY", "{uri}");
        assert_ne!(resp.header("content-type"), "text/x-ignored", "{uri}");
    }
}

#[tokio::test]
async fn a_panicking_handler_is_a_500() {
    let r = Arc::new(Recorder {
        panic: true,
        ..Default::default()
    });
    let router = router(QueryState::new(r.clone(), r));
    let resp = get(&router, "/api/services").await;
    assert_eq!(resp.status, StatusCode::INTERNAL_SERVER_ERROR);
    // The server keeps serving.
    assert_eq!(get(&router, "/").await.status, StatusCode::OK);
}
