//! Customers: the people and organisations the CRM is about.
//!
//! A [`Customer`] is a party, a person or an organisation, with roles
//! (customer, supplier, partner), a [`Lifecycle`] state, contact points,
//! tags and an owner. A person may belong to an organisation.
//!
//! Rules enforced when a customer is created or updated:
//! - `name` is trimmed, not empty, at most
//!   [`MAX_NAME_CHARS`](crate::limits::MAX_NAME_CHARS) characters, without
//!   control characters;
//! - e-mails and phones are validated and normalised ([`Email`], [`Phone`]);
//!   duplicates after normalisation are dropped, first occurrence kept; at
//!   most [`MAX_CONTACT_POINTS`](crate::limits::MAX_CONTACT_POINTS) of each;
//! - tags are normalised and deduplicated ([`Tag`]); at most
//!   [`MAX_TAGS_PER_RECORD`](crate::limits::MAX_TAGS_PER_RECORD);
//! - the owner is a stored, active user (checked by the facade);
//! - only a person can link to an organisation, and the target must be an
//!   existing organisation (checked by the facade);
//! - lifecycle moves follow [`Lifecycle::allowed_moves`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::contact::{Email, Phone};
use crate::custom_field::{CustomValue, CustomValues, apply_custom};
use crate::error::{EntityKind, Error, Result};
use crate::event::Changes;
use crate::id::{CustomerId, UserId};
use crate::limits;
use crate::tag::Tag;

/// Person or organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    /// A natural person.
    Person,
    /// A company, association or other organisation.
    Organisation,
}

impl PartyKind {
    /// The lower-case name used in serialised forms.
    pub fn as_str(&self) -> &'static str {
        match self {
            PartyKind::Person => "person",
            PartyKind::Organisation => "organisation",
        }
    }
}

/// The relationships a party has with the business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Buys from the business (or may: leads and prospects have this role too).
    Customer,
    /// Sells to the business.
    Supplier,
    /// Works with the business (resellers, agencies).
    Partner,
}

impl Role {
    /// The lower-case name used in serialised forms.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Supplier => "supplier",
            Role::Partner => "partner",
        }
    }
}

/// Where a customer stands in the relationship.
///
/// Allowed moves (anything else is refused with [`Error::LifecycleNotAllowed`]):
///
/// | from | to |
/// |---|---|
/// | lead | prospect, customer |
/// | prospect | lead, customer |
/// | customer | churned |
/// | churned | customer (won back) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Known, not yet qualified.
    Lead,
    /// Qualified; a sale is being worked on.
    Prospect,
    /// Has bought.
    Customer,
    /// Has stopped buying.
    Churned,
}

impl Lifecycle {
    /// The states this one may move to.
    pub fn allowed_moves(&self) -> &'static [Lifecycle] {
        match self {
            Lifecycle::Lead => &[Lifecycle::Prospect, Lifecycle::Customer],
            Lifecycle::Prospect => &[Lifecycle::Lead, Lifecycle::Customer],
            Lifecycle::Customer => &[Lifecycle::Churned],
            Lifecycle::Churned => &[Lifecycle::Customer],
        }
    }

    /// True when moving from `self` to `to` is allowed.
    pub fn can_move_to(&self, to: Lifecycle) -> bool {
        self.allowed_moves().contains(&to)
    }

    /// The snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Lifecycle::Lead => "lead",
            Lifecycle::Prospect => "prospect",
            Lifecycle::Customer => "customer",
            Lifecycle::Churned => "churned",
        }
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A customer record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// Id.
    pub id: CustomerId,
    /// Version: 1 when created, +1 on every change.
    pub version: u64,
    /// Person or organisation.
    pub kind: PartyKind,
    /// Display name.
    pub name: String,
    /// The organisation a person belongs to.
    pub organisation: Option<CustomerId>,
    /// Roles.
    pub roles: BTreeSet<Role>,
    /// Lifecycle state.
    pub lifecycle: Lifecycle,
    /// E-mail addresses, normalised, first is primary.
    pub emails: Vec<Email>,
    /// Phone numbers in E.164 form, first is primary.
    pub phones: Vec<Phone>,
    /// The user responsible for this customer.
    pub owner: Option<UserId>,
    /// Tags.
    pub tags: BTreeSet<Tag>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The customer this one was merged into: a merged customer is kept
    /// for the record but cannot change, and listings leave it out unless
    /// asked ([`CustomerFilter::include_merged`](crate::CustomerFilter::include_merged)).
    #[serde(default)]
    pub merged_into: Option<CustomerId>,
    /// Custom field values, by key ([`crate::custom_field`]).
    #[serde(default)]
    pub custom: CustomValues,
}

