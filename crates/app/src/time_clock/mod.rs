//! Clocking in and out, GPS ingest and what it shows. The promise kept here:
//! a position is stored only when it was recorded inside one of the sender's
//! own shifts, whatever the device sends.
//!
//! A shift's distance is stored when it closes. While it is open, each read
//! counts it on from where the previous read's count stopped (kept on the
//! shift), reading only the positions stored since; ingest notes on the shift
//! the earliest time it stored, and a position landing among those counted
//! makes the next read count the whole trail again (`open_distances`).

pub mod devices;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use uuid::Uuid;

use fieldcrm_db::pings::{self, Ping};
use fieldcrm_db::shifts::{self, Count, Counted, Shift};
use fieldcrm_db::users::User;
use fieldcrm_db::{accounts, appointments};
use fieldcrm_db::{DbConnection, Id, Ts};
use fieldcrm_domain::tracking::{admit, window_of, Admission, Reading, Rejection, Window};
use fieldcrm_domain::{Action, Coordinates, Role};
use fieldcrm_geo_track::{Fix, Walked};

use crate::caller::Caller;
use crate::error::AppError;
use crate::events::{Actor, Change, Event, Origin, Saved};
use crate::feed;
use crate::state::AppState;
use crate::tx::Tx;

/// The person behind a caller who clocks in or sends pings (never an API key).
fn tracked_user(caller: &Caller) -> Result<Id<User>, AppError> {
    caller.require(Action::TrackOwnTime)?;
    caller
        .user()
        .map(|(id, _)| id)
        .ok_or_else(|| AppError::forbidden("only a signed-in person has a time clock"))
}

pub async fn clock_in(
    state: &AppState,
    caller: &Caller,
    at: Option<Coordinates>,
) -> Result<Shift, AppError> {
    let user = tracked_user(caller)?;
    let account = caller.account_id;
    state
        .db(move |conn| {
            let now = Ts::now();
            let shift = Shift {
                id: Id::new(),
                account_id: account,
                user_id: user,
                clock_in_at: now,
                clock_out_at: None,
                clock_in_lat: at.map(|c| c.lat),
                clock_in_lon: at.map(|c| c.lon),
                clock_out_lat: None,
                clock_out_lon: None,
                closed_by: None,
                distance_m: None,
                created_at: now,
                updated_at: now,
            };
            conn.write_transaction(|conn| {
                // The unique index on open shifts decides between concurrent clock-ins.
                shifts::insert(conn, &shift).map_err(|err| {
                    if shifts::is_already_open(&err) {
                        AppError::conflict("you are clocked in already; clock out first")
                    } else {
                        err.into()
                    }
                })?;
                feed::record(
                    conn,
                    account,
                    Actor::User,
                    Change::new("shift.clocked_in", shift_event_data(&shift)),
                )?;
                Ok(shift)
            })
        })
        .await
}

pub async fn clock_out(
    state: &AppState,
    caller: &Caller,
    at: Option<Coordinates>,
) -> Result<Shift, AppError> {
    let user = tracked_user(caller)?;
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let shift = shifts::open_of_for_close(conn, user)?
                    .ok_or_else(|| AppError::conflict("you are not clocked in"))?;
                close(conn, shift, Ts::now(), at, "self", Actor::User)
            })
        })
        .await
}

/// The caller's open shift, if they are clocked in.
pub async fn open_shift(state: &AppState, caller: &Caller) -> Result<Option<Shift>, AppError> {
    let user = tracked_user(caller)?;
    state.db(move |conn| Ok(shifts::open_of(conn, user)?)).await
}

/// An owner or admin closes someone's forgotten shift now.
pub async fn close_for(
    state: &AppState,
    caller: &Caller,
    id: Id<Shift>,
) -> Result<Shift, AppError> {
    caller.require(Action::ManageShifts)?;
    let caller = caller.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let shift = shifts::find_for_close(conn, caller.account_id, id)?
                    .ok_or_else(AppError::not_found)?;
                if shift.clock_out_at.is_some() {
                    return Err(AppError::conflict("this shift is closed already"));
                }
                let by = caller
                    .user()
                    .map(|(id, _)| format!("user:{id}"))
                    .unwrap_or_default();
                close(conn, shift, Ts::now(), None, &by, Actor::of(&caller))
            })
        })
        .await
}

