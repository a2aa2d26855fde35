//! The whole-system tests, one module per concern, linked into one test binary: each binary
//! links the coordinator, the agent and DataFusion, and one link instead of twenty-four keeps
//! CI's build time and disk use down. Run one concern with `cargo test -p sdgx-e2e --test e2e
//! <module>::`, e.g. `hostile::`.

mod backfill;
mod binaries;
mod crash;
mod dashboard_languages;
mod delivery;
mod exports;
mod federation;
mod flightsql;
mod framework;
mod hostile;
mod hostile_connections;
mod hostile_ingest;
mod hostile_queries;
mod https;
mod object_store;
mod observability;
mod openapi;
mod other_engines;
mod replicas;
mod security;
mod signoff;
mod system;
mod tamper;
mod upload;
