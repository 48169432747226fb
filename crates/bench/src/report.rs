//! BENCHMARKS.md and the latency chart (a plain SVG, so it renders on any
//! forge without a font or image library).

use std::fmt::Write as _;

use crate::load::Latency;
use crate::{BackendRun, Limits, Scale};

pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub date: String,
    pub commit: String,
    /// CPU per thread switch, in µs (`load::thread_switch_cpu_us`).
    pub thread_switch_cpu_us: f64,
}

impl Machine {
    /// Reads the machine's description and measures what a thread switch
    /// costs on it: run it while nothing else runs.
    pub fn read() -> anyhow::Result<Self> {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_default();
        let commit = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        Ok(Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: memory_kib / 1024.0 / 1024.0,
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            commit,
            thread_switch_cpu_us: crate::load::thread_switch_cpu_us()?,
        })
    }
}

fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.1} ms")
    }
}

fn rate(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.1}k", value / 1000.0)
    } else {
        format!("{value:.0}")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn us(value: f64) -> String {
    format!("{value:.0} µs")
}

/// Statements per request, with the connection checks among them.
fn statements(l: Latency) -> String {
    format!("{:.2} ({:.2})", l.statements, l.checks)
}

/// A p50 beside other accounts, with how many times the one-account p50 it is.
fn beside(now: Latency, alone: Latency) -> String {
    format!(
        "{} ({:.1}×)",
        ms(now.p50_ms),
        now.p50_ms / alone.p50_ms.max(f64::MIN_POSITIVE)
    )
}

fn ratio(value: f64, limit: Option<f64>) -> String {
    match limit {
        Some(limit) if limit > 0.0 => format!("{:.0}%", 100.0 * value / limit),
        _ => "—".into(),
    }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "—",
    }
}

/// One row: figure, SQLite, PostgreSQL, limit, ratio, target, met.
struct Row {
    figure: &'static str,
    sqlite: String,
    postgres: String,
    limit: String,
    ratio: String,
    target: &'static str,
    met: Option<bool>,
}

