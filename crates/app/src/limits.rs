//! Bounds on work this process takes on at once, kept in the app state.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use fieldcrm_db::devices::Device;
use fieldcrm_db::Id;

use crate::error::{AppError, Failure};

/// Requests that may wait for password work, per one running.
const WAITING_PER_RUNNING: usize = 4;

/// Bounds password hashing and checking (argon2id: 12 MiB and tens of
/// milliseconds each): so many run at once, a few times as many wait, and
/// beyond that a request is refused with 429 rather than adding to a pile
/// whose memory and latency have no bound. Each starts by giving the
/// allocator's free memory back (`memory::give_back_free_memory`), so its
/// 12 MiB add to the memory in use, not to what earlier requests freed.
pub struct PasswordWork {
    admitted: Semaphore,
    running: Semaphore,
}

impl PasswordWork {
    /// `at_once` 0 means one per CPU core.
    pub fn new(at_once: usize) -> Self {
        let at_once = match at_once {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        Self {
            admitted: Semaphore::new(at_once * (1 + WAITING_PER_RUNNING)),
            running: Semaphore::new(at_once),
        }
    }

    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let Ok(_admitted) = self.admitted.try_acquire() else {
            return Err(AppError::new(Failure::Busy { retry_after: 1 }).with_detail(
                "the server is checking too many passwords at once; try again shortly",
            ));
        };
        let _running = self
            .running
            .acquire()
            .await
            .map_err(|err| AppError::internal_from(&err))?;
        Ok(tokio::task::spawn_blocking(move || {
            crate::memory::give_back_free_memory();
            work()
        })
        .await?)
    }
}

/// Requests per device per minute, in this process: a fixed window per
/// device, forgotten once it is over.
pub struct DeviceRates {
    per_minute: u32,
    windows: Mutex<HashMap<Id<Device>, (Instant, u32)>>,
}

const WINDOW: Duration = Duration::from_secs(60);

impl DeviceRates {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request of `device`: 429 with `Retry-After` past the rate.
    pub fn admit(&self, device: Id<Device>) -> Result<(), AppError> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let (start, count) = windows.entry(device).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            *start = now;
            *count = 0;
        }
        if *count >= self.per_minute {
            let wait = WINDOW
                .saturating_sub(now.duration_since(*start))
                .as_secs()
                .max(1);
            return Err(AppError::rate_limited(
                "Too many requests from this device",
                wait,
                format!(
                    "the device sent more than {} requests in a minute; try again in {wait} seconds",
                    self.per_minute
                ),
            ));
        }
        *count += 1;
        Ok(())
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::PasswordWork;

    /// The process's resident anonymous memory, in KiB.
    fn resident_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("RssAnon:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("RssAnon in /proc/self/status")
    }

    #[tokio::test]
    async fn password_work_starts_from_the_memory_in_use_not_from_what_was_freed() {
        // 64 MiB in small blocks, freed but for the last one, which keeps its
        // heap from shrinking: the allocator holds the rest, still resident.
        let mut blocks: Vec<Vec<u8>> = (0..16 * 1024).map(|_| vec![1u8; 4096]).collect();
        let last = blocks.pop();
        drop(blocks);
        let held = resident_kib();
        let during = PasswordWork::new(1).run(resident_kib).await.unwrap();
        drop(last);
        assert!(
            during + 32 * 1024 < held,
            "{during} KiB resident while password work ran, {held} KiB before it"
        );
    }
}
