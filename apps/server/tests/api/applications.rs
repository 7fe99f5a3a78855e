//! `/api/applications` on every backend under test: the Management API guard, Logto's application shape, secrets
//! shown once and never listed, the Management API role, pagination and Logto's error codes.

use latchkey_auth::{attenuate, mint};
use latchkey_domain::application::ApplicationRepository;
use latchkey_domain::token::{AccessClaims, Audience, Subject};
use latchkey_domain::{Clock, SystemClock};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::harness::TokenApp;
use crate::helpers::{MANAGEMENT_API, expect_api_error};

const ROLE_ID: &str = "management-api-access";

/// The shared harness (a running server plus a store on its database) and a management token from `/oidc/token`.
struct ManagedApp {
    app: TokenApp,
    client_id: String,
    client_secret: String,
    token: String,
}

impl std::ops::Deref for ManagedApp {
    type Target = TokenApp;

    fn deref(&self) -> &TokenApp {
        &self.app
    }
}

impl ManagedApp {
    /// One per backend: SQLite, plus PostgreSQL when `LATCHKEY_TEST_DATABASE_URL` is set.
    async fn all() -> Vec<ManagedApp> {
        let mut apps = Vec::new();
        for app in TokenApp::all().await {
            let (client_id, client_secret) = app.management_app().await;
            let token = management_token(&app.client, &app.address, &client_id, &client_secret)
                .await
                .expect("the management app gets a token");
            apps.push(ManagedApp { app, client_id, client_secret, token });
        }
        apps
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.address)).bearer_auth(&self.token)
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the server answers")
    }

    /// Creates an application through the API and returns the create response's body.
    async fn create(&self, body: Value) -> Value {
        let response = self.send(Method::POST, "/api/applications", Some(body)).await;
        assert_eq!(response.status().as_u16(), 200, "on {}", self.backend);
        response.json().await.unwrap()
    }

    /// A token signed with the server's keys for `claims`, as a client of another kind would hold.
    fn token_for(&self, audience: Audience, scopes: &[&str]) -> String {
        let keys = self.key_ring();
        let now = SystemClock.now();
        let claims = AccessClaims::new(
            Subject::Application(self.client_id.clone()),
            self.client_id.clone(),
            audience,
            "test-token",
            now,
            now.plus_secs(600),
        )
        .with_scopes(scopes.iter().copied());
        mint(&keys, &claims).unwrap()
    }
}

/// `client_credentials` for the Management API, as `@logto/api` asks for it (`client_secret_post`).
async fn management_token(
    client: &reqwest::Client,
    address: &str,
    client_id: &str,
    client_secret: &str,
) -> Result<String, Value> {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", client_secret),
        ("resource", MANAGEMENT_API),
        ("scope", "all"),
    ];
    let response = client.post(format!("{address}/oidc/token")).form(&form).send().await.unwrap();
    let ok = response.status().is_success();
    let body: Value = response.json().await.unwrap();
    if ok { Ok(body["access_token"].as_str().unwrap().to_owned()) } else { Err(body) }
}

