//! The `latchkey` binary as an operator runs it: exit codes, the one-line error on stderr, signals, logs.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use latchkey_domain::application::{Application, ApplicationRepository};
use latchkey_domain::{Clock, SystemClock};
use latchkey_store::Store;

use crate::helpers::{MANAGEMENT_API, TestDatabase, postgres_server_url};

/// Upper bound for anything the binary does here; generous for a cold, loaded CI machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// A `latchkey` command in `dir`, with every inherited `LATCHKEY_*` variable removed so the test decides.
pub(crate) fn latchkey(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    command.current_dir(dir).kill_on_drop(true).stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("LATCHKEY_") {
            command.env_remove(name);
        }
    }
    command.env("LATCHKEY_BIND", "127.0.0.1:0").env("LATCHKEY_LOG", "info");
    command
}

/// The Management API credentials [`serve`] starts a server with, so that the test knows them.
const BOOTSTRAP_CLIENT_ID: &str = "process-tests";
const BOOTSTRAP_CLIENT_SECRET: &str = "process-tests-secret";

/// `latchkey serve` in `dir` with the known bootstrap credentials, on `database_url` (the SQLite file in `dir`
/// when `None`).
pub(crate) fn serve(dir: &Path, database_url: Option<&str>) -> Command {
    let mut command = latchkey(dir);
    if let Some(url) = database_url {
        command.env("LATCHKEY_DATABASE_URL", url);
    }
    command
        .env("LATCHKEY_BOOTSTRAP_CLIENT_ID", BOOTSTRAP_CLIENT_ID)
        .env("LATCHKEY_BOOTSTRAP_CLIENT_SECRET", BOOTSTRAP_CLIENT_SECRET)
        .arg("serve");
    command
}

/// `POST /oidc/token` at `base_url` for a Management API token (`client_credentials`, scope `all`) as the bootstrap
/// app of a server started by [`serve`].
pub(crate) async fn management_token_response(client: &reqwest::Client, base_url: &str) -> reqwest::Response {
    let form = [("grant_type", "client_credentials"), ("resource", MANAGEMENT_API), ("scope", "all")];
    client
        .post(format!("{base_url}/oidc/token"))
        .basic_auth(BOOTSTRAP_CLIENT_ID, Some(BOOTSTRAP_CLIENT_SECRET))
        .form(&form)
        .send()
        .await
        .expect("the server answers")
}

/// The access token of [`management_token_response`].
pub(crate) async fn management_token(client: &reqwest::Client, base_url: &str) -> String {
    let body: serde_json::Value =
        management_token_response(client, base_url).await.json().await.expect("a JSON token response");
    body["access_token"].as_str().unwrap_or_else(|| panic!("a management token: {body}")).to_owned()
}

async fn run_to_completion(mut command: Command) -> Output {
    tokio::time::timeout(PATIENCE, command.output())
        .await
        .expect("the command finishes in time")
        .expect("the command starts")
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr).lines().map(str::to_owned).collect()
}

/// Asserts exit code 1 and exactly one stderr line, `latchkey: …`, mentioning every one of `words`.
fn assert_fails_with_one_line(output: &Output, words: &[&str]) {
    let lines = stderr_lines(output);
    assert_eq!(output.status.code(), Some(1), "stderr: {lines:?}");
    assert_eq!(lines.len(), 1, "stderr: {lines:?}");
    assert!(lines[0].starts_with("latchkey: "), "stderr: {lines:?}");
    for word in words {
        assert!(lines[0].contains(word), "`{word}` missing from {lines:?}");
    }
}

#[tokio::test]
async fn a_bad_value_in_the_config_file_exits_1_with_one_line_naming_the_key() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("latchkey.toml"), "bind = \"not an address\"\n").unwrap();
    let mut command = latchkey(dir.path());
    command.env_remove("LATCHKEY_BIND").args(["--config", "latchkey.toml"]);

    let output = run_to_completion(command).await;

    assert_fails_with_one_line(&output, &["bind", "latchkey.toml"]);
}

