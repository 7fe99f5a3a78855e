//! Sign-in identifiers as the APIs receive them: `Username::parse`, `Email::parse` (and `Email::normalized`, the
//! uniqueness key) and `Phone::parse` (digits, normalised to E.164 by libphonenumber when it knows the number).
//! Nothing may panic, and normalisation must be stable: a parsed value parses back to itself (through its string
//! and through its JSON form), and normalising twice changes nothing.
//!
//! Each input is tried as it is, and its bytes again as a string of digits, so that most runs reach libphonenumber
//! instead of stopping at the digits-only check.

#![no_main]

use latchkey_domain::identifiers::{Email, IDENTIFIER_MAX_CHARS, Phone, Username};
use libfuzzer_sys::fuzz_target;

/// Longer than any phone number, shorter than the length limit, which the plain input reaches anyway.
const MAX_DIGITS: usize = 24;

fn check_phone(text: &str) {
    let Ok(phone) = Phone::parse(text) else { return };
    assert!(!phone.as_str().is_empty() && phone.as_str().bytes().all(|byte| byte.is_ascii_digit()), "{phone:?}");
    assert!(phone.as_str().len() <= IDENTIFIER_MAX_CHARS, "{phone:?}");
    assert_eq!(Phone::parse(phone.as_str()).as_ref(), Ok(&phone), "normalising {text} twice changed it");
    let json = serde_json::to_string(&phone).expect("a phone serialises");
    assert_eq!(serde_json::from_str::<Phone>(&json).ok().as_ref(), Some(&phone), "{json} does not read back");
}

fn check_email(text: &str) {
    let Ok(email) = Email::parse(text) else { return };
    assert_eq!(email.as_str(), text, "an email is kept as given");
    let normalized = email.normalized();
    assert_eq!(normalized.to_lowercase(), normalized, "normalising {text} twice changed it");
    // Lower-casing may lengthen a string past the limit (`İ` becomes two characters), so only check what parses.
    if let Ok(lowered) = Email::parse(&normalized) {
        assert_eq!(lowered.normalized(), normalized);
    }
    let json = serde_json::to_string(&email).expect("an email serialises");
    assert_eq!(serde_json::from_str::<Email>(&json).ok().as_ref(), Some(&email), "{json} does not read back");
}

fn check_username(text: &str) {
    let Ok(username) = Username::parse(text) else { return };
    assert_eq!(username.as_str(), text, "a username is kept as given");
    let json = serde_json::to_string(&username).expect("a username serialises");
    assert_eq!(serde_json::from_str::<Username>(&json).ok().as_ref(), Some(&username), "{json} does not read back");
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_username(text);
        check_email(text);
        check_phone(text);
    }
    let digits: String = data.iter().take(MAX_DIGITS).map(|byte| char::from(b'0' + byte % 10)).collect();
    check_phone(&digits);
});
