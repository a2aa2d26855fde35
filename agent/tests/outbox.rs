//! A corrupt outbox entry (`<outbox>/<id>/entry.json` that cannot be parsed) is skipped and
//! reported by `scan`, `health` and `status`, and the other datasets are still published.
//! The coordinator is unreachable here (nothing listens on port 1): publishing stages the
//! dataset in the outbox and reports it undelivered; tests/tests/e2e/hostile_ingest.rs delivers
//! past a corrupt entry to a real coordinator.

use std::path::Path;

use sdgx_agent::outbox::{Outbox, State};

fn config(outbox: &Path) -> sdgx_agent::Config {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/federation/cba/agent.toml");
    let mut c = sdgx_agent::Config::load(&dir).expect("example agent config");
    c.outbox = outbox.to_owned();
    c.coordinator = "http://127.0.0.1:1".into();
    c.tls = None;
    c.delivery.publish_retry_secs = 0;
    c
}

#[tokio::test]
async fn a_corrupt_entry_is_skipped_and_reported_and_the_others_are_served() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let c = config(&tmp.path().join("outbox"));
    // A first publication, left pending (the coordinator is unreachable), then its entry.json
    // is damaged.
    let first = sdgx_agent::run(&c, false).await.expect("publishes");
    let damaged = first[0].entry.clone().expect("staged");
    std::fs::write(c.outbox.join(&damaged.id).join("entry.json"), b"{\"id\": \"01\", truncated").expect("damage");

    // Publishing again works: the dataset is staged anew and tried.
    let again = sdgx_agent::run(&c, false).await.expect("a corrupt entry does not stop publish");
    assert_eq!(again.len(), 1);
    let staged = again[0].entry.clone().expect("staged despite the corrupt entry");
    assert_ne!(staged.id, damaged.id);
    assert!(matches!(again[0].sent, Some(Err(sdgx_agent::Error::Undelivered { .. }))), "{:?}", again[0].sent);

    // The outbox lists the readable entry and reports the corrupt one.
    let outbox = Outbox::open(&c.outbox).expect("opens");
    let listing = outbox.scan().expect("scans");
    assert_eq!(listing.entries.iter().map(|e| (e.id.as_str(), e.state)).collect::<Vec<_>>(), vec![(staged.id.as_str(), State::Pending)]);
    assert_eq!(listing.corrupt.len(), 1);
    assert_eq!(listing.corrupt[0].id, damaged.id);
    assert!(listing.corrupt[0].error.contains("not a valid outbox entry"), "{}", listing.corrupt[0].error);
    assert_eq!(outbox.pending().expect("pending").len(), 1);

    // health: degraded, not failed; status shows it.
    let health = sdgx_agent::status::health(&c).expect("health answers");
    assert_eq!(health.status, "degraded");
    assert_eq!(health.outbox["pending"], 1);
    assert_eq!(health.corrupt, listing.corrupt);
    let table = sdgx_agent::status::render_outbox(&c.outbox, &listing);
    assert!(table.contains(&format!("corrupt    {} skipped", damaged.id)), "{table}");
    assert!(table.contains("1 pending"), "{table}");

    // Without the corrupt entry, health is ok again; it was left on disk until then.
    std::fs::remove_dir_all(c.outbox.join(&damaged.id)).expect("removed by the operator");
    assert_eq!(sdgx_agent::status::health(&c).expect("health").status, "ok");
}
