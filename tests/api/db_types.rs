//! Ids and timestamps survive a round trip through the database of this run.

use chrono::{DateTime, Timelike, Utc};
use fieldcrm_db::accounts::{self, Account};
use fieldcrm_db::{migrations, DatabaseUrl, DbConnection, Id, Stored, Ts};
use fieldcrm_test_support::TestDatabase;

#[test]
fn ids_and_timestamps_round_trip_exactly() {
    let db = TestDatabase::create();
    let mut conn = DbConnection::open(&DatabaseUrl::parse(db.url()).unwrap()).unwrap();
    migrations::run_pending(&mut conn).unwrap();

    let at: DateTime<Utc> = Utc::now().with_nanosecond(123_456_789).unwrap();
    let account = Account {
        id: Id::new(),
        name: "Ünïcode Plumbing 🔧".into(),
        time_zone: Stored("America/Chicago".parse().unwrap()),
        default_country: Stored("US".parse().unwrap()),
        created_at: Ts::from(at),
        updated_at: Ts::now(),
        ping_accuracy_limit_m: 100.0,
        max_shift_hours: 16,
        ping_retention_days: 90,
        default_reminders: "[]".into(),
        arrival_radius_m: 150.0,
        quiet_hours_start: Account::DEFAULT_QUIET_HOURS_START.into(),
        quiet_hours_end: Account::DEFAULT_QUIET_HOURS_END.into(),
        message_templates: "{}".into(),
        postal_address: None,
        message_body_retention_days: Account::DEFAULT_MESSAGE_BODY_RETENTION_DAYS,
    };
    accounts::insert(&mut conn, &account).unwrap();

    let read = accounts::find(&mut conn, account.id).unwrap().unwrap();
    assert_eq!(read, account);
    assert_eq!(
        read.created_at.get().to_rfc3339(),
        at.format("%Y-%m-%dT%H:%M:%S.123456+00:00").to_string(),
        "kept to the microsecond"
    );
    assert!(accounts::find(&mut conn, Id::new()).unwrap().is_none());
}

fn new_account() -> Account {
    Account {
        id: Id::new(),
        name: "A".into(),
        time_zone: Stored("UTC".parse().unwrap()),
        default_country: Stored("GB".parse().unwrap()),
        created_at: Ts::now(),
        updated_at: Ts::now(),
        ping_accuracy_limit_m: 100.0,
        max_shift_hours: 16,
        ping_retention_days: 90,
        default_reminders: "[]".into(),
        arrival_radius_m: 150.0,
        quiet_hours_start: Account::DEFAULT_QUIET_HOURS_START.into(),
        quiet_hours_end: Account::DEFAULT_QUIET_HOURS_END.into(),
        message_templates: "{}".into(),
        postal_address: None,
        message_body_retention_days: Account::DEFAULT_MESSAGE_BODY_RETENTION_DAYS,
    }
}

#[test]
fn a_duplicate_id_is_a_unique_violation() {
    let db = TestDatabase::create();
    let mut conn = DbConnection::open(&DatabaseUrl::parse(db.url()).unwrap()).unwrap();
    migrations::run_pending(&mut conn).unwrap();
    let account = new_account();
    accounts::insert(&mut conn, &account).unwrap();
    let err = accounts::insert(&mut conn, &account).unwrap_err();
    assert!(
        matches!(err, fieldcrm_db::DbError::UniqueViolation { .. }),
        "{err:?}"
    );
}

#[test]
fn a_stored_word_that_does_not_parse_fails_the_read_on_either_backend() {
    use diesel::connection::SimpleConnection;

    let db = TestDatabase::create();
    let mut conn = DbConnection::open(&DatabaseUrl::parse(db.url()).unwrap()).unwrap();
    migrations::run_pending(&mut conn).unwrap();
    let account = new_account();
    accounts::insert(&mut conn, &account).unwrap();
    conn.batch_execute("UPDATE accounts SET time_zone = 'Mars/Olympus_Mons'")
        .unwrap();
    let err = accounts::find(&mut conn, account.id).unwrap_err();
    assert!(
        matches!(
            err,
            fieldcrm_db::DbError::Query(diesel::result::Error::DeserializationError(_))
        ),
        "{err:?}"
    );
}
