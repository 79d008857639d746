#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/seeds/<target>/.

Run from the workspace root after `cargo build -p crm-ffi`:

    python3 fuzz/make_seeds.py [target/debug/libcrm_ffi.so]

The seeds come from the repo's own examples and tests: segment expressions
from examples/segments.rs, the README and the segment tests; the example
CSV files (shortened); a backup of a small store built through the C ABI;
and C ABI requests shaped like those of crm-ffi's tests. Each file is a
few hundred bytes at most, so the whole corpus stays a few KB per target.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "crm-ffi", "tests", "python"))
import smoke  # noqa: E402  (the ctypes binding the Python smoke test uses)

SEEDS = os.path.join(HERE, "seeds")

EXPRESSIONS = [
    "tag:vip",
    "kind = person or tag:a and tag:b",
    "lifecycle in (lead, prospect)",
    "lifecycle != customer",
    "open_deals > 0 or won_amount(EUR) > 0",
    "won_amount(EUR, 730d) > 10000 and rfm_segment(EUR, 365d) in (at_risk, cannot_lose, hibernating)",
    "rfm_r(EUR) = 3 and rfm_f(EUR) = 3 and rfm_m(EUR) = 3",
    "roles contains supplier and created within 28d and updated >= 2025-02-01",
    "email exists or phone exists",
    "name contains \"lov\"",
    "days_since_last_activity > 60",
    "last_won within 15d",
    "owner exists and not (tags in (berlin, nothing))",
    "created < 2025-06-01",
]

CUSTOMERS_CSV = """Name,Type,Company,E-Mail,Phone,Tags,Status,Customer since
ACME Robotics GmbH,organisation,,info@acme-robotics.example,+49 30 1234567,manufacturing;VIP,customer,2021-03-01
Ada Byron,person,ACME Robotics GmbH,ADA.BYRON@acme-robotics.example,+49 30 1234568,,customer,2021-03-02
Globex Ltd,organisation,,hello@globex.example,,,prospect,
"""

DEALS_CSV = """Deal,Customer,Stage,Amount,Currency,Close by,Opened,Won on,Lost on,Why lost
12 welding robots,info@acme-robotics.example,won,480000.00,EUR,2021-09-30,2021-04-01,2021-09-15,,
Robot arms,info@acme-robotics.example,proposal,18500,EUR,2024-05-31,2024-01-15,,,
Fleet tracking,ACME Robotics GmbH,lost,90000,USD,,2022-07-01,,2022-10-12,Chose a cheaper vendor
"""

ACTIVITIES_CSV = """kind,subject,customer,direction,occurred_at,due_at,completed_at
call,Intro call,info@acme-robotics.example,outbound,2023-05-02 09:30,,
task,Send offer,ACME Robotics GmbH,,2023-05-02,2023-05-05,2023-05-04T16:00:00Z
note,Likes robots,info@acme-robotics.example,,,,
"""

PIPELINE = {
    "name": "Sales",
    "stages": [
        {"key": "lead", "name": "Lead", "probability": 10, "kind": "open"},
        {"key": "proposal", "name": "Proposal", "probability": 50, "kind": "open",
         "guards": ["requires_amount"]},
        {"key": "won", "name": "Won", "probability": 100, "kind": "won"},
        {"key": "lost", "name": "Lost", "probability": 0, "kind": "lost"},
    ],
}

# (actor byte, operation, request): actor 0 the system, 1 the fixture's
# sales rep, 2 a user that does not exist. `$C0`, `$D0`, ... are the
# fixture's ids (fuzz/src/lib.rs).
REQUESTS = [
    (0, "customer.create", {"kind": "person", "name": "Ada Lovelace",
                            "emails": ["ada@example.org"], "tags": ["vip"]}),
    (1, "customer.update", {"id": "$C1", "version": 1, "patch": {"name": "Ada B."}}),
    (0, "customer.merge", {"survivor": "$C0", "survivor_version": 1,
                           "merged": "$C1", "merged_version": 1}),
    (0, "customer.list", {"filter": {"tags": ["vip"]}}),
    (0, "deal.create", {"customer": "$C0", "pipeline": "$P0", "title": "Arms",
                        "amount": {"amount": "1250.50", "currency": "EUR"}}),
    (0, "deal.update", {"id": "$D0", "version": 2, "patch": {"amount": None}}),
    (1, "deal.move", {"id": "$D0", "version": 2, "stage": "negotiation"}),
    (0, "deal.win", {"id": "$D0", "version": 2}),
    (0, "deal.lose", {"id": "$D0", "version": 2, "reason": "price"}),
    (0, "activity.log", {"kind": "call", "subject": "Intro", "customer": "$C0",
                         "direction": "outbound"}),
    (0, "activity.complete", {"id": "$A0", "version": 1}),
    (0, "segment.create", {"name": "Busy", "expression": "open_deals > 0"}),
    (0, "segment.update", {"id": "$S0", "version": 1, "name": "VIP"}),
    (0, "segment.delete", {"id": "$S0", "version": 1}),
    (0, "pipeline.create", PIPELINE),
    (0, "team.add_member", {"team": "$T0", "user": "$U0"}),
    (0, "user.deactivate", {"id": "$U0", "version": 1}),
    (0, "rule.create", {"name": "Churn new leads",
                        "trigger": {"record_created": {"entity": "customer"}},
                        "actions": [{"set_lifecycle": {"to": "churned"}}]}),
    (0, "automation.run_due", {}),
    (0, "custom_fields.set", {"entity": "deal", "version": 0,
                              "fields": [{"key": "margin", "type": "money"}]}),
    (0, "batch", {"steps": [
        {"op": "customer.create", "request": {"kind": "person", "name": "B"}},
        {"op": "deal.create", "request": {"customer": "$C2", "pipeline": "$P0",
                                          "title": "B"}}]}),
    (2, "kpi.report", {}),
    (1, "store.verify", {}),
]


