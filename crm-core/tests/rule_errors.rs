//! A change refused because an automation rule's action failed says which
//! rule, and never names the id of a record the refused call created (it
//! was rolled back, so that id does not exist).

use crm_core::automation::{Action, NewRule, Trigger};
use crm_core::query::CustomerQuery;
use crm_core::{Actor, Crm, CustomerPatch, EntityKind, Error, Lifecycle, NewCustomer};
use crm_store_memory::MemoryStore;

#[test]
fn a_create_whose_rule_fails_names_the_rule_not_the_new_id() {
    let crm = Crm::new(MemoryStore::new());
    let s = crm.as_actor(Actor::System);
    // A lead cannot become churned: this rule fails on every new lead.
    let rule = s
        .create_rule(
            NewRule::new(
                "Churn new leads",
                Trigger::RecordCreated {
                    entity: EntityKind::Customer,
                },
            )
            .action(Action::SetLifecycle {
                to: Lifecycle::Churned,
            }),
        )
        .expect("rule");
    let err = s
        .create_customer(NewCustomer::person("Ada"))
        .expect_err("the rule fails");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "automation rule 'Churn new leads' ({}) failed: customer new customer cannot go from lifecycle 'lead' to 'churned'",
            rule.id
        )),
        "{text}"
    );
    let Error::Rule {
        rule: id, source, ..
    } = &err
    else {
        panic!("not a rule error: {err:?}");
    };
    assert_eq!(*id, rule.id);
    assert!(
        matches!(**source, Error::LifecycleNotAllowed { .. }),
        "{source:?}"
    );
    let parts = err.parts();
    assert_eq!(parts.rule_id, Some(rule.id));
    assert_eq!(parts.rule_name.as_deref(), Some("Churn new leads"));
    assert_eq!(parts.entity, Some(EntityKind::Customer));
    assert_eq!(parts.id, None, "the rolled-back customer's id is not named");
    assert_eq!(parts.field.as_deref(), Some("lifecycle"));
    assert_eq!(parts.value.as_deref(), Some("churned"));
    // Nothing was kept.
    let all = s.customers(&CustomerQuery::default()).expect("list");
    assert!(all.items.is_empty());
}

#[test]
fn an_update_whose_rule_fails_names_the_rule_and_the_existing_record() {
    let crm = Crm::new(MemoryStore::new());
    let s = crm.as_actor(Actor::System);
    let ada = s
        .create_customer(NewCustomer::person("Ada"))
        .expect("customer");
    s.create_rule(
        NewRule::new(
            "Churn prospects",
            Trigger::LifecycleChanged {
                to: Lifecycle::Prospect,
            },
        )
        .action(Action::SetLifecycle {
            to: Lifecycle::Churned,
        }),
    )
    .expect("rule");
    let err = s
        .update_customer(
            ada.id,
            ada.version,
            CustomerPatch::default().lifecycle(Lifecycle::Prospect),
        )
        .expect_err("the rule fails");
    let parts = err.parts();
    assert_eq!(parts.rule_name.as_deref(), Some("Churn prospects"));
    // Ada exists: her id is named.
    assert_eq!(parts.id, Some(ada.id.to_string()));
    assert_eq!(s.customer(ada.id).expect("ada").lifecycle, Lifecycle::Lead);
}
