"""The engine handle (:class:`Crm`)."""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any, Mapping, Optional

from . import _native
from ._codec import decode, encode
from ._session import PathLike, Session
from ._writes import Ref, ref_id
from .errors import CrmError, InternalError, error_for

__all__ = ["Crm", "open"]


class Crm:
    """An open engine over an SQLite file or ``":memory:"``.

    Use it as a context manager (``with crm_core.open("crm.db") as crm:``)
    or call :meth:`close`. Safe to share between threads: the C engine is
    thread-safe (each call is its own transaction, the store serialises
    writes) and :meth:`close` waits for calls still running.
    """

    def __init__(self, path: PathLike = ":memory:") -> None:
        self._lib = _native.load()
        self._handle = ctypes.c_void_p()
        self._cond = threading.Condition()
        self._inflight = 0
        self._closed = False
        text = os.fspath(path)
        handle = ctypes.c_void_p()
        status = self._lib.lib.crm_open(text.encode("utf-8"), ctypes.byref(handle))
        if status != 0:
            raise self._error(status, "open")
        self._handle = handle
        self.path = text

    # ----- lifecycle -----
    def close(self) -> None:
        """Closes the engine (waiting for calls in other threads to end).
        Closing twice is harmless; calls after it raise ``RuntimeError``."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            while self._inflight:
                self._cond.wait()
            handle, self._handle = self._handle, ctypes.c_void_p()
        if handle:
            self._lib.lib.crm_close(handle)

    def __enter__(self) -> "Crm":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    # ----- sessions -----
    def as_user(self, user: Ref) -> "Session":
        """A session acting as the stored user (their roles and teams apply)."""
        return Session(self, {"type": "user", "id": ref_id(user)})

    def as_system(self) -> "Session":
        """A session acting as the system (no access limits)."""
        return Session(self, {"type": "system"})

    # ----- the raw call -----
    def _error(self, status: int, op: str) -> CrmError:
        lib = self._lib
        return error_for(status, lib.status_name(status), lib.last_error(), op,
                         lib.last_error_json())

    def _call(self, actor: Mapping[str, Any], op: str, request: Any) -> Any:
        body = encode({} if request is None else request)
        actor_json = encode(actor)
        with self._cond:
            if self._closed:
                raise RuntimeError("crm_core: the engine is closed")
            self._inflight += 1
        try:
            out = ctypes.c_void_p()
            # The status and the thread-local last error are read on this
            # thread, right after the call: other threads cannot change them.
            status = self._lib.lib.crm_call(self._handle, actor_json, op.encode("utf-8"), body,
                                            ctypes.byref(out))
            try:
                if status != 0:
                    raise self._error(status, op)
                if not out.value:
                    raise InternalError(status, "CRM_STATUS_INTERNAL",
                                        "the library returned success without a response", op)
                text = ctypes.string_at(out.value).decode("utf-8")
            finally:
                self._lib.lib.crm_string_free(out)
        finally:
            with self._cond:
                self._inflight -= 1
                if not self._inflight:
                    self._cond.notify_all()
        return decode(text)

    def call(self, op: str, request: Optional[Mapping[str, Any]] = None, *,
             actor: Optional[Mapping[str, Any]] = None) -> Any:
        """Runs any operation as ``actor`` (default: the system), as
        :meth:`Session.call` does."""
        return Session(self, actor or {"type": "system"}).call(op, request)


def open(path: PathLike = ":memory:") -> Crm:  # noqa: A001 - the module's verb
    """Opens an engine: ``":memory:"`` or an SQLite file (created if missing)."""
    return Crm(path)
