//! The outbox: durable background work, claimed with leases.
//!
//! A job is `queued` until due, `running` while a worker holds its lease, and ends
//! `done`, `failed` (attempts used up, last error kept) or `cancelled`. A running
//! job whose lease expired belongs to a process that died; it is due again. Every
//! state change after the claim names the lease, so a worker that lost its lease
//! cannot overwrite what the next one did.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::schema::jobs;
use crate::types::sql::{DbTimestamp, DbUuid};
use crate::{DbResult, Id, Ts};

/// The id of whatever row a job works on.
pub type SubjectId = Id<()>;

/// The marker of one claim.
pub type LeaseId = Id<Lease>;
pub enum Lease {}

#[derive(serde::Serialize, Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = jobs, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct Job {
    pub id: Id<Job>,
    pub account_id: Option<Id<Account>>,
    pub kind: String,
    pub subject_id: Option<SubjectId>,
    pub status: String,
    pub run_at: Ts,
    /// Claims so far, counting the current one.
    pub attempts: i32,
    pub max_attempts: i32,
    #[serde(skip)]
    pub lease_id: Option<LeaseId>,
    pub lease_expires_at: Option<Ts>,
    pub last_error: Option<String>,
    pub created_at: Ts,
    pub updated_at: Ts,
    /// What a job needs when no row is left to read it from, sealed by the service.
    #[serde(skip)]
    pub payload: Option<String>,
}

impl Job {
    /// A job due at `run_at`.
    pub fn new(
        account: Option<Id<Account>>,
        kind: &str,
        subject: Option<SubjectId>,
        run_at: Ts,
        max_attempts: i32,
    ) -> Self {
        let now = Ts::now();
        Job {
            id: Id::new(),
            account_id: account,
            kind: kind.to_owned(),
            subject_id: subject,
            status: "queued".into(),
            run_at,
            attempts: 0,
            max_attempts,
            lease_id: None,
            lease_expires_at: None,
            last_error: None,
            created_at: now,
            updated_at: now,
            payload: None,
        }
    }

    pub fn with_payload(mut self, payload: String) -> Self {
        self.payload = Some(payload);
        self
    }
}

pub fn enqueue(conn: &mut DbConnection, job: &Job) -> DbResult<()> {
    diesel::insert_into(jobs::table).values(job).execute(conn)?;
    Ok(())
}

/// Enqueues the job unless one of the same kind for the same account and subject
/// is still waiting to run, which will see the latest state anyway.
pub fn enqueue_once(conn: &mut DbConnection, job: &Job) -> DbResult<bool> {
    let mut waiting = jobs::table
        .filter(jobs::kind.eq(&job.kind))
        .filter(jobs::status.eq("queued"))
        .into_boxed();
    waiting = match job.account_id {
        Some(account) => waiting.filter(jobs::account_id.eq(account)),
        None => waiting.filter(jobs::account_id.is_null()),
    };
    waiting = match job.subject_id {
        Some(subject) => waiting.filter(jobs::subject_id.eq(subject)),
        None => waiting.filter(jobs::subject_id.is_null()),
    };
    let found: Option<Id<Job>> = waiting.select(jobs::id).first(conn).optional()?;
    if found.is_some() {
        return Ok(false);
    }
    enqueue(conn, job)?;
    Ok(true)
}

/// Claims up to `limit` due jobs under a new lease until `lease_expires_at`,
/// oldest first: queued jobs whose time has come, then running jobs whose lease
/// ran out. Each part is one `UPDATE … RETURNING`, so a claim needs no
/// transaction of its own: on PostgreSQL it skips rows another worker holds
/// locked (`FOR UPDATE SKIP LOCKED`); SQLite has one writer at a time.
///
/// The two parts are two statements rather than one `OR`: with the `OR`,
/// PostgreSQL read both partial indexes into a bitmap, and a bitmap scan
/// visits every entry a finished job left in `jobs_queued_run_at_idx` until a
/// vacuum removes it, so each claim cost more than the last (1.3 ms after
/// 30,000 jobs). An index scan in `run_at` order marks those entries dead as it
/// passes them and stops at `limit`.
pub fn claim(
    conn: &mut DbConnection,
    now: Ts,
    lease: LeaseId,
    lease_expires_at: Ts,
    limit: i64,
) -> DbResult<Vec<Job>> {
    // The subqueries read the table they update: diesel needs another name
    // for it to tell the two apart.
    let candidate = diesel::alias!(jobs as candidate);
    let due = |limit: i64| {
        candidate
            .filter(candidate.field(jobs::status).eq("queued"))
            .filter(candidate.field(jobs::run_at).le(now))
            .order(candidate.field(jobs::run_at).asc())
            .limit(limit)
            .select(candidate.field(jobs::id))
    };
    let lapsed = |limit: i64| {
        candidate
            .filter(candidate.field(jobs::status).eq("running"))
            .filter(candidate.field(jobs::lease_expires_at).lt(now))
            .order(candidate.field(jobs::lease_expires_at).asc())
            .limit(limit)
            .select(candidate.field(jobs::id))
    };
    let take = (
        jobs::status.eq("running"),
        jobs::attempts.eq(jobs::attempts + 1),
        jobs::lease_id.eq(lease),
        jobs::lease_expires_at.eq(lease_expires_at),
        jobs::updated_at.eq(now),
    );
    macro_rules! claimed {
        ($c:ident, $ids:expr) => {
            diesel::update(jobs::table.filter(jobs::id.eq_any($ids)))
                .set(take)
                .returning(Job::as_returning())
                .get_results($c)?
        };
    }
    let mut claimed: Vec<Job> = match conn {
        DbConnection::Pg(pg) => claimed!(pg, due(limit).for_update().skip_locked()),
        DbConnection::Sqlite(sqlite) => claimed!(sqlite, due(limit)),
    };
    let room = limit - i64::try_from(claimed.len()).unwrap_or(limit);
    if room > 0 {
        claimed.extend(match conn {
            DbConnection::Pg(pg) => claimed!(pg, lapsed(room).for_update().skip_locked()),
            DbConnection::Sqlite(sqlite) => claimed!(sqlite, lapsed(room)),
        });
    }
    claimed.sort_by_key(|job| job.run_at);
    Ok(claimed)
}

