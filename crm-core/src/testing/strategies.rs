//! proptest strategies for domain values.
//!
//! They produce records that are valid the way the facade would have
//! written them (normalised contact points, history ending in the current
//! stage, status matching the stage kind, …), so they can be stored
//! directly to test a backend, or serialised to test round-trips.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use proptest::collection::{btree_set, vec};
use proptest::option;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use crate::activity::{Activity, ActivityKind, Direction};
use crate::actor::Actor;
use crate::contact::{Email, Phone};
use crate::currency::Currency;
use crate::customer::{Customer, Lifecycle, PartyKind, Role};
use crate::deal::{Deal, DealStatus, StageChange};
use crate::error::EntityKind;
use crate::event::{EntityRef, Event, EventKind, FieldChange};
use crate::id::{ActivityId, CustomerId, DealId, EventId, PipelineId, UserId};
use crate::money::Money;
use crate::pipeline::{Pipeline, PipelineDef, StageDef, StageGuard, StageKind};
use crate::tag::Tag;

/// Any UUID.
pub fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

/// A user id.
pub fn user_id() -> impl Strategy<Value = UserId> {
    // A handful of users, so filters by owner find matches.
    (1u128..6).prop_map(|n| UserId::from_uuid(Uuid::from_u128(n)))
}

/// A time between 2000 and 2040, whole milliseconds.
pub fn timestamp() -> impl Strategy<Value = DateTime<Utc>> {
    (946_684_800_000i64..2_208_988_800_000i64)
        .prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap_or_default())
}

/// A date between 2000 and 2040.
pub fn date() -> impl Strategy<Value = NaiveDate> {
    (0i64..14_600).prop_map(|d| {
        NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default() + chrono::Days::new(d as u64)
    })
}

/// A currency, including ones with 0 and 3 minor units.
pub fn currency() -> impl Strategy<Value = Currency> {
    prop_oneof![
        Just(Currency::EUR),
        Just(Currency::USD),
        Just(Currency::JPY),
        Just(Currency::from_code("KWD").unwrap_or(Currency::EUR)),
    ]
}

/// A non-negative amount that fits its currency's minor unit, with any
/// scale up to it (so `10.50` and `10.5` both occur).
pub fn money() -> impl Strategy<Value = Money> {
    (currency(), 0i64..1_000_000_000_000, 0u32..=3)
        .prop_map(|(c, n, scale)| Money::new(Decimal::new(n, scale.min(c.minor_units())), c))
}

/// A display name, possibly with non-ASCII letters.
pub fn name() -> impl Strategy<Value = String> {
    "[A-Za-zÄÖÜäöüßéñ][A-Za-zÄÖÜäöüßéñ .'-]{0,24}[A-Za-z]".prop_map(|s| s.trim().to_owned())
}

/// A normalised e-mail address.
pub fn email() -> impl Strategy<Value = Email> {
    "[a-z][a-z0-9]{0,7}@[a-z]{1,8}\\.(com|org|de)"
        .prop_filter_map("valid email", |s| Email::parse(&s).ok())
}

/// A normalised phone number.
pub fn phone() -> impl Strategy<Value = Phone> {
    "\\+[1-9][0-9]{7,12}".prop_filter_map("valid phone", |s| Phone::parse(&s).ok())
}

/// A normalised tag.
pub fn tag() -> impl Strategy<Value = Tag> {
    prop_oneof![
        Just("vip".to_owned()),
        Just("berlin".to_owned()),
        "[a-z][a-z0-9_-]{0,8}"
    ]
    .prop_filter_map("valid tag", |s| Tag::parse(&s).ok())
}

/// An actor.
pub fn actor() -> impl Strategy<Value = Actor> {
    prop_oneof![Just(Actor::System), user_id().prop_map(Actor::User)]
}

