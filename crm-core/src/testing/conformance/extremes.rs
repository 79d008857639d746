//! Extreme times and durations, run on every store: records dated at the
//! ends of the representable range, "now" far in the past or future, and
//! every caller-controlled duration (rotting thresholds, windows, SLA
//! targets, CLV periods, rule offsets) at its bound. Nothing panics: each
//! report either computes or fails with a typed error naming the input.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::engine;
use crate::automation::{Action, NewRule, Trigger};
use crate::calendar::{BusinessCalendar, WeeklyHours};
use crate::import::ImportOptions;
use crate::kpi::report::KpiOptions;
use crate::kpi::response::ResponseOptions;
use crate::kpi::rotting::RottingThresholds;
use crate::kpi::{KpiFilter, Period};
use crate::limits;
use crate::segment::Expr;
use crate::*;

fn eur(s: &str) -> Money {
    Money::parse(s, "EUR").expect("money")
}

/// Runs every time-dependent read and `run_due` at `now`; returns the
/// names of those that failed (with a typed error, never a panic).
fn every_report_at<S: Store>(crm: &Crm<S>, now: DateTime<Utc>) -> Vec<String> {
    let s = crm.as_actor(Actor::System).at(now);
    let cal = BusinessCalendar::new(
        "Europe/Berlin",
        WeeklyHours::weekdays("09:00-17:00").expect("hours"),
    )
    .expect("calendar");
    let mut failed = Vec::new();
    let mut note = |what: &str, r: std::result::Result<(), Error>| {
        if let Err(e) = r {
            failed.push(format!("{what}: {e}"));
        }
    };
    let filter = KpiFilter::default();
    for days in [0, 1, u32::MAX] {
        note(
            "rotting",
            s.rotting_deals(&filter, &RottingThresholds::days(days))
                .map(drop),
        );
    }
    for sla in [TimeDelta::minutes(1), TimeDelta::MAX] {
        note(
            "first response",
            s.first_response(&filter, &ResponseOptions::new(cal.clone()).sla(sla))
                .map(drop),
        );
    }
    let mut options = KpiOptions {
        rotting: RottingThresholds::days(u32::MAX),
        response: Some(ResponseOptions::new(cal.clone()).sla(TimeDelta::MAX)),
        ..KpiOptions::default()
    };
    options.clv.period_days = u32::MAX;
    note("kpi report", s.kpi_report(&options).map(drop));
    for period in [
        Period::Day,
        Period::Week,
        Period::Month,
        Period::Quarter,
        Period::Year,
    ] {
        note(
            "revenue",
            s.revenue_by_period(&filter, period, crate::kpi::ReportZone::utc())
                .map(drop),
        );
    }
    note("activities", s.activity_metrics(&filter).map(drop));
    note(
        "purchases",
        s.purchase_summaries(&filter, now, crate::kpi::ReportZone::utc())
            .map(drop),
    );
    for text in [
        "created within 4294967295d",
        "created within 613566756w",
        "last_activity within 4294967295d",
        "last_won within 4294967295d",
        "days_since_last_activity > 4294967295",
        "days_since_last_activity < -4294967295",
        "won_amount(EUR, 4294967295d) > 0",
        "created > 9999-12-31",
        "updated < 0001-01-01",
    ] {
        match text.parse::<Expr>() {
            Ok(expr) => note(
                text,
                s.evaluate_expr(&expr, &PageRequest::default()).map(drop),
            ),
            Err(e) => note(text, Err(Error::Syntax(e))),
        }
    }
    let obs = crate::predict::Observation::new(now, Currency::EUR);
    note(
        "fit",
        s.fit_bgnbd::<crate::predict::Day>(&obs, &Default::default())
            .map(drop),
    );
    note("run_due", s.run_due(now).map(drop));
    failed
}

