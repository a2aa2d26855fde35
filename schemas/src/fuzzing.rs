//! The harness shared by the `cargo fuzz` targets in `fuzz/` and the regression tests in
//! `schemas/tests/fuzz_regressions.rs` (feature `fuzzing`; `docs/fuzzing.md` explains both).
//!
//! - [`ingest`] turns arbitrary bytes into a sequence of `FlightData` messages and runs them
//!   through the coordinator's receive path: [`crate::flight::IpcGuard`] on every
//!   message, arrow-flight's `FlightRecordBatchStream` to decode them, and a [`Validator`]
//!   with the Armenia contract and one of the example federation's manifests.
//! - [`manifest`] runs arbitrary bytes through every parser of manifests and Flight messages:
//!   the publication descriptor, the agent's TOML manifest, the acknowledgement and the ticket.
//!
//! Neither may panic, abort, hang or allocate far beyond the size of its input: each is
//! untrusted network or file input the coordinator or an agent reads.
//!
//! ## Input framing of [`ingest`]
//! Byte 0 selects the manifest (modulo the number of example manifests). The rest is a
//! sequence of messages, each a little-endian `u32` length and that many bytes of IPC
//! `data_header`, then a `u32` length and that many bytes of `data_body`; a length beyond the
//! end of the input takes what is left. [`frame`] writes this form.

use std::sync::LazyLock;

use arrow::array::RecordBatch;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::{FlightData, FlightDescriptor, Ticket};
use futures::{StreamExt, TryStreamExt};

use crate::flight::{Ack, PublishCommand, TicketRequest};
use crate::{Contract, ImportSummary, Manifest, ValidationOptions, ValidationReport, Validator};

/// The Armenia contract of the worked example (global codelists and framework plus the
/// national extensions in `examples/armenia/`), compiled in.
pub fn contract() -> &'static Contract {
    static C: LazyLock<Contract> = LazyLock::new(|| {
        Contract::from_texts(
            Some(("codelists.csv", include_str!("../../examples/armenia/codelists.csv"))),
            Some(("framework.toml", include_str!("../../examples/armenia/framework.toml"))),
        )
        .expect("the Armenia contract loads")
    });
    &C
}

/// The example federation's datasets: (manifest TOML, CSV rows).
pub const EXAMPLES: &[(&str, &str)] = &[
    (include_str!("../../examples/federation/armstat/ilcs-poverty.manifest.toml"),
     include_str!("../../examples/federation/armstat/ilcs-poverty.csv")),
    (include_str!("../../examples/federation/armstat/ilcs-returned-migrants.manifest.toml"),
     include_str!("../../examples/federation/armstat/ilcs-returned-migrants.csv")),
    (include_str!("../../examples/federation/cba/remittances.manifest.toml"),
     include_str!("../../examples/federation/cba/remittances.csv")),
    (include_str!("../../examples/federation/diaspora/diaspora-initiatives.manifest.toml"),
     include_str!("../../examples/federation/diaspora/diaspora-initiatives.csv")),
    (include_str!("../../examples/federation/labour/labour-market.manifest.toml"),
     include_str!("../../examples/federation/labour/labour-market.csv")),
    (include_str!("../../examples/federation/moes/scholarships-and-early-learning.manifest.toml"),
     include_str!("../../examples/federation/moes/scholarships-and-early-learning.csv")),
    (include_str!("../../examples/federation/moh/health.manifest.toml"),
     include_str!("../../examples/federation/moh/health.csv")),
    (include_str!("../../examples/federation/sms/asylum-decisions.manifest.toml"),
     include_str!("../../examples/federation/sms/asylum-decisions.csv")),
];

/// The manifests of [`EXAMPLES`], parsed.
pub fn manifests() -> &'static [Manifest] {
    static M: LazyLock<Vec<Manifest>> = LazyLock::new(|| {
        EXAMPLES.iter().map(|(m, _)| Manifest::from_toml(m).expect("example manifests parse")).collect()
    });
    &M
}

/// What the receive path made of one publication.
#[derive(Debug)]
pub enum Outcome {
    /// Valid: the import summary.
    Accepted(ImportSummary),
    /// Decoded but invalid: the validation report.
    Rejected(ValidationReport),
    /// Refused before validation could finish: a malformed message or IPC stream.
    Malformed(String),
}

impl Outcome {
    /// Whether the publication was refused, one way or the other.
    pub fn is_err(&self) -> bool {
        !matches!(self, Outcome::Accepted(_))
    }
}

