//! The per-area and cross-area figures as every surface gets them (`figures::json`, the HTTP
//! body): the areas with their CL_AREA labels, the rows assembled per area, the distribution's
//! fields and the publications read. The values themselves are hand-checked in
//! `tests/slt/areas.slt`; here the same federation, smaller.

use crate::common;

use std::path::Path;
use std::sync::Arc;

use sdgx_coordinator::catalog::{Catalog, Read, Registers};
use sdgx_coordinator::figures::{self, FigureKind, Source, Window};
use sdgx_coordinator::signoff::View;
use sdgx_coordinator::store::Store;
use sdgx_schemas::Contract;
use serde_json::{json, Value};

const HEADER: &str = "indicator,ref_area,time_period,sex,migratory_status,obs_value,unit_measure,obs_status,conf_status\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn area_figures_carry_codes_labels_and_publications() {
    let dir = tempfile::tempdir().unwrap();
    let url = url::Url::from_directory_path(dir.path().join("store")).unwrap();
    let store = Arc::new(Store::open(url, Default::default(), dir.path(), true).await.unwrap());
    let contract = Arc::new(Contract::load(None, Some(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt/framework.toml"))).unwrap());
    // GE: 1.1.1 by migratory status, 1.2.1 totals (two publications); AZ: 1.2.1 totals; TR none.
    let a = format!("{HEADER}1.1.1,GE,2021,_T,MS_MIGRANT,1,PT,A,F\n1.2.1,AZ,2021,_T,_T,2,PT,A,F\n");
    let b = format!("{HEADER}1.2.1,GE,2022,_T,_T,3,PT,A,F\n");
    common::publish(&contract, &store, dir.path(), "agency-a", "ds-a", &a).await.unwrap();
    common::publish(&contract, &store, dir.path(), "agency-b", "ds-b", &b).await.unwrap();
    let registers = Registers { national_area: "AM".into(), areas: vec!["GE".into(), "AZ".into(), "TR".into()], ..Default::default() };
    let catalog = Catalog::new(contract, store, registers, 256 << 20, figures::views(Source::Facts));
    let read = Read::current(View::Provisional);
    let get = async |kind| -> Value { serde_json::from_slice(&figures::json(&catalog, kind, Window::default(), &read).await.unwrap()).unwrap() };

    let by_area = get(FigureKind::AreaFigures).await;
    assert_eq!(by_area["figure"], "area-figures");
    assert_eq!(by_area["areas_from"], "setting");
    let areas = json!([{"code": "AZ", "label": "Azerbaijan"}, {"code": "GE", "label": "Georgia"}, {"code": "TR", "label": "Türkiye"}]);
    assert_eq!(by_area["areas"], areas, "by code, with CL_AREA's names");
    assert_eq!(by_area["areas_not_compared"], json!([]));
    let rows = by_area["by_area"].as_array().unwrap();
    assert_eq!(rows.iter().map(|r| r["code"].as_str().unwrap()).collect::<Vec<_>>(), ["AZ", "GE", "TR"]);
    // GE: {1.1.1, 1.2.1} produced, {1.1.1} migration-disaggregated: 1/2; reported 2/5.
    let ge = &rows[1];
    assert_eq!((&ge["label"], &ge["headline"]), (&json!("Georgia"), &json!({"numerator": 1, "denominator": 2, "share": 0.5})));
    assert_eq!(ge["reporting_status"], json!({"numerator": 2, "denominator": 5, "share": 0.4}));
    assert_eq!(ge["migration_relevant"], json!({"numerator": 1, "denominator": 3, "share": 1.0 / 3.0}));
    assert_eq!((&ge["produced"], &ge["migration_disaggregated"]), (&json!(["1.1.1", "1.2.1"]), &json!(["1.1.1"])));
    // 1.1.1 sex missing -> in_progress; 1.2.1 nothing -> not_started; 1.3.1 n/a; 2.1.1, 2.2.1 not_started.
    assert_eq!(ge["disaggregation_status"], json!({"key": "GE", "complete": 0, "in_progress": 1, "not_started": 3, "not_applicable": 1, "indicators": 5}));
    assert_eq!(rows[2]["headline"], json!({"numerator": 0, "denominator": 0, "share": null}), "TR has no data");
    let publications = by_area["publications"].as_array().unwrap();
    assert_eq!(publications.iter().map(|p| p["dataset"].as_str().unwrap()).collect::<Vec<_>>(), ["ds-a", "ds-b"]);

    let across = get(FigureKind::CrossArea).await;
    assert_eq!(across["areas"], areas);
    // Data on migration-relevant indicators (1.1.1, 1.2.1, 2.1.1): AZ, GE; not TR: 2/3.
    let data = &across["data_on_migration_indicators"];
    assert_eq!((&data["numerator"], &data["denominator"]), (&json!(2), &json!(3)));
    assert_eq!(data["without_data"], json!([{"code": "TR", "label": "Türkiye"}]));
    // Shares AZ 0/1 = 0, GE 1/2 = 0.5 (TR none): n = 2, quartiles 0.125, 0.25, 0.375.
    let h = &across["headline_distribution"];
    assert_eq!(
        [&h["areas_with_share"], &h["min"], &h["lower_quartile"], &h["median"], &h["upper_quartile"], &h["max"]],
        [&json!(2), &json!(0.0), &json!(0.125), &json!(0.25), &json!(0.375), &json!(0.5)]
    );
    let bands: Vec<(&str, Vec<&str>)> = h["bands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["band"].as_str().unwrap(), b["areas"].as_array().unwrap().iter().map(|a| a["code"].as_str().unwrap()).collect()))
        .collect();
    assert_eq!(
        bands,
        [("no-data", vec!["TR"]), ("0", vec!["AZ"]), ("0-25", vec![]), ("25-50", vec![]), ("50-75", vec!["GE"]), ("75-100", vec![]), ("100", vec![])]
    );
    let first = &across["by_indicator"][0];
    assert_eq!((&first["indicator"], &first["producing"]), (&json!("1.1.1"), &json!(1)));
    assert_eq!(first["migration_disaggregated"], json!({"numerator": 1, "denominator": 3, "share": 1.0 / 3.0}));
    assert_eq!(first["areas_migration_disaggregated"], json!([{"code": "GE", "label": "Georgia"}]));
    assert_eq!(across["by_indicator"].as_array().unwrap().len(), 5, "every in-scope indicator");
}
