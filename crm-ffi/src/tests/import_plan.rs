//! Import plans through the C ABI: `customer.import`, `deal.import` and
//! `activity.import` take the matching and file-format options in their
//! `options` and answer with the plan of every row.

use super::*;

fn fixture(name: &str) -> String {
    format!("{}/../examples/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn actions(report: &Value) -> Vec<String> {
    report["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["action"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_german_excel_export_imports_from_a_file_and_says_what_was_detected() {
    let e = open(":memory:");
    let report = ok(
        &e,
        "customer.import",
        json!({"path": fixture("kunden_excel_de.csv"),
               "options": {"date_order": "day_month_year", "phone_region": "DE"}}),
    );
    assert_eq!(report["problems"], json!([]), "{report}");
    assert_eq!(
        report["summary"],
        json!({"create": 3, "update": 0, "unchanged": 0, "skip": 0, "error": 0})
    );
    assert_eq!(
        report["format"],
        json!({"delimiter": "semicolon", "encoding": "windows1252", "byte_order_mark": false})
    );
    assert_eq!(report["detected"].as_array().unwrap().len(), 2);
    let found = ok(
        &e,
        "customer.list",
        json!({"filter": {"name_contains": "Müller"}, "page": {"limit": 10}}),
    );
    assert_eq!(
        found["items"][0]["phones"],
        json!(["+49301234567"]),
        "{found}"
    );

    let latin1 = ok(
        &e,
        "customer.import",
        json!({"path": fixture("customers_latin1.csv")}),
    );
    assert_eq!(latin1["format"]["encoding"], "windows1252");
    assert_eq!(latin1["summary"]["create"], 3);
}

#[test]
fn a_dry_run_plans_and_writes_nothing_then_the_real_run_applies_the_plan() {
    let e = open(":memory:");
    let (c, _, d) = setup(&e);
    let before = event_count(&e);
    let csv = "name,email,lifecycle\nAda Lovelace,ada@example.org,prospect\nBabbage,charles@example.org,\nBroken,broken@example,\n";
    let request = |dry: bool| {
        json!({"csv": csv, "options": {
            "dry_run": dry, "policy": "skip_invalid", "match_by": "email",
            "failed_rows_csv": true}})
    };
    let dry = ok(&e, "customer.import", request(true));
    assert_eq!(actions(&dry), ["update", "create", "error"]);
    assert_eq!(dry["plan"][0]["id"], c["id"]);
    assert_eq!(
        dry["plan"][0]["changes"],
        json!([{"field": "lifecycle", "old": "lead", "new": "prospect"}])
    );
    assert_eq!(dry["written"], false);
    assert_eq!(event_count(&e), before, "a dry run writes nothing");
    assert_eq!(
        dry["failed_rows_csv"],
        "name,email,lifecycle,reason\nBroken,broken@example,,\"email: the domain needs a dot, as in example.com\"\n"
    );

    let real = ok(&e, "customer.import", request(false));
    assert_eq!(actions(&real), ["update", "create", "error"]);
    assert_eq!(real["plan"][0]["changes"], dry["plan"][0]["changes"]);
    assert_eq!(event_count(&e), before + 2);

    // Deals by id: the stage guard of `proposal` (an amount) holds.
    let deals = format!(
        "id\ttitle\tcustomer\tstage\tamount\tcurrency\n{id}\tEngines\tada@example.org\tproposal\t\t\n{id}\tEngines\tada@example.org\tproposal\t1.500,00\tEUR\n",
        id = d["id"].as_str().unwrap()
    );
    let report = ok(
        &e,
        "deal.import",
        json!({"csv": deals, "options": {"policy": "skip_invalid", "match_by": "id",
               "decimal_mark": "comma", "delimiter": "tab"}}),
    );
    assert_eq!(actions(&report), ["error", "update"], "{report}");
    assert_eq!(report["detected"], json!([]), "nothing guessed when given");
    let deal = ok(&e, "deal.get", json!({"id": d["id"]}));
    assert_eq!(deal["stage"], "proposal");
    assert_eq!(
        deal["amount"],
        json!({"amount": "1500.00", "currency": "EUR"})
    );

    // Activities by id: logged once, the same row again is unchanged.
    let task = ok(
        &e,
        "activity.log",
        json!({"kind": "note", "subject": "Met at the fair", "customer": c["id"]}),
    );
    let again = ok(
        &e,
        "activity.import",
        json!({"csv": format!("id,kind,subject\n{},note,Met at the fair\n", task["id"].as_str().unwrap()),
               "options": {"match_by": "id"}}),
    );
    assert_eq!(actions(&again), ["unchanged"], "{again}");
}

#[test]
fn unknown_and_out_of_range_options_are_refused() {
    let e = open(":memory:");
    for options in [
        json!({"delimeter": "tab"}),
        json!({"delimiter": "pipe"}),
        json!({"encoding": "ebcdic"}),
        json!({"date_order": "year_day_month"}),
        json!({"match_by": "external_key"}),
        json!({"unmatched": "ignore"}),
        json!({"phone_region": "Germany"}),
    ] {
        let err = call(
            &e,
            "customer.import",
            json!({"csv": "name\nA\n", "options": options}),
        )
        .expect_err("refused");
        assert_eq!(err.0, CrmStatus::InvalidInput, "{options}: {}", err.1);
    }
    let err = call(
        &e,
        "deal.import",
        json!({"csv": "title,customer\nX,a@example.org\n", "options": {"match_by": "email"}}),
    )
    .expect_err("deals by e-mail");
    assert!(err.1.contains("options.match_by"), "{}", err.1);
}
