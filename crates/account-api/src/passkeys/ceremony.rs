//! [`WebauthnCeremony`]: the domain's [`PasskeyCeremony`] port on webauthn-rs. The relying party id is the host of
//! the configured endpoint; the allowed origins are the endpoint's origin plus those the caller passes (the
//! account center's `webauthnRelatedOrigins`). The registration state is kept as webauthn-rs' own JSON
//! (`danger-allow-state-serialisation`) in the verification record, and the credential as Logto stores it:
//! base64url credential id and COSE public key, counter, transports.

use latchkey_domain::passkey::{
    CeremonyError, PasskeyCeremony, PasskeyUser, RegisteredCredential, RegistrationStarted,
};
use serde_json::Value;
use webauthn_rs::prelude::{
    COSEKey, COSEKeyType, Credential, CredentialID, PasskeyRegistration, RegisterPublicKeyCredential, Url, Uuid,
    Webauthn, WebauthnBuilder,
};

/// The relying party of the configured endpoint. Cheap to build; a `Webauthn` is made per call because the
/// allowed origins follow the account-center settings.
#[derive(Debug, Clone)]
pub struct WebauthnCeremony {
    endpoint: Url,
}

impl WebauthnCeremony {
    /// The relying party of `endpoint` (its host is the RP ID, its origin the first allowed origin). An endpoint
    /// whose host is an IP address cannot be a relying party: every ceremony then answers `Unavailable`.
    pub fn new(endpoint: &Url) -> Self {
        Self { endpoint: endpoint.clone() }
    }

    fn webauthn(&self, related_origins: &[String]) -> Result<Webauthn, CeremonyError> {
        let unavailable = |reason: &str| CeremonyError::Unavailable(format!("{reason} (endpoint {})", self.endpoint));
        let rp_id = self.endpoint.domain().ok_or_else(|| unavailable("the endpoint's host is not a domain name"))?;
        let origin = Url::parse(&self.endpoint.origin().ascii_serialization())
            .map_err(|_| unavailable("the endpoint has no origin"))?;
        let mut builder =
            WebauthnBuilder::new(rp_id, &origin).map_err(|_| unavailable("the endpoint is no relying party"))?;
        builder = builder.rp_name(rp_id);
        for related in related_origins {
            // The account center checks the origins it stores; one that does not parse cannot match a browser's.
            if let Ok(related) = Url::parse(related)
                && related != origin
            {
                builder = builder.append_allowed_origin(&related);
            }
        }
        builder.build().map_err(|error| unavailable(&error.to_string()))
    }
}

impl PasskeyCeremony for WebauthnCeremony {
    fn start_registration(
        &self,
        user: &PasskeyUser,
        exclude_credential_ids: &[String],
    ) -> Result<RegistrationStarted, CeremonyError> {
        let webauthn = self.webauthn(&[])?;
        let exclude: Vec<CredentialID> = exclude_credential_ids
            .iter()
            .filter_map(|id| serde_json::from_value(Value::String(id.clone())).ok())
            .collect();
        let (challenge, state) = webauthn
            .start_passkey_registration(user_handle(user), &user.name, &user.display_name, Some(exclude))
            .map_err(|error| CeremonyError::Unavailable(error.to_string()))?;
        let mut options = serde_json::to_value(&challenge.public_key)
            .map_err(|error| CeremonyError::Unavailable(error.to_string()))?;
        // Logto asks for a discoverable credential (a passkey that can also sign in without an identifier).
        if let Some(selection) = options.get_mut("authenticatorSelection").and_then(Value::as_object_mut) {
            selection.insert("residentKey".to_owned(), Value::from("required"));
            selection.insert("requireResidentKey".to_owned(), Value::from(true));
        }
        let state = serde_json::to_string(&state).map_err(|error| CeremonyError::Unavailable(error.to_string()))?;
        let rp_id = self.endpoint.domain().unwrap_or_default().to_owned();
        Ok(RegistrationStarted { options, rp_id, state })
    }

    fn finish_registration(
        &self,
        state: &str,
        response: &Value,
        related_origins: &[String],
    ) -> Result<RegisteredCredential, CeremonyError> {
        let state: PasskeyRegistration =
            serde_json::from_str(state).map_err(|error| CeremonyError::Unavailable(error.to_string()))?;
        let response: RegisterPublicKeyCredential = serde_json::from_value(response.clone())
            .map_err(|error| CeremonyError::Rejected(format!("unreadable payload: {error}")))?;
        let webauthn = self.webauthn(related_origins)?;
        let passkey = webauthn.finish_passkey_registration(&response, &state).map_err(|error| {
            tracing::debug!(%error, "a passkey registration was rejected");
            CeremonyError::Rejected(error.to_string())
        })?;
        let credential = Credential::from(passkey);
        let credential_id = match serde_json::to_value(&credential.cred_id) {
            Ok(Value::String(id)) => id,
            _ => return Err(CeremonyError::Unavailable("the credential id does not encode".to_owned())),
        };
        let transports = credential
            .transports
            .iter()
            .flatten()
            .filter_map(|transport| match serde_json::to_value(transport) {
                Ok(Value::String(name)) => Some(name),
                _ => None,
            })
            .collect();
        Ok(RegisteredCredential {
            credential_id,
            public_key: base64url(&cose_key_bytes(&credential.cred)),
            counter: credential.counter,
            transports,
        })
    }
}

