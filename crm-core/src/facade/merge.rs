//! Merging customers through the facade: see [`crate::merge`].

use super::batch::entity;
use super::{Batch, Session, reads};
use crate::access::{Access, Operation, Resource};
use crate::activity::Activity;
use crate::customer::Customer;
use crate::deal::Deal;
use crate::error::{EntityKind, Error, Result};
use crate::event::{Changes, EventKind};
use crate::id::CustomerId;
use crate::merge::{MergePolicy, pick, union};
use crate::query::{
    ActivityFilter, ActivityQuery, CustomerFilter, CustomerQuery, DealFilter, DealQuery, fetch_all,
};
use crate::store::{ReadTx, Store};

impl<S: Store> Session<'_, S> {
    /// Merges customer `merged` (at `merged_version`) into `survivor` (at
    /// `survivor_version`) and returns the survivor as it is now. See
    /// [`crate::merge`] for what moves and the conflict policy.
    ///
    /// Access: both customers must be readable and writable; everything
    /// that moves (deals, activities, people of an organisation) must be
    /// readable, or the merge is an
    /// [`Error::HiddenRecords`](crate::Error::HiddenRecords) that names
    /// none of it, and writable, or an
    /// [`Error::PermissionDenied`](crate::Error::PermissionDenied). The
    /// survivor changes under the field rules of
    /// [`Session::update_customer`]: a read-only owner or custom field may
    /// not change through the merge.
    ///
    /// ```
    /// use crm_core::merge::{Keep, MergePolicy};
    /// use crm_core::{Actor, Crm, NewCustomer};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// let ada = s.create_customer(NewCustomer::person("Ada Byron").email("ada@example.org"))?;
    /// let dup = s.create_customer(NewCustomer::person("Ada Lovelace").email("countess@example.org"))?;
    /// let ada = s.merge_customers(ada.id, ada.version, dup.id, dup.version,
    ///     &MergePolicy::default().name(Keep::Merged))?;
    /// assert_eq!(ada.name, "Ada Lovelace");
    /// assert_eq!(ada.emails.len(), 2);
    /// assert_eq!(s.customer(dup.id)?.merged_into, Some(ada.id));
    /// assert_eq!(s.count_customers(&Default::default())?, 1); // merged ones are not listed
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn merge_customers(
        &self,
        survivor: CustomerId,
        survivor_version: u64,
        merged: CustomerId,
        merged_version: u64,
        policy: &MergePolicy,
    ) -> Result<Customer> {
        self.batch(|b| {
            b.merge_customers(survivor, survivor_version, merged, merged_version, policy)
        })
    }
}

