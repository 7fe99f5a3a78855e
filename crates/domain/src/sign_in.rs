//! The data and ports of the redirect-free sign-in API: the identifier a person signs in with, Logto's brute-force
//! sentinel (`packages/core/src/sentinel/basic-sentinel.ts`: failed checks counted per identifier in the database,
//! so the limit holds across instances), and the short-lived MFA challenge that lets any instance finish the
//! second step. The use case is [`crate::service::SignInService`].

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::audit::AuditContext;
use crate::clock::Timestamp;
use crate::hook::HookEvent;
use crate::hook::payload::{EventData, HookEventOccurrence};
use crate::identifiers::{Email, IdentifierError, Phone, Username};
use crate::ids::UserId;
use crate::mfa::MfaFactorType;
use crate::ports::RepoError;
use crate::secrets::{OpaqueSecret, REFRESH_TOKEN_LENGTH, SecretHash, generate_secret, hash_secret};

/// How long a pending MFA challenge lives: enough to open an authenticator app, short enough to be useless later.
pub const PENDING_MFA_TTL_SECS: i64 = 300;
/// How many codes may be tried against one MFA challenge; after that the user starts again with the password.
pub const PENDING_MFA_MAX_ATTEMPTS: u32 = 5;

/// The identifier a person signs in with, validated by its kind (Logto's `{type, value}`). Emails and phones are
/// normalised, so that spellings of one identifier share their sentinel count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInIdentifier {
    Username(Username),
    Email(Email),
    Phone(Phone),
}

/// The kinds of [`SignInIdentifier`] on the wire (`identifier.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierKind {
    Username,
    Email,
    Phone,
}

impl SignInIdentifier {
    pub fn parse(kind: IdentifierKind, value: &str) -> Result<Self, IdentifierError> {
        Ok(match kind {
            IdentifierKind::Username => Self::Username(Username::parse(value)?),
            IdentifierKind::Email => Self::Email(Email::parse(value)?),
            IdentifierKind::Phone => Self::Phone(Phone::parse(value)?),
        })
    }

    pub fn kind(&self) -> IdentifierKind {
        match self {
            Self::Username(_) => IdentifierKind::Username,
            Self::Email(_) => IdentifierKind::Email,
            Self::Phone(_) => IdentifierKind::Phone,
        }
    }

    /// The value to look the user up by. The three formats are disjoint (a username has no `@` and starts with
    /// a letter or underscore, a phone is digits only), so this value finds users by this kind only.
    pub fn lookup_value(&self) -> &str {
        match self {
            Self::Username(username) => username.as_str(),
            Self::Email(email) => email.as_str(),
            Self::Phone(phone) => phone.as_str(),
        }
    }

    /// The sentinel's key for this identifier: a SHA-256 digest (Logto's `targetHash`), so that the failure log
    /// holds no identifier in clear.
    pub fn sentinel_target(&self) -> SecretHash {
        let normalised = match self {
            Self::Username(username) => format!("username:{}", username.as_str()),
            Self::Email(email) => format!("email:{}", email.normalized()),
            Self::Phone(phone) => format!("phone:{}", phone.as_str()),
        };
        hash_secret(&normalised)
    }
}

/// Logto's sentinel policy: this many failures within the window block the identifier for the lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentinelPolicy {
    pub max_failures: u64,
    pub window_secs: i64,
    pub lockout_secs: i64,
}

impl Default for SentinelPolicy {
    /// 100 failures in an hour block for 60 minutes (logto-reference §2, `schemas/src/consts/sentinel.ts`).
    fn default() -> Self {
        Self { max_failures: 100, window_secs: 3600, lockout_secs: 3600 }
    }
}

impl IdentifierKind {
    /// The name on the wire (`identifier.type`, and the `type` of an `Identifier.Lockout` event).
    pub const fn wire_name(self) -> &'static str {
        match self {
            Self::Username => "username",
            Self::Email => "email",
            Self::Phone => "phone",
        }
    }
}

/// Who is locked out when a failure starts a block, for the `Identifier.Lockout` webhook: the identifier (in clear,
/// as Logto sends it) and the request that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutSubject {
    pub identifier: SignInIdentifier,
    pub context: AuditContext,
}

/// One failed check recorded by the sentinel. `blocked_until` is set on the failure that reached the limit (and
/// on failures reported while blocked, as Logto records them); such rows start or extend nothing by themselves
/// but answer "blocked" until that time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelFailure {
    pub target: SecretHash,
    pub created_at: Timestamp,
    pub blocked_until: Option<Timestamp>,
    /// The `Identifier.Lockout` event, when this failure starts a block on a known identifier; stored with the
    /// failure in one transaction, so that the event is sent exactly when the block exists.
    pub lockout_event: Option<HookEventOccurrence>,
}

