//! Users at scale on PostgreSQL: seeds `LATCHKEY_BENCH_USERS` users (default 1,000,000) through
//! `Store::insert_users` into a database of its own, then measures, one request at a time after a warm-up, the
//! repository calls behind `GET /api/users` and `GET /api/users/:id`: the first and a deep page of the unfiltered
//! list (each with the `COUNT` behind `Total-Number`), case-insensitive email-prefix searches, exact-email searches
//! and look-ups by id. Prints p50/p99/max per call. Results: `docs/benchmarks.md`.
//!
//! Not a Criterion benchmark: seeding takes minutes and the interesting figures are tail latencies of calls on one
//! large database, so it is a plain program (`harness = false`). Run it with `scripts/bench-users-million.sh`.
//!
//! Environment:
//! - `LATCHKEY_BENCH_DATABASE_URL` (required, else the program prints a note and exits): a PostgreSQL server URL; the
//!   program creates `latchkey_bench_<seconds>_<pid>` on it and drops it at the end.
//! - `LATCHKEY_BENCH_USERS`: how many users to seed (default 1,000,000).
//! - `LATCHKEY_BENCH_SAMPLES`: measured calls per scenario (default 1,000; at least 500 is meaningful for p99).
//! - `LATCHKEY_BENCH_KEEP=1`: keep the database (its name is printed).
//! - `LATCHKEY_BENCH_REUSE=<database>`: measure a database kept earlier instead of seeding a new one (pending
//!   migrations are applied first, so new indexes can be tried on seeded data).

use std::time::{Duration, Instant};

use latchkey_domain::identifiers::{Email, Phone, Username};
use latchkey_domain::password::{PasswordAlgorithm, StoredPassword};
use latchkey_domain::ports::{FieldCondition, Pagination, SearchField, SearchMode, UserSearch};
use latchkey_domain::user::CustomData;
use latchkey_domain::{Timestamp, User, UserId, UserRepository};
use latchkey_store::{SeaUserRepository, Store};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

const URL_VARIABLE: &str = "LATCHKEY_BENCH_DATABASE_URL";
const DEFAULT_USERS: u64 = 1_000_000;
const DEFAULT_SAMPLES: usize = 1_000;
const WARM_UP_CALLS: usize = 100;
/// Users per `Store::insert_users` call (one transaction each).
const USERS_PER_BATCH: u64 = 10_000;
/// Batches inserted at once: one per core of the machine the figures were taken on.
const CONCURRENT_BATCHES: u64 = 2;
/// Users are created over three years before 2026-01-01.
const FIRST_CREATED_AT_MS: i64 = 1_672_531_200_000;
const CREATION_SPAN_MS: i64 = 3 * 365 * 24 * 60 * 60 * 1_000;
const SEED: u64 = 0x1a7c_b3e5;

const FIRST_NAMES: [&str; 40] = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Oliver",
    "Ava",
    "Elijah",
    "Sophia",
    "Mateo",
    "Isabella",
    "Lucas",
    "Mia",
    "Levi",
    "Charlotte",
    "Ezra",
    "Harper",
    "James",
    "Luna",
    "Asher",
    "Evelyn",
    "Leo",
    "Aria",
    "Hiroshi",
    "Chloe",
    "Kai",
    "Zoe",
    "Ravi",
    "Nora",
    "Omar",
    "Ingrid",
    "Pedro",
    "Fatima",
    "Wei",
    "Anna",
    "Sven",
    "Priya",
    "Jonas",
    "Lea",
    "Mohammed",
];
const LAST_NAMES: [&str; 40] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Tanaka",
    "Müller",
    "Schmidt",
    "Rossi",
    "Dubois",
    "Nielsen",
    "Kowalski",
    "Singh",
    "Chen",
    "Silva",
];
const EMAIL_DOMAINS: [&str; 8] = [
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "Example.org",
    "proton.me",
    "corp.example.com",
    "mail.example.net",
    "icloud.com",
];
const AREA_CODES: [&str; 8] = ["212", "415", "646", "303", "617", "312", "206", "512"];
/// A well-formed argon2id digest: stored, never verified, so that rows are as wide as real ones.
const PASSWORD_DIGEST: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0m0cLWi6HwM6VZnRLD6xQ9qC3l1X5b1dDkJ8yHTLk2o";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(server_url) = std::env::var(URL_VARIABLE) else {
        eprintln!("{URL_VARIABLE} is not set (a PostgreSQL server URL): nothing to measure");
        return Ok(());
    };
    let users = env_number("LATCHKEY_BENCH_USERS", DEFAULT_USERS)?;
    let samples = env_number("LATCHKEY_BENCH_SAMPLES", DEFAULT_SAMPLES as u64)? as usize;
    let keep = std::env::var("LATCHKEY_BENCH_KEEP").is_ok_and(|value| value == "1");
    let reuse = std::env::var("LATCHKEY_BENCH_REUSE").ok().filter(|name| !name.is_empty());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(Settings { server_url, users, samples, keep, reuse }))
}

