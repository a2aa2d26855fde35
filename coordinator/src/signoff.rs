//! The statistical office's sign-off: what an approver decided about each publication, the
//! state that leaves it in, and the two views of the store that follow.
//!
//! Every accepted publication starts `submitted`. A token with the role `approver` may
//! - **approve** it, optionally with a release time (an embargo): from `submitted` or
//!   `unapproved`;
//! - **return** it to its agency with a reason: from `submitted`;
//! - **un-approve** it with a reason: from `approved` (released or not).
//!
//! No approver may decide on a publication of an agency whose id is the approver's own name.
//!
//! One identity is not a token: [`SYSTEM`], the coordinator itself, which approves its own
//! derived dataset (the headline per year, see [`crate::derived`]) the moment it is published,
//! since it is computed from official data only. The rules of [`Automatic`] keep that apart
//! from people's decisions: the system only approves (never returns, un-approves or embargoes),
//! only publications of one agency (the one its first decision names: the derived agency), and
//! once it has, no person decides on that agency's publications.
//! Each decision is its own commit of the store (no data actions; the [`Decision`] in the
//! commit's metadata, chained with the publications into one tamper-evident log, see
//! [`crate::audit`]), so the store version counts decisions too and time travel covers them.
//!
//! The **provisional** view reads, for each (agency, dataset), the latest accepted publication
//! (as the store always has). The **official** view reads, for each (agency, dataset), the
//! latest publication that is approved and whose release time has passed: un-approving a
//! publication brings back the previously approved one, and an embargo ends on its own at its
//! release time, at the next read.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::entry::PublicationEntry;

/// Commit-metadata key holding a decision.
pub const DECISION_KEY: &str = "sdgx.decision";

/// The `by` of the coordinator's own decisions: the automatic approval of its derived dataset.
/// Never an agency id (those have no `:`), and no token may be named so
/// ([`crate::auth::Tokens::load`] refuses it).
pub const SYSTEM: &str = "sdgx:coordinator";

/// Which view of the store a read is of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// For each (agency, dataset), the latest approved publication whose release time has
    /// passed.
    #[default]
    Official,
    /// For each (agency, dataset), the latest accepted publication.
    Provisional,
}

impl View {
    /// Both views.
    pub const ALL: [View; 2] = [View::Official, View::Provisional];

    /// `official` or `provisional`.
    pub fn name(self) -> &'static str {
        match self {
            View::Official => "official",
            View::Provisional => "provisional",
        }
    }
}

impl std::fmt::Display for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for View {
    type Err = Error;
    fn from_str(s: &str) -> Result<View> {
        match s.trim() {
            "official" => Ok(View::Official),
            "provisional" => Ok(View::Provisional),
            other => Err(Error::BadRequest(format!("unknown view {other:?}: use official or provisional"))),
        }
    }
}

/// What an approver may do to a publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Make it official (at its release time).
    Approve,
    /// Send it back to its agency, with a reason.
    Return,
    /// Withdraw an approval, with a reason.
    Unapprove,
}

impl Action {
    /// `approve`, `return` or `unapprove`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Return => "return",
            Action::Unapprove => "unapprove",
        }
    }
}

impl Action {
    /// `approved`, `returned` or `unapproved`.
    pub fn past(self) -> &'static str {
        match self {
            Action::Approve => "approved",
            Action::Return => "returned",
            Action::Unapprove => "unapproved",
        }
    }
}

impl std::str::FromStr for Action {
    type Err = Error;
    fn from_str(s: &str) -> Result<Action> {
        match s {
            "approve" => Ok(Action::Approve),
            "return" => Ok(Action::Return),
            "unapprove" => Ok(Action::Unapprove),
            other => Err(Error::BadRequest(format!("unknown decision {other:?}: use approve, return or unapprove"))),
        }
    }
}

