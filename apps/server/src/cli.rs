//! The command line: `latchkey [--config PATH] [serve]` and `latchkey [--config PATH] migrate`.

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
}
