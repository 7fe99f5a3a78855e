//! The server's side of the account page (`latchkey-account-page`): the built-in first-party SPA application it
//! signs users in through, made to exist at start, and the page's configuration from the settings.

use latchkey_account_page::{ACCOUNT_PAGE_APP_ID, AccountPageConfig, SocialConnectorLink};
use latchkey_domain::Timestamp;
use latchkey_domain::application::{Application, ApplicationRepository, ApplicationType};
use latchkey_domain::ports::{Conflict, RepoError};
use thiserror::Error;

use crate::settings::Settings;

/// The name of the built-in application, as the Management API lists it.
pub const ACCOUNT_PAGE_APP_NAME: &str = "Account page";

/// Why the account page's application could not be made to exist.
#[derive(Debug, Error)]
#[error("cannot prepare the account page's application: {0}")]
pub struct AccountPageAppError(#[from] RepoError);

/// Makes sure the application [`ACCOUNT_PAGE_APP_ID`] exists, creating it as a first-party `SPA` (a public client:
/// the page runs in the browser and can keep no secret). An application an operator changed is left as it is; one
/// that can no longer sign users in is only warned about, since the rest of the server works without the page.
pub async fn ensure_account_page_app(
    applications: &dyn ApplicationRepository,
    now: Timestamp,
) -> Result<(), AccountPageAppError> {
    if let Some(existing) = applications.find_by_id(ACCOUNT_PAGE_APP_ID).await? {
        warn_unless_usable(&existing);
        return Ok(());
    }
    let application =
        Application::new(ACCOUNT_PAGE_APP_ID.to_owned(), ACCOUNT_PAGE_APP_NAME.to_owned(), ApplicationType::Spa, now);
    match applications.insert(&application).await {
        Ok(()) => {
            tracing::info!(app_id = ACCOUNT_PAGE_APP_ID, "created the account page's application");
            Ok(())
        }
        // Another instance starting on the same database created it between our read and our insert.
        Err(RepoError::Conflict(Conflict::Id)) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// What the page is told at `/account/config.json`: its client id and the configured social connectors.
pub fn page_config(settings: &Settings) -> AccountPageConfig {
    AccountPageConfig {
        client_id: ACCOUNT_PAGE_APP_ID.to_owned(),
        social_connectors: settings
            .social_connectors
            .iter()
            .map(|(id, connector)| SocialConnectorLink { id: id.clone(), target: connector.target.clone() })
            .collect(),
    }
}

/// The sign-in API accepts first-party apps of a user-facing type; anything else leaves the page unable to sign in.
fn warn_unless_usable(application: &Application) {
    let user_facing = matches!(application.app_type, ApplicationType::Spa | ApplicationType::Traditional);
    if application.is_third_party || !user_facing {
        tracing::warn!(
            app_id = ACCOUNT_PAGE_APP_ID,
            app_type = application.app_type.wire_name(),
            third_party = application.is_third_party,
            "the account page's application is not a first-party SPA or Traditional app; the page cannot sign \
             users in until it is (or set account_page = false)"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::settings::{SecretSetting, SocialConnectorSettings};

    #[test]
    fn the_page_config_names_the_built_in_app_and_every_social_connector_by_id_and_target() {
        let connector = |target: &str| SocialConnectorSettings {
            target: target.to_owned(),
            issuer: "https://op.example.com".to_owned(),
            client_id: "id".to_owned(),
            client_secret: SecretSetting::new("secret"),
            scope: "openid".to_owned(),
        };
        let settings = Settings {
            social_connectors: BTreeMap::from([
                ("acme-oidc".to_owned(), connector("acme")),
                ("google".to_owned(), connector("google")),
            ]),
            ..Settings::default()
        };

        let config = serde_json::to_value(page_config(&settings)).unwrap();

        assert_eq!(
            config,
            serde_json::json!({
                "clientId": "account-page",
                "socialConnectors": [{"id": "acme-oidc", "target": "acme"}, {"id": "google", "target": "google"}],
            })
        );
    }
}
