//! Every bound the engine enforces on caller input, in one place.
//!
//! Each constant below is checked when a value enters the engine (facade
//! call, CSV import, automation action, C ABI request): a value past the
//! bound is refused with an [`Error::Invalid`] that
//! names the field, the value (shortened) and the limit, and nothing is
//! written. A value exactly at a bound is accepted.
//!
//! The bounds exist so that no single caller can store a state that breaks
//! the engine for everyone afterwards: an amount that makes every report
//! overflow, a duration that makes date arithmetic fail, a record or an
//! expression so large that reading it takes seconds.
//!
//! # Bounds kept next to their domain
//!
//! A few bounds live with the code they belong to, and hold the same way:
//! - segment text: at most [`segment::MAX_DEPTH`](crate::segment::MAX_DEPTH)
//!   nested parentheses and `not`s; a saved or evaluated tree at most
//!   [`segment::MAX_TREE_DEPTH`](crate::segment::MAX_TREE_DEPTH) levels;
//! - custom fields: a key is 1 to 40 of `a-z`, `0-9`, `_`; a label 1 to 100
//!   characters ([`crate::custom_field`]);
//! - contact points: an e-mail's local part at most 64 bytes, a phone
//!   number 7 to 15 digits ([`crate::contact`]);
//! - a window (`within 30d`) at most `u32::MAX` days; rotting thresholds,
//!   observation windows and SLA targets are checked against the dates
//!   they are added to (a result past chrono's range is a typed error or
//!   clamps to the range's end, never a panic);
//! - predictions: at most
//!   [`predict::score::MAX_CLV_PERIODS`](crate::predict::score::MAX_CLV_PERIODS)
//!   discount periods in a CLV horizon, a horizon written to fields of 1 to
//!   1 000 000 units, series summed for at most
//!   [`predict::special::MAX_TERMS`](crate::predict::special::MAX_TERMS) terms;
//! - automation: rules fire each other at most
//!   [`automation::DEFAULT_MAX_DEPTH`](crate::automation::DEFAULT_MAX_DEPTH)
//!   levels deep (configurable with
//!   [`Crm::with_max_rule_depth`](crate::Crm::with_max_rule_depth));
//! - the C ABI (crm-ffi): a string argument of `crm_call` at most 64 MiB,
//!   an operation name at most 64 bytes, a caller's value echoed in a
//!   message at most 200 characters, a whole message at most 4000.
//!
//! ```
//! use crm_core::limits;
//! use crm_core::{Actor, Crm, Error, NewCustomer};
//! use crm_store_memory::MemoryStore;
//!
//! let crm = Crm::new(MemoryStore::new());
//! let s = crm.as_actor(Actor::System);
//! let long = "x".repeat(limits::MAX_NAME_CHARS + 1);
//! let Err(Error::Invalid(e)) = s.create_customer(NewCustomer::person(long)) else { panic!() };
//! assert_eq!(e.field, "name");
//! assert_eq!(e.reason, "a name has at most 200 characters (this one has 201)");
//! # Ok::<(), crm_core::Error>(())
//! ```

use rust_decimal::Decimal;

use crate::error::{EntityKind, Error, Result};

// ----- money -----

/// The largest absolute value of an amount of money: 10^15 (one
/// quadrillion units of any currency, more than the world's yearly output
/// in most currencies).
///
/// Why this bound: a [`Decimal`] holds about 7.9 × 10^28. With every stored
/// amount at most 10^15, a sum of fewer than 7.9 × 10^13 amounts (more
/// records than any store holds) cannot overflow, and a sum stays *exact*
/// (no digit rounded away) for up to 10^9 amounts with four decimal
/// places (15 + 9 integer digits + 4 decimals = 28 digits). Weighted
/// forecasts multiply by a probability (at most 1) and so stay in range.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0xA4C6_8000, 0x0003_8D7E, 0, false, 0);

/// The most decimal places an amount's *text* may have (`Money::parse`, JSON
/// and CSV): 28, what a [`Decimal`] represents exactly. Longer fractions are
/// refused instead of being rounded (they used to become 0 silently). A
/// stored amount must also fit its currency's minor unit (2 for EUR, 0 for
/// JPY): see [`Money::fits_minor_units`](crate::Money::fits_minor_units).
pub const MAX_AMOUNT_TEXT_SCALE: u32 = 28;

