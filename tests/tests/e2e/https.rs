//! TLS on the HTTP port, with clients nobody here wrote: curl trusting the national CA (HSTS,
//! HTTP/2 and HTTP/1.1 by ALPN, a bearer token, plain HTTP refused, the dashboard's session
//! cookie, its idle timeout and logout), headless Chromium trusting the CA through its NSS
//! database (login, the cookie's attributes, logout ending the session on the server), and the
//! real binary: `health` over TLS, `[http.tls]` from `SDGX_HTTP__TLS__*`, and the warning when
//! plain HTTP listens beyond loopback.

use std::path::Path;
use std::process::Stdio;

use sdgx_coordinator::auth::{Role, Tokens};
use sdgx_coordinator::clock::Clock;
use sdgx_coordinator::config::HttpTlsConfig;
use sdgx_e2e::{binary, coordinator_env, pki, python, root, Running};

/// The example coordinator over mutual TLS for agents and TLS on HTTP (the server certificate
/// of `<dir>/pki`, for `localhost`), with a reader token (returned), on `clock`.
async fn coordinator(clock: Clock) -> (Running, String) {
    let (reader, entry) = Tokens::create("analyst", Role::Reader);
    let r = Running::start_mtls_with(clock, |c| {
        let t = c.security.tls.clone().expect("mutual TLS");
        c.http.tls = Some(HttpTlsConfig { cert: t.cert, key: t.key });
        c.security.tokens = vec![entry];
    })
    .await;
    (r, reader)
}

