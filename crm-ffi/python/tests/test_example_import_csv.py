"""examples/import_csv.rs from Python, on the same files: a dry run with
its problems and duplicates, the import (bad rows skipped), deals with
their history, a duplicate search, merging what it found, and an export."""

import csv
import io
from decimal import Decimal

import crm_core
from crm_core import Money

from conftest import DATA, utc

CUSTOMER_COLUMNS = {"kind": "Type", "organisation": "Company", "lifecycle": "Status",
                    "created_at": "Customer since"}
DEAL_COLUMNS = {"title": "Deal", "expected_close_date": "Close by", "created_at": "Opened",
                "won_at": "Won on", "lost_at": "Lost on", "lost_reason": "Why lost"}


def test_the_import_csv_example_from_python(system):
    system.create_pipeline("Sales", crm_core.sales_template(), allow_reopen=True)

    # 1. A dry run: the full report, duplicates included, nothing written.
    dry = system.import_csv("customer", path=DATA / "customers.csv", dry_run=True,
                            columns=CUSTOMER_COLUMNS, duplicates=True)
    assert (dry["rows"], dry["valid_rows"], dry["written"]) == (11, 7, False)
    assert [(p["row"], p["column"], p["value"]) for p in dry["problems"]] == [
        (4, "E-Mail", "hank@globex"),
        (6, "Status", "client"),
        (9, "Company", "Initech"),
        (10, "Customer since", "04/01/2023"),
    ]
    assert [(d["row"], d["other_row"], d["matches"][0]["rule"]) for d in dry["duplicates"]] == [
        (1, 5, "name"), (2, 11, "email"), (7, 8, "name")]
    assert system.count_customers() == 0

    # 2. Import what is valid; the bad rows stay out and are reported.
    customers = system.import_csv("customer", path=DATA / "customers.csv", skip_invalid=True,
                                  columns=CUSTOMER_COLUMNS)
    assert (customers["rows"], customers["valid_rows"], len(customers["problems"])) == (11, 7, 4)
    assert system.count_customers() == 7
    acme = next(c for c in system.all_customers() if c["name"] == "ACME Robotics GmbH")
    assert acme["created_at"] == utc(2021, 3, 1)
    assert (acme["lifecycle"], acme["tags"]) == ("customer", ["manufacturing", "vip"])

    # 3. Deals, with their stage, amount and historical dates (as text this time).
    deals = system.import_csv("deal", (DATA / "deals.csv").read_text(), skip_invalid=True,
                              columns=DEAL_COLUMNS)
    assert (deals["rows"], deals["valid_rows"]) == (7, 4)
    assert [(p["row"], p["column"], p["value"]) for p in deals["problems"]] == [
        (5, "Currency", "EURO"), (6, "", ""), (7, "Won on", "")]
    table = {d["title"]: d for d in system.all_deals()}
    assert sorted(table) == ["12 welding robots", "Fleet tracking", "Robot arms",
                             "Service contract"]
    robots = table["12 welding robots"]
    assert (robots["stage"], robots["amount"]) == ("won", Money(Decimal("480000.00"), "EUR"))
    assert (robots["created_at"], robots["won_at"]) == (utc(2021, 4, 1), utc(2021, 9, 15))
    fleet = table["Fleet tracking"]
    assert (fleet["amount"], fleet["lost_at"], fleet["lost_reason"]) == (
        Money("90000", "USD"), utc(2022, 10, 12), "Chose a cheaper vendor")

    # 4. Duplicates across the store, each pair merged into the customer created first.
    names = {c["id"]: c["name"] for c in system.all_customers()}
    found = system.duplicates()["candidates"]
    assert [(names[p["a"]], names[p["b"]]) for p in found] == [
        ("ACME Robotics GmbH", "Acme Robotics"), ("Ada Byron", "Byron, Ada"),
        ("Jürgen Müller", "Jurgen Mueller")]
    for pair in found:
        a, b = system.customer(pair["a"]), system.customer(pair["b"])
        kept = system.merge_customers(a, b)
        assert kept["id"] == a["id"] and kept["version"] == a["version"] + 1
    acme = system.customer(acme)
    assert sorted(acme["emails"]) == ["info@acme-robotics.example",
                                      "sales@acme-robotics.example"]
    # The deals of the merged "Acme Robotics" now belong to the survivor.
    by_customer = {d["title"]: names[d["customer"]] for d in system.all_deals()}
    assert by_customer["Robot arms"] == "ACME Robotics GmbH"
    assert system.count_customers() == 4

    # 5. Export what is left, ready for a spreadsheet.
    text = system.export_csv("customer")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["name"] for r in rows) == ["ACME Robotics GmbH", "Ada Byron", "Globex Ltd",
                                               "Jürgen Müller"]
