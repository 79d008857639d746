//! Business-hours calendars: weekly opening hours in an IANA time zone,
//! with holidays, for SLA timers and response-time KPIs.
//!
//! A [`BusinessCalendar`] answers three questions, exactly and without
//! stepping through minutes:
//! - [`is_open`](BusinessCalendar::is_open): is this instant business time?
//! - [`business_time_between`](BusinessCalendar::business_time_between):
//!   how much business time lies in `[from, to)`?
//! - [`add_business_time`](BusinessCalendar::add_business_time): when has
//!   a given amount of business time elapsed after `from` (an SLA's due time)?
//!
//! # The exact definition
//!
//! - **Open hours.** Each weekday has zero or more half-open local-time
//!   intervals `[start, end)` ([`WeeklyHours`]), e.g. `09:00-12:00` and
//!   `13:00-17:00` around a lunch break; `24:00` may end an interval.
//!   Intervals of one day do not overlap; a day without intervals is closed.
//! - **Holidays** are local dates on which the whole day is closed.
//! - **From local times to instants** (this is the daylight-saving rule).
//!   The interval `[start, end)` on local date `D` is open from the instant
//!   the wall clock in the calendar's zone first reaches `D start` to the
//!   instant it first reaches `D end`. "First reaches" means: the local
//!   time itself when it occurs once; its **first** occurrence when a
//!   fall-back change repeats it; and the **end of the gap** when a
//!   spring-forward change skips it. So business time is real elapsed
//!   time: `09:00-17:00` is 8 hours on every day whose clock change lies
//!   outside the interval (European and US changes happen at night);
//!   an interval that spans a spring-forward change is one hour shorter
//!   (`00:00-06:00` on the last Sunday of March in Berlin lasts 5 hours),
//!   one that spans a fall-back change one hour longer, and an interval
//!   lying wholly inside a skipped hour is empty.
//! - **Days** follow each other without overlap: local date `D` covers the
//!   instants from `D 00:00` to `D+1 00:00` (both resolved as above), so an
//!   instant belongs to exactly one local date, even in a repeated hour
//!   after midnight.
//! - **Range.** Instants are clamped to about ±262 000 years (chrono's
//!   range less a week at each end); business time outside is none.
//!   Offsets and daylight-saving rules are those of the IANA database
//!   compiled into `chrono-tz` (see [`BusinessCalendar::tz_database_version`]);
//!   `chrono-tz`'s tables end with the clock changes of 2099: after that a
//!   zone keeps the offset its table ends with (standard time in zones with
//!   daylight saving time), and so does the calendar.
//!
//! # How it is computed
//!
//! Elapsed business time is arithmetic: partial first and last days are
//! summed interval by interval; the full days between are whole weeks times
//! the weekly total, plus the remaining weekdays, minus the nominal hours
//! of each holiday in the span, plus a correction for each day in the span
//! on which the zone's UTC offset changes (that day's real open time minus
//! its nominal open time). The cost grows with the number of holidays and
//! offset changes in the span, not with its length.
//! [`add_business_time`](BusinessCalendar::add_business_time) finds the
//! day by a galloping binary search over that sum, then the instant within
//! the day.
//!
//! ```
//! use chrono::{Duration, NaiveDate, TimeZone, Utc};
//! use crm_core::calendar::{BusinessCalendar, WeeklyHours};
//!
//! let cal = BusinessCalendar::new("Europe/Berlin", WeeklyHours::weekdays("09:00-17:00")?)?
//!     .with_holiday(NaiveDate::from_ymd_opt(2026, 12, 25).unwrap());
//! // A lead arrives on Friday 2026-11-27 at 16:00 in Berlin (15:00 UTC) …
//! let created = Utc.with_ymd_and_hms(2026, 11, 27, 15, 0, 0).unwrap();
//! // … and is answered on Monday at 10:30 (09:30 UTC): 1 h Friday + 1.5 h Monday.
//! let answered = Utc.with_ymd_and_hms(2026, 11, 30, 9, 30, 0).unwrap();
//! assert_eq!(cal.business_time_between(created, answered), Duration::minutes(150));
//! // A 4-business-hour SLA is due on Monday at 12:00 in Berlin.
//! let due = cal.add_business_time(created, Duration::hours(4))?;
//! assert_eq!(due, Utc.with_ymd_and_hms(2026, 11, 30, 11, 0, 0).unwrap());
//! assert!(!cal.is_open(Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap())); // Saturday
//! # Ok::<(), crm_core::calendar::CalendarError>(())
//! ```
//!
//! A calendar is plain data: it serialises (serde) as its zone name,
//! weekly hours and holidays, and deserialising validates it again.
//!
//! ```
//! use crm_core::calendar::BusinessCalendar;
//!
//! let cal: BusinessCalendar = serde_json::from_str(r#"{
//!     "time_zone": "America/New_York",
//!     "weekly_hours": {"mon": ["09:00-12:00", "13:00-17:00"], "tue": ["09:00-17:00"]},
//!     "holidays": ["2026-12-25"]
//! }"#)?;
//! assert_eq!(cal.time_zone(), "America/New_York");
//! assert_eq!(cal.hours().minutes_per_week(), 15 * 60);
//! let overlapping = r#"{"time_zone": "UTC", "weekly_hours": {"mon": ["09:00-12:00", "11:00-13:00"]}}"#;
//! assert!(serde_json::from_str::<BusinessCalendar>(overlapping).is_err());
//! # Ok::<(), serde_json::Error>(())
//! ```