/// Splits fuzz input into (manifest index, messages); see the module docs for the framing.
pub fn unframe(data: &[u8]) -> (usize, Vec<FlightData>) {
    let Some((&pick, mut rest)) = data.split_first() else { return (0, Vec::new()) };
    let take = |rest: &mut &[u8]| -> Vec<u8> {
        let (len, tail) = match rest.split_first_chunk::<4>() {
            Some((len, tail)) => (u32::from_le_bytes(*len) as usize, tail),
            None => (rest.len(), &[][..]),
        };
        let (chunk, tail) = tail.split_at(len.min(tail.len()));
        *rest = tail;
        chunk.to_vec()
    };
    let mut messages = Vec::new();
    while !rest.is_empty() {
        let header = take(&mut rest);
        let body = take(&mut rest);
        messages.push(FlightData { data_header: header.into(), data_body: body.into(), ..Default::default() });
    }
    (usize::from(pick) % manifests().len(), messages)
}

/// Writes messages in the framing [`unframe`] reads.
pub fn frame(manifest: usize, messages: &[FlightData]) -> Vec<u8> {
    let mut out = vec![u8::try_from(manifest).expect("a small index")];
    for m in messages {
        for part in [&m.data_header, &m.data_body] {
            out.extend_from_slice(&u32::try_from(part.len()).expect("under 4 GiB").to_le_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

/// Encodes batches as an agent sends them: a descriptor with the manifest, the schema, the
/// batches (`arrow_flight`'s encoder, default options).
pub fn encode(manifest: &Manifest, schema: arrow::datatypes::SchemaRef, batches: Vec<RecordBatch>) -> Vec<FlightData> {
    let stream = FlightDataEncoderBuilder::new()
        .with_flight_descriptor(Some(PublishCommand::descriptor(manifest)))
        .with_schema(schema)
        .build(futures::stream::iter(batches.into_iter().map(Ok)));
    futures::executor::block_on(stream.try_collect()).expect("valid batches encode")
}

/// The example datasets encoded as their agents send them, in [`frame`]d form: valid
/// publications to seed the `ingest` fuzz target with. `batch_rows` rows per batch.
pub fn seeds(batch_rows: usize) -> Vec<Vec<u8>> {
    EXAMPLES
        .iter()
        .enumerate()
        .map(|(i, (_, csv))| {
            let header = csv.lines().next().unwrap_or_default();
            let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(
                header.split(',').map(|n| arrow::datatypes::Field::new(n.trim(), arrow::datatypes::DataType::Utf8, true)).collect::<Vec<_>>(),
            ));
            let reader = arrow::csv::ReaderBuilder::new(schema.clone())
                .with_header(true)
                .with_batch_size(batch_rows)
                .build(std::io::Cursor::new(csv.as_bytes()))
                .expect("CSV reader");
            let mut normalizer = crate::Normalizer::new(contract(), &schema);
            let wire = reader
                .map(|b| normalizer.normalize(&b.expect("example CSV reads"), &mut |_| {}).expect("example CSV normalises"))
                .collect();
            frame(i, &encode(&manifests()[i], crate::normalize::observation_schema_nullable(), wire))
        })
        .collect()
}

/// Runs fuzz input through the coordinator's receive path; see the module docs.
pub fn ingest(data: &[u8]) -> Outcome {
    let (pick, messages) = unframe(data);
    receive(contract(), &manifests()[pick], ValidationOptions::default(), messages)
}

/// The coordinator's receive path (`coordinator/src/ingest.rs`) without a server or a store:
/// every message checked by [`crate::flight::IpcGuard`], decoded by
/// `FlightRecordBatchStream`, each batch validated as it arrives, stopping early once the
/// error cap is reached; a stream with a schema and no batch is an empty publication.
pub fn receive(contract: &Contract, manifest: &Manifest, options: ValidationOptions, messages: Vec<FlightData>) -> Outcome {
    let mut guard = crate::flight::IpcGuard::new();
    let checked = futures::stream::iter(messages).map(move |m| {
        guard.check(&m).map_err(|e| FlightError::DecodeError(e.to_string()))?;
        Ok(m)
    });
    let mut decoded = FlightRecordBatchStream::new_from_flight_data(checked);
    let mut validator = Validator::new(contract, manifest.clone(), options);
    let mut yielded = false;
    let result = futures::executor::block_on(async {
        while let Some(batch) = decoded.next().await {
            let batch = batch?;
            yielded = true;
            validator.push(&batch);
            if validator.has_errors() && validator.saturated() {
                return Ok(());
            }
        }
        if !yielded && let Some(schema) = decoded.schema() {
            validator.push(&RecordBatch::new_empty(schema.clone()));
        }
        Ok::<_, FlightError>(())
    });
    if let Err(e) = result {
        return Outcome::Malformed(format!("the Arrow IPC stream is malformed: {e}"));
    }
    match validator.finish() {
        Ok(Ok(summary)) => {
            assert!(crate::hash::is_well_formed(&summary.content_hash), "a content hash is well formed");
            Outcome::Accepted(summary)
        }
        Ok(Err(report)) => {
            assert!(report.error_count > 0 && !report.errors.is_empty(), "a rejection names its errors");
            Outcome::Rejected(report)
        }
        Err(e) => Outcome::Malformed(e.to_string()),
    }
}

/// What the parsers made of one input.
#[derive(Debug)]
pub struct Parsed {
    /// `PublishCommand::decode` of a CMD descriptor holding the input.
    pub publish: crate::Result<Manifest>,
    /// `Manifest::from_toml`, when the input is UTF-8.
    pub toml: Option<crate::Result<Manifest>>,
    /// `Ack::decode`.
    pub ack: crate::Result<Ack>,
    /// `TicketRequest::decode`.
    pub ticket: crate::Result<TicketRequest>,
}

/// Runs fuzz input through every manifest and Flight message parser. Whatever parses must
/// also pass the contract's manifest check without panicking, and round-trip: encoded again,
/// it decodes to the same value.
pub fn manifest(data: &[u8]) -> Parsed {
    let publish = PublishCommand::decode(Some(&FlightDescriptor::new_cmd(data.to_vec())));
    let toml = std::str::from_utf8(data).ok().map(Manifest::from_toml);
    for m in [&publish].into_iter().chain(toml.as_ref()).filter_map(|r| r.as_ref().ok()) {
        let _ = m.check(contract());
        let again = PublishCommand::decode(Some(&PublishCommand::descriptor(m))).expect("an encoded manifest decodes");
        assert_eq!(&again, m, "a manifest round-trips through its descriptor");
        let toml_again = toml::to_string(m).expect("a manifest serialises as TOML");
        assert_eq!(&Manifest::from_toml(&toml_again).expect("a serialised manifest parses"), m, "a manifest round-trips through TOML");
    }
    let ack = Ack::decode(data);
    if let Ok(a) = &ack {
        assert_eq!(&Ack::decode(&a.encode()).expect("an encoded ack decodes"), a);
    }
    let ticket = TicketRequest::decode(&Ticket::new(data.to_vec()));
    if let Ok(t) = &ticket {
        assert_eq!(&TicketRequest::decode(&t.ticket()).expect("an encoded ticket decodes"), t);
    }
    Parsed { publish, toml, ack, ticket }
}

/// `messages` with their first record batch re-declared LZ4-compressed, each buffer's
/// uncompressed-length prefix claiming 2^40 bytes: arrow-ipc 59 allocates that length before
/// decompressing (`Vec::with_capacity`), which aborts the process when the allocation fails.
/// [`crate::flight::IpcGuard`] refuses compressed bodies first. Panics when `messages` carry
/// no record batch.
pub fn claim_a_terabyte(mut messages: Vec<FlightData>) -> Vec<FlightData> {
    use arrow::ipc::{self, BodyCompressionBuilder, BodyCompressionMethod, CompressionType, MessageBuilder, MessageHeader, RecordBatchBuilder};
    let at = messages
        .iter()
        .position(|m| ipc::root_as_message(&m.data_header).is_ok_and(|h| h.header_type() == MessageHeader::RecordBatch))
        .expect("the messages carry a record batch");
    let original = ipc::root_as_message(&messages[at].data_header).unwrap();
    let rb = original.header_as_record_batch().unwrap();
    let nodes: Vec<ipc::FieldNode> = rb.nodes().unwrap().iter().copied().collect();
    let buffers: Vec<ipc::Buffer> = rb.buffers().unwrap().iter().copied().collect();
    let mut fbb = flatbuffers::FlatBufferBuilder::new();
    let (fb_nodes, fb_buffers) = (fbb.create_vector(&nodes), fbb.create_vector(&buffers));
    let compression = {
        let mut b = BodyCompressionBuilder::new(&mut fbb);
        b.add_codec(CompressionType::LZ4_FRAME);
        b.add_method(BodyCompressionMethod::BUFFER);
        b.finish()
    };
    let batch = {
        let mut b = RecordBatchBuilder::new(&mut fbb);
        b.add_length(rb.length());
        b.add_nodes(fb_nodes);
        b.add_buffers(fb_buffers);
        b.add_compression(compression);
        b.finish()
    };
    let message = {
        let mut b = MessageBuilder::new(&mut fbb);
        b.add_version(original.version());
        b.add_header_type(MessageHeader::RecordBatch);
        b.add_header(batch.as_union_value());
        b.add_bodyLength(original.bodyLength());
        b.finish()
    };
    fbb.finish(message, None);
    let mut body = messages[at].data_body.to_vec();
    for b in buffers.iter().filter(|b| b.length() >= 8) {
        let o = b.offset() as usize;
        body[o..o + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    }
    messages[at].data_header = fbb.finished_data().to_vec().into();
    messages[at].data_body = body.into();
    messages
}
