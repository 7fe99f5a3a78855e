//! Account use cases: creating users, checking and changing passwords (with transparent upgrade of imported
//! hashes), and binding and using second factors.

use std::sync::Arc;

use thiserror::Error;

use crate::audit::{AuditContext, AuditEntry, keys};
use crate::clock::{Clock, Timestamp};
use crate::identifiers::{Email, Phone, Username};
use crate::ids::{IdGenerator, UserId};
use crate::mfa::{
    self, BackupCodeSet, MfaError, MfaFactor, MfaFactorKind, MfaFactorType, TotpFactor, WebAuthnCredential,
};
use crate::password::{
    PasswordCheck, PasswordError, PasswordHasher, PasswordPolicy, PasswordUserInfo, PlainPassword, PolicyIssue,
    StoredPassword, import,
};
use crate::ports::{Conflict, RepoError, UserChange, UserRepository};
use crate::secret_box::{SecretBox, SecretBoxError};
use crate::session::{RevokeReason, SessionStart};
use crate::user::{CustomData, Profile, User, Version};
use serde_json::{Map, Value};

/// How many times a use case re-reads and re-applies its change when a concurrent writer got in first.
const MAX_WRITE_ATTEMPTS: usize = 3;

/// The ports the account use cases need.
#[derive(Clone)]
pub struct Ports {
    pub users: Arc<dyn UserRepository>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub secrets: Arc<dyn SecretBox>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ports { .. }")
    }
}

#[derive(Debug, Error)]
pub enum AccountError {
    #[error("user not found")]
    UserNotFound,
    #[error("username already in use")]
    UsernameInUse,
    #[error("email already in use")]
    EmailInUse,
    #[error("phone already in use")]
    PhoneInUse,
    /// Someone else changed the user since it was read; nothing was written.
    #[error("the user was changed concurrently")]
    VersionConflict,
    /// The caller named the version it expects (`If-Match`) and the user is no longer at it; nothing was written.
    #[error("the user is no longer at the expected version")]
    PreconditionFailed,
    #[error("wrong identifier or password")]
    InvalidCredentials,
    #[error("the user is suspended")]
    Suspended,
    #[error("the password does not meet the policy")]
    PasswordRejected(Vec<PolicyIssue>),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Mfa(#[from] MfaError),
    #[error(transparent)]
    CustomData(crate::user::CustomDataError),
    /// Another user has this social identity.
    #[error("the social identity is linked to another user")]
    IdentityInUse,
    /// The user has no social identity at this target.
    #[error("the user has no social identity at this target")]
    IdentityNotFound,
    #[error("secret storage failed: {0}")]
    SecretBox(#[from] SecretBoxError),
    #[error("storage failed: {0}")]
    Storage(String),
}

impl AccountError {
    /// Logto's answer to this refusal: HTTP status, error code and message. The one table both API crates answer
    /// from; failures of the service itself (storage, hashing, sealing) get a generic message, their cause is for
    /// the log.
    pub fn logto_error(&self) -> (u16, &'static str, &'static str) {
        const UNAVAILABLE: &str = "The service is temporarily unavailable. Please try again later.";
        const INTERNAL: &str = "Internal server error.";
        match self {
            AccountError::UserNotFound => (404, "entity.not_found", "The resource does not exist."),
            AccountError::UsernameInUse => (422, "user.username_already_in_use", "This username is already in use."),
            AccountError::EmailInUse => {
                (422, "user.email_already_in_use", "This email is associated with an existing account.")
            }
            AccountError::PhoneInUse => {
                (422, "user.phone_already_in_use", "This phone number is associated with an existing account.")
            }
            AccountError::VersionConflict => (
                409,
                "entity.concurrent_update",
                "The entity was changed by another request at the same time. Please try again.",
            ),
            AccountError::PreconditionFailed => (
                412,
                "request.precondition_failed",
                "The resource was changed after the version named in If-Match was read. Read it again and retry.",
            ),
            AccountError::InvalidCredentials => (422, "session.invalid_credentials", "Wrong identifier or password."),
            AccountError::Suspended => (401, "user.suspended", "This account has been suspended."),
            AccountError::PasswordRejected(_) => (422, "password.rejected", "The password does not meet the policy."),
            AccountError::Password(
                PasswordError::MalformedDigest { .. } | PasswordError::UnsupportedLegacyAlgorithm(_),
            ) => (400, "user.invalid_password_digest", "The password digest is invalid for its algorithm."),
            AccountError::Password(PasswordError::CostOutOfBounds { .. }) => (
                400,
                "user.password_digest_cost_out_of_bounds",
                "The password digest asks for more work than this server allows.",
            ),
            AccountError::CustomData(_) => (400, "guard.invalid_input", "The request body is invalid."),
            AccountError::IdentityInUse => (
                422,
                "user.identity_already_in_use",
                "The social account has been associated with an existing account.",
            ),
            AccountError::IdentityNotFound => {
                (404, "user.identity_not_exist", "The social account has not been registered yet.")
            }
            AccountError::Mfa(error) if error.is_internal() => (500, "unexpected_error", INTERNAL),
            AccountError::Mfa(MfaError::FactorNotFound) => (404, "entity.not_found", "The resource does not exist."),
            AccountError::Mfa(
                error @ (MfaError::TotpAlreadyInUse
                | MfaError::WrongBackupCodeFormat
                | MfaError::BackupCodeAlreadyInUse
                | MfaError::BackupCodeCanNotBeAlone),
            ) => (422, error.logto_code(), "The MFA factor cannot be bound."),
            AccountError::Mfa(error) => (400, error.logto_code(), "The MFA request is invalid."),
            AccountError::Password(PasswordError::Hashing(_)) | AccountError::SecretBox(_) => {
                (500, "unexpected_error", INTERNAL)
            }
            AccountError::Storage(_) => (503, "service_unavailable", UNAVAILABLE),
        }
    }
}

impl From<RepoError> for AccountError {
    fn from(error: RepoError) -> Self {
        match error {
            RepoError::NotFound => AccountError::UserNotFound,
            RepoError::Conflict(Conflict::Username) => AccountError::UsernameInUse,
            RepoError::Conflict(Conflict::Email) => AccountError::EmailInUse,
            RepoError::Conflict(Conflict::Phone) => AccountError::PhoneInUse,
            RepoError::Conflict(Conflict::Version) => AccountError::VersionConflict,
            // A generated id collided: vanishingly rare, and the caller may simply retry.
            RepoError::Conflict(Conflict::Id) => AccountError::Storage("generated id collided".into()),
            // Users have no owned names; only another aggregate's repository reports this.
            RepoError::Conflict(Conflict::Name) => AccountError::Storage("unexpected name conflict".into()),
            RepoError::Unavailable(message) => AccountError::Storage(message),
        }
    }
}

/// A password for a new user: typed by a person, or imported as a foreign hash.
#[derive(Debug, Clone)]
pub enum NewPassword {
    Plain(PlainPassword),
    Imported(StoredPassword),
}

/// What `POST /api/users` may set. Identifiers arrive validated (their types only hold valid values).
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: Option<Username>,
    pub primary_email: Option<Email>,
    pub primary_phone: Option<Phone>,
    pub name: Option<String>,
    pub avatar: Option<String>,
    pub profile: Profile,
    pub custom_data: CustomData,
    pub password: Option<NewPassword>,
}

/// A TOTP secret offered to the user before binding, with the URI authenticator apps scan.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    pub secret: String,
    pub otpauth_uri: String,
}

