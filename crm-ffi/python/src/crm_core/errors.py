"""The exceptions of crm_core: one class per ``crm_status`` of the C ABI,
all under :class:`CrmError`."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Type

__all__ = [
    "CrmError", "NullArgumentError", "InvalidUtf8Error", "InvalidJsonError",
    "UnknownOperationError", "ValidationError", "NotFoundError", "ConflictError",
    "TransitionRefusedError", "GuardFailedError", "PermissionDeniedError",
    "StorageError", "InternalError", "AutomationLoopError", "error_for",
]


class CrmError(Exception):
    """A call the engine refused or could not run. Nothing of it was kept.

    Attributes:
        status: the ``crm_status`` code (``ConflictError.status == 7``).
        status_name: its name, such as ``"CRM_STATUS_CONFLICT"``.
        message: the engine's message (``crm_last_error()``).
        op: the operation that failed, such as ``"deal.move"``.
        detail: the structured error (``crm_last_error_json()``: status,
            entity, id, field, value, reason, ...) when the library
            provides it, else ``None``.
        step, step_op, batch_step: for a failed batch, the index, the
            operation and the :class:`~crm_core.Step` that failed.
    """

    #: The status code this class stands for (``None`` on the base class).
    STATUS: Optional[int] = None

    def __init__(self, status: int, status_name: str, message: str, op: str = "",
                 detail: Optional[Dict[str, Any]] = None) -> None:
        prefix = f"{op}: " if op else ""
        super().__init__(f"{prefix}{message}" if message else f"{prefix}{status_name}")
        self.status = status
        self.status_name = status_name
        self.message = message
        self.op = op
        self.detail = detail
        #: In a batch: the index of the step that failed (0-based), else ``None``.
        self.step: Optional[int] = None
        #: In a batch: the failing step's operation, else ``None``.
        self.step_op: Optional[str] = None
        #: In a batch: the failing :class:`~crm_core.Step`, else ``None``.
        self.batch_step: Any = None

    def _field(self, key: str) -> Any:
        return None if self.detail is None else self.detail.get(key)

    @property
    def entity(self) -> Optional[str]:
        """The kind of record the error is about, when known."""
        return self._field("entity")

    @property
    def id(self) -> Optional[str]:
        """The id of the record the error is about, when known."""
        return self._field("id")

    @property
    def field(self) -> Optional[str]:
        """The offending field, when known."""
        return self._field("field")

    @property
    def value(self) -> Any:
        """The offending value, when known."""
        return self._field("value")

    @property
    def reason(self) -> Optional[str]:
        """Why the value was refused, when known."""
        return self._field("reason")

    @property
    def path(self) -> Optional[str]:
        """Where in the request the bad value was (``"amount.amount"``), when known."""
        return self._field("path")

    @property
    def rule(self) -> Optional[Dict[str, Any]]:
        """The automation rule involved (``{"id", "name"}``), when known."""
        return self._field("rule")


class NullArgumentError(CrmError):
    """A required pointer was NULL (a bug in the binding)."""
    STATUS = 1


class InvalidUtf8Error(CrmError):
    """A string was not valid UTF-8."""
    STATUS = 2


class InvalidJsonError(CrmError):
    """The request was not well-formed JSON."""
    STATUS = 3


class UnknownOperationError(CrmError):
    """The library does not know the operation (it may be older than the
    package's method that called it)."""
    STATUS = 4


class ValidationError(CrmError, ValueError):
    """The input breaks a rule: a request of the wrong shape, a bad value
    (the message names the field, the value and why), an unparsable segment
    expression, a bad KPI window or page cursor."""
    STATUS = 5


class NotFoundError(CrmError, LookupError):
    """No record with that id (or the actor may not see it)."""
    STATUS = 6


class ConflictError(CrmError):
    """The record changed since it was read (stale version), or an id is
    taken. Reload and apply the change again."""
    STATUS = 7


class TransitionRefusedError(CrmError):
    """The pipeline (or the customer lifecycle) does not allow the move."""
    STATUS = 8


class GuardFailedError(CrmError):
    """The deal does not meet a guard of the stage it would enter."""
    STATUS = 9


class PermissionDeniedError(CrmError, PermissionError):
    """The actor may not do this."""
    STATUS = 10


class StorageError(CrmError, OSError):
    """The storage backend failed (I/O, a locked or corrupt database)."""
    STATUS = 11


class InternalError(CrmError):
    """A bug in the library; the engine is still usable."""
    STATUS = 12


class AutomationLoopError(CrmError):
    """Automation rules set each other off deeper than the chain limit."""
    STATUS = 13


_BY_STATUS: Dict[int, Type[CrmError]] = {
    cls.STATUS: cls
    for cls in (NullArgumentError, InvalidUtf8Error, InvalidJsonError, UnknownOperationError,
                ValidationError, NotFoundError, ConflictError, TransitionRefusedError,
                GuardFailedError, PermissionDeniedError, StorageError, InternalError,
                AutomationLoopError)
    if cls.STATUS is not None
}


def error_for(status: int, status_name: str, message: str, op: str = "",
              detail_json: Optional[str] = None) -> CrmError:
    """The exception for a failed call: the class of its status (the base
    class for a status this package does not know yet)."""
    detail: Optional[Dict[str, Any]] = None
    if detail_json:
        try:
            parsed = json.loads(detail_json)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            detail = parsed
            message = message or str(parsed.get("message", ""))
    cls = _BY_STATUS.get(status, CrmError)
    return cls(status, status_name, message, op, detail)
