//! `jaeger es-index-cleaner` and `jaeger es-rollover`: Jaeger's Elasticsearch/OpenSearch
//! index maintenance tools. The logic is in jaeger_storage::elasticsearch::index_tools;
//! see docs/storage-elasticsearch.md.

use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use jaeger_config::humantime_serde_compat::parse_duration;
use jaeger_storage::elasticsearch::index_tools::{self, CleanerOptions, RolloverOptions};
use jaeger_storage::elasticsearch::{AuthFile, AuthFileKind, EsAuth, EsClient, EsConfig};

/// Connection flags shared by both tools.
#[derive(Clone, Debug, Args, Default)]
pub struct EsConnArgs {
    #[arg(long = "es.username", env = "ES_USERNAME")]
    pub username: Option<String>,
    #[arg(long = "es.password", env = "ES_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Skip TLS certificate verification.
    #[arg(long = "es.tls.skip-host-verify", env = "ES_TLS_SKIP_HOST_VERIFY")]
    pub skip_host_verify: bool,
    /// PEM CA bundle for TLS.
    #[arg(long = "es.tls.ca", env = "ES_TLS_CA")]
    pub ca: Option<std::path::PathBuf>,
    /// PEM client certificate presented to the cluster (mTLS), with --es.tls.key.
    #[arg(long = "es.tls.cert", env = "ES_TLS_CERT", requires = "key")]
    pub cert: Option<std::path::PathBuf>,
    /// PEM private key of --es.tls.cert.
    #[arg(long = "es.tls.key", env = "ES_TLS_KEY", requires = "cert")]
    pub key: Option<std::path::PathBuf>,
    /// File holding a bearer token (sent as `Authorization: Bearer <token>`).
    #[arg(long = "es.token-file", env = "ES_TOKEN_FILE", conflicts_with_all = ["username", "api_key_file"])]
    pub token_file: Option<std::path::PathBuf>,
    /// File holding an encoded API key (sent as `Authorization: ApiKey <key>`).
    #[arg(
        long = "es.api-key-file",
        env = "ES_API_KEY_FILE",
        conflicts_with = "username"
    )]
    pub api_key_file: Option<std::path::PathBuf>,
    /// Request timeout (also the master timeout of deletes), e.g. 120s.
    #[arg(long, env = "TIMEOUT", value_parser = parse_secs, default_value = "120")]
    pub timeout: Duration,
}

/// `120` (seconds, as Jaeger) or a duration (`2m`).
fn parse_secs(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<u64>() {
        Ok(n) => Ok(Duration::from_secs(n)),
        Err(_) => parse_duration(s),
    }
}

impl EsConnArgs {
    fn client(&self, url: &str) -> anyhow::Result<EsClient> {
        let auth = match (&self.username, &self.password) {
            (Some(u), p) => EsAuth::Basic {
                username: u.clone(),
                password: p.clone().unwrap_or_default(),
            },
            _ => EsAuth::None,
        };
        let file = |p: &Option<std::path::PathBuf>| -> anyhow::Result<Option<Vec<u8>>> {
            match p {
                Some(p) => Ok(Some(
                    std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
                )),
                None => Ok(None),
            }
        };
        // The tools run once: a secret file is read once.
        let auth_file = match (&self.token_file, &self.api_key_file) {
            (Some(p), _) => Some((AuthFileKind::Bearer, p)),
            (None, Some(p)) => Some((AuthFileKind::ApiKey, p)),
            _ => None,
        }
        .map(|(kind, path)| AuthFile {
            kind,
            path: path.clone(),
            reload_interval: None,
        });
        let config = EsConfig {
            server_urls: vec![url.to_string()],
            auth,
            auth_file,
            ca_pem: file(&self.ca)?,
            client_cert_pem: file(&self.cert)?,
            client_key_pem: file(&self.key)?,
            insecure_skip_verify: self.skip_host_verify,
            query_timeout: Some(self.timeout),
            ..EsConfig::default()
        };
        Ok(EsClient::new(&config)?)
    }
}

#[derive(Clone, Debug, Args)]
pub struct CleanerArgs {
    /// Delete indices created more than this many days ago (counted from tomorrow 00:00 UTC).
    pub num_of_days: u32,
    /// Elasticsearch/OpenSearch URL, e.g. http://127.0.0.1:9200.
    pub url: String,
    /// Index prefix (a `-` is appended).
    #[arg(long = "index-prefix", env = "INDEX_PREFIX", default_value = "")]
    pub index_prefix: String,
    #[arg(
        long = "index-date-separator",
        env = "INDEX_DATE_SEPARATOR",
        default_value = "-"
    )]
    pub date_separator: String,
    /// Clean rollover indices (`…-000001`) instead of dated ones.
    #[arg(long, env = "ROLLOVER")]
    pub rollover: bool,
    /// Clean archive rollover indices (`jaeger-span-archive-000001`).
    #[arg(id = "es_archive", long = "archive", env = "ARCHIVE")]
    pub archive: bool,
    /// Cutoff now − N days instead of tomorrow 00:00 − N days (Jaeger's
    /// `jaeger.es.index.relativeTimeIndexDeletion` feature gate).
    #[arg(long = "relative-time", env = "RELATIVE_TIME_INDEX_DELETION")]
    pub relative: bool,
    #[command(flatten)]
    pub conn: EsConnArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RolloverAction {
    /// Install templates, create `…-000001` and the read/write aliases.
    Init,
    /// Roll the write aliases over to a new index when the conditions hold.
    Rollover,
    /// Remove old indices from the read aliases.
    Lookback,
}

