//! `/api/account-center`: Logto's account-center settings (whether the Account API answers, and per field whether
//! end users may see or change it), and the public `GET /api/.well-known/account-center` that Logto's prebuilt
//! account page reads without a token.
//!
//! A `PATCH` changes only the keys it names; `fields` replaces the whole object (an absent field is `Off`), as in
//! Logto. The change is re-applied on a fresh read when another writer saved in between.

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::Clock;
use latchkey_domain::account_center::{
    AccountCenterFields, AccountCenterRepository, AccountCenterSettings, ProfileField, deduplicate_origins,
    parse_delete_account_url,
};
use latchkey_domain::ports::{Conflict, RepoError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::TENANT_ID;
use crate::applications::{UPDATE_ATTEMPTS, present};
use crate::error::ApiError;
use crate::guard::ManagementCaller;
use crate::policy::{Authorized, ManagementAction};

/// What the account-center handlers need; register it once as `web::Data<AccountCenterDeps>`.
#[derive(Clone)]
pub struct AccountCenterDeps {
    pub repository: Arc<dyn AccountCenterRepository>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AccountCenterDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountCenterDeps").finish_non_exhaustive()
    }
}

pub(crate) fn routes(config: &mut ServiceConfig) {
    config
        .service(
            web::resource("/api/account-center")
                .app_data(crate::json_config())
                .route(web::get().to(get))
                .route(web::patch().to(update)),
        )
        .service(web::resource("/api/.well-known/account-center").route(web::get().to(get_public)));
}

type Deps = web::Data<AccountCenterDeps>;