#[tokio::test]
async fn an_m2m_app_is_created_read_updated_listed_and_deleted_with_logtos_field_names() {
    for app in ManagedApp::all().await {
        let created = app
            .create(json!({"name": "billing", "type": "MachineToMachine", "description": "jobs", "foo": "ignored"}))
            .await;
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 21, "on {}: {created}", app.backend);
        assert_eq!(created["name"], "billing");
        assert_eq!(created["description"], "jobs");
        assert_eq!(created["type"], "MachineToMachine");
        assert_eq!(created["tenantId"], "default");
        assert_eq!(created["oidcClientMetadata"], json!({"redirectUris": [], "postLogoutRedirectUris": []}));
        assert_eq!(created["customData"], json!({}));
        assert_eq!(created["isThirdParty"], false);
        assert_eq!(created["protectedAppMetadata"], Value::Null);
        assert!(created["createdAt"].as_i64().unwrap() > 1_700_000_000_000, "milliseconds: {created}");
        assert!(created.get("foo").is_none());

        let fetched: Value =
            app.send(Method::GET, &format!("/api/applications/{id}"), None).await.json().await.unwrap();
        assert_eq!(fetched["isAdmin"], false, "on {}", app.backend);
        assert!(fetched.get("secret").is_none(), "the secret is shown once: {fetched}");

        let patch = json!({
            "name": "billing v2",
            "description": null,
            "customData": {"team": "payments"},
            "customClientMetadata": {"allowTokenExchange": true},
            "oidcClientMetadata": {"redirectUris": ["https://app.example.com/callback"]},
        });
        let response = app.send(Method::PATCH, &format!("/api/applications/{id}"), Some(patch)).await;
        assert_eq!(response.status().as_u16(), 200, "on {}", app.backend);
        let updated: Value = response.json().await.unwrap();
        assert_eq!(updated["name"], "billing v2");
        assert_eq!(updated["description"], Value::Null);
        assert_eq!(updated["customData"], json!({"team": "payments"}));
        assert_eq!(updated["customClientMetadata"]["allowTokenExchange"], true);
        // A PATCH merges the metadata objects key by key, as Logto does.
        assert_eq!(
            updated["oidcClientMetadata"],
            json!({"redirectUris": ["https://app.example.com/callback"], "postLogoutRedirectUris": []})
        );
        let response =
            app.send(Method::PATCH, &format!("/api/applications/{id}"), Some(json!({"customData": {"x": 1}}))).await;
        let updated: Value = response.json().await.unwrap();
        assert_eq!(updated["customData"], json!({"team": "payments", "x": 1}), "on {}", app.backend);

        let listed: Value = app.send(Method::GET, "/api/applications", None).await.json().await.unwrap();
        let ids: Vec<_> = listed.as_array().unwrap().iter().map(|item| item["id"].clone()).collect();
        assert!(ids.contains(&json!(id)), "on {}: {listed}", app.backend);

        let deleted = app.send(Method::DELETE, &format!("/api/applications/{id}"), None).await;
        assert_eq!(deleted.status().as_u16(), 204, "on {}", app.backend);
        let gone = app.send(Method::GET, &format!("/api/applications/{id}"), None).await;
        expect_api_error(gone, 404, "entity.not_exists_with_id", app.backend).await;
    }
}

#[tokio::test]
async fn a_secret_is_shown_once_at_creation_works_at_the_token_endpoint_and_is_never_listed() {
    for app in ManagedApp::all().await {
        let created = app.create(json!({"name": "worker", "type": "MachineToMachine"})).await;
        let id = created["id"].as_str().unwrap();
        let secret = created["secret"].as_str().expect("the first secret, once").to_owned();
        assert!(secret.len() >= 32, "enough entropy: {secret}");

        let listed: Value =
            app.send(Method::GET, &format!("/api/applications/{id}/secrets"), None).await.json().await.unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 1, "on {}: {listed}", app.backend);
        assert_eq!(listed[0]["name"], "Default secret");
        assert_eq!(listed[0]["applicationId"], id);
        assert_eq!(listed[0]["expiresAt"], Value::Null);
        assert!(listed[0].get("value").is_none(), "no value in a listing: {listed}");
        assert!(!listed.to_string().contains(&secret));
        let all: Value = app.send(Method::GET, "/api/applications", None).await.json().await.unwrap();
        assert!(!all.to_string().contains(&secret), "never listed: {all}");

        // Not yet allowed the Management API: the app authenticates but gets no management token.
        let refused = management_token(&app.client, &app.address, id, &secret).await.unwrap_err();
        assert_eq!(refused["error"], "invalid_scope", "on {}: {refused}", app.backend);
        let wrong = management_token(&app.client, &app.address, id, "wrong-secret").await.unwrap_err();
        assert_eq!(wrong["error"], "invalid_client", "on {}", app.backend);

        let added =
            app.send(Method::POST, &format!("/api/applications/{id}/secrets"), Some(json!({"name": "ci"}))).await;
        assert_eq!(added.status().as_u16(), 201, "on {}", app.backend);
        let added: Value = added.json().await.unwrap();
        let second = added["value"].as_str().expect("the new value, once").to_owned();
        assert_ne!(second, secret);
        let listed: Value =
            app.send(Method::GET, &format!("/api/applications/{id}/secrets"), None).await.json().await.unwrap();
        let names: Vec<_> = listed.as_array().unwrap().iter().map(|secret| secret["name"].clone()).collect();
        assert_eq!(names, [json!("Default secret"), json!("ci")], "on {}", app.backend);
        assert!(!listed.to_string().contains(&second));

        let duplicate =
            app.send(Method::POST, &format!("/api/applications/{id}/secrets"), Some(json!({"name": "ci"}))).await;
        expect_api_error(duplicate, 422, "entity.unique_integrity_violation", app.backend).await;
        let past = json!({"name": "old", "expiresAt": 1_000});
        let past = app.send(Method::POST, &format!("/api/applications/{id}/secrets"), Some(past)).await;
        expect_api_error(past, 400, "request.invalid_input", app.backend).await;

        let removed = app.send(Method::DELETE, &format!("/api/applications/{id}/secrets/ci"), None).await;
        assert_eq!(removed.status().as_u16(), 204, "on {}", app.backend);
        let again = app.send(Method::DELETE, &format!("/api/applications/{id}/secrets/ci"), None).await;
        expect_api_error(again, 404, "entity.not_found", app.backend).await;
    }
}

