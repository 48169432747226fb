//! Prometheus metrics: request counts and latency histograms by route and status
//! (actix-web-prom), and database pool usage and statements read at scrape time.

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounter, IntGauge, Opts, Registry};

use fieldcrm_db::DbPool;

pub fn middleware(pool: DbPool) -> anyhow::Result<PrometheusMetrics> {
    let registry = Registry::new();
    registry.register(Box::new(PoolCollector::new(pool)?))?;
    PrometheusMetricsBuilder::new("fieldcrm")
        .registry(registry)
        .endpoint("/metrics")
        // Unknown paths would otherwise each get their own time series.
        .mask_unmatched_patterns("UNKNOWN")
        .build()
        .map_err(|err| anyhow::anyhow!("metrics: {err}"))
}

/// Reads the pool's state when Prometheus scrapes, so the figures are current.
struct PoolCollector {
    pool: DbPool,
    connections: IntGauge,
    idle: IntGauge,
    max: IntGauge,
    statements: IntCounter,
    checks: IntCounter,
}

impl PoolCollector {
    fn new(pool: DbPool) -> prometheus::Result<Self> {
        let gauge = |name: &str, help: &str| {
            IntGauge::with_opts(Opts::new(name, help).namespace("fieldcrm"))
        };
        Ok(Self {
            pool,
            connections: gauge("db_pool_connections", "Open database connections")?,
            idle: gauge(
                "db_pool_idle_connections",
                "Open database connections not in use",
            )?,
            max: gauge(
                "db_pool_max_connections",
                "Most database connections the pool may open",
            )?,
            statements: IntCounter::with_opts(
                Opts::new(
                    "db_statements_total",
                    "Statements sent to the database, transaction control and connection checks included",
                )
                .namespace("fieldcrm"),
            )?,
            checks: IntCounter::with_opts(
                Opts::new(
                    "db_connection_checks_total",
                    "Liveness checks of connections handed out after an error or a rest",
                )
                .namespace("fieldcrm"),
            )?,
        })
    }
}

impl Collector for PoolCollector {
    fn desc(&self) -> Vec<&Desc> {
        [&self.connections, &self.idle, &self.max]
            .into_iter()
            .flat_map(|g| g.desc())
            .chain(self.statements.desc())
            .chain(self.checks.desc())
            .collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let status = self.pool.status();
        self.connections.set(i64::from(status.size));
        self.idle.set(i64::from(status.idle));
        self.max.set(i64::from(status.max_size));
        for (counter, now) in [
            (&self.statements, self.pool.statements_run()),
            (&self.checks, self.pool.checks_run()),
        ] {
            counter.inc_by(now.saturating_sub(counter.get()));
        }
        [&self.connections, &self.idle, &self.max]
            .into_iter()
            .flat_map(|g| g.collect())
            .chain(self.statements.collect())
            .chain(self.checks.collect())
            .collect()
    }
}
