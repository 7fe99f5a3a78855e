//! Operations (docs/operations.md): `GET /metrics` in Prometheus' text format, on the main listener or only on
//! `metrics_bind`; readiness at `/api/status/ready`; `X-Request-Id` on every answer and in the request's log line.

use std::collections::BTreeMap;

use latchkey_domain::application::ApplicationType;
use latchkey_domain::sign_in::{IdentifierKind, SentinelFailure, SentinelRepository, SignInIdentifier};
use latchkey_domain::{Clock, SystemClock};
use latchkey_server::{Application, Settings};
use nix::sys::signal::Signal;
use reqwest::Response;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::binary::{RunningServer, latchkey};
use crate::harness::TokenApp;
use crate::helpers::{spawn_app, test_settings};

const PASSWORD: &str = "correct horse battery staple";

/// One sample of the text format: `name{label="value",…} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of a scrape; panics on a line that is neither a comment nor a sample.
fn parse_exposition(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| parse_sample(line).unwrap_or_else(|| panic!("not a sample line: {line:?}")))
        .collect()
}

fn is_name(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(mut remaining) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = remaining.strip_prefix('}') {
                remaining = after;
                break;
            }
            let (key, after_key) = remaining.split_once('=')?;
            let quoted = after_key.strip_prefix('"')?;
            let (mut value, mut escaped, mut end) = (String::new(), false, None);
            for (index, c) in quoted.char_indices() {
                if escaped {
                    value.push(if c == 'n' { '\n' } else { c });
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    end = Some(index);
                    break;
                } else {
                    value.push(c);
                }
            }
            if !is_name(key) {
                return None;
            }
            labels.insert(key.to_owned(), value);
            remaining = &quoted[end? + 1..];
            remaining = remaining.strip_prefix(',').unwrap_or(remaining);
        }
        rest = remaining;
    }
    let value = match rest.strip_prefix(' ')? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        number => number.parse().ok()?,
    };
    is_name(name).then(|| Sample { name: name.to_owned(), labels, value })
}

/// The sum of the samples named `name` that carry every one of `labels` (0 when there is none).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|sample| sample.name == name)
        .filter(|sample| labels.iter().all(|(key, value)| sample.labels.get(*key).map(String::as_str) == Some(*value)))
        .map(|sample| sample.value)
        .sum()
}

fn has_sample(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> bool {
    samples.iter().any(|sample| {
        sample.name == name
            && labels.iter().all(|(key, value)| sample.labels.get(*key).map(String::as_str) == Some(*value))
    })
}

/// `GET <base>/metrics`, asserting a 200 in the text format.
async fn scrape(client: &reqwest::Client, base: &str) -> (String, Vec<Sample>) {
    let response = client.get(format!("{base}/metrics")).send().await.expect("the server answers");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.expect("a text body");
    let samples = parse_exposition(&text);
    (text, samples)
}

async fn sign_in(app: &TokenApp, client_id: &str, username: &str, password: &str) -> Response {
    let body = json!({
        "clientId": client_id,
        "identifier": {"type": "username", "value": username},
        "password": password,
    });
    app.client.post(format!("{}/api/sign-in", app.address)).json(&body).send().await.expect("the server answers")
}

/// A user with a password, made through the Management API.
async fn create_user(app: &TokenApp, management_token: &str, username: &str) -> String {
    let response = app
        .client
        .post(format!("{}/api/users", app.address))
        .bearer_auth(management_token)
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status().as_u16(), 200, "on {}", app.backend);
    let user: Value = response.json().await.expect("a JSON body");
    user["id"].as_str().expect("the user's id").to_owned()
}

#[tokio::test]
async fn metrics_parse_and_count_requests_by_route_pattern_never_by_raw_path() {
    for app in TokenApp::all().await {
        let token = app.management_token().await;
        let user_id = create_user(&app, &token, "ada").await;
        let read = app
            .client
            .get(format!("{}/api/users/{user_id}", app.address))
            .bearer_auth(&token)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(read.status().as_u16(), 200, "on {}", app.backend);
        let unauthenticated =
            app.client.get(format!("{}/api/users/{user_id}", app.address)).send().await.expect("the server answers");
        assert_eq!(unauthenticated.status().as_u16(), 401, "on {}", app.backend);
        app.client.get(format!("{}/no/such/route/{user_id}", app.address)).send().await.expect("the server answers");

        let (text, samples) = scrape(&app.client, &app.address).await;

        let route = [("method", "GET"), ("route", "/api/users/{userId}")];
        assert_eq!(value(&samples, "latchkey_http_requests_total", &[route[0], route[1], ("status", "200")]), 1.0);
        assert_eq!(value(&samples, "latchkey_http_requests_total", &[route[0], route[1], ("status", "401")]), 1.0);
        let routed = [route[0], route[1], ("status_class", "2xx")];
        assert_eq!(value(&samples, "latchkey_http_request_duration_seconds_count", &routed), 1.0);
        assert!(has_sample(&samples, "latchkey_http_request_duration_seconds_bucket", &[("le", "+Inf")]));
        let unmatched = [("route", "unmatched"), ("status", "404")];
        assert_eq!(value(&samples, "latchkey_http_requests_total", &unmatched), 1.0, "on {}", app.backend);
        assert!(!text.contains(&user_id), "a raw path reached the metrics on {}: {text}", app.backend);

        // Tokens: the management token verified (for the user's creation and its read), the missing header refused.
        let verified = value(&samples, "latchkey_token_verifications_total", &[("outcome", "ok")]);
        assert!(verified >= 2.0, "{verified} on {}", app.backend);
        let refused = [("outcome", "refused"), ("reason", "missing_header")];
        assert_eq!(value(&samples, "latchkey_token_verifications_total", &refused), 1.0, "on {}", app.backend);
    }
}

