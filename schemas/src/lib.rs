//! # sdgx-schemas: the data contract
//!
//! What every ministry agent and the national coordinator agree a published dataset is.
//! `schemas/README.md` explains the contract for people who do not read Rust.
//!
//! | module | concept |
//! | --- | --- |
//! | [`observation`] | the observation schema: columns, types, defaults, codelists |
//! | [`codelist`] | codelists, global (compiled in) and national extensions |
//! | [`settings`] | which `SDGX_*` environment variables are settings |
//! | [`api`] | HTTP API messages agents read (the reporting calendar) |
//! | [`framework`] | the indicator framework catalogue, global and national |
//! | [`language`] | language tags and preferences: choosing among translated texts |
//! | [`bundle`] | the framework in force as served to agents: its files, version and hash |
//! | [`contract`] | codelists + framework in force; the contract version |
//! | [`sdmx`] | the global SDMX structure (DSD, codelist versions, per-series content constraint) |
//! | [`time`] | SDMX time periods |
//! | [`manifest`] | the dataset manifest and the national metadata template |
//! | [`normalize`] | loosely-typed input (CSV, Parquet, query results) to wire batches |
//! | [`workbook`] | spreadsheets (XLSX, XLS, ODS) to Arrow batches |
//! | [`validate`] | streaming validation of a publication |
//! | [`quality`] | quality rules: plausibility warnings, with or without history |
//! | [`report`] | rules, problems, validation reports and import summaries |
//! | [`hash`] | canonical content and the content hash |
//! | [`evidence`] | signed evidence: the exact bytes agencies and the coordinator sign, signing and checking |
//! | [`flight`] | Flight descriptor, acknowledgement and ticket encoding |
//! | [`error`] | the crate's error type |
//! | `fuzzing` | (feature `fuzzing`) the harness of the fuzz targets and their regression tests |

pub mod api;
pub mod bundle;
pub mod codelist;
pub mod contract;
pub mod error;
pub mod evidence;
pub mod flight;
pub mod framework;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod hash;
pub mod language;
pub mod manifest;
pub mod normalize;
pub mod observation;
pub mod quality;
pub mod report;
pub mod sdmx;
pub mod settings;
pub mod time;
pub mod validate;
pub mod workbook;

pub use bundle::{FrameworkBundle, FrameworkRef};
pub use codelist::Codelists;
pub use contract::{Contract, CONTRACT_VERSION};
pub use error::{Error, Result};
pub use framework::{Framework, Indicator};
pub use manifest::{Manifest, Metadata, ReferencePeriod};
pub use normalize::Normalizer;
pub use observation::observation_schema;
pub use quality::{QualityChecker, QualityRules};
pub use report::{ImportSummary, Problem, Rule, Severity, ValidationReport};
pub use validate::{ValidationOptions, Validator};
