//! The portable schema, written by hand: `diesel print-schema` differs per
//! backend. A test keeps both migration sets producing the same tables and columns.

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    accounts (id) {
        id -> DbUuid,
        name -> Text,
        time_zone -> Text,
        default_country -> Text,
        created_at -> DbTimestamp,
        updated_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    users (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        name -> Text,
        email -> Text,
        password_hash -> Nullable<Text>,
        role -> Text,
        token_version -> Integer,
        created_at -> DbTimestamp,
        updated_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    refresh_tokens (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        user_id -> DbUuid,
        family_id -> DbUuid,
        token_hash -> Binary,
        created_at -> DbTimestamp,
        expires_at -> DbTimestamp,
        spent_at -> Nullable<DbTimestamp>,
        revoked_at -> Nullable<DbTimestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    api_keys (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        name -> Text,
        scope -> Text,
        prefix -> Text,
        secret_hash -> Binary,
        created_by -> Nullable<DbUuid>,
        created_at -> DbTimestamp,
        last_used_at -> Nullable<DbTimestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::DbTimestamp;

    login_failures (key_hash, window_start) {
        key_hash -> Binary,
        window_start -> DbTimestamp,
        failures -> Integer,
    }
}

diesel::joinable!(users -> accounts (account_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(api_keys -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    users,
    refresh_tokens,
    api_keys,
    login_failures
);
