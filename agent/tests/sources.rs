//! The database and URL sources against real servers: a PostgreSQL server started for the test
//! (Debian's package; `scripts/test.sh` installs it), and a small HTTP server on loopback. Each
//! feeds an indicator definition whose numbers are asserted, and each kind of failure gives an
//! error naming the source, its place and the cause.

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float64Type;
use sdgx_agent::compute::{self, ComputeConfig};
use sdgx_agent::sdc::SdcConfig;
use sdgx_agent::sources::{HttpFormat, SourceConfig, SourceKind};

/// A throwaway PostgreSQL cluster on 127.0.0.1, with password authentication over TCP.
struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

const PASSWORD: &str = "s3cret-reader";

impl Postgres {
    fn start() -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed (scripts/test.sh installs Debian's postgresql)")
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("a PostgreSQL version with initdb");
        // The server refuses to run as root: run it as the package's postgres user then.
        let as_postgres = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false);
        let dir = tempfile::Builder::new().prefix("sdgx-pg").tempdir().unwrap();
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        if as_postgres {
            let _ = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status();
        }
        // A free port: PostgreSQL cannot be told to pick one.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pg = Postgres { dir, bin, port, as_postgres };
        let data = pg.dir.path().join("data");
        pg.run("initdb", &["-D", data.to_str().unwrap(), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile", pwfile.to_str().unwrap()]);
        let opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1", port, pg.dir.path().display());
        pg.run("pg_ctl", &["-D", data.to_str().unwrap(), "-w", "-l", pg.dir.path().join("log").to_str().unwrap(), "-o", &opts, "start"]);
        pg
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let out = if self.as_postgres {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(&exe).args(args).output()
        } else {
            Command::new(&exe).args(args).output()
        }
        .unwrap();
        assert!(out.status.success(), "{tool}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }

    /// Runs SQL as the superuser over the Unix socket.
    fn sql(&self, sql: &str) {
        let sock = self.dir.path().to_str().unwrap().to_owned();
        self.run("psql", &["-h", &sock, "-p", &self.port.to_string(), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql]);
    }

    fn url(&self, user: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let exe = self.bin.join("pg_ctl");
        let args = ["-D", data.to_str().unwrap(), "-m", "immediate", "stop"];
        let _ = if self.as_postgres {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(&exe).args(args).output()
        } else {
            Command::new(&exe).args(args).output()
        };
    }
}

fn read(path: &Path) -> arrow::array::RecordBatch {
    let f = std::fs::File::open(path).unwrap();
    let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).unwrap().build().unwrap();
    let batches: Vec<_> = r.map(Result::unwrap).collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// `column=value` of every output row, sorted: (ref_area or migratory_status key, value).
fn values(out: &Path, key: &str) -> Vec<(String, Option<f64>)> {
    let b = read(out);
    let k = arrow::compute::cast(b.column(b.schema().index_of(key).unwrap()), &arrow::datatypes::DataType::Utf8).unwrap();
    let v = b.column(b.schema().index_of("obs_value").unwrap()).as_primitive::<Float64Type>().clone();
    let mut rows: Vec<(String, Option<f64>)> =
        (0..b.num_rows()).map(|i| (k.as_string::<i32>().value(i).to_owned(), v.is_valid(i).then(|| v.value(i)))).collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

fn definition(dir: &Path, sql: &str) -> ComputeConfig {
    let path = dir.join("def.sql");
    std::fs::write(&path, sql).unwrap();
    ComputeConfig { sql: path, sdc: SdcConfig::default() }
}

#[tokio::test]
async fn postgres_tables_and_queries_feed_a_definition_and_failures_are_named() {
    let pg = Postgres::start();
    pg.sql(&format!(
        "CREATE ROLE reader LOGIN PASSWORD '{PASSWORD}';
         CREATE SCHEMA health;
         CREATE TABLE health.visits (region text, sex char(1), migrant boolean, visits integer, cost numeric(10,2), day date);
         INSERT INTO health.visits
           SELECT CASE WHEN g % 3 = 0 THEN 'AM-ER' ELSE 'AM-SH' END, CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END,
                  g % 4 = 0, g, g * 1.5, DATE '2024-01-01' + g
           FROM generate_series(1, 120) g;
         CREATE SEQUENCE health.s;
         GRANT USAGE ON SCHEMA health TO reader;
         GRANT SELECT ON health.visits TO reader;
         GRANT USAGE, UPDATE ON health.s TO reader;"
    ));
    let tmp = tempfile::tempdir().unwrap();
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let source = |name: &str, user: &str, table: Option<&str>, query: Option<&str>| SourceConfig {
        name: name.into(),
        kind: SourceKind::Postgres { url: pg.url(user), password_file: Some(pw.clone()), table: table.map(Into::into), query: query.map(Into::into) },
    };
    let out = tmp.path().join("out.parquet");
    // Sum of visits by region over the table, cost (numeric) as a float, dates as text.
    let def = definition(
        tmp.path(),
        "SELECT '3.8.1' AS indicator, region AS ref_area, '2024' AS time_period,
                SUM(visits) + SUM(cost) / 1000 AS obs_value, 'NUMBER' AS unit_measure, COUNT(*) AS sdc_count
         FROM visits WHERE day >= '2024-01-01' GROUP BY region",
    );
    let c = compute::compute(&[source("visits", "reader", Some("health.visits"), None)], None, &def, &out).await.unwrap();
    assert_eq!(c.rows, 2);
    // By hand: AM-ER holds g = 3, 6, ..., 120 (40 rows): sum 2460, cost 3690 → 2463.69;
    // AM-SH the other 80: sum 7260 - 2460 = 4800, cost 7200 → 4807.2.
    let v = values(&out, "ref_area");
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].0, "AM-ER");
    assert!((v[0].1.unwrap() - 2463.69).abs() < 1e-9, "{v:?}");
    assert_eq!(v[1].0, "AM-SH");
    assert!((v[1].1.unwrap() - 4807.2).abs() < 1e-9, "{v:?}");
    // A query source: migrants' visits only, with a boolean filter done in PostgreSQL.
    let def = definition(
        tmp.path(),
        "SELECT '3.8.1' AS indicator, 'AM' AS ref_area, '2024' AS time_period, 'MS_MIGRANT' AS migratory_status,
                SUM(visits) AS obs_value, 'NUMBER' AS unit_measure, COUNT(*) AS sdc_count FROM m",
    );
    let q = "SELECT visits, migrant FROM health.visits WHERE migrant";
    compute::compute(&[source("m", "reader", None, Some(q))], None, &def, &out).await.unwrap();
    // g = 4, 8, ..., 120: 30 rows summing to 4 * 465 = 1860.
    assert_eq!(values(&out, "migratory_status"), vec![("MS_MIGRANT".to_owned(), Some(1860.0))]);

    // Failures, each naming the source and the connection (never the password).
    let fail = |s: SourceConfig| {
        let def = def.clone();
        let out = out.clone();
        async move { compute::compute(&[s], None, &def, &out).await.unwrap_err().to_string() }
    };
    let e = fail(source("m", "reader", Some("health.nope"), None)).await;
    assert!(e.contains("source \"m\"") && e.contains(&pg.url("reader")) && e.contains("relation \"health.nope\" does not exist"), "{e}");
    let mut wrong = source("m", "reader", Some("health.visits"), None);
    if let SourceKind::Postgres { password_file, .. } = &mut wrong.kind {
        let bad = tmp.path().join("bad-pw");
        std::fs::write(&bad, "wrong").unwrap();
        *password_file = Some(bad);
    }
    let e = fail(wrong).await;
    assert!(e.contains("source \"m\"") && e.contains("password authentication failed for user \"reader\""), "{e}");
    assert!(!e.contains(PASSWORD) && !e.contains("wrong"), "no password in errors: {e}");
    // Queries run read-only: even a side effect the role is allowed is refused...
    let e = fail(source("m", "reader", None, Some("SELECT nextval('health.s') AS n"))).await;
    assert!(e.contains("read-only transaction"), "queries run read-only: {e}");
    // ... and a statement that is not a query fails without touching the table.
    let e = fail(source("m", "reader", None, Some("DELETE FROM health.visits RETURNING visits"))).await;
    assert!(e.contains("source \"m\"") && e.contains("the query fails"), "{e}");
    compute::compute(&[source("visits", "reader", Some("health.visits"), None)], None, &definition(tmp.path(),
        "SELECT '3.8.1' AS indicator, 'AM' AS ref_area, '2024' AS time_period, CAST(COUNT(*) AS DOUBLE) AS obs_value,
                'NUMBER' AS unit_measure, COUNT(*) AS sdc_count FROM visits"), &out).await.unwrap();
    assert_eq!(values(&out, "ref_area"), vec![("AM".to_owned(), Some(120.0))], "all 120 rows are still there");
    let e = fail(source("m", "nobody", Some("health.visits"), None)).await;
    assert!(e.contains("password authentication failed for user \"nobody\""), "{e}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = SourceConfig {
        name: "m".into(),
        kind: SourceKind::Postgres { url: format!("postgres://reader@127.0.0.1:{closed}/postgres"), password_file: None, table: Some("t".into()), query: None },
    };
    let e = fail(unreachable).await;
    assert!(e.contains("source \"m\"") && e.contains(&format!("127.0.0.1:{closed}")) && e.contains("cannot connect"), "{e}");
    let e = fail(source("m", "reader", Some("health.visits"), Some("SELECT 1"))).await;
    assert!(e.contains("set exactly one of table and query"), "{e}");
}

/// A loopback HTTP server answering each path with a fixed (status, content type, body).
async fn http_server(routes: Vec<(&'static str, u16, &'static str, String)>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let routes = routes.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, ctype, body) = routes
                    .iter()
                    .find(|r| r.0 == path)
                    .map(|r| (r.1, r.2, r.3.clone()))
                    .unwrap_or((404, "text/plain", "not found".into()));
                let reason = if status == 200 { "OK" } else { "Not Found" };
                let resp = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn http_csv_and_json_sources_feed_a_definition_and_failures_are_named() {
    let csv = "region,applications\nAM-ER,12\nAM-SH,30\nAM-ER,8\n".to_owned();
    let json = r#"[{"region": "AM-ER", "applications": 12}, {"region": "AM-SH", "applications": 30}, {"region": "AM-ER", "applications": 8}]"#.to_owned();
    let ndjson = "{\"region\": \"AM-ER\", \"applications\": 12}\n{\"region\": \"AM-SH\", \"applications\": 30}\n{\"region\": \"AM-ER\", \"applications\": 8}\n".to_owned();
    let broken = "{\"region\": \"AM-ER\", \"applications\": 12}\n{\"region\": \"AM-SH\", \"applications\": }\n".to_owned();
    let addr = http_server(vec![
        ("/apps.csv", 200, "text/csv", csv),
        ("/apps", 200, "application/json", json),
        ("/apps.ndjson", 200, "application/x-ndjson", ndjson),
        ("/broken", 200, "application/json", broken),
        ("/plain", 200, "text/plain", "a,b\n1,2\n".into()),
    ])
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.parquet");
    let def = definition(
        tmp.path(),
        "SELECT '10.7.2' AS indicator, region AS ref_area, '2024' AS time_period, CAST(SUM(applications) AS DOUBLE) AS obs_value,
                'NUMBER' AS unit_measure, COUNT(*) * 10 AS sdc_count FROM apps GROUP BY region",
    );
    let http = |path: &str, format: Option<HttpFormat>| SourceConfig {
        name: "apps".into(),
        kind: SourceKind::Http { url: format!("http://{addr}{path}"), format, token_file: None, ca: None },
    };
    for path in ["/apps.csv", "/apps", "/apps.ndjson"] {
        compute::compute(&[http(path, None)], None, &def, &out).await.unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(values(&out, "ref_area"), vec![("AM-ER".into(), Some(20.0)), ("AM-SH".into(), Some(30.0))], "{path}");
    }
    // A declared format wins over an unhelpful Content-Type; without one, the agent asks.
    let e = compute::compute(&[http("/plain", None)], None, &def, &out).await.unwrap_err().to_string();
    assert!(e.contains("source \"apps\"") && e.contains("/plain") && e.contains("set format"), "{e}");
    let fail = |s: SourceConfig| {
        let (def, out) = (def.clone(), out.clone());
        async move { compute::compute(&[s], None, &def, &out).await.unwrap_err().to_string() }
    };
    let e = fail(http("/missing.csv", None)).await;
    assert!(e.contains("source \"apps\"") && e.contains(&format!("http://{addr}/missing.csv")) && e.contains("HTTP 404"), "{e}");
    let e = fail(http("/broken", Some(HttpFormat::Json))).await;
    assert!(e.contains("source \"apps\"") && e.contains("/broken") && e.contains("malformed JSON at line 2"), "{e}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = fail(SourceConfig {
        name: "apps".into(),
        kind: SourceKind::Http { url: format!("http://127.0.0.1:{closed}/apps.csv"), format: None, token_file: None, ca: None },
    })
    .await;
    assert!(e.contains("source \"apps\"") && e.contains("unreachable"), "{e}");
}

/// (time_period, sex, migratory_status) → value of a computed output.
fn cells(out: &Path) -> std::collections::BTreeMap<(String, String, String), Option<f64>> {
    let b = read(out);
    let s = |n: &str| arrow::compute::cast(b.column(b.schema().index_of(n).unwrap()), &arrow::datatypes::DataType::Utf8).unwrap();
    let (t, sex, ms) = (s("time_period"), s("sex"), s("migratory_status"));
    let v = b.column(b.schema().index_of("obs_value").unwrap()).as_primitive::<Float64Type>().clone();
    (0..b.num_rows())
        .map(|i| {
            let k = |a: &arrow::array::ArrayRef| a.as_string::<i32>().value(i).to_owned();
            ((k(&t), k(&sex), k(&ms)), v.is_valid(i).then(|| v.value(i)))
        })
        .collect()
}

#[tokio::test]
async fn the_health_ministrys_dhis2_definition_runs_against_postgresql() {
    let pg = Postgres::start();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/federation/moh/dhis2/seed.sql");
    let sock = pg.dir.path().to_str().unwrap().to_owned();
    let seed_copy = pg.dir.path().join("seed.sql");
    std::fs::copy(&seed, &seed_copy).unwrap();
    pg.run("psql", &["-h", &sock, "-p", &pg.port.to_string(), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-f", seed_copy.to_str().unwrap()]);
    pg.sql(&format!(
        "CREATE ROLE sdgx_reader LOGIN PASSWORD '{PASSWORD}'; GRANT USAGE ON SCHEMA analytics TO sdgx_reader;
         GRANT SELECT ON analytics.hiv_new_cases TO sdgx_reader;"
    ));
    let tmp = tempfile::tempdir().unwrap();
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, PASSWORD).unwrap();
    let mut cfg = sdgx_agent::Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/federation/moh/agent-dhis2.toml")).unwrap();
    cfg.outbox = tmp.path().join("outbox");
    cfg.datasets[0].source = tmp.path().join("hiv-incidence.parquet");
    let SourceKind::Postgres { url, password_file, .. } = &mut cfg.sources[0].kind else { panic!("a postgres source") };
    *url = pg.url("sdgx_reader");
    *password_file = Some(pw);
    // The dry run computes, protects and validates against the national contract.
    let out = sdgx_agent::run(&cfg, true).await.unwrap();
    let computed = out[0].computed.as_ref().expect("computed");
    assert_eq!((computed.rows, computed.suppressed.len()), (15, 0), "3 years x (total, 2 sexes, 2 statuses); every cell has >= 5 cases");
    let summary = &out[0].checked.as_ref().unwrap_or_else(|e| panic!("{e}")).summary;
    assert_eq!(summary.rows, 15);
    // By hand from the seed's formula, 2021: migrants 24 cases / 120,000 = 0.20 per 1,000;
    // non-migrants 21 / 300,000 = 0.07; all 45 / 420,000 = 0.107 → 0.11; women 23 / 210,000 = 0.11.
    // 2022: migrants 21 / 123,000 = 0.171 → 0.17; non-migrants 25 / 303,000 = 0.083 → 0.08.
    let c = cells(&cfg.datasets[0].source);
    let at = |t: &str, sex: &str, ms: &str| c[&(t.to_owned(), sex.to_owned(), ms.to_owned())].unwrap();
    assert_eq!(at("2021", "_T", "MS_MIGRANT"), 0.2);
    assert_eq!(at("2021", "_T", "MS_NOMIGRANT"), 0.07);
    assert_eq!(at("2021", "_T", "_T"), 0.11);
    assert_eq!(at("2021", "F", "_T"), 0.11);
    assert_eq!(at("2022", "_T", "MS_MIGRANT"), 0.17);
    assert_eq!(at("2022", "_T", "MS_NOMIGRANT"), 0.08);
}
