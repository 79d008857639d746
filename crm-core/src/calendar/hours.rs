//! Weekly opening hours: per weekday, zero or more local-time intervals.

use std::fmt;
use std::str::FromStr;

use chrono::Weekday;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::CalendarError;

/// Minutes in a day: `24:00`, the end of the last possible interval.
const DAY_MINUTES: u16 = 24 * 60;

/// A local wall-clock time of day to the minute, `00:00` to `24:00`
/// (`24:00` is the end of the day and is allowed only as an interval's end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(u16);

impl LocalTime {
    /// Midnight at the start of the day.
    pub const MIDNIGHT: LocalTime = LocalTime(0);
    /// `24:00`, the end of the day.
    pub const END_OF_DAY: LocalTime = LocalTime(DAY_MINUTES);

    /// `hour:minute`; `hour` 0..=23 and `minute` 0..=59, or exactly `24:00`.
    pub fn hm(hour: u8, minute: u8) -> Result<Self, CalendarError> {
        let bad = |reason: &str| CalendarError::InvalidTime {
            value: format!("{hour:02}:{minute:02}"),
            reason: reason.into(),
        };
        if minute > 59 {
            return Err(bad("minutes must be 00 to 59"));
        }
        if hour > 24 || (hour == 24 && minute != 0) {
            return Err(bad("hours must be 00 to 23 (or the end of day, 24:00)"));
        }
        Ok(LocalTime(u16::from(hour) * 60 + u16::from(minute)))
    }

    /// Minutes since local midnight (0..=1440).
    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl FromStr for LocalTime {
    type Err = CalendarError;

    /// Parses `HH:MM` (two digits each).
    fn from_str(s: &str) -> Result<Self, CalendarError> {
        let bad = || CalendarError::InvalidTime {
            value: s.to_string(),
            reason: "expected HH:MM, e.g. 09:00 or 17:30".into(),
        };
        let b = s.as_bytes();
        if b.len() != 5 || b[2] != b':' {
            return Err(bad());
        }
        let two = |i: usize| -> Result<u8, CalendarError> {
            match (b[i], b[i + 1]) {
                (h @ b'0'..=b'9', l @ b'0'..=b'9') => Ok((h - b'0') * 10 + (l - b'0')),
                _ => Err(bad()),
            }
        };
        LocalTime::hm(two(0)?, two(3)?)
    }
}

/// A half-open local-time interval `[start, end)` within one day, e.g.
/// `09:00-17:00`. `start < end`; `end` may be `24:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    start: LocalTime,
    end: LocalTime,
}

impl Interval {
    /// `[start, end)`; refused when `start >= end` or `start` is `24:00`.
    pub fn new(start: LocalTime, end: LocalTime) -> Result<Self, CalendarError> {
        if start >= end {
            return Err(CalendarError::InvertedInterval {
                interval: format!("{start}-{end}"),
            });
        }
        Ok(Interval { start, end })
    }

    /// The start (inclusive).
    pub fn start(&self) -> LocalTime {
        self.start
    }

    /// The end (exclusive).
    pub fn end(&self) -> LocalTime {
        self.end
    }

    /// Its nominal length in minutes (the wall-clock difference).
    pub fn minutes(&self) -> u16 {
        self.end.0 - self.start.0
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl FromStr for Interval {
    type Err = CalendarError;

    /// Parses `HH:MM-HH:MM`, e.g. `09:00-17:00` or `22:00-24:00`.
    fn from_str(s: &str) -> Result<Self, CalendarError> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| CalendarError::InvalidTime {
                value: s.to_string(),
                reason: "expected an interval HH:MM-HH:MM, e.g. 09:00-17:00".into(),
            })?;
        Interval::new(a.trim().parse()?, b.trim().parse()?)
    }
}

impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Opening hours for each weekday: sorted, non-overlapping intervals
/// (touching intervals such as `09:00-12:00` and `12:00-17:00` are allowed).
/// A day without intervals is closed.
///
/// Serialised as a map from `mon`…`sun` to lists of `"HH:MM-HH:MM"`
/// strings; closed days are left out.
///
/// ```
/// use chrono::Weekday;
/// use crm_core::calendar::WeeklyHours;
///
/// let hours = WeeklyHours::weekdays("09:00-17:00")?.with(Weekday::Sat, "10:00-14:00")?;
/// assert_eq!(hours.minutes_per_week(), 5 * 8 * 60 + 4 * 60);
/// assert!(hours.with(Weekday::Mon, "16:00-18:00").is_err()); // overlaps 09:00-17:00
/// # Ok::<(), crm_core::calendar::CalendarError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct WeeklyHours {
    /// Index 0 is Monday.
    days: [Vec<Interval>; 7],
}

