//! The result codes of the C ABI and how engine errors map onto them.

use crm_core::{Error, ErrorParts, StoreError};

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

/// A failed call: its status, the message for `crm_last_error()` and the
/// typed parts for `crm_last_error_json()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The status returned to the caller.
    pub status: CrmStatus,
    /// What went wrong, for a person to read.
    pub message: String,
    /// The engine error's typed parts (all `None` for a failure at the
    /// boundary, such as a NULL argument).
    /// (Boxed: a `Result<_, Failure>` stays small.)
    pub parts: Box<ErrorParts>,
    /// The JSON path in the request of a request of the wrong shape, such
    /// as `amount.amount` or `stages[2].key`.
    pub path: Option<String>,
}

impl Failure {
    /// A failure with `status` and `message`.
    pub fn new(status: CrmStatus, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
            parts: Box::default(),
            path: None,
        }
    }

    /// The same failure, at JSON path `path` of the request.
    pub fn at_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The structured form `crm_last_error_json()` returns: every key is
    /// always present, `null` where it does not apply.
    ///
    /// `{"status", "status_name", "message", "entity", "id", "field",
    /// "value", "reason", "path", "rule": {"id", "name"} | null}`
    pub fn to_json(&self) -> serde_json::Value {
        let p = &self.parts;
        let rule = match (&p.rule_id, &p.rule_name) {
            (None, None) => serde_json::Value::Null,
            (id, name) => serde_json::json!({
                "id": id.map(|i| i.to_string()),
                "name": name,
            }),
        };
        serde_json::json!({
            "status": self.status as i32,
            "status_name": status_name(self.status),
            "message": self.message,
            "entity": p.entity.map(|e| e.as_str()),
            "id": p.id,
            "field": p.field,
            "value": p.value.as_deref().map(echo_plain),
            "reason": p.reason,
            "path": self.path,
            "rule": rule,
        })
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let mut f = Failure::new(status_of(&e), e.to_string());
        f.parts = Box::new(e.parts());
        f
    }
}

/// The most characters of a caller's value that a message repeats; longer
/// values are cut, with an ellipsis and their full length.
pub const CRM_ECHO_MAX_CHARS: usize = 200;

/// The most characters of a whole `crm_last_error()` message; a longer
/// one is cut, saying how long it was.
pub const CRM_MESSAGE_MAX_CHARS: usize = 4000;

/// A caller's value as a message shows it: quoted, and cut to
/// [`CRM_ECHO_MAX_CHARS`] characters (`"abc…" (1048576 chars)`).
pub fn echo(value: &str) -> String {
    let n = value.chars().count();
    if n <= CRM_ECHO_MAX_CHARS {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(CRM_ECHO_MAX_CHARS).collect();
        format!("{:?}… ({n} chars)", head)
    }
}

/// Like [`echo`], unquoted (for the `value` part of structured errors).
pub fn echo_plain(value: &str) -> String {
    let n = value.chars().count();
    if n <= CRM_ECHO_MAX_CHARS {
        value.to_owned()
    } else {
        let head: String = value.chars().take(CRM_ECHO_MAX_CHARS).collect();
        format!("{head}… ({n} chars)")
    }
}

/// `message` cut to [`CRM_MESSAGE_MAX_CHARS`]: a safety net for messages that
/// quote a caller's input through a library (serde, the segment parser).
pub fn bound_message(message: &str) -> String {
    let n = message.chars().count();
    if n <= CRM_MESSAGE_MAX_CHARS {
        message.to_owned()
    } else {
        let head: String = message.chars().take(CRM_MESSAGE_MAX_CHARS).collect();
        format!("{head}… (message cut from {n} chars)")
    }
}

/// The C name of a status, such as `"CRM_STATUS_NOT_FOUND"`.
pub fn status_name(status: CrmStatus) -> &'static str {
    match status {
        CrmStatus::Ok => "CRM_STATUS_OK",
        CrmStatus::NullArgument => "CRM_STATUS_NULL_ARGUMENT",
        CrmStatus::InvalidUtf8 => "CRM_STATUS_INVALID_UTF8",
        CrmStatus::InvalidJson => "CRM_STATUS_INVALID_JSON",
        CrmStatus::UnknownOperation => "CRM_STATUS_UNKNOWN_OPERATION",
        CrmStatus::InvalidInput => "CRM_STATUS_INVALID_INPUT",
        CrmStatus::NotFound => "CRM_STATUS_NOT_FOUND",
        CrmStatus::Conflict => "CRM_STATUS_CONFLICT",
        CrmStatus::TransitionRefused => "CRM_STATUS_TRANSITION_REFUSED",
        CrmStatus::GuardFailed => "CRM_STATUS_GUARD_FAILED",
        CrmStatus::PermissionDenied => "CRM_STATUS_PERMISSION_DENIED",
        CrmStatus::Storage => "CRM_STATUS_STORAGE",
        CrmStatus::Internal => "CRM_STATUS_INTERNAL",
        CrmStatus::AutomationLoop => "CRM_STATUS_AUTOMATION_LOOP",
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
        Error::NotFound { .. } | Error::ExternalKeyNotFound { .. } => CrmStatus::NotFound,
        Error::Conflict { .. } | Error::ExternalKeyTaken { .. } => CrmStatus::Conflict,
        Error::TransitionNotAllowed { .. } | Error::LifecycleNotAllowed { .. } => {
            CrmStatus::TransitionRefused
        }
        Error::GuardFailed { .. } => CrmStatus::GuardFailed,
        Error::AutomationLoop { .. } => CrmStatus::AutomationLoop,
        // A rule's failure has the status of what failed in it.
        Error::Rule { source, .. } => status_of(source),
        Error::PermissionDenied { .. }
        | Error::FieldHidden { .. }
        | Error::CustomFieldHidden { .. }
        | Error::CustomFieldReadOnly { .. }
        | Error::HiddenRecords { .. }
        | Error::ActorNotAllowed { .. } => CrmStatus::PermissionDenied,
        Error::Store(s) => match s {
            StoreError::VersionConflict { .. }
            | StoreError::AlreadyExists { .. }
            | StoreError::KeyTaken { .. } => CrmStatus::Conflict,
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
                Error::CustomFieldHidden {
                    actor: crm_core::Actor::System,
                    entity: EntityKind::Deal,
                    key: "margin".into(),
                },
                CrmStatus::PermissionDenied,
            ),
            (
                Error::CustomFieldReadOnly {
                    actor: crm_core::Actor::System,
                    entity: EntityKind::Deal,
                    id: "x".into(),
                    key: "margin".into(),
                },
                CrmStatus::PermissionDenied,
            ),
            (
                Error::HiddenRecords {
                    actor: crm_core::Actor::System,
                    operation: crm_core::access::Operation::Merge,
                    entity: EntityKind::Customer,
                    id: "x".into(),
                    hidden: crm_core::access::Resource::Deals,
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
