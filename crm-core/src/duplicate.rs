//! Finding customers that are probably the same party.
//!
//! Three rules, each optional ([`DuplicateOptions`]):
//!
//! - **email**: the two share a normalised e-mail address (score 1);
//! - **phone**: the two share a normalised (E.164) phone number (score 1);
//! - **name**: both are persons or both organisations, and the
//!   Jaro-Winkler similarity of their normalised names is at least the
//!   threshold (score = the similarity). Names are normalised by folding
//!   case and accents (`Müller` → `muller`), dropping punctuation, and for
//!   organisations dropping legal-form words (`GmbH`, `Inc.`, `Ltd` …).
//!
//! Nothing is compared pair by pair across the whole store: candidates are
//! *blocked* by keys (an e-mail, a phone, or the first three letters of a
//! name word), and only customers sharing a key are compared, so the work
//! grows with the number of customers times the size of their blocks, not
//! with its square. A name block larger than
//! [`DuplicateOptions::max_block`] (a very common first name, say) is
//! skipped and reported in [`DuplicateReport::skipped_blocks`]; a pair in it
//! is still found if the two share another word's block. The price: two
//! names whose every word differs in its first three letters are not
//! compared.
//!
//! Merged customers (see [`Session::merge_customers`](crate::Session::merge_customers))
//! are not candidates.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::customer::{Customer, PartyKind};
use crate::id::CustomerId;

/// Which rules to apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct DuplicateOptions {
    /// Match on a shared e-mail address.
    pub email: bool,
    /// Match on a shared phone number.
    pub phone: bool,
    /// Match on names at least this similar (0 to 1, Jaro-Winkler); `None`
    /// turns the name rule off.
    pub name_similarity: Option<f64>,
    /// Name blocks with more customers than this are skipped.
    pub max_block: usize,
}

impl Default for DuplicateOptions {
    /// E-mail, phone, and names at least 0.92 similar; blocks up to 1 000.
    fn default() -> Self {
        DuplicateOptions {
            email: true,
            phone: true,
            name_similarity: Some(0.92),
            max_block: 1000,
        }
    }
}

/// The rule that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DuplicateRule {
    /// A shared e-mail address.
    Email,
    /// A shared phone number.
    Phone,
    /// Similar names.
    Name,
}

/// One rule that matched a pair, with its score and what it matched on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DuplicateMatch {
    /// The rule.
    pub rule: DuplicateRule,
    /// 1 for e-mail and phone, the similarity for names.
    pub score: f64,
    /// The shared address or number, or the two normalised names.
    pub evidence: String,
}

/// Two customers that are probably the same party.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DuplicateCandidate {
    /// The one with the smaller id (created first).
    pub a: CustomerId,
    /// The other.
    pub b: CustomerId,
    /// Every rule that matched, strongest first (e-mail, phone, name).
    pub matches: Vec<DuplicateMatch>,
}

/// What a duplicate search found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DuplicateReport {
    /// The candidate pairs, ordered by `(a, b)`.
    pub candidates: Vec<DuplicateCandidate>,
    /// Name blocks skipped for being larger than the limit: the word
    /// prefix and how many customers share it.
    pub skipped_blocks: Vec<(String, usize)>,
}

/// Legal-form words dropped from organisation names before comparing.
const LEGAL_FORMS: &[&str] = &[
    "ab",
    "ag",
    "bv",
    "co",
    "corp",
    "corporation",
    "gmbh",
    "inc",
    "incorporated",
    "kg",
    "limited",
    "llc",
    "llp",
    "ltd",
    "nv",
    "oy",
    "plc",
    "sa",
    "sarl",
    "sas",
    "se",
    "spa",
    "srl",
];

/// Appends `c` folded for comparison: transliterated to ASCII by
/// `deunicode` (accents dropped, combining marks included, so `e` + U+0301
/// is `e`; `ß` → `ss`, `Đ` → `d`, `Æ` → `ae`, `ø` → `o`, which no Unicode
/// decomposition gives), lower case; punctuation becomes a space. A letter
/// `deunicode` has no transliteration for stays as it is (lower case), so
/// two names in such a script are never folded to the same placeholder.
fn fold_into(out: &mut String, c: char) {
    match deunicode::deunicode_char(c) {
        Some(ascii) => {
            for a in ascii.chars() {
                if a.is_ascii_alphanumeric() {
                    out.push(a.to_ascii_lowercase());
                } else {
                    out.push(' ');
                }
            }
        }
        None if c.is_alphanumeric() => out.extend(c.to_lowercase()),
        None => out.push(' '),
    }
}

