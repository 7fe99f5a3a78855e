//! Minting, verification, key rotation and attenuation through the public API.

use biscuit_auth::builder::BlockBuilder;
use biscuit_auth::{KeyPair, UnverifiedBiscuit};
use latchkey_auth::{KeyRing, Operation, RequestFacts, TargetUser, TokenError, attenuate, mint, verify};
use latchkey_domain::Timestamp;
use latchkey_domain::ids::UserId;
use latchkey_domain::token::{AccessClaims, Audience, Subject};

/// 2027-01-15T08:00:00Z.
const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);
const USER: &str = "user00000001";

fn ring(kid: &str) -> KeyRing {
    KeyRing::new([(kid.to_owned(), KeyPair::new())]).unwrap()
}

fn user_claims() -> AccessClaims {
    AccessClaims::new(
        Subject::User(UserId::parse(USER).unwrap()),
        "first-party-app",
        Audience::Account,
        "token-1",
        NOW.plus_secs(-60),
        NOW.plus_secs(3_600),
    )
    .with_scopes(["email", "openid", "profile"])
    .with_session("session-1")
    .with_actor("admin0000001")
    .with_personal_access_token("pat-1")
}

fn read(path: &str) -> RequestFacts {
    RequestFacts::new(Operation::Read, path)
}

fn write(path: &str) -> RequestFacts {
    RequestFacts::new(Operation::Write, path)
}

fn my_account_read() -> RequestFacts {
    read("/api/my-account").acting_on(TargetUser::Caller)
}

#[test]
fn every_claim_of_a_user_token_survives_the_round_trip() {
    let keys = ring("k1");
    let claims = user_claims();
    let principal = verify(&keys, &mint(&keys, &claims).unwrap(), &my_account_read(), NOW).unwrap();
    assert_eq!(principal.claims, claims);
    assert_eq!(principal.blocks, 1);
}

#[test]
fn an_application_token_for_a_resource_survives_the_round_trip() {
    let keys = ring("k1");
    let claims = AccessClaims::new(
        Subject::Application("m2m-app".into()),
        "m2m-app",
        Audience::Resource("https://default.logto.app/api".into()),
        "token-2",
        NOW,
        NOW.plus_secs(3_600),
    )
    .with_scopes(["all"]);
    let principal = verify(&keys, &mint(&keys, &claims).unwrap(), &write("/api/users"), NOW).unwrap();
    assert_eq!(principal.claims, claims);
    assert!(principal.has_scope("all"));
    assert_eq!(principal.user_id(), None);
}

#[test]
fn a_token_is_accepted_until_its_expiry_and_refused_from_then_on() {
    let keys = ring("k1");
    let token = mint(&keys, &user_claims()).unwrap();
    let expiry = user_claims().expires_at;
    assert!(verify(&keys, &token, &my_account_read(), expiry.plus_secs(-1)).is_ok());
    assert_eq!(verify(&keys, &token, &my_account_read(), expiry), Err(TokenError::Expired));
    assert_eq!(verify(&keys, &token, &my_account_read(), expiry.plus_secs(86_400)), Err(TokenError::Expired));
}

#[test]
fn a_token_signed_by_another_key_with_the_same_kid_is_refused() {
    let token = mint(&ring("k1"), &user_claims()).unwrap();
    assert_eq!(verify(&ring("k1"), &token, &my_account_read(), NOW), Err(TokenError::InvalidSignature));
}

#[test]
fn a_token_naming_a_kid_outside_the_ring_is_refused() {
    let token = mint(&ring("k1"), &user_claims()).unwrap();
    assert_eq!(verify(&ring("k2"), &token, &my_account_read(), NOW), Err(TokenError::UnknownKey));
}

