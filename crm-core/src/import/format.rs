//! How a file is written: its delimiter, its encoding, and how its cells
//! write dates, decimals and phone numbers.
//!
//! Spreadsheets saved by hand rarely are the RFC 4180 file an import
//! expects: a German Excel writes `name;kind;email` in Windows-1252, a
//! Numbers export is UTF-8 with a byte order mark, "Unicode text" is
//! tab-separated UTF-16. The options here ([`ImportOptions`](super::ImportOptions))
//! say how a file is written; left on [`Delimiter::Auto`] and
//! [`TextEncoding::Auto`] the import looks at the start of the file and
//! says in [`ImportReport::detected`](super::ImportReport::detected) what it
//! decided and why, so a wrong guess is seen, not silently imported.

use std::io::{self, Read};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

/// How many bytes at the start of a file are looked at to detect its
/// encoding and delimiter (64 KiB).
pub const SNIFF_BYTES: usize = 64 * 1024;

/// The character between the cells of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Delimiter {
    /// Detected from the header line: whichever of `,`, `;` and tab it
    /// has most of, outside quotes (a comma on a tie; a comma for a
    /// one-column file). The report says which.
    #[default]
    Auto,
    /// `,` (RFC 4180, most English-language programs).
    Comma,
    /// `;` (Excel where the decimal mark is a comma: German, French, ...).
    Semicolon,
    /// A tab (tab-separated values; Excel's "Unicode text").
    Tab,
}

impl Delimiter {
    /// The byte, for a delimiter other than [`Delimiter::Auto`] (which is
    /// read as a comma).
    pub fn byte(self) -> u8 {
        match self {
            Delimiter::Auto | Delimiter::Comma => b',',
            Delimiter::Semicolon => b';',
            Delimiter::Tab => b'\t',
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Delimiter::Auto | Delimiter::Comma => "','",
            Delimiter::Semicolon => "';'",
            Delimiter::Tab => "tab",
        }
    }
}

/// The character encoding of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TextEncoding {
    /// Detected: a byte order mark says UTF-8 or UTF-16; otherwise UTF-8
    /// when the first [`SNIFF_BYTES`] are valid UTF-8, Windows-1252
    /// otherwise. The report says which.
    #[default]
    Auto,
    /// UTF-8, with or without a byte order mark (which is skipped).
    Utf8,
    /// Windows-1252, the superset of Latin-1 (ISO 8859-1) that Windows
    /// and Excel write and that browsers read for "latin1"; every byte is
    /// a character, so such a file always decodes.
    #[serde(alias = "latin1", alias = "iso_8859_1")]
    Windows1252,
    /// UTF-16, little-endian (Windows "Unicode").
    Utf16le,
    /// UTF-16, big-endian.
    Utf16be,
}

impl TextEncoding {
    fn encoding(self) -> Option<&'static encoding_rs::Encoding> {
        match self {
            TextEncoding::Auto | TextEncoding::Utf8 => None,
            TextEncoding::Windows1252 => Some(encoding_rs::WINDOWS_1252),
            TextEncoding::Utf16le => Some(encoding_rs::UTF_16LE),
            TextEncoding::Utf16be => Some(encoding_rs::UTF_16BE),
        }
    }

    fn name(self) -> &'static str {
        match self {
            TextEncoding::Auto | TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Windows1252 => "Windows-1252 (Latin-1)",
            TextEncoding::Utf16le => "UTF-16LE",
            TextEncoding::Utf16be => "UTF-16BE",
        }
    }
}

/// The order of day, month and year in dates such as `01.04.2023`.
/// ISO dates (`2023-04-01`, `2023-04-01T10:30:00Z`) are read under every
/// order; no order is ever guessed, since `04/01/2023` is both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DateOrder {
    /// ISO 8601 only: `YYYY-MM-DD`, RFC 3339 times, `YYYY-MM-DD HH:MM[:SS]`.
    #[default]
    Iso,
    /// `DD.MM.YYYY`, `DD/MM/YYYY` or `DD-MM-YYYY` (Europe), optionally
    /// followed by ` HH:MM[:SS]` (UTC). `01.04.2023` is 1 April.
    DayMonthYear,
    /// `MM/DD/YYYY`, `MM.DD.YYYY` or `MM-DD-YYYY` (United States),
    /// optionally followed by ` HH:MM[:SS]` (UTC). `04/01/2023` is 1 April.
    MonthDayYear,
}

