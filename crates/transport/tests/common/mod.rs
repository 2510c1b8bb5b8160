//! Where the captured Salt vectors are: `$SALTWIRE_VECTORS` if set, else the
//! copy kept in this crate (`tests/vectors`, from `shared/salt-protocol/vectors`).

use std::path::PathBuf;

/// The vectors directory; panics with a clear message when it is missing.
pub fn vectors_dir() -> PathBuf {
    let dir = match std::env::var_os("SALTWIRE_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors"),
    };
    assert!(
        dir.join("payload_dumps.json").is_file(),
        "Salt test vectors not found at {} (set SALTWIRE_VECTORS to a copy of shared/salt-protocol/vectors)",
        dir.display()
    );
    dir
}
