//! # sdgx-coordinator
//!
//! The national coordinator: receives publications over Arrow Flight, validates them with the
//! contract, commits each to a versioned Delta store, and computes the national figures as
//! DataFusion SQL views served over HTTP.
//!
//! | module | concept |
//! | --- | --- |
//! | [`config`] | settings, loaded from TOML and `SDGX_*` variables |
//! | [`error`] | the crate's error type and its gRPC / HTTP mappings |
//! | [`store`] | the Delta store and the publications log |

pub mod config;
pub mod error;
pub mod store;

pub use config::Config;
pub use error::{Error, Result};
