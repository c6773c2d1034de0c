//! The fixed demonstration data Jaeger serves on `/api/quality-metrics` and
//! `/api/deep-dependencies` (query spec §1.11), so that the UI's Trace Quality and
//! deep-dependency views have something to show. Neither is computed from stored traces;
//! both are answered without the envelope, and their query parameters other than the
//! deep-dependencies focal `service` are ignored.

use std::collections::BTreeMap;

use axum::response::Response;
use http::Uri;
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{ApiError, json_response};
use crate::params::Query;

/// The focal service of the deep-dependency sample when none is given.
pub const DEFAULT_FOCAL_SERVICE: &str = "customer";

// ---------------------------------------------------------------------------------
// Quality metrics

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityMetrics {
    pub trace_quality_documentation_link: String,
    pub banner_text: BannerText,
    pub scores: Vec<Score>,
    pub metrics: Vec<Metric>,
    pub clients: Vec<ClientVersion>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BannerText {
    pub value: String,
    /// CSS properties (sorted keys, as Go writes a map).
    pub styling: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub key: String,
    pub label: String,
    pub max: u32,
    pub value: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    pub name: String,
    pub category: String,
    pub description: String,
    pub metric_documentation_link: String,
    pub metric_weight: f64,
    pub pass_count: u32,
    pub pass_examples: Vec<Example>,
    pub failure_count: u32,
    pub failure_examples: Vec<Example>,
    pub exemption_count: u32,
    pub exemption_examples: Vec<Example>,
    pub details: Vec<Detail>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    #[serde(rename = "spanIDs")]
    pub span_ids: Vec<String>,
    #[serde(rename = "traceID")]
    pub trace_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detail {
    pub description: String,
    pub header: String,
    pub columns: Vec<ColumnDef>,
    pub rows: Vec<BTreeMap<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnDef {
    pub key: String,
    pub label: String,
    pub prevent_sort: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub styling: Option<BTreeMap<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientVersion {
    pub version: String,
    pub min_version: String,
    pub count: u32,
    pub examples: Vec<Example>,
}

fn s(v: &str) -> String {
    v.to_string()
}

fn map(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn example(trace_id: &str, span_ids: &[&str]) -> Example {
    Example {
        span_ids: span_ids.iter().map(|x| x.to_string()).collect(),
        trace_id: s(trace_id),
    }
}

/// The sample quality report: made-up numbers, labelled as such in the banner.
pub fn quality_metrics_sample() -> QualityMetrics {
    QualityMetrics {
        trace_quality_documentation_link: s(
            "https://github.com/jaegertracing/jaeger-analytics-java#trace-quality-metrics",
        ),
        banner_text: BannerText {
            value: s("🛑 Made up data, for demonstration only!🛑"),
            styling: map(&[("color", json!("blue")), ("fontWeight", json!("bold"))]),
        },
        scores: vec![
            Score {
                key: s("coverage"),
                label: s("Instrumentation Coverage"),
                max: 100,
                value: 90,
            },
            Score {
                key: s("quality"),
                label: s("Trace Quality"),
                max: 100,
                value: 85,
            },
        ],
        metrics: vec![
            Metric {
                name: s("Span Completeness"),
                category: s("coverage"),
                description: s("Measures the completeness of spans in traces"),
                metric_documentation_link: s("https://example.com/span-completeness-docs"),
                metric_weight: 0.5,
                pass_count: 150,
                pass_examples: vec![example("trace1", &["span1", "span2"])],
                failure_count: 10,
                failure_examples: vec![example("trace2", &["span3"])],
                exemption_count: 5,
                exemption_examples: vec![example("trace3", &["span4"])],
                details: vec![Detail {
                    description: s("Detailed breakdown of span completeness"),
                    header: s("Span Completeness Details"),
                    columns: vec![
                        ColumnDef {
                            key: s("service"),
                            label: s("Service"),
                            prevent_sort: false,
                            styling: None,
                        },
                        ColumnDef {
                            key: s("completeness"),
                            label: s("Completeness"),
                            prevent_sort: false,
                            styling: Some(map(&[("textAlign", json!("right"))])),
                        },
                    ],
                    rows: vec![
                        map(&[
                            ("service", json!("service1")),
                            ("completeness", json!("95%")),
                        ]),
                        map(&[
                            ("service", json!("service2")),
                            ("completeness", json!("88%")),
                        ]),
                    ],
                }],
            },
            Metric {
                name: s("Trace Quality"),
                category: s("quality"),
                description: s("Measures the overall quality of traces"),
                metric_documentation_link: s("https://example.com/trace-quality-docs"),
                metric_weight: 0.5,
                pass_count: 140,
                pass_examples: vec![example("trace4", &["span5"])],
                failure_count: 20,
                failure_examples: vec![example("trace5", &["span6", "span7"])],
                exemption_count: 0,
                exemption_examples: vec![],
                details: vec![Detail {
                    description: s("Trace quality per service"),
                    header: s("Trace Quality Details"),
                    columns: vec![
                        ColumnDef {
                            key: s("service"),
                            label: s("Service"),
                            prevent_sort: false,
                            styling: None,
                        },
                        ColumnDef {
                            key: s("score"),
                            label: s("Score"),
                            prevent_sort: true,
                            styling: None,
                        },
                    ],
                    rows: vec![
                        map(&[("service", json!("service1")), ("score", json!(92))]),
                        map(&[("service", json!("service2")), ("score", json!(78))]),
                    ],
                }],
            },
        ],
        clients: vec![ClientVersion {
            version: s("1.0.0"),
            min_version: s("0.9.0"),
            count: 10,
            examples: vec![example("trace6", &["span8"])],
        }],
    }
}

/// `GET /api/quality-metrics` (`hours` and `service` are ignored).
pub(crate) async fn quality_metrics(uri: Uri) -> Result<Response, ApiError> {
    let q = Query::parse(uri.query());
    write(&quality_metrics_sample(), q.pretty())
}

// ---------------------------------------------------------------------------------
// Deep dependencies

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeepDependencies {
    pub dependencies: Vec<DependencyPath>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DependencyPath {
    pub path: Vec<PathEntry>,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathEntry {
    pub service: String,
    pub operation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribute {
    pub key: String,
    pub value: String,
}

/// The sample call paths through `focal` (upstream callers, then downstream callees).
pub fn deep_dependencies_sample(focal: &str) -> DeepDependencies {
    let entry = |service: &str, operation: &str| PathEntry {
        service: s(service),
        operation: s(operation),
    };
    let exemplar = || {
        vec![Attribute {
            key: s("exemplar_trace_id"),
            value: s("trace123"),
        }]
    };
    DeepDependencies {
        dependencies: vec![
            DependencyPath {
                path: vec![
                    entry("sample-serviceA", "sample-opA"),
                    entry(focal, "sample-opB"),
                ],
                attributes: exemplar(),
            },
            DependencyPath {
                path: vec![
                    entry("sample-serviceA", "sample-opA"),
                    entry(focal, "sample-opB"),
                    entry("sample-serviceB", "sample-opC"),
                ],
                attributes: exemplar(),
            },
            DependencyPath {
                path: vec![
                    entry(focal, "sample-opB"),
                    entry("sample-serviceC", "sample-opD"),
                ],
                attributes: exemplar(),
            },
        ],
    }
}

/// `GET /api/deep-dependencies?service=`.
pub(crate) async fn deep_dependencies(uri: Uri) -> Result<Response, ApiError> {
    let q = Query::parse(uri.query());
    let focal = match q.get("service") {
        "" => DEFAULT_FOCAL_SERVICE,
        s => s,
    };
    write(&deep_dependencies_sample(focal), q.pretty())
}

fn write<T: Serialize>(v: &T, pretty: bool) -> Result<Response, ApiError> {
    let body = jaeger_model::gojson::to_vec(v, pretty).map_err(|e| {
        ApiError::Internal(format!(
            "failed writing HTTP response: failed marshalling HTTP response to JSON: {e}"
        ))
    })?;
    Ok(json_response(body))
}