/// The decimal mark of amounts and decimal custom fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DecimalMark {
    /// `1234.56`.
    #[default]
    Point,
    /// `1234,56` or `1.234,56`: dots, spaces and apostrophes group
    /// thousands, the one comma is the decimal mark.
    Comma,
}

/// How the file was read: what was given, or what was detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FileFormat {
    /// The delimiter used (never `auto`).
    pub delimiter: Delimiter,
    /// The encoding used (never `auto`).
    pub encoding: TextEncoding,
    /// Whether the file started with a byte order mark (skipped).
    pub byte_order_mark: bool,
}

impl Default for FileFormat {
    fn default() -> Self {
        FileFormat {
            delimiter: Delimiter::Comma,
            encoding: TextEncoding::Utf8,
            byte_order_mark: false,
        }
    }
}

/// A file opened for reading: its format, what was detected, and a
/// reader of its text as UTF-8.
pub(crate) struct Opened<'r> {
    pub(crate) format: FileFormat,
    pub(crate) detected: Vec<String>,
    pub(crate) reader: Box<dyn Read + 'r>,
}

/// Reads the start of `input`, settles the encoding and delimiter
/// (detecting what is `Auto`), and returns a reader of the text as UTF-8.
pub(crate) fn open<'r>(
    mut input: impl Read + 'r,
    delimiter: Delimiter,
    encoding: TextEncoding,
) -> io::Result<Opened<'r>> {
    let mut sample = Vec::with_capacity(4096);
    (&mut input)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut sample)?;
    let mut detected = Vec::new();
    let (encoding, bom) = settle_encoding(&sample, encoding, &mut detected);
    let skip = bom;
    let text_sample = match encoding.encoding() {
        None => String::from_utf8_lossy(&sample[skip..]).into_owned(),
        Some(e) => e
            .decode_without_bom_handling(&sample[skip..])
            .0
            .into_owned(),
    };
    let delimiter = settle_delimiter(&text_sample, delimiter, &mut detected);
    let rest = io::Cursor::new(sample).chain(input);
    let reader: Box<dyn Read + 'r> = match encoding.encoding() {
        None => {
            let mut rest = rest;
            let mut skipped = [0u8; 3];
            rest.read_exact(&mut skipped[..skip])?;
            Box::new(rest)
        }
        Some(e) => Box::new(Decoding::new(rest, e.new_decoder_with_bom_removal())),
    };
    Ok(Opened {
        format: FileFormat {
            delimiter,
            encoding,
            byte_order_mark: bom > 0,
        },
        detected,
        reader,
    })
}

/// The encoding and the length of its byte order mark (0 for none).
fn settle_encoding(
    sample: &[u8],
    given: TextEncoding,
    detected: &mut Vec<String>,
) -> (TextEncoding, usize) {
    let bom = match sample {
        [0xEF, 0xBB, 0xBF, ..] => Some((TextEncoding::Utf8, 3)),
        [0xFF, 0xFE, ..] => Some((TextEncoding::Utf16le, 2)),
        [0xFE, 0xFF, ..] => Some((TextEncoding::Utf16be, 2)),
        _ => None,
    };
    match (given, bom) {
        (TextEncoding::Auto, Some((e, n))) => {
            detected.push(format!(
                "encoding: read as {} (the file starts with its byte order mark)",
                e.name()
            ));
            (e, n)
        }
        (TextEncoding::Auto, None) => match std::str::from_utf8(sample) {
            // Valid, or cut in the middle of a character by the sample's end.
            Ok(_) => {
                if !sample.is_ascii() {
                    detected.push(
                        "encoding: read as UTF-8 (the start of the file is valid UTF-8)".into(),
                    );
                }
                (TextEncoding::Utf8, 0)
            }
            Err(e) if e.error_len().is_none() => (TextEncoding::Utf8, 0),
            Err(e) => {
                let at = e.valid_up_to();
                detected.push(format!(
                    "encoding: read as Windows-1252 (Latin-1), since the file is not UTF-8 (byte 0x{:02X} at index {at} is not valid UTF-8); give options.encoding if that is wrong",
                    sample[at]
                ));
                (TextEncoding::Windows1252, 0)
            }
        },
        (given, Some((e, n))) if e == given => (given, n),
        (given, _) => (given, 0),
    }
}

