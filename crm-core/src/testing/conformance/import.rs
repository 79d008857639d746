//! CSV import contracts, run on every store: the same file gives the same
//! report and the same records everywhere.

use chrono::{DateTime, TimeZone, Utc};

use super::engine;
use crate::custom_field::CustomValue;
use crate::import::{ColumnMap, ImportOptions, ImportPolicy, RowProblem};
use crate::*;

const CUSTOMERS: &str = "\
Name,Kind,Organisation,E-Mail,Phone,Tags,Lifecycle,Created At,Shoe size
ACME GmbH,organisation,,info@acme.example,,vip;Manufacturing,customer,2021-03-01,
Ada Byron,person,ACME GmbH,ADA@ACME.example,+49 30 1234567,,lead,2021-03-02T10:00:00Z,42
Bob,person,,bob@example,,,,,
Carla,person,Initech,carla@example.org,,,client,15/03/2021,
,person,,nobody@example.org,,,,,
\"Dora, the explorer\",person,,dora@example.org,,,prospect,,
";

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .unwrap_or_default()
}

fn problem(row: u64, column: &str, value: &str, reason: &str) -> RowProblem {
    RowProblem {
        row,
        line: row + 1,
        column: column.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

fn customer_problems() -> Vec<RowProblem> {
    vec![
        problem(
            3,
            "E-Mail",
            "bob@example",
            "the domain needs a dot, as in example.com",
        ),
        problem(4, "Organisation", "Initech", "no customer has this name"),
        problem(
            4,
            "Lifecycle",
            "client",
            "expected one of lead, prospect, customer, churned",
        ),
        problem(
            4,
            "Created At",
            "15/03/2021",
            "expected a date as YYYY-MM-DD or a time as 2024-03-15T10:30:00Z; for dates such as 01.04.2023 give options.date_order (day_month_year or month_day_year)",
        ),
        problem(5, "Name", "", "a value is required"),
    ]
}

fn names<S: Store>(s: &Session<'_, S>) -> Vec<String> {
    s.customers(&CustomerQuery::new().limit(100))
        .expect("list")
        .items
        .into_iter()
        .map(|c| c.name)
        .collect()
}

/// Under all-or-nothing, a file with bad rows writes nothing and reports
/// every problem (row, column as headed in the file, value, reason); a dry
/// run reports the same and writes nothing either.
pub fn import_all_or_nothing_reports_every_problem_and_writes_nothing<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    for dry_run in [true, false] {
        let options = ImportOptions::default().dry_run(dry_run);
        let report = s
            .import_customers(CUSTOMERS.as_bytes(), &options)
            .expect("import runs");
        assert_eq!(report.rows, 6, "rows read (dry run {dry_run})");
        assert_eq!(report.valid_rows, 3, "valid rows (dry run {dry_run})");
        assert_eq!(
            report.problems,
            customer_problems(),
            "problems (dry run {dry_run})"
        );
        assert_eq!(report.ignored_columns, vec!["Shoe size".to_owned()]);
        assert!(!report.written, "written (dry run {dry_run})");
        assert!(report.ids.is_empty(), "ids of an unwritten import");
        assert_eq!(
            names(&s),
            Vec::<String>::new(),
            "customers after (dry run {dry_run})"
        );
        assert_eq!(
            s.events(&EventQuery::new()).expect("events").items.len(),
            0,
            "events after (dry run {dry_run})"
        );
    }
}

/// Under skip-invalid, the valid rows are written with their historical
/// dates and normalised values, one event each; an organisation created
/// by an earlier row can be named by a later one.
pub fn import_skip_invalid_writes_the_valid_rows<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let dry = s
        .import_customers(
            CUSTOMERS.as_bytes(),
            &ImportOptions::default()
                .policy(ImportPolicy::SkipInvalid)
                .dry_run(true),
        )
        .expect("dry run");
    assert!(!dry.written && dry.problems == customer_problems());
    assert_eq!(names(&s), Vec::<String>::new(), "a dry run wrote customers");

    let report = s
        .import_customers(
            CUSTOMERS.as_bytes(),
            &ImportOptions::default().policy(ImportPolicy::SkipInvalid),
        )
        .expect("import");
    assert!(report.written);
    assert_eq!((report.rows, report.valid_rows), (6, 3));
    assert_eq!(report.problems, customer_problems());
    assert_eq!(report.ids.len(), 3);

    let all = s
        .customers(&CustomerQuery::new().limit(100))
        .expect("list")
        .items;
    let by_name = |n: &str| all.iter().find(|c| c.name == n).cloned();
    let acme = by_name("ACME GmbH").expect("ACME imported");
    let ada = by_name("Ada Byron").expect("Ada imported");
    let dora = by_name("Dora, the explorer").expect("Dora imported");
    assert_eq!(all.len(), 3);
    assert_eq!(acme.kind, PartyKind::Organisation);
    assert_eq!(acme.lifecycle, Lifecycle::Customer);
    assert_eq!(acme.created_at, at(2021, 3, 1, 0));
    let tags: Vec<&str> = acme.tags.iter().map(|t| t.as_str()).collect();
    assert_eq!(tags, vec!["manufacturing", "vip"]);
    assert_eq!(ada.organisation, Some(acme.id));
    assert_eq!(ada.emails[0].as_str(), "ada@acme.example");
    assert_eq!(ada.phones[0].as_str(), "+49301234567");
    assert_eq!(ada.created_at, at(2021, 3, 2, 10));
    assert_eq!(dora.lifecycle, Lifecycle::Prospect);
    assert_eq!(
        report.ids,
        vec![acme.id.as_uuid(), ada.id.as_uuid(), dora.id.as_uuid()],
        "ids in row order"
    );
    let events = s.events(&EventQuery::new()).expect("events").items;
    let times: Vec<DateTime<Utc>> = events.iter().map(|e| e.at).collect();
    assert_eq!(
        times[..2],
        [at(2021, 3, 1, 0), at(2021, 3, 2, 10)],
        "event times"
    );
    assert_eq!(events.len(), 3, "one event per imported customer");
}

