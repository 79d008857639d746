"""The acting session: every operation of the engine as a method."""

from __future__ import annotations

import datetime as _dt
import os
from typing import (TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Union, overload)

from ._batch import Batch, StepLike, steps_from
from ._codec import decimals, time_text
from ._writes import Record, Ref, Writes, clean, fill_step_refs, ref_id, ref_version

if TYPE_CHECKING:  # pragma: no cover
    from ._engine import Crm

__all__ = ["Session", "PathLike"]

PathLike = Union[str, "os.PathLike[str]"]
#: A KPI window: ``(from, to)``, aware datetimes, ``to`` exclusive.
Window = Tuple[_dt.datetime, _dt.datetime]


#: Operations whose decimal strings come back as ``Decimal``.
_NUMERIC = frozenset({"segment.rfm", "segment.abc", "predict.fit", "predict.score",
                      "predict.write_scores"})


def _path(path: Optional[PathLike]) -> Optional[str]:
    return None if path is None else os.fspath(path)


def kpi_filter(window: Optional[Window] = None, pipeline: Optional[Ref] = None,
               owner: Optional[Ref] = None) -> Optional[Dict[str, Any]]:
    """A KpiFilter from a window ``(from, to)``, a pipeline and an owner."""
    f: Dict[str, Any] = {}
    if window is not None:
        start, end = window
        f["from"] = time_text(start, "window start")
        f["to"] = time_text(end, "window end")
    if pipeline is not None:
        f["pipeline"] = ref_id(pipeline)
    if owner is not None:
        f["owner"] = ref_id(owner)
    return f or None


def _minutes(value: Optional[_dt.timedelta], what: str) -> Optional[int]:
    if value is None:
        return None
    if not isinstance(value, _dt.timedelta):
        raise TypeError(f"{what} {value!r}: give a datetime.timedelta")
    minutes, rest = divmod(value, _dt.timedelta(minutes=1))
    if rest:
        raise ValueError(f"{what} {value}: not a whole number of minutes")
    return int(minutes)


