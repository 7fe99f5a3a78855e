//! The [`PasswordHasher`] port: hashing and verification of passwords for async callers, and its two
//! implementations.
//!
//! Both implementations verify through [`import::verify`] and, when the answer came quickly (a fast imported hash
//! that did not match, or a digest that could not be checked), spend a [`hashing::dummy_verify`] so that a wrong
//! password costs about the same whatever the account's hash, as Logto does with its decoy argon2 verification.

use async_trait::async_trait;

use super::{PasswordCheck, PasswordError, PlainPassword, StoredPassword, hashing, import};

/// Hashes and verifies passwords. Implementations keep the CPU-heavy work off the async executor, or say why they
/// don't.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a new password with argon2id at our parameters.
    async fn hash(&self, password: &PlainPassword) -> Result<StoredPassword, PasswordError>;
    /// Checks a password against a stored (possibly imported) hash; a match may ask for a rehash.
    async fn verify(&self, password: &PlainPassword, stored: &StoredPassword) -> Result<PasswordCheck, PasswordError>;
    /// Spends the time of a real verification, for a user who does not exist.
    async fn dummy_verify(&self, password: &PlainPassword);
}

/// Runs the hashing on the calling thread. Fine for embedding, command-line tools and tests; a server should use
/// `BlockingPoolHasher` (feature `tokio`) so that a 14 ms hash does not stall other requests.
#[derive(Debug, Clone, Default)]
pub struct InlinePasswordHasher;

#[async_trait]
impl PasswordHasher for InlinePasswordHasher {
    async fn hash(&self, password: &PlainPassword) -> Result<StoredPassword, PasswordError> {
        hashing::hash_password(password)
    }

    async fn verify(&self, password: &PlainPassword, stored: &StoredPassword) -> Result<PasswordCheck, PasswordError> {
        verify_evenly(password, stored)
    }

    async fn dummy_verify(&self, password: &PlainPassword) {
        hashing::dummy_verify(password);
    }
}

/// [`import::verify`], then a decoy verification when the answer was a fast "no".
fn verify_evenly(password: &PlainPassword, stored: &StoredPassword) -> Result<PasswordCheck, PasswordError> {
    let outcome = import::verify(password, stored);
    let answered_fast = match outcome {
        Ok(PasswordCheck::Mismatch) => import::is_fast(stored.algorithm),
        Ok(PasswordCheck::Match { .. }) => false,
        Err(_) => true,
    };
    if answered_fast {
        hashing::dummy_verify(password);
    }
    outcome
}

/// Where a hasher runs CPU-heavy work away from the async workers; the port's three methods follow from it.
#[cfg(feature = "tokio")]
#[async_trait]
trait OffloadedWork: Send + Sync {
    async fn run<T, F>(&self, work: F) -> Result<T, PasswordError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static;
}

#[cfg(feature = "tokio")]
#[async_trait]
impl<H: OffloadedWork> PasswordHasher for H {
    async fn hash(&self, password: &PlainPassword) -> Result<StoredPassword, PasswordError> {
        let password = password.clone();
        self.run(move || hashing::hash_password(&password)).await?
    }

    async fn verify(&self, password: &PlainPassword, stored: &StoredPassword) -> Result<PasswordCheck, PasswordError> {
        let (password, stored) = (password.clone(), stored.clone());
        self.run(move || verify_evenly(&password, &stored)).await?
    }

    async fn dummy_verify(&self, password: &PlainPassword) {
        let password = password.clone();
        // Nothing to report: the only failure is a panicked job, and the caller answers "wrong credentials" either
        // way.
        self.run(move || hashing::dummy_verify(&password)).await.ok();
    }
}

#[cfg(feature = "tokio")]
pub use blocking_pool::BlockingPoolHasher;
#[cfg(feature = "tokio")]
pub use hashing_threads::HashingThreads;

#[cfg(feature = "tokio")]
mod blocking_pool {
    use std::num::NonZeroUsize;
    use std::sync::Arc;

    use async_trait::async_trait;
    use tokio::sync::Semaphore;

    use super::OffloadedWork;
    use crate::password::PasswordError;

    /// Runs the hashing on tokio's blocking pool, at most `limit` at a time.
    ///
    /// The limit bounds the CPU and memory (19 MiB per argon2 at our parameters, up to 256 MiB for an imported
    /// digest) that password checks can take at once; further requests wait their turn instead of piling threads
    /// onto the blocking pool.
    #[derive(Debug, Clone)]
    pub struct BlockingPoolHasher {
        permits: Arc<Semaphore>,
        limit: usize,
    }

