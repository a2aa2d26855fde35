//! Hostile analysts: SQL and Flight SQL calls from a reader token that took the coordinator
//! down, or starved ingest, before the query sandbox had threads, limits and cancellation of
//! its own (issue 15, cases 1-4 and 10a). Each runs against the example coordinator in process
//! (`Running`), under its own small limits, never by exhausting the host.
//!
//! - deep expressions (2,000 `+` terms, 2,000 `OR`s, 100,000 terms) are refused with 400 /
//!   InvalidArgument naming the limit, and the coordinator keeps serving;
//! - Flight SQL parameters: an LZ4 buffer claiming 2^40 bytes (in a handle, and by DoPut), many
//!   big batches, and a 0-row binding are refused with InvalidArgument;
//! - a result larger than `query_memory_limit` is refused with 422, within the limit; one
//!   larger than `query_max_response_bytes` is cut and says so;
//! - while four CPU-bound queries hold every query slot, a publication is acknowledged and
//!   `/health` answers; a query past its time limit is answered 408 / DeadlineExceeded and its
//!   work stops (its slot is free again for the next query);
//! - a doubling recursive CTE and a self join gathered by `array_agg` end in 422 / ResourceExhausted.

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use arrow_flight::sql::{CommandPreparedStatementQuery, ProstMessageExt, TicketStatementQuery};
use arrow_flight::{FlightClient, FlightData, FlightDescriptor, Ticket};
use base64::Engine;
use futures::TryStreamExt;
use prost::Message;
use sdgx_coordinator::auth::{Role, Tokens};
use sdgx_e2e::Running;
use serde_json::{json, Value};
use tonic::Code;

/// A running coordinator with a reader token.
struct Analyst {
    r: Running,
    token: String,
}

impl Analyst {
    async fn start(tweak: impl FnOnce(&mut sdgx_coordinator::Config)) -> Analyst {
        let (token, entry) = Tokens::create("analyst", Role::Reader);
        let r = Running::start(|c| {
            c.security.tokens = vec![entry];
            tweak(c);
        })
        .await;
        Analyst { r, token }
    }

    /// `POST /api/v1/query` with `sql`: the status and the body.
    async fn query(&self, sql: &str) -> (u16, Value) {
        let r = reqwest::Client::new()
            .post(format!("http://{}/api/v1/query", self.r.http))
            .bearer_auth(&self.token)
            .json(&json!({ "sql": sql }))
            .send()
            .await
            .expect("the coordinator answers");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn health(&self) -> u16 {
        reqwest::get(format!("http://{}/health", self.r.http)).await.expect("the coordinator answers").status().as_u16()
    }

    async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.r.analyst_flight.expect("analysts' port")))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// A raw Flight client carrying the token.
    async fn flight(&self) -> FlightClient {
        let mut c = FlightClient::new(self.channel().await);
        c.add_header("authorization", &format!("Bearer {}", self.token)).unwrap();
        c
    }

    async fn flight_sql(&self) -> arrow_flight::sql::client::FlightSqlServiceClient<tonic::transport::Channel> {
        let mut c = arrow_flight::sql::client::FlightSqlServiceClient::new(self.channel().await);
        c.handshake("analyst", &self.token).await.expect("handshake");
        c
    }

    /// Runs `sql` over Flight SQL to the end: the rows, or the status.
    async fn flight_sql_rows(&self, sql: &str) -> Result<usize, tonic::Status> {
        let mut c = self.flight_sql().await;
        let info = c.execute(sql.to_owned(), None).await.map_err(status)?;
        let ticket = info.endpoint[0].ticket.clone().unwrap();
        let batches: Vec<RecordBatch> = c.do_get(ticket).await.map_err(status)?.try_collect().await.map_err(status)?;
        Ok(batches.iter().map(RecordBatch::num_rows).sum())
    }
}

/// The gRPC status inside an arrow error (which keeps only its text).
fn status(e: impl std::fmt::Display) -> tonic::Status {
    let text = e.to_string();
    let code = [Code::InvalidArgument, Code::ResourceExhausted, Code::DeadlineExceeded, Code::Cancelled, Code::Internal]
        .into_iter()
        .find(|c| text.contains(c.description()))
        .unwrap_or(Code::Unknown);
    tonic::Status::new(code, text)
}

fn flight_status(e: arrow_flight::error::FlightError) -> tonic::Status {
    match e {
        arrow_flight::error::FlightError::Tonic(s) => *s,
        other => status(other),
    }
}

/// `SELECT 1+1+...+1` of `n` terms.
fn sum_of_ones(n: usize) -> String {
    format!("SELECT {} AS s", vec!["1"; n].join("+"))
}

