//! proptest strategies for segment expressions.
//!
//! Every tree they produce is well-typed ([`Expr::check`] accepts it) and
//! is one the parser can produce (`and`/`or` have at least two parts), so
//! printing and parsing it gives it back. Values come from small domains
//! that overlap the records of [`super::strategies`], so evaluating the
//! expressions on generated data finds matches.

use chrono::{DateTime, Utc};
use proptest::collection::vec;
use proptest::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::currency::Currency;
use crate::custom_field::{FieldDef, FieldType as CustomType};
use crate::customer::{Lifecycle, PartyKind, Role};
use crate::id::UserId;
use crate::money::Money;
use crate::segment::expr::FieldType;
use crate::segment::rfm::RfmSegment;
use crate::segment::{CmpOp, Expr, Field, Pred, Revenue, Test, Value, Window};
use crate::tag::Tag;

/// A comparison operator.
pub fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(CmpOp::ALL.to_vec())
}

/// A window of 0 to 15 000 days.
pub fn window() -> impl Strategy<Value = Window> {
    prop_oneof![0u32..40, 0u32..15_000].prop_map(Window::days)
}

fn currency() -> impl Strategy<Value = Currency> {
    prop_oneof![Just(Currency::EUR), Just(Currency::USD)]
}

fn revenue() -> impl Strategy<Value = Revenue> {
    (currency(), proptest::option::of(window()))
        .prop_map(|(currency, window)| Revenue { currency, window })
}

/// A field; custom fields only when `custom` is true.
pub fn field(custom: bool) -> BoxedStrategy<Field> {
    let simple = prop::sample::select(vec![
        Field::Kind,
        Field::Lifecycle,
        Field::Owner,
        Field::Roles,
        Field::Tags,
        Field::Name,
        Field::Email,
        Field::Phone,
        Field::Created,
        Field::Updated,
        Field::OpenDeals,
        Field::LastWon,
        Field::LastActivity,
        Field::DaysSinceLastActivity,
    ]);
    let derived = (0..5u8, revenue()).prop_map(|(i, r)| match i {
        0 => Field::WonAmount(r),
        1 => Field::RfmR(r),
        2 => Field::RfmF(r),
        3 => Field::RfmM(r),
        _ => Field::RfmSegment(r),
    });
    if custom {
        prop_oneof![
            4 => simple,
            2 => derived,
            1 => "[a-zA-Z][a-zA-Z0-9_]{0,8}".prop_map(|key| Field::Custom { key }),
        ]
        .boxed()
    } else {
        prop_oneof![4 => simple, 2 => derived].boxed()
    }
}

/// Attribute fields only.
pub fn attribute_field() -> BoxedStrategy<Field> {
    field(false)
        .prop_filter("attribute", Field::is_attribute)
        .boxed()
}

/// A time from 2000 to 2040: whole days (printed as dates) or any millisecond.
pub fn time() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        (10_957i64..25_567).prop_map(|d| d * 86_400_000),
        946_684_800_000i64..2_208_988_800_000i64,
    ]
    .prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap_or_default())
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9@.+ ]{0,4}",
        "[aé\"\\\\ x(),=<]{0,6}",
        Just("example".to_owned()),
        Just("+49".to_owned()),
    ]
}

fn tag() -> impl Strategy<Value = Tag> {
    prop::sample::select(vec!["vip", "berlin", "key-account", "straße", "x_1", "a"])
        .prop_filter_map("tag", |t| Tag::parse(t).ok())
}

