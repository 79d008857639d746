"""The write methods a :class:`~crm_core.Session` and a
:class:`~crm_core.Batch` share: every operation that may run as a step of
a batch. Internal: use them through a session or a batch."""

from __future__ import annotations

import datetime as _dt
from typing import (TYPE_CHECKING, Any, Dict, Generic, Mapping, Optional, Sequence, Tuple,
                    TypeVar, Union)

from ._codec import Money, custom_values, time_text

if TYPE_CHECKING:  # pragma: no cover
    from ._batch import Step

__all__ = ["Writes", "Ref", "Record", "StepRef", "ref_id", "ref_version", "fill_step_refs",
           "clean", "money"]

Record = Dict[str, Any]
#: A record (a dict with ``id`` and ``version``), a batch step (inside its
#: own batch, or once its batch has committed), or an id.
Ref = Union[Mapping[str, Any], str, "Step"]

R = TypeVar("R")


class StepRef:
    """Inside a batch, a field of an earlier step's result, before the batch
    has run: sent as ``{"$step": i, "field": f}``, which the engine fills in
    when step ``i`` has run. Made by passing a pending :class:`Step` where a
    record is expected."""

    __slots__ = ("step", "field")

    def __init__(self, step: "Step", field: str) -> None:
        self.step = step
        self.field = field

    def to_json(self) -> Dict[str, Any]:
        # An upsert answers {"record", "outcome"}: the record is inside.
        prefix = "record." if self.step.op.endswith(".upsert") else ""
        return {"$step": self.step.index, "field": prefix + self.field}

    def __repr__(self) -> str:
        return f"<crm_core.StepRef step {self.step.index} {self.field}>"


def _pending(what: Any) -> bool:
    return getattr(what, "_crm_step_pending", None) is not None and what._crm_step_pending()


def _resolved(what: Any) -> Any:
    """A committed batch step stands for its result."""
    result = getattr(what, "_crm_step_result", None)
    if result is not None:
        what = result()
    # An upsert's answer stands for its record.
    if isinstance(what, Mapping) and set(what) == {"record", "outcome"}:
        return what["record"]
    return what


def ref_id(what: Ref) -> Any:
    """The id of a record, of a committed batch step's result, or an id; a
    pending step of a batch stands for its result's id (a :class:`StepRef`)."""
    if _pending(what):
        return StepRef(what, "id")  # type: ignore[arg-type]
    what = _resolved(what)
    if isinstance(what, Mapping):
        return str(what["id"])
    if isinstance(what, str):
        return what
    raise TypeError(f"expected a record or an id, got {type(what).__name__}: {what!r}")


def ref_version(what: Ref, version: Optional[int]) -> Tuple[Any, Any]:
    """The id and the version a change is based on: ``version`` when given,
    else the record's own (for a pending batch step, its result's)."""
    if _pending(what):
        step: Any = what
        return StepRef(step, "id"), (int(version) if version is not None
                                     else StepRef(step, "version"))
    what = _resolved(what)
    if isinstance(what, Mapping):
        return str(what["id"]), int(version if version is not None else what["version"])
    if version is None:
        raise TypeError("give the record itself, or its id and version=")
    return ref_id(what), int(version)


def fill_step_refs(value: Any, batch: Any) -> Any:
    """``value`` with each :class:`StepRef` replaced by its JSON form;
    ``batch`` is the batch the request runs in (``None``: not in a batch),
    and a reference to a step of any other batch is a ``TypeError``."""
    if isinstance(value, StepRef):
        if batch is None or value.step.batch is not batch:
            raise TypeError(
                f"batch step {value.step.index} ({value.step.op}) cannot stand for a record "
                "yet: its batch has not committed. Use it within the same batch (the engine "
                "fills in its result there), or after that batch commits")
        return value.to_json()
    if isinstance(value, dict):
        return {k: fill_step_refs(v, batch) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_step_refs(v, batch) for v in value]
    return value


def clean(request: Dict[str, Any]) -> Dict[str, Any]:
    """The request without the fields left at ``None``."""
    return {k: v for k, v in request.items() if v is not None}


