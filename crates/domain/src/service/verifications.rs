//! Verification-record use cases (Logto's `routes/verification/index.ts`): make a record by re-entering the
//! password or by a code sent to an email or phone, verify the code, and check a record named by a sensitive
//! request. See [`crate::verification_record`] for what a record proves and how Latchkey binds it.

use std::sync::Arc;

use thiserror::Error;

use crate::audit::{Actor, AuditContext};
use crate::clock::{Clock, Timestamp};
use crate::ids::{IdGenerator, UserId};
use crate::password::PlainPassword;
use crate::ports::RepoError;
use crate::secrets::{SecretHash, hash_secret};
use crate::service::{AccountError, AccountService};
use crate::sign_in::{LockoutSubject, Sentinel, SignInIdentifier};
use crate::user::User;
use crate::verification_code::{CodeCheckError, CodeDelivery, CodePurpose, CodeRecipient, CodeSendError};
use crate::verification_record::{RecordHolder, RecordKind, VerificationRecord, VerificationRecordRepository};

/// What the verification use cases need.
#[derive(Clone)]
pub struct VerificationPorts {
    pub accounts: AccountService,
    pub records: Arc<dyn VerificationRecordRepository>,
    /// `None` when no message connector is configured: code records answer `ConnectorNotFound`.
    pub codes: Option<CodeDelivery>,
    pub sentinel: Sentinel,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for VerificationPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerificationPorts { .. }")
    }
}

/// Why a verification step was refused; the API crate maps each to Logto's status and code.
#[derive(Debug, Error)]
pub enum VerificationError {
    /// 422 `session.invalid_credentials`.
    #[error("wrong password")]
    InvalidCredentials,
    /// 401 `user.suspended`.
    #[error("the user is suspended")]
    Suspended,
    /// 400 `session.verification_blocked_too_many_attempts`.
    #[error("too many failed checks")]
    Blocked { until: Timestamp },
    /// The token's user no longer exists: answered like a dead token.
    #[error("the user no longer exists")]
    UserGone,
    /// 501 `connector.not_found`.
    #[error("no message connector is configured")]
    ConnectorNotFound,
    #[error(transparent)]
    Send(#[from] CodeSendError),
    /// `verification_code.*`, with the identifier kind for the mismatch code.
    #[error("the code was not accepted: {error}")]
    Code { error: CodeCheckError, recipient_is_email: bool },
    /// 400 `verification_record.not_found`: no usable record of this id for the caller.
    #[error("no such verification record")]
    RecordNotFound,
    /// 401 `verification_record.permission_denied`: the request needs a record proving the caller's identity.
    #[error("a verification record proving the caller's identity is required")]
    PermissionDenied,
    /// 400 `session.mfa.webauthn_verification_failed`: the authenticator's answer to a passkey registration did
    /// not verify.
    #[error("the WebAuthn response was rejected")]
    WebAuthnVerificationFailed,
    /// 400 `session.mfa.pending_info_not_found`: the WebAuthn record has no registration waiting for an answer.
    #[error("no pending WebAuthn registration")]
    PendingInfoNotFound,
    /// 500: the passkey ceremony cannot run here (the cause is logged).
    #[error("the passkey ceremony failed: {0}")]
    PasskeyUnavailable(String),
    #[error("storage failed: {0}")]
    Storage(String),
}

impl From<RepoError> for VerificationError {
    fn from(error: RepoError) -> Self {
        Self::Storage(error.to_string())
    }
}

impl From<AccountError> for VerificationError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::UserNotFound => Self::UserGone,
            AccountError::InvalidCredentials => Self::InvalidCredentials,
            other => Self::Storage(other.to_string()),
        }
    }
}

/// A record was made: its id, and until when it can be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMade {
    pub id: String,
    pub expires_at: Timestamp,
}

/// The verification use cases. Cheap to clone.
#[derive(Debug, Clone)]
pub struct VerificationService {
    ports: VerificationPorts,
}

