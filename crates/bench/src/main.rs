//! The benchmark driver behind `bench/run`: for SQLite and then PostgreSQL it
//! starts a `fieldcrm serve` process on a fresh database, times its start-up,
//! seeds an account (customers and technicians through the API, past shifts and
//! their pings in bulk), loads each endpoint with wrk, measures PostgreSQL's own
//! limit for the same work with pgbench, exports and deletes the account, and
//! writes BENCHMARKS.md and a latency chart. `--quick` runs the same steps on a
//! tiny scale in seconds, so the harness cannot rot; it asserts no timing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use diesel::connection::SimpleConnection;
use futures_util::{stream, StreamExt};
use serde_json::{json, Value};

use fieldcrm_bench::load::Latency;
use fieldcrm_bench::{
    load, median_pair, report, BackendRun, CreateLimits, Limit, Limits, Resident, Scale, PAIRS,
};
use fieldcrm_db::{Backend, DatabaseUrl, DbPool, PoolOptions};

const PASSWORD: &str = "bench password that is long enough";
const ACCOUNT_NAME: &str = "Bench Plumbing";
const OWNER_EMAIL: &str = "owner@bench.example";
const JWT_SECRET: &str = "bench-jwt-secret-of-at-least-32-bytes!!";
/// How long the pinging technician's shift has run when the ping load starts.
const PING_SHIFT_HOURS: i64 = 12;

struct Args {
    server: PathBuf,
    postgres_url: String,
    quick: bool,
    out: PathBuf,
    chart: PathBuf,
}

fn args() -> Result<Args> {
    let mut server = None;
    let mut postgres_url = "postgres://postgres@127.0.0.1:5432/postgres".to_owned();
    let mut quick = false;
    let mut out = PathBuf::from("BENCHMARKS.md");
    let mut chart = PathBuf::from("bench/latency.svg");
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--server" => server = it.next().map(PathBuf::from),
            "--postgres" => postgres_url = it.next().context("--postgres needs a URL")?,
            "--quick" => quick = true,
            "--out" => out = it.next().map(PathBuf::from).context("--out needs a file")?,
            "--chart" => {
                chart = it
                    .next()
                    .map(PathBuf::from)
                    .context("--chart needs a file")?
            }
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(Args {
        server: server.context("--server <path to the fieldcrm binary> is required")?,
        postgres_url,
        quick,
        out,
        chart,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = args()?;
    let scale = if args.quick {
        Scale::quick()
    } else {
        Scale::full()
    };
    let work = tempfile::tempdir()?;

    eprintln!("== SQLite");
    let sqlite_url = format!("sqlite://{}", work.path().join("bench.db").display());
    let sqlite = run_backend(&args, &scale, &sqlite_url, work.path(), None).await?;

    eprintln!("== PostgreSQL");
    let pg_url = fresh_postgres_database(&args.postgres_url)?;
    let mut limits = Limits::default();
    let postgres = run_backend(&args, &scale, &pg_url, work.path(), Some(&mut limits)).await?;

    let machine = report::Machine::read()?;
    let chart_name = args
        .chart
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let chart_link = match args.out.parent().zip(args.chart.parent()) {
        Some((out_dir, chart_dir)) if out_dir == chart_dir => chart_name,
        _ => args.chart.display().to_string(),
    };
    let mut report = report::markdown(&machine, &scale, &sqlite, &postgres, &limits, &chart_link);
    // What changed since the run before and why, as those who changed it wrote
    // it: kept beside the harness, so every run's report carries it.
    if let Ok(changes) = std::fs::read_to_string(CHANGES) {
        report.push('\n');
        report.push_str(&changes);
    }
    std::fs::write(&args.out, report)?;
    std::fs::write(&args.chart, report::svg(&sqlite, &postgres))?;
    eprintln!("wrote {} and {}", args.out.display(), args.chart.display());
    Ok(())
}

/// The notes on what changed in the figures, relative to the repository.
const CHANGES: &str = "bench/changes.md";

/// A new, empty database `fieldcrm_bench` next to the given one.
fn fresh_postgres_database(url: &str) -> Result<String> {
    let admin = DbPool::new(&DatabaseUrl::parse(url)?, &PoolOptions::default())?;
    let mut conn = admin.get()?;
    conn.batch_execute("DROP DATABASE IF EXISTS fieldcrm_bench WITH (FORCE)")?;
    conn.batch_execute("CREATE DATABASE fieldcrm_bench")?;
    let base = url.split('?').next().unwrap_or(url);
    let (server, _) = base
        .rsplit_once('/')
        .context("a PostgreSQL URL with a database")?;
    Ok(format!("{server}/fieldcrm_bench"))
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts the server and returns it with the time until `/readyz` answered 200.
async fn start(bin: &Path, database_url: &str, logs: &Path) -> Result<(Server, f64)> {
    let port = free_port()?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs)?;
    let started = Instant::now();
    let child = Command::new(bin)
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("PORT", port.to_string())
        .env("FIELDCRM_JWT_SECRET", JWT_SECRET)
        .env("FIELDCRM_ACCESS_TOKEN_TTL_SECS", "86400")
        .env(
            "FIELDCRM_DATABASE_POOL_SIZE",
            fieldcrm_bench::server_pool_size().to_string(),
        )
        .env("FIELDCRM_LOG_LEVEL", "warn")
        .env("FIELDCRM_MAINTENANCE_INTERVAL_SECS", "0")
        // The ping load is one technician sending at a machine's pace: its
        // pings are 1 ms apart in recorded time, so the per-person rate is
        // checked on every batch but refuses none, and the daily quota is out
        // of reach. Both are anti-abuse limits, not what is measured.
        .env("FIELDCRM_PING_MIN_INTERVAL_MS", "1")
        .env("FIELDCRM_PING_QUOTA_PER_ACCOUNT_PER_DAY", "1000000000")
        // The worker delivers the webhooks of the events measure; no other
        // job is queued by what the benchmark does.
        .env("FIELDCRM_JOBS_ENABLED", "true")
        .env("FIELDCRM_JOB_POLL_INTERVAL_MS", "50")
        .env("FIELDCRM_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")
        // One device sends the tracker load from 32 connections.
        .env("FIELDCRM_DEVICE_REQUESTS_PER_MINUTE", "0")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    loop {
        if let Ok(response) = client.get(format!("{}/readyz", server.base)).send().await {
            if response.status().is_success() {
                break;
            }
        }
        ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the server was not ready within a minute; see {}",
            logs.display()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok((server, started.elapsed().as_secs_f64() * 1000.0))
}

/// The server's own count of statements sent to its database and of the
/// connection checks among them, from `/metrics`.
fn statements_sent(base: &str) -> Result<(f64, f64)> {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address)?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let counter = |name: &str| -> Result<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .with_context(|| format!("{name} in /metrics"))
    };
    Ok((
        counter("fieldcrm_db_statements_total ")?,
        counter("fieldcrm_db_connection_checks_total ")?,
    ))
}

/// Runs `load` and adds to its figures what each request cost: the server's
/// CPU time, its database threads' part of it, its threads' switches, and the
/// statements it sent.
fn costed(pid: u32, base: &str, load: impl FnOnce() -> Result<Latency>) -> Result<Latency> {
    let cpu = || -> Result<(f64, f64, f64)> {
        Ok((
            load::process_cpu_secs(pid)?,
            load::threads_cpu_secs(pid, fieldcrm_db::DB_THREAD_NAME)?,
            load::process_switches(pid)?,
        ))
    };
    let ((all, db, switches), (statements, checks)) = (cpu()?, statements_sent(base)?);
    let mut latency = load()?;
    let ((all_after, db_after, switches_after), (statements_after, checks_after)) =
        (cpu()?, statements_sent(base)?);
    let requests = latency.requests.max(1) as f64;
    latency.cpu_us = (all_after - all) * 1e6 / requests;
    latency.db_threads_cpu_us = (db_after - db) * 1e6 / requests;
    latency.switches = (switches_after - switches) / requests;
    latency.statements = (statements_after - statements) / requests;
    latency.checks = (checks_after - checks) / requests;
    Ok(latency)
}

struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(status.is_success(), "{path} answered {status}: {text}");
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        })
    }
}

