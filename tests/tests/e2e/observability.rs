//! Running it for real, as an operator watches it: the coordinator's `/metrics` scraped over
//! HTTP from the real binary and read with the Prometheus project's own text-format parser
//! (`tests/py/metrics_parse.py`), its counters moving with publications, refusals and failed
//! authentication; the agent daemon's own `/metrics`; JSON logs of both programs, every line
//! parsed; the access log; and the reading commands refusing a data directory without a store.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sdgx_e2e::{binary, pki, python, root, run, Served};
use serde_json::Value;

/// The coordinator's default log levels (what `RUST_LOG` unset gives), set so that a
/// developer's own `RUST_LOG` does not change what the tests read.
const LEVELS: &str = "info,buoyant_kernel=warn,buoyant_kernel_engine=warn,deltalake_core=warn,datafusion=warn";

/// The log lines of a child's standard error, read on a thread as they come.
struct Logs {
    rx: mpsc::Receiver<String>,
    lines: Vec<String>,
}

impl Logs {
    fn of(child: &mut Child) -> Logs {
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Logs { rx, lines: Vec::new() }
    }

    /// Waits (at most a minute) for a JSON line whose message is `message`, and returns it.
    fn wait_for(&mut self, message: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.rx.recv_timeout(left).unwrap_or_else(|_| panic!("no log line {message:?} within a minute:\n{}", self.lines.join("\n")));
            self.lines.push(line.clone());
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["fields"]["message"] == message
            {
                return v;
            }
        }
    }

    /// Every line, once the child has exited (its standard error closed).
    fn all(mut self) -> Vec<String> {
        self.lines.extend(self.rx.iter());
        self.lines
    }
}

/// Every line of `lines` parsed as one JSON object with a timestamp, a level, a target and
/// the event's fields; none at level ERROR.
fn parse_json_lines(program: &str, lines: &[String]) -> Vec<Value> {
    assert!(!lines.is_empty(), "{program} logged nothing");
    lines
        .iter()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{program}: a log line that is not JSON ({e}): {line}"));
            for key in ["timestamp", "level", "target"] {
                assert!(v[key].is_string(), "{program}: no {key} in {line}");
            }
            assert!(v["fields"].is_object(), "{program}: no fields in {line}");
            assert_ne!(v["level"], "ERROR", "{program} logged an ERROR: {line}");
            v
        })
        .collect()
}

