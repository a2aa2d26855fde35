//! Admission of connections, the same on every listener (the agents' Flight port, the analysts'
//! Flight SQL port and the HTTP port), before any request is read:
//!
//! - **Caps**: at most [`ConnectionLimits::max_per_address`] open connections from one client
//!   address (an IPv6 client counts by its /64, see [`address_key`]) and
//!   [`ConnectionLimits::max_total`] in all, per listener. A connection over a cap is closed as
//!   soon as it is accepted, so it costs a descriptor for a moment, never a slot.
//! - **TLS handshakes** run in a task per connection (one silent peer never delays the next),
//!   each bounded by [`ConnectionLimits::tls_handshake_timeout_secs`].
//! - **The first request**: a connection must send its first [`FIRST_BYTES`] bytes (an HTTP/2
//!   client's connection preface; any HTTP/1 request head is longer) within
//!   [`ConnectionLimits::header_timeout_secs`] of being handed to the server. After that the
//!   server's own limits apply (hyper's HTTP/1 header-read timeout, HTTP/2 stream limits and
//!   keep-alive pings; see [`crate::server`]).
//! - **Accept errors** (no descriptor left: `EMFILE`, `ENFILE`, `ENOBUFS`) back off from 10 ms
//!   to 1 s instead of spinning, with one warning per episode.
//!
//! [`accept`] turns a bound `TcpListener` into a stream of [`Admitted`] connections, which tonic
//! serves (`serve_with_incoming`) and [`crate::server`] serves over HTTP. An [`Admitted`]
//! connection keeps the connection info of what it wraps, so tonic's `remote_addr()` and, over
//! TLS, `peer_certs()` (the agents' identity, [`crate::pki::agency_of`]) work as with tonic's own
//! listener.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

pub use crate::config::ConnectionLimits;

/// Bytes a connection must send within the header timeout: the length of the HTTP/2 client
/// connection preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`).
pub const FIRST_BYTES: usize = 24;

/// The key a client address counts under: an IPv4 address (or an IPv4-mapped IPv6 one) as
/// itself, any other IPv6 address as its /64 prefix (one subscriber's usual allocation), so a
/// client cannot multiply its share by rotating through its own prefix.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// The open connections of one listener, by client address, against the caps.
#[derive(Debug)]
pub struct Gate {
    max_per_address: usize,
    max_total: usize,
    counts: Mutex<Counts>,
}

impl Gate {
    /// A gate enforcing the caps of `limits`.
    pub fn new(limits: &ConnectionLimits) -> Arc<Gate> {
        Arc::new(Gate { max_per_address: limits.max_per_address, max_total: limits.max_total, counts: Mutex::default() })
    }

    /// A slot for a connection from `ip`, or `None` when a cap is reached. The slot is freed
    /// when the permit drops (with the connection).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Permit> {
        let key = address_key(ip);
        let mut c = self.counts.lock().expect("gate lock");
        if c.total >= self.max_total {
            return None;
        }
        let n = c.by_address.entry(key).or_default();
        if *n >= self.max_per_address {
            return None;
        }
        *n += 1;
        c.total += 1;
        Some(Permit { gate: self.clone(), key })
    }

    /// The open (admitted) connections: in all, and from `ip`'s key.
    pub fn open(&self, ip: IpAddr) -> (usize, usize) {
        let c = self.counts.lock().expect("gate lock");
        (c.total, c.by_address.get(&address_key(ip)).copied().unwrap_or(0))
    }
}

/// One admitted connection's slot in its [`Gate`].
#[derive(Debug)]
pub struct Permit {
    gate: Arc<Gate>,
    key: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut c = self.gate.counts.lock().expect("gate lock");
        c.total -= 1;
        if let Some(n) = c.by_address.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                c.by_address.remove(&self.key);
            }
        }
    }
}

/// What turns an accepted TCP stream into the stream a server reads: nothing ([`Plain`]) or a
/// TLS handshake ([`tokio_rustls::TlsAcceptor`]).
pub trait Handshake: Clone + Send + Sync + 'static {
    /// The stream after the handshake.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Runs the handshake on `tcp`.
    fn handshake(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Io>> + Send;
}

/// No handshake: plaintext.
#[derive(Debug, Clone, Copy)]
pub struct Plain;

impl Handshake for Plain {
    type Io = TcpStream;
    async fn handshake(&self, tcp: TcpStream) -> io::Result<TcpStream> {
        Ok(tcp)
    }
}