const FIRST: [&str; 16] = [
    "Ada",
    "Grace",
    "Linus",
    "Edsger",
    "Barbara",
    "Ken",
    "Margaret",
    "Dennis",
    "Frances",
    "Alan",
    "Radia",
    "Niklaus",
    "Katherine",
    "John",
    "Hedy",
    "Donald",
];
const LAST: [&str; 16] = [
    "Lovelace", "Hopper", "Torvalds", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Ritchie",
    "Allen", "Turing", "Perlman", "Wirth", "Johnson", "Backus", "Lamarr", "Knuth",
];

/// What the search phase asks for: a first name with the start of a last name
/// (one name in 256 matches), and four letters of a last name (one in 16).
fn search_terms() -> Vec<String> {
    FIRST
        .iter()
        .zip(LAST.iter().rev())
        .map(|(f, l)| format!("{} {}", f.to_lowercase(), &l[..3].to_lowercase()))
        .chain(LAST.iter().map(|l| l[1..5].to_lowercase()))
        .collect()
}

struct Seeded {
    owner_token: String,
    account_id: String,
    customer_ids: Vec<String>,
    pinging_token: String,
    route_shift: String,
    pinging_user: String,
    open_shift: String,
}

async fn seed(api: &Api, scale: &Scale, database_url: &str) -> Result<Seeded> {
    let signup = api
        .call(
            reqwest::Method::POST,
            "/v1/auth/signup",
            None,
            Some(json!({"account_name": ACCOUNT_NAME, "name": "Owner", "email": OWNER_EMAIL, "password": PASSWORD})),
        )
        .await?;
    let owner_token = signup["access_token"]
        .as_str()
        .context("access token")?
        .to_owned();
    let account_id = signup["account"]["id"]
        .as_str()
        .context("account id")?
        .to_owned();

    let mut technicians = Vec::new();
    for i in 0..scale.technicians {
        let email = format!("tech{i}@bench.example");
        let user = api
            .call(
                reqwest::Method::POST,
                "/v1/users",
                Some(&owner_token),
                Some(json!({"name": format!("Technician {i}"), "email": email, "role": "technician", "password": PASSWORD})),
            )
            .await?;
        let login = api
            .call(
                reqwest::Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"email": email, "password": PASSWORD})),
            )
            .await?;
        technicians.push((
            user["id"].as_str().context("user id")?.to_owned(),
            login["access_token"].as_str().context("token")?.to_owned(),
        ));
    }

    let started = Instant::now();
    let customer_ids: Vec<String> = stream::iter(0..scale.customers)
        .map(|i| {
            let token = owner_token.clone();
            async move {
                let first = FIRST[i % FIRST.len()];
                let last = LAST[(i / FIRST.len()) % LAST.len()];
                let created = api
                    .call(
                        reqwest::Method::POST,
                        "/v1/customers",
                        Some(&token),
                        Some(json!({"name": format!("{first} {last} {i}"), "email": format!("{}.{}{i}@example.com", first.to_lowercase(), last.to_lowercase())})),
                    )
                    .await?;
                Ok::<_, anyhow::Error>(created["id"].as_str().context("id")?.to_owned())
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    eprintln!(
        "   {} customers through the API in {:.1} s",
        customer_ids.len(),
        started.elapsed().as_secs_f64()
    );

    // Past shifts and their pings in bulk: pings can only be sent inside an
    // open shift, so history is written straight into the tables.
    let started = Instant::now();
    let pool = DbPool::new(&DatabaseUrl::parse(database_url)?, &PoolOptions::default())?;
    let mut conn = pool.get()?;
    let postgres = database_url.starts_with("postgres");
    let mut route_shift = String::new();
    for (t, (user, _)) in technicians.iter().enumerate() {
        for s in 0..scale.shifts_per_technician {
            let shift = uuid::Uuid::now_v7();
            let days = (s + 1) as i64;
            let hours_ago = days * 24;
            let pings = scale.pings_per_shift;
            let sql = if postgres {
                format!(
                    "INSERT INTO shifts (id, account_id, user_id, clock_in_at, clock_out_at, closed_by, created_at, updated_at)
                     VALUES ('{shift}', '{account_id}', '{user}', now() - interval '{hours_ago} hours', now() - interval '{hours_ago} hours' + interval '8 hours', 'user', now(), now());
                     INSERT INTO pings (user_id, id, account_id, shift_id, recorded_at, lat, lon, accuracy_m, received_at)
                     SELECT '{user}', gen_random_uuid(), '{account_id}', '{shift}', now() - interval '{hours_ago} hours' + i * interval '2 seconds',
                            30.2 + i / 1e5, -97.7 - {t} / 1e3 + i / 1e5, 5, now()
                     FROM generate_series(1, {pings}) AS i;"
                )
            } else {
                let hex = |id: &str| id.replace('-', "");
                let (shift_hex, account_hex, user_hex) =
                    (hex(&shift.to_string()), hex(&account_id), hex(user));
                let ts = |modifier: &str| {
                    format!("strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', {modifier})")
                };
                format!(
                    "INSERT INTO shifts (id, account_id, user_id, clock_in_at, clock_out_at, closed_by, created_at, updated_at)
                     VALUES (x'{shift_hex}', x'{account_hex}', x'{user_hex}', {}, {}, 'user', {}, {});
                     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {pings})
                     INSERT INTO pings (user_id, id, account_id, shift_id, recorded_at, lat, lon, accuracy_m, received_at)
                     SELECT x'{user_hex}', randomblob(16), x'{account_hex}', x'{shift_hex}',
                            strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', '-{hours_ago} hours', '+' || (i * 2) || ' seconds'),
                            30.2 + i / 1e5, -97.7 - {t} / 1e3 + i / 1e5, 5.0, {}
                     FROM n;",
                    ts(&format!("'-{hours_ago} hours'")),
                    ts(&format!("'-{} hours'", hours_ago - 8)),
                    ts("'+0 seconds'"),
                    ts("'+0 seconds'"),
                    ts("'+0 seconds'"),
                )
            };
            conn.batch_execute(&sql)?;
            if route_shift.is_empty() {
                route_shift = shift.to_string();
            }
        }
    }
    drop(conn);
    eprintln!(
        "   {} pings in past shifts in {:.1} s",
        technicians.len() * scale.shifts_per_technician * scale.pings_per_shift,
        started.elapsed().as_secs_f64()
    );

    // Everyone clocks in and reports once: the live map shows them all.
    let mut open_shift = String::new();
    for (_, token) in &technicians {
        let shift = api
            .call(
                reqwest::Method::POST,
                "/v1/shifts/clock-in",
                Some(token),
                None,
            )
            .await?;
        let at = chrono::Utc::now().to_rfc3339();
        let accepted = api
            .call(
                reqwest::Method::POST,
                "/v1/pings",
                Some(token),
                Some(json!({"pings": [{"id": uuid::Uuid::now_v7(), "recorded_at": at, "lat": 30.27, "lon": -97.74, "accuracy_m": 5}]})),
            )
            .await?;
        ensure!(
            accepted["accepted"] == 1,
            "a first ping was refused: {accepted}"
        );
        if open_shift.is_empty() {
            open_shift = shift["id"].as_str().context("shift id")?.to_owned();
        }
    }
    // The pinging technician's shift began twelve hours ago, so the load's
    // pings, a millisecond apart, all fall inside it.
    let shift_sql = if postgres {
        format!("UPDATE shifts SET clock_in_at = clock_in_at - interval '{PING_SHIFT_HOURS} hours' WHERE id = '{open_shift}'")
    } else {
        format!(
            "UPDATE shifts SET clock_in_at = strftime('%Y-%m-%dT%H:%M:%f000Z', clock_in_at, '-{PING_SHIFT_HOURS} hours') WHERE id = x'{}'",
            open_shift.replace('-', "")
        )
    };
    pool.get()?.batch_execute(&shift_sql)?;
    let (pinging_user, pinging_token) = technicians.first().cloned().context("a technician")?;
    Ok(Seeded {
        owner_token,
        account_id,
        customer_ids,
        pinging_token,
        route_shift,
        pinging_user,
        open_shift,
    })
}

/// Accounts besides the measured one, each as large as it.
const OTHER_ACCOUNTS: usize = 9;
/// A word in every customer of the other accounts and in none of the first's.
const OTHER_WORD: &str = "marconi";

/// Signs up `OTHER_ACCOUNTS` accounts and gives each a copy of `account`'s
/// customers with `OTHER_WORD` added to their names, in bulk.
async fn add_other_accounts(api: &Api, database_url: &str, account: &str) -> Result<()> {
    let pool = DbPool::new(&DatabaseUrl::parse(database_url)?, &PoolOptions::default())?;
    let postgres = database_url.starts_with("postgres");
    let columns = "stage, name, sort_name, company, email, phone, address_line1, address_line2, \
                   city, region, postal_code, country, lat, lon, notes, search_text, sms_consent, \
                   email_consent, version, converted_at, created_at, updated_at";
    let copied = format!(
        "stage, name || ' Marconi', sort_name || ' {OTHER_WORD}', company, email, phone, \
         address_line1, address_line2, city, region, postal_code, country, lat, lon, notes, \
         search_text || ' {OTHER_WORD}', sms_consent, email_consent, version, converted_at, \
         created_at, updated_at"
    );
    for i in 0..OTHER_ACCOUNTS {
        let signup = api
            .call(
                reqwest::Method::POST,
                "/v1/auth/signup",
                None,
                Some(json!({"account_name": format!("Other {i}"), "name": "Owner", "email": format!("owner{i}@other.example"), "password": PASSWORD})),
            )
            .await?;
        let other = signup["account"]["id"].as_str().context("account id")?;
        let sql = if postgres {
            format!(
                "INSERT INTO people (id, account_id, {columns})
                 SELECT gen_random_uuid(), '{other}', {copied} FROM people WHERE account_id = '{account}'"
            )
        } else {
            let hex = |id: &str| id.replace('-', "");
            format!(
                "INSERT INTO people (id, account_id, {columns})
                 SELECT randomblob(16), x'{}', {copied} FROM people WHERE account_id = x'{}'",
                hex(other),
                hex(account)
            )
        };
        pool.get()?.batch_execute(&sql)?;
    }
    Ok(())
}

fn count(database_url: &str, sql: &str) -> Result<i64> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let pool = DbPool::new(&DatabaseUrl::parse(database_url)?, &PoolOptions::default())?;
    let mut conn = pool.get()?;
    let row: Count = diesel::sql_query(sql).get_result(&mut *conn)?;
    Ok(row.n)
}

