//! The tamper-evident publications log, and its verification against the whole Delta log.
//!
//! Every commit after the table's creation is one publication, carrying its log entry (commit
//! metadata key [`crate::store::LOG_KEY`]), or one sign-off decision, carrying the
//! [`Decision`] (key [`DECISION_KEY`]) and no data actions. Publications and decisions form one
//! chain. A publication's entry anchors, by hashes:
//! - the publication's rows (`content_hash`, recomputed from the rows the store holds);
//! - the commit's actions (`actions_hash`: every action of the commit but its `commitInfo`,
//!   adds and removes with their paths, sizes, partition values, statistics and deletion
//!   vectors, in the canonical form of [`actions_hash`]);
//! - the previous entry (`previous_entry_hash`), so the entries form a chain;
//!
//! and the serving coordinator records the chain's head (version and entry hash) outside the
//! store, in `<data_dir>/state/head.json`, after every commit, so deleting or replacing the
//! newest commits is seen too.
//!
//! Each entry also carries signatures (see [`sdgx_schemas::evidence`]): the agency's of its
//! publication, with its client certificate, and the coordinator's of the entry at its store
//! version, with its signing certificate. Both are checked wherever the chain is; [`verify`]
//! also checks each certificate against the CA certificates configured or given
//! (`audit verify --ca`), and then requires the coordinator's signature on every entry.
//!
//! [`check_log`] replays the commit files from version 0 and checks all of it but the rows
//! and the certificates (the coordinator runs it at start); [`verify`] adds them. Each failure
//! names the commit (store version) and, where it has one, the entry.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::signoff::{Decision, DECISION_KEY};
use crate::entry::{PublicationEntry, LOG_KEY};
use sdgx_schemas::evidence::{self, Purpose, Signature, Trust};

/// The `previous_entry_hash` of the first entry.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of a log entry: SHA-256 of its JSON serialisation (fields in declaration order)
/// with `entry_hash` empty, `store_version` 0 (the version is known only after the commit) and
/// no `coordinator_signature` (which signs this hash). It covers `actions_hash` when the entry
/// has one, and the agency's signature.
pub fn entry_hash(e: &PublicationEntry) -> String {
    let mut c = e.clone();
    c.entry_hash = String::new();
    c.store_version = 0;
    c.coordinator_signature = None;
    json_hash(&c)
}

/// The hash of a decision, the same way: its JSON with `entry_hash` empty, `store_version` 0 and
/// no `coordinator_signature`.
pub fn decision_hash(d: &Decision) -> String {
    let mut c = d.clone();
    c.entry_hash = String::new();
    c.store_version = 0;
    c.coordinator_signature = None;
    json_hash(&c)
}

fn json_hash<T: Serialize>(v: &T) -> String {
    let bytes = serde_json::to_vec(v).expect("log entries serialise");
    format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
}

/// The hash of a commit's actions (each a JSON object such as `{"add": {…}}`, as written in the
/// commit file; `commitInfo` excluded): SHA-256 of the tag `sdgx-actions-v1\n` followed by each
/// action's canonical JSON (object keys sorted at every level, no whitespace) and a newline, the
/// actions sorted by that form. Every field counts: for an add its path, size, partition values,
/// statistics, data-change flag and deletion vector; for a remove the same but statistics.
pub fn actions_hash(actions: &[Value]) -> String {
    let mut lines: Vec<String> = actions
        .iter()
        .map(|a| {
            let mut s = String::new();
            sdgx_schemas::evidence::canonical_json(a, &mut s);
            s
        })
        .collect();
    lines.sort_unstable();
    let mut h = Sha256::new();
    h.update(b"sdgx-actions-v1\n");
    for l in &lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// One commit of the Delta log, as read from its commit file.
#[derive(Debug, Clone)]
pub struct LogCommit {
    /// Its version.
    pub version: i64,
    /// `commitInfo.timestamp` (ms since the epoch).
    pub timestamp: Option<i64>,
    /// The publications-log entry of its `commitInfo`: none, or one that does not parse.
    pub entry: Option<std::result::Result<PublicationEntry, String>>,
    /// The sign-off decision of its `commitInfo`: none, or one that does not parse.
    pub decision: Option<std::result::Result<Decision, String>>,
    /// Every action but `commitInfo`, in file order.
    pub actions: Vec<Value>,
    /// Why the file is not a readable commit, if it is not.
    pub unreadable: Option<String>,
}

/// Parses a commit file (newline-delimited JSON actions).
pub fn parse_commit(version: i64, bytes: &[u8]) -> LogCommit {
    let mut c = LogCommit { version, timestamp: None, entry: None, decision: None, actions: vec![], unreadable: None };
    let Ok(text) = std::str::from_utf8(bytes) else {
        c.unreadable = Some("the commit file is not UTF-8".into());
        return c;
    };
    let mut infos = 0;
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let action: Value = match serde_json::from_str(line) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                c.unreadable.get_or_insert_with(|| format!("line {} is not a JSON object", n + 1));
                continue;
            }
            Err(e) => {
                c.unreadable.get_or_insert_with(|| format!("line {} is not JSON: {e}", n + 1));
                continue;
            }
        };
        match action.get("commitInfo") {
            Some(info) => {
                infos += 1;
                c.timestamp = info.get("timestamp").and_then(Value::as_i64);
                c.entry = info.get(LOG_KEY).map(|e| serde_json::from_value(e.clone()).map_err(|e| e.to_string()));
                c.decision = info.get(DECISION_KEY).map(|d| serde_json::from_value(d.clone()).map_err(|e| e.to_string()));
            }
            None => c.actions.push(action),
        }
    }
    if infos > 1 {
        c.unreadable.get_or_insert_with(|| format!("it carries {infos} commitInfo actions"));
    }
    c
}

