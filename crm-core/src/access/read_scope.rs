//! The read scope of one actor over the records a segment reads, in the
//! form a store needs to apply it inside its own query.

use crate::access::{Access, OwnerSet, Resource};

/// Which customers, deals and activities an actor may read: what a store
/// ANDs into a pushed-down segment evaluation
/// ([`ReadTx::segment_push_down_scoped`](crate::ReadTx::segment_push_down_scoped)).
///
/// The three sets are independent: a sales rep with `team` scope sees the
/// customers owned by their team mates, and of those customers'
/// deals and activities only the ones their team mates own (an activity's
/// owner is its assignee). A segment predicate on deals or activities
/// (`open_deals`, `last_won`, `won_amount`, `last_activity`, …) counts
/// only the records in reach, exactly as if the others did not exist.
///
/// ```
/// use crm_core::access::{OwnerSet, ReadScope};
/// use crm_core::UserId;
///
/// let me = UserId::from_uuid(uuid::Uuid::from_u128(1));
/// let scope = ReadScope {
///     customers: OwnerSet::Only(vec![me]),
///     deals: OwnerSet::All,
///     activities: OwnerSet::Only(vec![]),
/// };
/// assert!(!scope.is_all());
/// assert!(scope.customers.allows(Some(me)));
/// assert!(!scope.activities.allows(Some(me)));
/// assert!(ReadScope::all().is_all());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadScope {
    /// The owners of the customers in reach.
    pub customers: OwnerSet,
    /// The owners of the deals in reach.
    pub deals: OwnerSet,
    /// The owners (assignees) of the activities in reach.
    pub activities: OwnerSet,
}

impl ReadScope {
    /// Every record (the system actor, an admin).
    pub fn all() -> ReadScope {
        ReadScope {
            customers: OwnerSet::All,
            deals: OwnerSet::All,
            activities: OwnerSet::All,
        }
    }

    /// Whether every customer, deal and activity is in reach.
    pub fn is_all(&self) -> bool {
        [&self.customers, &self.deals, &self.activities]
            .into_iter()
            .all(|s| *s == OwnerSet::All)
    }
}

impl Access {
    /// The actor's read scope over customers, deals and activities.
    pub fn read_scope(&self) -> ReadScope {
        ReadScope {
            customers: self.read_owners(Resource::Customers),
            deals: self.read_owners(Resource::Deals),
            activities: self.read_owners(Resource::Activities),
        }
    }
}
