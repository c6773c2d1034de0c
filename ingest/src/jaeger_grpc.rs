//! Jaeger gRPC collector: `jaeger.api_v2.CollectorService/PostSpans` (default port
//! 14250). Batches are converted to OTLP with `jaeger_proto::convert::batch_to_otlp`
//! (ingest spec §2.3) and go through the same [`SpanQueue`].
//!
//! Answers: OK with an empty `PostSpansResponse`; a wrongly sized id: INVALID_ARGUMENT
//! (Jaeger: INTERNAL); queue full / stopping / storage failure: UNAVAILABLE with
//! `RetryInfo` (Jaeger: UNKNOWN), which Jaeger's gRPC reporters retry.

use std::future::Future;

use jaeger_proto::api_v2::collector_service_server::{CollectorService, CollectorServiceServer};
use jaeger_proto::api_v2::{PostSpansRequest, PostSpansResponse};
use prost::Message;
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

use crate::error::IngestError;
use crate::jaeger_http::RECEIVER;
use crate::queue::SpanQueue;

const TRANSPORT: &str = "grpc";

/// The `CollectorService` implementation.
#[derive(Clone)]
pub struct JaegerGrpcService {
    queue: SpanQueue,
}

impl JaegerGrpcService {
    /// The tonic service, accepting messages up to `max_message_bytes` (gzip and zstd
    /// request compression accepted).
    pub fn server(
        queue: SpanQueue,
        max_message_bytes: usize,
    ) -> CollectorServiceServer<JaegerGrpcService> {
        CollectorServiceServer::new(JaegerGrpcService { queue })
            .max_decoding_message_size(max_message_bytes)
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
            .accept_compressed(tonic::codec::CompressionEncoding::Zstd)
    }
}

#[tonic::async_trait]
impl CollectorService for JaegerGrpcService {
    async fn post_spans(
        &self,
        request: Request<PostSpansRequest>,
    ) -> Result<Response<PostSpansResponse>, Status> {
        let req = request.into_inner();
        let encoded = req.encoded_len();
        let Some(batch) = req.batch else {
            return Ok(Response::new(PostSpansResponse {}));
        };
        let converted = jaeger_proto::convert::batch_to_otlp(&batch)
            .map_err(|e| IngestError::InvalidArgument(e.to_string()).to_grpc_status())?;
        self.queue
            .submit(converted, encoded, RECEIVER, TRANSPORT)
            .await
            .map_err(|e| e.to_grpc_status())?;
        Ok(Response::new(PostSpansResponse {}))
    }
}

/// Serves the collector service on `listener` (default `:14250`) until `shutdown`
/// resolves.
pub async fn serve_jaeger_grpc(
    listener: TcpListener,
    queue: SpanQueue,
    max_message_bytes: usize,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), IngestError> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(JaegerGrpcService::server(queue, max_message_bytes))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| IngestError::Server {
            transport: "jaeger grpc",
            source: Box::new(e),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::RecordingWriter;
    use jaeger_config::QueueConfig;
    use jaeger_proto::api_v2::collector_service_client::CollectorServiceClient;
    use jaeger_proto::api_v2::{Batch, Process, Span};
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn post_spans_writes_and_bad_ids_are_refused() {
        let writer = RecordingWriter::new();
        let queue = SpanQueue::new(
            &QueueConfig {
                max_bytes: 1 << 20,
                max_batch_spans: 1000,
                writers: 1,
            },
            writer.clone(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve_jaeger_grpc(listener, queue, 4 << 20, async {
            let _ = stopped.await;
        }));
        let mut client = CollectorServiceClient::connect(format!("http://{addr}"))
            .await
            .expect("connect");
        let span = Span {
            trace_id: (1..=16).collect(),
            span_id: 5u64.to_be_bytes().to_vec(),
            operation_name: "grpc-op".into(),
            ..Default::default()
        };
        let batch = Batch {
            spans: vec![span.clone()],
            process: Some(Process {
                service_name: "svc".into(),
                tags: vec![],
            }),
        };
        client
            .post_spans(PostSpansRequest {
                batch: Some(batch.clone()),
            })
            .await
            .expect("accepted");
        let written = writer.batches();
        let s = &written[0][0].scope_spans[0].spans[0];
        assert_eq!(s.name, "grpc-op");
        assert_eq!(s.trace_id, (1..=16).collect::<Vec<u8>>());

        let mut bad = batch;
        bad.spans[0].span_id = vec![1, 2, 3];
        let err = client
            .post_spans(PostSpansRequest { batch: Some(bad) })
            .await
            .expect_err("bad id");
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.message().contains("SpanID"), "{}", err.message());
        assert_eq!(writer.span_count(), 1);
        stop.send(()).expect("server alive");
        server.await.expect("join").expect("serve");
    }
}
