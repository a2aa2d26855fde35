//! The dashboard's review queue, for approvers: each submitted publication with its row diff,
//! figure impact and quality warnings (see [`crate::review`]), and the forms that approve
//! (optionally with a release time), return or un-approve it with a reason.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::page;
use crate::auth::Role;
use crate::error::{Error, Result};
use crate::export::html::{esc, percent};
use crate::http::{Caller, HttpState};
use crate::review::{Detail, Item};
use crate::signoff::{Action, Request, Status};

/// Refuses a caller who is not an approver.
fn approver_only(caller: &Caller) -> Result<()> {
    if caller.role.grants(Role::Approver) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!("the review queue is for approvers; {} has role {:?}", caller.name, caller.role)))
    }
}

fn row(i: &Item, extra: &str) -> String {
    format!(
        "<tr><td><a href=\"/dashboard/review/{id}\">{}</a></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td>{extra}</tr>",
        esc(&i.agency),
        esc(&i.dataset),
        esc(&i.title),
        i.rows,
        esc(&i.received_at),
        i.warnings,
        id = esc(&i.publication_id),
    )
}

const HEAD: &str = "<thead><tr><th>Agency</th><th>Dataset</th><th>Title</th><th>Rows</th><th>Received (UTC)</th><th>Quality warnings</th>";

/// `/dashboard/review`: the submitted and the embargoed publications.
pub async fn queue(State(state): State<Arc<HttpState>>, Extension(caller): Extension<Caller>, Extension(r): Extension<super::Reader>) -> Result<Html<String>> {
    approver_only(&caller)?;
    let q = crate::review::queue(&state.catalog).await?;
    let mut b = format!(
        "<h1>Review queue</h1><p class=\"provenance\">Store version {}, at {}. Approving a publication makes it official at its release time; returning it sends it back to its agency.</p>",
        q.store_version,
        esc(&q.at)
    );
    let _ = write!(b, "<h2>Awaiting a decision ({})</h2>", q.submitted.len());
    if q.submitted.is_empty() {
        b.push_str("<p>Nothing awaits a decision.</p>");
    } else {
        let _ = write!(b, "<table id=\"submitted\">{HEAD}</tr></thead><tbody>");
        for i in &q.submitted {
            b.push_str(&row(i, ""));
        }
        b.push_str("</tbody></table>");
    }
    let _ = write!(b, "<h2>Approved, not yet released ({})</h2>", q.embargoed.len());
    if !q.embargoed.is_empty() {
        let _ = write!(b, "<table id=\"embargoed\">{HEAD}<th>Release (UTC)</th></tr></thead><tbody>");
        for i in &q.embargoed {
            let release = match &i.status {
                Status::Approved { release_at, .. } => release_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                other => other.word().to_owned(),
            };
            b.push_str(&row(i, &format!("<td>{}</td>", esc(&release))));
        }
        b.push_str("</tbody></table>");
    }
    Ok(page(&r.in_english(), "Review", &b))
}

/// What a decision page was told after a decision.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

