//! Logs: a `tracing` subscriber writing human-readable or JSON lines to stdout (stderr for commands that print a
//! result), and request logging for actix.
//!
//! Request logs carry the request id (`X-Request-Id`, see `request_id.rs`), the method, the path (without the query
//! string, which may hold search terms about people), the status and the duration. Never other headers (the
//! `Authorization` header is a bearer token) and never bodies (passwords, codes).

use std::io::IsTerminal;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderName;
use actix_web::middleware::Next;
use thiserror::Error;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::request_id::{REQUEST_ID_HEADER, RequestId};
use crate::settings::LogFormat;

/// Why logging could not be set up.
#[derive(Debug, Error)]
pub enum TelemetryError {
    #[error("invalid log filter `{filter}`: {reason}")]
    Filter { filter: String, reason: String },
    #[error("a global log subscriber is already installed")]
    AlreadyInstalled,
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    /// The server's stream.
    Stdout,
    /// For commands whose stdout is their result (`latchkey app create-m2m`), so that scripts can read it.
    Stderr,
}

/// Installs the global subscriber. Call once, early in `main`.
pub fn init(format: LogFormat, filter: &str, output: LogOutput) -> Result<(), TelemetryError> {
    let env_filter = EnvFilter::try_new(filter)
        .map_err(|error| TelemetryError::Filter { filter: filter.to_owned(), reason: error.to_string() })?;
    let (writer, is_terminal) = match output {
        LogOutput::Stdout => (BoxMakeWriter::new(std::io::stdout), std::io::stdout().is_terminal()),
        LogOutput::Stderr => (BoxMakeWriter::new(std::io::stderr), std::io::stderr().is_terminal()),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(env_filter).with_writer(writer);
    let installed = match format {
        LogFormat::Pretty => builder.with_ansi(is_terminal).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
    installed.map_err(|_| TelemetryError::AlreadyInstalled)
}

/// Actix middleware (use with `actix_web::middleware::from_fn`): one span per request, so that everything logged
/// while handling it carries the request id, method and path, and one line when the response is ready. The answer
/// gets the `X-Request-Id` header (the caller's own when sane, see [`RequestId::for_request`]).
#[expect(
    clippy::disallowed_methods,
    reason = "request duration is measured for the logs only; no decision depends on it"
)]
pub async fn log_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = RequestId::for_request(request.headers());
    let span = tracing::info_span!(
        "request",
        request_id = request_id.as_str(),
        method = %request.method(),
        path = %request.path()
    );
    let started = std::time::Instant::now();
    let mut result = next.call(request).instrument(span.clone()).await;
    // An error (rather than an error response) from the services inside has taken the request with it, so it
    // cannot become a response here; ours always answer with responses, which all get the header.
    if let Ok(response) = &mut result {
        response.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), request_id.header_value());
    }
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    // Microsecond precision is plenty, and keeps the log lines short.
    let elapsed_ms = (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), elapsed_ms, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), elapsed_ms, "request finished");
        }
    });
    result
}
