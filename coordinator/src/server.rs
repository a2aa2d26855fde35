//! Startup and serving: [`Coordinator::build`] loads the contract, opens the store and binds
//! every listener (port 0 works); [`Coordinator::run`] serves until the shutdown future
//! completes.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use axum::extract::ConnectInfo;
use futures::FutureExt;
use sdgx_schemas::{Contract, ValidationOptions};
use tokio::net::TcpListener;
use tonic::transport::server::Connected;

use crate::auth::{FailureLimiter, Registry, Tokens};
use crate::catalog::{Catalog, Registers};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::flight::{AgentsDoor, SdgxFlight};
use crate::flightsql::{AnalystFlight, AnalystService};
use crate::ingest::Ingest;
use crate::listener::{accept, Admitted, ConnectionLimits, Gate, Plain};
use crate::store::Store;
use crate::upstream::Upstream;

/// A coordinator with its listeners bound, ready to run.
pub struct Coordinator {
    config: Config,
    flight: TcpListener,
    analyst_flight: Option<TcpListener>,
    http: TcpListener,
    catalog: Arc<Catalog>,
    ingest: Arc<Ingest>,
    limiter: Arc<FailureLimiter>,
    upstream: Option<Arc<Upstream>>,
}

/// Loads the contract and opens the store described by `config` (no listeners); `serving` is
/// true only for the serving coordinator, which is the store's writer unless
/// `config.read_only` makes it a read-only replica.
pub async fn open(config: &Config, serving: bool) -> Result<(Arc<Catalog>, Arc<Ingest>)> {
    open_with(config, serving, crate::clock::Clock::from_env()).await
}

/// Opens the store of `config` for a command that reads it once (`figures`, `export`, `audit
/// verify`), as [`open`] does for a process that is not serving. Where there is no store (a
/// mistyped data directory), it is refused with [`Error::NotFound`] naming the place, unless
/// `create` is true, which starts an empty one.
pub async fn open_reading(config: &Config, create: bool) -> Result<(Arc<Catalog>, Arc<Ingest>)> {
    let url = config.store_url()?;
    if !create && !Store::exists(&url, &config.store_options.resolve(&url)).await? {
        let place = match &config.store_url {
            Some(_) => format!("store_url {}", crate::storage::redact(&url)),
            None => format!("data directory {} (no Delta log under {})", config.data_dir.display(), config.data_dir.join("store").display()),
        };
        return Err(Error::NotFound(format!(
            "there is no store in {place}: check --data-dir (or the configuration's data_dir and store_url), or give --create to start an empty store"
        )));
    }
    open(config, false).await
}

/// [`open`] with the clock `clock` (in-process tests move a manual one).
pub async fn open_with(config: &Config, serving: bool, clock: crate::clock::Clock) -> Result<(Arc<Catalog>, Arc<Ingest>)> {
    let contract = Arc::new(Contract::load(config.national_codelists.as_deref(), config.national_framework.as_deref())?);
    std::fs::create_dir_all(&config.data_dir).map_err(Error::io(&config.data_dir))?;
    let url = config.store_url()?;
    let options = config.store_options.resolve(&url);
    let store = if serving && config.read_only {
        Store::open_replica(url, options, &config.data_dir, Duration::from_millis(config.follow_interval_ms)).await?
    } else {
        Store::open(url, options, &config.data_dir, serving).await?
    };
    let store = match (&config.security.signing, serving && !config.read_only) {
        (Some(s), true) => store.with_signer(
            sdgx_schemas::evidence::KeySigner::from_pem_files(&s.cert, &s.key).map_err(|e| Error::Config(format!("security.signing: {e}")))?,
        ),
        (None, true) => {
            tracing::warn!("security.signing is not set: log entries are not signed by the coordinator (development only; `audit verify --ca` refuses such entries)");
            store
        }
        (_, false) => store,
    };
    let store = Arc::new(store);
    if let Some(f) = clock.file() {
        tracing::warn!(file = %f.display(), "the coordinator's clock is read from {} (a test setting): decisions and embargoes follow that file, not the system clock", crate::clock::CLOCK_FILE);
    }
    let catalog = Arc::new(
        Catalog::new(contract.clone(), store.clone(), Registers::from_config(config)?, config.query_memory_limit, crate::figures::views(crate::figures::Source::Facts))
            .with_clock(clock),
    );
    let registry = Registry::new(config.security.agencies.clone()).reserving(&config.derived_agency);
    let limits = crate::ingest::Limits::from_config(config);
    let ingest = Arc::new(Ingest::new(catalog.clone(), ValidationOptions { max_problems: config.max_problems, areas: None }, registry, limits));
    Ok((catalog, ingest))
}

