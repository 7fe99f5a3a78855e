//! The SMTP connector (lettre, tokio transport): emails a plain-text message. TLS is `starttls` (the default,
//! port 587), `tls` (implicit TLS, port 465) or `none` (plain text, for a relay on the same host or tests).
//! Phones cannot be reached by email: a message to a phone is refused.

use async_trait::async_trait;
use latchkey_domain::verification_code::{CodeMessage, CodeRecipient, ConnectorError, MessageConnector};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::ConnectorSetupError;
use crate::settings::{Settings, SmtpTls};

/// Sends messages through an SMTP server.
#[derive(Clone)]
pub struct SmtpConnector {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConnector").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl SmtpConnector {
    pub fn from_settings(settings: &Settings) -> Result<Self, ConnectorSetupError> {
        let invalid = |reason: String| ConnectorSetupError::Smtp(reason);
        let host = settings.smtp_host.as_deref().ok_or_else(|| invalid("smtp_host is required".to_owned()))?;
        let from = settings.smtp_from.as_deref().ok_or_else(|| invalid("smtp_from is required".to_owned()))?;
        let from: Mailbox = from.parse().map_err(|error| invalid(format!("smtp_from: {error}")))?;
        let mut builder = match settings.smtp_tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|error| invalid(format!("smtp_host: {error}")))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|error| invalid(format!("smtp_host: {error}")))?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        if let Some(port) = settings.smtp_port {
            builder = builder.port(port);
        }
        if let Some(username) = &settings.smtp_username {
            let password = settings.smtp_password.as_ref().map(|password| password.expose().to_owned());
            builder = builder.credentials(Credentials::new(username.clone(), password.unwrap_or_default()));
        }
        Ok(Self { transport: builder.build(), from })
    }
}

#[async_trait]
impl MessageConnector for SmtpConnector {
    async fn send(&self, message: &CodeMessage) -> Result<(), ConnectorError> {
        let CodeRecipient::Email(email) = &message.to else {
            return Err(ConnectorError("the SMTP connector cannot send to a phone".to_owned()));
        };
        let to: Mailbox = email.as_str().parse().map_err(|error| ConnectorError(format!("recipient: {error}")))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject("Your verification code")
            .header(ContentType::TEXT_PLAIN)
            .body(super::text(message))
            .map_err(|error| ConnectorError(format!("building the email: {error}")))?;
        self.transport.send(email).await.map_err(|error| ConnectorError(format!("SMTP: {error}")))?;
        Ok(())
    }
}