// ----- durations and offsets -----

/// The longest `deal_idle { days }` a rule may wait, in days (10 years).
/// Every day offset a rule carries (`date_reached { days }`, an action's
/// `due_in_days` / `in_days`) has the same bound.
pub const MAX_RULE_DAYS: u32 = 3650;

/// The longest first-response SLA a rule may set, in hours (one year).
pub const MAX_SLA_HOURS: u32 = 8760;

// ----- text -----

/// The longest name (customer, user, team, segment, rule), deal title and
/// activity subject, in characters (after trimming).
pub const MAX_NAME_CHARS: usize = 200;

/// The longest activity body (a note, an e-mail's text), in characters.
pub const MAX_BODY_CHARS: usize = 100_000;

/// The longest lost reason of a deal, in characters.
pub const MAX_LOST_REASON_CHARS: usize = 500;

/// The longest reason of a [`correct_deal`](crate::Session::correct_deal),
/// in characters (it must not be empty).
pub const MAX_CORRECTION_REASON_CHARS: usize = 500;

/// The longest value of a custom text field, in characters.
pub const MAX_CUSTOM_TEXT_CHARS: usize = 1000;

/// The longest e-mail address, in bytes (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;

/// The longest tag, in characters (after normalisation).
pub const MAX_TAG_CHARS: usize = 50;

// ----- collections -----

/// The most tags one customer may carry.
pub const MAX_TAGS_PER_RECORD: usize = 100;

/// The most e-mail addresses, and separately the most phone numbers, one
/// customer may carry.
pub const MAX_CONTACT_POINTS: usize = 20;

// ----- external keys and idempotency ([`crate::external_key`]) -----

/// The longest system name of an external key (`shop`, `erp.eu`), in
/// characters: `a-z`, `0-9`, `_`, `-`, `.`.
pub const MAX_EXTERNAL_SYSTEM_CHARS: usize = 40;

/// The longest key of an external key, in characters (no control
/// characters, no surrounding white space; kept exactly).
pub const MAX_EXTERNAL_KEY_CHARS: usize = 200;

/// The most external keys one customer, deal or activity may hold.
pub const MAX_EXTERNAL_KEYS_PER_RECORD: usize = 20;

/// The longest idempotency key of a create, in characters. Keys are kept
/// as long as the store (no expiry).
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 200;

/// The most customers a caller-ID lookup (by phone number or e-mail
/// domain) returns; the rest are left out (a number shared by more
/// customers than this identifies none of them).
pub const MAX_LOOKUP_MATCHES: usize = 100;

/// The most actions one automation rule may have.
pub const MAX_RULE_ACTIONS: usize = 20;

/// The most stages one pipeline may have.
pub const MAX_STAGES: usize = 50;

/// The most custom fields one kind of record (customer, deal, activity)
/// may define.
pub const MAX_CUSTOM_FIELDS: usize = 100;

/// The most options one enum custom field may have; each option has at
/// most [`MAX_NAME_CHARS`] characters.
pub const MAX_ENUM_OPTIONS: usize = 200;

/// The most automation rules one store may hold (every event is matched
/// against every rule, inside the writing transaction).
pub const MAX_RULES: usize = 1000;

/// The longest text of a rule's `notify` action, in characters.
pub const MAX_NOTIFICATION_CHARS: usize = 2000;

/// The most steps one C ABI `batch` request may have.
pub const MAX_BATCH_STEPS: usize = 10_000;

/// The largest page a listing returns (`limit` of a query), in records.
pub const MAX_PAGE_SIZE: u32 = 10_000;

// ----- the change feed -----

/// The longest change-feed consumer name, in characters (`a-z`, `0-9`,
/// `_`, `-`, `.`; see [`crate::feed`]).
pub const MAX_CONSUMER_NAME_CHARS: usize = 64;

/// The most change-feed consumers that may exist at a time.
pub const MAX_FEED_CONSUMERS: usize = 256;

