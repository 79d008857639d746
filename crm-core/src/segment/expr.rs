//! The segment expression tree.
//!
//! An [`Expr`] is a boolean combination ([`Expr::And`], [`Expr::Or`],
//! [`Expr::Not`]) of [`Pred`]icates. A predicate applies a [`Test`] to a
//! [`Field`]: a customer attribute (`kind`, `tags`, `created`, …, and
//! custom fields `field.KEY`) or a value derived from the customer's deals
//! and activities (`open_deals`, `won_amount(EUR, 365d)`,
//! `rfm_segment(EUR, 365d)`, …).
//!
//! The tree serialises with serde (JSON) for callers in other languages;
//! [`Expr::check`] validates a tree that did not come from the parser
//! (every value must have the type its field expects, every test must be
//! one the field supports).
//!
//! ```
//! use crm_core::segment::Expr;
//! let e: Expr = "tag:vip and won_amount(EUR, 365d) > 1000".parse()?;
//! let json = serde_json::to_string(&e).unwrap();
//! assert_eq!(
//!     json,
//!     r#"{"and":[{"pred":{"field":{"name":"tags"},"test":{"contains":{"value":{"tag":"vip"}}}}},{"pred":{"field":{"name":"won_amount","currency":"EUR","window":{"days":365}},"test":{"cmp":{"op":"gt","value":{"decimal":"1000"}}}}}]}"#
//! );
//! let back: Expr = serde_json::from_str(&json).unwrap();
//! back.check()?; // a tree from outside is checked before use
//! assert_eq!(back, e);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::currency::Currency;
use crate::customer::{Lifecycle, PartyKind, Role};
use crate::error::{EntityKind, Error, Result};
use crate::id::UserId;
use crate::money::Money;
use crate::segment::rfm::RfmSegment;
use crate::tag::Tag;

/// A boolean expression over customers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// Every customer (`true`) or none (`false`).
    Const(bool),
    /// All of the parts hold (an empty list holds).
    And(Vec<Expr>),
    /// At least one of the parts holds (an empty list does not).
    Or(Vec<Expr>),
    /// The part does not hold.
    Not(Box<Expr>),
    /// A single test on one field.
    Pred(Pred),
}

/// One test on one field, such as `lifecycle = customer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Pred {
    /// What is tested.
    pub field: Field,
    /// How.
    pub test: Test,
}

/// A relative time window: the last `days` days up to the engine's now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Length in days of 24 hours.
    pub days: u32,
}

impl Window {
    /// A window of `days` days.
    pub const fn days(days: u32) -> Self {
        Window { days }
    }

    /// The earliest instant inside the window ending at `now`.
    pub fn start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_sub_signed(chrono::Duration::days(i64::from(self.days)))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// True when `t` lies in the window ending at `now` (both ends included).
    pub fn contains(&self, t: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        t >= self.start(now) && t <= now
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}d", self.days)
    }
}

/// Which won deals a money-based derived field looks at: those in
/// `currency` won within `window` (all time when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Revenue {
    /// Only deals in this currency count (amounts are never converted).
    pub currency: Currency,
    /// Only deals won within this window count; `None`: all time.
    pub window: Option<Window>,
}

/// What a predicate tests.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "snake_case", tag = "name")]
pub enum Field {
    /// `kind`: person or organisation.
    Kind,
    /// `lifecycle`: lead, prospect, customer, churned.
    Lifecycle,
    /// `owner`: the owning user (may be absent).
    Owner,
    /// `roles`: the set of roles.
    Roles,
    /// `tags`: the set of tags.
    Tags,
    /// `name`: the display name.
    Name,
    /// `email`: the e-mail addresses.
    Email,
    /// `phone`: the phone numbers.
    Phone,
    /// `created`: when the customer was created.
    Created,
    /// `updated`: when the customer last changed.
    Updated,
    /// `open_deals`: how many open deals the customer has.
    OpenDeals,
    /// `won_amount(CUR[, window])`: sum of won deal amounts.
    WonAmount(Revenue),
    /// `last_won`: when the customer's most recent won deal was won.
    LastWon,
    /// `last_activity`: when the customer's most recent activity happened
    /// (activities dated after now are ignored).
    LastActivity,
    /// `days_since_last_activity`: whole days from the last activity to now.
    DaysSinceLastActivity,
    /// `rfm_r(CUR[, window])`: the recency score, 1 to 5.
    RfmR(Revenue),
    /// `rfm_f(CUR[, window])`: the frequency score, 1 to 5.
    RfmF(Revenue),
    /// `rfm_m(CUR[, window])`: the monetary score, 1 to 5.
    RfmM(Revenue),
    /// `rfm_segment(CUR[, window])`: the named RFM segment.
    RfmSegment(Revenue),
    /// `field.KEY`: a customer's custom field (see
    /// [`crate::custom_field`]); absent when the customer has no value for
    /// it. The tree does not know the field's type: the facade checks the
    /// key and the test against the customer field schema, and the
    /// evaluator's rules per value type are in [`super::eval`].
    Custom {
        /// The custom field's key.
        key: String,
    },
}

