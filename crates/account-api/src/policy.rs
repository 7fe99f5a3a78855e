//! The Account API's permission model, in two pure decisions: may this token use the Account API at all
//! ([`authorize_caller`]), and may this request act on this field, given the account-center settings ([`decide`])?
//!
//! Decisions return a capability on success so that a privileged call can demand proof that the check ran. Denials
//! carry the Logto error they are answered with.

use latchkey_domain::UserId;
use latchkey_domain::account_center::{AccountCenterSettings, AccountField};
use latchkey_domain::token::{AccessClaims, Audience, OPENID_SCOPE};

/// The scope of the session and grant routes (Logto's `UserScope.Sessions`).
pub const SESSIONS_SCOPE: &str = "urn:logto:scope:sessions";

/// Why a token may not use the Account API at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallerDenial {
    /// An application's token, or a token minted for another resource (a Management API token): Logto answers 401.
    #[error("the token is not an end user's Account API token")]
    NotAnAccountToken,
    /// A user token without the `openid` scope: Logto answers 403.
    #[error("the token lacks the openid scope")]
    MissingOpenidScope,
}

/// Proof that [`authorize_caller`] accepted the token: the user it speaks for, its scopes, its client and the
/// session it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCaller {
    user_id: UserId,
    scopes: Vec<String>,
    client_id: String,
    session_id: Option<String>,
}

impl AccountCaller {
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The session the token belongs to; every sign-in and token exchange starts one, so only a token minted
    /// outside them has none (and can then make no verification record).
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|granted| granted == scope)
    }
}

/// An Account API caller is an end user holding a token minted for the Account API with the `openid` scope.
pub fn authorize_caller(claims: &AccessClaims) -> Result<AccountCaller, CallerDenial> {
    let Some(user_id) = claims.user_id() else { return Err(CallerDenial::NotAnAccountToken) };
    if claims.audience != Audience::Account {
        return Err(CallerDenial::NotAnAccountToken);
    }
    if !claims.has_scope(OPENID_SCOPE) {
        return Err(CallerDenial::MissingOpenidScope);
    }
    Ok(AccountCaller {
        user_id: user_id.clone(),
        scopes: claims.scopes.clone(),
        client_id: claims.client_id.clone(),
        session_id: claims.session_id.clone(),
    })
}

/// What a request wants to do with a field of the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountAction {
    Read(AccountField),
    Edit(AccountField),
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("the account center is not enabled")]
    AccountCenterDisabled,
    #[error("the field is not enabled in the account center")]
    FieldNotEnabled(AccountField),
    #[error("the field is not editable in the account center")]
    FieldNotEditable(AccountField),
    /// The token lacks the scope the route needs; Logto's status differs by route ([`ScopeAnswer`]).
    #[error("the token lacks the `{scope}` scope")]
    MissingScope { scope: &'static str, answer: ScopeAnswer },
    /// 403 `auth.third_party_application_forbidden`: only first-party apps may change an account.
    #[error("third-party applications cannot change accounts")]
    ThirdPartyApplication,
    /// 401 `verification_record.permission_denied`: the change needs a fresh proof of identity.
    #[error("Permission denied, please re-authenticate.")]
    VerificationRequired,
}

/// How Logto answers a missing scope on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeAnswer {
    /// 400 `auth.unauthorized`: most routes.
    BadRequest,
    /// 401 `auth.unauthorized`: the `identities` and sessions routes.
    Unauthorized,
    /// 403 `auth.forbidden`: a provider's access token.
    Forbidden,
}