def write(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def backup_seed(lib):
    """A small store with a little of everything, backed up."""
    crm = smoke.Crm(lib)
    try:
        team = crm.call("team.create", {"name": "North"})
        rep = crm.call("user.create", {"name": "Maria", "email": "maria@example.com",
                                       "roles": ["sales_rep"]})
        rep = crm.call("team.add_member", {"team": team["id"], "user": rep["id"]})
        p = crm.call("pipeline.create", PIPELINE)
        acme = crm.call("customer.create", {"kind": "organisation", "name": "ACME"})
        ada = crm.call("customer.create", {"kind": "person", "name": "Ada",
                                           "organisation": acme["id"]})
        dup = crm.call("customer.create", {"kind": "person", "name": "Ada B"})
        crm.call("customer.merge", {"survivor": ada["id"], "survivor_version": 1,
                                    "merged": dup["id"], "merged_version": 1})
        d = crm.call("deal.create", {"customer": acme["id"], "pipeline": p["id"],
                                     "title": "Arms", "owner": rep["id"],
                                     "amount": {"amount": "100", "currency": "EUR"}})
        d = crm.call("deal.move", {"id": d["id"], "version": d["version"],
                                   "stage": "proposal"})
        crm.call("deal.win", {"id": d["id"], "version": d["version"]})
        crm.call("activity.log", {"kind": "note", "subject": "Likes robots",
                                  "customer": ada["id"]})
        crm.call("segment.create", {"name": "VIPs", "expression": "tag:vip"})
        return crm.call("backup.create", {})["backup"]
    finally:
        crm.close()


def segment_json(lib):
    crm = smoke.Crm(lib)
    try:
        return [json.dumps(crm.call("segment.create", {"name": f"s{i}", "expression": e})
                           ["expression"])
                for i, e in enumerate(EXPRESSIONS)]
    finally:
        crm.close()


def main():
    lib = smoke.load(sys.argv[1] if len(sys.argv) > 1 else
                     os.path.join(ROOT, "target", "debug", "libcrm_ffi.so"))
    for i, e in enumerate(EXPRESSIONS):
        write("segment_text", f"{i:02}.txt", e)
    for i, j in enumerate(segment_json(lib)):
        write("segment_json", f"{i:02}.json", j)
    # First byte: entity (0 customers, 1 deals, 2 activities; +0x80 for
    # the example files' own headers); second: policy (0 all or nothing,
    # 1 skip invalid, 2 dry run).
    write("csv_import", "customers_example.csv", bytes([0x80, 1]) + CUSTOMERS_CSV.encode())
    write("csv_import", "deals_example.csv", bytes([0x81, 0]) + DEALS_CSV.encode())
    write("csv_import", "activities.csv", bytes([2, 1]) + ACTIVITIES_CSV.encode())
    write("csv_import", "customers_dry.csv",
          bytes([0, 2]) + b"name,kind,emails,tags\nBea,person,bea@example.org,vip\n")
    write("restore", "small.jsonl", backup_seed(lib))
    for i, (actor, op, request) in enumerate(REQUESTS):
        body = f"{op}\n{json.dumps(request)}".encode()
        write("ffi_dispatch", f"{i:02}_{op}", bytes([actor]) + body)
    # An actor given in the input (actor byte 3).
    write("ffi_dispatch", "custom_actor", bytes([3]) +
          b'deal.list\n{"type":"user","id":"$U0"}\n{"filter":{}}')


if __name__ == "__main__":
    main()
