//! Tracker apps on technicians' phones: issuing and revoking their device
//! tokens, and taking in what they send through the one ingest path of
//! `POST /v1/pings` (`time_clock::judge_and_store`), so the shift window, the
//! accuracy limit, the future limit and deduplication apply the same way.
//!
//! A device token only ever sends positions for its person: it reads
//! nothing, never opens or closes a shift, and is refused everywhere else.

use fieldcrm_db::accounts::Account;
use fieldcrm_db::devices::{self, Counts, Device};
use fieldcrm_db::users::{self, User};
use fieldcrm_db::{DbConnection, Id, Ts};
use fieldcrm_domain::tracking::Rejection;
use fieldcrm_domain::{Action, Role};
use fieldcrm_trackers::token::{
    device_token_hash, is_device_token, new_device_token, shown_prefix,
};
use fieldcrm_trackers::{Parsed, Skip};

use crate::audit::{self, Audited};
use crate::caller::Caller;
use crate::error::AppError;
use crate::paging::PageRequest;
use crate::state::AppState;
use crate::time_clock::{self, IngestLimits, Ingested, SentReading};
use crate::tx::Tx;

/// 403 unless the caller may manage `user`'s devices: owners and admins
/// anyone's in the account, technicians their own.
fn require_for(caller: &Caller, user: Id<User>) -> Result<(), AppError> {
    caller.require(Action::ManageDevices)?;
    match caller.user() {
        Some((id, Role::Technician)) if id != user => Err(AppError::forbidden(
            "technicians manage only their own devices",
        )),
        _ => Ok(()),
    }
}

/// Issues a device token for `user`; the token is returned this once.
pub async fn issue(
    state: &AppState,
    caller: &Caller,
    user: Id<User>,
    label: String,
) -> Result<(Device, String), AppError> {
    require_for(caller, user)?;
    let token = new_device_token();
    let device = Device {
        id: Id::new(),
        account_id: caller.account_id,
        user_id: user,
        label,
        prefix: shown_prefix(&token),
        token_hash: device_token_hash(&token),
        created_by: caller.user().map(|(id, _)| id),
        created_at: Ts::now(),
        last_seen_at: None,
        stored: 0,
        duplicates: 0,
        outside_shift: 0,
        low_accuracy: 0,
        unparseable: 0,
        revoked_at: None,
    };
    let caller = caller.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                users::find(conn, caller.account_id, user)?.ok_or_else(AppError::not_found)?;
                devices::insert(conn, &device)?;
                audit::record(
                    conn,
                    &caller,
                    Audited::DeviceIssued,
                    Some(device.id.uuid()),
                    Some(format!("user:{user}")),
                )?;
                Ok((device, token))
            })
        })
        .await
}

pub async fn list(
    state: &AppState,
    caller: &Caller,
    user: Id<User>,
    page: PageRequest,
) -> Result<Vec<Device>, AppError> {
    require_for(caller, user)?;
    let account = caller.account_id;
    state
        .db(move |conn| {
            users::find(conn, account, user)?.ok_or_else(AppError::not_found)?;
            Ok(devices::list(
                conn,
                account,
                user,
                page.after(),
                page.fetch(),
            )?)
        })
        .await
}

/// Revokes a device: its token is refused from the next request on.
pub async fn revoke(
    state: &AppState,
    caller: &Caller,
    user: Id<User>,
    id: Id<Device>,
) -> Result<(), AppError> {
    require_for(caller, user)?;
    let caller = caller.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                if !devices::revoke(conn, caller.account_id, user, id, Ts::now())? {
                    // Revoked before: nothing to do; never issued here: 404.
                    return match devices::find(conn, caller.account_id, user, id)? {
                        Some(_) => Ok(()),
                        None => Err(AppError::not_found()),
                    };
                }
                audit::record(conn, &caller, Audited::DeviceRevoked, Some(id.uuid()), None)
            })
        })
        .await
}

