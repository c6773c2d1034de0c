//! `/api/...`: the UI JSON API (query spec §1). Handlers parse with [`crate::params`],
//! read through the query service, convert with `jaeger_model::ui`, and answer through
//! [`Envelope`] or [`ApiError`].

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::Uri;
use jaeger_model::cow::SpanGroup;
use jaeger_model::otlp::ResourceSpans;
use jaeger_model::{gojson, otlp_json_decode, ui};
use jaeger_storage::OperationQuery;

use crate::error::{ApiError, Envelope, StructuredError, json_response};
use crate::params::{self, Dependencies, GetTrace, Query, Search};
use crate::{App, blocking, on_query_thread, path_segment};

type Result<T = Response, E = ApiError> = std::result::Result<T, E>;

/// `GET /api/services`.
pub async fn services(State(app): State<Arc<App>>, uri: Uri) -> Result {
    let q = Query::parse(uri.query());
    let services = app.service.reader().get_services().await?;
    let total = services.len();
    Envelope::new(services)
        .total(total)
        .into_response(q.pretty())
}

/// `GET /api/services/{service}/operations`: unique names over every span kind.
pub async fn service_operations(State(app): State<Arc<App>>, uri: Uri) -> Result {
    let q = Query::parse(uri.query());
    // Jaeger unescapes the (already unescaped) path value once more as a query value,
    // so `+` reads as a space; a bad escape gives an empty service.
    let service = params::query_unescape(&path_segment(&uri, 3)).unwrap_or_default();
    let ops = app
        .service
        .reader()
        .get_operations(&OperationQuery {
            service_name: service,
            span_kind: None,
        })
        .await?;
    let names: BTreeSet<String> = ops.into_iter().map(|o| o.name).collect();
    let total = names.len();
    // Go builds this list with `append` on a nil slice: no operations → `null`.
    let data = (!names.is_empty()).then(|| names.into_iter().collect::<Vec<_>>());
    Envelope::new(data).total(total).into_response(q.pretty())
}

/// `GET /api/operations?service=&spanKind=`.
pub async fn operations(State(app): State<Arc<App>>, uri: Uri) -> Result {
    let q = Query::parse(uri.query());
    let service = q.get("service");
    if service.is_empty() {
        return Err(ApiError::BadRequest(
            "parameter 'service' is required".into(),
        ));
    }
    let kind = q.get("spanKind");
    let ops = app
        .service
        .reader()
        .get_operations(&OperationQuery {
            service_name: service.to_string(),
            span_kind: (!kind.is_empty()).then(|| kind.to_string()),
        })
        .await?;
    let data: Vec<ui::Operation> = ops
        .into_iter()
        .map(|o| ui::Operation {
            name: o.name,
            span_kind: o.span_kind,
        })
        .collect();
    let total = data.len();
    Envelope::new(data).total(total).into_response(q.pretty())
}

/// `GET /api/traces/{traceID}`.
pub async fn get_trace(State(app): State<Arc<App>>, uri: Uri) -> Result {
    let q = Query::parse(uri.query());
    let p = GetTrace::parse(&path_segment(&uri, 3), &q)?;
    let pretty = q.pretty();
    let service = app.service.clone();
    let body = on_query_thread(move |rt| {
        let stored = match rt.block_on(service.get_trace_shared(p.params)) {
            Ok(Some(t)) => t,
            Ok(None) => return (Err(ApiError::trace_not_found()), None),
            Err(e) => return (Err(e.into()), None),
        };
        // Adjusted and written as the store lent it: only the spans an adjuster
        // changes are copied. Both the copies and the store's trace are let go after
        // the answer is sent.
        let (body, leftovers) = service.write_adjusted(stored, p.raw, |spans| {
            traces_body(&[spans], Vec::new(), pretty)
        });
        (body, Some(leftovers))
    })
    .await??;
    Ok(json_response(body))
}

/// The envelope of UI traces. Compact JSON (every client but a human with
/// `prettyPrint`) is streamed straight from the spans into one buffer; the pretty form
/// goes through the UI structs and serde, the same bytes but several times slower.
fn traces_body<G: SpanGroup>(
    traces: &[&[G]],
    errors: Vec<StructuredError>,
    pretty: bool,
) -> Result<Vec<u8>> {
    if pretty {
        let data: Vec<ui::Trace> = traces.iter().map(|t| ui::trace_from_otlp(t)).collect();
        return Envelope::new(data).errors(errors).to_body(true);
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"data\":[");
    for (i, t) in traces.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        ui::write_trace_json(&mut out, t).map_err(|e| {
            ApiError::Internal(format!(
                "failed writing HTTP response: failed marshalling HTTP response to JSON: {e}"
            ))
        })?;
    }
    out.extend_from_slice(b"],\"total\":0,\"limit\":0,\"offset\":0,\"errors\":");
    let errors = (!errors.is_empty()).then_some(errors);
    let errors = gojson::to_vec(&errors, false)
        .map_err(|e| ApiError::Internal(format!("failed writing HTTP response: {e}")))?;
    out.extend_from_slice(&errors);
    out.push(b'}');
    Ok(out)
}

