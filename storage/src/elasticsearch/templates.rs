//! Index names and index templates (storage spec §2.1, §2.2).

use serde_json::{Value, json};

/// The server family, which decides the template API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Elasticsearch 7: legacy `_template`.
    Es7,
    /// Elasticsearch 8 and 9: composable `_index_template`.
    Es8,
    /// OpenSearch 1–3: legacy `_template`.
    OpenSearch,
}

impl Flavor {
    /// From Jaeger's `version` setting: 7/8/9 Elasticsearch, 101–103 OpenSearch 1–3.
    pub fn from_config(version: u32, opensearch: bool) -> Option<Flavor> {
        match version {
            0 => None,
            _ if opensearch => Some(Flavor::OpenSearch),
            1..=7 => Some(Flavor::Es7),
            101..=199 => Some(Flavor::OpenSearch),
            _ => Some(Flavor::Es8),
        }
    }

    /// From the body of `GET /`.
    pub fn detect(root: &Value) -> Flavor {
        let v = &root["version"];
        let dist = v["distribution"].as_str().unwrap_or("");
        let tagline = root["tagline"].as_str().unwrap_or("");
        if dist.eq_ignore_ascii_case("opensearch") || tagline.contains("OpenSearch") {
            return Flavor::OpenSearch;
        }
        let major: u32 = v["number"]
            .as_str()
            .and_then(|n| n.split('.').next())
            .and_then(|m| m.parse().ok())
            .unwrap_or(8);
        if major <= 7 { Flavor::Es7 } else { Flavor::Es8 }
    }

    pub fn composable(self) -> bool {
        self == Flavor::Es8
    }
}

/// `p` → `p-`; a trailing `-` is not doubled; empty stays empty.
pub fn prefix_of(index_prefix: &str) -> String {
    if index_prefix.is_empty() || index_prefix.ends_with('-') {
        index_prefix.to_string()
    } else {
        format!("{index_prefix}-")
    }
}

/// A Go date layout (`2006-01-02`, `2006-01-02-15`, `2006.01.02`) as a chrono format.
pub fn chrono_layout(go: &str) -> String {
    go.replace("2006", "%Y")
        .replace("01", "%m")
        .replace("02", "%d")
        .replace("15", "%H")
}

/// Settings and mappings of one index kind.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexSettings {
    pub shards: u32,
    pub replicas: u32,
    /// Composable template priority (ES 8+).
    pub priority: i64,
}

impl Default for IndexSettings {
    fn default() -> Self {
        Self {
            shards: 5,
            replicas: 1,
            priority: 0,
        }
    }
}

fn kw() -> Value {
    json!({"type": "keyword", "ignore_above": 256})
}

fn kv_nested() -> Value {
    json!({
        "type": "nested",
        "dynamic": false,
        "properties": {"key": kw(), "value": kw(), "type": kw()}
    })
}

fn tag_maps(scope: bool) -> Value {
    let mut t = vec![
        json!({"span_tags_map": {"mapping": kw(), "path_match": "tag.*"}}),
        json!({"process_tags_map": {"mapping": kw(), "path_match": "process.tag.*"}}),
    ];
    if scope {
        t.push(json!({"scope_tags_map": {"mapping": kw(), "path_match": "scopeTag.*"}}));
    }
    Value::Array(t)
}

/// Jaeger's span mapping.
pub fn span_mapping() -> Value {
    json!({
        "dynamic_templates": tag_maps(true),
        "properties": {
            "traceID": kw(),
            "parentSpanID": kw(),
            "spanID": kw(),
            "operationName": kw(),
            "startTime": {"type": "long"},
            "startTimeMillis": {"type": "date", "format": "epoch_millis"},
            "duration": {"type": "long"},
            "flags": {"type": "integer"},
            "logs": {
                "type": "nested",
                "dynamic": false,
                "properties": {"timestamp": {"type": "long"}, "fields": kv_nested()}
            },
            "process": {
                "properties": {
                    "serviceName": kw(),
                    "tag": {"type": "object"},
                    "tags": kv_nested()
                }
            },
            "references": {
                "type": "nested",
                "dynamic": false,
                "properties": {
                    "refType": kw(),
                    "traceID": kw(),
                    "spanID": kw(),
                    "traceState": kw(),
                    "flags": {"type": "integer"},
                    "tags": kv_nested()
                }
            },
            "tag": {"type": "object"},
            "tags": kv_nested(),
            "scopeTag": {"type": "object"},
            "scopeTags": kv_nested()
        }
    })
}

