//! Hostile publishers against the coordinator's publication resources (issue 15, case 6 and
//! the schema-only publication of case 10): idle publications that never finish, more of them
//! than tokio's blocking pool has threads, a publication that trickles under the idle timeout,
//! a publication without rows, and an agent whose outbox holds a corrupt entry.
//!
//! The example coordinator runs in process over plaintext (`insecure_plaintext_publish`: the
//! manifest's agency is trusted, so one client can publish as any agency); the limits work
//! the same over mutual TLS, where the agency is the certificate's.

use sdgx_coordinator::catalog::Read;
use sdgx_coordinator::signoff::View;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::FlightData;
use futures::stream::{self, StreamExt, TryStreamExt};
use sdgx_e2e::{root, Running};
use sdgx_schemas::flight::{Ack, PublishCommand};
use sdgx_schemas::normalize::{read_csv, Normalizer};
use sdgx_schemas::Manifest;
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

/// Longest wait for anything the coordinator should answer promptly. On main (before the
/// fixes) these waits are what fails: the answer never comes.
const PROMPT: Duration = Duration::from_secs(60);

type Put = tokio::task::JoinHandle<Result<Ack, tonic::Status>>;

/// A fresh connection to the agents' Flight port.
async fn client(running: &Running) -> FlightServiceClient<Channel> {
    let channel = Endpoint::from_shared(running.flight.clone()).expect("url").connect().await.expect("connects");
    FlightServiceClient::new(channel).max_encoding_message_size(64 << 20).max_decoding_message_size(64 << 20)
}

