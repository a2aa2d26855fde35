//! Hostile input sent straight to the coordinator's agents' Flight port, over mutual TLS with a
//! real agency certificate (or without one): broken envelopes, malformed and malicious Arrow
//! IPC, oversized and endless streams, invalid data, and calls the port does not offer.
//!
//! For every case the coordinator answers with the expected gRPC code and a clear, bounded
//! message; it keeps serving another client throughout; the store version does not move; no
//! staging file is left behind. At the end a valid publication still commits. The table of
//! cases and outcomes is printed (`cargo test -p sdgx-e2e --test e2e hostile:: -- --nocapture`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, ArrayRef, DictionaryArray, Float64Array, ListArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::{Action, FlightData, FlightDescriptor, HandshakeRequest};
use futures::stream::{self, BoxStream, StreamExt};
use sdgx_e2e::{root, Running};
use sdgx_schemas::flight::{PublishCommand, TicketRequest};
use sdgx_schemas::normalize::{read_csv, Normalizer};
use sdgx_schemas::Manifest;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::Code;

/// Bound on a status's message plus details: they travel in HTTP/2 trailers, which gRPC C++
/// clients refuse past 8 KiB by default (hyper past 16 KiB).
const STATUS_BOUND: usize = 6 * 1024;
/// The test coordinator's `max_publication_messages` (default 100,000).
const MAX_MESSAGES: u64 = 20_000;

/// What a case sends.
enum Input {
    /// A `do_put` stream, as armstat.
    Put(Vec<FlightData>),
    /// A lazily generated `do_put` stream, as armstat.
    Lazy(BoxStream<'static, FlightData>),
    /// A `do_put` stream that sends these messages, then nothing, without ending.
    Stall(Vec<FlightData>),
    /// A `do_get` with this ticket, as armstat.
    Get(Vec<u8>),
    /// A `do_action`.
    Action,
    /// A `handshake`.
    Handshake,
    /// A valid publication over a connection without a client certificate, with armstat's
    /// certificate from another CA (`other_ca`), or without TLS at all (`plaintext`).
    Transport { other_ca: bool, plaintext: bool },
}

struct Case {
    name: &'static str,
    input: Input,
    code: Code,
    says: &'static str,
}

struct Fixture {
    running: Running,
    manifest: Manifest,
    batch: RecordBatch,
    /// A foreign CA with an "armstat" certificate.
    foreign: std::path::PathBuf,
}

impl Fixture {
    async fn start() -> Fixture {
        let running = Running::start_mtls(|c| {
            c.max_publication_messages = MAX_MESSAGES;
            c.publish_idle_timeout_secs = 2;
        })
        .await;
        running.publish_all().await;
        let dir = root().join("examples/federation/armstat");
        let manifest =
            Manifest::from_toml(&std::fs::read_to_string(dir.join("ilcs-poverty.manifest.toml")).expect("manifest")).expect("parses");
        let reader = read_csv(&dir.join("ilcs-poverty.csv"), 100_000).expect("csv");
        let schema = reader.schema();
        let mut norm = Normalizer::new(running.catalog.contract(), &schema);
        let batches: Vec<RecordBatch> = reader
            .map(|b| norm.normalize(&b.expect("csv batch"), &mut |p| panic!("example data has a problem: {p}")).expect("normalises"))
            .collect();
        let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat");
        let foreign = running.dir.path().join("foreign-pki");
        sdgx_coordinator::pki::init(&foreign, &["localhost".into()], 30).expect("foreign CA");
        sdgx_coordinator::pki::issue_agent(&foreign, "armstat", 30).expect("foreign agent certificate");
        Fixture { running, manifest, batch, foreign }
    }

    fn pki(&self) -> &std::path::Path {
        self.running.pki.as_deref().expect("mutual TLS")
    }

    /// A fresh connection to the agents' port as `agency`.
    async fn client(&self, agency: &str) -> FlightServiceClient<Channel> {
        self.connect(Some((self.pki(), agency)), false).await.expect("connects")
    }

