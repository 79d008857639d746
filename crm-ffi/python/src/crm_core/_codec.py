"""JSON in and out of the engine: money as :class:`Money` (a
``decimal.Decimal`` amount), times as timezone-aware ``datetime``."""

from __future__ import annotations

import datetime as _dt
import json
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, Union

__all__ = ["Money", "encode", "decode", "time_text", "custom_values", "decimals"]

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

    def to_json(self) -> Dict[str, str]:
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


_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _date(text: str) -> Any:
    m = _DATE.match(text)
    if m is None:
        return text
    try:
        return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return text


def _value(v: Any) -> Any:
    if isinstance(v, str):
        if len(v) >= 20 and v[4] == "-" and v[10] == "T":
            return _time(v)
        if len(v) == 10 and v[4] == "-":
            return _date(v)
        return v
    if isinstance(v, list):
        return [_value(x) for x in v]
    return v


_CUSTOM_TYPES = ("text", "integer", "decimal", "money", "date", "bool")


def custom_values(values: Any) -> Any:
    """Custom field values as the engine takes them (``{"type", "value"}``):
    ``str`` is text, ``bool`` bool, ``int`` integer, ``Decimal`` decimal,
    :class:`Money` money, ``date`` date. A value already in the tagged
    form passes as it is; ``float`` and ``datetime`` are refused."""
    if values is None:
        return None
    out = {}
    for key, v in dict(values).items():
        if isinstance(v, dict) and set(v) == {"type", "value"}:
            tagged = v
        elif isinstance(v, bool):
            tagged = {"type": "bool", "value": v}
        elif isinstance(v, int):
            tagged = {"type": "integer", "value": v}
        elif isinstance(v, Decimal):
            tagged = {"type": "decimal", "value": str(v)}
        elif isinstance(v, Money):
            tagged = {"type": "money", "value": v.to_json()}
        elif isinstance(v, _dt.datetime):
            raise TypeError(f"custom.{key} {v!r}: custom fields hold dates, not datetimes")
        elif isinstance(v, _dt.date):
            tagged = {"type": "date", "value": v.isoformat()}
        elif isinstance(v, str):
            tagged = {"type": "text", "value": v}
        elif isinstance(v, float):
            raise TypeError(f"custom.{key} {v!r} is a float: give a Decimal or an int")
        else:
            raise TypeError(f"custom.{key} {v!r}: not a custom field value")
        out[key] = tagged
    return out


def _plain_custom(values: Any) -> Any:
    if not isinstance(values, dict):
        return values
    out = {}
    for key, v in values.items():
        if isinstance(v, dict) and set(v) == {"type", "value"} and v["type"] in _CUSTOM_TYPES:
            kind, value = v["type"], v["value"]
            if kind == "decimal" and isinstance(value, str):
                value = Decimal(value)
            out[key] = value
        else:
            out[key] = v
    return out


def _hook(obj: Dict[str, Any]) -> Any:
    if len(obj) == 2 and isinstance(obj.get("amount"), str) and isinstance(obj.get("currency"), str):
        try:
            return Money(Decimal(obj["amount"]), obj["currency"])
        except (ValueError, ArithmeticError):
            return obj
    out = {k: _value(v) for k, v in obj.items()}
    if "custom" in out:
        out["custom"] = _plain_custom(out["custom"])
    return out


_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
#: Keys whose values are names or other text even in a numeric report.
_TEXT_KEYS = frozenset({"name", "title", "key", "stage", "reason", "subject", "segment",
                        "class", "currency", "id", "customer", "deal", "owner", "label"})


def decimals(value: Any, key: str = "") -> Any:
    """A numeric response (KPIs, RFM, ABC, predictions) with its decimal
    strings (``"1250.50"``) as ``Decimal``; text under name-like keys
    stays text."""
    if isinstance(value, str):
        if key not in _TEXT_KEYS and _DECIMAL.match(value):
            return Decimal(value)
        return value
    if isinstance(value, dict):
        return {k: decimals(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [decimals(v, key) for v in value]
    return value


def decode(text: str) -> Any:
    """A response: money objects become :class:`Money`, RFC 3339 times
    aware datetimes, ``YYYY-MM-DD`` values dates; other values (and every
    object key) stay as JSON gives them."""
    return _value(json.loads(text, object_hook=_hook))
