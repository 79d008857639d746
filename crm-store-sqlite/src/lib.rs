//! # crm-store-sqlite
//!
//! Work in progress.
#![deny(missing_docs)]