/// A stored customer (version ≥ 1, `updated_at ≥ created_at`).
pub fn customer() -> impl Strategy<Value = Customer> {
    (
        (uuid(), 1u64..50, any::<bool>(), name(), option::of(uuid())),
        btree_set(
            prop_oneof![
                Just(Role::Customer),
                Just(Role::Supplier),
                Just(Role::Partner)
            ],
            0..3,
        ),
        prop_oneof![
            Just(Lifecycle::Lead),
            Just(Lifecycle::Prospect),
            Just(Lifecycle::Customer),
            Just(Lifecycle::Churned)
        ],
        (
            vec(email(), 0..3),
            vec(phone(), 0..3),
            option::of(user_id()),
            btree_set(tag(), 0..4),
        ),
        (timestamp(), 0i64..1_000_000_000),
    )
        .prop_map(
            |(
                (id, version, is_person, name, org),
                roles,
                lifecycle,
                (mut emails, mut phones, owner, tags),
                (created, delta),
            )| {
                emails.dedup();
                phones.dedup();
                let kind = if is_person {
                    PartyKind::Person
                } else {
                    PartyKind::Organisation
                };
                Customer {
                    id: CustomerId::from_uuid(id),
                    version,
                    kind,
                    name,
                    organisation: if is_person {
                        org.map(CustomerId::from_uuid)
                    } else {
                        None
                    },
                    roles,
                    lifecycle,
                    emails,
                    phones,
                    owner,
                    tags,
                    created_at: created,
                    updated_at: created + chrono::Duration::milliseconds(delta),
                    // Some merged customers, pointing anywhere.
                    merged_into: (delta % 5 == 0).then(|| CustomerId::from_uuid(id)),
                    custom: custom_values(id.as_u128()),
                }
            },
        )
}

/// Zero to three custom values of different types, picked by `seed`'s
/// bits (stores must round-trip them whatever the schema says).
pub fn custom_values(seed: u128) -> crate::custom_field::CustomValues {
    use crate::custom_field::CustomValue;
    let mut out = crate::custom_field::CustomValues::new();
    let bits = (seed >> 8) as u64;
    if bits & 1 == 1 {
        out.insert("tier".into(), CustomValue::Text(format!("t{}", bits % 7)));
    }
    if bits & 2 == 2 {
        let amount = rust_decimal::Decimal::new((bits % 100_000) as i64, 2);
        out.insert(
            "budget".into(),
            CustomValue::Money(Money::new(amount, crate::Currency::EUR)),
        );
    }
    if bits & 4 == 4 {
        out.insert(
            "seats".into(),
            CustomValue::Integer((bits % 1000) as i64 - 500),
        );
    }
    if bits & 8 == 8 {
        out.insert(
            "renewal".into(),
            CustomValue::Date(
                chrono::NaiveDate::from_ymd_opt(
                    2020 + (bits % 10) as i32,
                    1 + (bits % 12) as u32,
                    1,
                )
                .unwrap_or_default(),
            ),
        );
    }
    if bits & 16 == 16 {
        out.insert("active".into(), CustomValue::Bool(bits & 32 == 32));
        out.insert(
            "score".into(),
            CustomValue::Decimal(rust_decimal::Decimal::new((bits % 10_000) as i64, 3)),
        );
    }
    out
}

/// A valid pipeline definition: 1–3 open stages, 1 won, 1–2 lost, random
/// guards, any-to-any or an explicit graph, reopening allowed or not.
pub fn pipeline_def() -> impl Strategy<Value = PipelineDef> {
    (
        name(),
        vec(
            (
                0u8..=100,
                btree_set(
                    prop_oneof![
                        Just(StageGuard::RequiresAmount),
                        Just(StageGuard::RequiresExpectedCloseDate),
                        Just(StageGuard::RequiresOwner)
                    ],
                    0..2,
                ),
            ),
            1..4,
        ),
        1usize..3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(name, open, lost_count, lost_needs_reason, explicit, reopen)| {
                let mut def = PipelineDef::new(name);
                for (i, (p, guards)) in open.iter().enumerate() {
                    let mut s = StageDef::open(format!("s{i}"), format!("Stage {i}"), *p);
                    s.guards = guards.iter().copied().collect();
                    def = def.stage(s);
                }
                def = def.stage(StageDef::won("won", "Won"));
                for i in 0..lost_count {
                    let mut s = StageDef::lost(format!("lost{i}"), format!("Lost {i}"));
                    if lost_needs_reason {
                        s = s.guard(StageGuard::RequiresLostReason);
                    }
                    def = def.stage(s);
                }
                if explicit {
                    // A chain through the open stages; every open stage may win or lose.
                    let keys: Vec<String> = def.stages.iter().map(|s| s.key.clone()).collect();
                    let opens: Vec<&String> = keys.iter().filter(|k| k.starts_with('s')).collect();
                    let mut edges: Vec<(&str, &str)> = Vec::new();
                    for w in opens.windows(2) {
                        edges.push((w[0], w[1]));
                    }
                    for o in &opens {
                        for c in keys.iter().filter(|k| !k.starts_with('s')) {
                            edges.push((o, c));
                        }
                    }
                    def = def.only_transitions(edges);
                }
                def.allow_reopen(reopen)
            },
        )
}

