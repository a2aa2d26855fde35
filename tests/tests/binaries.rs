//! The real binaries as separate processes: `sdgx-coordinator serve`, one `sdgx-agent publish`
//! per example agency, then the figures over HTTP and from the `figures` command.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use sdgx_e2e::{binary, root, AGENCIES};

struct Coordinator(Child);

impl Drop for Coordinator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binaries_publish_and_serve_the_figures_over_http() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let config = root().join("examples/federation/coordinator.toml");
    let mut child = Command::new(binary("sdgx-coordinator"))
        .args(["serve", "--flight-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The coordinator prints its bound addresses as one JSON line once it listens.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _guard = Coordinator(child);
    let addrs: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    let (flight, http) = (addrs["flight"].as_str().unwrap().to_owned(), addrs["http"].as_str().unwrap().to_owned());

    for a in AGENCIES {
        let out = Command::new(binary("sdgx-agent"))
            .args(["publish", "--config"])
            .arg(root().join(format!("examples/federation/{a}/agent.toml")))
            .env("SDGX_COORDINATOR", format!("http://{flight}"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{a}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("published: publication"), "{a}: {stdout}");
    }

    let client = reqwest::Client::new();
    let get = |path: &str| {
        let url = format!("http://{http}{path}");
        let client = client.clone();
        async move {
            let r = client.get(&url).send().await.unwrap();
            let status = r.status();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, health) = get("/health").await;
    assert!(status.is_success());
    assert_eq!(health["store_version"], 8);
    let (_, fig) = get("/api/v1/figures/migration-disaggregation-share").await;
    // Hand-computed in tests/federation.rs: 7 of the 15 produced indicators.
    assert_eq!((fig["numerator"].as_i64(), fig["denominator"].as_i64()), (Some(7), Some(15)));
    assert_eq!(fig["store_version"], 8);
    assert_eq!(fig["migration_relevant"]["denominator"], 85);
    assert_eq!(fig["by_goal"].as_array().unwrap().len(), 16, "17 goals less goal 14, out of scope");
    let (_, win) = get("/api/v1/figures/migration-disaggregation-share?from=2030&to=2031").await;
    assert_eq!((win["numerator"].as_i64(), win["denominator"].as_i64()), (Some(0), Some(0)));
    assert!(win["share"].is_null(), "an empty denominator gives null");
    let (_, rs) = get("/api/v1/figures/reporting-status").await;
    assert_eq!((rs["numerator"].as_i64(), rs["denominator"].as_i64()), (Some(15), Some(247)));
    let (_, pubs) = get("/api/v1/publications").await;
    assert_eq!(pubs["publications"].as_array().unwrap().len(), 8);
    let (status, err) = get("/api/v1/figures/migration-disaggregation-share?from=2024&to=2020").await;
    assert_eq!(status.as_u16(), 400);
    assert!(err["message"].as_str().unwrap().contains("from 2024 is after to 2020"), "{err}");
    let (status, _) = get("/api/v1/figures/nope").await;
    assert_eq!(status.as_u16(), 404);

    // The figures command reads the same store and prints the same numbers.
    let out = Command::new(binary("sdgx-coordinator"))
        .args(["figures", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("46.7%  (7/15)"), "{text}");
    assert!(text.contains("(15/247)"), "{text}");
}
