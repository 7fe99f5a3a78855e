//! Hashing of new passwords: argon2id at OWASP's parameters, PHC string output.
//!
//! These functions are synchronous and CPU heavy (about 14 ms each on one core, see docs/benchmarks.md); async
//! callers go through a [`PasswordHasher`](super::PasswordHasher), which keeps them off the async executor.

use std::cell::RefCell;

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::{PasswordAlgorithm, PasswordError, PlainPassword, StoredPassword, import};

/// Argon2 memory cost in KiB (OWASP Password Storage Cheat Sheet: m=19 MiB, t=2, p=1).
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
/// Argon2 passes over memory.
pub const ARGON2_ITERATIONS: u32 = 2;
/// Argon2 lanes.
pub const ARGON2_PARALLELISM: u32 = 1;
/// Length of the derived hash in bytes.
pub const ARGON2_OUTPUT_LEN: usize = 32;
/// Length of the random salt in bytes.
pub const SALT_LEN: usize = 16;

/// An argon2id hash at exactly our parameters, of a random password that was thrown away when the hash was made
/// (argon2-cffi 25.1.0, `argon2.low_level.hash_secret(secrets.token_hex(32).encode(), secrets.token_bytes(16),
/// time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, type=Type.ID)`). No password matches it; verifying
/// against it costs what a real verify costs.
const DUMMY_DIGEST: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$knkzgMt+gadLD2YEJ5vLag$QNH3GviMhAu82VxnUng+7+AjdQ2cfp4VGqlXQDYWbYI";

/// Hashes a password with argon2id at our parameters and a fresh 16-byte random salt.
pub fn hash_password(password: &PlainPassword) -> Result<StoredPassword, PasswordError> {
    // The thread RNG is a CSPRNG seeded from the OS; argon2's own `OsRng` path needs a rand_core feature we don't
    // otherwise pull in.
    let salt_bytes: [u8; SALT_LEN] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|error| PasswordError::Hashing(error.to_string()))?;
    let digest = hasher()
        .hash_password(password.expose().as_bytes(), &salt)
        .map_err(|error| PasswordError::Hashing(error.to_string()))?;
    Ok(StoredPassword { algorithm: PasswordAlgorithm::Argon2id, digest: digest.to_string() })
}

/// Spends the time of one verification against an argon2id hash at our parameters, and throws the answer away.
///
/// Call it when the user is unknown (or a fast imported hash did not match) so that the response takes as long as a
/// real password check and does not reveal which accounts exist.
pub fn dummy_verify(password: &PlainPassword) {
    let dummy = StoredPassword { algorithm: PasswordAlgorithm::Argon2id, digest: DUMMY_DIGEST.to_owned() };
    let outcome = import::verify(password, &dummy);
    // Keeps the optimiser from deciding the unused outcome makes the work removable.
    std::hint::black_box(outcome).ok();
}

/// Whether a parsed argon2 digest was made by [`hash_password`] at today's parameters.
pub(crate) fn is_current(algorithm: Algorithm, version: Version, params: &Params, output_len: usize) -> bool {
    algorithm == Algorithm::Argon2id
        && version == Version::V0x13
        && params.m_cost() == ARGON2_MEMORY_KIB
        && params.t_cost() == ARGON2_ITERATIONS
        && params.p_cost() == ARGON2_PARALLELISM
        && params.keyid().is_empty()
        && params.data().is_empty()
        && output_len == ARGON2_OUTPUT_LEN
}

/// The most argon2 memory, in 1 KiB blocks, a thread keeps between computations: what our parameters need. Bigger
/// imported digests (up to 256 MiB) get memory of their own each time, so that one of them does not pin its memory
/// for the life of the thread.
const MOST_KEPT_BLOCKS: usize = ARGON2_MEMORY_KIB as usize;

thread_local! {
    /// `Some` on a thread that keeps its argon2 memory from one computation to the next.
    static KEPT_MEMORY: RefCell<Option<Vec<Block>>> = const { RefCell::new(None) };
}

