//! Deals: opportunities moving through a pipeline.
//!
//! A [`Deal`] belongs to one customer and one pipeline and sits in one stage.
//! Every stage change is appended to its [`Deal::history`], so the history
//! always replays to the current stage. The deal's [`DealStatus`] follows the
//! kind of its stage; entering a won stage sets `won_at`, entering a lost
//! stage sets `lost_at` and `lost_reason`, reopening clears all three.
//!
//! Rules (besides the pipeline's, see [`crate::pipeline`]):
//! - `title` is trimmed, not empty, at most
//!   [`MAX_NAME_CHARS`](crate::limits::MAX_NAME_CHARS) characters, without
//!   control characters other than line breaks and tabs;
//! - an amount is not negative, at most
//!   [`MAX_AMOUNT`](crate::limits::MAX_AMOUNT), and has no more decimals
//!   than its currency's minor unit (`10.50 EUR`, not `10.505 EUR`);
//! - a lost reason is trimmed and at most
//!   [`MAX_LOST_REASON_CHARS`](crate::limits::MAX_LOST_REASON_CHARS) characters;
//! - the owner is a stored, active user;
//! - new deals start in an open stage (by default the pipeline's first);
//! - a stage change cannot be dated before the deal's previous one;
//! - the guards of the deal's current stage hold for as long as it is in
//!   it: an update that would clear a field they require (the amount of a
//!   deal in `proposal`) is refused, naming the field and the stage.
//!
//! # Closed deals are frozen
//!
//! A won or lost deal is part of the record of what was sold: its title,
//! amount, expected close date and custom fields no longer change through
//! `update_deal` (or anything built on it: a rule's `set_field` action, an
//! import). Such a change is refused with an
//! [`Error::Invalid`] on the field, naming the deal's state. Two ways remain:
//! - [`reopen_deal`](crate::Session::reopen_deal) puts it back into an open
//!   stage (clearing `won_at`/`lost_at`), where it can change again;
//! - [`correct_deal`](crate::Session::correct_deal) changes it in place,
//!   still closed, with a mandatory reason recorded in the event
//!   (`correction_reason`) next to the old and new values: the audited
//!   correction accountants need when an invoice differs.
//!
//! Still allowed on a closed deal: changing its **owner** (handing a won
//! account to account management, or a departed rep's book to a colleague
//! changes who is responsible, not what was sold; the event records it),
//! logging activities against it, and tagging its customer.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::custom_field::{CustomValue, CustomValues, apply_custom};
use crate::error::{EntityKind, Error, Result};
use crate::event::{Changes, EventKind};
use crate::id::{CustomerId, DealId, PipelineId, UserId};
use crate::limits;
use crate::money::Money;
use crate::pipeline::{Pipeline, Stage, StageGuard, StageKey, StageKind};

/// Open, won or lost: the kind of the deal's current stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DealStatus {
    /// In an open stage.
    Open,
    /// In a won stage.
    Won,
    /// In a lost stage.
    Lost,
}

impl From<StageKind> for DealStatus {
    fn from(k: StageKind) -> Self {
        match k {
            StageKind::Open => DealStatus::Open,
            StageKind::Won => DealStatus::Won,
            StageKind::Lost => DealStatus::Lost,
        }
    }
}

impl DealStatus {
    /// `open`, `won` or `lost`.
    pub fn as_str(&self) -> &'static str {
        match self {
            DealStatus::Open => "open",
            DealStatus::Won => "won",
            DealStatus::Lost => "lost",
        }
    }
}

impl fmt::Display for DealStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One entry of a deal's stage history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StageChange {
    /// The stage left (`None` for the deal's first stage).
    pub from: Option<StageKey>,
    /// The stage entered.
    pub to: StageKey,
    /// When.
    pub at: DateTime<Utc>,
    /// Who moved it.
    pub by: Actor,
}

