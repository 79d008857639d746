//! # crm-core
//!
//! An embeddable CRM engine: customers, deals moving through pipelines that
//! are validated state machines, activities, and an append-only audit log,
//! over a pluggable [`Store`] (in memory, or one SQLite file).
//!
//! Everything goes through the [`Crm`] facade, which holds every business
//! rule once: input validation, the pipeline state machine and its guards,
//! optimistic concurrency (versions), and one audit [`Event`] per change,
//! written in the same transaction as the change. Stores only store.
//!
//! ```
//! use crm_core::{Actor, Crm, Money, NewCustomer, NewDeal, PipelineDef};
//! use crm_store_memory::MemoryStore;
//!
//! let crm = Crm::new(MemoryStore::new());
//! let s = crm.as_actor(Actor::System);
//! let sales = s.create_pipeline(PipelineDef::sales_template("Sales"))?;
//! let acme = s.create_customer(NewCustomer::organisation("ACME GmbH"))?;
//! let deal = s.create_deal(NewDeal::new(acme.id, sales.id, "100 seats"))?;
//!
//! // "proposal" requires an amount and an expected close date:
//! let refused = s.move_deal(deal.id, deal.version, "proposal").unwrap_err();
//! assert!(refused.to_string().contains("needs an amount"));
//!
//! let deal = s.update_deal(deal.id, deal.version, crm_core::DealPatch::default()
//!     .amount(Some(Money::parse("24000", "EUR")?))
//!     .expected_close_date(Some(chrono::NaiveDate::from_ymd_opt(2026, 3, 31).unwrap())))?;
//! let deal = s.move_deal(deal.id, deal.version, "proposal")?;
//! let deal = s.win_deal(deal.id, deal.version)?;
//! assert_eq!(deal.status, crm_core::DealStatus::Won);
//! assert_eq!(deal.history.len(), 3); // lead → proposal → won
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Module map: [`customer`], [`contact`], [`tag`], [`pipeline`], [`deal`],
//! [`activity`], [`event`] hold the domain and its rules; [`money`] and
//! [`currency`] exact amounts; [`query`] filters and pagination; [`store`]
//! the storage traits; [`clock`] and [`id`] injectable time and ids;
//! [`kpi`] sales KPIs and customer analytics (pure functions, also reachable
//! through the facade, e.g. `Session::kpi_report`).
//! [`segment`] the segment language (parser, printer, reference
//! evaluator), saved segments, RFM and ABC analysis.
//! [`predict`] predictive customer value: BG/NBD and Gamma-Gamma models
//! (fitting, P(alive), expected purchases, CLV) with time units in the type.

#![deny(missing_docs)]

pub mod activity;
pub mod actor;
pub mod backup;
pub mod clock;
pub mod contact;
pub mod currency;
pub mod custom_field;
pub mod customer;
pub mod deal;
pub mod duplicate;
pub mod error;
pub mod event;
pub mod export;
pub(crate) mod facade;
pub mod id;
pub mod import;
pub mod kpi;
pub mod merge;
pub mod money;
pub mod pipeline;
pub mod predict;
pub mod query;
pub mod segment;
mod serde_util;
pub mod store;
pub mod tag;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use activity::{Activity, ActivityKind, Direction, NewActivity};
pub use actor::Actor;
pub use clock::{Clock, ManualClock, SystemClock};
pub use contact::{ContactError, Email, Phone};
pub use currency::{Currency, UnknownCurrency};
pub use customer::{Customer, CustomerPatch, Lifecycle, NewCustomer, PartyKind, Role};
pub use deal::{Deal, DealPatch, DealStatus, NewDeal, StageChange};
pub use error::{EntityKind, Error, Result, StoreError, TransitionRefusal, ValidationError};
pub use event::{EntityRef, Event, EventKind, FieldChange, NewEvent};
pub use facade::{Batch, Crm, Session};
pub use id::{
    ActivityId, CustomerId, DealId, EventId, IdGenerator, PipelineId, RandomIds, SegmentId,
    SequentialIds, UserId,
};
pub use money::{Money, MoneyError};
pub use pipeline::{
    Pipeline, PipelineDef, Stage, StageDef, StageGuard, StageKey, StageKind, StageMapping,
    Transitions,
};
pub use query::{
    ActivityFilter, ActivityOrder, ActivityQuery, Cursor, CustomerFilter, CustomerOrder,
    CustomerQuery, DealFilter, DealOrder, DealQuery, EventFilter, EventOrder, EventQuery, Page,
    PageRequest, PipelineQuery, Query, SortDirection,
};
pub use segment::{Segment, SegmentPatch, SegmentQuery, SegmentResult};
pub use store::{ReadTx, Savepoint, Store, WriteTx};
pub use tag::Tag;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
