//! The office's appointment pages.
