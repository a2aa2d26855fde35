//! The review queue's evidence, hand-checked: the rows a publication adds, removes and changes
//! against its dataset's official version, and its figure impact (coordinator/src/review.rs),
//! over the small framework of the figure tests (`tests/slt/framework.toml`: 5 indicators in
//! scope).

use crate::common;

use std::sync::Arc;

use sdgx_coordinator::catalog::{Catalog, Registers};
use sdgx_coordinator::figures::{self, Source};
use sdgx_coordinator::signoff::{Action, Request};
use sdgx_coordinator::store::Store;
use sdgx_schemas::Contract;

/// An empty store with the figure tests' framework, and its catalog.
async fn fixture() -> (tempfile::TempDir, Arc<Store>, Arc<Contract>, Catalog) {
    let dir = tempfile::tempdir().unwrap();
    let url = url::Url::from_directory_path(dir.path().join("store")).unwrap();
    let store = Arc::new(Store::open(url, Default::default(), dir.path(), true).await.unwrap());
    let framework = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt/framework.toml");
    let contract = Arc::new(Contract::load(None, Some(&framework)).unwrap());
    let catalog = Catalog::new(contract.clone(), store.clone(), Registers::default(), 256 << 20, figures::views(Source::Facts));
    (dir, store, contract, catalog)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_shows_the_rows_changed_against_the_official_version_and_the_figure_impact() {
    let (dir, store, contract, catalog) = fixture().await;

    // v1: 1.1.1 total and migrant (2021), 1.2.1 total (2021).
    let v1 = "indicator,ref_area,time_period,migratory_status,obs_value,unit_measure\n\
              1.1.1,AM,2021,_T,10,PT\n1.1.1,AM,2021,MS_MIGRANT,12,PT\n1.2.1,AM,2021,_T,5,PT\n";
    common::publish(&contract, &store, dir.path(), "a", "d", v1).await.unwrap();
    let first = store.current("a", "d").await.unwrap();
    // Nothing official yet: every row is added; the headline goes from 0/0 to 1/2.
    let d = sdgx_coordinator::review::detail(&catalog, &first.publication_id).await.unwrap();
    assert_eq!((d.rows_diff.added, d.rows_diff.removed, d.rows_diff.changed, d.rows_diff.unchanged), (3, 0, 0, 0));
    assert_eq!(d.item.official, None);
    assert_eq!((d.impact.now.headline.numerator, d.impact.now.headline.denominator), (0, 0));
    assert_eq!((d.impact.if_approved.headline.numerator, d.impact.if_approved.headline.denominator), (1, 2));
    assert_eq!(d.impact.newly_produced, ["1.1.1", "1.2.1"]);
    assert_eq!(d.impact.newly_migration_disaggregated, ["1.1.1"]);
    store.decide(&first.publication_id, Action::Approve, "nso", &Request::default(), chrono::Utc::now()).await.unwrap();

    // v2: 1.1.1 total changed (10 -> 11), its migrant row and 1.2.1's 2021 removed, 1.2.1's 2022
    // (20: four times 2021's 5, which only the official version holds) and 1.3.1 added.
    let v2 = "indicator,ref_area,time_period,migratory_status,obs_value,unit_measure\n\
              1.1.1,AM,2021,_T,11,PT\n1.2.1,AM,2022,_T,20,PT\n1.3.1,AM,2022,_T,7,PT\n";
    common::publish(&contract, &store, dir.path(), "a", "d", v2).await.unwrap();
    let second = store.current("a", "d").await.unwrap();
    let q = sdgx_coordinator::review::queue(&catalog).await.unwrap();
    assert_eq!(q.submitted.iter().map(|i| i.publication_id.as_str()).collect::<Vec<_>>(), [second.publication_id.as_str()]);
    let d = sdgx_coordinator::review::detail(&catalog, &second.publication_id).await.unwrap();
    assert_eq!(d.item.official.as_deref(), Some(first.publication_id.as_str()));
    let r = &d.rows_diff;
    assert_eq!((r.added, r.removed, r.changed, r.unchanged), (2, 2, 1, 0));
    let examples: Vec<(&str, &str, Option<f64>, Option<f64>)> =
        r.examples.iter().map(|e| (e.change.as_str(), e.key.as_str(), e.before, e.after)).collect();
    assert_eq!(
        examples,
        [
            ("changed", "indicator=1.1.1, ref_area=AM, time_period=2021, freq=A, reporting_type=N", Some(10.0), Some(11.0)),
            ("added", "indicator=1.2.1, ref_area=AM, time_period=2022, freq=A, reporting_type=N", None, Some(20.0)),
            ("added", "indicator=1.3.1, ref_area=AM, time_period=2022, freq=A, reporting_type=N", None, Some(7.0)),
            ("removed", "indicator=1.1.1, ref_area=AM, time_period=2021, freq=A, reporting_type=N, migratory_status=MS_MIGRANT", Some(12.0), None),
            ("removed", "indicator=1.2.1, ref_area=AM, time_period=2021, freq=A, reporting_type=N", Some(5.0), None),
        ]
    );
    // Headline now 1/2 (1.1.1 of 1.1.1, 1.2.1); if approved 0/3 (1.1.1, 1.2.1, 1.3.1; no migrant row).
    let i = &d.impact;
    assert_eq!((i.now.headline.numerator, i.now.headline.denominator), (1, 2));
    assert_eq!((i.if_approved.headline.numerator, i.if_approved.headline.denominator), (0, 3));
    assert_eq!((i.now.reporting.numerator, i.if_approved.reporting.numerator), (2, 3));
    assert_eq!(i.newly_produced, ["1.3.1"]);
    assert_eq!(i.no_longer_migration_disaggregated, ["1.1.1"]);
    assert!(i.no_longer_produced.is_empty() && i.newly_migration_disaggregated.is_empty());
    // The year-over-year rule (default limit 50 %) sees 1.2.1's 2021 in the official version:
    // row 2 of v2, +300 %. At receipt, without that history, nothing was found.
    assert!(second.summary.warnings.iter().all(|w| w.rule != sdgx_schemas::Rule::YearOverYearChange), "{:?}", second.summary.warnings);
    let yoy: Vec<_> = d.quality_warnings.iter().filter(|w| w.rule == sdgx_schemas::Rule::YearOverYearChange).collect();
    assert_eq!(yoy.len(), 1, "{:?}", d.quality_warnings);
    assert_eq!((yoy[0].row, yoy[0].column.as_deref(), yoy[0].value.as_deref()), (Some(2), Some("obs_value"), Some("20")));
    assert!(yoy[0].message.starts_with("agency a dataset d:"), "{}", yoy[0].message);
    // The review changed nothing: the official headline is still v1's.
    let official = figures::get::<figures::MigrationShare>(&catalog, Default::default(), &Default::default()).await.unwrap();
    assert_eq!((official.numerator, official.denominator), (1, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_answers_the_summary_duplicate_and_impact_and_changes_nothing() {
    use sdgx_coordinator::catalog::Read;
    use sdgx_coordinator::signoff::View;
    let (dir, store, contract, catalog) = fixture().await;
    let v1 = "indicator,ref_area,time_period,migratory_status,obs_value,unit_measure\n\
              1.1.1,AM,2021,_T,10,PT\n1.1.1,AM,2021,MS_MIGRANT,12,PT\n";
    common::publish(&contract, &store, dir.path(), "a", "d", v1).await.unwrap();
    let first = store.current("a", "d").await.unwrap();
    store.decide(&first.publication_id, Action::Approve, "nso", &Request::default(), chrono::Utc::now()).await.unwrap();

    let files = |d: &std::path::Path| walk(d);
    let before = (store.version().await, files(&dir.path().join("store")));
    let mut figures_before = Vec::new();
    for view in View::ALL {
        for kind in figures::FigureKind::ALL {
            figures_before.push(figures::compute(&catalog, kind, Default::default(), &Read::current(view)).await.unwrap());
        }
    }
    let dry = |csv: &'static str| {
        let (contract, catalog, dir) = (contract.clone(), &catalog, dir.path().to_owned());
        async move {
            let (manifest, batches) = common::prepare(&contract, &dir, "a", "d", csv).unwrap();
            sdgx_coordinator::ingest::dry_run(catalog, Default::default(), manifest, &Default::default(), futures::stream::iter(batches.into_iter().map(Ok))).await
        }
    };
    // A new version: 1.1.1 without its migrant row, 1.3.1 added: headline 1/1 now, 0/2 if approved.
    let report = dry("indicator,ref_area,time_period,migratory_status,obs_value,unit_measure\n1.1.1,AM,2021,_T,10,PT\n1.3.1,AM,2021,_T,3,PT\n").await.unwrap();
    assert_eq!((report.summary.rows, report.duplicate), (2, false));
    let i = report.impact.unwrap();
    assert_eq!((i.headline_now.numerator, i.headline_now.denominator, i.headline_if_approved.numerator, i.headline_if_approved.denominator), (1, 1, 0, 2));
    assert_eq!((i.newly_produced, i.no_longer_migration_disaggregated), (vec!["1.3.1".to_owned()], vec!["1.1.1".to_owned()]));
    // The same content as the latest publication: a duplicate, no impact.
    let same = dry(v1).await.unwrap();
    assert!(same.duplicate && same.impact.is_none());
    // A bad one is refused with its report, as a publication would be.
    let e = dry("indicator,ref_area,time_period,migratory_status,obs_value,unit_measure\n1.1.1,AM,2021,MS_NOBODY,10,PT\n").await.unwrap_err();
    let sdgx_coordinator::Error::Rejected(r) = e else { panic!("a rejection: {e}") };
    assert_eq!((r.errors[0].row, r.errors[0].column.as_deref(), r.errors[0].value.as_deref()), (Some(1), Some("migratory_status"), Some("MS_NOBODY")));
    // Nothing changed: the store version, its files, and every figure of both views.
    assert_eq!((store.version().await, files(&dir.path().join("store"))), before);
    let mut figures_after = Vec::new();
    for view in View::ALL {
        for kind in figures::FigureKind::ALL {
            figures_after.push(figures::compute(&catalog, kind, Default::default(), &Read::current(view)).await.unwrap());
        }
    }
    assert_eq!(figures_after, figures_before);
}

/// Every file under `dir`, relative, sorted.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}
