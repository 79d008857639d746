"""The engine handle (:class:`Crm`) and the acting session (:class:`Session`)."""

from __future__ import annotations

import ctypes
import datetime as _dt
import os
import threading
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from . import _native
from ._codec import Money, decode, encode, time_text
from .errors import CrmError, error_for

__all__ = ["Crm", "Session", "open"]

Record = Dict[str, Any]
#: A record (its ``id`` and ``version`` are used) or an id.
Ref = Union[Mapping[str, Any], str]
PathLike = Union[str, "os.PathLike[str]"]


def _ref(what: Ref, version: Optional[int]) -> Tuple[str, int]:
    if isinstance(what, Mapping):
        return str(what["id"]), int(version if version is not None else what["version"])
    if version is None:
        raise TypeError("give the record itself, or its id and version=")
    return str(what), int(version)


def _id(what: Ref) -> str:
    return str(what["id"]) if isinstance(what, Mapping) else str(what)


def _clean(request: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in request.items() if v is not None}


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
        return Session(self, {"type": "user", "id": _id(user)})

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
        """Runs any operation as ``actor`` (default: the system)."""
        return self._call(actor or {"type": "system"}, op, request)


def open(path: PathLike = ":memory:") -> Crm:  # noqa: A001 - the module's verb
    """Opens an engine: ``":memory:"`` or an SQLite file (created if missing)."""
    return Crm(path)


