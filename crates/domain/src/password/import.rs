//! Verification of stored password hashes, including hashes imported from other systems in any of the forms Logto
//! accepts as `passwordAlgorithm` + `passwordDigest`:
//!
//! - `Argon2i`, `Argon2d`, `Argon2id`: a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), version 0x10 or 0x13.
//!   As in Logto, the variant written in the string is the one used.
//! - `Bcrypt`: `$2a$`, `$2b$` or `$2y$` strings.
//! - `MD5`, `SHA1`, `SHA256`: the hex digest of the bare password (either case).
//! - `Legacy`: Logto's JSON string `["<function>", ["<arg>", "@", …], "<hex hash>"]`. `@` stands for the password,
//!   the arguments are concatenated and hashed with the function (md5, sha1, sha224, sha256, sha384, sha512,
//!   sha512-224, sha512-256, under OpenSSL's names). With `pbkdf2` (or `pbkdf2Sync`) the first four arguments are
//!   the salt (`hex:`-prefixed for hex-encoded bytes, else its UTF-8 text), iterations, key length in bytes and the
//!   HMAC digest, and the password is the PBKDF2 input; the arguments must still include `@`, as Logto requires.
//!
//! Every digest is parsed and its cost checked against the bounds below **before** any hashing, so a crafted
//! digest can neither burn the CPU nor exhaust memory. All comparisons of computed and stored hashes run in
//! constant time.

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::Digest;
use subtle::ConstantTimeEq;

use super::{PasswordAlgorithm, PasswordCheck, PasswordError, PlainPassword, StoredPassword, hashing};

// Cost bounds. The guiding rule: one verification of an accepted digest must stay under about one second on one
// core of a modest server, because it runs on the request path (bounded by the hasher's concurrency limit) and a
// sign-in form is open to anyone. Single cold runs on the development machine (2 cores, see docs/benchmarks.md)
// with argon2 0.5.3, bcrypt 0.17.1 and pbkdf2 0.12.2 built with optimisations:
//   argon2id m=19456 t=2 p=1: 25–33 ms (ours; 13 ms warm) | m=65536 t=16: 0.50 s | m=262144 t=4: 0.65–0.88 s
//   bcrypt cost 10: 63 ms | cost 12: 0.21 s | cost 14: 1.06 s (each step doubles)
//   pbkdf2 2,000,000 iterations × one output block: HMAC-SHA1 0.15 s, HMAC-SHA256 0.24 s, HMAC-SHA512 0.68 s

/// Largest argon2 memory cost accepted, in KiB (256 MiB). Argon2 allocates all of it for each verification.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 262_144;
/// Most argon2 passes accepted.
pub const MAX_ARGON2_ITERATIONS: u32 = 16;
/// Most argon2 lanes accepted. The argon2 crate computes the lanes one after another, so lanes add no speed, only
/// the memory floor (8 KiB per lane).
pub const MAX_ARGON2_PARALLELISM: u32 = 8;
/// Largest argon2 memory × passes (KiB × passes) accepted: argon2's time is proportional to it. 1 Gi block-passes
/// takes 0.5–0.9 s here; it admits every published recommendation (OWASP's m=19 MiB t=2 to m=47 MiB t=1, RFC 9106's
/// m=64 MiB t=3, libsodium's "sensitive" m=1 GiB t=4 excepted) while refusing m=256 MiB with t=16, which would
/// take about 3 s.
pub const MAX_ARGON2_WORK: u64 = 1_048_576;
/// Highest bcrypt cost accepted: cost 14 takes about one second, and each further step doubles it.
pub const MAX_BCRYPT_COST: u32 = 14;
/// Most PBKDF2 iterations accepted (well above OWASP's 2023 advice of 600,000 for HMAC-SHA256 and 1,300,000 for
/// HMAC-SHA1).
pub const MAX_PBKDF2_ITERATIONS: u64 = 2_000_000;
/// Longest PBKDF2 key accepted, in bytes. Each output block of the digest's size repeats all the iterations.
pub const MAX_PBKDF2_KEY_LEN: u64 = 256;
/// Largest PBKDF2 work accepted, as iterations × output blocks × the HMAC's relative cost (HMAC-MD5 and HMAC-SHA1
/// 1, SHA-224/256 2, SHA-384/512 5, from the timings above). 10,000,000 units are about 0.75 s here: it admits
/// OWASP's settings with a 32-byte key and Django's 1,000,000 × HMAC-SHA256, and refuses a SHA1 key of 256 bytes
/// at 2,000,000 iterations (13 blocks, about 2 s).
pub const MAX_PBKDF2_WORK: u64 = 10_000_000;

/// Checks `password` against `stored`.
///
/// A match carries `needs_rehash: true` unless the digest is an argon2id hash at exactly our parameters
/// ([`hashing`]), so that the caller stores a fresh [`hashing::hash_password`] hash. Digests that cannot be parsed
/// or whose cost is out of bounds are errors, never a mismatch, and no hashing is done for them.
pub fn verify(password: &PlainPassword, stored: &StoredPassword) -> Result<PasswordCheck, PasswordError> {
    let parsed = parse(stored)?;
    let password_bytes = password.expose().as_bytes();
    let matches = match &parsed {
        ParsedDigest::Argon2(argon2) => argon2.matches(password_bytes)?,
        ParsedDigest::Bcrypt(digest) => bcrypt::verify(password_bytes, digest)
            .map_err(|error| malformed(stored.algorithm, format!("bcrypt refused the digest: {error}")))?,
        ParsedDigest::Plain { function, expected } => ct_equal(&function.digest(password_bytes), expected),
        ParsedDigest::Concatenated { function, args, expected } => {
            let input: Vec<u8> = args
                .iter()
                .flat_map(|arg| if arg == PASSWORD_PLACEHOLDER { password_bytes } else { arg.as_bytes() })
                .copied()
                .collect();
            ct_equal(&function.digest(&input), expected)
        }
        ParsedDigest::Pbkdf2(pbkdf2) => ct_equal(&pbkdf2.derive(password_bytes), &pbkdf2.expected),
    };
    Ok(if matches {
        let needs_rehash = match &parsed {
            ParsedDigest::Argon2(argon2) => !(stored.algorithm == PasswordAlgorithm::Argon2id && argon2.is_current()),
            _ => true,
        };
        PasswordCheck::Match { needs_rehash }
    } else {
        PasswordCheck::Mismatch
    })
}

