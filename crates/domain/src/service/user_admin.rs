//! The administrator's use cases on users (the Management API and the operator CLI share them): changing
//! identifiers and data, passwords, suspension, deletion with a restorable tombstone, and restore.
//!
//! Every write goes through [`AccountService`]'s version-checked write with its audit entry, so each change is
//! logged in its own transaction and a concurrent change is re-applied rather than overwritten (or refused, when
//! the caller named the version it expects).

use std::time::Duration;

use serde_json::{Map, Value};

use crate::audit::{AuditContext, keys};
use crate::identifiers::{Email, Phone, Username};
use crate::ids::UserId;
use crate::mfa::{self, MfaFactorType};
use crate::password::PlainPassword;
use crate::ports::{Conflict, RepoError};
use crate::service::accounts::{AccountError, AccountService, NewUser, UserWrite, account_label};
use crate::session::RevokeReason;
use crate::user::{CustomData, Identity, LogtoConfig, Profile, User, identity_target};

/// How long a deleted user can be restored, unless configured otherwise.
pub const DEFAULT_TOMBSTONE_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// What `PATCH /api/users/:id` may change. For each field, `None` leaves it as it is; for the nullable ones,
/// `Some(None)` clears it. `customData` and `profile` are replaced whole, as Logto does on this route.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub username: Option<Option<Username>>,
    pub primary_email: Option<Option<Email>>,
    pub primary_phone: Option<Option<Phone>>,
    pub name: Option<Option<String>>,
    pub avatar: Option<Option<String>>,
    pub custom_data: Option<CustomData>,
    pub profile: Option<Profile>,
}

impl UserPatch {
    /// The wire names of the fields this patch sets, for the audit log.
    fn field_names(&self) -> Vec<&'static str> {
        [
            ("username", self.username.is_some()),
            ("primaryEmail", self.primary_email.is_some()),
            ("primaryPhone", self.primary_phone.is_some()),
            ("name", self.name.is_some()),
            ("avatar", self.avatar.is_some()),
            ("customData", self.custom_data.is_some()),
            ("profile", self.profile.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

    /// Whether this patch would take the user's last way to sign in (username, email, phone, social identity).
    /// Self-service changes must not; an administrator may, as in Logto.
    pub fn removes_last_sign_in_method(&self, user: &User) -> bool {
        let mut after = user.clone();
        self.apply(&mut after);
        user.sign_in_identifier_count() > 0 && after.sign_in_identifier_count() == 0
    }

    fn apply(&self, user: &mut User) {
        if let Some(username) = &self.username {
            user.username.clone_from(username);
        }
        if let Some(email) = &self.primary_email {
            user.primary_email.clone_from(email);
        }
        if let Some(phone) = &self.primary_phone {
            user.primary_phone.clone_from(phone);
        }
        if let Some(name) = &self.name {
            user.name.clone_from(name);
        }
        if let Some(avatar) = &self.avatar {
            user.avatar.clone_from(avatar);
        }
        if let Some(custom_data) = &self.custom_data {
            user.custom_data = custom_data.clone();
        }
        if let Some(profile) = &self.profile {
            user.profile = profile.clone();
        }
    }
}

/// A TOTP factor an administrator bound: the secret to hand to the user, and the QR code their app scans.
#[derive(Debug, Clone)]
pub struct ProvisionedTotp {
    pub secret: String,
    /// A `data:image/png;base64,…` QR code of the otpauth URI.
    pub qr_code_data_url: String,
}

/// The administrator's user use cases. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UserAdminService {
    accounts: AccountService,
    retention: Duration,
}

impl UserAdminService {
    /// Deleted users stay restorable for `retention`.
    pub fn new(accounts: AccountService, retention: Duration) -> Self {
        Self { accounts, retention }
    }

    pub fn accounts(&self) -> &AccountService {
        &self.accounts
    }

    pub async fn create(&self, new_user: NewUser, context: &AuditContext) -> Result<User, AccountError> {
        self.accounts.create_user(new_user, context).await
    }

    pub async fn get(&self, id: &UserId) -> Result<User, AccountError> {
        self.accounts.load(id).await
    }

