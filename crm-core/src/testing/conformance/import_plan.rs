//! Import plans and real-world spreadsheets, run on every store: rows
//! matched to existing records (by id, by e-mail), the plan of every row,
//! dry runs that write nothing, the failed rows as a file of their own,
//! and files as spreadsheets write them (semicolons, Windows-1252, tabs,
//! byte order marks, local dates, decimal commas, national phones).
//!
//! The files are the fixtures in `examples/data/`.

use serde_json::json;

use super::engine;
use crate::event::FieldChange;
use crate::import::{
    DateOrder, DecimalMark, Delimiter, ImportOptions, ImportPolicy, ImportReport, MatchBy,
    PlanAction, PlanSummary, TextEncoding, Unmatched,
};
use crate::*;

const GERMAN_CUSTOMERS: &[u8] = include_bytes!("../../../../examples/data/kunden_excel_de.csv");
const GERMAN_DEALS: &[u8] = include_bytes!("../../../../examples/data/deals_excel_de.csv");
const LATIN1: &[u8] = include_bytes!("../../../../examples/data/customers_latin1.csv");
const TABS: &[u8] = include_bytes!("../../../../examples/data/customers.tsv");
const UPDATE_BOM: &[u8] = include_bytes!("../../../../examples/data/customers_update_bom.csv");

fn actions(report: &ImportReport) -> Vec<PlanAction> {
    report.plan.iter().map(|p| p.action).collect()
}

fn change(field: &str, old: serde_json::Value, new: serde_json::Value) -> FieldChange {
    FieldChange {
        field: field.into(),
        old,
        new,
    }
}

fn backup_of<S: Store>(s: &Session<'_, S>) -> Vec<u8> {
    let mut out = Vec::new();
    s.backup(&mut out).expect("backup");
    out
}

fn existing<S: Store>(s: &Session<'_, S>) -> (Customer, Customer) {
    let ada = s
        .create_customer(NewCustomer::person("Ada Byron").email("ada@example.org"))
        .expect("ada");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME GmbH").email("info@acme.example"))
        .expect("acme");
    (ada, acme)
}

/// Matched by e-mail, each row's plan says what it does: Ada changes
/// (with old and new values), ACME is unchanged, Bob is new, Carla's
/// address is refused, and a row whose addresses belong to two customers
/// is an error, not a guess. The file has a UTF-8 byte order mark, which
/// is said and skipped (the first header is still `name`).
pub fn import_plan_matches_by_email_and_says_what_each_row_does<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let (ada, acme) = existing(&s);
    let options = ImportOptions::default()
        .policy(ImportPolicy::SkipInvalid)
        .match_by(MatchBy::Email);
    let report = s.import_customers(UPDATE_BOM, &options).expect("import");
    assert!(report.format.byte_order_mark);
    assert_eq!(report.format.encoding, TextEncoding::Utf8);
    assert!(
        report.detected[0].contains("byte order mark"),
        "{:?}",
        report.detected
    );
    assert_eq!(
        actions(&report),
        vec![
            PlanAction::Update,
            PlanAction::Unchanged,
            PlanAction::Create,
            PlanAction::Error,
            PlanAction::Error,
        ]
    );
    let plan = &report.plan;
    assert_eq!(plan[0].id, Some(ada.id.as_uuid()));
    assert_eq!(
        plan[0].changes,
        vec![
            change("lifecycle", json!("lead"), json!("prospect")),
            change("tags", json!([]), json!(["vip"])),
        ]
    );
    assert_eq!(
        (plan[1].id, plan[1].changes.len()),
        (Some(acme.id.as_uuid()), 0)
    );
    assert!(plan[2].id.is_some());
    assert_eq!(
        plan[3].reason.as_deref(),
        Some("email: the domain needs a dot, as in example.com")
    );
    let two = plan[4].reason.as_deref().unwrap_or("");
    assert!(
        two.starts_with("email: the e-mail addresses belong to 2 customers"),
        "{two}"
    );
    assert_eq!(
        report.summary,
        PlanSummary {
            create: 1,
            update: 1,
            unchanged: 1,
            skip: 0,
            error: 2
        }
    );
    assert!(report.written);
    let ada_now = s.customer(ada.id).expect("ada");
    assert_eq!(ada_now.lifecycle, Lifecycle::Prospect);
    assert_eq!(ada_now.version, 2);
    assert_eq!(
        s.customer(acme.id).expect("acme").version,
        1,
        "unchanged: no write"
    );
    assert_eq!(s.count_customers(&Default::default()).expect("count"), 3);
    // The update went through update_customer: one Updated event with the
    // same changes the plan shows.
    let events = s
        .events(&EventQuery::new().filter(EventFilter {
            entity: Some(EntityRef {
                kind: EntityKind::Customer,
                id: ada.id.as_uuid(),
            }),
            ..EventFilter::default()
        }))
        .expect("events")
        .items;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].kind, EventKind::Updated);
    assert_eq!(events[1].changes, plan[0].changes);

    // Importing the same file again changes nothing.
    let again = s.import_customers(UPDATE_BOM, &options).expect("again");
    assert_eq!(
        actions(&again),
        vec![
            PlanAction::Unchanged,
            PlanAction::Unchanged,
            PlanAction::Unchanged,
            PlanAction::Error,
            PlanAction::Error,
        ]
    );
    assert_eq!(s.count_customers(&Default::default()).expect("count"), 3);
}

