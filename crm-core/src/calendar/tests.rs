//! Worked examples (expected values computed by hand) and property tests
//! against a brute-force minute-stepping reference that lives only here.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc, Weekday};
use proptest::prelude::*;

use super::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn office(tz: &str) -> BusinessCalendar {
    BusinessCalendar::new(tz, WeeklyHours::weekdays("09:00-17:00").unwrap()).unwrap()
}

/// The same interval on all seven days.
fn every_day(tz: &str, interval: &str) -> BusinessCalendar {
    let mut h = WeeklyHours::closed();
    for i in 0..7 {
        h = h.with(hours::weekday(i), interval).unwrap();
    }
    BusinessCalendar::new(tz, h).unwrap()
}

// ----- worked examples -----

#[test]
fn friday_evening_lead_answered_monday_morning() {
    let cal = office("Europe/Berlin");
    // Friday 2026-11-27 18:30 in Berlin (CET, UTC+1) is 17:30 UTC.
    let created = utc(2026, 11, 27, 17, 30);
    // Monday 2026-11-30 09:45 in Berlin is 08:45 UTC: 45 business minutes.
    let answered = utc(2026, 11, 30, 8, 45);
    assert_eq!(
        cal.business_time_between(created, answered),
        Duration::minutes(45)
    );
    assert_eq!(
        cal.business_time_between(answered, created),
        Duration::zero()
    );
    // Four business hours from Friday evening: Monday 13:00 Berlin = 12:00 UTC.
    assert_eq!(
        cal.add_business_time(created, Duration::hours(4)).unwrap(),
        utc(2026, 11, 30, 12, 0)
    );
    assert!(!cal.is_open(created));
    assert!(cal.is_open(answered));
    assert!(cal.is_open(utc(2026, 11, 30, 8, 0))); // 09:00 Berlin, inclusive
    assert!(!cal.is_open(utc(2026, 11, 30, 16, 0))); // 17:00 Berlin, exclusive
}

#[test]
fn holidays_close_whole_days() {
    let cal = office("Europe/Berlin").with_holidays([date(2026, 12, 24), date(2026, 12, 25)]);
    // Wednesday 2026-12-23 16:00 Berlin (15:00 UTC) to Monday 2026-12-28
    // 10:00 Berlin (09:00 UTC): 1 h Wednesday + Thu/Fri closed + 1 h Monday.
    let created = utc(2026, 12, 23, 15, 0);
    assert_eq!(
        cal.business_time_between(created, utc(2026, 12, 28, 9, 0)),
        Duration::hours(2)
    );
    // 4 h: 1 h Wednesday, then Monday 09:00 + 3 h = 12:00 Berlin = 11:00 UTC.
    assert_eq!(
        cal.add_business_time(created, Duration::hours(4)).unwrap(),
        utc(2026, 12, 28, 11, 0)
    );
    assert!(!cal.is_open(utc(2026, 12, 24, 10, 0)));
}

#[test]
fn a_year_of_office_hours() {
    // 2026 starts on a Thursday: 52 weeks and one Thursday, 261 weekdays.
    let from = utc(2025, 12, 31, 23, 0); // 2026-01-01 00:00 Berlin
    let to = utc(2026, 12, 31, 23, 0); // 2027-01-01 00:00 Berlin
    let cal = office("Europe/Berlin");
    assert_eq!(
        cal.business_time_between(from, to),
        Duration::hours(261 * 8)
    );
    // New Year (Thu) and Christmas Day (Fri) off; 26 December is a Saturday.
    let cal = cal.with_holidays([date(2026, 1, 1), date(2026, 12, 25), date(2026, 12, 26)]);
    assert_eq!(
        cal.business_time_between(from, to),
        Duration::hours(259 * 8)
    );
    // Open around the clock: the two clock changes cancel out over the year …
    let always = every_day("Europe/Berlin", "00:00-24:00");
    assert_eq!(
        always.business_time_between(from, to),
        Duration::hours(365 * 24)
    );
    // … but the first half year loses the hour of 29 March: 181 days less one hour.
    let july = utc(2026, 6, 30, 22, 0); // 2026-07-01 00:00 CEST
    assert_eq!(
        always.business_time_between(from, july),
        Duration::hours(181 * 24 - 1)
    );
}

