//! CORS for browser front ends: preflights from an allowed origin are answered, other origins get no
//! `Access-Control-Allow-Origin`, and credentials (cookies) are never allowed. The Account API has its own
//! allow-list, any origin by default. CORS does not touch the database, so these run on SQLite only, except those
//! that need real tokens (the harness's apps, on every backend).

use latchkey_server::{Application, Settings};
use reqwest::header::HeaderMap;
use reqwest::{Method, Response};
use serde_json::Value;
use tempfile::TempDir;

use crate::harness::TokenApp;
use crate::helpers::test_settings;

const ALLOWED: &str = "https://app.example.com";
const OTHER: &str = "https://evil.example.net";
/// A front end nobody configured: the Account API admits it by default, the Management API does not.
const ANY: &str = "https://account.example.org";

struct CorsApp {
    address: String,
    client: reqwest::Client,
    _data_dir: TempDir,
}

impl CorsApp {
    async fn start(origins: &[&str]) -> Self {
        Self::start_with(|settings| settings.cors_allowed_origins = owned(origins)).await
    }

    async fn start_with(configure: impl FnOnce(&mut Settings)) -> Self {
        let data_dir = TempDir::new().expect("a temporary data directory");
        let mut settings = test_settings(data_dir.path(), None);
        configure(&mut settings);
        let application = Application::build(&settings).await.expect("building the application");
        let address = format!("http://127.0.0.1:{}", application.port());
        tokio::spawn(application.run_until_stopped());
        Self { address, client: reqwest::Client::new(), _data_dir: data_dir }
    }

    async fn preflight(&self, path: &str, origin: &str, method: &str, headers: &str) -> Response {
        preflight(&self.client, &self.address, path, origin, method, headers).await
    }
}

/// A browser's preflight: `OPTIONS` with the origin and the method and headers the page means to send.
async fn preflight(
    client: &reqwest::Client,
    address: &str,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> Response {
    client
        .request(Method::OPTIONS, format!("{address}{path}"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", headers)
        .send()
        .await
        .expect("the server answers")
}

/// The call a browser makes after the preflight: a GET with the origin and the bearer token.
async fn get_with_origin(app: &TokenApp, path: &str, origin: &str, token: &str) -> Response {
    app.client
        .get(format!("{}{path}", app.address))
        .header("Origin", origin)
        .bearer_auth(token)
        .send()
        .await
        .expect("the server answers")
}

fn owned(origins: &[&str]) -> Vec<String> {
    origins.iter().map(|origin| (*origin).to_owned()).collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.to_str().expect("a visible ASCII header"))
}

/// A comma-separated header value as lower-case items.
fn list(headers: &HeaderMap, name: &str) -> Vec<String> {
    header(headers, name)
        .unwrap_or_default()
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect()
}

#[tokio::test]
async fn a_preflight_for_the_token_endpoint_from_an_allowed_origin_is_answered_without_credentials() {
    let app = CorsApp::start(&[ALLOWED, "http://localhost:5173"]).await;

    let response = app.preflight("/oidc/token", ALLOWED, "POST", "content-type,authorization").await;

    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), Some(ALLOWED));
    assert!(list(headers, "access-control-allow-methods").contains(&"post".to_owned()), "{headers:?}");
    let allowed_headers = list(headers, "access-control-allow-headers");
    for expected in ["authorization", "content-type", "if-match"] {
        assert!(allowed_headers.contains(&expected.to_owned()), "{expected} in {allowed_headers:?}");
    }
    assert_eq!(header(headers, "access-control-allow-credentials"), None);
    assert!(list(headers, "vary").iter().any(|item| item == "origin"), "{headers:?}");
}

#[tokio::test]
async fn a_preflight_for_the_status_route_from_an_allowed_origin_is_answered() {
    let app = CorsApp::start(&[ALLOWED]).await;

    let response = app.preflight("/api/status", ALLOWED, "GET", "authorization").await;

    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(response.headers(), "access-control-allow-origin"), Some(ALLOWED));
}

#[tokio::test]
async fn a_preflight_from_another_origin_gets_no_allow_origin_and_a_json_error() {
    let app = CorsApp::start(&[ALLOWED]).await;

    for path in ["/oidc/token", "/api/status"] {
        let response = app.preflight(path, OTHER, "POST", "content-type").await;

        assert_eq!(response.status().as_u16(), 400, "{path}");
        assert_eq!(header(response.headers(), "access-control-allow-origin"), None, "{path}");
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(body["code"], "request.general", "{path}");
    }
}

