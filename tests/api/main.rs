//! End-to-end tests through HTTP. Each runs on SQLite, or on PostgreSQL when
//! `TEST_DATABASE_URL` is set (see the README).

mod abuse;
mod account;
mod api_keys;
mod appointments;
mod auth;
mod cli;
mod concurrency;
mod consent_at_send;
mod cost;
mod db_types;
mod devices;
mod edge;
mod faults;
mod google;
mod health;
mod isolation;
mod leases;
mod logs;
mod messages;
mod migrations;
mod openapi;
mod people;
mod preconditions;
mod privacy;
mod retries;
mod roles;
mod roles_matrix;
mod text;
mod tracking;
mod web;
mod webhooks;
