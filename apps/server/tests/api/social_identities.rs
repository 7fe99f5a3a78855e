//! Social identities end to end against a real OpenID Connect provider (panva's oidc-provider, run by node from
//! tests/oidc-provider), on every backend under test: the Account API's social verification (start, the user at
//! the provider's login and consent pages, the callback verified), linking, unlinking, the last-sign-in-method
//! rule, an identity another user has, a forged `state`, a record of another session, and the Management API's
//! `POST /api/users/:id/identities`.
//!
//! These tests need node and `npm ci` in tests/oidc-provider, so they run only with `LATCHKEY_OIDC_PROVIDER=1`
//! (CI sets it); otherwise each says it was skipped and passes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use latchkey_domain::UserId;
use latchkey_domain::account_center::{AccountCenterFields, FieldAccess};
use latchkey_domain::application::ApplicationType;
use latchkey_server::Settings;
use latchkey_server::settings::{SecretSetting, SocialConnectorSettings};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, redirect};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use url::Url;

use crate::account_client::{AccountSession, create_user, set_account_center};
use crate::harness::TokenApp;
use crate::helpers::expect_api_error;

const CONNECTOR_ID: &str = "test-op";
const TARGET: &str = "testop";
/// Never fetched: the test reads the code from the provider's redirect to it.
const REDIRECT_URI: &str = "http://127.0.0.1/callback";
/// The provider's one client (tests/oidc-provider/server.mjs).
const CLIENT_ID: &str = "latchkey-test";
const CLIENT_SECRET: &str = "latchkey-test-client-secret";
const PASSWORD: &str = "Correct-Horse-7-battery";
const SCOPES: &[&str] = &["openid", "profile", "email", "identities"];

/// The provider process, ended when dropped.
struct Provider {
    issuer: String,
    _process: Child,
    // Kept open so that the provider never writes to a closed pipe.
    _stdout: Lines<BufReader<ChildStdout>>,
}

