//! The calendar's IANA time zone: local wall-clock times to instants, and
//! the instants at which the zone's UTC offset changes.
//!
//! chrono-tz does not expose its transition table, so the transitions are
//! found once per zone (and cached for the process) by probing the offset
//! every [`PROBE_STEP`] seconds between [`SCAN_FROM`] and [`SCAN_TO`] and
//! bisecting each change to the second. This is exact as long as two
//! offset changes of one zone are more than a probe step apart: in the tz
//! database shipped with chrono-tz 0.10 the closest pair is 6 days 23 hours
//! apart (Brazil, October 2000), seven times the one-day step. Before
//! `SCAN_FROM` every zone is on local mean time and after `SCAN_TO`
//! chrono-tz extends no rule, so offsets are constant there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::{GapInfo, Tz};

/// Start of the transition scan: 1800-01-01T00:00Z.
const SCAN_FROM: i64 = -5_364_662_400;
/// End of the transition scan: 2200-01-01T00:00Z.
const SCAN_TO: i64 = 7_258_118_400;
/// One day: well under the smallest distance between two offset changes.
const PROBE_STEP: i64 = 86_400;

/// A time zone with its offset changes.
#[derive(Clone)]
pub(super) struct Zone {
    pub(super) tz: Tz,
    /// Instants (Unix seconds, ascending) at which the UTC offset changes.
    pub(super) transitions: Arc<[i64]>,
}

impl Zone {
    pub(super) fn new(tz: Tz) -> Self {
        Zone {
            tz,
            transitions: transitions(tz),
        }
    }

    /// The UTC offset, in seconds, at the instant `secs`.
    pub(super) fn offset(&self, secs: i64) -> i64 {
        offset(self.tz, secs)
    }

    /// The local date at the instant `secs`.
    pub(super) fn local_date(&self, secs: i64) -> NaiveDate {
        let local = secs.saturating_add(self.offset(secs));
        DateTime::from_timestamp(local, 0)
            .map(|d| d.date_naive())
            .unwrap_or(if secs < 0 {
                NaiveDate::MIN
            } else {
                NaiveDate::MAX
            })
    }

    /// The instant (Unix seconds) at which the wall clock first reaches
    /// `local`: the time itself when it occurs once, its first occurrence
    /// when a fall-back change repeats it, and the end of the gap when a
    /// spring-forward change skips it.
    pub(super) fn resolve(&self, local: NaiveDateTime) -> i64 {
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t.timestamp(),
            LocalResult::Ambiguous(a, b) => a.timestamp().min(b.timestamp()),
            LocalResult::None => GapInfo::new(&local, &self.tz)
                .and_then(|g| g.end)
                .map(|t| t.timestamp())
                .unwrap_or_else(|| {
                    // Not reached for dates in range; the offset at the
                    // local time read as UTC is the best remaining guess.
                    let naive = local.and_utc().timestamp();
                    naive.saturating_sub(self.offset(naive))
                }),
        }
    }
}

fn offset(tz: Tz, secs: i64) -> i64 {
    match DateTime::from_timestamp(secs, 0) {
        Some(t) => i64::from(
            tz.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc(),
        ),
        None => 0,
    }
}

/// The offset changes of `tz`, computed once per process.
fn transitions(tz: Tz) -> Arc<[i64]> {
    static CACHE: OnceLock<Mutex<HashMap<Tz, Arc<[i64]>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(t) = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&tz)
    {
        return Arc::clone(t);
    }
    // Scanned outside the lock: two threads may both scan, with the same result.
    let found: Arc<[i64]> = scan(tz).into();
    cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .entry(tz)
        .or_insert(found)
        .clone()
}

fn scan(tz: Tz) -> Vec<i64> {
    let mut out = Vec::new();
    let mut prev = SCAN_FROM;
    let mut prev_off = offset(tz, prev);
    while prev < SCAN_TO {
        let next = prev + PROBE_STEP;
        let next_off = offset(tz, next);
        if next_off != prev_off {
            // The first second in (prev, next] with a different offset.
            let (mut lo, mut hi) = (prev, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset(tz, mid) == prev_off {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push(hi);
        }
        prev = next;
        prev_off = next_off;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn berlin_2026_transitions_are_found_to_the_second() {
        let z = Zone::new(chrono_tz::Europe::Berlin);
        // 2026-03-29T01:00Z and 2026-10-25T01:00Z.
        for t in [1_774_746_000i64, 1_792_890_000] {
            assert!(z.transitions.binary_search(&t).is_ok(), "{t}");
        }
        let in_2026 = z
            .transitions
            .iter()
            .filter(|&&t| (1_767_225_600..1_798_761_600).contains(&t))
            .count();
        assert_eq!(in_2026, 2);
    }

    #[test]
    fn utc_has_no_transitions() {
        assert!(Zone::new(chrono_tz::UTC).transitions.is_empty());
    }
}
