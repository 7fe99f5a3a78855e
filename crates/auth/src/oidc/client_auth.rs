//! Client authentication for the token and revocation endpoints. Confidential apps (`MachineToMachine`,
//! `Traditional`) prove themselves with a secret, by `client_secret_basic` or `client_secret_post`; public apps
//! (`SPA`, `Native`) cannot keep a secret and send their `client_id` alone (`none`), as in Logto.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_domain::Timestamp;
use latchkey_domain::application::{Application, ApplicationRepository};
use percent_encoding::percent_decode_str;

use super::TokenEndpointError;

/// A client's claimed identity, with its secret if it sent one, and whether it came by HTTP Basic.
pub(crate) struct ClientAuthentication {
    pub(crate) id: String,
    secret: Option<String>,
    pub(crate) basic: bool,
}

impl ClientAuthentication {
    /// Reads the client from the `Authorization` header (Basic) or the form; RFC 6749 §2.3 allows one method per
    /// request.
    pub(crate) fn read(
        authorization: Option<&str>,
        client_id: Option<String>,
        client_secret: Option<String>,
    ) -> Result<Self, TokenEndpointError> {
        let Some(authorization) = authorization else {
            return match client_id {
                Some(id) if !id.is_empty() => Ok(Self { id, secret: client_secret, basic: false }),
                _ => Err(TokenEndpointError::InvalidClient { basic: false }),
            };
        };
        let (scheme, encoded) = authorization.trim().split_once(' ').unwrap_or((authorization, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(TokenEndpointError::InvalidRequest("only Basic client authentication is supported"));
        }
        if client_secret.is_some() {
            return Err(TokenEndpointError::InvalidRequest(
                "client authentication must only be provided using one mechanism",
            ));
        }
        let malformed = || TokenEndpointError::InvalidRequest("invalid authorization header value format");
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
        let (id, secret) = (form_decode(id).ok_or_else(malformed)?, form_decode(secret).ok_or_else(malformed)?);
        if id.is_empty() {
            return Err(malformed());
        }
        if client_id.is_some_and(|form_id| form_id != id) {
            return Err(TokenEndpointError::InvalidRequest(
                "mismatch between client_id in the body and the Authorization header",
            ));
        }
        Ok(Self { id, secret: Some(secret), basic: true })
    }

    /// The application, once its credentials hold: a confidential app's secret verifies (in constant time), a
    /// public app sent none. Unknown client, wrong secret and wrong method get the same `invalid_client`.
    pub(crate) async fn authenticate(
        self,
        applications: &dyn ApplicationRepository,
        now: Timestamp,
    ) -> Result<Application, TokenEndpointError> {
        let application = applications.find_by_id(&self.id).await?;
        let refused = TokenEndpointError::InvalidClient { basic: self.basic };
        let Some(application) = application else { return Err(refused) };
        let authenticated = match (&self.secret, application.app_type.is_confidential()) {
            (Some(secret), true) => application.verify_secret(secret, now),
            (None, false) => true,
            // A confidential client without its secret, or a public client claiming one it cannot have.
            (None, true) | (Some(_), false) => false,
        };
        if authenticated { Ok(application) } else { Err(refused) }
    }
}

/// RFC 6749 §2.3.1: Basic credentials are `application/x-www-form-urlencoded` before base64, so `+` is a space.
fn form_decode(value: &str) -> Option<String> {
    let plus_as_space = value.replace('+', " ");
    percent_decode_str(&plus_as_space).decode_utf8().ok().map(|decoded| decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;
    use latchkey_domain::application::{ApplicationType, MockApplicationRepository};

    use super::*;

    const NOW: Timestamp = Timestamp::from_secs(1_000);

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = basic("my%20app", "a+b%3Ac");
        let client = ClientAuthentication::read(Some(&header), None, None).unwrap();
        assert_eq!((client.id.as_str(), client.secret.as_deref(), client.basic), ("my app", Some("a b:c"), true));
    }

    #[test]
    fn basic_and_post_secrets_together_are_an_invalid_request() {
        let header = basic("app", "secret");
        let error = ClientAuthentication::read(Some(&header), None, Some("secret".to_owned())).err().unwrap();
        assert_eq!(error.wire().1, "invalid_request");
    }

    #[test]
    fn no_client_id_is_an_invalid_client_without_a_challenge() {
        for client_id in [None, Some(String::new())] {
            let error = ClientAuthentication::read(None, client_id, Some("secret".to_owned())).err().unwrap();
            assert!(matches!(error, TokenEndpointError::InvalidClient { basic: false }));
            assert_eq!(error.wire().0, StatusCode::UNAUTHORIZED);
        }
    }

    #[test]
    fn a_basic_header_without_a_colon_is_an_invalid_request() {
        let header = format!("Basic {}", STANDARD.encode("app"));
        let error = ClientAuthentication::read(Some(&header), None, None).err().unwrap();
        assert_eq!(error.wire().1, "invalid_request");
    }

    fn repository(app_type: ApplicationType) -> (MockApplicationRepository, String) {
        let mut application = Application::new("app".to_owned(), "App".to_owned(), app_type, NOW);
        let secret = application.add_generated_secret("default".to_owned(), NOW, None);
        let mut applications = MockApplicationRepository::new();
        applications.expect_find_by_id().returning(move |_| Ok(Some(application.clone())));
        (applications, secret.expose().to_owned())
    }

    async fn authenticate(app_type: ApplicationType, secret: Option<&str>, basic: bool) -> bool {
        let (applications, real_secret) = repository(app_type);
        let secret = secret.map(|secret| if secret == "real" { real_secret.clone() } else { secret.to_owned() });
        let client = ClientAuthentication { id: "app".to_owned(), secret, basic };
        client.authenticate(&applications, NOW).await.is_ok()
    }

    #[tokio::test]
    async fn confidential_apps_need_their_secret_and_public_apps_must_not_send_one() {
        use ApplicationType::{MachineToMachine, Native, Spa, Traditional};
        let cases = [
            (MachineToMachine, Some("real"), true),
            (Traditional, Some("real"), true),
            (Traditional, Some("wrong"), false),
            (Traditional, None, false),
            (Spa, None, true),
            (Native, None, true),
            (Spa, Some("anything"), false),
            (Native, Some(""), false),
        ];
        for (app_type, secret, expected) in cases {
            assert_eq!(authenticate(app_type, secret, false).await, expected, "{app_type:?} with {secret:?}");
        }
    }

    #[tokio::test]
    async fn an_unknown_client_is_refused_with_a_challenge_when_it_used_basic() {
        let mut applications = MockApplicationRepository::new();
        applications.expect_find_by_id().returning(|_| Ok(None));
        let client = ClientAuthentication { id: "nobody".to_owned(), secret: Some("s".to_owned()), basic: true };
        let error = client.authenticate(&applications, NOW).await.unwrap_err();
        assert!(matches!(error, TokenEndpointError::InvalidClient { basic: true }));
    }
}
