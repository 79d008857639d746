//! ABC (Pareto) classification of customers by revenue.
//!
//! Customers are ranked by revenue, largest first (equal revenues by
//! customer id, ascending, so the result is deterministic). Walking down
//! the ranking, a customer's class is decided by the share of total revenue
//! held by the customers ranked **before** it:
//!
//! - below the A cut-off (default 80 %): class **A**,
//! - below the B cut-off (default 95 %): class **B**,
//! - otherwise: class **C**.
//!
//! So the customer whose revenue crosses 80 % is still an A: the A class is
//! the smallest top group that together reaches the cut-off. Customers
//! without positive revenue are not classified. All arithmetic is exact
//! (`Decimal`); shares are compared as `before < cut × total`, never
//! divided.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{EntityKind, Error, Result};
use crate::id::CustomerId;

/// An ABC class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum AbcClass {
    /// The top customers holding the first `a` share of revenue.
    A,
    /// The next ones, up to the `b` share.
    B,
    /// The rest.
    C,
}

/// The cumulative revenue shares where classes A and B end, as fractions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AbcCutoffs {
    /// End of class A (default 0.80).
    #[serde(with = "crate::serde_util::decimal_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::schema::DecimalString"))]
    pub a: Decimal,
    /// End of class B (default 0.95).
    #[serde(with = "crate::serde_util::decimal_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::schema::DecimalString"))]
    pub b: Decimal,
}

impl Default for AbcCutoffs {
    fn default() -> Self {
        AbcCutoffs {
            a: Decimal::new(80, 2),
            b: Decimal::new(95, 2),
        }
    }
}

impl AbcCutoffs {
    /// Checks `0 < a <= b <= 1`.
    pub fn validate(&self) -> Result<()> {
        if self.a <= Decimal::ZERO || self.a > Decimal::ONE {
            return Err(Error::invalid(
                EntityKind::Segment,
                "abc.a",
                self.a,
                "the A cut-off is a fraction above 0 and at most 1, such as 0.80",
            ));
        }
        if self.b < self.a || self.b > Decimal::ONE {
            return Err(Error::invalid(
                EntityKind::Segment,
                "abc.b",
                self.b,
                format!(
                    "the B cut-off is a fraction from the A cut-off ({}) to 1, such as 0.95",
                    self.a
                ),
            ));
        }
        Ok(())
    }
}

/// One classified customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomerAbc {
    /// The customer.
    pub customer: CustomerId,
    /// Their revenue.
    #[serde(with = "crate::serde_util::decimal_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::schema::DecimalString"))]
    pub revenue: Decimal,
    /// Their class.
    pub class: AbcClass,
}

/// Classifies customers by revenue, returned in rank order (largest first).
///
/// ```
/// use crm_core::segment::abc::{classify, AbcClass, AbcCutoffs};
/// use crm_core::CustomerId;
/// use rust_decimal::Decimal;
/// let id = |n| CustomerId::from_uuid(uuid::Uuid::from_u128(n));
/// let out = classify(&[(id(1), Decimal::from(90)), (id(2), Decimal::from(10))], AbcCutoffs::default())?;
/// assert_eq!(out[0].class, AbcClass::A); // 0 % before it
/// assert_eq!(out[1].class, AbcClass::B); // 90 % before it: not below 80 %, below 95 %
/// # Ok::<(), crm_core::Error>(())
/// ```
pub fn classify(revenues: &[(CustomerId, Decimal)], cut: AbcCutoffs) -> Result<Vec<CustomerAbc>> {
    cut.validate()?;
    let overflow = || {
        Error::invalid(
            EntityKind::Segment,
            "abc.revenue",
            "sum",
            "the total revenue is too large to add up exactly",
        )
    };
    let mut rows: Vec<(CustomerId, Decimal)> = revenues
        .iter()
        .filter(|(_, r)| *r > Decimal::ZERO)
        .copied()
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut total = Decimal::ZERO;
    for (_, r) in &rows {
        total = total.checked_add(*r).ok_or_else(overflow)?;
    }
    let a_limit = cut.a.checked_mul(total).ok_or_else(overflow)?;
    let b_limit = cut.b.checked_mul(total).ok_or_else(overflow)?;
    let mut before = Decimal::ZERO;
    let mut out = Vec::with_capacity(rows.len());
    for (customer, revenue) in rows {
        let class = if before < a_limit {
            AbcClass::A
        } else if before < b_limit {
            AbcClass::B
        } else {
            AbcClass::C
        };
        out.push(CustomerAbc {
            customer,
            revenue,
            class,
        });
        before = before.checked_add(revenue).ok_or_else(overflow)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn id(n: u128) -> CustomerId {
        CustomerId::from_uuid(Uuid::from_u128(n))
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn hand_computed_pareto() {
        // Revenues 500, 200, 120, 80, 50, 30, 20 (customers 1..7), 0 (customer 8).
        // Total = 1000. Share before each, in rank order:
        //   1: 0     → A    2: 50 %  → A    3: 70 %  → A (below 80 %)
        //   4: 82 %  → B    5: 90 %  → B    6: 95 %  → C (not below 95 %)
        //   7: 98 %  → C    8: revenue 0, not classified.
        let input = [
            (id(5), d("50")),
            (id(1), d("500")),
            (id(3), d("120")),
            (id(8), d("0")),
            (id(2), d("200")),
            (id(7), d("20")),
            (id(4), d("80")),
            (id(6), d("30")),
        ];
        let out = classify(&input, AbcCutoffs::default()).unwrap();
        let got: Vec<(CustomerId, AbcClass)> = out.iter().map(|c| (c.customer, c.class)).collect();
        use AbcClass::*;
        assert_eq!(
            got,
            vec![
                (id(1), A),
                (id(2), A),
                (id(3), A),
                (id(4), B),
                (id(5), B),
                (id(6), C),
                (id(7), C)
            ]
        );
    }

    #[test]
    fn custom_cutoffs_and_ties() {
        // 50/50 cut-offs, revenues 10.00, 10.00, 10.00, 10.00 (total 40.00).
        // Ties rank by id: before = 0, 10, 20, 30; A while before < 20 → ids 1, 2;
        // B while before < 20 too (b = a) → none; C: 3, 4.
        let cut = AbcCutoffs {
            a: d("0.5"),
            b: d("0.5"),
        };
        let input = [
            (id(4), d("10.00")),
            (id(2), d("10.00")),
            (id(1), d("10.00")),
            (id(3), d("10.00")),
        ];
        let out = classify(&input, cut).unwrap();
        let got: Vec<(CustomerId, AbcClass)> = out.iter().map(|c| (c.customer, c.class)).collect();
        use AbcClass::*;
        assert_eq!(got, vec![(id(1), A), (id(2), A), (id(3), C), (id(4), C)]);
    }

    #[test]
    fn bad_cutoffs_are_refused() {
        let e = classify(
            &[],
            AbcCutoffs {
                a: d("0.9"),
                b: d("0.8"),
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("abc.b"), "{e}");
        let e = classify(
            &[],
            AbcCutoffs {
                a: d("0"),
                b: d("0.8"),
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("abc.a"), "{e}");
    }
}