/// Deals arrive with their stage, amount and historical dates; closed
/// deals go through the same moves and guards as live ones; a row that
/// fails halfway (created, then refused its won stage) leaves nothing.
pub fn import_deals_keeps_history_and_rows_are_atomic<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME GmbH").email("info@acme.example"))
        .expect("customer");
    let csv = "\
Deal,Client,Stage,Amount,Currency,Expected close,Created,Won,Lost,Reason
Robots,info@acme.example,won,48000.00,EUR,,2022-01-10,2022-03-01T12:00:00Z,,
Support,ACME GmbH,lost,,,,2022-02-01,,2022-02-20,Too expensive
Pilot,acme gmbh,proposal,9000,EUR,2022-06-30,2022-04-01,,,
Spares,ACME GmbH,lost,,,,2022-02-01,,2022-02-20,
Training,ACME GmbH,qualified,1500,EURO,,2022-02-01,,,
Audit,Globex,lead,,,,,,,
Late,ACME GmbH,won,100,EUR,,2022-05-01,2022-04-01,,
Shipping,ACME GmbH,lead,,,,,2022-04-01,,
";
    let columns = ColumnMap::new()
        .column("title", "Deal")
        .column("customer", "Client")
        .column("expected_close_date", "Expected close")
        .column("created_at", "Created")
        .column("won_at", "Won")
        .column("lost_at", "Lost")
        .column("lost_reason", "Reason");
    let options = ImportOptions::default()
        .policy(ImportPolicy::SkipInvalid)
        .columns(columns);
    let report = s.import_deals(csv.as_bytes(), &options).expect("import");
    assert_eq!(
        report.problems,
        vec![
            problem(
                4,
                "Reason",
                "",
                "the deal cannot enter stage 'lost': a reason for losing the deal is required"
            ),
            problem(
                5,
                "Currency",
                "EURO",
                "'EURO' is not an ISO 4217 currency code (expected three letters such as EUR, USD or JPY)"
            ),
            problem(6, "Client", "Globex", "no customer has this name"),
            problem(
                7,
                "Won",
                "2022-04-01T00:00:00+00:00",
                "the deal entered its current stage at 2022-05-01T00:00:00+00:00; a later move cannot be dated before that"
            ),
            problem(
                8,
                "Won",
                "2022-04-01T00:00:00+00:00",
                "the deal is in open stage 'lead', so it has no won_at"
            ),
        ]
    );
    assert_eq!((report.rows, report.valid_rows), (8, 3));
    let deals = s.deals(&DealQuery::new().limit(100)).expect("deals").items;
    let titles: Vec<&str> = deals.iter().map(|d| d.title.as_str()).collect();
    assert_eq!(
        titles,
        vec!["Robots", "Support", "Pilot"],
        "no half-imported deal"
    );
    let robots = &deals[0];
    assert_eq!(robots.customer, acme.id);
    assert_eq!(robots.pipeline, p.id);
    assert_eq!(robots.status, DealStatus::Won);
    assert_eq!(robots.created_at, at(2022, 1, 10, 0));
    assert_eq!(robots.won_at, Some(at(2022, 3, 1, 12)));
    assert_eq!(
        robots.amount,
        Some(Money::parse("48000.00", "EUR").expect("money"))
    );
    let stages: Vec<(Option<&str>, &str)> = robots
        .history
        .iter()
        .map(|h| (h.from.as_ref().map(|k| k.as_str()), h.to.as_str()))
        .collect();
    assert_eq!(stages, vec![(None, "lead"), (Some("lead"), "won")]);
    let support = &deals[1];
    assert_eq!(support.status, DealStatus::Lost);
    assert_eq!(support.lost_at, Some(at(2022, 2, 20, 0)));
    assert_eq!(support.lost_reason.as_deref(), Some("Too expensive"));
    let pilot = &deals[2];
    assert_eq!(pilot.stage.as_str(), "proposal");
    assert_eq!(
        pilot.expected_close_date,
        chrono::NaiveDate::from_ymd_opt(2022, 6, 30)
    );
    // pipeline + customer + (created + won) + (created + lost) + created
    assert_eq!(s.events(&EventQuery::new()).expect("events").items.len(), 7);
}

