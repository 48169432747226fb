//! The benchmark harness behind `bench/run`: the load generators (wrk and
//! pgbench), what a run measures, and the report. The driver is `main.rs`.

pub mod load;
pub mod pages;
pub mod receiver;
pub mod report;

use load::Latency;

/// The server's database pool for the run: two connections per core, as
/// PostgreSQL's sizing guidance suggests for a database on the same cores.
/// More connections only wait on each other there, and add to the tail.
pub fn server_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(2 * cores).unwrap_or(4)
}

pub struct Scale {
    pub customers: usize,
    pub technicians: usize,
    pub shifts_per_technician: usize,
    pub pings_per_shift: usize,
    pub connections: u32,
    pub secs: u64,
    /// Creates per second while webhook delivery latency is measured.
    pub paced_per_sec: u32,
}

impl Scale {
    pub fn full() -> Self {
        Scale {
            customers: 100_000,
            technicians: 50,
            shifts_per_technician: 2,
            pings_per_shift: 10_000,
            connections: 32,
            secs: 10,
            paced_per_sec: 500,
        }
    }

    pub fn quick() -> Self {
        Scale {
            customers: 500,
            technicians: 3,
            shifts_per_technician: 2,
            pings_per_shift: 1_000,
            connections: 4,
            secs: 1,
            paced_per_sec: 50,
        }
    }
}

/// How many times a rate is measured against its limit: on shared cores one
/// such pair can be a quarter off the next, in either direction.
pub const PAIRS: usize = 3;

/// What an API figure is measured against: the database's rate for the same
/// work, measured right after it.
pub trait Limit {
    /// The rate the API's figure is a ratio of.
    fn tps(&self) -> f64;
}

impl Limit for f64 {
    fn tps(&self) -> f64 {
        *self
    }
}

/// pgbench's rates for the work of a create: the insert of one customer row,
/// which the target is a ratio of, and the create's own statement (the row,
/// its event and the event's deliveries), run one after the other.
#[derive(Clone, Copy, Default)]
pub struct CreateLimits {
    pub insert_tps: f64,
    pub statement_tps: f64,
}

impl Limit for CreateLimits {
    fn tps(&self) -> f64 {
        self.insert_tps
    }
}

/// Of pairs of (API figure, limit), the one whose ratio is the median, so the
/// figure, the limit and the ratio reported all come from the same pair.
pub fn median_pair<L: Limit>(mut pairs: Vec<(Latency, L)>) -> Option<(Latency, L)> {
    let ratio = |(api, limit): &(Latency, L)| api.requests_per_sec / limit.tps();
    pairs.sort_by(|a, b| ratio(a).total_cmp(&ratio(b)));
    let middle = pairs.len() / 2;
    pairs.into_iter().nth(middle)
}

/// A PostgreSQL URL that reaches the server over TCP on this host.
#[derive(Debug, PartialEq)]
pub struct PostgresOnLoopback<'a> {
    /// `user` or `user:password`, empty when the URL names none.
    user: &'a str,
    /// The database and whatever follows it (`db?sslmode=...`).
    database: &'a str,
}

impl<'a> PostgresOnLoopback<'a> {
    pub fn of(url: &'a str) -> Option<Self> {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))?;
        let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, host_and_port) = authority.rsplit_once('@').unwrap_or(("", authority));
        // A port follows the last colon, unless that colon is inside `[::1]`.
        let host = match host_and_port.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => host,
            _ => host_and_port,
        };
        matches!(host, "127.0.0.1" | "localhost" | "[::1]").then_some(Self { user, database })
    }

    /// The same database and user through the socket in `directory`.
    pub fn through_socket(&self, directory: &str, port: &str) -> String {
        let user = if self.user.is_empty() {
            String::new()
        } else {
            format!("{}@", self.user)
        };
        format!(
            "postgres://{user}{}:{port}/{}",
            directory.replace('/', "%2F"),
            self.database
        )
    }
}

/// Everything measured on one backend.
#[derive(Default)]
pub struct BackendRun {
    pub startup_empty_ms: f64,
    pub startup_migrated_ms: f64,
    pub get_by_id: Latency,
    /// GET /healthz: a request through the server's HTTP stack and its
    /// middleware with no database work, the other part of a GET's floor.
    pub healthz: Latency,
    /// GET by id from a second server on the same PostgreSQL database that
    /// connects through its Unix socket, as the README advises on one host;
    /// `None` where the run reached PostgreSQL some other way.
    pub get_by_id_through_socket: Option<Latency>,
    pub create: Latency,
    /// POST create with events on and one endpoint subscribed to them.
    pub create_with_webhook: Latency,
    /// Deliveries of those events to a receiver on loopback.
    pub deliveries: receiver::Received,
    /// Deliveries of creates made at a steady `Scale::paced_per_sec`.
    pub deliveries_paced: receiver::Received,
    pub search: Latency,
    /// The same searches one at a time: the query's own latency, no queueing.
    pub search_alone: Latency,
    /// One at a time, a word none of the account's customers hold.
    pub search_miss_alone: Latency,
    /// The same two once nine other accounts as large hold the words.
    pub search_alone_beside_others: Latency,
    pub search_miss_alone_beside_others: Latency,
    pub pings_100: f64,
    pub pings_100_latency: Latency,
    pub pings_1000: f64,
    pub pings_1000_latency: Latency,
    /// Traccar Client's one fix per request, on the OsmAnd endpoint.
    pub osmand: Latency,
    /// Positions stored per second from Overland's 1000-point batches.
    pub overland_1000: f64,
    pub overland_1000_latency: Latency,
    pub live: Latency,
    pub route: Latency,
    pub export_secs: f64,
    pub export_bytes: u64,
    pub export_rss_growth_kib: u64,
    pub delete_secs: f64,
    pub deleted_pings: i64,
    /// From the deletion's request to its receipt's scrub complete (the
    /// tables vacuumed, on PostgreSQL), as its background job does it.
    pub scrub_secs: f64,
    /// The web app's pages, one request at a time.
    pub pages: Vec<pages::PageFigure>,
    /// Resident memory after each phase: its peak so far tells which phase
    /// raised it, what is resident at the phase's end what the phase left.
    pub memory_by_phase: Vec<(&'static str, Resident)>,
}

impl BackendRun {
    /// Records the server's resident memory after `phase`.
    pub fn memory_after(&mut self, phase: &'static str, pid: u32) {
        self.memory_by_phase.push((phase, Resident::of(pid)));
    }

