//! `jaeger cassandra-schema`: creates (or upgrades) a keyspace with Jaeger's v004 schema,
//! as Jaeger's `jaeger-cassandra-schema` image (create.sh piped into cqlsh) does, or
//! prints the CQL with `--dry-run`. See docs/storage-cassandra.md.

use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use jaeger_config::Config;
use jaeger_config::humantime_serde_compat::parse_duration;
use jaeger_storage::cassandra::{self, schema};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// NetworkTopologyStrategy in `--datacenter`.
    Prod,
    /// SimpleStrategy (one datacenter, tests and development).
    Test,
}

/// Flags of `jaeger cassandra-schema`. Connection, auth and TLS come from the Cassandra
/// backend of `--config` when it has one; flags (and create.sh's env vars) override.
#[derive(Clone, Debug, Args, Default)]
pub struct SchemaArgs {
    /// Print the CQL script and exit without connecting.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Also set the TTLs and the `traces` compaction window of existing tables (ALTER
    /// TABLE); without it existing tables are left as they are.
    #[arg(long)]
    pub alter: bool,
    /// Cassandra nodes, `host` or `host:port`, comma-separated (default 127.0.0.1:9042).
    #[arg(long, env = "CASSANDRA_SERVERS", value_delimiter = ',')]
    pub servers: Vec<String>,
    #[arg(long, env = "CASSANDRA_USERNAME")]
    pub username: Option<String>,
    #[arg(long, env = "CASSANDRA_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// `prod`: NetworkTopologyStrategy in --datacenter; `test`: SimpleStrategy.
    #[arg(long, env = "MODE", value_enum)]
    pub mode: Option<Mode>,
    /// Keyspace (letters, digits, underscores); default `jaeger_dc1` (Jaeger v2).
    #[arg(long, env = "KEYSPACE")]
    pub keyspace: Option<String>,
    /// Datacenter of the replication map (default `dc1`).
    #[arg(long, env = "DATACENTER")]
    pub datacenter: Option<String>,
    #[arg(long = "replication-factor", env = "REPLICATION_FACTOR")]
    pub replication_factor: Option<u32>,
    /// Retention of spans and indexes: seconds (create.sh) or a duration (48h).
    #[arg(long = "trace-ttl", env = "TRACE_TTL", value_parser = parse_ttl)]
    pub trace_ttl: Option<Duration>,
    /// Retention of dependencies_v2 rows (0 = forever).
    #[arg(long = "dependencies-ttl", env = "DEPENDENCIES_TTL", value_parser = parse_ttl)]
    pub dependencies_ttl: Option<Duration>,
    /// TWCS window of `traces`: `96m`, `2h`, `1d`. Default with --trace-ttl: about 30
    /// windows per TTL (create.sh's rule), else 2h.
    #[arg(long = "compaction-window", env = "COMPACTION_WINDOW", value_parser = parse_window)]
    pub compaction_window: Option<Duration>,
}

/// `172800` (seconds, as create.sh) or a Go duration (`48h`).
fn parse_ttl(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    match s.parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => parse_duration(s),
    }
}

/// create.sh's `<n>m|h|d`, or any Go duration.
fn parse_window(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Some(days) = s.strip_suffix('d')
        && let Ok(n) = days.parse::<u64>()
    {
        return Ok(Duration::from_secs(n * 86_400));
    }
    parse_duration(s)
}

