//! The message connectors that deliver verification codes (the domain's `MessageConnector` port), chosen by the
//! `connector` setting: [`LogConnector`] (development: writes the message to the log, the embedded default),
//! [`SmtpConnector`] (lettre over tokio) and [`HttpConnector`] (POSTs JSON to a webhook, like Logto's HTTP
//! email/SMS connectors). See docs/connectors.md.

mod http;
mod log;
mod smtp;

use std::sync::Arc;

use latchkey_domain::verification_code::{CodeMessage, CodeRecipient, MessageConnector};
use thiserror::Error;

pub use self::http::HttpConnector;
pub use self::log::LogConnector;
pub use self::smtp::SmtpConnector;
use crate::settings::{ConnectorKind, Settings};

/// Why the configured connector could not be built. One line, naming the setting.
#[derive(Debug, Error)]
pub enum ConnectorSetupError {
    #[error("invalid SMTP settings: {0}")]
    Smtp(String),
    #[error("invalid HTTP connector settings: {0}")]
    Http(String),
}

/// The connector the settings choose. Required settings are checked by `Settings::load`.
pub fn from_settings(settings: &Settings) -> Result<Arc<dyn MessageConnector>, ConnectorSetupError> {
    Ok(match settings.connector {
        ConnectorKind::Log => {
            tracing::warn!(
                "development connector: verification codes are written to this log instead of being sent; \
                 set LATCHKEY_CONNECTOR=smtp or http in production"
            );
            Arc::new(LogConnector)
        }
        ConnectorKind::Smtp => Arc::new(SmtpConnector::from_settings(settings)?),
        ConnectorKind::Http => Arc::new(HttpConnector::from_settings(settings)?),
    })
}

/// The wire name of the channel a recipient is reached on (`email` or `sms`).
fn channel(to: &CodeRecipient) -> &'static str {
    match to {
        CodeRecipient::Email(_) => "email",
        CodeRecipient::Phone(_) => "sms",
    }
}

/// The text of a message: one plain sentence, the same for every connector.
fn text(message: &CodeMessage) -> String {
    format!(
        "Your verification code is {}. It expires in {} minutes.",
        message.code,
        latchkey_domain::verification_code::CODE_TTL_SECS / 60
    )
}
