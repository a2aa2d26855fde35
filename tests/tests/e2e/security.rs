//! Trust: the authorization matrix, mutual-TLS refusals, SQL-sandbox escapes and the audit of
//! a tampered store, against an in-process coordinator with mutual TLS on 127.0.0.1:0.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sdgx_coordinator::{Config, Coordinator};
use sdgx_e2e::root;

struct Fixture {
    dir: tempfile::TempDir,
    pki: PathBuf,
    flight_port: u16,
    analyst_port: u16,
    http: String,
    reader: String,
    admin: String,
    /// The statistical office's approver (`nso`).
    approver: String,
    /// An approver token whose name is an agency's (`sms`): it may not decide on sms's
    /// publications.
    sms_approver: String,
    /// An agency token (role `agency`, named `sms`).
    sms_token: String,
    catalog: Arc<sdgx_coordinator::catalog::Catalog>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Fixture {
    /// A coordinator with mutual TLS, a reader and an admin token; `revoked` lists the agencies
    /// whose certificates are revoked.
    async fn start(revoked: &[&str]) -> Fixture {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("pki");
        sdgx_coordinator::pki::init(&pki, &["localhost".into()], 30).unwrap();
        for a in ["sms", "labour"] {
            sdgx_coordinator::pki::issue_agent(&pki, a, 30).unwrap();
        }
        let mut config = Config::load(Some(&root().join("examples/federation/coordinator.toml"))).unwrap();
        config.data_dir = dir.path().to_owned();
        config.flight_addr = "127.0.0.1:0".parse().unwrap();
        config.http_addr = "127.0.0.1:0".parse().unwrap();
        config.analyst_flight_addr = Some("127.0.0.1:0".parse().unwrap());
        config.query_memory_limit = 64 << 20;
        config.query_timeout_secs = 20;
        let tls = config.security.tls.as_mut().unwrap();
        (tls.cert, tls.key, tls.client_ca) = (pki.join("server.pem"), pki.join("server.key"), pki.join("ca.pem"));
        tls.revoked = revoked.iter().map(|a| fingerprint(&pki.join(format!("agents/{a}.pem")))).collect();
        config.security.signing = Some(sdgx_coordinator::config::SigningConfig { cert: pki.join("signing.pem"), key: pki.join("signing.key") });
        let (reader, r) = sdgx_coordinator::auth::Tokens::create("ana", sdgx_coordinator::auth::Role::Reader);
        let (admin, a) = sdgx_coordinator::auth::Tokens::create("root", sdgx_coordinator::auth::Role::Admin);
        let (approver, ap) = sdgx_coordinator::auth::Tokens::create("nso", sdgx_coordinator::auth::Role::Approver);
        let (sms_approver, sa) = sdgx_coordinator::auth::Tokens::create("sms", sdgx_coordinator::auth::Role::Approver);
        let (sms_token, st) = sdgx_coordinator::auth::Tokens::create("sms", sdgx_coordinator::auth::Role::Agency);
        config.security.token_file = None;
        config.security.tokens = vec![r, a, ap, sa, st];
        let c = Coordinator::build(config).await.unwrap();
        let (flight_port, http) = (c.flight_addr().port(), c.http_addr().to_string());
        let analyst_port = c.analyst_flight_addr().unwrap().port();
        let catalog = c.catalog();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(c.run(async { let _ = rx.await; }));
        Fixture { dir, pki, flight_port, analyst_port, http, reader, admin, approver, sms_approver, sms_token, catalog, stop: Some(tx) }
    }

    /// Publishes `agency`'s example dataset, connecting with `cert` (an agency's certificate
    /// files, or none), over TLS unless `plaintext`.
    async fn publish(&self, agency: &str, cert: Option<(PathBuf, PathBuf)>, plaintext: bool) -> Result<(), String> {
        let mut c = sdgx_agent::Config::load(&root().join(format!("examples/federation/{agency}/agent.toml"))).unwrap();
        let scheme = if plaintext { "http" } else { "https" };
        c.coordinator = format!("{scheme}://localhost:{}", self.flight_port);
        // A fresh outbox per attempt, tried once: each case is judged on its own connection.
        static ATTEMPT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        c.outbox = self.dir.path().join(format!("outbox-{}", ATTEMPT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
        c.delivery.publish_retry_secs = 0;
        c.tls = match (cert, plaintext) {
            (_, true) => None,
            (Some((cert, key)), false) => Some(sdgx_agent::config::TlsConfig { ca: self.pki.join("ca.pem"), cert, key, domain: None }),
            (None, false) => None,
        };
        if c.tls.is_none() && !plaintext {
            // TLS without a client certificate: connect with only the CA.
            return self.publish_without_client_cert(&c).await;
        }
        let out = sdgx_agent::run(&c, false).await.map_err(|e| e.to_string())?;
        match out[0].sent.as_ref().unwrap() {
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn publish_without_client_cert(&self, c: &sdgx_agent::Config) -> Result<(), String> {
        let ca = std::fs::read(self.pki.join("ca.pem")).unwrap();
        let tls = tonic::transport::ClientTlsConfig::new().ca_certificate(tonic::transport::Certificate::from_pem(ca));
        let endpoint = tonic::transport::Endpoint::from_shared(c.coordinator.clone()).unwrap().tls_config(tls).unwrap();
        let channel = endpoint.connect().await.map_err(|e| format!("connect: {e}"))?;
        let mut client = arrow_flight::FlightClient::new(channel);
        let contract = Arc::new(sdgx_agent::contract(c).unwrap());
        let d = &c.datasets[0];
        let p = sdgx_agent::publish::check(&contract, d, &c.agency, 1000, 10, None).unwrap();
        let up = sdgx_agent::publish::Upload { manifest: &p.manifest, data: &d.source, format: d.format().unwrap(), rows: p.summary.rows, framework: None, signature: None, known_head: None };
        sdgx_agent::publish::send(&mut client, &c.coordinator, contract, up, 1000).await.map(|_| ()).map_err(|e| e.to_string())
    }

    fn cert(&self, agency: &str) -> Option<(PathBuf, PathBuf)> {
        Some((self.pki.join(format!("agents/{agency}.pem")), self.pki.join(format!("agents/{agency}.key"))))
    }

    async fn http(&self, method: &str, path: &str, token: Option<&str>, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
        let client = reqwest::Client::new();
        let url = format!("http://{}{path}", self.http);
        let mut req = if method == "POST" { client.post(url) } else { client.get(url) };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    async fn version(&self) -> i64 {
        self.catalog.store().version().await
    }

    fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
    }
}

fn fingerprint(pem: &Path) -> String {
    sdgx_coordinator::pki::fingerprint_pem(pem).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix() {
    let f = Fixture::start(&[]).await;
    // Operations: publish own dataset, publish another agency's, query, read figures, admin,
    // the review queue, and deciding on a publication (approve, return, un-approve).
    // Roles: agency A = sms, agency B = labour (certificates, no token) first, so publications
    // exist; then anonymous, reader, approver, admin, an agency token and an approver token
    // named after agency sms (tokens, no certificate).
    let q = Some(serde_json::json!({ "sql": "SELECT count(*) AS n FROM observations" }));
    let mut table = Vec::new();
    for role in ["agency sms", "agency labour", "anonymous", "reader", "approver", "admin", "agency token sms", "approver named sms"] {
        let (token, cert, own, other) = match role {
            "reader" => (Some(f.reader.as_str()), None, "sms", "labour"),
            "approver" => (Some(f.approver.as_str()), None, "sms", "labour"),
            "admin" => (Some(f.admin.as_str()), None, "sms", "labour"),
            "agency token sms" => (Some(f.sms_token.as_str()), None, "sms", "labour"),
            "approver named sms" => (Some(f.sms_approver.as_str()), None, "sms", "labour"),
            "agency sms" => (None, f.cert("sms"), "sms", "labour"),
            "agency labour" => (None, f.cert("labour"), "labour", "sms"),
            _ => (None, None, "sms", "labour"),
        };
        let before = f.version().await;
        let own_ok = f.publish(own, cert.clone(), false).await.is_ok();
        let other = f.publish(other, cert.clone(), false).await;
        let query = f.http("POST", "/api/v1/query", token, q.clone()).await.0 == 200;
        let figures = f.http("GET", "/api/v1/figures/reporting-status", token, None).await.0 == 200;
        let admin = f.http("GET", "/api/v1/admin/audit", token, None).await.0 == 200;
        let review = f.http("GET", "/api/v1/review", token, None).await.0 == 200;
        // Each decision on sms's current publication: authorized when it is taken (200) or
        // refused for the publication's status (409), never 401 or 403.
        let mut decide = Vec::new();
        for (action, body) in [("return", serde_json::json!({"reason": "matrix"})), ("approve", serde_json::json!({})), ("unapprove", serde_json::json!({"reason": "matrix"}))] {
            let id = f.catalog.store().current("sms", "asylum-decisions").await.map(|e| e.publication_id).unwrap_or_default();
            let status = f.http("POST", &format!("/api/v1/publications/{id}/{action}"), token, Some(body)).await.0;
            decide.push(matches!(status, 200 | 409));
        }
        if !own_ok && !decide.iter().any(|d| *d) {
            assert_eq!(f.version().await, before, "{role}: a denied publication or decision stores nothing");
        }
        table.push((role, [own_ok, other.is_ok(), query, figures, admin, review, decide.iter().all(|d| *d)]));
    }
    let expected = [
        ("agency sms", [true, false, false, false, false, false, false]),
        ("agency labour", [true, false, false, false, false, false, false]),
        ("anonymous", [false, false, false, false, false, false, false]),
        ("reader", [false, false, true, true, false, false, false]),
        ("approver", [false, false, true, true, false, true, true]),
        ("admin", [false, false, true, true, true, false, false]),
        ("agency token sms", [false, false, false, false, false, false, false]),
        // May review, and decide on others' publications, never on its own agency's.
        ("approver named sms", [false, false, true, true, false, true, false]),
    ];
    assert_eq!(table, expected, "allowed cells: publish own, publish other's, query, figures, admin, review, decide");
    let labour = f.catalog.store().current("labour", "labour-market").await.unwrap().publication_id;
    let (status, d) = f.http("POST", &format!("/api/v1/publications/{labour}/approve"), Some(&f.sms_approver), Some(serde_json::json!({}))).await;
    assert_eq!((status, d["by"].as_str()), (200, Some("sms")), "the approver named sms decides on labour's publication: {d}");
    let sms = f.catalog.store().current("sms", "asylum-decisions").await.unwrap().publication_id;
    let (status, e) = f.http("POST", &format!("/api/v1/publications/{sms}/approve"), Some(&f.sms_approver), Some(serde_json::json!({}))).await;
    assert_eq!(status, 403, "{e}");
    assert!(e.to_string().contains("never approves its own publication"), "{e}");
    let report = sdgx_coordinator::audit::verify(&f.catalog).await.unwrap();
    assert!(report.first_mismatch.is_none(), "every decision of the matrix verifies: {report}");
    f.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_refuses_forged_self_signed_expired_revoked_and_plaintext() {
    let f = Fixture::start(&["labour"]).await;
    // A certificate for sms publishing labour's dataset.
    let e = f.publish("labour", f.cert("sms"), false).await.unwrap_err();
    assert!(e.contains("PermissionDenied") && e.contains("may not publish as \"labour\""), "{e}");
    // A client certificate from another, self-signed CA.
    let rogue = f.dir.path().join("rogue");
    sdgx_coordinator::pki::init(&rogue, &["localhost".into()], 30).unwrap();
    let (c, k) = sdgx_coordinator::pki::issue_agent(&rogue, "sms", 30).unwrap();
    let e = f.publish("sms", Some((c, k)), false).await.unwrap_err();
    assert!(!e.is_empty() && !e.contains("published"), "{e}");
    // An expired certificate from the right CA.
    let now = time::OffsetDateTime::now_utc();
    let old = f.dir.path().join("old");
    std::fs::create_dir_all(&old).unwrap();
    for n in ["ca.pem", "ca.key"] {
        std::fs::copy(f.pki.join(n), old.join(n)).unwrap();
    }
    let (c, k) = sdgx_coordinator::pki::issue_agent_between(&old, "sms", now - time::Duration::days(30), now - time::Duration::days(1)).unwrap();
    assert!(f.publish("sms", Some((c, k)), false).await.is_err(), "an expired certificate is refused");
    // A revoked certificate.
    let e = f.publish("labour", f.cert("labour"), false).await.unwrap_err();
    assert!(e.contains("revoked"), "{e}");
    // Plaintext to the TLS port.
    assert!(f.publish("sms", None, true).await.is_err(), "plaintext never reaches do_put");
    // Nothing was stored by any of them; a valid agency still can publish.
    assert_eq!(f.version().await, 0);
    f.publish("sms", f.cert("sms"), false).await.unwrap();
    assert_eq!(f.version().await, 1);
    f.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_escapes_are_refused() {
    let f = Fixture::start(&[]).await;
    f.publish("sms", f.cert("sms"), false).await.unwrap();
    let marker = f.dir.path().join("copied.csv");
    let attempts = [
        "CREATE EXTERNAL TABLE pw (line VARCHAR) STORED AS CSV LOCATION '/etc/passwd'".to_owned(),
        format!("COPY (SELECT * FROM observations) TO '{}'", marker.display()),
        "INSERT INTO observations SELECT * FROM observations".to_owned(),
        "DROP VIEW indicator_production".to_owned(),
        "SET datafusion.execution.batch_size = 1".to_owned(),
        "SELECT * FROM '/etc/passwd'".to_owned(),
        "SELECT * FROM read_csv('/etc/passwd')".to_owned(),
        "SELECT * FROM read_parquet('/etc/passwd')".to_owned(),
        "CREATE VIEW v AS SELECT 1".to_owned(),
    ];
    for sql in &attempts {
        let (status, body) = f.http("POST", "/api/v1/query", Some(&f.reader), Some(serde_json::json!({ "sql": sql }))).await;
        assert_eq!(status, 400, "{sql} must be refused as a bad request: {body}");
        assert!(body.get("rows").is_none(), "{sql}: no data");
        assert!(!body.to_string().contains("root:"), "{sql}: /etc/passwd leaked");
    }
    assert!(!marker.exists(), "COPY wrote a file");
    // A cross join big enough to exhaust memory stops at the limit (or the timeout), with no data.
    let sql = "SELECT a.value AS x, b.value AS y FROM generate_series(1, 200000) a CROSS JOIN generate_series(1, 200000) b ORDER BY x DESC, y DESC";
    let (status, body) = f.http("POST", "/api/v1/query", Some(&f.reader), Some(serde_json::json!({ "sql": sql }))).await;
    assert!(status == 422 || status == 408, "{status}: {body}");
    assert!(body.get("rows").is_none());
    // Ordinary reads work, and the row cap is reported.
    let (status, body) = f.http("POST", "/api/v1/query", Some(&f.reader), Some(serde_json::json!({ "sql": "SELECT agency, count(*) AS n FROM observations GROUP BY agency", "view": "provisional" }))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"][0]["agency"], "sms");
    assert_eq!(body["rows"][0]["n"], 33);
    f.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_names_a_tampered_log_entry_and_a_tampered_data_file() {
    let f = Fixture::start(&[]).await;
    f.publish("sms", f.cert("sms"), false).await.unwrap();
    f.publish("labour", f.cert("labour"), false).await.unwrap();
    let (status, body) = f.http("GET", "/api/v1/admin/audit", Some(&f.admin), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["passed"], true, "{body}");

    // Edit the data file of labour's publication on disk: swap in sms's file.
    let store = f.dir.path().join("store");
    let file_in = |part: &str| {
        let d = store.join(part);
        std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "parquet")).unwrap()
    };
    let labour_file = file_in("agency=labour/dataset=labour-market");
    let saved = std::fs::read(&labour_file).unwrap();
    std::fs::copy(file_in("agency=sms/dataset=asylum-decisions"), &labour_file).unwrap();
    let report = sdgx_coordinator::audit::verify(&f.catalog).await.unwrap();
    let m = report.first_mismatch.clone().expect("a tampered data file is found");
    assert_eq!((m.entry, m.agency.as_str(), m.store_version), (2, "labour", 2), "{report}");
    std::fs::write(&labour_file, saved).unwrap();
    assert!(sdgx_coordinator::audit::verify(&f.catalog).await.unwrap().first_mismatch.is_none());

    // Edit sms's log entry in the Delta log: claim 34 rows instead of 33.
    let commit = store.join("_delta_log/00000000000000000001.json");
    let text = std::fs::read_to_string(&commit).unwrap();
    assert!(text.contains("\"rows\":33"));
    std::fs::write(&commit, text.replacen("\"rows\":33", "\"rows\":34", 1)).unwrap();
    let report = sdgx_coordinator::audit::verify(&f.catalog).await.unwrap();
    let m = report.first_mismatch.clone().expect("a tampered log entry is found");
    assert_eq!((m.entry, m.agency.as_str()), (1, "sms"), "{report}");
    assert!(m.reason.contains("altered"), "{report}");
    f.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysts_flight_port_needs_a_token_and_http_limits_failed_tokens() {
    let f = Fixture::start(&[]).await;
    f.publish("sms", f.cert("sms"), false).await.unwrap();
    let ca = std::fs::read(f.pki.join("ca.pem")).unwrap();
    let tls = tonic::transport::ClientTlsConfig::new().ca_certificate(tonic::transport::Certificate::from_pem(ca));
    let url = format!("https://localhost:{}", f.analyst_port);
    let channel = tonic::transport::Endpoint::from_shared(url).unwrap().tls_config(tls).unwrap().connect().await.unwrap();
    let sql = "SELECT count(*) FROM observations WHERE agency = 'sms' AND dataset = 'asylum-decisions'";
    // Without a token: refused.
    let mut anon = arrow_flight::sql::client::FlightSqlServiceClient::new(channel.clone());
    let e = anon.execute(sql.into(), None).await.expect_err("refused without a token");
    assert!(e.to_string().contains("token"), "{e}");
    assert!(anon.handshake("analyst", "sdgx_not_a_token").await.is_err());
    // Handshake with the reader token (Basic auth, the token as the password): then queries run.
    let mut client = arrow_flight::sql::client::FlightSqlServiceClient::new(channel.clone());
    client.handshake("analyst", &f.reader).await.unwrap();
    // Nothing is approved: the official view (the default) has no row; the provisional one has
    // the publication, and each FlightInfo says which it read.
    let info = client.execute(sql.into(), None).await.unwrap();
    let read: serde_json::Value = serde_json::from_slice(&info.app_metadata).unwrap();
    assert_eq!(read, serde_json::json!({"view": "official", "store_version": f.version().await}));
    let official: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(client.do_get(info.endpoint[0].ticket.clone().unwrap()).await.unwrap()).await.unwrap();
    assert_eq!(arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(official[0].column(0)).value(0), 0);
    client.set_header("x-sdgx-view", "provisional");
    let info = client.execute(sql.into(), None).await.unwrap();
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&info.app_metadata).unwrap()["view"], "provisional");
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let batches: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(client.do_get(ticket).await.unwrap()).await.unwrap();
    let n = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(batches[0].column(0)).value(0);
    assert_eq!(n, 33);
    // The analysts' port takes no publication, token or not.
    let before = f.catalog.store().version().await;
    let manifest_path = root().join("examples/federation/sms/asylum-decisions.manifest.toml");
    let m = sdgx_schemas::Manifest::from_toml(&std::fs::read_to_string(manifest_path).unwrap()).unwrap();
    let mut raw = arrow_flight::FlightClient::new(channel.clone());
    raw.add_header("authorization", &format!("Bearer {}", f.reader)).unwrap();
    let put = futures::stream::iter(vec![Ok(arrow_flight::FlightData::new().with_descriptor(sdgx_schemas::flight::PublishCommand::descriptor(&m)))]);
    if let Ok(s) = raw.do_put(put).await {
        futures::TryStreamExt::try_collect::<Vec<_>>(s).await.expect_err("refused");
    }
    assert_eq!(f.catalog.store().version().await, before);

    // HTTP: after 10 invalid tokens from this address (the invalid handshake on the analysts'
    // Flight port above counts too; the call without a token does not) further invalid tokens
    // are refused 429, but a valid token is still admitted.
    for i in 0..10 {
        let status = f.http("GET", "/api/v1/publications", Some("sdgx_wrong"), None).await.0;
        assert_eq!(status, if i < 9 { 401 } else { 429 }, "attempt {i}");
    }
    assert_eq!(f.http("GET", "/api/v1/publications", Some(&f.reader), None).await.0, 200, "a valid token is never locked out");
    assert_eq!(f.http("GET", "/health", None, None).await.0, 200, "health stays open");
    f.stop();
}