/// `GET /api/traces`: search, or multi-get with `traceID=`.
pub async fn search(State(app): State<Arc<App>>, uri: Uri) -> Result {
    let q = Query::parse(uri.query());
    let p = Search::parse(&q, params::now_nanos())?;
    let pretty = q.pretty();
    let service = app.service.clone();
    let body = on_query_thread(move |rt| {
        let found = rt.block_on(async {
            if p.trace_ids.is_empty() {
                return Ok((service.find_traces(&p.query, p.raw).await?, Vec::new()));
            }
            let mut found = Vec::with_capacity(p.trace_ids.len());
            let mut errors = Vec::new();
            for id in &p.trace_ids {
                match service.get_trace(p.get_params(*id), p.raw).await? {
                    Some(t) => found.push(t),
                    // A missing id is reported beside the data, with status 200.
                    None => errors.push(StructuredError {
                        code: 0,
                        msg: ApiError::TRACE_NOT_FOUND.into(),
                        trace_id: id.to_jaeger_string(),
                    }),
                }
            }
            Ok::<_, ApiError>((found, errors))
        });
        match found {
            Ok((traces, errors)) => {
                let parts: Vec<&[ResourceSpans]> =
                    traces.iter().map(|t| &t.resource_spans[..]).collect();
                (traces_body(&parts, errors, pretty), traces)
            }
            Err(e) => (Err(e), Vec::new()),
        }
    })
    .await??;
    Ok(json_response(body))
}

/// `GET /api/dependencies?endTs=&lookback=&service=`.
pub async fn dependencies(State(app): State<Arc<App>>, uri: Uri) -> Result {
    let q = Query::parse(uri.query());
    let p = Dependencies::parse(&q, params::now_nanos())?;
    let links = app.dependencies.get_dependencies(p.end, p.lookback).await?;
    // Keep links touching the service, then merge duplicates summing their counts.
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut data: Vec<ui::DependencyLink> = Vec::new();
    for l in links {
        if !p.service.is_empty() && l.parent != p.service && l.child != p.service {
            continue;
        }
        match index.get(&(l.parent.clone(), l.child.clone())) {
            Some(&i) => data[i].call_count += l.call_count,
            None => {
                index.insert((l.parent.clone(), l.child.clone()), data.len());
                data.push(ui::DependencyLink {
                    parent: l.parent,
                    child: l.child,
                    call_count: l.call_count,
                });
            }
        }
    }
    Envelope::new(data).into_response(q.pretty())
}

/// `POST /api/archive/{traceID}`: copies the trace, as `GET /api/traces/{id}` returns it
/// (adjusted, warnings included), into archive storage. `raw` is checked but not used.
pub async fn archive(State(app): State<Arc<App>>, uri: Uri) -> Result {
    let q = Query::parse(uri.query());
    let p = GetTrace::parse(&path_segment(&uri, 3), &q)?;
    app.service.archive_trace(p.params).await?;
    let mut env = Envelope::new(Vec::<()>::new());
    // Jaeger answers `"errors":[]` here, not null.
    env.errors = Some(Vec::new());
    env.into_response(q.pretty())
}

/// The largest `POST /api/transform` body read (the OTel HTTP server's default).
pub const MAX_TRANSFORM_BODY: usize = 20 * 1024 * 1024;

/// `POST /api/transform`: an OTLP/JSON body to UI traces, with no adjusters and no
/// deduplication, grouped by trace id in first-seen order.
pub async fn transform(uri: Uri, body: Body) -> Result {
    let q = Query::parse(uri.query());
    let bytes = axum::body::to_bytes(body, MAX_TRANSFORM_BODY)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            ApiError::BadRequest(if too_large {
                "http: request body too large".into()
            } else {
                e.to_string()
            })
        })?;
    let pretty = q.pretty();
    let body = blocking(move || {
        let req = otlp_json_decode::decode_request(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("cannot unmarshal OTLP : {e}")))?;
        let data = ui::traces_from_otlp(&req.resource_spans);
        Envelope::new(data).to_body(pretty)
    })
    .await??;
    Ok(json_response(body))
}
