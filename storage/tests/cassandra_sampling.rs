//! Adaptive sampling on Jaeger's Cassandra tables (storage spec §1.9) and the client's
//! frame compression (`schema.disable_compression`), against the real test server.
//! Needs `JAEGER_TEST_CASSANDRA` like cassandra_conformance.rs.

use std::collections::HashMap;
use std::time::Duration;

use jaeger_storage::cassandra::{
    CassandraConfig, CassandraSamplingStore, SchemaOptions, connect, connect_as,
};
use jaeger_storage::conformance::cassandra_test_server as cassandra_addr;
use jaeger_storage::conformance::unique_name;
use jaeger_storage::sampling::{SamplingStore, Throughput, conformance};
use scylla::client::session::Session;
use scylla::value::CqlTimeuuid;

fn config(addr: &str, keyspace: &str) -> CassandraConfig {
    CassandraConfig {
        servers: vec![addr.to_string()],
        username: Some("cassandra".into()),
        password: Some("cassandra".into()),
        create_schema: true,
        schema: SchemaOptions {
            keyspace: keyspace.to_string(),
            datacenter: String::new(),
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn rows<R>(s: &Session, cql: &str) -> Vec<R>
where
    R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
{
    s.query_unpaged(cql, ())
        .await
        .unwrap_or_else(|e| panic!("{cql}: {e}"))
        .into_rows_result()
        .expect("rows")
        .rows::<R>()
        .expect("row type")
        .map(|r| r.expect("row"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cassandra_sampling_store_passes_the_shared_cases() {
    let Some(addr) = cassandra_addr() else { return };
    let store = CassandraSamplingStore::open(&config(&addr, &unique_name("sampling")))
        .await
        .expect("sampling store opens");
    conformance::throughput_and_probabilities(&store).await;
    conformance::leases(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_rows_are_jaegers_and_jaegers_rows_are_read() {
    let Some(addr) = cassandra_addr() else { return };
    let ks = unique_name("sampling_rows");
    let cfg = config(&addr, &ks);
    let store = CassandraSamplingStore::open(&cfg)
        .await
        .expect("sampling store opens");
    let session = connect(&cfg).await.expect("connect");

    // Ours, as Jaeger writes them.
    let ts = conformance::BASE + 5_000_000_000;
    store
        .insert_throughput(
            ts,
            vec![Throughput {
                service: "svc".into(),
                operation: "GET /".into(),
                count: 4,
                probabilities: ["0.001000".to_string(), "0.002000".to_string()].into(),
            }],
        )
        .await
        .expect("insert");
    let got: Vec<(i32, CqlTimeuuid, String)> = rows(
        &session,
        &format!("SELECT bucket, ts, throughput FROM {ks}.operation_throughput"),
    )
    .await;
    assert_eq!(got.len(), 1);
    assert!((0..10).contains(&got[0].0), "bucket {}", got[0].0);
    assert_eq!(got[0].2, "svc,GET /,4,\"0.001000,0.002000\"\n");
    // The TimeUUID carries the timestamp: Cassandra's own toUnixTimestamp agrees (ms).
    let ms: Vec<(i64,)> = rows(
        &session,
        &format!(
            "SELECT toUnixTimestamp(ts) FROM {ks}.operation_throughput WHERE bucket = {}",
            got[0].0
        ),
    )
    .await;
    assert_eq!(ms[0].0 as u64, ts / 1_000_000);

    let probs = HashMap::from([(
        "svc".to_string(),
        HashMap::from([("GET /".to_string(), 0.0005)]),
    )]);
    let qps = HashMap::from([(
        "svc".to_string(),
        HashMap::from([("GET /".to_string(), 2.25)]),
    )]);
    store
        .insert_probabilities_and_qps("collector-1", probs, qps)
        .await
        .expect("insert");
    let got: Vec<(i32, String, String)> = rows(
        &session,
        &format!("SELECT bucket, hostname, probabilities FROM {ks}.sampling_probabilities"),
    )
    .await;
    assert_eq!(
        got,
        vec![(1, "collector-1".into(), "svc,GET /,0.0005,2.25\n".into())]
    );

    assert!(
        store
            .acquire_lease("sampling_store_leader", "host-a", Duration::from_secs(60))
            .await
            .expect("acquire")
    );
    let lease: Vec<(String, String, Option<i32>)> = rows(
        &session,
        &format!("SELECT name, owner, TTL(owner) FROM {ks}.leases"),
    )
    .await;
    assert_eq!(lease[0].0, "sampling_store_leader");
    assert_eq!(lease[0].1, "host-a");
    assert!(
        matches!(lease[0].2, Some(t) if t > 50 && t <= 60),
        "{lease:?}"
    );

    // Rows a Jaeger collector wrote (now(): a server-made TimeUUID) are read back.
    session
        .query_unpaged(
            format!(
                "INSERT INTO {ks}.operation_throughput (bucket, ts, throughput) VALUES (7, now(), 'jsvc,op,9,0.010000\n')"
            ),
            (),
        )
        .await
        .expect("insert as Jaeger");
    session
        .query_unpaged(
            format!(
                "INSERT INTO {ks}.sampling_probabilities (bucket, ts, hostname, probabilities) VALUES (1, now(), 'jaeger', 'jsvc,op,0.02,9\njsvc,\"a,b\",1,0\n')"
            ),
            (),
        )
        .await
        .expect("insert as Jaeger");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    let buckets = store
        .get_throughput(now - 60_000_000_000, now + 60_000_000_000)
        .await
        .expect("get");
    let all: Vec<&Throughput> = buckets.iter().flat_map(|b| &b.throughput).collect();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].service, "jsvc");
    assert_eq!(all[0].count, 9);
    assert_eq!(
        store.get_latest_probabilities().await.expect("get"),
        HashMap::from([(
            "jsvc".to_string(),
            HashMap::from([("op".to_string(), 0.02), ("a,b".to_string(), 1.0)])
        )])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collectors_on_one_keyspace_elect_one_leader() {
    let Some(addr) = cassandra_addr() else { return };
    let cfg = config(&addr, &unique_name("sampling_lease"));
    let a = CassandraSamplingStore::open(&cfg).await.expect("open a");
    let b = CassandraSamplingStore::open(&CassandraConfig {
        create_schema: false,
        ..cfg
    })
    .await
    .expect("open b");
    let ttl = Duration::from_secs(30);
    let lease = "sampling_store_leader";
    let (ra, rb) = tokio::join!(
        a.acquire_lease(lease, "a", ttl),
        b.acquire_lease(lease, "b", ttl)
    );
    let (ra, rb) = (ra.expect("a"), rb.expect("b"));
    assert!(
        ra != rb,
        "exactly one of two racing collectors leads: {ra} {rb}"
    );
    let (leader, follower, leader_name, follower_name) = if ra {
        (&a, &b, "a", "b")
    } else {
        (&b, &a, "b", "a")
    };
    assert!(
        leader
            .acquire_lease(lease, leader_name, ttl)
            .await
            .expect("renew")
    );
    assert!(
        !follower
            .acquire_lease(lease, follower_name, ttl)
            .await
            .expect("follow")
    );
    assert!(
        leader
            .forfeit_lease(lease, leader_name)
            .await
            .expect("forfeit")
    );
    assert!(
        follower
            .acquire_lease(lease, follower_name, ttl)
            .await
            .expect("take over")
    );
}

/// `client_options` (the STARTUP options) of the connections named `app`.
async fn startup_options(s: &Session, app: &str) -> Vec<HashMap<String, String>> {
    let all: Vec<(Option<HashMap<String, String>>,)> =
        rows(s, "SELECT client_options FROM system_views.clients").await;
    all.into_iter()
        .filter_map(|(o,)| o)
        .filter(|o| o.get("APPLICATION_NAME").map(String::as_str) == Some(app))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_are_lz4_compressed_unless_disabled() {
    let Some(addr) = cassandra_addr() else { return };
    let base = CassandraConfig {
        create_schema: false,
        ..config(&addr, "unused")
    };
    for (disable, want) in [(false, Some("lz4")), (true, None)] {
        let app = unique_name(if disable { "plain" } else { "lz4" });
        let session = connect_as(
            &CassandraConfig {
                disable_compression: disable,
                ..base.clone()
            },
            &app,
        )
        .await
        .expect("connects");
        // Queries work over these frames, and the server saw the option at STARTUP.
        let opts = startup_options(&session, &app).await;
        assert!(!opts.is_empty(), "no connection named {app}");
        for o in opts {
            assert_eq!(
                o.get("COMPRESSION").map(String::as_str),
                want,
                "disable_compression={disable}: {o:?}"
            );
        }
    }
}
