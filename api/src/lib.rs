//! fieldcrm: a field-service CRM JSON API.

pub mod auth;
pub mod config;
pub mod docs;
pub mod event_docs;
pub mod export_docs;
pub mod extract;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod outbound;
pub mod paging;
pub mod preconditions;
pub mod problem;
pub mod routes;
pub mod services;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod views;
pub mod vocabulary;
pub mod worker;

pub use config::Settings;
pub use startup::Application;