impl Coordinator {
    /// Opens everything and binds the Flight and HTTP listeners.
    pub async fn build(config: Config) -> Result<Coordinator> {
        Self::build_with(config, crate::clock::Clock::from_env()).await
    }

    /// [`build`](Self::build) with the clock `clock`.
    pub async fn build_with(config: Config, clock: crate::clock::Clock) -> Result<Coordinator> {
        config.validate()?;
        let (catalog, ingest) = open_with(&config, true, clock).await?;
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr).await.map_err(|e| Error::Transport(format!("cannot listen on {addr}: {e}")))
        };
        let flight = bind(config.flight_addr).await?;
        let analyst_flight = match config.analyst_flight_addr {
            Some(a) => Some(bind(a).await?),
            None => None,
        };
        let http = bind(config.http_addr).await?;
        warn_if_plain(http.local_addr().map_err(|e| Error::Transport(format!("the HTTP listener: {e}")))?, config.http.tls.is_some());
        let window = std::time::Duration::from_secs(config.security.auth_window_secs);
        let limiter = Arc::new(FailureLimiter::new(config.security.auth_max_failures, window));
        // Only the writer relays upstream: a replica neither opens nor touches the outbox.
        let upstream = match config.upstream.as_ref().filter(|_| !config.read_only) {
            Some(u) => Some(Arc::new(Upstream::open(u, &config.data_dir, &config.transport, config.max_problems)?)),
            None => None,
        };
        Ok(Coordinator { config, flight, analyst_flight, http, catalog, ingest, limiter, upstream })
    }

    /// The bound Flight address.
    pub fn flight_addr(&self) -> SocketAddr {
        self.flight.local_addr().expect("bound")
    }

    /// The bound address of the analysts' Flight port, if enabled.
    pub fn analyst_flight_addr(&self) -> Option<SocketAddr> {
        self.analyst_flight.as_ref().map(|l| l.local_addr().expect("bound"))
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http.local_addr().expect("bound")
    }

    /// The failed-authentication limiter shared by the HTTP and Flight SQL ports (for its
    /// counters).
    pub fn limiter(&self) -> Arc<FailureLimiter> {
        self.limiter.clone()
    }

    /// The ingest path (for in-process observers: its admission counts publications in
    /// progress).
    pub fn ingest(&self) -> Arc<Ingest> {
        self.ingest.clone()
    }

    /// The catalog (for in-process queries).
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.clone()
    }

    /// Serves Flight and HTTP until `shutdown` completes, then drains both. Every listener
    /// admits connections through [`crate::listener`] (caps, TLS handshake and first-request
    /// timeouts) and serves them with HTTP/2 stream limits and keep-alive pings.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let Coordinator { config, flight, analyst_flight, http, catalog, ingest, limiter, upstream } = self;
        let shutdown = shutdown.shared();
        // A read-only replica commits nothing: it follows the writer's commits instead, and
        // starts none of the writer's background tasks (check `writer` before starting one).
        let writer = catalog.store().access() == crate::store::Access::Writer;
        let following = (!writer).then(|| tokio::spawn(follow(catalog.store().clone(), Duration::from_millis(config.follow_interval_ms))));
        // What follows official releases, and the upstream's delivery: the writer's own work
        // (`upstream` is only opened for a writer).
        let derived = catalog.contract().framework.headline_indicator().filter(|_| config.publish_derived).map(|_| crate::release::Derived {
            agency: config.derived_agency.clone(),
            options: ValidationOptions { max_problems: config.max_problems, areas: None },
        });
        let followers = crate::release::Followers { derived, upstream: upstream.clone() };
        let mut background = Vec::new();
        if writer && followers.any() {
            let every = Duration::from_millis(config.release_poll_ms);
            background.push(tokio::spawn(crate::release::watch(catalog.clone(), followers, every, shutdown.clone())));
        }
        if let Some(u) = upstream.as_ref().filter(|_| writer) {
            background.push(tokio::spawn(u.clone().deliver(shutdown.clone())));
        }
        let (t, c) = (&config.transport, &config.connections);
        let sec = &config.security;
        let tokens = Arc::new(Tokens::load(&sec.tokens, sec.token_file.as_deref())?);
        let window = std::time::Duration::from_secs(sec.auth_window_secs);
        let housekeeping = tokio::spawn({
            let limiter = limiter.clone();
            async move {
                let mut every = tokio::time::interval(window);
                loop {
                    every.tick().await;
                    limiter.housekeep();
                }
            }
        });
        let agents = AgentsDoor { mtls: sec.tls.as_ref().map(|t| t.revoked.clone()), insecure_plaintext_publish: sec.insecure_plaintext_publish };
        let svc = SdgxFlight::new(ingest.clone(), catalog.clone(), agents);
        let flight = match sec.tls.as_ref().map(|tls| server_tls(&tls.cert, &tls.key, Some(&tls.client_ca), &[b"h2"])).transpose()? {
            Some(tls) => flight_server(t, c, svc, accept("flight", flight, Gate::new(c), tls, c, t.tcp_nodelay), shutdown.clone()),
            None => flight_server(t, c, svc, accept("flight", flight, Gate::new(c), Plain, c, t.tcp_nodelay), shutdown.clone()),
        };
        let limits = crate::query::Limits::from_config(&config)?;
        let metrics = Arc::new(crate::metrics::Metrics::new(catalog.store().commit_histogram(), &ingest.publications, limiter.counters()));
        let analysts = match analyst_flight {
            Some(listener) => {
                let svc = AnalystService::from(AnalystFlight::new(catalog.clone(), tokens.clone(), limiter.clone(), limits.clone(), metrics.clone()));
                let gate = Gate::new(c);
                Some(match sec.tls.as_ref().map(|tls| server_tls(&tls.cert, &tls.key, None, &[b"h2"])).transpose()? {
                    Some(tls) => flight_server(t, c, svc, accept("analysts' flight", listener, gate, tls, c, t.tcp_nodelay), shutdown.clone()),
                    None => flight_server(t, c, svc, accept("analysts' flight", listener, gate, Plain, c, t.tcp_nodelay), shutdown.clone()),
                })
            }
            None => None,
        };
        let state = Arc::new(crate::http::HttpState {
            catalog: catalog.clone(),
            tokens,
            limiter,
            limits,
            ingest: ingest.clone(),
            uploads: Arc::new(crate::dashboard::upload::Uploads::new(&config.data_dir)),
            upstream,
            metrics,
            requests: crate::http::RequestLimits {
                timeout: Duration::from_secs(c.request_timeout_secs),
                max_body_bytes: c.max_request_body_bytes,
            },
            sessions: crate::dashboard::session::Sessions::new(
                config.http.session_idle_timeout_secs,
                config.http.session_lifetime_secs,
                config.http.tls.is_some(),
                catalog.clock().clone(),
            ),
            hsts: hsts(&config.http),
        });
        let app = crate::http::router(state);
        let http_tls = config.http.tls.as_ref().map(|tls| server_tls(&tls.cert, &tls.key, None, &[b"h2", b"http/1.1"])).transpose()?;
        let http = match http_tls {
            Some(tls) => futures::future::Either::Left(serve_http(app, accept("http", http, Gate::new(c), tls, c, t.tcp_nodelay), c, shutdown)),
            None => futures::future::Either::Right(serve_http(app, accept("http", http, Gate::new(c), Plain, c, t.tcp_nodelay), c, shutdown)),
        };
        let analysts = async move {
            match analysts {
                Some(a) => a.await,
                None => Ok(()),
            }
        };
        let (f, a, ()) = tokio::join!(flight, analysts, http);
        housekeeping.abort();
        if let Some(f) = following {
            f.abort();
        }
        for task in background {
            // Each ends at the shutdown; one that panicked has logged why.
            let _ = task.await;
        }
        f.map_err(|e| Error::Transport(format!("flight server: {e}")))?;
        a.map_err(|e| Error::Transport(format!("analysts' flight server: {e}")))?;
        let store_version = catalog.store().version().await;
        tracing::info!(store_version, "coordinator stopped: every listener closed and its connections drained");
        Ok(())
    }
}

