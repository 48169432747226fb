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

/// What a deletion removed, in figures only.
pub struct Receipt;

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
/// the figures. Run inside a write transaction.
pub fn erase_account(
    conn: &mut DbConnection,
    account: Id<Account>,
    throttle_keys: &[Vec<u8>],
    now: Ts,
) -> DbResult<(Id<Receipt>, BTreeMap<String, i64>)> {
    let mut counts = count_rows(conn, account)?;
    counts.insert("accounts".into(), 1);
    counts.retain(|_, n| *n > 0);
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
        ))
        .execute(conn)?;
    Ok((id, counts))
}

/// Makes deleted rows unreadable from the files the database keeps, as far as
/// the database allows; call after the deleting transaction committed.
///
/// SQLite runs with `secure_delete`, which overwrites deleted content with
/// zeros; a truncating checkpoint moves those pages into the database file and
/// empties the write-ahead log, which held the old pages. Returns false when a
/// long reader kept the checkpoint from finishing.
///
/// PostgreSQL keeps dead row versions until VACUUM; this vacuums the tables
/// that held rows, so they leave the tables and indexes now rather than at the
/// next autovacuum.
pub fn scrub(conn: &mut DbConnection, tables: &[String]) -> DbResult<bool> {
    match conn {
        DbConnection::Sqlite(sqlite) => {
            #[derive(QueryableByName)]
            struct Checkpoint {
                #[diesel(sql_type = diesel::sql_types::Integer)]
                busy: i32,
            }
            for _ in 0..20 {
                let result: Checkpoint =
                    diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").get_result(sqlite)?;
                if result.busy == 0 {
                    return Ok(true);
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Ok(false)
        }
        DbConnection::Pg(pg) => {
            for table in tables {
                // Names come from the catalog, never from a request.
                pg.batch_execute(&format!("VACUUM {table}"))?;
            }
            Ok(true)
        }
    }
}
