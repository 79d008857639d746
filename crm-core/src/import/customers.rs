//! Customer rows.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::cell::{Row, parse_enum, parse_user};
use super::index::CustomerIndex;
use super::{Column, Importer, MatchBy, exists};
use crate::customer::{CustomerPatch, NewCustomer, PartyKind};
use crate::error::{EntityKind, Error, Result};
use crate::event::FieldChange;
use crate::facade::Batch;
use crate::id::CustomerId;

/// The columns of a customer file.
pub const CUSTOMER_COLUMNS: &[Column] = &[
    Column {
        name: "id",
        required: false,
        description: "the record's id in the system the file comes from; later rows and files can refer to it",
    },
    Column {
        name: "name",
        required: true,
        description: "the person's or organisation's name",
    },
    Column {
        name: "kind",
        required: false,
        description: "person (the default) or organisation",
    },
    Column {
        name: "organisation",
        required: false,
        description: "for a person: the organisation they belong to, by id, e-mail or exact name; it may be a row earlier in the same file",
    },
    Column {
        name: "roles",
        required: false,
        description: "customer (the default), supplier, partner; a list",
    },
    Column {
        name: "lifecycle",
        required: false,
        description: "lead (the default), prospect, customer or churned",
    },
    Column {
        name: "email",
        required: false,
        description: "e-mail addresses, a list",
    },
    Column {
        name: "phone",
        required: false,
        description: "phone numbers, a list",
    },
    Column {
        name: "owner",
        required: false,
        description: "the owning user's id",
    },
    Column {
        name: "tags",
        required: false,
        description: "tags, a list",
    },
    Column {
        name: "created_at",
        required: false,
        description: "when the customer was first recorded (default: now)",
    },
];

pub(crate) struct CustomerRow {
    input: NewCustomer,
    created_at: Option<DateTime<Utc>>,
    /// Which cells the row fills (a blank cell leaves a field alone in an
    /// update; a new record takes the defaults).
    kind_given: bool,
    organisation_given: bool,
    roles_given: bool,
    lifecycle_given: bool,
    emails_given: bool,
    phones_given: bool,
    owner_given: bool,
    tags_given: bool,
}

/// Imports customers; organisations created by earlier rows can be named
/// by later ones.
pub(crate) struct CustomerImporter {
    index: CustomerIndex,
    default_at: Option<DateTime<Utc>>,
}

impl Importer for CustomerImporter {
    const ENTITY: EntityKind = EntityKind::Customer;
    const COLUMNS: &'static [Column] = CUSTOMER_COLUMNS;
    type Input = CustomerRow;

    fn new(batch: &Batch<'_>, default_at: Option<DateTime<Utc>>) -> Result<Self> {
        Ok(CustomerImporter {
            index: CustomerIndex::load(batch)?,
            default_at,
        })
    }

    fn read(&mut self, row: &mut Row<'_>) -> Option<CustomerRow> {
        let name = row.required("name");
        let kind_cell = row.parse("kind", |t| parse_enum(t, &["person", "organisation"]));
        let kind = kind_cell.unwrap_or(PartyKind::Person);
        let ids = row.ids();
        let organisation = row.parse("organisation", |t| self.index.resolve(t, ids));
        let roles = row.enum_list("roles", &["customer", "supplier", "partner"]);
        let lifecycle = row.parse("lifecycle", |t| {
            parse_enum(t, &["lead", "prospect", "customer", "churned"])
        });
        let owner = row.parse("owner", parse_user);
        let created_at = row.time("created_at");
        let mut input = match kind {
            PartyKind::Person => NewCustomer::person(name?),
            PartyKind::Organisation => NewCustomer::organisation(name?),
        };
        input.organisation = organisation;
        let roles_empty = roles.is_empty();
        if !roles.is_empty() {
            input.roles = roles;
        }
        if let Some(l) = lifecycle {
            input.lifecycle = l;
        }
        let lifecycle_given = lifecycle.is_some();
        input.emails = row.list("email");
        input.phones = row.phones("phone");
        input.tags = row.list("tags");
        input.owner = owner;
        input.custom = row.custom();
        if row.has_problems() {
            return None;
        }
        Some(CustomerRow {
            kind_given: kind_cell.is_some(),
            organisation_given: input.organisation.is_some(),
            roles_given: !roles_empty,
            lifecycle_given,
            emails_given: !input.emails.is_empty(),
            phones_given: !input.phones.is_empty(),
            owner_given: input.owner.is_some(),
            tags_given: !input.tags.is_empty(),
            input,
            created_at,
        })
    }