/// A read-only replica's following of the writer: [`Store::refresh`] every `every` (the
/// next look waits for the previous one), logging new versions and each new failure once.
async fn follow(store: Arc<Store>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing: Option<String> = None;
    loop {
        tick.tick().await;
        match store.refresh().await {
            Ok(version) => {
                if failing.take().is_some() {
                    tracing::info!("following the writer again");
                }
                if let Some(version) = version {
                    tracing::info!(version, "followed the writer to a new store version");
                }
            }
            Err(e) => {
                let why = e.to_string();
                if failing.as_deref() != Some(why.as_str()) {
                    tracing::warn!(error = %why, "could not follow the writer's commits; trying again");
                    failing = Some(why);
                }
            }
        }
    }
}

/// A Flight server for `svc` on the admitted connections `incoming`: HTTP/2 with the transport's
/// windows and message sizes, and the stream limit and keep-alive pings of `c`.
fn flight_server<S, IO, F>(
    t: &crate::config::TransportConfig,
    c: &ConnectionLimits,
    svc: S,
    incoming: impl futures::Stream<Item = std::io::Result<Admitted<IO>>> + Send + 'static,
    shutdown: F,
) -> futures::future::BoxFuture<'static, std::result::Result<(), tonic::transport::Error>>
where
    S: FlightService,
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Connected + Unpin + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let svc = FlightServiceServer::new(svc).max_decoding_message_size(t.max_message_size).max_encoding_message_size(t.max_message_size);
    Box::pin(
        tonic::transport::Server::builder()
            .initial_stream_window_size(Some(t.stream_window))
            .initial_connection_window_size(Some(t.connection_window))
            .max_concurrent_streams(Some(c.max_streams_per_connection))
            .http2_keepalive_interval(Some(Duration::from_secs(c.keepalive_interval_secs)))
            .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
            .add_service(svc)
            .serve_with_incoming_shutdown(incoming, shutdown),
    )
}

