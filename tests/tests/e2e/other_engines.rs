//! Other engines read the store the coordinator writes: the `deltalake` package (delta-rs's
//! Python binding), polars and DuckDB, from the project's venv (nobody here wrote them), read
//! the example federation's table and see every dataset's latest publication with the rows and
//! values the coordinator holds, time travel to version 1, and the publications log and the
//! sign-off decisions in the commits' metadata (docs/store.md, "Reading the store with other
//! engines"). DuckDB reads the Delta log's file list correctly; the raw Parquet files under the
//! table (a glob, ignoring the log) hold superseded publications too, and overcount.

use std::collections::BTreeMap;
use std::process::Command;

use arrow::array::AsArray;
use arrow::datatypes::{Float64Type, Int64Type};
use sdgx_coordinator::catalog::Read;
use sdgx_coordinator::signoff::{Action, View};
use sdgx_e2e::{python, root, Running};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltalake_and_polars_read_the_store_the_coordinator_wrote() {
    let r = Running::start(|_| {}).await;
    r.publish_all().await;
    // moh republishes health without 3.3.1's migrant rows: its first publication is superseded
    // and its data file stays where it was (nothing is vacuumed).
    let health = std::fs::read_to_string(root().join("examples/federation/moh/health.csv")).unwrap();
    let revised = r.dir.path().join("health-revised.csv");
    std::fs::write(&revised, health.lines().filter(|l| !l.contains("MIGRANT")).collect::<Vec<_>>().join("\n") + "\n").unwrap();
    let mut moh = r.agent("moh");
    moh.datasets[0].source = revised;
    let out = sdgx_agent::run(&moh, false).await.unwrap();
    assert!(!out[0].sent.as_ref().unwrap().as_ref().unwrap().duplicate, "the revision is new");
    let store = r.catalog.store();
    let log = store.publications().await;
    let first = log[0].clone();
    store.decide(&first.publication_id, Action::Approve, "nso", &Default::default(), chrono::Utc::now()).await.unwrap();
    let version = store.version().await;

    // What the coordinator holds: each dataset's latest publication (the provisional view), its
    // rows as acknowledged to the agent, and the sum of its values.
    let session = r.catalog.tables(&r.catalog.pin(&Read::current(View::Provisional)).await.unwrap()).await.unwrap();
    let batches = session
        .ctx
        .sql("SELECT agency || '/' || dataset AS d, count(*) AS n, sum(obs_value) AS v FROM observations GROUP BY agency, dataset")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut expected: BTreeMap<String, (i64, f64)> = BTreeMap::new();
    for b in &batches {
        for i in 0..b.num_rows() {
            expected.insert(b.column(0).as_string::<i32>().value(i).to_owned(), (b.column(1).as_primitive::<Int64Type>().value(i), b.column(2).as_primitive::<Float64Type>().value(i)));
        }
    }
    let mut latest: BTreeMap<String, (String, u64)> = BTreeMap::new();
    for e in &log {
        latest.insert(format!("{}/{}", e.agency, e.dataset), (e.publication_id.clone(), e.rows));
    }
    assert_eq!(expected.len(), latest.len(), "every dataset has rows");
    for (d, (_, rows)) in &latest {
        assert_eq!(expected[d].0 as u64, *rows, "{d}: the rows acknowledged to the agent");
    }

    let out = Command::new(python()).arg(root().join("tests/py/delta_read.py")).arg(r.dir.path().join("store")).output().expect("run delta_read.py");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    let dl = &seen["deltalake"];
    assert_eq!(dl["version"].as_i64(), Some(version), "{dl}");
    assert_eq!(dl["partition_columns"], serde_json::json!(["agency", "dataset"]));
    for (engine, by_dataset) in [("deltalake", &dl["by_dataset"]), ("polars", &seen["polars"]["by_dataset"]), ("duckdb", &seen["duckdb"]["by_dataset"])] {
        let by_dataset = by_dataset.as_object().unwrap_or_else(|| panic!("{engine}: {seen}"));
        assert_eq!(by_dataset.keys().cloned().collect::<Vec<_>>(), expected.keys().cloned().collect::<Vec<_>>(), "{engine}");
        for (d, (rows, sum)) in &expected {
            assert_eq!(by_dataset[d]["rows"].as_i64(), Some(*rows), "{engine} {d}");
            let got = by_dataset[d]["sum"].as_f64().unwrap();
            assert!((got - sum).abs() <= 1e-9 * sum.abs().max(1.0), "{engine} {d}: sum {got}, the coordinator's {sum}");
        }
    }
    // Raw Parquet: every publication ever accepted left its file (nothing is vacuumed), so a
    // reader of the files rather than the log counts the superseded ones as well.
    let duck = &seen["duckdb"];
    let current: i64 = expected.values().map(|(rows, _)| rows).sum();
    let ever: u64 = log.iter().map(|e| e.rows).sum();
    assert!(log.len() > latest.len(), "the example federation supersedes a publication");
    assert_eq!(duck["files"].as_u64(), Some(latest.len() as u64), "one file per current publication: {duck}");
    assert_eq!(duck["raw_parquet_files"].as_u64(), Some(log.len() as u64), "one file per accepted publication: {duck}");
    assert_eq!(duck["raw_parquet_rows"].as_u64(), Some(ever), "{duck}");
    assert!(ever > current as u64, "raw Parquet overcounts: {ever} rows, the table {current}");
    let mut ids: Vec<String> = latest.values().map(|(id, _)| id.clone()).collect();
    ids.sort();
    assert_eq!(dl["publication_ids"], serde_json::json!(ids), "the latest accepted publication of each dataset");
    assert_eq!(dl["rows_at_version_1"].as_u64(), Some(first.rows), "time travel: version 1 is the first publication alone");
    // The official view is not in the table: the decisions are in the commits' metadata.
    let mut entries: Vec<String> = log.iter().map(|e| e.publication_id.clone()).collect();
    entries.sort();
    assert_eq!(dl["log_entries"], serde_json::json!(entries));
    assert_eq!(dl["decisions"], serde_json::json!([[first.publication_id, "approve"]]));
    r.stop().await;
}
