//! Verification records (Logto's `/api/verifications…`): short-lived proof that the caller just re-entered their
//! password or received a code at an email address or phone, named by an id the Account API's sensitive routes
//! take (header `logto-verification-id`, or `newIdentifierVerificationRecordId` for an identifier being added).
//!
//! Stricter than Logto (spec README §4): a record is bound to the user **and** the session that made it, so a record
//! made with one token cannot be used with a token of another sign-in or token exchange; a record made before the
//! user's last password change proves nothing; a record of an ended session (sign-out, suspension, revocation) is
//! useless because the session's tokens are. Like Logto, records live ten minutes and are not used up by use.

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::ids::UserId;
use crate::passkey::PasskeyRegistration;
use crate::ports::RepoError;
use crate::social::SocialCeremony;
use crate::user::User;
use crate::verification_code::{CodePurpose, CodeRecipient};

/// How long a record can be used (Logto: 10 minutes for every type).
pub const RECORD_TTL_SECS: i64 = 600;

/// What a record proves once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKind {
    /// The user re-entered their password (verified at creation).
    Password,
    /// A code was sent to `recipient` for `purpose`; `code_id` names the stored code.
    Code { recipient: CodeRecipient, purpose: CodePurpose, code_id: String },
    /// A social sign-in at the connector `connector_id`: started (what its callback needs), then verified (the
    /// identity the provider vouched for). Proves no identity of the holder; it names an identity to link.
    Social { connector_id: String, ceremony: SocialCeremony },
    /// A passkey registration: started (the ceremony's state), then verified (the credential to bind). Proves no
    /// identity of the holder; it names a credential to add.
    WebAuthn(PasskeyRegistration),
}

impl RecordKind {
    /// Logto's record type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Password => "Password",
            Self::Code { recipient: CodeRecipient::Email(_), .. } => "EmailVerificationCode",
            Self::Code { recipient: CodeRecipient::Phone(_), .. } => "PhoneVerificationCode",
            Self::Social { .. } => "Social",
            Self::WebAuthn(_) => "WebAuthn",
        }
    }
}

/// The holder of an Account API token: the user and the session the token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHolder<'a> {
    pub user_id: &'a UserId,
    pub session_id: &'a str,
}

/// A stored record. `id` is a 21-character entity id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRecord {
    pub id: String,
    pub user_id: UserId,
    pub session_id: String,
    pub kind: RecordKind,
    pub verified: bool,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl VerificationRecord {
    /// A record for `holder`, living [`RECORD_TTL_SECS`] from `now`.
    pub fn new(id: String, holder: RecordHolder<'_>, kind: RecordKind, verified: bool, now: Timestamp) -> Self {
        Self {
            id,
            user_id: holder.user_id.clone(),
            session_id: holder.session_id.to_owned(),
            kind,
            verified,
            created_at: now,
            expires_at: now.plus_secs(RECORD_TTL_SECS),
        }
    }

    /// Unexpired and the holder's own (same user, same session), verified or not: a ceremony in progress.
    pub fn is_open_to(&self, holder: RecordHolder<'_>, now: Timestamp) -> bool {
        self.expires_at > now && self.user_id == *holder.user_id && self.session_id == holder.session_id
    }

    /// Unexpired, verified, and the holder's own (same user, same session).
    fn is_usable_by(&self, holder: RecordHolder<'_>, now: Timestamp) -> bool {
        self.verified && self.is_open_to(holder, now)
    }

    /// Logto's identity check for sensitive changes: a password record, or a code sent to the user's own email or
    /// phone for `UserPermissionValidation`; made after the user's last password change.
    pub fn proves_identity(&self, holder: RecordHolder<'_>, user: &User, now: Timestamp) -> bool {
        let proof = match &self.kind {
            RecordKind::Password => true,
            RecordKind::Code { purpose, .. } => *purpose == CodePurpose::UserPermissionValidation,
            RecordKind::Social { .. } => false,
            RecordKind::WebAuthn(_) => false,
        };
        let after_password_change = user.password_updated_at.is_none_or(|changed| self.created_at > changed);
        proof && after_password_change && user.id == *holder.user_id && self.is_usable_by(holder, now)
    }

    /// Proof that the holder received a code at `recipient`, an identifier they are adding.
    pub fn proves_new_identifier(&self, holder: RecordHolder<'_>, recipient: &CodeRecipient, now: Timestamp) -> bool {
        let proof = matches!(
            &self.kind,
            RecordKind::Code { recipient: sent_to, purpose: CodePurpose::BindNewIdentifier, .. }
                if sent_to.same_as(recipient)
        );
        proof && self.is_usable_by(holder, now)
    }
}

