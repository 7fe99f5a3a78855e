//! `/api/users` on every backend under test: Logto's user shape and codes, search and pagination, passwords,
//! suspension and deletion ending every token at once, restore, `ETag`/`If-Match`, the audit log of each change,
//! and the Management API guard (user tokens and narrowed tokens).

use latchkey_auth::attenuate;
use latchkey_domain::application::ApplicationType;
use latchkey_domain::audit::{Actor, AuditFilter, AuditLogRepository, keys};
use latchkey_domain::ports::Pagination;
use latchkey_domain::{UserId, UserRepository};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::harness::TokenApp;
use crate::helpers::expect_api_error;

/// The harness and a management token.
struct UsersApp {
    app: TokenApp,
    token: String,
}

impl std::ops::Deref for UsersApp {
    type Target = TokenApp;

    fn deref(&self) -> &TokenApp {
        &self.app
    }
}

impl UsersApp {
    async fn all() -> Vec<UsersApp> {
        let mut apps = Vec::new();
        for app in TokenApp::all().await {
            let token = app.management_token().await;
            apps.push(UsersApp { app, token });
        }
        apps
    }

    async fn send_with(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut request = self.client.request(method, format!("{}{path}", self.address)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the server answers")
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        self.send_with(&self.token, method, path, body).await
    }

    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let response = self.send(method.clone(), path, body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "{method} {path} on {}: {text}", self.backend);
        serde_json::from_str(&text).unwrap()
    }

    async fn create(&self, body: Value) -> Value {
        self.ok(Method::POST, "/api/users", Some(body)).await
    }

    /// Ids of `GET /api/users?<query>`, with the `Total-Number` header.
    async fn search(&self, query: &str) -> (Vec<String>, u64) {
        let response = self.send(Method::GET, &format!("/api/users?{query}"), None).await;
        assert_eq!(response.status().as_u16(), 200, "{query} on {}", self.backend);
        let total = response.headers()["total-number"].to_str().unwrap().parse().unwrap();
        let body: Value = response.json().await.unwrap();
        let ids = body.as_array().unwrap().iter().map(|user| user["id"].as_str().unwrap().to_owned()).collect();
        (ids, total)
    }

    /// The keys of the audit log about `user_id`, newest first.
    async fn logged(&self, user_id: &str) -> Vec<(String, Actor)> {
        let filter = AuditFilter { user_id: Some(user_id.to_owned()), ..AuditFilter::default() };
        let page = self.store.audit_log().list(&filter, Pagination::new(1, 100).unwrap()).await.unwrap();
        page.items.into_iter().map(|entry| (entry.key, entry.context.actor)).collect()
    }

    /// A user with an Account API token from a fresh session.
    async fn signed_in(&self, body: Value) -> (String, String) {
        let created = self.create(body).await;
        let id = created["id"].as_str().unwrap().to_owned();
        let client = self.user_app(ApplicationType::Spa, false).await;
        let tokens = self.sign_in(&UserId::parse(&id).unwrap(), &client.id, &["openid", "profile"]).await;
        (id, tokens.access_token)
    }
}

fn id_of(user: &Value) -> String {
    user["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_created_user_has_logtos_shape_and_is_read_back_with_an_etag() {
    for app in UsersApp::all().await {
        let created = app
            .create(json!({
                "id": "ignored", "username": "bob_x", "password": "123", "primaryEmail": "Bob@Example.com",
                "primaryPhone": "15551234567", "name": "Bob", "avatar": "https://example.com/bob.png",
                "customData": {"plan": "pro"}, "profile": {"givenName": "Bob", "shoeSize": "44"}, "unknown": 1,
            }))
            .await;
        let id = id_of(&created);
        assert_eq!(id.len(), 12, "on {}", app.backend);
        assert_ne!(id, "ignored");
        assert_eq!(created["username"], "bob_x");
        assert_eq!(created["primaryEmail"], "Bob@Example.com");
        assert_eq!(created["primaryPhone"], "15551234567");
        assert_eq!(created["customData"], json!({"plan": "pro"}));
        assert_eq!(created["profile"], json!({"givenName": "Bob"}));
        assert_eq!(created["identities"], json!({}));
        assert_eq!(created["lastSignInAt"], Value::Null);
        assert_eq!(created["applicationId"], Value::Null);
        assert_eq!(created["isSuspended"], false);
        assert_eq!(created["hasPassword"], true);
        assert!(created["createdAt"].as_i64().unwrap() > 1_700_000_000_000);
        for secret in ["password", "passwordDigest", "passwordAlgorithm", "mfaVerifications"] {
            assert!(created.get(secret).is_none(), "{secret} never leaves: {created}");
        }

        let response = app.send(Method::GET, &format!("/api/users/{id}"), None).await;
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers()["etag"], "\"1\"", "on {}", app.backend);
        let fetched: Value = response.json().await.unwrap();
        assert_eq!(fetched, created);

        let empty = app.create(json!({})).await;
        assert_eq!(empty["username"], Value::Null);
        assert_eq!(empty["hasPassword"], false);
        assert_eq!(app.logged(&id).await, vec![(keys::USER_CREATED.to_owned(), actor_of(&app).await)]);
    }
}

