//! The VNR exports on the example federation: SDMX-CSV 1.0 and 2.0 of the global and national
//! dataflows validated by pysdmx and read by sdmx1 against the shipped structure message, the
//! Open SDG bundle's layout, the XLSX annex read back by calamine and openpyxl and printed by
//! LibreOffice, the HTML report and the
//! dashboard in headless Chromium, and the OpenAPI document against the routes served.

use sdgx_coordinator::catalog::Read;
use sdgx_coordinator::signoff::View;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use calamine::Reader;
use sdgx_coordinator::auth::{Role, Tokens};
use sdgx_coordinator::export::{self, opensdg, sdmx, Format};
use sdgx_e2e::{binary, python, root, Running};

/// The example federation, with cba's 2022 remittance cost suppressed (conf_status C), two
/// labour rows the global SDMX structure cannot carry (a national citizenship code; migratory
/// status crossed with a skill in COMPOSITE_BREAKDOWN), and a reader token.
async fn federation() -> (Running, String, tempfile::TempDir) {
    let (token, reader) = Tokens::create("analyst", Role::Reader);
    let r = Running::start(|c| c.security.tokens = vec![reader]).await;
    r.publish_all().await;
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("examples/federation/cba/remittances.csv")).unwrap();
    let suppressed = text.replacen("10.c.1,SI_RMT_COST,AM,2022,_T,_T,_T,_T,_T,_T,2.3,PT,,,C,", "10.c.1,SI_RMT_COST,AM,2022,_T,_T,_T,_T,_T,_T,,PT,,C,C,", 1);
    assert_ne!(text, suppressed);
    republish(&r, "cba", &tmp.path().join("remittances.csv"), &suppressed).await;
    let mut labour = std::fs::read_to_string(root().join("examples/federation/labour/labour-market.csv")).unwrap();
    labour.push_str("8.5.2,SL_TLF_UEM,AM,2023,_T,Y_GE15,_T,NCIT_SY,_T,_T,14.0,PT,,,C,\n");
    labour.push_str("8.5.2,SL_TLF_UEM,AM,2023,_T,Y_GE15,_T,_T,SKILL_NMRCY,MS_MIGRANT,15.0,PT,,,C,\n");
    republish(&r, "labour", &tmp.path().join("labour-market.csv"), &labour).await;
    (r, token, tmp)
}

