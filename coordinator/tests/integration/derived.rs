//! The coordinator's derived dataset in process (coordinator/src/derived.rs): published and
//! approved automatically once, a repeat call commits and records nothing, the audit passes and
//! still refuses what the sign-off rules forbid, and no agent may publish as the reserved
//! agency. The values themselves are checked by hand in tests/slt/derived.slt.

use crate::common;

use std::path::Path;
use std::sync::Arc;

use sdgx_coordinator::auth::{AgencyEntry, Registry};
use sdgx_coordinator::catalog::{Catalog, Registers};
use sdgx_coordinator::clock::Clock;
use sdgx_coordinator::derived;
use sdgx_coordinator::error::Error;
use sdgx_coordinator::figures::{self, Source};
use sdgx_coordinator::ingest::{authorize, Publisher};
use sdgx_coordinator::signoff::{Action, Request, SYSTEM};
use sdgx_coordinator::store::Store;
use sdgx_coordinator::Config;
use sdgx_schemas::{Contract, ValidationOptions};

const AGENCY: &str = "sdgx";

struct Fixture {
    dir: tempfile::TempDir,
    store: Arc<Store>,
    contract: Arc<Contract>,
    catalog: Catalog,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = url::Url::from_directory_path(dir.path().join("store")).unwrap();
    let store = Arc::new(Store::open(url, Default::default(), dir.path(), true).await.unwrap());
    let slt = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt/framework_headline.toml");
    let contract = Arc::new(Contract::load(None, Some(&slt)).unwrap());
    let registers = Registers { national_area: "AM".into(), derived_agency: Some(AGENCY.into()), ..Default::default() };
    let catalog = Catalog::new(contract.clone(), store.clone(), registers, 256 << 20, figures::views(Source::Facts))
        .with_clock(Clock::manual(chrono::Utc::now()));
    Fixture { dir, store, contract, catalog }
}

impl Fixture {
    /// Publishes `csv` as agency-a's ds-one and has the approver `nso` approve it.
    async fn publish_and_approve(&self, csv: &str) -> String {
        let ack = common::publish(&self.contract, &self.store, self.dir.path(), "agency-a", "ds-one", csv).await.unwrap();
        self.decide(&ack.publication_id, Action::Approve, "nso").await.unwrap();
        ack.publication_id
    }

    async fn decide(&self, id: &str, action: Action, by: &str) -> sdgx_coordinator::Result<()> {
        let reason = (action != Action::Approve).then(|| "test".to_owned());
        let now = self.catalog.clock().now()?;
        self.store.decide(id, action, by, &Request { release_at: None, reason }, now).await.map(drop)
    }

    async fn audit(&self) -> sdgx_coordinator::audit::AuditReport {
        sdgx_coordinator::audit::verify(&self.catalog).await.unwrap()
    }
}

const CSV: &str = "indicator,ref_area,time_period,migratory_status,obs_value,unit_measure\n\
                   1.1.1,AM,2021,_T,10,PT\n1.1.1,AM,2021,MS_MIGRANT,12,PT\n1.2.1,AM,2022,_T,5,PT\n";

