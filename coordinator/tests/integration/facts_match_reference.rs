//! Every figure computed from the publications' facts equals the same figure computed by the
//! full scan of the observations (the reference views), field by field, for random
//! federations: several agencies and datasets, superseded versions, suppressed and missing
//! cells, out-of-scope and unknown indicators, migrant / non-migrant pairs, several reference
//! areas (compared as the `areas` setting lists them, an unobserved one included, or as
//! observed), windows and earlier store versions (`as_of`), the empty store included.
//!
//! Publications are validated under `tests/slt/framework_extended.toml` (which knows 9.9.9) and
//! the figures computed under `tests/slt/framework.toml` (where 9.9.9 is unknown and 3.9.9 out
//! of scope).

use crate::common;

use sdgx_coordinator::catalog::Read;
use sdgx_coordinator::signoff::View;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use sdgx_coordinator::auth::AgencyEntry;
use sdgx_coordinator::catalog::{AsOf, Catalog, Registers};
use sdgx_coordinator::figures::{self, FigureKind, Source, Window};
use sdgx_coordinator::store::Store;
use sdgx_schemas::Contract;

const INDICATORS: [&str; 7] = ["1.1.1", "1.2.1", "1.3.1", "2.1.1", "2.2.1", "3.9.9", "9.9.9"];
const AREAS: [&str; 3] = ["AM", "GE", "AZ"];
/// The `areas` settings tried: empty (the areas observed), and lists with an area never
/// observed (TR).
const COMPARED: [&[&str]; 3] = [&[], &["GE", "AZ", "TR"], &["AM", "GE"]];
const SEX: [&str; 3] = ["_T", "F", "M"];
const AGE: [&str; 2] = ["_T", "Y15T24"];
const MIGRATORY: [&str; 4] = ["_T", "MS_MIGRANT", "MS_NOMIGRANT", "MS_MIGRANT"];
const AGENCIES: [&str; 3] = ["agency-a", "agency-b", "agency-c"];
const DATASETS: [&str; 2] = ["ds-x", "ds-y"];

/// One observation: indices into the code lists, a kind (0 a value, 1 missing, 2 suppressed)
/// and a value.
#[derive(Debug, Clone)]
struct Obs {
    indicator: usize,
    area: usize,
    year: i32,
    sex: usize,
    age: usize,
    migratory: usize,
    kind: u8,
    value: i32,
}

/// One publication: (agency, dataset) indices and its rows.
#[derive(Debug, Clone)]
struct Publication {
    agency: usize,
    dataset: usize,
    rows: Vec<Obs>,
}

fn obs() -> impl Strategy<Value = Obs> {
    (0..INDICATORS.len(), 0..AREAS.len(), 2019..2024i32, 0..SEX.len(), 0..AGE.len(), 0..MIGRATORY.len(), prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)], -5..50i32)
        .prop_map(|(indicator, area, year, sex, age, migratory, kind, value)| Obs { indicator, area, year, sex, age, migratory, kind, value })
}

fn publication() -> impl Strategy<Value = Publication> {
    (0..AGENCIES.len(), 0..DATASETS.len(), prop::collection::vec(obs(), 1..14)).prop_map(|(agency, dataset, rows)| Publication { agency, dataset, rows })
}

/// The publication as contract CSV, one row per observation key (later duplicates dropped).
fn csv(p: &Publication) -> String {
    let mut out = String::from("indicator,ref_area,time_period,sex,age,migratory_status,obs_value,unit_measure,obs_status,conf_status\n");
    let mut keys = std::collections::HashSet::new();
    for o in &p.rows {
        if !keys.insert((o.indicator, o.area, o.year, o.sex, o.age, MIGRATORY[o.migratory])) {
            continue;
        }
        let (value, status, conf) = match o.kind {
            0 => (o.value.to_string(), "A", "F"),
            1 => (String::new(), "M", "F"),
            _ => (String::new(), "A", "C"),
        };
        out.push_str(&format!(
            "{},{},{},{},{},{},{value},PT,{status},{conf}\n",
            INDICATORS[o.indicator], AREAS[o.area], o.year, SEX[o.sex], AGE[o.age], MIGRATORY[o.migratory]
        ));
    }
    out
}

fn slt(file: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt").join(file)
}

async fn check(federation: Vec<Publication>, windows: Vec<Window>, older: usize, compared: usize) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let url = url::Url::from_directory_path(dir.path().join("store")).unwrap();
    let store = Arc::new(Store::open(url, Default::default(), dir.path(), true).await.unwrap());
    let publishing = Contract::load(None, Some(&slt("framework_extended.toml"))).unwrap();
    for p in &federation {
        common::publish(&publishing, &store, dir.path(), AGENCIES[p.agency], DATASETS[p.dataset], &csv(p))
            .await
            .map_err(|e| TestCaseError::fail(format!("publishing {p:?}: {e}")))?;
    }
    let contract = Arc::new(Contract::load(None, Some(&slt("framework.toml"))).unwrap());
    let registers = Registers {
        national_area: "AM".into(),
        agencies: AGENCIES.map(|a| AgencyEntry { id: a.into(), name: a.into(), datasets: vec![], areas: vec![] }).to_vec(),
        calendar: vec![],
        derived_agency: None,
        areas: COMPARED[compared].iter().map(|a| a.to_string()).collect(),
        language: "en".into(),
        sdmx_agency: None,
        audit_ca: vec![],
    };
    let catalog = |source| Catalog::new(contract.clone(), store.clone(), registers.clone(), 256 << 20, figures::views(source));
    let (facts, reference) = (catalog(Source::Facts), catalog(Source::Reference));
    let current = store.version().await;
    let versions = [current, current - (older as i64 % (current + 1))];
    for version in versions {
        for window in &windows {
            for kind in FigureKind::ALL {
                let as_of = Some(AsOf::Version(version));
                let from_facts = figures::compute(&facts, kind, *window, &Read { view: View::Provisional, as_of: as_of.clone() }).await.unwrap();
                let from_rows = figures::compute(&reference, kind, *window, &Read { view: View::Provisional, as_of: as_of.clone() }).await.unwrap();
                prop_assert_eq!(&from_facts, &from_rows, "{} at version {} in {:?}", kind, version, window);
            }
        }
    }
    Ok(())
}

fn window() -> impl Strategy<Value = Window> {
    (prop::option::of(2018..2025i32), prop::option::of(0..4i32)).prop_map(|(from, span)| Window { from, to: span.map(|s| from.unwrap_or(2019) + s) })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]
    #[test]
    fn every_figure_from_facts_equals_the_full_scan(
        federation in prop::collection::vec(publication(), 0..6),
        windows in prop::collection::vec(window(), 1..2),
        older in 0usize..6,
        compared in 0..COMPARED.len(),
    ) {
        let mut windows = windows;
        windows.insert(0, Window::default());
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(check(federation, windows, older, compared))?;
    }
}
