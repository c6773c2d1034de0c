//! `jaeger.api_v3.QueryService` (Jaeger's `apiv3/grpc_handler.go`): traces as OTLP
//! `TracesData`, one trace per message (split when a trace is very large).

use std::sync::Arc;

use jaeger_model::otlp::trace::TracesData;
use jaeger_model::otlp::{ResourceSpans, ScopeSpans};
use jaeger_model::{Trace, TraceId};
use jaeger_proto::api_v3::query_service_server::QueryService as QueryServiceApi;
use jaeger_proto::api_v3::{
    DependenciesResponse, Dependency, FindTraceSummariesRequest, FindTraceSummariesResponse,
    FindTracesRequest, GetDependenciesRequest, GetOperationsRequest, GetOperationsResponse,
    GetServicesRequest, GetServicesResponse, GetTraceRequest, Operation, ServiceSummary,
    TraceQueryParameters, TraceSummary,
};
use jaeger_storage::{GetTraceParams, OperationQuery, TraceQuery};
use prost::Message;
use tonic::{Request, Response, Status};

use super::{
    GrpcQueryState, ResponseStream, TRACE_NOT_FOUND, duration_bounds, opt_time, status,
    storage_status, stream_traces,
};
use crate::params::DEFAULT_SEARCH_LIMIT;
use crate::summary::summarize;

/// Bytes of spans put in one `TracesData` at most, so that a huge trace still fits the
/// 4 MiB gRPC clients accept by default. Chunks of one trace are consecutive.
pub const MAX_CHUNK_BYTES: usize = 2 << 20;

/// What a search that finds nothing answers (as `/api/v3/traces`).
const NO_TRACES: &str = "No traces found";

/// The api_v3 query service.
#[derive(Clone)]
pub struct QueryV3 {
    state: Arc<GrpcQueryState>,
}

impl QueryV3 {
    pub fn new(state: Arc<GrpcQueryState>) -> Self {
        QueryV3 { state }
    }

    async fn search(
        &self,
        q: Option<TraceQueryParameters>,
        raw: Option<bool>,
    ) -> Result<Vec<Trace>, Status> {
        let (query, query_raw) = search_query(q)?;
        self.state
            .service
            .find_traces(&query, raw.unwrap_or(query_raw))
            .await
            .map_err(|e| status(e, "failed when searching for traces"))
    }
}

/// The storage query of a search, and whether to skip the adjusters.
fn search_query(q: Option<TraceQueryParameters>) -> Result<(TraceQuery, bool), Status> {
    let q = q.ok_or_else(|| Status::invalid_argument("missing query"))?;
    let (Some(min), Some(max)) = (
        opt_time(q.start_time_min.as_ref()),
        opt_time(q.start_time_max.as_ref()),
    ) else {
        return Err(Status::invalid_argument(
            "start time min and max are required parameters",
        ));
    };
    if max < min {
        return Err(Status::invalid_argument(
            "start time min must be before start time max",
        ));
    }
    // Structured filters sit behind a feature gate that is off in Jaeger; refusing
    // beats silently ignoring a predicate.
    if q.filter.is_some() {
        return Err(Status::invalid_argument(
            "structured filters (query.filter) are not supported",
        ));
    }
    let (duration_min, duration_max) =
        duration_bounds(q.duration_min.as_ref(), q.duration_max.as_ref());
    let mut tags: Vec<(String, String)> = q.attributes.into_iter().collect();
    tags.sort();
    Ok((
        TraceQuery {
            service_name: (!q.service_name.is_empty()).then_some(q.service_name),
            operation_name: (!q.operation_name.is_empty()).then_some(q.operation_name),
            tags,
            start_time_min: min,
            start_time_max: max,
            duration_min,
            duration_max,
            num_traces: if q.search_depth > 0 {
                q.search_depth as usize
            } else {
                DEFAULT_SEARCH_LIMIT
            },
        },
        q.raw_traces,
    ))
}

/// One trace as `TracesData` messages: one when it fits [`MAX_CHUNK_BYTES`], else
/// consecutive pieces keeping the resource and scope of every span.
pub fn traces_data_chunks(trace: Trace) -> Vec<TracesData> {
    let total: usize = trace.resource_spans.iter().map(Message::encoded_len).sum();
    if total <= MAX_CHUNK_BYTES {
        return vec![TracesData {
            resource_spans: trace.resource_spans,
        }];
    }
    let mut out = Vec::new();
    let mut cur: Vec<ResourceSpans> = Vec::new();
    let mut size = 0usize;
    for rs in trace.resource_spans {
        let ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        } = rs;
        let mut resource_open = false;
        for ss in scope_spans {
            let ScopeSpans {
                scope,
                spans,
                schema_url: scope_schema,
            } = ss;
            let mut scope_open = false;
            for span in spans {
                let n = span.encoded_len() + 8;
                if size > 0 && size + n > MAX_CHUNK_BYTES {
                    out.push(TracesData {
                        resource_spans: std::mem::take(&mut cur),
                    });
                    size = 0;
                    resource_open = false;
                    scope_open = false;
                }
                if !resource_open {
                    let r = ResourceSpans {
                        resource: resource.clone(),
                        scope_spans: Vec::new(),
                        schema_url: schema_url.clone(),
                    };
                    size += r.encoded_len();
                    cur.push(r);
                    resource_open = true;
                }
                let r = cur.last_mut().expect("a resource group was just opened");
                if !scope_open {
                    let s = ScopeSpans {
                        scope: scope.clone(),
                        spans: Vec::new(),
                        schema_url: scope_schema.clone(),
                    };
                    size += s.encoded_len();
                    r.scope_spans.push(s);
                    scope_open = true;
                }
                r.scope_spans
                    .last_mut()
                    .expect("a scope group was just opened")
                    .spans
                    .push(span);
                size += n;
            }
        }
    }
    if !cur.is_empty() {
        out.push(TracesData {
            resource_spans: cur,
        });
    }
    out
}