/// A dry run returns the plan and writes nothing (the backup is the same
/// byte for byte); the real run then reports the same plan, apart from
/// the ids of the records it created.
pub fn import_plan_dry_run_writes_nothing<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    existing(&s);
    let before = backup_of(&s);
    let options = ImportOptions::default()
        .policy(ImportPolicy::SkipInvalid)
        .match_by(MatchBy::Email);
    let dry = s
        .import_customers(UPDATE_BOM, &options.clone().dry_run(true))
        .expect("dry run");
    assert!(dry.dry_run && !dry.written);
    assert_eq!(backup_of(&s), before, "a dry run writes nothing");
    assert_eq!(dry.summary.update + dry.summary.create, 2);
    assert_eq!(dry.plan[2].id, None, "a create in a dry run has no id yet");

    let real = s.import_customers(UPDATE_BOM, &options).expect("import");
    assert!(real.written);
    assert_ne!(backup_of(&s), before);
    let strip = |r: &ImportReport| {
        r.plan
            .iter()
            .map(|p| {
                let mut p = p.clone();
                if p.action == PlanAction::Create {
                    p.id = None;
                }
                p
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&dry), strip(&real));
    assert_eq!(dry.problems, real.problems);

    // All-or-nothing with errors: the plan is the same, nothing written.
    let later = backup_of(&s);
    let refused = s
        .import_customers(
            UPDATE_BOM,
            &ImportOptions::default().match_by(MatchBy::Email),
        )
        .expect("import");
    assert!(!refused.written);
    assert_eq!(refused.summary.error, 2);
    assert_eq!(backup_of(&s), later);
}

