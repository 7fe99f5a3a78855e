//! One-time codes sent to an email address or a phone (Logto's `libraries/passcode.ts`), the port that delivers
//! them ([`MessageConnector`]: SMTP, an HTTP webhook or the development log, chosen by the server) and the port
//! that keeps them ([`VerificationCodeRepository`]).
//!
//! A code is 6 digits from the thread-local CSPRNG, lives [`CODE_TTL_SECS`], allows [`CODE_MAX_ATTEMPTS`] checks and
//! works once. It is stored only as a SHA-256 digest salted with its verification id, and bound to the digest of
//! the identifier it was sent to and to its purpose. Sends are limited per recipient ([`SEND_LIMIT`] per
//! [`SEND_WINDOW_SECS`], Logto's `message-rate-guard.ts`), counted in the database so the limit holds across
//! instances.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use rand::Rng;
use thiserror::Error;

use crate::clock::Timestamp;
use crate::identifiers::{Email, Phone};
use crate::ports::RepoError;
use crate::secrets::{SecretHash, generate_secret, hash_secret};
use crate::sign_in::SignInIdentifier;

/// How long a code can be used (Logto's default `verificationCodePolicy`: 600 s).
pub const CODE_TTL_SECS: i64 = 600;
/// How many checks one code allows (Logto: 10); the eleventh is refused even with the right code.
pub const CODE_MAX_ATTEMPTS: u32 = 10;
/// Sends allowed per recipient within [`SEND_WINDOW_SECS`] (Logto: 10 in 600 s, then 429).
pub const SEND_LIMIT: u64 = 10;
pub const SEND_WINDOW_SECS: i64 = 600;
/// Digits in a code.
pub const CODE_DIGITS: usize = 6;
/// Characters of a verification id, as Logto's record ids.
pub const VERIFICATION_ID_LENGTH: usize = 21;

/// Where a code goes: an email address or a phone number (E.164 digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRecipient {
    Email(Email),
    Phone(Phone),
}

impl CodeRecipient {
    /// The recipient of a sign-in identifier; `None` for a username, which cannot receive messages.
    pub fn from_identifier(identifier: &SignInIdentifier) -> Option<Self> {
        match identifier {
            SignInIdentifier::Email(email) => Some(Self::Email(email.clone())),
            SignInIdentifier::Phone(phone) => Some(Self::Phone(phone.clone())),
            SignInIdentifier::Username(_) => None,
        }
    }

    /// Whether both name the same mailbox or phone (emails regardless of case).
    pub fn same_as(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Email(mine), Self::Email(theirs)) => mine.normalized() == theirs.normalized(),
            (Self::Phone(mine), Self::Phone(theirs)) => mine == theirs,
            _ => false,
        }
    }

    /// The address as it is delivered to: the email as given, the phone as E.164 digits.
    pub fn address(&self) -> &str {
        match self {
            Self::Email(email) => email.as_str(),
            Self::Phone(phone) => phone.as_str(),
        }
    }
}

/// What a code is for; a code sent for one purpose does not work for another. Names are Logto's template types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    SignIn,
    /// Proves the caller holds their own email or phone (a verification record for sensitive changes).
    UserPermissionValidation,
    /// Proves the caller holds an email or phone they want to add.
    BindNewIdentifier,
    /// Proves the caller holds an email or phone to use as an MFA factor (never an identity proof).
    BindMfa,
}

impl CodePurpose {
    const ALL: [Self; 4] = [Self::SignIn, Self::UserPermissionValidation, Self::BindNewIdentifier, Self::BindMfa];

    /// Logto's `TemplateType` name, used on the wire by the connectors and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "SignIn",
            Self::UserPermissionValidation => "UserPermissionValidation",
            Self::BindNewIdentifier => "BindNewIdentifier",
            Self::BindMfa => "BindMfa",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|purpose| purpose.as_str() == value)
    }
}

/// A message carrying a code, handed to the [`MessageConnector`]. `Debug` leaves the code out.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeMessage {
    pub to: CodeRecipient,
    pub purpose: CodePurpose,
    pub code: String,
    /// The recipient's preferred language (BCP 47), when known.
    pub locale: Option<String>,
}

impl fmt::Debug for CodeMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeMessage")
            .field("to", &self.to)
            .field("purpose", &self.purpose)
            .field("locale", &self.locale)
            .finish_non_exhaustive()
    }
}