class Session:
    """Calls made as one actor. Get one from :meth:`Crm.as_user` or
    :meth:`Crm.as_system`.

    Records come back as dicts in the engine's JSON forms, with money as
    :class:`Money` and times as aware datetimes. Methods that change a
    record take the record itself (its ``id`` and ``version`` are used) or
    its id and ``version=``.
    """

    def __init__(self, crm: Crm, actor: Mapping[str, Any],
                 at: Optional[_dt.datetime] = None) -> None:
        self.crm = crm
        self.actor = dict(actor)
        self._at = at

    def at(self, when: _dt.datetime) -> "Session":
        """The same actor with every write recorded as happening at ``when``
        (an aware datetime), to import history. Needs a library with the
        ``"at"`` request field."""
        time_text(when, "at")
        return Session(self.crm, self.actor, when)

    def call(self, op: str, request: Optional[Mapping[str, Any]] = None) -> Any:
        """Runs any operation (``"deal.count"``, ...) with a JSON-able request."""
        return self.crm._call(self.actor, op, request)

    def _write(self, op: str, request: Dict[str, Any]) -> Any:
        if self._at is not None:
            request = dict(request, at=self._at)
        return self.call(op, request)

    def pages(self, op: str, request: Optional[Mapping[str, Any]] = None,
              limit: int = 500) -> Iterator[Any]:
        """Every item of a paged listing (``customer.list``, ...), following
        the cursors."""
        req = dict(request or {})
        page = dict(req.get("page") or {})
        page.setdefault("limit", limit)
        while True:
            req["page"] = page
            result = self.call(op, req)
            yield from result["items"]
            if not result.get("next"):
                return
            page = dict(page, after=result["next"])

    # ----- customers -----
    def create_customer(self, kind: str = "person", name: str = "", **fields: Any) -> Record:
        """``customer.create``: ``kind`` is ``"person"`` or ``"organisation"``;
        other NewCustomer fields (``emails``, ``phones``, ``tags``, ``owner``,
        ``lifecycle``, ``works_at``, ``custom``, ...) as keywords."""
        return self._write("customer.create", dict(fields, kind=kind, name=name))

    def customer(self, id: Ref) -> Record:
        """``customer.get``."""
        return self.call("customer.get", {"id": _id(id)})

    def update_customer(self, customer: Ref, patch: Mapping[str, Any],
                        version: Optional[int] = None) -> Record:
        """``customer.update`` with a CustomerPatch (``{"name": ...}``)."""
        cid, v = _ref(customer, version)
        return self._write("customer.update", {"id": cid, "version": v, "patch": dict(patch)})

    def customers(self, query: Optional[Mapping[str, Any]] = None) -> Record:
        """``customer.list``: one page (``{"items", "next"}``)."""
        return self.call("customer.list", query or {})

    def count_customers(self, filter: Optional[Mapping[str, Any]] = None) -> int:
        """``customer.count``."""
        return int(self.call("customer.count", _clean({"filter": filter})))

    def merge_customers(self, survivor: Mapping[str, Any], merged: Mapping[str, Any],
                        policy: Optional[Mapping[str, Any]] = None) -> Any:
        """``customer.merge``: ``merged`` is folded into ``survivor``."""
        return self._write("customer.merge", _clean({
            "survivor": survivor["id"], "survivor_version": survivor["version"],
            "merged": merged["id"], "merged_version": merged["version"], "policy": policy}))

    def duplicates(self, request: Optional[Mapping[str, Any]] = None) -> Any:
        """``customer.duplicates``."""
        return self.call("customer.duplicates", request or {})

    # ----- pipelines -----
    def create_pipeline(self, name: str, stages: Sequence[Mapping[str, Any]],
                        **fields: Any) -> Record:
        """``pipeline.create``: stages as ``{"key","name","probability","kind",
        "guards"?}`` dicts."""
        return self._write("pipeline.create", dict(fields, name=name, stages=list(stages)))

    def pipeline(self, id: Ref) -> Record:
        """``pipeline.get``."""
        return self.call("pipeline.get", {"id": _id(id)})

    def pipelines(self, query: Optional[Mapping[str, Any]] = None) -> Record:
        """``pipeline.list``: one page."""
        return self.call("pipeline.list", query or {})

    def update_pipeline(self, pipeline: Ref, definition: Mapping[str, Any],
                        mapping: Optional[Mapping[str, Any]] = None,
                        version: Optional[int] = None) -> Record:
        """``pipeline.update``: a new definition, and where deals in removed
        stages go (``mapping``)."""
        pid, v = _ref(pipeline, version)
        return self._write("pipeline.update", _clean(
            {"id": pid, "version": v, "definition": dict(definition), "mapping": mapping}))

    # ----- deals -----
    def create_deal(self, customer: Ref, pipeline: Ref, title: str,
                    amount: Optional[Money] = None, **fields: Any) -> Record:
        """``deal.create``: other NewDeal fields (``owner``,
        ``expected_close_date``, ...) as keywords."""
        request = dict(fields, customer=_id(customer), pipeline=_id(pipeline), title=title)
        if amount is not None:
            request["amount"] = _money(amount)
        return self._write("deal.create", request)

    def deal(self, id: Ref) -> Record:
        """``deal.get``."""
        return self.call("deal.get", {"id": _id(id)})

    def deals(self, query: Optional[Mapping[str, Any]] = None) -> Record:
        """``deal.list``: one page."""
        return self.call("deal.list", query or {})

    def count_deals(self, filter: Optional[Mapping[str, Any]] = None) -> int:
        """``deal.count``."""
        return int(self.call("deal.count", _clean({"filter": filter})))

    def update_deal(self, deal: Ref, patch: Mapping[str, Any],
                    version: Optional[int] = None) -> Record:
        """``deal.update`` with a DealPatch (``{"amount": Money(...),
        "expected_close_date": date(...)}``)."""
        did, v = _ref(deal, version)
        patch = dict(patch)
        if isinstance(patch.get("amount"), Money):
            patch["amount"] = patch["amount"].to_json()
        return self._write("deal.update", {"id": did, "version": v, "patch": patch})

    def move_deal(self, deal: Ref, stage: str, version: Optional[int] = None) -> Record:
        """``deal.move`` to ``stage``."""
        did, v = _ref(deal, version)
        return self._write("deal.move", {"id": did, "version": v, "stage": stage})

    def win_deal(self, deal: Ref, version: Optional[int] = None) -> Record:
        """``deal.win``."""
        did, v = _ref(deal, version)
        return self._write("deal.win", {"id": did, "version": v})

    def lose_deal(self, deal: Ref, reason: str, version: Optional[int] = None,
                  stage: Optional[str] = None) -> Record:
        """``deal.lose`` with a reason (``deal.lose_in`` when ``stage`` names
        one of several lost stages)."""
        did, v = _ref(deal, version)
        if stage is not None:
            return self._write("deal.lose_in",
                               {"id": did, "version": v, "stage": stage, "reason": reason})
        return self._write("deal.lose", {"id": did, "version": v, "reason": reason})

    def reopen_deal(self, deal: Ref, stage: Optional[str] = None,
                    version: Optional[int] = None) -> Record:
        """``deal.reopen`` (into ``stage``, or the pipeline's default)."""
        did, v = _ref(deal, version)
        return self._write("deal.reopen", _clean({"id": did, "version": v, "stage": stage}))

    # ----- activities -----
    def log_activity(self, kind: str, subject: str, **fields: Any) -> Record:
        """``activity.log``: ``kind`` is call, email, meeting, note or task;
        ``customer``, ``deal``, ``due`` (aware datetime), ... as keywords."""
        for key in ("customer", "deal", "owner"):
            if isinstance(fields.get(key), Mapping):
                fields[key] = _id(fields[key])
        return self._write("activity.log", dict(fields, kind=kind, subject=subject))

    def activity(self, id: Ref) -> Record:
        """``activity.get``."""
        return self.call("activity.get", {"id": _id(id)})

    def activities(self, query: Optional[Mapping[str, Any]] = None) -> Record:
        """``activity.list``: one page."""
        return self.call("activity.list", query or {})

    def complete_task(self, task: Ref, version: Optional[int] = None) -> Record:
        """``activity.complete``."""
        tid, v = _ref(task, version)
        return self._write("activity.complete", {"id": tid, "version": v})

    # ----- segments -----
    def create_segment(self, name: str, expression: Any) -> Record:
        """``segment.create``: the expression as text (``"lifecycle = lead"``)
        or its JSON tree."""
        return self._write("segment.create", {"name": name, "expression": expression})

    def segment(self, id: Ref) -> Record:
        """``segment.get``."""
        return self.call("segment.get", {"id": _id(id)})

    def segments(self, query: Optional[Mapping[str, Any]] = None) -> Record:
        """``segment.list``: one page."""
        return self.call("segment.list", query or {})

    def evaluate_segment(self, segment: Optional[Ref] = None, *, expression: Any = None,
                         page: Optional[Mapping[str, Any]] = None) -> Record:
        """``segment.evaluate``: a saved segment, or an expression."""
        if (segment is None) == (expression is None):
            raise TypeError("give exactly one of a segment and expression=")
        request: Dict[str, Any] = (
            {"id": _id(segment)} if segment is not None else {"expression": expression})
        if page is not None:
            request["page"] = dict(page)
        return self.call("segment.evaluate", request)

    def update_segment(self, segment: Ref, *, name: Optional[str] = None,
                       expression: Any = None, version: Optional[int] = None) -> Record:
        """``segment.update``: a new name and/or expression."""
        sid, v = _ref(segment, version)
        return self._write("segment.update", _clean(
            {"id": sid, "version": v, "name": name, "expression": expression}))

    def delete_segment(self, segment: Ref, version: Optional[int] = None) -> Any:
        """``segment.delete``."""
        sid, v = _ref(segment, version)
        return self._write("segment.delete", {"id": sid, "version": v})

    def rfm(self, currency: str, window: Optional[Mapping[str, Any]] = None) -> Any:
        """``segment.rfm``: RFM scores in one currency."""
        return self.call("segment.rfm", _clean({"currency": currency, "window": window}))

    def abc(self, currency: str, window: Optional[Mapping[str, Any]] = None,
            cutoffs: Optional[Mapping[str, Any]] = None) -> Any:
        """``segment.abc``: ABC classes by revenue in one currency."""
        return self.call("segment.abc", _clean(
            {"currency": currency, "window": window, "cutoffs": cutoffs}))

    # ----- reports and the log -----
    def kpi_report(self, **options: Any) -> Record:
        """``kpi.report``: ``filter``, ``period``, ``zone``, ``response``, ...
        as keywords."""
        return self.call("kpi.report", _clean(options))

    def events(self, query: Optional[Mapping[str, Any]] = None) -> Record:
        """``event.list``: one page of the audit log."""
        return self.call("event.list", query or {})

    # ----- custom fields -----
    def custom_fields(self, entity: str) -> Any:
        """``custom_fields.get``: the field definitions of ``customer``,
        ``deal``, ..."""
        return self.call("custom_fields.get", {"entity": entity})

    def set_custom_fields(self, entity: str, fields: Sequence[Mapping[str, Any]],
                          version: int) -> Any:
        """``custom_fields.set``: replaces the definitions (``version`` from
        :meth:`custom_fields`)."""
        return self._write("custom_fields.set",
                           {"entity": entity, "version": version, "fields": list(fields)})

    # ----- CSV and backups -----
    def import_csv(self, entity: str, csv: Optional[str] = None, *,
                   path: Optional[PathLike] = None,
                   options: Optional[Mapping[str, Any]] = None) -> Any:
        """``customer.import``, ``deal.import`` or ``activity.import``
        (``entity`` is ``"customer"``, ``"deal"`` or ``"activity"``): CSV text
        or a file path. Returns the import report."""
        if (csv is None) == (path is None):
            raise TypeError("give exactly one of csv text and path=")
        return self._write(f"{entity}.import", _clean({
            "csv": csv, "path": None if path is None else os.fspath(path), "options": options}))

    def export_csv(self, entity: str, *, path: Optional[PathLike] = None) -> Any:
        """``customer.export`` (``deal.export``, ``activity.export``): returns
        the CSV text, or writes ``path`` and returns the row count."""
        result = self.call(f"{entity}.export",
                           _clean({"path": None if path is None else os.fspath(path)}))
        return result["csv"] if path is None else result["rows"]

    def backup(self, *, path: Optional[PathLike] = None) -> Any:
        """``backup.create``: the whole store as text (or into ``path``)."""
        result = self.call("backup.create",
                           _clean({"path": None if path is None else os.fspath(path)}))
        return result["backup"] if path is None else result

    def restore(self, backup: Optional[str] = None, *, path: Optional[PathLike] = None) -> Any:
        """``backup.restore``: into an empty store, from text or a file."""
        if (backup is None) == (path is None):
            raise TypeError("give exactly one of backup text and path=")
        return self._write("backup.restore", _clean(
            {"backup": backup, "path": None if path is None else os.fspath(path)}))

    def batch(self, steps: Sequence[Tuple[str, Mapping[str, Any]]]) -> List[Any]:
        """``batch``: ``[(op, request), ...]`` in one transaction, all or
        nothing; returns each step's result."""
        request = {"steps": [{"op": op, "request": dict(req)} for op, req in steps]}
        return self._write("batch", request)["results"]

    # ----- predictions -----
    def predict_fit(self, observation: Mapping[str, Any], **options: Any) -> Record:
        """``predict.fit``: BG/NBD and Gamma-Gamma parameters."""
        return self.call("predict.fit", dict(options, observation=dict(observation)))

    def predict_score(self, observation: Mapping[str, Any], bg_nbd: Mapping[str, Any],
                      clv: Mapping[str, Any], **options: Any) -> List[Record]:
        """``predict.score``: scores per customer under given parameters."""
        return self.call("predict.score", dict(options, observation=dict(observation),
                                               bg_nbd=dict(bg_nbd), clv=dict(clv)))

    def write_scores(self, observation: Mapping[str, Any], clv: Mapping[str, Any],
                     **options: Any) -> Record:
        """``predict.write_scores``: fits, scores and stores the scores."""
        return self._write("predict.write_scores",
                           dict(options, observation=dict(observation), clv=dict(clv)))

    # ----- automation -----
    def create_rule(self, name: str, trigger: Any, actions: Sequence[Any],
                    **fields: Any) -> Record:
        """``rule.create``: ``condition``, ``active`` as keywords."""
        return self._write("rule.create",
                           dict(fields, name=name, trigger=trigger, actions=list(actions)))

    def rule(self, id: Ref) -> Record:
        """``rule.get``."""
        return self.call("rule.get", {"id": _id(id)})

    def rules(self) -> List[Record]:
        """``rule.list``."""
        return self.call("rule.list", {})

    def update_rule(self, rule: Ref, definition: Mapping[str, Any],
                    version: Optional[int] = None) -> Record:
        """``rule.update`` with a whole definition (as for create_rule)."""
        rid, v = _ref(rule, version)
        return self._write("rule.update", {"id": rid, "version": v, "rule": dict(definition)})

    def run_due(self, now: Optional[_dt.datetime] = None) -> Record:
        """``automation.run_due``: fires the timers due at ``now``."""
        return self.call("automation.run_due",
                         {} if now is None else {"now": time_text(now, "now")})

    def outbox(self, include_acknowledged: bool = False) -> List[Record]:
        """``outbox.list``."""
        return self.call("outbox.list", {"include_acknowledged": include_acknowledged})

    def acknowledge(self, notification: Ref, version: Optional[int] = None) -> Record:
        """``outbox.acknowledge``."""
        nid, v = _ref(notification, version)
        return self._write("outbox.acknowledge", {"id": nid, "version": v})

    # ----- users and teams -----
    def create_user(self, name: str, email: str, roles: Sequence[str] = (),
                    **fields: Any) -> Record:
        """``user.create`` (admins only)."""
        return self._write("user.create", dict(fields, name=name, email=email, roles=list(roles)))

    def user(self, id: Ref) -> Record:
        """``user.get``."""
        return self.call("user.get", {"id": _id(id)})

    def users(self, query: Optional[Mapping[str, Any]] = None) -> Record:
        """``user.list``."""
        return self.call("user.list", query or {})

    def update_user(self, user: Ref, patch: Mapping[str, Any],
                    version: Optional[int] = None) -> Record:
        """``user.update``."""
        uid, v = _ref(user, version)
        return self._write("user.update", {"id": uid, "version": v, "patch": dict(patch)})

    def set_user_active(self, user: Ref, active: bool, version: Optional[int] = None) -> Record:
        """``user.reactivate`` / ``user.deactivate``."""
        uid, v = _ref(user, version)
        return self._write("user.reactivate" if active else "user.deactivate",
                           {"id": uid, "version": v})

    def set_user_roles(self, user: Ref, roles: Sequence[str],
                       version: Optional[int] = None) -> Record:
        """``user.set_roles``."""
        uid, v = _ref(user, version)
        return self._write("user.set_roles", {"id": uid, "version": v, "roles": list(roles)})

    def create_team(self, name: str, **fields: Any) -> Record:
        """``team.create`` (admins only)."""
        return self._write("team.create", dict(fields, name=name))

    def team(self, id: Ref) -> Record:
        """``team.get``."""
        return self.call("team.get", {"id": _id(id)})

    def teams(self, query: Optional[Mapping[str, Any]] = None) -> Record:
        """``team.list``."""
        return self.call("team.list", query or {})

    def add_team_member(self, team: Ref, user: Ref) -> Record:
        """``team.add_member``."""
        return self._write("team.add_member", {"team": _id(team), "user": _id(user)})

    def remove_team_member(self, team: Ref, user: Ref) -> Record:
        """``team.remove_member``."""
        return self._write("team.remove_member", {"team": _id(team), "user": _id(user)})

    def set_team_manager(self, team: Ref, manager: Optional[Ref],
                         version: Optional[int] = None) -> Record:
        """``team.set_manager`` (``None`` clears it)."""
        tid, v = _ref(team, version)
        return self._write("team.set_manager", {
            "id": tid, "version": v, "manager": None if manager is None else _id(manager)})


def _money(amount: Any) -> Any:
    if isinstance(amount, Money):
        return amount.to_json()
    if isinstance(amount, float):
        raise TypeError(f"amount {amount!r}: give crm_core.Money(Decimal(...), currency)")
    return amount
