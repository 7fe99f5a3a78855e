//! Two real `latchkey serve` processes on one PostgreSQL database and one data directory (so one set of `keys/`),
//! as a deployment behind a load balancer runs them: a suspension, a revoked session and an account-center change
//! made through one instance are enforced by the other within a second (the settings cache lives 500 ms; nothing
//! else is cached), and the limits that protect sign-in (verification-code sends, the brute-force sentinel) count
//! the requests of both together. Skipped without `LATCHKEY_TEST_DATABASE_URL`.

use std::future::Future;
use std::time::Duration;

use reqwest::{Method, Response};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::binary::{RunningServer, management_token, serve};
use crate::harness::expect_oauth_error;
use crate::helpers::{ACCOUNT_PAGE_APP_ID, TestDatabase, expect_api_error, postgres_server_url};

const PASSWORD: &str = "correct-Horse-battery-9";
/// What the other instance is allowed before it acts on a change.
const PROPAGATION_BOUND: Duration = Duration::from_secs(1);
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// When a poll gives up: well past the bound, so that a slow propagation is reported with its time.
const PATIENCE: Duration = Duration::from_secs(10);
/// The sentinel blocks an identifier at its 100th failure within an hour (docs/sign-in.md).
const SENTINEL_LIMIT: usize = 100;
/// Wrong passwords sent at once: argon2 runs on each, and the machine has few cores.
const SIGN_IN_BATCH: usize = 10;

#[tokio::test]
async fn a_suspension_through_one_instance_locks_the_user_out_of_the_other_within_a_second() {
    let Some(cluster) = Cluster::start().await else { return };
    cluster.enable_account_center(json!({})).await;
    let user_id = cluster.create_user("ada").await;
    let tokens = cluster.signed_in(&cluster.b, "ada").await;
    let token = access_token(&tokens);
    cluster.wait_until_accepted(&cluster.b, token).await;

    let path = format!("/api/users/{user_id}/is-suspended");
    let suspended = cluster.admin(Method::PATCH, &path, Some(json!({"isSuspended": true}))).await;
    let suspended_at = Instant::now();
    assert_eq!(suspended.status().as_u16(), 200);

    let cluster = &cluster;
    let elapsed = first_refusal_after(suspended_at, 401, move || cluster.my_account(&cluster.b, token)).await;
    assert!(elapsed < PROPAGATION_BOUND, "B refused the suspended user's token only after {elapsed:?}");
    expect_api_error(cluster.my_account(&cluster.b, token).await, 401, "auth.unauthorized", "the other instance").await;
    expect_api_error(cluster.sign_in(&cluster.b, "ada", PASSWORD).await, 401, "user.suspended", "the other instance")
        .await;
}

#[tokio::test]
async fn a_session_revoked_through_one_instance_is_refused_by_the_other_within_a_second() {
    let Some(cluster) = Cluster::start().await else { return };
    cluster.enable_account_center(json!({})).await;
    let user_id = cluster.create_user("grace").await;
    // Signed in once, the user has exactly one session: the listing names it. The second starts after.
    let revoked = cluster.signed_in(&cluster.b, "grace").await;
    let sessions_path = format!("/api/users/{user_id}/sessions");
    let listed: Value = cluster.admin(Method::GET, &sessions_path, None).await.json().await.unwrap();
    let sessions = listed["sessions"].as_array().unwrap_or_else(|| panic!("a session list: {listed}"));
    assert_eq!(sessions.len(), 1, "{listed}");
    let session_id = sessions[0]["id"].as_str().unwrap().to_owned();
    let kept = cluster.signed_in(&cluster.b, "grace").await;
    cluster.wait_until_accepted(&cluster.b, access_token(&revoked)).await;
    cluster.wait_until_accepted(&cluster.b, access_token(&kept)).await;

    let deleted = cluster.admin(Method::DELETE, &format!("{sessions_path}/{session_id}"), None).await;
    let revoked_at = Instant::now();
    assert_eq!(deleted.status().as_u16(), 204);

    let (cluster, token) = (&cluster, access_token(&revoked));
    let elapsed = first_refusal_after(revoked_at, 401, move || cluster.my_account(&cluster.b, token)).await;
    let refresh = cluster.refresh(&cluster.b, refresh_token(&revoked)).await;
    let refresh_elapsed = revoked_at.elapsed();
    assert!(elapsed < PROPAGATION_BOUND, "B refused the revoked session's token only after {elapsed:?}");
    assert!(refresh_elapsed < PROPAGATION_BOUND, "B's refresh answer came after {refresh_elapsed:?}");
    expect_oauth_error(refresh, 400, "invalid_grant", "the other instance").await;
    expect_api_error(cluster.my_account(&cluster.b, token).await, 401, "auth.unauthorized", "the other instance").await;
    // Only that session ended: the other one's tokens still work on B.
    assert_eq!(cluster.my_account(&cluster.b, access_token(&kept)).await.status().as_u16(), 200);
    let renewed = cluster.refresh(&cluster.b, refresh_token(&kept)).await;
    assert_eq!(renewed.status().as_u16(), 200, "{}", renewed.text().await.unwrap_or_default());
}