/// Makes the calling thread keep the argon2 memory of its verifications (19 MiB at our parameters) for the next one,
/// for as long as the thread lives. New hashes ([`hash_password`]) still allocate theirs: they are rare next to
/// sign-ins, and argon2's own PHC encoding is not worth rewriting for them.
///
/// Meant for threads that do little but hash. argon2 allocates and zeroes all of its memory before each computation;
/// with two verifications at once on two cores, that extra pass over 19 MiB made each pair about a quarter slower
/// (memory bandwidth, not CPU: "Two verifications at once" in docs/benchmarks.md). argon2 writes every block before
/// it reads it, so what a previous computation left behind does not change the result. Leaving it there exposes no
/// more than before: argon2 never cleared its memory on release either.
#[cfg(any(feature = "tokio", test))] // Only `HashingThreads`, behind the `tokio` feature, keeps memory.
pub(crate) fn keep_argon2_memory_on_this_thread() {
    KEPT_MEMORY.with(|kept| {
        kept.borrow_mut().get_or_insert_with(Vec::new);
    });
}

/// Computes an argon2 hash into `out`: in the thread's kept memory when it keeps some and the parameters fit in it,
/// otherwise in memory allocated for this computation.
pub(crate) fn argon2_into(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    KEPT_MEMORY.with(|kept| match kept.borrow_mut().as_mut() {
        Some(memory) if params.block_count() <= MOST_KEPT_BLOCKS => {
            if memory.len() < params.block_count() {
                memory.resize(params.block_count(), Block::default());
            }
            argon2.hash_password_into_with_memory(password, salt, out, memory.as_mut_slice())
        }
        _ => argon2.hash_password_into(password, salt, out),
    })
}

/// How many argon2 memory blocks the calling thread keeps (tests).
#[cfg(test)]
pub(crate) fn kept_argon2_blocks() -> Option<usize> {
    KEPT_MEMORY.with(|kept| kept.borrow().as_ref().map(Vec::len))
}

// Checked at compile time: a parameter outside argon2's limits fails the build, not a request.
const PARAMS: Params =
    match Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM, Some(ARGON2_OUTPUT_LEN)) {
        Ok(params) => params,
        Err(_) => panic!("the OWASP argon2 parameters are outside argon2's limits"),
    };

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::PasswordCheck;

    #[test]
    fn a_new_hash_is_an_argon2id_phc_string_at_owasp_parameters() {
        let stored = hash_password(&PlainPassword::new("Tr0ub4dor&3")).unwrap();

        assert_eq!(stored.algorithm, PasswordAlgorithm::Argon2id);
        assert!(stored.digest.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "unexpected prefix");
        let salt_b64 = stored.digest.split('$').nth(4).unwrap();
        // 16 bytes in unpadded base64.
        assert_eq!(salt_b64.len(), 22);
    }

    #[test]
    fn a_new_hash_verifies_with_its_password_and_needs_no_rehash() {
        let password = PlainPassword::new("Tr0ub4dor&3");
        let stored = hash_password(&password).unwrap();

        assert_eq!(import::verify(&password, &stored).unwrap(), PasswordCheck::Match { needs_rehash: false });
        assert_eq!(import::verify(&PlainPassword::new("tr0ub4dor&3"), &stored).unwrap(), PasswordCheck::Mismatch);
    }

    #[test]
    fn two_hashes_of_the_same_password_use_different_salts() {
        let password = PlainPassword::new("same password");

        assert_ne!(hash_password(&password).unwrap().digest, hash_password(&password).unwrap().digest);
    }

    #[test]
    fn the_dummy_digest_is_at_our_parameters_and_matches_no_common_password() {
        let dummy = StoredPassword { algorithm: PasswordAlgorithm::Argon2id, digest: DUMMY_DIGEST.to_owned() };

        assert!(DUMMY_DIGEST.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(import::validate_digest(&dummy).is_ok());
        for guess in ["", "password", "123456"] {
            assert_eq!(import::verify(&PlainPassword::new(guess), &dummy).unwrap(), PasswordCheck::Mismatch);
        }
        dummy_verify(&PlainPassword::new("anything"));
    }

    #[test]
    fn secrets_are_not_shown_by_debug() {
        let stored = hash_password(&PlainPassword::new("hunter2")).unwrap();

        let printed = format!("{stored:?} {:?}", PlainPassword::new("hunter2"));

        assert!(!printed.contains("hunter2"));
        assert!(!printed.contains("argon2id$"));
    }
}
