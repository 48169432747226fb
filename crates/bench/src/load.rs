//! The load generators: wrk against the API (Lua scripts written here), and
//! pgbench against PostgreSQL itself for the same work, so every API figure
//! can be read as a share of what the database alone can do on this machine.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{bail, Context, Result};

/// What wrk measured for one endpoint.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p75_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    /// Answers that were not 2xx: a benchmark of errors is no benchmark.
    pub non_2xx: u64,
    pub requests: u64,
    /// The server process's CPU time per request (user and system), in µs.
    pub cpu_us: f64,
    /// Of that, its database threads' (`fieldcrm-db`).
    pub db_threads_cpu_us: f64,
    /// Times the server's threads stopped running, per request.
    pub switches: f64,
    /// Statements the server sent to its database per request, connection
    /// checks included, and of those the connection checks.
    pub statements: f64,
    pub checks: f64,
}

/// Runs wrk with `script` against `base_url`.
pub fn wrk(base_url: &str, script: &Path, connections: u32, secs: u64) -> Result<Latency> {
    let output = Command::new("wrk")
        .args([
            // Two threads, one per core; wrk needs a connection per thread.
            &format!("-t{}", connections.clamp(1, 2)),
            &format!("-c{connections}"),
            &format!("-d{secs}s"),
            "--timeout",
            "10s",
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(base_url)
        .output()
        .context("running wrk (bench/run installs it)")?;
    if !output.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    // Requests wrk gave up on at the end may still be running in the server:
    // let them finish before the next figure is measured.
    std::thread::sleep(std::time::Duration::from_secs(2));
    parse_wrk(&String::from_utf8_lossy(&output.stdout))
}

fn parse_duration_ms(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => value / 1000.0,
        "ms" => value,
        "s" => value * 1000.0,
        "m" => value * 60_000.0,
        _ => return None,
    })
}

pub fn parse_wrk(output: &str) -> Result<Latency> {
    let mut latency = Latency::default();
    for line in output.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", value] => latency.p50_ms = parse_duration_ms(value).unwrap_or_default(),
            ["75%", value] => latency.p75_ms = parse_duration_ms(value).unwrap_or_default(),
            ["90%", value] => latency.p90_ms = parse_duration_ms(value).unwrap_or_default(),
            ["99%", value] => latency.p99_ms = parse_duration_ms(value).unwrap_or_default(),
            ["Requests/sec:", value] => {
                latency.requests_per_sec = value.parse().unwrap_or_default()
            }
            ["Non-2xx", "or", "3xx", "responses:", value] => {
                latency.non_2xx = value.parse().unwrap_or_default()
            }
            [count, "requests", "in", ..] => latency.requests = count.parse().unwrap_or_default(),
            _ => {}
        }
    }
    if latency.requests_per_sec == 0.0 {
        bail!("wrk reported no requests:\n{output}");
    }
    Ok(latency)
}

/// Runs pgbench; each transaction is one of `scripts`, picked at random.
/// Returns transactions per second.
pub fn pgbench(url: &str, scripts: &[PathBuf], connections: u32, secs: u64) -> Result<f64> {
    Ok(run_pgbench(url, scripts, connections, secs, None)?.tps)
}

/// What pgbench measured, and what it cost pgbench itself.
pub struct PgbenchCost {
    pub tps: f64,
    /// pgbench's own CPU time (user and system) per transaction, in µs: the
    /// client's side of each round trip to PostgreSQL, with the same libpq
    /// and connection settings the server uses.
    pub client_cpu_us: f64,
}

/// As [`pgbench`], with pgbench's own CPU per transaction.
pub fn pgbench_cost(
    url: &str,
    scripts: &[PathBuf],
    connections: u32,
    secs: u64,
) -> Result<PgbenchCost> {
    run_pgbench(url, scripts, connections, secs, None)
}

/// What pgbench measured when asked for each transaction's latency.
pub struct PgbenchLatency {
    pub tps: f64,
    pub p50_ms: f64,
}

