//! `/api/account-center` and the public `/api/.well-known/account-center` on every backend under test: Logto's
//! shape, partial updates with `fields` replaced whole, Logto's input checks, and the Management API guard.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::harness::TokenApp;
use crate::helpers::expect_api_error;

async fn send(app: &TokenApp, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Response {
    let mut request = app.client.request(method, format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("the server answers")
}

async fn ok_json(response: Response, backend: &str) -> Value {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(status, 200, "on {backend}: {body}");
    body
}

#[tokio::test]
async fn the_settings_come_in_logtos_shape_and_a_patch_changes_only_the_keys_it_names() {
    for app in TokenApp::all().await {
        let token = app.management_token().await;
        // The harness switched the Account API on; nothing else was ever set.
        let initial =
            ok_json(send(&app, Method::GET, "/api/account-center", Some(&token), None).await, app.backend).await;
        assert_eq!(
            initial,
            json!({
                "tenantId": "default", "id": "default", "enabled": true, "fields": {}, "webauthnRelatedOrigins": [],
                "deleteAccountUrl": null, "customCss": null, "profileFields": null
            }),
            "on {}",
            app.backend
        );

        let patch = json!({
            "fields": {"name": "Edit", "email": "ReadOnly", "mfa": "Edit"},
            "webauthnRelatedOrigins": ["https://a.example", "https://b.example", "https://a.example"],
            "deleteAccountUrl": "https://example.com/delete-me",
            "profileFields": [{"name": "department"}],
        });
        let patched =
            ok_json(send(&app, Method::PATCH, "/api/account-center", Some(&token), Some(patch)).await, app.backend)
                .await;
        assert_eq!(patched["enabled"], true, "an absent key is kept, on {}", app.backend);
        assert_eq!(patched["fields"], json!({"name": "Edit", "email": "ReadOnly", "mfa": "Edit"}));
        assert_eq!(patched["webauthnRelatedOrigins"], json!(["https://a.example", "https://b.example"]));
        assert_eq!(patched["deleteAccountUrl"], "https://example.com/delete-me");
        assert_eq!(patched["profileFields"], json!([{"name": "department"}]));
        let fetched =
            ok_json(send(&app, Method::GET, "/api/account-center", Some(&token), None).await, app.backend).await;
        assert_eq!(fetched, patched, "on {}", app.backend);

        // `fields` replaces the whole map; `""` clears the URL.
        let patch = json!({"enabled": false, "fields": {"phone": "Edit"}, "deleteAccountUrl": ""});
        let replaced =
            ok_json(send(&app, Method::PATCH, "/api/account-center", Some(&token), Some(patch)).await, app.backend)
                .await;
        assert_eq!(replaced["fields"], json!({"phone": "Edit"}), "on {}", app.backend);
        assert_eq!(replaced["enabled"], false);
        assert_eq!(replaced["deleteAccountUrl"], Value::Null);
        assert_eq!(replaced["webauthnRelatedOrigins"], json!(["https://a.example", "https://b.example"]));

        // The store's own view agrees: the Account API reads these settings.
        let stored = latchkey_domain::account_center::AccountCenterRepository::get(&app.store.account_center())
            .await
            .unwrap()
            .settings;
        assert!(!stored.enabled, "on {}", app.backend);
        assert_eq!(stored.fields.phone, Some(latchkey_domain::account_center::FieldAccess::Edit));
        assert_eq!(stored.fields.name, None);
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_400_and_changes_nothing() {
    for app in TokenApp::all().await {
        let token = app.management_token().await;
        let before =
            ok_json(send(&app, Method::GET, "/api/account-center", Some(&token), None).await, app.backend).await;

        let bad_bodies = [
            json!({"enabled": "yes"}),
            json!({"fields": {"email": "Write"}}),
            json!({"webauthnRelatedOrigins": "https://a.example"}),
            json!({"deleteAccountUrl": "ftp://example.com/delete"}),
            json!({"deleteAccountUrl": "not a url"}),
            json!({"deleteAccountUrl": format!("https://example.com/{}", "a".repeat(2048))}),
            json!({"enabled": false, "fields": {"name": "Edit"}, "deleteAccountUrl": "javascript:alert(1)"}),
        ];
        for body in bad_bodies {
            let response = send(&app, Method::PATCH, "/api/account-center", Some(&token), Some(body.clone())).await;
            assert_eq!(response.status().as_u16(), 400, "{body} on {}", app.backend);
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["code"], "guard.invalid_input", "{body} on {}: {error}", app.backend);
        }
        let malformed = app
            .client
            .patch(format!("{}/api/account-center", app.address))
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body("{\"enabled\": ")
            .send()
            .await
            .unwrap();
        expect_api_error(malformed, 400, "guard.invalid_input", app.backend).await;

        let after =
            ok_json(send(&app, Method::GET, "/api/account-center", Some(&token), None).await, app.backend).await;
        assert_eq!(after, before, "nothing changed on {}", app.backend);
    }
}

#[tokio::test]
async fn only_management_tokens_read_or_change_the_settings() {
    for app in TokenApp::all().await {
        let none = send(&app, Method::GET, "/api/account-center", None, None).await;
        expect_api_error(none, 401, "auth.authorization_header_missing", app.backend).await;
        let none = send(&app, Method::PATCH, "/api/account-center", None, Some(json!({"enabled": false}))).await;
        expect_api_error(none, 401, "auth.authorization_header_missing", app.backend).await;

        // An end user's Account API token, even with every scope, is not for the Management API.
        let user = app.user().await;
        let account_token = app.sign_in(&user, "first-party", &["openid", "profile", "all"]).await.access_token;
        let get = send(&app, Method::GET, "/api/account-center", Some(&account_token), None).await;
        expect_api_error(get, 401, "auth.unauthorized", app.backend).await;
        let patch =
            send(&app, Method::PATCH, "/api/account-center", Some(&account_token), Some(json!({"enabled": false})))
                .await;
        expect_api_error(patch, 401, "auth.unauthorized", app.backend).await;

        let token = app.management_token().await;
        let settings =
            ok_json(send(&app, Method::GET, "/api/account-center", Some(&token), None).await, app.backend).await;
        assert_eq!(settings["enabled"], true, "the refused PATCH changed nothing on {}", app.backend);
    }
}

#[tokio::test]
async fn the_well_known_settings_answer_without_a_token_and_follow_changes() {
    for app in TokenApp::all().await {
        let public =
            ok_json(send(&app, Method::GET, "/api/.well-known/account-center", None, None).await, app.backend).await;
        assert_eq!(public["id"], "default", "on {}: {public}", app.backend);
        assert_eq!(public["fields"], json!({}));

        let token = app.management_token().await;
        let patch = json!({"fields": {"username": "ReadOnly"}, "webauthnRelatedOrigins": ["https://a.example"]});
        let patched =
            ok_json(send(&app, Method::PATCH, "/api/account-center", Some(&token), Some(patch)).await, app.backend)
                .await;
        let public =
            ok_json(send(&app, Method::GET, "/api/.well-known/account-center", None, None).await, app.backend).await;
        assert_eq!(public, patched, "on {}", app.backend);

        let post = send(&app, Method::POST, "/api/.well-known/account-center", None, Some(json!({}))).await;
        assert_eq!(post.status().as_u16(), 405, "read-only, on {}", app.backend);
    }
}
