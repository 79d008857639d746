//! The memory store passes the change-feed conformance suite.

crm_core::feed_conformance_tests!(crm_store_memory::MemoryStore::new());