    /// Resident memory once the data is seeded, before any load.
    pub fn idle_kib(&self) -> u64 {
        self.memory_by_phase.first().map_or(0, |(_, r)| r.now_kib)
    }

    /// The most the server was resident over the whole run.
    pub fn peak_kib(&self) -> u64 {
        self.memory_by_phase.last().map_or(0, |(_, r)| r.peak_kib)
    }
}

/// A process's resident memory, in KiB, from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub struct Resident {
    pub now_kib: u64,
    /// The most it has been so far (VmHWM).
    pub peak_kib: u64,
}

impl Resident {
    pub fn of(pid: u32) -> Self {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| load::status_field(&status, name).unwrap_or(0);
        Resident {
            now_kib: field("VmRSS:"),
            peak_kib: field("VmHWM:"),
        }
    }
}

/// PostgreSQL's own rates for the same work.
#[derive(Default)]
pub struct Limits {
    pub select_tps: f64,
    /// pgbench's own CPU per select by id, in µs: what one query costs its
    /// client, the least a GET by id can cost the server besides HTTP.
    pub select_client_cpu_us: f64,
    /// The same through PostgreSQL's Unix socket, beside
    /// `BackendRun::get_by_id_through_socket`.
    pub select_client_cpu_us_through_socket: Option<f64>,
    /// The API's customer search, run by pgbench with the same terms.
    pub search_tps: f64,
    pub search_p50_ms: f64,
    pub insert_tps: f64,
    /// The create's own statement (the customer row, its event and the
    /// event's deliveries), from the same pair as `insert_tps`: what the
    /// database itself can do of the work a POST create asks of it.
    pub create_statement_tps: f64,
    /// pgbench's own CPU per insert of one customer row, in µs: the least a
    /// POST create can cost the server besides HTTP.
    pub insert_client_cpu_us: f64,
    /// The insert again, paired with the creates that publish events.
    pub insert_tps_beside_webhook: f64,
    pub ping_rows_per_sec: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(api: f64, limit: f64) -> (Latency, f64) {
        let latency = Latency {
            requests_per_sec: api,
            ..Latency::default()
        };
        (latency, limit)
    }

    #[test]
    fn the_median_pair_is_chosen_by_its_ratio_not_its_figures() {
        // Ratios 0.5, 0.6 and 0.4: the fastest API figure is not the median.
        let chosen = median_pair(vec![
            pair(2000.0, 4000.0),
            pair(1800.0, 3000.0),
            pair(2400.0, 6000.0),
        ]);
        let (api, limit) = chosen.expect("three pairs have a median");
        assert_eq!((api.requests_per_sec, limit), (2000.0, 4000.0));
    }

    #[test]
    fn a_loopback_url_is_taken_to_the_socket_with_its_user_and_database() {
        let on_loopback =
            PostgresOnLoopback::of("postgres://postgres@127.0.0.1:5432/fieldcrm_bench").unwrap();
        assert_eq!(
            on_loopback.through_socket("/var/run/postgresql", "5432"),
            "postgres://postgres@%2Fvar%2Frun%2Fpostgresql:5432/fieldcrm_bench"
        );
        let bare = PostgresOnLoopback::of("postgresql://localhost/db?sslmode=disable").unwrap();
        assert_eq!(
            bare.through_socket("/tmp", "5433"),
            "postgres://%2Ftmp:5433/db?sslmode=disable"
        );
        assert!(PostgresOnLoopback::of("postgres://u:p@[::1]:5432/db").is_some());
    }

    #[test]
    fn a_url_to_another_host_or_already_to_a_socket_is_not_on_loopback() {
        assert_eq!(
            PostgresOnLoopback::of("postgres://u@db.example:5432/db"),
            None
        );
        assert_eq!(
            PostgresOnLoopback::of("postgres://u@%2Fvar%2Frun%2Fpostgresql/db"),
            None
        );
        assert_eq!(PostgresOnLoopback::of("sqlite:///tmp/bench.db"), None);
    }

    #[test]
    fn no_pairs_have_no_median() {
        assert!(median_pair(Vec::<(Latency, f64)>::new()).is_none());
    }

    #[test]
    fn a_creates_limits_come_from_the_pair_with_the_median_insert_ratio() {
        let create = |api: f64, insert_tps: f64, statement_tps: f64| {
            let (latency, _) = pair(api, insert_tps);
            let limits = CreateLimits {
                insert_tps,
                statement_tps,
            };
            (latency, limits)
        };
        // Insert ratios 0.5, 0.6 and 0.4; by the statement (2.0, 0.5, 1.2) the
        // median would be the third pair.
        let (api, limits) = median_pair(vec![
            create(2000.0, 4000.0, 1000.0),
            create(1800.0, 3000.0, 3600.0),
            create(2400.0, 6000.0, 2000.0),
        ])
        .expect("three pairs have a median");
        assert_eq!(api.requests_per_sec, 2000.0);
        assert_eq!((limits.insert_tps, limits.statement_tps), (4000.0, 1000.0));
    }
}
