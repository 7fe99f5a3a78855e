//! Token exchange as Logto serves it (`urn:ietf:params:oauth:grant-type:token-exchange`): an app allowed to
//! exchange tokens trades a `sub_…` subject token (impersonation, single use) or a `pat_…` personal access token for
//! an Account API token of the user, optionally naming an actor (`act`). Each exchange starts a session of its own
//! (spec §4) without a refresh token. Stricter than Logto: a suspended or deleted user gets nothing.

use latchkey_domain::UserId;
use latchkey_domain::personal_access_token::PersonalAccessToken;
use latchkey_domain::secrets::hash_secret;
use latchkey_domain::subject_token::Consumption;
use latchkey_domain::token::{Audience, OPENID_SCOPE, Subject, grant_user_scopes};

use super::{
    ACCESS_TOKEN_TYPE, IMPERSONATION_TOKEN_TYPE, PERSONAL_ACCESS_TOKEN_TYPE, RequestOrigin, TOKEN_PATH, TokenEndpoint,
    TokenEndpointError, TokenRequest, TokenResponse, required,
};
use crate::revocation::RevocationError;
use crate::session_tokens::NewSession;
use crate::token::{Operation, RequestFacts, verify};

pub(super) async fn grant(
    endpoint: &TokenEndpoint,
    origin: &RequestOrigin,
    form: TokenRequest,
) -> Result<TokenResponse, TokenEndpointError> {
    let application =
        endpoint.authenticate_client(origin.authorization.as_deref(), form.client_id, form.client_secret).await?;
    if !application.may_exchange_tokens() {
        return Err(TokenEndpointError::UnauthorizedClient);
    }
    let subject_token = required(form.subject_token, "missing required parameter 'subject_token'")?;
    let subject_token_type = required(form.subject_token_type, "missing required parameter 'subject_token_type'")?;
    // Resource and organization tokens are not served yet; refusing beats silently minting an Account API token.
    if form.resource.is_some_and(|resource| !resource.is_empty())
        || form.organization_id.is_some_and(|organization| !organization.is_empty())
    {
        return Err(TokenEndpointError::InvalidTarget);
    }
    // Everything that can fail without using up the subject token is checked before it is consumed.
    let actor = match form.actor_token.filter(|token| !token.is_empty()) {
        Some(actor_token) => Some(actor_id(endpoint, &actor_token, form.actor_token_type.as_deref()).await?),
        None => None,
    };
    let (user_id, personal_access_token) = match subject_token_type.as_str() {
        ACCESS_TOKEN_TYPE | IMPERSONATION_TOKEN_TYPE => (consume_subject_token(endpoint, &subject_token).await?, None),
        PERSONAL_ACCESS_TOKEN_TYPE => {
            let token = usable_personal_access_token(endpoint, &subject_token).await?;
            (token.user_id.clone(), Some(token))
        }
        _ => return Err(TokenEndpointError::InvalidGrant("unsupported subject token type")),
    };
    ensure_user_may_get_tokens(endpoint, &user_id).await?;

    let mut scopes = grant_user_scopes(form.scope.as_deref());
    if let Some(token) = &personal_access_token {
        scopes = narrow_to_personal_access_token(scopes, &token.scopes);
        match endpoint.ports.personal_access_tokens.mark_used(&token.id, endpoint.now()).await {
            Ok(()) => {}
            Err(latchkey_domain::RepoError::NotFound) => {
                return Err(TokenEndpointError::InvalidGrant("the personal access token was deleted"));
            }
            Err(error) => return Err(error.into()),
        }
    }
    let issued = endpoint
        .ports
        .session_tokens
        .start(NewSession {
            user_id,
            client_id: application.id,
            audience: Audience::Account,
            scopes,
            actor,
            personal_access_token: personal_access_token.map(|token| token.id),
            with_refresh_token: false,
            user_agent: origin.user_agent.clone(),
            ip: origin.ip.clone(),
        })
        .await?;
    Ok(TokenResponse {
        access_token: issued.access_token,
        expires_in: issued.expires_in,
        token_type: "Bearer",
        scope: issued.scope,
        refresh_token: None,
    })
}

