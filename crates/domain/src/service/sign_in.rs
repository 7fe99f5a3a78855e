//! Sign-in for first-party applications without redirects: identifier and password, then, when the user has MFA,
//! a second step with a TOTP or backup code. Issuing tokens is the caller's part (the token crate starts the
//! session); this module decides whether the person may have them.
//!
//! - Unknown identifiers and wrong passwords give one error, after the same work: [`AccountService::check_password`]
//!   spends a dummy verification when there is no user or no password.
//! - The sentinel (Logto's `BasicSentinel`) counts failed checks per identifier in the database; the failure that
//!   reaches the limit blocks the identifier for the lockout, and a blocked identifier is refused before its
//!   password is checked. A success does not reset the count (Logto does not either).
//! - A suspended user learns it only after giving the right password (Logto's order).
//! - The MFA step runs on a challenge stored in the database, so any instance can finish it; its token is a
//!   high-entropy secret stored as a hash, it lives five minutes, and allows a bounded number of codes.
//! - Email/phone codes (when the server gives [`CodeSignInPorts`]) are sent whether or not a user has the
//!   identifier, as Logto does, so sending reveals nothing; a wrong code counts in the sentinel like a wrong
//!   password. Only the holder of the right code learns that no user has the identifier (Logto's
//!   `user.user_not_exist`).

use std::sync::Arc;

use thiserror::Error;

use crate::application::{ApplicationRepository, ApplicationType};
use crate::audit::{Actor, AuditContext, RequestOrigin};
use crate::clock::{Clock, Timestamp};
use crate::ids::UserId;
use crate::mfa::{MfaError, MfaFactorType, usable_factor_types};
use crate::password::PlainPassword;
use crate::ports::{RepoError, UserRepository};
use crate::secrets::{OpaqueSecret, SecretHash, hash_secret};
use crate::service::{AccountError, AccountService};
use crate::session::{Session, SessionLifetimes, SessionStart};
use crate::sign_in::{
    IdentifierKind, LockoutSubject, MfaSettings, PENDING_MFA_MAX_ATTEMPTS, PendingMfa, PendingMfaRepository, Sentinel,
    SentinelPolicy, SentinelRepository, SignInIdentifier,
};
use crate::sign_in_experience::SignInExperienceRepository;
use crate::user::User;
use crate::verification_code::{
    CodeCheckError, CodeDelivery, CodePurpose, CodeRecipient, CodeSendError, MessageConnector,
    VerificationCodeRepository,
};

/// Who acts while a user signs in: the user, through the signing-in client.
fn signing_in(user_id: &UserId, client_id: &str, origin: &RequestOrigin) -> AuditContext {
    AuditContext::new(Actor::User { id: user_id.as_str().to_owned() }).with_application(client_id).from_request(origin)
}

/// What the sign-in use cases need.
#[derive(Clone)]
pub struct SignInPorts {
    /// Password checks (with dummy verification and hash upgrade) and factor verification (with replay guards).
    pub accounts: AccountService,
    pub applications: Arc<dyn ApplicationRepository>,
    pub sentinel: Arc<dyn SentinelRepository>,
    pub pending_mfa: Arc<dyn PendingMfaRepository>,
    /// Which MFA factors count and the MFA policy, read at each sign-in so that a change applies at once.
    pub sign_in_experience: Arc<dyn SignInExperienceRepository>,
    pub clock: Arc<dyn Clock>,
    /// How long the session a sign-in starts, and its refresh tokens, live.
    pub session_lifetimes: SessionLifetimes,
}

impl std::fmt::Debug for SignInPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignInPorts { .. }")
    }
}

/// What the email/phone code sign-in needs besides [`SignInPorts`]: where codes are kept, how they are
/// delivered, and the users to find by the verified identifier.
#[derive(Clone)]
pub struct CodeSignInPorts {
    pub codes: Arc<dyn VerificationCodeRepository>,
    pub connector: Arc<dyn MessageConnector>,
    pub users: Arc<dyn UserRepository>,
}

impl std::fmt::Debug for CodeSignInPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeSignInPorts { .. }")
    }
}

impl CodeSignInPorts {
    fn delivery(&self) -> CodeDelivery {
        CodeDelivery { codes: Arc::clone(&self.codes), connector: Arc::clone(&self.connector) }
    }
}

/// Why a sign-in step was refused. The API crate maps each variant to Logto's status and code.
#[derive(Debug, Error)]
pub enum SignInError {
    #[error("no application has this client id")]
    UnknownClient,
    #[error("third-party applications cannot use the sign-in API")]
    ThirdPartyClient,
    /// Machine-to-machine applications have no users to sign in.
    #[error("this application type cannot sign users in")]
    ClientCannotSignIn,
    /// Unknown identifier, no password, or a wrong password: one answer for all.
    #[error("wrong identifier or password")]
    InvalidCredentials,
    #[error("too many failed attempts for this identifier")]
    Blocked { until: Timestamp },
    #[error("the user is suspended")]
    Suspended,
    /// Unknown, expired, used up or already finished.
    #[error("no pending MFA verification for this token")]
    MfaChallengeNotFound,
    #[error("the TOTP code is wrong")]
    InvalidTotpCode,
    #[error("the backup code is wrong or already used")]
    InvalidBackupCode,
    /// The factor is not enabled for sign-in (or, for WebAuthn, not served by this step yet).
    #[error("this MFA factor cannot be used to sign in")]
    FactorNotEnabled,
    /// Codes are sent to an email or a phone only.
    #[error("codes are sent to an email or a phone")]
    NotARecipient,
    /// No message connector is configured (Logto's `connector.not_found`).
    #[error("no message connector is configured")]
    ConnectorNotFound,
    #[error("{0}")]
    ConnectorFailed(String),
    #[error("too many codes were sent to this recipient; try again later")]
    MessageRateLimited,
    /// Unknown verification id, a code for another purpose, or already used.
    #[error("the verification code was not found")]
    CodeNotFound,
    /// The code was sent to another identifier than the one signing in.
    #[error("the verification code was sent to another identifier")]
    CodeIdentifierMismatch { kind: IdentifierKind },
    #[error("the verification code has expired")]
    CodeExpired,
    #[error("too many attempts on this verification code")]
    CodeAttemptsExceeded,
    #[error("the verification code is wrong")]
    CodeMismatch,
    /// The code was right but no user has the identifier (told only to the holder of the code, as Logto does).
    #[error("no user has this identifier")]
    UserNotFound,
    #[error("storage failed: {0}")]
    Storage(String),
}

impl From<RepoError> for SignInError {
    fn from(error: RepoError) -> Self {
        SignInError::Storage(error.to_string())
    }
}

impl From<CodeSendError> for SignInError {
    fn from(error: CodeSendError) -> Self {
        match error {
            CodeSendError::RateLimited => SignInError::MessageRateLimited,
            CodeSendError::Connector(error) => SignInError::ConnectorFailed(error.to_string()),
            CodeSendError::Storage(error) => error.into(),
        }
    }
}

