//! The operator's command line on the same use cases as the Management API, without an HTTP round trip:
//! `latchkey user …` and `latchkey app list`. Changes are written to the audit log as the operator's
//! (`Actor::Operator`, named after `$USER`). Output is a table for people, or with `--json` the API's JSON shapes.

use std::io::BufRead;
use std::time::Duration;

use comfy_table::{ContentArrangement, Table, presets};
use latchkey_domain::application::ApplicationRepository;
use latchkey_domain::audit::{Actor, AuditContext};
use latchkey_domain::identifiers::{Email, Phone, Username};
use latchkey_domain::password::PlainPassword;
use latchkey_domain::ports::{AnyFieldCondition, Pagination, SearchMode, UserSearch};
use latchkey_domain::service::{AccountError, NewPassword, NewUser, UserAdminService, UserWrite};
use latchkey_domain::{User, UserId, UserRepository};
use latchkey_management_api::users::UserBody;
use latchkey_store::Store;
use serde::Serialize;
use thiserror::Error;

use crate::StartupError;
use crate::app::{self, AppState};
use crate::settings::Settings;

/// A line on stdout. A closed pipe (`latchkey user list | head`) is not an error worth a panic: the rest is dropped.
macro_rules! say {
    ($($argument:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($argument)*);
    }};
}

/// Why an operator command failed; one line for stderr.
#[derive(Debug, Error)]
pub enum OperatorError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Refused(#[from] AccountError),
    #[error("storage failed: {0}")]
    Storage(#[from] latchkey_domain::RepoError),
    #[error("cannot read the password from stdin: {0}")]
    Stdin(std::io::Error),
}

/// The fields `user create` may set.
#[derive(Debug, Default)]
pub struct NewUserArgs {
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    /// Read the password from the first line of stdin (never from the command line, where shells keep it).
    pub password_from_stdin: bool,
}

/// What the operator asked for.
#[derive(Debug)]
pub enum UserAction {
    Create(NewUserArgs),
    List {
        search: Option<String>,
        page: u64,
        page_size: u64,
    },
    Show(String),
    Suspend(String),
    Unsuspend(String),
    Delete(String),
    Restore(String),
    /// The new password is read from stdin.
    SetPassword(String),
}

/// Runs a `latchkey user …` command and prints its result.
pub async fn run_user(settings: &Settings, action: UserAction, json: bool) -> Result<(), OperatorError> {
    let state = AppState::for_operator(settings).await?;
    let retention = Duration::from_secs(settings.deleted_user_retention_days.saturating_mul(24 * 60 * 60));
    let admin = UserAdminService::new(app::account_service(&state), retention);
    let context = operator_context();
    match action {
        UserAction::Create(args) => {
            let user = admin.create(new_user(args)?, &context).await?;
            print_users(&[user], json);
        }
        UserAction::List { search, page, page_size } => {
            let pagination = Pagination::new(page, page_size)
                .ok_or_else(|| OperatorError::Invalid("--page starts at 1; --page-size is 1 to 100".into()))?;
            let any_field = search
                .map(|value| vec![AnyFieldCondition { values: vec![format!("%{value}%")], mode: SearchMode::Like }])
                .unwrap_or_default();
            let found =
                state.store.users().search(&UserSearch { any_field, pagination, ..UserSearch::default() }).await?;
            print_users(&found.items, json);
            if !json {
                say!("{} of {} user(s), page {page}", found.items.len(), found.total);
            }
        }
        UserAction::Show(id) => print_users(&[admin.get(&user_id(&id)?).await?], json),
        UserAction::Suspend(id) => {
            print_users(&[admin.set_suspended(&user_id(&id)?, true, UserWrite::new(&context)).await?], json);
        }
        UserAction::Unsuspend(id) => {
            print_users(&[admin.set_suspended(&user_id(&id)?, false, UserWrite::new(&context)).await?], json);
        }
        UserAction::Delete(id) => {
            admin.delete(&user_id(&id)?, UserWrite::new(&context)).await?;
            say!(
                "deleted {id}; restorable for {} day(s) with `latchkey user restore {id}`",
                settings.deleted_user_retention_days
            );
        }
        UserAction::Restore(id) => print_users(&[admin.restore(&user_id(&id)?, &context).await?], json),
        UserAction::SetPassword(id) => {
            let password = password_from_stdin()?;
            admin.set_password(&user_id(&id)?, &password, UserWrite::new(&context)).await?;
            say!("password set for {id}; the user's sessions have ended");
        }
    }
    Ok(())
}

/// `latchkey app list`.
pub async fn list_apps(settings: &Settings, json: bool) -> Result<(), OperatorError> {
    let state = AppState::for_operator(settings).await?;
    let store: &Store = &state.store;
    let page = store.applications().list(Pagination::new(1, Pagination::MAX_PAGE_SIZE).unwrap_or_default()).await?;
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct AppRow<'a> {
        id: &'a str,
        name: &'a str,
        #[serde(rename = "type")]
        app_type: &'a str,
        management_api_access: bool,
        created_at: i64,
    }
    let rows: Vec<AppRow<'_>> = page
        .items
        .iter()
        .map(|application| AppRow {
            id: &application.id,
            name: &application.name,
            app_type: application.app_type.wire_name(),
            management_api_access: application.has_management_api_access(),
            created_at: application.created_at.as_millis(),
        })
        .collect();
    if json {
        say!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return Ok(());
    }
    let mut table = table(["id", "name", "type", "management API"]);
    for row in &rows {
        table.add_row([row.id, row.name, row.app_type, if row.management_api_access { "yes" } else { "no" }]);
    }
    say!("{table}");
    if page.total > page.items.len() as u64 {
        say!("{} of {} app(s)", page.items.len(), page.total);
    }
    Ok(())
}