#[tokio::test]
async fn publishing_twice_commits_and_decides_once_and_the_audit_passes() {
    let f = fixture().await;
    f.publish_and_approve(CSV).await;
    assert_eq!(f.store.version().await, 2);

    let first = derived::publish(&f.catalog, ValidationOptions::default(), AGENCY).await.unwrap().expect("a derived dataset");
    assert!(!first.duplicate);
    assert_eq!((first.entry.store_version, first.basis_version), (3, 2));
    let approval = first.approval.expect("approved automatically");
    assert_eq!((approval.by.as_str(), approval.action, approval.store_version), (SYSTEM, Action::Approve, 4));
    assert_eq!(approval.release_at.as_deref(), Some(approval.decided_at.as_str()), "released at once");
    assert!(approval.reason.as_deref().unwrap().contains("official view at store version 2"), "{:?}", approval.reason);
    // 2021: 1.1.1 disaggregated of {1.1.1}: 100 %; 2022: 0 of {1.2.1}: 0 %.
    let years: Vec<(i32, f64, i64, i64)> = first.years.iter().map(|y| (y.year, y.value, y.numerator, y.denominator)).collect();
    assert_eq!(years, [(2021, 100.0, 1, 1), (2022, 0.0, 0, 1)]);
    let m = &first.entry.manifest;
    assert_eq!((m.agency.as_str(), m.dataset.as_str(), m.indicators.as_slice()), (AGENCY, derived::DATASET, ["17.18.p1".to_owned()].as_slice()));
    assert_eq!((m.reference_period.start.as_str(), m.reference_period.end.as_str(), m.withdraw), ("2021", "2022", false));
    assert_eq!(first.entry.rows, 2);

    let again = derived::publish(&f.catalog, ValidationOptions::default(), AGENCY).await.unwrap().expect("still derived");
    assert!(again.duplicate && again.approval.is_none(), "{again:?}");
    assert_eq!(again.entry.publication_id, first.entry.publication_id);
    assert_eq!(f.store.version().await, 4, "no second version, no second decision");
    assert_eq!(f.store.decisions().await.len(), 2);

    let report = f.audit().await;
    assert!(report.first_mismatch.is_none(), "{report}");
    assert_eq!(report.entries, 4);
}

#[tokio::test]
async fn the_coordinators_decisions_keep_to_their_rules() {
    let f = fixture().await;
    let ministry = f.publish_and_approve(CSV).await;
    let derived = derived::publish(&f.catalog, ValidationOptions::default(), AGENCY).await.unwrap().unwrap();
    let id = derived.entry.publication_id;
    // No person decides on the derived dataset once the coordinator has.
    let e = f.decide(&id, Action::Unapprove, "nso").await.unwrap_err();
    assert!(matches!(e, Error::PermissionDenied(_)) && e.to_string().contains("approved automatically"), "{e}");
    // The coordinator only approves, and only its own agency's publications.
    let e = f.decide(&ministry, Action::Unapprove, SYSTEM).await.unwrap_err();
    assert!(matches!(e, Error::PermissionDenied(_)) && e.to_string().contains("only approves"), "{e}");
    let next = common::publish(&f.contract, &f.store, f.dir.path(), "agency-a", "ds-one", &CSV.replace("12,PT", "13,PT")).await.unwrap();
    let e = f.decide(&next.publication_id, Action::Approve, SYSTEM).await.unwrap_err();
    assert!(matches!(e, Error::PermissionDenied(_)) && e.to_string().contains("agency agency-a"), "{e}");
    assert!(f.audit().await.first_mismatch.is_none());
}

#[tokio::test]
async fn the_audit_holds_automatic_decisions_to_the_configured_derived_agency() {
    let f = fixture().await;
    f.publish_and_approve(CSV).await;
    // Published as another agency than the one configured: the store records it (it does not
    // know the setting), the full audit names the decision.
    derived::publish(&f.catalog, ValidationOptions::default(), "other").await.unwrap().unwrap();
    let report = f.audit().await;
    let m = report.first_mismatch.expect("the audit refuses it");
    assert_eq!((m.store_version, m.agency.as_str()), (4, "other"));
    assert!(m.reason.contains(SYSTEM) && m.reason.contains("agency sdgx"), "{m}");
}

#[test]
fn no_agent_or_token_publishes_as_the_reserved_agency() {
    let entry = AgencyEntry { id: AGENCY.into(), name: String::new(), datasets: vec![derived::DATASET.into()], areas: vec![] };
    let registry = Registry::new(vec![entry.clone()]).reserving(AGENCY);
    let manifest = sdgx_schemas::Manifest::from_toml(
        "agency = \"sdgx\"\ndataset = \"headline\"\ntitle = \"t\"\nindicators = [\"17.18.p1\"]\nperiodicity = \"A\"\n[reference_period]\nstart = \"2021\"\nend = \"2021\"\n",
    )
    .unwrap();
    // A certificate (or an agency token's upload) of that agency, and a plaintext publisher.
    for publisher in [Publisher::Agency(AGENCY.into()), Publisher::Unverified] {
        let e = authorize(&registry, &publisher, &manifest).unwrap_err();
        assert!(matches!(e, Error::PermissionDenied(_)) && e.to_string().contains("reserved"), "{publisher:?}: {e}");
    }
    // The configuration may not register it for an agent.
    let mut config = Config::default();
    config.security.agencies.push(entry);
    let e = config.validate().unwrap_err().to_string();
    assert!(e.contains("derived_agency"), "{e}");
    assert!(Config { derived_agency: "Not An Id".into(), ..Config::default() }.validate().is_err());
}

