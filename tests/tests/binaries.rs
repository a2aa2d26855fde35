//! The real binaries as separate processes, secured as in production: `ca init`, one client
//! certificate per agency, a reader token; `sdgx-coordinator serve` with mutual TLS on the
//! Flight port; one `sdgx-agent publish` per example agency; then the figures over HTTP (with
//! the token), from the `figures` command, and an audit of the log.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use sdgx_e2e::{binary, root, AGENCIES};

struct Coordinator(Child);

impl Drop for Coordinator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn coordinator_env<'a>(cmd: &'a mut Command, pki: &Path) -> &'a mut Command {
    cmd.env("SDGX_SECURITY__TLS__CERT", pki.join("server.pem"))
        .env("SDGX_SECURITY__TLS__KEY", pki.join("server.key"))
        .env("SDGX_SECURITY__TLS__CLIENT_CA", pki.join("ca.pem"))
        .env("SDGX_SECURITY__TOKEN_FILE", pki.join("tokens.toml"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binaries_publish_over_mtls_and_serve_the_figures_over_http() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let coord = binary("sdgx-coordinator");
    let config = root().join("examples/federation/coordinator.toml");
    run(Command::new(&coord).args(["ca", "init", "--dir"]).arg(&pki));
    for a in AGENCIES {
        run(Command::new(&coord).args(["ca", "issue-agent", "--agency", a, "--dir"]).arg(&pki));
    }
    let out = run(Command::new(&coord).args(["token", "create", "--role", "reader", "--name", "analyst", "--file"]).arg(pki.join("tokens.toml")));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("sdgx_"));
    let stored = std::fs::read_to_string(pki.join("tokens.toml")).unwrap();
    assert!(!stored.contains(&token), "the token file holds only the hash");

    let mut child = coordinator_env(&mut Command::new(&coord), &pki)
        .args(["serve", "--flight-addr", "127.0.0.1:0", "--analyst-flight-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        // The config file named by SDGX_CONFIG, and a variable of the deployment's own that
        // shares the prefix: neither is a setting, neither may break the configuration.
        .env("SDGX_CONFIG", &config)
        .env("SDGX_DEPLOYMENT_NOTE", "national coordinator, test")
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The coordinator prints its bound addresses as one JSON line once it listens.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let stderr = child.stderr.take().unwrap();
    let _guard = Coordinator(child);
    let addrs: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    let (flight, http) = (addrs["flight"].as_str().unwrap().to_owned(), addrs["http"].as_str().unwrap().to_owned());
    let port = flight.rsplit(':').next().unwrap();

    let outboxes = tempfile::tempdir().unwrap();
    for a in AGENCIES {
        let out = Command::new(binary("sdgx-agent"))
            .args(["publish", "--config"])
            .arg(root().join(format!("examples/federation/{a}/agent.toml")))
            .env("SDGX_COORDINATOR", format!("https://localhost:{port}"))
            .env("SDGX_DEPLOYMENT_NOTE", "ministry server")
            .env("SDGX_OUTBOX", outboxes.path().join(a))
            .env("SDGX_TLS__CA", pki.join("ca.pem"))
            .env("SDGX_TLS__CERT", pki.join(format!("agents/{a}.pem")))
            .env("SDGX_TLS__KEY", pki.join(format!("agents/{a}.key")))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{a}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("published: publication"), "{a}: {stdout}");
    }
    // An agent with sms's certificate cannot publish labour's dataset.
    let out = Command::new(binary("sdgx-agent"))
        .args(["publish", "--config"])
        .arg(root().join("examples/federation/labour/agent.toml"))
        .env("SDGX_COORDINATOR", format!("https://localhost:{port}"))
        .env("SDGX_TLS__CA", pki.join("ca.pem"))
        .env("SDGX_OUTBOX", outboxes.path().join("impostor"))
        .env("SDGX_TLS__CERT", pki.join("agents/sms.pem"))
        .env("SDGX_TLS__KEY", pki.join("agents/sms.key"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("PermissionDenied") && stdout.contains("agency \"sms\""), "{stdout}");

    let client = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut req = client.get(format!("http://{http}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let t = Some(token.as_str());
    let (status, health) = get("/health", None).await;
    assert_eq!(status, 200);
    assert_eq!(health["store_version"], 8);
    assert_eq!(get("/api/v1/figures/migration-disaggregation-share", None).await.0, 401, "anonymous is denied");
    let (_, fig) = get("/api/v1/figures/migration-disaggregation-share", t).await;
    // Hand-computed in tests/federation.rs: 7 of the 15 produced indicators.
    assert_eq!((fig["numerator"].as_i64(), fig["denominator"].as_i64()), (Some(7), Some(15)));
    assert_eq!(fig["store_version"], 8);
    assert_eq!(fig["migration_relevant"]["denominator"], 85);
    assert_eq!(fig["by_goal"].as_array().unwrap().len(), 16, "17 goals less goal 14, out of scope");
    let (_, win) = get("/api/v1/figures/migration-disaggregation-share?from=2030&to=2031", t).await;
    assert_eq!((win["numerator"].as_i64(), win["denominator"].as_i64()), (Some(0), Some(0)));
    assert!(win["share"].is_null(), "an empty denominator gives null");
    let (_, rs) = get("/api/v1/figures/reporting-status", t).await;
    assert_eq!((rs["numerator"].as_i64(), rs["denominator"].as_i64()), (Some(15), Some(247)));
    let (_, pubs) = get("/api/v1/publications", t).await;
    assert_eq!(pubs["publications"].as_array().unwrap().len(), 8);
    let (status, err) = get("/api/v1/figures/migration-disaggregation-share?from=2024&to=2020", t).await;
    assert_eq!(status, 400);
    assert!(err["message"].as_str().unwrap().contains("from 2024 is after to 2020"), "{err}");
    assert_eq!(get("/api/v1/figures/nope", t).await.0, 404);
    assert_eq!(get("/api/v1/admin/audit", t).await.0, 403, "a reader is no admin");

    // The figures command reads the same store and prints the same numbers.
    let out = run(coordinator_env(&mut Command::new(&coord), &pki).args(["figures", "--config"]).arg(&config).arg("--data-dir").arg(dir.path()));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("46.7%  (7/15)"), "{text}");
    assert!(text.contains("(15/247)"), "{text}");
    // The log verifies.
    let out = run(coordinator_env(&mut Command::new(&coord), &pki).args(["audit", "verify", "--config"]).arg(&config).arg("--data-dir").arg(dir.path()));
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit passed: 8 publications-log entries"));

    // Secrets never reach the logs.
    drop(_guard);
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut logs).unwrap();
    assert!(!logs.contains(&token), "the token appears in the coordinator's log");
    assert!(!logs.contains("PRIVATE KEY"), "key material appears in the coordinator's log");
    assert!(logs.contains("publication denied"), "denials are logged: {logs}");
}
