//! The use cases of fieldcrm, grouped by context, with no HTTP in them: the
//! HTTP adapter (`api`) parses a request, makes one call here and shows what
//! comes back; the job worker runs the background work through the same calls.
//!
//! Contexts, upstream to downstream: `people` -> `scheduling` -> `messaging`,
//! `google_sync`, `time_clock`; `accounts` and `webhooks` apart. The kernel
//! (`error`, `caller`, `events`, `feed`, `jobs`, `tx`, `state`, ...) serves
//! them all and names none of them; this root and `wiring` connect them
//! (`architecture.rs` checks it).

pub mod accounts;
#[cfg(test)]
mod architecture;
pub mod audit;
pub mod auth;
pub mod caller;
pub mod config;
pub mod error;
pub mod events;
pub mod feed;
pub mod google_sync;
pub mod idempotency;
pub mod jobs;
pub mod limits;
pub mod memory;
pub mod messaging;
pub mod outbound;
pub mod paging;
pub mod people;
pub mod preconditions;
pub mod scheduling;
pub mod state;
#[cfg(test)]
mod testing;
pub mod time_clock;
pub mod tx;
pub mod webhooks;
mod wiring;
pub mod worker;

pub use caller::Caller;
pub use error::{AppError, AppResult, Failure};
pub use state::AppState;
pub use tx::Tx;

use std::sync::Arc;

use fieldcrm_db::{migrations, DbPool};

use auth::sessions::SessionCache;
use auth::tokens::{LinkKeys, Tokens};
use config::Settings;
use limits::{DeviceRates, PasswordWork};
use outbound::Outbound;
use state::DbThreads;

/// The effects of use cases, with every reaction wired in (`wiring.rs`).
pub fn effects(settings: &config::Settings, outbound: Arc<outbound::Outbound>) -> tx::Effects {
    tx::Effects::new(wiring::react, jobs::Queueing::new(settings), outbound)
}

/// Claims one batch of due jobs of every kind and runs them (`worker`).
pub async fn run_due_jobs(state: &AppState) -> AppResult<usize> {
    worker::run_due(state, wiring::JOBS).await
}

/// Runs due jobs of every kind until the process stops.
pub async fn run_jobs(state: AppState) {
    worker::run(state, wiring::JOBS).await
}

/// Runs the upkeep every `interval` until the process stops: every process
/// may run it; the work is idempotent.
pub async fn run_upkeep(state: AppState, interval: std::time::Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let round = state.clone();
        // Not on the database threads: a long purge there would hold one of
        // the few threads that requests wait for.
        let outcome = tokio::task::spawn_blocking(move || upkeep_once(&round)).await;
        match outcome {
            Ok(Ok((closed, purged))) if closed + purged > 0 => {
                tracing::info!(closed_shifts = closed, purged_pings = purged, "upkeep done");
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::warn!(%err, "upkeep failed; retrying at the next tick"),
            Err(err) => tracing::error!(error = %err, "upkeep task panicked"),
        }
    }
}

/// One round of upkeep on a connection of its own from the pool.
fn upkeep_once(state: &AppState) -> AppResult<(usize, usize)> {
    let mut conn = state.pool.get()?;
    // Its purges may be as large as what piled up while it was off.
    let done = fieldcrm_db::without_statement_timeout(&mut conn, |conn| {
        Ok(wiring::upkeep(
            &mut Tx::new(conn, &state.effects),
            &state.settings,
        ))
    })??;
    conn.vouch();
    Ok(done)
}

/// The keys kept in the database: the link key (when none is configured) and
/// the key that seals webhook secrets.
pub struct StoredKeys {
    links: LinkKeys,
    sealing: Vec<u8>,
}

/// Applies pending migrations, then reads the stored keys (each is made by
/// the first process that needs it).
pub async fn migrate_and_read_keys(
    pool: &DbPool,
    settings: &Settings,
) -> anyhow::Result<(Vec<String>, StoredKeys)> {
    let pool = pool.clone();
    let settings = settings.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        let applied = migrations::run_pending(&mut conn)?;
        let links = LinkKeys::new(&settings, || {
            Ok(fieldcrm_db::link_keys::get_or_create(
                &mut conn,
                fieldcrm_db::link_keys::STORED_KEY_ID,
                &LinkKeys::candidate(),
            )?)
        })?;
        let sealing = fieldcrm_db::link_keys::get_or_create(
            &mut conn,
            fieldcrm_db::link_keys::SEALING_KEY_ID,
            &LinkKeys::candidate(),
        )?;
        Ok((applied, StoredKeys { links, sealing }))
    })
    .await?
}

/// The state every handler and job shares, built from its parts.
pub fn app_state(
    pool: DbPool,
    settings: Settings,
    port: u16,
    keys: StoredKeys,
    full_object: state::FullObject,
) -> anyhow::Result<AppState> {
    let outbound = Arc::new(Outbound::from_settings(&settings, port, &keys.sealing)?);
    Ok(AppState {
        db_threads: Arc::new(DbThreads::new(settings.database_pool_size as usize)?),
        pool,
        tokens: Arc::new(Tokens::new(&settings, keys.links)),
        sessions: Arc::new(SessionCache::default()),
        exports: Arc::new(tokio::sync::Semaphore::new(
            settings.max_concurrent_exports as usize,
        )),
        passwords: Arc::new(PasswordWork::new(settings.password_hashes_at_once)),
        full_object,
        account_mail: &google_sync::Gmail,
        device_rates: Arc::new(DeviceRates::new(settings.device_requests_per_minute)),
        effects: Arc::new(effects(&settings, outbound.clone())),
        outbound,
        settings: Arc::new(settings),
    })
}
