//! The web dashboard: server-rendered HTML with a little vanilla JavaScript, served by the
//! coordinator under `/dashboard`. It uses the API's tokens: `/dashboard/login` takes a token
//! and opens a server-side session ([`session`]) whose random id the browser keeps in an
//! `HttpOnly`, `SameSite=Strict` cookie (`Secure` over TLS), never the token; every other page
//! needs an open session, and `/dashboard/logout` ends it (failed logins count in the same
//! limiter as the API; an empty token does not). Reader,
//! approver and admin tokens see the pages below; an `agency` token sees only the upload page
//! ([`upload`]) and is refused (403) everywhere else: deny by default.
//!
//! Pages: the headline and by-goal figures (`/dashboard`), the coverage of breakdowns (a summary by goal and the indicators with data)
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
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Form, Router};
use serde::Deserialize;

use crate::auth::Role;
use crate::error::Result;
use crate::export::html::{self, esc};
use crate::i18n::{Labels, Tr};
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

/// The way to the login page, keeping the language `r` asked for.
fn to_login(r: &Reader) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, r.keep("/dashboard/login"))]).into_response()
}

/// Admits a request whose open session's role may pass `door`; a session of another role is
/// refused (403, with a link to the pages it may see), no open session goes to the login.
async fn admit(State((state, door)): State<(Arc<HttpState>, Door)>, mut req: Request, next: Next) -> Response {
    let holder = match session::id_of(req.headers()).map(|id| state.sessions.find(id)).transpose() {
        Ok(h) => h.flatten(),
        Err(e) => return e.into_response(),
    };
    let caller = holder.map(|h| crate::http::Caller { name: h.name, role: h.role });
    let reader = Reader::of(&state, &req);
    match caller {
        Some(c) if door.admits(c.role) => {
            req.extensions_mut().insert(c);
            req.extensions_mut().insert(reader);
            next.run(req).await
        }
        Some(c) => {
            tracing::warn!(name = %c.name, role = ?c.role, path = %req.uri().path(), "dashboard page refused to the token's role");
            (StatusCode::FORBIDDEN, forbidden(&reader, &c)).into_response()
        }
        None => to_login(&reader),
    }
}

/// The page refusing `c` a page its role may not see, with a link to those it may.
fn forbidden(r: &Reader, c: &crate::http::Caller) -> Html<String> {
    let tr = &r.tr;
    let args = [("name", c.name.as_str().into()), ("role", format!("{:?}", c.role).into())];
    let (what, to, label) = match c.role {
        Role::Agency => (tr.ta("dashboard-forbidden-agency", &args), "/dashboard/upload", tr.t("dashboard-forbidden-to-upload")),
        _ => (tr.ta("dashboard-forbidden-upload", &args), "/dashboard", tr.t("dashboard-forbidden-to-dashboard")),
    };
    let title = tr.t("dashboard-forbidden-title");
    let body = format!(
        "<h1>{}</h1><p role=\"alert\" class=\"error\">{}</p><p><a href=\"{}\">{}</a>.</p>",
        esc(&title),
        esc(&what),
        esc(&r.link(to)),
        esc(&label)
    );
    Html(html::page(tr, &format!("{title} · sdgx"), &r.languages(), &body))
}

/// Who reads a page: their languages (`?lang=`, else `Accept-Language`, else the
/// coordinator's language) and the page asked for, so that the language links keep it.
#[derive(Debug, Clone)]
pub struct Reader {
    /// The reader's languages.
    pub tr: Tr,
    /// The page's path.
    path: String,
    /// The page's query without `lang`.
    query: Vec<(String, String)>,
    /// The `?lang=` asked for, if any.
    asked: Option<String>,
}

impl Reader {
    /// The reader of `req`.
    pub fn of(state: &HttpState, req: &Request) -> Reader {
        Reader::at(state, req.uri(), req.headers())
    }

    /// The reader of a request for `uri` with `headers` (for handlers that also read the body).
    pub fn at(state: &HttpState, uri: &Uri, headers: &HeaderMap) -> Reader {
        let query: Vec<(String, String)> = uri.query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
        let asked = query.iter().find(|(k, v)| k == "lang" && !v.trim().is_empty()).map(|(_, v)| v.clone());
        Reader {
            tr: crate::http::reader_language(&state.catalog, asked.as_deref(), headers),
            path: uri.path().to_owned(),
            query: query.into_iter().filter(|(k, _)| k != "lang").collect(),
            asked,
        }
    }