/// Case 1: 4 KB of SQL overflowed a tokio worker's stack and aborted the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_expressions_are_refused_and_the_coordinator_keeps_serving() {
    let a = Analyst::start(|_| {}).await;
    let ors = format!("SELECT value FROM range(10) WHERE {}", (0..2000).map(|i| format!("value={i}")).collect::<Vec<_>>().join(" OR "));
    for sql in [sum_of_ones(2000), ors, sum_of_ones(100_000)] {
        let (status, body) = a.query(&sql).await;
        assert_eq!(status, 400, "{body}");
        let m = body["message"].as_str().unwrap();
        assert!(m.contains("deeper than 1000 levels") && m.contains("query_max_expression_depth"), "{m}");
        assert_eq!(a.health().await, 200);
    }
    // Over Flight SQL too.
    let e = a.flight_sql_rows(&sum_of_ones(2000)).await.expect_err("refused");
    assert_eq!(e.code(), Code::InvalidArgument, "{e}");
    assert!(e.message().contains("query_max_expression_depth"), "{e}");
    // Under the limit the sum is computed, on the query threads' deeper stacks.
    let (status, body) = a.query(&sum_of_ones(900)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"][0]["s"], 900);
    // A text past query_max_sql_bytes is refused before it is parsed.
    let (status, body) = a.query(&format!("SELECT '{}'", "x".repeat(1 << 20))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("query_max_sql_bytes"), "{body}");
    a.r.stop().await;
}

/// The Flight messages of `batch` (schema, then the batch).
fn messages(batch: &RecordBatch) -> Vec<FlightData> {
    arrow_flight::utils::batches_to_flight_data(&batch.schema(), vec![batch.clone()]).unwrap()
}

/// One row of one Int64 parameter.
fn one_row() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("$1", DataType::Int64, true)]));
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![7]))]).unwrap()
}

/// `messages` framed as an Arrow IPC stream (what a statement handle's `params` carries).
fn ipc_stream(messages: &[FlightData]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        let pad = (8 - m.data_header.len() % 8) % 8;
        out.extend_from_slice(&(-1i32).to_le_bytes());
        out.extend_from_slice(&((m.data_header.len() + pad) as i32).to_le_bytes());
        out.extend_from_slice(&m.data_header);
        out.extend(std::iter::repeat_n(0u8, pad));
        out.extend_from_slice(&m.data_body);
    }
    out.extend_from_slice(&(-1i32).to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out
}

/// A statement handle as the coordinator issues them, with `params` bound.
fn handle(sql: &str, version: i64, params: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "sql": sql, "version": version, "params": base64::engine::general_purpose::STANDARD.encode(params) })).unwrap()
}

/// do_get of a statement ticket carrying `handle`: the rows or the status.
async fn do_get(a: &Analyst, handle: Vec<u8>) -> Result<usize, tonic::Status> {
    let ticket = TicketStatementQuery { statement_handle: handle.into() };
    let mut c = a.flight().await;
    let batches: Vec<RecordBatch> = c.do_get(Ticket::new(ticket.as_any().encode_to_vec())).await.map_err(flight_status)?.try_collect().await.map_err(flight_status)?;
    Ok(batches.iter().map(RecordBatch::num_rows).sum())
}

/// DoPut of `messages` as the parameters of a prepared statement with `handle`.
async fn bind(a: &Analyst, handle: Vec<u8>, mut messages: Vec<FlightData>) -> Result<(), tonic::Status> {
    let cmd = CommandPreparedStatementQuery { prepared_statement_handle: handle.into() };
    messages[0].flight_descriptor = Some(FlightDescriptor::new_cmd(cmd.as_any().encode_to_vec()));
    let mut c = a.flight().await;
    let results = c.do_put(futures::stream::iter(messages.into_iter().map(Ok))).await.map_err(flight_status)?;
    results.try_collect::<Vec<_>>().await.map_err(flight_status)?;
    Ok(())
}

