//! The web dashboard: server-rendered HTML with a little vanilla JavaScript, served by the
//! coordinator under `/dashboard`. It uses the API's tokens: `/dashboard/login` takes a token
//! and opens a server-side session ([`session`]) whose random id the browser keeps in an
//! `HttpOnly`, `SameSite=Strict` cookie (`Secure` over TLS), never the token; every other page
//! needs an open session, and `/dashboard/logout` ends it (failed logins count in the same
//! limiter as the API; an empty token does not). Reader,
//! approver and admin tokens see the pages below; an `agency` token sees only the upload page
//! ([`upload`]) and is refused (403) everywhere else: deny by default.
//!
//! Pages: the headline and by-goal figures (`/dashboard`), the coverage heatmap
//! (`/dashboard/coverage`), agency completeness and timeliness (`/dashboard/agencies`), the
//! figures by area and across areas (`/dashboard/areas`), the
//! publications log with validation summaries (`/dashboard/publications`), the indicators and
//! each indicator's observations and metadata (`/dashboard/indicators/{code}`), and the export
//! downloads (`/dashboard/exports`), and for approvers the review queue (`/dashboard/review`,
//! see [`review`]); for agencies without a server, the upload page (`/dashboard/upload`, see
//! [`upload`]). Figure pages show the official view unless `?view=provisional` is asked for,
//! and say which they show. A read-only replica shows the same pages without the forms that
//! would write (decisions, uploads), and says where to use them.

pub mod review;
pub mod session;
pub mod upload;

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use crate::auth::Role;
use crate::error::Result;
use crate::export::html::{self, esc, percent};
use crate::catalog::Read;
use crate::figures::{self, Window};
use crate::signoff::View;
use crate::http::HttpState;

/// The dashboard's routes.
pub fn router(state: Arc<HttpState>) -> Router<Arc<HttpState>> {
    let pages = Router::new()
        .route("/dashboard", get(overview))
        .route("/dashboard/coverage", get(coverage))
        .route("/dashboard/agencies", get(agencies))
        .route("/dashboard/areas", get(areas))
        .route("/dashboard/publications", get(publications))
        .route("/dashboard/indicators", get(indicators))
        .route("/dashboard/indicators/{code}", get(indicator))
        .route("/dashboard/exports", get(exports))
        .route("/dashboard/exports/{format}", get(download))
        .route("/dashboard/review", get(review::queue))
        .route("/dashboard/review/{id}", get(review::detail))
        .route("/dashboard/review/{id}/{action}", axum::routing::post(review::decide))
        .route_layer(from_fn_with_state((state.clone(), Door::Pages), admit));
    let upload = upload::routes().route_layer(from_fn_with_state((state, Door::Upload), admit));
    Router::new()
        .route("/dashboard/login", get(login_form).post(login))
        .route("/dashboard/logout", axum::routing::post(logout))
        .merge(pages)
        .merge(upload)
}

/// Which part of the dashboard a route belongs to, and so which tokens it admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Door {
    /// Figures, publications, exports and review: roles that grant [`Role::Reader`].
    Pages,
    /// The upload page: `agency` tokens only (each publishes as its own agency).
    Upload,
}

impl Door {
    /// Whether a holder of `role` may pass.
    fn admits(self, role: Role) -> bool {
        match self {
            Door::Pages => role.grants(Role::Reader),
            Door::Upload => role == Role::Agency,
        }
    }
}

fn to_login() -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, "/dashboard/login")]).into_response()
}

/// Admits a request whose open session's role may pass `door`; a session of another role is
/// refused (403, with a link to the pages it may see), no open session goes to the login.
async fn admit(State((state, door)): State<(Arc<HttpState>, Door)>, mut req: Request, next: Next) -> Response {
    let holder = match session::id_of(req.headers()).map(|id| state.sessions.find(id)).transpose() {
        Ok(h) => h.flatten(),
        Err(e) => return e.into_response(),
    };
    let caller = holder.map(|h| crate::http::Caller { name: h.name, role: h.role });
    match caller {
        Some(c) if door.admits(c.role) => {
            req.extensions_mut().insert(c);
            next.run(req).await
        }
        Some(c) => {
            let (what, link) = match c.role {
                Role::Agency => ("An agency token may only upload its agency's datasets", "<a href=\"/dashboard/upload\">Go to the upload page</a>"),
                _ => ("The upload page is for agency tokens", "<a href=\"/dashboard\">Go to the dashboard</a>"),
            };
            tracing::warn!(name = %c.name, role = ?c.role, path = %req.uri().path(), "dashboard page refused to the token's role");
            let body = format!("<h1>Not allowed</h1><p role=\"alert\" class=\"error\">{what}; {} has role {:?}.</p><p>{link}.</p>", esc(&c.name), c.role);
            (StatusCode::FORBIDDEN, Html(html::page("Not allowed · sdgx", "", &body))).into_response()
        }
        None => to_login(),
    }
}

