//! Contact points: e-mail addresses and phone numbers, validated and normalised.
//!
//! Normal forms make duplicates visible and lookups exact:
//! - an [`Email`] is trimmed and lower-cased as a whole (`Ada@Example.COM` →
//!   `ada@example.com`); it must have one `@`, a non-empty local part of at
//!   most 64 characters, and a dotted domain.
//! - a [`Phone`] is stored in E.164 form (`+4930123456`): spaces, dashes,
//!   dots, slashes and parentheses are dropped, a leading `00` becomes `+`;
//!   it must carry a country code and have 7 to 15 digits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a contact point was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ContactError {
    /// What is wrong with the value.
    pub reason: &'static str,
}

fn refuse<T>(reason: &'static str) -> Result<T, ContactError> {
    Err(ContactError { reason })
}

/// A normalised e-mail address.
///
/// ```
/// use crm_core::Email;
/// let e: Email = "  Ada.Lovelace@Example.ORG ".parse().unwrap();
/// assert_eq!(e.as_str(), "ada.lovelace@example.org");
/// assert!("ada@example".parse::<Email>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Validates and normalises an address.
    pub fn parse(input: &str) -> Result<Self, ContactError> {
        let s = input.trim().to_lowercase();
        if s.is_empty() {
            return refuse("an e-mail address cannot be empty");
        }
        if s.len() > crate::limits::MAX_EMAIL_BYTES {
            return refuse("an e-mail address has at most 254 characters");
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return refuse("an e-mail address cannot contain spaces");
        }
        let Some((local, domain)) = s.split_once('@') else {
            return refuse("an e-mail address needs an '@'");
        };
        if domain.contains('@') {
            return refuse("an e-mail address has exactly one '@'");
        }
        if local.is_empty() {
            return refuse("the part before '@' is empty");
        }
        if local.len() > 64 {
            return refuse("the part before '@' has at most 64 characters");
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return refuse(
                "the part before '@' cannot start or end with a dot or contain two dots in a row",
            );
        }
        if local.chars().any(|c| "()<>[]\\,;:\"".contains(c)) {
            return refuse(
                "the part before '@' contains a character that is not allowed in addresses",
            );
        }
        if domain.is_empty() {
            return refuse("the part after '@' is empty");
        }
        if !domain.contains('.') {
            return refuse("the domain needs a dot, as in example.com");
        }
        for label in domain.split('.') {
            if label.is_empty() {
                return refuse("the domain has an empty part between dots");
            }
            if label.starts_with('-') || label.ends_with('-') {
                return refuse("a domain part cannot start or end with '-'");
            }
            if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
                return refuse("the domain may only contain letters, digits, '-' and dots");
            }
        }
        Ok(Email(s))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in E.164 form.
///
/// ```
/// use crm_core::Phone;
/// let p: Phone = "0049 (30) 1234-567".parse().unwrap();
/// assert_eq!(p.as_str(), "+49301234567");
/// assert!("030 1234567".parse::<Phone>().is_err()); // no country code
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Validates and normalises a number.
    pub fn parse(input: &str) -> Result<Self, ContactError> {
        let compact: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}'))
            .collect();
        if compact.is_empty() {
            return refuse("a phone number cannot be empty");
        }
        let digits = if let Some(rest) = compact.strip_prefix('+') {
            rest
        } else if let Some(rest) = compact.strip_prefix("00") {
            rest
        } else {
            return refuse(
                "a phone number must start with + or 00 and the country code, as in +49 30 1234567",
            );
        };
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return refuse(
                "a phone number may only contain digits, spaces, dashes, dots, slashes and parentheses after the +",
            );
        }
        if digits.starts_with('0') {
            return refuse("a country code cannot start with 0");
        }
        if digits.len() < 7 {
            return refuse("a phone number has at least 7 digits including the country code");
        }
        if digits.len() > 15 {
            return refuse("a phone number has at most 15 digits including the country code");
        }
        Ok(Phone(format!("+{digits}")))
    }

    /// Like [`Phone::parse`], but a national number (no `+` or `00`) is
    /// read as a number of `region` (an ISO 3166 two-letter code such as
    /// `DE`), with libphonenumber's rules for that region (its trunk
    /// prefix dropped). Numbers with a country code are parsed exactly as
    /// by [`Phone::parse`]. Imports use it with
    /// their default region; everything else keeps requiring the country
    /// code.
    ///
    /// ```
    /// use crm_core::Phone;
    /// let p = Phone::parse_in_region("030 1234567", "DE").unwrap();
    /// assert_eq!(p.as_str(), "+49301234567");
    /// assert!(Phone::parse_in_region("030 1234567", "XX").is_err());
    /// ```
    pub fn parse_in_region(input: &str, region: &str) -> Result<Self, ContactError> {
        let trimmed = input.trim();
        if trimmed.starts_with('+') || trimmed.starts_with("00") {
            return Phone::parse(trimmed);
        }
        let id: phonenumber::country::Id =
            region.trim().to_ascii_uppercase().parse().or_else(|_| {
                refuse("the default region is not an ISO 3166 two-letter code such as DE")
            })?;
        let number = match phonenumber::parse(Some(id), trimmed) {
            Ok(n) if phonenumber::is_valid(&n) => n,
            _ => {
                return refuse(
                    "not a valid phone number of the default region, nor one with + and the country code",
                );
            }
        };
        Phone::parse(&number.format().mode(phonenumber::Mode::E164).to_string())
    }

    /// The E.164 form, such as `+4930123456`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype_impls {
    ($t:ident) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }
        impl FromStr for $t {
            type Err = ContactError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $t::parse(s)
            }
        }
        impl TryFrom<String> for $t {
            type Error = ContactError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $t::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}
pub(crate) use string_newtype_impls;

string_newtype_impls!(Email);
string_newtype_impls!(Phone);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(Email::parse("A@B.co").unwrap().as_str(), "a@b.co");
        assert_eq!(
            Email::parse("müller@bäcker.de").unwrap().as_str(),
            "müller@bäcker.de"
        );
        for (bad, why) in [
            ("", "empty"),
            ("ada", "needs an '@'"),
            ("ada@", "after '@' is empty"),
            ("@x.org", "before '@' is empty"),
            ("a@b@c.org", "exactly one '@'"),
            ("ada@example", "needs a dot"),
            ("ada@exa mple.org", "spaces"),
            ("ada@.org", "empty part"),
            ("ada.@x.org", "dot"),
            ("ada@-x.org", "start or end with '-'"),
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert!(err.reason.contains(why), "{bad:?}: {}", err.reason);
        }
    }

    #[test]
    fn phones() {
        assert_eq!(
            Phone::parse("+1 (555) 010-9999").unwrap().as_str(),
            "+15550109999"
        );
        assert_eq!(
            Phone::parse("0044 20 7946 0958").unwrap().as_str(),
            "+442079460958"
        );
        for (bad, why) in [
            ("", "empty"),
            ("030 123456", "country code"),
            ("+49 30 12ab", "only contain digits"),
            ("+0 123 4567", "cannot start with 0"),
            ("+49 12", "at least 7"),
            ("+1234567890123456", "at most 15"),
        ] {
            let err = Phone::parse(bad).unwrap_err();
            assert!(err.reason.contains(why), "{bad:?}: {}", err.reason);
        }
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
        let p: Phone = serde_json::from_str("\"+49 30 1234567\"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"+49301234567\"");
    }
}
