//! Custom-field schemas through the facade: see [`crate::custom_field`].

use super::batch::entity;
use super::{Batch, Session};
use crate::access::{Operation, Resource};
use crate::custom_field::{CustomValues, FieldDef, FieldSchema, check_change, validate_defs};
use crate::error::{EntityKind, Result};
use crate::event::{Changes, EventKind};
use crate::query::{ActivityQuery, CustomerFilter, CustomerQuery, DealQuery, fetch_all};
use crate::store::Store;

impl<S: Store> Session<'_, S> {
    /// The custom fields of `entity` (customer, deal or activity); version
    /// 0 with no fields if none were ever defined. Like pipelines, a schema
    /// needs read scope `all` on pipelines: anyone else (a user with no
    /// role) gets [`Error::NotFound`](crate::Error::NotFound).
    pub fn custom_fields(&self, entity: EntityKind) -> Result<FieldSchema> {
        // Configuration without an owner, like pipelines (see
        // `crate::access`): only read scope `all` on pipelines reaches it;
        // anyone else is told it does not exist.
        self.with_access(|tx, access| {
            if !access.can_read(Resource::Pipelines, None) {
                return Err(crate::Error::not_found(EntityKind::FieldSchema, entity));
            }
            Ok(tx
                .field_schema(entity)?
                .unwrap_or_else(|| FieldSchema::empty(entity)))
        })
    }

    /// Replaces the custom fields of `entity`, whose schema is at `version`
    /// (0 the first time). See [`crate::custom_field`] for the rules.
    /// Custom fields are configuration: changing them needs write scope
    /// `all` on pipelines.
    pub fn set_custom_fields(
        &self,
        entity: EntityKind,
        version: u64,
        fields: Vec<FieldDef>,
    ) -> Result<FieldSchema> {
        self.batch(|b| b.set_custom_fields(entity, version, fields))
    }
}

impl Batch<'_> {
    /// Replaces the custom fields of an entity type. See
    /// [`Session::set_custom_fields`].
    pub fn set_custom_fields(
        &mut self,
        kind: EntityKind,
        version: u64,
        fields: Vec<FieldDef>,
    ) -> Result<FieldSchema> {
        // Custom fields are configuration, like pipelines.
        self.access
            .check_write_all(Resource::Pipelines, Operation::Update, kind)?;
        validate_defs(kind, &fields)?;
        let current = self.field_schema(kind)?;
        Self::check_version(EntityKind::FieldSchema, kind, version, current.version)?;
        if current.version > 0 && current.fields == fields {
            return Ok(current);
        }
        let tx = &*self.tx;
        let values: Vec<CustomValues> = match kind {
            EntityKind::Customer => fetch_all(
                CustomerFilter {
                    include_merged: true,
                    ..CustomerFilter::default()
                },
                |q: &CustomerQuery| tx.customers(q),
            )?
            .into_iter()
            .map(|c| c.custom)
            .collect(),
            EntityKind::Deal => fetch_all(Default::default(), |q: &DealQuery| tx.deals(q))?
                .into_iter()
                .map(|d| d.custom)
                .collect(),
            _ => fetch_all(Default::default(), |q: &ActivityQuery| tx.activities(q))?
                .into_iter()
                .map(|a| a.custom)
                .collect(),
        };
        check_change(kind, &current, &fields, values.iter())?;
        let now = self.now();
        let next = current.next(fields, now);
        self.tx.put_field_schema(&next)?;
        self.schemas.insert(kind, next.clone());
        // The field rules of the new schema hold for the rest of the batch.
        self.reload_access()?;
        let mut ch = Changes::default();
        ch.field("fields", &current.fields, &next.fields);
        self.record(
            entity(EntityKind::FieldSchema, FieldSchema::event_id(kind)),
            next.version,
            if current.version == 0 {
                EventKind::Created
            } else {
                EventKind::Updated
            },
            ch,
            now,
        )?;
        Ok(next)
    }

    /// The custom-field schema of `kind`, read once per batch.
    pub(super) fn field_schema(&mut self, kind: EntityKind) -> Result<FieldSchema> {
        if let Some(s) = self.schemas.get(&kind) {
            return Ok(s.clone());
        }
        let schema = self
            .tx
            .field_schema(kind)?
            .unwrap_or_else(|| FieldSchema::empty(kind));
        self.schemas.insert(kind, schema.clone());
        Ok(schema)
    }

    /// Checks a record's custom values against its type's schema.
    pub(super) fn check_custom(&mut self, kind: EntityKind, values: &CustomValues) -> Result<()> {
        if values.is_empty() && !self.has_required(kind)? {
            return Ok(());
        }
        self.field_schema(kind)?.check(values, true)
    }

    fn has_required(&mut self, kind: EntityKind) -> Result<bool> {
        Ok(self.field_schema(kind)?.fields.iter().any(|f| f.required))
    }
}
