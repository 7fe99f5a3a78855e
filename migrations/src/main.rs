//! sea-orm-migration's command line for Latchkey's migrations (`up`, `down`, `status`, `fresh`, `generate NAME`).
//! The database comes from `DATABASE_URL` or `-u`.

use sea_orm_migration::cli;

#[tokio::main]
async fn main() {
    // `generate` and `init` write relative to the working directory; anchor them at this crate so that
    // `cargo run -p latchkey-migrations -- generate NAME` works from the workspace root. Other commands keep the
    // caller's directory, where a relative SQLite path is meant.
    let writes_files = std::env::args().skip(1).any(|arg| arg == "generate" || arg == "init");
    if writes_files && let Err(error) = std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")) {
        eprintln!("cannot enter the migrations crate directory: {error}");
        std::process::exit(1);
    }
    cli::run_cli(latchkey_migrations::Migrator).await;
}
