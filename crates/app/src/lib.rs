//! The use cases of fieldcrm, grouped by context, with no HTTP in them: the
//! HTTP adapter (`api`) parses a request, makes one call here and shows what
//! comes back; the job worker runs the background work through the same calls.
//!
//! Contexts, upstream to downstream: `people` -> `scheduling` -> `messaging`,
//! `google_sync`, `time_clock`; `accounts` apart. The kernel (`error`,
//! `caller`, `events`, `jobs`, `state`) serves them all.

pub mod accounts;
pub mod caller;
pub mod config;
pub mod error;
pub mod events;
pub mod google_sync;
pub mod idempotency;
pub mod jobs;
pub mod limits;
pub mod messaging;
pub mod outbound;
pub mod paging;
pub mod people;
pub mod preconditions;
pub mod scheduling;
pub mod state;
pub mod time_clock;
pub mod webhooks;

pub use caller::Caller;
pub use error::{AppError, AppResult, Failure};
pub use state::AppState;
