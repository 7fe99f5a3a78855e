//! The Account API's MFA routes against the real server, on every backend under test: generating a TOTP secret
//! and backup codes (nothing stored), binding them under the sign-in experience's rules, the list without
//! secrets, revealing the backup codes, replacing and removing TOTP, the MFA switches, and the gates: the
//! `identities` scope (401), the account center's `mfa` field, and the verification record.

use latchkey_domain::UserId;
use latchkey_domain::account_center::{AccountCenterFields, FieldAccess};
use latchkey_domain::application::ApplicationType;
use latchkey_domain::audit::{Actor, AuditFilter, AuditLogRepository, keys};
use latchkey_domain::mfa::{self, MfaFactorType};
use latchkey_domain::ports::Pagination;
use reqwest::Method;
use serde_json::{Value, json};

use crate::account_client::{AccountSession, create_user, set_account_center, set_mfa_factors, totp_code};
use crate::harness::TokenApp;
use crate::helpers::expect_api_error;

const PASSWORD: &str = "Correct-Horse-7-battery";
const SCOPES: &[&str] = &["openid", "profile", "identities"];
const FACTORS: &str = "/api/my-account/mfa-verifications";

/// Turns the account center on with `mfa` at `access`.
async fn enable_account_center(app: &TokenApp, mfa: Option<FieldAccess>) {
    set_account_center(app, AccountCenterFields { mfa, ..Default::default() }).await;
}

/// A user with a username and password, made through the Management API.
async fn user_named(app: &TokenApp, username: &str) -> UserId {
    create_user(app, json!({"username": username, "password": PASSWORD})).await
}

