//! The HTTP webhook connector (Logto's HTTP email/SMS connectors): each message is `POST`ed as JSON
//! `{"to", "type", "channel", "payload": {"code", "locale"?}}` to the configured URL, with an optional
//! `Authorization` header value, under a timeout. Any 2xx answer is a delivery.

use std::time::Duration;

use async_trait::async_trait;
use latchkey_domain::verification_code::{CodeMessage, ConnectorError, MessageConnector};
use serde::Serialize;
use url::Url;

use super::ConnectorSetupError;
use crate::settings::{SecretSetting, Settings};

/// POSTs messages to a webhook.
#[derive(Clone)]
pub struct HttpConnector {
    client: reqwest::Client,
    url: Url,
    authorization: Option<SecretSetting>,
}

impl std::fmt::Debug for HttpConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConnector").field("url", &self.url.as_str()).finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Body<'a> {
    to: &'a str,
    #[serde(rename = "type")]
    template: &'a str,
    channel: &'a str,
    payload: Payload<'a>,
}

#[derive(Serialize)]
struct Payload<'a> {
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<&'a str>,
}

impl HttpConnector {
    pub fn new(url: Url, authorization: Option<SecretSetting>, timeout: Duration) -> Result<Self, ConnectorSetupError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            // A webhook answers itself; following redirects could send codes somewhere unexpected.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| ConnectorSetupError::Http(error.to_string()))?;
        Ok(Self { client, url, authorization })
    }

    pub fn from_settings(settings: &Settings) -> Result<Self, ConnectorSetupError> {
        let url = settings
            .http_connector_url
            .clone()
            .ok_or_else(|| ConnectorSetupError::Http("http_connector_url is required".to_owned()))?;
        Self::new(
            url,
            settings.http_connector_authorization.clone(),
            Duration::from_secs(settings.http_connector_timeout_secs),
        )
    }
}

#[async_trait]
impl MessageConnector for HttpConnector {
    async fn send(&self, message: &CodeMessage) -> Result<(), ConnectorError> {
        let body = Body {
            to: message.to.address(),
            template: message.purpose.as_str(),
            channel: super::channel(&message.to),
            payload: Payload { code: &message.code, locale: message.locale.as_deref() },
        };
        let mut request = self.client.post(self.url.clone()).json(&body);
        if let Some(authorization) = &self.authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization.expose());
        }
        // `without_url`: the error text goes to logs, and a webhook URL may carry a token in its query.
        let response =
            request.send().await.map_err(|error| ConnectorError(format!("webhook: {}", error.without_url())))?;
        let status = response.status();
        if status.is_success() { Ok(()) } else { Err(ConnectorError(format!("webhook answered {status}"))) }
    }
}