/// Account use cases. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AccountService {
    ports: Ports,
}

impl AccountService {
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// The id source of the accounts' entities, for the sign-in service's new sessions.
    pub(crate) fn ids(&self) -> &dyn IdGenerator {
        self.ports.ids.as_ref()
    }

    /// Creates a user. Identifiers must be free; an imported hash must be well-formed and within our cost bounds.
    /// No password policy applies here: the Management API does not apply one (as Logto); callers that must apply
    /// it call [`PasswordPolicy::check`] first.
    pub async fn create_user(&self, new_user: NewUser, context: &AuditContext) -> Result<User, AccountError> {
        self.ensure_identifiers_free(None, &new_user.username, &new_user.primary_email, &new_user.primary_phone)
            .await?;
        let now = self.ports.clock.now();
        let password = match new_user.password {
            None => None,
            Some(NewPassword::Plain(plain)) => Some(self.ports.hasher.hash(&plain).await?),
            Some(NewPassword::Imported(stored)) => {
                import::validate_digest(&stored)?;
                Some(stored)
            }
        };
        let mut user = User::new(self.ports.ids.user_id(), now);
        user.username = new_user.username;
        user.primary_email = new_user.primary_email;
        user.primary_phone = new_user.primary_phone;
        user.name = new_user.name;
        user.avatar = new_user.avatar;
        user.profile = new_user.profile;
        user.custom_data = new_user.custom_data;
        user.password_updated_at = password.as_ref().map(|_| now);
        user.password = password;
        let entry = self.entry(&user.id, keys::USER_CREATED, context, Map::new());
        self.ports.users.insert(&user, &entry).await?;
        Ok(user)
    }

    /// Checks a password for the user known by `identifier` (username, email or phone, tried in that order).
    /// Unknown users and users without a password cost one dummy verification, so that the answer and its timing
    /// do not tell whether the account exists. On success an imported or outdated hash is upgraded to argon2id.
    pub async fn check_password(
        &self,
        identifier: &str,
        password: &PlainPassword,
        context: &AuditContext,
    ) -> Result<User, AccountError> {
        let Some(user) = self.find_by_identifier(identifier).await? else {
            self.ports.hasher.dummy_verify(password).await;
            return Err(AccountError::InvalidCredentials);
        };
        let Some(stored) = user.password.clone() else {
            self.ports.hasher.dummy_verify(password).await;
            return Err(AccountError::InvalidCredentials);
        };
        match self.ports.hasher.verify(password, &stored).await? {
            PasswordCheck::Mismatch => Err(AccountError::InvalidCredentials),
            PasswordCheck::Match { needs_rehash: false } => Ok(user),
            PasswordCheck::Match { needs_rehash: true } => Ok(self.upgrade_hash(user, password, context).await),
        }
    }

    /// Checks the password of the user `id` (a user without one costs a dummy verification) and answers the user.
    pub async fn verify_password(&self, id: &UserId, password: &PlainPassword) -> Result<User, AccountError> {
        let user = self.load(id).await?;
        let Some(stored) = user.password.clone() else {
            self.ports.hasher.dummy_verify(password).await;
            return Err(AccountError::InvalidCredentials);
        };
        match self.ports.hasher.verify(password, &stored).await? {
            PasswordCheck::Match { .. } => Ok(user),
            PasswordCheck::Mismatch => Err(AccountError::InvalidCredentials),
        }
    }

    /// Replaces the password. With a policy, the password must pass it (the issues are returned otherwise).
    pub async fn set_password(
        &self,
        user_id: &UserId,
        password: &PlainPassword,
        policy: Option<&PasswordPolicy>,
        write: UserWrite<'_>,
    ) -> Result<User, AccountError> {
        let user = self.load(user_id).await?;
        if let Some(policy) = policy {
            let issues = policy.check(password.expose(), &user_info(&user));
            if !issues.is_empty() {
                return Err(AccountError::PasswordRejected(issues));
            }
        }
        let stored = self.ports.hasher.hash(password).await?;
        let now = self.ports.clock.now();
        self.update_with_retry(user, write.logged(keys::USER_PASSWORD_UPDATED), |user| {
            user.password = Some(stored.clone());
            user.password_updated_at = Some(now);
            user.is_password_expired = false;
            Ok(())
        })
        .await
    }

    /// Offers a fresh TOTP secret. Nothing is stored until [`Self::bind_totp`] proves the user's app has it.
    pub async fn start_totp_enrolment(&self, user_id: &UserId, issuer: &str) -> Result<TotpEnrolment, AccountError> {
        let user = self.load(user_id).await?;
        let secret = mfa::totp::generate_secret();
        let account_name = account_label(&user);
        let otpauth_uri = mfa::totp::otpauth_uri(&secret, issuer, &account_name)?;
        Ok(TotpEnrolment { secret, otpauth_uri })
    }

    /// Binds a TOTP factor once `code` proves the authenticator holds `secret`. The secret is sealed at rest and
    /// the code's time step is recorded, so the same code cannot be replayed right after enrolment.
    pub async fn bind_totp(
        &self,
        user_id: &UserId,
        secret: &str,
        code: &str,
        enabled_factors: &[MfaFactorType],
        context: &AuditContext,
    ) -> Result<User, AccountError> {
        let mut totp = TotpFactor::seal(secret, self.ports.secrets.as_ref())?;
        let now = self.ports.clock.now();
        totp.record_step(mfa::totp::verify_code(secret, code, now, None)?);
        let user = self.load(user_id).await?;
        self.bind_factor(user, MfaFactorKind::Totp(totp), Some(now), enabled_factors, UserWrite::new(context)).await
    }

