//! The `latchkey` binary: parse the command line, load settings, start logging, run the chosen command. Any
//! start-up failure is one line on stderr (`latchkey: <message>`) and exit code 1.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use latchkey_server::settings::Settings;
use latchkey_server::telemetry::LogOutput;
use latchkey_server::{Application, StartupError, app, telemetry};

use crate::cli::{AppCommand, Cli, Command};

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
    let command = cli.command.unwrap_or(Command::Serve);
    let log_output = match command {
        Command::Serve | Command::Migrate => LogOutput::Stdout,
        Command::App { .. } => LogOutput::Stderr,
    };
    telemetry::init(settings.log_format, &settings.log, log_output)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(StartupError::Runtime)?;
    runtime.block_on(async {
        match command {
            Command::Serve => Application::build(&settings).await?.run_until_stopped().await,
            Command::Migrate => app::migrate(&settings).await,
            Command::App { command: AppCommand::CreateM2m { name } } => {
                let credentials = app::create_management_app(&settings, &name).await?;
                // The one place this secret is shown: plain `key: value` lines for people and scripts.
                println!("client_id: {}", credentials.client_id);
                println!("client_secret: {}", credentials.client_secret.expose());
                Ok(())
            }
        }
    })
}
