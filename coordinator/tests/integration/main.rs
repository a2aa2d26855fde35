//! The coordinator's integration tests, one module per concern, linked into one test binary (each
//! binary links DataFusion). Run one concern with `cargo test -p sdgx-coordinator --test integration
//! <module>::`, e.g. `slt::`.

mod common;
mod areas;
mod derived;
mod facts_match_reference;
mod review;
mod slt;
mod upload;
