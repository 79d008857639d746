//! `access.*`: what the acting user may do and see.

use crm_core::{Field, Resource, Scope};
use schemars::JsonSchema;
use serde::Serialize;

use super::{Ctx, Empty, json, out, req};
use crate::status::Failure;

/// What the actor may do: scopes per resource, and the fields with rules.
#[derive(Serialize, JsonSchema)]
pub(super) struct Permissions {
    /// The actor's read and write scope on each resource.
    resources: Vec<ResourceScopes>,
    /// The fields the actor cannot see (left out of records it reads).
    hidden: Vec<Field>,
    /// The fields the actor can see but not change.
    read_only: Vec<Field>,
}

/// The actor's scopes on one resource.
#[derive(Serialize, JsonSchema)]
struct ResourceScopes {
    /// The resource.
    resource: Resource,
    /// Which of its records the actor may read.
    read: Scope,
    /// Which of its records the actor may change.
    write: Scope,
}

pub(super) fn permissions(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    req::<Empty>(request)?;
    let p = c.s.permissions()?;
    let resources: Vec<_> = Resource::ALL
        .into_iter()
        .map(|r| ResourceScopes {
            resource: r,
            read: p.read(r),
            write: p.write(r),
        })
        .collect();
    let hidden: Vec<Field> = Field::ALL.into_iter().filter(|f| p.is_hidden(*f)).collect();
    let read_only: Vec<Field> = Field::ALL
        .into_iter()
        .filter(|f| p.is_read_only(*f))
        .collect();
    json(&Permissions {
        resources,
        hidden,
        read_only,
    })
}

pub(super) fn hidden_fields(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    req::<Empty>(request)?;
    out(c.s.hidden_fields())
}