/// As [`pgbench`], and the median transaction latency, from pgbench's
/// per-transaction log (written under `log_prefix`).
pub fn pgbench_latency(
    url: &str,
    scripts: &[PathBuf],
    connections: u32,
    secs: u64,
    log_prefix: &Path,
) -> Result<PgbenchLatency> {
    let tps = run_pgbench(url, scripts, connections, secs, Some(log_prefix))?.tps;
    let name = log_prefix
        .file_name()
        .and_then(|n| n.to_str())
        .context("the log prefix needs a file name")?;
    let dir = log_prefix
        .parent()
        .context("the log prefix needs a folder")?;
    let mut micros = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_log = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| is_pgbench_log(name, n));
        if is_log {
            micros.extend(parse_pgbench_log(&std::fs::read_to_string(&path)?));
            std::fs::remove_file(&path)?;
        }
    }
    Ok(PgbenchLatency {
        tps,
        p50_ms: median(&mut micros).context("pgbench logged no transactions")? / 1000.0,
    })
}

/// pgbench names its logs `<prefix>.<pid>` and `<prefix>.<pid>.<thread>`;
/// nothing else in the folder may be read (or removed) as one.
pub fn is_pgbench_log(prefix: &str, file_name: &str) -> bool {
    file_name
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|rest| {
            !rest.is_empty() && rest.split('.').all(|part| part.parse::<u32>().is_ok())
        })
}

/// The latencies in µs from pgbench's per-transaction log lines:
/// `client_id transaction_no time script_no time_epoch time_us`, `time` being
/// the transaction's latency in µs.
pub fn parse_pgbench_log(log: &str) -> Vec<f64> {
    log.lines()
        .filter_map(|line| line.split_whitespace().nth(2)?.parse().ok())
        .collect()
}

/// The middle value (the upper of the two middle ones for an even count).
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

fn run_pgbench(
    url: &str,
    scripts: &[PathBuf],
    connections: u32,
    secs: u64,
    log_prefix: Option<&Path>,
) -> Result<PgbenchCost> {
    let mut command = Command::new("pgbench");
    command.args([
        "-n",
        "-M",
        "prepared",
        "-j",
        "2",
        &format!("-c{connections}"),
        &format!("-T{secs}"),
    ]);
    for script in scripts {
        command.arg("-f").arg(script);
    }
    if let Some(prefix) = log_prefix {
        command
            .arg("-l")
            .arg(format!("--log-prefix={}", prefix.display()));
    }
    let (output, cpu_secs) = output_and_cpu(command.arg(url)).context("running pgbench")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let field = |prefix: &str| -> Result<f64> {
        text.lines()
            .find_map(|line| {
                let rest = line.strip_prefix(prefix)?;
                rest.split_whitespace().next()?.parse().ok()
            })
            .with_context(|| format!("no `{prefix}` in pgbench's output:\n{text}"))
    };
    let transactions = field("number of transactions actually processed: ")?;
    Ok(PgbenchCost {
        tps: field("tps = ")?,
        client_cpu_us: cpu_secs * 1e6 / transactions.max(1.0),
    })
}

/// Runs `command` to its end, as `Command::output` does, and returns the CPU
/// time (user and system, in seconds) the process used, read from /proc after
/// it ended and before it is reaped: after the reaping there is nothing to read.
fn output_and_cpu(command: &mut Command) -> Result<(Output, f64)> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stderr = child.stderr.take().context("stderr")?;
    let stderr = std::thread::spawn(move || {
        let mut text = Vec::new();
        stderr.read_to_end(&mut text).map(|_| text)
    });
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .context("stdout")?
        .read_to_end(&mut stdout)?;
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id())?).context("a pid")?;
    rustix::process::waitid(
        rustix::process::WaitId::Pid(pid),
        rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOWAIT,
    )?;
    let cpu = process_cpu_secs(child.id())?;
    let status = child.wait()?;
    let stderr = stderr
        .join()
        .map_err(|_| anyhow::anyhow!("reading stderr panicked"))??;
    Ok((
        Output {
            status,
            stdout,
            stderr,
        },
        cpu,
    ))
}

/// Times the process's threads have stopped running so far, summed over its
/// threads: to wait (for work, for an answer, for a lock) or because the
/// scheduler ran something else. A thread that has ended is no longer listed.
pub fn process_switches(pid: u32) -> Result<f64> {
    let mut total = 0.0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        // A thread may end between the listing and the read.
        if let Ok(status) = std::fs::read_to_string(task?.path().join("status")) {
            total += switches_in(&status)?;
        }
    }
    Ok(total)
}