/// Why a message could not be delivered. The text is for the operator's log, never for the caller.
#[derive(Debug, Error)]
#[error("the message could not be sent: {0}")]
pub struct ConnectorError(pub String);

/// Delivers messages: SMTP, an HTTP webhook, or the development log.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MessageConnector: Send + Sync {
    async fn send(&self, message: &CodeMessage) -> Result<(), ConnectorError>;
}

/// A code as stored: its digest, what it is bound to, and how much of it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationCode {
    /// The verification id handed to the client; it names the code.
    pub id: String,
    pub purpose: CodePurpose,
    /// The digest of the identifier the code was sent to (the sentinel's key for it).
    pub target: SecretHash,
    /// SHA-256 of `<id>:<code>`.
    pub code_hash: SecretHash,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Checks taken so far.
    pub attempts: u32,
}

impl VerificationCode {
    /// A fresh code for `target`: the code in clear (to send once) and the record to store.
    pub fn issue(purpose: CodePurpose, target: SecretHash, now: Timestamp) -> (String, VerificationCode) {
        let code =
            format!("{:0width$}", rand::rng().random_range(0..10u32.pow(CODE_DIGITS as u32)), width = CODE_DIGITS);
        let id = generate_secret("", VERIFICATION_ID_LENGTH).expose().to_owned();
        let record = VerificationCode {
            code_hash: code_digest(&id, &code),
            id,
            purpose,
            target,
            created_at: now,
            expires_at: now.plus_secs(CODE_TTL_SECS),
            attempts: 0,
        };
        (code, record)
    }

    /// Whether `code` is this record's code, compared in constant time.
    pub fn matches(&self, code: &str) -> bool {
        self.code_hash.matches(&format!("{}:{code}", self.id))
    }
}

fn code_digest(id: &str, code: &str) -> SecretHash {
    hash_secret(&format!("{id}:{code}"))
}

/// Codes and the per-recipient send log, shared by every instance through the database.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait VerificationCodeRepository: Send + Sync {
    /// Records one send to `target` at `now` if fewer than `limit` were recorded after `window_start`, and says
    /// whether it was recorded. Concurrent callers cannot record more than `limit` in a window between them.
    async fn record_send(
        &self,
        target: &SecretHash,
        now: Timestamp,
        window_start: Timestamp,
        limit: u64,
    ) -> Result<bool, RepoError>;
    /// Stores a code, replacing earlier codes for the same target and purpose (Logto keeps one live code), and
    /// forgets codes expired at its `created_at`.
    async fn insert(&self, code: &VerificationCode) -> Result<(), RepoError>;
    async fn find(&self, id: &str) -> Result<Option<VerificationCode>, RepoError>;
    /// Atomically takes one check on the code if it is unexpired at `now` and has had fewer than `max_attempts`;
    /// `false` otherwise. Concurrent callers cannot take more than `max_attempts` between them.
    async fn begin_attempt(&self, id: &str, now: Timestamp, max_attempts: u32) -> Result<bool, RepoError>;
    /// Removes the code; `true` for the one caller that removed it.
    async fn consume(&self, id: &str) -> Result<bool, RepoError>;
}

/// Why a code could not be sent.
#[derive(Debug, Error)]
pub enum CodeSendError {
    /// The recipient had [`SEND_LIMIT`] sends within [`SEND_WINDOW_SECS`] (429 `request.message_rate_limited`).
    #[error("too many codes were sent to this recipient")]
    RateLimited,
    /// The connector failed; the text is for the operator's log.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    Storage(#[from] RepoError),
}

/// Why a code was not accepted (Logto's `verification_code.*` codes).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CodeCheckError {
    /// No such code for this purpose, or already used (`verification_code.not_found`).
    #[error("no such code")]
    NotFound,
    /// The code was sent to another identifier (`verification_code.email_mismatch` / `phone_mismatch`).
    #[error("the code was sent to another identifier")]
    IdentifierMismatch,
    #[error("the code has expired")]
    Expired,
    /// The code had its [`CODE_MAX_ATTEMPTS`] checks (`verification_code.exceed_max_try`).
    #[error("the code had too many checks")]
    AttemptsExceeded,
    /// A wrong code (`verification_code.code_mismatch`); the caller counts it in the sentinel.
    #[error("wrong code")]
    Mismatch,
    #[error(transparent)]
    Storage(#[from] RepoError),
}

