//! What an access token is checked against on every request (the user still
//! exists, its role, its token version, the account's country, its session was
//! not ended), kept between requests on PostgreSQL. Reading it was one of the
//! two queries of a GET by id.
//!
//! Kept facts are dropped:
//! - at once in this process, by the service that changed them;
//! - within a poll interval (10 ms) in every process, when the database's
//!   notification arrives (`fieldcrm_db::session_changes`);
//! - all of them, when the notifications can no longer be trusted: the
//!   listener's connection fails, or its own heartbeat has not come back
//!   through the database within three seconds. Until the heartbeat is heard
//!   again, every request reads the facts from the database, as on SQLite.
//!
//! `FIELDCRM_SESSION_CACHE=false` makes every request read them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use fieldcrm_db::accounts::Account;
use fieldcrm_db::refresh_tokens::Session;
use fieldcrm_db::session_changes::{SessionChange, SessionListener};
use fieldcrm_db::users::{SessionCheck, User};
use fieldcrm_db::{DatabaseUrl, Id};

/// How often the listener looks for notifications.
const POLL_EVERY: Duration = Duration::from_millis(10);
/// How often the listener sends its heartbeat through the database.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// No heartbeat heard for this long: the channel is taken to be broken.
const HEARTBEAT_DEADLINE: Duration = Duration::from_secs(3);
/// Wait before connecting again after the listener's connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// Beyond this many users the cache starts over, so its memory stays bounded.
const MOST_ENTRIES: usize = 50_000;
/// Beyond this many live sessions of one user, that user's start over.
const MOST_SESSIONS_PER_USER: usize = 64;

#[derive(Default)]
pub struct SessionCache {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    /// When this process's heartbeat last came back; `None` while no listener
    /// works. Facts are kept and given out only while it is recent.
    heard_at: Option<Instant>,
    /// Raised by every change and every loss of the listener: facts read
    /// before a raise may be out of date and are not kept.
    generation: u64,
    entries: HashMap<Id<User>, Entry>,
    hits: u64,
}

struct Entry {
    account: Id<Account>,
    facts: SessionCheck,
    /// Sessions read as not ended. An ended session is never kept, so its
    /// tokens are checked against the database on every request.
    sessions: HashSet<Id<Session>>,
}

/// Taken before reading facts from the database; keeping them needs it.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl CacheState {
    fn live(&self) -> bool {
        self.heard_at
            .is_some_and(|at| at.elapsed() < HEARTBEAT_DEADLINE)
    }

    fn invalidate(&mut self) {
        self.generation += 1;
    }
}

impl SessionCache {
    fn lock(&self) -> MutexGuard<'_, CacheState> {
        // The state stays consistent whatever a panicking holder was doing:
        // each change is a single assignment or map operation.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The kept facts of the user, if the cache is live and has them for this
    /// session.
    pub fn get(
        &self,
        account: Id<Account>,
        user: Id<User>,
        session: Id<Session>,
    ) -> Option<SessionCheck> {
        let mut state = self.lock();
        if !state.live() {
            return None;
        }
        let facts = state
            .entries
            .get(&user)
            .filter(|entry| entry.account == account && entry.sessions.contains(&session))
            .map(|entry| entry.facts.clone())?;
        state.hits += 1;
        Some(facts)
    }

    /// `None` while the cache is not live: what is read now may not be kept.
    pub fn ticket(&self) -> Option<Ticket> {
        let state = self.lock();
        state.live().then_some(Ticket(state.generation))
    }

    /// Keeps facts of a session that was not ended, read after `ticket` was
    /// taken, unless something changed since.
    pub fn keep(
        &self,
        ticket: Ticket,
        account: Id<Account>,
        user: Id<User>,
        session: Id<Session>,
        facts: SessionCheck,
    ) {
        let mut state = self.lock();
        if !state.live() || state.generation != ticket.0 {
            return;
        }
        if state.entries.len() >= MOST_ENTRIES {
            state.entries.clear();
        }
        let entry = state.entries.entry(user).or_insert_with(|| Entry {
            account,
            facts: facts.clone(),
            sessions: HashSet::new(),
        });
        // Nothing changed since the ticket, so these facts are as new as any kept.
        entry.account = account;
        entry.facts = facts;
        if entry.sessions.len() >= MOST_SESSIONS_PER_USER {
            entry.sessions.clear();
        }
        entry.sessions.insert(session);
    }

