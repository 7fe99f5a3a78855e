//! # latchkey-domain
//!
//! The account domain of Latchkey: users and their identifiers, profile and custom data, passwords (hashing,
//! import of foreign hashes, policy), MFA factors (TOTP, backup codes, WebAuthn credential records), the ports
//! through which the domain reaches storage and the outside world, and the use-case services built on them.
//!
//! **Architecture invariant:** this crate knows nothing about HTTP, SQL or token formats. It depends on none of
//! actix-web, sea-orm, sqlx or biscuit-auth (a test in `tests/dependency_rules.rs` enforces it), so another Rust
//! service can embed it on its own. Time comes from the [`clock::Clock`] port, never from the system inside logic.

pub mod account_center;
pub mod application;
pub mod audit;
pub mod clock;
pub mod credentials_ports;
pub mod hook;
pub mod identifiers;
pub mod ids;
pub mod mfa;
pub mod net;
pub mod passkey;
pub mod password;
pub mod personal_access_token;
pub mod ports;
pub mod role;
pub mod secret_box;
pub mod secrets;
pub mod service;
pub mod session;
pub mod sign_in;
pub mod sign_in_experience;
pub mod social;
pub mod subject_token;
pub mod token;
pub mod user;
pub mod verification_code;
pub mod verification_record;

pub use clock::{Clock, SystemClock, Timestamp};
pub use ids::{IdGenerator, RandomIds, UserId};
pub use ports::{RepoError, UserRepository};
pub use user::User;
