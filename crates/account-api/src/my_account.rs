//! `GET /api/my-account`: the caller's own account, as much of it as the token's scopes and the account-center
//! settings let them see (Logto's `routes/account/index.ts` with `utils/get-scoped-profile.ts`).

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use latchkey_auth::Principal;
use latchkey_auth::error_body::ErrorBody;
use latchkey_domain::User;
use latchkey_domain::account_center::{AccountCenterRepository, AccountCenterSettings, AccountField};
use latchkey_domain::ports::UserRepository;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::policy::{AccountCaller, authorize_caller};

/// The ports the Account API handlers read; the server registers each as `web::Data<Arc<dyn …>>`.
pub type Users = web::Data<Arc<dyn UserRepository>>;
pub type AccountCenter = web::Data<Arc<dyn AccountCenterRepository>>;

#[utoipa::path(
    get,
    path = "/api/my-account",
    tag = "Account",
    summary = "Get the caller's account",
    description = "The fields the token's scopes reach and the account center does not have `Off`. The `ETag` \
        header (the account's version) is a Latchkey addition for optimistic concurrency.",
    responses(
        (status = 200, description = "The account.", body = crate::openapi::AccountView,
            headers(("ETag" = String, description = "The account's version; send it as `If-Match` on changes."))),
        (status = 400, description = "`account_center.not_enabled`.", body = ErrorBody),
        (status = 401, description = "`auth.unauthorized`.", body = ErrorBody),
        (status = 403, description = "`auth.forbidden`: the token lacks `openid`.", body = ErrorBody),
        (status = 503, description = "`service_unavailable`.", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn get_my_account(
    principal: Principal,
    users: Users,
    account_center: AccountCenter,
) -> Result<HttpResponse, ApiError> {
    let caller = authorize_caller(&principal.claims)?;
    let settings = account_center.get().await?.settings;
    if !settings.enabled {
        return Err(crate::policy::Denial::AccountCenterDisabled.into());
    }
    // The verifier has just seen the user alive; a user deleted since answers like a dead token.
    let user = users.find_by_id(caller.user_id()).await?.ok_or(ApiError::UserGone)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, format!("\"{}\"", user.version.0)))
        .json(account_view(&user, &caller, &settings)))
}

/// The account as the caller may see it: the fields their scopes reach (`profile` → name, avatar, username,
/// profile, timestamps, suspension, `hasPassword`; `address` → `profile.address`; `email`, `phone`,
/// `custom_data`, `identities` → the field of that name), minus the fields the account center has `Off`.
pub fn account_view(user: &User, caller: &AccountCaller, settings: &AccountCenterSettings) -> Map<String, Value> {
    let readable = |field: AccountField| settings.access(field).can_read();
    let profile_scope = caller.has_scope("profile");
    let mut view = Map::new();
    view.insert("id".to_owned(), json!(user.id.as_str()));
    if profile_scope && readable(AccountField::Username) {
        view.insert("username".to_owned(), json!(user.username.as_ref().map(|username| username.as_str())));
    }
    if caller.has_scope("email") && readable(AccountField::Email) {
        view.insert("primaryEmail".to_owned(), json!(user.primary_email.as_ref().map(|email| email.as_str())));
    }
    if caller.has_scope("phone") && readable(AccountField::Phone) {
        view.insert("primaryPhone".to_owned(), json!(user.primary_phone.as_ref().map(|phone| phone.as_str())));
    }
    if profile_scope && readable(AccountField::Name) {
        view.insert("name".to_owned(), json!(user.name));
    }
    if profile_scope && readable(AccountField::Avatar) {
        view.insert("avatar".to_owned(), json!(user.avatar));
    }
    if caller.has_scope("custom_data") && readable(AccountField::CustomData) {
        view.insert("customData".to_owned(), json!(user.custom_data));
    }
    if caller.has_scope("identities") && readable(AccountField::Social) {
        view.insert("identities".to_owned(), json!(user.identities));
    }
    if profile_scope {
        view.insert("lastSignInAt".to_owned(), json!(user.last_sign_in_at.map(|at| at.as_millis())));
        view.insert("createdAt".to_owned(), json!(user.created_at.as_millis()));
        view.insert("updatedAt".to_owned(), json!(user.updated_at.as_millis()));
    }
    if profile_scope && readable(AccountField::Profile) {
        let mut profile = user.profile.clone();
        if !caller.has_scope("address") {
            profile.address = None;
        }
        view.insert("profile".to_owned(), json!(profile));
    }
    if profile_scope {
        view.insert("applicationId".to_owned(), json!(user.application_id));
        view.insert("isSuspended".to_owned(), json!(user.is_suspended));
    }
    if profile_scope && readable(AccountField::Password) {
        view.insert("hasPassword".to_owned(), json!(user.has_password()));
    }
    // Tells an account page whether sensitive changes will ask for a verification record.
    let has_verification_method = user.has_password() || user.primary_email.is_some() || user.primary_phone.is_some();
    view.insert("hasSecurityVerificationMethod".to_owned(), json!(has_verification_method));
    view
}