/// The refusals a caller does not treat itself (mismatches need the sentinel and the identifier kind).
impl From<CodeCheckError> for SignInError {
    fn from(error: CodeCheckError) -> Self {
        match error {
            CodeCheckError::NotFound | CodeCheckError::IdentifierMismatch => SignInError::CodeNotFound,
            CodeCheckError::Expired => SignInError::CodeExpired,
            CodeCheckError::AttemptsExceeded => SignInError::CodeAttemptsExceeded,
            CodeCheckError::Mismatch => SignInError::CodeMismatch,
            CodeCheckError::Storage(error) => error.into(),
        }
    }
}

/// The first step's input. `scopes` are the ones the finished sign-in grants (already filtered by the caller).
#[derive(Debug, Clone)]
pub struct PasswordSignIn {
    pub client_id: String,
    pub identifier: SignInIdentifier,
    pub password: PlainPassword,
    pub scopes: Vec<String>,
    pub origin: RequestOrigin,
}

/// The code step's input: the identifier the code was sent to, the verification id from the send, the code.
#[derive(Clone)]
pub struct CodeSignIn {
    pub client_id: String,
    pub identifier: SignInIdentifier,
    pub verification_id: String,
    pub code: String,
    pub scopes: Vec<String>,
    pub origin: RequestOrigin,
}

impl std::fmt::Debug for CodeSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeSignIn")
            .field("client_id", &self.client_id)
            .field("identifier", &self.identifier)
            .finish_non_exhaustive()
    }
}

/// A code was sent: the id to present with it, and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSent {
    pub verification_id: String,
    pub expires_at: Timestamp,
}

/// A signed-in user and the session the sign-in started, stored with the sign-in record; the caller mints the
/// session's access token.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    /// Through the signing-in client, with the scopes it asked for.
    pub session: Session,
    /// The session's first refresh token, in clear: for the client, once.
    pub refresh_token: OpaqueSecret,
}

/// The second step the user must pass: the token names the challenge, the factors are the user's usable ones in
/// Logto's order (most recently used first, backup codes last).
#[derive(Debug, Clone)]
pub struct MfaChallenge {
    pub token: OpaqueSecret,
    pub available_factors: Vec<MfaFactorType>,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub enum SignInOutcome {
    SignedIn(Box<SignedIn>),
    MfaRequired(MfaChallenge),
}

/// A second-factor answer.
#[derive(Debug, Clone)]
pub enum MfaAnswer {
    Totp(String),
    BackupCode(String),
    /// Accepted on the wire; the assertion step lands with passkey registration (Account API issue).
    WebAuthn,
}

impl MfaAnswer {
    pub fn factor_type(&self) -> MfaFactorType {
        match self {
            MfaAnswer::Totp(_) => MfaFactorType::Totp,
            MfaAnswer::BackupCode(_) => MfaFactorType::BackupCode,
            MfaAnswer::WebAuthn => MfaFactorType::WebAuthn,
        }
    }
}

/// The sign-in use cases. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SignInService {
    ports: SignInPorts,
    sentinel: Sentinel,
    /// `None` when no message connector is configured: code sign-in answers `ConnectorNotFound`.
    codes: Option<CodeSignInPorts>,
}

impl SignInService {
    pub fn new(ports: SignInPorts, sentinel: SentinelPolicy) -> Self {
        let sentinel = Sentinel::new(Arc::clone(&ports.sentinel), sentinel);
        Self { ports, sentinel, codes: None }
    }

    /// Enables the email/phone code sign-in.
    pub fn with_codes(mut self, codes: CodeSignInPorts) -> Self {
        self.codes = Some(codes);
        self
    }

    /// The first step: identifier and password.
    pub async fn sign_in_with_password(&self, request: PasswordSignIn) -> Result<SignInOutcome, SignInError> {
        self.check_client(&request.client_id).await?;
        let target = request.identifier.sentinel_target();
        self.ensure_not_blocked(&target).await?;
        // Before the password is checked nobody is known to act: a hash upgrade is Latchkey's own doing.
        let context = AuditContext::system().with_application(&request.client_id).from_request(&request.origin);
        let user = match self
            .ports
            .accounts
            .check_password(request.identifier.lookup_value(), &request.password, &context)
            .await
        {
            Ok(user) => user,
            Err(AccountError::InvalidCredentials) => {
                let subject = LockoutSubject { identifier: request.identifier, context };
                return Err(self.fail(&target, Some(subject), SignInError::InvalidCredentials).await);
            }
            Err(other) => return Err(SignInError::Storage(other.to_string())),
        };
        self.first_factor_passed(user, request.client_id, request.scopes, target, &request.origin).await
    }

    /// Sends a sign-in code to an email or phone. The code is sent whether or not a user has the identifier,
    /// so the answer says nothing about accounts; sends per recipient are limited.
    pub async fn send_sign_in_code(
        &self,
        client_id: &str,
        identifier: &SignInIdentifier,
    ) -> Result<CodeSent, SignInError> {
        let codes = self.codes.as_ref().ok_or(SignInError::ConnectorNotFound)?;
        self.check_client(client_id).await?;
        let recipient = CodeRecipient::from_identifier(identifier).ok_or(SignInError::NotARecipient)?;
        let now = self.ports.clock.now();
        let record = codes.delivery().send(recipient, identifier.sentinel_target(), CodePurpose::SignIn, now).await?;
        Ok(CodeSent { verification_id: record.id, expires_at: record.expires_at })
    }

    /// The first step with a code instead of a password. The code is checked (each check spends one of its
    /// attempts; a wrong one counts in the sentinel), used up, and then the sign-in goes on as the password's.
    pub async fn sign_in_with_code(&self, request: CodeSignIn) -> Result<SignInOutcome, SignInError> {
        let codes = self.codes.as_ref().ok_or(SignInError::ConnectorNotFound)?;
        self.check_client(&request.client_id).await?;
        let recipient = CodeRecipient::from_identifier(&request.identifier).ok_or(SignInError::NotARecipient)?;
        let target = request.identifier.sentinel_target();
        self.ensure_not_blocked(&target).await?;
        let now = self.ports.clock.now();
        match codes.delivery().check(&request.verification_id, CodePurpose::SignIn, &target, &request.code, now).await {
            Ok(()) => {}
            Err(CodeCheckError::Mismatch) => {
                let context = AuditContext::system().with_application(&request.client_id).from_request(&request.origin);
                let subject = LockoutSubject { identifier: request.identifier, context };
                return Err(self.fail(&target, Some(subject), SignInError::CodeMismatch).await);
            }
            Err(CodeCheckError::IdentifierMismatch) => {
                return Err(SignInError::CodeIdentifierMismatch { kind: request.identifier.kind() });
            }
            Err(other) => return Err(other.into()),
        }
        let user = match &recipient {
            CodeRecipient::Email(email) => codes.users.find_by_email(email).await?,
            CodeRecipient::Phone(phone) => codes.users.find_by_phone(phone).await?,
        };
        let user = user.ok_or(SignInError::UserNotFound)?;
        self.first_factor_passed(user, request.client_id, request.scopes, target, &request.origin).await
    }

