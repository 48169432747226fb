//! A `fieldcrm serve` process a test starts itself, and tests that cannot run
//! where they are.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A server process. It binds port 0 and the harness reads the address it
/// logs, so no other test can take its port between choosing and binding.
pub struct ServerProcess {
    pub child: Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// Where stdout and stderr go: a file, since a pipe nobody reads would fill
    /// up and stall the server.
    log: tempfile::NamedTempFile,
}

/// The process ended before it listened: its exit status and everything it wrote.
#[derive(Debug)]
pub struct NotStarted {
    pub status: ExitStatus,
    pub output: String,
}

impl ServerProcess {
    /// Starts `command` (the `fieldcrm` binary, or something that runs it and
    /// passes its environment on) with `PORT=0` and JSON logs, and waits up to
    /// 30 seconds for the `fieldcrm listening` line. Panics when neither that
    /// line nor an exit comes.
    pub async fn start(mut command: Command) -> Result<Self, NotStarted> {
        let log = tempfile::NamedTempFile::new().expect("a log file");
        // Both streams append to the one file, so neither overwrites the other.
        let append = || {
            std::fs::OpenOptions::new()
                .append(true)
                .open(log.path())
                .expect("open the log file")
        };
        // The line the address is read from is logged at info level.
        let level = command
            .get_envs()
            .find(|(name, _)| *name == "FIELDCRM_LOG_LEVEL")
            .and_then(|(_, value)| value.map(|v| v.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "warn".to_owned());
        let level = if ["trace", "debug", "info"].contains(&level.as_str()) {
            level
        } else {
            format!("{level},fieldcrm=info")
        };
        let child = command
            .env("PORT", "0")
            .env("FIELDCRM_LOG_FORMAT", "json")
            .env("FIELDCRM_LOG_LEVEL", level)
            .env_remove("RUST_LOG")
            .stdout(Stdio::from(append()))
            .stderr(Stdio::from(append()))
            .spawn()
            .expect("start the server process");
        let mut server = ServerProcess {
            child,
            base: String::new(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(base) = listening_address(&server.output()) {
                server.base = base;
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait().expect("poll the server process") {
                return Err(NotStarted {
                    status,
                    output: server.output(),
                });
            }
            assert!(
                Instant::now() < deadline,
                "the server did not listen within 30 s:\n{}",
                server.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything the process wrote so far.
    pub fn output(&self) -> String {
        let mut out = Vec::new();
        std::fs::File::open(self.log.path())
            .and_then(|mut file| file.read_to_end(&mut out))
            .expect("read the log file");
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Stops the process and returns everything it wrote.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.output()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `address` of the `fieldcrm listening` line, with `127.0.0.1` for an
/// unspecified host.
fn listening_address(output: &str) -> Option<String> {
    output.lines().find_map(|line| {
        let entry: serde_json::Value = serde_json::from_str(line).ok()?;
        let fields = &entry["fields"];
        if fields["message"] != "fieldcrm listening" {
            return None;
        }
        let address = fields["address"].as_str()?;
        Some(address.replace("://0.0.0.0:", "://127.0.0.1:"))
    })
}

/// Records that the calling test cannot check anything here and returns. The
/// line goes to stderr past the harness's capture, as
/// `test skipped (<backend>): <test>: <reason>`; `.ci/run` lists these in its
/// closing line, so a test that checked nothing is not counted as passed.
pub fn skipped(reason: &str) {
    let current = std::thread::current();
    let test = current.name().unwrap_or("unnamed test");
    let backend = if crate::TestDatabase::postgres_admin_url().is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let line = format!("test skipped ({backend}): {test}: {reason}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
