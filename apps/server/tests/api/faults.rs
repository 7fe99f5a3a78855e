//! Faults a deployment meets, shown on the real `latchkey` binary: the database going away and coming back, the
//! process killed with `kill -9` in the middle of a burst of writes, a shutdown with requests in flight; and, on
//! the in-process server, concurrent writers racing on one user with `If-Match`. What each must keep: an answer in
//! bounded time, no acknowledged write lost, no lost update, no dropped request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::signal::Signal;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Barrier, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use url::Url;

use crate::binary::{RunningServer, management_token, management_token_response, serve};
use crate::harness::TokenApp;
use crate::helpers::{ACCOUNT_PAGE_APP_ID, TestDatabase, expect_api_error, postgres_server_url};
use crate::tcp_proxy::TcpProxy;

const PASSWORD: &str = "correct-Horse-battery-9";
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How long a request that needs an unreachable database may take to be refused: the pool's acquire timeout (10 s,
/// `crates/store/src/lib.rs`), during which it retries refused connections, plus slack for a loaded machine.
const OUTAGE_ANSWER_BOUND: Duration = Duration::from_secs(13);
/// How long a request may take to be refused once the server's database watch has found the database unreachable:
/// no waiting for the pool at all, so far below its 10 s acquire timeout even on a loaded machine.
const REFUSED_AT_ONCE_BOUND: Duration = Duration::from_secs(3);
/// How long the database watch (a check every half second, each bounded at 2 s) may take to notice a change.
const WATCH_NOTICE_BOUND: Duration = Duration::from_secs(10);
/// How long the server may take to serve again once the database is back.
const RECOVERY_BOUND: Duration = Duration::from_secs(30);

