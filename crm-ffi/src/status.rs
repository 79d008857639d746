//! The result codes of the C ABI and how engine errors map onto them.

use crm_core::{Error, StoreError};

/// The result of every `crm_*` call that can fail. `CRM_STATUS_OK` (0) is
/// success; every other value is a failure whose human-readable message
/// `crm_last_error()` returns on the same thread.
///
/// Values are stable: new codes are only ever appended.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 2,
    /// `actor_json` or `request_json` is not well-formed JSON.
    InvalidJson = 3,
    /// `crm_call` was given an operation name it does not know.
    UnknownOperation = 4,
    /// The input breaks a rule: a request of the wrong shape (a missing or
    /// mistyped field), a validation error (which field, which value, why),
    /// an unparsable segment expression, a bad KPI window or page cursor.
    InvalidInput = 5,
    /// No record with that id exists (or the actor may not see it).
    NotFound = 6,
    /// The record changed since the caller read it (stale `version`), or
    /// an id is already taken. Reload and apply the change again.
    Conflict = 7,
    /// The pipeline (or the customer lifecycle) does not allow this move.
    TransitionRefused = 8,
    /// The deal does not meet a guard of the stage it would enter (an
    /// amount, a lost reason, ...).
    GuardFailed = 9,
    /// The actor may not do this (outside their scope, a hidden field, an
    /// unknown or deactivated user).
    PermissionDenied = 10,
    /// The storage backend failed (I/O, a locked or corrupt database).
    Storage = 11,
    /// A bug in the library: a caught panic or an error it cannot classify.
    /// The engine is still usable; nothing of the failed call was kept.
    Internal = 12,
    /// Automation rules set each other off deeper than the chain limit
    /// (a cycle, most likely): the message names the rules on the chain.
    /// Nothing of the triggering change was kept; fix the rules.
    AutomationLoop = 13,
}

/// A failed call: its status and the message for `crm_last_error()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The status returned to the caller.
    pub status: CrmStatus,
    /// What went wrong, for a person to read.
    pub message: String,
}

impl Failure {
    /// A failure with `status` and `message`.
    pub fn new(status: CrmStatus, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::new(status_of(&e), e.to_string())
    }
}

/// The status an engine error is reported as.
pub fn status_of(e: &Error) -> CrmStatus {
    match e {
        Error::Invalid(_)
        | Error::Syntax(_)
        | Error::Kpi(_)
        | Error::Backup { .. }
        | Error::StageMappingRequired { .. }
        | Error::Calendar(_)
        | Error::Predict(_) => CrmStatus::InvalidInput,
        Error::NotFound { .. } => CrmStatus::NotFound,
        Error::Conflict { .. } => CrmStatus::Conflict,
        Error::TransitionNotAllowed { .. } | Error::LifecycleNotAllowed { .. } => {
            CrmStatus::TransitionRefused
        }
        Error::GuardFailed { .. } => CrmStatus::GuardFailed,
        Error::AutomationLoop { .. } => CrmStatus::AutomationLoop,
        Error::PermissionDenied { .. }
        | Error::FieldHidden { .. }
        | Error::ActorNotAllowed { .. } => CrmStatus::PermissionDenied,
        Error::Store(s) => match s {
            StoreError::VersionConflict { .. } | StoreError::AlreadyExists { .. } => {
                CrmStatus::Conflict
            }
            StoreError::Missing { .. } => CrmStatus::NotFound,
            StoreError::InvalidCursor(_) => CrmStatus::InvalidInput,
            _ => CrmStatus::Storage,
        },
        // `Error` is non-exhaustive: a variant added later is reported as
        // internal until it gets its own mapping here.
        _ => CrmStatus::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_core::pipeline::StageKey;
    use crm_core::{EntityKind, StageGuard, TransitionRefusal};

    #[test]
    fn each_error_kind_has_its_status() {
        let cases = [
            (
                Error::invalid(EntityKind::Customer, "name", "", "must not be empty"),
                CrmStatus::InvalidInput,
            ),
            (Error::not_found(EntityKind::Deal, "x"), CrmStatus::NotFound),
            (
                Error::Conflict {
                    entity: EntityKind::Deal,
                    id: "x".into(),
                    expected: 1,
                    actual: 2,
                },
                CrmStatus::Conflict,
            ),
            (
                Error::TransitionNotAllowed {
                    deal: "x".into(),
                    from: StageKey::new("won").unwrap(),
                    to: StageKey::new("lead").unwrap(),
                    reason: TransitionRefusal::ClosedDealsCannotReopen,
                },
                CrmStatus::TransitionRefused,
            ),
            (
                Error::GuardFailed {
                    deal: "x".into(),
                    stage: StageKey::new("proposal").unwrap(),
                    guard: StageGuard::RequiresAmount,
                },
                CrmStatus::GuardFailed,
            ),
            (
                Error::ActorNotAllowed {
                    user: "u".into(),
                    reason: "unknown".into(),
                },
                CrmStatus::PermissionDenied,
            ),
            (
                Error::Store(StoreError::Corrupt("bad row".into())),
                CrmStatus::Storage,
            ),
            (
                Error::Store(StoreError::InvalidCursor("zzz".into())),
                CrmStatus::InvalidInput,
            ),
            (
                Error::AutomationLoop {
                    depth: 3,
                    rules: vec!["A".into(), "B".into()],
                },
                CrmStatus::AutomationLoop,
            ),
        ];
        for (err, want) in cases {
            let f = Failure::from(err);
            assert_eq!(f.status, want, "{}", f.message);
            assert!(!f.message.is_empty());
        }
    }
}
