//! Latchkey without its server: an ordinary Rust program uses `latchkey-domain` and `latchkey-store` to keep
//! accounts in a SQLite file. It creates a user with a password, signs the user in, enrols TOTP and verifies a code.
//!
//! Run it with `cargo run -p latchkey-example-embedded` (pass a database URL to use your own database).

use std::sync::Arc;

use anyhow::{Context, bail};
use latchkey_domain::RandomIds;
use latchkey_domain::audit::{Actor, AuditContext, AuditFilter, AuditLogRepository};
use latchkey_domain::clock::{Clock, FixedClock, SystemClock};
use latchkey_domain::identifiers::{Email, Username};
use latchkey_domain::mfa::{self, MfaFactorType};
use latchkey_domain::password::PlainPassword;
use latchkey_domain::password::hasher::BlockingPoolHasher;
use latchkey_domain::ports::Pagination;
use latchkey_domain::secret_box::{self, AesGcmSecretBox};
use latchkey_domain::service::{AccountError, AccountService, NewPassword, NewUser, Ports};
use latchkey_store::Store;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A throwaway database unless one is given; a real program keeps its file (and its secret-box key!).
    let scratch = tempfile::tempdir()?;
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => format!("sqlite://{}", scratch.path().join("accounts.db").display()),
    };
    let store = Store::connect(&url).await?;
    store.migrate().await?;

    // The at-rest key seals TOTP secrets and backup codes. Generate it once and keep it with your secrets.
    let secrets = AesGcmSecretBox::single("example", secret_box::generate_key())?;
    let ports = Ports {
        users: Arc::new(store.users()),
        hasher: Arc::new(BlockingPoolHasher::new(2)),
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        secrets: Arc::new(secrets),
    };
    let accounts = AccountService::new(ports.clone());
    // Every change is logged with who made it; here, the program itself.
    let context = AuditContext::new(Actor::Operator { name: "embedded-example".into() });

    let password = PlainPassword::new("correct horse battery staple");
    let user = accounts
        .create_user(
            NewUser {
                username: Some(Username::parse("ada")?),
                primary_email: Some(Email::parse("Ada@Example.com")?),
                name: Some("Ada Lovelace".into()),
                password: Some(NewPassword::Plain(password.clone())),
                ..NewUser::default()
            },
            &context,
        )
        .await?;
    println!("created user {} ({})", user.id, user.username.as_ref().map(|name| name.as_str()).unwrap_or("-"));

    // Emails are matched without regard to case.
    let signed_in = accounts.check_password("ada@example.com", &password, &context).await?;
    println!("password accepted for {}", signed_in.id);
    match accounts.check_password("ada", &PlainPassword::new("wrong"), &context).await {
        Err(AccountError::InvalidCredentials) => println!("wrong password refused"),
        other => bail!("a wrong password must be refused, got {other:?}"),
    }

    // TOTP: the app receives the secret (as a QR code of the otpauth URI), then proves it with a code.
    let enrolment = accounts.start_totp_enrolment(&user.id, "Embedded example").await?;
    println!("scan {}", enrolment.otpauth_uri.split("secret=").next().unwrap_or_default());
    let now = SystemClock.now();
    let code = mfa::totp::code_at(&enrolment.secret, now)?;
    accounts.bind_totp(&user.id, &enrolment.secret, &code, &[MfaFactorType::Totp], &context).await?;
    println!("TOTP enrolled");

    // The enrolment code is spent. Thirty seconds later the app shows a new code; a clock set to then verifies it.
    let later = now.plus_secs(30);
    let accounts_later = AccountService::new(Ports { clock: Arc::new(FixedClock(later)), ..ports.clone() });
    match accounts_later.verify_totp(&user.id, &code, &context).await {
        Err(AccountError::Mfa(_)) => println!("a spent code is refused"),
        other => bail!("a replayed code must be refused, got {other:?}"),
    }
    let next_code = mfa::totp::code_at(&enrolment.secret, later)?;
    accounts_later.verify_totp(&user.id, &next_code, &context).await.context("the next code verifies")?;
    println!("TOTP code verified");

    let stored = ports.users.find_by_id(&user.id).await?.context("the user is stored")?;
    println!("user has {} MFA factor(s), stored sealed", stored.mfa_factors.len());

    let filter = AuditFilter { user_id: Some(user.id.to_string()), ..AuditFilter::default() };
    let log = store.audit_log().list(&filter, Pagination::default()).await?;
    println!("audit log: {}", log.items.iter().map(|entry| entry.key.as_str()).collect::<Vec<_>>().join(", "));
    Ok(())
}