mod hours;
mod zone;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt;

use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc, Weekday,
};
use serde::{Deserialize, Serialize};

pub use hours::{Interval, LocalTime, WeeklyHours};
use zone::Zone;

/// Nanoseconds per second.
const NS: i128 = 1_000_000_000;

/// Why a calendar could not be built, or an answer not given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// A local time is not `HH:MM` within a day.
    #[error("invalid time {value:?}: {reason}")]
    InvalidTime {
        /// The text or time given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An interval whose start is not before its end.
    #[error("interval {interval} is empty or reversed: its start must be before its end")]
    InvertedInterval {
        /// The interval, `HH:MM-HH:MM`.
        interval: String,
    },
    /// Two intervals of one weekday overlap.
    #[error("on {weekday}, interval {second} overlaps {first}")]
    OverlappingIntervals {
        /// The weekday.
        weekday: Weekday,
        /// The interval already there.
        first: String,
        /// The interval refused.
        second: String,
    },
    /// The time zone is not an IANA zone name known to the database.
    #[error("unknown time zone {name:?}: expected an IANA name such as Europe/Berlin or UTC")]
    UnknownTimeZone {
        /// The name given.
        name: String,
    },
    /// Business time was to be added, but the calendar is never open.
    #[error(
        "the calendar has no open hours in its week, so business time never elapses: add weekly hours"
    )]
    NoOpenHours,
    /// A negative amount of business time was to be added.
    #[error("business time to add must not be negative, got {duration}")]
    NegativeDuration {
        /// The amount given.
        duration: String,
    },
    /// The answer lies beyond the supported range of dates.
    #[error("the result lies beyond the supported date range (about ±262 000 years)")]
    OutOfRange,
}

/// Weekly business hours in an IANA time zone, with holidays. See the
/// [module documentation](self) for the exact rules.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "CalendarSpec", into = "CalendarSpec")]
pub struct BusinessCalendar {
    zone: Zone,
    hours: WeeklyHours,
    holidays: BTreeSet<NaiveDate>,
}

/// The serialised form.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct CalendarSpec {
    time_zone: String,
    weekly_hours: WeeklyHours,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    holidays: BTreeSet<NaiveDate>,
}

impl TryFrom<CalendarSpec> for BusinessCalendar {
    type Error = CalendarError;

    fn try_from(s: CalendarSpec) -> Result<Self, CalendarError> {
        Ok(BusinessCalendar::new(&s.time_zone, s.weekly_hours)?.with_holidays(s.holidays))
    }
}

impl From<BusinessCalendar> for CalendarSpec {
    fn from(c: BusinessCalendar) -> Self {
        CalendarSpec {
            time_zone: c.time_zone().to_string(),
            weekly_hours: c.hours,
            holidays: c.holidays,
        }
    }
}