    async fn connect(&self, identity: Option<(&std::path::Path, &str)>, plaintext: bool) -> Result<FlightServiceClient<Channel>, String> {
        let read = |p: std::path::PathBuf| std::fs::read(p).expect("pki file");
        let url = if plaintext { self.running.flight.replace("https://", "http://") } else { self.running.flight.clone() };
        let mut endpoint = Endpoint::from_shared(url).expect("url");
        if !plaintext {
            let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(self.pki().join("ca.pem"))));
            if let Some((dir, agency)) = identity {
                tls = tls.identity(Identity::from_pem(
                    read(dir.join(format!("agents/{agency}.pem"))),
                    read(dir.join(format!("agents/{agency}.key"))),
                ));
            }
            endpoint = endpoint.tls_config(tls).expect("tls");
        }
        let channel = endpoint.connect().await.map_err(|e| format!("{e:?}"))?;
        // The client allows huge messages so that the server's own limit is what is tested.
        Ok(FlightServiceClient::new(channel).max_encoding_message_size(512 << 20).max_decoding_message_size(512 << 20))
    }

    /// A publication of `batches` (in their own schema) under `manifest`.
    fn publication(&self, manifest: &Manifest, batches: Vec<RecordBatch>) -> Vec<FlightData> {
        with_descriptor(encode(batches), PublishCommand::descriptor(manifest))
    }

    /// A publication of `batch` under `manifest` (its content hash filled in) signed with the key
    /// of `agency`'s certificate, as an agent sends it.
    fn signed_publication(&self, agency: &str, manifest: &Manifest, batch: RecordBatch) -> Vec<FlightData> {
        let mut hasher = sdgx_schemas::hash::ContentHasher::default();
        hasher.push_batch(&batch, 1).expect("hashable");
        let mut manifest = manifest.clone();
        manifest.content_hash = Some(hasher.finish().expect("hashed").content_hash);
        let key = |ext: &str| self.pki().join(format!("agents/{agency}.{ext}"));
        let signer = sdgx_schemas::evidence::KeySigner::from_pem_files(&key("pem"), &key("key")).expect("agency key");
        let command = PublishCommand {
            signature: Some(signer.sign_publication(&manifest, &chrono::Utc::now().to_rfc3339()).expect("signed")),
            ..PublishCommand::new(&manifest, None, false)
        };
        with_descriptor(encode(vec![batch]), command.to_descriptor())
    }

    /// The valid batch with column `name` replaced (or added at the end, or dropped with `None`).
    fn with_column(&self, name: &str, array: Option<ArrayRef>) -> RecordBatch {
        replace(&self.batch, name, array)
    }

    /// The valid batch with text column `name` set to `value` on the first row.
    fn with_text(&self, name: &str, value: &str) -> RecordBatch {
        let i = self.batch.schema().index_of(name).expect("column");
        let a = self.batch.column(i).as_any().downcast_ref::<StringArray>().expect("text");
        let v: StringArray = (0..a.len()).map(|r| if r == 0 { Some(value) } else { a.is_valid(r).then(|| a.value(r)) }).collect();
        self.with_column(name, Some(Arc::new(v)))
    }

    fn cases(&self) -> Vec<Case> {
        let m = &self.manifest;
        let valid = || self.publication(m, vec![self.batch.clone()]);
        let cmd = |json: serde_json::Value| {
            let mut msgs = valid();
            msgs[0].flight_descriptor = Some(FlightDescriptor::new_cmd(serde_json::to_vec(&json).expect("json")));
            msgs
        };
        let raw_cmd = |bytes: Vec<u8>| {
            let mut msgs = valid();
            msgs[0].flight_descriptor = Some(FlightDescriptor::new_cmd(bytes));
            msgs
        };
        let manifest_json = serde_json::to_value(m).expect("manifest json");
        let with_manifest = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut mj = manifest_json.clone();
            f(&mut mj);
            cmd(serde_json::json!({"sdgx": "publish", "contract_version": "1", "manifest": mj}))
        };
        let manifest_with = |f: &dyn Fn(&mut Manifest)| {
            let mut mm = m.clone();
            f(&mut mm);
            self.publication(&mm, vec![self.batch.clone()])
        };
        let data = |b: RecordBatch| self.publication(m, vec![b]);
        let n = self.batch.num_rows();
        let text_col = |v: &str| -> ArrayRef { Arc::new(StringArray::from(vec![v; n])) };

        // IPC-level corruption of the valid stream: [schema, batch].
        let corrupt = |f: &dyn Fn(&mut Vec<FlightData>)| {
            let mut msgs = valid();
            f(&mut msgs);
            msgs
        };
        let half = |b: &bytes::Bytes| b.slice(..b.len() / 2);

        // A 10-deep nested list type in place of comment_obs.
        let mut nested: ArrayRef = Arc::new(StringArray::from(vec!["x"; n]));
        for _ in 0..10 {
            let field = Arc::new(Field::new("item", nested.data_type().clone(), true));
            let offsets = arrow::buffer::OffsetBuffer::from_lengths(std::iter::repeat_n(1, n));
            nested = Arc::new(ListArray::new(field, offsets, nested, None));
        }
        // A dictionary-encoded sex column.
        let dict: ArrayRef = Arc::new(DictionaryArray::<Int32Type>::from_iter(std::iter::repeat_n("_T", n)));
        // A schema of 10,000 columns: the valid ones and 9,973 unknown.
        let wide = {
            let extra: ArrayRef = Arc::new(StringArray::from(vec![Some("x"); n]));
            let base = self.batch.schema();
            let k = 10_000 - base.fields().len();
            let fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone())
                .chain((0..k).map(|i| Field::new(format!("extra_{i}"), DataType::Utf8, true))).collect();
            let cols: Vec<ArrayRef> = self.batch.columns().iter().cloned().chain(std::iter::repeat_n(extra, k)).collect();
            RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("wide batch")
        };
        // The same rows under a schema with a different column order, sent after the first.
        let swapped = {
            let s = self.batch.schema();
            let mut idx: Vec<usize> = (0..s.fields().len()).collect();
            idx.reverse();
            self.batch.project(&idx).expect("projection")
        };
        let mut swap_msgs = valid();
        swap_msgs.extend(encode(vec![swapped.clone()]));
        // A column value whose bytes are then made invalid UTF-8 in the IPC body.
        let marker = "UTF8MARKERUTF8MARKER";
        let invalid_utf8 = {
            let mut msgs = data(self.with_text("comment_obs", marker));
            let body = msgs[1].data_body.to_vec();
            let at = find(&body, marker.as_bytes()).expect("marker in body");
            let mut body = body;
            body[at] = 0xFF;
            body[at + 1] = 0xFE;
            msgs[1].data_body = body.into();
            msgs
        };
        // Offsets pointing far past the values buffer.
        let bad_offsets = {
            let odd = "o".repeat(37);
            let mut msgs = data(self.with_text("comment_obs", &odd));
            let mut body = msgs[1].data_body.to_vec();
            let pattern: Vec<u8> = [0i32, 37].iter().flat_map(|v| v.to_le_bytes()).collect();
            let at = find(&body, &pattern).expect("offsets in body");
            body[at + 4..at + 8].copy_from_slice(&0x7FFF_0000i32.to_le_bytes());
            msgs[1].data_body = body.into();
            msgs
        };
        // Two rows with the same key.
        let twice = arrow::compute::concat_batches(&self.batch.schema(), [&self.batch, &self.batch]).expect("concat");
        // Every row of a 100,000-row batch breaks a rule: the report is capped and bounded.
        let all_bad = {
            let big = arrow::compute::concat_batches(&self.batch.schema(), std::iter::repeat_n(&self.batch, 100_000 / n + 1)).expect("concat");
            let rows = big.num_rows();
            replace(&big, "sex", Some(Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("BAD{i}{}", "z".repeat(300)))))))
        };
        // A null in a required column.
        let null_area = {
            let a: StringArray = (0..n).map(|r| (r != 0).then_some("AM")).collect();
            let schema = Schema::new(
                self.batch.schema().fields().iter().map(|f| Field::new(f.name(), f.data_type().clone(), true)).collect::<Vec<_>>(),
            );
            let b = RecordBatch::try_new(Arc::new(schema), self.batch.columns().to_vec()).expect("nullable schema");
            replace(&b, "ref_area", Some(Arc::new(a)))
        };
        let value_col = |v: f64| -> ArrayRef { Arc::new(Float64Array::from(vec![v; n])) };

        // Millions of one-row batches, generated lazily.
        let one = self.batch.slice(0, 1);
        let tiny = {
            let mut first = encode(vec![one.clone()]);
            let batch_msg = first.pop().expect("batch");
            let schema_msg = with_descriptor(first, PublishCommand::descriptor(m));
            stream::iter(schema_msg).chain(stream::iter(std::iter::repeat_n(batch_msg, 3_000_000))).boxed()
        };
        let big_string = "s".repeat(100 << 20);
        let mb10 = "c".repeat(10 << 20);

        use Code::*;
        let case = |name, input, code, says| Case { name, input, code, says };
        vec![
            // The envelope: descriptor and manifest.
            case("empty stream", Input::Put(vec![]), InvalidArgument, "empty do_put stream"),
            case("no descriptor", Input::Put(corrupt(&|v| v[0].flight_descriptor = None)), InvalidArgument, "no flight descriptor"),
            case("PATH descriptor", Input::Put(corrupt(&|v| v[0].flight_descriptor = Some(FlightDescriptor::new_path(vec!["armstat".into()])))), InvalidArgument, "of type CMD"),
            case("command not JSON", Input::Put(raw_cmd(b"publish ilcs-poverty please".to_vec())), InvalidArgument, "is not JSON"),
            case("command invalid UTF-8", Input::Put(raw_cmd(vec![0xFF, 0xFE, 0x7B, 0x00, 0xC3])), InvalidArgument, "is not JSON"),
            case("command a JSON array", Input::Put(raw_cmd(b"[1, 2, 3]".to_vec())), InvalidArgument, "must be a JSON object"),
            case("command nested 100,000 deep", Input::Put(raw_cmd("[".repeat(100_000).into_bytes())), InvalidArgument, "is not JSON"),
            case("command of 2 MB", Input::Put(manifest_with(&|mm| mm.title = "t".repeat(2 << 20))), InvalidArgument, "at most 1048576"),
            case("no contract version", Input::Put(cmd(serde_json::json!({"sdgx": "publish", "manifest": manifest_json}))), InvalidArgument, "no contract_version"),
            case("wrong contract version", Input::Put(cmd(serde_json::json!({"sdgx": "publish", "contract_version": "2", "manifest": manifest_json}))), FailedPrecondition, "\"2\""),
            case("contract version a number", Input::Put(cmd(serde_json::json!({"sdgx": "publish", "contract_version": 1, "manifest": manifest_json}))), InvalidArgument, "must be a string"),
            case("not a publish command", Input::Put(cmd(serde_json::json!({"sdgx": "delete", "contract_version": "1", "manifest": manifest_json}))), InvalidArgument, "\"sdgx\": \"publish\""),
            case("unknown command field", Input::Put(cmd(serde_json::json!({"sdgx": "publish", "contract_version": "1", "manifest": manifest_json, "admin": true}))), InvalidArgument, "unknown field \"admin\""),
            case("no manifest", Input::Put(cmd(serde_json::json!({"sdgx": "publish", "contract_version": "1"}))), InvalidArgument, "carries no manifest"),
            case("manifest without dataset", Input::Put(with_manifest(&|mj| { mj.as_object_mut().expect("object").remove("dataset"); })), InvalidArgument, "missing field `dataset`"),
            case("manifest field of wrong type", Input::Put(with_manifest(&|mj| mj["indicators"] = "1.1.1".into())), InvalidArgument, "invalid type"),
            case("another agency's manifest", Input::Put(manifest_with(&|mm| mm.agency = "sms".into())), PermissionDenied, "may not publish as \"sms\""),
            case("unregistered dataset", Input::Put(manifest_with(&|mm| mm.dataset = "not-registered".into())), PermissionDenied, "not-registered"),
            case("manifest unknown indicator", Input::Put(manifest_with(&|mm| mm.indicators.push("99.9.9".into()))), InvalidArgument, "manifest_unknown_indicator"),
            case("manifest period reversed", Input::Put(manifest_with(&|mm| { mm.reference_period.start = "2024".into(); mm.reference_period.end = "2019".into(); })), InvalidArgument, "manifest_bad_reference_period"),
            case("manifest hash mismatch", Input::Put(manifest_with(&|mm| mm.content_hash = Some(format!("sha256:{}", "0".repeat(64))))), InvalidArgument, "manifest_content_hash_mismatch"),
            // Arrow IPC framing.
            case("descriptor only, no schema", Input::Put(corrupt(&|v| { v.truncate(1); v[0].data_header = Default::default(); })), InvalidArgument, "malformed"),
            case("schema header garbage", Input::Put(corrupt(&|v| v[0].data_header = vec![0xAB; 64].into())), InvalidArgument, "malformed"),
            case("schema header truncated", Input::Put(corrupt(&|v| v[0].data_header = half(&v[0].data_header))), InvalidArgument, "malformed"),
            case("batch header truncated", Input::Put(corrupt(&|v| v[1].data_header = half(&v[1].data_header))), InvalidArgument, "malformed"),
            case("batch body truncated", Input::Put(corrupt(&|v| v[1].data_body = half(&v[1].data_body))), InvalidArgument, "malformed"),
            case("batch body empty", Input::Put(corrupt(&|v| v[1].data_body = Default::default())), InvalidArgument, "malformed"),
            case("batch before schema", Input::Put(corrupt(&|v| { let d = v[0].flight_descriptor.take(); v.remove(0); v[0].flight_descriptor = d; })), InvalidArgument, "malformed"),
            case("schema swapped mid-stream", Input::Put(swap_msgs), InvalidArgument, "multiple Schema messages"),
            case("required column missing", Input::Put(data(self.with_column("ref_area", None))), InvalidArgument, "missing_column"),
            case("value column as text", Input::Put(data(self.with_column("obs_value", Some(text_col("1.5"))))), InvalidArgument, "wrong_type"),
            case("unknown extra column", Input::Put(data(self.with_column("colour", Some(text_col("red"))))), InvalidArgument, "unknown_column"),
            case("10,000 columns", Input::Put(data(wide)), InvalidArgument, "unknown_column"),
            case("10-deep nested type", Input::Put(data(self.with_column("comment_obs", Some(nested)))), InvalidArgument, "has type List"),
            case("dictionary column", Input::Put(data(self.with_column("sex", Some(dict.clone())))), InvalidArgument, "dictionary-encoded"),
            case("dictionary batch missing", Input::Put({ let mut v = data(self.with_column("sex", Some(dict))); v.remove(1); v }), InvalidArgument, "malformed"),
            case("invalid UTF-8 in a text column", Input::Put(invalid_utf8), InvalidArgument, "malformed"),
            case("string offsets out of bounds", Input::Put(bad_offsets), InvalidArgument, "malformed"),
            // Size and volume.
            case("message of 100 MB", Input::Put(corrupt(&|v| v[1].data_body = vec![7u8; 100 << 20].into())), OutOfRange, "too large"),
            case("a single 100 MB string", Input::Put(data(self.with_text("comment_obs", &big_string))), OutOfRange, "too large"),
            case("a 10 MB code", Input::Put(data(self.with_text("sex", &mb10))), InvalidArgument, "unknown_code"),
            case("a 10 MB comment", Input::Put(data(self.with_text("comment_obs", &mb10))), InvalidArgument, "text_too_long"),
            case("3,000,000 one-row batches", Input::Lazy(tiny), InvalidArgument, "max_publication_messages"),
            case("stalled upload", Input::Stall(corrupt(&|v| v.truncate(1))), DeadlineExceeded, "nothing arrived"),
            case("100,000 bad rows", Input::Put(data(all_bad)), InvalidArgument, "unknown_code"),
            // Invalid data.
            case("unknown code", Input::Put(data(self.with_text("sex", "W"))), InvalidArgument, "\"W\" is not a code of CL_SEX"),
            case("unknown indicator in a row", Input::Put(data(self.with_text("indicator", "99.9.9"))), InvalidArgument, "unknown_indicator"),
            case("malformed time period", Input::Put(data(self.with_text("time_period", "20x3"))), InvalidArgument, "malformed_time_period"),
            case("period outside the manifest", Input::Put(data(self.with_text("time_period", "1999"))), InvalidArgument, "time_period_outside_reference"),
            case("duplicate keys", Input::Put(data(twice)), InvalidArgument, "duplicate_key"),
            case("NaN values", Input::Put(data(self.with_column("obs_value", Some(value_col(f64::NAN))))), InvalidArgument, "non_finite_value"),
            case("null in a required column", Input::Put(data(null_area)), InvalidArgument, "missing_value"),
            // Other calls on the agents' port.
            case("ticket not JSON", Input::Get(b"\x00\x01garbage".to_vec()), InvalidArgument, "is not JSON"),
            case("ticket of another agency", Input::Get(TicketRequest::Dataset { agency: "sms".into(), dataset: "asylum-decisions".into(), as_of: None }.ticket().ticket.to_vec()), PermissionDenied, "only its own datasets"),
            case("ticket of another contract", Input::Get(br#"{"contract_version":"9","kind":"dataset","agency":"armstat","dataset":"ilcs-poverty"}"#.to_vec()), FailedPrecondition, "\"9\""),
            case("do_action", Input::Action, Unimplemented, "not offered"),
            case("handshake", Input::Handshake, Unimplemented, "client certificate"),
            // Transport: who may connect.
            case("no client certificate", Input::Transport { other_ca: false, plaintext: false }, Unavailable, "refused at connection"),
            case("certificate of another CA", Input::Transport { other_ca: true, plaintext: false }, Unavailable, "refused at connection"),
            case("plaintext to the TLS port", Input::Transport { other_ca: false, plaintext: true }, Unavailable, "refused at connection"),
        ]
    }

    /// Sends `input` and returns the status the coordinator answered with.
    async fn send(&self, input: Input) -> tonic::Status {
        let mut c = self.client("armstat").await;
        let put = |r: Result<tonic::Response<tonic::Streaming<arrow_flight::PutResult>>, tonic::Status>| async move {
            let mut s = r?.into_inner();
            match s.message().await? {
                Some(r) => Err(tonic::Status::unknown(format!("accepted: {}", String::from_utf8_lossy(&r.app_metadata)))),
                None => Err(tonic::Status::unknown("the stream ended without an acknowledgement")),
            }
        };
        let result: Result<(), tonic::Status> = match input {
            Input::Put(msgs) => put(c.do_put(stream::iter(msgs)).await).await,
            Input::Lazy(s) => put(c.do_put(s).await).await,
            Input::Stall(msgs) => put(c.do_put(stream::iter(msgs).chain(stream::pending())).await).await,
            Input::Get(t) => match c.do_get(arrow_flight::Ticket::new(t)).await {
                Ok(r) => r.into_inner().message().await.map(|_| ()),
                Err(s) => Err(s),
            },
            Input::Action => c.do_action(Action::new("drop", "")).await.map(|_| ()),
            Input::Handshake => c.handshake(stream::iter(vec![HandshakeRequest::default()])).await.map(|_| ()),
            Input::Transport { other_ca, plaintext } => {
                let identity = other_ca.then_some((self.foreign.as_path(), "armstat"));
                match self.connect(identity, plaintext).await {
                    Err(e) => Err(tonic::Status::unavailable(format!("refused at connection: {e}"))),
                    Ok(mut c) => {
                        let r = put(c.do_put(stream::iter(self.publication(&self.manifest, vec![self.batch.clone()]))).await).await;
                        // A handshake failure can also surface on the first call.
                        r.map_err(|s| tonic::Status::unavailable(format!("refused at connection: {s}")))
                    }
                }
            }
        };
        match result {
            Ok(()) => tonic::Status::ok("the call succeeded"),
            Err(s) => s,
        }
    }

    /// Reads armstat's dataset on a fresh connection: the port still serves.
    async fn rows_served(&self) -> usize {
        let mut c = self.client("armstat").await;
        let ticket = TicketRequest::Dataset { agency: "armstat".into(), dataset: "ilcs-poverty".into(), as_of: None }.ticket();
        let s = c.do_get(ticket).await.expect("do_get").into_inner();
        let flight = arrow_flight::decode::FlightRecordBatchStream::new_from_flight_data(
            s.map(|r| r.map_err(arrow_flight::error::FlightError::from)),
        );
        let batches: Vec<RecordBatch> = futures::TryStreamExt::try_collect(flight).await.expect("batches");
        batches.iter().map(|b| b.num_rows()).sum()
    }
}

