//! Hostile connections and failed logins (issue 15, cases 7 and 8), against in-process
//! coordinators on 127.0.0.1:0 with small connection limits. Loopback accepts any 127/8 source,
//! so a client socket bound to 127.0.0.2 (and so on) is another client address.
//!
//! - Silent TCP, slow HTTP headers and silent TLS peers are closed after the header and TLS
//!   handshake timeouts (1 s here).
//! - Connections over the per-address cap are refused at once while another address is served;
//!   over the total cap new connections are refused but the open ones keep working.
//! - /health and a publication are served while one address holds many idle connections, of
//!   which only its cap are kept.
//! - Requests without credentials and CORS preflights never lock an address out; invalid
//!   tokens do, with `Retry-After` (gRPC: `retry-after` metadata), one logged lockout, and a
//!   valid token from that address is still admitted.

use std::net::SocketAddr;
use std::time::Duration;

use sdgx_coordinator::Config;
use sdgx_e2e::{root, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longer than any timeout under test: a connection still open after this was not closed.
const PATIENCE: Duration = Duration::from_secs(10);

/// Connection limits for a test: `per_address` and `total` caps, and `timeout` seconds for both
/// the TLS handshake and the first request.
fn limits(c: &mut Config, per_address: usize, total: usize, timeout: u64) {
    c.connections.max_per_address = per_address;
    c.connections.max_total = total;
    c.connections.tls_handshake_timeout_secs = timeout;
    c.connections.header_timeout_secs = timeout;
}

/// A TCP connection to `addr` from the client address `from` (any 127/8 address).
async fn connect_from(from: &str, addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Whether the server closes `s` (end of stream or reset) within [`PATIENCE`], reading and
/// discarding whatever it sends first.
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    let wait = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait).await.is_ok()
}

/// Whether `s` is still open: no end of stream or reset among what it has received (an
/// HTTP/2 server sends its settings first).
fn still_open(s: &TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.try_read(&mut buf) {
            Ok(0) => return false,
            Ok(_) => continue,
            Err(e) => return e.kind() == std::io::ErrorKind::WouldBlock,
        }
    }
}

/// Sends `GET /health` on the kept-alive connection `s`: the status, or `None` when the server
/// closes the connection instead of answering.
async fn health_on(s: &mut TcpStream) -> Option<u16> {
    s.write_all(b"GET /health HTTP/1.1\r\nHost: coordinator\r\n\r\n").await.ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(PATIENCE, s.read(&mut buf)).await.expect("an answer or a close").unwrap_or(0);
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap()));
            if body.len() >= length.unwrap_or(0) {
                return head.split_whitespace().nth(1).and_then(|c| c.parse().ok());
            }
        }
    }
}

