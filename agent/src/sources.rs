//! The named sources an agent's indicator definitions query. Each `[[source]]` of the agent
//! config is registered as a table of the embedded DataFusion session:
//!
//! ```toml
//! [[source]]
//! name = "lcs"                 # the table name in SQL
//! kind = "csv"                 # csv or parquet: a file or a directory of files
//! path = "microdata/lcs.csv"
//!
//! [[source]]
//! name = "register"
//! kind = "xlsx"                # an Excel workbook: a sheet (default: the first), optionally a range
//! path = "register.xlsx"
//! sheet = "Decisions"
//! range = "A1:F5000"           # the first row of the range is the header
//!
//! [[source]]
//! name = "visits"
//! kind = "postgres"            # a table or a query over a PostgreSQL connection
//! url = "postgres://sdgx_reader@10.0.0.5:5432/dhis2"
//! password_file = "secrets/dhis2.password"
//! query = "SELECT orgunit, sex, migrant, visits FROM analytics.visits_2024"   # or table = "schema.table"
//!
//! [[source]]
//! name = "rates"
//! kind = "http"                # an HTTP(S) URL returning CSV or JSON
//! url = "https://data.example.am/rates.csv"
//! format = "csv"               # csv or json (default: from the Content-Type)
//! ```
//!
//! Database and URL sources are read once per computation and spooled to a temporary Parquet
//! or CSV file, so a large table is never held in memory. Every error names the source, its
//! file, URL or connection, and the line when the data are malformed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions, SessionContext};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::config::TlsConfig;
use crate::error::{Error, Result};

/// One named source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceConfig {
    /// The table name in SQL.
    pub name: String,
    /// What it is.
    #[serde(flatten)]
    pub kind: SourceKind,
}

/// The format of an HTTP source's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpFormat {
    /// CSV with a header row.
    Csv,
    /// JSON: an array of objects, or one object per line.
    Json,
}

/// The kinds of source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceKind {
    /// CSV with a header row: a file or a directory of `.csv` files.
    Csv {
        /// File or directory.
        path: PathBuf,
        /// Field delimiter (default `,`).
        #[serde(default)]
        delimiter: Option<char>,
    },
    /// Parquet: a file or a directory of `.parquet` files.
    Parquet {
        /// File or directory.
        path: PathBuf,
    },
    /// An Excel workbook (`.xlsx`, `.xls`, `.ods`): one sheet, optionally a cell range whose
    /// first row is the header.
    Xlsx {
        /// The workbook.
        path: PathBuf,
        /// The sheet (default: the first).
        #[serde(default)]
        sheet: Option<String>,
        /// A range such as `A1:F500` (default: the sheet's used range).
        #[serde(default)]
        range: Option<String>,
    },
    /// A PostgreSQL table or query. Integer columns arrive as Int64, floating-point and
    /// `numeric` as Float64, `boolean` as Boolean, every other type as its text form.
    Postgres {
        /// A `postgres://user@host:port/database` URL or a `host=... user=...` string, without
        /// the password.
        url: String,
        /// A file holding the password (never put it in the URL: the URL is printed in errors).
        #[serde(default)]
        password_file: Option<PathBuf>,
        /// A table, `name` or `schema.name`.
        #[serde(default)]
        table: Option<String>,
        /// A query (instead of `table`), run read-only.
        #[serde(default)]
        query: Option<String>,
    },
    /// An HTTP(S) URL returning CSV or JSON. With `https`, the agent's `[tls]` CA bundle is
    /// trusted (and its certificate presented) unless `ca` names another bundle.
    Http {
        /// The URL.
        url: String,
        /// The body's format (default: from the Content-Type, then the URL's extension).
        #[serde(default)]
        format: Option<HttpFormat>,
        /// A file holding a bearer token to send.
        #[serde(default)]
        token_file: Option<PathBuf>,
        /// A CA bundle (PEM) to trust instead of the agent's.
        #[serde(default)]
        ca: Option<PathBuf>,
    },
}

