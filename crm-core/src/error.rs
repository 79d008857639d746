//! The errors the engine returns.
//!
//! Every failure is an [`Error`] variant that says what was wrong and where:
//! which entity, which field, which value and why. Messages are written to
//! be shown to a person as they are.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::pipeline::guard::StageGuard;
use crate::pipeline::stage_key::StageKey;

/// The kinds of record the engine keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A [`Customer`](crate::Customer).
    Customer,
    /// A [`Pipeline`](crate::Pipeline).
    Pipeline,
    /// A [`Deal`](crate::Deal).
    Deal,
    /// An [`Activity`](crate::Activity).
    Activity,
    /// An [`Event`](crate::Event).
    Event,
    /// A [`FieldSchema`](crate::custom_field::FieldSchema): the custom
    /// fields of customers, deals or activities.
    FieldSchema,
    /// A saved [`Segment`](crate::segment::Segment).
    Segment,
    /// A [`User`](crate::User).
    User,
    /// A [`Team`](crate::Team).
    Team,
    /// An automation [`Rule`](crate::automation::Rule).
    Rule,
    /// An outbox [`Notification`](crate::automation::Notification).
    Notification,
    /// A predictive-model run that wrote scores to customers
    /// ([`Session::write_scores`](crate::Session::write_scores)).
    ModelRun,
    /// A change-feed [`FeedConsumer`](crate::feed::FeedConsumer).
    FeedConsumer,
}

impl EntityKind {
    /// The lower-case name used in messages and serialised forms.
    pub fn as_str(&self) -> &'static str {
        match self {
            EntityKind::Customer => "customer",
            EntityKind::Pipeline => "pipeline",
            EntityKind::Deal => "deal",
            EntityKind::Activity => "activity",
            EntityKind::Event => "event",
            EntityKind::FieldSchema => "field_schema",
            EntityKind::Segment => "segment",
            EntityKind::User => "user",
            EntityKind::Team => "team",
            EntityKind::Rule => "rule",
            EntityKind::Notification => "notification",
            EntityKind::ModelRun => "model_run",
            EntityKind::FeedConsumer => "feed_consumer",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Input that breaks a rule: which field of which entity, the value given,
/// and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[error("invalid {entity}.{field} {value:?}: {reason}")]
pub struct ValidationError {
    /// The kind of record the input was for.
    pub entity: EntityKind,
    /// The field path, such as `emails[1]` or `stages[2].probability`.
    pub field: String,
    /// The offending value as given (possibly shortened).
    pub value: String,
    /// Why it was refused, as a sentence fragment.
    pub reason: String,
}

impl ValidationError {
    /// A validation error for `entity.field` with the given value and reason.
    pub fn new(
        entity: EntityKind,
        field: impl Into<String>,
        value: impl fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        let mut value = value.to_string();
        if value.chars().count() > 80 {
            value = value.chars().take(77).collect::<String>() + "...";
        }
        ValidationError {
            entity,
            field: field.into(),
            value,
            reason: reason.into(),
        }
    }
}

/// Why a deal may not move between two stages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "snake_case")]
pub enum TransitionRefusal {
    /// The target stage is the stage the deal is already in.
    SameStage,
    /// The deal is won or lost and the pipeline does not allow reopening.
    ClosedDealsCannotReopen,
    /// Reopening must lead to an open stage.
    ReopenMustTargetOpenStage,
    /// The pipeline's transition graph has no edge between the two stages.
    NotInTransitionGraph,
    /// The operation requires a stage of another kind (for example `win` on a lost stage).
    WrongStageKind {
        /// What the operation needed ("won", "lost", "open").
        expected: String,
    },
}

impl fmt::Display for TransitionRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransitionRefusal::SameStage => f.write_str("the deal is already in that stage"),
            TransitionRefusal::ClosedDealsCannotReopen => f.write_str(
                "the deal is closed and this pipeline does not allow reopening closed deals",
            ),
            TransitionRefusal::ReopenMustTargetOpenStage => {
                f.write_str("a closed deal can only be reopened into an open stage")
            }
            TransitionRefusal::NotInTransitionGraph => {
                f.write_str("the pipeline does not allow this move")
            }
            TransitionRefusal::WrongStageKind { expected } => {
                write!(f, "the target must be a {expected} stage")
            }
        }
    }
}

