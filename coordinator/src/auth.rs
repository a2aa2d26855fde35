//! Who may do what: bearer tokens for analysts and administrators (stored only as SHA-256
//! hashes), a limiter of repeated failed authentication per client address, and the agency
//! registry deciding which datasets each agency may publish.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A token holder's role, from least to most trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An agency's agent: reads only its own reporting calendar (the token's name is the
    /// agency id). No figures, data or SQL.
    Agency,
    /// Reads figures, publications and data; runs read-only SQL.
    Reader,
    /// Everything a reader may, plus administration (audit).
    Admin,
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Role> {
        match s {
            "agency" => Ok(Role::Agency),
            "reader" => Ok(Role::Reader),
            "admin" => Ok(Role::Admin),
            _ => Err(Error::BadRequest(format!("unknown role {s:?}: use agency, reader or admin"))),
        }
    }
}

/// One token, as stored: its holder, role and the SHA-256 of the secret (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// Who holds it.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// `sha256:<hex>` of the token.
    pub sha256: String,
}

/// The token file: `[[token]]` entries.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFile {
    /// The entries.
    #[serde(default, rename = "token")]
    pub tokens: Vec<TokenEntry>,
}

fn digest(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// Compares in time independent of where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The tokens in force.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    entries: Vec<TokenEntry>,
}

impl Tokens {
    /// Tokens from the configuration plus an optional token file.
    pub fn load(inline: &[TokenEntry], file: Option<&Path>) -> Result<Tokens> {
        let mut entries = inline.to_vec();
        if let Some(f) = file.filter(|f| f.exists()) {
            let text = std::fs::read_to_string(f).map_err(Error::io(f))?;
            let parsed: TokenFile = toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", f.display())))?;
            entries.extend(parsed.tokens);
        }
        if let Some(bad) = entries.iter().find(|e| !sdgx_schemas::hash::is_well_formed(&e.sha256)) {
            return Err(Error::Config(format!("token {:?}: sha256 must be sha256:<64 lowercase hex>", bad.name)));
        }
        Ok(Tokens { entries })
    }

    /// The holder and role of `token`, if it is valid.
    pub fn authenticate(&self, token: &str) -> Option<(&str, Role)> {
        let d = digest(token);
        self.entries.iter().find(|e| constant_time_eq(e.sha256.as_bytes(), d.as_bytes())).map(|e| (e.name.as_str(), e.role))
    }

    /// Creates a new random token for `name` with `role`: the secret (shown once) and the entry
    /// to store.
    pub fn create(name: &str, role: Role) -> (String, TokenEntry) {
        let a = uuid::Uuid::new_v4();
        let b = uuid::Uuid::new_v4();
        let secret = format!("sdgx_{}{}", a.simple(), b.simple());
        let entry = TokenEntry { name: name.to_owned(), role, sha256: digest(&secret) };
        (secret, entry)
    }

    /// Appends `entry` to the token file at `path` (created if missing).
    pub fn append_to_file(path: &Path, entry: TokenEntry) -> Result<()> {
        let mut file = if path.exists() {
            toml::from_str::<TokenFile>(&std::fs::read_to_string(path).map_err(Error::io(path))?)
                .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
        } else {
            TokenFile::default()
        };
        if file.tokens.iter().any(|t| t.name == entry.name) {
            return Err(Error::BadRequest(format!("a token named {:?} already exists in {}", entry.name, path.display())));
        }
        file.tokens.push(entry);
        let text = toml::to_string(&file).map_err(|e| Error::Config(e.to_string()))?;
        std::fs::write(path, text).map_err(Error::io(path))
    }
}

/// Limits repeated failed authentication per client address: after `max_failures` failures
/// within `window`, the address is refused until the window has passed.
#[derive(Debug)]
pub struct FailureLimiter {
    max_failures: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl FailureLimiter {
    /// A limiter allowing `max_failures` per `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        FailureLimiter { max_failures, window, seen: Mutex::new(HashMap::new()) }
    }

    /// Whether `ip` is currently refused.
    pub fn blocked(&self, ip: IpAddr) -> bool {
        let mut seen = self.seen.lock().expect("limiter lock");
        match seen.get(&ip) {
            Some((n, since)) if since.elapsed() < self.window => *n >= self.max_failures,
            Some(_) => {
                seen.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Records a failed attempt from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let mut seen = self.seen.lock().expect("limiter lock");
        let e = seen.entry(ip).or_insert((0, Instant::now()));
        if e.1.elapsed() >= self.window {
            *e = (0, Instant::now());
        }
        e.0 += 1;
    }
}

/// One agency of the registry and the datasets it may publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyEntry {
    /// Agency id, as bound in its certificate.
    pub id: String,
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// Dataset ids it may publish.
    pub datasets: Vec<String>,
}

/// The agency registry: deny by default.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    agencies: Vec<AgencyEntry>,
}

impl Registry {
    /// The registry of `agencies`.
    pub fn new(agencies: Vec<AgencyEntry>) -> Self {
        Registry { agencies }
    }

    /// The registered agencies.
    pub fn agencies(&self) -> &[AgencyEntry] {
        &self.agencies
    }

    /// Whether `agency` may publish `dataset`; the error says why not.
    pub fn check(&self, agency: &str, dataset: &str) -> std::result::Result<(), String> {
        let Some(a) = self.agencies.iter().find(|a| a.id == agency) else {
            return Err(format!("agency {agency:?} is not in the coordinator's agency registry"));
        };
        if !a.datasets.iter().any(|d| d == dataset) {
            return Err(format!("dataset {dataset:?} is not registered for agency {agency:?}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_hashed_and_checked() {
        let (secret, entry) = Tokens::create("ana", Role::Reader);
        assert!(!entry.sha256.contains(&secret[5..]), "the entry never holds the secret");
        let t = Tokens::load(&[entry], None).unwrap();
        assert_eq!(t.authenticate(&secret), Some(("ana", Role::Reader)));
        assert_eq!(t.authenticate("sdgx_wrong"), None);
        assert_eq!(t.authenticate(""), None);
    }

    #[test]
    fn limiter_blocks_after_repeated_failures() {
        let l = FailureLimiter::new(3, Duration::from_secs(3600));
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        for _ in 0..3 {
            assert!(!l.blocked(ip));
            l.failed(ip);
        }
        assert!(l.blocked(ip));
        assert!(!l.blocked("127.0.0.10".parse().unwrap()));
    }

    #[test]
    fn registry_denies_by_default() {
        let r = Registry::new(vec![AgencyEntry { id: "sms".into(), name: String::new(), datasets: vec!["asylum".into()] }]);
        assert!(r.check("sms", "asylum").is_ok());
        assert!(r.check("sms", "other").unwrap_err().contains("not registered"));
        assert!(r.check("moh", "asylum").unwrap_err().contains("not in the coordinator's agency registry"));
        assert!(Registry::default().check("sms", "asylum").is_err());
    }
}