impl VerificationService {
    pub fn new(ports: VerificationPorts) -> Self {
        Self { ports }
    }

    /// `POST /api/verifications/password`: a verified record when `password` is the holder's. Failures count in
    /// the sentinel under the user's id, as Logto's password verification does.
    pub async fn verify_password(
        &self,
        holder: RecordHolder<'_>,
        password: &PlainPassword,
    ) -> Result<RecordMade, VerificationError> {
        let target = hash_secret(&format!("userId:{}", holder.user_id.as_str()));
        self.ensure_not_blocked(&target).await?;
        let user = match self.ports.accounts.verify_password(holder.user_id, password).await {
            Ok(user) => user,
            Err(AccountError::InvalidCredentials) => {
                // The target is the user's id, not an identifier: no lockout event names it.
                return Err(self.fail(&target, None, VerificationError::InvalidCredentials).await);
            }
            Err(other) => return Err(other.into()),
        };
        if user.is_suspended {
            return Err(VerificationError::Suspended);
        }
        self.make(holder, RecordKind::Password, true).await
    }

    /// `POST /api/verifications/verification-code`: sends a code to `recipient` and makes an unverified record for
    /// it. A code to the user's own email or phone proves identity (or binds MFA, when `bind_mfa`); a code to
    /// another address proves only that the user holds it, for adding it.
    pub async fn send_code(
        &self,
        holder: RecordHolder<'_>,
        recipient: CodeRecipient,
        bind_mfa: bool,
    ) -> Result<RecordMade, VerificationError> {
        let delivery = self.ports.codes.as_ref().ok_or(VerificationError::ConnectorNotFound)?;
        let user = self.user(holder.user_id).await?;
        let purpose = if !is_own(&user, &recipient) {
            CodePurpose::BindNewIdentifier
        } else if bind_mfa {
            CodePurpose::BindMfa
        } else {
            CodePurpose::UserPermissionValidation
        };
        let now = self.ports.clock.now();
        let code = delivery.send(recipient.clone(), recipient_target(&recipient), purpose, now).await?;
        self.make(holder, RecordKind::Code { recipient, purpose, code_id: code.id }, false).await
    }

    /// `POST /api/verifications/verification-code/verify`: checks `code` for the holder's record `record_id`,
    /// sent to `recipient`, and marks the record verified. A wrong code counts in the sentinel under the recipient.
    pub async fn verify_code(
        &self,
        holder: RecordHolder<'_>,
        record_id: &str,
        recipient: &CodeRecipient,
        code: &str,
    ) -> Result<RecordMade, VerificationError> {
        let delivery = self.ports.codes.as_ref().ok_or(VerificationError::ConnectorNotFound)?;
        let now = self.ports.clock.now();
        let recipient_is_email = matches!(recipient, CodeRecipient::Email(_));
        let code_refused = |error| VerificationError::Code { error, recipient_is_email };
        let record = self
            .ports
            .records
            .find(record_id)
            .await?
            .filter(|record| record.user_id == *holder.user_id && record.session_id == holder.session_id)
            .ok_or(code_refused(CodeCheckError::NotFound))?;
        let RecordKind::Code { recipient: sent_to, purpose, code_id } = &record.kind else {
            return Err(code_refused(CodeCheckError::NotFound));
        };
        if !sent_to.same_as(recipient) {
            return Err(code_refused(CodeCheckError::IdentifierMismatch));
        }
        let target = recipient_target(recipient);
        self.ensure_not_blocked(&target).await?;
        match delivery.check(code_id, *purpose, &target, code, now).await {
            Ok(()) => {}
            Err(CodeCheckError::Mismatch) => {
                let identifier = match recipient {
                    CodeRecipient::Email(email) => SignInIdentifier::Email(email.clone()),
                    CodeRecipient::Phone(phone) => SignInIdentifier::Phone(phone.clone()),
                };
                let context = AuditContext::new(Actor::User { id: holder.user_id.as_str().to_owned() });
                let subject = LockoutSubject { identifier, context };
                return Err(self.fail(&target, Some(subject), code_refused(CodeCheckError::Mismatch)).await);
            }
            Err(error) => return Err(code_refused(error)),
        }
        self.ports.records.mark_verified(&record.id, &record.kind).await?;
        Ok(RecordMade { id: record.id, expires_at: record.expires_at })
    }

