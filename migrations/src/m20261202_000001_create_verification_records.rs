//! Verification records of the Account API (`/api/verifications…`): `verification_records` holds each record's
//! owner (user and session), what it proves (`kind`: `Password`, `EmailVerificationCode`, `PhoneVerificationCode`;
//! for codes the recipient, the code's purpose and the stored code's id), whether it is verified, and its lifetime.
//! A record goes with its user. Times are milliseconds since the epoch.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const EXPIRES_AT_INDEX: &str = "verification_records_expires_at_index";

/// Logto's entity id length.
const ID_CHARS: u32 = 21;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(VerificationRecords::Table)
                    .col(string_len(VerificationRecords::Id, ID_CHARS).primary_key())
                    .col(string_len(VerificationRecords::UserId, 12))
                    .col(string_len(VerificationRecords::SessionId, ID_CHARS))
                    .col(string_len(VerificationRecords::Kind, 32))
                    .col(string_len_null(VerificationRecords::Recipient, 320))
                    .col(string_len_null(VerificationRecords::Purpose, 32))
                    .col(string_len_null(VerificationRecords::CodeId, ID_CHARS))
                    .col(boolean(VerificationRecords::Verified))
                    .col(big_integer(VerificationRecords::CreatedAt))
                    .col(big_integer(VerificationRecords::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("verification_records_user_id_fkey")
                            .from(VerificationRecords::Table, VerificationRecords::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(EXPIRES_AT_INDEX)
                    .table(VerificationRecords::Table)
                    .col(VerificationRecords::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(VerificationRecords::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum VerificationRecords {
    Table,
    Id,
    UserId,
    SessionId,
    Kind,
    Recipient,
    Purpose,
    CodeId,
    Verified,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
