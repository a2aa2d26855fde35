//! Flight SQL interop: the ADBC Flight SQL driver and pyarrow.flight (from the project's venv,
//! nobody here wrote them) authenticate, list tables, run a parameterised prepared statement
//! (with `$1` and with `?`, DB-API's qmark style), get a result's schema without running it
//! (GetSchema), list the tables as flights and read one (ListFlights), read the SQL types' XDBC
//! codes (GetXdbcTypeInfo, and the `xdbc_*` columns of ADBC's GetObjects), read a result of more
//! than a million rows, get a clean error on bad SQL, and read the store as it was with the
//! `x-sdgx-as-of` header, over TLS as deployed (agents publish over mutual TLS). The values they
//! saw are asserted here.

use sdgx_coordinator::catalog::Read;
use sdgx_coordinator::signoff::View;
use std::process::Command;

use arrow::array::AsArray;
use arrow::datatypes::{Float64Type, Int64Type};
use sdgx_coordinator::auth::{Role, Tokens};
use sdgx_coordinator::figures::Window;
use sdgx_e2e::{python, root, Running};
use serde_json::Value;

fn interop(client: &str, uri: &str, token: &str, k: i64, ca: &std::path::Path) -> Value {
    let out = Command::new(python())
        .arg(root().join("tests/py/flightsql_interop.py"))
        .args([client, uri, token, &k.to_string()])
        .arg(ca)
        .output()
        .expect("run the interop script");
    assert!(out.status.success(), "{client}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{client}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adbc_and_pyarrow_speak_flight_sql_to_the_analysts_port() {
    let (token, entry) = Tokens::create("analyst", Role::Reader);
    let r = Running::start_mtls(|c| {
        c.security.tokens = vec![entry];
        c.query_timeout_secs = 600;
    })
    .await;
    r.publish_all().await;
    // The statistical office approves everything: analysts read the official view by default.
    for p in r.catalog.store().publications().await {
        let approve = sdgx_coordinator::signoff::Request::default();
        r.catalog.store().decide(&p.publication_id, sdgx_coordinator::signoff::Action::Approve, "nso", &approve, chrono::Utc::now()).await.unwrap();
    }
    let uri = format!("grpc+tls://localhost:{}", r.analyst_flight.unwrap().port());
    let ca = r.pki.as_ref().unwrap().join("ca.pem");

    // Expected values, from the store through the in-process catalog.
    let s = r.catalog.session(&r.catalog.pin(&Read::current(View::Provisional)).await.unwrap(), Window::default()).await.unwrap();
    let one = |sql: &str| {
        let ctx = s.ctx.clone();
        let sql = sql.to_owned();
        async move { ctx.sql(&sql).await.unwrap().collect().await.unwrap() }
    };
    let b = one("SELECT count(*) AS n, sum(obs_value) AS v FROM observations").await;
    let n = b[0].column(0).as_primitive::<Int64Type>().value(0);
    let sum_value = b[0].column(1).as_primitive::<Float64Type>().value(0);
    assert_eq!(n, 171, "the example federation's 171 observations");
    let k = 1_000_000 / n + 1;
    let first = r.catalog.store().publications().await[0].clone();
    assert_eq!(first.store_version, 1);

    for client in ["pyarrow", "adbc"] {
        let v = interop(client, &uri, &token, k, &ca);
        // Authentication: a wrong token is refused, the right one works.
        let bad = v["bad_token"].as_str().unwrap();
        assert!(bad.contains("Unauthenticated") || bad.contains("UNAUTHENTICATED") || bad.contains("token"), "{client}: {bad}");
        // Listing tables: the documented tables and a figure view, with their schemas.
        let tables: Vec<&str> = v["tables"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        for t in ["sdgx.public.observations", "sdgx.public.indicators", "sdgx.public.publications", "sdgx.public.agencies", "sdgx.public.migration_disaggregation_share", "sdgx.store.observations"] {
            assert!(tables.contains(&t), "{client}: {t} missing from {tables:?}");
        }
        let cols: Vec<&str> = v["observations_columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        assert_eq!(cols.len(), 27 + 3 + 1, "{client}: {cols:?}");
        assert_eq!(cols[..3], ["indicator", "series", "ref_area"], "{client}");
        assert_eq!(cols[27..], ["agency", "dataset", "publication_id", "store_version"], "{client}");
        // The prepared statement, bound to two agencies: cba publishes 3 rows each of 10.c.1 and
        // 17.3.2; moh 3 of 3.1.1, 9 of 3.3.1 and 3 of 3.8.1 (examples/federation/*/).
        assert_eq!(v["param_cba"], serde_json::json!([["10.c.1", 3], ["17.3.2", 3]]), "{client}");
        assert_eq!(v["param_moh"], serde_json::json!([["3.1.1", 3], ["3.3.1", 9], ["3.8.1", 3]]), "{client}");
        // `?` placeholders bind by position as `$1` does.
        assert_eq!(v["qmark_cba"], v["param_cba"], "{client}");
        // GetSchema: the statement's result schema, planned, not run.
        assert_eq!(v["schema_only"], serde_json::json!(["indicator", "n"]), "{client}");
        match client {
            "adbc" => adbc_checks(&v),
            _ => pyarrow_checks(&v, n),
        }
        // More than a million rows, all of them, with the right values.
        let big = &v["big"];
        assert_eq!(big["rows"].as_i64().unwrap(), n * k, "{client}");
        assert!(n * k > 1_000_000);
        assert_eq!(big["sum_k"].as_i64().unwrap(), n * k * (k + 1) / 2, "{client}");
        let got = big["sum_value"].as_f64().unwrap();
        assert!((got - sum_value * k as f64).abs() <= 1e-6 * got.abs().max(1.0), "{client}: {got} vs {}", sum_value * k as f64);
        // Bad SQL: a clean InvalidArgument with DataFusion's message.
        let bad_sql = v["bad_sql"].as_str().unwrap();
        assert!(bad_sql.contains("no_such_column"), "{client}: {bad_sql}");
        assert!(bad_sql.contains("InvalidArgument") || bad_sql.contains("INVALID_ARGUMENT") || v["bad_sql_status"] == "ArrowInvalid", "{client}: {v}");
        // Time travel: at store version 1 only the first publication's rows.
        assert_eq!(v["count_as_of_1"].as_i64().unwrap(), first.rows as i64, "{client}");
    }
    r.stop().await;
}

/// What only the ADBC driver reports: the DB-API paramstyle, and the `xdbc_*` columns of
/// GetObjects. The driver (adbc-driver-flightsql 1.13) takes `xdbc_type_name`, the scope
/// columns and `xdbc_is_autoincrement` from the Flight SQL column metadata of GetTables'
/// schemas (all null without it), and derives `xdbc_data_type` and `xdbc_sql_data_type` from
/// the Arrow type itself (`DOUBLE` as its `XDBC_FLOAT`, 6); it leaves the sizes null.
fn adbc_checks(v: &Value) {
    assert_eq!(v["paramstyle"], "qmark");
    let x = &v["xdbc"];
    // (column, type name, XDBC data type as the driver derives it): VARCHAR 12, FLOAT 6,
    // INTEGER 4, BIGINT -5, as FlightSql.proto's XdbcDataType numbers them.
    for (column, name, code) in [("indicator", "VARCHAR", 12), ("obs_value", "DOUBLE", 6), ("unit_mult", "INTEGER", 4), ("store_version", "BIGINT", -5)] {
        let c = &x[column];
        assert_eq!(c["xdbc_type_name"].as_str(), Some(name), "{column}: {x}");
        assert_eq!(c["xdbc_data_type"].as_i64(), Some(code), "{column}: {x}");
        assert_eq!(c["xdbc_sql_data_type"].as_i64(), Some(code), "{column}: {x}");
        assert_eq!(c["xdbc_scope_catalog"], "sdgx", "{column}: {x}");
        assert_eq!(c["xdbc_scope_schema"], "public", "{column}: {x}");
        assert_eq!(c["xdbc_scope_table"], "observations", "{column}: {x}");
        assert_eq!(c["xdbc_is_autoincrement"], false, "{column}: {x}");
    }
}

/// What only pyarrow is asked here: the prepared statement's parameter schema for `?`, GetSchema
/// of a prepared statement and of a metadata command, ListFlights, GetXdbcTypeInfo and the
/// Flight SQL column metadata; GetSchema and ListFlights refused without a token.
fn pyarrow_checks(v: &Value, n: i64) {
    // The agency column is dictionary-encoded in the store; its parameter is announced as text.
    assert_eq!(v["qmark_param_schema"], serde_json::json!([["$1", "string"]]), "{v}");
    assert_eq!(v["schema_prepared"], serde_json::json!(["indicator", "n"]), "{v}");
    assert_eq!(v["schema_xdbc_type_info"], serde_json::json!(["type_name", "data_type", "column_size"]), "{v}");
    for refused in ["schema_unauthenticated", "flights_unauthenticated"] {
        let e = v[refused].as_str().unwrap();
        assert!(e.contains("Unauthenticated") || e.contains("UNAUTHENTICATED") || e.contains("token"), "{refused}: {e}");
    }
    let flights: Vec<&str> = v["flights"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    for t in ["public\".\"observations", "public\".\"indicators", "public\".\"migration_disaggregation_share", "store\".\"observations"] {
        let q = format!("SELECT * FROM \"sdgx\".\"{t}\"");
        assert!(flights.contains(&q.as_str()), "{q} missing from {flights:?}");
    }
    let obs = &v["flight_observations"];
    assert_eq!(obs["rows"].as_i64(), Some(n), "{obs}");
    assert_eq!(obs["schema_matches"], true, "the listed schema is the one the rows come with: {obs}");
    assert_eq!(obs["app_metadata"]["view"], "official", "{obs}");
    // GetXdbcTypeInfo: concise and verbose codes (dates: XDBC_DATE 91, XDBC_DATETIME 9, subcode 1).
    let t = &v["xdbc_type_info"];
    for (name, code, sql_code, subcode, size, radix) in [
        ("BIGINT", -5, -5, None, Some(19), Some(10)),
        ("DOUBLE", 8, 8, None, Some(53), Some(2)),
        ("VARCHAR", 12, 12, None, None, None),
        ("DATE", 91, 9, Some(1), Some(10), None),
        ("TIMESTAMP", 93, 9, Some(3), Some(29), None),
    ] {
        let r = &t[name];
        assert_eq!(r["data_type"].as_i64(), Some(code), "{name}: {t}");
        assert_eq!(r["sql_data_type"].as_i64(), Some(sql_code), "{name}: {t}");
        assert_eq!(r["datetime_subcode"].as_i64(), subcode, "{name}: {t}");
        assert_eq!(r["column_size"].as_i64(), size, "{name}: {t}");
        assert_eq!(r["num_prec_radix"].as_i64(), radix, "{name}: {t}");
    }
    assert_eq!(t["VARCHAR"]["literal_prefix"], "'");
    // The Flight SQL column metadata of GetTables' schemas.
    let m = &v["column_metadata"];
    assert_eq!(m["obs_value"]["ARROW:FLIGHT:SQL:TYPE_NAME"], "DOUBLE", "{m}");
    assert_eq!(m["obs_value"]["ARROW:FLIGHT:SQL:PRECISION"], "53", "{m}");
    assert_eq!(m["obs_value"]["ARROW:FLIGHT:SQL:TABLE_NAME"], "observations", "{m}");
    assert_eq!(m["obs_value"]["ARROW:FLIGHT:SQL:DB_SCHEMA_NAME"], "public", "{m}");
    assert_eq!(m["obs_value"]["ARROW:FLIGHT:SQL:CATALOG_NAME"], "sdgx", "{m}");
    assert_eq!(m["obs_value"]["ARROW:FLIGHT:SQL:IS_READ_ONLY"], "1", "{m}");
    assert_eq!(m["unit_mult"]["ARROW:FLIGHT:SQL:TYPE_NAME"], "INTEGER", "{m}");
    assert_eq!(m["indicator"]["ARROW:FLIGHT:SQL:TYPE_NAME"], "VARCHAR", "{m}");
    assert_eq!(m["indicator"]["ARROW:FLIGHT:SQL:IS_CASE_SENSITIVE"], "1", "{m}");
    assert!(m["indicator"].get("ARROW:FLIGHT:SQL:PRECISION").is_none(), "text has no declared size: {m}");
}