/// Everything that can go wrong in a call to the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input breaks a validation rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),

    /// An external key is held by another record of the same kind. The
    /// holder is named only when the actor may read it.
    #[error("{entity} external key {system}:{key} is already held by {}", holder.as_ref().map(|h| format!("{entity} {h}")).unwrap_or_else(|| format!("another {entity}")))]
    ExternalKeyTaken {
        /// The kind of record.
        entity: EntityKind,
        /// The key's system.
        system: String,
        /// The key.
        key: String,
        /// The record holding it, if the actor may read it.
        holder: Option<String>,
    },

    /// No record of this kind (that the actor may read) holds the
    /// external key.
    #[error("no {entity} has external key {system}:{key}")]
    ExternalKeyNotFound {
        /// The kind of record looked for.
        entity: EntityKind,
        /// The key's system.
        system: String,
        /// The key.
        key: String,
    },

    /// No record with that id exists.
    #[error("{entity} {id} does not exist")]
    NotFound {
        /// The kind of record looked for.
        entity: EntityKind,
        /// The id looked for.
        id: String,
    },

    /// The record changed since the caller read it (optimistic concurrency).
    #[error(
        "{entity} {id} was changed by someone else: your change was based on version {expected} but it is now at version {actual}; reload it and apply your change again"
    )]
    Conflict {
        /// The kind of record.
        entity: EntityKind,
        /// Its id.
        id: String,
        /// The version the caller's change was based on.
        expected: u64,
        /// The version stored now.
        actual: u64,
    },

    /// The pipeline does not allow the requested stage move.
    #[error("deal {deal} cannot move from stage '{from}' to '{to}': {reason}")]
    TransitionNotAllowed {
        /// The deal.
        deal: String,
        /// The stage it is in.
        from: StageKey,
        /// The stage requested.
        to: StageKey,
        /// Why not.
        reason: TransitionRefusal,
    },

    /// The deal does not satisfy a guard of the stage it would enter.
    #[error("deal {deal} cannot enter stage '{stage}': {guard}")]
    GuardFailed {
        /// The deal (or "new deal" while creating one).
        deal: String,
        /// The stage whose guard failed.
        stage: StageKey,
        /// The requirement that is not met.
        guard: StageGuard,
    },

    /// The customer's lifecycle cannot move between the two states.
    #[error(
        "customer {customer} cannot go from lifecycle '{from}' to '{to}': allowed from '{from}' is {allowed}"
    )]
    LifecycleNotAllowed {
        /// The customer.
        customer: String,
        /// Current lifecycle.
        from: crate::Lifecycle,
        /// Requested lifecycle.
        to: crate::Lifecycle,
        /// The moves that are allowed, for the message.
        allowed: String,
    },

    /// A pipeline edit removes stages that still hold deals, without saying where those deals go.
    #[error(
        "pipeline {pipeline} cannot drop stage '{stage}': {deals} deal(s) are in it; map the stage to one that remains"
    )]
    StageMappingRequired {
        /// The pipeline.
        pipeline: String,
        /// The stage being removed.
        stage: StageKey,
        /// How many deals are in it.
        deals: u64,
    },

    /// A backup cannot be restored; nothing was restored.
    #[error("cannot restore the backup: line {line}: {reason}")]
    Backup {
        /// The line of the backup file (from 1; 0 for the file as a whole).
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A segment expression's text could not be parsed.
    #[error(transparent)]
    Syntax(crate::segment::parse_error::ParseError),

    /// The storage backend failed.
    #[error("storage error: {0}")]
    Store(StoreError),

    /// A KPI could not be computed (a missing exchange rate, a bad window, …).
    #[error(transparent)]
    Kpi(#[from] crate::kpi::KpiError),
    /// The actor may not make this change: the record (or the field) is
    /// outside their write scope. Nothing was written and no event appended.
    #[error("{}", permission_message(actor, *resource, *operation, id, *needed, *granted, *field))]
    PermissionDenied {
        /// Who tried.
        actor: crate::Actor,
        /// The kind of record.
        resource: crate::access::Resource,
        /// What they tried to do.
        operation: crate::access::Operation,
        /// The record's id (empty for a new record).
        id: String,
        /// The write scope that would have allowed it (what is missing).
        needed: crate::access::Scope,
        /// The write scope the actor's roles grant on `resource`.
        granted: crate::access::Scope,
        /// The read-only field the change touched, if that is the reason.
        field: Option<crate::access::Field>,
    },

    /// The actor filtered, sorted or aggregated on a field their roles hide.
    #[error(
        "{actor} cannot filter, sort or aggregate on {field}: the field is hidden from their roles"
    )]
    FieldHidden {
        /// Who tried.
        actor: crate::Actor,
        /// The hidden field.
        field: crate::access::Field,
    },

    /// The actor filtered, sorted or aggregated on a custom field their
    /// roles hide ([`FieldDef::hidden_from`](crate::custom_field::FieldDef::hidden_from)).
    #[error(
        "{actor} cannot filter, sort or aggregate on {entity}.custom.{key}: the field is hidden from their roles"
    )]
    CustomFieldHidden {
        /// Who tried.
        actor: crate::Actor,
        /// Whose field: customer, deal or activity.
        entity: EntityKind,
        /// The custom field's key.
        key: String,
    },

    /// The actor tried to set or clear a custom field that is read-only
    /// (or hidden) for their roles
    /// ([`FieldDef::read_only_for`](crate::custom_field::FieldDef::read_only_for)).
    /// Nothing was written and no event appended.
    #[error("{}", custom_read_only_message(actor, *entity, id, key))]
    CustomFieldReadOnly {
        /// Who tried.
        actor: crate::Actor,
        /// Whose field: customer, deal or activity.
        entity: EntityKind,
        /// The record's id (empty for a new record).
        id: String,
        /// The custom field's key.
        key: String,
    },

    /// The actor may not do `operation` to a record they can read because
    /// it would also change records of `hidden` that are outside their
    /// read scope (a merge of a customer holding a deal they cannot see;
    /// an automation rule set off by their change that failed on such a
    /// record, reported inside [`Error::Rule`]). The hidden records are not
    /// named, nor counted. Nothing was written.
    #[error(
        "permission denied: {actor} may not {operation} {entity} {id}: it would change {hidden} records outside their read scope"
    )]
    HiddenRecords {
        /// Who tried.
        actor: crate::Actor,
        /// What they tried to do.
        operation: crate::access::Operation,
        /// The kind of the record they named.
        entity: EntityKind,
        /// The id of the record they named (one they can read).
        id: String,
        /// The kind of the records they cannot read.
        hidden: crate::access::Resource,
    },

    /// The session's user cannot act (unknown or deactivated).
    #[error("user {user} cannot act: {reason}")]
    ActorNotAllowed {
        /// The user id.
        user: String,
        /// Why not.
        reason: String,
    },
    /// Automation rules set each other off deeper than
    /// the engine's limit ([`DEFAULT_MAX_DEPTH`](crate::automation::DEFAULT_MAX_DEPTH)
    /// unless set with [`Crm::with_max_rule_depth`](crate::Crm::with_max_rule_depth)) (a cycle, or a
    /// chain too long); the whole transaction is refused.
    #[error("automation rules chain deeper than {depth} levels: {}", rules.join(" -> "))]
    AutomationLoop {
        /// The depth limit.
        depth: u32,
        /// The names of the rules on the chain, outermost first.
        rules: Vec<String>,
    },
    /// A predictive model could not be fitted or scored (no repeat
    /// buyers, no convergence, a bad horizon, …).
    #[error(transparent)]
    Predict(#[from] crate::predict::PredictError),
    /// An automation rule set off by the change failed; nothing of the
    /// change (nor of the rule's actions) was kept. `source` is the
    /// innermost rule's failure: a rule set off by another rule's action is
    /// the one named.
    #[error("automation rule '{name}' ({rule}) failed: {source}")]
    Rule {
        /// The rule's id.
        rule: crate::RuleId,
        /// The rule's name.
        name: String,
        /// What went wrong in its action.
        #[source]
        source: Box<Error>,
    },
    // ----- business-hours calendar (branch sla) -----
    /// A business-hours calendar is invalid (bad hours, unknown time zone)
    /// or could not answer (no open hours, out of range).
    #[error(transparent)]
    Calendar(#[from] crate::calendar::CalendarError),
}

fn permission_message(
    actor: &crate::Actor,
    resource: crate::access::Resource,
    operation: crate::access::Operation,
    id: &str,
    needed: crate::access::Scope,
    granted: crate::access::Scope,
    field: Option<crate::access::Field>,
) -> String {
    let record = if id.is_empty() {
        format!("a new record in {resource}")
    } else {
        format!("{resource} record {id}")
    };
    match field {
        Some(f) => format!(
            "permission denied: {actor} may not {operation} {record}: field {f} is read-only for their roles"
        ),
        None => format!(
            "permission denied: {actor} may not {operation} {record}: that needs write scope '{needed}' on {resource}, their roles grant '{granted}'"
        ),
    }
}

fn custom_read_only_message(
    actor: &crate::Actor,
    entity: EntityKind,
    id: &str,
    key: &str,
) -> String {
    let record = if id.is_empty() {
        format!("a new {entity}")
    } else {
        format!("{entity} {id}")
    };
    format!(
        "permission denied: {actor} may not change {record}: field {entity}.custom.{key} is read-only for their roles"
    )
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::VersionConflict {
                entity,
                id,
                expected,
                actual,
            } => Error::Conflict {
                entity,
                id,
                expected,
                actual,
            },
            // The facade names the holder where the actor may read it
            // (`facade/external_key.rs`); by default it is not named.
            StoreError::KeyTaken {
                entity,
                system,
                key,
                ..
            } => Error::ExternalKeyTaken {
                entity,
                system,
                key,
                holder: None,
            },
            other => Error::Store(other),
        }
    }
}