/// Case 2: Flight SQL parameters aborted the process (LZ4 claim), were buffered without bound,
/// or panicked the handler (0 rows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_flight_sql_parameters_are_refused() {
    let a = Analyst::start(|c| c.query_max_parameter_bytes = 1 << 20).await;
    let version = a.r.catalog.store().version().await;
    let sql = "SELECT $1 AS p";
    // A valid binding works, through the handle and by DoPut.
    assert_eq!(do_get(&a, handle(sql, version, &ipc_stream(&messages(&one_row())))).await.expect("a valid handle"), 1);
    bind(&a, handle(sql, version, b""), messages(&one_row())).await.expect("a valid binding");

    // The 2^40 LZ4 claim inside a handle's params, with a TicketStatementQuery do_get.
    let e = do_get(&a, handle(sql, version, &ipc_stream(&sdgx_schemas::fuzzing::claim_a_terabyte(messages(&one_row()))))).await.expect_err("refused");
    assert_eq!(e.code(), Code::InvalidArgument, "{e}");
    assert!(e.message().contains("compressed"), "{e}");
    // The same by DoPut on CommandPreparedStatementQuery.
    let handle_without = serde_json::to_vec(&json!({ "sql": sql, "version": version })).unwrap();
    let e = bind(&a, handle_without.clone(), sdgx_schemas::fuzzing::claim_a_terabyte(messages(&one_row()))).await.expect_err("refused");
    assert_eq!(e.code(), Code::InvalidArgument, "{e}");
    assert!(e.message().contains("compressed"), "{e}");

    // 20 batches of 2 MB each: refused at the byte limit, naming it.
    let big = {
        let schema = Arc::new(Schema::new(vec![Field::new("$1", DataType::Int64, true)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1i64; 256 << 10]))]).unwrap()
    };
    let many: Vec<FlightData> = arrow_flight::utils::batches_to_flight_data(&big.schema(), vec![big.clone(); 20]).unwrap();
    let e = bind(&a, handle_without.clone(), many).await.expect_err("refused");
    assert_eq!(e.code(), Code::InvalidArgument, "{e}");
    assert!(e.message().contains("query_max_parameter_bytes"), "{e}");

    // A handle whose parameters hold no row.
    let empty = one_row().slice(0, 0);
    let e = do_get(&a, handle(sql, version, &ipc_stream(&messages(&empty)))).await.expect_err("refused");
    assert_eq!(e.code(), Code::InvalidArgument, "{e}");
    assert!(e.message().contains("not 0"), "{e}");
    // And it keeps serving.
    assert_eq!(do_get(&a, handle(sql, version, &ipc_stream(&messages(&one_row())))).await.expect("a valid handle"), 1);
    a.r.stop().await;
}

/// The peak resident memory of this process, in MiB.
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok()).unwrap_or(0) / 1024
}

/// Case 3: the memory limit covered the operators but not expression output, the collected
/// result or its JSON (978 MB returned at 5.3 GB RSS under a 2 GiB limit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_limit_covers_the_result_and_its_json() {
    let a = Analyst::start(|c| {
        c.query_memory_limit = 32 << 20;
        c.query_max_response_bytes = 1 << 30;
    })
    .await;
    // About 300 MB of JSON against a 32 MiB limit.
    let sql = "SELECT value, repeat('y', 1000) AS pad FROM range(300000)";
    let (status, body) = a.query(sql).await;
    assert_eq!(status, 422, "{}", &body.to_string()[..body.to_string().len().min(300)]);
    assert_eq!(body["error"], "resources_exhausted");
    assert!(body.get("rows").is_none());
    // Two at once: both refused, and the coordinator lives on.
    let (x, y) = tokio::join!(a.query(sql), a.query(sql));
    assert_eq!((x.0, y.0), (422, 422));
    assert_eq!(a.health().await, 200);
    // Small results still work.
    let (status, body) = a.query("SELECT value FROM range(10)").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"].as_array().unwrap().len(), 10);
    assert_eq!(body["truncated"], false);
    println!("peak RSS of the test process with query_memory_limit = 32 MiB: {} MiB", peak_rss_mib());
    a.r.stop().await;
}

