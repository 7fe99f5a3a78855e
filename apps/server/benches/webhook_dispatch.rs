//! Webhook dispatcher throughput: how many events a second one dispatcher delivers to a fast local receiver.
//!
//! The program stores `LATCHKEY_BENCH_EVENTS` user creations (default 10,000) through the store with one enabled
//! hook, so that each leaves one pending delivery in the outbox exactly as a real change does; only then does it
//! start the dispatcher (the server's `Dispatcher`, with its reqwest sender and the default batch of 32) against a
//! receiver on 127.0.0.1 that answers 200 at once, and times until the receiver has counted every delivery. It
//! checks that the outbox then holds no pending delivery and that no event arrived twice, and prints one Markdown
//! table row. The receiver runs in the same process and on the same cores as the dispatcher.
//!
//! Not a Criterion benchmark: the figure is the throughput of a long-running loop (`harness = false`).
//!
//! Environment:
//! - `LATCHKEY_BENCH_EVENTS`: events to deliver (default 10,000).
//! - `LATCHKEY_BENCH_DATABASE_URL`: a database to use instead of a SQLite file in a temporary directory (its
//!   migrations are run; its existing hooks are left alone but receive the events too).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use latchkey_domain::audit::{AuditContext, AuditEntry, keys};
use latchkey_domain::hook::delivery::{DeliveryFilter, DeliveryOutbox, RetryPolicy};
use latchkey_domain::hook::target::{AddressRange, TargetPolicy};
use latchkey_domain::hook::{Hook, HookConfig, HookEvent, HookRepository};
use latchkey_domain::ports::Pagination;
use latchkey_domain::service::{HookPorts, HookService};
use latchkey_domain::{Clock, IdGenerator, RandomIds, SystemClock, User, UserRepository};
use latchkey_server::hooks::dispatcher::{Dispatcher, DispatcherSettings};
use latchkey_server::hooks::sender::ReqwestWebhookSender;
use latchkey_store::Store;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const DEFAULT_EVENTS: usize = 10_000;
/// Stores changes this many at a time while seeding.
const SEED_CONCURRENCY: usize = 8;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and expects a quick exit.
    if !std::env::args().any(|argument| argument == "--bench") {
        return Ok(());
    }
    let events: usize =
        std::env::var("LATCHKEY_BENCH_EVENTS").ok().and_then(|value| value.parse().ok()).unwrap_or(DEFAULT_EVENTS);
    let directory = tempfile::tempdir()?;
    let url = std::env::var("LATCHKEY_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}?mode=rwc", directory.path().join("bench.db").display()));
    let store = Store::connect(&url).await?;
    store.migrate().await?;

    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let receiver_url = start_receiver(Arc::clone(&received))?;
    let hook = Hook {
        id: RandomIds.entity_id(),
        name: "bench".to_owned(),
        event: None,
        events: vec![HookEvent::USER_CREATED],
        config: HookConfig { url: receiver_url, headers: None, retries: None },
        signing_key: latchkey_domain::hook::generate_signing_key(),
        enabled: true,
        created_at: SystemClock.now(),
    };
    store.hooks().insert(&hook).await?;

    let seeding = now();
    seed(&store, events).await?;
    eprintln!("stored {events} changes in {:.1} s", seeding.elapsed().as_secs_f64());

    let policy = TargetPolicy { allowed_internal: vec![AddressRange::parse("127.0.0.0/8").expect("a range")] };
    let ports = HookPorts {
        hooks: Arc::new(store.hooks()),
        outbox: Arc::new(store.hook_outbox()),
        sender: Arc::new(ReqwestWebhookSender::new(policy, Duration::from_secs(10))?),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
    };
    let service = HookService::new(ports, RetryPolicy::default());
    let settings = DispatcherSettings {
        lease: Duration::from_secs(60),
        poll_interval: Duration::from_millis(10),
        retention: Duration::from_secs(7 * 24 * 3600),
    };
    let started = now();
    let dispatcher = Dispatcher::new(service, settings).spawn();
    while received.lock().expect("the receiver's list").len() < events {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    dispatcher.abort();

    let ids = received.lock().expect("the receiver's list").clone();
    let distinct: BTreeSet<&String> = ids.iter().collect();
    let filter =
        DeliveryFilter { hook_id: hook.id.clone(), since: latchkey_domain::Timestamp::from_millis(0), event: None };
    let pending = store.hook_outbox().list(&filter, Pagination::new(1, 1).expect("a page")).await?.total;
    println!("| Events | Seconds | Events/s | Received | Distinct delivery ids | Outbox rows of the hook |");
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {events} | {:.2} | {:.0} | {} | {} | {pending} |",
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64(),
        ids.len(),
        distinct.len()
    );
    if distinct.len() != ids.len() {
        return Err("an event arrived twice".into());
    }
    Ok(())
}

/// Creates `events` users through the repository, so each change writes its audit entry and its delivery.
async fn seed(store: &Store, events: usize) -> Result<(), BoxError> {
    let users = Arc::new(store.users());
    let mut remaining = events;
    while remaining > 0 {
        let batch = remaining.min(SEED_CONCURRENCY);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let users = Arc::clone(&users);
            tasks.spawn(async move {
                let now = SystemClock.now();
                let user = User::new(RandomIds.user_id(), now);
                let entry = AuditEntry::about(
                    RandomIds.entity_id(),
                    keys::USER_CREATED,
                    &user.id,
                    &AuditContext::system(),
                    serde_json::Map::new(),
                    now,
                );
                users.insert(&user, &entry).await
            });
        }
        while let Some(result) = tasks.join_next().await {
            result??;
        }
        remaining -= batch;
    }
    Ok(())
}

/// A receiver on 127.0.0.1 that records each delivery id and answers 200 at once.
fn start_receiver(received: Arc<Mutex<Vec<String>>>) -> Result<String, BoxError> {
    let shared = web::Data::new(received);
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || App::new().app_data(shared.clone()).route("/hook", web::post().to(record)))
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
    tokio::spawn(server);
    Ok(format!("http://127.0.0.1:{port}/hook"))
}

async fn record(request: HttpRequest, received: web::Data<Arc<Mutex<Vec<String>>>>) -> HttpResponse {
    let id = request.headers().get("latchkey-delivery-id").and_then(|value| value.to_str().ok()).unwrap_or_default();
    received.lock().expect("the receiver's list").push(id.to_owned());
    HttpResponse::Ok().finish()
}

/// Wall-clock time is what this program measures.
#[allow(clippy::disallowed_methods)]
fn now() -> std::time::Instant {
    std::time::Instant::now()
}
