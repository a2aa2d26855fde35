//! Shared helpers of the whole-system tests: locating the example federation, the built
//! binaries and the project's Python, and running the example federation in process.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sdgx_coordinator::{Config, Coordinator};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the repository").to_owned()
}

/// The example agencies, in publication order.
pub const AGENCIES: [&str; 7] = ["armstat", "sms", "moes", "diaspora", "labour", "cba", "moh"];

/// A built binary of this workspace (`scripts/test.sh` builds them before the tests run).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // `SDGX_BIN_DIR` names another directory of built binaries (a copy, when several
    // checkouts share one target directory).
    let dir = match std::env::var_os("SDGX_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => exe.parent().and_then(Path::parent).expect("target/<profile>/deps").to_owned(),
    };
    let p = dir.join(name);
    assert!(p.exists(), "{} is not built: run `cargo build --bins` first (scripts/test.sh does)", p.display());
    p
}

/// The project's Python with the pinned third-party clients (`scripts/venv.sh`; `scripts/test.sh`
/// exports its path as `PROJECT_PYTHON`).
pub fn python() -> PathBuf {
    let p = std::env::var_os("PROJECT_PYTHON").map(PathBuf::from).unwrap_or_else(|| root().join(".venv/bin/python"));
    assert!(p.exists(), "{} does not exist: run scripts/venv.sh (scripts/test.sh does)", p.display());
    p
}

/// The example federation's coordinator running in this process on 127.0.0.1:0, over
/// plaintext, with a fresh data directory.
pub struct Running {
    /// The agents' Flight URL.
    pub flight: String,
    /// The coordinator's query catalog.
    pub catalog: Arc<sdgx_coordinator::catalog::Catalog>,
    /// The coordinator's ingest path (publications in progress).
    pub ingest: Arc<sdgx_coordinator::ingest::Ingest>,
    /// The bound addresses.
    pub http: std::net::SocketAddr,
    /// The analysts' Flight address, when configured.
    pub analyst_flight: Option<std::net::SocketAddr>,
    /// The data directory (removed on drop).
    pub dir: tempfile::TempDir,
    /// With mutual TLS: the PKI directory (`ca.pem`, `server.pem`, `signing.pem`,
    /// `agents/<agency>.pem`).
    pub pki: Option<PathBuf>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<sdgx_coordinator::Result<()>>>,
}

impl Running {
    /// Starts the example coordinator config, adjusted by `tweak`.
    pub async fn start(tweak: impl FnOnce(&mut Config)) -> Running {
        let dir = tempfile::tempdir().expect("temporary directory");
        Self::start_in(dir, tweak).await
    }

    /// Starts the example coordinator config secured as in production: mutual TLS for agents
    /// (a fresh national CA in `<dir>/pki` with a certificate per example agency, the server's
    /// for `localhost`) and TLS on the analysts' port; then `tweak`.
    pub async fn start_mtls(tweak: impl FnOnce(&mut Config)) -> Running {
        Self::start_mtls_with(sdgx_coordinator::clock::Clock::default(), tweak).await
    }

    /// [`start_mtls`](Self::start_mtls) with the clock `clock` (a manual one the test moves).
    pub async fn start_mtls_with(clock: sdgx_coordinator::clock::Clock, tweak: impl FnOnce(&mut Config)) -> Running {
        Self::start_mtls_in(tempfile::tempdir().expect("temporary directory"), clock, tweak).await
    }

