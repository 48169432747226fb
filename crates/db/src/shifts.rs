//! Shifts: the only windows in which a user's location is kept.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::pings::Ping;
use crate::schema::{accounts, shifts};
use crate::types::sql::{DbTimestamp, DbUuid};
use crate::users::User;
use crate::{DbResult, Id, Ts};

/// A shift as it is shown and saved. How much of an open shift's distance is
/// counted is kept beside it (`Count`), out of this struct: `save` writes every
/// field here, and must never put back a count or version read before a batch.
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

/// How far an open shift's trail is counted (its distance is not stored until
/// it closes), as of one version of its positions. See the migration
/// `shifts_count_their_distance` for the columns.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Count {
    /// Raised by every transaction that stores or deletes the shift's positions.
    pub version: i64,
    /// The earliest time among the positions stored since `counted` was recorded.
    pub uncounted_from: Option<Ts>,
    pub counted: Option<Counted>,
}

/// The trail's length from its first position to `until`, and where that was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counted {
    pub metres: f64,
    /// The last position counted, by the order of a trail: (recorded_at, id).
    pub until: (Ts, Id<Ping>),
    pub lat: f64,
    pub lon: f64,
}

type CountColumns = (
    shifts::id,
    shifts::trail_version,
    shifts::uncounted_from,
    shifts::counted_m,
    shifts::counted_until_at,
    shifts::counted_until_id,
    shifts::counted_until_lat,
    shifts::counted_until_lon,
);
const COUNT_COLUMNS: CountColumns = (
    shifts::id,
    shifts::trail_version,
    shifts::uncounted_from,
    shifts::counted_m,
    shifts::counted_until_at,
    shifts::counted_until_id,
    shifts::counted_until_lat,
    shifts::counted_until_lon,
);
type CountRow = (
    Id<Shift>,
    i64,
    Option<Ts>,
    Option<f64>,
    Option<Ts>,
    Option<Id<Ping>>,
    Option<f64>,
    Option<f64>,
);

fn count_of(row: CountRow) -> (Id<Shift>, Count) {
    let (id, version, uncounted_from, metres, at, ping, lat, lon) = row;
    let counted = match (metres, at, ping, lat, lon) {
        (Some(metres), Some(at), Some(ping), Some(lat), Some(lon)) => Some(Counted {
            metres,
            until: (at, ping),
            lat,
            lon,
        }),
        _ => None,
    };
    (
        id,
        Count {
            version,
            uncounted_from,
            counted,
        },
    )
}

/// How far each of these shifts' trails is counted, in one query.
pub fn counts_of(
    conn: &mut DbConnection,
    shifts: &[Id<Shift>],
) -> DbResult<Vec<(Id<Shift>, Count)>> {
    if shifts.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<CountRow> = shifts::table
        .filter(shifts::id.eq_any(shifts))
        .select(COUNT_COLUMNS)
        .load(conn)?;
    Ok(rows.into_iter().map(count_of).collect())
}

/// Records `counted` as the shift's count, if no transaction stored or deleted
/// its positions since the count was read at `version` (it counted those
/// positions and no others): whether it was recorded. Nothing is left
/// uncounted then.
pub fn record_count(
    conn: &mut DbConnection,
    shift: Id<Shift>,
    version: i64,
    counted: &Counted,
) -> DbResult<bool> {
    let updated = diesel::update(
        shifts::table
            .find(shift)
            .filter(shifts::trail_version.eq(version)),
    )
    .set((
        shifts::uncounted_from.eq(None::<Ts>),
        shifts::counted_m.eq(counted.metres),
        shifts::counted_until_at.eq(counted.until.0),
        shifts::counted_until_id.eq(counted.until.1),
        shifts::counted_until_lat.eq(counted.lat),
        shifts::counted_until_lon.eq(counted.lon),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Notes that positions recorded from `earliest` on were stored into the
/// shift: run in the transaction that stores them, one statement a shift.
pub fn note_stored(conn: &mut DbConnection, shift: Id<Shift>, earliest: Ts) -> DbResult<()> {
    crate::natively!(conn, |c| NoteStored { shift, earliest }.execute(c))?;
    Ok(())
}

/// `note_stored`'s `UPDATE`, written out so that each connection prepares it
/// once (`prepared_once!`): it runs with every batch of positions stored.
struct NoteStored {
    shift: Id<Shift>,
    earliest: Ts,
}

crate::connection::prepared_once!(NoteStored);

impl<DB> diesel::query_builder::QueryFragment<DB> for NoteStored
where
    DB: crate::connection::WrittenOutBinds,
    Id<Shift>: diesel::serialize::ToSql<DbUuid, DB>,
    Ts: diesel::serialize::ToSql<DbTimestamp, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql(
            "UPDATE shifts SET trail_version = trail_version + 1, \
             uncounted_from = CASE WHEN uncounted_from IS NULL OR uncounted_from > ",
        );
        out.push_bind_param::<DbTimestamp, _>(&self.earliest)?;
        out.push_sql(" THEN ");
        out.push_bind_param::<DbTimestamp, _>(&self.earliest)?;
        out.push_sql(" ELSE uncounted_from END WHERE id = ");
        out.push_bind_param::<DbUuid, _>(&self.shift)
    }
}

/// Forgets the counts of these shifts, in the transaction that deletes some of
/// their positions: a count never includes a deleted position, and a read
/// that counted them before the delete cannot record its count after it.
pub fn forget_counts(conn: &mut DbConnection, shifts: &[Id<Shift>]) -> DbResult<usize> {
    if shifts.is_empty() {
        return Ok(0);
    }
    Ok(
        diesel::update(shifts::table.filter(shifts::id.eq_any(shifts)))
            .set((
                shifts::trail_version.eq(shifts::trail_version + 1),
                shifts::uncounted_from.eq(None::<Ts>),
                shifts::counted_m.eq(None::<f64>),
                shifts::counted_until_at.eq(None::<Ts>),
                shifts::counted_until_id.eq(None::<Id<Ping>>),
                shifts::counted_until_lat.eq(None::<f64>),
                shifts::counted_until_lon.eq(None::<f64>),
            ))
            .execute(conn)?,
    )
}

/// The account's shifts that began before `before` and whose distance is
/// counted rather than stored: those whose count a purge of positions
/// recorded before `before` may change.
pub fn counted_begun_before(
    conn: &mut DbConnection,
    account: Id<Account>,
    before: Ts,
) -> DbResult<Vec<Id<Shift>>> {
    Ok(shifts::table
        .filter(shifts::account_id.eq(account))
        .filter(shifts::clock_in_at.lt(before))
        .filter(shifts::distance_m.is_null())
        .select(shifts::id)
        .load(conn)?)
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
/// open (`of_user_between` key-share-locks it) and then sees what that batch stored.
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
/// PostgreSQL the rows are key-share-locked, so a close waits for the batch
/// to commit and then removes what it stored past the close (SQLite's writers
/// take turns anyway). A key share, not a share: the batch then updates the
/// shift's count version (`note_stored`), and concurrent batches of the same
/// person that each held a share lock and wanted to update would deadlock.
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
    Ok(locked!(conn, query, for_key_share, load)?)
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
