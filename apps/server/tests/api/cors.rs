//! CORS for browser front ends: preflights from an allowed origin are answered, other origins get no
//! `Access-Control-Allow-Origin`, and credentials (cookies) are never allowed. CORS does not touch the database,
//! so these run on SQLite only.

use latchkey_server::Application;
use reqwest::header::HeaderMap;
use reqwest::{Method, Response};
use serde_json::Value;
use tempfile::TempDir;

use crate::helpers::test_settings;

const ALLOWED: &str = "https://app.example.com";
const OTHER: &str = "https://evil.example.net";

struct CorsApp {
    address: String,
    client: reqwest::Client,
    _data_dir: TempDir,
}

impl CorsApp {
    async fn start(origins: &[&str]) -> Self {
        let data_dir = TempDir::new().expect("a temporary data directory");
        let mut settings = test_settings(data_dir.path(), None);
        settings.cors_allowed_origins = origins.iter().map(|origin| (*origin).to_owned()).collect();
        let application = Application::build(&settings).await.expect("building the application");
        let address = format!("http://127.0.0.1:{}", application.port());
        tokio::spawn(application.run_until_stopped());
        Self { address, client: reqwest::Client::new(), _data_dir: data_dir }
    }

    async fn preflight(&self, path: &str, origin: &str, method: &str, headers: &str) -> Response {
        self.client
            .request(Method::OPTIONS, format!("{}{path}", self.address))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", method)
            .header("Access-Control-Request-Headers", headers)
            .send()
            .await
            .expect("the server answers")
    }
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
    for expected in ["total-number", "link", "etag"] {
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