pub fn markdown(
    machine: &Machine,
    scale: &Scale,
    sqlite: &BackendRun,
    postgres: &BackendRun,
    limits: &Limits,
    chart_file: &str,
) -> String {
    let (s, p) = (sqlite, postgres);
    let rows = vec![
        Row {
            figure: "GET customer by id (req/s)",
            sqlite: rate(s.get_by_id.requests_per_sec),
            postgres: rate(p.get_by_id.requests_per_sec),
            limit: format!("{} tps select by id", rate(limits.select_tps)),
            ratio: ratio(p.get_by_id.requests_per_sec, Some(limits.select_tps)),
            target: "≥ 35% of the limit",
            met: Some(p.get_by_id.requests_per_sec >= 0.35 * limits.select_tps),
        },
        Row {
            figure: "GET customer by id, p99",
            sqlite: ms(s.get_by_id.p99_ms),
            postgres: ms(p.get_by_id.p99_ms),
            limit: "—".into(),
            ratio: "—".into(),
            target: "< 20 ms at 32 connections",
            met: Some(p.get_by_id.p99_ms < 20.0),
        },
        Row {
            figure: "POST create customer (req/s)",
            sqlite: rate(s.create.requests_per_sec),
            postgres: rate(p.create.requests_per_sec),
            limit: format!("{} tps insert", rate(limits.insert_tps)),
            ratio: ratio(p.create.requests_per_sec, Some(limits.insert_tps)),
            target: "≥ 60% of the limit",
            met: Some(p.create.requests_per_sec >= 0.60 * limits.insert_tps),
        },
        Row {
            figure: "POST create customer against the create's own statement, the row with its event and deliveries (req/s)",
            sqlite: rate(s.create.requests_per_sec),
            postgres: rate(p.create.requests_per_sec),
            limit: format!("{} tps create statement", rate(limits.create_statement_tps)),
            ratio: ratio(p.create.requests_per_sec, Some(limits.create_statement_tps)),
            target: "—",
            met: None,
        },
        Row {
            figure: "POST create customer, events on, one webhook endpoint subscribed (req/s)",
            sqlite: rate(s.create_with_webhook.requests_per_sec),
            postgres: rate(p.create_with_webhook.requests_per_sec),
            limit: format!("{} tps insert", rate(limits.insert_tps_beside_webhook)),
            ratio: ratio(
                p.create_with_webhook.requests_per_sec,
                Some(limits.insert_tps_beside_webhook),
            ),
            target: "ratio ≥ 90% of the plain POST's",
            met: Some(
                p.create_with_webhook.requests_per_sec / limits.insert_tps_beside_webhook.max(1.0)
                    >= 0.9 * p.create.requests_per_sec / limits.insert_tps.max(1.0),
            ),
        },
        Row {
            figure: "Webhook deliveries to a receiver on loopback, creates at a steady 500/s (per s)",
            sqlite: rate(s.deliveries_paced.per_sec),
            postgres: rate(p.deliveries_paced.per_sec),
            limit: "—".into(),
            ratio: "—".into(),
            target: "≥ 500 per second",
            // Every event of the paced phase arrived (the harness waits for
            // them), so the rate is the pace: 1% under it is rounding at the ends.
            met: Some(s.deliveries_paced.per_sec >= 495.0 && p.deliveries_paced.per_sec >= 495.0),
        },
        Row {
            figure: "Webhook deliveries while the saturating creates above run and after, until the backlog is gone (per s)",
            sqlite: rate(s.deliveries.per_sec),
            postgres: rate(p.deliveries.per_sec),
            limit: "—".into(),
            ratio: "—".into(),
            target: "—",
            met: None,
        },
        Row {
            figure: "Webhook delivery, event to receipt, p99, creates at a steady 500/s",
            sqlite: ms(s.deliveries_paced.p99_ms),
            postgres: ms(p.deliveries_paced.p99_ms),
            limit: "—".into(),
            ratio: "—".into(),
            target: "< 2 s",
            met: Some(s.deliveries_paced.p99_ms < 2000.0 && p.deliveries_paced.p99_ms < 2000.0),
        },
        Row {
            figure: "Customer search `q=` on the customers, p50",
            sqlite: ms(s.search.p50_ms),
            postgres: ms(p.search.p50_ms),
            limit: format!("p50 {} for the same queries", ms(limits.search_p50_ms)),
            ratio: "—".into(),
            target: "< 10 ms",
            met: Some(p.search.p50_ms < 10.0),
        },
        Row {
            figure: "Customer search `q=` (req/s)",
            sqlite: rate(s.search.requests_per_sec),
            postgres: rate(p.search.requests_per_sec),
            limit: format!("{} tps the same queries", rate(limits.search_tps)),
            ratio: ratio(p.search.requests_per_sec, Some(limits.search_tps)),
            target: "—",
            met: None,
        },
        Row {
            figure: "The same search one request at a time, p50",
            sqlite: ms(s.search_alone.p50_ms),
            postgres: ms(p.search_alone.p50_ms),
            limit: "—".into(),
            ratio: "—".into(),
            target: "< 10 ms",
            met: Some(p.search_alone.p50_ms < 10.0),
        },
        Row {
            figure: "A search that matches none of the account's customers, one request at a time, p50",
            sqlite: ms(s.search_miss_alone.p50_ms),
            postgres: ms(p.search_miss_alone.p50_ms),
            limit: "—".into(),
            ratio: "—".into(),
            target: "—",
            met: None,
        },
        Row {
            figure: "The same searches one at a time beside nine other accounts as large, whose customers hold the words, p50",
            sqlite: beside(s.search_alone_beside_others, s.search_alone),
            postgres: beside(p.search_alone_beside_others, p.search_alone),
            limit: "—".into(),
            ratio: "—".into(),
            target: "≤ 2× the one-account p50",
            met: Some(
                p.search_alone_beside_others.p50_ms <= 2.0 * p.search_alone.p50_ms
                    && p.search_miss_alone_beside_others.p50_ms
                        <= 2.0 * p.search_miss_alone.p50_ms,
            ),
        },
        Row {
            figure: "The search that matches none of the account's customers, beside them (every customer of theirs matches), p50",
            sqlite: beside(s.search_miss_alone_beside_others, s.search_miss_alone),
            postgres: beside(p.search_miss_alone_beside_others, p.search_miss_alone),
            limit: "—".into(),
            ratio: "—".into(),
            target: "≤ 2× the one-account p50",
            met: Some(
                p.search_miss_alone_beside_others.p50_ms <= 2.0 * p.search_miss_alone.p50_ms,
            ),
        },
        Row {
            figure: "Ping ingest, batches of 100 (pings/s)",
            sqlite: rate(s.pings_100),
            postgres: rate(p.pings_100),
            limit: format!("{} rows/s bulk insert", rate(limits.ping_rows_per_sec)),
            ratio: ratio(p.pings_100, Some(limits.ping_rows_per_sec)),
            target: "—",
            met: None,
        },
        Row {
            figure: "Ping ingest, batches of 1000 (pings/s)",
            sqlite: rate(s.pings_1000),
            postgres: rate(p.pings_1000),
            limit: format!("{} rows/s bulk insert", rate(limits.ping_rows_per_sec)),
            ratio: ratio(p.pings_1000, Some(limits.ping_rows_per_sec)),
            target: "≥ 50,000/s and ≥ 30% of the limit",
            met: Some(p.pings_1000 >= 50_000.0 && p.pings_1000 >= 0.30 * limits.ping_rows_per_sec),
        },
        Row {
            figure: "Traccar Client (OsmAnd), one fix a request (req/s)",
            sqlite: rate(s.osmand.requests_per_sec),
            postgres: rate(p.osmand.requests_per_sec),
            limit: format!("{} tps insert, a commit each", rate(limits.insert_tps)),
            ratio: ratio(p.osmand.requests_per_sec, Some(limits.insert_tps)),
            target: "≥ 50% of GET by id",
            met: Some(p.osmand.requests_per_sec >= 0.5 * p.get_by_id.requests_per_sec),
        },
        Row {
            figure: "Overland, batches of 1000 (pings/s)",
            sqlite: rate(s.overland_1000),
            postgres: rate(p.overland_1000),
            limit: "—".into(),
            ratio: "—".into(),
            target: "≥ pings ×1000",
            met: Some(p.overland_1000 >= p.pings_1000),
        },
        Row {
            figure: "GET /v1/locations/live (req/s)",
            sqlite: rate(s.live.requests_per_sec),
            postgres: rate(p.live.requests_per_sec),
            limit: "—".into(),
            ratio: "—".into(),
            target: "—",
            met: None,
        },
        Row {
            figure: "Route of a shift's pings as GeoJSON (req/s)",
            sqlite: rate(s.route.requests_per_sec),
            postgres: rate(p.route.requests_per_sec),
            limit: "—".into(),
            ratio: "—".into(),
            target: "—",
            met: None,
        },
        Row {
            figure: "API process CPU per GET by id (µs)",
            sqlite: us(s.get_by_id.cpu_us),
            postgres: us(p.get_by_id.cpu_us),
            limit: "—".into(),
            ratio: "—".into(),
            target: "≤ 25 µs",
            met: Some(p.get_by_id.cpu_us <= GET_CPU_TARGET_US),
        },
        Row {
            figure: "Server CPU per GET /healthz, HTTP and middleware alone (µs)",
            sqlite: us(s.healthz.cpu_us),
            postgres: us(p.healthz.cpu_us),
            limit: format!("{} per select by id, pgbench's own CPU", us(limits.select_client_cpu_us)),
            ratio: "—".into(),
            target: "—",
            met: None,
        },
        Row {
            figure: "API process CPU per GET by id, a second server connected through PostgreSQL's Unix socket (µs)",
            sqlite: "—".into(),
            postgres: p.get_by_id_through_socket.map_or("—".into(), |get| us(get.cpu_us)),
            limit: limits
                .select_client_cpu_us_through_socket
                .map_or("—".into(), |cpu| format!("{} per select by id, pgbench's own CPU through the socket", us(cpu))),
            ratio: "—".into(),
            target: "—",
            met: None,
        },
        Row {
            figure: "API process CPU per POST create (µs)",
            sqlite: us(s.create.cpu_us),
            postgres: us(p.create.cpu_us),
            limit: format!("{} per insert, pgbench's own CPU", us(limits.insert_client_cpu_us)),
            ratio: "—".into(),
            target: "≤ 40 µs",
            met: Some(p.create.cpu_us <= 40.0),
        },
        Row {
            figure: "Thread switches per GET by id, per POST create",
            sqlite: format!("{:.1}, {:.1}", s.get_by_id.switches, s.create.switches),
            postgres: format!("{:.1}, {:.1}", p.get_by_id.switches, p.create.switches),
            limit: format!("{:.1} µs of CPU per switch on this machine", machine.thread_switch_cpu_us),
            ratio: "—".into(),
            target: "—",
            met: None,
        },
        Row {
            figure: "API process CPU per ping batch of 100, of 1000 (µs)",
            sqlite: format!("{}, {}", us(s.pings_100_latency.cpu_us), us(s.pings_1000_latency.cpu_us)),
            postgres: format!("{}, {}", us(p.pings_100_latency.cpu_us), us(p.pings_1000_latency.cpu_us)),
            limit: "—".into(),
            ratio: "—".into(),
            target: "—",
            met: None,
        },
        Row {
            figure: "Statements per GET by id (of them, connection checks)",
            sqlite: statements(s.get_by_id),
            postgres: statements(p.get_by_id),
            limit: "—".into(),
            ratio: "—".into(),
            target: "1",
            met: Some(p.get_by_id.statements < 1.05),
        },
        Row {
            figure: "Statements per POST create (of them, connection checks)",
            sqlite: statements(s.create),
            postgres: statements(p.create),
            limit: "—".into(),
            ratio: "—".into(),
            target: "1",
            met: Some(p.create.statements < 1.05),
        },
        Row {
            figure: "Statements per ping batch of 100, of 1000",
            sqlite: format!("{:.2}, {:.2}", s.pings_100_latency.statements, s.pings_1000_latency.statements),
            postgres: format!("{:.2}, {:.2}", p.pings_100_latency.statements, p.pings_1000_latency.statements),
            limit: "—".into(),
            ratio: "—".into(),
            target: "—",
            met: None,
        },
        Row {
            figure: "Hard delete of the account (pings it held)",
            sqlite: format!(
                "{:.2} s ({:.2}M)",
                s.delete_secs,
                s.deleted_pings as f64 / 1e6
            ),
            postgres: format!(
                "{:.2} s ({:.2}M)",
                p.delete_secs,
                p.deleted_pings as f64 / 1e6
            ),
            limit: "—".into(),
            ratio: "—".into(),
            target: "< 10 s for 1M pings",
            met: Some(p.delete_secs < 10.0 * (p.deleted_pings as f64 / 1e6).max(1.0)),
        },
        Row {
            figure: "The same deletion until its scrub completed (SQLite: the write-ahead log emptied; PostgreSQL: every table that held its rows vacuumed, every account's rows in them)",
            sqlite: format!("{:.2} s", s.scrub_secs),
            postgres: format!("{:.2} s", p.scrub_secs),
            limit: "—".into(),
            ratio: "—".into(),
            target: "—",
            met: None,
        },
        Row {
            figure: "Export of the account",
            sqlite: format!(
                "{:.1} s, {:.0} MB",
                s.export_secs,
                s.export_bytes as f64 / 1e6
            ),
            postgres: format!(
                "{:.1} s, {:.0} MB",
                p.export_secs,
                p.export_bytes as f64 / 1e6
            ),
            limit: "—".into(),
            ratio: "—".into(),
            target: "—",
            met: None,
        },
        Row {
            figure: "Resident memory growth during the export",
            sqlite: mib(s.export_rss_growth_kib),
            postgres: mib(p.export_rss_growth_kib),
            limit: "—".into(),
            ratio: "—".into(),
            target: "constant (far below the document)",
            met: Some((p.export_rss_growth_kib as f64 * 1024.0) < p.export_bytes as f64 / 4.0),
        },
        Row {
            figure: "Resident memory, idle",
            sqlite: mib(s.idle_kib()),
            postgres: mib(p.idle_kib()),
            limit: "—".into(),
            ratio: "—".into(),
            target: "—",
            met: None,
        },
        Row {
            figure: "Resident memory, peak",
            sqlite: mib(s.peak_kib()),
            postgres: mib(p.peak_kib()),
            limit: "—".into(),
            ratio: "—".into(),
            target: "< 100 MB on both",
            met: Some(
                p.peak_kib() * 1024 < 100_000_000 && s.peak_kib() * 1024 < 100_000_000,
            ),
        },
        Row {
            figure: "Start-up to /readyz, empty database",
            sqlite: ms(s.startup_empty_ms),
            postgres: ms(p.startup_empty_ms),
            limit: "—".into(),
            ratio: "—".into(),
            target: "< 1 s",
            met: Some(p.startup_empty_ms < 1000.0),
        },
        Row {
            figure: "Start-up to /readyz, migrated database",
            sqlite: ms(s.startup_migrated_ms),
            postgres: ms(p.startup_migrated_ms),
            limit: "—".into(),
            ratio: "—".into(),
            target: "< 1 s",
            met: Some(p.startup_migrated_ms < 1000.0),
        },
    ];

    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Measured by `bench/run` on {} ({} cores, {:.0} GiB), {}, commit `{}`. The load generator \
         (wrk, {} connections, {} s per figure) and the databases run on the same machine as the \
         server, whose database pool has {} connections (two per core). The limit is PostgreSQL's own rate for the same work (for the search, also its median latency), measured with pgbench \
         (`-M prepared`, same connections) right after the API's figure; the ratio is the PostgreSQL-backed \
         API's figure as a share of it. GET by id and POST create run {} such pairs and report the one \
         with the median ratio, as one pair can be a quarter off the next on shared cores. SQLite has no such tool here, so its column has no ratio. \
         The targets are the issue's, for the PostgreSQL-backed server; the verdict column judges that \
         column. Latencies are measured under that load on shared cores, so they include \
         queueing: at saturation the median is about connections ÷ throughput.\n",
        machine.cpu,
        machine.cores,
        machine.memory_gib,
        machine.date,
        machine.commit,
        scale.connections,
        scale.secs,
        crate::server_pool_size(),
        crate::PAIRS,
    );
    let _ = writeln!(
        out,
        "Data: {} customers, {} technicians (all clocked in, one sending the pings), {} pings in \
         {} past shifts of {} pings each. After the first searches, nine other accounts get a copy \
         of the customers each, with one more word in every name, and the searches run again. CPU per \
         request is the server process's user and system time (from /proc) over the figure's requests; \
         beside it, the two parts of a GET by id that are not the API's own work, from the same run: \
         a request through the same HTTP stack and middleware with no database work (`GET /healthz`), \
         and pgbench's own CPU per select by id (the client's side of one round trip, with the same \
         libpq and connection settings). Thread switches per request are the times the server's \
         threads stopped running (waiting for work or an answer, or preempted; from /proc), and \
         beside them what one switch costs on this machine: two threads handing a message back and \
         forth, each asleep until the other's arrives, measured after the loads. Statements per \
         request are the server's own count (`fieldcrm_db_statements_total` on `/metrics`: \
         transaction control and connection checks included).\n",
        scale.customers,
        scale.technicians,
        scale.technicians * scale.shifts_per_technician * scale.pings_per_shift,
        scale.technicians * scale.shifts_per_technician,
        scale.pings_per_shift
    );
    let _ = writeln!(
        out,
        "| Figure | SQLite | PostgreSQL | Limit (pgbench) | Ratio | Target | |\n|---|---|---|---|---|---|---|"
    );
    for row in &rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.figure,
            row.sqlite,
            row.postgres,
            row.limit,
            row.ratio,
            row.target,
            verdict(row.met)
        );
    }
    let _ = writeln!(
        out,
        "\n## Latency\n\n![Latency percentiles]({chart_file})\n"
    );
    let _ = writeln!(
        out,
        "| Endpoint | Backend | req/s | p50 | p75 | p90 | p99 | non-2xx |\n|---|---|---|---|---|---|---|---|"
    );
    for (name, s_lat, p_lat) in endpoints(sqlite, postgres) {
        for (backend, l) in [("SQLite", s_lat), ("PostgreSQL", p_lat)] {
            let _ = writeln!(
                out,
                "| {name} | {backend} | {} | {} | {} | {} | {} | {} |",
                rate(l.requests_per_sec),
                ms(l.p50_ms),
                ms(l.p75_ms),
                ms(l.p90_ms),
                ms(l.p99_ms),
                l.non_2xx
            );
        }
    }
    let _ = writeln!(
        out,
        "\n## Web pages\n\nEach page of the web app requested one at a time by the signed-in owner, on the seeded data (a shift's route: one of 10,000 positions). Size: the page with its stylesheet and script as sent (pages are not compressed, so a browser transfers at most this). Targets: p95 under 50 ms, under 100 KB.\n\n| Page | Backend | requests | p50 | p95 | size | |\n|---|---|---|---|---|---|---|"
    );
    for (backend, run) in [("SQLite", sqlite), ("PostgreSQL", postgres)] {
        for page in &run.pages {
            let met = page.p95_ms < 50.0 && page.bytes < 100_000;
            let _ = writeln!(
                out,
                "| {} | {backend} | {} | {} | {} | {:.1} KB | {} |",
                page.name,
                page.requests,
                ms(page.p50_ms),
                ms(page.p95_ms),
                page.bytes as f64 / 1000.0,
                verdict(Some(met))
            );
        }
    }
    let _ = writeln!(
        out,
        "\n## Resident memory after each phase\n\nThe server's peak resident memory (VmHWM) so far and its resident memory (VmRSS) at the end, read after each phase: the phase where the peak rises is the one that needs the memory, and what stays resident after it is what the next phase starts from.\n\n| Phase | SQLite, peak | SQLite, at the end | PostgreSQL, peak | PostgreSQL, at the end |\n|---|---|---|---|---|"
    );
    for ((phase, s), (_, p)) in sqlite.memory_by_phase.iter().zip(&postgres.memory_by_phase) {
        let _ = writeln!(
            out,
            "| {phase} | {} | {} | {} | {} |",
            mib(s.peak_kib),
            mib(s.now_kib),
            mib(p.peak_kib),
            mib(p.now_kib)
        );
    }
    out.push_str(&get_cost(postgres, limits, machine));
    out.push_str(&create_cost(postgres, limits, machine));
    out.push_str(&one_fix_a_request(postgres, limits));
    out
}

