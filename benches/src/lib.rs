//! Helpers shared by the benches in `benches/`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// A fresh, empty SQLite database path in a per-process directory named
/// after `bench`.
pub fn fresh_db(bench: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("crm-bench-{bench}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let path = dir.join(format!("{}.db", N.fetch_add(1, Ordering::Relaxed)));
    remove_db(&path);
    path
}

/// Deletes an SQLite database and its write-ahead-log files.
pub fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
