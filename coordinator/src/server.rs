//! Startup and serving: [`Coordinator::build`] loads the contract, opens the store and binds
//! every listener (port 0 works); [`Coordinator::run`] serves until the shutdown future
//! completes.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use futures::FutureExt;
use sdgx_schemas::{Contract, ValidationOptions};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::auth::{FailureLimiter, Registry, Tokens};
use crate::catalog::{Catalog, Registers};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::flight::{AgentsDoor, SdgxFlight};
use crate::flightsql::AnalystFlight;
use crate::ingest::Ingest;
use crate::store::Store;

/// A coordinator with its listeners bound, ready to run.
pub struct Coordinator {
    config: Config,
    flight: TcpListener,
    analyst_flight: Option<TcpListener>,
    http: TcpListener,
    catalog: Arc<Catalog>,
    ingest: Arc<Ingest>,
}

/// Loads the contract and opens the store described by `config` (no listeners); `writer` is
/// true only for the serving coordinator.
pub async fn open(config: &Config, writer: bool) -> Result<(Arc<Catalog>, Arc<Ingest>)> {
    let contract = Arc::new(Contract::load(config.national_codelists.as_deref(), config.national_framework.as_deref())?);
    std::fs::create_dir_all(&config.data_dir).map_err(Error::io(&config.data_dir))?;
    let url = config.store_url()?;
    let options = config.store_options.resolve(&url);
    let store = Arc::new(Store::open(url, options, &config.data_dir, writer).await?);
    let catalog = Arc::new(Catalog::new(contract.clone(), store.clone(), Registers::from_config(config)?, config.query_memory_limit));
    let registry = Registry::new(config.security.agencies.clone());
    let limits = crate::ingest::Limits {
        max_messages: config.max_publication_messages,
        idle_timeout: std::time::Duration::from_secs(config.publish_idle_timeout_secs),
    };
    let ingest = Arc::new(Ingest { contract, store, options: ValidationOptions { max_problems: config.max_problems }, registry, limits });
    Ok((catalog, ingest))
}

impl Coordinator {
    /// Opens everything and binds the Flight and HTTP listeners.
    pub async fn build(config: Config) -> Result<Coordinator> {
        config.validate()?;
        let (catalog, ingest) = open(&config, true).await?;
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr).await.map_err(|e| Error::Transport(format!("cannot listen on {addr}: {e}")))
        };
        let flight = bind(config.flight_addr).await?;
        let analyst_flight = match config.analyst_flight_addr {
            Some(a) => Some(bind(a).await?),
            None => None,
        };
        let http = bind(config.http_addr).await?;
        Ok(Coordinator { config, flight, analyst_flight, http, catalog, ingest })
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

    /// The catalog (for in-process queries).
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.clone()
    }

    /// Serves Flight and HTTP until `shutdown` completes, then drains both.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let Coordinator { config, flight, analyst_flight, http, catalog, ingest } = self;
        let shutdown = shutdown.shared();
        let t = &config.transport;
        let sec = &config.security;
        let tokens = Arc::new(Tokens::load(&sec.tokens, sec.token_file.as_deref())?);
        let limiter = Arc::new(FailureLimiter::new(sec.auth_max_failures, std::time::Duration::from_secs(sec.auth_window_secs)));
        let agents = AgentsDoor { mtls: sec.tls.as_ref().map(|t| t.revoked.clone()), insecure_plaintext_publish: sec.insecure_plaintext_publish };
        let svc = SdgxFlight::new(ingest.clone(), catalog.clone(), agents);
        let flight = flight_server(t, svc, flight, sec.tls.as_ref().map(|t| server_tls(t, true)).transpose()?, shutdown.clone())?;
        let limits = crate::query::Limits::from_config(&config)?;
        let analysts = match analyst_flight {
            Some(listener) => {
                let svc = AnalystFlight::new(catalog.clone(), tokens.clone(), limiter.clone(), limits.clone());
                let tls = sec.tls.as_ref().map(|t| server_tls(t, false)).transpose()?;
                Some(flight_server(t, svc, listener, tls, shutdown.clone())?)
            }
            None => None,
        };
        let state = Arc::new(crate::http::HttpState {
            catalog: catalog.clone(),
            tokens,
            limiter,
            limits,
        });
        let app = crate::http::router(state).into_make_service_with_connect_info::<SocketAddr>();
        let http = axum::serve(http, app).with_graceful_shutdown(shutdown);
        let analysts = async move {
            match analysts {
                Some(a) => a.await,
                None => Ok(()),
            }
        };
        let (f, a, h) = tokio::join!(flight, analysts, http.into_future());
        f.map_err(|e| Error::Transport(format!("flight server: {e}")))?;
        a.map_err(|e| Error::Transport(format!("analysts' flight server: {e}")))?;
        h.map_err(|e| Error::Transport(format!("http server: {e}")))?;
        Ok(())
    }
}

/// A Flight server for `door` on `listener`.
fn flight_server<S, F>(
    t: &crate::config::TransportConfig,
    svc: S,
    listener: TcpListener,
    tls: Option<tonic::transport::ServerTlsConfig>,
    shutdown: F,
) -> Result<impl Future<Output = std::result::Result<(), tonic::transport::Error>> + use<S, F>>
where
    S: FlightService,
    F: Future<Output = ()> + Send + 'static,
{
    let svc = FlightServiceServer::new(svc).max_decoding_message_size(t.max_message_size).max_encoding_message_size(t.max_message_size);
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls).map_err(|e| Error::Transport(format!("TLS: {e}")))?;
    }
    Ok(builder
        .initial_stream_window_size(Some(t.stream_window))
        .initial_connection_window_size(Some(t.connection_window))
        .add_service(svc)
        .serve_with_incoming_shutdown(accepted(listener, t.tcp_nodelay), shutdown))
}

/// The connections accepted on `listener`, with Nagle's algorithm off when `nodelay` (the
/// server's own `tcp_nodelay` applies only to listeners it binds itself; without this, every
/// small reply waits for the peer's delayed acknowledgement, some 40 ms).
fn accepted(listener: TcpListener, nodelay: bool) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use futures::TryStreamExt;
    TcpListenerStream::new(listener).map_ok(move |s| {
        if let Err(e) = s.set_nodelay(nodelay) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
        s
    })
}

/// A Flight port's TLS: the coordinator's identity and, with `client_auth`, client
/// certificates required and verified against the configured CA bundle (expiry included).
fn server_tls(t: &crate::config::TlsConfig, client_auth: bool) -> Result<tonic::transport::ServerTlsConfig> {
    let read = |p: &std::path::Path| std::fs::read(p).map_err(Error::io(p));
    let identity = tonic::transport::Identity::from_pem(read(&t.cert)?, read(&t.key)?);
    let tls = tonic::transport::ServerTlsConfig::new().identity(identity);
    if !client_auth {
        return Ok(tls);
    }
    let ca = tonic::transport::Certificate::from_pem(read(&t.client_ca)?);
    Ok(tls.client_ca_root(ca).client_auth_optional(false))
}
