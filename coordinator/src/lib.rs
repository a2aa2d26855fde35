//! # sdgx-coordinator
//!
//! The national coordinator: receives publications over Arrow Flight, validates them with the
//! contract, commits each to a versioned Delta store, and computes the national figures as
//! DataFusion SQL views served over HTTP and the command line.
//!
//! | module | concept |
//! | --- | --- |
//! | [`config`] | settings, loaded from TOML and `SDGX_*` variables |
//! | [`error`] | the crate's error type and its gRPC / HTTP mappings |
//! | [`auth`] | tokens, the failed-authentication limiter, the agency registry |
//! | [`pki`] | the national CA, agent certificates and the identity rule |
//! | [`storage`] | the object stores a store URL may name, and their options |
//! | [`calendar`] | the reporting calendar: reports owed and their due dates |
//! | [`store`] | the Delta store and the publications log |
//! | [`entry`] | a publication's entry in the tamper-evident log |
//! | [`audit`] | the tamper-evident log chain and its verification |
//! | [`signoff`] | the statistical office's sign-off: decisions, publication states, the official and provisional views |
//! | [`clock`] | the coordinator's clock (injectable by tests) |
//! | [`ingest`] | receiving, validating and committing one publication |
//! | [`framework_service`] | the framework in force served to agents; refusing other frameworks |
//! | [`flight`] | the agents' Arrow Flight service (publications) |
//! | [`flightsql`] | the analysts' Arrow Flight SQL service |
//! | [`catalog`] | query sessions over the store: tables and views |
//! | [`figures`] | the figures' SQL views and their results |
//! | [`derived`] | the coordinator's own derived dataset: the headline per year as observations of the framework's headline indicator |
//! | [`review`] | the review queue: each publication's row diff, figure impact and warnings |
//! | [`release`] | official releases as events: the watch over the official view |
//! | [`upstream`] | publishing the official view to an upstream coordinator, as one of its agencies |
//! | [`query`] | the analysts' read-only SQL sandbox |
//! | [`query_pool`] | the analysts' query threads, admission queue and cancellation |
//! | [`http`] | the HTTP API |
//! | [`table`] | plain-text rendering of figures |
//! | [`i18n`] | the languages of the outputs people read: Fluent messages, labels for codes, numbers and dates |
//! | [`export`] | VNR exports: SDMX-CSV, Open SDG, the XLSX annex, the HTML report |
//! | [`dashboard`] | the web dashboard (server-rendered HTML) |
//! | [`openapi`] | the HTTP API's OpenAPI description |
//! | [`metrics`] | the Prometheus metrics served at `/metrics` |
//! | [`listener`] | admission of connections: caps, TLS handshake and first-request timeouts |
//! | [`server`] | startup, listeners and graceful shutdown |

pub mod audit;
pub mod auth;
pub mod calendar;
pub mod catalog;
pub mod config;
pub mod clock;
pub mod crash_point;
pub mod entry;
pub mod dashboard;
pub mod derived;
pub mod error;
pub mod export;
pub mod facts;
pub mod figures;
pub mod flight;
pub mod framework_service;
pub mod flightsql;
pub mod http;
pub mod i18n;
pub mod ingest;
pub mod listener;
pub mod metrics;
pub mod openapi;
pub mod pki;
pub mod query;
pub mod query_pool;
pub mod release;
pub mod review;
pub mod server;
pub mod signoff;
pub mod storage;
pub mod store;
pub mod table;
pub mod upstream;

pub use config::Config;
pub use error::{Error, Result};
pub use server::Coordinator;