/// The Account API's routes, as far as their permission differs (logto-reference §1–§2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountRoute {
    /// `PATCH /api/my-account` changing these fields (`username` needs a verification record).
    UpdateAccount { name: bool, avatar: bool, username: bool, custom_data: bool },
    /// `PATCH /api/my-account/profile`, `address` when the patch has an address.
    UpdateProfile { address: bool },
    /// `POST /api/my-account/password`.
    SetPassword,
    /// `POST` or `DELETE /api/my-account/primary-email`.
    ChangePrimaryEmail,
    /// `POST` or `DELETE /api/my-account/primary-phone`.
    ChangePrimaryPhone,
    /// `POST /api/verifications/password` and `…/verification-code[/verify]`.
    MakeVerificationRecord,
    /// `GET /api/my-account/mfa-settings` and `GET …/mfa-verifications`: `mfa` readable.
    ReadMfa,
    /// `PATCH /api/my-account/mfa-settings`, `POST …/mfa-verifications`, `PUT …/mfa-verifications/totp` and
    /// `DELETE …/mfa-verifications/:id`: `mfa` editable, with a verification record.
    ChangeMfa,
    /// `POST /api/my-account/mfa-verifications` of a `WebAuthn` factor and `PATCH …/mfa-verifications/:id/name`:
    /// `passkey` (falling back to `mfa`) editable, with a verification record.
    ChangePasskey,
    /// `GET /api/my-account/logto-configs`: `passkey` (falling back to `mfa`) readable.
    ReadLogtoConfigs,
    /// `PATCH /api/my-account/logto-configs`: `passkey` (falling back to `mfa`) editable, with a verification record.
    ChangeLogtoConfigs,
    /// `POST /api/my-account/mfa-verifications/totp-secret/generate` and `…/backup-codes/generate`: nothing is
    /// stored, so only the account center must be on.
    GenerateMfaSecret,
    /// `GET /api/my-account/mfa-verifications/backup-codes`: no field gate (as Logto), a verification record, and
    /// (stricter than Logto, which checks no client on reads) a first-party client, since it reveals credentials.
    RevealBackupCodes,
    /// `DELETE /api/my-account` (extension): a verification record and a first-party client.
    DeleteAccount,
    /// `GET /api/my-account/export` (extension): everything about the user in one answer, so as guarded as a
    /// change: a verification record and a first-party client.
    ExportAccount,
    /// `GET /api/my-account/sessions` and `…/grants`: the `urn:logto:scope:sessions` scope (401), `session`
    /// readable, a verification record (checked first, as Logto does).
    ReadSessions,
    /// `DELETE /api/my-account/sessions/:id` and `…/grants/:id`: as [`AccountRoute::ReadSessions`] with `session`
    /// editable.
    RevokeSessions,
    /// `GET /api/my-account/logs` (extension): the account's activity shows where and with what it was used, so it
    /// is guarded as the sessions are.
    ReadActivity,
    /// `POST /api/verifications/social` and `…/social/verify`: only the account center must be on (Logto checks no
    /// client here; linking does).
    MakeSocialVerificationRecord,
    /// `POST /api/my-account/identities`: `identities` (401), `social` editable, first party, a verification record
    /// when the user has something to verify with (checked first, as Logto does).
    LinkIdentity,
    /// `DELETE /api/my-account/identities/:target`: as [`AccountRoute::LinkIdentity`], the scope answered 400.
    UnlinkIdentity,
    /// `GET /api/my-account/identities/:target/access-token`: `identities` (403, as Logto), no field gate, any
    /// client, no record.
    ReadIdentityAccessToken,
}

impl AccountRoute {
    /// Logto checks the verification record before the field and the scope on the session routes.
    fn checks_record_first(self) -> bool {
        matches!(
            self,
            Self::ReadSessions | Self::RevokeSessions | Self::ReadActivity | Self::LinkIdentity | Self::UnlinkIdentity
        )
    }
}

/// What the decision is taken on, besides the caller: plain data the handler gathers first.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    pub settings: &'a AccountCenterSettings,
    /// The token's application is first-party (an unknown application is not).
    pub first_party: bool,
    /// The request named a verification record that proves the caller's identity.
    pub identity_verified: bool,
    /// The user has a password, a primary email or a primary phone: something to verify with.
    pub has_security_method: bool,
}

/// Whether a route needs a verification record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verification {
    Never,
    Always,
    /// Logto's VR*: only when the user has something to verify with (a social-only user sets a first password).
    IfSecurityMethod,
}