/// Sends codes through the connector and checks them against the store: the one implementation of the limits
/// (sends per recipient, checks per code, expiry, single use) for every flow that uses codes.
#[derive(Clone)]
pub struct CodeDelivery {
    pub codes: Arc<dyn VerificationCodeRepository>,
    pub connector: Arc<dyn MessageConnector>,
}

impl fmt::Debug for CodeDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeDelivery { .. }")
    }
}

impl CodeDelivery {
    /// Issues a code for `purpose` bound to `target` (the recipient's digest), stores it in place of earlier ones
    /// and sends it, unless the recipient already had its share of sends in the window.
    pub async fn send(
        &self,
        recipient: CodeRecipient,
        target: SecretHash,
        purpose: CodePurpose,
        now: Timestamp,
    ) -> Result<VerificationCode, CodeSendError> {
        if !self.codes.record_send(&target, now, now.plus_secs(-SEND_WINDOW_SECS), SEND_LIMIT).await? {
            return Err(CodeSendError::RateLimited);
        }
        let (code, record) = VerificationCode::issue(purpose, target, now);
        self.codes.insert(&record).await?;
        let message = CodeMessage { to: recipient, purpose, code, locale: None };
        self.connector.send(&message).await?;
        Ok(record)
    }

    /// Checks `code` against the stored code `id`: it must be for `purpose`, sent to `target`, unexpired and
    /// within its checks (each call spends one); a right code is used up.
    pub async fn check(
        &self,
        id: &str,
        purpose: CodePurpose,
        target: &SecretHash,
        code: &str,
        now: Timestamp,
    ) -> Result<(), CodeCheckError> {
        let record =
            self.codes.find(id).await?.filter(|record| record.purpose == purpose).ok_or(CodeCheckError::NotFound)?;
        if record.target != *target {
            return Err(CodeCheckError::IdentifierMismatch);
        }
        if record.expires_at <= now {
            return Err(CodeCheckError::Expired);
        }
        if !self.codes.begin_attempt(&record.id, now, CODE_MAX_ATTEMPTS).await? {
            return Err(CodeCheckError::AttemptsExceeded);
        }
        if !record.matches(code) {
            return Err(CodeCheckError::Mismatch);
        }
        if !self.codes.consume(&record.id).await? {
            return Err(CodeCheckError::NotFound);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign_in::IdentifierKind;

    #[test]
    fn a_code_is_six_digits_stored_as_a_salted_digest_for_ten_minutes() {
        let now = Timestamp::from_secs(1_000);
        let (code, record) = VerificationCode::issue(CodePurpose::SignIn, hash_secret("target"), now);

        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()), "{code}");
        assert_eq!(record.id.len(), VERIFICATION_ID_LENGTH);
        assert!(record.matches(&code));
        assert_ne!(record.code_hash, hash_secret(&code), "the digest is salted with the id");
        assert_eq!(record.expires_at, Timestamp::from_secs(1_600));
    }

    #[test]
    fn another_code_does_not_match() {
        let (code, record) = VerificationCode::issue(CodePurpose::SignIn, hash_secret("t"), Timestamp::from_secs(0));
        let other = if code == "000000" { "000001" } else { "000000" };
        assert!(!record.matches(other));
    }

    #[test]
    fn codes_vary() {
        let codes: std::collections::HashSet<String> = (0..20)
            .map(|_| VerificationCode::issue(CodePurpose::SignIn, hash_secret("t"), Timestamp::from_secs(0)).0)
            .collect();
        assert!(codes.len() > 1);
    }

    #[test]
    fn usernames_cannot_receive_codes() {
        let username = SignInIdentifier::parse(IdentifierKind::Username, "ada").unwrap();
        let email = SignInIdentifier::parse(IdentifierKind::Email, "Ada@Example.com").unwrap();
        assert_eq!(CodeRecipient::from_identifier(&username), None);
        assert_eq!(CodeRecipient::from_identifier(&email).unwrap().address(), "Ada@Example.com");
    }

    #[test]
    fn a_message_debug_leaves_the_code_out() {
        let message = CodeMessage {
            to: CodeRecipient::Email(Email::parse("ada@example.com").unwrap()),
            purpose: CodePurpose::SignIn,
            code: "123456".to_owned(),
            locale: None,
        };
        assert!(!format!("{message:?}").contains("123456"));
    }
}