#[tokio::test]
async fn the_database_pool_is_sampled_at_each_scrape() {
    for app in TokenApp::all().await {
        let (_, samples) = scrape(&app.client, &app.address).await;

        assert!(has_sample(&samples, "latchkey_db_pool_connections", &[("state", "in_use")]), "on {}", app.backend);
        assert!(has_sample(&samples, "latchkey_db_pool_connections", &[("state", "idle")]), "on {}", app.backend);
        let open = value(&samples, "latchkey_db_pool_connections", &[]);
        let max = value(&samples, "latchkey_db_pool_max_connections", &[]);
        assert!(open >= 1.0 && max >= open, "open {open}, max {max} on {}", app.backend);
    }
}

#[tokio::test]
async fn sign_in_outcomes_and_lockouts_are_counted() {
    for app in TokenApp::all().await {
        let token = app.management_token().await;
        create_user(&app, &token, "ada").await;
        create_user(&app, &token, "grace").await;
        let client = app.user_app(ApplicationType::Spa, false).await;
        let outcome = |samples: &[Sample], outcome: &str| {
            value(samples, "latchkey_sign_in_attempts_total", &[("step", "first_factor"), ("outcome", outcome)])
        };
        let (_, before) = scrape(&app.client, &app.address).await;
        assert_eq!(outcome(&before, "success"), 0.0);
        assert_eq!(value(&before, "latchkey_sentinel_lockouts_total", &[]), 0.0, "present, and zero");
        assert!(has_sample(&before, "latchkey_sentinel_lockouts_total", &[]), "on {}", app.backend);

        assert_eq!(sign_in(&app, &client.id, "ada", "wrong").await.status().as_u16(), 422);
        assert_eq!(sign_in(&app, &client.id, "ada", PASSWORD).await.status().as_u16(), 200);
        // 99 failures on grace, then the hundredth through the server starts the block.
        let target = SignInIdentifier::parse(IdentifierKind::Username, "grace").unwrap().sentinel_target();
        for _ in 0..99 {
            let failure = SentinelFailure {
                target: target.clone(),
                created_at: SystemClock.now(),
                blocked_until: None,
                lockout_event: None,
            };
            app.store.sentinel().record_failure(&failure).await.unwrap();
        }
        assert_eq!(sign_in(&app, &client.id, "grace", "wrong").await.status().as_u16(), 400);
        assert_eq!(sign_in(&app, &client.id, "grace", PASSWORD).await.status().as_u16(), 400);

        let (_, after) = scrape(&app.client, &app.address).await;
        assert_eq!(outcome(&after, "invalid_credentials"), 1.0, "on {}", app.backend);
        assert_eq!(outcome(&after, "success"), 1.0, "on {}", app.backend);
        assert_eq!(outcome(&after, "blocked"), 2.0, "on {}", app.backend);
        assert_eq!(value(&after, "latchkey_sentinel_lockouts_total", &[]), 1.0, "on {}", app.backend);
    }
}

#[tokio::test]
async fn metrics_bind_serves_metrics_on_its_own_address_only() {
    let data_dir = TempDir::new().unwrap();
    let settings =
        Settings { metrics_bind: Some("127.0.0.1:0".parse().unwrap()), ..test_settings(data_dir.path(), None) };
    let application = Application::build(&settings).await.expect("building the application");
    let main = format!("http://127.0.0.1:{}", application.port());
    let metrics = format!("http://{}", application.metrics_address().expect("a metrics address"));
    tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::new();
    let status = client.get(format!("{main}/api/status")).send().await.expect("the server answers");
    assert_eq!(status.status().as_u16(), 204);

    let on_main = client.get(format!("{main}/metrics")).send().await.expect("the server answers");
    assert_eq!(on_main.status().as_u16(), 404);
    let (_, samples) = scrape(&client, &metrics).await;
    // The main listener's requests are counted there.
    let status_route = [("route", "/api/status"), ("status", "204")];
    assert_eq!(value(&samples, "latchkey_http_requests_total", &status_route), 1.0);
    let elsewhere = client.get(format!("{metrics}/api/status")).send().await.expect("the metrics listener answers");
    assert_eq!(elsewhere.status().as_u16(), 404);
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let data_dir = TempDir::new().unwrap();
    let settings = Settings { metrics: false, ..test_settings(data_dir.path(), None) };
    let application = Application::build(&settings).await.expect("building the application");
    let base = format!("http://127.0.0.1:{}", application.port());
    assert!(application.metrics_address().is_none());
    tokio::spawn(application.run_until_stopped());

    let response = reqwest::get(format!("{base}/metrics")).await.expect("the server answers");
    assert_eq!(response.status().as_u16(), 404);
    let status = reqwest::get(format!("{base}/api/status")).await.expect("the server answers");
    assert_eq!(status.status().as_u16(), 204);
}

