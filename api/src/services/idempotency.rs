//! Runs a creating request at most once per `Idempotency-Key`: a retry with the
//! same key and body gets the first response again; the same key with another
//! body is refused (422). Keys are kept for 24 hours. The stored response is
//! written in the same transaction as what the request created, so a crash
//! leaves neither or both.

use actix_web::http::StatusCode;
use chrono::Duration;

use fieldcrm_db::accounts::Account;
use fieldcrm_db::idempotency::{self, StoredResponse};
use fieldcrm_db::{DbConnection, Id, Ts};

use crate::preconditions::Idempotency;
use crate::problem::Problem;
use crate::state::AppState;

pub const KEEP_FOR_HOURS: i64 = 24;

/// A response that can be stored and sent again.
pub struct Replayable {
    pub status: StatusCode,
    pub body: serde_json::Value,
    /// Whether this is a stored response sent again.
    pub replayed: bool,
}

/// Runs `work`, which must be atomic on its own (one statement, or a
/// transaction of its own: with a key it becomes a savepoint of the transaction
/// that also stores the response).
pub async fn run<F>(
    state: &AppState,
    account: Id<Account>,
    idempotency: Option<(Idempotency, Vec<u8>)>,
    work: F,
) -> Result<Replayable, Problem>
where
    F: FnOnce(&mut DbConnection) -> Result<(StatusCode, serde_json::Value), Problem>
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
                        return Err(Problem::new(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "idempotency_key_reused",
                            "Idempotency-Key reused",
                        )
                        .with_detail("this Idempotency-Key was used with a different request; use a new key"));
                    }
                    return Ok(Replayable {
                        status: StatusCode::from_u16(u16::try_from(stored.response_status).unwrap_or(200))
                            .unwrap_or(StatusCode::OK),
                        body: serde_json::from_str(&stored.response_body).map_err(|e| Problem::internal_from(&e))?,
                        replayed: true,
                    });
                }
                let (status, body) = work(conn)?;
                idempotency::insert(
                    conn,
                    &StoredResponse {
                        account_id: account,
                        idempotency_key: idempotency.key,
                        request_hash: fingerprint,
                        response_status: i32::from(status.as_u16()),
                        response_body: body.to_string(),
                        created_at: now,
                    },
                )
                .map_err(|err| match err {
                    fieldcrm_db::DbError::UniqueViolation { .. } => Problem::conflict(
                        "a request with this Idempotency-Key is still being processed; retry shortly",
                    ),
                    other => other.into(),
                })?;
                Ok(Replayable { status, body, replayed: false })
            })
        })
        .await
}
