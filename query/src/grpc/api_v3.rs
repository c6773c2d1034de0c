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

#[cfg(test)]
mod tests {
    use super::*;
    use jaeger_model::otlp::{InstrumentationScope, KeyValue, Resource, Span};
    use jaeger_model::trace::{kv, spans_of};

    fn big_span(id: u64, scope: usize) -> (usize, Span) {
        (
            scope,
            Span {
                trace_id: vec![1; 16],
                span_id: id.to_be_bytes().to_vec(),
                name: format!("s{id}"),
                // ~300 KiB each: a dozen spans exceed one chunk.
                attributes: vec![kv(
                    "payload",
                    jaeger_model::otlp::Value::StringValue("x".repeat(300 << 10)),
                )],
                ..Default::default()
            },
        )
    }

    fn trace(resources: Vec<Vec<(usize, Span)>>) -> Trace {
        Trace::new(
            resources
                .into_iter()
                .enumerate()
                .map(|(ri, spans)| {
                    let mut scopes: Vec<ScopeSpans> = Vec::new();
                    for (si, span) in spans {
                        while scopes.len() <= si {
                            scopes.push(ScopeSpans {
                                scope: Some(InstrumentationScope {
                                    name: format!("scope{}", scopes.len()),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            });
                        }
                        scopes[si].spans.push(span);
                    }
                    ResourceSpans {
                        resource: Some(Resource {
                            attributes: vec![KeyValue {
                                key: "service.name".into(),
                                value: jaeger_model::trace::string_value(format!("svc{ri}")),
                                ..Default::default()
                            }],
                            ..Default::default()
                        }),
                        scope_spans: scopes,
                        schema_url: String::new(),
                    }
                })
                .collect(),
        )
    }

    #[test]
    fn small_traces_are_one_message() {
        let t = trace(vec![vec![(0, Span::default())]]);
        let chunks = traces_data_chunks(t.clone());
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].resource_spans, t.resource_spans);
    }

    #[test]
    fn large_traces_split_keeping_resource_and_scope() {
        let t = trace(vec![
            (0..8).map(|i| big_span(i, (i % 2) as usize)).collect(),
            (8..20).map(|i| big_span(i, 0)).collect(),
        ]);
        let chunks = traces_data_chunks(t.clone());
        assert!(chunks.len() >= 3, "{} chunks", chunks.len());
        for c in &chunks {
            assert!(
                c.encoded_len() <= MAX_CHUNK_BYTES + 1024,
                "{}",
                c.encoded_len()
            );
            assert!(!c.resource_spans.is_empty());
        }
        // Every span once, in order, with its own resource and scope.
        let key = |s: jaeger_model::SpanRef<'_>| {
            (
                s.span.span_id.clone(),
                s.service_name().to_string(),
                s.scope.map(|x| x.name.clone()),
            )
        };
        let want: Vec<_> = spans_of(&t.resource_spans).map(key).collect();
        let got: Vec<_> = chunks
            .iter()
            .flat_map(|c| spans_of(&c.resource_spans).map(key).collect::<Vec<_>>())
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn search_query_rules() {
        let ts = |s: i64| {
            Some(prost_types::Timestamp {
                seconds: s,
                nanos: 0,
            })
        };
        let base = TraceQueryParameters {
            start_time_min: ts(10),
            start_time_max: ts(20),
            ..Default::default()
        };
        let (q, raw) = search_query(Some(TraceQueryParameters {
            service_name: "svc".into(),
            attributes: [("b".into(), "2".into()), ("a".into(), "1".into())].into(),
            duration_min: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
            search_depth: -3,
            raw_traces: true,
            ..base.clone()
        }))
        .unwrap();
        assert!(raw);
        assert_eq!(q.service_name.as_deref(), Some("svc"));
        assert_eq!(q.operation_name, None);
        assert_eq!(
            q.tags,
            [("a".to_string(), "1".to_string()), ("b".into(), "2".into())]
        );
        assert_eq!(
            (q.start_time_min, q.start_time_max),
            (10_000_000_000, 20_000_000_000)
        );
        assert_eq!(
            (q.duration_min, q.duration_max),
            (Some(1_000_000_000), None)
        );
        assert_eq!(q.num_traces, DEFAULT_SEARCH_LIMIT);
        let err = |p: TraceQueryParameters| search_query(Some(p)).unwrap_err().code();
        assert_eq!(
            err(TraceQueryParameters {
                start_time_max: ts(5),
                ..base.clone()
            }),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            err(TraceQueryParameters {
                filter: Some(Default::default()),
                ..base
            }),
            tonic::Code::InvalidArgument
        );
        assert_eq!(search_query(None).unwrap_err().message(), "missing query");
    }
}
