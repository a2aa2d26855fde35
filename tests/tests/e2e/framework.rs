//! The framework comes from the coordinator, with the real binaries over mutual TLS: the agent
//! fetches the coordinator's framework and `status` shows it; with the coordinator stopped the
//! agent validates from its cache and says so; the coordinator restarted with a new version
//! of its framework refuses a publication validated against the old one with a message naming
//! both, and the agent, publishing again, fetches the new one, revalidates what its outbox
//! held and delivers it.

use std::path::Path;
use std::process::Command;

use sdgx_agent::outbox::{Outbox, State};
use sdgx_e2e::{binary, pki, root, run, Served};

/// `sdgx-agent <args>` with the example cba config against `served`'s Flight port, over
/// mutual TLS with cba's certificate, outbox in `outbox`.
fn agent(flight_port: &str, args: &[&str], pki: &Path, outbox: &Path) -> Command {
    let mut cmd = Command::new(binary("sdgx-agent"));
    cmd.args(args)
        .arg("--config")
        .arg(root().join("examples/federation/cba/agent.toml"))
        .env("SDGX_COORDINATOR", format!("https://localhost:{flight_port}"))
        .env("SDGX_OUTBOX", outbox)
        .env("SDGX_TLS__CA", pki.join("ca.pem"))
        .env("SDGX_TLS__CERT", pki.join("agents/cba.pem"))
        .env("SDGX_TLS__KEY", pki.join("agents/cba.key"));
    cmd
}

