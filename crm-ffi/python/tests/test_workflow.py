"""The main workflow through the Pythonic API, with hand-checked figures."""

import datetime as dt
from decimal import Decimal

import pytest

import crm_core
from crm_core import Money

from conftest import PIPELINE, utc

UTC = dt.timezone.utc


def test_customers_deals_and_their_moves(system):
    ada = system.create_customer("person", "Ada Lovelace", emails=["ada@example.org"])
    assert ada["version"] == 1
    ada = system.update_customer(ada, {"name": "Ada King"})
    assert (ada["name"], ada["version"]) == ("Ada King", 2)
    pipeline = system.create_pipeline("Sales", PIPELINE)
    assert [s["key"] for s in pipeline["stages"]] == ["lead", "proposal", "won", "lost"]
    assert system.pipeline(pipeline["id"])["name"] == "Sales"
    assert len(system.pipelines()["items"]) == 1

    deal = system.create_deal(ada, pipeline, "Engines", Money("1200.00", "EUR"))
    assert deal["stage"] == "lead"
    deal = system.move_deal(deal, "proposal")
    assert (deal["stage"], deal["version"]) == ("proposal", 2)
    lost = system.lose_deal(deal, "price")
    assert lost["stage"] == "lost" and lost["lost_reason"] == "price"
    with pytest.raises(crm_core.TransitionRefusedError):
        system.reopen_deal(lost)
    with pytest.raises(crm_core.ConflictError) as stale:
        system.win_deal(deal)  # version 2: stale
    assert stale.value.status == 7

    second = system.create_deal(ada, pipeline, "More engines")
    with pytest.raises(crm_core.GuardFailedError) as guard:
        system.move_deal(second, "proposal")
    assert "proposal" in str(guard.value)
    won = system.win_deal(second)
    assert won["stage"] == "won"
    assert [d["title"] for d in system.deals()["items"]] == ["Engines", "More engines"]

    task = system.log_activity("task", "Call back", customer=ada)
    done = system.complete_task(task)
    assert isinstance(done["completed_at"], dt.datetime)
    assert len(system.activities()["items"]) == 1

    report = system.kpi_report()
    # One won and one lost: a win rate of one half.
    assert report["win_rate"] == {"won": 1, "lost": 1, "rate": Decimal("0.50")}
    with pytest.raises(crm_core.ValidationError):
        system.kpi_report(zone="Europe/Atlantis")

    events = system.events({"page": {"limit": 100}})["items"]
    # customer create + update, pipeline, deal create/move/lose,
    # second deal create/win, task log/complete.
    assert len(events) == 10


def test_segments(system):
    ada = system.create_customer("person", "Ada")
    system.create_customer("person", "Bob", lifecycle="customer")
    seg = system.create_segment("Leads", "lifecycle = lead")
    assert system.segment(seg)["name"] == "Leads"
    result = system.evaluate_segment(seg)
    assert result["count"] == 1 and result["page"]["items"] == [ada["id"]]
    adhoc = system.evaluate_segment(expression="lifecycle = customer")
    assert adhoc["count"] == 1
    assert [s["name"] for s in system.segments()["items"]] == ["Leads"]
    with pytest.raises(crm_core.ValidationError):
        system.create_segment("Bad", "lifecycle = = lead")
    with pytest.raises(TypeError):
        system.evaluate_segment()


def test_users_and_permissions(crm):
    system = crm.as_system()
    ada = system.create_customer("person", "Ada")
    rita = system.create_user("Rita", "rita@example.com", roles=["read_only"])
    assert system.user(rita)["name"] == "Rita"
    as_rita = crm.as_user(rita)
    assert as_rita.customer(ada)["id"] == ada["id"]
    with pytest.raises(crm_core.PermissionDeniedError) as denied:
        as_rita.create_customer("person", "Bo")
    assert isinstance(denied.value, PermissionError)
    team = system.create_team("Sales")
    assert system.team(team)["name"] == "Sales"