#[tokio::test]
async fn an_account_center_change_through_one_instance_is_enforced_by_the_other_within_a_second() {
    let Some(cluster) = Cluster::start().await else { return };
    cluster.enable_account_center(json!({"name": "Edit"})).await;
    cluster.create_user("linus").await;
    let tokens = cluster.signed_in(&cluster.b, "linus").await;
    let token = access_token(&tokens);
    cluster.wait_until_accepted(&cluster.b, token).await;
    // B now holds the settings with `name` editable in its cache, and acts on them.
    let renamed = cluster.rename(&cluster.b, token, "Linus").await;
    assert_eq!(renamed.status().as_u16(), 200, "{}", renamed.text().await.unwrap_or_default());

    let changed_at = cluster.change_account_center(json!({"fields": {"name": "ReadOnly"}})).await;

    let cluster = &cluster;
    let elapsed = first_refusal_after(changed_at, 400, move || cluster.rename(&cluster.b, token, "Linus T.")).await;
    assert!(elapsed < PROPAGATION_BOUND, "B let the name be changed until {elapsed:?} after it became read-only");
    expect_api_error(
        cluster.rename(&cluster.b, token, "Linus T.").await,
        400,
        "account_center.field_not_editable",
        "the other instance",
    )
    .await;
}

#[tokio::test]
async fn verification_code_sends_to_one_recipient_are_counted_across_both_instances() {
    let Some(cluster) = Cluster::start().await else { return };
    let email = "rate-limited@example.com";

    // Ten sends, alternating: five through each instance.
    for server in [&cluster.a, &cluster.b].into_iter().cycle().take(10) {
        let response = cluster.send_code(server, email).await;
        assert_eq!(response.status().as_u16(), 200, "{}", response.text().await.unwrap_or_default());
    }

    for server in [&cluster.a, &cluster.b] {
        expect_api_error(cluster.send_code(server, email).await, 429, "request.message_rate_limited", &server.base_url)
            .await;
    }
}

#[tokio::test]
async fn failed_sign_ins_on_both_instances_add_up_to_one_lockout_that_both_enforce() {
    let Some(cluster) = Cluster::start().await else { return };
    cluster.create_user("hopper").await;

    // 50 failures through A and 49 through B: one short of the limit, so each is an ordinary refusal.
    cluster.fail_sign_ins(&cluster.a, "hopper", SENTINEL_LIMIT / 2).await;
    cluster.fail_sign_ins(&cluster.b, "hopper", SENTINEL_LIMIT / 2 - 1).await;

    let hundredth = cluster.sign_in(&cluster.a, "hopper", "wrong-Password-0").await;
    expect_api_error(hundredth, 400, "session.verification_blocked_too_many_attempts", "the 100th failure").await;
    for server in [&cluster.a, &cluster.b] {
        let right = cluster.sign_in(server, "hopper", PASSWORD).await;
        expect_api_error(right, 400, "session.verification_blocked_too_many_attempts", &server.base_url).await;
    }
}

/// Two instances, A and B, on one fresh PostgreSQL database and one data directory.
struct Cluster {
    // Declared first so they are dropped (killed) before their database is.
    a: RunningServer,
    b: RunningServer,
    client: reqwest::Client,
    /// A Management API token minted by A (B verifies it too: the keys are shared).
    admin_token: String,
    _dir: TempDir,
    _database: TestDatabase,
}

impl Cluster {
    /// `None` without `LATCHKEY_TEST_DATABASE_URL`: several instances need a shared server database.
    async fn start() -> Option<Self> {
        let server_url = postgres_server_url()?;
        let database = TestDatabase::create(&server_url).await;
        let dir = TempDir::new().unwrap();
        // A starts alone first: it migrates the database and generates the keys that B then loads.
        let a = RunningServer::start(serve(dir.path(), Some(&database.url))).await;
        let b = RunningServer::start(serve(dir.path(), Some(&database.url))).await;
        let client = reqwest::Client::new();
        let admin_token = management_token(&client, &a.base_url).await;
        Some(Self { a, b, client, admin_token, _dir: dir, _database: database })
    }

    /// `method path` on A with the Management API token.
    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut request = self.client.request(method, url(&self.a, path)).bearer_auth(&self.admin_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("A answers")
    }

    /// Changes the account-center settings through A; returns the moment A's 200 answer arrived.
    async fn change_account_center(&self, patch: Value) -> Instant {
        let response = self.admin(Method::PATCH, "/api/account-center", Some(patch)).await;
        let answered_at = Instant::now();
        assert_eq!(response.status().as_u16(), 200, "{}", response.text().await.unwrap_or_default());
        answered_at
    }

