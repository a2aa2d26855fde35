//! The analysts' Arrow Flight SQL service: statement queries, prepared statements with
//! parameters, and the metadata commands generic clients browse with (GetSqlInfo,
//! GetCatalogs, GetDbSchemas, GetTables with schemas, GetTableTypes).
//!
//! - **Authentication**: a handshake with the token (Basic auth with the token as the
//!   password, as ADBC and pyarrow send it; a bearer header; or the token as the payload),
//!   answered with `authorization: Bearer <token>`, which every later call carries. Invalid
//!   tokens count towards the per-address limiter shared with HTTP (missing ones do not).
//! - **Read-only sandbox**: every statement is planned with [`crate::query::sql_options`] (no
//!   DDL, DML or statements) over the catalog's tables only.
//! - **Time travel**: the call header `x-sdgx-as-of` (a store version, or an RFC 3339
//!   timestamp) reads the store as it was. Handles and tickets carry the resolved store version,
//!   so a result never mixes versions.
//! - **Streaming**: results stream batch by batch from DataFusion to the wire, under the query
//!   engine's memory limit and the query time limit; there is no row cap.
//! - Handles are stateless (JSON: statement, store version and bound parameters as Arrow IPC),
//!   so closing a prepared statement frees nothing and a restart invalidates nothing.

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
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult,
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables,
    CommandPreparedStatementQuery, CommandStatementQuery, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::{
    FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, IpcMessage, SchemaAsIpc,
    Ticket,
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

use crate::auth::{FailureLimiter, Role, Tokens};
use crate::catalog::{Catalog, Session};
use crate::error::{Error, Result};
use crate::figures::Window;
use crate::query::{sql_options, Limits};

/// The call header that selects the store version read.
pub const AS_OF_HEADER: &str = "x-sdgx-as-of";

type DoGetStream = Pin<Box<dyn Stream<Item = Result<FlightData, Status>> + Send + 'static>>;

/// The analysts' Flight SQL service.
pub struct AnalystFlight {
    catalog: Arc<Catalog>,
    tokens: Arc<Tokens>,
    limiter: Arc<FailureLimiter>,
    limits: Limits,
}

/// What a ticket or prepared-statement handle carries: enough to run the statement again at
/// the same store version.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Handle {
    sql: String,
    version: i64,
    /// The bound parameters: one row, Arrow IPC stream, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    params: Option<String>,
}

impl Handle {
    fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a handle serialises")
    }

    fn decode(bytes: &[u8]) -> Result<Handle, Status> {
        serde_json::from_slice(bytes).map_err(|e| Status::invalid_argument(format!("not an sdgx statement handle: {e}")))
    }

    fn parameters(&self) -> Result<Option<Vec<ScalarValue>>> {
        let Some(b64) = &self.params else { return Ok(None) };
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| Error::BadRequest(format!("bad parameters: {e}")))?;
        let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
        let batches: Vec<RecordBatch> = reader.collect::<std::result::Result<_, _>>()?;
        let batch = batches.first().ok_or_else(|| Error::BadRequest("no parameter row was bound".into()))?;
        let values = batch.columns().iter().map(|c| ScalarValue::try_from_array(c, 0)).collect::<std::result::Result<_, _>>()?;
        Ok(Some(values))
    }
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

/// A FlightInfo with one endpoint whose ticket is `ticket`.
fn flight_info(schema: &Schema, ticket: Vec<u8>, descriptor: FlightDescriptor) -> Result<Response<FlightInfo>, Status> {
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(Error::from)?
        .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(ticket)))
        .with_descriptor(descriptor);
    Ok(Response::new(info))
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