#[tokio::test]
async fn the_derived_dataset_is_exported_like_any_indicator_and_sdmx_puts_it_in_the_national_dataflow() {
    use arrow::array::AsArray;
    use sdgx_coordinator::catalog::Read;
    use sdgx_coordinator::export::{self, opensdg, sdmx};
    use sdgx_coordinator::signoff::View;
    let f = fixture().await;
    f.publish_and_approve(CSV).await;
    derived::publish(&f.catalog, ValidationOptions::default(), AGENCY).await.unwrap().unwrap();
    let snap = export::snapshot(&f.catalog, &Read::current(View::Official)).await.unwrap();

    // Open SDG: a data file of 17.18.p1, one row per year: 2021 100 %, 2022 0 %.
    let files = opensdg::bundle(&snap);
    let (_, data) = files.iter().find(|(p, _)| p == "data/indicator_17-18-p1.csv").expect("a data file of 17.18.p1");
    let text = String::from_utf8(data.clone()).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[0].starts_with("Year,Series,Units") && rows[0].ends_with(",Value"), "{text}");
    assert!(rows[1].starts_with("2021,") && rows[1].ends_with(",100"), "{text}");
    assert!(rows[2].starts_with("2022,") && rows[2].ends_with(",0"), "{text}");

    // XLSX annex, sheet Goal 17: the latest value (2022: 0), its unit and agency.
    let path = f.dir.path().join("annex.xlsx");
    std::fs::write(&path, export::render(export::Format::Xlsx, &snap).unwrap()).unwrap();
    // The sheet's first row is its title; the header row follows.
    let sheet = sdgx_schemas::workbook::read_sheet(&path, Some("Goal 17"), Some("A2:O1000"), sdgx_schemas::workbook::Cells::Text).unwrap();
    let col = |n: &str| sheet.column_by_name(n).unwrap_or_else(|| panic!("no column {n:?}: {:?}", sheet.schema())).as_string::<i32>().clone();
    let i = (0..sheet.num_rows()).find(|&r| col("Indicator code").value(r) == "17.18.p1").expect("a row of 17.18.p1");
    assert_eq!(
        [col("Latest value (national)").value(i), col("Year").value(i), col("Unit").value(i), col("Unit code").value(i), col("Agency code").value(i)],
        ["0", "2022", "Percent", "PT", AGENCY]
    );

    // HTML report: the publication is listed and 17.18.p1 counts as reported (3 of 6 in scope:
    // 1.1.1, 1.2.1 and 17.18.p1).
    let html = String::from_utf8(export::render(export::Format::Html, &snap).unwrap()).unwrap();
    // Listed under the name people read for the coordinator's own agency.
    let listed = format!("<td>{}</td><td>headline</td>", export::DERIVED_AGENCY_NAME);
    assert!(html.contains(&listed), "the derived publication is listed");
    assert!(html.contains("3 of 6 indicators in scope are reported"));

    // SDMX: the global structure has neither the national proxy nor its series: exported to the
    // national dataflow, with the reason in the report; nothing is left out.
    let mapped = sdmx::map(&snap);
    let moved: Vec<&str> = mapped.moved.iter().filter(|e| e.obs.agency == AGENCY).map(|e| e.reason.as_str()).collect();
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert!(moved.iter().all(|r| r.contains("national proxy indicator 17.18.p1")), "{moved:?}");
    assert!(mapped.excluded.iter().all(|e| e.obs.agency != AGENCY));
    assert_eq!(mapped.national.iter().filter(|r| r[2] == "AM_SDG_MIGDIS").count(), 2);
}