struct Settings {
    server_url: String,
    users: u64,
    samples: usize,
    keep: bool,
    reuse: Option<String>,
}

async fn run(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let admin = Database::connect(settings.server_url.as_str()).await?;
    let name = match &settings.reuse {
        Some(name) => name.clone(),
        None => {
            let name = format!("latchkey_bench_{}_{}", seconds_since_epoch(), std::process::id());
            execute(&admin, &format!("CREATE DATABASE \"{name}\"")).await?;
            name
        }
    };
    println!("database: {name}");

    let outcome = measure_database(&settings, &name).await;

    if settings.keep || settings.reuse.is_some() {
        println!("kept database {name} (LATCHKEY_BENCH_REUSE={name} measures it again)");
    } else {
        execute(&admin, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await?;
        println!("dropped database {name}");
    }
    admin.close().await?;
    outcome
}

async fn measure_database(settings: &Settings, name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::connect(&with_database(&settings.server_url, name)).await?;
    let started = now();
    store.migrate().await?;
    println!("migrations: {:.1} s", started.elapsed().as_secs_f64());

    let users = if settings.reuse.is_some() {
        let count = scalar(store.connection(), "SELECT count(*) FROM users").await?;
        println!("reusing {count} users");
        u64::try_from(count)?
    } else {
        seed(&store, settings.users).await?;
        settings.users
    };
    if users == 0 {
        return Err("no users to measure".into());
    }
    let size = scalar(store.connection(), "SELECT pg_total_relation_size('users')").await?;
    println!("users table with indexes: {} MiB", size / (1024 * 1024));
    println!("load average before measuring: {}", load_average());
    print_table_header();
    measure_calls(&store, users, settings.samples).await?;
    println!("load average after measuring: {}", load_average());
    store.connection().close_by_ref().await?;
    Ok(())
}

/// Inserts `count` users in batches of [`USERS_PER_BATCH`], [`CONCURRENT_BATCHES`] at a time, then runs
/// `VACUUM (ANALYZE)`: what autovacuum does to a freshly loaded table sooner or later. Until it has run, the
/// visibility map is empty and every `COUNT` reads the table's pages instead of only the index (the email-prefix
/// searches took 105 ms at p50 before it, 6 ms after).
async fn seed(store: &Store, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let started = now();
    let mut generating = Duration::ZERO;
    let mut next = 0;
    while next < count {
        let mut batches = Vec::new();
        for _ in 0..CONCURRENT_BATCHES {
            if next >= count {
                break;
            }
            let end = (next + USERS_PER_BATCH).min(count);
            let generated = now();
            let users = (next..end).map(|index| generated_user(index, count)).collect::<Result<Vec<_>, _>>()?;
            generating += generated.elapsed();
            let store = store.clone();
            batches.push(tokio::spawn(async move { store.insert_users(&users).await }));
            next = end;
        }
        for batch in batches {
            batch.await??;
        }
        if next.is_multiple_of(100_000) || next == count {
            let elapsed = started.elapsed().as_secs_f64();
            println!("seeded {next} users in {elapsed:.1} s ({:.0} users/s)", next as f64 / elapsed);
        }
    }
    let inserting = started.elapsed();
    let vacuumed = now();
    execute(store.connection(), "VACUUM (ANALYZE) users").await?;
    println!(
        "seeding: {count} users in {:.1} s, {:.0} users/s overall ({:.1} s of it building the users); VACUUM (ANALYZE) {:.1} s",
        inserting.as_secs_f64(),
        count as f64 / inserting.as_secs_f64(),
        generating.as_secs_f64(),
        vacuumed.elapsed().as_secs_f64(),
    );
    Ok(())
}

async fn measure_calls(store: &Store, users: u64, samples: usize) -> Result<(), Box<dyn std::error::Error>> {
    let repository = store.users();
    let mut random = SplitMix(SEED ^ 0x5eed);

    let first_page = list(Pagination::new(1, 20).ok_or("page 1")?);
    let last_page = users.div_ceil(20).max(1);
    let deep_page = list(Pagination::new(500.min(last_page), 20).ok_or("page 500")?);
    time_calls("list, page 1 of 20, with COUNT", samples, &repository, |_| first_page.clone()).await?;
    time_calls("list, page 500 of 20, with COUNT", samples, &repository, |_| deep_page.clone()).await?;

    // Prefixes of 4, 5 and 6 characters cut from the emails of users spread over the table, typed in upper and
    // lower case: from a first name's share of the table (1/40) to a few dozen users.
    let prefixes: Vec<String> = (0..24)
        .map(|index| {
            let email = email(random.below(users));
            let length = 4 + index % 3;
            let prefix: String = email.chars().take(length).collect();
            if index.is_multiple_of(2) { prefix.to_uppercase() } else { prefix }
        })
        .collect();
    let mut matches = Vec::new();
    for prefix in &prefixes {
        let page = repository.search(&email_search(&format!("{prefix}%"), SearchMode::Like)).await?;
        matches.push(page.total);
    }
    matches.sort_unstable();
    println!(
        "email prefixes: {} of 4-6 characters, {}-{} matches each (median {})",
        prefixes.len(),
        matches[0],
        matches[matches.len() - 1],
        matches[matches.len() / 2]
    );
    time_calls("search primaryEmail=<prefix>% (4-6 chars, any case)", samples, &repository, |call| {
        email_search(&format!("{}%", prefixes[call % prefixes.len()]), SearchMode::Like)
    })
    .await?;

    let mut exact = SplitMix(SEED ^ 0xe4ac7);
    time_calls("search primaryEmail=<whole email>, exact", samples, &repository, |_| {
        email_search(&email(exact.below(users)), SearchMode::Exact)
    })
    .await?;

    let mut by_id = SplitMix(SEED ^ 0x1d);
    let mut durations = Vec::with_capacity(samples);
    for call in 0..WARM_UP_CALLS + samples {
        let id = user_id(by_id.below(users))?;
        let started = now();
        let found = repository.find_by_id(&id).await?;
        let elapsed = started.elapsed();
        if found.is_none() {
            return Err(format!("user {id} was seeded but is not found").into());
        }
        if call >= WARM_UP_CALLS {
            durations.push(elapsed);
        }
    }
    print_row("find_by_id (random ids)", durations);

    // What the list's two statements cost alone.
    for (label, sql) in [
        ("SELECT count(*) FROM users (alone)", "SELECT count(*) FROM users"),
        ("page 1 query alone, no COUNT", "SELECT id FROM users ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0"),
    ] {
        let mut durations = Vec::with_capacity(samples);
        for call in 0..WARM_UP_CALLS + samples {
            let started = now();
            store
                .connection()
                .query_all_raw(Statement::from_string(store.connection().get_database_backend(), sql))
                .await?;
            if call >= WARM_UP_CALLS {
                durations.push(started.elapsed());
            }
        }
        print_row(label, durations);
    }
    Ok(())
}

/// Runs `search(build(call))` [`WARM_UP_CALLS`] times unmeasured, then `samples` times measured, one at a time.
async fn time_calls(
    label: &str,
    samples: usize,
    repository: &SeaUserRepository,
    mut build: impl FnMut(usize) -> UserSearch,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut durations = Vec::with_capacity(samples);
    for call in 0..WARM_UP_CALLS + samples {
        let search = build(call);
        let started = now();
        let page = repository.search(&search).await?;
        let elapsed = started.elapsed();
        if page.items.is_empty() {
            return Err(format!("`{label}` found nothing for {search:?}").into());
        }
        if call >= WARM_UP_CALLS {
            durations.push(elapsed);
        }
    }
    print_row(label, durations);
    Ok(())
}

fn list(pagination: Pagination) -> UserSearch {
    // Logto's defaults: OR joint, case-insensitive, suspended users included.
    UserSearch { pagination, ..UserSearch::default() }
}

/// `search.primaryEmail=<value>` with `mode.primaryEmail=<mode>`, case-insensitive (Logto's default), page 1 of 20.
fn email_search(value: &str, mode: SearchMode) -> UserSearch {
    UserSearch {
        fields: vec![FieldCondition { field: SearchField::PrimaryEmail, values: vec![value.to_owned()], mode }],
        ..list(Pagination::default())
    }
}

fn print_table_header() {
    println!("{:<55} {:>7} {:>10} {:>10} {:>10} {:>10}", "call", "samples", "p50", "p99", "max", "mean");
}

fn print_row(label: &str, mut durations: Vec<Duration>) {
    durations.sort_unstable();
    let count = durations.len();
    let mean = durations.iter().sum::<Duration>() / u32::try_from(count).unwrap_or(u32::MAX).max(1);
    println!(
        "{label:<55} {count:>7} {:>10} {:>10} {:>10} {:>10}",
        milliseconds(percentile(&durations, 50)),
        milliseconds(percentile(&durations, 99)),
        milliseconds(durations.last().copied().unwrap_or_default()),
        milliseconds(mean),
    );
}

/// The nearest-rank percentile of sorted `durations`.
fn percentile(durations: &[Duration], percent: usize) -> Duration {
    if durations.is_empty() {
        return Duration::ZERO;
    }
    let rank = (durations.len() * percent).div_ceil(100).max(1);
    durations[rank - 1]
}

fn milliseconds(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1_000.0)
}