const NAV: &str = "<nav><a href=\"/dashboard\">Headline</a><a href=\"/dashboard/coverage\">Coverage</a><a href=\"/dashboard/agencies\">Agencies</a><a href=\"/dashboard/areas\">Areas</a>\
<a href=\"/dashboard/publications\">Publications</a><a href=\"/dashboard/indicators\">Indicators</a><a href=\"/dashboard/exports\">Exports</a>\
<a href=\"/dashboard/review\">Review (approvers)</a>\
<form method=\"post\" action=\"/dashboard/logout\" style=\"display:inline\"><button>Log out</button></form></nav>";

fn page(title: &str, body: &str) -> Html<String> {
    Html(html::page(&format!("{title} · sdgx"), NAV, body))
}

/// On a read-only replica, the note shown where a form would write (`what`: "decide",
/// "upload"...), naming the store; `None` on the writer, which shows the forms.
fn read_only_note(state: &HttpState, what: &str) -> Option<String> {
    let store = state.catalog.store();
    store.writable().err()?;
    Some(format!(
        "<p id=\"read-only\" role=\"note\" class=\"error\">This coordinator is a read-only replica of <code>{}</code>: {what} on the writer's dashboard.</p>",
        esc(&crate::storage::redact(store.url()))
    ))
}

async fn login_form() -> Html<String> {
    Html(login_page(None))
}

fn login_page(error: Option<&str>) -> String {
    let msg = error.map(|e| format!("<p role=\"alert\" class=\"error\">{}</p>", esc(e))).unwrap_or_default();
    html::page(
        "Log in · sdgx",
        "",
        &format!(
            "<h1>sdgx dashboard</h1>{msg}<form method=\"post\" action=\"/dashboard/login\"><label for=\"token\">Access token (agency, reader, approver or admin)</label><br>\
<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" size=\"50\" required> <button id=\"login\" type=\"submit\">Log in</button></form>"
        ),
    )
}

/// The login form's body.
#[derive(Deserialize)]
pub struct Login {
    token: String,
}

/// Logs in with a token, opening a session: a reader's, approver's or administrator's opens the
/// dashboard, an agency's the upload page (the browser's previous session ends). An empty token
/// is refused without
/// counting; an invalid one counts towards the address's failed authentications (429 with
/// `Retry-After` once it has spent its allowance); a valid one is always admitted.
async fn login(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    Form(l): Form<Login>,
) -> Response {
    let ip = peer.ip();
    let token = l.token.trim();
    if token.is_empty() {
        return (StatusCode::UNAUTHORIZED, Html(login_page(Some("Enter an access token.")))).into_response();
    }
    match state.tokens.authenticate(token) {
        Some((name, role)) if Door::Pages.admits(role) || Door::Upload.admits(role) => {
            // A new session each login (an id planted before it opens nothing); the browser's
            // previous one ends.
            if let Some(old) = session::id_of(&headers) {
                state.sessions.close(old);
            }
            let id = match state.sessions.open(session::Holder { name: name.to_owned(), role }) {
                Ok(id) => id,
                Err(e) => return e.into_response(),
            };
            tracing::info!(%name, ?role, %ip, "opened a dashboard session");
            let home = if Door::Pages.admits(role) { "/dashboard" } else { "/dashboard/upload" };
            (StatusCode::SEE_OTHER, [(LOCATION, home.to_owned()), (SET_COOKIE, state.sessions.cookie(&id))]).into_response()
        }
        Some((name, role)) => (StatusCode::FORBIDDEN, Html(login_page(Some(&format!("{name} has role {role:?}; the dashboard needs agency, reader, approver or admin."))))).into_response(),
        None => match state.limiter.failed(ip) {
            Ok(()) => {
                tracing::warn!(%ip, "rejected an invalid dashboard token");
                (StatusCode::UNAUTHORIZED, Html(login_page(Some("That token is not valid.")))).into_response()
            }
            Err(locked) => {
                let message = format!("Too many failed attempts from this address; try again in {} s.", locked.secs());
                (StatusCode::TOO_MANY_REQUESTS, [(RETRY_AFTER, locked.secs().to_string())], Html(login_page(Some(&message)))).into_response()
            }
        },
    }
}

/// Ends the request's session here (its cookie then leads to the login page, wherever it was
/// copied) and removes the cookie from the browser.
async fn logout(State(state): State<Arc<HttpState>>, req: Request) -> Response {
    if session::id_of(req.headers()).is_some_and(|id| state.sessions.close(id)) {
        tracing::info!("closed a dashboard session at logout");
    }
    (StatusCode::SEE_OTHER, [(LOCATION, "/dashboard/login".to_owned()), (SET_COOKIE, state.sessions.removal())]).into_response()
}