#[test]
fn after_rotation_old_tokens_verify_until_the_old_key_leaves_the_ring() {
    let old = KeyPair::new();
    let old_public = old.public();
    let before = KeyRing::new([("old".to_owned(), old)]).unwrap();
    let token = mint(&before, &user_claims()).unwrap();

    let rotated = ring("new").with_verification_key("old", old_public).unwrap();
    assert_eq!(rotated.signing_kid(), "new");
    assert!(verify(&rotated, &token, &my_account_read(), NOW).is_ok());
    let fresh = mint(&rotated, &user_claims()).unwrap();
    assert_eq!(verify(&before, &fresh, &my_account_read(), NOW), Err(TokenError::UnknownKey));

    let retired = ring("new");
    assert_eq!(verify(&retired, &token, &my_account_read(), NOW), Err(TokenError::UnknownKey));
}

#[test]
fn a_token_attenuated_to_a_shorter_expiry_is_refused_after_it() {
    let keys = ring("k1");
    // 2027-01-15T08:30:00Z: half an hour after NOW, before the minted expiry.
    let token =
        attenuate(&mint(&keys, &user_claims()).unwrap(), &["check if time($t), $t < 2027-01-15T08:30:00Z"]).unwrap();
    assert!(verify(&keys, &token, &my_account_read(), NOW.plus_secs(29 * 60)).is_ok());
    let late = verify(&keys, &token, &my_account_read(), NOW.plus_secs(31 * 60));
    assert!(matches!(late, Err(TokenError::CheckFailed(_))), "{late:?}");
}

#[test]
fn a_token_attenuated_to_expire_in_the_past_is_refused() {
    let keys = ring("k1");
    let token =
        attenuate(&mint(&keys, &user_claims()).unwrap(), &["check if time($t), $t < 2020-01-01T00:00:00Z"]).unwrap();
    assert!(matches!(verify(&keys, &token, &my_account_read(), NOW), Err(TokenError::CheckFailed(_))));
}