/// The same PostgreSQL database through its Unix socket, when `database_url`
/// reaches it over TCP on this host and the server has a socket here: the
/// connection the README advises on one host, without TCP or TLS.
fn through_unix_socket(pool: &DbPool, database_url: &str) -> Result<Option<String>> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Socket {
        #[diesel(sql_type = diesel::sql_types::Text)]
        directories: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        port: String,
    }
    let Some(on_loopback) = fieldcrm_bench::PostgresOnLoopback::of(database_url) else {
        return Ok(None);
    };
    let socket: Socket = diesel::sql_query(
        "SELECT current_setting('unix_socket_directories') AS directories, \
         current_setting('port') AS port",
    )
    .get_result(&mut *pool.get()?)?;
    let port = socket.port;
    let Some(directory) = socket
        .directories
        .split(',')
        .map(str::trim)
        .find(|dir| Path::new(dir).join(format!(".s.PGSQL.{port}")).exists())
    else {
        return Ok(None);
    };
    Ok(Some(on_loopback.through_socket(directory, &port)))
}

/// Settles PostgreSQL after the seed into the state of a database that has
/// been running a while: statistics gathered and hint bits set (`VACUUM
/// ANALYZE`, as autovacuum does), and the seed's dirty pages written out
/// (`CHECKPOINT`). Otherwise the first figures may pay for the seed: its WAL
/// forces checkpoints (a run counted 16 besides the timed ones), and one
/// still writing would be measured with the GET while its limit, taken
/// later, would not; a host with autovacuum off keeps plans made while the
/// tables were nearly empty (there a GET by id at 27k customers ran 5 times
/// slower until an `ANALYZE`). SQLite is left as the server leaves it.
fn settle_if_postgres(database_url: &str) -> Result<()> {
    let url = DatabaseUrl::parse(database_url)?;
    if url.backend() == Backend::Postgres {
        let pool = DbPool::new(&url, &PoolOptions::default())?;
        let mut conn = pool.get()?;
        // One statement each: neither may run inside a transaction block.
        conn.batch_execute("VACUUM ANALYZE")?;
        if let Err(err) = conn.batch_execute("CHECKPOINT") {
            eprintln!(
                "   (no CHECKPOINT after the seed: {err}; needs a superuser or pg_checkpoint)"
            );
        }
    }
    Ok(())
}

