//! The all-in-one role: OTLP receivers, query service and storage in one process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use jaeger_admin::{HealthState, health_router, install_metrics, metrics_router};
use jaeger_config::{Config, StorageKind};
use jaeger_ingest::{
    SpanQueue, ThriftProtocol, serve_jaeger_grpc, serve_jaeger_http, serve_jaeger_udp,
    serve_otlp_grpc, serve_otlp_http, serve_zipkin,
};
use jaeger_storage::Storage;
use jaeger_storage::embedded::{EmbeddedStore, EmbeddedStoreConfig};
use jaeger_storage::memory::MemoryStore;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How often the embedded store looks for partitions past retention.
const RETENTION_SWEEP: Duration = Duration::from_secs(300);

pub fn run(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("jaeger")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(config))
}

async fn bind(what: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let l = TcpListener::bind(addr)
        .await
        .with_context(|| format!("{what}: cannot listen on {addr}"))?;
    tracing::info!("{what} listening on {}", l.local_addr().unwrap_or(addr));
    Ok(l)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let metrics = install_metrics()?;
    jaeger_ingest::metrics::describe();

    // Admin endpoints first, so probes see "starting" while storage recovers.
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let storage_cell: Arc<std::sync::OnceLock<Storage>> = Arc::default();
    let health = {
        let cell = storage_cell.clone();
        HealthState::with_check(move || {
            let cell = cell.clone();
            Box::pin(async move {
                match cell.get() {
                    Some(s) => s.health.is_healthy().await,
                    None => false,
                }
            })
        })
    };
    let health_l = bind("health check", config.admin.health_endpoint).await?;
    let metrics_l = bind("metrics", config.admin.metrics_endpoint).await?;
    let mut admin = tokio::task::JoinSet::new();
    admin.spawn(serve_router(
        health_l,
        health_router(health.clone()),
        stopped(),
    ));
    admin.spawn(serve_router(metrics_l, metrics_router(metrics), stopped()));

    let storage = open_storage(&config).await?;
    let _ = storage_cell.set(storage.clone());

    let queue = SpanQueue::new(&config.queue, storage.writer.clone());
    let grpc_l = bind("OTLP gRPC receiver", config.otlp.grpc_endpoint).await?;
    let http_l = bind("OTLP HTTP receiver", config.otlp.http_endpoint).await?;
    let query_l = bind("query HTTP server", config.query.http_endpoint).await?;

    let mut receivers = tokio::task::JoinSet::new();
    receivers.spawn({
        let q = queue.clone();
        let max = config.otlp.max_grpc_message_bytes;
        let s = stopped();
        async move {
            serve_otlp_grpc(grpc_l, q, max, s)
                .await
                .map_err(anyhow::Error::from)
        }
    });
    receivers.spawn({
        let q = queue.clone();
        let max = config.otlp.max_request_body_bytes;
        let s = stopped();
        async move {
            serve_otlp_http(http_l, q, max, s)
                .await
                .map_err(anyhow::Error::from)
        }
    });
    let mut query_state =
        jaeger_query::QueryState::new(storage.reader.clone(), storage.dependencies.clone());
    query_state.base_path = config.query.base_path.clone();
    query_state.adjusters =
        jaeger_query::adjuster::standard_adjusters(config.query.max_clock_skew_adjust);
    if let Some(addr) = config.jaeger.grpc_endpoint {
        let l = bind("Jaeger gRPC receiver", addr).await?;
        let (q, max, s) = (queue.clone(), config.otlp.max_grpc_message_bytes, stopped());
        receivers.spawn(async move { Ok(serve_jaeger_grpc(l, q, max, s).await?) });
    }
    if let Some(addr) = config.jaeger.thrift_http_endpoint {
        let l = bind("Jaeger Thrift HTTP receiver", addr).await?;
        let (q, max, s) = (queue.clone(), config.otlp.max_request_body_bytes, stopped());
        receivers.spawn(async move { Ok(serve_jaeger_http(l, q, max, s).await?) });
    }
    if let Some(addr) = config.zipkin.endpoint {
        let l = bind("Zipkin receiver", addr).await?;
        let (q, max, s) = (queue.clone(), config.otlp.max_request_body_bytes, stopped());
        receivers.spawn(async move { Ok(serve_zipkin(l, q, max, s).await?) });
    }
    for (what, addr, protocol) in [
        (
            "Jaeger agent UDP (compact Thrift)",
            config.jaeger.thrift_compact_endpoint,
            ThriftProtocol::Compact,
        ),
        (
            "Jaeger agent UDP (binary Thrift)",
            config.jaeger.thrift_binary_endpoint,
            ThriftProtocol::Binary,
        ),
    ] {
        let Some(addr) = addr else { continue };
        let socket = tokio::net::UdpSocket::bind(addr)
            .await
            .with_context(|| format!("{what}: cannot listen on {addr}"))?;
        tracing::info!(
            "{what} listening on {}",
            socket.local_addr().unwrap_or(addr)
        );
        let (q, s) = (queue.clone(), stopped());
        receivers.spawn(async move {
            serve_jaeger_udp(socket, protocol, q, s).await?;
            Ok(())
        });
    }
    let query_router = jaeger_query::router(query_state);
    let mut query = tokio::task::JoinSet::new();
    query.spawn(serve_router(query_l, query_router, stopped()));

    health.set_ready();
    tracing::info!(
        "jaeger all-in-one is ready; open http://localhost:{}",
        config.query.http_endpoint.port()
    );

    // Run until a signal, or until a server fails.
    let failure = tokio::select! {
        _ = shutdown_signal() => None,
        Some(r) = receivers.join_next() => Some(r),
        Some(r) = query.join_next() => Some(r),
    };
    health.set_stopping();
    let _ = stop_tx.send(true);
    if let Some(r) = failure {
        flatten(r).context("a server stopped unexpectedly")?;
    }
    // Receivers stop accepting first; then everything acknowledged-pending is written.
    while let Some(r) = receivers.join_next().await {
        flatten(r)?;
    }
    queue.shutdown().await;
    while let Some(r) = query.join_next().await {
        flatten(r)?;
    }
    while admin.join_next().await.is_some() {}
    drop(storage);
    tracing::info!("stopped cleanly");
    Ok(())
}

