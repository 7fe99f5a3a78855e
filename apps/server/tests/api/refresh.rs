//! `POST /oidc/token` with the `refresh_token` grant, on every backend under test: rotation, reuse detection that
//! revokes the session (and with it the live access token), scope narrowing, client authentication by app type, and
//! users suspended mid-session.

use latchkey_domain::application::ApplicationType;
use serde_json::Value;

use crate::harness::{Client, TokenApp, expect_accepted, expect_oauth_error, expect_tokens, expect_unauthorized};

const SCOPES: [&str; 2] = ["openid", "profile"];

async fn refresh(app: &TokenApp, client: &Client, refresh_token: &str, scope: Option<&str>) -> reqwest::Response {
    let mut form = vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", refresh_token.to_owned())];
    form.extend(client.form_fields());
    form.extend(scope.map(|scope| ("scope", scope.to_owned())));
    let form: Vec<(&str, &str)> = form.iter().map(|(name, value)| (*name, value.as_str())).collect();
    app.post(None, &form).await
}

#[tokio::test]
async fn a_public_client_rotates_its_refresh_token_and_the_new_access_token_works() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let spa = app.user_app(ApplicationType::Spa, false).await;
        let signed_in = app.sign_in(&user, &spa.id, &SCOPES).await;
        let first_refresh = signed_in.refresh_token.expect("a refresh token");

        let body = expect_tokens(refresh(&app, &spa, first_refresh.expose(), None).await, app.backend).await;

        assert_eq!(body["scope"], "openid profile", "on {}: {body}", app.backend);
        assert_eq!(body["expires_in"], 3600, "on {}: {body}", app.backend);
        let successor = body["refresh_token"].as_str().expect("a successor refresh token");
        assert_ne!(successor, first_refresh.expose(), "on {}", app.backend);
        expect_accepted(&app, body["access_token"].as_str().unwrap()).await;
        // The successor rotates in turn.
        expect_tokens(refresh(&app, &spa, successor, None).await, app.backend).await;
    }
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_the_session_and_its_live_access_token_fails_at_once() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let spa = app.user_app(ApplicationType::Spa, false).await;
        let signed_in = app.sign_in(&user, &spa.id, &SCOPES).await;
        let first_refresh = signed_in.refresh_token.expect("a refresh token");
        expect_accepted(&app, &signed_in.access_token).await;
        let rotated = expect_tokens(refresh(&app, &spa, first_refresh.expose(), None).await, app.backend).await;
        let live_access = rotated["access_token"].as_str().unwrap();
        expect_accepted(&app, live_access).await;

        // Someone else holds a copy of the rotated token and presents it.
        let reuse = refresh(&app, &spa, first_refresh.expose(), None).await;

        expect_oauth_error(reuse, 400, "invalid_grant", app.backend).await;
        expect_unauthorized(&app, live_access).await;
        expect_unauthorized(&app, &signed_in.access_token).await;
        let successor = rotated["refresh_token"].as_str().unwrap();
        expect_oauth_error(refresh(&app, &spa, successor, None).await, 400, "invalid_grant", app.backend).await;
    }
}

#[tokio::test]
async fn suspending_the_user_makes_the_live_access_token_fail_and_refresh_is_refused() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let spa = app.user_app(ApplicationType::Native, false).await;
        let signed_in = app.sign_in(&user, &spa.id, &SCOPES).await;
        expect_accepted(&app, &signed_in.access_token).await;

        app.suspend(&user).await;

        expect_unauthorized(&app, &signed_in.access_token).await;
        let refresh_token = signed_in.refresh_token.expect("a refresh token");
        expect_oauth_error(refresh(&app, &spa, refresh_token.expose(), None).await, 400, "invalid_grant", app.backend)
            .await;
    }
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scopes_but_widening_them_is_an_invalid_scope() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let spa = app.user_app(ApplicationType::Spa, false).await;
        let signed_in = app.sign_in(&user, &spa.id, &SCOPES).await;
        let refresh_token = signed_in.refresh_token.expect("a refresh token");

        let wider = refresh(&app, &spa, refresh_token.expose(), Some("openid profile email")).await;
        expect_oauth_error(wider, 400, "invalid_scope", app.backend).await;
        // A refused widening did not use the token up.
        let narrower = refresh(&app, &spa, refresh_token.expose(), Some("openid")).await;
        let body = expect_tokens(narrower, app.backend).await;
        assert_eq!(body["scope"], "openid", "on {}: {body}", app.backend);
    }
}

#[tokio::test]
async fn a_confidential_client_must_authenticate_and_public_ones_may_not_send_a_secret() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let web = app.user_app(ApplicationType::Traditional, false).await;
        let signed_in = app.sign_in(&user, &web.id, &SCOPES).await;
        let refresh_token = signed_in.refresh_token.expect("a refresh token");
        let without_secret = Client { secret: None, ..web.clone() };

        let refused = refresh(&app, &without_secret, refresh_token.expose(), None).await;
        expect_oauth_error(refused, 401, "invalid_client", app.backend).await;
        let secret = web.secret.as_deref().expect("a confidential app has a secret");
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose())];
        expect_tokens(app.post(Some((&web.id, secret)), &form).await, app.backend).await;

        let spa = app.user_app(ApplicationType::Spa, false).await;
        let spa_with_secret = Client { secret: Some("made-up".to_owned()), ..spa };
        let refused = refresh(&app, &spa_with_secret, "whatever", None).await;
        expect_oauth_error(refused, 401, "invalid_client", app.backend).await;
    }
}

#[tokio::test]
async fn unknown_missing_and_other_clients_refresh_tokens_are_refused() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let spa = app.user_app(ApplicationType::Spa, false).await;
        let other = app.user_app(ApplicationType::Spa, false).await;
        let signed_in = app.sign_in(&user, &spa.id, &SCOPES).await;
        let refresh_token = signed_in.refresh_token.expect("a refresh token");

        expect_oauth_error(
            refresh(&app, &other, refresh_token.expose(), None).await,
            400,
            "invalid_grant",
            app.backend,
        )
        .await;
        expect_oauth_error(refresh(&app, &spa, "not-a-refresh-token", None).await, 400, "invalid_grant", app.backend)
            .await;
        let missing = app.post(None, &[("grant_type", "refresh_token"), ("client_id", &spa.id)]).await;
        let body: Value = expect_oauth_error(missing, 400, "invalid_request", app.backend).await;
        assert_eq!(body["error_description"], "missing required parameter 'refresh_token'", "on {}", app.backend);
        // The other client's attempt did not spend the token.
        expect_tokens(refresh(&app, &spa, refresh_token.expose(), None).await, app.backend).await;
    }
}