fn proto_summary(trace: &Trace) -> TraceSummary {
    let s = summarize(trace);
    TraceSummary {
        trace_id: s.trace_id,
        root_service_name: s.root_service_name,
        root_operation_name: s.root_operation_name,
        // `summarize` renders these u64s as decimal text for JSON.
        min_start_time_unix_nano: s.min_start_time_unix_nano.parse().unwrap_or(0),
        max_end_time_unix_nano: s.max_end_time_unix_nano.parse().unwrap_or(0),
        span_count: clamp_i32(s.span_count),
        error_span_count: clamp_i32(s.error_span_count),
        orphan_span_count: clamp_i32(s.orphan_span_count),
        services: s
            .services
            .into_iter()
            .map(|v| ServiceSummary {
                name: v.name,
                span_count: clamp_i32(v.span_count),
                error_span_count: clamp_i32(v.error_span_count),
            })
            .collect(),
    }
}

fn clamp_i32(v: u32) -> i32 {
    v.min(i32::MAX as u32) as i32
}

#[tonic::async_trait]
impl QueryServiceApi for QueryV3 {
    type GetTraceStream = ResponseStream<TracesData>;
    type FindTracesStream = ResponseStream<TracesData>;
    type FindTraceSummariesStream = ResponseStream<FindTraceSummariesResponse>;

    async fn get_trace(
        &self,
        req: Request<GetTraceRequest>,
    ) -> Result<Response<Self::GetTraceStream>, Status> {
        let r = req.into_inner();
        let trace_id = TraceId::parse_hex(&r.trace_id)
            .map_err(|e| Status::invalid_argument(format!("malform trace ID: {e}")))?;
        let params = GetTraceParams {
            trace_id,
            start: opt_time(r.start_time.as_ref()),
            end: opt_time(r.end_time.as_ref()),
        };
        let trace = self
            .state
            .service
            .get_trace(params, r.raw_traces)
            .await
            .map_err(|e| status(e, "failed to fetch the trace"))?
            .ok_or_else(|| Status::not_found(TRACE_NOT_FOUND))?;
        Ok(Response::new(stream_traces(
            vec![trace],
            traces_data_chunks,
        )))
    }

    async fn find_traces(
        &self,
        req: Request<FindTracesRequest>,
    ) -> Result<Response<Self::FindTracesStream>, Status> {
        let mut traces = self.search(req.into_inner().query, None).await?;
        traces.retain(|t| !t.is_empty());
        if traces.is_empty() {
            return Err(Status::not_found(NO_TRACES));
        }
        Ok(Response::new(stream_traces(traces, traces_data_chunks)))
    }

    async fn get_services(
        &self,
        _req: Request<GetServicesRequest>,
    ) -> Result<Response<GetServicesResponse>, Status> {
        let services = self
            .state
            .service
            .reader()
            .get_services()
            .await
            .map_err(|e| storage_status(e, "failed to fetch services"))?;
        Ok(Response::new(GetServicesResponse { services }))
    }

    async fn get_operations(
        &self,
        req: Request<GetOperationsRequest>,
    ) -> Result<Response<GetOperationsResponse>, Status> {
        let r = req.into_inner();
        let ops = self
            .state
            .service
            .reader()
            .get_operations(&OperationQuery {
                service_name: r.service,
                span_kind: (!r.span_kind.is_empty()).then_some(r.span_kind),
            })
            .await
            .map_err(|e| storage_status(e, "failed to fetch operations"))?;
        Ok(Response::new(GetOperationsResponse {
            operations: ops
                .into_iter()
                .map(|o| Operation {
                    name: o.name,
                    span_kind: o.span_kind,
                })
                .collect(),
        }))
    }

    async fn get_dependencies(
        &self,
        req: Request<GetDependenciesRequest>,
    ) -> Result<Response<DependenciesResponse>, Status> {
        let r = req.into_inner();
        let start = opt_time(r.start_time.as_ref())
            .ok_or_else(|| Status::invalid_argument("start_time is required"))?;
        let end = opt_time(r.end_time.as_ref())
            .ok_or_else(|| Status::invalid_argument("end_time is required"))?;
        if end <= start {
            return Err(Status::invalid_argument(
                "end_time must be after start_time",
            ));
        }
        let links = self
            .state
            .dependencies
            .get_dependencies(end, end - start)
            .await
            .map_err(|e| storage_status(e, "failed to fetch dependencies"))?;
        Ok(Response::new(DependenciesResponse {
            dependencies: links
                .into_iter()
                .map(|l| Dependency {
                    parent: l.parent,
                    child: l.child,
                    call_count: l.call_count,
                })
                .collect(),
        }))
    }

    async fn find_trace_summaries(
        &self,
        req: Request<FindTraceSummariesRequest>,
    ) -> Result<Response<Self::FindTraceSummariesStream>, Status> {
        // Summaries are computed over adjusted traces, as on `/api/v3/trace-summaries`.
        let traces = self.search(req.into_inner().query, Some(false)).await?;
        let summaries = tokio::task::spawn_blocking(move || {
            traces
                .iter()
                .filter(|t| !t.is_empty())
                .map(proto_summary)
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| Status::internal(format!("internal error: {e}")))?;
        // One message, empty when nothing matched (HTTP answers `{"summaries":[]}`).
        let msg = FindTraceSummariesResponse { summaries };
        Ok(Response::new(Box::pin(tokio_stream::iter([Ok(msg)]))))
    }
}
