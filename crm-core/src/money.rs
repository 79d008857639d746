//! Exact amounts of money.
//!
//! A [`Money`] is a [`Decimal`] amount in one [`Currency`]. Arithmetic never
//! converts between currencies: adding EUR to USD is a
//! [`MoneyError::CurrencyMismatch`]. Arithmetic never panics either: overflow
//! is a [`MoneyError::Overflow`]. The serialised form keeps the amount as a
//! decimal string (`{"amount":"1250.00","currency":"EUR"}`) so no float ever
//! touches it; a JSON number is rejected on input.
//!
//! Rounding is explicit: [`Money::round_to_minor_units`] rounds half away
//! from zero (commercial rounding) to the currency's minor unit. Parsing
//! never rounds: an amount text with more decimal places than a
//! [`Decimal`] holds exactly
//! ([`MAX_AMOUNT_TEXT_SCALE`](crate::limits::MAX_AMOUNT_TEXT_SCALE)) is a
//! [`MoneyError::TooPrecise`], in [`Money::parse`] and in JSON alike.
//!
//! Amounts that records store are bounded: at most
//! [`MAX_AMOUNT`](crate::limits::MAX_AMOUNT) (10^15) in absolute value
//! ([`Money::check_bounds`]), so sums over any number of records stay in
//! range (see the reasoning at the constant).

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::currency::{Currency, UnknownCurrency};

/// An amount of money in one currency.
///
/// ```
/// use crm_core::{Currency, Money};
///
/// let a = Money::parse("1250.50", "EUR")?;
/// let b = Money::parse("99.50", "eur")?;
/// assert_eq!(a.checked_add(&b)?, Money::parse("1350.00", "EUR")?);
///
/// let usd = Money::parse("10", "USD")?;
/// assert!(a.checked_add(&usd).is_err()); // never a silent conversion
/// # Ok::<(), crm_core::MoneyError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// The amount, exact.
    #[serde(with = "amount_text")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::schema::DecimalString"))]
    pub amount: Decimal,
    /// The currency of `amount`.
    pub currency: Currency,
}

/// Why a money operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The two operands are in different currencies.
    #[error(
        "cannot {operation} {left} and {right}: amounts in different currencies are never converted implicitly"
    )]
    CurrencyMismatch {
        /// What was attempted ("add", "subtract", "compare").
        operation: &'static str,
        /// Currency of the left operand.
        left: Currency,
        /// Currency of the right operand.
        right: Currency,
    },
    /// The result does not fit in a decimal (about 7.9e28).
    #[error("the result of {operation} is too large to represent exactly")]
    Overflow {
        /// What was attempted.
        operation: &'static str,
    },
    /// The amount text is not a decimal number.
    #[error(
        "'{0}' is not a decimal amount (write it like 1250.50, with a dot and no thousands separators)"
    )]
    InvalidAmount(String),
    /// The currency code is unknown.
    #[error(transparent)]
    UnknownCurrency(#[from] UnknownCurrency),
    /// The amount text has more decimal places than can be kept exactly;
    /// it is refused rather than rounded.
    #[error(
        "'{amount}' has {places} decimal places; an amount has at most {max} and is never rounded silently"
    )]
    TooPrecise {
        /// The amount as given (shortened).
        amount: String,
        /// How many decimal places it has (trailing zeros not counted).
        places: usize,
        /// The most accepted ([`MAX_AMOUNT_TEXT_SCALE`](crate::limits::MAX_AMOUNT_TEXT_SCALE)).
        max: u32,
    },
    /// The amount is larger in absolute value than
    /// [`MAX_AMOUNT`](crate::limits::MAX_AMOUNT).
    #[error("{amount} is out of range: an amount is at most {max} in absolute value")]
    OutOfRange {
        /// The amount.
        amount: Money,
        /// The bound.
        max: Decimal,
    },
}

