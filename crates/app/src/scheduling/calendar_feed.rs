//! A person's appointments as an iCalendar feed behind a secret URL, for
//! calendars that subscribe to a URL (Apple, Outlook, Google).

use chrono::Duration;
use icalendar::{Calendar, Component, Event, EventLike, EventStatus};

use fieldcrm_db::{appointments, calendar_feeds, Ts};
use fieldcrm_domain::scheduling::Status;
use fieldcrm_domain::Action;

use crate::auth::tokens::{new_secret, secret_hash};
use crate::caller::Caller;
use crate::error::AppError;
use crate::state::AppState;

pub const TOKEN_PREFIX: &str = "fcrm_cal_";
/// Past appointments stay in the feed this long, so today's stay visible.
const KEEP_PAST_DAYS: i64 = 7;
const MOST_EVENTS: i64 = 1000;

/// Makes a new secret feed token for the caller; any earlier one stops working.
pub async fn rotate(state: &AppState, caller: &Caller) -> Result<String, AppError> {
    let (user, _) = caller
        .user()
        .ok_or_else(|| AppError::forbidden("calendar feeds belong to people, not API keys"))?;
    caller.require(Action::UseOwnCalendarFeed)?;
    let account = caller.account_id;
    let token = new_secret(TOKEN_PREFIX);
    let hash = secret_hash(&token);
    state
        .db(move |conn| {
            Ok(calendar_feeds::replace(
                conn,
                account,
                user,
                &hash,
                Ts::now(),
            )?)
        })
        .await?;
    Ok(token)
}

pub async fn revoke(state: &AppState, caller: &Caller) -> Result<(), AppError> {
    let (user, _) = caller
        .user()
        .ok_or_else(|| AppError::forbidden("calendar feeds belong to people, not API keys"))?;
    caller.require(Action::UseOwnCalendarFeed)?;
    state
        .db(move |conn| {
            calendar_feeds::delete(conn, user)?;
            Ok(())
        })
        .await
}

/// The feed for a token, or 404 for a token that is unknown or was rotated.
pub async fn render(state: &AppState, token: String) -> Result<String, AppError> {
    let hash = secret_hash(&token);
    state
        .db(move |conn| {
            let (account, user) =
                calendar_feeds::owner_of(conn, &hash)?.ok_or_else(AppError::not_found)?;
            let since = Ts::from(Ts::now().get() - Duration::days(KEEP_PAST_DAYS));
            let mut calendar = Calendar::new();
            calendar.name("fieldcrm appointments");
            for a in appointments::open_for_technician(conn, account, user, since, MOST_EVENTS)? {
                let location = [
                    a.address.address_line1.as_deref(),
                    a.address.city.as_deref(),
                    a.address.postal_code.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
                let mut event = Event::new();
                event
                    .uid(&format!("{}@fieldcrm", a.id))
                    .summary(&a.title)
                    .starts(a.starts_at.get())
                    .ends(a.ends_at.get())
                    .status(if a.status == Status::Scheduled {
                        EventStatus::Tentative
                    } else {
                        EventStatus::Confirmed
                    });
                if !location.is_empty() {
                    event.location(&location);
                }
                calendar.push(event.done());
            }
            Ok(calendar.done().to_string())
        })
        .await
}