/// The subject id of a live actor token of ours that carries `openid` (Logto's rule: a user's own token).
async fn actor_id(
    endpoint: &TokenEndpoint,
    actor_token: &str,
    actor_token_type: Option<&str>,
) -> Result<String, TokenEndpointError> {
    if actor_token_type != Some(ACCESS_TOKEN_TYPE) {
        return Err(TokenEndpointError::InvalidGrant("unsupported actor token type"));
    }
    let facts = RequestFacts::new(Operation::Write, TOKEN_PATH);
    let principal = verify(&endpoint.ports.keys, actor_token, &facts, endpoint.now())
        .map_err(|_| TokenEndpointError::InvalidGrant("the actor token does not verify"))?;
    endpoint.ports.revocation.check(&principal).await.map_err(|error| match error {
        RevocationError::Revoked => TokenEndpointError::InvalidGrant("the actor token is revoked"),
        RevocationError::Unavailable => {
            TokenEndpointError::TemporarilyUnavailable("revocation state unavailable".to_owned())
        }
    })?;
    if !principal.has_scope(OPENID_SCOPE) {
        return Err(TokenEndpointError::InvalidGrant("the actor token lacks the openid scope"));
    }
    Ok(match principal.claims.subject {
        Subject::User(user_id) => user_id.as_str().to_owned(),
        Subject::Application(client_id) => client_id,
    })
}

/// Consumes a `sub_…` token, once: of two concurrent exchanges at most one succeeds.
async fn consume_subject_token(endpoint: &TokenEndpoint, presented: &str) -> Result<UserId, TokenEndpointError> {
    let consumption = endpoint.ports.subject_tokens.consume(&hash_secret(presented), endpoint.now()).await?;
    match consumption {
        Consumption::Consumed(token) => Ok(token.user_id),
        Consumption::AlreadyConsumed => Err(TokenEndpointError::InvalidGrant("the subject token was already used")),
        Consumption::Expired => Err(TokenEndpointError::InvalidGrant("the subject token has expired")),
        Consumption::Unknown => Err(TokenEndpointError::InvalidGrant("the subject token is unknown")),
    }
}

/// A `pat_…` token found by its hash, unrevoked and unexpired.
async fn usable_personal_access_token(
    endpoint: &TokenEndpoint,
    presented: &str,
) -> Result<PersonalAccessToken, TokenEndpointError> {
    let token = endpoint.ports.personal_access_tokens.find_by_value_hash(&hash_secret(presented)).await?;
    token
        .filter(|token| token.is_usable(endpoint.now()))
        .ok_or(TokenEndpointError::InvalidGrant("the personal access token is unknown, revoked or expired"))
}

/// Spec §3: a suspended user gets no new tokens by any grant, and a deleted one none either.
async fn ensure_user_may_get_tokens(endpoint: &TokenEndpoint, user_id: &UserId) -> Result<(), TokenEndpointError> {
    let user = endpoint.ports.users.find_by_id(user_id).await?;
    match user {
        Some(user) if !user.is_suspended => Ok(()),
        Some(_) => Err(TokenEndpointError::InvalidGrant("the user is suspended")),
        None => Err(TokenEndpointError::InvalidGrant("the user does not exist")),
    }
}

/// A personal access token with scopes caps what its exchanges get (`openid` stays: every Account API token needs
/// it); one without scopes caps nothing, as in Logto, whose PATs have none.
fn narrow_to_personal_access_token(granted: Vec<String>, allowed: &[String]) -> Vec<String> {
    if allowed.is_empty() {
        return granted;
    }
    granted.into_iter().filter(|scope| scope == OPENID_SCOPE || allowed.contains(scope)).collect()
}

#[cfg(test)]
mod tests {
    use latchkey_domain::application::ApplicationType;
    use latchkey_domain::subject_token::SubjectToken;
    use latchkey_domain::token::AccessClaims;
    use mockall::predicate::eq;

