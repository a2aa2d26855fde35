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

use super::{head, impact, page, share, Reader};
use crate::auth::Role;
use crate::error::{Error, Result};
use crate::export::html::{self, esc};
use crate::http::{Caller, HttpState};
use crate::i18n::{Labels, Tr};
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

/// A row of the queue: the publication (linked), its numbers and `extra` cells.
fn row(r: &Reader, l: &Labels, i: &Item, extra: &str) -> String {
    let tr = &r.tr;
    format!(
        "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td>{extra}</tr>",
        esc(&r.link(&format!("/dashboard/review/{}", i.publication_id))),
        esc(&l.agency(&i.agency)),
        esc(&i.dataset),
        esc(&i.title),
        tr.number(i.rows as f64, 0),
        esc(&tr.datetime_str(&i.received_at)),
        tr.number(i.warnings as f64, 0),
    )
}

/// The queue's columns (the embargoed table adds the release time).
const COLUMNS: [&str; 6] = ["report-col-agency", "report-col-dataset", "dashboard-review-col-title", "report-col-rows", "report-col-received", "dashboard-review-col-warnings"];

/// `/dashboard/review`: the submitted and the embargoed publications.
pub async fn queue(State(state): State<Arc<HttpState>>, Extension(caller): Extension<Caller>, Extension(r): Extension<Reader>) -> Result<Html<String>> {
    approver_only(&caller)?;
    let q = crate::review::queue(&state.catalog).await?;
    let names = super::agency_names(&state);
    let (tr, l) = (&r.tr, r.labels(&state, &names));
    let mut b = format!(
        "<h1>{}</h1><p class=\"provenance\">{}</p>",
        esc(&tr.t("dashboard-review-queue")),
        esc(&tr.ta("dashboard-review-about", &[("version", q.store_version.to_string().into()), ("at", tr.datetime_str(&q.at).into())]))
    );
    let _ = write!(b, "<h2>{}</h2>", esc(&tr.ta("dashboard-review-awaiting", &[("count", q.submitted.len().into())])));
    if q.submitted.is_empty() {
        let _ = write!(b, "<p>{}</p>", esc(&tr.t("dashboard-review-nothing")));
    } else {
        let _ = write!(b, "<table id=\"submitted\">{}<tbody>", head(tr, &COLUMNS));
        for i in &q.submitted {
            b.push_str(&row(&r, &l, i, ""));
        }
        b.push_str("</tbody></table>");
    }
    let _ = write!(b, "<h2>{}</h2>", esc(&tr.ta("dashboard-review-embargoed", &[("count", q.embargoed.len().into())])));
    if !q.embargoed.is_empty() {
        let mut columns = COLUMNS.to_vec();
        columns.push("dashboard-review-col-release");
        let _ = write!(b, "<table id=\"embargoed\">{}<tbody>", head(tr, &columns));
        for i in &q.embargoed {
            let release = match &i.status {
                Status::Approved { release_at, .. } => tr.datetime(*release_at),
                other => status_word(tr, other),
            };
            b.push_str(&row(&r, &l, i, &format!("<td>{}</td>", esc(&release))));
        }
        b.push_str("</tbody></table>");
    }
    Ok(page(&r, &tr.t("dashboard-review-title"), &b))
}

/// A publication's status word (`submitted`, `approved`, …) in the reader's language.
fn status_word(tr: &Tr, s: &Status) -> String {
    tr.t(match s {
        Status::Submitted => "dashboard-review-status-submitted",
        Status::Approved { .. } => "dashboard-review-status-approved",
        Status::Returned { .. } => "dashboard-review-status-returned",
        Status::Unapproved { .. } => "dashboard-review-status-unapproved",
    })
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
    Extension(r): Extension<Reader>,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Html<String>> {
    approver_only(&caller)?;
    let d = crate::review::detail(&state.catalog, &id).await?;
    let tr = &r.tr;
    let note = done.done.and_then(|a| a.parse::<Action>().ok()).map(|a| {
        let id = match a {
            Action::Approve => "dashboard-review-done-approve",
            Action::Return => "dashboard-review-done-return",
            Action::Unapprove => "dashboard-review-done-unapprove",
        };
        format!("<p role=\"status\" class=\"done\">{}</p>", esc(&tr.t(id)))
    });
    Ok(detail_page(&state, &r, &d, note.as_deref().unwrap_or(""), None))
}

/// The page of `d`'s evidence and decision forms (on a read-only replica, a note instead of
/// the forms), with `note` after its heading and `error` (a refused decision's reason).
fn detail_page(state: &HttpState, r: &Reader, d: &Detail, note: &str, error: Option<&str>) -> Html<String> {
    let names = super::agency_names(state);
    let read_only = super::read_only_note(state, &r.tr, super::Elsewhere::Decide);
    page(r, &r.tr.t("dashboard-review-title"), &detail_body(r, &r.labels(state, &names), d, note, error, read_only.as_deref()))
}

/// A number as the reader writes it, with the decimals it has.
fn value(tr: &Tr, x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_owned(), |x| tr.number(x, x.to_string().split_once('.').map_or(0, |(_, f)| f.len())))
}