    /// Binds `secret` as the user's TOTP factor without a code from the user's app: an administrator provisions
    /// it and hands the secret over. Checked in Logto's order: the factor rules, then the secret's format.
    pub async fn bind_totp_secret(
        &self,
        user_id: &UserId,
        secret: &str,
        enabled_factors: &[MfaFactorType],
        write: UserWrite<'_>,
    ) -> Result<User, AccountError> {
        let user = self.load(user_id).await?;
        mfa::check_can_bind(&user.mfa_factors, MfaFactorType::Totp, enabled_factors)?;
        let totp = TotpFactor::seal(secret, self.ports.secrets.as_ref())?;
        self.bind_factor(user, MfaFactorKind::Totp(totp), None, enabled_factors, write).await
    }

    /// Binds a new factor under a fresh id, if the rules allow it on the user as stored at write time, and turns
    /// MFA on for the user (`logtoConfig.mfa.enabled`) as Logto's binding does.
    async fn bind_factor(
        &self,
        user: User,
        kind: MfaFactorKind,
        last_used_at: Option<Timestamp>,
        enabled_factors: &[MfaFactorType],
        write: UserWrite<'_>,
    ) -> Result<User, AccountError> {
        let factor_type = kind.factor_type();
        let factor =
            MfaFactor { id: self.ports.ids.entity_id(), created_at: self.ports.clock.now(), last_used_at, kind };
        let write = write.with_details(mfa_details("added", factor_type));
        self.update_with_retry(user, write.logged(keys::USER_MFA_UPDATED), |user| {
            // A new backup-code set replaces a used-up one; the rules refuse while a live set exists or if it
            // would be the only factor.
            mfa::rules::bind(&mut user.mfa_factors, factor.clone(), enabled_factors)?;
            user.logto_config.mfa.enabled = Some(true);
            Ok(())
        })
        .await
    }

    /// Removes the factor `factor_id`, and the backup codes with it when no other factor would be left (see
    /// [`mfa::rules::remove`]). `Mfa(FactorNotFound)` when the user has no such factor.
    pub async fn remove_mfa_factor(
        &self,
        user_id: &UserId,
        factor_id: &str,
        write: UserWrite<'_>,
    ) -> Result<User, AccountError> {
        let user = self.load(user_id).await?;
        let factor_type = user
            .mfa_factors
            .iter()
            .find(|factor| factor.id == factor_id)
            .map(MfaFactor::factor_type)
            .ok_or(MfaError::FactorNotFound)?;
        let write = write.with_details(mfa_details("removed", factor_type));
        self.update_with_retry(user, write.logged(keys::USER_MFA_UPDATED), |user| {
            mfa::rules::remove(&mut user.mfa_factors, factor_id)?;
            Ok(())
        })
        .await
    }

    /// Binds `secret` as the user's TOTP factor once `code` proves the authenticator holds it, in place of the
    /// TOTP factor the user has, or as a new one (`PUT /my-account/mfa-verifications/totp`; see
    /// [`mfa::rules::replace_totp`]). Checked in Logto's order: enabled, then the secret's format, then the code.
    pub async fn replace_totp(
        &self,
        user_id: &UserId,
        secret: &str,
        code: &str,
        enabled_factors: &[MfaFactorType],
        write: UserWrite<'_>,
    ) -> Result<User, AccountError> {
        if !mfa::EnabledFactors::from(enabled_factors).allows(MfaFactorType::Totp) {
            return Err(MfaError::FactorNotEnabled.into());
        }
        let mut totp = TotpFactor::seal(secret, self.ports.secrets.as_ref())?;
        let now = self.ports.clock.now();
        totp.record_step(mfa::totp::verify_code(secret, code, now, None)?);
        let user = self.load(user_id).await?;
        let id = self.ports.ids.entity_id();
        let write = write.with_details(mfa_details("replaced", MfaFactorType::Totp));
        self.update_with_retry(user, write.logged(keys::USER_MFA_UPDATED), |user| {
            mfa::rules::replace_totp(&mut user.mfa_factors, id.clone(), now, totp.clone(), enabled_factors)?;
            user.logto_config.mfa.enabled = Some(true);
            Ok(())
        })
        .await
    }

    /// The user's backup codes in clear with when each was used (`GET /my-account/mfa-verifications/backup-codes`),
    /// or `None` when the user has no backup-code set.
    pub async fn reveal_backup_codes(
        &self,
        user_id: &UserId,
    ) -> Result<Option<Vec<mfa::view::BackupCodeView>>, AccountError> {
        let user = self.load(user_id).await?;
        let Some(set) = user.mfa_factors.iter().find_map(|factor| match &factor.kind {
            MfaFactorKind::BackupCode(set) => Some(set),
            _ => None,
        }) else {
            return Ok(None);
        };
        let codes = set.reveal(self.ports.secrets.as_ref())?;
        Ok(Some(codes.into_iter().map(|(code, used_at)| mfa::view::BackupCodeView::new(code, used_at)).collect()))
    }

    /// Records a completed sign-in (`lastSignInAt`) and stores its new session with it, in one write. A user
    /// suspended while the sign-in checked the password (seen when the write meets the newer version) gets no
    /// session: `Suspended`.
    pub async fn record_sign_in(
        &self,
        user: User,
        session: SessionStart,
        context: &AuditContext,
    ) -> Result<User, AccountError> {
        let now = self.ports.clock.now();
        let write = UserWrite::new(context).starting_session(session).logged(keys::USER_SIGNED_IN);
        self.update_with_retry(user, write, |user| {
            if user.is_suspended {
                return Err(AccountError::Suspended);
            }
            user.last_sign_in_at = Some(now);
            Ok(())
        })
        .await
    }

    /// Checks a TOTP code for the user's bound factor and records its step (replay guard).
    pub async fn verify_totp(
        &self,
        user_id: &UserId,
        code: &str,
        context: &AuditContext,
    ) -> Result<User, AccountError> {
        self.use_factor(user_id, MfaFactorType::Totp, context, |kind, now, secrets| match kind {
            MfaFactorKind::Totp(totp) => totp.verify(code, now, secrets).map(drop),
            _ => Err(MfaError::FactorNotFound),
        })
        .await
    }

