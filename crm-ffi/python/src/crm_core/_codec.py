"""JSON in and out of the engine: money as :class:`Money` (a
``decimal.Decimal`` amount), times as timezone-aware ``datetime``."""

from __future__ import annotations

import datetime as _dt
import json
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Union

__all__ = ["Money", "encode", "decode", "time_text"]

AmountLike = Union[Decimal, int, str]


@dataclass(frozen=True)
class Money:
    """An amount in one currency: ``Money(Decimal("1200.00"), "EUR")``.

    The amount is a ``decimal.Decimal``; an ``int`` or a decimal string is
    converted, a ``float`` is refused with ``TypeError`` (binary floats
    cannot hold cents exactly). The currency is an ISO 4217 code.
    """

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        amount: Any = self.amount
        if isinstance(amount, bool) or isinstance(amount, float):
            raise TypeError(
                f"Money amount {amount!r}: give a decimal.Decimal, an int or a string, never a float"
            )
        if not isinstance(amount, Decimal):
            if not isinstance(amount, (int, str)):
                raise TypeError(f"Money amount {amount!r}: not a Decimal, int or str")
            try:
                amount = Decimal(amount)
            except InvalidOperation:
                raise ValueError(f"Money amount {self.amount!r}: not a decimal number") from None
            object.__setattr__(self, "amount", amount)
        if not amount.is_finite():
            raise ValueError(f"Money amount {amount!r}: must be finite")
        if not isinstance(self.currency, str):
            raise TypeError(f"Money currency {self.currency!r}: not a string")

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def to_json(self) -> dict:
        """The engine's JSON form: ``{"amount": "1200.00", "currency": "EUR"}``."""
        return {"amount": str(self.amount), "currency": self.currency}


def time_text(value: _dt.datetime, what: str = "time") -> str:
    """RFC 3339 text of an aware datetime; a naive one is refused."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(
            f"{what} {value.isoformat()}: a naive datetime has no time zone; "
            "give an aware one (e.g. datetime(..., tzinfo=timezone.utc))"
        )
    return value.isoformat()


def _default(value: Any) -> Any:
    if isinstance(value, Money):
        return value.to_json()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, _dt.datetime):
        return time_text(value)
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot send a {type(value).__name__} to the engine: {value!r}")


def encode(request: Any) -> bytes:
    """The request as UTF-8 JSON. Refuses naive datetimes (``ValueError``)
    and values JSON cannot hold (``TypeError``)."""
    return json.dumps(request, default=_default, ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$"
)


def _time(text: str) -> Any:
    m = _TIME.match(text)
    if m is None:
        return text
    year, month, day, hour, minute, second, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    if zone == "Z":
        tz = _dt.timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = _dt.timezone(sign * _dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        return _dt.datetime(int(year), int(month), int(day), int(hour), int(minute),
                            int(second), micro, tzinfo=tz)
    except ValueError:
        return text


def _value(v: Any) -> Any:
    if isinstance(v, str):
        return _time(v) if len(v) >= 20 and v[4] == "-" and v[10] == "T" else v
    if isinstance(v, list):
        return [_value(x) for x in v]
    return v


def _hook(obj: dict) -> Any:
    if len(obj) == 2 and isinstance(obj.get("amount"), str) and isinstance(obj.get("currency"), str):
        try:
            return Money(Decimal(obj["amount"]), obj["currency"])
        except (ValueError, ArithmeticError):
            return obj
    return {k: _value(v) for k, v in obj.items()}


def decode(text: str) -> Any:
    """A response: money objects become :class:`Money`, RFC 3339 times
    become aware datetimes; other values stay as JSON gives them."""
    return _value(json.loads(text, object_hook=_hook))
