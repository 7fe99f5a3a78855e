//! Minting and verifying biscuit access tokens. The fact and check vocabulary is documented in `docs/tokens.md`;
//! the names below are that vocabulary and changing one breaks every token in circulation.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use biscuit_auth::builder::{AuthorizerBuilder, BlockBuilder, Fact, Policy, Rule, Term, fact, string};
use biscuit_auth::error::{Format, Logic, Token};
use biscuit_auth::{AuthorizerLimits, Biscuit, PublicKey, UnverifiedBiscuit};
use latchkey_domain::Timestamp;
use latchkey_domain::ids::UserId;
use latchkey_domain::token::{AccessClaims, Audience, Subject};
use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::keys::KeyRing;

/// Why a token was refused. The variants are for logs and tests; callers answer all of them with the same 401.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is not a well-formed Latchkey biscuit")]
    Malformed,
    #[error("the token names a root key that is not (or no longer) in the key ring")]
    UnknownKey,
    #[error("a signature of the token does not verify")]
    InvalidSignature,
    #[error("the token has expired")]
    Expired,
    /// A check of the token (an attenuation block, or the authority block's expiry) or the policy failed.
    #[error("the token does not allow this request: {0}")]
    CheckFailed(String),
    #[error("verifying the token exceeded the evaluation limits")]
    LimitExceeded,
    /// Only from [`attenuate`]: the check is not valid Datalog.
    #[error("invalid attenuation check: {0}")]
    InvalidCheck(String),
    /// Only from [`mint`]: building or signing the token failed.
    #[error("cannot mint the token: {0}")]
    Mint(String),
}

/// What a request asks to do, as facts given to the authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    pub operation: Operation,
    /// The request path, such as `/api/my-account/email`.
    pub path: String,
    /// The user the route acts on, if any.
    pub target_user: Option<TargetUser>,
}

/// Reads change nothing; everything else is a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Read,
    Write,
}

/// The user a route acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetUser {
    /// The route acts on the token's own user (the Account API): `target_user` is derived from the authority's
    /// `user` fact.
    Caller,
    /// The route names a user, such as `/api/users/{userId}`.
    User(String),
}

/// A verified token: its claims, read from the authority block only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub claims: AccessClaims,
    /// How many blocks the token has: 1 as minted, more once attenuated.
    pub blocks: usize,
}

/// Limits on one verification's Datalog evaluation. A minted token produces about a dozen facts and needs one
/// iteration; the slack is for holders' attenuation blocks. Facts and iterations bound the work; the time limit is a
/// backstop against expensive expressions, and is wall-clock time, so it is set far above the ~0.1 ms a verification
/// takes: a thread descheduled on a busy two-core machine must not turn a valid token into a 401.
pub const LIMITS: AuthorizerLimits =
    AuthorizerLimits { max_facts: 1_000, max_iterations: 100, max_time: Duration::from_millis(50) };

/// How many tokens a [`VerifiedTokenCache`] holds by default: enough for the tokens in use on one instance of a
/// small deployment, at about 24 MiB (see the memory note on [`VerifiedTokenCache`]).
pub const CACHED_TOKENS: usize = 2_000;

/// Longer tokens are verified in full on every request and never cached, so that a cache's memory stays bounded
/// whatever holders append: a minted token is 500–750 characters and each attenuation block adds about 200.
pub const MAX_CACHED_TOKEN_LEN: usize = 2_048;

/// Tokens whose signatures and proof have been checked, parsed, keyed by the SHA-256 of the exact token string, for
/// [`verify_cached`].
///
/// Only the work that depends on nothing but the token's bytes and the root key is cached: the signature checks,
/// the proof check and the parse. The authorizer (expiry against the request time, every holder's attenuation checks
/// against this request's facts, the claims read from the authority block) still runs on every request, and
/// revocation is a separate check, so a cache hit never allows a request that [`verify`] would refuse.
///
/// Memory: at most `capacity` entries (S3-FIFO eviction), each holding one parsed token of at most
/// [`MAX_CACHED_TOKEN_LEN`] characters. A parsed biscuit keeps its decoded bytes, blocks and symbol table: measured
/// as process memory growth over 5,000 cached tokens, an entry takes about 12 KiB for a 944-character token and
/// 19 KiB for a 3,824-character one (so about 14 KiB at the length limit). The default cache ([`CACHED_TOKENS`])
/// thus holds at most about 24 MiB of ordinary tokens and about 28 MiB in the worst case.
pub struct VerifiedTokenCache {
    entries: Cache<[u8; 32], CachedToken>,
}

