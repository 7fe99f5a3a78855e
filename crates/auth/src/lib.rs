//! # latchkey-auth
//!
//! Biscuit access tokens: root keys with key ids and their JWK set ([`KeyRing`]), minting ([`mint`]), verification
//! in one function ([`verify`]: signature, expiry from a given time, every holder's attenuation, bounded Datalog
//! evaluation), holder-side attenuation ([`attenuate`]), the revocation port ([`RevocationCheck`]) and the actix
//! extractor that turns `Authorization: Bearer …` into a [`Principal`] or a Logto-shaped 401, and the OAuth token
//! endpoint ([`oidc`]: `POST /oidc/token` with its grants, and `POST /oidc/token/revocation`), and user sessions'
//! tokens with rotating refresh tokens ([`session_tokens`]), shared by the sign-in API and the token endpoint.
//!
//! **Architecture invariant:** depends on `latchkey-domain` only among our crates; the API crates depend on it,
//! never the reverse. It never touches the database directly: revocation state comes through [`RevocationCheck`].
//! Identity is read from the authority block only; facts appended by holders can narrow a token, never widen it.
//! The fact and check vocabulary is documented in `docs/tokens.md`.

pub mod client_ip;
pub mod error_body;
pub mod extractor;
pub mod keys;
pub mod oidc;
pub mod openapi;
pub mod revocation;
pub mod session_tokens;
pub mod token;

pub use client_ip::{TrustedProxies, client_ip};
pub use extractor::{AuthError, TokenVerifier};
pub use keys::{KeyRing, KeyRingError, root_key_id};
pub use revocation::{RevocationCheck, RevocationError};
pub use session_tokens::{IssueError, IssuedTokens, NewSession, SessionTokens, TokenLifetimes};
pub use token::{LIMITS, Operation, Principal, RequestFacts, TargetUser, TokenError, attenuate, mint, verify};
