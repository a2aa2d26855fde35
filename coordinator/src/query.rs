//! Analysts' SQL sandbox (HTTP `POST /api/v1/query`; Flight SQL plans through [`plan`] too).
//! Every statement runs:
//! - with DDL, DML and statements disabled (`SQLOptions`), so no `CREATE EXTERNAL TABLE`,
//!   `COPY ... TO`, `INSERT`, `DROP` or `SET`;
//! - in a session with no table provider or function that reads server files or URLs: URL
//!   tables (`SELECT * FROM '/etc/passwd'`) are not enabled, and DataFusion's core registers no
//!   file-reading function (the `read_csv`/`read_parquet` table functions exist only in
//!   datafusion-cli); the only tables are those of [`crate::catalog`];
//! - on the query threads of [`crate::query_pool`] (their own runtime and stacks, admitted
//!   through a bounded queue), never on the threads that serve ingest and HTTP;
//! - after checks of its text: at most `query_max_sql_bytes`, parsed with DataFusion's parser
//!   recursion limit (`datafusion.sql_parser.recursion_limit`, 50 nested subexpressions), and
//!   at most `query_max_expression_depth` levels of expression nesting (a chain of `+` or `OR`
//!   is as deep as it is long; the parser does not count it), refused with a 400 naming the
//!   limit before anything is planned;
//! - under the coordinator's one memory pool of `query_memory_limit` bytes (shared by every
//!   session), which covers the
//!   operators, each result batch while it is encoded and the whole JSON response; past it the
//!   query is refused with 422 `resources_exhausted`;
//! - under a time limit that stops the work (the query's task is aborted), not only the reply;
//! - with a row cap (`query_max_rows`) and a byte cap on the JSON (`query_max_response_bytes`):
//!   rows past either are cut, and the result says so (`truncated`, `truncated_by`).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::sql::parser::{CopyToSource, Statement};
use datafusion::sql::sqlparser::ast::{Expr, Query, Visit, Visitor};
use futures::TryStreamExt;
use serde::Serialize;

use crate::catalog::{Catalog, Read, Session};
use crate::error::{Error, Result};
use crate::figures::Window;
use crate::query_pool::QueryPool;

/// Limits applied to each analyst query, and the threads it runs on.
#[derive(Clone)]
pub struct Limits {
    /// Wall-clock limit of one query (queue wait included); the work stops when it passes.
    pub timeout: Duration,
    /// At most this many rows are returned over HTTP; the result says when it was truncated.
    pub max_rows: usize,
    /// At most this many bytes of JSON are returned over HTTP; rows past it are cut.
    pub max_response_bytes: usize,
    /// Longest SQL text accepted, in bytes.
    pub max_sql_bytes: usize,
    /// Deepest expression nesting accepted.
    pub max_expression_depth: usize,
    /// Largest Flight SQL parameter binding, in bytes.
    pub max_parameter_bytes: usize,
    /// The query threads.
    pub pool: Arc<QueryPool>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("timeout", &self.timeout)
            .field("max_rows", &self.max_rows)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("max_sql_bytes", &self.max_sql_bytes)
            .field("max_expression_depth", &self.max_expression_depth)
            .field("max_parameter_bytes", &self.max_parameter_bytes)
            .field("threads", &self.pool.threads())
            .finish()
    }
}

impl Limits {
    /// The limits `config` sets, with the query threads started.
    pub fn from_config(config: &crate::Config) -> Result<Limits> {
        Ok(Limits {
            timeout: Duration::from_secs(config.query_timeout_secs),
            max_rows: config.query_max_rows,
            max_response_bytes: config.query_max_response_bytes,
            max_sql_bytes: config.query_max_sql_bytes,
            max_expression_depth: config.query_max_expression_depth,
            max_parameter_bytes: config.query_max_parameter_bytes,
            pool: Arc::new(QueryPool::new(config)?),
        })
    }
}

/// The options every analyst statement is planned with.
pub fn sql_options() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// Measures expression nesting, stopping as soon as it passes the limit (so the walk itself
/// never goes deeper than the limit).
struct Depth {
    now: usize,
    max: usize,
}

