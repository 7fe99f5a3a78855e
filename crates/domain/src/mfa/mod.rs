//! MFA factors as stored on the user, and the rules Logto enforces on them (logto-reference §5).

pub mod backup_codes;
pub mod rules;
pub mod totp;
pub mod view;
pub mod webauthn;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::clock::Timestamp;
use crate::secret_box::SecretBoxError;

pub use backup_codes::{BACKUP_CODE_COUNT, BackupCode, BackupCodeSet};
pub use rules::{EnabledFactors, bind, check_can_bind, remove, replace_totp, usable_factor_types};
pub use totp::TotpFactor;
pub use view::{BackupCodeView, MfaFactorView};
pub use webauthn::WebAuthnCredential;

/// One bound factor. `id` is a 21-character entity id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MfaFactor {
    pub id: String,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Timestamp>,
    pub kind: MfaFactorKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum MfaFactorKind {
    Totp(TotpFactor),
    WebAuthn(WebAuthnCredential),
    BackupCode(BackupCodeSet),
}

/// Logto's `MfaFactor` names, including the two that live on the primary identifiers rather than in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MfaFactorType {
    Totp,
    WebAuthn,
    BackupCode,
    EmailVerificationCode,
    PhoneVerificationCode,
}

impl MfaFactorType {
    /// Logto's name of the factor (`Totp`, `WebAuthn`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            MfaFactorType::Totp => "Totp",
            MfaFactorType::WebAuthn => "WebAuthn",
            MfaFactorType::BackupCode => "BackupCode",
            MfaFactorType::EmailVerificationCode => "EmailVerificationCode",
            MfaFactorType::PhoneVerificationCode => "PhoneVerificationCode",
        }
    }
}

impl MfaFactorKind {
    pub fn factor_type(&self) -> MfaFactorType {
        match self {
            MfaFactorKind::Totp(_) => MfaFactorType::Totp,
            MfaFactorKind::WebAuthn(_) => MfaFactorType::WebAuthn,
            MfaFactorKind::BackupCode(_) => MfaFactorType::BackupCode,
        }
    }
}

impl MfaFactor {
    /// Logto's `type` of this factor.
    pub fn factor_type(&self) -> MfaFactorType {
        self.kind.factor_type()
    }

    /// Notes a successful verification with this factor (Logto's `lastUsedAt`).
    pub fn record_use(&mut self, now: Timestamp) {
        self.last_used_at = Some(now);
    }
}

/// Why an MFA operation was refused. Each variant carries Logto's error code ([`MfaError::logto_code`]); the
/// status Logto answers with is noted on each, so that API crates map this enum in one place.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MfaError {
    /// 400 `user.totp_secret_invalid`.
    #[error("a TOTP secret is 16 to 32 characters of upper-case base32")]
    TotpSecretInvalid,
    /// 400 `session.mfa.invalid_totp_code`.
    #[error("the TOTP code is wrong")]
    InvalidTotpCode,
    /// 400 `session.mfa.invalid_totp_code`: told apart for logs only, the client sees a wrong code.
    #[error("the TOTP code was already used")]
    TotpCodeReplayed,
    /// 422 `user.totp_already_in_use`.
    #[error("the user already has a TOTP factor")]
    TotpAlreadyInUse,
    /// 422 `user.wrong_backup_code_format`.
    #[error("backup codes are exactly 10 codes of 10 hexadecimal characters")]
    WrongBackupCodeFormat,
    /// 422 `user.backup_code_already_in_use`.
    #[error("the user still has unused backup codes")]
    BackupCodeAlreadyInUse,
    /// 422 `session.mfa.backup_code_can_not_be_alone`.
    #[error("backup codes cannot be the only MFA factor")]
    BackupCodeCanNotBeAlone,
    /// 400 `session.mfa.invalid_backup_code`.
    #[error("the backup code is wrong or already used")]
    InvalidBackupCode,
    /// 400 `session.mfa.mfa_factor_not_enabled`.
    #[error("this MFA factor is not enabled in the sign-in experience")]
    FactorNotEnabled,
    /// 400 `guard.invalid_input`: email and phone factors live on the primary identifiers, not in the list.
    #[error("this MFA factor type cannot be bound")]
    FactorNotBindable,
    /// 400 `session.mfa.webauthn_verification_failed`: the authenticator may have been cloned.
    #[error("the WebAuthn signature counter did not grow (stored {stored}, received {received})")]
    WebAuthnCounterRegressed { stored: u32, received: u32 },
    /// 400 `verification_record.not_found` on the Account API; the Management API answers 404 `entity.not_found`.
    #[error("the user has no MFA factor with this id")]
    FactorNotFound,
    /// 500: a sealed secret could not be opened or a secret not sealed.
    #[error("the MFA secret store failed")]
    SecretBox(#[from] SecretBoxError),
    /// 500: the otpauth URI or its QR code could not be built (a label too long for a QR code).
    #[error("the otpauth URI or its QR code could not be built")]
    OtpauthEncoding,
}

