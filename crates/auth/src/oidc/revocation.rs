//! `POST /oidc/token/revocation` (RFC 7009). A client ends the session behind one of its refresh tokens or access
//! tokens; every token of that session then fails on the next request. A token that is unknown, expired or another
//! client's is answered like a revoked one (200, §2.2), so the endpoint tells nobody whether a token exists.

use std::fmt;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use latchkey_domain::RepoError;
use latchkey_domain::secrets::hash_secret;
use latchkey_domain::session::RevokeReason;
use serde::Deserialize;

use super::{RequestOrigin, TOKEN_PATH, TokenEndpoint, TokenEndpointError, required};
use crate::token::{Operation, RequestFacts, verify};

/// The form parameters the revocation endpoint reads.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct RevocationRequest {
    pub token: Option<String>,
    /// `refresh_token` or `access_token`: only which kind is looked for first (RFC 7009 §2.1).
    pub token_type_hint: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

impl fmt::Debug for RevocationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationRequest")
            .field("token_type_hint", &self.token_type_hint)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The handler of `POST /oidc/token/revocation`; the app must hold a `web::Data<TokenEndpoint>`.
#[utoipa::path(
    post,
    path = "/oidc/token/revocation",
    tag = "OIDC",
    summary = "Revoke a token's session",
    description = "RFC 7009: ends the session behind one of the client's refresh or access tokens. An unknown, \
        expired or foreign token is answered 200 all the same.",
    request_body(content = RevocationRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke."),
        (status = 400, description = "`invalid_request` (no `token`).", body = super::OidcErrorBody),
        (status = 401, description = "`invalid_client`.", body = super::OidcErrorBody),
        (status = 500, description = "`server_error`.", body = super::OidcErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the database cannot be reached; retry later.", body = super::OidcErrorBody),
    ),
    security((), ("clientBasic" = [])),
)]
pub async fn revoke(
    endpoint: web::Data<TokenEndpoint>,
    request: HttpRequest,
    form: Result<web::Form<RevocationRequest>, actix_web::Error>,
) -> Result<HttpResponse, TokenEndpointError> {
    let form = form
        .map_err(|_| TokenEndpointError::InvalidRequest("the body is not a valid form with each parameter once"))?
        .into_inner();
    let origin = RequestOrigin::from_request(&request)?;
    revoke_token(&endpoint, origin.authorization.as_deref(), form).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .finish())
}