#[tokio::test]
async fn the_management_api_role_gives_an_m2m_app_management_tokens_and_other_role_ids_are_unknown() {
    for app in ManagedApp::all().await {
        let created = app.create(json!({"name": "ops", "type": "MachineToMachine"})).await;
        let id = created["id"].as_str().unwrap();
        let secret = created["secret"].as_str().unwrap();
        let roles_path = format!("/api/applications/{id}/roles");

        let none: Value = app.send(Method::GET, &roles_path, None).await.json().await.unwrap();
        assert_eq!(none, json!([]), "on {}", app.backend);
        let assigned = app.send(Method::POST, &roles_path, Some(json!({"roleIds": [ROLE_ID]}))).await;
        assert_eq!(assigned.status().as_u16(), 201, "on {}", app.backend);
        let assigned: Value = assigned.json().await.unwrap();
        assert_eq!(assigned, json!({"roleIds": [ROLE_ID], "addedRoleIds": [ROLE_ID]}));
        let again: Value =
            app.send(Method::POST, &roles_path, Some(json!({"roleIds": [ROLE_ID]}))).await.json().await.unwrap();
        assert_eq!(again, json!({"roleIds": [ROLE_ID], "addedRoleIds": []}));

        let response = app.send(Method::GET, &roles_path, None).await;
        assert_eq!(response.headers()["total-number"], "1", "on {}", app.backend);
        let roles: Value = response.json().await.unwrap();
        assert_eq!(roles[0]["id"], ROLE_ID);
        assert_eq!(roles[0]["type"], "MachineToMachine");
        let fetched: Value =
            app.send(Method::GET, &format!("/api/applications/{id}"), None).await.json().await.unwrap();
        assert_eq!(fetched["isAdmin"], true);

        let token = management_token(&app.client, &app.address, id, secret).await.expect("a management token now");
        let own = app.client.get(format!("{}/api/applications/{id}", app.address)).bearer_auth(&token).send().await;
        assert_eq!(own.unwrap().status().as_u16(), 200, "on {}", app.backend);

        let unknown = app.send(Method::POST, &roles_path, Some(json!({"roleIds": ["no-such-role"]}))).await;
        expect_api_error(unknown, 404, "entity.not_exists_with_id", app.backend).await;
        let unknown = app.send(Method::DELETE, &format!("{roles_path}/no-such-role"), None).await;
        expect_api_error(unknown, 404, "entity.not_exists_with_id", app.backend).await;

        let removed = app.send(Method::DELETE, &format!("{roles_path}/{ROLE_ID}"), None).await;
        assert_eq!(removed.status().as_u16(), 204, "on {}", app.backend);
        // The token minted while the app held the role dies with the role, on the next request.
        let own = app.client.get(format!("{}/api/applications/{id}", app.address)).bearer_auth(&token).send().await;
        expect_api_error(own.unwrap(), 401, "auth.unauthorized", app.backend).await;
        let refused = management_token(&app.client, &app.address, id, secret).await.unwrap_err();
        assert_eq!(refused["error"], "invalid_scope", "on {}", app.backend);
        let again = app.send(Method::DELETE, &format!("{roles_path}/{ROLE_ID}"), None).await;
        expect_api_error(again, 404, "entity.not_found", app.backend).await;
    }
}