/// How a field is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// Every operator, in a fixed order.
    pub const ALL: [CmpOp; 6] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ];

    /// The operator as written.
    pub fn as_str(&self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// Applies the operator to an ordering of left against right.
    pub fn holds(&self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => ord == Equal,
            CmpOp::Ne => ord != Equal,
            CmpOp::Lt => ord == Less,
            CmpOp::Le => ord != Greater,
            CmpOp::Gt => ord == Greater,
            CmpOp::Ge => ord != Less,
        }
    }

    /// True for `=` and `!=`, the only comparisons unordered values support.
    pub fn is_equality(&self) -> bool {
        matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
}

/// The test applied to a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// `FIELD OP VALUE`. On a set field `=`/`!=` are not allowed (use
    /// `contains`); on an absent value every comparison is false.
    Cmp {
        /// The operator.
        op: CmpOp,
        /// The right-hand side.
        value: Value,
    },
    /// `FIELD in (V1, V2, …)`: equal to one of the values (for a set
    /// field: has at least one of them).
    In {
        /// The candidates (at least one).
        values: Vec<Value>,
    },
    /// `FIELD contains VALUE`: a set holds the value; text contains it
    /// (ignoring ASCII case); a list of e-mails or phones has one that
    /// contains it.
    Contains {
        /// What to look for.
        value: Value,
    },
    /// `FIELD exists`: the value is present (an owner is set, at least one
    /// tag, an activity happened, …).
    Exists,
    /// `FIELD within 30d`: a time lies in the last so many days up to now.
    Within {
        /// The window.
        window: Window,
    },
}

/// A literal value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// Text, such as a name fragment.
    Text(String),
    /// A whole number.
    Int(i64),
    /// An exact decimal (money amounts).
    Decimal(
        #[serde(with = "crate::serde_util::decimal_str")]
        #[cfg_attr(feature = "schema", schemars(with = "crate::schema::DecimalString"))]
        Decimal,
    ),
    /// An instant, millisecond precision.
    Time(DateTime<Utc>),
    /// A party kind.
    Kind(PartyKind),
    /// A lifecycle state.
    Lifecycle(Lifecycle),
    /// A role.
    Role(Role),
    /// A tag.
    Tag(Tag),
    /// A user id.
    User(UserId),
    /// A named RFM segment.
    Segment(RfmSegment),
    /// `true` or `false` (custom bool fields).
    Bool(bool),
    /// An amount in a currency, written `1200.50 EUR` (custom money
    /// fields).
    Money(Money),
}

/// The type of value a field holds, which decides the tests it supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    Kind,
    Lifecycle,
    User,
    RoleSet,
    TagSet,
    Text,
    TextList,
    Time,
    Int,
    Decimal,
    Segment,
    Any,
}

impl Field {
    /// The field's name as written (without its arguments).
    pub fn name(&self) -> &str {
        match self {
            Field::Kind => "kind",
            Field::Lifecycle => "lifecycle",
            Field::Owner => "owner",
            Field::Roles => "roles",
            Field::Tags => "tags",
            Field::Name => "name",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::Created => "created",
            Field::Updated => "updated",
            Field::OpenDeals => "open_deals",
            Field::WonAmount(_) => "won_amount",
            Field::LastWon => "last_won",
            Field::LastActivity => "last_activity",
            Field::DaysSinceLastActivity => "days_since_last_activity",
            Field::RfmR(_) => "rfm_r",
            Field::RfmF(_) => "rfm_f",
            Field::RfmM(_) => "rfm_m",
            Field::RfmSegment(_) => "rfm_segment",
            Field::Custom { key } => key,
        }
    }

