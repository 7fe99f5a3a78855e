//! The sign-in API's state, in the database so that every instance sees it:
//! - `sentinel_failures`: failed password and code checks per identifier (Logto's `sentinel_activities`, failures
//!   only). `target_hash` is the SHA-256 of the normalised identifier, never the identifier itself.
//!   `blocked_until` is set on the failure that reached the limit.
//! - `pending_mfa_challenges`: sign-ins waiting for their second factor, keyed by the SHA-256 of the challenge
//!   token; they go with their user.
//!
//! Times are milliseconds since the epoch.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SENTINEL_FAILURES_TARGET_INDEX: &str = "sentinel_failures_target_hash_created_at_index";
const SENTINEL_FAILURES_CREATED_AT_INDEX: &str = "sentinel_failures_created_at_index";
const PENDING_MFA_EXPIRES_AT_INDEX: &str = "pending_mfa_challenges_expires_at_index";

/// Length of a hex SHA-256 digest.
const HASH_CHARS: u32 = 64;
/// As `sessions.client_id`.
const CLIENT_ID_CHARS: u32 = 64;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SentinelFailures::Table)
                    .col(big_pk_auto(SentinelFailures::Id))
                    .col(string_len(SentinelFailures::TargetHash, HASH_CHARS))
                    .col(big_integer(SentinelFailures::CreatedAt))
                    .col(big_integer_null(SentinelFailures::BlockedUntil))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(SENTINEL_FAILURES_TARGET_INDEX)
                    .table(SentinelFailures::Table)
                    .col(SentinelFailures::TargetHash)
                    .col(SentinelFailures::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(SENTINEL_FAILURES_CREATED_AT_INDEX)
                    .table(SentinelFailures::Table)
                    .col(SentinelFailures::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PendingMfaChallenges::Table)
                    .col(string_len(PendingMfaChallenges::TokenHash, HASH_CHARS).primary_key())
                    .col(string_len(PendingMfaChallenges::UserId, 12))
                    .col(string_len(PendingMfaChallenges::ClientId, CLIENT_ID_CHARS))
                    // Space-separated, as `sessions.scopes`.
                    .col(text(PendingMfaChallenges::Scopes))
                    .col(string_len(PendingMfaChallenges::SentinelTarget, HASH_CHARS))
                    .col(big_integer(PendingMfaChallenges::CreatedAt))
                    .col(big_integer(PendingMfaChallenges::ExpiresAt))
                    .col(integer(PendingMfaChallenges::Attempts).default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .name("pending_mfa_challenges_user_id_fkey")
                            .from(PendingMfaChallenges::Table, PendingMfaChallenges::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(PENDING_MFA_EXPIRES_AT_INDEX)
                    .table(PendingMfaChallenges::Table)
                    .col(PendingMfaChallenges::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PendingMfaChallenges::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(SentinelFailures::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SentinelFailures {
    Table,
    Id,
    TargetHash,
    CreatedAt,
    BlockedUntil,
}

#[derive(DeriveIden)]
enum PendingMfaChallenges {
    Table,
    TokenHash,
    UserId,
    ClientId,
    Scopes,
    SentinelTarget,
    CreatedAt,
    ExpiresAt,
    Attempts,
}
