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

use std::sync::Arc;

use thiserror::Error;

use crate::application::{ApplicationRepository, ApplicationType};
use crate::clock::{Clock, Timestamp};
use crate::mfa::{MfaError, MfaFactorType, usable_factor_types};
use crate::password::PlainPassword;
use crate::ports::RepoError;
use crate::secrets::{OpaqueSecret, SecretHash, hash_secret};
use crate::service::{AccountError, AccountService};
use crate::sign_in::{
    MfaPolicy, MfaSettings, PENDING_MFA_MAX_ATTEMPTS, PendingMfa, PendingMfaRepository, SentinelFailure,
    SentinelPolicy, SentinelRepository, SignInIdentifier,
};
use crate::user::User;

/// What the sign-in use cases need.
#[derive(Clone)]
pub struct SignInPorts {
    /// Password checks (with dummy verification and hash upgrade) and factor verification (with replay guards).
    pub accounts: AccountService,
    pub applications: Arc<dyn ApplicationRepository>,
    pub sentinel: Arc<dyn SentinelRepository>,
    pub pending_mfa: Arc<dyn PendingMfaRepository>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SignInPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignInPorts { .. }")
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
    #[error("storage failed: {0}")]
    Storage(String),
}

impl From<RepoError> for SignInError {
    fn from(error: RepoError) -> Self {
        SignInError::Storage(error.to_string())
    }
}

/// The first step's input. `scopes` are the ones the finished sign-in grants (already filtered by the caller).
#[derive(Debug, Clone)]
pub struct PasswordSignIn {
    pub client_id: String,
    pub identifier: SignInIdentifier,
    pub password: PlainPassword,
    pub scopes: Vec<String>,
}

/// A user who may now get a session and tokens.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub client_id: String,
    pub scopes: Vec<String>,
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
    sentinel: SentinelPolicy,
    mfa: MfaSettings,
}

impl SignInService {
    pub fn new(ports: SignInPorts, sentinel: SentinelPolicy, mfa: MfaSettings) -> Self {
        Self { ports, sentinel, mfa }
    }

    /// The first step: identifier and password.
    pub async fn sign_in_with_password(&self, request: PasswordSignIn) -> Result<SignInOutcome, SignInError> {
        self.check_client(&request.client_id).await?;
        let target = request.identifier.sentinel_target();
        self.ensure_not_blocked(&target).await?;
        let user = match self.ports.accounts.check_password(request.identifier.lookup_value(), &request.password).await
        {
            Ok(user) => user,
            Err(AccountError::InvalidCredentials) => {
                return Err(self.fail(&target, SignInError::InvalidCredentials).await);
            }
            Err(other) => return Err(SignInError::Storage(other.to_string())),
        };
        if user.is_suspended {
            return Err(SignInError::Suspended);
        }
        let available_factors = self.factors_to_verify(&user);
        if available_factors.is_empty() {
            let signed_in = self.signed_in(user, request.client_id, request.scopes).await?;
            return Ok(SignInOutcome::SignedIn(Box::new(signed_in)));
        }
        let now = self.ports.clock.now();
        let (token, pending) = PendingMfa::issue(user.id, request.client_id, request.scopes, target, now);
        self.ports.pending_mfa.insert(&pending).await?;
        Ok(SignInOutcome::MfaRequired(MfaChallenge { token, available_factors, expires_at: pending.expires_at }))
    }