/// Where records are kept, shared by every instance through the database.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait VerificationRecordRepository: Send + Sync {
    /// Stores a record and forgets records expired at its `created_at`. `NotFound` when the user does not exist.
    async fn insert(&self, record: &VerificationRecord) -> Result<(), RepoError>;
    async fn find(&self, id: &str) -> Result<Option<VerificationRecord>, RepoError>;
    /// Marks the record verified, storing `kind` as what it now proves (a ceremony's second step replaces the state
    /// its first step kept with the result); `NotFound` when there is no such record.
    async fn mark_verified(&self, id: &str, kind: &RecordKind) -> Result<(), RepoError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identifiers::Email;

    const NOW: Timestamp = Timestamp::from_secs(10_000);

    fn user() -> User {
        User::new(UserId::parse("useruseruser").unwrap(), Timestamp::from_secs(1))
    }

    fn email(value: &str) -> CodeRecipient {
        CodeRecipient::Email(Email::parse(value).unwrap())
    }

    fn code(purpose: CodePurpose, to: &str) -> RecordKind {
        RecordKind::Code { recipient: email(to), purpose, code_id: "code".to_owned() }
    }

    fn record(kind: RecordKind, verified: bool) -> VerificationRecord {
        let user = user();
        VerificationRecord::new(
            "r".repeat(21),
            RecordHolder { user_id: &user.id, session_id: "s1" },
            kind,
            verified,
            NOW,
        )
    }

    #[test]
    fn a_password_or_own_code_record_proves_identity_to_its_own_session_for_ten_minutes() {
        let user = user();
        let holder = RecordHolder { user_id: &user.id, session_id: "s1" };
        for kind in [RecordKind::Password, code(CodePurpose::UserPermissionValidation, "me@example.com")] {
            let record = record(kind, true);
            assert!(record.proves_identity(holder, &user, NOW.plus_secs(599)), "{record:?}");
            assert!(!record.proves_identity(holder, &user, NOW.plus_secs(600)), "expired: {record:?}");
            let other_session = RecordHolder { user_id: &user.id, session_id: "s2" };
            assert!(!record.proves_identity(other_session, &user, NOW), "another session: {record:?}");
            let stranger = UserId::parse("someoneelse1").unwrap();
            let other_user = RecordHolder { user_id: &stranger, session_id: "s1" };
            assert!(!record.proves_identity(other_user, &user, NOW), "another user: {record:?}");
        }
    }

    #[test]
    fn unverified_new_identifier_and_mfa_records_prove_no_identity() {
        let user = user();
        let holder = RecordHolder { user_id: &user.id, session_id: "s1" };
        for (kind, verified) in [
            (code(CodePurpose::UserPermissionValidation, "me@example.com"), false),
            (code(CodePurpose::BindNewIdentifier, "new@example.com"), true),
            (code(CodePurpose::BindMfa, "me@example.com"), true),
        ] {
            assert!(!record(kind.clone(), verified).proves_identity(holder, &user, NOW), "{kind:?}");
        }
    }

    #[test]
    fn a_password_change_after_the_record_ends_it() {
        let mut user = user();
        let record = record(RecordKind::Password, true);
        user.password_updated_at = Some(NOW.plus_secs(-1));
        assert!(record.proves_identity(RecordHolder { user_id: &user.id, session_id: "s1" }, &user, NOW));
        user.password_updated_at = Some(NOW);
        assert!(!record.proves_identity(RecordHolder { user_id: &user.id, session_id: "s1" }, &user, NOW));
    }

    #[test]
    fn a_new_identifier_record_proves_only_its_own_verified_address() {
        let user = user();
        let holder = RecordHolder { user_id: &user.id, session_id: "s1" };
        let record = record(code(CodePurpose::BindNewIdentifier, "new@example.com"), true);
        assert!(record.proves_new_identifier(holder, &email("new@example.com"), NOW));
        assert!(record.proves_new_identifier(holder, &email("NEW@example.com"), NOW), "emails compare case-blind");
        assert!(!record.proves_new_identifier(holder, &email("other@example.com"), NOW));
        assert!(!record.proves_new_identifier(
            RecordHolder { session_id: "s2", ..holder },
            &email("new@example.com"),
            NOW
        ));
        let unverified = VerificationRecord { verified: false, ..record };
        assert!(!unverified.proves_new_identifier(holder, &email("new@example.com"), NOW));
        let own = self::record(code(CodePurpose::UserPermissionValidation, "new@example.com"), true);
        assert!(!own.proves_new_identifier(holder, &email("new@example.com"), NOW));
    }
}
