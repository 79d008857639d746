"""examples/segments.rs from Python: customers, their won and open deals
and their activities recorded in batches with historical times, saved
segments with their counts, the RFM table and the ABC classes, on a small
data set whose figures are worked out by hand.

Every time is relative to a fixed "now": writes are dated with ``at=`` and
segments, RFM and ABC are read as of ``now=``, so the figures do not depend
on the day the test runs."""

import datetime as dt
from decimal import Decimal

import crm_core
from crm_core import Money

U1, U2 = "ana", "ben"  # the owners, created as users first

# name, kind, tags, owner, lifecycle, won orders as (amount, days ago),
# open deals, calls (days ago)
PEOPLE = [
    ("Anna GmbH", "organisation", ["berlin", "vip"], U1, "customer",
     [("4000.00", 10), ("3000.00", 40)], 0, [90]),
    ("Bert", "person", ["berlin", "vip"], U2, "customer", [("1500.00", 20)], 0, [5]),
    ("Cora", "person", ["hamburg"], U1, "lead", [], 1, []),
    ("Dirk", "person", ["vienna"], U2, "lead", [], 1, [30]),
    ("Emil AG", "organisation", ["berlin"], U1, "customer",
     [("1000.00", 300), ("900.00", 400)], 0, []),
    ("Fay", "person", ["munich"], U2, "customer", [("500.00", 200)], 0, []),
]


def test_the_segments_example_from_python(system):
    now = dt.datetime(2025, 6, 1, 12, tzinfo=dt.timezone.utc)

    def ago(days: float) -> dt.datetime:
        return now - dt.timedelta(days=days)

    users = {key: system.create_user(key.title(), f"{key}@example.com", roles=["sales_rep"],
                                     at=ago(800))["id"] for key in (U1, U2)}
    pipeline = system.create_pipeline("Sales", crm_core.sales_template(), allow_reopen=True,
                                      at=ago(800))
    # One transaction: the customers, their deals, the wins and the calls,
    # each step using the records made by earlier steps.
    with system.batch() as b:
        customers = [b.create_customer(kind, name, tags=tags, owner=users[owner],
                                       lifecycle=life, at=ago(700))
                     for name, kind, tags, owner, life, *_ in PEOPLE]
        deals = []
        for c, (_, _, _, _, _, orders, open_deals, _) in zip(customers, PEOPLE):
            for amount, days in orders:
                deals.append((b.create_deal(c, pipeline, "Order", Money(amount, "EUR"),
                                            at=ago(days + 5)), days))
            for _ in range(open_deals):
                b.create_deal(c, pipeline, "Expansion", Money("2000.00", "EUR"), at=ago(3))
        for deal, days in deals:
            b.win_deal(deal, at=ago(days))
        for c, (*_, calls) in zip(customers, PEOPLE):
            for days in calls:
                b.log_activity("call", "Check-in", customer=c, at=ago(days))
    assert system.count_customers() == 6 and system.count_deals() == 8
    names = {c["id"]: c["name"] for c in system.all_customers()}

    def members(expression: str):
        seg = system.create_segment(expression[:40], expression)
        result = system.evaluate_segment(seg, now=now)
        assert result["count"] == len(result["page"]["items"])
        return sorted(names[i] for i in result["page"]["items"])

    # Anna was last called 90 days ago, Bert 5; Emil is not a VIP.
    assert members("tag:vip and tag:berlin and not last_activity within 60d") == ["Anna GmbH"]
    # Cora and Dirk are leads with an open deal; only Cora is U1's.
    assert members(f"lifecycle = lead and owner = {users[U1]} and open_deals > 0") == ["Cora"]
    # Won in the last two years: Anna 7000, Bert 1500, Emil 1900, Fay 500.
    assert members("won_amount(EUR, 730d) > 1800") == ["Anna GmbH", "Emil AG"]

    # RFM over the last 365 days: Emil's order of 400 days ago is outside.
    rfm = {names[r["customer"]]: r for r in system.rfm("EUR", 365, now=now)}
    assert sorted(rfm) == ["Anna GmbH", "Bert", "Emil AG", "Fay"]
    assert {n: (r["purchases"]["count"], r["purchases"]["total"]) for n, r in rfm.items()} == {
        "Anna GmbH": (2, Decimal("7000.00")), "Bert": (1, Decimal("1500.00")),
        "Emil AG": (1, Decimal("1000.00")), "Fay": (1, Decimal("500.00"))}
    # Scores are 1 + floor(5 x below / n) with n = 4 (below: how many score
    # worse). Recency: Emil 300 days, Fay 200, Bert 20, Anna 10 -> 1, 2, 3, 4;
    # frequency: Anna's 2 against three 1s -> 4, the others 1; monetary:
    # Fay 500, Emil 1000, Bert 1500, Anna 7000 -> 1, 2, 3, 4.
    assert {n: tuple(r["score"].values()) for n, r in rfm.items()} == {
        "Anna GmbH": (4, 4, 4), "Bert": (3, 1, 3), "Emil AG": (1, 1, 2), "Fay": (2, 1, 1)}
    # The segment expression agrees with the table.
    anna = rfm["Anna GmbH"]["segment"]
    assert "Anna GmbH" in members(f"rfm_segment(EUR, 365d) = {anna}")

    # ABC over the last 365 days (10 000 EUR), by the share held by those
    # ranked before: Anna 0 % and Bert 70 % (A, below 80 %), Emil 85 % (B,
    # below 95 %), Fay 95 % (C).
    abc = {names[r["customer"]]: (r["class"], r["revenue"]) for r in system.abc("EUR", 365, now=now)}
    assert abc == {"Anna GmbH": ("A", Decimal("7000.00")), "Bert": ("A", Decimal("1500.00")),
                   "Emil AG": ("B", Decimal("1000.00")), "Fay": ("C", Decimal("500.00"))}
    strict = system.abc("EUR", 365, cutoffs={"a": "0.70", "b": "0.90"}, now=now)
    assert [names[r["customer"]] for r in strict if r["class"] == "A"] == ["Anna GmbH"]
