//! The self-service account page at `/account` on the real server: served with its security headers through the
//! app's middleware, configured with the built-in app, which exists from start and signs users in as a first-party
//! app; and absent, page and app, with `account_page = false`.

use latchkey_account_page::ACCOUNT_PAGE_APP_ID;
use latchkey_domain::application::{Application, ApplicationRepository, ApplicationType};
use latchkey_domain::{Clock, SystemClock};
use reqwest::Response;
use serde_json::{Value, json};

use crate::account_client::create_user;
use crate::harness::TokenApp;
use crate::helpers::test_settings;

const PASSWORD: &str = "correct horse battery staple";

async fn get(app: &TokenApp, path: &str) -> Response {
    app.client.get(format!("{}{path}", app.address)).send().await.expect("the server answers")
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response.headers().get(name).unwrap_or_else(|| panic!("a {name} header")).to_str().unwrap()
}

#[tokio::test]
async fn the_page_is_html_with_its_content_security_policy() {
    for app in TokenApp::all().await {
        for path in ["/account", "/account/"] {
            let response = get(&app, path).await;

            assert_eq!(response.status().as_u16(), 200, "{path} on {}", app.backend);
            assert_eq!(header(&response, "content-type"), "text/html; charset=utf-8", "{path} on {}", app.backend);
            let policy = header(&response, "content-security-policy");
            assert!(policy.starts_with("default-src 'none'; script-src 'self';"), "{path}: {policy}");
            assert_eq!(header(&response, "x-frame-options"), "DENY");
            assert!(header(&response, "etag").starts_with('"'), "{path} on {}", app.backend);
            let html = response.text().await.unwrap();
            assert!(html.to_ascii_lowercase().contains("<html"), "{path} on {}: {html}", app.backend);
        }
        let script = get(&app, "/account/app.js").await;
        assert_eq!(script.status().as_u16(), 200, "on {}", app.backend);
        assert_eq!(header(&script, "content-type"), "text/javascript", "on {}", app.backend);
    }
}

#[tokio::test]
async fn an_unknown_file_under_the_page_is_a_json_404_with_the_security_headers() {
    for app in TokenApp::all().await {
        let response = get(&app, "/account/no-such-file.js").await;

        assert_eq!(response.status().as_u16(), 404, "on {}", app.backend);
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert!(header(&response, "content-security-policy").contains("frame-ancestors 'none'"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "request.not_found", "on {}: {body}", app.backend);
    }
}

#[tokio::test]
async fn the_configuration_names_the_built_in_app_and_the_social_connectors() {
    for app in TokenApp::all().await {
        let response = get(&app, "/account/config.json").await;

        assert_eq!(response.status().as_u16(), 200, "on {}", app.backend);
        assert_eq!(header(&response, "cache-control"), "no-store");
        let config: Value = response.json().await.unwrap();
        assert_eq!(config, json!({"clientId": "account-page", "socialConnectors": []}), "on {}", app.backend);
    }
}

#[tokio::test]
async fn a_user_signs_in_with_a_password_through_the_built_in_app() {
    for app in TokenApp::all().await {
        create_user(&app, json!({"username": "ada", "password": PASSWORD})).await;

        let response = app
            .client
            .post(format!("{}/api/sign-in", app.address))
            .json(&json!({
                "clientId": ACCOUNT_PAGE_APP_ID,
                "identifier": {"type": "username", "value": "ada"},
                "password": PASSWORD,
            }))
            .send()
            .await
            .unwrap();

        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "on {}: {body}", app.backend);
        assert!(body["access_token"].is_string(), "on {}: {body}", app.backend);
        let built_in = app.store.applications().find_by_id(ACCOUNT_PAGE_APP_ID).await.unwrap().unwrap();
        assert_eq!((built_in.app_type, built_in.is_third_party), (ApplicationType::Spa, false));
        assert_eq!(built_in.name, "Account page");
        assert!(built_in.secrets.is_empty(), "a public client, on {}", app.backend);
    }
}

#[tokio::test]
async fn turned_off_there_is_neither_page_nor_app() {
    for app in TokenApp::all_with(|settings| settings.account_page = false).await {
        for path in ["/account", "/account/", "/account/app.js", "/account/config.json"] {
            let response = get(&app, path).await;
            assert_eq!(response.status().as_u16(), 404, "{path} on {}", app.backend);
            assert!(response.headers().get("content-security-policy").is_none(), "{path} on {}", app.backend);
        }
        let built_in = app.store.applications().find_by_id(ACCOUNT_PAGE_APP_ID).await.unwrap();
        assert!(built_in.is_none(), "on {}", app.backend);
    }
}

#[tokio::test]
async fn a_restart_keeps_the_built_in_app_and_leaves_one_an_operator_changed_as_it_is() {
    let data_dir = tempfile::tempdir().unwrap();
    let settings = test_settings(data_dir.path(), None);
    let first = latchkey_server::Application::build(&settings).await.expect("the first start");
    let store = first.store().clone();
    let created = store.applications().find_by_id(ACCOUNT_PAGE_APP_ID).await.unwrap().expect("the built-in app");

    drop(first);
    latchkey_server::Application::build(&settings).await.expect("a second start");
    let kept = store.applications().find_by_id(ACCOUNT_PAGE_APP_ID).await.unwrap().unwrap();
    assert_eq!(kept.created_at, created.created_at, "not re-created");

    // An app of a type that cannot sign users in, under the page's id: a warning at start, not a failure.
    store.applications().delete(ACCOUNT_PAGE_APP_ID).await.unwrap();
    let machine = Application::new(
        ACCOUNT_PAGE_APP_ID.to_owned(),
        "Taken".to_owned(),
        ApplicationType::MachineToMachine,
        SystemClock.now(),
    );
    store.applications().insert(&machine).await.unwrap();
    latchkey_server::Application::build(&settings).await.expect("a start with the id taken");
    let left = store.applications().find_by_id(ACCOUNT_PAGE_APP_ID).await.unwrap().unwrap();
    assert_eq!((left.app_type, left.name.as_str()), (ApplicationType::MachineToMachine, "Taken"));
}