/// The management app behind the suite's token, as the audit log names it.
async fn actor_of(app: &UsersApp) -> Actor {
    let verified = latchkey_auth::verify(
        &app.key_ring(),
        &app.token,
        &latchkey_auth::RequestFacts::new(latchkey_auth::Operation::Read, "/api/users"),
        latchkey_domain::Clock::now(&latchkey_domain::SystemClock),
    )
    .unwrap();
    match verified.claims.subject {
        latchkey_domain::token::Subject::Application(id) => Actor::Application { id },
        other => panic!("a management token is an application's: {other:?}"),
    }
}

#[tokio::test]
async fn taken_and_malformed_identifiers_are_refused_with_logtos_codes_and_nothing_is_written() {
    for app in UsersApp::all().await {
        app.create(json!({"username": "bob_x", "primaryEmail": "bob@example.com", "primaryPhone": "15551234567"}))
            .await;
        let cases = [
            (json!({"username": "bob_x"}), 422, "user.username_already_in_use"),
            (json!({"primaryEmail": "BOB@EXAMPLE.COM"}), 422, "user.email_already_in_use"),
            (json!({"primaryPhone": "15551234567"}), 422, "user.phone_already_in_use"),
            (json!({"primaryEmail": "not-an-email"}), 400, "guard.invalid_input"),
            (json!({"primaryPhone": "+1 (555) 123"}), 400, "guard.invalid_input"),
            (json!({"username": "1abc"}), 400, "guard.invalid_input"),
            (json!({"username": 42}), 400, "guard.invalid_input"),
            (json!({"customData": [1]}), 400, "guard.invalid_input"),
            (
                json!({"password": "x", "passwordDigest": "y", "passwordAlgorithm": "Bcrypt"}),
                400,
                "user.password_and_digest",
            ),
            (json!({"passwordDigest": "y"}), 400, "user.password_algorithm_required"),
        ];
        for (body, status, code) in cases {
            let response = app.send(Method::POST, "/api/users", Some(body.clone())).await;
            let error = expect_api_error(response, status, code, app.backend).await;
            if code == "guard.invalid_input" && body.get("username") != Some(&json!(42)) {
                let key = body.as_object().unwrap().keys().next().unwrap().clone();
                assert_eq!(error["data"]["issues"][0]["path"], json!([key]), "{error}");
            }
        }
        let malformed = app
            .client
            .post(format!("{}/api/users", app.address))
            .bearer_auth(&app.token)
            .header("content-type", "application/json")
            .body("{")
            .send()
            .await
            .unwrap();
        expect_api_error(malformed, 400, "guard.invalid_input", app.backend).await;
        assert_eq!(app.search("").await.1, 1, "nothing else was created on {}", app.backend);

        let other = app.create(json!({"username": "carol"})).await;
        let clash =
            app.send(Method::PATCH, &format!("/api/users/{}", id_of(&other)), Some(json!({"username": "bob_x"}))).await;
        expect_api_error(clash, 422, "user.username_already_in_use", app.backend).await;
    }
}