/// The provider on a free port, or `None` (with a note on stderr) when the tests are not asked to run.
async fn provider(test: &str) -> Option<Provider> {
    if std::env::var("LATCHKEY_OIDC_PROVIDER").as_deref() != Ok("1") {
        eprintln!("{test} skipped: set LATCHKEY_OIDC_PROVIDER=1 (needs node and `npm ci` in tests/oidc-provider)");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc-provider/server.mjs");
    let mut process = Command::new("node")
        .arg(script)
        .args(["--port", "0", "--redirect-uri", REDIRECT_URI])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting node tests/oidc-provider/server.mjs");
    let mut stdout = BufReader::new(process.stdout.take().expect("piped stdout")).lines();
    let issuer = stdout.next_line().await.expect("reading the provider's stdout").expect("the issuer line");
    Some(Provider { issuer, _process: process, _stdout: stdout })
}

/// Every backend, with the provider configured as connector [`CONNECTOR_ID`].
async fn apps(provider: &Provider) -> Vec<TokenApp> {
    let issuer = provider.issuer.clone();
    TokenApp::all_with(move |settings: &mut Settings| {
        let connector = SocialConnectorSettings {
            target: TARGET.to_owned(),
            issuer: issuer.clone(),
            client_id: CLIENT_ID.to_owned(),
            client_secret: SecretSetting::new(CLIENT_SECRET),
            scope: "openid profile email".to_owned(),
        };
        settings.social_connectors.insert(CONNECTOR_ID.to_owned(), connector);
    })
    .await
}

/// The account center on with `social` editable (and readable, for `GET /api/my-account`).
async fn social_editable(app: &TokenApp) {
    set_account_center(app, AccountCenterFields { social: Some(FieldAccess::Edit), ..Default::default() }).await;
}

/// The cookies a browser keeps for the provider's one host. Paths are not kept: every cookie goes with every
/// request, which the provider does not mind. (reqwest's own cookie store would be a `cookies` feature on reqwest,
/// which changes the features of half the dependency tree for test builds: a second full build on a shared machine.)
#[derive(Default)]
struct CookieJar(BTreeMap<String, String>);

impl CookieJar {
    fn keep(&mut self, response: &reqwest::Response) {
        for header in response.headers().get_all(SET_COOKIE) {
            let cookie = header.to_str().expect("an ASCII cookie");
            let pair = cookie.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else { continue };
            let attributes = cookie.to_ascii_lowercase();
            let cleared = value.is_empty() || attributes.contains("max-age=0") || attributes.contains("01 jan 1970");
            if cleared {
                self.0.remove(name.trim());
            } else {
                self.0.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    fn header(&self) -> String {
        self.0.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }
}

/// The user `login` at the provider: follows `authorization_uri` through the development login and consent pages
/// (a browser with cookies that does not follow redirects itself) and returns the query of the provider's redirect
/// to [`REDIRECT_URI`]: the callback's `connectorData`.
async fn authorize_at_provider(authorization_uri: &str, login: &str) -> Map<String, Value> {
    let browser = reqwest::Client::builder().redirect(redirect::Policy::none()).build().unwrap();
    let mut cookies = CookieJar::default();
    let mut next = Url::parse(authorization_uri).expect("an absolute authorization URI");
    for _ in 0..12 {
        if next.as_str().starts_with(REDIRECT_URI) {
            return next
                .query_pairs()
                .map(|(key, value)| (key.into_owned(), Value::from(value.into_owned())))
                .collect();
        }
        let mut response =
            browser.get(next.clone()).header(COOKIE, cookies.header()).send().await.expect("the provider answers");
        cookies.keep(&response);
        if response.status() == 200 {
            // An interaction page: sign in with any password, or consent.
            let page = response.text().await.unwrap();
            let action = form_action(&page);
            let form: Vec<(&str, &str)> = if page.contains(r#"name="prompt" value="login""#) {
                vec![("prompt", "login"), ("login", login), ("password", "anything")]
            } else {
                vec![("prompt", "consent")]
            };
            let submit = next.join(&action).unwrap();
            response = browser.post(submit).header(COOKIE, cookies.header()).form(&form).send().await.unwrap();
            cookies.keep(&response);
        }
        assert!(response.status().is_redirection(), "the provider answered {} at {next}", response.status());
        let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
        next = next.join(&location).unwrap();
    }
    panic!("the provider never redirected to {REDIRECT_URI}");
}

fn form_action(page: &str) -> String {
    let start = page.find("action=\"").expect("an interaction form") + "action=\"".len();
    let length = page[start..].find('"').expect("a closed action attribute");
    page[start..start + length].to_owned()
}

/// `POST /api/verifications/social` with `state`: the record and the authorization URI.
async fn start(session: &AccountSession<'_>, state: &str) -> (String, String) {
    let body = json!({"connectorId": CONNECTOR_ID, "state": state, "redirectUri": REDIRECT_URI});
    let response = session.send(Method::POST, "/api/verifications/social", None, Some(body)).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "on {}: {body}", session.app.backend);
    assert!(body["expiresAt"].as_str().is_some(), "on {}: {body}", session.app.backend);
    let record = body["verificationRecordId"].as_str().unwrap().to_owned();
    (record, body["authorizationUri"].as_str().unwrap().to_owned())
}

async fn verify(session: &AccountSession<'_>, record: &str, callback: &Map<String, Value>) -> reqwest::Response {
    let body = json!({"verificationRecordId": record, "connectorData": callback});
    session.send(Method::POST, "/api/verifications/social/verify", None, Some(body)).await
}

/// A verified social record of `session` for the provider's user `login`.
async fn verified_record(session: &AccountSession<'_>, login: &str) -> String {
    let (record, uri) = start(session, "a-state").await;
    let callback = authorize_at_provider(&uri, login).await;
    let response = verify(session, &record, &callback).await;
    assert_eq!(response.status().as_u16(), 200, "on {}: {}", session.app.backend, response.text().await.unwrap());
    record
}

async fn link(session: &AccountSession<'_>, record: &str, verification: Option<&str>) -> reqwest::Response {
    let body = json!({"newIdentifierVerificationRecordId": record});
    session.send(Method::POST, "/api/my-account/identities", verification, Some(body)).await
}

/// A session of a new user made from `body`, through a first-party client.
async fn new_session<'a>(app: &'a TokenApp, body: Value) -> (UserId, AccountSession<'a>) {
    let user_id = create_user(app, body).await;
    let client = app.user_app(ApplicationType::Spa, false).await.id;
    let session = AccountSession::start(app, &user_id, &client, SCOPES).await;
    (user_id, session)
}

#[tokio::test]
async fn a_social_identity_is_linked_through_a_real_provider_shown_on_the_account_replaced_and_unlinked() {
    let Some(provider) = provider("a_social_identity_is_linked_through_a_real_provider").await else { return };
    for app in apps(&provider).await {
        let backend = app.backend;
        social_editable(&app).await;
        let (_, me) = new_session(&app, json!({"username": "ada", "password": PASSWORD})).await;

        let (record, uri) = start(&me, "state-1").await;
        assert!(uri.starts_with(&provider.issuer), "on {backend}: {uri}");
        assert!(uri.contains("code_challenge_method=S256") && uri.contains("nonce="), "on {backend}: {uri}");
        let callback = authorize_at_provider(&uri, "alice").await;
        assert_eq!(callback["state"], "state-1", "on {backend}");
        let response = verify(&me, &record, &callback).await;
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"verificationRecordId": record}), "on {backend}");

        // The user has a password: linking needs a record proving their identity.
        expect_api_error(link(&me, &record, None).await, 401, "verification_record.permission_denied", backend).await;
        let password_record = me.password_record(PASSWORD).await;
        let response = link(&me, &record, Some(&password_record)).await;
        assert_eq!(response.status().as_u16(), 204, "on {backend}: {}", response.text().await.unwrap());

        let account = me.ok(Method::GET, "/api/my-account", None).await;
        let identity = &account["identities"][TARGET];
        assert_eq!(identity["userId"], "alice", "on {backend}: {account}");
        assert_eq!(identity["details"]["email"], "alice@example.com", "on {backend}: {account}");
        assert_eq!(identity["details"]["name"], "Test alice", "on {backend}: {account}");

        // No provider token set is kept; without the identities scope the route is forbidden first.
        let path = format!("/api/my-account/identities/{TARGET}/access-token");
        let response = me.send(Method::GET, &path, None, None).await;
        expect_api_error(response, 404, "secrets.third_party_token_set.token_not_found", backend).await;
        let someone = create_user(&app, json!({})).await;
        let unscoped = AccountSession::start(&app, &someone, &me_client(&app).await, &["openid", "profile"]).await;
        expect_api_error(unscoped.send(Method::GET, &path, None, None).await, 403, "auth.forbidden", backend).await;

        // Another account at the same provider: POST refuses a second identity at the target, PUT replaces it.
        let second = verified_record(&me, "bob").await;
        let response = link(&me, &second, Some(&password_record)).await;
        expect_api_error(response, 400, "user.identity_already_in_use", backend).await;
        let body = json!({"newIdentifierVerificationRecordId": second});
        let response = me.send(Method::PUT, "/api/my-account/identities", Some(&password_record), Some(body)).await;
        assert_eq!(response.status().as_u16(), 204, "on {backend}: {}", response.text().await.unwrap());
        let account = me.ok(Method::GET, "/api/my-account", None).await;
        assert_eq!(account["identities"][TARGET]["userId"], "bob", "on {backend}: {account}");
        assert_eq!(account["identities"][TARGET]["details"]["email"], "bob@example.com", "on {backend}: {account}");

        let unlink_path = format!("/api/my-account/identities/{TARGET}");
        me.done(Method::DELETE, &unlink_path, Some(&password_record)).await;
        let account = me.ok(Method::GET, "/api/my-account", None).await;
        assert_eq!(account["identities"], json!({}), "on {backend}: {account}");
        let response = me.send(Method::DELETE, &unlink_path, Some(&password_record), None).await;
        expect_api_error(response, 404, "user.identity_not_exist", backend).await;
    }
}

