//! The first way in: a `MachineToMachine` app with Management API access, so that an operator can get a token
//! before any app exists. On start, either the operator's configured app (`LATCHKEY_BOOTSTRAP_CLIENT_ID` /
//! `_SECRET`) is made to exist, or, when no app can reach the Management API, one is generated and its secret is
//! handed back once for the caller to print. `latchkey app create-m2m` makes more such apps.
//!
//! Secrets in clear never go through `tracing`: only the caller prints them, on a terminal stream.

use std::fmt;

use latchkey_domain::Timestamp;
use latchkey_domain::application::{Application, ApplicationRepository, ApplicationType, MANAGEMENT_API_ROLE};
use latchkey_domain::ids::{IdGenerator, RandomIds};
use latchkey_domain::ports::{Conflict, Pagination, RepoError};
use latchkey_domain::secrets::OpaqueSecret;
use thiserror::Error;
use url::Url;

/// The fixed id of the generated bootstrap app: two instances starting together on one empty database both try
/// to insert it, and the second insert conflicts instead of creating a second app.
pub const BOOTSTRAP_APP_ID: &str = "bootstrap-m2m";
/// The name of the generated bootstrap app.
pub const BOOTSTRAP_APP_NAME: &str = "Bootstrap M2M app";
/// The name under which a client secret created here is stored.
const SECRET_NAME: &str = "bootstrap";
/// How often a version-checked update is retried when another writer got in between.
const UPDATE_ATTEMPTS: usize = 5;

/// A client id and its secret in clear, to show once. `Debug` hides the secret.
#[derive(Clone)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: OpaqueSecret,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

