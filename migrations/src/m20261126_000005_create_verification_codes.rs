//! Email/phone verification codes, in the database so that every instance sees them:
//! - `verification_codes`: live codes, keyed by their verification id; `code_hash` is SHA-256 of `<id>:<code>`,
//!   `target_hash` the SHA-256 of the normalised identifier the code was sent to (never the identifier itself).
//!   One live code per target and purpose; `attempts` is taken by one conditional update per check.
//! - `message_sends`: one row per message sent, per target digest, for Logto's per-recipient send limit.
//!
//! Times are milliseconds since the epoch.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const CODES_TARGET_INDEX: &str = "verification_codes_target_hash_purpose_index";
const CODES_EXPIRES_AT_INDEX: &str = "verification_codes_expires_at_index";
const SENDS_TARGET_INDEX: &str = "message_sends_target_hash_created_at_index";
const SENDS_CREATED_AT_INDEX: &str = "message_sends_created_at_index";

/// Length of a hex SHA-256 digest.
const HASH_CHARS: u32 = 64;
/// Logto's record id length.
const ID_CHARS: u32 = 21;
/// Logto's template type names (`SignIn`, `BindNewIdentifier`, …).
const PURPOSE_CHARS: u32 = 32;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(VerificationCodes::Table)
                    .col(string_len(VerificationCodes::Id, ID_CHARS).primary_key())
                    .col(string_len(VerificationCodes::Purpose, PURPOSE_CHARS))
                    .col(string_len(VerificationCodes::TargetHash, HASH_CHARS))
                    .col(string_len(VerificationCodes::CodeHash, HASH_CHARS))
                    .col(big_integer(VerificationCodes::CreatedAt))
                    .col(big_integer(VerificationCodes::ExpiresAt))
                    .col(integer(VerificationCodes::Attempts).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(CODES_TARGET_INDEX)
                    .table(VerificationCodes::Table)
                    .col(VerificationCodes::TargetHash)
                    .col(VerificationCodes::Purpose)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(CODES_EXPIRES_AT_INDEX)
                    .table(VerificationCodes::Table)
                    .col(VerificationCodes::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MessageSends::Table)
                    .col(big_pk_auto(MessageSends::Id))
                    .col(string_len(MessageSends::TargetHash, HASH_CHARS))
                    .col(big_integer(MessageSends::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(SENDS_TARGET_INDEX)
                    .table(MessageSends::Table)
                    .col(MessageSends::TargetHash)
                    .col(MessageSends::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(SENDS_CREATED_AT_INDEX)
                    .table(MessageSends::Table)
                    .col(MessageSends::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(MessageSends::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(VerificationCodes::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum VerificationCodes {
    Table,
    Id,
    Purpose,
    TargetHash,
    CodeHash,
    CreatedAt,
    ExpiresAt,
    Attempts,
}

#[derive(DeriveIden)]
enum MessageSends {
    Table,
    Id,
    TargetHash,
    CreatedAt,
}
