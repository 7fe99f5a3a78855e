//! HTTP load benchmark: throughput and latency of the Account and Management APIs measured over real HTTP against
//! the release `latchkey` binary, with closed-loop workers on one keep-alive client. Results: `docs/benchmarks.md`.
//!
//! The program starts the server as a child process on a free port and a temporary data directory, sets everything
//! up through the public API (a Management API token from `client_credentials`; `LATCHKEY_BENCH_HTTP_USERS` users
//! without passwords unless the database already has users; the account center enabled; a first-party SPA app; one
//! user with a password, signed in through `POST /api/sign-in` for an Account API token), then measures each request
//! kind for `LATCHKEY_BENCH_SECONDS` after a warm-up: `GET /api/status` (the baseline), `GET` and `PATCH
//! /api/my-account`, a page of `GET /api/users`, an email-prefix search and `GET /api/users/:id`. Every answer's
//! status is checked: a non-2xx answer or a transport error counts as an error. Then the token side: `client_credentials`
//! grants at `POST /oidc/token`, password sign-ins at `POST /api/sign-in` (cycling through
//! [`SIGN_IN_USERS`] users with passwords), `GET /api/my-account` again while a second set of workers floods
//! password sign-ins (argon2 must not starve other requests), and token verification in process
//! (`latchkey_auth::verify` on the Account API token against the server's `/oidc/jwks` key, one thread per core).
//! It prints a Markdown table of requests/s, p50/p99/max latency (HdrHistogram, microsecond resolution), errors,
//! each row's throughput as a share of `/api/status` and the server's resident memory after the row, then the
//! figures the targets are about: idle and peak RSS, sign-ins/s against cores ÷ one argon2id verification (timed
//! here, in process, right before and right after the sign-in row; the mean is used), and the flooded `GET
//! /api/my-account` p99 against the idle one. The server is stopped on every exit path (errors and panics drop its
//! guard; Ctrl-C reaches it directly, as it is in the same process group).
//!
//! Not a Criterion benchmark: the figures wanted are throughput and tail latency of a running server, so it is a
//! plain program (`harness = false`). Run it with `scripts/bench-http.sh`, which builds the binary first.
//!
//! Environment:
//! - `LATCHKEY_BENCH_BINARY`: the server binary (default `target/release/latchkey`; a relative path is taken from
//!   the workspace root).
//! - `LATCHKEY_BENCH_DATABASE_URL`: passed to the server as `LATCHKEY_DATABASE_URL` (e.g. a PostgreSQL database
//!   kept by `LATCHKEY_BENCH_KEEP=1 scripts/bench-users-million.sh`); unset: the embedded SQLite file in the
//!   temporary data directory. The run leaves its signed-in user and SPA app deleted and the account center enabled.
//! - `LATCHKEY_BENCH_HTTP_USERS`: users to seed when the database has none (default 10,000).
//! - `LATCHKEY_BENCH_SECONDS`: measured seconds per request kind (default 10).
//! - `LATCHKEY_BENCH_CONCURRENCY`: concurrent closed-loop workers (default 16); also bounds the seeding.
//! - `LATCHKEY_LOG`: the server's log filter (default `warn`, so that request logging is not measured).
//! - `LATCHKEY_BENCH_SERVER_<KEY>`: passed to the server as `LATCHKEY_<KEY>` (e.g.
//!   `LATCHKEY_BENCH_SERVER_PASSWORD_HASH_NICENESS=0`), since no other `LATCHKEY_*` variable reaches it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const DEFAULT_USERS: u64 = 10_000;
const DEFAULT_SECONDS: u64 = 10;
const DEFAULT_CONCURRENCY: u64 = 16;
/// Unmeasured load before each measured run: fills the connection pool and the server's caches.
const WARM_UP: Duration = Duration::from_secs(2);
/// How long the server may take to answer `/api/status` after it is started (migrations included).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Users sampled (5 pages of 100) for `GET /api/users/:id` and for the email prefixes.
const SAMPLE_PAGES: u64 = 5;
const FIRST_NAMES: [&str; 16] = [
    "olivia", "liam", "emma", "noah", "amelia", "oliver", "ava", "elijah", "sophia", "mateo", "isabella", "lucas",
    "mia", "hiroshi", "priya", "jonas",
];
const LAST_NAMES: [&str; 16] = [
    "smith", "johnson", "williams", "brown", "garcia", "miller", "davis", "martinez", "wilson", "anderson", "tanaka",
    "muller", "rossi", "kowalski", "singh", "chen",
];
const EMAIL_DOMAINS: [&str; 4] = ["gmail.com", "example.org", "proton.me", "corp.example.com"];
/// Variables with this prefix are server settings: `LATCHKEY_BENCH_SERVER_<KEY>` reaches the server as `LATCHKEY_<KEY>`.
const SERVER_SETTING_PREFIX: &str = "LATCHKEY_BENCH_SERVER_";
/// Users with passwords that the sign-in rows cycle through, so that sign-ins do not all write one user's row.
const SIGN_IN_USERS: usize = 32;
/// In-process argon2id verifications timed for the sign-in target (the median is used).
const ARGON2_SAMPLES: usize = 15;
/// How long the server idles after answering its first `/api/status` before its idle memory is read.
const IDLE_SETTLE: Duration = Duration::from_secs(2);

