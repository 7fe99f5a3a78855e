//! The sign-in experience: one row (`id = 'default'`) holding the part of Logto's `sign_in_experiences` that
//! Latchkey keeps (`passwordPolicy`, `usernamePolicy`, `mfa`) as JSON, with a version for optimistic concurrency.
//! No row means Logto's defaults.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SignInExperience::Table)
                    .col(string_len(SignInExperience::Id, 32).primary_key())
                    .col(json_binary(SignInExperience::Settings))
                    .col(big_integer(SignInExperience::Version))
                    .col(big_integer(SignInExperience::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SignInExperience::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum SignInExperience {
    Table,
    Id,
    Settings,
    Version,
    UpdatedAt,
}