    use super::*;
    use crate::oidc::test_support::{Mocks, NOW, USER, application, form, user};
    use crate::oidc::{TOKEN_EXCHANGE, issue};
    use crate::token::mint;

    fn exchange_form(subject_token: &str, subject_token_type: &str) -> TokenRequest {
        TokenRequest {
            grant_type: Some(TOKEN_EXCHANGE.to_owned()),
            subject_token: Some(subject_token.to_owned()),
            subject_token_type: Some(subject_token_type.to_owned()),
            ..form("spa")
        }
    }

    fn exchanging_app() -> Mocks {
        let mut mocks = Mocks::new();
        let mut app = application("spa", ApplicationType::Spa);
        app.custom_client_metadata.allow_token_exchange = true;
        mocks.with_application(app);
        mocks
    }

    fn consumed(user_id: &str) -> Consumption {
        let (_, mut token) =
            SubjectToken::issue(UserId::parse(user_id).unwrap(), serde_json::Value::Null, "admin".into(), NOW);
        token.consumed_at = Some(NOW);
        Consumption::Consumed(token)
    }

    fn pat(scopes: &[&str], revoked: bool) -> PersonalAccessToken {
        let (_, mut token) =
            PersonalAccessToken::issue("p".repeat(21), UserId::parse(USER).unwrap(), "ci".into(), NOW, None);
        token.scopes = scopes.iter().map(|scope| (*scope).to_owned()).collect();
        token.revoked_at = revoked.then_some(NOW);
        token
    }

    #[test]
    fn a_personal_access_tokens_scopes_cap_the_grant_but_keep_openid() {
        let granted = grant_user_scopes(Some("openid email profile"));
        assert_eq!(narrow_to_personal_access_token(granted.clone(), &[]), granted);
        assert_eq!(narrow_to_personal_access_token(granted, &["email".to_owned()]), ["openid", "email"]);
    }

    #[tokio::test]
    async fn a_subject_token_exchange_starts_a_session_without_refresh_token_for_the_user() {
        let mut mocks = exchanging_app();
        mocks
            .subject_tokens
            .expect_consume()
            .with(eq(hash_secret("sub_x")), eq(NOW))
            .times(1)
            .returning(|_, _| Ok(consumed(USER)));
        mocks.with_user(user(false));
        mocks
            .sessions
            .expect_create()
            .withf(|session, refresh_token| session.client_id == "spa" && refresh_token.is_none())
            .times(1)
            .returning(|_, _| Ok(()));
        let (endpoint, keys) = mocks.endpoint();

        let mut request = exchange_form("sub_x", ACCESS_TOKEN_TYPE);
        request.scope = Some("profile email".to_owned());
        let response = issue(&endpoint, &RequestOrigin::default(), request).await.unwrap();

        assert_eq!(response.scope, "openid profile email");
        assert!(response.refresh_token.is_none());
        let claims = verify(&keys, &response.access_token, &RequestFacts::new(Operation::Read, "/api/my-account"), NOW)
            .unwrap()
            .claims;
        assert_eq!(claims.subject, Subject::User(UserId::parse(USER).unwrap()));
        assert_eq!((claims.audience, claims.client_id.as_str()), (Audience::Account, "spa"));
        assert!(claims.session_id.is_some());
        assert_eq!(claims.actor, None);
    }

    #[tokio::test]
    async fn used_expired_and_unknown_subject_tokens_are_invalid_grants() {
        for consumption in [Consumption::AlreadyConsumed, Consumption::Expired, Consumption::Unknown] {
            let mut mocks = exchanging_app();
            mocks.subject_tokens.expect_consume().returning(move |_, _| Ok(consumption.clone()));
            mocks.sessions.expect_create().never();
            let (endpoint, _) = mocks.endpoint();
            let error = issue(&endpoint, &RequestOrigin::default(), exchange_form("sub_x", ACCESS_TOKEN_TYPE)).await;
            assert!(matches!(error, Err(TokenEndpointError::InvalidGrant(_))), "{error:?}");
        }
    }

