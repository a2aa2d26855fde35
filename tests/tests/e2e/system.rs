//! A system of systems in one process, every level over mutual TLS with a CA of its own:
//!
//! ```text
//! province (Yerevan, AM-ER) ──► nation (Armenia, AM) ──► region ◄── nation (Georgia, GE)
//!   agency yerevan               agency armstat            (global framework)
//! ```
//!
//! Each coordinator publishes its official view upstream as an agency of the one above (the
//! province as `am-er` of Armenia, Armenia as `am` and Georgia as `ge` of the region), through
//! the agent library's outbox; the link from Armenia to the region runs through a fault proxy.
//! Checked against hand arithmetic: what arrives where (and only once), when (on approval, at
//! an embargo's end, after an outage), what is left out (a national proxy the region's
//! framework does not know), the provenance kept, the headline at each level, the area rule
//! (Georgia may not publish Armenian rows), and `audit verify` everywhere.
//!
//! The coordinators share one manual clock, so the embargo ends when the test moves it.

use std::path::Path;
use std::time::Duration;

use sdgx_agent::config::{DatasetConfig, TlsConfig};
use sdgx_coordinator::auth::AgencyEntry;
use sdgx_coordinator::catalog::Read;
use sdgx_coordinator::clock::Clock;
use sdgx_coordinator::entry::PublicationEntry;
use sdgx_coordinator::figures::{self, MigrationShare, Window};
use sdgx_coordinator::signoff::{Action, Request, View};
use sdgx_coordinator::upstream::UpstreamConfig;
use sdgx_coordinator::Config;
use sdgx_e2e::{FaultProxy, Running};

const HEADER: &str = "indicator,series,ref_area,time_period,sex,age,education_lev,cust_breakdown,composite_breakdown,migratory_status,obs_value,unit_measure,obs_status,conf_status,nature,comment_obs";

/// A contract CSV row of `indicator`/`series` for `area` in 2023 with `migratory_status`.
fn row(indicator: &str, series: &str, area: &str, migratory_status: &str, value: f64) -> String {
    format!("{indicator},{series},{area},2023,_T,_T,_T,_T,_T,{migratory_status},{value},PT,,,C,")
}

