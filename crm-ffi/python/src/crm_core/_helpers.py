"""Builders for the requests that have a fixed shape: the sales pipeline
template, business calendars."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

__all__ = ["sales_template", "business_calendar", "weekdays"]


def sales_template() -> List[Dict[str, Any]]:
    """The stages of crm-core's sales template (``PipelineDef::sales_template``):
    lead 10 %, qualified 25 %, proposal 50 % (needs an amount and an
    expected close date), negotiation 75 %, won, lost (needs a reason).
    Create it with ``s.create_pipeline("Sales", crm_core.sales_template(),
    allow_reopen=True)``."""
    return [
        {"key": "lead", "name": "Lead", "probability": 10, "kind": "open"},
        {"key": "qualified", "name": "Qualified", "probability": 25, "kind": "open"},
        {"key": "proposal", "name": "Proposal", "probability": 50, "kind": "open",
         "guards": ["requires_amount", "requires_expected_close_date"]},
        {"key": "negotiation", "name": "Negotiation", "probability": 75, "kind": "open"},
        {"key": "won", "name": "Won", "probability": 100, "kind": "won"},
        {"key": "lost", "name": "Lost", "probability": 0, "kind": "lost",
         "guards": ["requires_lost_reason"]},
    ]


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def weekdays(*intervals: str) -> Dict[str, List[str]]:
    """Weekly hours open Monday to Friday in the given intervals
    (``weekdays("09:00-17:00")``, or ``"09:00-12:00", "13:00-17:00"``)."""
    return {day: list(intervals) for day in _DAYS[:5]}


def business_calendar(time_zone: str,
                      hours: Union[str, Mapping[str, Sequence[str]]] = "09:00-17:00",
                      holidays: Iterable[_dt.date] = ()) -> Dict[str, Any]:
    """A BusinessCalendar for the KPI report's first-response times: an IANA
    ``time_zone``, weekly ``hours`` (one interval for Monday to Friday, or
    ``{"mon": ["09:00-17:00"], ...}``) and closed ``holidays`` (dates)."""
    weekly = weekdays(hours) if isinstance(hours, str) else {k: list(v) for k, v in hours.items()}
    cal: Dict[str, Any] = {"time_zone": time_zone, "weekly_hours": weekly}
    days: Optional[List[str]] = sorted({d.isoformat() for d in holidays}) or None
    if days:
        cal["holidays"] = days
    return cal