/// Parses an amount text exactly: the [`Decimal`] it gives has every digit
/// the text has, or the text is refused.
fn parse_exact(text: &str) -> Result<Decimal, MoneyError> {
    let amount = text
        .parse::<Decimal>()
        .map_err(|_| MoneyError::InvalidAmount(text.to_owned()))?;
    let places = match text.split_once('.') {
        Some((_, frac)) => {
            let digits: String = frac.chars().filter(char::is_ascii_digit).collect();
            digits.trim_end_matches('0').len()
        }
        None => 0,
    };
    let max = crate::limits::MAX_AMOUNT_TEXT_SCALE;
    if places > max as usize || amount.normalize().scale() as usize != places {
        let mut shown: String = text.chars().take(60).collect();
        if shown.len() < text.len() {
            shown.push('…');
        }
        return Err(MoneyError::TooPrecise {
            amount: shown,
            places,
            max,
        });
    }
    Ok(amount)
}

/// The amount as a decimal string: a JSON number is refused (it may have
/// been rounded on its way), and so is text with more places than
/// [`crate::limits::MAX_AMOUNT_TEXT_SCALE`].
mod amount_text {
    use rust_decimal::Decimal;
    use serde::{Deserializer, Serializer};

    use crate::serde_util::decimal_str;

    pub(super) fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        decimal_str::serialize(d, s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        decimal_str::deserialize_with(d, |text| {
            super::parse_exact(text.trim()).map_err(|e| e.to_string())
        })
    }
}

impl Money {
    /// Money from an amount and a currency.
    pub const fn new(amount: Decimal, currency: Currency) -> Self {
        Money { amount, currency }
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Self {
        Money {
            amount: Decimal::ZERO,
            currency,
        }
    }

    /// Parses an amount such as `"1250.50"` and a currency code such as `"EUR"`.
    pub fn parse(amount: &str, currency: &str) -> Result<Self, MoneyError> {
        let currency = Currency::from_code(currency)?;
        let text = amount.trim();
        let amount = parse_exact(text).map_err(|e| match e {
            MoneyError::InvalidAmount(_) => MoneyError::InvalidAmount(amount.to_owned()),
            other => other,
        })?;
        Ok(Money { amount, currency })
    }

    fn same_currency(&self, other: &Money, operation: &'static str) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                operation,
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// `self + other`, both in the same currency.
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other, "add")?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow {
                operation: "addition",
            })?;
        Ok(Money::new(amount, self.currency))
    }

    /// `self - other`, both in the same currency.
    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other, "subtract")?;
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow {
                operation: "subtraction",
            })?;
        Ok(Money::new(amount, self.currency))
    }

    /// `self × factor` (a plain number such as a probability or a rate).
    pub fn checked_mul(&self, factor: Decimal) -> Result<Money, MoneyError> {
        let amount = self
            .amount
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow {
                operation: "multiplication",
            })?;
        Ok(Money::new(amount, self.currency))
    }

    /// Compares two amounts in the same currency.
    pub fn checked_cmp(&self, other: &Money) -> Result<std::cmp::Ordering, MoneyError> {
        self.same_currency(other, "compare")?;
        Ok(self.amount.cmp(&other.amount))
    }

    /// Sums amounts that must all be in `currency` (an empty input sums to zero).
    pub fn checked_sum<'a>(
        currency: Currency,
        items: impl IntoIterator<Item = &'a Money>,
    ) -> Result<Money, MoneyError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), |acc, m| acc.checked_add(m))
    }

    /// Rounds half away from zero to the currency's minor unit
    /// (`10.005 EUR` → `10.01 EUR`, `-10.005 EUR` → `-10.01 EUR`, `99.5 JPY` → `100 JPY`).
    pub fn round_to_minor_units(&self) -> Money {
        Money::new(
            self.amount.round_dp_with_strategy(
                self.currency.minor_units(),
                RoundingStrategy::MidpointAwayFromZero,
            ),
            self.currency,
        )
    }

    /// True when the amount has no more decimal places than the currency's
    /// minor unit allows (`10.50 EUR` yes, `10.505 EUR` no).
    pub fn fits_minor_units(&self) -> bool {
        self.amount.normalize().scale() <= self.currency.minor_units()
    }

    /// Refuses an amount larger in absolute value than
    /// [`MAX_AMOUNT`](crate::limits::MAX_AMOUNT); the facade runs it on every
    /// amount a record stores (deal amounts, custom money fields).
    ///
    /// ```
    /// use crm_core::{Money, limits::MAX_AMOUNT};
    /// assert!(Money::parse("1000000000000000", "EUR")?.check_bounds().is_ok());
    /// assert!(Money::parse("1000000000000000.01", "EUR")?.check_bounds().is_err());
    /// assert!(Money::parse("-1000000000000000.01", "EUR")?.check_bounds().is_err());
    /// # Ok::<(), crm_core::MoneyError>(())
    /// ```
    pub fn check_bounds(&self) -> Result<(), MoneyError> {
        let max = crate::limits::MAX_AMOUNT;
        if self.amount.abs() > max {
            return Err(MoneyError::OutOfRange { amount: *self, max });
        }
        Ok(())
    }

    /// True when the amount is below zero.
    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }
}