/// The one decision over a request to an Account API route, in Logto's order: the account center is on, the token
/// has the route's scopes, every field read is readable and every field touched editable, the client is first-party
/// where the route needs it, and a verification record proves the caller's identity where the route needs one. (On
/// the session routes Logto checks the record first, then the field, then the scope; so does this.)
pub fn decide_route(
    caller: &AccountCaller,
    route: AccountRoute,
    facts: RequestFacts<'_>,
) -> Result<RouteAuthorized, Denial> {
    if !facts.settings.enabled {
        return Err(Denial::AccountCenterDisabled);
    }
    // (scopes, how a missing one is answered, fields read, fields edited, first-party only, verification)
    type Rule = (Vec<(&'static str, bool)>, ScopeAnswer, Vec<AccountField>, Vec<AccountField>, bool, Verification);
    let identities = || vec![("identities", true)];
    let sessions = || vec![(SESSIONS_SCOPE, true)];
    let (scopes, scope_answer, reads, fields, first_party_only, verification): Rule = match route {
        AccountRoute::UpdateAccount { name, avatar, username, custom_data } => {
            let fields = [
                (name, AccountField::Name),
                (avatar, AccountField::Avatar),
                (username, AccountField::Username),
                (custom_data, AccountField::CustomData),
            ];
            let fields = fields.into_iter().filter_map(|(touched, field)| touched.then_some(field)).collect();
            let verification = if username { Verification::Always } else { Verification::Never };
            (
                vec![("profile", true), ("custom_data", custom_data)],
                ScopeAnswer::BadRequest,
                vec![],
                fields,
                true,
                verification,
            )
        }
        AccountRoute::UpdateProfile { address } => (
            vec![("profile", true), ("address", address)],
            ScopeAnswer::BadRequest,
            vec![],
            vec![AccountField::Profile],
            true,
            Verification::Never,
        ),
        AccountRoute::SetPassword => (
            vec![],
            ScopeAnswer::BadRequest,
            vec![],
            vec![AccountField::Password],
            true,
            Verification::IfSecurityMethod,
        ),
        AccountRoute::ChangePrimaryEmail => (
            vec![("email", true)],
            ScopeAnswer::BadRequest,
            vec![],
            vec![AccountField::Email],
            true,
            Verification::Always,
        ),
        AccountRoute::ChangePrimaryPhone => (
            vec![("phone", true)],
            ScopeAnswer::BadRequest,
            vec![],
            vec![AccountField::Phone],
            true,
            Verification::Always,
        ),
        AccountRoute::MakeVerificationRecord => {
            (vec![], ScopeAnswer::BadRequest, vec![], vec![], true, Verification::Never)
        }
        AccountRoute::ReadMfa => {
            (identities(), ScopeAnswer::Unauthorized, vec![AccountField::Mfa], vec![], false, Verification::Never)
        }
        AccountRoute::ChangeMfa => {
            (identities(), ScopeAnswer::Unauthorized, vec![], vec![AccountField::Mfa], true, Verification::Always)
        }
        AccountRoute::ReadLogtoConfigs => {
            (identities(), ScopeAnswer::Unauthorized, vec![AccountField::Passkey], vec![], false, Verification::Never)
        }
        AccountRoute::ChangeLogtoConfigs | AccountRoute::ChangePasskey => {
            (identities(), ScopeAnswer::Unauthorized, vec![], vec![AccountField::Passkey], true, Verification::Always)
        }
        AccountRoute::GenerateMfaSecret => {
            (vec![], ScopeAnswer::BadRequest, vec![], vec![], false, Verification::Never)
        }
        AccountRoute::RevealBackupCodes => {
            (identities(), ScopeAnswer::Unauthorized, vec![], vec![], true, Verification::Always)
        }
        AccountRoute::DeleteAccount | AccountRoute::ExportAccount => {
            (vec![], ScopeAnswer::BadRequest, vec![], vec![], true, Verification::Always)
        }
        AccountRoute::ReadSessions | AccountRoute::ReadActivity => {
            (sessions(), ScopeAnswer::Unauthorized, vec![AccountField::Session], vec![], false, Verification::Always)
        }
        // A change, so first party only (Logto guards every Account API write); reads stay open to third parties.
        AccountRoute::RevokeSessions => {
            (sessions(), ScopeAnswer::Unauthorized, vec![], vec![AccountField::Session], true, Verification::Always)
        }
        AccountRoute::MakeSocialVerificationRecord => {
            (vec![], ScopeAnswer::BadRequest, vec![], vec![], false, Verification::Never)
        }
        AccountRoute::ReadIdentityAccessToken => {
            (identities(), ScopeAnswer::Forbidden, vec![], vec![], false, Verification::Never)
        }
        AccountRoute::LinkIdentity => (
            identities(),
            ScopeAnswer::Unauthorized,
            vec![],
            vec![AccountField::Social],
            true,
            Verification::IfSecurityMethod,
        ),
        AccountRoute::UnlinkIdentity => (
            identities(),
            ScopeAnswer::BadRequest,
            vec![],
            vec![AccountField::Social],
            true,
            Verification::IfSecurityMethod,
        ),
    };
    let needs_record = match verification {
        Verification::Never => false,
        Verification::Always => true,
        Verification::IfSecurityMethod => facts.has_security_method,
    };
    let record_first = route.checks_record_first();
    if needs_record && !facts.identity_verified && record_first {
        return Err(Denial::VerificationRequired);
    }
    let scopes_granted = || match scopes.iter().find(|(scope, needed)| *needed && !caller.has_scope(scope)) {
        Some((scope, _)) => Err(Denial::MissingScope { scope, answer: scope_answer }),
        None => Ok(()),
    };
    let fields_allowed = || {
        let actions = reads.iter().map(|field| AccountAction::Read(*field));
        actions
            .chain(fields.iter().map(|field| AccountAction::Edit(*field)))
            .try_for_each(|action| decide(facts.settings, action).map(|_| ()))
    };
    if record_first {
        fields_allowed()?;
        scopes_granted()?;
    } else {
        scopes_granted()?;
        fields_allowed()?;
    }
    if first_party_only && !facts.first_party {
        return Err(Denial::ThirdPartyApplication);
    }
    if needs_record && !facts.identity_verified {
        return Err(Denial::VerificationRequired);
    }
    Ok(RouteAuthorized { route })
}

/// Proof that [`decide_route`] allowed a request to `route`. It cannot be built outside this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteAuthorized {
    route: AccountRoute,
}

impl RouteAuthorized {
    pub fn route(&self) -> AccountRoute {
        self.route
    }
}

/// Proof that [`decide`] allowed `action`. It cannot be built outside this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authorized {
    action: AccountAction,
}

