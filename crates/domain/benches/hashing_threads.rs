//! Two password verifications at once, the way a server runs them under a sign-in flood: on tokio's blocking pool
//! (argon2 allocates and zeroes its 19 MiB for each computation) and on `HashingThreads` (each thread keeps that
//! memory for its next computation). Also one verification at a time on `HashingThreads`: the sign-in target's
//! ceiling (cores ÷ one verification) assumes a pair takes as long as one alone, and the two groups show how far
//! this machine is from that. Run with `cargo bench -p latchkey-domain --features tokio --bench
//! hashing_threads` on an otherwise idle machine with at least two cores; the figures are in docs/benchmarks.md.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use latchkey_domain::password::{
    BlockingPoolHasher, HashingThreads, PasswordCheck, PasswordHasher, PlainPassword, StoredPassword, hashing,
};

const PASSWORD: &str = "correct horse battery staple";

/// Times `iterations` rounds of two verifications started together; one round is one criterion iteration.
fn pairs_of_verifications(
    runtime: &tokio::runtime::Runtime,
    hasher: &dyn PasswordHasher,
    (password, stored): &(PlainPassword, StoredPassword),
    iterations: u64,
) -> Duration {
    runtime.block_on(async {
        // A benchmark measures wall time; the Clock port is for the domain's own logic.
        #[allow(clippy::disallowed_methods)]
        let start = Instant::now();
        for _ in 0..iterations {
            let (first, second) = tokio::join!(hasher.verify(password, stored), hasher.verify(password, stored));
            // A wrong answer would make the figures meaningless.
            assert_eq!(
                (first, second),
                (Ok(PasswordCheck::Match { needs_rehash: false }), Ok(PasswordCheck::Match { needs_rehash: false }))
            );
        }
        start.elapsed()
    })
}

/// Times `iterations` verifications, one after the other.
fn single_verifications(
    runtime: &tokio::runtime::Runtime,
    hasher: &dyn PasswordHasher,
    (password, stored): &(PlainPassword, StoredPassword),
    iterations: u64,
) -> Duration {
    runtime.block_on(async {
        // Wall time, as above.
        #[allow(clippy::disallowed_methods)]
        let start = Instant::now();
        for _ in 0..iterations {
            let check = hasher.verify(password, stored).await;
            assert_eq!(check, Ok(PasswordCheck::Match { needs_rehash: false }));
        }
        start.elapsed()
    })
}

fn two_at_once(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let blocking_pool = BlockingPoolHasher::new(2);
    let hashing_threads = HashingThreads::new(2, || {}).expect("hashing threads start");
    let password = PlainPassword::new(PASSWORD);
    let stored = hashing::hash_password(&password).expect("argon2id hashes");
    let credentials = (password, stored);

    let mut group = c.benchmark_group("two argon2id verifications at once");
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    group.bench_function("BlockingPoolHasher (memory allocated each time)", |b| {
        b.iter_custom(|iterations| pairs_of_verifications(&runtime, &blocking_pool, &credentials, iterations))
    });
    group.bench_function("HashingThreads (memory kept by each thread)", |b| {
        b.iter_custom(|iterations| pairs_of_verifications(&runtime, &hashing_threads, &credentials, iterations))
    });
    group.finish();

    let mut group = c.benchmark_group("one argon2id verification alone");
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    group.bench_function("HashingThreads (memory kept by each thread)", |b| {
        b.iter_custom(|iterations| single_verifications(&runtime, &hashing_threads, &credentials, iterations))
    });
    group.finish();
}

criterion_group!(benches, two_at_once);
criterion_main!(benches);
