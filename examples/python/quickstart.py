#!/usr/bin/env python3
"""Quickstart from Python: a sales pipeline from first contact to won and
lost deals, as examples/quickstart.rs does it in Rust.

Defines a pipeline, records customers and deals, moves the deals through
their stages (including moves the engine refuses, with the errors it gives),
wins one and loses one, logs activities, and prints each deal's history and
the audit log.

    pip install ./crm-ffi/python
    python3 examples/python/quickstart.py [PATH]

The CRM is kept in one SQLite file: crm-quickstart.db in the current
directory by default (recreated on every run), or PATH (which must not
already hold a CRM), or ":memory:".
"""

import datetime as dt
import os
import sys
from decimal import Decimal

import crm_core
from crm_core import Money

DEFAULT_PATH = "crm-quickstart.db"
# The story spans three weeks from this morning; every write says when it
# happened (at=), so the dates read the same on every run. Real programs
# leave at= out: the engine's clock dates the writes.
START = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.timezone.utc)


def day(n: int) -> dt.datetime:
    return START + dt.timedelta(days=n)


def main() -> int:
    if len(sys.argv) > 1:
        path = sys.argv[1]
    else:
        path = DEFAULT_PATH
        for suffix in ("", "-wal", "-shm"):  # the quickstart's own file: start afresh
            try:
                os.remove(path + suffix)
            except FileNotFoundError:
                pass
    in_memory = path == ":memory:"
    try:
        with crm_core.open(path) as crm:
            existing = crm.as_system().count_customers()
            if not in_memory and existing:
                print(f"error: {path} already holds a CRM with {existing} customers; give the "
                      f"quickstart a new path, "
                      f"or none to use {DEFAULT_PATH}", file=sys.stderr)
                return 1
            print("Store: SQLite in memory (nothing is written to disk)\n" if in_memory
                  else f"Store: SQLite file {os.path.abspath(path)}\n")
            run(crm)
        if not in_memory:
            # Everything was committed as it happened: reopen the file and count.
            with crm_core.open(path) as crm:
                s = crm.as_system()
                customers, deals = s.count_customers(), s.count_deals()
                events = len(s.all_events())
                print(f"\nReopened {os.path.abspath(path)}: {customers} customers, {deals} "
                      f"deals, {events} events. Inspect it with any SQLite tool, e.g. "
                      f"sqlite3 {path} 'SELECT * FROM deals'")
    except crm_core.CrmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def run(crm: crm_core.Crm) -> None:
    # Every call says who acts; here a sales rep, and the system for setup.
    # Maria is a stored user acting with the sales_rep role: she may change
    # the records she owns (new ones are hers) and read her team's.
    system = crm.as_system().at(START)
    maria = system.create_user("Maria Rossi", "maria@example.com", roles=["sales_rep"])
    rep = crm.as_user(maria).at(START)

    # 1. A pipeline: stages with win probabilities and entry guards.
    pipeline = system.create_pipeline("New business", [
        {"key": "lead", "name": "Lead", "probability": 10, "kind": "open"},
        {"key": "qualified", "name": "Qualified", "probability": 30, "kind": "open"},
        {"key": "proposal", "name": "Proposal sent", "probability": 60, "kind": "open",
         "guards": ["requires_amount", "requires_expected_close_date"]},
        {"key": "negotiation", "name": "Negotiation", "probability": 80, "kind": "open"},
        {"key": "won", "name": "Won", "probability": 100, "kind": "won"},
        {"key": "lost", "name": "Lost", "probability": 0, "kind": "lost",
         "guards": ["requires_lost_reason"]},
    ])
    print(f"Pipeline '{pipeline['name']}':")
    for s in pipeline["stages"]:
        print(f"  {s['key']:<12} {s['name']:<14} {s['probability']:>3} %  {s['kind']:<5} "
              f"{', '.join(s.get('guards', []))}")

    # 2. Customers: an organisation, a person working there, and a lead.
    acme = rep.create_customer("organisation", "ACME Robotics GmbH", tags=["Manufacturing"],
                               owner=maria)
    ada = rep.create_customer("person", "Ada Byron", organisation=acme,
                              emails=["  Ada.Byron@ACME-robotics.example "],
                              phones=["0049 (30) 1234-5678"])
    globex = rep.create_customer("organisation", "Globex Ltd", lifecycle="prospect")
    print("\nCustomers:")
    for c in (acme, ada, globex):
        email = c["emails"][0] if c["emails"] else ""
        phone = c["phones"][0] if c["phones"] else ""
        print(f"  {c['name']:<20} {c['kind']:<13} {c['lifecycle']:<9} {_contact(email):<32} "
              f"{_contact(phone)}")

    # Bad input gets a typed error that names the field and the reason.
    try:
        rep.create_customer("person", "Bob", emails=["bob@example"])
    except crm_core.ValidationError as e:
        print(f"\nRefused: {e.message}")

    # 3. Deals start in the first open stage.
    robots = rep.create_deal(acme, pipeline, "12 welding robots", owner=maria)
    support = rep.create_deal(globex, pipeline, "Support contract", owner=maria)

    # 4. Move them. The pipeline refuses what its rules forbid.
    robots = rep.move_deal(robots, "qualified", at=day(2))
    rep.log_activity("call", "Discovery call with Ada", deal=robots, direction="outbound",
                     owner=maria, at=day(2))
    try:
        rep.move_deal(robots, "proposal", at=day(3))
        raise SystemExit("the guard should have refused this move")
    except crm_core.GuardFailedError as e:
        print(f"Refused: {e.message}")
    robots = rep.update_deal(robots, {"amount": Money(Decimal("480000.00"), "EUR"),
                                      "expected_close_date": dt.date(2025, 3, 31)}, at=day(3))
    robots = rep.move_deal(robots, "proposal", at=day(3))
    follow_up = rep.log_activity("task", "Follow up on the proposal", deal=robots, owner=maria,
                                 due_at=day(8), at=day(3))

    # Someone else's stale copy is refused instead of overwriting a newer change.
    try:
        rep.update_deal(robots, {"title": "Old title"}, version=robots["version"] - 1)
    except crm_core.ConflictError as e:
        print(f"Refused: {e.message}")

    rep.complete_task(follow_up, at=day(8))
    robots = rep.move_deal(robots, "negotiation", at=day(8))
    robots = rep.win_deal(robots, at=day(15))
    rep.update_customer(acme, {"lifecycle": "customer"}, at=day(15))

    # Losing needs a reason in this pipeline.
    try:
        rep.lose_deal(support, "", at=day(15))
    except crm_core.GuardFailedError as e:
        print(f"Refused: {e.message}")
    support = rep.lose_deal(support, "Chose a cheaper vendor", at=day(15))

    # A won deal cannot go back to a lead stage unless the pipeline allows reopening.
    try:
        rep.move_deal(robots, "lead", at=day(15))
    except crm_core.TransitionRefusedError as e:
        print(f"Refused: {e.message}")

    # 5. Each deal's history, and the audit log.
    names = {maria["id"]: "maria"}
    for deal in (robots, support):
        amount_text = str(deal["amount"]) if deal["amount"] else "-"
        print(f"\nDeal '{deal['title']}' ({deal['status']}, {amount_text}):")
        for change in deal["history"]:
            print(f"  {_time(change['at'])}  {change['from'] or '(new)':<12} -> "
                  f"{change['to']:<12} by {_who(change['by'], names)}")
        if deal.get("lost_reason"):
            print(f"  lost because: {deal['lost_reason']}")

    print("\nAudit log:")
    for e in system.all_events():
        print(f"  #{e['seq']:<3} {_time(e['at'])}  {_who(e['actor'], names):<6} "
              f"{e['entity']['kind']:<8} {_short(e['entity']['id']):<9} v{e['version']:<2} "
              f"{e['kind']:<13} {_changes(e['changes'])}")


def _contact(value):
    return value.get("value", "") if isinstance(value, dict) else str(value)


def _time(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


def _who(actor, names) -> str:
    if actor.get("type") == "user":
        return names.get(actor.get("id"), "user")
    return "system"


def _short(text: str) -> str:
    return "…" + text[-6:]


def _value(v) -> str:
    if isinstance(v, Money):
        return str(v)
    if isinstance(v, dt.datetime):
        return _time(v)
    if isinstance(v, str) and len(v) == 36 and v.count("-") == 4:
        return _short(v)
    return str(v)


def _changes(changes) -> str:
    parts = []
    for c in changes:
        if isinstance(c["new"], list):
            continue
        if c["old"] is None:
            parts.append(f"{c['field']}={_value(c['new'])}")
        else:
            parts.append(f"{c['field']}: {_value(c['old'])} -> {_value(c['new'])}")
    return ", ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