    fn write(&mut self, batch: &mut Batch<'_>, row: &CustomerRow) -> Result<Uuid> {
        batch.set_time(row.created_at.or(self.default_at));
        let created = batch.create_customer(row.input.clone());
        batch.set_time(self.default_at);
        let customer = created?;
        self.index.add(&customer);
        Ok(customer.id.as_uuid())
    }

    fn several_steps(&self, _: &CustomerRow) -> bool {
        false
    }

    fn column_of(&self, _: &CustomerRow, error: &Error) -> &'static str {
        let Error::Invalid(v) = error else { return "" };
        let root = v.field.split(['[', '.']).next().unwrap_or("");
        match root {
            "emails" => "email",
            "phones" => "phone",
            "tags" | "add_tags" | "remove_tags" => "tags",
            "kind" => "kind",
            "roles" => "roles",
            "lifecycle" => "lifecycle",
            "name" => "name",
            "organisation" => "organisation",
            "owner" => "owner",
            _ => "",
        }
    }

    fn find(
        &self,
        batch: &Batch<'_>,
        by: MatchBy,
        own_id: Option<Uuid>,
        row: &CustomerRow,
    ) -> std::result::Result<Option<Uuid>, (&'static str, String)> {
        match by {
            MatchBy::Nothing => Ok(None),
            MatchBy::Id => match own_id {
                None => Ok(None),
                Some(id) => exists(batch.customer(CustomerId::from_uuid(id)))
                    .map(|c| c.map(|c| c.id.as_uuid()))
                    .map_err(|e| ("id", e.to_string())),
            },
            MatchBy::Email => self
                .index
                .by_emails(&row.input.emails)
                .map(|found| found.map(|id| id.as_uuid()))
                .map_err(|reason| ("email", reason)),
        }
    }

    fn update(
        &mut self,
        batch: &mut Batch<'_>,
        id: Uuid,
        row: &CustomerRow,
    ) -> Result<Vec<FieldChange>> {
        let id = CustomerId::from_uuid(id);
        let current = batch.customer(id)?;
        if row.kind_given && row.input.kind != current.kind {
            return Err(Error::invalid(
                EntityKind::Customer,
                "kind",
                row.input.kind.as_str(),
                format!(
                    "the customer is a {}; an import does not change a customer's kind",
                    current.kind.as_str()
                ),
            ));
        }
        let input = &row.input;
        let mut patch = CustomerPatch {
            name: Some(input.name.clone()),
            ..CustomerPatch::default()
        };
        if row.organisation_given {
            patch.organisation = Some(input.organisation);
        }
        if row.roles_given {
            patch.roles = Some(input.roles.clone());
        }
        if row.lifecycle_given {
            patch.lifecycle = Some(input.lifecycle);
        }
        // Contact points are added, never removed: a spreadsheet's one
        // e-mail column usually holds one of a customer's addresses.
        if row.emails_given {
            let mut emails: Vec<String> = current
                .emails
                .iter()
                .map(|e| e.as_str().to_owned())
                .collect();
            for e in &input.emails {
                let key = crate::contact::Email::parse(e)
                    .map_or_else(|_| e.clone(), |e| e.as_str().to_owned());
                if !emails.contains(&key) {
                    emails.push(e.clone());
                }
            }
            patch.emails = Some(emails);
        }
        if row.phones_given {
            let mut phones: Vec<String> = current
                .phones
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect();
            for p in &input.phones {
                let key = crate::contact::Phone::parse(p)
                    .map_or_else(|_| p.clone(), |p| p.as_str().to_owned());
                if !phones.contains(&key) {
                    phones.push(p.clone());
                }
            }
            patch.phones = Some(phones);
        }
        if row.owner_given {
            patch.owner = Some(input.owner);
        }
        if row.tags_given {
            let wanted: std::collections::BTreeSet<String> = input
                .tags
                .iter()
                .map(|t| {
                    crate::tag::Tag::parse(t).map_or_else(|_| t.clone(), |t| t.as_str().to_owned())
                })
                .collect();
            patch.add_tags = input.tags.clone();
            patch.remove_tags = current
                .tags
                .iter()
                .filter(|t| !wanted.contains(t.as_str()))
                .map(|t| t.as_str().to_owned())
                .collect();
        }
        for (key, value) in &input.custom {
            patch.custom.insert(key.clone(), Some(value.clone()));
        }
        // The same computation the update makes: empty means unchanged.
        let (_, changes) = patch.clone().apply(&current)?;
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        batch.set_time(self.default_at);
        let updated = batch.update_customer(id, current.version, patch)?;
        self.index.replace(&current, &updated);
        Ok(changes.into_vec())
    }
}
