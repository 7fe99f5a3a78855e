//! The caller's sessions, connected applications and activity log through the Account API, against the real server
//! on every backend under test: the gates in Logto's order (verification record, then the `session` field, then the
//! sessions scope), `isCurrent`, the grants per application and party, revocation that ends the other session's
//! tokens and is logged, and the paginated activity log.

use latchkey_domain::account_center::{AccountCenterFields, FieldAccess};
use latchkey_domain::application::{ApplicationRepository, ApplicationType};
use reqwest::Method;
use serde_json::{Value, json};

use crate::account_client::{AccountSession, create_user, set_account_center};
use crate::harness::TokenApp;
use crate::helpers::expect_api_error;

const PASSWORD: &str = "Correct-Horse-7-battery";
const SESSIONS: &str = "urn:logto:scope:sessions";
const SCOPES: &[&str] = &["openid", "profile", SESSIONS];

async fn session_field(app: &TokenApp, access: Option<FieldAccess>) {
    set_account_center(app, AccountCenterFields { session: access, ..Default::default() }).await;
}

/// A third-party application's id (the Account API's session routes do not need a first-party client).
async fn third_party_app(app: &TokenApp) -> String {
    let client = app.user_app(ApplicationType::Spa, false).await;
    let applications = app.store.applications();
    let mut application = applications.find_by_id(&client.id).await.unwrap().unwrap();
    application.is_third_party = true;
    applications.update(&application).await.expect("marking the application third-party");
    client.id
}

#[tokio::test]
async fn sessions_are_listed_with_the_callers_own_marked_and_gated_in_logtos_order() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        let user_id = create_user(&app, json!({"username": "ada", "password": PASSWORD})).await;
        let first_party = app.user_app(ApplicationType::Spa, false).await.id;
        let third_party = third_party_app(&app).await;
        let me = AccountSession::start(&app, &user_id, &first_party, SCOPES).await;
        let other = AccountSession::start(&app, &user_id, &third_party, SCOPES).await;
        let record = me.password_record(PASSWORD).await;

        // The record is checked first, then the field, then the scope.
        session_field(&app, None).await;
        let response = me.send(Method::GET, "/api/my-account/sessions", None, None).await;
        expect_api_error(response, 401, "verification_record.permission_denied", backend).await;
        let response = me.send(Method::GET, "/api/my-account/sessions", Some(&record), None).await;
        expect_api_error(response, 400, "account_center.field_not_enabled", backend).await;
        session_field(&app, Some(FieldAccess::ReadOnly)).await;
        let unscoped = AccountSession::start(&app, &user_id, &first_party, &["openid", "profile"]).await;
        let unscoped_record = unscoped.password_record(PASSWORD).await;
        let response = unscoped.send(Method::GET, "/api/my-account/sessions", Some(&unscoped_record), None).await;
        expect_api_error(response, 401, "auth.unauthorized", backend).await;
        let response = unscoped.send(Method::GET, "/api/my-account/grants", Some(&unscoped_record), None).await;
        expect_api_error(response, 401, "auth.unauthorized", backend).await;

        // Read-only is enough to list.
        let listed = me.ok(Method::GET, "/api/my-account/sessions", Some(&record)).await;
        let sessions = listed["sessions"].as_array().expect("{sessions}");
        assert_eq!(sessions.len(), 3, "on {backend}: {listed}");
        for session in sessions {
            for field in ["id", "payload", "clientId", "accountId", "expiresAt", "isCurrent"] {
                assert!(session.get(field).is_some(), "{field} on {backend}: {session}");
            }
            assert_eq!(session["accountId"], user_id.as_str(), "on {backend}");
            let own = session["id"] == me.session_id.as_str();
            assert_eq!(session["isCurrent"], own, "on {backend}: {session}");
        }
        // A third-party client cannot make the verification record these routes need.
        let response =
            other.send(Method::POST, "/api/verifications/password", None, Some(json!({"password": PASSWORD}))).await;
        expect_api_error(response, 403, "auth.third_party_application_forbidden", backend).await;

        // Grants: one per application, filtered by party.
        let grants = me.ok(Method::GET, "/api/my-account/grants", Some(&record)).await;
        let mut ids: Vec<&str> =
            grants["grants"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap()).collect();
        ids.sort_unstable();
        let mut expected = vec![first_party.as_str(), third_party.as_str()];
        expected.sort_unstable();
        assert_eq!(ids, expected, "on {backend}: {grants}");
        let first_party_grant = grants["grants"].as_array().unwrap().iter().find(|g| g["id"] == first_party.as_str());
        let first_party_grant = first_party_grant.unwrap();
        assert_eq!(first_party_grant["payload"]["kind"], "Grant", "on {backend}");
        assert_eq!(first_party_grant["application"]["name"], "user app", "on {backend}");
        assert_eq!(first_party_grant["sessionIds"].as_array().unwrap().len(), 2, "on {backend}");
        let third = me.ok(Method::GET, "/api/my-account/grants?appType=thirdParty", Some(&record)).await;
        let third: Vec<&str> = third["grants"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap()).collect();
        assert_eq!(third, [third_party.as_str()], "on {backend}");
        let response = me.send(Method::GET, "/api/my-account/grants?appType=everyone", Some(&record), None).await;
        expect_api_error(response, 400, "guard.invalid_input", backend).await;

        // `isCurrent` follows the token that asks.
        let second = AccountSession::start(&app, &user_id, &first_party, SCOPES).await;
        let second_record = second.password_record(PASSWORD).await;
        let seen_by_second = second.ok(Method::GET, "/api/my-account/sessions", Some(&second_record)).await;
        let current: Vec<&Value> =
            seen_by_second["sessions"].as_array().unwrap().iter().filter(|s| s["isCurrent"] == true).collect();
        assert_eq!(current.len(), 1, "on {backend}");
        assert_eq!(current[0]["id"], second.session_id.as_str(), "on {backend}");
    }
}

