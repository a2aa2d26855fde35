//! Agencies without a server: the dashboard's upload page over HTTP and in headless Chromium
//! (tests/py/upload_browser.py). An agency token logs in to the upload page and nowhere else;
//! a good file is checked (nothing stored) then submitted (one version); a bad file shows its
//! errors; another agency's dataset is refused; an upload over the size limit is refused. The
//! store is checked from here after each step.

use std::path::Path;
use std::process::Stdio;

use sdgx_coordinator::auth::{Role, Tokens};
use sdgx_e2e::{dashboard_session, python, root, Running};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The coordinator with an `sms` agency token and a reader token (no publication yet).
async fn coordinator() -> (Running, String, String) {
    let (agency, agency_entry) = Tokens::create("sms", Role::Agency);
    let (reader, reader_entry) = Tokens::create("analyst", Role::Reader);
    let r = Running::start(|c| c.security.tokens = vec![agency_entry, reader_entry]).await;
    (r, agency, reader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agency_token_reaches_only_the_upload_page_and_a_form_over_the_limit_is_refused() {
    let (r, agency, reader) = coordinator().await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let url = |p: &str| format!("http://{}{p}", r.http);
    let login = client.post(url("/dashboard/login")).header("content-type", "application/x-www-form-urlencoded").body(format!("token={agency}")).send().await.unwrap();
    assert_eq!(login.status(), 303);
    assert_eq!(login.headers()["location"], "/dashboard/upload", "an agency logs in to the upload page");
    let base = format!("http://{}", r.http);
    let (agency, reader) = (dashboard_session(&base, &agency).await, dashboard_session(&base, &reader).await);
    let get = |path: &str, cookie: &str| client.get(url(path)).header("cookie", cookie.to_owned()).send();
    for page in ["/dashboard", "/dashboard/coverage", "/dashboard/agencies", "/dashboard/areas", "/dashboard/publications", "/dashboard/indicators", "/dashboard/indicators/10.7.4", "/dashboard/exports", "/dashboard/exports/sdmx-csv-1.0", "/dashboard/review"] {
        let resp = get(page, &agency).await.unwrap();
        assert_eq!(resp.status(), 403, "{page} to an agency token");
        assert!(resp.text().await.unwrap().contains("may only upload"), "{page}");
    }
    let resp = get("/dashboard/upload", &agency).await.unwrap();
    assert_eq!(resp.status(), 200);
    let form = resp.text().await.unwrap();
    assert!(form.contains("<option value=\"asylum-decisions\">") && !form.contains("value=\"health\""), "only sms's datasets are offered");
    assert!(form.contains(">Annual<"), "periodicity by its label");
    // The upload page is not a reader's, and no session goes to the login.
    assert_eq!(get("/dashboard/upload", &reader).await.unwrap().status(), 403);
    assert_eq!(get("/dashboard", &reader).await.unwrap().status(), 200);
    let areas = get("/dashboard/areas?view=provisional", &reader).await.unwrap();
    assert_eq!(areas.status(), 200);
    let areas = areas.text().await.unwrap();
    assert!(areas.contains("Figures by area") && areas.contains("Areas compared") && areas.contains("have data on the migration-relevant indicators"), "{areas}");
    assert_eq!(client.get(url("/dashboard/upload")).send().await.unwrap().status(), 303);
    let submit = client.post(url("/dashboard/upload/submit")).header("cookie", reader.clone()).header("content-type", "application/x-www-form-urlencoded").body("upload=x").send().await.unwrap();
    assert_eq!(submit.status(), 403);

    // A form over 50 MB is refused with a clear message, and nothing is kept or stored.
    let version = r.catalog.store().version().await;
    let boundary = "sdgxboundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"data\"; filename=\"big.csv\"\r\nContent-Type: text/csv\r\n\r\nindicator,ref_area\r\n").into_bytes();
    body.resize(body.len() + (51 << 20), b'x');
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let resp = client
        .post(url("/dashboard/upload/check"))
        .header("cookie", agency.clone())
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert!(resp.text().await.unwrap().contains("larger than the 50 MB limit"));
    let uploads = r.dir.path().join("staging/uploads");
    assert_eq!(std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0), 0, "nothing kept");
    assert_eq!(r.catalog.store().version().await, version);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agency_uploads_in_headless_chromium_good_bad_and_another_agencys_dataset() {
    let (r, agency, _) = coordinator().await;
    let tmp = tempfile::tempdir().unwrap();
    let csv = std::fs::read_to_string(root().join("examples/federation/sms/asylum-decisions.csv")).unwrap();
    let good = tmp.path().join("asylum-decisions.csv");
    std::fs::write(&good, &csv).unwrap();
    let mut lines: Vec<String> = csv.lines().map(str::to_owned).collect();
    lines[2] = lines[2].replacen(",40.8,", ",forty,", 1);
    lines[4] = lines[4].replacen(",AM,", ",ZZ,", 1);
    let bad = tmp.path().join("asylum-decisions-bad.csv");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let other = root().join("examples/federation/moh/health.manifest.toml");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let store = r.catalog.store().clone();
    let (v0, p0) = (store.version().await, store.publications().await.len());

    let mut child = tokio::process::Command::new(python())
        .arg(root().join("tests/py/upload_browser.py"))
        .arg(format!("http://{}", r.http))
        .arg(&agency)
        .arg(&good)
        .arg(&bad)
        .arg(&other)
        .arg(&shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stderr = tokio::spawn(async move {
        let mut err = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut err).await;
        err
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut steps = Vec::new();
    while let Some(line) = out.next_line().await.unwrap() {
        let seen: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let (version, publications) = (store.version().await, store.publications().await);
        match seen["step"].as_str().unwrap() {
            "checked" => {
                assert_eq!(seen["rows"], csv.lines().count() - 1, "{seen}");
                assert_eq!(seen["dataset"], "asylum-decisions");
                assert!(seen["duplicate"].as_str().unwrap().starts_with("No"), "{seen}");
                assert_eq!(seen["impact_rows"], 2);
                assert_eq!(seen["submit"], 1);
                assert_eq!((version, publications.len()), (v0, p0), "the check stored nothing");
            }
            "submitted" => {
                assert_eq!(seen["ack"], "Submitted: awaiting the statistical office's approval.");
                assert_eq!((version, publications.len()), (v0 + 1, p0 + 1), "one version");
                let p = publications.last().unwrap();
                assert_eq!((p.agency.as_str(), p.dataset.as_str()), ("sms", "asylum-decisions"));
                assert_eq!(seen["publication_id"], p.publication_id.as_str());
                assert_eq!(seen["store_version"], version);
            }
            "rejected" => {
                let errors: Vec<Vec<String>> = serde_json::from_value(seen["errors"].clone()).unwrap();
                assert!(errors.contains(&vec!["2".into(), "obs_value".into(), "forty".into()]), "{seen}");
                assert!(errors.contains(&vec!["4".into(), "ref_area".into(), "ZZ".into()]), "{seen}");
                assert_eq!(seen["heading"], "The file was not accepted");
                assert!(seen["summary"].as_str().unwrap().starts_with("Agency State Migration Service (sms), dataset asylum-decisions: 3 error(s)"), "the agency by name and id: {seen}");
                assert_eq!(seen["kept"], serde_json::json!({"title": "Asylum decisions and refugees", "dataset": "asylum-decisions"}), "the form keeps what was typed");
                assert_eq!((version, publications.len()), (v0 + 1, p0 + 1), "nothing stored");
            }
            "refused" => {
                assert!(seen["by_manifest"].as_str().unwrap().contains("may not publish as \"moh\""), "{seen}");
                assert!(seen["by_form"].as_str().unwrap().contains("dataset \"health\" is not registered for agency \"sms\""), "{seen}");
                assert_eq!(seen["offered"], serde_json::json!(["", "asylum-decisions"]));
                assert_eq!((version, publications.len()), (v0 + 1, p0 + 1), "nothing stored");
            }
            other => panic!("unknown step {other}"),
        }
        steps.push(seen["step"].as_str().unwrap().to_owned());
        stdin.write_all(b"go\n").await.unwrap();
        stdin.flush().await.unwrap();
    }
    let status = child.wait().await.unwrap();
    let err = stderr.await.unwrap();
    assert!(status.success(), "chromium: {err}");
    assert_eq!(steps, ["checked", "submitted", "rejected", "refused"]);
    for s in ["upload-check.png", "upload-check-phone.png", "upload-submitted.png", "upload-submitted-phone.png", "upload-errors.png", "upload-errors-phone.png", "upload-refused.png"] {
        let bytes = std::fs::read(shots.join(s)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "{s} is a real screenshot ({} bytes)", bytes.len());
    }
    assert_eq!(std::fs::read_dir(r.dir.path().join("staging/uploads")).unwrap().count(), 0, "no upload left on the server");
    r.stop().await;
}
