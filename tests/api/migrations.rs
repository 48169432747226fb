use std::collections::{BTreeMap, BTreeSet};

use diesel::connection::SimpleConnection;
use fieldcrm_db::{migrations, DatabaseUrl, DbConnection};
use fieldcrm_test_support::{skipped, TestDatabase};

#[test]
fn both_backends_have_the_same_migration_names() {
    let (postgres, sqlite) = migrations::embedded_names().unwrap();
    assert!(!postgres.is_empty());
    assert_eq!(postgres, sqlite);
}

fn migrated_catalog(db: &TestDatabase) -> Catalog {
    let mut conn = DbConnection::open(&DatabaseUrl::parse(db.url()).unwrap()).unwrap();
    let applied = migrations::run_pending(&mut conn).unwrap();
    assert!(!applied.is_empty());
    assert!(
        migrations::run_pending(&mut conn).unwrap().is_empty(),
        "a second run applies nothing"
    );
    migrations::catalog(&mut conn).unwrap()
}

type Catalog = BTreeMap<String, Vec<(String, bool)>>;

/// The tables, their columns and whether each is nullable, as
/// `crates/db/src/schema.rs` declares them to diesel (its `table!` blocks,
/// read as text), in the catalog's order.
fn compiled_schema() -> Catalog {
    let source = include_str!("../../crates/db/src/schema.rs");
    let mut tables = Catalog::new();
    let mut current: Option<String> = None;
    for line in source.lines().map(str::trim) {
        match &current {
            None => {
                // `people (id) {` opens a table; `diesel::table! {` does not.
                if let Some((name, _)) = line.strip_suffix('{').and_then(|l| l.split_once(" (")) {
                    current = Some(name.to_owned());
                }
            }
            Some(_) if line == "}" => current = None,
            Some(table) => {
                if let Some((column, sql_type)) = line.split_once(" -> ") {
                    tables
                        .entry(table.clone())
                        .or_default()
                        .push((column.to_owned(), sql_type.starts_with("Nullable<")));
                }
            }
        }
    }
    for columns in tables.values_mut() {
        columns.sort();
    }
    tables
}

/// What differs between a migrated database and the compiled schema, one line each.
fn differences(migrated: &Catalog, compiled: &Catalog) -> Vec<String> {
    let mut out = Vec::new();
    for table in migrated
        .keys()
        .chain(compiled.keys())
        .collect::<BTreeSet<_>>()
    {
        let (Some(built), Some(declared)) = (migrated.get(table), compiled.get(table)) else {
            let side = if migrated.contains_key(table) {
                "only in the migrations"
            } else {
                "only in schema.rs"
            };
            out.push(format!("table {table}: {side}"));
            continue;
        };
        let built: BTreeSet<_> = built.iter().collect();
        let declared: BTreeSet<_> = declared.iter().collect();
        for (column, nullable) in built.difference(&declared) {
            out.push(format!(
                "{table}.{column} (nullable: {nullable}): as migrated, not as declared"
            ));
        }
        for (column, nullable) in declared.difference(&built) {
            out.push(format!(
                "{table}.{column} (nullable: {nullable}): as declared, not as migrated"
            ));
        }
    }
    out
}

#[test]
fn the_compiled_schema_is_read_whole() {
    let compiled = compiled_schema();
    assert!(compiled.len() >= 20, "{:?}", compiled.keys());
    assert!(compiled["accounts"].contains(&("postal_address".to_owned(), true)));
    assert!(compiled["accounts"].contains(&("name".to_owned(), false)));
}

/// The SQLite migrations build exactly the tables, columns and nullability
/// that `schema.rs` declares to diesel.
#[test]
fn sqlite_migrations_build_the_compiled_schema() {
    let sqlite = migrated_catalog(&TestDatabase::sqlite());
    let wrong = differences(&sqlite, &compiled_schema());
    assert!(wrong.is_empty(), "SQLite:\n{}", wrong.join("\n"));
}

/// The same for the PostgreSQL migrations; so both sets build the same tables.
#[test]
fn postgres_migrations_build_the_compiled_schema() {
    let Some(admin) = TestDatabase::postgres_admin_url() else {
        return skipped("TEST_DATABASE_URL is not set: no PostgreSQL to migrate");
    };
    let postgres = migrated_catalog(&TestDatabase::postgres(&admin));
    let wrong = differences(&postgres, &compiled_schema());
    assert!(wrong.is_empty(), "PostgreSQL:\n{}", wrong.join("\n"));
}