/// Activities: a completed task is logged and completed at its time;
/// a direction on a note and an unknown kind are reported.
pub fn import_activities_with_completed_tasks<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    s.create_customer(NewCustomer::person("Ada Byron").email("ada@example.org"))
        .expect("customer");
    let csv = "\
kind,subject,customer,direction,occurred_at,due_at,completed_at
call,Intro call,ada@example.org,outbound,2023-05-02 09:30,,
task,Send offer,Ada Byron,,2023-05-02,2023-05-05,2023-05-04T16:00:00Z
note,Likes robots,ada@example.org,inbound,,,
fax,Old habits,ada@example.org,,,,
";
    let report = s
        .import_activities(
            csv.as_bytes(),
            &ImportOptions::default().policy(ImportPolicy::SkipInvalid),
        )
        .expect("import");
    assert_eq!(
        report.problems,
        vec![
            problem(3, "direction", "inbound", "a note has no direction"),
            problem(
                4,
                "kind",
                "fax",
                "expected one of call, email, meeting, note, task"
            ),
        ]
    );
    let acts = s
        .activities(&ActivityQuery::new().limit(100))
        .expect("activities")
        .items;
    assert_eq!(acts.len(), 2);
    let call = acts
        .iter()
        .find(|a| a.kind == ActivityKind::Call)
        .expect("call");
    assert_eq!(
        call.occurred_at,
        Utc.with_ymd_and_hms(2023, 5, 2, 9, 30, 0).unwrap()
    );
    assert_eq!(call.direction, Some(Direction::Outbound));
    let task = acts
        .iter()
        .find(|a| a.kind == ActivityKind::Task)
        .expect("task");
    assert_eq!(task.due_at, Some(at(2023, 5, 5, 0)));
    assert_eq!(task.completed_at, Some(at(2023, 5, 4, 16)));
    assert_eq!(task.version, 2);
}

