//! The query service's wiring: HTTP options, UI assets and config, archive storage, and
//! the gRPC query server, all from [`Config`].

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use jaeger_config::{ArchiveConfig, Config, StorageKind};
use jaeger_query::middleware::parse_response_header;
use jaeger_query::{
    CorsOptions, HttpOptions, QueryState, TenancyOptions, UiAssets, UiConfigFile, UiOptions,
};
use jaeger_storage::Storage;
use jaeger_storage::embedded::{EmbeddedStore, EmbeddedStoreConfig};
use jaeger_storage::memory::MemoryStore;
use tokio::net::TcpListener;

/// Archived traces stay until deleted: the archive store runs no retention, and its
/// partitions are wide because it sees few writes.
const ARCHIVE_PARTITION_WIDTH: Duration = Duration::from_secs(30 * 24 * 3600);

/// The query state for `storage`, with everything `config.query` asks for. Opens the
/// archive store; a UI directory or config file that cannot be read stops start-up, as
/// in Jaeger.
pub async fn query_state(config: &Config, storage: &Storage) -> anyhow::Result<QueryState> {
    let q = &config.query;
    let mut state = QueryState::new(storage.reader.clone(), storage.dependencies.clone());
    state.base_path = q.base_path.clone();
    state.adjusters = jaeger_query::adjuster::standard_adjusters(q.max_clock_skew_adjust);
    state.max_trace_size = q.max_trace_size;
    state.ui = ui_options(config).await?;
    state.http = http_options(config)?;
    if let Some(a) = &q.archive {
        let archive = open_archive(a).await?;
        state.archive_reader = Some(archive.reader);
        state.archive_writer = Some(archive.writer);
    }
    Ok(state)
}

async fn ui_options(config: &Config) -> anyhow::Result<UiOptions> {
    let q = config.query.clone();
    // Reading the UI directory and config file is blocking start-up work.
    tokio::task::spawn_blocking(move || -> anyhow::Result<UiOptions> {
        let mut ui = UiOptions::default();
        if let Some(dir) = &q.static_files {
            ui.assets = UiAssets::from_dir(dir).context("--query.static-files")?;
            tracing::info!("serving the UI from {}", dir.display());
        }
        if let Some(file) = &q.ui_config {
            ui.config_file = Some(UiConfigFile::load(file).context("--query.ui-config")?);
        }
        Ok(ui)
    })
    .await
    .context("loading the UI options panicked")?
}

fn http_options(config: &Config) -> anyhow::Result<HttpOptions> {
    let q = &config.query;
    let mut http = HttpOptions {
        bearer_token_propagation: q.bearer_token_propagation,
        ..HttpOptions::default()
    };
    for h in &q.additional_headers {
        http.response_headers.push(
            parse_response_header(h)
                .map_err(anyhow::Error::msg)
                .context("--query.additional-headers")?,
        );
    }
    if !q.cors.allowed_origins.is_empty() {
        http.cors = Some(CorsOptions {
            allowed_origins: q.cors.allowed_origins.clone(),
            allowed_headers: q.cors.allowed_headers.clone(),
            max_age: None,
        });
    }
    let t = &q.multi_tenancy;
    if t.enabled {
        let header = axum::http::HeaderName::from_bytes(t.header.trim().as_bytes())
            .with_context(|| format!("--multi-tenancy.header: invalid header {:?}", t.header))?;
        http.tenancy = Some(TenancyOptions {
            header,
            tenants: t.tenants.clone(),
        });
    }
    Ok(http)
}

async fn open_archive(a: &ArchiveConfig) -> anyhow::Result<Storage> {
    match a.kind {
        StorageKind::Memory => {
            tracing::info!(max_traces = a.max_traces, "archive storage: memory");
            Ok(Storage::from_backend(MemoryStore::new(a.max_traces)))
        }
        StorageKind::Embedded => {
            let dir = a
                .data_dir
                .clone()
                .context("an embedded archive store needs a directory")?;
            tracing::info!(
                "archive storage: embedded, data directory {}",
                dir.display()
            );
            let mut cfg = EmbeddedStoreConfig::new(dir.clone());
            cfg.partition_width = ARCHIVE_PARTITION_WIDTH;
            let store = tokio::task::spawn_blocking(move || EmbeddedStore::open(cfg))
                .await
                .context("opening the archive store panicked")?
                .with_context(|| format!("opening the archive store in {}", dir.display()))?;
            Ok(Storage::from_backend(store))
        }
        StorageKind::Cassandra => {
            let c = a
                .cassandra
                .as_ref()
                .context("a cassandra archive store without a cassandra section")?;
            let cfg = crate::all_in_one::cassandra_config(c);
            tracing::info!(
                "archive storage: cassandra, keyspace {}",
                cfg.schema.keyspace
            );
            let store = jaeger_storage::cassandra::CassandraStore::open(cfg)
                .await
                .context("opening the cassandra archive storage")?;
            Ok(Storage::from_backend(store))
        }
        StorageKind::Grpc => {
            anyhow::bail!("archive storage through a grpc backend is not supported")
        }
        StorageKind::Elasticsearch => {
            let e = a
                .elasticsearch
                .as_ref()
                .context("an elasticsearch archive store without an elasticsearch section")?;
            let section = e.clone();
            let cfg = tokio::task::spawn_blocking(move || crate::all_in_one::es_config(&section))
                .await
                .context("reading the elasticsearch settings panicked")??;
            tracing::info!(
                "archive storage: {}, index prefix {:?}",
                if e.opensearch {
                    "opensearch"
                } else {
                    "elasticsearch"
                },
                cfg.index_prefix
            );
            let store = jaeger_storage::elasticsearch::EsStore::open(cfg)
                .await
                .context("opening the elasticsearch/opensearch archive storage")?;
            Ok(Storage::from_backend(store))
        }
    }
}

/// Serves `jaeger.api_v2.QueryService` and `jaeger.api_v3.QueryService` (plus health and
/// reflection) over the same query service as the HTTP API.
pub async fn serve_grpc(
    listener: TcpListener,
    state: &QueryState,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grpc = jaeger_query::grpc::GrpcQueryState::from_query_state(state);
    jaeger_query::grpc::serve_query_grpc(listener, grpc, stopped)
        .await
        .context("query gRPC server failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_options_from_config() {
        let mut c = Config::default();
        let h = http_options(&c).unwrap();
        assert!(h.cors.is_none() && h.tenancy.is_none() && !h.bearer_token_propagation);
        c.query.cors.allowed_origins = vec!["https://*.example.com".into()];
        c.query.multi_tenancy.enabled = true;
        c.query.multi_tenancy.tenants = vec!["acme".into()];
        c.query.additional_headers = vec!["X-Frame-Options: DENY".into()];
        let h = http_options(&c).unwrap();
        assert_eq!(
            h.cors.unwrap().allowed_origins,
            vec!["https://*.example.com"]
        );
        let t = h.tenancy.unwrap();
        assert_eq!(t.header, "x-tenant");
        assert_eq!(t.tenants, vec!["acme"]);
        assert_eq!(h.response_headers[0].0, "x-frame-options");
        c.query.multi_tenancy.header = "bad header".into();
        assert!(http_options(&c).is_err());
        c.query.multi_tenancy.header = "x-tenant".into();
        c.query.additional_headers = vec!["no colon".into()];
        assert!(http_options(&c).is_err());
    }
}