def test_automation_rules_timers_and_the_outbox(system):
    rule = system.create_rule("Overdue", "task_overdue", [{"notify": {"text": "Task overdue"}}])
    assert rule["version"] == 1
    assert [r["name"] for r in system.rules()] == ["Overdue"]
    assert system.rule(rule)["name"] == "Overdue"
    renamed = system.update_rule(rule, {"name": "Late task", "trigger": "task_overdue",
                                        "actions": [{"notify": {"text": "Late"}}]})
    assert renamed["name"] == "Late task" and renamed["version"] == 2
    ada = system.create_customer("person", "Ada")
    system.log_activity("task", "Call back", customer=ada,
                        due_at=dt.datetime(2020, 1, 1, tzinfo=UTC))
    system.run_due(dt.datetime(2020, 1, 2, tzinfo=UTC))
    system.run_due(dt.datetime(2020, 1, 3, tzinfo=UTC))  # fires once only
    outbox = system.outbox()
    assert len(outbox) == 1
    acked = system.acknowledge(outbox[0])
    assert acked["acknowledged_at"] is not None
    assert system.outbox() == []
    assert len(system.outbox(include_acknowledged=True)) == 1


def test_automation_loop_error(system):
    system.create_rule("A", {"field_changed": {"entity": "customer", "field": "lifecycle",
                                               "to": "prospect"}},
                       [{"set_lifecycle": {"to": "lead"}}], condition="lifecycle = prospect")
    system.create_rule("B", {"field_changed": {"entity": "customer", "field": "lifecycle",
                                               "to": "lead"}},
                       [{"set_lifecycle": {"to": "prospect"}}])
    cy = system.create_customer("person", "Cy")
    with pytest.raises(crm_core.AutomationLoopError):
        system.update_customer(cy, {"lifecycle": "prospect"})
    assert system.customer(cy)["version"] == 1


def test_predictions(system):
    pipeline = system.create_pipeline("Sales", PIPELINE)
    ada = system.create_customer("person", "Ada")
    order = system.create_deal(ada, pipeline, "Order", Money("300.00", "EUR"))
    system.win_deal(order)
    obs = {"end": dt.datetime(2100, 1, 1, tzinfo=UTC), "currency": "EUR"}
    clv = {"horizon": 12, "discount_period": 1, "unit": "month", "discount_rate": 0.01}
    with pytest.raises(crm_core.ValidationError, match="repeat purchase"):
        system.predict_fit(obs, unit="week")
    cdnow = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    spend = {"p": 6.25, "q": 3.74, "v": 15.44}
    scores = system.predict_score(obs, cdnow, clv, unit="week", gamma_gamma=spend)
    assert len(scores) == 1 and scores[0]["customer"] == ada["id"]
    # Mean spend p v / (q - 1) = 6.25 * 15.44 / 2.74 = 35.22.
    assert scores[0]["expected_spend"] == Money(Decimal("35.22"), "EUR")
    with pytest.raises(crm_core.ValidationError):
        system.write_scores(obs, clv)


# ----- the operations the last session waited for -----

def test_deal_update_gives_a_deal_its_amount(system):
    pipeline = system.create_pipeline("Sales", PIPELINE)
    ada = system.create_customer("person", "Ada")
    deal = system.create_deal(ada, pipeline, "Engines")
    with pytest.raises(crm_core.GuardFailedError):
        system.move_deal(deal, "proposal")
    deal = system.update_deal(deal, {"amount": Money("480000.00", "EUR"),
                                     "expected_close_date": dt.date(2025, 3, 31)})
    assert deal["amount"] == Money(Decimal("480000.00"), "EUR")
    assert deal["expected_close_date"] == dt.date(2025, 3, 31)
    assert (deal["version"], system.move_deal(deal, "proposal")["stage"]) == (2, "proposal")
    with pytest.raises(TypeError, match="float"):
        system.update_deal(deal, {"amount": 1.5}, version=3)


def test_lose_in_names_one_of_several_lost_stages(system):
    pipeline = system.create_pipeline("Sales", PIPELINE[:3] + [
        {"key": "lost_price", "name": "Lost on price", "probability": 0, "kind": "lost"},
        {"key": "lost_silent", "name": "Went silent", "probability": 0, "kind": "lost"},
    ])
    ada = system.create_customer("person", "Ada")
    deal = system.create_deal(ada, pipeline, "Engines")
    lost = system.lose_deal(deal, "too dear", stage="lost_price")
    assert (lost["stage"], lost["status"], lost["lost_reason"]) == ("lost_price", "lost",
                                                                   "too dear")
    other = system.create_deal(ada, pipeline, "Pumps")
    with pytest.raises(crm_core.TransitionRefusedError):
        system.lose_deal(other, "no", stage="won")


