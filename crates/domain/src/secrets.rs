//! Opaque bearer secrets (client secrets, refresh tokens, personal access tokens, subject tokens): generated with
//! enough entropy, shown to their holder once, and stored only as a SHA-256 hash.
//!
//! A fast hash is the right tool here and argon2 is not: these values are uniformly random with well over 120 bits
//! of entropy, so there is no dictionary to slow down, and a deterministic hash lets the store look a token up by
//! its hash through an index. Passwords, which people choose, go through `password` instead.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ids::random_string;

const ALPHANUMERIC: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Random characters after the prefix of a client secret (about 190 bits).
pub const CLIENT_SECRET_LENGTH: usize = 32;
/// Random characters of a refresh token (about 256 bits).
pub const REFRESH_TOKEN_LENGTH: usize = 43;
/// Random characters after `pat_` (Logto's shape, about 190 bits).
pub const PERSONAL_ACCESS_TOKEN_LENGTH: usize = 32;
/// Random characters after `sub_` (Logto's shape, about 125 bits: enough for a single-use value that lives
/// 600 seconds).
pub const SUBJECT_TOKEN_LENGTH: usize = 21;

/// Prefix of personal access tokens, as Logto.
pub const PERSONAL_ACCESS_TOKEN_PREFIX: &str = "pat_";
/// Prefix of subject (impersonation) tokens, as Logto.
pub const SUBJECT_TOKEN_PREFIX: &str = "sub_";

/// A secret in clear, as handed to its holder once. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct OpaqueSecret(String);

impl OpaqueSecret {
    /// Wraps a value received from a client (or configured by an operator), to hash or compare it.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value in clear, to show the holder once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash under which the secret is stored.
    pub fn hash(&self) -> SecretHash {
        hash_secret(&self.0)
    }
}

impl fmt::Debug for OpaqueSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueSecret(..)")
    }
}

/// `prefix` followed by `length` characters of `[0-9A-Za-z]` from the thread-local CSPRNG.
pub fn generate_secret(prefix: &str, length: usize) -> OpaqueSecret {
    OpaqueSecret(format!("{prefix}{}", random_string(ALPHANUMERIC, length)))
}

/// The SHA-256 digest of a secret, as 64 lower-case hexadecimal characters: the only form in which the store
/// keeps it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretHash(String);

impl SecretHash {
    /// A hash read back from storage. The store has written it from [`hash_secret`]; nothing is checked.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `presented` hashes to this value, compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(hash_secret(presented).0.as_bytes()))
    }
}

// A hash cannot be turned back into its secret, but it is a lookup key for stored tokens: keep it out of logs.
impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// SHA-256 of `secret`, hex encoded.
pub fn hash_secret(secret: &str) -> SecretHash {
    SecretHash(hex::encode(Sha256::digest(secret.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_have_the_prefix_and_length_asked_for() {
        let secret = generate_secret(PERSONAL_ACCESS_TOKEN_PREFIX, PERSONAL_ACCESS_TOKEN_LENGTH);
        let value = secret.expose();
        assert!(value.starts_with("pat_"), "{value}");
        assert_eq!(value.len(), 4 + 32);
        assert!(value[4..].bytes().all(|b| b.is_ascii_alphanumeric()), "{value}");
    }

    #[test]
    fn generated_secrets_differ() {
        let first = generate_secret("", REFRESH_TOKEN_LENGTH);
        let second = generate_secret("", REFRESH_TOKEN_LENGTH);
        assert_ne!(first, second);
    }

    #[test]
    fn hashes_are_sha256_in_lower_case_hex() {
        assert_eq!(hash_secret("abc").as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn a_hash_matches_its_secret_only() {
        let secret = generate_secret("", CLIENT_SECRET_LENGTH);
        let hash = secret.hash();
        assert!(hash.matches(secret.expose()));
        assert!(!hash.matches(&secret.expose()[1..]));
        assert!(!hash.matches(""));
    }

    #[test]
    fn debug_output_shows_neither_secret_nor_hash() {
        let secret = OpaqueSecret::new("pat_visible");
        assert!(!format!("{secret:?}").contains("visible"));
        let hash = secret.hash();
        assert!(!format!("{hash:?}").contains(hash.as_str()));
    }
}