#[cfg(test)]
mod tests {
    use latchkey_domain::account_center::{AccountCenterFields, FieldAccess};
    use latchkey_domain::identifiers::Email;
    use latchkey_domain::token::{AccessClaims, Audience, Subject};
    use latchkey_domain::user::{Address, CustomData};
    use latchkey_domain::{Timestamp, UserId};

    use super::*;

    fn user() -> User {
        let mut user = User::new(UserId::parse("abcdefghijkl").unwrap(), Timestamp::from_secs(10));
        user.name = Some("Bob".to_owned());
        user.primary_email = Some(Email::parse("bob@example.com").unwrap());
        user.custom_data = CustomData::new(json!({"plan": "free"})).unwrap();
        user.profile.nickname = Some("bobcat".to_owned());
        user.profile.address = Some(Address { locality: Some("Taipei".to_owned()), ..Default::default() });
        user
    }

    fn caller(scopes: &[&str]) -> AccountCaller {
        let subject = Subject::User(UserId::parse("abcdefghijkl").unwrap());
        let (issued, expires) = (Timestamp::from_secs(0), Timestamp::from_secs(60));
        let claims = AccessClaims::new(subject, "app", Audience::Account, "jti", issued, expires)
            .with_scopes(["openid"].iter().chain(scopes).copied());
        authorize_caller(&claims).unwrap()
    }

    fn all_read_only() -> AccountCenterSettings {
        let read = Some(FieldAccess::ReadOnly);
        let fields = AccountCenterFields {
            name: read,
            avatar: read,
            profile: read,
            email: read,
            phone: read,
            password: read,
            username: read,
            social: read,
            custom_data: read,
            ..Default::default()
        };
        AccountCenterSettings { enabled: true, fields, ..Default::default() }
    }

    fn keys(view: &Map<String, Value>) -> Vec<&str> {
        view.keys().map(String::as_str).collect()
    }

    #[test]
    fn openid_alone_shows_the_id_only() {
        let view = account_view(&user(), &caller(&[]), &all_read_only());
        assert_eq!(keys(&view), ["hasSecurityVerificationMethod", "id"]);
        assert_eq!(view["hasSecurityVerificationMethod"], true);
    }

    #[test]
    fn each_scope_reveals_its_fields() {
        let view = account_view(&user(), &caller(&["profile", "email", "custom_data"]), &all_read_only());
        assert_eq!(view["primaryEmail"], "bob@example.com");
        assert_eq!(view["customData"], json!({"plan": "free"}));
        assert_eq!(view["name"], "Bob");
        assert_eq!(view["createdAt"], 10_000);
        assert_eq!(view["hasPassword"], false);
        assert!(!view.contains_key("primaryPhone") && !view.contains_key("identities"));
        assert_eq!(view["profile"]["nickname"], "bobcat");
        assert!(view["profile"].get("address").is_none(), "address needs the address scope");

        let with_address = account_view(&user(), &caller(&["profile", "address"]), &all_read_only());
        assert_eq!(with_address["profile"]["address"]["locality"], "Taipei");
    }

    #[test]
    fn fields_the_account_center_has_off_are_left_out_even_with_the_scope() {
        let mut settings = all_read_only();
        settings.fields.email = Some(FieldAccess::Off);
        settings.fields.name = None;
        settings.fields.password = None;
        let view = account_view(&user(), &caller(&["profile", "email"]), &settings);
        assert!(!view.contains_key("primaryEmail") && !view.contains_key("name"));
        assert!(!view.contains_key("hasPassword"));
        assert_eq!(view["avatar"], Value::Null);
    }
}
