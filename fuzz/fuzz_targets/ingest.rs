//! The coordinator's receive path: Flight messages -> IPC decoder -> validator.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sdgx_schemas::fuzzing::ingest(data);
});