/// Deals matched by id update through the deal's own operations, so its
/// rules hold: fields first, then the stage move (whose guards see the
/// new amount); a closed deal is frozen; a guard that refuses leaves the
/// row's earlier changes undone; an owner must be an active user. A row
/// with no id (or an unknown one) creates a deal. Dates are day first and
/// amounts have decimal commas, as in a German spreadsheet.
pub fn import_plan_updates_deals_through_their_rules<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    s.create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let (_, acme) = existing(&s);
    let pipeline = s
        .pipelines(&PipelineQuery::new())
        .expect("pipelines")
        .items
        .remove(0);
    let open = s
        .create_deal(NewDeal::new(acme.id, pipeline.id, "Robots"))
        .expect("robots");
    let pilot = s
        .create_deal(NewDeal::new(acme.id, pipeline.id, "Pilot"))
        .expect("pilot");
    let won = s
        .create_deal(
            NewDeal::new(acme.id, pipeline.id, "Support")
                .amount(Money::parse("99", "EUR").expect("money")),
        )
        .expect("support");
    let won = s.win_deal(won.id, won.version).expect("won");
    let ghost = uuid::Uuid::from_u128(0xdead);
    let nobody = uuid::Uuid::from_u128(0xbeef);
    let csv = format!(
        "id;title;customer;stage;amount;currency;expected_close_date;won_at;owner\n\
         {robots};Robots;info@acme.example;proposal;1.234,56;EUR;30.06.2025;;\n\
         {support};Support;info@acme.example;won;100,00;EUR;;01.01.2025;\n\
         {support};Support;info@acme.example;won;99,00;EUR;;01.01.2025;\n\
         {pilot};Pilot (renamed);info@acme.example;proposal;;;;;\n\
         {pilot};Pilot;info@acme.example;;;;;;{nobody}\n\
         ;New deal;info@acme.example;lead;;;;;\n\
         {ghost};Ghost;info@acme.example;;;;;;\n",
        robots = open.id,
        support = won.id,
        pilot = pilot.id,
    );
    let options = ImportOptions::default()
        .policy(ImportPolicy::SkipInvalid)
        .match_by(MatchBy::Id)
        .date_order(DateOrder::DayMonthYear)
        .decimal_mark(DecimalMark::Comma);
    let report = s.import_deals(csv.as_bytes(), &options).expect("import");
    assert_eq!(report.format.delimiter, Delimiter::Semicolon);
    assert_eq!(
        actions(&report),
        vec![
            PlanAction::Update,
            PlanAction::Error,
            PlanAction::Unchanged,
            PlanAction::Error,
            PlanAction::Error,
            PlanAction::Create,
            PlanAction::Create,
        ],
        "{report}"
    );
    assert_eq!(
        report.plan[0].changes,
        vec![
            change(
                "amount",
                json!(null),
                json!({"amount": "1234.56", "currency": "EUR"})
            ),
            change("expected_close_date", json!(null), json!("2025-06-30")),
            change("stage", json!("lead"), json!("proposal")),
        ]
    );
    let reasons: Vec<&str> = report
        .plan
        .iter()
        .map(|p| p.reason.as_deref().unwrap_or(""))
        .collect();
    assert!(reasons[1].starts_with("amount: "), "{}", reasons[1]);
    assert!(
        reasons[1].contains("won"),
        "the freeze of closed deals: {}",
        reasons[1]
    );
    assert!(
        reasons[3].starts_with("amount: the deal cannot enter stage 'proposal'"),
        "{}",
        reasons[3]
    );
    assert_eq!(reasons[4], "owner: no user has this id");
    let robots = s.deal(open.id).expect("robots");
    assert_eq!(robots.stage.as_str(), "proposal");
    assert_eq!(
        robots.amount,
        Some(Money::parse("1234.56", "EUR").expect("money"))
    );
    let pilot_now = s.deal(pilot.id).expect("pilot");
    assert_eq!(
        (pilot_now.title.as_str(), pilot_now.version),
        ("Pilot", pilot.version),
        "the refused move undid the row's rename"
    );
    assert_eq!(s.deal(won.id).expect("support").version, won.version);
    // The unknown id created a deal and is mapped to it for later files.
    let created = report.plan[6].id.expect("created");
    assert_eq!(report.id_map.get(&ghost), Some(&created));
    assert_eq!(s.count_deals(&Default::default()).expect("count"), 5);
}

