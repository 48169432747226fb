//! Attempt counts per keyed hash and fixed window, kept in the database so
//! every API process sharing it applies one limit (an in-process limiter would
//! let N processes allow N times as many). Sign-ins, password confirmations,
//! signups per address and answers that an email address is taken count here.

use diesel::prelude::*;

use crate::connection::DbConnection;
use crate::schema::login_failures;
use crate::{DbResult, Ts};

/// Counts one attempt for `key` in the window starting at `window_start` and
/// returns the count with it, in one statement: attempts made at the same
/// moment each get a count of their own, so none slips under a limit that
/// another already reached.
pub fn hit(conn: &mut DbConnection, key: &[u8], window_start: Ts) -> DbResult<i32> {
    let upsert = diesel::insert_into(login_failures::table)
        .values((
            login_failures::key_hash.eq(key),
            login_failures::window_start.eq(window_start),
            login_failures::failures.eq(1),
        ))
        .on_conflict((login_failures::key_hash, login_failures::window_start))
        .do_update()
        .set(login_failures::failures.eq(login_failures::failures + 1))
        .returning(login_failures::failures);
    // Upserts need the backend's own connection (not the multi connection).
    Ok(match conn {
        DbConnection::Pg(pg) => upsert.get_result(pg)?,
        DbConnection::Sqlite(sqlite) => upsert.get_result(sqlite)?,
    })
}

/// Takes back one attempt counted by [`hit`] (one that turned out good).
pub fn forgive(conn: &mut DbConnection, key: &[u8], window_start: Ts) -> DbResult<()> {
    diesel::update(
        login_failures::table
            .filter(login_failures::key_hash.eq(key))
            .filter(login_failures::window_start.eq(window_start))
            .filter(login_failures::failures.gt(0)),
    )
    .set(login_failures::failures.eq(login_failures::failures - 1))
    .execute(conn)?;
    Ok(())
}

/// Attempts counted for `key` in the window starting at `window_start`.
pub fn count(conn: &mut DbConnection, key: &[u8], window_start: Ts) -> DbResult<i32> {
    Ok(login_failures::table
        .filter(login_failures::key_hash.eq(key))
        .filter(login_failures::window_start.eq(window_start))
        .select(login_failures::failures)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Forgets the failures of a key (after a successful login).
pub fn clear(conn: &mut DbConnection, key: &[u8]) -> DbResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::key_hash.eq(key))).execute(conn)?;
    Ok(())
}

/// Drops windows that ended before `before`.
pub fn prune(conn: &mut DbConnection, before: Ts) -> DbResult<usize> {
    Ok(
        diesel::delete(login_failures::table.filter(login_failures::window_start.lt(before)))
            .execute(conn)?,
    )
}