fn settle_delimiter(text: &str, given: Delimiter, detected: &mut Vec<String>) -> Delimiter {
    if given != Delimiter::Auto {
        return given;
    }
    // The header line, outside quotes.
    let (mut commas, mut semicolons, mut tabs) = (0usize, 0usize, 0usize);
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' | '\r' if !quoted => break,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            '\t' if !quoted => tabs += 1,
            _ => {}
        }
    }
    let chosen = if semicolons > commas && semicolons >= tabs {
        Delimiter::Semicolon
    } else if tabs > commas && tabs > semicolons {
        Delimiter::Tab
    } else {
        Delimiter::Comma
    };
    if chosen != Delimiter::Comma || semicolons + tabs > 0 {
        detected.push(format!(
            "delimiter: read as {}-separated (the header line has {commas} ',', {semicolons} ';' and {tabs} tabs); give options.delimiter if that is wrong",
            chosen.describe()
        ));
    }
    chosen
}

/// A reader of UTF-8 decoded from another encoding as it is read.
struct Decoding<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: Read> Decoding<R> {
    fn new(inner: R, decoder: encoding_rs::Decoder) -> Self {
        Decoding {
            inner,
            decoder,
            out: Vec::new(),
            pos: 0,
            done: false,
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 8192];
        while self.pos >= self.out.len() && !self.done {
            let n = self.inner.read(&mut chunk)?;
            let last = n == 0;
            let room = self
                .decoder
                .max_utf8_buffer_length(n)
                .unwrap_or(n.saturating_mul(3).saturating_add(16));
            self.out.clear();
            self.out.resize(room, 0);
            self.pos = 0;
            // With `room` from max_utf8_buffer_length all input is consumed.
            let (_, _, written, _) = self
                .decoder
                .decode_to_utf8(&chunk[..n], &mut self.out, last);
            self.out.truncate(written);
            self.done = last;
        }
        Ok(())
    }
}

impl<R: Read> Read for Decoding<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.fill()?;
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// How cells write dates, decimals and phone numbers.
#[derive(Debug, Clone)]
pub(crate) struct CellFormat {
    pub(crate) list_separator: char,
    pub(crate) dates: DateOrder,
    pub(crate) decimal: DecimalMark,
    pub(crate) phone_region: Option<String>,
}

impl CellFormat {
    /// A point in time in the accepted forms (ISO always, plus
    /// `self.dates`).
    pub(crate) fn time(&self, text: &str) -> Result<DateTime<Utc>, String> {
        if let Ok(t) = super::cell::parse_time(text) {
            return Ok(t);
        }
        let (date, time) = match text.split_once(' ') {
            Some((d, t)) => (d, Some(t.trim())),
            None => (text, None),
        };
        let date = self.local_date(date).ok_or_else(|| self.expected(true))?;
        let time = match time {
            None => NaiveTime::MIN,
            Some(t) => NaiveTime::parse_from_str(t, "%H:%M:%S")
                .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
                .map_err(|_| self.expected(true))?,
        };
        Ok(date.and_time(time).and_utc())
    }

    /// A calendar date in the accepted forms.
    pub(crate) fn date(&self, text: &str) -> Result<NaiveDate, String> {
        if let Ok(d) = super::cell::parse_date(text) {
            return Ok(d);
        }
        self.local_date(text).ok_or_else(|| self.expected(false))
    }

    fn local_date(&self, text: &str) -> Option<NaiveDate> {
        let sep = text.chars().find(|c| matches!(c, '.' | '/' | '-'))?;
        let parts: Vec<&str> = text.split(sep).collect();
        let [a, b, year] = parts.as_slice() else {
            return None;
        };
        let number = |s: &str, max_len: usize| {
            (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u32>().ok())
                .flatten()
        };
        let (day, month) = match self.dates {
            DateOrder::Iso => return None,
            DateOrder::DayMonthYear => (number(a, 2)?, number(b, 2)?),
            DateOrder::MonthDayYear => (number(b, 2)?, number(a, 2)?),
        };
        // Four-digit years only: 01.04.23 could be 1923 or 2023.
        if year.len() != 4 {
            return None;
        }
        let year = i32::try_from(number(year, 4)?).ok()?;
        NaiveDate::from_ymd_opt(year, month, day)
    }

