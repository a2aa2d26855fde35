//! The OpenAPI document as a contract: schemathesis (a contract tester nobody here wrote)
//! generates requests from the document served at `/api/v1/openapi.json` and checks the
//! coordinator's answers against it, over the example federation, with a reader token.

use std::process::Command;

use sdgx_coordinator::auth::{Role, Tokens};
use sdgx_e2e::{python, Running};

/// Test cases per operation: bounded so the run takes under a minute or two on two cores
/// (`SDGX_SCHEMATHESIS_EXAMPLES` asks for more, for a longer search by hand).
const MAX_EXAMPLES: &str = "25";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let (token, reader) = Tokens::create("analyst", Role::Reader);
    let r = Running::start(|c| c.security.tokens = vec![reader]).await;
    r.publish_all().await;
    let base = format!("http://{}", r.http);
    let reports = tempfile::tempdir().unwrap();
    // Identifiers that exist, so the routes that read one are tested past their 404.
    let publication = r.catalog.store().publications().await[0].publication_id.clone();
    let config = format!("[parameters]\n\"path.id\" = \"{publication}\"\n\"path.agency\" = \"moh\"\n");
    std::fs::write(reports.path().join("schemathesis.toml"), config).unwrap();
    let junit = reports.path().join("junit.xml");
    let python = python();
    let args = [
        "-m".to_owned(),
        "schemathesis.cli".into(),
        "run".into(),
        format!("{base}/api/v1/openapi.json"),
        "--url".into(),
        base.clone(),
        "--header".into(),
        format!("Authorization: Bearer {token}"),
        "--checks".into(),
        "not_a_server_error,response_schema_conformance".into(),
        "--max-examples".into(),
        std::env::var("SDGX_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| MAX_EXAMPLES.into()),
        "--seed".into(),
        "17180".into(),
        // One worker: with two, schemathesis 4.32 now and then fails with a KeyError of its own
        // (its threads share a cache of source lines).
        "--workers".into(),
        "1".into(),
        "--request-timeout".into(),
        "60".into(),
        "--report".into(),
        "junit".into(),
        "--report-junit-path".into(),
        junit.display().to_string(),
    ];
    // schemathesis is blocking and long: run it off the runtime serving the coordinator.
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&python).args(&args).current_dir(reports.path()).env("NO_COLOR", "1").output().map(|o| (o, reports))
    })
    .await
    .unwrap()
    .expect("run schemathesis");
    let (out, reports) = out;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "schemathesis reported failures:\n{stdout}\n{stderr}");
    // Its summary (operations tested, cases generated, warnings), for the test log.
    println!("{stdout}");
    // It really tested: every operation of the document, with requests answered.
    let report = std::fs::read_to_string(reports.path().join("junit.xml")).expect("junit report");
    let doc: serde_json::Value = reqwest::get(format!("{base}/api/v1/openapi.json")).await.unwrap().json().await.unwrap();
    let operations: usize = doc["paths"].as_object().unwrap().values().map(|item| item.as_object().unwrap().len()).sum();
    let cases = report.matches("<testcase ").count();
    assert_eq!(cases, operations, "one test case per operation:\n{report}\n{stdout}");
    assert!(!report.contains("<failure") && !report.contains("<error"), "{report}");
    r.stop().await;
}
