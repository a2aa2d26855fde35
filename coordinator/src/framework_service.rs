//! The framework in force, served to the agents: the `framework` action of the agents' Flight
//! port answers any registered agency with the [`FrameworkBundle`] the coordinator loaded (its
//! national codelist and framework files, their name, version and content hash); and a
//! publication validated against another framework is refused before any row is read, with a
//! message naming both frameworks and what the agency should do.
//!
//! A publication whose command names no framework (an agent older than this check) is
//! validated as before. One that names a framework with another hash is refused with
//! [`Error::FrameworkMismatch`] (`FailedPrecondition`), whatever its rows: two frameworks with
//! different files may accept different codes and indicators, and the agent, told so,
//! refetches the framework and revalidates by itself, so refusing costs one round trip where
//! accepting could store rows checked against rules the coordinator does not apply.

use arrow_flight::ActionType;
use sdgx_schemas::bundle::FrameworkRef;
use sdgx_schemas::flight::{FrameworkMismatch, FRAMEWORK_ACTION};
use sdgx_schemas::{Contract, FrameworkBundle, Manifest};

use crate::auth::Registry;
use crate::error::{Error, Result};
use crate::auth::Publisher;

/// The action as `list_actions` describes it.
pub fn action_type() -> ActionType {
    ActionType {
        r#type: FRAMEWORK_ACTION.into(),
        description: "The framework in force: the national codelist and framework files with their name, version and sha256 content hash (JSON)".into(),
    }
}

/// Whether `caller` may fetch the framework: any agency of the registry (or anyone on a
/// development coordinator that trusts plaintext publishers).
pub fn authorize(registry: &Registry, caller: &Publisher) -> Result<()> {
    match caller {
        Publisher::Agency(a) if !registry.agencies().iter().any(|r| r.id == *a) => {
            tracing::warn!(agency = %a, "framework fetch denied: not a registered agency");
            Err(Error::PermissionDenied(format!("agency {a:?} is not in the coordinator's agency registry")))
        }
        Publisher::Agency(_) | Publisher::Unverified => Ok(()),
    }
}

/// The bundle of the contract in force, as the action's result body.
pub fn bundle(contract: &Contract) -> &FrameworkBundle {
    &contract.bundle
}

/// Refuses `manifest`'s publication when the agent says it validated it against another
/// framework than `contract`'s; a publication that names none passes.
pub fn check(contract: &Contract, manifest: &Manifest, validated: Option<&FrameworkRef>) -> Result<()> {
    let ours = contract.bundle.reference();
    match validated {
        Some(v) if v.hash != ours.hash => {
            let m = FrameworkMismatch::new(format!("agency {} dataset {}", manifest.agency, manifest.dataset), v.clone(), ours);
            tracing::warn!(agency = %manifest.agency, dataset = %manifest.dataset, validated = %m.validated, in_force = %m.coordinator,
                "publication validated against another framework refused");
            Err(Error::FrameworkMismatch(Box::new(m)))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AgencyEntry;

    fn manifest() -> Manifest {
        Manifest::from_toml("agency = \"sms\"\ndataset = \"asylum\"\ntitle = \"t\"\nindicators = [\"10.7.p2\"]\nperiodicity = \"A\"\n[reference_period]\nstart = \"2019\"\nend = \"2023\"\n").unwrap()
    }

    #[test]
    fn a_publication_of_another_framework_is_refused_naming_both() {
        let c = Contract::from_texts(None, Some(("f.toml", "name = \"Testland\"\nversion = \"2026.2\"\n"))).unwrap();
        assert!(check(&c, &manifest(), None).is_ok(), "an agent that names no framework is validated as before");
        assert!(check(&c, &manifest(), Some(&c.bundle.reference())).is_ok());
        let old = Contract::from_texts(None, Some(("f.toml", "name = \"Testland\"\nversion = \"2026.1\"\n"))).unwrap().bundle.reference();
        let e = check(&c, &manifest(), Some(&old)).unwrap_err();
        let status = tonic::Status::from(e);
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        for part in ["agency sms dataset asylum", "2026.1", "2026.2", &old.hash, &c.bundle.hash, "sdgx-agent framework fetch"] {
            assert!(status.message().contains(part), "{part:?} not in {}", status.message());
        }
        let details = FrameworkMismatch::decode(status.details()).expect("the details are the mismatch");
        assert_eq!((details.validated, details.coordinator), (old, c.bundle.reference()));
    }

    #[test]
    fn only_registered_agencies_fetch_the_framework() {
        let r = Registry::new(vec![AgencyEntry { id: "sms".into(), name: String::new(), datasets: vec![], areas: vec![] }]);
        assert!(authorize(&r, &Publisher::Agency("sms".into())).is_ok());
        assert!(matches!(authorize(&r, &Publisher::Agency("moh".into())), Err(Error::PermissionDenied(_))));
        assert!(authorize(&r, &Publisher::Unverified).is_ok());
    }
}