fn pings_stored(database_url: &str) -> Result<i64> {
    count(database_url, "SELECT count(*) AS n FROM pings")
}

async fn run_backend(
    args: &Args,
    scale: &Scale,
    database_url: &str,
    work: &Path,
    limits: Option<&mut Limits>,
) -> Result<BackendRun> {
    let logs = work.join("server.log");
    let mut run = BackendRun::default();
    let (server, empty_ms) = start(&args.server, database_url, &logs).await?;
    run.startup_empty_ms = empty_ms;
    drop(server);
    let (server, migrated_ms) = start(&args.server, database_url, &logs).await?;
    run.startup_migrated_ms = migrated_ms;
    let pid = server.child.id();
    let api = Api {
        client: reqwest::Client::new(),
        base: server.base.clone(),
    };
    let seeded = seed(&api, scale, database_url).await?;
    settle_if_postgres(database_url)?;
    let probe = match limits {
        Some(_) => Some(DatabaseProbe::new(scale, database_url, &seeded, work)?),
        None => None,
    };
    let mut found = Limits::default();
    tokio::time::sleep(Duration::from_millis(500)).await;
    run.memory_after("seeding", pid);

    let script = |name: &str, text: String| -> Result<PathBuf> {
        let path = work.join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    };
    let token = &seeded.owner_token;
    let (c, secs) = (scale.connections, scale.secs);

    let by_id: Vec<String> = seeded
        .customer_ids
        .iter()
        .step_by((seeded.customer_ids.len() / 1000).max(1))
        .map(|id| format!("/v1/customers/{id}"))
        .collect();
    let get_script = script("get.lua", load::get_script(token, &by_id))?;
    (run.get_by_id, found.select_tps) = against_limit(
        probe.as_ref(),
        || {
            let get = costed(pid, &server.base, || {
                load::wrk(&server.base, &get_script, c, secs)
            })?;
            eprintln!(
                "   GET by id: {:.0} req/s, p99 {:.1} ms",
                get.requests_per_sec, get.p99_ms
            );
            Ok(get)
        },
        DatabaseProbe::select_tps,
    )?;
    if let Some(probe) = &probe {
        found.select_client_cpu_us =
            load::median(&mut probe.select_client_cpu_us.take()).unwrap_or_default();
    }
    let healthz_script = script("healthz.lua", load::plain_get_script("/healthz"))?;
    run.healthz = costed(pid, &server.base, || {
        load::wrk(&server.base, &healthz_script, c, secs)
    })?;
    eprintln!(
        "   GET /healthz: {:.0} req/s, {:.1} µs of server CPU each",
        run.healthz.requests_per_sec, run.healthz.cpu_us
    );

    if let Some(probe) = &probe {
        if let Some(socket_url) = through_unix_socket(&probe.pool, database_url)? {
            // A second server on the same database, loaded once the first
            // is idle, so each connection's cost is measured on its own.
            let (beside, _) = start(&args.server, &socket_url, &logs).await?;
            let get = costed(beside.child.id(), &beside.base, || {
                load::wrk(&beside.base, &get_script, c, secs)
            })?;
            drop(beside);
            eprintln!(
                "   GET by id through the Unix socket: {:.0} req/s, {:.1} µs of server CPU each",
                get.requests_per_sec, get.cpu_us
            );
            run.get_by_id_through_socket = Some(get);
            found.select_client_cpu_us_through_socket =
                Some(probe.select_cost_through(&socket_url)?);
        }
    }

    run.memory_after("GET by id", pid);

    // Before the creates, so it searches the seeded customers only.
    let searches: Vec<String> = search_terms()
        .iter()
        .map(|term| format!("/v1/customers?q={}", term.replace(' ', "%20")))
        .collect();
    let search_script = script("search.lua", load::get_script(token, &searches))?;
    run.search = load::wrk(&server.base, &search_script, c, secs)?;
    run.search_alone = load::wrk(&server.base, &search_script, 1, secs)?;
    eprintln!(
        "   search: p50 {:.1} ms ({:.1} ms one at a time)",
        run.search.p50_ms, run.search_alone.p50_ms
    );
    if let Some(probe) = &probe {
        let search = probe.search()?;
        (found.search_tps, found.search_p50_ms) = (search.tps, search.p50_ms);
    }

    // One account's search beside nine others of the same size, whose rows
    // hold the same words and one the first account's rows never hold.
    let miss_script = script(
        "miss.lua",
        load::get_script(token, &[format!("/v1/customers?q={OTHER_WORD}")]),
    )?;
    run.search_miss_alone = load::wrk(&server.base, &miss_script, 1, secs)?;
    let started = Instant::now();
    add_other_accounts(&api, database_url, &seeded.account_id).await?;
    settle_if_postgres(database_url)?;
    eprintln!(
        "   {OTHER_ACCOUNTS} other accounts of {} customers in {:.1} s",
        scale.customers,
        started.elapsed().as_secs_f64()
    );
    run.search_alone_beside_others = load::wrk(&server.base, &search_script, 1, secs)?;
    run.search_miss_alone_beside_others = load::wrk(&server.base, &miss_script, 1, secs)?;
    eprintln!(
        "   search one at a time beside them: p50 {:.1} ms (was {:.1}); a miss {:.1} ms (was {:.1})",
        run.search_alone_beside_others.p50_ms,
        run.search_alone.p50_ms,
        run.search_miss_alone_beside_others.p50_ms,
        run.search_miss_alone.p50_ms
    );
    run.memory_after("search", pid);

    let create_script = script("create.lua", load::create_script(token))?;
    let create_limits;
    (run.create, create_limits) = against_limit(
        probe.as_ref(),
        || {
            let create = costed(pid, &server.base, || {
                load::wrk(&server.base, &create_script, c, secs)
            })?;
            eprintln!("   POST customer: {:.0} req/s", create.requests_per_sec);
            Ok(create)
        },
        DatabaseProbe::create_limits,
    )?;
    found.insert_tps = create_limits.insert_tps;
    found.create_statement_tps = create_limits.statement_tps;
    if let Some(probe) = &probe {
        found.insert_client_cpu_us =
            load::median(&mut probe.insert_client_cpu_us.take()).unwrap_or_default();
    }

    run.memory_after("POST create", pid);

    // Events out: the same creates with one endpoint subscribed to their
    // events, delivered by the server's own worker to a receiver here.
    let created_events = || {
        count(
            database_url,
            "SELECT count(*) AS n FROM events WHERE event_type = 'customer.created'",
        )
    };
    let before = created_events()?;
    let receiver = fieldcrm_bench::receiver::Receiver::start().await?;
    api.call(
        reqwest::Method::POST,
        "/v1/webhook-endpoints",
        Some(token),
        Some(json!({"url": receiver.url, "event_types": ["customer.created"]})),
    )
    .await?;
    (run.create_with_webhook, found.insert_tps_beside_webhook) = against_limit(
        probe.as_ref(),
        || {
            let create = load::wrk(&server.base, &create_script, c, secs)?;
            eprintln!(
                "   POST customer, webhook on: {:.0} req/s",
                create.requests_per_sec
            );
            Ok(create)
        },
        DatabaseProbe::insert_tps,
    )?;
    // Every create made one delivery; wait for the last of them.
    let expected = usize::try_from(created_events()? - before).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(300);
    while receiver.count() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    run.deliveries = receiver.summary();
    eprintln!(
        "   deliveries: {} of {expected}, {:.0}/s, p99 {:.0} ms from event to receipt",
        run.deliveries.count, run.deliveries.per_sec, run.deliveries.p99_ms
    );
    // The same at a steady 500 creates per second (the quick run: 50), so the
    // time to receipt is measured at that rate rather than behind a backlog.
    receiver.reset();
    let before = created_events()?;
    paced_creates(&api, token, scale.paced_per_sec, scale.secs).await?;
    let expected = usize::try_from(created_events()? - before).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(120);
    while receiver.count() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    run.deliveries_paced = receiver.summary();
    eprintln!(
        "   deliveries at {}/s: {} of {expected}, p50 {:.0} ms, p99 {:.0} ms",
        scale.paced_per_sec,
        run.deliveries_paced.count,
        run.deliveries_paced.p50_ms,
        run.deliveries_paced.p99_ms
    );

    run.memory_after("webhooks", pid);

    // Recorded from where the pinging technician's shift began, on.
    let since = chrono::Utc::now() - chrono::Duration::hours(PING_SHIFT_HOURS)
        + chrono::Duration::minutes(1);
    for batch in [100usize, 1000] {
        let before = pings_stored(database_url)?;
        let started = Instant::now();
        let pings_script = script(
            "pings.lua",
            load::pings_script(&seeded.pinging_token, batch, since.timestamp_millis()),
        )?;
        let latency = costed(pid, &server.base, || {
            load::wrk(&server.base, &pings_script, c, secs)
        })?;
        let elapsed = started.elapsed().as_secs_f64();
        let stored = pings_stored(database_url)? - before;
        // What was stored, not what was sent: a refused ping is no ping.
        let per_sec = stored as f64 / elapsed;
        eprintln!(
            "   pings ×{batch}: {per_sec:.0}/s ({stored} stored, {} requests)",
            latency.requests
        );
        if batch == 100 {
            run.pings_100 = per_sec;
            run.pings_100_latency = latency;
        } else {
            run.pings_1000 = per_sec;
            run.pings_1000_latency = latency;
        }
    }
    if let Some(probe) = &probe {
        found.ping_rows_per_sec = probe.ping_rows_per_sec()?;
    }
    run.memory_after("pings", pid);
    tracker_load(
        &api,
        &server.base,
        &seeded,
        database_url,
        since,
        scale,
        &script,
        &mut run,
    )
    .await?;

    run.memory_after("trackers", pid);
    run.live = load::wrk(
        &server.base,
        &script(
            "live.lua",
            load::get_script(token, &["/v1/locations/live".to_owned()]),
        )?,
        c,
        secs,
    )?;
    run.route = load::wrk(
        &server.base,
        &script(
            "route.lua",
            load::get_script(token, &[format!("/v1/shifts/{}/route", seeded.route_shift)]),
        )?,
        c,
        secs,
    )?;
    eprintln!(
        "   live: {:.0} req/s; route: {:.0} req/s",
        run.live.requests_per_sec, run.route.requests_per_sec
    );

    if let (Some(probe), Some(limits)) = (probe, limits) {
        *limits = found;
        probe.finish()?;
    }

    run.memory_after("live and route", pid);

    // The web app's pages, one request at a time, as the owner sees them.
    let browser = fieldcrm_bench::pages::client()?;
    let session =
        fieldcrm_bench::pages::sign_in(&browser, &server.base, OWNER_EMAIL, PASSWORD).await?;
    let term = search_terms()[0].replace(' ', "+");
    let pages = [
        ("customers, first page", "/app/customers".to_owned()),
        ("customers, a search", format!("/app/customers?q={term}")),
        (
            "a customer",
            format!("/app/customers/{}", seeded.customer_ids[0]),
        ),
        ("appointments, a day", "/app/appointments".to_owned()),
        (
            "appointments, a week",
            "/app/appointments?view=week".to_owned(),
        ),
        ("live map", "/app/live".to_owned()),
        (
            "a shift's route",
            format!("/app/shifts/{}", seeded.route_shift),
        ),
        ("timesheets, this week", "/app/timesheets".to_owned()),
        ("messages", "/app/messages".to_owned()),
    ]
    .map(|(name, path)| (name.to_owned(), path));
    let each = Duration::from_secs((scale.secs / 2).max(1));
    run.pages =
        fieldcrm_bench::pages::measure(&browser, &server.base, &session, &pages, each).await?;
    for page in &run.pages {
        eprintln!(
            "   page {}: p95 {:.1} ms, {} KB",
            page.name,
            page.p95_ms,
            page.bytes / 1000
        );
    }
    run.memory_after("web pages", pid);

    // The export: timed, its size counted, the server's memory watched.
    let before = Resident::of(pid).now_kib;
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(Resident::of(pid).now_kib, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let mut response = api
        .client
        .get(format!("{}/v1/account/export", server.base))
        .bearer_auth(token)
        .send()
        .await?;
    ensure!(
        response.status().is_success(),
        "export answered {}",
        response.status()
    );
    while let Some(chunk) = response.chunk().await? {
        run.export_bytes += chunk.len() as u64;
    }
    run.export_secs = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    watcher.await?;
    run.export_rss_growth_kib = peak.load(Ordering::Relaxed).saturating_sub(before);
    eprintln!(
        "   export: {:.0} MB in {:.1} s, memory +{} KiB",
        run.export_bytes as f64 / 1e6,
        run.export_secs,
        run.export_rss_growth_kib
    );

    run.memory_after("export", pid);

    let pings = pings_stored(database_url)?;
    let started = Instant::now();
    let receipt = api
        .call(
            reqwest::Method::DELETE,
            "/v1/account",
            Some(token),
            Some(json!({"password": PASSWORD, "confirm": ACCOUNT_NAME})),
        )
        .await?;
    run.delete_secs = started.elapsed().as_secs_f64();
    run.deleted_pings = receipt["counts"]["pings"].as_i64().unwrap_or_default();
    ensure!(
        run.deleted_pings == pings,
        "the receipt counts {} pings, the database held {pings}",
        run.deleted_pings
    );
    ensure!(
        pings_stored(database_url)? == 0,
        "pings left after the deletion"
    );
    // The scrub follows in a job; the receipt says when it completed.
    let path = format!(
        "/v1/deletion-receipts/{}",
        receipt["receipt_id"].as_str().context("receipt id")?
    );
    loop {
        let now = api.call(reqwest::Method::GET, &path, None, None).await?;
        if now["scrub"]["status"] == "complete" {
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the deletion's scrub did not complete in 10 minutes: {now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    run.scrub_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "   delete: {} pings in {:.2} s, scrubbed after {:.2} s",
        run.deleted_pings, run.delete_secs, run.scrub_secs
    );

    run.memory_after("delete", pid);
    Ok(run)
}

/// Creates customers at `per_sec` for `secs` seconds, each on its own task so
/// a slow answer does not hold the pace back.
async fn paced_creates(api: &Api, token: &str, per_sec: u32, secs: u64) -> Result<()> {
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(per_sec)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = Vec::new();
    for n in 0..u64::from(per_sec) * secs {
        ticks.tick().await;
        let (client, url, token) = (
            api.client.clone(),
            format!("{}/v1/customers", api.base),
            token.to_owned(),
        );
        sent.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"name": format!("Paced {n}")}))
                .send()
                .await
                .map(|r| r.status().is_success())
        }));
    }
    let mut failed = 0;
    for task in sent {
        if !matches!(task.await, Ok(Ok(true))) {
            failed += 1;
        }
    }
    ensure!(failed == 0, "{failed} paced creates failed");
    Ok(())
}