#[tokio::test]
async fn first_party_apps_follow_logtos_type_rules() {
    for app in ManagedApp::all().await {
        let traditional = app.create(json!({"name": "web", "type": "Traditional", "isThirdParty": true})).await;
        assert!(traditional["secret"].is_string(), "a confidential app gets a secret: {traditional}");
        assert_eq!(traditional["isThirdParty"], true);
        let spa = app.create(json!({"name": "spa", "type": "SPA"})).await;
        assert!(spa.get("secret").is_none(), "a public app gets none: {spa}");
        assert_eq!(spa["type"], "SPA");
        let native = app.create(json!({"name": "mobile", "type": "Native"})).await;
        let native_id = native["id"].as_str().unwrap();

        let third_party_spa = json!({"name": "x", "type": "SPA", "isThirdParty": true});
        let response = app.send(Method::POST, "/api/applications", Some(third_party_spa)).await;
        expect_api_error(response, 400, "application.invalid_third_party_application_type", app.backend).await;
        let roles = app.send(Method::GET, &format!("/api/applications/{native_id}/roles"), None).await;
        expect_api_error(roles, 422, "application.invalid_type", app.backend).await;
        let secrets = format!("/api/applications/{native_id}/secrets");
        let secret = app.send(Method::POST, &secrets, Some(json!({"name": "s"}))).await;
        expect_api_error(secret, 400, "request.invalid_input", app.backend).await;
    }
}

#[tokio::test]
async fn invalid_bodies_answer_guard_invalid_input_in_logtos_shape() {
    for app in ManagedApp::all().await {
        let cases = [
            json!({"type": "MachineToMachine"}),
            json!({"name": "x", "type": "Protected"}),
            json!({"name": 42, "type": "SPA"}),
            json!({"name": "", "type": "SPA"}),
        ];
        for body in cases {
            let response = app.send(Method::POST, "/api/applications", Some(body.clone())).await;
            expect_api_error(response, 400, "guard.invalid_input", app.backend).await;
        }
        let malformed = app
            .request(Method::POST, "/api/applications")
            .header("Content-Type", "application/json")
            .body("{\"name\": ")
            .send()
            .await
            .unwrap();
        expect_api_error(malformed, 400, "guard.invalid_input", app.backend).await;
    }
}

#[tokio::test]
async fn unknown_ids_answer_404_entity_not_exists_with_id() {
    for app in ManagedApp::all().await {
        for (method, path, body) in [
            (Method::GET, "/api/applications/nope", None),
            (Method::PATCH, "/api/applications/nope", Some(json!({"name": "x"}))),
            (Method::DELETE, "/api/applications/nope", None),
            (Method::GET, "/api/applications/nope/secrets", None),
            (Method::POST, "/api/applications/nope/secrets", Some(json!({"name": "x"}))),
            (Method::GET, "/api/applications/nope/roles", None),
        ] {
            let response = app.send(method.clone(), path, body).await;
            let body = expect_api_error(response, 404, "entity.not_exists_with_id", app.backend).await;
            assert!(body.get("data").is_none(), "{method} {path}: {body}");
        }
    }
}

#[tokio::test]
async fn lists_are_paginated_with_total_number_and_links_on_the_real_path() {
    for app in ManagedApp::all().await {
        for index in 0..4 {
            app.create(json!({"name": format!("app {index}"), "type": "SPA"})).await;
        }
        // Four created here, the tests' management app, and the bootstrap app and the account page's app made at
        // start: seven in all.
        let response = app.send(Method::GET, "/api/applications?page=2&page_size=2", None).await;
        assert_eq!(response.status().as_u16(), 200, "on {}", app.backend);
        assert_eq!(response.headers()["total-number"], "7", "on {}", app.backend);
        let link = response.headers()["link"].to_str().unwrap().to_owned();
        let url = |page: u32| format!("<http://127.0.0.1:3001/api/applications?page={page}&page_size=2>");
        assert_eq!(
            link,
            format!(
                "{}; rel=\"first\", {}; rel=\"last\", {}; rel=\"prev\", {}; rel=\"next\"",
                url(1),
                url(4),
                url(1),
                url(3)
            )
        );
        let page: Value = response.json().await.unwrap();
        assert_eq!(page.as_array().unwrap().len(), 2);
        // Newest first.
        let all: Value = app.send(Method::GET, "/api/applications?page_size=100", None).await.json().await.unwrap();
        let created: Vec<i64> =
            all.as_array().unwrap().iter().map(|item| item["createdAt"].as_i64().unwrap()).collect();
        assert_eq!(created.len(), 7, "on {}", app.backend);
        assert!(created.windows(2).all(|pair| pair[0] >= pair[1]), "on {}: {created:?}", app.backend);
        let past_the_end: Value = app.send(Method::GET, "/api/applications?page=9", None).await.json().await.unwrap();
        assert_eq!(past_the_end, json!([]));
        for query in ["page=0", "page_size=0", "page_size=101", "page=abc"] {
            let response = app.send(Method::GET, &format!("/api/applications?{query}"), None).await;
            expect_api_error(response, 400, "guard.invalid_pagination", app.backend).await;
        }
    }
}

