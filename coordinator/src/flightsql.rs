//! The analysts' Arrow Flight SQL service: statement queries, prepared statements with
//! parameters, the metadata commands generic clients browse with (GetSqlInfo, GetCatalogs,
//! GetDbSchemas, GetTables with schemas, GetTableTypes, GetXdbcTypeInfo), and the plain Flight
//! calls around them ([`AnalystService`]): GetSchema of a statement or command, and ListFlights
//! of the tables and views.
//!
//! - **Placeholders**: `?` (the `qmark` style ADBC's DB-API declares) and `$1`, `$2`, …, both
//!   bound by position ([`crate::query::positional_placeholders`]); a prepared statement's
//!   parameter schema lists them in order, typed as the statement planned them.
//! - **Types for generic clients** ([`xdbc`]): GetXdbcTypeInfo lists the SQL types with their
//!   XDBC codes, and GetTables' schemas carry the column metadata the `xdbc_*` columns of ADBC's
//!   GetObjects are read from.
//!
//! - **Authentication**: a handshake with the token (Basic auth with the token as the
//!   password, as ADBC and pyarrow send it; a bearer header; or the token as the payload),
//!   answered with `authorization: Bearer <token>`, which every later call carries. Invalid
//!   tokens count towards the per-address limiter shared with HTTP (missing ones do not).
//! - **Read-only sandbox**: every statement is planned with [`crate::query::sql_options`] (no
//!   DDL, DML or statements) over the catalog's tables only.
//! - **Views and time travel**: the call header `x-sdgx-view` (`official`, the default, or
//!   `provisional`, see [`crate::signoff`]) chooses the view, and `x-sdgx-as-of` (a store
//!   version, or an RFC 3339 timestamp) reads the store as it was. Handles and tickets carry the
//!   resolved view, store version and moment, so a result never mixes versions; each FlightInfo
//!   names them in its `app_metadata` (`{"view": …, "store_version": …}`).
//! - **Query threads**: every statement is planned and run on [`crate::query_pool`]'s threads
//!   (admitted through its queue: ResourceExhausted when full), with the checks of
//!   [`crate::query::plan`] (SQL length, expression depth: InvalidArgument naming the limit).
//! - **Streaming**: results stream batch by batch from DataFusion to the wire, under the query
//!   engine's memory limit and the query time limit; there is no row or byte cap. The query's
//!   task hands batches over through a channel of [`STREAM_BUFFER`] batches, so a slow client
//!   holds the query back instead of filling memory; at the time limit (DeadlineExceeded), or
//!   when the client goes away, the task drops DataFusion's stream and stops.
//! - **Parameters**: a DoPut binding is bounded before it is buffered (at most
//!   [`MAX_PARAMETER_MESSAGES`] messages and `query_max_parameter_bytes`), and every message is
//!   checked by [`IpcGuard`] before arrow-ipc decodes it (a compressed body claiming 2^40 bytes
//!   aborted the process); it must hold exactly one row.
//! - Handles are stateless (JSON: statement, store version and bound parameters as Arrow IPC),
//!   so closing a prepared statement frees nothing and a restart invalidates nothing. A handle
//!   comes back from the client, so its parameters are bounded and checked again, the same way.

use std::pin::Pin;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ipc::writer::IpcWriteOptions;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult, Any, Command,
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandGetXdbcTypeInfo,
    CommandPreparedStatementQuery, CommandStatementQuery, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::{
    Action, Criteria, Empty, FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse,
    IpcMessage, PollInfo, SchemaAsIpc, SchemaResult, Ticket,
};
use base64::Engine;
use datafusion::catalog::TableProvider;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::TableType;
use datafusion::scalar::ScalarValue;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status, Streaming};

pub mod xdbc;

use crate::auth::{FailureLimiter, Role, Tokens};
use crate::catalog::{AsOf, Catalog, Pinned, Read, Session};
use crate::signoff::View;
use crate::error::{Error, Result};
use crate::figures::Window;
use crate::query::Limits;
use sdgx_schemas::flight::IpcGuard;

/// The call header that selects the store version read.
pub const AS_OF_HEADER: &str = "x-sdgx-as-of";

/// The call header choosing the view: `official` (the default) or `provisional`.
pub const VIEW_HEADER: &str = "x-sdgx-view";

type DoGetStream = Pin<Box<dyn Stream<Item = Result<FlightData, Status>> + Send + 'static>>;

/// The analysts' Flight SQL service.
pub struct AnalystFlight {
    catalog: Arc<Catalog>,
    tokens: Arc<Tokens>,
    limiter: Arc<FailureLimiter>,
    limits: Limits,
    /// Query latencies (see [`crate::metrics`]).
    metrics: Arc<crate::metrics::Metrics>,
}

/// What a ticket or prepared-statement handle carries: enough to run the statement again at
/// the same store version.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Handle {
    sql: String,
    version: i64,
    /// The view read (official when absent).
    #[serde(default)]
    view: View,
    /// The moment the official view is read at (RFC 3339; the execution's when absent), never
    /// later than the execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<chrono::DateTime<chrono::Utc>>,
    /// The bound parameters: one row, Arrow IPC stream, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    params: Option<String>,
}

