//! The password policy of the sign-in experience, with Logto's JSON shape, defaults, rules and issue codes
//! (`packages/toolkit/core-kit/src/password-policy.ts`).
//!
//! One difference: Logto asks Have I Been Pwned whether a password was breached; we look it up offline in a bundled
//! list of the 30,000 most common passwords (`common-passwords.txt`, from zxcvbn, MIT), so that a policy check never
//! reaches the network nor tells a third party anything.

use std::collections::HashSet;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Logto's `passwordPolicy`. Every field is optional on the wire; missing ones take Logto's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PasswordPolicy {
    pub length: LengthPolicy,
    pub character_types: CharacterTypesPolicy,
    pub rejects: RejectsPolicy,
}

/// Bounds on the length, counted as Logto counts (UTF-16 code units; one per character for every supported one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LengthPolicy {
    pub min: u32,
    pub max: u32,
}

/// How many of the four character types (lowercase, uppercase, digits, symbols) a password must mix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CharacterTypesPolicy {
    pub min: u32,
}

/// Which kinds of passwords to reject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RejectsPolicy {
    /// Reject passwords known to be breached (here: on the bundled common-password list).
    pub pwned: bool,
    /// Reject passwords made mostly of repeated characters (`aaa`) or sequences (`123`, `abc`, `qwerty`).
    pub repetition_and_sequence: bool,
    /// Reject passwords made mostly of the user's name, username, email local part or phone number.
    pub user_info: bool,
    /// Reject passwords made mostly of these words (compared ignoring case).
    pub words: Vec<String>,
}

/// A reason why a password does not meet the policy, serialised as Logto's `PasswordIssue`
/// (`{"code": "password_rejected.too_short", "interpolation": {"min": 8}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyIssue {
    /// One of the constants in [`codes`].
    pub code: &'static str,
    /// Values for the message template, such as `{"min": 8}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interpolation: Option<Value>,
}

/// Logto's password issue codes.
pub mod codes {
    pub const TOO_SHORT: &str = "password_rejected.too_short";
    pub const TOO_LONG: &str = "password_rejected.too_long";
    pub const CHARACTER_TYPES: &str = "password_rejected.character_types";
    pub const UNSUPPORTED_CHARACTERS: &str = "password_rejected.unsupported_characters";
    pub const PWNED: &str = "password_rejected.pwned";
    pub const REPETITION: &str = "password_rejected.restricted.repetition";
    pub const SEQUENCE: &str = "password_rejected.restricted.sequence";
    pub const USER_INFO: &str = "password_rejected.restricted.user_info";
    pub const WORDS: &str = "password_rejected.restricted.words";
}

/// What the policy knows about the user whose password is checked (Logto's `UserInfo`). Empty strings count as
/// absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordUserInfo {
    pub name: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// A policy that Logto's guard would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("length.min and length.max must be at least 1")]
    LengthBelowOne,
    #[error("characterTypes.min must be between 1 and 4")]
    CharacterTypesOutOfRange,
}

impl Default for LengthPolicy {
    fn default() -> Self {
        Self { min: 8, max: 256 }
    }
}

impl Default for CharacterTypesPolicy {
    fn default() -> Self {
        Self { min: 1 }
    }
}

impl Default for RejectsPolicy {
    fn default() -> Self {
        Self { pwned: true, repetition_and_sequence: true, user_info: true, words: Vec::new() }
    }
}