    #[tokio::test]
    async fn a_suspended_or_deleted_user_gets_no_token() {
        for suspended in [Some(true), None] {
            let mut mocks = exchanging_app();
            mocks.subject_tokens.expect_consume().returning(|_, _| Ok(consumed(USER)));
            match suspended {
                Some(suspended) => mocks.with_user(user(suspended)),
                None => {
                    mocks.users.expect_find_by_id().returning(|_| Ok(None));
                }
            }
            mocks.sessions.expect_create().never();
            let (endpoint, _) = mocks.endpoint();
            let error = issue(&endpoint, &RequestOrigin::default(), exchange_form("sub_x", ACCESS_TOKEN_TYPE)).await;
            assert!(matches!(error, Err(TokenEndpointError::InvalidGrant(_))), "{error:?}");
        }
    }

    #[tokio::test]
    async fn an_app_without_token_exchange_is_an_unauthorized_client() {
        let mut mocks = Mocks::new();
        mocks.with_application(application("spa", ApplicationType::Spa));
        mocks.subject_tokens.expect_consume().never();
        let (endpoint, _) = mocks.endpoint();
        let error = issue(&endpoint, &RequestOrigin::default(), exchange_form("sub_x", ACCESS_TOKEN_TYPE)).await;
        assert!(matches!(error, Err(TokenEndpointError::UnauthorizedClient)), "{error:?}");
    }

    #[tokio::test]
    async fn a_resource_or_a_bad_actor_token_is_refused_before_the_subject_token_is_used_up() {
        let mut with_resource = exchange_form("sub_x", ACCESS_TOKEN_TYPE);
        with_resource.resource = Some("https://api.example.com".to_owned());
        let mut bad_actor = exchange_form("sub_x", ACCESS_TOKEN_TYPE);
        bad_actor.actor_token = Some("not-a-biscuit".to_owned());
        bad_actor.actor_token_type = Some(ACCESS_TOKEN_TYPE.to_owned());
        let mut wrong_actor_type = exchange_form("sub_x", ACCESS_TOKEN_TYPE);
        wrong_actor_type.actor_token = Some("anything".to_owned());
        wrong_actor_type.actor_token_type = Some("urn:ietf:params:oauth:token-type:id_token".to_owned());

        for (request, expected) in
            [(with_resource, "invalid_target"), (bad_actor, "invalid_grant"), (wrong_actor_type, "invalid_grant")]
        {
            let mut mocks = exchanging_app();
            mocks.subject_tokens.expect_consume().never();
            let (endpoint, _) = mocks.endpoint();
            let error = issue(&endpoint, &RequestOrigin::default(), request).await.unwrap_err();
            assert_eq!(error.wire().1, expected);
        }
    }

    #[tokio::test]
    async fn a_live_actor_token_with_openid_becomes_the_act_fact() {
        let mut mocks = exchanging_app();
        mocks.subject_tokens.expect_consume().returning(|_, _| Ok(consumed(USER)));
        mocks.with_user(user(false));
        mocks.sessions.expect_create().returning(|_, _| Ok(()));
        mocks.revocation.expect_check().times(1).returning(|_| Ok(()));
        let (endpoint, keys) = mocks.endpoint();
        let actor = AccessClaims::new(
            Subject::User(UserId::parse("admin0000001").unwrap()),
            "spa",
            Audience::Account,
            "t-actor",
            NOW,
            NOW.plus_secs(60),
        )
        .with_scopes(["openid"]);

        let mut request = exchange_form("sub_x", ACCESS_TOKEN_TYPE);
        request.actor_token = Some(mint(&keys, &actor).unwrap());
        request.actor_token_type = Some(ACCESS_TOKEN_TYPE.to_owned());
        let response = issue(&endpoint, &RequestOrigin::default(), request).await.unwrap();

        let facts = RequestFacts::new(Operation::Read, "/api/my-account");
        let claims = verify(&keys, &response.access_token, &facts, NOW).unwrap().claims;
        assert_eq!(claims.actor.as_deref(), Some("admin0000001"));
    }