/// Case 3, the byte cap: a result larger than `query_max_response_bytes` is cut at a row and
/// says so; the row cap says so too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_has_a_byte_cap_and_says_when_it_was_cut() {
    let a = Analyst::start(|c| {
        c.query_memory_limit = 64 << 20;
        c.query_max_response_bytes = 64 << 10;
        c.query_max_rows = 1000;
    })
    .await;
    let url = format!("http://{}/api/v1/query", a.r.http);
    let r = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&a.token)
        .json(&json!({ "sql": "SELECT value, repeat('y', 100) AS pad FROM range(900)" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.len() <= 64 << 10, "{} bytes", bytes.len());
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    let rows = body["rows"].as_array().unwrap();
    assert!(!rows.is_empty() && rows.len() < 900, "{} rows", rows.len());
    assert_eq!(body["truncated"], true);
    assert_eq!(body["truncated_by"], "bytes");
    assert_eq!(rows[0]["value"], 0);
    assert_eq!(rows[rows.len() - 1]["value"], rows.len() - 1);
    let (status, body) = a.query("SELECT value FROM range(5000)").await;
    assert_eq!(status, 200);
    assert_eq!(body["rows"].as_array().unwrap().len(), 1000);
    assert_eq!((&body["truncated"], &body["truncated_by"]), (&json!(true), &json!("rows")));
    let (_, body) = a.query("SELECT value FROM range(1000)").await;
    assert_eq!((&body["truncated"], &body["truncated_by"]), (&json!(false), &Value::Null));
    a.r.stop().await;
}

const CROSS_JOIN: &str = "SELECT count(*) AS n FROM range(1000000) a CROSS JOIN range(1000000) b";

/// Case 4: CPU-bound queries starved ingest (a publication failed after 20 s) and were answered
/// 408 long after their time limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_and_health_are_served_while_queries_saturate_their_threads() {
    let a = Arc::new(
        Analyst::start(|c| {
            c.query_timeout_secs = 3600;
            c.query_threads = 1;
            c.query_max_concurrent = 4;
            c.query_max_queued = 0;
        })
        .await,
    );
    let queries: Vec<_> = (0..4)
        .map(|_| {
            let a = a.clone();
            // Retried while the probes below hold a slot for a moment.
            tokio::spawn(async move {
                loop {
                    let answer = a.query(CROSS_JOIN).await;
                    if answer.0 != 429 {
                        return answer;
                    }
                }
            })
        })
        .collect();
    // All four are admitted when a fifth is refused as overloaded.
    for attempt in 0.. {
        assert!(attempt < 1000, "the four queries were never all admitted (a fifth was never refused)");
        let (status, body) = a.query("SELECT 1").await;
        if status == 429 {
            assert_eq!(body["error"], "overloaded", "{body}");
            assert!(body["message"].as_str().unwrap().contains("query_max_concurrent"), "{body}");
            break;
        }
        assert_eq!(status, 200, "{body}");
        assert!(queries.iter().all(|q| !q.is_finished()), "a cross join of 10^12 rows was answered");
        tokio::task::yield_now().await;
    }
    // While they hold every query slot: a publication is acknowledged, /health answers.
    let out = sdgx_agent::run(&a.r.agent("sms"), false).await.expect("the agent runs");
    let ack = out[0].sent.as_ref().expect("sent").as_ref().expect("acknowledged");
    assert!(!ack.duplicate);
    assert_eq!(a.health().await, 200);
    let e = a.flight_sql_rows("SELECT 1").await.expect_err("no slot over Flight SQL either");
    assert_eq!(e.code(), Code::ResourceExhausted, "{e}");
    assert!(queries.iter().all(|q| !q.is_finished()), "the queries were still running");
    // Their clients go away: the queries stop, and their slots come free.
    for q in queries {
        q.abort();
        let _ = q.await;
    }
    for attempt in 0.. {
        let (status, body) = a.query("SELECT 1").await;
        if status == 200 {
            break;
        }
        assert!(attempt < 200, "the abandoned queries still hold their slots: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Arc::into_inner(a).expect("the last reference").r.stop().await;
}

/// Case 4, cancellation: at the time limit the work stops, not only the reply. With one query
/// slot and no queue, the next query is admitted only once the cross join's task is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_limit_stops_the_work() {
    let a = Analyst::start(|c| {
        c.query_timeout_secs = 2;
        c.query_max_concurrent = 1;
        c.query_max_queued = 0;
    })
    .await;
    let (status, body) = a.query(CROSS_JOIN).await;
    assert_eq!(status, 408, "{body}");
    assert!(body["message"].as_str().unwrap().contains("query_timeout_secs"), "{body}");
    let (status, body) = a.query("SELECT 1 AS one").await;
    assert_eq!(status, 200, "the cross join still holds the only query slot: {body}");
    // Over Flight SQL: DeadlineExceeded while streaming, then the slot is free again.
    let e = a.flight_sql_rows(CROSS_JOIN).await.expect_err("stopped");
    assert_eq!(e.code(), Code::DeadlineExceeded, "{e}");
    assert_eq!(a.flight_sql_rows("SELECT 1 AS one").await.expect("the slot is free"), 1);
    a.r.stop().await;
}

/// Case 10a: resource exhaustion wrapped by DataFusion (a recursive CTE, a many-way join) was answered
/// 500 `internal`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrapped_resource_exhaustion_is_a_client_error() {
    let a = Analyst::start(|c| {
        c.query_memory_limit = 32 << 20;
        c.query_timeout_secs = 300;
    })
    .await;
    let doubling = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT t.n FROM t CROSS JOIN (VALUES (1), (2)) v(x)) SELECT count(*) FROM t";
    // Every row of a self join gathered into one array, which cannot spill.
    let joins = "SELECT array_agg(t0.value) AS a FROM range(3000) t0 CROSS JOIN range(3000) t1";
    for sql in [doubling, joins] {
        let (status, body) = a.query(sql).await;
        assert_eq!(status, 422, "{}: {body}", &sql[..60]);
        assert_eq!(body["error"], "resources_exhausted", "{body}");
    }
    let e = a.flight_sql_rows(doubling).await.expect_err("refused");
    assert_eq!(e.code(), Code::ResourceExhausted, "{e}");
    a.r.stop().await;
}