impl PasswordPolicy {
    /// Checks the bounds Logto's `passwordPolicyGuard` enforces (integers ≥ 1, character types 1–4).
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.length.min < 1 || self.length.max < 1 {
            return Err(PolicyError::LengthBelowOne);
        }
        if !(1..=4).contains(&self.character_types.min) {
            return Err(PolicyError::CharacterTypesOutOfRange);
        }
        Ok(())
    }

    /// Every way `password` breaks the policy, in Logto's order; empty when it passes.
    ///
    /// Repetition, sequences, user information and custom words are only reported when they make up nearly all of
    /// the password (all but three characters at most), as in Logto: `Tr0ub4dor&3qwe` passes, `qwerty12` does not.
    pub fn check(&self, password: &str, user: &PasswordUserInfo) -> Vec<PolicyIssue> {
        let mut issues = self.check_length_and_characters(password);
        if self.rejects.pwned && is_common_password(password) {
            issues.push(PolicyIssue { code: codes::PWNED, interpolation: None });
        }
        let length = utf16_length(password);
        // Past the maximum the password is refused anyway; skipping the quadratic scan keeps a huge input cheap.
        if length <= u64::from(self.length.max) {
            issues.extend(self.restricted_phrases(password, user));
        }
        issues
    }

    fn check_length_and_characters(&self, password: &str) -> Vec<PolicyIssue> {
        let mut issues = Vec::new();
        let length = utf16_length(password);
        if length < u64::from(self.length.min) {
            issues.push(PolicyIssue { code: codes::TOO_SHORT, interpolation: Some(json!({ "min": self.length.min })) });
        } else if length > u64::from(self.length.max) {
            issues.push(PolicyIssue { code: codes::TOO_LONG, interpolation: Some(json!({ "max": self.length.max })) });
        }
        match character_types(password) {
            None => issues.push(PolicyIssue { code: codes::UNSUPPORTED_CHARACTERS, interpolation: None }),
            Some(types) if types < self.character_types.min => issues.push(PolicyIssue {
                code: codes::CHARACTER_TYPES,
                interpolation: Some(json!({ "min": self.character_types.min })),
            }),
            Some(_) => {}
        }
        issues
    }

    /// Marks each character covered by a repetition, sequence, user-information or custom-word phrase starting at
    /// any position; reports the kinds of phrase found only if they cover more than all but three characters.
    fn restricted_phrases(&self, password: &str, user: &PasswordUserInfo) -> Vec<PolicyIssue> {
        let characters: Vec<char> = password.chars().collect();
        let mut covered = vec![false; characters.len()];
        let mut found: Vec<&'static str> = Vec::new();
        let mut mark = |start: usize, length: usize, code: &'static str| {
            if length == 0 {
                return;
            }
            let end = (start + length).min(covered.len());
            covered[start..end].iter_mut().for_each(|flag| *flag = true);
            if !found.contains(&code) {
                found.push(code);
            }
        };
        let words: Vec<String> = self.rejects.words.iter().map(|word| word.to_lowercase()).collect();
        let user_phrases = UserPhrases::new(user);

        for start in 0..characters.len() {
            let rest = &characters[start..];
            if self.rejects.repetition_and_sequence {
                mark(start, repetition_length(rest), codes::REPETITION);
                mark(start, sequence_length(rest), codes::SEQUENCE);
            }
            let lowercased: Option<String> = (!words.is_empty() || self.rejects.user_info)
                .then(|| rest.iter().flat_map(|character| character.to_lowercase()).collect());
            if let Some(lowercased) = &lowercased {
                if !words.is_empty() {
                    mark(start, longest_prefix(lowercased, words.iter().map(String::as_str)), codes::WORDS);
                }
                if self.rejects.user_info {
                    mark(start, user_phrases.longest_prefix(lowercased), codes::USER_INFO);
                }
            }
        }

        let covered_count = covered.iter().filter(|flag| **flag).count();
        let tolerated = characters.len().saturating_sub(RESTRICTED_PHRASES_TOLERANCE).max(1);
        if covered_count > tolerated {
            found.into_iter().map(|code| PolicyIssue { code, interpolation: None }).collect()
        } else {
            Vec::new()
        }
    }
}

/// Whether the password, ignoring case, is on the bundled list of common passwords.
pub fn is_common_password(password: &str) -> bool {
    COMMON_PASSWORDS.contains(password.to_lowercase().as_str())
}

/// A password with more than this many characters outside restricted phrases passes the phrase rules.
const RESTRICTED_PHRASES_TOLERANCE: usize = 3;
/// Repetitions and sequences count from this length on.
const REPETITION_AND_SEQUENCE_THRESHOLD: usize = 3;
/// Logto's symbols: printable ASCII punctuation.
const SYMBOLS: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
/// Runs of characters that count as sequences, read either way (Logto's list: digits, the alphabet, keyboard rows
/// and columns).
const SEQUENCES: [&str; 14] = [
    "0123456789",
    "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "1qaz",
    "2wsx",
    "3edc",
    "4rfv",
    "5tgb",
    "6yhn",
    "7ujm",
    "8ik",
    "9ol",
];

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt").lines().filter(|line| !line.is_empty() && !line.starts_with('#')).collect()
});

fn utf16_length(text: &str) -> u64 {
    text.encode_utf16().count() as u64
}

/// How many character types the password mixes, or `None` if it has a character outside them.
fn character_types(password: &str) -> Option<u32> {
    let (mut lower, mut upper, mut digit, mut symbol) = (false, false, false, false);
    for character in password.chars() {
        match character {
            'a'..='z' => lower = true,
            'A'..='Z' => upper = true,
            '0'..='9' => digit = true,
            _ if SYMBOLS.contains(character) => symbol = true,
            _ => return None,
        }
    }
    Some([lower, upper, digit, symbol].into_iter().map(u32::from).sum())
}

