//! The Account API's MFA routes against the real server, on every backend under test: generating a TOTP secret
//! and backup codes (nothing stored), binding them under the sign-in experience's rules, the list without
//! secrets, revealing the backup codes, replacing and removing TOTP, the MFA switches, and the gates: the
//! `identities` scope (401), the account center's `mfa` field, and the verification record.

use latchkey_domain::account_center::{
    AccountCenterFields, AccountCenterRepository, AccountCenterSettings, FieldAccess,
};
use latchkey_domain::application::ApplicationType;
use latchkey_domain::audit::{Actor, AuditFilter, AuditLogRepository, keys};
use latchkey_domain::mfa::{self, MfaFactorType};
use latchkey_domain::ports::Pagination;
use latchkey_domain::sign_in_experience::SignInExperienceRepository;
use latchkey_domain::{Clock, SystemClock, UserId};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::harness::TokenApp;

const PASSWORD: &str = "Correct-Horse-7-battery";
const SCOPES: &[&str] = &["openid", "profile", "identities"];

/// A signed-in user of one server: the token of one session.
struct Session<'a> {
    app: &'a TokenApp,
    token: String,
}

impl Session<'_> {
    async fn send(&self, method: Method, path: &str, record: Option<&str>, body: Option<Value>) -> Response {
        let url = format!("{}/api/my-account{path}", self.app.address);
        let mut request = self.app.client.request(method, url).bearer_auth(&self.token);
        if let Some(record) = record {
            request = request.header("logto-verification-id", record);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the server answers")
    }

    /// The JSON of a 200 answer.
    async fn ok(&self, method: Method, path: &str, record: Option<&str>, body: Option<Value>) -> Value {
        let response = self.send(method, path, record, body).await;
        assert_eq!(response.status().as_u16(), 200, "{path} on {}", self.app.backend);
        response.json().await.unwrap()
    }

    /// Asserts a 204 answer.
    async fn done(&self, method: Method, path: &str, record: Option<&str>, body: Option<Value>) {
        let response = self.send(method, path, record, body).await;
        let status = response.status().as_u16();
        assert_eq!(status, 204, "{path} on {}: {}", self.app.backend, response.text().await.unwrap());
    }

    /// A password verification record.
    async fn password_record(&self) -> String {
        let response = self
            .app
            .client
            .post(format!("{}/api/verifications/password", self.app.address))
            .bearer_auth(&self.token)
            .json(&json!({"password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201, "on {}", self.app.backend);
        let body: Value = response.json().await.unwrap();
        body["verificationRecordId"].as_str().unwrap().to_owned()
    }
}

/// Asserts a Logto-shaped error and returns its body.
async fn expect_error(response: Response, status: u16, code: &str, backend: &str) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!((actual, body["code"].as_str()), (status, Some(code)), "on {backend}: {body}");
    assert!(body["message"].as_str().is_some_and(|message| !message.is_empty()), "on {backend}: {body}");
    body
}

/// Turns the account center on with `mfa` at `access`.
async fn enable_account_center(app: &TokenApp, mfa: Option<FieldAccess>) {
    let fields = AccountCenterFields { mfa, ..Default::default() };
    let repository = app.store.account_center();
    let stored = repository.get().await.unwrap();
    let settings = AccountCenterSettings { enabled: true, fields, ..AccountCenterSettings::default() };
    repository.save(&settings, stored.version, SystemClock.now()).await.expect("saving the account center");
}

/// Enables exactly `factors` in the stored sign-in experience.
async fn enable_mfa_factors(app: &TokenApp, factors: &[MfaFactorType]) {
    let repository = app.store.sign_in_experience();
    let mut stored = repository.get().await.unwrap();
    stored.settings.mfa.factors = factors.to_vec();
    repository.save(&stored.settings, stored.version, SystemClock.now()).await.expect("saving the sign-in experience");
}

/// A user with a username and password, made through the Management API.
async fn create_user(app: &TokenApp, username: &str) -> UserId {
    let token = app.management_token().await;
    let body = json!({"username": username, "password": PASSWORD});
    let response =
        app.client.post(format!("{}/api/users", app.address)).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "on {}", app.backend);
    let user: Value = response.json().await.unwrap();
    UserId::parse(user["id"].as_str().unwrap()).unwrap()
}

async fn session<'a>(app: &'a TokenApp, user_id: &UserId, client_id: &str, scopes: &[&str]) -> Session<'a> {
    Session { app, token: app.sign_in(user_id, client_id, scopes).await.access_token }
}

fn now_code(secret: &str) -> String {
    mfa::totp::code_at(secret, SystemClock.now()).unwrap()
}

