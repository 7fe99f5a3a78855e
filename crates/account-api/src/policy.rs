//! The Account API's permission model: may this request act on this field, given the account-center settings?
//!
//! Decisions return an [`Authorized`] capability on success so that a privileged call can demand proof that the
//! check ran. Denials carry the Logto error they are answered with.

use latchkey_domain::account_center::{AccountCenterSettings, AccountField};

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
    use latchkey_domain::account_center::{AccountCenterFields, FieldAccess};

    use super::*;

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