    /// After this process changed the user's role or token version, ended one
    /// of their sessions, or removed them.
    pub fn forget_user(&self, user: Id<User>) {
        let mut state = self.lock();
        state.invalidate();
        state.entries.remove(&user);
    }

    /// After this process changed the account's country, or removed it.
    pub fn forget_account(&self, account: Id<Account>) {
        let mut state = self.lock();
        state.invalidate();
        state.entries.retain(|_, entry| entry.account != account);
    }

    /// Requests answered from the cache so far.
    pub fn hits(&self) -> u64 {
        self.lock().hits
    }

    /// Whether requests are answered from the cache now.
    pub fn is_live(&self) -> bool {
        self.lock().live()
    }

    fn heard(&self, at: Instant) {
        let mut state = self.lock();
        if !state.live() {
            // Back after a silence (a stalled connection, say): what was kept
            // before it is not trusted, even if no notification went missing.
            state.invalidate();
            state.entries.clear();
        }
        state.heard_at = Some(at);
    }

    fn lost(&self) {
        let mut state = self.lock();
        state.invalidate();
        state.heard_at = None;
        state.entries.clear();
    }

    fn apply(&self, change: &SessionChange) {
        match change {
            SessionChange::User(user) => self.forget_user(*user),
            SessionChange::Account(account) => self.forget_account(*account),
            SessionChange::Heartbeat(_) => {}
        }
    }

    /// Starts the thread that listens for changes; on SQLite it does nothing and
    /// the cache is never live. The thread ends once the cache is dropped.
    pub fn start_listener(self: &Arc<Self>, url: DatabaseUrl) -> std::io::Result<()> {
        if !matches!(url, DatabaseUrl::Postgres(_)) {
            return Ok(());
        }
        let cache = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("fieldcrm-sessions".into())
            .spawn(move || listen(&cache, &url))?;
        Ok(())
    }
}

fn listen(cache: &Weak<SessionCache>, url: &DatabaseUrl) {
    // Tells this process's heartbeats from those of other processes.
    let token = uuid::Uuid::now_v7().to_string();
    // One warning per outage, not one per attempt to reconnect.
    let mut outage_reported = false;
    loop {
        let mut ready = false;
        let Err(reason) = listen_once(cache, url, &token, &mut ready) else {
            return;
        };
        let Some(cache) = cache.upgrade() else {
            return; // the server stopped, and its database may be gone with it
        };
        cache.lost();
        if ready {
            outage_reported = false;
        }
        if !outage_reported {
            tracing::warn!(%reason, "session listener lost; every request reads its session from the database until it is back");
            outage_reported = true;
        }
        drop(cache);
        std::thread::sleep(RECONNECT_AFTER);
    }
}

