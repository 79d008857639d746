//! proptest strategies for domain values.
