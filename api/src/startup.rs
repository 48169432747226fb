//! `Application::build` is shared by `main` and the tests: the same server, the
//! same middleware, the same database setup.

use std::net::TcpListener;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, DefaultHeaders, ErrorHandlers, Next};
use actix_web::{web, App, HttpMessage, HttpResponse, HttpServer};
use tracing_actix_web::{RequestId, TracingLogger};
use utoipa_actix_web::AppExt;

use fieldcrm_db::{migrations, DbPool};

use crate::extract::BodyLimits;
use crate::problem::{ensure_problem_json, Problem};
use crate::routes::fallback::RouteTable;
use crate::telemetry::RequestSpan;
use crate::{docs, metrics, openapi, routes};
use fieldcrm_app::config::Settings;
use fieldcrm_app::state::AppState;

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    /// Opens the database, applies pending migrations and binds the listener.
    /// The server runs once `run_until_stopped` is awaited.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let url = settings.database()?;
        let pool = DbPool::new(&url, &settings.pool_options())?;
        let (applied, keys) = fieldcrm_app::migrate_and_read_keys(&pool, &settings).await?;
        tracing::info!(backend = %url.backend(), database = %url, applied = applied.len(), "database ready");

        let listener = TcpListener::bind((settings.host, settings.port)).map_err(|err| {
            anyhow::anyhow!(
                "cannot listen on {}:{}: {err}",
                settings.host,
                settings.port
            )
        })?;
        let port = listener.local_addr()?.port();
        let state = fieldcrm_app::app_state(pool, settings, port, keys, routes::full_object)?;
        if state.settings.session_cache {
            state.sessions.start_listener(url)?;
        }
        start_background_work(&state);
        let server = serve(listener, state.clone())?;
        Ok(Self {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &DbPool {
        &self.state.pool
    }

    /// What the handlers and the worker share.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Starts the upkeep task and the job worker, as the settings ask.
fn start_background_work(state: &AppState) {
    if state.settings.maintenance_interval_secs > 0 {
        tokio::spawn(fieldcrm_app::run_upkeep(
            state.clone(),
            Duration::from_secs(state.settings.maintenance_interval_secs),
        ));
    }
    if state.settings.jobs_enabled {
        tokio::spawn(fieldcrm_app::run_jobs(state.clone()));
    }
}

/// `fieldcrm worker`: the job worker and the upkeep task, without the HTTP server.
pub async fn run_worker(settings: Settings) -> anyhow::Result<()> {
    let url = settings.database()?;
    let pool = DbPool::new(&url, &settings.pool_options())?;
    let (_, keys) = fieldcrm_app::migrate_and_read_keys(&pool, &settings).await?;
    let port = settings.port;
    let state = fieldcrm_app::app_state(
        pool,
        Settings {
            jobs_enabled: true,
            ..settings
        },
        port,
        keys,
        routes::full_object,
    )?;
    start_background_work(&state);
    stop_signal().await?;
    tracing::info!("worker stopping");
    Ok(())
}

/// Ctrl-C, or SIGTERM from a container runtime.
async fn stop_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

/// Applies pending migrations and returns their names (`fieldcrm migrate`).
pub async fn migrate(settings: &Settings) -> anyhow::Result<Vec<String>> {
    let pool = DbPool::new(&settings.database()?, &settings.pool_options())?;
    Ok(tokio::task::spawn_blocking(move || migrations::run_pending(&mut *pool.get()?)).await??)
}

fn serve(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let settings = state.settings.clone();
    let pool = state.pool.clone();
    let spec = openapi::spec();
    let spec_json = web::Data::new(spec.to_json()?);
    let routes = web::Data::new(RouteTable::new(openapi::methods_by_path(&spec)));
    let state = web::Data::new(state);
    let body_limit = web::Data::new(BodyLimits {
        max_bytes: settings.max_body_bytes,
        read_timeout: Duration::from_secs(settings.client_body_timeout_secs),
    });
    let metrics = web::Data::new(metrics::Metrics::new(pool)?);
    let cors_settings = settings.clone();

    let mut server = HttpServer::new(move || {
        let (app, _) = App::new()
            .app_data(state.clone())
            .app_data(body_limit.clone())
            .app_data(spec_json.clone())
            .app_data(routes.clone())
            .app_data(metrics.clone())
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                Problem::bad_request(format!("invalid query string: {err}")).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|_, _| Problem::not_found().into()))
            .into_utoipa_app()
            .configure(routes::configure)
            .split_for_parts();
        app.route("/openapi.json", web::get().to(openapi_json))
            .route("/metrics", web::get().to(metrics::page))
            .route("/docs", web::get().to(docs::page))
            .route("/docs/{file}", web::get().to(docs::asset))
            .configure(crate::web::configure)
            .default_service(web::to(routes::fallback::no_route))
            .wrap(from_fn(refuse_control_characters))
            .wrap(cors(&cors_settings))
            .wrap(
                ErrorHandlers::new()
                    .default_handler_client(ensure_problem_json)
                    .default_handler_server(ensure_problem_json),
            )
            .wrap(security_headers())
            .wrap(from_fn(request_id_header))
            .wrap(from_fn(metrics::record))
            .wrap(TracingLogger::<RequestSpan>::new())
    })
    .client_request_timeout(Duration::from_secs(settings.client_request_timeout_secs))
    .shutdown_timeout(30);
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    Ok(server.listen(listener)?.run())
}

fn security_headers() -> DefaultHeaders {
    // Only added where the handler did not set its own (the docs page sets a CSP
    // that lets it load its own scripts and styles).
    DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .add((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
        .add((header::CACHE_CONTROL, "no-store"))
        .add((
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ))
}

fn cors(settings: &Settings) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            HeaderName::from_static("x-request-id"),
        ])
        .max_age(3600);
    for origin in settings.cors_origins() {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Sends the request id in `X-Request-Id`, so a user can quote it and an
/// operator can find the request's log lines.
async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req.extensions().get::<RequestId>().map(ToString::to_string);
    let mut res = next.call(req).await?;
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

/// 400 before routing for a path or query string with a control character in
/// it (see `extract::control_characters_in_url`).
async fn refuse_control_characters(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Some(problem) = crate::extract::control_characters_in_url(req.uri()) {
        let response = actix_web::ResponseError::error_response(&problem);
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

async fn openapi_json(spec: web::Data<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(spec.get_ref().clone())
}
