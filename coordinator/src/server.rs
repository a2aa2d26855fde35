//! Startup and serving: [`Coordinator::build`] loads the contract, opens the store and binds
//! every listener (port 0 works); [`Coordinator::run`] serves until the shutdown future
//! completes.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use arrow_flight::flight_service_server::FlightServiceServer;
use futures::FutureExt;
use sdgx_schemas::{Contract, ValidationOptions};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::auth::{FailureLimiter, Registry, Tokens};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::flight::SdgxFlight;
use crate::ingest::Ingest;
use crate::store::Store;

/// A coordinator with its listeners bound, ready to run.
pub struct Coordinator {
    config: Config,
    flight: TcpListener,
    http: TcpListener,
    catalog: Arc<Catalog>,
    ingest: Arc<Ingest>,
}

/// Loads the contract and opens the store described by `config` (no listeners); `writer` is
/// true only for the serving coordinator.
pub async fn open(config: &Config, writer: bool) -> Result<(Arc<Catalog>, Arc<Ingest>)> {
    let contract = Arc::new(Contract::load(config.national_codelists.as_deref(), config.national_framework.as_deref())?);
    std::fs::create_dir_all(&config.data_dir).map_err(Error::io(&config.data_dir))?;
    let store = Arc::new(Store::open(config.store_url()?, &config.data_dir, writer).await?);
    let catalog = Arc::new(Catalog::new(contract.clone(), store.clone(), config.query_memory_limit));
    let registry = Registry::new(config.security.agencies.clone());
    let ingest = Arc::new(Ingest { contract, store, options: ValidationOptions { max_problems: config.max_problems }, registry });
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
        let http = bind(config.http_addr).await?;
        Ok(Coordinator { config, flight, http, catalog, ingest })
    }

    /// The bound Flight address.
    pub fn flight_addr(&self) -> SocketAddr {
        self.flight.local_addr().expect("bound")
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
        let shutdown = shutdown.shared();
        let t = &self.config.transport;
        let sec = &self.config.security;
        let tokens = Arc::new(Tokens::load(&sec.tokens, sec.token_file.as_deref())?);
        let limiter = Arc::new(FailureLimiter::new(sec.auth_max_failures, std::time::Duration::from_secs(sec.auth_window_secs)));
        let mtls = sec.tls.as_ref().map(|t| t.revoked.clone());
        let svc = FlightServiceServer::new(SdgxFlight::new(self.ingest.clone(), self.catalog.clone(), mtls, sec.insecure_plaintext_publish))
            .max_decoding_message_size(t.max_message_size)
            .max_encoding_message_size(t.max_message_size);
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = &sec.tls {
            builder = builder.tls_config(server_tls(tls)?).map_err(|e| Error::Transport(format!("TLS: {e}")))?;
        }
        let flight = builder
            .initial_stream_window_size(Some(t.stream_window))
            .initial_connection_window_size(Some(t.connection_window))
            .tcp_nodelay(t.tcp_nodelay)
            .add_service(svc)
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.flight), shutdown.clone());
        let state = Arc::new(crate::http::HttpState {
            catalog: self.catalog.clone(),
            tokens,
            limiter,
            limits: crate::query::Limits {
                timeout: std::time::Duration::from_secs(self.config.query_timeout_secs),
                max_rows: self.config.query_max_rows,
            },
        });
        let app = crate::http::router(state).into_make_service_with_connect_info::<SocketAddr>();
        let http = axum::serve(self.http, app).with_graceful_shutdown(shutdown);
        let (f, h) = tokio::join!(flight, http.into_future());
        f.map_err(|e| Error::Transport(format!("flight server: {e}")))?;
        h.map_err(|e| Error::Transport(format!("http server: {e}")))?;
        Ok(())
    }
}

/// The Flight port's TLS: the coordinator's identity, and client certificates required and
/// verified against the configured CA bundle (expiry included).
fn server_tls(t: &crate::config::TlsConfig) -> Result<tonic::transport::ServerTlsConfig> {
    let read = |p: &std::path::Path| std::fs::read(p).map_err(Error::io(p));
    let identity = tonic::transport::Identity::from_pem(read(&t.cert)?, read(&t.key)?);
    let ca = tonic::transport::Certificate::from_pem(read(&t.client_ca)?);
    Ok(tonic::transport::ServerTlsConfig::new().identity(identity).client_ca_root(ca).client_auth_optional(false))
}
