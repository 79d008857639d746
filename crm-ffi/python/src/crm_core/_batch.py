"""Atomic batches: several writes in one transaction, all or nothing."""

from __future__ import annotations

import datetime as _dt
import re
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._codec import time_text
from ._writes import Writes, fill_step_refs
from .errors import CrmError

if TYPE_CHECKING:  # pragma: no cover
    from ._session import Session

__all__ = ["Batch", "Step", "StepLike"]

#: A step given as data: ``(op, request)`` or ``{"op", "request"}``.
StepLike = Union[Tuple[str, Mapping[str, Any]], Mapping[str, Any]]

# "request.steps[i] (op): ..." for a step that failed, "request.steps[i].op
# "op": ..." for an operation that cannot be a step.
_STEP = re.compile(r'^request\.steps\[(\d+)\](?: \(([^)]*)\)|\.op "([^"]*)")')


class Step:
    """One write of a :class:`Batch`. Within its batch a step stands for
    the record it will return: ``b.create_deal(ada, pipeline, "Engines")``
    with ``ada = b.create_customer(...)`` sends ``{"$step": 0}`` for the
    customer, which the engine fills in with step 0's id when it gets there
    (a version likewise: ``b.move_deal(deal_step, "proposal")``). Its
    :attr:`result` is there once the batch has committed; then a step can
    be used wherever a record can: ``step["id"]``, ``session.deal(step)``,
    ``session.win_deal(step)``.
    """

    def __init__(self, batch: "Batch", index: int, op: str, request: Dict[str, Any]) -> None:
        self.batch = batch
        #: The step's position in the batch (0-based).
        self.index = index
        #: The operation, such as ``"deal.create"``.
        self.op = op
        #: The request sent for it.
        self.request = request
        self._result: Any = None
        self._done = False

    @property
    def done(self) -> bool:
        """Whether the batch committed (and :attr:`result` is set)."""
        return self._done

    @property
    def result(self) -> Any:
        """What the step's operation returned. ``RuntimeError`` before the
        batch has committed."""
        if not self._done:
            raise RuntimeError(
                f"batch step {self.index} ({self.op}) has not run yet: its result is known "
                "once the batch commits (at the end of the `with` block or batch.commit()); "
                "within the batch, pass the step itself where a record is expected")
        return self._result

    def _crm_step_pending(self) -> bool:
        return not self._done

    def _crm_step_result(self) -> Any:
        return self._result

    def __getitem__(self, key: str) -> Any:
        return self.result[key]

    def __repr__(self) -> str:
        state = "done" if self._done else "pending"
        return f"<crm_core.Step {self.index} {self.op} {state}>"


class Batch(Writes[Step]):
    """Writes collected and run as one transaction: all or nothing.

    ::

        with session.batch() as b:
            ada = b.create_customer("person", "Ada", at=then)
            b.update_customer(acme, {"lifecycle": "customer"})
        print(ada.result["id"])

    Every write method of a session that may run in a batch is here (each
    returns a :class:`Step`), plus :meth:`add` for any batchable operation
    by name. Leaving the ``with`` block normally commits; leaving it with
    an exception sends nothing. If a step fails, nothing of the batch is
    written and the error (the failing step's own class, such as
    :class:`~crm_core.ValidationError`) carries ``step`` (its index) and
    ``step_op``. ``at=`` on the batch dates every step that has no ``at``
    of its own. A batch is filled by one thread (the session and the engine
    may be shared; other threads' calls run before or after the batch's
    transaction, never inside it).
    """

    def __init__(self, session: "Session", at: Optional[_dt.datetime] = None) -> None:
        self.session = session
        self.at = at
        if at is not None:
            time_text(at, "at")
        self.steps: List[Step] = []
        self._state = "open"

    def _write(self, op: str, request: Dict[str, Any], at: Optional[_dt.datetime]) -> Step:
        return self.add(op, request, at=at)

    def add(self, op: str, request: Optional[Mapping[str, Any]] = None, *,
            at: Optional[_dt.datetime] = None) -> Step:
        """Adds a step running ``op`` (a batchable operation) with ``request``."""
        if self._state != "open":
            raise RuntimeError(f"crm_core: this batch is {self._state}; start a new one")
        body = fill_step_refs(dict(request or {}), self)
        when = at if at is not None else self.session._default_at
        if when is not None:
            body["at"] = time_text(when, "at")
        step = Step(self, len(self.steps), op, body)
        self.steps.append(step)
        return step

    def commit(self) -> List[Any]:
        """Runs the steps in one transaction and returns their results (also
        on each :class:`Step`). A batch commits once."""
        if self._state != "open":
            raise RuntimeError(f"crm_core: this batch is {self._state}; start a new one")
        self._state = "committing"
        request: Dict[str, Any] = {
            "steps": [{"op": s.op, "request": s.request} for s in self.steps]}
        if self.at is not None:
            request["at"] = time_text(self.at, "at")
        try:
            results = self.session.call("batch", request)["results"]
        except CrmError as e:
            self._state = "failed"
            _name_step(e, self.steps)
            raise
        self._state = "committed"
        for step, result in zip(self.steps, results):
            step._result = result
            step._done = True
        return list(results)

    @property
    def results(self) -> List[Any]:
        """Each step's result, once committed."""
        return [s.result for s in self.steps]

    def __len__(self) -> int:
        return len(self.steps)

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self._state = "abandoned"
            return
        self.commit()


def _name_step(e: CrmError, steps: Sequence[Step]) -> None:
    match = _STEP.match(e.message or "")
    if match is None:
        return
    index = int(match.group(1))
    e.step = index
    e.step_op = match.group(2) if match.group(2) is not None else match.group(3)
    if 0 <= index < len(steps):
        e.batch_step = steps[index]


def steps_from(items: Sequence[StepLike]) -> List[Tuple[str, Dict[str, Any]]]:
    """``(op, request)`` pairs from tuples or ``{"op", "request"}`` dicts."""
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Mapping):
            op, req = item.get("op"), item.get("request") or {}
        elif isinstance(item, (tuple, list)) and len(item) in (1, 2):
            op, req = item[0], (item[1] if len(item) == 2 else {})
        else:
            raise TypeError(f"batch step {i}: give (op, request) or {{'op', 'request'}}, "
                            f"got {item!r}")
        if not isinstance(op, str):
            raise TypeError(f"batch step {i}: the operation {op!r} is not a string")
        out.append((op, dict(req)))
    return out
