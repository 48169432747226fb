//! The two defences against sending a message twice, each on its own, at the
//! database level with real connections: a job's lease (only its holder may
//! record what became of the job, and concurrent claims never share a job) and
//! a message's own step from `queued` to `sending` (taken once).

use std::collections::HashSet;
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use diesel::prelude::*;
use fieldcrm_db::jobs::{self, Job, LeaseId, Outcome};
use fieldcrm_db::schema::jobs as jobs_table;
use fieldcrm_db::{messages, migrations, DatabaseUrl, DbConnection, DbError, Id, Ts};
use fieldcrm_test_support::{skipped, TestDatabase};
use serde_json::json;

use crate::messages::{app_with, customer, owner, queued, twilio};

fn connect(db: &TestDatabase) -> DbConnection {
    DbConnection::open(&DatabaseUrl::parse(db.url()).unwrap()).unwrap()
}

fn migrated(db: &TestDatabase) -> DbConnection {
    let mut conn = connect(db);
    migrations::run_pending(&mut conn).unwrap();
    conn
}

fn at(base: Ts, seconds: i64) -> Ts {
    Ts::from(base.get() + chrono::Duration::seconds(seconds))
}

/// `n` jobs due a millisecond apart, oldest first.
fn enqueue(conn: &mut DbConnection, n: usize, due: Ts) -> Vec<Id<Job>> {
    (0..n)
        .map(|i| {
            let run_at = Ts::from(due.get() - chrono::Duration::milliseconds((n - i) as i64));
            let job = Job::new(None, "test", None, run_at, 5);
            jobs::enqueue(conn, &job).unwrap();
            job.id
        })
        .collect()
}

fn claim(conn: &mut DbConnection, now: Ts, lease: LeaseId, limit: i64) -> Vec<Id<Job>> {
    conn.write_transaction(|conn| jobs::claim(conn, now, lease, at(now, 10), limit))
        .unwrap()
        .into_iter()
        .map(|job| job.id)
        .collect()
}

fn read(conn: &mut DbConnection, id: Id<Job>) -> Job {
    jobs_table::table
        .find(id)
        .select(Job::as_select())
        .first(conn)
        .unwrap()
}

#[test]
fn a_finish_under_a_lease_that_expired_and_was_claimed_again_changes_nothing() {
    let db = TestDatabase::create();
    let mut conn = migrated(&db);
    let now = Ts::now();
    let job = enqueue(&mut conn, 1, now)[0];

    let first: LeaseId = Id::new();
    assert_eq!(claim(&mut conn, now, first, 10), [job]);
    assert!(
        claim(&mut conn, at(now, 5), Id::new(), 10).is_empty(),
        "nobody else takes a job while its lease runs"
    );
    // The first worker went quiet; after its lease a second one takes over.
    let later = at(now, 11);
    let second: LeaseId = Id::new();
    assert_eq!(claim(&mut conn, later, second, 10), [job]);

    // The first worker comes back: nothing it reports is recorded.
    for outcome in [
        Outcome::Done,
        Outcome::Failed("late".into()),
        Outcome::Retry(later, "late".into()),
        Outcome::Defer(later),
    ] {
        assert!(
            !jobs::finish(&mut conn, job, first, &outcome, later).unwrap(),
            "{outcome:?} under the lost lease"
        );
    }
    let row = read(&mut conn, job);
    assert_eq!(
        (
            row.status.as_str(),
            row.lease_id,
            row.attempts,
            row.last_error
        ),
        ("running", Some(second), 2, None),
        "still the second worker's"
    );

    assert!(jobs::finish(&mut conn, job, second, &Outcome::Done, later).unwrap());
    assert_eq!(read(&mut conn, job).status, "done");
    let retried = Outcome::Retry(later, "late".into());
    assert!(!jobs::finish(&mut conn, job, first, &retried, later).unwrap());
    assert_eq!(read(&mut conn, job).status, "done", "and it stays done");
}

