//! Indexes for prefix searches on users (`GET /api/users?search.primaryEmail=ann%`), PostgreSQL only.
//!
//! A case-insensitive search compares `primary_email_key` (already lower-cased) and `lower(username)`,
//! `lower(primary_phone)`, `lower(name)` with `LIKE 'prefix%'`. PostgreSQL answers a left-anchored `LIKE` from a
//! btree only when the index orders by bytes: under any collation but `C` the ordinary indexes cannot serve it and a
//! search reads the whole table. The `*_pattern_ops` operator classes order by bytes whatever the collation.
//! Case-sensitive searches (`lower()` not applied) still read the table: Logto's default is case-insensitive.
//!
//! SQLite gets nothing: its `LIKE` ignores ASCII case, so it uses an index only on a `NOCASE` column (or with
//! `PRAGMA case_sensitive_like`), which would change the meaning of the unique indexes; a plain index would be
//! dead weight.
//!
//! The list order (`created_at DESC, id DESC`) gets a two-column index on both backends, so that a page is read in
//! order from the index instead of sorting the rows of equal `created_at` first.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CREATED_AT_ID_INDEX: &str = "users_created_at_id_index";
/// The index created by the first users migration, superseded by the two-column one.
const CREATED_AT_INDEX: &str = "users_created_at_index";

/// PostgreSQL's pattern indexes: name and indexed expression. `primary_email_key` is a `varchar` column; `lower()`
/// returns `text`.
const POSTGRES_PATTERN_INDEXES: [(&str, &str); 4] = [
    ("users_primary_email_key_pattern_index", "primary_email_key varchar_pattern_ops"),
    ("users_username_lower_pattern_index", "lower(username) text_pattern_ops"),
    ("users_primary_phone_lower_pattern_index", "lower(primary_phone) text_pattern_ops"),
    ("users_name_lower_pattern_index", "lower(name) text_pattern_ops"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(CREATED_AT_ID_INDEX)
                    .table(Users::Table)
                    .col(Users::CreatedAt)
                    .col(Users::Id)
                    .to_owned(),
            )
            .await?;
        manager.drop_index(Index::drop().name(CREATED_AT_INDEX).table(Users::Table).to_owned()).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            let connection = manager.get_connection();
            for (name, expression) in POSTGRES_PATTERN_INDEXES {
                connection.execute_unprepared(&format!("CREATE INDEX {name} ON users ({expression})")).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            let connection = manager.get_connection();
            for (name, _) in POSTGRES_PATTERN_INDEXES {
                connection.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}")).await?;
            }
        }
        manager
            .create_index(Index::create().name(CREATED_AT_INDEX).table(Users::Table).col(Users::CreatedAt).to_owned())
            .await?;
        manager.drop_index(Index::drop().name(CREATED_AT_ID_INDEX).table(Users::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    CreatedAt,
}