/// A number of a `/proc/.../status` text, by its name with the colon
/// (`VmRSS:   1234 kB`, `voluntary_ctxt_switches:  5`), without its unit.
pub fn status_field(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Voluntary and involuntary context switches of a `/proc/.../status` text.
fn switches_in(status: &str) -> Result<f64> {
    let field = |name: &str| {
        status_field(status, name).with_context(|| format!("{name} in a /proc status"))
    };
    Ok((field("voluntary_ctxt_switches:")? + field("nonvoluntary_ctxt_switches:")?) as f64)
}

/// What one thread switch costs in CPU on this machine, in µs: two threads
/// hand a message back and forth, each sleeping until the other's arrives, as
/// an HTTP worker and a database thread do around every query. Both threads'
/// own CPU over both threads' switches; the median of three runs.
pub fn thread_switch_cpu_us() -> Result<f64> {
    const ROUND_TRIPS: u32 = 20_000;
    /// A thread's own CPU seconds and switches so far.
    fn own() -> Result<(f64, f64)> {
        let cpu = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        let status = std::fs::read_to_string("/proc/thread-self/status")?;
        Ok((
            cpu.tv_sec as f64 + cpu.tv_nsec as f64 / 1e9,
            switches_in(&status)?,
        ))
    }
    fn measured(work: impl FnOnce()) -> Result<(f64, f64)> {
        let (cpu, switches) = own()?;
        work();
        let (cpu_after, switches_after) = own()?;
        Ok((cpu_after - cpu, switches_after - switches))
    }
    let mut runs = Vec::new();
    for _ in 0..3 {
        let (to_other, from_here) = std::sync::mpsc::channel::<u32>();
        let (to_here, from_other) = std::sync::mpsc::channel::<u32>();
        let other = std::thread::spawn(move || {
            measured(|| {
                while let Ok(n) = from_here.recv() {
                    if to_here.send(n).is_err() {
                        break;
                    }
                }
            })
        });
        let here = measured(|| {
            for n in 0..ROUND_TRIPS {
                if to_other.send(n).is_err() || from_other.recv().is_err() {
                    break;
                }
            }
            drop(to_other);
        })?;
        let there = other
            .join()
            .map_err(|_| anyhow::anyhow!("the other thread panicked"))??;
        let switches = (here.1 + there.1).max(1.0);
        runs.push((here.0 + there.0) * 1e6 / switches);
    }
    median(&mut runs).context("three runs")
}

/// CPU time the process has used so far (user and system), in seconds.
pub fn process_cpu_secs(pid: u32) -> Result<f64> {
    Ok(stat_cpu_secs(&std::fs::read_to_string(format!("/proc/{pid}/stat"))?)?.1)
}

/// CPU time the process's threads named `name` have used so far, in seconds.
/// A thread that has ended is no longer listed: read it around load that
/// keeps the threads busy.
pub fn threads_cpu_secs(pid: u32, name: &str) -> Result<f64> {
    let mut total = 0.0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        // A thread may end between the listing and the read.
        let Ok(stat) = std::fs::read_to_string(task?.path().join("stat")) else {
            continue;
        };
        let (comm, cpu) = stat_cpu_secs(&stat)?;
        if comm == name {
            total += cpu;
        }
    }
    Ok(total)
}

/// The command name and the CPU time (user and system, in seconds) of a
/// `/proc/.../stat` line.
fn stat_cpu_secs(stat: &str) -> Result<(&str, f64)> {
    // The command name is in parentheses and may hold spaces and parentheses.
    let (head, rest) = stat.rsplit_once(") ").context("a /proc stat line")?;
    let comm = head.split_once(" (").context("a /proc stat line")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        Ok(fields
            .get(i)
            .context("a /proc stat field")?
            .parse::<f64>()?)
    };
    // utime and stime are the 14th and 15th fields; the state (3rd) is first here.
    Ok((comm, (ticks(11)? + ticks(12)?) / clock_ticks_per_sec()))
}

fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

fn lua_string(value: &str) -> String {
    format!("{value:?}")
}

fn lua_list(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| lua_string(v)).collect();
    format!("{{{}}}", items.join(","))
}

/// GET `path` without credentials.
pub fn plain_get_script(path: &str) -> String {
    format!(
        r#"request = function()
  return wrk.format("GET", {})
end
"#,
        lua_string(path)
    )
}

