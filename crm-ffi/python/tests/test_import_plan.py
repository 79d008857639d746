"""Import plans from Python: a German Excel export (semicolons,
Windows-1252, day-first dates, national phone numbers) matched to the
customers by e-mail; the dry run's plan, then the real run."""

from conftest import DATA


def test_a_german_spreadsheet_is_planned_then_applied(system):
    ada = system.create_customer(kind="person", name="Jürgen Müller",
                                 emails=["jm@example.org"])
    path = DATA / "customers_update_de.csv"
    options = dict(match_by="email", skip_invalid=True, date_order="day_month_year",
                   phone_region="DE", failed_rows_csv=True)
    dry = system.import_csv("customer", path=path, dry_run=True, **options)
    assert [p["action"] for p in dry["plan"]] == ["create", "update", "create", "create",
                                                "error"]
    assert dry["plan"][1]["id"] == ada["id"]
    assert [c["field"] for c in dry["plan"][1]["changes"]] == ["lifecycle", "phones"]
    assert dry["format"]["delimiter"] == "semicolon"
    assert dry["format"]["encoding"] == "windows1252"
    assert len(dry["detected"]) == 2
    assert system.customer(ada["id"])["version"] == 1

    done = system.import_csv("customer", path=path, **options)
    assert done["summary"] == {"create": 3, "update": 1, "unchanged": 0, "skip": 0,
                               "error": 1}
    assert system.customer(ada["id"])["phones"] == ["+491712345678"]
    assert done["failed_rows_csv"].splitlines()[1].startswith("Hank Scorpio;hank@globex;")