impl Customer {
    /// Whether this customer was merged into another.
    pub fn is_merged(&self) -> bool {
        self.merged_into.is_some()
    }
}

/// Input for creating a customer. Start from [`NewCustomer::person`] or
/// [`NewCustomer::organisation`] and chain the optional parts.
///
/// ```
/// use crm_core::{Lifecycle, NewCustomer};
/// let input = NewCustomer::person("Ada Lovelace")
///     .email("ada@example.org")
///     .phone("+44 20 7946 0958")
///     .tag("VIP")
///     .lifecycle(Lifecycle::Prospect);
/// assert_eq!(input.emails, vec!["ada@example.org".to_string()]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    /// Person or organisation.
    pub kind: PartyKind,
    /// Display name.
    pub name: String,
    /// Organisation a person belongs to.
    #[serde(default)]
    pub organisation: Option<CustomerId>,
    /// Roles (defaults to `[customer]`).
    #[serde(default = "default_roles")]
    pub roles: Vec<Role>,
    /// Initial lifecycle state (defaults to `lead`).
    #[serde(default = "default_lifecycle")]
    pub lifecycle: Lifecycle,
    /// E-mail addresses as typed by the user.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Phone numbers as typed by the user.
    #[serde(default)]
    pub phones: Vec<String>,
    /// Owner.
    #[serde(default)]
    pub owner: Option<UserId>,
    /// Tags as typed by the user.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Custom field values.
    #[serde(default)]
    pub custom: CustomValues,
    /// External keys to give the new record ([`crate::external_key`]).
    #[serde(default)]
    pub external_keys: Vec<crate::external_key::ExternalKey>,
    /// A caller's key that makes a retried create return the first
    /// create's record instead of a second one ([`crate::external_key`]).
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

fn default_roles() -> Vec<Role> {
    vec![Role::Customer]
}

fn default_lifecycle() -> Lifecycle {
    Lifecycle::Lead
}

impl NewCustomer {
    /// Gives the new record an external key ([`crate::external_key`]).
    pub fn external_key(mut self, key: crate::external_key::ExternalKey) -> Self {
        self.external_keys.push(key);
        self
    }

    /// Sets the idempotency key: a retried create with the same key
    /// returns the first one's record ([`crate::external_key`]).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    fn new(kind: PartyKind, name: impl Into<String>) -> Self {
        NewCustomer {
            kind,
            name: name.into(),
            organisation: None,
            roles: default_roles(),
            lifecycle: default_lifecycle(),
            emails: Vec::new(),
            phones: Vec::new(),
            owner: None,
            tags: Vec::new(),
            custom: CustomValues::new(),
            external_keys: Vec::new(),
            idempotency_key: None,
        }
    }

    /// A person named `name`: a lead with the customer role.
    pub fn person(name: impl Into<String>) -> Self {
        Self::new(PartyKind::Person, name)
    }

    /// An organisation named `name`: a lead with the customer role.
    pub fn organisation(name: impl Into<String>) -> Self {
        Self::new(PartyKind::Organisation, name)
    }

    /// Adds an e-mail address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.emails.push(email.into());
        self
    }

    /// Adds a phone number.
    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        self.phones.push(phone.into());
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Replaces the roles.
    pub fn roles(mut self, roles: impl IntoIterator<Item = Role>) -> Self {
        self.roles = roles.into_iter().collect();
        self
    }

    /// Sets the initial lifecycle state.
    pub fn lifecycle(mut self, lifecycle: Lifecycle) -> Self {
        self.lifecycle = lifecycle;
        self
    }

    /// Sets the owner.
    pub fn owner(mut self, owner: UserId) -> Self {
        self.owner = Some(owner);
        self
    }

    /// Sets a custom field's value.
    pub fn custom(mut self, key: impl Into<String>, value: CustomValue) -> Self {
        self.custom.insert(key.into(), value);
        self
    }

    /// Links a person to the organisation they belong to.
    pub fn works_at(mut self, organisation: CustomerId) -> Self {
        self.organisation = Some(organisation);
        self
    }

    /// Validates the input into a new record (version 1).
    pub(crate) fn into_customer(self, id: CustomerId, now: DateTime<Utc>) -> Result<Customer> {
        let name = validate_name(&self.name)?;
        check_organisation_link(self.kind, self.organisation, id)?;
        let tags = validate_tags("tags", &self.tags)?;
        check_tag_count(&tags)?;
        Ok(Customer {
            id,
            version: 1,
            kind: self.kind,
            name,
            organisation: self.organisation,
            roles: self.roles.into_iter().collect(),
            lifecycle: self.lifecycle,
            emails: validate_emails(&self.emails)?,
            phones: validate_phones(&self.phones)?,
            owner: self.owner,
            tags,
            created_at: now,
            updated_at: now,
            merged_into: None,
            custom: self.custom,
        })
    }
}

