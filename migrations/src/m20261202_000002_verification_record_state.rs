//! Verification records that carry a ceremony's state between its two requests: a WebAuthn registration keeps the
//! challenge it issued, a social verification the `state` and redirect URI it sent the user away with and, once
//! verified, the identity the provider vouched for. `state` is that JSON, written by the domain and read back by it;
//! password and code records leave it empty.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(VerificationRecords::Table)
                    .add_column(text_null(VerificationRecords::State))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(VerificationRecords::Table).drop_column(VerificationRecords::State).to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum VerificationRecords {
    Table,
    State,
}