/// Parses `stored` and checks its cost bounds without hashing anything: the check to run when an administrator
/// imports a digest, so that a digest that could never be verified is refused up front.
pub fn validate_digest(stored: &StoredPassword) -> Result<(), PasswordError> {
    parse(stored).map(|_| ())
}

/// Whether a wrong password is rejected by this algorithm much faster than by an argon2 verification, so that the
/// caller should spend a [`hashing::dummy_verify`] to hide the difference (Logto does the same).
pub fn is_fast(algorithm: PasswordAlgorithm) -> bool {
    matches!(
        algorithm,
        PasswordAlgorithm::Md5 | PasswordAlgorithm::Sha1 | PasswordAlgorithm::Sha256 | PasswordAlgorithm::Legacy
    )
}

const PASSWORD_PLACEHOLDER: &str = "@";

enum ParsedDigest<'a> {
    // Boxed: a parsed PHC string is ten times the size of the other variants.
    Argon2(Box<Argon2Digest<'a>>),
    Bcrypt(&'a str),
    Plain { function: HashFunction, expected: Vec<u8> },
    Concatenated { function: HashFunction, args: Vec<String>, expected: Vec<u8> },
    Pbkdf2(Pbkdf2Digest),
}

fn parse(stored: &StoredPassword) -> Result<ParsedDigest<'_>, PasswordError> {
    let algorithm = stored.algorithm;
    match algorithm {
        PasswordAlgorithm::Argon2i | PasswordAlgorithm::Argon2d | PasswordAlgorithm::Argon2id => {
            Argon2Digest::parse(algorithm, &stored.digest).map(|digest| ParsedDigest::Argon2(Box::new(digest)))
        }
        PasswordAlgorithm::Bcrypt => parse_bcrypt(&stored.digest).map(ParsedDigest::Bcrypt),
        PasswordAlgorithm::Md5 => parse_plain(algorithm, HashFunction::Md5, &stored.digest),
        PasswordAlgorithm::Sha1 => parse_plain(algorithm, HashFunction::Sha1, &stored.digest),
        PasswordAlgorithm::Sha256 => parse_plain(algorithm, HashFunction::Sha256, &stored.digest),
        PasswordAlgorithm::Legacy => parse_legacy(&stored.digest),
    }
}

fn malformed(algorithm: PasswordAlgorithm, reason: impl Into<String>) -> PasswordError {
    // Reasons never quote the digest: it is a secret.
    PasswordError::MalformedDigest { algorithm, reason: reason.into() }
}

fn out_of_bounds(reason: String) -> PasswordError {
    PasswordError::CostOutOfBounds { reason }
}

fn ct_equal(computed: &[u8], expected: &[u8]) -> bool {
    computed.ct_eq(expected).into()
}

fn decode_hex(algorithm: PasswordAlgorithm, hex_digest: &str, expected_len: usize) -> Result<Vec<u8>, PasswordError> {
    let bytes = hex::decode(hex_digest).map_err(|_| malformed(algorithm, "the hash is not hexadecimal"))?;
    if bytes.len() != expected_len {
        return Err(malformed(
            algorithm,
            format!("the hash has {} bytes where {expected_len} were expected", bytes.len()),
        ));
    }
    Ok(bytes)
}

struct Argon2Digest<'a> {
    hash: PasswordHash<'a>,
    algorithm: Algorithm,
    version: Version,
    params: Params,
}

impl<'a> Argon2Digest<'a> {
    fn parse(declared: PasswordAlgorithm, digest: &'a str) -> Result<Self, PasswordError> {
        let hash =
            PasswordHash::new(digest).map_err(|error| malformed(declared, format!("not a PHC string: {error}")))?;
        let algorithm = match hash.algorithm.as_str() {
            "argon2i" => Algorithm::Argon2i,
            "argon2d" => Algorithm::Argon2d,
            "argon2id" => Algorithm::Argon2id,
            _ => return Err(malformed(declared, "not an argon2 PHC string")),
        };
        // The reference encoding omits `v=` for version 0x10, the original one.
        let version = match hash.version {
            None | Some(0x10) => Version::V0x10,
            Some(0x13) => Version::V0x13,
            Some(_) => return Err(malformed(declared, "unknown argon2 version")),
        };
        let cost = |name: &str| {
            hash.params
                .get_decimal(name)
                .ok_or_else(|| malformed(declared, format!("the `{name}` parameter is missing or not a number")))
        };
        let (memory, iterations, parallelism) = (cost("m")?, cost("t")?, cost("p")?);
        check_argon2_bounds(memory, iterations, parallelism)?;

        let salt = hash.salt.ok_or_else(|| malformed(declared, "no salt"))?;
        let mut salt_buffer = [0u8; 64];
        let salt_len =
            salt.decode_b64(&mut salt_buffer).map_err(|_| malformed(declared, "the salt is not base64"))?.len();
        if salt_len < argon2::MIN_SALT_LEN {
            return Err(malformed(declared, format!("the salt is shorter than {} bytes", argon2::MIN_SALT_LEN)));
        }
        if hash.hash.is_none() {
            return Err(malformed(declared, "no hash"));
        }
        let params = Params::try_from(&hash)
            .map_err(|error| malformed(declared, format!("invalid argon2 parameters: {error}")))?;
        Ok(Self { hash, algorithm, version, params })
    }

    fn matches(&self, password: &[u8]) -> Result<bool, PasswordError> {
        let (Some(salt), Some(expected)) = (self.hash.salt, &self.hash.hash) else {
            return Ok(false);
        };
        let mut salt_buffer = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_buffer).map_err(|error| PasswordError::Hashing(error.to_string()))?;
        let mut computed = vec![0u8; expected.len()];
        let argon2 = Argon2::new(self.algorithm, self.version, self.params.clone());
        hashing::argon2_into(&argon2, &self.params, password, salt, &mut computed)
            .map_err(|error| PasswordError::Hashing(error.to_string()))?;
        Ok(ct_equal(&computed, expected.as_bytes()))
    }

    fn is_current(&self) -> bool {
        let output_len = self.hash.hash.map_or(0, |output| output.len());
        hashing::is_current(self.algorithm, self.version, &self.params, output_len)
    }
}