    /// Changes identifiers, name, avatar, and replaces custom data and profile. A taken identifier is refused
    /// before anything is written (and the database's unique indexes settle a race).
    pub async fn update(&self, id: &UserId, patch: UserPatch, write: UserWrite<'_>) -> Result<User, AccountError> {
        let user = self.accounts.load(id).await?;
        let (username, email, phone) = (
            patch.username.clone().flatten(),
            patch.primary_email.clone().flatten(),
            patch.primary_phone.clone().flatten(),
        );
        self.accounts.ensure_identifiers_free(Some(id), &username, &email, &phone).await?;
        let details = crate::audit::details([("fields", Value::from(patch.field_names()))]);
        self.accounts
            .update_with_retry(user, write.with_details(details).logged(keys::USER_DATA_UPDATED), |user| {
                patch.apply(user);
                Ok(())
            })
            .await
    }

    /// Merges top-level keys into `customData` (`PATCH /users/:id/custom-data`).
    pub async fn merge_custom_data(
        &self,
        id: &UserId,
        patch: Map<String, Value>,
        write: UserWrite<'_>,
    ) -> Result<User, AccountError> {
        let user = self.accounts.load(id).await?;
        let details = crate::audit::details([("fields", Value::from(vec!["customData"]))]);
        self.accounts
            .update_with_retry(user, write.with_details(details).logged(keys::USER_DATA_UPDATED), |user| {
                user.custom_data = user.custom_data.merged(patch.clone()).map_err(AccountError::CustomData)?;
                Ok(())
            })
            .await
    }

    /// Merges the claims given into `profile` (`PATCH /users/:id/profile`).
    pub async fn merge_profile(&self, id: &UserId, patch: Profile, write: UserWrite<'_>) -> Result<User, AccountError> {
        let user = self.accounts.load(id).await?;
        let details = crate::audit::details([("fields", Value::from(vec!["profile"]))]);
        self.accounts
            .update_with_retry(user, write.with_details(details).logged(keys::USER_DATA_UPDATED), |user| {
                user.profile = user.profile.merged(&patch);
                Ok(())
            })
            .await
    }

    /// Replaces the user's `logtoConfig` with what `change` makes of it.
    pub async fn update_logto_config<F>(
        &self,
        id: &UserId,
        write: UserWrite<'_>,
        change: F,
    ) -> Result<User, AccountError>
    where
        F: Fn(&mut LogtoConfig),
    {
        let user = self.accounts.load(id).await?;
        let details = crate::audit::details([("fields", Value::from(vec!["logtoConfig"]))]);
        self.accounts
            .update_with_retry(user, write.with_details(details).logged(keys::USER_DATA_UPDATED), |user| {
                change(&mut user.logto_config);
                Ok(())
            })
            .await
    }

    /// Sets a new password (no policy, as Logto's Management API) and ends the user's sessions: a password reset
    /// by an administrator is how a stolen account is taken back.
    pub async fn set_password(
        &self,
        id: &UserId,
        password: &PlainPassword,
        write: UserWrite<'_>,
    ) -> Result<User, AccountError> {
        self.accounts.set_password(id, password, None, write.ending_sessions(RevokeReason::PasswordChanged)).await
    }

    /// Checks `password` against the user's. A user without a password costs a dummy verification, so that the
    /// answer takes as long either way.
    pub async fn verify_password(&self, id: &UserId, password: &PlainPassword) -> Result<(), AccountError> {
        self.accounts.verify_password(id, password).await.map(drop)
    }

    /// Suspends or reinstates the user. Suspension ends every session in the same transaction; reinstating
    /// revives none of them.
    pub async fn set_suspended(
        &self,
        id: &UserId,
        suspended: bool,
        write: UserWrite<'_>,
    ) -> Result<User, AccountError> {
        let user = self.accounts.load(id).await?;
        let details = crate::audit::details([("isSuspended", Value::from(suspended))]);
        let mut write = write.with_details(details);
        if suspended {
            write = write.ending_sessions(RevokeReason::UserSuspended);
        }
        self.accounts
            .update_with_retry(user, write.logged(keys::USER_SUSPENSION_UPDATED), |user| {
                user.is_suspended = suspended;
                Ok(())
            })
            .await
    }

