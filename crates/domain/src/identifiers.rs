//! Sign-in identifiers: username, email, phone. Validation follows Logto's regexes and column limits
//! (`packages/toolkit/core-kit/src/regex.ts`); normalization makes uniqueness checks meaningful
//! (emails compare case-insensitively, phones are stored as international digits).

use std::fmt;
use std::sync::{LazyLock, Once, PoisonError};

use regex::Regex;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Column limit for username, email and phone (Logto: `varchar(128)`).
pub const IDENTIFIER_MAX_CHARS: usize = 128;

static USERNAME_PATTERN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z_a-z][A-Za-z0-9_]*$").expect("static regex"));
static EMAIL_PATTERN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\S+@\S+\.\S+$").expect("static regex"));
// ASCII digits only: Logto's `^\d+$` is a JavaScript regex, where `\d` is ASCII, while Rust's `\d` would also take
// other scripts' digits (e.g. Arabic-Indic) that libphonenumber then reads as ASCII ones.
static PHONE_PATTERN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[0-9]+$").expect("static regex"));

/// How many of libphonenumber's compiled patterns stay cached. The `phonenumber` crate compiles its metadata's
/// patterns on first use into one process-wide LRU cache of 100, but validating a single number walks the patterns
/// of every region sharing its country code (25 for +1): numbers from a few countries evict each other's patterns,
/// and most parses then recompile some, under the cache's global lock (about 1 ms a parse for numbers from every
/// region, 130 times the cached cost). This holds every pattern the metadata's example numbers reach (about 1,600),
/// with room to spare. The price is memory, paid only as numbers from more regions arrive: about 90 KiB a pattern,
/// some 153 MiB once every region has been seen. `benches/identifiers.rs` prints both figures.
pub const PHONE_PATTERN_CACHE_CAPACITY: usize = 4096;

static PHONE_PATTERN_CACHE_RESIZED: Once = Once::new();

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum IdentifierError {
    #[error("a username starts with a letter or underscore and holds only letters, digits and underscores")]
    InvalidUsername,
    #[error("not a valid email address")]
    InvalidEmail,
    #[error("a phone number is digits only, with the country code and no leading +")]
    InvalidPhone,
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
}