/// One decision of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    /// Unique id of the decision (UUID v7).
    pub decision_id: String,
    /// What was decided.
    pub action: Action,
    /// The publication decided on.
    pub publication_id: String,
    /// Its agency.
    pub agency: String,
    /// Its dataset.
    pub dataset: String,
    /// Who decided: the approver token's name.
    pub by: String,
    /// When (RFC 3339, UTC, milliseconds).
    pub decided_at: String,
    /// For an approval: when it becomes official (RFC 3339); the decision time when no embargo
    /// was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_at: Option<String>,
    /// Why (required to return or un-approve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The store version its commit created (filled from the Delta log; not hashed).
    #[serde(default)]
    pub store_version: i64,
    /// `entry_hash` of the previous entry of the log (publication or decision).
    pub previous_entry_hash: String,
    /// SHA-256 of this decision's canonical JSON with `entry_hash` and `store_version` blanked
    /// (see [`crate::audit::decision_hash`]).
    pub entry_hash: String,
    /// The coordinator's signature of the decision at its store version
    /// ([`sdgx_schemas::evidence::entry_statement`]; not hashed: it signs the hash). Absent when
    /// the coordinator has no signing key (development).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinator_signature: Option<sdgx_schemas::evidence::Signature>,
}

/// What an approver asks for (the decision before it is recorded).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(as = DecisionRequest)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// For an approval: the release time (RFC 3339); now when absent.
    #[serde(default)]
    pub release_at: Option<String>,
    /// Why (required to return or un-approve).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Where a publication stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = SignOff)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Status {
    /// Accepted, awaiting a decision.
    Submitted,
    /// Approved: official from `release_at` on.
    Approved {
        /// When it becomes (or became) official.
        release_at: DateTime<Utc>,
        /// Who approved it.
        by: String,
    },
    /// Sent back to its agency.
    Returned {
        /// Why.
        reason: String,
        /// Who returned it.
        by: String,
    },
    /// Approved, then withdrawn.
    Unapproved {
        /// Why.
        reason: String,
        /// Who withdrew it.
        by: String,
    },
}

impl Status {
    /// The status word: submitted, approved, returned or unapproved.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::Approved { .. } => "approved",
            Status::Returned { .. } => "returned",
            Status::Unapproved { .. } => "unapproved",
        }
    }

    /// Whether it is official at `at`.
    pub fn official_at(&self, at: DateTime<Utc>) -> bool {
        matches!(self, Status::Approved { release_at, .. } if *release_at <= at)
    }
}

/// Parses an RFC 3339 time of the log.
pub fn parse_time(what: &str, t: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::BadRequest(format!("{what} {t:?} is not an RFC 3339 time: {e}")))
}

/// The status of every publication of `log` after the decisions committed at or before
/// `version`, by publication id.
pub fn statuses(log: &[PublicationEntry], decisions: &[Decision], version: i64) -> HashMap<String, Status> {
    let mut s: HashMap<String, Status> =
        log.iter().filter(|e| e.store_version <= version).map(|e| (e.publication_id.clone(), Status::Submitted)).collect();
    for d in decisions.iter().filter(|d| d.store_version <= version) {
        if let Some(slot) = s.get_mut(&d.publication_id) {
            *slot = after(d);
        }
    }
    s
}

/// The status a publication has after the decision `d`.
pub fn after(d: &Decision) -> Status {
    match d.action {
        Action::Approve => {
            let at = d.release_at.as_deref().unwrap_or(&d.decided_at);
            // The log's times were checked when the decision was made; an unreadable one (a
            // log written by hand, which the audit names) never releases.
            let release_at = parse_time("release_at", at).unwrap_or(DateTime::<Utc>::MAX_UTC);
            Status::Approved { release_at, by: d.by.clone() }
        }
        Action::Return => Status::Returned { reason: d.reason.clone().unwrap_or_default(), by: d.by.clone() },
        Action::Unapprove => Status::Unapproved { reason: d.reason.clone().unwrap_or_default(), by: d.by.clone() },
    }
}

/// What the log so far says about the coordinator's own decisions (by [`SYSTEM`]): the agency
/// they are for, named by the first of them. The store checks every new decision with it and
/// the audit every recorded one, the same way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Automatic {
    agency: Option<String>,
    configured: Option<String>,
}

impl Automatic {
    /// The state of an empty log where the system may decide only on `agency`'s publications
    /// (the configured `derived_agency`; the full audit checks the log against it).
    pub fn configured(agency: &str) -> Automatic {
        Automatic { agency: None, configured: Some(agency.to_owned()) }
    }

    /// The state after `decisions` (oldest first).
    pub fn of(decisions: &[Decision]) -> Automatic {
        let mut a = Automatic::default();
        for d in decisions {
            a.record(d);
        }
        a
    }

    /// The agency the system decides for, once it has decided.
    pub fn agency(&self) -> Option<&str> {
        self.agency.as_deref()
    }