#[tokio::test]
async fn an_unknown_user_is_entity_not_found_on_every_route() {
    for app in UsersApp::all().await {
        for (method, path, body) in [
            (Method::GET, "/api/users/nosuchuser00", None),
            (Method::GET, "/api/users/not-an-id", None),
            (Method::PATCH, "/api/users/nosuchuser00", Some(json!({"name": "x"}))),
            (Method::DELETE, "/api/users/nosuchuser00", None),
            (Method::GET, "/api/users/nosuchuser00/custom-data", None),
            (Method::PATCH, "/api/users/nosuchuser00/custom-data", Some(json!({"customData": {}}))),
            (Method::PATCH, "/api/users/nosuchuser00/profile", Some(json!({"profile": {}}))),
            (Method::GET, "/api/users/nosuchuser00/logto-configs", None),
            (Method::PATCH, "/api/users/nosuchuser00/password", Some(json!({"password": "x"}))),
            (Method::POST, "/api/users/nosuchuser00/password/verify", Some(json!({"password": "x"}))),
            (Method::GET, "/api/users/nosuchuser00/has-password", None),
            (Method::PATCH, "/api/users/nosuchuser00/is-suspended", Some(json!({"isSuspended": true}))),
            (Method::POST, "/api/users/nosuchuser00/restore", None),
        ] {
            let response = app.send(method.clone(), path, body).await;
            let error = expect_api_error(response, 404, "entity.not_found", app.backend).await;
            assert_eq!(error["message"], "The resource does not exist.", "{method} {path}");
        }
    }
}

#[tokio::test]
async fn patches_replace_or_merge_as_logto_does() {
    for app in UsersApp::all().await {
        let user = app
            .create(json!({"username": "ada", "primaryPhone": "15551234567", "customData": {"plan": "free", "a": 1},
                "profile": {"givenName": "Ada", "familyName": "Lovelace"}}))
            .await;
        let path = format!("/api/users/{}", id_of(&user));

        let patched = app
            .ok(
                Method::PATCH,
                &path,
                Some(json!({"primaryPhone": null, "name": "Ada", "username": "",
                "customData": {"plan": "pro"}})),
            )
            .await;
        assert_eq!(patched["primaryPhone"], Value::Null, "on {}", app.backend);
        assert_eq!(patched["username"], Value::Null);
        assert_eq!(patched["name"], "Ada");
        assert_eq!(patched["customData"], json!({"plan": "pro"}), "PATCH /users/:id replaces customData");
        assert_eq!(patched["profile"], json!({"givenName": "Ada", "familyName": "Lovelace"}), "untouched");

        let merged =
            app.ok(Method::PATCH, &format!("{path}/custom-data"), Some(json!({"customData": {"extra": true}}))).await;
        assert_eq!(merged, json!({"plan": "pro", "extra": true}));
        assert_eq!(app.ok(Method::GET, &format!("{path}/custom-data"), None).await, merged);

        let profile =
            app.ok(Method::PATCH, &format!("{path}/profile"), Some(json!({"profile": {"nickname": "ada"}}))).await;
        assert_eq!(profile, json!({"givenName": "Ada", "familyName": "Lovelace", "nickname": "ada"}));

        let configs =
            app.ok(Method::PATCH, &format!("{path}/logto-configs"), Some(json!({"mfa": {"skipped": true}}))).await;
        assert_eq!(configs["mfa"]["skipped"], true, "on {}: {configs}", app.backend);
        assert_eq!(configs["passkeySignIn"]["skipped"], false);
        assert_eq!(app.ok(Method::GET, &format!("{path}/logto-configs"), None).await, configs);
        let unknown = app.send(Method::PATCH, &format!("{path}/logto-configs"), Some(json!({"mfa": {"x": 1}}))).await;
        expect_api_error(unknown, 400, "guard.invalid_input", app.backend).await;

        let keys: Vec<String> = app.logged(&id_of(&user)).await.into_iter().map(|(key, _)| key).collect();
        assert_eq!(keys.iter().filter(|key| *key == keys::USER_DATA_UPDATED).count(), 4, "{keys:?}");
    }
}