/// A deal as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Deal {
    /// Id.
    pub id: DealId,
    /// Version: 1 when created, +1 on every change.
    pub version: u64,
    /// Short description.
    pub title: String,
    /// The customer the deal is with.
    pub customer: CustomerId,
    /// The pipeline it moves through.
    pub pipeline: PipelineId,
    /// Current stage.
    pub stage: StageKey,
    /// Kind of the current stage.
    pub status: DealStatus,
    /// Value of the deal.
    pub amount: Option<Money>,
    /// When the deal is expected to close.
    pub expected_close_date: Option<NaiveDate>,
    /// The user responsible.
    pub owner: Option<UserId>,
    /// Every stage the deal entered, oldest first.
    pub history: Vec<StageChange>,
    /// When it entered a won stage (cleared on reopening).
    pub won_at: Option<DateTime<Utc>>,
    /// When it entered a lost stage (cleared on reopening).
    pub lost_at: Option<DateTime<Utc>>,
    /// Why it was lost (cleared on reopening).
    pub lost_reason: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Custom field values, by key ([`crate::custom_field`]).
    #[serde(default)]
    pub custom: CustomValues,
}

impl Deal {
    /// When the deal entered its current stage.
    pub fn stage_entered_at(&self) -> DateTime<Utc> {
        self.history.last().map(|c| c.at).unwrap_or(self.created_at)
    }
}

/// Input for creating a deal.
///
/// ```
/// use crm_core::{CustomerId, Money, NewDeal, PipelineId};
/// # let (customer, pipeline) = (CustomerId::from_uuid(uuid::Uuid::nil()), PipelineId::from_uuid(uuid::Uuid::nil()));
/// let input = NewDeal::new(customer, pipeline, "50 licences")
///     .amount(Money::parse("12000", "EUR").unwrap())
///     .stage("qualified");
/// assert_eq!(input.stage.as_deref(), Some("qualified"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewDeal {
    /// The customer.
    pub customer: CustomerId,
    /// The pipeline.
    pub pipeline: PipelineId,
    /// Short description.
    pub title: String,
    /// Initial stage key (default: the pipeline's first open stage).
    #[serde(default)]
    pub stage: Option<String>,
    /// Value.
    #[serde(default)]
    pub amount: Option<Money>,
    /// Expected close date.
    #[serde(default)]
    pub expected_close_date: Option<NaiveDate>,
    /// Owner.
    #[serde(default)]
    pub owner: Option<UserId>,
    /// Custom field values.
    #[serde(default)]
    pub custom: CustomValues,
    /// External keys to give the new record ([`crate::external_key`]).
    #[serde(default)]
    pub external_keys: Vec<crate::external_key::ExternalKey>,
    /// A caller's key that makes a retried create return the first
    /// create's record instead of a second one ([`crate::external_key`]).
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

impl NewDeal {
    /// Gives the new record an external key ([`crate::external_key`]).
    pub fn external_key(mut self, key: crate::external_key::ExternalKey) -> Self {
        self.external_keys.push(key);
        self
    }

    /// Sets the idempotency key: a retried create with the same key
    /// returns the first one's record ([`crate::external_key`]).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// A deal with `customer` in `pipeline`.
    pub fn new(customer: CustomerId, pipeline: PipelineId, title: impl Into<String>) -> Self {
        NewDeal {
            customer,
            pipeline,
            title: title.into(),
            stage: None,
            amount: None,
            expected_close_date: None,
            owner: None,
            custom: CustomValues::new(),
            external_keys: Vec::new(),
            idempotency_key: None,
        }
    }

    /// Starts the deal in stage `key` instead of the first open stage.
    pub fn stage(mut self, key: impl Into<String>) -> Self {
        self.stage = Some(key.into());
        self
    }

    /// Sets the amount.
    pub fn amount(mut self, amount: Money) -> Self {
        self.amount = Some(amount);
        self
    }

    /// Sets the expected close date.
    pub fn expected_close_date(mut self, date: NaiveDate) -> Self {
        self.expected_close_date = Some(date);
        self
    }

    /// Sets the owner.
    pub fn owner(mut self, owner: UserId) -> Self {
        self.owner = Some(owner);
        self
    }

    /// Sets a custom field's value.
    pub fn custom(mut self, key: impl Into<String>, value: CustomValue) -> Self {
        self.custom.insert(key.into(), value);
        self
    }
}

