//! The storage conformance suite against a real OpenSearch (Jaeger's index layout).
//!
//! Needs `JAEGER_TEST_OPENSEARCH=http://host:port` (scripts/test starts a node with
//! tests/servers/opensearch/start.sh). Without it the tests fail when
//! `JAEGER_TEST_REQUIRE_SERVERS=1` (as under scripts/test) and are skipped otherwise.
//! Each test writes under an index prefix of its own (templates included) and deletes
//! its indices and templates when it ends. Writes use `refresh=true` so that a test
//! reads what it just wrote; Elasticsearch search answers every query form
//! ([`Limits::NONE`]).

use jaeger_storage::Storage;
use jaeger_storage::conformance::opensearch_test_server;
use jaeger_storage::conformance::unique_name;
use jaeger_storage::conformance::{Guard, Limits};
use jaeger_storage::elasticsearch::{EsConfig, EsStore, IndexSettings};

/// Deletes the test's indices and templates (on a thread of its own: Drop is sync).
struct Cleanup {
    url: String,
    prefix: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            rt.block_on(async move {
                let config = EsConfig {
                    server_urls: vec![url],
                    ..Default::default()
                };
                let Ok(c) = jaeger_storage::elasticsearch::EsClient::new(&config) else {
                    return;
                };
                jaeger_storage::conformance::opensearch_cleanup(&c, &prefix).await;
            });
        })
        .join();
    }
}

async fn open() -> Option<(Storage, Guard)> {
    let url = opensearch_test_server()?;
    let prefix = unique_name("conf");
    let one_shard = IndexSettings {
        shards: 1,
        replicas: 0,
        priority: 0,
    };
    let config = EsConfig {
        server_urls: vec![url.clone()],
        opensearch: true,
        index_prefix: prefix.clone(),
        spans: one_shard.clone(),
        services: one_shard,
        refresh: Some("true".into()),
        ..Default::default()
    };
    let store = EsStore::open(config)
        .await
        .expect("OpenSearch store opens and installs its templates");
    Some((
        Storage::from_backend(store),
        Box::new(Cleanup { url, prefix }),
    ))
}

jaeger_storage::conformance_tests!(open, limits = Limits::NONE);
