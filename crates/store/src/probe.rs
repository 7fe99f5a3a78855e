//! Whether the PostgreSQL server can be reached, checked on a connection of its own outside the pool.
//!
//! The pool cannot answer that question quickly: it retries a refused connection until its acquire timeout (10 s),
//! and under load its connections are all busy. A probe with its own connection answers in bounded time whatever
//! the pool is doing, so a server can refuse requests at once during an outage instead of letting each one wait
//! out the pool.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reachability {
    /// The server answered: `SELECT 1` ran, or the server itself refused the probe's connection (too many clients,
    /// a wrong password), in which case the pool's statements get an error at once too rather than waiting.
    Reachable,
    /// No connection could be made (refused, reset, TLS failed), the server said it is shutting down or starting
    /// up, or it gave no answer in time. The text is for logs.
    Unreachable(String),
}

/// Where a probe connects: the pool's server and credentials, under an application name of its own.
#[derive(Clone)]
pub(crate) struct ProbeTarget(PgConnectOptions);

impl ProbeTarget {
    pub(crate) fn parse(url: &str) -> Result<Self, sqlx::Error> {
        Ok(Self(PgConnectOptions::from_str(url)?.application_name("latchkey-probe")))
    }
}

impl fmt::Debug for ProbeTarget {
    // The options hold the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbeTarget")
            .field("host", &self.0.get_host())
            .field("port", &self.0.get_port())
            .field("database", &self.0.get_database())
            .finish()
    }
}

/// A reachability check for one PostgreSQL database. Keeps its connection between checks; one check at a time.
#[derive(Debug)]
pub struct DatabaseProbe {
    target: ProbeTarget,
    connection: Option<PgConnection>,
}

impl DatabaseProbe {
    /// A probe that connects at its first check.
    pub(crate) fn new(target: &ProbeTarget) -> Self {
        Self { target: target.clone(), connection: None }
    }

    /// Checks the database, within `timeout`. A kept connection that fails is replaced by a fresh one before the
    /// database is called unreachable: a connection gone stale between checks (an idle timeout, a restarted proxy)
    /// says nothing about the server.
    pub async fn check(&mut self, timeout: Duration) -> Reachability {
        match tokio::time::timeout(timeout, self.select_one()).await {
            Ok(Ok(())) => Reachability::Reachable,
            Ok(Err(error)) => reachability_after(&error),
            Err(_) => {
                // Cut off mid-exchange, the connection's protocol state is unknown.
                self.connection = None;
                Reachability::Unreachable(format!("no answer within {} ms", timeout.as_millis()))
            }
        }
    }

    async fn select_one(&mut self) -> Result<(), sqlx::Error> {
        if let Some(connection) = self.connection.as_mut() {
            if connection.ping().await.is_ok() {
                return Ok(());
            }
            self.connection = None;
        }
        let mut connection = PgConnection::connect_with(&self.target.0).await?;
        connection.ping().await?;
        self.connection = Some(connection);
        Ok(())
    }
}

/// A failed check's verdict: an error the server sent means it is there, unless its SQLSTATE is a connection
/// exception (class 08) or says the server is shutting down, crashed or not yet accepting connections (57P01–57P03).
fn reachability_after(error: &sqlx::Error) -> Reachability {
    let answered = match error {
        sqlx::Error::Database(database_error) => {
            database_error.code().is_some_and(|code| !server_is_going_or_coming(&code))
        }
        _ => false,
    };
    if answered { Reachability::Reachable } else { Reachability::Unreachable(error.to_string()) }
}

fn server_is_going_or_coming(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || matches!(sqlstate, "57P01" | "57P02" | "57P03")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_exceptions_and_shutdown_or_startup_mean_unreachable_other_server_errors_do_not() {
        for sqlstate in ["08006", "08001", "57P01", "57P02", "57P03"] {
            assert!(server_is_going_or_coming(sqlstate), "{sqlstate}");
        }
        // too_many_connections, invalid_password, invalid_catalog_name, query_canceled: the server answered.
        for sqlstate in ["53300", "28P01", "3D000", "57014"] {
            assert!(!server_is_going_or_coming(sqlstate), "{sqlstate}");
        }
    }

    #[test]
    fn an_io_error_means_unreachable() {
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(reachability_after(&refused), Reachability::Unreachable(_)));
        assert!(matches!(reachability_after(&sqlx::Error::PoolTimedOut), Reachability::Unreachable(_)));
    }

    fn probe_of(url: &str) -> DatabaseProbe {
        DatabaseProbe::new(&ProbeTarget::parse(url).unwrap())
    }

    #[tokio::test]
    async fn a_refused_connection_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut probe = probe_of(&format!("postgres://postgres@127.0.0.1:{port}/latchkey"));
        let reachability = probe.check(Duration::from_secs(5)).await;
        assert!(matches!(reachability, Reachability::Unreachable(_)), "{reachability:?}");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_unreachable_after_the_timeout() {
        // Accepts the connection, then says nothing: the startup exchange never completes.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let silent = tokio::spawn(async move {
            let (_socket, _) = listener.accept().await.unwrap();
            std::future::pending::<()>().await;
        });
        let mut probe = probe_of(&format!("postgres://postgres@127.0.0.1:{port}/latchkey?sslmode=disable"));
        let reachability = probe.check(Duration::from_millis(300)).await;
        assert_eq!(reachability, Reachability::Unreachable("no answer within 300 ms".to_owned()));
        silent.abort();
    }

    #[test]
    fn the_debug_form_never_shows_the_password() {
        let target = ProbeTarget::parse("postgres://latchkey:hunter2-secret@db.internal:5433/latchkey").unwrap();
        let shown = format!("{:?}", DatabaseProbe::new(&target));
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("db.internal") && shown.contains("5433"), "{shown}");
    }
}