    /// [`start_mtls_with`](Self::start_mtls_with) on the data directory `dir`, whose PKI
    /// (`<dir>/pki`) is made unless it is there (a restart).
    pub async fn start_mtls_in(dir: tempfile::TempDir, clock: sdgx_coordinator::clock::Clock, tweak: impl FnOnce(&mut Config)) -> Running {
        let pki = dir.path().join("pki");
        if !pki.join("ca.pem").exists() {
            sdgx_coordinator::pki::init(&pki, &["localhost".into()], 30).expect("CA");
            for a in AGENCIES {
                sdgx_coordinator::pki::issue_agent(&pki, a, 30).expect("agent certificate");
            }
        }
        let p = pki.clone();
        let mut r = Self::start_in_with(dir, clock, move |c| {
            c.security.tls = Some(sdgx_coordinator::config::TlsConfig {
                cert: p.join("server.pem"),
                key: p.join("server.key"),
                client_ca: p.join("ca.pem"),
                revoked: vec![],
            });
            c.security.signing = Some(sdgx_coordinator::config::SigningConfig { cert: p.join("signing.pem"), key: p.join("signing.key") });
            c.security.insecure_plaintext_publish = false;
            tweak(c);
        })
        .await;
        r.flight = r.flight.replace("http://127.0.0.1", "https://localhost");
        r.pki = Some(pki);
        r
    }

    /// Starts the example coordinator config on the data directory `dir`, adjusted by `tweak`.
    pub async fn start_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> Running {
        Self::start_in_with(dir, sdgx_coordinator::clock::Clock::default(), tweak).await
    }

    /// [`start_in`](Self::start_in) with the clock `clock`.
    pub async fn start_in_with(dir: tempfile::TempDir, clock: sdgx_coordinator::clock::Clock, tweak: impl FnOnce(&mut Config)) -> Running {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut config = Config::load(Some(&root().join("examples/federation/coordinator.toml"))).expect("example config");
        config.data_dir = dir.path().to_owned();
        config.flight_addr = "127.0.0.1:0".parse().expect("address");
        config.http_addr = "127.0.0.1:0".parse().expect("address");
        config.analyst_flight_addr = Some("127.0.0.1:0".parse().expect("address"));
        // In process and over plaintext: the same federation runs over mutual TLS with the
        // real binaries in tests/binaries.rs.
        config.security.tls = None;
        config.security.signing = None;
        config.security.insecure_plaintext_publish = true;
        config.security.token_file = None;
        // The derived dataset's commits would move the store versions tests count; the tests
        // of the release watch turn it on.
        config.publish_derived = false;
        tweak(&mut config);
        let c = Coordinator::build_with(config, clock).await.expect("coordinator starts");
        let flight = format!("http://{}", c.flight_addr());
        let (http, analyst_flight) = (c.http_addr(), c.analyst_flight_addr());
        let catalog = c.catalog();
        let ingest = c.ingest();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(c.run(async {
            let _ = rx.await;
        }));
        Running { flight, catalog, ingest, http, analyst_flight, dir, pki: None, stop: Some(tx), task: Some(task) }
    }

    /// The example agent config of `agency`, pointed at this coordinator (with its certificate
    /// when the coordinator runs mutual TLS).
    pub fn agent(&self, agency: &str) -> sdgx_agent::Config {
        let mut c = example_agent(agency, &self.dir.path().join(format!("outbox-{agency}")));
        c.coordinator = self.flight.clone();
        c.tls = self.pki.as_ref().map(|p| sdgx_agent::config::TlsConfig {
            ca: p.join("ca.pem"),
            cert: p.join(format!("agents/{agency}.pem")),
            key: p.join(format!("agents/{agency}.key")),
            domain: None,
        });
        c
    }

    /// Publishes every example dataset; each must be new.
    pub async fn publish_all(&self) {
        for a in AGENCIES {
            for o in sdgx_agent::run(&self.agent(a), false).await.expect("agent runs") {
                let ack = o.sent.expect("sent").unwrap_or_else(|e| panic!("{a}: {e}"));
                assert!(!ack.duplicate, "{a}: first publication is not a duplicate");
            }
        }
    }

    /// Stops the coordinator gracefully and returns its data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.stop.take().expect("running").send(());
        self.task.take().expect("running").await.expect("task").expect("clean shutdown");
        self.dir
    }
}