impl Visitor for Depth {
    type Break = ();
    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.enter()
    }
    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.leave()
    }
    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.enter()
    }
    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.leave()
    }
}

impl Depth {
    fn enter(&mut self) -> ControlFlow<()> {
        self.now += 1;
        if self.now > self.max { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    }
    fn leave(&mut self) -> ControlFlow<()> {
        self.now -= 1;
        ControlFlow::Continue(())
    }
}

/// Refuses `statement` when its expressions nest deeper than `max`.
fn check_depth(statement: &Statement, max: usize) -> Result<()> {
    let mut depth = Depth { now: 0, max };
    let flow = match statement {
        Statement::Statement(s) => s.visit(&mut depth),
        Statement::Explain(e) => return check_depth(&e.statement, max),
        Statement::CopyTo(c) => match &c.source {
            CopyToSource::Query(q) => q.visit(&mut depth),
            CopyToSource::Relation(_) => ControlFlow::Continue(()),
        },
        Statement::CreateExternalTable(_) | Statement::Reset(_) => ControlFlow::Continue(()),
    };
    match flow {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(Error::BadRequest(format!(
            "the statement nests expressions deeper than {max} levels (query_max_expression_depth); \
             write long lists of alternatives as `x IN (...)`, or split the expression"
        ))),
    }
}

/// Plans `sql` in `session`'s sandbox: checks its length and depth, parses and plans it with
/// [`sql_options`]. Call it on the query threads: planning recurses as deep as the SQL nests.
pub async fn plan(session: &Session, sql: &str, limits: &Limits) -> Result<DataFrame> {
    if sql.len() > limits.max_sql_bytes {
        return Err(Error::BadRequest(format!(
            "the statement is {} bytes; at most {} are accepted (query_max_sql_bytes)",
            sql.len(),
            limits.max_sql_bytes
        )));
    }
    let state = {
        let shared = session.ctx.state_ref();
        let mut state = shared.write();
        state.config_mut().options_mut().execution.target_partitions = limits.pool.threads();
        state.clone()
    };
    let dialect = state.config().options().sql_parser.dialect;
    let sql = match datafusion::sql::sqlparser::dialect::dialect_from_str(dialect) {
        Some(d) => positional_placeholders(sql, d.as_ref())?,
        None => std::borrow::Cow::Borrowed(sql),
    };
    let statement = state.sql_to_statement(&sql, &dialect)?;
    check_depth(&statement, limits.max_expression_depth)?;
    let plan = state.statement_to_plan(statement).await?;
    sql_options().verify_plan(&plan)?;
    Ok(session.ctx.execute_logical_plan(plan).await?)
}

/// `sql` with its `?` placeholders (the `qmark` style of ADBC's DB-API, ODBC and JDBC) written
/// as DataFusion's positional ones: the n-th bare `?` becomes `$n`, and `?n` becomes `$n`, so
/// parameters bind by position either way. Placeholders are found by the SQL tokenizer, so a `?`
/// inside a string, an identifier or a comment stays as it is. Bare `?` mixed with numbered
/// placeholders (`$1` or `?1`) is refused: their positions would be ambiguous. Text the tokenizer
/// refuses is returned unchanged, for the parser to report.
pub fn positional_placeholders<'a>(sql: &'a str, dialect: &dyn datafusion::sql::sqlparser::dialect::Dialect) -> Result<std::borrow::Cow<'a, str>> {
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    if !sql.contains('?') {
        return Ok(std::borrow::Cow::Borrowed(sql));
    }
    let Ok(tokens) = Tokenizer::new(dialect, sql).tokenize_with_location() else { return Ok(std::borrow::Cow::Borrowed(sql)) };
    // Byte offset of each line's start (the tokenizer counts lines from 1 and columns in
    // characters from 1).
    let lines: Vec<usize> = std::iter::once(0).chain(sql.match_indices('\n').map(|(i, _)| i + 1)).collect();
    let offset = |line: u64, col: u64| -> Option<usize> {
        let start = *lines.get(usize::try_from(line).ok()?.checked_sub(1)?)?;
        let skip = usize::try_from(col).ok()?.checked_sub(1)?;
        sql[start..].char_indices().nth(skip).map(|(i, _)| start + i)
    };
    let is = |t: &Token, bare: bool| match t {
        Token::Placeholder(p) if bare => p == "?",
        Token::Placeholder(p) => p.len() > 1 && (p.starts_with('?') || p.starts_with('$')) && p[1..].bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    };
    if tokens.iter().any(|t| is(&t.token, true)) && tokens.iter().any(|t| is(&t.token, false)) {
        return Err(Error::BadRequest("the statement mixes `?` placeholders with numbered ones ($1 or ?1); use one style".into()));
    }
    let (mut out, mut at, mut n) = (String::with_capacity(sql.len() + 8), 0, 0);
    for t in &tokens {
        let Token::Placeholder(p) = &t.token else { continue };
        if !p.starts_with('?') {
            continue;
        }
        let start = offset(t.span.start.line, t.span.start.column).ok_or_else(|| Error::Internal(format!("placeholder at {:?} outside the SQL", t.span.start)))?;
        out.push_str(&sql[at..start]);
        if p == "?" {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push('$');
            out.push_str(&p[1..]);
        }
        at = start + p.len();
    }
    out.push_str(&sql[at..]);
    Ok(std::borrow::Cow::Owned(out))
}

