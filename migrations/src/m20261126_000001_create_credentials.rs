//! Applications, sessions, refresh tokens, personal access tokens and subject tokens. Every secret column holds a
//! SHA-256 hex digest, never a value in clear. Rows of a user go with the user (`ON DELETE CASCADE`), refresh tokens
//! go with their session. Times are milliseconds since the epoch.
//!
//! `sessions.client_id` has no foreign key on purpose: a session outlives nothing by it (the token verifier reads
//! the session and user only), and built-in clients need not be rows of `applications`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Index names are part of the contract with the store, which tells collisions apart by them (PostgreSQL reports
/// the index name, SQLite the columns).
const APPLICATIONS_CREATED_AT_INDEX: &str = "applications_created_at_index";
const SESSIONS_USER_ID_INDEX: &str = "sessions_user_id_index";
const REFRESH_TOKENS_SESSION_ID_INDEX: &str = "refresh_tokens_session_id_index";
const PERSONAL_ACCESS_TOKENS_USER_ID_NAME_UNIQUE: &str = "personal_access_tokens_user_id_name_unique";
const PERSONAL_ACCESS_TOKENS_VALUE_HASH_UNIQUE: &str = "personal_access_tokens_value_hash_unique";
const SUBJECT_TOKENS_USER_ID_INDEX: &str = "subject_tokens_user_id_index";

/// Length of a hex SHA-256 digest.
const HASH_CHARS: u32 = 64;
/// Client ids are 21 characters when generated; an operator may pick a longer bootstrap id.
const CLIENT_ID_CHARS: u32 = 64;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Applications::Table)
                    .col(string_len(Applications::Id, CLIENT_ID_CHARS).primary_key())
                    .col(string_len(Applications::Name, 256))
                    .col(text_null(Applications::Description))
                    .col(string_len(Applications::AppType, 32))
                    .col(json_binary(Applications::Secrets))
                    .col(json_binary(Applications::OidcClientMetadata))
                    .col(json_binary(Applications::CustomClientMetadata))
                    .col(json_binary(Applications::CustomData))
                    .col(boolean(Applications::IsThirdParty).default(false))
                    .col(json_binary(Applications::Roles))
                    .col(big_integer(Applications::CreatedAt))
                    .col(big_integer(Applications::Version).default(1))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(APPLICATIONS_CREATED_AT_INDEX)
                    .table(Applications::Table)
                    .col(Applications::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string_len(Sessions::Id, 21).primary_key())
                    .col(string_len(Sessions::UserId, 12))
                    .col(string_len(Sessions::ClientId, CLIENT_ID_CHARS))
                    .col(big_integer(Sessions::CreatedAt))
                    .col(big_integer(Sessions::LastActiveAt))
                    .col(big_integer(Sessions::ExpiresAt))
                    .col(big_integer_null(Sessions::RevokedAt))
                    .col(string_len_null(Sessions::RevokeReason, 32))
                    .col(string_len_null(Sessions::UserAgent, 512))
                    .col(string_len_null(Sessions::Ip, 64))
                    .foreign_key(
                        ForeignKey::create()
                            .name("sessions_user_id_fkey")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name(SESSIONS_USER_ID_INDEX).table(Sessions::Table).col(Sessions::UserId).to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(string_len(RefreshTokens::TokenHash, HASH_CHARS).primary_key())
                    .col(string_len(RefreshTokens::SessionId, 21))
                    .col(big_integer(RefreshTokens::CreatedAt))
                    .col(big_integer(RefreshTokens::ExpiresAt))
                    .col(big_integer_null(RefreshTokens::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("refresh_tokens_session_id_fkey")
                            .from(RefreshTokens::Table, RefreshTokens::SessionId)
                            .to(Sessions::Table, Sessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(REFRESH_TOKENS_SESSION_ID_INDEX)
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::SessionId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PersonalAccessTokens::Table)
                    .col(string_len(PersonalAccessTokens::Id, 21).primary_key())
                    .col(string_len(PersonalAccessTokens::UserId, 12))
                    .col(string_len(PersonalAccessTokens::Name, 256))
                    .col(string_len(PersonalAccessTokens::ValueHash, HASH_CHARS))
                    .col(json_binary(PersonalAccessTokens::Scopes))
                    .col(big_integer(PersonalAccessTokens::CreatedAt))
                    .col(big_integer_null(PersonalAccessTokens::ExpiresAt))
                    .col(big_integer_null(PersonalAccessTokens::LastUsedAt))
                    .col(big_integer_null(PersonalAccessTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("personal_access_tokens_user_id_fkey")
                            .from(PersonalAccessTokens::Table, PersonalAccessTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(PERSONAL_ACCESS_TOKENS_USER_ID_NAME_UNIQUE)
                    .table(PersonalAccessTokens::Table)
                    .col(PersonalAccessTokens::UserId)
                    .col(PersonalAccessTokens::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(PERSONAL_ACCESS_TOKENS_VALUE_HASH_UNIQUE)
                    .table(PersonalAccessTokens::Table)
                    .col(PersonalAccessTokens::ValueHash)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SubjectTokens::Table)
                    .col(string_len(SubjectTokens::TokenHash, HASH_CHARS).primary_key())
                    .col(string_len(SubjectTokens::UserId, 12))
                    .col(json_binary(SubjectTokens::Context))
                    .col(string_len(SubjectTokens::CreatorId, CLIENT_ID_CHARS))
                    .col(big_integer(SubjectTokens::CreatedAt))
                    .col(big_integer(SubjectTokens::ExpiresAt))
                    .col(big_integer_null(SubjectTokens::ConsumedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("subject_tokens_user_id_fkey")
                            .from(SubjectTokens::Table, SubjectTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(SUBJECT_TOKENS_USER_ID_INDEX)
                    .table(SubjectTokens::Table)
                    .col(SubjectTokens::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents, so that no foreign key is left dangling on the way down.
        manager.drop_table(Table::drop().table(SubjectTokens::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(PersonalAccessTokens::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(RefreshTokens::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Sessions::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Applications::Table).to_owned()).await
    }

    // SQLite runs DDL in transactions too: a failed step must not leave half the tables behind.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    Name,
    Description,
    AppType,
    Secrets,
    OidcClientMetadata,
    CustomClientMetadata,
    CustomData,
    IsThirdParty,
    Roles,
    CreatedAt,
    Version,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    ClientId,
    CreatedAt,
    LastActiveAt,
    ExpiresAt,
    RevokedAt,
    RevokeReason,
    UserAgent,
    Ip,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    TokenHash,
    SessionId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum PersonalAccessTokens {
    Table,
    Id,
    UserId,
    Name,
    ValueHash,
    Scopes,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum SubjectTokens {
    Table,
    TokenHash,
    UserId,
    Context,
    CreatorId,
    CreatedAt,
    ExpiresAt,
    ConsumedAt,
}
