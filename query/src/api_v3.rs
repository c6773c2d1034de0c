//! `/api/v3/...`: the api_v3 HTTP gateway (query spec §2), OTLP/JSON bodies.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use http::Uri;
use jaeger_model::cow::SpanGroup;
use jaeger_model::otlp::ResourceSpans;
use jaeger_model::trace::span_count;
use jaeger_model::{gojson, otlp_json};
use jaeger_storage::OperationQuery;
use serde::Serialize;

use crate::error::{ApiError, V3Error, json_response};
use crate::params::{self, Query};
use crate::summary::{TraceSummary, summarize};
use crate::{App, on_query_thread, path_segment};

type Result<T = Response, E = V3Error> = std::result::Result<T, E>;

fn json<T: Serialize>(v: &T) -> Result {
    let body = gojson::to_vec(v, false).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json_response(body))
}

/// `GET /api/v3/services`.
pub async fn services(State(app): State<Arc<App>>) -> Result {
    #[derive(Serialize)]
    struct Body {
        services: Vec<String>,
    }
    let services = app.service.reader().get_services().await?;
    json(&Body { services })
}

/// `GET /api/v3/operations?service=&spanKind=`.
pub async fn operations(State(app): State<Arc<App>>, uri: Uri) -> Result {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Op {
        name: String,
        span_kind: String,
    }
    #[derive(Serialize)]
    struct Body {
        operations: Vec<Op>,
    }
    let q = Query::parse(uri.query());
    let kind = q.get_any(&["spanKind", "span_kind"]);
    let ops = app
        .service
        .reader()
        .get_operations(&OperationQuery {
            service_name: q.get("service").to_string(),
            span_kind: (!kind.is_empty()).then(|| kind.to_string()),
        })
        .await?;
    let operations = ops
        .into_iter()
        .map(|o| Op {
            name: o.name,
            // The UI's schema requires a string kind, so Jaeger reports "internal".
            span_kind: if o.span_kind.is_empty() {
                "internal".into()
            } else {
                o.span_kind
            },
        })
        .collect();
    json(&Body { operations })
}

/// `GET /api/v3/traces/{trace_id}`.
pub async fn get_trace(State(app): State<Arc<App>>, uri: Uri) -> Result {
    let q = Query::parse(uri.query());
    let p = params::v3_get_trace(&path_segment(&uri, 4), &q)?;
    let service = app.service.clone();
    // Read, adjusters, JSON and the free on one thread, as `GET /api/traces/{id}`.
    let body = on_query_thread(move |rt| {
        let stored = match rt.block_on(service.get_trace_shared(p.params)) {
            Ok(Some(t)) => t,
            Ok(None) => return (Err(V3Error::no_traces()), None),
            Err(e) => return (Err(e.into()), None),
        };
        // As `GET /api/traces/{id}`: only the spans an adjuster changes are copied.
        let (body, leftovers) =
            service.write_adjusted(stored, p.raw, |spans| traces_body(&[spans]));
        (body, Some(leftovers))
    })
    .await??;
    Ok(json_response(body))
}

/// `GET /api/v3/traces`: every matching trace, concatenated into one `TracesData`.
pub async fn find_traces(State(app): State<Arc<App>>, uri: Uri) -> Result {
    let q = Query::parse(uri.query());
    let (query, raw) = params::v3_search(&q)?;
    let service = app.service.clone();
    let body = on_query_thread(
        move |rt| match rt.block_on(service.find_traces(&query, raw)) {
            Ok(traces) => {
                let parts: Vec<&[ResourceSpans]> =
                    traces.iter().map(|t| &t.resource_spans[..]).collect();
                (traces_body(&parts), Some(traces))
            }
            Err(e) => (Err(e.into()), None),
        },
    )
    .await??;
    Ok(json_response(body))
}

/// The `TracesData` of `traces`; "trace not found" when there is no span at all.
fn traces_body<G: SpanGroup>(traces: &[&[G]]) -> Result<String> {
    if traces.iter().all(|t| span_count(t) == 0) {
        return Err(V3Error::no_traces());
    }
    let mut out = String::from("{\"result\":");
    otlp_json::write_traces_data(&mut out, traces.iter().flat_map(|t| t.iter()));
    out.push('}');
    Ok(out)
}

/// `GET /api/v3/trace-summaries`: same search; adjusters always run.
pub async fn trace_summaries(State(app): State<Arc<App>>, uri: Uri) -> Result {
    #[derive(Serialize)]
    struct Body {
        summaries: Vec<TraceSummary>,
    }
    let q = Query::parse(uri.query());
    let (query, _raw) = params::v3_search(&q)?;
    let service = app.service.clone();
    let summaries =
        on_query_thread(
            move |rt| match rt.block_on(service.find_traces(&query, false)) {
                Ok(traces) => {
                    let summaries: Vec<TraceSummary> = traces
                        .iter()
                        .filter(|t| !t.is_empty())
                        .map(summarize)
                        .collect();
                    (Ok::<_, V3Error>(summaries), Some(traces))
                }
                Err(e) => (Err(e.into()), None),
            },
        )
        .await??;
    json(&Body { summaries })
}