impl Handle {
    /// A handle for `sql` reading what `pinned` pins.
    fn pinned(sql: String, pinned: &Pinned) -> Handle {
        Handle { sql, version: pinned.version, view: pinned.view, at: Some(pinned.at), params: None }
    }

    fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a handle serialises")
    }

    fn decode(bytes: &[u8]) -> Result<Handle, Status> {
        serde_json::from_slice(bytes).map_err(|e| Status::invalid_argument(format!("not an sdgx statement handle: {e}")))
    }

    /// The bound parameters, checked as they were at bind time (the handle comes from the
    /// client, so its bytes are as untrusted as a DoPut's).
    fn parameters(&self, max_bytes: usize) -> Result<Option<Vec<ScalarValue>>> {
        let Some(b64) = &self.params else { return Ok(None) };
        if b64.len() > max_bytes.div_ceil(3) * 4 + 4 {
            return Err(Binding::too_big(b64.len() / 4 * 3, max_bytes));
        }
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| Error::BadRequest(format!("bad parameters: {e}")))?;
        let mut binding = Binding::new(max_bytes);
        for message in ipc_stream_messages(&bytes)? {
            binding.push(message)?;
        }
        Ok(Some(binding.row()?.1))
    }
}

/// At most this many IPC messages bind one row of parameters (a schema and a batch, with room
/// for empty batches some clients send).
pub const MAX_PARAMETER_MESSAGES: usize = 8;

/// A parameter binding received message by message: each is bounded (count and bytes) and
/// checked by [`IpcGuard`] before it is kept, and nothing is decoded until the end.
struct Binding {
    guard: IpcGuard,
    messages: Vec<FlightData>,
    bytes: usize,
    max_bytes: usize,
}

impl Binding {
    fn new(max_bytes: usize) -> Self {
        Binding { guard: IpcGuard::new(), messages: Vec::new(), bytes: 0, max_bytes }
    }

    fn too_big(bytes: usize, max: usize) -> Error {
        Error::BadRequest(format!(
            "the parameters take more than {max} bytes (query_max_parameter_bytes; at least {bytes}); bind one row of small values"
        ))
    }

    /// Checks `message` and keeps it.
    fn push(&mut self, message: FlightData) -> Result<()> {
        self.bytes = self.bytes.saturating_add(message.data_header.len() + message.data_body.len() + message.app_metadata.len());
        if self.bytes > self.max_bytes {
            return Err(Binding::too_big(self.bytes, self.max_bytes));
        }
        if message.data_header.is_empty() {
            return Ok(()); // the descriptor alone
        }
        if self.messages.len() >= MAX_PARAMETER_MESSAGES {
            return Err(Error::BadRequest(format!(
                "the parameters come in more than {MAX_PARAMETER_MESSAGES} messages; bind one row in one batch"
            )));
        }
        self.guard.check(&message).map_err(|e| Error::BadRequest(format!("parameters: {e}")))?;
        self.messages.push(message);
        Ok(())
    }

    /// Decodes the one row bound: the batch and its values.
    fn row(self) -> Result<(RecordBatch, Vec<ScalarValue>)> {
        let mut schema = None;
        let mut rows: Vec<RecordBatch> = Vec::new();
        for m in &self.messages {
            let header = arrow::ipc::root_as_message(&m.data_header).map_err(|e| Error::BadRequest(format!("parameters: not an IPC message: {e:?}")))?;
            match header.header_type() {
                arrow::ipc::MessageHeader::Schema => schema = Some(Arc::new(Schema::try_from(m)?)),
                arrow::ipc::MessageHeader::RecordBatch => {
                    let schema = schema.clone().ok_or_else(|| Error::BadRequest("parameters: a batch came before the schema".into()))?;
                    let batch = arrow_flight::utils::flight_data_to_arrow_batch(m, schema, &Default::default())?;
                    if batch.num_rows() > 0 {
                        rows.push(batch);
                    }
                }
                other => return Err(Error::BadRequest(format!("parameters: unexpected IPC message {other:?}"))),
            }
        }
        let n: usize = rows.iter().map(RecordBatch::num_rows).sum();
        if n != 1 {
            return Err(Error::BadRequest(format!("bind exactly one row of parameters, not {n}")));
        }
        let batch = rows.pop().expect("one row");
        let values = batch.columns().iter().map(|c| ScalarValue::try_from_array(c, 0)).collect::<std::result::Result<_, _>>()?;
        Ok((batch, values))
    }
}

