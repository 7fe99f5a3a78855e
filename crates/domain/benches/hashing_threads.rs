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

/// Times `iterations` rounds of `round` on `runtime`; one round is one criterion iteration.
fn time_rounds<F, R>(runtime: &tokio::runtime::Runtime, iterations: u64, mut round: F) -> Duration
where
    F: FnMut() -> R,
    R: Future<Output = ()>,
{
    runtime.block_on(async {
        // A benchmark measures wall time; the Clock port is for the domain's own logic.
        #[allow(clippy::disallowed_methods)]
        let start = Instant::now();
        for _ in 0..iterations {
            round().await;
        }
        start.elapsed()
    })
}

const MATCH: PasswordCheck = PasswordCheck::Match { needs_rehash: false };

/// Two verifications started together.
async fn pair_of_verifications(hasher: &dyn PasswordHasher, (password, stored): &(PlainPassword, StoredPassword)) {
    let (first, second) = tokio::join!(hasher.verify(password, stored), hasher.verify(password, stored));
    // A wrong answer would make the figures meaningless.
    assert_eq!((first, second), (Ok(MATCH), Ok(MATCH)));
}

async fn one_verification(hasher: &dyn PasswordHasher, (password, stored): &(PlainPassword, StoredPassword)) {
    assert_eq!(hasher.verify(password, stored).await, Ok(MATCH));
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
        b.iter_custom(|iterations| {
            time_rounds(&runtime, iterations, || pair_of_verifications(&blocking_pool, &credentials))
        })
    });
    group.bench_function("HashingThreads (memory kept by each thread)", |b| {
        b.iter_custom(|iterations| {
            time_rounds(&runtime, iterations, || pair_of_verifications(&hashing_threads, &credentials))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("one argon2id verification alone");
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    group.bench_function("HashingThreads (memory kept by each thread)", |b| {
        b.iter_custom(|iterations| {
            time_rounds(&runtime, iterations, || one_verification(&hashing_threads, &credentials))
        })
    });
    group.finish();
}

criterion_group!(benches, two_at_once);
criterion_main!(benches);
