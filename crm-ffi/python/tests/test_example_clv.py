"""examples/clv.rs from Python, on the same CDNOW sample: 6 919 purchases
of 2 357 customers imported as won deals in batches with historical times,
the BG/NBD and Gamma-Gamma models fitted on the first 39 weeks and every
customer's scores written to custom fields in one call, then read back and
segmented. The fitted parameters are checked against the published ones
(Fader, Hardie & Lee 2005), as the Rust example prints them."""

import datetime as dt
from decimal import Decimal

import pytest

import crm_core
from crm_core import Money

from conftest import ROOT, UTC

SAMPLE = ROOT / "crm-core" / "tests" / "fixtures" / "cdnow" / "CDNOW_sample.txt"


def purchases():
    """(sample id, day, amount) per line: master id, sample id, YYYYMMDD, CDs, USD."""
    out = []
    for line in SAMPLE.read_text().splitlines():
        f = line.split()
        if f:
            out.append((int(f[1]), dt.datetime.strptime(f[2], "%Y%m%d").date(), f[4]))
    return out


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def test_the_clv_example_from_python(system):
    rows = purchases()
    assert len(rows) == 6919
    pipeline = system.create_pipeline("CD orders", crm_core.sales_template(),
                                      allow_reopen=True, at=noon(dt.date(1996, 12, 1)))
    # Customers first (dated at their first purchase), then one deal per
    # purchase, then the wins: a batch each, as a step cannot use the id an
    # earlier step of the same batch creates.
    first = {}
    for sample_id, day, _ in rows:
        first.setdefault(sample_id, day)
    with system.batch() as b:
        steps = {i: b.create_customer("person", f"CDNOW {i:04}", at=noon(d))
                 for i, d in sorted(first.items())}
    ids = {i: step["id"] for i, step in steps.items()}
    assert len(ids) == 2357
    deals = system.batch([("deal.create", {
        "customer": ids[i], "pipeline": pipeline["id"], "title": "CDs",
        "amount": Money(Decimal(amount), "USD"), "at": noon(day)}) for i, day, amount in rows])
    system.batch([("deal.win", {"id": d["id"], "version": d["version"], "at": d["created_at"]})
                  for d in deals])
    assert system.count_deals() == 6919

    # Fit on the first 39 weeks, score 12 months ahead at 1 % a month, and
    # write the scores to the customers: one transaction, one event.
    end = dt.datetime(1997, 9, 30, 23, 59, 59, tzinfo=UTC)
    observation = {"end": end, "currency": "USD"}
    year = {"horizon": 12, "discount_period": 1, "unit": "month", "discount_rate": 0.01}
    events_before = len(system.all_events())
    run = system.write_scores(observation, year, unit="week")
    assert len(system.all_events()) == events_before + 1

    fit = run["purchases"]
    model = fit["model"]
    assert fit["customers"] == 2357
    assert fit["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    for name, published in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert model[name] == pytest.approx(published, abs=0.001), name
    spend = run["spend"]
    assert spend["customers"] == 946
    assert spend["left_out"]["no_repeat_purchase"] == 1411
    for name, published in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert spend["model"][name] == pytest.approx(published, abs=0.02), name
    assert run["written"] == 2357
    fields = run["fields"]
    assert fields == {"p_alive": "p_alive", "expected_purchases": "expected_purchases_12m",
                      "expected_spend": "expected_spend", "clv": "clv_12m",
                      "horizon": "12 months"}

    # The highest 12-month CLVs, read back from the custom fields.
    customers = system.all_customers()
    ranked = sorted(customers, key=lambda c: (-c["custom"][fields["clv"]], c["id"]))
    top = [(c["name"], c["custom"][fields["clv"]]) for c in ranked[:3]]
    assert [name for name, _ in top] == ["CDNOW 0509", "CDNOW 1081", "CDNOW 1516"]
    assert isinstance(top[0][1], Decimal)
    assert top[0][1] == pytest.approx(Decimal("1175.66"), abs=Decimal("0.01"))

    # Valuable but probably gone: a win-back list.
    gone = system.evaluate_segment(expression="field.p_alive < 0.3 and field.expected_spend > 50")
    valuable = system.evaluate_segment(expression="field.expected_spend > 50")
    assert (valuable["count"], gone["count"]) == (133, 27)