/// The messages of an Arrow IPC stream, unparsed but for their framing (continuation marker,
/// metadata length, `bodyLength`), at most [`MAX_PARAMETER_MESSAGES`].
fn ipc_stream_messages(bytes: &[u8]) -> Result<Vec<FlightData>> {
    let bad = |why: &str| Error::BadRequest(format!("parameters: not an Arrow IPC stream: {why}"));
    let word = |at: usize| bytes.get(at..at + 4).map(|w| i32::from_le_bytes(w.try_into().expect("4 bytes")));
    let (mut at, mut out) = (0usize, Vec::new());
    while at < bytes.len() {
        let mut len = word(at).ok_or_else(|| bad("truncated length"))?;
        at += 4;
        if len == -1 {
            len = word(at).ok_or_else(|| bad("truncated length"))?;
            at += 4;
        }
        if len == 0 {
            break;
        }
        let len = usize::try_from(len).map_err(|_| bad("negative length"))?;
        let header = bytes.get(at..at.saturating_add(len)).ok_or_else(|| bad("truncated message"))?;
        at += len;
        let message = arrow::ipc::root_as_message(header).map_err(|e| bad(&format!("{e:?}")))?;
        let body_len = usize::try_from(message.bodyLength()).map_err(|_| bad("negative body length"))?;
        let body = bytes.get(at..at.saturating_add(body_len)).ok_or_else(|| bad("truncated body"))?;
        at += body_len;
        if out.len() >= MAX_PARAMETER_MESSAGES {
            return Err(bad(&format!("more than {MAX_PARAMETER_MESSAGES} messages")));
        }
        out.push(FlightData { data_header: header.to_vec().into(), data_body: body.to_vec().into(), ..Default::default() });
    }
    Ok(out)
}

/// The Basic or Bearer credential of a request: the token (Basic auth carries it as the
/// password).
pub fn bearer<T>(request: &Request<T>) -> Option<String> {
    let v = request.metadata().get("authorization")?.to_str().ok()?;
    if let Some(t) = v.strip_prefix("Bearer ") {
        return Some(t.trim().to_owned());
    }
    // Padding optional: Go's gRPC clients (the ADBC driver) send unpadded base64.
    const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let decoded = LENIENT.decode(v.strip_prefix("Basic ")?.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    Some(text.split_once(':').map_or(text.clone(), |(_, p)| p.to_owned()))
}

fn sql_info() -> &'static SqlInfoData {
    static INFO: std::sync::LazyLock<SqlInfoData> = std::sync::LazyLock::new(|| {
        let mut b = SqlInfoDataBuilder::new();
        b.append(SqlInfo::FlightSqlServerName, "sdgx coordinator");
        b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        b.append(SqlInfo::FlightSqlServerArrowVersion, "1.5");
        b.append(SqlInfo::FlightSqlServerReadOnly, true);
        b.append(SqlInfo::FlightSqlServerSql, true);
        b.append(SqlInfo::FlightSqlServerSubstrait, false);
        b.append(SqlInfo::FlightSqlServerTransaction, 0i32);
        b.append(SqlInfo::FlightSqlServerCancel, false);
        b.append(SqlInfo::SqlDdlCatalog, false);
        b.append(SqlInfo::SqlDdlSchema, false);
        b.append(SqlInfo::SqlDdlTable, false);
        b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
        b.build().expect("static SQL info builds")
    });
    &INFO
}

/// Encodes one metadata batch as a Flight stream.
fn one_batch(batch: std::result::Result<RecordBatch, FlightError>) -> Result<Response<DoGetStream>, Status> {
    let batch = batch.map_err(Error::from)?;
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(batch.schema())
        .build(futures::stream::once(async { Ok(batch) }))
        .map_err(Status::from);
    Ok(Response::new(Box::pin(stream)))
}

/// The FlightInfo of a result: one endpoint whose ticket is `ticket`; a statement's (`handle`)
/// names the view and store version it reads in its `app_metadata`.
fn flight_info(schema: &Schema, ticket: Vec<u8>, descriptor: FlightDescriptor, handle: Option<&Handle>) -> Result<Response<FlightInfo>, Status> {
    info(schema, ticket, descriptor, handle).map(Response::new)
}

fn info(schema: &Schema, ticket: Vec<u8>, descriptor: FlightDescriptor, handle: Option<&Handle>) -> Result<FlightInfo, Status> {
    let mut info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(Error::from)?
        .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(ticket)))
        .with_descriptor(descriptor);
    if let Some(h) = handle {
        info = info.with_app_metadata(serde_json::json!({ "view": h.view, "store_version": h.version }).to_string().into_bytes());
    }
    Ok(info)
}

/// The schema a result is sent with: `FlightDataEncoder` sends dictionary-encoded columns (the
/// store's partition columns, `agency` and `dataset`, and what views derive from them) as
/// their plain value type, so FlightInfo and prepared statements must announce the same, or
/// clients that compare the two (the ADBC driver) refuse the result.
fn wire_schema(schema: &Schema) -> Schema {
    fn field(f: &Field) -> Field {
        f.clone().with_data_type(data_type(f.data_type()))
    }
    fn data_type(t: &DataType) -> DataType {
        match t {
            DataType::Dictionary(_, values) => data_type(values),
            DataType::List(f) => DataType::List(Arc::new(field(f))),
            DataType::LargeList(f) => DataType::LargeList(Arc::new(field(f))),
            DataType::FixedSizeList(f, n) => DataType::FixedSizeList(Arc::new(field(f)), *n),
            DataType::Struct(fields) => DataType::Struct(fields.iter().map(|f| field(f)).collect()),
            other => other.clone(),
        }
    }
    Schema::new_with_metadata(schema.fields().iter().map(|f| field(f)).collect::<Vec<_>>(), schema.metadata().clone())
}

