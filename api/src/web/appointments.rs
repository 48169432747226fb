//! The office's appointments: a day and a week per technician, booking,
//! rescheduling, assigning and changing the status.

use actix_web::web;

pub fn configure(_cfg: &mut web::ServiceConfig) {}
