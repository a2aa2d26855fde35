//! Who may do what: bearer tokens for analysts and administrators (stored only as SHA-256
//! hashes), a limiter of repeated failed authentication per client address, and the agency
//! registry deciding which datasets each agency may publish.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Who is publishing, as established by the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Publisher {
    /// The agency named by a verified client certificate.
    Agency(String),
    /// A plaintext connection on a coordinator configured with `insecure_plaintext_publish`:
    /// the manifest's agency is trusted.
    Unverified,
}

/// A token holder's role. What each may do is [`Role::grants`]; nothing is granted by
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An agency without a server (or its agent): reads only its own reporting calendar and
    /// uploads only its own datasets (the token's name is the agency id). No figures, data or
    /// SQL.
    Agency,
    /// Reads figures, publications and data (both views); runs read-only SQL.
    Reader,
    /// The statistical office's sign-off: everything a reader may, plus the review queue and
    /// the decisions (approve, return, un-approve). No administration.
    Approver,
    /// Everything a reader may, plus administration (audit). No decisions.
    Admin,
    /// A monitoring system's scraper: `GET /metrics` only (counts and latencies, no data).
    Metrics,
}

impl Role {
    /// Whether a holder of this role may do what `need` stands for: `Agency` routes are open
    /// to agencies, readers, approvers and administrators (each checks the agency itself),
    /// `Reader` routes to readers, approvers and administrators, `Approver` routes to approvers
    /// only, `Admin` routes to administrators only, `Metrics` (the `/metrics` route) to the
    /// metrics role and administrators. A metrics token is granted nothing else.
    pub fn grants(self, need: Role) -> bool {
        match need {
            Role::Agency => self != Role::Metrics,
            Role::Metrics => matches!(self, Role::Metrics | Role::Admin),
            Role::Reader => matches!(self, Role::Reader | Role::Approver | Role::Admin),
            Role::Approver => self == Role::Approver,
            Role::Admin => self == Role::Admin,
        }
    }
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Role> {
        match s {
            "agency" => Ok(Role::Agency),
            "reader" => Ok(Role::Reader),
            "approver" => Ok(Role::Approver),
            "admin" => Ok(Role::Admin),
            "metrics" => Ok(Role::Metrics),
            _ => Err(Error::BadRequest(format!("unknown role {s:?}: use agency, reader, approver, admin or metrics"))),
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
    /// Tokens from the configuration plus an optional token file; none may be named
    /// [`crate::signoff::SYSTEM`].
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
        if entries.iter().any(|e| e.name == crate::signoff::SYSTEM) {
            return Err(Error::Config(format!("no token may be named {:?}: it is the coordinator's own identity in the sign-off log", crate::signoff::SYSTEM)));
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
        let text = toml::to_string(&file).map_err(|e| Error::Internal(e.to_string()))?;
        std::fs::write(path, text).map_err(Error::io(path))
    }
}

/// Limits failed authentication per client address (an IPv6 client counts by its /64, see
/// [`crate::listener::address_key`]).
///
/// Only *failed* credentials count: a request without credentials is answered 401 by its
/// caller and never reaches [`FailureLimiter::failed`], and neither does a CORS preflight; a
/// valid token is admitted without asking the limiter, so an address's failures never lock out
/// a valid token sent from it. Tokens carry about 244 random bits, so guessing one is hopeless
/// at any rate: the limiter bounds the *rate* of failed attempts (the hashing, logging and
/// answers they cost), it does not keep tokens secret.
///
/// Each address has an allowance of `max_failures` failures, refilled at `max_failures` per
/// `window` (GCRA, from `governor`); once it is spent, failures are refused with the time until
/// the next one is allowed, and the lockout is logged once per `window` per address. The
/// per-address state is dropped soon after it is back to a full allowance (within a window
/// and one refill period of its last failure; [`housekeep`](Self::housekeep)).
#[derive(Debug)]
pub struct FailureLimiter {
    failures: DefaultKeyedRateLimiter<IpAddr>,
    logged: DefaultKeyedRateLimiter<IpAddr>,
    counters: crate::metrics::Auth,
}

/// A failed authentication refused because its address has spent its allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockedOut {
    /// When the next failed attempt will be allowed.
    pub retry_after: Duration,
}

impl LockedOut {
    /// Whole seconds to wait, at least 1 (the `Retry-After` value).
    pub fn secs(&self) -> u64 {
        self.retry_after.as_secs_f64().ceil().max(1.0) as u64
    }

