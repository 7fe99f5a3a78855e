//! Imported password digests, as `POST /api/users` receives them (`passwordDigest` + `passwordAlgorithm`): the body
//! is read into `CreateUserBody` and checked as the handler does, then the digest is parsed and its cost checked
//! (`validate_digest`), the check that must refuse a costly digest before anything is hashed. Nothing may panic.
//!
//! The input is tried twice: as a whole request body, and as a digest (the first byte picks the algorithm, the rest
//! is the digest, Logto's `Legacy` JSON array most interestingly). A digest is verified against a fixed password
//! only when its algorithm is cheap whatever its parameters (the hex digests and non-pbkdf2 `Legacy`): costs are
//! fuzzer-chosen, so argon2, bcrypt and pbkdf2 are parsed and bounded here but never run.

#![no_main]

use latchkey_domain::password::import::{is_fast, validate_digest, verify};
use latchkey_domain::password::{PasswordAlgorithm, PasswordError, PlainPassword, StoredPassword};
use latchkey_domain::service::NewPassword;
use latchkey_management_api::users::CreateUserBody;
use libfuzzer_sys::fuzz_target;

const ALGORITHMS: [PasswordAlgorithm; 8] = [
    PasswordAlgorithm::Legacy,
    PasswordAlgorithm::Argon2i,
    PasswordAlgorithm::Argon2id,
    PasswordAlgorithm::Argon2d,
    PasswordAlgorithm::Bcrypt,
    PasswordAlgorithm::Md5,
    PasswordAlgorithm::Sha1,
    PasswordAlgorithm::Sha256,
];

fn check_digest(stored: &StoredPassword) {
    let validated = validate_digest(stored);
    if !is_fast(stored.algorithm) || runs_pbkdf2(stored) {
        return;
    }
    let verified = verify(&PlainPassword::new("pw"), stored);
    match &validated {
        // A digest the import accepted must be verifiable: a match or a mismatch, never a refusal.
        Ok(()) => assert!(verified.is_ok(), "validate_digest accepted what verify refuses: {verified:?}"),
        Err(error) => assert_eq!(verified.as_ref().err(), Some(error), "verify and validate_digest disagree"),
    }
}

/// Whether a `Legacy` digest names pbkdf2, whose iteration count the fuzzer chooses (up to the bound, ~0.2 s).
fn runs_pbkdf2(stored: &StoredPassword) -> bool {
    stored.algorithm == PasswordAlgorithm::Legacy
        && serde_json::from_str::<serde_json::Value>(&stored.digest)
            .ok()
            .and_then(|value| value.get(0).and_then(|name| name.as_str().map(|name| name.starts_with("pbkdf2"))))
            .unwrap_or(true)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = serde_json::from_slice::<CreateUserBody>(data)
        && let Ok(new_user) = body.into_new_user()
        && let Some(NewPassword::Imported(stored)) = new_user.password
    {
        let _: Result<(), PasswordError> = validate_digest(&stored);
    }

    let Some((&selector, digest)) = data.split_first() else { return };
    let Ok(digest) = std::str::from_utf8(digest) else { return };
    let algorithm = ALGORITHMS[usize::from(selector) % ALGORITHMS.len()];
    check_digest(&StoredPassword { algorithm, digest: digest.to_owned() });
});
