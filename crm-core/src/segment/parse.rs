//! The text syntax: a hand-written lexer and recursive-descent parser.
//!
//! ```text
//! expr      := or
//! or        := and ("or" and)*
//! and       := unary ("and" unary)*
//! unary     := "not" unary | primary
//! primary   := "(" expr ")" | "true" | "false" | "tag:" TAG | "role:" ROLE
//!            | field test
//! field     := NAME | NAME "(" CURRENCY ["," WINDOW] ")" | "field." KEY
//! test      := OP value | "in" "(" value ("," value)* ")" | "contains" value
//!            | "exists" | "within" WINDOW
//! OP        := "=" | "!=" | "<" | "<=" | ">" | ">="
//! WINDOW    := DIGITS "d" | DIGITS "w"          (days, weeks)
//! value     := WORD | "quoted text" | NUMBER CURRENCY   (the last for field.KEY)
//! ```
//!
//! Keywords, field names and enum values are case-insensitive. A value is
//! read according to its field's type (a kind, a lifecycle, a tag, a
//! number, a date `2025-01-31` or time `2025-01-31T12:00:00Z`, …), so a
//! parsed tree is always well-typed. Errors carry the byte offset of the
//! offending token and say what was expected there.
//!
//! The parser does not know the custom field schema, so a value after
//! `field.KEY` is typed by its form alone:
//!
//! | written | value |
//! |---|---|
//! | `"gold"` (quoted) | text (always, whatever it looks like) |
//! | `42`, `-7` | a whole number ([`Value::Int`]) |
//! | `12.50` (with a dot) | a decimal ([`Value::Decimal`]) |
//! | `1200 EUR`, `1200.50 eur` (a number, then a currency code) | money ([`Value::Money`]) |
//! | `true`, `false` | a bool ([`Value::Bool`]) |
//! | `2025-01-31`, `2025-01-31T12:00:00Z` | a time ([`Value::Time`]) |
//! | any other bare word, such as `gold` | text |
//!
//! The facade then checks that value against the field's type.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::expr::{
    CmpOp, Expr, Field, FieldType, Pred, Revenue, Test, Value, Window, expected_value,
    test_allowed, valid_custom_key,
};
use super::parse_error::ParseError;
use super::rfm::RfmSegment;
use crate::currency::Currency;
use crate::customer::{Lifecycle, PartyKind, Role};
use crate::id::UserId;
use crate::money::Money;
use crate::tag::Tag;

impl FromStr for Expr {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        parse(s)
    }
}

/// Parses the text form of a segment expression.
///
/// ```
/// use crm_core::segment::{parse, Expr};
/// let e = parse("tag:vip and lifecycle = customer and won_amount(EUR, 365d) > 1000")?;
/// assert!(matches!(e, Expr::And(ref parts) if parts.len() == 3));
/// let err = parse("lifecycle = client").unwrap_err();
/// assert_eq!(err.position, 12);
/// assert_eq!(err.expected, "a lifecycle (lead, prospect, customer, churned)");
/// # Ok::<(), crm_core::segment::ParseError>(())
/// ```
///
/// Text longer than [`MAX_EXPRESSION_BYTES`](crate::limits::MAX_EXPRESSION_BYTES)
/// or a tree of more than
/// [`MAX_EXPRESSION_NODES`](crate::limits::MAX_EXPRESSION_NODES) nodes is
/// refused before any more work is done with it.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    use crate::limits::{MAX_EXPRESSION_BYTES, MAX_EXPRESSION_NODES};
    if input.len() > MAX_EXPRESSION_BYTES {
        return Err(ParseError {
            position: MAX_EXPRESSION_BYTES,
            expected: format!("an expression of at most {MAX_EXPRESSION_BYTES} bytes"),
            found: format!("{} bytes", input.len()),
        });
    }
    let tokens = lex(input)?;
    let mut p = Parser {
        input,
        tokens,
        pos: 0,
        depth: 0,
    };
    let e = p.or()?;
    if p.pos < p.tokens.len() {
        return Err(p.error("'and', 'or' or the end of the expression"));
    }
    let nodes = super::node_count(&e);
    if nodes > MAX_EXPRESSION_NODES {
        return Err(ParseError {
            position: input.len(),
            expected: format!(
                "an expression of at most {MAX_EXPRESSION_NODES} conditions and operators"
            ),
            found: format!("{nodes} of them"),
        });
    }
    Ok(e)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Op(CmpOp),
    Str(String),
    Word(String),
}

struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '+')
}

fn lex(input: &str) -> Result<Vec<Token>, ParseError> {
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            '=' => Some(Tok::Op(CmpOp::Eq)),
            _ => None,
        };
        if let Some(tok) = single {
            chars.next();
            out.push(Token {
                tok,
                start,
                end: start + 1,
            });
            continue;
        }
        match c {
            '<' | '>' | '!' => {
                chars.next();
                let eq = matches!(chars.peek(), Some(&(_, '=')));
                if eq {
                    chars.next();
                }
                let op = match (c, eq) {
                    ('<', false) => CmpOp::Lt,
                    ('<', true) => CmpOp::Le,
                    ('>', false) => CmpOp::Gt,
                    ('>', true) => CmpOp::Ge,
                    ('!', true) => CmpOp::Ne,
                    _ => {
                        return Err(ParseError {
                            position: start + 1,
                            expected: "'=' after '!'".into(),
                            found: found_at(input, start + 1),
                        });
                    }
                };
                out.push(Token {
                    tok: Tok::Op(op),
                    start,
                    end: start + if eq { 2 } else { 1 },
                });
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                let mut closed = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = Some(i + 1);
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, e @ ('"' | '\\'))) => s.push(e),
                            Some((j, _)) => {
                                return Err(ParseError {
                                    position: j,
                                    expected: "'\"' or '\\' after a backslash".into(),
                                    found: found_at(input, j),
                                });
                            }
                            None => break,
                        },
                        other => s.push(other),
                    }
                }
                let Some(end) = closed else {
                    return Err(ParseError {
                        position: input.len(),
                        expected: format!("the closing '\"' of the text starting at byte {start}"),
                        found: "end of input".into(),
                    });
                };
                out.push(Token {
                    tok: Tok::Str(s),
                    start,
                    end,
                });
            }
            c if word_char(c) => {
                let mut end = start;
                while let Some(&(i, c)) = chars.peek() {
                    if !word_char(c) {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                out.push(Token {
                    tok: Tok::Word(input[start..end].to_owned()),
                    start,
                    end,
                });
            }
            _ => {
                return Err(ParseError {
                    position: start,
                    expected: "a word, a quoted text, '(', ')', ',' or a comparison".into(),
                    found: found_at(input, start),
                });
            }
        }
    }
    Ok(out)
}

/// The character at `pos`, quoted, or `end of input`.
fn found_at(input: &str, pos: usize) -> String {
    match input.get(pos..).and_then(|s| s.chars().next()) {
        Some(c) => format!("'{c}'"),
        None => "end of input".into(),
    }
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    /// Open parentheses and `not`s around the current position.
    depth: usize,
}

