//! The store on an object store rather than a local directory: the example federation
//! publishes to `s3://` on an S3-compatible server (moto's, from the project's venv), the
//! figures match the local store's, and a restarted coordinator rebuilds its publications log
//! from the bucket alone.

use sdgx_coordinator::catalog::Read;
use sdgx_coordinator::signoff::View;

use sdgx_coordinator::figures::{self, Window};
use sdgx_coordinator::storage::StoreOptions;
use sdgx_e2e::{Running, S3Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_on_s3_gives_the_same_figures_and_survives_a_restart() {
    let s3 = S3Server::start("sdgx");
    let on_s3 = |c: &mut sdgx_coordinator::Config| {
        c.store_url = Some("s3://sdgx/national/store".into());
        c.store_options = s3.options();
    };
    let r = Running::start(on_s3).await;
    r.publish_all().await;
    let s = r.catalog.session(&r.catalog.pin(&Read::current(View::Provisional)).await.unwrap(), Window::default()).await.unwrap();
    assert_eq!(s.store_version, 8, "one commit per dataset after the table's creation");
    let m = figures::get::<figures::MigrationShare>(&r.catalog, Window::default(), &Read::at_version(View::Provisional, s.store_version)).await.unwrap();
    // The same hand-computed headline as the local store (tests/federation.rs): 7 / 15.
    assert_eq!((m.numerator, m.denominator), (7, 15));

    // Everything is in the bucket: nine commits (creation + 8) and the data files, and no
    // table was written to the local data directory.
    let log = s3.keys("sdgx", "national/store/_delta_log/").await;
    assert_eq!(log.iter().filter(|k| k.ends_with(".json")).count(), 9, "{log:?}");
    let data = s3.keys("sdgx", "national/store/agency=moh/").await;
    assert!(data.iter().any(|k| k.ends_with(".parquet")), "{data:?}");
    assert!(!r.dir.path().join("store").exists());

    // A duplicate is still a duplicate, and a restart rebuilds the log from the bucket.
    let again = sdgx_agent::run(&r.agent("cba"), false).await.unwrap();
    assert!(again[0].sent.as_ref().unwrap().as_ref().unwrap().duplicate);
    let before = r.catalog.store().publications().await;
    let dir = r.stop().await;
    let r = Running::start_in(dir, on_s3).await;
    assert_eq!(r.catalog.store().publications().await, before);
    let s = r.catalog.session(&r.catalog.pin(&Read::current(View::Provisional)).await.unwrap(), Window::default()).await.unwrap();
    assert_eq!(figures::get::<figures::MigrationShare>(&r.catalog, Window::default(), &Read::at_version(View::Provisional, s.store_version)).await.unwrap(), m);
    // Time travel works on the object store too: at version 1 only armstat's first dataset.
    let s1 = r.catalog.session(&r.catalog.pin(&Read::at_version(View::Provisional, 1)).await.unwrap(), Window::default()).await.unwrap();
    assert_eq!(s1.store_version, 1);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_unknown_store_is_a_clear_startup_error() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let mut c = sdgx_coordinator::Config { data_dir: dir.path().to_owned(), ..Default::default() };
    c.store_url = Some("ftp://example.org/store".into());
    let err = sdgx_coordinator::Coordinator::build(c.clone()).await.err().expect("an ftp store is refused");
    assert!(err.to_string().contains("unsupported scheme \"ftp\""), "{err}");

    // A bucket on a server that is not there: the error says so, and no secret leaks into it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    c.store_url = Some("s3://nowhere/store".into());
    c.store_options = StoreOptions(
        [("aws_endpoint", dead.as_str()), ("aws_allow_http", "true"), ("aws_region", "us-east-1"),
         ("aws_access_key_id", "AKIDLEAKCHECK"), ("aws_secret_access_key", "s3cr3t-never-printed"),
         ("max_retries", "0")]
            .into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
    );
    assert!(!format!("{c:?}").contains("s3cr3t-never-printed"), "Debug of the config hides option values");
    let err = sdgx_coordinator::Coordinator::build(c).await.err().expect("an unreachable store is an error").to_string();
    assert!(err.contains("s3://nowhere/store") || err.contains(&dead), "{err}");
    assert!(!err.contains("s3cr3t-never-printed"), "{err}");
}