#[tokio::test]
async fn without_a_management_token_the_routes_answer_401_or_403() {
    for app in ManagedApp::all().await {
        let url = format!("{}/api/applications", app.address);
        let missing = app.client.get(&url).send().await.unwrap();
        expect_api_error(missing, 401, "auth.authorization_header_missing", app.backend).await;
        let garbage = app.client.get(&url).bearer_auth("garbage").send().await.unwrap();
        expect_api_error(garbage, 401, "auth.unauthorized", app.backend).await;
        // Unauthenticated first, even with a broken body.
        let broken = app.client.post(&url).header("Content-Type", "application/json").body("{").send().await.unwrap();
        expect_api_error(broken, 401, "auth.authorization_header_missing", app.backend).await;

        let account_token = app.token_for(Audience::Account, &["all"]);
        let response = app.client.get(&url).bearer_auth(account_token).send().await.unwrap();
        expect_api_error(response, 401, "auth.unauthorized", app.backend).await;
        let other_resource = app.token_for(Audience::Resource("https://api.example.com".to_owned()), &["all"]);
        let response = app.client.get(&url).bearer_auth(other_resource).send().await.unwrap();
        expect_api_error(response, 401, "auth.unauthorized", app.backend).await;
        let no_scope = app.token_for(Audience::Resource(MANAGEMENT_API.to_owned()), &[]);
        let response = app.client.post(&url).bearer_auth(no_scope).json(&json!({"name": "x", "type": "SPA"})).send();
        expect_api_error(response.await.unwrap(), 403, "auth.forbidden", app.backend).await;
    }
}

#[tokio::test]
async fn a_read_only_attenuated_management_token_can_list_but_not_create() {
    for app in ManagedApp::all().await {
        let read_only = attenuate(&app.token, &[r#"check if operation("read")"#]).unwrap();
        let url = format!("{}/api/applications", app.address);

        let list = app.client.get(&url).bearer_auth(&read_only).send().await.unwrap();
        assert_eq!(list.status().as_u16(), 200, "on {}", app.backend);
        let create = app.client.post(&url).bearer_auth(&read_only).json(&json!({"name": "x", "type": "SPA"})).send();
        expect_api_error(create.await.unwrap(), 401, "auth.unauthorized", app.backend).await;

        let elsewhere = attenuate(&app.token, &[r#"check if path($p), $p.starts_with("/api/users")"#]).unwrap();
        let response = app.client.get(&url).bearer_auth(&elsewhere).send().await.unwrap();
        expect_api_error(response, 401, "auth.unauthorized", app.backend).await;
        // The management app's own credentials still work: attenuation narrowed copies, not the app.
        assert!(management_token(&app.client, &app.address, &app.client_id, &app.client_secret).await.is_ok());
    }
}

#[tokio::test]
async fn deleting_an_app_revokes_its_tokens_on_the_next_request() {
    for app in ManagedApp::all().await {
        let created = app.create(json!({"name": "temporary", "type": "MachineToMachine"})).await;
        let id = created["id"].as_str().unwrap();
        app.send(Method::POST, &format!("/api/applications/{id}/roles"), Some(json!({"roleIds": [ROLE_ID]}))).await;
        let token = management_token(&app.client, &app.address, id, created["secret"].as_str().unwrap()).await.unwrap();
        let url = format!("{}/api/applications", app.address);
        assert_eq!(app.client.get(&url).bearer_auth(&token).send().await.unwrap().status().as_u16(), 200);

        app.send(Method::DELETE, &format!("/api/applications/{id}"), None).await;

        let response = app.client.get(&url).bearer_auth(&token).send().await.unwrap();
        expect_api_error(response, 401, "auth.unauthorized", app.backend).await;
        assert!(app.store.applications().find_by_id(id).await.unwrap().is_none());
    }
}