#[derive(Clone, Debug, Args)]
pub struct RolloverArgs {
    pub action: RolloverAction,
    /// Elasticsearch/OpenSearch URL, e.g. http://127.0.0.1:9200.
    pub url: String,
    #[arg(long = "index-prefix", env = "INDEX_PREFIX", default_value = "")]
    pub index_prefix: String,
    /// Only the `jaeger-span-archive` index set.
    #[arg(id = "es_archive", long = "archive", env = "ARCHIVE")]
    pub archive: bool,
    #[arg(long = "skip-dependencies", env = "SKIP_DEPENDENCIES")]
    pub skip_dependencies: bool,
    #[arg(long = "adaptive-sampling", env = "ADAPTIVE_SAMPLING")]
    pub adaptive_sampling: bool,
    #[arg(long, env = "SHARDS", default_value_t = 5)]
    pub shards: u32,
    #[arg(long, env = "REPLICAS", default_value_t = 1)]
    pub replicas: u32,
    /// Mark write aliases `is_write_index` (index lifecycle managed by ILM/ISM).
    #[arg(long = "es.use-ilm", env = "ES_USE_ILM")]
    pub use_ilm: bool,
    /// Rollover conditions (JSON).
    #[arg(long, env = "CONDITIONS", default_value = r#"{"max_age": "2d"}"#)]
    pub conditions: String,
    /// Lookback unit: minutes, hours, days, weeks, months, years.
    #[arg(long, env = "UNIT", default_value = "days")]
    pub unit: String,
    #[arg(long = "unit-count", env = "UNIT_COUNT", default_value_t = 1)]
    pub unit_count: u32,
    #[command(flatten)]
    pub conn: EsConnArgs,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn run_cleaner(args: CleanerArgs) -> anyhow::Result<()> {
    let client = args.conn.client(&args.url)?;
    let opts = CleanerOptions {
        num_days: args.num_of_days,
        index_prefix: args.index_prefix,
        date_separator: args.date_separator,
        rollover: args.rollover,
        archive: args.archive,
        relative: args.relative,
        master_timeout: args.conn.timeout,
    };
    let deleted = runtime()?.block_on(index_tools::clean_indices(
        &client,
        &opts,
        chrono::Utc::now(),
    ))?;
    for name in &deleted {
        println!("deleted {name}");
    }
    tracing::info!("es-index-cleaner: {} indices deleted", deleted.len());
    Ok(())
}

pub fn run_rollover(args: RolloverArgs) -> anyhow::Result<()> {
    let client = args.conn.client(&args.url)?;
    let conditions = index_tools::parse_conditions(&args.conditions)?;
    let opts = RolloverOptions {
        index_prefix: args.index_prefix,
        archive: args.archive,
        skip_dependencies: args.skip_dependencies,
        adaptive_sampling: args.adaptive_sampling,
        shards: args.shards,
        replicas: args.replicas,
        use_ilm: args.use_ilm,
        conditions,
        unit: args.unit,
        unit_count: args.unit_count,
    };
    let rt = runtime()?;
    match args.action {
        RolloverAction::Init => {
            for name in rt.block_on(index_tools::rollover_init(&client, &opts))? {
                println!("created {name}");
            }
        }
        RolloverAction::Rollover => {
            for (old, new) in rt.block_on(index_tools::rollover(&client, &opts))? {
                println!("rolled over {old} -> {new}");
            }
        }
        RolloverAction::Lookback => {
            let now = chrono::Utc::now();
            for (index, alias) in rt.block_on(index_tools::lookback(&client, &opts, now))? {
                println!("removed {index} from {alias}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        conn: EsConnArgs,
    }

    #[test]
    fn secret_file_and_client_certificate_flags() {
        let t = T::try_parse_from([
            "t",
            "--es.token-file=/run/token",
            "--es.tls.cert=/c.pem",
            "--es.tls.key=/k.pem",
        ])
        .expect("flags parse");
        assert_eq!(t.conn.token_file.as_deref(), Some("/run/token".as_ref()));
        assert_eq!(t.conn.cert.as_deref(), Some("/c.pem".as_ref()));
        assert_eq!(t.conn.key.as_deref(), Some("/k.pem".as_ref()));
        let t = T::try_parse_from(["t", "--es.api-key-file=/run/key"]).expect("flags parse");
        assert_eq!(t.conn.api_key_file.as_deref(), Some("/run/key".as_ref()));
        // A certificate needs its key; one kind of credentials at a time.
        assert!(T::try_parse_from(["t", "--es.tls.cert=/c.pem"]).is_err());
        assert!(T::try_parse_from(["t", "--es.token-file=/t", "--es.username=u"]).is_err());
        assert!(T::try_parse_from(["t", "--es.token-file=/t", "--es.api-key-file=/k"]).is_err());
        // A missing secret file is reported when the client is built.
        let t = T::try_parse_from(["t", "--es.token-file=/nonexistent/token"]).expect("parse");
        assert!(t.conn.client("http://127.0.0.1:9200").is_err());
    }
}
