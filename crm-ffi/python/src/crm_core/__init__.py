"""crm_core: Python bindings for crm-core, an embeddable CRM engine.

    import crm_core
    from decimal import Decimal

    with crm_core.open(":memory:") as crm:        # or a file: "crm.db"
        s = crm.as_system()                       # or crm.as_user(user_id)
        ada = s.create_customer("person", "Ada Lovelace")
        print(ada["id"], ada["version"])

Every call runs one operation of the C ABI (``crm-ffi``) as one
transaction; a refused call raises a subclass of :class:`CrmError` and
changes nothing. Money is :class:`Money` (a ``decimal.Decimal`` amount),
times are timezone-aware ``datetime`` (naive ones are refused).
"""

from ._batch import Batch, Step
from ._codec import Money
from ._engine import Crm, open
from ._helpers import business_calendar, sales_template, weekdays
from ._session import Session
from ._native import load as _load
from .errors import (
    AutomationLoopError,
    ConflictError,
    CrmError,
    GuardFailedError,
    InternalError,
    InvalidJsonError,
    InvalidUtf8Error,
    NotFoundError,
    NullArgumentError,
    PermissionDeniedError,
    StorageError,
    TransitionRefusedError,
    UnknownOperationError,
    ValidationError,
)

__version__ = "0.1.0"


def library_version() -> str:
    """The version of the bundled native library (``crm_version()``)."""
    return _load().version()


__all__ = [
    "open", "Crm", "Session", "Batch", "Step", "Money", "library_version", "sales_template",
    "business_calendar", "weekdays", "CrmError", "NullArgumentError",
    "InvalidUtf8Error", "InvalidJsonError", "UnknownOperationError", "ValidationError",
    "NotFoundError", "ConflictError", "TransitionRefusedError", "GuardFailedError",
    "PermissionDeniedError", "StorageError", "InternalError", "AutomationLoopError",
]
