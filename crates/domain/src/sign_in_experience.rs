//! The sign-in experience, as far as Latchkey keeps it: Logto's `passwordPolicy`, `usernamePolicy` and
//! `mfa {factors, policy}` (`packages/schemas/src/foundations/jsonb-types/sign-in-experience.ts`,
//! `packages/toolkit/core-kit/src/{password,username}-policy.ts`), with Logto's defaults and the checks Logto's
//! `PATCH /api/sign-in-exp` makes, and the [`SignInExperienceRepository`] port (one versioned row; no row means
//! Logto's defaults).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::mfa::MfaFactorType;
use crate::password::PasswordPolicy;
use crate::password::policy::PolicyError;
use crate::ports::RepoError;
use crate::sign_in::MfaSettings;
use crate::user::Version;

/// Logto's bounds on `usernamePolicy.minLength` and `maxLength` (`users.username varchar(128)`).
pub const USERNAME_LENGTH_BOUNDS: std::ops::RangeInclusive<u32> = 1..=128;

/// The stored part of the sign-in experience. A row saved before a field existed reads it as Logto's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SignInExperience {
    pub password_policy: PasswordPolicy,
    pub username_policy: UsernamePolicy,
    pub mfa: MfaSettings,
}

impl Default for SignInExperience {
    /// Logto's seed: the default password and username policies, no MFA factor, `UserControlled`.
    fn default() -> Self {
        Self {
            password_policy: PasswordPolicy::default(),
            username_policy: UsernamePolicy::default(),
            mfa: MfaSettings::default(),
        }
    }
}

/// Logto's `usernamePolicy`: every field is required on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsernamePolicy {
    pub case_sensitive: bool,
    pub min_length: u32,
    pub max_length: u32,
    pub allowed_chars: AllowedUsernameChars,
}

/// The character classes a username may contain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedUsernameChars {
    pub lowercase: bool,
    pub uppercase: bool,
    pub numbers: bool,
    pub underscore: bool,
}

impl Default for UsernamePolicy {
    /// Logto's `defaultUsernamePolicy`: today's behaviour, case-sensitive, 1 to 128 characters of every class.
    fn default() -> Self {
        Self {
            case_sensitive: true,
            min_length: 1,
            max_length: 128,
            allowed_chars: AllowedUsernameChars { lowercase: true, uppercase: true, numbers: true, underscore: true },
        }
    }
}

/// A sign-in experience that Logto would refuse. [`SignInExperienceError::logto_code`] gives Logto's code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInExperienceError {
    /// 400 `guard.invalid_input`.
    #[error("passwordPolicy: {0}")]
    PasswordPolicy(#[from] PolicyError),
    /// 400 `guard.invalid_input`.
    #[error("usernamePolicy: minLength and maxLength must be between 1 and 128")]
    UsernameLengthOutOfRange,
    /// 400 `guard.invalid_input`.
    #[error("usernamePolicy: Minimum length cannot exceed maximum length.")]
    UsernameMinAboveMax,
    /// 400 `guard.invalid_input`.
    #[error(
        "usernamePolicy: At least one of lowercase, uppercase, or underscore must be enabled. Usernames cannot \
         start with a number, so numbers alone are not allowed."
    )]
    UsernameCannotStart,
    /// 400 `sign_in_experiences.duplicated_mfa_factors`.
    #[error("mfa.factors lists a factor twice")]
    DuplicatedMfaFactors,
    /// 400 `sign_in_experiences.backup_code_cannot_be_enabled_alone`.
    #[error("backup codes cannot be the only MFA factor")]
    BackupCodeAlone,
    /// 422 `sign_in_experiences.non_adaptive_mfa_requires_skippable_policy`: Logto allows the non-skippable prompt
    /// policies only with adaptive MFA, which Latchkey does not have.
    #[error("this MFA policy needs adaptive MFA")]
    NonSkippablePolicy,
}

impl SignInExperienceError {
    /// Logto's error code for this refusal.
    pub fn logto_code(&self) -> &'static str {
        match self {
            Self::PasswordPolicy(_)
            | Self::UsernameLengthOutOfRange
            | Self::UsernameMinAboveMax
            | Self::UsernameCannotStart => "guard.invalid_input",
            Self::DuplicatedMfaFactors => "sign_in_experiences.duplicated_mfa_factors",
            Self::BackupCodeAlone => "sign_in_experiences.backup_code_cannot_be_enabled_alone",
            Self::NonSkippablePolicy => "sign_in_experiences.non_adaptive_mfa_requires_skippable_policy",
        }
    }
}

impl SignInExperience {
    /// Every check Logto's guard and route make on these three fields, in that order.
    pub fn validate(&self) -> Result<(), SignInExperienceError> {
        self.password_policy.validate()?;
        self.username_policy.validate()?;
        validate_mfa(&self.mfa)
    }
}

impl UsernamePolicy {
    /// Logto's `usernamePolicyGuard`: lengths within 1–128 and ordered, and a username must be able to start
    /// (a letter or an underscore is allowed).
    pub fn validate(&self) -> Result<(), SignInExperienceError> {
        if !USERNAME_LENGTH_BOUNDS.contains(&self.min_length) || !USERNAME_LENGTH_BOUNDS.contains(&self.max_length) {
            return Err(SignInExperienceError::UsernameLengthOutOfRange);
        }
        if self.min_length > self.max_length {
            return Err(SignInExperienceError::UsernameMinAboveMax);
        }
        let chars = &self.allowed_chars;
        if !(chars.lowercase || chars.uppercase || chars.underscore) {
            return Err(SignInExperienceError::UsernameCannotStart);
        }
        Ok(())
    }
}

