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
