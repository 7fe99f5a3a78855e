//! A valid token, minted once, attenuated by a holder with fuzzer-chosen Datalog checks, then verified for a
//! fuzzer-chosen request. Nothing may panic, the evaluation limits must hold, and an attenuation can only narrow:
//! a verified attenuated token carries exactly the minted claims, and only for requests the bare token allows.
//!
//! Input: the first byte picks the request (read or write, target user or not), the next line is the path, and
//! each further line is one check of the attenuation block (at most four, of at most 256 bytes each).
//!
//! The check text is parsed by biscuit's Datalog parser, which holders run on their side (the server only decodes
//! the token's protobuf). That parser backtracks exponentially on unclosed parentheses (an 1,810-byte check took
//! 17 s, a 233-byte one 3.7 s; see docs/benchmarks.md, "Fuzzing"): the length bound keeps most runs on the
//! attenuation and verification this target is about, but does not rule such inputs out.

#![no_main]

use std::sync::LazyLock;

use biscuit_auth::KeyPair;
use latchkey_auth::{KeyRing, Operation, RequestFacts, TargetUser, TokenError, attenuate, mint, verify};
use latchkey_domain::Timestamp;
use latchkey_domain::ids::UserId;
use latchkey_domain::token::{AccessClaims, Audience, Subject};
use libfuzzer_sys::fuzz_target;

const ISSUED_AT: Timestamp = Timestamp::from_secs(1_767_225_600);
const NOW: Timestamp = ISSUED_AT.plus_secs(60);
const MAX_CHECKS: usize = 4;
const MAX_CHECK_BYTES: usize = 256;

static KEYS: LazyLock<KeyRing> =
    LazyLock::new(|| KeyRing::new([("fuzz".to_owned(), KeyPair::new())]).expect("one fresh key"));
static CLAIMS: LazyLock<AccessClaims> = LazyLock::new(|| {
    AccessClaims::new(
        Subject::User(UserId::parse("user00000001").expect("a valid user id")),
        "first-party-app",
        Audience::Account,
        "token-1",
        ISSUED_AT,
        ISSUED_AT.plus_secs(3_600),
    )
    .with_scopes(["openid", "profile"])
    .with_session("session-1")
});
static TOKEN: LazyLock<String> = LazyLock::new(|| mint(&KEYS, &CLAIMS).expect("minting with a fresh key"));

fn request(selector: u8, path: &str) -> RequestFacts {
    let operation = if selector & 1 == 0 { Operation::Read } else { Operation::Write };
    let request = RequestFacts::new(operation, path);
    match selector >> 1 & 3 {
        0 => request,
        1 => request.acting_on(TargetUser::Caller),
        2 => request.acting_on(TargetUser::User("user00000001".to_owned())),
        _ => request.acting_on(TargetUser::User("user00000002".to_owned())),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let mut lines = text.split('\n');
    let path = lines.next().unwrap_or_default();
    let checks: Vec<&str> = lines.take(MAX_CHECKS).collect();
    if checks.iter().any(|check| check.len() > MAX_CHECK_BYTES) {
        return;
    }
    let request = request(selector, path);

    let Ok(attenuated) = attenuate(&TOKEN, &checks) else { return };
    if let Ok(principal) = verify(&KEYS, &attenuated, &request, NOW) {
        assert_eq!(principal.claims, *CLAIMS, "an attenuation changed the claims");
        assert_eq!(principal.blocks, 2);
        // LIMITS include 50 ms of wall-clock time, which a process descheduled on a loaded machine can exceed
        // (seen at load 9 under `nice -n 19`): that refusal says nothing about what the token allows.
        let bare = verify(&KEYS, &TOKEN, &request, NOW);
        assert!(
            matches!(bare, Ok(_) | Err(TokenError::LimitExceeded)),
            "an attenuation widened what the token allows: the bare token got {bare:?}"
        );
    }
});