/// Why a result was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cut {
    /// At `query_max_rows`.
    Rows,
    /// At `query_max_response_bytes`.
    Bytes,
}

/// The JSON body of a query's answer over HTTP, as [`run`] writes it row by row into
/// [`JsonOutput::body`] (this type describes it in the OpenAPI document and reads it back).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = QueryAnswer)]
pub struct Answer {
    /// The result's column names, in order.
    pub columns: Vec<String>,
    /// The rows, each an object of column name to value (a null value's column is left out).
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Whether rows were cut.
    pub truncated: bool,
    /// Why they were cut: at `query_max_rows` or `query_max_response_bytes`.
    pub truncated_by: Option<Cut>,
    /// The view read.
    pub view: crate::signoff::View,
    /// The store version read.
    pub store_version: i64,
}

/// A query's result as the JSON body of the HTTP response:
/// `{"columns": [...], "rows": [{...}, ...], "truncated": bool, "truncated_by": "rows" | "bytes" | null, "store_version": N}`.
#[derive(Debug, Clone)]
pub struct JsonOutput {
    /// The encoded body.
    pub body: Vec<u8>,
    /// Rows in it.
    pub rows: usize,
    /// Why rows were cut, if they were.
    pub truncated_by: Option<Cut>,
    /// The store version read.
    pub store_version: i64,
}

/// The JSON body under construction, its memory reserved from the query's pool.
struct Body {
    out: Vec<u8>,
    rows: usize,
    reservation: MemoryReservation,
    limit: usize,
    max_rows: usize,
}

/// Room kept for the body's tail (`],"truncated":...}`).
const TAIL_BYTES: usize = 100;

impl Body {
    /// Appends `batch`'s rows while they fit the caps; `Some` when the result is cut there.
    fn push(&mut self, batch: &RecordBatch) -> Result<Option<Cut>> {
        let room = self.max_rows - self.rows;
        let taken = batch.slice(0, batch.num_rows().min(room));
        // The batch (expression output no operator accounts for) while it is encoded, the rows
        // encoded and the body.
        let held = batch.get_array_memory_size();
        self.reservation.try_resize(self.out.capacity() + held)?;
        let mut w = arrow::json::LineDelimitedWriter::new(Vec::new());
        w.write(&taken)?;
        w.finish()?;
        let lines = w.into_inner();
        self.reservation.try_resize(self.out.capacity() + held + lines.len())?;
        self.out.reserve(lines.len().min(self.limit.saturating_sub(self.out.len())));
        self.reservation.try_resize(self.out.capacity() + held + lines.len())?;
        let mut cut = (batch.num_rows() > room).then_some(Cut::Rows);
        for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if self.out.len() + line.len() + 1 + TAIL_BYTES > self.limit {
                cut = Some(Cut::Bytes);
                break;
            }
            if self.rows > 0 {
                self.out.push(b',');
            }
            self.out.extend_from_slice(line);
            self.rows += 1;
        }
        self.reservation.resize(self.out.capacity());
        Ok(cut)
    }
}