/// The same for a POST create: HTTP alone and one insert's client side.
fn create_cost(p: &BackendRun, limits: &Limits, machine: &Machine) -> String {
    let floor = p.healthz.cpu_us + limits.insert_client_cpu_us;
    format!(
        "\nA POST create cost the server {} of CPU on PostgreSQL: its floor, measured the same way, \
         is {} (HTTP alone, {}, and pgbench's own CPU per insert of one customer row, {}). The \
         other {} are the API's own: reading and checking the JSON body, the token check, the \
         hand-off, building the one statement that writes the customer and its event, the \
         thread switches around the commit's wait, and writing the response. {}\n",
        us(p.create.cpu_us),
        us(floor),
        us(p.healthz.cpu_us),
        us(limits.insert_client_cpu_us),
        us((p.create.cpu_us - floor).max(0.0)),
        switching(p.create, "POST", machine),
    ) + &create_statement(p, limits)
}

/// What the database itself can do of a create's work, beside the plain
/// insert the POST's target is a ratio of.
fn create_statement(p: &BackendRun, limits: &Limits) -> String {
    if limits.create_statement_tps <= 0.0 || limits.insert_tps <= 0.0 {
        return String::new();
    }
    format!(
        "\nThe target's limit is pgbench inserting one customer row. A create writes more than \
         that: the row, its `customer.created` event (the events feed and the webhooks' outbox, in \
         the same statement so neither is lost) and a delivery for each subscribed endpoint. \
         pgbench ran that same statement, with a new name each time as the API's load sends, at \
         {} tps against {} for the plain insert, in the same pair: the database alone does {} of \
         the plain insert's rate for a create's work. The API's creates reached {} of the \
         statement's rate.\n",
        rate(limits.create_statement_tps),
        rate(limits.insert_tps),
        ratio(limits.create_statement_tps, Some(limits.insert_tps)),
        ratio(p.create.requests_per_sec, Some(limits.create_statement_tps)),
    )
}

