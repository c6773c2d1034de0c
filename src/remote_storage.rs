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
use jaeger_storage::grpc::{
    GrpcClientConfig, GrpcStore, RemoteStorageOptions, ServerTenancy, TenantOpener,
};
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

/// A `tls` client block as the storage crate's settings; `None` when `insecure`.
fn client_tls_settings(
    t: &jaeger_config::v2::TlsClientConfig,
) -> Option<jaeger_storage::grpc::tls::ClientTlsSettings> {
    (!t.insecure).then(|| jaeger_storage::grpc::tls::ClientTlsSettings {
        ca_file: t.ca_file.clone().map(Into::into),
        ca_pem: t.ca_pem.clone(),
        include_system_ca_certs_pool: t.include_system_ca_certs_pool,
        cert_file: t.cert_file.clone().map(Into::into),
        cert_pem: t.cert_pem.clone(),
        key_file: t.key_file.clone().map(Into::into),
        key_pem: t.key_pem.clone(),
        insecure_skip_verify: t.insecure_skip_verify,
        server_name_override: t.server_name_override.clone(),
    })
}

/// The `grpc` backend from its `backends.<name>.grpc` section. The TLS files are read
/// here (a bad file stops start-up); the connection is made on first use, and a
/// background probe logs why the server cannot be reached (a TLS failure, say).
pub async fn grpc_storage(g: &jaeger_config::v2::GrpcBackend) -> anyhow::Result<Storage> {
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
    if let Some(t) = &g.multi_tenancy {
        cfg.tenant_header = t.header.clone();
    }
    let read_tls = client_tls_settings(&g.tls);
    let write_tls = match (&cfg.writer_endpoint, &g.writer) {
        (Some(_), Some(w)) => client_tls_settings(&w.tls),
        _ => None,
    };
    let (tls, writer_tls) = tokio::task::spawn_blocking(move || {
        let load = |s: Option<jaeger_storage::grpc::tls::ClientTlsSettings>, what: &str| {
            s.map(|s| jaeger_storage::grpc::tls::ClientTls::load(&s, what))
                .transpose()
        };
        Ok::<_, jaeger_storage::StorageError>((
            load(read_tls, "grpc storage tls")?,
            load(write_tls, "grpc storage writer.tls")?,
        ))
    })
    .await
    .context("loading TLS files panicked")??;
    cfg.tls = tls;
    cfg.writer_tls = writer_tls;
    tracing::info!(
        "storage: remote storage at {} ({}, timeout {:?})",
        cfg.endpoint,
        if cfg.tls.is_some() {
            "TLS"
        } else {
            "plain text"
        },
        cfg.timeout
    );
    let store = GrpcStore::connect(&cfg).context("grpc storage")?;
    let probe = store.clone();
    tokio::spawn(async move {
        match probe.probe().await {
            Ok(()) => tracing::info!("remote storage {} is serving", probe.endpoint()),
            Err(e) => tracing::warn!("remote storage is not usable yet: {e}"),
        }
    });
    Ok(Storage::from_backend(Arc::new(store)))
}

pub fn run(mut config: Config, args: &RemoteStorageArgs) -> anyhow::Result<()> {
    // v1's `--multi-tenancy.*` flags land in the query settings; jaeger-remote-storage
    // reads the same flags, so they apply here when the YAML set no tenancy.
    if !config.remote_storage.multi_tenancy.enabled && config.query.multi_tenancy.enabled {
        let q = &config.query.multi_tenancy;
        config.remote_storage.multi_tenancy = q.clone();
    }
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

    let tls = match config.remote_storage.tls.clone() {
        Some(files) => Some(
            tokio::task::spawn_blocking(move || {
                crate::tls::build_server_config(&files, "extensions.remote_storage.tls")
            })
            .await
            .context("loading TLS files panicked")??,
        ),
        None => None,
    };
    let l = bind("remote storage gRPC", grpc).await?;
    tasks.spawn(serve_grpc(l, &config, storage.clone(), tls, stopped()));
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

/// The remote storage API over `storage` on `listener`, over TLS with `tls` (also used
/// by the all-in-one for Jaeger's `remote_storage` extension).
pub fn serve_grpc(
    listener: TcpListener,
    config: &Config,
    storage: Storage,
    tls: Option<Arc<rustls::ServerConfig>>,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
    let mut options = RemoteStorageOptions {
        search_without_service: !matches!(config.storage.kind, StorageKind::Cassandra),
        ..Default::default()
    };
    let t = &config.remote_storage.multi_tenancy;
    let tenancy = t.enabled.then(|| {
        Ok::<_, anyhow::Error>(ServerTenancy {
            header: t.header.to_ascii_lowercase(),
            tenants: t.tenants.clone(),
            open: tenant_opener(config)?,
        })
    });
    async move {
        if let Some(t) = tenancy {
            let t = t?;
            tracing::info!(
                "remote storage: multi-tenancy on (header {}, {} known tenants; a store per tenant)",
                t.header,
                if t.tenants.is_empty() {
                    "any".to_string()
                } else {
                    t.tenants.len().to_string()
                }
            );
            options.tenancy = Some(t);
        }
        match tls {
            None => jaeger_storage::grpc::serve_remote_storage(listener, storage, options, stopped)
                .await
                .context("remote storage gRPC server failed"),
            Some(tls) => {
                let routes = jaeger_storage::grpc::server::routes(storage, options).await;
                crate::tls::serve_grpc(listener, tls, routes, stopped)
                    .await
                    .context("remote storage gRPC server (TLS) failed")
            }
        }
    }
}

/// Opens a tenant's own store: a memory store of the same bound, or an embedded store
/// in `<data_dir>/tenants/<tenant>`. Other backends have no per-tenant layout here.
fn tenant_opener(config: &Config) -> anyhow::Result<TenantOpener> {
    match &config.storage.kind {
        StorageKind::Memory | StorageKind::Embedded => {}
        other => anyhow::bail!(
            "remote storage multi_tenancy needs the memory or badger (embedded) backend, not \
             {other:?}: tenants would share one store"
        ),
    }
    let base = config.clone();
    Ok(Arc::new(move |tenant: String| {
        let mut c = base.clone();
        let open: std::pin::Pin<
            Box<dyn Future<Output = Result<Storage, jaeger_storage::StorageError>> + Send>,
        > = Box::pin(async move {
            c.storage.embedded.data_dir = c
                .storage
                .embedded
                .data_dir
                .join("tenants")
                .join(tenant_dir(&tenant));
            crate::all_in_one::open_storage(&c)
                .await
                .map_err(|e| jaeger_storage::StorageError::Unavailable(format!("{e:#}")))
        });
        open
    }))
}

/// A directory name for a tenant: the name itself when it is plainly safe, else hex.
fn tenant_dir(tenant: &str) -> String {
    let safe = !tenant.is_empty()
        && !tenant.starts_with('.')
        && tenant.len() <= 64
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if safe {
        tenant.to_string()
    } else {
        let hex: String = tenant.bytes().map(|b| format!("{b:02x}")).collect();
        format!("x-{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::tenant_dir;

    #[test]
    fn tenant_directories_cannot_escape() {
        assert_eq!(tenant_dir("acme"), "acme");
        assert_eq!(tenant_dir("team-a_1.prod"), "team-a_1.prod");
        assert_eq!(tenant_dir(".."), "x-2e2e");
        assert_eq!(tenant_dir("a/b"), "x-612f62");
    }
}
