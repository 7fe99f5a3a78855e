//! The `users` table: every field of the domain `User` (Logto's `users` columns, logto-reference §7) plus
//! `primary_email_key` (the lower-cased email, so that uniqueness is case-insensitive on every backend without an
//! expression index) and `version` for optimistic concurrency. Times are milliseconds since the epoch, as on the
//! wire. JSON columns are `jsonb` on PostgreSQL and text on SQLite.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Index names are part of the contract with the store: it tells which identifier collided from the name of the
/// violated constraint (PostgreSQL reports the index name, SQLite the column name).
const USERNAME_UNIQUE: &str = "users_username_unique";
const PRIMARY_EMAIL_KEY_UNIQUE: &str = "users_primary_email_key_unique";
const PRIMARY_PHONE_UNIQUE: &str = "users_primary_phone_unique";
const CREATED_AT_INDEX: &str = "users_created_at_index";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(string_len(Users::Id, 12).primary_key())
                    .col(string_len_null(Users::Username, 128))
                    .col(string_len_null(Users::PrimaryEmail, 128))
                    .col(string_len_null(Users::PrimaryEmailKey, 128))
                    .col(string_len_null(Users::PrimaryPhone, 128))
                    .col(string_len_null(Users::Name, 128))
                    .col(string_len_null(Users::Avatar, 2048))
                    .col(json_binary(Users::Profile))
                    .col(json_binary(Users::CustomData))
                    .col(json_binary(Users::Identities))
                    .col(json_binary(Users::LogtoConfig))
                    .col(json_binary(Users::MfaVerifications))
                    .col(string_len_null(Users::PasswordDigest, 256))
                    .col(string_len_null(Users::PasswordAlgorithm, 32))
                    .col(boolean(Users::IsSuspended).default(false))
                    .col(boolean(Users::IsPasswordExpired).default(false))
                    .col(string_len_null(Users::ApplicationId, 21))
                    .col(big_integer_null(Users::LastSignInAt))
                    .col(big_integer_null(Users::PasswordUpdatedAt))
                    .col(big_integer(Users::CreatedAt))
                    .col(big_integer(Users::UpdatedAt))
                    .col(big_integer(Users::Version).default(1))
                    // A digest without its algorithm (or the reverse) cannot be verified: refuse it at the source.
                    .check(Check::named(
                        "users_password_complete",
                        Cond::any()
                            .add(
                                Cond::all()
                                    .add(Expr::col(Users::PasswordDigest).is_null())
                                    .add(Expr::col(Users::PasswordAlgorithm).is_null()),
                            )
                            .add(
                                Cond::all()
                                    .add(Expr::col(Users::PasswordDigest).is_not_null())
                                    .add(Expr::col(Users::PasswordAlgorithm).is_not_null()),
                            ),
                    ))
                    .to_owned(),
            )
            .await?;

        for (name, column) in [
            (USERNAME_UNIQUE, Users::Username),
            (PRIMARY_EMAIL_KEY_UNIQUE, Users::PrimaryEmailKey),
            (PRIMARY_PHONE_UNIQUE, Users::PrimaryPhone),
        ] {
            manager
                .create_index(Index::create().name(name).table(Users::Table).col(column).unique().to_owned())
                .await?;
        }
        manager
            .create_index(Index::create().name(CREATED_AT_INDEX).table(Users::Table).col(Users::CreatedAt).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Users::Table).to_owned()).await
    }

    // SQLite runs DDL in transactions too: a failed step must not leave half a table behind.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    PrimaryEmail,
    PrimaryEmailKey,
    PrimaryPhone,
    Name,
    Avatar,
    Profile,
    CustomData,
    Identities,
    LogtoConfig,
    MfaVerifications,
    PasswordDigest,
    PasswordAlgorithm,
    IsSuspended,
    IsPasswordExpired,
    ApplicationId,
    LastSignInAt,
    PasswordUpdatedAt,
    CreatedAt,
    UpdatedAt,
    Version,
}
