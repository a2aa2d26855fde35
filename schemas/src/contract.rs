//! The contract in force: codelists plus the indicator framework, global or national, and the
//! national files it was made from (what a coordinator serves to its agents).

use std::path::Path;

use crate::bundle::FrameworkBundle;
use crate::codelist::Codelists;
use crate::error::{Error, Result};
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
    /// The national files it was made from, with the framework's name, version and hash.
    pub bundle: FrameworkBundle,
}

impl Contract {
    /// The global contract compiled into this build.
    pub fn global() -> Self {
        let framework = Framework::global();
        let bundle = FrameworkBundle::new(&framework.name, &framework.version, None, None);
        Contract { codelists: Codelists::global(), framework, bundle }
    }

    /// The global contract extended by an optional national codelist file and an optional
    /// national framework file (codelists are applied first, so the framework may use them).
    pub fn load(national_codelists: Option<&Path>, national_framework: Option<&Path>) -> Result<Self> {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|source| Error::Io { path: p.to_owned(), source });
        let codelists = national_codelists.map(|p| Ok::<_, Error>((p.display().to_string(), read(p)?))).transpose()?;
        let framework = national_framework.map(|p| Ok::<_, Error>((p.display().to_string(), read(p)?))).transpose()?;
        Contract::from_texts(
            codelists.as_ref().map(|(n, t)| (n.as_str(), t.as_str())),
            framework.as_ref().map(|(n, t)| (n.as_str(), t.as_str())),
        )
    }

    /// As [`load`](Self::load), from the files' texts, each with the name errors give it.
    pub fn from_texts(national_codelists: Option<(&str, &str)>, national_framework: Option<(&str, &str)>) -> Result<Self> {
        let mut c = Contract::global();
        if let Some((name, text)) = national_codelists {
            c.codelists.extend_from_str(name, text)?;
        }
        if let Some((name, text)) = national_framework {
            c.framework.apply_str(name, text, &mut c.codelists)?;
        }
        c.bundle = FrameworkBundle::new(
            &c.framework.name,
            &c.framework.version,
            national_codelists.map(|(_, t)| t.to_owned()),
            national_framework.map(|(_, t)| t.to_owned()),
        );
        Ok(c)
    }
}
