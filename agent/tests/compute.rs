//! Indicator definitions over the agent's sources, with disclosure control: the worked
//! indicator against numbers computed directly from the synthetic microdata, an Excel source,
//! and a clear error for each kind of bad source.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float64Type;
use sdgx_agent::compute::{self, ComputeConfig};
use sdgx_agent::sources::{SourceConfig, SourceKind};
use sdgx_agent::sdc::{Reason, SdcConfig};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/federation/armstat")
}

fn read(path: &Path) -> Vec<arrow::array::RecordBatch> {
    let f = std::fs::File::open(path).unwrap();
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).unwrap().build().unwrap().map(Result::unwrap).collect()
}

/// (year, dimension, code) -> (returned migrants, of whom in paid work), straight from the CSV.
fn by_hand() -> BTreeMap<(String, &'static str, String), (u64, u64)> {
    let mut out = BTreeMap::new();
    let mut r = csv::Reader::from_path(example().join("microdata/lcs.csv")).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        let (year, sex, migrated, after, from, reason, paid) = (&rec[1], &rec[2], &rec[3], &rec[4], &rec[5], &rec[6], &rec[7]);
        if migrated != "yes" || !(after == "lt3m" || after == "3to12m") {
            continue;
        }
        for (dim, code) in [("total", "_T"), ("sex", sex), ("cust_breakdown", from), ("composite_breakdown", reason)] {
            let e = out.entry((year.to_owned(), dim, code.to_owned())).or_insert((0, 0));
            e.0 += 1;
            e.1 += u64::from(paid == "yes");
        }
    }
    out
}

#[tokio::test]
async fn the_worked_indicator_matches_the_microdata_and_is_protected() {
    let dir = tempfile::tempdir().unwrap();
    let sources = vec![SourceConfig { name: "lcs".into(), kind: SourceKind::Csv { path: example().join("microdata/lcs.csv"), delimiter: None } }];
    let def = ComputeConfig { sql: example().join("microdata/returned-migrants-paid-work.sql"), sdc: SdcConfig::default() };
    let out = dir.path().join("out.parquet");
    let c = compute::compute(&sources, None, &def, &out).await.unwrap();
    let expected = by_hand();
    // 2 years x (1 total + 2 sexes + 4 origins + 4 reasons) = 22 cells.
    assert_eq!((c.rows, expected.len()), (22, 22));
    // In 2022, 189 returned migrants: reasons JOBEND 77, SEASON 58, FAMILY 50, OTHER 4.
    assert_eq!(expected[&("2022".into(), "total", "_T".into())].0, 189);
    assert_eq!(expected[&("2022".into(), "composite_breakdown", "NRR_OTHER".into())].0, 4);
    // OTHER (4 < 5) is suppressed; then FAMILY, the smallest other reason, so that OTHER is not
    // 189 minus the rest. Nothing else.
    let suppressed: Vec<(&str, Reason)> = c.suppressed.iter().map(|s| (s.cell.as_str(), s.reason)).collect();
    assert_eq!(suppressed.len(), 2, "{suppressed:?}");
    assert!(suppressed.iter().any(|(cell, r)| cell.contains("time_period=2022") && cell.contains("composite_breakdown=NRR_OTHER") && *r == Reason::Threshold));
    assert!(suppressed.iter().any(|(cell, r)| cell.contains("time_period=2022") && cell.contains("composite_breakdown=NRR_FAMILY") && *r == Reason::Secondary));

    // Every published value is the hand-computed share; suppressed cells carry no value and C.
    let batches = read(&out);
    let b = &batches[0];
    let col = |n: &str| {
        let a = b.column(b.schema().index_of(n).unwrap());
        if n == "obs_value" { a.clone() } else { arrow::compute::cast(a, &arrow::datatypes::DataType::Utf8).unwrap() }
    };
    assert!(b.schema().index_of("sdc_count").is_err(), "counts never leave the agent");
    let (tp, sex, from, reason, value, conf) = (col("time_period"), col("sex"), col("cust_breakdown"), col("composite_breakdown"), col("obs_value"), col("conf_status"));
    for i in 0..b.num_rows() {
        let s = |a: &arrow::array::ArrayRef| a.as_string::<i32>().value(i).to_owned();
        let (dim, code) = match (s(&sex).as_str(), s(&from).as_str(), s(&reason).as_str()) {
            ("_T", "_T", "_T") => ("total", "_T".to_owned()),
            (x, "_T", "_T") => ("sex", x.to_owned()),
            ("_T", x, "_T") => ("cust_breakdown", x.to_owned()),
            (_, _, x) => ("composite_breakdown", x.to_owned()),
        };
        let (n, yes) = expected[&(s(&tp), dim, code.clone())];
        if n < 5 || (s(&tp) == "2022" && code == "NRR_FAMILY") {
            assert!(value.is_null(i), "{dim} {code} must be suppressed");
            assert_eq!(s(&conf), "C");
        } else {
            let want = (1000.0 * yes as f64 / n as f64).round() / 10.0;
            assert_eq!(value.as_primitive::<Float64Type>().value(i), want, "{} {dim} {code}: {yes}/{n}", s(&tp));
            assert_eq!(s(&conf), "F");
        }
    }
}