    impl BlockingPoolHasher {
        /// A hasher running at most `limit` hashes at once (at least one).
        pub fn new(limit: usize) -> Self {
            let limit = limit.max(1);
            Self { permits: Arc::new(Semaphore::new(limit)), limit }
        }

        /// How many hashes may run at once.
        pub fn limit(&self) -> usize {
            self.limit
        }

        #[cfg(test)]
        pub(super) fn semaphore(&self) -> &Arc<Semaphore> {
            &self.permits
        }
    }

    #[async_trait]
    impl OffloadedWork for BlockingPoolHasher {
        async fn run<T, F>(&self, work: F) -> Result<T, PasswordError>
        where
            T: Send + 'static,
            F: FnOnce() -> T + Send + 'static,
        {
            let permit = Arc::clone(&self.permits)
                .acquire_owned()
                .await
                .map_err(|_| PasswordError::Hashing("the password hasher was shut down".to_owned()))?;
            // The permit moves into the task: if the caller gives up waiting, the work still counts against the
            // limit until it really ends.
            tokio::task::spawn_blocking(move || {
                let result = work();
                drop(permit);
                result
            })
            .await
            .map_err(|error| PasswordError::Hashing(format!("the password hashing task failed: {error}")))
        }
    }

    impl Default for BlockingPoolHasher {
        /// One hash at a time per CPU.
        fn default() -> Self {
            Self::new(std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
        }
    }
}

#[cfg(feature = "tokio")]
mod hashing_threads {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::{Arc, Mutex, mpsc};

    use async_trait::async_trait;
    use tokio::sync::oneshot;

    use super::OffloadedWork;
    use crate::password::{PasswordError, hashing};

    type Job = Box<dyn FnOnce() + Send>;

    /// Runs the hashing on `limit` threads of its own, fed from one queue.
    ///
    /// Unlike [`super::BlockingPoolHasher`], the threads are the hasher's alone, so the embedding program can set
    /// them up once as they start (`on_start`): the server lowers their scheduling priority, so that a flood of
    /// password sign-ins uses the CPU the other requests leave over instead of taking turns with them. The thread
    /// count bounds CPU and memory (19 MiB per argon2 at our parameters) as the semaphore does there; further
    /// requests queue. Each thread keeps the argon2 memory of its verifications for the next one (19 MiB each once
    /// it has verified), which spares the memory bandwidth that two threads' fresh allocations would compete for.
    /// The threads stop once the last clone of the hasher is dropped and the queue is empty.
    #[derive(Clone)]
    pub struct HashingThreads {
        jobs: mpsc::Sender<Job>,
        limit: usize,
    }

    impl std::fmt::Debug for HashingThreads {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("HashingThreads").field("limit", &self.limit).finish_non_exhaustive()
        }
    }

    impl HashingThreads {
        /// Starts `limit` threads (at least one), named `latchkey-hash-<n>`, each calling `on_start` first.
        pub fn new(limit: usize, on_start: impl Fn() + Send + Sync + 'static) -> std::io::Result<Self> {
            let limit = limit.max(1);
            let (jobs, queue) = mpsc::channel::<Job>();
            let queue = Arc::new(Mutex::new(queue));
            let on_start = Arc::new(on_start);
            for index in 0..limit {
                let (queue, on_start) = (Arc::clone(&queue), Arc::clone(&on_start));
                std::thread::Builder::new().name(format!("latchkey-hash-{index}")).spawn(move || {
                    hashing::keep_argon2_memory_on_this_thread();
                    on_start();
                    loop {
                        // The lock is held only while waiting for a job, never while hashing.
                        let next = queue.lock().map_err(drop).and_then(|queue| queue.recv().map_err(drop));
                        let Ok(job) = next else { return };
                        // A panicking job drops its answer channel (the caller gets an error); the thread lives on.
                        let _ = catch_unwind(AssertUnwindSafe(job));
                    }
                })?;
            }
            Ok(Self { jobs, limit })
        }

        /// How many hashes may run at once.
        pub fn limit(&self) -> usize {
            self.limit
        }
    }