impl Authorized {
    pub fn action(&self) -> AccountAction {
        self.action
    }
}

/// Decides whether `action` is allowed by the account-center settings.
pub fn decide(settings: &AccountCenterSettings, action: AccountAction) -> Result<Authorized, Denial> {
    if !settings.enabled {
        return Err(Denial::AccountCenterDisabled);
    }
    match action {
        AccountAction::Read(field) if !settings.access(field).can_read() => Err(Denial::FieldNotEnabled(field)),
        AccountAction::Edit(field) if !settings.access(field).can_edit() => Err(Denial::FieldNotEditable(field)),
        _ => Ok(Authorized { action }),
    }
}

#[cfg(test)]
mod tests {
    use latchkey_domain::Timestamp;
    use latchkey_domain::account_center::{AccountCenterFields, FieldAccess};
    use latchkey_domain::token::Subject;

    use super::*;

    fn claims(subject: Subject, audience: Audience, scopes: &[&str]) -> AccessClaims {
        let (issued, expires) = (Timestamp::from_secs(0), Timestamp::from_secs(60));
        AccessClaims::new(subject, "app", audience, "jti", issued, expires).with_scopes(scopes.iter().copied())
    }

    #[test]
    fn only_end_user_account_tokens_with_openid_may_call() {
        let user = Subject::User(UserId::parse("abcdefghijkl").unwrap());
        let app = Subject::Application("m2m".to_owned());
        let management = Audience::Resource("http://127.0.0.1:3001/api".to_owned());
        // (subject, audience, scopes, expected)
        let table = [
            (user.clone(), Audience::Account, &["openid", "profile"][..], Ok(())),
            (user.clone(), Audience::Account, &["profile"][..], Err(CallerDenial::MissingOpenidScope)),
            (user.clone(), management.clone(), &["openid", "all"][..], Err(CallerDenial::NotAnAccountToken)),
            (app.clone(), Audience::Account, &["openid"][..], Err(CallerDenial::NotAnAccountToken)),
            (app, management, &["all"][..], Err(CallerDenial::NotAnAccountToken)),
        ];
        for (subject, audience, scopes, expected) in table {
            let decision = authorize_caller(&claims(subject.clone(), audience.clone(), scopes));
            assert_eq!(
                decision.as_ref().map(|_| ()),
                expected.as_ref().map(|_| ()),
                "{subject:?} {audience:?} {scopes:?}"
            );
            if let Ok(caller) = decision {
                assert_eq!(caller.user_id().as_str(), "abcdefghijkl");
                assert!(caller.has_scope("profile") && !caller.has_scope("email"));
            }
        }
    }

