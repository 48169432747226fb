//! The key that signs links sent to people, when the operator configures none.

use diesel::prelude::*;

use crate::connection::DbConnection;
use crate::schema::link_keys;
use crate::{DbResult, Ts};

/// The id of the key kept in the database, as it appears in the links it signs.
pub const STORED_KEY_ID: &str = "db";

/// The id of the key that seals webhook secrets when the operator configures
/// no encryption key.
pub const SEALING_KEY_ID: &str = "db-seal";

/// The stored key `id`, made from `candidate` by whichever process asks first:
/// every process then reads the same one.
pub fn get_or_create(conn: &mut DbConnection, id: &str, candidate: &[u8]) -> DbResult<Vec<u8>> {
    let insert = diesel::insert_into(link_keys::table)
        .values((
            link_keys::id.eq(id),
            link_keys::key.eq(candidate),
            link_keys::created_at.eq(Ts::now()),
        ))
        .on_conflict(link_keys::id)
        .do_nothing();
    // Upserts need the backend's own connection (not the multi connection).
    match conn {
        DbConnection::Pg(pg) => insert.execute(pg)?,
        DbConnection::Sqlite(sqlite) => insert.execute(sqlite)?,
    };
    Ok(link_keys::table
        .find(id)
        .select(link_keys::key)
        .first(conn)?)
}
