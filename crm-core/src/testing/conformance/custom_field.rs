//! Custom field contracts, run on every store.

use super::{all_events, engine};
use crate::custom_field::{CustomValue, FieldDef, FieldType};
use crate::*;

/// Schemas are stored, versioned and audited; values are checked on every
/// write; schema changes that would strand stored values are refused.
pub fn custom_fields_are_defined_checked_and_versioned<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    assert_eq!(
        s.custom_fields(EntityKind::Deal).expect("schema").version,
        0
    );
    let fields = vec![
        FieldDef::new("tier", "Tier", FieldType::Enum).options(["gold", "silver"]),
        FieldDef::new("budget", "Budget", FieldType::Money),
    ];
    let schema = s
        .set_custom_fields(EntityKind::Deal, 0, fields.clone())
        .expect("define");
    assert_eq!((schema.version, schema.fields.len()), (1, 2));
    assert_eq!(s.custom_fields(EntityKind::Deal).expect("schema"), schema);
    assert!(matches!(
        s.set_custom_fields(EntityKind::Deal, 0, fields.clone()),
        Err(Error::Conflict { .. })
    ));

    let c = s
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("customer");
    let gold = CustomValue::Text("gold".into());
    let deal = s
        .create_deal(NewDeal::new(c.id, p.id, "Robots").custom("tier", gold.clone()))
        .expect("deal with a custom value");
    assert_eq!(s.deal(deal.id).expect("read").custom["tier"], gold);
    for (bad, reason) in [
        (
            CustomValue::Text("bronze".into()),
            "expected one of gold, silver",
        ),
        (CustomValue::Integer(3), "expected a enum value"),
    ] {
        match s.create_deal(NewDeal::new(c.id, p.id, "Bad").custom("tier", bad)) {
            Err(Error::Invalid(v)) => {
                assert_eq!(v.field, "custom.tier");
                assert_eq!(v.reason, reason);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert!(
        s.create_customer(NewCustomer::person("Ada").custom("tier", gold.clone()))
            .is_err(),
        "customers have no custom fields yet"
    );
    let deal = s
        .update_deal(
            deal.id,
            deal.version,
            DealPatch::default().custom(
                "budget",
                Some(CustomValue::Money(
                    Money::parse("100", "EUR").expect("money"),
                )),
            ),
        )
        .expect("set budget");
    assert_eq!(deal.custom.len(), 2);

    // Removing a field that holds values, or making one required that some
    // deal lacks, is refused; nothing changes.
    let events = all_events(crm.store()).len();
    let only_tier = vec![fields[0].clone()];
    assert!(
        s.set_custom_fields(EntityKind::Deal, 1, only_tier.clone())
            .is_err()
    );
    let mut required = fields.clone();
    required.push(FieldDef::new("region", "Region", FieldType::Text).required());
    let err = s
        .set_custom_fields(EntityKind::Deal, 1, required)
        .expect_err("required without values");
    assert!(
        err.to_string().contains("1 deal record(s) have no value"),
        "{err}"
    );
    assert_eq!(
        all_events(crm.store()).len(),
        events,
        "refused changes appended events"
    );

    // Clear the value, then the field can go.
    let deal = s
        .update_deal(
            deal.id,
            deal.version,
            DealPatch::default().custom("budget", None),
        )
        .expect("clear budget");
    assert_eq!(deal.custom.len(), 1);
    let schema = s
        .set_custom_fields(EntityKind::Deal, 1, only_tier)
        .expect("remove budget");
    assert_eq!(schema.version, 2);
    let events = all_events(crm.store());
    let last = events.last().expect("event");
    assert_eq!(
        (last.entity.kind, last.kind, last.version),
        (EntityKind::FieldSchema, EventKind::Updated, 2)
    );
}
