//! `jaeger.api_v2.QueryService` (Jaeger's `grpc_handler.go`): spans in Jaeger's model,
//! streamed in chunks of at most 10.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use jaeger_model::Trace;
use jaeger_proto::api_v2::query_service_server::QueryService as QueryServiceApi;
use jaeger_proto::api_v2::{
    ArchiveTraceRequest, ArchiveTraceResponse, DependencyLink, FindTracesRequest,
    GetDependenciesRequest, GetDependenciesResponse, GetOperationsRequest, GetOperationsResponse,
    GetServicesRequest, GetServicesResponse, GetTraceRequest, Operation, SpansResponseChunk,
};
use jaeger_proto::convert;
use jaeger_storage::{GetTraceParams, OperationQuery, TraceQuery};
use tonic::{Request, Response, Status};

use super::{
    GrpcQueryState, ResponseStream, TRACE_NOT_FOUND, duration_bounds, opt_time, status,
    storage_status, stream_traces, trace_id,
};
use crate::params::DEFAULT_SEARCH_LIMIT;

/// Jaeger's `maxSpanCountInChunk`.
pub const MAX_SPANS_PER_CHUNK: usize = 10;

/// The api_v2 query service.
#[derive(Clone)]
pub struct QueryV2 {
    state: Arc<GrpcQueryState>,
}

impl QueryV2 {
    pub fn new(state: Arc<GrpcQueryState>) -> Self {
        QueryV2 { state }
    }
}

/// A trace as api_v2 chunks: every span carries its process.
fn chunks(trace: Trace) -> Vec<SpansResponseChunk> {
    let spans = convert::spans_from_otlp(&trace.resource_spans);
    let mut out = Vec::with_capacity(spans.len().div_ceil(MAX_SPANS_PER_CHUNK));
    let mut it = spans.into_iter().peekable();
    while it.peek().is_some() {
        out.push(SpansResponseChunk {
            spans: it.by_ref().take(MAX_SPANS_PER_CHUNK).collect(),
        });
    }
    out
}

/// The id of a get or archive request: 16 (or 8) bytes, not all zero.
fn request_trace_id(bytes: &[u8]) -> Result<jaeger_model::TraceId, Status> {
    let id = convert::trace_id_from_jaeger(bytes)
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    if id == [0; 16] {
        return Err(Status::invalid_argument(
            "uninitialized TraceID is not allowed",
        ));
    }
    Ok(trace_id(id))
}

#[tonic::async_trait]
impl QueryServiceApi for QueryV2 {
    type GetTraceStream = ResponseStream<SpansResponseChunk>;
    type FindTracesStream = ResponseStream<SpansResponseChunk>;

    async fn get_trace(
        &self,
        req: Request<GetTraceRequest>,
    ) -> Result<Response<Self::GetTraceStream>, Status> {
        let r = req.into_inner();
        let params = GetTraceParams {
            trace_id: request_trace_id(&r.trace_id)?,
            start: opt_time(r.start_time.as_ref()),
            end: opt_time(r.end_time.as_ref()),
        };
        let trace = self
            .state
            .service
            .get_trace(params, r.raw_traces)
            .await
            .map_err(|e| status(e, "failed to fetch spans from the backend"))?
            .ok_or_else(|| Status::not_found(TRACE_NOT_FOUND))?;
        Ok(Response::new(stream_traces(vec![trace], chunks)))
    }

    async fn archive_trace(
        &self,
        req: Request<ArchiveTraceRequest>,
    ) -> Result<Response<ArchiveTraceResponse>, Status> {
        let r = req.into_inner();
        let params = GetTraceParams {
            trace_id: request_trace_id(&r.trace_id)?,
            start: opt_time(r.start_time.as_ref()),
            end: opt_time(r.end_time.as_ref()),
        };
        self.state
            .service
            .archive_trace(params)
            .await
            .map_err(|e| status(e, "failed to archive trace"))?;
        Ok(Response::new(ArchiveTraceResponse {}))
    }

    async fn find_traces(
        &self,
        req: Request<FindTracesRequest>,
    ) -> Result<Response<Self::FindTracesStream>, Status> {
        let q = req
            .into_inner()
            .query
            .ok_or_else(|| Status::invalid_argument("missing query"))?;
        let (duration_min, duration_max) =
            duration_bounds(q.duration_min.as_ref(), q.duration_max.as_ref());
        // Sorted, so that storage sees the same query whatever the map order.
        let tags: BTreeMap<String, String> = q.tags.into_iter().collect();
        let query = TraceQuery {
            service_name: (!q.service_name.is_empty()).then_some(q.service_name),
            operation_name: (!q.operation_name.is_empty()).then_some(q.operation_name),
            tags: tags.into_iter().collect(),
            start_time_min: opt_time(q.start_time_min.as_ref()).unwrap_or(0),
            // 0 is "unset" in the storage seam.
            start_time_max: opt_time(q.start_time_max.as_ref()).unwrap_or(0),
            duration_min,
            duration_max,
            num_traces: if q.search_depth > 0 {
                q.search_depth as usize
            } else {
                DEFAULT_SEARCH_LIMIT
            },
        };
        let traces = self
            .state
            .service
            .find_traces(&query, q.raw_traces)
            .await
            .map_err(|e| status(e, "failed when searching for traces"))?;
        Ok(Response::new(stream_traces(traces, chunks)))
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
        // The deprecated `operationNames`: each name once, in storage order.
        let mut seen = HashSet::with_capacity(ops.len());
        let operation_names: Vec<String> = ops
            .iter()
            .filter(|o| seen.insert(o.name.as_str()))
            .map(|o| o.name.clone())
            .collect();
        Ok(Response::new(GetOperationsResponse {
            operation_names,
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
    ) -> Result<Response<GetDependenciesResponse>, Status> {
        let r = req.into_inner();
        let (Some(start), Some(end)) = (
            opt_time(r.start_time.as_ref()),
            opt_time(r.end_time.as_ref()),
        ) else {
            return Err(Status::invalid_argument(
                "StartTime and EndTime must be initialized.",
            ));
        };
        let links = self
            .state
            .dependencies
            .get_dependencies(end, end.saturating_sub(start))
            .await
            .map_err(|e| storage_status(e, "failed to fetch dependencies"))?;
        Ok(Response::new(GetDependenciesResponse {
            dependencies: links
                .into_iter()
                .map(|l| DependencyLink {
                    parent: l.parent,
                    child: l.child,
                    call_count: l.call_count,
                    source: l.source,
                })
                .collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jaeger_model::otlp::{ResourceSpans, ScopeSpans, Span};

    #[test]
    fn chunks_hold_at_most_ten_spans() {
        let spans = (1..=23u64)
            .map(|i| Span {
                trace_id: vec![1; 16],
                span_id: i.to_be_bytes().to_vec(),
                ..Default::default()
            })
            .collect();
        let t = Trace::new(vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }]);
        let sizes: Vec<usize> = chunks(t).iter().map(|c| c.spans.len()).collect();
        assert_eq!(sizes, [10, 10, 3]);
        assert!(chunks(Trace::default()).is_empty());
    }

    #[test]
    fn request_ids() {
        assert_eq!(
            request_trace_id(&[0, 0, 0, 0, 0, 0, 0, 9]).unwrap(),
            jaeger_model::TraceId::from_u64s(0, 9)
        );
        assert_eq!(
            request_trace_id(&[0; 16]).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            request_trace_id(&[1; 3]).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }
}
