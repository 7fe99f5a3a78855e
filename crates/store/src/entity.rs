//! The sea-orm entities. Crate-private: nothing outside the store sees a row, only domain types.

pub(crate) mod users {
    use std::fmt;

    use sea_orm::entity::prelude::*;

    /// One row of `users` (see the migration `m20261125_000001_create_users`). A deleted user's tombstone keeps the
    /// row as JSON, hence serde.
    #[derive(Clone, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub username: Option<String>,
        pub primary_email: Option<String>,
        /// `primary_email` lower-cased: the unique, case-insensitive look-up key.
        pub primary_email_key: Option<String>,
        pub primary_phone: Option<String>,
        pub name: Option<String>,
        pub avatar: Option<String>,
        #[sea_orm(column_type = "JsonBinary")]
        pub profile: Json,
        #[sea_orm(column_type = "JsonBinary")]
        pub custom_data: Json,
        #[sea_orm(column_type = "JsonBinary")]
        pub identities: Json,
        #[sea_orm(column_type = "JsonBinary")]
        pub logto_config: Json,
        #[sea_orm(column_type = "JsonBinary")]
        pub mfa_verifications: Json,
        pub password_digest: Option<String>,
        pub password_algorithm: Option<String>,
        pub is_suspended: bool,
        pub is_password_expired: bool,
        pub application_id: Option<String>,
        pub last_sign_in_at: Option<i64>,
        pub password_updated_at: Option<i64>,
        pub created_at: i64,
        pub updated_at: i64,
        pub version: i64,
    }

    // sea-orm wants `Debug` on models; a derived one would print the password digest and the sealed MFA secrets.
    impl fmt::Debug for Model {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("users::Model").field("id", &self.id).field("version", &self.version).finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
