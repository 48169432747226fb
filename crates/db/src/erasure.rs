//! Removing an account for good: every row, counted first, then deleted in one
//! transaction by the cascade from `accounts`, and the space it used scrubbed.

use std::collections::BTreeMap;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::DbConnection;
use crate::schema::{accounts, deletion_receipts, login_failures};
use crate::types::sql::DbUuid;
use crate::{migrations, DbResult, Id, Ts};

/// What a deletion removed, in figures only, and whether the database's files
/// are rid of it yet.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deletion_receipts, check_for_backend(crate::connection::MultiBackend))]
pub struct Receipt {
    pub id: Id<Receipt>,
    pub deleted_at: Ts,
    /// JSON: kind of record -> rows removed.
    pub counts: String,
    /// When `scrub` last succeeded for it; `None` while it is pending.
    pub scrubbed_at: Option<Ts>,
}

/// What `scrub` needs to finish a deletion's clean-up later, in another
/// process if need be (a job's payload): no data of the account.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ScrubPlan {
    pub receipt: Id<Receipt>,
    /// The tables that held rows of the account.
    pub tables: Vec<String>,
    /// PostgreSQL: the deleting transaction, so a scrub knows which readers
    /// may still see the rows.
    pub xid: Option<i64>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Rows of the account per table, for every table with an `account_id` column
/// (read from the catalog, so tables added later are counted too).
pub fn count_rows(
    conn: &mut DbConnection,
    account: Id<Account>,
) -> DbResult<BTreeMap<String, i64>> {
    let placeholder = match conn {
        DbConnection::Pg(_) => "$1",
        DbConnection::Sqlite(_) => "?",
    };
    let mut counts = BTreeMap::new();
    for (table, columns) in migrations::catalog(conn)? {
        if !columns.iter().any(|(name, _)| name == "account_id") {
            continue;
        }
        let count: Count = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM {table} WHERE account_id = {placeholder}"
        ))
        .bind::<DbUuid, _>(account)
        .get_result(conn)?;
        counts.insert(table, count.n);
    }
    Ok(counts)
}

/// Deletes the account and everything that cascades from it, and the login
/// throttle rows keyed by its people's emails; stores a receipt holding only
/// the figures. Run inside a write transaction; it runs without a statement
/// timeout, since its length is the account's size.
pub fn erase_account(
    conn: &mut DbConnection,
    account: Id<Account>,
    throttle_keys: &[Vec<u8>],
    now: Ts,
) -> DbResult<(ScrubPlan, BTreeMap<String, i64>)> {
    #[derive(QueryableByName)]
    struct Xid {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        xid: i64,
    }
    let xid = match conn {
        DbConnection::Pg(pg) => {
            pg.batch_execute("SET LOCAL statement_timeout = 0")?;
            let current: Xid =
                diesel::sql_query("SELECT pg_current_xact_id()::text::bigint AS xid")
                    .get_result(pg)?;
            Some(current.xid)
        }
        DbConnection::Sqlite(_) => None,
    };
    let mut counts = count_rows(conn, account)?;
    counts.insert("accounts".into(), 1);
    counts.retain(|_, n| *n > 0);
    if let DbConnection::Sqlite(sqlite) = conn {
        // SQLite gathers the row ids a delete removes in memory first: the
        // cascade from the account row took 16 bytes and more per ping at
        // once (64 MiB for 3.4 million). A chunk at a time bounds it, in the
        // same transaction. Nothing refers to a ping, so they can go first.
        let chunk = diesel::sql_query(
            "DELETE FROM pings WHERE rowid IN \
             (SELECT rowid FROM pings WHERE account_id = ? LIMIT 20000)",
        )
        .bind::<DbUuid, _>(account);
        while chunk.clone().execute(sqlite)? > 0 {}
    }
    diesel::delete(accounts::table.find(account)).execute(conn)?;
    if !throttle_keys.is_empty() {
        diesel::delete(
            login_failures::table.filter(login_failures::key_hash.eq_any(throttle_keys)),
        )
        .execute(conn)?;
    }
    let id = Id::new();
    let figures = serde_json::to_string(&counts).unwrap_or_else(|_| "{}".into());
    diesel::insert_into(deletion_receipts::table)
        .values((
            deletion_receipts::id.eq(id),
            deletion_receipts::deleted_at.eq(now),
            deletion_receipts::counts.eq(figures),
            deletion_receipts::scrubbed_at.eq(None::<Ts>),
        ))
        .execute(conn)?;
    let plan = ScrubPlan {
        receipt: id,
        tables: counts.keys().cloned().collect(),
        xid,
    };
    Ok((plan, counts))
}

