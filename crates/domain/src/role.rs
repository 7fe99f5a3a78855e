//! Roles, as Logto's: a named role of type `User` (given to users) or `MachineToMachine` (given to applications),
//! possibly a default role, and the port that stores roles and which user holds which.
//!
//! Besides the stored roles there is one built-in role, [`MANAGEMENT_API_ROLE`] (wire id
//! [`MANAGEMENT_API_ROLE_ID`]), which applications hold by name; [`Role::management_api`] presents it as a role. It
//! is never stored in the roles table, cannot be changed or deleted, and cannot be given to users.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::application::{MANAGEMENT_API_ROLE, MANAGEMENT_API_ROLE_ID};
use crate::audit::AuditEntry;
use crate::clock::Timestamp;
use crate::ids::UserId;
use crate::ports::{Page, Pagination, RepoError};

/// Logto's limit on role names and descriptions (`varchar(128)`).
pub const MAX_NAME_CHARS: usize = 128;
pub const MAX_DESCRIPTION_CHARS: usize = 128;

/// Who a role is for (Logto's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum RoleType {
    #[default]
    User,
    MachineToMachine,
}

impl RoleType {
    /// The name on Logto's wire (`type` of a role).
    pub const fn wire_name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::MachineToMachine => "MachineToMachine",
        }
    }

    pub fn from_wire_name(name: &str) -> Option<Self> {
        [Self::User, Self::MachineToMachine].into_iter().find(|kind| kind.wire_name() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// 21 characters when generated ([`IdGenerator::entity_id`](crate::ids::IdGenerator::entity_id)).
    pub id: String,
    /// Unique among all roles, the built-in one included.
    pub name: String,
    pub description: String,
    pub role_type: RoleType,
    /// Given to every new user (Logto's `isDefault`).
    pub is_default: bool,
    pub created_at: Timestamp,
}

/// Logto's tenant id in OSS deployments, which its role shape carries.
const TENANT_ID: &str = "default";

/// A role in Logto's wire shape: the Management API's answer and the `data` of role events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RoleView {
    pub tenant_id: &'static str,
    pub id: String,
    pub name: String,
    pub description: String,
    /// `User` or `MachineToMachine`.
    #[serde(rename = "type")]
    pub role_type: &'static str,
    pub is_default: bool,
}

impl RoleView {
    pub fn new(role: &Role) -> Self {
        Self {
            tenant_id: TENANT_ID,
            id: role.id.clone(),
            name: role.name.clone(),
            description: role.description.clone(),
            role_type: role.role_type.wire_name(),
            is_default: role.is_default,
        }
    }
}

/// Why a role's fields are not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum InvalidRole {
    #[error("a role name is 1 to {MAX_NAME_CHARS} characters")]
    Name,
    #[error("a role description is 1 to {MAX_DESCRIPTION_CHARS} characters")]
    Description,
}

impl Role {
    /// The built-in role that lets a `MachineToMachine` app call the Management API.
    pub fn management_api() -> Self {
        Self {
            id: MANAGEMENT_API_ROLE_ID.to_owned(),
            name: MANAGEMENT_API_ROLE.to_owned(),
            description: "Calls the Management API (scope `all`) with client-credentials tokens.".to_owned(),
            role_type: RoleType::MachineToMachine,
            is_default: false,
            created_at: Timestamp::from_millis(0),
        }
    }

    /// Whether `id` names the built-in role, which is not stored and cannot be changed.
    pub fn is_built_in(id: &str) -> bool {
        id == MANAGEMENT_API_ROLE_ID
    }

    /// Logto's bounds on the name and description.
    pub fn validate(&self) -> Result<(), InvalidRole> {
        if !within(&self.name, MAX_NAME_CHARS) {
            return Err(InvalidRole::Name);
        }
        if !within(&self.description, MAX_DESCRIPTION_CHARS) {
            return Err(InvalidRole::Description);
        }
        Ok(())
    }
}

fn within(value: &str, max_chars: usize) -> bool {
    !value.trim().is_empty() && value.chars().count() <= max_chars
}