#[tokio::test]
async fn an_unknown_key_in_the_config_file_exits_1_naming_it() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("latchkey.toml"), "data_dri = \"./elsewhere\"\n").unwrap();
    let mut command = latchkey(dir.path());
    command.args(["--config", "latchkey.toml", "serve"]);

    let output = run_to_completion(command).await;

    assert_fails_with_one_line(&output, &["data_dri"]);
}

#[tokio::test]
async fn a_missing_config_file_exits_1_naming_it() {
    let dir = TempDir::new().unwrap();
    let mut command = latchkey(dir.path());
    command.args(["--config", "nowhere.toml"]);

    let output = run_to_completion(command).await;

    assert_fails_with_one_line(&output, &["nowhere.toml"]);
}

#[tokio::test]
async fn a_bad_environment_variable_exits_1_naming_it() {
    let dir = TempDir::new().unwrap();
    let mut command = latchkey(dir.path());
    command.env("LATCHKEY_ENDPOINT", "mailto:admin@example.com");

    let output = run_to_completion(command).await;

    assert_fails_with_one_line(&output, &["LATCHKEY_ENDPOINT"]);
}

#[tokio::test]
async fn an_unreachable_database_exits_1_with_a_clear_line() {
    let dir = TempDir::new().unwrap();
    let mut command = latchkey(dir.path());
    command.env("LATCHKEY_DATABASE_URL", "postgres://latchkey:hunter2@127.0.0.1:1/latchkey");

    let output = run_to_completion(command).await;

    assert_fails_with_one_line(&output, &["database", "127.0.0.1:1"]);
    assert!(!stderr_lines(&output)[0].contains("hunter2"), "the password leaked: {:?}", stderr_lines(&output));
}

#[tokio::test]
async fn an_address_in_use_exits_1_naming_it() {
    let dir = TempDir::new().unwrap();
    let occupied = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = occupied.local_addr().unwrap().to_string();
    let mut command = latchkey(dir.path());
    command.env("LATCHKEY_BIND", &address);

    let output = run_to_completion(command).await;

    assert_fails_with_one_line(&output, &["cannot listen", &address]);
}

#[tokio::test]
async fn a_group_readable_key_file_exits_1_naming_the_file() {
    let dir = TempDir::new().unwrap();
    let first = run_to_completion(with_args(latchkey(dir.path()), &["migrate"])).await;
    assert!(first.status.success(), "{:?}", stderr_lines(&first));
    // `migrate` creates no keys; a first serve does. Put a key in place with the wrong mode instead.
    let key = dir.path().join("data/keys/secret-box-loose.key");
    std::fs::write(&key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    set_mode(&key, 0o644);

    let output = run_to_completion(latchkey(dir.path())).await;

    assert_fails_with_one_line(&output, &["secret-box-loose.key", "chmod 600"]);
}

#[tokio::test]
async fn migrate_on_a_fresh_data_directory_exits_0_and_creates_the_database() {
    let dir = TempDir::new().unwrap();

    let output = run_to_completion(with_args(latchkey(dir.path()), &["migrate"])).await;

    assert!(output.status.success(), "stderr: {:?}", stderr_lines(&output));
    assert!(output.stderr.is_empty(), "stderr: {:?}", stderr_lines(&output));
    assert!(dir.path().join("data/latchkey.db").is_file());
}

#[tokio::test]
async fn migrate_twice_is_harmless() {
    let dir = TempDir::new().unwrap();
    let first = run_to_completion(with_args(latchkey(dir.path()), &["migrate"])).await;
    let second = run_to_completion(with_args(latchkey(dir.path()), &["migrate"])).await;

    assert!(first.status.success() && second.status.success(), "stderr: {:?}", stderr_lines(&second));
}

/// Password hashing runs on threads of its own at the configured nice value, so that a sign-in flood yields the CPU
/// to other requests (Linux: the nice value is per thread, read from `/proc/<pid>/task/<tid>/stat`).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn password_hashing_runs_on_its_own_threads_at_the_configured_nice_value() {
    let dir = TempDir::new().unwrap();
    let mut command = latchkey(dir.path());
    command.env("LATCHKEY_PASSWORD_HASH_CONCURRENCY", "3").env("LATCHKEY_PASSWORD_HASH_NICENESS", "7");
    let mut server = RunningServer::start(command).await;

    let mut niceness = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{}/task", server.pid())).unwrap() {
        let task = task.unwrap().path();
        let Ok(name) = std::fs::read_to_string(task.join("comm")) else { continue };
        if name.starts_with("latchkey-hash-") {
            let stat = std::fs::read_to_string(task.join("stat")).unwrap();
            // Fields after the parenthesised name, from the state (field 3) on; the nice value is field 19.
            let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
            niceness.push(fields[16].parse::<i32>().unwrap());
        }
    }

    assert_eq!(niceness, [7, 7, 7]);
    assert_eq!(server.stop_with(Signal::SIGTERM).await.code(), Some(0));
}