impl LogCommit {
    /// The `entry_hash` of the log entry (publication or decision) the commit carries.
    pub fn entry_hash(&self) -> Option<&str> {
        match (&self.entry, &self.decision) {
            (Some(Ok(e)), _) => Some(&e.entry_hash),
            (_, Some(Ok(d))) => Some(&d.entry_hash),
            _ => None,
        }
    }
}

/// The head of the log as the serving coordinator last recorded it, outside the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    /// The store version of the newest entry.
    pub version: i64,
    /// Its publication (for a decision: the publication decided on).
    pub publication_id: String,
    /// Its `entry_hash`.
    pub entry_hash: String,
}

impl Head {
    /// The head whose newest entry is `e`.
    pub fn of(e: &PublicationEntry) -> Head {
        Head { version: e.store_version, publication_id: e.publication_id.clone(), entry_hash: e.entry_hash.clone() }
    }

    /// The head whose newest entry is the decision `d`.
    pub fn of_decision(d: &Decision) -> Head {
        Head { version: d.store_version, publication_id: d.publication_id.clone(), entry_hash: d.entry_hash.clone() }
    }
}

/// Reads the recorded head at `path` (none when the file does not exist).
pub fn read_head(path: &Path) -> Result<Option<Head>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Integrity(format!("{}: the recorded head of the log is unreadable: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path)(e)),
    }
}

/// Records `head` at `path` atomically: a temporary file written and flushed to disk, renamed
/// over the old record, and the directory flushed.
pub fn write_head(path: &Path, head: &Head) -> Result<()> {
    use std::io::Write as _;
    let dir = path.parent().expect("the head file is in a directory");
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(Error::io(&tmp))?;
    f.write_all(&serde_json::to_vec_pretty(head).expect("a head serialises")).map_err(Error::io(&tmp))?;
    f.sync_all().map_err(Error::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(Error::io(path))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(Error::io(dir))?;
    Ok(())
}

/// What failed verification, and where.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Mismatch {
    /// 1-based position of the entry in the log; 0 when the failure concerns a commit without
    /// a readable entry (or one that is missing).
    pub entry: usize,
    /// Publication id (empty without an entry).
    pub publication_id: String,
    /// Agency (empty without an entry).
    pub agency: String,
    /// Dataset (empty without an entry).
    pub dataset: String,
    /// The commit: its store version.
    pub store_version: i64,
    /// What does not match.
    pub reason: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "commit {} (_delta_log/{:020}.json)", self.store_version, self.store_version)?;
        if self.entry > 0 {
            write!(f, ", entry {} (publication {}, agency {}, dataset {})", self.entry, self.publication_id, self.agency, self.dataset)?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// The result of an audit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: usize,
    /// The first entry that does not match, if any.
    pub first_mismatch: Option<Mismatch>,
    /// Publications whose agency's signature verified (up to the first mismatch).
    pub agency_signed: usize,
    /// Entries whose coordinator's signature verified (up to the first mismatch).
    pub coordinator_signed: usize,
    /// The CA files the signers' certificates were checked against (empty: the signatures were
    /// checked against the certificates the entries carry, which were not checked).
    pub ca: Vec<String>,
}

