//! TOTP (RFC 6238) as Logto configures otplib: HMAC-SHA1, 6 digits, 30-second steps, one step of tolerance each
//! way. Secrets are base32; generated ones hold 20 random bytes. An accepted code's time step is remembered so
//! that the same code (or an older one) cannot be used twice.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::MfaError;
use crate::clock::Timestamp;
use crate::secret_box::{Sealed, SecretBox, SecretBoxError};

/// Digits in a code.
pub const CODE_DIGITS: usize = 6;
/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted on either side of the current one (clock drift, typing time).
pub const WINDOW_STEPS: u64 = 1;
/// Shortest and longest secret accepted from clients, in base32 characters (Logto's `validateTotpSecret`).
pub const SECRET_MIN_CHARS: usize = 16;
pub const SECRET_MAX_CHARS: usize = 32;

/// The account name put in the otpauth label when the caller has none (as Logto's admin route does).
const UNNAMED_ACCOUNT: &str = "Unnamed User";

/// Logto's base32 check: upper-case RFC 4648 alphabet in whole 8-character groups, the last one optionally padded.
static BASE32_PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[2-7A-Z]{8})*(?:[2-7A-Z]{2}={6}|[2-7A-Z]{4}={4}|[2-7A-Z]{5}={3}|[2-7A-Z]{7}=)?$")
        .expect("static regex")
});

/// A bound TOTP factor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TotpFactor {
    /// The base32 secret, sealed by the secret box.
    pub secret: Sealed,
    /// The last accepted time step: a code of this step or an earlier one is a replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_step: Option<u64>,
}

impl TotpFactor {
    /// A factor for an already sealed secret, never used yet.
    pub fn new(secret: Sealed) -> Self {
        Self { secret, last_used_step: None }
    }

    /// Checks `secret` as Logto does and seals it.
    pub fn seal(secret: &str, secret_box: &dyn SecretBox) -> Result<Self, MfaError> {
        validate_secret(secret)?;
        Ok(Self::new(secret_box.seal(secret.as_bytes())?))
    }

    /// Verifies `code` against the sealed secret and, when accepted, records its step so it cannot be replayed.
    /// Returns the accepted step.
    pub fn verify(&mut self, code: &str, now: Timestamp, secret_box: &dyn SecretBox) -> Result<u64, MfaError> {
        let secret = self.reveal_secret(secret_box)?;
        let step = verify_code(&secret, code, now, self.last_used_step)?;
        self.record_step(step);
        Ok(step)
    }

    /// Remembers an accepted step. The mark only moves forward, so recording an older step changes nothing.
    pub fn record_step(&mut self, step: u64) {
        self.last_used_step = Some(self.last_used_step.map_or(step, |last| last.max(step)));
    }

    /// The base32 secret in clear, for verification or an otpauth URI.
    pub fn reveal_secret(&self, secret_box: &dyn SecretBox) -> Result<String, MfaError> {
        let bytes = secret_box.open(&self.secret)?;
        // Only validated secrets are ever sealed, so anything else means the stored data is damaged.
        String::from_utf8(bytes).map_err(|_| MfaError::SecretBox(SecretBoxError::Malformed))
    }
}

/// A new secret: 20 bytes (160 bits, RFC 4226's recommendation) from a CSPRNG, as 32 base32 characters.
pub fn generate_secret() -> String {
    Secret::generate().to_base32()
}

/// Accepts what Logto accepts: 16 to 32 characters of upper-case base32 in whole groups, optionally padded.
pub fn validate_secret(secret: &str) -> Result<(), MfaError> {
    let length = secret.len();
    if (SECRET_MIN_CHARS..=SECRET_MAX_CHARS).contains(&length) && BASE32_PATTERN.is_match(secret) {
        Ok(())
    } else {
        Err(MfaError::TotpSecretInvalid)
    }
}

/// The `otpauth://totp/…` URI that authenticator apps import. Colons are not allowed in the label's parts by the
/// Key URI format; since the label is only shown to the user, they become `-` rather than failing the request.
pub fn otpauth_uri(secret: &str, issuer: &str, account_name: &str) -> Result<String, MfaError> {
    totp_with_label(secret, issuer, account_name)?.to_url().map_err(|_| MfaError::OtpauthEncoding)
}

/// A `data:image/png;base64,…` QR code of [`otpauth_uri`], as Logto's `secretQrCode`.
pub fn qr_code_data_url(secret: &str, issuer: &str, account_name: &str) -> Result<String, MfaError> {
    // The error of `to_qr_base64` quotes the URI and so the secret: it is dropped here, never logged.
    let png = totp_with_label(secret, issuer, account_name)?.to_qr_base64().map_err(|_| MfaError::OtpauthEncoding)?;
    Ok(format!("data:image/png;base64,{png}"))
}

