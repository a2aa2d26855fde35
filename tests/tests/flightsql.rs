//! Flight SQL interop: the ADBC Flight SQL driver and pyarrow.flight (from the project's venv,
//! nobody here wrote them) authenticate, list tables, run a parameterised prepared statement,
//! read a result of more than a million rows, get a clean error on bad SQL, and read the store
//! as it was with the `x-sdgx-as-of` header, over TLS as deployed (agents publish over mutual
//! TLS). The values they saw are asserted here.

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
