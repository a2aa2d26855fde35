//! The ingest benchmark (issue 8). Not a test: `bench/ingest.sh` builds it in release, starts
//! a release coordinator with mutual TLS, and runs it. In one process and one run it measures:
//!
//! - **(a)** the full path: `do_put` over mutual TLS to the coordinator, which validates,
//!   stages and commits the publication to its Delta store before it acknowledges;
//! - **(b)** the baseline: a bare arrow-flight `do_put` of the same messages to a server in
//!   this process that only decodes and discards, over the same loopback, without TLS, with
//!   the same HTTP/2 windows and message limit;
//! - **(c)** the same rows as CSV in one HTTP POST to a minimal receiver in this process that
//!   writes the body to disk, fsyncs it and parses every record (what ministries do today:
//!   upload a CSV file);
//! - the commit latency of a small publication (p50, p99), and the coordinator's peak RSS.
//!
//! The Flight messages are encoded once before timing, so (a) and (b) time the same bytes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Float64Array, RecordBatch};
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::utils::batches_to_flight_data;
use arrow_flight::{FlightData, PutResult};
use clap::Parser;
use futures::{Stream, StreamExt, TryStreamExt};
use sdgx_schemas::flight::{Ack, PublishCommand, TransportConfig};
use sdgx_schemas::normalize::{read_csv, Normalizer};
use sdgx_schemas::{Contract, Manifest};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Request, Response, Status, Streaming};

#[derive(Parser)]
struct Args {
    /// Contract CSV of the rows to publish.
    #[arg(long)]
    csv: PathBuf,
    /// Manifest of the big publication (its agency must own the dataset).
    #[arg(long)]
    manifest: PathBuf,
    /// Dataset id of the small publications (same agency, registered too).
    #[arg(long)]
    small_dataset: String,
    /// The coordinator's agents' Flight URL (https://localhost:PORT).
    #[arg(long)]
    coordinator: String,
    /// PKI directory (ca.pem, agents/<agency>.pem and .key).
    #[arg(long)]
    pki: PathBuf,
    /// The coordinator's process id, for its peak RSS.
    #[arg(long)]
    coordinator_pid: u32,
    /// The national framework and codelists (the contract the coordinator runs).
    #[arg(long)]
    framework: PathBuf,
    #[arg(long)]
    codelists: PathBuf,
    /// Small publications timed.
    #[arg(long, default_value_t = 100)]
    small: usize,
    /// Rounds of (b) and (c); the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// Decodes every message and drops it: the baseline server.
struct Discard;

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl FlightService for Discard {
    type HandshakeStream = Boxed<arrow_flight::HandshakeResponse>;
    type ListFlightsStream = Boxed<arrow_flight::FlightInfo>;
    type DoGetStream = Boxed<FlightData>;
    type DoPutStream = Boxed<PutResult>;
    type DoActionStream = Boxed<arrow_flight::Result>;
    type ListActionsStream = Boxed<arrow_flight::ActionType>;
    type DoExchangeStream = Boxed<FlightData>;

    async fn do_put(&self, request: Request<Streaming<FlightData>>) -> Result<Response<Self::DoPutStream>, Status> {
        let mut batches = arrow_flight::decode::FlightRecordBatchStream::new_from_flight_data(
            request.into_inner().map_err(arrow_flight::error::FlightError::from),
        );
        let mut rows = 0u64;
        while let Some(b) = batches.next().await {
            rows += b.map_err(|e| Status::invalid_argument(e.to_string()))?.num_rows() as u64;
        }
        let reply = PutResult { app_metadata: rows.to_string().into_bytes().into() };
        Ok(Response::new(Box::pin(futures::stream::once(async { Ok(reply) }))))
    }
    async fn handshake(&self, _: Request<Streaming<arrow_flight::HandshakeRequest>>) -> Result<Response<Self::HandshakeStream>, Status> {
        Err(Status::unimplemented("baseline"))
    }
    async fn list_flights(&self, _: Request<arrow_flight::Criteria>) -> Result<Response<Self::ListFlightsStream>, Status> {
        Err(Status::unimplemented("baseline"))
    }
    async fn get_flight_info(&self, _: Request<arrow_flight::FlightDescriptor>) -> Result<Response<arrow_flight::FlightInfo>, Status> {
        Err(Status::unimplemented("baseline"))
    }
    async fn poll_flight_info(&self, _: Request<arrow_flight::FlightDescriptor>) -> Result<Response<arrow_flight::PollInfo>, Status> {
        Err(Status::unimplemented("baseline"))
    }
    async fn get_schema(&self, _: Request<arrow_flight::FlightDescriptor>) -> Result<Response<arrow_flight::SchemaResult>, Status> {
        Err(Status::unimplemented("baseline"))
    }
    async fn do_get(&self, _: Request<arrow_flight::Ticket>) -> Result<Response<Self::DoGetStream>, Status> {
        Err(Status::unimplemented("baseline"))
    }
    async fn do_action(&self, _: Request<arrow_flight::Action>) -> Result<Response<Self::DoActionStream>, Status> {
        Err(Status::unimplemented("baseline"))
    }
    async fn list_actions(&self, _: Request<arrow_flight::Empty>) -> Result<Response<Self::ListActionsStream>, Status> {
        Err(Status::unimplemented("baseline"))
    }
    async fn do_exchange(&self, _: Request<Streaming<FlightData>>) -> Result<Response<Self::DoExchangeStream>, Status> {
        Err(Status::unimplemented("baseline"))
    }
}

/// The baseline server on 127.0.0.1:0, with the coordinator's transport settings.
async fn start_baseline(t: &TransportConfig) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("bound");
    let svc = FlightServiceServer::new(Discard).max_decoding_message_size(t.max_message_size);
    let server = tonic::transport::Server::builder()
        .initial_stream_window_size(Some(t.stream_window))
        .initial_connection_window_size(Some(t.connection_window))
        .add_service(svc)
        .serve_with_incoming(accepted(listener, t.tcp_nodelay));
    tokio::spawn(server);
    addr
}