/// Files as spreadsheets write them import as they are: a German Excel
/// export (semicolons, Windows-1252, CRLF, `01.04.2023`, `030 1234567`
/// with region DE, `1.234,56`), a Latin-1 file, a tab-separated file with
/// US dates. What was detected is said.
pub fn import_plan_reads_real_spreadsheets<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    s.create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");

    // Without the options a new user would not know about, the file is
    // read, and the dates and national numbers are what is refused.
    let plain = s
        .import_customers(GERMAN_CUSTOMERS, &ImportOptions::default().dry_run(true))
        .expect("dry run");
    assert_eq!(plain.format.delimiter, Delimiter::Semicolon);
    assert_eq!(plain.format.encoding, TextEncoding::Windows1252);
    assert!(
        plain
            .problems
            .iter()
            .any(|p| p.column == "created_at" && p.reason.contains("options.date_order"))
    );
    let no_region = s
        .import_customers(
            GERMAN_CUSTOMERS,
            &ImportOptions::default()
                .dry_run(true)
                .date_order(DateOrder::DayMonthYear),
        )
        .expect("dry run");
    assert!(
        no_region
            .problems
            .iter()
            .any(|p| p.column == "phone" && p.value == "030 1234567"),
        "{no_region}"
    );

    let options = ImportOptions::default()
        .date_order(DateOrder::DayMonthYear)
        .phone_region("DE");
    let report = s
        .import_customers(GERMAN_CUSTOMERS, &options)
        .expect("import");
    assert!(report.problems.is_empty(), "{report}");
    assert_eq!(report.summary.create, 3);
    assert_eq!(report.detected.len(), 2, "{:?}", report.detected);
    assert!(report.detected[0].starts_with("encoding: read as Windows-1252"));
    assert!(report.detected[1].starts_with("delimiter: read as ';'-separated"));
    let all = s
        .customers(&CustomerQuery::new().limit(10))
        .expect("customers")
        .items;
    let by_name = |name: &str| {
        all.iter()
            .find(|c| c.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no customer {name}"))
    };
    let mueller = by_name("Müller Maschinenbau GmbH");
    assert_eq!(mueller.phones[0].as_str(), "+49301234567");
    assert_eq!(mueller.kind, PartyKind::Organisation);
    assert_eq!(by_name("Jürgen Weiß").phones[0].as_str(), "+491712345678");
    assert_eq!(by_name("Zoë Größer").phones[0].as_str(), "+41446681800");
    let day = |y, m, d| {
        chrono::NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .unwrap_or_default()
    };
    assert_eq!(mueller.created_at, day(2023, 4, 1));
    assert_eq!(by_name("Zoë Größer").created_at, day(2022, 12, 31));
    assert_eq!(mueller.lifecycle, Lifecycle::Customer);

    let deals = s
        .import_deals(
            GERMAN_DEALS,
            &ImportOptions::default()
                .date_order(DateOrder::DayMonthYear)
                .decimal_mark(DecimalMark::Comma),
        )
        .expect("deals");
    assert!(deals.problems.is_empty(), "{deals}");
    let listed = s.deals(&DealQuery::new().limit(10)).expect("deals").items;
    assert_eq!(listed[0].title, "Fräsmaschine");
    assert_eq!(
        listed[0].amount,
        Some(Money::parse("1234.56", "EUR").expect("money"))
    );
    assert_eq!(
        listed[0].expected_close_date,
        chrono::NaiveDate::from_ymd_opt(2023, 6, 30)
    );
    assert_eq!(
        listed[1].amount,
        Some(Money::parse("12000", "EUR").expect("money"))
    );

    let latin1 = s
        .import_customers(LATIN1, &ImportOptions::default())
        .expect("latin-1");
    assert!(latin1.problems.is_empty(), "{latin1}");
    assert_eq!(latin1.format.encoding, TextEncoding::Windows1252);
    assert!(
        latin1.detected[0].contains("byte 0xE9 at index 19"),
        "{:?}",
        latin1.detected
    );
    // Given explicitly, nothing is guessed.
    let given = s
        .import_customers(
            LATIN1,
            &ImportOptions::default()
                .dry_run(true)
                .encoding(TextEncoding::Windows1252)
                .delimiter(Delimiter::Comma),
        )
        .expect("given");
    assert!(given.detected.is_empty());
    let tabs = s
        .import_customers(
            TABS,
            &ImportOptions::default().date_order(DateOrder::MonthDayYear),
        )
        .expect("tabs");
    assert!(tabs.problems.is_empty(), "{tabs}");
    assert_eq!(tabs.format.delimiter, Delimiter::Tab);
    let mut names: Vec<String> = s
        .customers(&CustomerQuery::new().limit(20))
        .expect("customers")
        .items
        .into_iter()
        .map(|c| c.name)
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "Ada Byron",
            "François Çelik",
            "José Müller",
            "Jürgen Weiß",
            "Müller Maschinenbau GmbH",
            "Tab, Comma & Co",
            "Zoë Größer",
            "Ærø Fisk ApS",
        ]
    );
    let ada = s
        .customers(&CustomerQuery::new().limit(20))
        .expect("customers")
        .items
        .into_iter()
        .find(|c| c.name == "Ada Byron")
        .expect("ada");
    assert_eq!(ada.created_at, day(2023, 4, 1));
    assert_eq!(ada.tags.len(), 2);
}

