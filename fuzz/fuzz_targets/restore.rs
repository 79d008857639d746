//! Backup restore: any input either is refused, leaving the store empty,
//! or restores a store that verifies clean and whose own backup restores
//! again to the same backup.
#![no_main]

use crm_core::Actor;
use crm_fuzz::{assert_consistent, empty, snapshot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let crm = empty();
    let before = snapshot(&crm);
    match crm.as_actor(Actor::System).restore(data) {
        Err(e) => assert!(snapshot(&crm) == before, "a refused restore ({e}) left records"),
        Ok(_) => {
            assert_consistent(&crm, "restore");
            let first = snapshot(&crm);
            let copy = empty();
            copy.as_actor(Actor::System)
                .restore(first.as_slice())
                .unwrap_or_else(|e| panic!("the backup of a restored store is refused: {e}"));
            assert!(
                snapshot(&copy) == first,
                "a restored store's backup restores to something else"
            );
        }
    }
});