/// Jaeger's service mapping.
pub fn service_mapping() -> Value {
    json!({
        "dynamic_templates": tag_maps(false),
        "properties": {"serviceName": kw(), "operationName": kw(), "spanKind": kw()}
    })
}

/// The template body for `pattern_base` (`<prefix>jaeger-span` …).
pub fn template_body(
    flavor: Flavor,
    pattern_base: &str,
    settings: &IndexSettings,
    mapping: Value,
) -> Value {
    let s = json!({
        "index.number_of_shards": settings.shards,
        "index.number_of_replicas": settings.replicas,
        "index.mapping.nested_fields.limit": 50,
        "index.requests.cache.enable": true,
    });
    if flavor.composable() {
        json!({
            "index_patterns": [format!("{pattern_base}-*")],
            "priority": settings.priority,
            "template": {"settings": s, "mappings": mapping}
        })
    } else {
        json!({
            "index_patterns": [format!("*{pattern_base}-*")],
            "settings": s,
            "mappings": mapping
        })
    }
}

/// The template endpoint for a template name.
pub fn template_path(flavor: Flavor, name: &str) -> String {
    if flavor.composable() {
        format!("/_index_template/{name}")
    } else {
        format!("/_template/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(prefix_of(""), "");
        assert_eq!(prefix_of("p"), "p-");
        assert_eq!(prefix_of("p-"), "p-");
    }

    #[test]
    fn layouts() {
        assert_eq!(chrono_layout("2006-01-02"), "%Y-%m-%d");
        assert_eq!(chrono_layout("2006-01-02-15"), "%Y-%m-%d-%H");
        assert_eq!(chrono_layout("2006.01.02"), "%Y.%m.%d");
    }

    #[test]
    fn version_detection() {
        let os = json!({"version": {"distribution": "opensearch", "number": "2.19.3"},
                        "tagline": "The OpenSearch Project: https://opensearch.org/"});
        assert_eq!(Flavor::detect(&os), Flavor::OpenSearch);
        let es7 = json!({"version": {"number": "7.10.2"}, "tagline": "You Know, for Search"});
        assert_eq!(Flavor::detect(&es7), Flavor::Es7);
        let es8 = json!({"version": {"number": "8.15.0"}, "tagline": "You Know, for Search"});
        assert_eq!(Flavor::detect(&es8), Flavor::Es8);
        assert_eq!(Flavor::from_config(102, false), Some(Flavor::OpenSearch));
        assert_eq!(Flavor::from_config(9, false), Some(Flavor::Es8));
        assert_eq!(Flavor::from_config(0, true), None);
    }

    #[test]
    fn legacy_and_composable_templates() {
        let s = IndexSettings::default();
        let legacy = template_body(Flavor::OpenSearch, "p-jaeger-span", &s, span_mapping());
        assert_eq!(legacy["index_patterns"][0], "*p-jaeger-span-*");
        assert_eq!(legacy["settings"]["index.number_of_shards"], 5);
        assert_eq!(legacy["mappings"]["properties"]["tags"]["type"], "nested");
        let comp = template_body(Flavor::Es8, "p-jaeger-span", &s, span_mapping());
        assert_eq!(comp["index_patterns"][0], "p-jaeger-span-*");
        assert_eq!(comp["priority"], 0);
        assert_eq!(
            comp["template"]["mappings"]["properties"]["startTimeMillis"]["format"],
            "epoch_millis"
        );
        assert_eq!(template_path(Flavor::Es7, "x"), "/_template/x");
        assert_eq!(template_path(Flavor::Es8, "x"), "/_index_template/x");
    }
}
