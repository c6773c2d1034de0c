//! Serving the UI: the derived `index.html` (query spec §3.3) for every path outside
//! `/api/` and `/static/`, and the static files, embedded or from a directory
//! (`--query.static-files`). Content-hashed assets are cached for a year; index.html
//! and everything else is revalidated.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
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

/// A UI option that cannot be honoured; start-up should stop on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UiError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Assets(String),
}

impl UiConfig {
    /// Reads and checks a UI config file (blocking; for start-up).
    pub fn load(path: &Path) -> Result<UiConfig, UiError> {
        let bytes = std::fs::read(path).map_err(|e| read_error(path, &e))?;
        UiConfig::parse(path, &bytes)
    }

    /// Checks a UI config file's content; the extension says how to read it.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<UiConfig, UiError> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let shown = path.display();
        match ext.as_str() {
            "json" => {
                let text = String::from_utf8_lossy(bytes);
                let parse_err = |m: String| {
                    UiError::Config(format!("cannot parse UI config file {shown}: {m}"))
                };
                let v: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| parse_err(crate::params::go_json_syntax_error(&text, &e)))?;
                match v {
                    serde_json::Value::Object(o) => Ok(UiConfig::Json(o)),
                    serde_json::Value::Null => Ok(UiConfig::Json(Default::default())),
                    other => Err(parse_err(format!(
                        "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                        crate::params::json_kind(&other)
                    ))),
                }
            }
            "js" => {
                let text = String::from_utf8_lossy(bytes).trim().to_string();
                if !defines_ui_config(&text) {
                    return Err(UiError::Config(format!(
                        "UI config file must define function UIConfig(): {shown}"
                    )));
                }
                Ok(UiConfig::Js(text))
            }
            _ => Err(UiError::Config(format!(
                "unrecognized UI config file format, expecting .js or .json file: {shown}"
            ))),
        }
    }
}

/// Go's `os` error text: `open <path>: no such file or directory`.
fn read_error(path: &Path, e: &std::io::Error) -> UiError {
    UiError::Config(format!(
        "cannot read UI config file {}: open {}: {}",
        path.display(),
        path.display(),
        go_io_message(e)
    ))
}

fn go_io_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut c = text.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The regex Jaeger checks a `.js` config with: `function\s+UIConfig(\s)?\(\s?\)(\s)?{`.
fn defines_ui_config(text: &str) -> bool {
    let ws = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c);
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find("function") {
        let mut p = from + i + "function".len();
        from = p;
        let ws_start = p;
        while p < b.len() && ws(b[p]) {
            p += 1;
        }
        if p == ws_start || !text[p..].starts_with("UIConfig") {
            continue;
        }
        p += "UIConfig".len();
        // `(\s)?\(\s?\)(\s)?{`: each optional whitespace is at most one character.
        let opt_ws = |p: usize| if p < b.len() && ws(b[p]) { p + 1 } else { p };
        let expect = |p: usize, c: u8| (p < b.len() && b[p] == c).then_some(p + 1);
        let matched = Some(opt_ws(p))
            .and_then(|p| expect(p, b'('))
            .map(opt_ws)
            .and_then(|p| expect(p, b')'))
            .map(opt_ws)
            .and_then(|p| expect(p, b'{'));
        if matched.is_some() {
            return true;
        }
    }
    false
}

/// A UI config file, re-read while serving (at most every [`Self::RELOAD_INTERVAL`]);
/// on a failed re-read the previous content stays.
#[derive(Debug, Clone, PartialEq)]
pub struct UiConfigFile {
    path: PathBuf,
    loaded: UiConfig,
    reload_every: Duration,
}

impl UiConfigFile {
    pub const RELOAD_INTERVAL: Duration = Duration::from_secs(10);

