//! `POST /oidc/token/revocation` (RFC 7009), on every backend under test: a client's refresh or access token ends
//! its session at once; unknown and other clients' tokens get the same 200 and change nothing.

use latchkey_domain::application::ApplicationType;

use crate::harness::{Client, TokenApp, expect_accepted, expect_oauth_error, expect_tokens, expect_unauthorized};

const REVOCATION: &str = "/oidc/token/revocation";
const SCOPES: [&str; 2] = ["openid", "profile"];

async fn revoke(app: &TokenApp, client: &Client, token: &str, hint: Option<&str>) -> reqwest::Response {
    let mut form = vec![("token", token.to_owned())];
    form.extend(client.form_fields());
    form.extend(hint.map(|hint| ("token_type_hint", hint.to_owned())));
    let form: Vec<(&str, &str)> = form.iter().map(|(name, value)| (*name, value.as_str())).collect();
    app.post_form(REVOCATION, None, &form).await
}

async fn expect_revoked_answer(response: reqwest::Response, backend: &str) {
    assert_eq!(response.status().as_u16(), 200, "on {backend}");
    assert_eq!(response.headers()["cache-control"], "no-store", "on {backend}");
    assert_eq!(response.text().await.unwrap(), "", "on {backend}");
}

async fn refresh_is_refused(app: &TokenApp, client: &Client, refresh_token: &str) {
    let mut form = vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", refresh_token.to_owned())];
    form.extend(client.form_fields());
    let form: Vec<(&str, &str)> = form.iter().map(|(name, value)| (*name, value.as_str())).collect();
    expect_oauth_error(app.post(None, &form).await, 400, "invalid_grant", app.backend).await;
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_the_session_and_its_live_access_token_fails_at_once() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let spa = app.user_app(ApplicationType::Spa, false).await;
        let signed_in = app.sign_in(&user, &spa.id, &SCOPES).await;
        let refresh_token = signed_in.refresh_token.expect("a refresh token");
        expect_accepted(&app, &signed_in.access_token).await;

        expect_revoked_answer(revoke(&app, &spa, refresh_token.expose(), Some("refresh_token")).await, app.backend)
            .await;

        expect_unauthorized(&app, &signed_in.access_token).await;
        refresh_is_refused(&app, &spa, refresh_token.expose()).await;
    }
}

#[tokio::test]
async fn revoking_an_access_token_ends_its_session() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let web = app.user_app(ApplicationType::Traditional, false).await;
        let signed_in = app.sign_in(&user, &web.id, &SCOPES).await;
        expect_accepted(&app, &signed_in.access_token).await;

        let secret = web.secret.as_deref().expect("a confidential app has a secret");
        let form = [("token", signed_in.access_token.as_str()), ("token_type_hint", "access_token")];
        expect_revoked_answer(app.post_form(REVOCATION, Some((&web.id, secret)), &form).await, app.backend).await;

        expect_unauthorized(&app, &signed_in.access_token).await;
        refresh_is_refused(&app, &web, signed_in.refresh_token.expect("a refresh token").expose()).await;
    }
}

#[tokio::test]
async fn unknown_and_other_clients_tokens_get_the_same_200_and_change_nothing() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let spa = app.user_app(ApplicationType::Spa, false).await;
        let other = app.user_app(ApplicationType::Spa, false).await;
        let signed_in = app.sign_in(&user, &spa.id, &SCOPES).await;
        let refresh_token = signed_in.refresh_token.expect("a refresh token");

        expect_revoked_answer(revoke(&app, &other, refresh_token.expose(), None).await, app.backend).await;
        expect_revoked_answer(revoke(&app, &other, &signed_in.access_token, None).await, app.backend).await;
        expect_revoked_answer(revoke(&app, &spa, "no-such-token", None).await, app.backend).await;

        expect_accepted(&app, &signed_in.access_token).await;
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose()), ("client_id", &spa.id)];
        expect_tokens(app.post(None, &form).await, app.backend).await;
    }
}

#[tokio::test]
async fn a_confidential_client_must_authenticate_and_the_token_is_required() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let web = app.user_app(ApplicationType::Traditional, false).await;
        let signed_in = app.sign_in(&user, &web.id, &SCOPES).await;

        let unauthenticated =
            revoke(&app, &Client { secret: None, ..web.clone() }, &signed_in.access_token, None).await;
        expect_oauth_error(unauthenticated, 401, "invalid_client", app.backend).await;
        expect_accepted(&app, &signed_in.access_token).await;

        let secret = web.secret.as_deref().expect("a confidential app has a secret");
        let missing = app.post_form(REVOCATION, Some((&web.id, secret)), &[]).await;
        expect_oauth_error(missing, 400, "invalid_request", app.backend).await;
    }
}
