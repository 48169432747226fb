//! GPS pings: stored in one insert per batch.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::schema::{ping_counts, pings};
use crate::shifts::{self, Shift};
use crate::users::User;
use crate::{DbResult, Id, Ts};

#[derive(serde::Serialize, Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = pings, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct Ping {
    pub user_id: Id<User>,
    /// Made by the device.
    pub id: Id<Ping>,
    pub account_id: Id<Account>,
    pub shift_id: Id<Shift>,
    pub recorded_at: Ts,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub speed_mps: Option<f64>,
    pub heading_deg: Option<f64>,
    pub received_at: Ts,
}

/// Inserts the pings, skipping ids the user has sent before; returns how many
/// were new. One statement for the whole batch.
pub fn insert_new(conn: &mut DbConnection, batch: &[Ping]) -> DbResult<usize> {
    if batch.is_empty() {
        return Ok(0);
    }
    // Each backend's batch insert and ON CONFLICT need its own connection.
    Ok(match conn {
        DbConnection::Pg(pg) => insert_new_as_arrays(pg, batch)?,
        DbConnection::Sqlite(sqlite) => diesel::insert_into(pings::table)
            .values(batch)
            .on_conflict((pings::user_id, pings::id))
            .do_nothing()
            .execute(sqlite)?,
    })
}

/// PostgreSQL gets one array per column, unnested into rows: eleven
/// parameters whatever the batch's size, where a VALUES list has eleven per
/// ping (11,000 for a batch of 1000) for the server to parse and plan.
fn insert_new_as_arrays(pg: &mut diesel::PgConnection, batch: &[Ping]) -> QueryResult<usize> {
    use diesel::sql_types::{Array, Double, Nullable};

    use crate::types::sql::{DbTimestamp, DbUuid};

    fn column<T>(batch: &[Ping], of: impl Fn(&Ping) -> T) -> Vec<T> {
        batch.iter().map(of).collect()
    }
    diesel::sql_query(
        "INSERT INTO pings (user_id, id, account_id, shift_id, recorded_at, lat, lon, \
         accuracy_m, speed_mps, heading_deg, received_at) \
         SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (user_id, id) DO NOTHING",
    )
    .bind::<Array<DbUuid>, _>(column(batch, |p| p.user_id))
    .bind::<Array<DbUuid>, _>(column(batch, |p| p.id))
    .bind::<Array<DbUuid>, _>(column(batch, |p| p.account_id))
    .bind::<Array<DbUuid>, _>(column(batch, |p| p.shift_id))
    .bind::<Array<DbTimestamp>, _>(column(batch, |p| p.recorded_at))
    .bind::<Array<Double>, _>(column(batch, |p| p.lat))
    .bind::<Array<Double>, _>(column(batch, |p| p.lon))
    .bind::<Array<Nullable<Double>>, _>(column(batch, |p| p.accuracy_m))
    .bind::<Array<Nullable<Double>>, _>(column(batch, |p| p.speed_mps))
    .bind::<Array<Nullable<Double>>, _>(column(batch, |p| p.heading_deg))
    .bind::<Array<DbTimestamp>, _>(column(batch, |p| p.received_at))
    .execute(pg)
}

/// The id and time of the pings of these shifts recorded in `[from, to]`: what
/// a batch is judged against for resends and the per-person rate.
pub fn recorded_between(
    conn: &mut DbConnection,
    shifts: &[Id<Shift>],
    from: Ts,
    to: Ts,
) -> DbResult<Vec<(Id<Ping>, Ts)>> {
    Ok(pings::table
        .filter(pings::shift_id.eq_any(shifts))
        .filter(pings::recorded_at.between(from, to))
        .select((pings::id, pings::recorded_at))
        .load(conn)?)
}

/// Pings the account stored since `day_start` (midnight UTC), by the running
/// counts `count_stored` keeps.
pub fn stored_by_account_since(
    conn: &mut DbConnection,
    account: Id<Account>,
    day_start: Ts,
) -> DbResult<i64> {
    // One row per person who sent pings that day: summed here, since a SUM of
    // bigints is numeric, which the multi connection does not read.
    let per_person: Vec<i64> = ping_counts::table
        .filter(ping_counts::account_id.eq(account))
        .filter(ping_counts::day_start.eq(day_start))
        .select(ping_counts::stored)
        .load(conn)?;
    Ok(per_person.into_iter().sum())
}