/// A name as compared: folded words, legal forms dropped for organisations.
///
/// ```
/// use crm_core::duplicate::normalise_name;
/// use crm_core::PartyKind;
/// assert_eq!(normalise_name("ACME Robotics GmbH.", PartyKind::Organisation), "acme robotics");
/// assert_eq!(normalise_name("  Jürgen  Müller-Lüdenscheidt ", PartyKind::Person), "jurgen muller ludenscheidt");
/// assert_eq!(normalise_name("Jose\u{301}", PartyKind::Person), normalise_name("José", PartyKind::Person));
/// assert_eq!(normalise_name("Straße", PartyKind::Person), "strasse");
/// assert_eq!(normalise_name("Đorđe Ærø", PartyKind::Person), "dorde aero");
/// ```
pub fn normalise_name(name: &str, kind: PartyKind) -> String {
    let mut spaced = String::with_capacity(name.len());
    for c in name.chars() {
        fold_into(&mut spaced, c);
    }
    spaced
        .split_whitespace()
        .filter(|w| kind == PartyKind::Person || !LEGAL_FORMS.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The pair's key, smaller id first.
fn pair(x: CustomerId, y: CustomerId) -> (CustomerId, CustomerId) {
    if x < y { (x, y) } else { (y, x) }
}

/// Finds duplicate candidates among `customers`.
///
/// ```
/// use crm_core::duplicate::{find_duplicates, DuplicateOptions, DuplicateRule};
/// # use crm_core::{Actor, Crm, NewCustomer};
/// # let crm = Crm::new(crm_store_memory::MemoryStore::new());
/// # let s = crm.as_actor(Actor::System);
/// let a = s.create_customer(NewCustomer::person("Jon Smith").email("jon@example.org"))?;
/// let b = s.create_customer(NewCustomer::person("John Smith"))?;
/// let c = s.create_customer(NewCustomer::person("Ada Byron").email("JON@example.org"))?;
/// let report = find_duplicates(&[a.clone(), b.clone(), c.clone()], &DuplicateOptions::default());
/// let found: Vec<_> = report.candidates.iter()
///     .map(|p| (p.a, p.b, p.matches[0].rule)).collect();
/// assert_eq!(found, vec![(a.id, b.id, DuplicateRule::Name), (a.id, c.id, DuplicateRule::Email)]);
/// # Ok::<(), crm_core::Error>(())
/// ```
pub fn find_duplicates(customers: &[Customer], options: &DuplicateOptions) -> DuplicateReport {
    let live: Vec<&Customer> = customers.iter().filter(|c| !c.is_merged()).collect();
    let mut found: BTreeMap<(CustomerId, CustomerId), Vec<DuplicateMatch>> = BTreeMap::new();

    let mut shared = |rule: DuplicateRule, keys: &mut dyn Iterator<Item = (String, CustomerId)>| {
        // In key order, so a pair that shares several keys always reports
        // the same (the first) one as its evidence, run after run.
        let mut blocks: BTreeMap<String, Vec<CustomerId>> = BTreeMap::new();
        for (key, id) in keys {
            let block = blocks.entry(key).or_default();
            if !block.contains(&id) {
                block.push(id);
            }
        }
        for (key, ids) in blocks {
            for (i, x) in ids.iter().enumerate() {
                for y in &ids[i + 1..] {
                    let matches = found.entry(pair(*x, *y)).or_default();
                    if !matches.iter().any(|m| m.rule == rule) {
                        matches.push(DuplicateMatch {
                            rule,
                            score: 1.0,
                            evidence: key.clone(),
                        });
                    }
                }
            }
        }
    };
    if options.email {
        shared(
            DuplicateRule::Email,
            &mut live
                .iter()
                .flat_map(|c| c.emails.iter().map(|e| (e.as_str().to_owned(), c.id))),
        );
    }
    if options.phone {
        shared(
            DuplicateRule::Phone,
            &mut live
                .iter()
                .flat_map(|c| c.phones.iter().map(|p| (p.as_str().to_owned(), c.id))),
        );
    }

    let mut skipped_blocks = Vec::new();
    if let Some(threshold) = options.name_similarity {
        let names: Vec<(CustomerId, PartyKind, String)> = live
            .iter()
            .map(|c| (c.id, c.kind, normalise_name(&c.name, c.kind)))
            .collect();
        // Each name's word prefixes, sorted and without repeats.
        let prefixes: Vec<Vec<String>> = names
            .iter()
            .map(|(_, _, name)| {
                let set: BTreeSet<String> = name
                    .split(' ')
                    .filter(|w| w.chars().count() >= 2)
                    .map(|w| w.chars().take(3).collect())
                    .collect();
                set.into_iter().collect()
            })
            .collect();
        let mut blocks: HashMap<(PartyKind, &str), Vec<usize>> = HashMap::new();
        for (i, (_, kind, _)) in names.iter().enumerate() {
            for p in &prefixes[i] {
                blocks.entry((*kind, p.as_str())).or_default().push(i);
            }
        }
        let oversized = |kind: PartyKind, prefix: &str| {
            blocks
                .get(&(kind, prefix))
                .is_some_and(|m| m.len() > options.max_block)
        };
        // Two names sharing several prefixes meet in several blocks; they
        // are compared only in the first (in prefix order) that is not
        // skipped, which needs no record of the pairs already compared.
        let first_shared = |kind: PartyKind, a: &[String], b: &[String]| -> Option<usize> {
            let (mut i, mut j) = (0, 0);
            while i < a.len() && j < b.len() {
                match a[i].cmp(&b[j]) {
                    std::cmp::Ordering::Less => i += 1,
                    std::cmp::Ordering::Greater => j += 1,
                    std::cmp::Ordering::Equal => {
                        if !oversized(kind, &a[i]) {
                            return Some(i);
                        }
                        i += 1;
                        j += 1;
                    }
                }
            }
            None
        };
        for (&(kind, prefix), members) in &blocks {
            if members.len() > options.max_block {
                skipped_blocks.push((prefix.to_owned(), members.len()));
                continue;
            }
            for (k, &i) in members.iter().enumerate() {
                for &j in &members[k + 1..] {
                    let first = first_shared(kind, &prefixes[i], &prefixes[j]);
                    if first.map(|f| prefixes[i][f].as_str()) != Some(prefix) {
                        continue;
                    }
                    let (x, _, nx) = &names[i];
                    let (y, _, ny) = &names[j];
                    if nx.is_empty() || ny.is_empty() {
                        continue;
                    }
                    let score = strsim::jaro_winkler(nx, ny);
                    if score >= threshold {
                        found.entry(pair(*x, *y)).or_default().push(DuplicateMatch {
                            rule: DuplicateRule::Name,
                            score,
                            evidence: format!("{nx} ~ {ny}"),
                        });
                    }
                }
            }
        }
        skipped_blocks.sort();
    }

    let candidates = found
        .into_iter()
        .map(|((a, b), mut matches)| {
            matches.sort_by_key(|m| m.rule);
            DuplicateCandidate { a, b, matches }
        })
        .collect();
    DuplicateReport {
        candidates,
        skipped_blocks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::strategies;
    use proptest::prelude::*;

    fn customer(n: u128, kind: PartyKind, name: &str, email: &str, phone: &str) -> Customer {
        Customer {
            id: id(n),
            version: 1,
            kind,
            name: name.to_owned(),
            organisation: None,
            roles: Default::default(),
            lifecycle: crate::Lifecycle::Lead,
            emails: email.parse().into_iter().collect(),
            phones: phone.parse().into_iter().collect(),
            owner: None,
            tags: Default::default(),
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
            merged_into: None,
            custom: Default::default(),
        }
    }

    fn id(n: u128) -> CustomerId {
        CustomerId::from_uuid(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn accents_and_letters_without_decomposition_fold() {
        let n = |s: &str| normalise_name(s, PartyKind::Person);
        assert_eq!(n("Jose\u{301} Garci\u{301}a"), "jose garcia");
        assert_eq!(n("José García"), "jose garcia");
        assert_eq!(n("Straße"), "strasse");
        assert_eq!(n("STRASSE"), "strasse");
        assert_eq!(n("Đorđe Đokić"), "dorde dokic");
        assert_eq!(n("Ærø"), "aero");
        assert_eq!(n("Søren Łukasz"), "soren lukasz");
        assert_eq!(n("O'Brien"), "o brien");
        // Names with accents in different Unicode forms are one duplicate.
        let found = find_duplicates(
            &[
                customer(
                    1,
                    PartyKind::Person,
                    "Jose\u{301} Nu\u{301}n\u{303}ez",
                    "",
                    "",
                ),
                customer(2, PartyKind::Person, "José Núñez", "", ""),
            ],
            &DuplicateOptions::default(),
        );
        assert_eq!(found.candidates.len(), 1);
        assert_eq!(found.candidates[0].matches[0].score, 1.0);
    }

    #[test]
    fn worked_example() {
        use PartyKind::*;
        let people = vec![
            customer(
                1,
                Organisation,
                "ACME Robotics GmbH",
                "info@acme.example",
                "",
            ),
            customer(2, Organisation, "Acme Robotics", "", "+49 30 1234567"),
            customer(3, Person, "Jürgen Müller", "", "+49 30 1234567"),
            customer(4, Person, "Jurgen Mueller", "", ""),
            customer(5, Person, "Ada Byron", "ada@example.org", ""),
            customer(6, Organisation, "Ada Byron", "", ""), // other kind: not a name match
            customer(7, Person, "Bob Stone", "ADA@example.org", ""),
        ];
        let report = find_duplicates(&people, &DuplicateOptions::default());
        let found: Vec<(CustomerId, CustomerId, Vec<DuplicateRule>)> = report
            .candidates
            .iter()
            .map(|c| (c.a, c.b, c.matches.iter().map(|m| m.rule).collect()))
            .collect();
        assert_eq!(
            found,
            vec![
                // identical after dropping "GmbH"
                (id(1), id(2), vec![DuplicateRule::Name]),
                // shared phone, different kinds and names
                (id(2), id(3), vec![DuplicateRule::Phone]),
                // "jurgen muller" (13) vs "jurgen mueller" (14): all 13
                // letters match, the tails "ller"/"eller" give one
                // transposition: jaro = (13/13 + 13/14 + 12/13) / 3
                // = 0.950549; common prefix 4: 0.950549 + 0.4 * 0.049451
                // = 0.970330
                (id(3), id(4), vec![DuplicateRule::Name]),
                (id(5), id(7), vec![DuplicateRule::Email]),
            ]
        );
        assert_eq!(report.candidates[0].matches[0].score, 1.0);
        assert!((report.candidates[2].matches[0].score - 0.970330).abs() < 1e-6);
        assert_eq!(report.candidates[3].matches[0].evidence, "ada@example.org");
    }

    /// A pair sharing two e-mail addresses reports the first in address
    /// order, whatever order a hash map would visit them in.
    #[test]
    fn evidence_is_the_first_shared_key() {
        let mut a = customer(1, PartyKind::Person, "Ann One", "zed@example.org", "");
        let mut b = customer(2, PartyKind::Person, "Bea Two", "zed@example.org", "");
        for c in [&mut a, &mut b] {
            c.emails.push("amy@example.org".parse().unwrap());
            c.emails.push("kim@example.org".parse().unwrap());
        }
        let report = find_duplicates(&[a, b], &DuplicateOptions::default());
        assert_eq!(report.candidates.len(), 1);
        let matches = &report.candidates[0].matches;
        assert_eq!(matches.len(), 1, "{matches:?}");
        assert_eq!(matches[0].evidence, "amy@example.org");
    }

    #[test]
    fn oversized_blocks_are_skipped_and_reported() {
        let people: Vec<Customer> = (0..5)
            .map(|i| customer(i, PartyKind::Person, &format!("John Doe{i}"), "", ""))
            .collect();
        let options = DuplicateOptions {
            max_block: 3,
            ..DuplicateOptions::default()
        };
        let report = find_duplicates(&people, &options);
        assert_eq!(
            report.skipped_blocks,
            vec![("doe".to_owned(), 5), ("joh".to_owned(), 5)]
        );
        assert!(report.candidates.is_empty());
    }

    proptest! {
        /// Blocking finds exactly the name pairs a brute-force comparison
        /// of every pair finds, among names sharing a word prefix.
        #[test]
        fn blocking_misses_no_pair_that_shares_a_word_prefix(
            names in proptest::collection::vec("[a-c]{1,4}( [a-c]{1,4}){0,2}", 1..25),
            threshold in 0.7f64..1.0,
        ) {
            let people: Vec<Customer> = names
                .iter()
                .enumerate()
                .map(|(i, n)| customer(i as u128 + 1, PartyKind::Person, n, "", ""))
                .collect();
            let options = DuplicateOptions {
                email: false,
                phone: false,
                name_similarity: Some(threshold),
                max_block: usize::MAX,
            };
            let got: Vec<(CustomerId, CustomerId)> = find_duplicates(&people, &options)
                .candidates.iter().map(|c| (c.a, c.b)).collect();
            let prefixes = |n: &str| -> BTreeSet<String> {
                n.split(' ').filter(|w| w.len() >= 2).map(|w| w.chars().take(3).collect()).collect()
            };
            let mut expected = Vec::new();
            for (i, x) in people.iter().enumerate() {
                for y in &people[i + 1..] {
                    let (nx, ny) = (normalise_name(&x.name, x.kind), normalise_name(&y.name, y.kind));
                    if !prefixes(&nx).is_disjoint(&prefixes(&ny))
                        && strsim::jaro_winkler(&nx, &ny) >= threshold
                    {
                        expected.push(pair(x.id, y.id));
                    }
                }
            }
            expected.sort();
            prop_assert_eq!(got, expected);
        }

        /// Input order does not change the result.
        #[test]
        fn order_does_not_matter(mut people in proptest::collection::vec(strategies::customer(), 0..12)) {
            let before = find_duplicates(&people, &DuplicateOptions::default());
            people.reverse();
            prop_assert_eq!(find_duplicates(&people, &DuplicateOptions::default()).candidates, before.candidates);
        }
    }
}