fn ipc_schema(schema: &Schema) -> Result<bytes::Bytes, Status> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default()).try_into().map_err(Error::from)?;
    Ok(bytes)
}

/// Batches a Flight SQL result buffers between the query and the client.
const STREAM_BUFFER: usize = 2;

/// How long a query stopped at its time limit waits for a client that stopped reading to take
/// the error.
const ERROR_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Plans `handle`'s statement in the sandbox ([`crate::query::plan`]), with its parameters
/// bound. Runs on the query threads.
async fn plan(catalog: &Catalog, handle: &Handle, limits: &Limits) -> Result<(Session, DataFrame)> {
    let at = match handle.at {
        Some(t) => t,
        None => catalog.clock().now()?,
    };
    let pinned = catalog.pin_exact(handle.view, handle.version, at).await?;
    let session = catalog.session(&pinned, Window::default()).await?;
    let mut df = crate::query::plan(&session, &handle.sql, limits).await?;
    if let Some(values) = handle.parameters(limits.max_parameter_bytes)? {
        // Parameters arrive with the types announced (dictionaries as their plain values, see
        // `wire_schema`); each is cast to the type the statement planned for it.
        let planned = df.logical_plan().get_parameter_types()?;
        let values = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| match planned.get(&format!("${}", i + 1)) {
                Some(Some(t)) if v.data_type() != *t => v.cast_to(t),
                _ => Ok(v),
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        df = df.with_param_values(values)?;
    }
    Ok((session, df))
}

impl AnalystFlight {
    /// The service over `catalog`, admitting holders of `tokens`.
    pub fn new(catalog: Arc<Catalog>, tokens: Arc<Tokens>, limiter: Arc<FailureLimiter>, limits: Limits, metrics: Arc<crate::metrics::Metrics>) -> Self {
        AnalystFlight { catalog, tokens, limiter, limits, metrics }
    }

    /// Checks the caller's token (and the failure limiter).
    fn authenticate<T>(&self, request: &Request<T>) -> Result<(), Status> {
        self.check(bearer(request).as_deref(), request.remote_addr().map(|a| a.ip()))
    }

    /// Admits `token` from `ip` if it is a reader's or an administrator's. No token (or an empty
    /// one) is refused without counting; an invalid token counts towards the address's failed
    /// authentications and, once it has spent its allowance, is refused `ResourceExhausted`
    /// saying when to retry (also as `retry-after` metadata, in seconds). A valid token is
    /// admitted whatever the address's failures.
    fn check(&self, token: Option<&str>, ip: Option<std::net::IpAddr>) -> Result<(), Status> {
        let unauthenticated =
            || Status::unauthenticated("send a valid token: handshake (Basic auth, the token as the password), then authorization: Bearer <token>");
        let Some(token) = token.filter(|t| !t.is_empty()) else { return Err(unauthenticated()) };
        match self.tokens.authenticate(token) {
            Some((_, role)) if role.grants(Role::Reader) => Ok(()),
            Some((name, role)) => Err(Status::permission_denied(format!("{name} has role {role:?}; Flight SQL needs reader or admin"))),
            None => {
                if let Some(Err(locked)) = ip.map(|ip| self.limiter.failed(ip)) {
                    let mut status = Status::resource_exhausted(locked.message());
                    status.metadata_mut().insert("retry-after", locked.secs().into());
                    return Err(status);
                }
                Err(unauthenticated())
            }
        }
    }

    /// A handle for `sql` pinned to what the request reads: the view of its `x-sdgx-view`
    /// header (official when absent) at its `x-sdgx-as-of` header (current when absent).
    async fn handle<T>(&self, sql: String, request: &Request<T>) -> Result<Handle, Status> {
        Ok(Handle::pinned(sql, &self.pin(request).await?))
    }

    /// The view and store version `request` reads: its `x-sdgx-view` header (official when
    /// absent) at its `x-sdgx-as-of` header (current when absent).
    async fn pin<T>(&self, request: &Request<T>) -> Result<Pinned, Status> {
        let header = |name: &str| -> Result<Option<&str>, Status> {
            request.metadata().get(name).map(|v| v.to_str().map_err(|_| Status::invalid_argument(format!("{name} is not text")))).transpose()
        };
        let view = header(VIEW_HEADER)?.map(str::parse::<View>).transpose()?.unwrap_or_default();
        let as_of = header(AS_OF_HEADER)?.map(|t| AsOf::Text(t.to_owned()));
        Ok(self.catalog.pin(&Read { view, as_of }).await?)
    }

    /// Plans `handle`'s statement on the query threads (planning recurses as deep as the SQL
    /// nests) and returns what `inspect` takes from the plan.
    async fn inspect<T: Send + 'static>(
        &self,
        handle: Handle,
        inspect: impl FnOnce(&DataFrame) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (catalog, limits) = (self.catalog.clone(), self.limits.clone());
        self.limits
            .pool
            .run(self.limits.timeout, async move {
                let (_session, df) = plan(&catalog, &handle, &limits).await?;
                inspect(&df)
            })
            .await
    }

    /// Runs `handle`'s statement on the query threads and streams its result, under the query
    /// time limit. The query's task sends batches through a channel of [`STREAM_BUFFER`]
    /// batches, so a client that reads slowly slows the query down rather than filling memory;
    /// when the time limit passes, or the client goes away, the task drops DataFusion's stream
    /// and stops.
    async fn execute(&self, handle: Handle) -> Result<Response<DoGetStream>, Status> {
        let admission = self.limits.pool.admit()?;
        let (catalog, limits) = (self.catalog.clone(), self.limits.clone());
        let timeout = limits.timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<SchemaRef>>();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<RecordBatch, FlightError>>(STREAM_BUFFER);
        let expired = move || FlightError::Tonic(Box::new(Status::from(crate::query_pool::timed_out(timeout))));
        let (metrics, started) = (self.metrics.clone(), std::time::Instant::now());
        self.limits.pool.spawn(admission, async move {
            // The work ends with the sender and the error to send last, if any; the
            // continuation below sends it once the query's slot is free.
            let start = async {
                let (session, df) = plan(&catalog, &handle, &limits).await?;
                let schema: SchemaRef = Arc::new(wire_schema(df.schema().as_arrow()));
                let stream = df.execute_stream().await?;
                Ok::<_, Error>((session, schema, stream))
            };
            let (_session, schema, mut batches) = match tokio::time::timeout_at(deadline, start).await {
                Ok(Ok(started)) => started,
                Ok(Err(e)) => {
                    let _ = ready_tx.send(Err(e));
                    return (tx, None);
                }
                Err(_) => {
                    let _ = ready_tx.send(Err(crate::query_pool::timed_out(timeout)));
                    return (tx, None);
                }
            };
            if ready_tx.send(Ok(schema)).is_err() {
                return (tx, None);
            }
            loop {
                let next = tokio::select! {
                    next = tokio::time::timeout_at(deadline, batches.next()) => next,
                    () = tx.closed() => return (tx, None),
                };
                let item = match next {
                    Ok(None) => return (tx, None),
                    Ok(Some(Ok(batch))) => batch,
                    // Errors are sent once the query's work is dropped and its slot free.
                    Ok(Some(Err(e))) => return (tx, Some(FlightError::Tonic(Box::new(Status::from(Error::from(e)))))),
                    Err(_) => return (tx, Some(expired())),
                };
                match tokio::time::timeout_at(deadline, tx.send(Ok(item))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return (tx, None),
                    // The client stopped reading: stop the query, and tell it why if it reads on.
                    Err(_) => return (tx, Some(expired())),
                }
            }
        }, move |(tx, last)| async move {
            // The query's time: from its admission until its last batch or its error.
            metrics.query(crate::metrics::Surface::FlightSql, started);
            if let Some(e) = last {
                let _ = tokio::time::timeout(ERROR_GRACE, tx.send(Err(e))).await;
            }
        });
        let schema = ready_rx.await.map_err(|_| Status::internal("the query stopped before it started"))??;
        let batches = tokio_stream::wrappers::ReceiverStream::new(rx);
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(batches)
            .map_err(Status::from);
        Ok(Response::new(Box::pin(stream)))
    }

    /// The tables and views of the catalog as `pinned` reads it, as (schema, name, type,
    /// provider).
    async fn tables(&self, pinned: &Pinned) -> Result<Vec<(String, String, &'static str, Arc<dyn TableProvider>)>> {
        let session = self.catalog.session(pinned, Window::default()).await?;
        let catalog = session.ctx.catalog(crate::catalog::CATALOG).ok_or_else(|| Error::Internal("no catalog".into()))?;
        let mut out = Vec::new();
        for schema_name in catalog.schema_names() {
            let Some(schema) = catalog.schema(&schema_name) else { continue };
            let mut names = schema.table_names();
            names.sort();
            for name in names {
                if let Some(t) = schema.table(&name).await? {
                    let kind = match t.table_type() {
                        TableType::View => "VIEW",
                        TableType::Base => "TABLE",
                        TableType::Temporary => "LOCAL TEMPORARY",
                    };
                    out.push((schema_name.clone(), name, kind, t));
                }
            }
        }
        Ok(out)
    }
}