#[tokio::test]
async fn passwords_are_set_verified_and_imported_and_a_reset_ends_the_sessions() {
    for app in UsersApp::all().await {
        let (id, token) = app.signed_in(json!({"username": "ada"})).await;
        let path = format!("/api/users/{id}");
        assert_eq!(app.ok(Method::GET, &format!("{path}/has-password"), None).await, json!({"hasPassword": false}));
        let verify = app.send(Method::POST, &format!("{path}/password/verify"), Some(json!({"password": "x"}))).await;
        expect_api_error(verify, 422, "session.invalid_credentials", app.backend).await;

        assert_eq!(app.my_account(&token).await.status().as_u16(), 200);
        let user = app.ok(Method::PATCH, &format!("{path}/password"), Some(json!({"password": "123"}))).await;
        assert_eq!(user["hasPassword"], true);
        assert_eq!(app.my_account(&token).await.status().as_u16(), 401, "the reset ended the session");
        let right = app.send(Method::POST, &format!("{path}/password/verify"), Some(json!({"password": "123"}))).await;
        assert_eq!(right.status().as_u16(), 204, "on {}", app.backend);
        let wrong = app.send(Method::POST, &format!("{path}/password/verify"), Some(json!({"password": "124"}))).await;
        expect_api_error(wrong, 422, "session.invalid_credentials", app.backend).await;

        // MD5 of "password", as an import from another system.
        let imported = app
            .create(json!({"username": "legacy", "passwordDigest": "5f4dcc3b5aa765d61d8327deb882cf99",
                "passwordAlgorithm": "MD5"}))
            .await;
        assert_eq!(imported["hasPassword"], true);
        let check = app
            .send(
                Method::POST,
                &format!("/api/users/{}/password/verify", id_of(&imported)),
                Some(json!({"password": "password"})),
            )
            .await;
        assert_eq!(check.status().as_u16(), 204, "on {}", app.backend);
    }
}

#[tokio::test]
async fn suspension_ends_every_token_at_once_and_reinstating_revives_none() {
    for app in UsersApp::all().await {
        let (id, token) = app.signed_in(json!({"username": "ada"})).await;
        assert_eq!(app.my_account(&token).await.status().as_u16(), 200);
        let suspended =
            app.ok(Method::PATCH, &format!("/api/users/{id}/is-suspended"), Some(json!({"isSuspended": true}))).await;
        assert_eq!(suspended["isSuspended"], true);
        assert_eq!(app.my_account(&token).await.status().as_u16(), 401, "on {}", app.backend);

        let reinstated =
            app.ok(Method::PATCH, &format!("/api/users/{id}/is-suspended"), Some(json!({"isSuspended": false}))).await;
        assert_eq!(reinstated["isSuspended"], false);
        assert_eq!(app.my_account(&token).await.status().as_u16(), 401, "reinstating revives no token");

        let missing = app.send(Method::PATCH, &format!("/api/users/{id}/is-suspended"), Some(json!({}))).await;
        expect_api_error(missing, 400, "guard.invalid_input", app.backend).await;
        let keys: Vec<String> = app.logged(&id).await.into_iter().map(|(key, _)| key).collect();
        assert_eq!(&keys[..2], [keys::USER_SUSPENSION_UPDATED, keys::USER_SUSPENSION_UPDATED]);
    }
}

#[tokio::test]
async fn a_deleted_user_loses_its_tokens_and_is_restored_with_its_identifiers_unless_one_was_taken() {
    for app in UsersApp::all().await {
        let (id, token) =
            app.signed_in(json!({"username": "ada", "primaryEmail": "ada@example.com", "customData": {"a": 1}})).await;
        let deleted = app.send(Method::DELETE, &format!("/api/users/{id}"), None).await;
        assert_eq!(deleted.status().as_u16(), 204, "on {}", app.backend);
        assert!(deleted.text().await.unwrap().is_empty());
        expect_api_error(
            app.send(Method::GET, &format!("/api/users/{id}"), None).await,
            404,
            "entity.not_found",
            app.backend,
        )
        .await;
        expect_api_error(
            app.send(Method::DELETE, &format!("/api/users/{id}"), None).await,
            404,
            "entity.not_found",
            app.backend,
        )
        .await;
        assert_eq!(app.my_account(&token).await.status().as_u16(), 401, "on {}", app.backend);

        // The email is free meanwhile: taking it blocks the restore.
        let newcomer = app.create(json!({"primaryEmail": "ADA@example.com"})).await;
        let blocked = app.send(Method::POST, &format!("/api/users/{id}/restore"), None).await;
        expect_api_error(blocked, 422, "user.email_already_in_use", app.backend).await;

        app.ok(Method::PATCH, &format!("/api/users/{}", id_of(&newcomer)), Some(json!({"primaryEmail": null}))).await;
        let restored = app.ok(Method::POST, &format!("/api/users/{id}/restore"), None).await;
        assert_eq!(restored["username"], "ada");
        assert_eq!(restored["primaryEmail"], "ada@example.com");
        assert_eq!(restored["customData"], json!({"a": 1}));
        assert_eq!(app.my_account(&token).await.status().as_u16(), 401, "restoring revives no token");
        assert!(app.store.users().find_by_id(&UserId::parse(&id).unwrap()).await.unwrap().is_some());
        let keys: Vec<String> = app.logged(&id).await.into_iter().map(|(key, _)| key).collect();
        assert_eq!(&keys[..2], [keys::USER_RESTORED, keys::USER_DELETED], "on {}", app.backend);
    }
}