/// Publishes `agency`'s dataset again from `text`, written to `src`; it must be delivered.
async fn republish(r: &Running, agency: &str, src: &Path, text: &str) {
    std::fs::write(src, text).unwrap();
    let mut cfg = r.agent(agency);
    cfg.datasets[0].source = src.to_owned();
    let out = sdgx_agent::run(&cfg, false).await.unwrap();
    out[0].sent.as_ref().unwrap().as_ref().unwrap_or_else(|e| panic!("{agency}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdmx_csv_of_both_dataflows_validates_against_the_shipped_structures_in_pysdmx_and_sdmx1() {
    let (r, token, tmp) = federation().await;
    let snap = export::snapshot(&r.catalog, &Read::current(View::Provisional)).await.unwrap();
    let mapped = sdmx::map(&snap);
    let national = mapped.ids.dataflow();
    assert_eq!(national, "NSO_AM:DF_SDG_AM(1.0)");
    // Over HTTP, as a reader: both versions of both dataflows and the structure message, each
    // stating the store version.
    let client = reqwest::Client::new();
    let mut files = BTreeMap::new();
    for f in ["sdmx-csv-1.0", "sdmx-csv-2.0", "sdmx-csv-1.0-national", "sdmx-csv-2.0-national", "sdmx-structure"] {
        let resp = client.get(format!("http://{}/api/v1/exports/{f}?view=provisional", r.http)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{f}");
        assert_eq!(resp.headers()["x-sdgx-store-version"].to_str().unwrap(), snap.store_version.to_string());
        let path = tmp.path().join(format!("{f}.{}", if f == "sdmx-structure" { "xml" } else { "csv" }));
        std::fs::write(&path, resp.bytes().await.unwrap()).unwrap();
        files.insert(f, path);
    }
    assert_eq!(client.get(format!("http://{}/api/v1/exports/sdmx-csv-1.0", r.http)).send().await.unwrap().status(), 401);
    let v1 = std::fs::read_to_string(&files["sdmx-csv-1.0"]).unwrap();
    assert!(v1.starts_with("DATAFLOW,FREQ,REPORTING_TYPE,SERIES,REF_AREA,SEX,AGE,URBANISATION,INCOME_WEALTH_QUANTILE,EDUCATION_LEV,OCCUPATION,CUST_BREAKDOWN,COMPOSITE_BREAKDOWN,DISABILITY_STATUS,ACTIVITY,PRODUCT,TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MULT,UNIT_MEASURE,NATURE,COMMENT_OBS,UPPER_BOUND,LOWER_BOUND\n"), "{}", &v1[..300]);
    assert!(std::fs::read_to_string(&files["sdmx-csv-2.0"]).unwrap().starts_with("STRUCTURE,STRUCTURE_ID,ACTION,FREQ,"));
    assert!(std::fs::read_to_string(&files["sdmx-csv-2.0-national"]).unwrap().starts_with("STRUCTURE,STRUCTURE_ID,ACTION,FREQ,"));
    // Every observation is in one file or listed as left out; the national proxies are exported.
    assert_eq!(mapped.rows.len() + mapped.national.len() + mapped.excluded.len(), snap.observations.len());
    assert!(mapped.moved.iter().any(|e| e.obs.get("indicator") == "10.7.p1"));
    assert!(mapped.excluded.iter().all(|e| e.obs.get("indicator") != "10.7.p1"), "{:?}", mapped.excluded.iter().map(|e| &e.reason).collect::<Vec<_>>());
    // No empty OBS_VALUE cell anywhere: SDMX-CSV's NaN marks an intentionally missing number.
    for f in ["sdmx-csv-1.0", "sdmx-csv-2.0-national"] {
        let text = std::fs::read_to_string(&files[f]).unwrap();
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        let at = rd.headers().unwrap().iter().position(|h| h == "OBS_VALUE").unwrap();
        assert!(rd.records().all(|r| !r.unwrap()[at].is_empty()), "{f}");
    }
    // The content constraint: maternal mortality's total is exported as SEX F.
    let sex = sdmx::DIMENSIONS.iter().position(|(d, _)| *d == "SEX").unwrap();
    let mort: Vec<&Vec<String>> = mapped.rows.iter().filter(|r| r[2] == "SH_STA_MORT").collect();
    assert!(!mort.is_empty() && mort.iter().all(|r| r[sex] == "F"));
    assert!(mapped.remapped.iter().any(|((s, d, from, to), n)| s == "SH_STA_MORT" && d == "SEX" && from == "_T" && to == "F" && *n == mort.len()));
    // Known values of the example data (hand-read from the agencies' CSV files).
    let key = |series: &str, period: &str, composite: &str| {
        let mut k = serde_json::Map::new();
        for (d, _) in sdmx::DIMENSIONS {
            k.insert(d.into(), "_T".into());
        }
        for (d, v) in [("FREQ", "A"), ("REPORTING_TYPE", "N"), ("SERIES", series), ("REF_AREA", "AM"), ("TIME_PERIOD", period), ("COMPOSITE_BREAKDOWN", composite)] {
            k.insert(d.into(), v.into());
        }
        serde_json::Value::Object(k)
    };
    let missing = |rows: &[Vec<String>], at: usize| rows.iter().filter(|r| r[at] == sdmx::MISSING_NUMBER).count();
    let mut paid = key("AM_RET_PAIDWORK", "2021", "_T");
    paid["MIGRATORY_STATUS"] = "NMS_RETURNED".into();
    let expect = serde_json::json!({
        "flows": {
            sdmx::DATAFLOW: {
                "count": mapped.rows.len(),
                "constraints": 1,
                "missing": missing(&mapped.rows, sdmx::DIMENSIONS.len()),
                "samples": [
                    {"key": key("SI_RMT_COST", "2021", "_T"), "value": 2.4},
                    {"key": key("SI_RMT_COST", "2022", "_T"), "value": null, "status": "Q"},
                    {"key": key("SH_HIV_INCD", "2021", "MS_MIGRANT"), "value": 0.2},
                    {"key": key("SH_HIV_INCD", "2021", "MS_NOMIGRANT"), "value": 0.1},
                ],
            },
            national.as_str(): {
                "count": mapped.national.len(),
                "constraints": 0,
                "missing": missing(&mapped.national, sdmx::NATIONAL_DIMENSIONS.len()),
                "samples": [{"key": paid, "value": 56.7}],
            },
        },
    });
    let expect_file = tmp.path().join("expect.json");
    std::fs::write(&expect_file, expect.to_string()).unwrap();
    let arg = |flow: &str, a: &str, b: &str| format!("{flow}={},{}", files[a].display(), files[b].display());
    let out = std::process::Command::new(python())
        .arg(root().join("tests/py/sdmx_interop.py"))
        .arg(&files["sdmx-structure"])
        .arg(&expect_file)
        .arg(arg(sdmx::DATAFLOW, "sdmx-csv-1.0", "sdmx-csv-2.0"))
        .arg(arg(&national, "sdmx-csv-1.0-national", "sdmx-csv-2.0-national"))
        .output()
        .unwrap();
    assert!(out.status.success(), "pysdmx / sdmx1: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(read["errors"], 0);
    assert_eq!(read["flows"][&national]["sdmx1"]["observations"], mapped.national.len());
    // The report says where each observation went, and why.
    let report = client.get(format!("http://{}/api/v1/exports/sdmx-report?view=provisional", r.http)).bearer_auth(&token).send().await.unwrap().text().await.unwrap();
    assert!(report.contains(&format!("store version {}", snap.store_version)), "{report}");
    assert!(
        report.contains(&format!(
            "exported: {} (global {}, national {}); left out: {}",
            mapped.rows.len() + mapped.national.len(),
            mapped.rows.len(),
            mapped.national.len(),
            mapped.excluded.len()
        )),
        "{report}"
    );
    assert!(report.contains("SH_STA_MORT SEX _T exported as F"), "{report}");
    assert!(report.contains("national proxy indicator 10.7.p1 is not in the global framework"), "{report}");
    assert!(report.contains("Migration disaggregation share (headline): Proportion of SDG indicators produced"), "{report}");
    assert!(report.contains("AM 2023 age=Y_GE15,cust_breakdown=NCIT_SY: national extension code NCIT_SY in CUST_BREAKDOWN is not in the global codelist CL_CUST_BREAKDOWN"), "{report}");
    assert!(report.contains("migratory status MS_MIGRANT crossed with composite breakdown SKILL_NMRCY: COMPOSITE_BREAKDOWN holds only one"), "{report}");
    assert!(mapped.moved.iter().chain(&mapped.excluded).all(|e| !e.reason.is_empty()));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_sdg_bundle_follows_the_layout_rules_and_the_cli_writes_every_export() {
    let (r, token, tmp) = federation().await;
    let config = root().join("examples/federation/coordinator.toml");
    let run = |format: &str, out: &Path| {
        let o = std::process::Command::new(binary("sdgx-coordinator"))
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(r.dir.path())
            .args(["export", format, "--as-of", "8", "--view", "provisional", "--out"])
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{format}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // Version 8 is the federation before cba's republication: exports are reproducible from it.
    let bundle = tmp.path().join("open-sdg");
    let said = run("open-sdg", &bundle);
    assert!(said.contains("store version 8"), "{said}");
    let about: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(bundle.join("about.json")).unwrap()).unwrap();
    assert_eq!(about["store_version"], 8);
    assert_eq!(about["definitions"].as_array().unwrap().len(), sdgx_coordinator::figures::FigureKind::ALL.len());
    // Read as sdg-build reads a data repository: every data file's indicator has its metadata
    // file, one page per in-scope indicator, a headline row, labelled disaggregation columns.
    let in_scope: Vec<String> = r.catalog.contract().framework.indicators().iter().filter(|i| i.in_scope).map(|i| opensdg::slug(&i.code)).collect();
    let read = layout(&bundle, &tmp.path().join("expect-v8.json"), serde_json::json!({
        "in_scope": in_scope,
        "indicators": {
            // Every row is about returned migrants, the indicator's population (no column, a
            // footer field), disaggregated by sex, country returned from and reason for return.
            "10-7-p1": {
                "columns": ["Year", "Series", "Units", "Sex", "Custom breakdown", "Composite breakdown", "Value"],
                "footer_fields": [{"label": "Migratory status", "value": "Returned migrant"}],
                "sources": ["Statistical Committee"],
                "fields": {"national_geographical_coverage": "Armenia", "reporting_status": "complete", "sdgx_store_version": 8},
            },
            "8-5-2": {
                "footer_fields": [{"label": "Age", "value": "15 years old and over"}],
                "sources": ["Ministry of Labour and Social Affairs"],
            },
        },
    }));
    assert!(read["data_files"].as_u64().unwrap() >= 15, "one file per indicator with data: {read}");
    assert_eq!(read["pages"].as_u64().unwrap(), in_scope.len() as u64, "{read}");
    assert_eq!(about["populations"]["10.7.p1"][0], "Migratory status: Returned migrant");
    let p1 = std::fs::read_to_string(bundle.join("data/indicator_10-7-p1.csv")).unwrap();
    let meta = std::fs::read_to_string(bundle.join("meta/10-7-p1.md")).unwrap();
    assert!(meta.starts_with("---\n") && meta.contains("DATA_COMP: ") && meta.contains("source_organisation_1: \"Statistical Committee\""), "{meta}");
    // Over HTTP the same bundle comes as a zip archive with the same files.
    let resp = reqwest::Client::new()
        .get(format!("http://{}/api/v1/exports/open-sdg?as_of=8&view=provisional", r.http))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/zip");
    assert!(resp.headers()["content-disposition"].to_str().unwrap().contains("sdgx-open-sdg-v8.zip"));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(resp.bytes().await.unwrap())).unwrap();
    let zipped: BTreeSet<String> = archive.file_names().map(str::to_owned).collect();
    let on_disk: BTreeSet<String> = ["data", "meta"]
        .iter()
        .flat_map(|d| std::fs::read_dir(bundle.join(d)).unwrap().map(move |e| format!("{d}/{}", e.unwrap().file_name().to_string_lossy())))
        .chain(["about.json".to_owned()])
        .collect();
    assert_eq!(zipped, on_disk);
    let mut p1_zipped = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("data/indicator_10-7-p1.csv").unwrap(), &mut p1_zipped).unwrap();
    assert_eq!(p1_zipped, p1);
    // The other exports from the CLI, each stating its version.
    assert!(run("sdmx-csv-1.0", &tmp.path().join("sdg.csv")).contains("in the national dataflow NSO_AM:DF_SDG_AM(1.0); 0 left out of both, listed with the reason in"));
    assert!(std::fs::read_to_string(tmp.path().join("sdg.report.txt")).unwrap().contains("store version 8"));
    assert!(std::fs::read_to_string(tmp.path().join("sdg.structure.xml")).unwrap().contains(r#"<str:Dataflow agencyID="NSO_AM" id="DF_SDG_AM" version="1.0" isFinal="false">"#));
    assert!(run("sdmx-csv-2.0-national", &tmp.path().join("sdg-am.csv")).contains("in the global dataflow IAEG-SDGs:DF_SDG_GLH(1.24)"));
    assert!(std::fs::read_to_string(tmp.path().join("sdg-am.csv")).unwrap().starts_with("STRUCTURE,STRUCTURE_ID,ACTION,FREQ,"));
    run("xlsx", &tmp.path().join("annex.xlsx"));
    run("html", &tmp.path().join("report.html"));
    assert!(std::fs::read_to_string(tmp.path().join("report.html")).unwrap().contains("store version 8 ("));
    // Data below the national level: a Geography column (the area's name) beside GeoCode, so
    // that Yerevan's row is not one more headline row.
    let mut labour = std::fs::read_to_string(tmp.path().join("labour-market.csv")).unwrap();
    labour.push_str("8.5.2,SL_TLF_UEM,AM-ER,2023,_T,Y_GE15,_T,_T,_T,_T,12.0,PT,,,C,\n");
    republish(&r, "labour", &tmp.path().join("labour-yerevan.csv"), &labour).await;
    let snap = export::snapshot(&r.catalog, &Read::current(View::Provisional)).await.unwrap();
    let now = tmp.path().join("open-sdg-now");
    opensdg::write_dir(&opensdg::bundle(&snap), &now).unwrap();
    let read = layout(&now, &tmp.path().join("expect-now.json"), serde_json::json!({
        "in_scope": in_scope,
        "indicators": {"8-5-2": {
            "columns": ["Year", "Series", "Units", "Sex", "Custom breakdown", "Composite breakdown", "Migratory status", opensdg::GEOGRAPHY, "GeoCode", "Value"],
            "footer_fields": [{"label": "Age", "value": "15 years old and over"}],
        }},
    }));
    assert_eq!(read["with_geography"], serde_json::json!(["8-5-2"]), "{read}");
    let p852 = std::fs::read_to_string(now.join("data/indicator_8-5-2.csv")).unwrap();
    assert!(p852.contains(",Yerevan,AM-ER,12\n"), "{p852}");
    r.stop().await;
}

/// Runs `tests/py/opensdg_layout.py` (sdg-build's reading rules) over the Open SDG bundle in
/// `dir` with the expectations `expect` (written to `expect_file`); returns what it read.
fn layout(dir: &Path, expect_file: &Path, expect: serde_json::Value) -> serde_json::Value {
    std::fs::write(expect_file, expect.to_string()).unwrap();
    let out = std::process::Command::new(python())
        .arg(root().join("tests/py/opensdg_layout.py"))
        .arg(dir)
        .arg(expect_file)
        .arg(root().join("schemas/data/codelists.csv"))
        .arg(root().join("examples/armenia/codelists.csv"))
        .output()
        .unwrap();
    assert!(out.status.success(), "sdg-build's reading of {}: {}{}", dir.display(), String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_xlsx_annex_reads_back_with_the_headline_and_the_indicators() {
    let (r, _token, tmp) = federation().await;
    let snap = export::snapshot(&r.catalog, &Read::current(View::Provisional)).await.unwrap();
    let path = tmp.path().join("annex.xlsx");
    std::fs::write(&path, export::render(Format::Xlsx, &snap).unwrap()).unwrap();
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
    let names = book.sheet_names();
    assert_eq!(names.first().map(String::as_str), Some("Summary"));
    assert_eq!(names.last().map(String::as_str), Some("Publications"));
    assert!(names.iter().any(|n| n == "Areas"), "{names:?}");
    assert!(names.iter().any(|n| n == "Goal 10") && names.iter().any(|n| n == "Goal 3"), "{names:?}");
    let summary = book.worksheet_range("Summary").unwrap();
    let f = |r: u32, c: u32| summary.get_value((r, c)).cloned().unwrap_or(calamine::Data::Empty);
    assert_eq!(f(3, 1), calamine::Data::Float(snap.store_version as f64));
    // The headline row: numerator, denominator, share (numeric cells, formatted by Excel).
    let share = snap.share.share.unwrap();
    assert_eq!(f(11, 3), calamine::Data::Float(share));
    assert_eq!(f(11, 1), calamine::Data::Float(snap.share.numerator as f64));
    assert_eq!(f(11, 2), calamine::Data::Float(snap.share.denominator as f64));
    // Goal 3: 3.3.1's latest national total, 2023 = 0.1, with migrants 0.2 and non-migrants 0.1,
    // from the agency named in the registry (its id in the agency code column).
    let g3 = book.worksheet_range("Goal 3").unwrap();
    let row = g3.rows().find(|r| r[0] == "3.3.1").expect("3.3.1 listed");
    assert_eq!((row[4].to_string(), row[6].to_string(), row[7].to_string()), ("0.1".into(), "2023".into(), "Ministry of Health".into()));
    assert_eq!((row[9].to_string(), row[10].to_string(), row[11].to_string()), ("0.2".into(), "0.1".into(), "2023".into()));
    assert_eq!(row[14].to_string(), "moh");
    assert!(row[8].to_string().contains("Migratory status"), "{row:?}");
    let pubs = book.worksheet_range("Publications").unwrap();
    assert_eq!(pubs.rows().count(), snap.publications.len() + 2, "a title row, a header row, one row per publication");
    r.stop().await;
}

/// At most this many A4 pages for the annex of the example federation: 25 in English and in
/// French (17 goal sheets in 9-point text, three of them on two pages; the across-areas table
/// lists only the indicators some area produces). It printed 51 (en) and 64 (fr) before that,
/// and 69 (en) for the demo data before the print layout.
const ANNEX_MAX_PAGES: usize = 30;

/// The annex as a document people print and read, in English and French: openpyxl reads its
/// print settings (A4, one page wide, print areas, repeated and frozen header rows,
/// autofilters, the store version and page numbers in the margins) and finds labels where codes
/// were; LibreOffice prints it to PDF within a bound of A4 pages; the first pages are rendered
/// to PNG in `target/tmp/annex-print/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_xlsx_annex_prints_on_a4_with_labels_in_english_and_french() {
    use sdgx_coordinator::i18n::Tr;
    let (r, _token, tmp) = federation().await;
    let mut snap = export::snapshot(&r.catalog, &Read::current(View::Provisional)).await.unwrap();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("annex-print");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let mut codes: Vec<String> = ["not_started", "in_progress", "not_applicable", "income_wealth_quantile", "migratory_status", "disability_status", "PT", "NUMBER", "SI_POV_NAHC", "SH_HIV_INCD", "SI_RMT_COST"]
        .map(str::to_owned)
        .to_vec();
    codes.extend(sdgx_e2e::AGENCIES.map(str::to_owned));
    let mut books = vec![];
    // Texts each language must show, hand-written here (not read from the message files).
    for (lang, texts) in [
        ("en", vec!["Goal 3", "Not started", "Percent", "Ministry of Health", "Migratory status", "Plain-language definition", "Technical definition"]),
        ("fr", vec!["Objectif 3", "Non commencée", "Pourcentage", "Statut migratoire", "Définition en langage courant", "Définition technique"]),
    ] {
        snap.tr = Tr::new(lang);
        let path = out.join(format!("annex-{lang}.xlsx"));
        std::fs::write(&path, export::render(Format::Xlsx, &snap).unwrap()).unwrap();
        let t = |id: &str| snap.tr.t(id);
        books.push(serde_json::json!({
            "lang": lang,
            "xlsx": path,
            "sheets": [t("annex-sheet-summary"), t("annex-sheet-definitions"), snap.labels().goal_number(10), t("annex-sheet-areas"), t("annex-sheet-publications")],
            "without_autofilter": [t("annex-sheet-summary")],
            "code_headers": [t("annex-col-indicator-code"), t("annex-col-series-code"), t("annex-col-unit-code"), t("annex-col-agency-code"), t("annex-col-area-code"), t("annex-col-figure-name")],
            "texts": texts,
        }));
    }
    let expect = serde_json::json!({
        "out": out,
        "store_version": snap.store_version,
        "codes": codes,
        "max_pages": ANNEX_MAX_PAGES,
        "png_pages": 4,
        "books": books,
    });
    let expect_file = tmp.path().join("annex-expect.json");
    std::fs::write(&expect_file, expect.to_string()).unwrap();
    let o = tokio::process::Command::new(python()).arg(root().join("tests/py/annex_print.py")).arg(&expect_file).output().await.unwrap();
    assert!(o.status.success(), "openpyxl / LibreOffice: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let read: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for lang in ["en", "fr"] {
        let pages = read[lang]["pages"].as_u64().unwrap();
        assert!(pages >= 5, "{lang}: {pages} pages cannot hold every sheet: {read}");
        for png in read[lang]["pngs"].as_array().unwrap() {
            assert!(std::fs::metadata(png.as_str().unwrap()).unwrap().len() > 5_000, "{png} is a real picture");
        }
    }
    println!("annex pages: en {}, fr {}", read["en"]["pages"], read["fr"]["pages"]);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_and_dashboard_in_headless_chromium() {
    let (r, token, tmp) = federation().await;
    let snap = export::snapshot(&r.catalog, &Read::current(View::Provisional)).await.unwrap();
    let report = tmp.path().join("report.html");
    std::fs::write(&report, export::render(Format::Html, &snap).unwrap()).unwrap();
    // The figure's value as the HTTP API gives it, shown with one decimal.
    let fig: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{}/api/v1/figures/migration-disaggregation-share?view=provisional", r.http))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expected = format!("{:.1}%", fig["share"].as_f64().unwrap() * 100.0);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = tokio::process::Command::new(python())
        .arg(root().join("tests/py/browser.py"))
        .arg(&report)
        .arg(format!("http://{}", r.http))
        .arg(&token)
        .arg(&expected)
        .arg(&shots)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "chromium: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for s in ["report.png", "dashboard.png", "coverage.png"] {
        assert!(std::fs::metadata(shots.join(s)).unwrap().len() > 10_000, "{s} is a real screenshot");
    }
    r.stop().await;
}

/// The report printed to A4 by headless Chromium: at most this many pages on the example
/// federation. It prints 9 (en), 8 (fr), 5 (ru) with the technical definitions left to the
/// screen; 12 (en) before that, and 8 before the headline's variants, the plain-language
/// definitions and the coverage summary were added.
const REPORT_PAGES: u64 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_prints_to_a4_and_the_pages_read_in_three_languages_at_phone_width() {
    let (r, token, tmp) = federation().await;
    let mut snap = export::snapshot(&r.catalog, &Read::current(View::Provisional)).await.unwrap();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("print-check");
    std::fs::create_dir_all(&out).unwrap();
    let mut reports = vec![];
    for lang in ["en", "fr", "ru"] {
        snap.tr = sdgx_coordinator::i18n::Tr::new(lang);
        let path = tmp.path().join(format!("report-{lang}.html"));
        std::fs::write(&path, export::render(Format::Html, &snap).unwrap()).unwrap();
        std::fs::copy(&path, out.join(format!("report-{lang}.html"))).unwrap();
        reports.push(path);
    }
    let o = tokio::process::Command::new(python())
        .arg(root().join("tests/py/print_check.py"))
        .args(&reports)
        .arg(format!("http://{}", r.http))
        .arg(&token)
        .arg(REPORT_PAGES.to_string())
        .arg(&out)
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "chromium: {said}{}", String::from_utf8_lossy(&o.stderr));
    println!("print check in {}: {said}", out.display());
    let seen: serde_json::Value = serde_json::from_str(said.trim()).unwrap();
    assert!((2..=REPORT_PAGES).contains(&seen["report_en_pages"].as_u64().unwrap()), "{seen}");
    assert_eq!(seen["switcher"], "/coverage?view=provisional&lang=fr", "the language link keeps the page and the view");
    for s in ["report-en-390.png", "report-fr-1280.png", "dashboard-ru-390.png", "dashboard-coverage-fr-390.png", "report-en.pdf"] {
        assert!(std::fs::metadata(out.join(s)).unwrap().len() > 10_000, "{s} is a real screenshot or PDF");
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_exactly_the_routes_served() {
    let (token, reader) = Tokens::create("analyst", Role::Reader);
    let (admin_token, admin) = Tokens::create("admin", Role::Admin);
    let (approver_token, approver) = Tokens::create("nso", Role::Approver);
    let r = Running::start(|c| c.security.tokens = vec![reader, admin, approver]).await;
    r.publish_all().await;
    let publication = r.catalog.store().publications().await[0].publication_id.clone();
    let client = reqwest::Client::new();
    let doc: serde_json::Value = client.get(format!("http://{}/api/v1/openapi.json", r.http)).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), p.clone())))
        .collect();
    // The routes the router serves (the dashboard's pages aside).
    let served: BTreeSet<(String, String)> = [
        ("get", "/health"),
        ("get", "/api/v1/openapi.json"),
        ("get", "/api/v1/figures"),
        ("get", "/api/v1/figures/{name}"),
        ("get", "/api/v1/publications"),
        ("post", "/api/v1/query"),
        ("get", "/api/v1/exports"),
        ("get", "/api/v1/exports/{format}"),
        ("get", "/api/v1/calendar/{agency}"),
        ("get", "/api/v1/publications/{id}/status"),
        ("get", "/api/v1/review"),
        ("get", "/api/v1/review/{id}"),
        ("post", "/api/v1/publications/{id}/{action}"),
        ("get", "/api/v1/admin/audit"),
        ("get", "/api/v1/admin/upstream"),
        ("get", "/metrics"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(documented, served);
    // Every documented route is served (not 404 or 405), with parameters filled in.
    for (method, path) in &documented {
        let url = format!(
            "http://{}{}",
            r.http,
            path.replace("{name}", "reporting-status")
                .replace("{format}", "sdmx-report")
                .replace("{agency}", "moh")
                .replace("{id}", &publication)
                .replace("{action}", "approve")
        );
        let body = if path.ends_with("/{action}") { serde_json::json!({}) } else { serde_json::json!({"sql": "SELECT 1"}) };
        let req = if method == "post" { client.post(&url).json(&body) } else { client.get(&url) };
        // Each route's documented role calls it.
        let t = match doc["paths"][path][method]["x-sdgx-role"].as_str() {
            // /metrics: the metrics role, which admin tokens also hold.
            Some("admin") | Some("metrics") => &admin_token,
            Some("approver") => &approver_token,
            _ => &token,
        };
        let status = req.bearer_auth(t).send().await.unwrap().status().as_u16();
        assert!(status == 200, "{method} {path}: {status}");
    }
    // And an undocumented API path is not.
    assert_eq!(client.get(format!("http://{}/api/v1/nothing", r.http)).bearer_auth(&token).send().await.unwrap().status(), 404);
    r.stop().await;
}