    #[tokio::test]
    async fn an_actor_token_without_openid_or_revoked_is_an_invalid_grant() {
        for (scopes, revoked) in [(&[][..], false), (&["openid"][..], true)] {
            let mut mocks = exchanging_app();
            mocks.subject_tokens.expect_consume().never();
            mocks.revocation.expect_check().returning(
                move |_| {
                    if revoked { Err(RevocationError::Revoked) } else { Ok(()) }
                },
            );
            let (endpoint, keys) = mocks.endpoint();
            let actor = AccessClaims::new(
                Subject::User(UserId::parse("admin0000001").unwrap()),
                "spa",
                Audience::Account,
                "t-actor",
                NOW,
                NOW.plus_secs(60),
            )
            .with_scopes(scopes.iter().copied());
            let mut request = exchange_form("sub_x", ACCESS_TOKEN_TYPE);
            request.actor_token = Some(mint(&keys, &actor).unwrap());
            request.actor_token_type = Some(ACCESS_TOKEN_TYPE.to_owned());
            let error = issue(&endpoint, &RequestOrigin::default(), request).await.unwrap_err();
            assert_eq!(error.wire().1, "invalid_grant", "scopes {scopes:?}, revoked {revoked}");
        }
    }

    #[tokio::test]
    async fn a_personal_access_token_exchange_names_the_token_and_records_its_use() {
        let mut mocks = exchanging_app();
        let token = pat(&[], false);
        let found = token.clone();
        mocks.personal_access_tokens.expect_find_by_value_hash().returning(move |_| Ok(Some(found.clone())));
        mocks
            .personal_access_tokens
            .expect_mark_used()
            .with(eq(token.id.clone()), eq(NOW))
            .times(1)
            .returning(|_, _| Ok(()));
        mocks.with_user(user(false));
        mocks.sessions.expect_create().returning(|_, _| Ok(()));
        let (endpoint, keys) = mocks.endpoint();

        let response = issue(&endpoint, &RequestOrigin::default(), exchange_form("pat_x", PERSONAL_ACCESS_TOKEN_TYPE))
            .await
            .unwrap();

        let facts = RequestFacts::new(Operation::Read, "/api/my-account");
        let claims = verify(&keys, &response.access_token, &facts, NOW).unwrap().claims;
        assert_eq!(claims.personal_access_token.as_deref(), Some(token.id.as_str()));
        assert_eq!(response.scope, "openid offline_access profile");
        let mut scopes = claims.scopes;
        scopes.sort();
        assert_eq!(scopes, ["offline_access", "openid", "profile"]);
    }

    #[tokio::test]
    async fn a_revoked_or_unknown_personal_access_token_is_an_invalid_grant_and_not_marked_used() {
        for found in [Some(pat(&[], true)), None] {
            let mut mocks = exchanging_app();
            mocks.personal_access_tokens.expect_find_by_value_hash().returning(move |_| Ok(found.clone()));
            mocks.personal_access_tokens.expect_mark_used().never();
            let (endpoint, _) = mocks.endpoint();
            let error =
                issue(&endpoint, &RequestOrigin::default(), exchange_form("pat_x", PERSONAL_ACCESS_TOKEN_TYPE)).await;
            assert!(matches!(error, Err(TokenEndpointError::InvalidGrant(_))), "{error:?}");
        }
    }

    #[tokio::test]
    async fn an_unknown_subject_token_type_is_an_invalid_grant() {
        let mut mocks = exchanging_app();
        mocks.subject_tokens.expect_consume().never();
        let (endpoint, _) = mocks.endpoint();
        let request = exchange_form("sub_x", "urn:ietf:params:oauth:token-type:id_token");
        let error = issue(&endpoint, &RequestOrigin::default(), request).await.unwrap_err();
        assert_eq!(error.wire().1, "invalid_grant");
    }
}
