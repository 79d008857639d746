//! First-response time and SLA attainment: hand-computed fixtures and
//! property tests. Berlin is UTC+1 in November and December.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::customer::LifecycleChange;
use super::response::{FirstResponse, ResponseOptions, SlaStatus, first_response};
use super::{KpiError, KpiFilter};
use crate::activity::{Activity, ActivityKind, Direction};
use crate::calendar::{BusinessCalendar, WeeklyHours};
use crate::customer::{Customer, Lifecycle, PartyKind};
use crate::id::{ActivityId, CustomerId, UserId};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::from_str(&format!("{s}:00Z")).unwrap()
}
fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}
fn cid(n: u128) -> CustomerId {
    CustomerId::from_uuid(Uuid::from_u128(0x200 + n))
}
fn uid(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(0x300 + n))
}

fn customer(n: u128, owner: u128, created: &str, lifecycle: Lifecycle) -> Customer {
    Customer {
        id: cid(n),
        version: 1,
        kind: PartyKind::Person,
        name: format!("C{n}"),
        organisation: None,
        roles: BTreeSet::new(),
        lifecycle,
        emails: Vec::new(),
        phones: Vec::new(),
        owner: Some(uid(owner)),
        tags: BTreeSet::new(),
        created_at: t(created),
        updated_at: t(created),
        merged_into: None,
        custom: Default::default(),
    }
}

fn activity(
    n: u128,
    customer: u128,
    kind: ActivityKind,
    direction: Option<Direction>,
    at: &str,
) -> Activity {
    Activity {
        id: ActivityId::from_uuid(Uuid::from_u128(0x500 + n)),
        version: 1,
        kind,
        subject: format!("A{n}"),
        body: None,
        customer: Some(cid(customer)),
        deal: None,
        owner: Some(uid(1)),
        direction,
        occurred_at: t(at),
        due_at: None,
        completed_at: None,
        created_at: t(at),
        updated_at: t(at),
        custom: Default::default(),
    }
}

fn lc(c: u128, at: &str, seq: u64, to: Lifecycle) -> LifecycleChange {
    LifecycleChange {
        customer: cid(c),
        at: t(at),
        seq,
        to,
    }
}

const OUT: Option<Direction> = Some(Direction::Outbound);

/// L1 (U1) created Fri 27 Nov 18:30 Berlin, e-mailed Mon 09:45: 45 business
///    minutes, 2 d 15 h 15 min = 3795 wall minutes; an inbound call and a
///    note before do not count. SLA due Mon 13:00 Berlin.
/// L2 (U1) created Mon 30 Nov 10:00 Berlin, called 15:00: 300 and 300 minutes.
/// L3 (U2) created Mon 16:00 Berlin, unanswered; by now 1 + 8 + 4 = 13 h.
/// L4 (U2) created Wed 2 Dec 11:00 Berlin, unanswered; by now 2 h.
/// L5 (U2) created Tue 1 Dec 08:00 Berlin (before opening), met 12:00:
///    180 business and 240 wall minutes; a back-dated call before its
///    creation and a later e-mail do not count.
/// C6 was created as a customer: not a lead. C7 (U2) was created as a lead
///    (now a prospect) Tue 09:00 Berlin and called 09:30: 30 and 30 minutes.
/// C8 is merged, C9 created after now, C10 before the window: not leads.
/// Now: Wed 2 Dec 13:00 Berlin.
fn fixture() -> (Vec<Customer>, Vec<Activity>, Vec<LifecycleChange>) {
    use ActivityKind::*;
    let mut c8 = customer(8, 1, "2026-11-30T09:00", Lifecycle::Lead);
    c8.merged_into = Some(cid(1));
    let customers = vec![
        customer(1, 1, "2026-11-27T17:30", Lifecycle::Lead),
        customer(2, 1, "2026-11-30T09:00", Lifecycle::Lead),
        customer(3, 2, "2026-11-30T15:00", Lifecycle::Lead),
        customer(4, 2, "2026-12-02T10:00", Lifecycle::Lead),
        customer(5, 2, "2026-12-01T07:00", Lifecycle::Lead),
        customer(6, 1, "2026-11-30T09:00", Lifecycle::Customer),
        customer(7, 2, "2026-12-01T08:00", Lifecycle::Prospect),
        c8,
        customer(9, 1, "2026-12-02T12:30", Lifecycle::Lead),
        customer(10, 1, "2026-10-30T09:00", Lifecycle::Lead),
    ];
    let activities = vec![
        activity(1, 1, Call, Some(Direction::Inbound), "2026-11-28T10:00"),
        activity(2, 1, Note, None, "2026-11-28T11:00"),
        activity(3, 1, Email, OUT, "2026-11-30T08:45"),
        activity(4, 1, Call, OUT, "2026-11-30T09:00"),
        activity(5, 2, Call, OUT, "2026-11-30T14:00"),
        activity(6, 3, Task, None, "2026-11-30T15:30"),
        activity(7, 5, Call, OUT, "2026-11-30T10:00"),
        activity(8, 5, Meeting, OUT, "2026-12-01T11:00"),
        activity(9, 5, Email, OUT, "2026-12-01T12:00"),
        activity(10, 6, Email, OUT, "2026-11-30T09:30"),
        activity(11, 7, Call, OUT, "2026-12-01T08:30"),
        activity(12, 8, Call, OUT, "2026-11-30T09:10"),
        activity(13, 4, Email, OUT, "2026-12-02T12:30"), // after now
        activity(14, 10, Email, OUT, "2026-11-02T09:00"),
    ];
    let lifecycle = vec![
        lc(6, "2026-11-30T09:00", 1, Lifecycle::Customer),
        lc(7, "2026-12-02T09:00", 9, Lifecycle::Prospect),
        lc(7, "2026-12-01T08:00", 5, Lifecycle::Lead),
    ];
    (customers, activities, lifecycle)
}

