//! Embedded migrations, one set per backend with the same names.

use std::collections::BTreeMap;

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::sql_types::{Integer, Text};
use diesel::{QueryableByName, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::connection::{DbConnection, MultiBackend};
use crate::{DbError, DbResult};

pub const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
pub const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Any fixed number: every fieldcrm process takes this advisory lock to migrate,
/// so several processes starting together on one PostgreSQL migrate once.
const MIGRATION_LOCK: i64 = 0x6669_656c_6463_726d;

/// Applies the pending migrations and returns the names applied, without a
/// statement timeout: a migration's length is the data's size.
pub fn run_pending(conn: &mut DbConnection) -> DbResult<Vec<String>> {
    crate::without_statement_timeout(conn, run_all_pending)
}

fn run_all_pending(conn: &mut DbConnection) -> DbResult<Vec<String>> {
    let failed =
        |err: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(err.to_string());
    match conn {
        DbConnection::Pg(pg) => {
            pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
            let applied = pg.run_pending_migrations(POSTGRES).map(|v| names(&v));
            pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
            applied.map_err(failed)
        }
        DbConnection::Sqlite(sqlite) => sqlite
            .run_pending_migrations(SQLITE)
            .map(|v| names(&v))
            .map_err(failed),
    }
}

fn names(versions: &[diesel::migration::MigrationVersion<'_>]) -> Vec<String> {
    versions.iter().map(ToString::to_string).collect()
}

/// The names of the embedded migrations of each backend, in order.
pub fn embedded_names() -> DbResult<(Vec<String>, Vec<String>)> {
    let list = |source: &EmbeddedMigrations, pg: bool| -> DbResult<Vec<String>> {
        let names = if pg {
            MigrationSource::<diesel::pg::Pg>::migrations(source)
                .map(|ms| ms.iter().map(|m| m.name().to_string()).collect())
        } else {
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(source)
                .map(|ms| ms.iter().map(|m| m.name().to_string()).collect())
        };
        names.map_err(|err| DbError::Migration(err.to_string()))
    };
    Ok((list(&POSTGRES, true)?, list(&SQLITE, false)?))
}

/// One column as the database catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
#[diesel(check_for_backend(MultiBackend))]
pub struct CatalogColumn {
    #[diesel(sql_type = Text)]
    pub table_name: String,
    #[diesel(sql_type = Text)]
    pub column_name: String,
    #[diesel(sql_type = Integer)]
    pub nullable: i32,
}

/// Every application table and its columns, read from the database catalog
/// (never from a hand-written list), without diesel's own bookkeeping table.
pub fn catalog(conn: &mut DbConnection) -> DbResult<BTreeMap<String, Vec<(String, bool)>>> {
    let sql = match conn {
        DbConnection::Pg(_) => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name,
                    (is_nullable = 'YES')::int4 AS nullable
             FROM information_schema.columns
             WHERE table_schema = current_schema()
               AND table_name <> '__diesel_schema_migrations'
             ORDER BY table_name, column_name"
        }
        DbConnection::Sqlite(_) => {
            "SELECT m.name AS table_name, p.name AS column_name, 1 - p.\"notnull\" AS nullable
             FROM sqlite_master m JOIN pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
               AND m.name <> '__diesel_schema_migrations'
             ORDER BY m.name, p.name"
        }
    };
    let rows: Vec<CatalogColumn> = diesel::sql_query(sql).load(conn)?;
    let mut tables: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for row in rows {
        tables
            .entry(row.table_name)
            .or_default()
            .push((row.column_name, row.nullable != 0));
    }
    Ok(tables)
}
