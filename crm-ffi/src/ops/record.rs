//! What a write step returns: one of the records a [`Batch`] write gives
//! back, serialised in its own serde form (no wrapper).
//!
//! [`Batch`]: crm_core::Batch

use crm_core::automation::{DueReport, Notification, Rule};
use crm_core::custom_field::FieldSchema;
use crm_core::{Activity, Customer, Deal, Pipeline, Team, User};
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
}

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
