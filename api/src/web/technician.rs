//! The technician's pages, phone-sized: today's and tomorrow's appointments,
//! the time clock, the status buttons and their own hours.

use actix_web::web;

pub fn configure(_cfg: &mut web::ServiceConfig) {}