impl fmt::Display for Money {
    /// `1250.50 EUR`: at least as many decimals as the minor unit, never fewer
    /// digits than the exact amount has.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut amount = self.amount;
        if amount.scale() < self.currency.minor_units() {
            amount.rescale(self.currency.minor_units());
        }
        write!(f, "{} {}", amount, self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn eur(s: &str) -> Money {
        Money::parse(s, "EUR").unwrap()
    }

    #[test]
    fn worked_examples() {
        assert_eq!(eur("0.1").checked_add(&eur("0.2")).unwrap(), eur("0.3"));
        assert_eq!(
            eur("100").checked_sub(&eur("100.01")).unwrap(),
            eur("-0.01")
        );
        assert_eq!(
            eur("1000")
                .checked_mul(Decimal::from_str("0.25").unwrap())
                .unwrap(),
            eur("250")
        );
        assert_eq!(eur("10.005").round_to_minor_units(), eur("10.01"));
        assert_eq!(eur("-10.005").round_to_minor_units(), eur("-10.01"));
        assert_eq!(
            Money::parse("99.5", "JPY").unwrap().round_to_minor_units(),
            Money::parse("100", "JPY").unwrap()
        );
        assert_eq!(eur("1250.5").to_string(), "1250.50 EUR");
        assert_eq!(Money::parse("1250", "JPY").unwrap().to_string(), "1250 JPY");
        assert!(eur("10.50").fits_minor_units());
        assert!(!eur("10.505").fits_minor_units());
        assert!(eur("-1").is_negative());
        assert!(!eur("0").is_negative());
    }

    #[test]
    fn errors_say_what_went_wrong() {
        let err = eur("1")
            .checked_add(&Money::parse("1", "USD").unwrap())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot add EUR and USD: amounts in different currencies are never converted implicitly"
        );
        assert_eq!(
            Money::parse("1,000.00", "EUR").unwrap_err(),
            MoneyError::InvalidAmount("1,000.00".into())
        );
        let max = Money::new(Decimal::MAX, Currency::EUR);
        assert_eq!(
            max.checked_add(&eur("1")).unwrap_err(),
            MoneyError::Overflow {
                operation: "addition"
            }
        );
    }

