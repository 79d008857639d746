//! RFM analysis: recency, frequency and monetary value of won deals.
//!
//! The population is every customer with at least one won deal counted by
//! a [`Revenue`](super::Revenue) selection: won within the window ending
//! at the engine's now and with an amount in the selected currency (deals
//! without an amount, or in another currency, are not counted; amounts are
//! never converted). For each such customer:
//!
//! - **recency** is the time of the most recent counted win (later is better),
//! - **frequency** is the number of counted wins,
//! - **monetary** is the exact sum of their amounts.
//!
//! # Quintile scores (1 to 5)
//!
//! Each dimension is scored on its own. With `n` customers and `below` the
//! number of customers whose value is strictly worse, the score is
//! `1 + floor(5 × below / n)`. So the worst fifth scores 1 and the best
//! fifth 5, and **ties share one score**: customers with equal values get
//! the score of the first of them in rank order (the lowest score their
//! group spans). The result depends only on the values, never on the order
//! customers are listed in. When every customer has the same value, all
//! score 1.
//!
//! # Named segments
//!
//! The segment is read from R and `FM = ceil((F + M) / 2)` (frequency and
//! money averaged, halves rounded up) on this grid; every one of the 25
//! cells belongs to exactly one segment:
//!
//! | R \ FM | 1 | 2 | 3 | 4 | 5 |
//! |---|---|---|---|---|---|
//! | **5** | new | potential loyalist | potential loyalist | champions | champions |
//! | **4** | promising | potential loyalist | potential loyalist | champions | champions |
//! | **3** | about to sleep | about to sleep | need attention | loyal | loyal |
//! | **2** | hibernating | hibernating | at risk | at risk | at risk |
//! | **1** | lost | lost | at risk | cannot lose | cannot lose |
//!
//! ```
//! use crm_core::segment::rfm::{RfmScore, RfmSegment};
//! assert_eq!(RfmScore { r: 5, f: 4, m: 5 }.segment(), RfmSegment::Champions);
//! assert_eq!(RfmScore { r: 1, f: 5, m: 4 }.segment(), RfmSegment::CannotLose);
//! ```

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::id::CustomerId;

/// The named RFM segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RfmSegment {
    /// Bought recently, often and for much.
    Champions,
    /// Buy often and for much, not the most recently.
    Loyal,
    /// Recent buyers with average frequency and value.
    PotentialLoyalist,
    /// Bought very recently, little so far.
    New,
    /// Bought recently, little so far.
    Promising,
    /// Average on every dimension.
    NeedAttention,
    /// Below average recency, little value.
    AboutToSleep,
    /// Used to buy well, not lately.
    AtRisk,
    /// Were among the best, have not bought for the longest.
    CannotLose,
    /// Long ago, little value.
    Hibernating,
    /// Longest ago, least value.
    Lost,
}

impl RfmSegment {
    /// Every segment, best first.
    pub const ALL: [RfmSegment; 11] = [
        RfmSegment::Champions,
        RfmSegment::Loyal,
        RfmSegment::PotentialLoyalist,
        RfmSegment::New,
        RfmSegment::Promising,
        RfmSegment::NeedAttention,
        RfmSegment::AboutToSleep,
        RfmSegment::AtRisk,
        RfmSegment::CannotLose,
        RfmSegment::Hibernating,
        RfmSegment::Lost,
    ];

    /// The snake_case name, as written in expressions.
    pub fn as_str(&self) -> &'static str {
        match self {
            RfmSegment::Champions => "champions",
            RfmSegment::Loyal => "loyal",
            RfmSegment::PotentialLoyalist => "potential_loyalist",
            RfmSegment::New => "new",
            RfmSegment::Promising => "promising",
            RfmSegment::NeedAttention => "need_attention",
            RfmSegment::AboutToSleep => "about_to_sleep",
            RfmSegment::AtRisk => "at_risk",
            RfmSegment::CannotLose => "cannot_lose",
            RfmSegment::Hibernating => "hibernating",
            RfmSegment::Lost => "lost",
        }
    }
}

