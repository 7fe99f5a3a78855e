//! Untrusted bytes as a bearer token: the signature-checked parse and verification (`verify`, `verify_cached`) and
//! the unverified parse a holder's attenuation starts from (`attenuate`). None may panic, and nothing but a token
//! signed by the ring's key may verify.
//!
//! Each input is tried twice: as the token text itself, and as the decoded token bytes (encoded here as biscuit
//! encodes them), so that mutations reach the protobuf decoder instead of dying in base64.

#![no_main]

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use biscuit_auth::KeyPair;
use latchkey_auth::token::VerifiedTokenCache;
use latchkey_auth::{KeyRing, Operation, RequestFacts, TargetUser, attenuate, verify};
use latchkey_domain::Timestamp;
use libfuzzer_sys::fuzz_target;

/// Generated once per process: no input can have been signed with it, so every input must be refused.
static KEYS: LazyLock<KeyRing> =
    LazyLock::new(|| KeyRing::new([("fuzz".to_owned(), KeyPair::new())]).expect("one fresh key"));
static CACHE: LazyLock<VerifiedTokenCache> = LazyLock::new(|| VerifiedTokenCache::new(16));

const NOW: Timestamp = Timestamp::from_secs(1_767_225_600);

fn check(token: &str) {
    let request = RequestFacts::new(Operation::Read, "/api/my-account").acting_on(TargetUser::Caller);
    // A forgery that verifies is a finding as real as a panic.
    assert!(verify(&KEYS, token, &request, NOW).is_err(), "a token not signed by the ring verified");
    assert!(
        latchkey_auth::token::verify_cached(&KEYS, &CACHE, token, &request, NOW).is_err(),
        "a token not signed by the ring verified through the cache"
    );
    let _ = attenuate(token, &["check if operation(\"read\")"]);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check(text);
    }
    check(&URL_SAFE.encode(data));
});
