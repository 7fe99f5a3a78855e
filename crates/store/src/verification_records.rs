//! Verification records of the Account API (migration `m20261202_000001_create_verification_records`):
//! [`SeaVerificationRecordRepository`], the domain's `VerificationRecordRepository`. Rows hold no secret: a code
//! record names its stored code by id, and the code itself is kept only as a digest (`verification_codes`).

use async_trait::async_trait;
use latchkey_domain::identifiers::{Email, Phone};
use latchkey_domain::passkey::PasskeyRegistration;
use latchkey_domain::ports::RepoError;
use latchkey_domain::verification_code::{CodePurpose, CodeRecipient};
use latchkey_domain::verification_record::{RecordKind, VerificationRecord, VerificationRecordRepository};
use latchkey_domain::{Timestamp, UserId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::db_errors::{corrupt, unavailable, write_error};

/// Records in `verification_records`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaVerificationRecordRepository {
    db: DatabaseConnection,
}

impl SeaVerificationRecordRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl VerificationRecordRepository for SeaVerificationRecordRepository {
    async fn insert(&self, record: &VerificationRecord) -> Result<(), RepoError> {
        use record_rows::{Column, Entity};
        Entity::delete_many()
            .filter(Column::ExpiresAt.lte(record.created_at.as_millis()))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        let KindColumns { recipient, purpose, code_id, state } = KindColumns::of(&record.kind);
        let row = record_rows::ActiveModel {
            id: Set(record.id.clone()),
            user_id: Set(record.user_id.as_str().to_owned()),
            session_id: Set(record.session_id.clone()),
            kind: Set(record.kind.type_name().to_owned()),
            recipient: Set(recipient),
            purpose: Set(purpose),
            code_id: Set(code_id),
            state: Set(state),
            verified: Set(record.verified),
            created_at: Set(record.created_at.as_millis()),
            expires_at: Set(record.expires_at.as_millis()),
        };
        Entity::insert(row).exec_without_returning(&self.db).await.map_err(write_error)?;
        Ok(())
    }

    async fn find(&self, id: &str) -> Result<Option<VerificationRecord>, RepoError> {
        let row = record_rows::Entity::find_by_id(id).one(&self.db).await.map_err(unavailable)?;
        row.map(from_row).transpose()
    }

    async fn mark_verified(&self, id: &str, kind: &RecordKind) -> Result<(), RepoError> {
        use record_rows::{Column, Entity};
        let KindColumns { recipient, purpose, code_id, state } = KindColumns::of(kind);
        let updated = Entity::update_many()
            .col_expr(Column::Verified, Expr::value(true))
            .col_expr(Column::Kind, Expr::value(kind.type_name()))
            .col_expr(Column::Recipient, Expr::value(recipient))
            .col_expr(Column::Purpose, Expr::value(purpose))
            .col_expr(Column::CodeId, Expr::value(code_id))
            .col_expr(Column::State, Expr::value(state))
            .filter(Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        if updated.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        Ok(())
    }
}

/// How a record's kind is spread over the row's columns.
struct KindColumns {
    recipient: Option<String>,
    purpose: Option<String>,
    code_id: Option<String>,
    state: Option<String>,
}

impl KindColumns {
    fn of(kind: &RecordKind) -> Self {
        match kind {
            RecordKind::Password => Self { recipient: None, purpose: None, code_id: None, state: None },
            RecordKind::Code { recipient, purpose, code_id } => Self {
                recipient: Some(recipient.address().to_owned()),
                purpose: Some(purpose.as_str().to_owned()),
                code_id: Some(code_id.clone()),
                state: None,
            },
            RecordKind::WebAuthn(registration) => {
                Self { recipient: None, purpose: None, code_id: None, state: Some(registration.to_state()) }
            }
            RecordKind::Social { connector_id, ceremony } => Self {
                recipient: None,
                purpose: None,
                code_id: Some(connector_id.clone()),
                state: serde_json::to_string(ceremony).ok(),
            },
        }
    }
}

fn from_row(row: record_rows::Model) -> Result<VerificationRecord, RepoError> {
    let unreadable = |reason: &str| corrupt("verification_records", &row.id, reason);
    let user_id = UserId::parse(&row.user_id).map_err(|_| unreadable("bad user id"))?;
    let kind = match row.kind.as_str() {
        "Password" => RecordKind::Password,
        kind @ ("EmailVerificationCode" | "PhoneVerificationCode") => {
            let address = row.recipient.as_deref().ok_or_else(|| unreadable("no recipient"))?;
            let recipient = if kind == "EmailVerificationCode" {
                CodeRecipient::Email(Email::parse(address).map_err(|_| unreadable("bad email"))?)
            } else {
                CodeRecipient::Phone(Phone::parse(address).map_err(|_| unreadable("bad phone"))?)
            };
            let purpose =
                row.purpose.as_deref().and_then(CodePurpose::parse).ok_or_else(|| unreadable("bad purpose"))?;
            let code_id = row.code_id.clone().ok_or_else(|| unreadable("no code id"))?;
            RecordKind::Code { recipient, purpose, code_id }
        }
        "WebAuthn" => {
            let state = row.state.as_deref().ok_or_else(|| unreadable("no state"))?;
            RecordKind::WebAuthn(PasskeyRegistration::from_state(state).map_err(|_| unreadable("bad state"))?)
        }
        "Social" => {
            let connector_id = row.code_id.clone().ok_or_else(|| unreadable("no connector id"))?;
            let state = row.state.as_deref().ok_or_else(|| unreadable("no state"))?;
            let ceremony = serde_json::from_str(state).map_err(|_| unreadable("bad state"))?;
            RecordKind::Social { connector_id, ceremony }
        }
        _ => return Err(unreadable("unknown kind")),
    };
    Ok(VerificationRecord {
        id: row.id,
        user_id,
        session_id: row.session_id,
        kind,
        verified: row.verified,
        created_at: Timestamp::from_millis(row.created_at),
        expires_at: Timestamp::from_millis(row.expires_at),
    })
}

mod record_rows {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "verification_records")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: String,
        pub session_id: String,
        pub kind: String,
        pub recipient: Option<String>,
        pub purpose: Option<String>,
        pub code_id: Option<String>,
        /// The ceremony state of WebAuthn and social records (JSON written by the domain).
        pub state: Option<String>,
        pub verified: bool,
        pub created_at: i64,
        pub expires_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