/// The example agent config of `agency`, unchanged but for a fresh outbox in `outbox`.
pub fn example_agent(agency: &str, outbox: &Path) -> sdgx_agent::Config {
    let mut c = sdgx_agent::Config::load(&root().join(format!("examples/federation/{agency}/agent.toml"))).expect("example agent config");
    c.outbox = outbox.to_owned();
    c
}

type Predicate = Box<dyn Fn() -> bool + Send + Sync>;

#[derive(Default)]
struct ProxyState {
    target: std::sync::Mutex<Option<std::net::SocketAddr>>,
    stall_upload_after: std::sync::Mutex<Option<u64>>,
    cut_reply_when: std::sync::Mutex<Option<Predicate>>,
    refused: tokio::sync::watch::Sender<u64>,
    uploaded: tokio::sync::watch::Sender<u64>,
    cuts: tokio::sync::watch::Sender<u64>,
}

/// A TCP proxy between agents and the coordinator that injects network faults: it can refuse
/// connections (the coordinator is down), stall an upload after so many bytes (to kill the
/// agent mid-upload), or cut a connection when the coordinator replies after a condition
/// holds (the acknowledgement is lost after the commit).
pub struct FaultProxy {
    /// The address agents connect to.
    pub addr: std::net::SocketAddr,
    state: Arc<ProxyState>,
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1:0 that refuses every connection until [`forward_to`](Self::forward_to).
    pub async fn start() -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("bound");
        let state = Arc::new(ProxyState::default());
        let s = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let target = *s.target.lock().expect("lock");
                let Some(target) = target else {
                    s.refused.send_modify(|n| *n += 1);
                    drop(client);
                    continue;
                };
                let s = s.clone();
                tokio::spawn(async move {
                    if let Ok(server) = tokio::net::TcpStream::connect(target).await {
                        pump(client, server, s).await;
                    }
                });
            }
        });
        FaultProxy { addr, state }
    }

    /// The proxy's URL for an agent (plaintext).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Forwards new connections to `target` (`None`: refuse them).
    pub fn forward_to(&self, target: Option<std::net::SocketAddr>) {
        *self.state.target.lock().expect("lock") = target;
    }

    /// Stops forwarding agents' bytes once `bytes` have been forwarded in all (`None`: never).
    /// The stalled connection is closed towards the coordinator when the agent goes away.
    pub fn stall_upload_after(&self, bytes: Option<u64>) {
        *self.state.stall_upload_after.lock().expect("lock") = bytes;
    }

    /// The first time the coordinator sends bytes while `when` holds, the connection is cut
    /// instead (both ways).
    pub fn cut_reply_when(&self, when: impl Fn() -> bool + Send + Sync + 'static) {
        *self.state.cut_reply_when.lock().expect("lock") = Some(Box::new(when));
    }

    /// Waits until at least `n` connections have been refused.
    pub async fn wait_refused(&self, n: u64) {
        self.state.refused.subscribe().wait_for(|&r| r >= n).await.expect("proxy alive");
    }

    /// Waits until at least `n` bytes from agents have been forwarded.
    pub async fn wait_uploaded(&self, n: u64) {
        self.state.uploaded.subscribe().wait_for(|&r| r >= n).await.expect("proxy alive");
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> u64 {
        *self.state.cuts.borrow()
    }
}

async fn pump(mut client: tokio::net::TcpStream, mut server: tokio::net::TcpStream, s: Arc<ProxyState>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let limit = *s.stall_upload_after.lock().expect("lock");
            let done = *s.uploaded.borrow();
            let allowed = limit.map_or(n as u64, |l| l.saturating_sub(done).min(n as u64)) as usize;
            if allowed > 0 {
                if sw.write_all(&buf[..allowed]).await.is_err() {
                    return;
                }
                s.uploaded.send_modify(|u| *u += allowed as u64);
            }
            // Beyond the limit, the agent's bytes are read and dropped until it goes away.
        }
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let cut = {
                let mut when = s.cut_reply_when.lock().expect("lock");
                let hit = when.as_ref().is_some_and(|w| w());
                if hit {
                    *when = None;
                }
                hit
            };
            if cut {
                s.cuts.send_modify(|c| *c += 1);
                return;
            }
            if cw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    // Either direction ending closes both.
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