/// WebAuthn's user handle: the user id's bytes (12 characters of `[0-9a-z]`), zero-padded to 16. Stable per user
/// and free of personal data, as the specification asks.
fn user_handle(user: &PasskeyUser) -> Uuid {
    let mut bytes = [0u8; 16];
    for (slot, byte) in bytes.iter_mut().zip(user.id.as_str().bytes()) {
        *slot = byte;
    }
    Uuid::from_bytes(bytes)
}

/// The COSE_Key (RFC 9052 §7) of a credential's public key in CTAP2 canonical CBOR, as authenticators write it
/// and as Logto stores `publicKey`: `{1: kty, 3: alg, -1: crv | n, -2: x | e, -3: y}`, keys in canonical order.
fn cose_key_bytes(key: &COSEKey) -> Vec<u8> {
    use ciborium::Value as Cbor;
    let entry = |label: i64, value: Cbor| (Cbor::from(label), value);
    let bytes = |value: &[u8]| Cbor::Bytes(value.to_vec());
    let algorithm = entry(3, Cbor::from(key.type_ as i64));
    let entries = match &key.key {
        COSEKeyType::EC_EC2(ec2) => vec![
            entry(1, Cbor::from(2)),
            algorithm,
            entry(-1, Cbor::from(ec2.curve.clone() as i64)),
            entry(-2, bytes(&ec2.x)),
            entry(-3, bytes(&ec2.y)),
        ],
        COSEKeyType::EC_OKP(okp) => vec![
            entry(1, Cbor::from(1)),
            algorithm,
            entry(-1, Cbor::from(okp.curve.clone() as i64)),
            entry(-2, bytes(&okp.x)),
        ],
        COSEKeyType::RSA(rsa) => {
            vec![entry(1, Cbor::from(3)), algorithm, entry(-1, bytes(&rsa.n)), entry(-2, bytes(&rsa.e))]
        }
    };
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    ciborium::into_writer(&Cbor::Map(entries), &mut out).expect("CBOR into memory");
    out
}

/// base64url without padding, as WebAuthn and Logto write binary values.
fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use latchkey_domain::UserId;
    use webauthn_rs::prelude::{COSEAlgorithm, COSEEC2Key, ECDSACurve};

    use super::*;

    fn user() -> PasskeyUser {
        PasskeyUser {
            id: UserId::parse("abcdefghijkl").unwrap(),
            name: "ada".to_owned(),
            display_name: "Ada".to_owned(),
        }
    }

    #[test]
    fn base64url_has_no_padding_and_the_url_alphabet() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn an_es256_key_encodes_as_canonical_cose() {
        let key = COSEKey {
            type_: COSEAlgorithm::ES256,
            key: COSEKeyType::EC_EC2(COSEEC2Key {
                curve: ECDSACurve::SECP256R1,
                x: vec![1; 32].into(),
                y: vec![2; 32].into(),
            }),
        };
        let bytes = cose_key_bytes(&key);
        // map(5) 1:2 3:-7 -1:1 -2:bstr(32) -3:bstr(32)
        assert_eq!(&bytes[..10], &[0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20]);
        assert_eq!(bytes[42..45], [0x22, 0x58, 0x20]);
        assert_eq!(bytes.len(), 77);
    }

    #[test]
    fn options_name_the_endpoints_host_and_ask_for_a_verified_discoverable_credential() {
        let ceremony = WebauthnCeremony::new(&Url::parse("https://id.example.com/").unwrap());
        let started = ceremony.start_registration(&user(), &["AAEC".to_owned()]).unwrap();
        assert_eq!(started.rp_id, "id.example.com");
        let options = &started.options;
        assert_eq!(options["rp"]["id"], "id.example.com");
        assert_eq!(options["user"]["name"], "ada");
        assert_eq!(options["user"]["displayName"], "Ada");
        assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
        assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
        assert_eq!(options["attestation"], "none");
        assert_eq!(options["excludeCredentials"][0]["id"], "AAEC");
        assert!(options["challenge"].as_str().is_some_and(|challenge| challenge.len() >= 43), "{options}");
        assert!(!started.state.is_empty());
    }

    #[test]
    fn an_ip_address_endpoint_cannot_be_a_relying_party() {
        let ceremony = WebauthnCeremony::new(&Url::parse("http://127.0.0.1:3001").unwrap());
        let outcome = ceremony.start_registration(&user(), &[]);
        assert!(matches!(outcome, Err(CeremonyError::Unavailable(_))), "{outcome:?}");
    }

    #[test]
    fn an_unreadable_answer_is_rejected() {
        let ceremony = WebauthnCeremony::new(&Url::parse("https://id.example.com/").unwrap());
        let started = ceremony.start_registration(&user(), &[]).unwrap();
        let outcome = ceremony.finish_registration(&started.state, &serde_json::json!({"id": 1}), &[]);
        assert!(matches!(outcome, Err(CeremonyError::Rejected(_))), "{outcome:?}");
    }
}
