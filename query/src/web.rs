//! Serving the UI: the derived `index.html` (query spec §3.3) for every path outside
//! `/api/` and `/static/`, and the embedded static files.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use jaeger_model::gojson;
use jaeger_ui_assets::Assets;
use serde::Serialize;

use crate::error::not_found_text;

/// What the UI is told about the build (`JAEGER_VERSION`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub git_commit: String,
    pub git_version: String,
    pub build_date: String,
}

impl Default for VersionInfo {
    fn default() -> Self {
        VersionInfo {
            git_commit: String::new(),
            git_version: concat!("v", env!("CARGO_PKG_VERSION")).into(),
            build_date: String::new(),
        }
    }
}

/// What the UI is told the backend can do (`JAEGER_BACKEND_CAPABILITIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    pub archive_storage: bool,
    pub metrics_storage: bool,
    pub search_without_service_name: bool,
    pub ai_assistant: bool,
}

/// A UI configuration file's content (`--query.ui-config`).
#[derive(Debug, Clone, PartialEq)]
pub enum UiConfig {
    /// A `.json` file: an object injected as `JAEGER_CONFIG`.
    Json(serde_json::Map<String, serde_json::Value>),
    /// A `.js` file defining `function UIConfig()`, injected in place of the
    /// `// JAEGER_CONFIG_JS` line and the line after it.
    Js(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct UiOptions {
    pub version: VersionInfo,
    pub capabilities: Capabilities,
    pub config: Option<UiConfig>,
}

/// Applies Jaeger's index.html substitutions. `base_path` is `""` for the root.
pub fn render_index(html: &str, opts: &UiOptions, base_path: &str) -> String {
    let mut out = html.to_string();
    match &opts.config {
        Some(UiConfig::Json(obj)) => {
            out = replace_assignment(&out, "JAEGER_CONFIG", "DEFAULT_CONFIG", &json(obj), false);
        }
        Some(UiConfig::Js(js)) => out = replace_config_js(&out, js),
        None => {}
    }
    out = replace_assignment(
        &out,
        "JAEGER_VERSION",
        "DEFAULT_VERSION",
        &json(&opts.version),
        true,
    );
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Storage {
        archive_storage: bool,
        metrics_storage: bool,
    }
    let caps = &opts.capabilities;
    out = replace_assignment(
        &out,
        "JAEGER_STORAGE_CAPABILITIES",
        "DEFAULT_STORAGE_CAPABILITIES",
        &json(&Storage {
            archive_storage: caps.archive_storage,
            metrics_storage: caps.metrics_storage,
        }),
        true,
    );
    out = replace_assignment(
        &out,
        "JAEGER_BACKEND_CAPABILITIES",
        "DEFAULT_BACKEND_CAPABILITIES",
        &json(caps),
        true,
    );
    // Old UI builds (before v2.18) need their <base href> pointed at the prefix.
    if !base_path.is_empty() {
        out = out.replace(
            r#"<base href="/""#,
            &format!(r#"<base href="{base_path}/""#),
        );
    }
    out
}

fn json<T: Serialize>(v: &T) -> String {
    String::from_utf8(gojson::to_vec(v, false).expect("plain structs serialize"))
        .expect("serde_json writes UTF-8")
}

/// Replaces `NAME *= *DEFAULT;` (the regex Jaeger uses) with `NAME = value;`, the first
/// match or all of them.
fn replace_assignment(html: &str, name: &str, default: &str, value: &str, all: bool) -> String {
    let mut out = String::with_capacity(html.len() + value.len());
    let mut rest = html;
    while let Some(pos) = rest.find(name) {
        let after = &rest[pos + name.len()..];
        let matched = after
            .trim_start_matches(' ')
            .strip_prefix('=')
            .map(|a| a.trim_start_matches(' '))
            .and_then(|a| a.strip_prefix(default))
            .and_then(|a| a.strip_prefix(';'));
        match matched {
            Some(tail) => {
                out.push_str(&rest[..pos]);
                out.push_str(name);
                out.push_str(" = ");
                out.push_str(value);
                out.push(';');
                rest = tail;
                if !all {
                    break;
                }
            }
            None => {
                out.push_str(&rest[..pos + name.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `(?im)^\s*//\s*JAEGER_CONFIG_JS.*\n.*` → the JS file: the marker comment line and
/// the line after it are replaced.
fn replace_config_js(html: &str, js: &str) -> String {
    let mut offset = 0;
    for line in html.split_inclusive('\n') {
        let t = line.trim_start();
        let is_marker = t
            .strip_prefix("//")
            .map(|r| {
                r.trim_start()
                    .to_ascii_uppercase()
                    .starts_with("JAEGER_CONFIG_JS")
            })
            .unwrap_or(false);
        if is_marker && line.ends_with('\n') {
            let start = offset;
            let next = offset + line.len();
            let next_end = html[next..]
                .find('\n')
                .map(|i| next + i)
                .unwrap_or(html.len());
            return format!("{}{}{}", &html[..start], js, &html[next_end..]);
        }
        offset += line.len();
    }
    html.to_string()
}

/// The SPA fallback: 200 with the derived page, for any method.
pub fn index_response(page: &bytes::Bytes) -> Response {
    let mut resp = Response::new(Body::from(page.clone()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// `GET /static/<path>` from the embedded assets, as Go's `http.FileServer`:
/// directories list their entries, `…/index.html` redirects to `./`.
pub fn static_response(rel: &str) -> Response {
    // `rel` is the unescaped path below `static/`.
    if rel.ends_with("/index.html") || rel == "index.html" {
        return redirect("./");
    }
    let full = format!("static/{rel}");
    let is_dir_path = rel.is_empty() || rel.ends_with('/');
    if !is_dir_path && let Some(file) = Assets::get(&full) {
        let mut resp = Response::new(Body::from(file.data.into_owned()));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(rel)),
        );
        return resp;
    }
    let dir = if is_dir_path {
        full.clone()
    } else {
        format!("{full}/")
    };
    let entries = list_dir(&dir);
    if entries.is_empty() && !(rel.is_empty() && Assets::iter().next().is_some()) {
        return not_found_text();
    }
    if !is_dir_path {
        let base = rel.rsplit('/').next().unwrap_or(rel);
        return redirect(&format!("{base}/"));
    }
    if let Some(index) = Assets::get(&format!("{dir}index.html")) {
        let mut resp = Response::new(Body::from(index.data.into_owned()));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return resp;
    }
    let mut html = String::from(
        "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n",
    );
    for name in entries {
        let esc = html_escape(&name);
        html.push_str(&format!("<a href=\"{esc}\">{esc}</a>\n"));
    }
    html.push_str("</pre>\n");
    let mut resp = Response::new(Body::from(html));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// Names directly under `dir` (which ends with `/`), sorted; directories get a `/`.
fn list_dir(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = Assets::iter()
        .filter_map(|p| {
            let rest = p.strip_prefix(dir)?;
            Some(match rest.split_once('/') {
                Some((d, _)) => format!("{d}/"),
                None => rest.to_string(),
            })
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// A relative redirect, as FileServer sends.
fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(loc) => {
            let mut resp = StatusCode::MOVED_PERMANENTLY.into_response();
            resp.headers_mut().insert(header::LOCATION, loc);
            resp
        }
        Err(_) => not_found_text(),
    }
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/vnd.microsoft.icon",
        "webp" => "image/webp",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        "xml" => "text/xml; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "<base href=\"/\" x>\n  // JAEGER_CONFIG_JS\n  const X = 1;\nconst JAEGER_CONFIG = DEFAULT_CONFIG;\nconst JAEGER_VERSION  =  DEFAULT_VERSION;\nconst JAEGER_STORAGE_CAPABILITIES = DEFAULT_STORAGE_CAPABILITIES;\nconst JAEGER_BACKEND_CAPABILITIES = DEFAULT_BACKEND_CAPABILITIES;\n";

    #[test]
    fn substitutions() {
        let opts = UiOptions {
            version: VersionInfo {
                git_commit: "abc".into(),
                git_version: "v1".into(),
                build_date: "d".into(),
            },
            capabilities: Capabilities {
                archive_storage: true,
                ..Default::default()
            },
            config: Some(UiConfig::Json(
                serde_json::from_str(r#"{"z":1,"a":"<b>"}"#).unwrap(),
            )),
        };
        let out = render_index(PAGE, &opts, "/jaeger");
        assert!(out.contains(r#"<base href="/jaeger/" x>"#));
        assert!(out.contains(r#"const JAEGER_CONFIG = {"a":"\u003cb\u003e","z":1};"#));
        assert!(out.contains(
            r#"const JAEGER_VERSION = {"gitCommit":"abc","gitVersion":"v1","buildDate":"d"};"#
        ));
        assert!(out.contains(
            r#"const JAEGER_STORAGE_CAPABILITIES = {"archiveStorage":true,"metricsStorage":false};"#
        ));
        assert!(out.contains(r#"const JAEGER_BACKEND_CAPABILITIES = {"archiveStorage":true,"metricsStorage":false,"searchWithoutServiceName":false,"aiAssistant":false};"#));
        assert!(out.contains("const X = 1;"));
    }

    #[test]
    fn js_config_replaces_marker_and_next_line() {
        let opts = UiOptions {
            config: Some(UiConfig::Js("function UIConfig() { return {}; }".into())),
            ..Default::default()
        };
        let out = render_index(PAGE, &opts, "");
        assert!(!out.contains("JAEGER_CONFIG_JS"));
        assert!(!out.contains("const X = 1;"));
        assert!(
            out.contains(
                "function UIConfig() { return {}; }\nconst JAEGER_CONFIG = DEFAULT_CONFIG;"
            )
        );
        assert!(out.contains(r#"<base href="/" x>"#));
    }

    #[test]
    fn embedded_placeholder_is_substituted() {
        let raw = String::from_utf8(jaeger_ui_assets::index_html().into_owned()).unwrap();
        let out = render_index(&raw, &UiOptions::default(), "");
        assert!(!out.contains("= DEFAULT_VERSION;"));
        assert!(!out.contains("= DEFAULT_BACKEND_CAPABILITIES;"));
        assert!(!out.contains("= DEFAULT_STORAGE_CAPABILITIES;"));
    }
}
