//! The documentation generated from the operation table: the operation
//! reference (`crm-ffi/doc/operations.md`, included in the docs of
//! [`crate::ops`]) and the list in `crm.h` (from `cbindgen.toml`). The
//! tests in `coverage.rs` compare them with the committed files.

use std::fmt::Write;

use super::OPERATIONS;

/// What every operation shares, before the table.
const CONVENTIONS: &str = r#"# Operations

Generated from the operation table (`OPERATIONS` in
`crm-ffi/src/ops/table.rs`); do not edit by hand. After changing the table,
regenerate this file and the list in `cbindgen.toml` with
`CRM_FFI_BLESS=1 cargo test -p crm-ffi docs_match_the_table`, then the
header with cbindgen. The operation `ops.list` returns the same table as
JSON.

## Conventions

- **Shapes.** A type name (`NewCustomer`, `DealQuery`) means that crm-core
  type's serde form; `{"id","version"}` lists an object's fields, `?`
  marking an optional one. Ids are UUID strings, money is
  `{"amount": "12.50", "currency": "EUR"}` (the amount a decimal *string*;
  a JSON number is refused), times are RFC 3339.
- **JSON Schemas.** Every operation's request and response, field by
  field with descriptions, as JSON Schema (draft 2020-12) derived by
  schemars from the serde types the operation parses and prints (so the
  schema and the parsing cannot drift): in the files
  `crm-ffi/schema/<op>.request.json` and `crm-ffi/schema/<op>.response.json`
  next to the header (generated with this file), and at run time from
  `ops.describe` (`{"op": "deal.move"}` for one operation, `{}` for all).
  Unknown fields are refused (`"additionalProperties": false`), ids carry
  `"format": "uuid"`, times `"date-time"`, days `"date"`, amounts a decimal
  pattern; a patch field may be absent (unchanged) or `null` (cleared).
  Where a request takes exactly one of two fields (`"csv"` or `"path"`,
  `"id"` or `"expression"`), the schema says so with a `oneOf`. The
  crm-ffi tests check every request they
  send and every response they get against these schemas.
- **Versions.** `"version"` is the version of the record the change is
  based on: a stale one gives `CRM_STATUS_CONFLICT`.
- **Historical time.** Every write (the *writes* column) may carry a
  top-level `"at"`: the RFC 3339 time the change is recorded as having
  happened (events, stage history, `created_at`), as `Session::at` does in
  Rust, so a host can import its history. Reads take no `"at"`; the KPI
  operations that depend on the present take `"now"` instead.
- **Pages.** Listings (`*.list`) return `Page<T>`
  (`{"items": [...], "next": cursor-or-null}`); pass `{"page":
  {"after": next, "limit": n}}` in the query for the next page. The
  per-customer results computed whole (`segment.rfm`, `segment.abc`,
  `kpi.purchase_summaries`, `predict.score`) and `outbox.list` return the
  whole array, or, given `"page": {"limit"?, "after"?}`, one page
  `{"items": [...], "next": key-or-null}` in customer-id (notification-id)
  order, `next` being the `after` of the following page.
- **Bulk data.** CSV and backups pass inline or as files: imports and
  `backup.restore` take exactly one of `"csv"` (or `"backup"`) and
  `"path"`; exports and `backup.create` return the text inline, or, given
  `"path"`, write that file (through `<path>.partial`, renamed when
  complete) and return the path. A file that cannot be read or written
  gives `CRM_STATUS_STORAGE`.
- **Batches.** `batch` runs the operations of the *batch* column as steps
  of one transaction: all are parsed first, then run in order, each seeing
  the earlier ones' writes; if one fails nothing is written and the error
  starts with `request.steps[i] (op)`. A step's request may carry its own
  `"at"`; otherwise it gets the batch's. Other operations are refused as
  steps (`CRM_STATUS_INVALID_INPUT`).

## Table

| op | what it does | request | response | writes | batch |
|----|--------------|---------|----------|--------|-------|
"#;

/// A table cell holding code.
fn code(s: &str) -> String {
    format!("`{}`", s.replace('|', "\\|"))
}

/// The operation reference, as committed in `doc/operations.md`.
pub(super) fn markdown() -> String {
    let mut md = CONVENTIONS.to_owned();
    for o in OPERATIONS {
        let yes = |b: bool| if b { "yes" } else { "" };
        // Writing to a String cannot fail.
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} | {} | {} |",
            o.name,
            o.summary.replace('|', "\\|"),
            code(o.request),
            code(o.response),
            yes(o.writes()),
            yes(o.batchable()),
        );
    }
    md
}

/// The first line of the operation list in the header comment.
pub(super) const HEADER_START: &str =
    " * Operations (see crm-ffi/doc/operations.md for each one's request and";

/// The line after the operation list in the header comment.
pub(super) const HEADER_END: &str = " * Failures change nothing:";

/// The operation list of the `crm.h` comment (in `cbindgen.toml`), up to
/// [`HEADER_END`].
pub(super) fn header_list() -> String {
    let mut h = String::from(HEADER_START);
    h.push_str(
        "\n * response, crm-ffi/schema/ for their JSON Schemas; \"ops.list\" returns the\n \
         * table as JSON, \"ops.describe\" the schemas). Ids are UUID strings;\n \
         * \"version\" is the record version a change is based on (a stale one gives\n \
         * CRM_STATUS_CONFLICT). Every write (marked w) may carry \"at\" (RFC 3339):\n \
         * when it happened. Writes marked b may be steps of \"batch\".\n",
    );
    for o in OPERATIONS {
        let flags = match (o.writes(), o.batchable()) {
            (true, true) => "wb",
            (true, false) => "w ",
            _ => "  ",
        };
        let _ = writeln!(h, " *   {:<26}{flags} {}", o.name, o.summary);
    }
    h.push_str(" *\n");
    h
}