/// Adds `n` to what the user stored on the day starting at `day_start`.
pub fn count_stored(
    conn: &mut DbConnection,
    account: Id<Account>,
    user: Id<User>,
    day_start: Ts,
    n: i64,
) -> DbResult<()> {
    let upsert = diesel::insert_into(ping_counts::table)
        .values((
            ping_counts::user_id.eq(user),
            ping_counts::day_start.eq(day_start),
            ping_counts::account_id.eq(account),
            ping_counts::stored.eq(n),
        ))
        .on_conflict((ping_counts::user_id, ping_counts::day_start))
        .do_update()
        .set(ping_counts::stored.eq(ping_counts::stored + n));
    // Upserts need the backend's own connection (not the multi connection).
    match conn {
        DbConnection::Pg(pg) => upsert.execute(pg)?,
        DbConnection::Sqlite(sqlite) => upsert.execute(sqlite)?,
    };
    Ok(())
}

/// Forgets the daily counts of days before `before`.
pub fn forget_counts_before(conn: &mut DbConnection, before: Ts) -> DbResult<usize> {
    Ok(
        diesel::delete(ping_counts::table.filter(ping_counts::day_start.lt(before)))
            .execute(conn)?,
    )
}

/// Where and when each of the shift's pings was recorded, in time order: only
/// the three columns a route needs, as a shift can hold tens of thousands of
/// pings. The caller has found the shift in its account; filtering by account
/// here too would invite the planner to walk the whole account's pings by the
/// (account, time) index instead of the shift's.
pub fn positions_of_shift(
    conn: &mut DbConnection,
    shift: Id<Shift>,
) -> DbResult<Vec<(Ts, f64, f64)>> {
    Ok(pings::table
        .filter(pings::shift_id.eq(shift))
        .order((pings::recorded_at.asc(), pings::id.asc()))
        .select((pings::recorded_at, pings::lat, pings::lon))
        .load(conn)?)
}

/// A position of a trail: when, the ping's id (the two order a trail), where.
pub type Position = (Ts, Id<Ping>, f64, f64);

/// Up to `limit` of the shift's positions after the one keyed `after` (from
/// the first without it), in the order a trail is walked: by time, then id,
/// with each one's key. Read by the (shift, time) index from `after` on, so
/// counting on from where a count stopped costs what was stored after it.
pub fn positions_after(
    conn: &mut DbConnection,
    shift: Id<Shift>,
    after: Option<(Ts, Id<Ping>)>,
    limit: i64,
) -> DbResult<Vec<Position>> {
    let mut query = pings::table.filter(pings::shift_id.eq(shift)).into_boxed();
    if let Some((at, id)) = after {
        query = query
            .filter(pings::recorded_at.ge(at))
            .filter(pings::recorded_at.gt(at).or(pings::id.gt(id)));
    }
    Ok(query
        .order((pings::recorded_at.asc(), pings::id.asc()))
        .limit(limit)
        .select((pings::recorded_at, pings::id, pings::lat, pings::lon))
        .load(conn)?)
}

/// The newest ping of each of these shifts, one index lookup each: a single
/// `DISTINCT ON` query would sort every ping of the shifts instead.
pub fn latest_of_shifts(conn: &mut DbConnection, shifts: &[Id<Shift>]) -> DbResult<Vec<Ping>> {
    let mut latest = Vec::with_capacity(shifts.len());
    for shift in shifts {
        latest.extend(latest_of_shift(conn, *shift)?);
    }
    Ok(latest)
}

/// The newest ping of the shift.
pub fn latest_of_shift(conn: &mut DbConnection, shift: Id<Shift>) -> DbResult<Option<Ping>> {
    Ok(pings::table
        .filter(pings::shift_id.eq(shift))
        .order(pings::recorded_at.desc())
        .select(Ping::as_select())
        .first(conn)
        .optional()?)
}

/// Deletes the shift's pings recorded after `end`: a device whose clock runs
/// ahead may send them while the shift is open, and a shift keeps nothing past
/// its close. The shift's count of its distance is forgotten with them, in the
/// same transaction.
pub fn delete_recorded_after(
    conn: &mut DbConnection,
    shift: Id<Shift>,
    end: Ts,
) -> DbResult<usize> {
    conn.write_transaction(|conn| {
        let deleted = diesel::delete(
            pings::table
                .filter(pings::shift_id.eq(shift))
                .filter(pings::recorded_at.gt(end)),
        )
        .execute(conn)?;
        if deleted > 0 {
            shifts::forget_counts(conn, &[shift])?;
        }
        Ok(deleted)
    })
}

/// Deletes the account's pings recorded before `before`, and forgets the
/// counts of the distances they may have been in, in one transaction.
pub fn purge_older_than(
    conn: &mut DbConnection,
    account: Id<Account>,
    before: Ts,
) -> DbResult<usize> {
    conn.write_transaction(|conn| {
        let deleted = diesel::delete(
            pings::table
                .filter(pings::account_id.eq(account))
                .filter(pings::recorded_at.lt(before)),
        )
        .execute(conn)?;
        if deleted > 0 {
            let counted = shifts::counted_begun_before(conn, account, before)?;
            shifts::forget_counts(conn, &counted)?;
        }
        Ok(deleted)
    })
}