/// A username, as typed (Logto usernames are case-sensitive by default).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(value: &str) -> Result<Self, IdentifierError> {
        check_length("username", value)?;
        if !USERNAME_PATTERN.is_match(value) {
            return Err(IdentifierError::InvalidUsername);
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address. Kept as given for display; compared through [`Email::normalized`] (lower-cased).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(value: &str) -> Result<Self, IdentifierError> {
        check_length("email", value)?;
        if !EMAIL_PATTERN.is_match(value) {
            return Err(IdentifierError::InvalidEmail);
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and look-ups: emails are unique regardless of case.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A phone number in international digits without `+` (e.g. `15551234567`), as Logto stores it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Accepts digits only (Logto's `^\d+$`), including the country code. When libphonenumber recognises the
    /// number, it is normalized to its E.164 digits, which drops a national trunk prefix written after the
    /// country code (`44 07911 123456` → `447911123456`), so that both spellings collide as Logto's look-up does.
    pub fn parse(value: &str) -> Result<Self, IdentifierError> {
        check_length("phone", value)?;
        if !PHONE_PATTERN.is_match(value) {
            return Err(IdentifierError::InvalidPhone);
        }
        Ok(Self(normalize_phone_digits(value)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn normalize_phone_digits(digits: &str) -> String {
    PHONE_PATTERN_CACHE_RESIZED.call_once(|| {
        // Every compiled pattern of the metadata shares this one cache. A poisoned lock only means that a panic
        // elsewhere happened while it was held; the LRU list is valid whatever the panic interrupted.
        let cache = phonenumber::metadata::DATABASE.cache();
        cache.lock().unwrap_or_else(PoisonError::into_inner).set_capacity(PHONE_PATTERN_CACHE_CAPACITY);
    });
    match e164_digits(digits) {
        Some(normalized) if normalized == digits => normalized,
        // libphonenumber's E.164 form is not always a fixed point: with some trunk prefixes it strips one more layer
        // of zeros each time (`81 0000 660126042` → `81 00 660126042` → `81 660126042`, found by fuzzing). A stored
        // phone must parse back to itself, or looking up its owner by it would miss; such numbers are kept as typed.
        Some(normalized) if e164_digits(&normalized).is_none_or(|again| again == normalized) => normalized,
        // Numbers libphonenumber does not know (new ranges, test numbers) are kept as typed: Logto accepts them.
        _ => digits.to_owned(),
    }
}

/// The E.164 digits (without `+`) of a number libphonenumber knows and finds valid.
fn e164_digits(digits: &str) -> Option<String> {
    let number = phonenumber::parse(None, format!("+{digits}")).ok()?;
    phonenumber::is_valid(&number)
        .then(|| number.format().mode(phonenumber::Mode::E164).to_string().trim_start_matches('+').to_owned())
}

fn check_length(field: &'static str, value: &str) -> Result<(), IdentifierError> {
    if value.chars().count() > IDENTIFIER_MAX_CHARS {
        return Err(IdentifierError::TooLong { field, max: IDENTIFIER_MAX_CHARS });
    }
    Ok(())
}

macro_rules! string_newtype_impls {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = IdentifierError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
    )*};
}

string_newtype_impls!(Username, Email, Phone);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_logtos_pattern() {
        let cases = [
            ("alice", true),
            ("Alice_99", true),
            ("_alice", true),
            ("__", true),
            ("a", true),
            ("Z9", true),
            ("1alice", false),
            ("9", false),
            ("al-ice", false),
            ("-alice", false),
            ("al.ice", false),
            ("al ice", false),
            ("alice@example.com", false),
            ("ålice", false),
            ("alicé", false),
            ("用户", false),
            ("alice\n", false),
            ("", false),
        ];
        for (value, valid) in cases {
            let expected = if valid { Ok(value.to_owned()) } else { Err(IdentifierError::InvalidUsername) };
            assert_eq!(Username::parse(value).map(String::from), expected, "{value:?}");
        }
    }

    #[test]
    fn usernames_keep_their_case() {
        assert_eq!(Username::parse("AliceB").unwrap().as_str(), "AliceB");
        assert_ne!(Username::parse("AliceB").unwrap(), Username::parse("aliceb").unwrap());
    }

    #[test]
    fn usernames_may_be_128_characters_but_not_129() {
        let longest = format!("a{}", "b".repeat(127));
        assert_eq!(Username::parse(&longest).unwrap().as_str(), longest);
        assert_eq!(
            Username::parse(&format!("{longest}c")),
            Err(IdentifierError::TooLong { field: "username", max: IDENTIFIER_MAX_CHARS })
        );
    }

    #[test]
    fn emails_follow_logtos_pattern() {
        let cases = [
            ("alice@example.com", true),
            ("a@b.c", true),
            ("alice+tag@mail.example.co.uk", true),
            ("üser@例え.jp", true),
            // Logto's `^\S+@\S+\.\S+$` is deliberately loose; these pass it too.
            ("a@@b.c", true),
            ("a@b..c", true),
            ("a@b", false),
            ("@b.c", false),
            ("a@.c", false),
            ("a@b.", false),
            ("alice.example.com", false),
            ("al ice@example.com", false),
            ("alice@example.com ", false),
            (" alice@example.com", false),
            ("alice@exa\tmple.com", false),
            ("alice@example\u{00a0}.com", false),
            ("", false),
        ];
        for (value, valid) in cases {
            let expected = if valid { Ok(value.to_owned()) } else { Err(IdentifierError::InvalidEmail) };
            assert_eq!(Email::parse(value).map(String::from), expected, "{value:?}");
        }
    }

    #[test]
    fn emails_keep_their_spelling_but_compare_case_insensitively() {
        let email = Email::parse("Alice.B@Example.COM").unwrap();
        assert_eq!(email.as_str(), "Alice.B@Example.COM");
        assert_eq!(email.normalized(), "alice.b@example.com");
        assert_eq!(email.normalized(), Email::parse("alice.b@example.com").unwrap().normalized());
        assert_eq!(Email::parse("ÜSER@EXAMPLE.COM").unwrap().normalized(), "üser@example.com");
    }

    #[test]
    fn emails_may_be_128_characters_but_not_129() {
        let domain = "@example.com";
        let longest = format!("{}{domain}", "a".repeat(IDENTIFIER_MAX_CHARS - domain.len()));
        assert_eq!(longest.chars().count(), 128);
        assert!(Email::parse(&longest).is_ok());
        assert_eq!(
            Email::parse(&format!("a{longest}")),
            Err(IdentifierError::TooLong { field: "email", max: IDENTIFIER_MAX_CHARS })
        );
    }

    #[test]
    fn the_length_limit_counts_characters_not_bytes() {
        let domain = "@例え.jp";
        let longest = format!("{}{domain}", "ü".repeat(IDENTIFIER_MAX_CHARS - domain.chars().count()));
        assert!(longest.len() > IDENTIFIER_MAX_CHARS);
        assert!(Email::parse(&longest).is_ok());
    }

    #[test]
    fn phones_are_digits_only() {
        for value in [
            "+447911123456",
            "44 7911 123456",
            "44-7911-123456",
            "(44)7911123456",
            "447911123456 ",
            "44791112345a",
            "٤٤٧٩١١١٢٣٤٥٦",
            "４４７９１１１２３４５６",
            "",
        ] {
            assert_eq!(Phone::parse(value), Err(IdentifierError::InvalidPhone), "{value:?}");
        }
    }

    #[test]
    fn recognised_phones_are_normalized_to_e164_digits() {
        let cases = [
            ("447911123456", "447911123456"),
            // A national trunk zero written after the country code is dropped, so both spellings collide.
            ("4407911123456", "447911123456"),
            ("330612345678", "33612345678"),
            ("49015112345678", "4915112345678"),
            ("86013800138000", "8613800138000"),
            ("12025550123", "12025550123"),
            // Italian numbers keep their leading zero in E.164.
            ("39061234567", "39061234567"),
        ];
        for (typed, stored) in cases {
            assert_eq!(Phone::parse(typed).unwrap().as_str(), stored, "{typed}");
        }
    }

    #[test]
    fn unrecognised_phones_are_kept_as_typed() {
        // An unassigned country code, a too-short number, and a fictional 555 number.
        for typed in ["999123456789", "1234", "15551234567", "0", "0044123"] {
            assert_eq!(Phone::parse(typed).unwrap().as_str(), typed);
        }
    }

    #[test]
    fn normalising_a_phone_twice_changes_nothing() {
        // The E.164 form of the first is the second, whose E.164 form is the third: libphonenumber alone would store
        // the first as the second, which then parses to something else.
        for typed in ["810000660126042", "8100660126042", "81660126042", "4407911123456"] {
            let phone = Phone::parse(typed).unwrap();
            assert_eq!(Phone::parse(phone.as_str()).unwrap(), phone, "{typed} → {}", phone.as_str());
        }
        assert_eq!(Phone::parse("810000660126042").unwrap().as_str(), "810000660126042");
    }

    #[test]
    fn libphonenumbers_pattern_cache_holds_the_patterns_of_every_regions_numbers() {
        let mut regions: Vec<_> = phonenumber::metadata::DATABASE.iter().collect();
        regions.sort_by_key(|region| region.id());
        for region in regions {
            let descriptors = region.descriptors();
            for example in [descriptors.mobile(), descriptors.fixed_line()].into_iter().flatten() {
                if let Some(example) = example.example() {
                    Phone::parse(&format!("{}{example}", region.country_code())).unwrap();
                }
            }
        }
        // Other tests parse phones at the same time, into the same process-wide cache; nothing was evicted as long
        // as it is not full.
        let cache = phonenumber::metadata::DATABASE.cache();
        let cache = cache.lock().unwrap();
        assert_eq!(cache.capacity(), PHONE_PATTERN_CACHE_CAPACITY);
        assert!(cache.len() < cache.capacity(), "{} patterns fill the cache", cache.len());
    }

    #[test]
    fn phones_may_be_128_digits_but_not_129() {
        let longest = "1".repeat(IDENTIFIER_MAX_CHARS);
        assert_eq!(Phone::parse(&longest).unwrap().as_str(), longest);
        assert_eq!(
            Phone::parse(&format!("{longest}1")),
            Err(IdentifierError::TooLong { field: "phone", max: IDENTIFIER_MAX_CHARS })
        );
    }

    #[test]
    fn identifiers_deserialize_through_validation() {
        assert_eq!(serde_json::from_str::<Phone>("\"4407911123456\"").unwrap().as_str(), "447911123456");
        assert!(serde_json::from_str::<Username>("\"1alice\"").is_err());
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
        assert_eq!(serde_json::to_string(&Email::parse("A@b.co").unwrap()).unwrap(), "\"A@b.co\"");
    }
}
