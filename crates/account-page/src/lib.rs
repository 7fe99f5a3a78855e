//! # latchkey-account-page
//!
//! The self-service account page at `/account`: plain HTML, CSS and JavaScript modules from `assets/`, embedded
//! in the binary at compile time (so `cargo run` is the whole set-up), served with a strict Content Security
//! Policy and the other security headers, and `/account/config.json`, what the page needs to know from the
//! server's composition (its client id, the social connectors).
//!
//! **Architecture invariant:** this crate depends on no internal crate. The page is a client of the public
//! sign-in API and Account API only, exactly as any other front end would be; it has no back door.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, CacheControl, CacheDirective, ETag, EntityTag, Header, IfNoneMatch};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;
use serde::Serialize;

/// The fixed id of the built-in first-party SPA application the page signs users in through. Fixed, so that the
/// server can make it exist at start and every instance agrees on it.
pub const ACCOUNT_PAGE_APP_ID: &str = "account-page";

/// What the page needs to know from the server's composition, served as `/account/config.json`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountPageConfig {
    /// The application the page signs in through (normally [`ACCOUNT_PAGE_APP_ID`]).
    pub client_id: String,
    /// The configured social connectors, to offer linking identities.
    pub social_connectors: Vec<SocialConnectorLink>,
}

/// A social connector as the page offers it: the `connectorId` of `POST /api/verifications/social`, and the
/// identity target it links under.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SocialConnectorLink {
    pub id: String,
    pub target: String,
}

/// The page's policy: scripts, styles and fonts only from this server (no inline code, so an injected string
/// cannot run), data only from this server's APIs, images also from `data:` (QR codes) and https (avatars), never
/// framed (clickjacking), forms and `<base>` pinned.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: https:; connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Every header each answer of this crate carries, the one place they are listed. The page handles credentials:
/// it must not be framed, sniffed into another type, leak its URL to other sites or share a browsing context
/// group with them. Passkeys are allowed for this origin only; camera, microphone and location not at all.
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    (
        "Permissions-Policy",
        "camera=(), microphone=(), geolocation=(), publickey-credentials-create=(self), \
         publickey-credentials-get=(self)",
    ),
];

/// Registers `/account` (the page), `/account/config.json` and `/account/{file}` (the embedded assets). Every
/// answer under `/account`, a 404 included, carries [`SECURITY_HEADERS`].
pub fn configure(cfg: &mut web::ServiceConfig, config: AccountPageConfig) {
    let config_json = ConfigJson(serde_json::to_string(&config).expect("the page's configuration serializes"));
    let headers = SECURITY_HEADERS.into_iter().fold(DefaultHeaders::new(), |headers, pair| headers.add(pair));
    cfg.service(
        web::scope("/account")
            .wrap(headers)
            .app_data(web::Data::new(config_json))
            // One resource per path, each answering GET and HEAD; other methods get 405 from the resource.
            .service(web::resource("").route(web::get().to(index)).route(web::head().to(index)))
            .service(web::resource("/").route(web::get().to(index)).route(web::head().to(index)))
            .service(web::resource("/config.json").route(web::get().to(config_file)).route(web::head().to(config_file)))
            .service(web::resource("/{path:.*}").route(web::get().to(asset)).route(web::head().to(asset))),
    );
}

/// The files under `assets/`, compiled in (`debug-embed`: debug builds too, so tests serve what ships).
#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// The serialized configuration, made once at start.
struct ConfigJson(String);

async fn index(request: HttpRequest) -> HttpResponse {
    serve(&request, "index.html")
}

async fn config_file(config: web::Data<ConfigJson>) -> HttpResponse {
    // Not cached: it follows the server's settings, which a restart may change.
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .content_type("application/json")
        .body(config.0.clone())
}

async fn asset(request: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let path = path.into_inner();
    // Embedded files are looked up by name, not on disk, but a path climbing out of the folder is never a file of
    // ours whatever the lookup does; refuse it outright.
    if path.contains("..") || path.contains('\\') {
        return not_found();
    }
    serve(&request, &path)
}

/// Answers `path` from the embedded files: 200 with its `ETag`, 304 when the client's copy is current, 404 when
/// there is no such file. `no-cache`: browsers revalidate every time, so a new release is picked up at once, and a
/// revalidation costs a 304 without a body.
fn serve(request: &HttpRequest, path: &str) -> HttpResponse {
    let Some(file) = Assets::get(path) else {
        return not_found();
    };
    let etag = EntityTag::new_strong(hex(&file.metadata.sha256_hash()));
    let cache_control = CacheControl(vec![CacheDirective::NoCache]);
    if client_has(request, &etag) {
        return HttpResponse::NotModified().insert_header(ETag(etag)).insert_header(cache_control).finish();
    }
    HttpResponse::Ok()
        .insert_header(ETag(etag))
        .insert_header(cache_control)
        .insert_header((header::CONTENT_TYPE, content_type(file.metadata.mimetype())))
        .body(file.data.into_owned())
}

/// Whether the request's `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for this header).
fn client_has(request: &HttpRequest, etag: &EntityTag) -> bool {
    match IfNoneMatch::parse(request) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(etag)),
        Err(_) => false,
    }
}

/// The guessed type, with the charset browsers should not have to sniff for HTML, and JavaScript under its
/// current registered name whatever the guessing table's age.
fn content_type(guessed: &str) -> String {
    match guessed {
        "text/html" => "text/html; charset=utf-8".to_owned(),
        "application/javascript" | "application/x-javascript" => "text/javascript".to_owned(),
        other => other.to_owned(),
    }
}

/// The server's 404 in Logto's `{code, message}` shape, as for any unknown route.
fn not_found() -> HttpResponse {
    HttpResponse::build(StatusCode::NOT_FOUND).json(serde_json::json!({
        "code": "request.not_found",
        "message": "The requested route does not exist.",
    }))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
