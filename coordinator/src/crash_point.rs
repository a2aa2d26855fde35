//! Crash points, for the crash-safety tests: with `SDGX_CRASH_AT=<point>[:<n>]` in its
//! environment, the process aborts (as `kill -9` would: no destructor runs, nothing is flushed)
//! the `n`-th time (the first by default) it reaches that point of the ingest path. Without the
//! variable nothing happens; it is read once.

use std::sync::atomic::{AtomicU64, Ordering};

/// A point of the ingest path where a crash is tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// A publication's first batch is being staged (`receiving`).
    Receiving,
    /// Its data files are uploaded, its facts not yet written (`staged`).
    Staged,
    /// Its facts are written, its commit not yet made (`facts-written`).
    FactsWritten,
    /// Its commit is durable, the acknowledgement not yet sent (`committed`).
    Committed,
}

impl Point {
    fn name(self) -> &'static str {
        match self {
            Point::Receiving => "receiving",
            Point::Staged => "staged",
            Point::FactsWritten => "facts-written",
            Point::Committed => "committed",
        }
    }
}

/// The crash asked for: the point's name and on which arrival.
static ARMED: std::sync::LazyLock<Option<(String, u64)>> = std::sync::LazyLock::new(|| {
    let v = std::env::var("SDGX_CRASH_AT").ok()?;
    let (name, n) = v.split_once(':').unwrap_or((&v, "1"));
    Some((name.to_owned(), n.parse().unwrap_or(1)))
});

static ARRIVALS: AtomicU64 = AtomicU64::new(0);

/// Arrives at `point`: aborts the process if `SDGX_CRASH_AT` names it and this is the arrival
/// it names.
pub fn reach(point: Point) {
    if let Some((name, n)) = ARMED.as_ref()
        && name == point.name()
        && ARRIVALS.fetch_add(1, Ordering::SeqCst) + 1 == *n
    {
        eprintln!("SDGX_CRASH_AT: aborting at {}", point.name());
        std::process::abort();
    }
}
