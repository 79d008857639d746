//! Sales velocity: how much money the pipeline moves per day.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::win_rate::closed_in_window;
use super::{DAYS_DP, KpiError, KpiFilter, PerCurrency, overflow_in, rate, round, round_money};
use crate::deal::{Deal, DealStatus};

/// The inputs and result of the velocity formula for one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Velocity {
    /// Open deals (now) with an amount in this currency.
    pub open_deals: u64,
    /// Deals won in the window with an amount in this currency.
    pub won: u64,
    /// Deals lost in the window with an amount in this currency.
    pub lost: u64,
    /// `won / (won + lost)`, 4 places (display only; the formula uses the exact value).
    pub win_rate: Option<Decimal>,
    /// Mean won amount, minor units (display only).
    pub average_deal_size: Option<Decimal>,
    /// Mean days from creation to win, 2 places (display only).
    pub average_cycle_days: Option<Decimal>,
    /// Velocity in money per day, rounded to the minor unit; `None` when
    /// nothing closed in the window or the average cycle is zero.
    pub per_day: Option<Decimal>,
}

#[derive(Default)]
struct Acc {
    open: u64,
    won: u64,
    lost: u64,
    won_total: Decimal,
    cycle_ms: i128,
}

/// **Sales velocity** per currency = open deals × win rate × average deal
/// size ÷ average sales cycle (days), in money per day.
///
/// Per currency `c`, over the deals in scope that have an amount in `c`:
/// open deals are those open now (the window does not apply); win rate,
/// average deal size and average cycle are those of [`win_rate`],
/// [`deal_size`] and [`sales_cycle`] restricted to `c` (deals closed in the
/// window). The product is computed from the exact, unrounded components,
/// which simplifies to `open × won_total × won ÷ ((won + lost) ×
/// cycle_days_total)`, and is rounded once to the minor unit. Deals without
/// an amount have no currency and take no part.
///
/// [`win_rate`]: super::win_rate::win_rate
/// [`deal_size`]: super::deal_size::deal_size
/// [`sales_cycle`]: super::deal_size::sales_cycle
pub fn sales_velocity<'a>(
    deals: impl IntoIterator<Item = &'a Deal>,
    filter: &KpiFilter,
) -> Result<PerCurrency<Velocity>, KpiError> {
    let mut a = VelocityAcc::default();
    for d in deals {
        a.add(d, filter)?;
    }
    a.finish()
}

/// Velocity inputs per currency, one deal at a time.
#[derive(Default)]
pub(crate) struct VelocityAcc {
    acc: PerCurrency<Acc>,
}

impl VelocityAcc {
    pub(crate) fn add(&mut self, d: &Deal, filter: &KpiFilter) -> Result<(), KpiError> {
        if !filter.scopes(d) {
            return Ok(());
        }
        let Some(m) = &d.amount else { return Ok(()) };
        if d.status == DealStatus::Open {
            self.acc.entry(m.currency).or_default().open += 1;
            return Ok(());
        }
        match closed_in_window(d, filter) {
            Some(true) => {
                let a = self.acc.entry(m.currency).or_default();
                a.won += 1;
                a.won_total = a
                    .won_total
                    .checked_add(m.amount)
                    .ok_or_else(|| overflow_in("won total", m.currency))?;
                if let Some(w) = d.won_at {
                    a.cycle_ms += i128::from((w - d.created_at).num_milliseconds());
                }
            }
            Some(false) => self.acc.entry(m.currency).or_default().lost += 1,
            None => {}
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<PerCurrency<Velocity>, KpiError> {
        let acc = self.acc;
        let mut out = PerCurrency::new();
        for (c, a) in acc {
            let won = Decimal::from(a.won);
            let cycle_days = super::ms_to_days(a.cycle_ms)?;
            let per_day = if a.won == 0 || cycle_days.is_zero() {
                None
            } else {
                let num = Decimal::from(a.open)
                    .checked_mul(a.won_total)
                    .and_then(|x| x.checked_mul(won))
                    .ok_or_else(|| overflow_in("sales velocity", c))?;
                let den = Decimal::from(a.won + a.lost)
                    .checked_mul(cycle_days)
                    .ok_or_else(|| overflow_in("sales velocity", c))?;
                Some(round_money(
                    num.checked_div(den)
                        .ok_or_else(|| overflow_in("sales velocity", c))?,
                    c,
                ))
            };
            out.insert(
                c,
                Velocity {
                    open_deals: a.open,
                    won: a.won,
                    lost: a.lost,
                    win_rate: rate(a.won, a.won + a.lost),
                    average_deal_size: (a.won > 0).then(|| round_money(a.won_total / won, c)),
                    average_cycle_days: (a.won > 0).then(|| round(cycle_days / won, DAYS_DP)),
                    per_day,
                },
            );
        }
        Ok(out)
    }
}