/// Why the bootstrap app could not be made to exist.
#[derive(Debug, Error)]
pub enum BootstrapError {
    #[error("cannot prepare the bootstrap app: {0}")]
    Repository(#[from] RepoError),
    #[error("bootstrap_client_id `{0}` names an existing application that is not a MachineToMachine app")]
    NotMachineToMachine(String),
    #[error("bootstrap_client_id `{0}` is being changed concurrently; start again")]
    Contended(String),
}

/// With `configured` credentials, makes sure that app exists with Management API access and accepts that secret,
/// and returns `None` (the operator knows the secret). Without, generates the bootstrap app when no application
/// has Management API access yet and returns its credentials, or `None` when there is nothing to show.
pub async fn ensure_management_app(
    applications: &dyn ApplicationRepository,
    configured: Option<(&str, &OpaqueSecret)>,
    now: Timestamp,
) -> Result<Option<Credentials>, BootstrapError> {
    match configured {
        Some((client_id, secret)) => {
            ensure_configured_app(applications, client_id, secret, now).await?;
            Ok(None)
        }
        None => generate_bootstrap_app(applications, now).await,
    }
}

/// Creates a `MachineToMachine` app named `name` with Management API access and a generated secret.
pub async fn create_management_app(
    applications: &dyn ApplicationRepository,
    name: &str,
    now: Timestamp,
) -> Result<Credentials, BootstrapError> {
    let mut application = management_app(RandomIds.entity_id(), name.to_owned(), now);
    let client_secret = application.add_generated_secret(SECRET_NAME.to_owned(), now, None);
    applications.insert(&application).await?;
    Ok(Credentials { client_id: application.id, client_secret })
}

/// The lines printed once on stderr when the bootstrap app was generated: the credentials and how to use them.
pub fn credentials_notice(credentials: &Credentials, endpoint: &Url) -> String {
    let endpoint = endpoint.as_str().trim_end_matches('/');
    let id = &credentials.client_id;
    let secret = credentials.client_secret.expose();
    let lines = [
        "Latchkey created a bootstrap MachineToMachine app with Management API access.".to_owned(),
        "Its secret is shown ONCE, now; store it safely. Later starts print nothing.".to_owned(),
        String::new(),
        format!("  client_id:     {id}"),
        format!("  client_secret: {secret}"),
        String::new(),
        "Get a Management API token with:".to_owned(),
        format!("  curl -u {id}:{secret} -d grant_type=client_credentials \\"),
        format!("    -d resource={endpoint}/api -d scope=all {endpoint}/oidc/token"),
    ];
    let width = lines.iter().map(|line| line.chars().count()).max().unwrap_or(0);
    let border = format!("+{}+", "-".repeat(width + 2));
    let mut notice = format!("{border}\n");
    for line in &lines {
        let padding = width - line.chars().count();
        notice.push_str(&format!("| {line}{} |\n", " ".repeat(padding)));
    }
    notice.push_str(&border);
    notice.push('\n');
    notice
}

fn management_app(id: String, name: String, now: Timestamp) -> Application {
    let mut application = Application::new(id, name, ApplicationType::MachineToMachine, now);
    application.roles.insert(MANAGEMENT_API_ROLE.to_owned());
    application
}

async fn generate_bootstrap_app(
    applications: &dyn ApplicationRepository,
    now: Timestamp,
) -> Result<Option<Credentials>, BootstrapError> {
    if any_management_app(applications).await? {
        return Ok(None);
    }
    let mut application = management_app(BOOTSTRAP_APP_ID.to_owned(), BOOTSTRAP_APP_NAME.to_owned(), now);
    let client_secret = application.add_generated_secret(SECRET_NAME.to_owned(), now, None);
    match applications.insert(&application).await {
        Ok(()) => Ok(Some(Credentials { client_id: application.id, client_secret })),
        // Another instance created it between our check and our insert, and has printed its secret.
        Err(RepoError::Conflict(Conflict::Id)) => {
            if !any_management_app(applications).await? {
                tracing::warn!(
                    app_id = BOOTSTRAP_APP_ID,
                    "no application has Management API access and the bootstrap app id is taken by one without \
                     it; use `latchkey app create-m2m` to make one"
                );
            }
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

/// Whether some application can reach the Management API. The repository has no query by role yet, so this reads
/// the applications page by page; there are few of them, and it runs once per start.
async fn any_management_app(applications: &dyn ApplicationRepository) -> Result<bool, RepoError> {
    let mut page = 1;
    loop {
        let pagination = Pagination { page, page_size: Pagination::MAX_PAGE_SIZE };
        let found = applications.list(pagination).await?;
        if found.items.iter().any(Application::has_management_api_access) {
            return Ok(true);
        }
        if found.items.is_empty() || page * Pagination::MAX_PAGE_SIZE >= found.total {
            return Ok(false);
        }
        page += 1;
    }
}

async fn ensure_configured_app(
    applications: &dyn ApplicationRepository,
    client_id: &str,
    secret: &OpaqueSecret,
    now: Timestamp,
) -> Result<(), BootstrapError> {
    for _ in 0..UPDATE_ATTEMPTS {
        let Some(mut application) = applications.find_by_id(client_id).await? else {
            let mut application = management_app(client_id.to_owned(), BOOTSTRAP_APP_NAME.to_owned(), now);
            application.add_secret(SECRET_NAME.to_owned(), secret, now, None);
            match applications.insert(&application).await {
                Ok(()) => {
                    tracing::info!(app_id = client_id, "created the configured bootstrap app");
                    return Ok(());
                }
                // Another instance inserted it first: check what it wrote on the next pass.
                Err(RepoError::Conflict(Conflict::Id)) => continue,
                Err(error) => return Err(error.into()),
            }
        };
        if application.app_type != ApplicationType::MachineToMachine {
            return Err(BootstrapError::NotMachineToMachine(client_id.to_owned()));
        }
        let knows_secret = application.verify_secret(secret.expose(), now);
        if knows_secret && application.has_management_api_access() {
            return Ok(());
        }
        if !knows_secret {
            application.add_secret(SECRET_NAME.to_owned(), secret, now, None);
        }
        application.roles.insert(MANAGEMENT_API_ROLE.to_owned());
        match applications.update(&application).await {
            Ok(_) => {
                tracing::info!(app_id = client_id, "updated the configured bootstrap app");
                return Ok(());
            }
            // Someone changed (or deleted) the app since we read it: read it again.
            Err(RepoError::Conflict(Conflict::Version) | RepoError::NotFound) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(BootstrapError::Contended(client_id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials { client_id: "bootstrap-m2m".to_owned(), client_secret: OpaqueSecret::new("s3cr3t-value") }
    }

    #[test]
    fn the_notice_is_a_box_with_the_credentials_and_the_token_request() {
        let notice = credentials_notice(&credentials(), &Url::parse("https://auth.example.com/").unwrap());
        let lines: Vec<&str> = notice.lines().collect();
        assert!(lines.first().unwrap().starts_with("+-") && lines.last().unwrap().starts_with("+-"), "{notice}");
        let width = lines[0].chars().count();
        assert!(lines.iter().all(|line| line.chars().count() == width), "{notice}");
        assert!(lines[1..lines.len() - 1].iter().all(|line| line.starts_with("| ") && line.ends_with(" |")));
        assert!(notice.contains("ONCE"), "{notice}");
        assert!(notice.contains("client_id:     bootstrap-m2m"), "{notice}");
        assert!(notice.contains("client_secret: s3cr3t-value"), "{notice}");
        assert!(notice.contains("curl -u bootstrap-m2m:s3cr3t-value -d grant_type=client_credentials"), "{notice}");
        assert!(
            notice
                .contains("-d resource=https://auth.example.com/api -d scope=all https://auth.example.com/oidc/token"),
            "{notice}"
        );
    }

    #[test]
    fn debug_output_of_credentials_hides_the_secret() {
        assert!(!format!("{:?}", credentials()).contains("s3cr3t"));
    }
}
