//! Webhooks end to end, against a real HTTP receiver started here: every user change made through the
//! Management and Account APIs reaches the receiver as Logto's event, signed as Logto documents
//! (`logto-signature-sha-256` = hex HMAC-SHA256 of the raw body, checked here with `hmac` directly, not with
//! Latchkey's code); a receiver outage delays events without losing or repeating them; a server killed with
//! SIGKILL before it could deliver delivers after restarting; two instances on one PostgreSQL database deliver
//! each event once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use hmac::{Hmac, Mac};
use latchkey_domain::application::ApplicationType;
use latchkey_server::Settings;
use nix::sys::signal::Signal;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use tempfile::TempDir;

use crate::account_client::{AccountSession, create_user};
use crate::binary::{self, RunningServer};
use crate::harness::TokenApp;
use crate::helpers::{TestDatabase, expect_api_error, postgres_server_url, test_settings};

/// Generous: deliveries are polled every 50 ms, but CI machines are slow and shared.
const PATIENCE: Duration = Duration::from_secs(30);

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: BTreeMap<String, String>,
    raw_body: Vec<u8>,
    answered: u16,
}

impl Received {
    fn body(&self) -> Value {
        serde_json::from_slice(&self.raw_body).expect("a JSON body")
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    fn event(&self) -> String {
        self.body()["event"].as_str().unwrap_or_default().to_owned()
    }
}

#[derive(Default)]
struct ReceiverState {
    received: Mutex<Vec<Received>>,
    /// While set, every POST is answered 503.
    down: AtomicBool,
    /// While above zero, a POST is accepted and never answered (it counts down).
    hang: AtomicUsize,
}

/// A real HTTP server on 127.0.0.1:0 that records every POST to `/hook`.
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
    handle: ServerHandle,
}

