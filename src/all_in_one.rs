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
use tonic::service::Routes;

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

/// The process-wide stop flag: `stop_tx.send(true)` ends every server; each call of the
/// returned closure is a future that resolves once the flag is set.
pub(crate) fn stop_flag() -> (
    watch::Sender<bool>,
    impl Fn() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Clone + Send + 'static,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        Box::pin(async move {
            let _ = rx.wait_for(|s| *s).await;
        }) as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
    };
    (stop_tx, stopped)
}

/// Health that follows the storage once it is open (and is red until then), and the cell
/// the storage is put in when it is.
pub(crate) fn storage_health() -> (Arc<std::sync::OnceLock<Storage>>, HealthState) {
    let cell: Arc<std::sync::OnceLock<Storage>> = Arc::default();
    let health = {
        let cell = cell.clone();
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
    (cell, health)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let metrics = install_metrics()?;
    jaeger_ingest::metrics::describe();
    jaeger_ingest::kafka::metrics::describe();
    // Every TLS file is read and checked before any port opens.
    let tls = crate::tls::ServerTls::load(&config).await?;

    // Admin endpoints first, so probes see "starting" while storage recovers.
    let (stop_tx, stopped) = stop_flag();
    let (storage_cell, health) = storage_health();
    let mut admin = tokio::task::JoinSet::new();
    if let Some(addr) = config.admin.health_endpoint {
        let l = bind("health check", addr).await?;
        let router = health_router(health.clone());
        admin.spawn(crate::tls::serve_router(
            l,
            tls.health.clone(),
            router,
            stopped(),
        ));
    }
    let metrics_l = bind("metrics", config.admin.metrics_endpoint).await?;
    admin.spawn(serve_router(
        metrics_l,
        metrics_router(metrics.clone()),
        stopped(),
    ));
    if let Some(addr) = config.admin.expvar_endpoint {
        let l = bind("expvar", addr).await?;
        let router = expvar_router(metrics.clone());
        admin.spawn(crate::tls::serve_router(
            l,
            tls.expvar.clone(),
            router,
            stopped(),
        ));
    }
    if let Some(addr) = config.admin.http_endpoint {
        let l = bind("admin (v1 health and metrics)", addr).await?;
        let router = legacy_admin_router(health.clone(), metrics.clone());
        admin.spawn(crate::tls::serve_router(
            l,
            tls.admin_http.clone(),
            router,
            stopped(),
        ));
    }

    crate::dependencies::check_schedule(&config)?;
    // With a Kafka exporter, accepted spans go to Kafka instead of storage.
    let (storage, kafka_exporter) = crate::ingester::open_storage(&config).await?;
    let _ = storage_cell.set(storage.clone());
    // The dependencies job on a schedule, in process: the embedded store is one process's.
    let mut jobs = tokio::task::JoinSet::new();
    if config.dependencies.schedule.is_some() {
        let (deps, st, s) = (config.dependencies.clone(), storage.clone(), stopped());
        jobs.spawn(async move { crate::dependencies::run_in_process(&deps, &st, s).await });
    }

    // Adaptive sampling counts the root spans on their way to storage.
    let adaptive = match &config.sampling.adaptive {
        Some(a) => Some((
            a.clone(),
            open_sampling_store(&config).await?,
            jaeger_ingest::sampling::adaptive::Aggregator::new(),
        )),
        None => None,
    };
    let writer = match &adaptive {
        Some((_, _, aggregator)) => jaeger_ingest::sampling::adaptive::ThroughputRecorder::wrap(
            storage.writer.clone(),
            aggregator.clone(),
        ),
        None => storage.writer.clone(),
    };
    let queue = SpanQueue::new(
        &config.queue,
        // Unchanged unless the test-only JAEGER_TEST_STORAGE_DELAY_MS is set.
        jaeger_ingest::test_delay::maybe_slow(writer),
    );
    let mut receivers = tokio::task::JoinSet::new();
    if let Some(addr) = config.otlp.grpc_endpoint {
        let l = bind("OTLP gRPC receiver", addr).await?;
        let (q, max, s) = (queue.clone(), config.otlp.max_grpc_message_bytes, stopped());
        match tls.otlp_grpc.clone() {
            None => {
                receivers.spawn(async move { Ok(serve_otlp_grpc(l, q, max, s).await?) });
            }
            Some(t) => {
                let routes = Routes::new(jaeger_ingest::OtlpGrpcService::new(q, max));
                receivers.spawn(crate::tls::serve_grpc(l, t, routes, s));
            }
        }
    }
    if let Some(addr) = config.otlp.http_endpoint {
        let l = bind("OTLP HTTP receiver", addr).await?;
        let (q, max, s) = (queue.clone(), config.otlp.max_request_body_bytes, stopped());
        match tls.otlp_http.clone() {
            None => {
                receivers.spawn(async move { Ok(serve_otlp_http(l, q, max, s).await?) });
            }
            Some(t) => {
                let router = jaeger_ingest::otlp_http_router(q, max);
                receivers.spawn(crate::tls::serve_router(l, Some(t), router, s));
            }
        }
    }
    if let Some(addr) = config.jaeger.grpc_endpoint {
        let l = bind("Jaeger gRPC receiver", addr).await?;
        let (q, max, s) = (queue.clone(), config.otlp.max_grpc_message_bytes, stopped());
        match tls.jaeger_grpc.clone() {
            None => {
                receivers.spawn(async move { Ok(serve_jaeger_grpc(l, q, max, s).await?) });
            }
            Some(t) => {
                let routes = Routes::new(jaeger_ingest::JaegerGrpcService::server(q, max));
                receivers.spawn(crate::tls::serve_grpc(l, t, routes, s));
            }
        }
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
    if let Some((a, store, aggregator)) = adaptive {
        let opts = jaeger_ingest::sampling::adaptive::AdaptiveOptions {
            target_samples_per_second: a.target_samples_per_second,
            delta_tolerance: a.delta_tolerance,
            calculation_interval: a.calculation_interval,
            aggregation_buckets: a.aggregation_buckets,
            calculation_buckets: a.calculation_buckets,
            calculation_delay: a.calculation_delay,
            initial_sampling_probability: a.initial_sampling_probability,
            min_sampling_probability: a.min_sampling_probability,
            min_samples_per_second: a.min_samples_per_second,
            hostname: std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into()),
            leader_lease_refresh_interval: a.leader_lease_refresh_interval,
            follower_lease_refresh_interval: a.follower_lease_refresh_interval,
        };
        tracing::info!(
            calculation_interval = ?a.calculation_interval,
            target_samples_per_second = a.target_samples_per_second,
            "remote sampling: adaptive"
        );
        jaeger_ingest::sampling::adaptive::start(
            opts,
            store,
            aggregator,
            sampling.clone(),
            stopped(),
        )
        .await;
    }
    if let Some(addr) = config.sampling.http_endpoint {
        let l = bind("remote sampling HTTP", addr).await?;
        let (p, s) = (sampling.clone(), stopped());
        match tls.sampling_http.clone() {
            None => receivers.spawn(async move {
                Ok(jaeger_ingest::sampling::serve_sampling_http(l, p, s).await?)
            }),
            Some(t) => {
                let router = jaeger_ingest::sampling::sampling_http_router(p);
                receivers.spawn(crate::tls::serve_router(l, Some(t), router, s))
            }
        };
    }
    if let Some(addr) = config.sampling.grpc_endpoint {
        let l = bind("remote sampling gRPC", addr).await?;
        let (p, s) = (sampling.clone(), stopped());
        match tls.sampling_grpc.clone() {
            None => receivers.spawn(async move {
                Ok(jaeger_ingest::sampling::serve_sampling_grpc(l, p, s).await?)
            }),
            Some(t) => {
                // The same services as the plain port: SamplingManager and health.
                use jaeger_ingest::sampling::SamplingGrpcService;
                let (reporter, health) = tonic_health::server::health_reporter();
                reporter
                    .set_service_status(
                        "jaeger.api_v2.SamplingManager",
                        tonic_health::ServingStatus::Serving,
                    )
                    .await;
                let routes = Routes::new(SamplingGrpcService::server(p)).add_service(health);
                receivers.spawn(crate::tls::serve_grpc(l, t, routes, s))
            }
        };
    }
    if let Some(addr) = config.jaeger.thrift_http_endpoint {
        let l = bind("Jaeger Thrift HTTP receiver", addr).await?;
        // Also `GET /api/sampling`, as Jaeger's v1 collector port did.
        let router =
            jaeger_ingest::jaeger_http_router(queue.clone(), config.otlp.max_request_body_bytes)
                .merge(jaeger_ingest::sampling::collector_sampling_router(
                    sampling.clone(),
                ));
        let t = tls.jaeger_thrift_http.clone();
        receivers.spawn(crate::tls::serve_router(l, t, router, stopped()));
    }
    if let Some(addr) = config.zipkin.endpoint {
        let l = bind("Zipkin receiver", addr).await?;
        let (q, max, s) = (queue.clone(), config.otlp.max_request_body_bytes, stopped());
        match tls.zipkin.clone() {
            None => receivers.spawn(async move { Ok(serve_zipkin(l, q, max, s).await?) }),
            Some(t) => {
                let router = jaeger_ingest::zipkin_router(q, max);
                receivers.spawn(crate::tls::serve_router(l, Some(t), router, s))
            }
        };
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
    // The ingester's Kafka consumer writes through the same queue as the receivers.
    if let Some(consumer) = crate::ingester::consumer(&config, &queue, stopped()) {
        receivers.spawn(consumer);
    }
    let mut query = tokio::task::JoinSet::new();
    if config.query.enabled {
        let query_l = bind("query HTTP server", config.query.http_endpoint).await?;
        let query_state = crate::query::query_state(&config, &storage).await?;
        if let Some(addr) = config.query.grpc_endpoint {
            let l = bind("query gRPC server", addr).await?;
            let (st, s) = (query_state.clone(), stopped());
            match tls.query_grpc.clone() {
                None => query.spawn(async move { crate::query::serve_grpc(l, &st, s).await }),
                Some(t) => {
                    let grpc = jaeger_query::grpc::GrpcQueryState::from_query_state(&st);
                    let routes = jaeger_query::grpc::routes(grpc)
                        .await
                        .context("query gRPC server")?;
                    query.spawn(crate::tls::serve_grpc(l, t, routes, s))
                }
            };
        }
        let query_router = jaeger_query::router(query_state);
        let t = tls.query_http.clone();
        query.spawn(crate::tls::serve_router(
            query_l,
            t,
            query_router,
            stopped(),
        ));
    }

    // Jaeger's `remote_storage` extension: this process's store for other processes.
    if let Some(addr) = config.remote_storage.endpoint {
        let l = bind("remote storage gRPC", addr).await?;
        query.spawn(crate::remote_storage::serve_grpc(
            l,
            &config,
            storage.clone(),
            tls.remote_storage.clone(),
            stopped(),
        ));
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
    if let Some(k) = &kafka_exporter {
        k.flush(Duration::from_secs(5)).await;
    }
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

/// Where adaptive sampling keeps throughput and probabilities: beside the embedded store
/// (`<data dir>/sampling`, survives restarts), in Jaeger's sampling tables of the
/// Cassandra keyspace (shared by collectors, which elect a leader), otherwise in memory.
async fn open_sampling_store(
    config: &Config,
) -> anyhow::Result<Arc<dyn jaeger_storage::sampling::SamplingStore>> {
    use jaeger_storage::sampling::{EmbeddedSamplingStore, MemorySamplingStore};
    match config.storage.kind {
        StorageKind::Embedded => {
            let dir = config.storage.embedded.data_dir.join("sampling");
            let d = dir.clone();
            // Opening a fjall database is blocking work.
            let store = tokio::task::spawn_blocking(move || EmbeddedSamplingStore::open(&d))
                .await
                .context("opening the sampling store panicked")?
                .with_context(|| format!("opening the sampling store in {}", dir.display()))?;
            Ok(store)
        }
        StorageKind::Memory => Ok(MemorySamplingStore::new()),
        StorageKind::Cassandra => {
            let c = config
                .storage
                .cassandra
                .as_ref()
                .context("storage kind cassandra without a cassandra section")?;
            // The span store opened first and created the schema if configured to.
            let cfg = jaeger_storage::cassandra::CassandraConfig {
                create_schema: false,
                ..cassandra_config(c)
            };
            let store = jaeger_storage::cassandra::CassandraSamplingStore::open(&cfg)
                .await
                .context("opening the cassandra sampling store")?;
            Ok(Arc::new(store))
        }
        _ => {
            tracing::warn!(
                "adaptive sampling keeps its throughput and probabilities in memory with this storage backend"
            );
            Ok(MemorySamplingStore::new())
        }
    }
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
        StorageKind::Grpc => {
            let g = config
                .storage
                .grpc
                .as_ref()
                .context("storage kind grpc without a grpc section (--grpc-storage.server)")?;
            crate::remote_storage::grpc_storage(g).await
        }
        StorageKind::Elasticsearch => {
            let e = config
                .storage
                .elasticsearch
                .as_ref()
                .context("storage kind elasticsearch without an elasticsearch section")?;
            // Reads secret and CA files: off the runtime.
            let section = e.clone();
            let cfg = tokio::task::spawn_blocking(move || es_config(&section))
                .await
                .context("reading the elasticsearch settings panicked")??;
            tracing::info!(
                "storage: {} {:?}, index prefix {:?}",
                if e.opensearch {
                    "opensearch"
                } else {
                    "elasticsearch"
                },
                cfg.server_urls,
                cfg.index_prefix
            );
            let store = jaeger_storage::elasticsearch::EsStore::open(cfg)
                .await
                .context("opening the elasticsearch/opensearch storage")?;
            Ok(Storage::from_backend(store))
        }
    }
}

/// The Elasticsearch / OpenSearch backend settings of Jaeger v2's
/// `backends.<name>.elasticsearch` / `.opensearch` (reads the secret and CA files).
pub fn es_config(
    e: &jaeger_config::ElasticsearchStorage,
) -> anyhow::Result<jaeger_storage::elasticsearch::EsConfig> {
    use jaeger_storage::elasticsearch::{
        AuthFile, AuthFileKind, EsAuth, EsConfig, IndexSettings, Rotation, TagsAsFields,
    };
    let b = &e.backend;
    // Secrets in files are read by the client, and read again every reload_interval.
    let mut auth_file = None;
    let mut from_file = |kind: AuthFileKind, path: &str, every: Option<std::time::Duration>| {
        auth_file = Some(AuthFile {
            kind,
            path: path.into(),
            reload_interval: every,
        });
        EsAuth::None
    };
    let read = |path: &str| -> anyhow::Result<String> {
        Ok(std::fs::read_to_string(path)
            .with_context(|| format!("reading {path}"))?
            .trim()
            .to_string())
    };
    let auth = if let Some(basic) = &b.auth.basic {
        match &basic.password_file {
            Some(f) => from_file(
                AuthFileKind::BasicPassword {
                    username: basic.username.clone(),
                },
                f,
                basic.reload_interval.as_ref().map(|d| d.0),
            ),
            None => EsAuth::Basic {
                username: basic.username.clone(),
                password: basic.password.clone(),
            },
        }
    } else if let Some(t) = &b.auth.bearer_token {
        match &t.file_path {
            Some(f) => from_file(
                AuthFileKind::Bearer,
                f,
                t.reload_interval.as_ref().map(|d| d.0),
            ),
            None => {
                anyhow::bail!("auth.bearer_token needs file_path (from_context is not supported)")
            }
        }
    } else if let Some(t) = &b.auth.api_key {
        match &t.file_path {
            Some(f) => from_file(
                AuthFileKind::ApiKey,
                f,
                t.reload_interval.as_ref().map(|d| d.0),
            ),
            None => anyhow::bail!("auth.api_key needs file_path (from_context is not supported)"),
        }
    } else {
        EsAuth::None
    };
    let ca_pem = match (&b.tls.ca_pem, &b.tls.ca_file) {
        (Some(p), _) => Some(p.clone().into_bytes()),
        (None, Some(f)) => {
            Some(std::fs::read(f).with_context(|| format!("reading tls.ca_file {f}"))?)
        }
        _ => None,
    };
    // Client certificate (mTLS): inline PEM or a file, for the certificate and the key.
    let pem = |inline: &Option<String>, file: &Option<String>, what: &str| match (inline, file) {
        (Some(p), _) => Ok(Some(p.clone().into_bytes())),
        (None, Some(f)) => std::fs::read(f)
            .map(Some)
            .with_context(|| format!("reading tls.{what}_file {f}")),
        _ => Ok(None),
    };
    let client_cert_pem = pem(&b.tls.cert_pem, &b.tls.cert_file, "cert")?;
    let client_key_pem = pem(&b.tls.key_pem, &b.tls.key_file, "key")?;
    if client_cert_pem.is_some() != client_key_pem.is_some() {
        anyhow::bail!("tls: cert_file and key_file are both required for a client certificate");
    }
    let settings = |i: &jaeger_config::v2::EsIndexOptions| IndexSettings {
        shards: i.shards,
        replicas: i.replicas,
        priority: i.priority,
    };
    let rotation = |i: &jaeger_config::v2::EsIndexOptions| {
        let periodic = i.rotation.as_ref().and_then(|r| r.periodic.as_ref());
        let layout = periodic
            .map(|p| p.date_layout.clone())
            .or_else(|| i.date_layout.clone())
            .unwrap_or_else(|| "2006-01-02".into());
        let freq = periodic
            .map(|p| p.rollover_frequency.clone())
            .or_else(|| i.rollover_frequency.clone())
            .unwrap_or_else(|| "day".into());
        Rotation {
            date_layout: layout,
            hourly: freq == "hour",
        }
    };
    let manual = |i: &jaeger_config::v2::EsIndexOptions| {
        i.rotation
            .as_ref()
            .is_some_and(|r| r.manual_rollover.is_some() || r.auto_rollover.is_some())
    };
    let taf = &b.tags_as_fields;
    let mut include: Vec<String> = taf
        .include
        .as_ref()
        .map(|l| {
            l.0.iter()
                .flat_map(|s| s.split(','))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(f) = &taf.config_file {
        include.extend(
            read(f)?
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty()),
        );
    }
    // Jaeger v2 always elevates these two.
    include.extend(["span.kind".to_string(), "error".to_string()]);
    Ok(EsConfig {
        server_urls: b.server_urls.0.clone(),
        opensearch: e.opensearch,
        version: b.version,
        auth,
        auth_file,
        ca_pem,
        client_cert_pem,
        client_key_pem,
        insecure_skip_verify: b.tls.insecure_skip_verify,
        custom_headers: b
            .custom_headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        http_compression: b.http_compression,
        query_timeout: b.query_timeout.map(|d| d.0),
        index_prefix: b.effective_index_prefix().to_string(),
        spans: settings(&b.indices.spans),
        services: settings(&b.indices.services),
        span_rotation: rotation(&b.indices.spans),
        service_rotation: rotation(&b.indices.services),
        dependencies_rotation: rotation(&b.indices.dependencies),
        use_aliases: b.use_aliases || manual(&b.indices.spans),
        create_templates: b.effective_create_mappings(),
        tags_as_fields: TagsAsFields {
            all: taf.all,
            include,
            dot_replacement: taf.dot_replacement.clone(),
        },
        bulk_max_bytes: usize::try_from(b.bulk_processing.max_bytes).unwrap_or(usize::MAX),
        bulk_workers: b.bulk_processing.workers.max(1) as usize,
        drop_rejected: b.poison_pill_handling.as_deref() == Some("drop"),
        refresh: None,
        max_span_age: b.max_span_age.0,
        max_trace_duration: b.max_trace_duration.0,
        max_doc_count: usize::try_from(b.max_doc_count).unwrap_or(10_000),
        service_cache_ttl: if b.service_cache_ttl.0.is_zero() {
            std::time::Duration::from_secs(12 * 3600)
        } else {
            b.service_cache_ttl.0
        },
    })
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
        disable_compression: c.schema.disable_compression,
        tls: (!c.connection.tls.insecure).then(|| {
            let t = &c.connection.tls;
            jaeger_storage::cassandra::CassandraTls {
                ca_file: t.ca_file.clone().map(Into::into),
                ca_pem: t.ca_pem.clone(),
                include_system_ca_certs_pool: t.include_system_ca_certs_pool,
                cert_file: t.cert_file.clone().map(Into::into),
                cert_pem: t.cert_pem.clone(),
                key_file: t.key_file.clone().map(Into::into),
                key_pem: t.key_pem.clone(),
                insecure_skip_verify: t.insecure_skip_verify,
                server_name_override: t.server_name_override.clone(),
            }
        }),
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

#[cfg(test)]
mod es_config_tests {
    use super::es_config;
    use jaeger_config::v2::{ElasticsearchBackend, EsTokenAuth, GoDuration};
    use jaeger_storage::elasticsearch::AuthFileKind;
    use std::time::Duration;

    #[test]
    fn client_certificate_and_reloaded_token_file_are_mapped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = |name: &str, body: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, body).expect("write");
            p.display().to_string()
        };
        let mut b = ElasticsearchBackend::default();
        b.tls.cert_file = Some(file("c.pem", "CERT"));
        b.tls.key_file = Some(file("k.pem", "KEY"));
        b.auth.bearer_token = Some(EsTokenAuth {
            file_path: Some(file("token", "t")),
            from_context: false,
            reload_interval: Some(GoDuration(Duration::from_secs(30))),
        });
        let section = jaeger_config::ElasticsearchStorage {
            opensearch: true,
            backend: b.clone(),
        };
        let c = es_config(&section).expect("config maps");
        assert_eq!(c.client_cert_pem.as_deref(), Some(&b"CERT"[..]));
        assert_eq!(c.client_key_pem.as_deref(), Some(&b"KEY"[..]));
        let f = c.auth_file.expect("token file");
        assert_eq!(f.kind, AuthFileKind::Bearer);
        assert_eq!(f.reload_interval, Some(Duration::from_secs(30)));
        // A certificate without its key stops start-up.
        b.tls.key_file = None;
        let section = jaeger_config::ElasticsearchStorage {
            opensearch: true,
            backend: b,
        };
        assert!(es_config(&section).is_err());
    }
}