/// curl (the system's, over OpenSSL) with `args`, `localhost` resolved to the coordinator's
/// loopback address: its exit code and output.
async fn curl(r: &Running, args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", "--resolve", &format!("localhost:{}:127.0.0.1", r.http.port())])
        .args(args)
        .output()
        .await
        .expect("curl runs");
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_trusting_the_ca_gets_hsts_the_api_and_a_session_cookie_that_expires_and_logs_out() {
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let clock = Clock::manual(start);
    let (r, reader) = coordinator(clock.clone()).await;
    let ca = r.pki.as_ref().unwrap().join("ca.pem");
    let ca = ca.to_str().unwrap();
    let base = format!("https://localhost:{}", r.http.port());
    let url = |p: &str| format!("{base}{p}");

    // /health over TLS, HTTP/2 by ALPN, with HSTS.
    let (code, out) = curl(&r, &["--cacert", ca, "-i", &url("/health")]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("HTTP/2 200"), "{out}");
    assert_eq!(header(&out, "strict-transport-security"), Some("max-age=31536000"), "{out}");
    assert!(out.contains("\"status\":\"ok\""), "{out}");
    // HTTP/1.1 too (browsers and scripts that do not speak HTTP/2).
    let (code, out) = curl(&r, &["--cacert", ca, "--http1.1", "-i", &url("/health")]).await;
    assert!(code == 0 && out.starts_with("HTTP/1.1 200"), "{out}");
    // The API with a bearer token; a wrong token is refused; and HSTS is on refusals too.
    let bearer = format!("Authorization: Bearer {reader}");
    let (code, out) = curl(&r, &["--cacert", ca, "-i", "-H", &bearer, &url("/api/v1/figures")]).await;
    assert!(code == 0 && out.starts_with("HTTP/2 200") && out.contains("migration-disaggregation-share"), "{out}");
    let (_, out) = curl(&r, &["--cacert", ca, "-i", "-H", "Authorization: Bearer sdgx_wrong", &url("/api/v1/figures")]).await;
    assert!(out.starts_with("HTTP/2 401") && header(&out, "strict-transport-security").is_some(), "{out}");
    // Without the CA curl refuses the certificate (so the trust above is the CA's) ...
    let (code, out) = curl(&r, &["-i", &url("/health")]).await;
    assert_eq!(code, 60, "an unknown CA: {out}");
    // ... and plain HTTP to the TLS port gets no HTTP answer.
    let (code, out) = curl(&r, &["-i", &format!("http://localhost:{}/health", r.http.port())]).await;
    // (The TLS server answers with an alert record, which curl calls "HTTP/0.9".)
    assert!(code != 0 && !out.lines().any(|l| l.starts_with("HTTP/")), "plain HTTP to the TLS port: {code} {out}");

    // The dashboard's login sets a Secure, HttpOnly, SameSite=Strict cookie holding a session
    // id, not the token.
    let login = |token: String| {
        let (r, ca, url) = (&r, ca.to_owned(), url("/dashboard/login"));
        async move { curl(r, &["--cacert", &ca, "-i", "--data-urlencode", &format!("token={token}"), &url]).await.1 }
    };
    let out = login(reader.clone()).await;
    assert!(out.starts_with("HTTP/2 303") && header(&out, "location") == Some("/dashboard"), "{out}");
    let set = header(&out, "set-cookie").expect("a cookie");
    let (pair, attributes) = set.split_once(';').unwrap();
    let id = pair.strip_prefix("sdgx_session=").expect("the session cookie");
    assert!(id.len() >= 32 && !set.contains(&reader) && !set.contains(&reader[5..]), "{set}");
    let attributes: Vec<&str> = attributes.split(';').map(str::trim).collect();
    for a in ["HttpOnly", "SameSite=Strict", "Path=/dashboard", "Secure", "Max-Age=28800"] {
        assert!(attributes.contains(&a), "{a} in {set}");
    }
    let page = |cookie: String| {
        let (r, ca, url) = (&r, ca.to_owned(), url("/dashboard"));
        async move { curl(r, &["--cacert", &ca, "-i", "-b", &cookie, &url]).await.1 }
    };
    let cookie = pair.to_owned();
    assert!(page(cookie.clone()).await.starts_with("HTTP/2 200"));
    assert!(page(format!("sdgx_session={reader}")).await.starts_with("HTTP/2 303"), "the token itself is no session");
    // Used again 29 minutes later it stays open; 30 minutes unused and it has ended.
    clock.set(start + chrono::TimeDelta::minutes(29));
    assert!(page(cookie.clone()).await.starts_with("HTTP/2 200"), "used within the idle timeout");
    clock.set(start + chrono::TimeDelta::minutes(59));
    let out = page(cookie.clone()).await;
    assert!(out.starts_with("HTTP/2 303") && header(&out, "location") == Some("/dashboard/login"), "idle for 30 min: {out}");

    // Logging in again from a browser ends its previous session.
    let out = login(reader.clone()).await;
    let previous = header(&out, "set-cookie").unwrap().split(';').next().unwrap().to_owned();
    assert!(page(previous.clone()).await.starts_with("HTTP/2 200"));
    let (_, out) = curl(&r, &["--cacert", ca, "-i", "-b", &previous, "--data-urlencode", &format!("token={reader}"), &url("/dashboard/login")]).await;
    let cookie = header(&out, "set-cookie").unwrap().split(';').next().unwrap().to_owned();
    assert_ne!(cookie, previous);
    assert!(page(previous).await.starts_with("HTTP/2 303"), "the previous session ended at the new login");
    // Logout ends the session on the server: the old cookie, sent again, goes to the login.
    assert!(page(cookie.clone()).await.starts_with("HTTP/2 200"));
    let (_, out) = curl(&r, &["--cacert", ca, "-i", "-X", "POST", "-b", &cookie, &url("/dashboard/logout")]).await;
    assert!(out.starts_with("HTTP/2 303"), "{out}");
    assert!(header(&out, "set-cookie").is_some_and(|c| c.starts_with("sdgx_session=;") && c.contains("Max-Age=0")), "{out}");
    let out = page(cookie).await;
    assert!(out.starts_with("HTTP/2 303") && header(&out, "location") == Some("/dashboard/login"), "after logout: {out}");

    // `sdgx-coordinator health`'s probe asks over TLS, accepting only the configured
    // certificate: not over plain HTTP, and not as another certificate.
    let tls = HttpTlsConfig { cert: r.pki.as_ref().unwrap().join("server.pem"), key: r.pki.as_ref().unwrap().join("server.key") };
    let wait = std::time::Duration::from_secs(10);
    let version = sdgx_coordinator::http::probe(r.http, Some(&tls), wait).await.expect("health over TLS");
    assert_eq!(version, r.catalog.store().version().await as u64);
    let e = sdgx_coordinator::http::probe(r.http, None, wait).await.unwrap_err().to_string();
    assert!(e.contains("http://127.0.0.1"), "{e}");
    let other = HttpTlsConfig { cert: r.pki.as_ref().unwrap().join("agents/sms.pem"), key: r.pki.as_ref().unwrap().join("agents/sms.key") };
    let e = sdgx_coordinator::http::probe(r.http, Some(&other), wait).await.unwrap_err().to_string();
    assert!(e.contains("TLS") && e.contains("another certificate"), "{e}");
    r.stop().await;
}

/// Makes `home` a home directory whose NSS database (where Chromium on Linux looks for the
/// certificates a user trusts) trusts the CA `ca` for TLS servers.
fn trust_in_nss(home: &Path, ca: &Path) {
    let db = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let db = format!("sql:{}", db.display());
    for args in [vec!["-N", "-d", &db, "--empty-password"], vec!["-A", "-d", &db, "-n", "sdgx test CA", "-t", "C,,", "-i", ca.to_str().unwrap()]] {
        let out = std::process::Command::new("certutil").args(&args).output().expect("certutil (libnss3-tools) runs");
        assert!(out.status.success(), "certutil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// tests/py/https_browser.py against `base` in `mode`, with `home` as the browser's home.
async fn browser(base: &str, token: &str, mode: &str, home: &Path) -> serde_json::Value {
    let out = tokio::process::Command::new(python())
        .arg(root().join("tests/py/https_browser.py"))
        .args([base, token, mode])
        .env("HOME", home)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "https_browser.py {mode}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{stdout}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_trusting_the_ca_logs_in_over_tls_and_logout_ends_the_session_on_the_server() {
    let (r, reader) = coordinator(Clock::default()).await;
    let ca = r.pki.as_ref().unwrap().join("ca.pem");
    let base = format!("https://localhost:{}", r.http.port());
    // Without the CA, Chromium refuses the page: the trust below is the NSS database's.
    let untrusted = tempfile::tempdir().unwrap();
    let seen = browser(&base, &reader, "untrusted", untrusted.path()).await;
    assert!(seen["refused"].is_string(), "{seen}");
    let home = tempfile::tempdir().unwrap();
    trust_in_nss(home.path(), &ca);
    let seen = browser(&base, &reader, "trusted", home.path()).await;
    assert_eq!(seen["cookie"], serde_json::json!({"secure": true, "httpOnly": true, "sameSite": "Strict", "path": "/dashboard"}), "{seen}");
    assert_eq!(seen["after_logout"], format!("{base}/dashboard/login"));
    // The session the browser logged out of is gone for every client, not only the browser.
    let old = seen["old_session"].as_str().unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap())
        .resolve("localhost", r.http)
        .build()
        .unwrap();
    let resp = client.get(format!("{base}/dashboard")).header("cookie", format!("sdgx_session={old}")).send().await.unwrap();
    assert_eq!((resp.status().as_u16(), resp.headers()["location"].to_str().unwrap()), (303, "/dashboard/login"));
    r.stop().await;
}

/// `sdgx-coordinator serve` of the example config with the PKI `pki`, HTTP on `http_addr` and
/// `env`: its stderr (its logs) once it has printed its addresses and been killed, and the
/// bound HTTP address.
fn serve_and_stop(pki: &Path, data: &Path, http_addr: &str, env: &[(&str, &Path)], then: impl FnOnce(&str)) -> String {
    use std::io::{BufRead, Read};
    let mut cmd = std::process::Command::new(binary("sdgx-coordinator"));
    coordinator_env(&mut cmd, pki)
        .args(["--config"])
        .arg(root().join("examples/federation/coordinator.toml"))
        .args(["serve", "--flight-addr", "127.0.0.1:0", "--analyst-flight-addr", "127.0.0.1:0", "--http-addr", http_addr, "--data-dir"])
        .arg(data)
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("sdgx-coordinator starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addrs: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    then(addrs["http"].as_str().unwrap());
    child.kill().unwrap();
    child.wait().unwrap();
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    logs
}

#[test]
fn the_binary_warns_of_plain_http_beyond_loopback_and_its_health_asks_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    pki(&pki_dir);
    let plain = |line: &str| line.contains("WARN") && line.contains("PLAIN HTTP") && line.contains("travel in clear");
    // Plain HTTP on every interface: a warning naming the address.
    let mut bound = String::new();
    let logs = serve_and_stop(&pki_dir, &dir.path().join("a"), "0.0.0.0:0", &[], |a| bound = a.to_owned());
    let warning = logs.lines().find(|l| plain(l)).unwrap_or_else(|| panic!("no warning of plain HTTP: {logs}"));
    assert!(bound.starts_with("0.0.0.0:") && warning.contains(&bound), "{warning} names {bound}");
    // On loopback: no warning; and plain HTTP sends no HSTS.
    let logs = serve_and_stop(&pki_dir, &dir.path().join("b"), "127.0.0.1:0", &[], |addr| {
        let out = std::process::Command::new("curl").args(["-sS", "-i", &format!("http://{addr}/health")]).output().unwrap();
        let out = String::from_utf8_lossy(&out.stdout);
        assert!(out.starts_with("HTTP/1.1 200") && header(&out, "strict-transport-security").is_none(), "{out}");
    });
    assert!(!logs.lines().any(plain) && logs.contains("plain HTTP on loopback only"), "{logs}");
    // [http.tls] from the environment: `health` (with the same settings) asks over TLS.
    let (cert, key) = (pki_dir.join("server.pem"), pki_dir.join("server.key"));
    let tls: [(&str, &Path); 2] = [("SDGX_HTTP__TLS__CERT", &cert), ("SDGX_HTTP__TLS__KEY", &key)];
    let logs = serve_and_stop(&pki_dir, &dir.path().join("c"), "0.0.0.0:0", &tls, |addr| {
        let health = |env: &[(&str, &Path)]| {
            std::process::Command::new(binary("sdgx-coordinator"))
                .args(["health", "--addr", addr])
                .envs(env.iter().copied())
                .output()
                .unwrap()
        };
        let out = health(&tls);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("\"status\":\"ok\""));
        let out = health(&[]);
        assert!(!out.status.success(), "plain HTTP health of the TLS port fails");
    });
    assert!(!logs.lines().any(plain) && logs.contains("serve TLS (https)"), "{logs}");
}
