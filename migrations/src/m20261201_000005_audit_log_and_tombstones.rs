//! The audit log and the tombstones of deleted users.
//! - `audit_logs`: one row per logged event, written in the transaction of the change it describes. `payload` is
//!   the JSON of who acted, through which client, from where, and what changed (never a secret). Read newest
//!   first, filtered by user, application or key.
//! - `user_tombstones`: a deleted user's row as JSON (`data`), kept until `restorable_until` so that an
//!   administrator can restore it; identifiers are free for others meanwhile.
//!
//! Times are milliseconds since the epoch.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const LOGS_USER_INDEX: &str = "audit_logs_user_id_created_at_index";
const LOGS_APPLICATION_INDEX: &str = "audit_logs_application_id_created_at_index";
const LOGS_KEY_INDEX: &str = "audit_logs_key_created_at_index";
const LOGS_CREATED_AT_INDEX: &str = "audit_logs_created_at_index";
const TOMBSTONES_RESTORABLE_UNTIL_INDEX: &str = "user_tombstones_restorable_until_index";

/// Logto's log id length.
const ID_CHARS: u32 = 21;
/// Logto's user id length.
const USER_ID_CHARS: u32 = 12;
/// Logto's `logs.key` column.
const KEY_CHARS: u32 = 128;
/// Application ids are Logto's 21 characters; room for longer ids of embedding programs.
const APPLICATION_ID_CHARS: u32 = 64;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLogs::Table)
                    .col(string_len(AuditLogs::Id, ID_CHARS).primary_key())
                    .col(string_len(AuditLogs::Key, KEY_CHARS))
                    .col(string_len_null(AuditLogs::UserId, USER_ID_CHARS))
                    .col(string_len_null(AuditLogs::ApplicationId, APPLICATION_ID_CHARS))
                    .col(json_binary(AuditLogs::Payload))
                    .col(big_integer(AuditLogs::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            (LOGS_USER_INDEX, AuditLogs::UserId),
            (LOGS_APPLICATION_INDEX, AuditLogs::ApplicationId),
            (LOGS_KEY_INDEX, AuditLogs::Key),
        ] {
            manager
                .create_index(
                    Index::create().name(name).table(AuditLogs::Table).col(column).col(AuditLogs::CreatedAt).to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(LOGS_CREATED_AT_INDEX)
                    .table(AuditLogs::Table)
                    .col(AuditLogs::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserTombstones::Table)
                    .col(string_len(UserTombstones::UserId, USER_ID_CHARS).primary_key())
                    .col(json_binary(UserTombstones::Data))
                    .col(big_integer(UserTombstones::DeletedAt))
                    .col(big_integer(UserTombstones::RestorableUntil))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(TOMBSTONES_RESTORABLE_UNTIL_INDEX)
                    .table(UserTombstones::Table)
                    .col(UserTombstones::RestorableUntil)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(UserTombstones::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(AuditLogs::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    Id,
    Key,
    UserId,
    ApplicationId,
    Payload,
    CreatedAt,
}

#[derive(DeriveIden)]
enum UserTombstones {
    Table,
    UserId,
    Data,
    DeletedAt,
    RestorableUntil,
}