#[tokio::test]
async fn readiness_answers_204_while_the_database_answers() {
    for app in TokenApp::all().await {
        let response =
            app.client.get(format!("{}/api/status/ready", app.address)).send().await.expect("the server answers");

        assert_eq!(response.status().as_u16(), 204, "on {}", app.backend);
        assert!(response.bytes().await.unwrap().is_empty(), "on {}", app.backend);
    }
}

#[tokio::test]
async fn readiness_answers_503_once_the_database_pool_is_gone_while_liveness_stays_204() {
    for app in TokenApp::all().await {
        // The server's own pool (the harness shares it), closed: every query now fails as an unreachable
        // database does, at once rather than after a timeout.
        app.store.connection().close_by_ref().await.expect("closing the pool");

        let response =
            app.client.get(format!("{}/api/status/ready", app.address)).send().await.expect("the server answers");
        assert_eq!(response.status().as_u16(), 503, "on {}", app.backend);
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(body["code"], "service_unavailable", "on {}: {body}", app.backend);
        assert!(body["message"].is_string(), "on {}: {body}", app.backend);
        let live = app.client.get(format!("{}/api/status", app.address)).send().await.expect("the server answers");
        assert_eq!(live.status().as_u16(), 204, "on {}", app.backend);
    }
}

fn request_id(response: &Response) -> String {
    response.headers()["x-request-id"].to_str().expect("a visible ASCII request id").to_owned()
}

fn is_generated(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|byte| byte.is_ascii_hexdigit())
}

#[tokio::test]
async fn a_sane_request_id_is_echoed() {
    let app = spawn_app().await;
    let id = "req-2f1c:retry/2_ABC.def";

    let response = app
        .client
        .get(format!("{}/api/status", app.address))
        .header("X-Request-Id", id)
        .send()
        .await
        .expect("the server answers");

    assert_eq!(request_id(&response), id);
}

#[tokio::test]
async fn a_missing_long_or_odd_request_id_is_replaced_by_a_new_one() {
    let app = spawn_app().await;
    let too_long = "a".repeat(129);
    let mut seen = Vec::new();
    for sent in [None, Some(too_long.as_str()), Some("two words"), Some("")] {
        let mut request = app.client.get(format!("{}/api/status", app.address));
        if let Some(sent) = sent {
            request = request.header("X-Request-Id", sent);
        }
        let response = request.send().await.expect("the server answers");
        let id = request_id(&response);
        assert!(is_generated(&id), "{sent:?} got {id}");
        assert!(!seen.contains(&id), "{id} was handed out twice");
        seen.push(id);
    }
    let longest = "b".repeat(128);
    let response = app
        .client
        .get(format!("{}/api/status", app.address))
        .header("X-Request-Id", &longest)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(request_id(&response), longest);
}

#[tokio::test]
async fn error_answers_carry_the_request_id_too() {
    let app = spawn_app().await;
    for (method, path) in [
        (reqwest::Method::GET, "/no/such/route"),
        (reqwest::Method::GET, "/api/users"),
        (reqwest::Method::POST, "/api/status"),
    ] {
        let response = app
            .client
            .request(method.clone(), format!("{}{path}", app.address))
            .header("X-Request-Id", "err-1")
            .send()
            .await
            .expect("the server answers");
        assert!(response.status().is_client_error(), "{method} {path}");
        assert_eq!(request_id(&response), "err-1", "{method} {path}");
        let fresh = app
            .client
            .request(method.clone(), format!("{}{path}", app.address))
            .send()
            .await
            .expect("the server answers");
        assert!(is_generated(&request_id(&fresh)), "{method} {path}");
    }
}

#[tokio::test]
async fn the_request_log_line_carries_the_request_id() {
    let dir = TempDir::new().unwrap();
    let mut command = latchkey(dir.path());
    command.env("LATCHKEY_LOG_FORMAT", "json");
    let mut server = RunningServer::start(command).await;
    let response = reqwest::Client::new()
        .get(format!("{}/api/users", server.base_url))
        .header("X-Request-Id", "trace-me-4711")
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(request_id(&response), "trace-me-4711");
    server.stop_with(Signal::SIGTERM).await;

    let logs = server.remaining_stdout().await;
    let line = logs
        .lines()
        .find(|line| line.contains("request finished") && line.contains("/api/users"))
        .unwrap_or_else(|| panic!("no request line in {logs}"));
    let entry: Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(entry["span"]["request_id"], "trace-me-4711", "{line}");
}