#[tonic::async_trait]
impl FlightSqlService for AnalystFlight {
    type FlightService = AnalystFlight;

    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>, Status> {
        let ip = request.remote_addr().map(|a| a.ip());
        let mut token = bearer(&request);
        if token.is_none() {
            let mut stream = request.into_inner();
            if let Some(Ok(first)) = stream.next().await {
                token = String::from_utf8(first.payload.to_vec()).ok();
            }
        }
        self.check(token.as_deref(), ip)?;
        let token = token.unwrap_or_default();
        let header = format!("Bearer {token}").parse().map_err(|_| Status::unauthenticated("the token is not valid"))?;
        let reply = HandshakeResponse { protocol_version: 0, payload: token.into_bytes().into() };
        let mut response: Response<Pin<Box<dyn Stream<Item = _> + Send>>> = Response::new(Box::pin(futures::stream::once(async { Ok(reply) })));
        response.metadata_mut().insert("authorization", header);
        Ok(response)
    }

    async fn get_flight_info_statement(&self, query: CommandStatementQuery, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        self.authenticate(&request)?;
        let handle = self.handle(query.query, &request).await?;
        let ticket = TicketStatementQuery { statement_handle: handle.encode().into() };
        let schema = self.inspect(handle.clone(), |df| Ok(wire_schema(df.schema().as_arrow()))).await?;
        flight_info(&schema, ticket.as_any().encode_to_vec(), request.into_inner(), Some(&handle))
    }