/// The connections accepted on `listener`, with Nagle's algorithm off when `nodelay` (as the
/// coordinator's own listener does).
fn accepted(listener: tokio::net::TcpListener, nodelay: bool) -> impl Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, move |l| async move {
        let r = l.accept().await.map(|(s, _)| {
            let _ = s.set_nodelay(nodelay);
            s
        });
        Some((r, l))
    })
}

/// A client channel with the same settings; with TLS when `tls` is set.
async fn channel(url: &str, t: &TransportConfig, tls: Option<ClientTlsConfig>) -> FlightServiceClient<Channel> {
    let mut e = Endpoint::from_shared(url.to_owned()).expect("url");
    if let Some(tls) = tls {
        e = e.tls_config(tls).expect("tls");
    }
    let ch = e
        .initial_stream_window_size(t.stream_window)
        .initial_connection_window_size(t.connection_window)
        .tcp_nodelay(t.tcp_nodelay)
        .connect()
        .await
        .expect("connects");
    FlightServiceClient::new(ch).max_encoding_message_size(t.max_message_size).max_decoding_message_size(t.max_message_size)
}

/// Sends `msgs` with `do_put` and returns the first reply's metadata and the time to it.
async fn put(client: &mut FlightServiceClient<Channel>, msgs: &[FlightData]) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut replies = client.do_put(futures::stream::iter(msgs.to_vec())).await.expect("do_put").into_inner();
    let reply = replies.message().await.expect("reply").expect("one reply");
    (reply.app_metadata.to_vec(), start.elapsed())
}

