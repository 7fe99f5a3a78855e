//! Every error has a JSON body in Logto's shape, also where Logto answers plain text: unknown routes (404) and
//! wrong methods (405, with `Allow`). Routing does not touch the database, so these run on SQLite only.

use reqwest::Response;
use serde_json::Value;

use crate::helpers::spawn_app;

async fn json_error(response: Response) -> Value {
    let content_type = response.headers().get("content-type").map(|value| value.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let body: Value = response.json().await.expect("a JSON body");
    assert!(body["message"].as_str().is_some_and(|message| !message.is_empty()), "{body}");
    body
}

#[tokio::test]
async fn an_unknown_route_answers_404_with_a_json_error() {
    let app = spawn_app().await;

    for path in ["/api/nope", "/nope", "/oidc/nope", "/api/status/extra"] {
        let response = app.client.get(format!("{}{path}", app.address)).send().await.expect("the server answers");

        assert_eq!(response.status().as_u16(), 404, "{path}");
        assert_eq!(json_error(response).await["code"], "request.not_found", "{path}");
    }
}

#[tokio::test]
async fn a_wrong_method_answers_405_with_allow_and_a_json_error() {
    let app = spawn_app().await;

    for (method, path, allow) in
        [("POST", "/api/status", "GET"), ("DELETE", "/oidc/jwks", "GET"), ("GET", "/oidc/token", "POST")]
    {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), format!("{}{path}", app.address))
            .send()
            .await
            .expect("the server answers");

        assert_eq!(response.status().as_u16(), 405, "{method} {path}");
        let allowed = response.headers().get("allow").map(|value| value.to_str().unwrap().to_owned());
        assert_eq!(allowed.as_deref(), Some(allow), "{method} {path}");
        assert_eq!(json_error(response).await["code"], "request.method_not_allowed", "{method} {path}");
    }
}

#[tokio::test]
async fn errors_that_already_have_a_json_body_are_passed_through() {
    let app = spawn_app().await;

    let response = app
        .client
        .post(format!("{}/oidc/token", app.address))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .expect("the server answers");

    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("a JSON body");
    // The OAuth endpoint's own RFC 6749 body, not the generic one.
    assert_eq!(body["error"], "unsupported_grant_type", "{body}");
    assert_ne!(body["code"], "request.general", "{body}");
}

#[tokio::test]
async fn a_head_request_to_an_unknown_route_answers_404_without_a_body() {
    let app = spawn_app().await;

    let response = app.client.head(format!("{}/api/nope", app.address)).send().await.expect("the server answers");

    assert_eq!(response.status().as_u16(), 404);
    assert!(response.bytes().await.expect("a body").is_empty());
}
