//! Small serde helpers.

use serde::{Deserialize, Deserializer};

/// Lets a patch tell "field absent" (`None`) from "field set to null"
/// (`Some(None)`): use with `#[serde(default, deserialize_with = ...)]`.
pub(crate) fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// An exact decimal as a JSON string (`"1250.50"`): the form of every
/// amount. A JSON number is refused (it may already have lost digits in
/// the caller's float), and so is a string with more digits than a
/// [`Decimal`](rust_decimal::Decimal) holds exactly (it would be rounded).
/// Use with `#[serde(with = "crate::serde_util::decimal_str")]`.
pub(crate) mod decimal_str {
    use std::fmt;
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    /// What a caller is told the value should look like.
    pub(crate) const EXPECTED: &str = "a decimal string such as \"1250.50\"";

    pub(crate) fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::str::serialize(d, s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        deserialize_with(d, |v| {
            Decimal::from_str_exact(v).map_err(|_| {
                let shown = super::shorten(v);
                if Decimal::from_str(v).is_ok() {
                    format!(
                        "\"{shown}\" has more digits than an exact decimal holds (at most 28 after the point and about 7.9e28 in size): it would be rounded"
                    )
                } else {
                    format!(
                        "\"{shown}\" is not a decimal: expected {EXPECTED}, with a dot and no thousands separators or exponent"
                    )
                }
            })
        })
    }

    /// A decimal from a JSON string only, read by `parse` (which says
    /// why a text is refused); a number or any other JSON type is refused
    /// with [`EXPECTED`].
    pub(crate) fn deserialize_with<'de, D, F>(d: D, parse: F) -> Result<Decimal, D::Error>
    where
        D: Deserializer<'de>,
        F: FnOnce(&str) -> Result<Decimal, String>,
    {
        d.deserialize_str(DecimalText(parse))
    }

    struct DecimalText<F>(F);

    impl<F: FnOnce(&str) -> Result<Decimal, String>> Visitor<'_> for DecimalText<F> {
        type Value = Decimal;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(EXPECTED)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
            (self.0)(v).map_err(E::custom)
        }
    }
}

/// `v`, cut to 80 characters with an ellipsis, for messages.
pub(crate) fn shorten(v: &str) -> String {
    if v.chars().count() > 80 {
        v.chars().take(77).collect::<String>() + "..."
    } else {
        v.to_owned()
    }
}