/// One signature-checked token and the root key it was checked against.
#[derive(Clone)]
struct CachedToken {
    biscuit: Arc<Biscuit>,
    root_key_id: u32,
    root_key: PublicKey,
}

/// The authority facts read back into claims. Each is queried `trusting authority`: identity comes from what
/// Latchkey signed, never from a holder's block.
const CLAIM_PREDICATES: [&str; 12] = [
    "user",
    "application",
    "client",
    "audience",
    "resource",
    "scope",
    "session",
    "token_id",
    "actor",
    "pat",
    "issued_at",
    "expires_at",
];

/// The verifier's own Datalog, parsed once instead of on every request.
static PARSED: LazyLock<Parsed> = LazyLock::new(|| {
    let queries = CLAIM_PREDICATES.map(|predicate| {
        let source = format!("found($value) <- {predicate}($value) trusting authority");
        Rule::try_from(source.as_str()).expect("claim queries are valid Datalog")
    });
    Parsed {
        queries,
        caller_is_target: Rule::try_from("target_user($user) <- user($user)").expect("valid Datalog"),
        allow: Policy::try_from("allow if true").expect("valid Datalog"),
    }
});

struct Parsed {
    queries: [Rule; CLAIM_PREDICATES.len()],
    caller_is_target: Rule,
    allow: Policy,
}

impl RequestFacts {
    pub fn new(operation: Operation, path: impl Into<String>) -> Self {
        Self { operation, path: path.into(), target_user: None }
    }

    pub fn acting_on(mut self, target: TargetUser) -> Self {
        self.target_user = Some(target);
        self
    }
}

impl Operation {
    /// GET, HEAD and OPTIONS read; every other method writes.
    pub fn from_method(method: &str) -> Self {
        match method {
            "GET" | "HEAD" | "OPTIONS" => Self::Read,
            _ => Self::Write,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

impl VerifiedTokenCache {
    /// A cache of at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        Self { entries: Cache::new(capacity) }
    }

    /// How many tokens the cache holds now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Default for VerifiedTokenCache {
    fn default() -> Self {
        Self::new(CACHED_TOKENS)
    }
}

impl fmt::Debug for VerifiedTokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedTokenCache")
            .field("len", &self.entries.len())
            .field("capacity", &self.entries.capacity())
            .finish()
    }
}

impl Principal {
    pub fn user_id(&self) -> Option<&UserId> {
        self.claims.user_id()
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.claims.has_scope(scope)
    }
}

/// Signs a token for `claims` with the ring's signing key. Times are carried to the second (rounded down).
pub fn mint(keys: &KeyRing, claims: &AccessClaims) -> Result<String, TokenError> {
    let (root_key_id, key_pair) = keys.signer();
    let mut facts = vec![
        match &claims.subject {
            Subject::User(user) => fact("user", &[string(user.as_str())]),
            Subject::Application(client) => fact("application", &[string(client)]),
        },
        fact("client", &[string(&claims.client_id)]),
        match &claims.audience {
            Audience::Account => fact("audience", &[string("account")]),
            Audience::Resource(indicator) => fact("resource", &[string(indicator)]),
        },
        fact("token_id", &[string(&claims.token_id)]),
        fact("issued_at", &[date(claims.issued_at)]),
        fact("expires_at", &[date(claims.expires_at)]),
    ];
    facts.extend(claims.scopes.iter().map(|scope| fact("scope", &[string(scope)])));
    facts.extend(claims.session_id.iter().map(|session| fact("session", &[string(session)])));
    facts.extend(claims.actor.iter().map(|actor| fact("actor", &[string(actor)])));
    facts.extend(claims.personal_access_token.iter().map(|pat| fact("pat", &[string(pat)])));

    let mut builder = Biscuit::builder().root_key_id(root_key_id);
    for one in facts {
        builder = builder.fact(one).map_err(mint_error)?;
    }
    let expiry = HashMap::from([("expiry".to_owned(), date(claims.expires_at))]);
    builder = builder
        .code_with_params("check if time($time), $time < {expiry};", expiry, HashMap::new())
        .map_err(mint_error)?;
    builder.build(key_pair).and_then(|token| token.to_base64()).map_err(mint_error)
}

