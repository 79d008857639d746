//! Importing messy spreadsheets: a dry run with its report and the
//! duplicates it sees, the import itself (bad rows skipped and reported),
//! deals with their history, a duplicate search, merging what it found,
//! and an export.
//!
//! The sample files are `examples/data/customers.csv` and
//! `examples/data/deals.csv`: typos, a person whose company is unknown, a
//! date in the wrong format, a bad currency, an amount written the
//! European way, and the same people and companies entered twice.
//!
//! Then the CRM is kept in step with a spreadsheet: a German Excel export
//! of changes (`examples/data/customers_update_de.csv`: semicolons,
//! Windows-1252, day-first dates, national phone numbers) is matched to the
//! customers by e-mail; a dry run prints the plan of every row, the real
//! run applies it, and the failed rows come back as a file to fix.
//!
//! Run it with `cargo run --example import_csv`.

use std::collections::HashMap;

use crm_core::duplicate::DuplicateOptions;
use crm_core::import::{
    ColumnMap, DateOrder, ImportOptions, ImportPolicy, ImportReport, MatchBy, PlanAction,
};
use crm_core::merge::MergePolicy;
use crm_core::{Actor, Crm, CustomerId, CustomerQuery, DealQuery, PipelineDef, Session, Store};
use crm_store_sqlite::SqliteStore;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const CUSTOMERS: &str = include_str!("data/customers.csv");
const DEALS: &str = include_str!("data/deals.csv");
const UPDATES_DE: &[u8] = include_bytes!("data/customers_update_de.csv");

