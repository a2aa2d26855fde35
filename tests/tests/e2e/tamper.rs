//! What is stored is what was validated, and the audit covers the whole Delta table.
//!
//! Against the example coordinator in process (a local store), with two publications (sms at
//! store version 1, labour at 2): columns sent in another order are stored by name; then each
//! edit of the Delta log a writer of the store could make — editing the `_delta_log/*.json`
//! commit files directly — is detected and named (the commit, and the entry where there is
//! one) by `audit verify`, and the coordinator refuses to start on it, naming the commit.
//!
//! Over mutual TLS, with signed evidence: an entry edited and consistently re-chained (every
//! hash and the head recomputed, even re-signed with the coordinator's key), or carrying a
//! forged agency signature, fails the audit naming the entry; and an agent reports a
//! coordinator restored from an older copy of its store as rolled back.

use sdgx_coordinator::catalog::Read;
use sdgx_coordinator::signoff::View;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, Float64Array, RecordBatch};
use futures::{stream, TryStreamExt};
use sdgx_coordinator::audit::Mismatch;
use sdgx_coordinator::{Config, Coordinator};
use sdgx_e2e::{copy_dir, root, Running};
use sdgx_coordinator::store::{PublicationEntry, LOG_KEY};
use sdgx_schemas::evidence::{entry_statement, KeySigner};
use sdgx_schemas::flight::PublishCommand;
use sdgx_schemas::normalize::{read_csv, Normalizer};
use sdgx_schemas::Manifest;
use serde_json::Value;

/// The example coordinator with sms's (version 1) and labour's (version 2) publications.
async fn two_publications() -> Running {
    let r = Running::start(|_| {}).await;
    for a in ["sms", "labour"] {
        for o in sdgx_agent::run(&r.agent(a), false).await.expect("agent runs") {
            o.sent.expect("sent").unwrap_or_else(|e| panic!("{a}: {e}"));
        }
    }
    assert_eq!(r.catalog.store().version().await, 2);
    let report = sdgx_coordinator::audit::verify(&r.catalog).await.expect("audit");
    assert!(report.first_mismatch.is_none(), "untouched: {report}");
    r
}

fn commit_file(r: &Running, version: i64) -> PathBuf {
    r.dir.path().join(format!("store/_delta_log/{version:020}.json"))
}

/// The actions of a commit file, in order.
fn read_commit(r: &Running, version: i64) -> Vec<Value> {
    let text = std::fs::read_to_string(commit_file(r, version)).expect("commit file");
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("JSON action")).collect()
}

fn write_commit(r: &Running, version: i64, actions: &[Value]) {
    let lines: Vec<String> = actions.iter().map(Value::to_string).collect();
    std::fs::write(commit_file(r, version), lines.join("\n")).expect("write commit file");
}

/// The `add` action of a publication's commit.
fn add_of(r: &Running, version: i64) -> Value {
    read_commit(r, version).into_iter().find_map(|a| a.get("add").cloned()).expect("the commit adds a file")
}

/// A commit as another writer would append it: no publications-log entry.
fn foreign_commit(actions: Vec<Value>) -> Vec<Value> {
    let info = serde_json::json!({"commitInfo": {"timestamp": chrono::Utc::now().timestamp_millis(), "operation": "WRITE", "clientVersion": "delta-rs.1.1.3"}});
    std::iter::once(info).chain(actions).collect()
}

fn remove_of(add: &Value) -> Value {
    serde_json::json!({"remove": {
        "path": add["path"], "dataChange": true, "deletionTimestamp": chrono::Utc::now().timestamp_millis(),
        "extendedFileMetadata": true, "size": add["size"], "partitionValues": add["partitionValues"],
    }})
}

/// The audit's finding (it must find one).
async fn audit_finds(r: &Running) -> Mismatch {
    let report = sdgx_coordinator::audit::verify(&r.catalog).await.expect("the audit runs");
    let m = report.first_mismatch.clone().unwrap_or_else(|| panic!("the edit was not detected: {report}"));
    assert!(report.to_string().contains(&format!("commit {} (_delta_log/{:020}.json)", m.store_version, m.store_version)), "{report}");
    m
}

