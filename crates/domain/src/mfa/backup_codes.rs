//! Backup codes: a set of [`BACKUP_CODE_COUNT`] single-use codes of [`BACKUP_CODE_LENGTH`] hexadecimal characters
//! (Logto's format), each sealed by the secret box so that the Account API can show them again.

use serde::{Deserialize, Serialize};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::MfaError;
use crate::clock::Timestamp;
use crate::secret_box::{Sealed, SecretBox, SecretBoxError};

/// Codes in a set.
pub const BACKUP_CODE_COUNT: usize = 10;
/// Hexadecimal characters in a code.
pub const BACKUP_CODE_LENGTH: usize = 10;

/// A user's set of backup codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupCodeSet {
    pub codes: Vec<BackupCode>,
}

/// One code of a set and when it was used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupCode {
    /// The code, sealed by the secret box (the Account API can show unused codes again).
    pub code: Sealed,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<Timestamp>,
}

/// [`BACKUP_CODE_COUNT`] fresh codes of [`BACKUP_CODE_LENGTH`] lower-case hexadecimal characters, from a CSPRNG.
pub fn generate_codes() -> Vec<String> {
    (0..BACKUP_CODE_COUNT).map(|_| hex::encode(rand::random::<[u8; BACKUP_CODE_LENGTH / 2]>())).collect()
}

/// Accepts exactly what Logto's `validateBackupCodes` accepts: [`BACKUP_CODE_COUNT`] codes, each exactly
/// [`BACKUP_CODE_LENGTH`] hexadecimal characters in either case.
pub fn validate_codes(codes: &[String]) -> Result<(), MfaError> {
    if codes.len() == BACKUP_CODE_COUNT && codes.iter().all(|code| is_well_formed(code)) {
        Ok(())
    } else {
        Err(MfaError::WrongBackupCodeFormat)
    }
}

impl BackupCodeSet {
    /// Validates `codes` and seals each one. Codes are kept as given (Logto shows them back unchanged) and compared
    /// without regard to case.
    pub fn seal(codes: &[String], secret_box: &dyn SecretBox) -> Result<Self, MfaError> {
        validate_codes(codes)?;
        let codes = codes
            .iter()
            .map(|code| Ok(BackupCode { code: secret_box.seal(code.as_bytes())?, used_at: None }))
            .collect::<Result<_, MfaError>>()?;
        Ok(Self { codes })
    }

    /// Uses up `code`: it must match an unused code of the set, which is then marked used at `now`.
    ///
    /// Every code of the set is opened and compared in constant time, so the time taken says nothing about which
    /// code matched or whether one was already used.
    pub fn consume(&mut self, code: &str, now: Timestamp, secret_box: &dyn SecretBox) -> Result<(), MfaError> {
        if !is_well_formed(code) {
            return Err(MfaError::InvalidBackupCode);
        }
        let candidate = code.to_ascii_lowercase();
        let mut matched_index = 0u64;
        let mut matched = subtle::Choice::from(0);
        for (index, stored) in self.codes.iter().enumerate() {
            let mut plaintext = secret_box.open(&stored.code)?;
            plaintext.make_ascii_lowercase();
            let is_match = plaintext.as_slice().ct_eq(candidate.as_bytes())
                & subtle::Choice::from(u8::from(stored.used_at.is_none()));
            matched_index.conditional_assign(&(index as u64), is_match);
            matched |= is_match;
        }
        if !bool::from(matched) {
            return Err(MfaError::InvalidBackupCode);
        }
        let index = usize::try_from(matched_index).map_err(|_| MfaError::InvalidBackupCode)?;
        self.codes[index].used_at = Some(now);
        Ok(())
    }

    /// How many codes are still unused.
    pub fn remaining(&self) -> usize {
        self.codes.iter().filter(|code| code.used_at.is_none()).count()
    }

    /// Whether any code is left: an exhausted set no longer counts as a factor (Logto's rule).
    pub fn is_live(&self) -> bool {
        self.remaining() > 0
    }