#[tokio::test]
async fn a_stale_if_match_is_refused_with_412_and_changes_nothing() {
    for app in UsersApp::all().await {
        let user = app.create(json!({"username": "ada"})).await;
        let path = format!("/api/users/{}", id_of(&user));
        let first = app.send(Method::GET, &path, None).await;
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();

        let current = app
            .client
            .patch(format!("{}{path}", app.address))
            .bearer_auth(&app.token)
            .header("if-match", &etag)
            .json(&json!({"name": "Ada"}))
            .send()
            .await
            .unwrap();
        assert_eq!(current.status().as_u16(), 200, "on {}", app.backend);
        let next_etag = current.headers()["etag"].to_str().unwrap().to_owned();
        assert_ne!(next_etag, etag);

        for (method, body) in [(Method::PATCH, Some(json!({"name": "Stale"}))), (Method::DELETE, None)] {
            let mut request = app
                .client
                .request(method, format!("{}{path}", app.address))
                .bearer_auth(&app.token)
                .header("if-match", &etag);
            if let Some(body) = body {
                request = request.json(&body);
            }
            expect_api_error(request.send().await.unwrap(), 412, "request.precondition_failed", app.backend).await;
        }
        let weak = app
            .client
            .patch(format!("{}{path}", app.address))
            .bearer_auth(&app.token)
            .header("if-match", format!("W/{next_etag}"))
            .json(&json!({"name": "Weak"}))
            .send()
            .await
            .unwrap();
        expect_api_error(weak, 412, "request.precondition_failed", app.backend).await;
        let now = app.ok(Method::GET, &path, None).await;
        assert_eq!(now["name"], "Ada", "nothing changed on {}", app.backend);
    }
}

#[tokio::test]
async fn search_and_pagination_follow_logto() {
    for app in UsersApp::all().await {
        let ada = app
            .create(json!({"username": "ada_l", "primaryEmail": "ada@math.org", "name": "Ada",
            "customData": {"plan": {"tier": "pro"}}}))
            .await;
        let bob = app.create(json!({"username": "Bob_b", "primaryEmail": "bob@example.com", "name": "Bob"})).await;
        let carol = app
            .create(json!({"username": "carol", "primaryPhone": "15550001111", "name": "Carol Ada",
            "customData": {"plan": {"tier": "free"}}}))
            .await;
        app.ok(Method::PATCH, &format!("/api/users/{}/is-suspended", id_of(&bob)), Some(json!({"isSuspended": true})))
            .await;
        let (ada, bob, carol) = (id_of(&ada), id_of(&bob), id_of(&carol));

        assert_eq!(app.search("").await, (vec![carol.clone(), bob.clone(), ada.clone()], 3), "newest first");
        assert_eq!(app.search("search=%25ada%25").await, (vec![carol.clone(), ada.clone()], 2), "any field");
        assert_eq!(
            app.search("search.username=bob_b&mode.username=exact").await,
            (vec![bob.clone()], 1),
            "case-insensitive"
        );
        assert_eq!(app.search("search.username=bob_b&mode.username=exact&isCaseSensitive=true").await.1, 0);
        assert_eq!(app.search("search.primaryEmail=ADA%25").await, (vec![ada.clone()], 1), "email prefix");
        let batch = format!("search.id={ada}&search.id={bob}&mode.id=exact");
        assert_eq!(app.search(&batch).await, (vec![bob.clone(), ada.clone()], 2), "batch get");
        assert_eq!(
            app.search("search.name=%25ada%25&search.primaryPhone=1555%25&joint=and").await,
            (vec![carol.clone()], 1)
        );
        assert_eq!(app.search("search.customData.plan.tier=pro&mode=exact").await, (vec![ada.clone()], 1));
        assert_eq!(app.search("isSuspended=true").await, (vec![bob.clone()], 1));
        assert_eq!(app.search("search.name=%5Ecarol&mode.name=posix").await, (vec![carol.clone()], 1), "posix");
        let similar = "search.name=%25(Ada%7CBob)&mode.name=similar_to&isCaseSensitive=true";
        assert_eq!(app.search(similar).await, (vec![carol.clone(), bob.clone(), ada.clone()], 3), "similar_to");
        assert_eq!(app.search("isSuspended=false&search=%25a%25").await.1, 2);

        let response = app.send(Method::GET, "/api/users?page=2&page_size=2", None).await;
        assert_eq!(response.headers()["total-number"], "3");
        let link = response.headers()["link"].to_str().unwrap().to_owned();
        assert!(link.contains("/api/users?page=1&page_size=2>; rel=\"first\""), "{link}");
        assert!(link.contains("rel=\"prev\""), "{link}");
        let page: Value = response.json().await.unwrap();
        assert_eq!(page.as_array().unwrap().len(), 1);
        let past_end = app.send(Method::GET, "/api/users?page=9&page_size=2", None).await;
        assert_eq!(past_end.json::<Value>().await.unwrap(), json!([]));

        for query in ["page=0", "page_size=0", "page_size=101", "page=abc"] {
            let response = app.send(Method::GET, &format!("/api/users?{query}"), None).await;
            expect_api_error(response, 400, "guard.invalid_pagination", app.backend).await;
        }
        for query in [
            "search.password=x",
            "mode=regex&search=a",
            "search.username=",
            "isSuspended=maybe",
            "search.name=(a)%5C1&mode.name=posix",
            "search.name=a%25&mode.name=similar_to",
        ] {
            let response = app.send(Method::GET, &format!("/api/users?{query}"), None).await;
            expect_api_error(response, 400, "request.invalid_input", app.backend).await;
        }
    }
}

