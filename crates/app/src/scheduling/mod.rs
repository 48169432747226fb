//! Appointments, their reminders, and the calendar feed of them.

pub mod appointments;
pub mod calendar_feed;