/// The endpoint's logic without HTTP: authenticates the client, then revokes the session behind `token` when the
/// token is the client's.
pub async fn revoke_token(
    endpoint: &TokenEndpoint,
    authorization: Option<&str>,
    form: RevocationRequest,
) -> Result<(), TokenEndpointError> {
    let application = endpoint.authenticate_client(authorization, form.client_id, form.client_secret).await?;
    let token = required(form.token, "missing required parameter 'token'")?;
    let session_id = if form.token_type_hint.as_deref() == Some("access_token") {
        match access_token_session(endpoint, &token, &application.id) {
            Some(session_id) => Some(session_id),
            None => refresh_token_session(endpoint, &token, &application.id).await?,
        }
    } else {
        match refresh_token_session(endpoint, &token, &application.id).await? {
            Some(session_id) => Some(session_id),
            None => access_token_session(endpoint, &token, &application.id),
        }
    };
    let Some(session_id) = session_id else {
        return Ok(());
    };
    match endpoint.ports.sessions.revoke(&session_id, RevokeReason::Revoked, endpoint.now()).await {
        Ok(()) | Err(RepoError::NotFound) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// The session of a refresh token issued to `client_id`, used or not: a rotated token still names its session.
async fn refresh_token_session(
    endpoint: &TokenEndpoint,
    token: &str,
    client_id: &str,
) -> Result<Option<String>, TokenEndpointError> {
    let sessions = &endpoint.ports.sessions;
    let Some(refresh_token) = sessions.find_refresh_token(&hash_secret(token)).await? else {
        return Ok(None);
    };
    let session = sessions.find(&refresh_token.session_id).await?;
    Ok(session.filter(|session| session.client_id == client_id).map(|session| session.id))
}

/// The session named by one of our unexpired access tokens issued to `client_id`. A token that does not verify
/// (expired, foreign, attenuated away from this path) names nothing.
fn access_token_session(endpoint: &TokenEndpoint, token: &str, client_id: &str) -> Option<String> {
    let facts = RequestFacts::new(Operation::Write, format!("{TOKEN_PATH}/revocation"));
    let principal = verify(&endpoint.ports.keys, token, &facts, endpoint.now()).ok()?;
    let claims = principal.claims;
    if claims.client_id == client_id { claims.session_id } else { None }
}

#[cfg(test)]
mod tests {
    use latchkey_domain::UserId;
    use latchkey_domain::application::ApplicationType;
    use latchkey_domain::session::{RefreshToken, Session};
    use latchkey_domain::token::{AccessClaims, Audience, Subject};
    use mockall::predicate::eq;

    use super::*;
    use crate::oidc::test_support::{Mocks, NOW, USER, application, application_with_secret};
    use crate::token::mint;

    const SESSION: &str = "session0000000000000a";

    fn request(client_id: &str, token: &str, hint: Option<&str>) -> RevocationRequest {
        RevocationRequest {
            token: Some(token.to_owned()),
            token_type_hint: hint.map(str::to_owned),
            client_id: Some(client_id.to_owned()),
            client_secret: None,
        }
    }

    fn session_of(client_id: &str) -> Session {
        Session::new(SESSION.to_owned(), UserId::parse(USER).unwrap(), client_id.to_owned(), NOW, NOW.plus_secs(60))
    }

    fn with_refresh_token(mocks: &mut Mocks, session_client: &str) {
        let stored = RefreshToken::issue(SESSION.to_owned(), NOW, NOW.plus_secs(60)).1;
        mocks
            .sessions
            .expect_find_refresh_token()
            .with(eq(hash_secret("refresh")))
            .returning(move |_| Ok(Some(stored.clone())));
        mocks.sessions.expect_find_refresh_token().returning(|_| Ok(None));
        let session = session_of(session_client);
        mocks.sessions.expect_find().returning(move |_| Ok(Some(session.clone())));
    }

    fn access_token(keys: &crate::keys::KeyRing, client_id: &str, expires_in: i64) -> String {
        let claims = AccessClaims::new(
            Subject::User(UserId::parse(USER).unwrap()),
            client_id,
            Audience::Account,
            "t1",
            NOW.plus_secs(-10),
            NOW.plus_secs(expires_in),
        )
        .with_session(SESSION);
        mint(keys, &claims).unwrap()
    }

    #[tokio::test]
    async fn a_clients_own_refresh_token_revokes_its_session() {
        let mut mocks = Mocks::new();
        mocks.with_application(application("spa", ApplicationType::Spa));
        with_refresh_token(&mut mocks, "spa");
        mocks
            .sessions
            .expect_revoke()
            .with(eq(SESSION.to_owned()), eq(RevokeReason::Revoked), eq(NOW))
            .times(1)
            .returning(|_, _, _| Ok(()));
        let (endpoint, _) = mocks.endpoint();
        revoke_token(&endpoint, None, request("spa", "refresh", Some("refresh_token"))).await.unwrap();
    }

    #[tokio::test]
    async fn another_clients_refresh_token_is_answered_alike_but_left_alone() {
        let mut mocks = Mocks::new();
        mocks.with_application(application("spa", ApplicationType::Spa));
        with_refresh_token(&mut mocks, "someone-else");
        mocks.sessions.expect_revoke().never();
        let (endpoint, _) = mocks.endpoint();
        revoke_token(&endpoint, None, request("spa", "refresh", None)).await.unwrap();
    }

    #[tokio::test]
    async fn a_clients_live_access_token_revokes_its_session_whatever_the_hint() {
        for hint in [Some("access_token"), Some("refresh_token"), None] {
            let mut mocks = Mocks::new();
            mocks.with_application(application("spa", ApplicationType::Spa));
            mocks.sessions.expect_find_refresh_token().returning(|_| Ok(None));
            mocks
                .sessions
                .expect_revoke()
                .with(eq(SESSION.to_owned()), eq(RevokeReason::Revoked), eq(NOW))
                .times(1)
                .returning(|_, _, _| Ok(()));
            let (endpoint, keys) = mocks.endpoint();
            let token = access_token(&keys, "spa", 60);
            revoke_token(&endpoint, None, request("spa", &token, hint)).await.unwrap();
        }
    }

    #[tokio::test]
    async fn expired_foreign_and_unknown_access_tokens_revoke_nothing() {
        for (client, expires_in) in [("other", 60), ("spa", -1)] {
            let mut mocks = Mocks::new();
            mocks.with_application(application("spa", ApplicationType::Spa));
            mocks.sessions.expect_find_refresh_token().returning(|_| Ok(None));
            mocks.sessions.expect_revoke().never();
            let (endpoint, keys) = mocks.endpoint();
            let token = access_token(&keys, client, expires_in);
            revoke_token(&endpoint, None, request("spa", &token, Some("access_token"))).await.unwrap();
            revoke_token(&endpoint, None, request("spa", "garbage", None)).await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_confidential_client_must_authenticate_and_a_token_is_required() {
        let mut mocks = Mocks::new();
        let (app, secret) = application_with_secret("web", ApplicationType::Traditional);
        mocks.with_application(app);
        mocks.sessions.expect_revoke().never();
        let (endpoint, _) = mocks.endpoint();

        let unauthenticated = revoke_token(&endpoint, None, request("web", "refresh", None)).await.unwrap_err();
        assert_eq!(unauthenticated.wire().1, "invalid_client");
        let no_token = RevocationRequest { token: None, client_secret: Some(secret), ..request("web", "", None) };
        assert_eq!(revoke_token(&endpoint, None, no_token).await.unwrap_err().wire().1, "invalid_request");
    }
}