impl MfaError {
    /// Logto's error code for this refusal; internal failures (see [`MfaError::is_internal`]) have none in Logto
    /// and get `unexpected_error`.
    pub fn logto_code(&self) -> &'static str {
        match self {
            MfaError::TotpSecretInvalid => "user.totp_secret_invalid",
            MfaError::InvalidTotpCode | MfaError::TotpCodeReplayed => "session.mfa.invalid_totp_code",
            MfaError::TotpAlreadyInUse => "user.totp_already_in_use",
            MfaError::WrongBackupCodeFormat => "user.wrong_backup_code_format",
            MfaError::BackupCodeAlreadyInUse => "user.backup_code_already_in_use",
            MfaError::BackupCodeCanNotBeAlone => "session.mfa.backup_code_can_not_be_alone",
            MfaError::InvalidBackupCode => "session.mfa.invalid_backup_code",
            MfaError::FactorNotEnabled => "session.mfa.mfa_factor_not_enabled",
            MfaError::FactorNotBindable => "guard.invalid_input",
            MfaError::WebAuthnCounterRegressed { .. } => "session.mfa.webauthn_verification_failed",
            MfaError::FactorNotFound => "verification_record.not_found",
            MfaError::SecretBox(_) | MfaError::OtpauthEncoding => "unexpected_error",
        }
    }

    /// Whether this is a fault of the service (answer 500 and log) rather than a refusal of the request.
    pub fn is_internal(&self) -> bool {
        matches!(self, MfaError::SecretBox(_) | MfaError::OtpauthEncoding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_maps_to_logtos_error_code() {
        let cases = [
            (MfaError::TotpSecretInvalid, "user.totp_secret_invalid", false),
            (MfaError::InvalidTotpCode, "session.mfa.invalid_totp_code", false),
            (MfaError::TotpCodeReplayed, "session.mfa.invalid_totp_code", false),
            (MfaError::TotpAlreadyInUse, "user.totp_already_in_use", false),
            (MfaError::WrongBackupCodeFormat, "user.wrong_backup_code_format", false),
            (MfaError::BackupCodeAlreadyInUse, "user.backup_code_already_in_use", false),
            (MfaError::BackupCodeCanNotBeAlone, "session.mfa.backup_code_can_not_be_alone", false),
            (MfaError::InvalidBackupCode, "session.mfa.invalid_backup_code", false),
            (MfaError::FactorNotEnabled, "session.mfa.mfa_factor_not_enabled", false),
            (MfaError::FactorNotBindable, "guard.invalid_input", false),
            (
                MfaError::WebAuthnCounterRegressed { stored: 2, received: 1 },
                "session.mfa.webauthn_verification_failed",
                false,
            ),
            (MfaError::FactorNotFound, "verification_record.not_found", false),
            (MfaError::SecretBox(SecretBoxError::Tampered), "unexpected_error", true),
            (MfaError::OtpauthEncoding, "unexpected_error", true),
        ];
        for (error, code, internal) in cases {
            assert_eq!(error.logto_code(), code, "{error:?}");
            assert_eq!(error.is_internal(), internal, "{error:?}");
        }
    }

    #[test]
    fn recording_a_use_sets_last_used_at() {
        let mut factor = MfaFactor {
            id: "f".to_owned(),
            created_at: Timestamp::from_millis(1),
            last_used_at: None,
            kind: MfaFactorKind::BackupCode(BackupCodeSet { codes: Vec::new() }),
        };
        factor.record_use(Timestamp::from_millis(9));
        assert_eq!(factor.last_used_at, Some(Timestamp::from_millis(9)));
        assert_eq!(factor.factor_type(), MfaFactorType::BackupCode);
    }
}