    /// After a right password or code: a suspended user is refused, a user with factors gets an MFA challenge,
    /// anyone else is signed in.
    async fn first_factor_passed(
        &self,
        user: User,
        client_id: String,
        scopes: Vec<String>,
        target: SecretHash,
        origin: &RequestOrigin,
    ) -> Result<SignInOutcome, SignInError> {
        if user.is_suspended {
            return Err(SignInError::Suspended);
        }
        let available_factors = self.factors_to_verify(&user).await?;
        if available_factors.is_empty() {
            let signed_in = self.signed_in(user, client_id, scopes, origin).await?;
            return Ok(SignInOutcome::SignedIn(Box::new(signed_in)));
        }
        let now = self.ports.clock.now();
        let (token, pending) = PendingMfa::issue(user.id, client_id, scopes, target, now);
        self.ports.pending_mfa.insert(&pending).await?;
        Ok(SignInOutcome::MfaRequired(MfaChallenge { token, available_factors, expires_at: pending.expires_at }))
    }

    /// The second step: a code for the challenge named by `token`. Each call spends one of the challenge's
    /// attempts; a wrong code also counts against the identifier in the sentinel.
    pub async fn verify_mfa(
        &self,
        token: &str,
        answer: &MfaAnswer,
        origin: &RequestOrigin,
    ) -> Result<SignedIn, SignInError> {
        let mfa = self.mfa_settings().await?;
        if answer.factor_type() == MfaFactorType::WebAuthn || !mfa.factors.contains(&answer.factor_type()) {
            return Err(SignInError::FactorNotEnabled);
        }
        let token_hash = hash_secret(token);
        let now = self.ports.clock.now();
        let pending = self
            .ports
            .pending_mfa
            .begin_attempt(&token_hash, now, PENDING_MFA_MAX_ATTEMPTS)
            .await?
            .ok_or(SignInError::MfaChallengeNotFound)?;
        self.ensure_not_blocked(&pending.sentinel_target).await?;
        self.check_client(&pending.client_id).await?;
        let context = signing_in(&pending.user_id, &pending.client_id, origin);
        let verified = match answer {
            MfaAnswer::Totp(code) => self.ports.accounts.verify_totp(&pending.user_id, code, &context).await,
            MfaAnswer::BackupCode(code) => self.ports.accounts.use_backup_code(&pending.user_id, code, &context).await,
            MfaAnswer::WebAuthn => return Err(SignInError::FactorNotEnabled),
        };
        let user = match verified {
            Ok(user) => user,
            Err(AccountError::Mfa(
                MfaError::InvalidTotpCode
                | MfaError::TotpCodeReplayed
                | MfaError::InvalidBackupCode
                | MfaError::FactorNotFound,
            )) => {
                let wrong_code = match answer {
                    MfaAnswer::BackupCode(_) => SignInError::InvalidBackupCode,
                    _ => SignInError::InvalidTotpCode,
                };
                // The challenge knows the identifier only by its digest: no lockout event names it.
                return Err(self.fail(&pending.sentinel_target, None, wrong_code).await);
            }
            // Deleted since the first step.
            Err(AccountError::UserNotFound) => return Err(SignInError::MfaChallengeNotFound),
            Err(other) => return Err(SignInError::Storage(other.to_string())),
        };
        if !self.ports.pending_mfa.consume(&token_hash).await? {
            return Err(SignInError::MfaChallengeNotFound);
        }
        if user.is_suspended {
            return Err(SignInError::Suspended);
        }
        self.signed_in(user, pending.client_id, pending.scopes, origin).await
    }

    /// The end of a successful sign-in: `lastSignInAt` is recorded and the new session stored in one
    /// transaction, before tokens are handed out.
    async fn signed_in(
        &self,
        user: User,
        client_id: String,
        scopes: Vec<String>,
        origin: &RequestOrigin,
    ) -> Result<SignedIn, SignInError> {
        let context = signing_in(&user.id, &client_id, origin);
        let now = self.ports.clock.now();
        let lifetimes = &self.ports.session_lifetimes;
        let session = lifetimes
            .new_session(self.ports.accounts.ids().entity_id(), user.id.clone(), client_id, now)
            .with_origin(origin.user_agent.as_deref(), origin.ip.as_deref())
            .with_scopes(scopes);
        let (start, refresh_token) = SessionStart::with_refresh_token(session, lifetimes);
        let session = start.session.clone();
        let user = match self.ports.accounts.record_sign_in(user, start, &context).await {
            Ok(user) => user,
            Err(AccountError::UserNotFound) => return Err(SignInError::InvalidCredentials),
            Err(AccountError::Suspended) => return Err(SignInError::Suspended),
            Err(other) => return Err(SignInError::Storage(other.to_string())),
        };
        Ok(SignedIn { user, session, refresh_token })
    }

    /// The factors the user must verify one of before getting tokens; empty when no second step is needed. Only
    /// factors the sign-in experience enables count, as in Logto: a factor an administrator turns off stops being
    /// asked for.
    pub async fn factors_to_verify(&self, user: &User) -> Result<Vec<MfaFactorType>, SignInError> {
        let mfa = self.mfa_settings().await?;
        if user.logto_config.mfa.skip_mfa_on_sign_in && mfa.policy.honours_skip() {
            return Ok(Vec::new());
        }
        Ok(usable_factor_types(&user.mfa_factors, &mfa.factors))
    }

    async fn mfa_settings(&self) -> Result<MfaSettings, SignInError> {
        Ok(self.ports.sign_in_experience.get().await?.settings.mfa)
    }

    /// An app signs users in only if it exists, is first-party, and is a user-facing type.
    async fn check_client(&self, client_id: &str) -> Result<(), SignInError> {
        let application = self.ports.applications.find_by_id(client_id).await?.ok_or(SignInError::UnknownClient)?;
        if application.is_third_party {
            return Err(SignInError::ThirdPartyClient);
        }
        match application.app_type {
            ApplicationType::Traditional | ApplicationType::Spa | ApplicationType::Native => Ok(()),
            ApplicationType::MachineToMachine => Err(SignInError::ClientCannotSignIn),
        }
    }

    async fn ensure_not_blocked(&self, target: &SecretHash) -> Result<(), SignInError> {
        match self.sentinel.blocked_until(target, self.ports.clock.now()).await? {
            Some(until) => Err(SignInError::Blocked { until }),
            None => Ok(()),
        }
    }

