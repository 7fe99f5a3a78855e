//! `/api/roles` and `/api/users/{userId}/roles` on every backend under test: Logto's role shape and status codes,
//! the built-in Management API role, users' roles with their audit entries, and the Management API guard.

use latchkey_domain::audit::{AuditFilter, AuditLogRepository, keys};
use latchkey_domain::ports::Pagination;
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::harness::TokenApp;
use crate::helpers::expect_api_error;

const BUILT_IN_ROLE_ID: &str = "management-api-access";

struct Managed {
    app: TokenApp,
    token: String,
}

impl Managed {
    async fn all() -> Vec<Managed> {
        let mut apps = Vec::new();
        for app in TokenApp::all().await {
            let token = app.management_token().await;
            apps.push(Managed { app, token });
        }
        apps
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        send(&self.app, Some(&self.token), method, path, body).await
    }

    /// Creates a role through the API and returns its body.
    async fn create(&self, name: &str, role_type: &str) -> Value {
        let body = json!({"name": name, "description": format!("{name} role"), "type": role_type});
        let response = self.send(Method::POST, "/api/roles", Some(body)).await;
        assert_eq!(response.status().as_u16(), 200, "on {}", self.app.backend);
        response.json().await.unwrap()
    }

    async fn user_role_ids(&self, user: &str) -> Vec<String> {
        let response = self.send(Method::GET, &format!("/api/users/{user}/roles"), None).await;
        assert_eq!(response.status().as_u16(), 200, "on {}", self.app.backend);
        let roles: Vec<Value> = response.json().await.unwrap();
        let mut ids: Vec<String> = roles.iter().map(|role| role["id"].as_str().unwrap().to_owned()).collect();
        ids.sort();
        ids
    }
}

async fn send(app: &TokenApp, token: Option<&str>, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut request = app.client.request(method, format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("the server answers")
}

fn sorted(mut ids: Vec<&str>) -> Vec<String> {
    ids.sort_unstable();
    ids.into_iter().map(str::to_owned).collect()
}

#[tokio::test]
async fn a_role_is_created_read_updated_listed_and_deleted_with_logtos_field_names() {
    for app in Managed::all().await {
        let backend = app.app.backend;
        let created = app.create("editor", "User").await;
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 21, "on {backend}: {created}");
        assert_eq!(
            created,
            json!({"tenantId": "default", "id": id, "name": "editor", "description": "editor role", "type": "User",
                "isDefault": false}),
            "on {backend}"
        );

        let response = app.send(Method::GET, &format!("/api/roles/{id}"), None).await;
        assert_eq!(response.status().as_u16(), 200, "on {backend}");
        assert_eq!(response.json::<Value>().await.unwrap(), created, "on {backend}");

        let patch = json!({"name": "writer", "isDefault": true});
        let response = app.send(Method::PATCH, &format!("/api/roles/{id}"), Some(patch)).await;
        assert_eq!(response.status().as_u16(), 200, "on {backend}");
        let updated: Value = response.json().await.unwrap();
        assert_eq!(
            (&updated["name"], &updated["description"], &updated["isDefault"]),
            (&json!("writer"), &json!("editor role"), &json!(true))
        );

        let robot = app.create("robot", "MachineToMachine").await;
        let response = app.send(Method::GET, "/api/roles?page_size=2", None).await;
        assert_eq!(response.status().as_u16(), 200, "on {backend}");
        assert_eq!(response.headers()["total-number"], "3", "on {backend}");
        assert!(response.headers()["link"].to_str().unwrap().contains("rel=\"next\""), "on {backend}");
        let page: Vec<Value> = response.json().await.unwrap();
        assert_eq!(page, [robot.clone(), updated.clone()], "newest first on {backend}");
        let response = app.send(Method::GET, "/api/roles?page=2&page_size=2", None).await;
        let page: Vec<Value> = response.json().await.unwrap();
        assert_eq!(page.len(), 1, "on {backend}");
        assert_eq!(page[0]["id"], BUILT_IN_ROLE_ID, "the built-in role comes last on {backend}");
        assert_eq!(page[0]["type"], "MachineToMachine", "on {backend}");

        let response = app.send(Method::GET, "/api/roles?type=User", None).await;
        assert_eq!(response.json::<Vec<Value>>().await.unwrap(), [updated], "on {backend}");
        let response = app.send(Method::GET, "/api/roles?search=%25ROB%25", None).await;
        assert_eq!(response.json::<Vec<Value>>().await.unwrap(), [robot], "on {backend}");
        let response = app.send(Method::GET, "/api/roles?type=Robot", None).await;
        expect_api_error(response, 400, "guard.invalid_input", backend).await;

        let response = app.send(Method::DELETE, &format!("/api/roles/{id}"), None).await;
        assert_eq!(response.status().as_u16(), 204, "on {backend}");
        let response = app.send(Method::GET, &format!("/api/roles/{id}"), None).await;
        expect_api_error(response, 404, "entity.not_exists_with_id", backend).await;
    }
}