    /// The message of the refusal.
    pub fn message(&self) -> String {
        format!("too many failed authentication attempts from this address; retry after {} s", self.secs())
    }
}

impl FailureLimiter {
    /// A limiter allowing `max_failures` failures at once per address, refilled at
    /// `max_failures` per `window` (both at least 1: [`crate::Config::validate`] checks).
    pub fn new(max_failures: u32, window: Duration) -> Self {
        let burst = NonZeroU32::new(max_failures).unwrap_or(NonZeroU32::MIN);
        let window = window.max(Duration::from_secs(1));
        let refill = Quota::with_period((window / burst.get()).max(Duration::from_nanos(1))).expect("a non-zero period").allow_burst(burst);
        let log_once = Quota::with_period(window).expect("a non-zero window");
        FailureLimiter { failures: RateLimiter::keyed(refill), logged: RateLimiter::keyed(log_once), counters: crate::metrics::Auth::default() }
    }

    /// Records a failed credential from `ip`: `Ok` while the address has allowance left, the
    /// refusal (and, once per window, a warning naming the address) once it has none.
    pub fn failed(&self, ip: IpAddr) -> std::result::Result<(), LockedOut> {
        self.counters.failures.inc();
        let key = crate::listener::address_key(ip);
        let Err(not_until) = self.failures.check_key(&key) else { return Ok(()) };
        let locked = LockedOut { retry_after: not_until.wait_time_from(governor::clock::Clock::now(self.failures.clock())) };
        if self.logged.check_key(&key).is_ok() {
            self.counters.lockouts.inc();
            tracing::warn!(%ip, retry_after_secs = locked.secs(), "locked out an address after repeated failed authentication");
        }
        Err(locked)
    }

    /// How many lockouts were logged (one per address per window).
    pub fn lockouts(&self) -> u64 {
        self.counters.lockouts.get()
    }

    /// Its counters of failures and lockouts (see [`crate::metrics`]).
    pub fn counters(&self) -> &crate::metrics::Auth {
        &self.counters
    }

