//! The account-center settings: one row (`id = 'default'`) holding Logto's `account_centers` settings as JSON, with
//! a version for optimistic concurrency. No row means Logto's defaults (disabled, no fields).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AccountCenter::Table)
                    .col(string_len(AccountCenter::Id, 32).primary_key())
                    .col(json_binary(AccountCenter::Settings))
                    .col(big_integer(AccountCenter::Version))
                    .col(big_integer(AccountCenter::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AccountCenter::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum AccountCenter {
    Table,
    Id,
    Settings,
    Version,
    UpdatedAt,
}
