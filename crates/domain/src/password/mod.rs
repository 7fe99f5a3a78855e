//! Passwords: argon2id hashing for new passwords, verification of imported foreign hashes (with cost bounds and
//! a "needs rehash" answer), the password policy, and the [`PasswordHasher`] port.

pub mod hasher;
pub mod hashing;
pub mod import;
pub mod policy;

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[cfg(feature = "tokio")]
pub use hasher::{BlockingPoolHasher, HashingThreads};
pub use hasher::{InlinePasswordHasher, PasswordHasher};
pub use policy::{PasswordPolicy, PasswordUserInfo, PolicyIssue};

/// A password as typed by a person. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainPassword(String);

impl PlainPassword {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlainPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainPassword(..)")
    }
}

/// The algorithms Logto accepts as `passwordAlgorithm` (names as on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PasswordAlgorithm {
    Argon2i,
    Argon2id,
    Argon2d,
    #[serde(rename = "SHA1")]
    Sha1,
    #[serde(rename = "SHA256")]
    Sha256,
    #[serde(rename = "MD5")]
    Md5,
    Bcrypt,
    Legacy,
}

impl PasswordAlgorithm {
    pub const fn wire_name(self) -> &'static str {
        match self {
            PasswordAlgorithm::Argon2i => "Argon2i",
            PasswordAlgorithm::Argon2id => "Argon2id",
            PasswordAlgorithm::Argon2d => "Argon2d",
            PasswordAlgorithm::Sha1 => "SHA1",
            PasswordAlgorithm::Sha256 => "SHA256",
            PasswordAlgorithm::Md5 => "MD5",
            PasswordAlgorithm::Bcrypt => "Bcrypt",
            PasswordAlgorithm::Legacy => "Legacy",
        }
    }

    pub fn from_wire_name(name: &str) -> Option<Self> {
        [
            PasswordAlgorithm::Argon2i,
            PasswordAlgorithm::Argon2id,
            PasswordAlgorithm::Argon2d,
            PasswordAlgorithm::Sha1,
            PasswordAlgorithm::Sha256,
            PasswordAlgorithm::Md5,
            PasswordAlgorithm::Bcrypt,
            PasswordAlgorithm::Legacy,
        ]
        .into_iter()
        .find(|algorithm| algorithm.wire_name() == name)
    }
}

/// A password hash as stored: the algorithm and its digest (PHC string, hex, bcrypt string or Legacy JSON).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPassword {
    pub algorithm: PasswordAlgorithm,
    pub digest: String,
}

impl fmt::Debug for StoredPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredPassword").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The password is right. `needs_rehash` asks the caller to store a fresh argon2id hash at our parameters.
    Match {
        needs_rehash: bool,
    },
    Mismatch,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PasswordError {
    /// The digest cannot be parsed for its algorithm.
    #[error("the password digest is malformed for {algorithm:?}: {reason}")]
    MalformedDigest { algorithm: PasswordAlgorithm, reason: String },
    /// The digest asks for more work than we allow (it would take well over a second, or is a denial of service).
    #[error("the password digest's cost is out of bounds: {reason}")]
    CostOutOfBounds { reason: String },
    /// The Legacy form names a hash function we do not support.
    #[error("unsupported legacy hash function `{0}`")]
    UnsupportedLegacyAlgorithm(String),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}
