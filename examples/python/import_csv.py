#!/usr/bin/env python3
"""Importing messy spreadsheets from Python, as examples/import_csv.rs does
it in Rust: a dry run with its problems and the duplicates it sees, the
import itself (bad rows skipped and reported), deals with their history, a
duplicate search, merging what it found, and an export.

    pip install ./crm-ffi/python
    python3 examples/python/import_csv.py

The sample files are examples/data/customers.csv and deals.csv.
"""

import csv
import io
import sys
from pathlib import Path

import crm_core

DATA = Path(__file__).resolve().parents[1] / "data"


def print_report(report) -> None:
    print(f"   {report['rows']} rows, {report['valid_rows']} valid"
          f"{'' if report['written'] else ', nothing written'}")
    for p in report["problems"]:
        print(f"   row {p['row']} (line {p['line']}), {p['column'] or '-'} "
              f"{p['value']!r}: {p['reason']}")
    for d in report.get("duplicates", []):
        why = "; ".join(f"{m['rule']} {m['evidence']}" for m in d["matches"])
        other = d["other_row"] if d["other_row"] is not None else d["customer"]
        print(f"   row {d['row']} looks like {other}: {why}")


def print_deals(s) -> None:
    names = {c["id"]: c["name"] for c in s.all_customers()}
    print(f"\n   {'deal':<18} {'customer':<20} {'stage':<12} {'amount':>14}  opened      closed")
    for d in s.all_deals():
        closed = d["won_at"] or d["lost_at"]
        print(f"   {d['title']:<18} {names.get(d['customer'], '?'):<20} {d['stage']:<12} "
              f"{str(d['amount'] or ''):>14}  {d['created_at'].date()}  "
              f"{closed.date() if closed else ''}")


def main() -> int:
    with crm_core.open(":memory:") as crm:
        # An import job acts as the system, explicitly.
        s = crm.as_system()
        s.create_pipeline("Sales", crm_core.sales_template(), allow_reopen=True)
        # The file's headers are not ours: map them.
        columns = {"kind": "Type", "organisation": "Company", "lifecycle": "Status",
                   "created_at": "Customer since"}

        print("1. Dry run of customers.csv\n")
        print_report(s.import_csv("customer", path=DATA / "customers.csv", dry_run=True,
                                  columns=columns, duplicates=True))

        imported = s.import_csv("customer", path=DATA / "customers.csv", skip_invalid=True,
                                columns=columns)
        print(f"\n2. Imported {imported['valid_rows']} of {imported['rows']} customers (the "
              f"{len(imported['problems'])} rows above with problems were skipped)")

        print("\n3. Import of deals.csv\n")
        print_report(s.import_csv("deal", path=DATA / "deals.csv", skip_invalid=True, columns={
            "title": "Deal", "expected_close_date": "Close by", "created_at": "Opened",
            "won_at": "Won on", "lost_at": "Lost on", "lost_reason": "Why lost"}))
        print_deals(s)

        # 4. Duplicates across the whole store, each pair merged into the
        #    customer that was created first.
        names = {c["id"]: c["name"] for c in s.all_customers()}
        found = s.duplicates()["candidates"]
        print(f"\n4. Duplicates found: {len(found)}")
        for pair in found:
            why = "; ".join(f"{m['rule']} {m['evidence']} ({m['score']:.2f})"
                            for m in pair["matches"])
            print(f"   {names[pair['a']]:<20} ~ {names[pair['b']]:<20} {why}")
        for pair in found:
            a, b = s.customer(pair["a"]), s.customer(pair["b"])
            kept = s.merge_customers(a, b)
            print(f"   merged '{b['name']}' into '{kept['name']}': now {len(kept['emails'])} "
                  f"e-mail(s), tags [{', '.join(kept['tags'])}]")
        print_deals(s)

        # 5. Export what is left, ready for a spreadsheet.
        text = s.export_csv("customer")
        rows = list(csv.reader(io.StringIO(text)))
        print(f"\n5. Export: {len(rows) - 1} customers (merged ones are not listed)\n")
        for row in rows:
            print("   " + ",".join(row[1:8]))  # without the long id columns
    return 0


if __name__ == "__main__":
    sys.exit(main())
