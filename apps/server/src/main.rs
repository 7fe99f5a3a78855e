//! The `latchkey` binary: parse the command line, load settings, start logging, run the chosen command. Any
//! start-up failure is one line on stderr (`latchkey: <message>`) and exit code 1.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use latchkey_server::operator::{self, NewUserArgs, OperatorError, UserAction};
use latchkey_server::settings::Settings;
use latchkey_server::telemetry::LogOutput;
use latchkey_server::{Application, app, telemetry};

use crate::cli::{AppCommand, Cli, Command, UserCommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

fn run(cli: Cli) -> Result<(), OperatorError> {
    let settings = Settings::load(cli.config.as_deref()).map_err(latchkey_server::StartupError::from)?;
    let command = cli.command.unwrap_or(Command::Serve);
    let log_output = match command {
        Command::Serve | Command::Migrate => LogOutput::Stdout,
        Command::App { .. } | Command::User { .. } => LogOutput::Stderr,
    };
    telemetry::init(settings.log_format, &settings.log, log_output).map_err(latchkey_server::StartupError::from)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(latchkey_server::StartupError::Runtime)?;
    runtime.block_on(async {
        match command {
            Command::Serve => Ok(Application::build(&settings).await?.run_until_stopped().await?),
            Command::Migrate => Ok(app::migrate(&settings).await?),
            Command::App { command: AppCommand::List { json } } => operator::list_apps(&settings, json).await,
            Command::User { json, command } => operator::run_user(&settings, user_action(command), json).await,
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

fn user_action(command: UserCommand) -> UserAction {
    match command {
        UserCommand::Create { username, email, phone, name, password_stdin } => {
            UserAction::Create(NewUserArgs { username, email, phone, name, password_from_stdin: password_stdin })
        }
        UserCommand::List { search, page, page_size } => UserAction::List { search, page, page_size },
        UserCommand::Show { id } => UserAction::Show(id),
        UserCommand::Suspend { id } => UserAction::Suspend(id),
        UserCommand::Unsuspend { id } => UserAction::Unsuspend(id),
        UserCommand::Delete { id } => UserAction::Delete(id),
        UserCommand::Restore { id } => UserAction::Restore(id),
        UserCommand::SetPassword { id } => UserAction::SetPassword(id),
    }
}
