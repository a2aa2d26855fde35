//! The statistical office's sign-off with the real binaries: an agency publishes; the official
//! figures stay as they were while the provisional ones change; the approver sees the row diff
//! and the figure impact, approves under an embargo; the official figures change exactly at the
//! release time (the coordinator's clock is a file the test rewrites: no sleeps); the approver
//! un-approves and the previous version is official again; a returned publication shows its
//! reason to its agency; every step is in the log and the audit passes.

use std::path::Path;
use std::process::Command;

use sdgx_e2e::{binary, coordinator_env, pki, root, run, Served, AGENCIES};

/// A token of `role` for `name`, added to the PKI's token file.
fn token(pki: &Path, role: &str, name: &str) -> String {
    let out = run(Command::new(binary("sdgx-coordinator")).args(["token", "create", "--role", role, "--name", name, "--file"]).arg(pki.join("tokens.toml")));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The coordinator's HTTP API with one token.
struct Api {
    client: reqwest::Client,
    http: String,
}

impl Api {
    async fn call(&self, method: &str, path: &str, token: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
        let url = format!("http://{}{path}", self.http);
        let req = match method {
            "POST" => self.client.post(url).json(&body.unwrap_or_else(|| serde_json::json!({}))),
            _ => self.client.get(url),
        };
        let r = req.bearer_auth(token).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// The headline (numerator, denominator) of `view`, and the store version it read.
    async fn headline(&self, token: &str, view: &str) -> (i64, i64, i64) {
        let (status, f) = self.call("GET", &format!("/api/v1/figures/migration-disaggregation-share?view={view}"), token, None).await;
        assert_eq!((status, f["view"].as_str()), (200, Some(view)), "{f}");
        (f["numerator"].as_i64().unwrap(), f["denominator"].as_i64().unwrap(), f["store_version"].as_i64().unwrap())
    }
}

/// `sdgx-agent publish` of moh's health dataset with the rows `keep` keeps.
fn publish_moh(served: &Served, pki: &Path, dir: &Path, name: &str, keep: impl Fn(&str) -> bool) -> String {
    moh(served, pki, dir, name, &["publish"], keep)
}

/// `sdgx-agent <args>` of moh's health dataset with the rows `keep` keeps; it must succeed.
fn moh(served: &Served, pki: &Path, dir: &Path, name: &str, args: &[&str], keep: impl Fn(&str) -> bool) -> String {
    let text = std::fs::read_to_string(root().join("examples/federation/moh/health.csv")).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| keep(l)).collect();
    let source = dir.join(format!("{name}.csv"));
    std::fs::write(&source, kept.join("\n") + "\n").unwrap();
    let original = std::fs::read_to_string(root().join("examples/federation/moh/agent.toml")).unwrap();
    let moh = root().join("examples/federation/moh");
    let config = original
        .replace("\"../", &format!("\"{}/", moh.parent().unwrap().display()))
        .replace("\"health.manifest.toml\"", &format!("{:?}", moh.join("health.manifest.toml").display().to_string()))
        .replace("\"health.csv\"", &format!("{:?}", source.display().to_string()));
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, config).unwrap();
    let out = served.agent_command(args, &path, "moh", pki, &dir.join(format!("outbox-{name}"))).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The content type of an HTML form's body.
const FORM: &str = "application/x-www-form-urlencoded";

fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_review_approve_under_embargo_release_unapprove_and_return() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    let reader = pki(&pki_dir);
    let approver = token(&pki_dir, "approver", "nso");
    let moh_token = token(&pki_dir, "agency", "moh");
    let clock = dir.path().join("clock");
    let t0 = chrono::Utc::now();
    std::fs::write(&clock, stamp(t0)).unwrap();
    let served = Served::start(&pki_dir, dir.path(), &[("SDGX_CLOCK_FILE", clock.to_str().unwrap())]);
    let api = Api { client: reqwest::Client::new(), http: served.http.clone() };

    // The federation publishes; the approver approves all of it: official = provisional.
    let outboxes = dir.path().join("outboxes");
    for a in AGENCIES {
        let out = served.agent(a, a, &pki_dir, &outboxes.join(a)).output().unwrap();
        assert!(out.status.success(), "{a}: {}", String::from_utf8_lossy(&out.stdout));
    }
    assert_eq!(api.headline(&reader, "official").await, (0, 0, 8), "nothing is official before a decision");
    let (_, queue) = api.call("GET", "/api/v1/review", &approver, None).await;
    let submitted = queue["submitted"].as_array().unwrap();
    assert_eq!(submitted.len(), 8, "{queue}");
    for p in submitted {
        let (status, d) = api.call("POST", &format!("/api/v1/publications/{}/approve", p["publication_id"].as_str().unwrap()), &approver, None).await;
        assert_eq!((status, d["by"].as_str(), d["action"].as_str()), (200, Some("nso"), Some("approve")), "{d}");
    }
    assert_eq!(api.headline(&reader, "official").await, (7, 15, 16));
    assert_eq!(api.headline(&reader, "provisional").await, (7, 15, 16));

    // A dry run at the coordinator first: its summary and impact, nothing stored.
    let said = moh(&served, &pki_dir, dir.path(), "dry", &["validate", "--remote"], |l| !l.contains("MIGRANT"));
    assert!(said.contains("coordinator dry run (nothing stored): agency moh dataset health"), "{said}");
    assert!(said.contains("headline (indicators produced with migration disaggregation): 7/15 = 46.7% -> 6/15 = 40.0%"), "{said}");
    assert!(said.contains("No longer disaggregated by migratory status: 3.3.1"), "{said}");
    assert_eq!(api.headline(&reader, "provisional").await, (7, 15, 16), "the dry run stored nothing");
    let said = moh(&served, &pki_dir, dir.path(), "dry-same", &["validate", "--remote"], |_| true);
    assert!(said.contains("creates no new version"), "the unchanged file is a duplicate: {said}");

    // 1-2. moh republishes without 3.3.1's migrant rows: provisional 6/15, official still 7/15.
    let said = publish_moh(&served, &pki_dir, dir.path(), "v2", |l| !l.contains("MIGRANT"));
    assert!(said.contains("published: publication"), "{said}");
    assert_eq!(api.headline(&reader, "provisional").await, (6, 15, 17));
    assert_eq!(api.headline(&reader, "official").await, (7, 15, 17));

    // 3. The approver sees the diff and the impact.
    let (_, queue) = api.call("GET", "/api/v1/review", &approver, None).await;
    let pending = queue["submitted"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{queue}");
    let id = pending[0]["publication_id"].as_str().unwrap().to_owned();
    assert_eq!(pending[0]["agency"], "moh");
    let (status, review) = api.call("GET", &format!("/api/v1/review/{id}"), &approver, None).await;
    assert_eq!(status, 200, "{review}");
    let diff = &review["rows_diff"];
    assert_eq!((diff["added"].as_u64(), diff["removed"].as_u64(), diff["changed"].as_u64(), diff["unchanged"].as_u64()), (Some(0), Some(6), Some(0), Some(9)), "{diff}");
    assert!(diff["examples"].as_array().unwrap().iter().all(|e| e["change"] == "removed" && e["key"].as_str().unwrap().contains("indicator=3.3.1")), "{diff}");
    let impact = &review["impact"];
    assert_eq!((impact["now"]["headline"]["numerator"].as_i64(), impact["if_approved"]["headline"]["numerator"].as_i64()), (Some(7), Some(6)));
    assert_eq!(impact["no_longer_migration_disaggregated"], serde_json::json!(["3.3.1"]));
    assert_eq!(impact["now"]["reporting"]["numerator"], impact["if_approved"]["reporting"]["numerator"], "3.3.1 is still reported");
    assert!(review["quality_warnings"].is_array());
    // The agency may not see the review queue, nor decide.
    assert_eq!(api.call("GET", &format!("/api/v1/review/{id}"), &moh_token, None).await.0, 403);
    assert_eq!(api.call("POST", &format!("/api/v1/publications/{id}/approve"), &moh_token, None).await.0, 403);

    // 4. Approved under an embargo: the official figures change exactly at the release time.
    let release = t0 + chrono::Duration::days(1);
    let (status, d) = api.call("POST", &format!("/api/v1/publications/{id}/approve"), &approver, Some(serde_json::json!({"release_at": stamp(release)}))).await;
    assert_eq!((status, d["store_version"].as_i64()), (200, Some(18)), "{d}");
    let (_, queue) = api.call("GET", "/api/v1/review", &approver, None).await;
    assert_eq!(queue["embargoed"][0]["publication_id"], id.as_str(), "{queue}");
    std::fs::write(&clock, stamp(release - chrono::Duration::milliseconds(1))).unwrap();
    assert_eq!(api.headline(&reader, "official").await, (7, 15, 18), "a millisecond before the release");
    std::fs::write(&clock, stamp(release)).unwrap();
    assert_eq!(api.headline(&reader, "official").await, (6, 15, 18), "at the release time, without a commit or restart");
    let (_, queue) = api.call("GET", "/api/v1/review", &approver, None).await;
    assert!(queue["embargoed"].as_array().unwrap().is_empty(), "{queue}");
    // Exports default to the official view and say so.
    let r = api.client.get(format!("http://{}/api/v1/exports/sdmx-csv-1.0", api.http)).bearer_auth(&reader).send().await.unwrap();
    assert_eq!((r.headers()["x-sdgx-view"].to_str().unwrap(), r.headers()["x-sdgx-store-version"].to_str().unwrap()), ("official", "18"));

    // 5. Un-approved: the previous approved version is back.
    let (status, e) = api.call("POST", &format!("/api/v1/publications/{id}/unapprove"), &approver, None).await;
    assert_eq!(status, 400, "a reason is required: {e}");
    let (status, d) = api.call("POST", &format!("/api/v1/publications/{id}/unapprove"), &approver, Some(serde_json::json!({"reason": "3.3.1's migrant rows were dropped by mistake"}))).await;
    assert_eq!((status, d["store_version"].as_i64()), (200, Some(19)), "{d}");
    assert_eq!(api.headline(&reader, "official").await, (7, 15, 19));
    assert_eq!(api.headline(&reader, "provisional").await, (6, 15, 19));

    // A third version, returned with a reason: its agency sees it, other agencies do not.
    publish_moh(&served, &pki_dir, dir.path(), "v3", |l| !l.contains(",2021,"));
    let (_, queue) = api.call("GET", "/api/v1/review", &approver, None).await;
    let v3 = queue["submitted"][0]["publication_id"].as_str().unwrap().to_owned();
    // Returned from the dashboard's review page, as an approver does it: log in, open the
    // queue and the publication, send the form with its reason.
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = browser.post(format!("http://{}/dashboard/login", api.http)).header("content-type", FORM).body(format!("token={approver}")).send().await.unwrap();
    assert_eq!(login.status().as_u16(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = |path: String| {
        let (browser, cookie, http) = (browser.clone(), cookie.clone(), api.http.clone());
        async move {
            let r = browser.get(format!("http://{http}{path}")).header("cookie", cookie).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, html) = page("/dashboard/review".into()).await;
    assert!(status == 200 && html.contains(&format!("/dashboard/review/{v3}")), "{status}: {html}");
    let (status, html) = page(format!("/dashboard/review/{v3}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Figure impact") && html.contains("id=\"return\""), "{html}");
    let r = browser
        .post(format!("http://{}/dashboard/review/{v3}/return", api.http))
        .header("cookie", cookie.clone())
        .header("content-type", FORM)
        .body("reason=&release_at=")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "a return without a reason is refused on the page");
    assert!(r.text().await.unwrap().contains("give a reason"));
    let r = browser
        .post(format!("http://{}/dashboard/review/{v3}/return", api.http))
        .header("cookie", cookie.clone())
        .header("content-type", FORM)
        .body("reason=2021+is+missing&release_at=")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let (_, html) = page(format!("/dashboard/review/{v3}?done=return")).await;
    assert!(html.contains("The publication was returned.") && html.contains("<strong id=\"status\">returned</strong> (2021 is missing)"), "{html}");
    // A reader's session may not see the queue.
    let reader_login = browser.post(format!("http://{}/dashboard/login", api.http)).header("content-type", FORM).body(format!("token={reader}")).send().await.unwrap();
    let reader_cookie = reader_login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let r = browser.get(format!("http://{}/dashboard/review", api.http)).header("cookie", reader_cookie).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let (status, s) = api.call("GET", &format!("/api/v1/publications/{v3}/status"), &moh_token, None).await;
    assert_eq!((status, s["sign_off"]["status"].as_str(), s["sign_off"]["reason"].as_str()), (200, Some("returned"), Some("2021 is missing")), "{s}");
    let (status, _) = api.call("POST", &format!("/api/v1/publications/{v3}/approve"), &approver, None).await;
    assert_eq!(status, 409, "a returned publication is not approved");
    // The agency sees it in `sdgx-agent status`, with the reason.
    let token_file = dir.path().join("moh.token");
    std::fs::write(&token_file, &moh_token).unwrap();
    let out = served
        .agent_command(&["status"], &dir.path().join("v3.toml"), "moh", &pki_dir, &dir.path().join("outbox-v3"))
        .env("SDGX_COORDINATOR_HTTP", format!("http://{}", served.http))
        .env("SDGX_TOKEN_FILE", &token_file)
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{status}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(status.contains(&format!("health                           {v3}  returned: 2021 is missing")), "{status}");
    assert_eq!(api.headline(&reader, "official").await.0, 7);

    // 6. Every step is in the log, and the audit passes.
    let (_, log) = api.call("GET", "/api/v1/publications", &reader, None).await;
    let actions: Vec<&str> = log["decisions"].as_array().unwrap().iter().map(|d| d["action"].as_str().unwrap()).collect();
    assert_eq!(actions.len(), 11, "{actions:?}");
    assert_eq!(actions[8..], ["approve", "unapprove", "return"]);
    let d = &log["decisions"][9];
    assert_eq!((d["by"].as_str(), d["reason"].as_str(), d["publication_id"].as_str()), (Some("nso"), Some("3.3.1's migrant rows were dropped by mistake"), Some(id.as_str())));
    drop(served);
    let config = root().join("examples/federation/coordinator.toml");
    let out = run(coordinator_env(&mut Command::new(binary("sdgx-coordinator")), &pki_dir).args(["audit", "verify", "--config"]).arg(&config).arg("--data-dir").arg(dir.path()));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("audit passed: 21 log entries"), "{said}");
}
