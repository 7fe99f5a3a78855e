//! Roles and users' roles, as Logto's `roles` and `users_roles`.
//! - `roles`: a name unique among roles (case-sensitive, as Logto's), a description, Logto's `type` as `role_type`
//!   (`User` or `MachineToMachine`) and `is_default`. The built-in Management API role is not a row here.
//! - `users_roles`: which user holds which role; rows go with their user and with their role (`ON DELETE CASCADE`).
//!
//! Times are milliseconds since the epoch.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Index names are part of the contract with the store, which tells a name collision from an id collision by them
/// (PostgreSQL reports the index name, SQLite the columns).
const ROLES_NAME_UNIQUE: &str = "roles_name_unique";
const ROLES_CREATED_AT_INDEX: &str = "roles_created_at_index";
const USERS_ROLES_ROLE_ID_INDEX: &str = "users_roles_role_id_index";

/// Logto's entity id length.
const ROLE_ID_CHARS: u32 = 21;
/// Logto's user id length.
const USER_ID_CHARS: u32 = 12;
/// Logto's `varchar(128)` name and description.
const TEXT_CHARS: u32 = 128;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Roles::Table)
                    .col(string_len(Roles::Id, ROLE_ID_CHARS).primary_key())
                    .col(string_len(Roles::Name, TEXT_CHARS))
                    .col(string_len(Roles::Description, TEXT_CHARS))
                    .col(string_len(Roles::RoleType, 32))
                    .col(boolean(Roles::IsDefault).default(false))
                    .col(big_integer(Roles::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name(ROLES_NAME_UNIQUE).table(Roles::Table).col(Roles::Name).unique().to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name(ROLES_CREATED_AT_INDEX).table(Roles::Table).col(Roles::CreatedAt).to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UsersRoles::Table)
                    .col(string_len(UsersRoles::UserId, USER_ID_CHARS))
                    .col(string_len(UsersRoles::RoleId, ROLE_ID_CHARS))
                    .col(big_integer(UsersRoles::CreatedAt))
                    .primary_key(Index::create().col(UsersRoles::UserId).col(UsersRoles::RoleId))
                    .foreign_key(
                        ForeignKey::create()
                            .name("users_roles_user_id_fkey")
                            .from(UsersRoles::Table, UsersRoles::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("users_roles_role_id_fkey")
                            .from(UsersRoles::Table, UsersRoles::RoleId)
                            .to(Roles::Table, Roles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The primary key serves lookups by user; deleting a role looks its assignments up by role.
        manager
            .create_index(
                Index::create()
                    .name(USERS_ROLES_ROLE_ID_INDEX)
                    .table(UsersRoles::Table)
                    .col(UsersRoles::RoleId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(UsersRoles::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Roles::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Roles {
    Table,
    Id,
    Name,
    Description,
    RoleType,
    IsDefault,
    CreatedAt,
}

#[derive(DeriveIden)]
enum UsersRoles {
    Table,
    UserId,
    RoleId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