fn close(
    tx: &mut Tx<'_>,
    mut shift: Shift,
    at: Ts,
    location: Option<Coordinates>,
    by: &str,
    actor: Actor,
) -> Result<Shift, AppError> {
    shift.clock_out_at = Some(at);
    shift.clock_out_lat = location.map(|c| c.lat);
    shift.clock_out_lon = location.map(|c| c.lon);
    shift.closed_by = Some(by.to_owned());
    // Nothing recorded after the close stays, whichever way the shift closes.
    pings::delete_recorded_after(tx, shift.id, at)?;
    // Counted on from what the reads of the open shift counted (the delete
    // above forgot that count if it removed anything).
    let count = count_of(tx, shift.id)?;
    shift.distance_m = Some(metres(counted_now(tx, shift.id, &count)?));
    shift.updated_at = Ts::now();
    shifts::save(tx, &shift)?;
    feed::record(
        tx,
        shift.account_id,
        actor,
        Change::new("shift.clocked_out", shift_event_data(&shift)),
    )?;
    Ok(shift)
}

/// What events say of a shift: ids and times, never a position.
fn shift_event_data(shift: &Shift) -> serde_json::Value {
    serde_json::json!({
        "id": shift.id.uuid(),
        "user_id": shift.user_id.uuid(),
        "clock_in_at": shift.clock_in_at.get(),
        "clock_out_at": shift.clock_out_at.map(|t| t.get()),
        "closed_by": shift.closed_by,
    })
}

/// Positions read at a time when a trail is counted: a count from the start
/// of a shift of a million positions holds a few megabytes at once, not all.
const COUNT_CHUNK: i64 = 50_000;

fn metres(counted: Option<Counted>) -> f64 {
    counted.map_or(0.0, |c| c.metres)
}

/// How far the shift's trail is counted (nothing, for a shift not found).
fn count_of(conn: &mut DbConnection, shift: Id<Shift>) -> Result<Count, AppError> {
    Ok(shifts::counts_of(conn, &[shift])?
        .pop()
        .map_or_else(Count::default, |(_, count)| count))
}

/// `from` counted on through the shift's positions after it in trail order
/// (from the first, without it), a chunk at a time. Reads only the positions
/// after `from`, by the (shift, time) index.
fn count_on(
    conn: &mut DbConnection,
    shift: Id<Shift>,
    from: Option<Counted>,
) -> Result<Option<Counted>, AppError> {
    let mut counted = from;
    loop {
        let chunk = pings::positions_after(conn, shift, counted.map(|c| c.until), COUNT_CHUNK)?;
        let Some(&(at, id, lat, lon)) = chunk.last() else {
            return Ok(counted);
        };
        let so_far = counted.map(|c| Walked {
            metres: c.metres,
            last: Fix {
                at: c.until.0.get(),
                lat: c.lat,
                lon: c.lon,
            },
        });
        let fixes: Vec<Fix> = chunk
            .iter()
            .map(|&(at, _, lat, lon)| Fix {
                at: at.get(),
                lat,
                lon,
            })
            .collect();
        counted = fieldcrm_geo_track::walk_on(so_far, &fixes).map(|walked| Counted {
            metres: walked.metres,
            until: (at, id),
            lat,
            lon,
        });
        if chunk.len() < usize::try_from(COUNT_CHUNK).unwrap_or(usize::MAX) {
            return Ok(counted);
        }
    }
}

/// The shift's trail counted as its positions are now, given `count` read
/// with them: the count as it is when nothing was stored since; counted on
/// from its last position when all that was stored since lies after it; else
/// counted again from the start, as a position landed among those counted.
fn counted_now(
    conn: &mut DbConnection,
    shift: Id<Shift>,
    count: &Count,
) -> Result<Option<Counted>, AppError> {
    let from = count.counted.filter(|counted| {
        count
            .uncounted_from
            .is_none_or(|earliest| earliest > counted.until.0)
    });
    if from.is_some() && count.uncounted_from.is_none() {
        return Ok(from);
    }
    count_on(conn, shift, from)
}

/// The distances of these shifts, whose distance is not stored yet (open
/// ones): what each read costs is the positions stored since the last read
/// counted them, not the whole shift. Each count is recorded for the next
/// read if no batch stored positions meanwhile; a read that cannot record it
/// (another writer holds SQLite's lock) still answers.
fn open_distances(
    tx: &mut Tx<'_>,
    shifts: &[Id<Shift>],
) -> Result<HashMap<Id<Shift>, f64>, AppError> {
    let mut distances = HashMap::with_capacity(shifts.len());
    for (shift, count) in shifts::counts_of(tx, shifts)? {
        if let (Some(counted), None) = (count.counted, count.uncounted_from) {
            // Nothing stored since it was counted.
            distances.insert(shift, counted.metres);
            continue;
        }
        // The count and the positions as of one moment: a batch committing
        // meanwhile is either wholly in the distance or not at all.
        let (read, counted) = tx.snapshot(|conn| {
            let read = count_of(conn, shift)?;
            let counted = counted_now(conn, shift, &read)?;
            Ok::<_, AppError>((read, counted))
        })?;
        let unchanged = read.uncounted_from.is_none() && counted == read.counted;
        if let Some(counted) = counted.filter(|_| !unchanged) {
            let recorded = tx.write_transaction_within(RECORD_WAIT, |conn| {
                shifts::record_count(conn, shift, read.version, &counted)
            });
            match recorded {
                Ok(true) => {}
                Ok(false) => tracing::debug!(%shift, "positions stored meanwhile; count not kept"),
                Err(err) => tracing::debug!(%shift, %err, "count not kept"),
            }
        }
        distances.insert(shift, metres(counted));
    }
    Ok(distances)
}