/// What became of a claimed job.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    /// Try again at the time; the error is kept.
    Retry(Ts, String),
    /// Run again at the time without counting this claim as an attempt.
    Defer(Ts),
    /// Give up; the error is kept.
    Failed(String),
}

/// Records the outcome; returns false when the lease was lost meanwhile.
pub fn finish(
    conn: &mut DbConnection,
    job: Id<Job>,
    lease: LeaseId,
    outcome: &Outcome,
    now: Ts,
) -> DbResult<bool> {
    let finish = Finish {
        job,
        lease,
        outcome,
        now,
    };
    let changed = crate::natively!(conn, |c| finish.execute(c))?;
    Ok(changed == 1)
}

/// `finish`'s `UPDATE`, written out so that each connection prepares each of
/// its four forms once (as `prepared_once!` says why): one runs for every
/// job, each webhook delivery among them. The form depends on the outcome,
/// so the prepared statement is found by its text, not by this type. A larger
/// statement can end with it (`webhooks::record_delivery_and_finish`).
pub(crate) struct Finish<'a> {
    pub(crate) job: Id<Job>,
    pub(crate) lease: LeaseId,
    pub(crate) outcome: &'a Outcome,
    pub(crate) now: Ts,
}

impl diesel::query_builder::QueryId for Finish<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C> RunQueryDsl<C> for Finish<'_> {}

impl<DB> diesel::query_builder::QueryFragment<DB> for Finish<'_>
where
    DB: crate::connection::WrittenOutBinds,
    Id<Job>: diesel::serialize::ToSql<DbUuid, DB>,
    LeaseId: diesel::serialize::ToSql<DbUuid, DB>,
    Ts: diesel::serialize::ToSql<DbTimestamp, DB>,
    String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        use diesel::sql_types::Text;
        out.push_sql("UPDATE jobs SET ");
        match self.outcome {
            Outcome::Done => out.push_sql("status = 'done', payload = NULL"),
            Outcome::Retry(at, error) => {
                out.push_sql("status = 'queued', run_at = ");
                out.push_bind_param::<DbTimestamp, _>(at)?;
                out.push_sql(", last_error = ");
                out.push_bind_param::<Text, _>(error)?;
            }
            Outcome::Defer(at) => {
                out.push_sql("status = 'queued', run_at = ");
                out.push_bind_param::<DbTimestamp, _>(at)?;
                out.push_sql(", attempts = attempts - 1");
            }
            Outcome::Failed(error) => {
                out.push_sql("status = 'failed', last_error = ");
                out.push_bind_param::<Text, _>(error)?;
                out.push_sql(", payload = NULL");
            }
        }
        out.push_sql(", lease_id = NULL, lease_expires_at = NULL, updated_at = ");
        out.push_bind_param::<DbTimestamp, _>(&self.now)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<DbUuid, _>(&self.job)?;
        out.push_sql(" AND status = 'running' AND lease_id = ");
        out.push_bind_param::<DbUuid, _>(&self.lease)
    }
}

/// Cancels the queued jobs of these subjects.
pub fn cancel_subjects(
    conn: &mut DbConnection,
    subjects: &[SubjectId],
    now: Ts,
) -> DbResult<usize> {
    if subjects.is_empty() {
        return Ok(0);
    }
    Ok(diesel::update(
        jobs::table
            .filter(jobs::subject_id.eq_any(subjects))
            .filter(jobs::status.eq("queued")),
    )
    .set((jobs::status.eq("cancelled"), jobs::updated_at.eq(now)))
    .execute(conn)?)
}

/// Deletes finished jobs last changed before `before`; the outbox keeps no history
/// beyond what the message log shows.
pub fn purge_finished(conn: &mut DbConnection, before: Ts) -> DbResult<usize> {
    Ok(diesel::delete(
        jobs::table
            .filter(jobs::status.eq_any(["done", "cancelled", "failed"]))
            .filter(jobs::updated_at.lt(before)),
    )
    .execute(conn)?)
}
