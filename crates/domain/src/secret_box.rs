//! Encryption at rest for secrets that must be read back (TOTP secrets, backup codes): a [`SecretBox`] port and
//! its AES-256-GCM implementation with key ids, so that keys can rotate (several keys open, one seals).
//!
//! Sealed values look like `v1.<key id>.<base64url-no-pad(nonce ‖ ciphertext ‖ tag)>`. The header `v1.<key id>` is
//! authenticated as associated data, so a value cannot be relabelled to another key id or format version.

use std::collections::HashMap;
use std::fmt;

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, OsRng, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Ciphertext as stored: `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(pub String);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealed(..)")
    }
}

/// Why a value could not be sealed or opened.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SecretBoxError {
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("no key with id `{0}` is configured")]
    UnknownKey(String),
    #[error("the sealed value failed authentication (wrong key or tampered)")]
    Tampered,
    #[error("the operating system's random number generator failed")]
    Randomness,
}

/// Seals and opens secrets that the service must read back later.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretBox: Send + Sync {
    fn seal(&self, plaintext: &[u8]) -> Result<Sealed, SecretBoxError>;
    fn open(&self, sealed: &Sealed) -> Result<Vec<u8>, SecretBoxError>;
}

/// Length of an AES-256 key in bytes.
pub const KEY_BYTES: usize = 32;

/// Longest accepted key id; ids travel inside every sealed value.
pub const KEY_ID_MAX_CHARS: usize = 64;

/// A fresh AES-256 key from the operating system's CSPRNG.
///
/// # Panics
/// When the operating system cannot provide randomness, which leaves no safe way to go on.
pub fn generate_key() -> [u8; KEY_BYTES] {
    let mut key = [0u8; KEY_BYTES];
    OsRng.fill_bytes(&mut key);
    key
}

/// Why a key ring could not be built.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KeyRingError {
    #[error("a key id is 1 to {KEY_ID_MAX_CHARS} characters of A-Z, a-z, 0-9, `_` and `-`: `{0}`")]
    InvalidKeyId(String),
    #[error("the key id `{0}` is configured twice")]
    DuplicateKeyId(String),
    #[error("the sealing key `{0}` is not in the key ring")]
    MissingSealingKey(String),
}

/// AES-256-GCM with a key ring: every key in the ring opens the values sealed under its id, and one named key
/// seals. Rotation adds a new key, makes it the sealing key and keeps the old ones until nothing sealed under them
/// remains. Each seal draws a random 96-bit nonce; that stays safe for far more than the 2^32 seals per key that
/// NIST allows, which a user store's TOTP secrets and backup codes never approach.
pub struct AesGcmSecretBox {
    sealing_key_id: String,
    ciphers: HashMap<String, Aes256Gcm>,
}

const FORMAT_VERSION: &str = "v1";
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;

impl AesGcmSecretBox {
    /// A key ring from `(key id, key)` pairs; `sealing_key_id` names the one that seals new values.
    pub fn new(
        sealing_key_id: &str,
        keys: impl IntoIterator<Item = (String, [u8; KEY_BYTES])>,
    ) -> Result<Self, KeyRingError> {
        let mut ciphers = HashMap::new();
        for (key_id, key) in keys {
            if !is_valid_key_id(&key_id) {
                return Err(KeyRingError::InvalidKeyId(key_id));
            }
            if ciphers.contains_key(&key_id) {
                return Err(KeyRingError::DuplicateKeyId(key_id));
            }
            ciphers.insert(key_id, Aes256Gcm::new(&key.into()));
        }
        if !ciphers.contains_key(sealing_key_id) {
            return Err(KeyRingError::MissingSealingKey(sealing_key_id.to_owned()));
        }
        Ok(Self { sealing_key_id: sealing_key_id.to_owned(), ciphers })
    }

    /// A ring of one key that both seals and opens.
    pub fn single(key_id: &str, key: [u8; KEY_BYTES]) -> Result<Self, KeyRingError> {
        Self::new(key_id, [(key_id.to_owned(), key)])
    }

    /// The id of the key that seals new values.
    pub fn sealing_key_id(&self) -> &str {
        &self.sealing_key_id
    }
}

impl fmt::Debug for AesGcmSecretBox {
    // Key ids only: the keys themselves never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key_ids: Vec<&str> = self.ciphers.keys().map(String::as_str).collect();
        key_ids.sort_unstable();
        f.debug_struct("AesGcmSecretBox")
            .field("sealing_key_id", &self.sealing_key_id)
            .field("key_ids", &key_ids)
            .finish()
    }
}

impl SecretBox for AesGcmSecretBox {
    fn seal(&self, plaintext: &[u8]) -> Result<Sealed, SecretBoxError> {
        let cipher = self
            .ciphers
            .get(&self.sealing_key_id)
            .ok_or_else(|| SecretBoxError::UnknownKey(self.sealing_key_id.clone()))?;
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.try_fill_bytes(&mut nonce).map_err(|_| SecretBoxError::Randomness)?;
        let header = header(&self.sealing_key_id);
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: header.as_bytes() })
            // Encryption only fails for plaintexts beyond GCM's 64 GiB limit.
            .map_err(|_| SecretBoxError::Malformed)?;
        let mut body = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&ciphertext);
        Ok(Sealed(format!("{header}.{}", URL_SAFE_NO_PAD.encode(body))))
    }

    fn open(&self, sealed: &Sealed) -> Result<Vec<u8>, SecretBoxError> {
        let mut parts = sealed.0.splitn(3, '.');
        let (Some(version), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SecretBoxError::Malformed);
        };
        if version != FORMAT_VERSION || !is_valid_key_id(key_id) {
            return Err(SecretBoxError::Malformed);
        }
        let cipher = self.ciphers.get(key_id).ok_or_else(|| SecretBoxError::UnknownKey(key_id.to_owned()))?;
        let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| SecretBoxError::Malformed)?;
        if body.len() < NONCE_BYTES + TAG_BYTES {
            return Err(SecretBoxError::Malformed);
        }
        let (nonce, ciphertext) = body.split_at(NONCE_BYTES);
        let header = header(key_id);
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: header.as_bytes() })
            .map_err(|_| SecretBoxError::Tampered)
    }
}

fn header(key_id: &str) -> String {
    format!("{FORMAT_VERSION}.{key_id}")
}

fn is_valid_key_id(key_id: &str) -> bool {
    !key_id.is_empty()
        && key_id.len() <= KEY_ID_MAX_CHARS
        && key_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD_KEY: [u8; KEY_BYTES] = [7; KEY_BYTES];
    const NEW_KEY: [u8; KEY_BYTES] = [9; KEY_BYTES];

    fn ring(sealing: &str) -> AesGcmSecretBox {
        AesGcmSecretBox::new(sealing, [("old".to_owned(), OLD_KEY), ("new".to_owned(), NEW_KEY)]).unwrap()
    }

    fn replace_body(sealed: &Sealed, edit: impl FnOnce(&mut Vec<u8>)) -> Sealed {
        let (header, body) = sealed.0.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(body).unwrap();
        edit(&mut bytes);
        Sealed(format!("{header}.{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    #[test]
    fn a_sealed_value_opens_to_the_original_plaintext() {
        let secret_box = AesGcmSecretBox::single("k1", generate_key()).unwrap();
        for plaintext in [&b""[..], b"JBSWY3DPEHPK3PXP", &[0u8, 255, 1, 254]] {
            let sealed = secret_box.seal(plaintext).unwrap();
            assert_eq!(secret_box.open(&sealed).unwrap(), plaintext);
        }
    }

    #[test]
    fn sealed_values_have_the_versioned_format_and_hide_the_plaintext() {
        let secret_box = AesGcmSecretBox::single("k1", OLD_KEY).unwrap();
        let sealed = secret_box.seal(b"JBSWY3DPEHPK3PXP").unwrap();
        let (version, rest) = sealed.0.split_once('.').unwrap();
        let (key_id, body) = rest.split_once('.').unwrap();
        assert_eq!((version, key_id), ("v1", "k1"));
        let bytes = URL_SAFE_NO_PAD.decode(body).unwrap();
        assert_eq!(bytes.len(), NONCE_BYTES + 16 + TAG_BYTES);
        assert!(!sealed.0.contains("JBSWY3DPEHPK3PXP"));
    }

    #[test]
    fn sealing_twice_uses_a_fresh_nonce_each_time() {
        let secret_box = AesGcmSecretBox::single("k1", OLD_KEY).unwrap();
        assert_ne!(secret_box.seal(b"same").unwrap(), secret_box.seal(b"same").unwrap());
    }

    #[test]
    fn a_flipped_bit_anywhere_in_the_body_is_detected() {
        let secret_box = AesGcmSecretBox::single("k1", OLD_KEY).unwrap();
        let sealed = secret_box.seal(b"backup-code").unwrap();
        let length = URL_SAFE_NO_PAD.decode(sealed.0.rsplit_once('.').unwrap().1).unwrap().len();
        for index in 0..length {
            let tampered = replace_body(&sealed, |bytes| bytes[index] ^= 0x01);
            assert_eq!(secret_box.open(&tampered), Err(SecretBoxError::Tampered), "byte {index}");
        }
    }

    #[test]
    fn relabelling_a_value_to_another_key_id_is_detected() {
        let same_key_twice = AesGcmSecretBox::new("a", [("a".to_owned(), OLD_KEY), ("b".to_owned(), OLD_KEY)]).unwrap();
        let sealed = same_key_twice.seal(b"secret").unwrap();
        let relabelled = Sealed(sealed.0.replacen("v1.a.", "v1.b.", 1));
        assert_eq!(same_key_twice.open(&relabelled), Err(SecretBoxError::Tampered));
    }

    #[test]
    fn a_value_sealed_under_an_unknown_key_id_is_refused() {
        let sealed = AesGcmSecretBox::single("gone", OLD_KEY).unwrap().seal(b"secret").unwrap();
        let secret_box = AesGcmSecretBox::single("k1", OLD_KEY).unwrap();
        assert_eq!(secret_box.open(&sealed), Err(SecretBoxError::UnknownKey("gone".to_owned())));
    }

    #[test]
    fn a_different_key_under_the_same_id_fails_authentication() {
        let sealed = AesGcmSecretBox::single("k1", OLD_KEY).unwrap().seal(b"secret").unwrap();
        let other = AesGcmSecretBox::single("k1", NEW_KEY).unwrap();
        assert_eq!(other.open(&sealed), Err(SecretBoxError::Tampered));
    }

    #[test]
    fn values_sealed_before_rotation_still_open_and_new_ones_use_the_new_key() {
        let before = ring("old");
        let sealed_before = before.seal(b"totp secret").unwrap();
        let after = ring("new");
        assert_eq!(after.open(&sealed_before).unwrap(), b"totp secret");
        let sealed_after = after.seal(b"totp secret").unwrap();
        assert!(sealed_after.0.starts_with("v1.new."));
        assert_eq!(before.open(&sealed_after).unwrap(), b"totp secret");
    }

    #[test]
    fn malformed_values_are_refused() {
        let secret_box = AesGcmSecretBox::single("k1", OLD_KEY).unwrap();
        let valid_body = secret_box.seal(b"x").unwrap().0.rsplit_once('.').unwrap().1.to_owned();
        let short_body = URL_SAFE_NO_PAD.encode([0u8; NONCE_BYTES + TAG_BYTES - 1]);
        for garbage in [
            String::new(),
            "v1".to_owned(),
            "v1.k1".to_owned(),
            format!("v2.k1.{valid_body}"),
            format!("v1..{valid_body}"),
            format!("v1.k 1.{valid_body}"),
            "v1.k1.not base64!".to_owned(),
            format!("v1.k1.{valid_body}="),
            format!("v1.k1.{short_body}"),
        ] {
            assert_eq!(secret_box.open(&Sealed(garbage.clone())), Err(SecretBoxError::Malformed), "{garbage:?}");
        }
    }

    #[test]
    fn opening_arbitrary_garbage_never_panics() {
        let secret_box = AesGcmSecretBox::single("k1", OLD_KEY).unwrap();
        const ALPHABET: &[u8] = b"v1.k-_AZaz09+/=\0\xff";
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for length in 0..400 {
            let text: String = (0..length)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    char::from(ALPHABET[(state % ALPHABET.len() as u64) as usize])
                })
                .collect();
            assert!(secret_box.open(&Sealed(text)).is_err());
        }
        assert!(secret_box.open(&Sealed("v1.k1.".to_owned() + &"A".repeat(100_000))).is_err());
        assert!(secret_box.open(&Sealed("v1.ключ.AAAA".to_owned())).is_err());
    }

    #[test]
    fn key_rings_refuse_bad_ids_duplicates_and_a_missing_sealing_key() {
        assert_eq!(
            AesGcmSecretBox::single("has.dot", OLD_KEY).unwrap_err(),
            KeyRingError::InvalidKeyId("has.dot".to_owned())
        );
        assert_eq!(AesGcmSecretBox::single("", OLD_KEY).unwrap_err(), KeyRingError::InvalidKeyId(String::new()));
        assert_eq!(
            AesGcmSecretBox::new("a", [("a".to_owned(), OLD_KEY), ("a".to_owned(), NEW_KEY)]).unwrap_err(),
            KeyRingError::DuplicateKeyId("a".to_owned())
        );
        assert_eq!(
            AesGcmSecretBox::new("b", [("a".to_owned(), OLD_KEY)]).unwrap_err(),
            KeyRingError::MissingSealingKey("b".to_owned())
        );
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(generate_key(), generate_key());
    }

    #[test]
    fn debug_output_names_key_ids_but_not_keys() {
        let printed = format!("{:?}", ring("new"));
        assert!(printed.contains("\"new\"") && printed.contains("\"old\""));
        assert!(!printed.contains("[7, 7") && !printed.contains("[9, 9"));
        assert_eq!(format!("{:?}", Sealed("v1.k1.AAAA".to_owned())), "Sealed(..)");
    }
}