/// Runs one analyst statement on the query threads and encodes its result as JSON, within the
/// memory limit, the caps and the time limit.
pub async fn run(catalog: &Arc<Catalog>, sql: &str, read: &Read, limits: &Limits) -> Result<JsonOutput> {
    let (catalog, sql, read, l) = (catalog.clone(), sql.to_owned(), read.clone(), limits.clone());
    limits.pool.run(limits.timeout, async move { collect(&catalog, &sql, &read, &l).await }).await
}

async fn collect(catalog: &Catalog, sql: &str, read: &Read, limits: &Limits) -> Result<JsonOutput> {
    let pinned = catalog.pin(read).await?;
    let session = catalog.session(&pinned, Window::default()).await?;
    let df = plan(&session, sql, limits).await?;
    let columns: Vec<String> = df.schema().fields().iter().map(|f| f.name().clone()).collect();
    let reservation = MemoryConsumer::new("query response").register(&session.ctx.runtime_env().memory_pool);
    let mut head = br#"{"columns":"#.to_vec();
    head.extend(serde_json::to_vec(&columns).map_err(|e| Error::BadRequest(format!("column names: {e}")))?);
    head.extend_from_slice(br#","rows":["#);
    reservation.try_grow(head.capacity())?;
    let mut body = Body { out: head, rows: 0, reservation, limit: limits.max_response_bytes, max_rows: limits.max_rows };
    let mut stream = df.execute_stream().await?;
    let mut truncated_by = None;
    while let Some(batch) = stream.try_next().await? {
        if body.rows == limits.max_rows && batch.num_rows() > 0 {
            truncated_by = Some(Cut::Rows);
            break;
        }
        if let Some(cut) = body.push(&batch)? {
            truncated_by = Some(cut);
            break;
        }
    }
    drop(stream);
    let Body { mut out, rows, reservation, .. } = body;
    // The tail fits in the room kept for it (no reallocation past the reservation).
    let tail = serde_json::json!({ "truncated": truncated_by.is_some(), "truncated_by": truncated_by, "view": session.view, "store_version": session.store_version });
    let tail = serde_json::to_vec(&tail).map_err(|e| Error::BadRequest(format!("result: {e}")))?;
    out.extend_from_slice(b"],");
    out.extend_from_slice(&tail[1..]);
    drop(reservation);
    Ok(JsonOutput { body: out, rows, truncated_by, store_version: session.store_version })
}

#[cfg(test)]
mod tests {
    use super::positional_placeholders;
    use datafusion::sql::sqlparser::dialect::GenericDialect;

    fn rewrite(sql: &str) -> String {
        positional_placeholders(sql, &GenericDialect {}).unwrap().into_owned()
    }

    /// Bare `?` are numbered in the order they appear; `?` in strings, quoted names and
    /// comments are not placeholders.
    #[test]
    fn qmarks_become_positional_placeholders() {
        assert_eq!(rewrite("SELECT 1 WHERE a = ? AND b IN (?, ?)"), "SELECT 1 WHERE a = $1 AND b IN ($2, $3)");
        assert_eq!(
            rewrite("SELECT '?', \"why?\" -- what?\n FROM t WHERE é = ? /* ? */ LIMIT ?"),
            "SELECT '?', \"why?\" -- what?\n FROM t WHERE é = $1 /* ? */ LIMIT $2"
        );
        assert_eq!(rewrite("SELECT ?2, ?1"), "SELECT $2, $1");
        assert_eq!(rewrite("SELECT $1 WHERE x = $2"), "SELECT $1 WHERE x = $2");
    }

    #[test]
    fn mixed_placeholder_styles_are_refused() {
        let e = positional_placeholders("SELECT ? WHERE x = $1", &GenericDialect {}).unwrap_err();
        assert!(e.to_string().contains("mixes"), "{e}");
    }
}