async fn me_client(app: &TokenApp) -> String {
    app.user_app(ApplicationType::Spa, false).await.id
}

#[tokio::test]
async fn unlinking_the_last_way_to_sign_in_is_refused() {
    let Some(provider) = provider("unlinking_the_last_way_to_sign_in_is_refused").await else { return };
    for app in apps(&provider).await {
        let backend = app.backend;
        social_editable(&app).await;
        // Nothing to verify with: neither linking nor unlinking asks for a record.
        let (_, me) = new_session(&app, json!({})).await;
        let record = verified_record(&me, "carol").await;
        let response = link(&me, &record, None).await;
        assert_eq!(response.status().as_u16(), 204, "on {backend}: {}", response.text().await.unwrap());

        let response = me.send(Method::DELETE, &format!("/api/my-account/identities/{TARGET}"), None, None).await;
        expect_api_error(response, 400, "user.last_sign_in_method_required", backend).await;
        let account = me.ok(Method::GET, "/api/my-account", None).await;
        assert_eq!(account["identities"][TARGET]["userId"], "carol", "on {backend}: {account}");
    }
}

#[tokio::test]
async fn an_identity_another_user_has_is_refused_by_both_apis() {
    let Some(provider) = provider("an_identity_another_user_has_is_refused_by_both_apis").await else { return };
    for app in apps(&provider).await {
        let backend = app.backend;
        social_editable(&app).await;
        let (_, first) = new_session(&app, json!({})).await;
        let record = verified_record(&first, "dave").await;
        assert_eq!(link(&first, &record, None).await.status().as_u16(), 204, "on {backend}");

        let (second_id, second) = new_session(&app, json!({})).await;
        let record = verified_record(&second, "dave").await;
        expect_api_error(link(&second, &record, None).await, 422, "user.identity_already_in_use", backend).await;

        // The Management API links from connectorData, with the redirect URI the code was issued for.
        let token = app.management_token().await;
        let by_connector = |code: Map<String, Value>| {
            let mut connector_data = code;
            connector_data.insert("redirectUri".to_owned(), Value::from(REDIRECT_URI));
            app.client
                .post(format!("{}/api/users/{second_id}/identities", app.address))
                .bearer_auth(&token)
                .json(&json!({"connectorId": CONNECTOR_ID, "connectorData": connector_data}))
                .send()
        };
        let callback = authorize_at_provider(&plain_authorization_uri(&provider), "dave").await;
        let response = by_connector(callback).await.unwrap();
        expect_api_error(response, 422, "user.identity_already_in_use", backend).await;

        let callback = authorize_at_provider(&plain_authorization_uri(&provider), "erin").await;
        let response = by_connector(callback).await.unwrap();
        let status = response.status().as_u16();
        let identities: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "on {backend}: {identities}");
        assert_eq!(identities[TARGET]["userId"], "erin", "on {backend}: {identities}");
        assert_eq!(identities[TARGET]["details"]["email"], "erin@example.com", "on {backend}: {identities}");

        let response = app
            .client
            .post(format!("{}/api/users/{second_id}/identities", app.address))
            .bearer_auth(&token)
            .json(&json!({"connectorId": "nope", "connectorData": {"code": "x"}}))
            .send()
            .await
            .unwrap();
        expect_api_error(response, 422, "session.invalid_connector_id", backend).await;
    }
}

