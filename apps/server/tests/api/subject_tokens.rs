//! `POST /api/subject-tokens` on every backend under test: Logto's shape, the exchange at `/oidc/token`, the
//! required impersonation reason (and the setting that lifts it), the audit entry, suspended and unknown users, and
//! the Management API guard.

use latchkey_domain::application::ApplicationType;
use latchkey_domain::audit::{Actor, keys};
use latchkey_domain::secrets::hash_secret;
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::harness::{Client, TokenApp, expect_accepted, expect_oauth_error, expect_tokens};
use crate::helpers::expect_api_error;
use crate::personal_access_tokens::{audit_entries, call, expect_status, management_client};

const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

async fn exchange(app: &TokenApp, client: &Client, subject_token: &str) -> Response {
    let mut form = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange".to_owned()),
        ("subject_token", subject_token.to_owned()),
        ("subject_token_type", ACCESS_TOKEN_TYPE.to_owned()),
    ];
    form.extend(client.form_fields());
    let form: Vec<(&str, &str)> = form.iter().map(|(name, value)| (*name, value.as_str())).collect();
    app.post(None, &form).await
}

async fn create(app: &TokenApp, token: Option<&str>, body: Value) -> Response {
    call(app, token, Method::POST, "/api/subject-tokens", Some(body)).await
}

#[tokio::test]
async fn a_subject_token_with_a_reason_is_exchanged_once_and_its_impersonation_is_logged() {
    for app in TokenApp::all().await {
        let (admin, admin_client_id) = management_client(&app).await;
        let user = app.user().await;

        let body = json!({"userId": user.as_str(), "context": {"reason": "support ticket 42"}});
        let created = expect_status(create(&app, Some(&admin), body).await, 201, app.backend).await;
        let subject_token = created["subjectToken"].as_str().expect("a subject token").to_owned();
        assert!(subject_token.starts_with("sub_") && subject_token.len() == 25, "on {}: {created}", app.backend);
        assert_eq!(created["expiresIn"], 600, "on {}", app.backend);

        let client = app.user_app(ApplicationType::Spa, true).await;
        let exchanged = expect_tokens(exchange(&app, &client, &subject_token).await, app.backend).await;
        expect_accepted(&app, exchanged["access_token"].as_str().unwrap()).await;
        expect_oauth_error(exchange(&app, &client, &subject_token).await, 400, "invalid_grant", app.backend).await;

        let entries = audit_entries(&app, &user, keys::USER_IMPERSONATION_STARTED).await;
        assert_eq!(entries.len(), 1, "on {}", app.backend);
        let entry = &entries[0];
        assert_eq!(entry.details["reason"], "support ticket 42", "on {}", app.backend);
        assert_eq!(entry.details["subjectTokenId"], hash_secret(&subject_token).as_str(), "on {}", app.backend);
        assert_eq!(entry.context.actor, Actor::Application { id: admin_client_id.clone() }, "on {}", app.backend);
        assert_eq!(entry.context.application_id.as_deref(), Some(admin_client_id.as_str()), "on {}", app.backend);
        assert!(entry.context.ip.is_some(), "on {}", app.backend);
    }
}

#[tokio::test]
async fn impersonation_without_a_reason_is_refused_by_default() {
    for app in TokenApp::all().await {
        let (admin, _) = management_client(&app).await;
        let user = app.user().await;

        for body in [
            json!({"userId": user.as_str()}),
            json!({"userId": user.as_str(), "context": {"purpose": "bench"}}),
            json!({"userId": user.as_str(), "context": {"reason": ""}}),
            json!({"userId": user.as_str(), "context": {"reason": 42}}),
        ] {
            let refused =
                expect_api_error(create(&app, Some(&admin), body).await, 400, "request.invalid_input", app.backend);
            assert!(refused.await["data"]["details"].as_str().unwrap_or_default().contains("reason"));
        }
        let malformed = create(&app, Some(&admin), json!({"userId": user.as_str(), "context": "why"})).await;
        expect_api_error(malformed, 400, "guard.invalid_input", app.backend).await;
        assert!(audit_entries(&app, &user, keys::USER_IMPERSONATION_STARTED).await.is_empty());
    }
}

#[tokio::test]
async fn a_server_set_not_to_require_a_reason_issues_tokens_without_one() {
    for app in TokenApp::all_with(|settings| settings.impersonation_requires_reason = false).await {
        let (admin, _) = management_client(&app).await;
        let user = app.user().await;

        let created = create(&app, Some(&admin), json!({"userId": user.as_str(), "context": {"purpose": "bench"}}));
        let created = expect_status(created.await, 201, app.backend).await;
        assert!(created["subjectToken"].is_string(), "on {}: {created}", app.backend);
        let entries = audit_entries(&app, &user, keys::USER_IMPERSONATION_STARTED).await;
        assert_eq!(entries.len(), 1, "on {}", app.backend);
        assert!(entries[0].details["reason"].is_null(), "on {}", app.backend);
    }
}

#[tokio::test]
async fn unknown_and_suspended_users_get_no_subject_token_and_only_management_tokens_are_served() {
    for app in TokenApp::all().await {
        let (admin, _) = management_client(&app).await;
        let user = app.user().await;
        let reason = json!({"reason": "audit"});

        let unknown = create(&app, Some(&admin), json!({"userId": "nosuchuser00", "context": reason.clone()})).await;
        expect_api_error(unknown, 404, "entity.not_found", app.backend).await;

        let anonymous = create(&app, None, json!({"userId": user.as_str(), "context": reason.clone()})).await;
        expect_api_error(anonymous, 401, "auth.authorization_header_missing", app.backend).await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let account_token = app.sign_in(&user, &client.id, &["openid"]).await.access_token;
        let refused =
            create(&app, Some(&account_token), json!({"userId": user.as_str(), "context": reason.clone()})).await;
        expect_api_error(refused, 401, "auth.unauthorized", app.backend).await;

        app.suspend(&user).await;
        let suspended = create(&app, Some(&admin), json!({"userId": user.as_str(), "context": reason.clone()})).await;
        expect_api_error(suspended, 403, "user.suspended", app.backend).await;
        assert!(audit_entries(&app, &user, keys::USER_IMPERSONATION_STARTED).await.is_empty());
    }
}
