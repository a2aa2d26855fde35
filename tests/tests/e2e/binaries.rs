//! The real binaries as separate processes, secured as in production: `ca init`, one client
//! certificate per agency, a reader token; `sdgx-coordinator serve` with mutual TLS on the
//! Flight port; one `sdgx-agent publish` per example agency; then the figures over HTTP (with
//! the token), from the `figures` command, and an audit of the log.

use std::io::BufReader;
use std::process::Command;

use sdgx_e2e::{binary, coordinator_env, pki, root, run, Served, AGENCIES};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binaries_publish_over_mtls_and_serve_the_figures_over_http() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    let coord = binary("sdgx-coordinator");
    let config = root().join("examples/federation/coordinator.toml");
    let token = pki(&pki_dir);
    let pki = pki_dir;
    assert!(token.starts_with("sdgx_"));
    let stored = std::fs::read_to_string(pki.join("tokens.toml")).unwrap();
    assert!(!stored.contains(&token), "the token file holds only the hash");

    // The config file named by SDGX_CONFIG, and a variable of the deployment's own that
    // shares the prefix: neither is a setting, neither may break the configuration.
    let mut served = Served::start(&pki, dir.path(), &[("SDGX_DEPLOYMENT_NOTE", "national coordinator, test")]);
    let stderr = served.child.stderr.take().unwrap();
    let http = served.http.clone();

    let outboxes = tempfile::tempdir().unwrap();
    for a in AGENCIES {
        let out = served.agent(a, a, &pki, &outboxes.path().join(a)).env("SDGX_DEPLOYMENT_NOTE", "ministry server").output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{a}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("published: publication"), "{a}: {stdout}");
    }
    // An agent with sms's certificate cannot publish labour's dataset.
    let out = served.agent("labour", "sms", &pki, &outboxes.path().join("impostor")).output().unwrap();
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
    // Nothing is approved yet: the official figures (the default) count nothing.
    let (_, official) = get("/api/v1/figures/migration-disaggregation-share", t).await;
    assert_eq!((official["numerator"].as_i64(), official["denominator"].as_i64(), official["view"].as_str()), (Some(0), Some(0), Some("official")));
    let (_, fig) = get("/api/v1/figures/migration-disaggregation-share?view=provisional", t).await;
    // Hand-computed in tests/federation.rs: 7 of the 15 produced indicators.
    assert_eq!((fig["numerator"].as_i64(), fig["denominator"].as_i64()), (Some(7), Some(15)));
    assert_eq!((fig["store_version"].as_i64(), fig["view"].as_str()), (Some(8), Some("provisional")));
    assert_eq!(fig["migration_relevant"]["denominator"], 85);
    assert_eq!(fig["by_goal"].as_array().unwrap().len(), 16, "17 goals less goal 14, out of scope");
    let (_, win) = get("/api/v1/figures/migration-disaggregation-share?from=2030&to=2031&view=provisional", t).await;
    assert_eq!((win["numerator"].as_i64(), win["denominator"].as_i64()), (Some(0), Some(0)));
    assert!(win["share"].is_null(), "an empty denominator gives null");
    let (_, rs) = get("/api/v1/figures/reporting-status?view=provisional", t).await;
    assert_eq!((rs["numerator"].as_i64(), rs["denominator"].as_i64()), (Some(15), Some(247)));
    let (_, pubs) = get("/api/v1/publications", t).await;
    assert_eq!(pubs["publications"].as_array().unwrap().len(), 8);
    let (status, err) = get("/api/v1/figures/migration-disaggregation-share?from=2024&to=2020", t).await;
    assert_eq!(status, 400);
    assert!(err["message"].as_str().unwrap().contains("from 2024 is after to 2020"), "{err}");
    assert_eq!(get("/api/v1/figures/nope", t).await.0, 404);
    assert_eq!(get("/api/v1/admin/audit", t).await.0, 403, "a reader is no admin");

    // The figures command reads the same store and prints the same numbers.
    let out = run(coordinator_env(&mut Command::new(&coord), &pki).args(["figures", "--view", "provisional", "--config"]).arg(&config).arg("--data-dir").arg(dir.path()));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("46.7%  (7/15)"), "{text}");
    assert!(text.contains("(15/247)"), "{text}");
    // The log verifies.
    let out = run(coordinator_env(&mut Command::new(&coord), &pki).args(["audit", "verify", "--config"]).arg(&config).arg("--data-dir").arg(dir.path()));
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit passed: 8 log entries"));

    // Secrets never reach the logs.
    drop(served);
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut logs).unwrap();
    assert!(!logs.contains(&token), "the token appears in the coordinator's log");
    assert!(!logs.contains("PRIVATE KEY"), "key material appears in the coordinator's log");
    assert!(logs.contains("publication denied"), "denials are logged: {logs}");
}