    #[async_trait]
    impl OffloadedWork for HashingThreads {
        async fn run<T, F>(&self, work: F) -> Result<T, PasswordError>
        where
            T: Send + 'static,
            F: FnOnce() -> T + Send + 'static,
        {
            let (answer, answered) = oneshot::channel();
            // If the caller gives up waiting, the job still runs (and counts against the limit) until it ends.
            let job: Job = Box::new(move || {
                let _ = answer.send(work());
            });
            self.jobs
                .send(job)
                .map_err(|_| PasswordError::Hashing("the password hashing threads have stopped".to_owned()))?;
            answered.await.map_err(|_| PasswordError::Hashing("the password hashing job failed".to_owned()))
        }
    }

    #[cfg(test)]
    mod tests {
        use std::collections::HashSet;
        use std::sync::atomic::{AtomicUsize, Ordering};

        use super::*;
        use crate::password::{PasswordCheck, PasswordHasher, PlainPassword};

        #[tokio::test]
        async fn the_threads_hash_and_verify_and_each_ran_its_start_hook_once() {
            let started = Arc::new(AtomicUsize::new(0));
            let counter = Arc::clone(&started);
            let hasher = HashingThreads::new(2, move || {
                counter.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
            let password = PlainPassword::new("Tr0ub4dor&3");

            let stored = hasher.hash(&password).await.unwrap();

            assert_eq!(hasher.verify(&password, &stored).await, Ok(PasswordCheck::Match { needs_rehash: false }));
            assert_eq!(hasher.verify(&PlainPassword::new("nope"), &stored).await, Ok(PasswordCheck::Mismatch));
            hasher.dummy_verify(&password).await;
            assert_eq!(started.load(Ordering::SeqCst), 2);
            assert_eq!(hasher.limit(), 2);
            assert_eq!(HashingThreads::new(0, || {}).unwrap().limit(), 1);
        }

        #[tokio::test]
        async fn the_work_runs_on_the_hashers_own_threads_at_most_limit_at_once() {
            let hasher = HashingThreads::new(2, || {}).unwrap();
            let running = Arc::new(AtomicUsize::new(0));
            let most = Arc::new(AtomicUsize::new(0));

            let jobs: Vec<_> = (0..8)
                .map(|_| {
                    let (hasher, running, most) = (hasher.clone(), Arc::clone(&running), Arc::clone(&most));
                    tokio::spawn(async move {
                        hasher
                            .run(move || {
                                let now_running = running.fetch_add(1, Ordering::SeqCst) + 1;
                                most.fetch_max(now_running, Ordering::SeqCst);
                                std::thread::sleep(std::time::Duration::from_millis(20));
                                running.fetch_sub(1, Ordering::SeqCst);
                                std::thread::current().name().map(str::to_owned)
                            })
                            .await
                    })
                })
                .collect();
            let mut names = HashSet::new();
            for job in jobs {
                names.insert(job.await.unwrap().unwrap());
            }

            assert_eq!(most.load(Ordering::SeqCst), 2);
            let expected: HashSet<_> = ["latchkey-hash-0", "latchkey-hash-1"].map(|name| Some(name.to_owned())).into();
            assert_eq!(names, expected);
        }

        #[tokio::test]
        async fn a_panicking_job_is_an_error_and_the_thread_keeps_serving() {
            let hasher = HashingThreads::new(1, || {}).unwrap();

            let failed = hasher.run(|| -> u8 { panic!("a broken hash") }).await;

            assert!(matches!(failed, Err(PasswordError::Hashing(_))));
            assert_eq!(hasher.run(|| 7).await, Ok(7));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::PasswordAlgorithm;

    fn sha256_of(password: &str) -> StoredPassword {
        use sha2::Digest;
        StoredPassword {
            algorithm: PasswordAlgorithm::Sha256,
            digest: hex::encode(sha2::Sha256::digest(password.as_bytes())),
        }
    }

    #[tokio::test]
    async fn the_inline_hasher_hashes_verifies_and_asks_no_rehash_of_its_own_hashes() {
        let hasher = InlinePasswordHasher;
        let password = PlainPassword::new("Tr0ub4dor&3");

        let stored = hasher.hash(&password).await.unwrap();

        assert_eq!(stored.algorithm, PasswordAlgorithm::Argon2id);
        assert_eq!(hasher.verify(&password, &stored).await, Ok(PasswordCheck::Match { needs_rehash: false }));
        assert_eq!(hasher.verify(&PlainPassword::new("Tr0ub4dor&4"), &stored).await, Ok(PasswordCheck::Mismatch));
        hasher.dummy_verify(&password).await;
    }

    #[tokio::test]
    async fn the_inline_hasher_verifies_imported_hashes_and_asks_for_a_rehash() {
        let hasher = InlinePasswordHasher;
        let stored = sha256_of("imported secret");

        assert_eq!(
            hasher.verify(&PlainPassword::new("imported secret"), &stored).await,
            Ok(PasswordCheck::Match { needs_rehash: true })
        );
        assert_eq!(hasher.verify(&PlainPassword::new("other"), &stored).await, Ok(PasswordCheck::Mismatch));
    }

    #[tokio::test]
    async fn the_inline_hasher_reports_a_malformed_digest_as_an_error() {
        let stored = StoredPassword { algorithm: PasswordAlgorithm::Bcrypt, digest: "not bcrypt".to_owned() };

        let outcome = InlinePasswordHasher.verify(&PlainPassword::new("x"), &stored).await;

        assert!(matches!(outcome, Err(PasswordError::MalformedDigest { algorithm: PasswordAlgorithm::Bcrypt, .. })));
    }

    #[tokio::test]
    async fn the_port_can_be_mocked() {
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify().returning(|_, _| Ok(PasswordCheck::Mismatch));
        let hasher: &dyn PasswordHasher = &hasher;

        assert_eq!(hasher.verify(&PlainPassword::new("x"), &sha256_of("y")).await, Ok(PasswordCheck::Mismatch));
    }

    #[cfg(feature = "tokio")]
    mod blocking_pool {
        use std::future::Future;
        use std::pin::pin;
        use std::sync::Arc;
        use std::task::{Context, Poll, Waker};

        use super::*;

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_blocking_pool_hasher_hashes_and_verifies() {
            let hasher = BlockingPoolHasher::new(2);
            let password = PlainPassword::new("Tr0ub4dor&3");

            let stored = hasher.hash(&password).await.unwrap();

            assert_eq!(hasher.verify(&password, &stored).await, Ok(PasswordCheck::Match { needs_rehash: false }));
            assert_eq!(hasher.verify(&PlainPassword::new("nope"), &stored).await, Ok(PasswordCheck::Mismatch));
            assert_eq!(
                hasher.verify(&PlainPassword::new("imported secret"), &sha256_of("imported secret")).await,
                Ok(PasswordCheck::Match { needs_rehash: true })
            );
            hasher.dummy_verify(&password).await;
            // Every permit came back.
            assert_eq!(hasher.semaphore().available_permits(), 2);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_verifications_all_complete_under_a_limit_of_one() {
            let hasher = BlockingPoolHasher::new(1);
            let password = PlainPassword::new("Tr0ub4dor&3");
            let stored = hasher.hash(&password).await.unwrap();

            let checks = (0..4).map(|_| {
                let (hasher, password, stored) = (hasher.clone(), password.clone(), stored.clone());
                tokio::spawn(async move { hasher.verify(&password, &stored).await })
            });
            for check in checks.collect::<Vec<_>>() {
                assert_eq!(check.await.unwrap(), Ok(PasswordCheck::Match { needs_rehash: false }));
            }
        }

        #[tokio::test]
        async fn a_hash_waits_while_every_permit_is_taken() {
            let hasher = BlockingPoolHasher::new(1);
            let held = Arc::clone(hasher.semaphore()).acquire_owned().await.unwrap();
            let password = PlainPassword::new("waiting");
            let mut hashing = pin!(hasher.hash(&password));

            let first_poll = hashing.as_mut().poll(&mut Context::from_waker(Waker::noop()));

            assert!(first_poll.is_pending(), "the hash started without a permit");
            drop(held);
            assert!(hashing.await.is_ok());
        }

        #[test]
        fn the_limit_is_at_least_one_and_defaults_to_the_cpu_count() {
            assert_eq!(BlockingPoolHasher::new(0).limit(), 1);
            assert_eq!(BlockingPoolHasher::new(3).limit(), 3);
            let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
            assert_eq!(BlockingPoolHasher::default().limit(), cpus);
        }

        #[tokio::test]
        async fn a_pending_hash_that_is_dropped_gives_its_turn_back() {
            let hasher = BlockingPoolHasher::new(1);
            let held = Arc::clone(hasher.semaphore()).acquire_owned().await.unwrap();
            {
                let password = PlainPassword::new("abandoned");
                let mut abandoned = pin!(hasher.hash(&password));
                assert!(matches!(abandoned.as_mut().poll(&mut Context::from_waker(Waker::noop())), Poll::Pending));
            }
            drop(held);

            assert_eq!(hasher.semaphore().available_permits(), 1);
        }
    }
}
