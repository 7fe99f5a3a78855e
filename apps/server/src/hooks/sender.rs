//! Posts webhook deliveries with reqwest, to checked addresses only: the client resolves host names through
//! [`CheckedResolver`], which drops every address the [`TargetPolicy`] refuses, so a name that resolves to an
//! internal address (or is re-pointed at one between two deliveries) is never connected to. Literal IP hosts skip
//! DNS and are checked before the request. Redirects are not followed and proxies from the environment are not
//! used, since either would send the request somewhere unchecked.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use latchkey_domain::hook::delivery::MAX_KEPT_RESPONSE_BYTES;
use latchkey_domain::hook::target::TargetPolicy;
use latchkey_domain::service::{SendError, WebhookRequest, WebhookResponse, WebhookSender};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Why an address was not connected to; found again in the error chain to tell a refusal from a network failure.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to addresses webhooks may not reach")]
struct RefusedTarget {
    host: String,
}

/// System DNS, less the addresses the policy refuses.
struct CheckedResolver {
    policy: Arc<TargetPolicy>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = resolved.filter(|address| policy.allows(address.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(RefusedTarget { host }) as Box<dyn StdError + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The server's [`WebhookSender`].
#[derive(Clone)]
pub struct ReqwestWebhookSender {
    client: reqwest::Client,
    policy: Arc<TargetPolicy>,
}

impl std::fmt::Debug for ReqwestWebhookSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReqwestWebhookSender").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl ReqwestWebhookSender {
    pub fn new(policy: TargetPolicy, timeout: Duration) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver { policy: Arc::clone(&policy) }))
            .build()?;
        Ok(Self { client, policy })
    }

    fn check_literal_host(&self, url: &Url) -> Result<(), SendError> {
        let literal = match url.host() {
            Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Some(Host::Domain(_)) => None,
            None => return Err(SendError::RefusedTarget("the URL has no host".to_owned())),
        };
        match literal {
            Some(address) if !self.policy.allows(address) => {
                Err(SendError::RefusedTarget(format!("{address} is an address webhooks may not reach")))
            }
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl WebhookSender for ReqwestWebhookSender {
    async fn post(&self, request: &WebhookRequest) -> Result<WebhookResponse, SendError> {
        let url = Url::parse(&request.url).map_err(|_| SendError::RefusedTarget("the URL is invalid".to_owned()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SendError::RefusedTarget("only http and https URLs are delivered to".to_owned()));
        }
        self.check_literal_host(&url)?;
        let mut builder = self.client.post(url).body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let mut response = builder.send().await.map_err(describe)?;
        let status = response.status().as_u16();
        // Only the start of the answer is kept; the rest is not even read.
        let mut kept = Vec::new();
        while kept.len() < MAX_KEPT_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        kept.truncate(MAX_KEPT_RESPONSE_BYTES);
        Ok(WebhookResponse { status, body: String::from_utf8_lossy(&kept).into_owned() })
    }
}

/// A refused address anywhere in the error's causes is a refusal; anything else is a transport failure, described
/// without the URL (which may carry a token in its query).
fn describe(error: reqwest::Error) -> SendError {
    let mut source: Option<&(dyn StdError + 'static)> = Some(&error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<RefusedTarget>() {
            return SendError::RefusedTarget(refused.to_string());
        }
        source = cause.source();
    }
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    SendError::Transport(kind.to_owned())
}

#[cfg(test)]
mod tests {
    use latchkey_domain::hook::target::AddressRange;

    use super::*;

    fn request(url: &str) -> WebhookRequest {
        WebhookRequest { url: url.to_owned(), headers: Vec::new(), body: "{}".to_owned() }
    }

    fn sender(allowed: &[&str]) -> ReqwestWebhookSender {
        let policy =
            TargetPolicy { allowed_internal: allowed.iter().map(|cidr| AddressRange::parse(cidr).unwrap()).collect() };
        ReqwestWebhookSender::new(policy, Duration::from_secs(2)).unwrap()
    }

    #[tokio::test]
    async fn internal_literal_addresses_are_refused_without_a_connection() {
        for url in
            ["http://127.0.0.1:9/", "http://[::1]:9/", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/"]
        {
            let error = sender(&[]).post(&request(url)).await.unwrap_err();
            assert!(matches!(error, SendError::RefusedTarget(_)), "{url}: {error:?}");
        }
    }

    #[tokio::test]
    async fn names_resolving_to_internal_addresses_are_refused_by_the_resolver() {
        // `localhost` resolves to loopback only.
        let error = sender(&[]).post(&request("http://localhost:9/")).await.unwrap_err();
        assert!(matches!(error, SendError::RefusedTarget(_)), "{error:?}");
    }

    #[tokio::test]
    async fn an_allowed_range_is_reached() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let receiver = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = vec![0; 4096];
            let _ = socket.read(&mut buffer).await.unwrap();
            socket
                .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await
                .unwrap();
        });
        let response = sender(&["127.0.0.0/8"]).post(&request(&format!("http://localhost:{port}/"))).await;
        receiver.await.unwrap();
        assert_eq!(response, Ok(WebhookResponse { status: 202, body: "ok".into() }));
    }
}
