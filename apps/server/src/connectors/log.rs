//! The development connector: nothing is delivered, the message is written to the log at `warn`, clearly marked,
//! so that a developer (or a test) can read the code. It is the default so that an embedded server works without
//! an email service; production sets `connector` to `smtp` or `http`.

use async_trait::async_trait;
use latchkey_domain::verification_code::{CodeMessage, ConnectorError, MessageConnector};

/// Logs messages instead of sending them.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogConnector;

#[async_trait]
impl MessageConnector for LogConnector {
    async fn send(&self, message: &CodeMessage) -> Result<(), ConnectorError> {
        // Writing the code to the log is this connector's whole purpose; the marker says it is not for production.
        tracing::warn!(
            connector = "development",
            channel = super::channel(&message.to),
            to = message.to.address(),
            purpose = message.purpose.as_str(),
            code = %message.code,
            "development connector: message NOT sent, logged instead"
        );
        Ok(())
    }
}