#[tokio::test]
async fn while_postgres_is_unreachable_requests_get_503_soon_then_at_once_and_the_server_recovers_by_itself() {
    let Some(server_url) = postgres_server_url() else {
        eprintln!("skipped: needs LATCHKEY_TEST_DATABASE_URL (a PostgreSQL server behind a proxy the test owns)");
        return;
    };
    let database = TestDatabase::create(&server_url).await;
    let mut proxy = TcpProxy::start(upstream_of(&database.url)).await;
    let dir = TempDir::new().unwrap();
    let mut server = RunningServer::start(serve(dir.path(), Some(&through_port(&database.url, proxy.port())))).await;
    let admin = Admin::of(&server).await;
    let kept = admin.create_user("before_outage").await;
    let kept_id = id_of(&kept);
    assert_eq!(admin.send(Method::GET, "/api/status/ready", None).await.status().as_u16(), 204);

    proxy.cut().await;

    let kept_path = format!("/api/users/{kept_id}");
    admin.expect_outage_answers(&kept_path, "during_outage", OUTAGE_ANSWER_BOUND, "right after the cut").await;
    // Liveness does not depend on the database: restarting the process would not bring it back.
    assert_eq!(admin.send(Method::GET, "/api/status", None).await.status().as_u16(), 204);
    assert!(server.is_running(), "the server died with its database");

    // Once the database watch has noticed, requests that need the database are refused without waiting for it.
    admin.wait_for_metric("latchkey_database_reachable 0").await;
    admin
        .expect_outage_answers(&kept_path, "refused_at_once", REFUSED_AT_ONCE_BOUND, "once the watch had noticed")
        .await;

    proxy.restore();

    let restored_at = Instant::now();
    loop {
        let response = admin.send(Method::GET, "/api/users", None).await;
        if response.status().as_u16() == 200 {
            break;
        }
        let text = response.text().await.unwrap_or_default();
        assert!(restored_at.elapsed() < RECOVERY_BOUND, "still failing {RECOVERY_BOUND:?} after recovery: {text}");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    let usernames = admin.usernames().await;
    assert_eq!(usernames, ["before_outage"], "the refused creation left nothing behind");
    let intact = admin.ok(Method::GET, &format!("/api/users/{kept_id}"), None).await;
    assert_eq!((intact["username"].as_str(), &intact["id"]), (Some("before_outage"), &kept["id"]));
    admin.create_user("after_outage").await;
    assert_eq!(admin.send(Method::GET, "/api/status/ready", None).await.status().as_u16(), 204);
    admin.wait_for_metric("latchkey_database_reachable 1").await;
    assert_stops_cleanly(&mut server).await;
}

/// Writers sending `POST /api/users` at once, until the server dies under them.
const BURST_WRITERS: usize = 12;
/// Acknowledged creations before the kill: enough that the kill lands among many writes in progress.
const ACKNOWLEDGED_BEFORE_KILL: usize = 150;

#[tokio::test]
async fn no_acknowledged_user_creation_is_lost_when_the_server_is_killed_mid_burst() {
    let mut databases = vec![None];
    if let Some(server_url) = postgres_server_url() {
        databases.push(Some(TestDatabase::create(&server_url).await));
    }
    for database in &databases {
        let backend = if database.is_some() { "postgres" } else { "sqlite" };
        let database_url = database.as_ref().map(|database| database.url.as_str());
        let dir = TempDir::new().unwrap();
        let mut server = RunningServer::start(serve(dir.path(), database_url)).await;
        let admin = Admin::of(&server).await;

        let (acknowledge, mut acknowledged) = mpsc::unbounded_channel();
        let mut writers = JoinSet::new();
        for writer in 0..BURST_WRITERS {
            let (admin, acknowledge) = (admin.clone(), acknowledge.clone());
            writers.spawn(async move {
                for attempt in 0.. {
                    let username = format!("burst_{writer}_{attempt}");
                    let body = json!({"username": username});
                    // No answer: the server is gone; whether this one was written is unknown, and both are fine.
                    let Ok(response) = admin.request(Method::POST, "/api/users").json(&body).send().await else {
                        return;
                    };
                    let status = response.status().as_u16();
                    let Ok(user) = response.json::<Value>().await else { return };
                    assert_eq!(status, 200, "{user}");
                    acknowledge.send((username, id_of(&user))).expect("the test collects acknowledgements");
                }
            });
        }
        drop(acknowledge);
        let mut users = Vec::new();
        while users.len() < ACKNOWLEDGED_BEFORE_KILL {
            users.push(acknowledged.recv().await.expect("the writers keep writing"));
        }

        let killed = server.stop_with(Signal::SIGKILL).await;

        assert_eq!(killed.code(), None, "killed by a signal, not exited");
        while let Some(user) = acknowledged.recv().await {
            users.push(user);
        }
        while let Some(writer) = writers.join_next().await {
            writer.expect("a writer saw only acknowledgements and broken connections");
        }
        let mut restarted = RunningServer::start(serve(dir.path(), database_url)).await;
        let admin = Admin::of(&restarted).await;
        let lost = admin.missing_users(&users).await;
        assert!(
            lost.is_empty(),
            "on {backend}, {} of {} acknowledged users are lost: {lost:?}",
            lost.len(),
            users.len()
        );
        admin.create_user("after_restart").await;
        assert_stops_cleanly(&mut restarted).await;
    }
}

/// Clients incrementing one counter at once, and how many increments each makes.
const INCREMENTERS: usize = 8;
const INCREMENTS_EACH: usize = 5;

#[tokio::test]
async fn concurrent_increments_with_if_match_lose_no_update_and_a_stale_etag_changes_nothing() {
    for app in TokenApp::all().await {
        let backend = app.backend;
        let token = app.management_token().await;
        let admin = Admin { client: app.client.clone(), base_url: app.address.clone(), token };
        let created = admin.create_user("counter").await;
        let path = format!("/api/users/{}", id_of(&created));
        let (initial_etag, _) = admin.counter(&path).await;
        let (successes, conflicts) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        // Every client reads the same version before any writes, so the first round is sure to collide.
        let first_round = Arc::new(Barrier::new(INCREMENTERS));

        let mut incrementers = JoinSet::new();
        for _ in 0..INCREMENTERS {
            let (admin, path) = (admin.clone(), path.clone());
            let (successes, conflicts, first_round) =
                (Arc::clone(&successes), Arc::clone(&conflicts), Arc::clone(&first_round));
            incrementers.spawn(async move {
                let mut done = 0;
                let mut first = true;
                while done < INCREMENTS_EACH {
                    let (etag, counter) = admin.counter(&path).await;
                    if std::mem::take(&mut first) {
                        first_round.wait().await;
                    }
                    let response = admin.increment(&path, &etag, counter).await;
                    match response.status().as_u16() {
                        200 => {
                            done += 1;
                            successes.fetch_add(1, Ordering::SeqCst);
                        }
                        412 => {
                            conflicts.fetch_add(1, Ordering::SeqCst);
                        }
                        status => panic!("{status}: {}", response.text().await.unwrap_or_default()),
                    }
                }
            });
        }
        while let Some(incrementer) = incrementers.join_next().await {
            incrementer.expect("an incrementer got only 200 and 412");
        }

        let (final_etag, counter) = admin.counter(&path).await;
        assert_eq!(counter, INCREMENTERS * INCREMENTS_EACH, "updates were lost on {backend}");
        assert_eq!(successes.load(Ordering::SeqCst), INCREMENTERS * INCREMENTS_EACH, "on {backend}");
        let conflicts = conflicts.load(Ordering::SeqCst);
        assert!(conflicts >= INCREMENTERS - 1, "only {conflicts} conflicts on {backend}: the race did not happen");

        let stale = admin.increment(&path, &initial_etag, 0).await;
        expect_api_error(stale, 412, "request.precondition_failed", "a PATCH with a stale ETag").await;
        let unchanged = admin.counter(&path).await;
        assert_eq!(unchanged, (final_etag, counter), "a refused PATCH changed the user on {backend}");
    }
}

/// Sign-ins in flight when SIGTERM arrives; argon2 runs one at a time, so most are still hashing.
const SIGN_INS_IN_FLIGHT: usize = 12;
/// How long the server may take to finish them and exit after SIGTERM.
const SHUTDOWN_BOUND: Duration = Duration::from_secs(20);

#[tokio::test]
async fn sigterm_lets_every_in_flight_sign_in_finish_then_exits_0_and_refuses_new_connections() {
    let dir = TempDir::new().unwrap();
    let mut command = serve(dir.path(), None);
    command.env("LATCHKEY_PASSWORD_HASH_CONCURRENCY", "1").env("LATCHKEY_SHUTDOWN_TIMEOUT_SECS", "25");
    let mut server = RunningServer::start(command).await;
    let address = server.base_url.trim_start_matches("http://").to_owned();
    {
        let admin = Admin::of(&server).await;
        let created = admin.send(Method::POST, "/api/users", Some(json!({"username": "ada", "password": PASSWORD})));
        assert_eq!(created.await.status().as_u16(), 200);
        // Dropping the client closes its idle connections, which would otherwise hold the shutdown open.
    }
    // Each connection has had a request answered, so the server has accepted it.
    let mut connections = Vec::new();
    for _ in 0..SIGN_INS_IN_FLIGHT {
        connections.push(RawConnection::accepted_by(&address).await);
    }
    let body = json!({
        "clientId": ACCOUNT_PAGE_APP_ID,
        "identifier": {"type": "username", "value": "ada"},
        "password": PASSWORD,
    });
    for connection in &mut connections {
        connection.send_last("POST", "/api/sign-in", &body).await;
    }
    // actix finishes the requests it has started and closes idle and queued ones unanswered (a client retries
    // those), so the signal goes once the server is handling every sign-in: with one argon2 at a time, the last
    // of them ends about a dozen verifications later.
    wait_until_in_flight(&server.base_url, SIGN_INS_IN_FLIGHT).await;

    server.signal(Signal::SIGTERM);

    let signalled_at = Instant::now();
    let mut answers = JoinSet::new();
    for connection in connections {
        answers.spawn(connection.answer());
    }
    while let Some(answer) = answers.join_next().await {
        let (status, body) = answer.expect("reading an answer");
        assert_eq!(status, 200, "an in-flight sign-in was not finished: {body}");
        assert!(body["access_token"].is_string(), "{body}");
    }
    let exit = server.wait_for_exit().await;
    let stopped_after = signalled_at.elapsed();

    let logs = format!("{}{}", server.remaining_stdout().await, server.stderr().await);
    assert_eq!(exit.code(), Some(0), "{logs}");
    assert!(stopped_after < SHUTDOWN_BOUND, "the server took {stopped_after:?} to stop");
    let refused = TcpStream::connect(&address).await;
    assert!(refused.is_err(), "a connection was accepted after the shutdown");
    assert!(!logs.contains("panicked"), "{logs}");
    // The log shows the signal arriving while sign-ins were still being worked on; otherwise this test showed
    // nothing about shutting down.
    let (_, after_signal) = logs.split_once("SIGTERM received").unwrap_or_else(|| panic!("no signal logged: {logs}"));
    let finished_after_signal =
        after_signal.lines().filter(|line| line.contains("/api/sign-in") && line.contains("request finished")).count();
    assert!(finished_after_signal > 0, "every sign-in had finished before the signal: {logs}");
}

/// Polls `GET /metrics` until at least `requests` requests besides the scrape itself are being handled.
async fn wait_until_in_flight(base_url: &str, requests: usize) {
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = client.get(format!("{base_url}/metrics")).send().await.unwrap().text().await.unwrap();
        let in_flight: usize = text
            .lines()
            .find_map(|line| line.strip_prefix("latchkey_http_requests_in_flight "))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no in-flight gauge in {text}"));
        if in_flight > requests {
            return;
        }
        assert!(Instant::now() < deadline, "only {in_flight} requests in flight (the scrape included)");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Stops `server` with SIGTERM and asserts a clean exit without a panic anywhere in its output.
async fn assert_stops_cleanly(server: &mut RunningServer) {
    let exit = server.stop_with(Signal::SIGTERM).await;
    let logs = format!("{}{}", server.remaining_stdout().await, server.stderr().await);
    assert_eq!(exit.code(), Some(0), "{logs}");
    assert!(!logs.contains("panicked"), "{logs}");
}

/// `host:port` of a PostgreSQL URL.
fn upstream_of(database_url: &str) -> String {
    let url = Url::parse(database_url).expect("a database URL");
    format!("{}:{}", url.host_str().expect("a host"), url.port().unwrap_or(5432))
}

/// The same database reached through `127.0.0.1:<port>`.
fn through_port(database_url: &str, port: u16) -> String {
    let mut url = Url::parse(database_url).expect("a database URL");
    url.set_host(Some("127.0.0.1")).expect("a host");
    url.set_port(Some(port)).expect("a port");
    url.to_string()
}

/// Runs `request` and measures how long its answer took.
async fn timed<T>(request: impl Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let answer = request.await;
    (answer, started.elapsed())
}

fn id_of(user: &Value) -> String {
    user["id"].as_str().unwrap_or_else(|| panic!("a user: {user}")).to_owned()
}

/// One server's Management API, with a token of the bootstrap app.
#[derive(Clone)]
struct Admin {
    client: reqwest::Client,
    base_url: String,
    token: String,
}

impl Admin {
    async fn of(server: &RunningServer) -> Self {
        let client = reqwest::Client::new();
        let token = management_token(&client, &server.base_url).await;
        Self { client, base_url: server.base_url.clone(), token }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base_url)).bearer_auth(&self.token)
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the server answers")
    }

    /// The 200 answer's body.
    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let response = self.send(method.clone(), path, body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(status, 200, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Sends, at once, requests that need the database (a list, a read of `kept_path`, the creation of `username`,
    /// readiness and a client_credentials grant), and expects each to be answered 503 within `bound`: Logto's
    /// `service_unavailable`, or `oidc.temporarily_unavailable` from the token endpoint, which keeps OAuth's shape.
    async fn expect_outage_answers(&self, kept_path: &str, username: &str, bound: Duration, when: &str) {
        let (list, get, create, ready, token) = tokio::join!(
            timed(self.send(Method::GET, "/api/users", None)),
            timed(self.send(Method::GET, kept_path, None)),
            timed(self.send(Method::POST, "/api/users", Some(json!({"username": username})))),
            timed(self.send(Method::GET, "/api/status/ready", None)),
            timed(management_token_response(&self.client, &self.base_url)),
        );
        for (what, (response, elapsed)) in [
            ("GET /api/users", list),
            ("GET /api/users/:id", get),
            ("POST /api/users", create),
            ("ready", ready),
            ("POST /oidc/token", token),
        ] {
            eprintln!("{what}: answered in {elapsed:?} {when}");
            assert!(elapsed < bound, "{what} answered only after {elapsed:?} {when}");
            let code = if what == "POST /oidc/token" { "oidc.temporarily_unavailable" } else { "service_unavailable" };
            expect_api_error(response, 503, code, what).await;
        }
    }

    /// Waits until `GET /metrics` has `line` (a series and its value), for at most [`WATCH_NOTICE_BOUND`].
    async fn wait_for_metric(&self, line: &str) {
        let deadline = Instant::now() + WATCH_NOTICE_BOUND;
        loop {
            let metrics =
                self.client.get(format!("{}/metrics", self.base_url)).send().await.expect("the server answers");
            let text = metrics.text().await.expect("the metrics text");
            if text.lines().any(|metric| metric == line) {
                return;
            }
            assert!(Instant::now() < deadline, "no `{line}` in /metrics after {WATCH_NOTICE_BOUND:?}");
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn create_user(&self, username: &str) -> Value {
        self.ok(Method::POST, "/api/users", Some(json!({"username": username}))).await
    }

    /// Every user's username (the tests here make few).
    async fn usernames(&self) -> Vec<String> {
        let users = self.ok(Method::GET, "/api/users?page_size=100", None).await;
        let users = users.as_array().unwrap_or_else(|| panic!("a user list: {users}"));
        users.iter().map(|user| user["username"].as_str().unwrap_or_default().to_owned()).collect()
    }

    /// The `(username, id)` pairs that `GET /api/users/:id` does not answer with that user.
    async fn missing_users(&self, users: &[(String, String)]) -> Vec<(String, String)> {
        let mut missing = Vec::new();
        for batch in users.chunks(16) {
            let mut lookups = JoinSet::new();
            for (username, id) in batch.iter().cloned() {
                let admin = self.clone();
                lookups.spawn(async move {
                    let response = admin.send(Method::GET, &format!("/api/users/{id}"), None).await;
                    let status = response.status().as_u16();
                    let user: Value = response.json().await.unwrap_or_default();
                    let found = status == 200 && user["username"] == username.as_str();
                    found.then_some(()).ok_or((username, id))
                });
            }
            while let Some(lookup) = lookups.join_next().await {
                if let Err(user) = lookup.expect("a look-up task") {
                    missing.push(user);
                }
            }
        }
        missing
    }

    /// The user's `ETag` and `customData.counter` (0 when unset).
    async fn counter(&self, path: &str) -> (String, usize) {
        let response = self.send(Method::GET, path, None).await;
        assert_eq!(response.status().as_u16(), 200);
        let etag = response.headers()["etag"].to_str().expect("an ASCII ETag").to_owned();
        let user: Value = response.json().await.unwrap();
        let counter = user["customData"]["counter"].as_u64().unwrap_or(0);
        (etag, usize::try_from(counter).unwrap())
    }

    /// `PATCH` the counter to `counter + 1`, if the user is still at `etag`.
    async fn increment(&self, path: &str, etag: &str, counter: usize) -> Response {
        let body = json!({"customData": {"counter": counter + 1}});
        let request = self.request(Method::PATCH, path).header("if-match", etag).json(&body);
        request.send().await.expect("the server answers")
    }
}

/// An HTTP/1.1 connection the test drives by hand, to know that a request is on a connection the server has
/// accepted before it is signalled.
struct RawConnection {
    stream: TcpStream,
    host: String,
}

impl RawConnection {
    /// A keep-alive connection on which `GET /api/status` has been answered.
    async fn accepted_by(address: &str) -> Self {
        let mut stream = TcpStream::connect(address).await.expect("connecting to the server");
        let request = format!("GET /api/status HTTP/1.1\r\nHost: {address}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let byte = stream.read_u8().await.expect("the status answer");
            head.push(byte);
        }
        assert!(head.starts_with(b"HTTP/1.1 204"), "{}", String::from_utf8_lossy(&head));
        Self { stream, host: address.to_owned() }
    }

    /// Writes a JSON request asking the server to close the connection after answering it.
    async fn send_last(&mut self, method: &str, path: &str, body: &Value) {
        let body = body.to_string();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            self.host,
            body.len()
        );
        self.stream.write_all(format!("{head}{body}").as_bytes()).await.expect("sending the request");
        self.stream.flush().await.unwrap();
    }

    /// The answer's status and JSON body, read until the server closes the connection.
    async fn answer(mut self) -> (u16, Value) {
        let mut answer = Vec::new();
        self.stream.read_to_end(&mut answer).await.expect("reading the answer");
        let text = String::from_utf8_lossy(&answer);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no complete answer: {text:?}"));
        let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("{head}"));
        let body = serde_json::from_str(body).unwrap_or_else(|_| panic!("an incomplete JSON body: {text:?}"));
        (status, body)
    }
}