/// The Flight messages of `batches`: schema, then each batch as one message (dictionaries
/// sent as dictionary batches, not hydrated).
fn encode(batches: Vec<RecordBatch>) -> Vec<FlightData> {
    use arrow_flight::encode::{DictionaryHandling, FlightDataEncoderBuilder};
    let encoder = FlightDataEncoderBuilder::new()
        .with_max_flight_data_size(usize::MAX)
        .with_dictionary_handling(DictionaryHandling::Resend)
        .build(stream::iter(batches.into_iter().map(Ok)));
    futures::executor::block_on(futures::TryStreamExt::try_collect(encoder)).expect("encodes")
}

fn with_descriptor(mut msgs: Vec<FlightData>, d: FlightDescriptor) -> Vec<FlightData> {
    msgs[0].flight_descriptor = Some(d);
    msgs
}

fn replace(batch: &RecordBatch, name: &str, array: Option<ArrayRef>) -> RecordBatch {
    let schema = batch.schema();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut cols = batch.columns().to_vec();
    match (schema.index_of(name).ok(), array) {
        (Some(i), Some(a)) => {
            fields[i] = Field::new(name, a.data_type().clone(), true);
            cols[i] = a;
        }
        (Some(i), None) => {
            fields.remove(i);
            cols.remove(i);
        }
        (None, Some(a)) => {
            fields.push(Field::new(name, a.data_type().clone(), true));
            cols.push(a);
        }
        (None, None) => {}
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("batch")
}

/// The Parquet files under the table directory `root`, as paths relative to it (as the Delta
/// log names them).
fn data_files(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("store directory").flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                let rel = p.strip_prefix(root).expect("inside the store").to_string_lossy().into_owned();
                out.push(rel);
            }
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_get_clear_errors_and_change_nothing() {
    let fx = Fixture::start().await;
    let store = fx.running.catalog.store().clone();
    let version = store.version().await;
    let staging = fx.running.dir.path().join("staging");
    let before = fx.rows_served().await;
    assert!(before > 0);

    // Another client polls the HTTP API throughout.
    let (served, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let bystander = {
        let (served, failed) = (served.clone(), failed.clone());
        let url = format!("http://{}/health", fx.running.http);
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
            loop {
                tokio::select! {
                    _ = &mut stop_rx => return,
                    _ = tick.tick() => {}
                }
                match http.get(&url).send().await {
                    Ok(r) if r.status().is_success() => served.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };

    let cases = fx.cases();
    assert!(cases.len() >= 40, "the corpus holds {} cases", cases.len());
    let mut table = vec![format!("| # | case | expected | answered | message (first 120 characters) |\n|---|---|---|---|---|")];
    let mut failures = vec![];
    for (i, case) in cases.into_iter().enumerate() {
        let status = fx.send(case.input).await;
        let message = status.message().to_owned();
        let short: String = message.chars().take(120).collect::<String>().replace('|', "/").replace('\n', " ");
        table.push(format!("| {} | {} | {:?} | {:?} | {short} |", i + 1, case.name, case.code, status.code()));
        let mut wrong = vec![];
        if status.code() != case.code {
            wrong.push(format!("code {:?}, expected {:?}", status.code(), case.code));
        }
        if !message.contains(case.says) {
            wrong.push(format!("message does not say {:?}", case.says));
        }
        if message.len() + status.details().len() > STATUS_BOUND {
            wrong.push(format!("message of {} bytes and details of {}", message.len(), status.details().len()));
        }
        if status.code() == Code::InvalidArgument && message.contains("rejected") {
            let report = sdgx_schemas::flight::decode_report(status.details()).expect("a rejection carries its report");
            if report.errors.is_empty() {
                wrong.push("the report in the details lists no error".into());
            }
        }
        // A publication the coordinator has read a manifest of names it.
        if case.code == Code::InvalidArgument && message.contains("ilcs-poverty") != message.contains("armstat") {
            wrong.push("names the dataset without the agency".into());
        }
        if store.version().await != version {
            wrong.push(format!("the store moved to version {}", store.version().await));
        }
        if fx.rows_served().await != before {
            wrong.push("the dataset served changed".into());
        }
        if !wrong.is_empty() {
            failures.push(format!("case {} ({}): {}\n  message: {}", i + 1, case.name, wrong.join("; "), message.chars().take(2000).collect::<String>()));
        }
    }
    let _ = stop_tx.send(());
    bystander.await.expect("bystander");
    println!("{}", table.join("\n"));
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(failed.load(Ordering::Relaxed), 0, "the HTTP API failed another client during the corpus");
    assert!(served.load(Ordering::Relaxed) > 0, "the bystander was served");
    let left: Vec<_> = std::fs::read_dir(&staging).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "staging files left behind: {left:?}");
    // Refused publications' data files and facts are deleted before the answer: every Parquet
    // file in the store is one a commit added or the facts a log entry names.
    let mut added: std::collections::HashSet<String> = fx.running.catalog.store().read_commits().await.expect("commits")
        .iter()
        .flat_map(|c| c.actions.iter().filter_map(|a| a["add"]["path"].as_str().map(str::to_owned)))
        .collect();
    for e in fx.running.catalog.store().publications().await {
        let facts = e.facts.expect("committed with facts");
        added.extend([facts.breakdowns.path, facts.gaps.path]);
    }
    let store = fx.running.dir.path().join("store");
    let orphans: Vec<String> = data_files(&store).into_iter().filter(|p| !added.contains(p)).collect();
    assert!(orphans.is_empty(), "data files of refused publications left in the store: {orphans:?}");

    // The port still accepts a valid publication: new values, one new version.
    let values: ArrayRef = Arc::new(Float64Array::from_iter_values((0..fx.batch.num_rows()).map(|i| 10.0 + i as f64)));
    let changed = fx.with_column("obs_value", Some(values));
    let mut c = fx.client("armstat").await;
    let mut acks = c.do_put(stream::iter(fx.signed_publication("armstat", &fx.manifest, changed))).await.expect("accepted").into_inner();
    let ack = sdgx_schemas::flight::Ack::decode(&acks.message().await.expect("reply").expect("ack").app_metadata).expect("ack");
    assert!(!ack.duplicate);
    assert_eq!(ack.store_version, version + 1);
    let audit = sdgx_coordinator::audit::verify(&fx.running.catalog).await.expect("audit");
    assert!(audit.first_mismatch.is_none(), "audit verify after the corpus: {audit}");
}