/// The tracker apps' load, from one device of the pinging technician: Traccar
/// Client's single fixes on the OsmAnd endpoint, then Overland's 1000-point
/// batches. Their fixes are recorded hours after the `POST /v1/pings` load's,
/// still inside the shift, so none is refused as too close to another.
#[allow(clippy::too_many_arguments)]
async fn tracker_load(
    api: &Api,
    base: &str,
    seeded: &Seeded,
    database_url: &str,
    since: chrono::DateTime<chrono::Utc>,
    scale: &Scale,
    script: &dyn Fn(&str, String) -> Result<PathBuf>,
    run: &mut BackendRun,
) -> Result<()> {
    let device = api
        .call(
            reqwest::Method::POST,
            &format!("/v1/users/{}/devices", seeded.pinging_user),
            Some(&seeded.owner_token),
            Some(json!({"label": "Bench phone"})),
        )
        .await?;
    let token = device["token"].as_str().context("device token")?;
    let (c, secs) = (scale.connections, scale.secs);
    let at = |hours: i64| (since + chrono::Duration::hours(hours)).timestamp_millis();

    let before = pings_stored(database_url)?;
    run.osmand = load::wrk(
        base,
        &script("osmand.lua", load::osmand_script(token, at(2)))?,
        c,
        secs,
    )?;
    let stored = pings_stored(database_url)? - before;
    ensure!(
        stored > 0 && run.osmand.non_2xx == 0,
        "OsmAnd: {stored} stored, {} answers not 2xx",
        run.osmand.non_2xx
    );
    eprintln!(
        "   OsmAnd: {:.0} req/s ({stored} stored of {} requests)",
        run.osmand.requests_per_sec, run.osmand.requests
    );

    let before = pings_stored(database_url)?;
    let started = Instant::now();
    run.overland_1000_latency = load::wrk(
        base,
        &script("overland.lua", load::overland_script(token, 1000, at(6)))?,
        c,
        secs,
    )?;
    let elapsed = started.elapsed().as_secs_f64();
    let stored = pings_stored(database_url)? - before;
    run.overland_1000 = stored as f64 / elapsed;
    eprintln!(
        "   Overland ×1000: {:.0}/s ({stored} stored, {} requests)",
        run.overland_1000, run.overland_1000_latency.requests
    );
    Ok(())
}