/// The sentinel's failure log, shared by every instance through the database.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SentinelRepository: Send + Sync {
    /// The latest end of a block on `target` that is still in force at `now`, if any.
    async fn blocked_until(&self, target: &SecretHash, now: Timestamp) -> Result<Option<Timestamp>, RepoError>;
    /// How many failures on `target` that carried no block were recorded after `since` (Logto counts only those).
    async fn count_failures_since(&self, target: &SecretHash, since: Timestamp) -> Result<u64, RepoError>;
    async fn record_failure(&self, failure: &SentinelFailure) -> Result<(), RepoError>;
    /// Forgets failures recorded before `before` whose block, if any, has ended by then; returns how many.
    async fn forget_before(&self, before: Timestamp) -> Result<u64, RepoError>;
}

/// The sentinel over its port: refuses a target while it is blocked and counts failures on it, blocking it when a
/// failure reaches the policy's limit. Sign-in and verification records share it.
#[derive(Clone)]
pub struct Sentinel {
    repository: Arc<dyn SentinelRepository>,
    policy: SentinelPolicy,
}

impl std::fmt::Debug for Sentinel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sentinel").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl Sentinel {
    pub fn new(repository: Arc<dyn SentinelRepository>, policy: SentinelPolicy) -> Self {
        Self { repository, policy }
    }

    /// The end of the block on `target` in force at `now`, if any.
    pub async fn blocked_until(&self, target: &SecretHash, now: Timestamp) -> Result<Option<Timestamp>, RepoError> {
        self.repository.blocked_until(target, now).await
    }

    /// Records a failed check on `target` at `now`; answers the end of the block when this failure reached the
    /// limit (Logto answers that very attempt with the block). A block on a `subject` is an `Identifier.Lockout`
    /// event.
    pub async fn report_failure(
        &self,
        target: &SecretHash,
        subject: Option<LockoutSubject>,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, RepoError> {
        let since = now.plus_secs(-self.policy.window_secs);
        let earlier = self.repository.count_failures_since(target, since).await?;
        let blocked_until = (earlier + 1 >= self.policy.max_failures).then(|| now.plus_secs(self.policy.lockout_secs));
        let lockout_event = blocked_until.and(subject).map(|subject| HookEventOccurrence {
            event: HookEvent::IDENTIFIER_LOCKOUT,
            context: subject.context,
            user_id: None,
            data: EventData::Lockout {
                identifier_type: subject.identifier.kind().wire_name(),
                value: subject.identifier.lookup_value().to_owned(),
            },
            created_at: now,
        });
        let failure = SentinelFailure { target: target.clone(), created_at: now, blocked_until, lockout_event };
        self.repository.record_failure(&failure).await?;
        // Failures older than both the window and the lockout decide nothing any more.
        let horizon = now.plus_secs(-self.policy.window_secs.max(self.policy.lockout_secs));
        self.repository.forget_before(horizon).await?;
        Ok(blocked_until)
    }
}

/// Logto's MFA policies (`mfa.policy` of the sign-in experience). At sign-in only one distinction matters: under
/// `Mandatory` a user's `skipMfaOnSignIn` is ignored ([`MfaPolicy::honours_skip`]); the others differ in when
/// users are prompted to set MFA up, which the redirect-free sign-in does not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MfaPolicy {
    /// Users with factors verify one at sign-in, unless they chose `skipMfaOnSignIn` (Logto's default; deprecated
    /// by Logto in favour of `PromptAtSignInAndSignUp`).
    #[default]
    UserControlled,
    /// Users with factors always verify one; `skipMfaOnSignIn` is ignored.
    Mandatory,
    PromptOnlyAtSignIn,
    PromptAtSignInAndSignUp,
    NoPrompt,
    /// Non-skippable set-up prompts: Logto accepts these only with adaptive MFA, which Latchkey does not have.
    PromptAtSignInAndSignUpMandatory,
    PromptOnlyAtSignInMandatory,
}

impl MfaPolicy {
    /// Whether a user's `skipMfaOnSignIn` is honoured at sign-in: always, except under `Mandatory`.
    pub fn honours_skip(self) -> bool {
        self != MfaPolicy::Mandatory
    }

    /// The policies whose set-up prompt cannot be skipped (Logto ties them to adaptive MFA).
    pub fn is_non_skippable_prompt(self) -> bool {
        matches!(self, MfaPolicy::PromptAtSignInAndSignUpMandatory | MfaPolicy::PromptOnlyAtSignInMandatory)
    }
}

/// What the sign-in experience says about MFA at sign-in, in Logto's wire shape (`mfa {factors, policy}`). The
/// default is Logto's seed: no factor enabled, `UserControlled`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaSettings {
    /// The sign-in experience's `mfa.factors`: a bound factor of another type is not asked for.
    pub factors: Vec<MfaFactorType>,
    pub policy: MfaPolicy,
}

/// A sign-in waiting for its second factor: the password step succeeded for `user_id`. The holder of the
/// challenge token (handed out once, stored as its hash) may try [`PENDING_MFA_MAX_ATTEMPTS`] codes before
/// `expires_at`; a success consumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMfa {
    pub token_hash: SecretHash,
    pub user_id: UserId,
    pub client_id: String,
    /// The scopes the finished sign-in grants.
    pub scopes: Vec<String>,
    /// The identifier's sentinel key: wrong codes count against it as wrong passwords do.
    pub sentinel_target: SecretHash,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Codes tried so far.
    pub attempts: u32,
}