/// Changes to a deal's fields (stage moves have their own calls). `None`
/// leaves a field alone; `Some(None)` clears an optional field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        description = "Changes to a deal's fields (stage moves have their own operations). A field left out is unchanged; an optional field given as null is cleared."
    )
)]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct DealPatch {
    /// New title.
    pub title: Option<String>,
    /// New amount.
    #[serde(deserialize_with = "crate::serde_util::double_option")]
    pub amount: Option<Option<Money>>,
    /// New expected close date.
    #[serde(deserialize_with = "crate::serde_util::double_option")]
    pub expected_close_date: Option<Option<NaiveDate>>,
    /// New owner.
    #[serde(deserialize_with = "crate::serde_util::double_option")]
    pub owner: Option<Option<UserId>>,
    /// Custom field values to set (`Some`) or clear (`None`).
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "Custom field values by key: a value sets it, null clears it; other keys are unchanged."
        )
    )]
    pub custom: BTreeMap<String, Option<CustomValue>>,
}

impl DealPatch {
    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets or clears the amount.
    pub fn amount(mut self, amount: Option<Money>) -> Self {
        self.amount = Some(amount);
        self
    }

    /// Sets or clears the expected close date.
    pub fn expected_close_date(mut self, date: Option<NaiveDate>) -> Self {
        self.expected_close_date = Some(date);
        self
    }

    /// Sets or clears the owner.
    pub fn owner(mut self, owner: Option<UserId>) -> Self {
        self.owner = Some(owner);
        self
    }

    /// Sets (`Some`) or clears (`None`) a custom field's value.
    pub fn custom(mut self, key: impl Into<String>, value: Option<CustomValue>) -> Self {
        self.custom.insert(key.into(), value);
        self
    }

    pub(crate) fn apply(self, current: &Deal) -> Result<(Deal, Changes)> {
        let mut next = current.clone();
        if let Some(title) = &self.title {
            next.title = validate_title(title)?;
        }
        if let Some(amount) = self.amount {
            next.amount = validate_amount(amount)?;
        }
        if let Some(date) = self.expected_close_date {
            next.expected_close_date = date;
        }
        if let Some(owner) = self.owner {
            next.owner = owner;
        }
        apply_custom(&mut next.custom, self.custom);
        let mut ch = Changes::default();
        ch.field("title", &current.title, &next.title);
        ch.field("amount", &current.amount, &next.amount);
        ch.field(
            "expected_close_date",
            &current.expected_close_date,
            &next.expected_close_date,
        );
        ch.field("owner", &current.owner, &next.owner);
        ch.field("custom", &current.custom, &next.custom);
        Ok((next, ch))
    }
}

fn invalid(field: &str, value: impl fmt::Display, reason: &str) -> Error {
    Error::invalid(EntityKind::Deal, field, value, reason)
}

pub(crate) fn validate_title(title: &str) -> Result<String> {
    let t = title.trim();
    if t.is_empty() {
        return Err(invalid("title", title, "a deal needs a title"));
    }
    limits::check_text(
        EntityKind::Deal,
        "title",
        "a title",
        t,
        limits::MAX_NAME_CHARS,
        true,
    )?;
    Ok(t.to_owned())
}

pub(crate) fn validate_amount(amount: Option<Money>) -> Result<Option<Money>> {
    if let Some(m) = amount {
        if m.is_negative() {
            return Err(invalid("amount", m, "an amount cannot be negative"));
        }
        m.check_bounds()
            .map_err(|e| invalid("amount", m, &e.to_string()))?;
        if !m.fits_minor_units() {
            return Err(invalid(
                "amount",
                m,
                &format!(
                    "{} has {} decimal places at most",
                    m.currency,
                    m.currency.minor_units()
                ),
            ));
        }
    }
    Ok(amount)
}

fn validate_lost_reason(reason: Option<String>) -> Result<Option<String>> {
    match reason {
        None => Ok(None),
        Some(r) => {
            let t = r.trim();
            limits::check_text(
                EntityKind::Deal,
                "lost_reason",
                "a lost reason",
                t,
                limits::MAX_LOST_REASON_CHARS,
                true,
            )?;
            Ok((!t.is_empty()).then(|| t.to_owned()))
        }
    }
}