def money(amount: Any) -> Any:
    """A :class:`Money` as the engine's JSON; a ``float`` is refused."""
    if isinstance(amount, Money):
        return amount.to_json()
    if isinstance(amount, float):
        raise TypeError(f"amount {amount!r} is a float: give crm_core.Money(Decimal(...), "
                        "currency)")
    return amount


def _refs(fields: Dict[str, Any], *keys: str) -> Dict[str, Any]:
    for key in keys:
        if fields.get(key) is not None:
            fields[key] = ref_id(fields[key])
    return fields


class Writes(Generic[R]):
    """Every write that may also run inside a batch. On a session each
    returns the changed record; in a batch each returns a
    :class:`~crm_core.Step` whose result is there once the batch commits.

    Every method takes ``at=``: an aware ``datetime`` the change is recorded
    as having happened at (events, stage history, ``created_at``), to import
    history; naive ones raise ``ValueError`` before anything is sent.
    """

    def _write(self, op: str, request: Dict[str, Any],
               at: Optional[_dt.datetime]) -> R:  # pragma: no cover - abstract
        raise NotImplementedError

    # ----- customers -----
    def create_customer(self, kind: str = "person", name: str = "", *,
                        at: Optional[_dt.datetime] = None, **fields: Any) -> R:
        """``customer.create``: ``kind`` is ``"person"`` or
        ``"organisation"``; the other NewCustomer fields as keywords:
        ``emails``, ``phones``, ``tags`` (lists of strings), ``owner``,
        ``organisation`` (a person's organisation), ``lifecycle``
        (``"lead"``, ``"prospect"``, ``"customer"``, ``"churned"``),
        ``roles``, ``custom`` (``{key: value}``)."""
        _refs(fields, "owner", "organisation")
        _custom(fields)
        return self._write("customer.create", dict(fields, kind=kind, name=name), at)

    def upsert_customer(self, system: str, key: str, record: Mapping[str, Any], *,
                        mode: Optional[str] = None, expected_version: Optional[int] = None,
                        at: Optional[_dt.datetime] = None) -> R:
        """``customer.upsert``: creates or updates the customer that your
        ``system`` calls ``key``; ``record`` is a NewCustomer (``{"kind",
        "name", "emails", ...}``). ``mode`` is ``"create_or_update"`` (the
        default), ``"update_only"`` (a missing key is a NotFoundError) or
        ``"create_only"`` (an existing key is a ConflictError); with
        ``expected_version`` the update is a compare-and-set. Returns
        ``{"record", "outcome"}``, the outcome ``"created"``, ``"updated"``
        or ``"unchanged"`` (an identical repeat writes nothing)."""
        return self._write("customer.upsert", _upsert(system, key, record, mode,
                                                      expected_version), at)

    def upsert_deal(self, system: str, key: str, record: Mapping[str, Any], *,
                    mode: Optional[str] = None, expected_version: Optional[int] = None,
                    at: Optional[_dt.datetime] = None) -> R:
        """``deal.upsert``: like :meth:`upsert_customer`, ``record`` a
        NewDeal (``{"customer", "pipeline", "title", "amount"?, ...}``)."""
        return self._write("deal.upsert", _upsert(system, key, record, mode,
                                                  expected_version), at)

    def upsert_activity(self, system: str, key: str, record: Mapping[str, Any], *,
                        mode: Optional[str] = None, expected_version: Optional[int] = None,
                        at: Optional[_dt.datetime] = None) -> R:
        """``activity.upsert``: logs the activity your ``system`` calls
        ``key`` unless it is logged already (``record`` a NewActivity)."""
        return self._write("activity.upsert", _upsert(system, key, record, mode,
                                                      expected_version), at)

    def update_customer(self, customer: Ref, patch: Mapping[str, Any],
                        version: Optional[int] = None, *,
                        at: Optional[_dt.datetime] = None) -> R:
        """``customer.update`` with a CustomerPatch (``{"name": ...,
        "lifecycle": "customer", "custom": {...}}``)."""
        cid, v = ref_version(customer, version)
        return self._write("customer.update", {"id": cid, "version": v, "patch": _patch(patch)},
                           at)

    def merge_customers(self, survivor: Ref, merged: Ref, *,
                        policy: Optional[Mapping[str, Any]] = None,
                        survivor_version: Optional[int] = None,
                        merged_version: Optional[int] = None,
                        at: Optional[_dt.datetime] = None) -> R:
        """``customer.merge``: folds ``merged`` into ``survivor`` (e-mails,
        phones, tags, deals, activities) and returns the survivor.
        ``policy`` says whose ``name``, ``lifecycle``, ``owner`` and
        ``organisation`` are kept (``"survivor"`` by default)."""
        sid, sv = ref_version(survivor, survivor_version)
        mid, mv = ref_version(merged, merged_version)
        return self._write("customer.merge", clean({
            "survivor": sid, "survivor_version": sv, "merged": mid, "merged_version": mv,
            "policy": None if policy is None else dict(policy)}), at)

    # ----- pipelines -----
    def create_pipeline(self, name: str, stages: Sequence[Mapping[str, Any]], *,
                        at: Optional[_dt.datetime] = None, **fields: Any) -> R:
        """``pipeline.create``: stages as ``{"key", "name", "probability",
        "kind": "open" | "won" | "lost", "guards"?}`` dicts (see
        :func:`crm_core.sales_template`); ``allow_reopen``, ... as keywords."""
        return self._write("pipeline.create", dict(fields, name=name, stages=list(stages)), at)

    def update_pipeline(self, pipeline: Ref, definition: Mapping[str, Any],
                        mapping: Optional[Mapping[str, str]] = None,
                        version: Optional[int] = None, *,
                        at: Optional[_dt.datetime] = None) -> R:
        """``pipeline.update``: a new definition (``{"name", "stages", ...}``
        as for :meth:`create_pipeline`), and where deals in removed stages
        go (``mapping``: old stage key to new one)."""
        pid, v = ref_version(pipeline, version)
        return self._write("pipeline.update", clean({
            "id": pid, "version": v, "definition": dict(definition),
            "mapping": None if mapping is None else dict(mapping)}), at)

    # ----- deals -----
    def create_deal(self, customer: Ref, pipeline: Ref, title: str,
                    amount: Optional[Money] = None, *,
                    at: Optional[_dt.datetime] = None, **fields: Any) -> R:
        """``deal.create``: other NewDeal fields (``owner``, ``stage``,
        ``expected_close_date`` as a ``date``, ``custom``) as keywords."""
        request = dict(_custom(_refs(fields, "owner")), customer=ref_id(customer),
                       pipeline=ref_id(pipeline), title=title)
        if amount is not None:
            request["amount"] = money(amount)
        return self._write("deal.create", request, at)

    def update_deal(self, deal: Ref, patch: Mapping[str, Any],
                    version: Optional[int] = None, *,
                    at: Optional[_dt.datetime] = None) -> R:
        """``deal.update`` with a DealPatch (``{"amount": Money(...),
        "expected_close_date": date(...), "title": ..., "owner": ...}``;
        ``None`` clears a field)."""
        did, v = ref_version(deal, version)
        return self._write("deal.update", {"id": did, "version": v, "patch": _patch(patch)}, at)

    def correct_deal(self, deal: Ref, patch: Mapping[str, Any], reason: str,
                     version: Optional[int] = None, *,
                     at: Optional[_dt.datetime] = None) -> R:
        """``deal.correct``: changes a won or lost deal's fields, with the
        reason recorded in its event."""
        did, v = ref_version(deal, version)
        return self._write("deal.correct", {"id": did, "version": v, "patch": _patch(patch),
                                            "reason": reason}, at)

    def move_deal(self, deal: Ref, stage: str, version: Optional[int] = None, *,
                  at: Optional[_dt.datetime] = None) -> R:
        """``deal.move`` to the stage with key ``stage``."""
        did, v = ref_version(deal, version)
        return self._write("deal.move", {"id": did, "version": v, "stage": stage}, at)

    def win_deal(self, deal: Ref, version: Optional[int] = None, *,
                 at: Optional[_dt.datetime] = None) -> R:
        """``deal.win``: to the pipeline's won stage."""
        did, v = ref_version(deal, version)
        return self._write("deal.win", {"id": did, "version": v}, at)

    def lose_deal(self, deal: Ref, reason: str, version: Optional[int] = None, *,
                  stage: Optional[str] = None, at: Optional[_dt.datetime] = None) -> R:
        """``deal.lose`` with a reason; with ``stage``, ``deal.lose_in``
        (for a pipeline with several lost stages)."""
        did, v = ref_version(deal, version)
        if stage is not None:
            return self._write("deal.lose_in",
                               {"id": did, "version": v, "stage": stage, "reason": reason}, at)
        return self._write("deal.lose", {"id": did, "version": v, "reason": reason}, at)

    def reopen_deal(self, deal: Ref, stage: Optional[str] = None,
                    version: Optional[int] = None, *,
                    at: Optional[_dt.datetime] = None) -> R:
        """``deal.reopen`` (into ``stage``, or the pipeline's first open
        stage), where the pipeline allows reopening."""
        did, v = ref_version(deal, version)
        return self._write("deal.reopen", clean({"id": did, "version": v, "stage": stage}), at)

    # ----- activities -----
    def log_activity(self, kind: str, subject: str, *, at: Optional[_dt.datetime] = None,
                     **fields: Any) -> R:
        """``activity.log``: ``kind`` is ``call``, ``email``, ``meeting``,
        ``note`` or ``task``; ``customer``, ``deal``, ``owner`` (records or
        ids), ``direction`` (``"inbound"``/``"outbound"``), ``body``,
        ``occurred_at``, ``due_at`` (aware datetimes), ``custom`` as
        keywords."""
        _custom(_refs(fields, "customer", "deal", "owner"))
        return self._write("activity.log", dict(fields, kind=kind, subject=subject), at)

    def complete_task(self, task: Ref, version: Optional[int] = None, *,
                      at: Optional[_dt.datetime] = None) -> R:
        """``activity.complete``: marks a task done."""
        tid, v = ref_version(task, version)
        return self._write("activity.complete", {"id": tid, "version": v}, at)

    # ----- custom fields -----
    def set_custom_fields(self, entity: str, fields: Sequence[Mapping[str, Any]],
                          version: int, *, at: Optional[_dt.datetime] = None) -> R:
        """``custom_fields.set``: replaces the custom field definitions of
        ``"customer"``, ``"deal"`` or ``"activity"``; ``version`` is the
        schema's (from :meth:`Session.custom_fields`, 0 the first time)."""
        return self._write("custom_fields.set", {"entity": entity, "version": int(version),
                                                 "fields": [dict(f) for f in fields]}, at)

    # ----- users and teams -----
    def create_user(self, name: str, email: str, roles: Sequence[str] = (), *,
                    at: Optional[_dt.datetime] = None, **fields: Any) -> R:
        """``user.create`` (admins only): ``roles`` such as ``"admin"``,
        ``"sales_rep"``, ``"read_only"``; ``teams`` as a keyword."""
        if fields.get("teams") is not None:
            fields["teams"] = [ref_id(t) for t in fields["teams"]]
        return self._write("user.create",
                           dict(fields, name=name, email=email, roles=list(roles)), at)

    def update_user(self, user: Ref, patch: Mapping[str, Any],
                    version: Optional[int] = None, *,
                    at: Optional[_dt.datetime] = None) -> R:
        """``user.update``: a new ``name`` and/or ``email``."""
        uid, v = ref_version(user, version)
        return self._write("user.update", {"id": uid, "version": v, "patch": dict(patch)}, at)

    def deactivate_user(self, user: Ref, version: Optional[int] = None, *,
                        at: Optional[_dt.datetime] = None) -> R:
        """``user.deactivate``: the user can no longer act."""
        uid, v = ref_version(user, version)
        return self._write("user.deactivate", {"id": uid, "version": v}, at)

    def reactivate_user(self, user: Ref, version: Optional[int] = None, *,
                        at: Optional[_dt.datetime] = None) -> R:
        """``user.reactivate``."""
        uid, v = ref_version(user, version)
        return self._write("user.reactivate", {"id": uid, "version": v}, at)

    def set_user_roles(self, user: Ref, roles: Sequence[str],
                       version: Optional[int] = None, *,
                       at: Optional[_dt.datetime] = None) -> R:
        """``user.set_roles``: replaces the user's roles."""
        uid, v = ref_version(user, version)
        return self._write("user.set_roles",
                           {"id": uid, "version": v, "roles": list(roles)}, at)

    def create_team(self, name: str, *, manager: Optional[Ref] = None,
                    at: Optional[_dt.datetime] = None) -> R:
        """``team.create`` (admins only)."""
        return self._write("team.create", clean({
            "name": name, "manager": None if manager is None else ref_id(manager)}), at)

    def add_team_member(self, team: Ref, user: Ref, *,
                        at: Optional[_dt.datetime] = None) -> R:
        """``team.add_member``: returns the user."""
        return self._write("team.add_member", {"team": ref_id(team), "user": ref_id(user)}, at)

    def remove_team_member(self, team: Ref, user: Ref, *,
                           at: Optional[_dt.datetime] = None) -> R:
        """``team.remove_member``: returns the user."""
        return self._write("team.remove_member",
                           {"team": ref_id(team), "user": ref_id(user)}, at)

    def set_team_manager(self, team: Ref, manager: Optional[Ref],
                         version: Optional[int] = None, *,
                         at: Optional[_dt.datetime] = None) -> R:
        """``team.set_manager`` (``None`` clears it)."""
        tid, v = ref_version(team, version)
        return self._write("team.set_manager", {
            "id": tid, "version": v,
            "manager": None if manager is None else ref_id(manager)}, at)

    # ----- automation -----
    def create_rule(self, name: str, trigger: Any, actions: Sequence[Any], *,
                    at: Optional[_dt.datetime] = None, **fields: Any) -> R:
        """``rule.create``: a trigger (``"task_overdue"``,
        ``{"field_changed": {...}}``, ...), actions (``[{"notify":
        {"text": ...}}]``), and ``condition`` (segment text), ``active``
        as keywords."""
        return self._write("rule.create",
                           dict(fields, name=name, trigger=trigger, actions=list(actions)), at)

    def update_rule(self, rule: Ref, definition: Mapping[str, Any],
                    version: Optional[int] = None, *,
                    at: Optional[_dt.datetime] = None) -> R:
        """``rule.update`` with a whole definition (the fields of
        :meth:`create_rule`)."""
        rid, v = ref_version(rule, version)
        return self._write("rule.update", {"id": rid, "version": v, "rule": dict(definition)}, at)

    def run_due(self, now: Optional[_dt.datetime] = None, *,
                at: Optional[_dt.datetime] = None) -> R:
        """``automation.run_due``: fires the time rules due at ``now``
        (default: ``at``, else the engine's clock)."""
        return self._write("automation.run_due",
                           {} if now is None else {"now": time_text(now, "now")}, at)

    def acknowledge(self, notification: Ref, version: Optional[int] = None, *,
                    at: Optional[_dt.datetime] = None) -> R:
        """``outbox.acknowledge``: marks a notification delivered."""
        nid, v = ref_version(notification, version)
        return self._write("outbox.acknowledge", {"id": nid, "version": v}, at)


def _upsert(system: str, key: str, record: Mapping[str, Any], mode: Optional[str],
            expected_version: Optional[int]) -> Dict[str, Any]:
    body = dict(record)
    for field in ("customer", "pipeline", "deal", "owner", "organisation"):
        if body.get(field) is not None:
            body[field] = ref_id(body[field])
    if "amount" in body:
        body["amount"] = money(body["amount"])
    _custom(body)
    return clean({"key": {"system": system, "key": key}, "mode": mode,
                  "expected_version": expected_version, "record": body})


def _custom(fields: Dict[str, Any]) -> Dict[str, Any]:
    if fields.get("custom") is not None:
        fields["custom"] = custom_values(fields["custom"])
    return fields


def _patch(patch: Mapping[str, Any]) -> Dict[str, Any]:
    out = _custom(dict(patch))
    if out.get("organisation") is not None:
        out["organisation"] = ref_id(out["organisation"])
    if isinstance(out.get("amount"), (Money, float)):
        out["amount"] = money(out["amount"])
    if out.get("owner") is not None:
        out["owner"] = ref_id(out["owner"])
    return out