impl Handshake for tokio_rustls::TlsAcceptor {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    fn handshake(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Io>> + Send {
        self.accept(tcp)
    }
}

/// An admitted connection: the stream, its peer, its slot, and the deadline of its first
/// [`FIRST_BYTES`] bytes (reads fail with `TimedOut` once it passes before they arrived).
pub struct Admitted<S> {
    io: S,
    peer: SocketAddr,
    first_bytes: Option<(usize, Pin<Box<Sleep>>)>,
    _permit: Permit,
}

impl<S> Admitted<S> {
    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Admitted<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Some((awaited, deadline)) = &mut this.first_bytes {
            match &read {
                Poll::Ready(Ok(())) => {
                    *awaited = awaited.saturating_sub(buf.filled().len() - before);
                    if *awaited == 0 {
                        this.first_bytes = None;
                    }
                }
                Poll::Pending if deadline.as_mut().poll(cx).is_ready() => {
                    tracing::debug!(peer = %this.peer, "closed a connection that sent no request within the header timeout");
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "no request within the header timeout")));
                }
                _ => {}
            }
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Admitted<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl<S: Connected> Connected for Admitted<S> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

/// Whether an accept error concerns only the connection being accepted (try the next one at
/// once); any other (no descriptor or buffer left) calls for a pause.
fn per_connection(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset)
}

/// Accepts connections on `listener` (named `name` in logs) until the returned stream is
/// dropped: each under `gate`'s caps, with `TCP_NODELAY` set to `nodelay`, then `handshake`
/// within the TLS handshake timeout of `limits`, in a task of its own.
pub fn accept<H: Handshake>(
    name: &'static str,
    listener: TcpListener,
    gate: Arc<Gate>,
    handshake: H,
    limits: &ConnectionLimits,
    nodelay: bool,
) -> ReceiverStream<io::Result<Admitted<H::Io>>> {
    const MIN_BACKOFF: Duration = Duration::from_millis(10);
    const MAX_BACKOFF: Duration = Duration::from_secs(1);
    let handshake_timeout = Duration::from_secs(limits.tls_handshake_timeout_secs);
    let header_timeout = Duration::from_secs(limits.header_timeout_secs);
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        let mut backoff = Duration::ZERO;
        loop {
            let accepted = tokio::select! {
                () = tx.closed() => return,
                a = listener.accept() => a,
            };
            let (tcp, peer) = match accepted {
                Ok(a) => {
                    backoff = Duration::ZERO;
                    a
                }
                Err(e) if per_connection(&e) => continue,
                Err(e) => {
                    if backoff.is_zero() {
                        tracing::warn!(listener = name, error = %e, "cannot accept connections; backing off until descriptors are free");
                    }
                    backoff = (backoff * 2).clamp(MIN_BACKOFF, MAX_BACKOFF);
                    tokio::select! {
                        () = tx.closed() => return,
                        () = tokio::time::sleep(backoff) => continue,
                    }
                }
            };
            let Some(permit) = gate.admit(peer.ip()) else {
                tracing::debug!(listener = name, %peer, "refused a connection over the connection caps");
                continue;
            };
            if let Err(e) = tcp.set_nodelay(nodelay) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
            let (tx, handshake) = (tx.clone(), handshake.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(handshake_timeout, handshake.handshake(tcp)).await {
                    Ok(Ok(io)) => {
                        let deadline = Box::pin(tokio::time::sleep(header_timeout));
                        let _ = tx.send(Ok(Admitted { io, peer, first_bytes: Some((FIRST_BYTES, deadline)), _permit: permit })).await;
                    }
                    Ok(Err(e)) => tracing::debug!(listener = name, %peer, error = %e, "handshake failed"),
                    Err(_) => tracing::debug!(listener = name, %peer, "closed a connection whose TLS handshake took longer than the timeout"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_address: usize, total: usize) -> ConnectionLimits {
        ConnectionLimits { max_per_address: per_address, max_total: total, ..ConnectionLimits::default() }
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        assert_eq!(address_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(address_key("10.0.0.1".parse().unwrap()), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn gate_caps_per_address_and_in_total_and_frees_on_drop() {
        let g = Gate::new(&limits(2, 3));
        let (x, y, z): (IpAddr, IpAddr, IpAddr) = ("127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap(), "127.0.0.4".parse().unwrap());
        let x1 = g.admit(x).unwrap();
        let _x2 = g.admit(x).unwrap();
        assert!(g.admit(x).is_none(), "per-address cap");
        let _y1 = g.admit(y).unwrap();
        assert!(g.admit(z).is_none(), "total cap");
        drop(x1);
        assert_eq!(g.open(x), (2, 1));
        assert!(g.admit(z).is_some());
        assert_eq!(g.open(z), (2, 0), "the permit dropped at once");
    }
}