impl SourceKind {
    /// The file paths of the source's settings, to resolve against the config's directory.
    pub fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        match self {
            SourceKind::Csv { path, .. } | SourceKind::Parquet { path } | SourceKind::Xlsx { path, .. } => vec![path],
            SourceKind::Postgres { password_file, .. } => password_file.iter_mut().collect(),
            SourceKind::Http { token_file, ca, .. } => token_file.iter_mut().chain(ca.iter_mut()).collect(),
        }
    }

    /// The data's file or directory, for a source read from files.
    pub fn path(&self) -> Option<&Path> {
        match self {
            SourceKind::Csv { path, .. } | SourceKind::Parquet { path } | SourceKind::Xlsx { path, .. } => Some(path),
            SourceKind::Postgres { .. } | SourceKind::Http { .. } => None,
        }
    }
}

/// Temporary files of the sources read from databases and URLs; they are removed on drop, so
/// keep it for as long as the session is queried.
pub struct Spool(#[allow(dead_code)] tempfile::TempDir);

fn source_err(name: &str, place: &str, message: impl std::fmt::Display) -> Error {
    Error::Source { path: format!("{name:?} ({place})"), message: message.to_string() }
}

fn utf8<'a>(name: &str, path: &'a Path) -> Result<&'a str> {
    path.to_str().ok_or_else(|| source_err(name, &path.display().to_string(), "path is not UTF-8"))
}

/// Registers every source as a table of `ctx`; `tls` is the agent's TLS settings, used by
/// HTTPS sources.
pub async fn register(ctx: &SessionContext, sources: &[SourceConfig], tls: Option<&TlsConfig>) -> Result<Spool> {
    let spool = tempfile::tempdir().map_err(|e| Error::Config(format!("a temporary directory for sources: {e}")))?;
    for s in sources {
        let name = s.name.as_str();
        match &s.kind {
            SourceKind::Csv { path, delimiter } => {
                let place = path.display().to_string();
                if !path.exists() {
                    return Err(source_err(name, &place, "no such file or directory"));
                }
                let mut opts = CsvReadOptions::new().has_header(true).file_extension(".csv");
                if let Some(d) = delimiter {
                    opts = opts.delimiter(u8::try_from(*d).map_err(|_| source_err(name, &place, "the delimiter must be one byte"))?);
                }
                ctx.register_csv(name, utf8(name, path)?, opts).await.map_err(|e| source_err(name, &place, e))?;
            }
            SourceKind::Parquet { path } => {
                let place = path.display().to_string();
                if !path.exists() {
                    return Err(source_err(name, &place, "no such file or directory"));
                }
                ctx.register_parquet(name, utf8(name, path)?, ParquetReadOptions::default()).await.map_err(|e| source_err(name, &place, e))?;
            }
            SourceKind::Xlsx { path, sheet, range } => {
                let place = path.display().to_string();
                let table = read_sheet(path, sheet.as_deref(), range.as_deref()).map_err(|m| source_err(name, &place, m))?;
                ctx.register_table(name, Arc::new(table)).map_err(|e| source_err(name, &place, e))?;
            }
            SourceKind::Postgres { url, password_file, table, query } => {
                let file = spool.path().join(format!("{name}.parquet"));
                let sql = match (table, query) {
                    (Some(t), None) => format!("SELECT * FROM {}", quote_table(t)),
                    (None, Some(q)) => q.clone(),
                    _ => return Err(source_err(name, &redact(url), "set exactly one of table and query")),
                };
                postgres_to_parquet(url, password_file.as_deref(), &sql, &file).await.map_err(|m| source_err(name, &redact(url), m))?;
                ctx.register_parquet(name, utf8(name, &file)?, ParquetReadOptions::default()).await.map_err(|e| source_err(name, &redact(url), e))?;
            }
            SourceKind::Http { url, format, token_file, ca } => {
                let place = redact(url);
                let (file, format) = download(url, *format, token_file.as_deref(), ca.as_deref(), tls, spool.path(), name).await.map_err(|m| source_err(name, &place, m))?;
                match format {
                    HttpFormat::Csv => {
                        let opts = CsvReadOptions::new().has_header(true).file_extension(".csv");
                        ctx.register_csv(name, utf8(name, &file)?, opts).await.map_err(|e| source_err(name, &place, e))?;
                    }
                    HttpFormat::Json => {
                        let opts = JsonReadOptions::default().file_extension(".json");
                        ctx.register_json(name, utf8(name, &file)?, opts).await.map_err(|e| source_err(name, &place, e))?;
                    }
                }
            }
        }
    }
    Ok(Spool(spool))
}

