//! `/api/users/{userId}/personal-access-tokens` on every backend under test: the value shown once and stored
//! hashed, exchange at `/oidc/token`, `lastUsedAt` and `scopes`, Logto's current and legacy rename/delete forms,
//! immediate revocation on delete, the audit entries, Logto's error codes and the Management API guard.

use latchkey_domain::UserId;
use latchkey_domain::application::ApplicationType;
use latchkey_domain::audit::{AuditEntry, AuditFilter, AuditLogRepository, keys};
use latchkey_domain::ports::Pagination;
use latchkey_domain::{Clock, SystemClock};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::harness::{Client, TokenApp, expect_accepted, expect_tokens, expect_unauthorized};
use crate::helpers::expect_api_error;

pub const PAT_TYPE: &str = "urn:logto:token-type:personal_access_token";

/// Sends a Management API request with `token` (none: no `Authorization` header).
pub async fn call(app: &TokenApp, token: Option<&str>, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut request = app.client.request(method, format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("the server answers")
}

/// Asserts a status and returns the JSON body (`null` when there is none).
pub async fn expect_status(response: Response, status: u16, backend: &str) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.expect("a body");
    assert_eq!(actual, status, "on {backend}: {text}");
    if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("a JSON body") }
}

/// The audit entries about `user` with `key`, newest first.
pub async fn audit_entries(app: &TokenApp, user: &UserId, key: &str) -> Vec<AuditEntry> {
    let filter =
        AuditFilter { user_id: Some(user.as_str().to_owned()), key: Some(key.to_owned()), ..AuditFilter::default() };
    app.store.audit_log().list(&filter, Pagination::new(1, 100).unwrap()).await.expect("reading the audit log").items
}

/// A management token and the id of the app it was issued to.
pub async fn management_client(app: &TokenApp) -> (String, String) {
    let (client_id, client_secret) = app.management_app().await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", client_secret.as_str()),
        ("resource", app.management_api()),
        ("scope", "all"),
    ];
    let body = expect_tokens(app.post(None, &form).await, app.backend).await;
    (body["access_token"].as_str().unwrap().to_owned(), client_id)
}

async fn exchange_pat(app: &TokenApp, client: &Client, value: &str) -> Response {
    let mut form = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange".to_owned()),
        ("subject_token", value.to_owned()),
        ("subject_token_type", PAT_TYPE.to_owned()),
    ];
    form.extend(client.form_fields());
    let form: Vec<(&str, &str)> = form.iter().map(|(name, value)| (*name, value.as_str())).collect();
    app.post(None, &form).await
}

fn tokens_path(user: &UserId) -> String {
    format!("/api/users/{}/personal-access-tokens", user.as_str())
}

#[tokio::test]
async fn a_token_is_shown_once_exchanged_listed_without_its_value_and_dies_when_deleted() {
    for app in TokenApp::all().await {
        let (admin, _) = management_client(&app).await;
        let user = app.user().await;
        let path = tokens_path(&user);

        let created = call(&app, Some(&admin), Method::POST, &path, Some(json!({"name": "ci"}))).await;
        let created = expect_status(created, 201, app.backend).await;
        let value = created["value"].as_str().expect("the value, shown once").to_owned();
        assert!(value.starts_with("pat_"), "on {}: {created}", app.backend);
        assert_eq!((created["userId"].as_str(), created["name"].as_str()), (Some(user.as_str()), Some("ci")));
        assert!(created["createdAt"].is_i64() && created["expiresAt"].is_null(), "on {}: {created}", app.backend);

        let client = app.user_app(ApplicationType::Traditional, true).await;
        let exchanged = expect_tokens(exchange_pat(&app, &client, &value).await, app.backend).await;
        let access_token = exchanged["access_token"].as_str().unwrap().to_owned();
        expect_accepted(&app, &access_token).await;

        let listed = expect_status(call(&app, Some(&admin), Method::GET, &path, None).await, 200, app.backend).await;
        let listed = listed.as_array().expect("a list");
        assert_eq!(listed.len(), 1, "on {}", app.backend);
        assert!(listed[0].get("value").is_none(), "on {}: the value is listed: {listed:?}", app.backend);
        assert!(listed[0]["lastUsedAt"].is_i64(), "on {}: {listed:?}", app.backend);
        assert_eq!(listed[0]["scopes"], json!([]), "on {}", app.backend);

        let deleted =
            call(&app, Some(&admin), Method::POST, &format!("{path}/delete"), Some(json!({"name": "ci"}))).await;
        expect_status(deleted, 204, app.backend).await;
        expect_unauthorized(&app, &access_token).await;

        let entries = audit_entries(&app, &user, keys::USER_PERSONAL_ACCESS_TOKENS_UPDATED).await;
        let actions: Vec<_> = entries.iter().map(|entry| entry.details["action"].clone()).collect();
        assert_eq!(actions, [json!("deleted"), json!("created")], "on {}", app.backend);
        for entry in &entries {
            assert_eq!(entry.details["name"], "ci", "on {}", app.backend);
            let logged = serde_json::to_string(&entry.details).unwrap();
            assert!(!logged.contains(&value), "on {}: the value is logged", app.backend);
        }
    }
}