fn main() -> Result<(), BoxError> {
    let settings = Settings::from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(&settings))
}

struct Settings {
    binary: PathBuf,
    database_url: Option<String>,
    users: u64,
    seconds: u64,
    concurrency: usize,
}

impl Settings {
    fn from_env() -> Result<Self, BoxError> {
        // Cargo runs benchmarks from the package directory; paths are meant from the workspace root.
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let binary = match std::env::var("LATCHKEY_BENCH_BINARY") {
            Ok(path) => workspace.join(path),
            Err(_) => {
                let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| workspace.join("target"), PathBuf::from);
                workspace.join(target).join("release/latchkey")
            }
        };
        let concurrency = env_number("LATCHKEY_BENCH_CONCURRENCY", DEFAULT_CONCURRENCY)?.max(1);
        Ok(Self {
            binary,
            database_url: std::env::var("LATCHKEY_BENCH_DATABASE_URL").ok().filter(|url| !url.is_empty()),
            users: env_number("LATCHKEY_BENCH_HTTP_USERS", DEFAULT_USERS)?,
            seconds: env_number("LATCHKEY_BENCH_SECONDS", DEFAULT_SECONDS)?.max(1),
            concurrency: usize::try_from(concurrency)?,
        })
    }
}

async fn run(settings: &Settings) -> Result<(), BoxError> {
    let mut server = Server::start(settings)?;
    let client = Client::builder()
        .pool_max_idle_per_host(settings.concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?;
    let api = Api { client, endpoint: server.endpoint.clone() };
    if let Err(error) = server.wait_until_ready(&api).await {
        return Err(format!("{error}; the server's log:\n{}", server.log()).into());
    }
    println!("server: {} on {}", settings.binary.display(), server.endpoint);
    println!("database: {}", if settings.database_url.is_some() { "LATCHKEY_BENCH_DATABASE_URL" } else { "SQLite" });
    tokio::time::sleep(IDLE_SETTLE).await;
    let idle = server.memory()?;
    println!("idle after start: RSS {}", mebibytes(idle.resident_kib));
    let outcome = benchmark(settings, &api, &server, idle).await;
    if outcome.is_err() {
        eprintln!("the server's log:\n{}", server.log());
    }
    outcome
}

async fn benchmark(settings: &Settings, api: &Api, server: &Server, idle: Memory) -> Result<(), BoxError> {
    let management = api.management_token(&server.client_id, &server.client_secret).await?;
    let existing = api.user_count(&management, "").await?;
    if existing == 0 {
        seed_users(api, &management, settings.users, settings.concurrency).await?;
    } else {
        println!("the database has {existing} users: not seeding");
    }
    let users = api.user_count(&management, "").await?;
    let sample = api.sample_users(&management).await?;
    let ids: Arc<Vec<String>> = Arc::new(sample.iter().map(|(id, _)| id.clone()).collect());
    let prefixes = email_prefixes(&sample);
    if ids.is_empty() || prefixes.is_empty() {
        return Err("no users with an email to search for".into());
    }
    let mut matches = Vec::new();
    for prefix in &prefixes {
        matches.push(api.user_count(&management, &format!("&search.primaryEmail={}", like_prefix(prefix))).await?);
    }
    println!("users: {users}; email prefixes {prefixes:?} match {matches:?} users");

    let account = sign_in_account_user(api, &management).await?;
    let sign_in_users = create_sign_in_users(api, &management).await;
    let measured = match &sign_in_users {
        Ok(users) => {
            let context = Context { settings, api, server, management: &management, account: &account, users };
            measure_all(&context, ids, prefixes).await
        }
        Err(_) => Err("could not create the sign-in users".into()),
    };
    for user in sign_in_users.iter().flatten() {
        api.delete(&format!("/api/users/{}", user.id), &management).await;
    }
    account.delete(api, &management).await;
    let rows = measured?;
    let peak = server.memory()?;

    println!();
    println!(
        "{} workers, {} s each after {} s of warm-up, load average before: {}, after: {}, cores: {}",
        settings.concurrency,
        settings.seconds,
        WARM_UP.as_secs(),
        rows.load_before,
        load_average(),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    print_table(&rows.rows);
    println!();
    print_targets(&rows, idle, peak);
    Ok(())
}

/// What the measuring needs besides the request builders.
struct Context<'a> {
    settings: &'a Settings,
    api: &'a Api,
    server: &'a Server,
    management: &'a str,
    account: &'a AccountUser,
    users: &'a [SignInUser],
}

/// The targets against this run's figures: idle RSS under 40 MiB, password sign-ins at 90 % of cores ÷ one
/// argon2id verification, and `GET /api/my-account` p99 under a sign-in flood within 2× the idle p99.
fn print_targets(rows: &Rows, idle: Memory, peak: Memory) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    println!("| Target | Measured | Verdict |");
    println!("|---|---|---|");
    let idle_mib = idle.resident_kib as f64 / 1024.0;
    println!(
        "| idle RSS < 40 MiB | {idle_mib:.1} MiB (peak over the run: {}) | {} |",
        mebibytes(peak.peak_kib),
        verdict(idle_mib < 40.0)
    );
    if let (Some(sign_ins), Some(alone)) = (rows.find(SIGN_IN_LABEL), rows.verify_alone) {
        let argon2 = alone.mean();
        let ceiling = cores as f64 / argon2.as_secs_f64();
        let rate = sign_ins.per_second();
        println!(
            "| password sign-ins ≥ 90 % of {cores} cores ÷ {:.1} ms argon2id verify ({:.1} ms before the row, {:.1} ms \
             after) = {:.0}/s | {rate:.0}/s, {:.0} % | {} |",
            argon2.as_secs_f64() * 1_000.0,
            alone.before.as_secs_f64() * 1_000.0,
            alone.after.as_secs_f64() * 1_000.0,
            0.9 * ceiling,
            100.0 * rate / ceiling,
            verdict(rate >= 0.9 * ceiling),
        );
    }
    if let (Some(quiet), Some(flooded)) = (rows.find(MY_ACCOUNT_LABEL), rows.find(FLOODED_LABEL)) {
        let (quiet_p99, flooded_p99) =
            (quiet.histogram.value_at_quantile(0.99), flooded.histogram.value_at_quantile(0.99));
        let ratio = flooded_p99 as f64 / quiet_p99.max(1) as f64;
        println!(
            "| `GET /api/my-account` p99 under a sign-in flood < 2× idle ({}) | {} ({ratio:.2}×) | {} |",
            milliseconds(quiet_p99),
            milliseconds(flooded_p99),
            verdict(ratio < 2.0),
        );
    }
}

