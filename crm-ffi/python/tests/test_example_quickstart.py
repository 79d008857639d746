"""examples/quickstart.rs from Python: a pipeline, customers, deals moved
through their stages (and the moves the engine refuses), a win and a loss,
activities, each deal's history and the audit log, dated with ``at=`` as
the Rust example dates them with its manual clock."""

import datetime as dt
from decimal import Decimal

import pytest

import crm_core
from crm_core import Money

from conftest import utc

START = utc(2025, 3, 3, 9)


def day(n: int) -> dt.datetime:
    return START + dt.timedelta(days=n)


def test_the_quickstart_example_from_python(tmp_path):
    db = tmp_path / "crm-quickstart.db"
    with crm_core.open(db) as crm:
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
        assert [(s["key"], s["probability"]) for s in pipeline["stages"]] == [
            ("lead", 10), ("qualified", 30), ("proposal", 60), ("negotiation", 80),
            ("won", 100), ("lost", 0)]

        # 2. Customers: an organisation, a person working there, and a lead.
        acme = rep.create_customer("organisation", "ACME Robotics GmbH", tags=["Manufacturing"],
                                   owner=maria)
        ada = rep.create_customer("person", "Ada Byron", organisation=acme,
                                  emails=["  Ada.Byron@ACME-robotics.example "],
                                  phones=["0049 (30) 1234-5678"])
        globex = rep.create_customer("organisation", "Globex Ltd", lifecycle="prospect")
        assert ada["organisation"] == acme["id"]
        assert ada["emails"] == ["ada.byron@acme-robotics.example"]
        assert ada["phones"] == ["+493012345678"]
        assert acme["tags"] == ["manufacturing"] and acme["owner"] == maria["id"]
        assert (globex["lifecycle"], ada["lifecycle"]) == ("prospect", "lead")

        # Bad input gets a typed error that names the field and the reason.
        with pytest.raises(crm_core.ValidationError) as bad:
            rep.create_customer("person", "Bob", emails=["bob@example"])
        assert "bob@example" in bad.value.message

        # 3. Deals start in the first open stage.
        robots = rep.create_deal(acme, pipeline, "12 welding robots", owner=maria)
        support = rep.create_deal(globex, pipeline, "Support contract", owner=maria)
        assert (robots["stage"], robots["status"]) == ("lead", "open")

        # 4. Move them. The pipeline refuses what its rules forbid.
        robots = rep.move_deal(robots, "qualified", at=day(2))
        rep.log_activity("call", "Discovery call with Ada", deal=robots, direction="outbound",
                         owner=maria, at=day(2))
        with pytest.raises(crm_core.GuardFailedError) as guard:
            rep.move_deal(robots, "proposal", at=day(3))
        assert "proposal" in guard.value.message
        robots = rep.update_deal(robots, {"amount": Money(Decimal("480000.00"), "EUR"),
                                          "expected_close_date": dt.date(2025, 3, 31)},
                                 at=day(3))
        robots = rep.move_deal(robots, "proposal", at=day(3))
        follow_up = rep.log_activity("task", "Follow up on the proposal", deal=robots,
                                     owner=maria, due_at=day(8), at=day(3))

        # Someone else's stale copy is refused instead of overwriting a newer change.
        with pytest.raises(crm_core.ConflictError):
            rep.update_deal(robots, {"title": "Old title"}, version=robots["version"] - 1)

        done = rep.complete_task(follow_up, at=day(8))
        assert done["completed_at"] == day(8)
        robots = rep.move_deal(robots, "negotiation", at=day(8))
        robots = rep.win_deal(robots, at=day(15))
        acme = rep.update_customer(acme, {"lifecycle": "customer"}, at=day(15))
        assert acme["lifecycle"] == "customer"

        # Losing needs a reason in this pipeline.
        with pytest.raises(crm_core.GuardFailedError):
            rep.lose_deal(support, "", at=day(15))
        support = rep.lose_deal(support, "Chose a cheaper vendor", at=day(15))

        # A won deal cannot go back to a lead stage unless the pipeline allows reopening.
        with pytest.raises(crm_core.TransitionRefusedError):
            rep.move_deal(robots, "lead", at=day(15))

        # 5. Each deal's history, and the audit log.
        assert robots["status"] == "won" and robots["amount"] == Money("480000.00", "EUR")
        assert [(h["from"], h["to"], h["at"]) for h in robots["history"]] == [
            (None, "lead", START), ("lead", "qualified", day(2)),
            ("qualified", "proposal", day(3)), ("proposal", "negotiation", day(8)),
            ("negotiation", "won", day(15))]
        assert all(h["by"] == {"type": "user", "id": maria["id"]} for h in robots["history"])
        assert (support["status"], support["lost_reason"]) == ("lost", "Chose a cheaper vendor")
        assert [h["to"] for h in support["history"]] == ["lead", "lost"]

        events = system.all_events()
        # user, pipeline, 3 customers, 2 deals, move, call, update, move, task,
        # complete, move, win, customer update, lose.
        assert len(events) == 17
        assert [e["seq"] for e in events] == list(range(1, 18))
        assert events[-1]["at"] == day(15) and events[0]["at"] == START
        change = next(e for e in events if e["kind"] == "updated"
                      and e["entity"]["kind"] == "deal")
        assert {c["field"]: c["new"] for c in change["changes"]}["amount"] == Money(
            "480000.00", "EUR")

    # Everything was committed as it happened: reopen the file and count.
    with crm_core.open(db) as crm:
        s = crm.as_system()
        assert (s.count_customers(), s.count_deals(), len(s.all_events())) == (3, 2, 17)