    fn settings(enabled: bool, email: Option<FieldAccess>) -> AccountCenterSettings {
        AccountCenterSettings {
            enabled,
            fields: AccountCenterFields { email, ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn every_action_and_access_level_is_decided_as_logto_does() {
        use AccountAction::{Edit, Read};
        use FieldAccess::{Edit as E, Off, ReadOnly};
        let email = AccountField::Email;
        // (account center enabled, the field's access, action, expected decision)
        type Row = (bool, Option<FieldAccess>, AccountAction, Result<(), Denial>);
        let table: [Row; 10] = [
            (false, Some(E), Read(email), Err(Denial::AccountCenterDisabled)),
            (false, Some(E), Edit(email), Err(Denial::AccountCenterDisabled)),
            (true, None, Read(email), Err(Denial::FieldNotEnabled(email))),
            (true, None, Edit(email), Err(Denial::FieldNotEditable(email))),
            (true, Some(Off), Read(email), Err(Denial::FieldNotEnabled(email))),
            (true, Some(Off), Edit(email), Err(Denial::FieldNotEditable(email))),
            (true, Some(ReadOnly), Read(email), Ok(())),
            (true, Some(ReadOnly), Edit(email), Err(Denial::FieldNotEditable(email))),
            (true, Some(E), Read(email), Ok(())),
            (true, Some(E), Edit(email), Ok(())),
        ];
        for (enabled, access, action, expected) in table {
            let decision = decide(&settings(enabled, access), action).map(|authorized| {
                assert_eq!(authorized.action(), action);
            });
            assert_eq!(decision, expected, "enabled={enabled} access={access:?} action={action:?}");
        }
    }

    fn caller(scopes: &[&str]) -> AccountCaller {
        let user = Subject::User(UserId::parse("abcdefghijkl").unwrap());
        let scopes: Vec<&str> = ["openid"].iter().chain(scopes).copied().collect();
        authorize_caller(&claims(user, Audience::Account, &scopes)).unwrap()
    }

    fn all_editable() -> AccountCenterSettings {
        let edit = Some(FieldAccess::Edit);
        let fields = AccountCenterFields {
            name: edit,
            avatar: edit,
            profile: edit,
            email: edit,
            phone: edit,
            password: edit,
            username: edit,
            custom_data: edit,
            ..Default::default()
        };
        AccountCenterSettings { enabled: true, fields, ..Default::default() }
    }

    #[test]
    fn every_route_is_decided_on_scope_field_client_and_verification_in_logtos_order() {
        use AccountRoute::*;
        let full = caller(&["profile", "email", "phone", "custom_data", "address"]);
        let bare = caller(&[]);
        let profile_only = caller(&["profile"]);
        let email_only = caller(&["email"]);
        let editable = all_editable();
        let mut email_read_only = all_editable();
        email_read_only.fields.email = Some(FieldAccess::ReadOnly);
        let mut disabled = all_editable();
        disabled.enabled = false;
        let facts = |settings, first_party, identity_verified, has_security_method| RequestFacts {
            settings,
            first_party,
            identity_verified,
            has_security_method,
        };
        let name_only = UpdateAccount { name: true, avatar: false, username: false, custom_data: false };
        let username = UpdateAccount { name: false, avatar: false, username: true, custom_data: false };
        let custom_data = UpdateAccount { name: false, avatar: false, username: false, custom_data: true };
        let scope = |scope| Err(Denial::MissingScope { scope, answer: ScopeAnswer::BadRequest });
        // (caller, route, facts, expected)
        let table: Vec<(&AccountCaller, AccountRoute, RequestFacts<'_>, Result<(), Denial>)> = vec![
            (&full, name_only, facts(&disabled, true, true, true), Err(Denial::AccountCenterDisabled)),
            (&full, name_only, facts(&editable, true, false, true), Ok(())),
            (&bare, name_only, facts(&editable, true, false, true), scope("profile")),
            (&full, name_only, facts(&editable, false, true, true), Err(Denial::ThirdPartyApplication)),
            (&full, username, facts(&editable, true, false, true), Err(Denial::VerificationRequired)),
            (&full, username, facts(&editable, true, true, true), Ok(())),
            (&profile_only, custom_data, facts(&editable, true, false, true), scope("custom_data")),
            (&full, custom_data, facts(&editable, true, false, true), Ok(())),
            (&full, UpdateProfile { address: false }, facts(&editable, true, false, true), Ok(())),
            (&profile_only, UpdateProfile { address: true }, facts(&editable, true, false, true), scope("address")),
            (&bare, SetPassword, facts(&editable, true, false, false), Ok(())),
            (&bare, SetPassword, facts(&editable, true, false, true), Err(Denial::VerificationRequired)),
            (&bare, SetPassword, facts(&editable, true, true, true), Ok(())),
            (&bare, SetPassword, facts(&editable, false, true, true), Err(Denial::ThirdPartyApplication)),
            (&full, ChangePrimaryEmail, facts(&editable, true, true, true), Ok(())),
            (&full, ChangePrimaryEmail, facts(&editable, true, false, true), Err(Denial::VerificationRequired)),
            (&bare, ChangePrimaryEmail, facts(&editable, true, true, true), scope("email")),
            (
                &full,
                ChangePrimaryEmail,
                facts(&email_read_only, true, true, true),
                Err(Denial::FieldNotEditable(AccountField::Email)),
            ),
            (&full, ChangePrimaryPhone, facts(&editable, true, true, true), Ok(())),
            (&email_only, ChangePrimaryPhone, facts(&editable, true, true, true), scope("phone")),
            (&bare, MakeVerificationRecord, facts(&editable, true, false, true), Ok(())),
            (&bare, MakeVerificationRecord, facts(&editable, false, false, true), Err(Denial::ThirdPartyApplication)),
            (&bare, MakeVerificationRecord, facts(&disabled, true, false, true), Err(Denial::AccountCenterDisabled)),
            (&bare, DeleteAccount, facts(&editable, true, false, true), Err(Denial::VerificationRequired)),
            (&bare, DeleteAccount, facts(&editable, true, true, true), Ok(())),
            (&bare, DeleteAccount, facts(&editable, false, true, true), Err(Denial::ThirdPartyApplication)),
            (&bare, ExportAccount, facts(&editable, true, false, true), Err(Denial::VerificationRequired)),
            (&bare, ExportAccount, facts(&editable, true, true, true), Ok(())),
            (&bare, ExportAccount, facts(&disabled, true, true, true), Err(Denial::AccountCenterDisabled)),
        ];
        for (caller, route, facts, expected) in table {
            let decision = decide_route(caller, route, facts).map(|authorized| assert_eq!(authorized.route(), route));
            assert_eq!(decision, expected, "{route:?} {:?}", (facts.first_party, facts.identity_verified));
        }
    }

    fn mfa_settings(mfa: Option<FieldAccess>, passkey: Option<FieldAccess>) -> AccountCenterSettings {
        let fields = AccountCenterFields { mfa, passkey, ..Default::default() };
        AccountCenterSettings { enabled: true, fields, ..Default::default() }
    }

    #[test]
    fn every_mfa_route_is_decided_on_scope_gate_client_and_verification() {
        use AccountRoute::*;
        use FieldAccess::{Edit as E, Off, ReadOnly as R};
        let identities = caller(&["identities"]);
        let bare = caller(&["profile"]);
        let unauthorized = Err(Denial::MissingScope { scope: "identities", answer: ScopeAnswer::Unauthorized });
        let not_enabled = |field| Err(Denial::FieldNotEnabled(field));
        let not_editable = |field| Err(Denial::FieldNotEditable(field));
        let (mfa, passkey) = (AccountField::Mfa, AccountField::Passkey);
        // (caller, route, account center enabled, mfa, passkey, first party, record, expected)
        type Row<'a> = (
            &'a AccountCaller,
            AccountRoute,
            bool,
            Option<FieldAccess>,
            Option<FieldAccess>,
            bool,
            bool,
            Result<(), Denial>,
        );
        let table: Vec<Row<'_>> = vec![
            // Reads: `identities` (401), the gate readable, any client, no record.
            (&identities, ReadMfa, false, Some(E), None, true, false, Err(Denial::AccountCenterDisabled)),
            (&bare, ReadMfa, true, Some(E), None, true, false, unauthorized),
            (&identities, ReadMfa, true, None, None, true, false, not_enabled(mfa)),
            (&identities, ReadMfa, true, Some(Off), None, true, false, not_enabled(mfa)),
            (&identities, ReadMfa, true, Some(R), None, false, false, Ok(())),
            (&identities, ReadMfa, true, Some(E), None, true, false, Ok(())),
            (&bare, ReadLogtoConfigs, true, Some(E), None, true, false, unauthorized),
            (&identities, ReadLogtoConfigs, true, Some(Off), None, true, false, not_enabled(passkey)),
            (&identities, ReadLogtoConfigs, true, Some(R), None, true, false, Ok(())),
            (&identities, ReadLogtoConfigs, true, Some(Off), Some(R), true, false, Ok(())),
            (&identities, ReadLogtoConfigs, true, Some(E), Some(Off), true, false, not_enabled(passkey)),
            // Changes: `identities` (401), the gate editable, first party, a record.
            (&identities, ChangeMfa, false, Some(E), None, true, true, Err(Denial::AccountCenterDisabled)),
            (&bare, ChangeMfa, true, Some(E), None, true, true, unauthorized),
            (&identities, ChangeMfa, true, None, None, true, true, not_editable(mfa)),
            (&identities, ChangeMfa, true, Some(Off), None, true, true, not_editable(mfa)),
            (&identities, ChangeMfa, true, Some(R), None, true, true, not_editable(mfa)),
            (&identities, ChangeMfa, true, Some(E), None, false, true, Err(Denial::ThirdPartyApplication)),
            (&identities, ChangeMfa, true, Some(E), None, true, false, Err(Denial::VerificationRequired)),
            (&identities, ChangeMfa, true, Some(E), None, true, true, Ok(())),
            (&bare, ChangeLogtoConfigs, true, Some(E), None, true, true, unauthorized),
            (&identities, ChangeLogtoConfigs, true, Some(R), None, true, true, not_editable(passkey)),
            (&identities, ChangeLogtoConfigs, true, Some(E), Some(R), true, true, not_editable(passkey)),
            (&identities, ChangeLogtoConfigs, true, Some(Off), Some(E), true, true, Ok(())),
            (&identities, ChangeLogtoConfigs, true, Some(E), None, false, true, Err(Denial::ThirdPartyApplication)),
            (&identities, ChangeLogtoConfigs, true, Some(E), None, true, false, Err(Denial::VerificationRequired)),
            (&identities, ChangeLogtoConfigs, true, Some(E), None, true, true, Ok(())),
            // Passkeys: gated by `passkey`, which falls back to `mfa`.
            (&bare, ChangePasskey, true, Some(E), None, true, true, unauthorized),
            (&identities, ChangePasskey, true, Some(R), None, true, true, not_editable(passkey)),
            (&identities, ChangePasskey, true, Some(E), Some(R), true, true, not_editable(passkey)),
            (&identities, ChangePasskey, true, Some(Off), Some(E), true, true, Ok(())),
            (&identities, ChangePasskey, true, Some(E), None, false, true, Err(Denial::ThirdPartyApplication)),
            (&identities, ChangePasskey, true, Some(E), None, true, false, Err(Denial::VerificationRequired)),
            (&identities, ChangePasskey, false, Some(E), None, true, true, Err(Denial::AccountCenterDisabled)),
            (&identities, ChangePasskey, true, Some(E), None, true, true, Ok(())),
            // Generating stores nothing: only the account center must be on.
            (&bare, GenerateMfaSecret, false, None, None, true, false, Err(Denial::AccountCenterDisabled)),
            (&bare, GenerateMfaSecret, true, None, None, false, false, Ok(())),
            (&identities, GenerateMfaSecret, true, Some(Off), None, true, true, Ok(())),
            // Revealing backup codes: `identities` (401) and a record, no field gate (as Logto).
            (&identities, RevealBackupCodes, false, Some(E), None, true, true, Err(Denial::AccountCenterDisabled)),
            (&bare, RevealBackupCodes, true, Some(E), None, true, true, unauthorized),
            (&identities, RevealBackupCodes, true, Some(E), None, true, false, Err(Denial::VerificationRequired)),
            (&identities, RevealBackupCodes, true, Some(E), None, false, true, Err(Denial::ThirdPartyApplication)),
            (&identities, RevealBackupCodes, true, Some(Off), None, true, true, Ok(())),
            (&identities, RevealBackupCodes, true, Some(E), None, true, true, Ok(())),
        ];
        for (caller, route, enabled, mfa, passkey, first_party, identity_verified, expected) in table {
            let mut settings = mfa_settings(mfa, passkey);
            settings.enabled = enabled;
            let facts = RequestFacts { settings: &settings, first_party, identity_verified, has_security_method: true };
            let decision = decide_route(caller, route, facts).map(|authorized| assert_eq!(authorized.route(), route));
            assert_eq!(
                decision, expected,
                "{route:?} mfa={mfa:?} passkey={passkey:?} {first_party} {identity_verified}"
            );
        }
    }

    #[test]
    fn every_session_route_checks_the_record_first_then_the_field_then_the_scope() {
        use AccountRoute::*;
        use FieldAccess::{Edit as E, Off, ReadOnly as R};
        let sessions = caller(&[SESSIONS_SCOPE]);
        let bare = caller(&["profile"]);
        let unauthorized = Err(Denial::MissingScope { scope: SESSIONS_SCOPE, answer: ScopeAnswer::Unauthorized });
        let session = AccountField::Session;
        // (caller, route, account center enabled, session field, first party, record, expected)
        type Row<'a> = (&'a AccountCaller, AccountRoute, bool, Option<FieldAccess>, bool, bool, Result<(), Denial>);
        let mut table: Vec<Row<'_>> = Vec::new();
        for read in [ReadSessions, ReadActivity] {
            table.extend([
                (&sessions, read, false, Some(E), true, true, Err(Denial::AccountCenterDisabled)),
                (&bare, read, true, None, true, false, Err(Denial::VerificationRequired)),
                (&bare, read, true, None, true, true, Err(Denial::FieldNotEnabled(session))),
                (&bare, read, true, Some(R), true, true, unauthorized),
                (&sessions, read, true, Some(Off), true, true, Err(Denial::FieldNotEnabled(session))),
                (&sessions, read, true, Some(R), true, true, Ok(())),
                (&sessions, read, true, Some(E), false, true, Ok(())),
            ]);
        }
        table.extend([
            (&bare, RevokeSessions, true, Some(R), true, false, Err(Denial::VerificationRequired)),
            (&bare, RevokeSessions, true, Some(R), true, true, Err(Denial::FieldNotEditable(session))),
            (&bare, RevokeSessions, true, Some(E), true, true, unauthorized),
            (&sessions, RevokeSessions, true, Some(E), true, true, Ok(())),
            (&sessions, RevokeSessions, true, Some(E), false, true, Err(Denial::ThirdPartyApplication)),
            (&sessions, RevokeSessions, false, Some(E), true, true, Err(Denial::AccountCenterDisabled)),
        ]);
        for (caller, route, enabled, access, first_party, identity_verified, expected) in table {
            let fields = AccountCenterFields { session: access, ..Default::default() };
            let settings = AccountCenterSettings { enabled, fields, ..Default::default() };
            let facts = RequestFacts { settings: &settings, first_party, identity_verified, has_security_method: true };
            let decision = decide_route(caller, route, facts).map(|authorized| assert_eq!(authorized.route(), route));
            assert_eq!(decision, expected, "{route:?} session={access:?} {first_party} {identity_verified}");
        }
    }

