//! `GET /api/my-account` on every backend: the caller's account filtered by token scopes and account-center
//! settings, and Logto's answers for the wrong kind of token or a disabled account center.

use latchkey_domain::account_center::{
    AccountCenterFields, AccountCenterRepository, AccountCenterSettings, FieldAccess,
};
use latchkey_domain::application::ApplicationType;
use latchkey_domain::identifiers::Email;
use latchkey_domain::{Clock, IdGenerator, RandomIds, SystemClock, User, UserId};
use serde_json::Value;

use crate::harness::{TokenApp, expect_tokens};

async fn user_with_email(app: &TokenApp) -> UserId {
    let mut user = User::new(RandomIds.user_id(), SystemClock.now());
    user.primary_email = Some(Email::parse("bob@example.com").unwrap());
    user.name = Some("Bob".to_owned());
    app.insert_user(&user).await;
    user.id
}

/// Replaces the account-center settings, whatever their current version.
async fn set_account_center(app: &TokenApp, settings: AccountCenterSettings) {
    let repository = app.store.account_center();
    let current = repository.get().await.unwrap().version;
    repository.save(&settings, current, SystemClock.now()).await.expect("saving the account-center settings");
}

fn email_and_name_readable() -> AccountCenterSettings {
    let fields = AccountCenterFields {
        email: Some(FieldAccess::ReadOnly),
        name: Some(FieldAccess::Edit),
        ..AccountCenterFields::default()
    };
    AccountCenterSettings { enabled: true, fields, ..AccountCenterSettings::default() }
}

async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn the_account_shows_what_scopes_and_settings_allow_with_an_etag() {
    for app in TokenApp::all().await {
        set_account_center(&app, email_and_name_readable()).await;
        let user = user_with_email(&app).await;
        let token = app.sign_in(&user, "first-party", &["openid", "profile", "email"]).await.access_token;

        let response = app.my_account(&token).await;
        assert_eq!(response.headers()["etag"], "\"1\"", "on {}", app.backend);
        let (status, body) = json(response).await;
        assert_eq!(status, 200, "on {}: {body}", app.backend);
        assert_eq!(body["id"], user.as_str(), "on {}", app.backend);
        assert_eq!(body["primaryEmail"], "bob@example.com", "on {}", app.backend);
        assert_eq!(body["name"], "Bob", "on {}", app.backend);
        // Username is Off in the settings, phone is not in the scopes.
        assert!(body.get("username").is_none() && body.get("primaryPhone").is_none(), "on {}: {body}", app.backend);

        let without_email = app.sign_in(&user, "first-party", &["openid", "profile"]).await.access_token;
        let (_, body) = json(app.my_account(&without_email).await).await;
        assert!(body.get("primaryEmail").is_none(), "on {}: {body}", app.backend);
    }
}

#[tokio::test]
async fn a_disabled_account_center_answers_not_enabled() {
    for app in TokenApp::all().await {
        set_account_center(&app, AccountCenterSettings::default()).await;
        let user = app.user().await;
        let token = app.sign_in(&user, "first-party", &["openid", "profile"]).await.access_token;
        let (status, body) = json(app.my_account(&token).await).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("account_center.not_enabled")), "on {}", app.backend);
    }
}

#[tokio::test]
async fn a_management_token_is_unauthorized_and_a_token_without_openid_forbidden() {
    for app in TokenApp::all().await {
        let (id, secret) = app.app(ApplicationType::MachineToMachine, true).await;
        let form = [("grant_type", "client_credentials"), ("resource", app.management_api()), ("scope", "all")];
        let management = expect_tokens(app.post(Some((&id, &secret)), &form).await, app.backend).await;
        let management = management["access_token"].as_str().unwrap().to_owned();
        let (status, body) = json(app.my_account(&management).await).await;
        assert_eq!((status, body["code"].as_str()), (401, Some("auth.unauthorized")), "on {}", app.backend);

        let user = app.user().await;
        let no_openid = app.sign_in(&user, "first-party", &["profile"]).await.access_token;
        let (status, body) = json(app.my_account(&no_openid).await).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("auth.forbidden")), "on {}", app.backend);

        let response = app.client.get(format!("{}/api/my-account", app.address)).send().await.unwrap();
        let (status, body) = json(response).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("auth.authorization_header_missing")),
            "on {}",
            app.backend
        );
    }
}
