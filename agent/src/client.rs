//! The Flight connection to the coordinator, with the transport settings applied.

use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::FlightClient;

use crate::config::TransportConfig;
use crate::error::{Error, Result};

/// Connects to the coordinator's Flight endpoint at `url`.
pub async fn connect(url: &str, t: &TransportConfig) -> Result<FlightClient> {
    let fail = |m: String| Error::Coordinator { url: url.to_owned(), message: m };
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
        .map_err(|e| fail(e.to_string()))?
        .initial_stream_window_size(t.stream_window)
        .initial_connection_window_size(t.connection_window)
        .tcp_nodelay(t.tcp_nodelay);
    let channel = endpoint.connect().await.map_err(|e| fail(format!("cannot connect: {e}")))?;
    let inner = FlightServiceClient::new(channel)
        .max_decoding_message_size(t.max_message_size)
        .max_encoding_message_size(t.max_message_size);
    Ok(FlightClient::new_from_inner(inner))
}