#[tokio::test]
async fn sigterm_stops_a_running_server_with_exit_code_0() {
    let dir = TempDir::new().unwrap();
    let mut server = RunningServer::start(latchkey(dir.path())).await;
    assert_eq!(server.status_code().await, 204);

    let status = server.stop_with(Signal::SIGTERM).await;

    assert_eq!(status.code(), Some(0));
    assert!(server.remaining_stdout().await.contains("SIGTERM received"));
}

#[tokio::test]
async fn sigint_also_stops_a_running_server_with_exit_code_0() {
    let dir = TempDir::new().unwrap();
    let mut server = RunningServer::start(latchkey(dir.path())).await;

    let status = server.stop_with(Signal::SIGINT).await;

    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn first_start_creates_the_data_directory_with_private_key_files() {
    let dir = TempDir::new().unwrap();
    let mut server = RunningServer::start(latchkey(dir.path())).await;
    server.stop_with(Signal::SIGTERM).await;

    let data = dir.path().join("data");
    assert_eq!(mode_of(&data), 0o700);
    assert_eq!(mode_of(&data.join("latchkey.db")), 0o600, "the database holds password digests");
    let keys: Vec<_> = std::fs::read_dir(data.join("keys")).unwrap().map(|entry| entry.unwrap().path()).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in &keys {
        assert_eq!(mode_of(key), 0o600, "{}", key.display());
    }
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_and_never_contain_credentials() {
    let dir = TempDir::new().unwrap();
    let mut command = latchkey(dir.path());
    command.env("LATCHKEY_LOG_FORMAT", "json").env("LATCHKEY_LOG", "debug");
    let mut server = RunningServer::start(command).await;
    let response = reqwest::Client::new()
        .get(format!("{}/api/status?password=query-secret", server.base_url))
        .header("Authorization", "Bearer header-secret-token")
        .body("body-secret")
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status().as_u16(), 204);
    server.stop_with(Signal::SIGTERM).await;

    let rest = server.remaining_stdout().await;
    let logs = format!("{}\n{rest}", server.listening_line);
    for line in logs.lines().filter(|line| !line.is_empty()) {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|error| panic!("{error}: {line}"));
    }
    assert!(logs.contains("request finished"), "{logs}");
    for secret in ["query-secret", "header-secret-token", "body-secret"] {
        assert!(!logs.contains(secret), "`{secret}` was logged: {logs}");
    }
}

