//! Cost of password hashing and verification: argon2id at our parameters against the hashes we import.
//! Run with `cargo bench -p latchkey-domain --bench passwords`; the medians are kept in docs/benchmarks.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use latchkey_domain::password::{
    PasswordAlgorithm, PasswordCheck, PasswordPolicy, PasswordUserInfo, PlainPassword, StoredPassword, hashing, import,
};
use sha2::Digest;

const PASSWORD: &str = "correct horse battery staple";

fn slow_hashes(c: &mut Criterion) {
    let password = PlainPassword::new(PASSWORD);
    let argon2id = hashing::hash_password(&password).expect("argon2id hashes");
    let bcrypt = StoredPassword {
        algorithm: PasswordAlgorithm::Bcrypt,
        digest: bcrypt::hash(PASSWORD, 10).expect("bcrypt hashes"),
    };
    // A wrong answer here would make the figures meaningless.
    assert_eq!(import::verify(&password, &argon2id), Ok(PasswordCheck::Match { needs_rehash: false }));
    assert_eq!(import::verify(&password, &bcrypt), Ok(PasswordCheck::Match { needs_rehash: true }));

    let mut group = c.benchmark_group("passwords");
    // Each iteration takes tens of milliseconds: fewer samples over a longer window keep a run near a minute.
    group.sample_size(20).measurement_time(Duration::from_secs(8));
    group.bench_function("argon2id hash (m=19456 KiB, t=2, p=1)", |b| {
        b.iter(|| hashing::hash_password(black_box(&password)))
    });
    group.bench_function("argon2id verify (m=19456 KiB, t=2, p=1)", |b| {
        b.iter(|| import::verify(black_box(&password), black_box(&argon2id)))
    });
    group.bench_function("argon2id dummy verify", |b| b.iter(|| hashing::dummy_verify(black_box(&password))));
    group.bench_function("bcrypt verify (cost 10)", |b| b.iter(|| import::verify(black_box(&password), &bcrypt)));
    group.finish();
}

fn fast_checks(c: &mut Criterion) {
    let password = PlainPassword::new(PASSWORD);
    let sha256 = StoredPassword {
        algorithm: PasswordAlgorithm::Sha256,
        digest: hex::encode(sha2::Sha256::digest(PASSWORD.as_bytes())),
    };
    assert_eq!(import::verify(&password, &sha256), Ok(PasswordCheck::Match { needs_rehash: true }));
    let policy = PasswordPolicy::default();
    let user = PasswordUserInfo { username: Some("ada".to_owned()), ..PasswordUserInfo::default() };

    let mut group = c.benchmark_group("passwords");
    group.bench_function("SHA256 import verify", |b| b.iter(|| import::verify(black_box(&password), &sha256)));
    group.bench_function("policy check (defaults)", |b| b.iter(|| policy.check(black_box("Tr0ub4dor&3"), &user)));
    group.finish();
}

criterion_group!(benches, slow_hashes, fast_checks);
criterion_main!(benches);