/// Two workers claim at once on PostgreSQL: the second skips the rows the
/// first holds locked instead of waiting for them, and they share no job.
#[test]
fn concurrent_claims_on_postgresql_take_disjoint_jobs_without_waiting() {
    let Some(admin) = TestDatabase::postgres_admin_url() else {
        return skipped("FOR UPDATE SKIP LOCKED is PostgreSQL's; SQLite has one writer");
    };
    let db = TestDatabase::postgres(&admin);
    let mut setup = migrated(&db);
    let now = Ts::now();
    let all: HashSet<Id<Job>> = enqueue(&mut setup, 30, now).into_iter().collect();

    let (claimed_tx, claimed_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let mut first_conn = connect(&db);
    let first = std::thread::spawn(move || {
        first_conn
            .write_transaction(|conn| {
                let ids: Vec<Id<Job>> = jobs::claim(conn, now, Id::new(), at(now, 10), 10)?
                    .into_iter()
                    .map(|job| job.id)
                    .collect();
                claimed_tx.send(()).unwrap();
                // Holds its transaction, and so its row locks, until the other
                // claim is done (or, should that claim wait on the locks, 10 s).
                let other_finished_meanwhile =
                    done_rx.recv_timeout(Duration::from_secs(10)).is_ok();
                Ok::<_, DbError>((ids, other_finished_meanwhile))
            })
            .unwrap()
    });
    claimed_rx.recv().unwrap();
    let mut second_conn = connect(&db);
    let second = claim(&mut second_conn, now, Id::new(), 10);
    let _ = done_tx.send(());
    let (first, second_did_not_wait) = first.join().unwrap();

    assert!(
        second_did_not_wait,
        "the second claim waited for the first one's locks"
    );
    assert_eq!((first.len(), second.len()), (10, 10));
    let first: HashSet<_> = first.into_iter().collect();
    let second: HashSet<_> = second.into_iter().collect();
    assert!(
        first.is_disjoint(&second),
        "both claimed {:?}",
        first.intersection(&second)
    );
    assert!(first.is_subset(&all) && second.is_subset(&all));
}

/// Four workers claim small batches until nothing is left: every job is
/// claimed exactly once (on SQLite the claims take turns at the write lock).
#[test]
fn workers_claiming_at_once_claim_every_job_exactly_once() {
    let db = Arc::new(TestDatabase::create());
    let mut setup = migrated(&db);
    let now = Ts::now();
    let all = enqueue(&mut setup, 60, now);
    let start = Arc::new(Barrier::new(4));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (db, start) = (db.clone(), start.clone());
            std::thread::spawn(move || {
                let mut conn = connect(&db);
                start.wait();
                let mut mine = Vec::new();
                // 20 batches hold every job; more rounds mean a job came back.
                for _ in 0..25 {
                    let batch = claim(&mut conn, now, Id::new(), 3);
                    if batch.is_empty() {
                        break;
                    }
                    mine.extend(batch);
                }
                mine
            })
        })
        .collect();
    let mut claimed: Vec<uuid::Uuid> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .map(|id| id.uuid())
        .collect();
    claimed.sort();
    let mut expected: Vec<uuid::Uuid> = all.iter().map(|id| id.uuid()).collect();
    expected.sort();
    assert_eq!(claimed, expected, "each job once");
}

/// A message goes from `queued` to `sending` once: a second attempt, in turn
/// or at the same moment on another connection, is refused.
#[tokio::test]
async fn a_message_starts_sending_only_once() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 8).await;
    let owner = owner(&app).await;
    let person = customer(
        &app,
        &owner,
        json!({"name": "Lou", "phone": "+1 512 555 0171"}),
        &["sms"],
    )
    .await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let id = queued(
            &app,
            &owner,
            json!({"customer_id": person, "channel": "sms", "body": "Hi"}),
        )
        .await;
        ids.push(Id::<messages::Message>::from_uuid(id.parse().unwrap()));
    }
    let now = Ts::now();
    let to = "+15125550171";

    let mut conn = app.pool.get().unwrap();
    assert!(messages::start_sending(&mut conn, ids[0], to, now).unwrap());
    assert!(!messages::start_sending(&mut conn, ids[0], to, now).unwrap());
    let row = messages::find_any(&mut conn, ids[0]).unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("sending", 1));
    drop(conn);

    let start = Arc::new(Barrier::new(2));
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let (pool, start, id) = (app.pool.clone(), start.clone(), ids[1]);
            std::thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                start.wait();
                messages::start_sending(&mut conn, id, to, now).unwrap()
            })
        })
        .collect();
    let won: Vec<bool> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let mut conn = app.pool.get().unwrap();
    let row = messages::find_any(&mut conn, ids[1]).unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("sending", 1));
}