impl std::fmt::Display for AuditReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.first_mismatch {
            None => {
                write!(
                    f,
                    "audit passed: {} log entries (publications and sign-off decisions); every commit carries its entry, chain, actions and content hashes and every decision verified; {} entries signed by the coordinator, {} publications signed by their agency",
                    self.entries, self.coordinator_signed, self.agency_signed
                )?;
                match self.ca.is_empty() {
                    true => write!(f, "; no CA certificate given: the signers' certificates were not checked (give --ca)"),
                    false => write!(f, "; every signer's certificate chains to {}", self.ca.join(", ")),
                }
            }
            Some(m) => write!(f, "audit FAILED at {m} ({} entries in the log)", self.entries),
        }
    }
}

/// Replays commits in order, checking each against its entry and the chain.
#[derive(Clone)]
struct Chain {
    expected: i64,
    previous: String,
    entries: usize,
    /// Whether an entry with an actions hash was seen (entries after it must have one too).
    anchored: bool,
    /// Every publication so far, by id, with its status after the decisions so far.
    publications: std::collections::HashMap<String, (String, String, crate::signoff::Status)>,
    /// The coordinator's own decisions so far (see [`crate::signoff::Automatic`]).
    automatic: crate::signoff::Automatic,
    /// The CA certificates signers' certificates must chain to; with none, signatures are
    /// checked against the certificates the entries carry, and none is required.
    trust: Trust,
    /// Publications signed by their agency so far.
    agency_signed: usize,
    /// Entries signed by the coordinator so far.
    coordinator_signed: usize,
}

/// What a commit after the table's creation carries.
enum Entry<'a> {
    Publication(&'a PublicationEntry),
    Decision,
}

impl Chain {
    fn new() -> Chain {
        Chain {
            expected: 0,
            previous: GENESIS.to_owned(),
            entries: 0,
            anchored: false,
            publications: Default::default(),
            automatic: Default::default(),
            trust: Trust::default(),
            agency_signed: 0,
            coordinator_signed: 0,
        }
    }

    /// A chain whose automatic decisions must be on `derived_agency`'s publications, if known,
    /// and whose signers' certificates must chain to `trust`.
    fn audited(derived_agency: Option<&str>, trust: Trust) -> Chain {
        Chain { automatic: derived_agency.map(crate::signoff::Automatic::configured).unwrap_or_default(), trust, ..Chain::new() }
    }

    /// Checks the coordinator's signature `sig` of the entry `entry_hash` at `version`, made at
    /// `at`; required when CA certificates are known.
    fn coordinator_signature(&mut self, version: i64, entry_hash: &str, sig: Option<&Signature>, at: &str) -> std::result::Result<(), String> {
        let Some(sig) = sig else {
            return match self.trust.is_empty() {
                true => Ok(()),
                false => Err("the entry carries no coordinator signature: it was not written by a coordinator holding the signing key".into()),
            };
        };
        let why = |w: String| format!("the coordinator's signature of the entry at store version {version}: {w}");
        let cert = evidence::certificate_of(sig).map_err(why)?;
        evidence::verify(sig, &cert, &evidence::entry_statement(version, entry_hash).map_err(|e| why(e.to_string()))?).map_err(why)?;
        if !self.trust.is_empty() {
            self.trust.check(&cert, at, Purpose::Coordinator).map_err(why)?;
        }
        self.coordinator_signed += 1;
        Ok(())
    }

    /// Checks the agency's signature of the publication `e`, if it has one: made with a
    /// certificate naming the entry's agency, over the entry's agency, dataset, content hash
    /// and manifest.
    fn agency_signature(&mut self, e: &PublicationEntry) -> std::result::Result<(), String> {
        let Some(sig) = &e.agency_signature else { return Ok(()) };
        let why = |w: String| format!("the agency's signature of the publication: {w}");
        let cert = evidence::certificate_of(&sig.signature).map_err(why)?;
        let named = crate::pki::agency_of(&cert, &[]).map_err(why)?;
        if named != e.agency {
            return Err(why(format!("it was made with agency {named}'s certificate, not agency {}'s", e.agency)));
        }
        evidence::verify_publication(sig, &cert, &e.agency, &e.dataset, &e.content_hash, &e.manifest)
            .map_err(|w| why(format!("{w}: the entry is not what agency {} signed", e.agency)))?;
        if !self.trust.is_empty() {
            self.trust.check(&cert, &sig.signed_at, Purpose::Agency).map_err(why)?;
        }
        self.agency_signed += 1;
        Ok(())
    }