/// The view a page shows (`?view=provisional`, or the official view) and the reader's
/// language (`?lang=`, else `Accept-Language`).
#[derive(Debug, Default, Deserialize)]
pub struct ViewChoice {
    #[serde(default)]
    view: View,
    lang: Option<String>,
}

/// Figure `T` over the current state of `view`.
async fn figure<T: figures::Compute>(state: &HttpState, view: View) -> Result<Arc<T>> {
    figures::get::<T>(&state.catalog, Window::default(), &Read::current(view)).await
}

/// The provenance line of a page: the view and store version read, with a link to the other
/// view.
fn about(a: &figures::About) -> String {
    let other = match a.view {
        View::Official => View::Provisional,
        View::Provisional => View::Official,
    };
    let what = match a.view {
        View::Official => "Official figures: publications approved and released by the statistical office",
        View::Provisional => "Provisional figures: every accepted publication, approved or not",
    };
    format!(
        "<p class=\"provenance\">{what}. Store version {}, framework {}. <a href=\"?view={other}\">Show the {other} figures</a>.</p>",
        a.store_version,
        esc(&a.framework_version)
    )
}

async fn overview(State(state): State<Arc<HttpState>>, Query(v): Query<ViewChoice>) -> Result<Html<String>> {
    let share = figure::<figures::MigrationShare>(&state, v.view).await?;
    let rep = figure::<figures::ReportingStatus>(&state, v.view).await?;
    let mut b = String::from("<h1>National SDG figures by migratory status</h1>");
    b.push_str(&about(&share.about));
    b.push_str(&html::headline(&share));
    let _ = write!(b, "<h2>By goal</h2>{}<h2>Trend by reference year</h2>{}", html::goal_chart(&share), html::trend_chart(&share));
    let _ = write!(b, "<h2>Reporting status</h2><p>{} of {} indicators in scope are reported ({}).</p>", rep.numerator, rep.denominator, percent(rep.share));
    Ok(page("Headline", &b))
}

async fn coverage(State(state): State<Arc<HttpState>>, Query(v): Query<ViewChoice>) -> Result<Html<String>> {
    let c = figure::<figures::coverage::CoverageMatrix>(&state, v.view).await?;
    let b = format!("<h1>Coverage of disaggregations</h1>{}<p class=\"muted\">{}</p>{}", about(&c.about), esc(&c.about.definition), html::coverage_chart(&c));
    Ok(page("Coverage", &b))
}

async fn areas(State(state): State<Arc<HttpState>>, Query(v): Query<ViewChoice>) -> Result<Html<String>> {
    let by_area = figure::<figures::areas::AreaFigures>(&state, v.view).await?;
    let across = figure::<figures::cross_area::CrossArea>(&state, v.view).await?;
    let b = format!(
        "<h1>Figures by area</h1>{}<p class=\"muted\">{}</p>{}<h2>Across areas</h2><p class=\"muted\">{}</p>{}",
        about(&by_area.about),
        esc(&by_area.about.definition),
        html::area_table(&by_area),
        esc(&across.about.definition),
        html::cross_area_summary(&across)
    );
    Ok(page("Areas", &b))
}

async fn agencies(State(state): State<Arc<HttpState>>, Query(v): Query<ViewChoice>) -> Result<Html<String>> {
    let c = figure::<figures::completeness::Completeness>(&state, v.view).await?;
    let mut b = format!("<h1>Agency completeness and timeliness</h1>{}<p class=\"muted\">{}</p>{}", about(&c.about), esc(&c.about.definition), html::completeness_chart(&c));
    b.push_str("<table><thead><tr><th>Agency</th><th>Dataset</th><th>Period</th><th>Due</th><th>First received</th><th>Status</th></tr></thead><tbody>");
    for r in &c.reports {
        let status = match (r.received, r.on_time) {
            (true, true) => "received on time",
            (true, false) => "received late",
            (false, _) => "not received",
        };
        let _ = write!(b, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{status}</td></tr>",
            esc(&r.agency), esc(&r.dataset), esc(&r.period), esc(&r.due), esc(r.first_received.as_deref().unwrap_or("-")));
    }
    b.push_str("</tbody></table>");
    Ok(page("Agencies", &b))
}