/// Refuses an update (not a correction) of a won or lost deal that
/// touches anything but its owner: see [closed deals are frozen](self#closed-deals-are-frozen).
pub(crate) fn check_not_frozen(current: &Deal, changes: &Changes) -> Result<()> {
    if current.status == DealStatus::Open {
        return Ok(());
    }
    for field in ["title", "amount", "expected_close_date", "custom"] {
        if changes.touches(field) {
            return Err(Error::invalid(
                EntityKind::Deal,
                field,
                current.status,
                format!(
                    "deal {} is {} and a closed deal is frozen: reopen it (reopen_deal) to change it, or correct it with a reason (correct_deal)",
                    current.id, current.status
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses a change that clears a field a guard of `stage` (the deal's
/// current stage) requires. A guard that did not hold before the change (a
/// record from before the guard was added) does not block other edits.
pub(crate) fn check_guards_kept(current: &Deal, next: &Deal, stage: &Stage) -> Result<()> {
    for guard in &stage.guards {
        let (field, before, after) = match guard {
            StageGuard::RequiresAmount => {
                ("amount", current.amount.is_some(), next.amount.is_some())
            }
            StageGuard::RequiresExpectedCloseDate => (
                "expected_close_date",
                current.expected_close_date.is_some(),
                next.expected_close_date.is_some(),
            ),
            StageGuard::RequiresOwner => ("owner", current.owner.is_some(), next.owner.is_some()),
            StageGuard::RequiresLostReason => (
                "lost_reason",
                current.lost_reason.is_some(),
                next.lost_reason.is_some(),
            ),
        };
        if before && !after {
            return Err(Error::invalid(
                EntityKind::Deal,
                field,
                "none",
                format!(
                    "deal {} is in stage '{}', which requires it ({guard}); move the deal to a stage without this guard first",
                    current.id, stage.key
                ),
            ));
        }
    }
    Ok(())
}

/// A correction's reason: trimmed, not empty, bounded.
pub(crate) fn validate_correction_reason(reason: &str) -> Result<String> {
    let t = reason.trim();
    if t.is_empty() {
        return Err(invalid(
            "correction_reason",
            reason,
            "a correction of a closed deal needs a reason",
        ));
    }
    limits::check_text(
        EntityKind::Deal,
        "correction_reason",
        "a correction reason",
        t,
        limits::MAX_CORRECTION_REASON_CHARS,
        true,
    )?;
    Ok(t.to_owned())
}

/// Checks `stage`'s guards against `deal` as it would be after entering it.
pub(crate) fn check_guards(deal: &Deal, deal_label: &str, stage: &Stage) -> Result<()> {
    for guard in &stage.guards {
        let ok = match guard {
            StageGuard::RequiresAmount => deal.amount.is_some(),
            StageGuard::RequiresExpectedCloseDate => deal.expected_close_date.is_some(),
            StageGuard::RequiresOwner => deal.owner.is_some(),
            StageGuard::RequiresLostReason => deal.lost_reason.is_some(),
        };
        if !ok {
            return Err(Error::GuardFailed {
                deal: deal_label.to_owned(),
                stage: stage.key.clone(),
                guard: *guard,
            });
        }
    }
    Ok(())
}

/// Builds a new deal in `stage` (which must be open) and checks its guards.
pub(crate) fn create(
    input: NewDeal,
    id: DealId,
    pipeline: &Pipeline,
    at: DateTime<Utc>,
    by: Actor,
) -> Result<Deal> {
    let title = validate_title(&input.title)?;
    let amount = validate_amount(input.amount)?;
    let stage = match &input.stage {
        None => pipeline
            .first_open_stage()
            .ok_or_else(|| invalid("stage", "", "the pipeline has no open stage"))?,
        Some(key) => find_stage(pipeline, key, "stage")?,
    };
    if stage.kind != StageKind::Open {
        return Err(invalid(
            "stage",
            &stage.key,
            "a new deal starts in an open stage; create it, then win or lose it",
        ));
    }
    let deal = Deal {
        id,
        version: 1,
        title,
        customer: input.customer,
        pipeline: pipeline.id,
        stage: stage.key.clone(),
        status: DealStatus::Open,
        amount,
        expected_close_date: input.expected_close_date,
        owner: input.owner,
        history: vec![StageChange {
            from: None,
            to: stage.key.clone(),
            at,
            by,
        }],
        won_at: None,
        lost_at: None,
        lost_reason: None,
        created_at: at,
        updated_at: at,
        custom: input.custom,
    };
    check_guards(&deal, "new deal", stage)?;
    Ok(deal)
}

/// The fields of a new deal, for its `created` event.
pub(crate) fn creation_changes(d: &Deal) -> Changes {
    let mut ch = Changes::default();
    ch.set("title", &(), &d.title);
    ch.set("customer", &(), &d.customer);
    ch.set("pipeline", &(), &d.pipeline);
    ch.set("stage", &(), &d.stage);
    if d.amount.is_some() {
        ch.set("amount", &(), &d.amount);
    }
    if d.expected_close_date.is_some() {
        ch.set("expected_close_date", &(), &d.expected_close_date);
    }
    if d.owner.is_some() {
        ch.set("owner", &(), &d.owner);
    }
    if !d.custom.is_empty() {
        ch.set("custom", &(), &d.custom);
    }
    ch
}

/// Looks a stage up by key, with a validation error naming `field`.
pub(crate) fn find_stage<'p>(pipeline: &'p Pipeline, key: &str, field: &str) -> Result<&'p Stage> {
    pipeline
        .stages
        .iter()
        .find(|s| s.key.as_str() == key)
        .ok_or_else(|| {
            let keys: Vec<&str> = pipeline.stages.iter().map(|s| s.key.as_str()).collect();
            invalid(
                field,
                key,
                &format!(
                    "pipeline '{}' has no such stage (its stages are {})",
                    pipeline.name,
                    keys.join(", ")
                ),
            )
        })
}

/// Moves `deal` to `to` under `pipeline`'s rules, returning the new deal
/// (version not yet bumped), the kind of event and the changed fields.
pub(crate) fn apply_move(
    deal: &Deal,
    pipeline: &Pipeline,
    to: &Stage,
    lost_reason: Option<String>,
    at: DateTime<Utc>,
    by: Actor,
) -> Result<(Deal, EventKind, Changes)> {
    let from = pipeline.stage(&deal.stage).ok_or_else(|| {
        Error::Store(crate::error::StoreError::Corrupt(format!(
            "deal {} is in stage '{}' which its pipeline does not have",
            deal.id, deal.stage
        )))
    })?;
    pipeline
        .check_move(from, to)
        .map_err(|reason| Error::TransitionNotAllowed {
            deal: deal.id.to_string(),
            from: from.key.clone(),
            to: to.key.clone(),
            reason,
        })?;
    if at < deal.stage_entered_at() {
        return Err(invalid(
            "at",
            at.to_rfc3339(),
            &format!(
                "the deal entered its current stage at {}; a later move cannot be dated before that",
                deal.stage_entered_at().to_rfc3339()
            ),
        ));
    }
    let lost_reason = validate_lost_reason(lost_reason)?;
    if lost_reason.is_some() && to.kind != StageKind::Lost {
        return Err(invalid(
            "lost_reason",
            lost_reason.as_deref().unwrap_or(""),
            "a lost reason is only given when moving to a lost stage",
        ));
    }
    let mut next = deal.clone();
    next.stage = to.key.clone();
    next.status = to.kind.into();
    next.history.push(StageChange {
        from: Some(from.key.clone()),
        to: to.key.clone(),
        at,
        by,
    });
    let kind = match (from.kind.is_closed(), to.kind) {
        (true, _) => {
            next.won_at = None;
            next.lost_at = None;
            next.lost_reason = None;
            EventKind::Reopened
        }
        (false, StageKind::Won) => {
            next.won_at = Some(at);
            EventKind::Won
        }
        (false, StageKind::Lost) => {
            next.lost_at = Some(at);
            next.lost_reason = lost_reason;
            EventKind::Lost
        }
        (false, StageKind::Open) => EventKind::StageChanged,
    };
    check_guards(&next, &deal.id.to_string(), to)?;
    let mut ch = Changes::default();
    ch.field("stage", &deal.stage, &next.stage);
    ch.field("status", &deal.status, &next.status);
    ch.field("won_at", &deal.won_at, &next.won_at);
    ch.field("lost_at", &deal.lost_at, &next.lost_at);
    ch.field("lost_reason", &deal.lost_reason, &next.lost_reason);
    Ok((next, kind, ch))
}