impl PartialEq for BusinessCalendar {
    fn eq(&self, other: &Self) -> bool {
        self.zone.tz == other.zone.tz
            && self.hours == other.hours
            && self.holidays == other.holidays
    }
}

impl Eq for BusinessCalendar {}

impl fmt::Debug for BusinessCalendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BusinessCalendar")
            .field("time_zone", &self.time_zone())
            .field("hours", &self.hours)
            .field("holidays", &self.holidays)
            .finish()
    }
}

impl BusinessCalendar {
    /// A calendar with `hours` in the IANA zone `time_zone` (e.g.
    /// `"Europe/Berlin"`, `"UTC"`; names are case-sensitive) and no holidays.
    pub fn new(time_zone: &str, hours: WeeklyHours) -> Result<Self, CalendarError> {
        let tz: chrono_tz::Tz = time_zone
            .parse()
            .map_err(|_| CalendarError::UnknownTimeZone {
                name: time_zone.to_string(),
            })?;
        Ok(BusinessCalendar {
            zone: Zone::new(tz),
            hours,
            holidays: BTreeSet::new(),
        })
    }

    /// Open around the clock in UTC, without holidays: business time is
    /// wall-clock time.
    pub fn always_open() -> Self {
        BusinessCalendar {
            zone: Zone::new(chrono_tz::UTC),
            hours: WeeklyHours::always(),
            holidays: BTreeSet::new(),
        }
    }

    /// Adds a holiday: the whole local date is closed.
    pub fn with_holiday(mut self, date: NaiveDate) -> Self {
        self.holidays.insert(date);
        self
    }

    /// Adds holidays.
    pub fn with_holidays(mut self, dates: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.holidays.extend(dates);
        self
    }

