//! Google: the OAuth 2.0 grant (connect, refresh, revoke), sealing its tokens at
//! rest, and the Calendar v3 calls the two-way sync makes. Each outside service
//! sits behind a trait; the real clients take their base URLs from configuration,
//! so tests talk to stand-ins on loopback through the same code.

pub mod calendar;
pub mod cipher;
pub mod oauth;

pub use calendar::{
    CalendarApi, CalendarError, CalendarEvent, EventPage, EventPatch, EventTimes, GoogleCalendar,
    WatchChannel, APPOINTMENT_PROPERTY,
};
pub use cipher::{parse_key_list, CipherError, TokenCipher};
pub use oauth::{
    Authorization, Authorizer, GoogleOAuth, Grant, OAuthConfig, OAuthError, SCOPES_IDENTITY,
    SCOPE_CALENDAR_EVENTS, SCOPE_GMAIL,
};