    pub(crate) fn ty(&self) -> FieldType {
        match self {
            Field::Kind => FieldType::Kind,
            Field::Lifecycle => FieldType::Lifecycle,
            Field::Owner => FieldType::User,
            Field::Roles => FieldType::RoleSet,
            Field::Tags => FieldType::TagSet,
            Field::Name => FieldType::Text,
            Field::Email | Field::Phone => FieldType::TextList,
            Field::Created | Field::Updated | Field::LastWon | Field::LastActivity => {
                FieldType::Time
            }
            Field::OpenDeals
            | Field::DaysSinceLastActivity
            | Field::RfmR(_)
            | Field::RfmF(_)
            | Field::RfmM(_) => FieldType::Int,
            Field::WonAmount(_) => FieldType::Decimal,
            Field::RfmSegment(_) => FieldType::Segment,
            Field::Custom { .. } => FieldType::Any,
        }
    }

    /// True for fields stored on the customer record itself (as opposed to
    /// values derived from deals and activities). A store may evaluate
    /// these itself (see [`crate::store::ReadTx::segment_push_down`]).
    pub fn is_attribute(&self) -> bool {
        matches!(
            self,
            Field::Kind
                | Field::Lifecycle
                | Field::Owner
                | Field::Roles
                | Field::Tags
                | Field::Name
                | Field::Email
                | Field::Phone
                | Field::Created
                | Field::Updated
                | Field::Custom { .. }
        )
    }

    /// True when the field can be absent (then `exists` is meaningful).
    fn optional(&self) -> bool {
        matches!(
            self,
            Field::Owner
                | Field::Roles
                | Field::Tags
                | Field::Email
                | Field::Phone
                | Field::LastWon
                | Field::LastActivity
                | Field::DaysSinceLastActivity
                | Field::RfmR(_)
                | Field::RfmF(_)
                | Field::RfmM(_)
                | Field::RfmSegment(_)
                | Field::Custom { .. }
        )
    }
}

impl FieldType {
    fn accepts(&self, v: &Value) -> bool {
        matches!(
            (self, v),
            (FieldType::Kind, Value::Kind(_))
                | (FieldType::Lifecycle, Value::Lifecycle(_))
                | (FieldType::User, Value::User(_))
                | (FieldType::RoleSet, Value::Role(_))
                | (FieldType::TagSet, Value::Tag(_))
                | (FieldType::Text | FieldType::TextList, Value::Text(_))
                | (FieldType::Time, Value::Time(_))
                | (FieldType::Int, Value::Int(_))
                | (FieldType::Decimal, Value::Decimal(_))
                | (FieldType::Segment, Value::Segment(_))
                | (
                    FieldType::Any,
                    Value::Text(_)
                        | Value::Int(_)
                        | Value::Decimal(_)
                        | Value::Time(_)
                        | Value::Bool(_)
                        | Value::Money(_)
                )
        )
    }

    fn describe(&self) -> &'static str {
        match self {
            FieldType::Kind => "a kind (person, organisation)",
            FieldType::Lifecycle => "a lifecycle (lead, prospect, customer, churned)",
            FieldType::User => "a user id",
            FieldType::RoleSet => "a role (customer, supplier, partner)",
            FieldType::TagSet => "a tag",
            FieldType::Text | FieldType::TextList => "a quoted text",
            FieldType::Time => "a date such as 2025-01-31 or a time such as 2025-01-31T12:00:00Z",
            FieldType::Int => "a whole number",
            FieldType::Decimal => "a decimal amount such as 1000.50",
            FieldType::Segment => "an RFM segment name such as champions",
            FieldType::Any => {
                "a custom field value: a quoted text, a number, an amount such as 1200.50 EUR, \
                 a date such as 2025-01-31, true or false"
            }
        }
    }

    /// Whether `op` may compare values of this type.
    pub(crate) fn supports_cmp(&self, op: CmpOp) -> bool {
        match self {
            FieldType::Time | FieldType::Int | FieldType::Decimal | FieldType::Any => true,
            FieldType::Kind
            | FieldType::Lifecycle
            | FieldType::User
            | FieldType::Text
            | FieldType::Segment => op.is_equality(),
            FieldType::RoleSet | FieldType::TagSet | FieldType::TextList => false,
        }
    }

    pub(crate) fn supports_in(&self) -> bool {
        !matches!(
            self,
            FieldType::Text | FieldType::TextList | FieldType::Time
        )
    }

    pub(crate) fn supports_contains(&self) -> bool {
        matches!(
            self,
            FieldType::RoleSet
                | FieldType::TagSet
                | FieldType::Text
                | FieldType::TextList
                | FieldType::Any
        )
    }

    pub(crate) fn supports_within(&self) -> bool {
        matches!(self, FieldType::Time | FieldType::Any)
    }
}

