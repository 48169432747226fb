//! Prometheus metrics: request counts and latency histograms by route and status
//! (actix-web-prom), and database pool usage read at scrape time.

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntGauge, Opts, Registry};

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
        })
    }
}

impl Collector for PoolCollector {
    fn desc(&self) -> Vec<&Desc> {
        [&self.connections, &self.idle, &self.max]
            .into_iter()
            .flat_map(|g| g.desc())
            .collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let status = self.pool.status();
        self.connections.set(i64::from(status.size));
        self.idle.set(i64::from(status.idle));
        self.max.set(i64::from(status.max_size));
        [&self.connections, &self.idle, &self.max]
            .into_iter()
            .flat_map(|g| g.collect())
            .collect()
    }
}