    /// Checks a decision commit: no data actions, its place in the chain, its hash, and that
    /// the decision was one the sign-off allows (see [`crate::signoff`]), the coordinator's own
    /// automatic approvals included ([`crate::signoff::Automatic`]).
    fn decision(&mut self, c: &LogCommit, d: &Decision, kinds: &[String]) -> std::result::Result<(), Mismatch> {
        self.entries += 1;
        let n = self.entries;
        let fail = |reason: String| Mismatch {
            entry: n,
            publication_id: d.publication_id.clone(),
            agency: d.agency.clone(),
            dataset: d.dataset.clone(),
            store_version: c.version,
            reason: format!("decision {} ({} by {}): {reason}", d.decision_id, d.action.name(), d.by),
        };
        if c.entry.is_some() || kinds.iter().any(|k| k == "add" || k == "remove") {
            return Err(fail("a decision's commit carries a publication or data actions".into()));
        }
        if d.previous_entry_hash != self.previous {
            return Err(fail(format!("previous_entry_hash {} does not match the previous entry's hash {}", d.previous_entry_hash, self.previous)));
        }
        let recomputed = decision_hash(d);
        if recomputed != d.entry_hash {
            return Err(fail(format!("the decision was altered: it hashes to {recomputed}, the log records {}", d.entry_hash)));
        }
        let signed = self.coordinator_signature(c.version, &d.entry_hash, d.coordinator_signature.as_ref(), &d.decided_at);
        signed.map_err(fail)?;
        let Some((agency, dataset, status)) = self.publications.get(&d.publication_id) else {
            return Err(fail("no earlier commit published the publication it decides on".into()));
        };
        if (agency, dataset) != (&d.agency, &d.dataset) {
            return Err(fail(format!("it names agency {} dataset {}, but the publication is agency {agency} dataset {dataset}", d.agency, d.dataset)));
        }
        if d.by == d.agency {
            return Err(fail("the publication's own agency decided on it".into()));
        }
        if let Err(why) = self.automatic.check(&d.agency, d.action, &d.by, d.release_at.as_deref(), &d.decided_at) {
            return Err(fail(why));
        }
        if !crate::signoff::allowed(status, d.action) {
            return Err(fail(format!("the publication was {}; it could not be {}", status.word(), d.action.past())));
        }
        if let Some(r) = &d.release_at
            && (crate::signoff::parse_time("release_at", r).ok() < crate::signoff::parse_time("decided_at", &d.decided_at).ok()
                || crate::signoff::parse_time("release_at", r).is_err()) {
                return Err(fail(format!("its release time {r} is not a time at or after the decision ({})", d.decided_at)));
            }
        let status = crate::signoff::after(d);
        self.publications.entry(d.publication_id.clone()).and_modify(|p| p.2 = status);
        self.automatic.record(d);
        self.previous = d.entry_hash.clone();
        Ok(())
    }

