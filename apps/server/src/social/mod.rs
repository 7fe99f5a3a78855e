//! The social connectors (the domain's `SocialConnector` port), one per entry of the `social_connectors` setting:
//! each is the generic OAuth 2.0 / OpenID Connect connector of [`oidc`], pointed at the entry's issuer. See
//! docs/connectors.md.

mod oidc;

use std::sync::Arc;

use latchkey_domain::social::{SocialConnector, SocialConnectors};
use thiserror::Error;

pub use self::oidc::OidcConnector;
use crate::settings::Settings;

/// Why a configured social connector could not be built. One line, naming the connector.
#[derive(Debug, Error)]
#[error("invalid social connector `{connector_id}`: {reason}")]
pub struct SocialSetupError {
    pub connector_id: String,
    pub reason: String,
}

/// The connectors the settings configure, by connector id. Providers are not contacted here: each connector
/// discovers its issuer on first use, so that a provider down at start does not keep the server from starting.
pub fn from_settings(settings: &Settings) -> Result<SocialConnectors, SocialSetupError> {
    let connectors = settings.social_connectors.iter().map(|(connector_id, connector)| {
        let built = OidcConnector::new(connector)
            .map_err(|reason| SocialSetupError { connector_id: connector_id.clone(), reason })?;
        Ok((connector_id.clone(), Arc::new(built) as Arc<dyn SocialConnector>))
    });
    Ok(SocialConnectors::new(connectors.collect::<Result<Vec<_>, SocialSetupError>>()?))
}
