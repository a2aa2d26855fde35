//! Inputs the fuzz targets (`fuzz/`, `docs/fuzzing.md`) crashed on, run through the same
//! harness (`sdgx_schemas::fuzzing`) on every `cargo test`: each must be refused with an error,
//! not a panic, an abort or an unbounded allocation. Also checks the seed publications the
//! `ingest` target starts from are valid, so the fuzzer reaches the validator.
//!
//! `SDGX_FUZZ_REGRESSIONS=fuzz/artifacts cargo test -p sdgx-schemas --test fuzz_regressions --
//! --nocapture` replays what a fuzzing run found instead, printing each input's outcome.
//!
//! `SDGX_FUZZ_SEEDS=<dir> cargo test -p sdgx-schemas --test fuzz_regressions seeds` writes the
//! seeds to `<dir>/ingest/` and `<dir>/manifest/` (the corpus directories `cargo fuzz run`
//! reads).

use std::path::{Path, PathBuf};

use sdgx_schemas::flight::{Ack, PublishCommand, TicketRequest};
use sdgx_schemas::fuzzing::{self, Outcome};

/// The regression inputs of one target: `tests/fuzz-regressions/<target>/*`, or
/// `$SDGX_FUZZ_REGRESSIONS/<target>/*` (to replay a fuzzer's `artifacts/` directory).
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = std::env::var_os("SDGX_FUZZ_REGRESSIONS")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions"), PathBuf::from);
    let dir = root.join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.map(|e| e.expect("readable directory").path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    files.into_iter().map(|p| { let b = std::fs::read(&p).expect("readable input"); (p, b) }).collect()
}

#[test]
fn ingest_regressions_are_refused_with_an_error() {
    for (path, data) in inputs("ingest") {
        match fuzzing::ingest(&data) {
            Outcome::Accepted(s) => panic!("{}: accepted ({} rows)", path.display(), s.rows),
            Outcome::Rejected(r) => {
                assert!(r.error_count > 0, "{}", path.display());
                eprintln!("{}: rejected: {}", path.display(), r.errors[0]);
            }
            Outcome::Malformed(m) => eprintln!("{}: {m}", path.display()),
        }
    }
}

#[test]
fn manifest_regressions_do_not_panic() {
    for (path, data) in inputs("manifest") {
        let parsed = fuzzing::manifest(&data);
        assert!(parsed.publish.is_err() || parsed.toml.as_ref().is_some_and(|t| t.is_err()), "{}: {parsed:?}", path.display());
    }
}

#[test]
fn seeds_are_valid_publications() {
    let seeds = fuzzing::seeds(16);
    assert_eq!(seeds.len(), fuzzing::EXAMPLES.len());
    for (i, seed) in seeds.iter().enumerate() {
        match fuzzing::ingest(seed) {
            Outcome::Accepted(s) => assert!(s.rows > 0, "seed {i}"),
            other => panic!("seed {i} ({}) is not accepted: {other:?}", fuzzing::manifests()[i].dataset),
        }
    }
    if let Some(dir) = std::env::var_os("SDGX_FUZZ_SEEDS") {
        let dir = Path::new(&dir).join("ingest");
        std::fs::create_dir_all(&dir).expect("seed directory");
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{}", fuzzing::manifests()[i].dataset)), seed).expect("seed written");
        }
        // The manifest target's seeds: each manifest as TOML and as a descriptor command, an
        // acknowledgement and a ticket.
        let dir = dir.with_file_name("manifest");
        std::fs::create_dir_all(&dir).expect("seed directory");
        for (i, ((toml, _), m)) in fuzzing::EXAMPLES.iter().zip(fuzzing::manifests()).enumerate() {
            std::fs::write(dir.join(format!("toml-{i}")), toml).expect("seed written");
            std::fs::write(dir.join(format!("cmd-{i}")), &PublishCommand::descriptor(m).cmd).expect("seed written");
        }
        let ack = Ack { contract_version: "1".into(), publication_id: "p".into(), store_version: 3, duplicate: true, rows: 9, content_hash: format!("sha256:{}", "0".repeat(64)), entry: None };
        std::fs::write(dir.join("ack"), ack.encode()).expect("seed written");
        let ticket = TicketRequest::Dataset { agency: "sms".into(), dataset: "asylum-decisions".into(), as_of: Some(2) };
        std::fs::write(dir.join("ticket"), &ticket.ticket().ticket).expect("seed written");
    }
}

/// A deterministic taste of what the fuzzer does: every seed cut short and with single bytes
/// flipped is still answered, never a panic.
#[test]
fn damaged_seeds_are_answered() {
    for seed in fuzzing::seeds(16).iter().take(2) {
        for cut in (1..seed.len()).step_by(61) {
            let _ = fuzzing::ingest(&seed[..cut]);
        }
        for at in (1..seed.len()).step_by(53) {
            let mut bad = seed.clone();
            bad[at] ^= 0xff;
            let _ = fuzzing::ingest(&bad);
        }
    }
}

/// A publication whose first record batch is re-declared LZ4-compressed, each buffer's
/// uncompressed-length prefix claiming 1 TiB. arrow-ipc 59 allocates that length before
/// decompressing (`Vec::with_capacity`), which aborts the whole process when the allocation
/// fails; `IpcGuard` refuses compressed bodies first. Built here rather than found: the
/// fuzzer's run did not reach it.
#[test]
fn compressed_body_claiming_a_terabyte_is_refused() {
    let seed = &fuzzing::seeds(16)[2];
    let (pick, messages) = fuzzing::unframe(seed);
    let messages = fuzzing::claim_a_terabyte(messages);
    match fuzzing::ingest(&fuzzing::frame(pick, &messages)) {
        Outcome::Malformed(m) => assert!(m.contains("compressed"), "{m}"),
        other => panic!("a compressed body must be refused as malformed: {other:?}"),
    }
}

/// An IPC record batch without columns may claim any row count (up to 2^63 - 1); three of
/// them overflowed the validator's row counter. Found by reading, not by the fuzzer.
#[test]
fn batches_claiming_huge_row_counts_do_not_overflow() {
    use arrow::array::{RecordBatch, RecordBatchOptions};
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::empty());
    let options = RecordBatchOptions::new().with_row_count(Some(i64::MAX as usize));
    let batch = RecordBatch::try_new_with_options(schema, vec![], &options).expect("a batch without columns");
    let mut v = sdgx_schemas::Validator::new(fuzzing::contract(), fuzzing::manifests()[0].clone(), Default::default());
    for _ in 0..3 {
        v.push(&batch);
    }
    assert_eq!(v.rows(), u64::MAX);
    let report = v.finish().expect("in memory").expect_err("no observation columns");
    assert_eq!(report.rows, u64::MAX);
}