    /// `path` (which may have a query) with the `?lang=` the reader asked for, if any: for
    /// form actions and redirects, so that the next page reads in the same language. A
    /// language from `Accept-Language` needs nothing (the browser sends it again).
    pub fn keep(&self, path: &str) -> String {
        match &self.asked {
            None => path.to_owned(),
            Some(lang) => {
                let sep = if path.contains('?') { '&' } else { '?' };
                format!("{path}{sep}{}", url::form_urlencoded::Serializer::new(String::new()).append_pair("lang", lang).finish())
            }
        }
    }

    /// A link to `path` in the reader's language (and view, when the page has one).
    pub fn link(&self, path: &str) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.query.iter().filter(|(k, _)| k == "view") {
            q.append_pair(k, v);
        }
        q.append_pair("lang", self.tr.lang());
        format!("{path}?{}", q.finish())
    }

    /// The links to this page in every interface language.
    pub fn languages(&self) -> String {
        let mut s = format!("<p class=\"languages\" id=\"languages\" aria-label=\"{}\">", esc(&self.tr.t("dashboard-languages")));
        for (tag, name, current) in self.tr.choices() {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &self.query {
                q.append_pair(k, v);
            }
            q.append_pair("lang", tag);
            let current = if current { " aria-current=\"true\"" } else { "" };
            let _ = write!(s, "<a href=\"{}?{}\" lang=\"{tag}\" hreflang=\"{tag}\"{current}>{}</a>", esc(&self.path), esc(&q.finish()), esc(name));
        }
        s.push_str("</p>");
        s
    }

    /// Labels in the reader's languages.
    pub fn labels<'a>(&'a self, state: &'a HttpState, agencies: &'a std::collections::BTreeMap<String, String>) -> Labels<'a> {
        Labels::new(&self.tr, state.catalog.contract(), agencies)
    }
}

/// The dashboard's navigation, in the reader's language.
fn nav(r: &Reader) -> String {
    let tr = &r.tr;
    let mut s = String::from("<nav>");
    for (path, id) in [
        ("/dashboard", "dashboard-nav-headline"),
        ("/dashboard/coverage", "dashboard-nav-coverage"),
        ("/dashboard/agencies", "dashboard-nav-agencies"),
        ("/dashboard/areas", "dashboard-nav-areas"),
        ("/dashboard/publications", "dashboard-nav-publications"),
        ("/dashboard/indicators", "dashboard-nav-indicators"),
        ("/dashboard/exports", "dashboard-nav-exports"),
        ("/dashboard/review", "dashboard-nav-review"),
    ] {
        let _ = write!(s, "<a href=\"{}\">{}</a>", esc(&r.link(path)), esc(&tr.t(id)));
    }
    s.push_str(&logout_button(r));
    s.push_str("</nav>");
    s.push_str(&r.languages());
    s
}

/// The logout button (its answer, the login page, keeps the language asked for).
fn logout_button(r: &Reader) -> String {
    format!("<form method=\"post\" action=\"{}\"><button>{}</button></form>", esc(&r.keep("/dashboard/logout")), esc(&r.tr.t("dashboard-logout")))
}

/// A table's header row: the messages `ids` in the reader's language.
fn head(tr: &Tr, ids: &[&str]) -> String {
    let mut s = String::from("<thead><tr>");
    for id in ids {
        let _ = write!(s, "<th>{}</th>", esc(&tr.t(id)));
    }
    s.push_str("</tr></thead>");
    s
}

/// "3 of 7 (42.9%)" in the reader's language.
fn share(tr: &Tr, numerator: i64, denominator: i64, ratio: Option<f64>) -> String {
    format!("{} ({})", tr.ta("report-ratio", &[("numerator", numerator.into()), ("denominator", denominator.into())]), tr.percent(ratio))
}

