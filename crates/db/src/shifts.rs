//! Shifts: the only windows in which a user's location is kept.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::schema::{accounts, shifts};
use crate::users::User;
use crate::{DbResult, Id, Ts};

#[derive(
    serde::Serialize, Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset,
)]
#[diesel(table_name = shifts, check_for_backend(MultiBackend), treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct Shift {
    pub id: Id<Shift>,
    pub account_id: Id<Account>,
    pub user_id: Id<User>,
    pub clock_in_at: Ts,
    pub clock_out_at: Option<Ts>,
    pub clock_in_lat: Option<f64>,
    pub clock_in_lon: Option<f64>,
    pub clock_out_lat: Option<f64>,
    pub clock_out_lon: Option<f64>,
    pub closed_by: Option<String>,
    pub distance_m: Option<f64>,
    pub created_at: Ts,
    pub updated_at: Ts,
}

/// Whether a unique violation came from the one-open-shift-per-user index.
pub fn is_already_open(err: &crate::DbError) -> bool {
    matches!(err, crate::DbError::UniqueViolation { target } if target.contains("one_open") || target.contains("shifts.user_id"))
}

pub fn insert(conn: &mut DbConnection, shift: &Shift) -> DbResult<()> {
    diesel::insert_into(shifts::table)
        .values(shift)
        .execute(conn)?;
    Ok(())
}

pub fn save(conn: &mut DbConnection, shift: &Shift) -> DbResult<()> {
    diesel::update(shifts::table.find(shift.id))
        .set(shift)
        .execute(conn)?;
    Ok(())
}

pub fn find(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<Shift>,
) -> DbResult<Option<Shift>> {
    Ok(shifts::table
        .filter(shifts::account_id.eq(account))
        .find(id)
        .select(Shift::as_select())
        .first(conn)
        .optional()?)
}

/// Loads `$query`'s shifts with a row lock on PostgreSQL (`for_update` or
/// `for_share`) and plainly on SQLite, whose writers hold the one write lock.
macro_rules! locked {
    ($conn:expr, $query:expr, $lock:ident, $load:ident) => {
        match $conn {
            DbConnection::Pg(pg) => $query.select(Shift::as_select()).$lock().$load(pg),
            DbConnection::Sqlite(sqlite) => $query.select(Shift::as_select()).$load(sqlite),
        }
    };
}

/// The user's open shift, if any, to show; `open_of_for_close` reads it to close it.
pub fn open_of(conn: &mut DbConnection, user: Id<User>) -> DbResult<Option<Shift>> {
    Ok(shifts::table
        .filter(shifts::user_id.eq(user))
        .filter(shifts::clock_out_at.is_null())
        .select(Shift::as_select())
        .first(conn)
        .optional()?)
}

/// The user's open shift, read to be closed (see `find_for_close`).
pub fn open_of_for_close(conn: &mut DbConnection, user: Id<User>) -> DbResult<Option<Shift>> {
    let query = shifts::table
        .filter(shifts::user_id.eq(user))
        .filter(shifts::clock_out_at.is_null());
    Ok(locked!(conn, query, for_update, first).optional()?)
}

/// The shift, read to be closed inside a write transaction. On PostgreSQL the
/// row is locked, so the close waits for any ping batch that read the shift
/// open (`of_user_between` share-locks it) and then sees what that batch stored.
pub fn find_for_close(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<Shift>,
) -> DbResult<Option<Shift>> {
    let query = shifts::table
        .filter(shifts::account_id.eq(account))
        .find(id);
    Ok(locked!(conn, query, for_update, first).optional()?)
}

/// The user's shifts that may contain a time in `[from, to]`: one query per
/// ping batch. Run inside the transaction that stores the pings: on
/// PostgreSQL the rows are share-locked, so a close waits for the batch to
/// commit and then removes what it stored past the close (SQLite's writers
/// take turns anyway).
pub fn of_user_between(
    conn: &mut DbConnection,
    user: Id<User>,
    from: Ts,
    to: Ts,
) -> DbResult<Vec<Shift>> {
    let query = shifts::table
        .filter(shifts::user_id.eq(user))
        .filter(shifts::clock_in_at.le(to))
        .filter(
            shifts::clock_out_at
                .is_null()
                .or(shifts::clock_out_at.ge(from)),
        )
        .order(shifts::clock_in_at.asc());
    Ok(locked!(conn, query, for_share, load)?)
}

pub struct Filter {
    pub account: Id<Account>,
    pub user: Option<Id<User>>,
    /// Shifts that started at or after this time.
    pub from: Option<Ts>,
    /// Shifts that started before this time.
    pub to: Option<Ts>,
    pub after: Option<Id<Shift>>,
    pub limit: i64,
}

/// Shifts in start order (ids are time-ordered, clock-in is their creation).
pub fn list(conn: &mut DbConnection, filter: &Filter) -> DbResult<Vec<Shift>> {
    let mut query = shifts::table
        .filter(shifts::account_id.eq(filter.account))
        .select(Shift::as_select())
        .order(shifts::id.asc())
        .limit(filter.limit)
        .into_boxed();
    if let Some(user) = filter.user {
        query = query.filter(shifts::user_id.eq(user));
    }
    if let Some(from) = filter.from {
        query = query.filter(shifts::clock_in_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(shifts::clock_in_at.lt(to));
    }
    if let Some(after) = filter.after {
        query = query.filter(shifts::id.gt(after));
    }
    Ok(query.load(conn)?)
}

/// Open shifts of the account, oldest first.
pub fn open_in_account(conn: &mut DbConnection, account: Id<Account>) -> DbResult<Vec<Shift>> {
    Ok(shifts::table
        .filter(shifts::account_id.eq(account))
        .filter(shifts::clock_out_at.is_null())
        .order(shifts::clock_in_at.asc())
        .select(Shift::as_select())
        .load(conn)?)
}

/// Open shifts, in any account, that have run past their account's maximum.
pub fn overdue(conn: &mut DbConnection, now: Ts) -> DbResult<Vec<(Shift, i32)>> {
    let open: Vec<(Shift, i32)> = shifts::table
        .inner_join(accounts::table)
        .filter(shifts::clock_out_at.is_null())
        .select((Shift::as_select(), accounts::max_shift_hours))
        .load(conn)?;
    Ok(open
        .into_iter()
        .filter(|(shift, hours)| {
            shift.clock_in_at.get() + chrono::Duration::hours(i64::from(*hours)) <= now.get()
        })
        .collect())
}
