//! Remote sampling over gRPC: `jaeger.api_v2.SamplingManager/GetSamplingStrategy`
//! (default port 5779), with `grpc.health.v1` reporting the service as SERVING.

use std::future::Future;

use jaeger_proto::api_v2::sampling_manager_server::{SamplingManager, SamplingManagerServer};
use jaeger_proto::api_v2::{SamplingStrategyParameters, SamplingStrategyResponse};
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

use super::provider::StrategyProvider;
use crate::error::IngestError;

/// The `SamplingManager` implementation.
#[derive(Clone)]
pub struct SamplingGrpcService {
    provider: StrategyProvider,
}

impl SamplingGrpcService {
    pub fn server(provider: StrategyProvider) -> SamplingManagerServer<SamplingGrpcService> {
        SamplingManagerServer::new(SamplingGrpcService { provider })
    }
}

#[tonic::async_trait]
impl SamplingManager for SamplingGrpcService {
    async fn get_sampling_strategy(
        &self,
        request: Request<SamplingStrategyParameters>,
    ) -> Result<Response<SamplingStrategyResponse>, Status> {
        super::sampling_request("grpc");
        let service = request.into_inner().service_name;
        Ok(Response::new(self.provider.strategy(&service)))
    }
}

/// Serves the sampling manager and gRPC health on `listener` until `shutdown` resolves.
pub async fn serve_sampling_grpc(
    listener: TcpListener,
    provider: StrategyProvider,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), IngestError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<SamplingManagerServer<SamplingGrpcService>>()
        .await;
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(SamplingGrpcService::server(provider))
        .add_service(health)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| IngestError::Server {
            transport: "sampling grpc",
            source: Box::new(e),
        })
}
