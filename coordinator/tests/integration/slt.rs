//! Runs the sqllogictest files in `tests/slt/`: hand-checked expected values of every figure
//! view, computed over a real Delta store filled through the real ingest path. Every file runs
//! twice: with the figure views over the publications' facts (what the coordinator serves) and
//! over the observations (the full-scan reference).
//!
//! Besides SQL, the files use these commands of this runner:
//! - `PUBLISH <agency> <dataset>` then contract CSV lines: validate and commit a publication
//!   (the manifest lists the CSV's indicators, reference period 1900-2100, periodicity A);
//! - `FRAMEWORK <file>`: reload the contract with another national framework file from
//!   `tests/slt/` (the store is kept);
//! - `WINDOW <from|-> <to|->`: the reference-year window of the figure views;
//! - `AS OF <version|CURRENT>`: the store version queried;
//! - `CALENDAR <agency> <dataset> <frequency> <from> <to> <due_days>`: add a reporting-calendar
//!   entry;
//! - `AGENCY <id>`: add an agency to the registry;
//! - `AREAS [<code> ...]`: the areas the per-area and cross-area figures compare (the `areas`
//!   setting; none: the areas observed);
//! - `VIEW <official|provisional>`: the view queried (provisional until a file says otherwise);
//! - `APPROVE <agency> <dataset> [<release time>]`, `RETURN <agency> <dataset>`,
//!   `UNAPPROVE <agency> <dataset>`: the approver `nso` decides on the dataset's latest
//!   publication (with the reason `slt`);
//! - `APPROVE_VERSION <store version> [<release time>]`: approve the publication committed at that
//!   version (an older one);
//! - `AT <RFC 3339 time>`: the coordinator's clock (it starts at the real time), which the
//!   official view is read at;
//! - `DERIVE` (as a query): publish the coordinator's derived dataset as agency `sdgx`
//!   ([`sdgx_coordinator::derived::publish`]); one row `outcome, publication's store version,
//!   approval's store version, basis store version`, outcome `published`, `duplicate` or
//!   `nothing` (then the rest NULL), the approval NULL when none was recorded.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::util::display::{ArrayFormatter, FormatOptions};
use sdgx_coordinator::auth::AgencyEntry;
use sdgx_coordinator::calendar::CalendarEntry;
use sdgx_coordinator::catalog::{AsOf, Catalog, Read, Registers};
use sdgx_coordinator::clock::Clock;
use sdgx_coordinator::signoff::{Action, Request, View};
use sdgx_coordinator::figures::{self, Source, Window};
use sdgx_coordinator::store::Store;
use sdgx_schemas::Contract;
use sqllogictest::{DBOutput, DefaultColumnType};

fn slt_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt")
}

struct Db {
    dir: tempfile::TempDir,
    store: Arc<Store>,
    contract: Arc<Contract>,
    window: Window,
    as_of: Option<i64>,
    registers: Registers,
    source: Source,
    view: View,
    clock: Clock,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct DbError(String);

fn fail(e: impl std::fmt::Display) -> DbError {
    DbError(e.to_string())
}

impl Db {
    async fn new(source: Source) -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = url::Url::from_directory_path(dir.path().join("store")).unwrap();
        let store = Arc::new(Store::open(url, Default::default(), dir.path(), true).await.unwrap());
        let contract = Arc::new(Contract::load(None, Some(&slt_dir().join("framework.toml"))).unwrap());
        let registers = Registers { national_area: "AM".into(), ..Default::default() };
        Db { dir, store, contract, window: Window::default(), as_of: None, registers, source, view: View::Provisional, clock: Clock::manual(chrono::Utc::now()) }
    }

