use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use fieldcrm::{openapi, startup, telemetry, Application, Settings};

// The system allocator stays. mimalloc, tried in bench/run, raised the peak
// resident memory under load from about 0.3 GiB to 1.1 GiB (a heap kept per
// thread of the blocking pool), against a target of 100 MB.

/// Large allocations go straight to the kernel and back when freed. glibc
/// otherwise raises its mmap threshold after the first large free, up to
/// 32 MiB, and keeps later blocks of that size in the freeing thread's arena:
/// each password hash (argon2's 19 MiB then) stayed resident once per blocking
/// thread that ever ran one, 300 MB after a dozen sign-ins. Fixing the
/// threshold keeps that memory returned; allocations below it are untouched.
///
/// Arenas are bounded to two per core, unless `MALLOC_ARENA_MAX` says
/// otherwise: glibc gives every thread that allocates an arena of its own, up
/// to eight per core, and each keeps what its requests freed. With ping
/// batches on 32 connections the peak grew by 11 MiB against 3 MiB at two per
/// core, for 3% fewer requests per second.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn bound_what_the_allocator_keeps() {
    const THRESHOLD_BYTES: libc::c_int = 1024 * 1024;
    let arenas = std::thread::available_parallelism()
        .map_or(2, |cores| 2 * cores.get())
        .try_into()
        .unwrap_or(libc::c_int::MAX);
    let arenas_chosen = std::env::var_os("MALLOC_ARENA_MAX").is_some();
    // SAFETY: mallopt only sets allocator parameters; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD_BYTES);
        if !arenas_chosen {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn bound_what_the_allocator_keeps() {}

/// fieldcrm: a field-service CRM JSON API (customers, appointments, time clock
/// and GPS, reminders).
///
/// Settings come from environment variables (`DATABASE_URL`, `PORT`, and
/// `FIELDCRM_<NAME>` for every setting) and an optional TOML file; see the README.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// A TOML settings file; environment variables override what it says.
    #[arg(long, global = true, env = "FIELDCRM_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (the default). Applies pending migrations first, then
    /// listens on FIELDCRM_HOST:PORT (127.0.0.1:8080 unless set).
    Serve,
    /// Apply pending database migrations and exit. `serve` does this too; run it
    /// alone to migrate before starting several servers.
    Migrate,
    /// Run only the background jobs (reminders, SMS, email) and upkeep, without
    /// the HTTP API; any number of workers and servers may share one database.
    Worker,
    /// Write the OpenAPI 3.1 document generated from the handlers.
    Openapi {
        /// Where to write it; `-` for standard output.
        #[arg(long, short, default_value = "openapi.yaml")]
        output: PathBuf,
    },
}

fn main() -> ExitCode {
    bound_what_the_allocator_keeps();
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi { output } = &command {
        return write_openapi(output);
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("fieldcrm: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("fieldcrm: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match command {
            Command::Serve => serve(settings).await,
            Command::Migrate => {
                let applied = startup::migrate(&settings).await?;
                tracing::info!(applied = applied.len(), "migrations applied");
                Ok(())
            }
            Command::Worker => startup::run_worker(settings).await,
            Command::Openapi { .. } => Ok(()),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "fieldcrm stopped");
            eprintln!("fieldcrm: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let host = settings.host;
    let app = Application::build(settings).await?;
    let base = format!("http://{host}:{}", app.port());
    tracing::info!(address = %base, docs = %format!("{base}/docs"), "fieldcrm listening");
    app.run_until_stopped().await?;
    Ok(())
}

fn write_openapi(output: &PathBuf) -> ExitCode {
    let yaml = openapi::yaml();
    let written = if output.as_os_str() == "-" {
        use std::io::Write;
        std::io::stdout().write_all(yaml.as_bytes())
    } else {
        std::fs::write(output, yaml)
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("fieldcrm: cannot write {}: {err}", output.display());
            ExitCode::FAILURE
        }
    }
}
