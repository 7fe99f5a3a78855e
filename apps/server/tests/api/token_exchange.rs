//! `POST /oidc/token` with Logto's token exchange, on every backend under test: `sub_…` subject tokens (single use,
//! 600 s) and `pat_…` personal access tokens for Account API tokens, the actor (`act`), apps allowed to exchange, and
//! users who may not get tokens.

use latchkey_auth::{Operation, RequestFacts};
use latchkey_domain::application::ApplicationType;
use latchkey_domain::personal_access_token::PersonalAccessTokenRepository;
use latchkey_domain::subject_token::{SubjectToken, SubjectTokenRepository};
use latchkey_domain::token::{AccessClaims, Audience, Subject};
use latchkey_domain::{Clock, SystemClock};
use reqwest::Response;
use serde_json::Value;

use crate::harness::{Client, TokenApp, expect_accepted, expect_oauth_error, expect_tokens, expect_unauthorized};

const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const PAT_TYPE: &str = "urn:logto:token-type:personal_access_token";

async fn exchange(app: &TokenApp, client: &Client, subject: (&str, &str), extra: &[(&str, &str)]) -> Response {
    let mut form = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange".to_owned()),
        ("subject_token", subject.0.to_owned()),
        ("subject_token_type", subject.1.to_owned()),
    ];
    form.extend(client.form_fields());
    form.extend(extra.iter().map(|(name, value)| (*name, (*value).to_owned())));
    let form: Vec<(&str, &str)> = form.iter().map(|(name, value)| (*name, value.as_str())).collect();
    app.post(None, &form).await
}

fn claims(app: &TokenApp, body: &Value) -> AccessClaims {
    let token = body["access_token"].as_str().expect("an access token");
    let facts = RequestFacts::new(Operation::Read, "/api/my-account");
    latchkey_auth::verify(&app.key_ring(), token, &facts, SystemClock.now()).expect("the token verifies").claims
}

#[tokio::test]
async fn a_subject_token_is_exchanged_once_for_an_account_api_token_of_its_own_session() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let spa = app.user_app(ApplicationType::Spa, true).await;
        let subject_token = app.subject_token(&user).await;

        let response = exchange(&app, &spa, (&subject_token, ACCESS_TOKEN_TYPE), &[("scope", "openid profile")]).await;

        let body = expect_tokens(response, app.backend).await;
        assert_eq!(body["scope"], "openid profile", "on {}: {body}", app.backend);
        assert_eq!(body["expires_in"], 3600, "on {}: {body}", app.backend);
        assert!(body.get("refresh_token").is_none(), "on {}: {body}", app.backend);
        let claims = claims(&app, &body);
        assert_eq!(claims.subject, Subject::User(user.clone()), "on {}", app.backend);
        assert_eq!((claims.audience, claims.client_id.as_str()), (Audience::Account, spa.id.as_str()));
        assert!(claims.session_id.is_some(), "on {}", app.backend);
        expect_accepted(&app, body["access_token"].as_str().unwrap()).await;

        let again = exchange(&app, &spa, (&subject_token, ACCESS_TOKEN_TYPE), &[]).await;
        expect_oauth_error(again, 400, "invalid_grant", app.backend).await;
    }
}

#[tokio::test]
async fn an_expired_or_unknown_subject_token_is_an_invalid_grant() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let spa = app.user_app(ApplicationType::Spa, true).await;
        let issued_long_ago = SystemClock.now().plus_secs(-601);
        let (expired, token) = SubjectToken::issue(user, serde_json::json!({}), "tests".to_owned(), issued_long_ago);
        let entry =
            crate::harness::harness_entry(&token.user_id, latchkey_domain::audit::keys::USER_IMPERSONATION_STARTED);
        app.store.subject_tokens().insert(&token, &entry).await.unwrap();

        let response = exchange(&app, &spa, (expired.expose(), ACCESS_TOKEN_TYPE), &[]).await;
        expect_oauth_error(response, 400, "invalid_grant", app.backend).await;
        let response = exchange(&app, &spa, ("sub_unknown", ACCESS_TOKEN_TYPE), &[]).await;
        expect_oauth_error(response, 400, "invalid_grant", app.backend).await;
    }
}

#[tokio::test]
async fn an_actor_token_becomes_the_act_fact() {
    for app in TokenApp::all().await {
        let (user, admin) = (app.user().await, app.user().await);
        let spa = app.user_app(ApplicationType::Spa, true).await;
        let admin_session = app.sign_in(&admin, &spa.id, &["openid", "profile"]).await;
        let subject_token = app.subject_token(&user).await;

        let actor = [("actor_token", admin_session.access_token.as_str()), ("actor_token_type", ACCESS_TOKEN_TYPE)];
        let body =
            expect_tokens(exchange(&app, &spa, (&subject_token, ACCESS_TOKEN_TYPE), &actor).await, app.backend).await;

        let claims = claims(&app, &body);
        assert_eq!(claims.subject, Subject::User(user), "on {}", app.backend);
        assert_eq!(claims.actor.as_deref(), Some(admin.as_str()), "on {}", app.backend);
    }
}