#[tokio::test]
async fn names_are_unique_and_bounded_and_unknown_roles_are_not_found() {
    for app in Managed::all().await {
        let backend = app.app.backend;
        let editor = app.create("editor", "User").await;
        let other = app.create("other", "User").await;

        let duplicate = json!({"name": "editor", "description": "again"});
        expect_api_error(app.send(Method::POST, "/api/roles", Some(duplicate)).await, 422, "role.name_in_use", backend)
            .await;
        let built_in_name = json!({"name": "Management API access", "description": "mine"});
        let response = app.send(Method::POST, "/api/roles", Some(built_in_name)).await;
        expect_api_error(response, 422, "role.name_in_use", backend).await;
        let editor_path = format!("/api/roles/{}", editor["id"].as_str().unwrap());
        let response = app.send(Method::PATCH, &editor_path, Some(json!({"name": "Management API access"}))).await;
        expect_api_error(response, 422, "role.name_in_use", backend).await;
        let rename = json!({"name": "editor"});
        let other_path = format!("/api/roles/{}", other["id"].as_str().unwrap());
        let response = app.send(Method::PATCH, &other_path, Some(rename)).await;
        expect_api_error(response, 422, "role.name_in_use", backend).await;
        let too_long = json!({"name": "x".repeat(129), "description": "long"});
        expect_api_error(
            app.send(Method::POST, "/api/roles", Some(too_long)).await,
            400,
            "guard.invalid_input",
            backend,
        )
        .await;
        let no_description = json!({"name": "viewer"});
        let response = app.send(Method::POST, "/api/roles", Some(no_description)).await;
        expect_api_error(response, 400, "guard.invalid_input", backend).await;

        for method in [Method::GET, Method::DELETE] {
            let response = app.send(method, "/api/roles/abcdefghijklmnopqrstu", None).await;
            expect_api_error(response, 404, "entity.not_exists_with_id", backend).await;
        }
        let response = app.send(Method::PATCH, "/api/roles/abcdefghijklmnopqrstu", Some(json!({"name": "x"}))).await;
        expect_api_error(response, 404, "entity.not_exists_with_id", backend).await;
        assert_eq!(editor["name"], "editor");
    }
}

#[tokio::test]
async fn the_built_in_role_can_be_read_but_not_changed_deleted_or_given_to_users() {
    for app in Managed::all().await {
        let backend = app.app.backend;
        let path = format!("/api/roles/{BUILT_IN_ROLE_ID}");
        let response = app.send(Method::GET, &path, None).await;
        assert_eq!(response.status().as_u16(), 200, "on {backend}");
        let role: Value = response.json().await.unwrap();
        assert_eq!((&role["name"], &role["type"]), (&json!("Management API access"), &json!("MachineToMachine")));

        let response = app.send(Method::PATCH, &path, Some(json!({"name": "mine"}))).await;
        expect_api_error(response, 403, "role.internal_role_violation", backend).await;
        expect_api_error(app.send(Method::DELETE, &path, None).await, 403, "role.internal_role_violation", backend)
            .await;

        let user = app.app.user().await;
        let body = json!({"roleIds": [BUILT_IN_ROLE_ID]});
        let response = app.send(Method::POST, &format!("/api/users/{user}/roles"), Some(body)).await;
        expect_api_error(response, 422, "user.invalid_role_type", backend).await;
    }
}