/// Changes to a customer. Fields left `None` stay as they are; for
/// optional fields `Some(None)` clears them.
///
/// ```
/// use crm_core::{CustomerPatch, Lifecycle};
/// let patch = CustomerPatch::default().lifecycle(Lifecycle::Customer).add_tag("vip");
/// assert_eq!(patch.lifecycle, Some(Lifecycle::Customer));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        description = "Changes to a customer's fields. A field left out is unchanged; an optional field given as null is cleared."
    )
)]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct CustomerPatch {
    /// New display name.
    pub name: Option<String>,
    /// New organisation link (`Some(None)` removes it).
    #[cfg_attr(
        feature = "schema",
        schemars(description = "New organisation link (null removes it).")
    )]
    #[serde(deserialize_with = "crate::serde_util::double_option")]
    pub organisation: Option<Option<CustomerId>>,
    /// New set of roles.
    pub roles: Option<Vec<Role>>,
    /// New lifecycle state (must be an allowed move).
    pub lifecycle: Option<Lifecycle>,
    /// Replaces all e-mail addresses.
    pub emails: Option<Vec<String>>,
    /// Replaces all phone numbers.
    pub phones: Option<Vec<String>>,
    /// New owner (`Some(None)` removes it).
    #[cfg_attr(
        feature = "schema",
        schemars(description = "New owner (null removes it).")
    )]
    #[serde(deserialize_with = "crate::serde_util::double_option")]
    pub owner: Option<Option<UserId>>,
    /// Tags to add.
    pub add_tags: Vec<String>,
    /// Tags to remove (removing a tag the customer does not have is not an error).
    pub remove_tags: Vec<String>,
    /// Custom field values to set (`Some`) or clear (`None`); other keys
    /// stay as they are.
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "Custom field values by key: a value sets it, null clears it; other keys are unchanged."
        )
    )]
    pub custom: BTreeMap<String, Option<CustomValue>>,
}

impl CustomerPatch {
    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Moves the lifecycle.
    pub fn lifecycle(mut self, lifecycle: Lifecycle) -> Self {
        self.lifecycle = Some(lifecycle);
        self
    }

    /// Sets or clears the owner.
    pub fn owner(mut self, owner: Option<UserId>) -> Self {
        self.owner = Some(owner);
        self
    }

    /// Adds a tag.
    pub fn add_tag(mut self, tag: impl Into<String>) -> Self {
        self.add_tags.push(tag.into());
        self
    }

    /// Removes a tag.
    pub fn remove_tag(mut self, tag: impl Into<String>) -> Self {
        self.remove_tags.push(tag.into());
        self
    }

    /// Sets (`Some`) or clears (`None`) a custom field's value.
    pub fn custom(mut self, key: impl Into<String>, value: Option<CustomValue>) -> Self {
        self.custom.insert(key.into(), value);
        self
    }

    /// Replaces the e-mail addresses.
    pub fn emails(mut self, emails: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.emails = Some(emails.into_iter().map(Into::into).collect());
        self
    }

    /// Replaces the phone numbers.
    pub fn phones(mut self, phones: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.phones = Some(phones.into_iter().map(Into::into).collect());
        self
    }

    /// Sets or clears the organisation link.
    pub fn organisation(mut self, organisation: Option<CustomerId>) -> Self {
        self.organisation = Some(organisation);
        self
    }

    /// Replaces the roles.
    pub fn roles(mut self, roles: impl IntoIterator<Item = Role>) -> Self {
        self.roles = Some(roles.into_iter().collect());
        self
    }