    #[test]
    fn serde_uses_strings_and_rejects_floats() {
        let json = serde_json::to_string(&eur("1250.50")).unwrap();
        assert_eq!(json, r#"{"amount":"1250.50","currency":"EUR"}"#);
        assert_eq!(
            serde_json::from_str::<Money>(&json).unwrap(),
            eur("1250.50")
        );
        assert!(serde_json::from_str::<Money>(r#"{"amount":1250.5,"currency":"EUR"}"#).is_err());
    }

    #[test]
    fn amounts_are_never_rounded_when_read() {
        // 28 decimal places: exact, accepted (at the bound).
        let at = format!("0.{}1", "0".repeat(27));
        assert_eq!(eur(&at).amount.scale(), 28);
        // 29 used to parse as 0: refused, in text and in JSON.
        let past = format!("0.{}1", "0".repeat(28));
        assert!(matches!(
            Money::parse(&past, "EUR"),
            Err(MoneyError::TooPrecise {
                places: 29,
                max: 28,
                ..
            })
        ));
        let json = format!(r#"{{"amount":"{past}","currency":"EUR"}}"#);
        let err = serde_json::from_str::<Money>(&json).unwrap_err();
        assert!(err.to_string().contains("29 decimal places"), "{err}");
        // Too many significant digits for a Decimal: refused, not rounded.
        let r = Money::parse("12345678901234567890123456.789012", "EUR");
        assert!(
            matches!(
                r,
                Err(MoneyError::TooPrecise { .. } | MoneyError::InvalidAmount(_))
            ),
            "{r:?}"
        );
        // Trailing zeros do not count.
        assert_eq!(eur(&format!("1.5{}", "0".repeat(40))), eur("1.5"));
    }

    #[test]
    fn bounds_at_and_one_past() {
        assert!(eur("1000000000000000").check_bounds().is_ok());
        assert!(eur("-1000000000000000").check_bounds().is_ok());
        let err = eur("1000000000000000.01").check_bounds().unwrap_err();
        assert_eq!(
            err.to_string(),
            "1000000000000000.01 EUR is out of range: an amount is at most 1000000000000000 in absolute value"
        );
        assert!(
            Money::new(Decimal::MAX, Currency::EUR)
                .check_bounds()
                .is_err()
        );
    }

    fn cents() -> impl Strategy<Value = Decimal> {
        (-10_000_000_000i64..10_000_000_000i64).prop_map(|c| Decimal::new(c, 2))
    }

    proptest! {
        #[test]
        fn addition_commutes_and_subtraction_inverts(a in cents(), b in cents()) {
            let (a, b) = (Money::new(a, Currency::EUR), Money::new(b, Currency::EUR));
            prop_assert_eq!(a.checked_add(&b).unwrap(), b.checked_add(&a).unwrap());
            prop_assert_eq!(a.checked_add(&b).unwrap().checked_sub(&b).unwrap(), a);
        }

        #[test]
        fn sum_is_order_independent(mut xs in proptest::collection::vec(cents(), 0..20)) {
            let ms: Vec<Money> = xs.iter().map(|d| Money::new(*d, Currency::EUR)).collect();
            let s1 = Money::checked_sum(Currency::EUR, &ms).unwrap();
            xs.reverse();
            let ms: Vec<Money> = xs.iter().map(|d| Money::new(*d, Currency::EUR)).collect();
            prop_assert_eq!(s1, Money::checked_sum(Currency::EUR, &ms).unwrap());
        }

        #[test]
        fn cross_currency_always_fails(a in cents(), b in cents()) {
            let a = Money::new(a, Currency::EUR);
            let b = Money::new(b, Currency::USD);
            prop_assert!(matches!(a.checked_add(&b), Err(MoneyError::CurrencyMismatch { .. })), "add");
            prop_assert!(matches!(a.checked_sub(&b), Err(MoneyError::CurrencyMismatch { .. })), "sub");
            prop_assert!(a.checked_cmp(&b).is_err());
        }

        #[test]
        fn rounding_is_idempotent_and_close(a in (-1_000_000_000i64..1_000_000_000i64).prop_map(|c| Decimal::new(c, 4))) {
            let m = Money::new(a, Currency::EUR);
            let r = m.round_to_minor_units();
            prop_assert_eq!(r.round_to_minor_units(), r);
            prop_assert!(r.fits_minor_units());
            prop_assert!((r.amount - a).abs() <= Decimal::new(5, 3));
        }

        #[test]
        fn serde_round_trip(a in cents()) {
            let m = Money::new(a, Currency::EUR);
            let back: Money = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
            prop_assert_eq!(back, m);
            prop_assert_eq!(back.amount.scale(), m.amount.scale());
        }
    }
}
