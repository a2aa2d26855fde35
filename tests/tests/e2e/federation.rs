//! The example federation end to end, in process: a coordinator on 127.0.0.1:0 and the seven
//! example agents publishing over Arrow Flight; the figures are checked against values worked
//! out by hand from the example data (examples/federation/generate.py).

use sdgx_coordinator::catalog::Read;
use sdgx_coordinator::signoff::View;
use std::sync::Arc;

use sdgx_coordinator::figures::{self, Window};
use sdgx_e2e::{root, Running};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_federation_figures_match_hand_computed_values() {
    let r = Running::start(|_| {}).await;
    r.publish_all().await;
    let s = r.catalog.session(&r.catalog.pin(&Read::current(View::Provisional)).await.unwrap(), Window::default()).await.unwrap();
    // 8 datasets from 7 agencies: 8 commits after the table's creation (version 0).
    assert_eq!(s.store_version, 8);
    let m = figures::get::<figures::MigrationShare>(&r.catalog, Window::default(), &Read::at_version(View::Provisional, s.store_version)).await.unwrap();

    // Produced (some non-M observation): armstat 10.7.p1, 1.1.1, 1.2.1; sms 10.7.p2, 10.7.4;
    // moes 4.b.p1, 4.2.2; diaspora 17.16.p1; labour 8.5.2, 8.8.1, 8.8.2; cba 10.c.1, 17.3.2;
    // moh 3.8.1, 3.3.1 (3.1.1 is published only with obs_status M) = 15.
    assert_eq!(m.produced.len(), 15);
    // Migration-disaggregated: 10.7.p1 (NMS_RETURNED), 1.2.1, 10.7.p2 (NMS_ASYLUM_SEEKER), 4.2.2,
    // 8.5.2, 8.8.1 (its 2023 migrant cell is suppressed but the others are not), 3.3.1 = 7.
    assert_eq!(m.migration_disaggregated, ["1.2.1", "3.3.1", "4.2.2", "8.5.2", "8.8.1", "10.7.p1", "10.7.p2"]);
    // Headline 7 / 15.
    assert_eq!((m.numerator, m.denominator), (7, 15));
    assert_eq!(m.share, Some(7.0 / 15.0));
    // Migration-relevant in scope: the 82 global ones (none in goal 14) + 8.8.2 (national
    // override) + 10.7.p1 + 10.7.p2 = 85; all 7 disaggregated ones are relevant: 7 / 85.
    assert_eq!((m.migration_relevant.numerator, m.migration_relevant.denominator), (7, 85));
    // All in scope: 252 global - 10 (goal 14 out of scope) + 5 proxies = 247, less 17.18.p1,
    // the headline's own indicator, which it never counts: 7 / 246.
    assert_eq!((m.all_in_scope.numerator, m.all_in_scope.denominator), (7, 246));

    let goal = |g: &str| m.by_goal.iter().find(|r| r.key == g).unwrap_or_else(|| panic!("goal {g}"));
    let triple = |r: &figures::ShareRow| {
        let (rel, all) = (r.migration_relevant.as_ref().unwrap(), r.all_in_scope.as_ref().unwrap());
        (r.headline.numerator, r.headline.denominator, rel.numerator, rel.denominator, all.numerator, all.denominator)
    };
    // Goal 1: produced 1.1.1, 1.2.1; disaggregated 1.2.1 -> 1/2; relevant 1.1.1 1.2.1 1.2.2
    // 1.3.1 1.4.1 1.4.2 1.5.1 -> 1/7; 14 goal-1 indicators -> 1/14.
    assert_eq!(triple(goal("1")), (1, 2, 1, 7, 1, 14));
    // Goal 8: produced 8.5.2 8.8.1 8.8.2; disaggregated 8.5.2 8.8.1 -> 2/3; relevant: 7 global
    // + 8.8.2 = 8 -> 2/8; 17 goal-8 indicators -> 2/17.
    assert_eq!(triple(goal("8")), (2, 3, 2, 8, 2, 17));
    // Goal 10: produced 10.7.p1 10.7.p2 10.7.4 10.c.1; disaggregated the two proxies -> 2/4;
    // relevant 10.2.1 10.3.1 10.7.1 + the two proxies = 5 -> 2/5; 14 + 2 proxies = 16 -> 2/16.
    assert_eq!(triple(goal("10")), (2, 4, 2, 5, 2, 16));
    // Goal 17: produced 17.3.2 17.16.p1, none disaggregated -> 0/2; relevant 17.6.1 17.8.1 -> 0/2;
    // 25 + 17.16.p1 = 26 (not 17.18.p1, the headline's own indicator) -> 0/26.
    assert_eq!(triple(goal("17")), (0, 2, 0, 2, 0, 26));
    // Goal 2: nothing produced -> null share, never 0 or NaN.
    assert_eq!(goal("2").headline.share, None);
    // Goal 14 is wholly out of scope: no row at all.
    assert!(m.by_goal.iter().all(|r| r.key != "14"));

    // By agency: armstat 1.1.1 1.2.1 10.7.p1 -> 2/3; cba 0/2; labour 2/3; moh 3.3.1 of 3.3.1 3.8.1 -> 1/2.
    let agency = |a: &str| m.by_agency.iter().find(|r| r.key == a).map(|r| (r.headline.numerator, r.headline.denominator));
    assert_eq!(agency("armstat"), Some((2, 3)));
    assert_eq!(agency("cba"), Some((0, 2)));
    assert_eq!(agency("labour"), Some((2, 3)));
    assert_eq!(agency("moh"), Some((1, 2)));
    assert_eq!(m.publications.len(), 8);

    let rs = figures::get::<figures::ReportingStatus>(&r.catalog, Window::default(), &Read::at_version(View::Provisional, s.store_version)).await.unwrap();
    // Reported 15 of 247 in scope; goal 14's ten indicators are out of scope.
    assert_eq!((rs.numerator, rs.denominator), (15, 247));
    assert_eq!(rs.out_of_scope.len(), 10);
    assert!(rs.not_reported.contains(&"3.1.1".to_owned()), "3.1.1 has only obs_status M rows");

    // Sixteen identical requests at once share one computation, and later ones the same result.
    let provisional = Read::current(View::Provisional);
    let asks = (0..16).map(|_| figures::get::<figures::MigrationShare>(&r.catalog, Window::default(), &provisional));
    let answers = futures::future::try_join_all(asks).await.unwrap();
    assert!(answers.iter().all(|a| Arc::ptr_eq(a, &answers[0])), "one shared result");
    let later = figures::get::<figures::MigrationShare>(&r.catalog, Window::default(), &Read::current(View::Provisional)).await.unwrap();
    assert!(Arc::ptr_eq(&later, &answers[0]));
    assert_eq!(*later, *m, "the same figure as computed alone");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejection_replacement_and_duplicates() {
    let r = Running::start(|_| {}).await;
    r.publish_all().await;
    let before = r.catalog.session(&r.catalog.pin(&Read::current(View::Provisional)).await.unwrap(), Window::default()).await.unwrap();
    let fig_before = figures::get::<figures::MigrationShare>(&r.catalog, Window::default(), &Read::at_version(View::Provisional, before.store_version)).await.unwrap();

    // A bad file from labour: an unknown sex code on data row 2.
    let tmp = tempfile::tempdir().unwrap();
    let src = root().join("examples/federation/labour/labour-market.csv");
    let text = std::fs::read_to_string(&src).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[2] = lines[2].replacen(",_T,Y_GE15,", ",W,Y_GE15,", 1);
    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    // Publish it straight over Flight, bypassing the agent's local check, as a broken or
    // hostile client would.
    let contract = Arc::new(sdgx_agent::contract(&r.agent("labour")).unwrap());
    let mut client = sdgx_agent::client::connect(&r.flight, &Default::default(), None).await.unwrap();
    let manifest_path = root().join("examples/federation/labour/labour-market.manifest.toml");
    let manifest = sdgx_schemas::Manifest::from_toml(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    let up = sdgx_agent::publish::Upload { manifest: &manifest, data: &bad, format: sdgx_agent::config::Format::Csv, rows: 0, framework: None, signature: None, known_head: None };
    let err = sdgx_agent::publish::send(&mut client, &r.flight, contract.clone(), up, 1000).await.unwrap_err();
    let sdgx_agent::Error::Rejected(report) = err else { panic!("expected a rejection with its report, got {err}") };
    assert_eq!((report.agency.as_str(), report.dataset.as_str()), ("labour", "labour-market"));
    let p = &report.errors[0];
    assert_eq!((p.rule.id(), p.row, p.column.as_deref(), p.value.as_deref()), ("unknown_code", Some(2), Some("sex"), Some("W")));

    // Nothing changed: same version, same figures.
    let after = r.catalog.session(&r.catalog.pin(&Read::current(View::Provisional)).await.unwrap(), Window::default()).await.unwrap();
    assert_eq!(after.store_version, before.store_version);
    let fig_after = figures::get::<figures::MigrationShare>(&r.catalog, Window::default(), &Read::at_version(View::Provisional, after.store_version)).await.unwrap();
    assert_eq!(fig_after, fig_before);

    // Re-sending identical content: acknowledged as a duplicate, no new version.
    let again = sdgx_agent::run(&r.agent("cba"), false).await.unwrap();
    let ack = again[0].sent.as_ref().unwrap().as_ref().unwrap();
    assert!(ack.duplicate);
    assert_eq!(r.catalog.session(&r.catalog.pin(&Read::current(View::Provisional)).await.unwrap(), Window::default()).await.unwrap().store_version, before.store_version);

    // Republication with other content replaces the old rows: health without 3.3.1's migrant rows.
    let health = root().join("examples/federation/moh/health.csv");
    let health_text = std::fs::read_to_string(&health).unwrap();
    let kept: Vec<&str> = health_text.lines().filter(|l| !l.contains("MIGRANT")).collect();
    let new_src = tmp.path().join("health.csv");
    std::fs::write(&new_src, kept.join("\n") + "\n").unwrap();
    let mut cfg = r.agent("moh");
    cfg.datasets[0].source = new_src;
    let out = sdgx_agent::run(&cfg, false).await.unwrap();
    let ack = out[0].sent.as_ref().unwrap().as_ref().unwrap();
    assert!(!ack.duplicate);
    assert_eq!(ack.store_version, before.store_version + 1);
    let s = r.catalog.session(&r.catalog.pin(&Read::current(View::Provisional)).await.unwrap(), Window::default()).await.unwrap();
    let m = figures::get::<figures::MigrationShare>(&r.catalog, Window::default(), &Read::at_version(View::Provisional, s.store_version)).await.unwrap();
    // 3.3.1 is still produced (totals) but no longer migration-disaggregated: 6 / 15.
    assert_eq!((m.numerator, m.denominator), (6, 15));
    let rows = s.ctx.sql("SELECT count(*) FROM observations WHERE agency = 'moh'").await.unwrap().collect().await.unwrap();
    let n = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(rows[0].column(0)).value(0);
    assert_eq!(n, 9, "15 rows minus the 6 migrant/non-migrant rows of 3.3.1");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_as_of_an_earlier_version_are_reproducible() {
    use sdgx_coordinator::catalog::AsOf;
    let r = Running::start(|_| {}).await;
    for a in ["armstat", "sms", "moes"] {
        for o in sdgx_agent::run(&r.agent(a), false).await.unwrap() {
            o.sent.unwrap().unwrap();
        }
    }
    let store = r.catalog.store().clone();
    let v = store.version().await;
    assert_eq!(v, 4, "armstat's two datasets, sms and moes");
    let at = store.committed_at(v).await.unwrap();
    let all = |as_of: AsOf| {
        let catalog = r.catalog.clone();
        async move {
            let mut out = Vec::new();
            for kind in figures::FigureKind::ALL {
                out.push(figures::compute(&catalog, kind, Window::default(), &Read { view: View::Provisional, as_of: Some(as_of.clone()) }).await.unwrap());
            }
            out
        }
    };
    let before = all(AsOf::Version(v)).await;
    // More publications arrive.
    for a in ["diaspora", "labour", "cba", "moh"] {
        for o in sdgx_agent::run(&r.agent(a), false).await.unwrap() {
            o.sent.unwrap().unwrap();
        }
    }
    assert_eq!(store.version().await, 8);
    // The same as_of, by version or by a timestamp at (or after) that commit: identical output.
    assert_eq!(all(AsOf::Version(v)).await, before);
    assert_eq!(all(AsOf::Text(at.to_rfc3339())).await, before);
    let just_before_next = store.committed_at(v + 1).await.unwrap() - chrono::Duration::milliseconds(1);
    if just_before_next >= at {
        assert_eq!(all(AsOf::Text(just_before_next.to_rfc3339())).await, before);
    }
    // ... and the current figures differ (more indicators produced now).
    let now = figures::compute(&r.catalog, figures::FigureKind::MigrationDisaggregationShare, Window::default(), &Read::current(View::Provisional)).await.unwrap();
    assert_ne!(now, before[0]);
    // A time before the store existed, a version that does not exist, and nonsense are errors.
    let early = figures::compute(&r.catalog, figures::FigureKind::MigrationDisaggregationShare, Window::default(), &Read { view: View::Provisional, as_of: Some(AsOf::Text("2001-01-01T00:00:00Z".into())) }).await;
    assert!(early.unwrap_err().to_string().contains("did not exist yet"));
    let future = figures::compute(&r.catalog, figures::FigureKind::MigrationDisaggregationShare, Window::default(), &Read { view: View::Provisional, as_of: Some(AsOf::Version(99)) }).await;
    assert!(future.unwrap_err().to_string().contains("does not exist"));
    let bad = figures::compute(&r.catalog, figures::FigureKind::MigrationDisaggregationShare, Window::default(), &Read { view: View::Provisional, as_of: Some(AsOf::Text("yesterday".into())) }).await;
    assert!(bad.unwrap_err().to_string().contains("neither a store version nor an RFC 3339 timestamp"));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_read_their_own_reporting_calendar_over_http() {
    use sdgx_coordinator::auth::{Role, Tokens};
    let (moh_token, moh) = Tokens::create("moh", Role::Agency);
    let (reader_token, reader) = Tokens::create("analyst", Role::Reader);
    let r = Running::start(|c| c.security.tokens = vec![moh, reader]).await;
    r.publish_all().await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("moh.token");
    std::fs::write(&token_file, format!("{moh_token}\n")).unwrap();
    let mut cfg = r.agent("moh");
    cfg.coordinator_http = Some(format!("http://{}", r.http));
    cfg.token_file = Some(token_file.clone());
    let cal = sdgx_agent::status::calendar(&cfg).await.unwrap();
    // examples/federation/coordinator.toml: moh owes health, annual 2021-2025, 180 days after
    // each year. It published 2021-2023 today (long after their due dates): received late;
    // 2024 (due 2025-06-29) and 2025 (due 2026-06-29) are overdue.
    let rows: Vec<(&str, &str, &str)> = cal.reports.iter().map(|r| (r.period.as_str(), r.due.as_str(), r.status.as_str())).collect();
    assert_eq!(
        rows,
        [
            ("2021", "2022-06-29", "received_late"),
            ("2022", "2023-06-29", "received_late"),
            ("2023", "2024-06-28", "received_late"),
            ("2024", "2025-06-29", "overdue"),
            ("2025", "2026-06-29", "overdue"),
        ]
    );
    assert!(sdgx_agent::status::render(&cal).contains("2 overdue"));

    // An agency token reads only its own calendar, and nothing else: no figures, no SQL.
    cfg.agency = "cba".into();
    let e = sdgx_agent::status::calendar(&cfg).await.unwrap_err().to_string();
    assert!(e.contains("403") && e.contains("only its own calendar"), "{e}");
    let client = reqwest::Client::new();
    let get = |path: &str, token: &str| client.get(format!("http://{}{path}", r.http)).bearer_auth(token).send();
    assert_eq!(get("/api/v1/figures/migration-disaggregation-share", &moh_token).await.unwrap().status(), 403);
    assert_eq!(get("/api/v1/publications", &moh_token).await.unwrap().status(), 403);
    // A reader may read any agency's calendar; nobody may without a token.
    assert_eq!(get("/api/v1/calendar/cba", &reader_token).await.unwrap().status(), 200);
    assert_eq!(client.get(format!("http://{}/api/v1/calendar/moh", r.http)).send().await.unwrap().status(), 401);
    // Nor may an agency token use Flight SQL.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", r.analyst_flight.unwrap())).unwrap().connect().await.unwrap();
    let mut sql = arrow_flight::sql::client::FlightSqlServiceClient::new(channel);
    let e = sql.handshake("moh", &moh_token).await.unwrap_err().to_string();
    assert!(e.contains("Flight SQL needs reader or admin"), "{e}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_figures_on_the_example_federation() {
    use sdgx_coordinator::figures::Figure;
    let r = Running::start(|_| {}).await;
    r.publish_all().await;
    let get = |name: &'static str| {
        let catalog = r.catalog.clone();
        async move { figures::compute(&catalog, name.parse().unwrap(), Window::default(), &Read::current(View::Provisional)).await.unwrap() }
    };
    // Migrant gap: total rows with MS_MIGRANT and MS_NOMIGRANT of 1.2.1 (2021-2023), 3.3.1
    // (2021-2023), 4.2.2 (2021-2023) and 8.8.1 (2021, 2022: its 2023 migrant cell is
    // suppressed) = 11. 8.5.2's migrant rows are crossed with sex and age: no pair.
    let Figure::MigrantGap(g) = get("migrant-gap").await else { panic!() };
    assert_eq!(g.rows.len(), 11);
    let row = g.rows.iter().find(|x| x.indicator == "8.8.1" && x.time_period == "2021").unwrap();
    // labour-market.csv: 8.8.1 2021 migrant 3.6, non-migrant 2.2 per 100,000 employed.
    assert_eq!((row.migrant, row.non_migrant, row.unit_measure.as_str()), (3.6, 2.2, "PER_100000_EMP"));
    assert!((row.difference - 1.4).abs() < 1e-9 && (row.ratio.unwrap() - 3.6 / 2.2).abs() < 1e-9);
    assert!(!g.rows.iter().any(|x| x.indicator == "8.8.1" && x.time_period == "2023"));

    // Completeness (calendar of examples/federation/coordinator.toml, all due dates passed):
    // 7 datasets owe 2021-2024 (4 each) and moh's health 2021-2025 (5) = 33 reports; each
    // dataset carries 2021-2023: 8 x 3 = 24 received, all after their due dates: none on time.
    let Figure::Completeness(c) = get("agency-completeness").await else { panic!() };
    assert_eq!((c.national.expected, c.national.received, c.national.on_time), (33, 24, 0));
    let moh = c.by_agency.iter().find(|a| a.key == "moh").unwrap();
    assert_eq!((moh.expected, moh.received, moh.completeness, moh.timeliness), (5, 3, Some(0.6), Some(0.0)));
    let armstat = c.by_agency.iter().find(|a| a.key == "armstat").unwrap();
    assert_eq!((armstat.expected, armstat.received), (8, 6), "two datasets");

    // Coverage: 8.5.2 (labour) is broken down by sex, age and migratory status; 10.c.1 by nothing.
    let Figure::CoverageMatrix(m) = get("coverage-matrix").await else { panic!() };
    let cells = |ind: &str| m.rows.iter().find(|x| x.indicator == ind).unwrap().cells.clone();
    let c852 = cells("8.5.2");
    assert!(c852["sex"].covered && c852["age"].covered && c852["migratory_status"].covered);
    assert_eq!(c852["migratory_status"].codes, ["MS_MIGRANT", "MS_NOMIGRANT"]);
    assert!(!c852["disability_status"].covered && !c852["geography"].covered);
    assert!(cells("10.c.1").values().all(|c| !c.covered));
    assert_eq!(m.rows.len(), 247, "every in-scope indicator has a row");

    // Disaggregation status: cba's 10.c.1 and 17.3.2 expect no breakdown: not applicable.
    let Figure::DisaggregationStatus(d) = get("disaggregation-status").await else { panic!() };
    let cba = d.by_agency.iter().find(|a| a.key == "cba").unwrap();
    assert_eq!((cba.not_applicable, cba.indicators), (2, 2));
    assert_eq!(d.national.indicators, 247);
    assert_eq!(d.national.complete + d.national.in_progress + d.national.not_started + d.national.not_applicable, 247);
    let s112 = d.indicators.iter().find(|i| i.indicator == "1.1.1").unwrap();
    assert_eq!(s112.status, "not_started", "1.1.1 is published as totals only");
    r.stop().await;
}
