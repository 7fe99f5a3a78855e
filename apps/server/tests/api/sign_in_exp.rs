//! `/api/sign-in-exp` on every backend under test: the password policy, username policy and MFA settings with
//! Logto's defaults, field names and checks, and the Management API guard.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::harness::TokenApp;
use crate::helpers::expect_api_error;

async fn send(app: &TokenApp, method: Method, token: Option<&str>, body: Option<Value>) -> Response {
    let mut request = app.client.request(method, format!("{}/api/sign-in-exp", app.address));
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
async fn the_defaults_are_logtos_and_a_patch_replaces_only_the_keys_it_names() {
    for app in TokenApp::all().await {
        let token = app.management_token().await;
        let initial = ok_json(send(&app, Method::GET, Some(&token), None).await, app.backend).await;
        assert_eq!(initial["tenantId"], "default", "on {}: {initial}", app.backend);
        assert_eq!(initial["id"], "default");
        assert_eq!(initial["mfa"], json!({"factors": [], "policy": "UserControlled"}));
        assert_eq!(
            initial["usernamePolicy"],
            json!({"caseSensitive": true, "minLength": 1, "maxLength": 128,
                "allowedChars": {"lowercase": true, "uppercase": true, "numbers": true, "underscore": true}})
        );
        assert_eq!(
            initial["passwordPolicy"],
            json!({"length": {"min": 8, "max": 256}, "characterTypes": {"min": 1},
                "rejects": {"pwned": true, "repetitionAndSequence": true, "userInfo": true, "words": []}})
        );

        let patch = json!({
            "mfa": {"factors": ["Totp", "WebAuthn", "BackupCode"], "policy": "Mandatory"},
            "passwordPolicy": {"length": {"min": 12, "max": 128}, "rejects": {"pwned": false, "words": ["latchkey"]}},
            "signUp": {"identifiers": ["email"], "password": true, "verify": true},
        });
        let patched = ok_json(send(&app, Method::PATCH, Some(&token), Some(patch)).await, app.backend).await;
        assert_eq!(patched["mfa"], json!({"factors": ["Totp", "WebAuthn", "BackupCode"], "policy": "Mandatory"}));
        assert_eq!(patched["passwordPolicy"]["length"], json!({"min": 12, "max": 128}), "on {}", app.backend);
        assert_eq!(patched["passwordPolicy"]["characterTypes"], json!({"min": 1}), "a missing key is the default");
        assert_eq!(patched["passwordPolicy"]["rejects"]["words"], json!(["latchkey"]));
        assert_eq!(patched["usernamePolicy"], initial["usernamePolicy"], "an absent key is kept");
        assert!(patched.get("signUp").is_none(), "other keys are not kept: {patched}");
        let fetched = ok_json(send(&app, Method::GET, Some(&token), None).await, app.backend).await;
        assert_eq!(fetched, patched, "on {}", app.backend);

        // `mfa` is replaced whole, and a later PATCH of another key keeps it.
        let username_policy = json!({"caseSensitive": false, "minLength": 3, "maxLength": 20,
            "allowedChars": {"lowercase": true, "uppercase": false, "numbers": true, "underscore": true}});
        let patch = json!({"mfa": {"factors": ["WebAuthn"], "policy": "NoPrompt"}, "usernamePolicy": username_policy});
        let replaced = ok_json(send(&app, Method::PATCH, Some(&token), Some(patch)).await, app.backend).await;
        assert_eq!(replaced["mfa"], json!({"factors": ["WebAuthn"], "policy": "NoPrompt"}), "on {}", app.backend);
        assert_eq!(replaced["usernamePolicy"], username_policy);
        assert_eq!(replaced["passwordPolicy"], patched["passwordPolicy"]);
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_logtos_codes_and_changes_nothing() {
    for app in TokenApp::all().await {
        let token = app.management_token().await;
        let before = ok_json(send(&app, Method::GET, Some(&token), None).await, app.backend).await;

        let cases = [
            (json!({"passwordPolicy": {"length": {"min": 0}}}), 400, "guard.invalid_input"),
            (json!({"passwordPolicy": {"characterTypes": {"min": 5}}}), 400, "guard.invalid_input"),
            (json!({"passwordPolicy": "strong"}), 400, "guard.invalid_input"),
            (json!({"usernamePolicy": {"minLength": 3}}), 400, "guard.invalid_input"),
            (
                json!({"usernamePolicy": {"caseSensitive": true, "minLength": 1, "maxLength": 129,
                    "allowedChars": {"lowercase": true, "uppercase": true, "numbers": true, "underscore": true}}}),
                400,
                "guard.invalid_input",
            ),
            (
                json!({"usernamePolicy": {"caseSensitive": true, "minLength": 1, "maxLength": 10,
                    "allowedChars": {"lowercase": false, "uppercase": false, "numbers": true, "underscore": false}}}),
                400,
                "guard.invalid_input",
            ),
            (json!({"mfa": {"factors": ["Sms"], "policy": "UserControlled"}}), 400, "guard.invalid_input"),
            (json!({"mfa": {"factors": ["Totp"]}}), 400, "guard.invalid_input"),
            (
                json!({"mfa": {"factors": ["Totp", "Totp"], "policy": "UserControlled"}}),
                400,
                "sign_in_experiences.duplicated_mfa_factors",
            ),
            (
                json!({"mfa": {"factors": ["BackupCode"], "policy": "UserControlled"}}),
                400,
                "sign_in_experiences.backup_code_cannot_be_enabled_alone",
            ),
            (
                json!({"mfa": {"factors": ["Totp"], "policy": "PromptAtSignInAndSignUpMandatory"}}),
                422,
                "sign_in_experiences.non_adaptive_mfa_requires_skippable_policy",
            ),
            // A valid key beside an invalid one is not saved either.
            (
                json!({"passwordPolicy": {"length": {"min": 20}}, "mfa": {"factors": ["BackupCode"], "policy": "Mandatory"}}),
                400,
                "sign_in_experiences.backup_code_cannot_be_enabled_alone",
            ),
        ];
        for (body, status, code) in cases {
            let response = send(&app, Method::PATCH, Some(&token), Some(body.clone())).await;
            assert_eq!(response.status().as_u16(), status, "{body} on {}", app.backend);
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["code"], code, "{body} on {}: {error}", app.backend);
        }

        let after = ok_json(send(&app, Method::GET, Some(&token), None).await, app.backend).await;
        assert_eq!(after, before, "nothing changed on {}", app.backend);
    }
}

#[tokio::test]
async fn only_management_tokens_read_or_change_the_sign_in_experience() {
    for app in TokenApp::all().await {
        expect_api_error(
            send(&app, Method::GET, None, None).await,
            401,
            "auth.authorization_header_missing",
            app.backend,
        )
        .await;
        let patch = json!({"mfa": {"factors": ["Totp"], "policy": "Mandatory"}});
        expect_api_error(
            send(&app, Method::PATCH, None, Some(patch.clone())).await,
            401,
            "auth.authorization_header_missing",
            app.backend,
        )
        .await;

        let user = app.user().await;
        let account_token = app.sign_in(&user, "first-party", &["openid", "profile", "all"]).await.access_token;
        expect_api_error(
            send(&app, Method::GET, Some(&account_token), None).await,
            401,
            "auth.unauthorized",
            app.backend,
        )
        .await;
        expect_api_error(
            send(&app, Method::PATCH, Some(&account_token), Some(patch)).await,
            401,
            "auth.unauthorized",
            app.backend,
        )
        .await;

        let token = app.management_token().await;
        let current = ok_json(send(&app, Method::GET, Some(&token), None).await, app.backend).await;
        assert_eq!(current["mfa"]["factors"], json!([]), "the refused PATCH changed nothing on {}", app.backend);
    }
}