fn check_argon2_bounds(memory: u32, iterations: u32, parallelism: u32) -> Result<(), PasswordError> {
    if memory > MAX_ARGON2_MEMORY_KIB {
        return Err(out_of_bounds(format!("argon2 memory {memory} KiB exceeds {MAX_ARGON2_MEMORY_KIB} KiB")));
    }
    if iterations > MAX_ARGON2_ITERATIONS {
        return Err(out_of_bounds(format!("argon2 passes {iterations} exceed {MAX_ARGON2_ITERATIONS}")));
    }
    if parallelism > MAX_ARGON2_PARALLELISM {
        return Err(out_of_bounds(format!("argon2 lanes {parallelism} exceed {MAX_ARGON2_PARALLELISM}")));
    }
    let work = u64::from(memory) * u64::from(iterations);
    if work > MAX_ARGON2_WORK {
        return Err(out_of_bounds(format!("argon2 memory × passes {work} exceeds {MAX_ARGON2_WORK}")));
    }
    Ok(())
}

fn parse_bcrypt(digest: &str) -> Result<&str, PasswordError> {
    const SALT_AND_HASH_LEN: usize = 53;
    let not_bcrypt = || malformed(PasswordAlgorithm::Bcrypt, "not a $2a$, $2b$ or $2y$ bcrypt string");
    // `$2x$` marks hashes made by a buggy implementation that the bcrypt crate cannot reproduce.
    let rest = ["$2a$", "$2b$", "$2y$"].iter().find_map(|prefix| digest.strip_prefix(prefix)).ok_or_else(not_bcrypt)?;
    let (cost, salt_and_hash) = rest.split_once('$').ok_or_else(not_bcrypt)?;
    let is_bcrypt_base64 = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'/';
    if cost.len() != 2
        || !cost.bytes().all(|byte| byte.is_ascii_digit())
        || salt_and_hash.len() != SALT_AND_HASH_LEN
        || !salt_and_hash.bytes().all(is_bcrypt_base64)
    {
        return Err(not_bcrypt());
    }
    let cost: u32 = cost.parse().map_err(|_| not_bcrypt())?;
    if cost < 4 {
        return Err(malformed(PasswordAlgorithm::Bcrypt, "the bcrypt cost is below 4"));
    }
    if cost > MAX_BCRYPT_COST {
        return Err(out_of_bounds(format!("bcrypt cost {cost} exceeds {MAX_BCRYPT_COST}")));
    }
    Ok(digest)
}

fn parse_plain(
    algorithm: PasswordAlgorithm,
    function: HashFunction,
    digest: &str,
) -> Result<ParsedDigest<'static>, PasswordError> {
    let expected = decode_hex(algorithm, digest, function.output_len())?;
    Ok(ParsedDigest::Plain { function, expected })
}

fn parse_legacy(digest: &str) -> Result<ParsedDigest<'static>, PasswordError> {
    let algorithm = PasswordAlgorithm::Legacy;
    // serde_json's messages may quote the input, so they are not passed on.
    let (name, args, expected): (String, Vec<String>, String) = serde_json::from_str(digest)
        .map_err(|_| malformed(algorithm, "not a JSON array [\"function\", [\"argument\", …], \"hash\"]"))?;
    if !args.iter().any(|arg| arg == PASSWORD_PLACEHOLDER) {
        return Err(malformed(algorithm, "the arguments do not include `@`, the password"));
    }
    if name == "pbkdf2" || name == "pbkdf2Sync" {
        return Pbkdf2Digest::parse(&args, &expected).map(ParsedDigest::Pbkdf2);
    }
    let function = HashFunction::from_openssl_name(&name).ok_or(PasswordError::UnsupportedLegacyAlgorithm(name))?;
    let expected = decode_hex(algorithm, &expected, function.output_len())?;
    Ok(ParsedDigest::Concatenated { function, args, expected })
}

struct Pbkdf2Digest {
    digest: HashFunction,
    salt: Vec<u8>,
    iterations: u32,
    expected: Vec<u8>,
}

impl Pbkdf2Digest {
    fn parse(args: &[String], expected: &str) -> Result<Self, PasswordError> {
        let algorithm = PasswordAlgorithm::Legacy;
        let [salt, iterations, key_len, digest, ..] = args else {
            return Err(malformed(algorithm, "pbkdf2 needs salt, iterations, key length and digest arguments"));
        };
        // Logto would substitute the password there too; a password used as salt or count is a broken import.
        if [salt, iterations, key_len, digest].iter().any(|arg| *arg == PASSWORD_PLACEHOLDER) {
            return Err(malformed(algorithm, "`@` stands where pbkdf2 expects salt, iterations, key length or digest"));
        }
        let salt = match salt.strip_prefix("hex:") {
            Some(hex_salt) => hex::decode(hex_salt).map_err(|_| malformed(algorithm, "the `hex:` salt is not hex"))?,
            None => salt.as_bytes().to_vec(),
        };
        if salt.is_empty() {
            return Err(malformed(algorithm, "the pbkdf2 salt is empty"));
        }
        let iterations = parse_count(iterations, "iterations")?;
        let key_len = parse_count(key_len, "key length")?;
        let digest = HashFunction::from_openssl_name(digest)
            .ok_or_else(|| PasswordError::UnsupportedLegacyAlgorithm(format!("pbkdf2 with {digest}")))?;

        if iterations > MAX_PBKDF2_ITERATIONS {
            return Err(out_of_bounds(format!("pbkdf2 iterations {iterations} exceed {MAX_PBKDF2_ITERATIONS}")));
        }
        if key_len > MAX_PBKDF2_KEY_LEN {
            return Err(out_of_bounds(format!("pbkdf2 key length {key_len} exceeds {MAX_PBKDF2_KEY_LEN} bytes")));
        }
        let blocks = key_len.div_ceil(digest.output_len() as u64);
        let work = iterations * blocks * digest.pbkdf2_weight();
        if work > MAX_PBKDF2_WORK {
            return Err(out_of_bounds(format!("pbkdf2 work {work} exceeds {MAX_PBKDF2_WORK}")));
        }
        // Both bounds were checked just above, so these conversions cannot fail.
        let iterations = u32::try_from(iterations).map_err(|_| out_of_bounds("pbkdf2 iterations".to_owned()))?;
        let key_len = usize::try_from(key_len).map_err(|_| out_of_bounds("pbkdf2 key length".to_owned()))?;
        let expected = decode_hex(algorithm, expected, key_len)?;
        Ok(Self { digest, salt, iterations, expected })
    }

