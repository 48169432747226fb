//! fieldcrm: a field-service CRM JSON API.

pub mod auth;
pub mod docs;
pub mod event_docs;
pub mod export_docs;
pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod paging;
pub mod preconditions;
pub mod problem;
pub mod routes;
pub mod startup;
pub mod telemetry;
pub mod views;
pub mod vocabulary;
pub mod web;

pub use fieldcrm_app::config::{self, Settings};
pub use startup::Application;
