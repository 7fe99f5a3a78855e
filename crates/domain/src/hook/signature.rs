//! `logto-signature-sha-256`: the hex HMAC-SHA256 of the exact request body under the hook's signing key, as
//! Logto documents it, so that receivers written for Logto verify Latchkey's deliveries unchanged.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "logto-signature-sha-256";

/// The lower-case hex HMAC-SHA256 of `body` under `signing_key`.
pub fn sign(signing_key: &str, body: &[u8]) -> String {
    hex::encode(mac(signing_key, body).finalize().into_bytes())
}

/// Whether `signature` is [`sign`] of `body` (hex, either case), compared in constant time.
pub fn verify(signing_key: &str, body: &[u8], signature: &str) -> bool {
    hex::decode(signature.trim()).is_ok_and(|expected| mac(signing_key, body).verify_slice(&expected).is_ok())
}

fn mac(signing_key: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(signing_key.as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_4231_test_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verifies_its_own_signatures_only() {
        let signature = sign("key", br#"{"event":"User.Created"}"#);
        assert_eq!(signature.len(), 64);
        assert!(verify("key", br#"{"event":"User.Created"}"#, &signature));
        assert!(verify("key", br#"{"event":"User.Created"}"#, &signature.to_uppercase()));
        assert!(!verify("other key", br#"{"event":"User.Created"}"#, &signature));
        assert!(!verify("key", br#"{"event":"User.Deleted"}"#, &signature));
        assert!(!verify("key", br#"{"event":"User.Created"}"#, "not hex"));
    }
}
