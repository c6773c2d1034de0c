//! What wraps every response of the query HTTP server, static files included (query
//! spec §1.1): panic recovery, configured response headers, tenancy, bearer-token
//! propagation, CORS, and response compression (which Jaeger dropped in v1.63 and we
//! keep: trace JSON compresses about tenfold).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderName, HeaderValue, Method, StatusCode, header};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::error::http_error;

/// HTTP server options of the query service.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// gzip/brotli response compression when the client asks for it (default on), at
    /// the fastest level: a 10 MB trace still shrinks ~14x, for a few ms of CPU (the
    /// default levels cost more than building the response).
    pub compression: bool,
    /// Cross-origin access; `None` sends no CORS headers.
    pub cors: Option<CorsOptions>,
    /// Added to every response that does not set the header itself
    /// (`--query.additional-headers`, `http.response_headers`).
    pub response_headers: Vec<(HeaderName, HeaderValue)>,
    /// Hands the caller's bearer token to storage (`--query.bearer-token-propagation`).
    pub bearer_token_propagation: bool,
    /// Multi-tenancy; `None` (the default) turns it off.
    pub tenancy: Option<TenancyOptions>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            compression: true,
            cors: None,
            response_headers: Vec::new(),
            bearer_token_propagation: false,
            tenancy: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOptions {
    /// Origins allowed to call the API: exact values, `*` for any, or patterns with `*`
    /// wildcards such as `https://*.example.com`.
    pub allowed_origins: Vec<String>,
    /// Request headers allowed besides the defaults (`Accept`, `Content-Type`,
    /// `X-Requested-With`, `Origin`); `*` allows any.
    pub allowed_headers: Vec<String>,
    /// How long a browser may cache a preflight answer.
    pub max_age: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenancyOptions {
    /// The request header naming the tenant (`x-tenant`).
    pub header: HeaderName,
    /// Accepted tenants; empty accepts any non-empty value.
    pub tenants: Vec<String>,
}

impl Default for TenancyOptions {
    fn default() -> Self {
        TenancyOptions {
            header: HeaderName::from_static("x-tenant"),
            tenants: Vec::new(),
        }
    }
}

/// The caller's bearer token, put on the request (an extension) and in the task-local
/// [`RequestContext`] for storage backends that forward it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerToken(pub String);

/// The tenant of the request, when tenancy is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant(pub String);

use jaeger_storage::context::REQUEST_CONTEXT;
/// Per-request values visible to everything the handler awaits (storage calls run in
/// the handler's task). Defined in jaeger-storage so that backends (the `grpc` one)
/// can forward the tenant and bearer token.
pub use jaeger_storage::context::RequestContext;

/// Parses a `--query.additional-headers` value, `"Name: value"`.
pub fn parse_response_header(s: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (k, v) = s
        .split_once(':')
        .ok_or_else(|| format!("invalid header {s:?}: expecting \"Name: value\""))?;
    let name = HeaderName::from_bytes(k.trim().as_bytes())
        .map_err(|e| format!("invalid header name {:?}: {e}", k.trim()))?;
    let value = HeaderValue::from_str(v.trim())
        .map_err(|e| format!("invalid header value {:?}: {e}", v.trim()))?;
    Ok((name, value))
}

/// Wraps the router with every layer the options ask for.
pub(crate) fn apply(router: Router, opts: &HttpOptions) -> Router {
    let opts = Arc::new(opts.clone());
    let mut router = router
        .layer(axum::middleware::from_fn_with_state(
            opts.clone(),
            request_layer,
        ))
        // A panicking handler answers 500 (Jaeger's recovery handler), not a reset.
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("HTTP handler panicked");
                let mut r = Response::new(Body::empty());
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r
            },
        ));
    if let Some(cors) = &opts.cors {
        router = router.layer(cors_layer(cors));
    }
    if opts.compression {
        router = router.layer(
            CompressionLayer::new()
                .gzip(true)
                .br(true)
                .quality(tower_http::CompressionLevel::Fastest),
        );
    }
    router
}

/// Response headers, tenancy and bearer token, in Jaeger's nesting order.
async fn request_layer(
    State(opts): State<Arc<HttpOptions>>,
    mut req: Request,
    next: Next,
) -> Response {
    let mut ctx = RequestContext::default();
    let resp = 'resp: {
        if let Some(t) = &opts.tenancy {
            let tenant = req
                .headers()
                .get(&t.header)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            if tenant.is_empty() {
                break 'resp http_error(
                    StatusCode::UNAUTHORIZED,
                    b"missing tenant header".to_vec(),
                );
            }
            if !t.tenants.is_empty() && !t.tenants.contains(&tenant) {
                break 'resp http_error(StatusCode::UNAUTHORIZED, b"unknown tenant".to_vec());
            }
            ctx.tenant = Some(tenant.clone());
            req.extensions_mut().insert(Tenant(tenant));
        }
        if opts.bearer_token_propagation
            && let Some(token) = bearer_token(req.headers())
        {
            ctx.bearer_token = Some(token.clone());
            req.extensions_mut().insert(BearerToken(token));
        }
        REQUEST_CONTEXT.scope(ctx, next.run(req)).await
    };
    with_response_headers(resp, &opts.response_headers)
}