    /// The second step: a code for the challenge named by `token`. Each call spends one of the challenge's
    /// attempts; a wrong code also counts against the identifier in the sentinel.
    pub async fn verify_mfa(&self, token: &str, answer: &MfaAnswer) -> Result<SignedIn, SignInError> {
        if answer.factor_type() == MfaFactorType::WebAuthn || !self.mfa.factors.contains(&answer.factor_type()) {
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
        let verified = match answer {
            MfaAnswer::Totp(code) => self.ports.accounts.verify_totp(&pending.user_id, code).await,
            MfaAnswer::BackupCode(code) => self.ports.accounts.use_backup_code(&pending.user_id, code).await,
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
                return Err(self.fail(&pending.sentinel_target, wrong_code).await);
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
        self.signed_in(user, pending.client_id, pending.scopes).await
    }

    /// The end of a successful sign-in: `lastSignInAt` is recorded before tokens are handed out.
    async fn signed_in(&self, user: User, client_id: String, scopes: Vec<String>) -> Result<SignedIn, SignInError> {
        let user = match self.ports.accounts.record_sign_in(user).await {
            Ok(user) => user,
            Err(AccountError::UserNotFound) => return Err(SignInError::InvalidCredentials),
            Err(other) => return Err(SignInError::Storage(other.to_string())),
        };
        Ok(SignedIn { user, client_id, scopes })
    }

    /// The factors the user must verify one of before getting tokens; empty when no second step is needed.
    pub fn factors_to_verify(&self, user: &User) -> Vec<MfaFactorType> {
        if user.logto_config.mfa.skip_mfa_on_sign_in && self.mfa.policy == MfaPolicy::UserControlled {
            return Vec::new();
        }
        usable_factor_types(&user.mfa_factors, &self.mfa.factors)
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
        let now = self.ports.clock.now();
        match self.ports.sentinel.blocked_until(target, now).await? {
            Some(until) => Err(SignInError::Blocked { until }),
            None => Ok(()),
        }
    }

    /// Records a failed check on `target` and returns the error to answer: `refusal`, or `Blocked` when this
    /// failure reached the limit (Logto answers that very attempt with the block).
    async fn fail(&self, target: &SecretHash, refusal: SignInError) -> SignInError {
        match self.report_failure(target).await {
            Ok(None) => refusal,
            Ok(Some(until)) => SignInError::Blocked { until },
            Err(error) => error.into(),
        }
    }

    async fn report_failure(&self, target: &SecretHash) -> Result<Option<Timestamp>, RepoError> {
        let now = self.ports.clock.now();
        let sentinel = &self.ports.sentinel;
        let since = now.plus_secs(-self.sentinel.window_secs);
        let earlier = sentinel.count_failures_since(target, since).await?;
        let blocked_until =
            (earlier + 1 >= self.sentinel.max_failures).then(|| now.plus_secs(self.sentinel.lockout_secs));
        sentinel.record_failure(&SentinelFailure { target: target.clone(), created_at: now, blocked_until }).await?;
        // Failures older than both the window and the lockout decide nothing any more.
        let horizon = now.plus_secs(-self.sentinel.window_secs.max(self.sentinel.lockout_secs));
        sentinel.forget_before(horizon).await?;
        Ok(blocked_until)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use mockall::predicate::always;

    use super::*;
    use crate::application::{Application, MockApplicationRepository};
    use crate::clock::FixedClock;
    use crate::identifiers::Username;
    use crate::ids::{RandomIds, UserId};
    use crate::mfa::{self, MfaFactor, MfaFactorKind, TotpFactor};
    use crate::password::hasher::MockPasswordHasher;
    use crate::password::{PasswordAlgorithm, PasswordCheck, StoredPassword};
    use crate::ports::{Conflict, MockUserRepository};
    use crate::secret_box::{AesGcmSecretBox, SecretBox};
    use crate::service::Ports;
    use crate::sign_in::{IdentifierKind, MockPendingMfaRepository, MockSentinelRepository, PENDING_MFA_TTL_SECS};

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
        let row = Arc::new(Mutex::new(user));
        let mut users = MockUserRepository::new();
        let by_name = Arc::clone(&row);
        users.expect_find_by_username().returning(move |name| {
            let user = by_name.lock().unwrap().clone();
            Ok((user.username.as_ref() == Some(name)).then_some(user))
        });
        let by_id = Arc::clone(&row);
        users.expect_find_by_id().returning(move |_| Ok(Some(by_id.lock().unwrap().clone())));
        let write = Arc::clone(&row);
        users.expect_update().returning(move |changed| {
            let mut stored = write.lock().unwrap();
            if stored.version != changed.version {
                return Err(RepoError::Conflict(Conflict::Version));
            }
            let mut saved = changed.clone();
            saved.version = changed.version.next();
            *stored = saved.clone();
            Ok(saved)
        });
        users
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
                mfa: MfaSettings::default(),
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
            SignInService::new(
                SignInPorts {
                    accounts,
                    applications: Arc::new(self.applications),
                    sentinel: Arc::new(self.sentinel),
                    pending_mfa: Arc::new(self.pending),
                    clock: Arc::new(FixedClock(NOW)),
                },
                SentinelPolicy::default(),
                self.mfa,
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
        assert_eq!((signed_in.client_id.as_str(), signed_in.scopes), (CLIENT, vec!["openid".to_owned()]));
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
        let signed_in = service.verify_mfa(challenge.token.expose(), &MfaAnswer::Totp(code.clone())).await.unwrap();
        assert_eq!(signed_in.user.id, user_id());
        assert_eq!(signed_in.client_id, CLIENT);

        let again = service.verify_mfa(challenge.token.expose(), &MfaAnswer::Totp(code)).await;
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
            let result = service.verify_mfa(challenge.token.expose(), &MfaAnswer::Totp(wrong.to_owned())).await;
            assert!(matches!(result, Err(SignInError::InvalidTotpCode)), "{result:?}");
        }
        let after = service.verify_mfa(challenge.token.expose(), &MfaAnswer::Totp(right)).await;

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

        let result = service.verify_mfa(challenge.token.expose(), &MfaAnswer::BackupCode("0123456789".into())).await;

        assert!(matches!(result, Err(SignInError::InvalidBackupCode)), "{result:?}");
    }

    #[tokio::test]
    async fn skipping_mfa_on_sign_in_is_honoured_unless_the_policy_is_mandatory() {
        let mut user = with_totp(user_with_password(), &mfa::totp::generate_secret());
        user.logto_config.mfa.skip_mfa_on_sign_in = true;

        let user_controlled = Parts::new(user.clone()).service();
        assert!(user_controlled.factors_to_verify(&user).is_empty());

        let mut parts = Parts::new(user.clone());
        parts.mfa.policy = MfaPolicy::Mandatory;
        assert_eq!(parts.service().factors_to_verify(&user), [MfaFactorType::Totp]);
    }

    #[tokio::test]
    async fn webauthn_answers_are_refused_until_the_assertion_step_lands() {
        let mut parts = Parts::new(user_with_password());
        let mut pending = MockPendingMfaRepository::new();
        pending.expect_begin_attempt().never();
        parts.pending = pending;

        let result = parts.service().verify_mfa("token", &MfaAnswer::WebAuthn).await;

        assert!(matches!(result, Err(SignInError::FactorNotEnabled)), "{result:?}");
    }

    #[tokio::test]
    async fn an_unknown_challenge_token_is_not_found() {
        let mut parts = Parts::new(user_with_password());
        let (pending, _slot) = pending_store();
        parts.pending = pending;

        let result = parts.service().verify_mfa("no-such-token", &MfaAnswer::Totp("123456".into())).await;

        assert!(matches!(result, Err(SignInError::MfaChallengeNotFound)), "{result:?}");
    }
}
