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