/// The effect of a publication on the official figures: a table of `rows` (a message id, the
/// figure now, if approved), then the indicators whose standing would change (`changes`:
/// newly produced, no longer produced, newly and no longer disaggregated by migratory status).
fn impact(tr: &Tr, rows: &[(&str, String, String)], changes: [&[String]; 4]) -> String {
    let mut b = format!("<table id=\"impact\">{}<tbody>", head(tr, &["dashboard-impact-figure", "dashboard-impact-now", "dashboard-impact-if-approved"]));
    for (id, now, then) in rows {
        let _ = write!(b, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&tr.t(id)), esc(now), esc(then));
    }
    b.push_str("</tbody></table>");
    let mut b = html::scroll(&b);
    let labels = ["dashboard-impact-newly-produced", "dashboard-impact-no-longer-produced", "dashboard-impact-newly-disaggregated", "dashboard-impact-no-longer-disaggregated"];
    for (id, list) in labels.into_iter().zip(changes) {
        if !list.is_empty() {
            let _ = write!(b, "<p>{}</p>", esc(&tr.ta(id, &[("indicators", list.join(", ").into())])));
        }
    }
    b
}

/// A dashboard page for `r`.
pub fn page(r: &Reader, title: &str, body: &str) -> Html<String> {
    Html(html::page(&r.tr, &format!("{title} · sdgx"), &nav(r), body))
}

/// What a read-only replica sends to the writer's dashboard.
#[derive(Debug, Clone, Copy)]
enum Elsewhere {
    /// Decisions on publications.
    Decide,
    /// Uploads.
    Upload,
}

/// On a read-only replica, the note shown where a form would write, naming the store; `None`
/// on the writer, which shows the forms.
fn read_only_note(state: &HttpState, tr: &Tr, what: Elsewhere) -> Option<String> {
    let store = state.catalog.store();
    store.writable().err()?;
    let id = match what {
        Elsewhere::Decide => "dashboard-read-only-decide",
        Elsewhere::Upload => "dashboard-read-only-upload",
    };
    let code = format!("<code>{}</code>", esc(&crate::storage::redact(store.url())));
    Some(format!("<p id=\"read-only\" role=\"note\" class=\"error\">{}</p>", tr.markup(id, &[], &[("store", &code)])))
}

async fn login_form(State(state): State<Arc<HttpState>>, req: Request) -> Html<String> {
    Html(login_page(&Reader::of(&state, &req), None))
}