/// One argon2id verification at the stored parameters, as the server runs it (on a `HashingThreads` thread, which
/// keeps its argon2 memory), one at a time: the median of [`ARGON2_SAMPLES`], after one unmeasured run.
async fn argon2_verify_time() -> Result<Duration, BoxError> {
    use latchkey_domain::password::{HashingThreads, PasswordHasher, PlainPassword, hashing};
    let password = PlainPassword::new("correct horse battery staple");
    let stored = hashing::hash_password(&password)?;
    let hasher = HashingThreads::new(1, || {})?;
    hasher.verify(&password, &stored).await?;
    let mut samples = Vec::with_capacity(ARGON2_SAMPLES);
    for _ in 0..ARGON2_SAMPLES {
        let started = now();
        let _ = std::hint::black_box(hasher.verify(&password, &stored).await);
        samples.push(started.elapsed());
    }
    samples.sort();
    Ok(samples[samples.len() / 2])
}

/// Runs each request kind and returns its row; the PATCH row is "not served" unless a probe answers 200.
async fn measure_all(context: &Context<'_>, ids: Arc<Vec<String>>, prefixes: Vec<String>) -> Result<Rows, BoxError> {
    let Context { settings, api, management, .. } = *context;
    let account_token = context.account.token.as_str();
    let load_before = load_average();
    let endpoint = api.endpoint.clone();
    let mut cases: Vec<(&str, Option<Builder>)> = Vec::new();

    let url = format!("{endpoint}/api/status");
    cases.push(("GET /api/status", Some(Arc::new(move |client: &Client, _| client.get(&url)))));

    let url = format!("{endpoint}/api/my-account");
    let token = account_token.to_owned();
    let my_account: Builder = Arc::new(move |client: &Client, _| client.get(&url).bearer_auth(&token));
    cases.push((MY_ACCOUNT_LABEL, Some(my_account.clone())));

    let url = format!("{endpoint}/api/my-account");
    let token = account_token.to_owned();
    let patch: Builder = Arc::new(move |client: &Client, call| {
        client.patch(&url).bearer_auth(&token).json(&json!({ "name": format!("HTTP Bench {call}") }))
    });
    let probe = patch(&api.client, 0).send().await?;
    let patch_served = probe.status().as_u16() == 200;
    let probe_status = probe.status();
    cases.push(("PATCH /api/my-account", patch_served.then_some(patch)));

    let url = format!("{endpoint}/api/users?page=1&page_size=20");
    let token = management.to_owned();
    cases.push((
        "GET /api/users?page=1&page_size=20",
        Some(Arc::new(move |client: &Client, _| client.get(&url).bearer_auth(&token))),
    ));

    let urls: Vec<String> = prefixes
        .iter()
        .map(|prefix| format!("{endpoint}/api/users?search.primaryEmail={}", like_prefix(prefix)))
        .collect();
    let token = management.to_owned();
    cases.push((
        "GET /api/users?search.primaryEmail=<prefix>%25",
        Some(Arc::new(move |client: &Client, call| {
            client.get(&urls[usize::try_from(call).unwrap_or(0) % urls.len()]).bearer_auth(&token)
        })),
    ));

    let url = format!("{endpoint}/api/users/");
    let token = management.to_owned();
    cases.push((
        "GET /api/users/:id",
        Some(Arc::new(move |client: &Client, call| {
            let id = &ids[usize::try_from(call.wrapping_mul(0x9e37_79b9)).unwrap_or(0) % ids.len()];
            client.get(format!("{url}{id}")).bearer_auth(&token)
        })),
    ));

    let url = format!("{endpoint}/oidc/token");
    let form = [
        ("grant_type", "client_credentials".to_owned()),
        ("client_id", context.server.client_id.clone()),
        ("client_secret", context.server.client_secret.clone()),
        ("resource", format!("{endpoint}/api")),
        ("scope", "all".to_owned()),
    ];
    cases.push((
        "POST /oidc/token (client_credentials)",
        Some(Arc::new(move |client: &Client, _| client.post(&url).form(&form))),
    ));

    let sign_in = sign_in_builder(&endpoint, &context.account.app_id, context.users);
    cases.push((SIGN_IN_LABEL, Some(sign_in.clone())));

    let duration = Duration::from_secs(settings.seconds);
    let mut rows = Vec::new();
    let mut verify_alone = None;
    for (label, builder) in cases {
        let Some(builder) = builder else {
            println!("{label}: not served ({probe_status})");
            rows.push(Row { label, measured: None, note: format!("not served ({probe_status})"), resident_kib: None });
            continue;
        };
        // The sign-in target's ceiling is timed on each side of its row: this machine's speed drifts over a run.
        let before = if label == SIGN_IN_LABEL { Some(argon2_verify_time().await?) } else { None };
        load(&api.client, &builder, settings.concurrency, WARM_UP).await?;
        let measured = load(&api.client, &builder, settings.concurrency, duration).await?;
        rows.push(context.row(label, measured)?);
        if let Some(before) = before {
            verify_alone = Some(VerifyAlone { before, after: argon2_verify_time().await? });
        }
    }

    // The same Account API read while as many workers again sign in with passwords on their own connections.
    let flood_client = Client::builder().tcp_nodelay(true).timeout(Duration::from_secs(60)).build()?;
    let flood = load(&flood_client, &sign_in, settings.concurrency, WARM_UP + duration + WARM_UP);
    let flooded = async {
        tokio::time::sleep(WARM_UP).await;
        load(&api.client, &my_account, settings.concurrency, duration).await
    };
    let (flood, flooded) = tokio::join!(flood, flooded);
    let flood = flood?;
    println!("sign-in flood alongside: {:.0} sign-ins/s, {} errors", flood.per_second(), flood.errors);
    rows.push(context.row(FLOODED_LABEL, flooded?)?);

    let verification = verify_in_process(api, account_token, duration).await?;
    rows.push(context.row(VERIFY_LABEL, verification)?);
    Ok(Rows { rows, load_before, verify_alone })
}