/// Checks `code` at `now` with a window of ±[`WINDOW_STEPS`] and returns the step it belongs to.
///
/// A code whose step is at or before `last_used_step` is a replay ([`MfaError::TotpCodeReplayed`]); a wrong or
/// malformed code is [`MfaError::InvalidTotpCode`].
pub fn verify_code(secret: &str, code: &str, now: Timestamp, last_used_step: Option<u64>) -> Result<u64, MfaError> {
    validate_secret(secret)?;
    if code.len() != CODE_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MfaError::InvalidTotpCode);
    }
    let now_secs = u64::try_from(now.as_secs()).map_err(|_| MfaError::InvalidTotpCode)?;
    // One step at a time, with no skew of its own, so that every matching step is seen and the replay guard can
    // tell "wrong" from "already used".
    let totp = single_step_totp(decode_secret(secret)?);
    let current = now_secs / STEP_SECONDS;
    let mut replayed = false;
    for step in current.saturating_sub(WINDOW_STEPS)..=current.saturating_add(WINDOW_STEPS) {
        let Some(matched) = step.checked_mul(STEP_SECONDS).and_then(|time| totp.check(code, time)) else {
            continue;
        };
        if last_used_step.is_some_and(|last| matched <= last) {
            replayed = true;
        } else {
            return Ok(matched);
        }
    }
    Err(if replayed { MfaError::TotpCodeReplayed } else { MfaError::InvalidTotpCode })
}

/// The code an authenticator app shows for `secret` at `now`. Used by clients of the library (tests, an embedding
/// program acting as the authenticator); verification never needs it.
pub fn code_at(secret: &str, now: Timestamp) -> Result<String, MfaError> {
    validate_secret(secret)?;
    let now_secs = u64::try_from(now.as_secs()).map_err(|_| MfaError::InvalidTotpCode)?;
    Ok(single_step_totp(decode_secret(secret)?).generate(now_secs).to_string())
}

fn decode_secret(secret: &str) -> Result<Secret, MfaError> {
    // totp-rs reads unpadded base32 only; Logto also accepts the padded form.
    Secret::try_from_base32(secret.trim_end_matches('=')).map_err(|_| MfaError::TotpSecretInvalid)
}

fn single_step_totp(secret: Secret) -> Totp {
    // `build_noncompliant`: Logto accepts 16-character (80-bit) secrets, below the 128 bits `build` insists on.
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(CODE_DIGITS as u8)
        .with_step_duration(STEP_SECONDS)
        .with_skew(0)
        .with_secret(secret)
        .build_noncompliant()
}

