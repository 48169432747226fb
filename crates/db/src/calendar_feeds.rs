//! Secret iCalendar feed tokens, one per person, stored as hashes.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::DbConnection;
use crate::schema::calendar_feeds;
use crate::users::User;
use crate::{DbResult, Id, Ts};

/// Makes `hash` the person's only feed token: an earlier URL stops working.
pub fn replace(
    conn: &mut DbConnection,
    account: Id<Account>,
    user: Id<User>,
    hash: &[u8],
    now: Ts,
) -> DbResult<()> {
    conn.write_transaction(|conn| {
        diesel::delete(calendar_feeds::table.find(user)).execute(conn)?;
        diesel::insert_into(calendar_feeds::table)
            .values((
                calendar_feeds::user_id.eq(user),
                calendar_feeds::account_id.eq(account),
                calendar_feeds::token_hash.eq(hash),
                calendar_feeds::created_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// The account and person a token belongs to.
pub fn owner_of(conn: &mut DbConnection, hash: &[u8]) -> DbResult<Option<(Id<Account>, Id<User>)>> {
    Ok(calendar_feeds::table
        .filter(calendar_feeds::token_hash.eq(hash))
        .select((calendar_feeds::account_id, calendar_feeds::user_id))
        .first(conn)
        .optional()?)
}

pub fn delete(conn: &mut DbConnection, user: Id<User>) -> DbResult<bool> {
    Ok(diesel::delete(calendar_feeds::table.find(user)).execute(conn)? > 0)
}