impl Error {
    /// Shorthand for a [`ValidationError`].
    pub fn invalid(
        entity: EntityKind,
        field: impl Into<String>,
        value: impl fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Error::Invalid(ValidationError::new(entity, field, value, reason))
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(entity: EntityKind, id: impl fmt::Display) -> Self {
        Error::NotFound {
            entity,
            id: id.to_string(),
        }
    }
}

/// The typed parts of an [`Error`] ([`Error::parts`]), for callers that
/// map errors onto their own types (the C ABI's `crm_last_error_json`)
/// without parsing messages. A part that does not apply is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ErrorParts {
    /// The kind of record the error is about.
    pub entity: Option<EntityKind>,
    /// The record's id. `None` for a record that does not exist yet (a
    /// refused create), so an id that was never kept is never named.
    pub id: Option<String>,
    /// The field, such as `emails[1]`, `stage` or `lifecycle`.
    pub field: Option<String>,
    /// The offending value, as given (possibly shortened).
    pub value: Option<String>,
    /// Why it was refused.
    pub reason: Option<String>,
    /// The automation rule whose action failed: its id.
    pub rule_id: Option<crate::RuleId>,
    /// The automation rule whose action failed (or, for a chain too deep,
    /// the last rule on it): its name.
    pub rule_name: Option<String>,
}

