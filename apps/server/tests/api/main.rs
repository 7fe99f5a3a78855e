//! End-to-end tests of the Latchkey server: the real application on 127.0.0.1:0 with a fresh data directory
//! and database per test (SQLite always; PostgreSQL too when `LATCHKEY_TEST_DATABASE_URL` is set), and the real
//! `latchkey` binary for what only a process shows (exit codes, stderr, signals).

mod binary;
mod bootstrap;
mod helpers;
mod jwks;
mod status;
