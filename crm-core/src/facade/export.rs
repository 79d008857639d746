//! CSV export through the facade: see [`crate::export`].

use std::io::Write;

use super::{Session, reads};
use crate::access::Access;
use crate::custom_field::{CustomValues, FieldSchema};
use crate::error::{EntityKind, Error, Result};
use crate::export::{
    ACTIVITY_HEADER, CUSTOMER_HEADER, DEAL_HEADER, activity_row, customer_row, deal_row,
};
use crate::query::{ActivityQuery, CustomerQuery, DealQuery, Page, Query, for_each};
use crate::store::{ReadTx, Store};

impl<S: Store> Session<'_, S> {
    /// Writes every customer this session can read as CSV (columns:
    /// [`CUSTOMER_HEADER`], then one per custom field), hidden fields left
    /// empty and custom fields hidden from the actor left out; returns how
    /// many rows were written.
    ///
    /// The rows are read in one read transaction, so the file is one
    /// consistent snapshot even while others write.
    ///
    /// ```
    /// use crm_core::{Actor, Crm, NewCustomer};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// s.create_customer(NewCustomer::person("Ada Byron").email("ada@example.org").tag("vip"))?;
    /// let mut out = Vec::new();
    /// assert_eq!(s.export_customers(&mut out)?, 1);
    /// let text = String::from_utf8(out).unwrap();
    /// assert!(text.starts_with("id,name,kind,organisation,roles,lifecycle,email"));
    /// assert!(text.contains(",Ada Byron,person,,customer,lead,ada@example.org,,,vip,"));
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn export_customers(&self, out: impl Write) -> Result<u64> {
        self.with_access(|tx, access| {
            let schema = schema(tx, access, EntityKind::Customer)?;
            write_all(
                EntityKind::Customer,
                out,
                &header(CUSTOMER_HEADER, &schema),
                |q: &CustomerQuery| reads::customers(tx, access, q),
                |c| with_custom(customer_row(c), &schema, &c.custom),
            )
        })
    }

    /// Writes every deal this session can read as CSV (columns:
    /// [`DEAL_HEADER`], then one per custom field), hidden fields left
    /// empty and custom fields hidden from the actor left out; returns how
    /// many rows were written.
    pub fn export_deals(&self, out: impl Write) -> Result<u64> {
        self.with_access(|tx, access| {
            let schema = schema(tx, access, EntityKind::Deal)?;
            write_all(
                EntityKind::Deal,
                out,
                &header(DEAL_HEADER, &schema),
                |q: &DealQuery| reads::deals(tx, access, q),
                |d| with_custom(deal_row(d), &schema, &d.custom),
            )
        })
    }

    /// Writes every activity this session can read as CSV (columns:
    /// [`ACTIVITY_HEADER`]); returns how many rows were written.
    pub fn export_activities(&self, out: impl Write) -> Result<u64> {
        self.with_access(|tx, access| {
            let schema = schema(tx, access, EntityKind::Activity)?;
            write_all(
                EntityKind::Activity,
                out,
                &header(ACTIVITY_HEADER, &schema),
                |q: &ActivityQuery| reads::activities(tx, access, q),
                |a| with_custom(activity_row(a), &schema, &a.custom),
            )
        })
    }
}

/// The custom fields of `kind` that the actor may read: a field hidden
/// from their roles has no column at all (its values are redacted from
/// every record anyway).
fn schema(tx: &dyn ReadTx, access: &Access, kind: EntityKind) -> Result<FieldSchema> {
    let mut schema = tx
        .field_schema(kind)?
        .unwrap_or_else(|| FieldSchema::empty(kind));
    schema
        .fields
        .retain(|f| !access.is_custom_hidden(kind, &f.key));
    Ok(schema)
}

/// The fixed header followed by one column per custom field (its key).
fn header<'a>(fixed: &[&'a str], schema: &'a FieldSchema) -> Vec<&'a str> {
    fixed
        .iter()
        .copied()
        .chain(schema.fields.iter().map(|f| f.key.as_str()))
        .collect()
}

/// A row's fixed cells followed by its custom values, in schema order (as
/// [`CustomValue::parse`](crate::custom_field::CustomValue::parse) reads
/// them back).
fn with_custom(mut row: Vec<String>, schema: &FieldSchema, values: &CustomValues) -> Vec<String> {
    row.extend(schema.fields.iter().map(|f| {
        values
            .get(&f.key)
            .map(|v| v.to_string())
            .unwrap_or_default()
    }));
    row
}

/// Pages through a listing in id order, writing one row per record.
fn write_all<T, F: Default, O: Default + Clone>(
    entity: EntityKind,
    out: impl Write,
    header: &[&str],
    mut fetch: impl FnMut(&Query<F, O>) -> Result<Page<T>>,
    row: impl Fn(&T) -> Vec<String>,
) -> Result<u64> {
    let failed = |e: csv::Error| {
        Error::invalid(
            entity,
            "export",
            "",
            format!("writing the CSV output failed: {e}"),
        )
    };
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(header).map_err(failed)?;
    let mut written = 0;
    for_each(Query::new(), &mut fetch, |item| -> Result<()> {
        writer.write_record(row(&item)).map_err(failed)?;
        written += 1;
        Ok(())
    })?;
    writer.flush().map_err(|e| failed(e.into()))?;
    Ok(written)
}
