//! Runs a creating request at most once per `Idempotency-Key`: a retry with the
//! same key and body gets the first response's status with the record as it
//! is now (404 once it is deleted); the same key with another body is refused
//! (422). Keys are kept for 24 hours. Only the status and the record's id are
//! stored, never the body: a stored copy would outlive the erasure of a person
//! and the retention of message bodies. They are written in the same
//! transaction as what the request created, so a crash leaves neither or both.

use chrono::Duration;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use fieldcrm_db::accounts::Account;
use fieldcrm_db::idempotency::{self, StoredResponse};
use fieldcrm_db::{DbConnection, Id, Ts};

use crate::error::{AppError, Failure};
use crate::state::AppState;
use crate::tx::Tx;

pub const KEEP_FOR_HOURS: i64 = 24;

/// The `Idempotency-Key` of a creating POST, with a fingerprint of the request
/// it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub method: String,
    pub path: String,
}

impl Idempotency {
    /// SHA-256 of method, path and body: what a replay must match.
    pub fn fingerprint(&self, body: &[u8]) -> Vec<u8> {
        Sha256::new()
            .chain_update(self.method.as_bytes())
            .chain_update(b" ")
            .chain_update(self.path.as_bytes())
            .chain_update(b"\n")
            .chain_update(body)
            .finalize()
            .to_vec()
    }
}

/// A response that can be stored and sent again.
pub struct Replayable {
    /// The HTTP status of the first response.
    pub status: u16,
    pub body: serde_json::Value,
    /// Whether this is a stored response sent again.
    pub replayed: bool,
}

/// Runs `work`, which must be atomic on its own (one statement, or a
/// transaction of its own: with a key it becomes a savepoint of the transaction
/// that also stores the response). Its body's `id` names the record created; a
/// replay answers `view` of that record.
pub async fn run<F, V>(
    state: &AppState,
    account: Id<Account>,
    idempotency: Option<(Idempotency, Vec<u8>)>,
    work: F,
    view: V,
) -> Result<Replayable, AppError>
where
    F: FnOnce(&mut Tx<'_>) -> Result<(u16, serde_json::Value), AppError> + Send + 'static,
    V: FnOnce(&mut DbConnection, Uuid) -> Result<Option<serde_json::Value>, AppError>
        + Send
        + 'static,
{
    state
        .db(move |conn| {
            let Some((idempotency, fingerprint)) = idempotency else {
                // Nothing to store beside it: `work` is atomic on its own, and
                // a transaction around one statement would cost two round trips.
                let (status, body) = work(conn)?;
                return Ok(Replayable { status, body, replayed: false });
            };
            conn.write_transaction(|conn| {
                let now = Ts::now();
                idempotency::forget_older_than(conn, account, Ts::from(now.get() - Duration::hours(KEEP_FOR_HOURS)))?;
                if let Some(stored) = idempotency::find(conn, account, &idempotency.key)? {
                    if stored.request_hash != fingerprint {
                        return Err(AppError::new(Failure::IdempotencyKeyReused)
                        .with_detail("this Idempotency-Key was used with a different request; use a new key"));
                    }
                    let body = match stored.resource_id {
                        Some(id) => view(conn, id.uuid())?,
                        None => None,
                    };
                    let body = body.ok_or_else(|| {
                        AppError::not_found().with_detail(
                            "what the request with this Idempotency-Key created has since been deleted",
                        )
                    })?;
                    return Ok(Replayable {
                        status: u16::try_from(stored.response_status).unwrap_or(200),
                        body,
                        replayed: true,
                    });
                }
                let (status, body) = work(conn)?;
                let resource_id = body["id"].as_str().and_then(|id| id.parse().ok()).map(Id::from_uuid);
                idempotency::insert(
                    conn,
                    &StoredResponse {
                        account_id: account,
                        idempotency_key: idempotency.key,
                        request_hash: fingerprint,
                        response_status: i32::from(status),
                        resource_id,
                        created_at: now,
                    },
                )
                .map_err(|err| match err {
                    fieldcrm_db::DbError::UniqueViolation { .. } => AppError::conflict(
                        "a request with this Idempotency-Key is still being processed; retry shortly",
                    ),
                    other => other.into(),
                })?;
                Ok(Replayable { status, body, replayed: false })
            })
        })
        .await
}

/// Forgets every account's keys past their time: run by the upkeep.
pub fn forget_expired(conn: &mut DbConnection, now: Ts) -> Result<usize, AppError> {
    Ok(idempotency::forget_all_older_than(
        conn,
        Ts::from(now.get() - Duration::hours(KEEP_FOR_HOURS)),
    )?)
}
