//! An end user of the Account API as the tests drive it: the access token of one session, requests with or without
//! a verification record, and the Logto error shape every refusal must have. Shared by the Account API suites.

use latchkey_domain::account_center::{AccountCenterFields, AccountCenterRepository, AccountCenterSettings};
use latchkey_domain::{Clock, SystemClock, UserId};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::harness::TokenApp;

/// A signed-in user of one server: the token of one session.
pub struct AccountSession<'a> {
    pub app: &'a TokenApp,
    pub token: String,
    pub session_id: String,
}

impl<'a> AccountSession<'a> {
    /// A new session of `user_id` through `client_id` with `scopes`.
    pub async fn start(app: &'a TokenApp, user_id: &UserId, client_id: &str, scopes: &[&str]) -> Self {
        let issued = app.sign_in(user_id, client_id, scopes).await;
        Self { app, token: issued.access_token, session_id: issued.session_id }
    }

    /// `method path` (from `/api…`) with the token, the record in `logto-verification-id` and a JSON body.
    pub async fn send(&self, method: Method, path: &str, record: Option<&str>, body: Option<Value>) -> Response {
        let mut request =
            self.app.client.request(method, format!("{}{path}", self.app.address)).bearer_auth(&self.token);
        if let Some(record) = record {
            request = request.header("logto-verification-id", record);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the server answers")
    }

    /// The JSON of a 200 answer.
    pub async fn ok(&self, method: Method, path: &str, record: Option<&str>) -> Value {
        let response = self.send(method, path, record, None).await;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "{path} on {}: {body}", self.app.backend);
        serde_json::from_str(&body).expect("a JSON body")
    }

    /// Asserts a 204 answer.
    pub async fn done(&self, method: Method, path: &str, record: Option<&str>) {
        let response = self.send(method, path, record, None).await;
        let status = response.status().as_u16();
        assert_eq!(status, 204, "{path} on {}: {}", self.app.backend, response.text().await.unwrap());
    }

    /// A password verification record of this session (201).
    pub async fn password_record(&self, password: &str) -> String {
        let response =
            self.send(Method::POST, "/api/verifications/password", None, Some(json!({"password": password}))).await;
        assert_eq!(response.status().as_u16(), 201, "on {}", self.app.backend);
        let body: Value = response.json().await.unwrap();
        body["verificationRecordId"].as_str().unwrap().to_owned()
    }
}

/// Asserts a Logto-shaped error (status, code, a message) and returns its body.
pub async fn expect_error(response: Response, status: u16, code: &str, backend: &str) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!((actual, body["code"].as_str()), (status, Some(code)), "on {backend}: {body}");
    assert!(body["message"].as_str().is_some_and(|message| !message.is_empty()), "on {backend}: {body}");
    body
}

/// Turns the account center on with these fields (the rest `Off`).
pub async fn set_account_center(app: &TokenApp, fields: AccountCenterFields) {
    let repository = app.store.account_center();
    let stored = repository.get().await.unwrap();
    let settings = AccountCenterSettings { enabled: true, fields, ..AccountCenterSettings::default() };
    repository.save(&settings, stored.version, SystemClock.now()).await.expect("saving the account center");
}

/// A user made through the Management API (so the password is hashed as the server does).
pub async fn create_user(app: &TokenApp, body: Value) -> UserId {
    let token = app.management_token().await;
    let response =
        app.client.post(format!("{}/api/users", app.address)).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "on {}", app.backend);
    let user: Value = response.json().await.unwrap();
    UserId::parse(user["id"].as_str().unwrap()).unwrap()
}