/// A URL or connection string without its password or query string, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.has_host() => {
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        _ => url.split_whitespace().filter(|kv| !kv.starts_with("password=")).collect::<Vec<_>>().join(" "),
    }
}

/// `schema.table` quoted as identifiers.
fn quote_table(t: &str) -> String {
    t.split('.').map(|p| format!("\"{}\"", p.replace('"', "\"\""))).collect::<Vec<_>>().join(".")
}

/// Rows per batch read from PostgreSQL and written to the spool.
const PG_BATCH: usize = 65_536;

/// Runs `sql` read-only and writes its rows to `file` (Parquet), a batch at a time.
async fn postgres_to_parquet(url: &str, password_file: Option<&Path>, sql: &str, file: &Path) -> std::result::Result<(), String> {
    use tokio_postgres::types::Type;
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| format!("bad connection string: {e}"))?;
    if let Some(p) = password_file {
        let pw = std::fs::read_to_string(p).map_err(|e| format!("password_file {}: {e}", p.display()))?;
        config.password(pw.trim_end_matches(['\n', '\r']));
    }
    config.connect_timeout(std::time::Duration::from_secs(30));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(|e| format!("cannot connect: {}", pg_message(&e)))?;
    let conn = tokio::spawn(connection);
    client.batch_execute("BEGIN TRANSACTION READ ONLY").await.map_err(|e| pg_message(&e))?;
    let described = client.prepare(sql).await.map_err(|e| format!("the query fails: {}", pg_message(&e)))?;
    // Cast each column to one of four types the reader maps to Arrow.
    #[derive(Clone, Copy)]
    enum Kind { Int, Float, Bool, Text }
    let kinds: Vec<Kind> = described
        .columns()
        .iter()
        .map(|c| match *c.type_() {
            Type::INT2 | Type::INT4 | Type::INT8 => Kind::Int,
            Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => Kind::Float,
            Type::BOOL => Kind::Bool,
            _ => Kind::Text,
        })
        .collect();
    let select: Vec<String> = described
        .columns()
        .iter()
        .zip(&kinds)
        .enumerate()
        .map(|(i, (c, k))| {
            let cast = match k { Kind::Int => "int8", Kind::Float => "float8", Kind::Bool => "bool", Kind::Text => "text" };
            format!("q.\"{}\"::{cast} AS c{i}", c.name().replace('"', "\"\""))
        })
        .collect();
    let mut names = std::collections::HashSet::new();
    for c in described.columns() {
        if !names.insert(c.name()) {
            return Err(format!("the query yields two columns named {:?}", c.name()));
        }
    }
    let wrapped = format!("SELECT {} FROM ({sql}) AS q", if select.is_empty() { "1".into() } else { select.join(", ") });
    let schema: SchemaRef = Arc::new(Schema::new(
        described
            .columns()
            .iter()
            .zip(&kinds)
            .map(|(c, k)| {
                let t = match k { Kind::Int => DataType::Int64, Kind::Float => DataType::Float64, Kind::Bool => DataType::Boolean, Kind::Text => DataType::Utf8 };
                Field::new(c.name(), t, true)
            })
            .collect::<Vec<_>>(),
    ));
    let stmt = client.prepare(&wrapped).await.map_err(|e| format!("the query fails: {}", pg_message(&e)))?;
    let rows = client.query_raw(&stmt, Vec::<String>::new()).await.map_err(|e| format!("the query fails: {}", pg_message(&e)))?;
    futures::pin_mut!(rows);
    let out = std::fs::File::create(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(out, schema.clone(), None).map_err(|e| e.to_string())?;
    let mut buffer = Vec::with_capacity(PG_BATCH);
    let flush = |buffer: &mut Vec<tokio_postgres::Row>, writer: &mut parquet::arrow::ArrowWriter<std::fs::File>| -> std::result::Result<(), String> {
        let columns: Vec<ArrayRef> = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| -> std::result::Result<ArrayRef, String> {
                let get_err = |e: tokio_postgres::Error| format!("column {:?}: {}", schema.field(i).name(), pg_message(&e));
                Ok(match k {
                    Kind::Int => {
                        let mut b = Int64Builder::with_capacity(buffer.len());
                        for r in buffer.iter() { b.append_option(r.try_get::<_, Option<i64>>(i).map_err(get_err)?); }
                        Arc::new(b.finish())
                    }
                    Kind::Float => {
                        let mut b = Float64Builder::with_capacity(buffer.len());
                        for r in buffer.iter() { b.append_option(r.try_get::<_, Option<f64>>(i).map_err(get_err)?); }
                        Arc::new(b.finish())
                    }
                    Kind::Bool => {
                        let mut b = BooleanBuilder::with_capacity(buffer.len());
                        for r in buffer.iter() { b.append_option(r.try_get::<_, Option<bool>>(i).map_err(get_err)?); }
                        Arc::new(b.finish())
                    }
                    Kind::Text => {
                        let mut b = StringBuilder::new();
                        for r in buffer.iter() { b.append_option(r.try_get::<_, Option<&str>>(i).map_err(get_err)?); }
                        Arc::new(b.finish())
                    }
                })
            })
            .collect::<std::result::Result<_, _>>()?;
        let opts = arrow::array::RecordBatchOptions::new().with_row_count(Some(buffer.len()));
        let batch = RecordBatch::try_new_with_options(schema.clone(), columns, &opts).map_err(|e| e.to_string())?;
        writer.write(&batch).map_err(|e| e.to_string())?;
        buffer.clear();
        Ok(())
    };
    while let Some(row) = rows.next().await {
        buffer.push(row.map_err(|e| format!("reading rows: {}", pg_message(&e)))?);
        if buffer.len() == PG_BATCH {
            flush(&mut buffer, &mut writer)?;
        }
    }
    if !buffer.is_empty() {
        flush(&mut buffer, &mut writer)?;
    }
    writer.close().map_err(|e| e.to_string())?;
    drop(client);
    let _ = conn.await;
    Ok(())
}