def test_csv_import_and_export_as_text_and_files(system, tmp_path):
    report = system.import_csv("customer", "kind,name\nperson,Ada\norganisation,ACME\n")
    assert (report["rows"], report["valid_rows"], report["written"]) == (2, 2, True)
    assert len(report["ids"]) == 2 and report["problems"] == []
    assert system.count_customers() == 2
    csv = system.export_csv("customer")
    lines = csv.splitlines()
    assert lines[0].startswith("id,name,kind,")
    assert sorted(line.split(",")[1] for line in lines[1:]) == ["ACME", "Ada"]
    # The same through files.
    out = tmp_path / "customers.csv"
    assert system.export_csv("customer", path=out) == 2
    assert out.read_text() == csv
    src = tmp_path / "more.csv"
    src.write_text("kind,name\nperson,Bo\n")
    assert system.import_csv("customer", path=src)["valid_rows"] == 1
    assert system.count_customers() == 3
    # A dry run writes nothing; a bad row stops the whole file by default.
    dry = system.import_csv("customer", "kind,name\nperson,Cy\n", dry_run=True)
    assert (dry["dry_run"], dry["written"], system.count_customers()) == (True, False, 3)
    bad = system.import_csv("customer", "kind,name\nperson,Cy\nrobot,R2\n")
    assert bad["written"] is False and len(bad["problems"]) == 1
    assert bad["problems"][0]["row"] == 2, bad["problems"]
    assert system.count_customers() == 3
    skipped = system.import_csv("customer", "kind,name\nperson,Cy\nrobot,R2\n",
                                skip_invalid=True)
    assert (skipped["valid_rows"], system.count_customers()) == (1, 4)
    with pytest.raises(crm_core.StorageError):
        system.import_csv("customer", path=tmp_path / "missing.csv")
    with pytest.raises(TypeError):
        system.import_csv("customer")


def test_backup_and_restore_into_a_fresh_store(system, tmp_path):
    pipeline = system.create_pipeline("Sales", PIPELINE)
    ada = system.create_customer("person", "Ada")
    system.win_deal(system.create_deal(ada, pipeline, "Engines", Money("10.00", "EUR")))
    text = system.backup()
    assert text.startswith('{"header":{"format":"crm-core backup"')
    with crm_core.open() as other:
        counts = other.as_system().restore(text)
        assert counts["customers"] == 1 and counts["deals"] == 1, counts
        restored = other.as_system().deal(system.all_deals()[0])
        assert restored["stage"] == "won" and restored["amount"] == Money("10.00", "EUR")
        with pytest.raises(crm_core.CrmError):
            other.as_system().restore(text)  # only into an empty store
    file = tmp_path / "crm.backup"
    assert system.backup(path=file)["customers"] == 1
    with crm_core.open(tmp_path / "copy.db") as copy:
        copy.as_system().restore(path=file)
        assert [c["name"] for c in copy.as_system().all_customers()] == ["Ada"]


def test_segment_update_and_delete(system):
    system.create_customer("person", "Ada")
    system.create_customer("person", "Bob", lifecycle="customer")
    seg = system.create_segment("Leads", "lifecycle = lead")
    seg = system.update_segment(seg, name="Customers", expression="lifecycle = customer")
    assert (seg["name"], seg["version"]) == ("Customers", 2)
    assert system.evaluate_segment(seg)["count"] == 1
    with pytest.raises(crm_core.ConflictError):
        system.delete_segment(seg, version=1)
    assert system.delete_segment(seg) == {"id": seg["id"], "deleted": True}
    assert system.segments()["items"] == []
    with pytest.raises(crm_core.NotFoundError):
        system.segment(seg)


