//! Sessions remember the scopes granted at sign-in, so that a refresh mints tokens with the same scopes rather than
//! a fixed set. Existing sessions get none: a refresh of one of them yields a token that the scope-checked Account
//! API routes refuse, and the user signs in again.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Sessions::Table).add_column(text(Sessions::Scopes).default("")).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Sessions::Table).drop_column(Sessions::Scopes).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Scopes,
}