/// Where the target for one fix a request stands against what the database
/// commits a second: each fix is stored in a transaction of its own before the
/// phone hears it was delivered.
fn one_fix_a_request(p: &BackendRun, limits: &Limits) -> String {
    if limits.insert_tps <= 0.0 {
        return String::new();
    }
    let target = 0.5 * p.get_by_id.requests_per_sec;
    format!(
        "\nTraccar Client sends one fix a request, and the phone deletes a fix once it is \
         answered, so each fix is stored and committed before the answer. The target, half the \
         GET's rate, is {} fixes a second in this run; pgbench inserting one customer row a \
         transaction, on the same connections, committed {} a second ({} of the target). The \
         fixes reached {} of that rate, each a transaction that also reads the shift, the \
         positions around it, the day's count and the person's appointments of the day, and \
         updates three counters.\n",
        rate(target),
        rate(limits.insert_tps),
        ratio(limits.insert_tps, Some(target)),
        ratio(p.osmand.requests_per_sec, Some(limits.insert_tps)),
    )
}

/// How much of a request's CPU its threads' switches account for, at what
/// one switch costs on this machine.
fn switching(request: Latency, name: &str, machine: &Machine) -> String {
    format!(
        "The server's threads switched {:.1} times per {name}, at {:.1} µs of CPU per switch on \
         this machine (measured in this run): about {} of the {name}'s CPU.",
        request.switches,
        machine.thread_switch_cpu_us,
        us(request.switches * machine.thread_switch_cpu_us),
    )
}