def test_rfm_and_abc_with_hand_computed_classes(system):
    pipeline = system.create_pipeline("Sales", PIPELINE)
    spend = {"Ada": ["800.00"], "Bob": ["150.00"], "Cy": ["30.00", "20.00"]}
    for name, amounts in spend.items():
        c = system.create_customer("person", name)
        for i, amount in enumerate(amounts):
            d = system.create_deal(c, pipeline, f"Order {i}", Money(amount, "EUR"),
                                   at=utc(2025, 1, 1 + i))
            system.win_deal(d, at=utc(2025, 1, 2 + i))
    names = {c["id"]: c["name"] for c in system.all_customers()}
    abc = {names[r["customer"]]: (r["class"], r["revenue"]) for r in system.abc("EUR")}
    # Revenue 1000, classed by the share held by those ranked before: Ada 0 %
    # (A), Bob 80 % (B: not below the 80 % cut-off), Cy 95 % (C).
    assert abc == {"Ada": ("A", Decimal("800.00")), "Bob": ("B", Decimal("150.00")),
                   "Cy": ("C", Decimal("50.00"))}
    rfm = {names[r["customer"]]: r for r in system.rfm("EUR")}
    assert rfm["Cy"]["purchases"]["count"] == 2
    assert rfm["Cy"]["purchases"]["total"] == Decimal("50.00")
    assert rfm["Ada"]["purchases"]["last"] == utc(2025, 1, 2)
    assert system.rfm("USD") == [] and system.abc("EUR", 1) == []


def test_user_and_team_admin(system):
    rita = system.create_user("Rita", "rita@example.com", roles=["read_only"])
    sam = system.create_user("Sam", "sam@example.com", roles=["sales_rep"])
    team = system.create_team("Sales")
    assert [u["name"] for u in system.users()["items"]] == ["Rita", "Sam"]
    assert [t["name"] for t in system.teams()["items"]] == ["Sales"]
    assert team["id"] in system.add_team_member(team, sam)["teams"]
    team = system.set_team_manager(team, rita)
    assert team["manager"] == rita["id"]
    assert system.set_team_manager(team, None)["manager"] is None
    assert system.remove_team_member(team, sam)["teams"] == []
    rita = system.update_user(rita, {"name": "Rita M."})
    rita = system.set_user_roles(rita, ["sales_rep"])
    assert (rita["name"], rita["roles"]) == ("Rita M.", ["sales_rep"])
    rita = system.deactivate_user(rita)
    assert rita["active"] is False
    assert system.reactivate_user(rita)["active"] is True


def test_batch_is_all_or_nothing_and_names_the_failing_step(system):
    with pytest.raises(crm_core.ValidationError) as e:
        system.batch([("customer.create", {"kind": "person", "name": "Ada"}),
                      ("customer.create", {"kind": "person", "name": ""})])
    assert (e.value.step, e.value.step_op) == (1, "customer.create")
    assert e.value.field == "name"
    assert system.count_customers() == 0
    results = system.batch([("customer.create", {"kind": "person", "name": "Ada"}),
                            {"op": "customer.create",
                             "request": {"kind": "person", "name": "Bo"}}])
    assert [r["name"] for r in results] == ["Ada", "Bo"]


def test_batch_as_a_with_block(system):
    pipeline = system.create_pipeline("Sales", PIPELINE)
    ada = system.create_customer("person", "Ada")
    deal = system.create_deal(ada, pipeline, "Engines", Money("10.00", "EUR"),
                              at=utc(2024, 4, 1))
    with system.batch(at=utc(2024, 5, 1)) as b:
        bo = b.create_customer("person", "Bo")
        moved = b.move_deal(deal, "proposal")
        won = b.win_deal(deal["id"], version=deal["version"] + 1, at=utc(2024, 5, 2))
        assert not bo.done
        with pytest.raises(RuntimeError, match="not run yet"):
            bo.result
        # A pending step stands for its record within its own batch ...
        for_bo = b.create_deal(bo, pipeline, "For Bo", Money("5.00", "EUR"))
        b.move_deal(for_bo, "proposal")  # ... its id and its version
        # ... and nowhere else until the batch commits.
        with pytest.raises(TypeError, match="cannot stand for a record yet"):
            system.deal(bo)
        with pytest.raises(TypeError, match="cannot stand for a record yet"):
            with system.batch() as other:
                other.create_deal(bo, pipeline, "Elsewhere")
    assert b.steps[3].request["customer"] == {"$step": 0, "field": "id"}
    assert b.steps[4].request["version"] == {"$step": 3, "field": "version"}
    assert for_bo["customer"] == bo["id"]
    assert system.deal(for_bo)["stage"] == "proposal"
    assert b.steps[4].result["version"] == for_bo["version"] + 1
    assert bo.done and bo["name"] == "Bo" and bo.result["created_at"] == utc(2024, 5, 1)
    assert moved["stage"] == "proposal" and won["stage"] == "won"
    assert won.result["won_at"] == utc(2024, 5, 2)
    assert system.customer(bo)["name"] == "Bo"  # a committed step stands for its record
    # A failing step: nothing written, the step named, the error typed.
    with pytest.raises(crm_core.TransitionRefusedError) as e:
        with system.batch() as b:
            b.create_customer("person", "Cy")
            b.reopen_deal(won.result, stage="proposal")  # the pipeline does not reopen
    assert e.value.step == 1 and e.value.batch_step.op == "deal.reopen"
    assert system.count_customers() == 2
    # An exception inside the block sends nothing.
    with pytest.raises(KeyError):
        with system.batch() as b:
            b.create_customer("person", "Dee")
            raise KeyError("stop")
    assert system.count_customers() == 2
    with pytest.raises(RuntimeError, match="abandoned"):
        b.create_customer("person", "Eve")
    # Operations that cannot be steps are refused, and the step named.
    with pytest.raises(crm_core.ValidationError) as refused:
        system.batch([("segment.create", {"name": "x", "expression": "lifecycle = lead"})])
    assert (refused.value.step, refused.value.step_op) == (0, "segment.create")