#[tokio::test]
async fn a_preflight_asking_for_a_header_outside_the_list_is_refused() {
    let app = CorsApp::start(&[ALLOWED]).await;

    let response = app.preflight("/oidc/token", ALLOWED, "POST", "x-custom-header").await;

    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(header(response.headers(), "access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_request_from_an_allowed_origin_may_read_the_pagination_and_etag_headers() {
    let app = CorsApp::start(&[ALLOWED]).await;

    let response = app
        .client
        .get(format!("{}/api/status", app.address))
        .header("Origin", ALLOWED)
        .send()
        .await
        .expect("the server answers");

    assert_eq!(response.status().as_u16(), 204);
    let headers = response.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), Some(ALLOWED));
    let exposed = list(headers, "access-control-expose-headers");
    for expected in ["total-number", "link", "etag", "x-request-id"] {
        assert!(exposed.contains(&expected.to_owned()), "{expected} in {exposed:?}");
    }
    assert_eq!(header(headers, "access-control-allow-credentials"), None);
}

#[tokio::test]
async fn an_error_from_the_token_endpoint_is_readable_by_an_allowed_origin() {
    let app = CorsApp::start(&[ALLOWED]).await;

    let response = app
        .client
        .post(format!("{}/oidc/token", app.address))
        .header("Origin", ALLOWED)
        .form(&[("grant_type", "client_credentials"), ("client_id", "nobody"), ("client_secret", "wrong")])
        .send()
        .await
        .expect("the server answers");

    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(header(response.headers(), "access-control-allow-origin"), Some(ALLOWED));
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn a_request_from_another_origin_is_served_without_cors_headers() {
    let app = CorsApp::start(&[ALLOWED]).await;

    let response = app
        .client
        .get(format!("{}/api/status", app.address))
        .header("Origin", OTHER)
        .send()
        .await
        .expect("the server answers");

    // The browser, not the server, withholds the answer from the page.
    assert_eq!(response.status().as_u16(), 204);
    // Without it the browser ignores every other CORS header (actix-cors still lists the exposed ones).
    assert_eq!(header(response.headers(), "access-control-allow-origin"), None);
}

#[tokio::test]
async fn by_default_no_origin_is_allowed() {
    let app = CorsApp::start(&[]).await;

    let preflight = app.preflight("/oidc/token", ALLOWED, "POST", "content-type").await;
    assert_eq!(header(preflight.headers(), "access-control-allow-origin"), None);

    let response = app
        .client
        .get(format!("{}/api/status", app.address))
        .header("Origin", ALLOWED)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(header(response.headers(), "access-control-allow-origin"), None);
}

#[tokio::test]
async fn an_account_api_preflight_and_call_from_any_origin_succeed_by_default() {
    for app in TokenApp::all().await {
        let user = app.user().await;
        let token = app.sign_in(&user, "first-party", &["openid", "profile"]).await.access_token;

        let answer = preflight(
            &app.client,
            &app.address,
            "/api/my-account",
            ANY,
            "PATCH",
            "authorization,content-type,if-match,logto-verification-id",
        )
        .await;
        assert_eq!(answer.status().as_u16(), 200, "on {}", app.backend);
        let headers = answer.headers();
        assert_eq!(header(headers, "access-control-allow-origin"), Some("*"), "on {}", app.backend);
        let methods = list(headers, "access-control-allow-methods");
        for expected in ["get", "post", "put", "patch", "delete"] {
            assert!(methods.contains(&expected.to_owned()), "{expected} in {methods:?} on {}", app.backend);
        }
        let allowed_headers = list(headers, "access-control-allow-headers");
        for expected in ["authorization", "content-type", "if-match", "logto-verification-id"] {
            assert!(allowed_headers.contains(&expected.to_owned()), "{expected} in {allowed_headers:?}");
        }
        assert_eq!(header(headers, "access-control-allow-credentials"), None, "on {}", app.backend);

        let response = get_with_origin(&app, "/api/my-account", ANY, &token).await;
        assert_eq!(response.status().as_u16(), 200, "on {}", app.backend);
        let headers = response.headers();
        assert_eq!(header(headers, "access-control-allow-origin"), Some("*"), "on {}", app.backend);
        // The account's entity tag, and the pagination of the activity log.
        let exposed = list(headers, "access-control-expose-headers");
        for expected in ["etag", "total-number", "link", "x-request-id"] {
            assert!(exposed.contains(&expected.to_owned()), "{expected} in {exposed:?} on {}", app.backend);
        }
        assert!(header(headers, "etag").is_some(), "on {}", app.backend);
        assert_eq!(header(headers, "access-control-allow-credentials"), None, "on {}", app.backend);
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(body["id"], user.as_str(), "on {}", app.backend);
    }
}

#[tokio::test]
async fn the_management_api_refuses_an_origin_the_account_api_admits_unless_it_is_configured() {
    for app in TokenApp::all().await {
        let token = app.management_token().await;
        for path in ["/api/users", "/api/applications"] {
            let answer = preflight(&app.client, &app.address, path, ANY, "GET", "authorization").await;
            assert_eq!(answer.status().as_u16(), 400, "{path} on {}", app.backend);
            assert_eq!(header(answer.headers(), "access-control-allow-origin"), None, "{path} on {}", app.backend);

            // The server serves the call; the browser withholds it from the page for want of an allow-origin.
            let response = get_with_origin(&app, path, ANY, &token).await;
            assert_eq!(response.status().as_u16(), 200, "{path} on {}", app.backend);
            assert_eq!(header(response.headers(), "access-control-allow-origin"), None, "{path} on {}", app.backend);
            assert_eq!(header(response.headers(), "access-control-allow-credentials"), None, "{path}");
        }
    }

    for app in TokenApp::all_with(|settings| settings.cors_allowed_origins = owned(&[ANY])).await {
        let token = app.management_token().await;
        for path in ["/api/users", "/api/applications"] {
            let answer = preflight(&app.client, &app.address, path, ANY, "GET", "authorization").await;
            assert_eq!(answer.status().as_u16(), 200, "{path} on {}", app.backend);
            assert_eq!(header(answer.headers(), "access-control-allow-origin"), Some(ANY), "{path} on {}", app.backend);

            let response = get_with_origin(&app, path, ANY, &token).await;
            assert_eq!(response.status().as_u16(), 200, "{path} on {}", app.backend);
            let headers = response.headers();
            assert_eq!(header(headers, "access-control-allow-origin"), Some(ANY), "{path} on {}", app.backend);
            assert_eq!(header(headers, "access-control-allow-credentials"), None, "{path} on {}", app.backend);
        }
    }
}

#[tokio::test]
async fn an_explicit_account_api_list_admits_its_origins_only_and_echoes_them() {
    let app = CorsApp::start_with(|settings| settings.account_api_cors_allowed_origins = owned(&[ALLOWED])).await;

    let refused = app.preflight("/api/my-account", OTHER, "GET", "authorization").await;
    assert_eq!(refused.status().as_u16(), 400);
    assert_eq!(header(refused.headers(), "access-control-allow-origin"), None);

    let answered = app.preflight("/api/my-account", ALLOWED, "GET", "authorization").await;
    assert_eq!(answered.status().as_u16(), 200);
    let headers = answered.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), Some(ALLOWED));
    assert!(list(headers, "vary").iter().any(|item| item == "origin"), "{headers:?}");
    assert_eq!(header(headers, "access-control-allow-credentials"), None);

    // Without a token: the 401 still carries the allow-origin for the listed origin only, so the page can read it.
    for (origin, expected) in [(ALLOWED, Some(ALLOWED)), (OTHER, None)] {
        let response = app
            .client
            .get(format!("{}/api/my-account", app.address))
            .header("Origin", origin)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status().as_u16(), 401, "{origin}");
        assert_eq!(header(response.headers(), "access-control-allow-origin"), expected, "{origin}");
    }
}