/// GET paths picked at random from `paths`.
pub fn get_script(token: &str, paths: &[String]) -> String {
    format!(
        r#"local paths = {}
local headers = {{["Authorization"] = "Bearer " .. {}}}
request = function()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end
"#,
        lua_list(paths),
        lua_string(token)
    )
}

/// POST /v1/customers with a new name each time.
pub fn create_script(token: &str) -> String {
    format!(
        r#"local headers = {{["Authorization"] = "Bearer " .. {}, ["Content-Type"] = "application/json"}}
local n = 0
request = function()
  n = n + 1
  local body = string.format('{{"name":"Load Test %d %d","email":"lt%d.%d@bench.example"}}', math.random(1, 1000000), n, math.random(1, 1000000), n)
  return wrk.format("POST", "/v1/customers", headers, body)
end
"#,
        lua_string(token)
    )
}

/// POST /v1/pings with `batch` new pings per request, recorded a millisecond
/// apart from `since_ms` (epoch milliseconds, inside the technician's shift) on.
/// Each wrk thread numbers its own ids and has its own stretch of time, so no
/// two pings share an id or a millisecond.
pub fn pings_script(token: &str, batch: usize, since_ms: i64) -> String {
    format!(
        r#"local headers = {{["Authorization"] = "Bearer " .. {token}, ["Content-Type"] = "application/json"}}
local counter = 0
local threads = 0
local prefix = nil
local since = nil
-- Runs in the main state; `thread_no` becomes a global of each thread's own.
setup = function(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end
local function recorded_at(ms)
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(ms / 1000)) .. string.format(".%03dZ", ms % 1000)
end
request = function()
  if prefix == nil then
    math.randomseed(os.time() + thread_no * 7919)
    prefix = string.format("%08x-%04x", math.random(0, 0x7fffffff), thread_no)
    since = {since_ms} + (thread_no - 1) * 20000000
  end
  local parts = {{}}
  for i = 1, {batch} do
    counter = counter + 1
    parts[i] = string.format('{{"id":"%s-4%03x-8%03x-%012x","recorded_at":"%s","lat":30.%06d,"lon":-97.%06d,"accuracy_m":5}}',
      prefix, counter % 4096, math.random(0, 4095), counter, recorded_at(since + counter), counter % 1000000, counter % 1000000)
  end
  return wrk.format("POST", "/v1/pings", headers, '{{"pings":[' .. table.concat(parts, ",") .. ']}}')
end
"#,
        token = lua_string(token),
    )
}