    fn expected(&self, time: bool) -> String {
        let t = if time { " (optionally with HH:MM)" } else { "" };
        match self.dates {
            DateOrder::Iso => format!(
                "expected a date as YYYY-MM-DD{}; for dates such as 01.04.2023 give options.date_order (day_month_year or month_day_year)",
                if time {
                    " or a time as 2024-03-15T10:30:00Z"
                } else {
                    ""
                }
            ),
            DateOrder::DayMonthYear => format!(
                "expected a date as DD.MM.YYYY, DD/MM/YYYY or YYYY-MM-DD{t}, such as 01.04.2023 for 1 April 2023"
            ),
            DateOrder::MonthDayYear => format!(
                "expected a date as MM/DD/YYYY or YYYY-MM-DD{t}, such as 04/01/2023 for 1 April 2023"
            ),
        }
    }

    /// A decimal number's text with a point as the decimal mark and no
    /// grouping, as the number parsers read it.
    pub(crate) fn decimal<'t>(&self, text: &'t str) -> Result<std::borrow::Cow<'t, str>, String> {
        match self.decimal {
            DecimalMark::Point => Ok(text.into()),
            DecimalMark::Comma => {
                let digits: String = text
                    .chars()
                    .filter(|c| !matches!(c, '.' | ' ' | '\'' | '\u{a0}' | '\u{202f}'))
                    .collect();
                if digits.matches(',').count() > 1 {
                    return Err("expected one decimal comma, as in 1.234,56".into());
                }
                Ok(digits.replace(',', ".").into())
            }
        }
    }

    /// A phone number's text in E.164 when a default region is set and it
    /// is a national number; unchanged otherwise (the customer's rules
    /// then read it).
    pub(crate) fn phone(&self, text: &str) -> Result<String, String> {
        match &self.phone_region {
            None => Ok(text.to_owned()),
            Some(region) => crate::contact::Phone::parse_in_region(text, Some(region))
                .map(|p| p.as_str().to_owned())
                .map_err(|e| e.to_string()),
        }
    }
}

