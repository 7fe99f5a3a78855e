//! The Account API's permission model, in two pure decisions: may this token use the Account API at all
//! ([`authorize_caller`]), and may this request act on this field, given the account-center settings ([`decide`])?
//!
//! Decisions return a capability on success so that a privileged call can demand proof that the check ran. Denials
//! carry the Logto error they are answered with.

use latchkey_domain::UserId;
use latchkey_domain::account_center::{AccountCenterSettings, AccountField};
use latchkey_domain::token::{AccessClaims, Audience, OPENID_SCOPE};

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

/// Proof that [`authorize_caller`] accepted the token: the user it speaks for and its scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCaller {
    user_id: UserId,
    scopes: Vec<String>,
}

impl AccountCaller {
    pub fn user_id(&self) -> &UserId {
        &self.user_id
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
    Ok(AccountCaller { user_id: user_id.clone(), scopes: claims.scopes.clone() })
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
}