#[tokio::test]
async fn a_bad_actor_token_is_refused_without_using_up_the_subject_token() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let spa = app.user_app(ApplicationType::Spa, true).await;
        let subject_token = app.subject_token(&user).await;

        let actor = [("actor_token", "not-a-token"), ("actor_token_type", ACCESS_TOKEN_TYPE)];
        let refused = exchange(&app, &spa, (&subject_token, ACCESS_TOKEN_TYPE), &actor).await;
        expect_oauth_error(refused, 400, "invalid_grant", app.backend).await;

        expect_tokens(exchange(&app, &spa, (&subject_token, ACCESS_TOKEN_TYPE), &[]).await, app.backend).await;
    }
}

#[tokio::test]
async fn a_personal_access_token_exchange_records_its_use_and_its_tokens_die_with_it() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let spa = app.user_app(ApplicationType::Spa, true).await;
        let (value, stored) = app.personal_access_token(&user).await;

        let body = expect_tokens(exchange(&app, &spa, (&value, PAT_TYPE), &[]).await, app.backend).await;

        assert_eq!(claims(&app, &body).personal_access_token.as_deref(), Some(stored.id.as_str()));
        let token = body["access_token"].as_str().unwrap();
        expect_accepted(&app, token).await;
        let listed = app.store.personal_access_tokens().list_for_user(&user).await.unwrap();
        assert!(listed[0].last_used_at.is_some(), "on {}", app.backend);
        // A PAT is reusable, unlike a subject token.
        expect_tokens(exchange(&app, &spa, (&value, PAT_TYPE), &[]).await, app.backend).await;

        app.store.personal_access_tokens().revoke_all_for_user(&user, SystemClock.now()).await.unwrap();

        expect_unauthorized(&app, token).await;
        expect_oauth_error(exchange(&app, &spa, (&value, PAT_TYPE), &[]).await, 400, "invalid_grant", app.backend)
            .await;
    }
}

#[tokio::test]
async fn a_suspended_user_gets_no_token_and_their_exchanged_token_fails() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let spa = app.user_app(ApplicationType::Spa, true).await;
        let subject_token = app.subject_token(&user).await;
        let body =
            expect_tokens(exchange(&app, &spa, (&subject_token, ACCESS_TOKEN_TYPE), &[]).await, app.backend).await;
        let token = body["access_token"].as_str().unwrap();
        expect_accepted(&app, token).await;

        app.suspend(&user).await;

        expect_unauthorized(&app, token).await;
        let fresh = app.subject_token(&user).await;
        expect_oauth_error(
            exchange(&app, &spa, (&fresh, ACCESS_TOKEN_TYPE), &[]).await,
            400,
            "invalid_grant",
            app.backend,
        )
        .await;
        let (pat, _) = app.personal_access_token(&user).await;
        expect_oauth_error(exchange(&app, &spa, (&pat, PAT_TYPE), &[]).await, 400, "invalid_grant", app.backend).await;
    }
}

#[tokio::test]
async fn only_apps_allowed_to_exchange_may_and_confidential_ones_must_authenticate() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let subject_token = app.subject_token(&user).await;
        let not_allowed = app.user_app(ApplicationType::Spa, false).await;
        let web = app.user_app(ApplicationType::Traditional, true).await;

        let refused = exchange(&app, &not_allowed, (&subject_token, ACCESS_TOKEN_TYPE), &[]).await;
        expect_oauth_error(refused, 400, "unauthorized_client", app.backend).await;
        let unauthenticated = Client { secret: None, ..web.clone() };
        let refused = exchange(&app, &unauthenticated, (&subject_token, ACCESS_TOKEN_TYPE), &[]).await;
        expect_oauth_error(refused, 401, "invalid_client", app.backend).await;

        // Neither refusal used the subject token up.
        expect_tokens(exchange(&app, &web, (&subject_token, ACCESS_TOKEN_TYPE), &[]).await, app.backend).await;
    }
}

#[tokio::test]
async fn a_resource_is_an_invalid_target_and_missing_parameters_an_invalid_request() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let spa = app.user_app(ApplicationType::Spa, true).await;
        let subject_token = app.subject_token(&user).await;

        let resource = [("resource", "https://api.example.com")];
        let refused = exchange(&app, &spa, (&subject_token, ACCESS_TOKEN_TYPE), &resource).await;
        expect_oauth_error(refused, 400, "invalid_target", app.backend).await;
        let refused = exchange(&app, &spa, (&subject_token, ""), &[]).await;
        expect_oauth_error(refused, 400, "invalid_request", app.backend).await;
        let refused = exchange(&app, &spa, (&subject_token, "urn:ietf:params:oauth:token-type:id_token"), &[]).await;
        expect_oauth_error(refused, 400, "invalid_grant", app.backend).await;
    }
}