/// Revokes every device of a person being removed, in the caller's
/// transaction, each kept in the audit trail.
pub(crate) fn revoke_all_of(
    conn: &mut DbConnection,
    caller: &Caller,
    user: Id<User>,
    why: &str,
) -> Result<(), AppError> {
    for id in devices::revoke_all_of(conn, caller.account_id, user, Ts::now())? {
        audit::record(
            conn,
            caller,
            Audited::DeviceRevoked,
            Some(id.uuid()),
            Some(why.to_owned()),
        )?;
    }
    Ok(())
}

/// The live device a token belongs to, for its setup page: 404 for anything
/// else, so the page says nothing about tokens it was not given.
pub async fn for_setup(
    state: &AppState,
    user: Id<User>,
    id: Id<Device>,
    token: &str,
) -> Result<Device, AppError> {
    if !is_device_token(token) {
        return Err(AppError::not_found());
    }
    let hash = device_token_hash(token);
    state
        .db(move |conn| Ok(devices::find_live_with_account_by_hash(conn, &hash)?))
        .await?
        .map(|(device, _)| device)
        .filter(|d| d.id == id && d.user_id == user)
        .ok_or_else(AppError::not_found)
}

/// 401 for a request whose token is missing, unknown or revoked. The only
/// answer an app does not take as delivered, besides 429 and 503.
pub fn unknown_token() -> AppError {
    AppError::unauthorized().with_detail("the device token is not valid or was revoked")
}

/// The live device of a token with its account; 401 otherwise.
pub async fn authenticate(
    state: &AppState,
    token: Option<String>,
) -> Result<(Device, Account), AppError> {
    let token = token
        .filter(|t| is_device_token(t))
        .ok_or_else(unknown_token)?;
    let hash = device_token_hash(&token);
    state
        .db(move |conn| Ok(devices::find_live_with_account_by_hash(conn, &hash)?))
        .await?
        .ok_or_else(unknown_token)
}

/// Judges and stores what a device of `account` sent, and adds it to the
/// device's counters. Positions not stored leave nothing behind but those
/// counters.
pub async fn ingest(
    state: &AppState,
    device: &Device,
    account: Account,
    parsed: Parsed,
) -> Result<(), AppError> {
    let limits = IngestLimits::from(&*state.settings);
    let counts = Counts {
        unparseable: parsed
            .skipped
            .iter()
            .filter(|s| matches!(s, Skip::Unparseable(_)))
            .count() as i64,
        ..Counts::default()
    };
    let readings: Vec<_> = parsed
        .fixes
        .into_iter()
        .map(|f| SentReading {
            id: f.id,
            former_id: Some(f.former_id),
            reading: f.reading,
        })
        .collect();
    let (user, id) = (device.user_id, device.id);
    state
        .db(move |conn| {
            // The counters in the same transaction as the positions.
            let record = move |tx: &mut Tx<'_>, outcome: &Ingested| {
                let mut counts = counts;
                add_outcome(&mut counts, outcome);
                Ok(devices::record_use(tx, id, Ts::now(), counts)?)
            };
            if readings.is_empty() {
                return record(conn, &Ingested::default());
            }
            time_clock::judge_and_store(
                conn,
                &account,
                user,
                limits,
                readings,
                Ingested::default(),
                record,
            )?;
            Ok(())
        })
        .await
}

/// The counters of what the ingest made of a device's positions:
/// `unparseable` holds every refusal other than outside a shift and low
/// accuracy (unreadable or impossible values, a time in the future, too
/// frequent, over the account's quota).
fn add_outcome(counts: &mut Counts, outcome: &Ingested) {
    counts.stored += outcome.accepted as i64;
    counts.duplicates += outcome.duplicates as i64;
    for (_, why) in &outcome.rejected {
        match why {
            Rejection::OutsideShift => counts.outside_shift += 1,
            Rejection::LowAccuracy => counts.low_accuracy += 1,
            _ => counts.unparseable += 1,
        }
    }
}