impl Error {
    /// The typed parts of this error: entity, id, field, value, reason and
    /// the rule involved, where they apply.
    ///
    /// ```
    /// use crm_core::{EntityKind, Error};
    /// let e = Error::invalid(EntityKind::Customer, "name", "", "must not be empty");
    /// let p = e.parts();
    /// assert_eq!(p.entity, Some(EntityKind::Customer));
    /// assert_eq!(p.field.as_deref(), Some("name"));
    /// assert_eq!(p.reason.as_deref(), Some("must not be empty"));
    /// assert_eq!(p.id, None);
    /// ```
    pub fn parts(&self) -> ErrorParts {
        // "new deal" and the like stand for a record being created.
        let id = |s: &str| (!s.is_empty() && !s.starts_with("new ")).then(|| s.to_owned());
        let mut p = ErrorParts::default();
        match self {
            Error::Invalid(v) => {
                p.entity = Some(v.entity);
                p.field = Some(v.field.clone());
                p.value = Some(v.value.clone());
                p.reason = Some(v.reason.clone());
            }
            Error::ExternalKeyTaken {
                entity,
                system,
                key,
                holder,
            } => {
                p.entity = Some(*entity);
                p.id = holder.clone();
                p.field = Some("external_key".into());
                p.value = Some(format!("{system}:{key}"));
                p.reason = Some("the key is held by another record of this kind".into());
            }
            Error::ExternalKeyNotFound {
                entity,
                system,
                key,
            } => {
                p.entity = Some(*entity);
                p.field = Some("external_key".into());
                p.value = Some(format!("{system}:{key}"));
                p.reason = Some("no record of this kind holds the key".into());
            }
            Error::NotFound { entity, id: i }
            | Error::Store(StoreError::Missing { entity, id: i })
            | Error::Store(StoreError::AlreadyExists { entity, id: i }) => {
                p.entity = Some(*entity);
                p.id = id(i);
            }
            Error::Conflict {
                entity,
                id: i,
                expected,
                actual,
            }
            | Error::Store(StoreError::VersionConflict {
                entity,
                id: i,
                expected,
                actual,
            }) => {
                p.entity = Some(*entity);
                p.id = id(i);
                p.field = Some("version".into());
                p.value = Some(expected.to_string());
                p.reason = Some(format!("the record is at version {actual}"));
            }
            Error::TransitionNotAllowed {
                deal, to, reason, ..
            } => {
                p.entity = Some(EntityKind::Deal);
                p.id = id(deal);
                p.field = Some("stage".into());
                p.value = Some(to.to_string());
                p.reason = Some(reason.to_string());
            }
            Error::GuardFailed { deal, stage, guard } => {
                p.entity = Some(EntityKind::Deal);
                p.id = id(deal);
                p.field = Some("stage".into());
                p.value = Some(stage.to_string());
                p.reason = Some(guard.to_string());
            }
            Error::LifecycleNotAllowed {
                customer,
                to,
                allowed,
                ..
            } => {
                p.entity = Some(EntityKind::Customer);
                p.id = id(customer);
                p.field = Some("lifecycle".into());
                p.value = Some(to.to_string());
                p.reason = Some(format!("allowed moves: {allowed}"));
            }
            Error::StageMappingRequired {
                pipeline,
                stage,
                deals,
            } => {
                p.entity = Some(EntityKind::Pipeline);
                p.id = id(pipeline);
                p.field = Some("stages".into());
                p.value = Some(stage.to_string());
                p.reason = Some(format!("{deals} deal(s) are in it"));
            }
            Error::Backup { line, reason } => {
                p.field = Some("line".into());
                p.value = Some(line.to_string());
                p.reason = Some(reason.clone());
            }
            Error::PermissionDenied { id: i, field, .. } => {
                p.id = id(i);
                p.field = field.map(|f| f.to_string());
                p.reason = Some(self.to_string());
            }
            Error::FieldHidden { field, .. } => {
                p.field = Some(field.to_string());
                p.reason = Some("the field is hidden from the actor's roles".into());
            }
            Error::CustomFieldHidden { entity, key, .. } => {
                p.entity = Some(*entity);
                p.field = Some(format!("custom.{key}"));
                p.reason = Some("the field is hidden from the actor's roles".into());
            }
            Error::CustomFieldReadOnly {
                entity, id: i, key, ..
            } => {
                p.entity = Some(*entity);
                p.id = id(i);
                p.field = Some(format!("custom.{key}"));
                p.reason = Some(self.to_string());
            }
            Error::HiddenRecords { entity, id: i, .. } => {
                p.entity = Some(*entity);
                p.id = id(i);
                p.reason = Some(self.to_string());
            }
            Error::ActorNotAllowed { user, reason } => {
                p.entity = Some(EntityKind::User);
                p.id = id(user);
                p.reason = Some(reason.clone());
            }
            Error::AutomationLoop { rules, .. } => {
                p.entity = Some(EntityKind::Rule);
                p.rule_name = rules.last().cloned();
                p.reason = Some(self.to_string());
            }
            Error::Rule { rule, name, source } => {
                p = source.parts();
                p.rule_id = Some(*rule);
                p.rule_name = Some(name.clone());
            }
            _ => {}
        }
        p
    }

