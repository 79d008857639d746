//! Helpers shared by the benches in `benches/`.

use std::path::{Path, PathBuf};

/// How many records a bench uses: `CRM_BENCH_N` if set, else `full` for a
/// real run (`cargo bench`, which passes `--bench`) and 2 000 for the
/// smoke run under `cargo test --benches`.
pub fn bench_size(full: usize) -> usize {
    bench_size_from("CRM_BENCH_N", full, 2_000)
}

/// [`bench_size`] with the bench's own override variable `var` and smoke
/// size `smoke`.
pub fn bench_size_from(var: &str, full: usize, smoke: usize) -> usize {
    if let Some(n) = std::env::var(var).ok().and_then(|v| v.parse().ok()) {
        return n;
    }
    if std::env::args().any(|a| a == "--bench") {
        full
    } else {
        smoke
    }
}

/// A fresh, empty SQLite database path, alone in a new directory named
/// after `bench` (unique per call); [`remove_db`] deletes both.
pub fn fresh_db(bench: &str) -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix(&format!("crm-bench-{bench}-"))
        .tempdir()
        .expect("bench dir")
        .keep();
    dir.join("crm.db")
}

/// Deletes an SQLite database made by [`fresh_db`], its write-ahead-log
/// files and its directory.
pub fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir(dir);
    }
}
