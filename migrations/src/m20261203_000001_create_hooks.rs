//! Webhooks, as Logto's `hooks`, and their outbox.
//! - `hooks`: Logto's columns without the tenant: `name`, the deprecated single `event`, `events` and `config`
//!   as JSON, the `signing_key`, `enabled`.
//! - `hook_deliveries`: one row per event per hook, written in the transaction of the change that caused the event.
//!   `payload` is the exact body sent (and signed) on every attempt. A dispatcher claims a due `pending` row by
//!   setting `lease_until`; the row goes with its hook (`ON DELETE CASCADE`).
//!
//! Times are milliseconds since the epoch.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Claiming reads pending rows by due time.
const DELIVERIES_DUE_INDEX: &str = "hook_deliveries_due_index";
/// `recent-logs` reads a hook's rows newest first.
const DELIVERIES_HOOK_INDEX: &str = "hook_deliveries_hook_id_created_at_index";

/// Logto's entity id length.
const ID_CHARS: u32 = 21;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Hooks::Table)
                    .col(string_len(Hooks::Id, ID_CHARS).primary_key())
                    .col(string_len(Hooks::Name, 256).default(""))
                    .col(string_len_null(Hooks::Event, 128))
                    .col(json_binary(Hooks::Events))
                    .col(json_binary(Hooks::Config))
                    .col(string_len(Hooks::SigningKey, 64))
                    .col(boolean(Hooks::Enabled).default(true))
                    .col(big_integer(Hooks::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HookDeliveries::Table)
                    .col(string_len(HookDeliveries::Id, ID_CHARS).primary_key())
                    .col(string_len(HookDeliveries::HookId, ID_CHARS))
                    .col(string_len(HookDeliveries::Event, 128))
                    .col(text(HookDeliveries::Payload))
                    .col(string_len(HookDeliveries::Status, 16))
                    .col(integer(HookDeliveries::Attempts).default(0))
                    .col(big_integer(HookDeliveries::NextAttemptAt))
                    .col(big_integer_null(HookDeliveries::LeaseUntil))
                    .col(big_integer_null(HookDeliveries::LastAttemptAt))
                    .col(integer_null(HookDeliveries::ResponseStatus))
                    .col(text_null(HookDeliveries::ResponseBody))
                    .col(text_null(HookDeliveries::Error))
                    .col(big_integer(HookDeliveries::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("hook_deliveries_hook_id_fkey")
                            .from(HookDeliveries::Table, HookDeliveries::HookId)
                            .to(Hooks::Table, Hooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(DELIVERIES_DUE_INDEX)
                    .table(HookDeliveries::Table)
                    .col(HookDeliveries::Status)
                    .col(HookDeliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(DELIVERIES_HOOK_INDEX)
                    .table(HookDeliveries::Table)
                    .col(HookDeliveries::HookId)
                    .col(HookDeliveries::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(HookDeliveries::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Hooks::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Hooks {
    Table,
    Id,
    Name,
    Event,
    Events,
    Config,
    SigningKey,
    Enabled,
    CreatedAt,
}

#[derive(DeriveIden)]
enum HookDeliveries {
    Table,
    Id,
    HookId,
    Event,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastAttemptAt,
    ResponseStatus,
    ResponseBody,
    Error,
    CreatedAt,
}