/// How long a read waits for SQLite's write lock to keep the count it made.
const RECORD_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

fn trail(conn: &mut DbConnection, shift: &Shift) -> Result<Vec<Fix>, AppError> {
    Ok(pings::positions_of_shift(conn, shift.id)?
        .into_iter()
        .map(|(at, lat, lon)| Fix {
            at: at.get(),
            lat,
            lon,
        })
        .collect())
}

/// A ping as a device sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingBody {
    id: Uuid,
    recorded_at: DateTime<Utc>,
    lat: f64,
    lon: f64,
    accuracy_m: Option<f64>,
    speed_mps: Option<f64>,
    heading_deg: Option<f64>,
}

/// One item of an uploaded batch, judged on its own. Each is read straight
/// into its variant, so a batch of 1000 holds 1000 small structs rather than a
/// JSON tree per ping (`serde_json::Value`, about ten times the memory).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum PingItem {
    Ping(PingBody),
    /// An object that is not a valid ping; its id names it in the answer.
    Malformed {
        id: Option<String>,
    },
    Other(serde::de::IgnoredAny),
}

#[derive(Debug, Default)]
pub struct Ingested {
    pub accepted: usize,
    pub duplicates: usize,
    /// The ping's id (when it had one) and why it was not stored.
    pub rejected: Vec<(Option<String>, Rejection)>,
}

/// The server's limits on what one person and one account may store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IngestLimits {
    /// Pings of one person closer in recorded time than this are too frequent.
    min_interval: Duration,
    /// Pings one account may store per day (UTC, by arrival).
    daily_quota: u64,
}

impl From<&crate::config::Settings> for IngestLimits {
    fn from(settings: &crate::config::Settings) -> Self {
        Self {
            min_interval: Duration::milliseconds(
                i64::try_from(settings.ping_min_interval_ms).unwrap_or(i64::MAX),
            ),
            daily_quota: settings.ping_quota_per_account_per_day,
        }
    }
}