/// What a GET by id's CPU on PostgreSQL is made of: the two parts measured
/// without the API (HTTP alone, one select's client side) and the rest.
fn get_cost(p: &BackendRun, limits: &Limits, machine: &Machine) -> String {
    let (get, http, query) = (
        p.get_by_id.cpu_us,
        p.healthz.cpu_us,
        limits.select_client_cpu_us,
    );
    let floor = http + query;
    let db_threads = p.get_by_id.db_threads_cpu_us;
    format!(
        "\n## Where a GET by id's CPU goes\n\n\
         On PostgreSQL a GET by id cost the server {} of CPU. Two parts of it are not the API's \
         own work, and were measured in this run: a request through the same HTTP stack and \
         middleware with no database work, {} (`GET /healthz`), and the client's side of one \
         select, {} (pgbench's own CPU per select by id, with the same libpq and connection \
         settings). A GET by id cannot cost less than their sum, {}, on this machine and this \
         connection; the other {} are the API's own: routing, the token check, the hand-off to a \
         database thread and back, reading the row and writing the JSON.{}\n\n\
         By thread: the HTTP workers spent {} per GET (the HTTP stack, routing, the token check, \
         the JSON) and the database threads {} (the pool, the select through libpq, reading the \
         row, and the thread switches of waiting for work and for each answer), against the {} \
         pgbench spends on the same select with one thread waiting on all its connections at \
         once. {}\n",
        us(get),
        us(http),
        us(query),
        us(floor),
        us((get - floor).max(0.0)),
        through_socket(p, limits, http),
        us(get - db_threads),
        us(db_threads),
        us(query),
        switching(p.get_by_id, "GET", machine),
    )
}