const MY_ACCOUNT_LABEL: &str = "GET /api/my-account";
const SIGN_IN_LABEL: &str = "POST /api/sign-in (password)";
const FLOODED_LABEL: &str = "GET /api/my-account during a sign-in flood";
const VERIFY_LABEL: &str = "token verification (in process, one thread per core)";

impl Context<'_> {
    /// Prints a one-line summary of `measured` and makes its table row, with the server's memory after it.
    fn row(&self, label: &'static str, measured: Measured) -> Result<Row, BoxError> {
        println!(
            "{label}: {:.0} requests/s, {} errors{}",
            measured.per_second(),
            measured.errors,
            measured.first_error.as_deref().map_or_else(String::new, |error| format!(", first: {error}"))
        );
        let resident_kib = Some(self.server.memory()?.resident_kib);
        Ok(Row { label, measured: Some(measured), note: String::new(), resident_kib })
    }
}

/// Password sign-ins through `app_id`, call `n` signing in user `n mod users.len()`.
fn sign_in_builder(endpoint: &str, app_id: &str, users: &[SignInUser]) -> Builder {
    let url = format!("{endpoint}/api/sign-in");
    let bodies: Vec<Value> = users
        .iter()
        .map(|user| {
            json!({
                "clientId": app_id,
                "identifier": {"type": "username", "value": user.username},
                "password": user.password,
                "scope": "openid profile",
            })
        })
        .collect();
    Arc::new(move |client: &Client, call| {
        client.post(&url).json(&bodies[usize::try_from(call).unwrap_or(0) % bodies.len()])
    })
}