    /// Generates and binds a set of backup codes, returning them in clear this once.
    pub async fn generate_backup_codes(
        &self,
        user_id: &UserId,
        enabled_factors: &[MfaFactorType],
        context: &AuditContext,
    ) -> Result<(User, Vec<String>), AccountError> {
        let codes = mfa::backup_codes::generate_codes();
        let user = self.bind_backup_codes(user_id, &codes, enabled_factors, UserWrite::new(context)).await?;
        Ok((user, codes))
    }

    /// Binds `codes` as the user's backup codes. Checked in Logto's order: the factor rules, then the codes'
    /// format (exactly [`mfa::BACKUP_CODE_COUNT`] codes of 10 hexadecimal characters).
    pub async fn bind_backup_codes(
        &self,
        user_id: &UserId,
        codes: &[String],
        enabled_factors: &[MfaFactorType],
        write: UserWrite<'_>,
    ) -> Result<User, AccountError> {
        let user = self.load(user_id).await?;
        mfa::check_can_bind(&user.mfa_factors, MfaFactorType::BackupCode, enabled_factors)?;
        let set = BackupCodeSet::seal(codes, self.ports.secrets.as_ref())?;
        self.bind_factor(user, MfaFactorKind::BackupCode(set), None, enabled_factors, write).await
    }

    /// Binds a passkey the user registered (a verified WebAuthn verification record's credential) under `name`.
    /// The factor rules apply as for the other factors (WebAuthn enabled in the sign-in experience); a credential
    /// the user already has is refused as `Mfa(FactorNotFound)`, Logto's `verification_record.not_found`: the
    /// record no longer names a new credential.
    pub async fn bind_webauthn(
        &self,
        user_id: &UserId,
        mut credential: WebAuthnCredential,
        name: Option<String>,
        enabled_factors: &[MfaFactorType],
        write: UserWrite<'_>,
    ) -> Result<User, AccountError> {
        let user = self.load(user_id).await?;
        mfa::check_can_bind(&user.mfa_factors, MfaFactorType::WebAuthn, enabled_factors)?;
        credential.name = name;
        let credential_id = credential.credential_id.clone();
        let factor = MfaFactor {
            id: self.ports.ids.entity_id(),
            created_at: self.ports.clock.now(),
            last_used_at: None,
            kind: MfaFactorKind::WebAuthn(credential),
        };
        let write = write.with_details(mfa_details("added", MfaFactorType::WebAuthn));
        self.update_with_retry(user, write.logged(keys::USER_MFA_UPDATED), |user| {
            if has_webauthn_credential(user, &credential_id) {
                return Err(MfaError::FactorNotFound.into());
            }
            mfa::rules::bind(&mut user.mfa_factors, factor.clone(), enabled_factors)?;
            user.logto_config.mfa.enabled = Some(true);
            Ok(())
        })
        .await
    }

    /// Renames the user's passkey `factor_id` (`PATCH /my-account/mfa-verifications/:id/name`); only WebAuthn
    /// factors have names, so any other id is `Mfa(FactorNotFound)`.
    pub async fn rename_webauthn(
        &self,
        user_id: &UserId,
        factor_id: &str,
        name: &str,
        write: UserWrite<'_>,
    ) -> Result<User, AccountError> {
        let user = self.load(user_id).await?;
        let write = write.with_details(mfa_details("renamed", MfaFactorType::WebAuthn));
        self.update_with_retry(user, write.logged(keys::USER_MFA_UPDATED), |user| {
            let credential = user
                .mfa_factors
                .iter_mut()
                .filter(|factor| factor.id == factor_id)
                .find_map(|factor| match &mut factor.kind {
                    MfaFactorKind::WebAuthn(credential) => Some(credential),
                    _ => None,
                })
                .ok_or(MfaError::FactorNotFound)?;
            credential.rename(name);
            Ok(())
        })
        .await
    }

    /// Uses one backup code; each code works once.
    pub async fn use_backup_code(
        &self,
        user_id: &UserId,
        code: &str,
        context: &AuditContext,
    ) -> Result<User, AccountError> {
        self.use_factor(user_id, MfaFactorType::BackupCode, context, |kind, now, secrets| match kind {
            MfaFactorKind::BackupCode(set) => set.consume(code, now, secrets),
            _ => Err(MfaError::FactorNotFound),
        })
        .await
    }

    /// Verifies with the user's factor of `factor_type` and stores what the verification changed (TOTP step,
    /// used backup code, last use) with a version check, so that two concurrent uses of one code cannot both win.
    async fn use_factor<F>(
        &self,
        user_id: &UserId,
        factor_type: MfaFactorType,
        context: &AuditContext,
        verify: F,
    ) -> Result<User, AccountError>
    where
        F: Fn(&mut MfaFactorKind, Timestamp, &dyn SecretBox) -> Result<(), MfaError>,
    {
        let user = self.load(user_id).await?;
        let now = self.ports.clock.now();
        let write = UserWrite::new(context).with_details(mfa_details("used", factor_type));
        self.update_with_retry(user, write.logged(keys::USER_MFA_UPDATED), |user| {
            let factor = user
                .mfa_factors
                .iter_mut()
                .find(|factor| factor.factor_type() == factor_type)
                .ok_or(MfaError::FactorNotFound)?;
            verify(&mut factor.kind, now, self.ports.secrets.as_ref())?;
            factor.record_use(now);
            Ok(())
        })
        .await
    }

    pub(crate) async fn load(&self, user_id: &UserId) -> Result<User, AccountError> {
        self.ports.users.find_by_id(user_id).await?.ok_or(AccountError::UserNotFound)
    }

    async fn find_by_identifier(&self, identifier: &str) -> Result<Option<User>, AccountError> {
        let users = &self.ports.users;
        if let Ok(username) = Username::parse(identifier)
            && let Some(user) = users.find_by_username(&username).await?
        {
            return Ok(Some(user));
        }
        if let Ok(email) = Email::parse(identifier)
            && let Some(user) = users.find_by_email(&email).await?
        {
            return Ok(Some(user));
        }
        if let Ok(phone) = Phone::parse(identifier) {
            return Ok(users.find_by_phone(&phone).await?);
        }
        Ok(None)
    }