fn same_ignoring_case(left: char, right: char) -> bool {
    left.to_lowercase().eq(right.to_lowercase())
}

/// Length of the run of one character (ignoring case) that starts the text, if at least the threshold.
fn repetition_length(text: &[char]) -> usize {
    let Some(&first) = text.first() else {
        return 0;
    };
    let length = text.iter().take_while(|character| same_ignoring_case(**character, first)).count();
    if length >= REPETITION_AND_SEQUENCE_THRESHOLD { length } else { 0 }
}

/// Length of the sequence that starts the text, if at least the threshold.
fn sequence_length(text: &[char]) -> usize {
    let mut value = String::new();
    for &character in text {
        let mut candidate = value.clone();
        candidate.push(character);
        if value.is_empty() || is_sequential(&candidate) {
            value = candidate;
        } else {
            break;
        }
    }
    let length = value.chars().count();
    if length >= REPETITION_AND_SEQUENCE_THRESHOLD { length } else { 0 }
}

fn is_sequential(value: &str) -> bool {
    let lowercased = value.to_lowercase();
    SEQUENCES.iter().any(|sequence| {
        sequence.contains(&lowercased) || sequence.chars().rev().collect::<String>().contains(&lowercased)
    })
}

/// Length in characters of the longest candidate that `lowercased` starts with (candidates are lowercase).
fn longest_prefix<'a>(lowercased: &str, candidates: impl Iterator<Item = &'a str>) -> usize {
    candidates
        .filter(|candidate| lowercased.starts_with(candidate))
        .map(|candidate| candidate.chars().count())
        .max()
        .unwrap_or(0)
}

/// The user's information as the phrases Logto looks for, lowercased once.
struct UserPhrases {
    phrases: Vec<String>,
    /// The whole name, which when present shadows its joined and split forms.
    name: Option<String>,
}

impl UserPhrases {
    fn new(user: &PasswordUserInfo) -> Self {
        let present =
            |value: &Option<String>| value.as_deref().filter(|value| !value.is_empty()).map(str::to_lowercase);
        let mut phrases = Vec::new();
        let name = present(&user.name);
        if let Some(name) = &name {
            phrases.push(name.chars().filter(|character| !character.is_whitespace()).collect());
            phrases.extend(name.split(' ').map(str::to_owned));
        }
        phrases.extend(present(&user.username));
        if let Some(email) = present(&user.email) {
            phrases.extend(email.split('@').next().map(str::to_owned));
        }
        phrases.extend(present(&user.phone));
        Self { phrases, name }
    }