/// The API's figure and, on PostgreSQL, its limit: [`PAIRS`] pairs, each limit
/// measured right after its figure, and the pair with the median ratio kept.
/// On SQLite, the figure once.
fn against_limit<L: Limit + Default>(
    probe: Option<&DatabaseProbe>,
    mut api: impl FnMut() -> Result<Latency>,
    limit: impl Fn(&DatabaseProbe) -> Result<L>,
) -> Result<(Latency, L)> {
    let Some(probe) = probe else {
        return Ok((api()?, L::default()));
    };
    let mut pairs = Vec::with_capacity(PAIRS);
    for _ in 0..PAIRS {
        let figure = api()?;
        pairs.push((figure, limit(probe)?));
    }
    median_pair(pairs).context("no pairs measured")
}

/// pgbench on the seeded database, for the same work as the API's figures: the
/// select by id, the customer search, the insert of one customer row and the
/// create's own statement, and a 1000-row insert of ping rows, with the
/// connections the API was given. Each
/// runs right after the API's figure it is the limit of: a shared machine's
/// speed drifts during a run, and a limit taken minutes later drifts with it.
struct DatabaseProbe {
    url: String,
    /// Keeps the connection that made `bench_ids`, to drop it at the end;
    /// also asks the server where its Unix socket is.
    pool: DbPool,
    select: PathBuf,
    /// pgbench's own CPU per select, one figure per run of the select.
    select_client_cpu_us: std::cell::RefCell<Vec<f64>>,
    searches: Vec<PathBuf>,
    insert: PathBuf,
    /// pgbench's own CPU per insert, one figure per run of the insert.
    insert_client_cpu_us: std::cell::RefCell<Vec<f64>>,
    create_statement: PathBuf,
    pings: PathBuf,
    search_log: PathBuf,
    connections: u32,
    secs: u64,
}