/// The backend settings: `--config`'s Cassandra section, then the flags.
fn settings(config: &Config, args: &SchemaArgs) -> cassandra::CassandraConfig {
    let mut backend = config.storage.cassandra.clone().unwrap_or_else(|| {
        let mut b = jaeger_config::v2::CassandraBackend::default();
        // Without a config file there are no TLS settings: plain text, as cqlsh.
        b.connection.tls.insecure = true;
        b
    });
    if !args.servers.is_empty() {
        backend.connection.servers.0 = args.servers.clone();
    }
    if args.username.is_some() || args.password.is_some() {
        let basic = backend
            .connection
            .auth
            .basic
            .get_or_insert_with(Default::default);
        if let Some(u) = &args.username {
            basic.username = u.clone();
        }
        if let Some(p) = &args.password {
            basic.password = p.clone();
        }
    }
    let mut cfg = crate::all_in_one::cassandra_config(&backend);
    let o = &mut cfg.schema;
    if let Some(k) = &args.keyspace {
        o.keyspace = k.clone();
    }
    if let Some(d) = &args.datacenter {
        o.datacenter = d.clone();
    }
    if args.mode == Some(Mode::Test) {
        o.datacenter.clear();
    }
    if let Some(r) = args.replication_factor {
        o.replication_factor = r;
    }
    if let Some(t) = args.trace_ttl {
        o.trace_ttl = t;
        // create.sh: ceil(ttl_minutes / 30) minutes, so about 30 windows per TTL.
        if args.compaction_window.is_none() && !t.is_zero() {
            o.compaction_window = Duration::from_secs(t.as_secs().div_ceil(60).div_ceil(30) * 60);
        }
    }
    if let Some(t) = args.dependencies_ttl {
        o.dependencies_ttl = t;
    }
    if let Some(w) = args.compaction_window {
        o.compaction_window = w;
    }
    cfg
}

pub fn run(config: Config, args: SchemaArgs) -> anyhow::Result<()> {
    let cfg = settings(&config, &args);
    if args.mode == Some(Mode::Prod) && cfg.schema.datacenter.is_empty() {
        anyhow::bail!("--mode prod needs --datacenter");
    }
    if args.dry_run {
        print!("{}", cassandra::schema_script(&cfg.schema)?);
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("jaeger-cassandra-schema")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        cfg.schema.validate()?;
        let session = cassandra::connect(&cfg)
            .await
            .with_context(|| format!("connecting to {:?}", cfg.servers))?;
        let ks = &cfg.schema.keyspace;
        let existed = schema::existing_tables(&session, ks).await?.is_some();
        let layout = schema::create(&session, &cfg.schema).await?;
        let mut altered = 0;
        if args.alter && existed {
            let tables = schema::existing_tables(&session, ks)
                .await?
                .unwrap_or_default();
            for stmt in schema::alter_statements(&cfg.schema, &tables) {
                session
                    .query_unpaged(stmt.as_str(), ())
                    .await
                    .with_context(|| format!("running {stmt}"))?;
                altered += 1;
            }
            session
                .await_schema_agreement()
                .await
                .context("schema agreement")?;
        }
        println!(
            "keyspace {ks}: {} (Jaeger {} layout{}){}",
            if existed { "up to date" } else { "created" },
            layout.version(),
            if layout.sampling {
                ""
            } else {
                ", no sampling tables"
            },
            if altered > 0 {
                format!(", {altered} tables altered")
            } else {
                String::new()
            }
        );
        anyhow::Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_sh_values() {
        assert_eq!(parse_ttl("172800"), Ok(Duration::from_secs(172800)));
        assert_eq!(parse_ttl("48h"), Ok(Duration::from_secs(172800)));
        assert_eq!(parse_window("96m"), Ok(Duration::from_secs(96 * 60)));
        assert_eq!(parse_window("1d"), Ok(Duration::from_secs(86400)));
        assert!(parse_ttl("soon").is_err());
        let args = SchemaArgs {
            mode: Some(Mode::Test),
            keyspace: Some("jaeger_v1_test".into()),
            trace_ttl: Some(Duration::from_secs(172800)),
            ..Default::default()
        };
        let cfg = settings(&Config::default(), &args);
        assert_eq!(cfg.schema.keyspace, "jaeger_v1_test");
        assert!(cfg.schema.datacenter.is_empty());
        // create.sh's default window for a 2-day TTL: 96 minutes.
        assert_eq!(cfg.schema.compaction_window, Duration::from_secs(96 * 60));
        assert!(cfg.tls.is_none());
    }
}
