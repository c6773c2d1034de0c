//! OTLP/gRPC receiver: `opentelemetry.proto.collector.trace.v1.TraceService/Export`
//! (default port 4317).
//!
//! A hand-written tonic service instead of the generated `TraceServiceServer`: its codec
//! hands over the raw message bytes, so a large request is decoded on the blocking pool
//! instead of on an async worker. On the wire it is the same service.
//!
//! Answers:
//! - success: `OK` with an empty `partial_success` (Jaeger sends the same bytes, `0A 00`);
//! - some spans with bad id lengths: those are dropped, the rest written, and
//!   `partial_success { rejected_spans, error_message }` names the first bad field
//!   (Jaeger fails the whole request instead);
//! - every span bad: `INVALID_ARGUMENT` naming the field;
//! - undecodable protobuf: `INTERNAL` "grpc: error unmarshalling request: ..." (as grpc-go);
//! - message over `max_message_bytes`: `RESOURCE_EXHAUSTED` (as grpc-go; tonic's own
//!   answer would be `OUT_OF_RANGE`, which OTLP clients retry forever);
//! - queue full, shutting down, storage failure: `UNAVAILABLE` with a
//!   `google.rpc.RetryInfo` detail ("retry later").
//!
//! Request compression: gzip and zstd. The message is decoded by
//! [`crate::otlp_proto::decode_request`] (prost's result, fewer instructions).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use jaeger_model::otlp::collector::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use prost::Message;
use tokio::net::TcpListener;
use tonic::Status;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::EnabledCompressionEncodings;
use tonic::server::{Grpc, NamedService, UnaryService};

use crate::error::IngestError;
use crate::metrics;
use crate::queue::SpanQueue;
use crate::validate;

/// The `receiver` metric label of both OTLP transports.
pub const RECEIVER: &str = "otlp";
const TRANSPORT: &str = "grpc";
/// The gRPC service name.
pub const SERVICE_NAME: &str = "opentelemetry.proto.collector.trace.v1.TraceService";
/// The full method path of `Export`.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// HTTP/2 flow-control windows of the server.
const STREAM_WINDOW_BYTES: u32 = 2 * 1024 * 1024;
const CONNECTION_WINDOW_BYTES: u32 = 8 * 1024 * 1024;
/// Larger frames than h2's 16 KiB default: fewer frames per message.
const MAX_FRAME_BYTES: u32 = 256 * 1024;
/// Messages larger than this are decoded on the blocking pool.
const DECODE_INLINE_LIMIT: usize = 64 * 1024;

/// The OTLP trace service, ready to be added to a `tonic::transport::Server`
/// (`Server::builder().add_service(OtlpGrpcService::new(..))`).
#[derive(Clone)]
pub struct OtlpGrpcService {
    queue: SpanQueue,
    max_message_bytes: usize,
}

impl OtlpGrpcService {
    /// `max_message_bytes` bounds one message (Jaeger's default: 4 MiB).
    pub fn new(queue: SpanQueue, max_message_bytes: usize) -> Self {
        Self {
            queue,
            max_message_bytes,
        }
    }

    async fn export(&self, message: Bytes) -> Result<ExportTraceServiceResponse, Status> {
        let encoded_bytes = message.len();
        let decode = move || -> Result<_, Status> {
            let mut req = crate::otlp_proto::decode_request(&message)
                .map_err(|e| Status::internal(format!("grpc: error unmarshalling request: {e}")))?;
            let rejected = validate::retain_valid_spans(&mut req.resource_spans);
            Ok((req.resource_spans, rejected))
        };
        let (batch, rejected) = if encoded_bytes > DECODE_INLINE_LIMIT {
            tokio::task::spawn_blocking(decode)
                .await
                .map_err(|e| Status::internal(format!("decoding task failed: {e}")))??
        } else {
            decode()?
        };
        metrics::refused(RECEIVER, TRANSPORT, rejected.spans);
        if rejected.spans > 0 && jaeger_model::trace::span_count(&batch) == 0 {
            return Err(Status::invalid_argument(rejected.message()));
        }
        self.queue
            .submit(batch, encoded_bytes, RECEIVER, TRANSPORT)
            .await
            .map_err(|e| e.to_grpc_status())?;
        let partial_success = if rejected.spans > 0 {
            ExportTracePartialSuccess {
                rejected_spans: rejected.spans as i64,
                error_message: rejected.message(),
            }
        } else {
            ExportTracePartialSuccess::default()
        };
        Ok(ExportTraceServiceResponse {
            partial_success: Some(partial_success),
        })
    }
}

