//! Business-hours calendar: elapsed business time is arithmetic, so its
//! cost should not grow with the span.
//!
//! Calendar: Europe/Berlin, Monday to Friday 09:00-12:00 and 13:00-17:00,
//! ten holidays a year from 2020 to 2040. Each function runs over the same
//! `n` start instants (spread over 2020-2030, splitmix64):
//!
//! - `calendar/between_1_day`, `between_1_year`, `between_10_years`:
//!   `business_time_between(t, t + span)`;
//! - `calendar/add_4_hours` and `add_1_year` (1 827 business hours, a
//!   year of 7-hour weekdays): `add_business_time(t, d)` (the SLA due
//!   time; a galloping search over the arithmetic sum);
//! - `calendar/minute_stepping_1_day`: the naive alternative, counting the
//!   open minutes of the day one `is_open` at a time, over `n / 100`
//!   instants (reported per instant in `benches/README.md`).
//!
//! `cargo bench -p crm-benches --bench calendar` runs n = 10 000;
//! `cargo test --benches` runs each once on 2 000 as a smoke test (and
//! checks that minute stepping and the arithmetic agree). `CRM_BENCH_N`
//! overrides n.

use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveDate, Utc, Weekday};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crm_benches::bench_size;
use crm_core::calendar::{BusinessCalendar, WeeklyHours};

fn calendar() -> BusinessCalendar {
    let mut hours = WeeklyHours::closed();
    for day in [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ] {
        hours = hours
            .with(day, "09:00-12:00")
            .and_then(|h| h.with(day, "13:00-17:00"))
            .expect("valid hours");
    }
    let holidays = (2020..=2040).flat_map(|y| {
        [
            (1, 1),
            (5, 1),
            (10, 3),
            (12, 24),
            (12, 25),
            (12, 26),
            (12, 31),
            (4, 10),
            (5, 20),
            (6, 1),
        ]
        .into_iter()
        .filter_map(move |(m, d)| NaiveDate::from_ymd_opt(y, m, d))
    });
    BusinessCalendar::new("Europe/Berlin", hours)
        .expect("calendar")
        .with_holidays(holidays)
}

/// `n` instants in 2020-2030 (splitmix64, to the second).
fn starts(n: usize) -> Vec<DateTime<Utc>> {
    let mut rng = crm_core::predict::simulate::SplitMix64::new(0x5EED_CA1E);
    let from = 1_577_836_800i64; // 2020-01-01
    let span = 10 * 365 * 86_400;
    (0..n)
        .map(|_| DateTime::from_timestamp(from + rng.below(span) as i64, 0).expect("in range"))
        .collect()
}

fn minute_stepping(cal: &BusinessCalendar, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    let mut open = 0;
    let mut t = from;
    while t < to {
        if cal.is_open(t) {
            open += 1;
        }
        t += Duration::minutes(1);
    }
    Duration::minutes(open)
}

fn calendar_bench(c: &mut Criterion) {
    let cal = calendar();
    let n = bench_size(10_000);
    let ts = starts(n);
    let few = &ts[..(n / 100).max(1)];
    // The smoke run checks the arithmetic against stepping (whole-minute starts).
    for &t in few.iter().take(20) {
        let t = t - Duration::seconds(t.timestamp().rem_euclid(60));
        let day = t + Duration::days(1);
        assert_eq!(
            cal.business_time_between(t, day),
            minute_stepping(&cal, t, day)
        );
    }
    let mut group = c.benchmark_group("calendar");
    group.throughput(Throughput::Elements(n as u64));
    for (name, span) in [
        ("between_1_day", Duration::days(1)),
        ("between_1_year", Duration::days(365)),
        ("between_10_years", Duration::days(3652)),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                ts.iter()
                    .map(|&t| cal.business_time_between(t, t + span))
                    .fold(Duration::zero(), |a, d| a + d)
            })
        });
    }
    for (name, d) in [
        ("add_4_hours", Duration::hours(4)),
        ("add_1_year", Duration::hours(1827)), // 261 weekdays of 7 h
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                ts.iter()
                    .map(|&t| cal.add_business_time(t, d).expect("due"))
                    .max()
            })
        });
    }
    group.throughput(Throughput::Elements(few.len() as u64));
    group.bench_function("minute_stepping_1_day", |b| {
        b.iter(|| {
            few.iter()
                .map(|&t| minute_stepping(&cal, t, t + Duration::days(1)))
                .fold(Duration::zero(), |a, d| a + d)
        })
    });
    group.finish();
    black_box(&cal);
}

criterion_group!(benches, calendar_bench);
criterion_main!(benches);