fn berlin() -> BusinessCalendar {
    BusinessCalendar::new(
        "Europe/Berlin",
        WeeklyHours::weekdays("09:00-17:00").unwrap(),
    )
    .unwrap()
}

fn window() -> KpiFilter {
    KpiFilter::default()
        .window(t("2026-11-01T00:00"), t("2027-01-01T00:00"))
        .unwrap()
}

fn now() -> DateTime<Utc> {
    t("2026-12-02T12:00")
}

fn run(filter: &KpiFilter, options: &ResponseOptions) -> FirstResponse {
    let (c, a, l) = fixture();
    first_response(&c, &a, &l, filter, options, now()).unwrap()
}

#[test]
fn first_response_in_business_and_wall_clock_time() {
    let r = run(
        &window(),
        &ResponseOptions::new(berlin()).sla(Duration::hours(4)),
    );
    assert_eq!((r.leads, r.answered, r.unanswered), (6, 4, 2));
    let order: Vec<CustomerId> = r.per_lead.iter().map(|l| l.customer).collect();
    assert_eq!(order, [cid(1), cid(2), cid(3), cid(5), cid(7), cid(4)]);
    let l1 = &r.per_lead[0];
    assert_eq!(
        l1.first_response,
        Some(ActivityId::from_uuid(Uuid::from_u128(0x503)))
    );
    assert_eq!(l1.responded_at, Some(t("2026-11-30T08:45")));
    assert_eq!(l1.business_ms, Some(45 * 60_000));
    assert_eq!(l1.wall_clock_ms, Some(3795 * 60_000));
    assert_eq!(l1.sla_due, Some(t("2026-11-30T12:00")));
    assert_eq!(l1.sla, Some(SlaStatus::Met));
    let by = |n| r.per_lead.iter().find(|l| l.customer == cid(n)).unwrap();
    assert_eq!(
        (by(2).business_ms, by(2).sla),
        (Some(300 * 60_000), Some(SlaStatus::Breached))
    );
    assert_eq!(by(2).sla_due, Some(t("2026-11-30T13:00")));
    assert_eq!(
        (by(3).business_ms, by(3).sla),
        (None, Some(SlaStatus::Breached))
    );
    assert_eq!(by(3).sla_due, Some(t("2026-12-01T11:00")));
    assert_eq!(
        (by(4).sla, by(4).sla_due),
        (Some(SlaStatus::Pending), Some(t("2026-12-02T14:00")))
    );
    assert_eq!(
        (by(5).business_ms, by(5).wall_clock_ms, by(5).sla),
        (Some(180 * 60_000), Some(240 * 60_000), Some(SlaStatus::Met))
    );
    assert_eq!(by(7).business_ms, Some(30 * 60_000));

    // Business minutes 30, 45, 180, 300: mean 555 / 4, median (45 + 180) / 2,
    // p90 the ceil(3.6) = 4th smallest.
    assert_eq!(r.business.count, 4);
    assert_eq!(r.business.mean_minutes, Some(dec("138.75")));
    assert_eq!(r.business.median_minutes, Some(dec("112.5")));
    assert_eq!(r.business.p90_minutes, Some(dec("300")));
    // Wall minutes 30, 240, 300, 3795: mean 4365 / 4, median (240 + 300) / 2.
    assert_eq!(r.wall_clock.mean_minutes, Some(dec("1091.25")));
    assert_eq!(r.wall_clock.median_minutes, Some(dec("270")));
    assert_eq!(r.wall_clock.p90_minutes, Some(dec("3795")));

    // Met L1, L5, C7; breached L2 (late), L3 (13 h unanswered); pending L4.
    let sla = r.sla.unwrap();
    assert_eq!((sla.met, sla.breached, sla.pending), (3, 2, 1));
    assert_eq!(sla.attainment, Some(dec("0.6")));
    assert_eq!(sla.target_minutes, dec("240"));
}