fn main() -> Res<()> {
    let crm = Crm::new(SqliteStore::open_in_memory()?);
    // An import job acts as the system, explicitly.
    let s = crm.as_actor(Actor::System);
    s.create_pipeline(PipelineDef::sales_template("Sales"))?;

    // The file's headers are not ours: map them.
    let customer_columns = ColumnMap::new()
        .column("kind", "Type")
        .column("organisation", "Company")
        .column("lifecycle", "Status")
        .column("created_at", "Customer since");

    // 1. A dry run: the full report, duplicates included, nothing written.
    let dry = s.import_customers(
        CUSTOMERS.as_bytes(),
        &ImportOptions::default()
            .dry_run(true)
            .columns(customer_columns.clone())
            .duplicates(DuplicateOptions::default()),
    )?;
    println!("1. Dry run of customers.csv\n");
    print_report(&dry);

    // 2. Import what is valid; the bad rows stay out and are reported.
    let customers = s.import_customers(
        CUSTOMERS.as_bytes(),
        &ImportOptions::default()
            .policy(ImportPolicy::SkipInvalid)
            .columns(customer_columns),
    )?;
    println!(
        "\n2. Imported {} of {} customers (the {} rows above with problems were skipped)",
        customers.valid_rows,
        customers.rows,
        customers.invalid_rows()
    );

    // 3. Deals, with their stage, amount and historical dates.
    let deals = s.import_deals(
        DEALS.as_bytes(),
        &ImportOptions::default()
            .policy(ImportPolicy::SkipInvalid)
            .columns(
                ColumnMap::new()
                    .column("title", "Deal")
                    .column("expected_close_date", "Close by")
                    .column("created_at", "Opened")
                    .column("won_at", "Won on")
                    .column("lost_at", "Lost on")
                    .column("lost_reason", "Why lost"),
            ),
    )?;
    println!("\n3. Import of deals.csv\n");
    print_report(&deals);
    print_deals(&s)?;

    // 4. Duplicates across the whole store, then merge each pair into the
    //    customer that was created first.
    let names = names(&s)?;
    let found = s.find_duplicates(&DuplicateOptions::default())?;
    println!("\n4. Duplicates found: {}", found.candidates.len());
    for pair in &found.candidates {
        let why: Vec<String> = pair
            .matches
            .iter()
            .map(|m| format!("{:?} {} ({:.2})", m.rule, m.evidence, m.score).to_lowercase())
            .collect();
        println!(
            "   {:<20} ~ {:<20} {}",
            names[&pair.a],
            names[&pair.b],
            why.join("; ")
        );
    }
    for pair in &found.candidates {
        let (a, b) = (s.customer(pair.a)?, s.customer(pair.b)?);
        let kept = s.merge_customers(a.id, a.version, b.id, b.version, &MergePolicy::default())?;
        println!(
            "   merged '{}' into '{}': now {} e-mail(s), tags [{}]",
            b.name,
            kept.name,
            kept.emails.len(),
            kept.tags
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    print_deals(&s)?;

    // 5. Export what is left, ready for a spreadsheet.
    let mut out = Vec::new();
    let rows = s.export_customers(&mut out)?;
    println!("\n5. Export: {rows} customers (merged ones are not listed)\n");
    for line in String::from_utf8(out)?.lines() {
        // Leave out the long id columns to keep the lines readable.
        let cells: Vec<&str> = line.split(',').collect();
        println!("   {}", cells[1..cells.len().min(8)].join(","));
    }

    // 6. Keeping in step: changes from a German spreadsheet, matched by
    //    e-mail. The dry run is the plan; the real run applies it.
    let options = ImportOptions::default()
        .match_by(MatchBy::Email)
        .policy(ImportPolicy::SkipInvalid)
        .date_order(DateOrder::DayMonthYear)
        .phone_region("DE")
        .failed_rows_csv(true);
    let plan = s.import_customers(UPDATES_DE, &options.clone().dry_run(true))?;
    println!("\n6. Plan for customers_update_de.csv (dry run, nothing written)\n");
    for note in &plan.detected {
        println!("   detected: {note}");
    }
    for row in &plan.plan {
        let what = match row.action {
            PlanAction::Update => row
                .changes
                .iter()
                .map(|c| format!("{} {} -> {}", c.field, c.old, c.new))
                .collect::<Vec<_>>()
                .join(", "),
            _ => row.reason.clone().unwrap_or_default(),
        };
        println!(
            "   row {}: {:<9} {what}",
            row.row,
            format!("{:?}", row.action).to_lowercase()
        );
    }
    let done = s.import_customers(UPDATES_DE, &options)?;
    let sum = done.summary;
    println!(
        "\n   applied: {} created, {} updated, {} unchanged, {} with problems",
        sum.create, sum.update, sum.unchanged, sum.error
    );
    println!("\n   failed rows, to fix and import again:\n");
    for line in done.failed_rows_csv.unwrap_or_default().lines() {
        println!("   {line}");
    }
    Ok(())
}

fn print_report(report: &ImportReport) {
    for line in report.to_string().lines() {
        println!("   {line}");
    }
}

fn names<S: Store>(s: &Session<'_, S>) -> Res<HashMap<CustomerId, String>> {
    let page = s.customers(&CustomerQuery::new().limit(100))?;
    Ok(page.items.into_iter().map(|c| (c.id, c.name)).collect())
}

fn print_deals<S: Store>(s: &Session<'_, S>) -> Res<()> {
    let names = names(s)?;
    println!(
        "\n   {:<18} {:<20} {:<12} {:>14}  opened      closed",
        "deal", "customer", "stage", "amount"
    );
    for d in s.deals(&DealQuery::new().limit(100))?.items {
        let closed = d.won_at.or(d.lost_at).map(|t| t.date_naive().to_string());
        println!(
            "   {:<18} {:<20} {:<12} {:>14}  {}  {}",
            d.title,
            names.get(&d.customer).map(String::as_str).unwrap_or("?"),
            d.stage.as_str(),
            d.amount.map(|m| m.to_string()).unwrap_or_default(),
            d.created_at.date_naive(),
            closed.unwrap_or_default()
        );
    }
    Ok(())
}