#[test]
fn berlin_dst_days_keep_office_hours() {
    let cal = every_day("Europe/Berlin", "09:00-17:00");
    // Spring forward on Sunday 2026-03-29 at 02:00 CET (01:00 UTC).
    // Saturday 09:00-17:00 CET is 08:00-16:00 UTC, Sunday 09:00-17:00 CEST 07:00-15:00 UTC.
    let (sat, mon) = (utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 0, 0));
    assert_eq!(cal.business_time_between(sat, mon), Duration::hours(16));
    assert!(cal.is_open(utc(2026, 3, 29, 7, 0)));
    assert!(!cal.is_open(utc(2026, 3, 29, 6, 59)));
    assert!(!cal.is_open(utc(2026, 3, 29, 15, 0)));
    // Fall back on Sunday 2026-10-25 at 03:00 CEST (01:00 UTC): still 8 h a day.
    let (sat, mon) = (utc(2026, 10, 24, 0, 0), utc(2026, 10, 26, 0, 0));
    assert_eq!(cal.business_time_between(sat, mon), Duration::hours(16));
    // Sunday 09:00 CET is 08:00 UTC.
    assert_eq!(
        cal.add_business_time(utc(2026, 10, 24, 16, 0), Duration::hours(1))
            .unwrap(),
        utc(2026, 10, 25, 9, 0)
    );
}

#[test]
fn berlin_intervals_across_the_change() {
    let cal = |interval: &str| {
        BusinessCalendar::new(
            "Europe/Berlin",
            WeeklyHours::closed().with(Weekday::Sun, interval).unwrap(),
        )
        .unwrap()
    };
    let week = |c: &BusinessCalendar, y: i32, m: u32, d: u32| {
        // The whole Sunday, from Saturday noon to Monday noon UTC.
        c.business_time_between(utc(y, m, d - 1, 12, 0), utc(y, m, d + 1, 12, 0))
    };
    // 00:00-06:00 across spring forward: 23:00 UTC (28th) to 04:00 UTC = 5 h.
    assert_eq!(week(&cal("00:00-06:00"), 2026, 3, 29), Duration::hours(5));
    // Across fall back: 00:00 CEST = 22:00 UTC (24th) to 06:00 CET = 05:00 UTC = 7 h.
    assert_eq!(week(&cal("00:00-06:00"), 2026, 10, 25), Duration::hours(7));
    // An interval inside the skipped hour 02:00-03:00 is empty that day …
    assert_eq!(week(&cal("02:15-02:45"), 2026, 3, 29), Duration::zero());
    // … and 30 minutes on an ordinary Sunday.
    assert_eq!(
        week(&cal("02:15-02:45"), 2026, 3, 22),
        Duration::minutes(30)
    );
    // A start in the skipped hour starts when the gap ends (03:00 CEST = 01:00 UTC):
    // 02:30-04:00 lasts 1 h.
    assert_eq!(week(&cal("02:30-04:00"), 2026, 3, 29), Duration::hours(1));
    // An end in the repeated hour is its first occurrence: 00:00-02:30 on
    // 25 October is 22:00 UTC to 00:30 UTC, 2.5 h.
    assert_eq!(
        week(&cal("00:00-02:30"), 2026, 10, 25),
        Duration::minutes(150)
    );
}