#[test]
fn a_longer_target_and_an_owner() {
    // 5 h: L2 (300 min) now meets it; L3 (13 h) still breaches; L4 pending.
    let r = run(
        &window(),
        &ResponseOptions::new(berlin()).sla(Duration::hours(5)),
    );
    let sla = r.sla.unwrap();
    assert_eq!((sla.met, sla.breached, sla.pending), (4, 1, 1));
    assert_eq!(sla.attainment, Some(dec("0.8")));
    // U1's leads: L1 (met) and L2 (breached at 4 h).
    let r = run(
        &window().owner(uid(1)),
        &ResponseOptions::new(berlin()).sla(Duration::hours(4)),
    );
    assert_eq!((r.leads, r.answered), (2, 2));
    let sla = r.sla.unwrap();
    assert_eq!(
        (sla.met, sla.breached, sla.attainment),
        (1, 1, Some(dec("0.5")))
    );
    // Two values, 45 and 300 business minutes: median 172.5, p90 the ceil(1.8) = 2nd.
    assert_eq!(r.business.median_minutes, Some(dec("172.5")));
    assert_eq!(r.business.p90_minutes, Some(dec("300")));
}

#[test]
fn without_a_calendar_or_target() {
    // Around the clock, business time is wall-clock time; no SLA figures.
    let r = run(&window(), &ResponseOptions::default());
    assert_eq!(r.business, r.wall_clock);
    assert!(r.sla.is_none());
    assert!(
        r.per_lead
            .iter()
            .all(|l| l.sla.is_none() && l.sla_due.is_none())
    );
    // A window holding only C10 (created 30 Oct): answered on 2 Nov, 3 d 0 h.
    let october = KpiFilter::default()
        .window(t("2026-10-01T00:00"), t("2026-11-01T00:00"))
        .unwrap();
    let r = run(&october, &ResponseOptions::default());
    assert_eq!((r.leads, r.answered), (1, 1));
    assert_eq!(r.wall_clock.mean_minutes, Some(dec("4320")));
}

#[test]
fn bad_targets_are_refused() {
    let (c, a, l) = fixture();
    for target in [Duration::zero(), Duration::minutes(-5)] {
        let e = first_response(
            &c,
            &a,
            &l,
            &window(),
            &ResponseOptions::new(berlin()).sla(target),
            now(),
        )
        .unwrap_err();
        assert!(matches!(
            e,
            KpiError::InvalidParameter {
                parameter: "sla_target",
                ..
            }
        ));
    }
}

#[test]
fn a_calendar_that_never_opens() {
    let closed = BusinessCalendar::new("UTC", WeeklyHours::closed()).unwrap();
    let r = run(
        &window(),
        &ResponseOptions::new(closed).sla(Duration::hours(1)),
    );
    // No business time ever elapses: answered leads met it, the others wait.
    let sla = r.sla.unwrap();
    assert_eq!((sla.met, sla.breached, sla.pending), (4, 0, 2));
    assert!(r.per_lead.iter().all(|l| l.sla_due.is_none()));
    assert_eq!(r.business.mean_minutes, Some(dec("0")));
}