/// The rows with problems come back as a CSV file of their own (the
/// file's columns plus `reason`, in the file's delimiter); fixed, it
/// imports.
pub fn import_plan_exports_failed_rows_to_fix_and_reimport<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let csv = "name;kind;email\nGood;person;good@example.org\nBad;person;bad@example\n;person;\"x@example.org\"\n";
    let report = s
        .import_customers(
            csv.as_bytes(),
            &ImportOptions::default()
                .policy(ImportPolicy::SkipInvalid)
                .failed_rows_csv(true),
        )
        .expect("import");
    assert_eq!(report.summary.error, 2);
    let failed = report.failed_rows_csv.clone().expect("failed rows");
    assert_eq!(
        failed,
        "name;kind;email;reason\n\
         Bad;person;bad@example;email: the domain needs a dot, as in example.com\n\
         ;person;x@example.org;name: a value is required\n"
    );
    let fixed = failed
        .replace("bad@example;", "bad@example.org;")
        .replace(";person;x@", "Xavier;person;x@");
    let again = s
        .import_customers(fixed.as_bytes(), &ImportOptions::default())
        .expect("again");
    assert!(again.problems.is_empty(), "{again}");
    assert_eq!(again.ignored_columns, vec!["reason".to_owned()]);
    assert_eq!(again.summary.create, 2);
    assert_eq!(s.count_customers(&Default::default()).expect("count"), 3);
    // Without the option, no file.
    let none = s
        .import_customers(csv.as_bytes(), &ImportOptions::default().dry_run(true))
        .expect("dry");
    assert_eq!(none.failed_rows_csv, None);
}

