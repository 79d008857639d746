//! What a write step returns: one of the records a [`Batch`] write gives
//! back, serialised in its own serde form (no wrapper).
//!
//! [`Batch`]: crm_core::Batch

use crm_core::automation::{DueReport, Notification, Rule};
use crm_core::custom_field::FieldSchema;
use crm_core::{Activity, Customer, Deal, Pipeline, Team, Upserted, User};
use schemars::JsonSchema;
use serde::Serialize;

/// The result of one write step.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum Record {
    Customer(Box<Customer>),
    Pipeline(Box<Pipeline>),
    Deal(Box<Deal>),
    Activity(Box<Activity>),
    User(Box<User>),
    Team(Box<Team>),
    Rule(Box<Rule>),
    Notification(Box<Notification>),
    FieldSchema(Box<FieldSchema>),
    DueReport(Box<DueReport>),
    UpsertedCustomer(Box<Upserted<Customer>>),
    UpsertedDeal(Box<Upserted<Deal>>),
    UpsertedActivity(Box<Upserted<Activity>>),
    NewVersion(Box<super::external_key::NewVersion>),
}

macro_rules! from_as {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for Record {
            fn from(r: $t) -> Self {
                Record::$v(Box::new(r))
            }
        }
    )*};
}

from_as!(
    Upserted<Customer> => UpsertedCustomer,
    Upserted<Deal> => UpsertedDeal,
    Upserted<Activity> => UpsertedActivity,
    super::external_key::NewVersion => NewVersion
);

macro_rules! from {
    ($($t:ident),*) => {$(
        impl From<$t> for Record {
            fn from(r: $t) -> Self {
                Record::$t(Box::new(r))
            }
        }
    )*};
}

from!(
    Customer,
    Pipeline,
    Deal,
    Activity,
    User,
    Team,
    Rule,
    Notification,
    FieldSchema,
    DueReport
);