// ----- properties -----

/// Leads created over three weeks of November 2026 (minutes after Nov 2
/// 00:00 UTC), with responses and other activities after them.
type Spec = (Vec<(u32, bool)>, Vec<(usize, u32, u8, bool)>);

fn spec() -> impl Strategy<Value = Spec> {
    (
        proptest::collection::vec((0u32..21 * 1440, any::<bool>()), 0..12),
        proptest::collection::vec((0usize..12, 0u32..10 * 1440, 0u8..5, any::<bool>()), 0..30),
    )
}

fn records(spec: &Spec) -> (Vec<Customer>, Vec<Activity>) {
    let base = t("2026-11-02T00:00");
    let customers: Vec<Customer> = spec
        .0
        .iter()
        .enumerate()
        .map(|(i, &(m, lead))| {
            let mut c = customer(i as u128, 1, "2026-11-02T00:00", Lifecycle::Lead);
            c.created_at = base + Duration::minutes(i64::from(m));
            if !lead {
                c.lifecycle = Lifecycle::Customer;
            }
            c
        })
        .collect();
    let kinds = [
        ActivityKind::Call,
        ActivityKind::Email,
        ActivityKind::Meeting,
        ActivityKind::Note,
        ActivityKind::Task,
    ];
    let activities = spec
        .1
        .iter()
        .enumerate()
        .filter(|(_, a)| a.0 < customers.len())
        .map(|(n, &(c, after, kind, out))| {
            let mut a = activity(
                n as u128,
                c as u128,
                kinds[kind as usize],
                None,
                "2026-11-02T00:00",
            );
            a.direction = (kind < 3).then_some(if out {
                Direction::Outbound
            } else {
                Direction::Inbound
            });
            a.occurred_at = customers[c].created_at + Duration::minutes(i64::from(after));
            a
        })
        .collect();
    (customers, activities)
}

proptest! {
    #[test]
    fn attainment_is_a_rate_and_monotone_in_the_target(spec in spec(), h1 in 1i64..40, h2 in 1i64..40) {
        let (c, a) = records(&spec);
        let now = t("2026-11-30T00:00");
        let (lo, hi) = (h1.min(h2), h1.max(h2));
        let r = |h: i64| {
            first_response(&c, &a, &[], &KpiFilter::default(), &ResponseOptions::new(berlin()).sla(Duration::hours(h)), now)
                .unwrap()
        };
        let (rl, rh) = (r(lo), r(hi));
        let (sl, sh) = (rl.sla.clone().unwrap(), rh.sla.clone().unwrap());
        prop_assert_eq!(rl.leads, sl.met + sl.breached + sl.pending);
        prop_assert_eq!(rl.answered + rl.unanswered, rl.leads);
        for s in [&sl, &sh] {
            if let Some(x) = s.attainment {
                prop_assert!(Decimal::ZERO <= x && x <= Decimal::ONE);
            }
        }
        prop_assert!(sh.met >= sl.met);
        prop_assert!(sh.breached <= sl.breached);
        if let (Some(x), Some(y)) = (sl.attainment, sh.attainment) {
            prop_assert!(y >= x);
        }
        // Business time never exceeds wall-clock time.
        for l in &rl.per_lead {
            prop_assert!(l.business_ms <= l.wall_clock_ms);
        }
    }

    #[test]
    fn order_does_not_matter(spec in spec(), seed in any::<u64>()) {
        let (mut c, mut a) = records(&spec);
        let options = ResponseOptions::new(berlin()).sla(Duration::hours(4));
        let now = t("2026-11-30T00:00");
        let one = first_response(&c, &a, &[], &KpiFilter::default(), &options, now).unwrap();
        // A deterministic shuffle: rotate and reverse.
        let k = (seed as usize) % (c.len().max(1));
        c.rotate_left(k);
        a.reverse();
        let two = first_response(&c, &a, &[], &KpiFilter::default(), &options, now).unwrap();
        prop_assert_eq!(one, two);
    }
}