def _rotting(rotting: Union[None, int, Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    if rotting is None:
        return None
    if isinstance(rotting, bool):
        raise TypeError(f"rotting {rotting!r}: give days (an int) or a RottingThresholds dict")
    if isinstance(rotting, int):
        return {"default_days": rotting}
    return dict(rotting)


class Session(Writes[Record]):
    """Calls made as one actor. Get one from :meth:`Crm.as_user` or
    :meth:`Crm.as_system`.

    Records come back as dicts in the engine's JSON forms, with money as
    :class:`~crm_core.Money` and times as aware datetimes. Methods that
    change a record take the record itself (its ``id`` and ``version`` are
    used) or its id and ``version=``; every write takes ``at=`` (an aware
    datetime) to record history. A session is a small value: share it
    between threads or make one per thread, as you like.
    """

    def __init__(self, crm: "Crm", actor: Mapping[str, Any],
                 at: Optional[_dt.datetime] = None) -> None:
        self.crm = crm
        self.actor = dict(actor)
        if at is not None:
            time_text(at, "at")
        self._default_at = at

    def at(self, when: Optional[_dt.datetime]) -> "Session":
        """The same actor with every write recorded as happening at ``when``
        (an aware datetime; ``None``: now), as ``Session::at`` does in Rust.
        A write's own ``at=`` wins."""
        return Session(self.crm, self.actor, when)

    def call(self, op: str, request: Optional[Mapping[str, Any]] = None) -> Any:
        """Runs any operation (see :meth:`operations`) with a JSON-able
        request (``Money``, ``Decimal``, aware ``datetime``, ``date`` and
        ``UUID`` values are converted)."""
        if request is not None:
            request = fill_step_refs(dict(request), None)
        result = self.crm._call(self.actor, op, request)
        if op.startswith("kpi.") or op in _NUMERIC:
            result = decimals(result)
        return result

    def _write(self, op: str, request: Dict[str, Any], at: Optional[_dt.datetime]) -> Any:
        when = at if at is not None else self._default_at
        if when is not None:
            request = dict(request, at=time_text(when, "at"))
        return self.call(op, request)

    def pages(self, op: str, request: Optional[Mapping[str, Any]] = None,
              limit: int = 500) -> Iterator[Any]:
        """Every item of a paged listing (``"customer.list"``, ...),
        following the cursors."""
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

    # ----- batches -----
    @overload
    def batch(self, steps: None = None, *, at: Optional[_dt.datetime] = None) -> Batch: ...

    @overload
    def batch(self, steps: Sequence[StepLike], *,
              at: Optional[_dt.datetime] = None) -> List[Any]: ...

    def batch(self, steps: Optional[Sequence[StepLike]] = None, *,
              at: Optional[_dt.datetime] = None) -> Union[Batch, List[Any]]:
        """Writes in one transaction, all or nothing.

        Without arguments, a :class:`~crm_core.Batch` to fill in a ``with``
        block (it commits when the block ends)::

            with s.batch() as b:
                b.create_customer("person", "Ada")
                b.move_deal(deal, "qualified")

        With a list of ``(op, request)`` steps, runs them at once and
        returns each step's result. Either way a failing step raises its
        own error class with ``step`` (the index) and ``step_op`` set, and
        nothing is written. ``at`` dates the steps without their own.
        """
        if steps is None:
            return Batch(self, at)
        b = Batch(self, at)
        for op, req in steps_from(steps):
            b.add(op, req)
        return b.commit()

    # ----- customers -----
    def customer(self, id: Ref) -> Record:
        """``customer.get``."""
        return self.call("customer.get", {"id": ref_id(id)})

    def customer_by_key(self, system: str, key: str) -> Record:
        """``customer.get_by_key``: the customer your ``system`` calls
        ``key`` (NotFoundError if none)."""
        return self.call("customer.get_by_key", {"system": system, "key": key})

    def deal_by_key(self, system: str, key: str) -> Record:
        """``deal.get_by_key``."""
        return self.call("deal.get_by_key", {"system": system, "key": key})

    def activity_by_key(self, system: str, key: str) -> Record:
        """``activity.get_by_key``."""
        return self.call("activity.get_by_key", {"system": system, "key": key})

    def customers_by_phone(self, number: str,
                           default_region: Optional[str] = None) -> List[Record]:
        """``customer.find_by_phone``: caller ID. ``number`` in any common
        form; a national one (``"030 1234567"``) needs ``default_region``
        (``"DE"``)."""
        return self.call("customer.find_by_phone",
                         clean({"number": number, "default_region": default_region}))

    def organisations_by_domain(self, domain: str) -> List[Record]:
        """``customer.find_by_domain``: organisations with an address at
        ``domain`` (or an e-mail address at it), or whose people have one."""
        return self.call("customer.find_by_domain", {"domain": domain})

    def customers(self, query: Optional[Mapping[str, Any]] = None, *,
                  limit: Optional[int] = None) -> Record:
        """``customer.list``: one page (``{"items", "next"}``); see
        :meth:`all_customers` for every one."""
        return self.call("customer.list", _paged(query, limit))

    def all_customers(self, query: Optional[Mapping[str, Any]] = None) -> List[Record]:
        """Every customer the actor may read (``customer.list``, all pages)."""
        return list(self.pages("customer.list", query))

    def count_customers(self, filter: Optional[Mapping[str, Any]] = None) -> int:
        """``customer.count``: how many customers match ``filter`` (a
        CustomerFilter; default all)."""
        return int(self.call("customer.count", clean({"filter": filter}))["count"])

    def duplicates(self, **options: Any) -> Record:
        """``customer.duplicates``: pairs of customers that are probably the
        same party (``email``, ``phone``, ``name_similarity``, ``max_block``
        as keywords; defaults: all rules, names 0.92 similar)."""
        return self.call("customer.duplicates", options)

    # ----- pipelines -----
    def pipeline(self, id: Ref) -> Record:
        """``pipeline.get``."""
        return self.call("pipeline.get", {"id": ref_id(id)})

    def pipelines(self, query: Optional[Mapping[str, Any]] = None, *,
                  limit: Optional[int] = None) -> Record:
        """``pipeline.list``: one page."""
        return self.call("pipeline.list", _paged(query, limit))

    # ----- deals -----
    def deal(self, id: Ref) -> Record:
        """``deal.get``."""
        return self.call("deal.get", {"id": ref_id(id)})

    def deals(self, query: Optional[Mapping[str, Any]] = None, *,
              limit: Optional[int] = None) -> Record:
        """``deal.list``: one page; see :meth:`all_deals`."""
        return self.call("deal.list", _paged(query, limit))

    def all_deals(self, query: Optional[Mapping[str, Any]] = None) -> List[Record]:
        """Every deal the actor may read (all pages)."""
        return list(self.pages("deal.list", query))

    def count_deals(self, filter: Optional[Mapping[str, Any]] = None) -> int:
        """``deal.count``: how many deals match ``filter`` (a DealFilter)."""
        return int(self.call("deal.count", clean({"filter": filter}))["count"])

    # ----- activities -----
    def activity(self, id: Ref) -> Record:
        """``activity.get``."""
        return self.call("activity.get", {"id": ref_id(id)})

    def activities(self, query: Optional[Mapping[str, Any]] = None, *,
                   limit: Optional[int] = None) -> Record:
        """``activity.list``: one page."""
        return self.call("activity.list", _paged(query, limit))

    # ----- segments -----
    def create_segment(self, name: str, expression: Any, *,
                       at: Optional[_dt.datetime] = None) -> Record:
        """``segment.create``: the expression as text (``"lifecycle =
        lead and tag:vip"``) or its JSON tree."""
        return self._write("segment.create", {"name": name, "expression": expression}, at)

    def segment(self, id: Ref) -> Record:
        """``segment.get``."""
        return self.call("segment.get", {"id": ref_id(id)})

    def segments(self, query: Optional[Mapping[str, Any]] = None, *,
                 limit: Optional[int] = None) -> Record:
        """``segment.list``: one page."""
        return self.call("segment.list", _paged(query, limit))

    def evaluate_segment(self, segment: Optional[Ref] = None, *, expression: Any = None,
                         limit: Optional[int] = None, after: Optional[str] = None,
                         now: Optional[_dt.datetime] = None) -> Record:
        """``segment.evaluate``: the customers of a saved segment, or of an
        expression: ``{"count", "page": {"items": [ids], "next"}}``.
        ``now`` (an aware datetime) evaluates as of that time: relative
        windows count back from it (default: the engine's clock)."""
        if (segment is None) == (expression is None):
            raise TypeError("give exactly one of a segment and expression=")
        request: Dict[str, Any] = (
            {"id": ref_id(segment)} if segment is not None else {"expression": expression})
        page = clean({"limit": limit, "after": after})
        if page:
            request["page"] = page
        if now is not None:
            request["now"] = time_text(now, "now")
        return self.call("segment.evaluate", request)

    def update_segment(self, segment: Ref, *, name: Optional[str] = None,
                       expression: Any = None, version: Optional[int] = None,
                       at: Optional[_dt.datetime] = None) -> Record:
        """``segment.update``: a new name and/or expression."""
        sid, v = ref_version(segment, version)
        return self._write("segment.update", clean(
            {"id": sid, "version": v, "name": name, "expression": expression}), at)

    def delete_segment(self, segment: Ref, version: Optional[int] = None, *,
                       at: Optional[_dt.datetime] = None) -> Record:
        """``segment.delete``: ``{"id", "deleted": True}``."""
        sid, v = ref_version(segment, version)
        return self._write("segment.delete", {"id": sid, "version": v}, at)

    def rfm(self, currency: str, window_days: Optional[int] = None, *,
            now: Optional[_dt.datetime] = None) -> List[Record]:
        """``segment.rfm``: recency, frequency and monetary scores (1 to 5)
        and the RFM segment of every customer with won deals in
        ``currency`` (over the last ``window_days``, default all time), as
        of ``now`` (default: the engine's clock)."""
        return self.call("segment.rfm", clean({
            "currency": currency,
            "window": None if window_days is None else {"days": int(window_days)},
            "now": None if now is None else time_text(now, "now")}))

    def abc(self, currency: str, window_days: Optional[int] = None, *,
            cutoffs: Optional[Mapping[str, Any]] = None,
            now: Optional[_dt.datetime] = None) -> List[Record]:
        """``segment.abc``: ABC classes of customers by won revenue in
        ``currency`` (``cutoffs``: AbcCutoffs, default 80 % / 95 %), as of
        ``now`` (default: the engine's clock)."""
        return self.call("segment.abc", clean({
            "currency": currency,
            "window": None if window_days is None else {"days": int(window_days)},
            "cutoffs": None if cutoffs is None else dict(cutoffs),
            "now": None if now is None else time_text(now, "now")}))

    # ----- KPIs -----
    def kpi_report(self, *, window: Optional[Window] = None, pipeline: Optional[Ref] = None,
                   owner: Optional[Ref] = None, period: Optional[str] = None,
                   zone: Optional[str] = None, calendar: Optional[Mapping[str, Any]] = None,
                   sla: Optional[_dt.timedelta] = None,
                   rotting: Union[None, int, Mapping[str, Any]] = None,
                   clv: Optional[Mapping[str, Any]] = None,
                   now: Optional[_dt.datetime] = None) -> Record:
        """``kpi.report``: every KPI in one report.

        ``window`` (``(from, to)``), ``pipeline`` and ``owner`` scope it;
        ``period`` (``"day"``, ``"week"``, ``"month"``, ``"quarter"``,
        ``"year"``) and ``zone`` (an IANA name) shape the revenue and
        new-customer series; ``calendar`` (see
        :func:`crm_core.business_calendar`) with ``sla`` (a ``timedelta``)
        adds first-response times; ``rotting`` is days (an int) or
        ``{"default_days", "per_stage": {stage: days}}``; ``clv`` is
        ``{"period_days", "expected_lifetime_periods"}``; ``now`` is the
        time the report is for (default the engine's clock).
        """
        if sla is not None and calendar is None:
            raise TypeError("sla= needs calendar= (the business hours it is measured in)")
        response = None
        if calendar is not None:
            response = clean({"calendar": dict(calendar),
                              "sla_minutes": _minutes(sla, "sla")})
        return self.call("kpi.report", clean({
            "filter": kpi_filter(window, pipeline, owner), "period": period, "zone": zone,
            "response": response, "rotting": _rotting(rotting),
            "clv": None if clv is None else dict(clv),
            "now": None if now is None else time_text(now, "now")}))

    def kpi(self, name: str, *, window: Optional[Window] = None,
            pipeline: Optional[Ref] = None, owner: Optional[Ref] = None,
            **fields: Any) -> Any:
        """One KPI alone: ``kpi("churn", window=(start, end))``,
        ``kpi("new_customers", window=..., period="month", zone=...)``,
        ``kpi("forecast", window=...)``, ... (the ``kpi.*`` operations;
        ``pipeline`` is also the funnel's pipeline)."""
        request = clean(dict(fields))
        if name == "funnel":
            if pipeline is None:
                raise TypeError("kpi('funnel') needs pipeline=")
            request["pipeline"] = ref_id(pipeline)
            pipeline = None
        f = kpi_filter(window, pipeline, owner)
        if f is not None:
            request["filter"] = f
        if "thresholds" in request:
            request["thresholds"] = _rotting(request["thresholds"])
        return self.call(f"kpi.{name}", request)

    # ----- the audit log -----
    def events(self, query: Optional[Mapping[str, Any]] = None, *,
               limit: Optional[int] = None) -> Record:
        """``event.list``: one page of the audit log, oldest first."""
        return self.call("event.list", _paged(query, limit))

    def all_events(self, query: Optional[Mapping[str, Any]] = None) -> List[Record]:
        """The whole audit log (all pages)."""
        return list(self.pages("event.list", query))

    # ----- custom fields -----
    def custom_fields(self, entity: str) -> Record:
        """``custom_fields.get``: the custom field schema of ``"customer"``,
        ``"deal"`` or ``"activity"`` (``{"version", "fields"}``)."""
        return self.call("custom_fields.get", {"entity": entity})

    # ----- CSV and backups -----
    def import_csv(self, entity: str, csv: Optional[str] = None, *,
                   path: Optional[PathLike] = None, dry_run: bool = False,
                   skip_invalid: bool = False, columns: Optional[Mapping[str, str]] = None,
                   duplicates: Union[None, bool, Mapping[str, Any]] = None,
                   list_separator: Optional[str] = None,
                   id_map: Optional[Mapping[str, Any]] = None,
                   match_by: Optional[str] = None, unmatched: Optional[str] = None,
                   delimiter: Optional[str] = None, encoding: Optional[str] = None,
                   date_order: Optional[str] = None, decimal_mark: Optional[str] = None,
                   phone_region: Optional[str] = None, failed_rows_csv: bool = False,
                   at: Optional[_dt.datetime] = None) -> Record:
        """``customer.import``, ``deal.import`` or ``activity.import``
        (``entity`` is ``"customer"``, ``"deal"`` or ``"activity"``) from
        CSV text or a file (``path=``). Returns the import report.

        ``dry_run`` checks and writes nothing; ``skip_invalid`` writes the
        valid rows and reports the others (default: any bad row, nothing
        written); ``columns`` maps column names to the file's headers
        (``{"kind": "Type"}``); ``duplicates`` (``True`` or
        DuplicateOptions) also reports likely duplicates.

        ``match_by`` (``"id"``, or ``"email"`` for customers) matches rows
        to existing records, which they update; ``unmatched`` (``"create"``,
        ``"skip"``, ``"error"``) says what a row matching nothing does. The
        report's ``plan`` says what each row does (``create``, ``update``
        with its ``changes``, ``unchanged``, ``skip``, ``error``).
        ``delimiter`` (``"comma"``, ``"semicolon"``, ``"tab"``) and
        ``encoding`` (``"utf8"``, ``"windows1252"``, ``"utf16le"``,
        ``"utf16be"``) are detected when not given (the report's
        ``detected`` says so); ``date_order`` (``"day_month_year"``,
        ``"month_day_year"``), ``decimal_mark`` (``"comma"``) and
        ``phone_region`` (``"DE"``) read local spreadsheets;
        ``failed_rows_csv`` returns the rows with problems as a CSV.
        """
        if (csv is None) == (path is None):
            raise TypeError("give exactly one of csv text and path=")
        options: Dict[str, Any] = {}
        if dry_run:
            options["dry_run"] = True
        if skip_invalid:
            options["policy"] = "skip_invalid"
        if columns is not None:
            options["columns"] = {"headers": dict(columns)}
        if duplicates is not None and duplicates is not False:
            options["duplicates"] = {} if duplicates is True else dict(duplicates)
        if list_separator is not None:
            options["list_separator"] = list_separator
        if id_map is not None:
            options["id_map"] = dict(id_map)
        for key, value in (("match_by", match_by), ("unmatched", unmatched),
                           ("delimiter", delimiter), ("encoding", encoding),
                           ("date_order", date_order), ("decimal_mark", decimal_mark),
                           ("phone_region", phone_region)):
            if value is not None:
                options[key] = value
        if failed_rows_csv:
            options["failed_rows_csv"] = True
        return self._write(f"{entity}.import", clean({
            "csv": csv, "path": _path(path), "options": options or None}), at)

    @overload
    def export_csv(self, entity: str) -> str: ...

    @overload
    def export_csv(self, entity: str, *, path: PathLike) -> int: ...

    def export_csv(self, entity: str, *, path: Optional[PathLike] = None) -> Union[str, int]:
        """``customer.export`` (``deal.export``, ``activity.export``) of the
        records the actor may read: returns the CSV text, or writes
        ``path`` and returns the number of rows."""
        result = self.call(f"{entity}.export", clean({"path": _path(path)}))
        return result["csv"] if path is None else int(result["rows"])

    @overload
    def backup(self) -> str: ...

    @overload
    def backup(self, *, path: PathLike) -> Record: ...

    def backup(self, *, path: Optional[PathLike] = None) -> Union[str, Record]:
        """``backup.create`` (admins): the whole store as text, or written
        to ``path`` (then the counts of what it holds are returned)."""
        result = self.call("backup.create", clean({"path": _path(path)}))
        return result["backup"] if path is None else result["counts"]

    def restore(self, backup: Optional[str] = None, *, path: Optional[PathLike] = None,
                at: Optional[_dt.datetime] = None) -> Record:
        """``backup.restore`` (admins): into an empty store, from the text
        :meth:`backup` returned or from a file; returns the counts."""
        if (backup is None) == (path is None):
            raise TypeError("give exactly one of backup text and path=")
        return self._write("backup.restore", clean({"backup": backup, "path": _path(path)}), at)

    # ----- predictions -----
    def predict_fit(self, observation: Mapping[str, Any], **options: Any) -> Record:
        """``predict.fit``: BG/NBD and Gamma-Gamma parameters. See
        :func:`crm_core.observation`; ``unit`` (``"day"``, ``"week"``,
        ...), ``l2_penalty``, ``spend_l2_penalty`` as keywords."""
        return self.call("predict.fit", dict(options, observation=dict(observation)))

    def predict_score(self, observation: Mapping[str, Any], bg_nbd: Mapping[str, Any],
                      clv: Mapping[str, Any], **options: Any) -> List[Record]:
        """``predict.score``: every customer's scores under the given
        parameters (``gamma_gamma``, ``unit`` as keywords)."""
        return self.call("predict.score", dict(options, observation=dict(observation),
                                               bg_nbd=dict(bg_nbd), clv=dict(clv)))

    def write_scores(self, observation: Mapping[str, Any], clv: Mapping[str, Any], *,
                     at: Optional[_dt.datetime] = None, **options: Any) -> Record:
        """``predict.write_scores``: fits the models and writes every
        customer's scores to custom fields, in one transaction with one
        event (``unit``, ``l2_penalty``, ... as keywords)."""
        return self._write("predict.write_scores",
                           dict(options, observation=dict(observation), clv=dict(clv)), at)

    # ----- automation -----
    def rule(self, id: Ref) -> Record:
        """``rule.get``."""
        return self.call("rule.get", {"id": ref_id(id)})

    def rules(self) -> List[Record]:
        """``rule.list``: every rule."""
        return self.call("rule.list", {})

    def outbox(self, include_acknowledged: bool = False) -> List[Record]:
        """``outbox.list``: the notifications for the host to deliver, oldest
        first."""
        return self.call("outbox.list", {"include_acknowledged": include_acknowledged})

    # ----- change feed -----
    def feed(self, after: int = 0, *, limit: Optional[int] = None,
             filter: Optional[Mapping[str, Any]] = None) -> Record:
        """``feed.read`` without a consumer: the events after position
        ``after`` (``filter``: ``{"entity_kinds": [...], "event_kinds":
        [...]}``); pass the page's ``next_after`` back to read on."""
        return self.call("feed.read", clean({
            "after": int(after), "limit": limit,
            "filter": None if filter is None else dict(filter)}))

    def read_feed_consumer(self, consumer: str, limit: Optional[int] = None) -> Record:
        """``feed.read`` through a consumer: the events after its
        checkpoint. Acknowledge with :meth:`ack_feed_consumer`."""
        return self.call("feed.read", clean({"consumer": consumer, "limit": limit}))

    def ack_feed_consumer(self, consumer: str, up_to: int, *,
                          at: Optional[_dt.datetime] = None) -> Record:
        """``feed.ack``: moves the consumer's checkpoint to ``up_to`` (a
        page's ``next_after``)."""
        return self._write("feed.ack", {"consumer": consumer, "up_to": int(up_to)}, at)

    def feed_consumers(self) -> List[Record]:
        """``feed.consumers``: the consumers this actor may use."""
        return self.call("feed.consumers", {})

    def create_feed_consumer(self, name: str, *, filter: Optional[Mapping[str, Any]] = None,
                             start_after: int = 0,
                             at: Optional[_dt.datetime] = None) -> Record:
        """``feed.create_consumer``: a named, durable consumer owned by this
        actor, reading from ``start_after`` (0: the start)."""
        return self._write("feed.create_consumer", clean({
            "name": name, "start_after": int(start_after),
            "filter": None if filter is None else dict(filter)}), at)

    def delete_feed_consumer(self, name: str, *,
                             at: Optional[_dt.datetime] = None) -> Record:
        """``feed.delete_consumer``: ``{"consumer", "deleted": True}``."""
        return self._write("feed.delete_consumer", {"consumer": name}, at)

    def read_outbox(self, consumer: str, limit: Optional[int] = None) -> Record:
        """``outbox.read``: the next page of the outbox through a consumer
        created with ``filter={"entity_kinds": ["notification"],
        "event_kinds": ["created"]}``."""
        return self.call("outbox.read", clean({"consumer": consumer, "limit": limit}))

    # ----- users, teams, access -----
    def user(self, id: Ref) -> Record:
        """``user.get``."""
        return self.call("user.get", {"id": ref_id(id)})

    def users(self, query: Optional[Mapping[str, Any]] = None, *,
              limit: Optional[int] = None) -> Record:
        """``user.list``: one page."""
        return self.call("user.list", _paged(query, limit))

    def team(self, id: Ref) -> Record:
        """``team.get``."""
        return self.call("team.get", {"id": ref_id(id)})

    def teams(self, query: Optional[Mapping[str, Any]] = None, *,
              limit: Optional[int] = None) -> Record:
        """``team.list``: one page."""
        return self.call("team.list", _paged(query, limit))

    def permissions(self) -> Record:
        """``access.permissions``: what this actor may do."""
        return self.call("access.permissions", {})

    def hidden_fields(self) -> List[Any]:
        """``access.hidden_fields``: the fields this actor cannot see."""
        return self.call("access.hidden_fields", {})

    # ----- the store -----
    def verify(self) -> List[Record]:
        """``store.verify``: the consistency findings (empty: consistent)."""
        return self.call("store.verify", {})["findings"]

    def operations(self) -> List[Record]:
        """``ops.list``: every operation of the library with its shapes."""
        return self.call("ops.list", {})


def _paged(query: Optional[Mapping[str, Any]], limit: Optional[int]) -> Dict[str, Any]:
    request = dict(query or {})
    if limit is not None:
        request["page"] = dict(request.get("page") or {}, limit=int(limit))
    return request
