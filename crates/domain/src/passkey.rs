//! Passkey (WebAuthn) registration for the Account API (logto-reference §2, `POST /api/verifications/web-authn/
//! registration[/verify]`): the [`PasskeyCeremony`] port that issues registration options and checks the
//! authenticator's answer, and the [`PasskeyRegistration`] a verification record carries between the two requests.
//!
//! The WebAuthn cryptography (attestation parsing, signatures, COSE keys) lives behind the port, in the Account API
//! crate, so that this crate stays free of it. The domain sees JSON it passes through (the options the browser
//! needs, the authenticator's response) and the resulting [`WebAuthnCredential`].

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::ids::UserId;
use crate::mfa::WebAuthnCredential;

/// The user a credential is being registered for, as the authenticator shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyUser {
    pub id: UserId,
    /// The account name the authenticator lists (username, else email, phone or id).
    pub name: String,
    pub display_name: String,
}

/// The first half of a registration: what the browser needs and what the second half will check against.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationStarted {
    /// Logto's `registrationOptions`: `PublicKeyCredentialCreationOptions` as JSON (challenge, rp, user, …).
    pub options: Value,
    /// The relying party id the options name (the endpoint's host).
    pub rp_id: String,
    /// The ceremony's state (challenge and policy), opaque to the domain; kept in the verification record.
    pub state: String,
}

/// A credential the authenticator created and the ceremony accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredCredential {
    /// base64url credential id.
    pub credential_id: String,
    /// base64url COSE public key.
    pub public_key: String,
    pub counter: u32,
    pub transports: Vec<String>,
}

/// Why a ceremony step failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CeremonyError {
    /// The authenticator's answer does not verify: wrong challenge, origin or relying party, bad signature or
    /// attestation, user verification missing, or an unreadable payload. Logto's 400
    /// `session.mfa.webauthn_verification_failed`.
    #[error("the WebAuthn response was rejected: {0}")]
    Rejected(String),
    /// The ceremony cannot run here (e.g. the endpoint's host is an IP address, which WebAuthn forbids as a
    /// relying party id), or its state could not be written or read. A fault of the service.
    #[error("the WebAuthn ceremony failed: {0}")]
    Unavailable(String),
}

/// The WebAuthn relying party: starts a registration and checks the authenticator's answer to it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait PasskeyCeremony: Send + Sync {
    /// Options for registering a new credential of `user`, excluding the credentials already registered
    /// (base64url ids), with user verification required.
    fn start_registration(
        &self,
        user: &PasskeyUser,
        exclude_credential_ids: &[String],
    ) -> Result<RegistrationStarted, CeremonyError>;

    /// Checks `response` (Logto's `payload`, a `RegistrationResponseJSON`) against the `state` kept by
    /// [`PasskeyCeremony::start_registration`]; the client data's origin must be the relying party's own or one of
    /// `related_origins` (the account center's `webauthnRelatedOrigins`).
    fn finish_registration(
        &self,
        state: &str,
        response: &Value,
        related_origins: &[String],
    ) -> Result<RegisteredCredential, CeremonyError>;
}

/// What a WebAuthn verification record holds: the pending ceremony, then the credential it registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "stage")]
pub enum PasskeyRegistration {
    /// Options were issued; the answer is awaited.
    #[serde(rename_all = "camelCase")]
    Started { rp_id: String, ceremony: String },
    /// The authenticator's answer verified: the credential to bind (`POST /my-account/mfa-verifications`).
    Registered { credential: WebAuthnCredential },
}

impl PasskeyRegistration {
    /// The JSON kept in the record's `state` column.
    pub fn to_state(&self) -> String {
        serde_json::to_string(self).expect("a passkey registration always serialises")
    }

    /// Reads back [`PasskeyRegistration::to_state`].
    pub fn from_state(state: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_round_trips_through_the_state_column() {
        let started = PasskeyRegistration::Started { rp_id: "id.example.com".to_owned(), ceremony: "{}".to_owned() };
        assert_eq!(PasskeyRegistration::from_state(&started.to_state()).unwrap(), started);
        let registered = PasskeyRegistration::Registered {
            credential: WebAuthnCredential {
                rp_id: Some("id.example.com".to_owned()),
                credential_id: "Y3JlZA".to_owned(),
                public_key: "cHVi".to_owned(),
                transports: vec![],
                counter: 0,
                agent: "Mozilla/5.0".to_owned(),
                name: None,
            },
        };
        let state = registered.to_state();
        assert!(state.contains("\"stage\":\"registered\""), "{state}");
        assert_eq!(PasskeyRegistration::from_state(&state).unwrap(), registered);
        assert!(PasskeyRegistration::from_state("{\"stage\":\"other\"}").is_err());
    }
}