    /// The IANA name of the calendar's time zone.
    pub fn time_zone(&self) -> &'static str {
        self.zone.tz.name()
    }

    /// The weekly hours.
    pub fn hours(&self) -> &WeeklyHours {
        &self.hours
    }

    /// The holidays, in date order.
    pub fn holidays(&self) -> &BTreeSet<NaiveDate> {
        &self.holidays
    }

    /// The version of the IANA time-zone database the offsets come from.
    pub fn tz_database_version() -> &'static str {
        chrono_tz::IANA_TZDB_VERSION
    }

    /// True when `at` is business time: within an open interval of a
    /// local date that is not a holiday.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let t = nanos(at);
        let (lo, hi) = self.bounds();
        if t < lo || t >= hi {
            return false;
        }
        let mut spans = Vec::new();
        self.spans(self.day_of(t), &mut spans);
        spans.iter().any(|&(s, e)| s <= t && t < e)
    }

    /// The business time in `[from, to)`: zero when `to <= from`.
    ///
    /// Additive: for `a <= b <= c`,
    /// `between(a, b) + between(b, c) == between(a, c)`.
    pub fn business_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        let (lo, hi) = self.bounds();
        let f = nanos(from).clamp(lo, hi);
        let t = nanos(to).clamp(lo, hi);
        if t <= f {
            return TimeDelta::zero();
        }
        let (df, dt) = (self.day_of(f), self.day_of(t));
        let mut spans = Vec::new();
        self.spans(df, &mut spans);
        if df == dt {
            return delta(overlap(&spans, f, t));
        }
        let mut total = overlap(&spans, f, i128::MAX);
        total += self.full_days(succ(df), dt);
        self.spans(dt, &mut spans);
        total += overlap(&spans, i128::MIN, t);
        delta(total)
    }

    /// The earliest instant at which `duration` of business time has
    /// elapsed since `from`: the due time of an SLA of `duration` business
    /// time started at `from`. `from` itself when `duration` is zero;
    /// otherwise always within (or at the end of) an open interval, so
    /// `business_time_between(from, add_business_time(from, d)) == d`.
    ///
    /// Errors: [`CalendarError::NegativeDuration`],
    /// [`CalendarError::NoOpenHours`] (a calendar with empty weekly hours),
    /// [`CalendarError::OutOfRange`].
    pub fn add_business_time(
        &self,
        from: DateTime<Utc>,
        duration: TimeDelta,
    ) -> Result<DateTime<Utc>, CalendarError> {
        if duration < TimeDelta::zero() {
            return Err(CalendarError::NegativeDuration {
                duration: duration.to_string(),
            });
        }
        if duration.is_zero() {
            return Ok(from);
        }
        if self.hours.minutes_per_week() == 0 {
            return Err(CalendarError::NoOpenHours);
        }
        let mut r = i128::from(duration.num_seconds()) * NS + i128::from(duration.subsec_nanos());
        let (lo, hi) = self.bounds();
        let f = nanos(from).clamp(lo, hi);
        let mut spans = Vec::new();
        let first = self.day_of(f);
        self.spans(first, &mut spans);
        for &(s, e) in &spans {
            let a = s.max(f);
            let len = e - a;
            if len <= 0 {
                continue;
            }
            if len >= r {
                return instant(a + r);
            }
            r -= len;
        }
        // Galloping search for the first n with full_days(start, start + n) >= r.
        let start = succ(first);
        let max_n = (hi_day() - start).num_days();
        let total = |n: i64| self.full_days(start, add_days(start, n));
        let (mut below, mut at_least) = (0i64, 7i64.min(max_n));
        loop {
            if at_least <= below {
                return Err(CalendarError::OutOfRange);
            }
            if total(at_least) >= r {
                break;
            }
            if at_least == max_n {
                return Err(CalendarError::OutOfRange);
            }
            below = at_least;
            at_least = at_least.saturating_mul(2).min(max_n);
        }
        while at_least - below > 1 {
            let mid = below + (at_least - below) / 2;
            if total(mid) < r {
                below = mid;
            } else {
                at_least = mid;
            }
        }
        r -= total(below);
        self.spans(add_days(start, below), &mut spans);
        for &(s, e) in &spans {
            let len = e - s;
            if len >= r {
                return instant(s + r);
            }
            r -= len;
        }
        Err(CalendarError::OutOfRange)
    }

    // ----- the arithmetic (instants in Unix nanoseconds as i128, span ends in seconds) -----

    /// The supported instants, `[lo, hi]`.
    fn bounds(&self) -> (i128, i128) {
        (
            i128::from(self.day_start(lo_day())) * NS,
            i128::from(self.day_start(hi_day())) * NS,
        )
    }

    /// The instant local date `d` starts (seconds).
    fn day_start(&self, d: NaiveDate) -> i64 {
        self.zone.resolve(d.and_time(NaiveTime::MIN))
    }

    /// The local date the instant `t` belongs to (see "Days" in the module docs).
    fn day_of(&self, t: i128) -> NaiveDate {
        let secs = i64::try_from(t.div_euclid(NS)).unwrap_or(0);
        let mut d = self.zone.local_date(secs).clamp(lo_day(), pred(hi_day()));
        for _ in 0..4 {
            if secs < self.day_start(d) && d > lo_day() {
                d = pred(d);
            } else if secs >= self.day_start(succ(d)) && succ(d) < hi_day() {
                d = succ(d);
            } else {
                break;
            }
        }
        d
    }

    /// The open spans `[start, end)` of local date `d` in Unix nanoseconds,
    /// ascending and disjoint (empty on a holiday).
    fn spans(&self, d: NaiveDate, out: &mut Vec<(i128, i128)>) {
        out.clear();
        if self.holidays.contains(&d) {
            return;
        }
        let intervals = self.hours.day(d.weekday());
        if intervals.is_empty() {
            return;
        }
        let mut floor = self.day_start(d);
        let ceiling = self.day_start(succ(d));
        for i in intervals {
            let s = self.zone.resolve(local(d, i.start())).clamp(floor, ceiling);
            let e = self.zone.resolve(local(d, i.end())).clamp(s, ceiling);
            if e > s {
                out.push((i128::from(s) * NS, i128::from(e) * NS));
            }
            floor = e;
        }
    }

    /// Nominal open seconds on `day`.
    fn nominal(&self, day: Weekday) -> i128 {
        i128::from(self.hours.minutes_on(day)) * 60
    }

    /// The business time of the whole local dates `[d1, d2)`, in nanoseconds.
    fn full_days(&self, d1: NaiveDate, d2: NaiveDate) -> i128 {
        if d2 <= d1 {
            return 0;
        }
        let n = i128::from((d2 - d1).num_days());
        let week = i128::from(self.hours.minutes_per_week()) * 60;
        let first = d1.weekday().num_days_from_monday() as usize;
        let mut secs = n / 7 * week;
        for i in 0..(n % 7) as usize {
            secs += self.nominal(hours::weekday(first + i));
        }
        for h in self.holidays.range(d1..d2) {
            secs -= self.nominal(h.weekday());
        }
        // Days on which the offset changes: real minus nominal open time.
        let (from, to) = (self.day_start(d1), self.day_start(d2));
        let ts = &self.zone.transitions;
        let lo = ts.partition_point(|&t| t < from);
        let hi = ts.partition_point(|&t| t < to);
        let mut last = None;
        let mut spans = Vec::new();
        let mut correction = 0;
        for &t in &ts[lo..hi] {
            let d = self.day_of(i128::from(t) * NS);
            if last == Some(d) || d < d1 || d >= d2 || self.holidays.contains(&d) {
                continue;
            }
            last = Some(d);
            self.spans(d, &mut spans);
            let real: i128 = spans.iter().map(|&(s, e)| e - s).sum();
            correction += real - self.nominal(d.weekday()) * NS;
        }
        secs * NS + correction
    }
}

