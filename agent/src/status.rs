//! `sdgx-agent status`: the outbox (what was sent, what waits, what was refused), and what
//! this agency owes the coordinator, from its reporting calendar,
//! fetched over the coordinator's HTTP API with the agency's token.

use std::fmt::Write;

use sdgx_schemas::api::AgencyCalendar;

use crate::config::Config;
use crate::error::{Error, Result};

/// The agent's own health, for container healthchecks (`sdgx-agent health`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Health {
    /// `ok`, or `degraded` when some outbox entries are corrupt: the agent still serves every
    /// other entry and dataset, so it is not unhealthy (a restart would not repair the file).
    pub status: &'static str,
    /// The agency.
    pub agency: String,
    /// How many readable outbox entries are in each state (`pending`, `sent`, `failed`,
    /// `superseded`).
    pub outbox: std::collections::BTreeMap<&'static str, usize>,
    /// The corrupt entries, skipped (see [`crate::outbox`]).
    pub corrupt: Vec<crate::outbox::Corrupt>,
}

/// The agent's health: its outbox can be opened and listed (the configuration was loaded by
/// the caller). Fails only when the outbox directory itself cannot be opened or listed; a
/// corrupt entry makes it `degraded`. The coordinator is not asked: an unreachable
/// coordinator delays delivery, which the outbox absorbs; it does not make the agent
/// unhealthy.
pub fn health(config: &Config) -> Result<Health> {
    use crate::outbox::{Outbox, State};
    let listing = Outbox::open(&config.outbox)?.scan()?;
    let states = [State::Pending, State::Sent, State::Failed, State::Superseded];
    Ok(Health {
        status: if listing.corrupt.is_empty() { "ok" } else { "degraded" },
        agency: config.agency.clone(),
        outbox: states.into_iter().map(|s| (s.name(), listing.entries.iter().filter(|e| e.state == s).count())).collect(),
        corrupt: listing.corrupt,
    })
}

/// Fetches this agency's reporting calendar.
pub async fn calendar(config: &Config) -> Result<AgencyCalendar> {
    get(config, &format!("/api/v1/calendar/{}", config.agency)).await
}

/// The statistical office's decision on a publication this agency sent, as the coordinator's
/// HTTP API tells its agency token (`GET /api/v1/publications/{id}/status`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignOff {
    /// The publication.
    pub publication_id: String,
    /// Its dataset.
    pub dataset: String,
    /// `submitted`, `approved`, `returned` or `unapproved`, with `reason` and `by` when given.
    pub sign_off: serde_json::Value,
}

/// The sign-off status of the newest acknowledged publication of each dataset in `listing`.
pub async fn sign_offs(config: &Config, listing: &crate::outbox::Listing) -> Result<Vec<SignOff>> {
    let mut newest: Vec<&crate::outbox::Entry> = Vec::new();
    for e in listing.entries.iter().filter(|e| e.ack.as_ref().is_some_and(|a| !a.duplicate)) {
        newest.retain(|n| n.manifest.dataset != e.manifest.dataset || n.created > e.created);
        if !newest.iter().any(|n| n.manifest.dataset == e.manifest.dataset) {
            newest.push(e);
        }
    }
    let mut out = Vec::new();
    for e in newest {
        let id = &e.ack.as_ref().expect("acknowledged").publication_id;
        out.push(get(config, &format!("/api/v1/publications/{id}/status")).await?);
    }
    Ok(out)
}

/// The sign-off statuses as lines.
pub fn render_sign_offs(s: &[SignOff]) -> String {
    let mut out = String::from("sign-off by the statistical office of the newest publication of each dataset:\n");
    for x in s {
        let word = x.sign_off["status"].as_str().unwrap_or("unknown");
        let why = x.sign_off["reason"].as_str().map(|r| format!(": {r}")).unwrap_or_default();
        let release = x.sign_off["release_at"].as_str().map(|r| format!(", official from {r}")).unwrap_or_default();
        let _ = writeln!(out, "  {:<32} {}  {word}{why}{release}", x.dataset, x.publication_id);
    }
    if s.is_empty() {
        out.push_str("  (nothing acknowledged yet)\n");
    }
    out
}