#[test]
fn sqlite_connections_enforce_foreign_keys_and_use_wal() {
    let db = TestDatabase::sqlite();
    let mut conn = DbConnection::open(&DatabaseUrl::parse(db.url()).unwrap()).unwrap();
    migrations::run_pending(&mut conn).unwrap();
    conn.batch_execute(
        "CREATE TABLE t_child (account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE)",
    )
    .unwrap();
    let orphan =
        conn.batch_execute("INSERT INTO t_child VALUES (x'00000000000000000000000000000000')");
    assert!(
        orphan.is_err(),
        "a row pointing at no account must be refused"
    );

    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(mode.journal_mode, "wal");
}

/// Foreign keys whose columns lead no index, as `table(columns) -> parent`.
/// Deleting a parent row looks its children up by those columns; without an
/// index every such lookup reads the whole child table, every account's rows.
fn foreign_keys_without_an_index(conn: &mut DbConnection) -> Vec<String> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Unindexed {
        #[diesel(sql_type = diesel::sql_types::Text)]
        key: String,
    }
    let sql = match conn {
        // An index serves the key when its first columns are the key's, in
        // any order, and it holds every row (a partial one does not).
        DbConnection::Pg(_) => {
            "SELECT c.conrelid::regclass::text || '(' ||
                    array_to_string(ARRAY(SELECT attname FROM pg_attribute
                        WHERE attrelid = c.conrelid AND attnum = ANY (c.conkey) ORDER BY attnum), ',')
                    || ') -> ' || c.confrelid::regclass::text AS key
             FROM pg_constraint c
             WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
               AND NOT EXISTS (
                   SELECT 1 FROM pg_index i
                   WHERE i.indrelid = c.conrelid AND i.indpred IS NULL
                     AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
                     AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
             ORDER BY 1"
        }
        DbConnection::Sqlite(_) => {
            "WITH keys AS (
                 SELECT m.name AS tbl, f.id AS fk, f.\"table\" AS parent,
                        group_concat(f.\"from\", ',') AS cols, count(*) AS n
                 FROM sqlite_master m, pragma_foreign_key_list(m.name) f
                 WHERE m.type = 'table' GROUP BY m.name, f.id),
             leading AS (
                 SELECT m.name AS tbl, l.name AS idx, i.seqno, i.name AS col
                 FROM sqlite_master m, pragma_index_list(m.name) l, pragma_index_info(l.name) i
                 WHERE m.type = 'table' AND l.partial = 0)
             SELECT k.tbl || '(' || k.cols || ') -> ' || k.parent AS key FROM keys k
             WHERE NOT EXISTS (
                 SELECT 1 FROM leading a WHERE a.tbl = k.tbl AND k.n = (
                     SELECT count(*) FROM leading b
                     WHERE b.tbl = a.tbl AND b.idx = a.idx AND b.seqno < k.n
                       AND ',' || k.cols || ',' LIKE '%,' || b.col || ',%'))
             ORDER BY 1"
        }
    };
    diesel::sql_query(sql)
        .load::<Unindexed>(conn)
        .unwrap()
        .into_iter()
        .map(|row| row.key)
        .collect()
}

/// Every foreign key of the migrated schema is led by an index; a key added
/// without one is found (checked with a table made for the test).
fn every_foreign_key_is_led_by_an_index(db: &TestDatabase) {
    let mut conn = DbConnection::open(&DatabaseUrl::parse(db.url()).unwrap()).unwrap();
    migrations::run_pending(&mut conn).unwrap();
    assert_eq!(
        foreign_keys_without_an_index(&mut conn),
        Vec::<String>::new()
    );

    conn.batch_execute(
        "CREATE TABLE t_child (
             id integer NOT NULL PRIMARY KEY,
             account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
             user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE)",
    )
    .unwrap();
    conn.batch_execute(
        "CREATE INDEX t_child_user_account_idx ON t_child (user_id, account_id);
         CREATE INDEX t_child_some_accounts_idx ON t_child (account_id) WHERE id > 0",
    )
    .unwrap();
    assert_eq!(
        foreign_keys_without_an_index(&mut conn),
        ["t_child(account_id) -> accounts"],
        "an index led by another column, or a partial one, does not serve the key"
    );
    conn.batch_execute("CREATE INDEX t_child_account_idx ON t_child (account_id, id)")
        .unwrap();
    assert_eq!(
        foreign_keys_without_an_index(&mut conn),
        Vec::<String>::new()
    );
}

#[test]
fn every_foreign_key_is_led_by_an_index_on_sqlite() {
    every_foreign_key_is_led_by_an_index(&TestDatabase::sqlite());
}

#[test]
fn every_foreign_key_is_led_by_an_index_on_postgres() {
    let Some(admin) = TestDatabase::postgres_admin_url() else {
        return skipped("TEST_DATABASE_URL is not set: no PostgreSQL to migrate");
    };
    every_foreign_key_is_led_by_an_index(&TestDatabase::postgres(&admin));
}