/// An authorization request started elsewhere than Latchkey (no PKCE, no nonce), as a client of the Management
/// API's linking would make it.
fn plain_authorization_uri(provider: &Provider) -> String {
    let mut uri = Url::parse(&format!("{}/auth", provider.issuer)).unwrap();
    uri.query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email")
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("state", "elsewhere");
    uri.to_string()
}

#[tokio::test]
async fn a_forged_state_a_record_of_another_session_and_an_unknown_connector_are_refused() {
    let Some(provider) = provider("a_forged_state_a_record_of_another_session").await else { return };
    for app in apps(&provider).await {
        let backend = app.backend;
        social_editable(&app).await;
        let (user_id, me) = new_session(&app, json!({})).await;
        let (record, uri) = start(&me, "expected").await;
        let callback = authorize_at_provider(&uri, "frank").await;

        let mut forged = callback.clone();
        forged.insert("state".to_owned(), Value::from("forged"));
        expect_api_error(verify(&me, &record, &forged).await, 400, "session.csrf_token_mismatch", backend).await;

        let other = AccountSession::start(&app, &user_id, &me_client(&app).await, SCOPES).await;
        expect_api_error(verify(&other, &record, &callback).await, 400, "verification_record.not_found", backend).await;

        // Neither refusal used the record up.
        assert_eq!(verify(&me, &record, &callback).await.status().as_u16(), 200, "on {backend}");
        // A record verifies once.
        expect_api_error(verify(&me, &record, &callback).await, 400, "verification_record.not_found", backend).await;

        let body = json!({"connectorId": "nope", "state": "s", "redirectUri": REDIRECT_URI});
        let response = me.send(Method::POST, "/api/verifications/social", None, Some(body)).await;
        expect_api_error(response, 422, "session.invalid_connector_id", backend).await;
    }
}