/// Writes dataset `dataset` of `agency` (its manifest and CSV) under `dir`.
fn dataset(dir: &Path, agency: &str, dataset: &str, indicators: &[&str], rows: &[String]) -> DatasetConfig {
    let manifest = dir.join(format!("{agency}-{dataset}.manifest.toml"));
    let list = indicators.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>().join(", ");
    std::fs::write(
        &manifest,
        format!("agency = {agency:?}\ndataset = {dataset:?}\ntitle = \"{dataset} (synthetic)\"\nindicators = [{list}]\nperiodicity = \"A\"\n[reference_period]\nstart = \"2023\"\nend = \"2023\"\n"),
    )
    .unwrap();
    let source = dir.join(format!("{agency}-{dataset}.csv"));
    std::fs::write(&source, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
    DatasetConfig { manifest, source, format: None, compute: None }
}

/// `level`'s mutual TLS for a client named `agency` (its CA issues the certificate unless it
/// did already: the example agencies have theirs).
fn client_tls(level: &Running, agency: &str) -> TlsConfig {
    let pki = level.pki.as_ref().expect("mutual TLS");
    let (cert, key) = (pki.join(format!("agents/{agency}.pem")), pki.join(format!("agents/{agency}.key")));
    if !key.exists() {
        sdgx_coordinator::pki::issue_agent(pki, agency, 30).expect("certificate");
    }
    TlsConfig { ca: pki.join("ca.pem"), cert, key, domain: Some("localhost".into()) }
}

/// A coordinator level: `national_area`, the Armenian framework or the global one, the
/// registry `agencies`, fast release looks; then `tweak`.
async fn level(clock: &Clock, area: &str, armenian: bool, agencies: Vec<AgencyEntry>, tweak: impl FnOnce(&mut Config)) -> Running {
    let area = area.to_owned();
    Running::start_mtls_with(clock.clone(), move |c| {
        c.national_area = area;
        if !armenian {
            c.national_framework = None;
            c.national_codelists = None;
        }
        c.calendar.clear();
        c.security.agencies = agencies;
        c.release_poll_ms = 50;
        c.publish_derived = true;
        tweak(c);
    })
    .await
}

fn agency(id: &str, datasets: &[&str], areas: &[&str]) -> AgencyEntry {
    AgencyEntry { id: id.into(), name: id.into(), datasets: datasets.iter().map(|d| d.to_string()).collect(), areas: areas.iter().map(|a| a.to_string()).collect() }
}

/// `[upstream]` towards `url`, as `agency`, retrying fast.
fn upstream(url: String, agency: &str, tls: TlsConfig) -> UpstreamConfig {
    let mut u = UpstreamConfig { coordinator: url, agency: agency.into(), tls: Some(tls), ..UpstreamConfig::default() };
    u.delivery.initial_backoff_ms = 50;
    u.delivery.max_backoff_ms = 300;
    u
}

/// Publishes `datasets` to `level` as `agency`; returns each acknowledged publication's id.
async fn publish(level: &Running, agency: &str, tls: TlsConfig, datasets: Vec<DatasetConfig>, outbox: &Path) -> Vec<sdgx_agent::Result<sdgx_schemas::flight::Ack>> {
    let config = sdgx_agent::Config {
        agency: agency.into(),
        coordinator: level.flight.clone(),
        tls: Some(tls),
        outbox: outbox.to_owned(),
        datasets,
        ..sdgx_agent::Config::default()
    };
    sdgx_agent::run(&config, false).await.expect("the agent runs").into_iter().map(|o| o.sent.expect("sent")).collect()
}

/// The publications of `level`'s log (every accepted version).
async fn log(level: &Running) -> Vec<PublicationEntry> {
    level.catalog.store().publications().await
}

/// The log's publications of `agency/dataset` at `level`.
async fn versions(level: &Running, agency: &str, dataset: &str) -> Vec<PublicationEntry> {
    log(level).await.into_iter().filter(|e| e.agency == agency && e.dataset == dataset).collect()
}

/// Waits (polling, at most a minute) until `level` holds `n` versions of `agency/dataset`.
async fn arrives(level: &Running, agency: &str, dataset: &str, n: usize) -> Vec<PublicationEntry> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let v = versions(level, agency, dataset).await;
        if v.len() >= n {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "{agency}/{dataset} did not arrive ({} of {n} versions; the log above says why)", v.len());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// `level`'s approver `nso` approves `publication_id`, released at `release_at` (now if none).
async fn approve(level: &Running, publication_id: &str, release_at: Option<chrono::DateTime<chrono::Utc>>) {
    let store = level.catalog.store();
    let request = Request { release_at: release_at.map(|t| t.to_rfc3339()), reason: None };
    store.decide(publication_id, Action::Approve, "nso", &request, level.catalog.clock().now().unwrap()).await.expect("approved");
}

async fn headline(level: &Running, view: View) -> MigrationShare {
    figures::owned::<MigrationShare>(&level.catalog, Window::default(), &Read::current(view)).await.expect("headline")
}

async fn audit_passes(level: &Running, name: &str) {
    let report = sdgx_coordinator::audit::verify(&level.catalog).await.expect("audit runs");
    assert!(report.first_mismatch.is_none(), "{name}: {report}");
}

/// The agents' Flight address of `level` (its URL names `localhost`, as its certificate does).
fn address(level: &Running) -> std::net::SocketAddr {
    let port: u16 = level.flight.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port");
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}


#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn provinces_nations_and_a_region_publish_upstream_exactly_once() {
    // The coordinators' logs, shown when the test fails.
    let _ = tracing_subscriber::fmt().with_env_filter("warn,sdgx_coordinator=info,sdgx_agent=info").with_test_writer().try_init();
    let tmp = tempfile::tempdir().unwrap();
    let t0 = chrono::Utc::now();
    let clock = Clock::manual(t0);

    // The region: Armenia (as `am`) and Georgia (as `ge`) may publish only their own areas.
    let region = level(
        &clock,
        "145",
        false,
        vec![
            agency("am", &["armstat--poverty", "am-er--yerevan--lfs"], &["AM", "AM-*"]),
            agency("ge", &["geostat--lfs", "geostat--stray"], &["GE", "GE-*"]),
        ],
        // The global framework, with codelists that know its members' provinces (AM-ER).
        |c| c.national_codelists = Some(sdgx_e2e::root().join("examples/armenia/codelists.csv")),
    )
    .await;
    let proxy = FaultProxy::start().await;
    let am_at_region = client_tls(&region, "am");
    let ge_at_region = client_tls(&region, "ge");
    // Armenia publishes to the region through the proxy, which refuses connections for now.
    let to_region = format!("https://{}", proxy.addr);
    let armenia = level(&clock, "AM", true, vec![agency("armstat", &["poverty"], &[]), agency("am-er", &["yerevan--lfs", "sdgx--headline"], &["AM-ER"])], |c| {
        c.upstream = Some(upstream(to_region, "am", am_at_region));
    })
    .await;
    let am_er_at_armenia = client_tls(&armenia, "am-er");
    let yerevan = level(&clock, "AM-ER", true, vec![agency("yerevan", &["lfs"], &[])], |c| {
        c.upstream = Some(upstream(armenia.flight.clone(), "am-er", am_er_at_armenia));
    })
    .await;
    let georgia = level(&clock, "GE", false, vec![agency("geostat", &["lfs"], &[])], |c| {
        c.upstream = Some(upstream(region.flight.clone(), "ge", ge_at_region.clone()));
    })
    .await;

    // 1. The province: Yerevan's labour-force survey, 8.5.2 by migratory status.
    let lfs = dataset(
        tmp.path(),
        "yerevan",
        "lfs",
        &["8.5.2"],
        &[
            row("8.5.2", "SL_TLF_UEM", "AM-ER", "_T", 12.0),
            row("8.5.2", "SL_TLF_UEM", "AM-ER", "MS_MIGRANT", 15.0),
            row("8.5.2", "SL_TLF_UEM", "AM-ER", "MS_NOMIGRANT", 11.0),
        ],
    );
    let acks = publish(&yerevan, "yerevan", client_tls(&yerevan, "yerevan"), vec![lfs], &tmp.path().join("outbox-yerevan")).await;
    let yerevan_pub = acks[0].as_ref().expect("accepted").publication_id.clone();
    // Not approved in the province: nothing goes up.
    assert!(versions(&armenia, "am-er", "yerevan--lfs").await.is_empty());
    approve(&yerevan, &yerevan_pub, None).await;
    let at_armenia = arrives(&armenia, "am-er", "yerevan--lfs", 1).await;
    assert_eq!(at_armenia[0].rows, 3, "every row goes up");
    let origin = &at_armenia[0].manifest.provenance;
    assert_eq!(origin.len(), 1);
    assert_eq!((origin[0].agency.as_str(), origin[0].dataset.as_str(), origin[0].publication_id.as_str()), ("yerevan", "lfs", yerevan_pub.as_str()));
    // The province's official headline: 8.5.2 produced and migration-disaggregated: 1 / 1.
    let h = headline(&yerevan, View::Official).await;
    assert_eq!((h.numerator, h.denominator), (1, 1));
    // ... which the province published as its own 17.18.p1 observation (2023: 100 %), and
    // which went up like any dataset (Armenia's framework defines 17.18.p1).
    let derived = arrives(&armenia, "am-er", "sdgx--headline", 1).await;
    assert_eq!((derived[0].rows, derived[0].manifest.indicators.as_slice()), (1, ["17.18.p1".to_owned()].as_slice()));
    assert_eq!(derived[0].manifest.provenance[0].agency, "sdgx", "the province's own derived dataset");
    // In Armenia it is submitted, not approved: the official view does not count it yet.
    assert_eq!(headline(&armenia, View::Official).await.denominator, 0);

    // 2. The nation: ArmStat's poverty rates, with the national proxy 10.7.p1 (returned
    // migrants), approved with an embargo of an hour; the province's approved now.
    let poverty = dataset(
        tmp.path(),
        "armstat",
        "poverty",
        &["1.1.1", "10.7.p1"],
        &[row("1.1.1", "SI_POV_DAY1", "AM", "_T", 1.1), row("10.7.p1", "AM_RET_PAIDWORK", "AM", "NMS_RETURNED", 56.7)],
    );
    let acks = publish(&armenia, "armstat", client_tls(&armenia, "armstat"), vec![poverty], &tmp.path().join("outbox-armstat")).await;
    let poverty_pub = acks[0].as_ref().expect("accepted").publication_id.clone();
    approve(&armenia, &poverty_pub, Some(t0 + chrono::Duration::hours(1))).await;
    approve(&armenia, &at_armenia[0].publication_id, None).await;
    // The region cannot be reached: Armenia's relay waits in its outbox.
    proxy.wait_refused(2).await;
    assert!(log(&region).await.is_empty(), "nothing reached the region");
    // Armenia's official headline now: 8.5.2 only (the poverty rates are under embargo): 1 / 1.
    let h = headline(&armenia, View::Official).await;
    assert_eq!((h.numerator, h.denominator), (1, 1));

    // 3. The link comes back: the province's rows reach the region, once.
    proxy.forward_to(Some(address(&region)));
    let lfs_at_region = arrives(&region, "am", "am-er--yerevan--lfs", 1).await;
    let chain: Vec<(&str, &str)> = lfs_at_region[0].manifest.provenance.iter().map(|o| (o.agency.as_str(), o.dataset.as_str())).collect();
    assert_eq!(chain, [("am-er", "yerevan--lfs"), ("yerevan", "lfs")], "the region names every hop down to the agency");
    assert_eq!(lfs_at_region[0].manifest.provenance[0].publication_id, at_armenia[0].publication_id);
    assert!(versions(&region, "am", "armstat--poverty").await.is_empty(), "still under embargo in Armenia");

    // 4. The embargo ends (the clock passes the release time): relayed with no restart. 10.7.p1
    // is not in the region's (global) framework: its row stays national.
    clock.set(t0 + chrono::Duration::hours(2));
    let poverty_at_region = arrives(&region, "am", "armstat--poverty", 1).await;
    assert_eq!(poverty_at_region[0].rows, 1, "only 1.1.1 goes up");
    assert_eq!(poverty_at_region[0].manifest.indicators, ["1.1.1"]);
    let h = headline(&armenia, View::Official).await;
    // Armenia: produced 8.5.2, 1.1.1, 10.7.p1; migration-disaggregated 8.5.2 (MS_*) and
    // 10.7.p1 (NMS_RETURNED): 2 / 3.
    assert_eq!((h.numerator, h.denominator), (2, 3));

    // 5. Georgia: 8.5.2 without any migration breakdown.
    let ge_lfs = dataset(tmp.path(), "geostat", "lfs", &["8.5.2"], &[row("8.5.2", "SL_TLF_UEM", "GE", "_T", 10.0)]);
    let acks = publish(&georgia, "geostat", client_tls(&georgia, "geostat"), vec![ge_lfs], &tmp.path().join("outbox-geostat")).await;
    approve(&georgia, &acks[0].as_ref().expect("accepted").publication_id, None).await;
    arrives(&region, "ge", "geostat--lfs", 1).await;

    // 6. The region: produced 8.5.2 (AM-ER, GE) and 1.1.1 (AM); migration-disaggregated 8.5.2:
    // 1 / 2. Official once the region's own office approves what arrived.
    let h = headline(&region, View::Provisional).await;
    assert_eq!((h.numerator, h.denominator), (1, 2));
    assert_eq!(headline(&region, View::Official).await.denominator, 0, "nothing approved at the region yet");
    for e in log(&region).await {
        approve(&region, &e.publication_id, None).await;
    }
    let h = headline(&region, View::Official).await;
    assert_eq!((h.numerator, h.denominator, h.share), (1, 2, Some(0.5)));

    // 7. Exactly once: one version of each dataset at each level, though Armenia's relay was
    // refused twice and every coordinator looked at its official view every 50 ms throughout.
    let mut datasets: Vec<(String, String)> = log(&region).await.into_iter().map(|e| (e.agency, e.dataset)).collect();
    datasets.sort();
    assert_eq!(
        datasets,
        [("am", "am-er--yerevan--lfs"), ("am", "armstat--poverty"), ("ge", "geostat--lfs")].map(|(a, d)| (a.to_owned(), d.to_owned()))
    );
    assert_eq!(versions(&armenia, "am-er", "yerevan--lfs").await.len(), 1);

    // 8. The area rule: Georgia's certificate may not publish Armenian rows, even as its own
    // agency and a registered dataset.
    let stray = dataset(tmp.path(), "ge", "geostat--stray", &["1.1.1"], &[row("1.1.1", "SI_POV_DAY1", "AM", "_T", 2.0)]);
    let refused = publish(&region, "ge", ge_at_region, vec![stray], &tmp.path().join("outbox-ge-stray")).await;
    let e = refused[0].as_ref().expect_err("refused").to_string();
    assert!(e.contains("ref_area_not_allowed") && e.contains("\"AM\"") && e.contains("row 1"), "{e}");
    assert!(versions(&region, "ge", "geostat--stray").await.is_empty(), "nothing stored");

    // 9. Every level's log verifies.
    for (l, name) in [(&yerevan, "province"), (&armenia, "Armenia"), (&georgia, "Georgia"), (&region, "region")] {
        audit_passes(l, name).await;
    }
}