/// Exporting customers, deals and activities and importing the three files
/// into an empty store (passing each report's id map on) reproduces the
/// records: exporting the new store gives the same files, ids translated.
///
/// Takes two stores (they may be of different backends); not part of
/// [`store_conformance_tests!`](crate::store_conformance_tests), call it
/// from a test of your own.
pub fn export_then_import_reproduces_the_records<S: Store, T: Store>(source: S, target: T) {
    let (source, clock) = engine(source);
    let s = source.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    for kind in [EntityKind::Customer, EntityKind::Deal] {
        s.set_custom_fields(kind, 0, custom_fields())
            .expect("fields");
    }
    let acme = s
        .create_customer(
            NewCustomer::organisation("ACME, Inc.")
                .email("info@acme.example")
                .tag("vip")
                .lifecycle(Lifecycle::Customer)
                .custom("tier", CustomValue::Text("gold".into()))
                .custom(
                    "budget",
                    CustomValue::Money(Money::parse("1250.50", "EUR").expect("money")),
                )
                .custom(
                    "since",
                    CustomValue::Date(
                        chrono::NaiveDate::from_ymd_opt(2019, 5, 1).unwrap_or_default(),
                    ),
                )
                .custom("active", CustomValue::Bool(true)),
        )
        .expect("org");
    let ada = s
        .create_customer(
            NewCustomer::person("Ada \"the Countess\" Byron")
                .works_at(acme.id)
                .email("ada@acme.example")
                .phone("+44 20 7946 0958")
                .roles([Role::Customer, Role::Partner]),
        )
        .expect("person");
    clock.advance(chrono::Duration::days(3));
    let deal = s
        .create_deal(
            NewDeal::new(acme.id, p.id, "Robots\nphase 1")
                .amount(Money::parse("48000.50", "EUR").expect("money")),
        )
        .expect("deal");
    clock.advance(chrono::Duration::days(3));
    let deal = s.win_deal(deal.id, deal.version).expect("win");
    let lost = s
        .create_deal(NewDeal::new(ada.id, p.id, "Training"))
        .expect("deal");
    s.lose_deal(lost.id, lost.version, "No budget")
        .expect("lose");
    let task = s
        .log_activity(
            NewActivity::task("Send offer", clock.now() + chrono::Duration::days(2))
                .deal(deal.id)
                .body("with the discount"),
        )
        .expect("task");
    s.log_activity(
        NewActivity::new(ActivityKind::Call, "Intro")
            .customer(ada.id)
            .direction(Direction::Inbound),
    )
    .expect("call");
    clock.advance(chrono::Duration::hours(5));
    s.complete_task(task.id, task.version).expect("complete");

    let [customers, deals, activities] = export(&s);

    // Another id seed: imported records must not get the source's ids by chance.
    let target = Crm::new(target)
        .with_clock(clock.clone())
        .with_ids(SequentialIds::new(8));
    let t = target.as_actor(Actor::System);
    let p2 = t
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    for kind in [EntityKind::Customer, EntityKind::Deal] {
        t.set_custom_fields(kind, 0, custom_fields())
            .expect("fields");
    }
    let mut ids = crate::import::IdMap::new();
    ids.insert(p.id.as_uuid(), p2.id.as_uuid());
    let options = ImportOptions::default().id_map(ids);
    let report = t
        .import_customers(customers.as_bytes(), &options)
        .expect("import customers");
    assert!(report.written && report.problems.is_empty(), "{report}");
    let options = options.id_map(report.id_map);
    let report = t
        .import_deals(deals.as_bytes(), &options)
        .expect("import deals");
    assert!(report.written && report.problems.is_empty(), "{report}");
    let options = options.id_map(report.id_map);
    let report = t
        .import_activities(activities.as_bytes(), &options)
        .expect("import activities");
    assert!(report.written && report.problems.is_empty(), "{report}");

    let translate = |text: &str| {
        report.id_map.iter().fold(text.to_owned(), |t, (from, to)| {
            t.replace(&from.to_string(), &to.to_string())
        })
    };
    let again = export(&t);
    assert_ne!(
        again[0], customers,
        "the imported records kept the source's ids"
    );
    assert_eq!(
        again[0],
        translate(&customers),
        "customers differ after the round trip"
    );
    assert_eq!(
        again[1],
        translate(&deals),
        "deals differ after the round trip"
    );
    assert_eq!(
        again[2],
        translate(&activities),
        "activities differ after the round trip"
    );
}

fn custom_fields() -> Vec<crate::custom_field::FieldDef> {
    use crate::custom_field::{FieldDef, FieldType};
    vec![
        FieldDef::new("tier", "Tier", FieldType::Enum).options(["gold", "silver"]),
        FieldDef::new("budget", "Budget", FieldType::Money),
        FieldDef::new("since", "Customer since", FieldType::Date),
        FieldDef::new("active", "Active", FieldType::Bool),
    ]
}