    /// Stores a fresh argon2id hash after a successful check against an outdated one. A failure here must not
    /// fail the sign-in that triggered it: the next successful check tries again.
    async fn upgrade_hash(&self, user: User, password: &PlainPassword, context: &AuditContext) -> User {
        let Ok(stored) = self.ports.hasher.hash(password).await else { return user };
        let mut upgraded = user.clone();
        upgraded.password = Some(stored);
        let details = crate::audit::details([("reason", Value::from("rehash"))]);
        let change = UserChange::logged(self.entry(&user.id, keys::USER_PASSWORD_UPDATED, context, details));
        match self.ports.users.update(&upgraded, &change).await {
            Ok(saved) => saved,
            Err(_) => user,
        }
    }

    pub(crate) async fn ensure_identifiers_free(
        &self,
        own_id: Option<&UserId>,
        username: &Option<Username>,
        email: &Option<Email>,
        phone: &Option<Phone>,
    ) -> Result<(), AccountError> {
        let taken_by_other = |found: Option<User>| found.is_some_and(|user| Some(&user.id) != own_id);
        if let Some(username) = username
            && taken_by_other(self.ports.users.find_by_username(username).await?)
        {
            return Err(AccountError::UsernameInUse);
        }
        if let Some(email) = email
            && taken_by_other(self.ports.users.find_by_email(email).await?)
        {
            return Err(AccountError::EmailInUse);
        }
        if let Some(phone) = phone
            && taken_by_other(self.ports.users.find_by_phone(phone).await?)
        {
            return Err(AccountError::PhoneInUse);
        }
        Ok(())
    }

    /// Applies `change` to the user and writes it, with its audit entry, under a version check. When another
    /// writer got in first, the user is read again and the change re-applied (and re-validated) on the fresh copy,
    /// a bounded number of times, unless the caller named the version it expects: then the answer is
    /// `PreconditionFailed` and nothing is written.
    pub(crate) async fn update_with_retry<F>(
        &self,
        mut user: User,
        write: LoggedWrite<'_>,
        mut change: F,
    ) -> Result<User, AccountError>
    where
        F: FnMut(&mut User) -> Result<(), AccountError>,
    {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            if write.write.expected.is_some_and(|expected| expected != user.version) {
                return Err(AccountError::PreconditionFailed);
            }
            let mut changed = user.clone();
            change(&mut changed)?;
            changed.updated_at = self.ports.clock.now();
            let entry = self.entry(&user.id, write.key, write.write.context, write.write.details.clone());
            let change = UserChange {
                entry,
                end_sessions: write.write.end_sessions,
                start_session: write.write.start_session.clone(),
            };
            match self.ports.users.update(&changed, &change).await {
                Ok(saved) => return Ok(saved),
                Err(RepoError::Conflict(Conflict::Version)) => user = self.load(&user.id).await?,
                Err(other) => return Err(other.into()),
            }
        }
        Err(if write.write.expected.is_some() {
            AccountError::PreconditionFailed
        } else {
            AccountError::VersionConflict
        })
    }

    /// An audit entry about `user_id`, stamped now.
    pub(crate) fn entry(
        &self,
        user_id: &UserId,
        key: &str,
        context: &AuditContext,
        details: Map<String, Value>,
    ) -> AuditEntry {
        AuditEntry::about(self.ports.ids.entity_id(), key, user_id, context, details, self.ports.clock.now())
    }

    pub(crate) fn ports(&self) -> &Ports {
        &self.ports
    }
}

/// How a change to a user is written: who makes it (for the audit log), what the log should say about it, the
/// version the caller expects (`If-Match`), and whether it ends the user's sessions.
#[derive(Debug, Clone)]
pub struct UserWrite<'a> {
    context: &'a AuditContext,
    details: Map<String, Value>,
    expected: Option<Version>,
    end_sessions: Option<RevokeReason>,
    start_session: Option<SessionStart>,
}

impl<'a> UserWrite<'a> {
    pub fn new(context: &'a AuditContext) -> Self {
        Self { context, details: Map::new(), expected: None, end_sessions: None, start_session: None }
    }

    /// Refuse the write unless the user is still at `version` (`None` accepts any version).
    #[must_use]
    pub fn expecting(mut self, version: Option<Version>) -> Self {
        self.expected = version;
        self
    }

    #[must_use]
    pub fn with_details(mut self, details: Map<String, Value>) -> Self {
        self.details = details;
        self
    }

    #[must_use]
    pub(crate) fn ending_sessions(mut self, reason: RevokeReason) -> Self {
        self.end_sessions = Some(reason);
        self
    }

    #[must_use]
    pub(crate) fn starting_session(mut self, session: SessionStart) -> Self {
        self.start_session = Some(session);
        self
    }

    pub(crate) fn logged(self, key: &'static str) -> LoggedWrite<'a> {
        LoggedWrite { write: self, key }
    }

    pub(crate) fn context(&self) -> &'a AuditContext {
        self.context
    }

    pub(crate) fn expected(&self) -> Option<Version> {
        self.expected
    }
}

/// A [`UserWrite`] with its audit key.
#[derive(Debug, Clone)]
pub(crate) struct LoggedWrite<'a> {
    write: UserWrite<'a>,
    key: &'static str,
}

/// Whether the user already has a passkey with this credential id.
pub(crate) fn has_webauthn_credential(user: &User, credential_id: &str) -> bool {
    user.mfa_factors.iter().any(|factor| {
        matches!(&factor.kind, MfaFactorKind::WebAuthn(credential) if credential.credential_id == credential_id)
    })
}

fn mfa_details(action: &str, factor: MfaFactorType) -> Map<String, Value> {
    crate::audit::details([("action", Value::from(action)), ("factor", Value::from(factor.as_str()))])
}

fn user_info(user: &User) -> PasswordUserInfo {
    PasswordUserInfo {
        username: user.username.as_ref().map(|username| username.as_str().to_owned()),
        email: user.primary_email.as_ref().map(|email| email.as_str().to_owned()),
        phone: user.primary_phone.as_ref().map(|phone| phone.as_str().to_owned()),
        name: user.name.clone(),
    }
}