/// A stored pipeline built from [`pipeline_def`].
pub fn pipeline() -> impl Strategy<Value = Pipeline> {
    (uuid(), 1u64..10, pipeline_def(), timestamp()).prop_filter_map(
        "valid pipeline",
        |(id, version, def, at)| {
            let (name, stages, transitions, allow_reopen) = def.validate().ok()?;
            Some(Pipeline {
                id: PipelineId::from_uuid(id),
                version,
                name,
                stages,
                transitions,
                allow_reopen,
                created_at: at,
                updated_at: at,
            })
        },
    )
}

/// A stored deal of `customer` in `pipeline`, in a random stage with a
/// history that ends there.
pub fn deal_for(customer: CustomerId, pipeline: &Pipeline) -> impl Strategy<Value = Deal> + use<> {
    let pipeline = pipeline.clone();
    let n = pipeline.stages.len();
    (
        uuid(),
        name(),
        vec(0..n, 1..4),
        option::of(money()),
        option::of(date()),
        option::of(user_id()),
        timestamp(),
        vec(actor(), 4),
        option::of("[a-z ]{1,20}"),
    )
        .prop_map(
            move |(id, title, path, amount, close, owner, start, actors, reason)| {
                let mut history = Vec::new();
                let mut prev = None;
                for (i, idx) in path.iter().enumerate() {
                    let key = pipeline.stages[*idx].key.clone();
                    history.push(StageChange {
                        from: prev.clone(),
                        to: key.clone(),
                        at: start + chrono::Duration::hours(i as i64),
                        by: actors[i % actors.len()],
                    });
                    prev = Some(key);
                }
                let last = history
                    .last()
                    .map(|c| (c.to.clone(), c.at))
                    .unwrap_or((pipeline.stages[0].key.clone(), start));
                let kind = pipeline
                    .stage(&last.0)
                    .map(|s| s.kind)
                    .unwrap_or(StageKind::Open);
                let lost_reason = reason
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty());
                Deal {
                    id: DealId::from_uuid(id),
                    version: path.len() as u64,
                    title,
                    customer,
                    pipeline: pipeline.id,
                    stage: last.0,
                    status: DealStatus::from(kind),
                    amount,
                    expected_close_date: close,
                    owner,
                    history,
                    won_at: (kind == StageKind::Won).then_some(last.1),
                    lost_at: (kind == StageKind::Lost).then_some(last.1),
                    lost_reason: if kind == StageKind::Lost {
                        lost_reason
                    } else {
                        None
                    },
                    created_at: start,
                    updated_at: last.1,
                    custom: custom_values(id.as_u128()),
                }
            },
        )
}