def test_historical_time_on_every_write(system):
    when = utc(2021, 6, 1, 12, 30)
    ada = system.create_customer("person", "Ada", at=when)
    assert ada["created_at"] == when
    later = system.at(utc(2022, 1, 1))
    ada = later.update_customer(ada, {"lifecycle": "customer"})
    assert ada["updated_at"] == utc(2022, 1, 1)
    events = system.all_events()
    assert [e["at"] for e in events] == [when, utc(2022, 1, 1)]
    # Naive datetimes are refused before anything is sent.
    with pytest.raises(ValueError, match="naive"):
        system.create_customer("person", "Bo", at=dt.datetime(2021, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        system.at(dt.datetime(2021, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        system.kpi_report(window=(dt.datetime(2021, 1, 1), utc(2022, 1, 1)))
    assert system.count_customers() == 1


def test_custom_fields_define_then_use(system):
    current = system.custom_fields("customer")
    assert (current["version"], current["fields"]) == (0, [])
    schema = system.set_custom_fields("customer", [
        {"key": "vat", "label": "VAT number", "type": "text"},
        {"key": "credit", "label": "Credit limit", "type": "decimal"},
    ], version=current["version"])
    assert schema["version"] == 1 and [f["key"] for f in schema["fields"]] == ["vat", "credit"]
    ada = system.create_customer("person", "Ada",
                                 custom={"vat": "DE123", "credit": Decimal("5000.50")})
    assert ada["custom"] == {"vat": "DE123", "credit": Decimal("5000.50")}
    ada = system.update_customer(ada, {"custom": {"vat": "DE999", "credit": Decimal("1")}})
    assert ada["custom"]["vat"] == "DE999"
    with pytest.raises(TypeError, match="float"):
        system.create_customer("person", "Bo", custom={"credit": 1.5})
    with pytest.raises(crm_core.ValidationError) as e:
        system.create_customer("person", "Bo", custom={"unknown": 1})
    assert "unknown" in str(e.value)
    with pytest.raises(crm_core.ConflictError):
        system.set_custom_fields("customer", [], version=0)


def test_merge_and_duplicates(system):
    a = system.create_customer("person", "Ada Byron", emails=["ada@example.org"], tags=["vip"])
    b = system.create_customer("person", "Ada Byron", emails=["ADA@example.org"],
                               phones=["+49 30 1234568"])
    found = system.duplicates()
    assert len(found["candidates"]) == 1
    pair = found["candidates"][0]
    assert {pair["a"], pair["b"]} == {a["id"], b["id"]}
    kept = system.merge_customers(a, b)
    assert kept["id"] == a["id"] and kept["tags"] == ["vip"] and len(kept["phones"]) == 1
    assert system.count_customers() == 1
    assert system.duplicates(email=False, phone=False)["candidates"] == []


def test_generic_call_reaches_every_operation(system):
    names = {op["name"] for op in system.operations()}
    assert {"deal.update", "batch", "segment.rfm", "customer.import"} <= names
    assert system.call("customer.count", {}) == {"count": 0}
    assert system.verify() == []
    perms = system.permissions()
    assert "resources" in perms and system.hidden_fields() == []