    /// Checks the next commit; returns what it carries (nothing for the creation).
    fn step<'a>(&mut self, c: &'a LogCommit) -> std::result::Result<Option<Entry<'a>>, Mismatch> {
        let bare = |version: i64, reason: String| Mismatch {
            entry: 0,
            publication_id: String::new(),
            agency: String::new(),
            dataset: String::new(),
            store_version: version,
            reason,
        };
        if c.version != self.expected {
            let from = if self.expected == 0 { "the log starts at".to_owned() } else { format!("the log goes from version {} to", self.expected - 1) };
            return Err(bare(self.expected, format!("the commit file is missing: {from} version {}; commits were deleted", c.version)));
        }
        self.expected += 1;
        if let Some(why) = &c.unreadable {
            return Err(bare(c.version, format!("the commit file is unreadable: {why}")));
        }
        let kinds = || c.actions.iter().filter_map(|a| a.as_object()?.keys().next().cloned()).collect::<Vec<_>>();
        if c.version == 0 {
            if c.entry.is_some() || c.decision.is_some() || kinds().iter().any(|k| k == "add" || k == "remove") {
                return Err(bare(0, "the table's creation commit carries data (an entry, or add or remove actions)".into()));
            }
            return Ok(None);
        }
        match &c.decision {
            None => {}
            Some(Err(why)) => return Err(bare(c.version, format!("its sign-off decision is unreadable: {why}"))),
            Some(Ok(d)) => {
                self.decision(c, d, &kinds())?;
                return Ok(Some(Entry::Decision));
            }
        }
        let e = match &c.entry {
            None => {
                let (adds, removes) = (kinds().iter().filter(|k| *k == "add").count(), kinds().iter().filter(|k| *k == "remove").count());
                return Err(bare(c.version, format!(
                    "the commit carries no publications-log entry ({LOG_KEY}) and no decision ({DECISION_KEY}) but {adds} add and {removes} remove action(s): every commit after the table's creation must be a publication or a decision"
                )));
            }
            Some(Err(why)) => return Err(bare(c.version, format!("its publications-log entry is unreadable: {why}"))),
            Some(Ok(e)) => e,
        };
        self.entries += 1;
        let n = self.entries;
        let fail = |reason: String| Mismatch {
            entry: n,
            publication_id: e.publication_id.clone(),
            agency: e.agency.clone(),
            dataset: e.dataset.clone(),
            store_version: c.version,
            reason,
        };
        if e.previous_entry_hash != self.previous {
            return Err(fail(format!(
                "previous_entry_hash {} does not match the previous entry's hash {}",
                e.previous_entry_hash, self.previous
            )));
        }
        let recomputed = entry_hash(e);
        if recomputed != e.entry_hash {
            return Err(fail(format!("the entry was altered: it hashes to {recomputed}, the log records {}", e.entry_hash)));
        }
        match &e.actions_hash {
            Some(recorded) => {
                self.anchored = true;
                let actual = actions_hash(&c.actions);
                if actual != *recorded {
                    return Err(fail(format!(
                        "the commit's actions ({}) hash to {actual}, the entry records {recorded}: its add or remove actions were edited",
                        kinds().join(", ")
                    )));
                }
            }
            None if self.anchored => {
                return Err(fail("the entry has no actions hash, but an earlier entry has one".into()));
            }
            // An entry written before actions were anchored: its rows are checked, not its actions.
            None => {}
        }
        self.agency_signature(e).map_err(fail)?;
        self.coordinator_signature(c.version, &e.entry_hash, e.coordinator_signature.as_ref(), &e.received_at).map_err(fail)?;
        self.previous = e.entry_hash.clone();
        self.publications.insert(e.publication_id.clone(), (e.agency.clone(), e.dataset.clone(), crate::signoff::Status::Submitted));
        Ok(Some(Entry::Publication(e)))
    }

    /// Checks the replayed log against the recorded head.
    fn finish(&self, commits: &[LogCommit], head: Option<&Head>) -> std::result::Result<(), Mismatch> {
        let Some(h) = head else { return Ok(()) };
        let at_head = |reason: String| Mismatch {
            entry: 0,
            publication_id: h.publication_id.clone(),
            agency: String::new(),
            dataset: String::new(),
            store_version: h.version,
            reason,
        };
        let newest = commits.last().map_or(-1, |c| c.version);
        if newest < h.version {
            return Err(at_head(format!(
                "the newest commit is version {newest}, older than the head the coordinator recorded (version {}, publication {}, state/head.json): commit(s) {}..={} were deleted",
                h.version, h.publication_id, newest + 1, h.version
            )));
        }
        let recorded = usize::try_from(h.version).ok().and_then(|v| commits.get(v)).and_then(LogCommit::entry_hash);
        if recorded != Some(h.entry_hash.as_str()) {
            return Err(at_head(format!(
                "the commit is not the one the coordinator recorded as the head (entry {} of publication {}, state/head.json): it was replaced",
                h.entry_hash, h.publication_id
            )));
        }
        Ok(())
    }
}

/// The log verified so far, one commit after another: a read-only replica checks each commit
/// it follows with it, as [`check_log`] checks a whole log (without a recorded head).
#[derive(Clone)]
pub struct Verified(Chain);

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified").field("entries", &self.0.entries).field("next_version", &self.0.expected).finish()
    }
}

impl Default for Verified {
    fn default() -> Self {
        Verified(Chain::new())
    }
}

impl Verified {
    /// Checks `c`, the commit after those checked so far.
    pub fn next(&mut self, c: &LogCommit) -> std::result::Result<(), Mismatch> {
        self.0.step(c).map(drop)
    }
}