impl fmt::Display for RfmSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A customer's three scores, each 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RfmScore {
    /// Recency score.
    pub r: u8,
    /// Frequency score.
    pub f: u8,
    /// Monetary score.
    pub m: u8,
}

impl RfmScore {
    /// `ceil((f + m) / 2)`.
    pub fn fm(&self) -> u8 {
        (self.f + self.m).div_ceil(2)
    }

    /// The named segment (see the [module documentation](self)).
    pub fn segment(&self) -> RfmSegment {
        use RfmSegment::*;
        match (self.r, self.fm()) {
            (4..=5, 4..=5) => Champions,
            (3, 4..=5) => Loyal,
            (4..=5, 2..=3) => PotentialLoyalist,
            (5, _) => New,
            (4, _) => Promising,
            (3, 3) => NeedAttention,
            (3, _) => AboutToSleep,
            (2, 3..) => AtRisk,
            (2, _) => Hibernating,
            (_, 4..) => CannotLose,
            (_, 3) => AtRisk,
            (_, _) => Lost,
        }
    }
}

/// One customer's counted wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Purchases {
    /// When the most recent counted deal was won.
    pub last: DateTime<Utc>,
    /// How many counted deals were won.
    pub count: u64,
    /// The exact sum of their amounts.
    pub total: Decimal,
}

/// A customer's RFM result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomerRfm {
    /// The customer.
    pub customer: CustomerId,
    /// What the scores were computed from.
    pub purchases: Purchases,
    /// The scores.
    pub score: RfmScore,
    /// The named segment.
    pub segment: RfmSegment,
}

/// Quintile scores of `values` (see the module documentation): the result
/// has one score per value, in the same order.
///
/// ```
/// use crm_core::segment::rfm::quintiles;
/// // 10 values, two tied at 7: below(7) = 6 → 1 + 30/10 = 4 for both.
/// assert_eq!(quintiles(&[1, 2, 3, 4, 5, 6, 7, 7, 9, 10]), vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
/// ```
pub fn quintiles<T: Ord>(values: &[T]) -> Vec<u8> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].cmp(&values[b]));
    let mut scores = vec![0u8; n];
    let mut group_start = 0;
    for (rank, &i) in order.iter().enumerate() {
        if rank > 0 && values[order[rank - 1]] != values[i] {
            group_start = rank;
        }
        // group_start < n, so 5 * group_start / n < 5.
        scores[i] = 1 + ((5 * group_start) / n) as u8;
    }
    scores
}