#[tokio::test]
async fn first_start_on_an_empty_database_prints_the_bootstrap_credentials_once_and_a_second_start_none() {
    let dir = TempDir::new().unwrap();
    let mut first = RunningServer::start(latchkey(dir.path())).await;
    first.stop_with(Signal::SIGTERM).await;
    let first_logs = first.remaining_stdout().await;
    let first_stderr = first.stderr().await;

    let lines: Vec<&str> = first_stderr.lines().collect();
    assert!(lines.len() > 4 && lines[0].starts_with("+--") && lines[lines.len() - 1] == lines[0], "{first_stderr}");
    assert!(first_stderr.contains("shown ONCE"), "{first_stderr}");
    assert_eq!(first_stderr.matches("client_secret:").count(), 1, "{first_stderr}");
    let client_id = boxed_value(&first_stderr, "client_id:");
    let client_secret = boxed_value(&first_stderr, "client_secret:");
    assert!(first_stderr.contains(&format!("curl -u {client_id}:{client_secret} -d grant_type=client_credentials")));
    assert!(
        first_stderr.contains("-d resource=http://127.0.0.1:3001/api -d scope=all http://127.0.0.1:3001/oidc/token")
    );
    assert!(!first_logs.contains(&client_secret), "the secret was logged: {first_logs}");
    assert_secret_verifies(&sqlite_url(dir.path()), &client_id, &client_secret).await;

    let mut second = RunningServer::start(latchkey(dir.path())).await;
    second.stop_with(Signal::SIGTERM).await;
    let second_stderr = second.stderr().await;
    assert!(second_stderr.is_empty(), "the second start printed: {second_stderr}");
}

#[tokio::test]
async fn configured_bootstrap_credentials_are_printed_nowhere() {
    let dir = TempDir::new().unwrap();
    let mut command = latchkey(dir.path());
    command
        .env("LATCHKEY_BOOTSTRAP_CLIENT_ID", "ci-bootstrap")
        .env("LATCHKEY_BOOTSTRAP_CLIENT_SECRET", "configured-secret-1234567890");
    let mut server = RunningServer::start(command).await;
    server.stop_with(Signal::SIGTERM).await;

    let (logs, stderr) = (server.remaining_stdout().await, server.stderr().await);
    let output = format!("{}\n{logs}\n{stderr}", server.listening_line);
    assert!(!output.contains("configured-secret"), "{output}");
    assert!(!output.contains("client_secret"), "{output}");
    assert_secret_verifies(&sqlite_url(dir.path()), "ci-bootstrap", "configured-secret-1234567890").await;
}