/// The issue's target for the server's CPU per GET by id, in µs.
const GET_CPU_TARGET_US: f64 = 25.0;

/// The same split for the connection the README advises on one host, when
/// the run measured it: what the run's own connection adds, and the floor
/// without it.
fn through_socket(p: &BackendRun, limits: &Limits, http: f64) -> String {
    let (Some(get), Some(query)) = (
        p.get_by_id_through_socket,
        limits.select_client_cpu_us_through_socket,
    ) else {
        return String::new();
    };
    let floor = http + query;
    format!(
        " The run reaches PostgreSQL over TCP on loopback, where libpq's default \
         `sslmode=prefer` encrypts every statement when the server offers TLS. Through PostgreSQL's Unix socket, which the \
         README advises on one host, pgbench's own CPU per select by id was {} and a second \
         server on the same database spent {} per GET by id (one load of the same length): \
         there the floor is {}, {} the {} target, and the API's own part {}.",
        us(query),
        us(get.cpu_us),
        us(floor),
        if floor <= GET_CPU_TARGET_US { "within" } else { "above" },
        us(GET_CPU_TARGET_US),
        us((get.cpu_us - floor).max(0.0)),
    )
}

fn endpoints<'a>(s: &'a BackendRun, p: &'a BackendRun) -> Vec<(&'static str, Latency, Latency)> {
    vec![
        ("GET customer", s.get_by_id, p.get_by_id),
        ("POST customer", s.create, p.create),
        ("search q=", s.search, p.search),
        ("pings ×100", s.pings_100_latency, p.pings_100_latency),
        ("pings ×1000", s.pings_1000_latency, p.pings_1000_latency),
        ("OsmAnd fix", s.osmand, p.osmand),
        (
            "Overland ×1000",
            s.overland_1000_latency,
            p.overland_1000_latency,
        ),
        ("live positions", s.live, p.live),
        ("shift route", s.route, p.route),
    ]
}