/// `GET /api/account-center`.
#[utoipa::path(
    get,
    path = "/api/account-center",
    tag = "Account center",
    summary = "Get account center settings",
    description = "Whether the Account API is enabled, and per field whether end users may not see it (`Off`, \
        also when absent), see it (`ReadOnly`) or change it (`Edit`). Disabled with no fields until changed.",
    responses(
        (status = 200, description = "The account center settings.", body = AccountCenterBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn get(caller: ManagementCaller, deps: Deps) -> actix_web::Result<HttpResponse> {
    let _authorized = caller.authorize(ManagementAction::ManageAccountCenter)?;
    let settings = deps.repository.get().await.map_err(ApiError::from)?.settings;
    Ok(HttpResponse::Ok().json(AccountCenterBody::new(&settings)))
}

/// `GET /api/.well-known/account-center`: the same settings, without a token.
#[utoipa::path(
    get,
    path = "/api/.well-known/account-center",
    tag = "Account center",
    summary = "Get account center settings (public)",
    description = "The account center settings for the account page, without a token, as Logto serves them.",
    responses(
        (status = 200, description = "The account center settings.", body = AccountCenterBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(()),
)]
async fn get_public(deps: Deps) -> actix_web::Result<HttpResponse> {
    let settings = deps.repository.get().await.map_err(ApiError::from)?.settings;
    Ok(HttpResponse::Ok().json(AccountCenterBody::new(&settings)))
}

/// Logto's `PATCH /api/account-center` body: every key optional.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct UpdateAccountCenter {
    #[serde(default)]
    enabled: Option<bool>,
    /// Replaces the whole field map: a field left out is `Off`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    fields: Option<AccountCenterFields>,
    /// Stored without repeats.
    #[serde(default)]
    webauthn_related_origins: Option<Vec<String>>,
    /// An http(s) URL of at most 2048 characters; `""` (or `null`) clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    delete_account_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    custom_css: Option<Option<String>>,
    /// `[{"name": …}]`, in display order; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<Object>>)]
    profile_fields: Option<Option<Vec<ProfileField>>>,
}

/// A checked `PATCH` body, ready to apply to whatever settings are current.
#[derive(Debug)]
struct AccountCenterChange {
    enabled: Option<bool>,
    fields: Option<AccountCenterFields>,
    webauthn_related_origins: Option<Vec<String>>,
    delete_account_url: Option<Option<String>>,
    custom_css: Option<Option<String>>,
    profile_fields: Option<Option<Vec<ProfileField>>>,
}

impl UpdateAccountCenter {
    /// Logto's checks: the URL's scheme and length; origins deduplicated.
    fn check(self) -> Result<AccountCenterChange, ApiError> {
        let delete_account_url = match self.delete_account_url {
            Some(Some(url)) => {
                Some(parse_delete_account_url(&url).map_err(|error| ApiError::InvalidBody(error.to_string()))?)
            }
            Some(None) => Some(None),
            None => None,
        };
        Ok(AccountCenterChange {
            enabled: self.enabled,
            fields: self.fields,
            webauthn_related_origins: self.webauthn_related_origins.map(deduplicate_origins),
            delete_account_url,
            custom_css: self.custom_css,
            profile_fields: self.profile_fields,
        })
    }
}

impl AccountCenterChange {
    fn apply(&self, settings: &mut AccountCenterSettings) {
        if let Some(enabled) = self.enabled {
            settings.enabled = enabled;
        }
        if let Some(fields) = &self.fields {
            settings.fields = fields.clone();
        }
        if let Some(origins) = &self.webauthn_related_origins {
            settings.webauthn_related_origins.clone_from(origins);
        }
        if let Some(url) = &self.delete_account_url {
            settings.delete_account_url.clone_from(url);
        }
        if let Some(css) = &self.custom_css {
            settings.custom_css.clone_from(css);
        }
        if let Some(profile_fields) = &self.profile_fields {
            settings.profile_fields.clone_from(profile_fields);
        }
    }
}

/// `PATCH /api/account-center`.
#[utoipa::path(
    patch,
    path = "/api/account-center",
    tag = "Account center",
    summary = "Update account center settings",
    description = "Changes the keys given, as Logto does: `fields` replaces the whole field map (absent fields are \
        `Off`), `webauthnRelatedOrigins` is stored without repeats, `deleteAccountUrl` must be an http(s) URL of at \
        most 2048 characters (`\"\"` clears it).",
    request_body = UpdateAccountCenter,
    responses(
        (status = 200, description = "The updated settings.", body = AccountCenterBody),
        (status = 400, description = "`guard.invalid_input`: a malformed body or a value Logto's guard refuses.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`: no valid Management API token.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks the `all` scope.", body = ErrorBody),
        (status = 409, description = "`entity.concurrent_update`: other writers kept saving in between.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn update(
    caller: ManagementCaller,
    deps: Deps,
    body: Result<web::Json<UpdateAccountCenter>, actix_web::Error>,
) -> actix_web::Result<HttpResponse> {
    let authorized = caller.authorize(ManagementAction::ManageAccountCenter)?;
    let change = body?.into_inner().check()?;
    let settings = modify(&authorized, &deps, |settings| change.apply(settings)).await?;
    Ok(HttpResponse::Ok().json(AccountCenterBody::new(&settings)))
}

/// Reads the settings, applies `change` and saves them if nobody else saved in between; otherwise re-reads and
/// re-applies, a few times, then gives up with a conflict rather than overwrite.
async fn modify(
    _: &Authorized,
    deps: &AccountCenterDeps,
    change: impl Fn(&mut AccountCenterSettings),
) -> Result<AccountCenterSettings, ApiError> {
    for _ in 0..UPDATE_ATTEMPTS {
        let current = deps.repository.get().await?;
        let mut settings = current.settings;
        change(&mut settings);
        match deps.repository.save(&settings, current.version, deps.clock.now()).await {
            Ok(_) => return Ok(settings),
            Err(RepoError::Conflict(Conflict::Version)) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(RepoError::Conflict(Conflict::Version).into())
}

/// The settings in Logto's `account_centers` row shape.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AccountCenterBody<'a> {
    tenant_id: &'static str,
    id: &'static str,
    enabled: bool,
    /// `{"name": "Edit", "email": "ReadOnly", …}`: `Off`, `ReadOnly` or `Edit` per field; absent is `Off`.
    #[schema(value_type = Object)]
    fields: &'a AccountCenterFields,
    #[schema(value_type = Vec<String>)]
    webauthn_related_origins: &'a [String],
    delete_account_url: Option<&'a str>,
    custom_css: Option<&'a str>,
    #[schema(value_type = Option<Vec<Object>>)]
    profile_fields: Option<&'a [ProfileField]>,
}

impl<'a> AccountCenterBody<'a> {
    fn new(settings: &'a AccountCenterSettings) -> Self {
        Self {
            tenant_id: TENANT_ID,
            id: TENANT_ID,
            enabled: settings.enabled,
            fields: &settings.fields,
            webauthn_related_origins: &settings.webauthn_related_origins,
            delete_account_url: settings.delete_account_url.as_deref(),
            custom_css: settings.custom_css.as_deref(),
            profile_fields: settings.profile_fields.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use latchkey_domain::Timestamp;
    use latchkey_domain::account_center::{FieldAccess, MockAccountCenterRepository, VersionedSettings};
    use latchkey_domain::clock::FixedClock;
    use latchkey_domain::user::Version;
    use serde_json::{Value, json};

    use super::*;
    use crate::policy::{Caller, decide};

    fn authorized() -> Authorized {
        let caller = Caller { management_audience: true, scopes: vec!["all".to_owned()] };
        decide(&caller, ManagementAction::ManageAccountCenter).unwrap()
    }

    fn change(body: Value) -> Result<AccountCenterChange, ApiError> {
        serde_json::from_value::<UpdateAccountCenter>(body).unwrap().check()
    }

    fn applied(current: &AccountCenterSettings, body: Value) -> AccountCenterSettings {
        let mut settings = current.clone();
        change(body).unwrap().apply(&mut settings);
        settings
    }

    #[test]
    fn fields_are_replaced_whole_and_other_keys_kept() {
        let current = applied(
            &AccountCenterSettings::default(),
            json!({"enabled": true, "fields": {"name": "Edit", "email": "ReadOnly"}, "deleteAccountUrl": "https://x.example/d"}),
        );
        let next = applied(&current, json!({"fields": {"phone": "Edit"}}));
        assert!(next.enabled);
        assert_eq!(next.fields, AccountCenterFields { phone: Some(FieldAccess::Edit), ..Default::default() });
        assert_eq!(next.delete_account_url.as_deref(), Some("https://x.example/d"));
    }

    #[test]
    fn an_empty_or_null_delete_account_url_clears_it_and_a_bad_one_is_refused() {
        let current =
            AccountCenterSettings { delete_account_url: Some("https://x.example".into()), ..Default::default() };
        assert_eq!(applied(&current, json!({"deleteAccountUrl": ""})).delete_account_url, None);
        assert_eq!(applied(&current, json!({"deleteAccountUrl": null})).delete_account_url, None);
        assert_eq!(applied(&current, json!({})).delete_account_url.as_deref(), Some("https://x.example"));
        for bad in [json!("ftp://x.example"), json!(format!("https://x.example/{}", "a".repeat(2048)))] {
            let error = change(json!({"deleteAccountUrl": bad})).unwrap_err();
            assert_eq!(error.code(), "guard.invalid_input");
        }
    }

    #[test]
    fn related_origins_are_stored_without_repeats() {
        let next = applied(
            &AccountCenterSettings::default(),
            json!({"webauthnRelatedOrigins": ["https://a.example", "https://b.example", "https://a.example"]}),
        );
        assert_eq!(next.webauthn_related_origins, ["https://a.example", "https://b.example"]);
    }

    #[test]
    fn the_body_has_logtos_shape() {
        let body = serde_json::to_value(AccountCenterBody::new(&AccountCenterSettings::default())).unwrap();
        assert_eq!(
            body,
            json!({
                "tenantId": "default", "id": "default", "enabled": false, "fields": {}, "webauthnRelatedOrigins": [],
                "deleteAccountUrl": null, "customCss": null, "profileFields": null
            })
        );
    }

    #[actix_web::test]
    async fn a_change_that_lost_a_race_is_reapplied_on_the_other_writers_settings() {
        // Another writer enables the account center between the first read and write.
        let stored = Arc::new(Mutex::new(VersionedSettings {
            settings: AccountCenterSettings::default(),
            version: Version::INITIAL,
        }));
        let mut repository = MockAccountCenterRepository::new();
        let read = Arc::clone(&stored);
        repository.expect_get().returning(move || Ok(read.lock().unwrap().clone()));
        let mut raced = false;
        repository.expect_save().returning(move |settings, expected, _| {
            let mut current = stored.lock().unwrap();
            if !raced {
                raced = true;
                current.settings.enabled = true;
                current.version = current.version.next();
            }
            if expected != current.version {
                return Err(RepoError::Conflict(Conflict::Version));
            }
            current.settings = settings.clone();
            current.version = expected.next();
            Ok(current.version)
        });
        let deps = AccountCenterDeps {
            repository: Arc::new(repository),
            clock: Arc::new(FixedClock(Timestamp::from_secs(1_800_000_000))),
        };
        let change = change(json!({"fields": {"email": "Edit"}})).unwrap();

        let saved = modify(&authorized(), &deps, |settings| change.apply(settings)).await.unwrap();

        assert!(saved.enabled, "the other writer's change is kept");
        assert_eq!(saved.fields.email, Some(FieldAccess::Edit));
    }
}
