//! The contract in force: codelists plus the indicator framework, global or national.

use std::path::Path;

use crate::codelist::Codelists;
use crate::error::Result;
use crate::framework::Framework;

/// The version of the data contract this build speaks on the wire.
pub const CONTRACT_VERSION: &str = "1";

/// Codelists and framework, as agreed between every agent and the coordinator.
#[derive(Debug, Clone)]
pub struct Contract {
    /// Every codelist, global plus national extensions.
    pub codelists: Codelists,
    /// The indicator framework in force.
    pub framework: Framework,
}

impl Contract {
    /// The global contract compiled into this build.
    pub fn global() -> Self {
        Contract { codelists: Codelists::global(), framework: Framework::global() }
    }

    /// The global contract extended by an optional national codelist file and an optional
    /// national framework file (codelists are applied first, so the framework may use them).
    pub fn load(national_codelists: Option<&Path>, national_framework: Option<&Path>) -> Result<Self> {
        let mut c = Contract::global();
        if let Some(p) = national_codelists {
            c.codelists.extend_from_file(p)?;
        }
        if let Some(p) = national_framework {
            c.framework.apply_file(p, &mut c.codelists)?;
        }
        Ok(c)
    }
}
