//! The Account API's changing routes and verification records, on every backend under test, against the real
//! server with codes delivered by the HTTP connector to a real receiver: records bound to their session and killed
//! by a password change, new identifiers proven by a code, the code and send limits, the last-identifier rule, the
//! account-center gates, scopes, first-party clients, and the audit log of each change.

use latchkey_domain::account_center::{
    AccountCenterFields, AccountCenterRepository, AccountCenterSettings, FieldAccess,
};
use latchkey_domain::application::{Application, ApplicationRepository, ApplicationType};
use latchkey_domain::audit::{Actor, AuditFilter, AuditLogRepository, keys};
use latchkey_domain::ports::Pagination;
use latchkey_domain::user::Identity;
use latchkey_domain::{Clock, UserRepository};
use latchkey_domain::{IdGenerator, RandomIds, SystemClock, User, UserId};
use reqwest::Method;
use serde_json::{Value, json};

use crate::account_client::{AccountSession, create_user, set_account_center, set_mfa_factors};
use crate::code_sign_in::{Receiver, apps_sending_to};
use crate::harness::TokenApp;
use crate::helpers::expect_api_error;

const PASSWORD: &str = "Correct-Horse-7-battery";
const SCOPES: &[&str] = &["openid", "profile", "email", "phone", "custom_data", "address"];

/// Turns the account center on with every field of this slice editable.
async fn enable_account_center(app: &TokenApp) {
    let edit = Some(FieldAccess::Edit);
    let fields = AccountCenterFields {
        name: edit,
        avatar: edit,
        profile: edit,
        email: edit,
        phone: edit,
        password: edit,
        username: edit,
        custom_data: edit,
        ..Default::default()
    };
    set_account_center(app, fields).await;
}

async fn session<'a>(app: &'a TokenApp, user_id: &UserId, client_id: &str) -> AccountSession<'a> {
    AccountSession::start(app, user_id, client_id, SCOPES).await
}

async fn audit_keys(app: &TokenApp, user_id: &UserId) -> Vec<(String, Actor)> {
    let filter = AuditFilter { user_id: Some(user_id.as_str().to_owned()), ..AuditFilter::default() };
    let page = app.store.audit_log().list(&filter, Pagination::new(1, 100).unwrap()).await.unwrap();
    page.items.into_iter().map(|entry| (entry.key, entry.context.actor)).collect()
}