/// Verifies `token` for `request` at `now`: signature against the ring, the token's own checks (expiry and every
/// holder's attenuation) under [`LIMITS`], then reads the claims from the authority block.
pub fn verify(keys: &KeyRing, token: &str, request: &RequestFacts, now: Timestamp) -> Result<Principal, TokenError> {
    let biscuit = parse(keys, token)?;
    authorize(&biscuit, request, now)
}

/// [`verify`] with the signature checks and the parse of a token seen before taken from `cache`; everything that
/// depends on the request or the time runs as in [`verify`] (see [`VerifiedTokenCache`]). A token is cached once it
/// has verified for a request, so expired and forged tokens do not take up room.
pub fn verify_cached(
    keys: &KeyRing,
    cache: &VerifiedTokenCache,
    token: &str,
    request: &RequestFacts,
    now: Timestamp,
) -> Result<Principal, TokenError> {
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if let Some(cached) = cache.entries.get(&digest) {
        // The entry is only good against the very key it was checked with: a cache used with another ring, or a kid
        // that is not in this ring, falls through to a full verification (which refuses an unknown key).
        if keys.public_key(cached.root_key_id) == Some(cached.root_key) {
            let verified = authorize(&cached.biscuit, request, now);
            if verified == Err(TokenError::Expired) {
                cache.entries.remove(&digest);
            }
            return verified;
        }
        cache.entries.remove(&digest);
    }

    let biscuit = parse(keys, token)?;
    let principal = authorize(&biscuit, request, now)?;
    if token.len() <= MAX_CACHED_TOKEN_LEN
        && let Some(root_key_id) = biscuit.root_key_id()
        && let Some(root_key) = keys.public_key(root_key_id)
    {
        cache.entries.insert(digest, CachedToken { biscuit: Arc::new(biscuit), root_key_id, root_key });
    }
    Ok(principal)
}

/// The signature-checked parse: every block's signature and the final proof, against the ring's key for the token's
/// root key id.
fn parse(keys: &KeyRing, token: &str) -> Result<Biscuit, TokenError> {
    Biscuit::from_base64(token, |id: Option<u32>| id.and_then(|id| keys.public_key(id)).ok_or(Format::UnknownPublicKey))
        .map_err(parse_error)
}

/// Everything that depends on the request and the time: the token's checks, expiry and the claims.
fn authorize(biscuit: &Biscuit, request: &RequestFacts, now: Timestamp) -> Result<Principal, TokenError> {
    let mut builder = AuthorizerBuilder::new()
        .set_limits(LIMITS)
        .fact(fact("time", &[date(now)]))
        .and_then(|builder| builder.fact(fact("operation", &[string(request.operation.as_str())])))
        .and_then(|builder| builder.fact(fact("path", &[string(&request.path)])))
        .map_err(|_| TokenError::Malformed)?;
    builder = match &request.target_user {
        None => Ok(builder),
        Some(TargetUser::User(user)) => builder.fact(fact("target_user", &[string(user)])),
        // An authorizer rule trusts only the authority block and the authorizer, so a holder's `user` fact cannot
        // make itself the target.
        Some(TargetUser::Caller) => builder.rule(PARSED.caller_is_target.clone()),
    }
    .and_then(|builder| builder.policy(PARSED.allow.clone()))
    .map_err(|_| TokenError::Malformed)?;

    let mut authorizer = builder.build(biscuit).map_err(run_error)?;
    let claims = read_claims(&mut authorizer)?;
    if claims.is_expired_at(now) {
        return Err(TokenError::Expired);
    }
    authorizer.authorize().map_err(run_error)?;
    Ok(Principal { claims, blocks: biscuit.block_count() })
}