/// An example dataset's manifest and rows, as the agent sends them.
fn example(running: &Running, agency: &str, dataset: &str) -> (Manifest, RecordBatch) {
    let dir = root().join("examples/federation").join(agency);
    let text = std::fs::read_to_string(dir.join(format!("{dataset}.manifest.toml"))).expect("manifest");
    let manifest = Manifest::from_toml(&text).expect("parses");
    let reader = read_csv(&dir.join(format!("{dataset}.csv")), 100_000).expect("csv");
    let mut norm = Normalizer::new(running.catalog.contract(), &reader.schema());
    let batches: Vec<RecordBatch> = reader
        .map(|b| norm.normalize(&b.expect("csv batch"), &mut |p| panic!("example data has a problem: {p}")).expect("normalises"))
        .collect();
    (manifest, arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat"))
}

/// The Flight messages of a publication: the descriptor and schema, then one message per batch.
fn messages(manifest: &Manifest, schema: arrow::datatypes::SchemaRef, batches: Vec<RecordBatch>) -> Vec<FlightData> {
    let encoder = FlightDataEncoderBuilder::new()
        .with_flight_descriptor(Some(PublishCommand::descriptor(manifest)))
        .with_schema(schema)
        .build(stream::iter(batches.into_iter().map(Ok)));
    futures::executor::block_on(encoder.try_collect()).expect("encodes")
}

/// Sends `msgs` then, with `hold`, keeps the stream open without sending more.
fn put(client: &FlightServiceClient<Channel>, msgs: Vec<FlightData>, hold: bool) -> Put {
    let mut c = arrow_flight::FlightClient::new_from_inner(client.clone());
    tokio::spawn(async move {
        let tail = if hold { stream::pending().boxed() } else { stream::empty().boxed() };
        let status = |e: FlightError| match e {
            FlightError::Tonic(s) => *s,
            other => tonic::Status::unknown(other.to_string()),
        };
        let results = c.do_put(stream::iter(msgs).chain(tail).map(Ok)).await.map_err(status)?;
        let results: Vec<_> = results.try_collect().await.map_err(status)?;
        Ok(Ack::decode(&results.first().expect("an acknowledgement").app_metadata).expect("an ack"))
    })
}

/// A publication that sends its descriptor and schema, then nothing, without ending.
fn idle(client: &FlightServiceClient<Channel>, manifest: &Manifest, schema: arrow::datatypes::SchemaRef) -> Put {
    put(client, messages(manifest, schema, vec![]), true)
}

/// Waits until `n` publications are in progress: every publication sent has been admitted and
/// is staging, waiting for its next message.
async fn wait_staging(running: &Running, n: usize) {
    tokio::time::timeout(PROMPT, running.ingest.admission.wait_in_progress(n))
        .await
        .unwrap_or_else(|_| panic!("{n} publications did not begin staging"));
}

/// Rows of (agency, dataset) in the current store version, by SQL.
async fn rows(running: &Running, agency: &str, dataset: &str) -> i64 {
    let sql = format!("SELECT count(*) AS n FROM observations WHERE agency = '{agency}' AND dataset = '{dataset}'");
    let query = async {
        let session = running.catalog.tables(&running.catalog.pin(&Read::current(View::Provisional)).await.unwrap()).await.expect("tables");
        let batches = session.ctx.sql(&sql).await.expect("plans").collect().await.expect("runs");
        batches[0].column(0).as_any().downcast_ref::<arrow::array::Int64Array>().expect("count").value(0)
    };
    tokio::time::timeout(PROMPT, query).await.expect("the query answers")
}

/// The example agent of `agency` publishes; its publications must be acknowledged.
async fn agent_publishes(running: &Running, agency: &str) {
    let mut config = running.agent(agency);
    config.delivery.publish_retry_secs = 0;
    let outcomes = tokio::time::timeout(PROMPT, sdgx_agent::run(&config, false)).await.expect("the agent's publication is answered");
    for o in outcomes.expect("agent runs") {
        o.sent.expect("sent").unwrap_or_else(|e| panic!("{agency}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_publications_of_one_agency_hit_its_cap_while_another_agency_publishes() {
    let running = Running::start(|c| {
        c.max_publications_per_agency = 4;
        c.max_concurrent_publications = 16;
    })
    .await;
    let (manifest, batch) = example(&running, "armstat", "ilcs-poverty");
    let c = client(&running).await;
    let mut puts: Vec<Put> = (0..10).map(|_| idle(&c, &manifest, batch.schema())).collect();
    // Four are admitted and wait; the six others are refused at once.
    let mut refused = 0;
    while refused < 6 {
        let (done, _, rest) = tokio::time::timeout(PROMPT, futures::future::select_all(puts))
            .await
            .unwrap_or_else(|_| panic!("only {refused} of 10 idle publications of one agency were refused"));
        puts = rest;
        let status = done.expect("task").expect_err("an idle publication is not acknowledged");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        let m = status.message();
        assert!(m.contains("agency armstat dataset ilcs-poverty") && m.contains("max_publications_per_agency"), "{m}");
        refused += 1;
    }
    wait_staging(&running, 4).await;
    assert!(puts.iter().all(|p| !p.is_finished()), "the four admitted are still held");
    // Another agency is not affected.
    agent_publishes(&running, "sms").await;
    assert!(rows(&running, "sms", "asylum-decisions").await > 0);
    for p in puts {
        p.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_idle_publications_than_blocking_threads_hold_none() {
    // tokio's blocking pool has 512 threads; the coordinator runs in this test's runtime.
    const IDLE: usize = 520;
    let running = Running::start(|c| {
        c.max_publications_per_agency = 600;
        c.max_concurrent_publications = 600;
    })
    .await;
    let (manifest, batch) = example(&running, "armstat", "ilcs-poverty");
    let mut puts = vec![];
    for _ in 0..8 {
        let c = client(&running).await;
        puts.extend((0..IDLE.div_ceil(8)).map(|_| idle(&c, &manifest, batch.schema())));
    }
    wait_staging(&running, puts.len()).await;
    // A valid publication of another agency is acknowledged, and a query runs.
    agent_publishes(&running, "sms").await;
    assert!(rows(&running, "sms", "asylum-decisions").await > 0);
    assert!(puts.iter().all(|p| !p.is_finished()), "the idle publications are still held");
    for p in puts {
        p.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publication_trickling_under_the_idle_timeout_is_stopped_by_its_deadline() {
    let running = Running::start(|c| {
        c.publish_idle_timeout_secs = 1;
        c.publish_deadline_secs = 2;
    })
    .await;
    let version = running.catalog.store().version().await;
    let (manifest, batch) = example(&running, "armstat", "ilcs-poverty");
    // The descriptor and schema, then a one-row batch every 300 ms, forever.
    let msgs = messages(&manifest, batch.schema(), vec![batch.slice(0, 1)]);
    let row = msgs[1].clone();
    let trickle = stream::iter(msgs).chain(stream::unfold(row, |row| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Some((row.clone(), row))
    }));
    let mut c = client(&running).await;
    let answer = tokio::time::timeout(PROMPT, async { c.do_put(trickle).await?.into_inner().try_collect::<Vec<_>>().await })
        .await
        .expect("the trickling publication is stopped");
    let status = answer.expect_err("a publication past its deadline is refused");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let m = status.message();
    assert!(m.contains("agency armstat dataset ilcs-poverty") && m.contains("publish_deadline_secs"), "{m}");
    assert_eq!(running.catalog.store().version().await, version, "nothing was stored");
    assert_eq!(rows(&running, "armstat", "ilcs-poverty").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publication_without_rows_is_refused_unless_it_withdraws_the_dataset() {
    let running = Running::start(|_| {}).await;
    agent_publishes(&running, "armstat").await;
    let before = rows(&running, "armstat", "ilcs-poverty").await;
    assert!(before > 0);
    let (manifest, batch) = example(&running, "armstat", "ilcs-poverty");
    let c = client(&running).await;

    // Schema only: refused, the dataset keeps its rows.
    let status = put(&c, messages(&manifest, batch.schema(), vec![]), false).await.expect("task").expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let m = status.message();
    assert!(m.contains("agency armstat dataset ilcs-poverty") && m.contains("no_rows") && m.contains("withdraw = true"), "{m}");
    assert_eq!(rows(&running, "armstat", "ilcs-poverty").await, before);

    // A withdrawal carrying rows: refused.
    let withdrawal = Manifest { withdraw: true, content_hash: None, ..manifest };
    let status = put(&c, messages(&withdrawal, batch.schema(), vec![batch.clone()]), false).await.expect("task").expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("withdrawal_with_rows"), "{}", status.message());
    assert_eq!(rows(&running, "armstat", "ilcs-poverty").await, before);

    // A withdrawal: a new, empty version.
    let version = running.catalog.store().version().await;
    let ack = put(&c, messages(&withdrawal, batch.schema(), vec![]), false).await.expect("task").expect("a withdrawal is acknowledged");
    assert_eq!((ack.rows, ack.duplicate), (0, false));
    assert!(ack.store_version > version);
    assert_eq!(rows(&running, "armstat", "ilcs-poverty").await, 0);
    assert!(rows(&running, "armstat", "ilcs-returned-migrants").await > 0, "the agency's other dataset is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_publishes_past_a_corrupt_outbox_entry() {
    let running = Running::start(|_| {}).await;
    let config = running.agent("armstat");
    let damaged = config.outbox.join("01900000-0000-7000-8000-000000000000");
    std::fs::create_dir_all(&damaged).expect("entry directory");
    std::fs::write(damaged.join("entry.json"), b"\0\0\0 not json").expect("damaged entry");
    agent_publishes(&running, "armstat").await;
    assert!(rows(&running, "armstat", "ilcs-poverty").await > 0);
    let health = sdgx_agent::status::health(&config).expect("health");
    assert_eq!((health.status, health.outbox["sent"], health.corrupt.len()), ("degraded", 2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_withdraws_a_dataset() {
    let running = Running::start(|_| {}).await;
    agent_publishes(&running, "armstat").await;
    let mut config = running.agent("armstat");
    config.delivery.publish_retry_secs = 0;
    let e = sdgx_agent::withdraw(&config, "no-such-dataset").await.expect_err("an unknown dataset");
    assert!(e.to_string().contains("ilcs-poverty"), "the error lists the datasets: {e}");
    let out = sdgx_agent::withdraw(&config, "ilcs-poverty").await.expect("withdraws");
    let ack = out[0].sent.as_ref().expect("sent").as_ref().expect("acknowledged");
    assert_eq!((ack.rows, ack.duplicate), (0, false));
    assert_eq!(rows(&running, "armstat", "ilcs-poverty").await, 0);
    assert!(rows(&running, "armstat", "ilcs-returned-migrants").await > 0);
}
