//! Test hygiene for the whole workspace: no test may share a file, a port
//! or the wall clock with another.
//!
//! Two tests here once used one database file through a helper that
//! deleted it while the other test still had it open (a `disk I/O error`
//! about 2 runs in 17). The rule since: every test takes a fresh directory
//! of its own from `tempfile::tempdir()`, which is unique and deleted on
//! drop. `std::env::temp_dir` is banned by the workspace's `clippy.toml`;
//! this test catches the patterns clippy cannot see (macros, constants,
//! fixed ports).

use std::path::{Path, PathBuf};

/// Patterns that make tests share state, each with what to use instead.
const BANNED: &[(&str, &str)] = &[
    (
        "CARGO_TARGET_TMPDIR",
        "a path under Cargo's shared temp directory; use tempfile::tempdir()",
    ),
    (
        "std::env::temp_dir",
        "a hand-built temp path; use tempfile::tempdir()",
    ),
    (
        "127.0.0.1:",
        "a fixed port; bind port 0 and read the port back",
    ),
    (
        "localhost:",
        "a fixed port; bind port 0 and read the port back",
    ),
    (
        "Utc::now()",
        "the wall clock; take time from an injected Clock (ManualClock in tests)",
    ),
];

/// The same rule for the Python tests and examples (they drive the engine
/// through the C ABI and date everything with `at=` and `now=`).
const BANNED_PY: &[(&str, &str)] = &[
    (
        "datetime.now(",
        "the wall clock; date writes with at= and reads with now=",
    ),
    (
        "datetime.utcnow(",
        "the wall clock; date writes with at= and reads with now=",
    ),
    ("date.today(", "the wall clock; use a fixed date"),
    ("time.time(", "the wall clock; use a fixed time"),
    (
        "gettempdir(",
        "a shared temp directory; use pytest's tmp_path or tempfile.mkdtemp()",
    ),
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate directory has a parent")
        .to_path_buf()
}

/// Every `.rs` file of the workspace, except build output and this file.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                sources(&path, out);
            }
        } else if (name.ends_with(".rs") || name.ends_with(".py"))
            && !path.ends_with("crm-store-sqlite/tests/hygiene.rs")
        {
            out.push(path);
        }
    }
}

#[test]
fn no_source_shares_a_temp_path_a_port_or_the_wall_clock() {
    let root = workspace_root();
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(
        files.len() > 50,
        "found only {} sources under {}",
        files.len(),
        root.display()
    );
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let banned = if file.extension().is_some_and(|e| e == "py") {
            BANNED_PY
        } else {
            BANNED
        };
        for (line_no, line) in text.lines().enumerate() {
            for (pattern, why) in banned {
                // The clock module is where the wall clock is read, once.
                let clock = file.ends_with("crm-core/src/clock.rs") && *pattern == "Utc::now()";
                if line.contains(pattern) && !clock {
                    found.push(format!(
                        "{}:{}: `{pattern}`: {why}",
                        file.strip_prefix(&root).unwrap_or(file).display(),
                        line_no + 1
                    ));
                }
            }
        }
    }
    assert!(found.is_empty(), "shared test state:\n{}", found.join("\n"));
}