fn is_kw(t: Option<&Token>, kw: &str) -> bool {
    matches!(t, Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn position(&self) -> usize {
        self.peek().map(|t| t.start).unwrap_or(self.input.len())
    }

    fn found(&self) -> String {
        match self.peek() {
            None => "end of input".into(),
            Some(t) => format!("'{}'", &self.input[t.start..t.end]),
        }
    }

    fn error(&self, expected: impl Into<String>) -> ParseError {
        ParseError {
            position: self.position(),
            expected: expected.into(),
            found: self.found(),
        }
    }

    fn error_at(&self, token: usize, expected: impl Into<String>) -> ParseError {
        let t = &self.tokens[token];
        ParseError {
            position: t.start,
            expected: expected.into(),
            found: format!("'{}'", &self.input[t.start..t.end]),
        }
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if is_kw(self.peek(), kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), ParseError> {
        if self.peek().map(|t| &t.tok) == Some(&tok) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.and()?];
        while self.eat_kw("or") {
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.unary()?];
        while self.eat_kw("and") {
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    /// Counts one more level of nesting, refusing more than
    /// [`MAX_DEPTH`](super::MAX_DEPTH) (hostile input must not exhaust the
    /// stack).
    fn nest(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > super::MAX_DEPTH {
            return Err(self.error(format!(
                "at most {} levels of parentheses and 'not'",
                super::MAX_DEPTH
            )));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if is_kw(self.peek(), "not") {
            self.nest()?;
            self.pos += 1;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        const WHAT: &str = "a condition such as tag:vip or lifecycle = customer, 'not' or '('";
        let Some(token) = self.peek() else {
            return Err(self.error(WHAT));
        };
        let word = match &token.tok {
            Tok::LParen => {
                self.nest()?;
                self.pos += 1;
                let e = self.or()?;
                self.expect(Tok::RParen, "')' or 'and', 'or'")?;
                self.depth -= 1;
                return Ok(e);
            }
            Tok::Word(w) => w.clone(),
            _ => return Err(self.error(WHAT)),
        };
        let lower = word.to_ascii_lowercase();
        if lower == "true" || lower == "false" {
            self.pos += 1;
            return Ok(Expr::Const(lower == "true"));
        }
        for (prefix, field) in [("tag:", Field::Tags), ("role:", Field::Roles)] {
            if lower.starts_with(prefix) {
                let at = self.pos;
                self.pos += 1;
                let rest = &word[prefix.len()..];
                let value = if rest.is_empty() {
                    self.value(&field)?
                } else {
                    let start = self.tokens[at].start + prefix.len();
                    parse_value_text(rest, &field).map_err(|expected| ParseError {
                        position: start,
                        expected,
                        found: format!("'{rest}'"),
                    })?
                };
                return Ok(Expr::pred(field, Test::Contains { value }));
            }
        }
        let field = self.field(&word)?;
        let test_at = self.pos;
        let test = self.test(&field)?;
        if let Err(why) = test_allowed(&field, &test) {
            return Err(self.error_at(test_at, format!("a test that fits: {why}")));
        }
        Ok(Expr::Pred(Pred { field, test }))
    }

    fn field(&mut self, word: &str) -> Result<Field, ParseError> {
        let lower = word.to_ascii_lowercase();
        let at = self.pos;
        self.pos += 1;
        if let Some(key) = lower.strip_prefix("field.") {
            let key = &word[word.len() - key.len()..];
            if !valid_custom_key(key) {
                return Err(ParseError {
                    position: self.tokens[at].start + "field.".len(),
                    expected: "a custom field key: a letter, then letters, digits or '_'".into(),
                    found: format!("'{key}'"),
                });
            }
            return Ok(Field::Custom {
                key: key.to_owned(),
            });
        }
        let simple = match lower.as_str() {
            "kind" => Some(Field::Kind),
            "lifecycle" => Some(Field::Lifecycle),
            "owner" => Some(Field::Owner),
            "roles" => Some(Field::Roles),
            "tags" => Some(Field::Tags),
            "name" => Some(Field::Name),
            "email" => Some(Field::Email),
            "phone" => Some(Field::Phone),
            "created" => Some(Field::Created),
            "updated" => Some(Field::Updated),
            "open_deals" => Some(Field::OpenDeals),
            "last_won" => Some(Field::LastWon),
            "last_activity" => Some(Field::LastActivity),
            "days_since_last_activity" => Some(Field::DaysSinceLastActivity),
            _ => None,
        };
        if let Some(f) = simple {
            return Ok(f);
        }
        let with_revenue: fn(Revenue) -> Field = match lower.as_str() {
            "won_amount" => Field::WonAmount,
            "rfm_r" => Field::RfmR,
            "rfm_f" => Field::RfmF,
            "rfm_m" => Field::RfmM,
            "rfm_segment" => Field::RfmSegment,
            _ => {
                return Err(self.error_at(
                    at,
                    "a field: kind, lifecycle, owner, roles, tags, name, email, phone, created, \
                     updated, open_deals, won_amount(..), last_won, last_activity, \
                     days_since_last_activity, rfm_r(..), rfm_f(..), rfm_m(..), rfm_segment(..) \
                     or field.KEY",
                ));
            }
        };
        self.expect(
            Tok::LParen,
            "'(' and a currency, as in won_amount(EUR, 365d)",
        )?;
        let currency = match self.peek() {
            Some(Token {
                tok: Tok::Word(w), ..
            }) => Currency::from_code(w).ok(),
            _ => None,
        };
        let Some(currency) = currency else {
            return Err(self.error("an ISO 4217 currency code such as EUR"));
        };
        self.pos += 1;
        let window = if self.peek().map(|t| &t.tok) == Some(&Tok::Comma) {
            self.pos += 1;
            Some(self.window()?)
        } else {
            None
        };
        self.expect(Tok::RParen, "')' or ', ' and a window such as 365d")?;
        Ok(with_revenue(Revenue { currency, window }))
    }

    fn window(&mut self) -> Result<Window, ParseError> {
        const WHAT: &str = "a window such as 30d (days) or 4w (weeks)";
        let parsed = match self.peek() {
            Some(Token {
                tok: Tok::Word(w), ..
            }) => parse_window(w),
            _ => None,
        };
        match parsed {
            Some(w) => {
                self.pos += 1;
                Ok(w)
            }
            None => Err(self.error(WHAT)),
        }
    }

    fn test(&mut self, field: &Field) -> Result<Test, ParseError> {
        let Some(token) = self.peek() else {
            return Err(self.error(TESTS));
        };
        if let Tok::Op(op) = token.tok {
            self.pos += 1;
            let value = self.value(field)?;
            return Ok(Test::Cmp { op, value });
        }
        if self.eat_kw("in") {
            self.expect(Tok::LParen, "'(' and a list of values")?;
            let mut values = vec![self.value(field)?];
            while self.peek().map(|t| &t.tok) == Some(&Tok::Comma) {
                self.pos += 1;
                values.push(self.value(field)?);
            }
            self.expect(Tok::RParen, "',' or ')'")?;
            return Ok(Test::In { values });
        }
        if self.eat_kw("contains") {
            return Ok(Test::Contains {
                value: self.value(field)?,
            });
        }
        if self.eat_kw("exists") {
            return Ok(Test::Exists);
        }
        if self.eat_kw("within") {
            return Ok(Test::Within {
                window: self.window()?,
            });
        }
        Err(self.error(TESTS))
    }

    fn value(&mut self, field: &Field) -> Result<Value, ParseError> {
        let ty = field.ty();
        let Some(token) = self.peek() else {
            return Err(self.error(expected_value(field)));
        };
        let result = match (&token.tok, ty) {
            (Tok::Str(s), FieldType::Any) => Ok(Value::Text(s.clone())),
            (Tok::Str(s), _) | (Tok::Word(s), _) => parse_value_text(s, field),
            _ => Err(expected_value(field).to_owned()),
        };
        match result {
            Ok(v) => {
                self.pos += 1;
                Ok(self.money_suffix(v, ty))
            }
            Err(expected) => Err(self.error(expected)),
        }
    }

    /// For a custom field, a number followed by a currency code (`1200.50
    /// EUR`) is an amount of money; anything else stays as it is.
    fn money_suffix(&mut self, v: Value, ty: FieldType) -> Value {
        let amount = match (&v, ty) {
            (Value::Int(i), FieldType::Any) => Decimal::from(*i),
            (Value::Decimal(d), FieldType::Any) => *d,
            _ => return v,
        };
        let currency = match self.peek() {
            Some(Token {
                tok: Tok::Word(w), ..
            }) if w.len() == 3 && w.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Currency::from_code(w).ok()
            }
            _ => None,
        };
        match currency {
            Some(currency) => {
                self.pos += 1;
                Value::Money(Money::new(amount, currency))
            }
            None => v,
        }
    }
}

const TESTS: &str = "a test: =, !=, <, <=, >, >=, in, contains, exists or within";

fn parse_window(w: &str) -> Option<Window> {
    let lower = w.to_ascii_lowercase();
    let (digits, factor) = if let Some(d) = lower.strip_suffix('d') {
        (d, 1)
    } else if let Some(d) = lower.strip_suffix('w') {
        (d, 7)
    } else {
        return None;
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    n.checked_mul(factor).map(Window::days)
}

pub(crate) fn role_str(r: Role) -> &'static str {
    match r {
        Role::Customer => "customer",
        Role::Supplier => "supplier",
        Role::Partner => "partner",
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Reads one value for `field` from its text; the error is what was expected.
fn parse_value_text(s: &str, field: &Field) -> Result<Value, String> {
    let ty = field.ty();
    let lower = s.to_ascii_lowercase();
    let bad = || expected_value(field).to_owned();
    match ty {
        FieldType::Kind => match lower.as_str() {
            "person" => Ok(Value::Kind(PartyKind::Person)),
            "organisation" | "organization" => Ok(Value::Kind(PartyKind::Organisation)),
            _ => Err(bad()),
        },
        FieldType::Lifecycle => match lower.as_str() {
            "lead" => Ok(Value::Lifecycle(Lifecycle::Lead)),
            "prospect" => Ok(Value::Lifecycle(Lifecycle::Prospect)),
            "customer" => Ok(Value::Lifecycle(Lifecycle::Customer)),
            "churned" => Ok(Value::Lifecycle(Lifecycle::Churned)),
            _ => Err(bad()),
        },
        FieldType::RoleSet => match lower.as_str() {
            "customer" => Ok(Value::Role(Role::Customer)),
            "supplier" => Ok(Value::Role(Role::Supplier)),
            "partner" => Ok(Value::Role(Role::Partner)),
            _ => Err(bad()),
        },
        FieldType::Segment => RfmSegment::ALL
            .iter()
            .find(|seg| seg.as_str() == lower)
            .map(|seg| Value::Segment(*seg))
            .ok_or_else(|| {
                let names: Vec<&str> = RfmSegment::ALL.iter().map(|s| s.as_str()).collect();
                format!("an RFM segment: {}", names.join(", "))
            }),
        FieldType::TagSet => Tag::parse(s)
            .map(Value::Tag)
            .map_err(|e| format!("a tag ({})", e.reason)),
        FieldType::User => UserId::from_str(s).map(Value::User).map_err(|_| bad()),
        FieldType::Text | FieldType::TextList => Ok(Value::Text(s.to_owned())),
        FieldType::Time => parse_time(s).map(Value::Time).ok_or_else(bad),
        FieldType::Int => s.parse::<i64>().map(Value::Int).map_err(|_| bad()),
        FieldType::Decimal => Decimal::from_str(s).map(Value::Decimal).map_err(|_| bad()),
        FieldType::Any => {
            if let Ok(i) = s.parse::<i64>() {
                Ok(Value::Int(i))
            } else if (s.contains('.') || s.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
                && let Ok(d) = Decimal::from_str(s)
            {
                // A dot, or a whole number too large for an i64.
                Ok(Value::Decimal(d))
            } else if lower == "true" || lower == "false" {
                Ok(Value::Bool(lower == "true"))
            } else if let Some(t) = parse_time(s) {
                Ok(Value::Time(t))
            } else {
                Ok(Value::Text(s.to_owned()))
            }
        }
    }
}