    /// Whether `by` may take `action` on a publication of `agency`, released at `release_at`
    /// for a decision at `decided_at`: the system only approves, without an embargo, the
    /// publications of one agency; people never decide on that agency's publications once the
    /// system has. The error says why not.
    pub fn check(&self, agency: &str, action: Action, by: &str, release_at: Option<&str>, decided_at: &str) -> std::result::Result<(), String> {
        if by == SYSTEM {
            if action != Action::Approve {
                return Err(format!("the coordinator ({SYSTEM}) only approves; it may not {} a publication", action.name()));
            }
            if release_at.is_some_and(|r| parse_time("release_at", r).ok() != parse_time("decided_at", decided_at).ok()) {
                return Err(format!("the coordinator's ({SYSTEM}) approval releases at once; it carries another release time"));
            }
            if let Some(a) = self.agency.as_deref().or(self.configured.as_deref()).filter(|a| *a != agency) {
                return Err(format!(
                    "the coordinator ({SYSTEM}) approves only its own derived dataset's agency {a}; it may not decide on agency {agency}'s publication"
                ));
            }
        } else if self.agency.as_deref() == Some(agency) {
            return Err(format!(
                "agency {agency}'s publications are the coordinator's derived dataset, approved automatically; {by} may not decide on them"
            ));
        }
        Ok(())
    }

    /// Takes a recorded decision into account.
    pub fn record(&mut self, d: &Decision) {
        if d.by == SYSTEM && self.agency.is_none() {
            self.agency = Some(d.agency.clone());
        }
    }
}

/// Whether a publication whose status is `status` may be decided on with `action`.
pub fn allowed(status: &Status, action: Action) -> bool {
    match action {
        Action::Approve => matches!(status, Status::Submitted | Status::Unapproved { .. }),
        Action::Return => matches!(status, Status::Submitted),
        Action::Unapprove => matches!(status, Status::Approved { .. }),
    }
}

/// The publications official at time `at` after the decisions committed at or before
/// `version`: for each (agency, dataset), the latest approved one released by `at`; oldest
/// commit first.
pub fn official(log: &[PublicationEntry], decisions: &[Decision], version: i64, at: DateTime<Utc>) -> Vec<PublicationEntry> {
    let statuses = statuses(log, decisions, version);
    let mut chosen: Vec<&PublicationEntry> = Vec::new();
    for e in log.iter().filter(|e| e.store_version <= version) {
        if statuses.get(&e.publication_id).is_some_and(|s| s.official_at(at)) {
            chosen.retain(|c| !(c.agency == e.agency && c.dataset == e.dataset));
            chosen.push(e);
        }
    }
    chosen.into_iter().cloned().collect()
}

/// The publications current at `version` in the provisional view: the latest entry of each
/// (agency, dataset) committed at or before it; oldest commit first.
pub fn provisional(log: &[PublicationEntry], version: i64) -> Vec<PublicationEntry> {
    let mut current: Vec<&PublicationEntry> = Vec::new();
    for e in log.iter().filter(|e| e.store_version <= version) {
        current.retain(|c| !(c.agency == e.agency && c.dataset == e.dataset));
        current.push(e);
    }
    current.into_iter().cloned().collect()
}