/// `latchkey_auth::verify` (the uncached path: signature, proof, Datalog checks and claims) of `token` for a `GET
/// /api/my-account`, on one thread per core for `duration`, against the key the server publishes at `/oidc/jwks`.
async fn verify_in_process(api: &Api, token: &str, duration: Duration) -> Result<Measured, BoxError> {
    use latchkey_auth::{KeyRing, Operation, RequestFacts, TargetUser};
    use latchkey_domain::{Clock, SystemClock};

    let (jwks, _) = api.send_json(api.client.get(api.url("/oidc/jwks")), "the JWKS").await?;
    let key = &jwks["keys"][0];
    let x = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, string_field(key, "x")?)?;
    let public_key = biscuit_auth::PublicKey::from_bytes(&x, biscuit_auth::Algorithm::Ed25519)?;
    // A ring needs a signing key; a throwaway one signs nothing here.
    let ring = KeyRing::new([("bench-unused".to_owned(), biscuit_auth::KeyPair::new())])?
        .with_verification_key(string_field(key, "kid")?, public_key)?;
    let request = RequestFacts {
        operation: Operation::Read,
        path: "/api/my-account".to_owned(),
        target_user: Some(TargetUser::Caller),
    };
    latchkey_auth::verify(&ring, token, &request, SystemClock.now())?;

    let (ring, request, token) = (Arc::new(ring), Arc::new(request), Arc::new(token.to_owned()));
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let started = now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (ring, request, token) = (ring.clone(), request.clone(), token.clone());
            std::thread::spawn(move || -> Result<Measured, String> {
                let mut measured = Measured::new().map_err(|error| error.to_string())?;
                while now() < deadline {
                    let begun = now();
                    let outcome = latchkey_auth::verify(&ring, &token, &request, SystemClock.now());
                    measured.record(begun, outcome.map(|_| ()).map_err(|error| error.to_string()));
                }
                Ok(measured)
            })
        })
        .collect();
    let mut total = Measured::new()?;
    for worker in workers {
        total.merge(worker.join().map_err(|_| "a verification thread panicked")??)?;
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// Builds the request of call number `call` (a counter shared by the workers).
type Builder = Arc<dyn Fn(&Client, u64) -> RequestBuilder + Send + Sync>;

struct Rows {
    rows: Vec<Row>,
    load_before: String,
    verify_alone: Option<VerifyAlone>,
}

/// One argon2id verification with the machine otherwise idle, timed right before and right after the sign-in row.
#[derive(Clone, Copy)]
struct VerifyAlone {
    before: Duration,
    after: Duration,
}

impl VerifyAlone {
    fn mean(self) -> Duration {
        (self.before + self.after) / 2
    }
}

impl Rows {
    fn find(&self, label: &str) -> Option<&Measured> {
        self.rows.iter().find(|row| row.label == label).and_then(|row| row.measured.as_ref())
    }
}

struct Row {
    label: &'static str,
    measured: Option<Measured>,
    note: String,
    /// The server's resident memory right after the row.
    resident_kib: Option<u64>,
}

struct Measured {
    /// Latency of every answered request in microseconds, errors included.
    histogram: Histogram<u64>,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
}

impl Measured {
    fn new() -> Result<Self, BoxError> {
        Ok(Self {
            histogram: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            requests: 0,
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
        })
    }

    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// Counts one request sent at `sent` that has just ended with `outcome`.
    fn record(&mut self, sent: Instant, outcome: Result<(), String>) {
        let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.requests += 1;
        if let Err(error) = outcome {
            self.errors += 1;
            self.first_error.get_or_insert(error);
        }
        self.histogram.saturating_record(micros.max(1));
    }

    fn merge(&mut self, other: Self) -> Result<(), BoxError> {
        self.histogram.add(&other.histogram)?;
        self.requests += other.requests;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        Ok(())
    }
}

/// `concurrency` closed-loop workers send requests until `duration` has passed; each waits for the whole answer
/// before sending the next.
async fn load(
    client: &Client,
    builder: &Builder,
    concurrency: usize,
    duration: Duration,
) -> Result<Measured, BoxError> {
    let calls = Arc::new(AtomicU64::new(0));
    let started = now();
    let deadline = started + duration;
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, builder, calls) = (client.clone(), builder.clone(), calls.clone());
        workers.push(tokio::spawn(async move {
            let mut measured = Measured::new()?;
            while now() < deadline {
                let call = calls.fetch_add(1, Ordering::Relaxed);
                let request = builder(&client, call);
                let sent = now();
                measured.record(sent, answer(request.send().await).await);
            }
            Ok::<_, BoxError>(measured)
        }));
    }
    let mut total = Measured::new()?;
    for worker in workers {
        total.merge(worker.await??)?;
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// Reads the whole body; a transport error or a non-2xx status is an error described by status and body.
async fn answer(sent: reqwest::Result<Response>) -> Result<(), String> {
    let response = sent.map_err(|error| format!("transport: {error}"))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|error| format!("{status}, body: {error}"))?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{status}: {}", String::from_utf8_lossy(&body[..body.len().min(200)])))
    }
}