/// The most kinds one list of a feed filter may hold.
pub const MAX_FEED_FILTER_KINDS: usize = 32;

/// The most events one feed read looks at for a reader whose access hides
/// some of them: a page may come back short (even empty) with
/// `caught_up` false; read on from its `next_after`.
pub const MAX_FEED_SCAN: usize = 100_000;

// ----- CSV imports -----

/// The most columns a CSV import's header may have.
pub const MAX_CSV_COLUMNS: usize = 256;

/// The longest cell of a CSV import, in bytes (1 MiB: an activity body of
/// [`MAX_BODY_CHARS`] characters fits in any encoding).
pub const MAX_CSV_FIELD_BYTES: usize = 1024 * 1024;

/// The most data rows one CSV import reads (one import is one
/// transaction, and its report lists every problem row).
pub const MAX_CSV_ROWS: usize = 1_000_000;

// ----- segment expressions -----

/// The longest segment expression text the parser reads, in bytes (64 KiB).
pub const MAX_EXPRESSION_BYTES: usize = 65_536;

/// The most nodes (comparisons, `and`, `or`, `not`) one segment
/// expression may have, in text or in its JSON form.
pub const MAX_EXPRESSION_NODES: usize = 1000;

/// Refuses `value` of `entity.field` if it has more than `max` characters
/// or any control character (NUL included). `multiline` lets line breaks
/// and tabs through (bodies of notes), nothing else. `what` names the
/// value in the message ("a name", "a subject").
pub(crate) fn check_text(
    entity: EntityKind,
    field: &str,
    what: &str,
    value: &str,
    max: usize,
    multiline: bool,
) -> Result<()> {
    let n = value.chars().count();
    if n > max {
        return Err(Error::invalid(
            entity,
            field,
            value,
            format!("{what} has at most {max} characters (this one has {n})"),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(Error::invalid(
            entity,
            field,
            value.escape_debug(),
            format!(
                "contains the control character U+{:04X}; {}",
                c as u32,
                if multiline {
                    "only line breaks and tabs are allowed"
                } else {
                    "names and single-line texts may not contain control characters"
                }
            ),
        ));
    }
    Ok(())
}

/// Refuses a list of `n` items of `entity.field` longer than `max`.
pub(crate) fn check_count(entity: EntityKind, field: &str, n: usize, max: usize) -> Result<()> {
    if n > max {
        return Err(Error::invalid(
            entity,
            field,
            format!("{n} items"),
            format!("the limit is {max}"),
        ));
    }
    Ok(())
}

// ----- files and streams -----

/// The longest line of a backup that [`restore`](crate::Session::restore)
/// reads, in bytes (16 MiB): far above the largest record the other bounds
/// allow (an activity body of [`MAX_BODY_CHARS`] characters and its event,
/// which carries it once more), and low enough that a damaged file without
/// line breaks is refused after reading 16 MiB rather than exhausting
/// memory. A longer line is refused naming its number.
pub const MAX_BACKUP_LINE_BYTES: usize = 16 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_amount_is_ten_to_the_fifteenth() {
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000_000i64));
        // 7.9e13 amounts at the bound do not overflow (the reasoning above).
        let sum = MAX_AMOUNT.checked_mul(Decimal::from(79_000_000_000_000i64));
        assert!(sum.is_some());
    }

    #[test]
    fn text_at_the_bound_is_accepted_one_past_is_refused() {
        let e = EntityKind::Customer;
        let check = |v: &str, multiline| check_text(e, "name", "a name", v, 200, multiline);
        assert!(check(&"é".repeat(200), false).is_ok());
        let err = check(&"é".repeat(201), false).unwrap_err();
        assert!(
            err.to_string()
                .contains("a name has at most 200 characters (this one has 201)"),
            "{err}"
        );
        let err = check("a\0b", false).unwrap_err();
        assert!(err.to_string().contains("U+0000"), "{err}");
        assert!(check("a\nb\tc", true).is_ok());
        assert!(check("a\nb", false).is_err());
        assert!(check("a\u{7}b", true).is_err());
        assert!(check_count(e, "tags", 100, 100).is_ok());
        assert!(check_count(e, "tags", 101, 100).is_err());
    }
}