#[test]
fn a_read_only_token_reads_but_cannot_write() {
    let keys = ring("k1");
    let token = attenuate(&mint(&keys, &user_claims()).unwrap(), &[r#"check if operation("read")"#]).unwrap();
    assert_eq!(verify(&keys, &token, &my_account_read(), NOW).unwrap().blocks, 2);
    let write = verify(&keys, &token, &write("/api/my-account").acting_on(TargetUser::Caller), NOW);
    assert!(matches!(write, Err(TokenError::CheckFailed(_))), "{write:?}");
}

#[test]
fn a_token_restricted_to_one_user_acts_on_that_user_only() {
    let keys = ring("k1");
    let admin = AccessClaims::new(
        Subject::Application("m2m-app".into()),
        "m2m-app",
        Audience::Resource("https://default.logto.app/api".into()),
        "token-3",
        NOW,
        NOW.plus_secs(3_600),
    )
    .with_scopes(["all"]);
    let token = attenuate(&mint(&keys, &admin).unwrap(), &[r#"check if target_user("abc")"#]).unwrap();
    let on = |user: &str| read(&format!("/api/users/{user}")).acting_on(TargetUser::User(user.into()));
    assert!(verify(&keys, &token, &on("abc"), NOW).is_ok());
    assert!(matches!(verify(&keys, &token, &on("xyz"), NOW), Err(TokenError::CheckFailed(_))));
    // A route that names no user (listing all users) is outside a one-user token.
    assert!(matches!(verify(&keys, &token, &read("/api/users"), NOW), Err(TokenError::CheckFailed(_))));
}

#[test]
fn on_the_account_api_the_target_user_is_the_callers_own_user() {
    let keys = ring("k1");
    let minted = mint(&keys, &user_claims()).unwrap();
    let own = attenuate(&minted, &[&format!(r#"check if target_user("{USER}")"#)]).unwrap();
    assert!(verify(&keys, &own, &my_account_read(), NOW).is_ok());
    let other = attenuate(&minted, &[r#"check if target_user("user00000002")"#]).unwrap();
    assert!(matches!(verify(&keys, &other, &my_account_read(), NOW), Err(TokenError::CheckFailed(_))));
}

#[test]
fn a_holder_cannot_become_the_target_user_by_appending_a_user_fact() {
    let keys = ring("k1");
    let minted = mint(&keys, &user_claims()).unwrap();
    let forged = append_code(&minted, r#"user("user00000002"); check if target_user("user00000002");"#);
    assert!(matches!(verify(&keys, &forged, &my_account_read(), NOW), Err(TokenError::CheckFailed(_))));
}

#[test]
fn a_token_restricted_to_a_path_prefix_is_refused_elsewhere() {
    let keys = ring("k1");
    let token =
        attenuate(&mint(&keys, &user_claims()).unwrap(), &[r#"check if path($p), $p.starts_with("/api/my-account")"#])
            .unwrap();
    assert!(verify(&keys, &token, &read("/api/my-account/email"), NOW).is_ok());
    assert!(matches!(verify(&keys, &token, &read("/api/verifications"), NOW), Err(TokenError::CheckFailed(_))));
}

#[test]
fn identity_facts_appended_by_a_holder_do_not_change_the_principal() {
    let keys = ring("k1");
    let claims = user_claims();
    let forged = append_code(
        &mint(&keys, &claims).unwrap(),
        r#"user("someone-else"); application("m2m-app"); scope("all"); client("admin-console");
           audience("account"); resource("https://default.logto.app/api"); session("other"); actor("root");
           pat("pat-2"); token_id("token-9"); expires_at(2099-01-01T00:00:00Z);"#,
    );
    let principal = verify(&keys, &forged, &my_account_read(), NOW).unwrap();
    assert_eq!(principal.claims, claims);
    assert!(!principal.has_scope("all"));
    assert_eq!(principal.blocks, 2);
}

#[test]
fn a_holder_block_that_explodes_the_fact_count_hits_the_limits() {
    let keys = ring("k1");
    let numbers: String = (0..40).map(|n| format!("n({n});")).collect();
    let exploding =
        append_code(&mint(&keys, &user_claims()).unwrap(), &format!("{numbers} pair($a, $b) <- n($a), n($b);"));
    assert_eq!(verify(&keys, &exploding, &my_account_read(), NOW), Err(TokenError::LimitExceeded));
}

#[test]
fn garbage_is_refused_as_malformed_without_panicking() {
    let keys = ring("k1");
    for garbage in ["", "not a token", "AAAA", "////", "eyJhbGciOiJFZERTQSJ9.e30.c2ln", "\u{1F600}"] {
        assert_eq!(verify(&keys, garbage, &my_account_read(), NOW), Err(TokenError::Malformed), "{garbage:?}");
    }
}

#[test]
fn a_truncated_or_altered_token_is_refused() {
    let keys = ring("k1");
    let token = mint(&keys, &user_claims()).unwrap();
    let truncated = &token[..token.len() / 2];
    assert!(verify(&keys, truncated, &my_account_read(), NOW).is_err());
    for position in [10, token.len() / 2, token.len() - 10] {
        let mut altered = token.clone().into_bytes();
        altered[position] = if altered[position] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(verify(&keys, &altered, &my_account_read(), NOW).is_err(), "position {position}");
    }
}

#[test]
fn an_attenuation_check_that_is_not_datalog_is_refused_before_signing() {
    let keys = ring("k1");
    let token = mint(&keys, &user_claims()).unwrap();
    assert!(matches!(attenuate(&token, &["check if ("]), Err(TokenError::InvalidCheck(_))));
    assert_eq!(attenuate("garbage", &[r#"check if operation("read")"#]), Err(TokenError::Malformed));
}

#[test]
fn only_get_head_and_options_are_reads() {
    for method in ["GET", "HEAD", "OPTIONS"] {
        assert_eq!(Operation::from_method(method), Operation::Read);
    }
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        assert_eq!(Operation::from_method(method), Operation::Write);
    }
}

fn append_code(token: &str, code: &str) -> String {
    let block = BlockBuilder::new().code(code).unwrap();
    UnverifiedBiscuit::from_base64(token).unwrap().append(block).unwrap().to_base64().unwrap()
}
