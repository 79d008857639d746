//! The rule cache over one memory store shared by two engines: a rule
//! saved through one is seen by the other's next write, and a rule saved
//! in a batch that rolls back is never cached.

use std::sync::Arc;

use crm_core::automation::{Action, NewRule, Trigger};
use crm_core::{Actor, Crm, CustomerPatch, EntityKind, Error, NewCustomer};
use crm_store_memory::MemoryStore;

#[test]
fn two_engines_on_one_store_see_each_others_rules() {
    let store = Arc::new(MemoryStore::new());
    let a = Crm::new(store.clone());
    let b = Crm::new(store);
    let (sa, sb) = (a.as_actor(Actor::System), b.as_actor(Actor::System));
    let c = sa.create_customer(NewCustomer::person("Ada")).unwrap();
    let rule = || {
        NewRule::new(
            "Renamed",
            Trigger::field_changed(EntityKind::Customer, "name"),
        )
        .action(Action::notify("renamed"))
    };
    // A rule saved in a batch that fails is never seen, by either engine.
    let failed: Result<(), Error> = sa.batch(|bt| {
        bt.create_rule(rule())?;
        let c = bt.customer(c.id)?;
        bt.update_customer(c.id, c.version, CustomerPatch::default().name("Ada 1"))?;
        Err(Error::invalid(EntityKind::Rule, "test", "", "roll back"))
    });
    assert!(failed.is_err());
    let c = sa
        .update_customer(c.id, c.version, CustomerPatch::default().name("Ada 2"))
        .unwrap();
    assert!(sa.outbox(false).unwrap().is_empty(), "the rolled-back rule");
    sb.create_rule(rule()).unwrap();
    sa.update_customer(c.id, c.version, CustomerPatch::default().name("Ada 3"))
        .unwrap();
    assert_eq!(sa.outbox(false).unwrap().len(), 1, "B's rule fired in A");
}
