use std::sync::Arc;

use actix_web::web;

use fieldcrm_db::{DbConnection, DbPool};

use crate::auth::Tokens;
use crate::config::Settings;
use crate::outbound::Outbound;
use crate::problem::Problem;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub settings: Arc<Settings>,
    pub tokens: Arc<Tokens>,
    pub outbound: Arc<Outbound>,
}

impl AppState {
    /// Runs blocking database work on the blocking thread pool with a pooled
    /// connection, so the async workers never wait on the database.
    pub async fn db<T, F>(&self, work: F) -> Result<T, Problem>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, Problem> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            let result = work(&mut conn);
            if result.is_ok() {
                conn.vouch();
            }
            result
        })
        .await?
    }
}