/// A value of the type `ty`.
pub(crate) fn value(ty: FieldType) -> BoxedStrategy<Value> {
    match ty {
        FieldType::Kind => prop_oneof![
            Just(Value::Kind(PartyKind::Person)),
            Just(Value::Kind(PartyKind::Organisation))
        ]
        .boxed(),
        FieldType::Lifecycle => prop::sample::select(vec![
            Lifecycle::Lead,
            Lifecycle::Prospect,
            Lifecycle::Customer,
            Lifecycle::Churned,
        ])
        .prop_map(Value::Lifecycle)
        .boxed(),
        FieldType::User => (1u128..6)
            .prop_map(|n| Value::User(UserId::from_uuid(Uuid::from_u128(n))))
            .boxed(),
        FieldType::RoleSet => {
            prop::sample::select(vec![Role::Customer, Role::Supplier, Role::Partner])
                .prop_map(Value::Role)
                .boxed()
        }
        FieldType::TagSet => tag().prop_map(Value::Tag).boxed(),
        FieldType::Text | FieldType::TextList => text().prop_map(Value::Text).boxed(),
        FieldType::Time => time().prop_map(Value::Time).boxed(),
        FieldType::Int => prop_oneof![-2i64..8, 0i64..10_000, any::<i64>()]
            .prop_map(Value::Int)
            .boxed(),
        FieldType::Decimal => (prop_oneof![-1_000i64..1_000_000, any::<i64>()], 0u32..4)
            .prop_map(|(n, s)| Value::Decimal(Decimal::new(n, s)))
            .boxed(),
        FieldType::Segment => prop::sample::select(RfmSegment::ALL.to_vec())
            .prop_map(Value::Segment)
            .boxed(),
        FieldType::Any => prop_oneof![
            text().prop_map(Value::Text),
            any::<i64>().prop_map(Value::Int),
            (any::<i64>(), 0u32..4).prop_map(|(n, s)| Value::Decimal(Decimal::new(n, s))),
            time().prop_map(Value::Time),
            any::<bool>().prop_map(Value::Bool),
            (any::<i64>(), 0u32..4, currency())
                .prop_map(|(n, s, c)| Value::Money(Money::new(Decimal::new(n, s), c))),
        ]
        .boxed(),
    }
}

/// A test that `field` supports, with values of its type.
pub fn test_for(field: &Field) -> BoxedStrategy<Test> {
    let ty = field.ty();
    let f = field.clone();
    let candidates = prop_oneof![
        (cmp_op(), value(ty)).prop_map(|(op, value)| Test::Cmp { op, value }),
        vec(value(ty), 1..4).prop_map(|values| Test::In { values }),
        value(ty).prop_map(|value| Test::Contains { value }),
        Just(Test::Exists),
        window().prop_map(|window| Test::Within { window }),
    ];
    candidates
        .prop_filter("test the field supports", move |t| {
            crate::segment::expr::test_allowed(&f, t).is_ok()
        })
        .boxed()
}

/// A predicate over `fields`.
pub fn pred(fields: BoxedStrategy<Field>) -> BoxedStrategy<Pred> {
    fields
        .prop_flat_map(|field| {
            let f = field.clone();
            test_for(&field).prop_map(move |test| Pred {
                field: f.clone(),
                test,
            })
        })
        .boxed()
}

/// An expression over predicates on `fields`, up to about 4 levels deep.
pub fn expr_over(fields: BoxedStrategy<Field>) -> BoxedStrategy<Expr> {
    let leaf = prop_oneof![
        8 => pred(fields).prop_map(Expr::Pred),
        1 => any::<bool>().prop_map(Expr::Const),
    ];
    tree(leaf.boxed())
}

/// Like [`expr_over`], with predicates on the custom fields of
/// [`custom_field_defs`] mixed in (every one valid for that schema).
pub fn expr_with_custom(fields: BoxedStrategy<Field>) -> BoxedStrategy<Expr> {
    let leaf = prop_oneof![
        5 => pred(fields).prop_map(Expr::Pred),
        3 => custom_pred().prop_map(Expr::Pred),
        1 => any::<bool>().prop_map(Expr::Const),
    ];
    tree(leaf.boxed())
}

/// The customer custom fields that [`super::strategies::custom_values`]
/// fills: `tier` (enum t0–t6), `budget` (money), `seats` (integer),
/// `renewal` (date), `active` (bool), `score` (decimal).
pub fn custom_field_defs() -> Vec<FieldDef> {
    vec![
        FieldDef::new("tier", "Tier", CustomType::Enum).options((0..7).map(|i| format!("t{i}"))),
        FieldDef::new("budget", "Budget", CustomType::Money),
        FieldDef::new("seats", "Seats", CustomType::Integer),
        FieldDef::new("renewal", "Renewal", CustomType::Date),
        FieldDef::new("active", "Active", CustomType::Bool),
        FieldDef::new("score", "Score", CustomType::Decimal),
    ]
}