/// Midnight UTC of the day `at` falls in.
fn day_start(at: DateTime<Utc>) -> DateTime<Utc> {
    at.date_naive().and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Stores each ping recorded inside one of the caller's shifts and says why
/// each other one was refused. One shift lookup and one insert per batch, and
/// one update of each shift that received positions (for its distance's
/// count); a bad ping never costs the good ones.
pub async fn ingest(
    state: &AppState,
    caller: &Caller,
    batch: Vec<PingItem>,
) -> Result<Ingested, AppError> {
    let user = tracked_user(caller)?;
    let account = caller.account_id;
    let limits = IngestLimits::from(&*state.settings);
    let mut outcome = Ingested::default();
    let mut readings = Vec::with_capacity(batch.len());
    for item in batch {
        match item {
            PingItem::Ping(body) => readings.push(SentReading {
                id: body.id,
                former_id: None,
                reading: Reading {
                    recorded_at: body.recorded_at,
                    lat: body.lat,
                    lon: body.lon,
                    accuracy_m: body.accuracy_m,
                    speed_mps: body.speed_mps,
                    heading_deg: body.heading_deg,
                },
            }),
            PingItem::Malformed { id } => outcome.rejected.push((id, Rejection::Malformed)),
            PingItem::Other(_) => outcome.rejected.push((None, Rejection::Malformed)),
        }
    }
    state
        .db(move |conn| {
            let account = accounts::find(conn, account)?.ok_or_else(AppError::unauthorized)?;
            judge_and_store(conn, &account, user, limits, readings, outcome, |_, _| {
                Ok(())
            })
        })
        .await
}

/// A reading as its sender identified it.
pub(crate) struct SentReading {
    pub id: Uuid,
    /// The id the same reading was stored under before, if its sender's ids
    /// changed (a tracker's fixes): a stored ping under it is this reading.
    pub former_id: Option<Uuid>,
    pub reading: Reading,
}

/// The one ingest path, for pings uploaded by a signed-in person and for the
/// positions their tracker apps send: the checks of each reading, the shift
/// window, deduplication, the per-person rate and the account's quota, then
/// one insert. `outcome` may hold refusals made before (unreadable items).
/// `finish` writes what else the caller records of the outcome, in the same
/// transaction (one commit a request).
pub(crate) fn judge_and_store(
    tx: &mut Tx<'_>,
    account: &accounts::Account,
    user: Id<User>,
    limits: IngestLimits,
    readings: Vec<SentReading>,
    mut outcome: Ingested,
    finish: impl FnOnce(&mut Tx<'_>, &Ingested) -> Result<(), AppError>,
) -> Result<Ingested, AppError> {
    let now = Utc::now();
    let mut valid = Vec::with_capacity(readings.len());
    // A stored ping's former id, to the id it has now.
    let mut current_ids = HashMap::new();
    for SentReading {
        id,
        former_id,
        reading,
    } in readings
    {
        match reading.check(now, account.ping_accuracy_limit_m) {
            Ok(()) => {
                if let Some(former_id) = former_id {
                    current_ids.insert(former_id, id);
                }
                valid.push((id, reading));
            }
            Err(why) => outcome.rejected.push((Some(id.to_string()), why)),
        }
    }
    let (Some(first), Some(last)) = (
        valid.iter().map(|(_, r)| r.recorded_at).min(),
        valid.iter().map(|(_, r)| r.recorded_at).max(),
    ) else {
        finish(tx, &outcome)?;
        return Ok(outcome);
    };
    tx.write_transaction(|tx| {
        let shifts = shifts::of_user_between(tx, user, Ts::from(first), Ts::from(last))?;
        let windows: Vec<Window> = shifts
            .iter()
            .map(|s| Window {
                start: s.clock_in_at.get(),
                end: s.clock_out_at.map(|t| t.get()),
            })
            .collect();
        let mut in_shift = Vec::with_capacity(valid.len());
        for (id, reading) in valid {
            match window_of(&windows, reading.recorded_at) {
                Some(index) => in_shift.push((id, reading, index)),
                None => outcome
                    .rejected
                    .push((Some(id.to_string()), Rejection::OutsideShift)),
            }
        }
        // Judged against what is stored around the same times: resends,
        // the per-person rate, and what the account's quota has left. Nothing
        // to judge when no position fell in a shift.
        let shift_ids: Vec<_> = shifts.iter().map(|s| s.id).collect();
        let today = day_start(now);
        let (stored, room): (Vec<(Uuid, DateTime<Utc>)>, u64) = if in_shift.is_empty() {
            (Vec::new(), 0)
        } else {
            let stored = pings::recorded_between(
                tx,
                &shift_ids,
                Ts::from(first - limits.min_interval),
                Ts::from(last + limits.min_interval),
            )?
            .into_iter()
            .map(|(id, at)| {
                let id = id.uuid();
                (current_ids.get(&id).copied().unwrap_or(id), at.get())
            })
            .collect();
            let used = pings::stored_by_account_since(tx, account.id, Ts::from(today))?;
            let room = limits
                .daily_quota
                .saturating_sub(u64::try_from(used).unwrap_or(0));
            (stored, room)
        };
        let judged: Vec<(Uuid, DateTime<Utc>)> = in_shift
            .iter()
            .map(|(id, r, _)| (*id, r.recorded_at))
            .collect();
        let verdicts = admit(&judged, &stored, limits.min_interval, room);
        let received_at = Ts::now();
        let mut rows = Vec::with_capacity(in_shift.len());
        let mut closed_touched = BTreeSet::new();
        // The earliest time stored into each shift, by the shift's place in `shifts`.
        let mut earliest_per_shift = BTreeMap::<usize, Ts>::new();
        for ((id, reading, index), verdict) in in_shift.into_iter().zip(verdicts) {
            match verdict {
                Admission::Store => {}
                Admission::Duplicate => {
                    outcome.duplicates += 1;
                    continue;
                }
                Admission::Refused(why) => {
                    outcome.rejected.push((Some(id.to_string()), why));
                    continue;
                }
            }
            let shift = &shifts[index];
            if shift.clock_out_at.is_some() {
                closed_touched.insert(index);
            }
            let at = Ts::from(reading.recorded_at);
            earliest_per_shift
                .entry(index)
                .and_modify(|earliest| *earliest = (*earliest).min(at))
                .or_insert(at);
            rows.push(Ping {
                user_id: user,
                id: Id::from_uuid(id),
                account_id: account.id,
                shift_id: shift.id,
                recorded_at: Ts::from(reading.recorded_at),
                lat: reading.lat,
                lon: reading.lon,
                accuracy_m: reading.accuracy_m,
                speed_mps: reading.speed_mps,
                heading_deg: reading.heading_deg,
                received_at,
            });
        }
        let inserted = pings::insert_new(tx, &rows)?;
        if inserted > 0 {
            detect_visits(tx, account, user, &rows)?;
        }
        if inserted > 0 {
            let n = i64::try_from(inserted).unwrap_or(i64::MAX);
            pings::count_stored(tx, account.id, user, Ts::from(today), n)?;
            // After the count above, whose row lock orders this person's
            // batches: each shift's row is then updated in the same order.
            for (index, earliest) in earliest_per_shift {
                shifts::note_stored(tx, shifts[index].id, earliest)?;
            }
        }
        outcome.accepted = inserted;
        // A resend racing its first upload.
        outcome.duplicates += rows.len() - inserted;
        // Late uploads into a closed shift change its stored distance.
        if inserted > 0 {
            for index in closed_touched {
                let mut shift = shifts[index].clone();
                shift.distance_m = Some(metres(count_on(tx, shift.id, None)?));
                shifts::save(tx, &shift)?;
            }
        }
        finish(tx, &outcome)?;
        Ok(outcome)
    })
}

/// Records arrival at and departure from the person's appointments of the
/// same (local) day as the pings: the first fix within the account's radius of
/// the appointment's place, and the first fix away from it afterwards.
fn detect_visits(
    tx: &mut Tx<'_>,
    account: &accounts::Account,
    user: Id<User>,
    rows: &[Ping],
) -> Result<(), AppError> {
    let (Some(first), Some(last)) = (
        rows.iter().map(|p| p.recorded_at).min(),
        rows.iter().map(|p| p.recorded_at).max(),
    ) else {
        return Ok(());
    };
    let zone = account.time_zone.tz();
    let day_of = |at: DateTime<Utc>| at.with_timezone(&zone).date_naive();
    let window = Duration::days(1);
    let candidates = appointments::located_for_technician(
        tx,
        user,
        Ts::from(first.get() - window),
        Ts::from(last.get() + window),
    )?;
    for mut appointment in candidates {
        let (Some(lat), Some(lon)) = (appointment.address.lat, appointment.address.lon) else {
            continue;
        };
        let day = day_of(appointment.starts_at.get());
        let mut fixes: Vec<Fix> = rows
            .iter()
            .filter(|p| day_of(p.recorded_at.get()) == day)
            .map(|p| Fix {
                at: p.recorded_at.get(),
                lat: p.lat,
                lon: p.lon,
            })
            .collect();
        if fixes.is_empty() {
            continue;
        }
        fixes.sort_by_key(|f| f.at);
        let before = (appointment.arrived_at, appointment.departed_at);
        let (arrived, departed) = fieldcrm_geo_track::visit(
            &fixes,
            (lat, lon),
            account.arrival_radius_m,
            before.0.map(|t| t.get()),
            before.1.map(|t| t.get()),
        );
        let after = (arrived.map(Ts::from), departed.map(Ts::from));
        if after != before {
            let read_version = appointment.version;
            appointment.arrived_at = after.0;
            appointment.departed_at = after.1;
            appointment.version = read_version + 1;
            appointment.updated_at = Ts::now();
            // A concurrent edit wins; the next batch records the visit then.
            if appointments::save(tx, &appointment, read_version)? {
                let changed: Vec<&'static str> = [
                    ("arrived_at", before.0 != after.0),
                    ("departed_at", before.1 != after.1),
                ]
                .into_iter()
                .filter_map(|(field, differs)| differs.then_some(field))
                .collect();
                tx.publish(Event::AppointmentSaved {
                    appointment: &appointment,
                    saved: Saved::Updated { changed: &changed },
                    reminders: None,
                    actor: Actor::System,
                    origin: Origin::Gps,
                })?;
            }
        }
    }
    Ok(())
}

/// A shift with its worked time and distance.
pub struct ShiftSummary {
    pub shift: Shift,
    pub worked_s: i64,
    pub distance_m: f64,
}

/// The shifts with their worked time and distance: stored when they closed,
/// counted on from the last read while they are open (`open_distances`).
fn summarise(
    tx: &mut Tx<'_>,
    shifts: Vec<Shift>,
    now: DateTime<Utc>,
) -> Result<Vec<ShiftSummary>, AppError> {
    let uncounted: Vec<_> = shifts
        .iter()
        .filter(|s| s.distance_m.is_none())
        .map(|s| s.id)
        .collect();
    let open = open_distances(tx, &uncounted)?;
    Ok(shifts
        .into_iter()
        .map(|shift| {
            let end = shift.clock_out_at.map_or(now, |t| t.get());
            let worked_s = (end - shift.clock_in_at.get()).num_seconds().max(0);
            let distance_m = shift
                .distance_m
                .or_else(|| open.get(&shift.id).copied())
                .unwrap_or(0.0);
            ShiftSummary {
                shift,
                worked_s,
                distance_m,
            }
        })
        .collect())
}

/// Technicians see only their own shifts; the others anyone's in the account.
fn only_own(caller: &Caller) -> Result<Option<Id<User>>, AppError> {
    caller.require(Action::ViewShifts)?;
    Ok(match caller.user() {
        Some((id, Role::Technician)) => Some(id),
        _ => None,
    })
}

pub struct TimesheetRequest {
    pub user: Option<Id<User>>,
    pub from: Option<Ts>,
    pub to: Option<Ts>,
    pub after: Option<Id<Shift>>,
    pub fetch: i64,
}

pub struct Timesheet {
    pub rows: Vec<ShiftSummary>,
    pub total_shifts: usize,
    pub total_worked_s: i64,
    pub total_distance_m: f64,
}

pub async fn timesheet(
    state: &AppState,
    caller: &Caller,
    request: TimesheetRequest,
) -> Result<Timesheet, AppError> {
    let user = match (only_own(caller)?, request.user) {
        (Some(own), Some(asked)) if own != asked => {
            return Err(AppError::forbidden("technicians see only their own shifts"))
        }
        (Some(own), _) => Some(own),
        (None, asked) => asked,
    };
    let account = caller.account_id;
    state
        .db(move |conn| {
            let now = Utc::now();
            let filter = shifts::Filter {
                account,
                user,
                from: request.from,
                to: request.to,
                after: None,
                limit: i64::MAX,
            };
            // Totals cover every shift the filter matches, not only this page:
            // summarise each once and cut the page from the same rows.
            let listed = shifts::list(conn, &filter)?;
            let all = summarise(conn, listed, now)?;
            let totals = all.iter().fold((0usize, 0i64, 0f64), |t, s| {
                (t.0 + 1, t.1 + s.worked_s, t.2 + s.distance_m)
            });
            let rows = all
                .into_iter()
                .filter(|s| {
                    request
                        .after
                        .is_none_or(|after| s.shift.id.uuid() > after.uuid())
                })
                .take(usize::try_from(request.fetch).unwrap_or(usize::MAX))
                .collect();
            Ok(Timesheet {
                rows,
                total_shifts: totals.0,
                total_worked_s: totals.1,
                total_distance_m: totals.2,
            })
        })
        .await
}

pub async fn shift(
    state: &AppState,
    caller: &Caller,
    id: Id<Shift>,
) -> Result<ShiftSummary, AppError> {
    let own = only_own(caller)?;
    let account = caller.account_id;
    state
        .db(move |conn| {
            let shift = shifts::find(conn, account, id)?
                .filter(|s| own.is_none_or(|user| s.user_id == user))
                .ok_or_else(AppError::not_found)?;
            summarise(conn, vec![shift], Utc::now())?
                .pop()
                .ok_or_else(AppError::not_found)
        })
        .await
}

/// The names of the people whose shifts the caller sees (technicians: only
/// their own), for showing shifts by person; ids of other accounts are left out.
pub async fn technician_names(
    state: &AppState,
    caller: &Caller,
    users: Vec<Id<User>>,
) -> Result<std::collections::HashMap<Id<User>, String>, AppError> {
    let own = only_own(caller)?;
    let account = caller.account_id;
    let users: Vec<_> = users
        .into_iter()
        .filter(|user| own.is_none_or(|own| own == *user))
        .collect();
    state
        .db(move |conn| {
            Ok(fieldcrm_db::users::names_of(conn, account, &users)?
                .into_iter()
                .collect())
        })
        .await
}

pub struct Route {
    pub summary: ShiftSummary,
    pub trail: Vec<Fix>,
    pub stops: Vec<fieldcrm_geo_track::Stop>,
}

/// Stationary for more than five minutes within 50 m makes a stop.
const STOP_RADIUS_M: f64 = 50.0;
const STOP_MINUTES: i64 = 5;

pub async fn route(state: &AppState, caller: &Caller, id: Id<Shift>) -> Result<Route, AppError> {
    let own = only_own(caller)?;
    let account = caller.account_id;
    state
        .db(move |conn| {
            let shift = shifts::find(conn, account, id)?
                .filter(|s| own.is_none_or(|user| s.user_id == user))
                .ok_or_else(AppError::not_found)?;
            // One read of the pings serves the distance, the stops and the line.
            let trail = trail(conn, &shift)?;
            let end = shift.clock_out_at.map_or_else(Utc::now, |t| t.get());
            let summary = ShiftSummary {
                worked_s: (end - shift.clock_in_at.get()).num_seconds().max(0),
                distance_m: fieldcrm_geo_track::distance_m(&trail),
                shift,
            };
            let stops =
                fieldcrm_geo_track::stops(&trail, STOP_RADIUS_M, Duration::minutes(STOP_MINUTES));
            Ok(Route {
                summary,
                trail,
                stops,
            })
        })
        .await
}

pub struct LivePosition {
    pub shift: Shift,
    pub user_name: String,
    pub last: Option<Ping>,
}

/// Where each clocked-in person was last seen. Nobody clocked out appears.
pub async fn live(state: &AppState, caller: &Caller) -> Result<Vec<LivePosition>, AppError> {
    caller.require(Action::ViewLiveLocations)?;
    let account = caller.account_id;
    state
        .db(move |conn| {
            // The names in one query, then one indexed lookup per shift.
            let open = shifts::open_in_account(conn, account)?;
            let user_ids: Vec<_> = open.iter().map(|s| s.user_id).collect();
            let names: std::collections::HashMap<_, _> =
                fieldcrm_db::users::names_of(conn, account, &user_ids)?
                    .into_iter()
                    .collect();
            let shift_ids: Vec<_> = open.iter().map(|s| s.id).collect();
            let mut latest: std::collections::HashMap<_, _> =
                pings::latest_of_shifts(conn, &shift_ids)?
                    .into_iter()
                    .map(|p| (p.shift_id, p))
                    .collect();
            Ok(open
                .into_iter()
                .filter_map(|shift| {
                    let user_name = names.get(&shift.user_id)?.clone();
                    let last = latest.remove(&shift.id);
                    Some(LivePosition {
                        shift,
                        user_name,
                        last,
                    })
                })
                .collect())
        })
        .await
}

/// Closes shifts past their account's maximum (at that limit, not now) and
/// purges pings past each account's retention. Safe to run from several
/// processes at once: both only ever converge on the same state.
pub fn maintain(tx: &mut Tx<'_>) -> Result<(usize, usize), AppError> {
    let now = Ts::now();
    let mut closed = 0;
    for (shift, hours) in shifts::overdue(tx, now)? {
        let limit = Ts::from(shift.clock_in_at.get() + Duration::hours(i64::from(hours)));
        tx.write_transaction(|tx| {
            // Someone may have clocked out meanwhile.
            if let Some(current) = shifts::find_for_close(tx, shift.account_id, shift.id)? {
                if current.clock_out_at.is_none() {
                    close(tx, current, limit, None, "auto", Actor::System)?;
                    closed += 1;
                }
            }
            Ok::<_, AppError>(())
        })?;
    }
    pings::forget_counts_before(tx, Ts::from(day_start(now.get()) - Duration::days(1)))?;
    let mut purged = 0;
    for (account, days) in accounts::retention(tx)? {
        let before = Ts::from(now.get() - Duration::days(i64::from(days)));
        purged += pings::purge_older_than(tx, account, before)?;
    }
    Ok((closed, purged))
}

#[cfg(test)]
mod tests {
    use std::time::Duration as StdDuration;

    use chrono::{DateTime, Duration, Utc};
    use uuid::Uuid;

    use fieldcrm_domain::tracking::Rejection;

    use diesel::prelude::*;
    use fieldcrm_db::google::{self, Integration};
    use fieldcrm_db::schema::{events, jobs};
    use fieldcrm_db::{appointments, Ts};
    use fieldcrm_domain::scheduling::{TimeSlot, Title};
    use fieldcrm_domain::{Address, Coordinates};

    use super::{clock_in, clock_out, ingest, PingBody, PingItem};
    use crate::google_sync::ExportEvent;
    use crate::jobs::BackgroundJob;
    use crate::preconditions::IfMatch;
    use crate::scheduling::appointments::{create_in, update, AppointmentPatch, NewAppointment};
    use crate::testing::World;

    fn ping(recorded_at: DateTime<Utc>) -> PingItem {
        PingItem::Ping(PingBody {
            id: Uuid::now_v7(),
            recorded_at,
            lat: 52.52,
            lon: 13.405,
            accuracy_m: Some(8.0),
            speed_mps: None,
            heading_deg: None,
        })
    }

    async fn a_moment() -> DateTime<Utc> {
        tokio::time::sleep(StdDuration::from_millis(20)).await;
        Utc::now()
    }

    #[tokio::test]
    async fn a_ping_is_kept_only_when_it_was_recorded_inside_a_shift_of_its_sender() {
        let world = World::new(|s| s.ping_min_interval_ms = 1).await;
        let (_, tom) = world.technician("Tom").await;
        let before_any_shift = Utc::now() - Duration::minutes(10);
        let refused = ingest(&world.state, &tom, vec![ping(before_any_shift)])
            .await
            .unwrap();
        assert_eq!(refused.accepted, 0);
        assert_eq!(refused.rejected[0].1, Rejection::OutsideShift);

        let shift = clock_in(&world.state, &tom, None).await.unwrap();
        let during = a_moment().await;
        let recorded_during_sent_later = a_moment().await;
        let before_clock_in = shift.clock_in_at.get() - Duration::seconds(1);
        let first = ingest(
            &world.state,
            &tom,
            vec![ping(during), ping(before_clock_in)],
        )
        .await
        .unwrap();
        assert_eq!(first.accepted, 1);
        assert_eq!(first.rejected.len(), 1);
        assert_eq!(first.rejected[0].1, Rejection::OutsideShift);

        a_moment().await;
        clock_out(&world.state, &tom, None).await.unwrap();
        let after_clock_out = a_moment().await;
        // What the app recorded during the shift still counts when it
        // arrives after the clock-out; what it recorded after does not.
        let late = ingest(
            &world.state,
            &tom,
            vec![ping(recorded_during_sent_later), ping(after_clock_out)],
        )
        .await
        .unwrap();
        assert_eq!(late.accepted, 1);
        assert_eq!(late.rejected[0].1, Rejection::OutsideShift);

        // Another technician's shift does not open the window for Tom's pings.
        let (_, uma) = world.technician("Uma").await;
        clock_in(&world.state, &uma, None).await.unwrap();
        let while_uma_works = a_moment().await;
        let not_his = ingest(&world.state, &tom, vec![ping(while_uma_works)])
            .await
            .unwrap();
        assert_eq!(not_his.accepted, 0);
    }

    /// What the service has queued to send to Google, and what the events
    /// feed holds.
    fn exports_and_feed(world: &World) -> (i64, i64) {
        let conn = &mut *world.conn();
        let exports = jobs::table
            .filter(jobs::kind.eq(ExportEvent::KIND))
            .count()
            .get_result(conn)
            .unwrap();
        let feed = events::table.count().get_result(conn).unwrap();
        (exports, feed)
    }

    #[tokio::test]
    async fn a_visit_found_in_pings_is_kept_on_the_appointment_but_not_sent_to_google_or_the_feed()
    {
        let world = World::new(|s| s.ping_min_interval_ms = 1).await;
        let (tech, tom) = world.technician("Tom").await;
        let anna = world.customer("Anna", "+4915112345678", "anna@example.com");
        let now = Utc::now();
        let booked = world
            .tx(|tx| {
                create_in(
                    tx,
                    &world.owner,
                    NewAppointment {
                        person_id: anna.id,
                        technician_id: Some(tech.id),
                        title: Title::parse("Boiler service").unwrap(),
                        notes: None,
                        slot: TimeSlot::new(now, now + Duration::hours(1)).unwrap(),
                        address: Some(Address {
                            line1: "Unter den Linden 1".into(),
                            line2: None,
                            city: Some("Berlin".into()),
                            region: None,
                            postal_code: None,
                            country: None,
                            // Where `ping` says the phone is.
                            coordinates: Some(Coordinates {
                                lat: 52.52,
                                lon: 13.405,
                            }),
                        }),
                        reminders: None,
                        allow_overlap: false,
                    },
                )
            })
            .unwrap();
        let id = booked.appointment.id;
        // Google connected from here on: a change to the appointment would go there.
        google::replace(
            &mut world.conn(),
            &Integration {
                account_id: world.owner.account_id,
                connected_by: Some(tech.id),
                email: None,
                google_subject: "subject".into(),
                scopes: "https://www.googleapis.com/auth/calendar.events".into(),
                calendar_id: "primary".into(),
                refresh_token: "sealed".into(),
                access_token: None,
                access_token_expires_at: None,
                needs_reconnect: false,
                last_error: None,
                sync_token: None,
                last_synced_at: None,
                channel_id: None,
                channel_resource_id: None,
                channel_token_hash: None,
                channel_expires_at: None,
                created_at: Ts::now(),
                updated_at: Ts::now(),
            },
        )
        .unwrap();
        clock_in(&world.state, &tom, None).await.unwrap();
        let before = exports_and_feed(&world);

        let at_the_door = a_moment().await;
        ingest(&world.state, &tom, vec![ping(at_the_door)])
            .await
            .unwrap();
        let visited = appointments::find(&mut world.conn(), world.owner.account_id, id)
            .unwrap()
            .unwrap();
        assert!(visited.arrived_at.is_some(), "the arrival is recorded");
        assert_eq!(exports_and_feed(&world), before);

        // The same appointment changed by a person goes to Google and the feed.
        update(
            &world.state,
            &world.owner,
            id,
            IfMatch::Absent,
            AppointmentPatch {
                title: Some(Title::parse("Boiler service and flue check").unwrap()),
                ..AppointmentPatch::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(exports_and_feed(&world), (before.0 + 1, before.1 + 1));
    }
}
