//! The storage conformance suite against a real Cassandra (Jaeger's v004 layout).
//!
//! Needs `JAEGER_TEST_CASSANDRA=host:port` (scripts/test starts a server with
//! tests/servers/cassandra/start.sh). Without it the tests fail when
//! `JAEGER_TEST_REQUIRE_SERVERS=1` (as under scripts/test) and are skipped otherwise.
//! Each test gets an empty keyspace: a new one created by the backend itself
//! (`schema.create`), or one of an earlier test of this run with its tables truncated.
//!
//! Jaeger's Cassandra reader requires a service for every search and rejects duration
//! together with tags; the suite checks that such queries fail as in Jaeger
//! ([`Limits::JAEGER_CASSANDRA`]) and answers every other query form.

use jaeger_storage::Storage;
use jaeger_storage::cassandra::{CassandraConfig, CassandraStore, SchemaOptions};
use jaeger_storage::conformance::cassandra_test_server as cassandra_addr;
use jaeger_storage::conformance::unique_name;
use jaeger_storage::conformance::{Guard, Limits};

/// Keyspaces of finished tests, reused (truncated) by later ones: creating a schema
/// takes seconds and dropping one longer, truncating its tables a fraction of that.
static POOL: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Tables the tests write.
const DATA_TABLES: &[&str] = &[
    "traces",
    "service_names",
    "operation_names_v2",
    "service_operation_index",
    "service_name_index",
    "duration_index",
    "tag_index",
    "dependencies_v2",
];

async fn open() -> Option<(Storage, Guard)> {
    let addr = cassandra_addr()?;
    let reused = POOL.lock().expect("pool lock").pop();
    let config = CassandraConfig {
        servers: vec![addr],
        username: Some("cassandra".into()),
        password: Some("cassandra".into()),
        create_schema: reused.is_none(),
        schema: SchemaOptions {
            keyspace: reused.clone().unwrap_or_else(|| unique_name("conf")),
            datacenter: String::new(),
            ..Default::default()
        },
        ..Default::default()
    };
    let store = CassandraStore::open(config)
        .await
        .expect("Cassandra store opens (fresh or reused keyspace)");
    if reused.is_some() {
        for t in DATA_TABLES {
            let cql = format!("TRUNCATE {}.{t}", store.keyspace());
            store
                .session()
                .query_unpaged(cql.as_str(), ())
                .await
                .unwrap_or_else(|e| panic!("{cql}: {e}"));
        }
    }
    let guard = ReturnKeyspace(store.keyspace().to_string());
    Some((Storage::from_backend(store), Box::new(guard)))
}

/// Gives the keyspace back to the pool when the test ends.
struct ReturnKeyspace(String);

impl Drop for ReturnKeyspace {
    fn drop(&mut self) {
        // A failed test leaves its keyspace out of the pool (it may be half-written).
        if !std::thread::panicking() {
            POOL.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(std::mem::take(&mut self.0));
        }
    }
}

jaeger_storage::conformance_tests!(open, limits = Limits::JAEGER_CASSANDRA);