impl PendingMfa {
    /// A fresh challenge, in clear (to hand out once) and as stored.
    pub fn issue(
        user_id: UserId,
        client_id: String,
        scopes: Vec<String>,
        sentinel_target: SecretHash,
        now: Timestamp,
    ) -> (OpaqueSecret, PendingMfa) {
        let token = generate_secret("", REFRESH_TOKEN_LENGTH);
        let pending = PendingMfa {
            token_hash: token.hash(),
            user_id,
            client_id,
            scopes,
            sentinel_target,
            created_at: now,
            expires_at: now.plus_secs(PENDING_MFA_TTL_SECS),
            attempts: 0,
        };
        (token, pending)
    }
}

/// Pending MFA challenges, one aggregate.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PendingMfaRepository: Send + Sync {
    /// Stores a challenge (`NotFound` when the user does not exist) and forgets challenges expired at its
    /// `created_at`, so that abandoned ones do not pile up.
    async fn insert(&self, pending: &PendingMfa) -> Result<(), RepoError>;
    /// Atomically takes one attempt on the challenge if it is unexpired at `now` and has had fewer than
    /// `max_attempts`, and returns it with the attempt counted; `None` otherwise. Concurrent callers cannot take
    /// more than `max_attempts` between them.
    async fn begin_attempt(
        &self,
        token_hash: &SecretHash,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Option<PendingMfa>, RepoError>;
    /// Removes the challenge; `true` for the one caller that removed it.
    async fn consume(&self, token_hash: &SecretHash) -> Result<bool, RepoError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_email_share_their_sentinel_target() {
        let lower = SignInIdentifier::parse(IdentifierKind::Email, "ada@example.com").unwrap();
        let mixed = SignInIdentifier::parse(IdentifierKind::Email, "Ada@Example.COM").unwrap();
        assert_eq!(lower.sentinel_target(), mixed.sentinel_target());
    }

    #[test]
    fn identifiers_of_different_kinds_never_share_a_target() {
        let username = SignInIdentifier::parse(IdentifierKind::Username, "ada").unwrap();
        let email = SignInIdentifier::parse(IdentifierKind::Email, "ada@example.com").unwrap();
        assert_ne!(username.sentinel_target(), email.sentinel_target());
        assert!(!username.sentinel_target().as_str().contains("ada"), "the target is a digest");
    }

    #[tokio::test]
    async fn the_failure_that_starts_a_block_carries_the_lockout_event_and_no_other_does() {
        let recorded = Arc::new(std::sync::Mutex::new(Vec::<SentinelFailure>::new()));
        let mut repository = MockSentinelRepository::new();
        let counted = Arc::clone(&recorded);
        repository.expect_count_failures_since().returning(move |_, _| Ok(counted.lock().unwrap().len() as u64));
        let stored = Arc::clone(&recorded);
        repository.expect_record_failure().returning(move |failure| {
            stored.lock().unwrap().push(failure.clone());
            Ok(())
        });
        repository.expect_forget_before().returning(|_| Ok(0));
        let sentinel =
            Sentinel::new(Arc::new(repository), SentinelPolicy { max_failures: 2, window_secs: 60, lockout_secs: 60 });
        let identifier = SignInIdentifier::parse(IdentifierKind::Email, "Ada@Example.com").unwrap();
        let subject = || Some(LockoutSubject { identifier: identifier.clone(), context: AuditContext::system() });
        let now = Timestamp::from_secs(1_000);

        assert_eq!(sentinel.report_failure(&identifier.sentinel_target(), subject(), now).await.unwrap(), None);
        let blocked = sentinel.report_failure(&identifier.sentinel_target(), subject(), now).await.unwrap();
        assert_eq!(blocked, Some(now.plus_secs(60)));

        let failures = recorded.lock().unwrap();
        assert_eq!(failures[0].lockout_event, None);
        let event = failures[1].lockout_event.as_ref().expect("the blocking failure names the identifier");
        assert_eq!(event.event, HookEvent::IDENTIFIER_LOCKOUT);
        assert_eq!(event.data, EventData::Lockout { identifier_type: "email", value: "Ada@Example.com".to_owned() });
    }

    #[test]
    fn a_value_of_the_wrong_kind_is_refused() {
        assert!(SignInIdentifier::parse(IdentifierKind::Email, "ada").is_err());
        assert!(SignInIdentifier::parse(IdentifierKind::Phone, "ada@example.com").is_err());
        assert!(SignInIdentifier::parse(IdentifierKind::Username, "15551234567").is_err());
    }

    #[test]
    fn a_challenge_is_stored_by_hash_and_lives_five_minutes() {
        let now = Timestamp::from_secs(1_000);
        let (token, pending) = PendingMfa::issue(
            UserId::parse("abcdefghijkl").unwrap(),
            "app".to_owned(),
            vec!["openid".to_owned()],
            hash_secret("target"),
            now,
        );
        assert!(token.expose().len() >= 43);
        assert!(pending.token_hash.matches(token.expose()));
        assert_eq!(pending.expires_at, Timestamp::from_secs(1_300));
    }
}