/// Makes deleted rows unreadable from the files the database keeps, as far as
/// the database allows, without making anyone wait: call after the deleting
/// transaction committed, and again later while it returns false (some reader
/// that began before the deletion still needs the old rows). Records the time
/// on the receipt when it succeeds.
///
/// SQLite runs with `secure_delete`, which overwrites deleted content with
/// zeros; a truncating checkpoint moves those pages into the database file and
/// empties the write-ahead log, which held the old pages. It is tried without
/// waiting (busy timeout 0): a waiting checkpoint would hold off every other
/// writer meanwhile.
///
/// PostgreSQL keeps dead row versions until VACUUM, which cannot remove them
/// while a snapshot older than the deletion is open: once none is, this
/// vacuums the tables that held rows, so they leave the tables and indexes now
/// rather than at the next autovacuum.
pub fn scrub(conn: &mut DbConnection, plan: &ScrubPlan, now: Ts) -> DbResult<bool> {
    let done = match conn {
        DbConnection::Sqlite(sqlite) => {
            #[derive(QueryableByName)]
            struct Checkpoint {
                #[diesel(sql_type = diesel::sql_types::Integer)]
                busy: i32,
            }
            sqlite.batch_execute("PRAGMA busy_timeout = 0")?;
            let result = diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)")
                .get_result::<Checkpoint>(sqlite);
            sqlite.batch_execute("PRAGMA busy_timeout = 5000")?;
            match result {
                Ok(checkpoint) => checkpoint.busy == 0,
                Err(diesel::result::Error::DatabaseError(_, info))
                    if info.message().contains("locked") =>
                {
                    false
                }
                Err(other) => return Err(other.into()),
            }
        }
        DbConnection::Pg(pg) => {
            #[derive(QueryableByName)]
            struct Readers {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            // A snapshot whose xmin is not past the deleting transaction may
            // still see the rows; age() compares transaction ids across
            // wraparound.
            let older: Readers = diesel::sql_query(
                "WITH deleting AS (SELECT ($1 % 4294967296)::text::xid AS xid)
                 SELECT (SELECT count(*) FROM pg_stat_activity, deleting
                          WHERE datname = current_database() AND pid <> pg_backend_pid()
                            AND backend_xmin IS NOT NULL AND age(backend_xmin) >= age(deleting.xid))
                      + (SELECT count(*) FROM pg_replication_slots, deleting
                          WHERE xmin IS NOT NULL AND age(xmin) >= age(deleting.xid)) AS n",
            )
            .bind::<diesel::sql_types::BigInt, _>(plan.xid.unwrap_or(0))
            .get_result(pg)?;
            if older.n > 0 {
                false
            } else {
                crate::without_statement_timeout(conn, |conn| {
                    for table in &plan.tables {
                        // Names come from the catalog, never from a request.
                        conn.batch_execute(&format!("VACUUM {table}"))?;
                    }
                    Ok(())
                })?;
                true
            }
        }
    };
    if done {
        diesel::update(deletion_receipts::table.find(plan.receipt))
            .set(deletion_receipts::scrubbed_at.eq(Some(now)))
            .execute(conn)?;
    }
    Ok(done)
}

/// A receipt by its id.
pub fn receipt(conn: &mut DbConnection, id: Id<Receipt>) -> DbResult<Option<Receipt>> {
    Ok(deletion_receipts::table
        .find(id)
        .select(Receipt::as_select())
        .first(conn)
        .optional()?)
}
