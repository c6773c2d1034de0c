//! The shared storage conformance suite through the `grpc` backend: a remote storage
//! server on 127.0.0.1 (in this process) serving an embedded store, and a `GrpcStore`
//! client talking to it over TCP.
//!
//! Dependency links: Jaeger's remote storage API only READS them (no writer service),
//! so the dependencies case writes its links into the served store directly and reads
//! them back through gRPC. Everything else goes through the client.

use std::sync::Arc;

use async_trait::async_trait;
use jaeger_storage::conformance::Guard;
use jaeger_storage::embedded::{EmbeddedStore, EmbeddedStoreConfig};
use jaeger_storage::grpc::{GrpcClientConfig, GrpcStore, RemoteStorageOptions};
use jaeger_storage::{DependencyLink, DependencyStore, Storage, StorageError, UnixNanos};

/// Reads through gRPC, writes into the served store (the API has no dependency writer).
struct DepsThroughGrpc {
    remote: GrpcStore,
    served: Arc<dyn DependencyStore>,
}

#[async_trait]
impl DependencyStore for DepsThroughGrpc {
    async fn get_dependencies(
        &self,
        end: UnixNanos,
        lookback: u64,
    ) -> Result<Vec<DependencyLink>, StorageError> {
        self.remote.get_dependencies(end, lookback).await
    }
    async fn write_dependencies(
        &self,
        start: UnixNanos,
        end: UnixNanos,
        links: Vec<DependencyLink>,
    ) -> Result<(), StorageError> {
        self.served.write_dependencies(start, end, links).await
    }
}

struct Server {
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn open() -> (Storage, Guard) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(EmbeddedStoreConfig::new(dir.path())).expect("store opens");
    let served = Storage::from_backend(store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(jaeger_storage::grpc::serve_remote_storage(
        listener,
        served.clone(),
        RemoteStorageOptions::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let client = GrpcStore::connect(&GrpcClientConfig::new(addr.to_string())).expect("client");
    let storage = Storage {
        writer: Arc::new(client.clone()),
        reader: Arc::new(client.clone()),
        dependencies: Arc::new(DepsThroughGrpc {
            remote: client.clone(),
            served: served.dependencies.clone(),
        }),
        health: Arc::new(client),
    };
    let guard = Server {
        _dir: dir,
        stop: Some(stop),
    };
    (storage, Box::new(guard))
}

jaeger_storage::conformance_tests!(open);

/// The client alone refuses to write links, saying why.
#[tokio::test]
async fn grpc_backend_cannot_write_dependencies() {
    let client = GrpcStore::connect(&GrpcClientConfig::new("127.0.0.1:9")).expect("lazy client");
    match client.write_dependencies(0, 1, Vec::new()).await {
        Err(StorageError::Unsupported(why)) => assert!(why.contains("remote storage"), "{why}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

/// A server that is not there: unhealthy, and reads fail as Unavailable (not a panic,
/// not a hang past the timeout).
#[tokio::test]
async fn grpc_backend_without_server_is_unavailable() {
    use jaeger_storage::{SpanReader, StorageHealth};
    // Bind then drop: a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut cfg = GrpcClientConfig::new(format!("127.0.0.1:{port}"));
    cfg.timeout = std::time::Duration::from_secs(2);
    let client = GrpcStore::connect(&cfg).expect("lazy client");
    assert!(!client.is_healthy().await);
    match client.get_services().await {
        Err(StorageError::Unavailable(m)) => assert!(m.contains(&port.to_string()), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