    /// Says that this error happened in automation rule `rule`'s action,
    /// unless it already names a rule (the innermost one is the cause) or
    /// is a rule chain that is too deep (which names every rule on it).
    pub(crate) fn in_rule(self, rule: crate::RuleId, name: &str) -> Error {
        match self {
            e @ (Error::Rule { .. } | Error::AutomationLoop { .. }) => e,
            e => Error::Rule {
                rule,
                name: name.to_owned(),
                source: Box::new(e),
            },
        }
    }

    /// Drops the id `gone` of a record that the failing call created and
    /// rolls back from the error, writing "new <entity>" (or nothing) in
    /// its place: a message never names a record that does not exist.
    pub(crate) fn forget_new(self, kind: EntityKind, gone: &str) -> Error {
        let new = || format!("new {kind}");
        let swap = |s: String| if s == gone { new() } else { s };
        match self {
            Error::Rule { rule, name, source } => Error::Rule {
                rule,
                name,
                source: Box::new(source.forget_new(kind, gone)),
            },
            Error::NotFound { entity, id } => Error::NotFound {
                entity,
                id: swap(id),
            },
            Error::Conflict {
                entity,
                id,
                expected,
                actual,
            } => Error::Conflict {
                entity,
                id: swap(id),
                expected,
                actual,
            },
            Error::TransitionNotAllowed {
                deal,
                from,
                to,
                reason,
            } => Error::TransitionNotAllowed {
                deal: swap(deal),
                from,
                to,
                reason,
            },
            Error::GuardFailed { deal, stage, guard } => Error::GuardFailed {
                deal: swap(deal),
                stage,
                guard,
            },
            Error::LifecycleNotAllowed {
                customer,
                from,
                to,
                allowed,
            } => Error::LifecycleNotAllowed {
                customer: swap(customer),
                from,
                to,
                allowed,
            },
            Error::PermissionDenied {
                actor,
                resource,
                operation,
                id,
                needed,
                granted,
                field,
            } => Error::PermissionDenied {
                actor,
                resource,
                operation,
                id: if id == gone { String::new() } else { id },
                needed,
                granted,
                field,
            },
            Error::HiddenRecords {
                actor,
                operation,
                entity,
                id,
                hidden,
            } => Error::HiddenRecords {
                actor,
                operation,
                entity,
                id: swap(id),
                hidden,
            },
            Error::CustomFieldReadOnly {
                actor,
                entity,
                id,
                key,
            } => Error::CustomFieldReadOnly {
                actor,
                entity,
                id: if id == gone { String::new() } else { id },
                key,
            },
            Error::Invalid(mut v) => {
                if v.value == gone {
                    v.value = new();
                }
                Error::Invalid(v)
            }
            e => e,
        }
    }
}