/// The example coordinator's config on `dir`, as [`Running`] starts it.
fn config(dir: &Path) -> Config {
    let mut config = Config::load(Some(&root().join("examples/federation/coordinator.toml"))).expect("example config");
    config.data_dir = dir.to_owned();
    config.flight_addr = "127.0.0.1:0".parse().expect("address");
    config.http_addr = "127.0.0.1:0".parse().expect("address");
    config.analyst_flight_addr = None;
    config.security.tls = None;
    config.security.signing = None;
    config.security.insecure_plaintext_publish = true;
    config.security.token_file = None;
    config
}

/// Stops the coordinator and starts it again on the same data directory: it must refuse, naming
/// commit `version`. Returns the message.
async fn refused_start(r: Running, version: i64) -> String {
    let dir = r.stop().await;
    let e = match Coordinator::build(config(dir.path())).await {
        Ok(_) => panic!("the coordinator started on a tampered store"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains(&format!("commit {version} (_delta_log/{version:020}.json)")), "the refusal names commit {version}: {e}");
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columns_in_another_order_are_stored_by_name() {
    let r = Running::start(|_| {}).await;
    let dir = root().join("examples/federation/sms");
    let manifest = Manifest::from_toml(&std::fs::read_to_string(dir.join("asylum-decisions.manifest.toml")).unwrap()).unwrap();
    let reader = read_csv(&dir.join("asylum-decisions.csv"), 100_000).unwrap();
    let mut norm = Normalizer::new(r.catalog.contract(), &reader.schema());
    let batches: Vec<RecordBatch> = reader.map(|b| norm.normalize(&b.unwrap(), &mut |p| panic!("{p}")).unwrap()).collect();
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    // As pyarrow might send it: age before sex, and obs_value (Float64) first.
    let schema = batch.schema();
    let (sex, age, value) = (schema.index_of("sex").unwrap(), schema.index_of("age").unwrap(), schema.index_of("obs_value").unwrap());
    let mut order: Vec<usize> = (0..schema.fields().len()).filter(|i| *i != value).collect();
    order.swap(sex, age);
    order.insert(0, value);
    let sent = batch.project(&order).unwrap();
    assert_eq!(sent.schema().field(0).name(), "obs_value");

    let channel = tonic::transport::Endpoint::from_shared(r.flight.clone()).unwrap().connect().await.unwrap();
    let mut client = arrow_flight::FlightClient::new(channel);
    let put = arrow_flight::encode::FlightDataEncoderBuilder::new()
        .with_flight_descriptor(Some(PublishCommand::descriptor(&manifest)))
        .build(stream::iter([Ok(sent)]));
    let acks: Vec<_> = client.do_put(put).await.expect("accepted").try_collect().await.expect("acknowledged");
    assert_eq!(acks.len(), 1);

    // The store holds each code in its own column.
    let session = r.catalog.tables(&r.catalog.pin(&Read::current(View::Provisional)).await.unwrap()).await.unwrap();
    let sql = "SELECT sex, age, obs_value FROM observations WHERE agency = 'sms' ORDER BY sex, age, obs_value";
    let stored = session.ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let pairs = |b: &[RecordBatch]| -> Vec<(String, String, String)> {
        let mut v = Vec::new();
        for b in b {
            let text = |name: &str| arrow::compute::cast(b.column_by_name(name).unwrap(), &arrow::datatypes::DataType::Utf8).unwrap();
            let (s, a) = (text("sex"), text("age"));
            let (s, a) = (s.as_string::<i32>(), a.as_string::<i32>());
            let o = b.column_by_name("obs_value").unwrap().as_primitive::<arrow::datatypes::Float64Type>();
            for i in 0..b.num_rows() {
                v.push((s.value(i).to_owned(), a.value(i).to_owned(), if o.is_null(i) { String::new() } else { o.value(i).to_string() }));
            }
        }
        v.sort();
        v
    };
    assert_eq!(pairs(&stored), pairs(std::slice::from_ref(&batch)));
    assert!(pairs(&stored).iter().all(|(s, _, _)| !s.starts_with('Y')), "no age code in sex");
    assert!(pairs(&stored).iter().any(|(_, a, _)| a == "Y0T17"), "age codes in age");
    let report = sdgx_coordinator::audit::verify(&r.catalog).await.unwrap();
    assert!(report.first_mismatch.is_none(), "{report}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_newest_commit_is_detected() {
    let r = two_publications().await;
    std::fs::remove_file(commit_file(&r, 2)).unwrap();
    let m = audit_finds(&r).await;
    assert_eq!(m.store_version, 2, "{m}");
    assert!(m.reason.contains("older than the head") && m.reason.contains("deleted"), "{m}");
    refused_start(r, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_middle_commit_is_detected_and_named_at_start() {
    let r = two_publications().await;
    std::fs::remove_file(commit_file(&r, 1)).unwrap();
    let m = audit_finds(&r).await;
    assert_eq!(m.store_version, 1, "{m}");
    assert!(m.reason.contains("missing"), "{m}");
    // `audit verify` on its own opens the store read-only: it names the commit too.
    let cfg = config(r.dir.path());
    match sdgx_coordinator::server::open(&cfg, false).await {
        Err(e) => assert!(e.to_string().contains("commit 1 (_delta_log/00000000000000000001.json)"), "{e}"),
        Ok((catalog, _)) => {
            let report = sdgx_coordinator::audit::verify(&catalog).await.unwrap();
            assert_eq!(report.first_mismatch.map(|m| m.store_version), Some(1));
        }
    }
    let e = refused_start(r, 1).await;
    assert!(e.contains("missing"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_commit_removing_an_agencys_file_is_detected() {
    let r = two_publications().await;
    write_commit(&r, 3, &foreign_commit(vec![remove_of(&add_of(&r, 2))]));
    let m = audit_finds(&r).await;
    assert_eq!((m.store_version, m.entry), (3, 0), "{m}");
    assert!(m.reason.contains("no publications-log entry") && m.reason.contains("1 remove"), "{m}");
    refused_start(r, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_commit_duplicating_an_agencys_file_is_detected() {
    let r = two_publications().await;
    write_commit(&r, 3, &foreign_commit(vec![serde_json::json!({ "add": add_of(&r, 2) })]));
    let m = audit_finds(&r).await;
    assert_eq!((m.store_version, m.entry), (3, 0), "{m}");
    assert!(m.reason.contains("no publications-log entry") && m.reason.contains("1 add"), "{m}");
    refused_start(r, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_commit_replacing_an_agencys_values_is_detected() {
    let r = two_publications().await;
    // labour's file rewritten with every value doubled, under the same publication id.
    let add = add_of(&r, 2);
    let store = r.dir.path().join("store");
    let old = std::fs::File::open(store.join(add["path"].as_str().unwrap())).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(old).unwrap().build().unwrap();
    let new_path = "agency=labour/dataset=labour-market/part-00000-tampered-c000.snappy.parquet";
    let out = std::fs::File::create(store.join(new_path)).unwrap();
    let mut writer = None;
    for b in reader {
        let b = b.unwrap();
        let i = b.schema().index_of("obs_value").unwrap();
        let doubled: Float64Array = b.column(i).as_primitive::<arrow::datatypes::Float64Type>().iter().map(|v| v.map(|v| v * 2.0)).collect();
        let mut cols = b.columns().to_vec();
        cols[i] = std::sync::Arc::new(doubled);
        let b = RecordBatch::try_new(b.schema(), cols).unwrap();
        let w = writer.get_or_insert_with(|| parquet::arrow::ArrowWriter::try_new(out.try_clone().unwrap(), b.schema(), None).unwrap());
        w.write(&b).unwrap();
    }
    writer.unwrap().close().unwrap();
    let mut replacement = add.clone();
    replacement["path"] = new_path.into();
    replacement["size"] = std::fs::metadata(store.join(new_path)).unwrap().len().into();
    write_commit(&r, 3, &foreign_commit(vec![serde_json::json!({ "add": replacement }), remove_of(&add)]));
    let m = audit_finds(&r).await;
    assert_eq!((m.store_version, m.entry), (3, 0), "{m}");
    assert!(m.reason.contains("no publications-log entry"), "{m}");
    refused_start(r, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripping_the_log_entry_from_a_commit_is_detected() {
    let r = two_publications().await;
    let mut actions = read_commit(&r, 2);
    let info = actions.iter_mut().find_map(|a| a.get_mut("commitInfo")).unwrap();
    assert!(info.as_object_mut().unwrap().remove("sdgx.publication").is_some());
    write_commit(&r, 2, &actions);
    let m = audit_finds(&r).await;
    assert_eq!((m.store_version, m.entry), (2, 0), "{m}");
    assert!(m.reason.contains("no publications-log entry"), "{m}");
    refused_start(r, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_an_adds_statistics_is_detected() {
    let r = two_publications().await;
    let mut actions = read_commit(&r, 2);
    let add = actions.iter_mut().find_map(|a| a.get_mut("add")).unwrap();
    let mut stats: Value = serde_json::from_str(add["stats"].as_str().unwrap()).unwrap();
    // Every obs_value null: a pruning reader skips the file for `obs_value IS NOT NULL`.
    stats["nullCount"]["obs_value"] = stats["numRecords"].clone();
    stats["minValues"].as_object_mut().unwrap().remove("obs_value");
    stats["maxValues"].as_object_mut().unwrap().remove("obs_value");
    add["stats"] = stats.to_string().into();
    write_commit(&r, 2, &actions);
    let m = audit_finds(&r).await;
    assert_eq!((m.store_version, m.entry, m.agency.as_str()), (2, 2, "labour"), "{m}");
    assert!(m.reason.contains("actions") && m.reason.contains("edited"), "{m}");
    refused_start(r, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_an_adds_partition_values_is_detected() {
    let r = two_publications().await;
    let mut actions = read_commit(&r, 2);
    let add = actions.iter_mut().find_map(|a| a.get_mut("add")).unwrap();
    assert_eq!(add["partitionValues"]["agency"], "labour");
    add["partitionValues"]["agency"] = "sms".into();
    write_commit(&r, 2, &actions);
    let m = audit_finds(&r).await;
    assert_eq!((m.store_version, m.entry, m.agency.as_str()), (2, 2, "labour"), "{m}");
    assert!(m.reason.contains("actions") && m.reason.contains("edited"), "{m}");
    refused_start(r, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_facts_file_is_detected_and_never_served() {
    let r = two_publications().await;
    let log = r.catalog.store().publications().await;
    let (sms, labour) = (log[0].facts.clone().expect("facts"), log[1].facts.clone().expect("facts"));
    // Labour's breakdown facts written over sms's: a valid facts file, the wrong facts.
    let store = r.dir.path().join("store");
    std::fs::copy(store.join(&labour.breakdowns.path), store.join(&sms.breakdowns.path)).unwrap();
    let m = audit_finds(&r).await;
    assert_eq!((m.store_version, m.dataset.as_str()), (1, "asylum-decisions"), "{m}");
    assert!(m.reason.contains("its facts cannot be read") && m.reason.contains(&sms.breakdowns.path), "{m}");
    // Started again (nothing cached), the coordinator answers no figure from them.
    let r = Running::start_in(r.stop().await, |_| {}).await;
    let kind = sdgx_coordinator::figures::FigureKind::MigrationDisaggregationShare;
    let e = sdgx_coordinator::figures::compute(&r.catalog, kind, Default::default(), &Read::current(View::Provisional)).await.expect_err("tampered facts");
    assert!(matches!(e, sdgx_coordinator::Error::Integrity(_)) && e.to_string().contains(&sms.breakdowns.path), "{e}");
    r.stop().await;
}

/// Signed evidence: the example coordinator over mutual TLS, with sms's (version 1) and
/// labour's (version 2) publications signed by their agents and every entry by the coordinator.
async fn two_signed_publications() -> Running {
    let r = Running::start_mtls(|_| {}).await;
    for a in ["sms", "labour"] {
        for o in sdgx_agent::run(&r.agent(a), false).await.expect("agent runs") {
            let ack = o.sent.expect("sent").unwrap_or_else(|e| panic!("{a}: {e}"));
            let signature = ack.coordinator_signature().expect("the acknowledgement carries the entry, signed by the coordinator");
            assert_eq!(signature.algorithm, "ecdsa-p256-sha256");
            // The agent keeps the signed entry in its outbox.
            let kept = o.entry.expect("staged");
            let kept = sdgx_agent::outbox::Outbox::open(&r.agent(a).outbox).unwrap().entries().unwrap().into_iter().find(|e| e.id == kept.id).unwrap();
            assert_eq!(kept.ack.as_ref().and_then(|k| k.entry.clone()), ack.entry, "{a}: the outbox keeps the signed entry");
        }
    }
    assert_eq!(r.catalog.store().version().await, 2);
    let report = sdgx_coordinator::audit::verify(&r.catalog).await.expect("audit");
    assert!(report.first_mismatch.is_none(), "untouched: {report}");
    assert_eq!((report.agency_signed, report.coordinator_signed), (2, 2), "{report}");
    assert!(report.to_string().contains("chains to") && report.ca[0].ends_with("pki/ca.pem"), "{report}");
    r
}

/// The coordinator's signing key, as an insider on the coordinator's host could take it.
fn coordinator_key(r: &Running) -> KeySigner {
    let pki = r.pki.as_ref().expect("mutual TLS");
    KeySigner::from_pem_files(&pki.join("signing.pem"), &pki.join("signing.key")).unwrap()
}

/// Rewrites the entry of commit `version` with `edit` as someone who can write the store and
/// the data directory would, consistently: every later entry re-chained to it, every hash
/// recomputed, the recorded head moved, and each entry from `version` on re-signed with
/// `coordinator` when given (otherwise its old coordinator signature is left).
fn rewrite(r: &Running, version: i64, coordinator: Option<&KeySigner>, edit: impl FnOnce(&mut PublicationEntry)) {
    let mut edit = Some(edit);
    let mut previous = None;
    for v in version..=2 {
        let mut actions = read_commit(r, v);
        let info = actions.iter_mut().find_map(|a| a.get_mut("commitInfo")).expect("commitInfo");
        let mut e: PublicationEntry = serde_json::from_value(info[LOG_KEY].clone()).expect("an entry");
        if let Some(f) = edit.take() {
            f(&mut e);
        }
        if let Some(p) = previous.take() {
            e.previous_entry_hash = p;
        }
        e.entry_hash = sdgx_coordinator::audit::entry_hash(&e);
        if let Some(k) = coordinator {
            e.coordinator_signature = Some(k.sign(&entry_statement(v, &e.entry_hash).unwrap()).unwrap());
        }
        info[LOG_KEY] = serde_json::to_value(&e).unwrap();
        write_commit(r, v, &actions);
        sdgx_coordinator::audit::write_head(
            &r.dir.path().join("state/head.json"),
            &sdgx_coordinator::audit::Head { version: v, publication_id: e.publication_id.clone(), entry_hash: e.entry_hash.clone() },
        )
        .unwrap();
        previous = Some(e.entry_hash);
    }
}

/// The audit's finding on a rewritten store: the entry at store version 1 (sms's) is named.
async fn audit_names_sms(r: &Running) -> Mismatch {
    let m = audit_finds(r).await;
    assert_eq!((m.store_version, m.entry, m.agency.as_str(), m.dataset.as_str()), (1, 1, "sms", "asylum-decisions"), "{m}");
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_entry_consistently_rechained_fails_the_audit() {
    let r = two_signed_publications().await;
    // Without any key: the entry's time moved, the chain and the head recomputed; the
    // coordinator's signature no longer covers the entry.
    rewrite(&r, 1, None, |e| e.received_at = "2020-01-01T00:00:00.000Z".into());
    let m = audit_names_sms(&r).await;
    assert!(m.reason.contains("the coordinator's signature of the entry at store version 1") && m.reason.contains("does not verify"), "{m}");
    // With the coordinator's own key (an insider on its host) but not sms's: the manifest
    // edited and every entry re-signed; sms's signature no longer covers the publication.
    let insider = coordinator_key(&r);
    rewrite(&r, 1, Some(&insider), |e| e.manifest.title = "Asylum decisions (revised)".into());
    let m = audit_names_sms(&r).await;
    assert!(m.reason.contains("the agency's signature of the publication") && m.reason.contains("not what agency sms signed"), "{m}");
    // The coordinator checks the signatures at start too.
    let e = refused_start(r, 1).await;
    assert!(e.contains("agency's signature"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_agency_signature_fails_the_audit() {
    let r = two_signed_publications().await;
    let insider = coordinator_key(&r);
    // A signature of the edited publication by a key of a CA the forger made, whose
    // certificate names sms as the identity rule wants.
    let rogue = tempfile::tempdir().unwrap();
    sdgx_coordinator::pki::init(rogue.path(), &["localhost".into()], 30).unwrap();
    let (cert, key) = sdgx_coordinator::pki::issue_agent(rogue.path(), "sms", 30).unwrap();
    let forge = |signer: KeySigner| {
        move |e: &mut PublicationEntry| {
            e.manifest.title = "Asylum decisions (forged)".into();
            let mut s = signer.sign_publication(&e.manifest, "2026-01-01T00:00:00.000Z").unwrap();
            s.signature.certificate = Some(sdgx_schemas::evidence::base64(signer.certificate()));
            e.agency_signature = Some(s);
        }
    };
    rewrite(&r, 1, Some(&insider), forge(KeySigner::from_pem_files(&cert, &key).unwrap()));
    let m = audit_names_sms(&r).await;
    assert!(m.reason.contains("the agency's signature") && m.reason.contains("does not chain to the CA"), "{m}");
    // Signed with another agency's real key: refused by the identity rule.
    let pki = r.pki.clone().unwrap();
    rewrite(&r, 1, Some(&insider), forge(KeySigner::from_pem_files(&pki.join("agents/labour.pem"), &pki.join("agents/labour.key")).unwrap()));
    let m = audit_names_sms(&r).await;
    assert!(m.reason.contains("made with agency labour's certificate, not agency sms's"), "{m}");
    // No agency signature at all, and the coordinator's signature stripped: refused too.
    rewrite(&r, 1, None, |e| {
        e.agency_signature = None;
        e.coordinator_signature = None;
    });
    let m = audit_names_sms(&r).await;
    assert!(m.reason.contains("carries no coordinator signature"), "{m}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_restored_from_an_older_copy_is_reported_as_rolled_back() {
    let r = two_signed_publications().await;
    // A copy of the store and its recorded head at version 2; then sms publishes a new version.
    let backup = tempfile::tempdir().unwrap();
    copy_dir(&r.dir.path().join("store"), &backup.path().join("store"));
    copy_dir(&r.dir.path().join("state"), &backup.path().join("state"));
    let sms = r.agent("sms");
    let out = sdgx_agent::withdraw(&sms, "asylum-decisions").await.expect("withdrawn");
    let ack = out[0].sent.as_ref().unwrap().as_ref().expect("acknowledged");
    assert_eq!(ack.store_version, 3);
    let seen = sdgx_agent::outbox::Outbox::open(&sms.outbox).unwrap().head().unwrap().expect("the agent remembers the head");
    assert_eq!(seen.store_version, 3);
    // The operator restores the older copy and starts the coordinator on it.
    let dir = r.stop().await;
    for d in ["store", "state"] {
        std::fs::remove_dir_all(dir.path().join(d)).unwrap();
        copy_dir(&backup.path().join(d), &dir.path().join(d));
    }
    let r = Running::start_mtls_in(dir, sdgx_coordinator::clock::Clock::default(), |_| {}).await;
    assert_eq!(r.catalog.store().version().await, 2, "the coordinator started on the older copy");
    let err = sdgx_agent::run(&r.agent("sms"), false).await.expect_err("refused").to_string();
    assert!(err.contains("agency sms dataset asylum-decisions") && err.contains("rolled back"), "{err}");
    assert!(err.contains(&format!("store version 3, entry {}", seen.entry_hash)) && err.contains("newest store version is 2"), "{err}");
    assert_eq!(r.catalog.store().version().await, 2, "nothing was stored");
    let pending = sdgx_agent::outbox::Outbox::open(&sms.outbox).unwrap().pending().unwrap();
    assert!(pending.iter().any(|e| e.last_reply.as_deref().is_some_and(|m| m.contains("rolled back"))), "the outbox says why: {pending:?}");
    // Another agency, which saw nothing newer than the copy holds, still publishes.
    let moh = sdgx_agent::run(&r.agent("moh"), false).await.expect("moh publishes");
    assert!(moh[0].sent.as_ref().unwrap().is_ok());
    r.stop().await;
}