#[tokio::test]
async fn the_account_api_list_does_not_open_the_general_routes() {
    let app = CorsApp::start(&[]).await;

    for path in ["/api/my-accountX", "/api/status", "/oidc/token", "/api/users"] {
        let answer = app.preflight(path, ANY, "POST", "authorization").await;
        assert_eq!(answer.status().as_u16(), 400, "{path}");
        assert_eq!(header(answer.headers(), "access-control-allow-origin"), None, "{path}");
    }
}

#[tokio::test]
async fn a_preflight_for_a_verification_route_is_answered_whether_or_not_the_route_exists() {
    let app = CorsApp::start(&[]).await;

    for path in ["/api/verifications/password", "/api/verifications", "/api/my-account/password"] {
        let answer = app.preflight(path, ANY, "POST", "authorization,content-type").await;
        assert_eq!(answer.status().as_u16(), 200, "{path}");
        assert_eq!(header(answer.headers(), "access-control-allow-origin"), Some("*"), "{path}");
        assert!(list(answer.headers(), "access-control-allow-methods").contains(&"post".to_owned()), "{path}");
        assert_eq!(header(answer.headers(), "access-control-allow-credentials"), None, "{path}");
    }

    // The call itself, answered or not, is readable by the page.
    let response = app
        .client
        .post(format!("{}/api/verifications/password", app.address))
        .header("Origin", ANY)
        .json(&serde_json::json!({ "password": "not a real one" }))
        .send()
        .await
        .expect("the server answers");
    assert!(response.status().is_client_error(), "{}", response.status());
    assert_eq!(header(response.headers(), "access-control-allow-origin"), Some("*"));
    assert_eq!(header(response.headers(), "access-control-allow-credentials"), None);
}
