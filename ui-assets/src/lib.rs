//! The web UI, embedded into the binary with rust-embed.
//!
//! `web/` holds the built UI: `index.html` (with the placeholders the query service
//! substitutes: `JAEGER_CONFIG`, `JAEGER_VERSION`, `JAEGER_STORAGE_CAPABILITIES`,
//! `JAEGER_BACKEND_CAPABILITIES`, and the `// JAEGER_CONFIG_JS` line) and `static/`.
//! Until the full Jaeger UI is built in, a small page of our own stands in: service
//! search and a trace view (`static/app.js`), using relative URLs so that it works
//! under any base path.

use rust_embed::RustEmbed;

/// Every file under `web/`, by path relative to it (`index.html`, `static/app.js`).
#[derive(RustEmbed)]
#[folder = "web/"]
pub struct Assets;

/// The raw `index.html`, before substitutions.
pub fn index_html() -> std::borrow::Cow<'static, [u8]> {
    Assets::get("index.html")
        .expect("web/index.html is part of the crate")
        .data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_has_every_placeholder() {
        let html = String::from_utf8(index_html().into_owned()).unwrap();
        for p in [
            "JAEGER_CONFIG = DEFAULT_CONFIG;",
            "JAEGER_VERSION = DEFAULT_VERSION;",
            "JAEGER_STORAGE_CAPABILITIES = DEFAULT_STORAGE_CAPABILITIES;",
            "JAEGER_BACKEND_CAPABILITIES = DEFAULT_BACKEND_CAPABILITIES;",
            "// JAEGER_CONFIG_JS",
        ] {
            assert!(html.contains(p), "missing {p}");
        }
    }
}