/// `GET <coordinator_http><path>` with the agency's token, decoded.
async fn get<T: serde::de::DeserializeOwned>(config: &Config, path: &str) -> Result<T> {
    let base = config.coordinator_http.as_deref().ok_or_else(|| {
        Error::Config("set coordinator_http (the coordinator's HTTP API) and token_file to see the reporting calendar and the sign-off".into())
    })?;
    let token_file = config.token_file.as_ref().ok_or_else(|| Error::Config("set token_file (this agency's API token)".into()))?;
    let token = std::fs::read_to_string(token_file)
        .map_err(|e| Error::Config(format!("token_file {}: {e}", token_file.display())))?
        .trim()
        .to_owned();
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let api = |message: String| Error::Api { url: url.clone(), message };
    let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30));
    if let Some(tls) = config.tls.as_ref().filter(|_| url.starts_with("https:")) {
        let pem = std::fs::read(&tls.ca).map_err(|e| Error::Config(format!("tls.ca {}: {e}", tls.ca.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::Config(format!("tls.ca {}: {e}", tls.ca.display())))?;
        builder = builder.tls_certs_only(certs);
    }
    let client = builder.build().map_err(|e| api(e.to_string()))?;
    let response = client.get(&url).bearer_auth(&token).send().await.map_err(|e| api(format!("unreachable: {}", crate::error::chain(&e))))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| api(e.to_string()))?;
    if !status.is_success() {
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or(body);
        return Err(api(format!("{status}: {message}")));
    }
    serde_json::from_str(&body).map_err(|e| api(format!("unreadable reply: {e}")))
}

/// The calendar as a readable table, with what is overdue first in the summary.
pub fn render(c: &AgencyCalendar) -> String {
    let mut s = String::new();
    let count = |st: &str| c.reports.iter().filter(|r| r.status == st).count();
    let _ = writeln!(s, "reporting calendar of {} at {} (store version {})", c.agency, c.now, c.store_version);
    let _ = writeln!(
        s,
        "  {} overdue, {} upcoming, {} received on time, {} received late",
        count("overdue"),
        count("upcoming"),
        count("received_on_time"),
        count("received_late")
    );
    let _ = writeln!(s, "  {:<32} {:<10} {:<11} {:<17} first received", "dataset", "period", "due", "status");
    for r in &c.reports {
        let _ = writeln!(s, "  {:<32} {:<10} {:<11} {:<17} {}", r.dataset, r.period, r.due, r.status, r.first_received.as_deref().unwrap_or("-"));
    }
    if c.reports.is_empty() {
        let _ = writeln!(s, "  (nothing on the calendar for this agency)");
    }
    s
}

/// The outbox as a readable table: pending first, then the newest finished entries, then the
/// corrupt entries (skipped) with why.
pub fn render_outbox(dir: &std::path::Path, listing: &crate::outbox::Listing) -> String {
    use crate::outbox::State;
    let entries = &listing.entries;
    let mut s = String::new();
    let count = |st: State| entries.iter().filter(|e| e.state == st).count();
    let _ = writeln!(
        s,
        "outbox {}: {} pending, {} sent, {} failed, {} superseded",
        dir.display(),
        count(State::Pending),
        count(State::Sent),
        count(State::Failed),
        count(State::Superseded)
    );
    let mut shown: Vec<&crate::outbox::Entry> = entries.iter().filter(|e| e.state == State::Pending).collect();
    shown.extend(entries.iter().rev().filter(|e| e.state != State::Pending).take(20));
    for e in shown {
        let _ = writeln!(
            s,
            "  {:<10} {:<32} {:>9} rows  staged {}  attempts {}{}",
            e.state.name(),
            e.manifest.dataset,
            e.rows,
            e.created,
            e.attempts,
            e.next_attempt.as_deref().map(|t| format!("  next {t}")).unwrap_or_default()
        );
        if let Some(r) = &e.last_reply {
            let first = r.lines().next().unwrap_or_default();
            let _ = writeln!(s, "             last reply: {first}");
        }
    }
    for c in &listing.corrupt {
        let _ = writeln!(s, "  {:<10} {} skipped: {}: {}", "corrupt", c.id, c.path.display(), c.error);
    }
    s
}