    async fn do_get_statement(&self, ticket: TicketStatementQuery, request: Request<Ticket>) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authenticate(&request)?;
        self.execute(Handle::decode(&ticket.statement_handle)?).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        self.authenticate(&request)?;
        let handle = self.handle(query.query, &request).await?;
        let (dataset_schema, params) = self
            .inspect(handle.clone(), |df| Ok((wire_schema(df.schema().as_arrow()), df.logical_plan().get_parameter_types()?)))
            .await?;
        let mut params: Vec<(String, Option<DataType>)> = params.into_iter().collect();
        // $1, $2, ... in order (named parameters, if any, after them by name).
        params.sort_by_key(|(id, _)| (id.trim_start_matches('$').parse::<u32>().unwrap_or(u32::MAX), id.clone()));
        // Announced as clients must send them: dictionaries as their plain value type (the IPC
        // guard refuses dictionary-encoded parameters; `plan` casts them back).
        let param_schema = wire_schema(&Schema::new(
            params.into_iter().map(|(id, t)| Field::new(id, t.unwrap_or(DataType::Utf8), true)).collect::<Vec<_>>(),
        ));
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.encode().into(),
            dataset_schema: ipc_schema(&dataset_schema)?,
            parameter_schema: ipc_schema(&param_schema)?,
        })
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        self.authenticate(&request)?;
        let mut handle = Handle::decode(&query.prepared_statement_handle)?;
        // Each message is bounded and checked before it is kept; nothing is decoded until the
        // stream ends.
        let mut binding = Binding::new(self.limits.max_parameter_bytes);
        let mut stream = request.into_inner();
        while let Some(message) = stream.next().await {
            binding.push(message?)?;
        }
        let (batch, _) = binding.row()?;
        let mut buf = Vec::new();
        let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut buf, &batch.schema()).map_err(Error::from)?;
        w.write(&batch).map_err(Error::from)?;
        w.finish().map_err(Error::from)?;
        drop(w);
        handle.params = Some(base64::engine::general_purpose::STANDARD.encode(buf));
        // Check now that the parameters fit the statement, so a bad binding fails at bind time.
        self.inspect(handle.clone(), |_| Ok(())).await?;
        Ok(DoPutPreparedStatementResult { prepared_statement_handle: Some(handle.encode().into()) })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authenticate(&request)?;
        let handle = Handle::decode(&cmd.prepared_statement_handle)?;
        let schema = self.inspect(handle.clone(), |df| Ok(wire_schema(df.schema().as_arrow()))).await?;
        flight_info(&schema, cmd.as_any().encode_to_vec(), request.into_inner(), Some(&handle))
    }

    async fn do_get_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authenticate(&request)?;
        self.execute(Handle::decode(&cmd.prepared_statement_handle)?).await
    }

    async fn do_action_close_prepared_statement(&self, _query: ActionClosePreparedStatementRequest, request: Request<arrow_flight::Action>) -> Result<(), Status> {
        // Handles are stateless: nothing to free.
        self.authenticate(&request)
    }

    async fn get_flight_info_sql_info(&self, query: CommandGetSqlInfo, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        self.authenticate(&request)?;
        let schema = query.clone().into_builder(sql_info()).schema();
        flight_info(&schema, query.as_any().encode_to_vec(), request.into_inner(), None)
    }

    async fn do_get_sql_info(&self, query: CommandGetSqlInfo, request: Request<Ticket>) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authenticate(&request)?;
        one_batch(query.into_builder(sql_info()).build())
    }

    async fn get_flight_info_catalogs(&self, query: CommandGetCatalogs, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        self.authenticate(&request)?;
        let schema = query.into_builder().schema();
        flight_info(&schema, query.as_any().encode_to_vec(), request.into_inner(), None)
    }

    async fn do_get_catalogs(&self, query: CommandGetCatalogs, request: Request<Ticket>) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authenticate(&request)?;
        let mut b = query.into_builder();
        b.append(crate::catalog::CATALOG);
        one_batch(b.build())
    }

    async fn get_flight_info_schemas(&self, query: CommandGetDbSchemas, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        self.authenticate(&request)?;
        let schema = query.clone().into_builder().schema();
        flight_info(&schema, query.as_any().encode_to_vec(), request.into_inner(), None)
    }

    async fn do_get_schemas(&self, query: CommandGetDbSchemas, request: Request<Ticket>) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authenticate(&request)?;
        let mut schemas: Vec<String> = self.tables(&self.pin(&request).await?).await?.into_iter().map(|t| t.0).collect();
        schemas.dedup();
        let mut b = query.into_builder();
        for s in schemas {
            b.append(crate::catalog::CATALOG, s);
        }
        one_batch(b.build())
    }

    async fn get_flight_info_tables(&self, query: CommandGetTables, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        self.authenticate(&request)?;
        let schema = query.clone().into_builder().schema();
        flight_info(&schema, query.as_any().encode_to_vec(), request.into_inner(), None)
    }

    async fn do_get_tables(&self, query: CommandGetTables, request: Request<Ticket>) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authenticate(&request)?;
        let mut b = query.into_builder();
        for (schema, name, kind, table) in self.tables(&self.pin(&request).await?).await? {
            let described = xdbc::describe(&table.schema(), crate::catalog::CATALOG, &schema, &name);
            b.append(crate::catalog::CATALOG, schema, name, kind, &described).map_err(Error::from)?;
        }
        one_batch(b.build())
    }

    async fn get_flight_info_table_types(&self, query: CommandGetTableTypes, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        self.authenticate(&request)?;
        let schema = query.into_builder().schema();
        flight_info(&schema, query.as_any().encode_to_vec(), request.into_inner(), None)
    }

    async fn do_get_table_types(&self, query: CommandGetTableTypes, request: Request<Ticket>) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authenticate(&request)?;
        let mut b = query.into_builder();
        for t in ["TABLE", "VIEW"] {
            b.append(t);
        }
        one_batch(b.build())
    }

    async fn get_flight_info_xdbc_type_info(&self, query: CommandGetXdbcTypeInfo, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        self.authenticate(&request)?;
        let schema = query.into_builder(xdbc::type_info()).schema();
        flight_info(&schema, query.as_any().encode_to_vec(), request.into_inner(), None)
    }

    async fn do_get_xdbc_type_info(&self, query: CommandGetXdbcTypeInfo, request: Request<Ticket>) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authenticate(&request)?;
        one_batch(query.into_builder(xdbc::type_info()).build())
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