#[tokio::test]
async fn app_create_m2m_prints_credentials_that_verify() {
    let mut databases = vec![None];
    if let Some(server_url) = postgres_server_url() {
        databases.push(Some(TestDatabase::create(&server_url).await));
    }
    for database in &databases {
        let dir = TempDir::new().unwrap();
        let mut command = with_args(latchkey(dir.path()), &["app", "create-m2m", "--name", "CI deployer"]);
        if let Some(database) = database {
            command.env("LATCHKEY_DATABASE_URL", &database.url);
        }

        let output = run_to_completion(command).await;

        assert!(output.status.success(), "stderr: {:?}", stderr_lines(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 2, "stdout is the credentials only: {stdout}");
        let client_id = lines[0].strip_prefix("client_id: ").expect("a client_id line");
        let client_secret = lines[1].strip_prefix("client_secret: ").expect("a client_secret line");
        assert!(!String::from_utf8_lossy(&output.stderr).contains(client_secret), "the secret was logged");
        let url = database.as_ref().map_or_else(|| sqlite_url(dir.path()), |database| database.url.clone());
        let app = assert_secret_verifies(&url, client_id, client_secret).await;
        assert_eq!(app.name, "CI deployer");
    }
}

/// The value after `key` on a line of the bootstrap box.
fn boxed_value(text: &str, key: &str) -> String {
    let line = text.lines().find(|line| line.contains(key)).unwrap_or_else(|| panic!("no `{key}` in {text}"));
    let value = line.split_once(key).unwrap().1.trim().trim_end_matches('|').trim();
    value.to_owned()
}

fn sqlite_url(dir: &Path) -> String {
    crate::helpers::test_settings(&dir.join("data"), None).database_url()
}

/// Reads the app back from the database and checks that it reaches the Management API with `secret`.
async fn assert_secret_verifies(database_url: &str, client_id: &str, secret: &str) -> Application {
    let store = Store::connect(database_url).await.expect("opening the server's database");
    let app = store.applications().find_by_id(client_id).await.expect("reading the app");
    let app = app.unwrap_or_else(|| panic!("no application `{client_id}`"));
    assert!(app.has_management_api_access(), "{app:?}");
    assert!(app.verify_secret(secret, SystemClock.now()), "the printed secret does not verify");
    assert!(!app.verify_secret(&format!("{secret}x"), SystemClock.now()));
    app
}

fn with_args(mut command: Command, args: &[&str]) -> Command {
    command.args(args);
    command
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A `latchkey serve` process whose address was read from its `listening on http://…` log line.
pub(crate) struct RunningServer {
    child: Child,
    pub(crate) base_url: String,
    pub(crate) listening_line: String,
    stdout: Option<JoinHandle<String>>,
}

impl RunningServer {
    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    pub(crate) async fn start(mut command: Command) -> Self {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("the server starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let (base_url, listening_line) = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = stdout.next_line().await.expect("reading stdout") {
                if let Some(url) = listening_url(&line) {
                    return (url, line);
                }
            }
            let stderr = read_all(child.stderr.take().expect("piped stderr")).await;
            panic!("the server exited before listening; stderr: {stderr}");
        })
        .await
        .expect("the server logs its address in time");
        // Keep draining stdout, so that the server never blocks on a full pipe.
        let stdout = tokio::spawn(async move {
            let mut rest = String::new();
            while let Ok(Some(line)) = stdout.next_line().await {
                rest.push_str(&line);
                rest.push('\n');
            }
            rest
        });
        Self { child, base_url, listening_line, stdout: Some(stdout) }
    }

    async fn status_code(&self) -> u16 {
        let response = reqwest::get(format!("{}/api/status", self.base_url)).await.expect("the server answers");
        response.status().as_u16()
    }

    pub(crate) async fn stop_with(&mut self, signal: Signal) -> std::process::ExitStatus {
        self.signal(signal);
        self.wait_for_exit().await
    }

    /// Sends `signal` and returns at once, without waiting for the server to act on it.
    pub(crate) fn signal(&self, signal: Signal) {
        let pid = self.child.id().expect("the server is running");
        kill(Pid::from_raw(i32::try_from(pid).expect("a pid fits i32")), signal).expect("signalling the server");
    }

    /// Waits until the process has exited (for at most a minute).
    pub(crate) async fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the server stops in time")
            .expect("waiting for the server")
    }

    /// Whether the process is still running: it has neither exited nor been killed (a panic that ends it included).
    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("asking whether the server has exited").is_none()
    }

    /// Everything the server wrote to stderr, once it has exited.
    pub(crate) async fn stderr(&mut self) -> String {
        let stderr = self.child.stderr.take().expect("stderr is read once");
        tokio::time::timeout(PATIENCE, read_all(stderr)).await.expect("stderr closes in time")
    }

    /// Everything the server wrote to stdout after its `listening on` line, once it has exited.
    pub(crate) async fn remaining_stdout(&mut self) -> String {
        let stdout = self.stdout.take().expect("stdout is read once");
        tokio::time::timeout(PATIENCE, stdout).await.expect("stdout closes in time").expect("the reader task")
    }
}

/// `http://ADDR` from a log line (pretty or JSON) announcing the listener.
fn listening_url(line: &str) -> Option<String> {
    let start = line.find("listening on http://")? + "listening on ".len();
    let url: String =
        line[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.')).collect();
    Some(url)
}

async fn read_all(stream: impl AsyncRead + Unpin) -> String {
    let mut lines = BufReader::new(stream).lines();
    let mut all = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        all.push_str(&line);
        all.push('\n');
    }
    all
}

