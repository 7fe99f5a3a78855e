//! `GET /api/swagger.json`: an OpenAPI 3 document listing exactly the routes the server serves.

use std::collections::BTreeSet;

use latchkey_server::Settings;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

/// Every route the server registers, as `(method, OpenAPI path)`. A route added to a `configure` without its
/// `#[utoipa::path]` (or documented but not served) fails the tests below until this list and the document agree.
const SERVED_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/status"),
    ("GET", "/api/status/ready"),
    ("GET", "/api/swagger.json"),
    ("GET", "/oidc/jwks"),
    ("POST", "/oidc/token"),
    ("POST", "/oidc/token/revocation"),
    ("GET", "/api/my-account"),
    ("PATCH", "/api/my-account"),
    ("DELETE", "/api/my-account"),
    ("GET", "/api/my-account/export"),
    ("PATCH", "/api/my-account/profile"),
    ("POST", "/api/my-account/password"),
    ("POST", "/api/my-account/primary-email"),
    ("DELETE", "/api/my-account/primary-email"),
    ("POST", "/api/my-account/primary-phone"),
    ("DELETE", "/api/my-account/primary-phone"),
    ("GET", "/api/my-account/mfa-settings"),
    ("PATCH", "/api/my-account/mfa-settings"),
    ("GET", "/api/my-account/logto-configs"),
    ("PATCH", "/api/my-account/logto-configs"),
    ("GET", "/api/my-account/mfa-verifications"),
    ("POST", "/api/my-account/mfa-verifications"),
    ("PUT", "/api/my-account/mfa-verifications/totp"),
    ("POST", "/api/my-account/mfa-verifications/totp-secret/generate"),
    ("POST", "/api/my-account/mfa-verifications/backup-codes/generate"),
    ("GET", "/api/my-account/mfa-verifications/backup-codes"),
    ("DELETE", "/api/my-account/mfa-verifications/{verificationId}"),
    ("PATCH", "/api/my-account/mfa-verifications/{verificationId}/name"),
    ("POST", "/api/verifications/web-authn/registration"),
    ("POST", "/api/verifications/web-authn/registration/verify"),
    ("GET", "/api/my-account/sessions"),
    ("DELETE", "/api/my-account/sessions/{sessionId}"),
    ("GET", "/api/my-account/grants"),
    ("DELETE", "/api/my-account/grants/{grantId}"),
    ("GET", "/api/my-account/logs"),
    ("POST", "/api/verifications/social"),
    ("POST", "/api/verifications/social/verify"),
    ("POST", "/api/my-account/identities"),
    ("PUT", "/api/my-account/identities"),
    ("DELETE", "/api/my-account/identities/{target}"),
    ("GET", "/api/my-account/identities/{target}/access-token"),
    ("POST", "/api/verifications/password"),
    ("POST", "/api/verifications/verification-code"),
    ("POST", "/api/verifications/verification-code/verify"),
    ("POST", "/api/sign-in"),
    ("POST", "/api/sign-in/mfa"),
    ("POST", "/api/sign-in/verification-code"),
    ("POST", "/api/sign-out"),
    ("GET", "/api/applications"),
    ("POST", "/api/applications"),
    ("GET", "/api/applications/{id}"),
    ("PATCH", "/api/applications/{id}"),
    ("DELETE", "/api/applications/{id}"),
    ("GET", "/api/applications/{id}/secrets"),
    ("POST", "/api/applications/{id}/secrets"),
    ("DELETE", "/api/applications/{id}/secrets/{name}"),
    ("GET", "/api/applications/{id}/roles"),
    ("POST", "/api/applications/{id}/roles"),
    ("DELETE", "/api/applications/{id}/roles/{roleId}"),
    ("GET", "/api/roles"),
    ("POST", "/api/roles"),
    ("GET", "/api/roles/{id}"),
    ("PATCH", "/api/roles/{id}"),
    ("DELETE", "/api/roles/{id}"),
    ("GET", "/api/users/{userId}/roles"),
    ("POST", "/api/users/{userId}/roles"),
    ("PUT", "/api/users/{userId}/roles"),
    ("DELETE", "/api/users/{userId}/roles/{roleId}"),
    ("GET", "/api/account-center"),
    ("PATCH", "/api/account-center"),
    ("GET", "/api/.well-known/account-center"),
    ("GET", "/api/sign-in-exp"),
    ("PATCH", "/api/sign-in-exp"),
    ("GET", "/api/users/{userId}/personal-access-tokens"),
    ("POST", "/api/users/{userId}/personal-access-tokens"),
    ("PATCH", "/api/users/{userId}/personal-access-tokens"),
    ("POST", "/api/users/{userId}/personal-access-tokens/delete"),
    ("PATCH", "/api/users/{userId}/personal-access-tokens/{name}"),
    ("DELETE", "/api/users/{userId}/personal-access-tokens/{name}"),
    ("GET", "/api/users/{userId}/sessions"),
    ("GET", "/api/users/{userId}/sessions/{sessionId}"),
    ("DELETE", "/api/users/{userId}/sessions/{sessionId}"),
    ("GET", "/api/users/{userId}/grants"),
    ("DELETE", "/api/users/{userId}/grants/{grantId}"),
    ("POST", "/api/subject-tokens"),
    ("GET", "/api/users"),
    ("POST", "/api/users"),
    ("GET", "/api/users/{userId}"),
    ("PATCH", "/api/users/{userId}"),
    ("DELETE", "/api/users/{userId}"),
    ("POST", "/api/users/{userId}/restore"),
    ("GET", "/api/users/{userId}/custom-data"),
    ("PATCH", "/api/users/{userId}/custom-data"),
    ("PATCH", "/api/users/{userId}/profile"),
    ("GET", "/api/users/{userId}/logto-configs"),
    ("PATCH", "/api/users/{userId}/logto-configs"),
    ("PATCH", "/api/users/{userId}/password"),
    ("POST", "/api/users/{userId}/password/verify"),
    ("GET", "/api/users/{userId}/has-password"),
    ("PATCH", "/api/users/{userId}/is-suspended"),
    ("POST", "/api/users/{userId}/identities"),
    ("GET", "/api/users/{userId}/identities/{target}"),
    ("PUT", "/api/users/{userId}/identities/{target}"),
    ("DELETE", "/api/users/{userId}/identities/{target}"),
    ("GET", "/api/users/{userId}/mfa-verifications"),
    ("POST", "/api/users/{userId}/mfa-verifications"),
    ("DELETE", "/api/users/{userId}/mfa-verifications/{verificationId}"),
    ("GET", "/api/users/{userId}/logs"),
    ("GET", "/api/logs"),
    ("GET", "/api/logs/{id}"),
    ("GET", "/api/hooks"),
    ("POST", "/api/hooks"),
    ("GET", "/api/hooks/{id}"),
    ("PATCH", "/api/hooks/{id}"),
    ("DELETE", "/api/hooks/{id}"),
    ("PATCH", "/api/hooks/{id}/signing-key"),
    ("POST", "/api/hooks/{id}/test"),
    ("GET", "/api/hooks/{id}/recent-logs"),
    ("POST", "/api/hooks/{id}/recent-logs/{logId}/resend"),
];