    /// Applies the patch to `current`, returning the new record (version not
    /// yet bumped) and the changed fields.
    pub(crate) fn apply(self, current: &Customer) -> Result<(Customer, Changes)> {
        let mut next = current.clone();
        if let Some(name) = &self.name {
            next.name = validate_name(name)?;
        }
        if let Some(org) = self.organisation {
            next.organisation = org;
        }
        check_organisation_link(next.kind, next.organisation, next.id)?;
        if let Some(roles) = self.roles {
            next.roles = roles.into_iter().collect();
        }
        if let Some(to) = self.lifecycle
            && to != current.lifecycle
        {
            if !current.lifecycle.can_move_to(to) {
                let allowed: Vec<&str> = current
                    .lifecycle
                    .allowed_moves()
                    .iter()
                    .map(|l| l.as_str())
                    .collect();
                return Err(Error::LifecycleNotAllowed {
                    customer: current.id.to_string(),
                    from: current.lifecycle,
                    to,
                    allowed: allowed.join(" or "),
                });
            }
            next.lifecycle = to;
        }
        if let Some(emails) = &self.emails {
            next.emails = validate_emails(emails)?;
        }
        if let Some(phones) = &self.phones {
            next.phones = validate_phones(phones)?;
        }
        if let Some(owner) = self.owner {
            next.owner = owner;
        }
        next.tags.extend(validate_tags("add_tags", &self.add_tags)?);
        for tag in validate_tags("remove_tags", &self.remove_tags)? {
            next.tags.remove(&tag);
        }
        // A record stored with more tags (by an older version) may still
        // shed some; it may not gain any.
        if next.tags.len() > current.tags.len() {
            check_tag_count(&next.tags)?;
        }

        apply_custom(&mut next.custom, self.custom);

        let mut changes = Changes::default();
        changes.field("name", &current.name, &next.name);
        changes.field("organisation", &current.organisation, &next.organisation);
        changes.field("roles", &current.roles, &next.roles);
        changes.field("lifecycle", &current.lifecycle, &next.lifecycle);
        changes.field("emails", &current.emails, &next.emails);
        changes.field("phones", &current.phones, &next.phones);
        changes.field("owner", &current.owner, &next.owner);
        changes.field("tags", &current.tags, &next.tags);
        changes.field("custom", &current.custom, &next.custom);
        Ok((next, changes))
    }
}

/// The fields of a new customer, for its `created` event.
pub(crate) fn creation_changes(c: &Customer) -> Changes {
    let mut ch = Changes::default();
    ch.set("kind", &(), &c.kind);
    ch.set("name", &(), &c.name);
    if c.organisation.is_some() {
        ch.set("organisation", &(), &c.organisation);
    }
    ch.set("roles", &(), &c.roles);
    ch.set("lifecycle", &(), &c.lifecycle);
    if !c.emails.is_empty() {
        ch.set("emails", &(), &c.emails);
    }
    if !c.phones.is_empty() {
        ch.set("phones", &(), &c.phones);
    }
    if c.owner.is_some() {
        ch.set("owner", &(), &c.owner);
    }
    if !c.tags.is_empty() {
        ch.set("tags", &(), &c.tags);
    }
    if !c.custom.is_empty() {
        ch.set("custom", &(), &c.custom);
    }
    ch
}

fn invalid(field: impl Into<String>, value: impl fmt::Display, reason: impl Into<String>) -> Error {
    Error::invalid(EntityKind::Customer, field, value, reason)
}

fn validate_name(name: &str) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(invalid("name", name, "a customer needs a name"));
    }
    limits::check_text(
        EntityKind::Customer,
        "name",
        "a name",
        trimmed,
        limits::MAX_NAME_CHARS,
        false,
    )?;
    Ok(trimmed.to_owned())
}

fn check_organisation_link(
    kind: PartyKind,
    org: Option<CustomerId>,
    own: CustomerId,
) -> Result<()> {
    match (kind, org) {
        (PartyKind::Organisation, Some(o)) => Err(invalid(
            "organisation",
            o,
            "only a person can belong to an organisation",
        )),
        (_, Some(o)) if o == own => Err(invalid(
            "organisation",
            o,
            "a customer cannot belong to itself",
        )),
        _ => Ok(()),
    }
}

fn validate_emails(raw: &[String]) -> Result<Vec<Email>> {
    limits::check_count(
        EntityKind::Customer,
        "emails",
        raw.len(),
        limits::MAX_CONTACT_POINTS,
    )?;
    let mut out: Vec<Email> = Vec::with_capacity(raw.len());
    for (i, e) in raw.iter().enumerate() {
        let email =
            Email::parse(e).map_err(|err| invalid(format!("emails[{i}]"), e, err.reason))?;
        if !out.contains(&email) {
            out.push(email);
        }
    }
    Ok(out)
}

fn validate_phones(raw: &[String]) -> Result<Vec<Phone>> {
    limits::check_count(
        EntityKind::Customer,
        "phones",
        raw.len(),
        limits::MAX_CONTACT_POINTS,
    )?;
    let mut out: Vec<Phone> = Vec::with_capacity(raw.len());
    for (i, p) in raw.iter().enumerate() {
        let phone =
            Phone::parse(p).map_err(|err| invalid(format!("phones[{i}]"), p, err.reason))?;
        if !out.contains(&phone) {
            out.push(phone);
        }
    }
    Ok(out)
}