/// Checks the whole Delta log but the rows: every version present from 0, every commit after
/// the creation carrying a readable entry whose actions hash matches the commit's actions, the
/// chain linking, and the newest commit not older than `head`. Returns the number of entries.
pub fn check_log(commits: &[LogCommit], head: Option<&Head>) -> std::result::Result<usize, Mismatch> {
    let mut chain = Chain::new();
    for c in commits {
        chain.step(c)?;
    }
    chain.finish(commits, head)?;
    Ok(chain.entries)
}

/// The full audit: [`check_log`] over the commit files as they are in storage now (the
/// coordinator's automatic decisions held to the configured `derived_agency`), and, for
/// every entry, its facts (read back against their hashes, and recomputed from its rows) and
/// the content hash of the rows the store holds for that publication at its version. Reports the first failure, in commit order.
pub async fn verify(catalog: &Catalog) -> Result<AuditReport> {
    let store = catalog.store();
    let commits = store.read_commits().await?;
    let head = store.recorded_head()?;
    let entries = commits.iter().filter(|c| matches!(c.entry, Some(Ok(_))) || matches!(c.decision, Some(Ok(_)))).count();
    let trust = Trust::from_pem_files(&catalog.registers().audit_ca).map_err(|e| Error::Config(format!("the audit's CA certificates: {e}")))?;
    let ca: Vec<String> = trust.files().iter().map(|f| f.display().to_string()).collect();
    let report = |chain: &Chain, m: Option<Mismatch>| AuditReport {
        entries,
        first_mismatch: m,
        agency_signed: chain.agency_signed,
        coordinator_signed: chain.coordinator_signed,
        ca: ca.clone(),
    };
    let mut chain = Chain::audited(catalog.registers().derived_agency.as_deref(), trust);
    for c in &commits {
        let e = match chain.step(c) {
            Err(m) => return Ok(report(&chain, Some(m))),
            Ok(None | Some(Entry::Decision)) => continue,
            Ok(Some(Entry::Publication(e))) => e,
        };
        let n = chain.entries;
        let failed = |reason: String| Ok(report(&chain, Some(Mismatch {
            entry: n,
            publication_id: e.publication_id.clone(),
            agency: e.agency.clone(),
            dataset: e.dataset.clone(),
            store_version: c.version,
            reason,
        })));
        let mut at = e.clone();
        at.store_version = c.version;
        if let Err(err) = store.check_older_facts(&at).await {
            return failed(format!("the facts files of an older format it names cannot be read: {err}"));
        }
        match (store.stored_facts(&at).await, store.compute_facts(&at).await) {
            (Ok(facts), Ok(recomputed)) if facts == recomputed => {}
            (Ok(_), Ok(_)) => return failed("its facts do not match its rows".into()),
            (Err(err), _) => return failed(format!("its facts cannot be read: {err}")),
            (_, Err(err)) => return failed(format!("its rows cannot be read from the store: {err}")),
        }
        match content_hash(catalog, e, c.version).await {
            Ok((hash, rows)) if hash == e.content_hash && rows == e.rows => {}
            Ok((hash, rows)) => {
                return failed(format!(
                    "the stored rows ({rows}) hash to {hash}; the log records {} rows hashing to {}",
                    e.rows, e.content_hash
                ));
            }
            Err(err) => return failed(format!("its rows cannot be read from the store: {err}")),
        }
    }
    let end = chain.finish(&commits, head.as_ref()).err();
    Ok(report(&chain, end))
}