/// Most `(` and `!` one check given to [`attenuate`] may hold, counted everywhere in its text (string literals
/// included, so that no quoting can hide any). biscuit's Datalog parser recurses once per parenthesis and per
/// negation with no bound of its own: about 1,500 nested parentheses overflow an 8 MiB main thread and about 350 a
/// 2 MiB spawned one, which aborts the process (found by `fuzz/fuzz_targets/token_attenuation.rs`). Checks people
/// write hold a handful.
pub const MAX_CHECK_NESTING: usize = 64;

/// Appends one block of `checks` (Datalog, such as `check if operation("read")`) to `token`, as any holder can
/// without a key. The result is only as valid as the token it narrows.
pub fn attenuate(token: &str, checks: &[&str]) -> Result<String, TokenError> {
    let parent = UnverifiedBiscuit::from_base64(token).map_err(|_| TokenError::Malformed)?;
    let mut block = BlockBuilder::new();
    for check in checks {
        if check.chars().filter(|character| matches!(character, '(' | '!')).count() > MAX_CHECK_NESTING {
            return Err(TokenError::InvalidCheck(format!("more than {MAX_CHECK_NESTING} `(` and `!`")));
        }
        block = block.check(*check).map_err(|error| TokenError::InvalidCheck(error.to_string()))?;
    }
    parent.append(block).and_then(|token| token.to_base64()).map_err(|_| TokenError::Malformed)
}

fn read_claims(authorizer: &mut biscuit_auth::Authorizer) -> Result<AccessClaims, TokenError> {
    let mut found: HashMap<&str, Vec<Term>> = HashMap::with_capacity(CLAIM_PREDICATES.len());
    for (predicate, query) in CLAIM_PREDICATES.iter().zip(&PARSED.queries) {
        let facts: Vec<Fact> = authorizer.query(query.clone()).map_err(run_error)?;
        let terms = facts.into_iter().filter_map(|fact| fact.predicate.terms.into_iter().next()).collect();
        found.insert(predicate, terms);
    }
    let mut strings = |predicate: &str| -> Result<Vec<String>, TokenError> {
        found
            .remove(predicate)
            .unwrap_or_default()
            .into_iter()
            .map(|term| match term {
                Term::Str(value) => Ok(value),
                _ => Err(TokenError::Malformed),
            })
            .collect()
    };

    let subject = match (one(strings("user")?)?, one(strings("application")?)?) {
        (Some(user), None) => Subject::User(UserId::parse(&user).map_err(|_| TokenError::Malformed)?),
        (None, Some(client)) => Subject::Application(client),
        _ => return Err(TokenError::Malformed),
    };
    let client_id = one(strings("client")?)?.ok_or(TokenError::Malformed)?;
    let audience = match (one(strings("audience")?)?, one(strings("resource")?)?) {
        (Some(account), None) if account == "account" => Audience::Account,
        (None, Some(indicator)) => Audience::Resource(indicator),
        _ => return Err(TokenError::Malformed),
    };
    let mut scopes = strings("scope")?;
    // Datalog facts are a set: order them so that a round trip is deterministic.
    scopes.sort();
    let session_id = one(strings("session")?)?;
    let token_id = one(strings("token_id")?)?.ok_or(TokenError::Malformed)?;
    let actor = one(strings("actor")?)?;
    let personal_access_token = one(strings("pat")?)?;

    let mut date = |predicate: &str| -> Result<Timestamp, TokenError> {
        match found.remove(predicate).unwrap_or_default().as_slice() {
            [Term::Date(secs)] => Ok(Timestamp::from_secs(i64::try_from(*secs).unwrap_or(i64::MAX))),
            _ => Err(TokenError::Malformed),
        }
    };
    let issued_at = date("issued_at")?;
    let expires_at = date("expires_at")?;

    Ok(AccessClaims {
        subject,
        client_id,
        audience,
        scopes,
        session_id,
        token_id,
        issued_at,
        expires_at,
        actor,
        personal_access_token,
    })
}

/// At most one value; a minted token never repeats a single-valued fact.
fn one(mut values: Vec<String>) -> Result<Option<String>, TokenError> {
    match values.len() {
        0 => Ok(None),
        1 => Ok(values.pop()),
        _ => Err(TokenError::Malformed),
    }
}