    /// Records a failed check on `target` and returns the error to answer: `refusal`, or `Blocked` when this
    /// failure reached the limit (Logto answers that very attempt with the block).
    async fn fail(&self, target: &SecretHash, subject: Option<LockoutSubject>, refusal: SignInError) -> SignInError {
        match self.sentinel.report_failure(target, subject, self.ports.clock.now()).await {
            Ok(None) => refusal,
            Ok(Some(until)) => SignInError::Blocked { until },
            Err(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use mockall::predicate::always;

    use super::*;
    use crate::application::{Application, MockApplicationRepository};
    use crate::audit::keys;
    use crate::clock::FixedClock;
    use crate::identifiers::Username;
    use crate::ids::{RandomIds, UserId};
    use crate::mfa::{self, MfaFactor, MfaFactorKind, TotpFactor};
    use crate::password::hasher::MockPasswordHasher;
    use crate::password::{PasswordAlgorithm, PasswordCheck, StoredPassword};
    use crate::ports::{Conflict, MockUserRepository, UserChange};
    use crate::secret_box::{AesGcmSecretBox, SecretBox};
    use crate::service::Ports;
    use crate::service::test_support::repository_holding;
    use crate::sign_in::{
        IdentifierKind, MfaPolicy, MockPendingMfaRepository, MockSentinelRepository, PENDING_MFA_TTL_SECS,
    };
    use crate::sign_in_experience::{MockSignInExperienceRepository, SignInExperience, VersionedSignInExperience};
    use crate::user::Version;

    const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);
    const CLIENT: &str = "spa-app";

    fn secrets() -> Arc<dyn SecretBox> {
        Arc::new(AesGcmSecretBox::single("test", [7; 32]).unwrap())
    }

    fn user_id() -> UserId {
        UserId::parse("u00000000001").unwrap()
    }

    fn user_with_password() -> User {
        let mut user = User::new(user_id(), Timestamp::from_millis(0));
        user.username = Some(Username::parse("ada").unwrap());
        user.password = Some(StoredPassword { algorithm: PasswordAlgorithm::Argon2id, digest: "$argon2id$x".into() });
        user
    }

    fn with_totp(mut user: User, secret: &str) -> User {
        let sealed = secrets().seal(secret.as_bytes()).unwrap();
        user.mfa_factors.push(MfaFactor {
            id: "f".repeat(21),
            created_at: Timestamp::from_millis(0),
            last_used_at: None,
            kind: MfaFactorKind::Totp(TotpFactor { secret: sealed, last_used_step: None }),
        });
        user
    }

    fn username(value: &str) -> SignInIdentifier {
        SignInIdentifier::parse(IdentifierKind::Username, value).unwrap()
    }

    fn request(identifier: &str, password: &str) -> PasswordSignIn {
        PasswordSignIn {
            client_id: CLIENT.to_owned(),
            identifier: username(identifier),
            password: PlainPassword::new(password),
            scopes: vec!["openid".to_owned()],
            origin: RequestOrigin { ip: Some("203.0.113.7".to_owned()), user_agent: Some("tests".to_owned()) },
        }
    }

    fn applications(app_type: ApplicationType, third_party: bool) -> MockApplicationRepository {
        let mut applications = MockApplicationRepository::new();
        applications.expect_find_by_id().returning(move |id| {
            let mut application = Application::new(id.to_owned(), "app".to_owned(), app_type, NOW);
            application.is_third_party = third_party;
            Ok(Some(application))
        });
        applications
    }

    /// A sentinel that has seen `earlier` failures and no block, and accepts records.
    fn sentinel(earlier: u64) -> MockSentinelRepository {
        let mut sentinel = MockSentinelRepository::new();
        sentinel.expect_blocked_until().returning(|_, _| Ok(None));
        sentinel.expect_count_failures_since().returning(move |_, _| Ok(earlier));
        sentinel.expect_record_failure().returning(|_| Ok(()));
        sentinel.expect_forget_before().returning(|_| Ok(0));
        sentinel
    }

    /// A user repository behaving like one stored row.
    fn users_holding(user: User) -> MockUserRepository {
        repository_holding(user).0
    }

    fn matching_hasher() -> MockPasswordHasher {
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|password, _| {
            Ok(if password.expose() == "right" {
                PasswordCheck::Match { needs_rehash: false }
            } else {
                PasswordCheck::Mismatch
            })
        });
        hasher.expect_dummy_verify().returning(|_| ());
        hasher
    }

    struct Parts {
        users: MockUserRepository,
        hasher: MockPasswordHasher,
        applications: MockApplicationRepository,
        sentinel: MockSentinelRepository,
        pending: MockPendingMfaRepository,
        mfa: MfaSettings,
    }

    impl Parts {
        fn new(user: User) -> Self {
            Self {
                users: users_holding(user),
                hasher: matching_hasher(),
                applications: applications(ApplicationType::Spa, false),
                sentinel: sentinel(0),
                pending: MockPendingMfaRepository::new(),
                mfa: MfaSettings {
                    factors: vec![MfaFactorType::Totp, MfaFactorType::WebAuthn, MfaFactorType::BackupCode],
                    policy: MfaPolicy::UserControlled,
                },
            }
        }

        fn service(self) -> SignInService {
            let accounts = AccountService::new(Ports {
                users: Arc::new(self.users),
                hasher: Arc::new(self.hasher),
                clock: Arc::new(FixedClock(NOW)),
                ids: Arc::new(RandomIds),
                secrets: secrets(),
            });
            let mut sign_in_experience = MockSignInExperienceRepository::new();
            let settings = SignInExperience { mfa: self.mfa, ..SignInExperience::default() };
            sign_in_experience.expect_get().returning(move || {
                Ok(VersionedSignInExperience { settings: settings.clone(), version: Version::INITIAL })
            });
            SignInService::new(
                SignInPorts {
                    accounts,
                    applications: Arc::new(self.applications),
                    sentinel: Arc::new(self.sentinel),
                    pending_mfa: Arc::new(self.pending),
                    sign_in_experience: Arc::new(sign_in_experience),
                    clock: Arc::new(FixedClock(NOW)),
                    session_lifetimes: SessionLifetimes::default(),
                },
                SentinelPolicy::default(),
            )
        }
    }

    /// A pending-MFA store holding at most one challenge, with the real attempt and consumption rules.
    fn pending_store() -> (MockPendingMfaRepository, Arc<Mutex<Option<PendingMfa>>>) {
        let slot: Arc<Mutex<Option<PendingMfa>>> = Arc::new(Mutex::new(None));
        let mut pending = MockPendingMfaRepository::new();
        let insert = Arc::clone(&slot);
        pending.expect_insert().returning(move |challenge| {
            *insert.lock().unwrap() = Some(challenge.clone());
            Ok(())
        });
        let attempt = Arc::clone(&slot);
        pending.expect_begin_attempt().returning(move |hash, now, max| {
            let mut slot = attempt.lock().unwrap();
            match slot.as_mut() {
                Some(challenge)
                    if &challenge.token_hash == hash && challenge.expires_at > now && challenge.attempts < max =>
                {
                    challenge.attempts += 1;
                    Ok(Some(challenge.clone()))
                }
                _ => Ok(None),
            }
        });
        let consume = Arc::clone(&slot);
        pending.expect_consume().returning(move |hash| {
            let mut slot = consume.lock().unwrap();
            let matches = slot.as_ref().is_some_and(|challenge| &challenge.token_hash == hash);
            if matches {
                *slot = None;
            }
            Ok(matches)
        });
        (pending, slot)
    }

    #[tokio::test]
    async fn the_right_password_signs_a_user_without_mfa_in() {
        let outcome = Parts::new(user_with_password()).service().sign_in_with_password(request("ada", "right")).await;

        let Ok(SignInOutcome::SignedIn(signed_in)) = outcome else { panic!("signed in: {outcome:?}") };
        assert_eq!(signed_in.user.id, user_id());
        assert_eq!(signed_in.user.last_sign_in_at, Some(NOW), "the sign-in is recorded");
        assert_eq!(signed_in.session.client_id, CLIENT);
        assert_eq!(signed_in.session.scopes, ["openid"]);
    }

    #[tokio::test]
    async fn the_sign_in_record_is_written_with_the_new_session_and_its_first_refresh_token() {
        let changes: Arc<Mutex<Vec<UserChange>>> = Arc::default();
        let mut parts = Parts::new(user_with_password());
        let mut users = MockUserRepository::new();
        users.expect_find_by_username().returning(|_| Ok(Some(user_with_password())));
        let written = Arc::clone(&changes);
        users.expect_update().returning(move |changed, change| {
            written.lock().unwrap().push(change.clone());
            Ok(User { version: changed.version.next(), ..changed.clone() })
        });
        parts.users = users;
        let origin = RequestOrigin { ip: Some("203.0.113.9".to_owned()), user_agent: Some("Probe/1.0".to_owned()) };

        let outcome = parts.service().sign_in_with_password(PasswordSignIn { origin, ..request("ada", "right") }).await;

        let Ok(SignInOutcome::SignedIn(signed_in)) = outcome else { panic!("signed in: {outcome:?}") };
        let changes = changes.lock().unwrap();
        let [change] = changes.as_slice() else { panic!("one write for the sign-in: {changes:?}") };
        assert_eq!(change.entry.key, keys::USER_SIGNED_IN);
        let start = change.start_session.as_ref().expect("the session is written with the sign-in record");
        let session = &start.session;
        assert_eq!(session, &signed_in.session, "the caller mints tokens for the stored session");
        assert_eq!((&session.user_id, session.client_id.as_str()), (&user_id(), CLIENT));
        assert_eq!(session.scopes, ["openid"]);
        assert_eq!((session.ip.as_deref(), session.user_agent.as_deref()), (Some("203.0.113.9"), Some("Probe/1.0")));
        let lifetimes = SessionLifetimes::default();
        assert_eq!((session.created_at, session.expires_at), (NOW, NOW.plus_secs(lifetimes.session_secs)));
        let token = start.first_refresh_token.as_ref().expect("a sign-in session gets a refresh token");
        assert_eq!(token.token_hash, signed_in.refresh_token.hash(), "the stored token is the one handed out");
        assert_eq!(token.session_id, session.id);
        assert_eq!(token.expires_at, NOW.plus_secs(lifetimes.refresh_token_secs));
        assert_eq!(token.used_at, None);
    }

    #[tokio::test]
    async fn a_user_suspended_while_the_password_was_checked_gets_no_session() {
        let mut parts = Parts::new(user_with_password());
        let mut users = MockUserRepository::new();
        users.expect_find_by_username().returning(|_| Ok(Some(user_with_password())));
        // The suspension lands between the read and the sign-in's write: the write meets the newer version.
        users.expect_update().times(1).returning(|_, _| Err(RepoError::Conflict(Conflict::Version)));
        users.expect_find_by_id().returning(|_| {
            let mut suspended = user_with_password();
            suspended.is_suspended = true;
            suspended.version = suspended.version.next();
            Ok(Some(suspended))
        });
        parts.users = users;

        let outcome = parts.service().sign_in_with_password(request("ada", "right")).await;

        assert!(matches!(outcome, Err(SignInError::Suspended)), "{outcome:?}");
    }

    #[tokio::test]
    async fn an_unknown_user_costs_a_dummy_verification_and_looks_like_a_wrong_password() {
        let dummy_verifications = Arc::new(AtomicUsize::new(0));
        let mut parts = Parts::new(user_with_password());
        let mut hasher = MockPasswordHasher::new();
        let counter = Arc::clone(&dummy_verifications);
        hasher.expect_dummy_verify().returning(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        hasher.expect_verify().returning(|_, _| Ok(PasswordCheck::Mismatch));
        parts.hasher = hasher;
        let service = parts.service();

        let unknown = service.sign_in_with_password(request("nobody", "right")).await;
        let wrong = service.sign_in_with_password(request("ada", "wrong")).await;

        assert_eq!(dummy_verifications.load(Ordering::SeqCst), 1, "the unknown user cost one dummy verification");
        assert!(matches!(unknown, Err(SignInError::InvalidCredentials)), "{unknown:?}");
        assert!(matches!(wrong, Err(SignInError::InvalidCredentials)), "{wrong:?}");
        assert_eq!(format!("{}", unknown.unwrap_err()), format!("{}", wrong.unwrap_err()));
    }

    #[tokio::test]
    async fn every_failure_is_recorded_against_the_identifier_without_a_block_below_the_limit() {
        let mut parts = Parts::new(user_with_password());
        let mut sentinel = MockSentinelRepository::new();
        sentinel.expect_blocked_until().returning(|_, _| Ok(None));
        sentinel
            .expect_count_failures_since()
            .withf(|target, since| *target == username("ada").sentinel_target() && *since == NOW.plus_secs(-3600))
            .returning(|_, _| Ok(98));
        sentinel
            .expect_record_failure()
            .withf(|failure| failure.blocked_until.is_none() && failure.created_at == NOW)
            .times(1)
            .returning(|_| Ok(()));
        sentinel.expect_forget_before().with(always()).returning(|_| Ok(0));
        parts.sentinel = sentinel;

        let result = parts.service().sign_in_with_password(request("ada", "wrong")).await;

        assert!(matches!(result, Err(SignInError::InvalidCredentials)), "{result:?}");
    }

    #[tokio::test]
    async fn the_failure_that_reaches_the_limit_blocks_for_an_hour_and_is_answered_with_the_block() {
        let mut parts = Parts::new(user_with_password());
        let mut sentinel = MockSentinelRepository::new();
        sentinel.expect_blocked_until().returning(|_, _| Ok(None));
        sentinel.expect_count_failures_since().returning(|_, _| Ok(99));
        sentinel
            .expect_record_failure()
            .withf(|failure| failure.blocked_until == Some(NOW.plus_secs(3600)))
            .times(1)
            .returning(|_| Ok(()));
        sentinel.expect_forget_before().returning(|_| Ok(0));
        parts.sentinel = sentinel;

        let result = parts.service().sign_in_with_password(request("nobody", "guess")).await;

        assert!(matches!(result, Err(SignInError::Blocked { until }) if until == NOW.plus_secs(3600)), "{result:?}");
    }

    #[tokio::test]
    async fn a_blocked_identifier_is_refused_before_its_password_is_checked() {
        let mut parts = Parts::new(user_with_password());
        let mut sentinel = MockSentinelRepository::new();
        sentinel.expect_blocked_until().returning(|_, _| Ok(Some(NOW.plus_secs(60))));
        sentinel.expect_record_failure().never();
        parts.sentinel = sentinel;
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().never();
        hasher.expect_dummy_verify().never();
        parts.hasher = hasher;

        let result = parts.service().sign_in_with_password(request("ada", "right")).await;

        assert!(matches!(result, Err(SignInError::Blocked { .. })), "{result:?}");
    }

    #[tokio::test]
    async fn a_suspended_user_is_told_so_only_after_the_right_password() {
        let mut user = user_with_password();
        user.is_suspended = true;
        let service = Parts::new(user).service();

        let right = service.sign_in_with_password(request("ada", "right")).await;
        let wrong = service.sign_in_with_password(request("ada", "wrong")).await;

        assert!(matches!(right, Err(SignInError::Suspended)), "{right:?}");
        assert!(matches!(wrong, Err(SignInError::InvalidCredentials)), "{wrong:?}");
    }

    #[tokio::test]
    async fn machine_to_machine_third_party_and_unknown_clients_cannot_sign_users_in() {
        for (applications, expected) in [
            (applications(ApplicationType::MachineToMachine, false), "ClientCannotSignIn"),
            (applications(ApplicationType::Traditional, true), "ThirdPartyClient"),
            (
                {
                    let mut unknown = MockApplicationRepository::new();
                    unknown.expect_find_by_id().returning(|_| Ok(None));
                    unknown
                },
                "UnknownClient",
            ),
        ] {
            let mut parts = Parts::new(user_with_password());
            parts.applications = applications;
            let result = parts.service().sign_in_with_password(request("ada", "right")).await;
            assert!(format!("{result:?}").contains(expected), "{expected}: {result:?}");
        }
    }

    #[tokio::test]
    async fn a_user_with_totp_gets_a_challenge_and_finishes_with_a_code_once() {
        let secret = mfa::totp::generate_secret();
        let mut parts = Parts::new(with_totp(user_with_password(), &secret));
        let (pending, slot) = pending_store();
        parts.pending = pending;
        let service = parts.service();

        let outcome = service.sign_in_with_password(request("ada", "right")).await.unwrap();
        let SignInOutcome::MfaRequired(challenge) = outcome else { panic!("MFA required: {outcome:?}") };
        assert_eq!(challenge.available_factors, [MfaFactorType::Totp]);
        assert_eq!(challenge.expires_at, NOW.plus_secs(PENDING_MFA_TTL_SECS));
        let stored = slot.lock().unwrap().clone().unwrap();
        assert_ne!(stored.token_hash.as_str(), challenge.token.expose(), "only the hash is stored");

        let code = mfa::totp::code_at(&secret, NOW).unwrap();
        let signed_in = service
            .verify_mfa(challenge.token.expose(), &MfaAnswer::Totp(code.clone()), &RequestOrigin::default())
            .await
            .unwrap();
        assert_eq!(signed_in.user.id, user_id());
        assert_eq!(signed_in.session.client_id, CLIENT);

        let again =
            service.verify_mfa(challenge.token.expose(), &MfaAnswer::Totp(code), &RequestOrigin::default()).await;
        assert!(matches!(again, Err(SignInError::MfaChallengeNotFound)), "{again:?}");
    }

    #[tokio::test]
    async fn a_challenge_allows_a_bounded_number_of_wrong_codes() {
        let secret = mfa::totp::generate_secret();
        let mut parts = Parts::new(with_totp(user_with_password(), &secret));
        let (pending, _slot) = pending_store();
        parts.pending = pending;
        let service = parts.service();
        let SignInOutcome::MfaRequired(challenge) =
            service.sign_in_with_password(request("ada", "right")).await.unwrap()
        else {
            panic!("MFA required")
        };
        let right = mfa::totp::code_at(&secret, NOW).unwrap();
        // Not digits, so it can match no time step.
        let wrong = "abcdef";

        for _ in 0..PENDING_MFA_MAX_ATTEMPTS {
            let result = service
                .verify_mfa(challenge.token.expose(), &MfaAnswer::Totp(wrong.to_owned()), &RequestOrigin::default())
                .await;
            assert!(matches!(result, Err(SignInError::InvalidTotpCode)), "{result:?}");
        }
        let after =
            service.verify_mfa(challenge.token.expose(), &MfaAnswer::Totp(right), &RequestOrigin::default()).await;

        assert!(matches!(after, Err(SignInError::MfaChallengeNotFound)), "{after:?}");
    }

    #[tokio::test]
    async fn a_wrong_backup_code_is_answered_as_such_and_counted_by_the_sentinel() {
        let secret = mfa::totp::generate_secret();
        let mut parts = Parts::new(with_totp(user_with_password(), &secret));
        let (pending, _slot) = pending_store();
        parts.pending = pending;
        let mut sentinel = MockSentinelRepository::new();
        sentinel.expect_blocked_until().returning(|_, _| Ok(None));
        sentinel.expect_count_failures_since().returning(|_, _| Ok(0));
        sentinel
            .expect_record_failure()
            .withf(|failure| failure.target == username("ada").sentinel_target())
            .times(1)
            .returning(|_| Ok(()));
        sentinel.expect_forget_before().returning(|_| Ok(0));
        parts.sentinel = sentinel;
        let service = parts.service();
        let SignInOutcome::MfaRequired(challenge) =
            service.sign_in_with_password(request("ada", "right")).await.unwrap()
        else {
            panic!("MFA required")
        };

        let result = service
            .verify_mfa(
                challenge.token.expose(),
                &MfaAnswer::BackupCode("0123456789".into()),
                &RequestOrigin::default(),
            )
            .await;

        assert!(matches!(result, Err(SignInError::InvalidBackupCode)), "{result:?}");
    }

    #[tokio::test]
    async fn skipping_mfa_on_sign_in_is_honoured_unless_the_policy_is_mandatory() {
        let mut user = with_totp(user_with_password(), &mfa::totp::generate_secret());
        user.logto_config.mfa.skip_mfa_on_sign_in = true;

        let user_controlled = Parts::new(user.clone()).service();
        assert!(user_controlled.factors_to_verify(&user).await.unwrap().is_empty());

        let mut parts = Parts::new(user.clone());
        parts.mfa.policy = MfaPolicy::Mandatory;
        assert_eq!(parts.service().factors_to_verify(&user).await.unwrap(), [MfaFactorType::Totp]);
    }

    #[tokio::test]
    async fn webauthn_answers_are_refused_until_the_assertion_step_lands() {
        let mut parts = Parts::new(user_with_password());
        let mut pending = MockPendingMfaRepository::new();
        pending.expect_begin_attempt().never();
        parts.pending = pending;

        let result = parts.service().verify_mfa("token", &MfaAnswer::WebAuthn, &RequestOrigin::default()).await;

        assert!(matches!(result, Err(SignInError::FactorNotEnabled)), "{result:?}");
    }

    #[tokio::test]
    async fn an_unknown_challenge_token_is_not_found() {
        let mut parts = Parts::new(user_with_password());
        let (pending, _slot) = pending_store();
        parts.pending = pending;

        let result = parts
            .service()
            .verify_mfa("no-such-token", &MfaAnswer::Totp("123456".into()), &RequestOrigin::default())
            .await;

        assert!(matches!(result, Err(SignInError::MfaChallengeNotFound)), "{result:?}");
    }

    mod codes {
        use super::*;
        use crate::identifiers::Email;
        use crate::verification_code::{
            CODE_MAX_ATTEMPTS, CodeMessage, MockMessageConnector, MockVerificationCodeRepository, VerificationCode,
        };

        fn email(value: &str) -> SignInIdentifier {
            SignInIdentifier::parse(IdentifierKind::Email, value).unwrap()
        }

        fn user_with_email() -> User {
            let mut user = User::new(user_id(), Timestamp::from_millis(0));
            user.primary_email = Some(Email::parse("ada@example.com").unwrap());
            user
        }

        type CodeSlot = Arc<Mutex<Option<VerificationCode>>>;
        type Outbox = Arc<Mutex<Vec<CodeMessage>>>;

        /// A code store with the real rules (one live code per target, attempts, single use) and a send counter.
        fn code_store(sends_before: u64) -> (MockVerificationCodeRepository, CodeSlot) {
            let slot: CodeSlot = Arc::new(Mutex::new(None));
            let sends = Arc::new(Mutex::new(sends_before));
            let mut codes = MockVerificationCodeRepository::new();
            codes.expect_record_send().returning(move |_, _, _, limit| {
                let mut sends = sends.lock().unwrap();
                let allowed = *sends < limit;
                if allowed {
                    *sends += 1;
                }
                Ok(allowed)
            });
            let insert = Arc::clone(&slot);
            codes.expect_insert().returning(move |code| {
                *insert.lock().unwrap() = Some(code.clone());
                Ok(())
            });
            let find = Arc::clone(&slot);
            codes.expect_find().returning(move |id| Ok(find.lock().unwrap().clone().filter(|code| code.id == id)));
            let attempt = Arc::clone(&slot);
            codes.expect_begin_attempt().returning(move |id, now, max| {
                let mut slot = attempt.lock().unwrap();
                match slot.as_mut() {
                    Some(code) if code.id == id && code.expires_at > now && code.attempts < max => {
                        code.attempts += 1;
                        Ok(true)
                    }
                    _ => Ok(false),
                }
            });
            let consume = Arc::clone(&slot);
            codes.expect_consume().returning(move |id| {
                let mut slot = consume.lock().unwrap();
                let matches = slot.as_ref().is_some_and(|code| code.id == id);
                if matches {
                    *slot = None;
                }
                Ok(matches)
            });
            (codes, slot)
        }

        fn outbox() -> (MockMessageConnector, Outbox) {
            let sent = Arc::new(Mutex::new(Vec::new()));
            let mut connector = MockMessageConnector::new();
            let log = Arc::clone(&sent);
            connector.expect_send().returning(move |message| {
                log.lock().unwrap().push(message.clone());
                Ok(())
            });
            (connector, sent)
        }

        fn users_by_email(user: User) -> MockUserRepository {
            let mut users = MockUserRepository::new();
            users.expect_find_by_email().returning(move |email| {
                Ok((user.primary_email.as_ref().map(Email::normalized) == Some(email.normalized()))
                    .then(|| user.clone()))
            });
            users.expect_find_by_phone().returning(|_| Ok(None));
            users
        }

        struct CodeParts {
            parts: Parts,
            codes: MockVerificationCodeRepository,
            connector: MockMessageConnector,
        }

        impl CodeParts {
            fn new(sends_before: u64) -> (Self, CodeSlot, Outbox) {
                let (codes, slot) = code_store(sends_before);
                let (connector, sent) = outbox();
                (Self { parts: Parts::new(user_with_email()), codes, connector }, slot, sent)
            }

            fn service(self) -> SignInService {
                let codes = CodeSignInPorts {
                    codes: Arc::new(self.codes),
                    connector: Arc::new(self.connector),
                    users: Arc::new(users_by_email(user_with_email())),
                };
                self.parts.service().with_codes(codes)
            }
        }

        fn code_request(identifier: &str, verification_id: &str, code: &str) -> CodeSignIn {
            CodeSignIn {
                client_id: CLIENT.to_owned(),
                identifier: email(identifier),
                verification_id: verification_id.to_owned(),
                code: code.to_owned(),
                scopes: vec!["openid".to_owned()],
                origin: RequestOrigin::default(),
            }
        }

        fn wrong(code: &str) -> String {
            if code == "000000" { "000001".to_owned() } else { "000000".to_owned() }
        }

        #[tokio::test]
        async fn the_code_sent_to_a_users_email_signs_them_in_once() {
            let (parts, _slot, sent) = CodeParts::new(0);
            let service = parts.service();

            let sent_code = service.send_sign_in_code(CLIENT, &email("Ada@Example.com")).await.unwrap();
            assert_eq!(sent_code.expires_at, NOW.plus_secs(600));
            let message = sent.lock().unwrap()[0].clone();
            assert_eq!(message.to.address(), "Ada@Example.com");
            assert_eq!(message.purpose, CodePurpose::SignIn);

            let request = code_request("ada@example.com", &sent_code.verification_id, &message.code);
            let outcome = service.sign_in_with_code(request.clone()).await;
            let Ok(SignInOutcome::SignedIn(signed_in)) = outcome else { panic!("signed in: {outcome:?}") };
            assert_eq!(signed_in.user.id, user_id());
            assert_eq!(signed_in.user.last_sign_in_at, Some(NOW));

            let again = service.sign_in_with_code(request).await;
            assert!(matches!(again, Err(SignInError::CodeNotFound)), "{again:?}");
        }

        #[tokio::test]
        async fn an_unknown_email_gets_a_code_and_the_same_wrong_code_answer() {
            let (parts, _slot, sent) = CodeParts::new(0);
            let service = parts.service();

            let known = service.send_sign_in_code(CLIENT, &email("ada@example.com")).await.unwrap();
            let known_code = sent.lock().unwrap()[0].code.clone();
            let known_wrong =
                service.sign_in_with_code(code_request("ada@example.com", &known.verification_id, &wrong(&known_code)));
            let known_wrong = known_wrong.await;

            let unknown = service.send_sign_in_code(CLIENT, &email("nobody@example.com")).await.unwrap();
            let unknown_code = sent.lock().unwrap()[1].code.clone();
            let unknown_wrong = service
                .sign_in_with_code(code_request("nobody@example.com", &unknown.verification_id, &wrong(&unknown_code)))
                .await;

            assert_eq!(sent.lock().unwrap().len(), 2, "a code is sent to the unknown email too");
            assert!(matches!(known_wrong, Err(SignInError::CodeMismatch)), "{known_wrong:?}");
            assert!(matches!(unknown_wrong, Err(SignInError::CodeMismatch)), "{unknown_wrong:?}");

            let unknown_right = service
                .sign_in_with_code(code_request("nobody@example.com", &unknown.verification_id, &unknown_code))
                .await;
            assert!(matches!(unknown_right, Err(SignInError::UserNotFound)), "{unknown_right:?}");
        }

        #[tokio::test]
        async fn a_wrong_code_is_counted_by_the_sentinel() {
            let (mut parts, _slot, sent) = CodeParts::new(0);
            let mut sentinel = MockSentinelRepository::new();
            sentinel.expect_blocked_until().returning(|_, _| Ok(None));
            sentinel.expect_count_failures_since().returning(|_, _| Ok(0));
            sentinel
                .expect_record_failure()
                .withf(|failure| failure.target == email("ADA@example.com").sentinel_target())
                .times(1)
                .returning(|_| Ok(()));
            sentinel.expect_forget_before().returning(|_| Ok(0));
            parts.parts.sentinel = sentinel;
            let service = parts.service();
            let code_sent = service.send_sign_in_code(CLIENT, &email("ada@example.com")).await.unwrap();
            let code = sent.lock().unwrap()[0].code.clone();

            let result =
                service.sign_in_with_code(code_request("ada@example.com", &code_sent.verification_id, &wrong(&code)));

            assert!(matches!(result.await, Err(SignInError::CodeMismatch)));
        }

        #[tokio::test]
        async fn a_code_allows_ten_checks_and_then_refuses_even_the_right_code() {
            let (parts, _slot, sent) = CodeParts::new(0);
            let service = parts.service();
            let code_sent = service.send_sign_in_code(CLIENT, &email("ada@example.com")).await.unwrap();
            let code = sent.lock().unwrap()[0].code.clone();
            let id = code_sent.verification_id;

            for _ in 0..CODE_MAX_ATTEMPTS {
                let result = service.sign_in_with_code(code_request("ada@example.com", &id, &wrong(&code))).await;
                assert!(matches!(result, Err(SignInError::CodeMismatch)), "{result:?}");
            }
            let right = service.sign_in_with_code(code_request("ada@example.com", &id, &code)).await;

            assert!(matches!(right, Err(SignInError::CodeAttemptsExceeded)), "{right:?}");
        }

        #[tokio::test]
        async fn a_code_works_only_for_the_identifier_it_was_sent_to() {
            let (parts, _slot, sent) = CodeParts::new(0);
            let service = parts.service();
            let code_sent = service.send_sign_in_code(CLIENT, &email("eve@example.com")).await.unwrap();
            let code = sent.lock().unwrap()[0].code.clone();

            let result =
                service.sign_in_with_code(code_request("ada@example.com", &code_sent.verification_id, &code)).await;

            assert!(matches!(result, Err(SignInError::CodeIdentifierMismatch { kind: IdentifierKind::Email })));
        }

        #[tokio::test]
        async fn an_expired_code_is_refused() {
            let (parts, slot, sent) = CodeParts::new(0);
            let service = parts.service();
            let code_sent = service.send_sign_in_code(CLIENT, &email("ada@example.com")).await.unwrap();
            let code = sent.lock().unwrap()[0].code.clone();
            slot.lock().unwrap().as_mut().unwrap().expires_at = NOW;

            let result =
                service.sign_in_with_code(code_request("ada@example.com", &code_sent.verification_id, &code)).await;

            assert!(matches!(result, Err(SignInError::CodeExpired)), "{result:?}");
        }

        #[tokio::test]
        async fn the_eleventh_send_within_the_window_is_rate_limited_and_not_sent() {
            let (parts, _slot, sent) = CodeParts::new(10);
            let service = parts.service();

            let result = service.send_sign_in_code(CLIENT, &email("ada@example.com")).await;

            assert!(matches!(result, Err(SignInError::MessageRateLimited)), "{result:?}");
            assert!(sent.lock().unwrap().is_empty());
        }

        #[tokio::test]
        async fn without_a_connector_code_sign_in_is_unavailable() {
            let service = Parts::new(user_with_email()).service();

            let send = service.send_sign_in_code(CLIENT, &email("ada@example.com")).await;
            let check = service.sign_in_with_code(code_request("ada@example.com", "id", "123456")).await;

            assert!(matches!(send, Err(SignInError::ConnectorNotFound)), "{send:?}");
            assert!(matches!(check, Err(SignInError::ConnectorNotFound)), "{check:?}");
        }

        #[tokio::test]
        async fn a_user_with_totp_signing_in_by_code_must_pass_mfa() {
            let (mut parts, _slot, sent) = CodeParts::new(0);
            let user = with_totp(user_with_email(), &mfa::totp::generate_secret());
            parts.parts.users = users_holding(user.clone());
            let (pending, _pending_slot) = pending_store();
            parts.parts.pending = pending;
            let codes = CodeSignInPorts {
                codes: Arc::new(parts.codes),
                connector: Arc::new(parts.connector),
                users: Arc::new(users_by_email(user)),
            };
            let service = parts.parts.service().with_codes(codes);
            let code_sent = service.send_sign_in_code(CLIENT, &email("ada@example.com")).await.unwrap();
            let code = sent.lock().unwrap()[0].code.clone();

            let outcome =
                service.sign_in_with_code(code_request("ada@example.com", &code_sent.verification_id, &code)).await;

            assert!(matches!(outcome, Ok(SignInOutcome::MfaRequired(_))), "{outcome:?}");
        }

        #[tokio::test]
        async fn usernames_cannot_be_sent_codes() {
            let (parts, _slot, _sent) = CodeParts::new(0);
            let result = parts.service().send_sign_in_code(CLIENT, &username("ada")).await;
            assert!(matches!(result, Err(SignInError::NotARecipient)), "{result:?}");
        }
    }
}
