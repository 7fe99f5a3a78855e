//! The root keys that sign and verify access tokens, addressed by key id (`kid`).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use biscuit_auth::format::schema::public_key::Algorithm;
use biscuit_auth::{KeyPair, PublicKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Why a key ring could not be assembled.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeyRingError {
    #[error("a key ring needs at least one signing key")]
    Empty,
    #[error("key id {0:?} appears twice")]
    DuplicateKid(String),
    #[error("key ids {0:?} and {1:?} map to the same biscuit root key id; rename one")]
    RootKeyIdCollision(String, String),
    #[error("key {0:?} is not an Ed25519 key")]
    NotEd25519(String),
    #[error("no key with id {0:?}")]
    UnknownKid(String),
}

/// Root keys by key id: every key verifies, exactly one signs.
///
/// Biscuit carries the key id as a `u32` (`root_key_id`), while Latchkey's key ids are short strings (the JWKS `kid`).
/// The `u32` is derived from the string by [`root_key_id`]: the first four bytes, big-endian, of the SHA-256 of the
/// kid. Anyone holding the JWKS can recompute it; a collision between two kids of one ring is refused at assembly.
pub struct KeyRing {
    keys: Vec<RingKey>,
    signing: usize,
}

struct RingKey {
    kid: String,
    root_key_id: u32,
    public_key: PublicKey,
    key_pair: Option<KeyPair>,
}

/// The biscuit `root_key_id` of a key id: the first four bytes (big-endian) of SHA-256 of the kid's UTF-8 bytes.
pub fn root_key_id(kid: &str) -> u32 {
    let digest = Sha256::digest(kid.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

impl KeyRing {
    /// A ring of signing keys; the first one signs new tokens, all of them verify.
    pub fn new(keys: impl IntoIterator<Item = (String, KeyPair)>) -> Result<Self, KeyRingError> {
        let mut ring = Self { keys: Vec::new(), signing: 0 };
        for (kid, key_pair) in keys {
            ring.insert(kid, key_pair.public(), Some(key_pair))?;
        }
        if ring.keys.is_empty() {
            return Err(KeyRingError::Empty);
        }
        Ok(ring)
    }

    /// Makes the key `kid` the one that signs. It must hold a private key.
    pub fn signing_with(mut self, kid: &str) -> Result<Self, KeyRingError> {
        let index = self
            .keys
            .iter()
            .position(|key| key.kid == kid && key.key_pair.is_some())
            .ok_or_else(|| KeyRingError::UnknownKid(kid.to_owned()))?;
        self.signing = index;
        Ok(self)
    }

    /// Adds a key that only verifies, such as a retired key whose tokens have not all expired yet.
    pub fn with_verification_key(
        mut self,
        kid: impl Into<String>,
        public_key: PublicKey,
    ) -> Result<Self, KeyRingError> {
        self.insert(kid.into(), public_key, None)?;
        Ok(self)
    }

    /// The key id that signs new tokens.
    pub fn signing_kid(&self) -> &str {
        &self.keys[self.signing].kid
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|key| key.kid.as_str())
    }

    /// The public keys as a JWK set (RFC 8037 `OKP`/`Ed25519`), as served at `GET /oidc/jwks`.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|key| {
                json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": URL_SAFE_NO_PAD.encode(key.public_key.to_bytes()),
                    "kid": key.kid,
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        json!({ "keys": keys })
    }

    pub(crate) fn signer(&self) -> (u32, &KeyPair) {
        let key = &self.keys[self.signing];
        // `new` only accepts key pairs and `signing_with` only selects keys that have one.
        let key_pair = key.key_pair.as_ref().expect("the signing key holds a key pair");
        (key.root_key_id, key_pair)
    }

    pub(crate) fn public_key(&self, root_key_id: u32) -> Option<PublicKey> {
        self.keys.iter().find(|key| key.root_key_id == root_key_id).map(|key| key.public_key)
    }

    fn insert(&mut self, kid: String, public_key: PublicKey, key_pair: Option<KeyPair>) -> Result<(), KeyRingError> {
        if public_key.algorithm() != Algorithm::Ed25519 {
            return Err(KeyRingError::NotEd25519(kid));
        }
        let id = root_key_id(&kid);
        if let Some(existing) = self.keys.iter().find(|key| key.kid == kid) {
            return Err(KeyRingError::DuplicateKid(existing.kid.clone()));
        }
        if let Some(existing) = self.keys.iter().find(|key| key.root_key_id == id) {
            return Err(KeyRingError::RootKeyIdCollision(existing.kid.clone(), kid));
        }
        self.keys.push(RingKey { kid, root_key_id: id, public_key, key_pair });
        Ok(())
    }
}

impl fmt::Debug for KeyRing {
    // Key ids and public keys only: private keys never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<(&str, String)> =
            self.keys.iter().map(|key| (key.kid.as_str(), key.public_key.to_bytes_hex())).collect();
        f.debug_struct("KeyRing").field("signing_kid", &self.signing_kid()).field("keys", &keys).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> KeyRing {
        KeyRing::new([("k1".to_owned(), KeyPair::new()), ("k2".to_owned(), KeyPair::new())]).unwrap()
    }

    #[test]
    fn the_first_key_signs_unless_another_is_named() {
        assert_eq!(ring().signing_kid(), "k1");
        assert_eq!(ring().signing_with("k2").unwrap().signing_kid(), "k2");
        assert_eq!(ring().signing_with("nope").unwrap_err(), KeyRingError::UnknownKid("nope".into()));
    }

    #[test]
    fn a_verification_only_key_cannot_sign() {
        let retired = KeyPair::new().public();
        let ring = ring().with_verification_key("old", retired).unwrap();
        assert_eq!(ring.signing_with("old").unwrap_err(), KeyRingError::UnknownKid("old".into()));
    }

    #[test]
    fn an_empty_ring_or_a_repeated_kid_is_refused() {
        assert_eq!(KeyRing::new([]).unwrap_err(), KeyRingError::Empty);
        let repeated = KeyRing::new([("k".to_owned(), KeyPair::new()), ("k".to_owned(), KeyPair::new())]);
        assert_eq!(repeated.unwrap_err(), KeyRingError::DuplicateKid("k".into()));
    }

    #[test]
    fn root_key_ids_are_the_first_four_bytes_of_the_kid_digest() {
        // The derivation is part of the published token format: other verifiers recompute it from the JWKS.
        let digest = Sha256::digest(b"k1");
        assert_eq!(root_key_id("k1").to_be_bytes(), digest[..4]);
        assert_ne!(root_key_id("k1"), root_key_id("k2"));
    }

    #[test]
    fn the_jwks_lists_every_key_as_an_ed25519_okp_key() {
        let key_pair = KeyPair::new();
        let public = key_pair.public().to_bytes();
        let ring = KeyRing::new([("main".to_owned(), key_pair)]).unwrap();
        let jwks = ring.jwks();
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert_eq!(key["kid"], "main");
        assert_eq!(key["alg"], "EdDSA");
        assert_eq!(URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap(), public);
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn debug_output_shows_no_private_key() {
        let key_pair = KeyPair::new();
        let private = key_pair.private().to_bytes_hex();
        let ring = KeyRing::new([("main".to_owned(), key_pair)]).unwrap();
        assert!(!format!("{ring:?}").contains(&private));
    }
}
