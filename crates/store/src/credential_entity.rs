//! The sea-orm entities of applications, sessions, refresh tokens, personal access tokens and subject tokens (see the
//! migration `m20261126_000001_create_credentials`). Crate-private. Secret columns hold SHA-256 digests; `Debug`
//! leaves them out all the same, since a digest is a lookup key.

pub(crate) mod applications {
    use std::fmt;

    use sea_orm::entity::prelude::*;

    #[derive(Clone, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "applications")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub description: Option<String>,
        /// Logto's type name (`MachineToMachine`, `Traditional`, `SPA`, `Native`).
        pub app_type: String,
        #[sea_orm(column_type = "JsonBinary")]
        pub secrets: Json,
        #[sea_orm(column_type = "JsonBinary")]
        pub oidc_client_metadata: Json,
        #[sea_orm(column_type = "JsonBinary")]
        pub custom_client_metadata: Json,
        #[sea_orm(column_type = "JsonBinary")]
        pub custom_data: Json,
        pub is_third_party: bool,
        #[sea_orm(column_type = "JsonBinary")]
        pub roles: Json,
        pub created_at: i64,
        pub version: i64,
    }

    impl fmt::Debug for Model {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("applications::Model").field("id", &self.id).finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod sessions {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: String,
        pub client_id: String,
        pub created_at: i64,
        pub last_active_at: i64,
        pub expires_at: i64,
        pub revoked_at: Option<i64>,
        pub revoke_reason: Option<String>,
        pub user_agent: Option<String>,
        pub ip: Option<String>,
        /// Space-separated, as OAuth writes scopes.
        pub scopes: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod refresh_tokens {
    use std::fmt;

    use sea_orm::entity::prelude::*;

    #[derive(Clone, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub session_id: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub used_at: Option<i64>,
    }

    impl fmt::Debug for Model {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("refresh_tokens::Model").field("session_id", &self.session_id).finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod personal_access_tokens {
    use std::fmt;

    use sea_orm::entity::prelude::*;

    #[derive(Clone, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "personal_access_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: String,
        pub name: String,
        pub value_hash: String,
        #[sea_orm(column_type = "JsonBinary")]
        pub scopes: Json,
        pub created_at: i64,
        pub expires_at: Option<i64>,
        pub last_used_at: Option<i64>,
        pub revoked_at: Option<i64>,
    }

    impl fmt::Debug for Model {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("personal_access_tokens::Model").field("id", &self.id).finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod subject_tokens {
    use std::fmt;

    use sea_orm::entity::prelude::*;

    #[derive(Clone, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "subject_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub user_id: String,
        #[sea_orm(column_type = "JsonBinary")]
        pub context: Json,
        pub creator_id: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub consumed_at: Option<i64>,
    }

    impl fmt::Debug for Model {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("subject_tokens::Model").field("user_id", &self.user_id).finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