/// A number literal: whole or decimal, near the generated values.
fn number(scale: u32) -> BoxedStrategy<Value> {
    prop_oneof![
        (-600i64..600).prop_map(Value::Int),
        (-600_000i64..600_000, 0..=scale).prop_map(|(n, s)| Value::Decimal(Decimal::new(n, s))),
    ]
    .boxed()
}

/// A predicate on one of [`custom_field_defs`], with a test and literals
/// its type takes, near the values [`super::strategies::custom_values`]
/// generates.
pub fn custom_pred() -> BoxedStrategy<Pred> {
    let tier = || prop::sample::select((0..7).map(|i| format!("t{i}")).collect::<Vec<_>>());
    let eq = || prop_oneof![Just(CmpOp::Eq), Just(CmpOp::Ne)];
    let key = |k: &str| Field::Custom { key: k.to_owned() };
    let money = || {
        (0i64..100_000, currency())
            .prop_map(|(n, c)| Value::Money(Money::new(Decimal::new(n, 2), c)))
    };
    let date = || {
        (2019i32..2031, 1u32..13, prop_oneof![Just(1u32), 1u32..29]).prop_map(|(y, m, d)| {
            let day = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
            Value::Time(day.and_time(chrono::NaiveTime::MIN).and_utc())
        })
    };
    let common = |t: BoxedStrategy<Test>| prop_oneof![4 => t, 1 => Just(Test::Exists)];
    let tier_test = prop_oneof![
        (eq(), tier()).prop_map(|(op, t)| Test::Cmp {
            op,
            value: Value::Text(t)
        }),
        vec(tier(), 1..3).prop_map(|ts| Test::In {
            values: ts.into_iter().map(Value::Text).collect()
        }),
        prop::sample::select(vec!["t", "T1", "", "x", "6"]).prop_map(|n| Test::Contains {
            value: Value::Text(n.to_owned())
        }),
    ]
    .boxed();
    let numeric = |v: BoxedStrategy<Value>| {
        prop_oneof![
            (cmp_op(), v.clone()).prop_map(|(op, value)| Test::Cmp { op, value }),
            vec(v, 1..3).prop_map(|values| Test::In { values }),
        ]
        .boxed()
    };
    let date_test = prop_oneof![
        3 => numeric(date().boxed()),
        1 => window().prop_map(|window| Test::Within { window }),
    ]
    .boxed();
    let bool_test = prop_oneof![
        (eq(), any::<bool>()).prop_map(|(op, b)| Test::Cmp {
            op,
            value: Value::Bool(b)
        }),
        vec(any::<bool>(), 1..3).prop_map(|bs| Test::In {
            values: bs.into_iter().map(Value::Bool).collect()
        }),
    ]
    .boxed();
    prop_oneof![
        common(tier_test).prop_map(move |test| Pred {
            field: key("tier"),
            test
        }),
        common(numeric(money().boxed())).prop_map(move |test| Pred {
            field: key("budget"),
            test
        }),
        common(numeric(number(0))).prop_map(move |test| Pred {
            field: key("seats"),
            test
        }),
        common(date_test).prop_map(move |test| Pred {
            field: key("renewal"),
            test
        }),
        common(bool_test).prop_map(move |test| Pred {
            field: key("active"),
            test
        }),
        common(numeric(number(4))).prop_map(move |test| Pred {
            field: key("score"),
            test
        }),
    ]
    .boxed()
}

fn tree(leaf: BoxedStrategy<Expr>) -> BoxedStrategy<Expr> {
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 2..4).prop_map(Expr::And),
            vec(inner.clone(), 2..4).prop_map(Expr::Or),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
    .boxed()
}

/// Any expression, custom fields included.
pub fn expr() -> BoxedStrategy<Expr> {
    expr_over(field(true))
}
