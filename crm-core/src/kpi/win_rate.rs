//! Win rate and close rate.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{KpiFilter, OwnerKey, rate};
use crate::deal::{Deal, DealStatus};

/// Deals won and lost, and the win rate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct WinRate {
    /// Deals won in the window.
    pub won: u64,
    /// Deals lost in the window.
    pub lost: u64,
    /// `won / (won + lost)`, rounded to 4 places; `None` when nothing closed.
    pub rate: Option<Decimal>,
}

/// How a deal closed, if it closed inside the filter's window.
pub(crate) fn closed_in_window(d: &Deal, f: &KpiFilter) -> Option<bool> {
    match d.status {
        DealStatus::Won => d.won_at.filter(|t| f.in_window(*t)).map(|_| true),
        DealStatus::Lost => d.lost_at.filter(|t| f.in_window(*t)).map(|_| false),
        DealStatus::Open => None,
    }
}

/// Counts for the win rate (total and per owner) and the close rate, one
/// deal at a time.
#[derive(Debug, Default)]
pub(crate) struct WinAcc {
    won: u64,
    lost: u64,
    by_owner: BTreeMap<OwnerKey, (u64, u64)>,
    created: u64,
    created_won: u64,
}

impl WinAcc {
    pub(crate) fn add(&mut self, d: &Deal, f: &KpiFilter) {
        if !f.scopes(d) {
            return;
        }
        if let Some(won) = closed_in_window(d, f) {
            let o = self.by_owner.entry(d.owner).or_default();
            if won {
                self.won += 1;
                o.0 += 1;
            } else {
                self.lost += 1;
                o.1 += 1;
            }
        }
        if f.in_window(d.created_at) {
            self.created += 1;
            self.created_won += u64::from(d.status == DealStatus::Won);
        }
    }

    pub(crate) fn win_rate(&self) -> WinRate {
        finish(self.won, self.lost)
    }

    pub(crate) fn by_owner(&self) -> BTreeMap<OwnerKey, WinRate> {
        self.by_owner
            .iter()
            .map(|(o, (w, l))| (*o, finish(*w, *l)))
            .collect()
    }

    pub(crate) fn close_rate(&self) -> CloseRate {
        CloseRate {
            created: self.created,
            won: self.created_won,
            rate: rate(self.created_won, self.created),
        }
    }
}

fn acc<'a>(deals: impl IntoIterator<Item = &'a Deal>, filter: &KpiFilter) -> WinAcc {
    let mut a = WinAcc::default();
    for d in deals {
        a.add(d, filter);
    }
    a
}

/// **Win rate** = won ÷ (won + lost), over the deals in the filter's
/// pipeline and owner scope that are *currently* won with `won_at` in the
/// window, or currently lost with `lost_at` in the window. A deal that was
/// reopened counts by its current state only (reopening clears the close
/// time). Rounded to 4 places; `None` when no deal closed.
pub fn win_rate<'a>(deals: impl IntoIterator<Item = &'a Deal>, filter: &KpiFilter) -> WinRate {
    acc(deals, filter).win_rate()
}

fn finish(won: u64, lost: u64) -> WinRate {
    WinRate {
        won,
        lost,
        rate: rate(won, won + lost),
    }
}

/// [`win_rate`] per deal owner (key `None`: deals without an owner). The
/// `won` and `lost` counts over all owners add up to the unsplit figure.
pub fn win_rate_by_owner<'a>(
    deals: impl IntoIterator<Item = &'a Deal>,
    filter: &KpiFilter,
) -> BTreeMap<OwnerKey, WinRate> {
    acc(deals, filter).by_owner()
}

/// Deals created and won, and the close rate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CloseRate {
    /// Deals created in the window.
    pub created: u64,
    /// Of those, the ones won by now.
    pub won: u64,
    /// `won / created`, rounded to 4 places; `None` when none was created.
    pub rate: Option<Decimal>,
}

/// **Close rate** = of the deals in scope *created* in the window, the
/// share that is won now (whenever it was won), rounded to 4 places. Unlike
/// the win rate it counts still-open deals in the denominator: it answers
/// "how many of the deals we start do we win".
pub fn close_rate<'a>(deals: impl IntoIterator<Item = &'a Deal>, filter: &KpiFilter) -> CloseRate {
    acc(deals, filter).close_rate()
}