/// The value type a field expects, described for error messages.
pub(crate) fn expected_value(field: &Field) -> &'static str {
    field.ty().describe()
}

/// Whether `field` supports `test` (ignoring the values' types), and if
/// not, why.
pub(crate) fn test_allowed(field: &Field, test: &Test) -> std::result::Result<(), String> {
    let ty = field.ty();
    let name = field.name();
    let ok = match test {
        Test::Cmp { op, .. } => ty.supports_cmp(*op),
        Test::In { .. } => ty.supports_in(),
        Test::Contains { .. } => ty.supports_contains(),
        Test::Exists => field.optional(),
        Test::Within { .. } => ty.supports_within(),
    };
    if ok {
        return Ok(());
    }
    Err(match test {
        Test::Cmp { op, .. } => format!("'{name}' cannot be compared with '{}'", op.as_str()),
        Test::In { .. } => format!("'{name}' does not support 'in'"),
        Test::Contains { .. } => format!("'{name}' does not support 'contains'"),
        Test::Exists => format!("'{name}' is always present, so 'exists' is meaningless"),
        Test::Within { .. } => format!("'{name}' is not a time, so 'within' does not apply"),
    })
}

impl Expr {
    /// Shorthand for a predicate.
    pub fn pred(field: Field, test: Test) -> Expr {
        Expr::Pred(Pred { field, test })
    }

    /// Checks that every predicate uses a test its field supports, with
    /// values of the field's type; `in` lists are not empty; custom-field
    /// keys are well-formed. The parser only produces checked trees; call
    /// this on trees built by hand or deserialised.
    pub fn check(&self) -> Result<()> {
        self.check_at("expression")
    }

    fn check_at(&self, path: &str) -> Result<()> {
        match self {
            Expr::Const(_) => Ok(()),
            Expr::And(parts) | Expr::Or(parts) => {
                let op = if matches!(self, Expr::And(_)) {
                    "and"
                } else {
                    "or"
                };
                for (i, p) in parts.iter().enumerate() {
                    p.check_at(&format!("{path}.{op}[{i}]"))?;
                }
                Ok(())
            }
            Expr::Not(inner) => inner.check_at(&format!("{path}.not")),
            Expr::Pred(p) => p.check_at(path),
        }
    }

    /// True when every predicate in the tree is on a customer attribute.
    pub fn is_attribute_only(&self) -> bool {
        match self {
            Expr::Const(_) => true,
            Expr::And(parts) | Expr::Or(parts) => parts.iter().all(Expr::is_attribute_only),
            Expr::Not(inner) => inner.is_attribute_only(),
            Expr::Pred(p) => p.field.is_attribute(),
        }
    }

    /// Calls `f` with every predicate of the tree.
    pub fn for_each_pred(&self, f: &mut impl FnMut(&Pred)) {
        match self {
            Expr::Const(_) => {}
            Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| p.for_each_pred(f)),
            Expr::Not(inner) => inner.for_each_pred(f),
            Expr::Pred(p) => f(p),
        }
    }
}

fn invalid(path: &str, value: impl fmt::Display, reason: impl Into<String>) -> Error {
    Error::invalid(EntityKind::Segment, path, value, reason)
}

impl Pred {
    fn check_at(&self, path: &str) -> Result<()> {
        let shown = crate::segment::print::pred_to_string(self);
        if let Field::Custom { key } = &self.field
            && !valid_custom_key(key)
        {
            return Err(invalid(
                path,
                &shown,
                "a custom field key is 1 to 64 letters, digits and '_', starting with a letter",
            ));
        }
        test_allowed(&self.field, &self.test).map_err(|why| invalid(path, &shown, why))?;
        let ty = self.field.ty();
        let values: &[Value] = match &self.test {
            Test::Cmp { value, .. } | Test::Contains { value } => std::slice::from_ref(value),
            Test::In { values } => {
                if values.is_empty() {
                    return Err(invalid(path, &shown, "'in' needs at least one value"));
                }
                values
            }
            Test::Exists | Test::Within { .. } => &[],
        };
        for v in values {
            if !ty.accepts(v) {
                return Err(invalid(
                    path,
                    &shown,
                    format!("'{}' takes {}", self.field.name(), ty.describe()),
                ));
            }
        }
        Ok(())
    }
}

/// Custom field keys: an ASCII letter, then letters, digits or `_`, at
/// most 64 characters.
pub(crate) fn valid_custom_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && key.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