/// `/dashboard/review/{id}`: one publication's evidence and the decision forms.
pub async fn detail(
    State(state): State<Arc<HttpState>>,
    Extension(caller): Extension<Caller>,
    Extension(r): Extension<super::Reader>,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Html<String>> {
    approver_only(&caller)?;
    let d = crate::review::detail(&state.catalog, &id).await?;
    let note = done.done.and_then(|a| a.parse::<Action>().ok()).map(|a| format!("<p role=\"status\" class=\"done\">The publication was {}.</p>", a.past()));
    Ok(page(&r.in_english(), "Review", &detail_body(&d, note.as_deref().unwrap_or(""), None, super::read_only_note(&state, "decide").as_deref())))
}

/// The evidence of `d` and its decision forms (on a read-only replica, `read_only`'s note
/// instead of the forms).
fn detail_body(d: &Detail, note: &str, error: Option<&str>, read_only: Option<&str>) -> String {
    let i = &d.item;
    let mut b = format!(
        "<h1>{} · {}</h1>{note}<p>{}: {} rows received {} (store version {}). Status: <strong id=\"status\">{}</strong>{}.</p>",
        esc(&i.agency),
        esc(&i.dataset),
        esc(&i.title),
        i.rows,
        esc(&i.received_at),
        i.store_version,
        i.status.word(),
        match &i.status {
            Status::Approved { release_at, .. } => format!(", release {}", release_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            Status::Returned { reason, .. } | Status::Unapproved { reason, .. } => format!(" ({})", esc(reason)),
            Status::Submitted => String::new(),
        }
    );
    if let Some(e) = error {
        let _ = write!(b, "<p role=\"alert\" class=\"error\">{}</p>", esc(e));
    }
    let r = &d.rows_diff;
    let against = i.official.as_deref().map_or("no official version yet".to_owned(), |o| format!("official publication {}", esc(o)));
    let _ = write!(
        b,
        "<h2>Rows against the official version</h2><p class=\"muted\">Against {against}.</p><p id=\"diff\">{} added, {} removed, {} changed, {} unchanged.</p>",
        r.added, r.removed, r.changed, r.unchanged
    );
    if !r.examples.is_empty() {
        b.push_str("<table><thead><tr><th>Change</th><th>Observation</th><th>Official value</th><th>New value</th></tr></thead><tbody>");
        let v = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |x| x.to_string());
        for e in &r.examples {
            let _ = write!(b, "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>", esc(&e.change), esc(&e.key), v(e.before), v(e.after));
        }
        b.push_str("</tbody></table>");
    }
    let (now, then) = (&d.impact.now, &d.impact.if_approved);
    let ratio = |n: i64, den: i64, s: Option<f64>| format!("{n} of {den} ({})", percent(s));
    let _ = write!(
        b,
        "<h2>Figure impact</h2><table id=\"impact\"><thead><tr><th>Official figure</th><th>Now</th><th>If approved</th></tr></thead><tbody>\
<tr><td>Indicators produced with migration disaggregation (headline)</td><td>{}</td><td>{}</td></tr>\
<tr><td>Indicators reported (reporting status)</td><td>{}</td><td>{}</td></tr>\
<tr><td>Indicators with every expected disaggregation (disaggregation status)</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></tbody></table>",
        ratio(now.headline.numerator, now.headline.denominator, now.headline.share),
        ratio(then.headline.numerator, then.headline.denominator, then.headline.share),
        ratio(now.reporting.numerator, now.reporting.denominator, now.reporting.share),
        ratio(then.reporting.numerator, then.reporting.denominator, then.reporting.share),
        now.disaggregation.national.complete,
        then.disaggregation.national.complete,
    );
    for (what, list) in [
        ("Newly produced", &d.impact.newly_produced),
        ("No longer produced", &d.impact.no_longer_produced),
        ("Newly disaggregated by migratory status", &d.impact.newly_migration_disaggregated),
        ("No longer disaggregated by migratory status", &d.impact.no_longer_migration_disaggregated),
    ] {
        if !list.is_empty() {
            let _ = write!(b, "<p>{what}: {}.</p>", esc(&list.join(", ")));
        }
    }
    let _ = write!(b, "<h2>Quality warnings ({})</h2>", d.quality_warnings.len());
    if !d.quality_warnings.is_empty() {
        b.push_str("<table id=\"warnings\"><thead><tr><th>Rule</th><th>Row</th><th>Column</th><th>Value</th><th>Message</th></tr></thead><tbody>");
        for w in &d.quality_warnings {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(w.rule.id()),
                w.row.map(|r| r.to_string()).unwrap_or_default(),
                esc(w.column.as_deref().unwrap_or("")),
                esc(w.value.as_deref().unwrap_or("")),
                esc(&w.message)
            );
        }
        b.push_str("</tbody></table>");
    }
    if !d.decisions.is_empty() {
        b.push_str("<h2>Decisions</h2><ul>");
        for x in &d.decisions {
            let _ = write!(b, "<li>{} by {} at {}{}</li>", x.action.past(), esc(&x.by), esc(&x.decided_at), x.reason.as_deref().map(|r| format!(": {}", esc(r))).unwrap_or_default());
        }
        b.push_str("</ul>");
    }
    let id = esc(&i.publication_id);
    let form = |action: Action, body: &str, button: &str| {
        format!("<form method=\"post\" action=\"/dashboard/review/{id}/{}\" class=\"decision\">{body}<button id=\"{}\" type=\"submit\">{button}</button></form>", action.name(), action.name())
    };
    let reason = |required: bool| {
        format!("<label>Reason<br><textarea name=\"reason\" rows=\"2\" cols=\"50\"{}></textarea></label><br>", if required { " required" } else { "" })
    };
    b.push_str("<h2>Decide</h2>");
    if let Some(n) = read_only {
        b.push_str(n);
        return b;
    }
    if crate::signoff::allowed(&i.status, Action::Approve) {
        b.push_str(&form(
            Action::Approve,
            &format!("<label>Release time (UTC; empty: now)<br><input type=\"datetime-local\" name=\"release_at\" step=\"1\"></label><br>{}", reason(false)),
            "Approve",
        ));
    }
    if crate::signoff::allowed(&i.status, Action::Return) {
        b.push_str(&form(Action::Return, &reason(true), "Return to the agency"));
    }
    if crate::signoff::allowed(&i.status, Action::Unapprove) {
        b.push_str(&form(Action::Unapprove, &reason(true), "Un-approve"));
    }
    b
}

