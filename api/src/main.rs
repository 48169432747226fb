use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use fieldcrm::{openapi, startup, telemetry, Application, Settings};

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
    fieldcrm_app::memory::bound_what_the_allocator_keeps();
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