    fn longest_prefix(&self, lowercased: &str) -> usize {
        // Logto skips the joined and split forms of the name when the whole name matches; the whole name is the
        // longest of them, so taking the longest match of all gives the same length.
        let name = self.name.as_deref().into_iter();
        longest_prefix(lowercased, name.chain(self.phrases.iter().map(String::as_str)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes_of(issues: &[PolicyIssue]) -> Vec<&'static str> {
        issues.iter().map(|issue| issue.code).collect()
    }

    fn check(password: &str) -> Vec<&'static str> {
        codes_of(&PasswordPolicy::default().check(password, &PasswordUserInfo::default()))
    }

    #[test]
    fn the_defaults_are_logtos() {
        let policy = PasswordPolicy::default();

        assert_eq!(
            serde_json::to_value(&policy).unwrap(),
            json!({
                "length": { "min": 8, "max": 256 },
                "characterTypes": { "min": 1 },
                "rejects": { "pwned": true, "repetitionAndSequence": true, "userInfo": true, "words": [] }
            })
        );
    }

    #[test]
    fn missing_fields_take_the_defaults_when_read_from_json() {
        let policy: PasswordPolicy =
            serde_json::from_value(json!({ "length": { "min": 12 }, "rejects": { "words": ["acme"] } })).unwrap();

        assert_eq!(policy.length, LengthPolicy { min: 12, max: 256 });
        assert_eq!(policy.character_types.min, 1);
        assert!(policy.rejects.pwned && policy.rejects.repetition_and_sequence && policy.rejects.user_info);
        assert_eq!(policy.rejects.words, vec!["acme".to_owned()]);
        assert_eq!(serde_json::from_value::<PasswordPolicy>(json!({})).unwrap(), PasswordPolicy::default());
    }

    #[test]
    fn policies_outside_logtos_guard_are_invalid() {
        let mut policy = PasswordPolicy::default();
        assert_eq!(policy.validate(), Ok(()));
        policy.character_types.min = 5;
        assert_eq!(policy.validate(), Err(PolicyError::CharacterTypesOutOfRange));
        policy.character_types.min = 0;
        assert_eq!(policy.validate(), Err(PolicyError::CharacterTypesOutOfRange));
        policy.character_types.min = 4;
        policy.length.min = 0;
        assert_eq!(policy.validate(), Err(PolicyError::LengthBelowOne));
    }

    #[test]
    fn a_strong_password_has_no_issue() {
        assert_eq!(check("Tr0ub4dor&3"), Vec::<&str>::new());
        assert_eq!(check("correct horse"), vec![codes::UNSUPPORTED_CHARACTERS]);
        assert_eq!(check("vgKd!3mPqz"), Vec::<&str>::new());
    }

    #[test]
    fn a_short_password_is_too_short_with_the_minimum() {
        let issues = PasswordPolicy::default().check("x7!Kq", &PasswordUserInfo::default());

        assert_eq!(issues, vec![PolicyIssue { code: codes::TOO_SHORT, interpolation: Some(json!({ "min": 8 })) }]);
        assert_eq!(
            serde_json::to_value(&issues).unwrap(),
            json!([{ "code": "password_rejected.too_short", "interpolation": { "min": 8 } }])
        );
    }

    #[test]
    fn a_long_password_is_too_long_with_the_maximum() {
        let mut policy = PasswordPolicy::default();
        policy.length.max = 10;

        let issues = policy.check("vgKd!3mPqzW", &PasswordUserInfo::default());

        assert_eq!(issues, vec![PolicyIssue { code: codes::TOO_LONG, interpolation: Some(json!({ "max": 10 })) }]);
    }

    #[test]
    fn length_counts_as_logto_counts() {
        let mut policy = PasswordPolicy::default();
        policy.length.min = 4;
        // Four emoji are eight UTF-16 code units: long enough for Logto, though unsupported.
        let issues = codes_of(&policy.check("😀😀😀😀", &PasswordUserInfo::default()));
        assert!(!issues.contains(&codes::TOO_SHORT));
        assert!(issues.contains(&codes::UNSUPPORTED_CHARACTERS));
    }

    #[test]
    fn too_few_character_types_are_reported_with_the_minimum() {
        let mut policy = PasswordPolicy::default();
        policy.character_types.min = 3;

        let issues = policy.check("vgkdmpqzwx", &PasswordUserInfo::default());
        assert_eq!(
            issues,
            vec![PolicyIssue { code: codes::CHARACTER_TYPES, interpolation: Some(json!({ "min": 3 })) }]
        );
        assert!(
            policy.check("vgkdMPQZ", &PasswordUserInfo::default()).iter().any(|i| i.code == codes::CHARACTER_TYPES)
        );
        assert!(policy.check("vgkdMP!7", &PasswordUserInfo::default()).is_empty());
        assert!(policy.check("vgkd~P7z", &PasswordUserInfo::default()).is_empty());
    }

    #[test]
    fn characters_outside_the_four_types_are_unsupported_instead() {
        let mut policy = PasswordPolicy::default();
        policy.character_types.min = 4;

        let issues = codes_of(&policy.check("pässwörd", &PasswordUserInfo::default()));

        assert_eq!(issues, vec![codes::UNSUPPORTED_CHARACTERS]);
        assert_eq!(check("tab\there1"), vec![codes::UNSUPPORTED_CHARACTERS]);
    }

    #[test]
    fn common_passwords_are_pwned_ignoring_case() {
        assert_eq!(check("iloveyou"), vec![codes::PWNED]);
        assert!(check("PassWord1").contains(&codes::PWNED));
        assert!(check("trustno1").contains(&codes::PWNED));
        assert!(!check("vgKd!3mPqz").contains(&codes::PWNED));
        let mut policy = PasswordPolicy::default();
        policy.rejects.pwned = false;
        assert!(policy.check("iloveyou", &PasswordUserInfo::default()).is_empty());
    }

    #[test]
    fn the_bundled_list_holds_thirty_thousand_passwords_without_its_header() {
        assert_eq!(COMMON_PASSWORDS.len(), 30_000);
        assert!(COMMON_PASSWORDS.iter().all(|password| !password.starts_with('#') && !password.is_empty()));
        // The first and the last entries of the list.
        assert!(is_common_password("123456") && is_common_password("geekboy"));
    }

    #[test]
    fn a_password_mostly_of_repetition_is_restricted() {
        assert_eq!(check("aaaaaaaaX1"), vec![codes::REPETITION]);
        // Case does not matter.
        assert_eq!(check("aAaAaAaA"), vec![codes::REPETITION]);
        // Four characters outside the repetition are enough.
        assert_eq!(check("aaaaVg7!k"), Vec::<&str>::new());
    }

    #[test]
    fn a_password_mostly_of_sequences_is_restricted() {
        assert_eq!(check("Mnbvcxz9"), vec![codes::SEQUENCE]);
        assert_eq!(check("abcdefgh"), vec![codes::SEQUENCE]);
        assert_eq!(check("1qaz2wsx3edc"), vec![codes::PWNED, codes::SEQUENCE]);
        assert_eq!(check("9876xyzw!"), vec![codes::SEQUENCE]);
        assert_eq!(check("qwerVg7!k"), Vec::<&str>::new());
        // The examples of `check`'s documentation.
        assert_eq!(check("Tr0ub4dor&3qwe"), Vec::<&str>::new());
        assert!(check("qwerty12").contains(&codes::SEQUENCE));
    }

    #[test]
    fn repetition_and_sequence_found_together_are_both_reported_in_the_order_found() {
        assert_eq!(check("aaa12345"), vec![codes::PWNED, codes::REPETITION, codes::SEQUENCE]);
        let mut policy = PasswordPolicy::default();
        policy.rejects.repetition_and_sequence = false;
        assert_eq!(codes_of(&policy.check("aaa12345", &PasswordUserInfo::default())), vec![codes::PWNED]);
    }

    #[test]
    fn a_password_mostly_of_the_users_information_is_restricted() {
        let user = PasswordUserInfo {
            name: Some("Ada  Lovelace".to_owned()),
            username: Some("countess".to_owned()),
            email: Some("enchantress@numbers.example".to_owned()),
            phone: Some("447700900123".to_owned()),
        };
        let policy = PasswordPolicy::default();
        let user_info_issue = |password: &str| codes_of(&policy.check(password, &user)).contains(&codes::USER_INFO);

        assert!(user_info_issue("Countess!9"));
        assert!(user_info_issue("ENCHANTRESS"));
        assert!(user_info_issue("447700900123"));
        assert!(user_info_issue("adalovelace"));
        assert!(user_info_issue("Lovelace7!"));
        assert!(user_info_issue("ada  lovelace"));
        assert!(!user_info_issue("Countess!Vg7k"));
        assert!(!user_info_issue("numbers.example"));
        assert!(!policy.check("Lovelace7!", &PasswordUserInfo::default()).iter().any(|i| i.code == codes::USER_INFO));

        let mut relaxed = policy.clone();
        relaxed.rejects.user_info = false;
        assert!(relaxed.check("Countess!9", &user).is_empty());
    }

    #[test]
    fn empty_user_information_restricts_nothing() {
        let user = PasswordUserInfo { name: Some(String::new()), username: Some(String::new()), ..Default::default() };

        assert!(PasswordPolicy::default().check("Vg7!kQz2", &user).is_empty());
    }

    #[test]
    fn a_password_mostly_of_custom_words_is_restricted_ignoring_case() {
        let mut policy = PasswordPolicy::default();
        policy.rejects.words = vec!["Acme".to_owned(), "Rocket".to_owned()];
        let user = PasswordUserInfo::default();

        assert_eq!(codes_of(&policy.check("acmeROCKET1", &user)), vec![codes::WORDS]);
        assert_eq!(codes_of(&policy.check("ACME!9", &user)), vec![codes::TOO_SHORT, codes::WORDS]);
        assert!(policy.check("acme!Vg7kQ", &user).is_empty());
    }

    #[test]
    fn issues_serialise_as_logtos_password_issues() {
        let issues = PasswordPolicy::default().check("abc123", &PasswordUserInfo::default());

        assert_eq!(
            serde_json::to_value(&issues).unwrap(),
            json!([
                { "code": "password_rejected.too_short", "interpolation": { "min": 8 } },
                { "code": "password_rejected.pwned" },
                { "code": "password_rejected.restricted.sequence" }
            ])
        );
    }

    #[test]
    fn a_huge_password_is_refused_cheaply_as_too_long() {
        let huge = "Vg7!".repeat(250_000);

        assert_eq!(check(&huge), vec![codes::TOO_LONG]);
    }
}