impl WeeklyHours {
    /// Closed every day.
    pub fn closed() -> Self {
        WeeklyHours::default()
    }

    /// Open around the clock: `00:00-24:00` every day.
    pub fn always() -> Self {
        let all_day = Interval {
            start: LocalTime::MIDNIGHT,
            end: LocalTime::END_OF_DAY,
        };
        WeeklyHours {
            days: std::array::from_fn(|_| vec![all_day]),
        }
    }

    /// The same interval Monday to Friday, closed at the weekend.
    pub fn weekdays(interval: &str) -> Result<Self, CalendarError> {
        let i: Interval = interval.parse()?;
        let mut h = WeeklyHours::closed();
        for day in [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ] {
            h = h.with_interval(day, i)?;
        }
        Ok(h)
    }

    /// Adds an interval `HH:MM-HH:MM` to `day`.
    pub fn with(self, day: Weekday, interval: &str) -> Result<Self, CalendarError> {
        let i = interval.parse()?;
        self.with_interval(day, i)
    }

    /// Adds an interval to `day`; refused when it overlaps one already there.
    pub fn with_interval(
        mut self,
        day: Weekday,
        interval: Interval,
    ) -> Result<Self, CalendarError> {
        let list = &mut self.days[day.num_days_from_monday() as usize];
        if let Some(other) = list
            .iter()
            .find(|o| o.start < interval.end && interval.start < o.end)
        {
            return Err(CalendarError::OverlappingIntervals {
                weekday: day,
                first: other.to_string(),
                second: interval.to_string(),
            });
        }
        let at = list.partition_point(|o| o.start < interval.start);
        list.insert(at, interval);
        Ok(self)
    }

    /// The intervals of `day`, in time order.
    pub fn day(&self, day: Weekday) -> &[Interval] {
        &self.days[day.num_days_from_monday() as usize]
    }

    /// Nominal open minutes on `day` (wall-clock lengths added up).
    pub fn minutes_on(&self, day: Weekday) -> u32 {
        self.day(day).iter().map(|i| u32::from(i.minutes())).sum()
    }

    /// Nominal open minutes in a week.
    pub fn minutes_per_week(&self) -> u32 {
        self.days
            .iter()
            .flatten()
            .map(|i| u32::from(i.minutes()))
            .sum()
    }
}

const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Serialize for WeeklyHours {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let open = self.days.iter().filter(|d| !d.is_empty()).count();
        let mut m = s.serialize_map(Some(open))?;
        for (key, list) in DAY_KEYS.iter().zip(&self.days) {
            if !list.is_empty() {
                m.serialize_entry(key, list)?;
            }
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for WeeklyHours {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let raw = std::collections::BTreeMap::<String, Vec<Interval>>::deserialize(d)?;
        let mut h = WeeklyHours::closed();
        for (key, list) in raw {
            let idx = DAY_KEYS.iter().position(|k| *k == key).ok_or_else(|| {
                D::Error::custom(format!(
                    "unknown weekday '{key}': expected one of mon, tue, wed, thu, fri, sat, sun"
                ))
            })?;
            let day = weekday(idx);
            for i in list {
                h = h.with_interval(day, i).map_err(D::Error::custom)?;
            }
        }
        Ok(h)
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Interval {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Interval".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}$",
            "description": "Local opening hours HH:MM-HH:MM, start before end, such as \"09:00-17:00\" (the end may be 24:00).",
        })
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for WeeklyHours {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "WeeklyHours".into()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let day = g.subschema_for::<Vec<Interval>>();
        let properties: serde_json::Map<String, serde_json::Value> = DAY_KEYS
            .iter()
            .map(|k| ((*k).to_owned(), day.clone().to_value()))
            .collect();
        schemars::json_schema!({
            "type": "object",
            "description": "Opening hours per weekday (mon ... sun): sorted, non-overlapping intervals; a day left out is closed.",
            "properties": properties,
            "additionalProperties": false,
        })
    }
}

/// The weekday `idx` days after Monday (`idx` < 7).
pub(super) fn weekday(idx: usize) -> Weekday {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ][idx % 7]
}