/// Grouped bars of p50, p90 and p99 per endpoint and backend, on a log scale.
pub fn svg(sqlite: &BackendRun, postgres: &BackendRun) -> String {
    let groups = endpoints(sqlite, postgres);
    let (width, height) = (1000.0_f64, 460.0_f64);
    let (left, right, top, bottom) = (70.0, 20.0, 50.0, 90.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let (min_ms, max_ms) = (0.1_f64, 1000.0_f64);
    let y = |v: f64| {
        let v = v.clamp(min_ms, max_ms);
        top + plot_h * (1.0 - (v.log10() - min_ms.log10()) / (max_ms.log10() - min_ms.log10()))
    };
    let colors = [
        ("SQLite", ["#9ecae1", "#4292c6", "#08519c"]),
        ("PostgreSQL", ["#fdae6b", "#f16913", "#a63603"]),
    ];
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="24" font-size="16" text-anchor="middle">Latency percentiles (p50, p90, p99; log scale)</text>
"#,
        width / 2.0
    );
    for exp in -1..=3 {
        let v = 10f64.powi(exp);
        let yy = y(v);
        let _ = writeln!(
            out,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{} ms</text>"##,
            width - right,
            left - 6.0,
            yy + 4.0,
            if v < 1.0 {
                format!("{v:.1}")
            } else {
                format!("{v:.0}")
            }
        );
    }
    let group_w = plot_w / groups.len() as f64;
    let bar_w = group_w / 8.0;
    for (i, (name, s_lat, p_lat)) in groups.iter().enumerate() {
        let x0 = left + i as f64 * group_w + bar_w;
        for (b, latency) in [s_lat, p_lat].into_iter().enumerate() {
            for (k, value) in [latency.p50_ms, latency.p90_ms, latency.p99_ms]
                .into_iter()
                .enumerate()
            {
                let x = x0 + (b * 3 + k) as f64 * bar_w;
                let yy = y(value);
                let _ = writeln!(
                    out,
                    r#"<rect x="{x:.1}" y="{yy:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} {} p{}: {value:.2} ms</title></rect>"#,
                    bar_w - 1.0,
                    (top + plot_h - yy).max(0.0),
                    colors[b].1[k],
                    name,
                    colors[b].0,
                    [50, 90, 99][k]
                );
            }
        }
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{name}</text>"#,
            left + (i as f64 + 0.5) * group_w,
            top + plot_h + 18.0
        );
    }
    for (b, (backend, shades)) in colors.iter().enumerate() {
        let lx = left + b as f64 * 260.0;
        let ly = height - 30.0;
        for (k, shade) in shades.iter().enumerate() {
            let _ = writeln!(
                out,
                r#"<rect x="{:.1}" y="{ly:.1}" width="14" height="14" fill="{shade}"/>"#,
                lx + k as f64 * 16.0
            );
        }
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}">{backend}: p50, p90, p99</text>"#,
            lx + 54.0,
            ly + 12.0
        );
    }
    out.push_str("</svg>\n");
    out
}
