//! A store written before facts were stored (`tests/fixtures/store-before-facts`, by the
//! coordinator of commit 1a86307) opens, gets its facts backfilled once from the observations,
//! and gives the same figures as the coordinator that wrote it, at the current and an earlier
//! version; the figures from the backfilled facts equal the full scan.

use std::path::Path;

use sdgx_coordinator::catalog::{AsOf, Catalog, Read};
use sdgx_coordinator::signoff::View;
use sdgx_coordinator::figures::{self, FigureKind, Source, Window};
use sdgx_e2e::{copy_dir, root};

async fn open(data: &Path, writer: bool) -> std::sync::Arc<Catalog> {
    let mut config = sdgx_coordinator::Config::load(Some(&root().join("examples/federation/coordinator.toml"))).unwrap();
    config.data_dir = data.to_owned();
    // In process, with no Flight port: neither the example's TLS files nor its signing key and
    // CA (which scripts/demo.sh makes) are needed; entries stay unsigned.
    config.security.tls = None;
    config.security.signing = None;
    sdgx_coordinator::server::open(&config, writer).await.unwrap().0
}

/// The modification time of every backfilled facts file.
fn facts_files(store: &Path) -> Vec<(String, std::time::SystemTime)> {
    let mut v: Vec<_> = std::fs::read_dir(store.join("_sdgx_facts"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().modified().unwrap())
        })
        .collect();
    v.sort();
    v
}

/// Where `a` and `b` differ, as JSON paths with both values.
fn diff(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                diff(&format!("{path}.{k}"), x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null), out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), p, q, out);
            }
        }
        // serde_json parses decimal text to the nearest double only with its `float_roundtrip`
        // feature: the text read back may be one unit in the last place off what was written.
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            if (x - y).abs() > 4.0 * f64::EPSILON * x.abs().max(y.abs()) {
                out.push(format!("{path}: now {x}, before {y}"));
            }
        }
        _ if a != b => out.push(format!("{path}: now {a}, before {b}")),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_from_before_facts_is_backfilled_once_and_gives_the_same_figures() {
    let fixture = root().join("tests/fixtures/store-before-facts");
    let data = tempfile::tempdir().unwrap();
    copy_dir(&fixture.join("store"), &data.path().join("store"));
    let catalog = open(data.path(), true).await;
    let log = catalog.store().publications().await;
    assert_eq!(log.len(), 9);
    assert!(log.iter().all(|e| e.facts.is_none()), "the old entries name no facts");
    // Two facts files and an index per publication, superseded ones included.
    let files = facts_files(&data.path().join("store"));
    assert_eq!(files.len(), 27, "{files:?}");
    for e in &log {
        assert!(files.iter().any(|(n, _)| *n == format!("{}.v{}.json", e.publication_id, sdgx_coordinator::facts::FORMAT)), "{} backfilled", e.publication_id);
        assert_eq!(*catalog.store().facts(e).await.unwrap(), catalog.store().compute_facts(e).await.unwrap());
    }

    let reference = Catalog::new(catalog.shared_contract(), catalog.store().clone(), catalog.registers().clone(), 256 << 20, figures::views(Source::Reference));
    for version in [8, 9] {
        let text = std::fs::read_to_string(fixture.join(format!("figures-v{version}.json"))).unwrap();
        let before: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        for (kind, old) in FigureKind::ALL.into_iter().zip(before) {
            // The store was written before the sign-off: what it served is the provisional view.
            let read = Read { view: View::Provisional, as_of: Some(AsOf::Version(version)) };
            let now = figures::compute(&catalog, kind, Window::default(), &read).await.unwrap();
            assert_eq!(now, figures::compute(&reference, kind, Window::default(), &read).await.unwrap(), "{kind} v{version}");
            let mut now = serde_json::to_value(&now).unwrap();
            assert_eq!(now["view"], "provisional");
            now.as_object_mut().unwrap().remove("view");
            let mut old = old;
            assert_eq!(old["figure"], kind.name());
            // The definitions reworded since: each breakdown is listed once nationally; the
            // store state is the view read (official or provisional).
            if matches!(kind, FigureKind::DisaggregationStatus | FigureKind::MigrationDisaggregationShare | FigureKind::ReportingStatus) {
                now["definition"] = serde_json::Value::Null;
                old["definition"] = serde_json::Value::Null;
            }
            // Since the store was written, the framework names 17.18.p1 its headline indicator,
            // which the headline never counts (docs/figures.md): the all-in-scope denominators
            // that counted it, nationally and in goal 17, are one less.
            if kind == FigureKind::MigrationDisaggregationShare {
                let one_less = |ratio: &mut serde_json::Value| {
                    let (n, d) = (ratio["numerator"].as_i64().unwrap(), ratio["denominator"].as_i64().unwrap() - 1);
                    ratio["denominator"] = d.into();
                    ratio["share"] = (n as f64 / d as f64).into();
                };
                one_less(&mut old["all_in_scope"]);
                one_less(&mut old["by_goal"].as_array_mut().unwrap().iter_mut().find(|r| r["key"] == "17").unwrap()["all_in_scope"]);
            }
            // Since the store was written, the example registry gained the province of the
            // three-level example (`am-er`, README), which owes no report: its row is new.
            if kind == FigureKind::AgencyCompleteness {
                now["by_agency"].as_array_mut().unwrap().retain(|r| r["key"] != "am-er" || r["expected"] != 0);
            }
            let mut differences = Vec::new();
            diff("", &now, &old, &mut differences);
            assert!(differences.is_empty(), "{kind} at version {version} differs from what the coordinator that wrote the store gave: {differences:?}");
        }
    }
    drop((catalog, reference));

    // Opened again, nothing is recomputed or rewritten, and the audit passes.
    let catalog = open(data.path(), true).await;
    assert_eq!(facts_files(&data.path().join("store")), files, "backfilled once");
    let report = sdgx_coordinator::audit::verify(&catalog).await.unwrap();
    assert_eq!((report.entries, &report.first_mismatch), (9, &None), "{report}");
}
