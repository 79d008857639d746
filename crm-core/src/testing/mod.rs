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