#[tokio::test]
async fn tokens_are_renamed_and_deleted_by_body_or_by_legacy_path() {
    for app in TokenApp::all().await {
        let (admin, _) = management_client(&app).await;
        let user = app.user().await;
        let path = tokens_path(&user);
        for name in ["laptop", "ci"] {
            let created = call(&app, Some(&admin), Method::POST, &path, Some(json!({"name": name}))).await;
            expect_status(created, 201, app.backend).await;
        }

        let body = json!({"currentName": "ci", "name": "deploy"});
        let renamed = call(&app, Some(&admin), Method::PATCH, &path, Some(body)).await;
        let renamed = expect_status(renamed, 200, app.backend).await;
        assert_eq!(renamed["name"], "deploy", "on {}", app.backend);
        assert!(renamed.get("value").is_none(), "on {}: {renamed}", app.backend);

        let legacy =
            call(&app, Some(&admin), Method::PATCH, &format!("{path}/deploy"), Some(json!({"name": "laptop"}))).await;
        expect_api_error(legacy, 422, "user.personal_access_token_name_exists", app.backend).await;
        let legacy =
            call(&app, Some(&admin), Method::PATCH, &format!("{path}/deploy"), Some(json!({"name": "build"}))).await;
        assert_eq!(expect_status(legacy, 200, app.backend).await["name"], "build");

        let deleted = call(&app, Some(&admin), Method::DELETE, &format!("{path}/build"), None).await;
        expect_status(deleted, 204, app.backend).await;
        let again = call(&app, Some(&admin), Method::DELETE, &format!("{path}/build"), None).await;
        expect_api_error(again, 404, "entity.not_found", app.backend).await;
        let absent =
            call(&app, Some(&admin), Method::POST, &format!("{path}/delete"), Some(json!({"name": "x"}))).await;
        expect_api_error(absent, 404, "entity.not_found", app.backend).await;
        let absent =
            call(&app, Some(&admin), Method::PATCH, &path, Some(json!({"currentName": "x", "name": "y"}))).await;
        expect_api_error(absent, 404, "entity.not_found", app.backend).await;

        let listed = expect_status(call(&app, Some(&admin), Method::GET, &path, None).await, 200, app.backend).await;
        assert_eq!(listed.as_array().map(Vec::len), Some(1), "on {}: {listed}", app.backend);
        let entries = audit_entries(&app, &user, keys::USER_PERSONAL_ACCESS_TOKENS_UPDATED).await;
        // Two creations, two renames, one delete: refused changes are not logged.
        assert_eq!(entries.len(), 5, "on {}", app.backend);
    }
}

#[tokio::test]
async fn a_past_expiry_is_invalid_input_a_duplicate_name_is_refused_and_scopes_are_kept() {
    for app in TokenApp::all().await {
        let (admin, _) = management_client(&app).await;
        let user = app.user().await;
        let path = tokens_path(&user);

        let past = json!({"name": "old", "expiresAt": SystemClock.now().as_millis() - 1_000});
        let refused = call(&app, Some(&admin), Method::POST, &path, Some(past)).await;
        expect_api_error(refused, 400, "request.invalid_input", app.backend).await;

        let expires_at = SystemClock.now().as_millis() + 3_600_000;
        let body = json!({"name": "ci", "expiresAt": expires_at, "scopes": ["profile"]});
        let created = call(&app, Some(&admin), Method::POST, &path, Some(body)).await;
        let created = expect_status(created, 201, app.backend).await;
        assert_eq!((created["expiresAt"].as_i64(), &created["scopes"]), (Some(expires_at), &json!(["profile"])));

        let duplicate = call(&app, Some(&admin), Method::POST, &path, Some(json!({"name": "ci"}))).await;
        expect_api_error(duplicate, 422, "user.personal_access_token_name_exists", app.backend).await;
        let empty = call(&app, Some(&admin), Method::POST, &path, Some(json!({"name": ""}))).await;
        expect_api_error(empty, 400, "guard.invalid_input", app.backend).await;

        let listed = expect_status(call(&app, Some(&admin), Method::GET, &path, None).await, 200, app.backend).await;
        assert_eq!(listed[0]["scopes"], json!(["profile"]), "on {}", app.backend);
        assert!(listed[0]["lastUsedAt"].is_null(), "on {}", app.backend);
    }
}

#[tokio::test]
async fn unknown_users_are_not_found_and_only_management_tokens_are_served() {
    for app in TokenApp::all().await {
        let (admin, _) = management_client(&app).await;
        let user = app.user().await;

        for unknown in ["nosuchuser00", "not-a-user-id"] {
            let path = format!("/api/users/{unknown}/personal-access-tokens");
            expect_api_error(
                call(&app, Some(&admin), Method::GET, &path, None).await,
                404,
                "entity.not_found",
                app.backend,
            )
            .await;
            let create = call(&app, Some(&admin), Method::POST, &path, Some(json!({"name": "ci"}))).await;
            expect_api_error(create, 404, "entity.not_found", app.backend).await;
        }

        let path = tokens_path(&user);
        let anonymous = call(&app, None, Method::GET, &path, None).await;
        expect_api_error(anonymous, 401, "auth.authorization_header_missing", app.backend).await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let account_token = app.sign_in(&user, &client.id, &["openid"]).await.access_token;
        let refused = call(&app, Some(&account_token), Method::POST, &path, Some(json!({"name": "ci"}))).await;
        expect_api_error(refused, 401, "auth.unauthorized", app.backend).await;
        assert!(audit_entries(&app, &user, keys::USER_PERSONAL_ACCESS_TOKENS_UPDATED).await.is_empty());
    }
}