/// A stored activity linked to `customer` and maybe `deal`.
pub fn activity_for(customer: CustomerId, deal: Option<DealId>) -> impl Strategy<Value = Activity> {
    (
        uuid(),
        prop_oneof![
            Just(ActivityKind::Call),
            Just(ActivityKind::Email),
            Just(ActivityKind::Meeting),
            Just(ActivityKind::Note),
            Just(ActivityKind::Task)
        ],
        name(),
        option::of("[a-zA-Z0-9 ,.]{1,40}"),
        option::of(user_id()),
        any::<bool>(),
        (
            timestamp(),
            option::of(timestamp()),
            option::of(timestamp()),
        ),
        any::<bool>(),
    )
        .prop_map(
            move |(id, kind, subject, body, owner, outbound, (at, due, done), link_deal)| {
                let is_task = kind == ActivityKind::Task;
                let communicates = matches!(
                    kind,
                    ActivityKind::Call | ActivityKind::Email | ActivityKind::Meeting
                );
                Activity {
                    id: ActivityId::from_uuid(id),
                    version: if is_task && done.is_some() { 2 } else { 1 },
                    kind,
                    subject,
                    body: body.map(|b| b.trim().to_owned()).filter(|b| !b.is_empty()),
                    customer: Some(customer),
                    deal: if link_deal { deal } else { None },
                    owner,
                    direction: communicates.then_some(if outbound {
                        Direction::Outbound
                    } else {
                        Direction::Inbound
                    }),
                    occurred_at: at,
                    due_at: if is_task { due } else { None },
                    completed_at: if is_task { done } else { None },
                    created_at: at,
                    updated_at: at,
                    custom: custom_values(id.as_u128()),
                }
            },
        )
}

/// A JSON value of the kind events carry.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Zé0-9 .:-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| vec(inner, 0..4).prop_map(Value::Array))
}

/// A stored event.
pub fn event() -> impl Strategy<Value = Event> {
    (
        1u64..1_000_000,
        uuid(),
        timestamp(),
        actor(),
        prop_oneof![
            Just(EntityKind::Customer),
            Just(EntityKind::Deal),
            Just(EntityKind::Pipeline),
            Just(EntityKind::Activity)
        ],
        uuid(),
        1u64..100,
        prop_oneof![
            Just(EventKind::Created),
            Just(EventKind::Updated),
            Just(EventKind::StageChanged),
            Just(EventKind::Won),
            Just(EventKind::Lost),
            Just(EventKind::Reopened),
            Just(EventKind::Completed),
            Just(EventKind::Merged)
        ],
        vec(("[a-z_]{1,12}", json_value(), json_value()), 0..4),
    )
        .prop_map(
            |(seq, id, at, actor, kind, entity_id, version, event_kind, changes)| Event {
                seq,
                id: EventId::from_uuid(id),
                at,
                actor,
                entity: EntityRef {
                    kind,
                    id: entity_id,
                },
                version,
                kind: event_kind,
                changes: changes
                    .into_iter()
                    .map(|(field, old, new)| FieldChange { field, old, new })
                    .collect(),
            },
        )
}

/// A customer, a pipeline, deals of that customer in it, and activities:
/// a consistent set of records to store directly.
pub fn record_set() -> impl Strategy<Value = (Customer, Pipeline, Vec<Deal>, Vec<Activity>)> {
    (customer(), pipeline()).prop_flat_map(|(mut c, p)| {
        c.organisation = None;
        let cid = c.id;
        let deals = vec(deal_for(cid, &p), 0..4);
        (Just(c), Just(p), deals).prop_flat_map(move |(c, p, deals)| {
            let first = deals.first().map(|d| d.id);
            let acts = vec(activity_for(cid, first), 0..4);
            (Just(c), Just(p), Just(deals), acts)
        })
    })
}

/// Distinct tags, for filters.
pub fn tag_set() -> impl Strategy<Value = BTreeSet<Tag>> {
    btree_set(tag(), 0..3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    >(
        v: &T,
    ) {
        let json = serde_json::to_string(v).unwrap();
        let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        assert_eq!(&back, v);
    }

    proptest! {
        #[test]
        fn serde_round_trips_customers(c in customer()) { round_trip(&c); }

        #[test]
        fn serde_round_trips_pipelines(p in pipeline()) { round_trip(&p); }

        #[test]
        fn serde_round_trips_deals_and_activities((c, p, deals, acts) in record_set()) {
            round_trip(&c);
            round_trip(&p);
            for d in &deals { round_trip(d); }
            for a in &acts { round_trip(a); }
        }

        #[test]
        fn serde_round_trips_events(e in event()) { round_trip(&e); }

        #[test]
        fn serde_round_trips_money(m in money()) {
            round_trip(&m);
            let back: Money = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
            prop_assert_eq!(back.amount.scale(), m.amount.scale());
        }

        #[test]
        fn generated_pipelines_are_valid(def in pipeline_def()) {
            prop_assert!(def.validate().is_ok());
        }
    }
}
