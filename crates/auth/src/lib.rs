//! # latchkey-auth
//!
//! Biscuit access tokens: root keys with key ids, minting, verification (time from the `Clock`, bounded Datalog
//! evaluation), revocation checks and the `Principal` extractor. The token logic arrives with the tokens issue;
//! today the crate only marks its place in the layering.
//!
//! **Architecture invariant:** depends on `latchkey-domain` only among our crates; the API crates depend on it,
//! never the reverse. It never touches the database directly: revocation state comes through domain ports.