#[tokio::test]
async fn revoking_a_session_or_a_grant_ends_its_tokens_and_is_logged() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        let user_id = create_user(&app, json!({"username": "ada", "password": PASSWORD})).await;
        let stranger = create_user(&app, json!({"username": "eve", "password": PASSWORD})).await;
        let client = app.user_app(ApplicationType::Spa, false).await.id;
        let other_client = app.user_app(ApplicationType::Native, false).await.id;
        let me = AccountSession::start(&app, &user_id, &client, SCOPES).await;
        let laptop = AccountSession::start(&app, &user_id, &client, SCOPES).await;
        let theirs = AccountSession::start(&app, &stranger, &client, SCOPES).await;
        let record = me.password_record(PASSWORD).await;
        let path = |id: &str| format!("/api/my-account/sessions/{id}");

        session_field(&app, Some(FieldAccess::ReadOnly)).await;
        let response = me.send(Method::DELETE, &path(&laptop.session_id), None, None).await;
        expect_api_error(response, 401, "verification_record.permission_denied", backend).await;
        let response = me.send(Method::DELETE, &path(&laptop.session_id), Some(&record), None).await;
        expect_api_error(response, 400, "account_center.field_not_editable", backend).await;
        session_field(&app, Some(FieldAccess::Edit)).await;
        let bogus = format!("{}?revokeGrantsTarget=nobody", path(&laptop.session_id));
        let response = me.send(Method::DELETE, &bogus, Some(&record), None).await;
        expect_api_error(response, 400, "guard.invalid_input", backend).await;
        // Another user's session is as unknown as a made-up id.
        for id in [theirs.session_id.as_str(), "no-such-session"] {
            let response = me.send(Method::DELETE, &path(id), Some(&record), None).await;
            expect_api_error(response, 404, "oidc.session_not_found", backend).await;
        }
        assert_eq!(theirs.send(Method::GET, "/api/my-account", None, None).await.status().as_u16(), 200);

        let with_target = format!("{}?revokeGrantsTarget=all", path(&laptop.session_id));
        me.done(Method::DELETE, &with_target, Some(&record)).await;
        let response = laptop.send(Method::GET, "/api/my-account", None, None).await;
        assert_eq!(response.status().as_u16(), 401, "the revoked session's token fails on {backend}");
        let response = me.send(Method::DELETE, &path(&laptop.session_id), Some(&record), None).await;
        expect_api_error(response, 404, "oidc.session_not_found", backend).await;
        assert_eq!(me.send(Method::GET, "/api/my-account", None, None).await.status().as_u16(), 200);

        // A grant is every session with one application.
        let grant = |id: &str| format!("/api/my-account/grants/{id}");
        let response = me.send(Method::DELETE, &grant(&other_client), Some(&record), None).await;
        expect_api_error(response, 404, "entity.not_found", backend).await;
        let phone = AccountSession::start(&app, &user_id, &other_client, SCOPES).await;
        let tablet = AccountSession::start(&app, &user_id, &other_client, SCOPES).await;
        me.done(Method::DELETE, &grant(&other_client), Some(&record)).await;
        for ended in [&phone, &tablet] {
            let response = ended.send(Method::GET, "/api/my-account", None, None).await;
            assert_eq!(response.status().as_u16(), 401, "the grant's sessions end on {backend}");
        }
        let left = me.ok(Method::GET, "/api/my-account/sessions", Some(&record)).await;
        let left: Vec<&str> = left["sessions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
        assert_eq!(left, [me.session_id.as_str()], "on {backend}");

        // Each revocation is in the user's activity, newest first, paginated.
        let response = me.send(Method::GET, "/api/my-account/logs?page_size=1", Some(&record), None).await;
        assert_eq!(response.status().as_u16(), 200, "on {backend}");
        let total: u64 = response.headers()["Total-Number"].to_str().unwrap().parse().unwrap();
        let link = response.headers()["Link"].to_str().unwrap().to_owned();
        let page: Value = response.json().await.unwrap();
        assert_eq!(page.as_array().unwrap().len(), 1, "on {backend}");
        assert!(link.contains("/api/my-account/logs?page=2&page_size=1>; rel=\"next\""), "on {backend}: {link}");
        let all = me.ok(Method::GET, "/api/my-account/logs?page_size=100", Some(&record)).await;
        let entries = all.as_array().unwrap();
        assert_eq!(entries.len() as u64, total, "on {backend}");
        let revocations: Vec<&Value> = entries.iter().filter(|entry| entry["key"] == "User.Sessions.Revoked").collect();
        assert_eq!(revocations.len(), 2, "on {backend}: {all}");
        let grant_revocation = &revocations[0]["payload"];
        assert_eq!(grant_revocation["actor"], json!({"type": "user", "id": user_id.as_str()}), "on {backend}");
        assert_eq!(grant_revocation["details"]["sessionIds"].as_array().unwrap().len(), 2, "on {backend}");
        assert_eq!(revocations[1]["payload"]["details"]["sessionIds"], json!([laptop.session_id]), "on {backend}");
        assert!(entries.iter().all(|entry| entry["payload"]["userId"] == user_id.as_str()), "only ada's on {backend}");
        let response = me.send(Method::GET, "/api/my-account/logs?page_size=0", Some(&record), None).await;
        expect_api_error(response, 400, "guard.invalid_pagination", backend).await;
        let response = me.send(Method::GET, "/api/my-account/logs", None, None).await;
        expect_api_error(response, 401, "verification_record.permission_denied", backend).await;
    }
}
