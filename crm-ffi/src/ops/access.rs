//! `access.*`: what the acting user may do and see.

use crm_core::{Field, Resource};
use serde_json::json;

use super::{Ctx, Empty, json, out, req};
use crate::status::Failure;

/// `{"resources": [{"resource","read","write"}], "hidden": [Field],
/// "read_only": [Field]}`: scopes per resource, and the fields with rules.
pub(super) fn permissions(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    req::<Empty>(request)?;
    let p = c.s.permissions()?;
    let resources: Vec<_> = Resource::ALL
        .into_iter()
        .map(|r| json!({"resource": r, "read": p.read(r), "write": p.write(r)}))
        .collect();
    let hidden: Vec<Field> = Field::ALL.into_iter().filter(|f| p.is_hidden(*f)).collect();
    let read_only: Vec<Field> = Field::ALL
        .into_iter()
        .filter(|f| p.is_read_only(*f))
        .collect();
    json(&json!({"resources": resources, "hidden": hidden, "read_only": read_only}))
}

pub(super) fn hidden_fields(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    req::<Empty>(request)?;
    out(c.s.hidden_fields())
}
