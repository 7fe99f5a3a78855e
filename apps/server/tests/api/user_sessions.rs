//! `/api/users/{userId}/sessions` and `/api/users/{userId}/grants` on every backend under test: a user's live
//! sessions in Logto's shape, revoking one (its tokens fail on their next request), grants as the user's
//! connections to applications, the audit entries, Logto's error codes and the Management API guard.

use latchkey_domain::application::ApplicationType;
use latchkey_domain::audit::keys;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{TokenApp, expect_accepted, expect_unauthorized};
use crate::helpers::expect_api_error;
use crate::personal_access_tokens::{audit_entries, call, expect_status, management_client};

fn session_ids(sessions: &Value) -> Vec<String> {
    let mut ids: Vec<String> = sessions
        .as_array()
        .expect("a list")
        .iter()
        .map(|session| session["id"].as_str().expect("an id").to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn sessions_are_listed_in_logtos_shape_and_revoking_one_ends_its_tokens_at_once() {
    for app in TokenApp::all().await {
        let (admin, _) = management_client(&app).await;
        let user = app.user().await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let first = app.sign_in(&user, &client.id, &["openid"]).await;
        let second = app.sign_in(&user, &client.id, &["openid"]).await;
        let path = format!("/api/users/{}/sessions", user.as_str());

        let listed = expect_status(call(&app, Some(&admin), Method::GET, &path, None).await, 200, app.backend).await;
        let mut expected = vec![first.session_id.clone(), second.session_id.clone()];
        expected.sort();
        assert_eq!(session_ids(&listed["sessions"]), expected, "on {}: {listed}", app.backend);
        let session = &listed["sessions"][0];
        assert_eq!(session["clientId"], client.id.as_str(), "on {}: {session}", app.backend);
        assert_eq!(session["accountId"], user.as_str(), "on {}: {session}", app.backend);
        assert_eq!(session["payload"]["kind"], "Session", "on {}: {session}", app.backend);
        assert_eq!(session["payload"]["accountId"], user.as_str(), "on {}: {session}", app.backend);
        assert!(session["expiresAt"].is_i64() && session["lastActiveAt"].is_i64(), "on {}: {session}", app.backend);

        let one = format!("{path}/{}", first.session_id);
        let got = expect_status(call(&app, Some(&admin), Method::GET, &one, None).await, 200, app.backend).await;
        assert_eq!(got["id"], first.session_id.as_str(), "on {}", app.backend);

        expect_status(call(&app, Some(&admin), Method::DELETE, &one, None).await, 204, app.backend).await;
        expect_unauthorized(&app, &first.access_token).await;
        expect_accepted(&app, &second.access_token).await;
        expect_api_error(
            call(&app, Some(&admin), Method::GET, &one, None).await,
            404,
            "oidc.session_not_found",
            app.backend,
        )
        .await;
        let again = call(&app, Some(&admin), Method::DELETE, &one, None).await;
        expect_api_error(again, 404, "oidc.session_not_found", app.backend).await;

        let entries = audit_entries(&app, &user, keys::USER_SESSIONS_REVOKED).await;
        assert_eq!(entries.len(), 1, "on {}", app.backend);
        assert_eq!(entries[0].details["sessionIds"], json!([first.session_id]), "on {}", app.backend);
    }
}

#[tokio::test]
async fn grants_are_a_users_connections_to_applications_and_revoking_one_ends_its_sessions() {
    for app in TokenApp::all().await {
        let (admin, _) = management_client(&app).await;
        let user = app.user().await;
        let (spa, native) =
            (app.user_app(ApplicationType::Spa, false).await, app.user_app(ApplicationType::Native, false).await);
        let spa_sessions =
            [app.sign_in(&user, &spa.id, &["openid"]).await, app.sign_in(&user, &spa.id, &["openid"]).await];
        let native_session = app.sign_in(&user, &native.id, &["openid"]).await;
        let path = format!("/api/users/{}/grants", user.as_str());

        let listed = expect_status(call(&app, Some(&admin), Method::GET, &path, None).await, 200, app.backend).await;
        let grants = listed["grants"].as_array().expect("a list of grants");
        assert_eq!(grants.len(), 2, "on {}: {listed}", app.backend);
        let spa_grant = grants.iter().find(|grant| grant["id"] == spa.id.as_str()).expect("the SPA's grant");
        assert_eq!(spa_grant["application"], json!({"id": spa.id, "name": "user app"}), "on {}", app.backend);
        assert_eq!(spa_grant["payload"]["kind"], "Grant", "on {}", app.backend);
        assert_eq!(spa_grant["sessionIds"].as_array().map(Vec::len), Some(2), "on {}", app.backend);
        let third_party = call(&app, Some(&admin), Method::GET, &format!("{path}?appType=thirdParty"), None).await;
        let third_party = expect_status(third_party, 200, app.backend).await;
        assert_eq!(third_party["grants"], json!([]), "on {}", app.backend);
        let first_party = call(&app, Some(&admin), Method::GET, &format!("{path}?appType=firstParty"), None).await;
        let first_party = expect_status(first_party, 200, app.backend).await;
        assert_eq!(first_party["grants"].as_array().map(Vec::len), Some(2), "on {}", app.backend);

        let grant = format!("{path}/{}", spa.id);
        expect_status(call(&app, Some(&admin), Method::DELETE, &grant, None).await, 204, app.backend).await;
        for session in &spa_sessions {
            expect_unauthorized(&app, &session.access_token).await;
        }
        expect_accepted(&app, &native_session.access_token).await;
        let again = call(&app, Some(&admin), Method::DELETE, &grant, None).await;
        expect_api_error(again, 404, "entity.not_found", app.backend).await;

        let entries = audit_entries(&app, &user, keys::USER_SESSIONS_REVOKED).await;
        assert_eq!(entries.len(), 1, "on {}", app.backend);
        assert_eq!(entries[0].details["sessionIds"].as_array().map(Vec::len), Some(2), "on {}", app.backend);
    }
}

#[tokio::test]
async fn unknown_users_and_other_users_sessions_are_not_found_and_only_management_tokens_are_served() {
    for app in TokenApp::all().await {
        let (admin, _) = management_client(&app).await;
        let (user, other) = (app.user().await, app.user().await);
        let client = app.user_app(ApplicationType::Spa, false).await;
        let others = app.sign_in(&other, &client.id, &["openid"]).await;

        for path in ["/api/users/nosuchuser00/sessions", "/api/users/nosuchuser00/grants"] {
            expect_api_error(
                call(&app, Some(&admin), Method::GET, path, None).await,
                404,
                "entity.not_found",
                app.backend,
            )
            .await;
        }
        // Another user's session is not this user's.
        let foreign = format!("/api/users/{}/sessions/{}", user.as_str(), others.session_id);
        expect_api_error(
            call(&app, Some(&admin), Method::DELETE, &foreign, None).await,
            404,
            "oidc.session_not_found",
            app.backend,
        )
        .await;
        expect_accepted(&app, &others.access_token).await;

        let path = format!("/api/users/{}/sessions", other.as_str());
        let anonymous = call(&app, None, Method::GET, &path, None).await;
        expect_api_error(anonymous, 401, "auth.authorization_header_missing", app.backend).await;
        let refused = call(&app, Some(&others.access_token), Method::GET, &path, None).await;
        expect_api_error(refused, 401, "auth.unauthorized", app.backend).await;
        let bad_filter =
            call(&app, Some(&admin), Method::GET, &format!("/api/users/{}/grants?appType=x", other.as_str()), None)
                .await;
        expect_api_error(bad_filter, 400, "guard.invalid_input", app.backend).await;
    }
}