    /// Turns the Account API on (Logto's default is off) with `fields`, through A.
    async fn enable_account_center(&self, fields: Value) {
        self.change_account_center(json!({"enabled": true, "fields": fields})).await;
    }

    /// A user with `username` and [`PASSWORD`], made through A; returns its id.
    async fn create_user(&self, username: &str) -> String {
        let body = json!({"username": username, "password": PASSWORD});
        let response = self.admin(Method::POST, "/api/users", Some(body)).await;
        let status = response.status().as_u16();
        let user: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{user}");
        user["id"].as_str().unwrap().to_owned()
    }

    /// `POST /api/sign-in` with a username and password through the account page's app.
    async fn sign_in(&self, server: &RunningServer, username: &str, password: &str) -> Response {
        let body = json!({
            "clientId": ACCOUNT_PAGE_APP_ID,
            "identifier": {"type": "username", "value": username},
            "password": password,
        });
        self.client.post(url(server, "/api/sign-in")).json(&body).send().await.expect("the instance answers")
    }

    /// The token response of a successful sign-in with [`PASSWORD`].
    async fn signed_in(&self, server: &RunningServer, username: &str) -> Value {
        let response = self.sign_in(server, username, PASSWORD).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        body
    }

    /// `count` sign-ins with a wrong password through `server`, a batch at a time; each must be the ordinary 422.
    async fn fail_sign_ins(&self, server: &RunningServer, username: &str, count: usize) {
        let body = json!({
            "clientId": ACCOUNT_PAGE_APP_ID,
            "identifier": {"type": "username", "value": username},
            "password": "wrong-Password-0",
        });
        let mut left = count;
        while left > 0 {
            let batch = left.min(SIGN_IN_BATCH);
            let mut requests = JoinSet::new();
            for _ in 0..batch {
                let request = self.client.post(url(server, "/api/sign-in")).json(&body);
                requests.spawn(async move { request.send().await.expect("the instance answers") });
            }
            while let Some(response) = requests.join_next().await {
                expect_api_error(
                    response.expect("the request task"),
                    422,
                    "session.invalid_credentials",
                    &server.base_url,
                )
                .await;
            }
            left -= batch;
        }
    }

    async fn my_account(&self, server: &RunningServer, token: &str) -> Response {
        self.client.get(url(server, "/api/my-account")).bearer_auth(token).send().await.expect("the instance answers")
    }

    /// `PATCH /api/my-account` with a new `name`.
    async fn rename(&self, server: &RunningServer, token: &str, name: &str) -> Response {
        let request = self.client.patch(url(server, "/api/my-account")).bearer_auth(token);
        request.json(&json!({"name": name})).send().await.expect("the instance answers")
    }

    /// Polls `GET /api/my-account` on `server` until it accepts `token`: the instance may still hold settings read
    /// before the account center was turned on.
    async fn wait_until_accepted(&self, server: &RunningServer, token: &str) {
        let started = Instant::now();
        loop {
            let response = self.my_account(server, token).await;
            if response.status().as_u16() == 200 {
                return;
            }
            let text = response.text().await.unwrap_or_default();
            assert!(started.elapsed() < PATIENCE, "the token is still refused: {text}");
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// `POST /oidc/token` with the refresh token, for the account page's (public) app.
    async fn refresh(&self, server: &RunningServer, refresh_token: &str) -> Response {
        let form =
            [("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", ACCOUNT_PAGE_APP_ID)];
        self.client.post(url(server, "/oidc/token")).form(&form).send().await.expect("the instance answers")
    }

    /// `POST /api/sign-in/verification-code` for an email address.
    async fn send_code(&self, server: &RunningServer, email: &str) -> Response {
        let body = json!({"clientId": ACCOUNT_PAGE_APP_ID, "identifier": {"type": "email", "value": email}});
        let request = self.client.post(url(server, "/api/sign-in/verification-code")).json(&body);
        request.send().await.expect("the instance answers")
    }
}

fn url(server: &RunningServer, path: &str) -> String {
    format!("{}{path}", server.base_url)
}

fn access_token(tokens: &Value) -> &str {
    tokens["access_token"].as_str().unwrap_or_else(|| panic!("an access token: {tokens}"))
}

fn refresh_token(tokens: &Value) -> &str {
    tokens["refresh_token"].as_str().unwrap_or_else(|| panic!("a refresh token: {tokens}"))
}

/// Sends `request()` every 50 ms until it is answered `refused` (any other answer than that or 2xx fails the
/// test); returns how long after `since` that answer came.
async fn first_refusal_after<F, Fut>(since: Instant, refused: u16, mut request: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Response>,
{
    loop {
        let response = request().await;
        let status = response.status().as_u16();
        if status == refused {
            return since.elapsed();
        }
        let text = response.text().await.unwrap_or_default();
        assert!((200..300).contains(&status), "neither accepted nor refused with {refused}: {status} {text}");
        assert!(since.elapsed() < PATIENCE, "still accepted after {PATIENCE:?}");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