#[test]
fn new_york_dst_weekend() {
    let cal = office("America/New_York");
    // US spring forward on Sunday 2026-03-08. Friday 2026-03-06 16:00 EST
    // is 21:00 UTC; Monday 2026-03-09 10:00 EDT is 14:00 UTC: 1 h + 1 h.
    let created = utc(2026, 3, 6, 21, 0);
    let answered = utc(2026, 3, 9, 14, 0);
    assert_eq!(
        cal.business_time_between(created, answered),
        Duration::hours(2)
    );
    // 8 business hours: 1 h Friday, then Monday 09:00 EDT + 7 h = 16:00 EDT = 20:00 UTC.
    assert_eq!(
        cal.add_business_time(created, Duration::hours(8)).unwrap(),
        utc(2026, 3, 9, 20, 0)
    );
    // Around the clock: Sunday 8 March has 23 hours, Sunday 1 November 25.
    let always = every_day("America/New_York", "00:00-24:00");
    assert_eq!(
        always.business_time_between(utc(2026, 3, 8, 5, 0), utc(2026, 3, 9, 4, 0)),
        Duration::hours(23)
    );
    assert_eq!(
        always.business_time_between(utc(2026, 11, 1, 4, 0), utc(2026, 11, 2, 5, 0)),
        Duration::hours(25)
    );
}

#[test]
fn lunch_break() {
    let h = WeeklyHours::closed()
        .with(Weekday::Mon, "13:00-17:00")
        .unwrap()
        .with(Weekday::Mon, "09:00-12:00")
        .unwrap();
    assert_eq!(
        h.day(Weekday::Mon)
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>(),
        ["09:00-12:00", "13:00-17:00"]
    );
    let cal = BusinessCalendar::new("UTC", h).unwrap();
    // Monday 2026-11-30 11:00 to 14:00: 1 h before lunch, 1 h after.
    let mon = |h, m| utc(2026, 11, 30, h, m);
    assert_eq!(
        cal.business_time_between(mon(11, 0), mon(14, 0)),
        Duration::hours(2)
    );
    // One hour from 11:30: 30 min before lunch, 30 min after: 13:30.
    assert_eq!(
        cal.add_business_time(mon(11, 30), Duration::hours(1))
            .unwrap(),
        mon(13, 30)
    );
    // Exactly the morning's rest ends at 12:00, the earliest such instant.
    assert_eq!(
        cal.add_business_time(mon(11, 0), Duration::hours(1))
            .unwrap(),
        mon(12, 0)
    );
    assert!(!cal.is_open(mon(12, 30)));
    // A full Monday is 7 h; the next Monday follows a week later.
    assert_eq!(
        cal.add_business_time(mon(17, 0), Duration::hours(8))
            .unwrap(),
        utc(2026, 12, 14, 10, 0)
    );
}

#[test]
fn always_open_is_wall_clock_time() {
    let cal = BusinessCalendar::always_open();
    assert_eq!(cal, every_day("UTC", "00:00-24:00"));
    let (a, b) = (utc(2026, 3, 27, 13, 7), utc(2026, 4, 2, 1, 0));
    assert_eq!(cal.business_time_between(a, b), b - a);
    assert_eq!(cal.add_business_time(a, b - a).unwrap(), b);
}

#[test]
fn sub_second_precision() {
    let cal = office("UTC");
    let from = utc(2026, 11, 30, 9, 0) + Duration::nanoseconds(1);
    let to = utc(2026, 11, 30, 10, 0) - Duration::nanoseconds(2);
    assert_eq!(
        cal.business_time_between(from, to),
        Duration::hours(1) - Duration::nanoseconds(3)
    );
    assert_eq!(
        cal.add_business_time(from, Duration::hours(1)).unwrap(),
        from + Duration::hours(1)
    );
}

