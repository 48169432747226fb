use diesel::connection::SimpleConnection;
use fieldcrm_db::{migrations, DatabaseUrl, DbConnection};
use fieldcrm_test_support::TestDatabase;

#[test]
fn both_backends_have_the_same_migration_names() {
    let (postgres, sqlite) = migrations::embedded_names().unwrap();
    assert!(!postgres.is_empty());
    assert_eq!(postgres, sqlite);
}

fn migrated_catalog(db: &TestDatabase) -> std::collections::BTreeMap<String, Vec<(String, bool)>> {
    let mut conn = DbConnection::open(&DatabaseUrl::parse(db.url()).unwrap()).unwrap();
    let applied = migrations::run_pending(&mut conn).unwrap();
    assert!(!applied.is_empty());
    assert!(
        migrations::run_pending(&mut conn).unwrap().is_empty(),
        "a second run applies nothing"
    );
    migrations::catalog(&mut conn).unwrap()
}

/// Both migration sets build the same tables with the same columns and the same
/// nullability. Needs both backends: on a run without PostgreSQL it compares
/// SQLite against the schema diesel is compiled with.
#[test]
fn both_backends_produce_the_same_tables_and_columns() {
    let sqlite = migrated_catalog(&TestDatabase::sqlite());
    assert!(sqlite.contains_key("accounts"), "{sqlite:?}");
    match TestDatabase::postgres_admin_url() {
        Some(admin) => {
            let postgres = migrated_catalog(&TestDatabase::postgres(&admin));
            assert_eq!(sqlite, postgres);
        }
        None => eprintln!("TEST_DATABASE_URL is not set: PostgreSQL side not compared in this run"),
    }
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
