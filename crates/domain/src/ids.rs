//! Identifiers of entities: user ids (12 chars `[0-9a-z]`, as Logto) and other ids (21 chars, nanoid-style).

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

const USER_ID_LENGTH: usize = 12;
const ENTITY_ID_LENGTH: usize = 21;
const LOWER_ALPHANUMERIC: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
pub(crate) const ALPHANUMERIC: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A user's id: exactly 12 characters of `[0-9a-z]`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

#[derive(Debug, Error, PartialEq, Eq)]
#[error("a user id is 12 characters of 0-9 and a-z")]
pub struct InvalidUserId;

impl UserId {
    pub fn parse(value: &str) -> Result<Self, InvalidUserId> {
        let well_formed = value.len() == USER_ID_LENGTH && value.bytes().all(|b| LOWER_ALPHANUMERIC.contains(&b));
        if well_formed { Ok(Self(value.to_owned())) } else { Err(InvalidUserId) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = InvalidUserId;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> Self {
        id.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

/// Where new ids come from; a port so that tests can name their entities.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    fn user_id(&self) -> UserId;
    /// A 21-character id for other entities (MFA factors, verification records, sessions …).
    fn entity_id(&self) -> String;
}

/// Ids from the operating system's CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn user_id(&self) -> UserId {
        UserId(random_string(LOWER_ALPHANUMERIC, USER_ID_LENGTH))
    }

    fn entity_id(&self) -> String {
        random_string(ALPHANUMERIC, ENTITY_ID_LENGTH)
    }
}

/// A uniformly random string over `alphabet`, from the thread-local CSPRNG.
pub fn random_string(alphabet: &[u8], length: usize) -> String {
    let mut rng = rand::rng();
    (0..length).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_user_ids_parse_back() {
        for _ in 0..100 {
            let id = RandomIds.user_id();
            assert_eq!(UserId::parse(id.as_str()), Ok(id));
        }
    }

    #[test]
    fn user_ids_reject_wrong_length_and_characters() {
        assert_eq!(UserId::parse("abc"), Err(InvalidUserId));
        assert_eq!(UserId::parse("ABCDEFGHIJKL"), Err(InvalidUserId));
        assert_eq!(UserId::parse("abcdefghijk-"), Err(InvalidUserId));
        assert_eq!(UserId::parse("abcdefghijklm"), Err(InvalidUserId));
    }

    #[test]
    fn entity_ids_are_21_alphanumerics() {
        let id = RandomIds.entity_id();
        assert_eq!(id.len(), 21);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