/// Which roles a list asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoleFilter {
    /// A case-insensitive SQL `LIKE` pattern on the name, used whole as Logto does (`%admin%` for a substring;
    /// `\` escapes `%`, `_` and itself).
    pub name: Option<String>,
    pub role_type: Option<RoleType>,
}

/// Stored roles and users' roles. Every write is one transaction that also stores its audit entry (`Role.Created`,
/// `Role.Data.Updated`, `Role.Deleted`; `User.Roles.Updated` for a user's roles), and the webhook deliveries the
/// entry calls for.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RoleRepository: Send + Sync {
    /// Fails with `Conflict(Name)` when the name is taken, `Conflict(Id)` when the id is.
    async fn insert(&self, role: &Role, entry: &AuditEntry) -> Result<(), RepoError>;
    async fn find(&self, id: &str) -> Result<Option<Role>, RepoError>;
    /// Writes name, description and `is_default` of `role`. `NotFound` or `Conflict(Name)`.
    async fn update(&self, role: &Role, entry: &AuditEntry) -> Result<(), RepoError>;
    /// Deletes the role and every assignment of it. `NotFound` when there is no such role.
    async fn delete(&self, id: &str, entry: &AuditEntry) -> Result<(), RepoError>;
    /// Newest first (ties by id), with the total count.
    async fn list(&self, filter: &RoleFilter, pagination: Pagination) -> Result<Page<Role>, RepoError>;
    /// The user's roles, newest first, with the total count.
    async fn list_for_user(
        &self,
        user_id: &UserId,
        filter: &RoleFilter,
        pagination: Pagination,
    ) -> Result<Page<Role>, RepoError>;
    /// The ids of every role the user holds.
    async fn role_ids_of_user(&self, user_id: &UserId) -> Result<Vec<String>, RepoError>;
    /// Gives the user the roles of `role_ids` that it does not hold yet. `NotFound` when the user or a role is gone.
    async fn assign(&self, user_id: &UserId, role_ids: &[String], entry: &AuditEntry) -> Result<(), RepoError>;
    /// Makes `role_ids` the user's roles exactly. `NotFound` when the user or a role is gone.
    async fn replace(&self, user_id: &UserId, role_ids: &[String], entry: &AuditEntry) -> Result<(), RepoError>;
    /// Takes one role from the user. `NotFound` when the user does not hold it.
    async fn remove(&self, user_id: &UserId, role_id: &str, entry: &AuditEntry) -> Result<(), RepoError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, description: &str) -> Role {
        Role {
            id: "r".repeat(21),
            name: name.to_owned(),
            description: description.to_owned(),
            role_type: RoleType::User,
            is_default: false,
            created_at: Timestamp::from_millis(1),
        }
    }

    #[test]
    fn names_and_descriptions_are_bounded_as_logtos() {
        assert_eq!(role("admin", "Admins").validate(), Ok(()));
        assert_eq!(role(&"é".repeat(128), "d").validate(), Ok(()));
        assert_eq!(role(&"a".repeat(129), "d").validate(), Err(InvalidRole::Name));
        assert_eq!(role(" ", "d").validate(), Err(InvalidRole::Name));
        assert_eq!(role("admin", "").validate(), Err(InvalidRole::Description));
        assert_eq!(role("admin", &"d".repeat(129)).validate(), Err(InvalidRole::Description));
    }

    #[test]
    fn type_names_are_logtos() {
        for (kind, name) in [(RoleType::User, "User"), (RoleType::MachineToMachine, "MachineToMachine")] {
            assert_eq!(kind.wire_name(), name);
            assert_eq!(RoleType::from_wire_name(name), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), serde_json::Value::String(name.to_owned()));
        }
        assert_eq!(RoleType::from_wire_name("user"), None);
    }

    #[test]
    fn the_built_in_role_is_the_management_api_role_for_applications() {
        let role = Role::management_api();
        assert!(Role::is_built_in(&role.id));
        assert_eq!(role.name, MANAGEMENT_API_ROLE);
        assert_eq!(role.role_type, RoleType::MachineToMachine);
        assert_eq!(role.validate(), Ok(()));
        assert!(!Role::is_built_in("abcdefghijklmnopqrstu"));
    }
}