#[tokio::test]
async fn only_management_tokens_reach_the_user_routes_and_a_narrowed_token_reads_one_user() {
    for app in UsersApp::all().await {
        let (ada, user_token) = app.signed_in(json!({"username": "ada"})).await;
        let bob = id_of(&app.create(json!({"username": "bob"})).await);

        let missing = app.client.get(format!("{}/api/users", app.address)).send().await.unwrap();
        expect_api_error(missing, 401, "auth.authorization_header_missing", app.backend).await;
        let garbage = app.send_with("garbage", Method::GET, "/api/users", None).await;
        expect_api_error(garbage, 401, "auth.unauthorized", app.backend).await;
        for (method, path) in [
            (Method::GET, "/api/users".to_owned()),
            (Method::GET, format!("/api/users/{ada}")),
            (Method::DELETE, format!("/api/users/{bob}")),
        ] {
            let response = app.send_with(&user_token, method, &path, None).await;
            expect_api_error(response, 401, "auth.unauthorized", app.backend).await;
        }

        let only_ada = attenuate(
            &app.token,
            &[&format!(r#"check if path($p), $p == "/api/users/{ada}" || $p.starts_with("/api/users/{ada}/")"#)],
        )
        .unwrap();
        assert_eq!(
            app.send_with(&only_ada, Method::GET, &format!("/api/users/{ada}"), None).await.status().as_u16(),
            200
        );
        for path in [format!("/api/users/{bob}"), "/api/users".to_owned(), format!("/api/users/{ada}x")] {
            let response = app.send_with(&only_ada, Method::GET, &path, None).await;
            assert_eq!(response.status().as_u16(), 401, "{path} on {}", app.backend);
        }
        let read_only = attenuate(&app.token, &[r#"check if operation("read")"#]).unwrap();
        let write =
            app.send_with(&read_only, Method::PATCH, &format!("/api/users/{ada}"), Some(json!({"name": "x"}))).await;
        assert_eq!(write.status().as_u16(), 401, "on {}", app.backend);
    }
}

#[tokio::test]
async fn social_identities_are_linked_read_and_unlinked_and_one_identity_belongs_to_one_user() {
    for app in UsersApp::all().await {
        let ada = id_of(&app.create(json!({"username": "ada"})).await);
        let bob = id_of(&app.create(json!({"username": "bob"})).await);
        let path = format!("/api/users/{ada}/identities/github");
        let identity = json!({"userId": "gh-42", "details": {"login": "ada"}});

        let linked = app.send(Method::PUT, &path, Some(identity.clone())).await;
        assert_eq!(linked.status().as_u16(), 201, "on {}", app.backend);
        assert_eq!(linked.json::<Value>().await.unwrap(), json!({"github": identity}));
        let replaced = app.send(Method::PUT, &path, Some(json!({"userId": "gh-42"}))).await;
        assert_eq!(replaced.status().as_u16(), 200, "a known target is replaced");
        assert_eq!(app.ok(Method::GET, &path, None).await, json!({"identity": {"userId": "gh-42"}}));

        let taken = app
            .send(Method::PUT, &format!("/api/users/{bob}/identities/github"), Some(json!({"userId": "gh-42"})))
            .await;
        expect_api_error(taken, 422, "user.identity_already_in_use", app.backend).await;
        let other_provider = app
            .send(Method::PUT, &format!("/api/users/{bob}/identities/google"), Some(json!({"userId": "gh-42"})))
            .await;
        assert_eq!(other_provider.status().as_u16(), 201, "the same id at another provider is another identity");

        let unlinked = app.ok(Method::DELETE, &path, None).await;
        assert_eq!(unlinked["identities"], json!({}), "on {}", app.backend);
        expect_api_error(app.send(Method::DELETE, &path, None).await, 404, "user.identity_not_exist", app.backend)
            .await;
        expect_api_error(app.send(Method::GET, &path, None).await, 404, "user.identity_not_exist", app.backend).await;
        let missing_user =
            app.send(Method::PUT, "/api/users/nosuchuser00/identities/github", Some(json!({"userId": "x"}))).await;
        expect_api_error(missing_user, 404, "entity.not_found", app.backend).await;
        let bad = app.send(Method::PUT, &path, Some(json!({"details": {}}))).await;
        expect_api_error(bad, 400, "guard.invalid_input", app.backend).await;

        let keys: Vec<String> = app.logged(&ada).await.into_iter().map(|(key, _)| key).collect();
        assert_eq!(keys.iter().filter(|key| *key == keys::USER_IDENTITIES_UPDATED).count(), 3, "{keys:?}");
    }
}

/// The text of the QR code in a `data:image/png;base64,…` URL.
fn qr_text(data_url: &str) -> String {
    use base64::Engine as _;
    let png = data_url.strip_prefix("data:image/png;base64,").expect("a PNG data URL");
    let png = base64::engine::general_purpose::STANDARD.decode(png).expect("base64");
    let image = image::load_from_memory(&png).expect("a PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    let [grid] = grids.as_slice() else { panic!("one QR code, found {}", grids.len()) };
    grid.decode().expect("a readable QR code").1
}

#[tokio::test]
async fn an_administrator_binds_lists_and_removes_mfa_factors_with_logtos_rules() {
    for app in UsersApp::all().await {
        let ada = id_of(&app.create(json!({"username": "ada", "password": "correct horse battery"})).await);
        let path = format!("/api/users/{ada}/mfa-verifications");
        let totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DP";
        let codes: Vec<String> = (0..10).map(|index| format!("{index:02}c0ffee00")).collect();

        // Nothing is enabled in a fresh sign-in experience.
        let refused = app.send(Method::POST, &path, Some(json!({"type": "Totp"}))).await;
        expect_api_error(refused, 400, "session.mfa.mfa_factor_not_enabled", app.backend).await;
        let patch = json!({"mfa": {"factors": ["Totp", "BackupCode"], "policy": "UserControlled"}});
        app.ok(Method::PATCH, "/api/sign-in-exp", Some(patch)).await;

        let alone = app.send(Method::POST, &path, Some(json!({"type": "BackupCode"}))).await;
        expect_api_error(alone, 422, "session.mfa.backup_code_can_not_be_alone", app.backend).await;
        let malformed = app.send(Method::POST, &path, Some(json!({"type": "Totp", "secret": "not base32!"}))).await;
        expect_api_error(malformed, 400, "user.totp_secret_invalid", app.backend).await;
        for body in [json!({"type": "Sms"}), json!({"secret": totp_secret}), json!({"type": "Totp", "secret": 7})] {
            let bad = app.send(Method::POST, &path, Some(body.clone())).await;
            expect_api_error(bad, 400, "guard.invalid_input", app.backend).await;
        }
        assert_eq!(app.ok(Method::GET, &path, None).await, json!([]), "refusals bind nothing on {}", app.backend);

        let response = app.send(Method::POST, &path, Some(json!({"type": "Totp", "secret": totp_secret}))).await;
        assert_eq!(response.status().as_u16(), 200, "on {}", app.backend);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let text = response.text().await.unwrap();
        assert!(text.starts_with(&format!(r#"{{"type":"Totp","secret":"{totp_secret}","secretQrCode":"#)), "{text}");
        let totp: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(totp.as_object().unwrap().len(), 3, "{totp}");
        assert_eq!((&totp["type"], &totp["secret"]), (&json!("Totp"), &json!(totp_secret)));
        let uri = qr_text(totp["secretQrCode"].as_str().unwrap());
        assert!(uri.starts_with("otpauth://totp/127.0.0.1:ada?"), "{uri}");
        assert!(uri.contains(&format!("secret={totp_secret}")) && uri.contains("issuer=127.0.0.1"), "{uri}");
        let again = app.send(Method::POST, &path, Some(json!({"type": "Totp"}))).await;
        expect_api_error(again, 422, "user.totp_already_in_use", app.backend).await;

        let short = app.send(Method::POST, &path, Some(json!({"type": "BackupCode", "codes": &codes[..9]}))).await;
        expect_api_error(short, 422, "user.wrong_backup_code_format", app.backend).await;
        let given = app.ok(Method::POST, &path, Some(json!({"type": "BackupCode", "codes": codes}))).await;
        assert_eq!(given, json!({"codes": codes, "type": "BackupCode"}));
        let live = app.send(Method::POST, &path, Some(json!({"type": "BackupCode"}))).await;
        expect_api_error(live, 422, "user.backup_code_already_in_use", app.backend).await;

        let listed = app.ok(Method::GET, &path, None).await;
        let [listed_totp, listed_codes] = listed.as_array().unwrap().as_slice() else {
            panic!("two factors: {listed}")
        };
        let mut keys: Vec<&String> = listed_totp.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["createdAt", "id", "type"], "{listed_totp}");
        assert_eq!(listed_totp["type"], "Totp");
        let created_at = listed_totp["createdAt"].as_str().unwrap();
        assert!(
            created_at.len() == 24 && created_at.ends_with('Z') && created_at.as_bytes()[10] == b'T',
            "{created_at}"
        );
        assert_eq!(listed_codes["type"], "BackupCode");
        assert_eq!(listed_codes["remainCodes"], 10);
        assert!(!listed.to_string().contains(totp_secret) && !listed.to_string().contains(&codes[0]));

        // The bound secret and codes are the ones the user signs in with.
        let client = app.user_app(ApplicationType::Spa, false).await;
        let sign_in = json!({"clientId": client.id, "identifier": {"type": "username", "value": "ada"},
            "password": "correct horse battery"});
        for (factor, code) in [("BackupCode", codes[3].clone()), ("Totp", totp_code(totp_secret))] {
            let challenge =
                app.client.post(format!("{}/api/sign-in", app.address)).json(&sign_in).send().await.unwrap();
            let challenge = expect_api_error(challenge, 403, "session.mfa.require_mfa_verification", app.backend).await;
            let second_step = json!({"mfaToken": challenge["data"]["mfaToken"], "type": factor, "code": code});
            let signed_in =
                app.client.post(format!("{}/api/sign-in/mfa", app.address)).json(&second_step).send().await.unwrap();
            assert_eq!(signed_in.status().as_u16(), 200, "{factor} on {}", app.backend);
        }
        assert_eq!(app.ok(Method::GET, &path, None).await[1]["remainCodes"], 9);

        let unknown = app.send(Method::DELETE, &format!("{path}/nosuchfactor"), None).await;
        expect_api_error(unknown, 404, "entity.not_found", app.backend).await;
        let no_user = app.send(Method::GET, "/api/users/nosuchuser00/mfa-verifications", None).await;
        expect_api_error(no_user, 404, "entity.not_found", app.backend).await;
        let totp_id = listed_totp["id"].as_str().unwrap();
        let removed = app.send(Method::DELETE, &format!("{path}/{totp_id}"), None).await;
        assert_eq!(removed.status().as_u16(), 204, "on {}", app.backend);
        assert_eq!(app.ok(Method::GET, &path, None).await, json!([]), "backup codes never stay alone");

        let keys: Vec<String> = app.logged(&ada).await.into_iter().map(|(key, _)| key).collect();
        // Two bindings, two uses at sign-in, one removal.
        assert_eq!(keys.iter().filter(|key| *key == keys::USER_MFA_UPDATED).count(), 5, "{keys:?}");
    }
}

fn totp_code(secret: &str) -> String {
    use latchkey_domain::Clock as _;
    latchkey_domain::mfa::totp::code_at(secret, latchkey_domain::SystemClock.now()).unwrap()
}