/// The first supported local date.
fn lo_day() -> NaiveDate {
    NaiveDate::MIN
        .checked_add_days(Days::new(7))
        .unwrap_or(NaiveDate::MIN)
}

/// The end of the supported local dates (exclusive).
fn hi_day() -> NaiveDate {
    NaiveDate::MAX
        .checked_sub_days(Days::new(7))
        .unwrap_or(NaiveDate::MAX)
}

fn succ(d: NaiveDate) -> NaiveDate {
    d.succ_opt().unwrap_or(d)
}

fn pred(d: NaiveDate) -> NaiveDate {
    d.pred_opt().unwrap_or(d)
}

fn add_days(d: NaiveDate, n: i64) -> NaiveDate {
    u64::try_from(n)
        .ok()
        .and_then(|n| d.checked_add_days(Days::new(n)))
        .unwrap_or_else(hi_day)
}

/// Local date `d` at local time `t` (`24:00` is the next day's midnight).
fn local(d: NaiveDate, t: LocalTime) -> NaiveDateTime {
    let m = u32::from(t.minutes());
    if m >= 24 * 60 {
        return succ(d).and_time(NaiveTime::MIN);
    }
    d.and_time(NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap_or(NaiveTime::MIN))
}

fn nanos(t: DateTime<Utc>) -> i128 {
    i128::from(t.timestamp()) * NS + i128::from(t.timestamp_subsec_nanos())
}

fn instant(ns: i128) -> Result<DateTime<Utc>, CalendarError> {
    let secs = i64::try_from(ns.div_euclid(NS)).map_err(|_| CalendarError::OutOfRange)?;
    let sub = u32::try_from(ns.rem_euclid(NS)).map_err(|_| CalendarError::OutOfRange)?;
    DateTime::from_timestamp(secs, sub).ok_or(CalendarError::OutOfRange)
}

fn delta(ns: i128) -> TimeDelta {
    let secs = i64::try_from(ns.div_euclid(NS)).unwrap_or(i64::MAX);
    let sub = u32::try_from(ns.rem_euclid(NS)).unwrap_or(0);
    TimeDelta::new(secs, sub).unwrap_or(TimeDelta::MAX)
}

/// The total length of `spans` within `[a, b)`.
fn overlap(spans: &[(i128, i128)], a: i128, b: i128) -> i128 {
    spans
        .iter()
        .map(|&(s, e)| (e.min(b) - s.max(a)).max(0))
        .sum()
}