/// Scores every customer of `purchases` (see the module documentation),
/// in ascending customer id order.
pub fn score(purchases: &HashMap<CustomerId, Purchases>) -> Vec<CustomerRfm> {
    let mut rows: Vec<(CustomerId, Purchases)> =
        purchases.iter().map(|(id, p)| (*id, *p)).collect();
    rows.sort_by_key(|(id, _)| *id);
    let r = quintiles(&rows.iter().map(|(_, p)| p.last).collect::<Vec<_>>());
    let f = quintiles(&rows.iter().map(|(_, p)| p.count).collect::<Vec<_>>());
    let m = quintiles(&rows.iter().map(|(_, p)| p.total).collect::<Vec<_>>());
    rows.into_iter()
        .enumerate()
        .map(|(i, (customer, purchases))| {
            let score = RfmScore {
                r: r[i],
                f: f[i],
                m: m[i],
            };
            CustomerRfm {
                customer,
                purchases,
                score,
                segment: score.segment(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use uuid::Uuid;

    #[test]
    fn every_grid_cell_has_the_documented_segment() {
        use RfmSegment::*;
        // Rows R = 5..1, columns FM = 1..5, copied from the module table.
        let grid = [
            [
                New,
                PotentialLoyalist,
                PotentialLoyalist,
                Champions,
                Champions,
            ],
            [
                Promising,
                PotentialLoyalist,
                PotentialLoyalist,
                Champions,
                Champions,
            ],
            [AboutToSleep, AboutToSleep, NeedAttention, Loyal, Loyal],
            [Hibernating, Hibernating, AtRisk, AtRisk, AtRisk],
            [Lost, Lost, AtRisk, CannotLose, CannotLose],
        ];
        for (row, r) in (1..=5u8).rev().enumerate() {
            for fm in 1..=5u8 {
                // f = m = fm gives FM = fm.
                let s = RfmScore { r, f: fm, m: fm };
                assert_eq!(s.segment(), grid[row][fm as usize - 1], "R={r} FM={fm}");
            }
        }
        // FM rounds halves up: F=2, M=3 → 2.5 → 3.
        assert_eq!(RfmScore { r: 3, f: 2, m: 3 }.fm(), 3);
        assert_eq!(RfmScore { r: 3, f: 2, m: 3 }.segment(), NeedAttention);
        assert_eq!(RfmScore { r: 1, f: 1, m: 2 }.fm(), 2);
        // All 11 segments are reachable.
        let mut seen: Vec<RfmSegment> = grid.iter().flatten().copied().collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 11);
    }

    #[test]
    fn quintiles_share_scores_on_ties() {
        // n = 5, values 3 3 3 8 9: below = 0,0,0,3,4 → 1,1,1,1+15/5=4,1+20/5=5.
        assert_eq!(quintiles(&[3, 8, 3, 9, 3]), vec![1, 4, 1, 5, 1]);
        // All equal: all 1.
        assert_eq!(quintiles(&[7, 7, 7]), vec![1, 1, 1]);
        // n = 3: below 0,1,2 → 1, 1+5/3=2, 1+10/3=4.
        assert_eq!(quintiles(&[10, 20, 30]), vec![1, 2, 4]);
        assert!(quintiles::<u8>(&[]).is_empty());
    }

    #[test]
    fn scores_a_hand_computed_population() {
        let day = |d: u32| Utc.with_ymd_and_hms(2025, 1, d, 0, 0, 0).unwrap();
        let id = |n: u128| CustomerId::from_uuid(Uuid::from_u128(n));
        let p = |last, count, total: i64| Purchases {
            last: day(last),
            count,
            total: Decimal::new(total, 0),
        };
        // Five customers: (last win day, wins, total)
        //   1: (30, 9, 9000)   2: (25, 4, 5000)   3: (20, 4, 800)
        //   4: (2, 7, 7000)    5: (1, 1, 100)
        let data: HashMap<_, _> = [
            (id(1), p(30, 9, 9000)),
            (id(2), p(25, 4, 5000)),
            (id(3), p(20, 4, 800)),
            (id(4), p(2, 7, 7000)),
            (id(5), p(1, 1, 100)),
        ]
        .into();
        // n = 5 so a score is 1 + below.
        // R: below = 4,3,2,1,0 → 5,4,3,2,1.
        // F: 9→below 4 → 5; 4,4 tie → below 1 → 2,2; 7 → below 3 → 4; 1 → 1.
        // M: 9000→5, 5000→3, 800→2, 7000→4, 100→1.
        // FM = ceil((F+M)/2): 1:5, 2:ceil(5/2)=3, 3:2, 4:4, 5:1.
        // Segments: 1 (5,5) champions; 2 (4,3) potential loyalist;
        // 3 (3,2) about to sleep; 4 (2,4) at risk; 5 (1,1) lost.
        let out = score(&data);
        let got: Vec<(u8, u8, u8, RfmSegment)> = out
            .iter()
            .map(|c| (c.score.r, c.score.f, c.score.m, c.segment))
            .collect();
        assert_eq!(
            got,
            vec![
                (5, 5, 5, RfmSegment::Champions),
                (4, 2, 3, RfmSegment::PotentialLoyalist),
                (3, 2, 2, RfmSegment::AboutToSleep),
                (2, 4, 4, RfmSegment::AtRisk),
                (1, 1, 1, RfmSegment::Lost),
            ]
        );
        assert_eq!(out[0].customer, id(1));
    }
}