impl AnalystFlight {
    /// The service over `catalog`, admitting holders of `tokens`.
    pub fn new(catalog: Arc<Catalog>, tokens: Arc<Tokens>, limiter: Arc<FailureLimiter>, limits: Limits) -> Self {
        AnalystFlight { catalog, tokens, limiter, limits }
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
            Some((_, role)) if role >= Role::Reader => Ok(()),
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

    /// The store version a request reads: its `x-sdgx-as-of` header, or the current one.
    async fn version<T>(&self, request: &Request<T>) -> Result<i64, Status> {
        match request.metadata().get(AS_OF_HEADER) {
            Some(v) => {
                let text = v.to_str().map_err(|_| Status::invalid_argument(format!("{AS_OF_HEADER} is not text")))?;
                Ok(self.catalog.resolve_as_of(text).await?)
            }
            None => Ok(self.catalog.store().version().await),
        }
    }

    /// Plans `handle`'s statement in the sandbox, with its parameters bound.
    async fn plan(&self, handle: &Handle) -> Result<(Session, DataFrame)> {
        let session = self.catalog.session(Some(handle.version), Window::default()).await?;
        let mut df = session.ctx.sql_with_options(&handle.sql, sql_options()).await?;
        if let Some(values) = handle.parameters()? {
            df = df.with_param_values(values)?;
        }
        Ok((session, df))
    }

    /// Runs `handle`'s statement and streams its result, under the query time limit.
    async fn execute(&self, handle: &Handle) -> Result<Response<DoGetStream>, Status> {
        let (_session, df) = self.plan(handle).await?;
        let schema: SchemaRef = Arc::new(wire_schema(df.schema().as_arrow()));
        let batches = df.execute_stream().await.map_err(Error::from)?;
        let limit = self.limits.timeout;
        let deadline = tokio::time::Instant::now() + limit;
        let batches = futures::stream::unfold(Some(batches), move |state| async move {
            let mut batches = state?;
            tokio::select! {
                next = batches.next() => next.map(|item| (item.map_err(|e| FlightError::ExternalError(Box::new(e))), Some(batches))),
                () = tokio::time::sleep_until(deadline) => Some((
                    Err(FlightError::Tonic(Box::new(Status::deadline_exceeded(format!(
                        "the query ran longer than {} s and was stopped", limit.as_secs()))))),
                    None,
                )),
            }
        });
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(batches)
            .map_err(Status::from);
        Ok(Response::new(Box::pin(stream)))
    }

    /// The tables and views of the catalog, as (schema, name, type, provider).
    async fn tables(&self) -> Result<Vec<(String, String, &'static str, Arc<dyn TableProvider>)>> {
        let session = self.catalog.session(None, Window::default()).await?;
        let catalog = session.ctx.catalog(crate::catalog::CATALOG).ok_or_else(|| Error::Config("no catalog".into()))?;
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
        let handle = Handle { sql: query.query, version: self.version(&request).await?, params: None };
        let (_session, df) = self.plan(&handle).await?;
        let ticket = TicketStatementQuery { statement_handle: handle.encode().into() };
        flight_info(&wire_schema(df.schema().as_arrow()), ticket.as_any().encode_to_vec(), request.into_inner())
    }

    async fn do_get_statement(&self, ticket: TicketStatementQuery, request: Request<Ticket>) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authenticate(&request)?;
        self.execute(&Handle::decode(&ticket.statement_handle)?).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        self.authenticate(&request)?;
        let handle = Handle { sql: query.query, version: self.version(&request).await?, params: None };
        let (_session, df) = self.plan(&handle).await?;
        let mut params: Vec<(String, Option<DataType>)> = df.logical_plan().get_parameter_types().map_err(Error::from)?.into_iter().collect();
        // $1, $2, ... in order (named parameters, if any, after them by name).
        params.sort_by_key(|(id, _)| (id.trim_start_matches('$').parse::<u32>().unwrap_or(u32::MAX), id.clone()));
        let param_schema = Schema::new(
            params.into_iter().map(|(id, t)| Field::new(id, t.unwrap_or(DataType::Utf8), true)).collect::<Vec<_>>(),
        );
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.encode().into(),
            dataset_schema: ipc_schema(&wire_schema(df.schema().as_arrow()))?,
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
        let stream = arrow_flight::decode::FlightRecordBatchStream::new_from_flight_data(request.into_inner().map_err(FlightError::from));
        let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(Error::from)?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if rows != 1 {
            return Err(Status::invalid_argument(format!("bind exactly one row of parameters, not {rows}")));
        }
        let batch = batches.into_iter().find(|b| b.num_rows() == 1).expect("one row");
        let mut buf = Vec::new();
        let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut buf, &batch.schema()).map_err(Error::from)?;
        w.write(&batch).map_err(Error::from)?;
        w.finish().map_err(Error::from)?;
        drop(w);
        handle.params = Some(base64::engine::general_purpose::STANDARD.encode(buf));
        // Check now that the parameters fit the statement, so a bad binding fails at bind time.
        self.plan(&handle).await?;
        Ok(DoPutPreparedStatementResult { prepared_statement_handle: Some(handle.encode().into()) })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authenticate(&request)?;
        let handle = Handle::decode(&cmd.prepared_statement_handle)?;
        let (_session, df) = self.plan(&handle).await?;
        flight_info(&wire_schema(df.schema().as_arrow()), cmd.as_any().encode_to_vec(), request.into_inner())
    }

    async fn do_get_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authenticate(&request)?;
        self.execute(&Handle::decode(&cmd.prepared_statement_handle)?).await
    }

    async fn do_action_close_prepared_statement(&self, _query: ActionClosePreparedStatementRequest, request: Request<arrow_flight::Action>) -> Result<(), Status> {
        // Handles are stateless: nothing to free.
        self.authenticate(&request)
    }

    async fn get_flight_info_sql_info(&self, query: CommandGetSqlInfo, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        self.authenticate(&request)?;
        let schema = query.clone().into_builder(sql_info()).schema();
        flight_info(&schema, query.as_any().encode_to_vec(), request.into_inner())
    }

    async fn do_get_sql_info(&self, query: CommandGetSqlInfo, request: Request<Ticket>) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authenticate(&request)?;
        one_batch(query.into_builder(sql_info()).build())
    }

    async fn get_flight_info_catalogs(&self, query: CommandGetCatalogs, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        self.authenticate(&request)?;
        let schema = query.into_builder().schema();
        flight_info(&schema, query.as_any().encode_to_vec(), request.into_inner())
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
        flight_info(&schema, query.as_any().encode_to_vec(), request.into_inner())
    }

    async fn do_get_schemas(&self, query: CommandGetDbSchemas, request: Request<Ticket>) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authenticate(&request)?;
        let mut schemas: Vec<String> = self.tables().await?.into_iter().map(|t| t.0).collect();
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
        flight_info(&schema, query.as_any().encode_to_vec(), request.into_inner())
    }

    async fn do_get_tables(&self, query: CommandGetTables, request: Request<Ticket>) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authenticate(&request)?;
        let mut b = query.into_builder();
        for (schema, name, kind, table) in self.tables().await? {
            b.append(crate::catalog::CATALOG, schema, name, kind, &table.schema()).map_err(Error::from)?;
        }
        one_batch(b.build())
    }

    async fn get_flight_info_table_types(&self, query: CommandGetTableTypes, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        self.authenticate(&request)?;
        let schema = query.into_builder().schema();
        flight_info(&schema, query.as_any().encode_to_vec(), request.into_inner())
    }

    async fn do_get_table_types(&self, query: CommandGetTableTypes, request: Request<Ticket>) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authenticate(&request)?;
        let mut b = query.into_builder();
        for t in ["TABLE", "VIEW"] {
            b.append(t);
        }
        one_batch(b.build())
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
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