/// The analysts' Flight service as served: every Flight SQL command of [`AnalystFlight`], and
/// the two plain Flight calls Flight SQL leaves to the server. Each checks the caller's token
/// first, as every command does.
///
/// - **GetSchema** of a descriptor holding a statement (`CommandStatementQuery`), a prepared
///   statement (`CommandPreparedStatementQuery`, its parameters bound or not) or a metadata
///   command: the schema its result is sent with, from the plan, without running it.
/// - **ListFlights**: one FlightInfo per table and view, in the view and at the store version
///   the call's headers choose: its descriptor is the command
///   `SELECT * FROM "sdgx"."<schema>"."<table>"`, its schema the one the rows are sent with,
///   and its endpoint a ticket for them (pinned to that version). It takes no criteria.
pub struct AnalystService(AnalystFlight);

impl From<AnalystFlight> for AnalystService {
    fn from(sql: AnalystFlight) -> Self {
        AnalystService(sql)
    }
}

/// `name` as a quoted SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl AnalystService {
    /// The schema the result of `descriptor`'s command is sent with.
    async fn schema_of(&self, request: &Request<FlightDescriptor>) -> Result<Schema, Status> {
        let descriptor = request.get_ref();
        if descriptor.r#type != DescriptorType::Cmd as i32 {
            return Err(Status::invalid_argument("GetSchema takes a command descriptor: a statement, a prepared statement or a Flight SQL metadata command"));
        }
        let any = Any::decode(&*descriptor.cmd).map_err(|e| Status::invalid_argument(format!("not a Flight SQL command: {e}")))?;
        let sql = &self.0;
        let planned = |handle: Handle| sql.inspect(handle, |df| Ok(wire_schema(df.schema().as_arrow())));
        let schema = match Command::try_from(any).map_err(Error::from)? {
            Command::CommandStatementQuery(q) => planned(sql.handle(q.query, request).await?).await?,
            Command::CommandPreparedStatementQuery(c) => planned(Handle::decode(&c.prepared_statement_handle)?).await?,
            Command::CommandGetCatalogs(c) => c.into_builder().schema().as_ref().clone(),
            Command::CommandGetDbSchemas(c) => c.into_builder().schema().as_ref().clone(),
            Command::CommandGetTables(c) => c.into_builder().schema().as_ref().clone(),
            Command::CommandGetTableTypes(c) => c.into_builder().schema().as_ref().clone(),
            Command::CommandGetSqlInfo(c) => c.into_builder(sql_info()).schema().as_ref().clone(),
            Command::CommandGetXdbcTypeInfo(c) => c.into_builder(xdbc::type_info()).schema().as_ref().clone(),
            other => return Err(Status::unimplemented(format!("GetSchema of {} is not served", other.type_url()))),
        };
        Ok(schema)
    }

    /// The FlightInfo of every table and view, as the call's headers read the store.
    async fn flights(&self, request: &Request<Criteria>) -> Result<Vec<FlightInfo>, Status> {
        if !request.get_ref().expression.is_empty() {
            return Err(Status::invalid_argument("ListFlights takes no criteria: it lists every table and view (GetTables filters them)"));
        }
        let pinned = self.0.pin(request).await?;
        let mut out = Vec::new();
        for (schema, name, _, table) in self.0.tables(&pinned).await? {
            let sql = format!("SELECT * FROM {}.{}.{}", quoted(crate::catalog::CATALOG), quoted(&schema), quoted(&name));
            let handle = Handle::pinned(sql.clone(), &pinned);
            let ticket = TicketStatementQuery { statement_handle: handle.encode().into() };
            let descriptor = FlightDescriptor::new_cmd(CommandStatementQuery { query: sql, transaction_id: None }.as_any().encode_to_vec());
            out.push(info(&wire_schema(&table.schema()), ticket.as_any().encode_to_vec(), descriptor, Some(&handle))?);
        }
        Ok(out)
    }
}

