//! The account page as a browser fetches it: the page at `/account` and `/account/`, the embedded files with their
//! types and entity tags, the configuration, and the security headers on every answer, a 404 included.

use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{App, test};
use latchkey_account_page::{
    ACCOUNT_PAGE_APP_ID, AccountPageConfig, CONTENT_SECURITY_POLICY, SECURITY_HEADERS, SocialConnectorLink,
};
use serde_json::{Value, json};

fn config() -> AccountPageConfig {
    AccountPageConfig {
        client_id: ACCOUNT_PAGE_APP_ID.to_owned(),
        social_connectors: vec![SocialConnectorLink { id: "acme-oidc".to_owned(), target: "acme".to_owned() }],
    }
}

/// Sends `request` to an app with only the account page mounted.
async fn send(request: test::TestRequest) -> ServiceResponse {
    let app = test::init_service(App::new().configure(|cfg| latchkey_account_page::configure(cfg, config()))).await;
    test::call_service(&app, request.to_request()).await
}

async fn get(path: &str) -> ServiceResponse {
    send(test::TestRequest::get().uri(path)).await
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers.get(&name).unwrap_or_else(|| panic!("a {name} header")).to_str().unwrap()
}

fn assert_security_headers(response: &ServiceResponse) {
    let headers = response.headers();
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(headers.get(name).and_then(|value| value.to_str().ok()), Some(value), "{name}");
    }
}

async fn assert_not_found(response: ServiceResponse) {
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_security_headers(&response);
    let body: Value = test::read_body_json(response).await;
    assert_eq!(body, json!({"code": "request.not_found", "message": "The requested route does not exist."}));
}

#[actix_web::test]
async fn the_page_is_served_at_account_with_and_without_the_trailing_slash() {
    for path in ["/account", "/account/"] {
        let response = get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(response.headers(), header::CONTENT_TYPE), "text/html; charset=utf-8", "{path}");
        assert_security_headers(&response);
        let body = test::read_body(response).await;
        let html = String::from_utf8(body.to_vec()).expect("UTF-8 HTML");
        assert!(html.to_ascii_lowercase().contains("<html"), "{path}: {html}");
    }
}

#[actix_web::test]
async fn files_are_served_with_their_content_types() {
    for (path, content_type) in [
        ("/account/index.html", "text/html; charset=utf-8"),
        ("/account/app.js", "text/javascript"),
        ("/account/style.css", "text/css"),
    ] {
        let response = get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(response.headers(), header::CONTENT_TYPE), content_type, "{path}");
        assert_eq!(header(response.headers(), header::CACHE_CONTROL), "no-cache", "{path}");
        assert_security_headers(&response);
    }
}

#[actix_web::test]
async fn the_policy_allows_only_this_origin_and_forbids_framing() {
    let response = get("/account/app.js").await;
    let policy = header(response.headers(), header::CONTENT_SECURITY_POLICY);
    assert_eq!(policy, CONTENT_SECURITY_POLICY);
    for directive in ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"] {
        assert!(policy.split("; ").any(|part| part == directive), "{directive} in {policy}");
    }
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "{policy}");
    assert_eq!(header(response.headers(), header::X_FRAME_OPTIONS), "DENY");
    assert_eq!(header(response.headers(), header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(header(response.headers(), header::REFERRER_POLICY), "no-referrer");
    assert_eq!(header(response.headers(), header::CROSS_ORIGIN_OPENER_POLICY), "same-origin");
    let permissions = header(response.headers(), header::HeaderName::from_static("permissions-policy"));
    assert!(permissions.contains("camera=()") && permissions.contains("publickey-credentials-get=(self)"));
}

#[actix_web::test]
async fn the_configuration_names_the_client_and_the_social_connectors_and_is_not_cached() {
    let response = get("/account/config.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(response.headers(), header::CONTENT_TYPE), "application/json");
    assert_eq!(header(response.headers(), header::CACHE_CONTROL), "no-store");
    assert_security_headers(&response);
    let body: Value = test::read_body_json(response).await;
    assert_eq!(body, json!({"clientId": "account-page", "socialConnectors": [{"id": "acme-oidc", "target": "acme"}]}));
}

#[actix_web::test]
async fn an_unknown_file_is_a_logto_shaped_404_with_the_security_headers() {
    for path in ["/account/nope.js", "/account/pages/nope.js", "/account/pages/"] {
        assert_not_found(get(path).await).await;
    }
}

#[actix_web::test]
async fn a_path_climbing_out_of_the_assets_is_refused() {
    for path in ["/account/pages/../app.js", "/account/../Cargo.toml", "/account/..%2FCargo.toml", "/account/.."] {
        assert_not_found(get(path).await).await;
    }
}

#[actix_web::test]
async fn a_file_the_client_already_has_is_answered_304() {
    let first = get("/account/app.js").await;
    let etag = header(first.headers(), header::ETAG).to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 66, "a quoted SHA-256: {etag}");

    for if_none_match in [etag.clone(), format!("W/{etag}"), format!("\"other\", {etag}"), "*".to_owned()] {
        let response =
            send(test::TestRequest::get().uri("/account/app.js").insert_header((header::IF_NONE_MATCH, if_none_match)))
                .await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header(response.headers(), header::ETAG), etag);
        assert_security_headers(&response);
        assert!(test::read_body(response).await.is_empty());
    }

    let stale =
        send(test::TestRequest::get().uri("/account/app.js").insert_header((header::IF_NONE_MATCH, "\"stale\""))).await;
    assert_eq!(stale.status(), StatusCode::OK);
}

#[actix_web::test]
async fn the_page_itself_is_revalidated_by_entity_tag() {
    let first = get("/account").await;
    let etag = header(first.headers(), header::ETAG).to_owned();
    let again = send(test::TestRequest::get().uri("/account/").insert_header((header::IF_NONE_MATCH, etag))).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

#[actix_web::test]
async fn head_requests_are_answered_like_gets() {
    for path in ["/account", "/account/app.js", "/account/config.json"] {
        let response = send(test::TestRequest::default().method(actix_web::http::Method::HEAD).uri(path)).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_security_headers(&response);
    }
}

#[actix_web::test]
async fn other_methods_are_not_allowed() {
    let response = send(test::TestRequest::post().uri("/account/app.js")).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_security_headers(&response);
}

#[actix_web::test]
async fn a_path_that_only_starts_with_account_is_not_the_page() {
    let response = get("/accounts/app.js").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.headers().get(header::CONTENT_SECURITY_POLICY).is_none(), "answered by the app, not the page");
}