/// Checks a default phone region: an ISO 3166 two-letter code that
/// libphonenumber knows.
pub(crate) fn check_region(region: &str) -> Result<(), String> {
    let known = region.len() == 2
        && region.bytes().all(|b| b.is_ascii_uppercase())
        && region.parse::<phonenumber::country::Id>().is_ok();
    if known {
        Ok(())
    } else {
        Err("expected an ISO 3166 two-letter region code in capitals, such as DE or US".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn read_all(bytes: &[u8], d: Delimiter, e: TextEncoding) -> (FileFormat, Vec<String>, String) {
        let mut opened = open(bytes, d, e).unwrap();
        let mut text = String::new();
        opened.reader.read_to_string(&mut text).unwrap();
        (opened.format, opened.detected, text)
    }

    #[test]
    fn semicolons_latin1_and_boms_are_detected_and_said() {
        let (f, said, text) = read_all(
            b"name;kind;email\nA;person;\n",
            Delimiter::Auto,
            TextEncoding::Auto,
        );
        assert_eq!(f.delimiter, Delimiter::Semicolon);
        assert_eq!(f.encoding, TextEncoding::Utf8);
        assert_eq!(text, "name;kind;email\nA;person;\n");
        assert_eq!(said.len(), 1);
        assert!(
            said[0].starts_with("delimiter: read as ';'-separated"),
            "{said:?}"
        );

        let (f, said, text) = read_all(
            b"name\nJos\xe9 M\xfcller\n",
            Delimiter::Auto,
            TextEncoding::Auto,
        );
        assert_eq!(f.encoding, TextEncoding::Windows1252);
        assert_eq!(text, "name\nJosé Müller\n");
        assert!(said[0].contains("byte 0xE9 at index 8"), "{said:?}");

        let (f, said, text) = read_all(
            b"\xEF\xBB\xBFname,email\nJos\xc3\xa9,\n",
            Delimiter::Auto,
            TextEncoding::Auto,
        );
        assert_eq!(
            (f.encoding, f.byte_order_mark, f.delimiter),
            (TextEncoding::Utf8, true, Delimiter::Comma)
        );
        assert_eq!(text, "name,email\nJosé,\n");
        assert!(said[0].contains("byte order mark"), "{said:?}");

        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                "name\tkind\nZoë\tperson\n"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        let (f, _, text) = read_all(&utf16, Delimiter::Auto, TextEncoding::Auto);
        assert_eq!(
            (f.encoding, f.delimiter),
            (TextEncoding::Utf16le, Delimiter::Tab)
        );
        assert_eq!(text, "name\tkind\nZoë\tperson\n");

        // Given, nothing is guessed.
        let (f, said, _) = read_all(b"a;b\n", Delimiter::Comma, TextEncoding::Utf8);
        assert_eq!((f.delimiter, said.len()), (Delimiter::Comma, 0));
    }

    #[test]
    fn decoding_across_chunks_keeps_every_character() {
        let line = "Zoë;Ærø;Đorđe\n".repeat(2000);
        let (latin1, _, bad) = encoding_rs::WINDOWS_1252.encode("Zoë;Ærø;\n");
        assert!(!bad);
        let big: Vec<u8> = latin1.repeat(10_000);
        let (_, _, text) = read_all(&big, Delimiter::Auto, TextEncoding::Windows1252);
        assert_eq!(text, "Zoë;Ærø;\n".repeat(10_000));
        let (_, _, text) = read_all(line.as_bytes(), Delimiter::Auto, TextEncoding::Utf8);
        assert_eq!(text, line);
    }

    fn cells(dates: DateOrder, decimal: DecimalMark) -> CellFormat {
        CellFormat {
            list_separator: ';',
            dates,
            decimal,
            phone_region: Some("DE".into()),
        }
    }

    #[test]
    fn dates_in_the_order_given_and_never_guessed() {
        let april = NaiveDate::from_ymd_opt(2023, 4, 1).unwrap();
        let dmy = cells(DateOrder::DayMonthYear, DecimalMark::Point);
        let mdy = cells(DateOrder::MonthDayYear, DecimalMark::Point);
        let iso = cells(DateOrder::Iso, DecimalMark::Point);
        assert_eq!(dmy.date("01.04.2023"), Ok(april));
        assert_eq!(dmy.date("1/4/2023"), Ok(april));
        assert_eq!(mdy.date("04/01/2023"), Ok(april));
        assert_eq!(iso.date("2023-04-01"), Ok(april));
        assert_eq!(dmy.date("2023-04-01"), Ok(april));
        assert!(
            iso.date("01.04.2023")
                .unwrap_err()
                .contains("options.date_order")
        );
        assert!(dmy.date("01.04.23").is_err(), "two-digit years are refused");
        assert!(dmy.date("31.02.2023").is_err());
        assert!(mdy.date("13/01/2023").is_err());
        assert_eq!(
            dmy.time("01.04.2023 14:30"),
            Ok(Utc.with_ymd_and_hms(2023, 4, 1, 14, 30, 0).unwrap())
        );
        assert_eq!(
            mdy.time("04/01/2023"),
            Ok(Utc.with_ymd_and_hms(2023, 4, 1, 0, 0, 0).unwrap())
        );
    }

    #[test]
    fn decimal_commas_and_national_phones() {
        let comma = cells(DateOrder::Iso, DecimalMark::Comma);
        assert_eq!(comma.decimal("1.234,56").unwrap(), "1234.56");
        assert_eq!(comma.decimal("1 234,5").unwrap(), "1234.5");
        assert_eq!(comma.decimal("12").unwrap(), "12");
        assert!(comma.decimal("1,2,3").is_err());
        let point = cells(DateOrder::Iso, DecimalMark::Point);
        assert_eq!(point.decimal("1234.56").unwrap(), "1234.56");
        assert_eq!(comma.phone("030 1234567").unwrap(), "+49301234567");
        assert_eq!(comma.phone("+1 212 555 0100").unwrap(), "+12125550100");
        assert!(comma.phone("12").is_err());
        assert_eq!(check_region("DE"), Ok(()));
        assert!(check_region("de").is_err());
        assert!(check_region("XX").is_err());
        assert!(check_region("DEU").is_err());
    }
}
