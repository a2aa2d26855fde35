//! `sdgx-agent`: parses arguments, sets up logging and calls the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The sdgx ministry agent.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate every dataset locally, then publish each valid one to the coordinator.
    Publish {
        /// Agent configuration (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Only validate and print the summaries; send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Dry run: compute, protect and validate every dataset, print the import summaries and
    /// what disclosure control suppressed; send nothing (same as publish --dry-run).
    #[command(alias = "check")]
    Validate {
        /// Agent configuration (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Show what this agency owes: its reporting calendar, from the coordinator's HTTP API.
    Status {
        /// Agent configuration (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    rustls::crypto::ring::default_provider().install_default().expect("no other crypto provider is installed first");
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            "warn,buoyant_kernel=warn,buoyant_kernel_engine=warn,deltalake_core=warn,datafusion=warn".into()
        }))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let (config, dry_run) = match Cli::parse().command {
        Command::Publish { config, dry_run } => (config, dry_run),
        Command::Validate { config } => (config, true),
        Command::Status { config, json } => return status(&config, json).await,
    };
    let config = match sdgx_agent::Config::load(&config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcomes = match sdgx_agent::run(&config, dry_run).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for o in outcomes {
        if let Some(c) = &o.computed {
            print!("{}", sdgx_agent::compute::render(c));
        }
        match (&o.checked, &o.sent) {
            (Err(e), _) => {
                failed = true;
                println!("{}: not published\n{e}", o.manifest.display());
            }
            (Ok(p), None) => print!("checked {}", p.summary),
            (Ok(p), Some(Ok(ack))) => {
                print!("{}", p.summary);
                println!(
                    "  published: publication {} at store version {}{}",
                    ack.publication_id,
                    ack.store_version,
                    if ack.duplicate { " (duplicate: identical content already current, no new version)" } else { "" }
                );
            }
            (Ok(p), Some(Err(e))) => {
                failed = true;
                println!("agency {} dataset {}: not published\n{e}", p.manifest.agency, p.manifest.dataset);
            }
        }
    }
    if failed { std::process::ExitCode::FAILURE } else { std::process::ExitCode::SUCCESS }
}

async fn status(config: &std::path::Path, json: bool) -> std::process::ExitCode {
    let calendar = match sdgx_agent::Config::load(config) {
        Ok(c) => sdgx_agent::status::calendar(&c).await,
        Err(e) => Err(e),
    };
    match calendar {
        Ok(c) if json => {
            println!("{}", serde_json::to_string_pretty(&c).expect("the calendar serialises"));
            std::process::ExitCode::SUCCESS
        }
        Ok(c) => {
            print!("{}", sdgx_agent::status::render(&c));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