#[tokio::test]
async fn a_user_binds_totp_and_backup_codes_lists_them_without_secrets_and_removes_them() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        enable_account_center(&app, Some(FieldAccess::Edit)).await;
        set_mfa_factors(&app, &[MfaFactorType::Totp, MfaFactorType::BackupCode]).await;
        let user_id = user_named(&app, "ada").await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let me = AccountSession::start(&app, &user_id, &client.id, SCOPES).await;
        assert_eq!(me.ok(Method::GET, FACTORS, None).await, json!([]), "on {backend}");

        // Generating needs no record and stores nothing.
        let secret =
            me.ok(Method::POST, "/api/my-account/mfa-verifications/totp-secret/generate", None).await["secret"]
                .as_str()
                .expect("a secret")
                .to_owned();
        let generated = me.ok(Method::POST, "/api/my-account/mfa-verifications/backup-codes/generate", None).await;
        let codes: Vec<String> = serde_json::from_value(generated["codes"].clone()).unwrap();
        assert!(codes.len() == 10 && codes.iter().all(|code| code.len() == 10), "on {backend}: {codes:?}");
        assert_eq!(me.ok(Method::GET, FACTORS, None).await, json!([]), "on {backend}");

        let totp = |code: &str| json!({"type": "Totp", "secret": secret, "code": code});
        let backup = json!({"type": "BackupCode", "codes": codes});
        let code = totp_code(&secret);
        let without = me.send(Method::POST, FACTORS, None, Some(totp(&code))).await;
        expect_api_error(without, 401, "verification_record.permission_denied", backend).await;
        let record = me.password_record(PASSWORD).await;
        let alone = me.send(Method::POST, FACTORS, Some(&record), Some(backup.clone())).await;
        expect_api_error(alone, 422, "session.mfa.backup_code_can_not_be_alone", backend).await;
        let wrong = me.send(Method::POST, FACTORS, Some(&record), Some(totp("abcdef"))).await;
        expect_api_error(wrong, 400, "session.mfa.invalid_totp_code", backend).await;
        let webauthn = json!({"type": "WebAuthn", "newIdentifierVerificationRecordId": "x"});
        let passkey = me.send(Method::POST, FACTORS, Some(&record), Some(webauthn)).await;
        expect_api_error(passkey, 400, "session.mfa.mfa_factor_not_enabled", backend).await;
        me.expect(204, Method::POST, FACTORS, Some(&record), Some(totp(&code))).await;
        let second = me.send(Method::POST, FACTORS, Some(&record), Some(totp(&code))).await;
        expect_api_error(second, 422, "user.totp_already_in_use", backend).await;
        me.expect(204, Method::POST, FACTORS, Some(&record), Some(backup)).await;

        // Both listed, without the secret or any code.
        let listed = me.ok(Method::GET, FACTORS, None).await;
        let types: Vec<&str> =
            listed.as_array().unwrap().iter().map(|factor| factor["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["Totp", "BackupCode"], "on {backend}: {listed}");
        assert_eq!(listed[1]["remainCodes"], 10, "on {backend}: {listed}");
        let text = listed.to_string();
        assert!(!text.contains(&secret) && codes.iter().all(|code| !text.contains(code.as_str())), "{text}");

        // The codes are revealed only with a record.
        let hidden = me.send(Method::GET, "/api/my-account/mfa-verifications/backup-codes", None, None).await;
        expect_api_error(hidden, 401, "verification_record.permission_denied", backend).await;
        let revealed =
            me.send(Method::GET, "/api/my-account/mfa-verifications/backup-codes", Some(&record), None).await;
        assert_eq!(revealed.headers()["cache-control"], "no-store", "on {backend}");
        let revealed: Value = revealed.json().await.unwrap();
        let expected: Vec<Value> = codes.iter().map(|code| json!({"code": code})).collect();
        assert_eq!(revealed, json!({"codes": expected}), "on {backend}");

        // The code used to bind cannot sign in again: the replay guard holds from enrolment on.
        let sign_in =
            json!({"clientId": client.id, "identifier": {"type": "username", "value": "ada"}, "password": PASSWORD});
        let challenge = app.client.post(format!("{}/api/sign-in", app.address)).json(&sign_in).send().await.unwrap();
        let body = expect_api_error(challenge, 403, "session.mfa.require_mfa_verification", backend).await;
        let replay = json!({"mfaToken": body["data"]["mfaToken"], "type": "Totp", "code": code});
        let replayed = app.client.post(format!("{}/api/sign-in/mfa", app.address)).json(&replay).send().await.unwrap();
        expect_api_error(replayed, 400, "session.mfa.invalid_totp_code", backend).await;

        // Replacing TOTP keeps one factor, under a new id, in its place.
        let new_secret = mfa::totp::generate_secret();
        let replace = json!({"secret": new_secret, "code": totp_code(&new_secret)});
        me.expect(204, Method::PUT, "/api/my-account/mfa-verifications/totp", Some(&record), Some(replace)).await;
        let after = me.ok(Method::GET, FACTORS, None).await;
        assert_eq!(after[0]["type"], "Totp", "on {backend}: {after}");
        assert_ne!(after[0]["id"], listed[0]["id"], "on {backend}");
        assert_eq!(after.as_array().unwrap().len(), 2, "on {backend}: {after}");

        // Removing TOTP takes the backup codes with it; an unknown id is Logto's 400.
        let unknown =
            me.send(Method::DELETE, "/api/my-account/mfa-verifications/no-such-factor", Some(&record), None).await;
        expect_api_error(unknown, 400, "verification_record.not_found", backend).await;
        let totp_path = format!("/api/my-account/mfa-verifications/{}", after[0]["id"].as_str().unwrap());
        let no_record = me.send(Method::DELETE, &totp_path, None, None).await;
        expect_api_error(no_record, 401, "verification_record.permission_denied", backend).await;
        me.done(Method::DELETE, &totp_path, Some(&record)).await;
        assert_eq!(me.ok(Method::GET, FACTORS, None).await, json!([]), "on {backend}");
        let none = me.send(Method::GET, "/api/my-account/mfa-verifications/backup-codes", Some(&record), None).await;
        expect_api_error(none, 404, "verification_record.not_found", backend).await;

        // Each change is logged as the user's doing.
        let filter = AuditFilter { user_id: Some(user_id.as_str().to_owned()), ..AuditFilter::default() };
        let page = app.store.audit_log().list(&filter, Pagination::new(1, 100).unwrap()).await.unwrap();
        let mfa_changes = page
            .items
            .iter()
            .filter(|entry| entry.key == keys::USER_MFA_UPDATED)
            .filter(|entry| entry.context.actor == Actor::User { id: user_id.as_str().to_owned() })
            .count();
        // Bind TOTP, bind backup codes, replace TOTP, remove TOTP; the refused attempts and the sign-in's refused
        // code wrote nothing.
        assert_eq!(mfa_changes, 4, "on {backend}: {:?}", page.items);
    }
}