/// The CSV receiver: writes the body to a file, fsyncs it, then parses every record.
async fn start_csv_receiver(dir: PathBuf) -> SocketAddr {
    use axum::routing::post;
    let app = axum::Router::new()
        .route(
            "/upload",
            post(move |body: axum::body::Body| {
                let dir = dir.clone();
                async move {
                    let path = dir.join("upload.csv");
                    let mut file = tokio::io::BufWriter::new(tokio::fs::File::create(&path).await.expect("create"));
                    let mut stream = body.into_data_stream();
                    while let Some(chunk) = stream.next().await {
                        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk.expect("body")).await.expect("write");
                    }
                    tokio::io::AsyncWriteExt::flush(&mut file).await.expect("flush");
                    file.into_inner().sync_all().await.expect("fsync");
                    let rows = tokio::task::spawn_blocking(move || {
                        let mut r = csv::Reader::from_path(&path).expect("open");
                        let value = r.headers().expect("header").iter().position(|h| h == "obs_value").expect("obs_value");
                        let mut rec = csv::StringRecord::new();
                        let (mut rows, mut sum) = (0u64, 0f64);
                        while r.read_record(&mut rec).expect("record") {
                            rows += 1;
                            sum += rec.get(value).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
                        }
                        std::hint::black_box(sum);
                        rows
                    })
                    .await
                    .expect("parse");
                    rows.to_string()
                }
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::disable());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// `batch` with obs_value shifted by `delta` (new content, same keys).
fn shifted(batch: &RecordBatch, delta: f64) -> RecordBatch {
    let i = batch.schema().index_of("obs_value").expect("obs_value");
    let v = batch.column(i).as_any().downcast_ref::<Float64Array>().expect("float");
    let mut cols = batch.columns().to_vec();
    cols[i] = Arc::new(v.iter().map(|x| x.map(|x| (x + delta) % 100.0)).collect::<Float64Array>()) as ArrayRef;
    RecordBatch::try_new(batch.schema(), cols).expect("batch")
}

fn encode(manifest: Option<&Manifest>, batches: Vec<RecordBatch>) -> Vec<FlightData> {
    let mut msgs = batches_to_flight_data(&batches[0].schema(), batches).expect("encodes");
    if let Some(m) = manifest {
        msgs[0].flight_descriptor = Some(PublishCommand::descriptor(m));
    }
    msgs
}

fn size(msgs: &[FlightData]) -> u64 {
    msgs.iter().map(|m| (m.data_header.len() + m.data_body.len()) as u64).sum()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() {
    rustls::crypto::ring::default_provider().install_default().expect("one provider");
    let args = Args::parse();
    let t = TransportConfig::default();
    let contract = Contract::load(Some(&args.codelists), Some(&args.framework)).expect("contract");
    let manifest = Manifest::from_toml(&std::fs::read_to_string(&args.manifest).expect("manifest")).expect("manifest parses");

    // The rows, as the agent sends them: normalised wire batches of 65,536 rows.
    let started = Instant::now();
    let reader = read_csv(&args.csv, 65_536).expect("csv");
    let schema = reader.schema();
    let mut norm = Normalizer::new(&contract, &schema);
    let batches: Vec<RecordBatch> = reader
        .map(|b| norm.normalize(&b.expect("csv batch"), &mut |p| panic!("bench data has a problem: {p}")).expect("normalises"))
        .collect();
    let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
    let csv_bytes = std::fs::read(&args.csv).expect("csv bytes");
    let publication = encode(Some(&manifest), batches.clone());
    let second = encode(Some(&manifest), batches.iter().map(|b| shifted(b, 0.5)).collect());
    let bare = encode(None, batches.clone());
    let wire_bytes = size(&bare);
    eprintln!("prepared {rows} rows ({:.0} MB as Arrow IPC, {:.0} MB as CSV) in {:.1}s", wire_bytes as f64 / 1e6, csv_bytes.len() as f64 / 1e6, started.elapsed().as_secs_f64());

    // (b) bare arrow-flight do_put, decode and discard, plaintext.
    let baseline = start_baseline(&t).await;
    let mut b_client = channel(&format!("http://{baseline}"), &t, None).await;
    let mut b_times = vec![];
    for _ in 0..args.rounds {
        let (reply, d) = put(&mut b_client, &bare).await;
        assert_eq!(String::from_utf8_lossy(&reply), rows.to_string(), "the baseline decoded every row");
        b_times.push(d);
    }
    let b = median(b_times.clone());

    // (a) the full path, twice: a new dataset, then a new version replacing it.
    let agency = &manifest.agency;
    let read = |p: PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(args.pki.join("ca.pem"))))
        .identity(Identity::from_pem(read(args.pki.join(format!("agents/{agency}.pem"))), read(args.pki.join(format!("agents/{agency}.key")))));
    let mut a_client = channel(&args.coordinator, &t, Some(tls)).await;
    let mut a_times = vec![];
    for msgs in [&publication, &second] {
        let (reply, d) = put(&mut a_client, msgs).await;
        let ack = Ack::decode(&reply).expect("ack");
        assert!(!ack.duplicate && ack.rows == rows, "the coordinator committed every row: {ack:?}");
        a_times.push(d);
    }
    let a = a_times[0].min(a_times[1]);
    drop((publication, second));

    // (c) CSV over HTTP POST: receive, fsync, parse.
    let work = tempfile::tempdir().expect("tempdir");
    let receiver = start_csv_receiver(work.path().to_owned()).await;
    let http = reqwest::Client::new();
    let mut c_times = vec![];
    for _ in 0..args.rounds {
        let start = Instant::now();
        let reply = http
            .post(format!("http://{receiver}/upload"))
            .body(csv_bytes.clone())
            .send()
            .await
            .expect("POST")
            .text()
            .await
            .expect("reply");
        c_times.push(start.elapsed());
        assert_eq!(reply, rows.to_string(), "the receiver parsed every row");
    }
    let c = median(c_times.clone());

    // Commit latency of a small publication: the first 24 rows, new values each time.
    let small_rows = batches[0].slice(0, 24);
    let mut small_manifest = manifest.clone();
    small_manifest.dataset = args.small_dataset.clone();
    let mut lat = vec![];
    for i in 0..args.small {
        let msgs = encode(Some(&small_manifest), vec![shifted(&small_rows, 1.0 + i as f64)]);
        let (reply, d) = put(&mut a_client, &msgs).await;
        assert!(!Ack::decode(&reply).expect("ack").duplicate);
        lat.push(d);
    }
    lat.sort();
    let rss = peak_rss_mib(args.coordinator_pid);

    let per = |d: Duration, bytes: u64| (rows as f64 / d.as_secs_f64(), bytes as f64 / 1e6 / d.as_secs_f64());
    let ((ar, am), (br, bm), (cr, cm)) = (per(a, wire_bytes), per(b, wire_bytes), per(c, csv_bytes.len() as u64));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("| path | time | rows/s | MB/s |");
    println!("|---|---|---|---|");
    println!("| (a) sdgx: mutual TLS, validation, durable commit | {:.2} s | {:.2} M | {am:.0} |", a.as_secs_f64(), ar / 1e6);
    println!("| (b) bare arrow-flight do_put, decode and discard | {:.2} s | {:.2} M | {bm:.0} |", b.as_secs_f64(), br / 1e6);
    println!("| (c) CSV over HTTP POST: receive, fsync, parse | {:.2} s | {:.2} M | {cm:.0} |", c.as_secs_f64(), cr / 1e6);
    println!();
    println!("rows: {rows}; Arrow IPC {:.0} MB; CSV {:.0} MB", wire_bytes as f64 / 1e6, csv_bytes.len() as f64 / 1e6);
    println!("(a) runs: {:?}; (b) runs: {:?}; (c) runs: {:?}", a_times, b_times, c_times);
    println!("ratio a/b (rows/s): {:.3}   (goal >= 0.5)", ar / br);
    println!("ratio a/c (rows/s): {:.2}   (goal >= 10)", ar / cr);
    println!("small publication ({} rows), {} commits: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        small_rows.num_rows(), lat.len(), ms(percentile(&lat, 0.5)), ms(percentile(&lat, 0.99)), ms(lat[lat.len() - 1]));
    println!("coordinator peak RSS: {rss:.0} MiB");
}
