"""The package's own behaviour: opening, closing, conversions, errors,
threads."""

import datetime as dt
import threading
from decimal import Decimal

import pytest

import crm_core
from crm_core import Money


def test_the_package_ships_its_library_and_type_marker():
    import pathlib
    here = pathlib.Path(crm_core.__file__).parent
    assert (here / "py.typed").is_file()
    assert crm_core.library_version() == "0.1.0"


def test_a_file_database_keeps_records_across_opens(tmp_path):
    db = tmp_path / "crm.db"
    with crm_core.open(db) as crm:
        ada = crm.as_system().create_customer("person", "Ada")
    with crm_core.open(str(db)) as crm:
        assert crm.as_system().customer(ada["id"])["name"] == "Ada"


def test_calls_after_close_are_refused_and_close_is_idempotent():
    crm = crm_core.open()
    crm.close()
    crm.close()
    assert crm.closed
    with pytest.raises(RuntimeError, match="closed"):
        crm.as_system().customers()


def test_open_failure_is_a_storage_error(tmp_path):
    with pytest.raises(crm_core.StorageError) as e:
        crm_core.open(tmp_path / "no-such-dir" / "crm.db")
    assert e.value.status == 11
    assert e.value.status_name == "CRM_STATUS_STORAGE"


def test_times_come_back_aware_and_naive_ones_are_refused(system):
    ada = system.create_customer("person", "Ada")
    assert ada["created_at"].tzinfo is not None
    assert ada["created_at"].utcoffset() == dt.timedelta(0)
    with pytest.raises(ValueError, match="naive"):
        system.run_due(dt.datetime(2020, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        system.log_activity("task", "Call", customer=ada, due_at=dt.datetime(2020, 1, 1))


def test_money_is_decimal_never_float(system):
    assert Money("12.50", "EUR").amount == Decimal("12.50")
    assert Money(3, "EUR").amount == Decimal(3)
    with pytest.raises(TypeError, match="float"):
        Money(12.5, "EUR")  # type: ignore[arg-type]
    pipeline = system.create_pipeline("Sales", [
        {"key": "lead", "name": "Lead", "probability": 10, "kind": "open"},
        {"key": "won", "name": "Won", "probability": 100, "kind": "won"},
        {"key": "lost", "name": "Lost", "probability": 0, "kind": "lost"},
    ])
    ada = system.create_customer("person", "Ada")
    deal = system.create_deal(ada, pipeline, "Engines", Money(Decimal("1200.10"), "EUR"))
    assert deal["amount"] == Money(Decimal("1200.10"), "EUR")
    assert isinstance(deal["amount"].amount, Decimal)
    assert str(deal["amount"]) == "1200.10 EUR"
    with pytest.raises(TypeError):
        system.create_deal(ada, pipeline, "Float", 12.5)  # type: ignore[arg-type]


def test_each_status_has_its_exception_with_status_and_message(system):
    with pytest.raises(crm_core.ValidationError) as e:
        system.create_customer("person", "Bo", emails=["not an email"])
    assert e.value.status == 5 and "email" in e.value.message
    assert isinstance(e.value, crm_core.CrmError) and isinstance(e.value, ValueError)
    assert e.value.op == "customer.create"
    with pytest.raises(crm_core.NotFoundError) as nf:
        system.deal("0190d5d0-0000-7000-8000-000000000000")
    assert nf.value.status == 6
    with pytest.raises(crm_core.UnknownOperationError):
        system.call("deal.explode")
    with pytest.raises(crm_core.ValidationError):
        system.call("customer.create", {"kind": "person"})


def test_structured_error_detail_when_the_library_offers_it(system):
    with pytest.raises(crm_core.ValidationError) as e:
        system.create_customer("person", "")
    lib = crm_core._load()
    if lib.has_error_json:
        assert e.value.detail is not None
        assert e.value.detail["status"] == 5
        assert e.value.field == "name" and e.value.entity == "customer"
    else:
        assert e.value.detail is None and e.value.field is None


def test_several_threads_share_one_engine(crm):
    s = crm.as_system()
    errors = []

    def work(t):
        try:
            for i in range(25):
                s.create_customer("person", f"Worker {t}-{i}")
            # A failure on this thread reports this thread's error.
            try:
                s.customer("0190d5d0-0000-7000-8000-00000000000%d" % t)
            except crm_core.NotFoundError:
                pass
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    names = [c["name"] for c in s.pages("customer.list")]
    assert len(names) == 100 and len(set(names)) == 100


def test_close_waits_for_running_calls():
    crm = crm_core.open()
    s = crm.as_system()
    started = threading.Event()
    results = []

    def work():
        started.set()
        for i in range(50):
            try:
                s.create_customer("person", f"C{i}")
                results.append("ok")
            except RuntimeError:
                results.append("closed")

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    crm.close()
    t.join()
    # Every call either ran fully before the close or was refused after it.
    assert set(results) <= {"ok", "closed"} and len(results) == 50


def test_pages_follow_cursors(system):
    for i in range(7):
        system.create_customer("person", f"P{i}")
    assert len(list(system.pages("customer.list", limit=3))) == 7
    first = system.customers({"page": {"limit": 3}})
    assert len(first["items"]) == 3 and first["next"]


def test_threads_share_a_file_engine_with_batches_reads_and_conflicts(tmp_path):
    with crm_core.open(tmp_path / "crm.db") as crm:
        s = crm.as_system()
        target = s.create_customer("person", "Contested")
        errors = []
        wins = []
        barrier = threading.Barrier(4)

        def work(t):
            try:
                barrier.wait()
                # Every thread changes the same version: exactly one wins.
                try:
                    wins.append(s.update_customer(target, {"name": f"Thread {t}"}))
                except crm_core.ConflictError:
                    pass
                for i in range(10):
                    with s.batch() as b:
                        b.create_customer("person", f"T{t}-{i}a")
                        b.create_customer("person", f"T{t}-{i}b")
                    assert s.count_customers() >= 1
                # A failing batch on this thread reports its own step.
                try:
                    s.batch([("customer.create", {"kind": "person", "name": ""})])
                except crm_core.ValidationError as e:
                    assert e.step == 0 and e.field == "name"
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(wins) == 1 and wins[0]["version"] == 2
        assert s.count_customers() == 1 + 4 * 10 * 2
        assert s.verify() == []


def test_crm_call_converts_numbers_as_a_session_does(crm):
    s = crm.as_system()
    pipeline = s.create_pipeline("Sales", crm_core.sales_template())
    ada = s.create_customer("person", "Ada")
    s.win_deal(s.create_deal(ada, pipeline, "Engines", Money("5.00", "EUR")))
    rate = crm.call("kpi.win_rate", {})
    assert rate == {"won": 1, "lost": 0, "rate": Decimal(1)}
    assert isinstance(rate["rate"], Decimal)
    assert crm.call("customer.count") == {"count": 1}