#[tokio::test]
async fn the_mfa_switches_are_read_and_changed_with_a_record() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        enable_account_center(&app, Some(FieldAccess::Edit)).await;
        let user_id = user_named(&app, "grace").await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let me = AccountSession::start(&app, &user_id, &client.id, SCOPES).await;

        assert_eq!(me.ok(Method::GET, "/api/my-account/mfa-settings", None).await, json!({"skipMfaOnSignIn": false}));
        let skip = json!({"skipMfaOnSignIn": true});
        let without = me.send(Method::PATCH, "/api/my-account/mfa-settings", None, Some(skip.clone())).await;
        expect_api_error(without, 401, "verification_record.permission_denied", backend).await;
        let record = me.password_record(PASSWORD).await;
        assert_eq!(
            me.expect(200, Method::PATCH, "/api/my-account/mfa-settings", Some(&record), Some(skip.clone())).await,
            skip
        );

        let configs = me.ok(Method::GET, "/api/my-account/logto-configs", None).await;
        let expected = json!({"mfa": {"skipped": false, "skipMfaOnSignIn": true}, "passkeySignIn": {"skipped": false}});
        assert_eq!(configs, expected, "on {backend}");
        let patch = json!({"mfa": {"skipped": true, "skipMfaOnSignIn": false}, "passkeySignIn": {"skipped": true}});
        let without = me.send(Method::PATCH, "/api/my-account/logto-configs", None, Some(patch.clone())).await;
        expect_api_error(without, 401, "verification_record.permission_denied", backend).await;
        let changed = me.expect(200, Method::PATCH, "/api/my-account/logto-configs", Some(&record), Some(patch)).await;
        let expected = json!({"mfa": {"skipped": true, "skipMfaOnSignIn": false}, "passkeySignIn": {"skipped": true}});
        assert_eq!(changed, expected, "on {backend}");
        assert_eq!(me.ok(Method::GET, "/api/my-account/logto-configs", None).await, expected, "on {backend}");
    }
}

#[tokio::test]
async fn the_mfa_routes_need_the_identities_scope_the_mfa_field_and_a_record() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        enable_account_center(&app, Some(FieldAccess::ReadOnly)).await;
        set_mfa_factors(&app, &[MfaFactorType::Totp, MfaFactorType::BackupCode]).await;
        let user_id = user_named(&app, "alan").await;
        let client = app.user_app(ApplicationType::Spa, false).await;

        // Without `identities`: 401 on every MFA route but the generators.
        let narrow = AccountSession::start(&app, &user_id, &client.id, &["openid", "profile"]).await;
        for (method, path) in [
            (Method::GET, FACTORS),
            (Method::GET, "/api/my-account/mfa-settings"),
            (Method::GET, "/api/my-account/logto-configs"),
            (Method::GET, "/api/my-account/mfa-verifications/backup-codes"),
            (Method::DELETE, "/api/my-account/mfa-verifications/some-id"),
        ] {
            expect_api_error(narrow.send(method, path, None, None).await, 401, "auth.unauthorized", backend).await;
        }
        narrow.ok(Method::POST, "/api/my-account/mfa-verifications/totp-secret/generate", None).await;

        // `mfa` read-only: reads work, changes are refused before the record is looked at.
        let me = AccountSession::start(&app, &user_id, &client.id, SCOPES).await;
        me.ok(Method::GET, FACTORS, None).await;
        let record = me.password_record(PASSWORD).await;
        let secret = mfa::totp::generate_secret();
        let totp = json!({"type": "Totp", "secret": secret, "code": totp_code(&secret)});
        let read_only = me.send(Method::POST, FACTORS, Some(&record), Some(totp.clone())).await;
        expect_api_error(read_only, 400, "account_center.field_not_editable", backend).await;

        // `mfa` off: reads are refused as not enabled.
        enable_account_center(&app, Some(FieldAccess::Off)).await;
        let off = me.send(Method::GET, FACTORS, None, None).await;
        expect_api_error(off, 400, "account_center.field_not_enabled", backend).await;
        let off = me.send(Method::GET, "/api/my-account/logto-configs", None, None).await;
        expect_api_error(off, 400, "account_center.field_not_enabled", backend).await;

        // `mfa` editable: the record is then needed, and the factor must be enabled in the sign-in experience.
        enable_account_center(&app, Some(FieldAccess::Edit)).await;
        let no_record = me.send(Method::POST, FACTORS, None, Some(totp.clone())).await;
        expect_api_error(no_record, 401, "verification_record.permission_denied", backend).await;
        set_mfa_factors(&app, &[MfaFactorType::BackupCode]).await;
        let disabled = me.send(Method::POST, FACTORS, Some(&record), Some(totp)).await;
        expect_api_error(disabled, 400, "session.mfa.mfa_factor_not_enabled", backend).await;
    }
}
