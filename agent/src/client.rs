//! The Flight connection to the coordinator, with the transport settings applied.

use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::FlightClient;

use crate::config::{TlsConfig, TransportConfig};
use crate::error::{Error, Result};

/// How often the connection is checked with an HTTP/2 ping, and how long a ping (or a new
/// connection) may go unanswered before the connection counts as dead. Without this, a
/// connection whose network vanished mid-publication (a cable pulled, a container
/// disconnected) waits for an acknowledgement that cannot come until the kernel gives up on
/// the TCP connection, many minutes later; with it, the attempt fails within about
/// 2 x `KEEPALIVE` and the outbox retries it on a new connection.
pub const KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// Connects to the coordinator's Flight endpoint at `url`, with mutual TLS when `tls` is set.
pub async fn connect(url: &str, t: &TransportConfig, tls: Option<&TlsConfig>) -> Result<FlightClient> {
    let fail = |m: String| Error::Coordinator { url: url.to_owned(), message: m };
    let mut endpoint = tonic::transport::Endpoint::from_shared(url.to_owned()).map_err(|e| fail(e.to_string()))?;
    if let Some(tls) = tls {
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| Error::Config(format!("{}: {e}", p.display())))
        };
        let mut c = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(read(&tls.ca)?))
            .identity(tonic::transport::Identity::from_pem(read(&tls.cert)?, read(&tls.key)?));
        if let Some(d) = &tls.domain {
            c = c.domain_name(d.clone());
        }
        endpoint = endpoint.tls_config(c).map_err(|e| fail(format!("TLS: {e}")))?;
    }
    let endpoint = endpoint
        .initial_stream_window_size(t.stream_window)
        .initial_connection_window_size(t.connection_window)
        .tcp_nodelay(t.tcp_nodelay)
        .connect_timeout(KEEPALIVE)
        .http2_keep_alive_interval(KEEPALIVE)
        .keep_alive_timeout(KEEPALIVE)
        .keep_alive_while_idle(true);
    let channel = endpoint.connect().await.map_err(|e| fail(format!("cannot connect: {}", crate::error::chain(&e))))?;
    let inner = FlightServiceClient::new(channel)
        .max_decoding_message_size(t.max_message_size)
        .max_encoding_message_size(t.max_message_size);
    Ok(FlightClient::new_from_inner(inner))
}