/// How long a keep-alive ping may go unanswered before the connection is closed.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves `app` on the admitted connections `incoming` (HTTP/1 with hyper's header-read
/// timeout, or HTTP/2 with the stream limit and keep-alive pings of `c`) until `shutdown`
/// completes; then stops accepting, lets every connection finish its requests, and returns.
async fn serve_http<IO>(
    app: axum::Router,
    incoming: impl futures::Stream<Item = std::io::Result<Admitted<IO>>>,
    c: &ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use futures::StreamExt;
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;

    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(c.header_timeout_secs));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(c.max_streams_per_connection)
        .keep_alive_interval(Duration::from_secs(c.keepalive_interval_secs))
        .keep_alive_timeout(KEEPALIVE_TIMEOUT);
    let (stop, stopped) = tokio::sync::watch::channel(());
    // Boxed so that dropping it closes the listening socket before the connections drain.
    let mut incoming = Box::pin(incoming);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let conn = tokio::select! {
            () = &mut shutdown => break,
            c = incoming.next() => match c {
                Some(Ok(c)) => c,
                Some(Err(_)) => continue,
                None => break,
            },
        };
        let peer = conn.peer();
        let svc = app.clone().map_request(move |mut req: axum::extract::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let (builder, mut stopped) = (builder.clone(), stopped.clone());
        tokio::spawn(async move {
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(conn), hyper_util::service::TowerToHyperService::new(svc));
            let mut conn = std::pin::pin!(conn);
            let served = tokio::select! {
                r = conn.as_mut() => r,
                _ = stopped.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        });
    }
    drop(incoming); // stops the accept loop: new clients are refused while the others drain
    drop(stopped);
    let _ = stop.send(());
    stop.closed().await;
}

/// The `Strict-Transport-Security` value of the HTTP port: only over TLS, and not when
/// `hsts_max_age_secs` is 0.
fn hsts(http: &crate::config::HttpConfig) -> Option<axum::http::HeaderValue> {
    (http.tls.is_some() && http.hsts_max_age_secs > 0).then(|| format!("max-age={}", http.hsts_max_age_secs).parse().expect("a valid header value"))
}

/// Says at start how the HTTP port at `addr` is served: plain HTTP beyond loopback is a
/// warning (tokens and session cookies would cross the network in clear); on loopback it is
/// local development or a TLS-terminating proxy on the same host.
fn warn_if_plain(addr: SocketAddr, tls: bool) {
    if tls {
        tracing::info!(%addr, "the HTTP API and dashboard serve TLS (https)");
    } else if addr.ip().is_loopback() {
        tracing::info!(%addr, "the HTTP API and dashboard serve plain HTTP on loopback only; set [http.tls] before serving other hosts");
    } else {
        tracing::warn!(
            %addr,
            "the HTTP API and dashboard serve PLAIN HTTP on {addr}: bearer tokens, dashboard logins and session cookies travel in clear; set [http.tls] (cert, key) or bind http_addr to loopback behind a TLS proxy"
        );
    }
}

/// A port's TLS: the coordinator's certificate `cert` and key `key`, the protocols `alpn`
/// offered and, with `client_ca`, client certificates required and verified against that CA
/// bundle (expiry included). The handshake runs in [`crate::listener`], so tonic's
/// `peer_certs()` still sees the client's chain.
fn server_tls(cert: &std::path::Path, key: &std::path::Path, client_ca: Option<&std::path::Path>, alpn: &[&[u8]]) -> Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let read = |p: &std::path::Path| std::fs::read(p).map_err(Error::io(p));
    let bad = |p: &std::path::Path, e: &dyn std::fmt::Display| Error::Transport(format!("TLS: {}: {e}", p.display()));
    let certs = |p: &std::path::Path| -> Result<Vec<CertificateDer<'static>>> {
        CertificateDer::pem_slice_iter(&read(p)?).collect::<std::result::Result<_, _>>().map_err(|e| bad(p, &e))
    };
    let chain = certs(cert)?;
    let private = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| bad(key, &e))?;
    let builder = rustls::ServerConfig::builder();
    let builder = match client_ca {
        Some(ca_file) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in certs(ca_file)? {
                roots.add(ca).map_err(|e| bad(ca_file, &e))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots)).build().map_err(|e| bad(ca_file, &e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, private).map_err(|e| bad(cert, &e))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