/// A PostgreSQL error with the server's message when there is one.
fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => crate::error::chain(e),
    }
}

/// Downloads an HTTP source to the spool directory (as `.csv`, or as `.json` with one object
/// per line) and returns the file and its format.
async fn download(
    url: &str,
    format: Option<HttpFormat>,
    token_file: Option<&Path>,
    ca: Option<&Path>,
    tls: Option<&TlsConfig>,
    spool: &Path,
    name: &str,
) -> std::result::Result<(PathBuf, HttpFormat), String> {
    use std::io::Write;
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // The agent binary installs ring at start; a library caller may not have.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(600)).connect_timeout(std::time::Duration::from_secs(30));
    if url.starts_with("https:") {
        if let Some(bundle) = ca.or(tls.map(|t| t.ca.as_path())) {
            let certs = reqwest::Certificate::from_pem_bundle(&read(bundle)?).map_err(|e| format!("CA bundle {}: {e}", bundle.display()))?;
            builder = builder.tls_certs_only(certs);
        }
        if let Some(t) = tls.filter(|_| ca.is_none()) {
            let mut pem = read(&t.cert)?;
            pem.extend(read(&t.key)?);
            builder = builder.identity(reqwest::Identity::from_pem(&pem).map_err(|e| format!("the agent's certificate: {e}"))?);
        }
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    let mut req = client.get(url);
    if let Some(t) = token_file {
        let token = std::fs::read_to_string(t).map_err(|e| format!("token_file {}: {e}", t.display()))?;
        req = req.bearer_auth(token.trim());
    }
    let mut response = req.send().await.map_err(|e| format!("unreachable: {}", crate::error::chain(&e)))?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let content_type = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    let path_part = url.split(['?', '#']).next().unwrap_or_default().to_ascii_lowercase();
    let format = match format {
        Some(f) => f,
        None if content_type.contains("json") || path_part.ends_with(".json") || path_part.ends_with(".ndjson") => HttpFormat::Json,
        None if content_type.contains("csv") || path_part.ends_with(".csv") => HttpFormat::Csv,
        None => return Err(format!("cannot tell CSV from JSON (Content-Type {content_type:?}): set format = \"csv\" or \"json\"")),
    };
    let raw = spool.join(format!("{name}.download"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&raw).map_err(|e| format!("{}: {e}", raw.display()))?);
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading the body: {e}"))? {
        f.write_all(&chunk).map_err(|e| format!("{}: {e}", raw.display()))?;
    }
    f.flush().map_err(|e| format!("{}: {e}", raw.display()))?;
    drop(f);
    match format {
        HttpFormat::Csv => {
            let file = spool.join(format!("{name}.csv"));
            std::fs::rename(&raw, &file).map_err(|e| e.to_string())?;
            Ok((file, format))
        }
        HttpFormat::Json => {
            let file = spool.join(format!("{name}.json"));
            json_lines(&raw, &file)?;
            Ok((file, format))
        }
    }
}