/// A failure inside a storage backend. Backends return these; the facade
/// passes them on as [`Error::Store`] (or [`Error::Conflict`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An update's expected version does not match the stored one.
    #[error("{entity} {id} is at version {actual}, not {expected}")]
    VersionConflict {
        /// The kind of record.
        entity: EntityKind,
        /// Its id.
        id: String,
        /// The version the update expected.
        expected: u64,
        /// The stored version.
        actual: u64,
    },
    /// An insert used an id that is already taken.
    #[error("{entity} {id} already exists")]
    AlreadyExists {
        /// The kind of record.
        entity: EntityKind,
        /// Its id.
        id: String,
    },
    /// An update named a record that does not exist.
    #[error("{entity} {id} does not exist")]
    Missing {
        /// The kind of record.
        entity: EntityKind,
        /// Its id.
        id: String,
    },
    /// A pagination cursor that this query did not produce.
    #[error(
        "invalid page cursor {0:?}: pass back the `next` cursor of the previous page of the same query unchanged"
    )]
    InvalidCursor(String),
    /// The stored data cannot be read back as a valid record.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A record was given an external key another record of its kind
    /// holds (the store's unique index on (kind, system, key)).
    #[error("{entity} external key {system}:{key} is already held by {entity} {holder}")]
    KeyTaken {
        /// The kind of record.
        entity: EntityKind,
        /// The key's system.
        system: String,
        /// The key.
        key: String,
        /// The id of the record holding it.
        holder: String,
    },
    /// Any other backend failure (I/O, locking, SQL).
    #[error("{context}: {source}")]
    Backend {
        /// What the backend was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// Wraps a backend's own error with a description of what was being done.
    pub fn backend(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StoreError::Backend {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