fn print_table(rows: &[Row]) {
    let baseline = rows.iter().find_map(|row| row.measured.as_ref()).map_or(0.0, Measured::per_second);
    println!("| Request | Requests/s | vs /api/status | p50 | p99 | max | Errors | RSS after |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let Some(measured) = &row.measured else {
            println!("| `{}` | {} | | | | | | |", row.label, row.note);
            continue;
        };
        let histogram = &measured.histogram;
        println!(
            "| `{}` | {:.0} | {:.1} % | {} | {} | {} | {} of {} | {} |",
            row.label,
            measured.per_second(),
            100.0 * measured.per_second() / baseline,
            milliseconds(histogram.value_at_quantile(0.5)),
            milliseconds(histogram.value_at_quantile(0.99)),
            milliseconds(histogram.max()),
            measured.errors,
            measured.requests,
            row.resident_kib.map_or_else(String::new, mebibytes),
        );
    }
}

fn mebibytes(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn milliseconds(micros: u64) -> String {
    format!("{:.2} ms", micros as f64 / 1_000.0)
}

/// Seeds `count` users without passwords through `POST /api/users`, `concurrency` requests at a time.
async fn seed_users(api: &Api, token: &str, count: u64, concurrency: usize) -> Result<(), BoxError> {
    let started = now();
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (api, token, next) = (api.clone(), token.to_owned(), next.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return Ok::<_, BoxError>(());
                }
                api.send_json(
                    api.request(Method::POST, "/api/users", &token).json(&seeded_user(index)),
                    "a seeded user",
                )
                .await?;
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("seeded {count} users in {seconds:.1} s ({:.0} users/s)", count as f64 / seconds);
    Ok(())
}

/// User number `index`: `olivia.smith17@gmail.com`, username `olivia_smith17`, name `Olivia Smith`.
fn seeded_user(index: u64) -> Value {
    let first = FIRST_NAMES[(index % 16) as usize];
    let last = LAST_NAMES[(index / 16 % 16) as usize];
    let domain = EMAIL_DOMAINS[(index / 256 % 4) as usize];
    json!({
        "username": format!("{first}_{last}{index}"),
        "primaryEmail": format!("{first}.{last}{index}@{domain}"),
        "name": format!("{} {}", capitalised(first), capitalised(last)),
    })
}

fn capitalised(word: &str) -> String {
    let mut characters = word.chars();
    characters.next().map_or_else(String::new, |first| first.to_uppercase().chain(characters).collect())
}

/// Distinct 4-character prefixes of the sampled emails (at most 8), lower-cased: what a user types into a search box.
fn email_prefixes(sample: &[(String, Option<String>)]) -> Vec<String> {
    let mut prefixes: Vec<String> = Vec::new();
    for email in sample.iter().filter_map(|(_, email)| email.as_deref()) {
        let prefix: String = email.chars().take(4).collect::<String>().to_lowercase();
        if prefix.chars().count() == 4 && !prefixes.contains(&prefix) && prefixes.len() < 8 {
            prefixes.push(prefix);
        }
    }
    prefixes
}

/// `prefix%`, URL-encoded: a case-insensitive left-anchored `LIKE` (Logto's `search.<field>` syntax).
fn like_prefix(prefix: &str) -> String {
    url::form_urlencoded::byte_serialize(format!("{prefix}%").as_bytes()).collect()
}

/// A user the sign-in rows sign in with a password.
struct SignInUser {
    id: String,
    username: String,
    password: String,
}

/// [`SIGN_IN_USERS`] users with random passwords, created through `POST /api/users`.
async fn create_sign_in_users(api: &Api, management: &str) -> Result<Vec<SignInUser>, BoxError> {
    let run = format!("{:08x}", rand::random::<u32>());
    let mut users = Vec::with_capacity(SIGN_IN_USERS);
    for index in 0..SIGN_IN_USERS {
        let username = format!("signin_{run}_{index}");
        let password = format!("{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>());
        let body = json!({"username": username, "password": password});
        let created = api.send_json(api.request(Method::POST, "/api/users", management).json(&body), "a sign-in user");
        let (user, _) = created.await?;
        users.push(SignInUser { id: string_field(&user, "id")?, username, password });
    }
    Ok(users)
}

/// The signed-in user of the Account API rows, with the app it signed in through.
struct AccountUser {
    user_id: String,
    app_id: String,
    token: String,
}

impl AccountUser {
    /// Leaves a kept database as it was (but for the account center, which stays enabled).
    async fn delete(&self, api: &Api, management: &str) {
        for path in [format!("/api/users/{}", self.user_id), format!("/api/applications/{}", self.app_id)] {
            api.delete(&path, management).await;
        }
    }
}

/// Enables the account center, creates a first-party SPA app and a user with a password, and signs the user in.
async fn sign_in_account_user(api: &Api, management: &str) -> Result<AccountUser, BoxError> {
    let center = json!({"enabled": true, "fields": {"name": "Edit", "profile": "Edit", "email": "ReadOnly"}});
    api.send_json(api.request(Method::PATCH, "/api/account-center", management).json(&center), "the account center")
        .await?;
    let app = json!({"name": "HTTP load benchmark", "type": "SPA"});
    let (app, _) =
        api.send_json(api.request(Method::POST, "/api/applications", management).json(&app), "an SPA app").await?;
    let app_id = string_field(&app, "id")?;

    let suffix = format!("{:016x}", rand::random::<u64>());
    let password = format!("{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>());
    let user = json!({
        "username": format!("httpbench_{suffix}"),
        "primaryEmail": format!("httpbench_{suffix}@example.com"),
        "name": "HTTP Bench",
        "password": password,
    });
    let (user, _) = api.send_json(api.request(Method::POST, "/api/users", management).json(&user), "a user").await?;
    let user_id = string_field(&user, "id")?;
    let sign_in = json!({
        "clientId": app_id,
        "identifier": {"type": "username", "value": format!("httpbench_{suffix}")},
        "password": password,
        "scope": "openid profile email",
    });
    let (tokens, _) =
        api.send_json(api.client.post(api.url("/api/sign-in")).json(&sign_in), "an Account API token").await?;
    Ok(AccountUser { user_id, app_id, token: string_field(&tokens, "access_token")? })
}

fn string_field(body: &Value, field: &str) -> Result<String, BoxError> {
    body[field].as_str().map(str::to_owned).ok_or_else(|| format!("no `{field}` in {body}").into())
}

/// The server under test, stopped when dropped.
struct Server {
    child: Child,
    endpoint: String,
    client_id: String,
    client_secret: String,
    log_path: PathBuf,
    /// Removed after the server has stopped (fields drop after `Drop::drop`).
    _work_dir: tempfile::TempDir,
}

impl Server {
    fn start(settings: &Settings) -> Result<Self, BoxError> {
        if !settings.binary.is_file() {
            let build = "cargo build --release -p latchkey-server --bin latchkey";
            return Err(format!("{} is missing: run `{build}`", settings.binary.display()).into());
        }
        // A port the kernel just handed out and released; the server binds it right away.
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let endpoint = format!("http://127.0.0.1:{port}");
        let work_dir = tempfile::tempdir()?;
        let log_path = work_dir.path().join("server.log");
        let log = std::fs::File::create(&log_path)?;
        let client_id = format!("http-bench-{:08x}", rand::random::<u32>());
        let client_secret = format!("{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>());

        let mut command = Command::new(&settings.binary);
        // The server rejects unknown `LATCHKEY_*` settings, so none of ours (or a caller's) may leak into it.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("LATCHKEY_") {
                command.env_remove(name);
            }
        }
        command
            .arg("serve")
            .env("LATCHKEY_BIND", format!("127.0.0.1:{port}"))
            .env("LATCHKEY_ENDPOINT", &endpoint)
            .env("LATCHKEY_DATA_DIR", work_dir.path().join("data"))
            .env("LATCHKEY_BOOTSTRAP_CLIENT_ID", &client_id)
            .env("LATCHKEY_BOOTSTRAP_CLIENT_SECRET", &client_secret)
            .env("LATCHKEY_LOG", std::env::var("LATCHKEY_LOG").unwrap_or_else(|_| "warn".to_owned()))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(url) = &settings.database_url {
            command.env("LATCHKEY_DATABASE_URL", url);
        }
        for (name, value) in std::env::vars() {
            if let Some(key) = name.strip_prefix(SERVER_SETTING_PREFIX) {
                command.env(format!("LATCHKEY_{key}"), value);
            }
        }
        let child = command.spawn().map_err(|error| format!("starting {}: {error}", settings.binary.display()))?;
        Ok(Self { child, endpoint, client_id, client_secret, log_path, _work_dir: work_dir })
    }

    async fn wait_until_ready(&mut self, api: &Api) -> Result<(), BoxError> {
        let started = now();
        while started.elapsed() < START_TIMEOUT {
            let answer = api.client.get(api.url("/api/status")).send().await;
            if answer.is_ok_and(|response| response.status().is_success()) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("the server exited ({status})").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("the server did not answer {}/api/status within {START_TIMEOUT:?}", self.endpoint).into())
    }

    /// The server's resident and peak resident memory (`VmRSS`, `VmHWM` of `/proc/<pid>/status`, Linux).
    fn memory(&self) -> Result<Memory, BoxError> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .ok_or_else(|| format!("no {name} in /proc/{}/status", self.child.id()))
        };
        Ok(Memory { resident_kib: field("VmRSS:")?, peak_kib: field("VmHWM:")? })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_else(|error| format!("(unreadable: {error})"))
    }
}