/// Rewrites a JSON body (an array of objects, or one object per line) as one object per
/// line, checking each: a malformed body fails with its line and column.
fn json_lines(raw: &Path, out: &Path) -> std::result::Result<(), String> {
    use std::io::{BufRead, Read, Write};
    let mut first = [0u8; 1];
    let mut probe = std::io::BufReader::new(std::fs::File::open(raw).map_err(|e| e.to_string())?);
    let array = loop {
        match probe.read(&mut first).map_err(|e| e.to_string())? {
            0 => break false,
            _ if first[0].is_ascii_whitespace() => continue,
            _ => break first[0] == b'[',
        }
    };
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).map_err(|e| e.to_string())?);
    let malformed = |e: serde_json::Error| format!("malformed JSON at line {} column {}: {e}", e.line(), e.column());
    if array {
        let reader = std::io::BufReader::new(std::fs::File::open(raw).map_err(|e| e.to_string())?);
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_reader(reader).map_err(malformed)?;
        for r in rows {
            serde_json::to_writer(&mut w, &r).map_err(|e| e.to_string())?;
            w.write_all(b"\n").map_err(|e| e.to_string())?;
        }
    } else {
        let reader = std::io::BufReader::new(std::fs::File::open(raw).map_err(|e| e.to_string())?);
        for (i, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| e.to_string())?;
            if line.trim().is_empty() {
                continue;
            }
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&line)
                .map_err(|e| format!("malformed JSON at line {} column {}: {e}", i + 1, e.column()))?;
            w.write_all(line.as_bytes()).and_then(|_| w.write_all(b"\n")).map_err(|e| e.to_string())?;
        }
    }
    w.flush().map_err(|e| e.to_string())
}

/// Reads a sheet (or a range of it) into a table with the contract crate's one workbook reader
/// ([`sdgx_schemas::workbook`]): the first row names the columns; a column whose cells are all
/// numbers (or empty) is Float64, any other Utf8.
fn read_sheet(path: &Path, sheet: Option<&str>, range: Option<&str>) -> std::result::Result<MemTable, String> {
    let batch = sdgx_schemas::workbook::read_sheet(path, sheet, range, sdgx_schemas::workbook::Cells::Typed).map_err(|e| match e {
        sdgx_schemas::Error::Workbook { message, .. } => message,
        other => other.to_string(),
    })?;
    MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(|e| e.to_string())
}

