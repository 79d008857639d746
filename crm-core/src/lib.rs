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
//! # Who may do what
//!
//! Every call runs as an [`Actor`]: [`Actor::System`] (imports, migrations,
//! automation; may do everything, and is always named explicitly) or a
//! stored, active [`User`] acting with their [`AccessRole`]s and
//! [`Team`]s (`crm.as_user(id)`). Roles grant a read and a write
//! [`Scope`] (`all`, `team`, `own`, `none`) per [`Resource`] and may hide
//! or protect [`Field`]s (support sees deals without amounts). The facade
//! resolves the actor's access inside each call's transaction and applies
//! it on every path: listings and counts carry the scope down to the store
//! as a filter, a record outside the read scope is not found, a write
//! outside the write scope is an [`Error::PermissionDenied`] that changes
//! nothing and appends no event. See [`access`] for the rules and the
//! built-in roles.
//!
//! ```
//! use crm_core::{AccessRole, Actor, Crm, DealQuery, Error, NewCustomer, NewDeal, NewTeam, NewUser, PipelineDef};
//! use crm_store_memory::MemoryStore;
//!
//! let crm = Crm::new(MemoryStore::new());
//! let system = crm.as_actor(Actor::System);
//! let north = system.create_team(NewTeam::new("North"))?;
//! let south = system.create_team(NewTeam::new("South"))?;
//! let rep = |name: &str, team| system.create_user(
//!     NewUser::new(name, format!("{name}@example.com")).role(AccessRole::SalesRep).team(team));
//! let (rita, sven) = (rep("rita", north.id)?, rep("sven", south.id)?);
//! let p = system.create_pipeline(PipelineDef::sales_template("Sales"))?;
//! let acme = system.create_customer(NewCustomer::organisation("ACME").owner(rita.id))?;
//!
//! let deal = crm.as_user(rita.id).create_deal(NewDeal::new(acme.id, p.id, "Robots"))?;
//! assert_eq!(deal.owner, Some(rita.id)); // what a user creates is theirs
//! assert_eq!(crm.as_user(sven.id).deals(&DealQuery::new())?.items.len(), 0);
//! assert!(matches!(crm.as_user(sven.id).deal(deal.id), Err(Error::NotFound { .. })));
//! # Ok::<(), crm_core::Error>(())
//! ```
//!
//! Module map: [`customer`], [`contact`], [`tag`], [`pipeline`], [`deal`],
//! [`activity`], [`event`] hold the domain and its rules; [`user`],
//! [`team`] and [`access`] identity and access control; [`money`] and
//! [`currency`] exact amounts; [`query`] filters and pagination; [`store`]
//! the storage traits; [`clock`] and [`id`] injectable time and ids;
//! [`kpi`] sales KPIs and customer analytics (pure functions, also reachable
//! through the facade, e.g. `Session::kpi_report`).
//! [`segment`] the segment language (parser, printer, reference
//! evaluator), saved segments, RFM and ABC analysis.
//! [`predict`] predictive customer value: BG/NBD and Gamma-Gamma models
//! (fitting, P(alive), expected purchases, CLV) with time units in the type.
//! [`automation`] rules on events and timers, and the notification outbox.
//! [`calendar`] business-hours calendars (weekly hours, IANA time zone,
//! holidays) for SLA timers and response-time KPIs.

#![deny(missing_docs)]

pub mod access;
pub mod activity;
pub mod actor;
pub mod automation;
pub mod backup;
pub mod calendar;
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
pub mod external_key;
pub(crate) mod facade;
pub mod feed;
pub mod id;
pub mod import;
pub mod kpi;
pub mod limits;
pub mod merge;
pub mod money;
pub mod pipeline;
pub mod predict;
pub mod query;
#[cfg(feature = "schema")]
pub mod schema;
pub mod segment;
mod serde_util;
pub mod store;
pub mod strict_json;
pub mod tag;
pub mod team;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod user;
pub mod verify;

pub use access::{AccessRole, Field, Operation, Permissions, Resource, Scope};
pub use activity::{Activity, ActivityKind, Direction, NewActivity};
pub use actor::Actor;
pub use clock::{Clock, ManualClock, SystemClock};
pub use contact::{ContactError, Email, Phone};
pub use currency::{Currency, UnknownCurrency};
pub use customer::{Customer, CustomerPatch, Lifecycle, NewCustomer, PartyKind, Role};
pub use deal::{Deal, DealPatch, DealStatus, NewDeal, StageChange};
pub use error::{
    EntityKind, Error, ErrorParts, Result, StoreError, TransitionRefusal, ValidationError,
};
pub use event::{EntityRef, Event, EventKind, FieldChange, NewEvent};
pub use external_key::{
    ActivityUpsert, CustomerUpsert, DealUpsert, ExternalKey, KeyedRecord, UpsertMode,
    UpsertOutcome, Upserted,
};
pub use facade::{Batch, Crm, Session};
pub use id::{
    ActivityId, CustomerId, DealId, EventId, IdGenerator, NotificationId, PipelineId, RandomIds,
    RuleId, SegmentId, SequentialIds, TeamId, UserId,
};
pub use money::{Money, MoneyError};
pub use pipeline::{
    Pipeline, PipelineDef, Stage, StageDef, StageGuard, StageKey, StageKind, StageMapping,
    Transitions,
};
pub use query::{
    ActivityFilter, ActivityOrder, ActivityQuery, Cursor, CustomerFilter, CustomerOrder,
    CustomerQuery, DealFilter, DealOrder, DealQuery, EventFilter, EventOrder, EventQuery, Page,
    PageRequest, PipelineQuery, Query, SortDirection, TeamFilter, TeamOrder, TeamQuery, UserFilter,
    UserOrder, UserQuery,
};
pub use segment::{Segment, SegmentPatch, SegmentQuery, SegmentResult};
pub use store::{ReadTx, Savepoint, Store, WriteTx};
pub use tag::Tag;
pub use team::{NewTeam, Team};
pub use user::{NewUser, User, UserPatch};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
