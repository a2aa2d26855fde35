//! The framework in force as the coordinator serves it to agents: the national codelist file
//! and the national framework file it loaded, byte for byte, with the framework's name and
//! version and a content hash.
//!
//! The global codelists and framework are compiled into every build (they are part of
//! [`crate::CONTRACT_VERSION`]); a bundle carries only the national files on top of them. A
//! bundle without files is the global framework alone.
//!
//! **Canonical form.** The hash is `sha256:` + the lowercase hex SHA-256 of these bytes:
//!
//! ```text
//! sdgx-framework-v1\n
//! contract <contract version>\n
//! codelists <byte length in decimal>\n<the file's exact bytes>\n      (or: codelists -\n)
//! framework <byte length in decimal>\n<the file's exact bytes>\n      (or: framework -\n)
//! ```
//!
//! Every file is covered; file names and paths are not (the same files installed under other
//! names have the same hash). Bytes are hashed as they are, so a re-saved file with other line
//! endings is another framework.
//!
//! **On the wire** a bundle is JSON (`{"contract_version": "1", "name", "version", "hash",
//! "codelists", "framework"}`); [`FrameworkBundle::decode`] refuses one whose files do not
//! hash to its `hash`, or whose framework file does not name its `name` and `version`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::contract::{Contract, CONTRACT_VERSION};
use crate::error::{Error, Result};

/// Largest bundle accepted, in bytes (a national framework with metadata templates is tens of
/// kilobytes; codelists a few).
pub const MAX_BUNDLE_BYTES: usize = 16 << 20;

/// Which framework a publication was validated against, or which one is in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameworkRef {
    /// The framework's name.
    pub name: String,
    /// The framework's version (the national file's `version`, or `global`).
    pub version: String,
    /// `sha256:<hex>` over the canonical form (see the [module docs](self)).
    pub hash: String,
}

impl std::fmt::Display for FrameworkRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} version {} ({})", self.name, self.version, self.hash)
    }
}

/// The national files of the framework in force, with their name, version and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameworkBundle {
    /// The contract version of the build that made it.
    pub contract_version: String,
    /// The framework's name.
    pub name: String,
    /// The framework's version.
    pub version: String,
    /// `sha256:<hex>` over the canonical form.
    pub hash: String,
    /// The national codelist file (`codelist,code,name`), exactly as loaded.
    #[serde(default)]
    pub codelists: Option<String>,
    /// The national framework file (TOML), exactly as loaded.
    #[serde(default)]
    pub framework: Option<String>,
}

/// The canonical bytes the hash is taken over (see the [module docs](self)).
pub fn canonical(codelists: Option<&str>, framework: Option<&str>) -> Vec<u8> {
    let mut out = format!("sdgx-framework-v1\ncontract {CONTRACT_VERSION}\n").into_bytes();
    for (tag, file) in [("codelists", codelists), ("framework", framework)] {
        match file {
            Some(text) => {
                out.extend_from_slice(format!("{tag} {}\n", text.len()).as_bytes());
                out.extend_from_slice(text.as_bytes());
                out.push(b'\n');
            }
            None => out.extend_from_slice(format!("{tag} -\n").as_bytes()),
        }
    }
    out
}

/// `sha256:<hex>` of the canonical form of these files.
pub fn hash(codelists: Option<&str>, framework: Option<&str>) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(canonical(codelists, framework))))
}