/// Checks that `by` may take `action` on `publication` (whose status is `status`) with
/// `request` at `now`, and returns the release time of an approval. Refusals name the
/// publication and say why.
pub fn check(
    publication: &PublicationEntry,
    status: &Status,
    action: Action,
    by: &str,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    let what = format!("publication {} (agency {}, dataset {})", publication.publication_id, publication.agency, publication.dataset);
    if by == publication.agency {
        return Err(Error::PermissionDenied(format!("{by} may not decide on {what}: an agency never approves its own publication")));
    }
    if !allowed(status, action) {
        return Err(Error::Conflict(format!("{what} is {}; it cannot be {}", status.word(), action.past())));
    }
    let reason = request.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if action != Action::Approve && reason.is_none() {
        return Err(Error::BadRequest(format!("to {} {what}, give a reason", action.name())));
    }
    if action != Action::Approve && request.release_at.is_some() {
        return Err(Error::BadRequest(format!("release_at applies to an approval, not to {}", action.name())));
    }
    match (&request.release_at, action) {
        (Some(t), Action::Approve) => {
            let at = parse_time("release_at", t)?;
            if at < now {
                return Err(Error::BadRequest(format!(
                    "release_at {t} is in the past (now is {}): a release cannot change what was already official; approve without release_at to release now",
                    now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                )));
            }
            Ok(Some(at))
        }
        (None, Action::Approve) => Ok(Some(now)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publication(id: &str, agency: &str, dataset: &str, version: i64) -> PublicationEntry {
        let manifest = sdgx_schemas::Manifest::from_toml(&format!(
            "agency = {agency:?}\ndataset = {dataset:?}\ntitle = \"t\"\nindicators = []\nperiodicity = \"A\"\n[reference_period]\nstart = \"2020\"\nend = \"2020\"\n"
        ))
        .unwrap();
        PublicationEntry {
            publication_id: id.into(),
            agency: agency.into(),
            dataset: dataset.into(),
            title: "t".into(),
            content_hash: "sha256:00".into(),
            rows: 0,
            received_at: "2026-01-01T00:00:00.000Z".into(),
            store_version: version,
            previous_entry_hash: String::new(),
            actions_hash: None,
            facts: None,
            agency_signature: None,
            entry_hash: String::new(),
            coordinator_signature: None,
            summary: sdgx_schemas::ImportSummary {
                agency: agency.into(),
                dataset: dataset.into(),
                rows: 0,
                periods: Default::default(),
                indicators: Default::default(),
                content_hash: "sha256:00".into(),
                warnings: vec![],
            },
            manifest,
        }
    }

    fn decision(action: Action, p: &PublicationEntry, version: i64, release_at: Option<&str>) -> Decision {
        Decision {
            decision_id: format!("d{version}"),
            action,
            publication_id: p.publication_id.clone(),
            agency: p.agency.clone(),
            dataset: p.dataset.clone(),
            by: "nso".into(),
            decided_at: "2026-01-02T00:00:00.000Z".into(),
            release_at: release_at.map(str::to_owned),
            reason: (action != Action::Approve).then(|| "why".to_owned()),
            store_version: version,
            previous_entry_hash: String::new(),
            entry_hash: String::new(),
            coordinator_signature: None,
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        parse_time("t", s).unwrap()
    }

    fn ids(v: &[PublicationEntry]) -> Vec<&str> {
        v.iter().map(|e| e.publication_id.as_str()).collect()
    }

    #[test]
    fn the_official_view_is_the_latest_released_approval_and_unapproving_reinstates_the_previous_one() {
        let (a1, a2, b1) = (publication("a1", "moh", "d", 1), publication("a2", "moh", "d", 3), publication("b1", "sms", "e", 2));
        let log = vec![a1.clone(), b1.clone(), a2.clone()];
        let mut decisions = vec![decision(Action::Approve, &a1, 4, None)];
        assert_eq!(ids(&official(&log, &decisions, 3, t("2026-06-01T00:00:00Z"))), Vec::<&str>::new(), "no decision by version 3");
        assert_eq!(ids(&official(&log, &decisions, 4, t("2026-06-01T00:00:00Z"))), ["a1"]);
        assert_eq!(ids(&provisional(&log, 4)), ["b1", "a2"]);
        // a2 approved with an embargo: official exactly from its release time.
        decisions.push(decision(Action::Approve, &a2, 5, Some("2026-07-01T12:00:00Z")));
        assert_eq!(ids(&official(&log, &decisions, 5, t("2026-07-01T11:59:59.999Z"))), ["a1"]);
        assert_eq!(ids(&official(&log, &decisions, 5, t("2026-07-01T12:00:00Z"))), ["a2"]);
        // Un-approved: a1 is back.
        decisions.push(decision(Action::Unapprove, &a2, 6, None));
        assert_eq!(ids(&official(&log, &decisions, 6, t("2026-08-01T00:00:00Z"))), ["a1"]);
        let s = statuses(&log, &decisions, 6);
        assert_eq!((s["a1"].word(), s["a2"].word(), s["b1"].word()), ("approved", "unapproved", "submitted"));
        // A returned publication is never official.
        decisions.push(decision(Action::Return, &b1, 7, None));
        assert_eq!(ids(&official(&log, &decisions, 7, t("2026-08-01T00:00:00Z"))), ["a1"]);
        assert_eq!(statuses(&log, &decisions, 7)["b1"].word(), "returned");
    }

    #[test]
    fn the_coordinator_only_approves_its_own_agency_at_once_and_people_then_keep_off_it() {
        let (derived, ministry) = (publication("h", "sdgx", "headline", 1), publication("m", "moh", "d", 2));
        let at = "2026-01-02T00:00:00.000Z";
        let mut a = Automatic::default();
        // Before any automatic decision: people decide on anything, the system names its agency.
        assert_eq!(a.check("sdgx", Action::Approve, "nso", None, at), Ok(()));
        assert_eq!(a.check("sdgx", Action::Approve, SYSTEM, Some(at), at), Ok(()), "released at the decision");
        assert!(a.check("sdgx", Action::Approve, SYSTEM, Some("2026-02-01T00:00:00Z"), at).unwrap_err().contains("releases at once"));
        for action in [Action::Return, Action::Unapprove] {
            assert!(a.check("sdgx", action, SYSTEM, None, at).unwrap_err().contains("only approves"), "{action:?}");
        }
        let mut d = decision(Action::Approve, &derived, 2, Some(at));
        d.by = SYSTEM.into();
        a.record(&d);
        assert_eq!(a.agency(), Some("sdgx"));
        assert_eq!(Automatic::of(std::slice::from_ref(&d)), a);
        // After it: the system only on sdgx, people never on sdgx.
        assert!(a.check(&ministry.agency, Action::Approve, SYSTEM, None, at).unwrap_err().contains("agency moh"));
        assert!(a.check("sdgx", Action::Unapprove, "nso", None, at).unwrap_err().contains("approved automatically"));
        assert_eq!(a.check("moh", Action::Unapprove, "nso", None, at), Ok(()));
        // Configured: the system's first decision must already be on the configured agency.
        let c = Automatic::configured("sdgx");
        assert!(c.check("moh", Action::Approve, SYSTEM, None, at).is_err());
        assert_eq!(c.check("sdgx", Action::Approve, SYSTEM, None, at), Ok(()));
    }

    #[test]
    fn each_decision_is_checked_against_the_publications_status_and_the_deciders_agency() {
        let p = publication("p", "moh", "d", 1);
        let now = t("2026-03-01T00:00:00Z");
        let approve = Request::default();
        let why = Request { reason: Some("totals off".into()), ..Request::default() };
        let approved = Status::Approved { release_at: now, by: "nso".into() };
        assert_eq!(check(&p, &Status::Submitted, Action::Approve, "nso", &approve, now).unwrap(), Some(now));
        let e = check(&p, &Status::Submitted, Action::Approve, "moh", &approve, now).unwrap_err();
        assert!(matches!(e, Error::PermissionDenied(_)) && e.to_string().contains("own publication"), "{e}");
        let e = check(&p, &approved, Action::Approve, "nso", &approve, now).unwrap_err();
        assert!(matches!(e, Error::Conflict(_)) && e.to_string().contains("is approved"), "{e}");
        assert!(matches!(check(&p, &approved, Action::Return, "nso", &why, now).unwrap_err(), Error::Conflict(_)));
        assert!(matches!(check(&p, &Status::Submitted, Action::Unapprove, "nso", &why, now).unwrap_err(), Error::Conflict(_)));
        let e = check(&p, &Status::Submitted, Action::Return, "nso", &Request { reason: Some("  ".into()), ..Request::default() }, now).unwrap_err();
        assert!(e.to_string().contains("give a reason"), "{e}");
        assert_eq!(check(&p, &Status::Submitted, Action::Return, "nso", &why, now).unwrap(), None);
        assert_eq!(check(&p, &approved, Action::Unapprove, "nso", &why, now).unwrap(), None);
        let unapproved = Status::Unapproved { reason: "x".into(), by: "nso".into() };
        assert!(check(&p, &unapproved, Action::Approve, "nso", &approve, now).is_ok(), "an un-approved publication may be approved again");
        // Embargoes: in the future, never in the past.
        let later = Request { release_at: Some("2026-04-01T09:00:00+04:00".into()), ..Request::default() };
        assert_eq!(check(&p, &Status::Submitted, Action::Approve, "nso", &later, now).unwrap(), Some(t("2026-04-01T05:00:00Z")));
        let past = Request { release_at: Some("2026-02-01T00:00:00Z".into()), ..Request::default() };
        assert!(check(&p, &Status::Submitted, Action::Approve, "nso", &past, now).unwrap_err().to_string().contains("in the past"));
        let bad = Request { release_at: Some("tomorrow".into()), ..Request::default() };
        assert!(matches!(check(&p, &Status::Submitted, Action::Approve, "nso", &bad, now).unwrap_err(), Error::BadRequest(_)));
    }
}