    /// Forgets the addresses back to a full allowance and frees their memory (the server calls
    /// it once per window, so the state holds only addresses that failed recently).
    pub fn housekeep(&self) {
        for l in [&self.failures, &self.logged] {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// The addresses with recent failures.
    pub fn tracked(&self) -> usize {
        self.failures.len()
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
    /// The reference areas its observations may carry, each a `CL_AREA` code or a prefix
    /// ending in `*` (`["AM", "AM-*"]`): a coordinator below this one publishes only as its own
    /// area (docs/upstream.md). Empty: any area.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub areas: Vec<String>,
}

/// The agency registry: deny by default.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    agencies: Vec<AgencyEntry>,
    /// The agency id reserved for the coordinator's own derived dataset, if any.
    reserved: Option<String>,
}

impl Registry {
    /// The registry of `agencies`.
    pub fn new(agencies: Vec<AgencyEntry>) -> Self {
        Registry { agencies, reserved: None }
    }

    /// The registry refusing every publication as `agency`, the coordinator's own
    /// (`derived_agency`), whatever the entries say: no certificate or token publishes as it.
    pub fn reserving(self, agency: &str) -> Self {
        Registry { reserved: Some(agency.to_owned()), ..self }
    }

    /// The registered agencies.
    pub fn agencies(&self) -> &[AgencyEntry] {
        &self.agencies
    }

    /// The areas `agency` may publish for, when its entry restricts them.
    pub fn areas(&self, agency: &str) -> Option<Vec<String>> {
        self.agencies.iter().find(|a| a.id == agency).map(|a| a.areas.clone()).filter(|a| !a.is_empty())
    }

    /// Whether `agency` may publish `dataset`; the error says why not.
    pub fn check(&self, agency: &str, dataset: &str) -> std::result::Result<(), String> {
        if self.reserved.as_deref() == Some(agency) {
            return Err(format!("agency {agency:?} is reserved for the coordinator's own derived dataset (derived_agency); no agent publishes as it"));
        }
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
    fn limiter_refuses_after_the_allowance_says_when_and_logs_once() {
        let l = FailureLimiter::new(3, Duration::from_secs(3600));
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(l.failed(ip), Ok(()));
        }
        let locked = l.failed(ip).unwrap_err();
        assert!(locked.secs() > 1000 && locked.secs() <= 1200, "one failure refills every 1200 s: {locked:?}");
        assert!(locked.message().contains("retry after"), "{}", locked.message());
        assert!(l.failed(ip).is_err());
        assert_eq!(l.lockouts(), 1, "logged once per window");
        assert_eq!(l.failed("127.0.0.10".parse().unwrap()), Ok(()), "another address is not affected");
        l.housekeep();
        assert_eq!(l.tracked(), 2, "recent failures are kept");
    }

    #[test]
    fn limiter_forgets_addresses_once_refilled() {
        let l = FailureLimiter::new(1, Duration::from_secs(1));
        l.failed("127.0.0.11".parse().unwrap()).unwrap();
        assert_eq!(l.tracked(), 1);
        // governor forgets a key one refill period after its state is back to full: 2 s here.
        std::thread::sleep(Duration::from_millis(2100));
        l.housekeep();
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn a_metrics_token_reads_the_metrics_only() {
        for need in [Role::Agency, Role::Reader, Role::Approver, Role::Admin] {
            assert!(!Role::Metrics.grants(need), "metrics may not do what {need:?} may");
        }
        assert!(Role::Metrics.grants(Role::Metrics) && Role::Admin.grants(Role::Metrics));
        for other in [Role::Agency, Role::Reader, Role::Approver] {
            assert!(!other.grants(Role::Metrics), "{other:?} may not read the metrics");
        }
        assert_eq!("metrics".parse::<Role>().unwrap(), Role::Metrics);
    }

    #[test]
    fn limiter_counts_failures_and_lockouts() {
        let l = FailureLimiter::new(2, Duration::from_secs(3600));
        let ip: IpAddr = "127.0.0.12".parse().unwrap();
        for _ in 0..4 {
            let _ = l.failed(ip);
        }
        assert_eq!((l.counters().failures.get(), l.counters().lockouts.get()), (4, 1));
    }

    #[test]
    fn registry_denies_by_default() {
        let r = Registry::new(vec![AgencyEntry { id: "sms".into(), name: String::new(), datasets: vec!["asylum".into()], areas: vec![] }]);
        assert!(r.check("sms", "asylum").is_ok());
        assert!(r.check("sms", "other").unwrap_err().contains("not registered"));
        assert!(r.check("moh", "asylum").unwrap_err().contains("not in the coordinator's agency registry"));
        assert!(Registry::default().check("sms", "asylum").is_err());
    }

    #[test]
    fn the_derived_agency_is_refused_to_every_publisher_and_no_token_is_the_system() {
        let entries = vec![AgencyEntry { id: "sdgx".into(), name: String::new(), datasets: vec!["headline".into()], areas: vec![] }];
        assert!(Registry::new(entries.clone()).check("sdgx", "headline").is_ok(), "an entry allows it ...");
        let e = Registry::new(entries).reserving("sdgx").check("sdgx", "headline").unwrap_err();
        assert!(e.contains("reserved") && e.contains("derived_agency"), "... but not once reserved: {e}");
        let (_, system) = Tokens::create(crate::signoff::SYSTEM, Role::Approver);
        let e = Tokens::load(&[system], None).unwrap_err().to_string();
        assert!(e.contains(crate::signoff::SYSTEM), "{e}");
    }
}