fn flatten(r: Result<anyhow::Result<()>, tokio::task::JoinError>) -> anyhow::Result<()> {
    r.context("server task panicked")?
}

async fn serve_router(
    listener: TcpListener,
    router: axum::Router,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(stopped)
        .await
        .context("HTTP server failed")
}

async fn open_storage(config: &Config) -> anyhow::Result<Storage> {
    match config.storage.kind {
        StorageKind::Memory => {
            tracing::info!(
                max_traces = config.storage.memory.max_traces,
                "storage: memory (lost on restart)"
            );
            Ok(Storage::from_backend(MemoryStore::new(
                config.storage.memory.max_traces,
            )))
        }
        StorageKind::Embedded => {
            let e = &config.storage.embedded;
            tracing::info!(
                "storage: embedded, data directory {} (retention {})",
                e.data_dir.display(),
                jaeger_config::humantime_serde_compat::format_duration(e.retention)
            );
            let cfg = EmbeddedStoreConfig {
                data_dir: e.data_dir.clone(),
                retention: e.retention,
                partition_width: e.partition_width,
                sync_writes: e.sync_writes,
                cache_mib: e.cache_mib,
            };
            // Opening replays the journal: blocking work.
            let store = tokio::task::spawn_blocking(move || EmbeddedStore::open(cfg))
                .await
                .context("opening the embedded store panicked")?
                .with_context(|| {
                    format!("opening the embedded store in {}", e.data_dir.display())
                })?;
            store.spawn_retention_task(RETENTION_SWEEP);
            Ok(Storage::from_backend(store))
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("interrupt received, shutting down"),
        _ = term => tracing::info!("SIGTERM received, shutting down"),
    }
}