    /// `action` on `publication_id` by the approver `nso`, at the clock's time.
    async fn decide(&mut self, publication_id: &str, action: Action, release_at: Option<&str>) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let request = Request {
            release_at: release_at.map(str::to_owned),
            reason: (action != Action::Approve).then(|| "slt".to_owned()),
        };
        let now = self.clock.now().map_err(fail)?;
        self.store.decide(publication_id, action, "nso", &request, now).await.map_err(fail)?;
        Ok(DBOutput::StatementComplete(0))
    }

    /// Publishes the derived dataset (see the `DERIVE` command above).
    async fn derive(&mut self) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let catalog = Catalog::new(self.contract.clone(), self.store.clone(), self.registers.clone(), 256 << 20, figures::views(self.source))
            .with_clock(self.clock.clone());
        let out = sdgx_coordinator::derived::publish(&catalog, sdgx_schemas::ValidationOptions::default(), "sdgx").await.map_err(fail)?;
        let row = match out {
            None => ["nothing".to_owned(), "NULL".into(), "NULL".into(), "NULL".into()],
            Some(p) => [
                if p.duplicate { "duplicate" } else { "published" }.to_owned(),
                p.entry.store_version.to_string(),
                p.approval.map_or_else(|| "NULL".to_owned(), |d| d.store_version.to_string()),
                p.basis_version.to_string(),
            ],
        };
        Ok(DBOutput::Rows { types: vec![DefaultColumnType::Any; 4], rows: vec![row.to_vec()] })
    }

    /// The latest publication of (agency, dataset).
    async fn latest(&self, agency: &str, dataset: &str) -> Result<String, DbError> {
        let e = self.store.current(agency, dataset).await.ok_or_else(|| DbError(format!("no publication of {agency} {dataset}")))?;
        Ok(e.publication_id)
    }

    async fn publish(&mut self, agency: &str, dataset: &str, csv: &str) -> Result<(), DbError> {
        common::publish(&self.contract, &self.store, self.dir.path(), agency, dataset, csv).await.map(drop).map_err(DbError)
    }

    async fn query(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let catalog = Catalog::new(self.contract.clone(), self.store.clone(), self.registers.clone(), 256 << 20, figures::views(self.source))
            .with_clock(self.clock.clone());
        let read = Read { view: self.view, as_of: self.as_of.map(AsOf::Version) };
        let session = catalog.session(&catalog.pin(&read).await.map_err(fail)?, self.window).await.map_err(fail)?;
        let batches = session.ctx.sql(sql).await.map_err(fail)?.collect().await.map_err(fail)?;
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        let mut width = 0;
        for b in &batches {
            width = b.num_columns();
            let fmts: Vec<_> = b.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options)).collect::<Result<_, _>>().map_err(fail)?;
            for r in 0..b.num_rows() {
                rows.push(fmts.iter().map(|f| Some(f.value(r).to_string()).filter(|v| !v.is_empty()).unwrap_or_else(|| "(empty)".into())).collect());
            }
        }
        Ok(DBOutput::Rows { types: vec![DefaultColumnType::Any; width], rows })
    }
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for Db {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let sql = sql.trim();
        let (first, rest) = sql.split_once('\n').unwrap_or((sql, ""));
        let words: Vec<&str> = first.split_whitespace().collect();
        match words.as_slice() {
            ["PUBLISH", agency, dataset] => {
                self.publish(agency, dataset, rest).await?;
                Ok(DBOutput::StatementComplete(0))
            }
            ["FRAMEWORK", file] => {
                self.contract = Arc::new(Contract::load(None, Some(&slt_dir().join(file))).map_err(fail)?);
                Ok(DBOutput::StatementComplete(0))
            }
            ["WINDOW", from, to] => {
                let year = |s: &str| if s == "-" { Ok(None) } else { s.parse().map(Some).map_err(fail) };
                self.window = Window { from: year(from)?, to: year(to)? };
                Ok(DBOutput::StatementComplete(0))
            }
            ["CALENDAR", agency, dataset, frequency, from, to, due_days] => {
                let entry = CalendarEntry {
                    agency: agency.to_string(),
                    dataset: dataset.to_string(),
                    frequency: frequency.to_string(),
                    from: from.to_string(),
                    to: to.to_string(),
                    due_days: due_days.parse().map_err(fail)?,
                };
                self.registers.calendar.extend(entry.expand().map_err(fail)?);
                Ok(DBOutput::StatementComplete(0))
            }
            ["AGENCY", id] => {
                self.registers.agencies.push(AgencyEntry { id: id.to_string(), name: id.to_string(), datasets: vec![], areas: vec![] });
                Ok(DBOutput::StatementComplete(0))
            }
            ["AREAS", codes @ ..] => {
                self.registers.areas = codes.iter().map(|c| c.to_string()).collect();
                Ok(DBOutput::StatementComplete(0))
            }
            ["VIEW", v] => {
                self.view = v.parse().map_err(fail)?;
                Ok(DBOutput::StatementComplete(0))
            }
            ["AT", t] => {
                self.clock.set(chrono::DateTime::parse_from_rfc3339(t).map_err(fail)?.with_timezone(&chrono::Utc));
                Ok(DBOutput::StatementComplete(0))
            }
            ["APPROVE", agency, dataset, rest @ ..] if rest.len() <= 1 => {
                let id = self.latest(agency, dataset).await?;
                self.decide(&id, Action::Approve, rest.first().copied()).await
            }
            ["APPROVE_VERSION", version, rest @ ..] if rest.len() <= 1 => {
                let v: i64 = version.parse().map_err(fail)?;
                let log = self.store.publications().await;
                let e = log.iter().find(|e| e.store_version == v).ok_or_else(|| DbError(format!("no publication at version {v}")))?;
                let id = e.publication_id.clone();
                self.decide(&id, Action::Approve, rest.first().copied()).await
            }
            ["RETURN", agency, dataset] => {
                let id = self.latest(agency, dataset).await?;
                self.decide(&id, Action::Return, None).await
            }
            ["UNAPPROVE", agency, dataset] => {
                // The dataset's approved publication (the latest one approved).
                let log = self.store.publications().await;
                let version = self.store.version().await;
                let statuses = sdgx_coordinator::signoff::statuses(&log, &self.store.decisions().await, version);
                let e = log
                    .iter()
                    .rev()
                    .find(|e| e.agency == *agency && e.dataset == *dataset && statuses[&e.publication_id].word() == "approved")
                    .ok_or_else(|| DbError(format!("no approved publication of {agency} {dataset}")))?;
                let id = e.publication_id.clone();
                self.decide(&id, Action::Unapprove, None).await
            }
            ["DERIVE"] => self.derive().await,
            ["AS", "OF", "CURRENT"] => {
                self.as_of = None;
                Ok(DBOutput::StatementComplete(0))
            }
            ["AS", "OF", v] => {
                self.as_of = Some(v.parse().map_err(fail)?);
                Ok(DBOutput::StatementComplete(0))
            }
            _ => self.query(sql).await,
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "sdgx"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figure_views_match_hand_checked_values() {
    let mut files: Vec<_> = std::fs::read_dir(slt_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "expected an .slt file per figure");
    for source in [Source::Facts, Source::Reference] {
        for f in &files {
            let mut runner = sqllogictest::Runner::new(|| async move { Ok(Db::new(source).await) });
            runner.run_file_async(f).await.unwrap_or_else(|e| panic!("{} over {source:?}: {e}", f.display()));
        }
    }
}