/// User number `index` of `count`: the same user for the same `index` on every run, so that ids and emails can be
/// recomputed for look-ups instead of being read back. Every user has a name and an email (mixed case in some
/// domains), nine in ten a username, half a phone number, a password digest and a little custom data; creation
/// times grow with `index` over three years, with ids in random order.
fn generated_user(index: u64, count: u64) -> Result<User, Box<dyn std::error::Error>> {
    let (first, last) = names(index);
    let created_at = FIRST_CREATED_AT_MS + i64::try_from(index)? * (CREATION_SPAN_MS / i64::try_from(count)?.max(1));
    let mut user = User::new(user_id(index)?, Timestamp::from_millis(created_at));
    user.name = Some(format!("{first} {last}"));
    user.primary_email = Some(Email::parse(&email(index))?);
    if !index.is_multiple_of(10) {
        let username = format!("{}_{}{index}", ascii(first), ascii(last)).to_lowercase();
        user.username = Some(Username::parse(&username)?);
    }
    if index.is_multiple_of(2) {
        let half = index / 2;
        let area = AREA_CODES[(half % AREA_CODES.len() as u64) as usize];
        let local = 2_000_000 + half / AREA_CODES.len() as u64;
        user.primary_phone = Some(Phone::parse(&format!("1{area}{local:07}"))?);
    }
    user.password = Some(StoredPassword { algorithm: PasswordAlgorithm::Argon2id, digest: PASSWORD_DIGEST.to_owned() });
    let plan = ["free", "pro", "team"][(index % 3) as usize];
    user.custom_data = CustomData::new(serde_json::json!({ "plan": plan, "seat": index % 50 }))?;
    Ok(user)
}