#[tokio::test]
async fn a_user_binds_totp_and_backup_codes_lists_them_without_secrets_and_removes_them() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        enable_account_center(&app, Some(FieldAccess::Edit)).await;
        enable_mfa_factors(&app, &[MfaFactorType::Totp, MfaFactorType::BackupCode]).await;
        let user_id = create_user(&app, "ada").await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let me = session(&app, &user_id, &client.id, SCOPES).await;
        assert_eq!(me.ok(Method::GET, "/mfa-verifications", None, None).await, json!([]), "on {backend}");

        // Generating needs no record and stores nothing.
        let secret = me.ok(Method::POST, "/mfa-verifications/totp-secret/generate", None, None).await["secret"]
            .as_str()
            .expect("a secret")
            .to_owned();
        let generated = me.ok(Method::POST, "/mfa-verifications/backup-codes/generate", None, None).await;
        let codes: Vec<String> = serde_json::from_value(generated["codes"].clone()).unwrap();
        assert!(codes.len() == 10 && codes.iter().all(|code| code.len() == 10), "on {backend}: {codes:?}");
        assert_eq!(me.ok(Method::GET, "/mfa-verifications", None, None).await, json!([]), "on {backend}");

        let totp = |code: &str| json!({"type": "Totp", "secret": secret, "code": code});
        let backup = json!({"type": "BackupCode", "codes": codes});
        let code = now_code(&secret);
        let without = me.send(Method::POST, "/mfa-verifications", None, Some(totp(&code))).await;
        expect_error(without, 401, "verification_record.permission_denied", backend).await;
        let record = me.password_record().await;
        let alone = me.send(Method::POST, "/mfa-verifications", Some(&record), Some(backup.clone())).await;
        expect_error(alone, 422, "session.mfa.backup_code_can_not_be_alone", backend).await;
        let wrong = me.send(Method::POST, "/mfa-verifications", Some(&record), Some(totp("abcdef"))).await;
        expect_error(wrong, 400, "session.mfa.invalid_totp_code", backend).await;
        let webauthn = json!({"type": "WebAuthn", "newIdentifierVerificationRecordId": "x"});
        let passkey = me.send(Method::POST, "/mfa-verifications", Some(&record), Some(webauthn)).await;
        expect_error(passkey, 400, "session.mfa.mfa_factor_not_enabled", backend).await;
        me.done(Method::POST, "/mfa-verifications", Some(&record), Some(totp(&code))).await;
        let second = me.send(Method::POST, "/mfa-verifications", Some(&record), Some(totp(&code))).await;
        expect_error(second, 422, "user.totp_already_in_use", backend).await;
        me.done(Method::POST, "/mfa-verifications", Some(&record), Some(backup)).await;

        // Both listed, without the secret or any code.
        let listed = me.ok(Method::GET, "/mfa-verifications", None, None).await;
        let types: Vec<&str> =
            listed.as_array().unwrap().iter().map(|factor| factor["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["Totp", "BackupCode"], "on {backend}: {listed}");
        assert_eq!(listed[1]["remainCodes"], 10, "on {backend}: {listed}");
        let text = listed.to_string();
        assert!(!text.contains(&secret) && codes.iter().all(|code| !text.contains(code.as_str())), "{text}");

        // The codes are revealed only with a record.
        let hidden = me.send(Method::GET, "/mfa-verifications/backup-codes", None, None).await;
        expect_error(hidden, 401, "verification_record.permission_denied", backend).await;
        let revealed = me.send(Method::GET, "/mfa-verifications/backup-codes", Some(&record), None).await;
        assert_eq!(revealed.headers()["cache-control"], "no-store", "on {backend}");
        let revealed: Value = revealed.json().await.unwrap();
        let expected: Vec<Value> = codes.iter().map(|code| json!({"code": code})).collect();
        assert_eq!(revealed, json!({"codes": expected}), "on {backend}");

        // The code used to bind cannot sign in again: the replay guard holds from enrolment on.
        let sign_in =
            json!({"clientId": client.id, "identifier": {"type": "username", "value": "ada"}, "password": PASSWORD});
        let challenge = app.client.post(format!("{}/api/sign-in", app.address)).json(&sign_in).send().await.unwrap();
        let body = expect_error(challenge, 403, "session.mfa.require_mfa_verification", backend).await;
        let replay = json!({"mfaToken": body["data"]["mfaToken"], "type": "Totp", "code": code});
        let replayed = app.client.post(format!("{}/api/sign-in/mfa", app.address)).json(&replay).send().await.unwrap();
        expect_error(replayed, 400, "session.mfa.invalid_totp_code", backend).await;

        // Replacing TOTP keeps one factor, under a new id, in its place.
        let new_secret = mfa::totp::generate_secret();
        let replace = json!({"secret": new_secret, "code": now_code(&new_secret)});
        me.done(Method::PUT, "/mfa-verifications/totp", Some(&record), Some(replace)).await;
        let after = me.ok(Method::GET, "/mfa-verifications", None, None).await;
        assert_eq!(after[0]["type"], "Totp", "on {backend}: {after}");
        assert_ne!(after[0]["id"], listed[0]["id"], "on {backend}");
        assert_eq!(after.as_array().unwrap().len(), 2, "on {backend}: {after}");

        // Removing TOTP takes the backup codes with it; an unknown id is Logto's 400.
        let unknown = me.send(Method::DELETE, "/mfa-verifications/no-such-factor", Some(&record), None).await;
        expect_error(unknown, 400, "verification_record.not_found", backend).await;
        let totp_path = format!("/mfa-verifications/{}", after[0]["id"].as_str().unwrap());
        let no_record = me.send(Method::DELETE, &totp_path, None, None).await;
        expect_error(no_record, 401, "verification_record.permission_denied", backend).await;
        me.done(Method::DELETE, &totp_path, Some(&record), None).await;
        assert_eq!(me.ok(Method::GET, "/mfa-verifications", None, None).await, json!([]), "on {backend}");
        let none = me.send(Method::GET, "/mfa-verifications/backup-codes", Some(&record), None).await;
        expect_error(none, 404, "verification_record.not_found", backend).await;

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
        let user_id = create_user(&app, "grace").await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let me = session(&app, &user_id, &client.id, SCOPES).await;

        assert_eq!(me.ok(Method::GET, "/mfa-settings", None, None).await, json!({"skipMfaOnSignIn": false}));
        let skip = json!({"skipMfaOnSignIn": true});
        let without = me.send(Method::PATCH, "/mfa-settings", None, Some(skip.clone())).await;
        expect_error(without, 401, "verification_record.permission_denied", backend).await;
        let record = me.password_record().await;
        assert_eq!(me.ok(Method::PATCH, "/mfa-settings", Some(&record), Some(skip.clone())).await, skip);

        let configs = me.ok(Method::GET, "/logto-configs", None, None).await;
        let expected = json!({"mfa": {"skipped": false, "skipMfaOnSignIn": true}, "passkeySignIn": {"skipped": false}});
        assert_eq!(configs, expected, "on {backend}");
        let patch = json!({"mfa": {"skipped": true, "skipMfaOnSignIn": false}, "passkeySignIn": {"skipped": true}});
        let without = me.send(Method::PATCH, "/logto-configs", None, Some(patch.clone())).await;
        expect_error(without, 401, "verification_record.permission_denied", backend).await;
        let changed = me.ok(Method::PATCH, "/logto-configs", Some(&record), Some(patch)).await;
        let expected = json!({"mfa": {"skipped": true, "skipMfaOnSignIn": false}, "passkeySignIn": {"skipped": true}});
        assert_eq!(changed, expected, "on {backend}");
        assert_eq!(me.ok(Method::GET, "/logto-configs", None, None).await, expected, "on {backend}");
    }
}