#[tokio::test]
async fn an_excel_sheet_is_a_source() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("register.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Decisions").unwrap();
    ws.write(0, 0, "title").unwrap();
    ws.write(2, 0, "year").unwrap();
    ws.write(2, 1, "sex").unwrap();
    ws.write(2, 2, "granted").unwrap();
    let rows = [(2023, "F", 1), (2023, "M", 0), (2023, "F", 1), (2023, "M", 1), (2023, "F", 0), (2023, "M", 1), (2023, "F", 1), (2023, "M", 1), (2023, "F", 1), (2023, "M", 0)];
    for (i, (y, s, g)) in rows.iter().enumerate() {
        let r = 3 + i as u32;
        ws.write(r, 0, *y).unwrap();
        ws.write(r, 1, *s).unwrap();
        ws.write(r, 2, *g).unwrap();
    }
    wb.save(&book).unwrap();
    let sql = dir.path().join("def.sql");
    std::fs::write(
        &sql,
        "SELECT '10.7.p2' AS indicator, 'AM' AS ref_area, CAST(CAST(year AS INT) AS VARCHAR) AS time_period,
                CASE WHEN grouping(sex) = 1 THEN '_T' ELSE sex END AS sex,
                100.0 * SUM(granted) / COUNT(*) AS obs_value, 'PT' AS unit_measure, COUNT(*) AS sdc_count
         FROM register GROUP BY GROUPING SETS ((year), (year, sex))",
    )
    .unwrap();
    let src = |range: Option<&str>, sheet: Option<&str>| {
        vec![SourceConfig { name: "register".into(), kind: SourceKind::Xlsx { path: book.clone(), sheet: sheet.map(Into::into), range: range.map(Into::into) } }]
    };
    let def = ComputeConfig { sql: sql.clone(), sdc: SdcConfig::default() };
    let out = dir.path().join("out.parquet");
    // The header is on row 3: A3:C13.
    let c = compute::compute(&src(Some("A3:C13"), Some("Decisions")), None, &def, &out).await.unwrap();
    assert_eq!((c.rows, c.suppressed.len()), (3, 0));
    let b = &read(&out)[0];
    let v = b.column(b.schema().index_of("obs_value").unwrap()).as_primitive::<Float64Type>();
    let sex = arrow::compute::cast(b.column(b.schema().index_of("sex").unwrap()), &arrow::datatypes::DataType::Utf8).unwrap();
    let sex = sex.as_string::<i32>();
    let at = |code: &str| (0..b.num_rows()).find(|&i| sex.value(i) == code).map(|i| v.value(i)).unwrap();
    // 7 of 10 granted; F 4 of 5; M 3 of 5.
    assert_eq!((at("_T"), at("F"), at("M")), (70.0, 80.0, 60.0));

    // Bad sheet and bad range name the source, the file and what is wrong.
    let e = compute::compute(&src(None, Some("Nope")), None, &def, &out).await.unwrap_err().to_string();
    assert!(e.contains("source \"register\"") && e.contains("register.xlsx") && e.contains("no sheet \"Nope\""), "{e}");
    let e = compute::compute(&src(Some("A3-C13"), None), None, &def, &out).await.unwrap_err().to_string();
    assert!(e.contains("range \"A3-C13\""), "{e}");
}