/// The account name shown in authenticator apps: the most recognisable identifier the user has.
pub(crate) fn account_label(user: &User) -> String {
    user.primary_email
        .as_ref()
        .map(|email| email.as_str().to_owned())
        .or_else(|| user.username.as_ref().map(|username| username.as_str().to_owned()))
        .or_else(|| user.primary_phone.as_ref().map(|phone| phone.as_str().to_owned()))
        .unwrap_or_else(|| user.id.as_str().to_owned())
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::clock::FixedClock;
    use crate::ids::RandomIds;
    use crate::password::PasswordAlgorithm;
    use crate::password::hasher::MockPasswordHasher;
    use crate::ports::MockUserRepository;
    use crate::secret_box::AesGcmSecretBox;
    use crate::service::test_support::repository_holding;
    use crate::user::Version;

    fn ctx() -> AuditContext {
        AuditContext::system()
    }

    const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    fn secrets() -> Arc<dyn SecretBox> {
        Arc::new(AesGcmSecretBox::single("test", [7; 32]).unwrap())
    }

    fn service(users: MockUserRepository, hasher: MockPasswordHasher) -> AccountService {
        AccountService::new(Ports {
            users: Arc::new(users),
            hasher: Arc::new(hasher),
            clock: Arc::new(FixedClock(NOW)),
            ids: Arc::new(RandomIds),
            secrets: secrets(),
        })
    }

    fn argon2id() -> StoredPassword {
        StoredPassword { algorithm: PasswordAlgorithm::Argon2id, digest: "$argon2id$fresh".into() }
    }

    fn existing_user() -> User {
        let mut user = User::new(UserId::parse("u00000000001").unwrap(), Timestamp::from_millis(0));
        user.username = Some(Username::parse("ada").unwrap());
        user
    }

    #[tokio::test]
    async fn creating_a_user_with_a_taken_email_writes_nothing() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_email().returning(|_| Ok(Some(existing_user())));
        users.expect_insert().never();
        let new_user = NewUser { primary_email: Some(Email::parse("ada@example.com").unwrap()), ..NewUser::default() };

        let result = service(users, MockPasswordHasher::new()).create_user(new_user, &ctx()).await;

        assert!(matches!(result, Err(AccountError::EmailInUse)), "{result:?}");
    }

    #[tokio::test]
    async fn creating_a_user_hashes_the_plain_password_and_stores_only_the_hash() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_username().returning(|_| Ok(None));
        users
            .expect_insert()
            .withf(|user, _| user.password == Some(argon2id()) && user.password_updated_at == Some(NOW))
            .times(1)
            .returning(|_, _| Ok(()));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_hash().times(1).returning(|_| Ok(argon2id()));
        let new_user = NewUser {
            username: Some(Username::parse("ada").unwrap()),
            password: Some(NewPassword::Plain(PlainPassword::new("correct horse"))),
            ..NewUser::default()
        };

        let user = service(users, hasher).create_user(new_user, &ctx()).await.unwrap();

        assert_eq!(user.created_at, NOW);
        assert!(user.has_password());
    }

    #[tokio::test]
    async fn importing_a_hash_of_absurd_cost_is_refused_before_anything_is_written() {
        let mut users = MockUserRepository::new();
        users.expect_insert().never();
        let absurd = StoredPassword {
            algorithm: PasswordAlgorithm::Bcrypt,
            digest: "$2b$31$abcdefghijklmnopqrstuuKhBrfRcg8nDHxCNA6BLkFjTQP.MZOae".into(),
        };
        let new_user = NewUser { password: Some(NewPassword::Imported(absurd)), ..NewUser::default() };

        let result = service(users, MockPasswordHasher::new()).create_user(new_user, &ctx()).await;

        assert!(matches!(result, Err(AccountError::Password(PasswordError::CostOutOfBounds { .. }))), "{result:?}");
    }

    #[tokio::test]
    async fn checking_the_password_of_an_unknown_user_costs_a_dummy_verification() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_username().returning(|_| Ok(None));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_dummy_verify().times(1).returning(|_| ());
        hasher.expect_verify().never();

        let result = service(users, hasher).check_password("nobody", &PlainPassword::new("guess"), &ctx()).await;

        assert!(matches!(result, Err(AccountError::InvalidCredentials)), "{result:?}");
    }

    #[tokio::test]
    async fn a_wrong_password_is_invalid_credentials_like_an_unknown_user() {
        let mut user = existing_user();
        user.password = Some(argon2id());
        let mut users = MockUserRepository::new();
        users.expect_find_by_username().returning(move |_| Ok(Some(user.clone())));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|_, _| Ok(PasswordCheck::Mismatch));

        let result = service(users, hasher).check_password("ada", &PlainPassword::new("wrong"), &ctx()).await;

        assert!(matches!(result, Err(AccountError::InvalidCredentials)), "{result:?}");
    }

    #[tokio::test]
    async fn a_successful_check_upgrades_an_imported_hash_to_argon2id() {
        let mut user = existing_user();
        user.password = Some(StoredPassword { algorithm: PasswordAlgorithm::Md5, digest: "x".into() });
        let (mut users, row) = repository_holding(user.clone());
        users.expect_find_by_username().returning(move |_| Ok(Some(user.clone())));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|_, _| Ok(PasswordCheck::Match { needs_rehash: true }));
        hasher.expect_hash().times(1).returning(|_| Ok(argon2id()));

        let signed_in = service(users, hasher).check_password("ada", &PlainPassword::new("pw"), &ctx()).await.unwrap();

        assert_eq!(signed_in.password, Some(argon2id()));
        assert_eq!(row.lock().unwrap().password, Some(argon2id()));
    }

    #[tokio::test]
    async fn a_password_that_fails_the_policy_is_refused_with_its_issues_and_not_stored() {
        let (users, row) = repository_holding(existing_user());
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_hash().never();

        let result = service(users, hasher)
            .set_password(
                &existing_user().id,
                &PlainPassword::new("short"),
                Some(&PasswordPolicy::default()),
                UserWrite::new(&ctx()),
            )
            .await;

        let Err(AccountError::PasswordRejected(issues)) = result else { panic!("expected a rejection: {result:?}") };
        assert!(issues.iter().any(|issue| issue.code == "password_rejected.too_short"), "{issues:?}");
        assert_eq!(row.lock().unwrap().password, None);
    }

    #[tokio::test]
    async fn a_concurrent_write_is_retried_on_a_fresh_read_instead_of_overwritten() {
        let (users, row) = repository_holding(existing_user());
        // Someone else renames the user after our read: our stale copy must not undo their change.
        let mut other_writer = row.lock().unwrap().clone();
        other_writer.name = Some("Ada Lovelace".into());
        other_writer.version = other_writer.version.next();
        let mut hasher = MockPasswordHasher::new();
        let row_for_hash = Arc::clone(&row);
        hasher.expect_hash().returning(move |_| {
            *row_for_hash.lock().unwrap() = other_writer.clone();
            Ok(argon2id())
        });

        let saved = service(users, hasher)
            .set_password(&existing_user().id, &PlainPassword::new("pw"), None, UserWrite::new(&ctx()))
            .await
            .unwrap();

        assert_eq!(saved.name.as_deref(), Some("Ada Lovelace"), "the other writer's change survives");
        assert_eq!(saved.password, Some(argon2id()));
        assert_eq!(saved.version, Version(3));
    }

    #[tokio::test]
    async fn a_write_that_keeps_conflicting_gives_up_with_a_version_conflict() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_id().returning(|_| Ok(Some(existing_user())));
        users.expect_update().times(MAX_WRITE_ATTEMPTS).returning(|_, _| Err(RepoError::Conflict(Conflict::Version)));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_hash().returning(|_| Ok(argon2id()));

        let result = service(users, hasher)
            .set_password(&existing_user().id, &PlainPassword::new("pw"), None, UserWrite::new(&ctx()))
            .await;

        assert!(matches!(result, Err(AccountError::VersionConflict)), "{result:?}");
    }

    #[tokio::test]
    async fn binding_totp_needs_a_right_code_and_seals_the_secret() {
        let (users, row) = repository_holding(existing_user());
        let service = service(users, MockPasswordHasher::new());
        let enrolment = service.start_totp_enrolment(&existing_user().id, "Latchkey").await.unwrap();
        assert!(enrolment.otpauth_uri.starts_with("otpauth://totp/"));
        let enabled = [MfaFactorType::Totp];

        let wrong = service.bind_totp(&existing_user().id, &enrolment.secret, "000000", &enabled, &ctx()).await;
        assert!(matches!(wrong, Err(AccountError::Mfa(MfaError::InvalidTotpCode))), "{wrong:?}");
        assert!(row.lock().unwrap().mfa_factors.is_empty(), "a wrong code binds nothing");

        let code = mfa::totp::code_at(&enrolment.secret, NOW).unwrap();
        let user = service.bind_totp(&existing_user().id, &enrolment.secret, &code, &enabled, &ctx()).await.unwrap();

        let [factor] = user.mfa_factors.as_slice() else { panic!("one factor: {:?}", user.mfa_factors) };
        let MfaFactorKind::Totp(totp) = &factor.kind else { panic!("a TOTP factor") };
        assert!(!totp.secret.0.contains(&enrolment.secret), "the secret is stored sealed");
        assert_eq!(user.logto_config.mfa.enabled, Some(true));
    }

    #[tokio::test]
    async fn a_totp_code_works_once() {
        let (users, _row) = repository_holding(existing_user());
        let service = service(users, MockPasswordHasher::new());
        let secret = mfa::totp::generate_secret();
        let enrolment_code = mfa::totp::code_at(&secret, NOW.plus_secs(-30)).unwrap();
        // Bound with the previous step's code, so the current step is still unused.
        service.bind_totp(&existing_user().id, &secret, &enrolment_code, &[MfaFactorType::Totp], &ctx()).await.unwrap();
        let code = mfa::totp::code_at(&secret, NOW).unwrap();

        service.verify_totp(&existing_user().id, &code, &ctx()).await.unwrap();
        let replay = service.verify_totp(&existing_user().id, &code, &ctx()).await;

        assert!(matches!(replay, Err(AccountError::Mfa(MfaError::TotpCodeReplayed))), "{replay:?}");
    }

    #[tokio::test]
    async fn backup_codes_need_another_factor_and_each_works_once() {
        let (users, _row) = repository_holding(existing_user());
        let service = service(users, MockPasswordHasher::new());
        let enabled = [MfaFactorType::Totp, MfaFactorType::BackupCode];

        let alone = service.generate_backup_codes(&existing_user().id, &enabled, &ctx()).await;
        assert!(matches!(alone, Err(AccountError::Mfa(MfaError::BackupCodeCanNotBeAlone))), "{alone:?}");

        let secret = mfa::totp::generate_secret();
        let code = mfa::totp::code_at(&secret, NOW).unwrap();
        service.bind_totp(&existing_user().id, &secret, &code, &enabled, &ctx()).await.unwrap();
        let (_, codes) = service.generate_backup_codes(&existing_user().id, &enabled, &ctx()).await.unwrap();
        assert_eq!(codes.len(), 10);

        service.use_backup_code(&existing_user().id, &codes[0], &ctx()).await.unwrap();
        let reuse = service.use_backup_code(&existing_user().id, &codes[0], &ctx()).await;
        assert!(matches!(reuse, Err(AccountError::Mfa(MfaError::InvalidBackupCode))), "{reuse:?}");
    }

    #[tokio::test]
    async fn an_administrator_binds_a_given_totp_secret_sealed_and_once() {
        let (users, row) = repository_holding(existing_user());
        let service = service(users, MockPasswordHasher::new());
        let id = existing_user().id;
        let secret = mfa::totp::generate_secret();

        let not_enabled = service.bind_totp_secret(&id, &secret, &[], UserWrite::new(&ctx())).await;
        assert!(matches!(not_enabled, Err(AccountError::Mfa(MfaError::FactorNotEnabled))), "{not_enabled:?}");
        let malformed =
            service.bind_totp_secret(&id, "not-base32", &[MfaFactorType::Totp], UserWrite::new(&ctx())).await;
        assert!(matches!(malformed, Err(AccountError::Mfa(MfaError::TotpSecretInvalid))), "{malformed:?}");
        assert!(row.lock().unwrap().mfa_factors.is_empty(), "a refusal binds nothing");

        let user =
            service.bind_totp_secret(&id, &secret, &[MfaFactorType::Totp], UserWrite::new(&ctx())).await.unwrap();
        let [factor] = user.mfa_factors.as_slice() else { panic!("one factor: {:?}", user.mfa_factors) };
        let MfaFactorKind::Totp(totp) = &factor.kind else { panic!("a TOTP factor") };
        assert!(!totp.secret.0.contains(&secret), "the secret is stored sealed");
        assert_eq!(totp.last_used_step, None, "no code was used yet");
        assert_eq!(user.logto_config.mfa.enabled, Some(true));
        // The rules come before the format, as in Logto: a second TOTP is refused as such even when malformed.
        let second = service.bind_totp_secret(&id, "x", &[MfaFactorType::Totp], UserWrite::new(&ctx())).await;
        assert!(matches!(second, Err(AccountError::Mfa(MfaError::TotpAlreadyInUse))), "{second:?}");
    }

    #[tokio::test]
    async fn given_backup_codes_are_checked_for_format_after_the_rules() {
        let (users, row) = repository_holding(existing_user());
        let service = service(users, MockPasswordHasher::new());
        let id = existing_user().id;
        let enabled = [MfaFactorType::Totp, MfaFactorType::BackupCode];
        let codes: Vec<String> = (0..10).map(|index| format!("{index:010x}")).collect();

        let alone = service.bind_backup_codes(&id, &codes[..3], &enabled, UserWrite::new(&ctx())).await;
        assert!(matches!(alone, Err(AccountError::Mfa(MfaError::BackupCodeCanNotBeAlone))), "{alone:?}");
        service.bind_totp_secret(&id, &mfa::totp::generate_secret(), &enabled, UserWrite::new(&ctx())).await.unwrap();
        let short = service.bind_backup_codes(&id, &codes[..3], &enabled, UserWrite::new(&ctx())).await;
        assert!(matches!(short, Err(AccountError::Mfa(MfaError::WrongBackupCodeFormat))), "{short:?}");

        service.bind_backup_codes(&id, &codes, &enabled, UserWrite::new(&ctx())).await.unwrap();
        service.use_backup_code(&id, &codes[4], &ctx()).await.unwrap();
        let stored = row.lock().unwrap().clone();
        let MfaFactorKind::BackupCode(set) = &stored.mfa_factors[1].kind else { panic!("a backup-code set") };
        assert_eq!(set.remaining(), 9, "the given codes are the ones that work");
    }

    #[tokio::test]
    async fn removing_the_last_real_factor_takes_the_backup_codes_with_it() {
        let (users, row) = repository_holding(existing_user());
        let service = service(users, MockPasswordHasher::new());
        let id = existing_user().id;
        let enabled = [MfaFactorType::Totp, MfaFactorType::BackupCode];
        let user = service.bind_totp_secret(&id, &mfa::totp::generate_secret(), &enabled, UserWrite::new(&ctx())).await;
        let totp_id = user.unwrap().mfa_factors[0].id.clone();
        service.generate_backup_codes(&id, &enabled, &ctx()).await.unwrap();

        let unknown = service.remove_mfa_factor(&id, "no-such-factor", UserWrite::new(&ctx())).await;
        assert!(matches!(unknown, Err(AccountError::Mfa(MfaError::FactorNotFound))), "{unknown:?}");
        assert_eq!(row.lock().unwrap().mfa_factors.len(), 2);

        let user = service.remove_mfa_factor(&id, &totp_id, UserWrite::new(&ctx())).await.unwrap();
        assert!(user.mfa_factors.is_empty(), "{:?}", user.mfa_factors);
        assert!(row.lock().unwrap().mfa_factors.is_empty());
    }
    #[tokio::test]
    async fn replacing_totp_needs_a_right_code_and_keeps_one_totp_factor() {
        let (users, row) = repository_holding(existing_user());
        let service = service(users, MockPasswordHasher::new());
        let id = existing_user().id;
        let enabled = [MfaFactorType::Totp, MfaFactorType::BackupCode];
        let first = mfa::totp::generate_secret();
        let code = mfa::totp::code_at(&first, NOW).unwrap();

        let not_enabled = service.replace_totp(&id, &first, &code, &[], UserWrite::new(&ctx())).await;
        assert!(matches!(not_enabled, Err(AccountError::Mfa(MfaError::FactorNotEnabled))), "{not_enabled:?}");
        let malformed = service.replace_totp(&id, "not-base32", &code, &enabled, UserWrite::new(&ctx())).await;
        assert!(matches!(malformed, Err(AccountError::Mfa(MfaError::TotpSecretInvalid))), "{malformed:?}");
        let wrong = service.replace_totp(&id, &first, "000000", &enabled, UserWrite::new(&ctx())).await;
        assert!(matches!(wrong, Err(AccountError::Mfa(MfaError::InvalidTotpCode))), "{wrong:?}");
        assert!(row.lock().unwrap().mfa_factors.is_empty(), "a refusal binds nothing");

        let added = service.replace_totp(&id, &first, &code, &enabled, UserWrite::new(&ctx())).await.unwrap();
        assert_eq!(added.mfa_factors.len(), 1, "no TOTP yet: added");
        assert_eq!(added.logto_config.mfa.enabled, Some(true));
        service.generate_backup_codes(&id, &enabled, &ctx()).await.unwrap();

        let second = mfa::totp::generate_secret();
        let code = mfa::totp::code_at(&second, NOW).unwrap();
        let replaced = service.replace_totp(&id, &second, &code, &enabled, UserWrite::new(&ctx())).await.unwrap();
        let types: Vec<_> = replaced.mfa_factors.iter().map(MfaFactor::factor_type).collect();
        assert_eq!(types, [MfaFactorType::Totp, MfaFactorType::BackupCode], "replaced in place");
        assert_ne!(replaced.mfa_factors[0].id, added.mfa_factors[0].id, "under a new id");
        let MfaFactorKind::Totp(totp) = &replaced.mfa_factors[0].kind else { panic!("a TOTP factor") };
        assert_eq!(totp.reveal_secret(secrets().as_ref()).unwrap(), second);
    }

    #[tokio::test]
    async fn backup_codes_are_revealed_with_their_use_and_none_without_a_set() {
        let (users, _row) = repository_holding(existing_user());
        let service = service(users, MockPasswordHasher::new());
        let id = existing_user().id;
        let enabled = [MfaFactorType::Totp, MfaFactorType::BackupCode];
        assert_eq!(service.reveal_backup_codes(&id).await.unwrap(), None);

        service.bind_totp_secret(&id, &mfa::totp::generate_secret(), &enabled, UserWrite::new(&ctx())).await.unwrap();
        let (_, codes) = service.generate_backup_codes(&id, &enabled, &ctx()).await.unwrap();
        service.use_backup_code(&id, &codes[2], &ctx()).await.unwrap();

        let revealed = service.reveal_backup_codes(&id).await.unwrap().expect("a set");
        let clear: Vec<&str> = revealed.iter().map(|view| view.code.as_str()).collect();
        assert_eq!(clear, codes.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(revealed[2].used_at, Some(NOW.to_iso8601()));
        assert!(revealed.iter().enumerate().all(|(index, view)| index == 2 || view.used_at.is_none()));
        let json = serde_json::to_value(&revealed[0]).unwrap();
        assert_eq!(json, serde_json::json!({ "code": codes[0] }), "an unused code has no usedAt");
    }
}