#[test]
fn bad_input_is_a_typed_error() {
    assert!(matches!(
        "17:00-09:00".parse::<Interval>(),
        Err(CalendarError::InvertedInterval { .. })
    ));
    assert!(matches!(
        "09:00-09:00".parse::<Interval>(),
        Err(CalendarError::InvertedInterval { .. })
    ));
    for bad in [
        "25:00", "9:00", "09:60", "24:30", "ab:cd", "0900", "09:00:00",
    ] {
        assert!(
            matches!(
                bad.parse::<LocalTime>(),
                Err(CalendarError::InvalidTime { .. })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        "24:00-24:00".parse::<Interval>(),
        Err(CalendarError::InvertedInterval { .. })
    ));
    assert!("22:00-24:00".parse::<Interval>().is_ok());
    let e = WeeklyHours::weekdays("09:00-17:00")
        .unwrap()
        .with(Weekday::Tue, "16:59-18:00")
        .unwrap_err();
    assert_eq!(
        e,
        CalendarError::OverlappingIntervals {
            weekday: Weekday::Tue,
            first: "09:00-17:00".into(),
            second: "16:59-18:00".into()
        }
    );
    assert!(
        WeeklyHours::weekdays("09:00-17:00")
            .unwrap()
            .with(Weekday::Tue, "17:00-18:00")
            .is_ok()
    );
    assert!(matches!(
        BusinessCalendar::new("Mars/Olympus_Mons", WeeklyHours::closed()),
        Err(CalendarError::UnknownTimeZone { .. })
    ));
    let cal = office("UTC");
    assert!(matches!(
        cal.add_business_time(utc(2026, 1, 1, 0, 0), Duration::seconds(-1)),
        Err(CalendarError::NegativeDuration { .. })
    ));
    let e: crate::Error = CalendarError::NoOpenHours.into();
    assert!(matches!(
        e,
        crate::Error::Calendar(CalendarError::NoOpenHours)
    ));
}

#[test]
fn a_calendar_without_hours_never_elapses() {
    let cal = BusinessCalendar::new("Europe/Berlin", WeeklyHours::closed()).unwrap();
    let t = utc(2026, 1, 1, 0, 0);
    assert_eq!(
        cal.business_time_between(t, t + Duration::days(10_000)),
        Duration::zero()
    );
    assert_eq!(
        cal.add_business_time(t, Duration::minutes(1)),
        Err(CalendarError::NoOpenHours)
    );
    assert_eq!(cal.add_business_time(t, Duration::zero()), Ok(t));
    // Hours but every open day a holiday: the search ends at the range's end.
    let only_monday = BusinessCalendar::new(
        "UTC",
        WeeklyHours::closed()
            .with(Weekday::Mon, "09:00-10:00")
            .unwrap(),
    )
    .unwrap()
    .with_holiday(date(2026, 11, 30));
    assert_eq!(
        only_monday
            .add_business_time(utc(2026, 11, 29, 0, 0), Duration::hours(1))
            .unwrap(),
        utc(2026, 12, 7, 10, 0)
    );
}

#[test]
fn far_dates_do_not_panic() {
    let cal = office("America/New_York").with_holiday(date(2026, 1, 1));
    let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    let all = cal.business_time_between(min, max);
    // About 524 000 years of 40-hour weeks.
    assert!(all > Duration::days(365 * 100_000), "{all}");
    assert!(!cal.is_open(min));
    assert!(!cal.is_open(max));
    assert_eq!(
        cal.add_business_time(max - Duration::days(1), Duration::hours(1)),
        Err(CalendarError::OutOfRange)
    );
    assert!(cal.add_business_time(min, Duration::hours(1)).is_ok());
    let huge = cal.add_business_time(utc(2026, 1, 1, 0, 0), Duration::days(365 * 1000));
    // 1000 years of business time at 40 h a week is 4200 years of calendar time.
    let due = huge.unwrap();
    assert_eq!(due.year() / 100, (2026 + 4200) / 100);
}

#[test]
fn serde_round_trip() {
    let cal = office("Europe/Berlin").with_holiday(date(2026, 12, 25));
    let json = serde_json::to_value(&cal).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "time_zone": "Europe/Berlin",
            "weekly_hours": {
                "mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"],
                "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]
            },
            "holidays": ["2026-12-25"]
        })
    );
    let back: BusinessCalendar = serde_json::from_value(json).unwrap();
    assert_eq!(back, cal);
    for bad in [
        r#"{"time_zone": "Nowhere/City", "weekly_hours": {}}"#,
        r#"{"time_zone": "UTC", "weekly_hours": {"monday": ["09:00-17:00"]}}"#,
        r#"{"time_zone": "UTC", "weekly_hours": {"mon": ["17:00-09:00"]}}"#,
        r#"{"time_zone": "UTC", "weekly_hours": {}, "extra": 1}"#,
    ] {
        assert!(
            serde_json::from_str::<BusinessCalendar>(bad).is_err(),
            "{bad}"
        );
    }
}

// ----- the brute-force reference -----