/// Runs `latchkey <args>` in `dir` on `database` (SQLite in `dir` when `None`), feeding `stdin`; returns stdout.
async fn operator(dir: &Path, database: Option<&TestDatabase>, args: &[&str], stdin: Option<&str>) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut command = with_args(latchkey(dir), args);
    // Only the one-line error on stderr: the migration's progress is logged at info.
    command.env("LATCHKEY_LOG", "warn");
    if let Some(database) = database {
        command.env("LATCHKEY_DATABASE_URL", &database.url);
    }
    command
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the command starts");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).await.unwrap();
        drop(pipe);
    }
    tokio::time::timeout(PATIENCE, child.wait_with_output()).await.expect("in time").expect("the command runs")
}

fn json_of(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "stderr: {:?}", stderr_lines(output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("JSON on stdout: {}", String::from_utf8_lossy(&output.stdout)))
}

#[tokio::test]
async fn the_operator_manages_a_users_whole_lifecycle_from_the_command_line() {
    let mut databases = vec![None];
    if let Some(server_url) = postgres_server_url() {
        databases.push(Some(TestDatabase::create(&server_url).await));
    }
    for database in &databases {
        let dir = TempDir::new().unwrap();
        let db = database.as_ref();
        let created = json_of(
            &operator(
                dir.path(),
                db,
                &["user", "create", "--username", "ada", "--email", "ada@example.com", "--password-stdin", "--json"],
                Some("first-Passw0rd\n"),
            )
            .await,
        );
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(created["hasPassword"], true);
        assert!(created.get("password").is_none());

        let table = operator(dir.path(), db, &["user", "list"], None).await;
        let text = String::from_utf8_lossy(&table.stdout);
        assert!(text.contains(&id) && text.contains("ada@example.com") && text.contains("1 of 1 user(s)"), "{text}");

        let duplicate = operator(dir.path(), db, &["user", "create", "--username", "ada"], None).await;
        assert_fails_with_one_line(&duplicate, &["username"]);

        assert_eq!(
            json_of(&operator(dir.path(), db, &["user", "suspend", &id, "--json"], None).await)["isSuspended"],
            true
        );
        assert_eq!(
            json_of(&operator(dir.path(), db, &["user", "unsuspend", &id, "--json"], None).await)["isSuspended"],
            false
        );
        let reset = operator(dir.path(), db, &["user", "set-password", &id], Some("second-Passw0rd\n")).await;
        assert!(reset.status.success(), "stderr: {:?}", stderr_lines(&reset));

        let deleted = operator(dir.path(), db, &["user", "delete", &id], None).await;
        assert!(deleted.status.success(), "stderr: {:?}", stderr_lines(&deleted));
        assert_fails_with_one_line(&operator(dir.path(), db, &["user", "show", &id], None).await, &["not found"]);
        let restored = json_of(&operator(dir.path(), db, &["user", "restore", &id, "--json"], None).await);
        assert_eq!(restored["primaryEmail"], "ada@example.com");

        // Each change is in the audit log as the operator's.
        let url = database.as_ref().map_or_else(|| sqlite_url(dir.path()), |database| database.url.clone());
        let store = Store::connect(&url).await.unwrap();
        let filter = latchkey_domain::audit::AuditFilter { user_id: Some(id.clone()), ..Default::default() };
        let log = latchkey_domain::audit::AuditLogRepository::list(&store.audit_log(), &filter, Default::default())
            .await
            .unwrap();
        assert_eq!(log.total, 6, "create, suspend, unsuspend, password, delete, restore");
        assert!(
            log.items.iter().all(|entry| matches!(entry.context.actor, latchkey_domain::audit::Actor::Operator { .. }))
        );
    }
}
