//! Misusing a batch (opening another transaction inside it) is an error, not a hang.

use crm_core::{Actor, Crm, Error, NewCustomer};
use crm_store_sqlite::SqliteStore;

#[test]
fn session_call_inside_batch_fails_instead_of_deadlocking() {
    let crm = Crm::new(SqliteStore::open_in_memory().unwrap());
    let s = crm.as_actor(Actor::System);
    let result = s.batch(|b| {
        b.create_customer(NewCustomer::person("Inside"))?;
        s.create_customer(NewCustomer::person("Wrong handle"))
    });
    let err = result.expect_err("a nested transaction must be refused");
    assert!(matches!(err, Error::Store(_)));
    assert!(err.to_string().contains("use the Batch handle"), "{err}");
    assert_eq!(s.count_customers(&Default::default()).unwrap(), 0);
    s.create_customer(NewCustomer::person("After")).unwrap();
    assert_eq!(s.count_customers(&Default::default()).unwrap(), 1);
}

#[test]
fn a_read_inside_a_read_is_refused_too() {
    let crm = Crm::new(SqliteStore::open_in_memory().unwrap());
    let store = crm.store();
    use crm_core::Store;
    let outer = store.read().unwrap();
    assert!(store.read().is_err());
    drop(outer);
    assert!(store.read().is_ok());
}