/// The login page in `r`'s language, with `error` (already in it) when the last try failed.
fn login_page(r: &Reader, error: Option<&str>) -> String {
    let tr = &r.tr;
    let msg = error.map(|e| format!("<p role=\"alert\" class=\"error\">{}</p>", esc(e))).unwrap_or_default();
    html::page(
        tr,
        &format!("{} · sdgx", tr.t("dashboard-login-title")),
        &r.languages(),
        &format!(
            "<h1>{}</h1>{msg}<form method=\"post\" action=\"{}\"><label for=\"token\">{}</label><br>\
<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" size=\"50\" required> <button id=\"login\" type=\"submit\">{}</button></form>",
            esc(&tr.t("dashboard-login-heading")),
            esc(&r.keep("/dashboard/login")),
            esc(&tr.t("dashboard-login-token")),
            esc(&tr.t("dashboard-login-button"))
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
/// `Retry-After` once it has spent its allowance); a valid one is always admitted. The answer,
/// and the page it leads to, keep the `?lang=` of the form's action.
async fn login(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    Form(l): Form<Login>,
) -> Response {
    let ip = peer.ip();
    let r = Reader::at(&state, &uri, &headers);
    let tr = &r.tr;
    let token = l.token.trim();
    if token.is_empty() {
        return (StatusCode::UNAUTHORIZED, Html(login_page(&r, Some(&tr.t("dashboard-login-empty"))))).into_response();
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
            (StatusCode::SEE_OTHER, [(LOCATION, r.keep(home)), (SET_COOKIE, state.sessions.cookie(&id))]).into_response()
        }
        Some((name, role)) => {
            let message = tr.ta("dashboard-login-wrong-role", &[("name", name.into()), ("role", format!("{role:?}").into())]);
            (StatusCode::FORBIDDEN, Html(login_page(&r, Some(&message)))).into_response()
        }
        None => match state.limiter.failed(ip) {
            Ok(()) => {
                tracing::warn!(%ip, "rejected an invalid dashboard token");
                (StatusCode::UNAUTHORIZED, Html(login_page(&r, Some(&tr.t("dashboard-login-invalid"))))).into_response()
            }
            Err(locked) => {
                let message = tr.ta("dashboard-login-too-many", &[("seconds", locked.secs().into())]);
                (StatusCode::TOO_MANY_REQUESTS, [(RETRY_AFTER, locked.secs().to_string())], Html(login_page(&r, Some(&message)))).into_response()
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
    let r = Reader::of(&state, &req);
    (StatusCode::SEE_OTHER, [(LOCATION, r.keep("/dashboard/login")), (SET_COOKIE, state.sessions.removal())]).into_response()
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
/// view (in the reader's language).
fn about(r: &Reader, a: &figures::About) -> String {
    let tr = &r.tr;
    let other = match a.view {
        View::Official => View::Provisional,
        View::Provisional => View::Official,
    };
    let what = tr.t(&format!("dashboard-about-{}", a.view));
    let version = tr.ta("dashboard-about-version", &[("version", a.store_version.to_string().into()), ("framework", a.framework_version.as_str().into())]);
    let link = format!("?view={other}&lang={}", tr.lang());
    format!(
        "<p class=\"provenance\">{}. {} <a href=\"{}\">{}</a>.</p>",
        esc(&what),
        esc(&version),
        esc(&link),
        esc(&tr.t(&format!("dashboard-show-{other}")))
    )
}

/// The registry's agency names, for labels.
fn agency_names(state: &HttpState) -> std::collections::BTreeMap<String, String> {
    crate::export::agency_names(state.catalog.registers())
}

async fn overview(State(state): State<Arc<HttpState>>, Extension(r): Extension<Reader>, Query(v): Query<ViewChoice>) -> Result<Html<String>> {
    let share = figure::<figures::MigrationShare>(&state, v.view).await?;
    let rep = figure::<figures::ReportingStatus>(&state, v.view).await?;
    let names = agency_names(&state);
    let (tr, l) = (&r.tr, r.labels(&state, &names));
    let mut b = format!("<h1>{}</h1>", esc(&tr.t("dashboard-overview-title")));
    b.push_str(&about(&r, &share.about));
    b.push_str(&html::headline(tr, &share));
    let _ = write!(
        b,
        "<h2>{}</h2>{}<h2>{}</h2>{}",
        esc(&tr.t("report-by-goal")),
        html::goal_chart(&l, &share),
        esc(&tr.t("report-trend")),
        html::trend_chart(tr, &share)
    );
    let _ = write!(
        b,
        "<h2>{}</h2><p>{}</p>{}",
        esc(&tr.t("figure-reporting-status-title")),
        esc(&tr.ta(
            "report-reporting-summary",
            &[("ratio", tr.ta("report-ratio", &[("numerator", rep.numerator.into()), ("denominator", rep.denominator.into())]).into()), ("share", tr.percent(rep.share).into())]
        )),
        html::definition(tr, "reporting-status", &rep.about.definition)
    );
    Ok(page(&r, &tr.t("dashboard-nav-headline"), &b))
}

async fn coverage(State(state): State<Arc<HttpState>>, Extension(r): Extension<Reader>, Query(v): Query<ViewChoice>) -> Result<Html<String>> {
    let c = figure::<figures::coverage::CoverageMatrix>(&state, v.view).await?;
    let names = agency_names(&state);
    let (tr, l) = (&r.tr, r.labels(&state, &names));
    let b = format!(
        "<h1>{}</h1>{}{}{}",
        esc(&tr.t("figure-coverage-matrix-title")),
        about(&r, &c.about),
        html::definition(tr, "coverage-matrix", &c.about.definition),
        html::coverage_tables(&l, &c)
    );
    Ok(page(&r, &tr.t("dashboard-nav-coverage"), &b))
}

async fn areas(State(state): State<Arc<HttpState>>, Extension(r): Extension<Reader>, Query(v): Query<ViewChoice>) -> Result<Html<String>> {
    let by_area = figure::<figures::areas::AreaFigures>(&state, v.view).await?;
    let across = figure::<figures::cross_area::CrossArea>(&state, v.view).await?;
    let names = agency_names(&state);
    let (tr, l) = (&r.tr, r.labels(&state, &names));
    let b = format!(
        "<h1>{}</h1>{}{}{}<h2>{}</h2>{}{}",
        esc(&tr.t("figure-area-figures-title")),
        about(&r, &by_area.about),
        html::definition(tr, "area-figures", &by_area.about.definition),
        html::area_table(&l, &by_area),
        esc(&tr.t("figure-cross-area-title")),
        html::definition(tr, "cross-area", &across.about.definition),
        html::cross_area_summary(&l, &across)
    );
    Ok(page(&r, &tr.t("dashboard-nav-areas"), &b))
}

async fn agencies(State(state): State<Arc<HttpState>>, Extension(r): Extension<Reader>, Query(v): Query<ViewChoice>) -> Result<Html<String>> {
    let c = figure::<figures::completeness::Completeness>(&state, v.view).await?;
    let names = agency_names(&state);
    let (tr, l) = (&r.tr, r.labels(&state, &names));
    let mut b = format!(
        "<h1>{}</h1>{}{}{}",
        esc(&tr.t("figure-agency-completeness-title")),
        about(&r, &c.about),
        html::definition(tr, "agency-completeness", &c.about.definition),
        html::completeness_chart(&l, &c)
    );
    let mut t = format!(
        "<table>{}<tbody>",
        head(tr, &["report-col-agency", "report-col-dataset", "report-col-period", "dashboard-col-due", "dashboard-col-first-received", "dashboard-col-status"])
    );
    for rep in &c.reports {
        let status = match (rep.received, rep.on_time) {
            (true, true) => l.status("received_on_time"),
            (true, false) => l.status("received_late"),
            (false, _) => tr.t("dashboard-not-received"),
        };
        let first = rep.first_received.as_deref().map_or_else(|| "–".to_owned(), |t| tr.datetime_str(t));
        let _ = write!(
            t,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&l.agency(&rep.agency)),
            esc(&rep.dataset),
            esc(&rep.period),
            esc(&day(tr, &rep.due)),
            esc(&first),
            esc(&status)
        );
    }
    t.push_str("</tbody></table>");
    b.push_str(&html::scroll(&t));
    Ok(page(&r, &tr.t("dashboard-nav-agencies"), &b))
}

/// A date (`2026-03-31`) or a moment (RFC 3339) for people.
fn day(tr: &Tr, text: &str) -> String {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_or_else(|_| tr.datetime_str(text), |d| tr.date(d))
}

async fn publications(State(state): State<Arc<HttpState>>, Extension(r): Extension<Reader>) -> Html<String> {
    let store = state.catalog.store();
    let names = agency_names(&state);
    let (tr, l) = (&r.tr, r.labels(&state, &names));
    let mut b = format!(
        "<h1>{}</h1><p class=\"provenance\">{}</p>",
        esc(&tr.t("dashboard-publications-title")),
        esc(&tr.ta("dashboard-store-version", &[("version", store.version().await.to_string().into())]))
    );
    let columns = [
        "report-col-store-version",
        "report-col-received",
        "report-col-agency",
        "report-col-dataset",
        "report-col-rows",
        "report-col-indicators",
        "dashboard-col-periods",
        "dashboard-col-warnings",
        "report-col-content-hash",
    ];
    let mut t = format!("<table>{}<tbody>", head(tr, &columns));
    for p in store.publications().await.iter().rev() {
        let sm = &p.summary;
        let _ = write!(
            t,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\" title=\"{}\">{}</td><td><code>{}</code></td></tr>",
            p.store_version,
            esc(&tr.datetime_str(&p.received_at)),
            esc(&l.agency(&p.agency)),
            esc(&p.dataset),
            tr.number(p.rows as f64, 0),
            esc(&sm.indicators.keys().cloned().collect::<Vec<_>>().join(", ")),
            esc(&sm.periods.iter().cloned().collect::<Vec<_>>().join(", ")),
            esc(&sm.warnings.iter().map(|w| w.message.clone()).collect::<Vec<_>>().join("\n")),
            sm.warnings.len(),
            esc(&p.content_hash[..p.content_hash.len().min(19)])
        );
    }
    t.push_str("</tbody></table>");
    b.push_str(&html::scroll(&t));
    page(&r, &tr.t("dashboard-nav-publications"), &b)
}

const FILTER_JS: &str = "<script>document.getElementById('filter').addEventListener('input',function(e){var q=e.target.value.toLowerCase();\
document.querySelectorAll('#indicators tbody tr').forEach(function(r){r.style.display=r.textContent.toLowerCase().indexOf(q)<0?'none':'';});});</script>";

async fn indicators(State(state): State<Arc<HttpState>>, Extension(r): Extension<Reader>, Query(v): Query<ViewChoice>) -> Result<Html<String>> {
    let d = figure::<figures::disaggregation::DisaggregationStatus>(&state, v.view).await?;
    let names = agency_names(&state);
    let (tr, l) = (&r.tr, r.labels(&state, &names));
    let mut b = format!(
        "<h1>{}</h1>{}{}<p><label>{} <input id=\"filter\" type=\"search\"></label></p>",
        esc(&tr.t("dashboard-nav-indicators")),
        about(&r, &d.about),
        html::definition(tr, "disaggregation-status", &d.about.definition),
        esc(&tr.t("dashboard-filter"))
    );
    let mut t = format!(
        "<table id=\"indicators\">{}<tbody>",
        head(tr, &["report-col-indicator", "report-col-goal", "figure-disaggregation-status-title", "dashboard-col-present", "dashboard-col-missing"])
    );
    let dims = |ds: &[String]| ds.iter().map(|d| l.dimension(d)).collect::<Vec<_>>().join(", ");
    for i in &d.indicators {
        let _ = write!(
            t,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.link(&format!("/dashboard/indicators/{}", i.indicator))),
            html::indicator_cell(&l, &i.indicator),
            i.goal,
            esc(&l.status(&i.status)),
            esc(&dims(&i.present)),
            esc(&dims(&i.missing))
        );
    }
    t.push_str("</tbody></table>");
    b.push_str(&html::scroll(&t));
    b.push_str(FILTER_JS);
    Ok(page(&r, &tr.t("dashboard-nav-indicators"), &b))
}

async fn indicator(State(state): State<Arc<HttpState>>, Extension(r): Extension<Reader>, Path(code): Path<String>, Query(v): Query<ViewChoice>) -> Result<Html<String>> {
    let contract = state.catalog.contract();
    let ind = contract.framework.indicator(&code).ok_or_else(|| crate::Error::NotFound(format!("no indicator {code:?} in the framework")))?;
    let session = state.catalog.tables(&state.catalog.pin(&Read::current(v.view)).await?).await?;
    let sql = format!(
        "SELECT agency, dataset, series, ref_area, time_period, sex, age, migratory_status, cust_breakdown, composite_breakdown, obs_value, unit_measure, obs_status, conf_status \
         FROM observations WHERE indicator = {} ORDER BY time_period DESC, series, ref_area LIMIT 1000",
        figures::literal(&code)
    );
    let batches = session.ctx.sql(&sql).await?.collect().await?;
    let names = agency_names(&state);
    let (tr, l) = (&r.tr, r.labels(&state, &names));
    let mut b = format!(
        "<h1>{} {}</h1><p class=\"provenance\">{}</p>",
        esc(&ind.code),
        l.indicator(ind).html(tr),
        esc(&tr.ta(
            "dashboard-indicator-about",
            &[
                ("view", tr.t(&format!("view-{}", session.view)).into()),
                ("version", session.store_version.to_string().into()),
                ("goal", l.goal_number(ind.goal).into()),
                ("target", ind.target.as_str().into())
            ]
        ))
    );
    if let Some((m, lang)) = ind.metadata_in(&tr.prefs()) {
        let _ = write!(b, "<h2>{}</h2>{}", esc(&tr.t("dashboard-metadata")), html::metadata_list(tr, m, lang));
    }
    let _ = write!(b, "<h2>{}</h2>{}", esc(&tr.t("dashboard-observations")), html::scroll(&html::batches_table(&l, &batches)?));
    Ok(page(&r, &ind.code, &b))
}

async fn exports(State(state): State<Arc<HttpState>>, Extension(r): Extension<Reader>) -> Html<String> {
    let v = state.catalog.store().version().await;
    let tr = &r.tr;
    let mut b = format!("<h1>{}</h1><p class=\"provenance\">{}</p><ul>", esc(&tr.t("dashboard-nav-exports")), esc(&tr.ta("dashboard-exports-about", &[("version", v.to_string().into())])));
    for (name, f) in crate::export::FORMATS {
        let _ = write!(b, "<li><a href=\"{}\" download=\"{}\">{name}</a></li>", esc(&r.link(&format!("/dashboard/exports/{name}"))), f.file_name(v));
    }
    b.push_str("</ul>");
    page(&r, &tr.t("dashboard-nav-exports"), &b)
}

async fn download(State(state): State<Arc<HttpState>>, Path(format): Path<String>, Query(v): Query<ViewChoice>, headers: axum::http::HeaderMap) -> Result<Response> {
    let tr = crate::http::reader_language(&state.catalog, v.lang.as_deref(), &headers);
    crate::http::download(&state.catalog, &format, &Read::current(v.view), tr).await
}