/// Refuses a customer carrying more than [`limits::MAX_TAGS_PER_RECORD`] tags.
fn check_tag_count(tags: &BTreeSet<Tag>) -> Result<()> {
    limits::check_count(
        EntityKind::Customer,
        "tags",
        tags.len(),
        limits::MAX_TAGS_PER_RECORD,
    )
}

fn validate_tags(field: &str, raw: &[String]) -> Result<BTreeSet<Tag>> {
    // Refuse a huge list before parsing every item of it.
    limits::check_count(
        EntityKind::Customer,
        field,
        raw.len(),
        limits::MAX_TAGS_PER_RECORD,
    )?;
    raw.iter()
        .enumerate()
        .map(|(i, t)| Tag::parse(t).map_err(|err| invalid(format!("{field}[{i}]"), t, err.reason)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{IdGenerator, SequentialIds};

    fn id() -> CustomerId {
        CustomerId::from_uuid(
            SequentialIds::new(9)
                .next_uuid(DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap()),
        )
    }

    #[test]
    fn creation_normalises_and_deduplicates() {
        let c = NewCustomer::person("  Ada Lovelace ")
            .email("ADA@example.org")
            .email("ada@example.org ")
            .phone("+44 20 7946 0958")
            .tag("VIP")
            .tag("vip")
            .tag("Key Account")
            .into_customer(
                id(),
                DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap(),
            )
            .unwrap();
        assert_eq!(c.name, "Ada Lovelace");
        assert_eq!(c.emails.len(), 1);
        assert_eq!(c.phones[0].as_str(), "+442079460958");
        let tags: Vec<&str> = c.tags.iter().map(Tag::as_str).collect();
        assert_eq!(tags, ["key-account", "vip"]);
        assert_eq!(c.version, 1);
    }

    #[test]
    fn bad_input_names_field_and_reason() {
        let err = NewCustomer::person("Ada")
            .email("ok@x.org")
            .email("broken@")
            .into_customer(
                id(),
                DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap(),
            );
        let Err(Error::Invalid(v)) = err else {
            panic!("expected validation error")
        };
        assert_eq!(v.field, "emails[1]");
        assert_eq!(v.value, "broken@");
        assert_eq!(
            v.to_string(),
            "invalid customer.emails[1] \"broken@\": the part after '@' is empty"
        );

        let err = NewCustomer::person("   ")
            .into_customer(
                id(),
                DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap(),
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid customer.name \"   \": a customer needs a name"
        );

        let org = id();
        let err = NewCustomer::organisation("ACME")
            .works_at(org)
            .into_customer(
                id(),
                DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap(),
            )
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("only a person can belong to an organisation")
        );
    }

    #[test]
    fn lifecycle_moves() {
        use Lifecycle::*;
        let all = [Lead, Prospect, Customer, Churned];
        let allowed: Vec<(Lifecycle, Lifecycle)> = all
            .iter()
            .flat_map(|a| all.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.can_move_to(*b))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Lead, Prospect),
                (Lead, Customer),
                (Prospect, Lead),
                (Prospect, Customer),
                (Customer, Churned),
                (Churned, Customer)
            ]
        );
        let c = NewCustomer::person("Ada")
            .into_customer(
                id(),
                DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap(),
            )
            .unwrap();
        let err = CustomerPatch::default()
            .lifecycle(Churned)
            .apply(&c)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "customer {} cannot go from lifecycle 'lead' to 'churned': allowed from 'lead' is prospect or customer",
                c.id
            )
        );
    }

    #[test]
    fn patch_reports_changed_fields_only() {
        let c = NewCustomer::person("Ada")
            .tag("a")
            .into_customer(
                id(),
                DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap(),
            )
            .unwrap();
        let (next, changes) = CustomerPatch::default()
            .name("Ada")
            .add_tag("B")
            .remove_tag("a")
            .apply(&c)
            .unwrap();
        let fields: Vec<String> = changes.into_vec().into_iter().map(|c| c.field).collect();
        assert_eq!(fields, ["tags"]);
        assert_eq!(next.tags.iter().map(Tag::as_str).collect::<Vec<_>>(), ["b"]);
        let (_, none) = CustomerPatch::default().name("Ada").apply(&c).unwrap();
        assert!(none.is_empty());
    }
}
