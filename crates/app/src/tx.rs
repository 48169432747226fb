//! The connection a use case works on, with what its side effects need: the
//! reactions to the events it publishes, run at once in the same transaction,
//! and what the jobs it queues are given (`jobs::Queueing`).
//!
//! The reactions are handed in by the crate root (`wiring::react`) when the app
//! state is built: this module never names a context, so a context that
//! publishes does not depend on the contexts that react.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use fieldcrm_db::accounts::Account;
use fieldcrm_db::jobs::{Job, SubjectId};
use fieldcrm_db::{DbConnection, Id, Ts};

use crate::error::AppResult;
use crate::events::Event;
use crate::jobs::{BackgroundJob, Queueing};
use crate::outbound::Outbound;

/// Runs every reaction to an event, inside the publisher's transaction.
pub type Reactions = fn(&mut Tx<'_>, &Event<'_>) -> AppResult<()>;

/// What side effects need, shared by every connection of a process: handed
/// in by the crate root, so the kernel never names a context.
pub struct Effects {
    pub(crate) reactions: Reactions,
    pub(crate) queueing: Queueing,
    pub(crate) outbound: Arc<Outbound>,
}

impl Effects {
    pub fn new(reactions: Reactions, queueing: Queueing, outbound: Arc<Outbound>) -> Self {
        Self {
            reactions,
            queueing,
            outbound,
        }
    }
}

/// A database connection with the effects of the use case running on it.
pub struct Tx<'c> {
    conn: &'c mut DbConnection,
    effects: &'c Effects,
}

impl<'c> Tx<'c> {
    pub fn new(conn: &'c mut DbConnection, effects: &'c Effects) -> Self {
        Self { conn, effects }
    }

    /// Runs every reaction to `event` now, in this transaction: what they
    /// queue or change commits or rolls back with the change itself.
    pub fn publish(&mut self, event: Event<'_>) -> AppResult<()> {
        (self.effects.reactions)(self, &event)
    }

    /// `f` inside one write transaction (a savepoint inside one already open).
    pub fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        let effects = self.effects;
        self.conn
            .write_transaction(|conn| f(&mut Tx { conn, effects }))
    }

    /// A job of kind `K` due at `run_at`, with the attempts its kind gets
    /// (`jobs::Queueing`): no use case passes them.
    pub fn job<K: BackgroundJob>(
        &self,
        account: Option<Id<Account>>,
        subject: Option<SubjectId>,
        run_at: Ts,
    ) -> Job {
        self.effects.queueing.job::<K>(account, subject, run_at)
    }

    pub(crate) fn outbound(&self) -> &Outbound {
        &self.effects.outbound
    }
}

impl Deref for Tx<'_> {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        self.conn
    }
}

impl DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut DbConnection {
        self.conn
    }
}
