//! Read replicas, as deployed: one writer and two `serve --read-only` replicas, real binaries
//! over mutual TLS, sharing one store on an S3-compatible server (moto's, from the project's
//! venv). One replica starts before the writer has created the table and waits for it. Each
//! replica follows the writer's commits (polled on `/health` with a deadline), answers the
//! figures and a Flight SQL query as the writer does, shows the writer's approval in its
//! official view, and refuses a publication, an approval and an upload, naming the store.

use std::path::Path;
use std::time::{Duration, Instant};

use sdgx_e2e::{binary, dashboard_session, pki, run, S3Server, Served};
use serde_json::Value;

/// The store URL every process shares.
const STORE: &str = "s3://sdgx/national/store";

/// The environment that puts a coordinator's store on `s3`.
fn on_s3(s3: &S3Server) -> Vec<(&'static str, String)> {
    vec![
        ("SDGX_STORE_URL", STORE.to_owned()),
        ("AWS_ENDPOINT", s3.endpoint.clone()),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "sdgx-test-key".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "sdgx-test-secret".to_owned()),
    ]
}

fn start(pki: &Path, data_dir: &Path, args: &[&str], env: &[(&'static str, String)]) -> Served {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Served::start_with(pki, data_dir, args, &env)
}

/// A token of `role` named `name`, added to the PKI's token file.
fn token(pki: &Path, role: &str, name: &str) -> String {
    let out = run(std::process::Command::new(binary("sdgx-coordinator"))
        .args(["token", "create", "--role", role, "--name", name, "--file"])
        .arg(pki.join("tokens.toml")));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// An HTTP request to `served`: (status, body as JSON, or as a string when it is not JSON).
async fn http(served: &Served, method: &str, path: &str, headers: &[(&str, String)], body: Option<(&str, String)>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(method.parse().unwrap(), format!("http://{}{path}", served.http));
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    if let Some((kind, b)) = body {
        req = req.header("content-type", kind).body(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn bearer(token: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Bearer {token}"))]
}

async fn health(served: &Served) -> Value {
    let (status, body) = http(served, "GET", "/health", &[], None).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until `replica` reports store version `version` (at most 30 s).
async fn reaches(replica: &Served, version: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = health(replica).await;
        if h["store_version"].as_u64() == Some(version) {
            return h;
        }
        assert!(Instant::now() < deadline, "the replica did not reach version {version}: {h}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every figure of both views, as `served` answers them.
async fn figures(served: &Served, reader: &str) -> Vec<(String, Value)> {
    let (_, list) = http(served, "GET", "/api/v1/figures", &bearer(reader), None).await;
    let mut out = Vec::new();
    for name in list["figures"].as_array().expect("figure names") {
        for view in ["official", "provisional"] {
            let path = format!("/api/v1/figures/{}?view={view}", name.as_str().unwrap());
            let (status, body) = http(served, "GET", &path, &bearer(reader), None).await;
            assert_eq!(status, 200, "{path}: {body}");
            out.push((path, body));
        }
    }
    out
}

/// A Flight SQL query on `served`'s analysts' port, in `view`: what the FlightInfo says it read,
/// and the rows.
async fn flight_sql(served: &Served, pki: &Path, reader: &str, view: &str, sql: &str) -> (Value, Vec<arrow::array::RecordBatch>) {
    let ca = std::fs::read(pki.join("ca.pem")).unwrap();
    let tls = tonic::transport::ClientTlsConfig::new().ca_certificate(tonic::transport::Certificate::from_pem(ca));
    let url = format!("https://localhost:{}", served.analyst_flight_port);
    let channel = tonic::transport::Endpoint::from_shared(url).unwrap().tls_config(tls).unwrap().connect().await.unwrap();
    let mut client = arrow_flight::sql::client::FlightSqlServiceClient::new(channel);
    client.handshake("analyst", reader).await.unwrap();
    client.set_header("x-sdgx-view", view);
    let info = client.execute(sql.into(), None).await.unwrap();
    let read: Value = serde_json::from_slice(&info.app_metadata).unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let batches = futures::TryStreamExt::try_collect::<Vec<_>>(client.do_get(ticket).await.unwrap()).await.unwrap();
    (read, batches)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_follow_the_writer_and_refuse_every_write() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let s3 = S3Server::start("sdgx");
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    let reader = pki(&pki_dir);
    let approver = token(&pki_dir, "approver", "nso");
    let agency = token(&pki_dir, "agency", "armstat");
    let env = on_s3(&s3);

    // The first replica starts before the writer (configured by the setting, not the flag): it
    // waits for the table, then listens.
    let early = std::thread::spawn({
        let (pki_dir, data, mut env) = (pki_dir.clone(), dir.path().join("replica-1"), env.clone());
        env.push(("SDGX_READ_ONLY", "true".to_owned()));
        env.push(("SDGX_FOLLOW_INTERVAL_MS", "100".to_owned()));
        move || start(&pki_dir, &data, &[], &env)
    });
    // Until the writer has created the table there is none in the bucket: the replica made none.
    // (Given two seconds, it looks for the table about twenty times.)
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && !early.is_finished() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!early.is_finished(), "the replica waits for the writer's table");
    assert!(s3.keys("sdgx", "national/store/").await.is_empty(), "a replica creates no table");
    let writer = start(&pki_dir, &dir.path().join("writer"), &[], &env);
    let first = early.join().unwrap();
    let second = start(&pki_dir, &dir.path().join("replica-2"), &["--read-only"], &env);
    let replicas = [&first, &second];

    let w = health(&writer).await;
    assert_eq!((w["role"].as_str(), w["store_version"].as_u64()), (Some("writer"), Some(0)), "{w}");
    for r in replicas {
        let h = reaches(r, 0).await;
        assert_eq!(h["role"], "replica", "{h}");
        assert_eq!(h["replica_of"], format!("{STORE}"), "{h}");
        assert_eq!(h["following"], true, "{h}");
    }

    // Two agencies publish to the writer: one commit per dataset.
    for a in ["sms", "cba"] {
        run(&mut writer.agent(a, a, &pki_dir, &dir.path().join(format!("outbox-{a}"))));
    }
    let (_, log) = http(&writer, "GET", "/api/v1/publications", &bearer(&reader), None).await;
    let published = log["publications"].as_array().unwrap().len() as u64;
    assert!(published >= 2, "{log}");
    let v = health(&writer).await["store_version"].as_u64().unwrap();
    assert_eq!(v, published, "one commit per publication after the table's creation");
    for r in replicas {
        reaches(r, v).await;
    }

    // The same figures, both views, and the same Flight SQL answer.
    let expected = figures(&writer, &reader).await;
    assert!(expected.iter().any(|(p, f)| p.contains("provisional") && f["store_version"] == v), "{expected:?}");
    for r in replicas {
        assert_eq!(figures(r, &reader).await, expected);
    }
    let sql = "SELECT agency, dataset, count(*) AS n, sum(obs_value) AS v FROM observations GROUP BY agency, dataset ORDER BY agency, dataset";
    let (read, rows) = flight_sql(&writer, &pki_dir, &reader, "provisional", sql).await;
    assert_eq!(read, serde_json::json!({"view": "provisional", "store_version": v}));
    let n: usize = rows.iter().map(|b| b.num_rows()).sum();
    assert!(n >= 2, "the two agencies' datasets: {rows:?}");
    for r in replicas {
        assert_eq!(flight_sql(r, &pki_dir, &reader, "provisional", sql).await, (read.clone(), rows.clone()));
    }
    // Nothing is approved yet: the official view has no publication, on every one.
    let count_sql = "SELECT count(*) AS n FROM publications";
    for s in [&writer, &first, &second] {
        let (_, b) = flight_sql(s, &pki_dir, &reader, "official", count_sql).await;
        assert_eq!(arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(b[0].column(0)).value(0), 0);
    }

    // The writer approves sms's publication: the replicas' official view shows it.
    let id = log["publications"][0]["publication_id"].as_str().unwrap().to_owned();
    let (status, body) = http(&writer, "POST", &format!("/api/v1/publications/{id}/approve"), &bearer(&approver), Some(("application/json", "{}".into()))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(health(&writer).await["store_version"], v + 1);
    let official = figures(&writer, &reader).await;
    for r in replicas {
        reaches(r, v + 1).await;
        assert_eq!(figures(r, &reader).await, official);
        let (read, b) = flight_sql(r, &pki_dir, &reader, "official", count_sql).await;
        assert_eq!(read, serde_json::json!({"view": "official", "store_version": v + 1}));
        assert_eq!(arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(b[0].column(0)).value(0), 1);
        let (_, log) = http(r, "GET", "/api/v1/publications", &bearer(&reader), None).await;
        assert_eq!(log["publications"][0]["sign_off"]["status"], "approved", "{log}");
    }

    // An approval with an embargo: the replicas follow it, and the publication stays out of
    // their official view until its release time; time travel reads the state before.
    let other = log["publications"][1]["publication_id"].as_str().unwrap().to_owned();
    let release = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (status, body) = http(&writer, "POST", &format!("/api/v1/publications/{other}/approve"), &bearer(&approver), Some(("application/json", serde_json::json!({"release_at": release}).to_string()))).await;
    assert_eq!(status, 200, "{body}");
    for r in replicas {
        reaches(r, v + 2).await;
        let (read, b) = flight_sql(r, &pki_dir, &reader, "official", count_sql).await;
        assert_eq!(read, serde_json::json!({"view": "official", "store_version": v + 2}));
        assert_eq!(arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(b[0].column(0)).value(0), 1, "embargoed until {release}");
        let (_, log) = http(r, "GET", "/api/v1/publications", &bearer(&reader), None).await;
        assert_eq!(log["publications"][1]["sign_off"]["status"], "approved", "{log}");
        let (status, before) = http(r, "POST", "/api/v1/query", &bearer(&reader), Some(("application/json", serde_json::json!({"sql": count_sql, "as_of": v}).to_string()))).await;
        assert_eq!(status, 200, "{before}");
        assert_eq!(before["store_version"], v, "{before}");
        assert_eq!(before["rows"], serde_json::json!([{"n": 0}]), "{before}");
    }

    // A replica refuses every write, naming the store and the writer.
    let refusal = format!("this coordinator is a read-only replica of {STORE}; send it to the writer");
    for r in replicas {
        // A publication (over the agents' port, with a valid certificate).
        let out = r.agent("moes", "moes", &pki_dir, &dir.path().join("outbox-moes-replica")).output().unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!out.status.success() && said.contains(&refusal), "{said}");
        // An approval, by an approver.
        let (status, body) = http(r, "POST", &format!("/api/v1/publications/{other}/approve"), &bearer(&approver), Some(("application/json", "{}".into()))).await;
        assert_eq!((status, body["error"].as_str(), body["message"].as_str()), (403, Some("read_only_replica"), Some(refusal.as_str())), "{body}");
        // An upload, by an agency: the page has no form, and a check is refused before it is read.
        let cookie = vec![("cookie", dashboard_session(&format!("http://{}", r.http), &agency).await)];
        let (status, page) = http(r, "GET", "/dashboard/upload", &cookie, None).await;
        let page = page.as_str().unwrap().to_owned();
        assert_eq!(status, 200);
        assert!(page.contains("read-only replica") && !page.contains("action=\"/dashboard/upload/check\""), "{page}");
        let form = "--b\r\nContent-Disposition: form-data; name=\"data\"; filename=\"d.csv\"\r\n\r\nindicator\r\n--b--\r\n".to_owned();
        let (status, page) = http(r, "POST", "/dashboard/upload/check", &cookie, Some(("multipart/form-data; boundary=b", form))).await;
        assert_eq!(status, 403, "{page}");
        assert!(page.as_str().unwrap().contains("read-only replica of"), "{page}");
        // The review page shows the evidence without the decision forms.
        let cookie = vec![("cookie", dashboard_session(&format!("http://{}", r.http), &approver).await)];
        let (status, page) = http(r, "GET", &format!("/dashboard/review/{other}"), &cookie, None).await;
        let page = page.as_str().unwrap().to_owned();
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("id=\"read-only\"") && !page.contains("class=\"decision\""), "{page}");
    }
    // None of it reached the store.
    assert_eq!(health(&writer).await["store_version"], v + 2);
    for r in replicas {
        assert_eq!(health(r).await["store_version"], v + 2);
    }
    let (_, page) = http(&writer, "GET", &format!("/dashboard/review/{other}"), &[("cookie", dashboard_session(&format!("http://{}", writer.http), &approver).await)], None).await;
    assert!(page.as_str().unwrap().contains("class=\"decision\""), "the writer shows the forms");
}
