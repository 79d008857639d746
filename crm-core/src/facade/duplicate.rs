//! Duplicate search through the facade: see [`crate::duplicate`].

use super::Session;
use crate::duplicate::{DuplicateOptions, DuplicateReport, find_duplicates};
use crate::error::Result;
use crate::query::{CustomerFilter, CustomerQuery, fetch_all};
use crate::store::Store;

impl<S: Store> Session<'_, S> {
    /// Finds customers that are probably the same party among those this
    /// actor may read (merged customers excluded), in one consistent read. See [`crate::duplicate`] for the
    /// rules; merge what it finds with [`Session::merge_customers`].
    ///
    /// ```
    /// use crm_core::duplicate::DuplicateOptions;
    /// use crm_core::{Actor, Crm, NewCustomer};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// let a = s.create_customer(NewCustomer::organisation("ACME GmbH"))?;
    /// let b = s.create_customer(NewCustomer::organisation("Acme Gmbh."))?;
    /// let found = s.find_duplicates(&DuplicateOptions::default())?;
    /// assert_eq!((found.candidates[0].a, found.candidates[0].b), (a.id, b.id));
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn find_duplicates(&self, options: &DuplicateOptions) -> Result<DuplicateReport> {
        self.with_access(|tx, access| {
            // Only the customers this actor may read, as they may read them.
            let mut filter = CustomerFilter::default();
            access.restrict_customers(&mut filter)?;
            let mut customers = fetch_all(filter, |q: &CustomerQuery| tx.customers(q))?;
            customers.iter_mut().for_each(|c| access.redact_customer(c));
            Ok(find_duplicates(&customers, options))
        })
    }
}
