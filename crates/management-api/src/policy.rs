//! The Management API's permission model. A caller is described by plain data (the audience its token was minted
//! for and its scopes); the decision returns an [`Authorized`] capability or a typed [`Denial`].

/// The Management API's resource scope, as in Logto (`all`): the one the token endpoint grants.
pub use latchkey_auth::oidc::MANAGEMENT_API_SCOPE as MANAGEMENT_SCOPE;

/// What the caller's token says about it, as far as this API cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Whether the token was minted for the Management API resource (`<endpoint>/api`).
    pub management_audience: bool,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagementAction {
    ReadUsers,
    WriteUsers,
    ManageAccountCenter,
    /// Reading and changing the sign-in experience (password, username and MFA policies).
    ManageSignInExperience,
    ReadApplications,
    /// Creating, changing and deleting applications, their secrets and their roles.
    WriteApplications,
    /// Listing roles and users' roles.
    ReadRoles,
    /// Creating, changing and deleting roles, and giving users roles or taking them away.
    WriteRoles,
    /// Listing hooks, their execution stats and recent deliveries.
    ReadHooks,
    /// Creating, changing, testing and deleting hooks, rotating their signing keys and re-sending deliveries.
    WriteHooks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// A token for another audience (e.g. an end user's Account API token). Logto answers 401.
    #[error("the token is not valid for the Management API")]
    WrongAudience,
    /// The right audience but not the scope the action needs. Logto answers 403.
    #[error("the token lacks the scope this action needs")]
    MissingScope,
}

/// Proof that [`decide`] allowed `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authorized {
    action: ManagementAction,
}

impl Authorized {
    pub fn action(&self) -> ManagementAction {
        self.action
    }
}

/// Every Management action needs a Management API token with scope `all` (finer scopes come with the API issue).
pub fn decide(caller: &Caller, action: ManagementAction) -> Result<Authorized, Denial> {
    if !caller.management_audience {
        return Err(Denial::WrongAudience);
    }
    if !caller.scopes.iter().any(|scope| scope == MANAGEMENT_SCOPE) {
        return Err(Denial::MissingScope);
    }
    Ok(Authorized { action })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_ACTIONS: [ManagementAction; 10] = [
        ManagementAction::ReadUsers,
        ManagementAction::WriteUsers,
        ManagementAction::ManageAccountCenter,
        ManagementAction::ManageSignInExperience,
        ManagementAction::ReadApplications,
        ManagementAction::WriteApplications,
        ManagementAction::ReadRoles,
        ManagementAction::WriteRoles,
        ManagementAction::ReadHooks,
        ManagementAction::WriteHooks,
    ];

    fn caller(management_audience: bool, scopes: &[&str]) -> Caller {
        Caller { management_audience, scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect() }
    }

    #[test]
    fn every_action_needs_the_management_audience_and_scope_all() {
        for action in ALL_ACTIONS {
            assert_eq!(decide(&caller(true, &["all"]), action).map(|a| a.action()), Ok(action));
            assert_eq!(decide(&caller(false, &["all"]), action), Err(Denial::WrongAudience));
            assert_eq!(decide(&caller(true, &[]), action), Err(Denial::MissingScope));
            assert_eq!(decide(&caller(true, &["profile", "email"]), action), Err(Denial::MissingScope));
        }
    }
}