#[tokio::test]
async fn a_verification_record_works_only_in_its_own_session_and_dies_with_a_password_change() {
    let receiver = Receiver::start().await;
    for app in apps_sending_to(&receiver).await {
        enable_account_center(&app).await;
        let backend = app.backend;
        let user_id = create_user(&app, json!({"username": "ada", "password": PASSWORD})).await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let first = session(&app, &user_id, &client.id).await;
        let second = session(&app, &user_id, &client.id).await;
        let change = |password: &str| json!({"password": password});

        let without =
            first.send(Method::POST, "/api/my-account/password", None, Some(change("N3w-Passw0rd-long"))).await;
        expect_api_error(without, 401, "verification_record.permission_denied", backend).await;
        let wrong = first.send(Method::POST, "/api/verifications/password", None, Some(change("wrong"))).await;
        expect_api_error(wrong, 422, "session.invalid_credentials", backend).await;
        let record = first.password_record(PASSWORD).await;

        // Another sign-in of the same user cannot use this session's record.
        let elsewhere = second
            .send(Method::POST, "/api/my-account/password", Some(&record), Some(change("N3w-Passw0rd-long")))
            .await;
        expect_api_error(elsewhere, 401, "verification_record.permission_denied", backend).await;
        let same = first.send(Method::POST, "/api/my-account/password", Some(&record), Some(change(PASSWORD))).await;
        expect_api_error(same, 422, "user.same_password", backend).await;
        let weak = first.send(Method::POST, "/api/my-account/password", Some(&record), Some(change("short"))).await;
        assert_eq!(weak.status().as_u16(), 422, "on {backend}");
        let weak: Value = weak.json().await.unwrap();
        assert_eq!(weak["code"], "password.rejected", "{weak}");
        assert!(weak["data"]["issues"].as_array().is_some_and(|issues| !issues.is_empty()), "{weak}");

        let changed = first
            .status(Method::POST, "/api/my-account/password", Some(&record), Some(change("N3w-Passw0rd-long")))
            .await;
        assert_eq!(changed, 204, "on {backend}");
        // The record made before the change proves nothing any more, even in its own session.
        let username = json!({"username": "ada_lovelace"});
        let stale = first.send(Method::PATCH, "/api/my-account", Some(&record), Some(username.clone())).await;
        expect_api_error(stale, 401, "verification_record.permission_denied", backend).await;
        expect_api_error(
            first.send(Method::POST, "/api/verifications/password", None, Some(change(PASSWORD))).await,
            422,
            "session.invalid_credentials",
            backend,
        )
        .await;

        let fresh = first.password_record("N3w-Passw0rd-long").await;
        let renamed = first.send(Method::PATCH, "/api/my-account", Some(&fresh), Some(username)).await;
        assert_eq!(renamed.status().as_u16(), 200, "on {backend}");
        assert!(renamed.headers().contains_key("etag"));
        let renamed: Value = renamed.json().await.unwrap();
        assert_eq!(renamed["username"], "ada_lovelace", "{renamed}");

        let logged = audit_keys(&app, &user_id).await;
        let by_user = Actor::User { id: user_id.as_str().to_owned() };
        for key in [keys::USER_PASSWORD_UPDATED, keys::USER_DATA_UPDATED] {
            assert!(
                logged.iter().any(|(logged_key, actor)| logged_key == key && *actor == by_user),
                "{key}: {logged:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_new_email_is_set_only_with_a_code_sent_to_it_within_the_code_and_send_limits() {
    let receiver = Receiver::start().await;
    for app in apps_sending_to(&receiver).await {
        enable_account_center(&app).await;
        let backend = app.backend;
        let old = format!("ada-{}@example.com", RandomIds.entity_id().to_lowercase());
        let new = format!("lovelace-{}@example.com", RandomIds.entity_id().to_lowercase());
        let user_id = create_user(&app, json!({"primaryEmail": old, "password": PASSWORD})).await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let me = session(&app, &user_id, &client.id).await;
        let other = session(&app, &user_id, &client.id).await;
        let identity = me.password_record(PASSWORD).await;
        let email = |value: &str| json!({"type": "email", "value": value});

        let sent = me
            .send(Method::POST, "/api/verifications/verification-code", None, Some(json!({"identifier": email(&new)})))
            .await;
        assert_eq!(sent.status().as_u16(), 201, "on {backend}");
        let record = sent.json::<Value>().await.unwrap()["verificationRecordId"].as_str().unwrap().to_owned();
        let (template, code) = receiver.latest_to(&new);
        assert_eq!(template, "BindNewIdentifier");
        let verify =
            |code: &str, value: &str| json!({"identifier": email(value), "verificationId": record, "code": code});
        let path = "/api/verifications/verification-code/verify";
        let wrong_code = if code == "000000" { "111111" } else { "000000" };
        expect_api_error(
            me.send(Method::POST, path, None, Some(verify(wrong_code, &new))).await,
            400,
            "verification_code.code_mismatch",
            backend,
        )
        .await;
        expect_api_error(
            me.send(Method::POST, path, None, Some(verify(&code, &old))).await,
            400,
            "verification_code.email_mismatch",
            backend,
        )
        .await;
        expect_api_error(
            other.send(Method::POST, path, None, Some(verify(&code, &new))).await,
            400,
            "verification_code.not_found",
            backend,
        )
        .await;
        let verified = me.send(Method::POST, path, None, Some(verify(&code, &new))).await;
        assert_eq!(verified.status().as_u16(), 200, "on {backend}");
        assert_eq!(verified.json::<Value>().await.unwrap(), json!({"verificationRecordId": record}));

        let set = |value: &str| json!({"email": value, "newIdentifierVerificationRecordId": record});
        let path = "/api/my-account/primary-email";
        expect_api_error(
            me.send(Method::POST, path, None, Some(set(&new))).await,
            401,
            "verification_record.permission_denied",
            backend,
        )
        .await;
        let other_identity = other.password_record(PASSWORD).await;
        let foreign = other.send(Method::POST, path, Some(&other_identity), Some(set(&new))).await;
        expect_api_error(foreign, 400, "verification_record.not_found", backend).await;
        let another_address = me.send(Method::POST, path, Some(&identity), Some(set("someone@example.com"))).await;
        expect_api_error(another_address, 400, "verification_record.not_found", backend).await;
        assert_eq!(me.status(Method::POST, path, Some(&identity), Some(set(&new))).await, 204, "on {backend}");
        assert_eq!(me.me().await["primaryEmail"], new.as_str());

        // A code to the user's own address is a proof of identity.
        let own = me
            .send(Method::POST, "/api/verifications/verification-code", None, Some(json!({"identifier": email(&new)})))
            .await;
        let own_record = own.json::<Value>().await.unwrap()["verificationRecordId"].as_str().unwrap().to_owned();
        let (template, code) = receiver.latest_to(&new);
        assert_eq!(template, "UserPermissionValidation");
        let verify_own = json!({"identifier": email(&new), "verificationId": own_record, "code": code});
        assert_eq!(
            me.status(Method::POST, "/api/verifications/verification-code/verify", None, Some(verify_own)).await,
            200
        );
        let profile =
            me.send(Method::PATCH, "/api/my-account", Some(&own_record), Some(json!({"username": "ada_code"}))).await;
        assert_eq!(profile.status().as_u16(), 200, "on {backend}");

        // The eleventh check of a code is refused even with the right code.
        let third = format!("third-{}@example.com", RandomIds.entity_id().to_lowercase());
        let sent = me
            .send(
                Method::POST,
                "/api/verifications/verification-code",
                None,
                Some(json!({"identifier": email(&third)})),
            )
            .await;
        let record = sent.json::<Value>().await.unwrap()["verificationRecordId"].as_str().unwrap().to_owned();
        let (_, code) = receiver.latest_to(&third);
        let wrong_code = if code == "000000" { "111111" } else { "000000" };
        let attempt = |code: &str| json!({"identifier": email(&third), "verificationId": record, "code": code});
        for _ in 0..10 {
            let response = me
                .send(Method::POST, "/api/verifications/verification-code/verify", None, Some(attempt(wrong_code)))
                .await;
            expect_api_error(response, 400, "verification_code.code_mismatch", backend).await;
        }
        let eleventh =
            me.send(Method::POST, "/api/verifications/verification-code/verify", None, Some(attempt(&code))).await;
        expect_api_error(eleventh, 400, "verification_code.exceed_max_try", backend).await;

        // The eleventh send to one recipient within 600 s is refused.
        for _ in 0..9 {
            let response = me
                .send(
                    Method::POST,
                    "/api/verifications/verification-code",
                    None,
                    Some(json!({"identifier": email(&third)})),
                )
                .await;
            assert_eq!(response.status().as_u16(), 201, "on {backend}");
        }
        assert_eq!(receiver.count_to(&third), 10);
        let limited = me
            .send(
                Method::POST,
                "/api/verifications/verification-code",
                None,
                Some(json!({"identifier": email(&third)})),
            )
            .await;
        expect_api_error(limited, 429, "request.message_rate_limited", backend).await;
        assert_eq!(receiver.count_to(&third), 10, "nothing sent on a refusal");
    }
}

#[tokio::test]
async fn a_social_only_user_sets_a_first_password_and_the_last_identifier_cannot_be_removed() {
    let receiver = Receiver::start().await;
    for app in apps_sending_to(&receiver).await {
        enable_account_center(&app).await;
        let backend = app.backend;
        let client = app.user_app(ApplicationType::Spa, false).await;

        let mut social = User::new(RandomIds.user_id(), SystemClock.now());
        social.identities.insert("github".to_owned(), Identity { user_id: "gh-1".to_owned(), details: None });
        app.insert_user(&social).await;
        let me = session(&app, &social.id, &client.id).await;
        assert_eq!(
            me.status(Method::POST, "/api/my-account/password", None, Some(json!({"password": PASSWORD}))).await,
            204
        );
        assert!(app.store.users().find_by_id(&social.id).await.unwrap().unwrap().has_password(), "on {backend}");
        // Now that there is a password, a second change needs a record.
        let again = me
            .send(Method::POST, "/api/my-account/password", None, Some(json!({"password": "An0ther-password-x"})))
            .await;
        expect_api_error(again, 401, "verification_record.permission_denied", backend).await;

        let email = format!("only-{}@example.com", RandomIds.entity_id().to_lowercase());
        let only_email = create_user(&app, json!({"primaryEmail": email, "password": PASSWORD})).await;
        let me = session(&app, &only_email, &client.id).await;
        let record = me.password_record(PASSWORD).await;
        let removed = me.send(Method::DELETE, "/api/my-account/primary-email", Some(&record), None).await;
        expect_api_error(removed, 400, "user.last_sign_in_method_required", backend).await;
        assert_eq!(me.me().await["primaryEmail"], email.as_str(), "nothing changed on {backend}");
        let cleared =
            me.send(Method::PATCH, "/api/my-account", Some(&record), Some(json!({"username": "only_one"}))).await;
        assert_eq!(cleared.status().as_u16(), 200);
        assert_eq!(me.status(Method::DELETE, "/api/my-account/primary-email", Some(&record), None).await, 204);
        let last = me.send(Method::PATCH, "/api/my-account", Some(&record), Some(json!({"username": null}))).await;
        expect_api_error(last, 400, "user.last_sign_in_method_required", backend).await;
    }
}

#[tokio::test]
async fn gates_scopes_and_third_party_clients_are_refused_with_logtos_codes_and_nothing_changes() {
    let receiver = Receiver::start().await;
    for app in apps_sending_to(&receiver).await {
        let backend = app.backend;
        let user_id = create_user(&app, json!({"username": "gated", "password": PASSWORD, "name": "Ada"})).await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let me = session(&app, &user_id, &client.id).await;

        let rename = json!({"name": "Grace"});
        // Logto's default: the account center is off (the harness turns it on).
        let stored = app.store.account_center().get().await.unwrap();
        let off = AccountCenterSettings { enabled: false, ..stored.settings };
        app.store.account_center().save(&off, stored.version, SystemClock.now()).await.unwrap();
        let disabled = me.send(Method::PATCH, "/api/my-account", None, Some(rename.clone())).await;
        expect_api_error(disabled, 400, "account_center.not_enabled", backend).await;
        enable_account_center(&app).await;
        let mut read_only = app.store.account_center().get().await.unwrap();
        read_only.settings.fields.name = Some(FieldAccess::ReadOnly);
        app.store.account_center().save(&read_only.settings, read_only.version, SystemClock.now()).await.unwrap();
        expect_api_error(
            me.send(Method::PATCH, "/api/my-account", None, Some(rename.clone())).await,
            400,
            "account_center.field_not_editable",
            backend,
        )
        .await;
        read_only.settings.fields.name = Some(FieldAccess::Edit);
        let current = app.store.account_center().get().await.unwrap().version;
        app.store.account_center().save(&read_only.settings, current, SystemClock.now()).await.unwrap();

        let narrow = AccountSession::start(&app, &user_id, &client.id, &["openid"]).await;
        expect_api_error(
            narrow.send(Method::PATCH, "/api/my-account", None, Some(rename.clone())).await,
            400,
            "auth.unauthorized",
            backend,
        )
        .await;
        let no_custom_data = AccountSession::start(&app, &user_id, &client.id, &["openid", "profile"]).await;
        let custom =
            no_custom_data.send(Method::PATCH, "/api/my-account", None, Some(json!({"customData": {"a": 1}}))).await;
        expect_api_error(custom, 400, "auth.unauthorized", backend).await;

        let mut third_party =
            Application::new(RandomIds.entity_id(), "partner".to_owned(), ApplicationType::Spa, SystemClock.now());
        third_party.is_third_party = true;
        app.store.applications().insert(&third_party).await.unwrap();
        let partner = session(&app, &user_id, &third_party.id).await;
        expect_api_error(
            partner.send(Method::PATCH, "/api/my-account", None, Some(rename.clone())).await,
            403,
            "auth.third_party_application_forbidden",
            backend,
        )
        .await;
        assert_eq!(me.me().await["name"], "Ada", "refusals change nothing on {backend}");

        let invalid = me.send(Method::PATCH, "/api/my-account", None, Some(json!({"avatar": "not a url"}))).await;
        expect_api_error(invalid, 400, "guard.invalid_input", backend).await;
        let renamed = me
            .send(Method::PATCH, "/api/my-account", None, Some(json!({"name": "Grace", "customData": {"plan": "pro"}})))
            .await;
        assert_eq!(renamed.status().as_u16(), 200, "on {backend}");
        let renamed: Value = renamed.json().await.unwrap();
        assert_eq!((&renamed["name"], &renamed["customData"]), (&json!("Grace"), &json!({"plan": "pro"})));

        let stale = me.send(Method::PATCH, "/api/my-account", None, Some(json!({"name": "Stale"}))).await;
        assert_eq!(stale.status().as_u16(), 200);
        let version =
            me.send(Method::GET, "/api/my-account", None, None).await.headers()["etag"].to_str().unwrap().to_owned();
        let mut conditional = app.client.patch(format!("{}/api/my-account", app.address)).bearer_auth(&me.token);
        conditional = conditional.header("if-match", "\"1\"").json(&json!({"name": "Lost update"}));
        expect_api_error(conditional.send().await.unwrap(), 412, "request.precondition_failed", backend).await;
        let matching = app
            .client
            .patch(format!("{}/api/my-account", app.address))
            .bearer_auth(&me.token)
            .header("if-match", version)
            .json(&json!({"name": "Kept"}))
            .send()
            .await
            .unwrap();
        assert_eq!(matching.status().as_u16(), 200, "on {backend}");

        let profile = me.send(Method::PATCH, "/api/my-account/profile", None, Some(json!({"givenName": "Ada"}))).await;
        assert_eq!(profile.status().as_u16(), 200, "on {backend}");
        let profile =
            me.send(Method::PATCH, "/api/my-account/profile", None, Some(json!({"familyName": "Lovelace"}))).await;
        assert_eq!(
            profile.json::<Value>().await.unwrap(),
            json!({"givenName": "Ada", "familyName": "Lovelace"}),
            "merged"
        );
    }
}

#[tokio::test]
async fn the_export_holds_no_secret_and_a_deleted_account_can_be_restored_by_an_administrator() {
    use latchkey_domain::mfa::MfaFactorType;

    let receiver = Receiver::start().await;
    for app in apps_sending_to(&receiver).await {
        enable_account_center(&app).await;
        let backend = app.backend;
        set_mfa_factors(&app, &[MfaFactorType::Totp]).await;
        let user_id = create_user(&app, json!({"username": "leaving", "password": PASSWORD})).await;
        let management = app.management_token().await;
        let secret = "JBSWY3DPEHPK3PXPJBSWY3DP";
        let bound = app
            .client
            .post(format!("{}/api/users/{user_id}/mfa-verifications", app.address))
            .bearer_auth(&management)
            .json(&json!({"type": "Totp", "secret": secret}))
            .send()
            .await
            .unwrap();
        assert_eq!(bound.status().as_u16(), 200, "on {backend}");
        let client = app.user_app(ApplicationType::Spa, false).await;
        let me = session(&app, &user_id, &client.id).await;

        expect_api_error(
            me.send(Method::GET, "/api/my-account/export", None, None).await,
            401,
            "verification_record.permission_denied",
            backend,
        )
        .await;
        let record = me.password_record(PASSWORD).await;
        let export = me.send(Method::GET, "/api/my-account/export", Some(&record), None).await;
        assert_eq!(export.status().as_u16(), 200, "on {backend}");
        assert_eq!(export.headers()["cache-control"], "no-store");
        let text = export.text().await.unwrap();
        assert!(!text.contains(secret) && !text.contains("argon2"), "no secret in the export: {text}");
        let export: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(export["account"]["id"], user_id.as_str());
        assert_eq!(export["account"]["hasPassword"], true);
        assert_eq!(export["account"]["mfaVerifications"][0]["type"], "Totp");
        let keys: Vec<&str> =
            export["auditLog"].as_array().unwrap().iter().filter_map(|entry| entry["key"].as_str()).collect();
        assert!(keys.contains(&keys::USER_CREATED) && keys.contains(&keys::USER_MFA_UPDATED), "{keys:?}");
        assert_eq!(export["auditLogTruncated"], false);

        expect_api_error(
            me.send(Method::DELETE, "/api/my-account", None, None).await,
            401,
            "verification_record.permission_denied",
            backend,
        )
        .await;
        assert_eq!(me.status(Method::DELETE, "/api/my-account", Some(&record), None).await, 204, "on {backend}");
        assert_eq!(me.status(Method::GET, "/api/my-account", None, None).await, 401, "the token died with the account");
        let restored = app
            .client
            .post(format!("{}/api/users/{user_id}/restore", app.address))
            .bearer_auth(&management)
            .send()
            .await
            .unwrap();
        assert_eq!(restored.status().as_u16(), 200, "on {backend}");
        let logged = audit_keys(&app, &user_id).await;
        let by_user = Actor::User { id: user_id.as_str().to_owned() };
        assert!(logged.iter().any(|(key, actor)| key == keys::USER_DELETED && *actor == by_user), "{logged:?}");
    }
}