    /// The check of a sensitive request's `logto-verification-id`: the record must prove the holder's identity
    /// (see [`VerificationRecord::proves_identity`]). Answers the user as read for the check.
    pub async fn require_identity(
        &self,
        holder: RecordHolder<'_>,
        record_id: Option<&str>,
    ) -> Result<User, VerificationError> {
        let user = self.user(holder.user_id).await?;
        let record = match record_id {
            Some(id) => self.ports.records.find(id).await?,
            None => None,
        };
        let now = self.ports.clock.now();
        match record {
            Some(record) if record.proves_identity(holder, &user, now) => Ok(user),
            _ => Err(VerificationError::PermissionDenied),
        }
    }

    /// The check of a `newIdentifierVerificationRecordId`: a verified code record of the holder for `recipient`.
    pub async fn require_new_identifier(
        &self,
        holder: RecordHolder<'_>,
        record_id: &str,
        recipient: &CodeRecipient,
    ) -> Result<(), VerificationError> {
        let now = self.ports.clock.now();
        match self.ports.records.find(record_id).await? {
            Some(record) if record.proves_new_identifier(holder, recipient, now) => Ok(()),
            _ => Err(VerificationError::RecordNotFound),
        }
    }

    async fn make(
        &self,
        holder: RecordHolder<'_>,
        kind: RecordKind,
        verified: bool,
    ) -> Result<RecordMade, VerificationError> {
        let record =
            VerificationRecord::new(self.ports.ids.entity_id(), holder, kind, verified, self.ports.clock.now());
        match self.ports.records.insert(&record).await {
            Ok(()) => Ok(RecordMade { id: record.id, expires_at: record.expires_at }),
            Err(RepoError::NotFound) => Err(VerificationError::UserGone),
            Err(other) => Err(other.into()),
        }
    }

    async fn user(&self, id: &UserId) -> Result<User, VerificationError> {
        self.ports.accounts.ports().users.find_by_id(id).await?.ok_or(VerificationError::UserGone)
    }

    async fn ensure_not_blocked(&self, target: &SecretHash) -> Result<(), VerificationError> {
        match self.ports.sentinel.blocked_until(target, self.ports.clock.now()).await? {
            Some(until) => Err(VerificationError::Blocked { until }),
            None => Ok(()),
        }
    }

    async fn fail(
        &self,
        target: &SecretHash,
        subject: Option<LockoutSubject>,
        refusal: VerificationError,
    ) -> VerificationError {
        match self.ports.sentinel.report_failure(target, subject, self.ports.clock.now()).await {
            Ok(None) => refusal,
            Ok(Some(until)) => VerificationError::Blocked { until },
            Err(error) => error.into(),
        }
    }
}

/// Whether `recipient` is the user's own primary email or phone.
fn is_own(user: &User, recipient: &CodeRecipient) -> bool {
    let own =
        [user.primary_email.clone().map(CodeRecipient::Email), user.primary_phone.clone().map(CodeRecipient::Phone)];
    own.iter().flatten().any(|mine| mine.same_as(recipient))
}

/// The sentinel's and the send limiter's key for a recipient: the same digest as the sign-in identifier's.
fn recipient_target(recipient: &CodeRecipient) -> SecretHash {
    match recipient {
        CodeRecipient::Email(email) => SignInIdentifier::Email(email.clone()).sentinel_target(),
        CodeRecipient::Phone(phone) => SignInIdentifier::Phone(phone.clone()).sentinel_target(),
    }
}
