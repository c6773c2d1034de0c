//! The web UI, embedded into the binary with rust-embed.
//!
//! `web/` holds the built UI: `index.html` (with the placeholders the query service
//! substitutes: `JAEGER_CONFIG`, `JAEGER_VERSION`, `JAEGER_STORAGE_CAPABILITIES`,
//! `JAEGER_BACKEND_CAPABILITIES`, and the `// JAEGER_CONFIG_JS` line) and `static/`.
//! The UI is plain JavaScript ES modules and CSS with no build step and no runtime
//! packages (docs/ui.md): what is committed here is what is served. Every URL in it is
//! relative to `<base href>`, so it works under any `--query.base-path`.

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

    /// Every module the entry point imports (transitively) is embedded, and nothing
    /// is loaded from another origin.
    #[test]
    fn modules_resolve_and_stay_local() {
        let mut todo = vec!["static/app.js".to_string()];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(path) = todo.pop() {
            if !seen.insert(path.clone()) {
                continue;
            }
            let file = Assets::get(&path).unwrap_or_else(|| panic!("{path} is not embedded"));
            let text = String::from_utf8(file.data.into_owned()).unwrap();
            for line in text.lines() {
                let Some(rest) = line.trim_start().strip_prefix("import ") else {
                    continue;
                };
                let Some(spec) = rest.rsplit(" from ").next() else {
                    continue;
                };
                let spec = spec.trim().trim_end_matches(';').trim_matches('\'');
                let name = spec
                    .strip_prefix("./")
                    .unwrap_or_else(|| panic!("{path} imports {spec}: not a local module"));
                todo.push(format!("static/{name}"));
            }
        }
        assert!(seen.len() >= 6, "{seen:?}");
        for f in Assets::iter() {
            let text = String::from_utf8_lossy(&Assets::get(&f).unwrap().data).into_owned();
            for bad in [
                "https://fonts.",
                "<script src=\"http",
                "@import url(http",
                "cdn.",
            ] {
                assert!(!text.contains(bad), "{f} loads from another origin: {bad}");
            }
        }
    }
}
