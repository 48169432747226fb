//! The live map, routes and timesheets.
