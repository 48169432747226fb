//! GPS pings: stored in one insert per batch.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::schema::{ping_counts, pings};
use crate::shifts::{self, Shift};
use crate::types::sql::{DbTimestamp, DbUuid};
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
    fn column<T>(batch: &[Ping], of: impl Fn(&Ping) -> T) -> Vec<T> {
        batch.iter().map(of).collect()
    }
    InsertAsArrays {
        user_id: column(batch, |p| p.user_id),
        id: column(batch, |p| p.id),
        account_id: column(batch, |p| p.account_id),
        shift_id: column(batch, |p| p.shift_id),
        recorded_at: column(batch, |p| p.recorded_at),
        lat: column(batch, |p| p.lat),
        lon: column(batch, |p| p.lon),
        accuracy_m: column(batch, |p| p.accuracy_m),
        speed_mps: column(batch, |p| p.speed_mps),
        heading_deg: column(batch, |p| p.heading_deg),
        received_at: column(batch, |p| p.received_at),
    }
    .execute(pg)
}

/// `insert_new_as_arrays`'s statement, written out so that each connection
/// prepares it once (`prepared_once!`): its text is the same for every batch.
struct InsertAsArrays {
    user_id: Vec<Id<User>>,
    id: Vec<Id<Ping>>,
    account_id: Vec<Id<Account>>,
    shift_id: Vec<Id<Shift>>,
    recorded_at: Vec<Ts>,
    lat: Vec<f64>,
    lon: Vec<f64>,
    accuracy_m: Vec<Option<f64>>,
    speed_mps: Vec<Option<f64>>,
    heading_deg: Vec<Option<f64>>,
    received_at: Vec<Ts>,
}

crate::connection::prepared_once!(InsertAsArrays);

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for InsertAsArrays {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Double, Nullable};
        out.push_sql(
            "INSERT INTO pings (user_id, id, account_id, shift_id, recorded_at, lat, lon, \
             accuracy_m, speed_mps, heading_deg, received_at) SELECT * FROM unnest(",
        );
        out.push_bind_param::<Array<DbUuid>, _>(&self.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<DbUuid>, _>(&self.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<DbUuid>, _>(&self.account_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<DbUuid>, _>(&self.shift_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<DbTimestamp>, _>(&self.recorded_at)?;
        for degrees in [&self.lat, &self.lon] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Double>, _>(degrees)?;
        }
        for optional in [&self.accuracy_m, &self.speed_mps, &self.heading_deg] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<Double>>, _>(optional)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Array<DbTimestamp>, _>(&self.received_at)?;
        out.push_sql(") ON CONFLICT (user_id, id) DO NOTHING");
        Ok(())
    }
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
    let upsert = CountStored {
        account,
        user,
        day_start,
        n,
    };
    crate::natively!(conn, |c| upsert.execute(c))?;
    Ok(())
}

/// `count_stored`'s upsert, written out so that each connection prepares it
/// once (`prepared_once!`): it runs with every batch of positions stored.
/// Both backends take this syntax.
struct CountStored {
    account: Id<Account>,
    user: Id<User>,
    day_start: Ts,
    n: i64,
}

crate::connection::prepared_once!(CountStored);

impl<DB> diesel::query_builder::QueryFragment<DB> for CountStored
where
    DB: crate::connection::WrittenOutBinds,
    Id<Account>: diesel::serialize::ToSql<DbUuid, DB>,
    Id<User>: diesel::serialize::ToSql<DbUuid, DB>,
    Ts: diesel::serialize::ToSql<DbTimestamp, DB>,
    i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        use diesel::sql_types::BigInt;
        out.push_sql("INSERT INTO ping_counts (user_id, day_start, account_id, stored) VALUES (");
        out.push_bind_param::<DbUuid, _>(&self.user)?;
        out.push_sql(", ");
        out.push_bind_param::<DbTimestamp, _>(&self.day_start)?;
        out.push_sql(", ");
        out.push_bind_param::<DbUuid, _>(&self.account)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.n)?;
        out.push_sql(
            ") ON CONFLICT (user_id, day_start) DO UPDATE SET stored = ping_counts.stored + ",
        );
        out.push_bind_param::<BigInt, _>(&self.n)
    }
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
