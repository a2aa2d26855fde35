//! The example corpus: every invalid file produces exactly the problem its `.expected` file
//! names (rule, row, column, value), and every valid example passes with the expected summary.

use std::path::{Path, PathBuf};

use sdgx_schemas::normalize::validate_csv;
use sdgx_schemas::{Contract, Manifest, Severity, ValidationOptions};

fn dir(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn armenia() -> Contract {
    let ex = dir("../examples/armenia");
    Contract::load(Some(&ex.join("codelists.csv")), Some(&ex.join("framework.toml"))).expect("Armenia framework loads")
}

fn manifest(path: &Path) -> Manifest {
    Manifest::from_toml(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_invalid_example_fails_with_its_rule_row_and_column() {
    let contract = armenia();
    let inv = dir("examples/invalid");
    let mut cases: Vec<_> = std::fs::read_dir(&inv)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "the corpus must hold at least 30 invalid inputs, has {}", cases.len());
    for csv in cases {
        let stem = csv.file_stem().unwrap().to_str().unwrap().to_owned();
        let own = inv.join(format!("{stem}.manifest.toml"));
        let m = manifest(&if own.exists() { own } else { inv.join("manifest.toml") });
        let expected = std::fs::read_to_string(inv.join(format!("{stem}.expected"))).unwrap();
        let report = validate_csv(&contract, m, &csv, ValidationOptions::default())
            .unwrap()
            .expect_err(&format!("{stem} must be rejected"));
        assert_eq!(report.dataset, "ilcs-returned-migrants", "{stem}: the report names the dataset");
        let first = &report.errors[0];
        assert_eq!(first.severity, Severity::Error);
        for kv in expected.split_whitespace() {
            let (k, v) = kv.split_once('=').unwrap();
            let got = match k {
                "rule" => Some(first.rule.id().to_owned()),
                "row" => first.row.map(|r| r.to_string()),
                "column" => first.column.clone(),
                "value" => first.value.clone(),
                _ => panic!("{stem}: unknown key {k}"),
            };
            assert_eq!(got.as_deref(), Some(v), "{stem}: {k} of first problem {first}\nreport:\n{report}");
        }
        if !expected.contains("row=") {
            assert_eq!(first.row, None, "{stem}: {first}");
        }
    }
}

#[test]
fn valid_example_passes_with_expected_summary() {
    let contract = armenia();
    let v = dir("examples/valid");
    let s = validate_csv(&contract, manifest(&v.join("returned_migrants.manifest.toml")), &v.join("returned_migrants.csv"), ValidationOptions::default())
        .unwrap()
        .unwrap_or_else(|r| panic!("valid example rejected:\n{r}"));
    assert_eq!(s.rows, 22);
    assert_eq!(s.periods.iter().collect::<Vec<_>>(), ["2022", "2023"]);
    let ind = &s.indicators["10.7.p1"];
    assert_eq!(ind.rows, 22);
    assert_eq!(ind.suppressed, 1);
    assert_eq!(ind.disaggregations.iter().collect::<Vec<_>>(), ["composite_breakdown", "cust_breakdown", "migratory_status", "sex"]);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn global_layout_moves_migratory_status_and_hash_ignores_row_order() {
    let contract = Contract::global();
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.csv");
    let b = tmp.path().join("b.csv");
    let head = "indicator,series,ref_area,time_period,sex,composite_breakdown,obs_value\n";
    let r1 = "8.5.2,SL_TLF_UEM,AM,2022,_T,MS_MIGRANT,13.5\n";
    let r2 = "8.5.2,SL_TLF_UEM,AM,2022,_T,MS_NOMIGRANT,9.1\n";
    let r3 = "8.5.2,SL_TLF_UEM,AM,2022,F,_T,10.2\n";
    std::fs::write(&a, format!("{head}{r1}{r2}{r3}")).unwrap();
    std::fs::write(&b, format!("{head}{r3}{r2}{r1}")).unwrap();
    let m = Manifest::from_toml(
        "agency='labour'\ndataset='lfs'\ntitle='LFS'\nindicators=['8.5.2']\nperiodicity='A'\n[reference_period]\nstart='2022'\nend='2022'\n",
    )
    .unwrap();
    let sa = validate_csv(&contract, m.clone(), &a, ValidationOptions::default()).unwrap().unwrap();
    let sb = validate_csv(&contract, m, &b, ValidationOptions::default()).unwrap().unwrap();
    assert_eq!(sa.indicators["8.5.2"].disaggregations.iter().collect::<Vec<_>>(), ["migratory_status", "sex"]);
    assert_eq!(sa.content_hash, sb.content_hash, "row order must not change the content hash");
}

#[test]
fn warnings_do_not_reject() {
    let contract = armenia();
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("w.csv");
    std::fs::write(&p, "indicator,series,ref_area,time_period,obs_value,unit_measure\n10.7.p1,AM_RET_PAIDWORK,AM,2023,120,PT\n14.1.1,,AM,2023,3,IX\n").unwrap();
    let m = Manifest::from_toml(
        "agency='x'\ndataset='y'\ntitle='t'\nindicators=['10.7.p1','14.1.1','4.b.p1']\nperiodicity='A'\n[reference_period]\nstart='2023'\nend='2023'\n",
    )
    .unwrap();
    let s = validate_csv(&contract, m, &p, ValidationOptions::default()).unwrap().unwrap_or_else(|r| panic!("{r}"));
    let rules: Vec<_> = s.warnings.iter().map(|w| w.rule.id()).collect();
    assert_eq!(rules, ["percentage_out_of_range", "indicator_out_of_scope", "manifest_indicator_without_rows"]);
}

#[test]
fn problem_cap_truncates_but_counts() {
    let contract = armenia();
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("many.csv");
    let mut text = String::from("indicator,series,ref_area,time_period,sex,obs_value\n");
    for i in 0..50 {
        text.push_str(&format!("10.7.p1,AM_RET_PAIDWORK,AM,2023,BAD{i},1\n"));
    }
    std::fs::write(&p, text).unwrap();
    let m = manifest(&dir("examples/invalid/manifest.toml"));
    let r = validate_csv(&contract, m, &p, ValidationOptions { max_problems: 10, areas: None }).unwrap().unwrap_err();
    assert_eq!(r.errors.len(), 10);
    assert_eq!(r.error_count, 50);
    assert!(r.truncated);
    assert_eq!(r.errors[9].row, Some(10));
}

#[test]
fn armenia_framework_adds_its_proxies() {
    let c = armenia();
    for code in ["4.b.p1", "10.7.p1", "10.7.p2", "17.16.p1", "17.18.p1"] {
        let i = c.framework.indicator(code).unwrap_or_else(|| panic!("{code}"));
        assert!(i.national && i.in_scope && i.metadata.is_some(), "{code}");
    }
    assert_eq!(c.framework.indicators().len(), 252 + 5);
    assert!(!c.framework.indicator("14.1.1").unwrap().in_scope);
    assert!(c.framework.indicator("8.8.2").unwrap().migration_relevant);
    assert!(c.codelists.contains("CL_AREA", "AM-ER"));
    assert!(c.codelists.contains("CL_SERIES", "AM_RET_PAIDWORK"));
}

#[test]
fn header_only_file_is_refused_unless_it_withdraws() {
    let contract = armenia();
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("h.csv");
    std::fs::write(&p, "indicator,series,ref_area,time_period,obs_value\n").unwrap();
    let m = manifest(&dir("examples/invalid/manifest.toml"));
    let r = validate_csv(&contract, m.clone(), &p, ValidationOptions::default()).unwrap().expect_err("no rows, no withdrawal");
    assert_eq!(r.errors.len(), 1, "{r}");
    assert_eq!(r.errors[0].rule.id(), "no_rows");
    assert!(r.to_string().contains("withdraw = true"), "{r}");
    let withdrawal = sdgx_schemas::Manifest { withdraw: true, ..m.clone() };
    let s = validate_csv(&contract, withdrawal.clone(), &p, ValidationOptions::default()).unwrap().unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(s.rows, 0);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    // A withdrawal carrying a row is refused.
    std::fs::write(&p, "indicator,series,ref_area,time_period,obs_value\n10.7.p1,,AM,2023,1\n").unwrap();
    let r = validate_csv(&contract, withdrawal, &p, ValidationOptions::default()).unwrap().expect_err("a withdrawal with rows");
    assert!(r.errors.iter().any(|e| e.rule.id() == "withdrawal_with_rows"), "{r}");
}

#[test]
fn quality_warnings_come_with_the_import_summary() {
    let contract = armenia();
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("q.csv");
    // 2023: migrant 70 + non-migrant 40 = 110, not the total 100; the total fell from 300 (-67 %).
    std::fs::write(&p, "indicator,series,ref_area,time_period,migratory_status,obs_value,unit_measure\n\
        4.b.p1,AM_SCH_ABROAD,AM,2022,_T,300,NUMBER\n\
        4.b.p1,AM_SCH_ABROAD,AM,2023,_T,100,NUMBER\n\
        4.b.p1,AM_SCH_ABROAD,AM,2023,MS_MIGRANT,70,NUMBER\n\
        4.b.p1,AM_SCH_ABROAD,AM,2023,MS_NOMIGRANT,40,NUMBER\n").unwrap();
    let m = Manifest::from_toml(
        "agency='moes'\ndataset='scholarships'\ntitle='t'\nindicators=['4.b.p1']\nperiodicity='A'\n[reference_period]\nstart='2022'\nend='2023'\n",
    )
    .unwrap();
    let s = validate_csv(&contract, m, &p, ValidationOptions::default()).unwrap().unwrap_or_else(|r| panic!("warnings must not reject:\n{r}"));
    let got: Vec<_> = s.warnings.iter().map(|w| (w.rule.id(), w.row, w.value.as_deref())).collect();
    assert_eq!(got, [("migrant_sum_mismatch", Some(2), Some("100")), ("year_over_year_change", Some(2), Some("100"))]);
    let printed = s.to_string();
    for w in ["warning [migrant_sum_mismatch] row 2 column obs_value value \"100\": agency moes dataset scholarships: migrant 70 (row 3) + non-migrant 40 (row 4)",
              "warning [year_over_year_change] row 2 column obs_value value \"100\": agency moes dataset scholarships: 100 changed by -66.7% from 300"] {
        assert!(printed.contains(w), "{printed}");
    }
}

#[test]
fn an_agency_with_areas_publishes_only_their_rows() {
    let contract = armenia();
    let v = dir("examples/valid");
    let run = |areas: &[&str]| {
        let options = ValidationOptions { areas: Some(areas.iter().map(|a| a.to_string()).collect()), ..ValidationOptions::default() };
        validate_csv(&contract, manifest(&v.join("returned_migrants.manifest.toml")), &v.join("returned_migrants.csv"), options).unwrap()
    };
    // Every one of the 22 rows is AM: allowed by the code and by a prefix.
    assert!(run(&["AM"]).is_ok());
    assert!(run(&["GE", "A*"]).is_ok());
    // Georgia's areas: every row is refused, each named.
    let r = run(&["GE", "GE-*"]).unwrap_err();
    assert_eq!(r.error_count, 22);
    let first = &r.errors[0];
    assert_eq!((first.rule.id(), first.row, first.column.as_deref(), first.value.as_deref()), ("ref_area_not_allowed", Some(1), Some("ref_area"), Some("AM")));
    assert!(first.message.contains("GE, GE-*"), "{}", first.message);
    // A prefix is a prefix, not a substring: AM-* does not admit AM itself.
    assert_eq!(run(&["AM-*"]).unwrap_err().error_count, 22);
}
