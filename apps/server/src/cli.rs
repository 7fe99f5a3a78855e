//! The command line: `latchkey [--config PATH] [serve]`, `latchkey [--config PATH] migrate` and
//! `latchkey [--config PATH] app create-m2m --name NAME`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Latchkey: account management compatible with Logto's Account and Management APIs.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, about)]
pub struct Cli {
    /// TOML settings file; `LATCHKEY_*` environment variables override it.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run migrations, then serve HTTP until SIGTERM or SIGINT (the default).
    Serve,
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Manage applications (OAuth clients).
    App {
        #[command(subcommand)]
        command: AppCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Create a MachineToMachine app with Management API access; print its client_id and client_secret (once).
    CreateM2m {
        /// The app's display name.
        #[arg(long)]
        name: String,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_means_serve() {
        let cli = Cli::try_parse_from(["latchkey"]).unwrap();
        assert!(cli.command.is_none());
    }

    #[test]
    fn the_config_flag_is_accepted_before_and_after_the_subcommand() {
        let before = Cli::try_parse_from(["latchkey", "--config", "a.toml", "migrate"]).unwrap();
        let after = Cli::try_parse_from(["latchkey", "migrate", "--config", "a.toml"]).unwrap();
        assert_eq!(before.config, Some(PathBuf::from("a.toml")));
        assert_eq!(after.config, Some(PathBuf::from("a.toml")));
        assert!(matches!(after.command, Some(Command::Migrate)));
    }

    #[test]
    fn app_create_m2m_takes_a_name() {
        let cli = Cli::try_parse_from(["latchkey", "app", "create-m2m", "--name", "CI deployer"]).unwrap();
        let Some(Command::App { command: AppCommand::CreateM2m { name } }) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(name, "CI deployer");
        assert!(Cli::try_parse_from(["latchkey", "app", "create-m2m"]).is_err(), "the name is required");
    }
}