    fn derive(&self, password: &[u8]) -> Vec<u8> {
        let mut key = vec![0u8; self.expected.len()];
        self.digest.pbkdf2(password, &self.salt, self.iterations, &mut key);
        key
    }
}

/// A positive decimal count, as written in a Legacy digest. Counts too large for a u64 are saturated: they are out
/// of bounds either way.
fn parse_count(text: &str, what: &str) -> Result<u64, PasswordError> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(malformed(PasswordAlgorithm::Legacy, format!("the pbkdf2 {what} is not a decimal number")));
    }
    let count = text.parse::<u64>().unwrap_or(u64::MAX);
    if count == 0 {
        return Err(malformed(PasswordAlgorithm::Legacy, format!("the pbkdf2 {what} is zero")));
    }
    Ok(count)
}

/// The hash functions a Legacy digest may name (those of Node's `crypto.createHash` that we carry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HashFunction {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha512_224,
    Sha512_256,
}

impl HashFunction {
    /// OpenSSL's digest names (as Node passes them on), which OpenSSL matches ignoring case.
    fn from_openssl_name(name: &str) -> Option<Self> {
        const NAMES: [(&str, HashFunction); 21] = [
            ("md5", HashFunction::Md5),
            ("sha1", HashFunction::Sha1),
            ("sha-1", HashFunction::Sha1),
            ("sha224", HashFunction::Sha224),
            ("sha-224", HashFunction::Sha224),
            ("sha2-224", HashFunction::Sha224),
            ("sha256", HashFunction::Sha256),
            ("sha-256", HashFunction::Sha256),
            ("sha2-256", HashFunction::Sha256),
            ("sha384", HashFunction::Sha384),
            ("sha-384", HashFunction::Sha384),
            ("sha2-384", HashFunction::Sha384),
            ("sha512", HashFunction::Sha512),
            ("sha-512", HashFunction::Sha512),
            ("sha2-512", HashFunction::Sha512),
            ("sha512-224", HashFunction::Sha512_224),
            ("sha-512/224", HashFunction::Sha512_224),
            ("sha2-512/224", HashFunction::Sha512_224),
            ("sha512-256", HashFunction::Sha512_256),
            ("sha-512/256", HashFunction::Sha512_256),
            ("sha2-512/256", HashFunction::Sha512_256),
        ];
        NAMES.iter().find(|(known, _)| known.eq_ignore_ascii_case(name)).map(|(_, function)| *function)
    }

    const fn output_len(self) -> usize {
        match self {
            HashFunction::Md5 => 16,
            HashFunction::Sha1 => 20,
            HashFunction::Sha224 | HashFunction::Sha512_224 => 28,
            HashFunction::Sha256 | HashFunction::Sha512_256 => 32,
            HashFunction::Sha384 => 48,
            HashFunction::Sha512 => 64,
        }
    }

    /// Relative cost of one HMAC iteration over one output block, HMAC-SHA1 = 1.
    const fn pbkdf2_weight(self) -> u64 {
        match self {
            HashFunction::Md5 | HashFunction::Sha1 => 1,
            HashFunction::Sha224 | HashFunction::Sha256 => 2,
            HashFunction::Sha384 | HashFunction::Sha512 | HashFunction::Sha512_224 | HashFunction::Sha512_256 => 5,
        }
    }

    fn digest(self, input: &[u8]) -> Vec<u8> {
        match self {
            HashFunction::Md5 => md5::Md5::digest(input).to_vec(),
            HashFunction::Sha1 => sha1::Sha1::digest(input).to_vec(),
            HashFunction::Sha224 => sha2::Sha224::digest(input).to_vec(),
            HashFunction::Sha256 => sha2::Sha256::digest(input).to_vec(),
            HashFunction::Sha384 => sha2::Sha384::digest(input).to_vec(),
            HashFunction::Sha512 => sha2::Sha512::digest(input).to_vec(),
            HashFunction::Sha512_224 => sha2::Sha512_224::digest(input).to_vec(),
            HashFunction::Sha512_256 => sha2::Sha512_256::digest(input).to_vec(),
        }
    }