/// Runs `cmd` to completion; it must succeed.
pub fn run(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd.output().expect("the command starts");
    assert!(out.status.success(), "{cmd:?}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

/// Copies the directory `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy's directory");
    for e in std::fs::read_dir(from).expect("read the directory") {
        let e = e.expect("directory entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy a file");
        }
    }
}

/// A PKI for the example federation made by the real binary in `dir`: `ca init`, one client
/// certificate per example agency, and a reader token (returned) in `tokens.toml`.
pub fn pki(dir: &Path) -> String {
    let coord = binary("sdgx-coordinator");
    run(std::process::Command::new(&coord).args(["ca", "init", "--dir"]).arg(dir));
    for a in AGENCIES {
        run(std::process::Command::new(&coord).args(["ca", "issue-agent", "--agency", a, "--dir"]).arg(dir));
    }
    let out = run(std::process::Command::new(&coord).args(["token", "create", "--role", "reader", "--name", "analyst", "--file"]).arg(dir.join("tokens.toml")));
    String::from_utf8(out.stdout).expect("UTF-8").trim().to_owned()
}

/// `cmd` given the coordinator's TLS, signing and token files of the PKI in `pki` (see [`pki`]).
pub fn coordinator_env<'a>(cmd: &'a mut std::process::Command, pki: &Path) -> &'a mut std::process::Command {
    cmd.env("SDGX_SECURITY__TLS__CERT", pki.join("server.pem"))
        .env("SDGX_SECURITY__TLS__KEY", pki.join("server.key"))
        .env("SDGX_SECURITY__TLS__CLIENT_CA", pki.join("ca.pem"))
        .env("SDGX_SECURITY__SIGNING__CERT", pki.join("signing.pem"))
        .env("SDGX_SECURITY__SIGNING__KEY", pki.join("signing.key"))
        .env("SDGX_SECURITY__TOKEN_FILE", pki.join("tokens.toml"))
}

/// `sdgx-coordinator serve` as a separate process: the example config with the PKI in `pki`,
/// data in `data_dir`, every listener on port 0; killed on drop.
pub struct Served {
    /// The process.
    pub child: std::process::Child,
    /// The Flight (agents') port.
    pub flight_port: String,
    /// The analysts' Flight SQL port.
    pub analyst_flight_port: String,
    /// The HTTP address.
    pub http: String,
}

