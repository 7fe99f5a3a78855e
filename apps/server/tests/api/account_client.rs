//! An end user of the Account API as the tests drive it: the access token of one session, requests with or without
//! a verification record, and the Logto error shape every refusal must have. Shared by the Account API suites.

use latchkey_domain::account_center::{AccountCenterFields, AccountCenterRepository, AccountCenterSettings};
use latchkey_domain::mfa::{self, MfaFactorType};
use latchkey_domain::sign_in_experience::SignInExperienceRepository;
use latchkey_domain::{Clock, SystemClock, UserId};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::harness::TokenApp;

/// A signed-in user of one server: the token of one session.
pub struct AccountSession<'a> {
    pub app: &'a TokenApp,
    pub token: String,
    pub session_id: String,
    /// The `User-Agent` of every request, when the test names one (passkeys record it).
    user_agent: Option<&'static str>,
}

impl<'a> AccountSession<'a> {
    /// A new session of `user_id` through `client_id` with `scopes`.
    pub async fn start(app: &'a TokenApp, user_id: &UserId, client_id: &str, scopes: &[&str]) -> Self {
        let issued = app.sign_in(user_id, client_id, scopes).await;
        Self { app, token: issued.access_token, session_id: issued.session_id, user_agent: None }
    }

    /// This session, sending `user_agent` as its `User-Agent`.
    pub fn with_user_agent(self, user_agent: &'static str) -> Self {
        Self { user_agent: Some(user_agent), ..self }
    }

    /// `method path` (from `/api…`) with the token, the record in `logto-verification-id` and a JSON body.
    pub async fn send(&self, method: Method, path: &str, record: Option<&str>, body: Option<Value>) -> Response {
        let mut request =
            self.app.client.request(method, format!("{}{path}", self.app.address)).bearer_auth(&self.token);
        if let Some(record) = record {
            request = request.header("logto-verification-id", record);
        }
        if let Some(user_agent) = self.user_agent {
            request = request.header("user-agent", user_agent);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the server answers")
    }

    /// The status of the answer to `method path`.
    pub async fn status(&self, method: Method, path: &str, record: Option<&str>, body: Option<Value>) -> u16 {
        self.send(method, path, record, body).await.status().as_u16()
    }

    /// Asserts the answer's `status` and returns its JSON body (`null` when it has none).
    pub async fn expect(
        &self,
        status: u16,
        method: Method,
        path: &str,
        record: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let response = self.send(method, path, record, body).await;
        let actual = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(actual, status, "{path} on {}: {text}", self.app.backend);
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("a JSON body") }
    }

    /// The JSON of a 200 answer.
    pub async fn ok(&self, method: Method, path: &str, record: Option<&str>) -> Value {
        let body = self.expect(200, method, path, record, None).await;
        assert!(!body.is_null(), "{path} on {}: no body", self.app.backend);
        body
    }

    /// Asserts a 204 answer.
    pub async fn done(&self, method: Method, path: &str, record: Option<&str>) {
        self.expect(204, method, path, record, None).await;
    }

    /// `GET /api/my-account`.
    pub async fn me(&self) -> Value {
        self.ok(Method::GET, "/api/my-account", None).await
    }

    /// A password verification record of this session (201), with Logto's ISO-8601 expiry.
    pub async fn password_record(&self, password: &str) -> String {
        let body = json!({"password": password});
        let made = self.expect(201, Method::POST, "/api/verifications/password", None, Some(body)).await;
        let expires_at = made["expiresAt"].as_str().expect("an ISO-8601 expiry");
        assert!(expires_at.ends_with('Z') && expires_at.len() == 24, "{made}");
        made["verificationRecordId"].as_str().unwrap().to_owned()
    }
}

/// Turns the account center on with these fields (the rest `Off`).
pub async fn set_account_center(app: &TokenApp, fields: AccountCenterFields) {
    let repository = app.store.account_center();
    let stored = repository.get().await.unwrap();
    let settings = AccountCenterSettings { enabled: true, fields, ..AccountCenterSettings::default() };
    repository.save(&settings, stored.version, SystemClock.now()).await.expect("saving the account center");
}

/// Enables exactly `factors` in the stored sign-in experience.
pub async fn set_mfa_factors(app: &TokenApp, factors: &[MfaFactorType]) {
    let repository = app.store.sign_in_experience();
    let mut stored = repository.get().await.unwrap();
    stored.settings.mfa.factors = factors.to_vec();
    repository.save(&stored.settings, stored.version, SystemClock.now()).await.expect("saving the sign-in experience");
}

/// The TOTP code of `secret` now.
pub fn totp_code(secret: &str) -> String {
    mfa::totp::code_at(secret, SystemClock.now()).expect("a valid TOTP secret")
}

/// A user made through the Management API (so the password is hashed as the server does).
pub async fn create_user(app: &TokenApp, body: Value) -> UserId {
    post_user(app, &app.management_token().await, body).await
}

/// As [`create_user`], on a server whose endpoint is not the tests' default: the Management API token is asked for
/// `resource`, that endpoint's `/api`.
pub async fn create_user_through(app: &TokenApp, resource: &str, body: Value) -> UserId {
    let (client_id, client_secret) = app.management_app().await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", client_secret.as_str()),
        ("resource", resource),
        ("scope", "all"),
    ];
    let tokens: Value = app.post(None, &form).await.json().await.unwrap();
    let token = tokens["access_token"].as_str().unwrap_or_else(|| panic!("a management token: {tokens}"));
    post_user(app, token, body).await
}

async fn post_user(app: &TokenApp, token: &str, body: Value) -> UserId {
    let response =
        app.client.post(format!("{}/api/users", app.address)).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "on {}", app.backend);
    let user: Value = response.json().await.unwrap();
    UserId::parse(user["id"].as_str().unwrap()).unwrap()
}
