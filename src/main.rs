//! `jaeger`: one binary for every role. Parses flags, builds the config, starts a role.

mod all_in_one;
mod cassandra_schema;
mod cli;
mod dependencies;
mod es_tools;
mod ingester;
mod query;
mod remote_storage;
mod tls;

use clap::Parser;
use cli::{Cli, Role};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use jaeger_config::Config;
use jaeger_config::v2::LoadedConfig;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.flags.log_level);

    let result = load_config(&cli).and_then(|(config, file)| match cli.role {
        None | Some(Role::AllInOne | Role::Collector | Role::Query | Role::Ingester) => {
            let ephemeral = file.as_ref().is_some_and(|f| f.ephemeral_storage);
            let mut config = config;
            match cli.role {
                Some(Role::Collector) => jaeger_config::Role::Collector.apply(&mut config),
                Some(Role::Query) => jaeger_config::Role::Query.apply(&mut config),
                Some(Role::Ingester) => jaeger_config::Role::Ingester.apply(&mut config),
                _ => jaeger_config::Role::AllInOne.apply(&mut config),
            }
            let result = all_in_one::run(config.clone());
            if ephemeral {
                let _ = std::fs::remove_dir_all(&config.storage.embedded.data_dir);
            }
            result
        }
        Some(Role::PrintConfig) => print_config(&config, file.as_ref()),
        Some(Role::Dependencies(ref args)) => dependencies::run(config, args.clone()),
        Some(Role::RemoteStorage(ref args)) => {
            let ephemeral = file.as_ref().is_some_and(|f| f.ephemeral_storage);
            let result = remote_storage::run(config.clone(), args);
            if ephemeral {
                let _ = std::fs::remove_dir_all(&config.storage.embedded.data_dir);
            }
            result
        }
        Some(Role::CassandraSchema(ref args)) => cassandra_schema::run(config, args.clone()),
        Some(Role::EsIndexCleaner(ref args)) => es_tools::run_cleaner(args.clone()),
        Some(Role::EsRollover(ref args)) => es_tools::run_rollover(args.clone()),
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jaeger: {}", error_chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes, skipping a cause whose text the previous one already shows.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

/// Defaults, then the `--config` file, then env vars and flags. A bad file stops the
/// process here, before any port is opened.
fn load_config(cli: &Cli) -> anyhow::Result<(Config, Option<LoadedConfig>)> {
    let (mut config, file) = match &cli.flags.config {
        Some(path) => {
            let loaded = jaeger_config::v2::load_file(path)?;
            for w in &loaded.warnings {
                tracing::warn!("{}: {w}", path.display());
            }
            (loaded.runtime.clone(), Some(loaded))
        }
        None => (Config::default(), None),
    };
    cli.flags.apply(&mut config);
    Ok((config, file))
}

fn print_config(config: &Config, file: Option<&LoadedConfig>) -> anyhow::Result<()> {
    println!("# effective settings (defaults, config file, env vars and flags)");
    // The runtime config can hold backend credentials (Cassandra): masked too.
    print!("{}", jaeger_config::v2::mask_secrets(config)?);
    if let Some(f) = file {
        println!("---\n# the --config file with defaults filled in, secrets masked");
        print!("{}", f.masked_yaml()?);
    }
    Ok(())
}

fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(format!("{filter},fjall=warn,lsm_tree=warn"))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}