/// 7 random characters then `index` in 5 base-36 digits: distinct for 60 million users, in random btree order.
fn user_id(index: u64) -> Result<UserId, Box<dyn std::error::Error>> {
    let mut id = base36(SplitMix(SEED ^ index).next(), 7);
    id.push_str(&base36(index, 5));
    Ok(UserId::parse(&id)?)
}

fn email(index: u64) -> String {
    let (first, last) = names(index);
    let domain = EMAIL_DOMAINS[(SplitMix(SEED ^ index ^ 0xd0).next() % EMAIL_DOMAINS.len() as u64) as usize];
    format!("{}.{}{index}@{domain}", ascii(first), ascii(last))
}

fn names(index: u64) -> (&'static str, &'static str) {
    let mut random = SplitMix(SEED ^ index ^ 0x9a);
    let first = FIRST_NAMES[(random.next() % FIRST_NAMES.len() as u64) as usize];
    let last = LAST_NAMES[(random.next() % LAST_NAMES.len() as u64) as usize];
    (first, last)
}

/// Letters for identifiers: `Müller` becomes `Muller`.
fn ascii(name: &str) -> String {
    name.chars().map(|character| if character == 'ü' { 'u' } else { character }).collect()
}

fn base36(mut value: u64, digits: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut text = vec![b'0'; digits];
    for slot in text.iter_mut().rev() {
        *slot = ALPHABET[(value % 36) as usize];
        value /= 36;
    }
    String::from_utf8(text).unwrap_or_default()
}

/// SplitMix64: small, fast and reproducible; no cryptographic property is needed here.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
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

async fn execute(connection: &DatabaseConnection, sql: &str) -> Result<(), sea_orm::DbErr> {
    connection.execute_unprepared(sql).await.map(|_| ())
}

async fn scalar(connection: &DatabaseConnection, sql: &str) -> Result<i64, Box<dyn std::error::Error>> {
    let row = connection
        .query_one_raw(Statement::from_string(connection.get_database_backend(), sql))
        .await?
        .ok_or("no row")?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

/// `url` pointing at database `name` instead of the one it names (as the store tests' support does).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{server}/{name}{query}")
}

// Benchmark scaffolding, not logic: the wall clock is what is measured, and names the scratch database.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

#[allow(clippy::disallowed_methods)]
fn seconds_since_epoch() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs()
}
