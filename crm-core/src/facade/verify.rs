//! The consistency check through the facade: see [`crate::verify`].

use super::Session;
use crate::access::Operation;
use crate::error::Result;
use crate::store::Store;
use crate::verify::{self, Finding};

impl<S: Store> Session<'_, S> {
    /// Checks the whole store's consistency (see [`crate::verify`]) from
    /// one consistent read and returns every finding; an empty list means
    /// the store is consistent. Only an actor who may do everything
    /// (System, or a user whose roles grant write scope `all` everywhere
    /// and hide nothing) may run it, since findings name any record;
    /// anyone else gets [`Error::PermissionDenied`](crate::Error::PermissionDenied)
    /// (or [`Error::FieldHidden`](crate::Error::FieldHidden)).
    ///
    /// ```
    /// use crm_core::{Actor, Crm, NewCustomer};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// s.create_customer(NewCustomer::person("Ada"))?;
    /// let findings = s.verify()?;
    /// assert!(findings.is_empty(), "{findings:?}");
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn verify(&self) -> Result<Vec<Finding>> {
        self.with_access(|tx, access| {
            access.check_admin(Operation::Verify)?;
            Ok(verify::check(tx)?)
        })
    }
}