/// Stdout and stderr of `cmd`, which may fail (`status` fails when the calendar cannot be
/// fetched, as here: the example's HTTP API address is not this coordinator's).
fn output(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().expect("the agent starts");
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_validates_against_the_coordinators_framework_cached_and_refetched() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    pki(&pki_dir);
    let (data, outbox) = (dir.path().join("data"), dir.path().join("outbox"));
    let armenia = std::fs::read_to_string(root().join("examples/armenia/framework.toml")).unwrap();
    let v1 = sdgx_schemas::Contract::load(Some(&root().join("examples/armenia/codelists.csv")), Some(&root().join("examples/armenia/framework.toml")))
        .unwrap()
        .bundle
        .reference();

    // The agent fetches the coordinator's framework; status shows it, and that it is current.
    let served = Served::start(&pki_dir, &data, &[]);
    let port = served.flight_port.clone();
    let out = run(&mut agent(&port, &["framework", "fetch"], &pki_dir, &outbox));
    let fetched = String::from_utf8_lossy(&out.stdout);
    assert!(fetched.contains(&format!("fetched framework {v1}")), "{fetched}");
    assert!(fetched.contains(&format!("from the coordinator https://localhost:{port}")), "{fetched}");
    let (status, _) = output(&mut agent(&port, &["status"], &pki_dir, &outbox));
    assert!(status.contains(&format!("framework: validates against {v1}")), "{status}");
    assert!(status.contains("from the cache (fetched from the coordinator"), "{status}");
    assert!(status.contains("it is the coordinator's current framework"), "{status}");

    // The coordinator stopped: the agent validates from the cache and says so; a publication
    // waits in the outbox, validated against the cached framework.
    drop(served);
    let out = run(&mut agent(&port, &["validate"], &pki_dir, &outbox));
    let checked = String::from_utf8_lossy(&out.stdout);
    assert!(checked.contains(&format!("validating against framework {v1} from the cache")), "{checked}");
    assert!(checked.contains("checked agency cba dataset remittances"), "{checked}");
    let (published, _) = output(agent(&port, &["publish"], &pki_dir, &outbox).env("SDGX_DELIVERY__PUBLISH_RETRY_SECS", "0"));
    assert!(published.contains(&format!("validating against framework {v1} from the cache")), "{published}");
    assert!(published.contains("the coordinator's framework could not be fetched"), "{published}");
    assert!(published.contains("not delivered after 1 attempt(s)"), "{published}");
    let pending = Outbox::open(&outbox).unwrap().pending().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].framework.as_ref(), Some(&v1), "the entry names the framework it was validated against");
    let (status, _) = output(&mut agent(&port, &["status"], &pki_dir, &outbox));
    assert!(status.contains(&format!("framework: validates against {v1}")) && status.contains("from the cache"), "{status}");
    assert!(status.contains("whether it is the coordinator's current framework is unknown"), "{status}");

    // The coordinator restarted with a new version of its framework.
    let v2_file = dir.path().join("framework-2.toml");
    let v2_text = armenia.replacen("version = \"", "version = \"2.", 1);
    assert_ne!(v2_text, armenia, "the version line is changed");
    std::fs::write(&v2_file, &v2_text).unwrap();
    let served = Served::start(&pki_dir, &data, &[("SDGX_NATIONAL_FRAMEWORK", v2_file.to_str().unwrap())]);
    let port = served.flight_port.clone();
    let v2 = sdgx_schemas::Contract::load(Some(&root().join("examples/armenia/codelists.csv")), Some(&v2_file)).unwrap().bundle.reference();
    assert_ne!(v1.hash, v2.hash);
    let (status, _) = output(&mut agent(&port, &["status"], &pki_dir, &outbox));
    assert!(status.contains(&format!("it is NOT the coordinator's current framework, which is {v2}")), "{status}");
    assert!(status.contains("sdgx-agent framework fetch"), "{status}");

    // A publication validated against the old framework is refused with a clear message.
    let mut config = sdgx_agent::Config::load(&root().join("examples/federation/cba/agent.toml")).unwrap();
    config.coordinator = format!("https://localhost:{port}");
    config.tls = Some(sdgx_agent::config::TlsConfig {
        ca: pki_dir.join("ca.pem"),
        cert: pki_dir.join("agents/cba.pem"),
        key: pki_dir.join("agents/cba.key"),
        domain: None,
    });
    let old = std::sync::Arc::new(sdgx_agent::contract(&config).unwrap());
    let d = &config.datasets[0];
    let p = sdgx_agent::publish::check(&old, d, "cba", 1000, 10, None).unwrap();
    assert_eq!(p.framework, v1);
    let mut client = sdgx_agent::client::connect(&config.coordinator, &config.transport, config.tls.as_ref()).await.unwrap();
    let up = sdgx_agent::publish::Upload { manifest: &p.manifest, data: &d.source, format: d.format().unwrap(), rows: p.summary.rows, framework: Some(&p.framework), signature: None, known_head: None };
    let refused = sdgx_agent::publish::send(&mut client, &config.coordinator, old.clone(), up, 1000).await.unwrap_err();
    let sdgx_agent::Error::FrameworkMismatch { mismatch, .. } = &refused else { panic!("not a framework mismatch: {refused}") };
    assert_eq!((&mismatch.validated, &mismatch.coordinator), (&v1, &v2));
    let message = refused.to_string();
    for part in ["agency cba dataset remittances", &v1.version, &v1.hash, &v2.version, &v2.hash, "sdgx-agent framework fetch", "nothing was stored"] {
        assert!(message.contains(part), "{part:?} is not in: {message}");
    }

    // The agent publishes: it fetches the new framework; its outbox still holds the same
    // content validated against the old one, which the coordinator refuses; the agent
    // revalidates it against the new framework and delivers it.
    let out = run(&mut agent(&port, &["publish"], &pki_dir, &outbox));
    let (published, logs) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(published.contains(&format!("validating against framework {v2} from the coordinator https://localhost:{port}")), "{published}");
    assert!(published.contains("published: publication"), "{published}");
    assert!(logs.contains("the coordinator has another framework in force: revalidating against it"), "{logs}");
    let entries = Outbox::open(&outbox).unwrap().entries().unwrap();
    assert_eq!(entries.len(), 1, "the pending entry was delivered, not staged again: {entries:?}");
    assert_eq!(entries[0].state, State::Sent);
    assert_eq!(entries[0].framework.as_ref(), Some(&v2), "revalidated against the coordinator's framework");
    assert_eq!(entries[0].attempts, 2, "the offline attempt, then the delivery after the revalidation");
    let (status, _) = output(&mut agent(&port, &["status"], &pki_dir, &outbox));
    assert!(status.contains(&format!("framework: validates against {v2}")), "{status}");
    assert!(status.contains("it is the coordinator's current framework"), "{status}");
}