    /// Links (or replaces) the user's social identity at `target`; answers the user and whether the link is new.
    /// An identity already linked to another user is refused (checked first; a race is settled by re-checking
    /// inside the retried write's read).
    pub async fn link_identity(
        &self,
        id: &UserId,
        target: &str,
        identity: Identity,
        write: UserWrite<'_>,
    ) -> Result<(User, bool), AccountError> {
        if !identity_target(target) {
            return Err(AccountError::IdentityNotFound);
        }
        let user = self.accounts.load(id).await?;
        let users = &self.accounts.ports().users;
        if users.find_by_identity(target, &identity.user_id).await?.is_some_and(|owner| owner.id != *id) {
            return Err(AccountError::IdentityInUse);
        }
        let created = !user.identities.contains_key(target);
        let details = crate::audit::details([
            ("action", Value::from(if created { "linked" } else { "replaced" })),
            ("target", Value::from(target)),
        ]);
        let user = self
            .accounts
            .update_with_retry(user, write.with_details(details).logged(keys::USER_IDENTITIES_UPDATED), |user| {
                user.identities.insert(target.to_owned(), identity.clone());
                Ok(())
            })
            .await?;
        Ok((user, created))
    }

    /// Unlinks the user's social identity at `target` (an administrator may remove the last way to sign in, as in
    /// Logto).
    pub async fn unlink_identity(&self, id: &UserId, target: &str, write: UserWrite<'_>) -> Result<User, AccountError> {
        let user = self.accounts.load(id).await?;
        if !user.identities.contains_key(target) {
            return Err(AccountError::IdentityNotFound);
        }
        let details = crate::audit::details([("action", Value::from("unlinked")), ("target", Value::from(target))]);
        self.accounts
            .update_with_retry(user, write.with_details(details).logged(keys::USER_IDENTITIES_UPDATED), |user| {
                user.identities.remove(target).map(drop).ok_or(AccountError::IdentityNotFound)
            })
            .await
    }

    /// Binds a TOTP factor with `secret` (or a fresh one) for the user to add to their app, without a code from
    /// it (`POST /api/users/:id/mfa-verifications`). `issuer` names this service in the app.
    pub async fn provision_totp(
        &self,
        id: &UserId,
        secret: Option<String>,
        issuer: &str,
        enabled_factors: &[MfaFactorType],
        write: UserWrite<'_>,
    ) -> Result<(User, ProvisionedTotp), AccountError> {
        let secret = secret.unwrap_or_else(mfa::totp::generate_secret);
        let user = self.accounts.load(id).await?;
        // Checked here in Logto's order (rules, then the secret) so that the QR code can be built before binding:
        // a failure then leaves nothing bound that the administrator never saw.
        mfa::check_can_bind(&user.mfa_factors, MfaFactorType::Totp, enabled_factors)?;
        mfa::totp::validate_secret(&secret)?;
        let qr_code_data_url = mfa::totp::qr_code_data_url(&secret, issuer, &account_label(&user))?;
        let user = self.accounts.bind_totp_secret(id, &secret, enabled_factors, write).await?;
        Ok((user, ProvisionedTotp { secret, qr_code_data_url }))
    }

    /// Binds `codes` (or a fresh set) as the user's backup codes and answers them.
    pub async fn provision_backup_codes(
        &self,
        id: &UserId,
        codes: Option<Vec<String>>,
        enabled_factors: &[MfaFactorType],
        write: UserWrite<'_>,
    ) -> Result<(User, Vec<String>), AccountError> {
        let codes = codes.unwrap_or_else(mfa::backup_codes::generate_codes);
        let user = self.accounts.bind_backup_codes(id, &codes, enabled_factors, write).await?;
        Ok((user, codes))
    }

    /// Removes one MFA factor (and the backup codes, when they would be left alone).
    pub async fn remove_mfa_factor(
        &self,
        id: &UserId,
        factor_id: &str,
        write: UserWrite<'_>,
    ) -> Result<User, AccountError> {
        self.accounts.remove_mfa_factor(id, factor_id, write).await
    }

    /// Deletes the user, keeping a tombstone that [`Self::restore`] can bring back during the retention period.
    pub async fn delete(&self, id: &UserId, write: UserWrite<'_>) -> Result<(), AccountError> {
        let ports = self.accounts.ports();
        for _ in 0..DELETE_ATTEMPTS {
            let user = self.accounts.load(id).await?;
            if write.expected().is_some_and(|expected| expected != user.version) {
                return Err(AccountError::PreconditionFailed);
            }
            let now = ports.clock.now();
            let restorable_until = now.plus_secs(i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX));
            let entry = self.accounts.entry(id, keys::USER_DELETED, write.context(), Map::new());
            match ports.users.delete(&user, restorable_until, &entry).await {
                Ok(()) => return Ok(()),
                Err(RepoError::Conflict(Conflict::Version)) if write.expected().is_none() => continue,
                Err(RepoError::Conflict(Conflict::Version)) => return Err(AccountError::PreconditionFailed),
                Err(other) => return Err(other.into()),
            }
        }
        Err(AccountError::VersionConflict)
    }