/// Whether `s` has the form `sha256:` followed by 64 lowercase hex digits.
pub fn is_hash(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

impl FrameworkBundle {
    /// The bundle of these files; `name` and `version` are those of the framework they make.
    pub(crate) fn new(name: &str, version: &str, codelists: Option<String>, framework: Option<String>) -> Self {
        FrameworkBundle {
            contract_version: CONTRACT_VERSION.into(),
            name: name.into(),
            version: version.into(),
            hash: hash(codelists.as_deref(), framework.as_deref()),
            codelists,
            framework,
        }
    }

    /// Which framework this is.
    pub fn reference(&self) -> FrameworkRef {
        FrameworkRef { name: self.name.clone(), version: self.version.clone(), hash: self.hash.clone() }
    }

    /// The contract these files make on top of the compiled-in global one. Fails with
    /// [`Error::Bundle`] when the files do not hash to `hash` or the framework they make is not
    /// `name` `version`, and with the file's error when one does not load.
    pub fn contract(&self) -> Result<Contract> {
        if self.contract_version != CONTRACT_VERSION {
            return Err(Error::UnsupportedVersion { got: self.contract_version.clone(), supported: CONTRACT_VERSION });
        }
        let actual = hash(self.codelists.as_deref(), self.framework.as_deref());
        if actual != self.hash {
            return Err(Error::Bundle(format!("its files hash to {actual}, not to the {} it declares", self.hash)));
        }
        let (cl, fw) = (format!("the codelists of framework {}", self.hash), format!("the framework file of {}", self.hash));
        let contract = Contract::from_texts(
            self.codelists.as_deref().map(|t| (cl.as_str(), t)),
            self.framework.as_deref().map(|t| (fw.as_str(), t)),
        )?;
        let made = contract.bundle.reference();
        if (made.name.as_str(), made.version.as_str()) != (self.name.as_str(), self.version.as_str()) {
            return Err(Error::Bundle(format!(
                "it declares {:?} version {}, but its framework file is {:?} version {}",
                self.name, self.version, made.name, made.version
            )));
        }
        Ok(contract)
    }

    /// The bundle as JSON.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("serialisable")
    }

    /// Decodes a bundle and checks it: its contract version, its hash and that its files load
    /// (see [`contract`](Self::contract)). Returns it with the contract it makes.
    pub fn decode(bytes: &[u8]) -> Result<(FrameworkBundle, Contract)> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(Error::Bundle(format!("it is {} bytes; at most {MAX_BUNDLE_BYTES} are accepted", bytes.len())));
        }
        let b: FrameworkBundle = serde_json::from_slice(bytes).map_err(|e| Error::Bundle(format!("it is not a framework bundle: {e}")))?;
        let c = b.contract()?;
        Ok((b, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAMEWORK: &str = "name = \"Testland SDG framework\"\nversion = \"2026.1\"\nout_of_scope = [\"14.1.1\"]\n";
    const CODELISTS: &str = "codelist,code,name\nCL_AREA,AM-ER,Yerevan\n";

    #[test]
    fn the_canonical_form_is_as_documented_and_covers_every_file() {
        assert_eq!(
            canonical(Some("ab"), None),
            format!("sdgx-framework-v1\ncontract {CONTRACT_VERSION}\ncodelists 2\nab\nframework -\n").into_bytes()
        );
        // Every file counts, and the length prefix keeps the boundary between them.
        let hashes = [
            hash(None, None),
            hash(Some(CODELISTS), None),
            hash(None, Some(FRAMEWORK)),
            hash(Some(CODELISTS), Some(FRAMEWORK)),
            hash(Some(""), None),
            hash(None, Some("")),
            hash(Some("a\nframework -"), None),
            hash(Some(&CODELISTS.replace('\n', "\r\n")), Some(FRAMEWORK)),
        ];
        let distinct: std::collections::BTreeSet<&String> = hashes.iter().collect();
        assert_eq!(distinct.len(), hashes.len(), "{hashes:?}");
        assert!(hashes.iter().all(|h| is_hash(h)), "{hashes:?}");
        assert_eq!(hash(Some(CODELISTS), Some(FRAMEWORK)), hash(Some(CODELISTS), Some(FRAMEWORK)), "deterministic");
        // The hash of the global framework alone is fixed by the format: a change of the
        // canonical form shows here.
        assert_eq!(
            hash(None, None),
            format!("sha256:{}", hex::encode(Sha256::digest(format!("sdgx-framework-v1\ncontract {CONTRACT_VERSION}\ncodelists -\nframework -\n"))))
        );
    }

    #[test]
    fn a_bundle_roundtrips_and_makes_the_same_contract() {
        let c = Contract::from_texts(Some(("c.csv", CODELISTS)), Some(("f.toml", FRAMEWORK))).unwrap();
        let b = c.bundle.clone();
        assert_eq!((b.name.as_str(), b.version.as_str()), ("Testland SDG framework", "2026.1"));
        assert_eq!(b.hash, hash(Some(CODELISTS), Some(FRAMEWORK)));
        let (back, contract) = FrameworkBundle::decode(&b.encode()).unwrap();
        assert_eq!(back, b);
        assert!(contract.codelists.contains("CL_AREA", "AM-ER"));
        assert!(!contract.framework.indicator("14.1.1").unwrap().in_scope);
        assert_eq!(Contract::global().bundle.reference(), FrameworkRef { name: "UN global indicator framework".into(), version: "global".into(), hash: hash(None, None) });
    }

    #[test]
    fn a_tampered_or_inconsistent_bundle_is_refused() {
        let b = Contract::from_texts(None, Some(("f.toml", FRAMEWORK))).unwrap().bundle;
        let mut edited = b.clone();
        edited.framework = Some(FRAMEWORK.replace("14.1.1", "14.2.1"));
        let e = FrameworkBundle::decode(&edited.encode()).unwrap_err().to_string();
        assert!(e.contains("hash to") && e.contains(&b.hash), "{e}");
        let mut renamed = b.clone();
        renamed.version = "2027.1".into();
        let e = FrameworkBundle::decode(&renamed.encode()).unwrap_err().to_string();
        assert!(e.contains("declares") && e.contains("2027.1") && e.contains("2026.1"), "{e}");
        let e = FrameworkBundle::decode(b"{\"name\": 1").unwrap_err().to_string();
        assert!(e.contains("not a framework bundle"), "{e}");
        let mut future = b;
        future.contract_version = "9".into();
        assert!(matches!(FrameworkBundle::decode(&future.encode()), Err(Error::UnsupportedVersion { .. })));
    }
}