/// Biscuit dates are whole seconds since the epoch and cannot be negative.
fn date(at: Timestamp) -> Term {
    Term::Date(u64::try_from(at.as_secs()).unwrap_or(0))
}

fn parse_error(error: Token) -> TokenError {
    match error {
        Token::Format(Format::UnknownPublicKey) => TokenError::UnknownKey,
        Token::Format(Format::Signature(_) | Format::SealedSignature) => TokenError::InvalidSignature,
        _ => TokenError::Malformed,
    }
}

fn run_error(error: Token) -> TokenError {
    match error {
        Token::RunLimit(_) => TokenError::LimitExceeded,
        Token::FailedLogic(Logic::Unauthorized { checks, .. } | Logic::NoMatchingPolicy { checks }) => {
            TokenError::CheckFailed(checks.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
        }
        Token::FailedLogic(other) => TokenError::CheckFailed(other.to_string()),
        Token::Execution(expression) => TokenError::CheckFailed(expression.to_string()),
        _ => TokenError::Malformed,
    }
}

fn mint_error(error: Token) -> TokenError {
    TokenError::Mint(error.to_string())
}

#[cfg(test)]
mod tests {
    use biscuit_auth::KeyPair;

    use super::*;

    /// 2027-01-15T08:00:00Z.
    const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

    fn ring() -> KeyRing {
        KeyRing::new([("k1".to_owned(), KeyPair::new())]).unwrap()
    }

    fn token(keys: &KeyRing) -> String {
        let claims = AccessClaims::new(
            Subject::User(UserId::parse("user00000001").unwrap()),
            "first-party-app",
            Audience::Account,
            "token-1",
            NOW,
            NOW.plus_secs(3_600),
        )
        .with_scopes(["openid", "profile"]);
        mint(keys, &claims).unwrap()
    }

    fn my_account(operation: Operation) -> RequestFacts {
        RequestFacts::new(operation, "/api/my-account").acting_on(TargetUser::Caller)
    }

    #[test]
    fn a_cache_hit_yields_the_same_principal_as_a_full_verification() {
        let keys = ring();
        let cache = VerifiedTokenCache::default();
        let token = attenuate(&token(&keys), &[r#"check if operation("read")"#]).unwrap();
        let expected = verify(&keys, &token, &my_account(Operation::Read), NOW).unwrap();
        for _ in 0..2 {
            assert_eq!(verify_cached(&keys, &cache, &token, &my_account(Operation::Read), NOW), Ok(expected.clone()));
            assert_eq!(cache.len(), 1);
        }
    }

    #[test]
    fn a_cached_read_only_token_is_still_refused_on_a_write() {
        let keys = ring();
        let cache = VerifiedTokenCache::default();
        let token = attenuate(&token(&keys), &[r#"check if operation("read")"#]).unwrap();
        verify_cached(&keys, &cache, &token, &my_account(Operation::Read), NOW).unwrap();
        assert_eq!(cache.len(), 1);

        let write = verify_cached(&keys, &cache, &token, &my_account(Operation::Write), NOW);
        assert!(matches!(write, Err(TokenError::CheckFailed(_))), "{write:?}");
        assert_eq!(write, verify(&keys, &token, &my_account(Operation::Write), NOW));
    }

    #[test]
    fn a_cached_token_narrowed_to_a_path_prefix_is_still_refused_elsewhere() {
        let keys = ring();
        let cache = VerifiedTokenCache::default();
        let token = attenuate(&token(&keys), &[r#"check if path($p), $p.starts_with("/api/my-account")"#]).unwrap();
        verify_cached(&keys, &cache, &token, &my_account(Operation::Read), NOW).unwrap();

        let elsewhere = RequestFacts::new(Operation::Read, "/api/users/user00000002")
            .acting_on(TargetUser::User("user00000002".into()));
        let refused = verify_cached(&keys, &cache, &token, &elsewhere, NOW);
        assert!(matches!(refused, Err(TokenError::CheckFailed(_))), "{refused:?}");
    }

    #[test]
    fn a_cached_token_is_refused_once_it_has_expired_and_leaves_the_cache() {
        let keys = ring();
        let cache = VerifiedTokenCache::default();
        let token = token(&keys);
        verify_cached(&keys, &cache, &token, &my_account(Operation::Read), NOW).unwrap();
        assert_eq!(cache.len(), 1);

        let later = verify_cached(&keys, &cache, &token, &my_account(Operation::Read), NOW.plus_secs(3_600));
        assert_eq!(later, Err(TokenError::Expired));
        assert!(cache.is_empty());
    }

    #[test]
    fn a_token_with_a_flipped_character_never_hits_the_originals_entry() {
        let keys = ring();
        let cache = VerifiedTokenCache::default();
        let token = token(&keys);
        verify_cached(&keys, &cache, &token, &my_account(Operation::Read), NOW).unwrap();

        // Every position of the signed bytes: a changed base64 character in the middle changes decoded bytes.
        for position in 0..token.len() - 2 {
            let mut forged = token.clone().into_bytes();
            forged[position] = if forged[position] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(forged).unwrap();
            let refused = verify_cached(&keys, &cache, &forged, &my_account(Operation::Read), NOW);
            assert!(refused.is_err(), "position {position} was accepted");
        }
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_cached_token_never_hits_under_a_ring_without_its_key() {
        let keys = ring();
        let cache = VerifiedTokenCache::default();
        let token = token(&keys);
        verify_cached(&keys, &cache, &token, &my_account(Operation::Read), NOW).unwrap();

        let same_kid_other_key = ring();
        let refused = verify_cached(&same_kid_other_key, &cache, &token, &my_account(Operation::Read), NOW);
        assert_eq!(refused, Err(TokenError::InvalidSignature));

        verify_cached(&keys, &cache, &token, &my_account(Operation::Read), NOW).unwrap();
        let other_kid = KeyRing::new([("k2".to_owned(), KeyPair::new())]).unwrap();
        let refused = verify_cached(&other_kid, &cache, &token, &my_account(Operation::Read), NOW);
        assert_eq!(refused, Err(TokenError::UnknownKey));
    }

    #[test]
    fn refused_and_overlong_tokens_are_not_cached() {
        let keys = ring();
        let cache = VerifiedTokenCache::default();
        let read_only = attenuate(&token(&keys), &[r#"check if operation("read")"#]).unwrap();
        assert!(verify_cached(&keys, &cache, &read_only, &my_account(Operation::Write), NOW).is_err());
        assert!(
            verify_cached(&keys, &cache, &token(&keys), &my_account(Operation::Read), NOW.plus_secs(7_200)).is_err()
        );
        assert!(cache.is_empty());

        let padding = "x".repeat(MAX_CACHED_TOKEN_LEN);
        let overlong = attenuate(&token(&keys), &[&format!(r#"check if operation($op), $op != "{padding}""#)]).unwrap();
        assert!(overlong.len() > MAX_CACHED_TOKEN_LEN);
        verify_cached(&keys, &cache, &overlong, &my_account(Operation::Read), NOW).unwrap();
        assert!(cache.is_empty());
    }

    #[test]
    fn a_deeply_nested_check_is_refused_instead_of_overflowing_the_parsers_stack() {
        // Reproducer from fuzz/fuzz_targets/token_attenuation.rs; 2,000 levels overflow even an 8 MiB main thread.
        let depth = 2_000;
        let nested = format!("check if {}true{}", "(".repeat(depth), ")".repeat(depth));
        let negated = format!("check if {}true", "!".repeat(depth));
        for check in [nested, negated] {
            assert!(matches!(attenuate(&token(&ring()), &[&check]), Err(TokenError::InvalidCheck(_))));
        }

        let at_the_limit = format!("check if {}true{}", "(".repeat(MAX_CHECK_NESTING), ")".repeat(MAX_CHECK_NESTING));
        attenuate(&token(&ring()), &[&at_the_limit]).unwrap();
    }

    #[test]
    fn a_cache_of_capacity_zero_verifies_every_token_in_full() {
        let keys = ring();
        let cache = VerifiedTokenCache::new(0);
        let token = token(&keys);
        for _ in 0..2 {
            verify_cached(&keys, &cache, &token, &my_account(Operation::Read), NOW).unwrap();
            assert!(cache.is_empty());
        }
    }
}
