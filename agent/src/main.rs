//! `sdgx-agent`: parses arguments, sets up logging and calls the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The sdgx ministry agent.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Log lines as readable text or as one JSON object per line (on standard error).
    #[arg(long, global = true, env = "SDGX_LOG_FORMAT", value_enum, default_value_t = sdgx_agent::logging::LogFormat::Text)]
    log_format: sdgx_agent::logging::LogFormat,
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
        /// Also send each valid dataset to the coordinator marked as a dry run: it checks
        /// everything short of the commit (identity, registry, framework, contract, quality
        /// rules, duplicate check) and answers the import summary and the figure impact.
        /// Nothing is stored.
        #[arg(long)]
        remote: bool,
    },
    /// Run as a daemon: publish every dataset at start, on the `[daemon]` schedule and when
    /// its inputs change, and keep delivering the outbox, until SIGINT or SIGTERM.
    Run {
        /// Agent configuration (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Show which framework the agent validates against (version, hash, where it came from,
    /// and whether it is the coordinator's current one), the outbox (pending, sent and failed
    /// publications, with the coordinator's last reply) and what this agency owes: its
    /// reporting calendar, from the coordinator's HTTP API.
    Status {
        /// Agent configuration (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Withdraw a dataset: publish it with `withdraw = true` and no rows, so that its current
    /// version at the coordinator is empty (earlier versions stay readable). Through the
    /// outbox, like publish.
    Withdraw {
        /// Agent configuration (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// The dataset id (its manifest's `dataset`).
        #[arg(long)]
        dataset: String,
    },
    /// The framework (indicators and codelists) the agent validates against: the coordinator's,
    /// cached in the outbox directory.
    Framework {
        #[command(subcommand)]
        command: FrameworkCommand,
    },
    /// Check the agent's configuration and outbox without contacting the coordinator (a
    /// container healthcheck): prints the outbox's entries by state as JSON and exits 0
    /// (`"status": "degraded"` with the list of corrupt entries when some cannot be read; the
    /// others are still served), or prints the error and exits 1 (no configuration, no
    /// readable outbox directory).
    Health {
        /// Agent configuration (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum FrameworkCommand {
    /// Fetch the coordinator's framework in force and cache it; print its version and hash.
    Fetch {
        /// Agent configuration (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    rustls::crypto::ring::default_provider().install_default().expect("no other crypto provider is installed first");
    let cli = Cli::parse();
    // The daemon is a service: its start, deliveries and stop are logged (info); the one-shot
    // commands print their outcome and log only warnings.
    let level = if matches!(cli.command, Command::Run { .. }) { "info" } else { "warn" };
    sdgx_agent::logging::init(cli.log_format, &format!("{level},buoyant_kernel=warn,buoyant_kernel_engine=warn,deltalake_core=warn,datafusion=warn"));
    let (config, dry_run, withdraw, remote) = match cli.command {
        Command::Publish { config, dry_run } => (config, dry_run, None, false),
        Command::Validate { config, remote } => (config, true, None, remote),
        Command::Withdraw { config, dataset } => (config, false, Some(dataset), false),
        Command::Status { config, json } => return status(&config, json).await,
        Command::Run { config } => return daemon(&config).await,
        Command::Health { config } => return health(&config),
        Command::Framework { command: FrameworkCommand::Fetch { config } } => return fetch(&config).await,
    };
    let Some(config) = load(&config) else { return std::process::ExitCode::FAILURE };
    let outcomes = match &withdraw {
        Some(dataset) => sdgx_agent::withdraw(&config, dataset).await,
        None => match sdgx_agent::framework::in_force(&config, !dry_run || remote).await {
            Ok(f) => {
                println!("validating against {}", f.describe());
                if remote { sdgx_agent::validate_remote(&config, f).await } else { sdgx_agent::run_with(&config, f, dry_run).await }
            }
            Err(e) => Err(e),
        },
    };
    let outcomes = match outcomes {
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
                print!("{}", p.summary);
                println!("agency {} dataset {}: not published\n{e}", p.manifest.agency, p.manifest.dataset);
            }
        }
        match &o.remote {
            None => {}
            Some(Ok(report)) => print!("{}", sdgx_agent::publish::render_dry_run(report)),
            Some(Err(e)) => {
                failed = true;
                println!("the coordinator's dry run failed:\n{e}");
            }
        }
    }
    if failed { std::process::ExitCode::FAILURE } else { std::process::ExitCode::SUCCESS }
}

/// Loads the agent configuration, printing why it cannot be.
fn load(config: &std::path::Path) -> Option<sdgx_agent::Config> {
    sdgx_agent::Config::load(config).map_err(|e| eprintln!("error: {e}")).ok()
}

async fn daemon(config: &std::path::Path) -> std::process::ExitCode {
    let Some(config) = load(config) else { return std::process::ExitCode::FAILURE };
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    match sdgx_agent::daemon::run(&config, shutdown).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn fetch(config: &std::path::Path) -> std::process::ExitCode {
    let Some(config) = load(config) else { return std::process::ExitCode::FAILURE };
    match sdgx_agent::framework::fetch(&config).await {
        Ok(f) => {
            println!("fetched {}", f.describe());
            println!("cached in {}", sdgx_agent::framework::Cache::new(&config.outbox).dir().display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn health(config: &std::path::Path) -> std::process::ExitCode {
    match sdgx_agent::Config::load(config).and_then(|c| sdgx_agent::status::health(&c)) {
        Ok(health) => {
            println!("{}", serde_json::to_string(&health).expect("the health serialises"));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn status(config: &std::path::Path, json: bool) -> std::process::ExitCode {
    let Some(config) = load(config) else { return std::process::ExitCode::FAILURE };
    let outbox = sdgx_agent::outbox::Outbox::open(&config.outbox).and_then(|o| o.scan());
    let framework = sdgx_agent::framework::status(&config).await;
    let calendar = if config.coordinator_http.is_some() { Some(sdgx_agent::status::calendar(&config).await) } else { None };
    let sign_offs = match (&outbox, config.coordinator_http.is_some()) {
        (Ok(listing), true) => Some(sdgx_agent::status::sign_offs(&config, listing).await),
        _ => None,
    };
    let mut ok = framework.is_ok();
    if json {
        let v = serde_json::json!({
            "framework": framework.as_ref().map_err(ToString::to_string),
            "outbox": outbox.as_ref().map(|l| &l.entries).map_err(ToString::to_string),
            "corrupt": outbox.as_ref().map(|l| &l.corrupt).ok(),
            "calendar": calendar.as_ref().map(|c| c.as_ref().map_err(ToString::to_string)),
            "sign_off": sign_offs.as_ref().map(|s| s.as_ref().map_err(ToString::to_string)),
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("the status serialises"));
        ok = ok && outbox.is_ok() && !matches!(calendar, Some(Err(_))) && !matches!(sign_offs, Some(Err(_)));
    } else {
        match &framework {
            Ok(f) => print!("{}", sdgx_agent::framework::render(f)),
            Err(e) => eprintln!("error: the framework: {e}"),
        }
        match &outbox {
            Ok(listing) => print!("{}", sdgx_agent::status::render_outbox(&config.outbox, listing)),
            Err(e) => {
                ok = false;
                eprintln!("error: {e}");
            }
        }
        match &calendar {
            Some(Ok(c)) => print!("{}", sdgx_agent::status::render(c)),
            Some(Err(e)) => {
                ok = false;
                eprintln!("error: {e}");
            }
            None => println!("(set coordinator_http and token_file to see the reporting calendar)"),
        }
        match &sign_offs {
            Some(Ok(s)) => print!("{}", sdgx_agent::status::render_sign_offs(s)),
            Some(Err(e)) => {
                ok = false;
                eprintln!("error: the sign-off: {e}");
            }
            None => {}
        }
    }
    if ok { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE }
}