impl Receiver {
    async fn start() -> Receiver {
        let state = Arc::new(ReceiverState::default());
        let shared = web::Data::from(Arc::clone(&state));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().unwrap().port();
        let server =
            HttpServer::new(move || App::new().app_data(shared.clone()).route("/hook", web::post().to(record)))
                .workers(2)
                .disable_signals()
                .shutdown_timeout(0)
                .listen(listener)
                .expect("listening")
                .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver { url: format!("http://127.0.0.1:{port}/hook"), state, handle }
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Successful deliveries (2xx answers) of `event`.
    fn delivered(&self, event: &str) -> Vec<Received> {
        self.received().into_iter().filter(|got| got.answered < 300 && got.event() == event).collect()
    }

    /// Waits until `count` deliveries of `event` were answered 2xx.
    async fn wait_for(&self, event: &str, count: usize) -> Vec<Received> {
        let waited = tokio::time::timeout(PATIENCE, async {
            loop {
                let delivered = self.delivered(event);
                if delivered.len() >= count {
                    return delivered;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| panic!("{count} × {event} not delivered in time; got {:#?}", self.summary()))
    }

    fn summary(&self) -> Vec<(String, u16)> {
        self.received().iter().map(|got| (got.event(), got.answered)).collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

async fn record(request: HttpRequest, body: web::Bytes, state: web::Data<ReceiverState>) -> HttpResponse {
    if state.hang.load(Ordering::SeqCst) > 0 {
        state.hang.fetch_sub(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let answered = if state.down.load(Ordering::SeqCst) { 503 } else { 200 };
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
        .collect();
    state.received.lock().unwrap().push(Received { headers, raw_body: body.to_vec(), answered });
    if answered == 503 { HttpResponse::ServiceUnavailable().body("down") } else { HttpResponse::Ok().body("thanks") }
}

/// Loopback targets allowed (the receiver is on 127.0.0.1), fast polling and retries.
fn hook_settings(settings: &mut Settings) {
    settings.hook_allowed_internal_targets = vec!["127.0.0.0/8".to_owned()];
    settings.hook_poll_interval_ms = 50;
    settings.hook_retry_base_ms = 200;
    settings.hook_retry_max_secs = 1;
    settings.hook_max_attempts = 100;
}

/// The receiver's check, written from Logto's documentation: hex HMAC-SHA256 of the raw body.
fn signature_is_valid(signing_key: &str, received: &Received) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_key.as_bytes()).unwrap();
    mac.update(&received.raw_body);
    let expected = hex::encode(mac.finalize().into_bytes());
    received.header("logto-signature-sha-256") == expected
}

async fn management(app: &TokenApp, token: &str, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = app.client.request(method, format!("{}{path}", app.address)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("the server answers")
}

/// Registers a hook for `events` at `url`; returns its JSON.
async fn create_hook(app: &TokenApp, token: &str, url: &str, events: &[&str]) -> Value {
    let body = json!({"name": "tests", "events": events, "config": {"url": url, "headers": {"x-receiver-key": "k1"}}});
    let response = management(app, token, Method::POST, "/api/hooks", Some(body)).await;
    assert_eq!(response.status().as_u16(), 201, "on {}", app.backend);
    response.json().await.unwrap()
}

const USER_EVENTS: &[&str] =
    &["User.Created", "User.Data.Updated", "User.SuspensionStatus.Updated", "User.Deleted", "PostSignIn"];

#[tokio::test]
async fn every_user_change_through_either_api_is_delivered_as_its_signed_logto_event() {
    for app in TokenApp::all_with(hook_settings).await {
        let backend = app.backend;
        let receiver = Receiver::start().await;
        let token = app.management_token().await;
        let hook = create_hook(&app, &token, &receiver.url, USER_EVENTS).await;
        let (hook_id, signing_key) = (hook["id"].as_str().unwrap(), hook["signingKey"].as_str().unwrap());

        // Management API: create, update, suspend and restore.
        let created = management(
            &app,
            &token,
            Method::POST,
            "/api/users",
            Some(json!({"username": "ada", "password": "correct horse battery", "name": "Ada"})),
        )
        .await;
        let user: Value = created.json().await.unwrap();
        let user_id = user["id"].as_str().unwrap().to_owned();
        let user_path = format!("/api/users/{user_id}");
        management(&app, &token, Method::PATCH, &user_path, Some(json!({"name": "Ada L."}))).await;
        let suspension = format!("{user_path}/is-suspended");
        management(&app, &token, Method::PATCH, &suspension, Some(json!({"isSuspended": true}))).await;
        management(&app, &token, Method::PATCH, &suspension, Some(json!({"isSuspended": false}))).await;

        // The sign-in API, then the Account API.
        let client = app.user_app(ApplicationType::Spa, false).await;
        let sign_in = json!({
            "clientId": client.id,
            "identifier": {"type": "username", "value": "ada"},
            "password": "correct horse battery",
        });
        let signed_in = app.client.post(format!("{}/api/sign-in", app.address)).json(&sign_in).send().await.unwrap();
        assert_eq!(signed_in.status().as_u16(), 200, "on {backend}");
        let user_id = latchkey_domain::UserId::parse(&user_id).unwrap();
        crate::account_client::set_account_center(&app, name_editable()).await;
        let me = AccountSession::start(&app, &user_id, &client.id, &["openid", "profile"]).await;
        me.expect(200, Method::PATCH, "/api/my-account", None, Some(json!({"name": "Ada Lovelace"}))).await;

        // And the end.
        let deleted = management(&app, &token, Method::DELETE, &user_path, None).await;
        assert_eq!(deleted.status().as_u16(), 204, "on {backend}");

        let created = receiver.wait_for("User.Created", 1).await;
        let updated = receiver.wait_for("User.Data.Updated", 2).await;
        let suspensions = receiver.wait_for("User.SuspensionStatus.Updated", 2).await;
        let sign_ins = receiver.wait_for("PostSignIn", 1).await;
        let deletions = receiver.wait_for("User.Deleted", 1).await;
        let all: Vec<&Received> =
            [&created, &updated, &suspensions, &sign_ins, &deletions].into_iter().flatten().collect();
        assert_eq!(all.len(), 7, "on {backend}: {:?}", receiver.summary());

        for got in &all {
            assert!(signature_is_valid(signing_key, got), "on {backend}: bad signature on {}", got.event());
            let body = got.body();
            assert_eq!(body["hookId"], hook_id, "on {backend}: {body}");
            assert!(body["createdAt"].as_str().is_some_and(|at| at.ends_with('Z')), "on {backend}: {body}");
            assert_eq!(got.header("content-type"), "application/json", "on {backend}");
            assert_eq!(got.header("x-receiver-key"), "k1", "on {backend}");
            assert_eq!(got.header("latchkey-delivery-id").len(), 21, "on {backend}");
            // Nothing secret about the user travels.
            let text = String::from_utf8_lossy(&got.raw_body);
            assert!(!text.contains("correct horse") && !text.contains("argon2"), "on {backend}: {text}");
        }
        assert_eq!(created[0].body()["data"]["username"], "ada", "on {backend}");
        assert_eq!(created[0].body()["data"]["hasPassword"], true, "on {backend}");
        // Deliveries are concurrent, so they may arrive in any order (receivers order by `createdAt`).
        let mut names: Vec<String> =
            updated.iter().map(|got| got.body()["data"]["name"].as_str().unwrap().to_owned()).collect();
        names.sort();
        assert_eq!(names, ["Ada L.", "Ada Lovelace"], "on {backend}");
        let mut suspended: Vec<bool> =
            suspensions.iter().map(|got| got.body()["data"]["isSuspended"].as_bool().unwrap()).collect();
        suspended.sort_unstable();
        assert_eq!(suspended, [false, true], "on {backend}");
        let sign_in = sign_ins[0].body();
        assert_eq!(
            (sign_in["interactionEvent"].as_str(), sign_in["userId"].as_str(), sign_in["user"]["username"].as_str()),
            (Some("SignIn"), Some(user_id.as_str()), Some("ada")),
            "on {backend}: {sign_in}"
        );
        assert_eq!(sign_in["application"]["id"], client.id.as_str(), "on {backend}: {sign_in}");
        assert_eq!(sign_in["userIp"], "127.0.0.1", "on {backend}: {sign_in}");
        assert_eq!(deletions[0].body()["data"]["id"], user_id.as_str(), "on {backend}");
        // One delivery id per event.
        let ids: std::collections::BTreeSet<&str> = all.iter().map(|got| got.header("latchkey-delivery-id")).collect();
        assert_eq!(ids.len(), 7, "on {backend}");
    }
}

fn name_editable() -> latchkey_domain::account_center::AccountCenterFields {
    use latchkey_domain::account_center::{AccountCenterFields, FieldAccess};
    AccountCenterFields { name: Some(FieldAccess::Edit), ..AccountCenterFields::default() }
}

#[tokio::test]
async fn events_wait_out_a_receiver_outage_and_arrive_once_each() {
    for app in TokenApp::all_with(hook_settings).await {
        let backend = app.backend;
        let receiver = Receiver::start().await;
        receiver.state.down.store(true, Ordering::SeqCst);
        let token = app.management_token().await;
        create_hook(&app, &token, &receiver.url, &["User.Created"]).await;

        for n in 0..5 {
            create_user(&app, json!({"username": format!("outage{n}")})).await;
        }
        // Every event was tried, and refused, at least twice while the receiver was down.
        tokio::time::timeout(PATIENCE, async {
            while receiver.received().iter().filter(|got| got.answered == 503).count() < 10 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("attempts while the receiver is down");
        receiver.state.down.store(false, Ordering::SeqCst);

        let delivered = receiver.wait_for("User.Created", 5).await;
        // Nothing more arrives once each has been delivered: a delivered event is not sent again.
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let delivered_again = receiver.delivered("User.Created");
        assert_eq!(delivered_again.len(), 5, "on {backend}: {:?}", receiver.summary());
        let usernames: std::collections::BTreeSet<String> =
            delivered.iter().map(|got| got.body()["data"]["username"].as_str().unwrap().to_owned()).collect();
        assert_eq!(usernames.len(), 5, "on {backend}: {usernames:?}");
        // Retries of one event carry one delivery id.
        let mut ids_by_user: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        for got in receiver.received() {
            let username = got.body()["data"]["username"].as_str().unwrap().to_owned();
            ids_by_user.entry(username).or_default().insert(got.header("latchkey-delivery-id").to_owned());
        }
        assert!(ids_by_user.values().all(|ids| ids.len() == 1), "on {backend}: {ids_by_user:?}");
    }
}

#[tokio::test]
async fn the_management_api_manages_hooks_as_logto_does() {
    for app in TokenApp::all_with(hook_settings).await {
        let backend = app.backend;
        let receiver = Receiver::start().await;
        let token = app.management_token().await;
        let hook = create_hook(&app, &token, &receiver.url, &["User.Created"]).await;
        let id = hook["id"].as_str().unwrap();
        assert_eq!(hook["enabled"], true, "on {backend}: {hook}");
        assert_eq!(hook["event"], Value::Null, "on {backend}: {hook}");
        assert_eq!(hook["signingKey"].as_str().map(str::len), Some(32), "on {backend}: {hook}");

        // Refusals, in Logto's words.
        let no_events = json!({"config": {"url": receiver.url}});
        let response = management(&app, &token, Method::POST, "/api/hooks", Some(no_events)).await;
        expect_api_error(response, 400, "hook.missing_events", backend).await;
        let unknown_event = json!({"events": ["User.Exploded"], "config": {"url": receiver.url}});
        let response = management(&app, &token, Method::POST, "/api/hooks", Some(unknown_event)).await;
        expect_api_error(response, 400, "guard.invalid_input", backend).await;
        let missing = management(&app, &token, Method::GET, "/api/hooks/nope", None).await;
        assert_eq!(missing.status().as_u16(), 404, "on {backend}");

        // A new key signs what follows; the old one no longer verifies.
        let rotated: Value = management(&app, &token, Method::PATCH, &format!("/api/hooks/{id}/signing-key"), None)
            .await
            .json()
            .await
            .unwrap();
        let new_key = rotated["signingKey"].as_str().unwrap();
        assert_ne!(new_key, hook["signingKey"].as_str().unwrap(), "on {backend}");
        create_user(&app, json!({"username": "signed"})).await;
        let got = receiver.wait_for("User.Created", 1).await;
        assert!(signature_is_valid(new_key, &got[0]), "on {backend}");
        assert!(!signature_is_valid(hook["signingKey"].as_str().unwrap(), &got[0]), "on {backend}");

        // The delivery is in recent-logs, in Logto's log shape, with its stats.
        let logs: Value = management(&app, &token, Method::GET, &format!("/api/hooks/{id}/recent-logs"), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(logs[0]["key"], "TriggerHook.User.Created", "on {backend}: {logs}");
        assert_eq!(logs[0]["payload"]["result"], "Success", "on {backend}: {logs}");
        assert_eq!(logs[0]["payload"]["response"]["statusCode"], 200, "on {backend}: {logs}");
        assert_eq!(logs[0]["payload"]["hookRequest"]["body"]["event"], "User.Created", "on {backend}: {logs}");
        let with_stats: Value =
            management(&app, &token, Method::GET, &format!("/api/hooks/{id}?includeExecutionStats=true"), None)
                .await
                .json()
                .await
                .unwrap();
        assert_eq!(with_stats["executionStats"], json!({"requestCount": 1, "successCount": 1}), "on {backend}");

        // An administrator may send it again: same delivery id, so receivers can tell.
        let log_id = logs[0]["id"].as_str().unwrap();
        let resent =
            management(&app, &token, Method::POST, &format!("/api/hooks/{id}/recent-logs/{log_id}/resend"), None).await;
        assert_eq!(resent.status().as_u16(), 202, "on {backend}");
        let twice = receiver.wait_for("User.Created", 2).await;
        assert_eq!(twice[0].header("latchkey-delivery-id"), twice[1].header("latchkey-delivery-id"), "on {backend}");

        // Disabled hooks get nothing; the test endpoint reports the receiver's refusal.
        let patched =
            management(&app, &token, Method::PATCH, &format!("/api/hooks/{id}"), Some(json!({"enabled": false}))).await;
        assert_eq!(patched.status().as_u16(), 200, "on {backend}");
        create_user(&app, json!({"username": "unheard"})).await;
        receiver.state.down.store(true, Ordering::SeqCst);
        let test = json!({"events": ["User.Created"], "config": {"url": receiver.url}});
        let response = management(&app, &token, Method::POST, &format!("/api/hooks/{id}/test"), Some(test)).await;
        let body = expect_api_error(response, 422, "hook.endpoint_responded_with_error", backend).await;
        assert_eq!(body["data"]["responseStatus"], 503, "on {backend}: {body}");
        receiver.state.down.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            receiver.delivered("User.Created").iter().all(|got| got.body()["data"]["username"] != "unheard"),
            "on {backend}"
        );

        // Internal addresses are refused unless the settings allow them.
        let internal = json!({"events": ["User.Created"], "config": {"url": "http://10.255.255.1/hook"}});
        let response = management(&app, &token, Method::POST, &format!("/api/hooks/{id}/test"), Some(internal)).await;
        expect_api_error(response, 422, "hook.send_test_payload_failed", backend).await;

        let deleted = management(&app, &token, Method::DELETE, &format!("/api/hooks/{id}"), None).await;
        assert_eq!(deleted.status().as_u16(), 204, "on {backend}");
        let listed: Value = management(&app, &token, Method::GET, "/api/hooks", None).await.json().await.unwrap();
        assert_eq!(listed, json!([]), "on {backend}");
    }
}

/// A `latchkey serve` on `dir` (and `database`), delivering webhooks with short leases.
fn serve(dir: &std::path::Path, database: Option<&TestDatabase>) -> tokio::process::Command {
    let mut command = binary::serve(dir, database.map(|database| database.url.as_str()));
    command
        .env("LATCHKEY_HOOK_ALLOWED_INTERNAL_TARGETS", "127.0.0.0/8")
        .env("LATCHKEY_HOOK_POLL_INTERVAL_MS", "50")
        .env("LATCHKEY_HOOK_REQUEST_TIMEOUT_SECS", "1")
        .env("LATCHKEY_HOOK_LEASE_SECS", "2")
        .env("LATCHKEY_HOOK_RETRY_BASE_MS", "100");
    command
}

async fn post_json(server: &RunningServer, token: &str, path: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.base_url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_event_committed_before_a_sigkill_is_delivered_after_the_restart() {
    let dir = TempDir::new().unwrap();
    let receiver = Receiver::start().await;
    // The first attempt is accepted and never answered: the server dies with the delivery in flight.
    receiver.state.hang.store(1, Ordering::SeqCst);
    let mut server = RunningServer::start(serve(dir.path(), None)).await;
    let token = binary::management_token(&reqwest::Client::new(), &server.base_url).await;
    let hook = json!({"events": ["User.Created"], "config": {"url": receiver.url}});
    post_json(&server, &token, "/api/hooks", hook).await;
    let user = post_json(&server, &token, "/api/users", json!({"username": "survivor"})).await;
    tokio::time::timeout(PATIENCE, async {
        while receiver.state.hang.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the first attempt reaches the receiver");
    server.stop_with(Signal::SIGKILL).await;
    assert!(receiver.delivered("User.Created").is_empty());

    let _restarted = RunningServer::start(serve(dir.path(), None)).await;
    let delivered = receiver.wait_for("User.Created", 1).await;
    assert_eq!(delivered[0].body()["data"]["id"], user["id"]);
}

#[tokio::test]
async fn two_instances_on_one_postgresql_database_deliver_each_event_once() {
    let Some(server_url) = postgres_server_url() else { return };
    let database = TestDatabase::create(&server_url).await;
    let receiver = Receiver::start().await;
    let (first_dir, second_dir) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let mut instances = Vec::new();
    for dir in [&first_dir, &second_dir] {
        let mut settings = test_settings(dir.path(), Some(database.url.clone()));
        hook_settings(&mut settings);
        let application = latchkey_server::Application::build(&settings).await.expect("building an instance");
        instances.push(application.store().clone());
        tokio::spawn(application.run_until_stopped());
    }
    // Hooks and users are written straight to the shared database; both instances' dispatchers race for them.
    let store = &instances[0];
    let hook = latchkey_domain::hook::Hook {
        id: "twoinstanceshook00001".to_owned(),
        name: "tests".to_owned(),
        event: None,
        events: vec![latchkey_domain::hook::HookEvent::USER_CREATED],
        config: latchkey_domain::hook::HookConfig { url: receiver.url.clone(), headers: None, retries: None },
        signing_key: "key".to_owned(),
        enabled: true,
        created_at: latchkey_domain::Timestamp::from_millis(0),
    };
    latchkey_domain::hook::HookRepository::insert(&store.hooks(), &hook).await.unwrap();
    const EVENTS: usize = 60;
    for _ in 0..EVENTS {
        use latchkey_domain::{Clock, IdGenerator};
        let user = latchkey_domain::User::new(latchkey_domain::RandomIds.user_id(), latchkey_domain::SystemClock.now());
        let entry = crate::harness::harness_entry(&user.id, latchkey_domain::audit::keys::USER_CREATED);
        latchkey_domain::UserRepository::insert(&store.users(), &user, &entry).await.unwrap();
    }
    let delivered = receiver.wait_for("User.Created", EVENTS).await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let all = receiver.received();
    let ids: std::collections::BTreeSet<&str> = all.iter().map(|got| got.header("latchkey-delivery-id")).collect();
    assert_eq!((delivered.len(), all.len(), ids.len()), (EVENTS, EVENTS, EVENTS), "{:?}", receiver.summary());
}