    /// Every code in clear with when it was used, in the stored order, for the Account API's
    /// `GET /my-account/mfa-verifications/backup-codes`.
    pub fn reveal(&self, secret_box: &dyn SecretBox) -> Result<Vec<(String, Option<Timestamp>)>, MfaError> {
        self.codes
            .iter()
            .map(|stored| {
                let plaintext = secret_box.open(&stored.code)?;
                // Only validated codes are ever sealed, so anything else means the stored data is damaged.
                let code = String::from_utf8(plaintext).map_err(|_| MfaError::SecretBox(SecretBoxError::Malformed))?;
                Ok((code, stored.used_at))
            })
            .collect()
    }
}

fn is_well_formed(code: &str) -> bool {
    code.len() == BACKUP_CODE_LENGTH && code.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::secret_box::{AesGcmSecretBox, MockSecretBox};

    fn secret_box() -> AesGcmSecretBox {
        AesGcmSecretBox::single("k1", [5; 32]).unwrap()
    }

    fn sample_codes() -> Vec<String> {
        (0..BACKUP_CODE_COUNT).map(|index| format!("0123abcde{index}")).collect()
    }

    #[test]
    fn generated_sets_hold_ten_distinct_lowercase_hex_codes_that_validate() {
        let codes = generate_codes();
        assert_eq!(codes.len(), BACKUP_CODE_COUNT);
        for code in &codes {
            assert_eq!(code.len(), BACKUP_CODE_LENGTH);
            assert!(code.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{code}");
        }
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), BACKUP_CODE_COUNT);
        assert_eq!(validate_codes(&codes), Ok(()));
        assert_ne!(codes, generate_codes());
    }

    #[test]
    fn validation_accepts_exactly_ten_codes_of_ten_hex_characters_in_either_case() {
        let mut upper = sample_codes();
        upper[0] = "ABCDEF0123".to_owned();
        let cases: Vec<(Vec<String>, bool)> = vec![
            (sample_codes(), true),
            (upper, true),
            (sample_codes()[..9].to_vec(), false),
            ([sample_codes(), vec!["0123456789".to_owned()]].concat(), false),
            (Vec::new(), false),
            (replace_first(sample_codes(), "012345678"), false),
            (replace_first(sample_codes(), "0123456789a"), false),
            (replace_first(sample_codes(), "0123456g89"), false),
            (replace_first(sample_codes(), "01234-6789"), false),
            (replace_first(sample_codes(), " 123456789"), false),
            (replace_first(sample_codes(), "０123456789"), false),
        ];
        for (codes, valid) in cases {
            let expected = if valid { Ok(()) } else { Err(MfaError::WrongBackupCodeFormat) };
            assert_eq!(validate_codes(&codes), expected, "{codes:?}");
        }
    }

    fn replace_first(mut codes: Vec<String>, first: &str) -> Vec<String> {
        codes[0] = first.to_owned();
        codes
    }

    #[test]
    fn sealing_refuses_badly_formed_codes_and_hides_the_good_ones() {
        let secret_box = secret_box();
        assert_eq!(BackupCodeSet::seal(&sample_codes()[..3], &secret_box), Err(MfaError::WrongBackupCodeFormat));
        let set = BackupCodeSet::seal(&sample_codes(), &secret_box).unwrap();
        let stored = serde_json::to_string(&set).unwrap();
        for code in sample_codes() {
            assert!(!stored.contains(&code));
        }
    }

    #[test]
    fn a_code_works_once_and_is_marked_used_at_that_time() {
        let secret_box = secret_box();
        let mut set = BackupCodeSet::seal(&sample_codes(), &secret_box).unwrap();
        let now = Timestamp::from_millis(1_700_000_000_000);
        assert_eq!(set.consume("0123abcde3", now, &secret_box), Ok(()));
        assert_eq!(set.codes[3].used_at, Some(now));
        assert_eq!(set.remaining(), BACKUP_CODE_COUNT - 1);
        assert_eq!(set.consume("0123abcde3", now.plus_secs(1), &secret_box), Err(MfaError::InvalidBackupCode));
        assert_eq!(set.codes[3].used_at, Some(now));
        assert_eq!(set.remaining(), BACKUP_CODE_COUNT - 1);
    }

    #[test]
    fn codes_match_regardless_of_case() {
        let secret_box = secret_box();
        let mut set = BackupCodeSet::seal(&sample_codes(), &secret_box).unwrap();
        assert_eq!(set.consume("0123ABCDE0", Timestamp::from_millis(1), &secret_box), Ok(()));
        let mut upper = sample_codes();
        upper[1] = "FFFFFFFFFF".to_owned();
        let mut upper_set = BackupCodeSet::seal(&upper, &secret_box).unwrap();
        assert_eq!(upper_set.consume("ffffffffff", Timestamp::from_millis(1), &secret_box), Ok(()));
        assert_eq!(upper_set.codes[1].used_at, Some(Timestamp::from_millis(1)));
    }

    #[test]
    fn unknown_and_malformed_codes_are_refused_without_using_anything() {
        let secret_box = secret_box();
        let mut set = BackupCodeSet::seal(&sample_codes(), &secret_box).unwrap();
        for code in ["0123abcdef", "", "0123abcde", "0123abcde00", "zzzzzzzzzz", " 123abcde0"] {
            assert_eq!(set.consume(code, Timestamp::from_millis(1), &secret_box), Err(MfaError::InvalidBackupCode));
        }
        assert_eq!(set.remaining(), BACKUP_CODE_COUNT);
    }

    #[test]
    fn all_codes_can_be_used_up_and_then_the_set_is_no_longer_live() {
        let secret_box = secret_box();
        let mut set = BackupCodeSet::seal(&sample_codes(), &secret_box).unwrap();
        assert!(set.is_live());
        for (index, code) in sample_codes().iter().enumerate() {
            set.consume(code, Timestamp::from_millis(index as i64), &secret_box).unwrap();
        }
        assert_eq!(set.remaining(), 0);
        assert!(!set.is_live());
    }

    #[test]
    fn revealing_returns_every_code_as_given_with_its_use() {
        let secret_box = secret_box();
        let mut codes = sample_codes();
        codes[9] = "ABCDEF0123".to_owned();
        let mut set = BackupCodeSet::seal(&codes, &secret_box).unwrap();
        let used_at = Timestamp::from_millis(42);
        set.consume("0123abcde2", used_at, &secret_box).unwrap();
        let revealed = set.reveal(&secret_box).unwrap();
        let expected: Vec<(String, Option<Timestamp>)> =
            codes.iter().enumerate().map(|(index, code)| (code.clone(), (index == 2).then_some(used_at))).collect();
        assert_eq!(revealed, expected);
    }

    #[test]
    fn a_secret_box_failure_is_reported_not_treated_as_a_wrong_code() {
        let mut failing = MockSecretBox::new();
        failing.expect_open().returning(|_| Err(SecretBoxError::Tampered));
        let mut set = BackupCodeSet::seal(&sample_codes(), &secret_box()).unwrap();
        assert_eq!(
            set.consume("0123abcde0", Timestamp::from_millis(1), &failing),
            Err(MfaError::SecretBox(SecretBoxError::Tampered))
        );
        assert_eq!(set.reveal(&failing), Err(MfaError::SecretBox(SecretBoxError::Tampered)));
    }

    #[test]
    fn the_set_serializes_with_logtos_field_names() {
        let set = BackupCodeSet {
            codes: vec![
                BackupCode { code: Sealed("v1.k1.AAAA".to_owned()), used_at: None },
                BackupCode { code: Sealed("v1.k1.BBBB".to_owned()), used_at: Some(Timestamp::from_millis(7)) },
            ],
        };
        assert_eq!(
            serde_json::to_value(&set).unwrap(),
            serde_json::json!({ "codes": [{ "code": "v1.k1.AAAA" }, { "code": "v1.k1.BBBB", "usedAt": 7 }] })
        );
    }
}