/// The part of the scripts below that gives each wrk thread its own stretch
/// of time from `since_ms`, `stretch_ms` long, a millisecond a fix: no two
/// fixes share a time, so none is a duplicate of another.
fn thread_stretch(since_ms: i64, stretch_ms: i64) -> String {
    format!(
        r#"local counter = 0
local threads = 0
local since = nil
setup = function(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end
local function next_ms()
  if since == nil then
    since = {since_ms} + (thread_no - 1) * {stretch_ms}
  end
  counter = counter + 1
  return since + counter
end
"#
    )
}

/// POST one fix per request to the OsmAnd endpoint, as Traccar Client 10.x
/// sends it (a form; `timestamp` in milliseconds, which the decoder reads as
/// such from 2^31 on).
pub fn osmand_script(token: &str, since_ms: i64) -> String {
    format!(
        r#"{stretch}local path = "/v1/ingest/osmand/" .. {token}
local headers = {{["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8"}}
request = function()
  local ms = next_ms()
  local body = string.format("id=bench&lat=30.%06d&lon=-97.%06d&timestamp=%d&accuracy=5.0&altitude=41.0&speed=11.66&bearing=270.0&batt=76&charge=false",
    counter % 1000000, counter % 1000000, ms)
  return wrk.format("POST", path, headers, body)
end
"#,
        stretch = thread_stretch(since_ms, 2_000_000),
        token = lua_string(token),
    )
}

/// POST Overland batches of `batch` features (the app's largest setting is
/// 1000) with the token as Bearer, times with milliseconds.
pub fn overland_script(token: &str, batch: usize, since_ms: i64) -> String {
    format!(
        r#"{stretch}local headers = {{["Authorization"] = "Bearer " .. {token}, ["Content-Type"] = "application/json"}}
local function iso(ms)
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(ms / 1000)) .. string.format(".%03dZ", ms % 1000)
end
request = function()
  local parts = {{}}
  for i = 1, {batch} do
    local ms = next_ms()
    parts[i] = string.format('{{"type":"Feature","geometry":{{"type":"Point","coordinates":[-97.%06d,30.%06d]}},"properties":{{"timestamp":"%s","altitude":41,"speed":13,"course":271,"horizontal_accuracy":5,"vertical_accuracy":3,"motion":["driving"],"device_id":"bench","battery_state":"unplugged","battery_level":0.81}}}}',
      counter % 1000000, counter % 1000000, iso(ms))
  end
  return wrk.format("POST", "/v1/ingest/overland", headers, '{{"locations":[' .. table.concat(parts, ",") .. ']}}')
end
"#,
        stretch = thread_stretch(since_ms, 8_000_000),
        token = lua_string(token),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_process_is_charged_the_cpu_it_used() {
        // A third of a second of the shell's own arithmetic here (no child
        // processes, whose time would not be the shell's), then a word on
        // each stream; /proc counts in ticks of 10 ms.
        let (output, cpu) = output_and_cpu(Command::new("sh").args([
            "-c",
            "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo done; echo also >&2",
        ]))
        .unwrap();
        assert!(output.status.success());
        assert_eq!(output.stdout, b"done\n");
        assert_eq!(output.stderr, b"also\n");
        assert!(cpu >= 0.05, "{cpu} s of CPU for a busy loop");
    }

    #[test]
    fn a_thread_that_waits_for_another_is_counted_as_switching() {
        use std::io::{BufRead, Write};
        // A process of its own, whose threads all live through the count: in
        // this one the other tests' threads end at any time, taking their
        // switches out of the sum. The shell waits for twenty children, says
        // so, and waits for a line before it ends.
        let mut shell = Command::new("sh")
            .args([
                "-c",
                "read go; i=0; while [ $i -lt 20 ]; do sleep 0.001; i=$((i+1)); done; echo done; read end",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = shell.id();
        let mut stdin = shell.stdin.take().unwrap();
        let mut stdout = std::io::BufReader::new(shell.stdout.take().unwrap());
        let before = process_switches(pid).unwrap();
        writeln!(stdin, "go").unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "done\n");
        let after = process_switches(pid).unwrap();
        writeln!(stdin, "end").unwrap();
        assert!(shell.wait().unwrap().success());
        assert!(after - before >= 20.0, "{before} then {after} switches");
        // Each round trip puts both threads to sleep: not free anywhere.
        let cost = thread_switch_cpu_us().unwrap();
        assert!(cost > 0.0 && cost < 1000.0, "{cost} µs per switch");
    }

    #[test]
    fn a_thread_is_charged_by_its_name() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let (spun, read) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (spinning, reading) = (spun.clone(), read.clone());
        let busy = std::thread::Builder::new()
            .name("bench-busy".into())
            .spawn(move || {
                // A fifth of a second of this thread's own CPU, however long
                // the machine's other work makes that take.
                let own = || rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
                while own().tv_sec == 0 && own().tv_nsec < 200_000_000 {
                    std::hint::spin_loop();
                }
                spinning.store(true, Ordering::SeqCst);
                // Stay listed until the figures are read.
                while !reading.load(Ordering::SeqCst) {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            })
            .unwrap();
        while !spun.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let pid = std::process::id();
        let busy_cpu = threads_cpu_secs(pid, "bench-busy").unwrap();
        let nobody = threads_cpu_secs(pid, "no such thread").unwrap();
        let all = process_cpu_secs(pid).unwrap();
        read.store(true, Ordering::SeqCst);
        busy.join().unwrap();
        // /proc counts in ticks of 10 ms, and the kernel rounds a thread's
        // time and its process's total to ticks apart: one tick either way.
        let tick = 0.01;
        assert!(busy_cpu >= 0.15, "{busy_cpu} s of CPU for a 200 ms spin");
        assert!(
            busy_cpu <= all + tick + 1e-9,
            "{busy_cpu} s of one thread, {all} s of all"
        );
        assert_eq!(nobody, 0.0);
    }
}