/// The Latchkey extensions among them (spec §5 and the sign-in API).
const EXTENSIONS: &[(&str, &str)] = &[
    ("GET", "/api/status/ready"),
    ("POST", "/api/hooks/{id}/recent-logs/{logId}/resend"),
    ("POST", "/api/sign-in"),
    ("POST", "/api/sign-in/mfa"),
    ("POST", "/api/sign-in/verification-code"),
    ("POST", "/api/sign-out"),
    ("POST", "/api/users/{userId}/restore"),
    ("GET", "/api/users/{userId}/logs"),
    ("DELETE", "/api/my-account"),
    ("GET", "/api/my-account/export"),
    ("GET", "/api/my-account/logs"),
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async fn fetch_document(app: &TestApp) -> Value {
    let response =
        app.client.get(format!("{}/api/swagger.json", app.address)).send().await.expect("the server answers");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers().get("content-type").and_then(|value| value.to_str().ok());
    assert_eq!(content_type, Some("application/json"));
    response.json().await.expect("a JSON body")
}

/// The `(METHOD, path)` pairs of the document's operations.
fn documented_routes(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("a `paths` object");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("a path item object");
            item.keys()
                .filter(|key| METHODS.contains(&key.as_str()))
                .map(|method| (method.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn owned(routes: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    routes.iter().map(|(method, path)| ((*method).to_owned(), (*path).to_owned())).collect()
}

#[tokio::test]
async fn the_document_lists_every_served_route_with_its_methods_and_nothing_else() {
    let app = spawn_app().await;
    let document = fetch_document(&app).await;

    let documented = documented_routes(&document);
    let served = owned(SERVED_ROUTES);
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(undocumented.is_empty(), "served but not documented: {undocumented:?}");
    assert!(unserved.is_empty(), "documented but not in the list of served routes: {unserved:?}");
}

#[tokio::test]
async fn every_documented_operation_reaches_a_registered_route() {
    let app = spawn_app().await;
    let document = fetch_document(&app).await;

    for (method, path) in documented_routes(&document) {
        // Any value for the path parameters: the route must match before authentication or lookup refuse it.
        let concrete = path.replace("{id}", "x").replace("{name}", "x").replace("{roleId}", "x");
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let response = app
            .client
            .request(method.clone(), format!("{}{concrete}", app.address))
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_ne!(status, 405, "{method} {path} is not served: {body}");
        assert_ne!(body["code"], "request.not_found", "{method} {path} is not served");
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_with_its_references_resolved() {
    let app = spawn_app().await;
    let document = fetch_document(&app).await;

    let version = document["openapi"].as_str().expect("an `openapi` version");
    assert!(version.starts_with("3."), "{version}");
    let parsed: utoipa::openapi::OpenApi =
        serde_json::from_value(document.clone()).expect("the document deserialises as OpenAPI");
    assert!(!parsed.paths.paths.is_empty());
    let endpoint = Settings::default().endpoint;
    assert_eq!(document["servers"][0]["url"], endpoint.as_str().trim_end_matches('/'), "the configured endpoint");

    let mut references = Vec::new();
    collect_references(&document, &mut references);
    assert!(!references.is_empty());
    for reference in references {
        let name = reference.strip_prefix("#/components/schemas/").expect("a schema reference");
        assert!(document["components"]["schemas"].get(name).is_some(), "unresolved reference {reference}");
    }
}

#[tokio::test]
async fn errors_security_schemes_and_extensions_are_documented() {
    let app = spawn_app().await;
    let document = fetch_document(&app).await;

    let error_body = &document["components"]["schemas"]["ErrorBody"];
    let required: BTreeSet<&str> =
        error_body["required"].as_array().expect("required fields").iter().filter_map(Value::as_str).collect();
    assert_eq!(required, BTreeSet::from(["code", "message"]), "{error_body}");
    assert!(error_body["properties"].get("data").is_some(), "{error_body}");

    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer", "{schemes}");
    assert_eq!(schemes["clientBasic"]["scheme"], "basic", "{schemes}");
    let applications = &document["paths"]["/api/applications"]["get"];
    assert_eq!(applications["security"], serde_json::json!([{"bearer": []}]), "{applications}");
    assert!(applications["responses"]["401"].is_object(), "{applications}");
    let token = &document["paths"]["/oidc/token"]["post"];
    assert!(token["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object(), "{token}");

    for (method, path) in documented_routes(&document) {
        let operation = &document["paths"][path.as_str()][method.to_lowercase()];
        let marked = operation["x-latchkey-extension"] == true;
        let extension = EXTENSIONS.contains(&(method.as_str(), path.as_str()));
        assert_eq!(marked, extension, "{method} {path}: marked as an extension = {marked}");
    }
}

fn collect_references(value: &Value, references: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref") {
                references.push(reference.clone());
            }
            object.values().for_each(|value| collect_references(value, references));
        }
        Value::Array(items) => items.iter().for_each(|value| collect_references(value, references)),
        _ => {}
    }
}
