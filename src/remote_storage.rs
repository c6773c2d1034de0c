//! The `remote-storage` role: opens the configured backend (embedded by default, memory,
//! Cassandra, Elasticsearch...) and serves it over Jaeger's remote storage gRPC API
//! (`jaeger.storage.v2` readers + OTLP Export, default :17271), so that collectors and
//! query processes can share a store only one process may open. Also the `grpc`
//! backend's construction from its config section.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use jaeger_admin::{health_router, install_metrics, metrics_router};
use jaeger_config::{Config, StorageKind};
use jaeger_storage::Storage;
use jaeger_storage::grpc::{GrpcClientConfig, GrpcStore, RemoteStorageOptions};
use tokio::net::TcpListener;

use crate::cli::{Listen, parse_host_port, parse_optional_host_port};

/// Jaeger v1's admin port of jaeger-remote-storage.
const DEFAULT_ADMIN_PORT: u16 = 17270;

#[derive(Debug, Clone, clap::Args)]
pub struct RemoteStorageArgs {
    /// Address of the remote storage gRPC API (default `:17271`; the YAML's
    /// `extensions.remote_storage.endpoint` when set).
    #[arg(long = "grpc.host-port", value_parser = parse_host_port)]
    pub grpc: Option<SocketAddr>,
    /// Admin port: `GET /` health (v1 JSON), `GET /status`, `GET /metrics` (default
    /// `:17270`, as Jaeger's jaeger-remote-storage; `off` disables it).
    #[arg(long = "remote-storage.admin.host-port", value_parser = parse_optional_host_port)]
    pub admin: Option<Listen>,
}

/// The `grpc` backend from its `backends.<name>.grpc` section.
pub fn grpc_storage(g: &jaeger_config::v2::GrpcBackend) -> anyhow::Result<Storage> {
    if !g.tls.insecure {
        anyhow::bail!(
            "grpc storage {}: TLS to remote storage is not supported yet (set tls.insecure: true)",
            g.endpoint
        );
    }
    let mut cfg = GrpcClientConfig::new(g.endpoint.clone());
    cfg.timeout = g.timeout.0;
    cfg.writer_endpoint = g
        .writer
        .as_ref()
        .map(|w| w.endpoint.clone())
        .filter(|e| !e.is_empty());
    if let Some(mib) = g.max_recv_msg_size_mib {
        cfg.max_recv_bytes = usize::try_from(mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    }
    tracing::info!(
        "storage: remote storage at {} (timeout {:?})",
        cfg.endpoint,
        cfg.timeout
    );
    let store = GrpcStore::connect(&cfg).context("grpc storage")?;
    Ok(Storage::from_backend(Arc::new(store)))
}

pub fn run(config: Config, args: &RemoteStorageArgs) -> anyhow::Result<()> {
    // Flag, else the YAML's `extensions.remote_storage.endpoint`, else :17271.
    let grpc = args
        .grpc
        .or(config.remote_storage.endpoint)
        .unwrap_or(SocketAddr::from((
            [0, 0, 0, 0],
            jaeger_storage::grpc::DEFAULT_PORT,
        )));
    let admin = match args.admin {
        Some(Listen(a)) => a,
        None => Some(SocketAddr::from(([0, 0, 0, 0], DEFAULT_ADMIN_PORT))),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("jaeger-remote-storage")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(config, grpc, admin))
}

async fn serve(config: Config, grpc: SocketAddr, admin: Option<SocketAddr>) -> anyhow::Result<()> {
    if config.storage.kind == StorageKind::Grpc {
        anyhow::bail!("remote-storage cannot serve a grpc backend (it would call itself)");
    }
    let metrics = install_metrics()?;
    let (stop_tx, stopped) = crate::all_in_one::stop_flag();
    let (cell, health) = crate::all_in_one::storage_health();
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(addr) = admin {
        let l = bind("remote-storage admin", addr).await?;
        // `/` in v1's JSON and `/metrics`, plus v2's `/status`.
        let router = health_router(health.clone()).merge(metrics_router(metrics.clone()));
        let s = stopped();
        tasks.spawn(async move {
            axum::serve(l, router)
                .with_graceful_shutdown(s)
                .await
                .context("admin server failed")
        });
    }

    crate::dependencies::check_schedule(&config)?;
    let storage = crate::all_in_one::open_storage(&config).await?;
    let _ = cell.set(storage.clone());
    // The dependencies job runs here, next to the store: the API cannot write links.
    if config.dependencies.schedule.is_some() {
        let (deps, st, s) = (config.dependencies.clone(), storage.clone(), stopped());
        tasks.spawn(async move { crate::dependencies::run_in_process(&deps, &st, s).await });
    }

    let l = bind("remote storage gRPC", grpc).await?;
    tasks.spawn(serve_grpc(l, &config, storage.clone(), stopped()));
    health.set_ready();
    tracing::info!("remote storage is ready on {grpc}");

    let failure = tokio::select! {
        _ = crate::all_in_one::shutdown_signal() => None,
        Some(r) = tasks.join_next() => Some(r),
    };
    health.set_stopping();
    let _ = stop_tx.send(true);
    if let Some(r) = failure {
        r.context("server task panicked")?
            .context("a server stopped unexpectedly")?;
    }
    while let Some(r) = tasks.join_next().await {
        r.context("server task panicked")??;
    }
    drop(storage);
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn bind(what: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let l = TcpListener::bind(addr)
        .await
        .with_context(|| format!("{what}: cannot listen on {addr}"))?;
    tracing::info!("{what} listening on {}", l.local_addr().unwrap_or(addr));
    Ok(l)
}

/// The remote storage API over `storage` on `listener` (also used by the all-in-one for
/// Jaeger's `remote_storage` extension).
pub fn serve_grpc(
    listener: TcpListener,
    config: &Config,
    storage: Storage,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
    let options = RemoteStorageOptions {
        search_without_service: !matches!(config.storage.kind, StorageKind::Cassandra),
        ..Default::default()
    };
    async move {
        jaeger_storage::grpc::serve_remote_storage(listener, storage, options, stopped)
            .await
            .context("remote storage gRPC server failed")
    }
}
