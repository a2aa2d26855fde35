//! The manifest and Flight message parsers: descriptor, TOML manifest, ack, ticket.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sdgx_schemas::fuzzing::manifest(data);
});
