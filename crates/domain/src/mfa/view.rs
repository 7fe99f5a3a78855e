//! How the APIs show a user's MFA factors: the list view (Logto's `transpileUserMfaVerifications`, without any
//! secret) and the revealed backup codes. Both the Account API and the Management API answer with these shapes.

use serde::Serialize;

use super::{MfaFactor, MfaFactorKind};
use crate::clock::Timestamp;

/// One bound factor as Logto lists it: TOTP `{id, createdAt, type}`; WebAuthn adds `lastUsedAt`, `agent` and
/// `name`; backup codes add `remainCodes`. Times are ISO-8601 strings, as in Logto.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MfaFactorView {
    pub id: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// `Totp`, `WebAuthn` or `BackupCode`.
    #[serde(rename = "type")]
    pub factor_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remain_codes: Option<usize>,
}

impl MfaFactorView {
    pub fn new(factor: &MfaFactor) -> Self {
        let mut view = Self {
            id: factor.id.clone(),
            created_at: factor.created_at.to_iso8601(),
            last_used_at: None,
            factor_type: factor.factor_type().as_str(),
            agent: None,
            name: None,
            remain_codes: None,
        };
        match &factor.kind {
            MfaFactorKind::Totp(_) => {}
            MfaFactorKind::WebAuthn(credential) => {
                view.last_used_at = factor.last_used_at.map(Timestamp::to_iso8601);
                view.agent = Some(credential.agent.clone());
                view.name.clone_from(&credential.name);
            }
            MfaFactorKind::BackupCode(set) => view.remain_codes = Some(set.remaining()),
        }
        view
    }
}

/// One backup code in clear with when it was used (ISO 8601), as `GET /my-account/mfa-verifications/backup-codes`
/// answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupCodeView {
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_at: Option<String>,
}

impl BackupCodeView {
    pub fn new(code: String, used_at: Option<Timestamp>) -> Self {
        Self { code, used_at: used_at.map(Timestamp::to_iso8601) }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::mfa::{BackupCode, BackupCodeSet, TotpFactor};
    use crate::secret_box::Sealed;

    #[test]
    fn the_list_view_shows_no_secret_and_logtos_fields_per_type() {
        let at = Timestamp::from_millis(0);
        let totp = MfaFactor {
            id: "t".to_owned(),
            created_at: at,
            last_used_at: Some(at),
            kind: MfaFactorKind::Totp(TotpFactor::new(Sealed("sealed-secret".to_owned()))),
        };
        let codes = BackupCodeSet {
            codes: vec![
                BackupCode { code: Sealed("a".to_owned()), used_at: None },
                BackupCode { code: Sealed("b".to_owned()), used_at: Some(at) },
            ],
        };
        let backup = MfaFactor {
            id: "b".to_owned(),
            created_at: at,
            last_used_at: None,
            kind: MfaFactorKind::BackupCode(codes),
        };
        assert_eq!(
            serde_json::to_value(MfaFactorView::new(&totp)).unwrap(),
            json!({ "id": "t", "createdAt": "1970-01-01T00:00:00.000Z", "type": "Totp" })
        );
        assert_eq!(
            serde_json::to_value(MfaFactorView::new(&backup)).unwrap(),
            json!({ "id": "b", "createdAt": "1970-01-01T00:00:00.000Z", "type": "BackupCode", "remainCodes": 1 })
        );
        assert_eq!(
            serde_json::to_value(BackupCodeView::new("0123456789".to_owned(), Some(at))).unwrap(),
            json!({ "code": "0123456789", "usedAt": "1970-01-01T00:00:00.000Z" })
        );
    }
}