async fn content_hash(catalog: &Catalog, e: &PublicationEntry, version: i64) -> Result<(String, u64)> {
    use datafusion::prelude::{col, lit};
    use futures::TryStreamExt;
    let pinned = catalog.pin(&crate::catalog::Read::at_version(crate::signoff::View::Provisional, version)).await?;
    let session = catalog.tables(&pinned).await?;
    let df = session.ctx.table("observations").await?.filter(col("publication_id").eq(lit(e.publication_id.clone())))?;
    let mut stream = df.execute_stream().await?;
    let mut hasher = sdgx_schemas::hash::ContentHasher::default();
    let mut rows = 0u64;
    while let Some(batch) = stream.try_next().await? {
        hasher.push_batch(&batch, rows + 1)?;
        rows += batch.num_rows() as u64;
    }
    let hashed = hasher.finish().map_err(|e| crate::Error::Io { path: "row hashes spilled to a temporary file".into(), source: e })?;
    Ok((hashed.content_hash, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_actions_hash_is_canonical_and_covers_every_field() {
        let add = serde_json::json!({"add": {"path": "agency=a/dataset=d/part-0.parquet", "size": 10, "partitionValues": {"agency": "a", "dataset": "d"}, "stats": "{\"numRecords\":3}", "dataChange": true}});
        let reordered: Value = serde_json::from_str(r#"{"add":{"stats":"{\"numRecords\":3}","dataChange":true,"size":10,"partitionValues":{"dataset":"d","agency":"a"},"path":"agency=a/dataset=d/part-0.parquet"}}"#).unwrap();
        let remove = serde_json::json!({"remove": {"path": "agency=a/dataset=d/part-old.parquet", "size": 9, "dataChange": true}});
        let h = actions_hash(&[add.clone(), remove.clone()]);
        assert_eq!(h, actions_hash(&[remove.clone(), reordered]), "key order and action order do not count");
        for (field, value) in [("path", Value::from("agency=b/dataset=d/part-0.parquet")), ("size", Value::from(11)),
            ("partitionValues", serde_json::json!({"agency": "b", "dataset": "d"})), ("stats", Value::from("{\"numRecords\":0}")),
            ("dataChange", Value::from(false))] {
            let mut edited = add.clone();
            edited["add"][field] = value;
            assert_ne!(h, actions_hash(&[edited, remove.clone()]), "{field} counts");
        }
        assert_ne!(h, actions_hash(&[add.clone(), remove.clone(), add.clone()]), "a duplicated action counts");
        assert_ne!(h, actions_hash(std::slice::from_ref(&add)), "a dropped action counts");
    }

    #[test]
    fn a_commit_file_is_parsed_into_entry_and_actions() {
        let text = format!(
            "{}\n{}\n",
            serde_json::json!({"commitInfo": {"timestamp": 1700000000000i64, LOG_KEY: {"not": "an entry"}}}),
            serde_json::json!({"add": {"path": "p", "size": 1}})
        );
        let c = parse_commit(3, text.as_bytes());
        assert_eq!((c.version, c.timestamp, c.actions.len()), (3, Some(1_700_000_000_000), 1));
        assert!(matches!(c.entry, Some(Err(_))), "an entry that does not parse is kept as unreadable");
        assert!(c.unreadable.is_none());
        assert!(parse_commit(4, b"{\"add\": ").unreadable.is_some());
    }

    #[test]
    fn the_head_is_written_atomically_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/head.json");
        assert_eq!(read_head(&path).unwrap(), None);
        let head = Head { version: 7, publication_id: "p".into(), entry_hash: "sha256:ab".into() };
        write_head(&path, &head).unwrap();
        assert_eq!(read_head(&path).unwrap(), Some(head));
        assert!(!path.with_extension("json.tmp").exists());
        std::fs::write(&path, "{").unwrap();
        let e = read_head(&path).unwrap_err().to_string();
        assert!(e.contains("head.json") && e.contains("unreadable"), "{e}");
    }

    fn entry(previous: &str, actions: Option<&[Value]>) -> PublicationEntry {
        let manifest = sdgx_schemas::Manifest::from_toml(
            "agency = \"a\"\ndataset = \"d\"\ntitle = \"t\"\nindicators = []\nperiodicity = \"A\"\n[reference_period]\nstart = \"2020\"\nend = \"2020\"\n",
        )
        .unwrap();
        let summary = sdgx_schemas::ImportSummary {
            agency: "a".into(),
            dataset: "d".into(),
            rows: 0,
            periods: Default::default(),
            indicators: Default::default(),
            content_hash: "sha256:00".into(),
            warnings: vec![],
        };
        let mut e = PublicationEntry {
            publication_id: uuid::Uuid::now_v7().to_string(),
            agency: "a".into(),
            dataset: "d".into(),
            title: "t".into(),
            content_hash: "sha256:00".into(),
            rows: 0,
            received_at: "2026-01-01T00:00:00.000Z".into(),
            store_version: 0,
            previous_entry_hash: previous.into(),
            actions_hash: actions.map(actions_hash),
            facts: None,
            agency_signature: None,
            entry_hash: String::new(),
            coordinator_signature: None,
            manifest,
            summary,
        };
        e.entry_hash = entry_hash(&e);
        e
    }

    fn commit(version: i64, e: Option<PublicationEntry>, actions: Vec<Value>) -> LogCommit {
        LogCommit { version, timestamp: Some(version), entry: e.map(Ok), decision: None, actions, unreadable: None }
    }

    /// A decision by `by` on `e`, chained after `previous`.
    fn decision(e: &PublicationEntry, action: crate::signoff::Action, by: &str, release_at: Option<&str>, previous: &str) -> Decision {
        let mut d = Decision {
            decision_id: uuid::Uuid::now_v7().to_string(),
            action,
            publication_id: e.publication_id.clone(),
            agency: e.agency.clone(),
            dataset: e.dataset.clone(),
            by: by.into(),
            decided_at: "2026-01-02T00:00:00.000Z".into(),
            release_at: release_at.map(str::to_owned),
            reason: Some("r".into()),
            store_version: 0,
            previous_entry_hash: previous.into(),
            entry_hash: String::new(),
            coordinator_signature: None,
        };
        d.entry_hash = decision_hash(&d);
        d
    }

    #[test]
    fn the_log_holds_the_coordinators_automatic_decisions_to_their_rules() {
        use crate::signoff::{Action, SYSTEM};
        let e = entry(GENESIS, None);
        let at = "2026-01-02T00:00:00.000Z";
        let log = |decisions: Vec<Decision>| {
            let mut commits = vec![commit(0, None, vec![]), commit(1, Some(e.clone()), vec![])];
            for (i, d) in decisions.into_iter().enumerate() {
                commits.push(LogCommit { version: i as i64 + 2, timestamp: None, entry: None, decision: Some(Ok(d)), actions: vec![], unreadable: None });
            }
            check_log(&commits, None)
        };
        let auto = decision(&e, Action::Approve, SYSTEM, Some(at), &e.entry_hash);
        assert_eq!(log(vec![auto.clone()]), Ok(2), "an automatic approval released at once");
        let embargoed = decision(&e, Action::Approve, SYSTEM, Some("2026-03-01T00:00:00.000Z"), &e.entry_hash);
        assert!(log(vec![embargoed]).unwrap_err().reason.contains("releases at once"));
        let by_person = decision(&e, Action::Unapprove, "nso", None, &auto.entry_hash);
        let m = log(vec![auto.clone(), by_person]).unwrap_err();
        assert_eq!(m.store_version, 3);
        assert!(m.reason.contains("approved automatically"), "{m}");
        let withdrawn = decision(&e, Action::Unapprove, SYSTEM, None, &auto.entry_hash);
        assert!(log(vec![auto, withdrawn]).unwrap_err().reason.contains("only approves"));
    }

    #[test]
    fn entries_written_before_actions_were_anchored_are_accepted_only_before_the_first_anchored_one() {
        let add = vec![serde_json::json!({"add": {"path": "p", "size": 1}})];
        let legacy = entry(GENESIS, None);
        let anchored = entry(&legacy.entry_hash, Some(&add));
        let log = [commit(0, None, vec![]), commit(1, Some(legacy.clone()), add.clone()), commit(2, Some(anchored.clone()), add.clone())];
        assert_eq!(check_log(&log, None), Ok(2));

        // After an anchored entry, every entry must carry an actions hash.
        let first = entry(GENESIS, Some(&add));
        let downgraded = entry(&first.entry_hash, None);
        let log = [commit(0, None, vec![]), commit(1, Some(first), add.clone()), commit(2, Some(downgraded), add.clone())];
        let m = check_log(&log, None).unwrap_err();
        assert_eq!((m.store_version, m.entry), (2, 2));
        assert!(m.reason.contains("no actions hash"), "{m}");

        // Stripping an entry's actions hash alters the entry.
        let mut stripped = anchored.clone();
        stripped.actions_hash = None;
        let log = [commit(0, None, vec![]), commit(1, Some(legacy), add.clone()), commit(2, Some(stripped), add.clone())];
        assert!(check_log(&log, None).unwrap_err().reason.contains("altered"));

        // The recorded head must be there and be the same entry.
        let log = [commit(0, None, vec![]), commit(1, Some(entry(GENESIS, Some(&add))), add.clone())];
        let mut head = Head { version: 1, publication_id: "x".into(), entry_hash: "sha256:other".into() };
        assert!(check_log(&log, Some(&head)).unwrap_err().reason.contains("replaced"));
        head.version = 2;
        let m = check_log(&log, Some(&head)).unwrap_err();
        assert_eq!(m.store_version, 2);
        assert!(m.reason.contains("deleted"), "{m}");
    }
}
