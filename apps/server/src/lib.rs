//! # latchkey-server
//!
//! The composition root of Latchkey: the only crate that reads configuration and the environment, owns the data
//! directory and its keys, picks the concrete implementations behind the domain's ports (the sea-orm store, the
//! blocking-pool password hasher, the AES-GCM secret box), mounts the API crates and starts the runtime.
//!
//! **Architecture invariant:** no business rule lives here. Handlers and policies belong to the API crates,
//! rules to `latchkey-domain`, SQL to `latchkey-store`; this crate only wires them.

pub mod account_page;
pub mod app;
pub mod bootstrap;
pub mod connectors;
pub mod cors;
pub mod data_dir;
pub mod database_watch;
pub mod fallback;
pub mod hooks;
pub mod metrics;
pub mod openapi;
pub mod operator;
pub mod readiness;
pub mod request_id;
pub mod settings;
pub mod social;
pub mod telemetry;

pub use app::{AppState, Application, StartupError};
pub use settings::Settings;
