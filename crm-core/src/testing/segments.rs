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
use crate::customer::{Lifecycle, PartyKind, Role};
use crate::id::UserId;
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

fn revenue() -> impl Strategy<Value = Revenue> {
    (
        prop_oneof![Just(Currency::EUR), Just(Currency::USD)],
        proptest::option::of(window()),
    )
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