/// A decision form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    release_at: String,
    #[serde(default)]
    reason: String,
}

/// A release time from the form: RFC 3339, or a browser's `datetime-local` value read as UTC.
fn release_time(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if chrono::DateTime::parse_from_rfc3339(t).is_ok() {
        return Some(t.to_owned());
    }
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(t, f).ok())
        .map(|n| n.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .or_else(|| Some(t.to_owned()))
}

/// `POST /dashboard/review/{id}/{action}`: records the decision, then shows the publication
/// again (303); a refused decision shows the page with the reason.
pub async fn decide(
    State(state): State<Arc<HttpState>>,
    Extension(caller): Extension<Caller>,
    Extension(r): Extension<super::Reader>,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<DecisionForm>,
) -> Result<Response> {
    approver_only(&caller)?;
    let action: Action = action.parse()?;
    let request = Request { release_at: release_time(&f.release_at), reason: Some(f.reason).filter(|r| !r.trim().is_empty()) };
    let now = state.catalog.clock().now()?;
    match state.catalog.store().decide(&id, action, &caller.name, &request, now).await {
        Ok(_) => Ok((StatusCode::SEE_OTHER, [(LOCATION, format!("/dashboard/review/{id}?done={}", action.name()))]).into_response()),
        Err(e @ (Error::BadRequest(_) | Error::Conflict(_) | Error::PermissionDenied(_) | Error::ReadOnly(_))) => {
            let status = e.kind().http;
            let d = crate::review::detail(&state.catalog, &id).await?;
            let read_only = super::read_only_note(&state, "decide");
            Ok((status, page(&r.in_english(), "Review", &detail_body(&d, "", Some(&e.to_string()), read_only.as_deref()))).into_response())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_release_time_from_the_form_is_utc() {
        assert_eq!(super::release_time(""), None);
        assert_eq!(super::release_time("2026-12-24T09:30").as_deref(), Some("2026-12-24T09:30:00Z"));
        assert_eq!(super::release_time("2026-12-24T09:30:15").as_deref(), Some("2026-12-24T09:30:15Z"));
        assert_eq!(super::release_time("2026-12-24T09:30:00+04:00").as_deref(), Some("2026-12-24T09:30:00+04:00"));
        assert_eq!(super::release_time("soon").as_deref(), Some("soon"), "left for the decision to refuse, naming it");
    }
}
