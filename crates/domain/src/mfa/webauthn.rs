//! WebAuthn credential record (the ceremony comes with the Account API): what is kept of a registered
//! authenticator, its user-chosen name, and the signature-counter check that exposes cloned authenticators.

use serde::{Deserialize, Serialize};

use super::MfaError;

/// A registered WebAuthn credential, with Logto's field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebAuthnCredential {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rp_id: Option<String>,
    /// base64url credential id.
    pub credential_id: String,
    /// base64url COSE public key.
    pub public_key: String,
    #[serde(default)]
    pub transports: Vec<String>,
    pub counter: u32,
    pub agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl WebAuthnCredential {
    /// Gives the credential the name the user chose (`PATCH /my-account/mfa-verifications/:id/name`).
    pub fn rename(&mut self, name: impl Into<String>) {
        self.name = Some(name.into());
    }

    /// Takes the signature counter reported by a successful assertion.
    ///
    /// Authenticators without a counter always report 0, and that is accepted while the stored counter is 0 too.
    /// Otherwise the counter must grow (WebAuthn §6.1.1): a value at or below the stored one means two
    /// authenticators share the key, so the assertion is refused and the stored counter left as it was.
    pub fn record_counter(&mut self, received: u32) -> Result<(), MfaError> {
        let stored = self.counter;
        if received == 0 && stored == 0 {
            return Ok(());
        }
        if received <= stored {
            return Err(MfaError::WebAuthnCounterRegressed { stored, received });
        }
        self.counter = received;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(counter: u32) -> WebAuthnCredential {
        WebAuthnCredential {
            rp_id: Some("auth.example.com".to_owned()),
            credential_id: "Y3JlZGVudGlhbA".to_owned(),
            public_key: "cHVibGljLWtleQ".to_owned(),
            transports: vec!["internal".to_owned()],
            counter,
            agent: "Mozilla/5.0".to_owned(),
            name: None,
        }
    }

    #[test]
    fn renaming_sets_and_replaces_the_name() {
        let mut credential = credential(0);
        credential.rename("YubiKey");
        assert_eq!(credential.name.as_deref(), Some("YubiKey"));
        credential.rename(String::from("Laptop"));
        assert_eq!(credential.name.as_deref(), Some("Laptop"));
    }

    #[test]
    fn the_signature_counter_must_grow_unless_the_authenticator_has_none() {
        // (stored, received, accepted)
        let cases = [
            (0, 0, true),
            (0, 1, true),
            (5, 6, true),
            (5, 1_000, true),
            (5, 5, false),
            (5, 4, false),
            (5, 0, false),
            (u32::MAX, u32::MAX, false),
        ];
        for (stored, received, accepted) in cases {
            let mut credential = credential(stored);
            let outcome = credential.record_counter(received);
            if accepted {
                assert_eq!(outcome, Ok(()), "{stored} -> {received}");
                assert_eq!(credential.counter, received);
            } else {
                assert_eq!(outcome, Err(MfaError::WebAuthnCounterRegressed { stored, received }));
                assert_eq!(credential.counter, stored, "a refused counter is not stored");
            }
        }
    }

    #[test]
    fn the_record_keeps_logtos_field_names() {
        let mut credential = credential(3);
        credential.rename("Phone");
        assert_eq!(
            serde_json::to_value(&credential).unwrap(),
            serde_json::json!({
                "rpId": "auth.example.com",
                "credentialId": "Y3JlZGVudGlhbA",
                "publicKey": "cHVibGljLWtleQ",
                "transports": ["internal"],
                "counter": 3,
                "agent": "Mozilla/5.0",
                "name": "Phone"
            })
        );
    }
}
