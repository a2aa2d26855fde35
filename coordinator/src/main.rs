//! `sdgx-coordinator`: parses arguments, sets up logging and calls the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sdgx_coordinator::catalog::Read;
use sdgx_coordinator::{figures, server, table, Config, Coordinator};

/// The sdgx national coordinator.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML); SDGX_* environment variables override it.
    #[arg(long, short, global = true, env = "SDGX_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (store and staging), overriding the configuration.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Log lines as readable text or as one JSON object per line (on standard error).
    #[arg(long, global = true, env = "SDGX_LOG_FORMAT", value_enum, default_value_t = sdgx_agent::logging::LogFormat::Text)]
    log_format: sdgx_agent::logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve Flight and HTTP until interrupted.
    Serve {
        /// Flight listen address, overriding the configuration.
        #[arg(long)]
        flight_addr: Option<std::net::SocketAddr>,
        /// Analysts' Flight listen address, overriding the configuration.
        #[arg(long)]
        analyst_flight_addr: Option<std::net::SocketAddr>,
        /// HTTP listen address, overriding the configuration.
        #[arg(long)]
        http_addr: Option<std::net::SocketAddr>,
        /// Once listening, also write {"flight": addr, "http": addr} to this file (the same line
        /// is always printed on standard output).
        #[arg(long)]
        ready_file: Option<PathBuf>,
        /// Serve as a read-only replica of the store: figures, Flight SQL, exports and the
        /// dashboard, following the writer's commits; no publications, decisions or uploads
        /// (the setting `read_only`).
        #[arg(long)]
        read_only: bool,
    },
    /// Print the national figures from the store as readable tables.
    Figures {
        /// First reference year counted.
        #[arg(long)]
        from: Option<i32>,
        /// Last reference year counted.
        #[arg(long)]
        to: Option<i32>,
        /// Store version, or RFC 3339 timestamp, to read (current when absent).
        #[arg(long)]
        as_of: Option<sdgx_coordinator::catalog::AsOf>,
        /// The view to read: official (approved and released publications) or provisional
        /// (every accepted publication).
        #[arg(long, default_value = "official")]
        view: sdgx_coordinator::signoff::View,
        /// Print JSON (as the HTTP API serves it) instead of tables.
        #[arg(long)]
        json: bool,        /// Start an empty store when the data directory holds none (without it, a directory
        /// with no store is refused: a mistyped --data-dir would read as all zeros).
        #[arg(long)]
        create: bool,
    },
    /// Export for the VNR and the UN: sdmx-csv-1.0, sdmx-csv-2.0 (global dataflow),
    /// sdmx-csv-1.0-national, sdmx-csv-2.0-national, sdmx-structure, sdmx-report, open-sdg, xlsx
    /// or html, from one store version.
    Export {
        /// The format.
        format: String,
        /// Store version, or RFC 3339 timestamp, to read (current when absent).
        #[arg(long)]
        as_of: Option<sdgx_coordinator::catalog::AsOf>,
        /// The view to read: official (approved and released publications) or provisional
        /// (every accepted publication).
        #[arg(long, default_value = "official")]
        view: sdgx_coordinator::signoff::View,
        /// The file to write (for open-sdg: a directory, or a .zip file).
        #[arg(long)]
        out: PathBuf,
        /// The language of the report's and the annex's texts and labels (e.g. fr, or hy,ru
        /// for Armenian titles with a Russian interface); the `language` setting when absent.
        #[arg(long)]
        lang: Option<String>,
        /// Start an empty store when the data directory holds none (without it, a directory
        /// with no store is refused: a mistyped --data-dir would read as all zeros).
        #[arg(long)]
        create: bool,
    },
    /// Check the tamper-evident publications log.
    Audit {
        /// Start an empty store when the data directory holds none (without it, a directory
        /// with no store is refused: a mistyped --data-dir would read as all zeros).
        #[arg(long, global = true)]
        create: bool,
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The national certificate authority for agents.
    Ca {
        #[command(subcommand)]
        command: CaCommand,
    },
    /// Bearer tokens for analysts and administrators.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// This coordinator as an agency of an upstream one (`[upstream]` in the configuration).
    Upstream {
        #[command(subcommand)]
        command: UpstreamCommand,
    },
    /// Ask a running coordinator's HTTP API for /health (a container healthcheck; over TLS,
    /// accepting only the configured certificate, when [http.tls] is set): prints its
    /// answer and exits 0 when it is ok, 1 otherwise.
    Health {
        /// The HTTP address to ask (default: http_addr of the configuration; 0.0.0.0 is asked
        /// on the loopback interface).
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
}

#[derive(Subcommand)]
enum CaCommand {
    /// Create the CA and the coordinator's server certificate.
    Init {
        /// Directory for ca.pem, ca.key, server.pem, server.key.
        #[arg(long)]
        dir: PathBuf,
        /// DNS names or IP addresses of the coordinator (repeatable).
        #[arg(long = "name", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string()])]
        names: Vec<String>,
        /// Validity of the server certificate in days (the CA gets twice as long).
        #[arg(long, default_value_t = 825)]
        days: i64,
    },
    /// Issue the coordinator's log-signing certificate (signing.pem, signing.key; extended key
    /// usage document signing) from the CA in --dir; `init` already does.
    IssueSigner {
        /// Directory of the CA.
        #[arg(long)]
        dir: PathBuf,
        /// Validity in days.
        #[arg(long, default_value_t = 825)]
        days: i64,
    },
    /// Issue an agent's client certificate (SAN URI sdgx:agency:<id>).
    IssueAgent {
        /// Directory of the CA.
        #[arg(long)]
        dir: PathBuf,
        /// The agency id.
        #[arg(long)]
        agency: String,
        /// Validity in days.
        #[arg(long, default_value_t = 397)]
        days: i64,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token, print it once, and store only its hash in the token file.
    Create {
        /// agency, reader, approver, admin or metrics (a scraper of /metrics).
        #[arg(long)]
        role: String,
        /// Who holds it.
        #[arg(long)]
        name: String,
        /// Token file (default: security.token_file of the configuration).
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UpstreamCommand {
    /// The upstream queue: every outbox entry with its state and the upstream's last reply,
    /// and what each upstream dataset last relayed (read from disk; the coordinator need not
    /// run).
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Replay the Delta log from version 0: every commit must carry its publications-log entry,
    /// each entry's actions and content hashes must match its commit and rows, the chain must
    /// link and the newest commit must not be older than the head the coordinator recorded;
    /// name the first commit that does not match (exit status 1). Every signature is checked:
    /// the agencies' of their publications and the coordinator's of every entry, each
    /// certificate against the CA certificates (--ca, else security.audit_ca or
    /// security.tls.client_ca). Offline: `--data-dir <copy of the store> audit verify --ca ca.pem`.
    Verify {
        /// A CA certificate file (PEM) the signers' certificates must chain to (repeatable).
        #[arg(long = "ca")]
        ca: Vec<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    rustls::crypto::ring::default_provider().install_default().expect("no other crypto provider is installed first");
    let cli = Cli::parse();
    sdgx_agent::logging::init(cli.log_format, "info,buoyant_kernel=warn,buoyant_kernel_engine=warn,deltalake_core=warn,datafusion=warn");
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> sdgx_coordinator::Result<std::process::ExitCode> {
    let load = || -> sdgx_coordinator::Result<Config> {
        let mut config = Config::load(cli.config.as_deref())?;
        if let Some(d) = cli.data_dir.clone() {
            config.data_dir = d;
        }
        Ok(config)
    };
    match cli.command {
        Command::Serve { flight_addr, analyst_flight_addr, http_addr, ready_file, read_only } => {
            let mut config = load()?;
            config.read_only |= read_only;
            config.analyst_flight_addr = analyst_flight_addr.or(config.analyst_flight_addr);
            config.flight_addr = flight_addr.unwrap_or(config.flight_addr);
            config.http_addr = http_addr.unwrap_or(config.http_addr);
            let c = Coordinator::build(config).await?;
            let (f, h) = (c.flight_addr(), c.http_addr());
            let a = c.analyst_flight_addr().map(|a| a.to_string());
            tracing::info!(flight = %f, analyst_flight = ?a, http = %h, read_only = c.catalog().store().writable().is_err(), "sdgx coordinator listening");
            // One JSON line on stdout once listening, so scripts and tests learn the bound
            // addresses (port 0) without polling.
            let body = serde_json::json!({ "flight": f.to_string(), "analyst_flight": a, "http": h.to_string() }).to_string();
            {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{body}");
                let _ = out.flush();
            }
            if let Some(p) = ready_file {
                std::fs::write(&p, &body).map_err(sdgx_coordinator::Error::io(&p))?;
            }
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(|e| sdgx_coordinator::Error::Internal(format!("cannot handle SIGTERM: {e}")))?;
            c.run(async move {
                let signal = tokio::select! {
                    _ = tokio::signal::ctrl_c() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                };
                tracing::info!(signal, "shutting down: no new connections; draining the open ones");
            })
            .await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Figures { from, to, as_of, view, json, create } => {
            let config = load()?;
            let (catalog, _) = server::open_reading(&config, create).await?;
            let window = figures::Window { from, to };
            for kind in figures::FigureKind::ALL {
                let figure = figures::compute(&catalog, kind, window, &Read { view, as_of: as_of.clone() }).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&figure).expect("figures serialise"));
                } else {
                    println!("{}", table::render(&figure));
                }
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Export { format, as_of, view, out, lang, create } => {
            let format = sdgx_coordinator::export::Format::parse(&format)?;
            let config = load()?;
            let (catalog, _) = server::open_reading(&config, create).await?;
            let mut snapshot = sdgx_coordinator::export::snapshot(&catalog, &Read { view, as_of }).await?;
            if let Some(lang) = lang {
                snapshot.tr = sdgx_coordinator::i18n::Tr::new(&lang);
            }
            println!("{}", sdgx_coordinator::export::write(format, &snapshot, &out)?);
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Ca { command: CaCommand::Init { dir, names, days } } => {
            sdgx_coordinator::pki::init(&dir, &names, days)?;
            println!("created {0}/ca.pem, {0}/ca.key, {0}/server.pem, {0}/server.key, {0}/signing.pem, {0}/signing.key", dir.display());
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Ca { command: CaCommand::IssueSigner { dir, days } } => {
            let (cert, key) = sdgx_coordinator::pki::issue_signer(&dir, days)?;
            println!("issued the coordinator's log-signing certificate {} and key {}", cert.display(), key.display());
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Ca { command: CaCommand::IssueAgent { dir, agency, days } } => {
            let (cert, key) = sdgx_coordinator::pki::issue_agent(&dir, &agency, days)?;
            println!("issued {} and {} for agency {agency}", cert.display(), key.display());
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Token { command: TokenCommand::Create { role, name, file } } => {
            let role: sdgx_coordinator::auth::Role = role.parse()?;
            let file = match file {
                Some(f) => Some(f),
                None => load()?.security.token_file,
            };
            let file = file.ok_or_else(|| {
                sdgx_coordinator::Error::Config("give --file or set security.token_file".into())
            })?;
            let (secret, entry) = sdgx_coordinator::auth::Tokens::create(&name, role);
            sdgx_coordinator::auth::Tokens::append_to_file(&file, entry)?;
            eprintln!("token for {name} ({role:?}) stored as a hash in {}; it is shown only now:", file.display());
            println!("{secret}");
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Health { addr, timeout } => {
            let config = load()?;
            let addr = addr.unwrap_or(config.http_addr);
            let version = sdgx_coordinator::http::probe(addr, config.http.tls.as_ref(), std::time::Duration::from_secs(timeout)).await?;
            println!("{}", serde_json::json!({ "status": "ok", "store_version": version }));
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Upstream { command: UpstreamCommand::Status { json } } => {
            let config = load()?;
            let up = config.upstream.as_ref().ok_or_else(|| sdgx_coordinator::Error::Config("no [upstream] in the configuration: nothing goes up".into()))?;
            let status = sdgx_coordinator::upstream::status_of(up, &up.outbox_dir(&config.data_dir))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status).expect("the status serialises"));
            } else {
                print!("{}", sdgx_coordinator::upstream::render(&status));
            }
            Ok(if status.failed == 0 { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE })
        }
        Command::Audit { command: AuditCommand::Verify { ca }, create } => {
            let mut config = load()?;
            if !ca.is_empty() {
                config.security.audit_ca = ca;
            }
            // A log deltalake cannot even load (a deleted middle commit) is a failed audit too.
            let catalog = match server::open_reading(&config, create).await {
                Ok((catalog, _)) => catalog,
                Err(sdgx_coordinator::Error::Integrity(why)) => {
                    println!("audit FAILED at {why}");
                    return Ok(std::process::ExitCode::FAILURE);
                }
                Err(e) => return Err(e),
            };
            let report = sdgx_coordinator::audit::verify(&catalog).await?;
            println!("{report}");
            Ok(if report.first_mismatch.is_none() { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE })
        }
    }
}