impl Batch<'_> {
    /// Merges one customer into another. See [`Session::merge_customers`].
    pub fn merge_customers(
        &mut self,
        survivor_id: CustomerId,
        survivor_version: u64,
        merged_id: CustomerId,
        merged_version: u64,
        policy: &MergePolicy,
    ) -> Result<Customer> {
        let invalid = |field: &str, value: &dyn std::fmt::Display, reason: String| {
            Error::invalid(EntityKind::Customer, field, value, reason)
        };
        if survivor_id == merged_id {
            return Err(invalid(
                "merged",
                &merged_id,
                "a customer cannot be merged into itself".into(),
            ));
        }
        let survivor = reads::customer_in_scope(&*self.tx, &self.access, survivor_id)?;
        Self::check_version(
            EntityKind::Customer,
            survivor_id,
            survivor_version,
            survivor.version,
        )?;
        let merged = reads::customer_in_scope(&*self.tx, &self.access, merged_id)?;
        Self::check_version(
            EntityKind::Customer,
            merged_id,
            merged_version,
            merged.version,
        )?;
        for (field, c) in [("survivor", &survivor), ("merged", &merged)] {
            if let Some(into) = c.merged_into {
                return Err(invalid(
                    field,
                    &c.id,
                    format!(
                        "this customer was already merged into {}",
                        survivor_named(&*self.tx, &self.access, into)?
                    ),
                ));
            }
        }
        // Both customers change, so both must be within the write scope.
        for c in [&survivor, &merged] {
            self.access
                .check_write(Resource::Customers, Operation::Merge, c.id, c.owner)?;
        }
        if survivor.kind != merged.kind {
            return Err(invalid(
                "merged",
                &merged_id,
                format!(
                    "a {} cannot be merged into a {}",
                    merged.kind.as_str(),
                    survivor.kind.as_str()
                ),
            ));
        }

        let now = self.now();
        let mut next = survivor.clone();
        next.name = pick(
            policy.name,
            survivor.name.clone(),
            Some(merged.name.clone()),
        );
        next.lifecycle = pick(policy.lifecycle, survivor.lifecycle, Some(merged.lifecycle));
        next.owner = pick(policy.owner, survivor.owner, merged.owner.map(Some));
        next.organisation = pick(
            policy.organisation,
            survivor.organisation,
            merged.organisation.map(Some),
        );
        if next.organisation == Some(survivor_id) || next.organisation == Some(merged_id) {
            next.organisation = survivor.organisation.filter(|o| *o != merged_id);
        }
        next.emails = union(&survivor.emails, &merged.emails);
        next.phones = union(&survivor.phones, &merged.phones);
        next.tags.extend(merged.tags.iter().cloned());
        for (key, value) in &merged.custom {
            next.custom
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }
        next.roles.extend(merged.roles.iter().copied());
        // The merged state is held to the bounds and rules of any update.
        use crate::limits::{MAX_CONTACT_POINTS, MAX_TAGS_PER_RECORD, check_count};
        let kind = EntityKind::Customer;
        check_count(kind, "tags", next.tags.len(), MAX_TAGS_PER_RECORD)?;
        check_count(kind, "emails", next.emails.len(), MAX_CONTACT_POINTS)?;
        check_count(kind, "phones", next.phones.len(), MAX_CONTACT_POINTS)?;
        if next.owner != survivor.owner {
            self.check_owner(kind, next.owner)?;
        }
        next.version += 1;
        next.updated_at = now.max(survivor.updated_at);

        let mut ch = Changes::default();
        ch.field("name", &survivor.name, &next.name);
        ch.field("lifecycle", &survivor.lifecycle, &next.lifecycle);
        ch.field("owner", &survivor.owner, &next.owner);
        ch.field("organisation", &survivor.organisation, &next.organisation);
        ch.field("emails", &survivor.emails, &next.emails);
        ch.field("phones", &survivor.phones, &next.phones);
        ch.field("tags", &survivor.tags, &next.tags);
        ch.field("roles", &survivor.roles, &next.roles);
        ch.field("custom", &survivor.custom, &next.custom);
        ch.set("merged", &(), &merged_id);
        // The survivor changes like an update: the same field rules hold
        // (a read-only owner, emails or custom field may not change), and
        // a new owner must be within the write scope and an active user.
        self.check_fields(Resource::Customers, &ch, survivor_id)?;
        self.access.check_custom_changes(
            EntityKind::Customer,
            &survivor.custom,
            &next.custom,
            survivor_id,
        )?;
        if next.owner != survivor.owner {
            self.access.check_write(
                Resource::Customers,
                Operation::ChangeOwner,
                survivor_id,
                next.owner,
            )?;
            self.check_owner(EntityKind::Customer, next.owner)?;
        }

        // Deals, activities and (for organisations) people move over.
        let tx = &*self.tx;
        let deals: Vec<Deal> = fetch_all(
            DealFilter {
                customer: Some(merged_id),
                ..DealFilter::default()
            },
            |q: &DealQuery| tx.deals(q),
        )?;
        let activities: Vec<Activity> = fetch_all(
            ActivityFilter {
                customer: Some(merged_id),
                ..ActivityFilter::default()
            },
            |q: &ActivityQuery| tx.activities(q),
        )?;
        let people: Vec<Customer> = fetch_all(
            CustomerFilter {
                organisation: Some(merged_id),
                include_merged: true,
                ..CustomerFilter::default()
            },
            |q: &CustomerQuery| tx.customers(q),
        )?;
        let deal_ids: Vec<_> = deals.iter().map(|d| d.id).collect();
        let activity_ids: Vec<_> = activities.iter().map(|a| a.id).collect();
        let people_ids: Vec<_> = people.iter().map(|p| p.id).collect();
        ch.set("moved_deals", &(), &deal_ids);
        ch.set("moved_activities", &(), &activity_ids);
        ch.set("moved_people", &(), &people_ids);
        // What moves must be within the read scope, or the merge would
        // change (and its event name) records the actor cannot see: refuse
        // without naming them, before any write check names an id.
        let hidden = |resource: Resource| Error::HiddenRecords {
            actor: self.access.actor(),
            operation: Operation::Merge,
            entity: EntityKind::Customer,
            id: merged_id.to_string(),
            hidden: resource,
        };
        if deals
            .iter()
            .any(|d| !self.access.can_read(Resource::Deals, d.owner))
        {
            return Err(hidden(Resource::Deals));
        }
        if activities
            .iter()
            .any(|a| !self.access.can_read(Resource::Activities, a.owner))
        {
            return Err(hidden(Resource::Activities));
        }
        if people
            .iter()
            .any(|p| !self.access.can_read(Resource::Customers, p.owner))
        {
            return Err(hidden(Resource::Customers));
        }
        // What moves changes too: each record must be within the write scope.
        for d in &deals {
            self.access
                .check_write(Resource::Deals, Operation::Update, d.id, d.owner)?;
        }
        for a in &activities {
            self.access
                .check_write(Resource::Activities, Operation::Update, a.id, a.owner)?;
        }
        for p in people.iter().filter(|p| p.id != survivor_id) {
            self.access
                .check_write(Resource::Customers, Operation::Update, p.id, p.owner)?;
        }
        for mut d in deals {
            d.customer = survivor_id;
            d.version += 1;
            d.updated_at = now.max(d.updated_at);
            self.tx.update_deal(&d)?;
        }
        for mut a in activities {
            a.customer = Some(survivor_id);
            a.version += 1;
            a.updated_at = now.max(a.updated_at);
            self.tx.update_activity(&a)?;
        }
        for mut p in people {
            if p.id == survivor_id {
                continue;
            }
            p.organisation = Some(survivor_id);
            p.version += 1;
            p.updated_at = now.max(p.updated_at);
            self.tx.update_customer(&p)?;
        }

        // External keys follow the party: the survivor holds both sets,
        // so an upsert by the merged customer's key finds the survivor.
        let merged_keys = self
            .tx
            .external_keys_of(EntityKind::Customer, merged.id.as_uuid())?;
        if !merged_keys.is_empty() {
            let kept = self
                .tx
                .external_keys_of(EntityKind::Customer, survivor_id.as_uuid())?;
            let mut all = kept.clone();
            all.extend(merged_keys);
            let all = crate::external_key::check_keys(EntityKind::Customer, &all)?;
            self.tx
                .set_external_keys(EntityKind::Customer, merged.id.as_uuid(), &[])?;
            self.store_keys(EntityKind::Customer, survivor_id.as_uuid(), &all)?;
            ch.field("external_keys", &kept, &all);
        }

        let mut gone = merged.clone();
        gone.merged_into = Some(survivor_id);
        gone.version += 1;
        gone.updated_at = now.max(merged.updated_at);
        self.tx.update_customer(&gone)?;
        self.tx.update_customer(&next)?;
        self.record(
            entity(EntityKind::Customer, survivor_id.as_uuid()),
            next.version,
            EventKind::Merged,
            ch,
            now,
        )?;
        self.access.redact_customer(&mut next);
        Ok(next)
    }
}

/// Refuses to change, or attach records to, a merged customer. The
/// customer it was merged into is named only if the actor may read it.
pub(super) fn check_not_merged(
    tx: &dyn ReadTx,
    access: &Access,
    entity: EntityKind,
    field: &str,
    id: CustomerId,
) -> Result<()> {
    if let Some(c) = tx.customer(id)?
        && let Some(into) = c.merged_into
    {
        return Err(Error::invalid(
            entity,
            field,
            id,
            format!(
                "this customer was merged into {}; use that customer instead",
                survivor_named(tx, access, into)?
            ),
        ));
    }
    Ok(())
}

/// "customer <id>" if the actor may read that customer, else "another
/// customer": a message never names a record outside the read scope.
fn survivor_named(tx: &dyn ReadTx, access: &Access, id: CustomerId) -> Result<String> {
    Ok(match tx.customer(id)? {
        Some(c) if access.can_read(Resource::Customers, c.owner) => format!("customer {id}"),
        _ => "another customer".to_owned(),
    })
}