#[tokio::test]
async fn a_users_roles_are_assigned_listed_replaced_and_removed_with_audit_entries() {
    for app in Managed::all().await {
        let backend = app.app.backend;
        let ids: Vec<String> = {
            let mut ids = Vec::new();
            for name in ["admin", "editor", "viewer"] {
                ids.push(app.create(name, "User").await["id"].as_str().unwrap().to_owned());
            }
            ids
        };
        let (admin, editor, viewer) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());
        let user = app.app.user().await;
        let path = format!("/api/users/{user}/roles");

        let response = app.send(Method::POST, &path, Some(json!({"roleIds": [admin, editor]}))).await;
        assert_eq!(response.status().as_u16(), 201, "on {backend}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"roleIds": [admin, editor], "addedRoleIds": [admin, editor]}), "on {backend}");
        assert_eq!(app.user_role_ids(user.as_str()).await, sorted(vec![admin, editor]), "on {backend}");

        // Roles held already are skipped.
        let response = app.send(Method::POST, &path, Some(json!({"roleIds": [admin, viewer]}))).await;
        assert_eq!(response.status().as_u16(), 201, "on {backend}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["addedRoleIds"], json!([viewer]), "on {backend}");

        let response = app.send(Method::GET, &format!("{path}?page_size=2"), None).await;
        assert_eq!(response.headers()["total-number"], "3", "on {backend}");

        let response = app.send(Method::PUT, &path, Some(json!({"roleIds": [editor]}))).await;
        assert_eq!(response.status().as_u16(), 200, "on {backend}");
        assert_eq!(app.user_role_ids(user.as_str()).await, [editor.to_owned()], "on {backend}");

        let response = app.send(Method::DELETE, &format!("{path}/{editor}"), None).await;
        assert_eq!(response.status().as_u16(), 204, "on {backend}");
        assert!(app.user_role_ids(user.as_str()).await.is_empty(), "on {backend}");
        let response = app.send(Method::DELETE, &format!("{path}/{editor}"), None).await;
        expect_api_error(response, 404, "entity.not_found", backend).await;

        let filter = AuditFilter {
            user_id: Some(user.as_str().to_owned()),
            key: Some(keys::USER_ROLES_UPDATED.to_owned()),
            ..AuditFilter::default()
        };
        let entries = app.app.store.audit_log().list(&filter, Pagination::default()).await.unwrap();
        assert_eq!(entries.total, 4, "two assignments, a replacement and a removal on {backend}");
        // Entries written within one millisecond have no order among them: compare as sets.
        let mut details: Vec<String> =
            entries.items.iter().map(|entry| Value::Object(entry.details.clone()).to_string()).collect();
        details.sort();
        let mut expected: Vec<String> = [
            json!({"added": [admin, editor]}),
            json!({"added": [viewer]}),
            json!({"added": [], "removed": sorted(vec![admin, viewer])}),
            json!({"removed": [editor]}),
        ]
        .iter()
        .map(Value::to_string)
        .collect();
        expected.sort();
        assert_eq!(details, expected, "on {backend}");

        // Deleting a role takes it from its users.
        app.send(Method::POST, &path, Some(json!({"roleIds": [viewer]}))).await;
        assert_eq!(app.send(Method::DELETE, &format!("/api/roles/{viewer}"), None).await.status().as_u16(), 204);
        assert!(app.user_role_ids(user.as_str()).await.is_empty(), "on {backend}");
    }
}

#[tokio::test]
async fn unknown_users_and_roles_and_machine_roles_are_refused_with_logtos_codes() {
    for app in Managed::all().await {
        let backend = app.app.backend;
        let robot = app.create("robot", "MachineToMachine").await;
        let robot = robot["id"].as_str().unwrap();
        let user = app.app.user().await;
        let path = format!("/api/users/{user}/roles");

        for (method, body) in [
            (Method::GET, None),
            (Method::POST, Some(json!({"roleIds": []}))),
            (Method::PUT, Some(json!({"roleIds": []}))),
        ] {
            let response = app.send(method.clone(), "/api/users/nosuchuser01/roles", body).await;
            expect_api_error(response, 404, "entity.not_found", backend).await;
        }
        let response = app.send(Method::DELETE, "/api/users/nosuchuser01/roles/abcdefghijklmnopqrstu", None).await;
        expect_api_error(response, 404, "entity.not_found", backend).await;

        for method in [Method::POST, Method::PUT] {
            let response = app.send(method.clone(), &path, Some(json!({"roleIds": ["abcdefghijklmnopqrstu"]}))).await;
            expect_api_error(response, 404, "entity.not_exists_with_id", backend).await;
            let response = app.send(method, &path, Some(json!({"roleIds": [robot]}))).await;
            expect_api_error(response, 422, "user.invalid_role_type", backend).await;
        }
        let response = app.send(Method::DELETE, &format!("{path}/abcdefghijklmnopqrstu"), None).await;
        expect_api_error(response, 404, "entity.not_exists_with_id", backend).await;
        let response = app.send(Method::POST, &path, Some(json!({"roleIds": [""]}))).await;
        expect_api_error(response, 400, "guard.invalid_input", backend).await;
        assert!(app.user_role_ids(user.as_str()).await.is_empty(), "nothing was assigned on {backend}");
    }
}

#[tokio::test]
async fn role_routes_need_a_management_token() {
    for app in Managed::all().await {
        let backend = app.app.backend;
        let user = app.app.user().await;
        let user_token = app.app.sign_in(&user, "first-party", &["openid", "profile", "all"]).await.access_token;
        let routes = [
            (Method::GET, "/api/roles".to_owned()),
            (Method::POST, "/api/roles".to_owned()),
            (Method::GET, format!("/api/roles/{BUILT_IN_ROLE_ID}")),
            (Method::GET, format!("/api/users/{user}/roles")),
            (Method::POST, format!("/api/users/{user}/roles")),
            (Method::DELETE, format!("/api/users/{user}/roles/{BUILT_IN_ROLE_ID}")),
        ];
        for (method, path) in routes {
            let body = (method == Method::POST).then(|| json!({"name": "x", "description": "x", "roleIds": []}));
            let response = send(&app.app, None, method.clone(), &path, body.clone()).await;
            assert_eq!(response.status().as_u16(), 401, "{method} {path} without a token on {backend}");
            let response = send(&app.app, Some(&user_token), method.clone(), &path, body).await;
            expect_api_error(response, 401, "auth.unauthorized", backend).await;
        }
        let response = app.send(Method::GET, "/api/roles", None).await;
        assert_eq!(response.status().as_u16(), 200, "on {backend}");
    }
}

#[tokio::test]
async fn a_new_user_gets_the_default_user_roles() {
    for app in Managed::all().await {
        let backend = app.app.backend;
        let member = json!({"name": "member", "description": "everyone", "type": "User", "isDefault": true});
        let member = app.send(Method::POST, "/api/roles", Some(member)).await.json::<Value>().await.unwrap();
        assert_eq!(member["isDefault"], true, "on {backend}");
        app.create("admin", "User").await;

        let response = app.send(Method::POST, "/api/users", Some(json!({"username": "newcomer"}))).await;
        assert_eq!(response.status().as_u16(), 200, "on {backend}");
        let user: Value = response.json().await.unwrap();
        let member_id = member["id"].as_str().unwrap().to_owned();
        assert_eq!(
            app.user_role_ids(user["id"].as_str().unwrap()).await,
            std::slice::from_ref(&member_id),
            "on {backend}"
        );

        // No longer default: later users do not get it, earlier ones keep it.
        let patch = Some(json!({"isDefault": false}));
        assert_eq!(app.send(Method::PATCH, &format!("/api/roles/{member_id}"), patch).await.status().as_u16(), 200);
        let later: Value =
            app.send(Method::POST, "/api/users", Some(json!({"username": "later"}))).await.json().await.unwrap();
        assert!(app.user_role_ids(later["id"].as_str().unwrap()).await.is_empty(), "on {backend}");
        assert_eq!(app.user_role_ids(user["id"].as_str().unwrap()).await, [member_id], "on {backend}");
    }
}