async fn publications(State(state): State<Arc<HttpState>>) -> Html<String> {
    let store = state.catalog.store();
    let mut b = format!("<h1>Publications log</h1><p class=\"provenance\">Store version {}.</p>", store.version().await);
    b.push_str("<table><thead><tr><th>Version</th><th>Received</th><th>Agency</th><th>Dataset</th><th>Rows</th><th>Indicators</th><th>Periods</th><th>Warnings</th><th>Content hash</th></tr></thead><tbody>");
    for p in store.publications().await.iter().rev() {
        let sm = &p.summary;
        let _ = write!(
            b,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\" title=\"{}\">{}</td><td><code>{}</code></td></tr>",
            p.store_version,
            esc(&p.received_at),
            esc(&p.agency),
            esc(&p.dataset),
            p.rows,
            esc(&sm.indicators.keys().cloned().collect::<Vec<_>>().join(", ")),
            esc(&sm.periods.iter().cloned().collect::<Vec<_>>().join(", ")),
            esc(&sm.warnings.iter().map(|w| w.message.clone()).collect::<Vec<_>>().join("\n")),
            sm.warnings.len(),
            esc(&p.content_hash[..p.content_hash.len().min(19)])
        );
    }
    b.push_str("</tbody></table>");
    page("Publications", &b)
}

const FILTER_JS: &str = "<script>document.getElementById('filter').addEventListener('input',function(e){var q=e.target.value.toLowerCase();\
document.querySelectorAll('#indicators tbody tr').forEach(function(r){r.style.display=r.textContent.toLowerCase().indexOf(q)<0?'none':'';});});</script>";

async fn indicators(State(state): State<Arc<HttpState>>, Query(v): Query<ViewChoice>) -> Result<Html<String>> {
    let d = figure::<figures::disaggregation::DisaggregationStatus>(&state, v.view).await?;
    let mut b = format!("<h1>Indicators</h1>{}<p><label>Filter <input id=\"filter\" type=\"search\"></label></p>", about(&d.about));
    b.push_str("<table id=\"indicators\"><thead><tr><th>Indicator</th><th>Goal</th><th>Disaggregation status</th><th>Present</th><th>Missing</th></tr></thead><tbody>");
    for i in &d.indicators {
        let _ = write!(b, "<tr><td><a href=\"/dashboard/indicators/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&i.indicator), esc(&i.indicator), i.goal, esc(&i.status), esc(&i.present.join(", ")), esc(&i.missing.join(", ")));
    }
    b.push_str("</tbody></table>");
    b.push_str(FILTER_JS);
    Ok(page("Indicators", &b))
}

async fn indicator(State(state): State<Arc<HttpState>>, Path(code): Path<String>, Query(v): Query<ViewChoice>) -> Result<Html<String>> {
    let contract = state.catalog.contract();
    let ind = contract.framework.indicator(&code).ok_or_else(|| crate::Error::NotFound(format!("no indicator {code:?} in the framework")))?;
    let session = state.catalog.tables(&state.catalog.pin(&Read::current(v.view)).await?).await?;
    let sql = format!(
        "SELECT agency, dataset, series, ref_area, time_period, sex, age, migratory_status, cust_breakdown, composite_breakdown, obs_value, unit_measure, obs_status, conf_status \
         FROM observations WHERE indicator = {} ORDER BY time_period DESC, series, ref_area LIMIT 1000",
        figures::literal(&code)
    );
    let batches = session.ctx.sql(&sql).await?.collect().await?;
    let mut b = format!("<h1>{} {}</h1><p class=\"provenance\">The {} view, store version {}; goal {}, target {}.</p>", esc(&ind.code), esc(&ind.title), session.view, session.store_version, ind.goal, esc(&ind.target));
    if let Some(m) = &ind.metadata {
        let _ = write!(b, "<h2>Metadata</h2>{}", html::metadata_list(m));
    }
    let _ = write!(b, "<h2>Observations (newest first, at most 1,000)</h2>{}", html::batches_table(&batches)?);
    Ok(page(&ind.code, &b))
}

async fn exports(State(state): State<Arc<HttpState>>) -> Html<String> {
    let v = state.catalog.store().version().await;
    let mut b = format!("<h1>Exports</h1><p class=\"provenance\">Current store version {v}; each file states the version it was made from.</p><ul>");
    for (name, f) in crate::export::FORMATS {
        let _ = write!(b, "<li><a href=\"/dashboard/exports/{name}\" download=\"{}\">{name}</a></li>", f.file_name(v));
    }
    b.push_str("</ul>");
    page("Exports", &b)
}

async fn download(State(state): State<Arc<HttpState>>, Path(format): Path<String>, Query(v): Query<ViewChoice>, headers: axum::http::HeaderMap) -> Result<Response> {
    let tr = crate::http::reader_language(&state.catalog, v.lang.as_deref(), &headers);
    crate::http::download(&state.catalog, &format, &Read::current(v.view), tr).await
}
