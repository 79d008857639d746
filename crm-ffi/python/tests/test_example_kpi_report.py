"""examples/kpi_report.rs from Python: a year of sales history recorded
with ``at=``, then the KPI report with its options (a window, quarters in
Europe/Berlin, rotting thresholds per stage, first responses in Berlin
business hours against a 4-hour SLA, as of 1 January 2026), churn for the
second half, the forecast for the next half and new customers per month.
The data set is small so that every figure below is worked out by hand."""

import datetime as dt
from decimal import Decimal

import crm_core
from crm_core import Money

from conftest import utc

END = utc(2026, 1, 1)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def history(s):
    alice = s.create_user("Alice", "alice@example.com", roles=["sales_rep"], at=utc(2024, 1, 1))
    bob = s.create_user("Bob", "bob@example.com", roles=["sales_rep"], at=utc(2024, 1, 1))
    p = s.create_pipeline("Sales", crm_core.sales_template(), allow_reopen=True,
                          at=utc(2024, 1, 1))
    old = s.create_customer("organisation", "Oldco", owner=bob, lifecycle="customer",
                            at=utc(2024, 6, 1))
    # Leads: Acme on a Monday at 10:00 Berlin, answered 30 minutes later;
    # Globex on a Friday at 17:00 Berlin (closed), called on Monday at 10:00;
    # Initech never answered.
    acme = s.create_customer("organisation", "Acme", owner=alice, at=utc(2025, 1, 6, 9))
    s.log_activity("email", "Thanks for your enquiry", customer=acme, owner=alice,
                   direction="outbound", at=utc(2025, 1, 6, 9, 30))
    globex = s.create_customer("organisation", "Globex", owner=bob, at=utc(2025, 1, 10, 16))
    s.log_activity("call", "Intro call", customer=globex, owner=bob, direction="outbound",
                   at=utc(2025, 1, 13, 9))
    initech = s.create_customer("organisation", "Initech", owner=alice, at=utc(2025, 2, 3, 8))
    # D1 walks the funnel and is won on 1 March (50 days); D2 is lost;
    # D3 is won straight from lead on 1 May (30 days); D4 and D5 stay open.
    d1 = s.create_deal(acme, p, "D1", eur("1000.00"), owner=alice,
                       expected_close_date=dt.date(2025, 3, 31), at=utc(2025, 1, 10))
    d1 = s.move_deal(d1, "qualified", at=utc(2025, 1, 20))
    d1 = s.move_deal(d1, "proposal", at=utc(2025, 2, 1))
    d1 = s.move_deal(d1, "negotiation", at=utc(2025, 2, 15))
    s.win_deal(d1, at=utc(2025, 3, 1))
    acme = s.update_customer(acme, {"lifecycle": "customer"}, at=utc(2025, 3, 1))
    d2 = s.create_deal(globex, p, "D2", eur("500.00"), owner=bob, at=utc(2025, 2, 1))
    s.lose_deal(d2, "price", at=utc(2025, 3, 15))
    d3 = s.create_deal(acme, p, "D3", eur("2000.00"), owner=alice, at=utc(2025, 4, 1))
    s.win_deal(d3, at=utc(2025, 5, 1))
    d4 = s.create_deal(initech, p, "D4", Money("300.00", "USD"), owner=bob,
                       expected_close_date=dt.date(2026, 2, 15), at=utc(2025, 6, 1))
    s.move_deal(d4, "qualified", at=utc(2025, 6, 10))
    d5 = s.create_deal(globex, p, "D5", eur("800.00"), owner=alice,
                       expected_close_date=dt.date(2026, 1, 20), at=utc(2025, 11, 20))
    s.move_deal(d5, "negotiation", at=utc(2025, 12, 1))
    s.update_customer(old, {"lifecycle": "churned"}, at=utc(2025, 8, 1))
    return {"alice": alice["id"], "bob": bob["id"], "acme": acme["id"],
            "d4": d4["id"], "d5": d5["id"]}


