//! Who is calling, from the request: the extractor answers 401 for a request
//! without valid credentials; `Caller::require` (in the use cases) answers 403
//! for what the caller's role or scope does not allow.

mod caller;
mod client;

pub use caller::Caller;
pub use client::client_address;
pub use fieldcrm_app::caller::Principal;