impl Served {
    /// Starts it with `env` added, and waits until it listens (it prints its bound addresses as
    /// one JSON line).
    pub fn start(pki: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Served {
        Self::start_with(pki, data_dir, &[], env)
    }

    /// Starts it as [`Served::start`] does, with `args` added to `serve`'s.
    pub fn start_with(pki: &Path, data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Served {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new(binary("sdgx-coordinator"));
        coordinator_env(&mut cmd, pki)
            .args(["serve", "--flight-addr", "127.0.0.1:0", "--analyst-flight-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .args(args)
            .env("SDGX_CONFIG", root().join("examples/federation/coordinator.toml"))
            // As in process: no derived dataset moving the store versions tests count (`env`
            // may turn it on).
            .env("SDGX_PUBLISH_DERIVED", "false")
            .arg("--data-dir")
            .arg(data_dir)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("sdgx-coordinator starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("its first line");
        let addrs: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        let flight = addrs["flight"].as_str().expect("flight address");
        let flight_port = flight.rsplit(':').next().expect("a port").to_owned();
        let analyst_flight_port = addrs["analyst_flight"].as_str().and_then(|a| a.rsplit(':').next()).unwrap_or_default().to_owned();
        let http = addrs["http"].as_str().expect("http address").to_owned();
        Served { child, flight_port, analyst_flight_port, http }
    }

    /// `sdgx-agent publish` of the example `agency`'s config against this coordinator, over
    /// mutual TLS with the agency's certificate (`cert_of`'s, to impersonate), outbox in `outbox`.
    pub fn agent(&self, agency: &str, cert_of: &str, pki: &Path, outbox: &Path) -> std::process::Command {
        self.agent_with_config(&root().join(format!("examples/federation/{agency}/agent.toml")), cert_of, pki, outbox)
    }

    /// `sdgx-agent publish` of the agent config at `config`, as [`Served::agent`] runs it.
    pub fn agent_with_config(&self, config: &Path, cert_of: &str, pki: &Path, outbox: &Path) -> std::process::Command {
        self.agent_command(&["publish"], config, cert_of, pki, outbox)
    }

    /// `sdgx-agent <args> --config <config>` against this coordinator, as [`Served::agent`]
    /// runs `publish`.
    pub fn agent_command(&self, args: &[&str], config: &Path, cert_of: &str, pki: &Path, outbox: &Path) -> std::process::Command {
        let mut cmd = std::process::Command::new(binary("sdgx-agent"));
        cmd.args(args)
            .arg("--config")
            .arg(config)
            .env("SDGX_COORDINATOR", format!("https://localhost:{}", self.flight_port))
            .env("SDGX_OUTBOX", outbox)
            .env("SDGX_TLS__CA", pki.join("ca.pem"))
            .env("SDGX_TLS__CERT", pki.join(format!("agents/{cert_of}.pem")))
            .env("SDGX_TLS__KEY", pki.join(format!("agents/{cert_of}.key")));
        cmd
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An S3-compatible server (moto's, from the project's venv: `tests/py/s3_server.py`) on
/// 127.0.0.1 with one bucket; stops when its standard input closes (on drop).
pub struct S3Server {
    child: std::process::Child,
    /// Its URL, `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl S3Server {
    /// Starts it with the bucket `bucket`.
    pub fn start(bucket: &str) -> S3Server {
        use std::io::BufRead;
        let mut child = std::process::Command::new(python())
            .arg(root().join("tests/py/s3_server.py"))
            .arg(bucket)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the S3 server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("S3 server said {line:?}: {e}"));
        S3Server { child, endpoint: v["endpoint"].as_str().unwrap().to_owned() }
    }

    /// The store options that reach it.
    pub fn options(&self) -> sdgx_coordinator::storage::StoreOptions {
        sdgx_coordinator::storage::StoreOptions(
            [
                ("aws_endpoint", self.endpoint.as_str()),
                ("aws_allow_http", "true"),
                ("aws_region", "us-east-1"),
                ("aws_access_key_id", "sdgx-test-key"),
                ("aws_secret_access_key", "sdgx-test-secret"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        )
    }

    /// The object keys under `prefix` in `bucket` (S3 ListObjectsV2).
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let body = reqwest::get(format!("{}/{bucket}?list-type=2&prefix={prefix}", self.endpoint))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        body.split("<Key>").skip(1).map(|s| s.split("</Key>").next().unwrap().to_owned()).collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take().map(|mut s| std::io::Write::flush(&mut s)));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Logs in to the dashboard at `base` (`http://host:port`) with `token` and returns the
/// session's `Cookie` pair (`sdgx_session=<id>`); the login must open a session.
pub async fn dashboard_session(base: &str, token: &str) -> String {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let login = client
        .post(format!("{base}/dashboard/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .expect("the login answers");
    assert_eq!(login.status(), 303, "the login opens a session");
    let cookie = login.headers()["set-cookie"].to_str().expect("ASCII").split(';').next().expect("a pair").to_owned();
    assert!(cookie.starts_with("sdgx_session=") && !cookie.contains(token), "{cookie:?} holds a session id, not the token");
    cookie
}