/// The first instant, stepping by minutes, at which the wall clock in `tz`
/// shows `local` or later.
fn first_reached(tz: chrono_tz::Tz, local: chrono::NaiveDateTime) -> i64 {
    use chrono::Offset;
    let wall = |t: i64| {
        let dt = DateTime::from_timestamp(t, 0).unwrap();
        t + i64::from(
            tz.offset_from_utc_datetime(&dt.naive_utc())
                .fix()
                .local_minus_utc(),
        )
    };
    let target = local.and_utc().timestamp();
    let guess = wall(target) - target; // the offset near that time
    let mut t = target - guess - 3 * 3600;
    assert!(wall(t) < target);
    while wall(t) < target {
        t += 60;
    }
    t
}

/// Business minutes in `[from, to)` (both whole minutes), one by one.
fn brute_minutes(cal: &BusinessCalendar, from: i64, to: i64) -> i64 {
    let tz = cal.zone.tz;
    let d0 = DateTime::from_timestamp(from, 0).unwrap().date_naive() - Duration::days(2);
    let d1 = DateTime::from_timestamp(to, 0).unwrap().date_naive() + Duration::days(2);
    let mut spans = Vec::new();
    let mut d = d0;
    while d <= d1 {
        if !cal.holidays.contains(&d) {
            for i in cal.hours.day(d.weekday()) {
                let at = |t: LocalTime| {
                    let m = i64::from(t.minutes());
                    d.and_hms_opt(0, 0, 0).unwrap() + Duration::minutes(m)
                };
                spans.push((
                    first_reached(tz, at(i.start())),
                    first_reached(tz, at(i.end())),
                ));
            }
        }
        d = d.succ_opt().unwrap();
    }
    (0..(to - from) / 60)
        .filter(|k| {
            let t = from + k * 60;
            spans.iter().any(|&(s, e)| s <= t && t < e)
        })
        .count() as i64
}

const ZONES: [&str; 5] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe", // 30-minute daylight saving
    "Asia/Kolkata",
];

/// Weekly hours on a 15-minute grid, up to three intervals a day.
fn weekly_hours() -> impl Strategy<Value = WeeklyHours> {
    proptest::collection::vec(proptest::collection::btree_set(0u16..=96, 0..=6), 7).prop_map(
        |days| {
            let mut h = WeeklyHours::closed();
            for (i, cuts) in days.into_iter().enumerate() {
                let cuts: Vec<u16> = cuts.into_iter().collect();
                for pair in cuts.chunks_exact(2) {
                    let t =
                        |q: u16| LocalTime::hm((q * 15 / 60) as u8, (q * 15 % 60) as u8).unwrap();
                    let iv = Interval::new(t(pair[0]), t(pair[1])).unwrap();
                    h = h.with_interval(hours::weekday(i), iv).unwrap();
                }
            }
            h
        },
    )
}

/// Instants near the 2026 clock changes of the test zones, or anywhere in 2020-2030.
fn instant_secs() -> impl Strategy<Value = i64> {
    let changes = [
        utc(2026, 3, 8, 7, 0),    // New York spring
        utc(2026, 3, 29, 1, 0),   // Berlin spring
        utc(2026, 4, 4, 15, 0),   // Lord Howe back (02:00 -> 01:30)
        utc(2026, 10, 3, 15, 30), // Lord Howe forward
        utc(2026, 10, 25, 1, 0),  // Berlin fall
        utc(2026, 11, 1, 6, 0),   // New York fall
    ];
    prop_oneof![
        (0usize..changes.len(), -10 * 1440i64..10 * 1440)
            .prop_map(move |(i, m)| changes[i].timestamp() + m * 60),
        (1_577_836_800i64 / 60..1_893_456_000 / 60).prop_map(|m| m * 60),
    ]
}

