//! Shared helpers of the whole-system tests: locating the example federation and the built
//! binaries.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the repository").to_owned()
}

/// The example agencies, in publication order.
pub const AGENCIES: [&str; 7] = ["armstat", "sms", "moes", "diaspora", "labour", "cba", "moh"];

/// A built binary of this workspace (`scripts/test.sh` builds them before the tests run).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps");
    let p = dir.join(name);
    assert!(p.exists(), "{} is not built: run `cargo build --bins` first (scripts/test.sh does)", p.display());
    p
}