fn operator_context() -> AuditContext {
    let name = std::env::var("USER").unwrap_or_else(|_| "operator".to_owned());
    AuditContext::new(Actor::Operator { name }).with_origin(None, Some("latchkey CLI"))
}

fn user_id(id: &str) -> Result<UserId, OperatorError> {
    UserId::parse(id).map_err(|error| OperatorError::Invalid(format!("`{id}`: {error}")))
}

fn new_user(args: NewUserArgs) -> Result<NewUser, OperatorError> {
    let invalid = |what: &str, value: &str| OperatorError::Invalid(format!("`{value}` is not a valid {what}"));
    let password = if args.password_from_stdin { Some(NewPassword::Plain(password_from_stdin()?)) } else { None };
    Ok(NewUser {
        username: args
            .username
            .as_deref()
            .map(|value| Username::parse(value).map_err(|_| invalid("username", value)))
            .transpose()?,
        primary_email: args
            .email
            .as_deref()
            .map(|value| Email::parse(value).map_err(|_| invalid("email", value)))
            .transpose()?,
        primary_phone: args
            .phone
            .as_deref()
            .map(|value| Phone::parse(value).map_err(|_| invalid("phone number", value)))
            .transpose()?,
        name: args.name,
        password,
        ..NewUser::default()
    })
}

fn password_from_stdin() -> Result<PlainPassword, OperatorError> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(OperatorError::Stdin)?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(OperatorError::Invalid("the password on stdin is empty".into()));
    }
    Ok(PlainPassword::new(password.to_owned()))
}

fn print_users(users: &[User], json: bool) {
    if json {
        let bodies: Vec<UserBody> = users.iter().map(UserBody::new).collect();
        let text = if bodies.len() == 1 {
            serde_json::to_string_pretty(&bodies[0])
        } else {
            serde_json::to_string_pretty(&bodies)
        };
        say!("{}", text.unwrap_or_default());
        return;
    }
    let mut table = table(["id", "username", "email", "phone", "name", "suspended"]);
    let text = |value: Option<&str>| value.unwrap_or("-").to_owned();
    for user in users {
        table.add_row([
            user.id.as_str().to_owned(),
            text(user.username.as_ref().map(Username::as_str)),
            text(user.primary_email.as_ref().map(Email::as_str)),
            text(user.primary_phone.as_ref().map(Phone::as_str)),
            text(user.name.as_deref()),
            if user.is_suspended { "yes".to_owned() } else { "no".to_owned() },
        ]);
    }
    say!("{table}");
}

fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_HORIZONTAL_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    table
}
