//! Token verification cost against its floor: one bare Ed25519 signature check of a message of the token's size.
//! Biscuit checks one signature per block, so the per-block ratio is the number that matters. The "cached" cases are
//! the warm path of `verify_cached`: a token seen before skips its signature checks and parse, and still runs the
//! authorizer (its checks against this request and time, and the claims) on every call.

use std::hint::black_box;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, test, web};
use async_trait::async_trait;
use biscuit_auth::KeyPair;
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey, Verifier};
use latchkey_auth::token::{VerifiedTokenCache, verify_cached};
use latchkey_auth::{
    KeyRing, Operation, Principal, RequestFacts, RevocationCheck, RevocationError, TargetUser, TokenVerifier,
    attenuate, mint, verify,
};
use latchkey_domain::Timestamp;
use latchkey_domain::clock::FixedClock;
use latchkey_domain::ids::UserId;
use latchkey_domain::token::{AccessClaims, Audience, Subject};

fn tokens(c: &mut Criterion) {
    let now = Timestamp::from_secs(1_800_000_000);
    let ring = KeyRing::new([("bench".to_owned(), KeyPair::new())]).expect("one key");
    let claims = AccessClaims::new(
        Subject::User(UserId::parse("benchuser001").expect("valid id")),
        "first-party-app",
        Audience::Account,
        "token-id-0123456789abc",
        now,
        now.plus_secs(3_600),
    )
    .with_scopes(["openid", "profile", "email", "phone", "custom_data", "identities"])
    .with_session("session-0123456789abcd");
    let token = mint(&ring, &claims).expect("mint");
    let attenuated = attenuate(&token, &[r#"check if operation("read")"#]).expect("attenuate");
    let request = RequestFacts::new(Operation::Read, "/api/my-account").acting_on(TargetUser::Caller);

    let mut group = c.benchmark_group("tokens");
    group.bench_function("verify one block", |b| {
        b.iter(|| verify(&ring, black_box(&token), &request, now).expect("valid"));
    });
    group.bench_function("verify with one attenuation block", |b| {
        b.iter(|| verify(&ring, black_box(&attenuated), &request, now).expect("valid"));
    });
    let cache = VerifiedTokenCache::default();
    group.bench_function("verify one block, cached", |b| {
        b.iter(|| verify_cached(&ring, &cache, black_box(&token), &request, now).expect("valid"));
    });
    group.bench_function("verify with one attenuation block, cached", |b| {
        b.iter(|| verify_cached(&ring, &cache, black_box(&attenuated), &request, now).expect("valid"));
    });

    let signing_key = SigningKey::from_bytes(&[7; 32]);
    let message = vec![0x42_u8; token.len() * 3 / 4];
    let signature = signing_key.sign(&message);
    let verifying_key = signing_key.verifying_key();
    group.bench_function("bare ed25519 verify (token-sized message)", |b| {
        b.iter(|| verifying_key.verify(black_box(&message), &signature).expect("valid"));
    });

    // The whole extractor: header parsing, request facts, verification and a revocation port that answers at once
    // (the real one adds a database round trip).
    // A cache of capacity 0 keeps nothing, so every call is the cold path.
    let ring = Arc::new(ring);
    let cold = TokenVerifier::new(Arc::clone(&ring), Arc::new(FixedClock(now)), Arc::new(NeverRevoked))
        .with_token_cache(VerifiedTokenCache::new(0));
    let warm = TokenVerifier::new(ring, Arc::new(FixedClock(now)), Arc::new(NeverRevoked));
    let runtime = actix_web::rt::System::new();
    for (name, verifier) in
        [("extractor, one block, no-op revocation", cold), ("extractor, one block, no-op revocation, cached", warm)]
    {
        let request = test::TestRequest::get()
            .uri("/api/my-account")
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .app_data(web::Data::new(verifier))
            .to_http_request();
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(Principal::from_request(black_box(&request), &mut Payload::None)).expect("valid")
            });
        });
    }
    group.finish();
}

struct NeverRevoked;

#[async_trait]
impl RevocationCheck for NeverRevoked {
    async fn check(&self, _: &Principal) -> Result<(), RevocationError> {
        Ok(())
    }
}

criterion_group!(benches, tokens);
criterion_main!(benches);
