//! Trace summaries for `/api/v3/trace-summaries`, computed from full traces (Jaeger's
//! fallback when storage has no native summaries).

use std::collections::{BTreeMap, HashSet};

use jaeger_model::otlp::trace::status::StatusCode;
use jaeger_model::{SpanId, Trace};
use serde::Serialize;

/// One summary, serialized as jsonpb does: 64-bit numbers as strings, zero numbers
/// and empty strings omitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceSummary {
    pub trace_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub root_service_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub root_operation_name: String,
    #[serde(skip_serializing_if = "is_zero_str")]
    pub min_start_time_unix_nano: String,
    #[serde(skip_serializing_if = "is_zero_str")]
    pub max_end_time_unix_nano: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub span_count: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub error_span_count: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub orphan_span_count: u32,
    pub services: Vec<ServiceSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSummary {
    pub name: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub span_count: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub error_span_count: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn is_zero_str(v: &String) -> bool {
    v == "0"
}

/// Root: the parentless span with the earliest start. Errors: status ERROR. Orphans:
/// spans whose parent is not in the trace. Services sorted by name.
pub fn summarize(trace: &Trace) -> TraceSummary {
    let ids: HashSet<SpanId> = trace.spans().map(|s| s.span_id()).collect();
    let mut root: Option<(u64, &str, &str)> = None;
    let (mut min_start, mut max_end) = (u64::MAX, 0u64);
    let (mut spans, mut errors, mut orphans) = (0u32, 0u32, 0u32);
    let mut services: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for s in trace.spans() {
        let start = s.span.start_time_unix_nano;
        min_start = min_start.min(start);
        max_end = max_end.max(s.span.end_time_unix_nano);
        spans += 1;
        let is_error = s
            .span
            .status
            .as_ref()
            .is_some_and(|st| st.code == StatusCode::Error as i32);
        let svc = services.entry(s.service_name()).or_default();
        svc.0 += 1;
        if is_error {
            errors += 1;
            svc.1 += 1;
        }
        let parent = s.parent_span_id();
        if parent.is_zero() {
            if root.is_none_or(|(t, _, _)| start < t) {
                root = Some((start, s.service_name(), s.span.name.as_str()));
            }
        } else if !ids.contains(&parent) {
            orphans += 1;
        }
    }
    let (_, root_service, root_op) = root.unwrap_or((0, "", ""));
    TraceSummary {
        trace_id: trace.trace_id().unwrap_or_default().to_hex(),
        root_service_name: root_service.to_string(),
        root_operation_name: root_op.to_string(),
        min_start_time_unix_nano: if spans == 0 { 0 } else { min_start }.to_string(),
        max_end_time_unix_nano: max_end.to_string(),
        span_count: spans,
        error_span_count: errors,
        orphan_span_count: orphans,
        services: services
            .into_iter()
            .map(|(name, (span_count, error_span_count))| ServiceSummary {
                name: name.to_string(),
                span_count,
                error_span_count,
            })
            .collect(),
    }
}
