//! Where the technicians are and were: the live map of clocked-in
//! technicians, each shift's route, and the timesheets.

use actix_web::web;

pub fn configure(_cfg: &mut web::ServiceConfig) {}