/// Custom-field columns are matched by key or label and parsed by the
/// field's type; a bad cell is reported under its header.
pub fn import_reads_custom_fields<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    s.set_custom_fields(EntityKind::Customer, 0, custom_fields())
        .expect("fields");
    let csv = "\
name,Tier,budget,Customer since,active
ACME,gold,99.90 EUR,2020-02-29,yes
Globex,bronze,10,29.02.2020,maybe
";
    let report = s
        .import_customers(
            csv.as_bytes(),
            &ImportOptions::default().policy(ImportPolicy::SkipInvalid),
        )
        .expect("import");
    let problems: Vec<(&str, &str, &str)> = report
        .problems
        .iter()
        .map(|p| (p.column.as_str(), p.value.as_str(), p.reason.as_str()))
        .collect();
    assert_eq!(
        problems,
        vec![
            (
                "budget",
                "10",
                "expected an amount and a currency, such as 1250.50 EUR"
            ),
            (
                "Customer since",
                "29.02.2020",
                "expected a date as YYYY-MM-DD; for dates such as 01.04.2023 give options.date_order (day_month_year or month_day_year)"
            ),
            ("active", "maybe", "expected true or false"),
        ]
    );
    assert_eq!(report.valid_rows, 1);
    let acme = s
        .customers(&CustomerQuery::new())
        .expect("list")
        .items
        .remove(0);
    assert_eq!(acme.custom["tier"], CustomValue::Text("gold".into()));
    assert_eq!(
        acme.custom["budget"],
        CustomValue::Money(Money::parse("99.90", "EUR").expect("money"))
    );
    assert_eq!(acme.custom["active"], CustomValue::Bool(true));
    // An enum value outside the options is refused by the rules, under
    // the file's header.
    let report = s
        .import_customers(
            "name,Tier\nInitech,bronze\n".as_bytes(),
            &ImportOptions::default(),
        )
        .expect("import");
    assert_eq!(
        report.problems[0].to_string(),
        "row 1 (line 2), column 'Tier' = \"bronze\": expected one of gold, silver"
    );
}

fn export<S: Store>(s: &Session<'_, S>) -> [String; 3] {
    let mut c = Vec::new();
    let mut d = Vec::new();
    let mut a = Vec::new();
    s.export_customers(&mut c).expect("customers");
    s.export_deals(&mut d).expect("deals");
    s.export_activities(&mut a).expect("activities");
    [c, d, a].map(|f| String::from_utf8(f).unwrap_or_default())
}

/// A dry run of a customer import can list the rows that resemble existing
/// customers or each other, before anything is written.
pub fn import_dry_run_finds_duplicates<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let acme = s
        .create_customer(NewCustomer::organisation("ACME GmbH").email("info@acme.example"))
        .expect("acme");
    let csv = "\
name,kind,email,phone
Acme Gmbh.,organisation,,
Bob Stone,person,bob@example.org,
Carla Diaz,person,,+34 600 000 000
Robert Stone,person,BOB@example.org,
Carla Diaz,person,carla@example.org,
";
    let report = s
        .import_customers(
            csv.as_bytes(),
            &ImportOptions::default()
                .dry_run(true)
                .duplicates(crate::duplicate::DuplicateOptions::default()),
        )
        .expect("dry run");
    assert!(!report.written);
    assert_eq!(
        s.count_customers(&CustomerFilter::default())
            .expect("count"),
        1
    );
    type Found = (
        u64,
        Option<CustomerId>,
        Option<u64>,
        Vec<crate::duplicate::DuplicateRule>,
    );
    let found: Vec<Found> = report
        .duplicates
        .iter()
        .map(|d| {
            (
                d.row,
                d.customer,
                d.other_row,
                d.matches.iter().map(|m| m.rule).collect(),
            )
        })
        .collect();
    use crate::duplicate::DuplicateRule::{Email, Name};
    assert_eq!(
        found,
        vec![
            (1, Some(acme.id), None, vec![Name]),
            (2, None, Some(4), vec![Email]),
            (3, None, Some(5), vec![Name]),
        ]
    );
    assert_eq!(
        report.duplicates[1].to_string(),
        "row 2 resembles row 4: same e-mail bob@example.org"
    );
}

/// A row whose cells do not line up with the header is reported once (its
/// cells are not read), and a file without a required column is refused
/// before anything happens.
pub fn import_reports_misaligned_rows_and_missing_columns<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let csv = "name,email\nAda,ada@example.org\nBob\nCarla,1.200,50\n";
    let report = s
        .import_customers(
            csv.as_bytes(),
            &ImportOptions::default().policy(ImportPolicy::SkipInvalid),
        )
        .expect("import");
    let reasons: Vec<(u64, &str)> = report
        .problems
        .iter()
        .map(|p| (p.row, p.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (
                2,
                "the row has 1 cells but the header has 2; a value containing a comma (such as 1.200,50) must be in double quotes"
            ),
            (
                3,
                "the row has 3 cells but the header has 2; a value containing a comma (such as 1.200,50) must be in double quotes"
            ),
        ]
    );
    assert_eq!(report.valid_rows, 1);

    let err = s
        .import_customers(
            "Firma,Mail\nACME,info@acme.example\n".as_bytes(),
            &ImportOptions::default(),
        )
        .expect_err("a file without a name column is refused");
    assert!(
        err.to_string().starts_with("invalid customer.columns.name"),
        "{err}"
    );
    assert_eq!(
        s.count_customers(&CustomerFilter::default())
            .expect("count"),
        1
    );
}