fn totp_with_label(secret: &str, issuer: &str, account_name: &str) -> Result<Totp, MfaError> {
    validate_secret(secret)?;
    let account_name = account_name.trim();
    let account_name = if account_name.is_empty() { UNNAMED_ACCOUNT } else { account_name };
    let issuer = issuer.trim();
    Ok(Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(CODE_DIGITS as u8)
        .with_step_duration(STEP_SECONDS)
        .with_secret(decode_secret(secret)?)
        .with_account_name(account_name.replace(':', "-"))
        .with_issuer((!issuer.is_empty()).then(|| issuer.replace(':', "-")))
        .build_noncompliant())
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::secret_box::AesGcmSecretBox;

    /// RFC 6238 appendix B: the SHA1 seed "12345678901234567890", in base32.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    /// T = 1111111109 s lies in step 37037036, whose RFC code is 07081804 (6 digits: 081804).
    const RFC_NOW_SECS: i64 = 1_111_111_109;
    const RFC_STEP: u64 = 37_037_036;
    /// Codes of steps 37037034 ..= 37037038 (from the RFC's reference algorithm).
    const CODE_MINUS_2: &str = "150727";
    const CODE_MINUS_1: &str = "731029";
    const CODE_NOW: &str = "081804";
    const CODE_PLUS_1: &str = "050471";
    const CODE_PLUS_2: &str = "266759";

    fn rfc_now() -> Timestamp {
        Timestamp::from_secs(RFC_NOW_SECS)
    }

    #[test]
    fn the_code_at_a_time_is_the_rfc_code_of_that_step() {
        assert_eq!(code_at(RFC_SECRET, rfc_now()).unwrap(), CODE_NOW);
        assert_eq!(code_at(RFC_SECRET, rfc_now().plus_secs(30)).unwrap(), CODE_PLUS_1);
        assert_eq!(code_at("not base32!", rfc_now()), Err(MfaError::TotpSecretInvalid));
    }

    #[test]
    fn the_rfc_6238_test_vectors_verify_at_their_own_time() {
        for (secs, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            let step = verify_code(RFC_SECRET, code, Timestamp::from_secs(secs), None).unwrap();
            assert_eq!(step, secs as u64 / STEP_SECONDS, "T = {secs}");
        }
    }

    #[test]
    fn logtos_own_test_vector_gives_the_same_step_as_otplib() {
        let now = Timestamp::from_millis(1_695_010_563_617);
        assert_eq!(verify_code("JBSWY3DPEHPK3PXP", "971144", now, None), Ok(56_500_352));
        assert_eq!(verify_code("JBSWY3DPEHPK3PXP", "123456", now, None), Err(MfaError::InvalidTotpCode));
    }

    #[test]
    fn codes_of_the_previous_current_and_next_step_are_accepted() {
        assert_eq!(verify_code(RFC_SECRET, CODE_MINUS_1, rfc_now(), None), Ok(RFC_STEP - 1));
        assert_eq!(verify_code(RFC_SECRET, CODE_NOW, rfc_now(), None), Ok(RFC_STEP));
        assert_eq!(verify_code(RFC_SECRET, CODE_PLUS_1, rfc_now(), None), Ok(RFC_STEP + 1));
    }

    #[test]
    fn codes_two_steps_away_are_refused() {
        assert_eq!(verify_code(RFC_SECRET, CODE_MINUS_2, rfc_now(), None), Err(MfaError::InvalidTotpCode));
        assert_eq!(verify_code(RFC_SECRET, CODE_PLUS_2, rfc_now(), None), Err(MfaError::InvalidTotpCode));
    }

    #[test]
    fn a_code_of_the_last_used_step_is_a_replay() {
        assert_eq!(verify_code(RFC_SECRET, CODE_NOW, rfc_now(), Some(RFC_STEP)), Err(MfaError::TotpCodeReplayed));
    }

    #[test]
    fn an_earlier_step_after_a_later_one_is_a_replay_and_a_later_one_still_passes() {
        let last = Some(RFC_STEP + 1);
        assert_eq!(verify_code(RFC_SECRET, CODE_NOW, rfc_now(), last), Err(MfaError::TotpCodeReplayed));
        assert_eq!(verify_code(RFC_SECRET, CODE_MINUS_1, rfc_now(), last), Err(MfaError::TotpCodeReplayed));
        assert_eq!(verify_code(RFC_SECRET, CODE_PLUS_1, rfc_now(), Some(RFC_STEP)), Ok(RFC_STEP + 1));
    }

    #[test]
    fn a_wrong_code_is_not_reported_as_a_replay() {
        assert_eq!(verify_code(RFC_SECRET, "000000", rfc_now(), Some(RFC_STEP)), Err(MfaError::InvalidTotpCode));
    }

    #[test]
    fn malformed_codes_are_refused() {
        for code in ["", "81804", "0818040", "08180a", "abcdef", "+81804", " 81804", "081 804", "０８１８０４"] {
            assert_eq!(verify_code(RFC_SECRET, code, rfc_now(), None), Err(MfaError::InvalidTotpCode), "{code:?}");
        }
    }

    #[test]
    fn a_time_before_the_epoch_accepts_no_code() {
        assert_eq!(verify_code(RFC_SECRET, CODE_NOW, Timestamp::from_secs(-30), None), Err(MfaError::InvalidTotpCode));
    }

    #[test]
    fn the_first_step_after_the_epoch_has_no_step_before_it() {
        assert_eq!(verify_code(RFC_SECRET, "755224", Timestamp::from_secs(10), None), Ok(0));
    }

    #[test]
    fn generated_secrets_are_32_base32_characters_that_pass_validation() {
        let secret = generate_secret();
        assert_eq!(secret.len(), 32);
        assert!(secret.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
        assert_eq!(validate_secret(&secret), Ok(()));
        assert_ne!(secret, generate_secret());
    }

    #[test]
    fn generated_secrets_round_trip_through_a_code() {
        let secret = generate_secret();
        let bytes = decode_secret(&secret).unwrap();
        assert_eq!(bytes.as_bytes().len(), 20);
        let code = single_step_totp(bytes).generate(RFC_NOW_SECS as u64).to_string();
        assert_eq!(verify_code(&secret, &code, rfc_now(), None), Ok(RFC_STEP));
    }

    #[test]
    fn secrets_are_validated_as_logto_does() {
        let valid = [
            "JBSWY3DPEHPK3PXP",                 // 16
            "JBSWY3DPEHPK3PXPJBSWY3DP",         // 24
            RFC_SECRET,                         // 32
            "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", // 32
            "JBSWY3DPEHPK3PXPMZXW6===",         // padded final group
            "JBSWY3DPMZ======",                 // 16 with padding
        ];
        for secret in valid {
            assert_eq!(validate_secret(secret), Ok(()), "{secret}");
        }
        let invalid = [
            "",
            "invalid",
            "JBSWY3DPEHPK3PX",                    // 15
            "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJB", // 34
            "jbswy3dpehpk3pxp",                   // lower case
            "JBSWY3DPEHPK3PX1",                   // 1 is not base32
            "JBSWY3DPEHPK3PXPAB",                 // 18: not a whole group
            "JBSWY3DPEHPK3PXP=",                  // stray padding
            "JBSWY3DP EHPK3PX",                   // space
        ];
        for secret in invalid {
            assert_eq!(validate_secret(secret), Err(MfaError::TotpSecretInvalid), "{secret}");
        }
    }

    #[test]
    fn a_padded_secret_verifies_like_its_unpadded_bytes() {
        // "JBSWY3DPMZ======" is the 6 bytes "Hello" + "f"; both spellings must give the same codes.
        let padded = "JBSWY3DPMZ======";
        let code = single_step_totp(decode_secret(padded).unwrap()).generate(RFC_NOW_SECS as u64).to_string();
        assert_eq!(verify_code(padded, &code, rfc_now(), None), Ok(RFC_STEP));
    }

    #[test]
    fn an_invalid_secret_is_reported_before_the_code_is_looked_at() {
        assert_eq!(verify_code("short", CODE_NOW, rfc_now(), None), Err(MfaError::TotpSecretInvalid));
    }

    #[test]
    fn the_otpauth_uri_names_issuer_account_and_secret() {
        let uri = otpauth_uri("JBSWY3DPEHPK3PXP", "auth.example.com", "alice@example.com").unwrap();
        assert_eq!(
            uri,
            "otpauth://totp/auth.example.com:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=auth.example.com"
        );
    }

    #[test]
    fn the_otpauth_uri_survives_colons_and_a_missing_account_name() {
        let uri = otpauth_uri(RFC_SECRET, "localhost:3001", "Dr: Who").unwrap();
        assert!(uri.starts_with("otpauth://totp/localhost-3001:Dr-%20Who?"), "{uri}");
        let unnamed = otpauth_uri(RFC_SECRET, "example.com", "  ").unwrap();
        assert!(unnamed.starts_with("otpauth://totp/example.com:Unnamed%20User?"), "{unnamed}");
    }

    #[test]
    fn the_otpauth_uri_refuses_an_invalid_secret() {
        assert_eq!(otpauth_uri("nope", "example.com", "alice"), Err(MfaError::TotpSecretInvalid));
    }

    #[test]
    fn the_qr_code_is_a_png_data_url() {
        let url = qr_code_data_url(RFC_SECRET, "example.com", "alice").unwrap();
        let encoded = url.strip_prefix("data:image/png;base64,").unwrap();
        let png = STANDARD.decode(encoded).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn a_factor_verifies_through_the_secret_box_and_refuses_the_same_code_again() {
        let secret_box = AesGcmSecretBox::single("k1", [3; 32]).unwrap();
        let mut factor = TotpFactor::seal(RFC_SECRET, &secret_box).unwrap();
        assert_eq!(factor.last_used_step, None);
        assert_eq!(factor.verify(CODE_NOW, rfc_now(), &secret_box), Ok(RFC_STEP));
        assert_eq!(factor.last_used_step, Some(RFC_STEP));
        assert_eq!(factor.verify(CODE_NOW, rfc_now(), &secret_box), Err(MfaError::TotpCodeReplayed));
        assert_eq!(factor.verify(CODE_PLUS_1, rfc_now(), &secret_box), Ok(RFC_STEP + 1));
        assert_eq!(factor.reveal_secret(&secret_box).unwrap(), RFC_SECRET);
    }

    #[test]
    fn sealing_refuses_an_invalid_secret() {
        let secret_box = AesGcmSecretBox::single("k1", [3; 32]).unwrap();
        assert_eq!(TotpFactor::seal("jbswy3dpehpk3pxp", &secret_box), Err(MfaError::TotpSecretInvalid));
    }

    #[test]
    fn recording_an_older_step_never_moves_the_mark_back() {
        let mut factor = TotpFactor::new(Sealed("v1.k1.AAAA".to_owned()));
        factor.record_step(10);
        factor.record_step(7);
        assert_eq!(factor.last_used_step, Some(10));
    }

    #[test]
    fn the_factor_serializes_with_logtos_camel_case_field_names() {
        let mut factor = TotpFactor::new(Sealed("v1.k1.AAAA".to_owned()));
        assert_eq!(serde_json::to_value(&factor).unwrap(), serde_json::json!({ "secret": "v1.k1.AAAA" }));
        factor.record_step(5);
        assert_eq!(
            serde_json::to_value(&factor).unwrap(),
            serde_json::json!({ "secret": "v1.k1.AAAA", "lastUsedStep": 5 })
        );
    }
}
