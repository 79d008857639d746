"""External keys from Python: upserts in their three modes, lookups by key,
caller ID, and upserts inside a batch feeding later steps."""

import pytest

import crm_core
from crm_core import Money

from conftest import PIPELINE, utc


def test_upserts_lookups_and_caller_id(system):
    ada = {"kind": "person", "name": "Ada", "phones": ["+49 30 1234567"]}
    first = system.upsert_customer("shop", "C-1", ada, at=utc(2025, 1, 2))
    assert first["outcome"] == "created"
    again = system.upsert_customer("shop", "C-1", ada)
    assert again["outcome"] == "unchanged"
    assert again["record"]["version"] == first["record"]["version"] == 1
    renamed = system.upsert_customer("shop", "C-1", dict(ada, name="Ada Lovelace"))
    assert (renamed["outcome"], renamed["record"]["version"]) == ("updated", 2)
    assert system.customer_by_key("shop", "C-1")["name"] == "Ada Lovelace"
    with pytest.raises(crm_core.NotFoundError):
        system.upsert_customer("shop", "C-404", ada, mode="update_only")
    with pytest.raises(crm_core.ConflictError):
        system.upsert_customer("shop", "C-1", ada, mode="create_only")
    with pytest.raises(crm_core.ConflictError):
        system.upsert_customer("shop", "C-1", ada, expected_version=1)
    assert system.count_customers() == 1
    # Caller ID: the national form with its region finds the stored number.
    found = system.customers_by_phone("030 1234567", "DE")
    assert [c["id"] for c in found] == [first["record"]["id"]]
    assert system.customers_by_phone("+49 30 7654321") == []


def test_upserts_in_a_batch_feed_later_steps(system):
    pipeline = system.create_pipeline("Sales", PIPELINE)
    with system.batch() as b:
        bo = b.upsert_customer("shop", "C-2", {"kind": "person", "name": "Bo"})
        order = b.upsert_deal("shop", "O-7", {"customer": bo, "pipeline": pipeline,
                                              "title": "Order O-7",
                                              "amount": Money("19.90", "EUR")})
        b.move_deal(order, "proposal")
    assert order.result["outcome"] == "created"
    deal = system.deal_by_key("shop", "O-7")
    assert deal["customer"] == bo.result["record"]["id"]
    assert deal["stage"] == "proposal"
    assert system.deal(order)["id"] == deal["id"]  # a committed upsert step is its record