    /// Brings back a deleted user within the retention period, identifiers included. `UserNotFound` when there is
    /// nothing to restore; an identifier error when another user took one of them meanwhile.
    pub async fn restore(&self, id: &UserId, context: &AuditContext) -> Result<User, AccountError> {
        let now = self.accounts.ports().clock.now();
        let entry = self.accounts.entry(id, keys::USER_RESTORED, context, Map::new());
        Ok(self.accounts.ports().users.restore(id, now, &entry).await?)
    }
}

/// A delete that keeps meeting concurrent writes gives up after this many reads.
const DELETE_ATTEMPTS: usize = 3;

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::json;

    use super::*;

    #[test]
    fn a_patch_may_remove_an_identifier_but_not_the_last_way_to_sign_in() {
        use crate::identifiers::Email;
        let mut user = User::new(UserId::parse("useruseruser").unwrap(), crate::clock::Timestamp::from_millis(1));
        user.primary_email = Some(Email::parse("ada@example.com").unwrap());
        user.username = Some(Username::parse("ada").unwrap());
        let drop_email = UserPatch { primary_email: Some(None), ..UserPatch::default() };
        assert!(!drop_email.removes_last_sign_in_method(&user), "the username is left");
        user.username = None;
        assert!(drop_email.removes_last_sign_in_method(&user));
        let rename = UserPatch { name: Some(Some("Ada".into())), ..UserPatch::default() };
        assert!(!rename.removes_last_sign_in_method(&user));
        let mut nothing = user.clone();
        nothing.primary_email = None;
        assert!(!drop_email.removes_last_sign_in_method(&nothing), "nothing to take away");
    }
    use crate::audit::{Actor, AuditEntry};
    use crate::clock::{FixedClock, Timestamp};
    use crate::ids::RandomIds;
    use crate::password::hasher::MockPasswordHasher;
    use crate::ports::{MockUserRepository, UserChange};
    use crate::secret_box::AesGcmSecretBox;
    use crate::service::accounts::Ports;
    use crate::user::Version;

    const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    fn context() -> AuditContext {
        AuditContext::new(Actor::Application { id: "m2m".into() }).with_application("m2m")
    }

    fn stored_user() -> User {
        let mut user = User::new(UserId::parse("user00000001").unwrap(), Timestamp::from_millis(0));
        user.username = Some(Username::parse("ada").unwrap());
        user.custom_data = CustomData::new(json!({ "plan": "free", "theme": "dark" })).unwrap();
        user
    }

    fn service(users: MockUserRepository, hasher: MockPasswordHasher) -> UserAdminService {
        let accounts = AccountService::new(Ports {
            users: Arc::new(users),
            hasher: Arc::new(hasher),
            clock: Arc::new(FixedClock(NOW)),
            ids: Arc::new(RandomIds),
            secrets: Arc::new(AesGcmSecretBox::single("test", [7; 32]).unwrap()),
        });
        UserAdminService::new(accounts, DEFAULT_TOMBSTONE_RETENTION)
    }

    /// Every update the mock accepted, with its change.
    type Written = Arc<Mutex<Vec<(User, UserChange)>>>;

    /// A repository holding one user; every accepted update is recorded with its change.
    fn holding(user: User) -> (MockUserRepository, Written) {
        let mut users = MockUserRepository::new();
        let written = Arc::new(Mutex::new(Vec::new()));
        let read = user.clone();
        users.expect_find_by_id().returning(move |_| Ok(Some(read.clone())));
        users.expect_find_by_username().returning(|_| Ok(None));
        users.expect_find_by_email().returning(|_| Ok(None));
        users.expect_find_by_phone().returning(|_| Ok(None));
        let log = written.clone();
        users.expect_update().returning(move |changed, change| {
            log.lock().unwrap().push((changed.clone(), change.clone()));
            let mut saved = changed.clone();
            saved.version = changed.version.next();
            Ok(saved)
        });
        (users, written)
    }

    #[tokio::test]
    async fn merging_custom_data_keeps_other_keys_and_logs_who_changed_what() {
        let (users, written) = holding(stored_user());
        let Value::Object(patch) = json!({ "plan": "pro" }) else { unreachable!() };
        let context = context();
        let user = service(users, MockPasswordHasher::new())
            .merge_custom_data(&stored_user().id, patch, UserWrite::new(&context))
            .await
            .unwrap();
        assert_eq!(user.custom_data.into_value(), json!({ "plan": "pro", "theme": "dark" }));
        let (_, change) = written.lock().unwrap().pop().unwrap();
        let AuditEntry { key, user_id, context: logged, details, created_at, .. } = change.entry;
        assert_eq!(key, keys::USER_DATA_UPDATED);
        assert_eq!(user_id, Some(stored_user().id));
        assert_eq!(logged, context);
        assert_eq!(Value::Object(details), json!({ "fields": ["customData"] }));
        assert_eq!(created_at, NOW);
        assert_eq!(change.end_sessions, None);
    }

    #[tokio::test]
    async fn suspending_ends_sessions_in_the_same_write_and_reinstating_does_not() {
        let (users, written) = holding(stored_user());
        let service = service(users, MockPasswordHasher::new());
        let context = context();
        service.set_suspended(&stored_user().id, true, UserWrite::new(&context)).await.unwrap();
        service.set_suspended(&stored_user().id, false, UserWrite::new(&context)).await.unwrap();
        let written = written.lock().unwrap();
        assert!(written[0].0.is_suspended);
        assert_eq!(written[0].1.end_sessions, Some(RevokeReason::UserSuspended));
        assert!(!written[1].0.is_suspended);
        assert_eq!(written[1].1.end_sessions, None);
    }

    #[tokio::test]
    async fn a_write_expecting_an_old_version_is_refused_and_writes_nothing() {
        let mut users = MockUserRepository::new();
        let mut current = stored_user();
        current.version = Version(5);
        users.expect_find_by_id().returning(move |_| Ok(Some(current.clone())));
        users.expect_update().never();
        users.expect_delete().never();
        let service = service(users, MockPasswordHasher::new());
        let context = context();
        let stale = UserWrite::new(&context).expecting(Some(Version(4)));
        let patch = UserPatch { name: Some(Some("Ada".into())), ..UserPatch::default() };
        let result = service.update(&stored_user().id, patch, stale.clone()).await;
        assert!(matches!(result, Err(AccountError::PreconditionFailed)), "{result:?}");
        let result = service.delete(&stored_user().id, stale).await;
        assert!(matches!(result, Err(AccountError::PreconditionFailed)), "{result:?}");
    }

    #[tokio::test]
    async fn patching_names_the_changed_fields_and_replaces_custom_data_whole() {
        let (users, written) = holding(stored_user());
        let context = context();
        let patch = UserPatch {
            primary_email: Some(Some(Email::parse("ada@example.com").unwrap())),
            username: Some(None),
            custom_data: Some(CustomData::new(json!({ "plan": "pro" })).unwrap()),
            ..UserPatch::default()
        };
        let user = service(users, MockPasswordHasher::new())
            .update(&stored_user().id, patch, UserWrite::new(&context))
            .await
            .unwrap();
        assert_eq!(user.username, None);
        assert_eq!(user.primary_email.map(|email| email.as_str().to_owned()).as_deref(), Some("ada@example.com"));
        assert_eq!(user.custom_data.into_value(), json!({ "plan": "pro" }));
        let (_, change) = written.lock().unwrap().pop().unwrap();
        assert_eq!(
            Value::Object(change.entry.details),
            json!({ "fields": ["username", "primaryEmail", "customData"] })
        );
    }

    #[tokio::test]
    async fn deleting_keeps_a_tombstone_for_the_retention_period() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_id().returning(|_| Ok(Some(stored_user())));
        let retention_ms = i64::try_from(DEFAULT_TOMBSTONE_RETENTION.as_millis()).unwrap();
        users
            .expect_delete()
            .withf(move |user, until, entry| {
                user.id == stored_user().id
                    && *until == Timestamp::from_millis(NOW.as_millis() + retention_ms)
                    && entry.key == keys::USER_DELETED
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let context = context();
        service(users, MockPasswordHasher::new()).delete(&stored_user().id, UserWrite::new(&context)).await.unwrap();
    }

    #[tokio::test]
    async fn verifying_against_a_user_without_password_costs_a_dummy_verification() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_id().returning(|_| Ok(Some(stored_user())));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_dummy_verify().times(1).returning(|_| ());
        hasher.expect_verify().never();
        let result = service(users, hasher).verify_password(&stored_user().id, &PlainPassword::new("pw")).await;
        assert!(matches!(result, Err(AccountError::InvalidCredentials)), "{result:?}");
    }
}
