//! Customer rows.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::cell::{Row, parse_enum, parse_time, parse_user};
use super::index::CustomerIndex;
use super::{Column, Importer};
use crate::customer::{NewCustomer, PartyKind};
use crate::error::{EntityKind, Error, Result};
use crate::facade::Batch;

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
        let kind = row
            .parse("kind", |t| parse_enum(t, &["person", "organisation"]))
            .unwrap_or(PartyKind::Person);
        let ids = row.ids();
        let organisation = row.parse("organisation", |t| self.index.resolve(t, ids));
        let roles = row.enum_list("roles", &["customer", "supplier", "partner"]);
        let lifecycle = row.parse("lifecycle", |t| {
            parse_enum(t, &["lead", "prospect", "customer", "churned"])
        });
        let owner = row.parse("owner", parse_user);
        let created_at = row.parse("created_at", parse_time);
        let mut input = match kind {
            PartyKind::Person => NewCustomer::person(name?),
            PartyKind::Organisation => NewCustomer::organisation(name?),
        };
        input.organisation = organisation;
        if !roles.is_empty() {
            input.roles = roles;
        }
        if let Some(l) = lifecycle {
            input.lifecycle = l;
        }
        input.emails = row.list("email");
        input.phones = row.list("phone");
        input.tags = row.list("tags");
        input.owner = owner;
        input.custom = row.custom();
        if row.has_problems() {
            return None;
        }
        Some(CustomerRow { input, created_at })
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
            "tags" => "tags",
            "name" => "name",
            "organisation" => "organisation",
            "owner" => "owner",
            _ => "",
        }
    }
}
