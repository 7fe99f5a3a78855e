//! The command line: `latchkey [--config PATH] [serve]`, `latchkey migrate`, `latchkey app create-m2m|list` and
//! `latchkey user create|list|show|suspend|unsuspend|delete|restore|set-password` (the operator's commands run the
//! Management API's use cases on the database directly, see `operator.rs`).

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
    /// Manage users on this server's database, as the Management API would (each change is audit-logged as yours).
    User {
        /// Print the Management API's JSON instead of a table.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; with --password-stdin the first line of stdin is the password.
    Create {
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users, newest first; --search matches part of any identifier or the name.
    List {
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 1)]
        page: u64,
        #[arg(long, default_value_t = 20)]
        page_size: u64,
    },
    Show {
        id: String,
    },
    /// Suspend: every session and token of the user ends at once.
    Suspend {
        id: String,
    },
    Unsuspend {
        id: String,
    },
    /// Delete, keeping a tombstone that `restore` brings back during the retention period.
    Delete {
        id: String,
    },
    Restore {
        id: String,
    },
    /// Set the password to the first line of stdin; the user's sessions end.
    SetPassword {
        id: String,
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
    /// List the apps.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
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
    fn user_commands_take_an_id_and_json_anywhere() {
        let cli = Cli::try_parse_from(["latchkey", "user", "suspend", "abcdefghijkl", "--json"]).unwrap();
        let Some(Command::User { json: true, command: UserCommand::Suspend { id } }) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(id, "abcdefghijkl");
        let list = Cli::try_parse_from(["latchkey", "user", "list", "--search", "ada", "--page-size", "5"]).unwrap();
        assert!(matches!(
            list.command,
            Some(Command::User { json: false, command: UserCommand::List { page: 1, page_size: 5, .. } })
        ));
        assert!(Cli::try_parse_from(["latchkey", "user", "show"]).is_err(), "show needs an id");
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