#[tonic::async_trait]
impl FlightService for AnalystService {
    type HandshakeStream = <AnalystFlight as FlightService>::HandshakeStream;
    type ListFlightsStream = <AnalystFlight as FlightService>::ListFlightsStream;
    type DoGetStream = <AnalystFlight as FlightService>::DoGetStream;
    type DoPutStream = <AnalystFlight as FlightService>::DoPutStream;
    type DoActionStream = <AnalystFlight as FlightService>::DoActionStream;
    type ListActionsStream = <AnalystFlight as FlightService>::ListActionsStream;
    type DoExchangeStream = <AnalystFlight as FlightService>::DoExchangeStream;

    async fn handshake(&self, request: Request<Streaming<HandshakeRequest>>) -> Result<Response<Self::HandshakeStream>, Status> {
        FlightService::handshake(&self.0, request).await
    }

    async fn list_flights(&self, request: Request<Criteria>) -> Result<Response<Self::ListFlightsStream>, Status> {
        self.0.authenticate(&request)?;
        let flights = self.flights(&request).await?;
        Ok(Response::new(Box::pin(futures::stream::iter(flights.into_iter().map(Ok)))))
    }

    async fn get_flight_info(&self, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        FlightService::get_flight_info(&self.0, request).await
    }

    async fn poll_flight_info(&self, request: Request<FlightDescriptor>) -> Result<Response<PollInfo>, Status> {
        FlightService::poll_flight_info(&self.0, request).await
    }

    async fn get_schema(&self, request: Request<FlightDescriptor>) -> Result<Response<SchemaResult>, Status> {
        self.0.authenticate(&request)?;
        let schema = self.schema_of(&request).await?;
        let result: SchemaResult = SchemaAsIpc::new(&schema, &IpcWriteOptions::default()).try_into().map_err(Error::from)?;
        Ok(Response::new(result))
    }

    async fn do_get(&self, request: Request<Ticket>) -> Result<Response<Self::DoGetStream>, Status> {
        FlightService::do_get(&self.0, request).await
    }

    async fn do_put(&self, request: Request<Streaming<FlightData>>) -> Result<Response<Self::DoPutStream>, Status> {
        FlightService::do_put(&self.0, request).await
    }

    async fn do_action(&self, request: Request<Action>) -> Result<Response<Self::DoActionStream>, Status> {
        FlightService::do_action(&self.0, request).await
    }

    async fn list_actions(&self, request: Request<Empty>) -> Result<Response<Self::ListActionsStream>, Status> {
        FlightService::list_actions(&self.0, request).await
    }

    async fn do_exchange(&self, request: Request<Streaming<FlightData>>) -> Result<Response<Self::DoExchangeStream>, Status> {
        FlightService::do_exchange(&self.0, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, DictionaryArray, Int64Array};
    use arrow::datatypes::UInt16Type;

    /// What FlightInfo announces is what do_get sends, for a dictionary-encoded column too.
    #[tokio::test]
    async fn announced_schema_is_the_sent_schema() {
        let keys: DictionaryArray<UInt16Type> = vec!["cba", "moh", "cba"].into_iter().collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("key", keys.data_type().clone(), true),
            Field::new("numerator", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(keys), Arc::new(Int64Array::from(vec![1, 2, 3]))]).unwrap();
        let announced = wire_schema(&schema);
        assert_eq!(announced.field(0).data_type(), &DataType::Utf8);
        let encoded: Vec<_> = FlightDataEncoderBuilder::new()
            .with_schema(Arc::new(announced.clone()))
            .build(futures::stream::once(async { Ok(batch) }))
            .try_collect()
            .await
            .unwrap();
        let sent = Schema::try_from(&encoded[0]).unwrap();
        assert_eq!(sent, announced);
    }
}
