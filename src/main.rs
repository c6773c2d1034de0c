//! `jaeger`: one binary for every role. Parses flags, builds the config, starts a role.

mod all_in_one;
mod cli;

use clap::Parser;
use cli::{Cli, Role};
use jaeger_config::Config;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.flags.log_level);

    let mut config = Config::default();
    cli.flags.apply(&mut config);

    let result = match cli.role.unwrap_or(Role::AllInOne) {
        Role::AllInOne => all_in_one::run(config),
        Role::PrintConfig => print_config(&config),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("jaeger: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn print_config(config: &Config) -> anyhow::Result<()> {
    print!("{}", serde_yaml::to_string(config)?);
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