fn with_response_headers(mut resp: Response, extra: &[(HeaderName, HeaderValue)]) -> Response {
    for (k, v) in extra {
        // Headers the handler set win, as when Go sets them before the handler runs.
        if !resp.headers().contains_key(k) {
            resp.headers_mut().append(k.clone(), v.clone());
        }
    }
    resp
}

/// Jaeger's `bearertoken.PropagationHandler`: `Authorization: Bearer <t>` (or
/// `X-Forwarded-Access-Token`); a value without a space is taken whole; another scheme
/// (`Basic ...`) propagates an empty token, which we treat as none.
pub(crate) fn bearer_token(headers: &http::HeaderMap) -> Option<String> {
    let value = [header::AUTHORIZATION.as_str(), "x-forwarded-access-token"]
        .iter()
        .filter_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .find(|v| !v.is_empty())?;
    let parts: Vec<&str> = value.split(' ').collect();
    let token = match parts.as_slice() {
        ["Bearer", t] => (*t).to_string(),
        [_] => value.to_string(),
        _ => String::new(),
    };
    (!token.is_empty()).then_some(token)
}

fn cors_layer(c: &CorsOptions) -> CorsLayer {
    let origins = if c.allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let patterns = c.allowed_origins.clone();
        AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            let o = origin.to_str().unwrap_or("");
            patterns.iter().any(|p| glob_match(p, o))
        })
    };
    let headers = if c.allowed_headers.iter().any(|h| h == "*") {
        AllowHeaders::any()
    } else {
        let mut names: Vec<HeaderName> = vec![
            header::ACCEPT,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-requested-with"),
            header::ORIGIN,
        ];
        names.extend(
            c.allowed_headers
                .iter()
                .filter_map(|h| HeaderName::from_bytes(h.trim().as_bytes()).ok()),
        );
        AllowHeaders::list(names)
    };
    let mut layer = CorsLayer::new()
        .allow_origin(origins)
        .allow_headers(headers)
        .allow_methods([Method::GET, Method::POST, Method::HEAD]);
    if let Some(age) = c.max_age {
        layer = layer.max_age(age);
    }
    layer
}

/// `*` matches any run of characters (the rs/cors wildcard); comparison ignores ASCII
/// case, as origins are case-insensitive in scheme and host.
fn glob_match(pattern: &str, s: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    let s = s.to_ascii_lowercase();
    let mut parts = p.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = s.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for m in middle {
        match rest.find(m) {
            Some(i) => rest = &rest[i + m.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(
            "https://*.example.com",
            "https://ui.example.com"
        ));
        assert!(glob_match(
            "https://*.example.com",
            "HTTPS://UI.Example.com"
        ));
        assert!(!glob_match("https://*.example.com", "https://example.com"));
        assert!(!glob_match(
            "https://*.example.com",
            "https://evil.com/.example.com.x"
        ));
        assert!(glob_match("http://localhost:*", "http://localhost:3000"));
        assert!(glob_match("https://a.b", "https://a.b"));
        assert!(!glob_match("https://a.b", "https://a.bc"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a*b*c", "a-x-b-y-c"));
        assert!(!glob_match("a*b*c", "a-x-c-y-b"));
    }

    #[test]
    fn bearer_tokens_as_jaeger_reads_them() {
        let h = |pairs: &[(&str, &str)]| {
            let mut m = http::HeaderMap::new();
            for (k, v) in pairs {
                m.insert(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            bearer_token(&m)
        };
        assert_eq!(h(&[("authorization", "Bearer abc")]), Some("abc".into()));
        assert_eq!(
            h(&[("authorization", "raw-token")]),
            Some("raw-token".into())
        );
        assert_eq!(h(&[("authorization", "Basic dXNlcjpwdw==")]), None);
        assert_eq!(h(&[("authorization", "Bearer a b")]), None);
        assert_eq!(
            h(&[("x-forwarded-access-token", "fwd")]),
            Some("fwd".into())
        );
        assert_eq!(h(&[]), None);
    }

    #[test]
    fn response_header_flag() {
        let (k, v) = parse_response_header("Access-Control-Allow-Origin: https://x.org").unwrap();
        assert_eq!(k, "access-control-allow-origin");
        assert_eq!(v, "https://x.org");
        assert!(parse_response_header("no colon").is_err());
        assert!(parse_response_header("bad name: v").is_err());
    }
}
