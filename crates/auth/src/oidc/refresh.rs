//! The `refresh_token` grant: a client trades a session's refresh token for a new access token and the refresh
//! token's successor. Rotation, reuse detection and the user's state are [`SessionTokens::refresh`]'s business;
//! this grant authenticates the client, which the refresh token must have been issued to.
//!
//! [`SessionTokens::refresh`]: crate::session_tokens::SessionTokens::refresh

use super::{
    RequestOrigin, TokenEndpoint, TokenEndpointError, TokenRequest, TokenResponse, requested_scopes, required,
};

pub(super) async fn grant(
    endpoint: &TokenEndpoint,
    origin: &RequestOrigin,
    form: TokenRequest,
) -> Result<TokenResponse, TokenEndpointError> {
    let application =
        endpoint.authenticate_client(origin.authorization.as_deref(), form.client_id, form.client_secret).await?;
    let presented = required(form.refresh_token, "missing required parameter 'refresh_token'")?;
    let narrowed = requested_scopes(form.scope.as_deref());
    let issued = endpoint.ports.session_tokens.refresh(&presented, &application.id, narrowed.as_deref()).await?;
    Ok(TokenResponse {
        access_token: issued.access_token,
        expires_in: issued.expires_in,
        token_type: "Bearer",
        scope: issued.scope,
        refresh_token: issued.refresh_token.map(|successor| successor.expose().to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use latchkey_domain::UserId;
    use latchkey_domain::application::ApplicationType;
    use latchkey_domain::credentials_ports::SessionState;
    use latchkey_domain::secrets::hash_secret;
    use latchkey_domain::session::{RefreshToken, Rotation, Session};

    use super::*;
    use crate::oidc::test_support::{Mocks, NOW, USER, application, application_with_secret, form};
    use crate::oidc::{REFRESH_TOKEN, issue};

    fn refresh_form(client_id: &str, scope: Option<&str>) -> TokenRequest {
        TokenRequest {
            grant_type: Some(REFRESH_TOKEN.to_owned()),
            refresh_token: Some("presented".to_owned()),
            scope: scope.map(str::to_owned),
            ..form(client_id)
        }
    }

    /// A live session of `client_id` with scopes `openid profile`, whose refresh token `presented` rotates.
    fn live_session(mocks: &mut Mocks, client_id: &str) {
        let session =
            Session::new("s".repeat(21), UserId::parse(USER).unwrap(), client_id.to_owned(), NOW, NOW.plus_secs(600))
                .with_scopes(["openid", "profile"]);
        let stored = RefreshToken {
            token_hash: hash_secret("presented"),
            session_id: session.id.clone(),
            created_at: NOW,
            expires_at: NOW.plus_secs(60),
            used_at: None,
        };
        mocks.sessions.expect_find_refresh_token().returning(move |_| Ok(Some(stored.clone())));
        let found = session.clone();
        mocks.sessions.expect_find().returning(move |_| Ok(Some(found.clone())));
        let rotated = session.clone();
        mocks
            .sessions
            .expect_rotate_refresh_token()
            .returning(move |_, _, _, _| Ok(Rotation::Rotated(rotated.clone())));
        mocks.sessions.expect_touch().returning(|_, _| Ok(()));
        mocks.token_state.expect_session_state().returning(|_, _| {
            Ok(Some(SessionState {
                user_id: UserId::parse(USER).unwrap(),
                revoked: false,
                expired: false,
                user_exists: true,
                user_suspended: false,
            }))
        });
    }

    #[tokio::test]
    async fn a_public_client_refreshes_with_its_id_alone_and_gets_a_successor() {
        let mut mocks = Mocks::new();
        mocks.with_application(application("spa", ApplicationType::Spa));
        live_session(&mut mocks, "spa");
        let (endpoint, _) = mocks.endpoint();

        let response = issue(&endpoint, &RequestOrigin::default(), refresh_form("spa", Some("profile"))).await.unwrap();

        assert_eq!((response.token_type, response.scope.as_str(), response.expires_in), ("Bearer", "profile", 3600));
        assert!(response.refresh_token.is_some_and(|successor| successor != "presented"));
    }

    #[tokio::test]
    async fn a_confidential_client_without_its_secret_is_an_invalid_client() {
        let mut mocks = Mocks::new();
        let (app, secret) = application_with_secret("web", ApplicationType::Traditional);
        mocks.with_application(app);
        live_session(&mut mocks, "web");
        let (endpoint, _) = mocks.endpoint();

        let error = issue(&endpoint, &RequestOrigin::default(), refresh_form("web", None)).await.unwrap_err();
        assert_eq!(error.wire().1, "invalid_client");
        let with_secret = TokenRequest { client_secret: Some(secret), ..refresh_form("web", None) };
        assert!(issue(&endpoint, &RequestOrigin::default(), with_secret).await.is_ok());
    }

    #[tokio::test]
    async fn widening_the_scope_is_an_invalid_scope_and_a_missing_token_an_invalid_request() {
        let mut mocks = Mocks::new();
        mocks.with_application(application("spa", ApplicationType::Spa));
        live_session(&mut mocks, "spa");
        let (endpoint, _) = mocks.endpoint();

        let wider = issue(&endpoint, &RequestOrigin::default(), refresh_form("spa", Some("profile email"))).await;
        assert_eq!(wider.unwrap_err().wire().1, "invalid_scope");
        let missing = TokenRequest { refresh_token: None, ..refresh_form("spa", None) };
        let missing = issue(&endpoint, &RequestOrigin::default(), missing).await;
        assert_eq!(missing.unwrap_err().wire().1, "invalid_request");
    }

    #[tokio::test]
    async fn another_clients_refresh_token_is_an_invalid_grant() {
        let mut mocks = Mocks::new();
        mocks.with_application(application("spa", ApplicationType::Spa));
        live_session(&mut mocks, "other-app");
        let (endpoint, _) = mocks.endpoint();

        let error = issue(&endpoint, &RequestOrigin::default(), refresh_form("spa", None)).await.unwrap_err();
        assert_eq!(
            error.wire(),
            (actix_web::http::StatusCode::BAD_REQUEST, "invalid_grant", "grant request is invalid")
        );
    }
}
