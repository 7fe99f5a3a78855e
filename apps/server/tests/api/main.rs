//! End-to-end tests of the Latchkey server: the real application on 127.0.0.1:0 with a fresh data directory
//! and database per test (SQLite always; PostgreSQL too when `LATCHKEY_TEST_DATABASE_URL` is set), and the real
//! `latchkey` binary for what only a process shows (exit codes, stderr, signals).

mod account_center;
mod account_changes;
mod account_client;
mod account_mfa;
mod account_page;
mod account_sessions;
mod applications;
mod attacks;
mod binary;
mod bootstrap;
mod client_address;
mod code_sign_in;
mod cors;
mod fallback;
mod faults;
mod harness;
mod helpers;
mod jwks;
mod multi_instance;
mod my_account;
mod openapi;
mod operations;
mod passkeys;
mod personal_access_tokens;
mod refresh;
mod revocation;
mod roles;
mod secrecy;
mod sign_in;
mod sign_in_exp;
mod social_identities;
mod status;
mod subject_tokens;
mod tcp_proxy;
mod token;
mod token_exchange;
mod user_sessions;
mod users;
mod webhooks;
