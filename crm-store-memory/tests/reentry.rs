//! Misusing a batch (opening another transaction inside it) is an error, not a hang.

use crm_core::{Actor, Crm, Error, NewCustomer};
use crm_store_memory::MemoryStore;

#[test]
fn session_call_inside_batch_fails_instead_of_deadlocking() {
    let crm = Crm::new(MemoryStore::new());
    let s = crm.as_actor(Actor::System);
    let result = s.batch(|b| {
        b.create_customer(NewCustomer::person("Inside"))?;
        s.create_customer(NewCustomer::person("Wrong handle"))
    });
    let err = result.expect_err("a nested transaction must be refused");
    assert!(matches!(err, Error::Store(_)));
    assert!(err.to_string().contains("use the Batch handle"), "{err}");
    // The batch rolled back, and the store is usable again afterwards.
    assert_eq!(s.count_customers(&Default::default()).expect("count"), 0);
    s.create_customer(NewCustomer::person("After"))
        .expect("store usable after the refused batch");
    assert_eq!(s.count_customers(&Default::default()).expect("count"), 1);
}