/// Serves the OTLP gRPC receiver on `listener` until `shutdown` resolves, then stops
/// accepting connections and waits for in-flight requests.
pub async fn serve_otlp_grpc(
    listener: TcpListener,
    queue: SpanQueue,
    max_message_bytes: usize,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), IngestError> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        // h2's default 64 KiB windows cost a round trip per 64 KiB of a message; OTLP
        // batches are often several hundred KiB.
        .initial_stream_window_size(Some(STREAM_WINDOW_BYTES))
        .initial_connection_window_size(Some(CONNECTION_WINDOW_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
        .add_service(OtlpGrpcService::new(queue, max_message_bytes))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| IngestError::Server {
            transport: "otlp grpc",
            source: Box::new(e),
        })
}

impl NamedService for OtlpGrpcService {
    const NAME: &'static str = SERVICE_NAME;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<B> tower::Service<http::Request<B>> for OtlpGrpcService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != EXPORT_PATH {
            return Box::pin(async { Ok(Status::unimplemented("").into_http()) });
        }
        let svc = self.clone();
        Box::pin(async move {
            let mut accept = EnabledCompressionEncodings::default();
            accept.enable(CompressionEncoding::Gzip);
            accept.enable(CompressionEncoding::Zstd);
            let mut grpc = Grpc::new(RawCodec)
                .apply_compression_config(accept, EnabledCompressionEncodings::default())
                .apply_max_message_size_config(Some(svc.max_message_bytes), None);
            let mut response = grpc.unary(ExportCall(svc), req).await;
            too_large_is_resource_exhausted(&mut response);
            Ok(response)
        })
    }
}

/// tonic answers an oversized message with `OUT_OF_RANGE`, a code OTLP clients retry;
/// grpc-go (Jaeger) answers `RESOURCE_EXHAUSTED`, which they do not retry without a
/// `RetryInfo`. Resending the same oversized message can never succeed.
fn too_large_is_resource_exhausted(response: &mut http::Response<tonic::body::Body>) {
    let headers = response.headers_mut();
    let too_large = Status::from_header_map(headers).is_some_and(|s| {
        s.code() == tonic::Code::OutOfRange
            && s.message()
                .starts_with("Error, decoded message length too large")
    });
    if too_large {
        headers.insert(
            Status::GRPC_STATUS,
            http::HeaderValue::from(tonic::Code::ResourceExhausted as i32),
        );
    }
}

struct ExportCall(OtlpGrpcService);

impl UnaryService<Bytes> for ExportCall {
    type Response = ExportTraceServiceResponse;
    type Future = BoxFuture<Result<tonic::Response<ExportTraceServiceResponse>, Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let svc = self.0.clone();
        Box::pin(async move {
            svc.export(request.into_inner())
                .await
                .map(tonic::Response::new)
        })
    }
}

/// Decodes nothing: hands the (decompressed) message bytes to the handler.
struct RawCodec;

impl Codec for RawCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = Bytes;
    type Encoder = ResponseEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> ResponseEncoder {
        ResponseEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

struct ResponseEncoder;

impl Encoder for ResponseEncoder {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding the response: {e}")))
    }
}

