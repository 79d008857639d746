//! Merging two customer records that are the same party.
//!
//! [`Session::merge_customers`](crate::Session::merge_customers) folds the
//! *merged* customer into the *survivor*, in one transaction:
//!
//! - e-mail addresses, phone numbers, tags and roles: the survivor keeps
//!   its own and gains the merged customer's (survivor's first, no
//!   repeats); custom field values: the survivor keeps its own and gains
//!   the merged customer's values for fields it has no value for;
//! - name, lifecycle, owner and organisation: the survivor's value wins
//!   unless the [`MergePolicy`] says to take the merged customer's (a
//!   merged value that is empty never replaces a set one). Taking the
//!   merged lifecycle is a correction, not a lifecycle move, so the
//!   lifecycle rules do not apply;
//! - every deal and activity of the merged customer, and for
//!   organisations every person belonging to it, moves to the survivor
//!   (each gets a new version);
//! - the merged customer is not deleted: it keeps its data, gets
//!   [`merged_into`](crate::Customer::merged_into) = the survivor, leaves
//!   listings, and can no longer change or get deals or activities;
//! - one [`EventKind::Merged`](crate::EventKind::Merged) event on the
//!   survivor records the survivor's changed fields, the merged customer
//!   (`merged`) and what moved (`moved_deals`, `moved_activities`,
//!   `moved_people`).
//!
//! Both customers must be of the same kind and neither merged already;
//! both versions are checked, as for any update. The actor needs write
//! scope on both customers and on every record that moves.

use serde::{Deserialize, Serialize};

/// Whose value a merge keeps for a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// The survivor's value.
    #[default]
    Survivor,
    /// The merged customer's value, where it has one.
    Merged,
}

/// For each single-valued field, whose value the survivor keeps.
///
/// ```
/// use crm_core::merge::{Keep, MergePolicy};
/// let policy = MergePolicy::default().name(Keep::Merged);
/// assert_eq!((policy.name, policy.owner), (Keep::Merged, Keep::Survivor));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct MergePolicy {
    /// The name.
    pub name: Keep,
    /// The lifecycle state.
    pub lifecycle: Keep,
    /// The owner.
    pub owner: Keep,
    /// A person's organisation.
    pub organisation: Keep,
}

impl MergePolicy {
    /// Sets whose name is kept.
    pub fn name(mut self, keep: Keep) -> Self {
        self.name = keep;
        self
    }

    /// Sets whose lifecycle is kept.
    pub fn lifecycle(mut self, keep: Keep) -> Self {
        self.lifecycle = keep;
        self
    }

    /// Sets whose owner is kept.
    pub fn owner(mut self, keep: Keep) -> Self {
        self.owner = keep;
        self
    }

    /// Sets whose organisation is kept.
    pub fn organisation(mut self, keep: Keep) -> Self {
        self.organisation = keep;
        self
    }
}

/// `ours` unless the policy takes `theirs` and it is set.
pub(crate) fn pick<T>(keep: Keep, ours: T, theirs: Option<T>) -> T {
    match (keep, theirs) {
        (Keep::Merged, Some(v)) => v,
        _ => ours,
    }
}

/// `ours` followed by the items of `theirs` it lacks.
pub(crate) fn union<T: PartialEq + Clone>(ours: &[T], theirs: &[T]) -> Vec<T> {
    let mut out = ours.to_vec();
    for t in theirs {
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_takes_theirs_only_when_asked_and_set() {
        assert_eq!(pick(Keep::Survivor, 1, Some(2)), 1);
        assert_eq!(pick(Keep::Merged, 1, Some(2)), 2);
        assert_eq!(pick(Keep::Merged, 1, None), 1);
    }

    #[test]
    fn union_keeps_our_order_and_adds_the_rest() {
        assert_eq!(union(&[3, 1], &[1, 2, 3, 4]), vec![3, 1, 2, 4]);
    }
}