/// The agents' Flight address of `r`.
fn flight_addr(r: &Running) -> SocketAddr {
    let port: u16 = r.flight.rsplit(':').next().unwrap().parse().unwrap();
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Completes a TLS handshake with the agents' port of `r` as agency `sms` (mutual TLS), sends
/// nothing more, and says whether the server closes the connection within [`PATIENCE`].
fn tls_then_silent_is_closed(r: &Running) -> bool {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::Read;
    let pki = r.pki.as_ref().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(CertificateDer::pem_file_iter(pki.join("ca.pem")).unwrap().map(Result::unwrap));
    let chain = CertificateDer::pem_file_iter(pki.join("agents/sms.pem")).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(pki.join("agents/sms.key")).unwrap();
    let mut config = rustls::ClientConfig::builder().with_root_certificates(roots).with_client_auth_cert(chain, key).unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let mut tls = rustls::ClientConnection::new(std::sync::Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let mut sock = std::net::TcpStream::connect(flight_addr(r)).unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    while tls.is_handshaking() {
        tls.complete_io(&mut sock).expect("the TLS handshake completes");
    }
    let mut stream = rustls::Stream::new(&mut tls, &mut sock);
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => return false,
            Err(_) => return true,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_slow_connections_are_closed_after_the_timeouts() {
    let r = Running::start_mtls(|c| limits(c, 64, 256, 1)).await;
    let analysts = r.analyst_flight.unwrap();
    // HTTP: a connection that sends nothing, and one whose request head never ends.
    let mut silent = connect_from("127.0.0.1", r.http).await;
    let mut slow = connect_from("127.0.0.1", r.http).await;
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: coordinator\r\nX-Slow: ").await.unwrap();
    // TLS ports: connections that never start the handshake.
    let mut no_hello = connect_from("127.0.0.1", flight_addr(&r)).await;
    let mut no_hello_analysts = connect_from("127.0.0.1", analysts).await;
    assert!(closed_by_server(&mut silent).await, "a silent HTTP connection is closed after the header timeout");
    assert!(closed_by_server(&mut slow).await, "an unfinished HTTP request head is closed after the header timeout");
    assert!(closed_by_server(&mut no_hello).await, "a silent TLS peer on the agents' port is closed after the handshake timeout");
    assert!(closed_by_server(&mut no_hello_analysts).await, "a silent TLS peer on the analysts' port is closed after the handshake timeout");
    // A peer that completes the TLS handshake but never sends the HTTP/2 preface.
    let r = tokio::task::spawn_blocking(move || {
        assert!(tls_then_silent_is_closed(&r), "a TLS connection without a request is closed after the header timeout");
        r
    })
    .await
    .unwrap();
    // Plaintext gRPC: the analysts' port without TLS.
    let plain = Running::start(|c| limits(c, 64, 256, 1)).await;
    let mut silent_grpc = connect_from("127.0.0.1", plain.analyst_flight.unwrap()).await;
    assert!(closed_by_server(&mut silent_grpc).await, "a silent plaintext gRPC connection is closed after the header timeout");
    plain.stop().await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_address_cap_are_refused_while_another_address_is_served() {
    // Timeouts far above PATIENCE: a connection closed within it was refused, not timed out.
    let r = Running::start(|c| limits(c, 3, 16, 30)).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = connect_from("127.0.0.2", r.http).await;
        assert_eq!(health_on(&mut s).await, Some(200), "within the cap: served");
        held.push(s);
    }
    let mut over = connect_from("127.0.0.2", r.http).await;
    assert!(closed_by_server(&mut over).await, "the 4th connection from 127.0.0.2 is refused");
    let mut other = connect_from("127.0.0.3", r.http).await;
    assert_eq!(health_on(&mut other).await, Some(200), "another address is served");
    assert_eq!(health_on(&mut held[0]).await, Some(200), "the held connections still work");
    // The same on the agents' Flight port (silent connections: admitted, then held).
    let flight = flight_addr(&r);
    let mut flight_held = Vec::new();
    for _ in 0..3 {
        flight_held.push(connect_from("127.0.0.2", flight).await);
    }
    let mut flight_over = connect_from("127.0.0.2", flight).await;
    assert!(closed_by_server(&mut flight_over).await, "the 4th Flight connection from 127.0.0.2 is refused");
    assert!(flight_held.iter().all(still_open), "the first three are held");
    drop((held, flight_held));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_total_cap_new_connections_are_refused_and_the_open_ones_work() {
    let r = Running::start(|c| limits(c, 2, 4, 30)).await;
    let mut open = Vec::new();
    for from in ["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"] {
        let mut s = connect_from(from, r.http).await;
        assert_eq!(health_on(&mut s).await, Some(200), "within the caps: served");
        open.push(s);
    }
    let mut over = connect_from("127.0.0.4", r.http).await;
    assert!(closed_by_server(&mut over).await, "a 5th connection, from a fresh address, is refused at the total cap");
    for s in &mut open {
        assert_eq!(health_on(s).await, Some(200), "the open connections keep working");
    }
    drop(open.pop());
    // The freed slot is taken by the next client (the close reaches the server asynchronously).
    let mut next = connect_from("127.0.0.4", r.http).await;
    let mut served = health_on(&mut next).await;
    while served.is_none() {
        next = connect_from("127.0.0.4", r.http).await;
        served = health_on(&mut next).await;
    }
    assert_eq!(served, Some(200));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_publications_are_served_while_one_address_holds_many_idle_connections() {
    const OPENED: usize = 60;
    const CAP: usize = 8;
    let r = Running::start_mtls(|c| limits(c, CAP, 64, 30)).await;
    let flight = flight_addr(&r);
    let mut idle = Vec::new();
    for addr in [r.http, flight] {
        let mut on_port = Vec::new();
        for _ in 0..OPENED {
            on_port.push(connect_from("127.0.0.2", addr).await);
        }
        for (i, s) in on_port.iter_mut().enumerate().skip(CAP) {
            assert!(closed_by_server(s).await, "{addr}: idle connection {i} from one address is over its cap and refused");
        }
        assert!(on_port[..CAP].iter().all(still_open), "{addr}: the first {CAP} are held");
        idle.extend(on_port.into_iter().take(CAP));
    }
    // Another client: /health answers and a publication over mutual TLS is acknowledged.
    let mut s = connect_from("127.0.0.1", r.http).await;
    assert_eq!(health_on(&mut s).await, Some(200));
    let outcomes = sdgx_agent::run(&r.agent("sms"), false).await.expect("agent runs");
    for o in outcomes {
        o.sent.expect("sent").expect("acknowledged while idle connections are held");
    }
    assert!(idle.iter().all(still_open), "the idle connections within the cap were held throughout");
    drop(idle);
    r.stop().await;
}

/// A coordinator on plaintext with a reader token; the limiter's counters are reachable.
async fn with_reader() -> (WithLimiter, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::load(Some(&root().join("examples/federation/coordinator.toml"))).unwrap();
    config.data_dir = dir.path().to_owned();
    config.flight_addr = "127.0.0.1:0".parse().unwrap();
    config.http_addr = "127.0.0.1:0".parse().unwrap();
    config.analyst_flight_addr = Some("127.0.0.1:0".parse().unwrap());
    config.security.tls = None;
    config.security.signing = None;
    config.security.insecure_plaintext_publish = true;
    config.security.token_file = None;
    let (reader, entry) = sdgx_coordinator::auth::Tokens::create("ana", sdgx_coordinator::auth::Role::Reader);
    config.security.tokens = vec![entry];
    let c = sdgx_coordinator::Coordinator::build(config).await.unwrap();
    let (http, analysts, limiter) = (c.http_addr(), c.analyst_flight_addr().unwrap(), c.limiter());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(c.run(async {
        let _ = rx.await;
    }));
    (WithLimiter { _dir: dir, http, analysts, limiter, stop: tx, task }, reader)
}

/// A running coordinator with its failed-authentication limiter at hand.
struct WithLimiter {
    _dir: tempfile::TempDir,
    http: SocketAddr,
    analysts: SocketAddr,
    limiter: std::sync::Arc<sdgx_coordinator::auth::FailureLimiter>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<sdgx_coordinator::Result<()>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_invalid_tokens_count_and_a_valid_token_is_never_locked_out() {
    let (r, reader) = with_reader().await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/api/v1/publications", r.http);
    let send = |method: reqwest::Method, token: Option<&str>| {
        let mut req = client.request(method, &url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.unwrap() }
    };
    // Missing credentials and CORS preflights (with or without a token) never count.
    for i in 0..10 {
        assert_eq!(send(reqwest::Method::GET, None).await.status(), 401, "header-less GET {i}");
    }
    for i in 0..11 {
        assert_ne!(send(reqwest::Method::OPTIONS, None).await.status(), 429, "OPTIONS {i}");
        assert_ne!(send(reqwest::Method::OPTIONS, Some("sdgx_wrong")).await.status(), 429, "OPTIONS {i} with a bad token");
    }
    assert_eq!(r.limiter.tracked(), 0, "nothing was counted");
    assert_eq!(send(reqwest::Method::GET, Some(&reader)).await.status(), 200);
    // Invalid tokens: 10 are answered 401, then 429 with Retry-After.
    for i in 0..10 {
        assert_eq!(send(reqwest::Method::GET, Some("sdgx_wrong")).await.status(), 401, "invalid token {i}");
    }
    for _ in 0..3 {
        let locked = send(reqwest::Method::GET, Some("sdgx_wrong")).await;
        assert_eq!(locked.status(), 429);
        let retry: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=300).contains(&retry), "Retry-After: {retry}");
    }
    assert_eq!(r.limiter.lockouts(), 1, "the lockout is logged once");
    // The valid token from the same address is still admitted: HTTP, dashboard, Flight SQL.
    assert_eq!(send(reqwest::Method::GET, Some(&reader)).await.status(), 200, "a valid token after the lockout");
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = |token: String| no_redirect.post(format!("http://{}/dashboard/login", r.http))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send();
    assert_eq!(login(reader.clone()).await.unwrap().status(), 303, "dashboard login with a valid token");
    let bad_login = login("sdgx_wrong".into()).await.unwrap();
    assert_eq!(bad_login.status(), 429);
    assert!(bad_login.headers().contains_key("retry-after"));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", r.analysts)).unwrap().connect().await.unwrap();
    let mut bad = arrow_flight::sql::client::FlightSqlServiceClient::new(channel.clone());
    let e = bad.handshake("analyst", "sdgx_wrong").await.expect_err("refused");
    let text = e.to_string();
    assert!(text.contains("retry after"), "ResourceExhausted says when to retry: {text}");
    let mut good = arrow_flight::sql::client::FlightSqlServiceClient::new(channel);
    good.handshake("analyst", &reader).await.expect("a valid token on Flight SQL after the lockout");
    assert_eq!(r.limiter.lockouts(), 1, "still logged once in the window");
    let _ = r.stop.send(());
    r.task.await.unwrap().unwrap();
}
