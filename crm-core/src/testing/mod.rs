//! Test support for stores and for code built on crm-core (feature `testing`).
//!
//! - [`conformance`]: the storage contract as reusable tests; a backend
//!   runs all of them with [`store_conformance_tests!`](crate::store_conformance_tests).
//! - [`strategies`]: proptest strategies for domain values.
//! - [`segments`]: proptest strategies for segment expressions.

#[cfg(feature = "testing")]
pub mod conformance;
pub mod segments;
pub mod strategies;

/// Stores an active user (no roles, no teams) for each id not stored yet,
/// directly in `store` (no event): for tests that name owners by fixed ids,
/// since an owner must be a stored, active user.
pub fn seed_users<S: crate::Store + ?Sized>(
    store: &S,
    ids: impl IntoIterator<Item = crate::UserId>,
) {
    let mut tx = store.write().expect("write tx");
    for id in ids {
        if tx.user(id).expect("read user").is_some() {
            continue;
        }
        let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let user = crate::User {
            id,
            version: 1,
            name: format!("User {}", id.as_uuid().as_u128()),
            email: crate::Email::parse(&format!("u{}@example.test", id.as_uuid().as_u128()))
                .expect("email"),
            active: true,
            roles: Default::default(),
            teams: Default::default(),
            created_at: at,
            updated_at: at,
        };
        tx.insert_user(&user).expect("insert user");
    }
    tx.commit().expect("commit");
}