    fn pbkdf2(self, password: &[u8], salt: &[u8], iterations: u32, key: &mut [u8]) {
        match self {
            HashFunction::Md5 => pbkdf2::pbkdf2_hmac::<md5::Md5>(password, salt, iterations, key),
            HashFunction::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, iterations, key),
            HashFunction::Sha224 => pbkdf2::pbkdf2_hmac::<sha2::Sha224>(password, salt, iterations, key),
            HashFunction::Sha256 => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, iterations, key),
            HashFunction::Sha384 => pbkdf2::pbkdf2_hmac::<sha2::Sha384>(password, salt, iterations, key),
            HashFunction::Sha512 => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt, iterations, key),
            HashFunction::Sha512_224 => pbkdf2::pbkdf2_hmac::<sha2::Sha512_224>(password, salt, iterations, key),
            HashFunction::Sha512_256 => pbkdf2::pbkdf2_hmac::<sha2::Sha512_256>(password, salt, iterations, key),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Vectors made with the reference tools (Python 3.11.7, argon2-cffi 25.1.0, bcrypt 5.0.0), password
    //! `correct horse battery staple` unless a test says otherwise:
    //! - argon2: `argon2.low_level.hash_secret(pw, secrets.token_bytes(16), time_cost=t, memory_cost=m,
    //!   parallelism=p, hash_len=32, type=Type.ID|I|D, version=19|16)`
    //! - bcrypt: `bcrypt.hashpw(pw, bcrypt.gensalt(rounds, prefix=b"2b"|b"2a"))`
    //! - hex digests: `hashlib.md5|sha1|sha256|sha512(data).hexdigest()`
    //! - pbkdf2: `hashlib.pbkdf2_hmac(digest, pw, salt, iterations, key_len).hex()`
    //!
    //! The two Legacy vectors with `salt123` and `prefix`/`suffix` are also those of Logto's own tests.

    use super::*;

    const PASSWORD: &str = "correct horse battery staple";
    const ARGON2ID_OURS: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$VkldU0Fvo0fokmdv2xDk9w$TY1ioQac+dT2GdtNdknXFF1rpIZEwH0NWMrPMP03nMs";
    const ARGON2ID_STRONGER: &str =
        "$argon2id$v=19$m=65536,t=3,p=4$zWEXecujIxdWlXILwxsLug$L3VBzRmHP7FRk99UE5x0ZuKW+jJMFSmM2pfyZVg/N2U";
    const ARGON2I_LOGTO: &str =
        "$argon2i$v=19$m=8192,t=8,p=1$Dd7/IH2KEpKqua5dUCsw+Q$omQUg54fJ2l5kasm/jaM+rz6pFGHwFccqT27B3KCW/g";
    const ARGON2D: &str =
        "$argon2d$v=19$m=19456,t=2,p=1$057pCPit95P0H5ItA6DPHA$PR7H4OrdtB6buDoIBsE/50mf5vvotHr6fphO+4i1rNQ";
    const ARGON2ID_V16: &str =
        "$argon2id$v=16$m=19456,t=2,p=1$+uEeOs6wPQ8RVMip7PwGqg$XYRtsgTx/wOHrzKp8EmlcZrDY26oPtHUDWTo/LzsE5c";
    const BCRYPT_2B_10: &str = "$2b$10$V93evtL/lyriKjqNhpQEp.RjN6c2QmJdnufKGb9QfeHFFsPdZe/KK";
    const BCRYPT_2A_4: &str = "$2a$04$iKG3Z0KswenTFHTmvrfiDeEhRc77SsgfZoRQ.dcZQ4PvjwvQIAeMm";
    const MD5: &str = "9cc2ae8a1ba7a93da39b46fc1019c481";
    const SHA1: &str = "abf7aad6438836dbe526aa231abde2d0eef74d42";
    const SHA256: &str = "c4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8a";

    fn stored(algorithm: PasswordAlgorithm, digest: &str) -> StoredPassword {
        StoredPassword { algorithm, digest: digest.to_owned() }
    }

    fn check(password: &str, algorithm: PasswordAlgorithm, digest: &str) -> Result<PasswordCheck, PasswordError> {
        verify(&PlainPassword::new(password), &stored(algorithm, digest))
    }

    const MATCH_REHASH: Result<PasswordCheck, PasswordError> = Ok(PasswordCheck::Match { needs_rehash: true });
    const MISMATCH: Result<PasswordCheck, PasswordError> = Ok(PasswordCheck::Mismatch);

    fn assert_out_of_bounds(algorithm: PasswordAlgorithm, digest: &str) {
        let stored = stored(algorithm, digest);
        assert!(
            matches!(validate_digest(&stored), Err(PasswordError::CostOutOfBounds { .. })),
            "validate_digest accepted {digest}"
        );
        assert!(
            matches!(verify(&PlainPassword::new(PASSWORD), &stored), Err(PasswordError::CostOutOfBounds { .. })),
            "verify accepted {digest}"
        );
    }

    fn assert_malformed(algorithm: PasswordAlgorithm, digest: &str) {
        let stored = stored(algorithm, digest);
        assert!(
            matches!(validate_digest(&stored), Err(PasswordError::MalformedDigest { .. })),
            "validate_digest gave {:?} for {digest}",
            validate_digest(&stored)
        );
        assert!(
            matches!(verify(&PlainPassword::new(PASSWORD), &stored), Err(PasswordError::MalformedDigest { .. })),
            "verify did not refuse {digest}"
        );
    }

    #[test]
    fn argon2id_at_our_parameters_matches_without_rehash() {
        assert_eq!(
            check(PASSWORD, PasswordAlgorithm::Argon2id, ARGON2ID_OURS),
            Ok(PasswordCheck::Match { needs_rehash: false })
        );
        assert_eq!(check("correct horse battery stapl", PasswordAlgorithm::Argon2id, ARGON2ID_OURS), MISMATCH);
    }

    #[test]
    fn argon2id_at_other_parameters_matches_and_asks_for_a_rehash() {
        assert_eq!(check(PASSWORD, PasswordAlgorithm::Argon2id, ARGON2ID_STRONGER), MATCH_REHASH);
        assert_eq!(check("wrong", PasswordAlgorithm::Argon2id, ARGON2ID_STRONGER), MISMATCH);
    }

    #[test]
    fn argon2i_as_logto_makes_it_matches_and_asks_for_a_rehash() {
        assert_eq!(check(PASSWORD, PasswordAlgorithm::Argon2i, ARGON2I_LOGTO), MATCH_REHASH);
        assert_eq!(check("Correct horse battery staple", PasswordAlgorithm::Argon2i, ARGON2I_LOGTO), MISMATCH);
    }

    #[test]
    fn argon2d_matches_and_asks_for_a_rehash() {
        assert_eq!(check(PASSWORD, PasswordAlgorithm::Argon2d, ARGON2D), MATCH_REHASH);
        assert_eq!(check("wrong", PasswordAlgorithm::Argon2d, ARGON2D), MISMATCH);
    }

    #[test]
    fn argon2_version_0x10_matches_with_or_without_the_version_field() {
        assert_eq!(check(PASSWORD, PasswordAlgorithm::Argon2id, ARGON2ID_V16), MATCH_REHASH);
        let without_version = ARGON2ID_V16.replace("v=16$", "");
        assert_eq!(check(PASSWORD, PasswordAlgorithm::Argon2id, &without_version), MATCH_REHASH);
        assert_eq!(check("wrong", PasswordAlgorithm::Argon2id, &without_version), MISMATCH);
    }

    #[test]
    fn a_thread_that_keeps_its_argon2_memory_gets_the_same_answers() {
        use PasswordAlgorithm::{Argon2d, Argon2i, Argon2id};
        const OURS: Result<PasswordCheck, PasswordError> = Ok(PasswordCheck::Match { needs_rehash: false });
        std::thread::spawn(|| {
            hashing::keep_argon2_memory_on_this_thread();
            // Each check starts on what the one before left in the kept memory: other passwords, algorithms,
            // versions and sizes.
            assert_eq!(check(PASSWORD, Argon2id, ARGON2ID_OURS), OURS);
            assert_eq!(hashing::kept_argon2_blocks(), Some(19_456));
            assert_eq!(check("Correct horse battery staple", Argon2i, ARGON2I_LOGTO), MISMATCH);
            assert_eq!(check(PASSWORD, Argon2i, ARGON2I_LOGTO), MATCH_REHASH);
            assert_eq!(check(PASSWORD, Argon2d, ARGON2D), MATCH_REHASH);
            assert_eq!(check(PASSWORD, Argon2id, ARGON2ID_V16), MATCH_REHASH);
            assert_eq!(check("wrong", Argon2id, ARGON2ID_OURS), MISMATCH);
            // 64 MiB is more than a thread keeps: that computation gets memory of its own.
            assert_eq!(check(PASSWORD, Argon2id, ARGON2ID_STRONGER), MATCH_REHASH);
            assert_eq!(hashing::kept_argon2_blocks(), Some(19_456));
            assert_eq!(check(PASSWORD, Argon2id, ARGON2ID_OURS), OURS);
        })
        .join()
        .unwrap();
        // Other threads keep nothing.
        assert_eq!(check(PASSWORD, Argon2id, ARGON2ID_OURS), OURS);
        assert_eq!(hashing::kept_argon2_blocks(), None);
    }

    #[test]
    fn argon2id_at_our_parameters_under_another_label_asks_for_a_rehash() {
        // The label is what gets stored; a rehash fixes it.
        assert_eq!(check(PASSWORD, PasswordAlgorithm::Argon2i, ARGON2ID_OURS), MATCH_REHASH);
    }

    #[test]
    fn argon2_costs_beyond_the_bounds_are_refused_before_hashing() {
        let salt_and_hash = "$c2FsdHNhbHRzYWx0c2FsdA$TY1ioQac+dT2GdtNdknXFF1rpIZEwH0NWMrPMP03nMs";
        for params in ["m=262145,t=1,p=1", "m=65536,t=17,p=1", "m=65536,t=2,p=9", "m=262144,t=5,p=1"] {
            assert_out_of_bounds(PasswordAlgorithm::Argon2id, &format!("$argon2id$v=19${params}{salt_and_hash}"));
        }
        // The largest accepted costs still parse.
        for params in ["m=262144,t=4,p=8", "m=65536,t=16,p=1"] {
            let digest = format!("$argon2id$v=19${params}{salt_and_hash}");
            assert_eq!(validate_digest(&stored(PasswordAlgorithm::Argon2id, &digest)), Ok(()));
        }
    }

    #[test]
    fn malformed_argon2_digests_are_refused() {
        let valid_tail = "$VkldU0Fvo0fokmdv2xDk9w$TY1ioQac+dT2GdtNdknXFF1rpIZEwH0NWMrPMP03nMs";
        for digest in [
            String::new(),
            "argon2id".to_owned(),
            "$argon2id$".to_owned(),
            "$scrypt$ln=16,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".to_owned(),
            format!("$argon2id$v=18$m=19456,t=2,p=1{valid_tail}"),
            format!("$argon2id$v=19$t=2,p=1{valid_tail}"),
            format!("$argon2id$v=19$m=lots,t=2,p=1{valid_tail}"),
            format!("$argon2id$v=19$m=19456,t=2,p=1,x=3{valid_tail}"),
            format!("$argon2id$v=19$m=7,t=2,p=1{valid_tail}"),
            format!("$argon2id$v=19$m=19456,t=0,p=1{valid_tail}"),
            "$argon2id$v=19$m=19456,t=2,p=1$VkldU0Fvo0fokmdv2xDk9w".to_owned(),
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$TY1ioQac+dT2GdtNdknXFF1rpIZEwH0NWMrPMP03nMs".to_owned(),
            format!("{ARGON2ID_OURS}$extra"),
        ] {
            assert_malformed(PasswordAlgorithm::Argon2id, &digest);
        }
    }

    #[test]
    fn bcrypt_2b_2a_and_2y_match_and_ask_for_a_rehash() {
        assert_eq!(check(PASSWORD, PasswordAlgorithm::Bcrypt, BCRYPT_2B_10), MATCH_REHASH);
        assert_eq!(check("wrong", PasswordAlgorithm::Bcrypt, BCRYPT_2B_10), MISMATCH);
        assert_eq!(check(PASSWORD, PasswordAlgorithm::Bcrypt, BCRYPT_2A_4), MATCH_REHASH);
        assert_eq!(check("wrong", PasswordAlgorithm::Bcrypt, BCRYPT_2A_4), MISMATCH);
        // $2y$ (PHP) is the same algorithm as $2b$.
        let two_y = BCRYPT_2B_10.replacen("$2b$", "$2y$", 1);
        assert_eq!(check(PASSWORD, PasswordAlgorithm::Bcrypt, &two_y), MATCH_REHASH);
    }

    #[test]
    fn bcrypt_costs_beyond_the_bounds_are_refused_before_hashing() {
        let salt_and_hash = "V93evtL/lyriKjqNhpQEp.RjN6c2QmJdnufKGb9QfeHFFsPdZe/KK";
        assert_out_of_bounds(PasswordAlgorithm::Bcrypt, &format!("$2b$15${salt_and_hash}"));
        assert_out_of_bounds(PasswordAlgorithm::Bcrypt, &format!("$2b$31${salt_and_hash}"));
        assert_eq!(validate_digest(&stored(PasswordAlgorithm::Bcrypt, &format!("$2b$14${salt_and_hash}"))), Ok(()));
    }

    #[test]
    fn malformed_bcrypt_digests_are_refused() {
        let salt_and_hash = "V93evtL/lyriKjqNhpQEp.RjN6c2QmJdnufKGb9QfeHFFsPdZe/KK";
        for digest in [
            String::new(),
            format!("$2x$10${salt_and_hash}"),
            format!("$2$10${salt_and_hash}"),
            format!("$2b$03${salt_and_hash}"),
            format!("$2b$1${salt_and_hash}"),
            format!("$2b$+1${salt_and_hash}"),
            format!("$2b$10${}", &salt_and_hash[1..]),
            format!("$2b$10${salt_and_hash}x"),
            format!("$2b$10${}", salt_and_hash.replace('/', "+")),
            format!("$$2b$$10$${salt_and_hash}"),
            format!("$2b$10$ü{}", &salt_and_hash[2..]),
        ] {
            assert_malformed(PasswordAlgorithm::Bcrypt, &digest);
        }
    }

    #[test]
    fn bare_hex_digests_match_in_either_case_and_ask_for_a_rehash() {
        for (algorithm, digest) in
            [(PasswordAlgorithm::Md5, MD5), (PasswordAlgorithm::Sha1, SHA1), (PasswordAlgorithm::Sha256, SHA256)]
        {
            assert_eq!(check(PASSWORD, algorithm, digest), MATCH_REHASH, "{algorithm:?}");
            assert_eq!(check(PASSWORD, algorithm, &digest.to_uppercase()), MATCH_REHASH, "{algorithm:?} upper");
            assert_eq!(check("wrong", algorithm, digest), MISMATCH, "{algorithm:?}");
        }
    }

    #[test]
    fn malformed_hex_digests_are_refused() {
        // A SHA1 digest is not a SHA256 one, nor an MD5 one.
        assert_malformed(PasswordAlgorithm::Sha256, SHA1);
        assert_malformed(PasswordAlgorithm::Md5, SHA256);
        assert_malformed(PasswordAlgorithm::Sha1, &SHA1[..39]);
        assert_malformed(PasswordAlgorithm::Sha1, &format!("{}g", &SHA1[..39]));
        assert_malformed(PasswordAlgorithm::Sha256, "");
        assert_malformed(PasswordAlgorithm::Md5, &format!(" {}", &MD5[1..]));
    }

    #[test]
    fn legacy_concatenation_matches_as_logto_computes_it() {
        let salted_sha256 =
            r#"["sha256", ["salt123", "@"], "c465f66c6ac481a7a17e9ed5b4e2e7e7288d892f12bf1c95c140901e9a70436e"]"#;
        assert_eq!(check("password123", PasswordAlgorithm::Legacy, salted_sha256), MATCH_REHASH);
        assert_eq!(check("password124", PasswordAlgorithm::Legacy, salted_sha256), MISMATCH);

        let wrapped_sha1 = r#"["sha1",["prefix","@","suffix"],"1e51b70835fc01a385d43117299e147203d098c6"]"#;
        assert_eq!(check("mypass", PasswordAlgorithm::Legacy, wrapped_sha1), MATCH_REHASH);
        assert_eq!(check("prefixmypasssuffix", PasswordAlgorithm::Legacy, wrapped_sha1), MISMATCH);

        let sha512 = r#"["SHA512", ["s4lt:", "@"], "6ef1a35f10abcfa1afdaaa5fed536a55bab4f26c82603fe82cea8f56efb50efa39228559f8aeb027098effc7acd1084cf5c7f9e8b95302fc0fb3115fff48ad17"]"#;
        assert_eq!(check(PASSWORD, PasswordAlgorithm::Legacy, sha512), MATCH_REHASH);
        assert_eq!(check("wrong", PasswordAlgorithm::Legacy, sha512), MISMATCH);

        let peppered_md5 = r#"["md5", ["@", "pepper"], "0ae3598da678330a09af2845085de5de"]"#;
        assert_eq!(check(PASSWORD, PasswordAlgorithm::Legacy, peppered_md5), MATCH_REHASH);
        assert_eq!(check("wrong", PasswordAlgorithm::Legacy, peppered_md5), MISMATCH);
    }

    #[test]
    fn legacy_pbkdf2_matches_with_hex_and_text_salts() {
        // hashlib.pbkdf2_hmac("sha256", b"Password123!", bytes.fromhex("80ff00414243"), 1000, 32), as in Logto's test.
        let hex_salt = r#"["pbkdf2", ["hex:80ff00414243", "1000", "32", "sha256", "@"], "75d87d232694f0918d8e1ae49bce5f0a665e862da3e23e8b3eddf368db16d2cf"]"#;
        assert_eq!(check("Password123!", PasswordAlgorithm::Legacy, hex_salt), MATCH_REHASH);
        assert_eq!(check("Password123?", PasswordAlgorithm::Legacy, hex_salt), MISMATCH);

        let text_salt = r#"["pbkdf2Sync", ["NaCl-2024", "10000", "64", "sha512", "@"], "c91ed85fd10175c2078262c277e90f70165a847fdcf70b29eb9499f070fdb6994c06ff35b07db5fa15435cea3b83add028ad17ab3fc732072e8fb6c2a4c65bd1"]"#;
        assert_eq!(check(PASSWORD, PasswordAlgorithm::Legacy, text_salt), MATCH_REHASH);
        assert_eq!(check("wrong", PasswordAlgorithm::Legacy, text_salt), MISMATCH);

        // A key longer than one SHA1 block (two blocks).
        let two_blocks = r#"["pbkdf2", ["NaCl", "5000", "40", "sha1", "@"], "d02b10caaeb21aea1864653aa39ffeacf910f8504119ac45202941b1a215b3d555623a578bfb5b86"]"#;
        assert_eq!(check(PASSWORD, PasswordAlgorithm::Legacy, two_blocks), MATCH_REHASH);
        assert_eq!(check("wrong", PasswordAlgorithm::Legacy, two_blocks), MISMATCH);
    }

    #[test]
    fn legacy_pbkdf2_costs_beyond_the_bounds_are_refused_before_hashing() {
        let pbkdf2 = |iterations: &str, key_len: &str, digest: &str| {
            let hash = "ab".repeat(key_len.parse::<usize>().unwrap_or(1).min(512));
            format!(r#"["pbkdf2", ["salt", "{iterations}", "{key_len}", "{digest}", "@"], "{hash}"]"#)
        };
        assert_out_of_bounds(PasswordAlgorithm::Legacy, &pbkdf2("2000001", "32", "sha1"));
        assert_out_of_bounds(PasswordAlgorithm::Legacy, &pbkdf2("99999999999999999999999", "32", "sha1"));
        assert_out_of_bounds(PasswordAlgorithm::Legacy, &pbkdf2("1000", "257", "sha512"));
        // Within each bound, but 13 blocks of SHA1 at 2,000,000 iterations is too much work.
        assert_out_of_bounds(PasswordAlgorithm::Legacy, &pbkdf2("2000000", "256", "sha1"));
        assert_out_of_bounds(PasswordAlgorithm::Legacy, &pbkdf2("2000001", "64", "sha512"));
        for accepted in [pbkdf2("2000000", "64", "sha512"), pbkdf2("1300000", "32", "sha1"), pbkdf2("1", "256", "md5")]
        {
            assert_eq!(validate_digest(&stored(PasswordAlgorithm::Legacy, &accepted)), Ok(()), "{accepted}");
        }
    }

    #[test]
    fn malformed_legacy_digests_are_refused() {
        for digest in [
            "",
            "sha256",
            r#"{"algorithm": "sha256"}"#,
            r#"["sha256", "@", "c465f66c"]"#,
            r#"["sha256", ["salt123"], "c465f66c6ac481a7a17e9ed5b4e2e7e7288d892f12bf1c95c140901e9a70436e"]"#,
            r#"["sha256", ["@"], "c465f66c6ac481a7a17e9ed5b4e2e7e7288d892f12bf1c95c140901e9a70436e", "extra"]"#,
            r#"["sha256", ["@"]]"#,
            r#"["sha256", ["@", 7], "c465f66c6ac481a7a17e9ed5b4e2e7e7288d892f12bf1c95c140901e9a70436e"]"#,
            r#"["sha256", ["@"], "c465f66c"]"#,
            r#"["sha256", ["@"], "not hex at all, not hex at all, not hex at all, not hex at all, x"]"#,
            r#"["pbkdf2", ["hex:zz", "1000", "32", "sha256", "@"], "00"]"#,
            r#"["pbkdf2", ["hex:", "1000", "32", "sha256", "@"], "00"]"#,
            r#"["pbkdf2", ["", "1000", "32", "sha256", "@"], "00"]"#,
            r#"["pbkdf2", ["salt", "1e3", "32", "sha256", "@"], "00"]"#,
            r#"["pbkdf2", ["salt", "0", "32", "sha256", "@"], "00"]"#,
            r#"["pbkdf2", ["salt", "1000", "0", "sha256", "@"], ""]"#,
            r#"["pbkdf2", ["salt", "-1", "32", "sha256", "@"], "00"]"#,
            r#"["pbkdf2", ["salt", "1000", "32", "@"], "00"]"#,
            r#"["pbkdf2", ["@", "1000", "32", "sha256"], "00"]"#,
            r#"["pbkdf2", ["salt", "1000", "4", "sha256", "@"], "0011"]"#,
        ] {
            assert_malformed(PasswordAlgorithm::Legacy, digest);
        }
    }

    #[test]
    fn legacy_functions_we_do_not_carry_are_named_in_the_error() {
        let whirlpool = stored(PasswordAlgorithm::Legacy, r#"["whirlpool", ["@"], "00"]"#);
        assert_eq!(validate_digest(&whirlpool), Err(PasswordError::UnsupportedLegacyAlgorithm("whirlpool".into())));

        let scrypt = stored(PasswordAlgorithm::Legacy, r#"["firebase-scrypt", ["@"], "00"]"#);
        assert!(matches!(verify(&PlainPassword::new("x"), &scrypt), Err(PasswordError::UnsupportedLegacyAlgorithm(_))));

        let pbkdf2_whirlpool =
            stored(PasswordAlgorithm::Legacy, r#"["pbkdf2", ["s", "1", "4", "whirlpool", "@"], "00"]"#);
        assert!(matches!(validate_digest(&pbkdf2_whirlpool), Err(PasswordError::UnsupportedLegacyAlgorithm(_))));
    }

    #[test]
    fn every_openssl_digest_name_we_accept_has_the_right_output_length() {
        for (name, len) in [
            ("md5", 16),
            ("SHA1", 20),
            ("sha-224", 28),
            ("sha2-256", 32),
            ("sha384", 48),
            ("sha512", 64),
            ("sha512-224", 28),
            ("SHA-512/256", 32),
        ] {
            let function = HashFunction::from_openssl_name(name).unwrap();
            assert_eq!(function.output_len(), len, "{name}");
            assert_eq!(function.digest(b"abc").len(), len, "{name}");
        }
    }

    #[test]
    fn errors_do_not_quote_the_digest() {
        let secret_looking = r#"["sha256", ["@"], "SECRETSECRET"]"#;
        let error = validate_digest(&stored(PasswordAlgorithm::Legacy, secret_looking)).unwrap_err();
        assert!(!error.to_string().contains("SECRET"));
        let error = validate_digest(&stored(PasswordAlgorithm::Legacy, r#"["sha256", "SECRET"]"#)).unwrap_err();
        assert!(!error.to_string().contains("SECRET"));
        let error = validate_digest(&stored(PasswordAlgorithm::Bcrypt, "$2b$10$SECRET")).unwrap_err();
        assert!(!error.to_string().contains("SECRET"));
    }

    #[test]
    fn only_the_fast_algorithms_call_for_a_decoy() {
        assert!(is_fast(PasswordAlgorithm::Md5) && is_fast(PasswordAlgorithm::Sha1));
        assert!(is_fast(PasswordAlgorithm::Sha256) && is_fast(PasswordAlgorithm::Legacy));
        assert!(!is_fast(PasswordAlgorithm::Argon2id) && !is_fast(PasswordAlgorithm::Argon2i));
        assert!(!is_fast(PasswordAlgorithm::Argon2d) && !is_fast(PasswordAlgorithm::Bcrypt));
    }
}