/// Records at the ends of time, and reports run with "now" at both ends
/// and in between, never panic; rules at their bounds run at both ends.
pub fn extreme_times_never_panic<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    let s = crm.as_actor(Actor::System);
    let start = clock.now();
    let past = DateTime::<Utc>::MIN_UTC;
    let future = clock::truncate_to_millis(DateTime::<Utc>::MAX_UTC);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let days = limits::MAX_RULE_DAYS as i32;
    for (name, trigger) in [
        (
            "idle",
            Trigger::DealIdle {
                days: limits::MAX_RULE_DAYS,
            },
        ),
        (
            "before",
            Trigger::DateReached {
                entity: EntityKind::Deal,
                field: "expected_close_date".into(),
                days: -days,
            },
        ),
        (
            "after",
            Trigger::DateReached {
                entity: EntityKind::Deal,
                field: "expected_close_date".into(),
                days,
            },
        ),
        (
            "sla",
            Trigger::FirstResponseOverdue {
                hours: limits::MAX_SLA_HOURS,
                calendar: BusinessCalendar::new(
                    "Europe/Berlin",
                    WeeklyHours::weekdays("09:00-17:00").expect("hours"),
                )
                .expect("calendar"),
            },
        ),
    ] {
        s.create_rule(NewRule::new(name, trigger).action(Action::CreateTask {
            title: "Follow up".into(),
            due_in_days: limits::MAX_RULE_DAYS,
        }))
        .expect("a rule at its bounds");
    }
    for (at, close) in [(past, NaiveDate::MIN), (future, NaiveDate::MAX)] {
        let s = s.at(at);
        let c = s
            .create_customer(NewCustomer::organisation("ACME"))
            .expect("a customer at an end of time");
        let d = s
            .create_deal(
                NewDeal::new(c.id, p.id, "Robots")
                    .amount(eur("100"))
                    .expected_close_date(close),
            )
            .expect("a deal at an end of time");
        s.log_activity(NewActivity::task("Call", at).deal(d.id))
            .expect("a task due at an end of time");
        let open = s
            .create_deal(NewDeal::new(c.id, p.id, "Open").expected_close_date(close))
            .expect("an open deal");
        let _ = open;
        s.win_deal(d.id, d.version).expect("won at an end of time");
        // A repeat purchase a week later (or earlier, at the far end).
        let again = if at == past {
            at + TimeDelta::days(7)
        } else {
            at - TimeDelta::days(7)
        };
        let s = crm.as_actor(Actor::System).at(again);
        let d = s
            .create_deal(NewDeal::new(c.id, p.id, "Spares").amount(eur("50")))
            .expect("a second deal");
        s.win_deal(d.id, d.version).expect("won");
    }
    for now in [past, start, future] {
        clock.set(now);
        let failed = every_report_at(&crm, now);
        // Only the model fit may refuse (two customers cannot identify
        // it); every report and `run_due` computes at both ends of time.
        assert!(
            failed.iter().all(|f| f.starts_with("fit: ")),
            "at {now}: {failed:#?}"
        );
    }
}

/// The date columns of the import below.
const DATE_COLUMNS: [&str; 6] = [
    "created_at",
    "expected_close_date",
    "won_at",
    "occurred_at",
    "due_at",
    "completed_at",
];

/// Imports with dates at and past the ends of the representable range:
/// every row is either imported or reported as a problem of its column;
/// nothing panics.
pub fn imports_with_extreme_dates_never_panic<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    s.create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    s.create_customer(NewCustomer::organisation("ACME"))
        .expect("acme");
    for date in [
        "9999-12-31",
        "9999-12-31T23:59:59Z",
        "+262142-12-31",
        "-262143-01-01",
        "-262144-01-01",
        "+262143-01-01",
        "99999999-01-01",
        "0000-01-01",
    ] {
        let csv = format!("name,created_at\nX {date},{date}\n");
        let r = s
            .import_customers(csv.as_bytes(), &ImportOptions::default())
            .expect("a customer import runs");
        assert!(
            r.written || r.problems.iter().all(|p| p.column == "created_at"),
            "{date}: {:?}",
            r.problems
        );
        let csv = format!(
            "title,customer,stage,amount,currency,expected_close_date,created_at,won_at\nD {date},ACME,won,1,EUR,{date},{date},{date}\n"
        );
        let r = s
            .import_deals(csv.as_bytes(), &ImportOptions::default())
            .expect("a deal import runs");
        assert!(
            r.written
                || r.problems
                    .iter()
                    .all(|p| DATE_COLUMNS.contains(&p.column.as_str())),
            "{date}: {:?}",
            r.problems
        );
        let csv = format!(
            "kind,subject,customer,occurred_at,due_at,completed_at\ntask,T {date},ACME,{date},{date},{date}\n"
        );
        let r = s
            .import_activities(csv.as_bytes(), &ImportOptions::default())
            .expect("an activity import runs");
        assert!(
            r.written
                || r.problems
                    .iter()
                    .all(|p| DATE_COLUMNS.contains(&p.column.as_str())),
            "{date}: {:?}",
            r.problems
        );
    }
    assert!(
        crm.as_actor(Actor::System)
            .verify()
            .expect("verify")
            .is_empty()
    );
}