struct RawDecoder;

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{RecordingWriter, spans_batch};
    use bytes::BufMut;
    use jaeger_config::QueueConfig;
    use jaeger_model::otlp::collector::ExportTraceServiceRequest;
    use jaeger_model::otlp::collector::trace_service_client::TraceServiceClient;
    use std::net::SocketAddr;
    use std::sync::Arc;
    use tokio::sync::oneshot;
    use tonic::transport::Channel;
    use tonic_types::StatusExt;

    struct Server {
        addr: SocketAddr,
        writer: Arc<RecordingWriter>,
        stop: Option<oneshot::Sender<()>>,
        task: tokio::task::JoinHandle<Result<(), IngestError>>,
    }

    async fn start(max_bytes: usize, max_message_bytes: usize) -> Server {
        let writer = RecordingWriter::new();
        let queue = SpanQueue::new(
            &QueueConfig {
                max_bytes,
                max_batch_spans: 10_000,
                writers: 1,
            },
            writer.clone(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_otlp_grpc(listener, queue, max_message_bytes, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            writer,
            stop: Some(stop),
            task,
        }
    }

    impl Server {
        async fn client(&self) -> TraceServiceClient<Channel> {
            TraceServiceClient::connect(format!("http://{}", self.addr))
                .await
                .expect("connect")
        }

        async fn stop(mut self) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
            self.task.await.expect("join").expect("server ran cleanly");
        }
    }

    fn request(batch: Vec<jaeger_model::otlp::ResourceSpans>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: batch,
        }
    }

    #[tokio::test]
    async fn export_plain_gzip_and_zstd() {
        let server = start(1 << 20, 4 << 20).await;
        let mut client = server.client().await;
        let resp = client
            .export(request(spans_batch("plain", 2)))
            .await
            .expect("export")
            .into_inner();
        assert_eq!(
            resp.partial_success,
            Some(ExportTracePartialSuccess::default())
        );

        let mut gz = server
            .client()
            .await
            .send_compressed(CompressionEncoding::Gzip);
        gz.export(request(spans_batch("gzip", 3)))
            .await
            .expect("gzip export");
        let mut zst = server
            .client()
            .await
            .send_compressed(CompressionEncoding::Zstd);
        // Large enough to be decoded on the blocking pool.
        zst.export(request(spans_batch("zstd", 2000)))
            .await
            .expect("zstd export");

        assert_eq!(server.writer.span_count(), 2005);
        server.stop().await;
    }

    #[tokio::test]
    async fn bad_ids_partial_success_and_invalid_argument() {
        let server = start(1 << 20, 4 << 20).await;
        let mut client = server.client().await;
        let mut batch = spans_batch("svc", 3);
        batch[0].scope_spans[0].spans[2].parent_span_id = vec![9; 4];
        let resp = client
            .export(request(batch))
            .await
            .expect("export")
            .into_inner();
        let partial = resp.partial_success.expect("partial success");
        assert_eq!(partial.rejected_spans, 1);
        assert!(
            partial
                .error_message
                .contains("spans[2].parent_span_id: invalid length 4 bytes"),
            "{}",
            partial.error_message
        );
        assert_eq!(server.writer.span_count(), 2);

        let mut batch = spans_batch("svc", 1);
        batch[0].scope_spans[0].spans[0].trace_id = vec![1; 17];
        let err = client.export(request(batch)).await.expect_err("all bad");
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(
            err.message().contains("trace_id: invalid length 17"),
            "{}",
            err.message()
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn undecodable_message_is_internal() {
        let server = start(1 << 20, 4 << 20).await;
        let channel = Channel::from_shared(format!("http://{}", server.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.expect("ready");
        let err = grpc
            .unary::<Bytes, ExportTraceServiceResponse, _>(
                tonic::Request::new(Bytes::from_static(&[0x0a, 0x05, 0xff])),
                http::uri::PathAndQuery::from_static(EXPORT_PATH),
                BytesCodec,
            )
            .await
            .expect_err("garbage");
        assert_eq!(err.code(), tonic::Code::Internal);
        assert!(
            err.message()
                .starts_with("grpc: error unmarshalling request"),
            "{}",
            err.message()
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn oversized_message_is_resource_exhausted() {
        let server = start(1 << 20, 1024).await;
        let mut client = server.client().await;
        let err = client
            .export(request(spans_batch("big", 100)))
            .await
            .expect_err("too large");
        assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
        assert_eq!(server.writer.write_calls(), 0);
        server.stop().await;
    }

    #[tokio::test]
    async fn queue_full_and_storage_failure_are_unavailable_with_retry_info() {
        let server = start(100, 4 << 20).await;
        server.writer.block();
        let mut first_client = server.client().await;
        let first =
            tokio::spawn(async move { first_client.export(request(spans_batch("a", 3))).await });
        server.writer.wait_for_write_started().await;
        let mut client = server.client().await;
        let err = client
            .export(request(spans_batch("b", 3)))
            .await
            .expect_err("queue full");
        assert_eq!(err.code(), tonic::Code::Unavailable);
        assert!(err.message().contains("retry later"), "{}", err.message());
        let info = err.get_details_retry_info().expect("retry info");
        assert_eq!(info.retry_delay, Some(crate::error::RETRY_AFTER_BUSY));
        server.writer.unblock();
        first.await.expect("join").expect("first written");

        server.writer.fail_with("disk full");
        let err = client
            .export(request(spans_batch("c", 1)))
            .await
            .expect_err("storage failure");
        assert_eq!(err.code(), tonic::Code::Unavailable);
        assert!(err.message().contains("disk full"), "{}", err.message());
        server.stop().await;
    }

    #[tokio::test]
    async fn empty_request_is_ok_without_a_write() {
        let server = start(1 << 20, 4 << 20).await;
        let mut client = server.client().await;
        client.export(request(Vec::new())).await.expect("export");
        assert_eq!(server.writer.write_calls(), 0);
        server.stop().await;
    }

    /// Sends raw bytes as the request message.
    struct BytesCodec;
    struct BytesEncoder;
    struct ResponseDecoder;

    impl Codec for BytesCodec {
        type Encode = Bytes;
        type Decode = ExportTraceServiceResponse;
        type Encoder = BytesEncoder;
        type Decoder = ResponseDecoder;
        fn encoder(&mut self) -> BytesEncoder {
            BytesEncoder
        }
        fn decoder(&mut self) -> ResponseDecoder {
            ResponseDecoder
        }
    }

    impl Encoder for BytesEncoder {
        type Item = Bytes;
        type Error = Status;
        fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
            dst.put_slice(&item);
            Ok(())
        }
    }

    impl Decoder for ResponseDecoder {
        type Item = ExportTraceServiceResponse;
        type Error = Status;
        fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
            ExportTraceServiceResponse::decode(src)
                .map(Some)
                .map_err(|e| Status::internal(e.to_string()))
        }
    }
}
