//! First-response time and SLA attainment through the facade, on both
//! stores: records written through the facade at historical times, figures
//! worked out by hand. Berlin is UTC+1 in November and December 2026.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use crm_core::calendar::{BusinessCalendar, WeeklyHours};
use crm_core::kpi::KpiFilter;
use crm_core::kpi::report::KpiOptions;
use crm_core::kpi::response::{ResponseOptions, SlaStatus};
use crm_core::{
    AccessRole, ActivityKind, Actor, Crm, CustomerPatch, Direction, Lifecycle, ManualClock,
    NewActivity, NewCustomer, NewTeam, NewUser, SequentialIds, Store, UserId,
};
use crm_store_memory::MemoryStore;
use crm_store_sqlite::SqliteStore;
use rust_decimal::Decimal;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::from_str(&format!("{s}:00Z")).unwrap()
}

struct World<S: Store> {
    crm: Crm<S>,
    rita: UserId,
    sven: UserId,
}

/// Rita (North) creates lead A on Fri 27 Nov 18:30 Berlin and e-mails it
/// Mon 09:45 (45 business minutes); she creates lead D on Tue 1 Dec 09:00,
/// calls it 09:30 (30 minutes) and makes it a prospect at 10:00.
/// Sven (South) creates lead B on Mon 30 Nov 10:00 and calls it 15:00
/// (300 minutes). The system imports customer C (not a lead) and lead E
/// on Mon 30 Nov 16:00, which nobody answers (13 business hours by now).
/// The clock stands at Wed 2 Dec 13:00 Berlin.
fn world<S: Store>(store: S) -> World<S> {
    let crm = Crm::new(store)
        .with_clock(ManualClock::new(t("2026-12-02T12:00")))
        .with_ids(SequentialIds::new(11));
    let s = crm.as_actor(Actor::System);
    let north = s.create_team(NewTeam::new("North")).unwrap();
    let south = s.create_team(NewTeam::new("South")).unwrap();
    let rep = |name: &str, team| {
        s.create_user(
            NewUser::new(name, format!("{name}@example.com"))
                .role(AccessRole::SalesRep)
                .team(team),
        )
        .unwrap()
        .id
    };
    let (rita, sven) = (rep("rita", north.id), rep("sven", south.id));
    let out = |kind, customer, at: &str| {
        NewActivity::new(kind, "Reply")
            .customer(customer)
            .direction(Direction::Outbound)
            .occurred_at(t(at))
    };
    let r = |at: &str| crm.as_user(rita).at(t(at));
    let a = r("2026-11-27T17:30")
        .create_customer(NewCustomer::person("A"))
        .unwrap();
    r("2026-11-30T08:45")
        .log_activity(out(ActivityKind::Email, a.id, "2026-11-30T08:45"))
        .unwrap();
    let d = r("2026-12-01T08:00")
        .create_customer(NewCustomer::person("D"))
        .unwrap();
    r("2026-12-01T08:30")
        .log_activity(out(ActivityKind::Call, d.id, "2026-12-01T08:30"))
        .unwrap();
    r("2026-12-01T09:00")
        .update_customer(
            d.id,
            d.version,
            CustomerPatch::default().lifecycle(Lifecycle::Prospect),
        )
        .unwrap();
    let sv = |at: &str| crm.as_user(sven).at(t(at));
    let b = sv("2026-11-30T09:00")
        .create_customer(NewCustomer::person("B"))
        .unwrap();
    sv("2026-11-30T14:00")
        .log_activity(out(ActivityKind::Call, b.id, "2026-11-30T14:00"))
        .unwrap();
    s.at(t("2026-11-30T15:00"))
        .create_customer(NewCustomer::organisation("C").lifecycle(Lifecycle::Customer))
        .unwrap();
    s.at(t("2026-11-30T15:00"))
        .create_customer(NewCustomer::organisation("E").owner(sven))
        .unwrap();
    World { crm, rita, sven }
}

fn options() -> ResponseOptions {
    let cal = BusinessCalendar::new(
        "Europe/Berlin",
        WeeklyHours::weekdays("09:00-17:00").unwrap(),
    )
    .unwrap();
    ResponseOptions::new(cal).sla(Duration::hours(4))
}

fn check<S: Store>(w: World<S>) {
    let system = w.crm.as_actor(Actor::System);
    let r = system
        .first_response(&KpiFilter::default(), &options())
        .unwrap();
    // Leads A, B, D, E; answered A (45), B (300), D (30).
    assert_eq!((r.leads, r.answered, r.unanswered), (4, 3, 1));
    assert_eq!(r.business.median_minutes, Some(Decimal::from(45)));
    assert_eq!(r.business.mean_minutes, Some(Decimal::from(125))); // 375 / 3
    // A waited over the weekend: 2 d 15 h 15 min.
    assert_eq!(r.per_lead[0].wall_clock_ms, Some(3795 * 60_000));
    assert_eq!(r.per_lead[0].sla_due, Some(t("2026-11-30T12:00")));
    let sla = r.sla.clone().unwrap();
    // Met A and D; breached B (late) and E (13 h unanswered).
    assert_eq!((sla.met, sla.breached, sla.pending), (2, 2, 0));
    assert_eq!(sla.attainment, Some(Decimal::new(5, 1)));
    let e = r
        .per_lead
        .iter()
        .find(|l| l.first_response.is_none())
        .unwrap();
    assert_eq!(e.sla, Some(SlaStatus::Breached));

    // The KPI report carries the same figures when asked.
    let report = system
        .kpi_report(&KpiOptions {
            response: Some(options()),
            ..KpiOptions::default()
        })
        .unwrap();
    assert_eq!(report.first_response, Some(r));
    assert_eq!(
        system
            .kpi_report(&KpiOptions::default())
            .unwrap()
            .first_response,
        None
    );

    // Rita reads her team's customers: A and D, both met.
    let r = w
        .crm
        .as_user(w.rita)
        .first_response(&KpiFilter::default(), &options())
        .unwrap();
    assert_eq!((r.leads, r.answered), (2, 2));
    assert_eq!(r.sla.unwrap().attainment, Some(Decimal::ONE));
    // Sven reads B and E; E's creation event is the system's, which a sales
    // rep may not read, so E counts by its current lifecycle (still a lead).
    let r = w
        .crm
        .as_user(w.sven)
        .first_response(&KpiFilter::default(), &options())
        .unwrap();
    assert_eq!((r.leads, r.answered), (2, 1));
    assert_eq!(r.sla.unwrap().attainment, Some(Decimal::ZERO));

    // As of Monday 30 Nov 12:00 Berlin: only A (answered 09:45) and B
    // (created 10:00, 2 h unanswered, pending) exist.
    let r = system
        .at(t("2026-11-30T11:00"))
        .first_response(&KpiFilter::default(), &options())
        .unwrap();
    assert_eq!((r.leads, r.answered), (2, 1));
    let sla = r.sla.unwrap();
    assert_eq!((sla.met, sla.breached, sla.pending), (1, 0, 1));
    assert_eq!(sla.attainment, Some(Decimal::ONE));
}

#[test]
fn memory_store() {
    check(world(MemoryStore::new()));
}

#[test]
fn sqlite_store() {
    check(world(SqliteStore::open_in_memory().unwrap()));
}