    /// Loads the file once; an error here should stop start-up, as in Jaeger.
    pub fn load(path: impl Into<PathBuf>) -> Result<Self, UiError> {
        let path = path.into();
        let loaded = UiConfig::load(&path)?;
        Ok(UiConfigFile {
            path,
            loaded,
            reload_every: Self::RELOAD_INTERVAL,
        })
    }

    pub fn with_reload_interval(mut self, every: Duration) -> Self {
        self.reload_every = every;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn config(&self) -> &UiConfig {
        &self.loaded
    }
}

/// Where the UI comes from: the build embedded in the binary, or a directory
/// (`--query.static-files`) holding `index.html` and `static/`.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum UiAssets {
    #[default]
    Embedded,
    Dir(StaticDir),
}

#[derive(Debug, Clone, PartialEq)]
pub struct StaticDir {
    /// Canonical path of the directory.
    root: PathBuf,
    /// `index.html`, read once at start-up.
    index_html: String,
}

impl UiAssets {
    /// Serves the UI from `dir`; its `index.html` is read now, once.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<UiAssets, UiError> {
        let dir = dir.as_ref();
        let root = std::fs::canonicalize(dir).map_err(|e| {
            UiError::Assets(format!(
                "cannot open UI assets directory {}: {}",
                dir.display(),
                go_io_message(&e)
            ))
        })?;
        let index = std::fs::read(root.join("index.html")).map_err(|e| {
            UiError::Assets(format!(
                "cannot load index.html: open {}: {}",
                root.join("index.html").display(),
                go_io_message(&e)
            ))
        })?;
        Ok(UiAssets::Dir(StaticDir {
            root,
            index_html: String::from_utf8_lossy(&index).into_owned(),
        }))
    }

    /// The raw `index.html`, before substitutions.
    pub fn index_html(&self) -> String {
        match self {
            UiAssets::Embedded => {
                String::from_utf8_lossy(&jaeger_ui_assets::index_html()).into_owned()
            }
            UiAssets::Dir(d) => d.index_html.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct UiOptions {
    pub version: VersionInfo,
    pub capabilities: Capabilities,
    /// A fixed UI config.
    pub config: Option<UiConfig>,
    /// A UI config file, re-read while serving; takes precedence over `config`.
    pub config_file: Option<UiConfigFile>,
    pub assets: UiAssets,
}

/// The derived index.html: rendered once, and again when the UI config file changes.
pub(crate) struct IndexPage {
    raw: String,
    opts: UiOptions,
    base: String,
    state: Mutex<IndexState>,
}

struct IndexState {
    checked: Instant,
    config: Option<UiConfig>,
    page: Bytes,
}

impl IndexPage {
    pub fn new(opts: UiOptions, base: &str) -> Self {
        let raw = opts.assets.index_html();
        let config = match &opts.config_file {
            Some(f) => Some(f.loaded.clone()),
            None => opts.config.clone(),
        };
        let page = Bytes::from(render_with(&raw, &opts, config.as_ref(), base));
        IndexPage {
            raw,
            opts,
            base: base.to_string(),
            state: Mutex::new(IndexState {
                checked: Instant::now(),
                config,
                page,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IndexState> {
        // The state is replaced whole, so a poisoned lock still holds a valid page.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The page to serve now, re-reading the config file when it is due.
    pub async fn page(&self) -> Bytes {
        let Some(file) = &self.opts.config_file else {
            return self.lock().page.clone();
        };
        let due = {
            let mut st = self.lock();
            let due = st.checked.elapsed() >= file.reload_every;
            if due {
                // One request re-reads; the others keep serving the current page.
                st.checked = Instant::now();
            }
            due
        };
        if due {
            let loaded = match tokio::fs::read(&file.path).await {
                Ok(bytes) => UiConfig::parse(&file.path, &bytes),
                Err(e) => Err(read_error(&file.path, &e)),
            };
            match loaded {
                Ok(cfg) => {
                    let changed = self.lock().config.as_ref() != Some(&cfg);
                    if changed {
                        let page =
                            Bytes::from(render_with(&self.raw, &self.opts, Some(&cfg), &self.base));
                        let mut st = self.lock();
                        st.config = Some(cfg);
                        st.page = page;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "keeping the previous UI config"),
            }
        }
        self.lock().page.clone()
    }
}

fn render_with(raw: &str, opts: &UiOptions, config: Option<&UiConfig>, base: &str) -> String {
    let opts = UiOptions {
        version: opts.version.clone(),
        capabilities: opts.capabilities.clone(),
        config: config.cloned(),
        config_file: None,
        assets: UiAssets::Embedded,
    };
    render_index(raw, &opts, base)
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

/// `Cache-Control` of content-hashed assets: their name changes with their content.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of everything else: revalidate every time.
pub const CACHE_NO_CACHE: &str = "no-cache";

/// The SPA fallback: 200 with the derived page, for any method; never cached, so a new
/// UI build or config is picked up at once.
pub fn index_response(page: &Bytes) -> Response {
    let mut resp = Response::new(Body::from(page.clone()));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_NO_CACHE),
    );
    resp
}

/// The segments of a `/static/` path, or `None` when one could leave the directory
/// (`..`, or a character no file name under it may hold). `rel` is already unescaped,
/// so `%2e%2e` and `%2f` arrive here as `..` and `/`.
fn safe_segments(rel: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => return None,
            s if s.contains(['\\', '\0']) => return None,
            s => out.push(s),
        }
    }
    Some(out)
}

/// `GET /static/<rel>` as Go's `http.FileServer`: directories list their entries,
/// `…/index.html` redirects to `./`, a directory without its slash redirects to it.
pub(crate) async fn static_response(assets: &UiAssets, rel: &str, req: &HeaderMap) -> Response {
    let Some(segments) = safe_segments(rel) else {
        return not_found_text();
    };
    if rel.ends_with("/index.html") || rel == "index.html" {
        return redirect("./");
    }
    let mut resp = match assets {
        UiAssets::Embedded => embedded_static(rel, &segments),
        UiAssets::Dir(d) => dir_static(d, rel, &segments, req).await,
    };
    if resp.status().is_success() && !resp.headers().contains_key(header::CACHE_CONTROL) {
        let policy = if resp.headers().get(header::CONTENT_TYPE)
            != Some(&HeaderValue::from_static("text/html; charset=utf-8"))
            && is_hashed_asset(rel)
        {
            CACHE_IMMUTABLE
        } else {
            CACHE_NO_CACHE
        };
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    resp
}

fn embedded_static(rel: &str, segments: &[&str]) -> Response {
    let is_dir_path = rel.is_empty() || rel.ends_with('/');
    let joined = segments.join("/");
    let full = if joined.is_empty() {
        "static".to_string()
    } else {
        format!("static/{joined}")
    };
    if !is_dir_path && let Some(file) = Assets::get(&full) {
        return file_response(file.data.into_owned(), rel);
    }
    let dir = format!("{full}/");
    let entries = list_embedded_dir(&dir);
    if entries.is_empty() && !(joined.is_empty() && Assets::iter().next().is_some()) {
        return not_found_text();
    }
    if !is_dir_path {
        let base = rel.rsplit('/').next().unwrap_or(rel);
        return redirect(&format!("{base}/"));
    }
    if let Some(index) = Assets::get(&format!("{dir}index.html")) {
        return html_response(index.data.into_owned());
    }
    listing(entries)
}

async fn dir_static(d: &StaticDir, rel: &str, segments: &[&str], req: &HeaderMap) -> Response {
    let static_root = d.root.join("static");
    let mut path = static_root.clone();
    for s in segments {
        path.push(s);
    }
    // Symlinks must not lead out of the directory either.
    let (Ok(canon), Ok(canon_root)) = (
        tokio::fs::canonicalize(&path).await,
        tokio::fs::canonicalize(&static_root).await,
    ) else {
        return not_found_text();
    };
    if !canon.starts_with(&canon_root) {
        return not_found_text();
    }
    let Ok(meta) = tokio::fs::metadata(&canon).await else {
        return not_found_text();
    };
    let is_dir_path = rel.is_empty() || rel.ends_with('/');
    if meta.is_dir() {
        if !is_dir_path {
            let base = rel.rsplit('/').next().unwrap_or(rel);
            return redirect(&format!("{base}/"));
        }
        if let Ok(index) = tokio::fs::read(canon.join("index.html")).await {
            return html_response(index);
        }
        let Ok(mut rd) = tokio::fs::read_dir(&canon).await else {
            return not_found_text();
        };
        let mut names = Vec::new();
        while let Ok(Some(e)) = rd.next_entry().await {
            let mut name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().await.is_ok_and(|t| t.is_dir()) {
                name.push('/');
            }
            names.push(name);
        }
        names.sort();
        return listing(names);
    }
    if is_dir_path {
        // FileServer redirects `file/` to `../file`.
        let base = rel.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        return redirect(&format!("../{base}"));
    }
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64);
    if let (Some(m), Some(since)) = (
        modified,
        req.get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date),
    ) && m <= since
    {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(&http_date(m)) {
            r.headers_mut().insert(header::LAST_MODIFIED, v);
        }
        return r;
    }
    let Ok(data) = tokio::fs::read(&canon).await else {
        return not_found_text();
    };
    let mut resp = file_response(data, rel);
    if let Some(m) = modified
        && let Ok(v) = HeaderValue::from_str(&http_date(m))
    {
        resp.headers_mut().insert(header::LAST_MODIFIED, v);
    }
    resp
}

fn file_response(data: Vec<u8>, rel: &str) -> Response {
    let mut resp = Response::new(Body::from(data));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(rel)),
    );
    resp
}

fn html_response(data: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(data));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn listing(entries: Vec<String>) -> Response {
    let mut html = String::from(
        "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n",
    );
    for name in entries {
        let esc = html_escape(&name);
        html.push_str(&format!("<a href=\"{esc}\">{esc}</a>\n"));
    }
    html.push_str("</pre>\n");
    html_response(html.into_bytes())
}

/// Names directly under `dir` (which ends with `/`), sorted; directories get a `/`.
fn list_embedded_dir(dir: &str) -> Vec<String> {
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

/// A build tool's content-hashed file name: Vite's `name-<8 chars>.ext` (base64url
/// alphabet) or webpack's `name.<hex>.ext`. Only these are cached for a year.
pub fn is_hashed_asset(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let Some((stem, _ext)) = name.rsplit_once('.') else {
        return false;
    };
    let b = stem.as_bytes();
    // Vite/Rollup: the last 8 characters, after a `-` or `.`.
    if b.len() > 9 && matches!(b[b.len() - 9], b'-' | b'.') {
        let hash = &stem[stem.len() - 8..];
        let alphabet = hash
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
        let plain_word = hash.bytes().all(|c| c.is_ascii_lowercase());
        if alphabet && !plain_word {
            return true;
        }
    }
    // webpack: a dot-separated hex segment of 8 or more digits.
    stem.split('.').skip(1).any(|seg| {
        seg.len() >= 8
            && seg.bytes().all(|c| c.is_ascii_hexdigit())
            && seg.bytes().any(|c| c.is_ascii_digit())
    })
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

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) of seconds since the epoch.
fn http_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Seconds since the epoch of an IMF-fixdate; `None` for anything else.
fn parse_http_date(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split(' ').collect();
    let [_, day, mon, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let d: i64 = day.parse().ok()?;
    let m = MONTHS.iter().position(|x| x == mon)? as i64 + 1;
    let y: i64 = year.parse().ok()?;
    let t: Vec<i64> = time
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [hh, mm, ss] = t.as_slice() else {
        return None;
    };
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
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
            ..Default::default()
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

    #[test]
    fn ui_config_files() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let p = write("c.json", r#"{"menu":[{"label":"x"}]}"#);
        assert!(matches!(UiConfig::load(&p), Ok(UiConfig::Json(m)) if m.contains_key("menu")));
        let p = write("c.JSON", "null");
        assert_eq!(UiConfig::load(&p), Ok(UiConfig::Json(Default::default())));
        let p = write("bad.json", "{x");
        assert_eq!(
            UiConfig::load(&p).unwrap_err().to_string(),
            format!(
                "cannot parse UI config file {}: invalid character 'x' looking for beginning of object key string",
                p.display()
            )
            .replace("beginning of object key string", "beginning of value")
        );
        let p = write("arr.json", "[]");
        assert_eq!(
            UiConfig::load(&p).unwrap_err().to_string(),
            format!(
                "cannot parse UI config file {}: json: cannot unmarshal array into Go value of type map[string]interface {{}}",
                p.display()
            )
        );
        let p = write("c.js", "\n  function UIConfig(){ return {a: 1}; }\n\n");
        assert_eq!(
            UiConfig::load(&p),
            Ok(UiConfig::Js("function UIConfig(){ return {a: 1}; }".into()))
        );
        let p = write("nofn.js", "const x = 1;");
        assert_eq!(
            UiConfig::load(&p).unwrap_err().to_string(),
            format!(
                "UI config file must define function UIConfig(): {}",
                p.display()
            )
        );
        let p = write("c.yaml", "a: 1");
        assert_eq!(
            UiConfig::load(&p).unwrap_err().to_string(),
            format!(
                "unrecognized UI config file format, expecting .js or .json file: {}",
                p.display()
            )
        );
        let missing = dir.path().join("missing.json");
        assert_eq!(
            UiConfig::load(&missing).unwrap_err().to_string(),
            format!(
                "cannot read UI config file {0}: open {0}: no such file or directory",
                missing.display()
            )
        );
    }

    #[test]
    fn ui_config_function_pattern() {
        for ok in [
            "function UIConfig(){",
            "function  UIConfig () {",
            "function\tUIConfig( ) {",
            "x; function UIConfig() { return {}; }",
            "function foo() {} function UIConfig(){}",
        ] {
            assert!(defines_ui_config(ok), "{ok}");
        }
        for bad in [
            "functionUIConfig(){",
            "function UIConfig  (){",
            "function UIConfig(  ){",
            "function UIConfig(a){",
            "function UIConfig()",
        ] {
            assert!(!defines_ui_config(bad), "{bad}");
        }
    }

    #[test]
    fn hashed_asset_names() {
        for yes in [
            "index-D2xH8Y_p.js",
            "static/vendor-BKa1Xbcj.css",
            "index-a-Bc12_x.js",
            "main.3f9a2b1c.chunk.js",
            "logo.0123456789abcdef0123.svg",
        ] {
            assert!(is_hashed_asset(yes), "{yes}");
        }
        for no in [
            "favicon.ico",
            "react-datepicker.css",
            "Roboto-Regular.woff2",
            "jquery-3.6.0.min.js",
            "app-abcdefgh.js",
            "index.html",
            "noext",
        ] {
            assert!(!is_hashed_asset(no), "{no}");
        }
    }

    #[test]
    fn http_dates() {
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        for t in [0, 951_782_400, 1_709_209_845, 4_102_444_800] {
            assert_eq!(parse_http_date(&http_date(t)), Some(t));
        }
    }

    #[test]
    fn static_paths_that_could_escape_are_refused() {
        assert_eq!(safe_segments("a/b.js"), Some(vec!["a", "b.js"]));
        assert_eq!(safe_segments("./a//b"), Some(vec!["a", "b"]));
        assert_eq!(safe_segments("../etc/passwd"), None);
        assert_eq!(safe_segments("a/../../x"), None);
        assert_eq!(safe_segments("a\\..\\x"), None);
        assert_eq!(safe_segments("a\0"), None);
    }
}