#[tokio::test]
async fn the_mfa_routes_need_the_identities_scope_the_mfa_field_and_a_record() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        enable_account_center(&app, Some(FieldAccess::ReadOnly)).await;
        enable_mfa_factors(&app, &[MfaFactorType::Totp, MfaFactorType::BackupCode]).await;
        let user_id = create_user(&app, "alan").await;
        let client = app.user_app(ApplicationType::Spa, false).await;

        // Without `identities`: 401 on every MFA route but the generators.
        let narrow = session(&app, &user_id, &client.id, &["openid", "profile"]).await;
        for (method, path) in [
            (Method::GET, "/mfa-verifications"),
            (Method::GET, "/mfa-settings"),
            (Method::GET, "/logto-configs"),
            (Method::GET, "/mfa-verifications/backup-codes"),
            (Method::DELETE, "/mfa-verifications/some-id"),
        ] {
            expect_error(narrow.send(method, path, None, None).await, 401, "auth.unauthorized", backend).await;
        }
        narrow.ok(Method::POST, "/mfa-verifications/totp-secret/generate", None, None).await;

        // `mfa` read-only: reads work, changes are refused before the record is looked at.
        let me = session(&app, &user_id, &client.id, SCOPES).await;
        me.ok(Method::GET, "/mfa-verifications", None, None).await;
        let record = me.password_record().await;
        let secret = mfa::totp::generate_secret();
        let totp = json!({"type": "Totp", "secret": secret, "code": now_code(&secret)});
        let read_only = me.send(Method::POST, "/mfa-verifications", Some(&record), Some(totp.clone())).await;
        expect_error(read_only, 400, "account_center.field_not_editable", backend).await;

        // `mfa` off: reads are refused as not enabled.
        enable_account_center(&app, Some(FieldAccess::Off)).await;
        let off = me.send(Method::GET, "/mfa-verifications", None, None).await;
        expect_error(off, 400, "account_center.field_not_enabled", backend).await;
        let off = me.send(Method::GET, "/logto-configs", None, None).await;
        expect_error(off, 400, "account_center.field_not_enabled", backend).await;

        // `mfa` editable: the record is then needed, and the factor must be enabled in the sign-in experience.
        enable_account_center(&app, Some(FieldAccess::Edit)).await;
        let no_record = me.send(Method::POST, "/mfa-verifications", None, Some(totp.clone())).await;
        expect_error(no_record, 401, "verification_record.permission_denied", backend).await;
        enable_mfa_factors(&app, &[MfaFactorType::BackupCode]).await;
        let disabled = me.send(Method::POST, "/mfa-verifications", Some(&record), Some(totp)).await;
        expect_error(disabled, 400, "session.mfa.mfa_factor_not_enabled", backend).await;
    }
}