#[tokio::test]
async fn bad_sources_and_definitions_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("def.sql");
    std::fs::write(&sql, "SELECT 'x' AS indicator, 1.0 AS obs_value, COUNT(*) AS sdc_count FROM t").unwrap();
    let def = ComputeConfig { sql: sql.clone(), sdc: SdcConfig::default() };
    let out = dir.path().join("out.parquet");
    // A missing file.
    let missing = vec![SourceConfig { name: "t".into(), kind: SourceKind::Csv { path: dir.path().join("nope.csv"), delimiter: None } }];
    let e = compute::compute(&missing, None, &def, &out).await.unwrap_err().to_string();
    assert!(e.contains("source \"t\"") && e.contains("nope.csv") && e.contains("no such file"), "{e}");
    // A malformed CSV: the error names the source, the file and the offending line.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "a,b\n1,2\n3,4,5\n").unwrap();
    let ragged = vec![SourceConfig { name: "t".into(), kind: SourceKind::Csv { path: bad.clone(), delimiter: None } }];
    let e = compute::compute(&ragged, None, &def, &out).await.unwrap_err().to_string();
    assert!(e.contains("source \"t\"") && e.contains("bad.csv") && e.contains("line 3"), "{e}");
    // Not a Parquet file.
    let fake = dir.path().join("fake.parquet");
    std::fs::write(&fake, "not parquet").unwrap();
    let e = compute::compute(&[SourceConfig { name: "t".into(), kind: SourceKind::Parquet { path: fake } }], None, &def, &out).await.unwrap_err().to_string();
    assert!(e.contains("fake.parquet"), "{e}");
    // A definition without sdc_count is refused: no cell may leave unprotected.
    std::fs::write(dir.path().join("ok.csv"), "a\n1\n").unwrap();
    std::fs::write(&sql, "SELECT 'x' AS indicator, 1.0 AS obs_value FROM t").unwrap();
    let ok = vec![SourceConfig { name: "t".into(), kind: SourceKind::Csv { path: dir.path().join("ok.csv"), delimiter: None } }];
    let e = compute::compute(&ok, None, &def, &out).await.unwrap_err().to_string();
    assert!(e.contains("sdc_count"), "{e}");
    // DDL in a definition is refused.
    std::fs::write(&sql, "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'").unwrap();
    assert!(compute::compute(&ok, None, &def, &out).await.is_err());
}

#[tokio::test]
async fn the_migration_services_register_definition_matches_the_register() {
    let dir = tempfile::tempdir().unwrap();
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/federation/sms");
    let mut cfg = sdgx_agent::Config::load(&base.join("agent-register.toml")).unwrap();
    cfg.outbox = dir.path().join("outbox");
    cfg.datasets[0].source = dir.path().join("asylum-granted.parquet");
    let out = sdgx_agent::run(&cfg, true).await.unwrap();
    let summary = &out[0].checked.as_ref().unwrap_or_else(|e| panic!("{e}")).summary;
    // 3 years x (total, 2 sexes, 2 age groups, 5 citizenships) = 30 cells, all validated.
    assert_eq!(summary.rows, 30);
    // By hand from register/applications.csv: granted (refugee status or complementary) /
    // decided: 2021 74 / 180 = 41.1 %, 2022 109 / 210 = 51.9 %, 2023 128 / 240 = 53.3 %.
    let b = &read(&cfg.datasets[0].source)[0];
    let s = |n: &str| arrow::compute::cast(b.column(b.schema().index_of(n).unwrap()), &arrow::datatypes::DataType::Utf8).unwrap();
    let (t, sex, age, cit) = (s("time_period"), s("sex"), s("age"), s("cust_breakdown"));
    let v = b.column(b.schema().index_of("obs_value").unwrap()).as_primitive::<Float64Type>();
    let mut totals = BTreeMap::new();
    for i in 0..b.num_rows() {
        let k = |a: &arrow::array::ArrayRef| a.as_string::<i32>().value(i).to_owned();
        if (k(&sex), k(&age), k(&cit)) == ("_T".into(), "_T".into(), "_T".into()) {
            totals.insert(k(&t), v.value(i));
        }
    }
    assert_eq!(totals, BTreeMap::from([("2021".into(), 41.1), ("2022".into(), 51.9), ("2023".into(), 53.3)]));
}