/// Update only: an unmatched row is skipped, or is an error; matching
/// by e-mail is for customers; an activity matched by id only takes a
/// task's completion.
pub fn import_plan_unmatched_rows_and_activities<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let (ada, _) = existing(&s);
    let csv = "name,email,tags\nAda Byron,second@example.org;ada@example.org,x\nNew,new@example.org,\nNo mail,,\n";
    let skip = s
        .import_customers(
            csv.as_bytes(),
            &ImportOptions::default()
                .match_by(MatchBy::Email)
                .unmatched(Unmatched::Skip),
        )
        .expect("skip");
    assert_eq!(
        actions(&skip),
        vec![PlanAction::Update, PlanAction::Skip, PlanAction::Skip]
    );
    assert!(skip.written);
    // Addresses are added, none removed; tags are set to the cell's list.
    assert_eq!(
        skip.plan[0].changes,
        vec![
            change(
                "emails",
                json!(["ada@example.org"]),
                json!(["ada@example.org", "second@example.org"])
            ),
            change("tags", json!([]), json!(["x"])),
        ]
    );
    assert_eq!(
        skip.plan[1].reason.as_deref(),
        Some("no customer has this e-mail address, and unmatched rows are skipped")
    );
    assert_eq!(
        skip.plan[2].reason.as_deref(),
        Some("the row has no e-mail address to match, and unmatched rows are skipped")
    );
    let error = s
        .import_customers(
            csv.as_bytes(),
            &ImportOptions::default()
                .dry_run(true)
                .match_by(MatchBy::Email)
                .unmatched(Unmatched::Error),
        )
        .expect("error");
    assert_eq!(
        actions(&error),
        vec![PlanAction::Unchanged, PlanAction::Error, PlanAction::Error]
    );
    assert_eq!(s.count_customers(&Default::default()).expect("count"), 2);

    let by_mail = s
        .import_deals(
            "title,customer\nX,ada@example.org\n".as_bytes(),
            &ImportOptions::default().match_by(MatchBy::Email),
        )
        .expect_err("deals by e-mail");
    assert!(
        by_mail.to_string().contains("options.match_by"),
        "{by_mail}"
    );
    let region = s
        .import_customers(
            "name\nA\n".as_bytes(),
            &ImportOptions::default().phone_region("Germany"),
        )
        .expect_err("region");
    assert!(
        region.to_string().contains("options.phone_region"),
        "{region}"
    );

    let task = s
        .log_activity(
            NewActivity::task("Call back", super::t0() + chrono::Duration::days(1))
                .customer(ada.id),
        )
        .expect("task");
    let csv = format!(
        "id,kind,subject,completed_at\n\
         {id},task,Call back,\n\
         {id},task,Call back,2025-01-02T09:00:00Z\n\
         {id},task,Call again,\n",
        id = task.id
    );
    let report = s
        .import_activities(
            csv.as_bytes(),
            &ImportOptions::default()
                .policy(ImportPolicy::SkipInvalid)
                .match_by(MatchBy::Id),
        )
        .expect("activities");
    assert_eq!(
        actions(&report),
        vec![PlanAction::Unchanged, PlanAction::Update, PlanAction::Error],
        "{report}"
    );
    assert_eq!(report.plan[1].changes[0].field, "completed_at");
    assert!(
        report.plan[2]
            .reason
            .as_deref()
            .unwrap_or("")
            .starts_with("subject: ")
    );
    assert!(s.activity(task.id).expect("task").completed_at.is_some());
}

/// Access holds on the import's paths too: a rep matching by e-mail does
/// not see another team's customer (the row is "no customer has this
/// e-mail address", as for an address nobody has), and a support agent,
/// who cannot write deals and does not see their amounts, gets an error
/// row that shows no amount.
pub fn import_plan_keeps_the_actors_access<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let system = crm.as_actor(Actor::System);
    let north = system.create_team(NewTeam::new("North")).expect("team");
    let south = system.create_team(NewTeam::new("South")).expect("team");
    let ana = system
        .create_user(
            NewUser::new("ana", "ana@example.com")
                .role(AccessRole::SalesRep)
                .team(north.id),
        )
        .expect("ana");
    let bo = system
        .create_user(
            NewUser::new("bo", "bo@example.com")
                .role(AccessRole::SalesRep)
                .team(south.id),
        )
        .expect("bo");
    let sam = system
        .create_user(NewUser::new("Sam", "sam@example.com").role(AccessRole::Support))
        .expect("sam");
    let pipeline = system
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let anas = system
        .create_customer(
            NewCustomer::person("Ana's")
                .email("a@example.org")
                .owner(ana.id),
        )
        .expect("customer");
    system
        .create_customer(
            NewCustomer::person("Bo's")
                .email("b@example.org")
                .owner(bo.id),
        )
        .expect("customer");
    let csv = "name,email,lifecycle\nAna's,a@example.org,prospect\nBo's,b@example.org,prospect\nNobody,n@example.org,prospect\n";
    let report = crm
        .as_user(ana.id)
        .import_customers(
            csv.as_bytes(),
            &ImportOptions::default()
                .dry_run(true)
                .match_by(MatchBy::Email)
                .unmatched(Unmatched::Error),
        )
        .expect("import");
    assert_eq!(
        actions(&report),
        vec![PlanAction::Update, PlanAction::Error, PlanAction::Error]
    );
    assert_eq!(report.plan[0].id, Some(anas.id.as_uuid()));
    assert_eq!(
        report.plan[1]
            .reason
            .as_deref()
            .map(|r| r.replace("b@", "n@")),
        report.plan[2].reason.clone(),
        "another team's customer reads as nobody's"
    );

    let deal = system
        .create_deal(
            NewDeal::new(anas.id, pipeline.id, "Secret")
                .amount(Money::parse("4711", "EUR").expect("money")),
        )
        .expect("deal");
    let csv = format!(
        "id,title,customer,amount,currency\n{},Secret,a@example.org,5000,EUR\n",
        deal.id
    );
    let report = crm
        .as_user(sam.id)
        .import_deals(
            csv.as_bytes(),
            &ImportOptions::default().dry_run(true).match_by(MatchBy::Id),
        )
        .expect("import");
    assert_eq!(actions(&report), vec![PlanAction::Error], "{report}");
    let text = format!("{report:?}");
    assert!(!text.contains("4711"), "a hidden amount leaked: {text}");
    assert_eq!(system.deal(deal.id).expect("deal").version, deal.version);
}