impl DatabaseProbe {
    fn new(scale: &Scale, database_url: &str, seeded: &Seeded, work: &Path) -> Result<Self> {
        let account = &seeded.account_id;
        let pool = DbPool::new(&DatabaseUrl::parse(database_url)?, &PoolOptions::default())?;
        pool.get()?.batch_execute(&format!(
            "DROP TABLE IF EXISTS bench_ids;
             CREATE TABLE bench_ids (n integer PRIMARY KEY, id uuid NOT NULL);
             INSERT INTO bench_ids SELECT row_number() OVER (ORDER BY id), id FROM people WHERE account_id = '{account}';"
        ))?;
        let n = count(database_url, "SELECT count(*) AS n FROM bench_ids")?;
        let script = |name: &str, text: String| -> Result<PathBuf> {
            let path = work.join(name);
            std::fs::write(&path, text)?;
            Ok(path)
        };
        let select = script(
            "select.sql",
            format!(
                "\\set n random(1, {n})\nSELECT p.* FROM bench_ids b JOIN people p ON p.id = b.id WHERE b.n = :n AND p.account_id = '{account}';\n"
            ),
        )?;
        // The API's search query with each term written in, one script per
        // term, picked at random as the API's load picks them.
        let keyed_by: fieldcrm_db::Id<fieldcrm_db::accounts::Account> =
            fieldcrm_db::Id::from_uuid(uuid::Uuid::parse_str(account)?);
        let searches = search_terms()
            .iter()
            .enumerate()
            .map(|(i, term)| {
                // pgbench reads `:name` as a variable: the keys' colon is written as chr(58).
                let keys = fieldcrm_db::people::search_keys(keyed_by, term)
                    .iter()
                    .map(|key| {
                        let (account, trigram) = key.split_once(':').unwrap_or_default();
                        format!("'{account}' || chr(58) || '{trigram}'")
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                script(
                    &format!("search-{i}.sql"),
                    format!(
                        "SELECT * FROM people WHERE account_id = '{account}' AND stage = 'customer' \
                         AND people_search_keys(people.account_id, people.search_text) @> ARRAY[{keys}] \
                         AND search_text LIKE '%{term}%' ESCAPE '\\' ORDER BY id LIMIT 51;\n"
                    ),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let insert = script(
            "insert.sql",
            format!(
                "INSERT INTO people (id, account_id, stage, name, sort_name, email, search_text, version, created_at, updated_at) \
                 VALUES (gen_random_uuid(), '{account}', 'customer', 'pgbench customer', 'pgbench customer', 'pg@bench.example', 'pgbench customer pg@bench.example', 1, now(), now());\n"
            ),
        )?;
        // What a POST create asks of the database: the customer row, its
        // `customer.created` event and a delivery for each subscribed
        // endpoint, in one statement as the API writes it on PostgreSQL, with
        // a new name each time as the API's load sends. The actor is a user of
        // the account, as the API's is; the account has no endpoint yet in
        // that phase, for the API's creates and these alike.
        let create_statement = script(
            "create.sql",
            format!(
                "\\set r random(1, 1000000000)\n\
                 WITH person AS (INSERT INTO people (id, account_id, stage, name, sort_name, email, search_text, version, created_at, updated_at) \
                 VALUES (gen_random_uuid(), '{account}', 'customer', 'Load Test ' || :r, 'load test ' || :r, 'lt' || :r || '@bench.example', \
                 'load test ' || :r || chr(10) || 'lt' || :r || '@bench.example', 1, now(), now()) RETURNING id), \
                 stored AS (INSERT INTO events (id, account_id, event_type, occurred_at, actor, data, person_id) \
                 SELECT gen_random_uuid(), '{account}', 'customer.created', now(), 'user' || chr(58) || '{user}', '{{\"id\"' || chr(58) || '\"' || person.id || '\"}}', person.id FROM person) \
                 INSERT INTO jobs (id, account_id, kind, subject_id, status, run_at, attempts, max_attempts, created_at, updated_at, payload) \
                 SELECT gen_random_uuid(), '{account}', 'webhook_delivery', webhook_endpoints.id, 'queued', now(), 0, 8, now(), now(), gen_random_uuid()::text \
                 FROM webhook_endpoints WHERE webhook_endpoints.account_id = '{account}' AND webhook_endpoints.enabled \
                 AND (webhook_endpoints.event_types IS NULL OR webhook_endpoints.event_types::jsonb ? 'customer.created');\n",
                user = seeded.pinging_user,
            ),
        )?;
        let pings = script(
            "pings.sql",
            format!(
                "INSERT INTO pings (user_id, id, account_id, shift_id, recorded_at, lat, lon, accuracy_m, received_at) \
                 SELECT '{}', gen_random_uuid(), '{account}', '{}', now(), 30.27 + i / 1e6, -97.74, 5, now() FROM generate_series(1, 1000) AS i;\n",
                seeded.pinging_user, seeded.open_shift
            ),
        )?;
        Ok(Self {
            url: database_url.to_owned(),
            pool,
            select,
            select_client_cpu_us: std::cell::RefCell::default(),
            searches,
            insert,
            insert_client_cpu_us: std::cell::RefCell::default(),
            create_statement,
            pings,
            search_log: work.join("pgbench-search"),
            connections: scale.connections,
            secs: scale.secs,
        })
    }

    fn run(&self, script: &Path) -> Result<f64> {
        load::pgbench(&self.url, &[script.to_owned()], self.connections, self.secs)
    }

    /// pgbench's rate on `script`, with its own CPU per transaction kept
    /// in `client_cpu_us`.
    fn costed(
        &self,
        what: &str,
        script: &PathBuf,
        client_cpu_us: &std::cell::RefCell<Vec<f64>>,
    ) -> Result<f64> {
        let run = self.cost(&self.url, what, script)?;
        client_cpu_us.borrow_mut().push(run.client_cpu_us);
        Ok(run.tps)
    }

    /// pgbench's own CPU per select by id when it connects through `url`.
    fn select_cost_through(&self, url: &str) -> Result<f64> {
        let run = self.cost(url, "select through the Unix socket", &self.select)?;
        Ok(run.client_cpu_us)
    }

    fn cost(&self, url: &str, what: &str, script: &PathBuf) -> Result<load::PgbenchCost> {
        let run = load::pgbench_cost(
            url,
            std::slice::from_ref(script),
            self.connections,
            self.secs,
        )?;
        eprintln!(
            "   pgbench {what}: {:.0} tps, {:.1} µs of pgbench's CPU each",
            run.tps, run.client_cpu_us
        );
        Ok(run)
    }

    fn select_tps(&self) -> Result<f64> {
        self.costed("select", &self.select, &self.select_client_cpu_us)
    }

    fn search(&self) -> Result<load::PgbenchLatency> {
        let search = load::pgbench_latency(
            &self.url,
            &self.searches,
            self.connections,
            self.secs,
            &self.search_log,
        )?;
        eprintln!(
            "   pgbench search: {:.0} tps, p50 {:.1} ms",
            search.tps, search.p50_ms
        );
        Ok(search)
    }

    fn insert_tps(&self) -> Result<f64> {
        self.costed("insert", &self.insert, &self.insert_client_cpu_us)
    }

    /// The insert, then the create's own statement.
    fn create_limits(&self) -> Result<CreateLimits> {
        let insert_tps = self.insert_tps()?;
        let statement_tps = self.run(&self.create_statement)?;
        eprintln!("   pgbench create statement: {statement_tps:.0} tps");
        Ok(CreateLimits {
            insert_tps,
            statement_tps,
        })
    }

    fn ping_rows_per_sec(&self) -> Result<f64> {
        let rows = self.run(&self.pings)? * 1000.0;
        eprintln!("   pgbench pings: {rows:.0} rows/s");
        Ok(rows)
    }

    fn finish(self) -> Result<()> {
        self.pool.get()?.batch_execute("DROP TABLE bench_ids")?;
        Ok(())
    }
}
