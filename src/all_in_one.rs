//! The all-in-one role: OTLP receivers, query service and storage in one process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use jaeger_admin::{
    HealthState, expvar_router, health_router, install_metrics, legacy_admin_router, metrics_router,
};
use jaeger_config::{Config, StorageKind};
use jaeger_ingest::{
    SpanQueue, ThriftProtocol, serve_jaeger_grpc, serve_jaeger_udp, serve_otlp_grpc,
    serve_otlp_http, serve_zipkin,
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
    let mut admin = tokio::task::JoinSet::new();
    if let Some(addr) = config.admin.health_endpoint {
        let l = bind("health check", addr).await?;
        admin.spawn(serve_router(l, health_router(health.clone()), stopped()));
    }
    let metrics_l = bind("metrics", config.admin.metrics_endpoint).await?;
    admin.spawn(serve_router(
        metrics_l,
        metrics_router(metrics.clone()),
        stopped(),
    ));
    if let Some(addr) = config.admin.expvar_endpoint {
        let l = bind("expvar", addr).await?;
        admin.spawn(serve_router(l, expvar_router(metrics.clone()), stopped()));
    }
    if let Some(addr) = config.admin.http_endpoint {
        let l = bind("admin (v1 health and metrics)", addr).await?;
        let router = legacy_admin_router(health.clone(), metrics.clone());
        admin.spawn(serve_router(l, router, stopped()));
    }

    crate::dependencies::check_schedule(&config)?;
    let storage = open_storage(&config).await?;
    let _ = storage_cell.set(storage.clone());
    // The dependencies job on a schedule, in process: the embedded store is one process's.
    let mut jobs = tokio::task::JoinSet::new();
    if config.dependencies.schedule.is_some() {
        let (deps, st, s) = (config.dependencies.clone(), storage.clone(), stopped());
        jobs.spawn(async move { crate::dependencies::run_in_process(&deps, &st, s).await });
    }

    let queue = SpanQueue::new(
        &config.queue,
        // Unchanged unless the test-only JAEGER_TEST_STORAGE_DELAY_MS is set.
        jaeger_ingest::test_delay::maybe_slow(storage.writer.clone()),
    );
    let mut receivers = tokio::task::JoinSet::new();
    if let Some(addr) = config.otlp.grpc_endpoint {
        let l = bind("OTLP gRPC receiver", addr).await?;
        let (q, max, s) = (queue.clone(), config.otlp.max_grpc_message_bytes, stopped());
        match &config.otlp.grpc_tls {
            None => {
                receivers.spawn(async move { Ok(serve_otlp_grpc(l, q, max, s).await?) });
            }
            Some(files) => {
                // gRPC is HTTP/2: axum serves the tonic service over the TLS listener.
                let svc = jaeger_ingest::OtlpGrpcService::new(q, max);
                let router = axum::Router::new().fallback_service(svc);
                receivers.spawn(crate::tls::serve_router(l, files, router, s).await?);
            }
        }
    }
    if let Some(addr) = config.otlp.http_endpoint {
        let l = bind("OTLP HTTP receiver", addr).await?;
        let (q, max, s) = (queue.clone(), config.otlp.max_request_body_bytes, stopped());
        match &config.otlp.http_tls {
            None => {
                receivers.spawn(async move { Ok(serve_otlp_http(l, q, max, s).await?) });
            }
            Some(files) => {
                let router = jaeger_ingest::otlp_http_router(q, max);
                receivers.spawn(crate::tls::serve_router(l, files, router, s).await?);
            }
        }
    }
    if let Some(addr) = config.jaeger.grpc_endpoint {
        let l = bind("Jaeger gRPC receiver", addr).await?;
        let (q, max, s) = (queue.clone(), config.otlp.max_grpc_message_bytes, stopped());
        receivers.spawn(async move { Ok(serve_jaeger_grpc(l, q, max, s).await?) });
    }
    let sampling = jaeger_ingest::sampling::StrategyProvider::from_file(
        jaeger_ingest::sampling::FileProviderOptions {
            path: config.sampling.strategies_file.clone(),
            reload_interval: config.sampling.reload_interval,
            default_sampling_probability: config.sampling.default_sampling_probability,
        },
        stopped(),
    )
    .await
    .context("remote sampling")?;
    if let Some(addr) = config.sampling.http_endpoint {
        let l = bind("remote sampling HTTP", addr).await?;
        let (p, s) = (sampling.clone(), stopped());
        receivers
            .spawn(async move { Ok(jaeger_ingest::sampling::serve_sampling_http(l, p, s).await?) });
    }
    if let Some(addr) = config.sampling.grpc_endpoint {
        let l = bind("remote sampling gRPC", addr).await?;
        let (p, s) = (sampling.clone(), stopped());
        receivers
            .spawn(async move { Ok(jaeger_ingest::sampling::serve_sampling_grpc(l, p, s).await?) });
    }
    if let Some(addr) = config.jaeger.thrift_http_endpoint {
        let l = bind("Jaeger Thrift HTTP receiver", addr).await?;
        // Also `GET /api/sampling`, as Jaeger's v1 collector port did.
        let router =
            jaeger_ingest::jaeger_http_router(queue.clone(), config.otlp.max_request_body_bytes)
                .merge(jaeger_ingest::sampling::collector_sampling_router(
                    sampling.clone(),
                ));
        receivers.spawn(serve_router(l, router, stopped()));
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
    let mut query = tokio::task::JoinSet::new();
    if config.query.enabled {
        let query_l = bind("query HTTP server", config.query.http_endpoint).await?;
        let query_state = crate::query::query_state(&config, &storage).await?;
        if let Some(addr) = config.query.grpc_endpoint {
            let l = bind("query gRPC server", addr).await?;
            let (st, s) = (query_state.clone(), stopped());
            query.spawn(async move { crate::query::serve_grpc(l, &st, s).await });
        }
        let query_router = jaeger_query::router(query_state);
        match &config.query.http_tls {
            None => {
                query.spawn(serve_router(query_l, query_router, stopped()));
            }
            Some(files) => {
                let server = crate::tls::serve_router(query_l, files, query_router, stopped());
                query.spawn(server.await?);
            }
        }
    }

    health.set_ready();
    if config.query.enabled {
        tracing::info!(
            "jaeger is ready; open http://localhost:{}",
            config.query.http_endpoint.port()
        );
    } else {
        tracing::info!("jaeger is ready");
    }

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
    while let Some(r) = jobs.join_next().await {
        if let Err(e) = flatten(r) {
            tracing::error!("dependencies schedule: {e:#}");
        }
    }
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

pub(crate) async fn open_storage(config: &Config) -> anyhow::Result<Storage> {
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
        StorageKind::Cassandra => {
            let c = config
                .storage
                .cassandra
                .as_ref()
                .context("storage kind cassandra without a cassandra section")?;
            let cfg = cassandra_config(c);
            tracing::info!(
                "storage: cassandra {:?}, keyspace {}{}",
                cfg.servers,
                cfg.schema.keyspace,
                if cfg.create_schema {
                    " (schema.create)"
                } else {
                    ""
                }
            );
            let store = jaeger_storage::cassandra::CassandraStore::open(cfg)
                .await
                .context("opening the cassandra storage")?;
            Ok(Storage::from_backend(store))
        }
    }
}

/// The Cassandra backend settings of Jaeger v2's `backends.<name>.cassandra`.
pub fn cassandra_config(
    c: &jaeger_config::v2::CassandraBackend,
) -> jaeger_storage::cassandra::CassandraConfig {
    use jaeger_storage::cassandra::{CassandraConfig, SchemaOptions, TagIndexOptions};
    let list = |l: &Option<jaeger_config::v2::StringList>| {
        l.as_ref()
            .map(|l| {
                l.0.iter()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let basic = c.connection.auth.basic.as_ref();
    CassandraConfig {
        servers: c.connection.servers.0.clone(),
        port: c.connection.port,
        username: basic.map(|b| b.username.clone()).filter(|u| !u.is_empty()),
        password: basic.map(|b| b.password.clone()),
        local_dc: c.connection.local_dc.clone(),
        consistency: c.query.consistency.clone(),
        connect_timeout: c.connection.timeout.map(|d| d.0),
        query_timeout: c.query.timeout.map(|d| d.0),
        max_retry_attempts: c.query.max_retry_attempts,
        create_schema: c.schema.create,
        schema: SchemaOptions {
            keyspace: c.schema.keyspace.clone(),
            datacenter: c.schema.datacenter.clone(),
            replication_factor: c.schema.replication_factor,
            trace_ttl: c.schema.trace_ttl.0,
            dependencies_ttl: c.schema.dependencies_ttl.0,
            compaction_window: c.schema.compaction_window.0,
        },
        write_cache_ttl: c.span_store_write_cache_ttl.0,
        index: TagIndexOptions {
            tags: c.index.tags,
            process_tags: c.index.process_tags,
            logs: c.index.logs,
            blacklist: list(&c.index.tag_blacklist),
            whitelist: list(&c.index.tag_whitelist),
        },
        tls: !c.connection.tls.insecure,
    }
}

pub(crate) async fn shutdown_signal() {
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
