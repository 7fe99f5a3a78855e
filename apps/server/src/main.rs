//! The `latchkey` binary: parse the command line, load settings, start logging, run the chosen command. Any
//! start-up failure is one line on stderr (`latchkey: <message>`) and exit code 1.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use latchkey_server::settings::Settings;
use latchkey_server::{Application, StartupError, app, telemetry};

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, whatever the underlying errors put in their messages.
            let message = error.to_string().lines().map(str::trim).collect::<Vec<_>>().join(" ");
            eprintln!("latchkey: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), StartupError> {
    let settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(settings.log_format, &settings.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(StartupError::Runtime)?;
    runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => Application::build(&settings).await?.run_until_stopped().await,
            Command::Migrate => app::migrate(&settings).await,
        }
    })
}