impl Drop for Server {
    /// SIGTERM, then SIGKILL if the server has not stopped within [`STOP_TIMEOUT`].
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).is_ok() {
            let started = now();
            while started.elapsed() < STOP_TIMEOUT {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server's memory at one moment, in KiB.
#[derive(Debug, Clone, Copy)]
struct Memory {
    resident_kib: u64,
    /// The most the process has had resident since it started.
    peak_kib: u64,
}

/// The public API, for the set-up.
#[derive(Clone)]
struct Api {
    client: Client,
    endpoint: String,
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint)
    }

    fn request(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(token)
    }

    /// Deletes what `path` names; a failure is reported, not fatal (it only leaves a kept database less tidy).
    async fn delete(&self, path: &str, token: &str) {
        let deleted = self.request(Method::DELETE, path, token).send().await;
        if !deleted.as_ref().is_ok_and(|response| response.status().is_success()) {
            eprintln!("could not delete {path}: {deleted:?}");
        }
    }

    /// Sends `request` and returns its JSON body and `Total-Number` header; anything but a 2xx is an error.
    async fn send_json(&self, request: RequestBuilder, what: &str) -> Result<(Value, Option<u64>), BoxError> {
        let response = request.send().await?;
        let status = response.status();
        let total = response
            .headers()
            .get("total-number")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok());
        let body = response.text().await?;
        if !status.is_success() {
            return Err(format!("{what}: {status}: {body}").into());
        }
        let body = if body.is_empty() { Value::Null } else { serde_json::from_str(&body)? };
        Ok((body, total))
    }

    /// A Management API token: `client_credentials` for the bootstrap app, resource `<endpoint>/api`, scope `all`.
    async fn management_token(&self, client_id: &str, client_secret: &str) -> Result<String, BoxError> {
        let resource = self.url("/api");
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("resource", resource.as_str()),
            ("scope", "all"),
        ];
        let (body, _) = self.send_json(self.client.post(self.url("/oidc/token")).form(&form), "a token").await?;
        string_field(&body, "access_token")
    }

    /// `Total-Number` of `GET /api/users?page=1&page_size=1<query>`.
    async fn user_count(&self, token: &str, query: &str) -> Result<u64, BoxError> {
        let path = format!("/api/users?page=1&page_size=1{query}");
        let (_, total) = self.send_json(self.request(Method::GET, &path, token), "the user count").await?;
        total.ok_or_else(|| "no Total-Number header".into())
    }

    /// Ids and emails of the users on the first [`SAMPLE_PAGES`] pages of 100.
    async fn sample_users(&self, token: &str) -> Result<Vec<(String, Option<String>)>, BoxError> {
        let mut sample = Vec::new();
        for page in 1..=SAMPLE_PAGES {
            let path = format!("/api/users?page={page}&page_size=100");
            let (body, _) = self.send_json(self.request(Method::GET, &path, token), "a page of users").await?;
            for user in body.as_array().ok_or("the user list is not an array")? {
                let email = user["primaryEmail"].as_str().map(str::to_owned);
                sample.push((string_field(user, "id")?, email));
            }
        }
        Ok(sample)
    }
}

/// The machine's 1/5/15-minute load averages (Linux), to tell a quiet run from one shared with other work.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map_or_else(|_| "unknown".to_owned(), |text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn env_number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(value) => {
            value.replace(['_', ','], "").parse().map_err(|_| format!("{name} must be a number, not `{value}`"))
        }
        Err(_) => Ok(default),
    }
}

// Benchmark scaffolding, not logic: the wall clock is what is measured.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}
