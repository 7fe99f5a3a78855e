//! Webhooks (migration `m20261203_000001_create_hooks`): [`SeaHookRepository`] for the `hooks` table,
//! [`SeaDeliveryOutbox`] for `hook_deliveries`, and [`enqueue_in`], which the other repositories call inside the
//! transaction of a change that is a hook event, so that the delivery commits or rolls back with the change.

use async_trait::async_trait;
use latchkey_domain::audit::AuditEntry;
use latchkey_domain::hook::delivery::{
    AttemptOutcome, AttemptRecord, AttemptResult, ClaimedDelivery, DeliveryFilter, DeliveryOutbox, DeliveryStatus,
    ExecutionStats, HookDelivery,
};
use latchkey_domain::hook::payload::{EventData, HookEventOccurrence, event_of};
use latchkey_domain::hook::{Hook, HookConfig, HookEvent, HookRepository};
use latchkey_domain::ids::{IdGenerator, RandomIds};
use latchkey_domain::ports::{Page, Pagination, RepoError};
use latchkey_domain::role::{Role, RoleView};
use latchkey_domain::user::view::UserView;
use latchkey_domain::{Timestamp, User};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Value, json};

use crate::credential_entity::applications;
use crate::db_errors::{corrupt, unavailable};

pub(crate) mod hook_rows {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "hooks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub event: Option<String>,
        #[sea_orm(column_type = "JsonBinary")]
        pub events: Json,
        #[sea_orm(column_type = "JsonBinary")]
        pub config: Json,
        pub signing_key: String,
        pub enabled: bool,
        pub created_at: i64,
    }

    // The signing key and configured headers are credentials.
    impl std::fmt::Debug for Model {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("hooks::Model").field("id", &self.id).finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod delivery_rows {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "hook_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub hook_id: String,
        pub event: String,
        #[sea_orm(column_type = "Text")]
        pub payload: String,
        pub status: String,
        pub attempts: i32,
        pub next_attempt_at: i64,
        pub lease_until: Option<i64>,
        pub last_attempt_at: Option<i64>,
        pub response_status: Option<i32>,
        #[sea_orm(column_type = "Text", nullable)]
        pub response_body: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub error: Option<String>,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Writes one delivery per enabled hook that wants `occurrence`'s event, on `connection` (the caller's transaction).
pub(crate) async fn enqueue_occurrence<C: ConnectionTrait>(
    connection: &C,
    occurrence: &HookEventOccurrence,
) -> Result<(), RepoError> {
    let wanting = hooks_wanting(connection, &occurrence.event).await?;
    insert_deliveries(connection, &wanting, occurrence).await
}

/// The enabled hooks that want `event`. Asked before an occurrence's payload is built: most writes have no hook
/// wanting them, and their payload (the entity's view, a sign-in's application) is then not worth building.
async fn hooks_wanting<C: ConnectionTrait>(connection: &C, event: &HookEvent) -> Result<Vec<Hook>, RepoError> {
    let hooks = enabled_hooks(connection).await?;
    Ok(hooks.into_iter().filter(|hook| hook.wants(event)).collect())
}

/// One delivery of `occurrence` per hook of `wanting`, on `connection` (the caller's transaction).
async fn insert_deliveries<C: ConnectionTrait>(
    connection: &C,
    wanting: &[Hook],
    occurrence: &HookEventOccurrence,
) -> Result<(), RepoError> {
    if wanting.is_empty() {
        return Ok(());
    }
    let now = occurrence.created_at.as_millis();
    let rows = wanting.iter().map(|hook| delivery_rows::ActiveModel {
        id: Set(RandomIds.entity_id()),
        hook_id: Set(hook.id.clone()),
        event: Set(occurrence.event.as_str().to_owned()),
        payload: Set(occurrence.payload_for(&hook.id)),
        status: Set(DeliveryStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        last_attempt_at: Set(None),
        response_status: Set(None),
        response_body: Set(None),
        error: Set(None),
        created_at: Set(now),
    });
    delivery_rows::Entity::insert_many(rows).exec_without_returning(connection).await.map_err(unavailable)?;
    Ok(())
}

/// The hook event a user write's audit entry stands for, if any, enqueued with the user as it is after the write
/// (before it, for a deletion).
pub(crate) async fn enqueue_in<C: ConnectionTrait>(
    connection: &C,
    entry: &AuditEntry,
    user: &User,
) -> Result<(), RepoError> {
    let Some(event) = event_of(&entry.key) else {
        return Ok(());
    };
    let wanting = hooks_wanting(connection, &event).await?;
    if wanting.is_empty() {
        return Ok(());
    }
    let user_view = serde_json::to_value(UserView::new(user))
        .map_err(|error| RepoError::Unavailable(format!("cannot serialize a user: {:?} error", error.classify())))?;
    let data = if event == HookEvent::POST_SIGN_IN {
        let application = match &entry.context.application_id {
            Some(id) => application_summary(connection, id).await?,
            None => None,
        };
        EventData::SignIn { user: user_view, application }
    } else {
        EventData::Entity(user_view)
    };
    let occurrence = HookEventOccurrence {
        event,
        context: entry.context.clone(),
        user_id: Some(user.id.as_str().to_owned()),
        data,
        created_at: entry.created_at,
    };
    insert_deliveries(connection, &wanting, &occurrence).await
}

/// The hook event a role write's audit entry stands for, if any, enqueued with the role (as it was, for a
/// deletion) in Logto's role shape.
pub(crate) async fn enqueue_role_event<C: ConnectionTrait>(
    connection: &C,
    entry: &AuditEntry,
    role: &Role,
) -> Result<(), RepoError> {
    let Some(event) = event_of(&entry.key) else {
        return Ok(());
    };
    let wanting = hooks_wanting(connection, &event).await?;
    if wanting.is_empty() {
        return Ok(());
    }
    let data = serde_json::to_value(RoleView::new(role))
        .map_err(|error| RepoError::Unavailable(format!("cannot serialize a role: {:?} error", error.classify())))?;
    let occurrence = HookEventOccurrence {
        event,
        context: entry.context.clone(),
        user_id: None,
        data: EventData::Entity(data),
        created_at: entry.created_at,
    };
    insert_deliveries(connection, &wanting, &occurrence).await
}

/// Logto's `application` of an interaction event: `{id, type, name, description}`.
async fn application_summary<C: ConnectionTrait>(connection: &C, id: &str) -> Result<Option<Value>, RepoError> {
    let row = applications::Entity::find_by_id(id).one(connection).await.map_err(unavailable)?;
    Ok(row.map(|app| json!({"id": app.id, "type": app.app_type, "name": app.name, "description": app.description})))
}

async fn enabled_hooks<C: ConnectionTrait>(connection: &C) -> Result<Vec<Hook>, RepoError> {
    let rows = hook_rows::Entity::find()
        .filter(hook_rows::Column::Enabled.eq(true))
        .all(connection)
        .await
        .map_err(unavailable)?;
    rows.into_iter().map(hook_from_row).collect()
}

fn hook_from_row(row: hook_rows::Model) -> Result<Hook, RepoError> {
    let bad = |what: &str| corrupt("hooks", &row.id, what);
    let event = match &row.event {
        Some(name) => Some(HookEvent::parse(name).ok_or_else(|| bad("event"))?),
        None => None,
    };
    let events: Vec<HookEvent> = serde_json::from_value(row.events.clone()).map_err(|_| bad("events"))?;
    let config: HookConfig = serde_json::from_value(row.config.clone()).map_err(|_| bad("config"))?;
    Ok(Hook {
        id: row.id,
        name: row.name,
        event,
        events,
        config,
        signing_key: row.signing_key,
        enabled: row.enabled,
        created_at: Timestamp::from_millis(row.created_at),
    })
}

fn hook_to_row(hook: &Hook) -> Result<hook_rows::ActiveModel, RepoError> {
    let json_error = |error: serde_json::Error| {
        RepoError::Unavailable(format!("cannot serialize a hook: {:?} error", error.classify()))
    };
    Ok(hook_rows::ActiveModel {
        id: Set(hook.id.clone()),
        name: Set(hook.name.clone()),
        event: Set(hook.event.as_ref().map(|event| event.as_str().to_owned())),
        events: Set(serde_json::to_value(&hook.events).map_err(json_error)?),
        config: Set(serde_json::to_value(&hook.config).map_err(json_error)?),
        signing_key: Set(hook.signing_key.clone()),
        enabled: Set(hook.enabled),
        created_at: Set(hook.created_at.as_millis()),
    })
}

fn delivery_from_row(row: delivery_rows::Model) -> Result<HookDelivery, RepoError> {
    let bad = |what: &str| corrupt("hook_deliveries", &row.id, what);
    let event = HookEvent::parse(&row.event).ok_or_else(|| bad("event"))?;
    let status = DeliveryStatus::parse(&row.status).ok_or_else(|| bad("status"))?;
    Ok(HookDelivery {
        event,
        status,
        attempts: u32::try_from(row.attempts).map_err(|_| bad("attempts"))?,
        next_attempt_at: Timestamp::from_millis(row.next_attempt_at),
        last_attempt_at: row.last_attempt_at.map(Timestamp::from_millis),
        last_outcome: AttemptOutcome {
            response_status: row.response_status.and_then(|status| u16::try_from(status).ok()),
            response_body: row.response_body,
            error: row.error,
        },
        created_at: Timestamp::from_millis(row.created_at),
        id: row.id,
        hook_id: row.hook_id,
        payload: row.payload,
    })
}

/// Hooks in the `hooks` table. Cheap to clone (it shares the connection pool).
#[derive(Debug, Clone)]
pub struct SeaHookRepository {
    db: DatabaseConnection,
}

impl SeaHookRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl HookRepository for SeaHookRepository {
    async fn insert(&self, hook: &Hook) -> Result<(), RepoError> {
        hook_rows::Entity::insert(hook_to_row(hook)?).exec_without_returning(&self.db).await.map_err(unavailable)?;
        Ok(())
    }

    async fn find(&self, id: &str) -> Result<Option<Hook>, RepoError> {
        hook_rows::Entity::find_by_id(id).one(&self.db).await.map_err(unavailable)?.map(hook_from_row).transpose()
    }

    async fn update(&self, hook: &Hook) -> Result<(), RepoError> {
        let mut row = hook_to_row(hook)?;
        row.id = sea_orm::ActiveValue::NotSet;
        row.created_at = sea_orm::ActiveValue::NotSet;
        let updated = hook_rows::Entity::update_many()
            .set(row)
            .filter(hook_rows::Column::Id.eq(hook.id.as_str()))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        if updated.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<(), RepoError> {
        // Deliveries cascade.
        let deleted = hook_rows::Entity::delete_by_id(id).exec(&self.db).await.map_err(unavailable)?;
        if deleted.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        Ok(())
    }

    async fn list(&self, pagination: Option<Pagination>) -> Result<Page<Hook>, RepoError> {
        let query =
            hook_rows::Entity::find().order_by_asc(hook_rows::Column::CreatedAt).order_by_asc(hook_rows::Column::Id);
        let (rows, total) = match pagination {
            Some(pagination) => {
                let total = hook_rows::Entity::find().count(&self.db).await.map_err(unavailable)?;
                let rows = query
                    .offset(pagination.offset())
                    .limit(pagination.page_size)
                    .all(&self.db)
                    .await
                    .map_err(unavailable)?;
                (rows, total)
            }
            None => {
                let rows = query.all(&self.db).await.map_err(unavailable)?;
                let total = rows.len() as u64;
                (rows, total)
            }
        };
        Ok(Page { items: rows.into_iter().map(hook_from_row).collect::<Result<_, _>>()?, total })
    }
}

/// The outbox in the `hook_deliveries` table. Cheap to clone (it shares the connection pool).
#[derive(Debug, Clone)]
pub struct SeaDeliveryOutbox {
    db: DatabaseConnection,
}

impl SeaDeliveryOutbox {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

use delivery_rows::Column as D;

#[async_trait]
impl DeliveryOutbox for SeaDeliveryOutbox {
    async fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u64,
    ) -> Result<Vec<ClaimedDelivery>, RepoError> {
        let enabled_hooks = Query::select()
            .column(hook_rows::Column::Id)
            .from(hook_rows::Entity)
            .and_where(Expr::col(hook_rows::Column::Enabled).eq(true))
            .to_owned();
        // On PostgreSQL, rows another claimer has locked are skipped rather than waited for, and the claim is one
        // statement: a row is leased to one claimer. SQLite has no row locks (the builder leaves the clause out)
        // and runs one writer at a time, which gives the same guarantee.
        let due = Query::select()
            .column(D::Id)
            .from(delivery_rows::Entity)
            .and_where(Expr::col(D::Status).eq(DeliveryStatus::Pending.as_str()))
            .and_where(Expr::col(D::NextAttemptAt).lte(now.as_millis()))
            .and_where(Expr::col(D::LeaseUntil).is_null().or(Expr::col(D::LeaseUntil).lte(now.as_millis())))
            .and_where(Expr::col(D::HookId).in_subquery(enabled_hooks))
            .order_by(D::NextAttemptAt, sea_orm::Order::Asc)
            .limit(limit)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let claimed = delivery_rows::Entity::update_many()
            .col_expr(D::LeaseUntil, Expr::value(lease_until.as_millis()))
            .filter(D::Id.in_subquery(due))
            .exec_with_returning(&self.db)
            .await
            .map_err(unavailable)?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let hook_ids: Vec<String> = claimed.iter().map(|row| row.hook_id.clone()).collect();
        let hooks: Vec<Hook> = hook_rows::Entity::find()
            .filter(hook_rows::Column::Id.is_in(hook_ids))
            .all(&self.db)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(hook_from_row)
            .collect::<Result<_, _>>()?;
        let mut result = Vec::with_capacity(claimed.len());
        for row in claimed {
            let delivery = delivery_from_row(row)?;
            // A hook deleted since the claim took its deliveries with it.
            let Some(hook) = hooks.iter().find(|hook| hook.id == delivery.hook_id) else { continue };
            result.push(ClaimedDelivery {
                url: hook.config.url.clone(),
                headers: hook.config.headers.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect(),
                signing_key: hook.signing_key.clone(),
                delivery,
            });
        }
        result.sort_by_key(|claimed| claimed.delivery.next_attempt_at);
        Ok(result)
    }

    async fn record_attempt(&self, record: &AttemptRecord) -> Result<(), RepoError> {
        let (status, next_attempt_at) = match record.result {
            AttemptResult::Delivered => (DeliveryStatus::Delivered, None),
            AttemptResult::RetryAt(at) => (DeliveryStatus::Pending, Some(at)),
            AttemptResult::Failed => (DeliveryStatus::Failed, None),
        };
        let outcome = &record.outcome;
        let mut update = delivery_rows::Entity::update_many()
            .col_expr(D::Status, Expr::value(status.as_str()))
            .col_expr(D::Attempts, Expr::value(i32::try_from(record.attempt).unwrap_or(i32::MAX)))
            .col_expr(D::LeaseUntil, Expr::value(Option::<i64>::None))
            .col_expr(D::LastAttemptAt, Expr::value(record.at.as_millis()))
            .col_expr(D::ResponseStatus, Expr::value(outcome.response_status.map(i32::from)))
            .col_expr(D::ResponseBody, Expr::value(outcome.response_body.clone()))
            .col_expr(D::Error, Expr::value(outcome.error.clone()));
        if let Some(at) = next_attempt_at {
            update = update.col_expr(D::NextAttemptAt, Expr::value(at.as_millis()));
        }
        update.filter(D::Id.eq(record.delivery_id.as_str())).exec(&self.db).await.map_err(unavailable)?;
        Ok(())
    }

    async fn list(&self, filter: &DeliveryFilter, pagination: Pagination) -> Result<Page<HookDelivery>, RepoError> {
        let mut query = delivery_rows::Entity::find()
            .filter(D::HookId.eq(filter.hook_id.as_str()))
            .filter(D::CreatedAt.gte(filter.since.as_millis()));
        if let Some(event) = &filter.event {
            query = query.filter(D::Event.eq(event.as_str()));
        }
        let total = query.clone().count(&self.db).await.map_err(unavailable)?;
        let rows = query
            .order_by_desc(D::CreatedAt)
            .order_by_desc(D::Id)
            .offset(pagination.offset())
            .limit(pagination.page_size)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(Page { items: rows.into_iter().map(delivery_from_row).collect::<Result<_, _>>()?, total })
    }

    async fn find(&self, hook_id: &str, delivery_id: &str) -> Result<Option<HookDelivery>, RepoError> {
        let row = delivery_rows::Entity::find_by_id(delivery_id)
            .filter(D::HookId.eq(hook_id))
            .one(&self.db)
            .await
            .map_err(unavailable)?;
        row.map(delivery_from_row).transpose()
    }

    async fn stats(&self, hook_id: &str, since: Timestamp) -> Result<ExecutionStats, RepoError> {
        let of_hook = || {
            delivery_rows::Entity::find()
                .filter(D::HookId.eq(hook_id))
                .filter(D::CreatedAt.gte(since.as_millis()))
                .filter(D::Attempts.gt(0))
        };
        let request_count = of_hook().count(&self.db).await.map_err(unavailable)?;
        let success_count = of_hook()
            .filter(D::Status.eq(DeliveryStatus::Delivered.as_str()))
            .count(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(ExecutionStats { request_count, success_count })
    }

    async fn redeliver(&self, hook_id: &str, delivery_id: &str, now: Timestamp) -> Result<HookDelivery, RepoError> {
        let updated = delivery_rows::Entity::update_many()
            .col_expr(D::Status, Expr::value(DeliveryStatus::Pending.as_str()))
            .col_expr(D::Attempts, Expr::value(0))
            .col_expr(D::NextAttemptAt, Expr::value(now.as_millis()))
            .col_expr(D::LeaseUntil, Expr::value(Option::<i64>::None))
            .filter(D::Id.eq(delivery_id))
            .filter(D::HookId.eq(hook_id))
            .exec_with_returning(&self.db)
            .await
            .map_err(unavailable)?;
        updated.into_iter().next().map(delivery_from_row).ok_or(RepoError::NotFound)?
    }

    async fn purge_finished(&self, before: Timestamp) -> Result<u64, RepoError> {
        let deleted = delivery_rows::Entity::delete_many()
            .filter(D::Status.is_in([DeliveryStatus::Delivered.as_str(), DeliveryStatus::Failed.as_str()]))
            .filter(D::CreatedAt.lt(before.as_millis()))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(deleted.rows_affected)
    }
}