/// Listens until the cache is dropped (`Ok`) or the channel fails (`Err`);
/// `ready` tells whether its heartbeat came back at least once.
fn listen_once(
    cache: &Weak<SessionCache>,
    url: &DatabaseUrl,
    token: &str,
    ready: &mut bool,
) -> Result<(), String> {
    let mut listener = SessionListener::connect(url)
        .map_err(|err| err.to_string())?
        .ok_or("not a PostgreSQL database")?;
    let connected_at = Instant::now();
    let mut sent_at: Option<Instant> = None;
    loop {
        let Some(cache) = cache.upgrade() else {
            return Ok(());
        };
        if sent_at.is_none_or(|at| at.elapsed() >= HEARTBEAT_EVERY) {
            listener
                .send_heartbeat(token)
                .map_err(|err| err.to_string())?;
            sent_at = Some(Instant::now());
        }
        for change in listener.received().map_err(|err| err.to_string())? {
            match &change {
                SessionChange::Heartbeat(from) if from == token => {
                    if !*ready {
                        tracing::info!("session listener ready");
                        *ready = true;
                    }
                    cache.heard(Instant::now());
                }
                change => cache.apply(change),
            }
        }
        // The cache is live only while a heartbeat is recent (and a new
        // connection starts with none heard): it keeps the one clock.
        if !cache.is_live() && connected_at.elapsed() >= HEARTBEAT_DEADLINE {
            return Err("its heartbeat did not come back through the database".into());
        }
        drop(cache);
        std::thread::sleep(POLL_EVERY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldcrm_db::Stored;

    fn facts(role: &str) -> SessionCheck {
        SessionCheck {
            role: Stored(role.parse().unwrap()),
            token_version: 0,
            default_country: Stored(fieldcrm_domain::CountryCode::parse("US").unwrap()),
        }
    }

    fn live_cache() -> SessionCache {
        let cache = SessionCache::default();
        cache.heard(Instant::now());
        cache
    }

    fn ids() -> (Id<Account>, Id<User>) {
        (
            Id::from_uuid(uuid::Uuid::now_v7()),
            Id::from_uuid(uuid::Uuid::now_v7()),
        )
    }

    fn sid() -> Id<Session> {
        Id::from_uuid(uuid::Uuid::from_u128(7))
    }

    #[test]
    fn keeps_and_gives_back_facts_while_live() {
        let cache = live_cache();
        let (account, user) = ids();
        let ticket = cache.ticket().expect("live");
        cache.keep(ticket, account, user, sid(), facts("owner"));
        assert_eq!(
            cache.get(account, user, sid()).map(|f| *f.role),
            Some(fieldcrm_domain::Role::Owner)
        );
        assert_eq!(cache.hits(), 1);
        // The token's account must match too.
        assert!(cache.get(ids().0, user, sid()).is_none());
        // And so must the session: another session of the user is read afresh.
        assert!(cache
            .get(account, user, Id::from_uuid(uuid::Uuid::now_v7()))
            .is_none());
    }

    #[test]
    fn keeps_nothing_without_a_working_listener() {
        let cache = SessionCache::default();
        assert!(cache.ticket().is_none());
        let (account, user) = ids();
        cache.keep(Ticket(0), account, user, sid(), facts("owner"));
        assert!(cache.get(account, user, sid()).is_none());
    }

    #[test]
    fn a_change_during_the_read_stops_what_was_read_from_being_kept() {
        let cache = live_cache();
        let (account, user) = ids();
        let ticket = cache.ticket().expect("live");
        // Another request changes the user while this one reads the old facts.
        cache.forget_user(user);
        cache.keep(ticket, account, user, sid(), facts("owner"));
        assert!(cache.get(account, user, sid()).is_none());
    }

    #[test]
    fn changes_drop_the_user_or_everyone_of_the_account() {
        let cache = live_cache();
        let (account, alice) = ids();
        let bob = Id::from_uuid(uuid::Uuid::now_v7());
        let (other_account, carol) = ids();
        for (acc, user) in [(account, alice), (account, bob), (other_account, carol)] {
            let ticket = cache.ticket().expect("live");
            cache.keep(ticket, acc, user, sid(), facts("admin"));
        }
        cache.apply(&SessionChange::User(alice));
        assert!(cache.get(account, alice, sid()).is_none());
        assert!(cache.get(account, bob, sid()).is_some());
        cache.apply(&SessionChange::Account(account));
        assert!(cache.get(account, bob, sid()).is_none());
        assert!(cache.get(other_account, carol, sid()).is_some());
    }

    #[test]
    fn losing_the_listener_drops_everything_and_stops_answering() {
        let cache = live_cache();
        let (account, kept) = ids();
        let (_, in_flight) = ids();
        cache.keep(
            cache.ticket().expect("live"),
            account,
            kept,
            sid(),
            facts("owner"),
        );
        let ticket = cache.ticket().expect("live");
        cache.lost();
        assert!(cache.get(account, kept, sid()).is_none());
        // A read that began before the loss is not kept after it either.
        cache.keep(ticket, account, in_flight, sid(), facts("owner"));
        cache.heard(Instant::now());
        assert!(cache.get(account, kept, sid()).is_none());
        assert!(cache.get(account, in_flight, sid()).is_none());
    }

    #[test]
    fn an_old_heartbeat_does_not_keep_the_cache_live() {
        let cache = live_cache();
        let (account, user) = ids();
        cache.keep(
            cache.ticket().expect("live"),
            account,
            user,
            sid(),
            facts("owner"),
        );
        let long_ago = Instant::now()
            .checked_sub(HEARTBEAT_DEADLINE)
            .expect("the monotonic clock is past the deadline");
        cache.lock().heard_at = Some(long_ago);
        assert!(!cache.is_live());
        assert!(cache.ticket().is_none());
        assert!(cache.get(account, user, sid()).is_none());
        // Heard again after the silence: what was kept before it is gone.
        cache.heard(Instant::now());
        assert!(cache.get(account, user, sid()).is_none());
    }
}