fn calendar() -> impl Strategy<Value = BusinessCalendar> {
    (
        0usize..ZONES.len(),
        weekly_hours(),
        proptest::collection::vec(0u64..30, 0..4),
    )
        .prop_map(|(z, h, hol)| {
            // Holidays near the clock changes.
            let days = [
                date(2026, 3, 8),
                date(2026, 3, 29),
                date(2026, 10, 25),
                date(2026, 11, 1),
            ];
            BusinessCalendar::new(ZONES[z], h).unwrap().with_holidays(
                hol.iter()
                    .map(|&k| days[(k % 4) as usize] + Days::new(k / 4) - Days::new(3)),
            )
        })
}

/// A step forward in nanoseconds: up to a day, a month, or a century.
fn gap() -> impl Strategy<Value = i64> {
    prop_oneof![
        0i64..86_400_000_000_000,
        0i64..2_678_400_000_000_000,
        0i64..3_155_760_000_000_000_000,
    ]
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Agrees with counting minutes one by one, over spans of up to 20 days
    /// (so whole weeks, holidays and clock changes are all exercised).
    #[test]
    fn agrees_with_minute_stepping(
        cal in calendar(),
        from in instant_secs(),
        minutes in 0i64..20 * 1440,
    ) {
        let to = from + minutes * 60;
        let expected = brute_minutes(&cal, from, to);
        prop_assert_eq!(cal.business_time_between(at(from), at(to)), Duration::minutes(expected));
    }

    #[test]
    fn additive_and_monotone(
        cal in calendar(),
        a in -2_000_000_000i64..6_000_000_000,
        ab in gap(),
        bc in gap(),
        nanos in 0u32..1_000_000_000,
    ) {
        let a = DateTime::from_timestamp(a, nanos).unwrap();
        let b = a + Duration::nanoseconds(ab);
        let c = b + Duration::nanoseconds(bc);
        let (ab, bc, ac) = (
            cal.business_time_between(a, b),
            cal.business_time_between(b, c),
            cal.business_time_between(a, c),
        );
        prop_assert_eq!(ab + bc, ac);
        prop_assert!(ab >= Duration::zero() && bc >= Duration::zero());
        prop_assert!(ab <= ac && bc <= ac);
        prop_assert!(ac <= c - a);
    }

    #[test]
    fn add_is_the_inverse_of_between(
        cal in calendar(),
        from in instant_secs(),
        sub in 0u32..1_000_000_000,
        d in 0i64..(3 * 365 * 86_400_000),
    ) {
        let from = DateTime::from_timestamp(from, sub).unwrap();
        let d = Duration::milliseconds(d);
        match cal.add_business_time(from, d) {
            Ok(due) => {
                prop_assert_eq!(cal.business_time_between(from, due), d);
                if d > Duration::zero() {
                    // The earliest such instant: a nanosecond less is not enough.
                    prop_assert!(cal.business_time_between(from, due - Duration::nanoseconds(1)) < d);
                    prop_assert!(due > from);
                }
            }
            Err(e) => prop_assert_eq!(e, CalendarError::NoOpenHours),
        }
    }

    /// `is_open(t)` exactly when the nanosecond from `t` is business time.
    #[test]
    fn is_open_agrees_with_between(cal in calendar(), t in instant_secs(), sub in 0u32..1_000_000_000) {
        let t = DateTime::from_timestamp(t, sub).unwrap();
        let one = Duration::nanoseconds(1);
        prop_assert_eq!(cal.is_open(t), cal.business_time_between(t, t + one) == one);
    }

    #[test]
    fn no_panics_anywhere(
        cal in calendar(),
        a in any::<i64>(),
        b in any::<i64>(),
        d in any::<i64>(),
    ) {
        let span = DateTime::<Utc>::MAX_UTC.timestamp() - DateTime::<Utc>::MIN_UTC.timestamp();
        let pick = |x: i64| at(DateTime::<Utc>::MIN_UTC.timestamp() + x.rem_euclid(span));
        let (a, b) = (pick(a), pick(b));
        let _ = cal.is_open(a);
        let between = cal.business_time_between(a, b);
        prop_assert!(between >= Duration::zero());
        let d = Duration::milliseconds(d);
        if let Ok(due) = cal.add_business_time(a, d) {
            prop_assert!(due >= a);
            prop_assert_eq!(cal.business_time_between(a, due), d);
        }
    }
}