def test_the_kpi_report_example_from_python(system):
    ids = history(system)
    office = crm_core.business_calendar("Europe/Berlin", "09:00-17:00",
                                        holidays=[dt.date(2025, 1, 1)])
    r = system.kpi_report(window=(utc(2025, 1, 1), END), period="quarter",
                          zone="Europe/Berlin",
                          rotting={"default_days": 21, "per_stage": {"negotiation": 14}},
                          calendar=office, sla=dt.timedelta(hours=4), now=END)
    assert r["now"] == END

    # Win rate: 2 won, 1 lost; Alice won both, Bob lost his.
    assert r["win_rate"] == {"won": 2, "lost": 1, "rate": Decimal("0.6667")}
    by_owner = {w["owner"]: (w["value"]["won"], w["value"]["lost"], w["value"]["rate"])
                for w in r["win_rate_by_owner"]}
    assert by_owner == {ids["alice"]: (2, 0, Decimal(1)), ids["bob"]: (0, 1, Decimal(0))}
    # Close rate: 2 of the 5 deals created in 2025 are won.
    assert r["close_rate"] == {"created": 5, "won": 2, "rate": Decimal("0.40")}

    # The funnel: all 5 entered lead; D1 and D4 advanced to qualified, D1 on.
    (funnel,) = r["funnels"]
    stages = {s["stage"]: s for s in funnel["stages"]}
    assert [(k, s["entered"], s["advanced"], s["won"]) for k, s in stages.items()] == [
        ("lead", 5, 4, 2), ("qualified", 2, 1, 1), ("proposal", 1, 1, 1),
        ("negotiation", 2, 1, 1), ("won", 2, 0, 2), ("lost", 1, 0, 0)]
    # Days in lead: 10, 42, 30, 9, 11 -> mean 102 / 5 = 20.4, median 11.
    assert stages["lead"]["time_in_stage"] == {"count": 5, "mean_days": Decimal("20.40"),
                                               "median_days": Decimal(11)}

    # Deal size and sales cycle of the won deals: 1000 and 2000 EUR, 50 and 30 days.
    assert r["deal_size"]["per_currency"] == {"EUR": {
        "count": 2, "total": Decimal("3000.00"), "mean": Decimal("1500.00"),
        "median": Decimal("1500.00")}}
    assert (r["sales_cycle"]["mean_days"], r["sales_cycle"]["median_days"]) == (40, 40)
    # Velocity: 1 open EUR deal x 2/3 won x 1500 / 40 days = 25.00 a day.
    assert r["velocity"]["EUR"]["per_day"] == Decimal("25.00")
    assert r["velocity"]["USD"]["per_day"] is None
    # Revenue by quarter in Berlin, and the open pipeline.
    assert r["revenue"] == {"EUR": {"2025-01-01": Decimal("1000.00"),
                                    "2025-04-01": Decimal("2000.00")}}
    assert r["forecast"]["open_total"] == {"EUR": Decimal("800.00"), "USD": Decimal("300.00")}

    # Customers: Oldco (a customer at the start) churned; Acme bought twice.
    assert r["churn"] == {"at_start": 1, "churned": 1, "retained": 0,
                          "churn_rate": Decimal(1), "retention_rate": Decimal(0)}
    assert r["repeat_purchase"] == {"customers": 1, "repeat_customers": 1, "rate": Decimal(1)}
    (summary,) = r["purchase_summaries"]
    # One repeat purchase, 61 days after the first; 306 days observed; the
    # repeat purchase's value.
    assert (summary["customer"], summary["frequency"], summary["recency"], summary["t"],
            summary["monetary_value"]) == (ids["acme"], 1, 61, 306, Decimal("2000.00"))
    # Historical CLV: 1500 a purchase x 2 a year x 3 years.
    assert r["clv"]["average"] == {"EUR": Decimal("9000.00")}

    # Rotting: D4 idle in qualified since 10 June (205 days > 21), D5 in
    # negotiation since 1 December (31 days > 14).
    assert [(d["deal"], d["stage"], d["idle_days"], d["threshold_days"])
            for d in r["rotting"]] == [(ids["d4"], "qualified", 205, 21),
                                       (ids["d5"], "negotiation", 31, 14)]
    assert r["activities"]["by_kind"] == {"call": 1, "email": 1}

    # First responses: 30 and 60 business minutes (the Friday evening does
    # not count), 30 and 3900 wall-clock minutes; Initech breached the SLA.
    fr = r["first_response"]
    assert (fr["leads"], fr["answered"], fr["unanswered"]) == (3, 2, 1)
    assert fr["business"]["mean_minutes"] == 45 and fr["wall_clock"]["mean_minutes"] == 1965
    assert {k: fr["sla"][k] for k in ("met", "breached", "pending")} == {
        "met": 2, "breached": 1, "pending": 0}
    assert fr["sla"]["attainment"] == Decimal("0.6667")

    # The second half alone: Oldco and Acme were customers on 1 July, one churned.
    h2 = system.kpi("churn", window=(utc(2025, 7, 1), END))
    assert (h2["at_start"], h2["churned"], h2["churn_rate"]) == (2, 1, Decimal("0.50"))
    # The forecast of 2026 H1: D5 in January (75 %), D4 in February (25 %).
    forecast = system.kpi("forecast", window=(END, utc(2026, 7, 1)))
    assert forecast["weighted_total"] == {"EUR": Decimal("600.00"), "USD": Decimal("75.00")}
    assert forecast["by_month"]["USD"]["2026-02-01"]["deals"] == 1
    # New customers (first purchase) per month.
    assert system.kpi("new_customers", window=(utc(2025, 1, 1), END), period="month",
                      zone="Europe/Berlin") == {"2025-03-01": 1}