/// Logto's `validateMfa`, plus its refusal of non-skippable prompts without adaptive MFA.
fn validate_mfa(mfa: &MfaSettings) -> Result<(), SignInExperienceError> {
    let mut seen = std::collections::HashSet::new();
    if !mfa.factors.iter().all(|factor| seen.insert(*factor)) {
        return Err(SignInExperienceError::DuplicatedMfaFactors);
    }
    if mfa.factors == [MfaFactorType::BackupCode] {
        return Err(SignInExperienceError::BackupCodeAlone);
    }
    if !mfa.factors.is_empty() && mfa.policy.is_non_skippable_prompt() {
        return Err(SignInExperienceError::NonSkippablePolicy);
    }
    Ok(())
}

/// The sign-in experience and its version, for optimistic concurrency on updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedSignInExperience {
    pub settings: SignInExperience,
    /// [`Version::INITIAL`] for the never-saved defaults.
    pub version: Version,
}

/// The one sign-in experience row of the deployment.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SignInExperienceRepository: Send + Sync {
    /// The stored sign-in experience, or Logto's defaults when none was ever saved.
    async fn get(&self) -> Result<VersionedSignInExperience, RepoError>;
    /// Saves `settings` if the stored version is still `expected` and returns the new version; `Conflict(Version)`
    /// when someone saved in between.
    async fn save(&self, settings: &SignInExperience, expected: Version, now: Timestamp) -> Result<Version, RepoError>;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sign_in::MfaPolicy;

    #[test]
    fn the_default_is_logtos_seed_in_logtos_shape() {
        let value = serde_json::to_value(SignInExperience::default()).unwrap();
        assert_eq!(value["mfa"], json!({ "factors": [], "policy": "UserControlled" }));
        assert_eq!(
            value["usernamePolicy"],
            json!({
                "caseSensitive": true,
                "minLength": 1,
                "maxLength": 128,
                "allowedChars": { "lowercase": true, "uppercase": true, "numbers": true, "underscore": true }
            })
        );
        assert_eq!(value["passwordPolicy"]["length"], json!({ "min": 8, "max": 256 }));
        assert_eq!(value["passwordPolicy"]["characterTypes"], json!({ "min": 1 }));
        assert_eq!(value["passwordPolicy"]["rejects"]["pwned"], true);
        assert!(SignInExperience::default().validate().is_ok());
    }

    #[test]
    fn a_row_missing_a_field_reads_it_as_the_default() {
        let stored = json!({ "mfa": { "factors": ["Totp"], "policy": "Mandatory" } });
        let settings: SignInExperience = serde_json::from_value(stored).unwrap();
        assert_eq!(settings.mfa.factors, [MfaFactorType::Totp]);
        assert_eq!(settings.mfa.policy, MfaPolicy::Mandatory);
        assert_eq!(settings.username_policy, UsernamePolicy::default());
        assert_eq!(settings.password_policy, PasswordPolicy::default());
    }

    #[test]
    fn username_policies_are_checked_as_logtos_guard_does() {
        let with = |change: fn(&mut UsernamePolicy)| {
            let mut policy = UsernamePolicy::default();
            change(&mut policy);
            policy.validate()
        };
        assert_eq!(with(|_| ()), Ok(()));
        assert_eq!(with(|p| p.min_length = 0), Err(SignInExperienceError::UsernameLengthOutOfRange));
        assert_eq!(with(|p| p.max_length = 129), Err(SignInExperienceError::UsernameLengthOutOfRange));
        assert_eq!(
            with(|p| {
                p.min_length = 10;
                p.max_length = 9;
            }),
            Err(SignInExperienceError::UsernameMinAboveMax)
        );
        let numbers_only = |p: &mut UsernamePolicy| {
            p.allowed_chars =
                AllowedUsernameChars { lowercase: false, uppercase: false, numbers: true, underscore: false }
        };
        assert_eq!(with(numbers_only), Err(SignInExperienceError::UsernameCannotStart));
        let underscore_only = |p: &mut UsernamePolicy| {
            p.allowed_chars =
                AllowedUsernameChars { lowercase: false, uppercase: false, numbers: false, underscore: true }
        };
        assert_eq!(with(underscore_only), Ok(()));
    }

    #[test]
    fn mfa_settings_are_checked_as_logtos_route_does() {
        use MfaFactorType::{BackupCode, Totp, WebAuthn};
        let check = |factors: &[MfaFactorType], policy| {
            let settings = SignInExperience {
                mfa: MfaSettings { factors: factors.to_vec(), policy },
                ..SignInExperience::default()
            };
            settings.validate()
        };
        assert_eq!(check(&[Totp, BackupCode], MfaPolicy::Mandatory), Ok(()));
        assert_eq!(check(&[], MfaPolicy::PromptOnlyAtSignInMandatory), Ok(()));
        assert_eq!(check(&[Totp, Totp], MfaPolicy::UserControlled), Err(SignInExperienceError::DuplicatedMfaFactors));
        assert_eq!(check(&[BackupCode], MfaPolicy::UserControlled), Err(SignInExperienceError::BackupCodeAlone));
        assert_eq!(
            check(&[WebAuthn], MfaPolicy::PromptAtSignInAndSignUpMandatory),
            Err(SignInExperienceError::NonSkippablePolicy)
        );
    }

    #[test]
    fn a_bad_password_policy_is_refused_with_the_guards_code() {
        let mut settings = SignInExperience::default();
        settings.password_policy.character_types.min = 5;
        let error = settings.validate().unwrap_err();
        assert_eq!(error, SignInExperienceError::PasswordPolicy(PolicyError::CharacterTypesOutOfRange));
        assert_eq!(error.logto_code(), "guard.invalid_input");
    }
}
