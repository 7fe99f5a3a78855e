//! Attenuation by another biscuit implementation (biscuit-python), verified by ours. Runs only when
//! `LATCHKEY_THIRD_PARTY_BISCUIT=1`, since it needs `python3` with `pip install biscuit-python`.

use std::io::Write;
use std::process::{Command, Stdio};

use biscuit_auth::KeyPair;
use latchkey_auth::{KeyRing, Operation, RequestFacts, TargetUser, TokenError, mint, verify};
use latchkey_domain::Timestamp;
use latchkey_domain::ids::UserId;
use latchkey_domain::token::{AccessClaims, Audience, Subject};

/// 2027-01-15T08:00:00Z.
const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/third_party/attenuate.py");

fn enabled() -> bool {
    if std::env::var("LATCHKEY_THIRD_PARTY_BISCUIT").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("note: third-party biscuit test skipped; set LATCHKEY_THIRD_PARTY_BISCUIT=1 (needs biscuit-python)");
    false
}

/// A ring whose signing key is not the first, so that the script must pick the key by root key id.
fn ring() -> KeyRing {
    KeyRing::new([("2026-11-a".to_owned(), KeyPair::new()), ("2026-11-b".to_owned(), KeyPair::new())])
        .unwrap()
        .signing_with("2026-11-b")
        .unwrap()
}

fn token(keys: &KeyRing) -> String {
    let claims = AccessClaims::new(
        Subject::User(UserId::parse("user00000001").unwrap()),
        "app",
        Audience::Account,
        "token-1",
        NOW,
        NOW.plus_secs(3_600),
    );
    mint(keys, &claims).unwrap()
}

/// Runs the Python script and returns the attenuated token.
fn attenuate_in_python(keys: &KeyRing, token: &str, checks: &[&str]) -> String {
    let mut jwks = tempfile::NamedTempFile::new().unwrap();
    jwks.write_all(keys.jwks().to_string().as_bytes()).unwrap();
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .arg(jwks.path())
        .args(checks)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(token.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "attenuate.py failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn on_my_account(operation: Operation) -> RequestFacts {
    RequestFacts::new(operation, "/api/my-account").acting_on(TargetUser::Caller)
}

#[test]
fn a_token_made_read_only_by_biscuit_python_reads_but_cannot_write() {
    if !enabled() {
        return;
    }
    let keys = ring();
    let attenuated = attenuate_in_python(&keys, &token(&keys), &[r#"check if operation("read")"#]);
    let principal = verify(&keys, &attenuated, &on_my_account(Operation::Read), NOW).unwrap();
    assert_eq!(principal.blocks, 2);
    let write = verify(&keys, &attenuated, &on_my_account(Operation::Write), NOW);
    assert!(matches!(write, Err(TokenError::CheckFailed(_))), "{write:?}");
}

#[test]
fn a_token_made_to_expire_in_the_past_by_biscuit_python_is_refused() {
    if !enabled() {
        return;
    }
    let keys = ring();
    let attenuated = attenuate_in_python(&keys, &token(&keys), &["check if time($t), $t < 2020-01-01T00:00:00Z"]);
    let refused = verify(&keys, &attenuated, &on_my_account(Operation::Read), NOW);
    assert!(matches!(refused, Err(TokenError::CheckFailed(_))), "{refused:?}");
}