/// The evidence of `d` and its decision forms (on a read-only replica, `read_only`'s note
/// instead of the forms).
fn detail_body(r: &Reader, l: &Labels, d: &Detail, note: &str, error: Option<&str>, read_only: Option<&str>) -> String {
    let (tr, i) = (&r.tr, &d.item);
    let status = format!("<strong id=\"status\">{}</strong>", esc(&status_word(tr, &i.status)));
    let status = match &i.status {
        Status::Approved { release_at, .. } => tr.markup("dashboard-review-status-release", &[("release", tr.datetime(*release_at).into())], &[("status", &status)]),
        Status::Returned { reason, .. } | Status::Unapproved { reason, .. } => tr.markup("dashboard-review-status-reason", &[("reason", reason.as_str().into())], &[("status", &status)]),
        Status::Submitted => tr.markup("dashboard-review-status", &[], &[("status", &status)]),
    };
    let mut b = format!(
        "<h1>{} · {}</h1>{note}<p>{} {status}</p>",
        esc(&l.agency(&i.agency)),
        esc(&i.dataset),
        esc(&tr.ta(
            "dashboard-review-summary",
            &[
                ("title", i.title.as_str().into()),
                ("rows", tr.number(i.rows as f64, 0).into()),
                ("received", tr.datetime_str(&i.received_at).into()),
                ("version", i.store_version.to_string().into())
            ]
        )),
    );
    if let Some(e) = error {
        let _ = write!(b, "<p role=\"alert\" class=\"error\">{}</p>", esc(e));
    }
    let diff = &d.rows_diff;
    let against = i.official.as_deref().map_or_else(|| tr.t("dashboard-review-against-none"), |o| tr.ta("dashboard-review-against", &[("publication", o.into())]));
    let count = |n: u64| tr.number(n as f64, 0);
    let _ = write!(
        b,
        "<h2>{}</h2><p class=\"muted\">{}</p><p id=\"diff\">{}</p>",
        esc(&tr.t("dashboard-review-rows")),
        esc(&against),
        esc(&tr.ta(
            "dashboard-review-diff",
            &[("added", count(diff.added).into()), ("removed", count(diff.removed).into()), ("changed", count(diff.changed).into()), ("unchanged", count(diff.unchanged).into())]
        ))
    );
    if !diff.examples.is_empty() {
        let columns = ["dashboard-review-col-change", "dashboard-review-col-observation", "dashboard-review-col-official-value", "dashboard-review-col-new-value"];
        let mut t = format!("<table>{}<tbody>", head(tr, &columns));
        for e in &diff.examples {
            let change = match e.change.as_str() {
                "added" => tr.t("dashboard-review-change-added"),
                "removed" => tr.t("dashboard-review-change-removed"),
                "changed" => tr.t("dashboard-review-change-changed"),
                other => other.to_owned(),
            };
            let _ = write!(
                t,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&change),
                esc(&e.key),
                value(tr, e.before),
                value(tr, e.after)
            );
        }
        t.push_str("</tbody></table>");
        b.push_str(&html::scroll(&t));
    }
    let (now, then) = (&d.impact.now, &d.impact.if_approved);
    let complete = |n: i64| tr.number(n as f64, 0);
    let _ = write!(b, "<h2>{}</h2>", esc(&tr.t("dashboard-review-impact")));
    b.push_str(&impact(
        tr,
        &[
            (
                "dashboard-impact-headline",
                share(tr, now.headline.numerator, now.headline.denominator, now.headline.share),
                share(tr, then.headline.numerator, then.headline.denominator, then.headline.share),
            ),
            (
                "dashboard-impact-reporting",
                share(tr, now.reporting.numerator, now.reporting.denominator, now.reporting.share),
                share(tr, then.reporting.numerator, then.reporting.denominator, then.reporting.share),
            ),
            ("dashboard-impact-disaggregation", complete(now.disaggregation.national.complete), complete(then.disaggregation.national.complete)),
        ],
        [&d.impact.newly_produced, &d.impact.no_longer_produced, &d.impact.newly_migration_disaggregated, &d.impact.no_longer_migration_disaggregated],
    ));
    let _ = write!(b, "<h2>{}</h2>", esc(&tr.ta("dashboard-quality-warnings", &[("count", d.quality_warnings.len().into())])));
    if !d.quality_warnings.is_empty() {
        let columns = ["dashboard-review-col-rule", "dashboard-problem-row", "dashboard-problem-column", "dashboard-problem-value", "dashboard-review-col-message"];
        let mut t = format!("<table id=\"warnings\">{}<tbody>", head(tr, &columns));
        for w in &d.quality_warnings {
            let _ = write!(
                t,
                "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(w.rule.id()),
                w.row.map(|r| r.to_string()).unwrap_or_default(),
                esc(w.column.as_deref().unwrap_or("")),
                esc(w.value.as_deref().unwrap_or("")),
                esc(&w.message)
            );
        }
        t.push_str("</tbody></table>");
        b.push_str(&html::scroll(&t));
    }
    if !d.decisions.is_empty() {
        let _ = write!(b, "<h2>{}</h2><ul>", esc(&tr.t("dashboard-review-decisions")));
        for x in &d.decisions {
            let id = match x.action {
                Action::Approve => "dashboard-review-decided-approve",
                Action::Return => "dashboard-review-decided-return",
                Action::Unapprove => "dashboard-review-decided-unapprove",
            };
            let decided = tr.ta(id, &[("by", x.by.as_str().into()), ("at", tr.datetime_str(&x.decided_at).into())]);
            let _ = write!(b, "<li>{}{}</li>", esc(&decided), x.reason.as_deref().map(|r| format!(": {}", esc(r))).unwrap_or_default());
        }
        b.push_str("</ul>");
    }
    let _ = write!(b, "<h2>{}</h2>", esc(&tr.t("dashboard-review-decide")));
    if let Some(n) = read_only {
        b.push_str(n);
        return b;
    }
    let form = |action: Action, body: &str, button: &str| {
        format!(
            "<form method=\"post\" action=\"{}\" class=\"decision\">{body}<button id=\"{}\" type=\"submit\">{}</button></form>",
            esc(&r.keep(&format!("/dashboard/review/{}/{}", i.publication_id, action.name()))),
            action.name(),
            esc(&tr.t(button))
        )
    };
    let reason = |required: bool| {
        format!(
            "<label>{}<br><textarea name=\"reason\" rows=\"2\" cols=\"50\"{}></textarea></label><br>",
            esc(&tr.t("dashboard-review-reason")),
            if required { " required" } else { "" }
        )
    };
    if crate::signoff::allowed(&i.status, Action::Approve) {
        let release = format!(
            "<label>{}<br><input type=\"datetime-local\" name=\"release_at\" step=\"1\"></label><br>{}",
            esc(&tr.t("dashboard-review-release-time")),
            reason(false)
        );
        b.push_str(&form(Action::Approve, &release, "dashboard-review-approve"));
    }
    if crate::signoff::allowed(&i.status, Action::Return) {
        b.push_str(&form(Action::Return, &reason(true), "dashboard-review-return"));
    }
    if crate::signoff::allowed(&i.status, Action::Unapprove) {
        b.push_str(&form(Action::Unapprove, &reason(true), "dashboard-review-unapprove"));
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
    Extension(r): Extension<Reader>,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<DecisionForm>,
) -> Result<Response> {
    approver_only(&caller)?;
    let action: Action = action.parse()?;
    let request = Request { release_at: release_time(&f.release_at), reason: Some(f.reason).filter(|r| !r.trim().is_empty()) };
    let now = state.catalog.clock().now()?;
    match state.catalog.store().decide(&id, action, &caller.name, &request, now).await {
        Ok(_) => Ok((StatusCode::SEE_OTHER, [(LOCATION, r.keep(&format!("/dashboard/review/{id}?done={}", action.name())))]).into_response()),
        Err(e @ (Error::BadRequest(_) | Error::Conflict(_) | Error::PermissionDenied(_) | Error::ReadOnly(_))) => {
            let status = e.kind().http;
            let d = crate::review::detail(&state.catalog, &id).await?;
            Ok((status, detail_page(&state, &r, &d, "", Some(&e.to_string()))).into_response())
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
