//! The table against the facade and the documentation: a public
//! `Session` method without an operation, a stale `covers` entry or a
//! documentation file out of step with the table fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::doc::{HEADER_END, HEADER_START, header_list, markdown};
use super::{OPERATIONS, RUST_ONLY};

pub(super) fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The names of the `pub fn`s of the `impl ... Session<...>` blocks in
/// one facade source file.
fn session_methods(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_session = false;
    for line in source.lines() {
        if line.starts_with("impl") {
            in_session = line.contains("Session<");
        } else if line.starts_with('}') {
            in_session = false;
        } else if in_session && let Some(rest) = line.strip_prefix("    pub fn ") {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            names.push(rest[..end].to_owned());
        }
    }
    names
}

/// Every public method of `Session`, from every file of the facade.
fn facade_methods() -> BTreeSet<String> {
    let dir = manifest_dir().join("../crm-core/src/facade");
    let mut methods = BTreeSet::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            files += 1;
            methods.extend(session_methods(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    assert!(files >= 10, "found only {files} facade files in {dir:?}");
    methods
}

#[test]
fn the_extractor_finds_session_methods_only() {
    let source = "impl<S: Store> Session<'_, S> {\n    pub fn a(&self) {}\n    pub(crate) fn b(&self) {}\n    fn c(&self) {}\n}\n\nimpl Batch<'_> {\n    pub fn d(&mut self) {}\n}\nimpl<'c, S: Store> Session<'c, S> {\n    pub fn e<T>(&self) {}\n}\n";
    assert_eq!(session_methods(source), ["a", "e"]);
}

#[test]
fn every_public_session_method_has_an_operation() {
    let methods = facade_methods();
    // Spot checks that the extraction works on the real files.
    for m in ["create_customer", "kpi_report", "batch", "restore", "abc"] {
        assert!(methods.contains(m), "{m} not found among {methods:?}");
    }
    let covered: BTreeSet<&str> = OPERATIONS
        .iter()
        .flat_map(|o| o.covers.iter().copied())
        .chain(RUST_ONLY.iter().map(|(m, _)| *m))
        .collect();
    let missing: Vec<&String> = methods
        .iter()
        .filter(|m| !covered.contains(m.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "public Session methods without an operation (add one to OPERATIONS in \
         crm-ffi/src/ops/table.rs, or to RUST_ONLY with the reason): {missing:?}"
    );
    let stale: Vec<&&str> = covered.iter().filter(|m| !methods.contains(**m)).collect();
    assert!(
        stale.is_empty(),
        "covers names no Session method: {stale:?}"
    );
}

#[test]
fn operation_names_are_unique_and_well_formed() {
    let mut seen = BTreeSet::new();
    for o in OPERATIONS {
        assert!(seen.insert(o.name), "{} twice", o.name);
        assert!(
            o.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'),
            "{}",
            o.name
        );
        assert!(
            !o.summary.is_empty() && o.summary.ends_with('.'),
            "{}",
            o.name
        );
        assert!(
            !o.request.is_empty() && !o.response.is_empty(),
            "{}",
            o.name
        );
    }
    for (m, why) in RUST_ONLY {
        assert!(!why.is_empty(), "{m} needs a reason");
    }
}

/// The names the issue promised, as a contract.
#[test]
fn the_promised_operation_names_exist() {
    for name in [
        "deal.update",
        "deal.count",
        "deal.lose_in",
        "pipeline.update",
        "customer.count",
        "customer.merge",
        "customer.duplicates",
        "segment.update",
        "segment.delete",
        "segment.rfm",
        "segment.abc",
        "custom_fields.get",
        "custom_fields.set",
        "customer.import",
        "deal.import",
        "activity.import",
        "customer.export",
        "deal.export",
        "activity.export",
        "backup.create",
        "backup.restore",
        "user.update",
        "user.deactivate",
        "user.reactivate",
        "user.set_roles",
        "user.list",
        "team.list",
        "team.add_member",
        "team.remove_member",
        "team.set_manager",
        "access.permissions",
        "access.hidden_fields",
        "batch",
    ] {
        assert!(super::find(name).is_some(), "{name} is missing");
    }
}

/// Replaces the operation list in `text` (from [`HEADER_START`] to
/// [`HEADER_END`]) with `list`; `None` when the markers are missing.
fn with_header_list(text: &str, list: &str) -> Option<String> {
    let start = text.find(HEADER_START)?;
    let end = start + text[start..].find(HEADER_END)?;
    Some(format!("{}{list}{}", &text[..start], &text[end..]))
}

pub(super) fn check_or_bless(path: &Path, want: &str) {
    let have = std::fs::read_to_string(path).unwrap_or_default();
    if have == want {
        return;
    }
    if std::env::var_os("CRM_FFI_BLESS").is_some() {
        std::fs::write(path, want).unwrap();
        return;
    }
    panic!(
        "{} is out of step with the operation table; regenerate it with \
         `CRM_FFI_BLESS=1 cargo test -p crm-ffi docs_match_the_table` (then cbindgen \
         for crm.h)",
        path.display()
    );
}

#[test]
fn docs_match_the_table() {
    let dir = manifest_dir();
    check_or_bless(&dir.join("doc/operations.md"), &markdown());
    let toml_path = dir.join("cbindgen.toml");
    let toml = std::fs::read_to_string(&toml_path).unwrap();
    let want = with_header_list(&toml, &header_list())
        .expect("cbindgen.toml has the operation list markers");
    check_or_bless(&toml_path, &want);
    // The committed header carries the same list (CI regenerates it from
    // cbindgen.toml and diffs; this catches a forgotten cbindgen run early).
    if std::env::var_os("CRM_FFI_BLESS").is_none() {
        let header = include_str!("../../include/crm.h");
        assert!(
            header.contains(&header_list()),
            "include/crm.h is stale: run cbindgen --config crm-ffi/cbindgen.toml \
             --crate crm-ffi --output crm-ffi/include/crm.h"
        );
    }
}
