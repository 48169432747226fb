//! What else happens: every reaction of one context to another's events, and
//! every kind of background job, in one place. The crate root hands both to the
//! kernel (`effects`), so the contexts that publish never import the ones that
//! react.

use chrono::Duration;

use fieldcrm_db::Ts;

use crate::accounts::privacy;
use crate::config::Settings;
use crate::error::AppResult;
use crate::events::{Event, Origin};
use crate::tx::Tx;
use crate::worker::{plain, register, Registered};
use crate::{feed, google_sync, idempotency, messaging, time_clock, webhooks};

/// Runs the reactions to `event` inside the publisher's transaction, then
/// records what the events feed shows of it: after the reactions, so what
/// they record (a message queued by a status change) comes first.
pub(crate) fn react(tx: &mut Tx<'_>, event: &Event<'_>) -> AppResult<()> {
    run_reactions(tx, event)?;
    for entry in event.feed_entries() {
        feed::record(tx, entry.account, entry.actor, entry.change)?;
    }
    Ok(())
}

fn run_reactions(tx: &mut Tx<'_>, event: &Event<'_>) -> AppResult<()> {
    match *event {
        Event::AppointmentSaved {
            appointment,
            reminders,
            origin,
            ..
        } => {
            if let Some(reminders) = reminders {
                messaging::replace_reminders(tx, appointment.id, reminders)?;
            }
            match origin {
                Origin::Api => google_sync::appointment_changed(tx, appointment),
                // A change made in Google is not sent back to it; an arrival
                // or departure from GPS changes nothing Google holds.
                Origin::Google | Origin::Gps => Ok(()),
            }
        }
        Event::AppointmentStatusChanged {
            appointment,
            to,
            by,
            origin,
            ..
        } => {
            if !to.is_open() {
                messaging::cancel_reminders(tx, appointment.id)?;
            }
            match origin {
                Origin::Api => {
                    messaging::notify_status(tx, appointment, to, by)?;
                    google_sync::appointment_changed(tx, appointment)
                }
                // A cancellation made in Google texts nobody and is not sent
                // back (GPS records visits, never a status).
                Origin::Google | Origin::Gps => Ok(()),
            }
        }
        Event::AppointmentsRemoving {
            account,
            appointments,
            ..
        } => {
            let ids: Vec<_> = appointments.iter().map(|a| a.id).collect();
            google_sync::appointments_removed(tx, account, &ids)
        }
        Event::PersonErasing { account, person } => {
            // Erasure reaches the person's events in Google too.
            google_sync::person_removed(tx, account, person)
        }
        Event::UserRemoving { caller, user } => {
            time_clock::devices::revoke_all_of(tx, caller, user, "user removed")
        }
        Event::AccountErasing {
            account,
            delete_calendar_events,
        } => {
            // Both read what they need from rows the erasure removes.
            webhooks::queue_account_deleted(tx, account)?;
            google_sync::account_removed(tx, account, delete_calendar_events)
        }
    }
}

/// Every kind of job the runner knows, with what running one does.
pub(crate) const JOBS: &[Registered] = &[
    register::<messaging::SendMessage>(|state, job| plain(messaging::run_send_job(state, job))),
    register::<messaging::SendReminder>(|state, job| {
        plain(messaging::run_reminder_job(state, job))
    }),
    register::<google_sync::ExportEvent>(|state, job| {
        plain(google_sync::run_export_job(state, job))
    }),
    register::<google_sync::DeleteEvents>(|state, job| {
        plain(google_sync::run_delete_events_job(state, job))
    }),
    register::<google_sync::Sync>(|state, job| plain(google_sync::run_sync_job(state, job))),
    register::<google_sync::Watch>(|state, job| plain(google_sync::run_watch_job(state, job))),
    register::<google_sync::Cleanup>(|state, job| plain(google_sync::run_cleanup_job(state, job))),
    register::<privacy::ScrubDeletion>(|state, job| plain(privacy::run_scrub_job(state, job))),
    register::<feed::Deliver>(|state, job| Box::pin(webhooks::run_delivery_job(state, job))),
    register::<webhooks::DeliverFinal>(|state, job| {
        plain(webhooks::run_final_delivery_job(state, job))
    }),
];

/// One round of the periodic upkeep; returns the shifts closed and the pings
/// purged. Each task is idempotent.
pub(crate) fn upkeep(tx: &mut Tx<'_>, settings: &Settings) -> AppResult<(usize, usize)> {
    // Shifts past their account's maximum close; pings past retention go.
    let (closed, purged) = time_clock::maintain(tx)?;
    let now = Ts::now();
    messaging::purge_bodies(tx, now)?;
    feed::purge(tx, settings.events_retention_days, now)?;
    idempotency::forget_expired(tx, now)?;
    if let Some(google) = &tx.outbound().google {
        let sync_every =
            Duration::seconds(i64::try_from(settings.google_sync_interval_secs).unwrap_or(900));
        // Push needs Google to reach this server, over https.
        let push = google.push_enabled && google.webhook_url.starts_with("https://");
        google_sync::schedule_periodic(tx, sync_every, push, now)?;
    }
    Ok((closed, purged))
}