/// Property: for any file of customer rows (matched by e-mail against
/// what earlier cases left in the store), the dry run writes nothing and
/// plans exactly what the real run then does (ids of created records
/// aside), and importing the file once more right after plans no create
/// and no update: every row is unchanged or, again, an error.
pub fn import_plan_dry_run_equals_real_run_for_any_file<S: Store>(store: S) {
    use proptest::prelude::*;
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let row = (
        0usize..6,
        prop::sample::select(vec!["Ada", "Zoë Größer", "Jose\u{301}", "O'Brien", ""]),
        prop::sample::select(vec![
            "", "lead", "prospect", "customer", "churned", "client",
        ]),
        prop::sample::select(vec!["", "vip", "vip;b2b", "B2B"]),
        prop::sample::select(vec!["", "+49 30 1234567", "030 7654321", "12"]),
        any::<bool>(),
    );
    let mut runner = super::runner(32);
    runner
        .run(&proptest::collection::vec(row, 1..8), |rows| {
            // Distinct addresses within a file: rows of one file never
            // update each other's records.
            let mut csv = String::from("name;email;lifecycle;tags;phone\n");
            for (i, (who, name, lifecycle, tags, phone, good)) in rows.iter().enumerate() {
                let email = if *good {
                    format!("p{who}x{i}@example.org")
                } else {
                    format!("p{who}x{i}@example")
                };
                let email = if i % 2 == 0 {
                    format!("p{who}@example.org")
                } else {
                    email
                };
                csv.push_str(&format!("{name};{email};{lifecycle};\"{tags}\";{phone}\n"));
            }
            // The even rows share p{who}@: keep only the first of each.
            let mut seen = std::collections::BTreeSet::new();
            let csv: String = csv
                .lines()
                .filter(|l| {
                    l.split(';')
                        .nth(1)
                        .is_none_or(|e| seen.insert(e.to_owned()))
                })
                .map(|l| format!("{l}\n"))
                .collect();
            let options = ImportOptions::default()
                .policy(ImportPolicy::SkipInvalid)
                .match_by(MatchBy::Email)
                .phone_region("DE");
            let before = backup_of(&s);
            let dry = s
                .import_customers(csv.as_bytes(), &options.clone().dry_run(true))
                .expect("dry run");
            prop_assert_eq!(backup_of(&s), before);
            let real = s
                .import_customers(csv.as_bytes(), &options)
                .expect("import");
            let strip = |r: &ImportReport| {
                r.plan
                    .iter()
                    .map(|p| {
                        let mut p = p.clone();
                        if p.action == PlanAction::Create {
                            p.id = None;
                        }
                        p
                    })
                    .collect::<Vec<_>>()
            };
            prop_assert_eq!(strip(&dry), strip(&real), "{}", csv);
            let again = s.import_customers(csv.as_bytes(), &options).expect("again");
            for p in &again.plan {
                prop_assert!(
                    matches!(p.action, PlanAction::Unchanged | PlanAction::Error),
                    "row {} planned {:?} on a re-import: {:?}\n{}",
                    p.row,
                    p.action,
                    p.changes,
                    csv
                );
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
