//! The serving coordinator killed at every stage of a publication (`SDGX_CRASH_AT`: an abort,
//! as `kill -9`, with no destructor or flush): while receiving, once staged, once its facts are
//! written, and once committed but not yet acknowledged. After each crash the store shows no
//! partial publication, every acknowledged one is there with facts that match its rows, the
//! figures from facts equal the full scan, the coordinator starts again, and the agent's retry
//! delivers exactly once.

use sdgx_coordinator::catalog::Read;
use sdgx_coordinator::signoff::View;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use sdgx_coordinator::catalog::Catalog;
use sdgx_coordinator::figures::{self, FigureKind, Source, Window};
use sdgx_e2e::{pki, root, Served};

/// The store in `data` as read by a read-only user (the `figures` command's way in).
async fn open(data: &Path) -> std::sync::Arc<Catalog> {
    let mut config = sdgx_coordinator::Config::load(Some(&root().join("examples/federation/coordinator.toml"))).unwrap();
    config.data_dir = data.to_owned();
    sdgx_coordinator::server::open(&config, false).await.unwrap().0
}

/// Everything the store shows is whole: each current publication's rows are exactly its entry's
/// count, its facts match its rows, and every figure from facts equals the full scan.
async fn check_whole(catalog: &Catalog) -> Vec<(String, u64)> {
    let store = catalog.store();
    let s = catalog.tables(&catalog.pin(&Read::current(View::Provisional)).await.unwrap()).await.unwrap();
    let mut seen = Vec::new();
    for e in &s.publications {
        let sql = format!("SELECT count(*) FROM observations WHERE agency = '{}' AND dataset = '{}'", e.agency, e.dataset);
        let b = s.ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let n = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(b[0].column(0)).value(0) as u64;
        assert_eq!(n, e.rows, "{}/{}: the rows stored are the entry's", e.agency, e.dataset);
        assert!(e.facts.is_some(), "{}/{}: committed with its facts", e.agency, e.dataset);
        assert_eq!(*store.facts(e).await.unwrap(), store.compute_facts(e).await.unwrap(), "{}/{}: facts match rows", e.agency, e.dataset);
        seen.push((e.dataset.clone(), e.rows));
    }
    let total = s.ctx.sql("SELECT count(*) FROM observations").await.unwrap().collect().await.unwrap();
    let total = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(total[0].column(0)).value(0) as u64;
    assert_eq!(total, seen.iter().map(|(_, n)| n).sum::<u64>(), "no row outside a current publication");
    let reference = Catalog::new(
        catalog.shared_contract(),
        store.clone(),
        catalog.registers().clone(),
        256 << 20,
        figures::views(Source::Reference),
    );
    for kind in FigureKind::ALL {
        let a = figures::compute(catalog, kind, Window::default(), &Read::current(View::Provisional)).await.unwrap();
        let b = figures::compute(&reference, kind, Window::default(), &Read::current(View::Provisional)).await.unwrap();
        assert_eq!(a, b, "{kind}: facts and full scan agree");
    }
    seen.sort();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_stage_loses_no_acknowledged_publication_and_shows_no_partial_one() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    pki(&pki_dir);
    // armstat publishes two datasets in turn: the first is acknowledged, the coordinator dies
    // on the second.
    for (point, second_committed) in [("receiving", false), ("staged", false), ("facts-written", false), ("committed", true)] {
        let data = dir.path().join(point);
        let outbox = data.join("outbox");
        let mut served = Served::start(&pki_dir, &data, &[("SDGX_CRASH_AT", &format!("{point}:2"))]);
        let out = served.agent("armstat", "armstat", &pki_dir, &outbox).env("SDGX_DELIVERY__PUBLISH_RETRY_SECS", "0").output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.matches("published: publication").count(), 1, "{point}: one acknowledged: {stdout}");
        let status = served.child.wait().unwrap();
        assert_eq!(status.signal(), Some(6), "{point}: the coordinator aborted ({status})");

        let catalog = open(&data).await;
        let seen = check_whole(&catalog).await;
        let expected = if second_committed { 2 } else { 1 };
        assert_eq!(seen.len(), expected, "{point}: {seen:?}");
        assert_eq!(catalog.store().version().await, expected as i64, "{point}: one commit per publication made");
        drop(catalog);

        // The coordinator starts again on the same store, and the agent's retry delivers the
        // second dataset once (after `committed`, as a duplicate of what was committed).
        let served = Served::start(&pki_dir, &data, &[]);
        let out = served.agent("armstat", "armstat", &pki_dir, &outbox).output().unwrap();
        assert!(out.status.success(), "{point}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        drop(served);
        let catalog = open(&data).await;
        let seen = check_whole(&catalog).await;
        assert_eq!(seen.len(), 2, "{point}: both datasets, once each: {seen:?}");
        assert_eq!(catalog.store().version().await, 2, "{point}: the retry added no second commit of anything");
    }
}
