//! The time zone KPIs take calendar dates in.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, Utc};

/// Where a day, week, month, quarter or year begins for a report: a fixed
/// UTC offset, or an IANA time zone whose offset follows daylight saving
/// time (so a deal won at 00:30 on 1 April in Berlin, 22:30 UTC on
/// 31 March, counts for April).
///
/// Anything that takes a `impl Into<ReportZone>` accepts a
/// [`FixedOffset`] or a [`chrono_tz::Tz`] as well.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use crm_core::kpi::ReportZone;
///
/// let berlin = ReportZone::named("Europe/Berlin")?;
/// let won = Utc.with_ymd_and_hms(2026, 3, 31, 22, 30, 0).unwrap();
/// assert_eq!(berlin.date(won).to_string(), "2026-04-01");
/// assert_eq!(ReportZone::utc().date(won).to_string(), "2026-03-31");
/// # Ok::<(), crm_core::kpi::KpiError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportZone {
    /// A fixed offset from UTC, the same all year.
    Fixed(FixedOffset),
    /// An IANA time zone (daylight saving time included).
    Named(chrono_tz::Tz),
}

impl ReportZone {
    /// UTC.
    pub fn utc() -> Self {
        ReportZone::Fixed(Utc.fix())
    }

    /// The IANA zone called `name` (for example `Europe/Berlin`).
    pub fn named(name: &str) -> Result<Self, super::KpiError> {
        name.parse::<chrono_tz::Tz>()
            .map(ReportZone::Named)
            .map_err(|_| super::KpiError::InvalidParameter {
                parameter: "zone",
                value: name.to_owned(),
                reason: "not an IANA time zone name (for example Europe/Berlin)".into(),
            })
    }

    /// The calendar date of `t` in this zone.
    pub fn date(&self, t: DateTime<Utc>) -> NaiveDate {
        match self {
            ReportZone::Fixed(offset) => t.with_timezone(offset).date_naive(),
            ReportZone::Named(tz) => t.with_timezone(tz).date_naive(),
        }
    }
}

impl Default for ReportZone {
    /// UTC.
    fn default() -> Self {
        ReportZone::utc()
    }
}

impl From<FixedOffset> for ReportZone {
    fn from(offset: FixedOffset) -> Self {
        ReportZone::Fixed(offset)
    }
}

impl From<chrono_tz::Tz> for ReportZone {
    fn from(tz: chrono_tz::Tz) -> Self {
        ReportZone::Named(tz)
    }
}

impl fmt::Display for ReportZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportZone::Fixed(offset) => write!(f, "UTC{offset}"),
            ReportZone::Named(tz) => f.write_str(tz.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn named_zones_follow_daylight_saving_time() {
        let berlin = ReportZone::named("Europe/Berlin").unwrap();
        // 31 March 2026, 22:30 UTC: 00:30 on 1 April in Berlin (summer
        // time, +02:00), but 23:30 on 31 March at the winter offset.
        let t = Utc.with_ymd_and_hms(2026, 3, 31, 22, 30, 0).unwrap();
        assert_eq!(berlin.date(t), NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
        let winter: ReportZone = FixedOffset::east_opt(3600).unwrap().into();
        assert_eq!(
            winter.date(t),
            NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()
        );
        // 31 January 2026, 23:30 UTC: 00:30 on 1 February in Berlin (+01:00).
        let t = Utc.with_ymd_and_hms(2026, 1, 31, 23, 30, 0).unwrap();
        assert_eq!(berlin.date(t), NaiveDate::from_ymd_opt(2026, 2, 1).unwrap());
        assert_eq!(berlin.to_string(), "Europe/Berlin");
        assert_eq!(winter.to_string(), "UTC+01:00");
    }

    #[test]
    fn unknown_zones_are_refused_by_name() {
        let err = ReportZone::named("Europe/Atlantis").unwrap_err();
        assert!(err.to_string().contains("Europe/Atlantis"), "{err}");
    }
}