/// Stops `child` with SIGTERM, as a service manager does, and checks it exits 0.
fn terminate(child: &mut Child) {
    run(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let status = child.wait().expect("it exits");
    assert!(status.success(), "after SIGTERM: {status}");
}

/// `GET http://{addr}/metrics` with `token`: the status, the content type and the body.
async fn scrape(addr: &str, token: Option<&str>) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(format!("http://{addr}/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("the metrics answer");
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, ct, r.text().await.unwrap())
}

/// The families of `text` as the Prometheus client's text-format parser reads them.
fn parse_metrics(text: &str) -> Value {
    use std::io::Write;
    let mut child = Command::new(python())
        .arg(root().join("tests/py/metrics_parse.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the Prometheus parser refused the exposition: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The value of `family`'s sample `sample` with exactly `labels` (0 when absent); the family
/// must exist with type `kind` (the parser names a counter's family without `_total`, as the
/// Prometheus data model does).
fn value(families: &Value, family: &str, kind: &str, sample: &str, labels: &[(&str, &str)]) -> f64 {
    let family = if kind == "counter" { family.strip_suffix("_total").expect("a counter's name ends in _total") } else { family };
    let f = &families[family];
    assert_eq!(f["type"], kind, "{family} is not a {kind}: {families}");
    let want: serde_json::Map<String, Value> = labels.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect();
    f["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s[0] == sample && s[1].as_object() == Some(&want))
        .map_or(0.0, |s| s[2].as_f64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_metrics_move_with_publications_refusals_and_failed_logins_and_its_logs_are_json() {
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    let reader = pki(&pki_dir);
    let out = run(Command::new(binary("sdgx-coordinator")).args(["token", "create", "--role", "metrics", "--name", "prometheus", "--file"]).arg(pki_dir.join("tokens.toml")));
    let scraper = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    // A fresh store, JSON logs, and three failed authentications allowed before a lockout.
    let mut served = Served::start_with(
        &pki_dir,
        &dir.path().join("data"),
        &["--log-format", "json"],
        &[("SDGX_SECURITY__AUTH_MAX_FAILURES", "3"), ("RUST_LOG", LEVELS)],
    );
    let logs = Logs::of(&mut served.child);
    let http = served.http.clone();

    // Deny by default: no token 401, a reader's 403, the metrics role's 200.
    assert_eq!(scrape(&http, None).await.0, 401);
    assert_eq!(scrape(&http, Some(&reader)).await.0, 403, "a reader token may not read the metrics");
    let (status, content_type, text) = scrape(&http, Some(&scraper)).await;
    assert_eq!((status, content_type.as_str()), (200, "text/plain; version=0.0.4"), "{text}");
    let before = parse_metrics(&text);
    assert_eq!(value(&before, "sdgx_publications_accepted_total", "counter", "sdgx_publications_accepted_total", &[]), 0.0);
    // A metrics token opens nothing else.
    let figures = reqwest::Client::new().get(format!("http://{http}/api/v1/figures")).bearer_auth(&scraper).send().await.unwrap();
    assert_eq!(figures.status().as_u16(), 403, "a metrics token reads no figures");

    // moh publishes; an agent with sms's certificate is refused labour's dataset.
    let outboxes = tempfile::tempdir().unwrap();
    let out = served.agent("moh", "moh", &pki_dir, &outboxes.path().join("moh")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let published = stdout.matches("published: publication").count();
    assert!(published >= 1, "{stdout}");
    let out = served.agent("labour", "sms", &pki_dir, &outboxes.path().join("impostor")).output().unwrap();
    assert!(!out.status.success(), "the impostor was refused");

    // Four invalid tokens: three failures allowed, the fourth locked out.
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(client.get(format!("http://{http}/api/v1/figures")).bearer_auth("sdgx_not_a_token").send().await.unwrap().status().as_u16());
    }
    assert_eq!(answers, [401, 401, 401, 429]);
    // A figure (with a query string the access log must not show) and a query.
    let figure = client
        .get(format!("http://{http}/api/v1/figures/migration-disaggregation-share?view=provisional&from=2000"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(figure.status().as_u16(), 200);
    let query = client.post(format!("http://{http}/api/v1/query")).bearer_auth(&reader).json(&serde_json::json!({"sql": "SELECT 1 AS one"})).send().await.unwrap();
    assert_eq!(query.status().as_u16(), 200);

    let (_, _, text) = scrape(&http, Some(&scraper)).await;
    let m = parse_metrics(&text);
    let counter = |name: &str, labels: &[(&str, &str)]| value(&m, name, "counter", name, labels);
    assert_eq!(counter("sdgx_publications_accepted_total", &[]), published as f64, "{text}");
    assert_eq!(counter("sdgx_publications_duplicate_total", &[]), 0.0);
    assert_eq!(counter("sdgx_publications_rejected_total", &[("reason", "permission_denied")]), 1.0, "{text}");
    assert!(counter("sdgx_received_rows_total", &[]) > 0.0, "{text}");
    assert!(counter("sdgx_received_bytes_total", &[]) > counter("sdgx_received_rows_total", &[]), "{text}");
    assert_eq!(counter("sdgx_auth_failures_total", &[]), 4.0, "{text}");
    assert_eq!(counter("sdgx_auth_lockouts_total", &[]), 1.0, "{text}");
    let histogram = |name: &str, labels: &[(&str, &str)]| value(&m, name, "histogram", &format!("{name}_count"), labels);
    assert_eq!(histogram("sdgx_commit_duration_seconds", &[]), published as f64, "{text}");
    assert_eq!(histogram("sdgx_figure_duration_seconds", &[("figure", "migration-disaggregation-share")]), 1.0, "{text}");
    assert_eq!(histogram("sdgx_query_duration_seconds", &[("surface", "http")]), 1.0, "{text}");
    assert_eq!(histogram("sdgx_query_duration_seconds", &[("surface", "flight_sql")]), 0.0, "{text}");

    // Stopped as a service manager stops it: it says so, then that it has stopped.
    terminate(&mut served.child);
    let lines = logs.all();
    let events = parse_json_lines("sdgx-coordinator", &lines);
    let message = |e: &Value| e["fields"]["message"].as_str().unwrap_or_default().to_owned();
    let access: Vec<&Value> = events.iter().filter(|e| e["target"] == "sdgx_coordinator::access").collect();
    let fig = access
        .iter()
        .find(|e| e["span"]["path"] == "/api/v1/figures/migration-disaggregation-share")
        .unwrap_or_else(|| panic!("no access log line of the figure:\n{}", lines.join("\n")));
    assert_eq!((fig["span"]["method"].as_str(), fig["fields"]["status"].as_u64()), (Some("GET"), Some(200)), "{fig}");
    assert!(fig["fields"]["latency_ms"].is_number() && fig["span"]["peer"].as_str().is_some_and(|p| p.starts_with("127.0.0.1:")), "{fig}");
    assert!(access.iter().any(|e| e["span"]["path"] == "/metrics" && e["fields"]["status"] == 403), "the refused scrape is logged too");
    assert!(access.iter().any(|e| e["fields"]["status"] == 429), "the locked-out attempt is logged");
    let all = lines.join("\n");
    assert!(!all.contains("from=2000") && !all.contains("view=provisional"), "the access log shows no query string");
    for secret in [&reader, &scraper] {
        assert!(!all.contains(secret.as_str()), "a token reached the log");
    }
    assert!(!all.contains("sdgx_not_a_token"), "an invalid token reached the log");
    assert!(!all.to_ascii_lowercase().contains("\"authorization\""), "no Authorization header in the log");
    assert!(events.iter().any(|e| message(e).starts_with("locked out an address") && e["level"] == "WARN"), "the lockout is logged:\n{all}");
    assert!(events.iter().any(|e| message(e).starts_with("shutting down") && e["fields"]["signal"] == "SIGTERM"), "{all}");
    assert!(events.iter().any(|e| message(e).starts_with("coordinator stopped")), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_daemon_serves_its_outbox_and_delivery_metrics_and_logs_json() {
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    pki(&pki_dir);
    let served = Served::start(&pki_dir, &dir.path().join("data"), &[]);
    let config = root().join("examples/federation/moh/agent.toml");
    let datasets = std::fs::read_to_string(&config).unwrap().parse::<toml::Table>().unwrap()["dataset"].as_array().unwrap().len();
    let mut agent = served
        .agent_command(&["run", "--log-format", "json"], &config, "moh", &pki_dir, &dir.path().join("outbox"))
        .env("SDGX_METRICS__LISTEN", "127.0.0.1:0")
        // The daemon's default levels log its start, deliveries and stop.
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sdgx-agent run starts");
    let mut logs = Logs::of(&mut agent);
    let listening = logs.wait_for("serving metrics at /metrics");
    let addr = listening["fields"]["addr"].as_str().expect("the bound address").to_owned();
    logs.wait_for("delivered");
    // The gauges are set once the cycle's deliveries are recorded: poll (bounded) for them.
    let deadline = Instant::now() + Duration::from_secs(60);
    let m = loop {
        let (status, content_type, text) = scrape(&addr, None).await;
        assert_eq!((status, content_type.as_str()), (200, "text/plain; version=0.0.4"), "{text}");
        let m = parse_metrics(&text);
        let sent = value(&m, "sdgx_agent_outbox_entries", "gauge", "sdgx_agent_outbox_entries", &[("state", "sent")]);
        if sent == datasets as f64 {
            break m;
        }
        assert!(Instant::now() < deadline, "the outbox gauge never showed {datasets} sent:\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let attempts = |outcome: &str| value(&m, "sdgx_agent_delivery_attempts_total", "counter", "sdgx_agent_delivery_attempts_total", &[("outcome", outcome)]);
    assert_eq!((attempts("delivered"), attempts("retry"), attempts("refused")), (datasets as f64, 0.0, 0.0));
    assert_eq!(value(&m, "sdgx_agent_outbox_entries", "gauge", "sdgx_agent_outbox_entries", &[("state", "pending")]), 0.0);
    assert_eq!(value(&m, "sdgx_agent_outbox_corrupt_entries", "gauge", "sdgx_agent_outbox_corrupt_entries", &[]), 0.0);
    // Only /metrics is served.
    let other = reqwest::get(format!("http://{addr}/")).await.unwrap().status().as_u16();
    assert_eq!(other, 404);

    terminate(&mut agent);
    let lines = logs.all();
    let events = parse_json_lines("sdgx-agent", &lines);
    assert!(events.iter().any(|e| e["fields"]["message"] == "agent daemon started" && e["fields"]["agency"] == "moh"), "{}", lines.join("\n"));
    assert!(events.iter().any(|e| e["fields"]["message"].as_str().is_some_and(|m| m.starts_with("agent daemon stopped"))), "{}", lines.join("\n"));
    assert!(scrape_refused(&addr).await, "the metrics listener closes with the daemon");
}

/// Whether nothing listens at `addr` any more.
async fn scrape_refused(addr: &str) -> bool {
    reqwest::get(format!("http://{addr}/metrics")).await.is_err()
}

#[test]
fn reading_commands_refuse_a_data_directory_without_a_store_unless_told_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let coord = binary("sdgx-coordinator");
    let config = root().join("examples/federation/coordinator.toml");
    let missing = dir.path().join("mistyped");
    let out_file = dir.path().join("export.csv");
    // The audit checks signers against a CA (the example's is made by scripts/demo.sh): one of
    // the test's own, given on the command line.
    let pki = dir.path().join("pki");
    let made = Command::new(&coord).args(["ca", "init", "--dir"]).arg(&pki).args(["--name", "localhost"]).output().unwrap();
    assert!(made.status.success(), "ca init: {}", String::from_utf8_lossy(&made.stderr));
    let ca = pki.join("ca.pem");
    let commands: [Vec<&str>; 3] =
        [vec!["figures"], vec!["export", "sdmx-csv-1.0", "--out", out_file.to_str().unwrap()], vec!["audit", "verify", "--ca", ca.to_str().unwrap()]];
    for args in &commands {
        let out = Command::new(&coord).args(args).arg("--config").arg(&config).arg("--data-dir").arg(&missing).env("RUST_LOG", LEVELS).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} on a directory without a store must fail");
        assert!(stderr.contains(&missing.display().to_string()) && stderr.contains("--create"), "{args:?}: the error names the directory and the way out: {stderr}");
        assert!(!missing.exists(), "{args:?} created {}", missing.display());
        assert!(!out_file.exists(), "nothing was exported");
    }
    // With --create: an empty store, its log verified, and no ERROR logged for a fresh store.
    let fresh = dir.path().join("fresh");
    for args in &commands {
        let out = Command::new(&coord)
            .args(args)
            .arg("--create")
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&fresh)
            .args(["--log-format", "json"])
            .env("RUST_LOG", LEVELS)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?} --create: {}\n{stderr}", String::from_utf8_lossy(&out.stdout));
        let lines: Vec<String> = stderr.lines().map(str::to_owned).collect();
        if !lines.is_empty() {
            parse_json_lines(&format!("sdgx-coordinator {}", args[0]), &lines);
        }
    }
    assert!(fresh.join("store/_delta_log/00000000000000000000.json").is_file(), "the store was created");
    assert!(out_file.is_file(), "the export of the empty store was written");
    // Once it exists, no --create is needed.
    let out = run(Command::new(&coord).args(["audit", "verify", "--ca"]).arg(&ca).arg("--config").arg(&config).arg("--data-dir").arg(&fresh));
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit passed"), "{}", String::from_utf8_lossy(&out.stdout));
}