    #[test]
    fn every_identity_route_checks_the_record_first_then_the_field_then_the_scope_then_the_client() {
        use AccountRoute::*;
        use FieldAccess::{Edit as E, ReadOnly as R};
        let identities = caller(&["identities"]);
        let bare = caller(&["profile"]);
        let social = AccountField::Social;
        let scope_401 = Err(Denial::MissingScope { scope: "identities", answer: ScopeAnswer::Unauthorized });
        let scope_400 = Err(Denial::MissingScope { scope: "identities", answer: ScopeAnswer::BadRequest });
        let scope_403 = Err(Denial::MissingScope { scope: "identities", answer: ScopeAnswer::Forbidden });
        // (caller, route, social field, first party, record, has a security method, expected)
        type Row<'a> = (&'a AccountCaller, AccountRoute, Option<FieldAccess>, bool, bool, bool, Result<(), Denial>);
        let table: Vec<Row<'_>> = vec![
            (&identities, LinkIdentity, Some(E), true, true, true, Ok(())),
            (&identities, LinkIdentity, Some(E), true, false, true, Err(Denial::VerificationRequired)),
            (&identities, LinkIdentity, Some(E), true, false, false, Ok(())),
            (&bare, LinkIdentity, Some(R), true, false, true, Err(Denial::VerificationRequired)),
            (&bare, LinkIdentity, Some(R), true, true, true, Err(Denial::FieldNotEditable(social))),
            (&bare, LinkIdentity, Some(E), true, true, true, scope_401),
            (&identities, LinkIdentity, Some(E), false, true, true, Err(Denial::ThirdPartyApplication)),
            (&identities, UnlinkIdentity, Some(E), true, true, true, Ok(())),
            (&identities, UnlinkIdentity, None, true, true, true, Err(Denial::FieldNotEditable(social))),
            (&bare, UnlinkIdentity, Some(E), true, true, true, scope_400),
            (&identities, UnlinkIdentity, Some(E), true, false, true, Err(Denial::VerificationRequired)),
            (&identities, UnlinkIdentity, Some(E), false, true, true, Err(Denial::ThirdPartyApplication)),
            (&bare, MakeSocialVerificationRecord, None, false, false, true, Ok(())),
            (&identities, ReadIdentityAccessToken, None, false, false, true, Ok(())),
            (&bare, ReadIdentityAccessToken, None, false, false, true, scope_403),
        ];
        for (caller, route, access, first_party, identity_verified, has_security_method, expected) in table {
            let fields = AccountCenterFields { social: access, ..Default::default() };
            let settings = AccountCenterSettings { enabled: true, fields, ..Default::default() };
            let facts = RequestFacts { settings: &settings, first_party, identity_verified, has_security_method };
            let decision = decide_route(caller, route, facts).map(|authorized| assert_eq!(authorized.route(), route));
            assert_eq!(decision, expected, "{route:?} social={access:?} {first_party} {identity_verified}");
            let disabled = AccountCenterSettings { enabled: false, ..settings.clone() };
            let facts = RequestFacts { settings: &disabled, ..facts };
            assert_eq!(decide_route(caller, route, facts), Err(Denial::AccountCenterDisabled), "{route:?}");
        }
    }
}
