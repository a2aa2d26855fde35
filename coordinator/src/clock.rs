//! The coordinator's clock: the time decisions are stamped with and the official view is read
//! at (embargoes end by it).
//!
//! It is the system clock, unless `SDGX_CLOCK_FILE` names a file: then the time is read from
//! that file (one RFC 3339 time) at every call, so a test moves a running coordinator's time by
//! rewriting the file, without sleeping and without restarting it. The variable is for tests;
//! the coordinator warns at start when it is set. In-process tests use [`Clock::manual`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};

/// The environment variable naming the clock file.
pub const CLOCK_FILE: &str = "SDGX_CLOCK_FILE";

/// Where the time comes from.
#[derive(Debug, Clone, Default)]
pub struct Clock(Source);

#[derive(Debug, Clone, Default)]
enum Source {
    #[default]
    System,
    File(PathBuf),
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    /// The system clock, or the file `SDGX_CLOCK_FILE` names.
    pub fn from_env() -> Clock {
        match std::env::var_os(CLOCK_FILE) {
            Some(p) => Clock(Source::File(p.into())),
            None => Clock(Source::System),
        }
    }

    /// A clock showing `t` until [`Clock::set`] moves it.
    pub fn manual(t: DateTime<Utc>) -> Clock {
        Clock(Source::Manual(Arc::new(Mutex::new(t))))
    }

    /// Moves a manual clock to `t` (other clocks are not moved).
    pub fn set(&self, t: DateTime<Utc>) {
        if let Source::Manual(m) = &self.0 {
            *m.lock().expect("clock lock") = t;
        }
    }

    /// Now.
    pub fn now(&self) -> Result<DateTime<Utc>> {
        match &self.0 {
            Source::System => Ok(Utc::now()),
            Source::Manual(m) => Ok(*m.lock().expect("clock lock")),
            Source::File(path) => {
                let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
                DateTime::parse_from_rfc3339(text.trim()).map(|t| t.with_timezone(&Utc)).map_err(|e| {
                    Error::Config(format!("{CLOCK_FILE} {}: {:?} is not an RFC 3339 time: {e}", path.display(), text.trim()))
                })
            }
        }
    }

    /// The file the time is read from, when it is a file's (the coordinator warns of it).
    pub fn file(&self) -> Option<&std::path::Path> {
        match &self.0 {
            Source::File(p) => Some(p),
            _ => None,
        }
    }
}
