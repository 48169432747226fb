//! Signing up, and the privacy page: the export and the account's deletion.
